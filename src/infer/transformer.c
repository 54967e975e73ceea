/* transformer.c — the llama forward pass over a batch of tokens.
 *
 * Reads like llama2.c's run.c, with every activation a (n, width) matrix
 * for the n tokens of the batch: embedding, then per layer RMSNorm, q/k/v
 * projections, RoPE, causal grouped-query attention against the KV cache,
 * output projection and residual, RMSNorm, SwiGLU feed-forward and
 * residual; then the final RMSNorm and the classifier.
 *
 * Weights are hc_decoders. For one token (generation) the products use the
 * codec's own matvec, decoding on the fly. For several tokens a few rows of
 * a matrix are decoded into a small per-thread tile and multiplied by all
 * tokens at once, so decoding is paid once per batch, not once per token.
 * Every output element is computed by one thread with the same arithmetic
 * whatever the thread count, so results do not depend on it. */
#include "infer.h"
#include <math.h>
#include <stdlib.h>

/* Tokens whose attention scores are computed together (per head). */
#define ATT_BLOCK 16
/* Below this many tokens, decoding tiles costs more than it saves. */
#define TILE_MIN_TOKENS 4

/* ---- state ------------------------------------------------------------------ */
struct hc_llm_state {
    const hc_llm_model *m;
    int ctx;              /* positions the KV cache holds                     */
    int max_batch;        /* tokens per step                                  */
    hc_pool *pool;        /* NULL: single-threaded                            */
    int threads;
    hc_kernels k;         /* the fastest kernels this CPU runs                */
    int matvec_tokens;    /* batches below this many tokens: per-token fused products */
    float *x;             /* (max_batch, dim) residual stream                 */
    float *xb;            /* (max_batch, dim) normed input, attention output  */
    float *xb2;           /* (max_batch, dim) projection before the residual  */
    float *q;             /* (max_batch, dim) queries                         */
    float *hb;            /* (max_batch, hidden_dim) gate, then SwiGLU output */
    float *hb2;           /* (max_batch, hidden_dim) up projection            */
    float *rope_cos;      /* (max_batch, head_size / 2) for this batch's positions */
    float *rope_sin;      /* (max_batch, head_size / 2)                       */
    float *att;           /* (threads, ATT_BLOCK, ctx) attention weights      */
    float *tiles;         /* (threads, tile_floats) decoded weight rows       */
    size_t tile_floats;
    float *key_cache;     /* (n_layers, ctx, kv_dim)                          */
    float *value_cache;   /* (n_layers, ctx, kv_dim)                          */
    llm_observe_fn observe; /* NULL, or sees the inputs of every product (calibration) */
    void *observe_user;
    llm_trace_fn trace;   /* NULL, or sees each layer's block outputs and hidden state (layers.c) */
    void *trace_user;
};

void hc_llm_state_trace(hc_llm_state *s, llm_trace_fn fn, void *user) {
    s->trace = fn;
    s->trace_user = user;
}

#define TRACE(layer, kind, x, n) \
    do { \
        if (s->trace) s->trace(s->trace_user, (layer), (kind), (x), (n), dim); \
    } while (0)

void hc_llm_state_observe(hc_llm_state *s, llm_observe_fn fn, void *user) {
    s->observe = fn;
    s->observe_user = user;
}

#define OBSERVE(layer, site, x, n, width) \
    do { \
        if (s->observe) s->observe(s->observe_user, (layer), (site), (x), (n), (width)); \
    } while (0)

static float *alloc_floats(uint64_t a, uint64_t b, uint64_t c, int *fail) {
    uint64_t n, bytes;
    if (!hc_mul_ok(a, b, &n) || !hc_mul_ok(n, c, &n) || !hc_mul_ok(n, 4, &bytes) || bytes != (size_t)bytes) {
        *fail = 1;
        return NULL;
    }
    float *p = calloc(n ? (size_t)n : 1, sizeof *p);
    if (!p) *fail = 1;
    return p;
}

