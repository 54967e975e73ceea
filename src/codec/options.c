/* options.c — the table of encoder options and the rules that apply it
 * (options.h): presets as defaults, options of the wrong codec and
 * contradicting options refused, one set of bounds. */
#include "options.h"
#include "codec.h"
#include "hlat.h"
#include "trellis.h"
#include "paper.h"
#include "../io/plan.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P (1u << HC_CODEC_PAPER)
#define QKM (1u << HC_CODEC_QKM)
#define HLAT (1u << HC_CODEC_HLAT)
#define TRELLIS (1u << HC_CODEC_TRELLIS)
#define LADDER (P | QKM | HLAT | TRELLIS) /* codecs with a rate ladder (plan.c) */

const hc_opt_def hc_opt_table[] = {
    {HC_OPTF_PRESET, "--preset", "preset", NULL, HC_OPT_ANY_CODEC, HC_OPTK_PRESET, 0, 0, 0, "NAME",
     "default | paper-llm | paper-vision (defaults only)"},
    {HC_OPTF_CODEC, "--codec", NULL, NULL, HC_OPT_ANY_CODEC, HC_OPTK_CODEC, 0, 0, 0, "NAME",
     "hlat (default) | trellis | paper | qkm | q4b | q8b | raw"},
    {HC_OPTF_RECT_L, "--rect-l", "L", "rect_l", P, HC_OPTK_REAL, 0, 1e12, 0, "L",
     "paper: side of the square (0: from each tensor's spread)"},
    {HC_OPTF_SIGMAS, NULL, "sigmas", NULL, P, HC_OPTK_REAL, 1e-3, 1e3, 0, "S",
     "paper: automatic L = S standard deviations"},
    {HC_OPTF_POINTS, "--points", "n", "points", P, HC_OPTK_LIST, 1, (1 << 21) - 1, 1, "N[,N...]",
     "paper: codebook sizes tried in order (1600), 1..2097151"},
    {HC_OPTF_BANDS, "--bands", "C", "bands", P, HC_OPTK_UINT, 1, HC_PAPER_MAX_BANDS, 0, "C",
     "paper: largest number of distance bands (3), 1..64"},
    {HC_OPTF_LOSS_TARGET, "--loss-target", "loss_target", NULL, P, HC_OPTK_REAL, 0, 1e12, 0, "X",
     "paper: stop trying bands once MAE <= X"},
    {HC_OPTF_LOSS_MAX, "--loss-max", "loss_max", NULL, P, HC_OPTK_REAL, 0, 1e12, 0, "X",
     "paper: next codebook size while MAE > X"},
    {HC_OPTF_LOSS_LIMIT, "--loss-limit", "loss_limit", NULL, P, HC_OPTK_REAL, 0, 1e12, 1, "X",
     "paper: keep a tensor lossless if MAE > X"},
    {HC_OPTF_BITS, "--bits", "bits", NULL, QKM, HC_OPTK_UINT, 2, 8, 1, "B",
     "qkm: bits per weight of the codes (4), 2..8;"},
    {HC_OPTF_BITS, "--bits", "bits", NULL, HLAT, HC_OPTK_UINT, 1, HLAT_MMAX, 1, "B",
     "hlat: index bits per group of K weights (5K+1), K..32"},
    {HC_OPTF_BLOCK, "--block", "block", NULL, QKM, HC_OPTK_UINT, 8, 1024, 0, "N",
     "qkm: weights per scale block (32), 8..1024, multiple of 8;"},
    {HC_OPTF_BLOCK, "--block", "block", NULL, HLAT, HC_OPTK_UINT, 1, HLAT_BLOCK_MAX, 0, "N",
     "hlat: weights per scale block (32), multiple of K, <= 4096"},
    {HC_OPTF_DIM, "--dim", "dim", NULL, HLAT, HC_OPTK_UINT, 1, HLAT_KMAX, 0, "K",
     "hlat: weights per trajectory point (4), 1..8"},
    {HC_OPTF_BPW, "--bpw", "bpw", NULL, LADDER, HC_OPTK_REAL, 1e-3, 1e3, 0, "X",
     "paper, qkm, hlat, trellis: size budget, bits per coded weight"},
    {HC_OPTF_SNR, "--snr", "snr", NULL, LADDER, HC_OPTK_REAL, 1e-3, 200, 0, "DB",
     "paper, qkm, hlat, trellis: smallest file with SNR >= DB"},
    {HC_OPTF_BITS, "--bits", "bits", NULL, TRELLIS, HC_OPTK_UINT, 16, 128, 1, "B",
     "trellis: bits per weight x 16 (64 = 4 bpw), 16..128"},
    {HC_OPTF_EFFORT, "--effort", "effort", NULL, TRELLIS, HC_OPTK_TEXT, 0, 0, 0, "LEVEL",
     "trellis: state bits L: 12 (default), 14, 16, max (= 16); 8..20"},
    {HC_OPTF_RHT, "--rht", "rht", NULL, TRELLIS, HC_OPTK_UINT, 0, 1, 0, "0|1",
     "trellis: randomized Hadamard transform of the rows (1, default) or none (0)"},
    {HC_OPTF_MIN_ELEMS, "--min-elems", "min_elems", NULL, HC_OPT_ALL_LOSSY, HC_OPTK_UINT, 0, 9007199254740992.0, 0,
     "N", "smaller tensors stay lossless (1024)"},
    {HC_OPTF_KEEP, "--keep", NULL, NULL, HC_OPT_ALL_LOSSY, HC_OPTK_TEXT, 0, 0, 0, "GLOB[,GLOB]",
     "tensors whose names match stay lossless"},
    {HC_OPTF_COUNT, NULL, NULL, NULL, 0, HC_OPTK_TEXT, 0, 0, 0, NULL, NULL},
};

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

