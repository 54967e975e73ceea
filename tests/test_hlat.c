/* test_hlat.c — the hlat codec: round trips, error statistics, rates,
 * exact zeros, random access, hostile parameters, kernel agreement, and the
 * rate-distortion requirement on a real model. */
#include "test.h"
#include "../src/codec/hlat.h"
#include "../src/common/util.h"
#include "../src/common/cpu.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static float *gaussian(uint64_t n, uint64_t seed, double sd) {
    hc_rng r = {seed};
    float *w = malloc(sizeof(float) * (n ? n : 1));
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(sd * hc_rng_normal(&r));
    return w;
}

static hc_opts hlat_opts(uint32_t K, uint32_t m, uint32_t B) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_HLAT;
    o.dim = K;
    o.bits = m;
    o.block = B;
    return o;
}

static double snr_db(const hc_encoded *e, uint64_t n) { return 10 * log10(e->sum_sq / (e->mse * (double)n)); }

/* ---- tests -------------------------------------------------------------- */

TEST(hlat_roundtrip_and_error_statistics) {
    const uint64_t n = 10007; /* odd: partial last block and group */
    float *w = gaussian(n, 1, 0.05);
    hc_opts o = hlat_opts(4, 17, 32);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_HLAT);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err), &err);
    float *out = malloc(sizeof(float) * n);
    hc_decode_all(d, out);
    double sae = 0, sse = 0, ss = 0, mx = 0;
    for (uint64_t i = 0; i < n; i++) {
        double df = fabs((double)out[i] - w[i]);
        sae += df;
        sse += df * df;
        ss += (double)w[i] * w[i];
        if (df > mx) mx = df;
    }
    CHECKF(fabs(sse / n - e.mse) <= 1e-9 * e.mse, "mse %g reported %g", sse / n, e.mse);
    CHECKF(fabs(sae / n - e.mae) <= 1e-9 * e.mae, "mae %g reported %g", sae / n, e.mae);
    CHECKF(mx == e.max_abs_err, "max err %g reported %g", mx, e.max_abs_err);
    CHECKF(fabs(ss - e.sum_sq) <= 1e-9 * ss, "sum_sq %g reported %g", ss, e.sum_sq);
    /* i.i.d. Gaussian at 4.25 index bits + 0.19 scale bits: the high-rate
     * companded-lattice figure is ~21.5 dB; far below means a broken search */
    double snr = snr_db(&e, n);
    CHECKF(snr > 20.5 && snr < 27.1, "SNR %.2f dB out of the plausible range", snr);
    free(out);
    free(w);
    hc_decoder_free(d);
    hc_encoded_free(&e);
}

TEST(hlat_bits_per_weight_as_designed) {
    const uint64_t n = 4096 * 4;
    float *w = gaussian(n, 2, 1.0);
    for (uint32_t m = 9; m <= 30; m += 7) {
        hc_opts o = hlat_opts(4, m, 32);
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        /* 6 bits per block of 32, m bits per group of 4, 22 parameter bytes */
        uint64_t expect_payload = (n / 32 * 6 + 7) / 8 + (n / 4 * m + 7) / 8;
        CHECKF(e.payload_len == expect_payload, "m=%u payload %llu expected %llu", m,
               (unsigned long long)e.payload_len, (unsigned long long)expect_payload);
        CHECKF(e.params_len == 22, "m=%u params %u bytes", m, e.params_len);
        double bpw = hc_encoded_bpw(&e, n), design = 6.0 / 32 + m / 4.0 + 22 * 8.0 / n;
        CHECKF(fabs(bpw - design) < 1e-9, "m=%u bpw %.6f design %.6f", m, bpw, design);
        CHECKF(fabs(hc_hlat_bpw(&o, n) - design) < 1e-9, "hc_hlat_bpw %.6f", hc_hlat_bpw(&o, n));
        hc_encoded_free(&e);
    }
    free(w);
}