hc_status hc_llm_state_new(const hc_llm_model *m, int ctx, int max_batch, int threads, hc_llm_state **out,
                           hc_error *err) {
    *out = NULL;
    const hc_llm_config *c = &m->cfg;
    if (ctx <= 0) ctx = c->seq_len;
    if (ctx > c->seq_len)
        return hc_fail(err, HC_E_ARG, "context of %d tokens exceeds the model's %d", ctx, c->seq_len);
    if (max_batch <= 0) max_batch = 64;
    if (max_batch > ctx) max_batch = ctx;
    if (threads <= 0) threads = hc_cpu_count();
    hc_llm_state *s = calloc(1, sizeof *s);
    if (!s) return hc_fail(err, HC_E_NOMEM, "inference state: out of memory");
    s->m = m;
    s->ctx = ctx;
    s->max_batch = max_batch;
    hc_kernels_best(&s->k);
    /* HYPERC_LLM_MATVEC_TOKENS=N: batches of fewer than N tokens use the
     * codec's fused product per token (default TILE_MIN_TOKENS); a large N
     * makes perplexity measure the generation kernels */
    s->matvec_tokens = TILE_MIN_TOKENS;
    const char *mv = getenv("HYPERC_LLM_MATVEC_TOKENS");
    if (mv && atoi(mv) > 0) s->matvec_tokens = atoi(mv);
    if (threads > 1) {
        hc_status st = hc_pool_new(threads, &s->pool, err);
        if (st) {
            free(s);
            return st;
        }
    }
    s->threads = hc_pool_threads(s->pool);
    uint64_t widest = (uint64_t)(c->hidden_dim > c->dim ? c->hidden_dim : c->dim);
    s->tile_floats = 4 * widest > 16384 ? 4 * widest : 16384;
    int fail = 0;
    const uint64_t B = (uint64_t)max_batch, T = (uint64_t)s->threads;
    s->x = alloc_floats(B, (uint64_t)c->dim, 1, &fail);
    s->xb = alloc_floats(B, (uint64_t)c->dim, 1, &fail);
    s->xb2 = alloc_floats(B, (uint64_t)c->dim, 1, &fail);
    s->q = alloc_floats(B, (uint64_t)c->dim, 1, &fail);
    s->hb = alloc_floats(B, (uint64_t)c->hidden_dim, 1, &fail);
    s->hb2 = alloc_floats(B, (uint64_t)c->hidden_dim, 1, &fail);
    s->rope_cos = alloc_floats(B, (uint64_t)m->head_size / 2, 1, &fail);
    s->rope_sin = alloc_floats(B, (uint64_t)m->head_size / 2, 1, &fail);
    s->att = alloc_floats(T, ATT_BLOCK, (uint64_t)ctx, &fail);
    s->tiles = alloc_floats(T, s->tile_floats, 1, &fail);
    s->key_cache = alloc_floats((uint64_t)c->n_layers, (uint64_t)ctx, (uint64_t)m->kv_dim, &fail);
    s->value_cache = alloc_floats((uint64_t)c->n_layers, (uint64_t)ctx, (uint64_t)m->kv_dim, &fail);
    if (fail) {
        double mib = 2.0 * c->n_layers * (double)ctx * m->kv_dim * 4 / 1048576.0;
        hc_llm_state_free(s);
        return hc_fail(err, HC_E_NOMEM, "inference state: out of memory (KV cache of %d positions is %.0f MiB)",
                       ctx, mib);
    }
    *out = s;
    return HC_OK;
}

void hc_llm_state_free(hc_llm_state *s) {
    if (!s) return;
    hc_pool_free(s->pool);
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->hb);
    free(s->hb2);
    free(s->rope_cos);
    free(s->rope_sin);
    free(s->att);
    free(s->tiles);
    free(s->key_cache);
    free(s->value_cache);
    free(s);
}

