/* gguf.c — GGUF reader (zero-copy, fully validated) and the mapping of GGUF
 * files onto .hyc containers; the writers are in gguf_write.c, metadata lookups
 * in gguf_meta.c (parsed state in gguf_int.h), llama hyperparameters in
 * gguf_config.c. See gguf.h. */
#include "gguf.h"
#include "gguf_int.h"
#include "hyperc_llm.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

typedef unsigned long long ull;

/* ===================================================================== */
/* Types                                                                  */
/* ===================================================================== */

static const char *const type_names[HC_GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64"};

const char *hc_gguf_type_name(uint32_t t) { return t < HC_GGUF_TYPE_COUNT ? type_names[t] : "?"; }

/* The ggml types (ggml.h numbering; block sizes from ggml-common.h). */
static const hc_ggml_type ggml_types[] = {
    {0, "F32", 1, 4, HC_F32},        {1, "F16", 1, 2, HC_F16},
    {2, "Q4_0", 32, 18, -1},         {3, "Q4_1", 32, 20, -1},
    {6, "Q5_0", 32, 22, -1},         {7, "Q5_1", 32, 24, -1},
    {8, "Q8_0", 32, 34, -1},         {9, "Q8_1", 32, 36, -1},
    {10, "Q2_K", 256, 84, -1},       {11, "Q3_K", 256, 110, -1},
    {12, "Q4_K", 256, 144, -1},      {13, "Q5_K", 256, 176, -1},
    {14, "Q6_K", 256, 210, -1},      {15, "Q8_K", 256, 292, -1},
    {16, "IQ2_XXS", 256, 66, -1},    {17, "IQ2_XS", 256, 74, -1},
    {18, "IQ3_XXS", 256, 98, -1},    {19, "IQ1_S", 256, 50, -1},
    {20, "IQ4_NL", 32, 18, -1},      {21, "IQ3_S", 256, 110, -1},
    {22, "IQ2_S", 256, 82, -1},      {23, "IQ4_XS", 256, 136, -1},
    {24, "I8", 1, 1, HC_I8},         {25, "I16", 1, 2, HC_I16},
    {26, "I32", 1, 4, HC_I32},       {27, "I64", 1, 8, HC_I64},
    {28, "F64", 1, 8, HC_F64},       {29, "IQ1_M", 256, 56, -1},
    {30, "BF16", 1, 2, HC_BF16},     {34, "TQ1_0", 256, 54, -1},
    {35, "TQ2_0", 256, 66, -1},      {39, "MXFP4", 32, 17, -1},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

const hc_ggml_type *hc_ggml_type_get(uint32_t id) {
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].id == id) return &ggml_types[i];
    return NULL;
}

int hc_ggml_type_of_dtype(hc_dtype t) {
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].hc_dtype == (int)t) return (int)ggml_types[i].id;
    return -1;
}

static const char *removed_type(uint32_t id) {
    switch (id) {
    case 4: return "Q4_2"; case 5: return "Q4_3";
    case 31: return "Q4_0_4_4"; case 32: return "Q4_0_4_8"; case 33: return "Q4_0_8_8";
    case 36: return "IQ4_NL_4_4"; case 37: return "IQ4_NL_4_8"; case 38: return "IQ4_NL_8_8";
    default: return NULL;
    }
}

/* ===================================================================== */
/* Reading                                                                */
/* ===================================================================== */

/* A name made safe for a one-line message. */
typedef struct pname { char s[100]; } pname;
static pname printable(const uint8_t *s, size_t n) {
    pname p;
    size_t cap = sizeof p.s - 4, k = 0;
    int cut = n > cap;
    if (cut) n = cap;
    for (size_t i = 0; i < n; i++) p.s[k++] = (s[i] < 0x20 || s[i] >= 0x7F) ? '?' : (char)s[i];
    if (cut) { memcpy(p.s + k, "...", 3); k += 3; }
    p.s[k] = 0;
    return p;
}

typedef struct cur {
    const uint8_t *b;
    uint64_t pos, len;
    const char *label;
    hc_error *err;
} cur;

static uint64_t left(const cur *c) { return c->len - c->pos; }

