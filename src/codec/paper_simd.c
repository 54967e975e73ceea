/* paper_simd.c — fused decode-and-multiply row products for the paper codec:
 * AVX2+FMA and AVX-512 kernels beside the plain-C reference in paper.c, one
 * of them chosen per process from the CPU's features (HYPERC_SIMD=ref|avx2|
 * avx512 can force a lower level).
 *
 * A row's weights are a run of pairs, plus a lone element at each end that
 * falls mid-pair when cols is odd. The kernels take pairs G at a time (G = 8
 * for AVX2, 16 for AVX-512): G indices of u bits span exactly G*u/8 bytes,
 * so every group of a run starts at the same bit offset within its first
 * byte, and the byte shuffle that gives each index its own 32-bit lane, and
 * the per-lane shifts, are constants per run. Each index then fetches its
 * (x, y) float pair from the decode table with one 64-bit gather lane, which
 * lines up with two consecutive entries of x, and an FMA accumulates.
 *
 * Working set: the table (64 KB at u = 13) and a tile of x (COL_TILE floats,
 * 16 KB) stay in L1/L2 while the packed indices stream from memory. */
#include "paper.h"
#include "bitpack.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HC_PAPER_X86 1
#else
#define HC_PAPER_X86 0
#endif

#define ROW_BLOCK 8   /* rows that share one tile of x                       */
#define COL_TILE 4096 /* columns per tile of x; even, so only a row's start   */
                      /* decides whether a tile begins mid-pair               */

/* ===================================================================== */
/* Scalar pieces shared by every level                                    */
/* ===================================================================== */

static inline uint32_t pair_index(const hc_paper_decoder *d, uint64_t j) {
    if (j < d->fast_pairs) return hc_bitpack_get_fast(d->payload, j * d->u, d->mask);
    return hc_bitpack_get(d->payload, d->payload_len, j, d->u);
}

/* sum over pairs j in [j0, j1) of table(j) . (xp[2(j-j0)], xp[2(j-j0)+1]) */
typedef float (*pairs_dot_fn)(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, const float *xp);

static float pairs_dot_scalar(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, const float *xp) {
    float s0 = 0, s1 = 0;
    for (uint64_t j = j0; j < j1; j++, xp += 2) {
        const float *t = d->table + 2 * (size_t)pair_index(d, j);
        s0 += t[0] * xp[0];
        s1 += t[1] * xp[1];
    }
    return s0 + s1;
}

/* sum over i < count of W[e + i] * x[i]: the lone halves of pairs at an odd
 * start or end scalar, the whole pairs in between by `dot`. */
static double span_dot(const hc_paper_decoder *d, uint64_t e, uint64_t count, const float *x, pairs_dot_fn dot) {
    float lone = 0;
    if (count && (e & 1)) {
        lone = d->table[2 * (size_t)pair_index(d, e >> 1) + 1] * x[0];
        e++;
        x++;
        count--;
    }
    const uint64_t j0 = e >> 1, np = count >> 1;
    double s = np ? (double)dot(d, j0, j0 + np, x) : 0.0;
    if (count & 1) lone += d->table[2 * (size_t)pair_index(d, j0 + np)] * x[count - 1];
    return s + (double)lone;
}

/* Rows [row0, row1) in blocks of ROW_BLOCK; within a block x is walked in
 * tiles of COL_TILE columns, each tile's partial sums kept in double. */
static void rows_product(const hc_paper_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                         float *y, pairs_dot_fn dot) {
    const uint64_t rows = cols ? d->base.n / cols : 0;
    for (uint64_t rb = row0; rb < row1; rb += ROW_BLOCK) {
        const uint64_t re = row1 - rb < ROW_BLOCK ? row1 : rb + ROW_BLOCK;
        const uint64_t rv = re < rows ? re : (rb < rows ? rows : rb); /* rows with weights */
        double acc[ROW_BLOCK] = {0};
        for (uint64_t c0 = 0; c0 < cols; c0 += COL_TILE) {
            const uint64_t k = cols - c0 < COL_TILE ? cols - c0 : COL_TILE;
            for (uint64_t r = rb; r < rv; r++) acc[r - rb] += span_dot(d, r * cols + c0, k, x + c0, dot);
        }
        for (uint64_t r = rb; r < re; r++) y[r - row0] = (float)acc[r - rb]; /* rows past the tensor: 0 */
    }
}

/* ===================================================================== */
/* Group layout: where each of G indices sits relative to its group       */
/* ===================================================================== */
/* Index k of a group whose first index starts at bit `bo` (0..7) of byte 0
 * starts at bit s = bo + k u: its bytes begin at s / 8 and it sits s % 8
 * bits up from there. With u <= 22, s % 8 + u <= 29 bits fit one 32-bit
 * lane. */
