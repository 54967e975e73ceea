/* safetensors.c — reading (zero-copy, fully validated) and writing of
 * safetensors files: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}, then the tensors' bytes back to back.
 *
 * The input is treated as hostile: every number is checked before use, the
 * data ranges must tile the byte buffer exactly (no holes, no overlaps, as the
 * format requires), and memory grows only with entries actually parsed. */
#include "json.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000ull /* bytes; the reference implementation's limit */
#define ST_MAX_TENSORS (1u << 18)  /* bounds the table (~1.1 KB per tensor)       */
#define ST_MAX_META_KEYS (1u << 16) /* bounds the key table of the duplicate check */
#define ST_META_KEY "__metadata__"

typedef unsigned long long ull;

typedef struct st_entry {
    hc_tensor_info info;
    uint64_t begin, end; /* byte range in the data buffer */
    size_t order;        /* position of the entry in the JSON header */
    size_t index;        /* position in storage order */
} st_entry;

struct hc_safetensors {
    hc_map map;                /* the file, when opened by path              */
    const uint8_t *data;       /* [data_len] the byte buffer after the header */
    uint64_t data_len;
    size_t n;
    st_entry *table;           /* [n] in header order                        */
    const st_entry **stored;   /* [n] sorted by data offset: storage order   */
    const st_entry **by_name;  /* [n] sorted by name, for hc_st_find         */
    char *metadata;            /* [metadata_len + 1] NUL-terminated copy     */
    size_t metadata_len;
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
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_by_name(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    return strcmp(x->info.name, y->info.name);
}

static int cmp_info_name(const void *a, const void *b) {
    return strcmp((*(const hc_tensor_info *const *)a)->name, (*(const hc_tensor_info *const *)b)->name);
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
    st_entry *table; /* [n], capacity cap */
    size_t n, cap;
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

/* Parses the header object into p->table. */
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
            return hc_fail(p->err, HC_E_LIMIT, "'%s': more than %u tensors", p->label, ST_MAX_TENSORS);
        if (p->n == p->cap) {
            size_t nc = p->cap ? 2 * p->cap : 16;
            st_entry *t = realloc(p->table, nc * sizeof *t);
            if (!t) return hc_fail(p->err, HC_E_NOMEM, "'%s': out of memory for %llu tensors", p->label, (ull)nc);
            p->table = t;
            p->cap = nc;
        }
        st_entry *e = &p->table[p->n];
        memset(e, 0, sizeof *e);
        hc_json_str_decode(&k, e->info.name);
        e->info.name[k.len] = 0;
        e->order = p->n;
        if ((s = parse_tensor(p, e))) return s;
        p->n++;
    }
    if (r < 0) return json_error(p, NULL, NULL);
    if (!hc_json_finish(j)) return json_error(p, NULL, NULL);
    return HC_OK;
}

/* Sorts the table by offset and by name; checks that the data is tiled
 * exactly and that names are distinct. */
static hc_status index_tensors(st_parse *p, hc_safetensors *st) {
    size_t n = p->n;
    st->stored = malloc((n ? n : 1) * sizeof *st->stored);
    st->by_name = malloc((n ? n : 1) * sizeof *st->by_name);
    if (!st->stored || !st->by_name) return hc_fail(p->err, HC_E_NOMEM, "'%s': out of memory", p->label);
    for (size_t i = 0; i < n; i++) st->stored[i] = st->by_name[i] = &p->table[i];
    qsort(st->by_name, n, sizeof *st->by_name, cmp_by_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(st->by_name[i - 1]->info.name, st->by_name[i]->info.name) == 0)
            return hc_fail(p->err, HC_E_FORMAT, "'%s': duplicate tensor name '%s'", p->label,
                           printable(st->by_name[i]->info.name, strlen(st->by_name[i]->info.name)).s);
    qsort(st->stored, n, sizeof *st->stored, cmp_by_offset);
    uint64_t at = 0;
    const st_entry *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = st->stored[i];
        if (e->begin < at && prev)
            return hc_fail(p->err, HC_E_CORRUPT, "'%s': tensor '%s' (bytes %llu..%llu) overlaps tensor '%s'", p->label,
                           printable(e->info.name, strlen(e->info.name)).s, (ull)e->begin, (ull)e->end,
                           printable(prev->info.name, strlen(prev->info.name)).s);
        if (e->begin > at)
            return hc_fail(p->err, HC_E_CORRUPT,
                           "'%s': hole of %llu bytes in the data before tensor '%s' (data must be contiguous)",
                           p->label, (ull)(e->begin - at), printable(e->info.name, strlen(e->info.name)).s);
        p->table[e - p->table].index = i;
        at = e->end;
        prev = e;
    }
    if (at != p->data_len)
        return hc_fail(p->err, HC_E_CORRUPT, "'%s': %llu bytes at the end of the data belong to no tensor", p->label,
                       (ull)(p->data_len - at));
    return HC_OK;
}

