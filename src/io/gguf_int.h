/* gguf_int.h — the GGUF reader's parsed state, shared by the reader
 * (gguf.c) and the metadata lookups (gguf_meta.c). Internal to src/io. */
#ifndef HC_GGUF_INT_H
#define HC_GGUF_INT_H

#include "gguf.h"
#include "../common/util.h"
#include <string.h>

typedef struct gg_kv {
    const uint8_t *key;
    uint32_t key_len, type;
    const uint8_t *val;  /* value bytes (after the type field)               */
    uint64_t val_len;
    uint32_t arr_type;   /* arrays: element type and count                   */
    uint64_t arr_n;
    uint64_t *str_off;   /* arrays of strings: offset of element k from val  */
} gg_kv;

struct hc_gguf {
    hc_map map;
    const uint8_t *buf;
    uint64_t len;
    int header_only;
    uint32_t version;
    uint64_t alignment, header_end, data_start;
    gg_kv *kv;
    size_t n_kv;
    hc_gguf_tensor *t;
    size_t n_t;
    char *names; /* arena of NUL-terminated tensor names */
};

/* bytes of a scalar value; 0 for string/array/unknown */
static inline uint64_t scalar_size(uint32_t t) {
    switch (t) {
    case HC_GGUF_UINT8: case HC_GGUF_INT8: case HC_GGUF_BOOL: return 1;
    case HC_GGUF_UINT16: case HC_GGUF_INT16: return 2;
    case HC_GGUF_UINT32: case HC_GGUF_INT32: case HC_GGUF_FLOAT32: return 4;
    case HC_GGUF_UINT64: case HC_GGUF_INT64: case HC_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static inline int key_eq(const gg_kv *kv, const char *key) {
    size_t n = strlen(key);
    return kv->key_len == n && memcmp(kv->key, key, n) == 0;
}

#endif
