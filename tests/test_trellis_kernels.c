/* test_trellis_kernels.c — the trellis codec's fast kernels against their
 * plain-C references: the int16 Viterbi step (same states from the scalar
 * and AVX2 searches, at mixed bits per step, across chunks, with the float
 * fallback; no worse than the float search on N(0,1)), and the AVX2 decode
 * and row product (pattern and per-block kernels) on payloads of every rate
 * and state size: decode bit-identical to the reference, products equal to
 * decode-then-multiply, the same per row whatever the row range (thread
 * split). */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/codec/trellis.h"
#include "../src/common/cpu.h"
#include <math.h>
#include <string.h>

static int have_avx2(void) { return hc_simd_level() >= HC_SIMD_AVX2; }

/* states of a segment searched with isa / costs; 1 if the path is valid */
static int search(uint32_t L, const float *u, const float *wg, const uint8_t *kb, uint64_t n, int isa, int costs,
                  uint32_t *st) {
    tr_viterbi v;
    int ok = tr_viterbi_init(&v, L, isa);
    if (ok) {
        v.costs = costs;
        tr_viterbi_segment(&v, u, wg, kb, n, st);
        for (uint64_t i = 1; i < n; i++)
            if ((((st[i - 1] << kb[i]) & ((1u << L) - 1)) != (st[i] & ~((1u << kb[i]) - 1)))) ok = 0;
    }
    tr_viterbi_free(&v);
    return ok;
}

TEST(trellis_int16_search_scalar_equals_avx2) {
    if (!have_avx2()) {
        hc_test_skip("no AVX2 on this CPU");
        return;
    }
    enum { N = 2900 }; /* three chunks */
    float *u = malloc(sizeof(float) * N), *wg = malloc(sizeof(float) * N);
    uint8_t *kb = malloc(N);
    uint32_t *a = malloc(sizeof(uint32_t) * N), *b = malloc(sizeof(uint32_t) * N);
    static const uint32_t Ls[] = {12, 13, 10};
    for (int c = 0; c < 4; c++) {
        uint32_t L = Ls[c % 3], kmax = L - 4 < 8 ? L - 4 : 8;
        hc_rng r = {100 + (uint64_t)c};
        for (uint64_t i = 0; i < N; i++) {
            u[i] = (float)(1.2 * hc_rng_normal(&r));
            if (i % 331 == 0) u[i] *= 5; /* outliers: clamped int16 targets */
            /* blocks of 64 with their own rate and weight */
            uint64_t blk = i / 64;
            kb[i] = (uint8_t)(1 + (blk * 7 + (i & 1) + (uint64_t)c) % kmax);
            wg[i] = (float)(0.1 + 0.9 * (double)((blk * 37) % 10) / 9.0);
            if (blk == 5) wg[i] = 0, u[i] = 0; /* a zero block */
            if (c == 3 && blk >= 20 && blk < 24) wg[i] = 1e-4f; /* spread weights: float chunk */
        }
        int va = search(L, u, wg, kb, N, 0, TR_COSTS_INT16, a);
        int vb = search(L, u, wg, kb, N, 1, TR_COSTS_INT16, b);
        CHECKF(va && vb, "L = %u case %d: an invalid path (scalar %d, AVX2 %d)", L, c, va, vb);
        CHECKF(!memcmp(a, b, sizeof(uint32_t) * N), "L = %u case %d: scalar and AVX2 int16 searches differ", L, c);
    }
    free(u);
    free(wg);
    free(kb);
    free(a);
    free(b);
}

TEST(trellis_int16_search_as_good_as_float) {
    enum { N = 8192 };
    float *u = malloc(sizeof(float) * N), *wg = malloc(sizeof(float) * N);
    uint8_t *kb = malloc(N);
    uint32_t *st = malloc(sizeof(uint32_t) * N);
    hc_rng r = {42};
    for (uint64_t i = 0; i < N; i++) u[i] = (float)hc_rng_normal(&r);
    int isa = have_avx2();
    for (uint32_t k = 2; k <= 4; k += 2) {
        double mse[2];
        for (int c = 0; c < 2; c++) {
            for (uint64_t i = 0; i < N; i++) {
                kb[i] = (uint8_t)k;
                wg[i] = (float)(0.5 + 0.5 * (double)((i / 64) % 2)); /* two weights, ratio 2 */
            }
            int ok = search(12, u, wg, kb, N, isa, c ? TR_COSTS_FLOAT : TR_COSTS_INT16, st);
            double se = 0;
            for (uint64_t i = 0; i < N; i++) {
                double d = u[i] - tr_val(st[i]);
                se += wg[i] * d * d;
            }
            mse[c] = ok ? se / N : 1e9;
        }
        printf("    L = 12, k = %u: weighted MSE int16 %.5f, float %.5f\n", k, mse[0], mse[1]);
        CHECKF(mse[0] <= mse[1] * 1.005, "k = %u: int16 search MSE %.5f vs float %.5f", k, mse[0], mse[1]);
    }
    free(u);
    free(wg);
    free(kb);
    free(st);
}

/* A trellis payload of n weights with random scale codes (every rate from
 * kmin to kmax bits per step) and random stream bits. */
