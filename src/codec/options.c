/* options.c — the generic encoder options, the list of every option (the
 * generic rows and each codec's table, codec.h) and the rules that apply
 * them (options.h): presets as defaults, options of the wrong codec and
 * contradicting options refused, one set of bounds. */
#include "options.h"
#include "codec.h"
#include "sparse.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the generic rows ------------------------------------------------- */

HC_OPT_SETTER_REAL(set_bpw, target_bpw)
HC_OPT_SETTER_REAL(set_snr, target_snr)

static hc_status set_min_elems(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    (void)err;
    o->min_elems = v->u;
    return HC_OK;
}

static hc_status set_keep(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    (void)err;
    o->keep = v->text;
    return HC_OK;
}

/* --prune P | N:M (sparse.c parses it; its message names the option as
 * spelled, without the value) */
static hc_status set_prune(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    char name[32];
    const char *s = v->spelled ? v->spelled : "--prune";
    size_t k = strcspn(s, " =");
    if (k >= sizeof name) k = sizeof name - 1;
    memcpy(name, s, k);
    name[k] = 0;
    return hc_prune_parse(name, v->text, o, err);
}

/* Before the codecs' rows in the help text ... */
static const hc_opt_def generic_head[] = {
    {"--preset", "preset", NULL, HC_OPTK_PRESET, 0, 0, 0, NULL, "NAME", "(defaults only)", HC_OPT_FOR_ANY, 0},
    {"--codec", NULL, NULL, HC_OPTK_CODEC, 0, 0, 0, NULL, "NAME", "the codec (the registered ones)", HC_OPT_FOR_ANY,
     0},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0},
};
/* ... and after them. */
static const hc_opt_def generic_tail[] = {
    {"--bpw", "bpw", NULL, HC_OPTK_REAL, 1e-3, 1e3, 0, set_bpw, "X", "size budget, bits per coded weight",
     HC_OPT_FOR_LADDER, 0},
    {"--snr", "snr", NULL, HC_OPTK_REAL, 1e-3, 200, 0, set_snr, "DB", "smallest file with SNR >= DB",
     HC_OPT_FOR_LADDER, 0},
    {"--min-elems", "min_elems", NULL, HC_OPTK_UINT, 0, 9007199254740992.0, 0, set_min_elems, "N",
     "smaller tensors stay lossless (1024)", HC_OPT_FOR_LOSSY, 0},
    {"--keep", NULL, NULL, HC_OPTK_TEXT, 0, 0, 0, set_keep, "GLOB[,GLOB]", "tensors whose names match stay lossless",
     HC_OPT_FOR_LOSSY, 0},
    {"--prune", "prune", NULL, HC_OPTK_TEXT, 0, 0, 0, set_prune, "P|N:M",
     "zero the fraction P of smallest weights, or all but N of every M (2:4); zeros kept exact", HC_OPT_FOR_LOSSY, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0},
};

/* ---- every row, in one list ------------------------------------------- */

static int is_end(const hc_opt_def *r) { return !r->cli && !r->key; }
/* what an option is known by */
static const char *opt_name(const hc_opt_def *r) { return r->key ? r->key : r->cli; }
static int same_option(const hc_opt_def *a, const hc_opt_def *b) { return !strcmp(opt_name(a), opt_name(b)); }

static unsigned scope_mask(hc_opt_scope scope) {
    unsigned m = 0;
    for (size_t i = 0; hc_codec_at(i); i++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        if (scope == HC_OPT_FOR_ANY || (scope == HC_OPT_FOR_LOSSY && vt->id != HC_CODEC_RAW) ||
            (scope == HC_OPT_FOR_LADDER && vt->ladder))
            m |= 1u << vt->id;
    }
    return m;
}

#define MAX_ROWS 256
static hc_opt_def all_rows[MAX_ROWS + 1]; /* + the end row (zeroed) */
static pthread_once_t rows_once = PTHREAD_ONCE_INIT;