/* Reads n bytes; refuses (HC_E_CORRUPT, naming `what`) if they are not there. */
static hc_status need(cur *c, uint64_t n, const char *what) {
    if (n > left(c))
        return hc_fail(c->err, HC_E_CORRUPT, "'%s': %s needs %llu bytes at byte %llu but the file has %llu left",
                       c->label, what, (ull)n, (ull)c->pos, (ull)left(c));
    return HC_OK;
}

static hc_status rd_u32(cur *c, uint32_t *v, const char *what) {
    hc_status s = need(c, 4, what);
    if (s) return s;
    *v = hc_get_u32(c->b + c->pos);
    c->pos += 4;
    return HC_OK;
}

static hc_status rd_u64(cur *c, uint64_t *v, const char *what) {
    hc_status s = need(c, 8, what);
    if (s) return s;
    *v = hc_get_u64(c->b + c->pos);
    c->pos += 8;
    return HC_OK;
}

/* A string: u64 length, then the bytes (checked against what is left). */
static hc_status rd_str(cur *c, const uint8_t **p, uint64_t *n, const char *what) {
    uint64_t at = c->pos;
    hc_status s = rd_u64(c, n, what);
    if (s) return s;
    if (*n > left(c))
        return hc_fail(c->err, HC_E_CORRUPT,
                       "'%s': %s at byte %llu has length %llu but only %llu bytes are left in the file", c->label,
                       what, (ull)at, (ull)*n, (ull)left(c));
    *p = c->b + c->pos;
    c->pos += *n;
    return HC_OK;
}

/* Skips (validating) one value of type t; `key` names it in messages. */
static hc_status skip_value(cur *c, uint32_t t, int depth, const char *key) {
    hc_status s;
    if (t == HC_GGUF_STRING) {
        const uint8_t *p;
        uint64_t n;
        return rd_str(c, &p, &n, "string value");
    }
    if (t == HC_GGUF_BOOL) {
        if ((s = need(c, 1, "bool value"))) return s;
        if (c->b[c->pos] > 1)
            return hc_fail(c->err, HC_E_CORRUPT, "'%s': key '%s': bool value %u at byte %llu is not 0 or 1", c->label,
                           key, c->b[c->pos], (ull)c->pos);
        c->pos++;
        return HC_OK;
    }
    if (t == HC_GGUF_ARRAY) {
        uint32_t et;
        uint64_t n, at = c->pos;
        if (depth >= HC_GGUF_MAX_DEPTH)
            return hc_fail(c->err, HC_E_LIMIT, "'%s': key '%s': arrays nested more than %d deep (byte %llu)", c->label,
                           key, HC_GGUF_MAX_DEPTH, (ull)at);
        if ((s = rd_u32(c, &et, "array element type")) || (s = rd_u64(c, &n, "array length"))) return s;
        if (et >= HC_GGUF_TYPE_COUNT)
            return hc_fail(c->err, HC_E_CORRUPT, "'%s': key '%s': array at byte %llu has unknown element type %u",
                           c->label, key, (ull)at, et);
        uint64_t min = scalar_size(et);
        if (et == HC_GGUF_STRING) min = 8;
        if (et == HC_GGUF_ARRAY) min = 12;
        if (n > left(c) / min)
            return hc_fail(c->err, HC_E_CORRUPT,
                           "'%s': key '%s': array at byte %llu claims %llu %s elements (at least %llu bytes) but only "
                           "%llu bytes are left in the file",
                           c->label, key, (ull)at, (ull)n, hc_gguf_type_name(et),
                           (ull)(n > UINT64_MAX / min ? UINT64_MAX : n * min), (ull)left(c));
        if (et != HC_GGUF_STRING && et != HC_GGUF_ARRAY && et != HC_GGUF_BOOL) {
            c->pos += n * min;
            return HC_OK;
        }
        for (uint64_t k = 0; k < n; k++)
            if ((s = skip_value(c, et, depth + 1, key))) return s;
        return HC_OK;
    }
    uint64_t sz = scalar_size(t);
    if (!sz)
        return hc_fail(c->err, HC_E_CORRUPT, "'%s': key '%s': unknown value type %u at byte %llu", c->label, key, t,
                       (ull)c->pos);
    if ((s = need(c, sz, "value"))) return s;
    c->pos += sz;
    return HC_OK;
}

