/* paper_simd.c — fused decode-and-multiply row products for the paper codec:
 * AVX2+FMA and AVX-512 kernels beside the plain-C reference in paper.c, the
 * level the one dispatch of src/common/cpu.h puts in force (HYPERC_SIMD).
 *
 * A row's weights are a run of pairs, plus a lone element at each end that
 * falls mid-pair when cols is odd (done by table lookup). The kernels take
 * pairs G at a time (G = 8 for AVX2, 16 for AVX-512): G indices of u bits
 * span exactly G*u/8 bytes, so every group of a run starts at the same bit
 * offset within its first byte, and the byte shuffle that gives each index
 * its own 32-bit lane, and the per-lane shifts, are constants per run.
 *
 * When cols is even and the decoder built its correction list (paper.h,
 * "linear row products"; most tensors), rows take the linear path: per
 * group, the column and row of t = v - 1 (one exact float division) and two
 * FMAs against U and Z, computed once per tile of x; the listed pairs
 * (outer bands, P_0, damaged) are corrected by corr[v] . (x_2j, x_2j+1),
 * their index read again from the payload, a few scalar loads each, done
 * inside the next row's pass. About 9 vector operations per 16 pairs,
 * against about 16 for the arithmetic path. Otherwise each index v becomes
 * its (x, y) pair in one of two ways:
 *  - arithmetic: the codebook is a formula (ALGORITHM.md):
 *    v = i + (n+1)k, t = i - 1, r = t mod m, and the point is
 *    x = cx + g_k (x0 - cx + sx t), y = cy + g_k (y0 - cy + h r), with g_k
 *    the band's growth factor (1 for k = 0), picked from one register by a
 *    lane permute; P_0 (i = 0) is c. The divisions are exact float
 *    multiply-floor steps (hc_paper_divisor_inv). x is split into its even
 *    and odd entries once per tile, so the x and y weights multiply them
 *    directly.
 *    The weights equal the decode table's within a few float roundings of
 *    the codebook's scale (|c| + L g_k).
 *  - table: a 64-bit gather of the (x, y) float pair, which lines up with
 *    two consecutive x. Used when the band factors do not fit a register
 *    (C+1 above the lane count), when values could leave float range, and
 *    for a run holding an index past the codebook (damaged payload: NaN, as
 *    the table gives). Gathers cost about a cycle per pair, so this path
 *    runs at less than half the arithmetic one's speed with AVX-512.
 * Working set: a tile of x (COL_TILE floats, and its split copies) and the
 * table or constants stay in L1/L2 while the packed indices stream once. */
#include "paper.h"
#include "bitpack.h"
#include <math.h>
#include "../common/cpu.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HC_PAPER_X86 1
#else
#define HC_PAPER_X86 0
#endif

#define COL_TILE 4096 /* columns of x per tile; even, so a row's start alone */
                      /* decides whether its tiles begin mid-pair            */

#if HC_PAPER_X86 /* everything up to the dispatch serves the x86 kernels */
/* ===================================================================== */
/* Scalar pieces shared by every level                                    */
/* ===================================================================== */

static inline uint32_t pair_index(const hc_paper_decoder *d, uint64_t j) {
    if (j < d->fast_pairs) return hc_bitpack_get_fast(d->payload, j * d->u, d->mask);
    return hc_bitpack_get(d->payload, d->payload_len, j, d->u);
}

/* sum over pairs j in [j0, j1) of table(j) . (xp[2(j-j0)], xp[2(j-j0)+1]) */
static float pairs_dot_scalar(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, const float *xp) {
    float s0 = 0, s1 = 0;
    for (uint64_t j = j0; j < j1; j++, xp += 2) {
        const float *t = d->table + 2 * (size_t)pair_index(d, j);
        s0 += t[0] * xp[0];
        s1 += t[1] * xp[1];
    }
    return s0 + s1;
}

/* Whole groups of g pairs from pair j0 whose unaligned `reach`-byte loads
 * stay inside the payload (byte j0*u/8 is inside it, as j0 < npairs). */
static inline uint64_t safe_groups(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, uint32_t g, uint32_t reach) {
    const uint64_t avail = d->payload_len - ((j0 * d->u) >> 3), stride = (uint64_t)g * d->u / 8;
    uint64_t ng = (j1 - j0) / g;
    const uint64_t ng_safe = avail >= reach ? (avail - reach) / stride + 1 : 0;
    return ng < ng_safe ? ng : ng_safe;
}

/* Index k of a group whose first index starts at bit `bo` (0..7) of byte 0
 * starts at bit s = bo + k u: its bytes begin at s / 8 and it sits s % 8
 * bits up from there. With u <= 22, s % 8 + u <= 29 bits fit one 32-bit
 * lane. */
static inline void index_place(uint32_t bo, uint32_t u, uint32_t k, uint32_t *byte, uint32_t *shift) {
    uint32_t s = bo + k * u;
    *byte = s >> 3;
    *shift = s & 7;
}

/* ===================================================================== */
/* Arithmetic decoding: per-band constants                                */
/* ===================================================================== */

#define ARITH_MAX_BANDS 16 /* band constants per register (AVX-512 lanes)   */
#define ARITH_LIMIT 1e30   /* coordinates beyond this: table path           */

typedef struct arith_tab {
    float grow[ARITH_MAX_BANDS]; /* g_k for k <= C; 1 for k = 0          */
    float sx, x0c;       /* x = cx + g (x0c + sx t)                          */
    float h, y0c;        /* y = cy + g (y0c + h r)                           */
    float np1, inv_np1;  /* n + 1 and divisor_inv(n + 1)                     */
    float m, inv_m;      /* grid rows m and divisor_inv(m)                   */
    float t_p0;          /* the t that marks P_0: n if banded (see below), else -1 */
    float cx, cy;        /* P_0, as the table stores it                      */
    uint32_t used;       /* (n+1)(C+1): indices from here decode to NaN      */
    int banded;          /* C > 0                                            */
} arith_tab;

/* The table's point of index i + (n+1)k is c + (P_i - c) g_k, with
 * P_i = (x0 + t sx, y0 + r h). Banded kernels divide w = v - 1 by n + 1:
 * for i >= 1 that gives k and t directly, and for i = 0 (the lanes replaced
 * by P_0) t = n, which no other index gives. Returns 0 when the kernel's
 * register holds fewer than C+1 bands or the values could leave float
 * range. */