static void put_row(size_t *k, const hc_opt_def *r, unsigned codecs) {
    if (*k == MAX_ROWS) return; /* tests/test_codec_registry.c counts them all */
    all_rows[*k] = *r;
    all_rows[*k].codecs = codecs;
    (*k)++;
}

static void build_rows(void) {
    size_t k = 0;
    for (const hc_opt_def *r = generic_head; !is_end(r); r++) put_row(&k, r, scope_mask(r->scope));
    const size_t first_codec_row = k;
    /* the codecs' rows, each option's rows together (codecs in id order) */
    for (size_t i = 0; hc_codec_at(i); i++)
        for (const hc_opt_def *r = hc_codec_at(i)->options; r && !is_end(r); r++) {
            int seen = 0;
            for (size_t j = first_codec_row; j < k && !seen; j++) seen = same_option(&all_rows[j], r);
            if (seen) continue;
            put_row(&k, r, 1u << hc_codec_at(i)->id);
            for (size_t i2 = i + 1; hc_codec_at(i2); i2++)
                for (const hc_opt_def *r2 = hc_codec_at(i2)->options; r2 && !is_end(r2); r2++)
                    if (same_option(r2, r)) put_row(&k, r2, 1u << hc_codec_at(i2)->id);
        }
    for (const hc_opt_def *r = generic_tail; !is_end(r); r++) put_row(&k, r, scope_mask(r->scope));
}

const hc_opt_def *hc_opt_rows(void) {
    pthread_once(&rows_once, build_rows);
    return all_rows;
}

int hc_opt_is(const hc_opt_def *r, const char *name) {
    return (r->key && !strcmp(r->key, name)) || (r->alias && !strcmp(r->alias, name)) ||
           (r->cli && !strcmp(r->cli, name));
}

const char *hc_opt_codec_list(unsigned codecs, char *buf, size_t n) {
    size_t pos = 0;
    buf[0] = 0;
    for (int c = 0; c < HC_CODEC_COUNT; c++)
        if (codecs & (1u << c)) {
            int k = snprintf(buf + pos, n - pos, "%s%s", pos ? ", " : "", hc_codec_name((hc_codec_id)c));
            if (k < 0 || (size_t)k >= n - pos) break;
            pos += (size_t)k;
        }
    return buf;
}

const char *hc_opt_for_whom(const hc_opt_def *r, char *buf, size_t n) {
    unsigned lossy = scope_mask(HC_OPT_FOR_LOSSY);
    if ((r->codecs & lossy) == lossy) {
        buf[0] = 0;
        return buf;
    }
    return hc_opt_codec_list(r->codecs, buf, n);
}

const char *hc_opt_rd_keys(char *buf, size_t n) {
    size_t pos = 0;
    buf[0] = 0;
    const hc_opt_def *rows = hc_opt_rows();
    for (const hc_opt_def *r = rows; !is_end(r); r++) {
        if (!r->key || (r != rows && same_option(&r[-1], r))) continue;
        int k = snprintf(buf + pos, n - pos, "%s%s", pos ? ", " : "", r->key);
        if (k < 0 || (size_t)k >= n - pos) break;
        pos += (size_t)k;
    }
    return buf;
}

void hc_optset_init(hc_optset *s, int strict) {
    memset(s, 0, sizeof *s);
    s->strict = strict;
}

static int is_cli_name(const char *name) { return name[0] == '-' && name[1] == '-'; }

