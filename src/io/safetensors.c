/* safetensors.c — reading (zero-copy, fully validated) and writing of
 * safetensors files: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}, then the tensors' bytes back to back.
 *
 * The input is treated as hostile: every number is checked before use, the
 * data ranges must tile the byte buffer exactly (no holes, no overlaps, as the
 * format requires), and memory grows only with entries actually parsed. */
#include "json.h"
#include "sniff.h"
#include "gguf.h"
#include "../common/util.h"
#include "../common/strindex.h"
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

struct hc_safetensors {
    hc_map map;                /* the file, when opened by path              */
    const uint8_t *data;       /* [data_len] the byte buffer after the header */
    uint64_t data_len;
    size_t n;
    st_ent *ents;              /* [n] sorted by data offset: storage order   */
    char *pool;                /* names, NUL-terminated                      */
    uint64_t *dims;            /* shapes                                     */
    hc_strindex by_name;       /* for hc_st_find                             */
    hc_lazytab full;           /* hc_tensor_info records of hc_st_info       */
    char *metadata;            /* [metadata_len + 1] NUL-terminated copy     */
    size_t metadata_len;
    void *owner;               /* a view's backing object, freed on close    */
    void (*owner_free)(void *);
};

/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

/* A name made safe for a one-line message: control bytes become '?', long
 * names are cut (at a UTF-8 boundary) and marked "...". */
typedef struct pname { char s[136]; } pname;

