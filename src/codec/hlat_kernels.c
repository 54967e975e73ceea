/* hlat_kernels.c — decoding and the fused matrix-vector product for hlat:
 * a plain-C reference and AVX2 / AVX-512 versions chosen at run time.
 *
 * The SIMD kernels work on runs of whole groups in tiles of TILE_GROUPS: the
 * group indices and per-group block scales of a tile are unpacked by scalar
 * code into small arrays (cache resident), then each vector of lanes takes
 * its group's index and scale by a permute, winds (one 32-bit multiply),
 * centres, compands and scales — and either stores (decode) or multiplies
 * into an accumulator with x (matvec), so weights never exist in memory in
 * float form during a product. Lanes follow hlat_recon operation by
 * operation, so every kernel decodes bit-identically. Group sizes that do
 * not divide the vector width (K = 3, 5, 6, 7) use the reference.
 *
 * For K = 4 (the default) with m <= 25 and blocks of whole 32-weight steps,
 * AVX-512 VBMI kernels skip the scalar unpacking: each step of 8 groups
 * unpacks from one 32-byte load by byte permutes and shifts, and the fused
 * product applies the block scale once per block (see "AVX-512 fused
 * product, K = 4"). Ragged row ends go to the tiled kernels. */
#include "hlat.h"
#include "../common/cpu.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define TILE_GROUPS 64

static inline uint64_t load_le64(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
#endif
}

static inline uint32_t group_index(const hlat_decoder *d, uint64_t g) {
    uint64_t pos = g * d->p.m;
    if (g < d->fast_groups) {
        uint64_t v = load_le64(d->idx + (pos >> 3)) >> (pos & 7);
        return (uint32_t)(v & ((2ull << (d->p.m - 1)) - 1));
    }
    return (uint32_t)hlat_get_bits(d->idx, d->idx_len, pos, d->p.m);
}

/* Unpacks groups [g0, g0 + cnt) into indices tt[] and block scales ss[].
 * The callers' arrays have 16 spare entries, zeroed once, so that vector
 * loads past a tile's end read defined values. */
static inline void unpack_tile(const hlat_decoder *d, uint64_t g0, uint32_t cnt, uint32_t *tt, float *ss) {
    const uint64_t per_block = d->p.block / d->p.K;
    uint64_t b = g0 / per_block, r = g0 % per_block;
    float s = hlat_block_scale(d, b);
    for (uint32_t j = 0; j < cnt; j++) {
        tt[j] = group_index(d, g0 + j);
        ss[j] = s;
        if (++r == per_block && j + 1 < cnt) {
            r = 0;
            s = hlat_block_scale(d, ++b);
        }
    }
}

/* ===================================================================== */
/* Reference                                                              */
/* ===================================================================== */

void hlat_decode_ref(const hc_decoder *base, uint64_t start, uint64_t count, float *out) {
    const hlat_decoder *d = (const hlat_decoder *)base;
    const hlat_params *p = &d->p;
    uint64_t i = start, end = start + count;
    while (i < end) {
        uint64_t g = i / p->K;
        uint32_t c = (uint32_t)(i % p->K);
        uint32_t t = group_index(d, g);
        float s = hlat_block_scale(d, i / p->block);
        for (; c < p->K && i < end; c++, i++)
            out[i - start] = hlat_recon(t * d->gshift[c], s, p->dead_zone, p->c1, p->c3, p->c5);
    }
}