hc_status hc_optset_add(hc_optset *s, const char *name, const char *value, hc_error *err) {
    const hc_opt_def *d = NULL;
    int cli = is_cli_name(name);
    for (const hc_opt_def *r = hc_opt_rows(); !is_end(r); r++)
        if (cli ? (r->cli && !strcmp(r->cli, name))
                : ((r->key && !strcmp(r->key, name)) || (r->alias && !strcmp(r->alias, name)))) {
            d = r;
            break;
        }
    if (!d) return HC_E_UNSUPPORTED;
    for (int i = 0; i < s->n; i++)
        if (same_option(s->item[i].row, d)) {
            if (s->strict) {
                if (d->kind == HC_OPTK_PRESET)
                    return hc_fail(err, HC_E_ARG, "more than one preset (%s and %s)", s->item[i].value, value);
                return hc_fail(err, HC_E_ARG, "%s given twice", name);
            }
            s->item[i].name = name; /* the last wins */
            s->item[i].value = value;
            return HC_OK;
        }
    if (s->n == HC_OPTSET_MAX) return hc_fail(err, HC_E_ARG, "more than %d options", HC_OPTSET_MAX);
    s->item[s->n].row = d;
    s->item[s->n].name = name;
    s->item[s->n].value = value;
    s->n++;
    return HC_OK;
}

/* "--bits 9" or "bits=9", as the user wrote it */
static const char *spelled(const char *name, const char *value, char *buf, size_t n) {
    snprintf(buf, n, "%s%s%s", name, is_cli_name(name) ? " " : "=", value);
    return buf;
}

static hc_status parse_uint(const char *v, double lo, double hi, uint64_t *out) {
    if (!(*v >= '0' && *v <= '9')) return HC_E_ARG;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    /* compared as integers: (double)x rounds above 2^53 (the bounds are
     * integers of at most 2^53, exact as doubles) */
    if (errno || *end || x < (unsigned long long)lo || x > (unsigned long long)hi) return HC_E_ARG;
    *out = x;
    return HC_OK;
}

static hc_status parse_real(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || *end || !isfinite(x) || x < lo || x > hi) return HC_E_ARG;
    *out = x;
    return HC_OK;
}

/* " for codec qkm" when the bounds are those of one codec */
static const char *for_codec(const hc_opt_def *d, char *buf, size_t n) {
    char list[96];
    buf[0] = 0;
    if ((d->codecs & (d->codecs - 1)) == 0) snprintf(buf, n, " for codec %s", hc_opt_codec_list(d->codecs, list, sizeof list));
    return buf;
}

/* Checks value v against row d and stores it into o. */
static hc_status apply(const hc_opt_def *d, const char *name, const char *v, hc_opts *o, hc_error *err) {
    char sp[320], fc[128];
    hc_opt_value val;
    memset(&val, 0, sizeof val);
    val.text = v;
    val.spelled = spelled(name, v, sp, sizeof sp);
    switch (d->kind) {
    case HC_OPTK_UINT:
        if (parse_uint(v, d->lo, d->hi, &val.u))
            return hc_fail(err, HC_E_ARG, "%s is not an integer in %.0f..%.0f%s", val.spelled, d->lo,
                           d->hi, for_codec(d, fc, sizeof fc));
        break;
    case HC_OPTK_REAL:
        if (parse_real(v, d->lo, d->hi, &val.x))
            return hc_fail(err, HC_E_ARG, "%s is not a number in [%g, %g]%s", val.spelled, d->lo,
                           d->hi, for_codec(d, fc, sizeof fc));
        break;
    case HC_OPTK_LIST: {
        const char *p = v;
        int ok = *p != 0;
        while (ok && *p) {
            char item[32];
            uint64_t u;
            size_t len = strcspn(p, ",/");
            if (len == 0 || len >= sizeof item || val.n == HC_MAX_POINT_SIZES) {
                ok = 0;
                break;
            }
            memcpy(item, p, len);
            item[len] = 0;
            if (parse_uint(item, d->lo, d->hi, &u)) {
                ok = 0;
                break;
            }
            val.list[val.n++] = (uint32_t)u;
            p += len;
            if (*p) {
                p++;
                if (!*p) ok = 0; /* a trailing separator */
            }
        }
        if (!ok)
            return hc_fail(err, HC_E_ARG, "%s is not a list of sizes like 256,1600 or 256/1600 (1..%d sizes, each %.0f..%.0f)",
                           val.spelled, HC_MAX_POINT_SIZES, d->lo, d->hi);
        break;
    }
    default: break;
    }
    return d->set ? d->set(o, &val, err) : HC_OK;
}