static pname printable(const char *s, size_t n) {
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

static pname printable_str(const hc_json_str *s) { return printable(s->raw, s->raw_len); }

static int cmp_by_offset(const void *a, const void *b) {
    const st_ent *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Makes room for `need` elements of `elem` bytes in *p (capacity *cap). */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *t = realloc(*p, nc * elem);
    if (!t) return 0;
    *p = t;
    *cap = nc;
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return hc_json_str_cmp((const hc_json_str *)a, (const hc_json_str *)b);
}

/* Fills nelem and nbytes from dtype and shape; 0 on 64-bit overflow. */
static int tensor_sizes(hc_tensor_info *t) {
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
static hc_status parse_metadata(hc_json *j, const char *who, hc_status bad, size_t *start, size_t *end,
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

/* ===================================================================== */
/* Reading                                                                */
/* ===================================================================== */

typedef struct st_parse {
    hc_json j;
    const char *label;
    hc_error *err;
    uint64_t data_len;
    st_entry cur;    /* the entry being parsed */
    st_ent *ents;    /* [n], capacity cap, in header order until sorted */
    size_t n, cap;
    char *pool;      /* [pool_len], capacity pool_cap */
    size_t pool_len, pool_cap;
    uint64_t *dims;  /* [dims_len], capacity dims_cap */
    size_t dims_len, dims_cap;
    size_t meta_start, meta_end;
    int have_meta;
} st_parse;

/* Reports the JSON error held in the cursor, with context. */
static hc_status json_error(st_parse *p, const char *tensor, const char *field) {
    if (tensor)
        return hc_fail(p->err, p->j.status, "'%s': tensor '%s': %s: %s (header byte %llu)", p->label,
                       printable(tensor, strlen(tensor)).s, field, p->j.why, (ull)p->j.err_pos);
    return hc_fail(p->err, p->j.status, "'%s': header: %s (byte %llu)", p->label, p->j.why,
                   (ull)p->j.err_pos);
}

static hc_status parse_dims(st_parse *p, st_entry *e, const char *field, uint64_t *dims, uint32_t max,
                            uint32_t *count) {
    hc_json *j = &p->j;
    const char *nm = e->info.name;
    int r;
    *count = 0;
    if (!hc_json_array_begin(j)) return json_error(p, nm, field);
    while ((r = hc_json_array_next(j)) > 0) {
        if (*count == max)
            return hc_fail(p->err, max == 2 ? HC_E_FORMAT : HC_E_LIMIT,
                           "'%s': tensor '%s': %s has more than %u entries", p->label, printable(nm, strlen(nm)).s,
                           field, max);
        if (!hc_json_u64(j, &dims[*count])) return json_error(p, nm, field);
        (*count)++;
    }
    if (r < 0) return json_error(p, nm, field);
    return HC_OK;
}

/* Parses one tensor entry {"dtype", "shape", "data_offsets"} into e. */
static hc_status parse_tensor(st_parse *p, st_entry *e) {
    hc_json *j = &p->j;
    const char *lb = p->label;
    pname nm = printable(e->info.name, strlen(e->info.name));
    int have_dtype = 0, have_shape = 0, have_offsets = 0, r;
    hc_json_str k;
    hc_status s;
    if (hc_json_peek(j) != HC_JSON_OBJECT) {
        if (j->status) return json_error(p, e->info.name, "entry");
        return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': entry is not a JSON object", lb, nm.s);
    }
    hc_json_object_begin(j);
    while ((r = hc_json_object_next(j, &k)) > 0) {
        if (hc_json_str_eq(&k, "dtype", 5)) {
            if (have_dtype++) return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': dtype given twice", lb, nm.s);
            hc_json_str v;
            if (hc_json_peek(j) != HC_JSON_STRING) {
                if (j->status) return json_error(p, e->info.name, "dtype");
                return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': dtype is not a string", lb, nm.s);
            }
            if (!hc_json_string(j, &v)) return json_error(p, e->info.name, "dtype");
            char dt[16];
            if (v.len < sizeof dt) hc_json_str_decode(&v, dt);
            if (v.len >= sizeof dt || hc_dtype_parse(dt, v.len, &e->info.dtype) != 0)
                return hc_fail(p->err, HC_E_UNSUPPORTED, "'%s': tensor '%s': unknown dtype '%s'", lb, nm.s,
                               printable_str(&v).s);
        } else if (hc_json_str_eq(&k, "shape", 5)) {
            if (have_shape++) return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': shape given twice", lb, nm.s);
            if ((s = parse_dims(p, e, "shape", e->info.shape, HC_MAX_DIMS, &e->info.ndim))) return s;
        } else if (hc_json_str_eq(&k, "data_offsets", 12)) {
            if (have_offsets++)
                return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': data_offsets given twice", lb, nm.s);
            uint64_t off[2];
            uint32_t cnt;
            if ((s = parse_dims(p, e, "data_offsets", off, 2, &cnt))) return s;
            if (cnt != 2)
                return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': data_offsets needs 2 entries, has %u", lb,
                               nm.s, cnt);
            e->begin = off[0];
            e->end = off[1];
        } else {
            return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': unknown field '%s'", lb, nm.s,
                           printable_str(&k).s);
        }
    }
    if (r < 0) return json_error(p, e->info.name, "entry");
    const char *missing = !have_dtype ? "dtype" : !have_shape ? "shape" : !have_offsets ? "data_offsets" : NULL;
    if (missing) return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor '%s': missing field '%s'", lb, nm.s, missing);
    if (!tensor_sizes(&e->info))
        return hc_fail(p->err, HC_E_CORRUPT, "'%s': tensor '%s': shape product overflows 64 bits", lb, nm.s);
    if (e->begin > e->end)
        return hc_fail(p->err, HC_E_CORRUPT, "'%s': tensor '%s': data_offsets [%llu, %llu] end before they begin", lb,
                       nm.s, (ull)e->begin, (ull)e->end);
    if (e->end > p->data_len)
        return hc_fail(p->err, HC_E_CORRUPT,
                       "'%s': tensor '%s': data ends at %llu, beyond the data buffer of %llu bytes (truncated file?)",
                       lb, nm.s, (ull)e->end, (ull)p->data_len);
    if (e->end - e->begin != e->info.nbytes)
        return hc_fail(p->err, HC_E_CORRUPT,
                       "'%s': tensor '%s': data_offsets cover %llu bytes but %llu elements of %s need %llu", lb,
                       nm.s, (ull)(e->end - e->begin), (ull)e->info.nelem, hc_dtype_name(e->info.dtype),
                       (ull)e->info.nbytes);
    return HC_OK;
}

/* Parses the header object into p->ents and the pools. */
static hc_status parse_header(st_parse *p) {
    hc_json *j = &p->j;
    hc_json_str k;
    hc_status s;
    int r;
    if (!hc_json_object_begin(j)) return json_error(p, NULL, NULL);
    while ((r = hc_json_object_next(j, &k)) > 0) {
        if (hc_json_str_eq(&k, ST_META_KEY, strlen(ST_META_KEY))) {
            if (p->have_meta++) return hc_fail(p->err, HC_E_FORMAT, "'%s': __metadata__ given twice", p->label);
            if ((s = parse_metadata(j, p->label, HC_E_FORMAT, &p->meta_start, &p->meta_end, p->err))) return s;
            if (j->status) return json_error(p, NULL, NULL);
            continue;
        }
        if (k.has_nul)
            return hc_fail(p->err, HC_E_FORMAT, "'%s': tensor name '%s' contains a NUL character", p->label,
                           printable_str(&k).s);
        if (k.len > HC_MAX_NAME - 1)
            return hc_fail(p->err, HC_E_LIMIT, "'%s': tensor name '%s' is %llu bytes, longer than %d", p->label,
                           printable_str(&k).s, (ull)k.len, HC_MAX_NAME - 1);
        if (p->n == ST_MAX_TENSORS)
            return hc_fail(p->err, HC_E_LIMIT, "'%s': more than %u tensors (the limit of this hyperc)", p->label,
                           ST_MAX_TENSORS);
        st_entry *e = &p->cur;
        memset(e, 0, sizeof *e);
        hc_json_str_decode(&k, e->info.name);
        e->info.name[k.len] = 0;
        if ((s = parse_tensor(p, e))) return s;
        if (!grow((void **)&p->ents, &p->cap, p->n + 1, sizeof *p->ents) ||
            !grow((void **)&p->pool, &p->pool_cap, p->pool_len + k.len + 1, 1) ||
            !grow((void **)&p->dims, &p->dims_cap, p->dims_len + e->info.ndim, sizeof *p->dims))
            return hc_fail(p->err, HC_E_NOMEM, "'%s': out of memory for %llu tensors", p->label, (ull)p->n + 1);
        st_ent *c = &p->ents[p->n];
        c->begin = e->begin;
        c->end = e->end;
        c->nelem = e->info.nelem;
        c->name_at = (uint32_t)p->pool_len;
        c->name_len = (uint16_t)k.len;
        memcpy(p->pool + p->pool_len, e->info.name, k.len + 1);
        p->pool_len += k.len + 1;
        c->shape_at = (uint32_t)p->dims_len;
        if (e->info.ndim) memcpy(p->dims + p->dims_len, e->info.shape, e->info.ndim * sizeof *p->dims);
        p->dims_len += e->info.ndim;
        c->dtype = (uint8_t)e->info.dtype;
        c->ndim = (uint8_t)e->info.ndim;
        c->order = (uint32_t)p->n;
        p->n++;
    }
    if (r < 0) return json_error(p, NULL, NULL);
    if (!hc_json_finish(j)) return json_error(p, NULL, NULL);
    return HC_OK;
}

static const char *st_key(const void *ctx, size_t i, size_t *len) {
    const hc_safetensors *st = ctx;
    *len = st->ents[i].name_len;
    return st->pool + st->ents[i].name_at;
}

static const char *ent_name(const hc_safetensors *st, size_t i) { return st->pool + st->ents[i].name_at; }

static pname ent_pname(const hc_safetensors *st, size_t i) {
    return printable(ent_name(st, i), st->ents[i].name_len);
}

static void fill_info(const void *ctx, size_t i, void *out) {
    const hc_safetensors *st = ctx;
    const st_ent *c = &st->ents[i];
    hc_tensor_info *t = out;
    /* no memset of the 1 KB name buffer: the bytes after the NUL are unused */
    memcpy(t->name, st->pool + c->name_at, (size_t)c->name_len + 1);
    memset(t->shape, 0, sizeof t->shape);
    t->dtype = (hc_dtype)c->dtype;
    t->ndim = c->ndim;
    for (unsigned d = 0; d < c->ndim; d++) t->shape[d] = st->dims[c->shape_at + d];
    t->nelem = c->nelem;
    t->nbytes = c->end - c->begin;
}

/* Sorts the entries into storage order (by offset), indexes their names;
 * checks that names are distinct and that the data is tiled exactly. */
static hc_status index_tensors(st_parse *p, hc_safetensors *st) {
    size_t n = p->n;
    if (n > 1) qsort(st->ents, n, sizeof *st->ents, cmp_by_offset);
    size_t d1 = 0, d2 = 0;
    int r = hc_strindex_build(&st->by_name, n, st_key, st, &d1, &d2);
    if (r < 0) return hc_fail(p->err, HC_E_NOMEM, "'%s': out of memory", p->label);
    if (r > 0) return hc_fail(p->err, HC_E_FORMAT, "'%s': duplicate tensor name '%s'", p->label, ent_pname(st, d2).s);
    if (hc_lazytab_init(&st->full, n, sizeof(hc_tensor_info)))
        return hc_fail(p->err, HC_E_NOMEM, "'%s': out of memory", p->label);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const st_ent *e = &st->ents[i];
        if (e->begin < at && i > 0)
            return hc_fail(p->err, HC_E_CORRUPT, "'%s': tensor '%s' (bytes %llu..%llu) overlaps tensor '%s'", p->label,
                           ent_pname(st, i).s, (ull)e->begin, (ull)e->end, ent_pname(st, i - 1).s);
        if (e->begin > at)
            return hc_fail(p->err, HC_E_CORRUPT,
                           "'%s': hole of %llu bytes in the data before tensor '%s' (data must be contiguous)",
                           p->label, (ull)(e->begin - at), ent_pname(st, i).s);
        at = e->end;
    }
    if (at != p->data_len)
        return hc_fail(p->err, HC_E_CORRUPT, "'%s': %llu bytes at the end of the data belong to no tensor", p->label,
                       (ull)(p->data_len - at));
    return HC_OK;
}

