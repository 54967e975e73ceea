/* hyc.c — the .hyc container reader (docs/FORMAT.md): it validates the
 * header, trailer and directory of a mapped file before trusting any of it.
 * The streaming writer is in hyc_write.c; constants in hyc_format.h. */
#include "../codec/codec.h"
#include "../common/util.h"
#include "../common/strindex.h"
#include "hyc_format.h"
#include "hyc_ext.h"
#include "sniff.h"
#include <stdarg.h>
#include <stdlib.h>

/* ===================================================================== */
/* Reader                                                                 */
/* ===================================================================== */

/* A directory entry as kept in memory: 56 bytes, its name, parameters and
 * shape in the pools (so memory follows the bytes on disk, not the 1.4 KB of
 * an hc_hyc_entry; those are built on query). */
typedef struct hyc_ent {
    uint64_t offset, size, nelem, nbytes;
    uint32_t name_at, params_at;  /* in pool: name + NUL, then parameters   */
    uint32_t shape_at, crc32c;    /* shape_at: in dims                      */
    uint16_t name_len, params_len, codec;
    uint8_t dtype, ndim;
} hyc_ent;

struct hc_hyc {
    hc_map map;                 /* the mapping when opened from a path      */
    const uint8_t *base;        /* [len] the whole file                     */
    uint64_t len;
    char *label;                /* path or caller's label, for messages     */
    size_t count;
    hyc_ent *ents;              /* [count] in directory order               */
    char *pool;                 /* [pool_cap] names and codec parameters    */
    size_t pool_len, pool_cap;
    uint64_t *dims;             /* [dims_cap] shapes                        */
    size_t dims_len, dims_cap;
    hc_lazytab full;            /* hc_hyc_entry records of hc_hyc_get       */
    uint8_t *verified;          /* [count] 1 once the payload CRC matched   */
    name_set names;
    char *metadata;             /* [metadata_len + 1] NUL-terminated copy   */
    size_t metadata_len;
    int has_metadata;
    char writer[HYC_WRITER_MAX + 1];
    hyc_ext *ext;               /* 2.0 attachments section (hyc_attach.c)  */
};

