/* test_hlat_q16.c — hlat's quantised-activation product (src/codec/hlat_q16.c):
 * the AVX2 kernel against its plain-C reference (bit for bit), both against
 * decode-then-multiply within the error bound of the int16 activations and
 * weights, row ranges (so thread counts) giving the same bits, the settings
 * it leaves to the float kernels, and non-finite activations. */
#include "test.h"
#include "../src/codec/hlat.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *normals(uint64_t n, uint64_t seed, double sd) {
    hc_rng r = {seed};
    float *w = malloc(sizeof(float) * (n ? n : 1));
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(sd * hc_rng_normal(&r));
    return w;
}

static int have_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static hc_status encode_open(const float *w, uint64_t n, uint32_t m, uint32_t B, hc_encoded *e, hc_decoder **d,
                             hc_error *err) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_HLAT;
    o.dim = 4;
    o.bits = m;
    o.block = B;
    hc_status s = hc_encode(w, n, &o, e, err);
    if (s) return s;
    return hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, d, err);
}

/* |q16 product - decode-then-multiply| bound for row r: each activation is
 * off by at most half its block's step (sx / 2), each weight by at most werr
 * times its block scale; plus float rounding of the sums. */
static double row_bound(const hlat_decoder *d, const float *dec, const float *x, uint64_t cols, uint64_t r) {
    double bound = 0, mag = 0;
    for (uint64_t c0 = 0; c0 < cols; c0 += 32) {
        float amax = 0;
        for (uint64_t c = c0; c < c0 + 32 && c < cols; c++) amax = fabsf(x[c]) > amax ? fabsf(x[c]) : amax;
        double hs = 0.5 * amax / HLAT_Q16_XMAX * (1 + 1e-6);
        for (uint64_t c = c0; c < c0 + 32 && c < cols; c++) {
            double s = hlat_block_scale(d, (r * cols + c) / d->p.block);
            double w = dec[r * cols + c];
            bound += fabs(w) * hs + s * d->q16.werr * (fabs(x[c]) + hs);
            mag += fabs(w * x[c]);
        }
    }
    return bound + 2e-6 * mag + 1e-30;
}

/* The plain-C and AVX2 kernels agree bit for bit, agree with decode-then-
 * multiply within the bound, and give the same bits for any row range. */
