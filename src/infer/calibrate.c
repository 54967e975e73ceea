/* calibrate.c — input statistics of every matrix of a llama model, for
 * compression with error feedback (hc_encode_matrix), and a calibration
 * corpus sampled from the model itself when no text is at hand.
 *
 * The model runs over the calibration tokens in windows; an observer on
 * the forward pass (transformer.c) sees the input of every product and
 * adds x x^T into a per-site sum (in double). Matrices sharing an input
 * (wq, wk, wv; w1, w3) share the statistics. */
#include "infer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_BATCH 64 /* tokens per forward step: the most a batch of inputs holds */

typedef struct site_acc {
    int width;
    double *sum;     /* (width, width), upper triangle filled */
    uint64_t count;  /* vectors added                         */
} site_acc;

typedef struct calib_run {
    site_acc *acc;   /* (n_layers * 4 + 1): per layer the four sites, then the classifier */
    int n_layers;
    hc_kernels k;    /* the dense tile product (vectorised)                */
    float *xt;       /* (widest, max_batch) one batch of inputs, transposed */
    float *prod;     /* (widest, widest) X^T X of one batch                */
} calib_run;

/* sum += X^T X for the batch x (n, width): the batch is transposed so the
 * tile kernel of the forward pass computes every dot product over tokens
 * in single precision (n <= 64 terms), added into the double sums. */
static void observe(void *user, int layer, llm_site site, const float *x, int n, int width) {
    calib_run *r = user;
    site_acc *a = site == LLM_SITE_CLS ? &r->acc[r->n_layers * 4] : &r->acc[layer * 4 + (int)site];
    for (int t = 0; t < n; t++)
        for (int i = 0; i < width; i++) r->xt[(size_t)i * n + t] = x[(size_t)t * width + i];
    r->k.tile(r->xt, (size_t)n, width, n, r->xt, (size_t)n, width, r->prod, (size_t)width);
    for (int i = 0; i < width; i++) {
        double *row = a->sum + (size_t)i * width;
        const float *p = r->prod + (size_t)i * width;
        for (int j = i; j < width; j++) row[j] += p[j];
    }
    a->count += (uint64_t)n;
}

/* Stores site a's mean as tensor `name`'s statistics. */
static hc_status emit(hc_calib *c, const site_acc *a, const char *name, float *H, hc_error *err) {
    const int d = a->width;
    const double inv = a->count ? 1.0 / (double)a->count : 0;
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) H[(size_t)i * d + j] = H[(size_t)j * d + i] = (float)(a->sum[(size_t)i * d + j] * inv);
    return hc_calib_add(c, name, (uint32_t)d, H, err);
}

