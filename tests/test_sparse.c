/* test_sparse.c — pruning (`compress --prune P|N:M`) and the sparse wrapper
 * codec (src/codec/sparse.c): which weights are pruned, zeros decoding
 * exactly, both masks (bitmap, 2:4 patterns) and their cost, windows and
 * products, and open() refusing damaged parameters, masks and sizes. */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/codec/rd.h"
#include "../src/codec/sparse.h"
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#define SN 4099 /* not a multiple of 4 or 8: a tail group and padding bits */

static void fill(float *w, uint64_t n, uint64_t seed) {
    hc_rng r = {seed};
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(0.02 * hc_rng_normal(&r));
}

static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

TEST(sparse_prune_fraction_and_pattern) {
    static float w[SN], p[SN];
    fill(w, SN, 3);
    hc_opts o;
    hc_opts_default(&o);
    hc_error err = {0};
    CHECK_OK(hc_prune_parse("--prune", "0.3", &o, &err), &err);
    CHECK(hc_prune_active(&o) && o.prune == 0.3);
    memcpy(p, w, sizeof w);
    CHECK_OK(hc_prune_apply(p, SN, &o, &err), &err);
    uint64_t zeros = 0;
    float max_pruned = 0, min_kept = INFINITY;
    for (int i = 0; i < SN; i++) {
        if (p[i] == 0) {
            zeros++;
            if (fabsf(w[i]) > max_pruned) max_pruned = fabsf(w[i]);
        } else {
            CHECK(p[i] == w[i]);
            if (fabsf(w[i]) < min_kept) min_kept = fabsf(w[i]);
        }
    }
    CHECKF(zeros == (uint64_t)floor(0.3 * SN + 0.5), "zeros %llu", (unsigned long long)zeros);
    CHECK(max_pruned <= min_kept);
    /* 2:4: two of every four consecutive weights, the larger two; the tail (3) kept */
    CHECK_OK(hc_prune_parse("--prune", "2:4", &o, &err), &err);
    CHECK(o.prune_n == 2 && o.prune_m == 4 && o.prune == 0);
    memcpy(p, w, sizeof w);
    CHECK_OK(hc_prune_apply(p, SN, &o, &err), &err);
    for (int g = 0; g + 4 <= SN; g += 4) {
        int nz = 0;
        float kmin = INFINITY, pmax = 0;
        for (int i = g; i < g + 4; i++) {
            if (p[i] != 0) nz++, kmin = fminf(kmin, fabsf(w[i]));
            else pmax = fmaxf(pmax, fabsf(w[i]));
        }
        CHECKF(nz == 2 && pmax <= kmin, "group %d: %d kept", g / 4, nz);
    }
    CHECK(p[SN - 1] == w[SN - 1] && p[SN - 2] == w[SN - 2] && p[SN - 3] == w[SN - 3]);
    /* bad values */
    static const char *const bad[] = {"1", "1.5", "-0.1", "x", "2:2", "0:4", "4:2", "2:17", "2:", ":4", "2:4x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(hc_prune_parse("--prune", bad[i], &o, &err) == HC_E_ARG && strstr(err.msg, "--prune"), "'%s' accepted",
               bad[i]);
    char buf[32];
    o.prune = 0;
    o.prune_n = o.prune_m = 0;
    CHECK(!hc_prune_active(&o) && !strcmp(hc_prune_str(&o, buf, sizeof buf), ""));
}