TEST(hlat_q16_kernels_match) {
    static const struct { uint64_t rows, cols; uint32_t m, B; } cases[] = {
        {37, 64, 21, 32}, {5, 2048, 21, 32}, {9, 96, 17, 64}, {3, 8192 + 96, 21, 32}, {4, 32, 25, 32},
        {13, 160, 13, 128}, {64, 64, 21, 32}, {2, 352, 9, 32},
        /* rows that are not whole steps: every bit phase, steps across blocks */
        {64, 172, 21, 32}, {7, 44, 21, 32}, {9, 4, 21, 32}, {9, 100, 21, 64}, {6, 200, 19, 96}, {3, 8204, 21, 32}, {40, 2048, 21, 32},
        /* blocks of 2 and 4 steps on rows of whole blocks (the blocks-of-32 2^sh loop), one chunked */
        {11, 128, 19, 64}, {5, 256, 21, 128}, {3, 8192 + 128, 19, 64}, {7, 64, 15, 64}};
    int saw_avx2 = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        uint64_t rows = cases[ci].rows, cols = cases[ci].cols, n = rows * cols;
        float *w = normals(n, 100 + ci, 0.03), *x = normals(cols, 200 + ci, 1.0);
        for (uint64_t c = 5; c < cols; c += 97) x[c] *= 40; /* outliers, as real activations have */
        hc_encoded e;
        hc_decoder *d;
        hc_error err = {0};
        CHECK_OK(encode_open(w, n, cases[ci].m, cases[ci].B, &e, &d, &err), &err);
        hlat_decoder *hd = (hlat_decoder *)d;
        CHECKF(hd->q16.ok, "m=%u B=%u: q16 product not prepared", cases[ci].m, cases[ci].B);
        /* these tensors' companders fit the square form (so B = 32 rows of whole steps take that path) */
        CHECKF(hd->q16.sq, "m=%u B=%u: no square form (c1 %g c3 %g c5 %g)", cases[ci].m, cases[ci].B, hd->p.c1, hd->p.c3,
               hd->p.c5);
        float *dec = malloc(sizeof(float) * n), *yr = malloc(sizeof(float) * rows), *ya = malloc(sizeof(float) * rows);
        hlat_decode_ref(d, 0, n, dec);
        CHECK(strcmp(hlat_select_kernels(hd, "q16ref"), "q16ref") == 0);
        d->matvec(d, cols, 0, rows, x, yr);
        for (uint64_t r = 0; r < rows; r++) {
            double want = 0;
            for (uint64_t c = 0; c < cols; c++) want += (double)dec[r * cols + c] * x[c];
            double tol = row_bound(hd, dec, x, cols, r);
            CHECKF(fabs(yr[r] - want) <= tol, "%llux%llu m=%u row %llu: q16 %.9g, decode-multiply %.9g (bound %.3g)",
                   (unsigned long long)rows, (unsigned long long)cols, cases[ci].m, (unsigned long long)r, yr[r],
                   want, tol);
            /* and far from the bound is not a vacuous test: a real error is O(|w x|) */
            CHECK(tol < 0.05 * (fabs(want) + 1e-3) + 1e-2 * cols * 0.03);
        }
#if defined(__x86_64__) || defined(__i386__)
        if (have_avx2()) {
            saw_avx2 = 1;
            CHECK(strcmp(hlat_select_kernels(hd, "avx2"), "avx2") == 0);
            CHECK(d->matvec == hlat_matvec_q16_avx2);
            /* decoding in the product, then (small tensors) from the kept int16 weights */
            for (int kept = 0; kept < 2; kept++) {
                if (!kept) setenv("HYPERC_HLAT_NOCACHE", "1", 1);
                for (uint64_t r = 0; r < rows; r++) ya[r] = NAN;
                d->matvec(d, cols, 0, rows, x, ya);
                unsetenv("HYPERC_HLAT_NOCACHE");
                CHECK(hd->q16.cache_state == (kept && n <= HLAT_Q16_CACHE_MAX && cols <= HLAT_Q16_CHUNK ? 2 : 0));
                CHECKF(memcmp(yr, ya, sizeof(float) * rows) == 0,
                       "%llux%llu m=%u: avx2 (kept weights %d) differs from the reference", (unsigned long long)rows,
                       (unsigned long long)cols, cases[ci].m, kept);
            }
            /* the general step loop (every setting) gives the same bits as the
             * blocks-of-32 one (B = 32, rows of whole steps, square form) */
            CHECK(strcmp(hlat_select_kernels(hd, "avx2s"), "avx2s") == 0);
            setenv("HYPERC_HLAT_NOCACHE", "1", 1);
            float *ys = malloc(sizeof(float) * rows);
            d->matvec(d, cols, 0, rows, x, ys);
            unsetenv("HYPERC_HLAT_NOCACHE");
            int same = memcmp(yr, ys, sizeof(float) * rows) == 0;
            free(ys);
            CHECKF(same, "%llux%llu m=%u: avx2s differs from the reference", (unsigned long long)rows,
                   (unsigned long long)cols, cases[ci].m);
            CHECK(strcmp(hlat_select_kernels(hd, "avx2"), "avx2") == 0);
            /* row ranges (the transformer's tasks) give the same bits */
            for (uint64_t r0 = 0; r0 < rows; r0 += 3) {
                uint64_t r1 = r0 + 3 < rows ? r0 + 3 : rows;
                float part[3];
                d->matvec(d, cols, r0, r1, x, part);
                CHECK(memcmp(part, ya + r0, sizeof(float) * (r1 - r0)) == 0);
            }
            /* the quantisers agree */
            uint64_t nq = cols < 64 * 32 ? cols : 64 * 32, steps = (nq + 31) / 32;
            int16_t q1[64 * 32], q2[64 * 32];
            float s1[64], s2[64];
            hlat_q16_quantize_ref(x, nq, q1, s1);
            hlat_q16_quantize_avx2(x, nq, q2, s2);
            CHECK(memcmp(q1, q2, sizeof(int16_t) * 32 * steps) == 0 && memcmp(s1, s2, sizeof(float) * steps) == 0);
        }
#endif
        free(dec);
        free(yr);
        free(ya);
        free(w);
        free(x);
        hc_decoder_free(d);
        hc_encoded_free(&e);
    }
    if (have_avx2()) CHECK(saw_avx2);
}