int hc_llm_state_ctx(const hc_llm_state *s) { return s->ctx; }
const hc_llm_model *hc_llm_state_model(const hc_llm_state *s) { return s->m; }

/* ---- building blocks --------------------------------------------------------- */
static void rmsnorm(float *o, const float *x, const float *w, int size, float eps) {
    float ss = 0;
    for (int j = 0; j < size; j++) ss += x[j] * x[j];
    ss /= (float)size;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < size; j++) o[j] = w[j] * (ss * x[j]);
}

/* Rotates the pairs of each head of v (n_heads heads of head_size) by the
 * angles of one position. Meta weights pair (2j, 2j+1); Hugging Face
 * weights, whose q/k rows were permuted at conversion, pair (j, j + hs/2). */
static void rope(float *v, int n_heads, int head_size, const float *cosv, const float *sinv,
                 hc_llm_naming naming) {
    const int half = head_size / 2;
    const int inter = naming == HC_LLM_NAMES_META || naming == HC_LLM_NAMES_GGUF; /* pairs (2j, 2j+1) */
    for (int h = 0; h < n_heads; h++) {
        float *vh = v + (size_t)h * head_size;
        for (int j = 0; j < half; j++) {
            int a = inter ? 2 * j : j;
            int b = inter ? 2 * j + 1 : j + half;
            float v0 = vh[a], v1 = vh[b];
            vh[a] = v0 * cosv[j] - v1 * sinv[j];
            vh[b] = v0 * sinv[j] + v1 * cosv[j];
        }
    }
}

/* ---- matrix products ----------------------------------------------------------- */
typedef struct matmul_job {
    hc_llm_state *s;
    const hc_decoder *w; /* (rows, cols) */
    int rows, cols;
    const float *x;      /* (n, cols) */
    int n;
    float *y;            /* (n, rows) */
    int rows_per_task;
} matmul_job;


static void matmul_task(void *ctx, uint64_t task, int tid) {
    const matmul_job *j = ctx;
    int r0 = (int)task * j->rows_per_task;
    int r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    if (j->n < j->s->matvec_tokens) {
        for (int t = 0; t < j->n; t++)
            hc_matvec(j->w, (uint64_t)j->cols, (uint64_t)r0, (uint64_t)r1, j->x + (size_t)t * j->cols,
                      j->y + (size_t)t * j->rows + r0);
        return;
    }
    float *tile = j->s->tiles + (size_t)tid * j->s->tile_floats;
    int tile_rows = (int)(j->s->tile_floats / (size_t)j->cols);
    for (int r = r0; r < r1; r += tile_rows) {
        int k = r1 - r < tile_rows ? r1 - r : tile_rows;
        j->w->decode(j->w, (uint64_t)r * (uint64_t)j->cols, (uint64_t)k * (uint64_t)j->cols, tile);
        j->s->k.tile(tile, (size_t)j->cols, k, j->cols, j->x, (size_t)j->cols, j->n, j->y + r, (size_t)j->rows);
    }
}

/* y (n, rows) = x (n, cols) times the transpose of w (rows, cols). */
static void matmul(hc_llm_state *s, const hc_decoder *w, int rows, int cols, const float *x, int n, float *y) {
    matmul_job j = {s, w, rows, cols, x, n, y, rows};
    uint64_t work = (uint64_t)rows * (uint64_t)cols * (uint64_t)n;
    hc_pool *pool = NULL;
    if (s->threads > 1 && work >= 65536) {
        /* several tasks per thread even out uneven progress */
        int per = (rows + 4 * s->threads - 1) / (4 * s->threads);
        per = (per + 3) & ~3;
        j.rows_per_task = per < rows ? per : rows;
        pool = s->pool;
    }
    hc_pool_run(pool, (uint64_t)((rows + j.rows_per_task - 1) / j.rows_per_task), matmul_task, &j);
}

/* ---- attention ------------------------------------------------------------------ */
typedef struct attn_job {
    hc_llm_state *s;
    int layer, n, pos;
} attn_job;

