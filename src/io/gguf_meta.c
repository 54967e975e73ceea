/* gguf_meta.c — lookups in a parsed GGUF file's metadata (gguf.h): keys by
 * name or index, scalars, arrays and their elements, checked against the
 * value types the reader recorded. */
#include "gguf_int.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

/* ---- metadata lookup ---------------------------------------------------- */

size_t hc_gguf_kv_count(const hc_gguf *g) { return g ? g->n_kv : 0; }

const char *hc_gguf_kv_key(const hc_gguf *g, size_t i, size_t *len, uint32_t *type) {
    if (!g || i >= g->n_kv) return NULL;
    if (len) *len = g->kv[i].key_len;
    if (type) *type = g->kv[i].type;
    return (const char *)g->kv[i].key;
}

long hc_gguf_find_key(const hc_gguf *g, const char *key) {
    for (size_t i = 0; g && key && i < g->n_kv; i++)
        if (key_eq(&g->kv[i], key)) return (long)i;
    return -1;
}

static const gg_kv *kv_of(const hc_gguf *g, const char *key) {
    long k = hc_gguf_find_key(g, key);
    return k < 0 ? NULL : &g->kv[k];
}

/* A scalar of type t at p as int64 / double; 0 if not numeric. */
static int scalar_int(uint32_t t, const uint8_t *p, int64_t *v) {
    switch (t) {
    case HC_GGUF_UINT8: case HC_GGUF_BOOL: *v = p[0]; return 1;
    case HC_GGUF_INT8: *v = (int8_t)p[0]; return 1;
    case HC_GGUF_UINT16: *v = hc_get_u16(p); return 1;
    case HC_GGUF_INT16: *v = (int16_t)hc_get_u16(p); return 1;
    case HC_GGUF_UINT32: *v = hc_get_u32(p); return 1;
    case HC_GGUF_INT32: *v = (int32_t)hc_get_u32(p); return 1;
    case HC_GGUF_UINT64: if (hc_get_u64(p) > INT64_MAX) return 0; *v = (int64_t)hc_get_u64(p); return 1;
    case HC_GGUF_INT64: *v = (int64_t)hc_get_u64(p); return 1;
    default: return 0;
    }
}

static int scalar_float(uint32_t t, const uint8_t *p, double *v) {
    int64_t i;
    if (t == HC_GGUF_FLOAT32) { *v = hc_get_f32(p); return 1; }
    if (t == HC_GGUF_FLOAT64) { *v = hc_get_f64(p); return 1; }
    if (t == HC_GGUF_UINT64) { *v = (double)hc_get_u64(p); return 1; }
    if (scalar_int(t, p, &i)) { *v = (double)i; return 1; }
    return 0;
}

int hc_gguf_get_str(const hc_gguf *g, const char *key, const char **s, size_t *len) {
    const gg_kv *kv = kv_of(g, key);
    if (!kv || kv->type != HC_GGUF_STRING) return 0;
    if (s) *s = (const char *)kv->val + 8;
    if (len) *len = (size_t)hc_get_u64(kv->val);
    return 1;
}

int hc_gguf_get_int(const hc_gguf *g, const char *key, int64_t *v) {
    const gg_kv *kv = kv_of(g, key);
    int64_t x;
    if (!kv || !scalar_int(kv->type, kv->val, &x)) return 0;
    if (v) *v = x;
    return 1;
}

int hc_gguf_get_float(const hc_gguf *g, const char *key, double *v) {
    const gg_kv *kv = kv_of(g, key);
    double x;
    if (!kv || !scalar_float(kv->type, kv->val, &x)) return 0;
    if (v) *v = x;
    return 1;
}

int hc_gguf_get_array(const hc_gguf *g, const char *key, uint32_t *elem_type, uint64_t *n) {
    const gg_kv *kv = kv_of(g, key);
    if (!kv || kv->type != HC_GGUF_ARRAY) return 0;
    if (elem_type) *elem_type = kv->arr_type;
    if (n) *n = kv->arr_n;
    return 1;
}

int hc_gguf_array_str(const hc_gguf *g, const char *key, uint64_t i, const char **s, size_t *len) {
    const gg_kv *kv = kv_of(g, key);
    if (!kv || kv->type != HC_GGUF_ARRAY || kv->arr_type != HC_GGUF_STRING || i >= kv->arr_n) return 0;
    const uint8_t *p = kv->val + kv->str_off[i];
    if (s) *s = (const char *)p + 8;
    if (len) *len = (size_t)hc_get_u64(p);
    return 1;
}

static const uint8_t *arr_elem(const hc_gguf *g, const char *key, uint64_t i, uint32_t *t) {
    const gg_kv *kv = kv_of(g, key);
    if (!kv || kv->type != HC_GGUF_ARRAY || i >= kv->arr_n || !scalar_size(kv->arr_type)) return NULL;
    *t = kv->arr_type;
    return kv->val + 12 + i * scalar_size(kv->arr_type);
}

int hc_gguf_array_int(const hc_gguf *g, const char *key, uint64_t i, int64_t *v) {
    uint32_t t;
    const uint8_t *p = arr_elem(g, key, i, &t);
    int64_t x;
    if (!p || !scalar_int(t, p, &x)) return 0;
    if (v) *v = x;
    return 1;
}

int hc_gguf_array_float(const hc_gguf *g, const char *key, uint64_t i, double *v) {
    uint32_t t;
    const uint8_t *p = arr_elem(g, key, i, &t);
    double x;
    if (!p || !scalar_float(t, p, &x)) return 0;
    if (v) *v = x;
    return 1;
}