static hc_status st_open_mem(const void *buf, uint64_t len, const char *label, hc_safetensors **out,
                             hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_st_open_mem: out is NULL");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return hc_fail(err, HC_E_ARG, "'%s': buffer is NULL", label);
    const uint8_t *b = buf;
    if (len >= 4 && !memcmp(b, "GGUF", 4))
        return hc_fail(err, HC_E_FORMAT, "'%s': this is a GGUF file, not a safetensors file", label);
    if (len >= 8 && !memcmp(b, "\x89HYC\r\n\x1a\n", 8))
        return hc_fail(err, HC_E_FORMAT, "'%s': this is a .hyc container, not a safetensors file", label);
    if (len < 8)
        return hc_fail(err, HC_E_FORMAT, "'%s': too short for a safetensors file (%llu bytes, need at least 8)",
                       label, (ull)len);
    uint64_t hlen = hc_get_u64(b);
    if (hlen > ST_MAX_HEADER)
        return hc_fail(err, HC_E_LIMIT, "'%s': header length %llu exceeds the limit of %llu bytes", label, (ull)hlen,
                       (ull)ST_MAX_HEADER);
    if (hlen > len - 8)
        return hc_fail(err, HC_E_FORMAT, "'%s': header length %llu goes beyond the end of the file (%llu bytes)",
                       label, (ull)hlen, (ull)len);
    if (hlen < 2 || b[8] != '{')
        return hc_fail(err, HC_E_FORMAT, "'%s': header does not start with '{': not a safetensors file", label);
    st_parse p;
    memset(&p, 0, sizeof p);
    p.label = label;
    p.err = err;
    p.data_len = len - 8 - hlen;
    hc_json_init(&p.j, (const char *)b + 8, (size_t)hlen);
    hc_safetensors *st = calloc(1, sizeof *st);
    if (!st) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    hc_status s = parse_header(&p);
    st->ents = p.ents;
    st->pool = p.pool;
    st->dims = p.dims;
    st->n = p.n;
    if (s == HC_OK) s = index_tensors(&p, st);
    if (s == HC_OK && p.have_meta) {
        st->metadata_len = p.meta_end - p.meta_start;
        st->metadata = malloc(st->metadata_len + 1);
        if (!st->metadata) {
            s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
        } else {
            memcpy(st->metadata, b + 8 + p.meta_start, st->metadata_len);
            st->metadata[st->metadata_len] = 0;
        }
    }
    if (s != HC_OK) {
        hc_st_close(st);
        return s;
    }
    st->data = b + 8 + hlen;
    st->data_len = p.data_len;
    *out = st;
    return HC_OK;
}