static int arith_setup(const hc_paper_decoder *d, uint32_t max_bands, arith_tab *a) {
    const hc_paper_params *p = &d->p;
    if (p->bands + 1 > max_bands || p->bands + 1 > ARITH_MAX_BANDS) return 0;
    hc_paper_codebook cb;
    hc_paper_codebook_init(&cb, p->cx, p->cy, p->L, p->n);
    /* points closer than the coordinates' rounding: the table (computed in
     * absolute coordinates) collapses them, arithmetic from the centre would not */
    if (cb.degenerate) return 0;
    hc_paper_bands b;
    hc_paper_bands_init(&b, p->L, p->d_max, p->bands);
    memset(a, 0, sizeof *a);
    const double x0c = cb.x0 - p->cx, y0c = cb.y0 - p->cy;
    const double reach = fabs(p->cx) + fabs(p->cy) + fabs(x0c) + cb.sx * p->n + fabs(y0c) + cb.h * cb.m;
    for (uint32_t k = 0; k <= p->bands; k++) {
        const double g = k ? b.grow[k] : 1.0;
        if (!(g * reach < ARITH_LIMIT) || !(g < ARITH_LIMIT)) return 0; /* g itself must be a float */
        a->grow[k] = (float)g;
    }
    /* constants that would lose their precision as floats (subnormal or
     * zero while the table's doubles are not): the table path is exact */
    const double tiny = 0x1p-100;
    if ((cb.sx != 0 && !(cb.sx >= tiny)) || (cb.h != 0 && !(cb.h >= tiny)) || (x0c != 0 && !(fabs(x0c) >= tiny)) ||
        (y0c != 0 && !(fabs(y0c) >= tiny)))
        return 0;
    a->sx = (float)cb.sx;
    a->x0c = (float)x0c;
    a->h = (float)cb.h;
    a->y0c = (float)y0c;
    a->np1 = (float)(p->n + 1);
    a->inv_np1 = hc_paper_divisor_inv(p->n + 1);
    a->m = (float)cb.m;
    a->inv_m = hc_paper_divisor_inv(cb.m);
    a->banded = p->bands > 0;
    a->t_p0 = a->banded ? (float)p->n : -1.0f;
    a->cx = (float)p->cx;
    a->cy = (float)p->cy;
    a->used = (p->n + 1) * (p->bands + 1);
    return 1;
}

/* An index v < 2^23 as float bits: (v | FLOAT_MAGIC) is the float 2^23 + v,
 * so one OR and one subtraction give v - 1 as a float (exact). */
#define FLOAT_MAGIC 0x4B000000u
#define FLOAT_MAGIC_PLUS_1 8388609.0f

/* ===================================================================== */
/* Row driver                                                             */
/* ===================================================================== */

/* sum over pairs [j0, j1) against interleaved x (xp) */
typedef float (*gather_dot_fn)(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, const float *xp);
/* the same against x split into xa (first of each pair) and xb (second);
 * xp is the interleaved x, for the table path */
typedef float (*arith_dot_fn)(const hc_paper_decoder *d, const arith_tab *a, uint64_t j0, uint64_t j1,
                              const float *xa, const float *xb, const float *xp);

/* ---- linear path (paper.h) ----------------------------------------------- */
/* The corrections of one row's tile that lie in one 2^16-pair block of the
 * list: entries [k, kend), entry k being pair jb + offset[k]. A tile spans
 * at most two blocks (COL_TILE / 2 < 2^16 pairs). */
typedef struct fix_run {
    uint64_t k, kend; /* list entries                                    */
    uint64_t jb;      /* the block's first pair                           */
    uintptr_t xb;     /* address of the x pair of offset 0 (jb): the pair */
                      /* of entry k is at xb + 8 offset[k]               */
} fix_run;

/* The fast pass over pairs [j0, j0 + np) against U, Z (sum of col*U + r*Z),
 * and alongside it the first entries of `carry`, the previous row's
 * corrections: their sum is added to *fix and carry->k advanced past them
 * (the rest are left to fix_rest). grp: the level's cache of unpack
 * constants per start bit offset. */
typedef double (*linear_fast_fn)(const hc_paper_decoder *d, void *grp, uint64_t j0, uint64_t np, const float *U,
                                 const float *Z, fix_run *carry, double *fix);
static double fix_rest(const hc_paper_decoder *d, fix_run *run);

typedef struct level_kernels {
    gather_dot_fn gather;
    arith_dot_fn arith;  /* NULL: table path only                   */
    uint32_t arith_bands; /* arith takes C+1 <= this                 */
    linear_fast_fn linear_fast; /* NULL: no linear path            */
} level_kernels;

/* First of entries [lo, hi) whose offset is >= key (hi if none). A row's
 * tile holds about 5% of its pairs, so a scan four at a time, whose loads do
 * not wait on each other, ends sooner than a binary search: that one's
 * chain of dependent loads held up the next row's pass (docs/RESULTS.md). */
static uint64_t first_at_or_after(const uint16_t *off, uint64_t lo, uint64_t hi, uint32_t key) {
    while (lo + 4 <= hi && off[lo + 3] < key) lo += 4;
    while (lo < hi && off[lo] < key) lo++;
    return lo;
}

/* The runs of pairs [j0, j0 + np) against x interleaved from pair j0 (xt);
 * *e: in, the first entry whose pair is >= j0; out, the first past j0 + np.
 * Returns the number of runs (1, or 2 when the tile crosses a block). */
static int tile_runs(const hc_paper_linear *l, uint64_t j0, uint64_t np, const float *xt, uint64_t *e,
                     fix_run run[2]) {
    const uint64_t j1 = j0 + np;
    uint64_t k = *e;
    int nrun = 0;
    for (uint64_t b = j0 >> HC_PAPER_FIX_BLOCK_BITS; b <= (j1 - 1) >> HC_PAPER_FIX_BLOCK_BITS; b++) {
        const uint64_t jb = b << HC_PAPER_FIX_BLOCK_BITS, end = l->block_start[b + 1];
        if (nrun) k = l->block_start[b];
        const uint64_t key = j1 - jb; /* up to 2^16: then the whole block */
        const uint64_t kend = first_at_or_after(l->offset, k, end - k > np ? k + np : end, (uint32_t)key);
        run[nrun++] = (fix_run){k, kend, jb, (uintptr_t)xt - (uintptr_t)(8 * (j0 - jb))};
        k = kend;
    }
    *e = k;
    return nrun;
}