void hlat_matvec_ref(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                     float *y) {
    float buf[256];
    for (uint64_t r = row0; r < row1; r++) {
        double acc = 0;
        for (uint64_t c0 = 0; c0 < cols; c0 += 256) {
            uint64_t k = cols - c0 < 256 ? cols - c0 : 256;
            hlat_decode_ref(base, r * cols + c0, k, buf);
            for (uint64_t c = 0; c < k; c++) acc += (double)buf[c] * x[c0 + c];
        }
        y[r - row0] = (float)acc;
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* ===================================================================== */
/* AVX2: 8 lanes                                                          */
/* ===================================================================== */

/* The dead zone, z - copysign(min(|z|, dz), z) in hlat_recon, as
 * z - clamp(z, -dz, dz): the same float (min, max and sign are exact; both
 * give +0 for z = -0), in three operations instead of five. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 shrink8(__m256 z, __m256 dz) {
    return _mm256_sub_ps(z, _mm256_min_ps(_mm256_max_ps(z, _mm256_sub_ps(_mm256_setzero_ps(), dz)), dz));
}

typedef struct lanes8 {
    __m256i pat, gmul;        /* lane -> group of the vector; g_i << (32-m) */
    __m256 c1, c3, c5, dz;
    int use_dz;
} lanes8;

__attribute__((target("avx2,fma"))) static inline lanes8 lanes8_init(const hlat_decoder *d) {
    lanes8 L;
    int32_t pat[8], gm[8];
    for (int l = 0; l < 8; l++) {
        pat[l] = l / (int)d->p.K;
        gm[l] = (int32_t)d->gshift[l % d->p.K];
    }
    L.pat = _mm256_loadu_si256((const __m256i *)pat);
    L.gmul = _mm256_loadu_si256((const __m256i *)gm);
    L.c1 = _mm256_set1_ps(d->p.c1);
    L.c3 = _mm256_set1_ps(d->p.c3);
    L.c5 = _mm256_set1_ps(d->p.c5);
    L.dz = _mm256_set1_ps(d->p.dead_zone);
    L.use_dz = d->p.dead_zone > 0;
    return L;
}

/* 8 weights from the groups starting at tt / ss (lane l: group l / K). */
__attribute__((target("avx2,fma"))) static inline __m256 lanes8_decode(const lanes8 *L, const uint32_t *tt,
                                                                        const float *ss) {
    __m256i t = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)tt), L->pat);
    __m256 s = _mm256_permutevar8x32_ps(_mm256_loadu_ps(ss), L->pat);
    __m256i x = _mm256_xor_si256(_mm256_mullo_epi32(t, L->gmul), _mm256_set1_epi32((int)0x80000000u));
    __m256 z = _mm256_mul_ps(_mm256_cvtepi32_ps(x), _mm256_set1_ps(0x1p-31f));
    if (L->use_dz) z = shrink8(z, L->dz);
    __m256 z2 = _mm256_mul_ps(z, z);
    __m256 p = _mm256_fmadd_ps(z2, _mm256_fmadd_ps(z2, L->c5, L->c3), L->c1);
    return _mm256_mul_ps(s, _mm256_mul_ps(z, p));
}

/* Decodes whole groups [g0, g0 + ng) to out (ng K floats). */
__attribute__((target("avx2,fma"))) static void groups_decode_avx2(const hlat_decoder *d, uint64_t g0, uint64_t ng,
                                                                    float *out) {
    const uint32_t K = d->p.K;
    lanes8 L = lanes8_init(d);
    uint32_t tt[TILE_GROUPS + 16] = {0};
    float ss[TILE_GROUPS + 16] = {0};
    while (ng > 0) {
        uint32_t cnt = ng < TILE_GROUPS ? (uint32_t)ng : TILE_GROUPS;
        unpack_tile(d, g0, cnt, tt, ss);
        uint32_t nw = cnt * K, j = 0;
        for (; j + 8 <= nw; j += 8) _mm256_storeu_ps(out + j, lanes8_decode(&L, tt + j / K, ss + j / K));
        if (j < nw) {
            float tmp[8];
            _mm256_storeu_ps(tmp, lanes8_decode(&L, tt + j / K, ss + j / K));
            memcpy(out + j, tmp, sizeof(float) * (nw - j));
        }
        out += nw;
        g0 += cnt;
        ng -= cnt;
    }
}

/* sum of decoded groups [g0, g0 + ng) times x[0 .. ng K) */
__attribute__((target("avx2,fma"))) static float groups_dot_avx2(const hlat_decoder *d, uint64_t g0, uint64_t ng,
                                                                   const float *x) {
    const uint32_t K = d->p.K;
    lanes8 L = lanes8_init(d);
    uint32_t tt[TILE_GROUPS + 16] = {0};
    float ss[TILE_GROUPS + 16] = {0};
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float tail = 0;
    while (ng > 0) {
        uint32_t cnt = ng < TILE_GROUPS ? (uint32_t)ng : TILE_GROUPS;
        unpack_tile(d, g0, cnt, tt, ss);
        uint32_t nw = cnt * K, j = 0;
        for (; j + 16 <= nw; j += 16) {
            acc0 = _mm256_fmadd_ps(lanes8_decode(&L, tt + j / K, ss + j / K), _mm256_loadu_ps(x + j), acc0);
            acc1 = _mm256_fmadd_ps(lanes8_decode(&L, tt + (j + 8) / K, ss + (j + 8) / K), _mm256_loadu_ps(x + j + 8),
                                   acc1);
        }
        for (; j < nw; j += 8) {
            float w8[8];
            _mm256_storeu_ps(w8, lanes8_decode(&L, tt + j / K, ss + j / K));
            for (uint32_t l = 0; l < 8 && j + l < nw; l++) tail += w8[l] * x[j + l];
        }
        x += nw;
        g0 += cnt;
        ng -= cnt;
    }
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h) + tail;
}

