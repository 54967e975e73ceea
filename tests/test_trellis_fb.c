/* test_trellis_fb.c — the trellis encoder's model-level options: the
 * water-filling slope (params flag, old files unchanged, hostile values
 * refused) and error feedback with calibration statistics (lower output
 * error than plain coding at the same size, the same bytes on any number
 * of threads, recorded statistics those of the payload). */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/codec/trellis.h"
#include <math.h>
#include <string.h>

static float *tf_weights(uint64_t n, uint64_t seed) {
    hc_rng r = {seed};
    float *w = malloc(sizeof(float) * n);
    for (uint64_t i = 0; i < n; i++) {
        /* rows of different scales, heavier tails than a Gaussian */
        double g = hc_rng_normal(&r), u = hc_rng_uniform(&r), rs = 1 + (double)((i / 64) % 7);
        w[i] = (float)(0.01 * rs * g / sqrt(0.5 + u));
    }
    return w;
}

static hc_opts tf_opts(double bpw, uint32_t L) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_TRELLIS;
    o.target_bpw = 0;
    o.bits = (uint32_t)lround(16 * bpw);
    o.effort = L;
    return o;
}

static double decoded_mse(const hc_encoded *e, const float *w, uint64_t n, int *ok) {
    hc_decoder *d = NULL;
    hc_error err;
    hc_error_clear(&err);
    *ok = hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, &d, &err) ==
          HC_OK;
    if (!*ok) return -1;
    float *back = malloc(sizeof(float) * n);
    hc_decode_all(d, back);
    double se = 0;
    for (uint64_t i = 0; i < n; i++) se += ((double)back[i] - w[i]) * ((double)back[i] - w[i]);
    free(back);
    hc_decoder_free(d);
    return se / (double)n;
}

TEST(trellis_slope_flag_and_old_layout) {
    const uint64_t rows = 48, cols = 128, n = rows * cols;
    float *w = tf_weights(n, 5);
    hc_opts o = tf_opts(3, 10);
    o.cols = cols;
    hc_error err;
    hc_error_clear(&err);
    hc_encoded def, s8, s0;
    CHECK_OK(hc_encode(w, n, &o, &def, &err), &err);
    o.tr_slope = 8 + 1; /* the default, named: the same bytes */
    CHECK_OK(hc_encode(w, n, &o, &s8, &err), &err);
    o.tr_slope = 0 + 1; /* one rate for every block */
    CHECK_OK(hc_encode(w, n, &o, &s0, &err), &err);
    /* the default writes the version-1 layout of old files: no slope flag, byte 7 zero */
    CHECK(def.codec == HC_CODEC_TRELLIS && def.params_len == TR_PARAMS_BYTES);
    CHECK((def.params[2] & TR_FLAG_SLOPE) == 0 && def.params[7] == 0);
    CHECK(s8.payload_len == def.payload_len && !memcmp(s8.payload, def.payload, def.payload_len) &&
          !memcmp(s8.params, def.params, TR_PARAMS_BYTES));
    CHECK((s0.params[2] & TR_FLAG_SLOPE) && s0.params[7] == 0);
    tr_params p0, p8;
    CHECK_OK(tr_params_read(s0.params, s0.params_len, &p0, &err), &err);
    CHECK_OK(tr_params_read(def.params, def.params_len, &p8, &err), &err);
    CHECK(p0.slope == 0 && p8.slope == TR_SLOPE_DEFAULT);
    /* slope 0: every block spends the same bits whatever its scale */
    CHECK(tr_block_bits(&p0, 0) == tr_block_bits(&p0, 63));
    CHECK(tr_block_bits(&p8, 0) < tr_block_bits(&p8, 63));
    /* both meet the rate from below and decode to what they recorded */
    CHECKF(8.0 * (double)(s0.payload_len + s0.params_len) <= 3.0 * (double)n, "%llu bytes",
           (unsigned long long)s0.payload_len);
    int ok = 0;
    double m0 = decoded_mse(&s0, w, n, &ok);
    CHECK(ok && fabs(m0 - s0.mse) <= 1e-6 * s0.mse);
    /* water-filling lowers the total MSE (what slope 8 is for) */
    CHECKF(def.mse < s0.mse, "mse %g with slope 8, %g with slope 0", def.mse, s0.mse);
    /* hostile slope fields are refused */
    uint8_t bad[TR_PARAMS_BYTES];
    memcpy(bad, s0.params, TR_PARAMS_BYTES);
    bad[7] = TR_SLOPE_MAX + 1;
    CHECK(tr_params_read(bad, TR_PARAMS_BYTES, &p0, &err) == HC_E_CORRUPT);
    bad[7] = TR_SLOPE_DEFAULT; /* the default is written without the flag: one spelling per file */
    CHECK(tr_params_read(bad, TR_PARAMS_BYTES, &p0, &err) == HC_E_CORRUPT);
    memcpy(bad, def.params, TR_PARAMS_BYTES);
    bad[7] = 3; /* a slope without the flag */
    CHECK(tr_params_read(bad, TR_PARAMS_BYTES, &p0, &err) == HC_E_CORRUPT);
    hc_encoded_free(&def);
    hc_encoded_free(&s8);
    hc_encoded_free(&s0);
    free(w);
}