TEST(hlat_target_bpw_is_met) {
    const uint64_t n = 8192;
    float *w = gaussian(n, 3, 1.0);
    hc_opts o = hlat_opts(4, 0, 32);
    double targets[] = {3.0, 4.5, 6.56};
    for (int i = 0; i < 3; i++) {
        o.target_bpw = targets[i];
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        double bpw = hc_encoded_bpw(&e, n);
        CHECKF(bpw <= targets[i] && bpw > targets[i] - 0.26, "target %.2f got %.3f", targets[i], bpw);
        hc_encoded_free(&e);
    }
    free(w);
}

TEST(hlat_zeros_stay_exact) {
    const uint64_t n = 6000;
    float *w = gaussian(n, 4, 0.1);
    hc_rng r = {99};
    for (uint64_t i = 0; i < n; i++)
        if (hc_rng_uniform(&r) < 0.5) w[i] = 0; /* unstructured pruning */
    for (uint64_t i = 640; i < 704; i++) w[i] = 0; /* two all-zero blocks */
    w[5] = -0.0f;
    for (uint32_t m = 9; m <= 25; m += 8) {
        hc_opts o = hlat_opts(4, m, 32);
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        hc_decoder *d;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err),
                 &err);
        float *out = malloc(sizeof(float) * n);
        hc_decode_all(d, out);
        uint64_t bad = 0, nonzero_lost = 0;
        for (uint64_t i = 0; i < n; i++) {
            if (w[i] == 0 && out[i] != 0) bad++;
            if (w[i] != 0 && out[i] == 0) nonzero_lost++;
        }
        CHECKF(bad == 0, "m=%u: %llu zeros not exact", m, (unsigned long long)bad);
        CHECKF(nonzero_lost < n / 10, "m=%u: %llu non-zeros decoded as 0", m, (unsigned long long)nonzero_lost);
        CHECKF(snr_db(&e, n) > 1.5 * m - 6, "m=%u: SNR %.2f dB", m, snr_db(&e, n));
        free(out);
        hc_decoder_free(d);
        hc_encoded_free(&e);
    }
    /* an all-zero tensor decodes to zeros */
    memset(w, 0, sizeof(float) * n);
    hc_opts o = hlat_opts(4, 17, 32);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err), &err);
    float *out = malloc(sizeof(float) * n);
    hc_decode_all(d, out);
    for (uint64_t i = 0; i < n; i++) CHECKF(out[i] == 0, "all-zero tensor: weight %llu = %g", (unsigned long long)i, out[i]);
    CHECK(e.mse == 0 && e.max_abs_err == 0);
    free(out);
    free(w);
    hc_decoder_free(d);
    hc_encoded_free(&e);
}

TEST(hlat_random_access_matches_full_decode) {
    const uint64_t n = 5003;
    float *w = gaussian(n, 5, 0.02);
    uint32_t Ks[] = {4, 3, 1, 8};
    for (int ki = 0; ki < 4; ki++) {
        uint32_t K = Ks[ki];
        hc_opts o = hlat_opts(K, K == 8 ? 32 : K * 4 + 1, K == 3 ? 30 : 32);
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        hc_decoder *d;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err),
                 &err);
        float *all = malloc(sizeof(float) * n), *part = malloc(sizeof(float) * n);
        hc_decode_all(d, all);
        CHECKF(snr_db(&e, n) > 18, "K=%u SNR %.2f", K, snr_db(&e, n));
        hc_rng r = {7};
        for (int t = 0; t < 300; t++) {
            uint64_t a = hc_rng_next(&r) % n, len = hc_rng_next(&r) % (n - a + 1);
            if (t < 3) { a = n - 1 - t; len = t + 1; } /* the very end */
            d->decode(d, a, len, part);
            CHECKF(memcmp(part, all + a, sizeof(float) * len) == 0, "K=%u decode(%llu, %llu) differs", K,
                   (unsigned long long)a, (unsigned long long)len);
        }
        free(all);
        free(part);
        hc_decoder_free(d);
        hc_encoded_free(&e);
    }
    free(w);
}

/* All kernel sets decode bit-identically, and their fused products agree
 * with decode-then-multiply on shapes that align with nothing. */
