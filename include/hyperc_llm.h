/*
 * hyperc_llm.h — inference of llama-family language models straight from
 * (compressed) weights: model loading, forward pass, sampling, the llama2.c
 * tokenizer, and a perplexity protocol (docs/PERPLEXITY.md).
 *
 * Every weight matrix stays an hc_decoder (include/hyperc.h): a .hyc model is
 * decoded on the fly inside the matrix products and never held in float32 as
 * a whole. Only the small vectors (norm weights) are decoded once.
 *
 * The conventions of hyperc.h hold: calls that can fail return hc_status and
 * fill hc_error; nothing here prints.
 *
 * Typical use:
 *     hc_llm_model *m; hc_tokenizer *t; hc_llm_state *s;
 *     hc_llm_open("stories260K.bin", NULL, &m, &err);
 *     hc_tok_open("tok512.bin", hc_llm_config_of(m)->vocab_size, &t, &err);
 *     hc_llm_state_new(m, 0, 0, 4, &s, &err);
 *     hc_llm_generate(s, prompt, n_prompt, 200, &sampling, on_token, user, &stats, &err);
 */
#ifndef HYPERC_LLM_H
#define HYPERC_LLM_H

#include "hyperc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Hyperparameters                                                        */
/* ===================================================================== */

typedef struct hc_llm_config {
    int dim;               /* model width (= n_heads * head size)             */
    int hidden_dim;        /* inner width of the SwiGLU feed-forward          */
    int n_layers;
    int n_heads;           /* query heads                                     */
    int n_kv_heads;        /* key/value heads (grouped-query attention)       */
    int vocab_size;
    int seq_len;           /* longest context the model was trained for       */
    float norm_eps;        /* RMSNorm epsilon                                 */
    float rope_theta;      /* RoPE base                                       */
    int shared_classifier; /* 1: the output head is the token embedding;
                              0: a separate tensor; -1: not stated (decided
                              by whether the classifier tensor exists)       */
} hc_llm_config;

/* Limits of the hyperparameters (checked before anything is sized by them;
 * docs/FORMAT.md "Limits"). Every value must also be positive. */
#define HC_LLM_MAX_DIM (1 << 20)
#define HC_LLM_MAX_HIDDEN (1 << 22)
#define HC_LLM_MAX_LAYERS 4096
#define HC_LLM_MAX_VOCAB (1 << 24)
#define HC_LLM_MAX_SEQ (1 << 24)

/* Reads hyperparameters from a JSON object: a Hugging Face config.json
 * (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, vocab_size, max_position_embeddings, rms_norm_eps,
 * rope_theta, tie_word_embeddings) or llama2.c-style metadata (dim,
 * hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
 * shared_classifier, norm_eps, rope_theta). Values may be numbers or
 * strings holding numbers. Keys not present are left 0 (shared_classifier
 * -1); unsupported variants (rope_scaling, another activation, head_dim
 * other than hidden_size / heads) are HC_E_UNSUPPORTED. `label` names the
 * source in messages. Returns HC_E_FORMAT if no hyperparameter is found. */
hc_status hc_llm_config_parse(const char *json, size_t len, const char *label,
                              hc_llm_config *cfg, hc_error *err);

/* ===================================================================== */
/* Models                                                                 */
/* ===================================================================== */

/* Tensor naming convention of the weights (detected from the names). */
typedef enum hc_llm_naming {
    HC_LLM_NAMES_META = 0, /* tok_embeddings, layers.N.attention.wq, ...:
                              interleaved RoPE (pairs 2j, 2j+1)              */
    HC_LLM_NAMES_HF = 1,   /* model.embed_tokens, model.layers.N.self_attn.
                              q_proj, ...: q/k rows are permuted by the HF
                              conversion, so RoPE is applied half-split
                              (pairs j, j + head_size/2); nothing is
                              un-permuted                                    */
    HC_LLM_NAMES_GGUF = 2  /* token_embd, blk.N.attn_q, ...: llama.cpp's GGUF
                              names; q/k rows in Meta's layout (llama.cpp's
                              converter permutes them back), so interleaved
                              RoPE as for META                               */
} hc_llm_naming;

typedef struct hc_llm_model hc_llm_model;

/* A set of named tensors to build a model from (a file, or tensors made in
 * memory). info(i) gives tensor i's name and shape (dtype is not used);
 * open(i) makes a decoder for it, which the model then owns and frees. */