/* The first entry whose pair is >= j0, given e, an entry at or before it
 * (where the row's previous tile in this tile's column ended): a scan
 * within j0's block, or a binary search from the block's start when e lies
 * in an earlier block. For rows of several tiles, in place of a binary
 * search per row: its mispredicted branches took about 8% of the paper
 * products' time in a paper-llm generation profile. */
static uint64_t next_start(const hc_paper_linear *l, uint64_t e, uint64_t j0) {
    const uint64_t b = j0 >> HC_PAPER_FIX_BLOCK_BITS;
    if (e < l->block_start[b]) return hc_paper_linear_find(l, j0);
    return first_at_or_after(l->offset, e, l->block_start[b + 1], (uint32_t)(j0 - (b << HC_PAPER_FIX_BLOCK_BITS)));
}

/* Rows [row0, rv) by the linear scheme (cols even, list built): per tile,
 * U, Z and the constant part once; per row the fast pass, which carries the
 * previous row's corrections. Those read an index and x at random places
 * and run mostly on the load and integer units, the fast pass on the vector
 * ones, so interleaved they overlap (either change alone gains nothing:
 * docs/RESULTS.md). A row whose corrections cross a block, or whose indices
 * reach the end of the payload (the kernels read 8 bytes per index), has
 * them done after its own pass instead. Sums stay in double until the row
 * is complete. */
static void linear_rows(const hc_paper_decoder *d, uint64_t cols, uint64_t row0, uint64_t rv, const float *x,
                        float *y, const level_kernels *kn, void *grp) {
    /* 64-byte aligned: a 64-byte load then stays in one cache line
     * (unaligned, each AVX-512 group split both U/Z loads: about 5% of the
     * in-cache product) */
    _Alignas(64) float U[COL_TILE / 2];
    _Alignas(64) float Z[COL_TILE / 2];
    for (uint64_t c0 = 0; c0 < cols; c0 += COL_TILE) {
        const uint64_t np = (cols - c0 < COL_TILE ? cols - c0 : COL_TILE) / 2;
        double base;
        hc_paper_linear_tile(&d->lin, x + c0, np, U, Z, &base);
        uint64_t e = hc_paper_linear_find(&d->lin, (row0 * cols + c0) / 2);
        fix_run carry = {0, 0, 0, 0}; /* row r - 1's corrections, if not done */
        double pending = 0;           /* row r - 1's sum so far              */
        for (uint64_t r = row0; r < rv; r++) {
            const uint64_t j0 = (r * cols + c0) / 2;
            if (2 * np < cols && r > row0) e = next_start(&d->lin, e, j0);
            double fix = 0;
            const double fast = kn->linear_fast(d, grp, j0, np, U, Z, &carry, &fix);
            if (r > row0) y[r - 1 - row0] += (float)(pending + fix + fix_rest(d, &carry));
            fix_run run[2];
            const int nrun = tile_runs(&d->lin, j0, np, x + c0, &e, run);
            pending = base + fast;
            if (nrun == 1 && j0 + np <= d->fast_pairs)
                carry = run[0];
            else
                for (int i = 0; i < nrun; i++) pending += fix_rest(d, &run[i]);
        }
        y[rv - 1 - row0] += (float)(pending + fix_rest(d, &carry));
    }
}

/* The entries of a run not yet done, one at a time. */
static double fix_rest(const hc_paper_decoder *d, fix_run *run) {
    const hc_paper_linear *l = &d->lin;
    float s0 = 0, s1 = 0;
    for (; run->k < run->kend; run->k++) {
        const uint64_t o = l->offset[run->k];
        const float *c = l->corr + 2 * (size_t)pair_index(d, run->jb + o);
        const float *xp = (const float *)(run->xb + 8 * o);
        s0 += c[0] * xp[0];
        s1 += c[1] * xp[1];
    }
    return (double)(s0 + s1);
}

/* Rows [row0, row1) one tile of x at a time: each tile is split (per start
 * parity) once and serves every row; rows' partial sums add up in y. */
static void rows_product(const hc_paper_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                         float *y, const level_kernels *kn, void *grp) {
    const uint64_t rows = cols ? d->base.n / cols : 0;
    const uint64_t rv = row1 < rows ? row1 : rows; /* rows [row0, rv) have weights */
    for (uint64_t r = row0; r < row1; r++) y[r - row0] = 0;
    if (row0 >= rv) return;
    if (d->has_linear && !(cols & 1) && kn->linear_fast) {
        linear_rows(d, cols, row0, rv, x, y, kn, grp);
        return;
    }
    arith_tab at;
    const int arith = kn->arith && arith_setup(d, kn->arith_bands, &at);
    const float *tab = d->table;
    float xa[2][COL_TILE / 2], xb[2][COL_TILE / 2]; /* per parity of the tile's first element */
    for (uint64_t c0 = 0; c0 < cols; c0 += COL_TILE) {
        const uint64_t k = cols - c0 < COL_TILE ? cols - c0 : COL_TILE;
        const float *xt = x + c0;
        int split[2] = {0, 0};
        for (uint64_t r = row0; r < rv; r++) {
            uint64_t e = r * cols + c0, cnt = k;
            const int par = (int)(e & 1);
            float lone = 0;
            if (par) {
                lone = tab[2 * (size_t)pair_index(d, e >> 1) + 1] * xt[0];
                e++;
                cnt--;
            }
            const uint64_t j0 = e >> 1, np = cnt >> 1;
            float s = 0;
            if (np && arith) {
                if (!split[par]) {
                    for (uint64_t i = 0; i < np; i++) {
                        xa[par][i] = xt[par + 2 * i];
                        xb[par][i] = xt[par + 2 * i + 1];
                    }
                    split[par] = 1;
                }
                s = kn->arith(d, &at, j0, j0 + np, xa[par], xb[par], xt + par);
            } else if (np) {
                s = kn->gather(d, j0, j0 + np, xt + par);
            }
            if (cnt & 1) lone += tab[2 * (size_t)pair_index(d, j0 + np)] * xt[par + cnt - 1];
            y[r - row0] += s + lone;
        }
    }
}

