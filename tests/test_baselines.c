/* test_baselines.c — the baseline codecs q8b, q4b, qkm: exact sizes, error
 * bounds, random-access decode, matvec against decode-then-multiply, and
 * rejection of damaged payloads and parameters. */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/common/util.h"
#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static float *gaussian(uint64_t n, uint64_t seed, double sigma) {
    hc_rng r = {seed};
    float *w = malloc(n * sizeof *w);
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(sigma * hc_rng_normal(&r));
    return w;
}

static hc_opts opts_for(hc_codec_id c, uint32_t bits, uint32_t block) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = c;
    o.bits = bits;
    o.block = block;
    return o;
}

/* Decodes e fully into a new buffer (NULL on failure, with err set). */
static float *decode_all(const hc_encoded *e, uint64_t n, hc_error *err) {
    hc_decoder *d;
    if (hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, &d, err))
        return NULL;
    float *out = malloc(n * sizeof *out);
    hc_decode_all(d, out);
    hc_decoder_free(d);
    return out;
}

static double snr_db(const float *w, const float *v, uint64_t n) {
    double se = 0, ss = 0;
    for (uint64_t i = 0; i < n; i++) {
        se += ((double)w[i] - v[i]) * ((double)w[i] - v[i]);
        ss += (double)w[i] * w[i];
    }
    return -10 * log10(se / ss);
}

/* ---- sizes ------------------------------------------------------------------ */

TEST(baseline_bpw_exact) {
    const uint64_t n = 8192;
    float *w = gaussian(n, 1, 0.02);
    hc_error err = {0};
    struct { hc_codec_id c; uint32_t bits; double bpw; } cases[] = {
        {HC_CODEC_Q8B, 8, 8.5},
        {HC_CODEC_Q4B, 4, 4.5},
        /* qkm: 16-byte head + block*bits bytes per 256 weights, plus 3 bytes of params */
        {HC_CODEC_QKM, 4, 4.5 + 24.0 / 8192},
        {HC_CODEC_QKM, 5, 5.5 + 24.0 / 8192},
        {HC_CODEC_QKM, 6, 6.5 + 24.0 / 8192},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hc_opts o = opts_for(cases[c].c, cases[c].bits, 32);
        hc_encoded e;
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        CHECK(e.codec == cases[c].c);
        double bpw = hc_encoded_bpw(&e, n);
        hc_encoded_free(&e);
        CHECKF(fabs(bpw - cases[c].bpw) < 1e-12, "%s bits %u: %.6f bpw, want %.6f", hc_codec_name(cases[c].c),
               cases[c].bits, bpw, cases[c].bpw);
    }
    /* a tail block holds only its own weights: 33 weights = one block + (2 + 1) bytes */
    hc_opts o = opts_for(HC_CODEC_Q8B, 8, 32);
    hc_encoded e;
    CHECK_OK(hc_encode(w, 33, &o, &e, &err), &err);
    CHECK(e.payload_len == 34 + 3);
    hc_encoded_free(&e);
    o.codec = HC_CODEC_Q4B;
    CHECK_OK(hc_encode(w, 35, &o, &e, &err), &err);
    CHECK(e.payload_len == 18 + 2 + 2);
    hc_encoded_free(&e);
    free(w);
}

/* ---- accuracy ----------------------------------------------------------------- */

/* Weights that are exact multiples of a power-of-two step, with every block
 * holding ±127 steps (±8 steps for q4b) are reproduced exactly. */
TEST(baseline_exact_on_grid) {
    const uint64_t n = 32 * 40;
    float *w = malloc(n * sizeof *w), *v;
    hc_error err = {0};
    for (uint64_t i = 0; i < n; i++) w[i] = 0.25f * (float)((int)(i % 32) * 8 - 127); /* -127..121 */
    for (uint64_t b = 0; b < n / 32; b++) w[b * 32 + 31] = 0.25f * 127;                /* both ends */
    hc_opts o = opts_for(HC_CODEC_Q8B, 8, 32);
    hc_encoded e;
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    CHECK((v = decode_all(&e, n, &err)) != NULL);
    for (uint64_t i = 0; i < n; i++) CHECKF(v[i] == w[i], "q8b w[%llu] %g -> %g", (unsigned long long)i, w[i], v[i]);
    CHECK(e.mse == 0 && e.max_abs_err == 0);
    free(v);
    hc_encoded_free(&e);
    /* q4b: levels -8..7 times 0.5, the block's extreme at -8 */
    for (uint64_t i = 0; i < n; i++) w[i] = 0.5f * (float)((int)(i % 16) - 8);
    o.codec = HC_CODEC_Q4B;
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    CHECK((v = decode_all(&e, n, &err)) != NULL);
    for (uint64_t i = 0; i < n; i++) CHECKF(v[i] == w[i], "q4b w[%llu] %g -> %g", (unsigned long long)i, w[i], v[i]);
    free(v);
    hc_encoded_free(&e);
    free(w);
}

