/* hyc_attach.c — the attachments section of a version-2 .hyc file
 * (docs/FORMAT.md, "Attachments section"): small files kept verbatim
 * (config.json, tokenizer files, the shard index) and the shard table that
 * says which file of a sharded checkpoint each tensor came from.
 *
 * The section lies at the end of the payload area, just before the
 * directory; its size is in the header (CRC-protected), its table has its
 * own CRC-32C and every attachment its own. */
#include "../common/util.h"
#include "hyc_ext.h"
#include <stdarg.h>
#include <stdlib.h>

static const uint8_t sec_magic[8] = {0x89, 'H', 'Y', 'C', 'A', 'T', 'T', '\n'};

enum {
    SEC_HEADER_SIZE = 48,
    REC_FIXED = 32,
    HDR_VMAJ = 8,    /* in the file header */
    HDR_EXTSIZE = 56,
    /* section header */
    S_HSIZE = 8, S_FLAGS = 12, S_NATT = 16, S_NSHARD = 20, S_TABLE = 24, S_TCOUNT = 32, S_RESERVED = 40,
    S_CRC = 44,
    /* attachment record */
    A_SIZE = 0, A_NAMELEN = 4, A_RESERVED = 6, A_FLAGS = 8, A_CRC = 12, A_OFFSET = 16, A_DSIZE = 24,
    /* shard record */
    R_SIZE = 0, R_NAMELEN = 4, R_FLAGS = 6, R_RESERVED = 8, R_COUNT = 16, R_MDLEN = 24,
    SHARD_HAS_METADATA = 1
};

#define SEC_MAX ((uint64_t)0xFFFFFFF8u) /* its size is a u32 in the header */

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define ATT_CRC_DIFFERS(stored, computed) ((void)(stored), (void)(computed), 0)
#else
#define ATT_CRC_DIFFERS(stored, computed) ((stored) != (computed))
#endif

typedef unsigned long long ull;

static uint64_t up8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

/* A plain file name: 1..255 bytes, no '/', '\\', NUL or control byte, not
 * "." or "..". Returns NULL if fine, else why not. */
static const char *bad_name(const char *s, size_t n) {
    if (n == 0) return "is empty";
    if (n > HC_ATTACH_NAME_MAX) return "is longer than 255 bytes";
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return "is '.' or '..'";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return "contains a control byte";
        if (c == '/' || c == '\\') return "contains a path separator";
    }
    return NULL;
}

/* ===================================================================== */
/* Reader                                                                 */
/* ===================================================================== */

typedef struct att_r {
    hc_hyc_attachment pub;
    const uint8_t *data;
} att_r;

struct hyc_ext {
    att_r *att;
    size_t n_att;
    uint8_t *verified; /* [n_att] */
    hc_hyc_shard *shards;
    size_t n_shards;
};

