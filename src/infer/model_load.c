/* model_load.c — from a file or a tensor source to a model: format
 * detection, hyperparameters, naming convention, and binding every tensor
 * by name with its shape checked against the hyperparameters. */
#include "infer.h"
#include "../common/strindex.h"
#include "../io/gguf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- naming conventions -------------------------------------------------- */
typedef struct naming_table {
    const char *embed, *norm, *classifier;
    /* per layer, printf patterns with the layer number */
    const char *att_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w1, *w2, *w3;
} naming_table;

static const naming_table names_meta = {
    "tok_embeddings.weight", "norm.weight", "output.weight",
    "layers.%d.attention_norm.weight", "layers.%d.attention.wq.weight",
    "layers.%d.attention.wk.weight", "layers.%d.attention.wv.weight",
    "layers.%d.attention.wo.weight", "layers.%d.ffn_norm.weight",
    "layers.%d.feed_forward.w1.weight", "layers.%d.feed_forward.w2.weight",
    "layers.%d.feed_forward.w3.weight"};

static const naming_table names_hf = {
    "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
    "model.layers.%d.input_layernorm.weight", "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.o_proj.weight", "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.down_proj.weight",
    "model.layers.%d.mlp.up_proj.weight"};

static const naming_table names_gguf = {
    "token_embd.weight", "output_norm.weight", "output.weight",
    "blk.%d.attn_norm.weight", "blk.%d.attn_q.weight",
    "blk.%d.attn_k.weight", "blk.%d.attn_v.weight",
    "blk.%d.attn_output.weight", "blk.%d.ffn_norm.weight",
    "blk.%d.ffn_gate.weight", "blk.%d.ffn_down.weight",
    "blk.%d.ffn_up.weight"};

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static int ends_with(const char *s, const char *p) {
    size_t a = strlen(s), b = strlen(p);
    return a >= b && strcmp(s + a - b, p) == 0;
}
/* "output.weight" (the classifier) is both a Meta and a GGUF name: it tells neither apart */
static int is_meta_name(const char *s) {
    return starts_with(s, "layers.") || strcmp(s, "tok_embeddings.weight") == 0 || strcmp(s, "norm.weight") == 0;
}
static int is_hf_name(const char *s) { return starts_with(s, "model.") || strcmp(s, "lm_head.weight") == 0; }
static int is_gguf_name(const char *s) {
    return starts_with(s, "blk.") || strcmp(s, "token_embd.weight") == 0 || strcmp(s, "output_norm.weight") == 0;
}
/* Tensors a checkpoint may carry that are not weights. */
static int is_ignorable(const char *s) {
    return ends_with(s, "rotary_emb.inv_freq") || strcmp(s, "rope.freqs") == 0 || strcmp(s, "rope_freqs.weight") == 0 ||
           strcmp(s, "freq_cis_real") == 0 || strcmp(s, "freq_cis_imag") == 0; /* llama2.c RoPE tables */
}

const char *hc_llm_weight_name(const hc_llm_model *m, int layer, const char *which, char *buf, size_t cap) {
    const naming_table *nt = m->naming == HC_LLM_NAMES_META ? &names_meta
                             : m->naming == HC_LLM_NAMES_GGUF ? &names_gguf : &names_hf;
    const char *pat = !strcmp(which, "embed") ? nt->embed : !strcmp(which, "classifier") ? nt->classifier
                    : !strcmp(which, "wq") ? nt->wq : !strcmp(which, "wk") ? nt->wk : !strcmp(which, "wv") ? nt->wv
                    : !strcmp(which, "wo") ? nt->wo : !strcmp(which, "w1") ? nt->w1 : !strcmp(which, "w2") ? nt->w2
                    : !strcmp(which, "w3") ? nt->w3 : "";
    snprintf(buf, cap, pat, layer);
    return buf;
}

/* ---- binding ------------------------------------------------------------- */
typedef struct binder {
    const hc_llm_source *src;
    const char *label;
    hc_llm_model *m;
    uint8_t *used; /* (n_tensors) */
    hc_strindex names; /* the source's tensors by name */
} binder;