hc_status hc_llm_calibrate(const hc_llm_model *m, const int *tokens, size_t n_tokens, int ctx, int threads,
                           hc_calib **out, hc_error *err) {
    *out = NULL;
    const hc_llm_config *cfg = &m->cfg;
    if (ctx <= 0 || ctx > cfg->seq_len) ctx = cfg->seq_len;
    if (n_tokens < 2) return hc_fail(err, HC_E_ARG, "calibration needs at least 2 tokens, got %zu", n_tokens);
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg->vocab_size)
            return hc_fail(err, HC_E_ARG, "calibration token %zu is %d, outside the vocabulary of %d", i, tokens[i],
                           cfg->vocab_size);
    const int nsites = cfg->n_layers * 4 + 1, widest = cfg->hidden_dim > cfg->dim ? cfg->hidden_dim : cfg->dim;
    if ((uint64_t)widest > HC_CALIB_DIM_MAX)
        return hc_fail(err, HC_E_UNSUPPORTED, "calibration: width %d exceeds %u", widest, HC_CALIB_DIM_MAX);
    calib_run run = {calloc((size_t)nsites, sizeof(site_acc)), cfg->n_layers, {0}, NULL, NULL};
    hc_kernels_best(&run.k);
    hc_llm_state *st = NULL;
    float *logits = NULL, *H = NULL;
    hc_calib *c = NULL;
    hc_status s = run.acc ? HC_OK : hc_fail(err, HC_E_NOMEM, "calibration: out of memory");
    for (int i = 0; i < nsites && !s; i++) {
        site_acc *a = &run.acc[i];
        a->width = (i % 4 == 3 && i < nsites - 1) ? cfg->hidden_dim : cfg->dim;
        a->sum = calloc((size_t)a->width * (size_t)a->width, sizeof(double));
        if (!a->sum)
            s = hc_fail(err, HC_E_NOMEM, "calibration: out of memory for %d x %d statistics", a->width, a->width);
    }
    if (!s) s = hc_llm_state_new(m, ctx, CALIB_BATCH, threads, &st, err);
    if (!s) {
        logits = malloc(sizeof(float) * (size_t)ctx * (size_t)cfg->vocab_size);
        H = malloc(sizeof(float) * (size_t)widest * (size_t)widest);
        run.xt = malloc(sizeof(float) * (size_t)widest * CALIB_BATCH);
        run.prod = malloc(sizeof(float) * (size_t)widest * (size_t)widest);
        if (!logits || !H || !run.xt || !run.prod) s = hc_fail(err, HC_E_NOMEM, "calibration: out of memory");
    }
    if (!s) {
        hc_llm_state_observe(st, observe, &run);
        /* non-overlapping windows; a last window of at least 2 tokens counts too */
        for (size_t at = 0; at + 1 < n_tokens && !s; at += (size_t)ctx) {
            int len = n_tokens - at < (size_t)ctx ? (int)(n_tokens - at) : ctx;
            s = hc_llm_forward(st, tokens + at, len, 0, logits, 1, err);
        }
    }
    if (!s) s = hc_calib_new(&c, err);
    char name[HC_MAX_NAME];
    for (int l = 0; l < cfg->n_layers && !s; l++) {
        static const char *const users[4][2] = {{"wq", "wk"}, {"wo", NULL}, {"w1", "w3"}, {"w2", NULL}};
        for (int site = 0; site < 4 && !s; site++) {
            const site_acc *a = &run.acc[l * 4 + site];
            for (int u = 0; u < 2 && !s && users[site][u]; u++)
                s = emit(c, a, hc_llm_weight_name(m, l, users[site][u], name, sizeof name), H, err);
            if (!s && site == 0) s = emit(c, a, hc_llm_weight_name(m, l, "wv", name, sizeof name), H, err);
        }
    }
    if (!s) {
        const char *which = cfg->shared_classifier ? "embed" : "classifier";
        s = emit(c, &run.acc[nsites - 1], hc_llm_weight_name(m, -1, which, name, sizeof name), H, err);
    }
    for (int i = 0; run.acc && i < nsites; i++) free(run.acc[i].sum);
    free(run.acc);
    free(run.xt);
    free(run.prod);
    free(logits);
    free(H);
    hc_llm_state_free(st);
    if (s) {
        hc_calib_free(c);
        return s;
    }
    *out = c;
    return HC_OK;
}

/* ---- a corpus sampled from the model -------------------------------------------- */
typedef struct corpus {
    int *tok;
    size_t n, cap;
    int oom;
} corpus;

static int push_token(corpus *c, int token) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4096;
        int *nt = realloc(c->tok, cap * sizeof *nt);
        if (!nt) return 0;
        c->tok = nt;
        c->cap = cap;
    }
    c->tok[c->n++] = token;
    return 1;
}

static int on_token(void *user, int prev, int token) {
    (void)prev;
    corpus *c = user;
    if (!push_token(c, token)) c->oom = 1; /* stops generation */
    return c->oom;
}

hc_status hc_llm_sample_corpus(const hc_llm_model *m, size_t n_tokens, int len, uint64_t seed, int threads,
                               int **tokens, size_t *n_out, hc_error *err) {
    *tokens = NULL;
    *n_out = 0;
    const hc_llm_config *cfg = &m->cfg;
    if (n_tokens < 2 || len < 2) return hc_fail(err, HC_E_ARG, "corpus of %zu tokens in sequences of %d", n_tokens, len);
    if (len > cfg->seq_len) len = cfg->seq_len;
    corpus c = {NULL, 0, 0, 0};
    hc_llm_state *st = NULL;
    hc_status s = hc_llm_state_new(m, len, 0, threads, &st, err);
    for (uint64_t q = 0; c.n < n_tokens && !s; q++) {
        const int bos = HC_TOK_BOS;
        hc_llm_sampling sp = {1.0f, 0.0f, seed + q * 0x9E3779B97F4A7C15ull};
        /* BOS, then (up to) total - 1 sampled tokens: generate samples one
         * token per position it runs */
        size_t left = n_tokens - c.n;
        int total = left < (size_t)len ? (int)left : len;
        if (!push_token(&c, bos)) c.oom = 1;
        if (!c.oom && total > 1) s = hc_llm_generate(st, &bos, 1, total - 1, &sp, on_token, &c, NULL, err);
        if (!s && c.oom) s = hc_fail(err, HC_E_NOMEM, "calibration corpus: out of memory");
    }
    hc_llm_state_free(st);
    if (s) {
        free(c.tok);
        return s;
    }
    *tokens = c.tok;
    *n_out = c.n;
    return HC_OK;
}