TEST(hlat_kernels_agree) {
    static const struct { uint64_t rows, cols; } shapes[] = {{37, 53}, {5, 1}, {3, 129}, {64, 64}, {9, 1000}, {1, 4099}};
    const char *kernels[] = {"ref", "avx2", "avx512"};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        uint64_t rows = shapes[si].rows, cols = shapes[si].cols, n = rows * cols;
        float *w = gaussian(n, 10 + si, 0.1);
        for (uint64_t i = 0; i < n; i += 7) w[i] = 0; /* dead zone in play */
        float *x = gaussian(cols, 20 + si, 1.0);
        for (uint32_t K = 2; K <= 4; K += 2) {
            hc_opts o = hlat_opts(K, 4 * K + 1, 16 * K);
            hc_encoded e;
            hc_error err = {0};
            CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
            float *ref = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
            float *y = malloc(sizeof(float) * rows);
            for (int k = 0; k < 3; k++) {
                hc_decoder *d;
                CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d,
                                         &err),
                         &err);
                const char *got = hlat_select_kernels((hlat_decoder *)d, kernels[k]);
                if (strcmp(got, kernels[k]) != 0) { /* not on this CPU */
                    hc_decoder_free(d);
                    continue;
                }
                float *dst = k == 0 ? ref : out;
                hc_decode_all(d, dst);
                if (k > 0) CHECKF(memcmp(ref, out, sizeof(float) * n) == 0, "%s decode differs from ref", kernels[k]);
                uint64_t r0 = rows > 2 ? 1 : 0, r1 = rows;
                d->matvec(d, cols, r0, r1, x, y);
                for (uint64_t r = r0; r < r1; r++) {
                    double acc = 0, mag = 0;
                    for (uint64_t c = 0; c < cols; c++) {
                        acc += (double)ref[r * cols + c] * x[c];
                        mag += fabs((double)ref[r * cols + c] * x[c]);
                    }
                    CHECKF(fabs(y[r - r0] - acc) <= 1e-5 * mag + 1e-30, "%s matvec %llux%llu K=%u row %llu: %g vs %g",
                           kernels[k], (unsigned long long)rows, (unsigned long long)cols, K, (unsigned long long)r,
                           y[r - r0], acc);
                }
                hc_decoder_free(d);
            }
            free(ref);
            free(out);
            free(y);
            hc_encoded_free(&e);
        }
        free(w);
        free(x);
    }
}

/* The K = 4 kernels that read 8 groups per step (AVX-512 VBMI) decode
 * bit-identically to the reference, and their fused product agrees with
 * decode-then-multiply: index widths up to its limit and past
 * it, blocks of one and two steps, rows that start and end off a step,
 * rows shorter than a step, row ranges, and tensors with and without a
 * dead zone. On CPUs without the path this checks the kernel in use. */