static hc_status hyc_fail(const hc_hyc *h, hc_error *err, hc_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static hc_status hyc_fail(const hc_hyc *h, hc_error *err, hc_status code, const char *fmt, ...) {
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hc_fail(err, code, "'%s': %s", h->label, msg);
}

static const char *reader_name_of(const void *ctx, uint32_t i, size_t *len) {
    const hc_hyc *h = ctx;
    *len = h->ents[i].name_len;
    return h->pool + h->ents[i].name_at;
}

static const char *ent_name(const hc_hyc *h, size_t i) { return h->pool + h->ents[i].name_at; }

/* The tensor info of entry i, built from the compact entry. */
static void fill_info(const hc_hyc *h, size_t i, hc_tensor_info *t) {
    const hyc_ent *c = &h->ents[i];
    /* no memset of the 1 KB name buffer: the bytes after the NUL are unused */
    memcpy(t->name, h->pool + c->name_at, (size_t)c->name_len + 1);
    memset(t->shape, 0, sizeof t->shape);
    t->dtype = (hc_dtype)c->dtype;
    t->ndim = c->ndim;
    for (unsigned d = 0; d < c->ndim; d++) t->shape[d] = h->dims[c->shape_at + d];
    t->nelem = c->nelem;
    t->nbytes = c->nbytes;
}

static void fill_entry(const void *ctx, size_t i, void *out) {
    const hc_hyc *h = ctx;
    const hyc_ent *c = &h->ents[i];
    hc_hyc_entry *e = out;
    fill_info(h, i, &e->info);
    e->codec = (hc_codec_id)c->codec;
    e->params_len = c->params_len;
    memcpy(e->params, h->pool + c->params_at, c->params_len);
    e->offset = c->offset;
    e->size = c->size;
    e->crc32c = c->crc32c;
}

/* ---- header and trailer ---------------------------------------------- */

/* A newer major version is refused before its CRC is checked (its header
 * may be laid out differently). But if the header is a valid version-1 header
 * once the major version reads 1, the version field itself was damaged. */
static int damaged_version_field(const uint8_t *p, uint64_t n) {
    if (n < HYC_HEADER_SIZE) return 0;
    uint32_t hsize = hc_get_u32(p + H_HSIZE);
    if (hsize < HYC_HEADER_SIZE || hsize > HYC_HEADER_SIZE_MAX || hsize % 8 != 0 || hsize > n) return 0;
    for (unsigned v = HYC_VERSION_MAJOR_PLAIN; v <= HYC_VERSION_MAJOR; v++) {
        uint8_t v1[2];
        hc_put_u16(v1, (uint16_t)v);
        uint32_t crc = hc_crc32c(0, p, H_VMAJ);
        crc = hc_crc32c(crc, v1, 2);
        crc = hc_crc32c(crc, p + H_VMIN, hsize - 4 - H_VMIN);
        if (crc == hc_get_u32(p + hsize - 4)) return 1;
    }
    return 0;
}

static hc_status parse_header(const hc_hyc *h, uint64_t *dir_off, uint64_t *dir_size,
                              uint32_t *dir_crc, uint64_t *payload_start, uint32_t *alignment,
                              hc_error *err) {
    const uint8_t *p = h->base;
    const uint64_t n = h->len;
    if (n == 0) return hyc_fail(h, err, HC_E_FORMAT, "not a .hyc file (it is empty)");
    if (n >= 4 && !memcmp(p, "GGUF", 4))
        return hyc_fail(h, err, HC_E_FORMAT, "not a .hyc file: this is a GGUF file (compress it first)");
    if (memcmp(p, hyc_magic, n < 8 ? (size_t)n : 8) != 0)
        return hyc_fail(h, err, HC_E_FORMAT, "not a .hyc file (no .hyc signature at the start)");
    if (n < H_VMIN + 2)
        return hyc_fail(h, err, HC_E_CORRUPT, "truncated .hyc file (%llu bytes)", (ull)n);

    unsigned vmaj = hc_get_u16(p + H_VMAJ), vmin = hc_get_u16(p + H_VMIN);
    if (vmaj > HYC_VERSION_MAJOR && damaged_version_field(p, n))
        return hyc_fail(h, err, HC_E_CORRUPT, "header CRC-32C mismatch in the version field: damaged file");
    if (vmaj > HYC_VERSION_MAJOR)
        return hyc_fail(h, err, HC_E_UNSUPPORTED,
                        "format version %u.%u is newer than this hyperc reads (%d.x); a newer hyperc is needed",
                        vmaj, vmin, HYC_VERSION_MAJOR);
    if (vmaj < HYC_VERSION_MAJOR_PLAIN)
        return hyc_fail(h, err, HC_E_CORRUPT, "invalid format version %u.%u", vmaj, vmin);
    if (n < HYC_HEADER_SIZE + HYC_TRAILER_SIZE)
        return hyc_fail(h, err, HC_E_CORRUPT, "truncated .hyc file (%llu bytes, header and trailer need %d)",
                        (ull)n, HYC_HEADER_SIZE + HYC_TRAILER_SIZE);

    uint32_t hsize = hc_get_u32(p + H_HSIZE);
    if (hsize < HYC_HEADER_SIZE || hsize > HYC_HEADER_SIZE_MAX || hsize % 8 != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "invalid header size %u", hsize);
    if ((uint64_t)hsize + HYC_TRAILER_SIZE > n)
        return hyc_fail(h, err, HC_E_CORRUPT, "truncated .hyc file (%llu bytes, header alone is %u)", (ull)n,
                        hsize);
    uint32_t stored = hc_get_u32(p + hsize - 4), computed = hc_crc32c(0, p, hsize - 4);
    if (HYC_CRC_DIFFERS(stored, computed))
        return hyc_fail(h, err, HC_E_CORRUPT, "header CRC-32C mismatch (stored 0x%08x, computed 0x%08x): damaged file",
                        stored, computed);
    uint32_t incompat = hc_get_u32(p + H_INCOMPAT);
    if (incompat != 0)
        return hyc_fail(h, err, HC_E_UNSUPPORTED,
                        "the file uses features this hyperc does not implement (incompat flags 0x%08x); a newer hyperc is needed",
                        incompat);
    if (vmaj == HYC_VERSION_MAJOR_PLAIN && hc_get_u32(p + H_RESERVED) != 0) /* 2.0: attachments size */
        return hyc_fail(h, err, HC_E_CORRUPT, "reserved header field is not zero");
    uint32_t a = hc_get_u32(p + H_ALIGN);
    if (a < HYC_ALIGN_MIN || a > HYC_ALIGN_MAX || (a & (a - 1)) != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "invalid payload alignment %u", a);
    uint64_t fsize = hc_get_u64(p + H_FSIZE);
    if (fsize != n)
        return hyc_fail(h, err, HC_E_CORRUPT, "file is %llu bytes but its header says %llu (%s)", (ull)n,
                        (ull)fsize, n < fsize ? "truncated" : "trailing bytes");

    const uint8_t *t = p + n - HYC_TRAILER_SIZE;
    if (memcmp(t, hyc_end_magic, 8) != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "trailer signature missing");
    stored = hc_get_u32(t + T_CRC);
    computed = hc_crc32c(0, t, T_CRC);
    if (HYC_CRC_DIFFERS(stored, computed))
        return hyc_fail(h, err, HC_E_CORRUPT, "trailer CRC-32C mismatch (stored 0x%08x, computed 0x%08x): damaged file",
                        stored, computed);
    *dir_off = hc_get_u64(p + H_DIROFF);
    *dir_size = hc_get_u64(p + H_DIRSIZE);
    *dir_crc = hc_get_u32(p + H_DIRCRC);
    if (hc_get_u64(t + T_DIROFF) != *dir_off || hc_get_u64(t + T_DIRSIZE) != *dir_size ||
        hc_get_u32(t + T_DIRCRC) != *dir_crc)
        return hyc_fail(h, err, HC_E_CORRUPT, "header and trailer disagree on the directory");
    if (*dir_off % 8 != 0 || *dir_size % 8 != 0 || *dir_off < hsize ||
        *dir_off > n - HYC_TRAILER_SIZE || *dir_size != n - HYC_TRAILER_SIZE - *dir_off)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory at %llu (%llu bytes) is misplaced in a file of %llu bytes",
                        (ull)*dir_off, (ull)*dir_size, (ull)n);
    *alignment = a;
    *payload_start = align_up(hsize, a);
    return HC_OK;
}

