/* hlat_search_simd.c — the hlat block search with one SIMD lane per
 * (scale try, group) pair: a full block of B/K groups tried at up to 12
 * scale codes is B/K * 12 independent small problems (96 for B = 32, K = 4),
 * each solved exactly as group_search() in hlat_search.c does — target
 * through the inverse compander, Babai coefficients, the 2^K corners of the
 * basis cell decoded and compared — with the lanes in lock step over the
 * corners. Coordinates stay below 2^31, so this path needs m <= 30. */
#include "hlat.h"
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* Fills the lane inputs of a block: lane l = k * ng + g. */
static inline __attribute__((always_inline)) void lanes_fill(const hlat_enc_ctx *c, const float *w, uint32_t q0,
                                                             uint32_t nq, uint32_t lanes_padded) {
    const uint32_t K = c->K, ng = c->B / K, L = c->lanes_max;
    /* the block transposed once (coordinate-major), then repeated per scale */
    for (uint32_t d = 0; d < K; d++) {
        float *row = c->lane_w + (size_t)d * L;
        for (uint32_t g = 0; g < ng; g++) row[g] = w[g * K + d];
        for (uint32_t k = 1; k < nq; k++) memcpy(row + k * ng, row, sizeof(float) * ng);
        for (uint32_t l = nq * ng; l < lanes_padded; l++) row[l] = row[0]; /* padding lanes */
    }
    uint32_t l = 0;
    for (uint32_t k = 0; k < nq; k++) {
        float s = c->scale_tab[q0 + k], is = 1.0f / s;
        for (uint32_t g = 0; g < ng; g++, l++) {
            c->lane_s[l] = s;
            c->lane_inv_s[l] = is;
        }
    }
    for (; l < lanes_padded; l++) {
        c->lane_s[l] = c->lane_s[0];
        c->lane_inv_s[l] = c->lane_inv_s[0];
    }
}

/* Whether index t decodes every zero weight of the group to exactly 0 (the
 * lanes judge the dead zone on z(P0) + z(offset), the decoder on z(t)). */
static inline __attribute__((always_inline)) int zeros_kept(const hlat_enc_ctx *c, const float *w, uint32_t t,
                                                            float s) {
    for (uint32_t d = 0; d < c->K; d++)
        if (w[d] == 0 && hlat_recon(t * (c->p->g[d] << (32 - c->m)), s, c->dz, c->c1, c->c3, c->c5) != 0) return 0;
    return 1;
}