static hc_status parse_kv(hc_gguf *g, cur *c, uint64_t n_kv) {
    size_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        const uint8_t *k;
        uint64_t kl, at = c->pos;
        hc_status s = rd_str(c, &k, &kl, "metadata key");
        if (s) return hc_error_context(c->err, s, "metadata key %llu of %llu", (ull)i, (ull)n_kv);
        if (kl == 0 || kl > HC_GGUF_MAX_KEY)
            return hc_fail(c->err, HC_E_CORRUPT, "'%s': metadata key %llu at byte %llu has length %llu (must be 1..%u)",
                           c->label, (ull)i, (ull)at, (ull)kl, HC_GGUF_MAX_KEY);
        pname pk = printable(k, (size_t)kl);
        uint32_t t;
        if ((s = rd_u32(c, &t, "value type"))) return hc_error_context(c->err, s, "key '%s'", pk.s);
        if (t >= HC_GGUF_TYPE_COUNT)
            return hc_fail(c->err, HC_E_CORRUPT, "'%s': key '%s' has unknown value type %u", c->label, pk.s, t);
        uint64_t vstart = c->pos;
        if ((s = skip_value(c, t, 0, pk.s))) return s;
        if (g->n_kv == cap) {
            size_t nc = cap ? 2 * cap : 32;
            gg_kv *nk = realloc(g->kv, nc * sizeof *nk);
            if (!nk) return hc_fail(c->err, HC_E_NOMEM, "'%s': out of memory reading metadata", c->label);
            g->kv = nk;
            cap = nc;
        }
        gg_kv *kv = &g->kv[g->n_kv++];
        memset(kv, 0, sizeof *kv);
        kv->key = k;
        kv->key_len = (uint32_t)kl;
        kv->type = t;
        kv->val = c->b + vstart;
        kv->val_len = c->pos - vstart;
        if (t == HC_GGUF_ARRAY) {
            kv->arr_type = hc_get_u32(kv->val);
            kv->arr_n = hc_get_u64(kv->val + 4);
            if (kv->arr_type == HC_GGUF_STRING && kv->arr_n) {
                /* n <= bytes / 8 was checked: this table is at most the value's size */
                kv->str_off = malloc((size_t)kv->arr_n * sizeof *kv->str_off);
                if (!kv->str_off) return hc_fail(c->err, HC_E_NOMEM, "'%s': out of memory for key '%s'", c->label, pk.s);
                uint64_t o = 12;
                for (uint64_t e = 0; e < kv->arr_n; e++) {
                    kv->str_off[e] = o;
                    o += 8 + hc_get_u64(kv->val + o);
                }
            }
        }
    }
    return HC_OK;
}

static int cmp_kv(const void *a, const void *b) {
    const gg_kv *x = *(const gg_kv *const *)a, *y = *(const gg_kv *const *)b;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return memcmp(x->key, y->key, x->key_len);
}

/* Distinct keys (sorted, so a file of many tiny keys cannot make it quadratic). */
static hc_status check_keys(const hc_gguf *g, const char *label, hc_error *err) {
    if (g->n_kv < 2) return HC_OK;
    const gg_kv **s = malloc(g->n_kv * sizeof *s);
    if (!s) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    for (size_t i = 0; i < g->n_kv; i++) s[i] = &g->kv[i];
    qsort(s, g->n_kv, sizeof *s, cmp_kv);
    hc_status st = HC_OK;
    for (size_t i = 1; i < g->n_kv && st == HC_OK; i++)
        if (!cmp_kv(&s[i - 1], &s[i]))
            st = hc_fail(err, HC_E_CORRUPT, "'%s': duplicate metadata key '%s'", label,
                         printable(s[i]->key, s[i]->key_len).s);
    free(s);
    return st;
}

/* The u32 value of general.alignment (default 32), validated. */
static hc_status read_alignment(hc_gguf *g, const char *label, hc_error *err) {
    g->alignment = HC_GGUF_DEFAULT_ALIGNMENT;
    long k = hc_gguf_find_key(g, "general.alignment");
    if (k < 0) return HC_OK;
    const gg_kv *kv = &g->kv[k];
    if (kv->type != HC_GGUF_UINT32)
        return hc_fail(err, HC_E_CORRUPT, "'%s': general.alignment is of type %s, must be uint32", label,
                       hc_gguf_type_name(kv->type));
    uint32_t a = hc_get_u32(kv->val);
    if (a == 0 || (a & (a - 1)))
        return hc_fail(err, HC_E_CORRUPT, "'%s': general.alignment %u is not a power of two", label, a);
    g->alignment = a;
    return HC_OK;
}

