/* test_calib.c — calibration statistics, error feedback (hc_encode_matrix),
 * sensitivities, and `hyperc compress --calib`. */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/codec/codec.h"
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* H = mean x x^T of N correlated inputs x = A z (d x d, A random with a
 * few strong directions), the situation feedback is built for. */
static float *heavy_weights(uint64_t n, uint64_t seed, double zero_share) {
    hc_rng r = {seed};
    float *w = malloc(sizeof(float) * n);
    for (uint64_t i = 0; i < n; i++) {
        double g = hc_rng_normal(&r), u = hc_rng_uniform(&r);
        w[i] = (float)(0.02 * g / sqrt(0.5 + u)); /* heavier tails than a Gaussian */
        if (hc_rng_uniform(&r) < zero_share) w[i] = 0;
    }
    return w;
}

static hc_opts hlat_opts(uint32_t bits) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_HLAT;
    o.bits = bits;
    return o;
}

/* ---- the factor ------------------------------------------------------------ */

TEST(feedback_factor_inverts_damped_h) {
    const uint32_t d = 24;
    float *H = hc_test_correlated_hessian(d, 300, 11), *U = malloc(sizeof(float) * d * d);
    hc_error err;
    hc_error_clear(&err);
    H[5 * d + 5] = 0; /* a dead input: row and column 5 zero */
    for (uint32_t i = 0; i < d; i++) H[5 * d + i] = H[i * d + 5] = 0;
    CHECK_OK(hc_feedback_factor(H, d, U, &err), &err);
    for (uint32_t i = 0; i < d; i++)
        for (uint32_t j = 0; j < i; j++) CHECK(U[i * d + j] == 0);
    /* U^T U (Hd) = I, with Hd = H, dead diagonal set to the mean, + 0.1 mean */
    double mean = 0;
    for (uint32_t i = 0; i < d; i++) mean += H[i * d + i];
    mean /= d;
    double worst = 0;
    for (uint32_t i = 0; i < d; i++)
        for (uint32_t j = 0; j < d; j++) {
            double v = 0;
            for (uint32_t k = 0; k < d; k++) {
                double hkj = H[k * d + j] + (k == j ? (k == 5 ? mean : 0) + 0.1 * mean : 0);
                double uu = 0; /* (U^T U)[i][k] */
                for (uint32_t q = 0; q < d; q++) uu += (double)U[q * d + i] * U[q * d + k];
                v += uu * hkj;
            }
            worst = fmax(worst, fabs(v - (i == j)));
        }
    CHECKF(worst < 1e-3, "U^T U H - I off by %g", worst);
    H[3] = NAN;
    CHECK(hc_feedback_factor(H, d, U, &err) == HC_E_ARG);
    free(H);
    free(U);
}

/* ---- error feedback ------------------------------------------------------------ */

/* Plain and feedback encodings of one matrix (a failed check marks the
 * test failed: callers test hc_test_failed()). */
static void compare_feedback(uint64_t rows, uint64_t cols, uint32_t bits, double zero_share, uint64_t seed) {
    float *w = heavy_weights(rows * cols, seed, zero_share), *H = hc_test_correlated_hessian((uint32_t)cols, 400, seed + 1);
    hc_opts o = hlat_opts(bits);
    hc_error err;
    hc_error_clear(&err);
    hc_encoded plain, fb;
    double plain_out = 0;
    CHECK_OK(hc_encode(w, rows * cols, &o, &plain, &err), &err);
    CHECK_OK(hc_feedback_out_nmse(w, rows, cols, H, &plain, &plain_out, &err), &err);
    CHECK_OK(hc_encode_matrix(w, rows, cols, H, &o, &fb, &err), &err);
    CHECK(fb.codec == HC_CODEC_HLAT && fb.payload_len == plain.payload_len);
    CHECKF(fb.out_nmse > 0 && fb.out_nmse < 0.8 * plain_out, "%llux%llu: output error %.4g with feedback, %.4g without",
           (unsigned long long)rows, (unsigned long long)cols, fb.out_nmse, plain_out);
    /* the recorded statistics are those of the payload; zeros stay exact */
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(fb.codec, fb.params, fb.params_len, fb.payload, fb.payload_len, rows * cols, HC_F32, &d,
                             &err),
             &err);
    float *back = malloc(sizeof(float) * rows * cols);
    hc_decode_all(d, back);
    double sse = 0;
    uint64_t zeros_lost = 0;
    for (uint64_t i = 0; i < rows * cols; i++) {
        sse += ((double)back[i] - w[i]) * ((double)back[i] - w[i]);
        zeros_lost += zero_share > 0 && w[i] == 0 && back[i] != 0;
    }
    CHECKF(fabs(sse / (double)(rows * cols) - fb.mse) <= 1e-6 * fb.mse + 1e-20, "mse %g recorded, %g decoded", fb.mse,
           sse / (double)(rows * cols));
    CHECKF(zeros_lost == 0, "%llu exact zeros lost", (unsigned long long)zeros_lost);
    hc_decoder_free(d);
    free(back);
    hc_encoded_free(&plain);
    hc_encoded_free(&fb);
    free(w);
    free(H);
}

