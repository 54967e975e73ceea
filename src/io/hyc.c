/* hyc.c — the .hyc container (docs/FORMAT.md): a reader that validates the
 * header, trailer and directory of a mapped file before trusting any of it,
 * and a streaming writer that appends payloads as they come and writes the
 * directory, trailer and header at the end. */
#include "../codec/codec.h"
#include "../common/util.h"
#include "../common/strindex.h"
#include "hyc_ext.h"
#include "sniff.h"
#include <stdarg.h>
#include <stdlib.h>

/* ===================================================================== */
/* Format constants (docs/FORMAT.md)                                      */
/* ===================================================================== */

static const uint8_t hyc_magic[8] = {0x89, 'H', 'Y', 'C', '\r', '\n', 0x1A, '\n'};
static const uint8_t hyc_end_magic[8] = {0x89, 'H', 'Y', 'C', 'E', 'N', 'D', '\n'};

enum {
    HYC_VERSION_MAJOR = 2,        /* the newest read; 1.0 is written when a
                                     file has no attachments section       */
    HYC_VERSION_MAJOR_PLAIN = 1,
    HYC_VERSION_MINOR = 0,
    HYC_HEADER_SIZE = 64,         /* as written; readers accept larger     */
    HYC_HEADER_SIZE_MAX = HC_MAX_HYC_HEADER,
    HYC_TRAILER_SIZE = 32,
    HYC_DIR_HEADER_SIZE = 32,
    HYC_ENTRY_FIXED = 40,         /* entry bytes before shape/name/params  */
    HYC_ENTRY_MIN = 48,           /* fixed part + 1-byte name, padded      */
    HYC_ALIGN = 64,               /* payload alignment written by hyperc   */
    HYC_ALIGN_MIN = 8,
    HYC_ALIGN_MAX = 1 << 24,
    HYC_WRITER_MAX = 255,
    HYC_DIR_HAS_METADATA = 1,
    HYC_MAX_TENSORS = HC_MAX_TENSORS /* the library's limit (hyperc.h)      */
};

/* field offsets: header (H_), trailer (T_), directory header (D_), entry (E_) */
enum { H_VMAJ = 8, H_VMIN = 10, H_HSIZE = 12, H_INCOMPAT = 16, H_COMPAT = 20, H_FSIZE = 24,
       H_DIROFF = 32, H_DIRSIZE = 40, H_DIRCRC = 48, H_ALIGN = 52, H_RESERVED = 56 };
enum { T_DIROFF = 8, T_DIRSIZE = 16, T_DIRCRC = 24, T_CRC = 28 };
enum { D_HSIZE = 0, D_FLAGS = 4, D_COUNT = 8, D_MDLEN = 16, D_WLEN = 24, D_RESERVED = 28 };
enum { E_SIZE = 0, E_NAMELEN = 4, E_PARAMSLEN = 6, E_CODEC = 8, E_DTYPE = 10, E_NDIM = 11,
       E_FLAGS = 12, E_CRC = 16, E_RESERVED = 20, E_OFFSET = 24, E_PSIZE = 32, E_SHAPE = 40 };

#define HYC_WRITER_STRING "hyperc " HC_VERSION_STRING

/* Fuzzing builds skip checksum comparisons so the fuzzer reaches the
 * structural checks behind them (the usual libFuzzer convention). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define HYC_CRC_DIFFERS(stored, computed) ((void)(stored), (void)(computed), 0)
#else
#define HYC_CRC_DIFFERS(stored, computed) ((stored) != (computed))
#endif

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

typedef unsigned long long ull;

/* ===================================================================== */
/* Tensor-name hash set (duplicate detection and lookup)                  */
/* ===================================================================== */

/* Slots hold entry index + 1 (0 = empty); names come from a callback so the
 * reader and the writer can keep them where they already are. */
typedef const char *(*name_of_fn)(const void *ctx, uint32_t i, size_t *len);

typedef struct name_set {
    uint32_t *slot; /* [mask + 1] */
    size_t mask;
    size_t used;
} name_set;

static uint64_t name_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static long name_set_find(const name_set *s, const char *name, size_t len, name_of_fn of,
                          const void *ctx) {
    if (!s->slot) return -1;
    for (size_t k = (size_t)name_hash(name, len) & s->mask;; k = (k + 1) & s->mask) {
        uint32_t v = s->slot[k];
        if (!v) return -1;
        size_t l;
        const char *other = of(ctx, v - 1, &l);
        if (l == len && memcmp(other, name, len) == 0) return (long)(v - 1);
    }
}