static hc_status parse_tensors(hc_gguf *g, cur *c, uint64_t n_t) {
    hc_status s;
    size_t cap = 0;
    uint64_t names_len = 0;
    const uint8_t **np = NULL; /* name pointers into the buffer */
    for (uint64_t i = 0; i < n_t; i++) {
        const uint8_t *nm;
        uint64_t nl, at = c->pos;
        if ((s = rd_str(c, &nm, &nl, "tensor name")))
            goto fail_ctx;
        if (nl == 0 || nl >= HC_MAX_NAME || memchr(nm, 0, (size_t)nl)) {
            s = hc_fail(c->err, HC_E_CORRUPT,
                        "'%s': tensor %llu at byte %llu: name of %llu bytes (must be 1..%d bytes, no NUL)", c->label,
                        (ull)i, (ull)at, (ull)nl, HC_MAX_NAME - 1);
            goto fail;
        }
        pname pn = printable(nm, (size_t)nl);
        if (g->n_t == cap) {
            size_t nc = cap ? 2 * cap : 32;
            hc_gguf_tensor *nt = realloc(g->t, nc * sizeof *nt);
            const uint8_t **nn = realloc(np, nc * sizeof *nn);
            if (nt) g->t = nt;
            if (nn) np = nn;
            if (!nt || !nn) {
                s = hc_fail(c->err, HC_E_NOMEM, "'%s': out of memory reading tensor infos", c->label);
                goto fail;
            }
            cap = nc;
        }
        hc_gguf_tensor *t = &g->t[g->n_t];
        memset(t, 0, sizeof *t);
        np[g->n_t] = nm;
        if ((s = rd_u32(c, &t->ndim, "tensor dimension count"))) goto fail_name;
        if (t->ndim > HC_GGUF_MAX_DIMS) {
            s = hc_fail(c->err, HC_E_CORRUPT, "'%s': tensor '%s' has %u dimensions (at most %d)", c->label, pn.s,
                        t->ndim, HC_GGUF_MAX_DIMS);
            goto fail;
        }
        uint64_t nelem = 1;
        for (uint32_t d = 0; d < t->ndim; d++) {
            if ((s = rd_u64(c, &t->ne[d], "tensor dimension"))) goto fail_name;
            if (t->ne[d] >> 63 || !hc_mul_ok(nelem, t->ne[d], &nelem)) {
                s = hc_fail(c->err, HC_E_CORRUPT, "'%s': tensor '%s': dimension %u (%llu) overflows the element count",
                            c->label, pn.s, d, (ull)t->ne[d]);
                goto fail;
            }
        }
        if ((s = rd_u32(c, &t->type, "tensor type")) || (s = rd_u64(c, &t->offset, "tensor offset")))
            goto fail_name;
        const hc_ggml_type *ty = hc_ggml_type_get(t->type);
        if (!ty) {
            const char *rm = removed_type(t->type);
            if (rm)
                s = hc_fail(c->err, HC_E_UNSUPPORTED, "'%s': tensor '%s' has ggml type %u (%s), which ggml has removed",
                            c->label, pn.s, t->type, rm);
            else
                s = hc_fail(c->err, HC_E_UNSUPPORTED, "'%s': tensor '%s' has unknown ggml type %u", c->label, pn.s,
                            t->type);
            goto fail;
        }
        if (ty->block > 1 && (t->ndim == 0 || t->ne[0] % ty->block)) {
            s = hc_fail(c->err, HC_E_CORRUPT, "'%s': tensor '%s' of type %s: first dimension %llu is not a multiple of "
                        "the block size %u", c->label, pn.s, ty->name, (ull)(t->ndim ? t->ne[0] : 1), ty->block);
            goto fail;
        }
        t->nelem = nelem;
        if (!hc_mul_ok(nelem / ty->block, ty->bytes, &t->nbytes)) {
            s = hc_fail(c->err, HC_E_CORRUPT, "'%s': tensor '%s': byte size overflows", c->label, pn.s);
            goto fail;
        }
        names_len += nl + 1;
        g->n_t++;
    }
    g->names = malloc(names_len ? (size_t)names_len : 1);
    if (!g->names) {
        s = hc_fail(c->err, HC_E_NOMEM, "'%s': out of memory", c->label);
        goto fail;
    }
    {
        char *p = g->names;
        for (size_t i = 0; i < g->n_t; i++) {
            uint64_t nl = hc_get_u64(np[i] - 8);
            memcpy(p, np[i], (size_t)nl);
            p[nl] = 0;
            g->t[i].name = p;
            p += nl + 1;
        }
    }
    free(np);
    return HC_OK;
fail_name:
    s = hc_error_context(c->err, s, "tensor '%s'", printable(np[g->n_t], (size_t)hc_get_u64(np[g->n_t] - 8)).s);
    goto fail;
fail_ctx:
    s = hc_error_context(c->err, s, "tensor info %llu of %llu", (ull)g->n_t, (ull)n_t);
fail:
    free(np);
    return s;
}