/* Picks the best scale try from the lane results and writes the block. */
static inline __attribute__((always_inline)) void lanes_finish(const hlat_enc_ctx *c, const float *w, uint32_t q0,
                                                               uint32_t nq, hlat_group_fn fallback,
                                                               hlat_block_result *out) {
    const uint32_t K = c->K, ng = c->B / K;
    double best = INFINITY;
    uint32_t bk = 0;
    float rec_fb[HLAT_KMAX];
    for (uint32_t k = 0; k < nq; k++) {
        double e = 0;
        for (uint32_t g = 0; g < ng && e < best; g++) {
            uint32_t l = k * ng + g;
            float le = c->lane_err[l];
            if (!(le < INFINITY) || (c->dz > 0 && !zeros_kept(c, w + g * K, (uint32_t)c->lane_t[l], c->lane_s[l]))) {
                /* no candidate valid, or the winner's exact decode loses a
                 * zero: the scalar search settles it as on the scalar path */
                uint32_t t;
                le = fallback(c, w + g * K, K, c->lane_s[l], &t, rec_fb);
                c->lane_err[l] = le;
                c->lane_t[l] = (int32_t)t;
            }
            e += le;
        }
        if (e < best) {
            best = e;
            bk = k;
        }
    }
    out->code = q0 + bk;
    out->err = best;
    float s = c->scale_tab[q0 + bk];
    for (uint32_t g = 0; g < ng; g++) {
        uint32_t l = bk * ng + g;
        uint32_t t = (uint32_t)c->lane_t[l];
        out->t[g] = t;
        for (uint32_t d = 0; d < K; d++) {
            uint32_t x32 = t * (c->p->g[d] << (32 - c->m));
            out->rec[g * K + d] = hlat_recon(x32, s, c->dz, c->c1, c->c3, c->c5);
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* full unrolling over the K coordinates keeps them in registers */
#if defined(__clang__)
#define HLAT_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define HLAT_UNROLL _Pragma("GCC unroll 8")
#else
#define HLAT_UNROLL
#endif

/* ===================================================================== */
/* AVX-512                                                                */
/* ===================================================================== */

/* K and the dead-zone switch are compile-time constants in the instances
 * below, so that the per-coordinate state stays in registers */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
lanes_run_avx512_t(const hlat_enc_ctx *c, uint32_t lanes, const uint32_t K, const int use_dz) {
    const uint32_t L = c->lanes_max;
    const __m512 scale_in = _mm512_set1_ps(c->scale_in);
    const __m512 top = _mm512_set1_ps((float)HLAT_ZINV_N - 0x1p-10f);
    const __m512 dz = _mm512_set1_ps(c->dz), half = _mm512_set1_ps(0.5f), zero = _mm512_setzero_ps();
    const __m512 c1 = _mm512_set1_ps(c->c1), c3 = _mm512_set1_ps(c->c3), c5 = _mm512_set1_ps(c->c5);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u), nvec = _mm512_set1_epi32((int)c->n);
    const __m512i halfn = _mm512_set1_epi32((int)(c->n / 2));
    const __m512 zunit = _mm512_set1_ps(c->zunit);
    for (uint32_t l0 = 0; l0 < lanes; l0 += 16) {
        __m512 wv[HLAT_KMAX], coef[HLAT_KMAX];
        __m512 s = _mm512_loadu_ps(c->lane_s + l0), is = _mm512_loadu_ps(c->lane_inv_s + l0);
        HLAT_UNROLL
        for (uint32_t j = 0; j < K; j++) coef[j] = zero;
        HLAT_UNROLL
        for (uint32_t d = 0; d < K; d++) {
            wv[d] = _mm512_loadu_ps(c->lane_w + d * L + l0);
            __m512 v = _mm512_mul_ps(wv[d], is);
            __m512i vi = _mm512_castps_si512(v);
            __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, vi));
            a = _mm512_min_ps(_mm512_mul_ps(a, scale_in), top);
            __m512i k = _mm512_cvttps_epi32(a);
            __m512 fr = _mm512_sub_ps(a, _mm512_cvtepi32_ps(k));
            __m512 z0 = _mm512_i32gather_ps(k, c->zinv, 4);
            __m512 z1 = _mm512_i32gather_ps(k, c->zinv + 1, 4);
            __m512 z = _mm512_add_ps(_mm512_fmadd_ps(fr, _mm512_sub_ps(z1, z0), z0), dz);
            z = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(z), _mm512_and_si512(sign, vi)));
            z = _mm512_mask_mov_ps(z, _mm512_cmp_ps_mask(v, zero, _CMP_EQ_OQ), zero);
            __m512 u = _mm512_fmadd_ps(z, half, half); /* J / n */
            HLAT_UNROLL
            for (uint32_t j = 0; j < K; j++) coef[j] = _mm512_fmadd_ps(u, _mm512_set1_ps(c->inv_u[d][j]), coef[j]);
        }
        /* cell corner P0 of the target, its z, the scale folded into the compander */
        __m512i p0[HLAT_KMAX];
        __m512 z0[HLAT_KMAX];
        HLAT_UNROLL
        for (uint32_t d = 0; d < K; d++) p0[d] = _mm512_setzero_si512();
        HLAT_UNROLL
        for (uint32_t j = 0; j < K; j++) {
            __m512i cf = _mm512_cvtps_epi32(_mm512_roundscale_ps(coef[j], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
            HLAT_UNROLL
            for (uint32_t d = 0; d < K; d++)
                p0[d] = _mm512_add_epi32(p0[d], _mm512_mullo_epi32(cf, _mm512_set1_epi32(c->basis32[j][d])));
        }
        HLAT_UNROLL
        for (uint32_t d = 0; d < K; d++)
            z0[d] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(p0[d], halfn)), zunit);
        __m512 s1 = _mm512_mul_ps(s, c1), s3 = _mm512_mul_ps(s, c3), s5 = _mm512_mul_ps(s, c5);
        __m512 best = _mm512_set1_ps(INFINITY);
        __m512i bt = _mm512_setzero_si512();
        for (uint32_t cm = 0; cm < (1u << K); cm++) {
            __m512 e = zero;
            __mmask16 ok = 0xFFFF;
            __m512i t = p0[0];
            HLAT_UNROLL
            for (uint32_t d = 0; d < K; d++) {
                __m512i P = _mm512_add_epi32(p0[d], _mm512_set1_epi32(c->box32[cm][d]));
                if (d == 0) t = P;
                ok &= _mm512_cmplt_epu32_mask(P, nvec);
                __m512 z = _mm512_add_ps(z0[d], _mm512_set1_ps(c->zbox[cm][d]));
                if (use_dz) {
                    __m512i zi = _mm512_castps_si512(z);
                    __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, zi));
                    __m512i cut = _mm512_castps_si512(_mm512_min_ps(a, dz));
                    z = _mm512_sub_ps(z, _mm512_castsi512_ps(_mm512_or_si512(cut, _mm512_and_si512(sign, zi))));
                }
                __m512 z2 = _mm512_mul_ps(z, z);
                __m512 r = _mm512_mul_ps(z, _mm512_fmadd_ps(z2, _mm512_fmadd_ps(z2, s5, s3), s1));
                if (use_dz) /* a zero weight must decode to exactly zero */
                    ok &= ~(_mm512_cmp_ps_mask(wv[d], zero, _CMP_EQ_OQ) & _mm512_cmp_ps_mask(r, zero, _CMP_NEQ_UQ));
                __m512 diff = _mm512_sub_ps(r, wv[d]);
                e = _mm512_fmadd_ps(diff, diff, e);
            }
            __mmask16 better = ok & _mm512_cmp_ps_mask(e, best, _CMP_LT_OQ);
            best = _mm512_mask_mov_ps(best, better, e);
            bt = _mm512_mask_mov_epi32(bt, better, t);
        }
        _mm512_storeu_ps(c->lane_err + l0, best);
        _mm512_storeu_si512(c->lane_t + l0, bt);
    }
}