/* ===================================================================== */
/* AVX2 + FMA: 8 pairs per group                                          */
/* ===================================================================== */
/* The group's indices 0..3 lie in the 16 bytes from byte 0 and indices 4..7
 * in the 16 bytes from byte b4 = (bo + 4u) / 8 (each span is at most 13
 * bytes for u <= 22); the two loads fill the two 128-bit halves, and an
 * in-half byte shuffle moves each index's 4 bytes into its dword. A group
 * reads at most 32 bytes from its start. */
#define AVX2_REACH 32

typedef struct group8 {
    __m256i shuf, shift, mask, magic;
    uint32_t b4; /* byte offset of the second half's load */
} group8;

/* magic: OR'ed into each index (0, or FLOAT_MAGIC for the float form) */
__attribute__((target("avx2,fma"))) static void group8_init(group8 *g, uint32_t bo, uint32_t u, uint32_t mask,
                                                            uint32_t magic) {
    uint8_t ctrl[32];
    uint32_t shift[8], unused;
    index_place(bo, u, 4, &g->b4, &unused);
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t b, s;
        index_place(bo, u, k, &b, &s);
        const uint32_t base = k < 4 ? 0 : g->b4;
        shift[k] = s;
        for (uint32_t i = 0; i < 4; i++) ctrl[4 * k + i] = (uint8_t)(b - base + i);
    }
    g->shuf = _mm256_loadu_si256((const __m256i *)(const void *)ctrl);
    g->shift = _mm256_loadu_si256((const __m256i *)(const void *)shift);
    g->mask = _mm256_set1_epi32((int)mask);
    g->magic = _mm256_set1_epi32((int)magic);
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256i unpack8(const group8 *g, const uint8_t *q) {
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(q + g->b4));
    __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    __m256i v = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(raw, g->shuf), g->shift), g->mask);
    return _mm256_or_si256(v, g->magic);
}

__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- table path: two gathers of 4 (x, y) pairs per group ---------------- */
__attribute__((target("avx2,fma"), always_inline)) static inline void fma8(const double *tab, __m256i v,
                                                                          const float *xq, __m256 *a0, __m256 *a1) {
    __m256d t0 = _mm256_i32gather_pd(tab, _mm256_castsi256_si128(v), 8);
    __m256d t1 = _mm256_i32gather_pd(tab, _mm256_extracti128_si256(v, 1), 8);
    *a0 = _mm256_fmadd_ps(_mm256_castpd_ps(t0), _mm256_loadu_ps(xq), *a0);
    *a1 = _mm256_fmadd_ps(_mm256_castpd_ps(t1), _mm256_loadu_ps(xq + 8), *a1);
}

__attribute__((target("avx2,fma"))) static float gather_dot_avx2(const hc_paper_decoder *d, uint64_t j0, uint64_t j1,
                                                                const float *xp) {
    const uint32_t u = d->u;
    const uint64_t ng = safe_groups(d, j0, j1, 8, AVX2_REACH);
    const float tail = pairs_dot_scalar(d, j0 + 8 * ng, j1, xp + 16 * ng);
    if (ng == 0) return tail;
    group8 g;
    group8_init(&g, (uint32_t)((j0 * u) & 7), u, d->mask, 0);
    const double *tab = (const double *)(const void *)d->table;
    const uint8_t *q = d->payload + ((j0 * u) >> 3);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t k = 0;
    for (; k + 2 <= ng; k += 2, q += 2 * (size_t)u, xp += 32) {
        __m256i v0 = unpack8(&g, q), v1 = unpack8(&g, q + u);
        fma8(tab, v0, xp, &a0, &a1);
        fma8(tab, v1, xp + 16, &a2, &a3);
    }
    if (k < ng) fma8(tab, unpack8(&g, q), xp, &a0, &a1);
    return hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail;
}

/* ---- arithmetic path ------------------------------------------------------ */
typedef struct arith8 {
    __m256 grow, one, sx, x0c, h, y0c, np1, inv_np1, m, inv_m, t_p0, cx, cy, magic1;
} arith8;

/* One group: vm holds FLOAT_MAGIC | v per lane; adds the x weights times xa
 * to acc_a and the y weights times xb to acc_b. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
arith8_group(const arith8 *c, __m256i vm, const float *xa, const float *xb, __m256 *acc_a, __m256 *acc_b,
             const int banded) {
    __m256 t = _mm256_sub_ps(_mm256_castsi256_ps(vm), c->magic1); /* w = v - 1 */
    __m256 g = c->one;
    if (banded) {
        const __m256 band = _mm256_floor_ps(_mm256_mul_ps(t, c->inv_np1));
        t = _mm256_fnmadd_ps(band, c->np1, t);
        g = _mm256_permutevar8x32_ps(c->grow, _mm256_cvttps_epi32(band));
    }
    const __m256 r = _mm256_fnmadd_ps(_mm256_floor_ps(_mm256_mul_ps(t, c->inv_m)), c->m, t);
    g = _mm256_andnot_ps(_mm256_cmp_ps(t, c->t_p0, _CMP_EQ_OQ), g); /* P_0 lanes: weight c */
    const __m256 wx = _mm256_fmadd_ps(g, _mm256_fmadd_ps(t, c->sx, c->x0c), c->cx);
    const __m256 wy = _mm256_fmadd_ps(g, _mm256_fmadd_ps(r, c->h, c->y0c), c->cy);
    *acc_a = _mm256_fmadd_ps(wx, _mm256_loadu_ps(xa), *acc_a);
    *acc_b = _mm256_fmadd_ps(wy, _mm256_loadu_ps(xb), *acc_b);
}