/* Round-to-nearest: every error is at most half a step of its block's scale,
 * and the scale is the block's absmax / 127 (q8b) or / 8 (q4b), up to fp16
 * rounding. Also checks the encoder's statistics against a decode. */
TEST(baseline_rtn_error_bound) {
    const uint64_t n = 32 * 300 + 17;
    float *w = gaussian(n, 7, 0.05), *v;
    hc_error err = {0};
    for (int c = 0; c < 2; c++) {
        hc_opts o = opts_for(c == 0 ? HC_CODEC_Q8B : HC_CODEC_Q4B, 8, 32);
        double levels = c == 0 ? 127 : 8;
        hc_encoded e;
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        CHECK((v = decode_all(&e, n, &err)) != NULL);
        double se = 0, mx = 0;
        for (uint64_t b = 0; b * 32 < n; b++) {
            uint64_t k = n - b * 32 < 32 ? n - b * 32 : 32;
            double amax = 0;
            for (uint64_t t = 0; t < k; t++) amax = fmax(amax, fabs(w[b * 32 + t]));
            double step = amax / levels * (1 + 1e-3); /* fp16 scale: 2^-11 relative */
            for (uint64_t t = 0; t < k; t++) {
                double d = fabs((double)v[b * 32 + t] - w[b * 32 + t]);
                /* q4b codes are -8..7 with the extreme on -8: a weight of the
                 * other sign beyond 7.5 steps is clamped to 7 */
                double bound = (c == 1 && fabs(w[b * 32 + t]) > 7.49 * amax / levels) ? step : 0.5 * step;
                CHECKF(d <= bound + 1e-9, "%s block %llu: error %g > half step %g", hc_codec_name(o.codec),
                       (unsigned long long)b, d, 0.5 * step);
                se += d * d;
                mx = fmax(mx, d);
            }
        }
        CHECKF(fabs(se / n - e.mse) <= 1e-9 * se / n + 1e-20, "mse %g vs %g", se / n, e.mse);
        CHECK(fabs(mx - e.max_abs_err) <= 1e-12);
        free(v);
        hc_encoded_free(&e);
    }
    free(w);
}

/* qkm: more bits, less error (about 6 dB a bit); it beats q4b at 4 bits; its
 * searched scale/min beats plain min/max quantisation with exact float
 * scales and minimums per block (computed here independently). */
TEST(qkm_quality) {
    const uint64_t n = 256 * 64;
    float *w = gaussian(n, 11, 0.03), *v;
    hc_error err = {0};
    double snr[9] = {0};
    for (uint32_t bits = 2; bits <= 8; bits++) {
        hc_opts o = opts_for(HC_CODEC_QKM, bits, 32);
        hc_encoded e;
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        CHECK((v = decode_all(&e, n, &err)) != NULL);
        snr[bits] = snr_db(w, v, n);
        CHECKF(fabs(-10 * log10(e.mse * n / e.sum_sq) - snr[bits]) < 1e-6, "stats disagree at %u bits", bits);
        free(v);
        hc_encoded_free(&e);
        /* plain min/max with float scale and minimum, the same block size */
        double se = 0, ss = 0, nmax = (1 << bits) - 1;
        for (uint64_t b = 0; b < n / 32; b++) {
            const float *x = w + b * 32;
            double lo = x[0], hi = x[0];
            for (int t = 0; t < 32; t++) lo = fmin(lo, x[t]), hi = fmax(hi, x[t]);
            double s = (hi - lo) / nmax;
            for (int t = 0; t < 32; t++) {
                double r = lo + s * floor((x[t] - lo) / s + 0.5) - x[t];
                se += r * r;
                ss += (double)x[t] * x[t];
            }
        }
        double snr_minmax = -10 * log10(se / ss);
        if (bits <= 6) /* beyond, the 6-bit scale grid dominates the comparison */
            CHECKF(snr[bits] > snr_minmax, "%u bits: qkm %.2f dB <= plain min/max %.2f dB", bits, snr[bits],
                   snr_minmax);
        if (bits > 2)
            CHECKF(snr[bits] - snr[bits - 1] > 4.0, "%u bits: %.2f dB, %u bits: %.2f dB", bits, snr[bits], bits - 1,
                   snr[bits - 1]);
    }
    hc_opts o = opts_for(HC_CODEC_Q4B, 4, 32);
    hc_encoded e;
    CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
    CHECK((v = decode_all(&e, n, &err)) != NULL);
    double snr_q4b = snr_db(w, v, n);
    CHECKF(snr[4] > snr_q4b + 0.5, "qkm 4-bit %.2f dB vs q4b %.2f dB", snr[4], snr_q4b);
    free(v);
    hc_encoded_free(&e);
    free(w);
}