/* The row of option `opt` for codec c, or NULL; *all_codecs: the codecs
 * that take the option. */
static const hc_opt_def *row_for(const hc_opt_def *opt, hc_codec_id c, unsigned *all_codecs) {
    const hc_opt_def *hit = NULL;
    *all_codecs = 0;
    for (const hc_opt_def *r = hc_opt_rows(); !is_end(r); r++)
        if (same_option(r, opt)) {
            *all_codecs |= r->codecs;
            if (!hit && (r->codecs & (1u << c))) hit = r;
        }
    return hit;
}

static int find_kind(const hc_optset *s, hc_opt_kind k) {
    for (int i = 0; i < s->n; i++)
        if (s->item[i].row->kind == k) return i;
    return -1;
}

static int find_item(const hc_optset *s, const char *key) {
    for (int i = 0; i < s->n; i++)
        if (s->item[i].row->key && !strcmp(s->item[i].row->key, key)) return i;
    return -1;
}

static int is_budget(const hc_opt_def *r) { return r->set == set_bpw || r->set == set_snr; }

hc_status hc_optset_finish(const hc_optset *s, hc_opts *o, hc_error *err) {
    char sp[320], sp2[320], list[96];
    hc_status st;
    int ip = find_kind(s, HC_OPTK_PRESET), ic = find_kind(s, HC_OPTK_CODEC);
    if (ip >= 0) {
        if ((st = hc_opts_preset(o, s->item[ip].value, err))) return st;
    } else {
        hc_opts_default(o);
    }
    if (s->min_elems) o->min_elems = s->min_elems;
    const hc_codec_id preset_codec = o->codec;
    const char *codec_name = NULL, *codec_value = NULL;
    if (ic >= 0) {
        hc_codec_id c;
        codec_name = s->item[ic].name;
        codec_value = s->item[ic].value;
        if (hc_codec_parse(codec_value, &c))
            return hc_fail(err, HC_E_ARG, "%s: unknown codec '%s' (known: %s)", codec_name, codec_value,
                           hc_opt_codec_list(scope_mask(HC_OPT_FOR_ANY), list, sizeof list));
        o->codec = c;
    } else if (s->codec_set) {
        codec_name = "codec";
        codec_value = hc_codec_name(s->codec);
        o->codec = s->codec;
    }
    if (!hc_codec_get(o->codec))
        return hc_fail(err, HC_E_UNSUPPORTED, "codec '%s' is not available in this build", hc_codec_name(o->codec));
    if (ip >= 0 && codec_name && strcmp(s->item[ip].value, "default") != 0 && o->codec != preset_codec)
        return hc_fail(err, HC_E_ARG, "%s contradicts %s (a preset of codec %s): give one of them",
                       spelled(codec_name, codec_value, sp, sizeof sp),
                       spelled(s->item[ip].name, s->item[ip].value, sp2, sizeof sp2), hc_codec_name(preset_codec));
    int ibudget = -1; /* --bpw or --snr given explicitly */
    for (int i = 0; i < s->n; i++) {
        const hc_opt_def *f = s->item[i].row;
        if (f->kind == HC_OPTK_PRESET || f->kind == HC_OPTK_CODEC) continue;
        unsigned codecs;
        const hc_opt_def *d = row_for(f, o->codec, &codecs);
        if (!d) {
            /* name what chose the codec: --codec, the preset, or the default */
            if (codec_name) spelled(codec_name, codec_value, sp2, sizeof sp2);
            else if (ip >= 0) spelled(s->item[ip].name, s->item[ip].value, sp2, sizeof sp2);
            else snprintf(sp2, sizeof sp2, "the default (--codec chooses another)");
            return hc_fail(err, HC_E_ARG, "%s does not apply to codec %s (only to %s); codec from %s",
                           spelled(s->item[i].name, s->item[i].value, sp, sizeof sp), hc_codec_name(o->codec),
                           hc_opt_codec_list(codecs, list, sizeof list), sp2);
        }
        if ((st = apply(d, s->item[i].name, s->item[i].value, o, err))) return st;
        if (is_budget(d)) {
            if (ibudget >= 0)
                return hc_fail(err, HC_E_ARG, "%s contradicts %s: give a size budget or a quality floor, not both",
                               spelled(s->item[i].name, s->item[i].value, sp, sizeof sp),
                               spelled(s->item[ibudget].name, s->item[ibudget].value, sp2, sizeof sp2));
            ibudget = i;
        }
    }
    if (ibudget >= 0) {
        /* the budget chooses these itself */
        if (s->item[ibudget].row->set == set_snr) o->target_bpw = 0;
        else o->target_snr = 0;
        for (int i = 0; i < s->n; i++) {
            unsigned codecs;
            const hc_opt_def *d = row_for(s->item[i].row, o->codec, &codecs);
            if (d && d->rate)
                return hc_fail(err, HC_E_ARG, "%s contradicts %s: the %s chooses %s per tensor",
                               spelled(s->item[i].name, s->item[i].value, sp, sizeof sp),
                               spelled(s->item[ibudget].name, s->item[ibudget].value, sp2, sizeof sp2),
                               s->item[ibudget].row->set == set_bpw ? "size budget" : "quality floor",
                               is_cli_name(s->item[i].name) || !d->key ? d->cli : d->key);
        }
    }
    if (o->target_bpw > 0 || o->target_snr > 0) {
        double lo, hi;
        if (hc_opts_rate_range(o, &lo, &hi) != 0)
            return hc_fail(err, HC_E_ARG, "codec %s has a single rate: %s does not apply to it",
                           hc_codec_name(o->codec), o->target_bpw > 0 ? "bpw" : "snr");
        if (o->target_bpw > 0 && (o->target_bpw < lo * (1 - 1e-9) || o->target_bpw > hi * (1 + 1e-9))) {
            int i = find_item(s, "bpw");
            return hc_fail(err, HC_E_ARG, "%s is outside the rates codec %s reaches: %.3f..%.3f bits per weight",
                           i >= 0 ? spelled(s->item[i].name, s->item[i].value, sp, sizeof sp) : "bpw",
                           hc_codec_name(o->codec), lo, hi);
        }
    }
    return HC_OK;
}