#define HLAT_INSTANCES(run, c, lanes)                                                   \
    switch ((c)->K * 2 + ((c)->dz > 0)) {                                               \
    case 2: run(c, lanes, 1, 0); break;                                                 \
    case 3: run(c, lanes, 1, 1); break;                                                 \
    case 4: run(c, lanes, 2, 0); break;                                                 \
    case 5: run(c, lanes, 2, 1); break;                                                 \
    case 8: run(c, lanes, 4, 0); break;                                                 \
    case 9: run(c, lanes, 4, 1); break;                                                 \
    case 16: run(c, lanes, 8, 0); break;                                                \
    default: run(c, lanes, 8, 1); break;                                                \
    }

__attribute__((target("avx512f"))) static void lanes_run_avx512(const hlat_enc_ctx *c, uint32_t lanes) {
    HLAT_INSTANCES(lanes_run_avx512_t, c, lanes);
}

/* ===================================================================== */
/* AVX2                                                                   */
/* ===================================================================== */

__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
lanes_run_avx2_t(const hlat_enc_ctx *c, uint32_t lanes, const uint32_t K, const int use_dz) {
    const uint32_t L = c->lanes_max;
    const __m256 scale_in = _mm256_set1_ps(c->scale_in);
    const __m256 top = _mm256_set1_ps((float)HLAT_ZINV_N - 0x1p-10f);
    const __m256 dz = _mm256_set1_ps(c->dz), half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
    const __m256 c1 = _mm256_set1_ps(c->c1), c3 = _mm256_set1_ps(c->c3), c5 = _mm256_set1_ps(c->c5);
    const __m256 signf = _mm256_set1_ps(-0.0f);
    const __m256i nvec = _mm256_set1_epi32((int)c->n);
    const __m256i minus1 = _mm256_set1_epi32(-1);
    const __m256i halfn = _mm256_set1_epi32((int)(c->n / 2));
    const __m256 zunit = _mm256_set1_ps(c->zunit);
    for (uint32_t l0 = 0; l0 < lanes; l0 += 8) {
        __m256 wv[HLAT_KMAX], coef[HLAT_KMAX];
        __m256 s = _mm256_loadu_ps(c->lane_s + l0), is = _mm256_loadu_ps(c->lane_inv_s + l0);
        HLAT_UNROLL
        for (uint32_t j = 0; j < K; j++) coef[j] = zero;
        HLAT_UNROLL
        for (uint32_t d = 0; d < K; d++) {
            wv[d] = _mm256_loadu_ps(c->lane_w + d * L + l0);
            __m256 v = _mm256_mul_ps(wv[d], is);
            __m256 a = _mm256_min_ps(_mm256_mul_ps(_mm256_andnot_ps(signf, v), scale_in), top);
            __m256i k = _mm256_cvttps_epi32(a);
            __m256 fr = _mm256_sub_ps(a, _mm256_cvtepi32_ps(k));
            __m256 z0 = _mm256_i32gather_ps(c->zinv, k, 4);
            __m256 z1 = _mm256_i32gather_ps(c->zinv + 1, k, 4);
            __m256 z = _mm256_add_ps(_mm256_fmadd_ps(fr, _mm256_sub_ps(z1, z0), z0), dz);
            z = _mm256_or_ps(z, _mm256_and_ps(signf, v));
            z = _mm256_blendv_ps(z, zero, _mm256_cmp_ps(v, zero, _CMP_EQ_OQ));
            __m256 u = _mm256_fmadd_ps(z, half, half);
            HLAT_UNROLL
            for (uint32_t j = 0; j < K; j++) coef[j] = _mm256_fmadd_ps(u, _mm256_set1_ps(c->inv_u[d][j]), coef[j]);
        }
        __m256i p0[HLAT_KMAX];
        __m256 z0[HLAT_KMAX];
        HLAT_UNROLL
        for (uint32_t d = 0; d < K; d++) p0[d] = _mm256_setzero_si256();
        HLAT_UNROLL
        for (uint32_t j = 0; j < K; j++) {
            __m256i cf = _mm256_cvtps_epi32(_mm256_floor_ps(coef[j]));
            HLAT_UNROLL
            for (uint32_t d = 0; d < K; d++)
                p0[d] = _mm256_add_epi32(p0[d], _mm256_mullo_epi32(cf, _mm256_set1_epi32(c->basis32[j][d])));
        }
        HLAT_UNROLL
        for (uint32_t d = 0; d < K; d++)
            z0[d] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(p0[d], halfn)), zunit);
        __m256 s1 = _mm256_mul_ps(s, c1), s3 = _mm256_mul_ps(s, c3), s5 = _mm256_mul_ps(s, c5);
        __m256 best = _mm256_set1_ps(INFINITY);
        __m256i bt = _mm256_setzero_si256();
        for (uint32_t cm = 0; cm < (1u << K); cm++) {
            __m256 e = zero;
            __m256i ok = minus1, t = p0[0];
            HLAT_UNROLL
            for (uint32_t d = 0; d < K; d++) {
                __m256i P = _mm256_add_epi32(p0[d], _mm256_set1_epi32(c->box32[cm][d]));
                if (d == 0) t = P;
                ok = _mm256_and_si256(ok, _mm256_and_si256(_mm256_cmpgt_epi32(nvec, P), _mm256_cmpgt_epi32(P, minus1)));
                __m256 z = _mm256_add_ps(z0[d], _mm256_set1_ps(c->zbox[cm][d]));
                if (use_dz) {
                    __m256 a = _mm256_andnot_ps(signf, z);
                    __m256 cut = _mm256_min_ps(a, dz);
                    z = _mm256_sub_ps(z, _mm256_or_ps(cut, _mm256_and_ps(signf, z)));
                }
                __m256 z2 = _mm256_mul_ps(z, z);
                __m256 r = _mm256_mul_ps(z, _mm256_fmadd_ps(z2, _mm256_fmadd_ps(z2, s5, s3), s1));
                if (use_dz) {
                    __m256 bad = _mm256_and_ps(_mm256_cmp_ps(wv[d], zero, _CMP_EQ_OQ), _mm256_cmp_ps(r, zero, _CMP_NEQ_UQ));
                    ok = _mm256_andnot_si256(_mm256_castps_si256(bad), ok);
                }
                __m256 diff = _mm256_sub_ps(r, wv[d]);
                e = _mm256_fmadd_ps(diff, diff, e);
            }
            __m256 better = _mm256_and_ps(_mm256_castsi256_ps(ok), _mm256_cmp_ps(e, best, _CMP_LT_OQ));
            best = _mm256_blendv_ps(best, e, better);
            bt = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bt), _mm256_castsi256_ps(t), better));
        }
        _mm256_storeu_ps(c->lane_err + l0, best);
        _mm256_storeu_si256((__m256i *)(c->lane_t + l0), bt);
    }
}

