/* llama2c.c — Karpathy's llama2.c checkpoint (legacy layout) as a tensor
 * source in Meta naming.
 *
 * Layout: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len; a negative vocab_size means the classifier is stored
 * separately), then float32 arrays, each covering all layers: token
 * embedding, attention norms, wq, wk, wv, wo, ffn norms, w1, w2, w3, final
 * norm, then optionally the RoPE tables (seq_len * head_size / 2 floats,
 * twice; ignored), then the classifier if not shared. */
#include "infer.h"
#include "../io/sniff.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct l2c_source {
    hc_map map;
    size_t n;
    hc_tensor_info *infos; /* (n) Meta names, F32                          */
    uint64_t *offsets;     /* (n) byte offset of each tensor in the file    */
} l2c_source;

static const hc_tensor_info *l2c_info(void *user, size_t i) {
    return &((l2c_source *)user)->infos[i];
}

static hc_status l2c_open(void *user, size_t i, hc_decoder **out, hc_error *err) {
    l2c_source *s = user;
    const hc_tensor_info *ti = &s->infos[i];
    return hc_decoder_open(HC_CODEC_RAW, NULL, 0, s->map.ptr + s->offsets[i], ti->nbytes, ti->nelem,
                           HC_F32, out, err);
}

static void l2c_free(l2c_source *s) {
    if (!s) return;
    hc_unmap(&s->map);
    free(s->infos);
    free(s->offsets);
    free(s);
}

static void l2c_release(void *user) { l2c_free(user); }

/* Appends tensor `name` of shape (d0[, d1]) at *off and advances *off. */
static void add_tensor(l2c_source *s, uint64_t *off, const char *name, uint64_t d0, uint64_t d1) {
    hc_tensor_info *ti = &s->infos[s->n];
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", name);
    ti->dtype = HC_F32;
    ti->ndim = d1 ? 2 : 1;
    ti->shape[0] = d0;
    ti->shape[1] = d1;
    ti->nelem = d1 ? d0 * d1 : d0;
    ti->nbytes = ti->nelem * 4;
    s->offsets[s->n++] = *off;
    *off += ti->nbytes;
}

hc_status hc_llama2c_source(hc_map *m, const char *label, hc_llm_source *src, hc_llm_config *cfg,
                            hc_error *err) {
    memset(src, 0, sizeof *src);
    if (m->len < 28) {
        hc_unmap(m);
        return hc_fail(err, HC_E_FORMAT, "'%s': %llu bytes, too short for a llama2.c checkpoint", label,
                       (unsigned long long)m->len);
    }
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = (int32_t)hc_get_u32(m->ptr + 4 * i);
    memset(cfg, 0, sizeof *cfg);
    cfg->dim = h[0];
    cfg->hidden_dim = h[1];
    cfg->n_layers = h[2];
    cfg->n_heads = h[3];
    cfg->n_kv_heads = h[4];
    cfg->vocab_size = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -h[5] : h[5]);
    cfg->seq_len = h[6];
    cfg->shared_classifier = h[5] > 0;
    cfg->norm_eps = 1e-5f; /* what llama2.c uses */
    cfg->rope_theta = 10000.0f;
    hc_error cerr;
    hc_error_clear(&cerr);
    if (hc_llm_config_check(cfg, label, &cerr) != HC_OK) {
        const char *kind = hc_sniff_format(m->ptr, m->len < HC_SNIFF_HEAD ? (size_t)m->len : HC_SNIFF_HEAD);
        hc_status s = kind ? hc_fail(err, HC_E_FORMAT, "'%s' is a %s, not a .hyc, safetensors or llama2.c checkpoint",
                                     label, kind)
                           : hc_fail(err, HC_E_FORMAT,
                                     "'%s' is not a .hyc, safetensors or llama2.c checkpoint (as llama2.c: %s)",
                                     label, cerr.msg);
        hc_unmap(m);
        return s;
    }

    /* sizes (bounded by hc_llm_config_check, so no overflow in 64 bits) */
    const uint64_t dim = (uint64_t)cfg->dim, hid = (uint64_t)cfg->hidden_dim, L = (uint64_t)cfg->n_layers;
    const uint64_t vocab = (uint64_t)cfg->vocab_size, hs = dim / (uint64_t)cfg->n_heads;
    const uint64_t kv = hs * (uint64_t)cfg->n_kv_heads;
    uint64_t weights = vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * dim * hid) + dim;
    uint64_t base = 28 + 4 * weights, rope = 4 * (uint64_t)cfg->seq_len * hs;
    uint64_t cls = cfg->shared_classifier ? 0 : 4 * vocab * dim;
    int has_rope;
    if (m->len == base + rope + cls) has_rope = 1;
    else if (m->len == base + cls) has_rope = 0;
    else {
        unsigned long long got = m->len, a = base + cls, b = base + rope + cls;
        hc_unmap(m);
        return hc_fail(err, HC_E_CORRUPT,
                       "llama2.c checkpoint '%s' is %llu bytes, but its header (dim %d, hidden_dim %d, "
                       "n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier) "
                       "needs %llu bytes, or %llu with the RoPE tables (truncated or inconsistent file)",
                       label, got, cfg->dim, cfg->hidden_dim, cfg->n_layers, cfg->n_heads, cfg->n_kv_heads,
                       h[5], cfg->seq_len, cfg->shared_classifier ? "shared" : "separate", a, b);
    }

    l2c_source *s = calloc(1, sizeof *s);
    size_t n = 2 + 9 * (size_t)L + (cls ? 1 : 0);
    if (s) {
        s->infos = malloc(n * sizeof *s->infos);
        s->offsets = malloc(n * sizeof *s->offsets);
    }
    if (!s || !s->infos || !s->offsets) {
        if (s) {
            free(s->infos);
            free(s->offsets);
            free(s);
        }
        hc_unmap(m);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    }
    s->map = *m;
    memset(m, 0, sizeof *m);

    /* the arrays in file order, each spanning all layers */
    uint64_t off = 28;
    char name[128];
    add_tensor(s, &off, "tok_embeddings.weight", vocab, dim);
    static const char *const parts[] = {"attention_norm", "attention.wq", "attention.wk", "attention.wv",
                                        "attention.wo",   "ffn_norm",     "feed_forward.w1",
                                        "feed_forward.w2", "feed_forward.w3"};
    const uint64_t rows[] = {dim, dim, kv, kv, dim, dim, hid, dim, hid};
    const uint64_t cols[] = {0, dim, dim, dim, dim, 0, dim, hid, dim};
    for (int p = 0; p < 9; p++)
        for (uint64_t l = 0; l < L; l++) {
            snprintf(name, sizeof name, "layers.%llu.%s.weight", (unsigned long long)l, parts[p]);
            add_tensor(s, &off, name, rows[p], cols[p]);
        }
    add_tensor(s, &off, "norm.weight", dim, 0);
    if (has_rope) off += rope;
    if (cls) add_tensor(s, &off, "output.weight", vocab, dim);

    src->user = s;
    src->n_tensors = s->n;
    src->info = l2c_info;
    src->open = l2c_open;
    src->release = l2c_release;
    return HC_OK;
}