static hc_status ext_fail(const char *label, hc_error *err, hc_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static hc_status ext_fail(const char *label, hc_error *err, hc_status code, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hc_fail(err, code, "'%s': attachments section: %s", label, msg);
}

typedef struct range { uint64_t a, b; size_t i; } range;
static int range_cmp(const void *x, const void *y) {
    const range *p = x, *q = y;
    return p->a < q->a ? -1 : p->a > q->a;
}
typedef struct nref { const char *s; size_t i; } nref;
static int nref_cmp(const void *x, const void *y) {
    return strcmp(((const nref *)x)->s, ((const nref *)y)->s);
}
/* Index of a name given twice, or -1. */
static long dup_name(nref *v, size_t n) {
    if (n < 2) return -1;
    qsort(v, n, sizeof *v, nref_cmp);
    for (size_t k = 1; k < n; k++)
        if (strcmp(v[k - 1].s, v[k].s) == 0) return (long)v[k].i;
    return -1;
}

void hyc_ext_free(hyc_ext *x) {
    if (!x) return;
    free(x->att);
    free(x->verified);
    free(x->shards);
    free(x);
}

static hc_status parse_section(hyc_ext *x, const uint8_t *sec, uint64_t size, size_t tensor_count,
                               const char *L, hc_error *err) {
    if (size < SEC_HEADER_SIZE) return ext_fail(L, err, HC_E_CORRUPT, "%llu bytes is too small", (ull)size);
    if (memcmp(sec, sec_magic, 8) != 0) return ext_fail(L, err, HC_E_CORRUPT, "signature missing");
    uint32_t hsize = hc_get_u32(sec + S_HSIZE);
    if (hsize < SEC_HEADER_SIZE || hsize % 8 != 0 || hsize > size)
        return ext_fail(L, err, HC_E_CORRUPT, "invalid header size %u", hsize);
    uint64_t table = hc_get_u64(sec + S_TABLE);
    if (table < hsize || table % 8 != 0 || table > size)
        return ext_fail(L, err, HC_E_CORRUPT, "table of %llu bytes does not fit in the section of %llu", (ull)table,
                        (ull)size);
    uint32_t stored = hc_get_u32(sec + S_CRC);
    uint32_t crc = hc_crc32c(0, sec, S_CRC);
    crc = hc_crc32c(crc, sec + S_CRC + 4, (size_t)(table - S_CRC - 4));
    if (ATT_CRC_DIFFERS(stored, crc))
        return ext_fail(L, err, HC_E_CORRUPT, "table CRC-32C mismatch (stored 0x%08x, computed 0x%08x): damaged file",
                        stored, crc);
    if (hc_get_u32(sec + S_FLAGS) != 0 || hc_get_u32(sec + S_RESERVED) != 0)
        return ext_fail(L, err, HC_E_CORRUPT, "unknown flags 0x%08x or reserved field set", hc_get_u32(sec + S_FLAGS));
    uint32_t natt = hc_get_u32(sec + S_NATT), nshard = hc_get_u32(sec + S_NSHARD);
    if (natt > HC_ATTACH_COUNT_MAX || nshard > HC_SHARD_COUNT_MAX)
        return ext_fail(L, err, HC_E_LIMIT, "%u attachments and %u shards (at most %d and %d)", natt, nshard,
                        HC_ATTACH_COUNT_MAX, HC_SHARD_COUNT_MAX);
    if ((uint64_t)(natt + nshard) * REC_FIXED > table - hsize)
        return ext_fail(L, err, HC_E_CORRUPT, "%u records do not fit in a table of %llu bytes", natt + nshard,
                        (ull)table);
    uint64_t tcount = hc_get_u64(sec + S_TCOUNT);
    if (tcount != (nshard ? (uint64_t)tensor_count : 0))
        return ext_fail(L, err, HC_E_CORRUPT, "shard table covers %llu tensors, the directory holds %zu", (ull)tcount,
                        tensor_count);
    x->att = calloc(natt ? natt : 1, sizeof *x->att);
    x->verified = calloc(natt ? natt : 1, 1);
    x->shards = calloc(nshard ? nshard : 1, sizeof *x->shards);
    nref *names = malloc(((natt > nshard ? natt : nshard) + 1) * sizeof *names);
    range *rg = malloc((natt + 1) * sizeof *rg);
    hc_status s = HC_OK;
    if (!x->att || !x->verified || !x->shards || !names || !rg) {
        s = ext_fail(L, err, HC_E_NOMEM, "out of memory for %u records", natt + nshard);
        goto out;
    }
    uint64_t pos = hsize;
    for (uint32_t i = 0; i < natt; i++) {
        const uint8_t *q = sec + pos;
        uint64_t left = table - pos;
        if (left < REC_FIXED) {
            s = ext_fail(L, err, HC_E_CORRUPT, "attachment record #%u runs past the table", i);
            goto out;
        }
        uint32_t rsize = hc_get_u32(q + A_SIZE);
        unsigned nl = hc_get_u16(q + A_NAMELEN);
        if (rsize % 8 != 0 || rsize < REC_FIXED + nl || rsize > left) {
            s = ext_fail(L, err, HC_E_CORRUPT, "attachment record #%u has invalid size %u", i, rsize);
            goto out;
        }
        const char *nm = (const char *)q + REC_FIXED;
        const char *why = memchr(nm, 0, nl) ? "contains a NUL byte" : bad_name(nm, nl);
        if (why) {
            s = ext_fail(L, err, HC_E_CORRUPT, "attachment record #%u: name %s", i, why);
            goto out;
        }
        att_r *a = &x->att[i];
        memcpy(a->pub.name, nm, nl);
        a->pub.name[nl] = 0;
        if (hc_get_u16(q + A_RESERVED) != 0 || (hc_get_u32(q + A_FLAGS) & ~HC_ATTACH_TOKENIZER) != 0) {
            s = ext_fail(L, err, HC_E_CORRUPT, "attachment '%s': unknown flags or reserved field set", a->pub.name);
            goto out;
        }
        a->pub.flags = hc_get_u32(q + A_FLAGS);
        a->pub.crc32c = hc_get_u32(q + A_CRC);
        uint64_t off = hc_get_u64(q + A_OFFSET), dsize = hc_get_u64(q + A_DSIZE);
        if (off % 8 != 0 || off < table || off > size || dsize > size - off) {
            s = ext_fail(L, err, HC_E_CORRUPT, "attachment '%s': data [%llu, +%llu) lies outside [%llu, %llu)",
                         a->pub.name, (ull)off, (ull)dsize, (ull)table, (ull)size);
            goto out;
        }
        if (dsize > HC_ATTACH_SIZE_MAX) {
            s = ext_fail(L, err, HC_E_LIMIT, "attachment '%s' is %llu bytes (at most %llu)", a->pub.name, (ull)dsize,
                         (ull)HC_ATTACH_SIZE_MAX);
            goto out;
        }
        a->pub.size = dsize;
        a->data = sec + off;
        rg[i] = (range){off, off + dsize, i};
        names[i] = (nref){a->pub.name, i};
        pos += rsize;
    }
    long d = dup_name(names, natt);
    if (d >= 0) {
        s = ext_fail(L, err, HC_E_CORRUPT, "attachment name '%s' appears twice", x->att[d].pub.name);
        goto out;
    }
    qsort(rg, natt, sizeof *rg, range_cmp);
    for (uint32_t k = 1; k < natt; k++)
        if (rg[k].a < rg[k - 1].b) {
            s = ext_fail(L, err, HC_E_CORRUPT, "data of attachments '%s' and '%s' overlap", x->att[rg[k - 1].i].pub.name,
                         x->att[rg[k].i].pub.name);
            goto out;
        }
    uint64_t first = 0;
    for (uint32_t i = 0; i < nshard; i++) {
        const uint8_t *q = sec + pos;
        uint64_t left = table - pos;
        if (left < REC_FIXED) {
            s = ext_fail(L, err, HC_E_CORRUPT, "shard record #%u runs past the table", i);
            goto out;
        }
        uint32_t rsize = hc_get_u32(q + R_SIZE);
        unsigned nl = hc_get_u16(q + R_NAMELEN), fl = hc_get_u16(q + R_FLAGS);
        uint64_t cnt = hc_get_u64(q + R_COUNT), mdlen = hc_get_u64(q + R_MDLEN);
        if (rsize % 8 != 0 || rsize < REC_FIXED + nl || rsize > left || mdlen > rsize - REC_FIXED - nl) {
            s = ext_fail(L, err, HC_E_CORRUPT, "shard record #%u has invalid size %u", i, rsize);
            goto out;
        }
        const char *nm = (const char *)q + REC_FIXED;
        const char *why = memchr(nm, 0, nl) ? "contains a NUL byte" : bad_name(nm, nl);
        if (why) {
            s = ext_fail(L, err, HC_E_CORRUPT, "shard record #%u: name %s", i, why);
            goto out;
        }
        hc_hyc_shard *sh = &x->shards[i];
        memcpy(sh->name, nm, nl);
        sh->name[nl] = 0;
        if ((fl & ~(unsigned)SHARD_HAS_METADATA) != 0 || hc_get_u64(q + R_RESERVED) != 0 ||
            (!(fl & SHARD_HAS_METADATA) && mdlen != 0)) {
            s = ext_fail(L, err, HC_E_CORRUPT, "shard '%s': unknown flags or reserved field set", sh->name);
            goto out;
        }
        if (cnt > tensor_count - first) {
            s = ext_fail(L, err, HC_E_CORRUPT, "shard '%s' claims %llu tensors, only %llu are left", sh->name, (ull)cnt,
                         (ull)(tensor_count - first));
            goto out;
        }
        sh->first = (size_t)first;
        sh->count = (size_t)cnt;
        first += cnt;
        sh->metadata = (fl & SHARD_HAS_METADATA) ? nm + nl : NULL;
        sh->metadata_len = (size_t)mdlen;
        names[i] = (nref){sh->name, i};
        pos += rsize;
    }
    if (nshard && first != tensor_count) {
        s = ext_fail(L, err, HC_E_CORRUPT, "shards hold %llu tensors, the directory %zu", (ull)first, tensor_count);
        goto out;
    }
    d = dup_name(names, nshard);
    if (d >= 0) {
        s = ext_fail(L, err, HC_E_CORRUPT, "shard name '%s' appears twice", x->shards[d].name);
        goto out;
    }
    if (pos != table) {
        s = ext_fail(L, err, HC_E_CORRUPT, "%llu unexpected bytes after the last record", (ull)(table - pos));
        goto out;
    }
    x->n_att = natt;
    x->n_shards = nshard;
out:
    free(names);
    free(rg);
    return s;
}

hc_status hyc_ext_open(const uint8_t *base, uint64_t len, uint64_t dir_off, uint64_t payload_start,
                       const hc_hyc *h, size_t count, const char *label, hyc_ext **out, hc_error *err) {
    *out = NULL;
    if (len < 64 || hc_get_u16(base + HDR_VMAJ) < 2) return HC_OK;
    uint64_t size = hc_get_u32(base + HDR_EXTSIZE);
    if (size == 0) return HC_OK;
    if (size % 8 != 0 || dir_off < payload_start || size > dir_off - payload_start)
        return ext_fail(label, err, HC_E_CORRUPT, "%llu bytes do not fit before the directory at %llu", (ull)size,
                        (ull)dir_off);
    const uint64_t start = dir_off - size;
    hc_hyc_entry e; /* filled on query: the reader keeps compact entries */
    for (size_t i = 0; i < count; i++)
        if (hc_hyc_entry_at(h, i, &e) == HC_OK && e.size > 0 && e.offset + e.size > start)
            return ext_fail(label, err, HC_E_CORRUPT, "tensor '%s': payload overlaps the section at %llu",
                            e.info.name, (ull)start);
    hyc_ext *x = calloc(1, sizeof *x);
    if (!x) return ext_fail(label, err, HC_E_NOMEM, "out of memory");
    hc_status s = parse_section(x, base + start, size, count, label, err);
    if (s) {
        hyc_ext_free(x);
        return s;
    }
    *out = x;
    return HC_OK;
}

size_t hc_hyc_attachment_count(const hc_hyc *h) {
    const hyc_ext *x = h ? hyc_reader_ext(h) : NULL;
    return x ? x->n_att : 0;
}

const hc_hyc_attachment *hc_hyc_attachment_get(const hc_hyc *h, size_t i) {
    const hyc_ext *x = h ? hyc_reader_ext(h) : NULL;
    return x && i < x->n_att ? &x->att[i].pub : NULL;
}

long hc_hyc_attachment_find(const hc_hyc *h, const char *name) {
    const hyc_ext *x = h ? hyc_reader_ext(h) : NULL;
    if (!x || !name) return -1;
    for (size_t i = 0; i < x->n_att; i++)
        if (strcmp(x->att[i].pub.name, name) == 0) return (long)i;
    return -1;
}

hc_status hc_hyc_attachment_data(const hc_hyc *h, size_t i, const uint8_t **p, hc_error *err) {
    if (p) *p = NULL;
    const hyc_ext *x = h ? hyc_reader_ext(h) : NULL;
    if (!h || !p) return hc_fail(err, HC_E_ARG, "hc_hyc_attachment_data: no container or output pointer");
    if (!x || i >= x->n_att)
        return hc_fail(err, HC_E_ARG, "'%s': attachment index %zu out of range (%zu attachments)", hyc_reader_label(h), i,
                       x ? x->n_att : 0);
    const att_r *a = &x->att[i];
    if (!__atomic_load_n(&x->verified[i], __ATOMIC_ACQUIRE)) {
        uint32_t crc = hc_crc32c(0, a->data, (size_t)a->pub.size);
        if (ATT_CRC_DIFFERS(a->pub.crc32c, crc))
            return hc_fail(err, HC_E_CORRUPT,
                           "'%s': attachment '%s': CRC-32C mismatch (stored 0x%08x, computed 0x%08x): damaged data",
                           hyc_reader_label(h), a->pub.name, a->pub.crc32c, crc);
        __atomic_store_n(&x->verified[i], 1, __ATOMIC_RELEASE);
    }
    *p = a->data;
    return HC_OK;
}

hc_status hyc_ext_verify(const hc_hyc *h, hc_error *err) {
    for (size_t i = 0; i < hc_hyc_attachment_count(h); i++) {
        const uint8_t *p;
        hc_status s = hc_hyc_attachment_data(h, i, &p, err);
        if (s) return s;
    }
    return HC_OK;
}

size_t hc_hyc_shard_count(const hc_hyc *h) {
    const hyc_ext *x = h ? hyc_reader_ext(h) : NULL;
    return x ? x->n_shards : 0;
}

const hc_hyc_shard *hc_hyc_shard_get(const hc_hyc *h, size_t i) {
    const hyc_ext *x = h ? hyc_reader_ext(h) : NULL;
    return x && i < x->n_shards ? &x->shards[i] : NULL;
}

/* ===================================================================== */
/* Writer                                                                 */
/* ===================================================================== */

typedef struct att_w { char *name; uint8_t *data; uint64_t size; uint32_t flags; } att_w;
typedef struct shard_w { char *name; char *meta; size_t mlen; int has_md; size_t first; } shard_w;

struct hyc_ext_w {
    att_w *att;
    size_t n_att;
    shard_w *shards;
    size_t n_shards;
    uint64_t bytes; /* data bytes so far */
};

void hyc_ext_w_free(hyc_ext_w *x) {
    if (!x) return;
    for (size_t i = 0; i < x->n_att; i++) {
        free(x->att[i].name);
        free(x->att[i].data);
    }
    for (size_t i = 0; i < x->n_shards; i++) {
        free(x->shards[i].name);
        free(x->shards[i].meta);
    }
    free(x->att);
    free(x->shards);
    free(x);
}

static hc_status ext_w_get(hc_hyc_writer *w, hyc_ext_w **out, hc_error *err) {
    hyc_ext_w **slot = hyc_writer_ext(w);
    if (!*slot && !(*slot = calloc(1, sizeof **slot)))
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for attachments", hyc_writer_path(w));
    *out = *slot;
    return HC_OK;
}

static char *dup_bytes(const void *p, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        if (n) memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

hc_status hc_hyc_writer_attach(hc_hyc_writer *w, const char *name, const void *data, uint64_t size,
                               uint32_t flags, hc_error *err) {
    if (!w || !name || (!data && size)) return hc_fail(err, HC_E_ARG, "hc_hyc_writer_attach: missing argument");
    const char *path = hyc_writer_path(w);
    const char *why = bad_name(name, strlen(name));
    if (why) return hc_fail(err, HC_E_ARG, "'%s': attachment name '%s' %s", path, name, why);
    if (flags & ~HC_ATTACH_TOKENIZER) return hc_fail(err, HC_E_ARG, "'%s': attachment '%s': unknown flags 0x%x", path, name, flags);
    if (size > HC_ATTACH_SIZE_MAX)
        return hc_fail(err, HC_E_LIMIT, "'%s': attachment '%s' is %llu bytes (at most %llu)", path, name, (ull)size,
                       (ull)HC_ATTACH_SIZE_MAX);
    hyc_ext_w *x;
    hc_status s = ext_w_get(w, &x, err);
    if (s) return s;
    if (x->n_att >= HC_ATTACH_COUNT_MAX)
        return hc_fail(err, HC_E_LIMIT, "'%s': more than %d attachments", path, HC_ATTACH_COUNT_MAX);
    for (size_t i = 0; i < x->n_att; i++)
        if (strcmp(x->att[i].name, name) == 0)
            return hc_fail(err, HC_E_ARG, "'%s': attachment '%s' given twice", path, name);
    if (x->bytes + up8(size) > SEC_MAX / 2)
        return hc_fail(err, HC_E_LIMIT, "'%s': attachments exceed %llu bytes in all", path, (ull)(SEC_MAX / 2));
    att_w *na = realloc(x->att, (x->n_att + 1) * sizeof *na);
    if (!na) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for attachment '%s'", path, name);
    x->att = na;
    att_w a = {dup_bytes(name, strlen(name)), (uint8_t *)dup_bytes(data, (size_t)size), size, flags};
    if (!a.name || !a.data) {
        free(a.name);
        free(a.data);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for attachment '%s'", path, name);
    }
    x->att[x->n_att++] = a;
    x->bytes += up8(size);
    return HC_OK;
}

hc_status hc_hyc_writer_begin_shard(hc_hyc_writer *w, const char *name, const char *metadata,
                                    size_t metadata_len, hc_error *err) {
    if (!w || !name || (!metadata && metadata_len))
        return hc_fail(err, HC_E_ARG, "hc_hyc_writer_begin_shard: missing argument");
    const char *path = hyc_writer_path(w);
    const char *why = bad_name(name, strlen(name));
    if (why) return hc_fail(err, HC_E_ARG, "'%s': shard name '%s' %s", path, name, why);
    if (metadata_len > HC_ATTACH_SIZE_MAX)
        return hc_fail(err, HC_E_LIMIT, "'%s': shard '%s': %zu bytes of metadata", path, name, metadata_len);
    hyc_ext_w *x;
    hc_status s = ext_w_get(w, &x, err);
    if (s) return s;
    if (x->n_shards == 0 && hyc_writer_count(w) != 0)
        return hc_fail(err, HC_E_ARG, "'%s': %zu tensors were added before the first shard '%s'", path,
                       hyc_writer_count(w), name);
    if (x->n_shards >= HC_SHARD_COUNT_MAX)
        return hc_fail(err, HC_E_LIMIT, "'%s': more than %d shards", path, HC_SHARD_COUNT_MAX);
    for (size_t i = 0; i < x->n_shards; i++)
        if (strcmp(x->shards[i].name, name) == 0)
            return hc_fail(err, HC_E_ARG, "'%s': shard '%s' given twice", path, name);
    if (x->bytes + up8(metadata_len) + 512 > SEC_MAX / 2)
        return hc_fail(err, HC_E_LIMIT, "'%s': the shard table is too large", path);
    shard_w *ns = realloc(x->shards, (x->n_shards + 1) * sizeof *ns);
    if (!ns) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for shard '%s'", path, name);
    x->shards = ns;
    shard_w r = {dup_bytes(name, strlen(name)), metadata ? dup_bytes(metadata, metadata_len) : NULL, metadata_len,
                 metadata != NULL, hyc_writer_count(w)};
    if (!r.name || (metadata && !r.meta)) {
        free(r.name);
        free(r.meta);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for shard '%s'", path, name);
    }
    x->shards[x->n_shards++] = r;
    x->bytes += up8(metadata_len);
    return HC_OK;
}

hc_status hyc_ext_w_build(const hyc_ext_w *x, size_t tensor_count, const char *path, uint8_t **out, size_t *len,
                          hc_error *err) {
    *out = NULL;
    *len = 0;
    if (!x || (x->n_att == 0 && x->n_shards == 0)) return HC_OK;
    uint64_t table = SEC_HEADER_SIZE;
    for (size_t i = 0; i < x->n_att; i++) table += up8(REC_FIXED + strlen(x->att[i].name));
    for (size_t i = 0; i < x->n_shards; i++) table += up8(REC_FIXED + strlen(x->shards[i].name) + x->shards[i].mlen);
    uint64_t total = table;
    for (size_t i = 0; i < x->n_att; i++) total += up8(x->att[i].size);
    if (total > SEC_MAX) return hc_fail(err, HC_E_LIMIT, "'%s': attachments section of %llu bytes is too large", path, (ull)total);
    uint8_t *sec = calloc(1, (size_t)total);
    if (!sec) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the attachments section", path);
    memcpy(sec, sec_magic, 8);
    hc_put_u32(sec + S_HSIZE, SEC_HEADER_SIZE);
    hc_put_u32(sec + S_NATT, (uint32_t)x->n_att);
    hc_put_u32(sec + S_NSHARD, (uint32_t)x->n_shards);
    hc_put_u64(sec + S_TABLE, table);
    hc_put_u64(sec + S_TCOUNT, x->n_shards ? tensor_count : 0);
    uint64_t pos = SEC_HEADER_SIZE, data = table;
    for (size_t i = 0; i < x->n_att; i++) {
        const att_w *a = &x->att[i];
        size_t nl = strlen(a->name);
        uint8_t *q = sec + pos;
        uint64_t rsize = up8(REC_FIXED + nl);
        hc_put_u32(q + A_SIZE, (uint32_t)rsize);
        hc_put_u16(q + A_NAMELEN, (uint16_t)nl);
        hc_put_u32(q + A_FLAGS, a->flags);
        hc_put_u32(q + A_CRC, hc_crc32c(0, a->data, (size_t)a->size));
        hc_put_u64(q + A_OFFSET, data);
        hc_put_u64(q + A_DSIZE, a->size);
        memcpy(q + REC_FIXED, a->name, nl);
        memcpy(sec + data, a->data, (size_t)a->size);
        data += up8(a->size);
        pos += rsize;
    }
    for (size_t i = 0; i < x->n_shards; i++) {
        const shard_w *r = &x->shards[i];
        size_t nl = strlen(r->name);
        size_t end = i + 1 < x->n_shards ? x->shards[i + 1].first : tensor_count;
        uint8_t *q = sec + pos;
        uint64_t rsize = up8(REC_FIXED + nl + r->mlen);
        hc_put_u32(q + R_SIZE, (uint32_t)rsize);
        hc_put_u16(q + R_NAMELEN, (uint16_t)nl);
        hc_put_u16(q + R_FLAGS, r->has_md ? SHARD_HAS_METADATA : 0);
        hc_put_u64(q + R_COUNT, end - r->first);
        hc_put_u64(q + R_MDLEN, r->mlen);
        memcpy(q + REC_FIXED, r->name, nl);
        if (r->mlen) memcpy(q + REC_FIXED + nl, r->meta, r->mlen);
        pos += rsize;
    }
    uint32_t crc = hc_crc32c(0, sec, S_CRC);
    crc = hc_crc32c(crc, sec + S_CRC + 4, (size_t)(table - S_CRC - 4));
    hc_put_u32(sec + S_CRC, crc);
    *out = sec;
    *len = (size_t)total;
    return HC_OK;
}