/* ---- directory --------------------------------------------------------- */

typedef struct span { uint64_t start, end; uint32_t index; } span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Parses and checks the entry at dir[pos..), filling h->ents[i] and the pools. */
static hc_status parse_entry(hc_hyc *h, size_t i, const uint8_t *dir, uint64_t dsize, uint64_t *pos,
                             uint64_t payload_start, uint64_t dir_off, uint32_t alignment, hc_error *err) {
    const uint8_t *q = dir + *pos;
    uint64_t left = dsize - *pos;
    if (left < HYC_ENTRY_MIN)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory entry #%zu runs past the end of the directory", i);
    uint32_t esize = hc_get_u32(q + E_SIZE);
    unsigned name_len = hc_get_u16(q + E_NAMELEN), params_len = hc_get_u16(q + E_PARAMSLEN);
    unsigned ndim = q[E_NDIM];
    if (esize % 8 != 0 || esize < HYC_ENTRY_MIN || esize > left)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory entry #%zu has invalid size %u (%llu bytes left)", i,
                        esize, (ull)left);
    if (ndim > HC_MAX_DIMS)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory entry #%zu has %u dimensions (at most %d)", i, ndim,
                        HC_MAX_DIMS);
    if ((uint64_t)HYC_ENTRY_FIXED + 8u * ndim + name_len + params_len > esize)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory entry #%zu: its fields overrun its size %u", i, esize);
    const uint8_t *name = q + E_SHAPE + 8u * ndim;
    if (name_len < 1 || name_len >= HC_MAX_NAME)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory entry #%zu: name length %u out of range 1..%d", i,
                        name_len, HC_MAX_NAME - 1);
    if (memchr(name, 0, name_len))
        return hyc_fail(h, err, HC_E_CORRUPT, "directory entry #%zu: name contains a NUL byte", i);

    hyc_ent *e = &h->ents[i];
    memset(e, 0, sizeof *e);
    /* the pools were sized for the directory's bytes: these fit */
    e->name_at = (uint32_t)h->pool_len;
    e->name_len = (uint16_t)name_len;
    memcpy(h->pool + h->pool_len, name, name_len);
    h->pool[h->pool_len + name_len] = 0;
    h->pool_len += name_len + 1;
    const char *nm = h->pool + e->name_at;

    unsigned dtype = q[E_DTYPE];
    if (dtype >= HC_DTYPE_COUNT)
        return hyc_fail(h, err, HC_E_CORRUPT, "tensor '%s': invalid dtype %u", nm, dtype);
    if (params_len > HC_MAX_PARAMS)
        return hyc_fail(h, err, HC_E_CORRUPT, "tensor '%s': %u bytes of codec parameters (at most %d)", nm,
                        params_len, HC_MAX_PARAMS);
    if (hc_get_u32(q + E_FLAGS) != 0 || hc_get_u32(q + E_RESERVED) != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "tensor '%s': unknown entry flags 0x%08x or reserved field set", nm,
                        hc_get_u32(q + E_FLAGS));
    e->dtype = (uint8_t)dtype;
    e->ndim = (uint8_t)ndim;
    e->shape_at = (uint32_t)h->dims_len;
    uint64_t nelem = 1;
    for (unsigned d = 0; d < ndim; d++) {
        uint64_t dimv = hc_get_u64(q + E_SHAPE + 8u * d);
        h->dims[h->dims_len++] = dimv;
        if (!hc_mul_ok(nelem, dimv, &nelem))
            return hyc_fail(h, err, HC_E_CORRUPT, "tensor '%s': element count of its shape overflows", nm);
    }
    e->nelem = nelem;
    if (!hc_mul_ok(nelem, hc_dtype_size((hc_dtype)dtype), &e->nbytes))
        return hyc_fail(h, err, HC_E_CORRUPT, "tensor '%s': byte size of %llu elements overflows", nm, (ull)nelem);

    e->codec = hc_get_u16(q + E_CODEC);
    e->params_len = (uint16_t)params_len;
    e->params_at = (uint32_t)h->pool_len;
    memcpy(h->pool + h->pool_len, name + name_len, params_len);
    h->pool_len += params_len;
    e->crc32c = hc_get_u32(q + E_CRC);
    e->offset = hc_get_u64(q + E_OFFSET);
    e->size = hc_get_u64(q + E_PSIZE);
    if (e->offset % alignment != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "tensor '%s': payload offset %llu is not a multiple of %u", nm,
                        (ull)e->offset, alignment);
    if (e->offset < payload_start || e->offset > dir_off || e->size > dir_off - e->offset)
        return hyc_fail(h, err, HC_E_CORRUPT,
                        "tensor '%s': payload [%llu, +%llu) lies outside the payload area [%llu, %llu)", nm,
                        (ull)e->offset, (ull)e->size, (ull)payload_start, (ull)dir_off);
    if (e->codec == HC_CODEC_RAW && (params_len != 0 || e->size != e->nbytes))
        return hyc_fail(h, err, HC_E_CORRUPT,
                        "tensor '%s': raw payload is %llu bytes with %u parameter bytes; expected %llu bytes and none",
                        nm, (ull)e->size, params_len, (ull)e->nbytes);
    *pos += esize;
    return HC_OK;
}

