/* layers.c — error accumulation through depth (layers.h).
 *
 * Both models run the same batch of tokens at the same positions; the
 * reference's trace (transformer.c, hc_llm_state_trace) stores every block
 * output and hidden state of the batch, then the test model's trace adds
 * the squared differences against them. */
#include "layers.h"
#include "infer.h"
#include <math.h>
#include <stdlib.h>

typedef struct trace_acc {
    int n_layers, dim, batch;
    int storing;      /* 1: the reference runs (store); 0: the test runs (compare) */
    float *store;     /* ((n_layers + 1) * LLM_TRACES, batch, dim) */
    double *diff2;    /* ((n_layers + 1) * LLM_TRACES) */
    double *ref2;
} trace_acc;

static void on_trace(void *user, int layer, llm_trace_kind kind, const float *x, int n, int dim) {
    trace_acc *a = user;
    if (layer < -1 || layer >= a->n_layers || (int)kind < 0 || kind >= LLM_TRACES || n > a->batch || dim != a->dim)
        return;
    size_t slot = (size_t)(layer + 1) * LLM_TRACES + (size_t)kind;
    float *st = a->store + slot * (size_t)a->batch * (size_t)a->dim;
    size_t len = (size_t)n * (size_t)dim;
    if (a->storing) {
        memcpy(st, x, len * sizeof *x);
        return;
    }
    double d2 = 0, r2 = 0;
    for (size_t i = 0; i < len; i++) {
        double d = (double)x[i] - (double)st[i];
        d2 += d * d;
        r2 += (double)st[i] * (double)st[i];
    }
    a->diff2[slot] += d2;
    a->ref2[slot] += r2;
}

static double rel(double d2, double r2) { return r2 > 0 ? sqrt(d2 / r2) : d2 > 0 ? INFINITY : 0; }

/* KL(p || q) of the softmaxes of two logit rows, and whether their argmaxes agree. */
static double row_kl(const float *a, const float *b, int vocab, int *agree) {
    float ma = a[0], mb = b[0];
    int ia = 0, ib = 0;
    for (int i = 1; i < vocab; i++) {
        if (a[i] > ma) ma = a[i], ia = i;
        if (b[i] > mb) mb = b[i], ib = i;
    }
    double sa = 0, sb = 0;
    for (int i = 0; i < vocab; i++) {
        sa += exp((double)a[i] - ma);
        sb += exp((double)b[i] - mb);
    }
    double la = log(sa), lb = log(sb), kl = 0;
    for (int i = 0; i < vocab; i++) {
        double lpa = (double)a[i] - ma - la, lpb = (double)b[i] - mb - lb;
        kl += exp(lpa) * (lpa - lpb);
    }
    *agree = ia == ib;
    return kl > 0 ? kl : 0;
}

void hc_layers_result_free(hc_layers_result *r) {
    if (!r) return;
    free(r->rows);
    r->rows = NULL;
}

static int same_shape(const hc_llm_config *a, const hc_llm_config *b) {
    return a->dim == b->dim && a->hidden_dim == b->hidden_dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->vocab_size == b->vocab_size;
}

