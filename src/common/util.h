/* util.h — internal helpers shared by every part of libhyperc:
 * file mapping, crash-safe output files, little-endian access, threads. */
#ifndef HC_UTIL_H
#define HC_UTIL_H

#include "hyperc.h"
#include <stdio.h>
#include <string.h>

/* ---- mapped input files ------------------------------------------------ */
typedef struct hc_map {
    const uint8_t *ptr;
    uint64_t len;
    int mapped; /* 1: munmap on close; 0: nothing to free (empty file) */
} hc_map;

hc_status hc_map_file(const char *path, hc_map *m, hc_error *err);
void hc_unmap(hc_map *m);

/* ---- crash-safe output (src/common/fileio.c; docs/FORMAT.md "Output files")
 * A regular file is written as "<target>.hyperc.tmp.<pid>.<n>" next to it,
 * fsync'd, renamed over the target and the directory fsync'd. "-" (standard
 * output), an existing character device or FIFO are written in place; a
 * directory, block device or socket is refused. */
#include <sys/types.h>
typedef struct hc_outfile {
    FILE *f;
    char *path;     /* the name the caller gave ("standard output" for "-"): for messages */
    char *tmp_path; /* name while open (NULL when written in place) */
    char *target;   /* the file renamed over: path, or the file a symbolic link points to */
    uint64_t pos;
    int kind;       /* 0 temp + rename, 1 written in place, 2 spooled then copied in place */
    int dest_fd;    /* kind 2: the stream the spooled bytes go to */
    int slot;       /* entry in the table hc_out_cleanup_pending() reads, or -1 */
    int replace;    /* target exists: mode, uid, gid are its own */
    unsigned mode;
    uid_t uid;
    gid_t gid;
} hc_outfile;

enum {
    HC_OUT_OVERWRITE = 1,  /* replace an existing regular file (-f) */
    HC_OUT_SEQUENTIAL = 2, /* the writer never calls hc_out_pwrite: streams are written directly */
};

hc_status hc_out_open(hc_outfile *o, const char *path, int overwrite, hc_error *err);
hc_status hc_out_open_flags(hc_outfile *o, const char *path, unsigned flags, hc_error *err);
hc_status hc_out_write(hc_outfile *o, const void *p, size_t n, hc_error *err);
hc_status hc_out_zeros(hc_outfile *o, size_t n, hc_error *err);
/* Overwrites bytes already written at offset off (e.g. a header patched last). */
hc_status hc_out_pwrite(hc_outfile *o, const void *p, size_t n, uint64_t off, hc_error *err);
hc_status hc_out_commit(hc_outfile *o, hc_error *err); /* closes in all cases */
void hc_out_abort(hc_outfile *o);
/* Async-signal-safe: unlinks every temporary file of an output still open
 * (for a signal handler that then exits); the callers' names of those
 * outputs go to user_paths[0..max). Returns how many there were. */
size_t hc_out_cleanup_pending(const char **user_paths, size_t max);
/* HC_E_ARG when out_path ("-": standard output) is the same file as in_path
 * (same device and inode: through symbolic and hard links too). */
hc_status hc_out_check_distinct(const char *in_path, const char *out_path, hc_error *err);

/* ---- little-endian fields ---------------------------------------------- */
static inline void hc_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void hc_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void hc_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t hc_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t hc_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t hc_get_u64(const uint8_t *p) {
    return (uint64_t)hc_get_u32(p) | ((uint64_t)hc_get_u32(p + 4) << 32);
}
static inline void hc_put_f32(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); hc_put_u32(p, u); }
static inline float hc_get_f32(const uint8_t *p) { uint32_t u = hc_get_u32(p); float f; memcpy(&f, &u, 4); return f; }
static inline void hc_put_f64(uint8_t *p, double f) { uint64_t u; memcpy(&u, &f, 8); hc_put_u64(p, u); }
static inline double hc_get_f64(const uint8_t *p) { uint64_t u = hc_get_u64(p); double f; memcpy(&f, &u, 8); return f; }

/* a * b without overflow; returns 0 on overflow */
static inline int hc_mul_ok(uint64_t a, uint64_t b, uint64_t *r) {
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}

/* ---- threads ----------------------------------------------------------- */
int hc_cpu_count(void);
/* The one thread pool (pool.c). Persistent workers: hc_pool_run hands out
 * tasks 0..n-1 dynamically to the workers and the calling thread (tid 0),
 * and returns when all are done. Waiting workers and the waiting caller spin
 * briefly before blocking (low latency for inference's many short jobs)
 * unless there are more threads than cores. threads <= 0: all cores. */
typedef struct hc_pool hc_pool;
hc_status hc_pool_new(int threads, hc_pool **out, hc_error *err);
void hc_pool_free(hc_pool *p);
int hc_pool_threads(const hc_pool *p); /* 1 for a NULL pool */
/* p may be NULL (runs inline). */
void hc_pool_run(hc_pool *p, uint64_t n, void (*fn)(void *ctx, uint64_t task, int tid), void *ctx);

/* Calls fn(ctx, i, tid) for every i in [0, n) on up to `threads` threads
 * (tid in [0, threads)); items are handed out dynamically. threads <= 1 runs
 * inline. A pool of the call's own (so calls nest: an encoder's inner
 * parallel loop inside the pipeline's loop over tensors). */
void hc_parallel_for(int threads, uint64_t n, void (*fn)(void *ctx, uint64_t i, int tid), void *ctx);

/* monotonic seconds */
double hc_now(void);

#endif