static hc_status parse_directory(hc_hyc *h, uint64_t dir_off, uint64_t dsize, uint32_t dir_crc,
                                 uint64_t payload_start, uint32_t alignment, hc_error *err) {
    const uint8_t *dir = h->base + dir_off;
    uint32_t computed = hc_crc32c(0, dir, (size_t)dsize);
    if (HYC_CRC_DIFFERS(dir_crc, computed))
        return hyc_fail(h, err, HC_E_CORRUPT,
                        "directory CRC-32C mismatch (stored 0x%08x, computed 0x%08x): damaged file", dir_crc, computed);
    if (dsize < HYC_DIR_HEADER_SIZE)
        return hyc_fail(h, err, HC_E_CORRUPT, "directory of %llu bytes is smaller than its header", (ull)dsize);
    uint32_t dhsize = hc_get_u32(dir + D_HSIZE), flags = hc_get_u32(dir + D_FLAGS);
    uint64_t count = hc_get_u64(dir + D_COUNT), mdlen = hc_get_u64(dir + D_MDLEN);
    uint32_t wlen = hc_get_u32(dir + D_WLEN);
    if (dhsize < HYC_DIR_HEADER_SIZE || dhsize % 8 != 0 || dhsize > dsize)
        return hyc_fail(h, err, HC_E_CORRUPT, "invalid directory header size %u", dhsize);
    if ((flags & ~(uint32_t)HYC_DIR_HAS_METADATA) != 0 || hc_get_u32(dir + D_RESERVED) != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "unknown directory flags 0x%08x or reserved field set", flags);
    if (!(flags & HYC_DIR_HAS_METADATA) && mdlen != 0)
        return hyc_fail(h, err, HC_E_CORRUPT, "metadata length %llu without metadata", (ull)mdlen);
    if (mdlen > dsize - dhsize)
        return hyc_fail(h, err, HC_E_CORRUPT, "metadata of %llu bytes overruns the directory (%llu bytes)",
                        (ull)mdlen, (ull)dsize);
    if (wlen > HYC_WRITER_MAX || wlen > dsize - dhsize - mdlen)
        return hyc_fail(h, err, HC_E_CORRUPT, "invalid writer string length %u", wlen);
    const uint8_t *writer = dir + dhsize + mdlen;
    if (memchr(writer, 0, wlen)) return hyc_fail(h, err, HC_E_CORRUPT, "writer string contains a NUL byte");
    uint64_t pos = align_up(dhsize + mdlen + wlen, 8);
    if (pos > dsize) return hyc_fail(h, err, HC_E_CORRUPT, "directory header overruns the directory");
    /* Bound the count by the bytes present before allocating anything by it. */
    if (count > (dsize - pos) / HYC_ENTRY_MIN)
        return hyc_fail(h, err, HC_E_CORRUPT,
                        "directory claims %llu tensors but its %llu bytes hold at most %llu", (ull)count,
                        (ull)(dsize - pos), (ull)((dsize - pos) / HYC_ENTRY_MIN));
    if (count > HYC_MAX_TENSORS)
        return hyc_fail(h, err, HC_E_LIMIT, "%llu tensors exceed this hyperc's limit of %d", (ull)count,
                        HYC_MAX_TENSORS);

    if (mdlen > HC_MAX_METADATA)
        return hyc_fail(h, err, HC_E_LIMIT, "metadata of %llu bytes exceeds the limit of %u", (ull)mdlen,
                        HC_MAX_METADATA);

    memcpy(h->writer, writer, wlen);
    h->writer[wlen] = 0;
    h->has_metadata = (flags & HYC_DIR_HAS_METADATA) != 0;
    if (h->has_metadata) {
        h->metadata = malloc((size_t)mdlen + 1);
        if (!h->metadata) return hyc_fail(h, err, HC_E_NOMEM, "cannot allocate %llu bytes of metadata", (ull)mdlen);
        memcpy(h->metadata, dir + dhsize, (size_t)mdlen);
        h->metadata[mdlen] = 0;
        h->metadata_len = (size_t)mdlen;
    }

    size_t n = (size_t)count;
    /* Names and parameters lie within the entries' bytes, shapes too: the
     * pools need no more than the directory holds. */
    const uint64_t left = dsize - pos;
    uint64_t pool_cap = (uint64_t)n * (HC_MAX_NAME + HC_MAX_PARAMS);
    if (pool_cap > left) pool_cap = left;
    uint64_t dims_cap = (uint64_t)n * HC_MAX_DIMS;
    if (dims_cap > left / 8) dims_cap = left / 8;
    h->pool_cap = (size_t)pool_cap + n + 1;
    h->dims_cap = (size_t)dims_cap;
    h->ents = malloc((n ? n : 1) * sizeof *h->ents);
    h->pool = malloc(h->pool_cap);
    h->dims = malloc((h->dims_cap ? h->dims_cap : 1) * sizeof *h->dims);
    h->verified = calloc(n ? n : 1, 1);
    span *spans = malloc((n ? n : 1) * sizeof *spans);
    if (!h->ents || !h->pool || !h->dims || !h->verified || !spans || hc_lazytab_init(&h->full, n, sizeof(hc_hyc_entry))) {
        free(spans);
        return hyc_fail(h, err, HC_E_NOMEM, "cannot allocate the directory of %zu tensors", n);
    }
    hc_status s = HC_OK;
    size_t nspans = 0;
    for (size_t i = 0; i < n && s == HC_OK; i++) {
        s = parse_entry(h, i, dir, dsize, &pos, payload_start, dir_off, alignment, err);
        h->count = i + (s == HC_OK);
        if (s == HC_OK && h->ents[i].size > 0)
            spans[nspans++] = (span){h->ents[i].offset, h->ents[i].offset + h->ents[i].size, (uint32_t)i};
    }
    if (s == HC_OK && pos != dsize)
        s = hyc_fail(h, err, HC_E_CORRUPT, "%llu unexpected bytes after the last directory entry",
                     (ull)(dsize - pos));
    if (s == HC_OK) {
        qsort(spans, nspans, sizeof *spans, span_cmp);
        for (size_t k = 1; k < nspans && s == HC_OK; k++)
            if (spans[k].start < spans[k - 1].end)
                s = hyc_fail(h, err, HC_E_CORRUPT, "payloads of tensors '%s' and '%s' overlap",
                             ent_name(h, spans[k - 1].index), ent_name(h, spans[k].index));
    }
    free(spans);
    if (s == HC_OK && !name_set_reserve(&h->names, n, 0, reader_name_of, h))
        s = hyc_fail(h, err, HC_E_NOMEM, "cannot allocate the name index of %zu tensors", n);
    for (size_t i = 0; i < n && s == HC_OK; i++) {
        const char *nm = ent_name(h, i);
        size_t l = h->ents[i].name_len;
        long j = name_set_find(&h->names, nm, l, reader_name_of, h);
        if (j >= 0)
            s = hyc_fail(h, err, HC_E_CORRUPT, "tensor name '%s' appears twice (entries #%ld and #%zu)", nm, j, i);
        else
            name_set_put(&h->names, (uint32_t)i, nm, l);
    }
    return s;
}

