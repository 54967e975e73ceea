/* sensitivity.c — how much each matrix's coding error costs the model, for
 * rate allocation with calibration (hc_plan_model via hc_calib weights).
 *
 * Equal relative error does not cost every tensor the same: a small key
 * projection or the shared embedding moves the loss far more per unit of
 * NMSE than a feed-forward matrix. Per matrix: code it alone (with error
 * feedback, at a probe setting), swap it into the float model, and measure
 * how far the model's next-token distributions move from the float model's
 * on the calibration tokens (mean KL divergence, which unlike a loss
 * difference is never negative); divided by the matrix's NMSE, that is its
 * weight. Small errors add nearly
 * linearly across tensors and with NMSE, which is what the allocation
 * assumes. No gradients, no retraining: forward passes only. */
#include "infer.h"
#include "../io/plan.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Log-probabilities (in place) of a row of logits. */
static void log_softmax(float *row, int vocab) {
    float mx = row[0];
    for (int v = 1; v < vocab; v++) mx = row[v] > mx ? row[v] : mx;
    double z = 0;
    for (int v = 0; v < vocab; v++) z += exp((double)(row[v] - mx));
    const float lz = (float)log(z) + mx;
    for (int v = 0; v < vocab; v++) row[v] -= lz;
}

/* Runs the model over tokens in windows of ctx. ref == NULL: stores the
 * log-probabilities of every position in out (n, vocab). Otherwise returns
 * in *kl the mean KL divergence of the model's predictions from ref's. */
static hc_status run_tokens(hc_llm_state *st, const int *tokens, size_t n, int ctx, float *logits, const float *ref,
                            float *out, double *kl, hc_error *err) {
    const int vocab = hc_llm_state_model(st)->cfg.vocab_size;
    double sum = 0;
    for (size_t at = 0; at < n; at += (size_t)ctx) {
        int len = n - at < (size_t)ctx ? (int)(n - at) : ctx;
        hc_status s = hc_llm_forward(st, tokens + at, len, 0, logits, 1, err);
        if (s) return s;
        for (int i = 0; i < len; i++) {
            float *row = logits + (size_t)i * vocab;
            log_softmax(row, vocab);
            if (!ref) {
                memcpy(out + (at + (size_t)i) * vocab, row, sizeof(float) * (size_t)vocab);
                continue;
            }
            const float *r = ref + (at + (size_t)i) * vocab;
            double d = 0;
            for (int v = 0; v < vocab; v++) d += exp((double)r[v]) * (double)(r[v] - row[v]);
            sum += d;
        }
    }
    if (kl) *kl = n ? sum / (double)n : 0;
    return HC_OK;
}

typedef struct slot {
    hc_decoder **a, **b; /* where the model holds the decoder (b: a second holder, or NULL) */
    const char *which;
    int layer;
    uint64_t rows, cols;
} slot;

hc_status hc_llm_sensitivity(const hc_llm_model *cm, const int *tokens, size_t n_tokens, int ctx, const hc_opts *probe,
                             int threads, hc_calib *calib, hc_error *err) {
    hc_llm_model *m = (hc_llm_model *)cm; /* decoders are swapped in and back out */
    const hc_llm_config *c = &m->cfg;
    if (ctx <= 0 || ctx > c->seq_len) ctx = c->seq_len;
    const int nslots = c->n_layers * 7 + 2;
    slot *sl = calloc((size_t)nslots, sizeof *sl);
    if (!sl) return hc_fail(err, HC_E_NOMEM, "sensitivity: out of memory");
    const uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, kv = (uint64_t)m->kv_dim;
    int k = 0;
    sl[k++] = (slot){&m->tok_emb, c->shared_classifier ? &m->wcls : NULL, "embed", -1, (uint64_t)c->vocab_size, dim};
    if (!c->shared_classifier) sl[k++] = (slot){&m->wcls, NULL, "classifier", -1, (uint64_t)c->vocab_size, dim};
    for (int l = 0; l < c->n_layers; l++) {
        llm_layer *ly = &m->layers[l];
        sl[k++] = (slot){&ly->wq, NULL, "wq", l, dim, dim};
        sl[k++] = (slot){&ly->wk, NULL, "wk", l, kv, dim};
        sl[k++] = (slot){&ly->wv, NULL, "wv", l, kv, dim};
        sl[k++] = (slot){&ly->wo, NULL, "wo", l, dim, dim};
        sl[k++] = (slot){&ly->w1, NULL, "w1", l, hid, dim};
        sl[k++] = (slot){&ly->w2, NULL, "w2", l, dim, hid};
        sl[k++] = (slot){&ly->w3, NULL, "w3", l, hid, dim};
    }
    hc_llm_state *st = NULL;
    float *logits = NULL, *w = NULL, *ref = NULL;
    /* the float model's predictions, kept for at most 2^26 floats */
    size_t cap = ((size_t)1 << 26) / (size_t)c->vocab_size;
    if (n_tokens > cap) n_tokens = cap;
    hc_status s = hc_llm_state_new(m, ctx, 0, threads, &st, err);
    if (!s && (!(logits = malloc(sizeof(float) * (size_t)ctx * (size_t)c->vocab_size)) ||
               !(ref = malloc(sizeof(float) * n_tokens * (size_t)c->vocab_size))))
        s = hc_fail(err, HC_E_NOMEM, "sensitivity: out of memory");
    if (!s) s = run_tokens(st, tokens, n_tokens, ctx, logits, NULL, ref, NULL, err);
    char name[HC_MAX_NAME];
    for (int i = 0; i < k && !s; i++) {
        slot *q = &sl[i];
        hc_llm_weight_name(m, q->layer, q->which, name, sizeof name);
        hc_tensor_info ti;
        memset(&ti, 0, sizeof ti);
        snprintf(ti.name, sizeof ti.name, "%s", name);
        ti.dtype = HC_F32;
        ti.ndim = 2;
        ti.shape[0] = q->rows;
        ti.shape[1] = q->cols;
        ti.nelem = q->rows * q->cols;
        ti.nbytes = 4 * ti.nelem;
        if (!hc_opts_codes_tensor(probe, &ti)) continue;
        free(w);
        if (!(w = malloc(sizeof(float) * ti.nelem))) {
            s = hc_fail(err, HC_E_NOMEM, "sensitivity: out of memory for '%s'", name);
            break;
        }
        hc_decoder *orig = *q->a, *coded = NULL;
        hc_decode_all(orig, w);
        hc_encoded e;
        hc_opts o = *probe;
        o.calib = calib;
        s = hc_encode_tensor(&ti, w, &o, &e, err);
        if (s) break;
        double nmse = e.sum_sq > 0 ? e.mse * (double)ti.nelem / e.sum_sq : 0;
        if (e.codec != HC_CODEC_RAW && nmse > 0) {
            s = hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, ti.nelem, HC_F32, &coded,
                                err);
            double kl = 0;
            if (!s) {
                *q->a = coded;
                if (q->b) *q->b = coded;
                s = run_tokens(st, tokens, n_tokens, ctx, logits, ref, NULL, &kl, err);
                *q->a = orig;
                if (q->b) *q->b = orig;
                hc_decoder_free(coded);
            }
            if (!s) s = hc_calib_set_weight(calib, name, kl / nmse, err);
        }
        hc_encoded_free(&e);
    }
    free(w);
    free(logits);
    free(ref);
    free(sl);
    hc_llm_state_free(st);
    return s;
}