static inline void index_place(uint32_t bo, uint32_t u, uint32_t k, uint32_t *byte, uint32_t *shift) {
    uint32_t s = bo + k * u;
    *byte = s >> 3;
    *shift = s & 7;
}

#if HC_PAPER_X86
/* ===================================================================== */
/* AVX2 + FMA: 8 pairs per group                                          */
/* ===================================================================== */
/* The group's indices 0..3 lie in the 16 bytes from byte 0 and indices 4..7
 * in the 16 bytes from byte b4 = (bo + 4u) / 8 (each span is at most 13
 * bytes for u <= 22); the two loads fill the two 128-bit halves, and an
 * in-half byte shuffle moves each index's 4 bytes into its dword. A group
 * reads at most 32 bytes from its start. */

__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

typedef struct group8 {
    __m256i shuf, shift, mask;
    uint32_t b4; /* byte offset of the second half's load */
} group8;

__attribute__((target("avx2,fma"), always_inline)) static inline __m256i unpack8(const group8 *g, const uint8_t *q) {
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(q + g->b4));
    __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    __m256i v = _mm256_shuffle_epi8(raw, g->shuf);
    return _mm256_and_si256(_mm256_srlv_epi32(v, g->shift), g->mask);
}

/* The 8 pairs of indices v times x[0..16): two gathers of 4 (x, y) pairs. */
__attribute__((target("avx2,fma"), always_inline)) static inline void fma8(const double *tab, __m256i v,
                                                                          const float *xq, __m256 *a0, __m256 *a1) {
    __m256d t0 = _mm256_i32gather_pd(tab, _mm256_castsi256_si128(v), 8);
    __m256d t1 = _mm256_i32gather_pd(tab, _mm256_extracti128_si256(v, 1), 8);
    *a0 = _mm256_fmadd_ps(_mm256_castpd_ps(t0), _mm256_loadu_ps(xq), *a0);
    *a1 = _mm256_fmadd_ps(_mm256_castpd_ps(t1), _mm256_loadu_ps(xq + 8), *a1);
}

__attribute__((target("avx2,fma"))) static float pairs_dot_avx2(const hc_paper_decoder *d, uint64_t j0, uint64_t j1,
                                                               const float *xp) {
    const uint32_t u = d->u;
    const uint64_t bit0 = j0 * u, byte0 = bit0 >> 3;
    const uint32_t bo = (uint32_t)(bit0 & 7);
    /* groups whose 32-byte reach stays inside the payload (byte0 < len as j0 < npairs) */
    const uint64_t avail = d->payload_len - byte0;
    uint64_t ng = (j1 - j0) / 8;
    const uint64_t ng_safe = avail >= 32 ? (avail - 32) / u + 1 : 0;
    if (ng > ng_safe) ng = ng_safe;
    float tail_sum = pairs_dot_scalar(d, j0 + 8 * ng, j1, xp + 16 * ng);
    if (ng == 0) return tail_sum;

    group8 g;
    uint8_t ctrl[32];
    uint32_t shift[8], b_first;
    index_place(bo, u, 4, &g.b4, &b_first);
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t b, s;
        index_place(bo, u, k, &b, &s);
        uint32_t base = k < 4 ? 0 : g.b4;
        shift[k] = s;
        for (uint32_t i = 0; i < 4; i++) ctrl[4 * k + i] = (uint8_t)(b - base + i);
    }
    g.shuf = _mm256_loadu_si256((const __m256i *)(const void *)ctrl);
    g.shift = _mm256_loadu_si256((const __m256i *)(const void *)shift);
    g.mask = _mm256_set1_epi32((int)d->mask);

    const double *tab = (const double *)(const void *)d->table;
    const uint8_t *q = d->payload + byte0;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t k = 0;
    for (; k + 2 <= ng; k += 2, q += 2 * (size_t)u, xp += 32) {
        __m256i v0 = unpack8(&g, q), v1 = unpack8(&g, q + u);
        fma8(tab, v0, xp, &a0, &a1);
        fma8(tab, v1, xp + 16, &a2, &a3);
    }
    if (k < ng) fma8(tab, unpack8(&g, q), xp, &a0, &a1);
    return hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail_sum;
}

static void matvec_avx2(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                        float *y) {
    rows_product((const hc_paper_decoder *)base, cols, row0, row1, x, y, pairs_dot_avx2);
}

/* ===================================================================== */
/* AVX-512 (F + BW): 16 pairs per group                                   */
/* ===================================================================== */
/* A group spans 2u <= 44 bytes; one 64-byte load holds it. 128-bit lane q
 * serves indices 4q..4q+3: a dword permute brings it the 16 bytes from
 * dword (byte of index 4q) / 4, which cover those indices' bytes (at most
 * 3 + 13 of them), then the in-lane byte shuffle, shift and mask as AVX2. */

typedef struct group16 {
    __m512i perm, shuf, shift, mask;
} group16;