static hc_status hyc_parse(hc_hyc *h, hc_error *err) {
    uint64_t dir_off = 0, dir_size = 0, payload_start = 0;
    uint32_t dir_crc = 0, alignment = 0;
    hc_status s = parse_header(h, &dir_off, &dir_size, &dir_crc, &payload_start, &alignment, err);
    if (s == HC_OK) s = parse_directory(h, dir_off, dir_size, dir_crc, payload_start, alignment, err);
    if (s == HC_OK) s = hyc_ext_open(h->base, h->len, dir_off, payload_start, h, h->count, h->label, &h->ext, err);
    return s;
}

static hc_status hyc_new(const char *label, hc_hyc **out, hc_error *err) {
    hc_hyc *h = calloc(1, sizeof *h);
    size_t n = strlen(label) + 1;
    char *l = malloc(n);
    if (!h || !l) {
        free(h);
        free(l);
        return hc_fail(err, HC_E_NOMEM, "out of memory opening '%s'", label);
    }
    memcpy(l, label, n);
    h->label = l;
    *out = h;
    return HC_OK;
}

/* A file that is not a .hyc container at all is named for what it is. */
static hc_status hyc_wrong_kind(const hc_hyc *h, hc_status s, hc_error *err) {
    if (s != HC_E_FORMAT && s != HC_E_LIMIT && s != HC_E_CORRUPT && s != HC_E_UNSUPPORTED) return s;
    const char *kind = hc_sniff_format(h->base, h->len < HC_SNIFF_HEAD ? (size_t)h->len : HC_SNIFF_HEAD);
    if (!kind || strcmp(kind, ".hyc container") == 0) return s;
    return hc_fail(err, HC_E_FORMAT, "'%s' is a %s, not a .hyc container%s", h->label, kind,
                   strcmp(kind, "safetensors file") == 0 ? " (hyperc compress makes one of it)" : "");
}