static int cmp_tname(const void *a, const void *b) {
    return strcmp((*(const hc_gguf_tensor *const *)a)->name, (*(const hc_gguf_tensor *const *)b)->name);
}

/* Tensor placement: increasing offsets, aligned, no overlap, inside the data;
 * distinct names. data_len: bytes after data_start, or UINT64_MAX (header-only). */
static hc_status check_tensors(hc_gguf *g, const char *label, uint64_t data_len, hc_error *err) {
    uint64_t end = 0;
    for (size_t i = 0; i < g->n_t; i++) {
        const hc_gguf_tensor *t = &g->t[i];
        if (t->offset % g->alignment)
            return hc_fail(err, HC_E_CORRUPT, "'%s': tensor '%s': offset %llu is not a multiple of the alignment %llu",
                           label, t->name, (ull)t->offset, (ull)g->alignment);
        if (t->offset < end)
            return hc_fail(err, HC_E_CORRUPT,
                           "'%s': tensor '%s': offset %llu overlaps or precedes the tensor before it (which ends at %llu)",
                           label, t->name, (ull)t->offset, (ull)end);
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return hc_fail(err, HC_E_CORRUPT,
                           "'%s': tensor '%s': bytes %llu..%llu of the data section go past the end of the file "
                           "(data section of %llu bytes)",
                           label, t->name, (ull)t->offset, (ull)(t->offset + (t->nbytes < UINT64_MAX - t->offset ? t->nbytes : 0)),
                           (ull)data_len);
        end = t->offset + t->nbytes;
    }
    if (g->n_t > 1) {
        const hc_gguf_tensor **s = malloc(g->n_t * sizeof *s);
        if (!s) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
        for (size_t i = 0; i < g->n_t; i++) s[i] = &g->t[i];
        qsort(s, g->n_t, sizeof *s, cmp_tname);
        for (size_t i = 1; i < g->n_t; i++)
            if (!strcmp(s[i - 1]->name, s[i]->name)) {
                hc_status st = hc_fail(err, HC_E_CORRUPT, "'%s': duplicate tensor name '%s'", label, s[i]->name);
                free(s);
                return st;
            }
        free(s);
    }
    return HC_OK;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Parses magic .. tensor infos of buf[0, len). */
static hc_status parse(hc_gguf *g, const uint8_t *b, uint64_t len, const char *label, int header_only,
                       hc_error *err) {
    cur c = {b, 0, len, label, err};
    g->buf = b;
    g->len = len;
    g->header_only = header_only;
    if (len >= 8 && !memcmp(b, "\x89HYC\r\n\x1a\n", 8))
        return hc_fail(err, HC_E_FORMAT, "'%s': this is a .hyc container, not a GGUF file", label);
    if (len >= 9 && hc_get_u64(b) < len && b[8] == '{')
        return hc_fail(err, HC_E_FORMAT, "'%s': this is a safetensors file, not a GGUF file", label);
    if (len < 4 || memcmp(b, "GGUF", 4))
        return hc_fail(err, HC_E_FORMAT, "'%s': not a GGUF file (no GGUF magic at the start)", label);
    if (len < 24)
        return hc_fail(err, HC_E_CORRUPT, "'%s': GGUF file cut short: %llu bytes, the header alone needs 24", label,
                       (ull)len);
    uint32_t v = hc_get_u32(b + 4);
    if (v == 1)
        return hc_fail(err, HC_E_UNSUPPORTED,
                       "'%s': GGUF version 1 (32-bit counts, 2023) is not supported; convert it with a newer llama.cpp",
                       label);
    if ((v & 0xFFFF) == 0 && v)
        return hc_fail(err, HC_E_UNSUPPORTED, "'%s': big-endian GGUF (version field %08x) is not supported", label, v);
    if (v != 2 && v != 3)
        return hc_fail(err, HC_E_UNSUPPORTED, "'%s': GGUF version %u is not supported (only 2 and 3)", label, v);
    g->version = v;
    uint64_t n_t = hc_get_u64(b + 8), n_kv = hc_get_u64(b + 16);
    c.pos = 24;
    /* a key/value takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 4 + 8 */
    if (n_kv > left(&c) / 14)
        return hc_fail(err, HC_E_CORRUPT, "'%s': %llu metadata keys cannot fit in the %llu bytes of the file", label,
                       (ull)n_kv, (ull)len);
    if (n_t > left(&c) / 25)
        return hc_fail(err, HC_E_CORRUPT, "'%s': %llu tensor infos cannot fit in the %llu bytes of the file", label,
                       (ull)n_t, (ull)len);
    hc_status s = parse_kv(g, &c, n_kv);
    if (s == HC_OK) s = check_keys(g, label, err);
    if (s == HC_OK) s = read_alignment(g, label, err);
    if (s == HC_OK) s = parse_tensors(g, &c, n_t);
    if (s) return s;
    g->header_end = c.pos;
    g->data_start = align_up(c.pos, g->alignment);
    if (header_only) return check_tensors(g, label, UINT64_MAX, err);
    if (g->n_t && g->data_start > len)
        return hc_fail(err, HC_E_CORRUPT, "'%s': file ends (%llu bytes) before its tensor data starts (byte %llu)",
                       label, (ull)len, (ull)g->data_start);
    return check_tensors(g, label, len > g->data_start ? len - g->data_start : 0, err);
}

hc_status hc_gguf_open_mem(const void *buf, uint64_t len, const char *label, hc_gguf **out, hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_gguf_open_mem: out is NULL");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return hc_fail(err, HC_E_ARG, "'%s': buffer is NULL", label);
    hc_gguf *g = calloc(1, sizeof *g);
    if (!g) return hc_fail(err, HC_E_NOMEM, "out of memory");
    hc_status s = parse(g, buf, len, label, 0, err);
    if (s) {
        hc_gguf_close(g);
        return s;
    }
    *out = g;
    return HC_OK;
}

hc_status hc_gguf_open(const char *path, hc_gguf **out, hc_error *err) {
    if (!out || !path) return hc_fail(err, HC_E_ARG, "hc_gguf_open: NULL argument");
    *out = NULL;
    hc_map m;
    hc_status s = hc_map_file(path, &m, err);
    if (s) return s;
    s = hc_gguf_open_mem(m.ptr, m.len, path, out, err);
    if (s) {
        hc_unmap(&m);
        return s;
    }
    (*out)->map = m;
    return HC_OK;
}

void hc_gguf_close(hc_gguf *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) free(g->kv[i].str_off);
    free(g->kv);
    free(g->t);
    free(g->names);
    hc_unmap(&g->map);
    free(g);
}