TEST(hlat_k4_step_kernels_match_reference) {
    static const struct { uint64_t rows, cols; } shapes[] = {{3, 4099}, {7, 96}, {11, 33}, {6, 31}, {4, 512}, {2, 7}};
    static const uint32_t ms[] = {17, 21, 25, 26};
    int saw_dz = 0, saw_plain = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        uint64_t rows = shapes[si].rows, cols = shapes[si].cols, n = rows * cols;
        float *x = gaussian(cols, 40 + si, 3.0);
        for (int zeros = 0; zeros < 2; zeros++) {
            float *w = gaussian(n, 50 + si, 0.02);
            if (zeros)
                for (uint64_t i = 0; i < n; i += 3) w[i] = 0;
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
                hc_opts o = hlat_opts(4, ms[mi], (si + mi) % 2 ? 64 : 32);
                hc_encoded e;
                hc_error err = {0};
                CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
                hc_decoder *d;
                CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d,
                                         &err),
                         &err);
                if (((hlat_decoder *)d)->p.dead_zone > 0) saw_dz = 1; else saw_plain = 1;
                float *ref = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * rows);
                float *part = malloc(sizeof(float) * n);
                hlat_decode_ref(d, 0, n, ref);
                for (int k = 0; k < 2; k++) {
                    const char *kn = k ? "avx2f" : "avx512"; /* avx2: the q16 product, tests/test_hlat_q16.c */
                    if (strcmp(hlat_select_kernels((hlat_decoder *)d, kn), kn) != 0) continue; /* not on this CPU */
                    /* decoding: bit-identical to the reference, whole and in pieces */
                    hc_rng rr = {60 + si};
                    for (int t = 0; t < 40; t++) {
                        uint64_t a = t ? hc_rng_next(&rr) % n : 0, len = t ? hc_rng_next(&rr) % (n - a + 1) : n;
                        d->decode(d, a, len, part);
                        CHECKF(memcmp(part, ref + a, sizeof(float) * len) == 0, "%s m=%u decode(%llu, %llu) differs",
                               kn, ms[mi], (unsigned long long)a, (unsigned long long)len);
                    }
                    for (uint64_t r0 = 0; r0 < rows; r0 += rows > 3 ? rows - 3 : 1) {
                        for (uint64_t r = 0; r < rows; r++) y[r] = NAN;
                        d->matvec(d, cols, r0, rows, x, y);
                        for (uint64_t r = r0; r < rows; r++) {
                            double acc = 0, mag = 0;
                            for (uint64_t c = 0; c < cols; c++) {
                                acc += (double)ref[r * cols + c] * x[c];
                                mag += fabs((double)ref[r * cols + c] * x[c]);
                            }
                            CHECKF(fabs(y[r - r0] - acc) <= 1e-5 * mag + 1e-30,
                                   "%s m=%u B=%u %llux%llu zeros=%d rows from %llu, row %llu: %g vs %g", kn, ms[mi],
                                   o.block, (unsigned long long)rows, (unsigned long long)cols, zeros,
                                   (unsigned long long)r0, (unsigned long long)r, y[r - r0], acc);
                        }
                    }
                }
                free(part);
                free(ref);
                free(y);
                hc_decoder_free(d);
                hc_encoded_free(&e);
            }
            free(w);
        }
        free(x);
    }
    CHECK(saw_dz && saw_plain);
}

/* The encoder's instruction sets produce the same payload. */
TEST(hlat_encoder_paths_agree) {
    const uint64_t n = 4096 + 37;
    float *w = gaussian(n, 30, 0.3);
    const hc_simd paths[] = {HC_SIMD_REF, HC_SIMD_AVX2, HC_SIMD_AVX512}; /* clamped to this CPU */
    const hc_simd was = hc_simd_level();
    for (int round = 0; round < 4; round++) {
        if (round == 2) /* dead zone in play */
            for (uint64_t i = 0; i < n; i += 3) w[i] = 0;
        uint32_t m = round % 2 ? 30 : 9 + 4 * round;
        hc_opts o = hlat_opts(4, m, 32);
        hc_encoded base;
        hc_error err = {0};
        hc_simd_set_level(paths[0]);
        hc_status s = hc_encode(w, n, &o, &base, &err);
        hc_simd_set_level(was);
        CHECK_OK(s, &err);
        for (int k = 1; k < 3; k++) {
            hc_encoded e;
            hc_simd_set_level(paths[k]);
            s = hc_encode(w, n, &o, &e, &err);
            hc_simd_set_level(was);
            CHECK_OK(s, &err);
            CHECK(e.params_len == base.params_len && memcmp(e.params, base.params, e.params_len) == 0);
            CHECKF(e.payload_len == base.payload_len && memcmp(e.payload, base.payload, e.payload_len) == 0,
                   "m=%u: payload of search path %s differs from ref", m, hc_simd_name(paths[k]));
            hc_encoded_free(&e);
        }
        hc_encoded_free(&base);
    }
    free(w);
}