const char *hc_opt_rd_keys(char *buf, size_t n) {
    size_t pos = 0;
    buf[0] = 0;
    for (const hc_opt_def *r = hc_opt_table; r->cli || r->key; r++) {
        if (!r->key || (r != hc_opt_table && r[-1].field == r->field)) continue;
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
    for (const hc_opt_def *r = hc_opt_table; r->cli || r->key; r++)
        if (cli ? (r->cli && !strcmp(r->cli, name))
                : ((r->key && !strcmp(r->key, name)) || (r->alias && !strcmp(r->alias, name)))) {
            d = r;
            break;
        }
    if (!d) return HC_E_UNSUPPORTED;
    for (int i = 0; i < s->n; i++)
        if (s->item[i].field == d->field) {
            if (s->strict) {
                if (d->field == HC_OPTF_PRESET)
                    return hc_fail(err, HC_E_ARG, "more than one preset (%s and %s)", s->item[i].value, value);
                return hc_fail(err, HC_E_ARG, "%s given twice", name);
            }
            s->item[i].name = name; /* the last wins */
            s->item[i].value = value;
            return HC_OK;
        }
    if (s->n == HC_OPTSET_MAX) return hc_fail(err, HC_E_ARG, "more than %d options", HC_OPTSET_MAX);
    s->item[s->n].field = d->field;
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
    if (errno || *end || (double)x < lo || (double)x > hi) return HC_E_ARG;
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

/* Applies one value to o under row d. */
/* " for codec qkm" when the bounds are those of one codec */
static const char *for_codec(const hc_opt_def *d, char *buf, size_t n) {
    char list[96];
    buf[0] = 0;
    if ((d->codecs & (d->codecs - 1)) == 0) snprintf(buf, n, " for codec %s", hc_opt_codec_list(d->codecs, list, sizeof list));
    return buf;
}

static hc_status apply(const hc_opt_def *d, const char *name, const char *v, hc_opts *o, hc_error *err) {
    char sp[320], fc[128];
    uint64_t u = 0;
    double x = 0;
    switch (d->kind) {
    case HC_OPTK_UINT:
        if (parse_uint(v, d->lo, d->hi, &u))
            return hc_fail(err, HC_E_ARG, "%s is not an integer in %.0f..%.0f%s", spelled(name, v, sp, sizeof sp), d->lo,
                           d->hi, for_codec(d, fc, sizeof fc));
        break;
    case HC_OPTK_REAL:
        if (parse_real(v, d->lo, d->hi, &x))
            return hc_fail(err, HC_E_ARG, "%s is not a number in [%g, %g]%s", spelled(name, v, sp, sizeof sp), d->lo,
                           d->hi, for_codec(d, fc, sizeof fc));
        break;
    case HC_OPTK_LIST: {
        uint32_t k = 0;
        const char *p = v;
        int ok = *p != 0;
        while (ok && *p) {
            char item[32];
            size_t len = strcspn(p, ",/");
            if (len == 0 || len >= sizeof item || k == HC_MAX_POINT_SIZES) {
                ok = 0;
                break;
            }
            memcpy(item, p, len);
            item[len] = 0;
            if (parse_uint(item, d->lo, d->hi, &u)) {
                ok = 0;
                break;
            }
            o->points[k++] = (uint32_t)u;
            p += len;
            if (*p) {
                p++;
                if (!*p) ok = 0; /* a trailing separator */
            }
        }
        if (!ok)
            return hc_fail(err, HC_E_ARG, "%s is not a list of sizes like 256,1600 or 256/1600 (1..%d sizes, each %.0f..%.0f)",
                           spelled(name, v, sp, sizeof sp), HC_MAX_POINT_SIZES, d->lo, d->hi);
        o->n_points = k;
        return HC_OK;
    }
    default: break;
    }
    switch (d->field) {
    case HC_OPTF_RECT_L: o->rect_l = x; break;
    case HC_OPTF_SIGMAS: o->rect_l_sigmas = x; break;
    case HC_OPTF_BANDS: o->bands_max = (uint32_t)u; break;
    case HC_OPTF_LOSS_TARGET: o->loss_target = x; break;
    case HC_OPTF_LOSS_MAX: o->loss_max = x; break;
    case HC_OPTF_LOSS_LIMIT: o->loss_limit = x; break;
    case HC_OPTF_BITS: o->bits = (uint32_t)u; break;
    case HC_OPTF_BLOCK: o->block = (uint32_t)u; break;
    case HC_OPTF_DIM: o->dim = (uint32_t)u; break;
    case HC_OPTF_BPW: o->target_bpw = x; break;
    case HC_OPTF_SNR: o->target_snr = x; break;
    case HC_OPTF_MIN_ELEMS: o->min_elems = u; break;
    case HC_OPTF_KEEP: o->keep = v; break;
    case HC_OPTF_RHT: o->no_transform = u ? 0 : 1; break;
    case HC_OPTF_EFFORT: {
        if (strcmp(v, "max") == 0) o->effort = TR_L_MAX_EFFORT;
        else if (strcmp(v, "default") == 0) o->effort = TR_L_DEFAULT;
        else if (parse_uint(v, TR_L_MIN, TR_L_MAX, &u) == HC_OK) o->effort = (uint32_t)u;
        else
            return hc_fail(err, HC_E_ARG, "%s is not a trellis effort: 12, 14, 16, max or default (any L in %d..%d)",
                           spelled(name, v, sp, sizeof sp), TR_L_MIN, TR_L_MAX);
        break;
    }
    default: break;
    }
    return HC_OK;
}

static const hc_opt_def *row_for(hc_opt_field f, hc_codec_id c, unsigned *all_codecs) {
    const hc_opt_def *hit = NULL;
    *all_codecs = 0;
    for (const hc_opt_def *r = hc_opt_table; r->cli || r->key; r++)
        if (r->field == f) {
            *all_codecs |= r->codecs;
            if (!hit && (r->codecs & (1u << c))) hit = r;
        }
    return hit;
}

static int find_item(const hc_optset *s, hc_opt_field f) {
    for (int i = 0; i < s->n; i++)
        if (s->item[i].field == f) return i;
    return -1;
}

hc_status hc_optset_finish(const hc_optset *s, hc_opts *o, hc_error *err) {
    char sp[320], sp2[320], list[96];
    hc_status st;
    int ip = find_item(s, HC_OPTF_PRESET), ic = find_item(s, HC_OPTF_CODEC);
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
                           hc_opt_codec_list(HC_OPT_ANY_CODEC, list, sizeof list));
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
        hc_opt_field f = s->item[i].field;
        if (f == HC_OPTF_PRESET || f == HC_OPTF_CODEC) continue;
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
        if (f == HC_OPTF_BPW || f == HC_OPTF_SNR) {
            if (ibudget >= 0)
                return hc_fail(err, HC_E_ARG, "%s contradicts %s: give a size budget or a quality floor, not both",
                               spelled(s->item[i].name, s->item[i].value, sp, sizeof sp),
                               spelled(s->item[ibudget].name, s->item[ibudget].value, sp2, sizeof sp2));
            ibudget = i;
        }
    }
    if (ibudget >= 0) {
        /* the budget chooses these itself */
        if (s->item[ibudget].field == HC_OPTF_SNR) o->target_bpw = 0;
        else o->target_snr = 0;
        for (int i = 0; i < s->n; i++) {
            unsigned codecs;
            const hc_opt_def *d = row_for(s->item[i].field, o->codec, &codecs);
            if (d && d->rate)
                return hc_fail(err, HC_E_ARG, "%s contradicts %s: the %s chooses %s per tensor",
                               spelled(s->item[i].name, s->item[i].value, sp, sizeof sp),
                               spelled(s->item[ibudget].name, s->item[ibudget].value, sp2, sizeof sp2),
                               s->item[ibudget].field == HC_OPTF_BPW ? "size budget" : "quality floor",
                               is_cli_name(s->item[i].name) || !d->key ? d->cli : d->key);
        }
    }
    if (o->target_bpw > 0 || o->target_snr > 0) {
        double lo, hi;
        if (hc_opts_rate_range(o, &lo, &hi) != 0)
            return hc_fail(err, HC_E_ARG, "codec %s has a single rate: %s does not apply to it",
                           hc_codec_name(o->codec), o->target_bpw > 0 ? "bpw" : "snr");
        if (o->target_bpw > 0 && (o->target_bpw < lo * (1 - 1e-9) || o->target_bpw > hi * (1 + 1e-9))) {
            int i = find_item(s, HC_OPTF_BPW);
            return hc_fail(err, HC_E_ARG, "%s is outside the rates codec %s reaches: %.3f..%.3f bits per weight",
                           i >= 0 ? spelled(s->item[i].name, s->item[i].value, sp, sizeof sp) : "bpw",
                           hc_codec_name(o->codec), lo, hi);
        }
    }
    return HC_OK;
}

