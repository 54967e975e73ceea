/* llama2c_io.c — Karpathy's llama2.c checkpoints in and out, as named tensors.
 *
 * Two layouts (both little-endian, float32 arrays, each array spanning all
 * layers, as llama2.c's export.py writes them):
 *
 *   legacy     7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *              vocab_size, seq_len. vocab_size > 0: the classifier is the
 *              token embedding; < 0: a separate classifier follows. Arrays:
 *              tok_embeddings, attention_norm, wq, wk, wv, wo, ffn_norm, w1,
 *              w2, w3, norm, [freq_cis_real, freq_cis_imag: seq_len x
 *              head_size/2 each — old exporters always wrote them, files
 *              without them are accepted too], [output].
 *   version 1  256-byte header: uint32 magic 0x616b3432 ("ak42"), int32
 *              version (1), the same 7 int32 (vocab_size positive), uint8
 *              shared_classifier, zeros. Arrays: attention_norm, ffn_norm,
 *              norm, tok_embeddings, wq, wk, wv, wo, w1, w2, w3, [output].
 *              (Version 2, int8 group-quantised, is refused.)
 *
 * Tensors get Meta names (tok_embeddings.weight, layers.N.attention.wq.weight,
 * ...); the RoPE tables are kept as freq_cis_real / freq_cis_imag so that a
 * legacy file round-trips byte for byte. Rows are in llama2.c's RoPE layout
 * (interleaved pairs), which is Meta's. */
#include "llama2c_io.h"
#include "gguf.h"
#include "../infer/infer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256u

typedef unsigned long long ull;

/* ---- layout -------------------------------------------------------------- */