hc_status hc_llm_layer_errors(const hc_llm_model *ref, const hc_llm_model *test, const int *tokens, size_t n,
                              int ctx, int threads, hc_layers_result *r, hc_error *err) {
    memset(r, 0, sizeof *r);
    const hc_llm_config *c = &ref->cfg, *ct = &test->cfg;
    if (!same_shape(c, ct))
        return hc_fail(err, HC_E_ARG,
                       "the two models differ in shape (dim %d/%d, hidden %d/%d, layers %d/%d, heads %d/%d, "
                       "kv heads %d/%d, vocab %d/%d)",
                       c->dim, ct->dim, c->hidden_dim, ct->hidden_dim, c->n_layers, ct->n_layers, c->n_heads,
                       ct->n_heads, c->n_kv_heads, ct->n_kv_heads, c->vocab_size, ct->vocab_size);
    int seq = c->seq_len < ct->seq_len ? c->seq_len : ct->seq_len;
    if (ctx <= 0) ctx = seq;
    if (ctx > seq) return hc_fail(err, HC_E_ARG, "context %d exceeds the models' %d", ctx, seq);
    if (n == 0) return hc_fail(err, HC_E_ARG, "no tokens to run");
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return hc_fail(err, HC_E_ARG, "token %zu (id %d) is outside the vocabulary of %d", i, tokens[i],
                           c->vocab_size);
    const int batch = ctx < 64 ? ctx : 64, L = c->n_layers, dim = c->dim, vocab = c->vocab_size;
    const size_t slots = (size_t)(L + 1) * LLM_TRACES;
    trace_acc a = {L, dim, batch, 0, NULL, NULL, NULL};
    uint64_t store_n;
    hc_llm_state *sr = NULL, *stt = NULL;
    float *lr = NULL, *lt = NULL;
    hc_status s = HC_OK;
    if (!hc_mul_ok((uint64_t)slots * (uint64_t)batch, (uint64_t)dim, &store_n) || store_n > ((uint64_t)1 << 31))
        return hc_fail(err, HC_E_LIMIT, "layers: %d layers of width %d are too many to trace", L, dim);
    a.store = malloc((size_t)store_n * sizeof(float));
    a.diff2 = calloc(slots, sizeof(double));
    a.ref2 = calloc(slots, sizeof(double));
    lr = malloc((size_t)batch * (size_t)vocab * sizeof(float));
    lt = malloc((size_t)batch * (size_t)vocab * sizeof(float));
    r->rows = calloc((size_t)L + 1, sizeof *r->rows);
    if (!a.store || !a.diff2 || !a.ref2 || !lr || !lt || !r->rows)
        s = hc_fail(err, HC_E_NOMEM, "layers: out of memory");
    if (!s) s = hc_llm_state_new(ref, ctx, batch, threads, &sr, err);
    if (!s) s = hc_llm_state_new(test, ctx, batch, threads, &stt, err);
    double lg_d2 = 0, lg_r2 = 0, kl = 0;
    uint64_t agree = 0;
    if (!s) {
        hc_llm_state_trace(sr, on_trace, &a);
        hc_llm_state_trace(stt, on_trace, &a);
        for (size_t w0 = 0; w0 < n && !s; w0 += (size_t)ctx) {
            size_t wlen = n - w0 < (size_t)ctx ? n - w0 : (size_t)ctx;
            r->windows++;
            for (size_t p = 0; p < wlen && !s; p += (size_t)batch) {
                int k = (int)(wlen - p < (size_t)batch ? wlen - p : (size_t)batch);
                a.storing = 1;
                s = hc_llm_forward(sr, tokens + w0 + p, k, (int)p, lr, 1, err);
                a.storing = 0;
                if (!s) s = hc_llm_forward(stt, tokens + w0 + p, k, (int)p, lt, 1, err);
                if (s) break;
                for (int t = 0; t < k; t++) {
                    const float *ra = lr + (size_t)t * vocab, *ta = lt + (size_t)t * vocab;
                    for (int i = 0; i < vocab; i++) {
                        double d = (double)ta[i] - (double)ra[i];
                        lg_d2 += d * d;
                        lg_r2 += (double)ra[i] * (double)ra[i];
                    }
                    int ag;
                    kl += row_kl(ra, ta, vocab, &ag);
                    agree += (uint64_t)ag;
                }
                r->tokens += (uint64_t)k;
            }
        }
    }
    if (!s) {
        r->n_layers = L;
        for (int l = 0; l <= L; l++) {
            const double *d2 = a.diff2 + (size_t)l * LLM_TRACES, *r2 = a.ref2 + (size_t)l * LLM_TRACES;
            r->rows[l].hidden = rel(d2[LLM_TRACE_HIDDEN], r2[LLM_TRACE_HIDDEN]);
            r->rows[l].att = rel(d2[LLM_TRACE_ATT], r2[LLM_TRACE_ATT]);
            r->rows[l].ffn = rel(d2[LLM_TRACE_FFN], r2[LLM_TRACE_FFN]);
        }
        r->logits = rel(lg_d2, lg_r2);
        r->kl = r->tokens ? kl / (double)r->tokens : 0;
        r->top1 = r->tokens ? (double)agree / (double)r->tokens : 0;
    } else {
        hc_layers_result_free(r);
    }
    hc_llm_state_free(sr);
    hc_llm_state_free(stt);
    free(a.store);
    free(a.diff2);
    free(a.ref2);
    free(lr);
    free(lt);
    return s;
}