/* Blocks that are constant, all positive, all negative, or single spikes. */
TEST(qkm_odd_blocks) {
    const uint64_t n = 256 * 3 + 40;
    float *w = calloc(n, sizeof *w), *v;
    hc_error err = {0};
    for (uint64_t i = 0; i < 32; i++) w[i] = 0.5f;                /* constant positive */
    for (uint64_t i = 32; i < 64; i++) w[i] = -0.25f;             /* constant negative */
    for (uint64_t i = 64; i < 96; i++) w[i] = 1.0f + 0.01f * (float)i; /* all positive, offset */
    w[100] = 3.0f;                                                 /* spike among zeros */
    for (uint64_t i = 256; i < n; i++) w[i] = (float)sin((double)i) * 0.1f;
    for (uint32_t bits = 2; bits <= 8; bits += 3) {
        hc_opts o = opts_for(HC_CODEC_QKM, bits, 32);
        hc_encoded e;
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        CHECK((v = decode_all(&e, n, &err)) != NULL);
        for (uint64_t i = 96; i < 128; i++) if (i != 100) CHECKF(fabsf(v[i]) < 1e-6f, "zero at %llu -> %g", (unsigned long long)i, v[i]);
        CHECKF(fabsf(v[100] - 3.0f) < 0.05f, "spike -> %g", v[100]);
        CHECKF(fabsf(v[0] - 0.5f) < 0.01f && fabsf(v[40] + 0.25f) < 0.01f, "constants -> %g %g", v[0], v[40]);
        for (uint64_t i = 0; i < n; i++) CHECK(isfinite(v[i]));
        free(v);
        hc_encoded_free(&e);
    }
    free(w);
}

/* ---- random access and matvec --------------------------------------------------- */

TEST(baseline_random_access_and_matvec) {
    struct { hc_codec_id c; uint32_t bits, block; } cases[] = {
        {HC_CODEC_Q8B, 8, 32}, {HC_CODEC_Q4B, 4, 32}, {HC_CODEC_QKM, 4, 32}, {HC_CODEC_QKM, 5, 32},
        {HC_CODEC_QKM, 6, 32}, {HC_CODEC_QKM, 3, 64}, {HC_CODEC_QKM, 7, 8},
    };
    struct { uint64_t rows, cols; } shapes[] = {{37, 129}, {5, 1000}, {3, 7}, {1, 33}, {64, 64}, {130, 31}};
    hc_error err = {0};
    hc_rng r = {99};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            uint64_t rows = shapes[s].rows, cols = shapes[s].cols, n = rows * cols;
            float *w = gaussian(n, 1000 + s, 0.1), *all, *part = malloc(n * sizeof(float));
            float *x = gaussian(cols, 77, 1.0), *y = malloc(rows * sizeof(float));
            hc_opts o = opts_for(cases[c].c, cases[c].bits, cases[c].block);
            hc_encoded e;
            CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
            CHECK((all = decode_all(&e, n, &err)) != NULL);
            hc_decoder *d;
            CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err),
                     &err);
            CHECK(d->matvec != NULL);
            for (int t = 0; t < 50; t++) {
                uint64_t a = hc_rng_next(&r) % n, k = 1 + hc_rng_next(&r) % (n - a);
                d->decode(d, a, k, part);
                CHECKF(memcmp(part, all + a, k * sizeof(float)) == 0, "%s: decode(%llu, %llu) differs",
                       hc_codec_name(e.codec), (unsigned long long)a, (unsigned long long)k);
            }
            uint64_t r0 = rows > 2 ? 1 : 0, r1 = rows;
            d->matvec(d, cols, r0, r1, x, y);
            for (uint64_t i = r0; i < r1; i++) {
                double ref = 0, mag = 0;
                for (uint64_t j = 0; j < cols; j++) {
                    ref += (double)all[i * cols + j] * x[j];
                    mag += fabs((double)all[i * cols + j] * x[j]);
                }
                CHECKF(fabs(y[i - r0] - ref) <= 1e-5 * mag + 1e-6, "%s %llux%llu row %llu: %g vs %g",
                       hc_codec_name(e.codec), (unsigned long long)rows, (unsigned long long)cols,
                       (unsigned long long)i, y[i - r0], ref);
            }
            hc_decoder_free(d);
            hc_encoded_free(&e);
            free(w), free(all), free(part), free(x), free(y);
        }
}