/* One head for a block of up to ATT_BLOCK tokens: scores against every
 * cached position up to the block's last (one product for the block), then
 * per token its causal prefix: softmax, weighted sum of the values. */
static void attn_task(void *ctx, uint64_t task, int tid) {
    const attn_job *j = ctx;
    hc_llm_state *s = j->s;
    const hc_llm_model *m = s->m;
    const int dim = m->cfg.dim, hs = m->head_size, kv_dim = m->kv_dim;
    const int h = (int)(task % (uint64_t)m->cfg.n_heads);
    const int t0 = (int)(task / (uint64_t)m->cfg.n_heads) * ATT_BLOCK;
    const int t1 = t0 + ATT_BLOCK < j->n ? t0 + ATT_BLOCK : j->n;
    const int kvh = h / (m->cfg.n_heads / m->cfg.n_kv_heads);
    const size_t layer_off = (size_t)j->layer * (size_t)s->ctx * (size_t)kv_dim + (size_t)kvh * (size_t)hs;
    float *att = s->att + (size_t)tid * ATT_BLOCK * (size_t)s->ctx; /* (ATT_BLOCK, ctx) */
    s->k.tile(s->key_cache + layer_off, (size_t)kv_dim, j->pos + t1, hs, s->q + (size_t)t0 * dim + (size_t)h * hs,
              (size_t)dim, t1 - t0, att, (size_t)s->ctx);
    const float scale = sqrtf((float)hs);
    for (int t = t0; t < t1; t++) {
        float *row = att + (size_t)(t - t0) * s->ctx;
        const int len = j->pos + t + 1; /* causal: positions 0..pos+t */
        s->k.softmax(row, len, scale);
        s->k.wsum(row, len, s->value_cache + layer_off, (size_t)kv_dim, hs, s->xb + (size_t)t * dim + (size_t)h * hs);
    }
}