__attribute__((target("avx2,fma"), always_inline)) static inline float
arith_run_avx2(const hc_paper_decoder *d, const arith_tab *a, uint64_t j0, uint64_t j1, const float *xa,
               const float *xb, const float *xp, const int banded) {
    const uint32_t u = d->u;
    const uint64_t ng = safe_groups(d, j0, j1, 8, AVX2_REACH);
    if (ng == 0) return pairs_dot_scalar(d, j0, j1, xp);
    group8 g;
    group8_init(&g, (uint32_t)((j0 * u) & 7), u, d->mask, FLOAT_MAGIC);
    arith8 c;
    c.grow = _mm256_loadu_ps(a->grow), c.one = _mm256_set1_ps(1.0f);
    c.sx = _mm256_set1_ps(a->sx), c.x0c = _mm256_set1_ps(a->x0c);
    c.h = _mm256_set1_ps(a->h), c.y0c = _mm256_set1_ps(a->y0c);
    c.np1 = _mm256_set1_ps(a->np1), c.inv_np1 = _mm256_set1_ps(a->inv_np1);
    c.m = _mm256_set1_ps(a->m), c.inv_m = _mm256_set1_ps(a->inv_m), c.t_p0 = _mm256_set1_ps(a->t_p0);
    c.cx = _mm256_set1_ps(a->cx), c.cy = _mm256_set1_ps(a->cy), c.magic1 = _mm256_set1_ps(FLOAT_MAGIC_PLUS_1);
    const uint8_t *q = d->payload + ((j0 * u) >> 3);
    __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0;
    __m256i vmax = _mm256_setzero_si256();
    uint64_t k = 0;
    for (; k + 2 <= ng; k += 2, q += 2 * (size_t)u) {
        const __m256i v0 = unpack8(&g, q), v1 = unpack8(&g, q + u);
        vmax = _mm256_max_epu32(vmax, _mm256_max_epu32(v0, v1));
        arith8_group(&c, v0, xa + 8 * k, xb + 8 * k, &a0, &b0, banded);
        arith8_group(&c, v1, xa + 8 * k + 8, xb + 8 * k + 8, &a1, &b1, banded);
    }
    if (k < ng) {
        const __m256i v0 = unpack8(&g, q);
        vmax = _mm256_max_epu32(vmax, v0);
        arith8_group(&c, v0, xa + 8 * k, xb + 8 * k, &a0, &b0, banded);
    }
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)(void *)lanes, vmax);
    for (int l = 0; l < 8; l++)
        if (lanes[l] >= (FLOAT_MAGIC | a->used)) return gather_dot_avx2(d, j0, j1, xp); /* NaN entries */
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1));
    return hsum8(sum) + pairs_dot_scalar(d, j0 + 8 * ng, j1, xp + 16 * ng);
}

__attribute__((target("avx2,fma"))) static float arith_dot_avx2(const hc_paper_decoder *d, const arith_tab *a,
                                                               uint64_t j0, uint64_t j1, const float *xa,
                                                               const float *xb, const float *xp) {
    return a->banded ? arith_run_avx2(d, a, j0, j1, xa, xb, xp, 1) : arith_run_avx2(d, a, j0, j1, xa, xb, xp, 0);
}

/* ---- linear path (paper.h) --------------------------------------------- */
/* Software prefetch of the index stream, 1 KB ahead into L1 and 8 KB ahead
 * into L2. The hardware prefetcher alone falls behind this loop when the
 * indices stream from memory (a working set past the last-level cache, as in
 * inference): without these the product runs at half its in-cache speed. The
 * raw float32 product, already at memory bandwidth, gains nothing from the
 * same (docs/RESULTS.md). */
#define PREFETCH_L1 1024
#define PREFETCH_L2 8192

typedef struct group8_cache {
    group8 g[8];      /* per start bit offset                    */
    uint8_t ready[8];
} group8_cache;

/* 8 bytes at address a: two floats */
__attribute__((target("avx2,fma"), always_inline)) static inline __m128 load_pair(uintptr_t a) {
    return _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)a));
}

/* acc + corr[v] . (x pair) for the run's entry of offset o: its index read
 * again from the payload (one 8-byte load: the run ends before fast_pairs),
 * then two 8-byte loads into one 2-lane FMA. The AVX-512 level uses it too. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m128 fix_fma(const hc_paper_decoder *d,
                                                                                const fix_run *run, uint32_t o,
                                                                                __m128 acc) {
    const uint32_t v = hc_bitpack_get_fast(d->payload, (run->jb + o) * d->u, d->mask);
    return _mm_fmadd_ps(load_pair((uintptr_t)d->lin.corr + 8 * (uintptr_t)v), load_pair(run->xb + 8 * (uintptr_t)o),
                        acc);
}

/* lane 0 + lane 1 */
__attribute__((target("avx2,fma"), always_inline)) static inline double pair_sum(__m128 a) {
    return (double)(_mm_cvtss_f32(a) + _mm_cvtss_f32(_mm_movehdup_ps(a)));
}

/* col = floor(t / m) (exact: hc_paper_divisor_inv), r = t - col m */
__attribute__((target("avx2,fma"), always_inline)) static inline void
linear8_group(__m256i vm, __m256 magic1, __m256 inv_m, __m256 m, const float *U, const float *Z, __m256 *acc_u,
              __m256 *acc_z) {
    const __m256 t = _mm256_sub_ps(_mm256_castsi256_ps(vm), magic1); /* v - 1 */
    const __m256 col = _mm256_floor_ps(_mm256_mul_ps(t, inv_m));
    const __m256 r = _mm256_fnmadd_ps(col, m, t);
    *acc_u = _mm256_fmadd_ps(col, _mm256_loadu_ps(U), *acc_u);
    *acc_z = _mm256_fmadd_ps(r, _mm256_loadu_ps(Z), *acc_z);
}

/* One correction of the carried row per 16 pairs: about 5% of pairs are
 * listed, so most rows' corrections end within the pass. */