static hc_status open_with(const uint8_t *params, uint32_t len, const hc_encoded *e, uint64_t n) {
    hc_decoder *d = NULL;
    hc_error err = {0};
    hc_status s = hc_decoder_open(HC_CODEC_HLAT, params, len, e->payload, e->payload_len, n, HC_F32, &d, &err);
    if (s == HC_OK) {
        float buf[64];
        d->decode(d, 0, n < 64 ? n : 64, buf); /* must not crash (ASan) */
        hc_decoder_free(d);
    } else if (err.msg[0] == 0) {
        return (hc_status)-1; /* a failure must say why */
    }
    return s;
}

TEST(hlat_corrupt_params_refused) {
    const uint64_t n = 1000;
    float *w = gaussian(n, 40, 1.0);
    hc_opts o = hlat_opts(4, 17, 32);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    CHECK(open_with(e.params, e.params_len, &e, n) == HC_OK);
    uint8_t p[HC_MAX_PARAMS];
    struct { int off; uint8_t val; } bad[] = {
        {0, 2},  {0, 0},  {1, 0},   {1, 9},    {2, 3},   {2, 33}, {3, 0}, {3, 9},
        {4, 30}, {5, 16}, {6, 0x4}, {6, 0x80}, {7, 64},  {11, 0x7f}, {11, 0xff}, {17, 0x7c},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(p, e.params, e.params_len);
        p[bad[i].off] = bad[i].val;
        if (bad[i].off == 11 && bad[i].val == 0x7f) { p[8] = p[9] = p[10] = 0xff; } /* NaN */
        if (bad[i].off == 11 && bad[i].val == 0xff) { p[8] = p[9] = p[10] = 0; p[11] = 0x80; } /* -0 */
        if (bad[i].off == 17) p[16] = 0x00; /* f16 infinity */
        hc_status s = open_with(p, e.params_len, &e, n);
        CHECKF(s == HC_E_CORRUPT || s == HC_E_UNSUPPORTED, "byte %d = 0x%02x accepted (%d)", bad[i].off, bad[i].val, s);
    }
    /* wrong lengths, payload and tensor size */
    CHECK(open_with(e.params, e.params_len - 1, &e, n) == HC_E_CORRUPT);
    memcpy(p, e.params, e.params_len);
    p[e.params_len] = 0;
    CHECK(open_with(p, e.params_len + 1, &e, n) == HC_E_CORRUPT);
    CHECK(open_with(e.params, e.params_len, &e, n + 100) == HC_E_CORRUPT);
    CHECK(open_with(e.params, e.params_len, &e, 0) == HC_E_CORRUPT);
    /* an explicit generator must start with 1 and stay below 2^m */
    memcpy(p, e.params, 22);
    p[6] |= HLAT_FLAG_GEN;
    uint32_t g[4] = {1, 3, 5, 7};
    for (int i = 0; i < 4; i++) hc_put_u32(p + 22 + 4 * i, g[i]);
    CHECK(open_with(p, 38, &e, n) == HC_OK);
    hc_put_u32(p + 22, 3);
    CHECK(open_with(p, 38, &e, n) == HC_E_CORRUPT);
    hc_put_u32(p + 22, 1);
    hc_put_u32(p + 26, 1u << 17);
    CHECK(open_with(p, 38, &e, n) == HC_E_CORRUPT);
    /* random damage never crashes; whatever opens decodes inside bounds */
    hc_rng r = {41};
    for (int t = 0; t < 2000; t++) {
        memcpy(p, e.params, e.params_len);
        int flips = 1 + (int)(hc_rng_next(&r) % 3);
        for (int f = 0; f < flips; f++) p[hc_rng_next(&r) % e.params_len] ^= (uint8_t)(1u << (hc_rng_next(&r) % 8));
        hc_status s = open_with(p, e.params_len, &e, n);
        CHECKF(s == HC_OK || s == HC_E_CORRUPT || s == HC_E_UNSUPPORTED, "damaged params: status %d", s);
    }
    hc_encoded_free(&e);
    free(w);
}