hc_status hc_st_open_mem(const void *buf, uint64_t len, const char *label, hc_safetensors **out,
                         hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_st_open_mem: out is NULL");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return hc_fail(err, HC_E_ARG, "'%s': buffer is NULL", label);
    const uint8_t *b = buf;
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
    st->table = p.table;
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
    free(st->table);
    free(st->stored);
    free(st->by_name);
    free(st->metadata);
    hc_unmap(&st->map);
    free(st);
}

size_t hc_st_count(const hc_safetensors *st) { return st ? st->n : 0; }

const hc_tensor_info *hc_st_info(const hc_safetensors *st, size_t i) {
    return (st && i < st->n) ? &st->stored[i]->info : NULL;
}

const void *hc_st_data(const hc_safetensors *st, size_t i) {
    return (st && i < st->n) ? st->data + st->stored[i]->begin : NULL;
}

long hc_st_find(const hc_safetensors *st, const char *name) {
    if (!st || !name) return -1;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->info.name, name);
        if (c == 0) return (long)st->by_name[mid]->index;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

const char *hc_st_metadata(const hc_safetensors *st, size_t *len) {
    if (len) *len = st && st->metadata ? st->metadata_len : 0;
    return st ? st->metadata : NULL;
}

/* ===================================================================== */
/* Writing                                                                */
/* ===================================================================== */

struct hc_st_writer {
    hc_outfile out;
    hc_tensor_info *infos; /* [n] copy of the caller's table */
    size_t n;
    size_t next;           /* index the next put() must have */
    int failed;            /* a write failed: finish() refuses */
};

/* A growable text buffer for the header. */
typedef struct sbuf {
    char *p; /* [len], capacity cap */
    size_t len, cap;
    int oom, too_big; /* an allocation failed / far past any valid header */
} sbuf;