hc_status hc_hyc_open_mem(const void *buf, uint64_t len, const char *label, hc_hyc **out, hc_error *err) {
    if (!out) return hc_fail(err, HC_E_ARG, "hc_hyc_open_mem: no output pointer");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return hc_fail(err, HC_E_ARG, "'%s': no buffer", label);
    if ((uint64_t)(size_t)len != len) return hc_fail(err, HC_E_LIMIT, "'%s': too large for this machine", label);
    hc_hyc *h;
    hc_status s = hyc_new(label, &h, err);
    if (s) return s;
    static const uint8_t empty[1];
    h->base = buf ? (const uint8_t *)buf : empty;
    h->len = len;
    s = hyc_parse(h, err);
    if (s) {
        s = hyc_wrong_kind(h, s, err);
        hc_hyc_close(h);
        return s;
    }
    *out = h;
    return HC_OK;
}

hc_status hc_hyc_open(const char *path, hc_hyc **out, hc_error *err) {
    if (!out || !path) return hc_fail(err, HC_E_ARG, "hc_hyc_open: no path or output pointer");
    *out = NULL;
    hc_hyc *h;
    hc_status s = hyc_new(path, &h, err);
    if (s) return s;
    s = hc_map_file(path, &h->map, err);
    if (s == HC_OK) {
        h->base = h->map.ptr;
        h->len = h->map.len;
        s = hyc_parse(h, err);
        if (s) s = hyc_wrong_kind(h, s, err);
    }
    if (s) {
        hc_hyc_close(h);
        return s;
    }
    *out = h;
    return HC_OK;
}