/* ---- the forward pass ---------------------------------------------------------------- */
/* tokens[0..n) at positions pos..pos+n-1; logits (n or 1, vocab) or NULL. */
static void forward_batch(hc_llm_state *s, const int *tokens, int n, int pos, float *logits, int all_logits) {
    const hc_llm_model *m = s->m;
    const hc_llm_config *c = &m->cfg;
    const int dim = c->dim, hidden = c->hidden_dim, kv_dim = m->kv_dim, hs = m->head_size, half = hs / 2;
    const size_t cache_layer = (size_t)s->ctx * (size_t)kv_dim;

    /* token embedding: one decoded row per token */
    for (int t = 0; t < n; t++)
        m->tok_emb->decode(m->tok_emb, (uint64_t)tokens[t] * (uint64_t)dim, (uint64_t)dim, s->x + (size_t)t * dim);
    TRACE(-1, LLM_TRACE_HIDDEN, s->x, n);

    /* RoPE angles of this batch's positions, shared by all heads and layers */
    for (int t = 0; t < n; t++)
        for (int jj = 0; jj < half; jj++) {
            float val = (float)(pos + t) * m->rope_freq[jj];
            s->rope_cos[(size_t)t * half + jj] = cosf(val);
            s->rope_sin[(size_t)t * half + jj] = sinf(val);
        }

    for (int l = 0; l < c->n_layers; l++) {
        const llm_layer *w = &m->layers[l];
        float *kc = s->key_cache + (size_t)l * cache_layer + (size_t)pos * kv_dim;   /* (n, kv_dim) */
        float *vc = s->value_cache + (size_t)l * cache_layer + (size_t)pos * kv_dim; /* (n, kv_dim) */

        /* attention rmsnorm */
        for (int t = 0; t < n; t++) rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, w->rms_att, dim, c->norm_eps);

        /* q, k, v; k and v go straight into the cache */
        OBSERVE(l, LLM_SITE_ATT_IN, s->xb, n, dim);
        matmul(s, w->wq, dim, dim, s->xb, n, s->q);
        matmul(s, w->wk, kv_dim, dim, s->xb, n, kc);
        matmul(s, w->wv, kv_dim, dim, s->xb, n, vc);

        /* RoPE on q and k */
        for (int t = 0; t < n; t++) {
            const float *cs = s->rope_cos + (size_t)t * half, *sn = s->rope_sin + (size_t)t * half;
            rope(s->q + (size_t)t * dim, c->n_heads, hs, cs, sn, m->naming);
            rope(kc + (size_t)t * kv_dim, c->n_kv_heads, hs, cs, sn, m->naming);
        }

        /* grouped-query attention, one task per (head, block of tokens) */
        attn_job aj = {s, l, n, pos};
        uint64_t att_work = (uint64_t)n * (uint64_t)c->n_heads * (uint64_t)(pos + n) * (uint64_t)hs;
        uint64_t blocks = (uint64_t)((n + ATT_BLOCK - 1) / ATT_BLOCK);
        hc_pool_run(att_work >= 32768 ? s->pool : NULL, blocks * (uint64_t)c->n_heads, attn_task, &aj);

        /* output projection and residual */
        OBSERVE(l, LLM_SITE_ATT_OUT, s->xb, n, dim);
        matmul(s, w->wo, dim, dim, s->xb, n, s->xb2);
        TRACE(l, LLM_TRACE_ATT, s->xb2, n);
        for (size_t i = 0; i < (size_t)n * dim; i++) s->x[i] += s->xb2[i];

        /* ffn rmsnorm */
        for (int t = 0; t < n; t++) rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, w->rms_ffn, dim, c->norm_eps);

        /* SwiGLU: w2(silu(w1 x) * w3 x) */
        OBSERVE(l, LLM_SITE_FFN_IN, s->xb, n, dim);
        matmul(s, w->w1, hidden, dim, s->xb, n, s->hb);
        matmul(s, w->w3, hidden, dim, s->xb, n, s->hb2);
        s->k.swiglu(s->hb, s->hb2, (size_t)n * hidden);
        OBSERVE(l, LLM_SITE_FFN_OUT, s->hb, n, hidden);
        matmul(s, w->w2, dim, hidden, s->hb, n, s->xb2);

        TRACE(l, LLM_TRACE_FFN, s->xb2, n);

        /* residual */
        for (size_t i = 0; i < (size_t)n * dim; i++) s->x[i] += s->xb2[i];
        TRACE(l, LLM_TRACE_HIDDEN, s->x, n);
    }
    if (!logits) return;

    /* final rmsnorm and classifier, for every token or the last one */
    int first = all_logits ? 0 : n - 1;
    for (int t = first; t < n; t++) rmsnorm(s->x + (size_t)t * dim, s->x + (size_t)t * dim, m->rms_final, dim, c->norm_eps);
    OBSERVE(-1, LLM_SITE_CLS, s->x + (size_t)first * dim, n - first, dim);
    matmul(s, m->wcls, c->vocab_size, dim, s->x + (size_t)first * dim, n - first, logits);
}

hc_status hc_llm_forward(hc_llm_state *s, const int *tokens, int n, int pos, float *logits, int all_logits,
                         hc_error *err) {
    const int vocab = s->m->cfg.vocab_size;
    if (n <= 0 || pos < 0 || pos > s->ctx - n)
        return hc_fail(err, HC_E_ARG, "forward: %d tokens at position %d do not fit a context of %d", n, pos, s->ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return hc_fail(err, HC_E_ARG, "forward: token id %d outside the vocabulary of %d", tokens[i], vocab);
    for (int done = 0; done < n; done += s->max_batch) {
        int k = n - done < s->max_batch ? n - done : s->max_batch;
        float *out = NULL;
        if (logits && all_logits) out = logits + (size_t)done * (size_t)vocab;
        else if (logits && done + k == n) out = logits;
        forward_batch(s, tokens + done, k, pos + done, out, all_logits);
    }
    return HC_OK;
}