static void name_set_put(name_set *s, uint32_t i, const char *name, size_t len) {
    size_t k = (size_t)name_hash(name, len) & s->mask;
    while (s->slot[k]) k = (k + 1) & s->mask;
    s->slot[k] = i + 1;
    s->used++;
}

/* Makes room for `want` names (load <= 1/2), rehashing the `have` present. */
static int name_set_reserve(name_set *s, size_t want, size_t have, name_of_fn of, const void *ctx) {
    if (s->slot && want * 2 <= s->mask + 1) return 1;
    size_t cap = 16;
    while (cap < want * 2) cap *= 2;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return 0;
    free(s->slot);
    s->slot = slot;
    s->mask = cap - 1;
    s->used = 0;
    for (size_t i = 0; i < have; i++) {
        size_t l;
        const char *nm = of(ctx, (uint32_t)i, &l);
        name_set_put(s, (uint32_t)i, nm, l);
    }
    return 1;
}

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

/* ===================================================================== */
/* Writer                                                                 */
/* ===================================================================== */

typedef struct name_ref { uint64_t at; uint32_t len; } name_ref; /* name bytes in w->dir */

struct hc_hyc_writer {
    hc_outfile out;
    int broken;                 /* a write failed: the file cannot be finished */
    uint8_t *dir;               /* [dir_len] the entries, as they will be stored */
    size_t dir_len, dir_cap;
    name_ref *names;            /* [cap] */
    size_t count, cap;
    name_set set;
    hyc_ext_w *ext;             /* attachments and shards (hyc_attach.c)   */
};

hyc_ext_w **hyc_writer_ext(hc_hyc_writer *w) { return &w->ext; }
size_t hyc_writer_count(const hc_hyc_writer *w) { return w->count; }
const char *hyc_writer_path(const hc_hyc_writer *w) { return w->out.path; }

static const char *writer_name_of(const void *ctx, uint32_t i, size_t *len) {
    const hc_hyc_writer *w = ctx;
    *len = w->names[i].len;
    return (const char *)w->dir + w->names[i].at;
}

hc_status hc_hyc_writer_open(const char *path, int overwrite, hc_hyc_writer **out, hc_error *err) {
    if (!out || !path) return hc_fail(err, HC_E_ARG, "hc_hyc_writer_open: no path or output pointer");
    *out = NULL;
    hc_hyc_writer *w = calloc(1, sizeof *w);
    if (!w) return hc_fail(err, HC_E_NOMEM, "out of memory opening '%s'", path);
    hc_status s = hc_out_open(&w->out, path, overwrite, err);
    if (s) {
        free(w);
        return s;
    }
    /* The header stays zero (so never valid) until finish fills it in. */
    s = hc_out_zeros(&w->out, HYC_HEADER_SIZE, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    *out = w;
    return HC_OK;
}

/* Refuses what a reader would refuse, before anything is written. */
static hc_status check_new_entry(const hc_hyc_writer *w, const hc_hyc_entry *e, uint64_t size, size_t *name_len,
                                 hc_error *err) {
    const char *path = w->out.path;
    const hc_tensor_info *t = &e->info;
    size_t l = strnlen(t->name, HC_MAX_NAME);
    if (l == 0 || l >= HC_MAX_NAME)
        return hc_fail(err, HC_E_ARG, "'%s': tensor #%zu: name is empty or not NUL-terminated within %d bytes",
                       path, w->count, HC_MAX_NAME);
    if ((unsigned)t->dtype >= HC_DTYPE_COUNT)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': invalid dtype %d", path, t->name, (int)t->dtype);
    if (t->ndim > HC_MAX_DIMS)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': %u dimensions (at most %d)", path, t->name, t->ndim,
                       HC_MAX_DIMS);
    uint64_t nelem = 1, nbytes;
    for (uint32_t d = 0; d < t->ndim; d++)
        if (!hc_mul_ok(nelem, t->shape[d], &nelem))
            return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': element count overflows", path, t->name);
    if (!hc_mul_ok(nelem, hc_dtype_size(t->dtype), &nbytes) || nelem != t->nelem || nbytes != t->nbytes)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': nelem %llu / nbytes %llu disagree with its shape and dtype",
                       path, t->name, (ull)t->nelem, (ull)t->nbytes);
    if ((unsigned)e->codec > 0xFFFF)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': codec id %u out of range", path, t->name,
                       (unsigned)e->codec);
    if (e->params_len > HC_MAX_PARAMS)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': %u bytes of codec parameters (at most %d)", path,
                       t->name, e->params_len, HC_MAX_PARAMS);
    if (e->codec == HC_CODEC_RAW && (e->params_len != 0 || size != nbytes))
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': raw payload of %llu bytes (%u parameter bytes); expected %llu and none",
                       path, t->name, (ull)size, e->params_len, (ull)nbytes);
    if ((uint64_t)(size_t)size != size)
        return hc_fail(err, HC_E_LIMIT, "'%s': tensor '%s': payload too large", path, t->name);
    if (w->count >= HYC_MAX_TENSORS)
        return hc_fail(err, HC_E_LIMIT, "'%s': more than %d tensors (the limit of this hyperc)", path, HYC_MAX_TENSORS);
    if (name_set_find(&w->set, t->name, l, writer_name_of, w) >= 0)
        return hc_fail(err, HC_E_ARG, "'%s': duplicate tensor name '%s'", path, t->name);
    *name_len = l;
    return HC_OK;
}

