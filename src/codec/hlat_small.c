/* hlat_small.c — the product of small hlat tensors from their kept decoded
 * weights (hlat.h, "small tensors").
 *
 * Why: on a model like stories260K (products of 64 x 64 .. 512 x 64) the
 * fused kernels pay per call and per 32 weights for work a float product
 * does not do (activation quantisation, index unpacking, the compander, a
 * block scale per step): 3-5x the float product's time. Such tensors are
 * small, so they are decoded once, by the first product, into float32 and
 * multiplied by the float model's own row kernel (raw.h): the same speed as
 * float, at the memory of the float tensor (a bound of HLAT_SMALL_MAX
 * weights, 256 KiB, per tensor).
 *
 * Thread safety: the first caller moves small_state 0 -> 1, decodes with
 * d's decode kernel (bit-identical to the reference) and publishes 2; a
 * caller that finds 1 waits for the decision (the build takes microseconds),
 * so every product of the tensor runs on the kept weights, whatever the
 * thread count, or — if they could not be allocated (3) — every one runs
 * the fused product. */
#include "hlat.h"
#include "raw.h"
#include "../common/cpu.h"
#include <sched.h>
#include <stdlib.h>

int hlat_small_install(hc_simd level, hlat_decoder *d) {
    (void)level;
    if (d->base.n == 0 || d->base.n > HLAT_SMALL_MAX || getenv("HYPERC_HLAT_NOCACHE")) return 0;
    d->small_rows = hc_raw_rows_ref;
#if defined(__x86_64__) || defined(__i386__)
    if (level >= HC_SIMD_AVX512) d->small_rows = hc_raw_rows_avx512;
    else if (level >= HC_SIMD_AVX2) d->small_rows = hc_raw_rows_avx2;
#endif
    d->small_fallback = d->base.matvec;
    d->base.matvec = hlat_matvec_small;
    return 1;
}

/* The kept weights, built here by the first caller; NULL if not possible. */
static const float *small_weights(const hlat_decoder *d) {
    hlat_decoder *w = (hlat_decoder *)d; /* small / small_state: written once, under small_state */
    int st = __atomic_load_n(&w->small_state, __ATOMIC_ACQUIRE);
    if (st == 2) return w->small;
    if (st == 3) return NULL;
    int zero = 0;
    if (st == 0 && __atomic_compare_exchange_n(&w->small_state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        float *c = malloc(sizeof(float) * (size_t)d->base.n);
        if (c) d->base.decode(&d->base, 0, d->base.n, c);
        w->small = c;
        __atomic_store_n(&w->small_state, c ? 2 : 3, __ATOMIC_RELEASE);
        return c;
    }
    while ((st = __atomic_load_n(&w->small_state, __ATOMIC_ACQUIRE)) == 1) sched_yield();
    return st == 2 ? w->small : NULL;
}

void hlat_matvec_small(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                       float *y) {
    const hlat_decoder *d = (const hlat_decoder *)base;
    if (row1 <= row0) return;
    const float *w = small_weights(d);
    if (w)
        d->small_rows(HC_F32, (const uint8_t *)w, cols, row0, row1, x, y);
    else
        d->small_fallback(base, cols, row0, row1, x, y);
}