/* A file that is not safetensors at all is named for what it is. */
hc_status hc_st_open_mem(const void *buf, uint64_t len, const char *label, hc_safetensors **out,
                         hc_error *err) {
    hc_status s = st_open_mem(buf, len, label, out, err);
    if (s == HC_E_FORMAT || s == HC_E_LIMIT || s == HC_E_CORRUPT) {
        const char *kind = hc_sniff_format(buf, len < HC_SNIFF_HEAD ? (size_t)len : HC_SNIFF_HEAD);
        if (kind && strcmp(kind, "safetensors file") != 0)
            return hc_fail(err, HC_E_FORMAT, "'%s' is a %s, not a safetensors file%s", label ? label : "<memory>", kind,
                           strcmp(kind, ".hyc container") == 0 ? " (hyperc decompress turns it into one)" : "");
    }
    return s;
}

hc_status hc_st_open(const char *path, hc_safetensors **out, hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_st_open: out is NULL");
    *out = NULL;
    if (!path) return hc_fail(err, HC_E_ARG, "hc_st_open: path is NULL");
    hc_map m;
    hc_status s = hc_map_file(path, &m, err);
    if (s) return s;
    s = hc_st_open_mem(m.ptr, m.len, path, out, err);
    if (s) {
        hc_unmap(&m);
        return s;
    }
    (*out)->map = m;
    return HC_OK;
}

void hc_st_close(hc_safetensors *st) {
    if (!st) return;
    free(st->ents);
    free(st->pool);
    free(st->dims);
    hc_strindex_free(&st->by_name);
    hc_lazytab_free(&st->full);
    free(st->metadata);
    hc_unmap(&st->map);
    if (st->owner_free) st->owner_free(st->owner);
    free(st);
}

size_t hc_st_count(const hc_safetensors *st) { return st ? st->n : 0; }

const hc_tensor_info *hc_st_info(const hc_safetensors *st, size_t i) {
    if (!st || i >= st->n) return NULL;
    return hc_lazytab_get((hc_lazytab *)&st->full, i, fill_info, st);
}

hc_status hc_st_info_at(const hc_safetensors *st, size_t i, hc_tensor_info *out) {
    if (!st || !out || i >= st->n) return HC_E_ARG;
    fill_info(st, i, out);
    return HC_OK;
}