static const char *source_key(const void *ctx, size_t i, size_t *len) {
    const hc_llm_source *src = ctx;
    const char *nm = src->info(src->user, i)->name;
    *len = strlen(nm);
    return nm;
}

/* O(1): a hash index of the names, built once (hc_llm_bind). */
static long find_tensor(const binder *b, const char *name) {
    return hc_strindex_find(&b->names, name, strlen(name), source_key, b->src);
}

/* The most tensors a llama model can have: embedding, final norm, classifier,
 * 9 a layer and the ignorable RoPE tables (one a layer, one more), for the
 * most layers allowed. Checked before anything grows with the count (a finer
 * check against the stated layers comes after binding, naming the tensor). */
#define MAX_MODEL_TENSORS (4 + 10 * (uint64_t)HC_LLM_MAX_LAYERS)

static void shape_text(char *buf, size_t cap, uint32_t ndim, const uint64_t *shape) {
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, d ? ", %llu" : "%llu", (unsigned long long)shape[d]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

/* Finds `name`, checks it is (rows, cols) — or (rows) when cols == 0 — and
 * opens its decoder, which the model then owns. */
static hc_status bind_tensor(binder *b, const char *name, uint64_t rows, uint64_t cols, hc_decoder **out,
                             hc_error *err) {
    *out = NULL;
    long i = find_tensor(b, name);
    if (i < 0) return hc_fail(err, HC_E_FORMAT, "'%s': missing tensor '%s'", b->label, name);
    const hc_tensor_info *ti = b->src->info(b->src->user, (size_t)i);
    uint64_t want[2] = {rows, cols};
    uint32_t want_nd = cols ? 2 : 1;
    if (ti->ndim != want_nd || ti->shape[0] != rows || (cols && ti->shape[1] != cols)) {
        char got_s[160], want_s[64];
        shape_text(got_s, sizeof got_s, ti->ndim < HC_MAX_DIMS ? ti->ndim : HC_MAX_DIMS, ti->shape);
        shape_text(want_s, sizeof want_s, want_nd, want);
        const hc_llm_config *c = &b->m->cfg;
        return hc_fail(err, HC_E_FORMAT,
                       "'%s': tensor '%s' has shape %s, but the hyperparameters (dim %d, hidden_dim %d, "
                       "n_heads %d, n_kv_heads %d, vocab_size %d) need %s",
                       b->label, name, got_s, c->dim, c->hidden_dim, c->n_heads, c->n_kv_heads, c->vocab_size,
                       want_s);
    }
    if (b->used[i]) return hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s' bound twice", b->label, name);
    hc_decoder *d = NULL;
    hc_status s = b->src->open(b->src->user, (size_t)i, &d, err);
    if (s) return hc_error_context(err, s, "'%s': tensor '%s'", b->label, name);
    if (d->n != ti->nelem || d->n != rows * (cols ? cols : 1)) {
        hc_decoder_free(d);
        return hc_fail(err, HC_E_CORRUPT, "'%s': tensor '%s' decodes to %llu weights, expected %llu", b->label,
                       name, (unsigned long long)d->n, (unsigned long long)(rows * (cols ? cols : 1)));
    }
    b->m->owned[b->m->n_owned++] = d;
    b->used[i] = 1;
    b->m->n_params += d->n;
    *out = d;
    return HC_OK;
}

/* A norm weight: decoded once to float32. */
static hc_status bind_vector(binder *b, const char *name, uint64_t n, float **out, hc_error *err) {
    hc_decoder *d;
    hc_status s = bind_tensor(b, name, n, 0, &d, err);
    if (s) return s;
    *out = malloc(n * sizeof **out);
    if (!*out) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", b->label);
    hc_decode_all(d, *out);
    /* the decoder is no longer needed */
    b->m->owned[--b->m->n_owned] = NULL;
    hc_decoder_free(d);
    return HC_OK;
}

static void model_free_parts(hc_llm_model *m) {
    for (size_t i = 0; i < m->n_owned; i++) hc_decoder_free(m->owned[i]);
    free(m->owned);
    if (m->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            free(m->layers[l].rms_att);
            free(m->layers[l].rms_ffn);
        }
    free(m->layers);
    free(m->rms_final);
    free(m->rope_freq);
    free(m);
}

void hc_llm_free(hc_llm_model *m) {
    if (!m) return;
    hc_llm_source src = m->src;
    model_free_parts(m);
    if (src.release) src.release(src.user);
}

static hc_status bind_all(binder *b, const naming_table *nt, hc_error *err) {
    hc_llm_model *m = b->m;
    const hc_llm_config *c = &m->cfg;
    const uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, kv = (uint64_t)m->kv_dim;
    const uint64_t vocab = (uint64_t)c->vocab_size;
    char name[256];
    hc_status s = bind_tensor(b, nt->embed, vocab, dim, &m->tok_emb, err);
    if (!s) s = bind_vector(b, nt->norm, dim, &m->rms_final, err);
    if (!s) {
        if (c->shared_classifier) m->wcls = m->tok_emb;
        else s = bind_tensor(b, nt->classifier, vocab, dim, &m->wcls, err);
    }
    for (int l = 0; l < c->n_layers && !s; l++) {
        llm_layer *ly = &m->layers[l];
#define NAME(pat) (snprintf(name, sizeof name, (pat), l), name)
        s = bind_vector(b, NAME(nt->att_norm), dim, &ly->rms_att, err);
        if (!s) s = bind_tensor(b, NAME(nt->wq), dim, dim, &ly->wq, err);
        if (!s) s = bind_tensor(b, NAME(nt->wk), kv, dim, &ly->wk, err);
        if (!s) s = bind_tensor(b, NAME(nt->wv), kv, dim, &ly->wv, err);
        if (!s) s = bind_tensor(b, NAME(nt->wo), dim, dim, &ly->wo, err);
        if (!s) s = bind_vector(b, NAME(nt->ffn_norm), dim, &ly->rms_ffn, err);
        if (!s) s = bind_tensor(b, NAME(nt->w1), hid, dim, &ly->w1, err);
        if (!s) s = bind_tensor(b, NAME(nt->w2), dim, hid, &ly->w2, err);
        if (!s) s = bind_tensor(b, NAME(nt->w3), hid, dim, &ly->w3, err);
#undef NAME
    }
    if (s) return s;
    /* a tensor left over means the file is not what the hyperparameters say
     * (more layers, another architecture): refuse rather than ignore it */
    for (size_t i = 0; i < b->src->n_tensors; i++) {
        const char *nm = b->src->info(b->src->user, i)->name;
        if (!b->used[i] && !is_ignorable(nm))
            return hc_fail(err, HC_E_FORMAT, "'%s': unexpected tensor '%s' (not part of a llama model with %d layers)",
                           b->label, nm, c->n_layers);
    }
    return HC_OK;
}

hc_status hc_llm_bind(const hc_llm_source *src, const hc_llm_config *cfg, const char *label, const char *format,
                      hc_llm_model **out, hc_error *err) {
    *out = NULL;
    /* a bound before any work that grows with the number of tensors */
    if (src->n_tensors > MAX_MODEL_TENSORS)
        return hc_fail(err, HC_E_LIMIT, "'%s' has %zu tensors, more than a llama model of at most %d layers has (%llu)",
                       label, src->n_tensors, HC_LLM_MAX_LAYERS, (unsigned long long)MAX_MODEL_TENSORS);
    /* naming convention, from the names alone */
    const char *meta_example = NULL, *hf_example = NULL, *gguf_example = NULL;
    for (size_t i = 0; i < src->n_tensors; i++) {
        const char *nm = src->info(src->user, i)->name;
        if (!meta_example && is_meta_name(nm)) meta_example = nm;
        if (!hf_example && is_hf_name(nm)) hf_example = nm;
        if (!gguf_example && is_gguf_name(nm)) gguf_example = nm;
    }
    if (gguf_example && (meta_example || hf_example))
        return hc_fail(err, HC_E_FORMAT, "'%s' mixes GGUF tensor names ('%s') with '%s'", label, gguf_example,
                       meta_example ? meta_example : hf_example);
    if (gguf_example) meta_example = gguf_example; /* told apart below */
    if (meta_example && hf_example)
        return hc_fail(err, HC_E_FORMAT, "'%s' mixes Meta/llama2.c tensor names ('%s') with Hugging Face names ('%s')",
                       label, meta_example, hf_example);
    if (!meta_example && !hf_example)
        return hc_fail(err, HC_E_FORMAT, "'%s' has no llama tensors (expected tok_embeddings.weight or model.embed_tokens.weight)",
                       label);
    const naming_table *nt = gguf_example ? &names_gguf : meta_example ? &names_meta : &names_hf;

    hc_llm_model *m = calloc(1, sizeof *m);
    if (!m) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    m->cfg = *cfg;
    m->naming = gguf_example ? HC_LLM_NAMES_GGUF : meta_example ? HC_LLM_NAMES_META : HC_LLM_NAMES_HF;
    m->format = format;
    /* shared classifier: stated, or else told by the classifier's presence */
    binder b = {src, label, m, NULL, {0}};
    size_t dup1 = 0, dup2 = 0;
    int r = hc_strindex_build(&b.names, src->n_tensors, source_key, src, &dup1, &dup2);
    if (r) {
        hc_strindex_free(&b.names);
        free(m);
        if (r < 0) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
        return hc_fail(err, HC_E_FORMAT, "'%s': tensor name '%s' appears twice (tensors #%zu and #%zu)", label,
                       src->info(src->user, dup2)->name, dup1, dup2);
    }
    int has_cls = find_tensor(&b, nt->classifier) >= 0;
    hc_status s = HC_OK;
    if (m->cfg.shared_classifier < 0) m->cfg.shared_classifier = !has_cls;
    else if (m->cfg.shared_classifier && has_cls)
        s = hc_fail(err, HC_E_FORMAT, "'%s': the hyperparameters say the classifier is the token embedding "
                    "(tie_word_embeddings), but the file has '%s'", label, nt->classifier);
    if (!s) s = hc_llm_config_check(&m->cfg, label, err);
    if (s) {
        hc_strindex_free(&b.names);
        free(m);
        return s;
    }
    const hc_llm_config *c = &m->cfg;
    m->head_size = c->dim / c->n_heads;
    m->kv_dim = m->head_size * c->n_kv_heads;
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    m->owned = calloc(src->n_tensors + 1, sizeof *m->owned);
    m->rope_freq = malloc((size_t)m->head_size / 2 * sizeof *m->rope_freq);
    b.used = calloc(src->n_tensors + 1, 1);
    if (!m->layers || !m->owned || !m->rope_freq || !b.used) {
        free(b.used);
        hc_strindex_free(&b.names);
        model_free_parts(m);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    }
    /* the same float expression as llama2.c */
    for (int j = 0; j < m->head_size / 2; j++)
        m->rope_freq[j] = 1.0f / powf(c->rope_theta, (float)(2 * j) / (float)m->head_size);

    s = bind_all(&b, nt, err);
    free(b.used);
    hc_strindex_free(&b.names);
    if (s) {
        model_free_parts(m);
        return s;
    }
    m->src = *src;
    *out = m;
    return HC_OK;
}

/* ---- sources over safetensors and .hyc handles ------------------------------- */
static const hc_tensor_info *st_info(void *user, size_t i) { return hc_st_info(user, i); }
static hc_status st_open(void *user, size_t i, hc_decoder **out, hc_error *err) {
    const hc_tensor_info *ti = hc_st_info(user, i);
    if (!hc_dtype_is_codable(ti->dtype))
        return hc_fail(err, HC_E_UNSUPPORTED, "dtype %s (weights must be F32, F16 or BF16)", hc_dtype_name(ti->dtype));
    return hc_decoder_open(HC_CODEC_RAW, NULL, 0, hc_st_data(user, i), ti->nbytes, ti->nelem, ti->dtype, out, err);
}
static void st_release(void *user) { hc_st_close(user); }

void hc_llm_source_st(hc_safetensors *st, int take_ownership, hc_llm_source *out) {
    memset(out, 0, sizeof *out);
    out->user = st;
    out->n_tensors = hc_st_count(st);
    out->info = st_info;
    out->open = st_open;
    out->release = take_ownership ? st_release : NULL;
    out->metadata = hc_st_metadata(st, &out->metadata_len);
}

static const hc_tensor_info *hyc_info(void *user, size_t i) { return &hc_hyc_get(user, i)->info; }
static hc_status hyc_open(void *user, size_t i, hc_decoder **out, hc_error *err) {
    return hc_hyc_decoder(user, i, out, err);
}
static void hyc_release(void *user) { hc_hyc_close(user); }

void hc_llm_source_hyc(hc_hyc *h, int take_ownership, hc_llm_source *out) {
    memset(out, 0, sizeof *out);
    out->user = h;
    out->n_tensors = hc_hyc_count(h);
    out->info = hyc_info;
    out->open = hyc_open;
    out->release = take_ownership ? hyc_release : NULL;
    out->metadata = hc_hyc_metadata(h, &out->metadata_len);
}

/* ---- opening ---------------------------------------------------------------------- */
hc_status hc_llm_open_source(const hc_llm_source *src, const hc_llm_config *cfg, const char *label,
                             hc_llm_model **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "model";
    hc_llm_config c;
    if (cfg) {
        c = *cfg;
    } else {
        if (!src->metadata)
            return hc_fail(err, HC_E_FORMAT, "'%s': no hyperparameters given and no metadata holding them", label);
        hc_status s = hc_llm_config_parse(src->metadata, src->metadata_len, label, &c, err);
        if (s) return s;
    }
    return hc_llm_bind(src, &c, label, "source", out, err);
}

/* Hyperparameters for a safetensors/.hyc file (issue 11, defect 8):
 *   1. config_path, when given, overrides everything;
 *   2. what the file stores: a .hyc's config.json attachment, then the
 *      file's metadata;
 *   3. only when the file stores none, config.json beside it (a .hyc says so
 *      through notice, since the file does not run on its own then).
 * A config.json beside the file that disagrees with what is stored is
 * reported through notice and ignored. */
static int config_differs(const hc_llm_config *a, const hc_llm_config *b, char *why, size_t cap) {
    struct { const char *name; double x, y; } f[] = {
        {"dim", a->dim, b->dim},
        {"hidden_dim", a->hidden_dim, b->hidden_dim},
        {"n_layers", a->n_layers, b->n_layers},
        {"n_heads", a->n_heads, b->n_heads},
        {"n_kv_heads", a->n_kv_heads, b->n_kv_heads},
        {"vocab_size", a->vocab_size, b->vocab_size},
        {"seq_len", a->seq_len, b->seq_len},
        {"norm_eps", a->norm_eps, b->norm_eps},
        {"rope_theta", a->rope_theta, b->rope_theta},
        {"shared_classifier", a->shared_classifier, b->shared_classifier},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (i == sizeof f / sizeof f[0] - 1 && (a->shared_classifier < 0 || b->shared_classifier < 0)) continue;
        if (f[i].x != f[i].y) {
            snprintf(why, cap, "%s %g there, %g stored", f[i].name, f[i].y, f[i].x);
            return 1;
        }
    }
    return 0;
}

static hc_status parse_config_file(const char *config_path, hc_llm_config *cfg, hc_error *err) {
    hc_map map;
    hc_status s = hc_map_file(config_path, &map, err);
    if (s) return s;
    if (map.len > (1u << 24)) {
        hc_unmap(&map);
        return hc_fail(err, HC_E_LIMIT, "config '%s' is larger than 16 MiB", config_path);
    }
    s = hc_llm_config_parse((const char *)map.ptr, (size_t)map.len, config_path, cfg, err);
    hc_unmap(&map);
    return s;
}

static hc_status find_config(const char *path, const char *config_path, const hc_llm_source *src, const hc_hyc *h,
                             hc_llm_notice_fn notice, void *user, hc_llm_config *cfg, hc_error *err) {
    if (config_path) return parse_config_file(config_path, cfg, err);
    /* what the file stores */
    int stored = 0;
    char label[4200];
    long ai = h ? hc_hyc_attachment_find(h, "config.json") : -1;
    if (ai >= 0) {
        const uint8_t *p;
        hc_status s = hc_hyc_attachment_data(h, (size_t)ai, &p, err);
        if (s) return s;
        snprintf(label, sizeof label, "config.json stored in '%s'", path);
        s = hc_llm_config_parse((const char *)p, (size_t)hc_hyc_attachment_get(h, (size_t)ai)->size, label, cfg, err);
        if (s) return s;
        stored = 1;
    }
    if (!stored && src->metadata && hc_gguf_is_gguf(src->metadata, src->metadata_len)) {
        snprintf(label, sizeof label, "GGUF metadata of '%s'", path);
        hc_status s = hc_gguf_llm_config_blob(src->metadata, src->metadata_len, label, cfg, err);
        if (s) return s;
        stored = 1;
    }
    if (!stored && src->metadata) {
        snprintf(label, sizeof label, "metadata of '%s'", path);
        hc_error e2;
        hc_error_clear(&e2);
        hc_status s = hc_llm_config_parse(src->metadata, src->metadata_len, label, cfg, &e2);
        if (s == HC_OK) stored = 1;
        else if (s != HC_E_FORMAT || !strstr(e2.msg, "no model hyperparameters")) {
            if (err) *err = e2;
            return s;
        }
    }
    /* config.json beside the file */
    char beside[4096];
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 1;
    snprintf(beside, sizeof beside, "%.*s/config.json", dir_len, slash ? path : ".");
    FILE *f = fopen(beside, "rb");
    if (!f) {
        if (stored) return HC_OK;
        return hc_fail(err, HC_E_FORMAT, "'%s' stores no hyperparameters: give --config FILE or put config.json beside it",
                       path);
    }
    fclose(f);
    if (!stored) {
        if (h && notice) {
            char msg[8400];
            snprintf(msg, sizeof msg, "'%s' stores no hyperparameters; using '%s' beside it", path, beside);
            notice(user, msg);
        }
        return parse_config_file(beside, cfg, err);
    }
    hc_llm_config other;
    hc_error e3;
    hc_error_clear(&e3);
    char why[256];
    int differs;
    if (parse_config_file(beside, &other, &e3) != HC_OK) {
        snprintf(why, sizeof why, "it does not parse: %.200s", e3.msg);
        differs = 1;
    } else {
        differs = config_differs(cfg, &other, why, sizeof why);
    }
    if (differs && notice) {
        char msg[9000];
        snprintf(msg, sizeof msg,
                 "'%s' beside '%s' disagrees with the hyperparameters stored in it (%s); ignored (give --config to use it)",
                 beside, path, why);
        notice(user, msg);
    }
    return HC_OK;
}

static const uint8_t hyc_magic[8] = {0x89, 'H', 'Y', 'C', '\r', '\n', 0x1a, '\n'};

/* A GGUF file: its tensors through a safetensors view (float types only),
 * hyperparameters from its llama.* keys unless a config is given. */
typedef struct gguf_src { hc_gguf *g; hc_safetensors *st; } gguf_src;
static const hc_tensor_info *gguf_info(void *user, size_t i) { return hc_st_info(((gguf_src *)user)->st, i); }
static hc_status gguf_topen(void *user, size_t i, hc_decoder **out, hc_error *err) {
    gguf_src *u = user;
    const hc_gguf_tensor *t = hc_gguf_tensor_get(u->g, i);
    const hc_ggml_type *ty = t ? hc_ggml_type_get(t->type) : NULL;
    if (ty && ty->hc_dtype < 0)
        return hc_fail(err, HC_E_UNSUPPORTED, "ggml type %s (hyperc runs F32, F16 and BF16 weights)", ty->name);
    return st_open(u->st, i, out, err);
}
static void gguf_release(void *user) {
    gguf_src *u = user;
    hc_st_close(u->st);
    hc_gguf_close(u->g);
    free(u);
}

static hc_status gguf_open_llm(const char *path, const char *config_path, hc_llm_model **out, hc_error *err) {
    gguf_src *u = calloc(1, sizeof *u);
    if (!u) return hc_fail(err, HC_E_NOMEM, "out of memory");
    hc_status s = hc_gguf_open(path, &u->g, err);
    if (!s) s = hc_gguf_as_st(u->g, &u->st, err);
    hc_llm_source src;
    memset(&src, 0, sizeof src);
    src.user = u;
    src.n_tensors = hc_gguf_tensor_count(u->g);
    src.info = gguf_info;
    src.open = gguf_topen;
    src.release = gguf_release;
    hc_llm_config cfg;
    if (!s && config_path) s = find_config(path, config_path, &src, NULL, NULL, NULL, &cfg, err);
    else if (!s) s = hc_gguf_llm_config(u->g, path, &cfg, err);
    if (!s) s = hc_llm_bind(&src, &cfg, path, "gguf", out, err);
    if (s) gguf_release(u);
    return s;
}

hc_status hc_llm_open(const char *path, const char *config_path, hc_llm_model **out, hc_error *err) {
    return hc_llm_open2(path, config_path, NULL, NULL, out, err);
}

hc_status hc_llm_open2(const char *path, const char *config_path, hc_llm_notice_fn notice, void *user,
                       hc_llm_model **out, hc_error *err) {
    *out = NULL;
    hc_map map;
    hc_status s = hc_map_file(path, &map, err);
    if (s) return s;
    if (hc_gguf_is_gguf(map.ptr, map.len)) {
        hc_unmap(&map);
        return gguf_open_llm(path, config_path, out, err);
    }
    int is_hyc = map.len >= 8 && memcmp(map.ptr, hyc_magic, 8) == 0;
    int is_st = !is_hyc && map.len >= 10 && map.ptr[8] == '{' && hc_get_u64(map.ptr) <= map.len - 8;
    hc_llm_source src;
    hc_llm_config cfg;
    const char *format;
    if (is_hyc || is_st) {
        hc_unmap(&map);
        if (is_hyc) {
            hc_hyc *h;
            if ((s = hc_hyc_open(path, &h, err)) != HC_OK) return s;
            hc_llm_source_hyc(h, 1, &src);
            format = "hyc";
        } else {
            hc_safetensors *st;
            if ((s = hc_st_open(path, &st, err)) != HC_OK) return s;
            hc_llm_source_st(st, 1, &src);
            format = "safetensors";
        }
        s = find_config(path, config_path, &src, is_hyc ? (const hc_hyc *)src.user : NULL, notice, user, &cfg, err);
    } else {
        if (config_path) {
            hc_unmap(&map);
            return hc_fail(err, HC_E_ARG, "'%s': a llama2.c checkpoint carries its own hyperparameters; no config file is used", path);
        }
        s = hc_llama2c_source(&map, path, &src, &cfg, err); /* takes the mapping */
        if (s) return s;
        format = "llama2.c";
    }
    if (!s) s = hc_llm_bind(&src, &cfg, path, format, out, err);
    if (s && src.release) src.release(src.user);
    return s;
}

/* ---- queries ---------------------------------------------------------------------- */
const hc_llm_config *hc_llm_config_of(const hc_llm_model *m) { return &m->cfg; }
hc_llm_naming hc_llm_naming_of(const hc_llm_model *m) { return m->naming; }
const char *hc_llm_format_of(const hc_llm_model *m) { return m->format; }
uint64_t hc_llm_param_count(const hc_llm_model *m) { return m->n_params; }
