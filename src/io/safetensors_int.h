/* safetensors_int.h — limits, entry records and helpers shared by the
 * safetensors reader (safetensors.c) and writer (safetensors_write.c).
 * Internal to src/io. */
#ifndef HC_SAFETENSORS_INT_H
#define HC_SAFETENSORS_INT_H

#include "json.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

/* The library's limits (hyperc.h), the same for the reader and the writer. */
#define ST_MAX_HEADER ((uint64_t)HC_MAX_HEADER) /* the reference implementation's limit */
#define ST_MAX_TENSORS HC_MAX_TENSORS
#define ST_MAX_META_KEYS HC_MAX_META_KEYS
#define ST_META_KEY "__metadata__"
_Static_assert(HC_JSON_MAX_DEPTH == HC_MAX_JSON_DEPTH, "JSON depth limit documented in hyperc.h");

typedef unsigned long long ull;

/* The entry being parsed. */
typedef struct st_entry {
    hc_tensor_info info;
    uint64_t begin, end; /* byte range in the data buffer */
} st_entry;

/* An entry as kept: 40 bytes, its name and shape in the pools (an
 * hc_tensor_info is built on query). */
typedef struct st_ent {
    uint64_t begin, end, nelem; /* nbytes = end - begin                    */
    uint32_t name_at, shape_at; /* in pool (name + NUL) and dims           */
    uint32_t order;             /* position of the entry in the JSON header */
    uint16_t name_len;
    uint8_t dtype, ndim;
} st_ent;


/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

/* A name made safe for a one-line message: control bytes become '?', long
 * names are cut (at a UTF-8 boundary) and marked "...". */
typedef struct pname { char s[136]; } pname;

static inline pname printable(const char *s, size_t n) {
    pname p;
    size_t cap = sizeof p.s - 4, k = 0;
    int cut = n > cap;
    if (cut) {
        n = cap;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80) n--;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        p.s[k++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut) { memcpy(p.s + k, "...", 3); k += 3; }
    p.s[k] = 0;
    return p;
}

static inline pname printable_str(const hc_json_str *s) { return printable(s->raw, s->raw_len); }

static inline int cmp_by_offset(const void *a, const void *b) {
    const st_ent *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Makes room for `need` elements of `elem` bytes in *p (capacity *cap). */
static inline int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *t = realloc(*p, nc * elem);
    if (!t) return 0;
    *p = t;
    *cap = nc;
    return 1;
}

static inline int cmp_str(const void *a, const void *b) {
    return hc_json_str_cmp((const hc_json_str *)a, (const hc_json_str *)b);
}

/* Fills nelem and nbytes from dtype and shape; 0 on 64-bit overflow. */
static inline int tensor_sizes(hc_tensor_info *t) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->ndim; d++)
        if (!hc_mul_ok(n, t->shape[d], &n)) return 0;
    t->nelem = n;
    return hc_mul_ok(n, hc_dtype_size(t->dtype), &t->nbytes);
}

/* Validates a "__metadata__" value at the cursor: an object of string values
 * with distinct keys. On success *start and *end bound its text. `who` names the
 * file in messages, `bad` is the status for a wrong structure; a JSON syntax
 * error is left in the cursor (HC_OK returned) for the caller to report. */
static inline hc_status parse_metadata(hc_json *j, const char *who, hc_status bad, size_t *start, size_t *end,
                                hc_error *err) {
    if (hc_json_peek(j) != HC_JSON_OBJECT)
        return j->status ? HC_OK : hc_fail(err, bad, "'%s': __metadata__ is not a JSON object", who);
    *start = j->pos;
    hc_json_str *keys = NULL, k;
    size_t n = 0, cap = 0;
    hc_status s = HC_OK;
    int r;
    hc_json_object_begin(j);
    while ((r = hc_json_object_next(j, &k)) > 0) {
        if (hc_json_peek(j) != HC_JSON_STRING) {
            if (j->status) break;
            s = hc_fail(err, bad, "'%s': __metadata__ value of '%s' is not a string", who,
                        printable_str(&k).s);
            break;
        }
        hc_json_str v;
        if (!hc_json_string(j, &v)) break;
        if (n == ST_MAX_META_KEYS) {
            s = hc_fail(err, HC_E_LIMIT, "'%s': __metadata__ has more than %u keys", who, ST_MAX_META_KEYS);
            break;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            hc_json_str *t = realloc(keys, nc * sizeof *t);
            if (!t) { s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory reading __metadata__", who); break; }
            keys = t;
            cap = nc;
        }
        keys[n++] = k;
    }
    if (s == HC_OK && j->status == HC_OK) {
        *end = j->pos;
        if (n > 1) qsort(keys, n, sizeof *keys, cmp_str);
        for (size_t i = 1; i < n; i++)
            if (hc_json_str_cmp(&keys[i - 1], &keys[i]) == 0) {
                s = hc_fail(err, bad, "'%s': duplicate __metadata__ key '%s'", who,
                            printable_str(&keys[i]).s);
                break;
            }
    }
    free(keys);
    return s; /* a JSON error stays in j for the caller to report */
}


#endif
