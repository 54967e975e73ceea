/* hyc_format.h — the .hyc container's constants and field offsets
 * (docs/FORMAT.md) and the tensor-name hash set, shared by the reader
 * (hyc.c) and the writer (hyc_write.c). Internal to src/io. */
#ifndef HC_HYC_FORMAT_H
#define HC_HYC_FORMAT_H

#include "hyperc.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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


#endif
