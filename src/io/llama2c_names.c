/* llama2c_names.c — tensor names between Meta's convention (llama2.c,
 * tok_embeddings.weight, layers.N.attention.wq.weight, ...) and Hugging
 * Face's (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight,
 * ...), with the q/k row permutation between their RoPE layouts. */
#include "llama2c_io.h"
#include "../infer/infer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long ull;

/* ---- Meta <-> Hugging Face naming ---------------------------------------- */

static const struct {
    const char *meta, *hf;
} layer_names[] = {
    {"attention_norm.weight", "input_layernorm.weight"},  {"attention.wq.weight", "self_attn.q_proj.weight"},
    {"attention.wk.weight", "self_attn.k_proj.weight"},   {"attention.wv.weight", "self_attn.v_proj.weight"},
    {"attention.wo.weight", "self_attn.o_proj.weight"},   {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"feed_forward.w1.weight", "mlp.gate_proj.weight"},   {"feed_forward.w2.weight", "mlp.down_proj.weight"},
    {"feed_forward.w3.weight", "mlp.up_proj.weight"},
};
static const struct {
    const char *meta, *hf;
} top_names[] = {
    {"tok_embeddings.weight", "model.embed_tokens.weight"},
    {"norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

/* The other convention's name of nm into out; *rope: 1 for q, 2 for k (rows
 * to permute). Returns 0 if nm is not a name of the source convention. */
static int rename_one(const char *nm, int to_hf, char *out, size_t cap, int *rope) {
    *rope = 0;
    for (size_t k = 0; k < sizeof top_names / sizeof top_names[0]; k++)
        if (!strcmp(nm, to_hf ? top_names[k].meta : top_names[k].hf)) {
            snprintf(out, cap, "%s", to_hf ? top_names[k].hf : top_names[k].meta);
            return 1;
        }
    const char *pre = to_hf ? "layers." : "model.layers.";
    size_t pl = strlen(pre);
    if (strncmp(nm, pre, pl) != 0) return 0;
    const char *p = nm + pl;
    char *end;
    unsigned long layer = strtoul(p, &end, 10);
    if (end == p || *end != '.' || (p[0] == '0' && end - p > 1)) return 0;
    for (size_t k = 0; k < sizeof layer_names / sizeof layer_names[0]; k++)
        if (!strcmp(end + 1, to_hf ? layer_names[k].meta : layer_names[k].hf)) {
            snprintf(out, cap, "%s%lu.%s", to_hf ? "model.layers." : "layers.", layer,
                     to_hf ? layer_names[k].hf : layer_names[k].meta);
            *rope = k == 1 ? 1 : k == 2 ? 2 : 0;
            return 1;
        }
    return 0;
}

typedef struct rename_ctx {
    const hc_safetensors *st;
    const int *rope;     /* [n] 0, or the number of heads whose rows to permute */
    int to_hf;
} rename_ctx;

/* RoPE row order. Meta (and llama2.c) rotate interleaved pairs (2i, 2i+1) of
 * each head; Hugging Face rotates halves (i, i + hs/2). HF's
 * convert_llama_weights_to_hf permutes q and k rows: HF row h*hs + j*hs/2 + i
 * is Meta row h*hs + 2i + j (i < hs/2, j in {0, 1}). */
static hc_status fill_renamed(void *user, size_t i, uint8_t *dst, hc_error *err) {
    (void)err;
    const rename_ctx *c = user;
    const hc_tensor_info *ti = hc_st_info(c->st, i);
    const uint8_t *src = hc_st_data(c->st, i);
    if (!c->rope[i]) {
        memcpy(dst, src, (size_t)ti->nbytes);
        return HC_OK;
    }
    const uint64_t rows = ti->shape[0], row_bytes = ti->nbytes / rows, hs = rows / (uint64_t)c->rope[i];
    const uint64_t half = hs / 2;
    for (uint64_t h = 0; h < (uint64_t)c->rope[i]; h++)
        for (uint64_t k = 0; k < half; k++)
            for (uint64_t j = 0; j < 2; j++) {
                uint64_t meta_row = h * hs + 2 * k + j, hf_row = h * hs + j * half + k;
                uint64_t to = c->to_hf ? hf_row : meta_row, from = c->to_hf ? meta_row : hf_row;
                memcpy(dst + to * row_bytes, src + from * row_bytes, (size_t)row_bytes);
            }
    return HC_OK;
}

hc_status hc_llama_renamed(const hc_safetensors *st, int to_hf, const char *label, hc_safetensors **out,
                           hc_error *err) {
    *out = NULL;
    size_t n = hc_st_count(st), mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    hc_llm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char lab[1100];
    snprintf(lab, sizeof lab, "metadata of '%s'", label);
    hc_tensor_info *infos = calloc(n ? n : 1, sizeof *infos);
    int *rope = calloc(n ? n : 1, sizeof *rope);
    hc_status s = (!infos || !rope) ? hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label) : HC_OK;
    int need_heads = 0;
    for (size_t i = 0; i < n && !s; i++) {
        infos[i] = *hc_st_info(st, i);
        char nm[HC_MAX_NAME];
        int r;
        if (rename_one(infos[i].name, to_hf, nm, sizeof nm, &r)) {
            snprintf(infos[i].name, sizeof infos[i].name, "%s", nm);
            rope[i] = r;
            need_heads |= r;
        }
    }
    if (!s && need_heads) {
        if (!meta)
            s = hc_fail(err, HC_E_FORMAT, "'%s': renaming q/k needs n_heads and n_kv_heads, and it has no metadata",
                        label);
        else
            s = hc_llm_config_parse(meta, mlen, lab, &cfg, err);
        if (!s && cfg.n_heads <= 0)
            s = hc_fail(err, HC_E_FORMAT, "%s: n_heads (num_attention_heads) is missing", lab);
    }
    for (size_t i = 0; i < n && !s; i++) {
        if (!rope[i]) continue;
        int heads = rope[i] == 1 ? cfg.n_heads : cfg.n_kv_heads;
        const hc_tensor_info *t = &infos[i];
        if (t->ndim != 2 || heads <= 0 || t->shape[0] % (uint64_t)heads || (t->shape[0] / (uint64_t)heads) % 2)
            s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s' (%llu rows) is not %d heads of an even head size", label,
                        hc_st_info(st, i)->name, (ull)t->shape[0], heads);
        rope[i] = heads;
    }
    rename_ctx c = {st, rope, to_hf};
    if (!s) s = hc_st_image(infos, n, meta, mlen, label, fill_renamed, &c, out, err);
    free(infos);
    free(rope);
    return s;
}