enum { P_ATT_NORM, P_WQ, P_WK, P_WV, P_WO, P_FFN_NORM, P_W1, P_W2, P_W3, P_COUNT };
static const char *const part_names[P_COUNT] = {"attention_norm", "attention.wq", "attention.wk",
                                                "attention.wv",   "attention.wo", "ffn_norm",
                                                "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};

void hc_l2c_layout_free(hc_l2c_layout *l) {
    if (!l) return;
    free(l->infos);
    free(l->offsets);
    l->infos = NULL;
    l->offsets = NULL;
    l->n = 0;
}

static void set_info(hc_tensor_info *ti, const char *name, uint64_t d0, uint64_t d1) {
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", name);
    ti->dtype = HC_F32;
    ti->ndim = d1 ? 2 : 1;
    ti->shape[0] = d0;
    ti->shape[1] = d1;
    ti->nelem = d1 ? d0 * d1 : d0;
    ti->nbytes = ti->nelem * 4;
}

/* Fills l->infos (layer-major) and l->offsets (file order of l->version) from
 * a checked l->cfg; sets l->file_bytes. */
static hc_status layout_make(hc_l2c_layout *l, const char *label, hc_error *err) {
    const hc_llm_config *c = &l->cfg;
    const uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    const uint64_t vocab = (uint64_t)c->vocab_size, hs = dim / (uint64_t)c->n_heads;
    const uint64_t kv = hs * (uint64_t)c->n_kv_heads;
    const int rope = l->version == 0 && l->has_rope, cls = !c->shared_classifier;
    l->n = 2 + P_COUNT * (size_t)L + (rope ? 2 : 0) + (cls ? 1 : 0);
    l->infos = calloc(l->n, sizeof *l->infos);
    l->offsets = calloc(l->n, sizeof *l->offsets);
    if (!l->infos || !l->offsets) {
        hc_l2c_layout_free(l);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    }
    /* layer-major list */
    const uint64_t rows[P_COUNT] = {dim, dim, kv, kv, dim, dim, hid, dim, hid};
    const uint64_t cols[P_COUNT] = {0, dim, dim, dim, dim, 0, dim, hid, dim};
    char name[128];
    size_t k = 0;
    set_info(&l->infos[k++], "tok_embeddings.weight", vocab, dim);
    for (uint64_t i = 0; i < L; i++)
        for (int p = 0; p < P_COUNT; p++) {
            snprintf(name, sizeof name, "layers.%llu.%s.weight", (ull)i, part_names[p]);
            set_info(&l->infos[k++], name, rows[p], cols[p]);
        }
    const size_t i_norm = k;
    set_info(&l->infos[k++], "norm.weight", dim, 0);
    if (rope) {
        set_info(&l->infos[k++], "freq_cis_real", (uint64_t)c->seq_len, hs / 2);
        set_info(&l->infos[k++], "freq_cis_imag", (uint64_t)c->seq_len, hs / 2);
    }
    if (cls) set_info(&l->infos[k++], "output.weight", vocab, dim);

    /* file order: walk it, giving each tensor its offset */
    uint64_t off = l->header_bytes;
#define PLACE(idx) (l->offsets[(idx)] = off, off += l->infos[(idx)].nbytes)
#define LAYER(i, p) (1 + P_COUNT * (size_t)(i) + (p))
    if (l->version == 0) {
        PLACE(0);
        for (int p = 0; p < P_COUNT; p++)
            for (uint64_t i = 0; i < L; i++) PLACE(LAYER(i, p));
        PLACE(i_norm);
        if (rope) {
            PLACE(i_norm + 1);
            PLACE(i_norm + 2);
        }
    } else {
        for (uint64_t i = 0; i < L; i++) PLACE(LAYER(i, P_ATT_NORM));
        for (uint64_t i = 0; i < L; i++) PLACE(LAYER(i, P_FFN_NORM));
        PLACE(i_norm);
        PLACE(0);
        static const int rest[] = {P_WQ, P_WK, P_WV, P_WO, P_W1, P_W2, P_W3};
        for (size_t r = 0; r < sizeof rest / sizeof rest[0]; r++)
            for (uint64_t i = 0; i < L; i++) PLACE(LAYER(i, rest[r]));
    }
    if (cls) PLACE(l->n - 1);
#undef PLACE
#undef LAYER
    l->file_bytes = off;
    return HC_OK;
}

/* Bytes of a checkpoint with this (checked) config: total weights and RoPE. */
static void sizes_of(const hc_llm_config *c, uint64_t header, uint64_t *base_cls, uint64_t *rope) {
    const uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    const uint64_t vocab = (uint64_t)c->vocab_size, hs = dim / (uint64_t)c->n_heads;
    const uint64_t kv = hs * (uint64_t)c->n_kv_heads;
    /* bounded by hc_llm_config_check (dim <= 2^20, hidden <= 2^22, layers
     * <= 2^12, vocab <= 2^24): below 2^60, no overflow */
    uint64_t w = vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * dim * hid) + dim;
    if (!c->shared_classifier) w += vocab * dim;
    *base_cls = header + 4 * w;
    *rope = 4 * (uint64_t)c->seq_len * hs;
}