/* The AVX2 form of the K = 4 step product (see "AVX-512 fused product,
 * K = 4" for the folding): a vector holds 2 groups, each index read by one
 * 4-byte broadcast load at its byte and aligned by a variable shift. Steps
 * whose 4-byte loads could pass the stream's end are left to the caller. */
typedef struct fused8 {
    __m256i shift[4], gmul;       /* per vector of a step: bit offsets       */
    __m256 c1, c3, c5, dz;        /* folded coefficients, dz in y units       */
    uint32_t byte[8];             /* [8] byte of each group of a step          */
} fused8;

__attribute__((target("avx2,fma"))) static fused8 fused8_init(const hlat_decoder *d) {
    fused8 F;
    for (int v = 0; v < 4; v++) {
        int32_t sh[8];
        for (int l = 0; l < 8; l++) sh[l] = (int32_t)(((uint32_t)(2 * v + l / 4) * d->p.m) & 7);
        F.shift[v] = _mm256_loadu_si256((const __m256i *)sh);
    }
    for (uint32_t j = 0; j < 8; j++) F.byte[j] = (j * d->p.m) >> 3;
    int32_t gm[8];
    for (int l = 0; l < 8; l++) gm[l] = (int32_t)d->gshift[l % 4];
    F.gmul = _mm256_loadu_si256((const __m256i *)gm);
    F.c1 = _mm256_set1_ps(ldexpf(d->p.c1, 32));
    F.c3 = _mm256_set1_ps(ldexpf(d->p.c3, 32 - 62));
    F.c5 = _mm256_set1_ps(ldexpf(d->p.c5, 32 - 124));
    F.dz = _mm256_set1_ps(ldexpf(d->p.dead_zone, 31));
    return F;
}

static inline int32_t load_le32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)v;
}