TEST(feedback_lowers_output_error) {
    compare_feedback(96, 128, 13, 0, 21); /* rows of whole blocks */
    if (hc_test_failed()) return;
    compare_feedback(33, 172, 17, 0, 22); /* blocks span rows (172 = 5 * 32 + 12) */
    if (hc_test_failed()) return;
    compare_feedback(50, 20, 11, 0, 23);  /* rows shorter than a block */
    if (hc_test_failed()) return;
    compare_feedback(64, 96, 13, 0.5, 24); /* pruned: zeros stay exact */
}

TEST(feedback_same_bytes_any_thread_count) {
    const uint64_t rows = 4096, cols = 256; /* 1 M weights: the encoder uses threads */
    float *w = heavy_weights(rows * cols, 31, 0), *H = hc_test_correlated_hessian((uint32_t)cols, 300, 32);
    hc_opts o = hlat_opts(13);
    hc_error err;
    hc_error_clear(&err);
    hc_encoded a, b;
    o.threads = 1;
    CHECK_OK(hc_encode_matrix(w, rows, cols, H, &o, &a, &err), &err);
    o.threads = 3;
    CHECK_OK(hc_encode_matrix(w, rows, cols, H, &o, &b, &err), &err);
    CHECK(a.payload_len == b.payload_len && memcmp(a.payload, b.payload, a.payload_len) == 0);
    CHECK(a.params_len == b.params_len && memcmp(a.params, b.params, a.params_len) == 0);
    CHECK(a.mse == b.mse && a.out_nmse == b.out_nmse);
    hc_encoded_free(&a);
    hc_encoded_free(&b);
    free(w);
    free(H);
}

TEST(feedback_falls_back_where_it_cannot_apply) {
    float *w = heavy_weights(64 * 30, 41, 0), *H = hc_test_correlated_hessian(30, 100, 42);
    hc_opts o = hlat_opts(13);
    hc_error err;
    hc_error_clear(&err);
    hc_encoded a, b;
    /* 30 columns is not a multiple of K = 4: plain coding, same bytes */
    CHECK_OK(hc_encode_matrix(w, 64, 30, H, &o, &a, &err), &err);
    CHECK_OK(hc_encode(w, 64 * 30, &o, &b, &err), &err);
    CHECK(a.payload_len == b.payload_len && memcmp(a.payload, b.payload, a.payload_len) == 0);
    hc_encoded_free(&a);
    hc_encoded_free(&b);
    /* a codec without feedback: plain coding */
    o.codec = HC_CODEC_QKM;
    o.bits = 4;
    CHECK_OK(hc_encode_matrix(w, 64, 30, H, &o, &a, &err), &err);
    CHECK(a.codec == HC_CODEC_QKM && a.out_nmse == 0);
    hc_encoded_free(&a);
    free(w);
    free(H);
}

TEST(calib_container) {
    hc_calib *c;
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_calib_new(&c, &err), &err);
    float h4[16] = {1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4}, h2[4] = {5, 1, 1, 5};
    uint32_t dim = 0;
    CHECK_OK(hc_calib_add(c, "a", 4, h4, &err), &err);
    CHECK(hc_calib_find(c, "a", &dim) && dim == 4 && hc_calib_find(c, "a", NULL)[10] == 3);
    CHECK_OK(hc_calib_add(c, "a", 2, h2, &err), &err); /* replaced */
    CHECK(hc_calib_find(c, "a", &dim) && dim == 2 && hc_calib_find(c, "a", NULL)[1] == 1);
    CHECK(hc_calib_find(c, "b", &dim) == NULL && hc_calib_weight(c, "b") == 0);
    CHECK_OK(hc_calib_set_weight(c, "b", 2.5, &err), &err); /* a weight alone: no statistics */
    CHECK(hc_calib_find(c, "b", &dim) == NULL && hc_calib_weight(c, "b") == 2.5);
    CHECK(hc_calib_count(c) == 2);
    CHECK(hc_calib_add(c, "z", 0, h2, &err) == HC_E_ARG);
    CHECK(hc_calib_set_weight(c, "z", -1, &err) == HC_E_ARG);
    CHECK(hc_calib_set_weight(c, "z", NAN, &err) == HC_E_ARG);
    hc_calib_free(c);
}

/* ---- calibration of a real model ------------------------------------------------- */

