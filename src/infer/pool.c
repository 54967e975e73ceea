/* pool.c — a persistent thread pool. Matrix products run many times per
 * token, so threads are started once and woken per job instead of being
 * created per call (hc_parallel_for). */
#include "infer.h"
#include <pthread.h>
#include <stdlib.h>

struct hc_pool {
    int threads;            /* workers + the calling thread                 */
    int started;            /* workers actually running                     */
    pthread_t *tids;        /* (threads - 1)                                */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* a new job, or quit                           */
    pthread_cond_t done;    /* the last worker left the job                 */
    uint64_t generation;    /* job counter, guarded by mu                   */
    int busy;               /* workers not yet finished with the job        */
    int quit;
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

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    hc_pool *p = a.pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, a.tid);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
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
    p->quit = 1;
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
    p->busy = p->started;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    /* every worker must have left the job before ctx (often on the
     * caller's stack) goes away or the next job is posted */
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