int hc_gguf_is_gguf(const void *buf, uint64_t len) { return buf && len >= 4 && !memcmp(buf, "GGUF", 4); }

int hc_gguf_sniff(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[4];
    int r = fread(m, 1, 4, f) == 4 && !memcmp(m, "GGUF", 4);
    fclose(f);
    return r;
}

uint32_t hc_gguf_version(const hc_gguf *g) { return g ? g->version : 0; }
uint64_t hc_gguf_alignment(const hc_gguf *g) { return g ? g->alignment : 0; }
uint64_t hc_gguf_header_end(const hc_gguf *g) { return g ? g->header_end : 0; }
uint64_t hc_gguf_data_start(const hc_gguf *g) { return g ? g->data_start : 0; }
size_t hc_gguf_tensor_count(const hc_gguf *g) { return g ? g->n_t : 0; }
const hc_gguf_tensor *hc_gguf_tensor_get(const hc_gguf *g, size_t i) { return g && i < g->n_t ? &g->t[i] : NULL; }
const void *hc_gguf_tensor_data(const hc_gguf *g, size_t i) {
    return g && i < g->n_t && !g->header_only ? g->buf + g->data_start + g->t[i].offset : NULL;
}
long hc_gguf_find_tensor(const hc_gguf *g, const char *name) {
    for (size_t i = 0; g && name && i < g->n_t; i++)
        if (!strcmp(g->t[i].name, name)) return (long)i;
    return -1;
}