const char *hc_st_name(const hc_safetensors *st, size_t i) { return (st && i < st->n) ? ent_name(st, i) : NULL; }

const void *hc_st_data(const hc_safetensors *st, size_t i) {
    return (st && i < st->n) ? st->data + st->ents[i].begin : NULL;
}

long hc_st_find(const hc_safetensors *st, const char *name) {
    if (!st || !name) return -1;
    return hc_strindex_find(&st->by_name, name, strlen(name), st_key, st);
}

const char *hc_st_metadata(const hc_safetensors *st, size_t *len) {
    if (len) *len = st && st->metadata ? st->metadata_len : 0;
    return st ? st->metadata : NULL;
}

/* A view over tensors held elsewhere (a GGUF file's data section, see
 * src/io/gguf.h): tensor i is infos[i] at data + begins[i], in this order. */
hc_status hc_st_open_view(const void *data, uint64_t data_len, const hc_tensor_info *infos,
                          const uint64_t *begins, size_t n, const char *label, hc_safetensors **out,
                          hc_error *err) {
    *out = NULL;
    if (!label) label = "<view>";
    if (n > HC_MAX_TENSORS)
        return hc_fail(err, HC_E_LIMIT, "'%s': %zu tensors, more than the limit of %u", label, n,
                       (unsigned)HC_MAX_TENSORS);
    hc_safetensors *st = calloc(1, sizeof *st);
    if (!st) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    size_t pool_len = 0, dims_len = 0;
    for (size_t i = 0; i < n; i++) {
        pool_len += strlen(infos[i].name) + 1;
        dims_len += infos[i].ndim;
    }
    st->ents = calloc(n ? n : 1, sizeof *st->ents);
    st->pool = malloc(pool_len ? pool_len : 1);
    st->dims = malloc((dims_len ? dims_len : 1) * sizeof *st->dims);
    if (!st->ents || !st->pool || !st->dims || hc_lazytab_init(&st->full, n, sizeof(hc_tensor_info))) {
        hc_st_close(st);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    }
    st->n = n;
    size_t pool_at = 0, dims_at = 0;
    for (size_t i = 0; i < n; i++) {
        const hc_tensor_info *t = &infos[i];
        if (begins[i] > data_len || t->nbytes > data_len - begins[i] || t->ndim > HC_MAX_DIMS) {
            hc_st_close(st);
            return hc_fail(err, HC_E_CORRUPT, "'%s': tensor '%s' lies outside the data", label, t->name);
        }
        st_ent *e = &st->ents[i];
        size_t l = strlen(t->name);
        e->begin = begins[i];
        e->end = begins[i] + t->nbytes;
        e->nelem = t->nelem;
        e->name_at = (uint32_t)pool_at;
        e->name_len = (uint16_t)l;
        memcpy(st->pool + pool_at, t->name, l + 1);
        pool_at += l + 1;
        e->shape_at = (uint32_t)dims_at;
        if (t->ndim) memcpy(st->dims + dims_at, t->shape, t->ndim * sizeof *st->dims);
        dims_at += t->ndim;
        e->order = (uint32_t)i;
        e->dtype = (uint8_t)t->dtype;
        e->ndim = (uint8_t)t->ndim;
    }
    size_t d1 = 0, d2 = 0;
    int r = hc_strindex_build(&st->by_name, n, st_key, st, &d1, &d2);
    if (r) {
        hc_status s = r < 0 ? hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label)
                            : hc_fail(err, HC_E_FORMAT, "'%s': duplicate tensor name '%s'", label, ent_pname(st, d2).s);
        hc_st_close(st);
        return s;
    }
    st->data = data;
    st->data_len = data_len;
    *out = st;
    return HC_OK;
}

void hc_st_view_set_metadata(hc_safetensors *st, char *meta, size_t len) {
    free(st->metadata);
    st->metadata = meta;
    st->metadata_len = len;
    if (meta) meta[len] = 0;
}

void hc_st_view_set_owner(hc_safetensors *st, void *owner, void (*owner_free)(void *)) {
    st->owner = owner;
    st->owner_free = owner_free;
}

/* ===================================================================== */
/* Writing                                                                */
/* ===================================================================== */

struct hc_st_writer {
    hc_outfile out;
    size_t n;
    uint64_t *nbytes;      /* [n] bytes each put() must give            */
    uint32_t *name_at;     /* [n] offset of each name in names          */
    char *names;           /* the names, NUL-terminated                 */
    size_t next;           /* index the next put() must have */
    int failed;            /* a write failed: finish() refuses */
};

/* A growable text buffer for the header; count_only: measures, stores nothing. */
typedef struct sbuf {
    char *p; /* [len], capacity cap */
    size_t len, cap;
    int oom, too_big; /* an allocation failed / far past any valid header */
    int count_only;
} sbuf;