__attribute__((target("avx2,fma"))) static void lanes_run_avx2(const hlat_enc_ctx *c, uint32_t lanes) {
    HLAT_INSTANCES(lanes_run_avx2_t, c, lanes);
}

/* The whole block search per instruction set: lanes_fill and lanes_finish
 * are inlined so that their compander evaluations use FMA instructions. */
__attribute__((target("avx512f,fma"))) static void block_avx512(const hlat_enc_ctx *c, const float *w, uint32_t q0,
                                                                uint32_t nq, uint32_t padded, hlat_group_fn fallback,
                                                                hlat_block_result *out) {
    lanes_fill(c, w, q0, nq, padded);
    lanes_run_avx512(c, padded);
    lanes_finish(c, w, q0, nq, fallback, out);
}

__attribute__((target("avx2,fma"))) static void block_avx2(const hlat_enc_ctx *c, const float *w, uint32_t q0,
                                                            uint32_t nq, uint32_t padded, hlat_group_fn fallback,
                                                            hlat_block_result *out) {
    lanes_fill(c, w, q0, nq, padded);
    lanes_run_avx2(c, padded);
    lanes_finish(c, w, q0, nq, fallback, out);
}
#endif

int hlat_block_search_simd(const hlat_enc_ctx *c, const float *w, uint32_t q0, uint32_t nq, hlat_group_fn fallback,
                           hlat_block_result *out) {
#if defined(__x86_64__) || defined(__i386__)
    if (!c->simd_ok || nq == 0 || (c->K != 1 && c->K != 2 && c->K != 4 && c->K != 8)) return 0;
    uint32_t lanes = nq * (c->B / c->K);
    if (c->isa == HLAT_ISA_AVX512) {
        uint32_t padded = (lanes + 15) & ~15u;
        if (padded > c->lanes_max) return 0;
        block_avx512(c, w, q0, nq, padded, fallback, out);
        return 1;
    }
    if (c->isa == HLAT_ISA_AVX2) {
        uint32_t padded = (lanes + 7) & ~7u;
        if (padded > c->lanes_max) return 0;
        block_avx2(c, w, q0, nq, padded, fallback, out);
        return 1;
    }
    return 0;
#else
    (void)c; (void)w; (void)q0; (void)nq; (void)fallback; (void)out;
    return 0;
#endif
}
