/* test_pool.c — the inference thread pool runs every task exactly once. Split
 * from test_infer.c. */
#include "test_llm.h"

/* ===================================================================== */
/* Thread pool                                                            */
/* ===================================================================== */

typedef struct pool_job {
    int *hits;   /* (tasks) times each task ran in this job */
    int *tid_ok; /* set to 0 if a task saw a bad thread id  */
    int threads;
} pool_job;

static void pool_task(void *ctx, uint64_t task, int tid) {
    pool_job *j = ctx;
    __atomic_add_fetch(&j->hits[task], 1, __ATOMIC_RELAXED);
    if (tid < 0 || tid >= j->threads) __atomic_store_n(j->tid_ok, 0, __ATOMIC_RELAXED);
}

/* Every task of every job runs exactly once, on a valid thread id, with jobs
 * posted back to back (the workers catch them spinning), after pauses past
 * the spin (they catch them blocked), with more threads than cores (no
 * spinning), and the pool frees cleanly in either state. */
TEST(infer_pool_runs_every_task_once) {
    const int sizes[] = {2, 3, hc_cpu_count() + 2};
    hc_rng rng = {5};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        hc_pool *p;
        hc_error err;
        CHECK_OK(hc_pool_new(sizes[si], &p, E(&err)), &err);
        const int threads = hc_pool_threads(p);
        CHECK(threads >= 1 && threads <= sizes[si]);
        int hits[64], tid_ok = 1, bad = 0;
        for (int job = 0; job < 600; job++) {
            const int n = 1 + (int)(hc_rng_next(&rng) % 64);
            memset(hits, 0, sizeof hits);
            pool_job j = {hits, &tid_ok, threads};
            hc_pool_run(p, (uint64_t)n, pool_task, &j);
            for (int t = 0; t < n; t++) bad += hits[t] != 1;
            if (job % 100 == 99) usleep(1000); /* past the spin: workers block */
        }
        CHECKF(bad == 0, "%d tasks ran other than once with %d threads", bad, threads);
        CHECK(tid_ok);
        hc_pool_free(p);
    }
}