static char *sb_room(sbuf *b, size_t n) {
    if (b->oom || b->too_big) return NULL;
    if (n > ST_MAX_HEADER || b->len + n > ST_MAX_HEADER + 8) {
        b->too_big = 1;
        return NULL;
    }
    if (b->count_only) {
        b->len += n;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n) nc *= 2;
        char *t = realloc(b->p, nc);
        if (!t) { b->oom = 1; return NULL; }
        b->p = t;
        b->cap = nc;
    }
    char *r = b->p + b->len;
    b->len += n;
    return r;
}

static void sb_add(sbuf *b, const char *s, size_t n) {
    char *d = sb_room(b, n);
    if (d) memcpy(d, s, n);
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v) {
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (ull)v);
    sb_add(b, t, (size_t)n);
}

static void sb_json_string(sbuf *b, const char *s, size_t n) {
    sb_add(b, "\"", 1);
    char *d = sb_room(b, hc_json_escape(s, n, NULL));
    if (d) hc_json_escape(s, n, d);
    sb_add(b, "\"", 1);
}

/* Checks one tensor of the caller's table. */
static hc_status check_info(const char *path, size_t i, const hc_tensor_info *t, size_t *name_len, hc_error *err) {
    const char *z = memchr(t->name, 0, HC_MAX_NAME);
    if (!z) return hc_fail(err, HC_E_ARG, "'%s': tensor %llu: name is not NUL-terminated", path, (ull)i);
    size_t nl = (size_t)(z - t->name);
    pname nm = printable(t->name, nl);
    if (!hc_utf8_valid(t->name, nl))
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': name is not valid UTF-8", path, nm.s);
    if (strcmp(t->name, ST_META_KEY) == 0)
        return hc_fail(err, HC_E_ARG, "'%s': a tensor may not be named %s", path, ST_META_KEY);
    if ((unsigned)t->dtype >= HC_DTYPE_COUNT)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': invalid dtype %d", path, nm.s, (int)t->dtype);
    if (t->ndim > HC_MAX_DIMS)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': %u dimensions (at most %d)", path, nm.s, t->ndim,
                       HC_MAX_DIMS);
    hc_tensor_info c = *t;
    if (!tensor_sizes(&c))
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': shape product overflows 64 bits", path, nm.s);
    if (c.nelem != t->nelem || c.nbytes != t->nbytes)
        return hc_fail(err, HC_E_ARG,
                       "'%s': tensor '%s': nelem/nbytes (%llu, %llu) disagree with shape and dtype (%llu, %llu)",
                       path, nm.s, (ull)t->nelem, (ull)t->nbytes, (ull)c.nelem, (ull)c.nbytes);
    *name_len = nl;
    return HC_OK;
}

/* Writes (or, count_only, measures) the padded header text. */
static hc_status build_header(const char *path, size_t n, hc_st_info_fn info, const void *user, const char *meta,
                              size_t meta_len, sbuf *b, hc_error *err) {
    hc_tensor_info *t = malloc(sizeof *t);
    if (!t) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory building the header", path);
    sb_add(b, "{", 1);
    if (meta) {
        sb_str(b, "\"" ST_META_KEY "\":");
        sb_add(b, meta, meta_len);
    }
    uint64_t at = 0;
    for (size_t i = 0; i < n && !b->oom && !b->too_big; i++) {
        info(user, i, t);
        if (i || meta) sb_add(b, ",", 1);
        sb_json_string(b, t->name, strlen(t->name));
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, hc_dtype_name(t->dtype));
        sb_str(b, "\",\"shape\":[");
        for (uint32_t d = 0; d < t->ndim; d++) {
            if (d) sb_add(b, ",", 1);
            sb_u64(b, t->shape[d]);
        }
        sb_str(b, "],\"data_offsets\":[");
        sb_u64(b, at);
        sb_add(b, ",", 1);
        if (at + t->nbytes < at) {
            free(t);
            return hc_fail(err, HC_E_LIMIT, "'%s': total data size overflows 64 bits", path);
        }
        at += t->nbytes;
        sb_u64(b, at);
        sb_str(b, "]}");
    }
    free(t);
    sb_add(b, "}", 1);
    /* pad with spaces so the data starts 8-byte aligned, as the reference does */
    size_t pad = (8 - b->len % 8) % 8;
    char *d = sb_room(b, pad);
    if (d) memset(d, ' ', pad);
    if (b->oom) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory building the header", path);
    if (b->too_big || b->len > ST_MAX_HEADER)
        return hc_fail(err, HC_E_LIMIT, "'%s': header would exceed the limit of %llu bytes", path, (ull)ST_MAX_HEADER);
    return HC_OK;
}

