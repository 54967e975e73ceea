/* test_trellis.c — what is specific to the trellis codec (the contract of
 * every codec is in test_codec_contract.c): the search on i.i.d. N(0,1)
 * against the rate-distortion bound, identical payloads from the scalar and
 * AVX2 searches, fractional rates met by water-filling, the transform and
 * the fused row product, and the --effort option. */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/codec/options.h"
#include "../src/codec/trellis.h"
#include "../src/common/cpu.h"
#include <math.h>
#include <string.h>

static void gaussian(float *w, uint64_t n, uint64_t seed, double sd) {
    hc_rng r = {seed};
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(sd * hc_rng_normal(&r));
}

/* MSE of the Viterbi search alone on N(0,1) at k bits per step. */
static double search_mse(uint32_t L, uint32_t k, uint64_t n, int isa, uint32_t *st) {
    float *u = malloc(sizeof(float) * n), *wg = malloc(sizeof(float) * n);
    uint8_t *kb = malloc(n);
    gaussian(u, n, 42, 1.0);
    for (uint64_t i = 0; i < n; i++) {
        wg[i] = 1;
        kb[i] = (uint8_t)k;
    }
    tr_viterbi v;
    double mse = -1;
    if (tr_viterbi_init(&v, L, isa)) {
        tr_viterbi_segment(&v, u, wg, kb, n, st);
        double se = 0;
        int valid = 1;
        for (uint64_t i = 0; i < n; i++) {
            double d = u[i] - tr_val(st[i]);
            se += d * d;
            if (i && (((st[i - 1] << k) & ((1u << L) - 1)) != (st[i] & ~((1u << k) - 1)))) valid = 0;
        }
        mse = valid ? se / (double)n : -2;
    }
    tr_viterbi_free(&v);
    free(u);
    free(wg);
    free(kb);
    return mse;
}

TEST(trellis_gaussian_mse_near_bound) {
    enum { N12 = 16384, N16 = 6000 };
    uint32_t *st = malloc(sizeof(uint32_t) * N12), *st2 = malloc(sizeof(uint32_t) * N12);
    /* D(R) at 2 bits = 0.0625; QTIP's 1MAD at L = 16: about 0.069 */
    double m12 = search_mse(12, 2, N12, (hc_simd_level() >= HC_SIMD_AVX2), st);
    double m16 = search_mse(16, 2, N16, (hc_simd_level() >= HC_SIMD_AVX2), st2);
    printf("    N(0,1), k = 2: L = 12 MSE %.5f, L = 16 MSE %.5f (D(R) = 0.0625)\n", m12, m16);
    CHECKF(m12 > 0 && m12 <= 0.075, "L = 12: MSE %.5f (or an invalid path)", m12);
    CHECKF(m16 > 0 && m16 <= 0.070, "L = 16: MSE %.5f (or an invalid path)", m16);
    /* the scalar search finds the same path */
    double r12 = search_mse(12, 2, N12, 0, st2);
    CHECK(r12 == m12 && !memcmp(st, st2, sizeof(uint32_t) * N12));
    free(st);
    free(st2);
}

static hc_status enc(const float *w, uint64_t n, uint64_t cols, double bpw, uint32_t L, hc_encoded *e, hc_error *err) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_TRELLIS;
    o.target_bpw = bpw;
    o.effort = L;
    o.cols = cols;
    return hc_encode(w, n, &o, e, err);
}

TEST(trellis_scalar_and_avx2_same_payload) {
    if (!(hc_simd_level() >= HC_SIMD_AVX2)) {
        hc_test_skip("no AVX2 on this CPU");
        return;
    }
    enum { R = 32, C = 256, N = R * C };
    float *w = malloc(sizeof(float) * N);
    gaussian(w, N, 7, 0.03);
    for (int i = 0; i < N; i += 97) w[i] *= 6; /* some outliers */
    hc_error err = {0};
    static const double rates[] = {2.0, 3.25, 4.5, 7.0};
    for (int L = 12; L <= 14; L += 2)
        for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++) {
            hc_encoded a, b;
            setenv("HYPERC_TRELLIS_KERNEL", "ref", 1);
            hc_status s = enc(w, N, C, rates[ri], (uint32_t)L, &a, &err);
            unsetenv("HYPERC_TRELLIS_KERNEL");
            CHECK_OK(s, &err);
            s = enc(w, N, C, rates[ri], (uint32_t)L, &b, &err);
            if (s) hc_encoded_free(&a);
            CHECK_OK(s, &err);
            int same = a.codec == HC_CODEC_TRELLIS && a.payload_len == b.payload_len && a.params_len == b.params_len &&
                       !memcmp(a.payload, b.payload, a.payload_len) && !memcmp(a.params, b.params, a.params_len);
            hc_encoded_free(&a);
            hc_encoded_free(&b);
            CHECKF(same, "L = %d, %.2f bpw: scalar and AVX2 searches wrote different payloads", L, rates[ri]);
        }
    free(w);
}