static void fb_case(uint64_t rows, uint64_t cols, double bpw, uint64_t seed) {
    const uint64_t n = rows * cols;
    float *w = tf_weights(n, seed), *H = hc_test_correlated_hessian((uint32_t)cols, 400, seed + 1);
    hc_opts o = tf_opts(bpw, 10);
    o.cols = cols;
    o.no_transform = 1; /* the plain coding compared is the same codec without the transform */
    hc_error err;
    hc_error_clear(&err);
    hc_encoded plain, fb;
    double plain_out = 0;
    CHECK_OK(hc_encode(w, n, &o, &plain, &err), &err);
    CHECK_OK(hc_feedback_out_nmse(w, rows, cols, H, &plain, &plain_out, &err), &err);
    o.no_transform = 0;
    CHECK_OK(hc_encode_matrix(w, rows, cols, H, &o, &fb, &err), &err);
    CHECK(fb.codec == HC_CODEC_TRELLIS && fb.payload_len == plain.payload_len);
    printf("    %llux%llu at %.2f bpw: output NMSE %.4g with feedback, %.4g without\n", (unsigned long long)rows,
           (unsigned long long)cols, bpw, fb.out_nmse, plain_out);
    CHECKF(fb.out_nmse > 0 && fb.out_nmse < 0.8 * plain_out,
           "%llux%llu at %.2f bpw: output error %.4g with feedback, %.4g without", (unsigned long long)rows,
           (unsigned long long)cols, bpw, fb.out_nmse, plain_out);
    int ok = 0;
    double m = decoded_mse(&fb, w, n, &ok);
    CHECKF(ok && fabs(m - fb.mse) <= 1e-6 * fb.mse, "mse %g recorded, %g decoded", fb.mse, m);
    hc_encoded_free(&plain);
    hc_encoded_free(&fb);
    free(w);
    free(H);
}

TEST(trellis_feedback_lowers_output_error) {
    fb_case(64, 64, 3, 41);   /* rows of one block */
    if (hc_test_failed()) return;
    fb_case(40, 172, 2.5, 42); /* blocks span rows (172 = 2 x 64 + 44) */
    if (hc_test_failed()) return;
    fb_case(30, 20, 4, 43);   /* rows shorter than a block and than a group's look-ahead */
}

TEST(trellis_feedback_same_bytes_any_thread_count) {
    const uint64_t rows = 300, cols = 320; /* 96000 weights: two segments, one row across the boundary */
    float *w = tf_weights(rows * cols, 51), *H = hc_test_correlated_hessian((uint32_t)cols, 200, 52);
    hc_opts o = tf_opts(2, 8);
    hc_error err;
    hc_error_clear(&err);
    hc_encoded a, b;
    o.threads = 1;
    CHECK_OK(hc_encode_matrix(w, rows, cols, H, &o, &a, &err), &err);
    o.threads = 3;
    CHECK_OK(hc_encode_matrix(w, rows, cols, H, &o, &b, &err), &err);
    CHECK(a.codec == HC_CODEC_TRELLIS && b.codec == HC_CODEC_TRELLIS);
    CHECK(a.payload_len == b.payload_len && memcmp(a.payload, b.payload, a.payload_len) == 0);
    CHECK(a.params_len == b.params_len && memcmp(a.params, b.params, a.params_len) == 0);
    hc_encoded_free(&a);
    hc_encoded_free(&b);
    free(w);
    free(H);
}