int hc_opts_rate_range(const hc_opts *o, double *lo, double *hi) {
    const hc_codec_vt *vt = hc_codec_get(o->codec);
    hc_opts lad[64];
    size_t n = hc_codec_ladder(o, lad, 64);
    if (!vt || !vt->ladder || !vt->ladder_bpw || n < 2) return -1;
    *lo = INFINITY;
    *hi = 0;
    for (size_t i = 0; i < n; i++) {
        double a = vt->ladder_bpw(&lad[i], 1), b = vt->ladder_bpw(&lad[i], 0);
        if (a < *lo) *lo = a;
        if (b > *hi) *hi = b;
    }
    return 0;
}

hc_status hc_opts_probe(const hc_opts *o, hc_error *err) {
    enum { N = 2048 };
    float *w = malloc(N * sizeof *w);
    if (!w) return hc_fail(err, HC_E_NOMEM, "out of memory");
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) { /* bell-shaped: sums of four uniforms */
        float sum = 0;
        for (int k = 0; k < 4; k++) {
            x = x * 1664525u + 1013904223u;
            sum += (float)(x >> 8) * (1.0f / 16777216.0f);
        }
        w[i] = 0.05f * (sum - 2.0f);
    }
    hc_opts t = *o;
    t.target_bpw = t.target_snr = 0;
    t.calib = NULL;
    t.threads = 1;
    hc_encoded e;
    hc_status s = hc_encode(w, N, &t, &e, err);
    if (!s) hc_encoded_free(&e);
    free(w);
    return s;
}
