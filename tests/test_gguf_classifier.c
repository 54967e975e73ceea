/* A GGUF llama model with its own classifier (output.weight, as TinyLlama and
 * llama.cpp's converters write it) opens and uses it: "output.weight" is a
 * GGUF name as much as a Meta one. */
#include "test.h"
#include "../src/io/gguf.h"
#include "hyperc_llm.h"
#include <stdio.h>
#include <string.h>

enum { D = 16, H = 32, V = 24, L = 1, NH = 2, NKV = 1, KV = D / NH * NKV };

/* mode 0: tied classifier (no output.weight); 1: output.weight a copy of the
 * embedding; 2: a classifier of its own, whose row 3 is zero */
static hc_status tiny_gguf(const char *path, int mode, hc_error *err) {
    /* fixed pseudo-random weights */
    static float emb[V * D], q[D * D], k[KV * D], v[KV * D], o[D * D], g[H * D], dn[D * H], up[H * D], ones[D];
    static float cls[V * D];
    uint32_t r = 12345;
    float *all[] = {emb, q, k, v, o, g, dn, up};
    size_t lens[] = {V * D, D * D, KV * D, KV * D, D * D, H * D, D * H, H * D};
    for (size_t a = 0; a < 8; a++)
        for (size_t i = 0; i < lens[a]; i++) {
            r = r * 1664525u + 1013904223u;
            all[a][i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 0.5f;
        }
    for (int i = 0; i < D; i++) ones[i] = 1.0f;
    for (int i = 0; i < V * D; i++) cls[i] = mode == 1 ? emb[i] : i / D == 3 ? 0.0f : 0.25f * (float)((i * 7) % 5 - 2);
    hc_gguf_build *b = NULL;
    hc_status s = hc_gguf_build_new(3, &b, err);
    if (!s) s = hc_gguf_build_str(b, "general.architecture", "llama", err);
    if (!s) s = hc_gguf_build_u32(b, "llama.embedding_length", D, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.feed_forward_length", H, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.block_count", L, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.attention.head_count", NH, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.attention.head_count_kv", NKV, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.context_length", 16, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.vocab_size", V, err);
    if (!s) s = hc_gguf_build_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err);
    struct { const char *name; uint64_t rows, cols; const float *w; } t[] = {
        {"token_embd.weight", V, D, emb},     {"blk.0.attn_norm.weight", D, 0, ones},
        {"blk.0.attn_q.weight", D, D, q},     {"blk.0.attn_k.weight", KV, D, k},
        {"blk.0.attn_v.weight", KV, D, v},    {"blk.0.attn_output.weight", D, D, o},
        {"blk.0.ffn_norm.weight", D, 0, ones}, {"blk.0.ffn_gate.weight", H, D, g},
        {"blk.0.ffn_down.weight", D, H, dn},  {"blk.0.ffn_up.weight", H, D, up},
        {"output_norm.weight", D, 0, ones},   {"output.weight", V, D, cls}};
    size_t n = sizeof t / sizeof t[0] - (mode == 0);
    for (size_t i = 0; !s && i < n; i++) {
        uint64_t ne[2] = {t[i].cols ? t[i].cols : t[i].rows, t[i].rows};
        s = hc_gguf_build_tensor(b, t[i].name, t[i].cols ? 2 : 1, ne, 0 /* F32 */, t[i].w, err);
    }
    if (!s) s = hc_gguf_build_write(b, path, 1, err);
    hc_gguf_build_free(b);
    return s;
}

static hc_status logits(const char *path, float *out, hc_error *err) {
    hc_llm_model *m = NULL;
    hc_status s = hc_llm_open(path, NULL, &m, err);
    if (s) return s;
    hc_llm_state *st = NULL;
    const int toks[3] = {1, 5, 7};
    s = hc_llm_state_new(m, 0, 0, 1, &st, err);
    if (!s) s = hc_llm_forward(st, toks, 3, 0, out, 0, err);
    hc_llm_state_free(st);
    hc_llm_free(m);
    return s;
}

TEST(gguf_llama_own_classifier) {
    hc_error err = {0};
    char path[3][512];
    float lg[3][V];
    for (int mode = 0; mode < 3; mode++) {
        snprintf(path[mode], sizeof path[mode], "%s/classifier%d.gguf", hc_test_tmpdir(), mode);
        CHECK_OK(tiny_gguf(path[mode], mode, &err), &err);
        CHECK_OK(logits(path[mode], lg[mode], &err), &err);
    }
    /* output.weight equal to the embedding: the tied model's logits exactly */
    CHECK(memcmp(lg[0], lg[1], sizeof lg[0]) == 0);
    /* a classifier of its own is used: its zero row gives a zero logit, the rest differ */
    CHECK(lg[2][3] == 0.0f && lg[0][3] != 0.0f);
    int differ = 0;
    for (int i = 0; i < V; i++) differ += lg[0][i] != lg[2][i];
    CHECKF(differ == V, "%d of %d logits differ", differ, V);
}
