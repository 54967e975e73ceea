/* parallel.c — a minimal parallel-for over pthreads, and a clock. */
#include "util.h"
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int hc_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 256 ? 256 : n) : 1;
}

double hc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct pf_shared {
    void (*fn)(void *, uint64_t, int);
    void *ctx;
    uint64_t n;
    uint64_t next; /* atomically incremented */
} pf_shared;

typedef struct pf_arg {
    pf_shared *sh;
    int tid;
} pf_arg;

static void *pf_worker(void *p) {
    pf_arg *a = (pf_arg *)p;
    pf_shared *sh = a->sh;
    for (;;) {
        uint64_t i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
        if (i >= sh->n) break;
        sh->fn(sh->ctx, i, a->tid);
    }
    return NULL;
}

void hc_parallel_for(int threads, uint64_t n, void (*fn)(void *ctx, uint64_t i, int tid), void *ctx) {
    if (threads > 256) threads = 256;
    if ((uint64_t)threads > n) threads = (int)n;
    if (threads <= 1) {
        for (uint64_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pf_shared sh = {fn, ctx, n, 0};
    pthread_t tids[256];
    pf_arg args[256];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        args[t].sh = &sh;
        args[t].tid = t;
        if (pthread_create(&tids[t], NULL, pf_worker, &args[t]) != 0) break;
        started = t;
    }
    args[0].sh = &sh;
    args[0].tid = 0;
    pf_worker(&args[0]); /* the caller works too; if creation failed it does all */
    for (int t = 1; t <= started; t++) pthread_join(tids[t], NULL);
}