/* The activation quantiser: lane order, exact zeros, NaN/Inf poisoning the
 * block's result, tiny blocks as zero. */
TEST(hlat_q16_quantize_edges) {
    float x[4 * 32];
    for (int c = 0; c < 128; c++) x[c] = (float)(c % 32) - 15.5f;
    x[32 + 7] = NAN;
    x[64 + 3] = INFINITY;
    for (int c = 96; c < 128; c++) x[c] = 1e-35f;
    int16_t q[128];
    float s[4];
    for (int v = 0; v < 2; v++) {
        if (v == 1 && !have_avx2()) break;
#if defined(__x86_64__) || defined(__i386__)
        (v ? hlat_q16_quantize_avx2 : hlat_q16_quantize_ref)(x, 128, q, s);
#else
        hlat_q16_quantize_ref(x, 128, q, s);
#endif
        CHECK(s[0] == 15.5f / (float)HLAT_Q16_XMAX);
        for (int c = 0; c < 32; c++)
            CHECKF(q[HLAT_Q16_POS(c)] == (int16_t)lrintf(x[c] * ((float)HLAT_Q16_XMAX / 15.5f)), "column %d", c);
        CHECK(isnan(s[1]) && isnan(s[2]) && s[3] == 0);
        for (int c = 32; c < 128; c++) CHECK(q[c] == 0);
    }
    /* a product with a NaN activation is NaN, not a silent number */
    float w[64 * 64], xx[64], y[64];
    hc_rng r = {5};
    for (int i = 0; i < 64 * 64; i++) w[i] = (float)(0.02 * hc_rng_normal(&r));
    for (int i = 0; i < 64; i++) xx[i] = 1;
    xx[40] = NAN;
    hc_encoded e;
    hc_decoder *d;
    hc_error err = {0};
    CHECK_OK(encode_open(w, 64 * 64, 21, 32, &e, &d, &err), &err);
    const char *k[2] = {"q16ref", "avx2"};
    for (int v = 0; v < 2; v++) {
        if (v == 1 && !have_avx2()) break;
        hlat_select_kernels((hlat_decoder *)d, k[v]);
        d->matvec(d, 64, 0, 64, xx, y);
        for (int i = 0; i < 64; i++) CHECK(isnan(y[i]));
    }
    hc_decoder_free(d);
    hc_encoded_free(&e);
}

/* Settings and shapes the q16 product leaves to the float kernels give the
 * float kernels' results: a dead zone, m > 25, K != 4, blocks of 16, and
 * rows that do not start on a group (cols % 4 != 0). */
