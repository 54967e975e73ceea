/* safetensors.c — reading (zero-copy, fully validated) of
 * safetensors files: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}, then the tensors' bytes back to back.
 *
 * The input is treated as hostile: every number is checked before use, the
 * data ranges must tile the byte buffer exactly (no holes, no overlaps, as the
 * format requires), and memory grows only with entries actually parsed.
 * The writer is in safetensors_write.c; shared helpers in safetensors_int.h. */
#include "json.h"
#include "sniff.h"
#include "gguf.h"
#include "safetensors_int.h"
#include "../common/util.h"
#include "../common/strindex.h"
#include <stdlib.h>
#include <string.h>

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