__attribute__((target("avx512f,avx512bw"), always_inline)) static inline __m512i unpack16(const group16 *g,
                                                                                         const uint8_t *q) {
    __m512i raw = _mm512_loadu_si512((const void *)q);
    __m512i v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(g->perm, raw), g->shuf);
    return _mm512_and_si512(_mm512_srlv_epi32(v, g->shift), g->mask);
}

__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void
fma16(const double *tab, __m512i v, const float *xq, __m512 *a0, __m512 *a1) {
    __m512d t0 = _mm512_i32gather_pd(_mm512_castsi512_si256(v), tab, 8);
    __m512d t1 = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(v, 1), tab, 8);
    *a0 = _mm512_fmadd_ps(_mm512_castpd_ps(t0), _mm512_loadu_ps(xq), *a0);
    *a1 = _mm512_fmadd_ps(_mm512_castpd_ps(t1), _mm512_loadu_ps(xq + 16), *a1);
}

__attribute__((target("avx512f,avx512bw"))) static float pairs_dot_avx512(const hc_paper_decoder *d, uint64_t j0,
                                                                         uint64_t j1, const float *xp) {
    const uint32_t u = d->u;
    const uint64_t bit0 = j0 * u, byte0 = bit0 >> 3;
    const uint32_t bo = (uint32_t)(bit0 & 7);
    const uint64_t avail = d->payload_len - byte0;
    uint64_t ng = (j1 - j0) / 16;
    const uint64_t ng_safe = avail >= 64 ? (avail - 64) / (2 * (uint64_t)u) + 1 : 0;
    if (ng > ng_safe) ng = ng_safe;
    float tail_sum = pairs_dot_scalar(d, j0 + 16 * ng, j1, xp + 32 * ng);
    if (ng == 0) return tail_sum;

    group16 g;
    uint8_t ctrl[64];
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
            for (uint32_t i = 0; i < 4; i++) ctrl[4 * k + i] = (uint8_t)(b - 4 * dword + i);
        }
    }
    g.perm = _mm512_loadu_si512((const void *)perm);
    g.shuf = _mm512_loadu_si512((const void *)ctrl);
    g.shift = _mm512_loadu_si512((const void *)shift);
    g.mask = _mm512_set1_epi32((int)d->mask);

    const double *tab = (const double *)(const void *)d->table;
    const uint8_t *q = d->payload + byte0;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t k = 0;
    for (; k + 2 <= ng; k += 2, q += 4 * (size_t)u, xp += 64) {
        __m512i v0 = unpack16(&g, q), v1 = unpack16(&g, q + 2 * u);
        fma16(tab, v0, xp, &a0, &a1);
        fma16(tab, v1, xp + 32, &a2, &a3);
    }
    if (k < ng) fma16(tab, unpack16(&g, q), xp, &a0, &a1);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + tail_sum;
}

static void matvec_avx512(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                          float *y) {
    rows_product((const hc_paper_decoder *)base, cols, row0, row1, x, y, pairs_dot_avx512);
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
    __builtin_cpu_init();
    if (level == HC_PAPER_SIMD_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (level == HC_PAPER_SIMD_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
    return level == HC_PAPER_SIMD_REF;
}

hc_paper_matvec_fn hc_paper_matvec_for(hc_paper_simd level) {
    if (!hc_paper_simd_supported(level)) return NULL;
#if HC_PAPER_X86
    if (level == HC_PAPER_SIMD_AVX2) return matvec_avx2;
    if (level == HC_PAPER_SIMD_AVX512) return matvec_avx512;
#endif
    return hc_paper_matvec_ref;
}

static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static hc_paper_simd simd_level = HC_PAPER_SIMD_REF;

/* The best level this CPU runs, lowered to HYPERC_SIMD's if that names a
 * lower one (an unknown or higher value changes nothing). */
static void simd_pick(void) {
    hc_paper_simd best = HC_PAPER_SIMD_REF;
    if (hc_paper_simd_supported(HC_PAPER_SIMD_AVX512))
        best = HC_PAPER_SIMD_AVX512;
    else if (hc_paper_simd_supported(HC_PAPER_SIMD_AVX2))
        best = HC_PAPER_SIMD_AVX2;
    const char *want = getenv("HYPERC_SIMD");
    if (want)
        for (int l = HC_PAPER_SIMD_REF; l <= HC_PAPER_SIMD_AVX512; l++)
            if (strcmp(want, hc_paper_simd_name((hc_paper_simd)l)) == 0 && l < (int)best) best = (hc_paper_simd)l;
    simd_level = best;
}

hc_paper_simd hc_paper_simd_selected(void) {
    pthread_once(&simd_once, simd_pick);
    return simd_level;
}

hc_paper_matvec_fn hc_paper_matvec_select(void) { return hc_paper_matvec_for(hc_paper_simd_selected()); }