/* The table as a writer keeps it: sizes and names. */
typedef struct st_table {
    uint64_t *nbytes;  /* [n] */
    uint32_t *name_at; /* [n] */
    char *names;       /* [names_len] */
    size_t names_len;
} st_table;

static const char *table_key(const void *ctx, size_t i, size_t *len) {
    const st_table *t = ctx;
    const char *s = t->names + t->name_at[i];
    *len = strlen(s);
    return s;
}

static void table_free(st_table *t) {
    free(t->nbytes);
    free(t->name_at);
    free(t->names);
    memset(t, 0, sizeof *t);
}

/* Every check of the writer: count, each tensor, metadata, distinct names,
 * header size. Fills *tab (the caller frees it), *meta_at and *meta_n (the
 * metadata object's text within metadata_json) and *header_len. */
static hc_status check_table(const char *path, size_t n, hc_st_info_fn info, const void *user,
                             const char *metadata_json, size_t metadata_len, st_table *tab, size_t *meta_at,
                             size_t *meta_n, size_t *header_len, hc_error *err) {
    memset(tab, 0, sizeof *tab);
    *meta_at = *meta_n = *header_len = 0;
    if (n && !info) return hc_fail(err, HC_E_ARG, "'%s': tensor table is NULL", path);
    if (n > ST_MAX_TENSORS)
        return hc_fail(err, HC_E_LIMIT, "'%s': %llu tensors, more than the limit of %u", path, (ull)n, ST_MAX_TENSORS);
    if (metadata_len > HC_MAX_METADATA)
        return hc_fail(err, HC_E_LIMIT, "'%s': metadata of %llu bytes exceeds the limit of %u", path,
                       (ull)metadata_len, HC_MAX_METADATA);
    hc_status s = HC_OK;
    hc_tensor_info *t = malloc(sizeof *t);
    tab->nbytes = malloc((n ? n : 1) * sizeof *tab->nbytes);
    tab->name_at = malloc((n ? n : 1) * sizeof *tab->name_at);
    size_t cap = 0;
    if (!t || !tab->nbytes || !tab->name_at) s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    for (size_t i = 0; i < n && s == HC_OK; i++) {
        info(user, i, t);
        size_t nl = 0;
        if ((s = check_info(path, i, t, &nl, err))) break;
        if (!grow((void **)&tab->names, &cap, tab->names_len + nl + 1, 1)) {
            s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
            break;
        }
        tab->nbytes[i] = t->nbytes;
        tab->name_at[i] = (uint32_t)tab->names_len;
        memcpy(tab->names + tab->names_len, t->name, nl + 1);
        tab->names_len += nl + 1;
    }
    free(t);
    if (s) return s;

    /* metadata: an object of strings, written verbatim without surrounding space */
    if (metadata_json) {
        hc_json j;
        size_t a = 0, e = 0;
        hc_json_init(&j, metadata_json, metadata_len);
        if ((s = parse_metadata(&j, path, HC_E_ARG, &a, &e, err))) return s;
        if (!hc_json_finish(&j))
            return hc_fail(err, HC_E_ARG, "'%s': metadata is not a valid JSON object: %s (byte %llu)", path, j.why,
                           (ull)j.err_pos);
        *meta_at = a;
        *meta_n = e - a;
    }

    hc_strindex idx;
    size_t d1 = 0, d2 = 0;
    int r = hc_strindex_build(&idx, n, table_key, tab, &d1, &d2);
    hc_strindex_free(&idx);
    if (r < 0) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    if (r > 0) {
        const char *nm = tab->names + tab->name_at[d2];
        return hc_fail(err, HC_E_ARG, "'%s': duplicate tensor name '%s'", path, printable(nm, strlen(nm)).s);
    }

    sbuf b = {0};
    b.count_only = 1;
    s = build_header(path, n, info, user, metadata_json ? metadata_json + *meta_at : NULL, *meta_n, &b, err);
    *header_len = b.len;
    return s;
}

hc_status hc_st_writer_check(const char *path, size_t n, hc_st_info_fn info, const void *user,
                             const char *metadata_json, size_t metadata_len, hc_error *err) {
    if (!path) path = "<safetensors>";
    st_table tab;
    size_t ma, mn, hl;
    hc_status s = check_table(path, n, info, user, metadata_json, metadata_len, &tab, &ma, &mn, &hl, err);
    table_free(&tab);
    return s;
}