TEST(llm_calibration_stories260k) {
    const char *path = hc_test_shared("models/stories260K.bin");
    if (!path) return;
    hc_llm_model *m;
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_llm_open(path, NULL, &m, &err), &err);
    const hc_llm_config *cfg = hc_llm_config_of(m);
    int *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK_OK(hc_llm_sample_corpus(m, 700, 256, 7, 2, &t1, &n1, &err), &err);
    CHECK_OK(hc_llm_sample_corpus(m, 700, 256, 7, 1, &t2, &n2, &err), &err);
    int same = n1 == 700 && n2 == 700 && memcmp(t1, t2, sizeof(int) * n1) == 0; /* seeded, thread-independent */
    free(t2);
    t2 = NULL;
    CHECK(same);
    CHECK(t1[0] == HC_TOK_BOS);
    for (size_t i = 0; i < n1; i++) CHECK(t1[i] >= 0 && t1[i] < cfg->vocab_size);
    hc_calib *c = NULL;
    CHECK_OK(hc_llm_calibrate(m, t1, n1, 128, 2, &c, &err), &err);
    CHECK(hc_calib_count(c) == (size_t)cfg->n_layers * 7 + 1);
    uint32_t dq, dk, d2, de;
    const float *hq = hc_calib_find(c, "layers.2.attention.wq.weight", &dq);
    const float *hk = hc_calib_find(c, "layers.2.attention.wk.weight", &dk);
    const float *h2 = hc_calib_find(c, "layers.2.feed_forward.w2.weight", &d2);
    const float *he = hc_calib_find(c, "tok_embeddings.weight", &de); /* shared classifier */
    CHECK(hq && hk && h2 && he);
    CHECK(dq == (uint32_t)cfg->dim && dk == dq && d2 == (uint32_t)cfg->hidden_dim && de == dq);
    CHECK(memcmp(hq, hk, sizeof(float) * dq * dq) == 0); /* wq and wk read the same input */
    double tr = 0;
    for (uint32_t i = 0; i < d2; i++) {
        CHECK(h2[i * d2 + i] >= 0);
        tr += h2[i * d2 + i];
        for (uint32_t j = 0; j < d2; j++) CHECK(h2[i * d2 + j] == h2[j * d2 + i] && isfinite(h2[i * d2 + j]));
    }
    CHECK(tr > 0);
    /* sensitivities: every coded matrix gets a positive weight */
    hc_opts probe = hlat_opts(17);
    CHECK_OK(hc_llm_sensitivity(m, t1, 256, 128, &probe, 2, c, &err), &err);
    CHECK(hc_calib_weight(c, "tok_embeddings.weight") > 0);
    for (int l = 0; l < cfg->n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "layers.%d.feed_forward.w2.weight", l);
        CHECKF(hc_calib_weight(c, name) > 0, "%s has no weight", name);
    }
    CHECK(hc_llm_sample_corpus(m, 1, 256, 7, 1, &t2, &n2, &err) == HC_E_ARG && t2 == NULL);
    free(t1);
    hc_calib_free(c);
    hc_llm_free(m);
}

/* ---- the command line ------------------------------------------------------------- */

static int run_cli(const char *args, const char *log) { return hc_test_run(args, log, log); }

static double slice_perplexity(const char *model, const char *tok, const char *text) {
    hc_llm_model *m;
    hc_tokenizer *t;
    hc_error err;
    hc_error_clear(&err);
    size_t len;
    uint8_t *buf = hc_test_slurp(text, &len);
    double p = -1;
    if (buf && !hc_llm_open(model, NULL, &m, &err)) {
        if (!hc_tok_open(tok, hc_llm_config_of(m)->vocab_size, &t, &err)) {
            hc_llm_ppl_result r;
            if (!hc_llm_perplexity(m, t, (const char *)buf, len, 256, 100, 2, &r, &err)) p = r.perplexity;
            hc_tok_free(t);
        }
        hc_llm_free(m);
    }
    free(buf);
    return p;
}

TEST(cli_compress_calibrated_stories260k) {
    const char *in = hc_test_shared("models/stories260K.safetensors");
    const char *tok = hc_test_shared("models/tok512.bin");
    const char *text = hc_test_shared("data/tinystories_val.txt");
    const char *r20 = hc_test_shared("models/resnet20.safetensors");
    if (!in || !tok || !text || !r20) return;
    char a[512], b[512], log[512], args[2048];
    snprintf(a, sizeof a, "%s/plain.hyc", hc_test_tmpdir());
    snprintf(b, sizeof b, "%s/calib.hyc", hc_test_tmpdir());
    snprintf(log, sizeof log, "%s/calib.log", hc_test_tmpdir());
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q --bpw 4.5", in, a);
    CHECK(run_cli(args, log) == 0);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f --bpw 4.5 --calib self --calib-tokens 1024", in, b);
    CHECK(run_cli(args, log) == 0);
    FILE *f = fopen(log, "rb");
    char line[4096] = {0};
    CHECK(f && fread(line, 1, sizeof line - 1, f) > 0);
    fclose(f);
    CHECKF(strstr(line, "calibration: 1024 tokens") != NULL, "log: %.300s", line);
    /* same budget, lower perplexity on the first 100 windows of the text */
    double pa = slice_perplexity(a, tok, text), pb = slice_perplexity(b, tok, text);
    CHECKF(pa > 0 && pb > 0 && pb < pa, "perplexity %.4f with calibration, %.4f without", pb, pa);
    /* usage errors: text without a tokenizer; a model that is not a llama */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f --calib '%s'", in, b, text);
    CHECK(run_cli(args, log) == 2);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f --calib self", r20, b);
    CHECK(run_cli(args, log) == 1);
}