/* Codes w pruned as `prune` by `codec`, and checks the result. */
static void check_coded(hc_codec_id codec, const char *prune, uint64_t n, int want_kind) {
    float *w = malloc(n * sizeof *w), *p = malloc(n * sizeof *p), *d = malloc(n * sizeof *d), *d2 = malloc(n * sizeof *d2);
    fill(w, n, 7);
    hc_opts o;
    hc_opts_default(&o);
    o.codec = codec;
    hc_error err = {0};
    CHECK_OK(hc_prune_parse("prune", prune, &o, &err), &err);
    memcpy(p, w, n * sizeof *w);
    CHECK_OK(hc_prune_apply(p, n, &o, &err), &err);
    hc_encoded e;
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    CHECKF(e.codec == HC_CODEC_SPARSE && e.params_len == 32 && e.params[1] == want_kind && e.params[2] == codec,
           "%s %s: codec %d kind %d inner %d", hc_codec_name(codec), prune, e.codec, e.params[1], e.params[2]);
    /* mask cost: 2:4 patterns three groups a byte, else a bitmap */
    uint64_t mbytes = get64(e.params + 24);
    CHECK(mbytes == (want_kind ? (n / 4 + 2) / 3 : (n + 7) / 8));
    hc_decoder *dec;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &dec, &err), &err);
    hc_decode_all(dec, d);
    /* pruned weights decode as exact zeros; the others near their values */
    double se = 0, ss = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (p[i] == 0) CHECKF(d[i] == 0 && !signbit(d[i]), "%s %s: weight %llu pruned but %g", hc_codec_name(codec),
                              prune, (unsigned long long)i, d[i]);
        else se += (d[i] - p[i]) * (double)(d[i] - p[i]), ss += (double)p[i] * p[i];
    }
    CHECKF(se / ss < 0.02, "%s %s: kept weights nmse %g", hc_codec_name(codec), prune, se / ss);
    /* statistics against the unpruned tensor, as every codec reports them */
    hc_encoded m = e;
    CHECK_OK(hc_encoded_measure(w, n, &m, &err), &err);
    CHECK(fabs(m.mse - e.mse) <= 1e-12 * e.mse && m.sum_sq == e.sum_sq && m.max_abs_err == e.max_abs_err);
    /* windows at odd starts and lengths equal the full decode */
    static const uint64_t starts[] = {0, 1, 3, 7, 511, 512, 513, 1000, 2047};
    for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++)
        for (uint64_t len = 1; starts[k] + len <= n; len = len * 3 + 1) {
            dec->decode(dec, starts[k], len, d2);
            CHECKF(!memcmp(d2, d + starts[k], len * sizeof *d), "window %llu+%llu", (unsigned long long)starts[k],
                   (unsigned long long)len);
        }
    dec->decode(dec, n - 5, 5, d2);
    CHECK(!memcmp(d2, d + n - 5, 5 * sizeof *d));
    hc_decoder_free(dec);
    hc_encoded_free(&e);
    free(w);
    free(p);
    free(d);
    free(d2);
}

TEST(sparse_codes_every_inner_codec) {
    const hc_codec_id inner[] = {HC_CODEC_HLAT, HC_CODEC_PAPER, HC_CODEC_QKM, HC_CODEC_Q4B, HC_CODEC_Q8B};
    for (size_t i = 0; i < sizeof inner / sizeof inner[0]; i++) {
        check_coded(inner[i], "0.5", SN, 0);
        check_coded(inner[i], "2:4", SN, 1);
    }
    check_coded(HC_CODEC_HLAT, "0.3", 4096, 0);
    check_coded(HC_CODEC_HLAT, "2:4", 4096, 1);
    check_coded(HC_CODEC_HLAT, "1:4", 4096, 0); /* other N:M patterns: a bitmap */
    check_coded(HC_CODEC_HLAT, "2:4", 4104, 1);  /* groups a multiple of 3 */
}

TEST(sparse_few_or_no_kept_weights) {
    static float w[SN], d[SN];
    hc_error err = {0};
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_SPARSE; /* no pruning: the tensor's own zeros are the mask */
    for (int pass = 0; pass < 2; pass++) {
        memset(w, 0, sizeof w);
        if (pass) w[5] = 0.25f, w[4000] = -1e-3f; /* fewer than 32 kept: stored as float32 */
        hc_encoded e;
        CHECK_OK(hc_encode(w, SN, &o, &e, &err), &err);
        CHECK(e.codec == HC_CODEC_SPARSE && get64(e.params + 16) == (uint64_t)(pass ? 2 : 0));
        hc_decoder *dec;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, SN, HC_F32, &dec, &err),
                 &err);
        hc_decode_all(dec, d);
        CHECK(!memcmp(w, d, sizeof w) && e.mse == 0);
        hc_decoder_free(dec);
        hc_encoded_free(&e);
    }
}

static int opens(const hc_encoded *e, const uint8_t *params, const uint8_t *payload, uint64_t plen, uint64_t n,
                 hc_error *err) {
    hc_decoder *d = NULL;
    err->msg[0] = 0;
    hc_status s = hc_decoder_open(e->codec, params, e->params_len, payload, plen, n, HC_F32, &d, err);
    hc_decoder_free(d);
    return s == HC_OK;
}