hc_status hc_hyc_writer_add(hc_hyc_writer *w, const hc_hyc_entry *e, const void *payload, uint64_t size,
                            hc_error *err) {
    if (!w || !e || (!payload && size))
        return hc_fail(err, HC_E_ARG, "hc_hyc_writer_add: missing writer, entry or payload");
    if (w->broken)
        return hc_fail(err, HC_E_IO, "'%s': an earlier write failed; the file cannot be completed", w->out.path);
    size_t name_len = 0;
    hc_status s = check_new_entry(w, e, size, &name_len, err);
    if (s) return s;

    /* Room for the entry, its name reference and its hash slot first, so a
     * failure here leaves the file as it was. */
    const uint32_t ndim = e->info.ndim;
    const size_t esize = (size_t)align_up(HYC_ENTRY_FIXED + 8u * ndim + name_len + e->params_len, 8);
    if (w->dir_len + esize > w->dir_cap) {
        size_t cap = w->dir_cap ? w->dir_cap : 4096;
        while (cap < w->dir_len + esize) cap *= 2;
        uint8_t *d = realloc(w->dir, cap);
        if (!d) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the directory", w->out.path);
        w->dir = d;
        w->dir_cap = cap;
    }
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        name_ref *r = realloc(w->names, cap * sizeof *r);
        if (!r) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the directory", w->out.path);
        w->names = r;
        w->cap = cap;
    }
    if (!name_set_reserve(&w->set, w->count + 1, w->count, writer_name_of, w))
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the name index", w->out.path);

    uint64_t offset = align_up(w->out.pos, HYC_ALIGN);
    s = hc_out_zeros(&w->out, (size_t)(offset - w->out.pos), err);
    if (s == HC_OK) s = hc_out_write(&w->out, payload, (size_t)size, err);
    if (s) {
        w->broken = 1;
        return hc_error_context(err, s, "'%s': writing tensor '%s'", w->out.path, e->info.name);
    }
    uint32_t crc = hc_crc32c(0, payload, (size_t)size);

    uint8_t *q = w->dir + w->dir_len;
    memset(q, 0, esize);
    hc_put_u32(q + E_SIZE, (uint32_t)esize);
    hc_put_u16(q + E_NAMELEN, (uint16_t)name_len);
    hc_put_u16(q + E_PARAMSLEN, (uint16_t)e->params_len);
    hc_put_u16(q + E_CODEC, (uint16_t)e->codec);
    q[E_DTYPE] = (uint8_t)e->info.dtype;
    q[E_NDIM] = (uint8_t)ndim;
    hc_put_u32(q + E_CRC, crc);
    hc_put_u64(q + E_OFFSET, offset);
    hc_put_u64(q + E_PSIZE, size);
    for (uint32_t d = 0; d < ndim; d++) hc_put_u64(q + E_SHAPE + 8u * d, e->info.shape[d]);
    uint8_t *name = q + E_SHAPE + 8u * ndim;
    memcpy(name, e->info.name, name_len);
    memcpy(name + name_len, e->params, e->params_len);
    w->names[w->count] = (name_ref){(uint64_t)(name - w->dir), (uint32_t)name_len};
    name_set_put(&w->set, (uint32_t)w->count, e->info.name, name_len);
    w->count++;
    w->dir_len += esize;
    return HC_OK;
}

static void writer_free(hc_hyc_writer *w) {
    free(w->dir);
    free(w->names);
    free(w->set.slot);
    hyc_ext_w_free(w->ext);
    free(w);
}

