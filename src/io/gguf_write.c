/* gguf_write.c — GGUF writers: a builder for new files (tests, seeds, a
 * fresh GGUF from a .hyc) and the streaming writer decompression uses, which
 * puts a stored GGUF header back byte for byte. See gguf.h. */
#include "gguf.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

typedef unsigned long long ull;

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* ===================================================================== */
/* Building                                                               */
/* ===================================================================== */

typedef struct bbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} bbuf;

static uint8_t *bb_room(bbuf *b, size_t n) {
    if (b->oom) return NULL;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->len + n) nc *= 2;
        uint8_t *t = realloc(b->p, nc);
        if (!t) { b->oom = 1; return NULL; }
        b->p = t;
        b->cap = nc;
    }
    uint8_t *r = b->p + b->len;
    b->len += n;
    return r;
}
static void bb_put(bbuf *b, const void *p, size_t n) {
    uint8_t *r = bb_room(b, n);
    if (r && n) memcpy(r, p, n);
}
static void bb_u32(bbuf *b, uint32_t v) { uint8_t *r = bb_room(b, 4); if (r) hc_put_u32(r, v); }
static void bb_u64(bbuf *b, uint64_t v) { uint8_t *r = bb_room(b, 8); if (r) hc_put_u64(r, v); }
static void bb_str(bbuf *b, const char *s, size_t n) { bb_u64(b, n); bb_put(b, s, n); }

typedef struct b_tensor {
    char *name;
    uint32_t ndim, type;
    uint64_t ne[HC_GGUF_MAX_DIMS], nbytes, offset;
    const void *data;
} b_tensor;

struct hc_gguf_build {
    uint32_t version;
    uint64_t n_kv, alignment;
    bbuf kv;
    b_tensor *t;
    size_t n_t, cap;
};

hc_status hc_gguf_build_new(uint32_t version, hc_gguf_build **out, hc_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return hc_fail(err, HC_E_NOMEM, "out of memory");
    (*out)->version = version;
    (*out)->alignment = HC_GGUF_DEFAULT_ALIGNMENT;
    return HC_OK;
}

void hc_gguf_build_free(hc_gguf_build *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_t; i++) free(b->t[i].name);
    free(b->t);
    free(b->kv.p);
    free(b);
}

hc_status hc_gguf_build_kv(hc_gguf_build *b, const char *key, uint32_t type, const void *val, size_t len,
                           hc_error *err) {
    size_t kl = strlen(key);
    if (!kl || kl > HC_GGUF_MAX_KEY || type >= HC_GGUF_TYPE_COUNT)
        return hc_fail(err, HC_E_ARG, "GGUF key '%s': bad key or type", key);
    if (!strcmp(key, "general.alignment")) {
        uint32_t a = len == 4 && type == HC_GGUF_UINT32 ? hc_get_u32(val) : 0;
        if (!a || (a & (a - 1))) return hc_fail(err, HC_E_ARG, "general.alignment must be a uint32 power of two");
        b->alignment = a;
    }
    bb_str(&b->kv, key, kl);
    bb_u32(&b->kv, type);
    bb_put(&b->kv, val, len);
    if (b->kv.oom) return hc_fail(err, HC_E_NOMEM, "out of memory");
    b->n_kv++;
    return HC_OK;
}

hc_status hc_gguf_build_u32(hc_gguf_build *b, const char *key, uint32_t v, hc_error *err) {
    uint8_t x[4];
    hc_put_u32(x, v);
    return hc_gguf_build_kv(b, key, HC_GGUF_UINT32, x, 4, err);
}

hc_status hc_gguf_build_f32(hc_gguf_build *b, const char *key, float v, hc_error *err) {
    uint8_t x[4];
    hc_put_f32(x, v);
    return hc_gguf_build_kv(b, key, HC_GGUF_FLOAT32, x, 4, err);
}