void hc_hyc_close(hc_hyc *h) {
    if (!h) return;
    hc_unmap(&h->map);
    free(h->ents);
    free(h->pool);
    free(h->dims);
    hc_lazytab_free(&h->full);
    free(h->verified);
    free(h->names.slot);
    free(h->metadata);
    free(h->label);
    hyc_ext_free(h->ext);
    free(h);
}

size_t hc_hyc_count(const hc_hyc *h) { return h ? h->count : 0; }

const hc_hyc_entry *hc_hyc_get(const hc_hyc *h, size_t i) {
    if (!h || i >= h->count) return NULL;
    return hc_lazytab_get((hc_lazytab *)&h->full, i, fill_entry, h);
}

hc_status hc_hyc_entry_at(const hc_hyc *h, size_t i, hc_hyc_entry *out) {
    if (!h || !out || i >= h->count) return HC_E_ARG;
    fill_entry(h, i, out);
    return HC_OK;
}

const char *hc_hyc_name(const hc_hyc *h, size_t i) { return (h && i < h->count) ? ent_name(h, i) : NULL; }

long hc_hyc_find(const hc_hyc *h, const char *name) {
    if (!h || !name) return -1;
    size_t l = strlen(name);
    if (l == 0 || l >= HC_MAX_NAME) return -1;
    return name_set_find(&h->names, name, l, reader_name_of, h);
}

const char *hc_hyc_metadata(const hc_hyc *h, size_t *len) {
    if (len) *len = h && h->has_metadata ? h->metadata_len : 0;
    return h && h->has_metadata ? h->metadata : NULL;
}

/* Which software wrote the file ("" if not recorded). Not yet declared in
 * hyperc.h; kept here so the stored string is reachable. */
const char *hc_hyc_writer_version(const hc_hyc *h);
const char *hc_hyc_writer_version(const hc_hyc *h) { return h ? h->writer : ""; }

uint64_t hc_hyc_file_size(const hc_hyc *h) { return h ? h->len : 0; }

const hyc_ext *hyc_reader_ext(const hc_hyc *h) { return h->ext; }
const char *hyc_reader_label(const hc_hyc *h) { return h->label; }

hc_status hc_hyc_payload(const hc_hyc *h, size_t i, const uint8_t **p, hc_error *err) {
    if (p) *p = NULL;
    if (!h || !p) return hc_fail(err, HC_E_ARG, "hc_hyc_payload: no container or output pointer");
    if (i >= h->count)
        return hyc_fail(h, err, HC_E_ARG, "tensor index %zu out of range (%zu tensors)", i, h->count);
    const hyc_ent *e = &h->ents[i];
    const uint8_t *data = h->base + e->offset;
    /* The flag only caches a successful check; racing threads at worst both
     * compute the CRC. */
    if (!__atomic_load_n(&h->verified[i], __ATOMIC_ACQUIRE)) {
        uint32_t crc = hc_crc32c(0, data, (size_t)e->size);
        if (HYC_CRC_DIFFERS(e->crc32c, crc))
            return hyc_fail(h, err, HC_E_CORRUPT,
                            "tensor '%s': payload CRC-32C mismatch (stored 0x%08x, computed 0x%08x): damaged data",
                            ent_name(h, i), e->crc32c, crc);
        __atomic_store_n(&h->verified[i], 1, __ATOMIC_RELEASE);
    }
    *p = data;
    return HC_OK;
}

