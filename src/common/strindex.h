/* strindex.h — two small building blocks of the readers' compact tables:
 *
 *  - hc_strindex: an open-addressing hash index of n strings held elsewhere
 *    (the caller's string pool), for O(1) lookup by name and duplicate
 *    detection. 4 bytes a slot, at most 2 slots a string.
 *  - hc_lazytab: full-size records (hc_tensor_info, hc_hyc_entry) built on
 *    first query from a compact table and kept, with stable addresses, until
 *    the table is freed; so the memory of the records is proportional to what
 *    was queried, not to what a file claims. Thread-safe. */
#ifndef HC_STRINDEX_H
#define HC_STRINDEX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The key of item i: its bytes and length. */
typedef const char *(*hc_key_fn)(const void *ctx, size_t i, size_t *len);

typedef struct hc_strindex {
    uint32_t *slot; /* [mask + 1]: item index + 1, 0 = empty */
    size_t mask;
} hc_strindex;

/* Indexes items 0..n-1 (n < 2^32 - 1). Returns 0 on success, -1 when out of
 * memory, 1 when two items have the same key (*dup_first < *dup_second are
 * their indices; the index is then incomplete but valid to free). */
int hc_strindex_build(hc_strindex *s, size_t n, hc_key_fn key, const void *ctx, size_t *dup_first,
                      size_t *dup_second);
/* Index of the item whose key is name[0..len), or -1. */
long hc_strindex_find(const hc_strindex *s, const char *name, size_t len, hc_key_fn key, const void *ctx);
void hc_strindex_free(hc_strindex *s);

/* Writes record i into out (elem bytes). */
typedef void (*hc_fill_fn)(const void *ctx, size_t i, void *out);

typedef struct hc_lazytab {
    void **block;   /* [(n + 63) / 64] blocks of 64 records, NULL until used */
    uint8_t *ready; /* [n] 1 once record i is filled                      */
    size_t n, elem;
    pthread_mutex_t lock;
} hc_lazytab;

/* Returns 0, or -1 when out of memory (about 1.1 bytes an item). */
int hc_lazytab_init(hc_lazytab *t, size_t n, size_t elem);
/* Record i (i < n), filled by fill(ctx, i, record) on first use; NULL only
 * when out of memory. */
void *hc_lazytab_get(hc_lazytab *t, size_t i, hc_fill_fn fill, const void *ctx);
void hc_lazytab_free(hc_lazytab *t);

#endif
