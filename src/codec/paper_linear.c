/* paper_linear.c — the paper codec's linear row products (paper.h, "linear
 * row products"; docs/ALGORITHM.md §6): the correction list built at open(),
 * the per-tile constants, and the plain-C fast pass and corrections that the
 * SIMD kernels (paper_simd.c) mirror. */
#include "paper.h"
#include "bitpack.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BITS HC_PAPER_FIX_BLOCK_BITS
#define LINEAR_LIMIT 1e30 /* fake coordinates beyond this: no linear path */
#define LINEAR_TILE 4096  /* columns of x per tile in the plain-C product */

/* ===================================================================== */
/* Exact float division                                                   */
/* ===================================================================== */

/* For integers -1 <= w < 2^22 and 1 <= d <= 2^22, floor(w * f) in float with
 * f = 1/d rounded up is exactly q = floor(w / d): the exact product lies in
 * [w/d, w/d + 0.5/d), so in [q, q + 1 - 0.5/d], and rounding it to a float
 * can neither go below the float q nor reach q + 1 (half an ulp there is
 * under 0.5/d). With 1/d rounded to nearest, d = 41 already fails at w = 41.
 * The remainder w - q d is then exact by FMA. */
float hc_paper_divisor_inv(uint32_t d) {
    float f = (float)(1.0 / d);
    if ((double)f * d < 1.0) f = nextafterf(f, 2.0f);
    return f;
}

/* ===================================================================== */
/* Correction list                                                        */
/* ===================================================================== */

static inline uint32_t index_at(const hc_paper_decoder *d, uint64_t j) {
    if (j < d->fast_pairs) return hc_bitpack_get_fast(d->payload, j * d->u, d->mask);
    return hc_bitpack_get(d->payload, d->payload_len, j, d->u);
}

void hc_paper_linear_free(hc_paper_linear *l) {
    free(l->block_start);
    free(l->offset);
    free(l->corr);
    memset(l, 0, sizeof *l);
}

/* The fake-point constants; 0 if they, or a fake point of any u-bit index,
 * could leave float range (col*h <= 2^22 h <= 2^22 L). */
static int linear_constants(const hc_paper_decoder *d, hc_paper_linear *l) {
    const hc_paper_params *p = &d->p;
    hc_paper_codebook cb;
    hc_paper_codebook_init(&cb, p->cx, p->cy, p->L, p->n);
    if (cb.degenerate) return 0; /* the table collapses points the fake grid would not */
    const double reach = fabs(cb.x0) + fabs(cb.y0) + 0x1p23 * (cb.h + cb.sx);
    if (!(reach < LINEAR_LIMIT)) return 0;
    l->x0 = (float)cb.x0;
    l->y0 = (float)cb.y0;
    l->h = (float)cb.h;
    l->sx = (float)cb.sx;
    l->m = (float)cb.m;
    l->inv_m = hc_paper_divisor_inv(cb.m);
    return 1;
}

/* col = floor(t / m), r = t - col m for t = v - 1 >= -1 (integers). */
static inline void col_row(const hc_paper_linear *l, uint32_t v, int64_t *col, int64_t *r) {
    const int64_t t = (int64_t)v - 1, m = (int64_t)l->m;
    *col = t < 0 ? -1 : t / m;
    *r = t - *col * m;
}

static void linear_fake(const hc_paper_linear *l, uint32_t v, double *x, double *y) {
    int64_t col, r;
    col_row(l, v, &col, &r);
    *x = (double)l->x0 + (double)col * l->h + (double)r * l->sx;
    *y = (double)l->y0 + (double)r * l->h;
}

hc_status hc_paper_linear_build(hc_paper_decoder *d, double max_bits, hc_error *err) {
    hc_paper_linear *l = &d->lin;
    memset(l, 0, sizeof *l);
    d->has_linear = 0;
    const uint64_t npairs = d->npairs;
    if (npairs == 0 || d->u > HC_PAPER_LINEAR_MAX_U || !linear_constants(d, l)) return HC_OK;
    l->nblocks = (npairs + (1u << BLOCK_BITS) - 1) >> BLOCK_BITS;
    /* the budget in bytes, less the corr table and block starts: the rest
     * holds 2-byte entries (at most one per pair, at most 2^32) */
    const double fixed = 8.0 * (double)(1u << d->u) + 4.0 * (double)(l->nblocks + 1);
    const double room = max_bits * (double)d->base.n / 8 - fixed;
    if (!(room >= 0)) return HC_OK;
    uint64_t cap = room / 2 < (double)npairs ? (uint64_t)(room / 2) : npairs;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    l->block_start = malloc((size_t)(l->nblocks + 1) * sizeof *l->block_start);
    l->offset = malloc((size_t)(cap + 1) * sizeof *l->offset); /* +1: the write before the test */
    if (!l->block_start || !l->offset) {
        hc_paper_linear_free(l);
        return hc_fail(err, HC_E_NOMEM, "paper codec: out of memory for the correction list of %llu pairs",
                       (unsigned long long)npairs);
    }
    /* listed: v = 0 (P_0) and v > n (outer bands, damaged); v - 1 wraps for 0 */
    const uint32_t n = d->p.n;
    uint64_t count = 0;
    for (uint64_t b = 0; b < l->nblocks; b++) {
        l->block_start[b] = (uint32_t)count;
        const uint64_t j_end = (b + 1) << BLOCK_BITS < npairs ? (b + 1) << BLOCK_BITS : npairs;
        for (uint64_t j = b << BLOCK_BITS; j < j_end; j++) {
            l->offset[count] = (uint16_t)j;
            count += index_at(d, j) - 1u >= n;
            if (count > cap) { /* too many to pay off: the general kernels */
                hc_paper_linear_free(l);
                return HC_OK;
            }
        }
    }
    l->block_start[l->nblocks] = (uint32_t)count;
    const size_t entries = (size_t)1 << d->u;
    l->corr = calloc(entries, 2 * sizeof *l->corr);
    if (!l->corr) {
        hc_paper_linear_free(l);
        return hc_fail(err, HC_E_NOMEM, "paper codec: out of memory for a correction table of %zu entries",
                       entries);
    }
    for (size_t v = 0; v < entries; v++)
        if ((uint32_t)v - 1u >= n) {
            double fx, fy;
            linear_fake(l, (uint32_t)v, &fx, &fy);
            l->corr[2 * v] = (float)((double)d->table[2 * v] - fx);
            l->corr[2 * v + 1] = (float)((double)d->table[2 * v + 1] - fy);
        }
    l->count = count;
    if (count == 0) {
        free(l->offset);
        l->offset = NULL;
    } else {
        uint16_t *shrunk = realloc(l->offset, (size_t)count * sizeof *l->offset);
        if (shrunk) l->offset = shrunk;
    }
    d->has_linear = 1;
    return HC_OK;
}