__attribute__((target("avx2,fma"))) static double linear_fast_avx2(const hc_paper_decoder *d, void *grp, uint64_t j0,
                                                                  uint64_t np, const float *U, const float *Z,
                                                                  fix_run *carry, double *fix) {
    const uint32_t u = d->u;
    const uint64_t ng = safe_groups(d, j0, j0 + np, 8, AVX2_REACH);
    const double tail = hc_paper_linear_fast_ref(d, j0 + 8 * ng, np - 8 * ng, U + 8 * ng, Z + 8 * ng);
    if (ng == 0) return tail;
    group8_cache *cache = grp;
    const uint32_t bo = (uint32_t)((j0 * u) & 7);
    if (!cache->ready[bo]) group8_init(&cache->g[bo], bo, u, d->mask, FLOAT_MAGIC), cache->ready[bo] = 1;
    const group8 g = cache->g[bo];
    const __m256 magic1 = _mm256_set1_ps(FLOAT_MAGIC_PLUS_1), inv_m = _mm256_set1_ps(d->lin.inv_m),
                 m = _mm256_set1_ps(d->lin.m);
    const uint8_t *q = d->payload + ((j0 * u) >> 3);
    const uint16_t *off = d->lin.offset;
    fix_run run = *carry;
    __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0;
    __m128 f0 = _mm_setzero_ps(), f1 = f0;
    uint64_t i = 0;
#define LINEAR8_STEP()                                                                                         \
    do {                                                                                                       \
        _mm_prefetch((const char *)q + PREFETCH_L1, _MM_HINT_T0);                                              \
        _mm_prefetch((const char *)q + PREFETCH_L2, _MM_HINT_T1);                                              \
        linear8_group(unpack8(&g, q), magic1, inv_m, m, U + i, Z + i, &a0, &b0);                               \
        linear8_group(unpack8(&g, q + u), magic1, inv_m, m, U + i + 8, Z + i + 8, &a1, &b1);                   \
    } while (0)
    for (; i + 16 <= 8 * ng && run.k < run.kend; i += 16, q += 2 * (size_t)u, run.k++) {
        LINEAR8_STEP();
        const __m128 f = fix_fma(d, &run, off[run.k], f0); /* two sums, taken in turn */
        f0 = f1;
        f1 = f;
    }
    for (; i + 16 <= 8 * ng; i += 16, q += 2 * (size_t)u) LINEAR8_STEP();
#undef LINEAR8_STEP
    if (i < 8 * ng) linear8_group(unpack8(&g, q), magic1, inv_m, m, U + i, Z + i, &a0, &b0);
    carry->k = run.k;
    *fix += pair_sum(_mm_add_ps(f0, f1));
    return (double)hsum8(_mm256_add_ps(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1))) + tail;
}

static void matvec_avx2(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                        float *y) {
    static const level_kernels kn = {gather_dot_avx2, arith_dot_avx2, 8, linear_fast_avx2};
    group8_cache grp;
    memset(grp.ready, 0, sizeof grp.ready);
    rows_product((const hc_paper_decoder *)base, cols, row0, row1, x, y, &kn, &grp);
}

/* ===================================================================== */
/* AVX-512 (F + BW): 16 pairs per group                                   */
/* ===================================================================== */
/* A group spans 2u <= 44 bytes; one 64-byte load holds it. 128-bit lane q
 * serves indices 4q..4q+3: a dword permute brings it the 16 bytes from
 * dword (byte of index 4q) / 4, which cover those indices' bytes (at most
 * 3 + 13 of them), then the in-lane byte shuffle, shift and mask as AVX2. */
#define AVX512_REACH 64

typedef struct group16 {
    __m512i perm, shuf, shift, mask, magic;
    __m512i bperm; /* perm and shuf as one byte permute (AVX-512 VBMI) */
} group16;

__attribute__((target("avx512f,avx512bw"))) static void group16_init(group16 *g, uint32_t bo, uint32_t u,
                                                                     uint32_t mask, uint32_t magic) {
    uint8_t ctrl[64], bctrl[64];
    uint32_t perm[16], shift[16];
    for (uint32_t q = 0; q < 4; q++) {
        uint32_t b_lane, s_lane;
        index_place(bo, u, 4 * q, &b_lane, &s_lane);
        const uint32_t dword = b_lane >> 2;
        for (uint32_t i = 0; i < 4; i++) perm[4 * q + i] = dword + i;
        for (uint32_t kk = 0; kk < 4; kk++) {
            uint32_t k = 4 * q + kk, b, s;
            index_place(bo, u, k, &b, &s);
            shift[k] = s;
            for (uint32_t i = 0; i < 4; i++) {
                ctrl[4 * k + i] = (uint8_t)(b - 4 * dword + i);
                bctrl[4 * k + i] = (uint8_t)(b + i);
            }
        }
    }
    g->bperm = _mm512_loadu_si512((const void *)bctrl);
    g->perm = _mm512_loadu_si512((const void *)perm);
    g->shuf = _mm512_loadu_si512((const void *)ctrl);
    g->shift = _mm512_loadu_si512((const void *)shift);
    g->mask = _mm512_set1_epi32((int)mask);
    g->magic = _mm512_set1_epi32((int)magic);
}

/* (v & mask) | magic in one ternary-logic op (truth table 0xEA) */
__attribute__((target("avx512f,avx512bw"), always_inline)) static inline __m512i unpack16(const group16 *g,
                                                                                         const uint8_t *q) {
    __m512i raw = _mm512_loadu_si512((const void *)q);
    __m512i v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(g->perm, raw), g->shuf);
    return _mm512_ternarylogic_epi32(_mm512_srlv_epi32(v, g->shift), g->mask, g->magic, 0xEA);
}

/* ---- table path ----------------------------------------------------------- */
__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void
fma16(const double *tab, __m512i v, const float *xq, __m512 *a0, __m512 *a1) {
    __m512d t0 = _mm512_i32gather_pd(_mm512_castsi512_si256(v), tab, 8);
    __m512d t1 = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(v, 1), tab, 8);
    *a0 = _mm512_fmadd_ps(_mm512_castpd_ps(t0), _mm512_loadu_ps(xq), *a0);
    *a1 = _mm512_fmadd_ps(_mm512_castpd_ps(t1), _mm512_loadu_ps(xq + 16), *a1);
}

__attribute__((target("avx512f,avx512bw"))) static float gather_dot_avx512(const hc_paper_decoder *d, uint64_t j0,
                                                                          uint64_t j1, const float *xp) {
    const uint32_t u = d->u;
    const uint64_t ng = safe_groups(d, j0, j1, 16, AVX512_REACH);
    const float tail = pairs_dot_scalar(d, j0 + 16 * ng, j1, xp + 32 * ng);
    if (ng == 0) return tail;
    group16 g;
    group16_init(&g, (uint32_t)((j0 * u) & 7), u, d->mask, 0);
    const double *tab = (const double *)(const void *)d->table;
    const uint8_t *q = d->payload + ((j0 * u) >> 3);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t k = 0;
    for (; k + 2 <= ng; k += 2, q += 4 * (size_t)u, xp += 64) {
        __m512i v0 = unpack16(&g, q), v1 = unpack16(&g, q + 2 * u);
        fma16(tab, v0, xp, &a0, &a1);
        fma16(tab, v1, xp + 32, &a2, &a3);
    }
    if (k < ng) fma16(tab, unpack16(&g, q), xp, &a0, &a1);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + tail;
}

/* ---- arithmetic path ------------------------------------------------------ */
typedef struct arith16 {
    __m512 grow, one, sx, x0c, h, y0c, np1, inv_np1, m, inv_m, t_p0, cx, cy, magic1;
} arith16;