typedef struct hc_llm_source {
    void *user;
    size_t n_tensors;
    const hc_tensor_info *(*info)(void *user, size_t i);
    hc_status (*open)(void *user, size_t i, hc_decoder **out, hc_error *err);
    /* Called once by hc_llm_free when the model no longer needs the source
     * (the decoders may point into it). May be NULL. */
    void (*release)(void *user);
    /* JSON object with hyperparameters (see hc_llm_config_parse), or NULL. */
    const char *metadata;
    size_t metadata_len;
} hc_llm_source;

/* Opens a model file, recognised by its content: .hyc (compressed),
 * safetensors (F32/F16/BF16), or a llama2.c checkpoint (.bin, 7-int32
 * legacy header). For .hyc and safetensors the hyperparameters come from
 * config_path if not NULL (an explicit override), else from what the file
 * stores (a .hyc's config.json attachment, then the file's metadata), else
 * from config.json in the file's directory (a .hyc made from a GGUF llama
 * model stores its llama.* keys). A GGUF file (F32/F16/BF16 weights,
 * llama.cpp's tensor names) takes its hyperparameters from its own keys. A config.json beside the file
 * that disagrees with the stored hyperparameters is ignored. */
hc_status hc_llm_open(const char *path, const char *config_path, hc_llm_model **out,
                      hc_error *err);
/* As hc_llm_open, and notice (if not NULL) receives one line for what the
 * user should know: a config.json beside the file that disagrees with the
 * stored hyperparameters and is ignored, or a .hyc that stores none and so
 * takes them from beside it. */
typedef void (*hc_llm_notice_fn)(void *user, const char *line);
hc_status hc_llm_open2(const char *path, const char *config_path, hc_llm_notice_fn notice, void *user,
                       hc_llm_model **out, hc_error *err);

/* Builds a model from a tensor source. cfg: the hyperparameters, or NULL to
 * read them from src->metadata. On success the model owns the source (it
 * calls src->release when freed); on failure the caller still owns it.
 * `label` names the model in messages. */
hc_status hc_llm_open_source(const hc_llm_source *src, const hc_llm_config *cfg,
                             const char *label, hc_llm_model **out, hc_error *err);

/* Sources over already-open handles. With take_ownership the handle is
 * closed by release; otherwise it must outlive the model. */
void hc_llm_source_st(hc_safetensors *st, int take_ownership, hc_llm_source *out);
void hc_llm_source_hyc(hc_hyc *h, int take_ownership, hc_llm_source *out);

void hc_llm_free(hc_llm_model *m);

const hc_llm_config *hc_llm_config_of(const hc_llm_model *m);
hc_llm_naming hc_llm_naming_of(const hc_llm_model *m);
/* "llama2.c", "safetensors", "hyc", "gguf" or "source". */
const char *hc_llm_format_of(const hc_llm_model *m);
/* Number of weights (embedding counted once when shared). */
uint64_t hc_llm_param_count(const hc_llm_model *m);

/* ===================================================================== */
/* Running a sequence                                                     */
/* ===================================================================== */

/* One sequence in flight: its KV cache, scratch buffers and worker threads.
 * A model may serve several states at once (the model is read-only). */
typedef struct hc_llm_state hc_llm_state;

/* ctx: positions the KV cache holds (0: the model's seq_len; at most that).
 * max_batch: tokens per forward step (0: 64). threads: workers for the
 * matrix products (<= 0: all cores). */
hc_status hc_llm_state_new(const hc_llm_model *m, int ctx, int max_batch, int threads,
                           hc_llm_state **out, hc_error *err);
void hc_llm_state_free(hc_llm_state *s);
int hc_llm_state_ctx(const hc_llm_state *s);

/* Runs tokens[0..n) at positions pos..pos+n-1 of the sequence, whose first
 * pos positions must already be in the cache (pos 0 starts afresh). logits:
 * NULL, or room for n * vocab_size floats if all_logits, else vocab_size
 * floats for the last token. */
hc_status hc_llm_forward(hc_llm_state *s, const int *tokens, int n, int pos, float *logits,
                         int all_logits, hc_error *err);

/* ===================================================================== */
/* Sampling and generation                                                */
/* ===================================================================== */

typedef struct hc_llm_sampling {
    float temperature; /* 0: greedy (argmax)                                */
    float topp;        /* nucleus sampling when in (0, 1); else plain       */
    uint64_t seed;
} hc_llm_sampling;