TEST(hlat_bad_input_refused) {
    float w[64] = {0};
    w[3] = NAN;
    hc_opts o = hlat_opts(4, 17, 32);
    hc_encoded e;
    hc_error err = {0};
    /* non-finite weights are not coded: the tensor stays lossless */
    CHECK(hc_encode(w, 64, &o, &e, &err) == HC_OK && e.codec == HC_CODEC_RAW);
    hc_encoded_free(&e);
    w[3] = INFINITY;
    CHECK(hc_encode(w, 64, &o, &e, &err) == HC_OK && e.codec == HC_CODEC_RAW);
    hc_encoded_free(&e);
    w[3] = 1;
    o = hlat_opts(4, 17, 30); /* block not a multiple of dim */
    CHECK(hc_encode(w, 64, &o, &e, &err) == HC_E_ARG);
    o = hlat_opts(4, 40, 32); /* more than 32 index bits */
    CHECK(hc_encode(w, 64, &o, &e, &err) == HC_E_ARG);
    o = hlat_opts(9, 40, 36);
    CHECK(hc_encode(w, 64, &o, &e, &err) == HC_E_ARG);
}

TEST(hlat_ladder_rates_and_quality_increase) {
    hc_opts lad[64], base;
    hc_opts_default(&base); /* hlat's ladder, from the codec table */
    size_t cnt = hc_codec_ladder(&base, lad, 64);
    CHECK(cnt >= 16 && cnt <= 64);
    const uint64_t n = 8192;
    float *w = gaussian(n, 50, 1.0);
    double prev_bpw = 0, prev_snr = -1e9;
    for (size_t i = 0; i < cnt; i += 3) {
        double bpw = hc_hlat_bpw(&lad[i], 1u << 20);
        if (i == 0) CHECKF(bpw > 1.6 && bpw < 1.8, "lowest rung %.3f bpw", bpw); /* 6 index bits: down to 2 bpw */
        CHECKF(bpw > prev_bpw, "rung %zu: %.3f bpw not above %.3f", i, bpw, prev_bpw);
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, n, &lad[i], &e, &err), &err);
        double snr = snr_db(&e, n);
        CHECKF(snr > prev_snr + 2, "rung %zu: %.2f dB not above %.2f dB", i, snr, prev_snr);
        prev_bpw = bpw;
        prev_snr = snr;
        hc_encoded_free(&e);
    }
    CHECKF(hc_hlat_bpw(&lad[cnt - 1], 1u << 20) > 7.5, "top rung %.3f bpw", hc_hlat_bpw(&lad[cnt - 1], 1u << 20));
    free(w);
}

/* The project's requirement at 4.5 bpw on stories260K: at least 1 dB above
 * the k-quant family (22.8 dB, figure from the issue), NMSE averaged over
 * the tensors of >= 4096 weights weighted by size. */
TEST(hlat_stories260k_beats_kquant_at_4_5_bpw) {
    const char *path = hc_test_shared("models/stories260K.safetensors");
    if (!path) return;
    hc_safetensors *st;
    hc_error err = {0};
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    hc_opts o = hlat_opts(4, 17, 32);
    double wn = 0, sn = 0, bits = 0;
    for (size_t i = 0; i < hc_st_count(st); i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        if (ti->dtype != HC_F32 || ti->nelem < 4096) continue;
        float *w = malloc(sizeof(float) * ti->nelem);
        memcpy(w, hc_st_data(st, i), sizeof(float) * ti->nelem);
        hc_encoded e;
        CHECK_OK(hc_encode(w, ti->nelem, &o, &e, &err), &err);
        wn += e.mse * (double)ti->nelem / e.sum_sq * (double)ti->nelem;
        sn += (double)ti->nelem;
        bits += hc_encoded_bpw(&e, ti->nelem) * (double)ti->nelem;
        hc_encoded_free(&e);
        free(w);
    }
    hc_st_close(st);
    CHECK(sn > 200000);
    double snr = -10 * log10(wn / sn), bpw = bits / sn;
    CHECKF(bpw <= 4.5, "%.3f bpw", bpw);
    CHECKF(snr >= 23.8, "SNR %.2f dB at %.3f bpw, need 23.8", snr, bpw);
}