#define FLOOR_MODE (_MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)

/* As arith8_group; P_0 lanes keep c through the FMA's lane mask. */
__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void
arith16_group(const arith16 *c, __m512i vm, const float *xa, const float *xb, __m512 *acc_a, __m512 *acc_b,
              const int banded) {
    __m512 t = _mm512_sub_ps(_mm512_castsi512_ps(vm), c->magic1); /* w = v - 1 */
    __m512 g = c->one;
    if (banded) {
        const __m512 band = _mm512_roundscale_ps(_mm512_mul_ps(t, c->inv_np1), FLOOR_MODE);
        t = _mm512_fnmadd_ps(band, c->np1, t);
        g = _mm512_permutexvar_ps(_mm512_cvttps_epi32(band), c->grow);
    }
    const __m512 r = _mm512_fnmadd_ps(_mm512_roundscale_ps(_mm512_mul_ps(t, c->inv_m), FLOOR_MODE), c->m, t);
    const __mmask16 not_p0 = _mm512_cmp_ps_mask(t, c->t_p0, _CMP_NEQ_OQ);
    const __m512 wx = _mm512_mask3_fmadd_ps(g, _mm512_fmadd_ps(t, c->sx, c->x0c), c->cx, not_p0);
    const __m512 wy = _mm512_mask3_fmadd_ps(g, _mm512_fmadd_ps(r, c->h, c->y0c), c->cy, not_p0);
    *acc_a = _mm512_fmadd_ps(wx, _mm512_loadu_ps(xa), *acc_a);
    *acc_b = _mm512_fmadd_ps(wy, _mm512_loadu_ps(xb), *acc_b);
}

__attribute__((target("avx512f,avx512bw"), always_inline)) static inline float
arith_run_avx512(const hc_paper_decoder *d, const arith_tab *a, uint64_t j0, uint64_t j1, const float *xa,
                 const float *xb, const float *xp, const int banded) {
    const uint32_t u = d->u;
    const uint64_t ng = safe_groups(d, j0, j1, 16, AVX512_REACH);
    if (ng == 0) return pairs_dot_scalar(d, j0, j1, xp);
    group16 g;
    group16_init(&g, (uint32_t)((j0 * u) & 7), u, d->mask, FLOAT_MAGIC);
    arith16 c;
    c.grow = _mm512_loadu_ps(a->grow), c.one = _mm512_set1_ps(1.0f);
    c.sx = _mm512_set1_ps(a->sx), c.x0c = _mm512_set1_ps(a->x0c);
    c.h = _mm512_set1_ps(a->h), c.y0c = _mm512_set1_ps(a->y0c);
    c.np1 = _mm512_set1_ps(a->np1), c.inv_np1 = _mm512_set1_ps(a->inv_np1);
    c.m = _mm512_set1_ps(a->m), c.inv_m = _mm512_set1_ps(a->inv_m), c.t_p0 = _mm512_set1_ps(a->t_p0);
    c.cx = _mm512_set1_ps(a->cx), c.cy = _mm512_set1_ps(a->cy), c.magic1 = _mm512_set1_ps(FLOAT_MAGIC_PLUS_1);
    const uint8_t *q = d->payload + ((j0 * u) >> 3);
    __m512 a0 = _mm512_setzero_ps(), b0 = a0, a1 = a0, b1 = a0;
    __m512i vmax = _mm512_setzero_si512();
    uint64_t k = 0;
    for (; k + 2 <= ng; k += 2, q += 4 * (size_t)u) {
        const __m512i v0 = unpack16(&g, q), v1 = unpack16(&g, q + 2 * u);
        vmax = _mm512_max_epu32(vmax, _mm512_max_epu32(v0, v1));
        arith16_group(&c, v0, xa + 16 * k, xb + 16 * k, &a0, &b0, banded);
        arith16_group(&c, v1, xa + 16 * k + 16, xb + 16 * k + 16, &a1, &b1, banded);
    }
    if (k < ng) {
        const __m512i v0 = unpack16(&g, q);
        vmax = _mm512_max_epu32(vmax, v0);
        arith16_group(&c, v0, xa + 16 * k, xb + 16 * k, &a0, &b0, banded);
    }
    if (_mm512_reduce_max_epu32(vmax) >= (FLOAT_MAGIC | a->used))
        return gather_dot_avx512(d, j0, j1, xp); /* NaN entries: the table decides */
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1));
    return _mm512_reduce_add_ps(sum) + pairs_dot_scalar(d, j0 + 16 * ng, j1, xp + 32 * ng);
}

__attribute__((target("avx512f,avx512bw"))) static float arith_dot_avx512(const hc_paper_decoder *d,
                                                                         const arith_tab *a, uint64_t j0,
                                                                         uint64_t j1, const float *xa,
                                                                         const float *xb, const float *xp) {
    return a->banded ? arith_run_avx512(d, a, j0, j1, xa, xb, xp, 1)
                     : arith_run_avx512(d, a, j0, j1, xa, xb, xp, 0);
}

/* ---- linear path (paper.h) --------------------------------------------- */
/* With VBMI one byte permute brings every index its 4 bytes (the group's
 * 2u + 1 <= 33 bytes lie in the 64 loaded). Without VBMI the level takes
 * the AVX2 linear kernel. For u <= 15 a group loads 32 bytes only: a load
 * then crosses a cache line half as often, which counts out of cache. */
typedef struct group16_cache {
    group16 g[8];     /* per start bit offset                    */
    uint8_t ready[8];
} group16_cache;

#define VBMI_TARGET "avx512f,avx512bw,avx512vbmi,fma"

/* narrow: u <= 15, so the group's 2u + 1 bytes fit a 32-byte load (the
 * permute reads only the low half) */
__attribute__((target(VBMI_TARGET), always_inline)) static inline __m512i
unpack16_vbmi(const group16 *g, const uint8_t *q, const int narrow) {
    const __m512i raw = narrow ? _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)q))
                               : _mm512_loadu_si512((const void *)q);
    __m512i v = _mm512_permutexvar_epi8(g->bperm, raw);
    return _mm512_ternarylogic_epi32(_mm512_srlv_epi32(v, g->shift), g->mask, g->magic, 0xEA);
}