static char *sb_room(sbuf *b, size_t n) {
    if (b->oom || b->too_big) return NULL;
    if (n > ST_MAX_HEADER || b->len + n > ST_MAX_HEADER + 8) {
        b->too_big = 1;
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

/* Checks the caller's tensor table; fills nothing. */
static hc_status check_infos(const char *path, const hc_tensor_info *infos, size_t n, hc_error *err) {
    for (size_t i = 0; i < n; i++) {
        const hc_tensor_info *t = &infos[i];
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
    }
    return HC_OK;
}

/* Builds the padded header text for the writer. */
static hc_status build_header(const char *path, const hc_tensor_info *infos, size_t n, const char *meta,
                              size_t meta_len, sbuf *b, hc_error *err) {
    sb_add(b, "{", 1);
    if (meta) {
        sb_str(b, "\"" ST_META_KEY "\":");
        sb_add(b, meta, meta_len);
    }
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const hc_tensor_info *t = &infos[i];
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
        if (at + t->nbytes < at)
            return hc_fail(err, HC_E_LIMIT, "'%s': total data size overflows 64 bits", path);
        at += t->nbytes;
        sb_u64(b, at);
        sb_str(b, "]}");
    }
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

hc_status hc_st_writer_open(const char *path, const hc_tensor_info *infos, size_t n, const char *metadata_json,
                            size_t metadata_len, int overwrite, hc_st_writer **out, hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_st_writer_open: out is NULL");
    *out = NULL;
    if (!path) return hc_fail(err, HC_E_ARG, "hc_st_writer_open: path is NULL");
    if (n && !infos) return hc_fail(err, HC_E_ARG, "'%s': tensor table is NULL", path);
    if (n > ST_MAX_TENSORS) return hc_fail(err, HC_E_LIMIT, "'%s': more than %u tensors", path, ST_MAX_TENSORS);
    hc_status s = check_infos(path, infos, n, err);
    if (s) return s;

    /* metadata: an object of strings, written verbatim without surrounding space */
    const char *meta = NULL;
    size_t meta_len = 0;
    if (metadata_json) {
        hc_json j;
        size_t a = 0, e = 0;
        hc_json_init(&j, metadata_json, metadata_len);
        if ((s = parse_metadata(&j, path, HC_E_ARG, &a, &e, err))) return s;
        if (!hc_json_finish(&j))
            return hc_fail(err, HC_E_ARG, "'%s': metadata is not a valid JSON object: %s (byte %llu)", path, j.why,
                           (ull)j.err_pos);
        meta = metadata_json + a;
        meta_len = e - a;
    }

    hc_st_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->infos = malloc((n ? n : 1) * sizeof *infos))) {
        free(w);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    }
    if (n) memcpy(w->infos, infos, n * sizeof *infos);
    w->n = n;

    /* distinct names */
    const hc_tensor_info **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    for (size_t i = 0; s == HC_OK && i < n; i++) names[i] = &w->infos[i];
    if (s == HC_OK) {
        qsort(names, n, sizeof *names, cmp_info_name);
        for (size_t i = 1; i < n && s == HC_OK; i++)
            if (strcmp(names[i - 1]->name, names[i]->name) == 0)
                s = hc_fail(err, HC_E_ARG, "'%s': duplicate tensor name '%s'", path,
                            printable(names[i]->name, strlen(names[i]->name)).s);
    }
    free(names);

    sbuf b = {0};
    if (s == HC_OK) s = build_header(path, w->infos, n, meta, meta_len, &b, err);
    if (s == HC_OK) s = hc_out_open(&w->out, path, overwrite, err);
    if (s == HC_OK) {
        uint8_t len8[8];
        hc_put_u64(len8, b.len);
        if ((s = hc_out_write(&w->out, len8, 8, err)) == HC_OK) s = hc_out_write(&w->out, b.p, b.len, err);
        if (s) hc_out_abort(&w->out);
    }
    free(b.p);
    if (s) {
        free(w->infos);
        free(w);
        return s;
    }
    *out = w;
    return HC_OK;
}

hc_status hc_st_writer_put(hc_st_writer *w, size_t i, const void *data, hc_error *err) {
    if (!w) return hc_fail(err, HC_E_ARG, "hc_st_writer_put: writer is NULL");
    const char *path = w->out.path;
    if (w->failed) return hc_fail(err, HC_E_ARG, "'%s': an earlier write failed", path);
    if (i != w->next)
        return hc_fail(err, HC_E_ARG, "'%s': tensor %llu written out of order (expected %llu)", path, (ull)i,
                       (ull)w->next);
    const hc_tensor_info *t = &w->infos[i];
    if (!data && t->nbytes)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': data is NULL", path, printable(t->name, strlen(t->name)).s);
    if ((uint64_t)(size_t)t->nbytes != t->nbytes)
        return hc_fail(err, HC_E_LIMIT, "'%s': tensor too large for this platform", path);
    hc_status s = hc_out_write(&w->out, data, (size_t)t->nbytes, err);
    if (s) {
        w->failed = 1;
        return hc_fail(err, s, "writing tensor '%s'", printable(t->name, strlen(t->name)).s);
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
    free(w->infos);
    free(w);
    return s;
}

void hc_st_writer_abort(hc_st_writer *w) {
    if (!w) return;
    hc_out_abort(&w->out);
    free(w->infos);
    free(w);
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