/* ---- bad input ---------------------------------------------------------------------- */

/* hc_decoder_open with a fresh error (a held error keeps its first code). */
static hc_status try_open(const hc_encoded *e, uint32_t params_len, uint64_t payload_len, uint64_t n,
                          hc_decoder **d) {
    hc_error err = {0};
    hc_status s = hc_decoder_open(e->codec, e->params, params_len, e->payload, payload_len, n, HC_F32, d, &err);
    if (s != HC_OK && (err.msg[0] == 0 || strstr(err.msg, hc_codec_name(e->codec)) == NULL)) return HC_E_ARG;
    return s;
}

TEST(baseline_open_rejects_bad) {
    const uint64_t n = 1000;
    float *w = gaussian(n, 5, 1.0);
    hc_error err = {0};
    hc_codec_id ids[] = {HC_CODEC_Q8B, HC_CODEC_Q4B, HC_CODEC_QKM};
    for (int c = 0; c < 3; c++) {
        hc_opts o = opts_for(ids[c], 5, 32);
        hc_encoded e;
        CHECK_OK(hc_encode(w, n, &o, &e, &err), &err);
        hc_decoder *d = NULL;
        /* payload one byte short / long, wrong n; each message names the codec */
        CHECK(try_open(&e, e.params_len, e.payload_len - 1, n, &d) == HC_E_CORRUPT && d == NULL);
        CHECK(try_open(&e, e.params_len, e.payload_len + 1, n, &d) == HC_E_CORRUPT);
        CHECK(try_open(&e, e.params_len, e.payload_len, n + 64, &d) == HC_E_CORRUPT);
        CHECK(try_open(&e, e.params_len, e.payload_len, 0, &d) == HC_E_CORRUPT);
        CHECK(try_open(&e, e.params_len, e.payload_len, UINT64_MAX, &d) == HC_E_CORRUPT);
        CHECK(try_open(&e, e.params_len + 1, e.payload_len, n, &d) == HC_E_CORRUPT);
        /* random bytes of the right length decode to finite-or-not values without crashing */
        hc_rng r = {3};
        for (uint64_t i = 0; i < e.payload_len; i++) e.payload[i] = (uint8_t)hc_rng_next(&r);
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err), &err);
        float *v = malloc(n * sizeof *v);
        hc_decode_all(d, v);
        hc_decoder_free(d);
        free(v);
        hc_encoded_free(&e);
    }
    /* qkm parameters out of range */
    uint8_t payload[64] = {0}, params[3];
    hc_decoder *d = NULL;
    uint32_t bad[][2] = {{1, 32}, {9, 32}, {4, 7}, {4, 0}, {4, 2048}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        params[0] = (uint8_t)bad[i][0];
        hc_put_u16(params + 1, (uint16_t)bad[i][1]);
        hc_error_clear(&err);
        CHECK(hc_decoder_open(HC_CODEC_QKM, params, 3, payload, sizeof payload, 8, HC_F32, &d, &err) == HC_E_CORRUPT);
        CHECK(strstr(err.msg, "qkm") != NULL);
    }
    /* encoder option checks */
    hc_opts o = opts_for(HC_CODEC_QKM, 9, 32);
    hc_encoded e;
    hc_error_clear(&err);
    CHECK(hc_encode(w, n, &o, &e, &err) == HC_E_ARG && e.payload == NULL);
    CHECK(strstr(err.msg, "bits") != NULL);
    o = opts_for(HC_CODEC_QKM, 4, 12);
    hc_error_clear(&err);
    CHECK(hc_encode(w, n, &o, &e, &err) == HC_E_ARG);
    CHECK(strstr(err.msg, "block") != NULL);
    free(w);
}