/* ===================================================================== */
/* GGUF in a .hyc                                                         */
/* ===================================================================== */

void hc_gguf_tensor_info(const hc_gguf_tensor *t, hc_tensor_info *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", t->name);
    const hc_ggml_type *ty = hc_ggml_type_get(t->type);
    if (ty && ty->hc_dtype >= 0) {
        out->dtype = (hc_dtype)ty->hc_dtype;
        out->ndim = t->ndim;
        for (uint32_t d = 0; d < t->ndim; d++) out->shape[d] = t->ne[t->ndim - 1 - d];
        out->nelem = t->nelem;
    } else {
        out->dtype = HC_U8;
        out->ndim = 1;
        out->shape[0] = t->nbytes;
        out->nelem = t->nbytes;
    }
    out->nbytes = t->nbytes;
}

hc_status hc_gguf_as_st(const hc_gguf *g, hc_safetensors **out, hc_error *err) {
    size_t n = g->n_t;
    hc_tensor_info *infos = malloc((n ? n : 1) * sizeof *infos);
    uint64_t *begins = malloc((n ? n : 1) * sizeof *begins);
    hc_status s;
    if (!infos || !begins) {
        s = hc_fail(err, HC_E_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            hc_gguf_tensor_info(&g->t[i], &infos[i]);
            begins[i] = g->t[i].offset;
        }
        uint64_t dlen = g->len > g->data_start ? g->len - g->data_start : 0;
        s = hc_st_open_view(g->buf + (g->len > g->data_start ? g->data_start : g->len), dlen, infos, begins, n,
                            "gguf", out, err);
    }
    free(infos);
    free(begins);
    return s;
}

static void close_gguf(void *g) { hc_gguf_close(g); }

hc_status hc_gguf_open_st(const char *path, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    hc_gguf *g = NULL;
    hc_status s = hc_gguf_open(path, &g, err);
    if (s == HC_OK) s = hc_gguf_as_st(g, out, err);
    if (s) {
        hc_gguf_close(g);
        return s;
    }
    uint8_t *blob = NULL;
    size_t bl = 0;
    s = hc_gguf_blob(g, &blob, &bl, err);
    if (s) {
        hc_st_close(*out);
        *out = NULL;
        hc_gguf_close(g);
        return s;
    }
    hc_st_view_set_owner(*out, g, close_gguf);
    hc_st_view_set_metadata(*out, (char *)blob, bl);
    return HC_OK;
}

/* The gaps of a file are the bytes after the header that belong to no tensor
 * (padding), in file order: [header_end, ds + off0), [end_i, ds + off_{i+1}),
 * ..., [end_last, file_len). */
/* Most padding written as zeros without a verbatim record: what canonical
 * files have (less than one alignment unit per tensor and at each end). A
 * larger gap is kept verbatim, so a damaged .hyc cannot ask for gigabytes of
 * zeros. */
static uint64_t zero_gap_max(const hc_gguf *g) {
    return ((uint64_t)g->n_t + 1) * (g->alignment < 65536 ? g->alignment : 65536);
}