__attribute__((target(VBMI_TARGET), always_inline)) static inline void
linear16_group(__m512i vm, __m512 magic1, __m512 inv_m, __m512 m, const float *U, const float *Z, __m512 *acc_u,
               __m512 *acc_z) {
    const __m512 t = _mm512_sub_ps(_mm512_castsi512_ps(vm), magic1); /* v - 1 */
    const __m512 col = _mm512_roundscale_ps(_mm512_mul_ps(t, inv_m), FLOOR_MODE);
    const __m512 r = _mm512_fnmadd_ps(col, m, t);
    *acc_u = _mm512_fmadd_ps(col, _mm512_loadu_ps(U), *acc_u);
    *acc_z = _mm512_fmadd_ps(r, _mm512_loadu_ps(Z), *acc_z);
}

/* Two corrections of the carried row per 32 pairs (as the AVX2 kernel). */
__attribute__((target(VBMI_TARGET), always_inline)) static inline double
linear_fast16(const hc_paper_decoder *d, void *grp, uint64_t j0, uint64_t np, const float *U, const float *Z,
              fix_run *carry, double *fix, const int narrow) {
    const uint32_t u = d->u;
    const uint64_t ng = safe_groups(d, j0, j0 + np, 16, AVX512_REACH);
    const double tail = hc_paper_linear_fast_ref(d, j0 + 16 * ng, np - 16 * ng, U + 16 * ng, Z + 16 * ng);
    if (ng == 0) return tail;
    group16_cache *cache = grp;
    const uint32_t bo = (uint32_t)((j0 * u) & 7);
    if (!cache->ready[bo]) group16_init(&cache->g[bo], bo, u, d->mask, FLOAT_MAGIC), cache->ready[bo] = 1;
    const group16 g = cache->g[bo];
    const __m512 magic1 = _mm512_set1_ps(FLOAT_MAGIC_PLUS_1), inv_m = _mm512_set1_ps(d->lin.inv_m),
                 m = _mm512_set1_ps(d->lin.m);
    const uint8_t *q = d->payload + ((j0 * u) >> 3);
    const uint16_t *off = d->lin.offset;
    fix_run run = *carry;
    __m512 a0 = _mm512_setzero_ps(), b0 = a0, a1 = a0, b1 = a0;
    __m128 f0 = _mm_setzero_ps(), f1 = f0;
    uint64_t i = 0;
#define LINEAR16_STEP()                                                                                        \
    do {                                                                                                       \
        _mm_prefetch((const char *)q + PREFETCH_L1, _MM_HINT_T0);                                              \
        _mm_prefetch((const char *)q + PREFETCH_L2, _MM_HINT_T1);                                              \
        linear16_group(unpack16_vbmi(&g, q, narrow), magic1, inv_m, m, U + i, Z + i, &a0, &b0);                \
        linear16_group(unpack16_vbmi(&g, q + 2 * u, narrow), magic1, inv_m, m, U + i + 16, Z + i + 16, &a1,    \
                       &b1);                                                                                   \
    } while (0)
    for (; i + 32 <= 16 * ng && run.k + 2 <= run.kend; i += 32, q += 4 * (size_t)u, run.k += 2) {
        LINEAR16_STEP();
        f0 = fix_fma(d, &run, off[run.k], f0);
        f1 = fix_fma(d, &run, off[run.k + 1], f1);
    }
    for (; i + 32 <= 16 * ng; i += 32, q += 4 * (size_t)u) LINEAR16_STEP();
#undef LINEAR16_STEP
    if (i < 16 * ng) linear16_group(unpack16_vbmi(&g, q, narrow), magic1, inv_m, m, U + i, Z + i, &a0, &b0);
    carry->k = run.k;
    *fix += pair_sum(_mm_add_ps(f0, f1));
    return (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1))) + tail;
}

__attribute__((target(VBMI_TARGET))) static double linear_fast_avx512(const hc_paper_decoder *d, void *grp,
                                                                    uint64_t j0, uint64_t np, const float *U,
                                                                    const float *Z, fix_run *carry, double *fix) {
    return d->u <= 15 ? linear_fast16(d, grp, j0, np, U, Z, carry, fix, 1)
                      : linear_fast16(d, grp, j0, np, U, Z, carry, fix, 0);
}

static void matvec_avx512(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                          float *y) {
    static const level_kernels kn = {gather_dot_avx512, arith_dot_avx512, 16, linear_fast_avx2};
    static const level_kernels kn_vbmi = {gather_dot_avx512, arith_dot_avx512, 16, linear_fast_avx512};
    if (hc_cpu_has_vbmi()) {
        group16_cache grp;
        memset(grp.ready, 0, sizeof grp.ready);
        rows_product((const hc_paper_decoder *)base, cols, row0, row1, x, y, &kn_vbmi, &grp);
    } else {
        group8_cache grp;
        memset(grp.ready, 0, sizeof grp.ready);
        rows_product((const hc_paper_decoder *)base, cols, row0, row1, x, y, &kn, &grp);
    }
}
#endif /* HC_PAPER_X86 */

/* ===================================================================== */
/* Dispatch                                                               */
/* ===================================================================== */

const char *hc_paper_simd_name(hc_paper_simd level) {
    switch (level) {
    case HC_PAPER_SIMD_REF: return "ref";
    case HC_PAPER_SIMD_AVX2: return "avx2";
    case HC_PAPER_SIMD_AVX512: return "avx512";
    }
    return "?";
}

int hc_paper_simd_supported(hc_paper_simd level) {
#if HC_PAPER_X86
    return hc_cpu_has((hc_simd)level);
#else
    return level == HC_PAPER_SIMD_REF;
#endif
}

hc_paper_matvec_fn hc_paper_matvec_for(hc_paper_simd level) {
    if (!hc_paper_simd_supported(level)) return NULL;
#if HC_PAPER_X86
    if (level == HC_PAPER_SIMD_AVX2) return matvec_avx2;
    if (level == HC_PAPER_SIMD_AVX512) return matvec_avx512;
#endif
    return hc_paper_matvec_ref;
}

/* The level in force (src/common/cpu.h). */
hc_paper_simd hc_paper_simd_selected(void) {
#if HC_PAPER_X86
    return (hc_paper_simd)hc_simd_level();
#else
    return HC_PAPER_SIMD_REF;
#endif
}

hc_paper_matvec_fn hc_paper_matvec_select(void) { return hc_paper_matvec_for(hc_paper_simd_selected()); }
