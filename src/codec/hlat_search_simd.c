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
static void lanes_fill(const hlat_enc_ctx *c, const float *w, uint32_t q0, uint32_t nq, uint32_t lanes_padded) {
    const uint32_t K = c->K, ng = c->B / K, L = c->lanes_max;
    uint32_t l = 0;
    for (uint32_t k = 0; k < nq; k++) {
        float s = c->scale_tab[q0 + k], is = 1.0f / s;
        for (uint32_t g = 0; g < ng; g++, l++) {
            for (uint32_t d = 0; d < K; d++) c->lane_w[d * L + l] = w[g * K + d];
            c->lane_s[l] = s;
            c->lane_inv_s[l] = is;
        }
    }
    for (; l < lanes_padded; l++) { /* padding lanes repeat lane 0 */
        for (uint32_t d = 0; d < K; d++) c->lane_w[d * L + l] = c->lane_w[d * L];
        c->lane_s[l] = c->lane_s[0];
        c->lane_inv_s[l] = c->lane_inv_s[0];
    }
}

/* Picks the best scale try from the lane results and writes the block. */
static void lanes_finish(const hlat_enc_ctx *c, const float *w, uint32_t q0, uint32_t nq, hlat_group_fn fallback,
                         hlat_block_result *out) {
    const uint32_t K = c->K, ng = c->B / K;
    double best = INFINITY;
    uint32_t bk = 0;
    uint32_t t_fb[HLAT_BLOCK_MAX];
    float rec_fb[HLAT_KMAX];
    for (uint32_t k = 0; k < nq; k++) {
        double e = 0;
        for (uint32_t g = 0; g < ng && e < best; g++) {
            uint32_t l = k * ng + g;
            float le = c->lane_err[l];
            if (!(le < INFINITY)) { /* no corner valid: the scalar fallback */
                le = fallback(c, w + g * K, K, c->lane_s[l], &t_fb[l], rec_fb);
                c->lane_err[l] = le;
                c->lane_mask[l] = -1;
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
        uint32_t t = c->lane_mask[l] < 0 ? t_fb[l] : (uint32_t)(c->lane_p0[l] + c->box32[c->lane_mask[l]][0]);
        out->t[g] = t;
        for (uint32_t d = 0; d < K; d++) {
            uint32_t x32 = t * (c->p->g[d] << (32 - c->m));
            out->rec[g * K + d] = hlat_recon(x32, s, c->dz, c->c1, c->c3, c->c5);
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* ===================================================================== */
/* AVX-512                                                                */
/* ===================================================================== */

__attribute__((target("avx512f"))) static void lanes_run_avx512(const hlat_enc_ctx *c, uint32_t lanes) {
    const uint32_t K = c->K, L = c->lanes_max, ncorner = 1u << K;
    const __m512 scale_in = _mm512_set1_ps((float)(HLAT_ZINV_N / c->vmax));
    const __m512 top = _mm512_set1_ps((float)HLAT_ZINV_N - 0x1p-10f);
    const __m512 dz = _mm512_set1_ps(c->dz), half = _mm512_set1_ps(0.5f), zero = _mm512_setzero_ps();
    const __m512 c1 = _mm512_set1_ps(c->c1), c3 = _mm512_set1_ps(c->c3), c5 = _mm512_set1_ps(c->c5);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u), nvec = _mm512_set1_epi32((int)c->n);
    const __m128i shift = _mm_cvtsi32_si128((int)(32 - c->m));
    const int use_dz = c->dz > 0;
    for (uint32_t l0 = 0; l0 < lanes; l0 += 16) {
        __m512 wv[HLAT_KMAX], coef[HLAT_KMAX];
        __m512i p0[HLAT_KMAX];
        __m512 s = _mm512_loadu_ps(c->lane_s + l0), is = _mm512_loadu_ps(c->lane_inv_s + l0);
        for (uint32_t j = 0; j < K; j++) coef[j] = zero;
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
            for (uint32_t j = 0; j < K; j++) coef[j] = _mm512_fmadd_ps(u, _mm512_set1_ps(c->inv_u[d][j]), coef[j]);
        }
        __m512i cf[HLAT_KMAX];
        for (uint32_t j = 0; j < K; j++)
            cf[j] = _mm512_cvtps_epi32(_mm512_roundscale_ps(coef[j], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
        for (uint32_t d = 0; d < K; d++) {
            __m512i acc = _mm512_setzero_si512();
            for (uint32_t j = 0; j < K; j++)
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(cf[j], _mm512_set1_epi32(c->basis32[j][d])));
            p0[d] = acc;
        }
        __m512 best = _mm512_set1_ps(INFINITY);
        __m512i bmask = _mm512_setzero_si512();
        for (uint32_t cm = 0; cm < ncorner; cm++) {
            __m512 e = zero;
            __mmask16 ok = 0xFFFF;
            for (uint32_t d = 0; d < K; d++) {
                __m512i P = _mm512_add_epi32(p0[d], _mm512_set1_epi32(c->box32[cm][d]));
                ok &= _mm512_cmplt_epu32_mask(P, nvec);
                __m512i x = _mm512_xor_si512(_mm512_sll_epi32(P, shift), sign);
                __m512 z = _mm512_mul_ps(_mm512_cvtepi32_ps(x), _mm512_set1_ps(0x1p-31f));
                if (use_dz) {
                    __m512i zi = _mm512_castps_si512(z);
                    __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, zi));
                    __m512i cut = _mm512_castps_si512(_mm512_min_ps(a, dz));
                    z = _mm512_sub_ps(z, _mm512_castsi512_ps(_mm512_or_si512(cut, _mm512_and_si512(sign, zi))));
                }
                __m512 z2 = _mm512_mul_ps(z, z);
                __m512 p = _mm512_fmadd_ps(z2, _mm512_fmadd_ps(z2, c5, c3), c1);
                __m512 r = _mm512_mul_ps(s, _mm512_mul_ps(z, p));
                if (use_dz) /* a zero weight must decode to exactly zero */
                    ok &= ~(_mm512_cmp_ps_mask(wv[d], zero, _CMP_EQ_OQ) & _mm512_cmp_ps_mask(r, zero, _CMP_NEQ_UQ));
                __m512 diff = _mm512_sub_ps(r, wv[d]);
                e = _mm512_fmadd_ps(diff, diff, e);
            }
            __mmask16 better = ok & _mm512_cmp_ps_mask(e, best, _CMP_LT_OQ);
            best = _mm512_mask_mov_ps(best, better, e);
            bmask = _mm512_mask_mov_epi32(bmask, better, _mm512_set1_epi32((int)cm));
        }
        _mm512_storeu_ps(c->lane_err + l0, best);
        _mm512_storeu_si512(c->lane_mask + l0, bmask);
        _mm512_storeu_si512(c->lane_p0 + l0, p0[0]);
    }
}

/* ===================================================================== */
/* AVX2                                                                   */
/* ===================================================================== */

__attribute__((target("avx2,fma"))) static void lanes_run_avx2(const hlat_enc_ctx *c, uint32_t lanes) {
    const uint32_t K = c->K, L = c->lanes_max, ncorner = 1u << K;
    const __m256 scale_in = _mm256_set1_ps((float)(HLAT_ZINV_N / c->vmax));
    const __m256 top = _mm256_set1_ps((float)HLAT_ZINV_N - 0x1p-10f);
    const __m256 dz = _mm256_set1_ps(c->dz), half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
    const __m256 c1 = _mm256_set1_ps(c->c1), c3 = _mm256_set1_ps(c->c3), c5 = _mm256_set1_ps(c->c5);
    const __m256 signf = _mm256_set1_ps(-0.0f);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u), nvec = _mm256_set1_epi32((int)c->n);
    const __m256i minus1 = _mm256_set1_epi32(-1);
    const __m128i shift = _mm_cvtsi32_si128((int)(32 - c->m));
    const int use_dz = c->dz > 0;
    for (uint32_t l0 = 0; l0 < lanes; l0 += 8) {
        __m256 wv[HLAT_KMAX], coef[HLAT_KMAX];
        __m256i p0[HLAT_KMAX];
        __m256 s = _mm256_loadu_ps(c->lane_s + l0), is = _mm256_loadu_ps(c->lane_inv_s + l0);
        for (uint32_t j = 0; j < K; j++) coef[j] = zero;
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
            for (uint32_t j = 0; j < K; j++) coef[j] = _mm256_fmadd_ps(u, _mm256_set1_ps(c->inv_u[d][j]), coef[j]);
        }
        __m256i cf[HLAT_KMAX];
        for (uint32_t j = 0; j < K; j++) cf[j] = _mm256_cvtps_epi32(_mm256_floor_ps(coef[j]));
        for (uint32_t d = 0; d < K; d++) {
            __m256i acc = _mm256_setzero_si256();
            for (uint32_t j = 0; j < K; j++)
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(cf[j], _mm256_set1_epi32(c->basis32[j][d])));
            p0[d] = acc;
        }
        __m256 best = _mm256_set1_ps(INFINITY);
        __m256i bmask = _mm256_setzero_si256();
        for (uint32_t cm = 0; cm < ncorner; cm++) {
            __m256 e = zero;
            __m256i ok = minus1;
            for (uint32_t d = 0; d < K; d++) {
                __m256i P = _mm256_add_epi32(p0[d], _mm256_set1_epi32(c->box32[cm][d]));
                ok = _mm256_and_si256(ok, _mm256_and_si256(_mm256_cmpgt_epi32(nvec, P), _mm256_cmpgt_epi32(P, minus1)));
                __m256i x = _mm256_xor_si256(_mm256_sll_epi32(P, shift), sign);
                __m256 z = _mm256_mul_ps(_mm256_cvtepi32_ps(x), _mm256_set1_ps(0x1p-31f));
                if (use_dz) {
                    __m256 a = _mm256_andnot_ps(signf, z);
                    __m256 cut = _mm256_min_ps(a, dz);
                    z = _mm256_sub_ps(z, _mm256_or_ps(cut, _mm256_and_ps(signf, z)));
                }
                __m256 z2 = _mm256_mul_ps(z, z);
                __m256 p = _mm256_fmadd_ps(z2, _mm256_fmadd_ps(z2, c5, c3), c1);
                __m256 r = _mm256_mul_ps(s, _mm256_mul_ps(z, p));
                if (use_dz) {
                    __m256 bad = _mm256_and_ps(_mm256_cmp_ps(wv[d], zero, _CMP_EQ_OQ), _mm256_cmp_ps(r, zero, _CMP_NEQ_UQ));
                    ok = _mm256_andnot_si256(_mm256_castps_si256(bad), ok);
                }
                __m256 diff = _mm256_sub_ps(r, wv[d]);
                e = _mm256_fmadd_ps(diff, diff, e);
            }
            __m256 better = _mm256_and_ps(_mm256_castsi256_ps(ok), _mm256_cmp_ps(e, best, _CMP_LT_OQ));
            best = _mm256_blendv_ps(best, e, better);
            bmask = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(bmask), _mm256_castsi256_ps(_mm256_set1_epi32((int)cm)), better));
        }
        _mm256_storeu_ps(c->lane_err + l0, best);
        _mm256_storeu_si256((__m256i *)(c->lane_mask + l0), bmask);
        _mm256_storeu_si256((__m256i *)(c->lane_p0 + l0), p0[0]);
    }
}
#endif

int hlat_block_search_simd(const hlat_enc_ctx *c, const float *w, uint32_t q0, uint32_t nq, hlat_group_fn fallback,
                           hlat_block_result *out) {
#if defined(__x86_64__) || defined(__i386__)
    if (!c->simd_ok || nq == 0) return 0;
    uint32_t lanes = nq * (c->B / c->K);
    if (lanes > c->lanes_max) return 0;
    if (__builtin_cpu_supports("avx512f")) {
        uint32_t padded = (lanes + 15) & ~15u;
        if (padded > c->lanes_max) return 0;
        lanes_fill(c, w, q0, nq, padded);
        lanes_run_avx512(c, padded);
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        uint32_t padded = (lanes + 7) & ~7u;
        if (padded > c->lanes_max) return 0;
        lanes_fill(c, w, q0, nq, padded);
        lanes_run_avx2(c, padded);
    } else {
        return 0;
    }
    lanes_finish(c, w, q0, nq, fallback, out);
    return 1;
#else
    (void)c; (void)w; (void)q0; (void)nq; (void)fallback; (void)out;
    return 0;
#endif
}