hc_status hc_gguf_blob(const hc_gguf *g, uint8_t **blob, size_t *len, hc_error *err) {
    *blob = NULL;
    *len = 0;
    /* gaps: [header_end, ds + off0), [end_i, ds + off_{i+1}), [end_last, file_len) */
    uint64_t gap_total = 0, nonzero = 0, at = g->header_end, zmax = zero_gap_max(g);
    for (size_t i = 0; i <= g->n_t; i++) {
        uint64_t to = i < g->n_t ? g->data_start + g->t[i].offset : g->len;
        if (gap_total + (to - at) <= zmax) /* beyond zmax the gaps are kept verbatim anyway */
            for (uint64_t p = at; p < to; p++) nonzero |= g->buf[p];
        gap_total += to - at;
        if (i < g->n_t) at = to + g->t[i].nbytes;
    }
    uint64_t gl = nonzero || gap_total > zmax ? gap_total : 0;
    if (gl > HC_GGUF_MAX_GAPS)
        return hc_fail(err, HC_E_LIMIT,
                       "GGUF file has %llu bytes outside its tensors (padding or trailing data) that are not "
                       "plain zero padding; hyperc keeps at most %llu such bytes",
                       (ull)gl, (ull)HC_GGUF_MAX_GAPS);
    uint64_t total = g->header_end + 24 + gl;
    uint8_t *b = malloc((size_t)total + 1); /* + a NUL, as safetensors metadata has */
    if (!b) return hc_fail(err, HC_E_NOMEM, "cannot allocate %llu bytes of GGUF metadata", (ull)total);
    memcpy(b, g->buf, (size_t)g->header_end);
    uint8_t *p = b + g->header_end;
    memcpy(p, HC_GGUF_TAIL_MAGIC, 8);
    hc_put_u64(p + 8, g->len);
    hc_put_u64(p + 16, gl);
    p += 24;
    if (gl) {
        at = g->header_end;
        for (size_t i = 0; i <= g->n_t; i++) {
            uint64_t to = i < g->n_t ? g->data_start + g->t[i].offset : g->len;
            memcpy(p, g->buf + at, (size_t)(to - at));
            p += to - at;
            if (i < g->n_t) at = to + g->t[i].nbytes;
        }
    }
    b[total] = 0;
    *blob = b;
    *len = (size_t)total;
    return HC_OK;
}

/* Sum of the gaps the header implies for a file of file_len bytes; 0 if that
 * file_len is impossible (shorter than the tensors need). */
static int gaps_total(const hc_gguf *g, uint64_t file_len, uint64_t *total) {
    uint64_t at = g->header_end, sum = 0;
    for (size_t i = 0; i <= g->n_t; i++) {
        if (i < g->n_t && g->t[i].offset > UINT64_MAX - g->data_start) return 0;
        uint64_t to = i < g->n_t ? g->data_start + g->t[i].offset : file_len;
        if (to < at) return 0;
        sum += to - at;
        if (i < g->n_t) {
            if (g->t[i].nbytes > UINT64_MAX - to) return 0;
            at = to + g->t[i].nbytes;
        }
    }
    *total = sum;
    return 1;
}

hc_status hc_gguf_blob_open(const void *blob, size_t len, const char *label, hc_gguf **out, uint64_t *file_len,
                            hc_error *err) {
    *out = NULL;
    if (!label) label = "<metadata>";
    hc_gguf *g = calloc(1, sizeof *g);
    if (!g) return hc_fail(err, HC_E_NOMEM, "out of memory");
    hc_status s = parse(g, blob, len, label, 1, err);
    if (s == HC_OK) {
        const uint8_t *p = (const uint8_t *)blob + g->header_end;
        uint64_t rest = len - g->header_end, flen = 0, gl = 0, gt = 0;
        if (rest < 24 || memcmp(p, HC_GGUF_TAIL_MAGIC, 8))
            s = hc_fail(err, HC_E_CORRUPT, "'%s': GGUF metadata lacks its %s tail", label, HC_GGUF_TAIL_MAGIC);
        else {
            flen = hc_get_u64(p + 8);
            gl = hc_get_u64(p + 16);
            if (!gaps_total(g, flen, &gt))
                s = hc_fail(err, HC_E_CORRUPT, "'%s': GGUF file length %llu is too short for its tensors", label,
                            (ull)flen);
            else if (gl != rest - 24 || (gl && gl != gt) || (!gl && gt > zero_gap_max(g)))
                s = hc_fail(err, HC_E_CORRUPT, "'%s': GGUF padding record of %llu bytes does not match (%llu expected)",
                            label, (ull)gl, (ull)gt);
        }
        if (s == HC_OK && file_len) *file_len = flen;
    }
    if (s) {
        hc_gguf_close(g);
        return s;
    }
    *out = g;
    return HC_OK;
}