static uint8_t *random_payload(uint32_t L, uint32_t flags, uint64_t n, uint64_t seed, uint8_t *prm, uint64_t *len) {
    tr_params p;
    memset(&p, 0, sizeof p);
    p.L = L;
    p.flags = flags;
    p.rht_log2 = flags ? 6 : 0;
    p.seg_log2 = 10; /* several segments */
    p.kmin = 1;
    p.kmax = L - 1 < 8 ? L - 1 : 8;
    p.seed = 9;
    p.slope = TR_SLOPE_DEFAULT; /* as tr_params_read gives without TR_FLAG_SLOPE */
    p.top = 0.5f;
    p.offset = 64 * (int32_t)p.kmax - 8 * 63 + 3; /* codes 0..63 span the clamped range */
    hc_rng r = {seed};
    uint64_t nb = (n + TR_BLOCK - 1) / TR_BLOCK, sb = tr_scale_bytes(nb);
    uint8_t *q = malloc(nb);
    for (uint64_t b = 0; b < nb; b++) q[b] = (uint8_t)(hc_rng_next(&r) % 64);
    *len = sb + (tr_stream_bits(&p, q, n) + 7) / 8;
    uint8_t *pl = calloc(1, *len);
    for (uint64_t b = 0; b < nb; b++)
        for (int k = 0; k < TR_SBITS; k++)
            if ((q[b] >> (TR_SBITS - 1 - k)) & 1) pl[(b * TR_SBITS + (uint64_t)k) >> 3] |= (uint8_t)(0x80u >> ((b * TR_SBITS + (uint64_t)k) & 7));
    for (uint64_t i = sb; i < *len; i++) pl[i] = (uint8_t)hc_rng_next(&r);
    free(q);
    tr_params_write(&p, prm);
    return pl;
}

TEST(trellis_avx2_decode_and_product_match_reference) {
    if (!have_avx2()) {
        hc_test_skip("no AVX2 on this CPU");
        return;
    }
    static const uint32_t Ls[] = {8, 12, 16, 20};
    static const uint64_t colss[] = {256, 192, 100, 64};
    for (int c = 0; c < 8; c++) {
        uint32_t L = Ls[c % 4], flags = (uint32_t)(c / 4);
        uint64_t cols = colss[c % 4], rows = 37, n = rows * cols;
        if (flags && cols % 64) cols = 128, n = rows * cols; /* RHT blocks of 64 */
        uint8_t prm[TR_PARAMS_BYTES];
        uint64_t len;
        uint8_t *pl = random_payload(L, flags, n, 7 + (uint64_t)c, prm, &len);
        hc_decoder *da = NULL, *dr = NULL;
        hc_error err = {0};
        CHECK_OK(hc_decoder_open(HC_CODEC_TRELLIS, prm, TR_PARAMS_BYTES, pl, len, n, HC_F32, &da, &err), &err);
        setenv("HYPERC_TRELLIS_KERNEL", "ref", 1);
        hc_status s = hc_decoder_open(HC_CODEC_TRELLIS, prm, TR_PARAMS_BYTES, pl, len, n, HC_F32, &dr, &err);
        unsetenv("HYPERC_TRELLIS_KERNEL");
        CHECK_OK(s, &err);
        float *fa = malloc(sizeof(float) * n), *fr = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * cols);
        float *ya = malloc(sizeof(float) * rows), *yr = malloc(sizeof(float) * rows), *yp = malloc(sizeof(float) * rows);
        hc_decode_all(da, fa);
        hc_decode_all(dr, fr);
        CHECKF(!memcmp(fa, fr, sizeof(float) * n), "L = %u flags %u: AVX2 decode differs from the reference", L, flags);
        /* windows at odd places */
        for (uint64_t a = 1; a + 130 < n; a += 977) {
            float w[130];
            CHECK_OK(hc_decode_range(da, a, 130, w, &err), &err);
            CHECKF(!memcmp(w, fr + a, sizeof w), "L = %u: window at %llu differs", L, (unsigned long long)a);
        }
        hc_rng r = {5};
        for (uint64_t i = 0; i < cols; i++) x[i] = (float)hc_rng_normal(&r);
        hc_matvec(da, cols, 0, rows, x, ya);
        hc_matvec(dr, cols, 0, rows, x, yr);
        /* a thread's share: rows 13 .. 29 alone give the same floats */
        hc_matvec(da, cols, 13, 30, x, yp);
        int same_rows = !memcmp(yp, ya + 13, sizeof(float) * 17);
        CHECKF(same_rows, "L = %u: rows 13..29 alone differ from the full product", L);
        for (uint64_t rr = 0; rr < rows; rr++) {
            double want = 0, mag = 0;
            for (uint64_t j = 0; j < cols; j++) {
                want += (double)fr[rr * cols + j] * x[j];
                mag += fabs((double)fr[rr * cols + j] * x[j]);
            }
            double tol = 2e-6 * mag + 1e-30;
            CHECKF(fabs(ya[rr] - want) <= tol && fabs(yr[rr] - want) <= tol,
                   "L = %u flags %u cols %llu row %llu: AVX2 %.9g, ref %.9g, decode-multiply %.9g", L, flags,
                   (unsigned long long)cols, (unsigned long long)rr, ya[rr], yr[rr], want);
            if (fabs(ya[rr] - want) > tol) break;
        }
        hc_decoder_free(da);
        hc_decoder_free(dr);
        free(pl);
        free(fa);
        free(fr);
        free(x);
        free(ya);
        free(yr);
        free(yp);
    }
}