hc_status hc_l2c_parse(const uint8_t *p, uint64_t len, const char *label, hc_l2c_layout *out, hc_error *err) {
    memset(out, 0, sizeof *out);
    int32_t h[7];
    if (len >= 4 && hc_get_u32(p) == L2C_MAGIC) {
        if (len < 8)
            return hc_fail(err, HC_E_CORRUPT, "llama2.c checkpoint '%s': %llu bytes, truncated inside the header",
                           label, (ull)len);
        uint32_t ver = hc_get_u32(p + 4);
        if (ver == 2)
            return hc_fail(err, HC_E_UNSUPPORTED,
                           "llama2.c checkpoint '%s' is version 2 (int8 group-quantised): not supported, "
                           "export it as version 0 or 1 (float32)", label);
        if (ver != 1)
            return hc_fail(err, HC_E_UNSUPPORTED, "llama2.c checkpoint '%s': unknown version %u (known: 0, 1)",
                           label, ver);
        if (len < L2C_V1_HEADER)
            return hc_fail(err, HC_E_CORRUPT,
                           "llama2.c checkpoint '%s': %llu bytes, truncated inside the 256-byte version 1 header",
                           label, (ull)len);
        for (int i = 0; i < 7; i++) h[i] = (int32_t)hc_get_u32(p + 8 + 4 * i);
        if (p[36] > 1)
            return hc_fail(err, HC_E_CORRUPT, "llama2.c checkpoint '%s': shared_classifier flag is %u (must be 0 or 1)",
                           label, p[36]);
        if (h[5] <= 0)
            return hc_fail(err, HC_E_CORRUPT, "llama2.c checkpoint '%s' (version 1): vocab_size %d is not positive",
                           label, h[5]);
        out->version = 1;
        out->header_bytes = L2C_V1_HEADER;
        out->cfg.shared_classifier = p[36];
    } else {
        if (len >= 4 && !memcmp(p, "GGUF", 4))
            return hc_fail(err, HC_E_FORMAT, "'%s' is a GGUF file, not a llama2.c checkpoint", label);
        if (len >= 4 && !memcmp(p, "PK\x03\x04", 4))
            return hc_fail(err, HC_E_FORMAT, "'%s' is a zip archive (a PyTorch checkpoint?), not a llama2.c "
                           "checkpoint: save it as safetensors first", label);
        if (len < 28)
            return hc_fail(err, HC_E_FORMAT, "'%s': %llu bytes, too short for a llama2.c checkpoint (28-byte header)",
                           label, (ull)len);
        for (int i = 0; i < 7; i++) h[i] = (int32_t)hc_get_u32(p + 4 * i);
        out->version = 0;
        out->header_bytes = 28;
        out->cfg.shared_classifier = h[5] > 0;
    }
    hc_llm_config *c = &out->cfg;
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -h[5] : h[5]);
    c->seq_len = h[6];
    c->norm_eps = 1e-5f; /* what llama2.c uses */
    c->rope_theta = 10000.0f;
    hc_error cerr;
    hc_error_clear(&cerr);
    if (hc_llm_config_check(c, "header", &cerr) != HC_OK)
        return hc_fail(err, HC_E_FORMAT, "'%s' is not a valid llama2.c checkpoint (%s: dim %d, hidden_dim %d, "
                       "n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d)",
                       label, cerr.msg, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    uint64_t base, rope;
    sizes_of(c, out->header_bytes, &base, &rope);
    if (len == base) out->has_rope = 0;
    else if (out->version == 0 && len == base + rope) out->has_rope = 1;
    else if (out->version == 0)
        return hc_fail(err, HC_E_CORRUPT,
                       "llama2.c checkpoint '%s' is %llu bytes, but its header (dim %d, hidden_dim %d, n_layers %d, "
                       "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier) needs %llu bytes, or "
                       "%llu with the RoPE tables (truncated or inconsistent file)",
                       label, (ull)len, h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                       c->shared_classifier ? "shared" : "separate", (ull)(base), (ull)(base + rope));
    else
        return hc_fail(err, HC_E_CORRUPT,
                       "llama2.c checkpoint '%s' (version 1) is %llu bytes, but its header (dim %d, hidden_dim %d, "
                       "n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier) needs "
                       "%llu bytes (truncated or inconsistent file)",
                       label, (ull)len, h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                       c->shared_classifier ? "shared" : "separate", (ull)base);
    return layout_make(out, label, err);
}

static const uint8_t hyc_magic[8] = {0x89, 'H', 'Y', 'C', '\r', '\n', 0x1a, '\n'};

static int looks_st(const uint8_t *p, uint64_t len) { return len >= 10 && p[8] == '{'; }
static int looks_hyc(const uint8_t *p, uint64_t len) { return len >= 8 && memcmp(p, hyc_magic, 8) == 0; }

int hc_l2c_path_is_bin(const char *path) {
    size_t n = path ? strlen(path) : 0;
    return n >= 4 && strcmp(path + n - 4, ".bin") == 0;
}

int hc_l2c_sniff(const uint8_t *p, uint64_t len, const char *path) {
    if (len >= 4 && hc_get_u32(p) == L2C_MAGIC) return 1;
    return !looks_st(p, len) && !looks_hyc(p, len) && hc_l2c_path_is_bin(path);
}