TEST(sparse_open_refuses_damage) {
    static float w[SN];
    fill(w, SN, 9);
    hc_error err = {0};
    for (int kind = 0; kind < 2; kind++) {
        hc_opts o;
        hc_opts_default(&o);
        CHECK_OK(hc_prune_parse("prune", kind ? "2:4" : "0.5", &o, &err), &err);
        hc_encoded e;
        CHECK_OK(hc_encode(w, SN, &o, &e, &err), &err);
        uint8_t prm[32];
        memcpy(prm, e.params, 32);
        uint32_t ip = e.params[4];
        CHECK(opens(&e, prm, e.payload, e.payload_len, SN, &err));
        CHECK(!opens(&e, prm, e.payload, e.payload_len, SN - 1, &err) && strstr(err.msg, "sparse"));
        CHECK(!opens(&e, prm, e.payload, e.payload_len - 1, SN, &err) && err.msg[0]);
        /* fields: version, kind, inner codec (itself, unknown), flags, nnz, mask bytes, inner params length */
        static const struct { int off; uint8_t v; } f[] = {{0, 2}, {1, 2}, {2, HC_CODEC_SPARSE}, {2, 99}, {3, 1},
                                                           {16, 1}, {24, 1}, {4, 255}, {4, 1}, {11, 1}};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            memcpy(prm, e.params, 32);
            prm[f[k].off] = (uint8_t)(prm[f[k].off] + f[k].v);
            CHECKF(!opens(&e, prm, e.payload, e.payload_len, SN, &err) && err.msg[0], "kind %d: byte %d +%u accepted",
                   kind, f[k].off, f[k].v);
        }
        /* the mask: a pattern byte out of range, a flipped bit (count mismatch), a padding bit */
        uint8_t *pl = malloc(e.payload_len);
        memcpy(pl, e.payload, e.payload_len);
        pl[ip + 3] = kind ? 216 : (uint8_t)(pl[ip + 3] ^ 1);
        CHECK(!opens(&e, e.params, pl, e.payload_len, SN, &err) && strstr(err.msg, kind ? "pattern" : "keeps"));
        if (!kind) {
            memcpy(pl, e.payload, e.payload_len);
            pl[ip + SN / 8] |= 0x80; /* bit past weight SN-1 (SN % 8 == 3) */
            CHECK(!opens(&e, e.params, pl, e.payload_len, SN, &err) && strstr(err.msg, "past"));
        } else {
            /* last byte holds 1 group of 1024 = 3*341+1: a second digit set is refused */
            memcpy(pl, e.payload, e.payload_len);
            pl[ip + (SN / 4 + 2) / 3 - 1] = 6;
            CHECK(!opens(&e, e.params, pl, e.payload_len, SN, &err) && strstr(err.msg, "pattern"));
        }
        memset(pl + ip, 0xff, (size_t)get64(e.params + 24)); /* garbage mask: refused or harmless */
        (void)opens(&e, e.params, pl, e.payload_len, SN, &err);
        free(pl);
        hc_encoded_free(&e);
    }
}

TEST(sparse_rd_setting_and_cli) {
    hc_rd_setting s;
    hc_error err = {0};
    CHECK_OK(hc_rd_parse_setting("hlat:prune=2:4", 1, &s, &err), &err);
    CHECK(s.opts.prune_n == 2 && s.opts.prune_m == 4 && s.opts.codec == HC_CODEC_HLAT);
    CHECK_OK(hc_rd_parse_setting("paper:prune=0.5", 1, &s, &err), &err);
    CHECK(s.opts.prune == 0.5);
    CHECK(hc_rd_parse_setting("raw:prune=0.5", 1, &s, &err) != HC_OK);
    const char *m = hc_test_shared("models/stories260K.safetensors");
    if (!m) return;
    const char *b = getenv("HYPERC_BIN") ? getenv("HYPERC_BIN") : "build/hyperc";
    char cmd[4096];
    const char *dir = hc_test_tmpdir();
    snprintf(cmd, sizeof cmd, "'%s' compress '%s' -o '%s/p24.hyc' -q -f --prune 2:4 && '%s' info '%s/p24.hyc' --verify | grep -c sparse > '%s/p24.n'",
             b, m, dir, b, dir, dir);
    CHECK(system(cmd) == 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/p24.n", dir);
    size_t len;
    char *t = (char *)hc_test_slurp(path, &len);
    CHECKF(t && atoi(t) >= 30, "sparse tensors listed: %s", t ? t : "(none)");
    free(t);
    /* usage errors: bad values, with --calib, with the raw codec */
    static const char *const bad[] = {"--prune 1", "--prune 3:2", "--prune 0.5 --calib self", "--prune 0.5 --codec raw"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "'%s' compress '%s' -o '%s/bad.hyc' -q -f %s 2>/dev/null", b, m, dir, bad[i]);
        int st = system(cmd);
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2, "'%s': exit %d", bad[i], WEXITSTATUS(st));
    }
}