hc_status hc_hyc_writer_finish(hc_hyc_writer *w, const char *metadata_json, size_t metadata_len, hc_error *err) {
    if (!w) return hc_fail(err, HC_E_ARG, "hc_hyc_writer_finish: no writer");
    hc_status s = HC_OK;
    if (w->broken)
        s = hc_fail(err, HC_E_IO, "'%s': an earlier write failed; the file was not created", w->out.path);
    else if (!metadata_json && metadata_len)
        s = hc_fail(err, HC_E_ARG, "'%s': metadata length %zu without metadata", w->out.path, metadata_len);
    else if (metadata_len > HC_MAX_METADATA)
        s = hc_fail(err, HC_E_LIMIT, "'%s': metadata of %zu bytes exceeds the limit of %u", w->out.path, metadata_len,
                    HC_MAX_METADATA);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    uint8_t *ext = NULL;
    size_t ext_len = 0;
    s = hyc_ext_w_build(w->ext, w->count, w->out.path, &ext, &ext_len, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    static const uint8_t zeros[8];
    const char *writer = HYC_WRITER_STRING;
    const size_t wlen = strlen(writer);
    const uint64_t ext_off = align_up(w->out.pos, 8); /* the section ends where the directory starts */
    const uint64_t dir_off = ext_off + ext_len;
    const uint64_t pad = align_up(HYC_DIR_HEADER_SIZE + (uint64_t)metadata_len + wlen, 8) -
                         (HYC_DIR_HEADER_SIZE + (uint64_t)metadata_len + wlen);
    const uint64_t dir_size = HYC_DIR_HEADER_SIZE + (uint64_t)metadata_len + wlen + pad + w->dir_len;

    uint8_t dh[HYC_DIR_HEADER_SIZE] = {0};
    hc_put_u32(dh + D_HSIZE, HYC_DIR_HEADER_SIZE);
    hc_put_u32(dh + D_FLAGS, metadata_json ? HYC_DIR_HAS_METADATA : 0);
    hc_put_u64(dh + D_COUNT, w->count);
    hc_put_u64(dh + D_MDLEN, metadata_len);
    hc_put_u32(dh + D_WLEN, (uint32_t)wlen);
    uint32_t crc = hc_crc32c(0, dh, sizeof dh);
    crc = hc_crc32c(crc, metadata_json, metadata_len);
    crc = hc_crc32c(crc, writer, wlen);
    crc = hc_crc32c(crc, zeros, (size_t)pad);
    crc = hc_crc32c(crc, w->dir, w->dir_len);

    uint8_t tr[HYC_TRAILER_SIZE];
    memcpy(tr, hyc_end_magic, 8);
    hc_put_u64(tr + T_DIROFF, dir_off);
    hc_put_u64(tr + T_DIRSIZE, dir_size);
    hc_put_u32(tr + T_DIRCRC, crc);
    hc_put_u32(tr + T_CRC, hc_crc32c(0, tr, T_CRC));

    uint8_t hd[HYC_HEADER_SIZE] = {0};
    memcpy(hd, hyc_magic, 8);
    hc_put_u16(hd + H_VMAJ, ext_len ? HYC_VERSION_MAJOR : HYC_VERSION_MAJOR_PLAIN);
    hc_put_u16(hd + H_VMIN, HYC_VERSION_MINOR);
    hc_put_u32(hd + H_HSIZE, HYC_HEADER_SIZE);
    hc_put_u64(hd + H_FSIZE, dir_off + dir_size + HYC_TRAILER_SIZE);
    hc_put_u64(hd + H_DIROFF, dir_off);
    hc_put_u64(hd + H_DIRSIZE, dir_size);
    hc_put_u32(hd + H_DIRCRC, crc);
    hc_put_u32(hd + H_ALIGN, HYC_ALIGN);
    hc_put_u32(hd + H_RESERVED, (uint32_t)ext_len);
    hc_put_u32(hd + HYC_HEADER_SIZE - 4, hc_crc32c(0, hd, HYC_HEADER_SIZE - 4));

    s = hc_out_zeros(&w->out, (size_t)(ext_off - w->out.pos), err);
    if (!s) s = hc_out_write(&w->out, ext, ext_len, err);
    free(ext);
    if (!s) s = hc_out_zeros(&w->out, (size_t)(dir_off - w->out.pos), err);
    if (!s) s = hc_out_write(&w->out, dh, sizeof dh, err);
    if (!s) s = hc_out_write(&w->out, metadata_json, metadata_len, err);
    if (!s) s = hc_out_write(&w->out, writer, wlen, err);
    if (!s) s = hc_out_zeros(&w->out, (size_t)pad, err);
    if (!s) s = hc_out_write(&w->out, w->dir, w->dir_len, err);
    if (!s) s = hc_out_write(&w->out, tr, sizeof tr, err);
    if (!s) s = hc_out_pwrite(&w->out, hd, sizeof hd, 0, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    s = hc_out_commit(&w->out, err);
    writer_free(w);
    return s;
}

void hc_hyc_writer_abort(hc_hyc_writer *w) {
    if (!w) return;
    hc_out_abort(&w->out);
    writer_free(w);
}
