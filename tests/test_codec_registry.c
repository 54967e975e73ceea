/* test_codec_registry.c — the codec table is the one place that knows a
 * codec (src/codec/codec.h): a loop over every registered codec checks what
 * the table says of it, so that a codec added as "one file, one id, one
 * registry line" is checked like the others without a line here.
 *  - ids and names: unique, in id order, found by hc_codec_get/parse/name;
 *  - the rate ladder: bits per weight increasing rung by rung (nominal and
 *    as encoded), every rung accepted by the codec, hc_opts_rate_range its
 *    ends; --bpw/--snr apply exactly to the codecs with a ladder;
 *  - the options: each row well-formed and listed by hc_opt_rows(); at and
 *    beyond each bound, `hyperc compress`, `hyperc rd --only` and their
 *    library paths accept or refuse alike, and give the same options;
 *  - the help texts of compress and rd mention every option and codec;
 *  - the probe setting and rd's built-in settings come from the table.
 * What each codec does with its bytes is tests/test_codec_contract.c. */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/codec/options.h"
#include "../src/codec/rd.h"
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b ? b : "build/hyperc";
}

/* Runs `hyperc args`; stdout and stderr together into *out; the exit status. */
static int run(const char *args, const char **out) {
    static char buf[32768];
    char log[512], cmd[4096];
    snprintf(log, sizeof log, "%s/registry.log", hc_test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2>&1", bin(), args, log);
    int s = system(cmd);
    size_t n = 0;
    uint8_t *t = hc_test_slurp(log, &n);
    if (n >= sizeof buf) n = sizeof buf - 1;
    if (t) memcpy(buf, t, n);
    buf[n] = 0;
    free(t);
    *out = buf;
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

static int have_tool(void) {
    if (access(bin(), X_OK) == 0) return 1;
    hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
    return 0;
}

static int is_end(const hc_opt_def *r) { return !r->cli && !r->key; }

TEST(codec_registry_ids_and_names) {
    size_t count = 0;
    int prev = -1;
    for (size_t i = 0; hc_codec_at(i); i++, count++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        CHECKF((int)vt->id > prev && vt->id < HC_CODEC_COUNT, "entry %zu: id %d out of order", i, (int)vt->id);
        prev = (int)vt->id;
        CHECKF(vt->name && vt->name[0] && strlen(vt->name) < 16, "id %d has no name", (int)vt->id);
        if (!vt->name) continue;
        CHECK(hc_codec_get(vt->id) == vt);
        CHECK(strcmp(hc_codec_name(vt->id), vt->name) == 0);
        hc_codec_id back = HC_CODEC_COUNT;
        CHECKF(hc_codec_parse(vt->name, &back) == 0 && back == vt->id, "'%s' does not parse back", vt->name);
        CHECKF(vt->encode && vt->open, "%s: no encoder or opener", vt->name);
        CHECKF(!vt->ladder == !vt->ladder_bpw, "%s: a ladder needs its bits per weight", vt->name);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(hc_codec_at(j)->name, vt->name) != 0);
    }
    /* every id of the format is known to this build */
    CHECK(count == HC_CODEC_COUNT);
    for (int id = 0; id < HC_CODEC_COUNT; id++) CHECKF(hc_codec_get((hc_codec_id)id), "id %d not registered", id);
    CHECK(hc_codec_get(HC_CODEC_COUNT) == NULL && hc_codec_at(count) == NULL);
    hc_codec_id x;
    CHECK(hc_codec_parse("nope", &x) != 0 && strcmp(hc_codec_name(HC_CODEC_COUNT), "?") == 0);
    CHECK(hc_codec_get(hc_codec_default()) != NULL);
}

/* Bits per weight of encoding a gaussian 64x128 tensor with o. */
static double encoded_bpw(const hc_opts *o, hc_error *err, hc_status *st) {
    enum { N = 64 * 128 };
    static float w[N];
    hc_rng r = {5};
    for (int i = 0; i < N; i++) w[i] = (float)(0.02 * hc_rng_normal(&r));
    hc_encoded e;
    *st = hc_encode(w, N, o, &e, err);
    if (*st) return 0;
    double bpw = hc_encoded_bpw(&e, N);
    int raw = e.codec == HC_CODEC_RAW;
    hc_encoded_free(&e);
    return raw ? -1 : bpw;
}

TEST(codec_registry_ladders_increase) {
    hc_error err = {0};
    for (size_t i = 0; hc_codec_at(i); i++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        hc_opts base, lad[64];
        hc_opts_default(&base);
        base.codec = vt->id;
        size_t n = hc_codec_ladder(&base, lad, 64);
        double lo, hi;
        if (!vt->ladder) {
            CHECKF(n == 1 && memcmp(&lad[0], &base, sizeof base) == 0, "%s: a single rate", vt->name);
            CHECK(hc_opts_rate_range(&base, &lo, &hi) != 0);
            continue;
        }
        CHECKF(n >= 2 && n <= 64, "%s: %zu rungs", vt->name, n);
        CHECK(hc_codec_ladder(&base, lad, 1) == 1); /* at most max */
        n = hc_codec_ladder(&base, lad, 64);
        CHECKF(hc_opts_rate_range(&base, &lo, &hi) == 0, "%s: no rate range", vt->name);
        double prev_lo = 0, prev_hi = 0, prev_enc = 0;
        for (size_t k = 0; k < n; k++) {
            CHECKF(lad[k].codec == vt->id && lad[k].target_bpw == 0 && lad[k].target_snr == 0, "%s rung %zu",
                   vt->name, k);
            double a = vt->ladder_bpw(&lad[k], 1), b = vt->ladder_bpw(&lad[k], 0);
            CHECKF(a > prev_lo && b > prev_hi && a <= b, "%s rung %zu: %.4f..%.4f bpw after %.4f..%.4f", vt->name, k, a,
                   b, prev_lo, prev_hi);
            CHECKF(a >= lo - 1e-12 && b <= hi + 1e-12, "%s rung %zu outside the rate range", vt->name, k);
            hc_status st;
            double enc = encoded_bpw(&lad[k], &err, &st);
            CHECKF(st == HC_OK, "%s rung %zu refused: %s", vt->name, k, err.msg);
            CHECKF(enc > 0 && enc >= prev_enc, "%s rung %zu: %.4f bpw as encoded after %.4f", vt->name, k, enc,
                   prev_enc);
            prev_lo = a;
            prev_hi = b;
            prev_enc = enc;
        }
        CHECK(lo == vt->ladder_bpw(&lad[0], 1) && hi == vt->ladder_bpw(&lad[n - 1], 0));
    }
}

/* The table's rows: well-formed, each codec's in hc_opt_rows() once, --bpw
 * and --snr for exactly the codecs with a ladder. */
TEST(codec_registry_option_rows) {
    const hc_opt_def *rows = hc_opt_rows();
    size_t nrows = 0;
    for (const hc_opt_def *r = rows; !is_end(r); r++, nrows++) {
        const char *nm = r->key ? r->key : r->cli;
        CHECKF(!r->cli || (r->cli[0] == '-' && r->cli[1] == '-' && r->arg), "%s: cli name", nm);
        CHECKF(r->help && r->help[0], "%s: no help", nm);
        CHECKF(r->lo <= r->hi, "%s: bounds %g..%g", nm, r->lo, r->hi);
        CHECKF(r->codecs != 0, "%s applies to no codec", nm);
        CHECKF(r->set || r->kind == HC_OPTK_PRESET || r->kind == HC_OPTK_CODEC, "%s: no setter", nm);
        /* one row per option and codec */
        for (const hc_opt_def *q = rows; q < r; q++)
            if (hc_opt_is(q, nm)) CHECKF((q->codecs & r->codecs) == 0, "%s: two rows for one codec", nm);
    }
    CHECK(nrows >= 15 && nrows < 256);
    for (size_t i = 0; hc_codec_at(i); i++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        for (const hc_opt_def *r = vt->options; r && !is_end(r); r++) {
            CHECKF(r->key != NULL, "%s: a codec option without an rd key", vt->name);
            int found = 0;
            for (const hc_opt_def *q = rows; !is_end(q); q++)
                found += q->codecs == (1u << vt->id) && q->key && r->key && !strcmp(q->key, r->key) && q->lo == r->lo &&
                         q->hi == r->hi && q->set == r->set;
            CHECKF(found == 1, "%s: option %s listed %d times", vt->name, r->key, found);
        }
        for (const hc_opt_def *q = rows; !is_end(q); q++)
            if (hc_opt_is(q, "bpw") || hc_opt_is(q, "snr"))
                CHECKF(!(q->codecs & (1u << vt->id)) == !vt->ladder, "%s: %s without a ladder or the reverse", vt->name,
                       q->key);
    }
}

/* One value of one option for codec c, through the four paths. */
static void check_value(const hc_codec_vt *vt, const hc_opt_def *r, const char *val, int beyond) {
    hc_error err = {0};
    char text[256], args[1024];
    /* rd: the setting parser (with the codec's trial encoding) */
    snprintf(text, sizeof text, "%s:%s=%s", vt->name, r->key, val);
    hc_rd_setting rs;
    hc_status st_rd = hc_rd_parse_setting(text, 1, &rs, &err);
    char rd_msg[sizeof err.msg];
    snprintf(rd_msg, sizeof rd_msg, "%s", err.msg);
    if (beyond) CHECKF(st_rd == HC_E_ARG, "%s accepted (bounds %g..%g)", text, r->lo, r->hi);
    /* the CLI's library path: the same rows, the CLI spelling */
    if (r->cli) {
        hc_optset s;
        hc_opts o;
        hc_optset_init(&s, 0);
        hc_status st = hc_optset_add(&s, "--codec", vt->name, &err);
        if (!st) st = hc_optset_add(&s, r->cli, val, &err);
        if (!st) st = hc_optset_finish(&s, &o, &err);
        if (!st) st = hc_opts_probe(&o, &err);
        CHECKF((st == HC_OK) == (st_rd == HC_OK), "%s: rd %s (%.300s), --codec %s %s %s: %.300s", text,
               st_rd ? "refuses" : "accepts", rd_msg, vt->name, r->cli, val, st ? err.msg : "accepted");
        if (!st && !st_rd) {
            o.min_elems = rs.opts.min_elems; /* rd's protocol sets its own */
            CHECKF(memcmp(&o, &rs.opts, sizeof o) == 0, "%s: rd and CLI give different options", text);
        }
        /* the binary: usage errors exit 2 before the (missing) input is read */
        snprintf(args, sizeof args, "compress /nonexistent/in.safetensors -o '%s/never.hyc' --codec %s %s '%s'",
                 hc_test_tmpdir(), vt->name, r->cli, val);
        const char *out;
        int rc = run(args, &out);
        CHECKF(rc == (st_rd ? 2 : 1), "hyperc %s: exit %d, rd parser %s: %s", args, rc, st_rd ? "refuses" : "accepts",
               out);
    }
    snprintf(args, sizeof args, "rd --shared /nonexistent --models none --only '%s'", text);
    const char *out;
    int rc = run(args, &out);
    CHECKF(rc == (st_rd ? 2 : 1), "hyperc %s: exit %d, rd parser %s: %s", args, rc, st_rd ? "refuses" : "accepts", out);
}

TEST(codec_registry_bounds_cli_and_rd_agree) {
    if (!have_tool()) return;
    for (size_t i = 0; hc_codec_at(i); i++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        for (const hc_opt_def *r = hc_opt_rows(); !is_end(r); r++) {
            if (!(r->codecs & (1u << vt->id)) || !r->key) continue;
            if (r->kind != HC_OPTK_UINT && r->kind != HC_OPTK_REAL && r->kind != HC_OPTK_LIST) continue;
            /* each end, and one beyond each */
            char v[4][48];
            int beyond[4] = {0, 0, 1, 1}, nv = 0;
            if (r->kind == HC_OPTK_REAL) {
                snprintf(v[nv++], sizeof v[0], "%.17g", r->lo);
                snprintf(v[nv++], sizeof v[0], "%.17g", r->hi);
                snprintf(v[nv++], sizeof v[0], "%.17g", r->hi * 2 + 1);
                snprintf(v[nv++], sizeof v[0], "%.17g", r->lo - fabs(r->lo) * 0.5 - 1e-3);
            } else {
                unsigned long long lo = (unsigned long long)r->lo, hi = (unsigned long long)r->hi;
                snprintf(v[nv++], sizeof v[0], "%llu", lo);
                snprintf(v[nv++], sizeof v[0], "%llu", hi);
                snprintf(v[nv++], sizeof v[0], "%llu", hi + 1);
                if (lo >= 1) snprintf(v[nv++], sizeof v[0], "%llu", lo - 1);
            }
            for (int k = 0; k < nv; k++) check_value(vt, r, v[k], beyond[k]);
        }
    }
}

TEST(codec_registry_help_names_every_option) {
    if (!have_tool()) return;
    const char *out;
    static char help[32768];
    CHECK(run("compress --help", &out) == 0);
    snprintf(help, sizeof help, "%s", out);
    for (const hc_opt_def *r = hc_opt_rows(); !is_end(r); r++) {
        if (!r->cli) continue;
        char head[64];
        snprintf(head, sizeof head, "%s %s", r->cli, r->arg);
        CHECKF(strstr(help, head), "compress --help lacks '%s'", head);
        if (r->kind != HC_OPTK_CODEC) CHECKF(strstr(help, r->help), "compress --help lacks '%s'", r->help);
        /* a codec's own row is introduced by its name */
        if ((r->codecs & (r->codecs - 1)) == 0) {
            char line[300];
            snprintf(line, sizeof line, "%s: %s", hc_codec_name((hc_codec_id)__builtin_ctz(r->codecs)), r->help);
            CHECKF(strstr(help, line), "compress --help lacks '%s'", line);
        }
    }
    /* --codec lists every codec */
    const char *line = strstr(help, "--codec NAME");
    const char *eol = line ? strchr(line, '\n') : NULL;
    CHECK(line && eol);
    for (size_t i = 0; line && eol && hc_codec_at(i); i++) {
        const char *hit = strstr(line, hc_codec_at(i)->name);
        CHECKF(hit && hit < eol, "--codec help lacks codec %s", hc_codec_at(i)->name);
    }
    CHECK(run("rd --help", &out) == 0);
    char keys[512];
    hc_opt_rd_keys(keys, sizeof keys);
    CHECKF(strstr(out, keys), "rd --help lacks the keys '%s'", keys);
    for (const hc_opt_def *r = hc_opt_rows(); !is_end(r); r++)
        if (r->key) CHECKF(strstr(keys, r->key), "the rd keys lack '%s'", r->key);
    for (const char *const *p = hc_rd_default_settings(); *p; p++) CHECKF(strstr(out, *p), "rd --help lacks %s", *p);
}

TEST(codec_registry_probe_and_rd_settings) {
    hc_error err = {0};
    /* rd's built-in list: every codec's own, in id order */
    const char *const *def = hc_rd_default_settings();
    size_t k = 0;
    for (size_t i = 0; hc_codec_at(i); i++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        for (const char *const *p = vt->rd_settings; p && *p; p++, k++) {
            CHECKF(def[k] == *p, "built-in setting %zu is not %s's %s", k, vt->name, *p);
            size_t l = strlen(vt->name);
            CHECKF(!strncmp(*p, vt->name, l) && ((*p)[l] == 0 || (*p)[l] == ':'), "%s: setting '%s'", vt->name, *p);
            hc_rd_setting s;
            CHECK_OK(hc_rd_parse_setting(*p, 1, &s, &err), &err);
            CHECK(s.opts.codec == vt->id);
        }
        /* raw has no rate; sparse wraps another codec and rd measures it as
         * that codec's prune=... settings */
        CHECKF(vt->id == HC_CODEC_RAW || vt->id == HC_CODEC_SPARSE || vt->rd_settings, "%s: no rd settings",
               vt->name);
        CHECKF(!vt->rd_targets || vt->ladder, "%s: rd targets need a rate sweep", vt->name);
        /* the probe setting: no budget, a setting the codec takes, inside its rates */
        hc_opts o, p;
        hc_opts_default(&o);
        o.codec = vt->id;
        o.target_bpw = 4.5;
        hc_codec_probe_setting(&o, &p);
        CHECK(p.codec == vt->id && p.target_bpw == 0 && p.target_snr == 0);
        CHECKF(hc_opts_probe(&p, &err) == HC_OK, "%s probe setting refused: %s", vt->name, err.msg);
        double lo, hi;
        if (vt->ladder && hc_opts_rate_range(&o, &lo, &hi) == 0) {
            double b = vt->ladder_bpw(&p, 0);
            CHECKF(b >= lo && b <= hi, "%s: probe at %.3f bpw outside %.3f..%.3f", vt->name, b, lo, hi);
        }
    }
    CHECK(def[k] == NULL);
    /* what tools/cmd_llm.c chose by hand before the table held it */
    hc_opts o, p;
    hc_opts_default(&o);
    hc_codec_probe_setting(&o, &p);
    CHECK(p.codec == HC_CODEC_HLAT && p.bits == 17);
}

/* Presets belong to their codec's table: each gives that codec, is taken by
 * it, by rd's preset= and listed by --preset's help; names are unique. */
TEST(codec_registry_presets) {
    hc_error err = {0};
    const char *out = NULL;
    static char help[32768];
    int tool = have_tool();
    if (tool && run("compress --help", &out) == 0) snprintf(help, sizeof help, "%s", out);
    const char *line = strstr(help, "--preset NAME"), *eol = line ? strchr(line, '\n') : NULL;
    CHECK(!tool || (line && eol));
    size_t count = 0;
    for (size_t i = 0; hc_codec_at(i); i++) {
        const hc_codec_vt *vt = hc_codec_at(i);
        for (const hc_codec_preset *p = vt->presets; p && p->name; p++, count++) {
            CHECKF(strcmp(p->name, "default") != 0 && p->apply, "%s: preset '%s'", vt->name, p->name);
            for (size_t j = 0; j <= i; j++)
                for (const hc_codec_preset *q = hc_codec_at(j)->presets; q && q->name && q != p; q++)
                    CHECKF(strcmp(q->name, p->name) != 0, "preset '%s' twice", p->name);
            hc_opts o;
            CHECK_OK(hc_opts_preset(&o, p->name, &err), &err);
            CHECK(o.codec == vt->id);
            CHECKF(hc_opts_probe(&o, &err) == HC_OK, "preset %s refused by %s: %s", p->name, vt->name, err.msg);
            char text[128];
            snprintf(text, sizeof text, "%s:preset=%s", vt->name, p->name);
            hc_rd_setting s;
            CHECK_OK(hc_rd_parse_setting(text, 1, &s, &err), &err);
            o.min_elems = s.opts.min_elems;
            CHECKF(memcmp(&o, &s.opts, sizeof o) == 0, "%s differs from --preset %s", text, p->name);
            if (line && eol) {
                const char *hit = strstr(line, p->name);
                CHECKF(hit && hit < eol, "--preset help lacks %s", p->name);
            }
        }
    }
    CHECK(count >= 2);
    /* an unknown name names them all and leaves the options alone */
    hc_opts o, before;
    hc_opts_default(&o);
    o.bits = 7;
    before = o;
    CHECK(hc_opts_preset(&o, "nope", &err) == HC_E_ARG && strstr(err.msg, "default, paper-llm, paper-vision"));
    CHECK(memcmp(&o, &before, sizeof o) == 0);
}