/* sum of weights [32 u0, 32 u1) times x[0 .. 32 (u1 - u0)), scaled */
__attribute__((target("avx2,fma"), always_inline)) static inline float
steps_dot_k4_avx2(const hlat_decoder *d, const fused8 *F, uint64_t u0, uint64_t u1, const float *x, int use_dz) {
    const uint64_t steps_per_block = d->p.block / 32;
    const float unfold = 0x1p-63f;
    const __m256i centre = _mm256_set1_epi32((int)0x80000000u);
    uint64_t b = u0 / steps_per_block, left = (b + 1) * steps_per_block - u0;
    __m256 acc = _mm256_setzero_ps(), accb = _mm256_setzero_ps();
    for (uint64_t u = u0; u < u1; u++, x += 32) {
        const uint8_t *base = d->idx + u * d->p.m;
        for (int v = 0; v < 4; v++) {
            __m256i t = _mm256_set_m128i(_mm_set1_epi32(load_le32(base + F->byte[2 * v + 1])),
                                         _mm_set1_epi32(load_le32(base + F->byte[2 * v])));
            t = _mm256_srlv_epi32(t, F->shift[v]);
            __m256 y = _mm256_cvtepi32_ps(_mm256_xor_si256(_mm256_mullo_epi32(t, F->gmul), centre));
            if (use_dz) y = shrink8(y, F->dz);
            __m256 y2 = _mm256_mul_ps(y, y);
            __m256 p = _mm256_fmadd_ps(y2, _mm256_fmadd_ps(y2, F->c5, F->c3), F->c1);
            accb = _mm256_fmadd_ps(_mm256_mul_ps(y, p), _mm256_loadu_ps(x + 8 * v), accb);
        }
        if (--left == 0 || u + 1 == u1) {
            acc = _mm256_fmadd_ps(accb, _mm256_set1_ps(hlat_block_scale(d, b) * unfold), acc);
            accb = _mm256_setzero_ps();
            b++;
            left = steps_per_block;
        }
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* ===================================================================== */
/* AVX-512: 16 lanes                                                      */
/* ===================================================================== */

/* shrink8 on 16 lanes */
__attribute__((target("avx512f"), always_inline)) static inline __m512 shrink16(__m512 z, __m512 dz) {
    return _mm512_sub_ps(z, _mm512_min_ps(_mm512_max_ps(z, _mm512_sub_ps(_mm512_setzero_ps(), dz)), dz));
}

typedef struct lanes16 {
    __m512i pat, gmul;
    __m512 c1, c3, c5, dz;
    int use_dz;
} lanes16;

__attribute__((target("avx512f"))) static inline lanes16 lanes16_init(const hlat_decoder *d) {
    lanes16 L;
    int32_t pat[16], gm[16];
    for (int l = 0; l < 16; l++) {
        pat[l] = l / (int)d->p.K;
        gm[l] = (int32_t)d->gshift[l % d->p.K];
    }
    L.pat = _mm512_loadu_si512(pat);
    L.gmul = _mm512_loadu_si512(gm);
    L.c1 = _mm512_set1_ps(d->p.c1);
    L.c3 = _mm512_set1_ps(d->p.c3);
    L.c5 = _mm512_set1_ps(d->p.c5);
    L.dz = _mm512_set1_ps(d->p.dead_zone);
    L.use_dz = d->p.dead_zone > 0;
    return L;
}

__attribute__((target("avx512f"))) static inline __m512 lanes16_decode(const lanes16 *L, const uint32_t *tt,
                                                                        const float *ss) {
    __m512i t = _mm512_permutexvar_epi32(L->pat, _mm512_loadu_si512(tt));
    __m512 s = _mm512_permutexvar_ps(L->pat, _mm512_loadu_ps(ss));
    __m512i x = _mm512_xor_si512(_mm512_mullo_epi32(t, L->gmul), _mm512_set1_epi32((int)0x80000000u));
    __m512 z = _mm512_mul_ps(_mm512_cvtepi32_ps(x), _mm512_set1_ps(0x1p-31f));
    if (L->use_dz) z = shrink16(z, L->dz);
    __m512 z2 = _mm512_mul_ps(z, z);
    __m512 p = _mm512_fmadd_ps(z2, _mm512_fmadd_ps(z2, L->c5, L->c3), L->c1);
    return _mm512_mul_ps(s, _mm512_mul_ps(z, p));
}

__attribute__((target("avx512f"))) static void groups_decode_avx512(const hlat_decoder *d, uint64_t g0,
                                                                     uint64_t ng, float *out) {
    const uint32_t K = d->p.K;
    lanes16 L = lanes16_init(d);
    uint32_t tt[TILE_GROUPS + 16] = {0};
    float ss[TILE_GROUPS + 16] = {0};
    while (ng > 0) {
        uint32_t cnt = ng < TILE_GROUPS ? (uint32_t)ng : TILE_GROUPS;
        unpack_tile(d, g0, cnt, tt, ss);
        uint32_t nw = cnt * K, j = 0;
        for (; j + 16 <= nw; j += 16) _mm512_storeu_ps(out + j, lanes16_decode(&L, tt + j / K, ss + j / K));
        if (j < nw) {
            __mmask16 m = (__mmask16)((1u << (nw - j)) - 1);
            _mm512_mask_storeu_ps(out + j, m, lanes16_decode(&L, tt + j / K, ss + j / K));
        }
        out += nw;
        g0 += cnt;
        ng -= cnt;
    }
}

__attribute__((target("avx512f"))) static float groups_dot_avx512(const hlat_decoder *d, uint64_t g0, uint64_t ng,
                                                                   const float *x) {
    const uint32_t K = d->p.K;
    lanes16 L = lanes16_init(d);
    uint32_t tt[TILE_GROUPS + 16] = {0};
    float ss[TILE_GROUPS + 16] = {0};
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    while (ng > 0) {
        uint32_t cnt = ng < TILE_GROUPS ? (uint32_t)ng : TILE_GROUPS;
        unpack_tile(d, g0, cnt, tt, ss);
        uint32_t nw = cnt * K, j = 0;
        for (; j + 32 <= nw; j += 32) {
            acc0 = _mm512_fmadd_ps(lanes16_decode(&L, tt + j / K, ss + j / K), _mm512_loadu_ps(x + j), acc0);
            acc1 = _mm512_fmadd_ps(lanes16_decode(&L, tt + (j + 16) / K, ss + (j + 16) / K),
                                   _mm512_loadu_ps(x + j + 16), acc1);
        }
        for (; j < nw; j += 16) {
            __mmask16 m = (__mmask16)(nw - j >= 16 ? 0xFFFFu : (1u << (nw - j)) - 1);
            acc0 = _mm512_mask3_fmadd_ps(lanes16_decode(&L, tt + j / K, ss + j / K),
                                         _mm512_maskz_loadu_ps(m, x + j), acc0, m);
        }
        x += nw;
        g0 += cnt;
        ng -= cnt;
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* ===================================================================== */
/* AVX-512 fused product, K = 4: 8 groups (32 weights, m bytes) per step  */
/* ===================================================================== */

/* Every run of 8 groups starts on a byte, so one unaligned 32-byte load
 * holds a step's indices at fixed bit offsets: a byte permute (vpermb) puts
 * each group's 4 bytes in its K lanes, a variable shift aligns the index,
 * and the bits above it need no mask, as the multiply by g_i << (32 - m)
 * pushes them out of the 32-bit word. Centring (x32 ^ 2^31) is done on the
 * packed bytes: flipping bit m-1 of t adds 2^(m-1) g 2^(32-m) = 2^31 (mod
 * 2^32, g odd) to the product, so the flip may come before it. Powers of two are folded out of the
 * lanes: with y = 2^31 z (the integer as converted), z p(z^2) =
 * 2^-31-E y P(y^2) where P's coefficients are c1 2^E, c3 2^(E-62),
 * c5 2^(E-124); the factor 2^(-31-E) and the block scale are applied once
 * per block to the block's partial sum. E = 32 keeps every coefficient a
 * normal float and the partial sums far from overflow. Needs m <= 25 (index
 * plus offset within 32 bits) and whole steps per block (B % 32 == 0). */
#define FOLD_E 32

typedef struct fused16 {
    __m512i bytepat[2], shift[2], gmul;   /* per step half: lanes -> bytes, offsets */
    __m256i centre;                       /* bit m-1 of each of the 8 indices */
    __m512 c1, c3, c5, dz;                /* folded coefficients, dz in y units */
} fused16;

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static fused16 fused16_init(const hlat_decoder *d) {
    fused16 F;
    for (int h = 0; h < 2; h++) {
        uint8_t bp[64];
        int32_t sh[16];
        for (int l = 0; l < 16; l++) {
            uint32_t pos = (uint32_t)(4 * h + l / 4) * d->p.m;
            for (int b = 0; b < 4; b++) bp[4 * l + b] = (uint8_t)((pos >> 3) + (uint32_t)b);
            sh[l] = (int32_t)(pos & 7);
        }
        F.bytepat[h] = _mm512_loadu_si512(bp);
        F.shift[h] = _mm512_loadu_si512(sh);
    }
    uint8_t centre[32] = {0};
    for (uint32_t j = 0; j < 8; j++) {
        uint32_t bit = j * d->p.m + d->p.m - 1;
        centre[bit >> 3] = (uint8_t)(centre[bit >> 3] | (1u << (bit & 7)));
    }
    F.centre = _mm256_loadu_si256((const __m256i *)centre);
    int32_t gm[16];
    for (int l = 0; l < 16; l++) gm[l] = (int32_t)d->gshift[l % 4];
    F.gmul = _mm512_loadu_si512(gm);
    F.c1 = _mm512_set1_ps(ldexpf(d->p.c1, FOLD_E));
    F.c3 = _mm512_set1_ps(ldexpf(d->p.c3, FOLD_E - 62));
    F.c5 = _mm512_set1_ps(ldexpf(d->p.c5, FOLD_E - 124));
    F.dz = _mm512_set1_ps(ldexpf(d->p.dead_zone, 31));
    return F;
}

/* The 32 index bytes of step u, centred (see above). */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline __m512i
fused16_load(const hlat_decoder *d, const fused16 *F, uint64_t u) {
    uint64_t at = u * d->p.m;
    __m256i raw;
    if (at + 32 <= d->idx_len) {
        raw = _mm256_loadu_si256((const __m256i *)(d->idx + at));
    } else { /* the stream's last bytes: a masked load reads no further */
        uint64_t left = d->idx_len > at ? d->idx_len - at : 0;
        raw = _mm512_castsi512_si256(_mm512_maskz_loadu_epi8((__mmask64)((1ull << left) - 1), d->idx + at));
    }
    return _mm512_castsi256_si512(_mm256_xor_si256(raw, F->centre));
}

/* y = 2^31 z, as converted, for the 16 weights of one half of a step. */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline __m512
fused16_y(const fused16 *F, __m512i raw, int h) {
    __m512i t = _mm512_srlv_epi32(_mm512_permutexvar_epi8(F->bytepat[h], raw), F->shift[h]);
    return _mm512_cvtepi32_ps(_mm512_mullo_epi32(t, F->gmul));
}

/* y P(y^2) for the 16 weights of one half of a step (see above). */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline __m512
fused16_half(const fused16 *F, __m512i raw, int h, int use_dz) {
    __m512 y = fused16_y(F, raw, h);
    if (use_dz) y = shrink16(y, F->dz);
    __m512 y2 = _mm512_mul_ps(y, y);
    __m512 p = _mm512_fmadd_ps(y2, _mm512_fmadd_ps(y2, F->c5, F->c3), F->c1);
    return _mm512_mul_ps(y, p);
}

/* sum of weights [32 u0, 32 u1) times x[0 .. 32 (u1 - u0)) */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline float
steps_dot_k4(const hlat_decoder *d, const fused16 *F, uint64_t u0, uint64_t u1, const float *x, int use_dz) {
    const uint64_t steps_per_block = d->p.block / 32;
    const float unfold = ldexpf(1.0f, -31 - FOLD_E);
    __m512 acc = _mm512_setzero_ps();
    /* one flat loop (the block's partial sum closed when its last step is
     * done) keeps the step constants in registers */
    uint64_t b = u0 / steps_per_block, left = (b + 1) * steps_per_block - u0;
    __m512 accb = _mm512_setzero_ps();
    for (uint64_t u = u0; u < u1; u++, x += 32) {
        __m512i raw = fused16_load(d, F, u);
        accb = _mm512_fmadd_ps(fused16_half(F, raw, 0, use_dz), _mm512_loadu_ps(x), accb);
        accb = _mm512_fmadd_ps(fused16_half(F, raw, 1, use_dz), _mm512_loadu_ps(x + 16), accb);
        if (--left == 0 || u + 1 == u1) {
            acc = _mm512_fmadd_ps(accb, _mm512_set1_ps(hlat_block_scale(d, b) * unfold), acc);
            accb = _mm512_setzero_ps();
            b++;
            left = steps_per_block;
        }
    }
    return _mm512_reduce_add_ps(acc);
}

/* Decodes weights [32 u0, 32 u1) to out, operation for operation as
 * hlat_recon (the centring and the unpacking are exact integer steps). */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline void
steps_decode_k4(const hlat_decoder *d, uint64_t u0, uint64_t u1, float *out, int use_dz) {
    const fused16 F = fused16_init(d);
    const uint64_t steps_per_block = d->p.block / 32;
    const __m512 c1 = _mm512_set1_ps(d->p.c1), c3 = _mm512_set1_ps(d->p.c3), c5 = _mm512_set1_ps(d->p.c5);
    const __m512 dz = _mm512_set1_ps(d->p.dead_zone), unit = _mm512_set1_ps(0x1p-31f);
    uint64_t b = u0 / steps_per_block, left = (b + 1) * steps_per_block - u0;
    __m512 s = _mm512_set1_ps(hlat_block_scale(d, b));
    for (uint64_t u = u0; u < u1; u++, out += 32) { /* flat, as steps_dot_k4 */
        if (left-- == 0) {
            s = _mm512_set1_ps(hlat_block_scale(d, ++b));
            left = steps_per_block - 1;
        }
        __m512i raw = fused16_load(d, &F, u);
        for (int h = 0; h < 2; h++) {
            __m512 z = _mm512_mul_ps(fused16_y(&F, raw, h), unit);
            if (use_dz) z = shrink16(z, dz);
            __m512 z2 = _mm512_mul_ps(z, z);
            __m512 p = _mm512_fmadd_ps(z2, _mm512_fmadd_ps(z2, c5, c3), c1);
            _mm512_storeu_ps(out + 16 * h, _mm512_mul_ps(s, _mm512_mul_ps(z, p)));
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static void steps_decode_k4_plain(const hlat_decoder *d,
                                                                                          uint64_t u0, uint64_t u1,
                                                                                          float *out) {
    steps_decode_k4(d, u0, u1, out, 0);
}
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static void steps_decode_k4_dz(const hlat_decoder *d,
                                                                                       uint64_t u0, uint64_t u1,
                                                                                       float *out) {
    steps_decode_k4(d, u0, u1, out, 1);
}

#endif

/* ===================================================================== */
/* Range drivers: partial groups at the ends by the reference             */
/* ===================================================================== */

typedef void (*groups_decode_fn)(const hlat_decoder *, uint64_t, uint64_t, float *);
typedef float (*groups_dot_fn)(const hlat_decoder *, uint64_t, uint64_t, const float *);

static inline void decode_range(const hlat_decoder *d, uint64_t start, uint64_t count, float *out,
                                groups_decode_fn groups) {
    const uint32_t K = d->p.K;
    uint64_t head = (K - start % K) % K;
    if (head > count) head = count;
    if (head) hlat_decode_ref(&d->base, start, head, out);
    start += head;
    out += head;
    count -= head;
    uint64_t ng = count / K;
    if (ng) groups(d, start / K, ng, out);
    if (count % K) hlat_decode_ref(&d->base, start + ng * K, count % K, out + ng * K);
}

static inline float dot_range(const hlat_decoder *d, uint64_t start, uint64_t count, const float *x,
                              groups_dot_fn groups) {
    const uint32_t K = d->p.K;
    float buf[HLAT_KMAX], acc = 0;
    uint64_t head = (K - start % K) % K;
    if (head > count) head = count;
    if (head) {
        hlat_decode_ref(&d->base, start, head, buf);
        for (uint64_t i = 0; i < head; i++) acc += buf[i] * x[i];
    }
    start += head;
    x += head;
    count -= head;
    uint64_t ng = count / K;
    if (ng) acc += groups(d, start / K, ng, x);
    uint64_t rest = count % K;
    if (rest) {
        hlat_decode_ref(&d->base, start + ng * K, rest, buf);
        for (uint64_t i = 0; i < rest; i++) acc += buf[i] * x[ng * K + i];
    }
    return acc;
}

#if defined(__x86_64__) || defined(__i386__)
static void hlat_decode_avx2(const hc_decoder *b, uint64_t start, uint64_t count, float *out) {
    decode_range((const hlat_decoder *)b, start, count, out, groups_decode_avx2);
}
static void hlat_matvec_avx2(const hc_decoder *b, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                             float *y) {
    for (uint64_t r = row0; r < row1; r++)
        y[r - row0] = dot_range((const hlat_decoder *)b, r * cols, cols, x, groups_dot_avx2);
}
/* K = 4, whole steps per block: each row's steps by steps_dot_k4_avx2 as
 * far as the stream allows 4-byte loads, the rest by the tiled kernel. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
rows_dot_k4_avx2(const hlat_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y,
                 int use_dz) {
    const fused8 F = fused8_init(d);
    /* step u reads bytes [u m, u m + 32) at most */
    const uint64_t u_safe = d->idx_len >= 32 ? (d->idx_len - 32) / d->p.m + 1 : 0;
    for (uint64_t r = row0; r < row1; r++) {
        uint64_t s = r * cols, e = s + cols, u0 = (s + 31) / 32, u1 = e / 32;
        if (u1 > u_safe) u1 = u_safe;
        if (u1 <= u0) {
            y[r - row0] = dot_range(d, s, cols, x, groups_dot_avx2);
            continue;
        }
        float acc = steps_dot_k4_avx2(d, &F, u0, u1, x + (32 * u0 - s), use_dz);
        if (32 * u0 > s) acc += dot_range(d, s, 32 * u0 - s, x, groups_dot_avx2);
        if (e > 32 * u1) acc += dot_range(d, 32 * u1, e - 32 * u1, x + (32 * u1 - s), groups_dot_avx2);
        y[r - row0] = acc;
    }
}
__attribute__((target("avx2,fma"))) static void hlat_matvec_avx2_k4(const hc_decoder *b, uint64_t cols,
                                                                      uint64_t row0, uint64_t row1, const float *x,
                                                                      float *y) {
    const hlat_decoder *d = (const hlat_decoder *)b;
    if (d->p.dead_zone > 0)
        rows_dot_k4_avx2(d, cols, row0, row1, x, y, 1);
    else
        rows_dot_k4_avx2(d, cols, row0, row1, x, y, 0);
}
static void hlat_decode_avx512(const hc_decoder *b, uint64_t start, uint64_t count, float *out) {
    decode_range((const hlat_decoder *)b, start, count, out, groups_decode_avx512);
}
static void hlat_matvec_avx512(const hc_decoder *b, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                               float *y) {
    for (uint64_t r = row0; r < row1; r++)
        y[r - row0] = dot_range((const hlat_decoder *)b, r * cols, cols, x, groups_dot_avx512);
}
/* K = 4 with whole 32-weight steps per block: whole steps by the step
 * kernels, the ragged ends by the tiled ones. */
static void hlat_decode_avx512_k4(const hc_decoder *b, uint64_t start, uint64_t count, float *out) {
    const hlat_decoder *d = (const hlat_decoder *)b;
    uint64_t end = start + count, u0 = (start + 31) / 32, u1 = end / 32;
    if (u1 <= u0) {
        decode_range(d, start, count, out, groups_decode_avx512);
        return;
    }
    if (32 * u0 > start) decode_range(d, start, 32 * u0 - start, out, groups_decode_avx512);
    (d->p.dead_zone > 0 ? steps_decode_k4_dz : steps_decode_k4_plain)(d, u0, u1, out + (32 * u0 - start));
    if (end > 32 * u1) decode_range(d, 32 * u1, end - 32 * u1, out + (32 * u1 - start), groups_decode_avx512);
}
/* Same split for each row of the product (the step constants built once). */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline void
rows_dot_k4(const hlat_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y,
            int use_dz) {
    const fused16 F = fused16_init(d);
    for (uint64_t r = row0; r < row1; r++) {
        uint64_t s = r * cols, e = s + cols, u0 = (s + 31) / 32, u1 = e / 32;
        if (u1 <= u0) {
            y[r - row0] = dot_range(d, s, cols, x, groups_dot_avx512);
            continue;
        }
        float acc = steps_dot_k4(d, &F, u0, u1, x + (32 * u0 - s), use_dz);
        if (32 * u0 > s) acc += dot_range(d, s, 32 * u0 - s, x, groups_dot_avx512);
        if (e > 32 * u1) acc += dot_range(d, 32 * u1, e - 32 * u1, x + (32 * u1 - s), groups_dot_avx512);
        y[r - row0] = acc;
    }
}
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static void
hlat_matvec_avx512_k4(const hc_decoder *b, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y) {
    const hlat_decoder *d = (const hlat_decoder *)b;
    if (d->p.dead_zone > 0)
        rows_dot_k4(d, cols, row0, row1, x, y, 1);
    else
        rows_dot_k4(d, cols, row0, row1, x, y, 0);
}
#endif

const char *hlat_select_kernels(hlat_decoder *d, const char *force) {
    return hlat_kernels_at(hc_simd_level(), d, force);
}

const char *hlat_kernels_at(hc_simd level, hlat_decoder *d, const char *force) {
    d->base.decode = hlat_decode_ref;
    d->base.matvec = hlat_matvec_ref;
    const char *name = "ref";
    hlat_q16_prepare(d);
#if defined(__x86_64__) || defined(__i386__)
    int k_ok = d->p.K == 1 || d->p.K == 2 || d->p.K == 4 || d->p.K == 8;
    int want_ref = force && strcmp(force, "ref") == 0;
    /* "avx2f": the AVX2 float kernels without the q16 product (A/B timing) */
    int want_avx2f = force && strcmp(force, "avx2f") == 0;
    /* "avx2s": the q16 product by its general step loop only (A/B timing, tests) */
    int want_avx2s = force && strcmp(force, "avx2s") == 0;
    int want_avx2 = force && (strcmp(force, "avx2") == 0 || want_avx2f || want_avx2s);
    int has512 = level >= HC_SIMD_AVX512;
    int has2 = level >= HC_SIMD_AVX2;
    if (k_ok && !want_ref && has512 && !want_avx2) {
        d->base.decode = hlat_decode_avx512;
        d->base.matvec = hlat_matvec_avx512;
        name = "avx512";
        if (d->p.K == 4 && d->p.m <= 25 && d->p.block % 32 == 0 && hc_cpu_has_vbmi())
        {
            d->base.decode = hlat_decode_avx512_k4;
            d->base.matvec = hlat_matvec_avx512_k4;
        }
    } else if (k_ok && !want_ref && has2) {
        d->base.decode = hlat_decode_avx2;
        d->base.matvec = hlat_matvec_avx2;
        name = "avx2";
        if (d->p.K == 4 && d->p.m <= 25 && d->p.block % 32 == 0) d->base.matvec = hlat_matvec_avx2_k4;
        if (want_avx2f) {
            name = "avx2f";
        } else if (d->q16.ok) {
            d->q16.fallback = d->base.matvec;
            d->base.matvec = hlat_matvec_q16_avx2;
            d->q16.no_b32 = want_avx2s;
            if (want_avx2s) name = "avx2s";
        }
    }
#endif
    /* "q16ref": the plain-C form of the q16 product (tests) */
    if (force && strcmp(force, "q16ref") == 0) {
        d->base.decode = hlat_decode_ref;
        d->base.matvec = hlat_matvec_ref;
        name = "q16ref";
        if (d->q16.ok) {
            d->q16.fallback = hlat_matvec_ref;
            d->base.matvec = hlat_matvec_q16_ref;
        }
    }
    /* the default kernels: small tensors multiply their kept decoded weights */
    if (!force) hlat_small_install(level, d);
    return name;
}