/* ---- in-memory safetensors images --------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_u64(sbuf *b, uint64_t v) {
    char t[24];
    sb_str(b, (snprintf(t, sizeof t, "%llu", (ull)v), t));
}
static void sb_json(sbuf *b, const char *s) {
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char t[8];
        if (ch == '"' || ch == '\\') {
            t[0] = '\\';
            t[1] = (char)ch;
            sb_add(b, t, 2);
        } else if (ch < 0x20) {
            snprintf(t, sizeof t, "\\u%04x", ch);
            sb_add(b, t, 6);
        } else {
            sb_add(b, (const char *)&ch, 1);
        }
    }
    sb_add(b, "\"", 1);
}

hc_status hc_st_image(const hc_tensor_info *infos, size_t n, const char *meta, size_t meta_len, const char *label,
                      hc_st_fill_fn fill, void *user, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    sbuf b = {0};
    sb_add(&b, "{", 1);
    if (meta) {
        sb_str(&b, "\"__metadata__\":");
        sb_add(&b, meta, meta_len);
    }
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const hc_tensor_info *t = &infos[i];
        if (i || meta) sb_add(&b, ",", 1);
        sb_json(&b, t->name);
        sb_str(&b, ":{\"dtype\":\"");
        sb_str(&b, hc_dtype_name(t->dtype));
        sb_str(&b, "\",\"shape\":[");
        for (uint32_t d = 0; d < t->ndim; d++) {
            if (d) sb_add(&b, ",", 1);
            sb_u64(&b, t->shape[d]);
        }
        sb_str(&b, "],\"data_offsets\":[");
        sb_u64(&b, at);
        sb_add(&b, ",", 1);
        if (at + t->nbytes < at) {
            free(b.p);
            return hc_fail(err, HC_E_LIMIT, "'%s': total tensor size overflows 64 bits", label);
        }
        at += t->nbytes;
        sb_u64(&b, at);
        sb_str(&b, "]}");
    }
    sb_add(&b, "}", 1);
    while (!b.oom && b.len % 8) sb_add(&b, " ", 1);
    if (b.oom) {
        free(b.p);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory building a safetensors header", label);
    }
    uint64_t total = 8 + (uint64_t)b.len + at;
    if (total < at || (uint64_t)(size_t)total != total) {
        free(b.p);
        return hc_fail(err, HC_E_LIMIT, "'%s': %llu bytes of tensors do not fit in memory", label, (ull)at);
    }
    void *mem = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        free(b.p);
        return hc_fail(err, HC_E_NOMEM, "'%s': cannot allocate %llu bytes for the tensors", label, (ull)total);
    }
    uint8_t *m8 = mem;
    hc_put_u64(m8, (uint64_t)b.len);
    memcpy(m8 + 8, b.p, b.len);
    uint8_t *data = m8 + 8 + b.len;
    free(b.p);
    hc_status s = HC_OK;
    at = 0;
    for (size_t i = 0; i < n && s == HC_OK; i++) {
        s = fill(user, i, data + at, err);
        at += infos[i].nbytes;
    }
    if (s) {
        munmap(mem, (size_t)total);
        return s;
    }
    hc_map map = {m8, total, 1};
    return hc_st_open_map(&map, label, out, err);
}

/* ---- llama2.c -> tensors -------------------------------------------------- */

typedef struct l2c_fill {
    const hc_map *map;
    const hc_l2c_layout *l;
} l2c_fill;