uint64_t hc_paper_linear_find(const hc_paper_linear *l, uint64_t j) {
    const uint64_t b = j >> BLOCK_BITS;
    if (b >= l->nblocks) return l->count;
    uint64_t lo = l->block_start[b], hi = l->block_start[b + 1];
    const uint16_t key = (uint16_t)(j & ((1u << BLOCK_BITS) - 1));
    while (lo < hi) { /* first offset >= key in [lo, hi) */
        const uint64_t mid = lo + (hi - lo) / 2;
        if (l->offset[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ===================================================================== */
/* Fake points, tiles, and the plain-C passes                             */
/* ===================================================================== */

void hc_paper_linear_tile(const hc_paper_linear *l, const float *xp, uint64_t np, float *U, float *Z,
                          double *base) {
    double se = 0, so = 0;
    for (uint64_t i = 0; i < np; i++) {
        const float xe = xp[2 * i], xo = xp[2 * i + 1];
        U[i] = l->h * xe;
        Z[i] = l->sx * xe + l->h * xo;
        se += xe;
        so += xo;
    }
    *base = (double)l->x0 * se + (double)l->y0 * so;
}

double hc_paper_linear_fast_ref(const hc_paper_decoder *d, uint64_t j0, uint64_t np, const float *U,
                                const float *Z) {
    float lane[4] = {0, 0, 0, 0};
    for (uint64_t i = 0; i < np; i++) {
        int64_t col, r;
        col_row(&d->lin, index_at(d, j0 + i), &col, &r);
        lane[i & 3] += (float)col * U[i] + (float)r * Z[i];
    }
    return (double)((lane[0] + lane[1]) + (lane[2] + lane[3]));
}

double hc_paper_linear_fix(const hc_paper_decoder *d, uint64_t j0, uint64_t np, const float *xp, uint64_t *e) {
    const hc_paper_linear *l = &d->lin;
    const float *corr = l->corr;
    const uint64_t j1 = j0 + np;
    uint64_t k = *e;
    float s0 = 0, s1 = 0;
    for (uint64_t b = j0 >> BLOCK_BITS; b < l->nblocks && (b << BLOCK_BITS) < j1; b++) {
        const uint64_t end = l->block_start[b + 1];
        for (; k < end; k++) {
            const uint64_t j = (b << BLOCK_BITS) + l->offset[k];
            if (j >= j1) goto done;
            const uint32_t v = index_at(d, j);
            s0 += corr[2 * (size_t)v] * xp[2 * (j - j0)];
            s1 += corr[2 * (size_t)v + 1] * xp[2 * (j - j0) + 1];
        }
    }
done:
    *e = k;
    return (double)(s0 + s1);
}

void hc_paper_matvec_linear_ref(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                                float *y) {
    const hc_paper_decoder *d = (const hc_paper_decoder *)base;
    if (!d->has_linear || (cols & 1)) {
        hc_paper_matvec_ref(base, cols, row0, row1, x, y);
        return;
    }
    const uint64_t rows = cols ? base->n / cols : 0;
    const uint64_t rv = row1 < rows ? row1 : rows;
    for (uint64_t r = row0; r < row1; r++) y[r - row0] = 0;
    float *U = malloc(LINEAR_TILE / 2 * sizeof *U), *Z = malloc(LINEAR_TILE / 2 * sizeof *Z);
    if (!U || !Z) { /* no room for the tile: the product that needs none */
        free(U);
        free(Z);
        hc_paper_matvec_ref(base, cols, row0, row1, x, y);
        return;
    }
    for (uint64_t c0 = 0; c0 < cols && row0 < rv; c0 += LINEAR_TILE) {
        const uint64_t np = (cols - c0 < LINEAR_TILE ? cols - c0 : LINEAR_TILE) / 2;
        double tile_base;
        hc_paper_linear_tile(&d->lin, x + c0, np, U, Z, &tile_base);
        for (uint64_t r = row0; r < rv; r++) {
            const uint64_t j0 = (r * cols + c0) / 2;
            uint64_t e = hc_paper_linear_find(&d->lin, j0);
            const double fast = hc_paper_linear_fast_ref(d, j0, np, U, Z);
            const double s = tile_base + fast + hc_paper_linear_fix(d, j0, np, x + c0, &e);
            y[r - row0] += (float)s;
        }
    }
    free(U);
    free(Z);
}