TEST(hlat_q16_falls_back) {
    static const struct { uint32_t K, m, B; uint64_t rows, cols; int zeros; } cases[] = {
        {4, 21, 32, 16, 64, 1}, {4, 26, 32, 8, 64, 0}, {2, 11, 32, 8, 64, 0}, {4, 21, 32, 64, 66, 0},
        {4, 21, 16, 8, 64, 0}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        uint64_t rows = cases[ci].rows, cols = cases[ci].cols, n = rows * cols;
        float *w = normals(n, 300 + ci, 0.02), *x = normals(cols, 400 + ci, 1.0);
        if (cases[ci].zeros)
            for (uint64_t i = 0; i < n; i += 3) w[i] = 0;
        hc_opts o;
        hc_opts_default(&o);
        o.codec = HC_CODEC_HLAT;
        o.dim = cases[ci].K;
        o.bits = cases[ci].m;
        o.block = cases[ci].B;
        hc_encoded e;
        hc_decoder *d;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err), &err);
        int expect_ok = ci == 3; /* only the shape, not the setting, rules it out */
        CHECKF(((hlat_decoder *)d)->q16.ok == expect_ok, "case %zu: q16.ok %d", ci, ((hlat_decoder *)d)->q16.ok);
        float *y1 = malloc(sizeof(float) * rows), *y2 = malloc(sizeof(float) * rows);
        hlat_select_kernels((hlat_decoder *)d, "ref");
        d->matvec(d, cols, 0, rows, x, y1);
        hlat_select_kernels((hlat_decoder *)d, "q16ref");
        d->matvec(d, cols, 0, rows, x, y2);
        CHECK(memcmp(y1, y2, sizeof(float) * rows) == 0);
        if (have_avx2()) {
            hlat_select_kernels((hlat_decoder *)d, "avx2f");
            d->matvec(d, cols, 0, rows, x, y1);
            hlat_select_kernels((hlat_decoder *)d, "avx2");
            d->matvec(d, cols, 0, rows, x, y2);
            CHECK(memcmp(y1, y2, sizeof(float) * rows) == 0);
        }
        free(y1);
        free(y2);
        free(w);
        free(x);
        hc_decoder_free(d);
        hc_encoded_free(&e);
    }
}

/* The four-multiply compander form (tensors whose compander does not fit
 * the square form): plain C and AVX2 agree bit for bit, and both stay within
 * the bound of decode-then-multiply. */
TEST(hlat_q16_general_form_matches) {
    static const struct { uint64_t rows, cols; uint32_t m, B; } cases[] = {{37, 64, 21, 32}, {6, 2048, 21, 32}, {9, 100, 21, 64}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        uint64_t rows = cases[ci].rows, cols = cases[ci].cols, n = rows * cols;
        float *w = normals(n, 500 + ci, 0.03), *x = normals(cols, 600 + ci, 1.0);
        hc_encoded e;
        hc_decoder *d;
        hc_error err = {0};
        CHECK_OK(encode_open(w, n, cases[ci].m, cases[ci].B, &e, &d, &err), &err);
        hlat_decoder *hd = (hlat_decoder *)d;
        float *dec = malloc(sizeof(float) * n), *yr = malloc(sizeof(float) * rows), *ya = malloc(sizeof(float) * rows);
        hlat_decode_ref(d, 0, n, dec);
        hlat_select_kernels(hd, "q16ref");
        hlat_q16_prepare_form(hd, 0);
        CHECK(hd->q16.ok && !hd->q16.sq);
        d->matvec(d, cols, 0, rows, x, yr);
        for (uint64_t r = 0; r < rows; r++) {
            double want = 0;
            for (uint64_t c = 0; c < cols; c++) want += (double)dec[r * cols + c] * x[c];
            CHECKF(fabs(yr[r] - want) <= row_bound(hd, dec, x, cols, r), "row %llu: %.9g vs %.9g",
                   (unsigned long long)r, yr[r], want);
        }
#if defined(__x86_64__) || defined(__i386__)
        if (have_avx2()) {
            hlat_select_kernels(hd, "avx2");
            hlat_q16_prepare_form(hd, 0);
            setenv("HYPERC_HLAT_NOCACHE", "1", 1);
            d->matvec(d, cols, 0, rows, x, ya);
            unsetenv("HYPERC_HLAT_NOCACHE");
            CHECK(memcmp(yr, ya, sizeof(float) * rows) == 0);
        }
#endif
        free(dec);
        free(yr);
        free(ya);
        free(w);
        free(x);
        hc_decoder_free(d);
        hc_encoded_free(&e);
    }
}
