/* parallel.c — the parallel-for of compression (over the pool of pool.c),
 * the core count and a clock. */
#include "util.h"
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

void hc_parallel_for(int threads, uint64_t n, void (*fn)(void *ctx, uint64_t i, int tid), void *ctx) {
    if (threads > 256) threads = 256;
    if ((uint64_t)threads > n) threads = (int)n;
    hc_pool *p = NULL;
    /* if the pool cannot be made the caller does all the work (p NULL) */
    if (threads > 1 && hc_pool_new(threads, &p, NULL) != HC_OK) p = NULL;
    hc_pool_run(p, n, fn, ctx);
    hc_pool_free(p);
}