typedef struct hc_llm_sampler hc_llm_sampler;
hc_status hc_llm_sampler_new(int vocab_size, const hc_llm_sampling *p, hc_llm_sampler **out,
                             hc_error *err);
void hc_llm_sampler_free(hc_llm_sampler *s);
/* Picks the next token from logits[vocab_size] (logits are overwritten). */
int hc_llm_sample(hc_llm_sampler *s, float *logits);

/* Called for every token after the first, with the token before it: the
 * rest of the prompt, then each generated token (what llama2.c prints). A
 * non-zero return stops generation. */
typedef int (*hc_llm_token_fn)(void *user, int prev_token, int token);

typedef struct hc_llm_gen_stats {
    int prompt_tokens;
    int generated;     /* tokens after the prompt                         */
    double prompt_seconds;
    double gen_seconds;
} hc_llm_gen_stats;

/* llama2.c's loop: the model runs at positions 0..steps-1 (steps clamped
 * to the state's ctx), so with a 1-token prompt (BOS) steps tokens are
 * sampled; prompt tokens are forced while they last (prompt[0] usually BOS,
 * n_prompt >= 1), then tokens are sampled; stops early at a sampled BOS
 * (id 1). The prompt is run as one batch. The state must be fresh or its
 * cache may be overwritten from position 0. */
hc_status hc_llm_generate(hc_llm_state *s, const int *prompt, int n_prompt, int steps,
                          const hc_llm_sampling *p, hc_llm_token_fn on_token, void *user,
                          hc_llm_gen_stats *stats, hc_error *err);

/* ===================================================================== */
/* Tokenizer (llama2.c tokenizer.bin format)                              */
/* ===================================================================== */

typedef struct hc_tokenizer hc_tokenizer;

#define HC_TOK_BOS 1
#define HC_TOK_EOS 2

/* Reads a llama2.c tokenizer file: int32 max_token_length, then per token
 * float32 score, int32 length, bytes. vocab_size > 0: the file must hold
 * exactly that many tokens; 0: all tokens in the file. Limits: a piece is
 * at most max_token_length <= HC_TOK_MAX_PIECE bytes, at most
 * HC_LLM_MAX_VOCAB tokens; every length is checked against the bytes left
 * before it is used, so memory stays proportional to the file. */
#define HC_TOK_MAX_PIECE 65536
hc_status hc_tok_open(const char *path, int vocab_size, hc_tokenizer **out, hc_error *err);
hc_status hc_tok_open_mem(const void *buf, size_t len, int vocab_size, const char *label,
                          hc_tokenizer **out, hc_error *err);
void hc_tok_free(hc_tokenizer *t);
int hc_tok_vocab_size(const hc_tokenizer *t);

/* llama2.c's encoding: optional BOS, a " " token before non-empty text,
 * UTF-8 code points looked up (byte tokens <0xXX> = id byte+3 otherwise),
 * then repeated merging of the adjacent pair whose merged token scores
 * highest (leftmost on ties); optional EOS. *tokens is malloc'd. */
hc_status hc_tok_encode(const hc_tokenizer *t, const char *text, size_t len, int bos, int eos,
                        int **tokens, size_t *n_tokens, hc_error *err);
/* Bytes of `token` when it follows prev_token: a leading space is dropped
 * after BOS, <0xXX> gives the raw byte. Valid while t lives; "" for an
 * out-of-range id. */
const char *hc_tok_piece(const hc_tokenizer *t, int prev_token, int token, size_t *len);
/* Concatenated pieces of tokens[0..n) (NUL-terminated, malloc'd), BOS and
 * EOS giving no text; decode(encode(text, bos=1)) == text. */
hc_status hc_tok_decode(const hc_tokenizer *t, const int *tokens, size_t n, char **text,
                        size_t *len, hc_error *err);

/* ===================================================================== */
/* Perplexity (protocol: docs/PERPLEXITY.md)                              */
/* ===================================================================== */

typedef struct hc_llm_ppl_result {
    double perplexity;   /* exp(nll_sum / scored)                          */
    double nll_sum;      /* sum of -ln p(token) over scored tokens         */
    uint64_t documents;  /* non-empty blank-line-separated documents       */
    uint64_t tokens;     /* tokens of all documents (BOS included)         */
    uint64_t windows;    /* windows scored                                 */
    uint64_t scored;     /* windows * (ctx - 1)                            */
    int ctx;             /* window length used                             */
    double seconds;      /* model time (tokenization excluded)             */
} hc_llm_ppl_result;

