/* strindex.c — hash index of names and lazily built records (strindex.h). */
#include "strindex.h"
#include <stdlib.h>
#include <string.h>

static uint64_t key_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

long hc_strindex_find(const hc_strindex *s, const char *name, size_t len, hc_key_fn key, const void *ctx) {
    if (!s->slot) return -1;
    for (size_t k = (size_t)key_hash(name, len) & s->mask;; k = (k + 1) & s->mask) {
        uint32_t v = s->slot[k];
        if (!v) return -1;
        size_t l;
        const char *other = key(ctx, v - 1, &l);
        if (l == len && memcmp(other, name, len) == 0) return (long)(v - 1);
    }
}

int hc_strindex_build(hc_strindex *s, size_t n, hc_key_fn key, const void *ctx, size_t *dup_first,
                      size_t *dup_second) {
    s->slot = NULL;
    s->mask = 0;
    if (n >= UINT32_MAX / 4) return -1;
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    if (!s->slot) return -1;
    s->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *nm = key(ctx, i, &len);
        size_t k = (size_t)key_hash(nm, len) & s->mask;
        for (; s->slot[k]; k = (k + 1) & s->mask) {
            size_t l;
            const char *other = key(ctx, s->slot[k] - 1, &l);
            if (l == len && memcmp(other, nm, len) == 0) {
                if (dup_first) *dup_first = s->slot[k] - 1;
                if (dup_second) *dup_second = i;
                return 1;
            }
        }
        s->slot[k] = (uint32_t)i + 1;
    }
    return 0;
}

void hc_strindex_free(hc_strindex *s) {
    free(s->slot);
    s->slot = NULL;
    s->mask = 0;
}

/* ---- lazily built records -------------------------------------------------- */

enum { LAZY_BLOCK = 64 };

int hc_lazytab_init(hc_lazytab *t, size_t n, size_t elem) {
    memset(t, 0, sizeof *t);
    t->n = n;
    t->elem = elem;
    t->block = calloc((n + LAZY_BLOCK - 1) / LAZY_BLOCK + 1, sizeof *t->block);
    t->ready = calloc(n ? n : 1, 1);
    if (!t->block || !t->ready || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t->block);
        free(t->ready);
        t->block = NULL;
        t->ready = NULL;
        return -1;
    }
    return 0;
}

void *hc_lazytab_get(hc_lazytab *t, size_t i, hc_fill_fn fill, const void *ctx) {
    if (!t->ready || i >= t->n) return NULL;
    size_t b = i / LAZY_BLOCK, k = i % LAZY_BLOCK;
    if (__atomic_load_n(&t->ready[i], __ATOMIC_ACQUIRE)) {
        uint8_t *blk = __atomic_load_n(&t->block[b], __ATOMIC_ACQUIRE);
        return blk + k * t->elem;
    }
    uint8_t *rec = NULL;
    pthread_mutex_lock(&t->lock);
    uint8_t *blk = t->block[b];
    if (!blk) {
        blk = calloc(LAZY_BLOCK, t->elem);
        if (blk) __atomic_store_n(&t->block[b], blk, __ATOMIC_RELEASE);
    }
    if (blk) {
        rec = blk + k * t->elem;
        if (!t->ready[i]) {
            fill(ctx, i, rec);
            __atomic_store_n(&t->ready[i], 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rec;
}

void hc_lazytab_free(hc_lazytab *t) {
    if (!t->ready) return;
    for (size_t b = 0; b < (t->n + LAZY_BLOCK - 1) / LAZY_BLOCK; b++) free(t->block[b]);
    free(t->block);
    free(t->ready);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof *t);
}
