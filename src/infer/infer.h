/* infer.h — internal structures of the llama inference code (src/infer). */
#ifndef HC_INFER_H
#define HC_INFER_H

#include "hyperc_llm.h"
#include "../common/util.h"

/* ---- thread pool: src/common/util.h (src/common/pool.c) ---------------------- */

/* ---- model ----------------------------------------------------------------- */
typedef struct llm_layer {
    float *rms_att;  /* (dim) RMSNorm weight before attention, decoded        */
    float *rms_ffn;  /* (dim) RMSNorm weight before the feed-forward, decoded */
    hc_decoder *wq;  /* (n_heads * head_size, dim)                            */
    hc_decoder *wk;  /* (n_kv_heads * head_size, dim)                         */
    hc_decoder *wv;  /* (n_kv_heads * head_size, dim)                         */
    hc_decoder *wo;  /* (dim, n_heads * head_size)                            */
    hc_decoder *w1;  /* (hidden_dim, dim) gate                                */
    hc_decoder *w2;  /* (dim, hidden_dim) down                                */
    hc_decoder *w3;  /* (hidden_dim, dim) up                                  */
} llm_layer;

struct hc_llm_model {
    hc_llm_config cfg;
    int head_size;         /* dim / n_heads                                   */
    int kv_dim;            /* n_kv_heads * head_size                          */
    hc_llm_naming naming;  /* decides the RoPE pairing                        */
    const char *format;    /* "llama2.c", "safetensors", "hyc", "source"      */
    hc_decoder *tok_emb;   /* (vocab_size, dim)                               */
    hc_decoder *wcls;      /* (vocab_size, dim); == tok_emb when shared       */
    float *rms_final;      /* (dim)                                           */
    llm_layer *layers;     /* (n_layers)                                      */
    float *rope_freq;      /* (head_size / 2) theta^(-2j / head_size)         */
    hc_decoder **owned;    /* (n_owned) every decoder to free                 */
    size_t n_owned;
    hc_llm_source src;     /* released by hc_llm_free                         */
    uint64_t n_params;
};

/* Where a matrix product reads its input (the calibration observer). */
typedef enum llm_site {
    LLM_SITE_ATT_IN = 0, /* normed x before wq, wk, wv: (n, dim)           */
    LLM_SITE_ATT_OUT,    /* attention output before wo: (n, dim)           */
    LLM_SITE_FFN_IN,     /* normed x before w1, w3: (n, dim)               */
    LLM_SITE_FFN_OUT,    /* SwiGLU output before w2: (n, hidden_dim)       */
    LLM_SITE_CLS,        /* final normed x before the classifier (layer -1) */
    LLM_SITES
} llm_site;
/* Called with every batch of inputs x (n, width) of a site. */
typedef void (*llm_observe_fn)(void *user, int layer, llm_site site, const float *x, int n, int width);
void hc_llm_state_observe(hc_llm_state *s, llm_observe_fn fn, void *user);
/* What a trace sees (layers.c): per layer the attention block's output and
 * the feed-forward block's output before they are added to the residual
 * stream, and the residual stream after the layer (layer -1: the embedding);
 * each (n, dim). */
typedef enum llm_trace_kind { LLM_TRACE_ATT = 0, LLM_TRACE_FFN, LLM_TRACE_HIDDEN, LLM_TRACES } llm_trace_kind;
typedef void (*llm_trace_fn)(void *user, int layer, llm_trace_kind kind, const float *x, int n, int dim);
void hc_llm_state_trace(hc_llm_state *s, llm_trace_fn fn, void *user);

/* Name of the tensor of a layer's weight in the model's naming convention
 * ("wq", "wk", "wv", "wo", "w1", "w2", "w3"; layer -1 with "embed" or
 * "classifier"). Returns buf. */
const char *hc_llm_weight_name(const hc_llm_model *m, int layer, const char *which, char *buf, size_t cap);

/* The model a state runs (transformer.c). */
const hc_llm_model *hc_llm_state_model(const hc_llm_state *s);

/* Binds the tensors of src to a model (model_load.c). */
hc_status hc_llm_bind(const hc_llm_source *src, const hc_llm_config *cfg, const char *label,
                      const char *format, hc_llm_model **out, hc_error *err);
/* Checks hyperparameters for consistency and sane bounds (config.c). */
hc_status hc_llm_config_check(const hc_llm_config *c, const char *label, hc_error *err);

/* A llama2.c checkpoint as a tensor source in Meta naming (llama2c.c).
 * Takes the mapping m (unmapped by release, or here on failure). */
hc_status hc_llama2c_source(hc_map *m, const char *label, hc_llm_source *src,
                            hc_llm_config *cfg, hc_error *err);

/* ---- kernels (kernels.c) ---------------------------------------------------- */
/* y[t * ys + i] = sum_c w[i * ws + c] * x[t * xs + c]
 *   for rows i < rows, tokens t < n, c < cols. */
typedef void (*hc_tile_fn)(const float *w, size_t ws, int rows, int cols, const float *x,
                           size_t xs, int n, float *y, size_t ys);
/* out[i] = sum_p a[p] * v[p * vs + i] for i < cols, p < len. */
typedef void (*hc_wsum_fn)(const float *a, int len, const float *v, size_t vs, int cols, float *out);
/* x = softmax(x / div) over n elements. */
typedef void (*hc_softmax_fn)(float *x, int n, float div);
/* h[i] = silu(h[i]) * g[i]. */
typedef void (*hc_swiglu_fn)(float *h, const float *g, size_t n);

typedef struct hc_kernels {
    hc_tile_fn tile;
    hc_wsum_fn wsum;
    hc_softmax_fn softmax;
    hc_swiglu_fn swiglu;
} hc_kernels;

void hc_kernels_ref(hc_kernels *k);   /* plain C                            */
int hc_kernels_avx2(hc_kernels *k);   /* AVX2+FMA; 0 (and ref) if no CPU    */
void hc_kernels_best(hc_kernels *k);  /* the fastest this CPU runs          */

void hc_kern_tile_ref(const float *w, size_t ws, int rows, int cols, const float *x, size_t xs,
                      int n, float *y, size_t ys);
void hc_kern_wsum_ref(const float *a, int len, const float *v, size_t vs, int cols, float *out);
void hc_kern_softmax_ref(float *x, int n, float div);
void hc_kern_swiglu_ref(float *h, const float *g, size_t n);
#if defined(__x86_64__) || defined(__i386__)
void hc_kern_tile_avx2(const float *w, size_t ws, int rows, int cols, const float *x, size_t xs,
                       int n, float *y, size_t ys);
void hc_kern_wsum_avx2(const float *a, int len, const float *v, size_t vs, int cols, float *out);
void hc_kern_softmax_avx2(float *x, int n, float div);
void hc_kern_swiglu_avx2(float *h, const float *g, size_t n);
#endif

/* ---- raw codec row products: src/codec/raw.h ------------------------------- */
#include "../codec/raw.h"

#endif