/* ctx <= 0: the model's seq_len. max_windows <= 0: all windows. threads
 * <= 0: all cores. Fails if the text gives no complete window. */
hc_status hc_llm_perplexity(const hc_llm_model *m, const hc_tokenizer *t, const char *text,
                            size_t len, int ctx, long max_windows, int threads,
                            hc_llm_ppl_result *r, hc_error *err);
/* The same with any tokenizer: encode(user, document, ...) gives a
 * document's ids (BOS included, *tokens malloc'd), e.g. hc_tkz_encode of
 * hyperc_tok.h with HC_TKZ_SPECIALS. Ids outside the vocabulary fail. */
typedef hc_status (*hc_llm_encode_fn)(void *user, const char *text, size_t len, int **tokens, size_t *n,
                                      hc_error *err);
hc_status hc_llm_perplexity_fn(const hc_llm_model *m, hc_llm_encode_fn encode, void *user, const char *text,
                               size_t len, int ctx, long max_windows, int threads, hc_llm_ppl_result *r,
                               hc_error *err);

/* ===================================================================== */
/* Calibration (compression with error feedback, hc_encode_matrix)        */
/* ===================================================================== */

/* Runs the model over tokens in non-overlapping windows of ctx tokens
 * (<= 0: the model's seq_len; a last window of >= 2 tokens counts) and
 * collects for every weight matrix H = mean of x x^T over the inputs x it
 * multiplies, under the tensor names of the model's source (wq, wk, wv
 * share one; w1, w3 another). A classifier shared with the token embedding
 * gets the classifier's inputs under the embedding's name. Cost: one
 * forward pass plus width^2 per input vector and site. */
hc_status hc_llm_calibrate(const hc_llm_model *m, const int *tokens, size_t n_tokens, int ctx,
                           int threads, hc_calib **out, hc_error *err);

/* Measures, for every weight matrix that probe codes, how much the mean
 * next-token loss on tokens rises per unit of NMSE when that matrix alone
 * is coded with probe (and calib's statistics, error feedback), and stores
 * it with hc_calib_set_weight. One forward pass over tokens per matrix. */
hc_status hc_llm_sensitivity(const hc_llm_model *m, const int *tokens, size_t n_tokens, int ctx,
                             const hc_opts *probe, int threads, hc_calib *calib, hc_error *err);

/* Calibration data without text: n_tokens tokens of sequences sampled from
 * the model itself (temperature 1, seeded), each BOS then up to len - 1
 * tokens (len is clamped to seq_len; a sampled BOS ends a sequence early),
 * concatenated. *tokens is malloc'd. */
hc_status hc_llm_sample_corpus(const hc_llm_model *m, size_t n_tokens, int len, uint64_t seed, int threads,
                               int **tokens, size_t *n_out, hc_error *err);


/* Calibration for compression in one call (what `hyperc compress --calib`
 * does): opens the llama-family model at model_path (any format
 * hc_llm_open reads), takes calibration tokens, and builds the statistics
 * hc_encode_matrix uses (hc_llm_calibrate). The tokens:
 *  - text_path NULL or "self": max_tokens tokens of text sampled from the
 *    model itself (hc_llm_sample_corpus, sequences of seq_len, seed 1234);
 *  - otherwise the text file text_path, tokenized by tokenizer_path (a
 *    llama2.c tokenizer.bin, tokenizer.json, tokenizer.model, a GGUF or a
 *    .hyc carrying one; NULL: the model's own when it is a GGUF file), at
 *    most max_tokens of it.
 * o may be NULL; when o->target_bpw > 0 each matrix's sensitivity is also
 * measured (hc_llm_sensitivity, probing o's codec near the middle of its
 * range) so that rate allocation can weigh the matrices. n_tokens (may be
 * NULL) receives the tokens used. threads <= 0: all cores.
 * Errors name the step and file: HC_E_ARG for max_tokens 0, or a text
 * without a tokenizer (neither tokenizer_path nor a GGUF model); the
 * callee's code, with "calibration '<model>': ..." before its message,
 * otherwise. On failure *out is NULL. */
hc_status hc_llm_calib_build(const char *model_path, const char *text_path, const char *tokenizer_path,
                             size_t max_tokens, const hc_opts *o, int threads, hc_calib **out,
                             size_t *n_tokens, hc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* HYPERC_LLM_H */