hc_status hc_gguf_build_str(hc_gguf_build *b, const char *key, const char *s, hc_error *err) {
    bbuf v = {0};
    bb_str(&v, s, strlen(s));
    hc_status st = v.oom ? hc_fail(err, HC_E_NOMEM, "out of memory") : hc_gguf_build_kv(b, key, HC_GGUF_STRING, v.p, v.len, err);
    free(v.p);
    return st;
}

hc_status hc_gguf_build_str_array(hc_gguf_build *b, const char *key, const char *const *s, size_t n, hc_error *err) {
    bbuf v = {0};
    bb_u32(&v, HC_GGUF_STRING);
    bb_u64(&v, n);
    for (size_t i = 0; i < n; i++) bb_str(&v, s[i], strlen(s[i]));
    hc_status st = v.oom ? hc_fail(err, HC_E_NOMEM, "out of memory") : hc_gguf_build_kv(b, key, HC_GGUF_ARRAY, v.p, v.len, err);
    free(v.p);
    return st;
}

hc_status hc_gguf_build_tensor(hc_gguf_build *b, const char *name, uint32_t ndim, const uint64_t *ne,
                               uint32_t ggml_type, const void *data, hc_error *err) {
    const hc_ggml_type *ty = hc_ggml_type_get(ggml_type);
    if (!ty) return hc_fail(err, HC_E_ARG, "tensor '%s': unknown ggml type %u", name, ggml_type);
    if (ndim > HC_GGUF_MAX_DIMS) return hc_fail(err, HC_E_ARG, "tensor '%s': %u dimensions", name, ndim);
    uint64_t n = 1;
    for (uint32_t d = 0; d < ndim; d++)
        if (!hc_mul_ok(n, ne[d], &n)) return hc_fail(err, HC_E_ARG, "tensor '%s': too large", name);
    if (ty->block > 1 && (!ndim || ne[0] % ty->block))
        return hc_fail(err, HC_E_ARG, "tensor '%s': first dimension not a multiple of %u", name, ty->block);
    if (b->n_t == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 16;
        b_tensor *t = realloc(b->t, nc * sizeof *t);
        if (!t) return hc_fail(err, HC_E_NOMEM, "out of memory");
        b->t = t;
        b->cap = nc;
    }
    b_tensor *t = &b->t[b->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return hc_fail(err, HC_E_NOMEM, "out of memory");
    t->ndim = ndim;
    t->type = ggml_type;
    for (uint32_t d = 0; d < ndim; d++) t->ne[d] = ne[d];
    t->nbytes = n / ty->block * ty->bytes;
    t->data = data;
    b->n_t++;
    return HC_OK;
}

/* Header bytes (magic .. tensor infos), offsets assigned llama.cpp's way. */
static hc_status build_header(hc_gguf_build *b, bbuf *h, hc_error *err) {
    bb_put(h, "GGUF", 4);
    bb_u32(h, b->version);
    bb_u64(h, b->n_t);
    bb_u64(h, b->n_kv);
    bb_put(h, b->kv.p, b->kv.len);
    uint64_t off = 0;
    for (size_t i = 0; i < b->n_t; i++) {
        b_tensor *t = &b->t[i];
        bb_str(h, t->name, strlen(t->name));
        bb_u32(h, t->ndim);
        for (uint32_t d = 0; d < t->ndim; d++) bb_u64(h, t->ne[d]);
        bb_u32(h, t->type);
        bb_u64(h, off);
        t->offset = off;
        off = align_up(off + t->nbytes, b->alignment);
    }
    return h->oom ? hc_fail(err, HC_E_NOMEM, "out of memory") : HC_OK;
}

hc_status hc_gguf_build_image(hc_gguf_build *b, uint8_t **img, size_t *len, hc_error *err) {
    bbuf h = {0};
    hc_status s = build_header(b, &h, err);
    if (s == HC_OK && b->n_t) {
        size_t ds = (size_t)align_up(h.len, b->alignment);
        while (h.len < ds && !h.oom) bb_put(&h, "", 1);
        for (size_t i = 0; i < b->n_t && !h.oom; i++) {
            size_t want = ds + (size_t)b->t[i].offset;
            while (h.len < want && !h.oom) bb_put(&h, "", 1);
            bb_put(&h, b->t[i].data, (size_t)b->t[i].nbytes);
        }
        size_t end = (size_t)align_up(h.len, b->alignment);
        while (h.len < end && !h.oom) bb_put(&h, "", 1);
        if (h.oom) s = hc_fail(err, HC_E_NOMEM, "out of memory");
    }
    if (s) {
        free(h.p);
        return s;
    }
    *img = h.p;
    *len = h.len;
    return HC_OK;
}

hc_status hc_gguf_build_write(hc_gguf_build *b, const char *path, int overwrite, hc_error *err) {
    uint8_t *img = NULL;
    size_t len = 0;
    hc_status s = hc_gguf_build_image(b, &img, &len, err);
    if (s) return s;
    hc_outfile o;
    s = hc_out_open(&o, path, overwrite, err);
    if (s == HC_OK) {
        s = hc_out_write(&o, img, len, err);
        if (s == HC_OK) s = hc_out_commit(&o, err);
        else hc_out_abort(&o);
    }
    free(img);
    return s;
}

/* ===================================================================== */
/* Streaming writer (decompression)                                       */
/* ===================================================================== */

struct hc_gguf_writer {
    hc_outfile out;
    hc_gguf *g;          /* header-only view of blob                     */
    uint8_t *own_blob;   /* blob built here (no GGUF origin), or NULL    */
    const uint8_t *gaps; /* verbatim gap bytes, or NULL (zeros)          */
    uint64_t file_len;
    size_t next;
    int failed;
};

/* Writes the gap before tensor i (i == n: the trailing one). */
static hc_status write_gap(hc_gguf_writer *w, size_t i, hc_error *err) {
    const hc_gguf *g = w->g;
    uint64_t to = i < hc_gguf_tensor_count(g) ? hc_gguf_data_start(g) + (*hc_gguf_tensor_get(g, i)).offset : w->file_len;
    if (to < w->out.pos) return hc_fail(err, HC_E_CORRUPT, "'%s': GGUF layout out of order", w->out.path);
    uint64_t n = to - w->out.pos;
    if (w->gaps) {
        hc_status s = hc_out_write(&w->out, w->gaps, (size_t)n, err);
        w->gaps += n;
        return s;
    }
    return hc_out_zeros(&w->out, (size_t)n, err);
}

/* A blob for tensors without a GGUF origin: a fresh v3 header. */
static hc_status fresh_blob(const hc_tensor_info *infos, size_t n, uint8_t **blob, size_t *len, hc_error *err) {
    hc_gguf_build *b = NULL;
    hc_status s = hc_gguf_build_new(3, &b, err);
    for (size_t i = 0; s == HC_OK && i < n; i++) {
        int ty = hc_ggml_type_of_dtype(infos[i].dtype);
        if (ty < 0) {
            s = hc_fail(err, HC_E_UNSUPPORTED, "tensor '%s': dtype %s has no GGUF type", infos[i].name,
                        hc_dtype_name(infos[i].dtype));
            break;
        }
        uint64_t ne[HC_MAX_DIMS];
        for (uint32_t d = 0; d < infos[i].ndim; d++) ne[d] = infos[i].shape[infos[i].ndim - 1 - d];
        s = hc_gguf_build_tensor(b, infos[i].name, infos[i].ndim, ne, (uint32_t)ty, NULL, err);
    }
    bbuf h = {0};
    if (s == HC_OK) s = build_header(b, &h, err);
    uint64_t flen = 0;
    if (s == HC_OK) {
        flen = h.len;
        if (b->n_t) flen = align_up(h.len, b->alignment) + align_up(b->t[b->n_t - 1].offset + b->t[b->n_t - 1].nbytes, b->alignment);
        bb_put(&h, HC_GGUF_TAIL_MAGIC, 8);
        bb_u64(&h, flen);
        bb_u64(&h, 0);
        if (h.oom) s = hc_fail(err, HC_E_NOMEM, "out of memory");
    }
    hc_gguf_build_free(b);
    if (s) {
        free(h.p);
        return s;
    }
    *blob = h.p;
    *len = h.len;
    return HC_OK;
}

hc_status hc_gguf_writer_open(const char *path, const void *blob, size_t blob_len, const hc_tensor_info *infos,
                              size_t n, int overwrite, hc_gguf_writer **out, hc_error *err) {
    *out = NULL;
    hc_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return hc_fail(err, HC_E_NOMEM, "out of memory");
    hc_status s = HC_OK;
    if (!blob) {
        s = fresh_blob(infos, n, &w->own_blob, &blob_len, err);
        blob = w->own_blob;
    }
    if (s == HC_OK) s = hc_gguf_blob_open(blob, blob_len, "GGUF metadata", &w->g, &w->file_len, err);
    if (s == HC_OK && hc_gguf_tensor_count(w->g) != n)
        s = hc_fail(err, HC_E_CORRUPT, "GGUF metadata lists %zu tensors, the container %zu", hc_gguf_tensor_count(w->g), n);
    for (size_t i = 0; s == HC_OK && i < n; i++) {
        hc_tensor_info v;
        hc_gguf_tensor_info(&(*hc_gguf_tensor_get(w->g, i)), &v);
        if (strcmp(v.name, infos[i].name) || v.nbytes != infos[i].nbytes)
            s = hc_fail(err, HC_E_CORRUPT, "tensor %zu ('%s', %llu bytes) does not match the GGUF metadata ('%s', %llu bytes)",
                        i, infos[i].name, (ull)infos[i].nbytes, v.name, (ull)v.nbytes);
    }
    if (s == HC_OK) {
        uint64_t gl = hc_get_u64((const uint8_t *)blob + hc_gguf_header_end(w->g) + 16);
        if (gl) w->gaps = (const uint8_t *)blob + hc_gguf_header_end(w->g) + 24;
        s = hc_out_open(&w->out, path, overwrite, err);
        if (s == HC_OK) {
            s = hc_out_write(&w->out, blob, (size_t)hc_gguf_header_end(w->g), err);
            if (s) hc_out_abort(&w->out);
        }
    }
    if (s) {
        hc_gguf_close(w->g);
        free(w->own_blob);
        free(w);
        return s;
    }
    *out = w;
    return HC_OK;
}

hc_status hc_gguf_writer_put(hc_gguf_writer *w, size_t i, const void *data, hc_error *err) {
    hc_status s;
    if (w->failed) return hc_fail(err, HC_E_ARG, "'%s': writer already failed", w->out.path);
    if (i != w->next || i >= hc_gguf_tensor_count(w->g))
        s = hc_fail(err, HC_E_ARG, "'%s': tensor %zu put out of order", w->out.path, i);
    else if ((s = write_gap(w, i, err)) == HC_OK)
        s = hc_out_write(&w->out, data, (size_t)(*hc_gguf_tensor_get(w->g, i)).nbytes, err);
    if (s) w->failed = 1;
    else w->next++;
    return s;
}

static void writer_free(hc_gguf_writer *w) {
    hc_gguf_close(w->g);
    free(w->own_blob);
    free(w);
}

hc_status hc_gguf_writer_finish(hc_gguf_writer *w, hc_error *err) {
    hc_status s = HC_OK;
    if (w->failed || w->next != hc_gguf_tensor_count(w->g))
        s = hc_fail(err, HC_E_ARG, "'%s': %zu of %zu tensors written", w->out.path, w->next, hc_gguf_tensor_count(w->g));
    if (s == HC_OK) s = write_gap(w, hc_gguf_tensor_count(w->g), err);
    if (s == HC_OK) s = hc_out_commit(&w->out, err);
    else hc_out_abort(&w->out);
    writer_free(w);
    return s;
}

void hc_gguf_writer_abort(hc_gguf_writer *w) {
    if (!w) return;
    hc_out_abort(&w->out);
    writer_free(w);
}
