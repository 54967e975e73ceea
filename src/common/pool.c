/* pool.c — the thread pool of libhyperc, used by inference (a persistent
 * pool per sequence: matrix products run many times per token, so threads
 * are started once and woken per job) and by compression (hc_parallel_for,
 * parallel.c: a pool for the length of one call, so that calls nest).
 *
 * Generation posts a job every few hundred microseconds (about 160 per token
 * on a 22-layer model), and waking a thread blocked on a condition variable
 * can take tens of microseconds on a virtual machine. So workers, and the
 * caller waiting for them, first spin for a while (SPIN_NS) on the job
 * counter and only then block; with more threads than cores they block at
 * once, as a spinning thread would then take a core from a working one. */
#include "util.h"
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_NS 200000 /* 0.2 ms: longer than the gaps between one token's jobs */

struct hc_pool {
    int threads;            /* workers + the calling thread                 */
    int started;            /* workers actually running                     */
    int spin;               /* 1: wait by spinning before blocking          */
    pthread_t *tids;        /* (threads - 1)                                */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* a new job, or quit                           */
    pthread_cond_t done;    /* the last worker left the job                 */
    uint64_t generation;    /* job counter, written under mu, read atomically */
    int busy;               /* workers not yet finished with the job (same)  */
    int quit;               /* (same)                                       */
    /* the current job */
    void (*fn)(void *, uint64_t, int);
    void *ctx;
    uint64_t n;
    uint64_t next;          /* next task, taken atomically                  */
};

typedef struct worker_arg {
    hc_pool *pool;
    int tid;
} worker_arg;

static void run_tasks(hc_pool *p, int tid) {
    for (;;) {
        uint64_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
        if (i >= p->n) break;
        p->fn(p->ctx, i, tid);
    }
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins while the job counter is `seen` (a worker waiting for a job, done
 * = 0) or while workers are busy (the caller waiting for them, done = 1),
 * for at most SPIN_NS. */
static void spin_wait(const hc_pool *p, uint64_t seen, int done) {
    if (!p->spin) return;
    const uint64_t t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if (done ? __atomic_load_n(&p->busy, __ATOMIC_ACQUIRE) == 0
                 : __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) != seen)
            return;
        CPU_RELAX();
        if ((i & 255) == 0 && now_ns() - t0 > SPIN_NS) return;
    }
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    hc_pool *p = a.pool;
    uint64_t seen = 0;
    for (;;) {
        spin_wait(p, seen, 0); /* quit also moves generation */
        pthread_mutex_lock(&p->mu);
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, a.tid);
        pthread_mutex_lock(&p->mu);
        if (__atomic_sub_fetch(&p->busy, 1, __ATOMIC_RELEASE) == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

hc_status hc_pool_new(int threads, hc_pool **out, hc_error *err) {
    *out = NULL;
    if (threads <= 0) threads = hc_cpu_count();
    if (threads > 256) threads = 256;
    hc_pool *p = calloc(1, sizeof *p);
    if (!p) return hc_fail(err, HC_E_NOMEM, "thread pool: out of memory");
    p->threads = threads;
    p->spin = threads <= hc_cpu_count(); /* set before any worker reads it */
    if (threads > 1) {
        p->tids = calloc((size_t)threads - 1, sizeof *p->tids);
        if (!p->tids) {
            free(p);
            return hc_fail(err, HC_E_NOMEM, "thread pool: out of memory");
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 1; t < threads; t++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->pool = p;
        a->tid = t;
        if (pthread_create(&p->tids[t - 1], NULL, worker_main, a) != 0) {
            free(a);
            break;
        }
        p->started++;
    }
    /* with fewer workers than asked the pool still works, just narrower */
    p->threads = p->started + 1;
    *out = p;
    return HC_OK;
}

void hc_pool_free(hc_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->generation, 1, __ATOMIC_RELEASE); /* ends the spinning */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->started; t++) pthread_join(p->tids[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->tids);
    free(p);
}

int hc_pool_threads(const hc_pool *p) { return p ? p->threads : 1; }

void hc_pool_run(hc_pool *p, uint64_t n, void (*fn)(void *ctx, uint64_t task, int tid), void *ctx) {
    if (!p || p->started == 0 || n <= 1) {
        for (uint64_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->busy, p->started, __ATOMIC_RELAXED);
    __atomic_add_fetch(&p->generation, 1, __ATOMIC_RELEASE); /* publishes the job */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    /* every worker must have left the job before ctx (often on the
     * caller's stack) goes away or the next job is posted */
    spin_wait(p, 0, 1);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