static hc_status fill_l2c(void *user, size_t i, uint8_t *dst, hc_error *err) {
    (void)err;
    const l2c_fill *f = user;
    memcpy(dst, f->map->ptr + f->l->offsets[i], (size_t)f->l->infos[i].nbytes);
    return HC_OK;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

hc_status hc_l2c_open_st(const char *path, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    hc_map map;
    hc_status s = hc_map_file(path, &map, err);
    if (s) return s;
    hc_l2c_layout l;
    s = hc_l2c_parse(map.ptr, map.len, path, &l, err);
    if (s) {
        hc_unmap(&map);
        return s;
    }
    /* metadata as in stories260K.safetensors (all values strings) */
    sbuf m = {0};
    char src[1200], num[32];
    snprintf(src, sizeof src, "%s (llama2.c %s)", base_name(path), l.version ? "version 1" : "legacy");
    sb_str(&m, "{\"source\":");
    sb_json(&m, src);
    const char *keys[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    const int vals[] = {l.cfg.dim,        l.cfg.hidden_dim, l.cfg.n_layers, l.cfg.n_heads,
                        l.cfg.n_kv_heads, l.cfg.vocab_size, l.cfg.seq_len};
    for (int k = 0; k < 7; k++) {
        snprintf(num, sizeof num, "\"%d\"", vals[k]);
        sb_str(&m, ",\"");
        sb_str(&m, keys[k]);
        sb_str(&m, "\":");
        sb_str(&m, num);
    }
    sb_str(&m, l.cfg.shared_classifier ? ",\"shared_classifier\":\"True\"" : ",\"shared_classifier\":\"False\"");
    sb_str(&m, l.version ? ",\"llama2c_version\":\"1\"}" : ",\"llama2c_version\":\"0\"}");
    if (m.oom) s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    l2c_fill f = {&map, &l};
    if (!s) s = hc_st_image(l.infos, l.n, m.p, m.len, path, fill_l2c, &f, out, err);
    free(m.p);
    hc_l2c_layout_free(&l);
    hc_unmap(&map);
    return s;
}

/* ---- tensors -> llama2.c -------------------------------------------------- */

hc_status hc_l2c_write(const hc_safetensors *st, const char *path, int version, int overwrite, hc_error *err) {
    if (hc_st_find(st, "model.embed_tokens.weight") >= 0) { /* Hugging Face names: to Meta's first */
        hc_safetensors *meta_named = NULL;
        hc_status s = hc_llama_renamed(st, 0, path, &meta_named, err);
        if (s) return s;
        s = hc_l2c_write(meta_named, path, version, overwrite, err);
        hc_st_close(meta_named);
        return s;
    }
    size_t mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    if (!meta)
        return hc_fail(err, HC_E_FORMAT, "writing llama2.c checkpoint '%s': the input has no hyperparameters "
                       "(metadata with dim, hidden_dim, n_layers, n_heads, ...)", path);
    hc_l2c_layout l;
    memset(&l, 0, sizeof l);
    char label[1100];
    snprintf(label, sizeof label, "writing llama2.c checkpoint '%s'", path);
    hc_status s = hc_llm_config_parse(meta, mlen, label, &l.cfg, err);
    if (s) return s;
    if (l.cfg.shared_classifier < 0) l.cfg.shared_classifier = hc_st_find(st, "output.weight") < 0;
    if ((s = hc_llm_config_check(&l.cfg, label, err)) != HC_OK) return s;
    if (version < 0) {
        char v[16];
        version = hc_json_object_get(meta, mlen, "llama2c_version", v, sizeof v) && !strcmp(v, "1") ? 1 : 0;
    }
    l.version = version;
    l.header_bytes = version ? L2C_V1_HEADER : 28;
    l.has_rope = version == 0;
    if ((s = layout_make(&l, label, err)) != HC_OK) return s;

    /* every tensor present with its shape; nothing else but the RoPE tables */
    long *idx = malloc(l.n * sizeof *idx);
    if (!idx) {
        hc_l2c_layout_free(&l);
        return hc_fail(err, HC_E_NOMEM, "%s: out of memory", label);
    }
    size_t matched = 0;
    for (size_t i = 0; i < l.n && !s; i++) {
        const hc_tensor_info *want = &l.infos[i];
        idx[i] = hc_st_find(st, want->name);
        int is_rope = !strncmp(want->name, "freq_cis_", 9);
        if (idx[i] < 0) {
            if (!is_rope)
                s = hc_fail(err, HC_E_FORMAT, "%s: tensor '%s' is missing (Meta naming needed)", label, want->name);
            continue;
        }
        const hc_tensor_info *got = hc_st_info(st, (size_t)idx[i]);
        matched++;
        if (got->nelem != want->nelem || got->shape[0] != want->shape[0] || !hc_dtype_is_codable(got->dtype))
            s = hc_fail(err, HC_E_FORMAT, "%s: tensor '%s' is %s with %llu elements (%llu rows), expected F32 %llu x %llu",
                        label, want->name, hc_dtype_name(got->dtype), (ull)got->nelem, (ull)got->shape[0],
                        (ull)want->shape[0], (ull)(want->shape[1] ? want->shape[1] : 1));
    }
    for (size_t i = 0; i < hc_st_count(st) && !s && matched != hc_st_count(st); i++) {
        const char *nm = hc_st_info(st, i)->name;
        int known = 0;
        for (size_t k = 0; k < l.n && !known; k++) known = !strcmp(l.infos[k].name, nm);
        if (!known && strncmp(nm, "freq_cis_", 9) != 0)
            s = hc_fail(err, HC_E_FORMAT, "%s: tensor '%s' has no place in a llama2.c checkpoint", label, nm);
    }
    /* file order */
    size_t *order = s ? NULL : malloc(l.n * sizeof *order);
    if (!s && !order) s = hc_fail(err, HC_E_NOMEM, "%s: out of memory", label);
    for (size_t i = 0; i < l.n && !s; i++) order[i] = i;
    for (size_t i = 1; i < l.n && !s; i++) /* insertion sort by offset (n is small) */
        for (size_t j = i; j > 0 && l.offsets[order[j - 1]] > l.offsets[order[j]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    hc_outfile o;
    int open = 0;
    if (!s && (s = hc_out_open(&o, path, overwrite, err)) == HC_OK) open = 1;
    if (!s) {
        uint8_t hdr[L2C_V1_HEADER];
        memset(hdr, 0, sizeof hdr);
        const hc_llm_config *c = &l.cfg;
        int32_t h[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len};
        uint8_t *q = hdr;
        if (version) {
            hc_put_u32(hdr, L2C_MAGIC);
            hc_put_u32(hdr + 4, 1);
            q = hdr + 8;
            hdr[36] = (uint8_t)c->shared_classifier;
        } else if (!c->shared_classifier) {
            h[5] = -h[5];
        }
        for (int k = 0; k < 7; k++) hc_put_u32(q + 4 * k, (uint32_t)h[k]);
        s = hc_out_write(&o, hdr, (size_t)l.header_bytes, err);
    }
    float *buf = NULL;
    for (size_t k = 0; k < l.n && !s; k++) {
        size_t i = order[k];
        const hc_tensor_info *want = &l.infos[i];
        if (idx[i] >= 0 && hc_st_info(st, (size_t)idx[i])->dtype == HC_F32) {
            s = hc_out_write(&o, hc_st_data(st, (size_t)idx[i]), (size_t)want->nbytes, err);
            continue;
        }
        free(buf);
        buf = malloc(want->nbytes ? (size_t)want->nbytes : 1);
        if (!buf) {
            s = hc_fail(err, HC_E_NOMEM, "%s: out of memory", label);
            break;
        }
        if (idx[i] >= 0) {
            hc_to_f32(hc_st_info(st, (size_t)idx[i])->dtype, hc_st_data(st, (size_t)idx[i]), buf, want->nelem);
        } else { /* RoPE table, as llama2.c's model.py computes it */
            const int is_sin = !strcmp(want->name, "freq_cis_imag");
            const uint64_t half = want->shape[1], hs = 2 * half;
            for (uint64_t t = 0; t < want->shape[0]; t++)
                for (uint64_t j = 0; j < half; j++) {
                    float fr = 1.0f / powf(l.cfg.rope_theta, (float)(2 * j) / (float)hs);
                    float a = (float)t * fr;
                    buf[t * half + j] = is_sin ? sinf(a) : cosf(a);
                }
        }
        s = hc_out_write(&o, buf, (size_t)want->nbytes, err);
    }
    free(buf);
    if (open) {
        if (s) hc_out_abort(&o);
        else s = hc_out_commit(&o, err);
    }
    free(order);
    free(idx);
    hc_l2c_layout_free(&l);
    return s;
}

/* ---- .hyc -> tensors ------------------------------------------------------ */

static hc_status fill_hyc(void *user, size_t i, uint8_t *dst, hc_error *err) {
    const hc_hyc *h = user;
    const hc_hyc_entry *e = hc_hyc_get(h, i);
    if (e->codec == HC_CODEC_RAW) {
        const uint8_t *p;
        hc_status s = hc_hyc_payload(h, i, &p, err);
        if (s) return s;
        if (e->size != e->info.nbytes)
            return hc_fail(err, HC_E_CORRUPT, "tensor '%s': raw payload of %llu bytes for %llu bytes of data",
                           e->info.name, (ull)e->size, (ull)e->info.nbytes);
        memcpy(dst, p, (size_t)e->info.nbytes);
        return HC_OK;
    }
    hc_decoder *d = NULL;
    hc_status s = hc_hyc_decoder(h, i, &d, err);
    if (s) return s;
    uint64_t bytes;
    float *f = NULL;
    void *conv = NULL;
    if (hc_mul_ok(e->info.nelem, 4, &bytes) && (uint64_t)(size_t)bytes == bytes) f = malloc(bytes ? (size_t)bytes : 1);
    if (f && e->info.dtype != HC_F32) conv = malloc(e->info.nbytes ? (size_t)e->info.nbytes : 1);
    if (!f || (e->info.dtype != HC_F32 && !conv)) {
        hc_decoder_free(d);
        free(f);
        return hc_fail(err, HC_E_NOMEM, "tensor '%s': cannot allocate %llu floats", e->info.name, (ull)e->info.nelem);
    }
    hc_decode_all(d, f);
    hc_decoder_free(d);
    if (conv) hc_from_f32(e->info.dtype, f, conv, e->info.nelem);
    memcpy(dst, conv ? conv : (void *)f, (size_t)e->info.nbytes);
    free(conv);
    free(f);
    return HC_OK;
}

/* A .hyc made from a Hugging Face folder keeps its hyperparameters in the
 * stored config.json, not in the metadata. When the metadata has none, they
 * are added to it in its own form ("dim": "64", ...), so the tensors can be
 * written as a llama2.c checkpoint or renamed. NULL: nothing to add. */
static char *config_metadata(const hc_hyc *h, const char *meta, size_t mlen, size_t *out_len) {
    hc_llm_config c;
    hc_error e;
    hc_error_clear(&e);
    if (meta && hc_llm_config_parse(meta, mlen, "metadata", &c, &e) == HC_OK) return NULL;
    long ai = hc_hyc_attachment_find(h, "config.json");
    const uint8_t *p;
    if (ai < 0 || hc_hyc_attachment_data(h, (size_t)ai, &p, &e) != HC_OK ||
        hc_llm_config_parse((const char *)p, (size_t)hc_hyc_attachment_get(h, (size_t)ai)->size, "config.json", &c,
                            &e) != HC_OK)
        return NULL;
    char keys[512];
    int k = snprintf(keys, sizeof keys,
                     "\"dim\":\"%d\",\"hidden_dim\":\"%d\",\"n_layers\":\"%d\",\"n_heads\":\"%d\","
                     "\"n_kv_heads\":\"%d\",\"vocab_size\":\"%d\",\"seq_len\":\"%d\",\"norm_eps\":\"%g\","
                     "\"rope_theta\":\"%g\"%s",
                     c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
                     (double)c.norm_eps, (double)c.rope_theta,
                     c.shared_classifier < 0 ? "" : c.shared_classifier ? ",\"shared_classifier\":\"True\""
                                                                         : ",\"shared_classifier\":\"False\"");
    if (k <= 0 || (size_t)k >= sizeof keys) return NULL;
    /* meta is a JSON object (or absent): its members, then these */
    size_t body = 0;
    const char *open = meta ? memchr(meta, '{', mlen) : NULL;
    const char *close = NULL;
    for (size_t i = mlen; meta && i > 0; i--)
        if (meta[i - 1] == '}') {
            close = meta + i - 1;
            break;
        }
    if (open && close && close > open) {
        body = (size_t)(close - open - 1);
        int empty = 1;
        for (size_t i = 0; i < body; i++)
            if (!strchr(" \t\r\n", open[1 + i])) empty = 0;
        if (empty) body = 0;
    }
    char *m = malloc(body + (size_t)k + 4);
    if (!m) return NULL;
    size_t at = 0;
    m[at++] = '{';
    if (body) {
        memcpy(m + at, open + 1, body);
        at += body;
        m[at++] = ',';
    }
    memcpy(m + at, keys, (size_t)k);
    at += (size_t)k;
    m[at++] = '}';
    m[at] = 0;
    *out_len = at;
    return m;
}

hc_status hc_hyc_open_st(const char *path, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    hc_hyc *h = NULL;
    hc_status s = hc_hyc_open(path, &h, err);
    if (s) return s;
    size_t n = hc_hyc_count(h);
    hc_tensor_info *infos = calloc(n ? n : 1, sizeof *infos);
    if (!infos) {
        hc_hyc_close(h);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    }
    for (size_t i = 0; i < n; i++) infos[i] = hc_hyc_get(h, i)->info;
    size_t mlen = 0;
    const char *meta = hc_hyc_metadata(h, &mlen);
    if (hc_gguf_is_gguf(meta, mlen)) { /* a GGUF header, not safetensors' JSON metadata: not carried */
        meta = NULL;
        mlen = 0;
    }
    char *with_cfg = config_metadata(h, meta, mlen, &mlen);
    if (with_cfg) meta = with_cfg;
    s = hc_st_image(infos, n, meta, mlen, path, fill_hyc, h, out, err);
    free(with_cfg);
    free(infos);
    hc_hyc_close(h);
    if (s) hc_error_context(err, s, "decoding '%s'", path);
    return s;
}

/* ---- any model file ------------------------------------------------------- */

hc_status hc_model_open_st(const char *path, int decode_hyc, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    if (hc_gguf_sniff(path)) return hc_gguf_open_st(path, out, err); /* metadata: the GGUF header */
    hc_map map;
    hc_status s = hc_map_file(path, &map, err);
    if (s) return s;
    int hyc = looks_hyc(map.ptr, map.len);
    int l2c = !hyc && hc_l2c_sniff(map.ptr, map.len, path);
    if (!hyc && !l2c) { /* any name (even '{' at byte 8): a checkpoint whose header and size agree */
        hc_l2c_layout l;
        hc_error e2;
        hc_error_clear(&e2);
        if (hc_l2c_parse(map.ptr, map.len, path, &l, &e2) == HC_OK) {
            l2c = 1;
            hc_l2c_layout_free(&l);
        }
    }
    hc_unmap(&map);
    if (l2c) return hc_l2c_open_st(path, out, err);
    if (hyc && decode_hyc) return hc_hyc_open_st(path, out, err);
    return hc_st_open(path, out, err);
}

/* ---- writers -------------------------------------------------------------- */

hc_status hc_hyc_write_raw(const hc_safetensors *st, const char *path, int overwrite, hc_error *err) {
    hc_hyc_writer *w = NULL;
    hc_status s = hc_hyc_writer_open(path, overwrite, &w, err);
    if (s) return s;
    for (size_t i = 0; i < hc_st_count(st) && !s; i++) {
        hc_hyc_entry e;
        memset(&e, 0, sizeof e);
        e.info = *hc_st_info(st, i);
        e.codec = HC_CODEC_RAW;
        s = hc_hyc_writer_add(w, &e, hc_st_data(st, i), e.info.nbytes, err);
    }
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    size_t mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    return hc_hyc_writer_finish(w, meta, mlen, err);
}

hc_status hc_st_write_all(const hc_safetensors *st, const char *path, int overwrite, hc_error *err) {
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n ? n : 1, sizeof *infos);
    if (!infos) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    for (size_t i = 0; i < n; i++) infos[i] = *hc_st_info(st, i);
    size_t mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    hc_st_writer *w = NULL;
    hc_status s = hc_st_writer_open(path, infos, n, meta, mlen, overwrite, &w, err);
    free(infos);
    if (s) return s;
    for (size_t i = 0; i < n && !s; i++) s = hc_st_writer_put(w, i, hc_st_data(st, i), err);
    if (s) {
        hc_st_writer_abort(w);
        return s;
    }
    return hc_st_writer_finish(w, err);
}

hc_status hc_l2c_decompress(const char *in_path, const char *out_path, int version, int overwrite, hc_error *err) {
    hc_safetensors *st = NULL;
    hc_status s = hc_hyc_open_st(in_path, &st, err);
    if (s) return s;
    s = hc_l2c_write(st, out_path, version, overwrite, err);
    hc_st_close(st);
    if (s) hc_error_context(err, s, "decompressing '%s'", in_path);
    return s;
}
