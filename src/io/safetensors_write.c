/* safetensors_write.c — writing of safetensors files (the layout in
 * safetensors.c): the JSON header is built and checked the way the reader
 * checks it, then the tensors' bytes are streamed in order. */
#include "json.h"
#include "safetensors_int.h"
#include "../common/util.h"
#include "../common/strindex.h"
#include <stdlib.h>
#include <string.h>

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