/* What decompress needs of the tensor table: the names, shapes and metadata
 * as a safetensors writer takes them (hc_st_writer_check). */
static void verify_info(const void *user, size_t i, hc_tensor_info *out) { fill_info(user, i, out); }

hc_status hc_hyc_verify(const hc_hyc *h, hc_error *err) {
    if (!h) return hc_fail(err, HC_E_ARG, "hc_hyc_verify: no container");
    for (size_t i = 0; i < h->count; i++) {
        const uint8_t *p;
        hc_status s = hc_hyc_payload(h, i, &p, err);
        if (s) return s;
    }
    return hyc_ext_verify(h, err);
}

hc_status hc_hyc_verify_full(const hc_hyc *h, hc_error *err) {
    if (!h) return hc_fail(err, HC_E_ARG, "hc_hyc_verify_full: no container");
    /* The same checks, through the same functions, as hc_decompress_file:
     * every tensor as decompress reads it (raw: its payload; coded: its
     * decoder opened, which checks the codec id, the parameters and the
     * payload against the shape), then the table and metadata as the
     * safetensors writer takes them. Nothing is decoded: decoding cannot fail. */
    hc_status s = HC_OK;
    for (size_t i = 0; i < h->count && s == HC_OK; i++) {
        if (h->ents[i].codec == HC_CODEC_RAW) {
            const uint8_t *p;
            s = hc_hyc_payload(h, i, &p, err);
        } else {
            hc_decoder *d = NULL;
            s = hc_hyc_decoder(h, i, &d, err);
            hc_decoder_free(d);
        }
    }
    if (s) return s;
    s = hyc_ext_verify(h, err); /* attachments and shard table */
    if (s) return s;
    s = hc_st_writer_check(h->label, h->count, verify_info, h, h->has_metadata ? h->metadata : NULL,
                           h->metadata_len, err);
    if (s) return hc_error_context(err, s, "cannot be decompressed to safetensors");
    return HC_OK;
}

hc_status hc_hyc_decoder(const hc_hyc *h, size_t i, hc_decoder **out, hc_error *err) {
    if (out) *out = NULL;
    if (!h || !out) return hc_fail(err, HC_E_ARG, "hc_hyc_decoder: no container or output pointer");
    if (i >= h->count)
        return hyc_fail(h, err, HC_E_ARG, "tensor index %zu out of range (%zu tensors)", i, h->count);
    const hyc_ent *e = &h->ents[i];
    const char *nm = ent_name(h, i);
    const hc_codec_id codec = (hc_codec_id)e->codec;
    if (!hc_codec_get(codec)) {
        if ((unsigned)codec < HC_CODEC_COUNT)
            return hyc_fail(h, err, HC_E_UNSUPPORTED, "tensor '%s': codec '%s' (id %u) is not available in this build",
                            nm, hc_codec_name(codec), (unsigned)codec);
        return hyc_fail(h, err, HC_E_UNSUPPORTED,
                        "tensor '%s': unknown codec id %u (written by a newer hyperc?)", nm, (unsigned)codec);
    }
    if (codec != HC_CODEC_RAW && !hc_dtype_is_codable((hc_dtype)e->dtype))
        return hyc_fail(h, err, HC_E_CORRUPT,
                        "tensor '%s': codec %s decodes to floats but the tensor's dtype is %s (lossy codecs store F32, F16 or BF16)",
                        nm, hc_codec_name(codec), hc_dtype_name((hc_dtype)e->dtype));
    const uint8_t *p;
    hc_status s = hc_hyc_payload(h, i, &p, err);
    if (s) return s;
    s = hc_decoder_open(codec, (const uint8_t *)h->pool + e->params_at, e->params_len, p, e->size, e->nelem,
                        (hc_dtype)e->dtype, out, err);
    if (s) return hc_error_context(err, s, "'%s': tensor '%s' (codec %s, %llu weights)", h->label, nm,
                                   hc_codec_name(codec), (ull)e->nelem);
    return HC_OK;
}