TEST(trellis_fractional_rates_met) {
    enum { R = 48, C = 128, N = R * C };
    float *w = malloc(sizeof(float) * N);
    gaussian(w, N, 9, 0.05);
    for (int i = 0; i < N; i++) w[i] *= (float)(0.3 + (i / 64 % 7) * 0.3); /* blocks of different scale */
    hc_error err = {0};
    static const double rates[] = {2.0, 2.25, 2.5, 3.0, 3.25, 3.44, 4.0, 4.5};
    double prev = -1;
    for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++) {
        hc_encoded e;
        CHECK_OK(enc(w, N, C, rates[ri], 12, &e, &err), &err);
        double bpw = hc_encoded_bpw(&e, N), snr = -10 * log10(e.mse * N / e.sum_sq);
        hc_encoded_free(&e);
        /* met from below, within one bit per block of 64 */
        CHECKF(bpw <= rates[ri] + 1e-9 && bpw >= rates[ri] - 0.03, "target %.2f bpw: got %.4f", rates[ri], bpw);
        CHECKF(snr > prev, "target %.2f bpw: SNR %.2f dB not above %.2f dB at the lower rate", rates[ri], snr, prev);
        /* Gaussian D(R) at the stream's rate (scales: 6/64 bpw): within 2 dB at L = 12 */
        double bound = 6.02 * (rates[ri] - 6.0 / 64);
        CHECKF(snr > bound - 2.0, "target %.2f bpw: SNR %.2f dB, D(R) %.2f dB", rates[ri], snr, bound);
        prev = snr;
    }
    free(w);
}

TEST(trellis_transform_and_fused_matvec) {
    enum { R = 24, C = 192, N = R * C }; /* 192 = 64 x 3: Hadamard blocks of 64 */
    float *w = malloc(sizeof(float) * N), *dec = malloc(sizeof(float) * N), *x = malloc(sizeof(float) * C);
    float y[R], yr[R];
    gaussian(w, N, 5, 0.02);
    gaussian(x, C, 6, 1.0);
    hc_error err = {0};
    hc_encoded e;
    CHECK_OK(enc(w, N, C, 3.0, 12, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_TRELLIS && (e.params[2] & TR_FLAG_RHT) && e.params[3] == 6);
    for (int isa = 0; isa < 2; isa++) {
        if (isa) unsetenv("HYPERC_TRELLIS_KERNEL");
        else setenv("HYPERC_TRELLIS_KERNEL", "ref", 1);
        hc_decoder *d;
        hc_status s = hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err);
        unsetenv("HYPERC_TRELLIS_KERNEL");
        CHECK_OK(s, &err);
        hc_decode_all(d, dec);
        for (int r = 0; r < R; r++) {
            double a = 0, mag = 0;
            for (int c = 0; c < C; c++) {
                a += (double)dec[r * C + c] * x[c];
                mag += fabs((double)dec[r * C + c] * x[c]);
            }
            yr[r] = (float)a;
            y[r] = (float)mag;
        }
        float ym[R];
        d->matvec(d, C, 0, R, x, ym);
        for (int r = 0; r < R; r++)
            CHECKF(fabs(ym[r] - yr[r]) <= 2e-5 * y[r] + 1e-7, "%s: row %d fused %.7g, decode-then-multiply %.7g",
                   isa ? "avx2" : "ref", r, ym[r], yr[r]);
        /* a row range inside */
        d->matvec(d, C, 5, 9, x, ym);
        for (int r = 5; r < 9; r++) CHECK(fabs(ym[r - 5] - yr[r]) <= 2e-5 * y[r] + 1e-7);
        hc_decoder_free(d);
    }
    hc_encoded_free(&e);
    /* the transform helps a heavy-tailed tensor; skipped with >= 1% zeros */
    for (int i = 0; i < N; i += 50) w[i] = 0;
    CHECK_OK(enc(w, N, C, 3.0, 12, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_TRELLIS && !(e.params[2] & TR_FLAG_RHT) && e.params[3] == 0);
    hc_encoded_free(&e);
    free(w);
    free(dec);
    free(x);
}

TEST(trellis_effort_option) {
    static const struct {
        const char *v;
        uint32_t L;
    } ok[] = {{"max", TR_L_MAX_EFFORT}, {"12", 12}, {"14", 14}, {"16", 16}, {"default", TR_L_DEFAULT}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        hc_optset s;
        hc_opts o;
        hc_error err = {0};
        hc_optset_init(&s, 0);
        CHECK_OK(hc_optset_add(&s, "--codec", "trellis", &err), &err);
        CHECK_OK(hc_optset_add(&s, "--effort", ok[i].v, &err), &err);
        CHECK_OK(hc_optset_finish(&s, &o, &err), &err);
        CHECKF(o.codec == HC_CODEC_TRELLIS && o.effort == ok[i].L, "--effort %s: L = %u", ok[i].v, o.effort);
    }
    static const char *const bad[] = {"7", "21", "fast", "12x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hc_optset s;
        hc_opts o;
        hc_error err = {0};
        hc_optset_init(&s, 0);
        CHECK_OK(hc_optset_add(&s, "--codec", "trellis", &err), &err);
        CHECK_OK(hc_optset_add(&s, "--effort", bad[i], &err), &err);
        CHECKF(hc_optset_finish(&s, &o, &err) == HC_E_ARG && strstr(err.msg, "effort"), "--effort '%s' accepted",
               bad[i]);
    }
    /* --effort is trellis's own; --bpw applies to it */
    {
        hc_optset s;
        hc_opts o;
        hc_error err = {0};
        hc_optset_init(&s, 0);
        CHECK_OK(hc_optset_add(&s, "--effort", "14", &err), &err);
        CHECK(hc_optset_finish(&s, &o, &err) == HC_E_ARG && strstr(err.msg, "does not apply"));
        hc_optset_init(&s, 0);
        CHECK_OK(hc_optset_add(&s, "--codec", "trellis", &err), &err);
        CHECK_OK(hc_optset_add(&s, "--bpw", "3.25", &err), &err);
        CHECK_OK(hc_optset_finish(&s, &o, &err), &err);
        CHECK(o.target_bpw == 3.25);
    }
}