hc_status hc_st_writer_open_fn(const char *path, size_t n, hc_st_info_fn info, const void *user,
                               const char *metadata_json, size_t metadata_len, int overwrite, hc_st_writer **out,
                               hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_st_writer_open: out is NULL");
    *out = NULL;
    if (!path) return hc_fail(err, HC_E_ARG, "hc_st_writer_open: path is NULL");
    st_table tab;
    size_t meta_at, meta_n, header_len;
    hc_status s = check_table(path, n, info, user, metadata_json, metadata_len, &tab, &meta_at, &meta_n,
                              &header_len, err);
    if (s) {
        table_free(&tab);
        return s;
    }
    hc_st_writer *w = calloc(1, sizeof *w);
    if (!w) {
        table_free(&tab);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    }
    w->n = n;
    w->nbytes = tab.nbytes;
    w->name_at = tab.name_at;
    w->names = tab.names;

    sbuf b = {0};
    if (!(b.p = malloc(header_len ? header_len : 1)))
        s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory for a header of %llu bytes", path, (ull)header_len);
    else
        b.cap = header_len ? header_len : 1;
    if (s == HC_OK)
        s = build_header(path, n, info, user, metadata_json ? metadata_json + meta_at : NULL, meta_n, &b, err);
    if (s == HC_OK) s = hc_out_open_flags(&w->out, path, (overwrite ? HC_OUT_OVERWRITE : 0) | HC_OUT_SEQUENTIAL, err);
    if (s == HC_OK) {
        uint8_t len8[8];
        hc_put_u64(len8, b.len);
        if ((s = hc_out_write(&w->out, len8, 8, err)) == HC_OK) s = hc_out_write(&w->out, b.p, b.len, err);
        if (s) hc_out_abort(&w->out);
    }
    free(b.p);
    if (s) {
        free(w->nbytes);
        free(w->name_at);
        free(w->names);
        free(w);
        return s;
    }
    *out = w;
    return HC_OK;
}

static void array_info(const void *user, size_t i, hc_tensor_info *out) {
    *out = ((const hc_tensor_info *)user)[i];
}

hc_status hc_st_writer_open(const char *path, const hc_tensor_info *infos, size_t n, const char *metadata_json,
                            size_t metadata_len, int overwrite, hc_st_writer **out, hc_error *err) {
    if (n && !infos) {
        if (out) *out = NULL;
        return hc_fail(err, HC_E_ARG, "'%s': tensor table is NULL", path ? path : "?");
    }
    return hc_st_writer_open_fn(path, n, array_info, infos, metadata_json, metadata_len, overwrite, out, err);
}

static void writer_free(hc_st_writer *w) {
    free(w->nbytes);
    free(w->name_at);
    free(w->names);
    free(w);
}

hc_status hc_st_writer_put(hc_st_writer *w, size_t i, const void *data, hc_error *err) {
    if (!w) return hc_fail(err, HC_E_ARG, "hc_st_writer_put: writer is NULL");
    const char *path = w->out.path;
    if (w->failed) return hc_fail(err, HC_E_ARG, "'%s': an earlier write failed", path);
    if (i != w->next)
        return hc_fail(err, HC_E_ARG, "'%s': tensor %llu written out of order (expected %llu)", path, (ull)i,
                       (ull)w->next);
    if (i >= w->n) return hc_fail(err, HC_E_ARG, "'%s': tensor %llu of %llu", path, (ull)i, (ull)w->n);
    const uint64_t nbytes = w->nbytes[i];
    const char *name = w->names + w->name_at[i];
    if (!data && nbytes)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': data is NULL", path, printable(name, strlen(name)).s);
    if ((uint64_t)(size_t)nbytes != nbytes)
        return hc_fail(err, HC_E_LIMIT, "'%s': tensor too large for this platform", path);
    hc_status s = hc_out_write(&w->out, data, (size_t)nbytes, err);
    if (s) {
        w->failed = 1;
        return hc_error_context(err, s, "writing tensor '%s'", printable(name, strlen(name)).s);
    }
    w->next++;
    return HC_OK;
}

hc_status hc_st_writer_finish(hc_st_writer *w, hc_error *err) {
    if (!w) return hc_fail(err, HC_E_ARG, "hc_st_writer_finish: writer is NULL");
    hc_status s;
    if (w->failed || w->next != w->n) {
        s = hc_fail(err, HC_E_ARG, "'%s': only %llu of %llu tensors were written; file not created", w->out.path,
                    (ull)w->next, (ull)w->n);
        hc_out_abort(&w->out);
    } else {
        s = hc_out_commit(&w->out, err);
    }
    writer_free(w);
    return s;
}

void hc_st_writer_abort(hc_st_writer *w) {
    if (!w) return;
    hc_out_abort(&w->out);
    writer_free(w);
}

/* Declared in llama2c_io.h: an in-memory image that st owns. */
hc_status hc_st_open_map(hc_map *m, const char *label, hc_safetensors **out, hc_error *err) {
    hc_status s = hc_st_open_mem(m->ptr, m->len, label, out, err);
    if (s) {
        hc_unmap(m);
        return s;
    }
    (*out)->map = *m;
    memset(m, 0, sizeof *m);
    return HC_OK;
}
