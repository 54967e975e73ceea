/* gguf_config.c — llama hyperparameters (hc_llm_config) from a GGUF file's
 * llama.* keys, through the reader's public lookups (gguf.h). */
#include "gguf.h"
#include "hyperc_llm.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

/* ===================================================================== */
/* llama hyperparameters                                                  */
/* ===================================================================== */

static hc_status cfg_int(const hc_gguf *g, const char *arch, const char *key, int required, int *out,
                         const char *label, hc_error *err) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    int64_t v;
    if (!hc_gguf_get_int(g, k, &v)) {
        if (hc_gguf_find_key(g, k) >= 0)
            return hc_fail(err, HC_E_FORMAT, "%s: GGUF key %s is not an integer", label, k);
        return required ? hc_fail(err, HC_E_FORMAT, "%s: GGUF key %s is missing", label, k) : HC_OK;
    }
    if (v <= 0 || v > INT32_MAX) return hc_fail(err, HC_E_FORMAT, "%s: GGUF key %s = %lld is out of range", label, k, (long long)v);
    *out = (int)v;
    return HC_OK;
}

hc_status hc_gguf_llm_config(const hc_gguf *g, const char *label, hc_llm_config *cfg, hc_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->shared_classifier = -1;
    const char *arch;
    size_t al;
    if (!hc_gguf_get_str(g, "general.architecture", &arch, &al))
        return hc_fail(err, HC_E_FORMAT, "%s: GGUF has no general.architecture", label);
    if (al != 5 || memcmp(arch, "llama", 5))
        return hc_fail(err, HC_E_UNSUPPORTED, "%s: GGUF architecture '%.*s' is not supported (only llama)", label,
                       (int)(al < 64 ? al : 64), arch);
    hc_status s;
    if ((s = cfg_int(g, "llama", "embedding_length", 1, &cfg->dim, label, err)) ||
        (s = cfg_int(g, "llama", "feed_forward_length", 1, &cfg->hidden_dim, label, err)) ||
        (s = cfg_int(g, "llama", "block_count", 1, &cfg->n_layers, label, err)) ||
        (s = cfg_int(g, "llama", "attention.head_count", 1, &cfg->n_heads, label, err)) ||
        (s = cfg_int(g, "llama", "attention.head_count_kv", 0, &cfg->n_kv_heads, label, err)) ||
        (s = cfg_int(g, "llama", "context_length", 1, &cfg->seq_len, label, err)) ||
        (s = cfg_int(g, "llama", "vocab_size", 0, &cfg->vocab_size, label, err)))
        return s;
    if (!cfg->n_kv_heads) cfg->n_kv_heads = cfg->n_heads;
    uint32_t et;
    uint64_t nt;
    if (!cfg->vocab_size && hc_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &nt) && nt > 0 && nt <= INT32_MAX)
        cfg->vocab_size = (int)nt;
    if (!cfg->vocab_size)
        return hc_fail(err, HC_E_FORMAT, "%s: GGUF has neither llama.vocab_size nor tokenizer.ggml.tokens", label);
    double d;
    cfg->norm_eps = hc_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &d) ? (float)d : 1e-5f;
    cfg->rope_theta = hc_gguf_get_float(g, "llama.rope.freq_base", &d) ? (float)d : 10000.0f;
    int rdim = 0;
    if ((s = cfg_int(g, "llama", "rope.dimension_count", 0, &rdim, label, err))) return s;
    if (rdim && cfg->n_heads && rdim != cfg->dim / cfg->n_heads)
        return hc_fail(err, HC_E_UNSUPPORTED, "%s: llama.rope.dimension_count %d is not the head size %d (partial RoPE)",
                       label, rdim, cfg->dim / cfg->n_heads);
    const char *st;
    size_t sl;
    if (hc_gguf_get_str(g, "llama.rope.scaling.type", &st, &sl) && !(sl == 4 && !memcmp(st, "none", 4)))
        return hc_fail(err, HC_E_UNSUPPORTED, "%s: RoPE scaling '%.*s' is not supported", label, (int)(sl < 32 ? sl : 32), st);
    if (hc_gguf_find_key(g, "llama.expert_count") >= 0)
        return hc_fail(err, HC_E_UNSUPPORTED, "%s: mixture-of-experts GGUF models are not supported", label);
    return HC_OK;
}

hc_status hc_gguf_llm_config_blob(const void *blob, size_t len, const char *label, hc_llm_config *cfg, hc_error *err) {
    hc_gguf *g = NULL;
    hc_status s = hc_gguf_blob_open(blob, len, label, &g, NULL, err);
    if (s == HC_OK) s = hc_gguf_llm_config(g, label, cfg, err);
    hc_gguf_close(g);
    return s;
}