/* Bits per weight of one setting of the ladder, payload only, large tensor. */
static double nominal_bpw(const hc_opts *o, int lowest) {
    switch (o->codec) {
    case HC_CODEC_HLAT: {
        hc_opts t = *o;
        t.target_bpw = t.target_snr = 0;
        return hc_hlat_bpw(&t, (uint64_t)1 << 24);
    }
    case HC_CODEC_TRELLIS: return hc_trellis_nominal_bpw(o);
    case HC_CODEC_QKM: {
        uint32_t b = o->bits ? o->bits : 4, B = o->block ? o->block : 32;
        return (double)b + 16.0 / (double)B; /* a 16-byte head per 8 blocks */
    }
    case HC_CODEC_PAPER: {
        /* one index of u bits per pair; no band when no pair is outside S */
        uint32_t n = o->points[0];
        for (uint32_t i = 1; i < o->n_points; i++)
            if (lowest ? o->points[i] < n : o->points[i] > n) n = o->points[i];
        return 0.5 * (double)hc_paper_index_bits(n, lowest ? 0 : o->bands_max);
    }
    default: return 0;
    }
}

int hc_opts_rate_range(const hc_opts *o, double *lo, double *hi) {
    hc_opts lad[64];
    size_t n = hc_codec_ladder(o, lad, 64);
    if (n < 2) return -1;
    *lo = INFINITY;
    *hi = 0;
    for (size_t i = 0; i < n; i++) {
        double a = nominal_bpw(&lad[i], 1), b = nominal_bpw(&lad[i], 0);
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
