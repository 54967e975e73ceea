/* trellis_avx2.c — AVX2 kernels of the trellis codec: the Viterbi step
 * (the same float operations in the same order as tr_step_ref, so the
 * payloads are identical) and the dot product of a run of states with x. */
#include "trellis.h"
#include <stdlib.h>

int tr_patterns_build(tr_decoder *d) {
    uint32_t used[64], nused = 0;
    for (uint32_t T = 0; T <= 64 * TR_K_MAX; T++) d->pidx[T] = -1;
    for (uint32_t q = 0; q < 64; q++) { /* T is a function of the scale code */
        uint32_t T = tr_block_bits(&d->p, q);
        if (T > 64 * TR_K_MAX || d->pidx[T] >= 0) continue;
        d->pidx[T] = (int16_t)nused;
        used[nused++] = T;
    }
    d->pat = malloc(sizeof(tr_pattern) * 8 * (nused ? nused : 1));
    if (!d->pat) return 0;
    for (uint32_t u = 0; u < nused; u++)
        for (uint32_t ph = 0; ph < 8; ph++) {
            tr_pattern *pt = &d->pat[8 * u + ph];
            for (uint32_t g = 0; g < 8; g++) {
                uint32_t g0 = (((8 * g + 1) * used[u] + 64 * ph) >> 6) >> 3;
                pt->g0[g] = g0;
                for (uint32_t i = 0; i < 8; i++) {
                    uint32_t o = (((8 * g + i + 1) * used[u] + 64 * ph) >> 6) - 8 * g0, by = o >> 3;
                    for (uint32_t c = 0; c < 4; c++) pt->mask[g][4 * i + c] = (uint8_t)(by + 3 - c);
                    pt->shl[g][i] = o & 7;
                }
            }
        }
    return 1;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* target avx2 without fma: mul and add stay separate, as in the reference */
__attribute__((target("avx2"))) void tr_step_avx2(const tr_viterbi *v, uint32_t k, float u, float wgt,
                                                    uint8_t *bp) {
    const uint32_t L = v->L, sh = L - k, nq = 1u << sh, np = 1u << k;
    const float *D = v->D;
    float *M = v->M, *Dn = v->Dn;
    uint32_t q = 0;
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; q + 32 <= nq; q += 32) {
        __m256i b[4];
        for (int g = 0; g < 4; g++) {
            __m256 m = _mm256_loadu_ps(D + q + 8 * g);
            __m256i bb = _mm256_setzero_si256();
            for (uint32_t p = 1; p < np; p++) {
                __m256 x = _mm256_loadu_ps(D + (p << sh) + q + 8 * g);
                __m256 lt = _mm256_cmp_ps(x, m, _CMP_LT_OQ);
                m = _mm256_blendv_ps(m, x, lt);
                bb = _mm256_blendv_epi8(bb, _mm256_set1_epi32((int)p), _mm256_castps_si256(lt));
            }
            _mm256_storeu_ps(M + q + 8 * g, m);
            b[g] = bb;
        }
        __m256i p01 = _mm256_packs_epi32(b[0], b[1]), p23 = _mm256_packs_epi32(b[2], b[3]);
        __m256i pk = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p01, p23), perm);
        _mm256_storeu_si256((__m256i *)(bp + q), pk);
    }
    for (; q < nq; q++) { /* short rows (2^(L-k) < 32): as the reference */
        float m = D[q];
        uint32_t bb = 0;
        for (uint32_t p = 1; p < np; p++) {
            float x = D[q | (p << sh)];
            if (x < m) {
                m = x;
                bb = p;
            }
        }
        M[q] = m;
        bp[q] = (uint8_t)bb;
    }
    const __m256 uu = _mm256_set1_ps(u), ww = _mm256_set1_ps(wgt);
    const __m256i idx = _mm256_srli_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), (int)(k < 3 ? k : 0));
    const uint32_t S = 1u << L;
    for (uint32_t s = 0; s < S; s += 8) {
        __m256 mv;
        if (k >= 3) mv = _mm256_set1_ps(M[s >> k]);
        else mv = _mm256_permutevar8x32_ps(_mm256_loadu_ps(M + (s >> k)), idx);
        __m256 d = _mm256_sub_ps(uu, _mm256_loadu_ps(v->V + s));
        __m256 e = _mm256_mul_ps(d, d);
        e = _mm256_mul_ps(ww, e);
        _mm256_storeu_ps(Dn + s, _mm256_add_ps(mv, e));
    }
}

/* The fused int16 step, 16 states per vector; follows tr_fstep_ref and
 * tr_cost16 exactly (subs, abs, mulhi_epu16, adds; strict < keeps
 * the first argmin). Rows of fewer than 16 classes: the reference. */
/* 16 classes q..q+15 over np predecessors each: min in *m, argmin in *bb */
static inline __attribute__((always_inline, target("avx2"))) void fstep_q(const uint16_t *Mt, const int16_t *AV,
                                                                            uint32_t q, uint32_t sh, uint32_t kt,
                                                                            uint32_t np, __m256i pat, __m256i AU,
                                                                            __m256i LIM, __m128i esh, int shift,
                                                                            __m256i *mo, __m256i *bo) {
    __m256i m = _mm256_setzero_si256(), bb = _mm256_setzero_si256(), pv = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi16(1);
    for (uint32_t p = 0; p < np; p++) {
        const uint32_t s0 = q | (p << sh);
        __m256i mv = _mm256_shuffle_epi8(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(Mt + (s0 >> kt)))), pat);
        __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)(AV + s0));
        __m256i ad = _mm256_abs_epi16(_mm256_subs_epi16(AU, av));
        if (shift) ad = _mm256_sll_epi16(_mm256_min_epu16(ad, LIM), esh); /* at h = 0: no clip */
        __m256i c = _mm256_adds_epu16(mv, _mm256_mulhi_epu16(ad, ad));
        if (p == 0) {
            m = c;
        } else {
            pv = _mm256_add_epi16(pv, one);
            __m256i mn = _mm256_min_epu16(m, c);
            __m256i keep = _mm256_cmpeq_epi16(mn, m); /* m <= c: the earlier p stays */
            m = mn;
            bb = _mm256_blendv_epi8(pv, bb, keep);
        }
    }
    *mo = m;
    *bo = bb;
}

__attribute__((target("avx2"))) void tr_set_weight_avx2(tr_viterbi *v, int16_t aq) {
    const __m256i AQ = _mm256_set1_epi16(aq);
    for (uint32_t s = 0; s < (1u << v->L); s += 16)
        _mm256_storeu_si256((__m256i *)(void *)(v->AV + s),
                            _mm256_mulhrs_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(v->V16 + s)), AQ));
    v->av_q = aq;
}

/* The fused int16 step, 16 states per vector; follows tr_fstep_ref and
 * tr_cost16 exactly (subs, abs, min, shift, mulhi_epu16, adds_epu16; strict
 * < keeps the first argmin). Rows of fewer than 16 classes: the reference. */
__attribute__((target("avx2"))) int tr_fstep_avx2(const tr_viterbi *v, const uint16_t *Mt, uint32_t kt, int16_t au,
                                                    uint32_t k1, uint16_t *Mn, uint8_t *bp) {
    const uint32_t L = v->L, sh = L - k1, nq = 1u << sh, np = 1u << k1;
    if (nq < 16) return tr_fstep_ref(v, Mt, kt, au, k1, Mn, bp);
    const int16_t *AV = v->AV;
    /* element i of 16 takes class i >> kt of the 8 loaded (both lanes hold them) */
    const uint32_t kk = kt < 4 ? kt : 4;
    uint8_t pb[32];
    for (int i = 0; i < 16; i++) {
        pb[2 * i] = (uint8_t)(2 * ((uint32_t)i >> kk));
        pb[2 * i + 1] = (uint8_t)(2 * ((uint32_t)i >> kk) + 1);
    }
    const __m256i pat = _mm256_loadu_si256((const __m256i *)(const void *)pb);
    const __m256i AU = _mm256_set1_epi16(au), LIM = _mm256_set1_epi16((short)(32767u >> v->esh));
    const __m128i esh = _mm_cvtsi32_si128((int)v->esh);
    __m256i mnv = _mm256_set1_epi16(-1);
    for (uint32_t q = 0; q < nq; q += 16) {
        __m256i m, bb;
        /* constant trip counts for the short rows (unrolled), and no clip or shift at h = 0 */
        switch (np * 2 + (v->esh != 0)) {
        case 4: fstep_q(Mt, AV, q, sh, kt, 2, pat, AU, LIM, esh, 0, &m, &bb); break;
        case 5: fstep_q(Mt, AV, q, sh, kt, 2, pat, AU, LIM, esh, 1, &m, &bb); break;
        case 8: fstep_q(Mt, AV, q, sh, kt, 4, pat, AU, LIM, esh, 0, &m, &bb); break;
        case 9: fstep_q(Mt, AV, q, sh, kt, 4, pat, AU, LIM, esh, 1, &m, &bb); break;
        case 16: fstep_q(Mt, AV, q, sh, kt, 8, pat, AU, LIM, esh, 0, &m, &bb); break;
        case 17: fstep_q(Mt, AV, q, sh, kt, 8, pat, AU, LIM, esh, 1, &m, &bb); break;
        default: fstep_q(Mt, AV, q, sh, kt, np, pat, AU, LIM, esh, v->esh != 0, &m, &bb); break;
        }
        _mm256_storeu_si256((__m256i *)(void *)(Mn + q), m);
        mnv = _mm256_min_epu16(mnv, m);
        __m256i pk = _mm256_permute4x64_epi64(_mm256_packus_epi16(bb, bb), 0x08); /* lanes 0, 2 */
        _mm_storeu_si128((__m128i *)(void *)(bp + q), _mm256_castsi256_si128(pk));
    }
    __m128i h = _mm_minpos_epu16(_mm_min_epu16(_mm256_castsi256_si128(mnv), _mm256_extracti128_si256(mnv, 1)));
    return (int)(uint16_t)_mm_extract_epi16(h, 0);
}

__attribute__((target("avx2,fma"))) float tr_dot_avx2(const uint32_t *st, const float *x, uint32_t cnt) {
    const __m256i A = _mm256_set1_epi32((int)TR_LCG_A), C = _mm256_set1_epi32((int)TR_LCG_C);
    const __m256i m8 = _mm256_set1_epi32(0x00ff00ff), m16 = _mm256_set1_epi32(0xffff), c510 = _mm256_set1_epi32(510);
    __m256 acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= cnt; i += 8) {
        __m256i s = _mm256_loadu_si256((const __m256i *)(st + i));
        __m256i xx = _mm256_add_epi32(_mm256_mullo_epi32(s, A), C);
        __m256i t = _mm256_add_epi32(_mm256_and_si256(xx, m8), _mm256_and_si256(_mm256_srli_epi32(xx, 8), m8));
        t = _mm256_add_epi32(_mm256_and_si256(t, m16), _mm256_srli_epi32(t, 16));
        __m256 val = _mm256_cvtepi32_ps(_mm256_sub_epi32(t, c510));
        acc = _mm256_fmadd_ps(val, _mm256_loadu_ps(x + i), acc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float sum = _mm_cvtss_f32(h) * TR_VAL_NORM;
    for (; i < cnt; i++) sum += tr_val(st[i]) * x[i];
    return sum;
}
/* The states of 8 consecutive steps j .. j + 7 of a block of T bits whose
 * window bits start at block-relative bit (R_i >> 6) (R = (j + 1 + i) T + 64
 * (P0 & 7), P0 = pos - L: the block's bits counted from byte base = P0 >> 3):
 * one 16-byte load at the group's first byte, each lane's 4 big-endian bytes
 * picked by a shuffle, shifted into place. No gathers: a group of 8 steps of
 * at most 8 bits and L <= 20 spans at most 91 bits. */
static inline __attribute__((always_inline, target("avx2"))) __m256i states8(const uint8_t *stream, int64_t bb,
                                                                               __m256i R, uint32_t L) {
    const __m256i rep = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4, 4,
                                         8, 8, 8, 8, 12, 12, 12, 12);
    const __m256i be = _mm256_set1_epi32(0x00010203);
    __m256i rho = _mm256_srli_epi32(R, 6);
    uint32_t g0 = (uint32_t)_mm256_cvtsi256_si32(rho) >> 3;
    __m256i o = _mm256_sub_epi32(rho, _mm256_set1_epi32((int)(8 * g0)));
    __m256i by = _mm256_srli_epi32(o, 3), bit = _mm256_and_si256(o, _mm256_set1_epi32(7));
    __m256i mask = _mm256_add_epi32(_mm256_shuffle_epi8(by, rep), be);
    __m256i win = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(stream + (size_t)(bb + g0))));
    __m256i g = _mm256_shuffle_epi8(win, mask);
    return _mm256_srli_epi32(_mm256_sllv_epi32(g, bit), (int)(32 - L));
}

/* tr_val_int of 8 states (as int32): the byte sum by two multiply-adds */
static inline __attribute__((always_inline, target("avx2"))) __m256i vals8(__m256i s) {
    const __m256i A = _mm256_set1_epi32((int)TR_LCG_A), C = _mm256_set1_epi32((int)TR_LCG_C);
    __m256i xx = _mm256_add_epi32(_mm256_mullo_epi32(s, A), C);
    __m256i t = _mm256_madd_epi16(_mm256_maddubs_epi16(xx, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
    return _mm256_sub_epi32(t, _mm256_set1_epi32(510));
}

/* sum_j v(s_j) x[j - j0] over steps [j0, j0 + cnt) of a block of T bits
 * whose first step ends at pos + (T >> 6). The caller guarantees every load
 * stays inside the stream: ((pos + T - L) >> 3) + 16 <= stream length, and
 * pos + (T >> 6) >= L. */
__attribute__((target("avx2,fma"))) float tr_block_dot_avx2(const uint8_t *stream, uint64_t pos, uint32_t T,
                                                             uint32_t L, uint32_t j0, uint32_t cnt, const float *x) {
    const int64_t P0 = (int64_t)pos - (int64_t)L;
    const int64_t bb = P0 >> 3; /* P0 >= -8: bb may be -1; no load reads before the stream */
    __m256i R = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32((int)(j0 + 1)),
                                                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                                     _mm256_set1_epi32((int)T)),
                                  _mm256_set1_epi32((int)(64 * (P0 & 7))));
    const __m256i R8 = _mm256_set1_epi32((int)(8 * T));
    __m256 acc = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= cnt; i += 16) {
        __m256i v0 = vals8(states8(stream, bb, R, L));
        R = _mm256_add_epi32(R, R8);
        __m256i v1 = vals8(states8(stream, bb, R, L));
        R = _mm256_add_epi32(R, R8);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v0), _mm256_loadu_ps(x + i), acc);
        acc2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v1), _mm256_loadu_ps(x + i + 8), acc2);
    }
    for (; i + 8 <= cnt; i += 8) {
        __m256i v0 = vals8(states8(stream, bb, R, L));
        R = _mm256_add_epi32(R, R8);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v0), _mm256_loadu_ps(x + i), acc);
    }
    acc = _mm256_add_ps(acc, acc2);
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h4 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    h4 = _mm_add_ss(h4, _mm_shuffle_ps(h4, h4, 1));
    float sum = _mm_cvtss_f32(h4) * TR_VAL_NORM;
    for (; i < cnt; i++) {
        uint32_t j = j0 + i;
        uint64_t a = pos + (((j + 1) * T) >> 6) - L;
        sum += tr_val(tr_get_bits(stream, (a >> 3) + 8, a, L)) * x[i];
    }
    return sum;
}

/* One group of 8 steps of a full block by its pattern: tr_val_int as int32. */
static inline __attribute__((always_inline, target("avx2"))) __m256i group8(const uint8_t *stream, int64_t bb,
                                                                              const tr_pattern *pt, uint32_t g,
                                                                              __m128i rs) {
    const __m256i A = _mm256_set1_epi32((int)TR_LCG_A), C = _mm256_set1_epi32((int)TR_LCG_C);
    __m256i win = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(stream + (size_t)(bb + pt->g0[g]))));
    __m256i w = _mm256_shuffle_epi8(win, _mm256_loadu_si256((const __m256i *)(const void *)pt->mask[g]));
    __m256i st = _mm256_srl_epi32(_mm256_sllv_epi32(w, _mm256_loadu_si256((const __m256i *)(const void *)pt->shl[g])),
                                  rs);
    __m256i xx = _mm256_add_epi32(_mm256_mullo_epi32(st, A), C);
    __m256i t = _mm256_madd_epi16(_mm256_maddubs_epi16(xx, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
    return _mm256_sub_epi32(t, _mm256_set1_epi32(510));
}

__attribute__((target("avx2,fma"))) uint64_t tr_row_dot_avx2(const tr_decoder *d, uint64_t b0, uint64_t nblk,
                                                              uint64_t pos, const float *x, const float *xsum,
                                                              double *sum) {
    (void)xsum;
    const uint32_t L = d->p.L;
    const __m128i rs = _mm_cvtsi32_si128((int)(32 - L));
    __m256 acc = _mm256_setzero_ps();
    uint64_t k = 0;
    for (; k < nblk; k++) {
        const uint64_t b = b0 + k;
        const uint32_t T = tr_block_bits(&d->p, d->q[b]);
        if (((pos + T - L) >> 3) + 16 > d->stream_len || d->pidx[T] < 0) break;
        const int64_t P0 = (int64_t)pos - (int64_t)L;
        const tr_pattern *pt = &d->pat[8 * (uint32_t)d->pidx[T] + (uint32_t)(P0 & 7)];
        const int64_t bb = P0 >> 3; /* -1 only before the stream's first window: no load reads byte -1 */
        const float *xb = x + 64 * k;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (uint32_t g = 0; g < 8; g += 2) {
            __m256i v0 = group8(d->stream, bb, pt, g, rs), v1 = group8(d->stream, bb, pt, g + 1, rs);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v0), _mm256_loadu_ps(xb + 8 * g), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v1), _mm256_loadu_ps(xb + 8 * g + 8), a1);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d->stab[d->q[b]] * d->gtab[T]), _mm256_add_ps(a0, a1), acc);
        if ((b + 1) % TR_GROUP_BLOCKS == 0) {
            if (b + 1 < d->nblocks) pos = d->goff[(b + 1) / TR_GROUP_BLOCKS];
        } else {
            pos += T;
        }
    }
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h4 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    h4 = _mm_add_ss(h4, _mm_shuffle_ps(h4, h4, 1));
    *sum = (double)(_mm_cvtss_f32(h4) * TR_VAL_NORM);
    return k;
}

/* Whole blocks b0 .. b0 + nblk - 1 decoded to out[64 nblk] (as the
 * reference: sc * tr_val(s)); stops where tr_row_dot_avx2 stops. */
__attribute__((target("avx2"))) uint64_t tr_blocks_decode_avx2(const tr_decoder *d, uint64_t b0, uint64_t nblk,
                                                                uint64_t pos, float *out) {
    const uint32_t L = d->p.L;
    const __m128i rs = _mm_cvtsi32_si128((int)(32 - L));
    const __m256 NV = _mm256_set1_ps(TR_VAL_NORM);
    uint64_t k = 0;
    for (; k < nblk; k++) {
        const uint64_t b = b0 + k;
        const uint32_t T = tr_block_bits(&d->p, d->q[b]);
        if (((pos + T - L) >> 3) + 16 > d->stream_len || d->pidx[T] < 0) break;
        const int64_t P0 = (int64_t)pos - (int64_t)L, bb = P0 >> 3;
        const tr_pattern *pt = &d->pat[8 * (uint32_t)d->pidx[T] + (uint32_t)(P0 & 7)];
        const __m256 F = _mm256_set1_ps(d->stab[d->q[b]] * d->gtab[T]);
        for (uint32_t g = 0; g < 8; g++) {
            __m256i v = group8(d->stream, bb, pt, g, rs);
            _mm256_storeu_ps(out + 64 * k + 8 * g, _mm256_mul_ps(F, _mm256_mul_ps(_mm256_cvtepi32_ps(v), NV)));
        }
        if ((b + 1) % TR_GROUP_BLOCKS == 0) {
            if (b + 1 < d->nblocks) pos = d->goff[(b + 1) / TR_GROUP_BLOCKS];
        } else {
            pos += T;
        }
    }
    return k;
}

/* The inverse transform x <- s .* (H x) of tr_rht_inverse, 8 lanes at a
 * time: every butterfly is the same a + b, a - b, so the floats are the
 * reference's. lg >= 3. */
__attribute__((target("avx2"))) void tr_rht_inverse_avx2(float *x, uint32_t lg, const float *signs) {
    const uint32_t B = 1u << lg;
    const __m256 m1 = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
    const __m256 m2 = _mm256_castsi256_ps(_mm256_setr_epi32(0, 0, -1, -1, 0, 0, -1, -1));
    const __m256 m4 = _mm256_castsi256_ps(_mm256_setr_epi32(0, 0, 0, 0, -1, -1, -1, -1));
    for (uint32_t i = 0; i < B; i += 8) { /* h = 1, 2, 4 inside a vector */
        __m256 v = _mm256_loadu_ps(x + i), t;
        t = _mm256_permute_ps(v, 0xb1);
        v = _mm256_blendv_ps(_mm256_add_ps(v, t), _mm256_sub_ps(t, v), m1);
        t = _mm256_permute_ps(v, 0x4e);
        v = _mm256_blendv_ps(_mm256_add_ps(v, t), _mm256_sub_ps(t, v), m2);
        t = _mm256_permute2f128_ps(v, v, 1);
        v = _mm256_blendv_ps(_mm256_add_ps(v, t), _mm256_sub_ps(t, v), m4);
        _mm256_storeu_ps(x + i, v);
    }
    for (uint32_t h = 8; h < B; h <<= 1)
        for (uint32_t i = 0; i < B; i += 2 * h)
            for (uint32_t j = i; j < i + h; j += 8) {
                __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + h);
                _mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
                _mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
            }
    for (uint32_t i = 0; i < B; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(signs + i)));
}

/* out[i] = sc v(s_j) for steps [j0, j0 + cnt) (conditions as tr_block_dot_avx2). */
__attribute__((target("avx2"))) void tr_block_decode_avx2(const uint8_t *stream, uint64_t pos, uint32_t T, uint32_t L,
                                                           uint32_t j0, uint32_t cnt, float sc, float *out) {
    const int64_t P0 = (int64_t)pos - (int64_t)L;
    const int64_t bb = P0 >> 3;
    __m256i R = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32((int)(j0 + 1)),
                                                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                                     _mm256_set1_epi32((int)T)),
                                  _mm256_set1_epi32((int)(64 * (P0 & 7))));
    const __m256i R8 = _mm256_set1_epi32((int)(8 * T));
    /* sc * (t * NORM), rounded as sc * tr_val(s): the same floats as the reference */
    const __m256 F = _mm256_set1_ps(sc), NV = _mm256_set1_ps(TR_VAL_NORM);
    uint32_t i = 0;
    for (; i + 8 <= cnt; i += 8) {
        __m256i v0 = vals8(states8(stream, bb, R, L));
        R = _mm256_add_epi32(R, R8);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(F, _mm256_mul_ps(_mm256_cvtepi32_ps(v0), NV)));
    }
    for (; i < cnt; i++) {
        uint32_t j = j0 + i;
        uint64_t a = pos + (((j + 1) * T) >> 6) - L;
        out[i] = sc * tr_val(tr_get_bits(stream, (a >> 3) + 8, a, L));
    }
}
#else
uint64_t tr_blocks_decode_avx2(const tr_decoder *d, uint64_t b0, uint64_t nblk, uint64_t pos, float *out) {
    (void)d, (void)b0, (void)nblk, (void)pos, (void)out;
    return 0;
}
void tr_rht_inverse_avx2(float *x, uint32_t lg, const float *signs) { tr_rht_inverse(x, lg, signs); }
uint64_t tr_row_dot_avx2(const tr_decoder *d, uint64_t b0, uint64_t nblk, uint64_t pos, const float *x,
                         const float *xsum, double *sum) {
    (void)d, (void)b0, (void)nblk, (void)pos, (void)x, (void)xsum;
    *sum = 0;
    return 0;
}
void tr_step_avx2(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp) { tr_step_ref(v, k, u, wgt, bp); }
int tr_fstep_avx2(const tr_viterbi *v, const uint16_t *Mt, uint32_t kt, int16_t au, uint32_t k1, uint16_t *Mn,
                  uint8_t *bp) {
    return tr_fstep_ref(v, Mt, kt, au, k1, Mn, bp);
}
void tr_set_weight_avx2(tr_viterbi *v, int16_t aq) { tr_set_weight_ref(v, aq); }
float tr_dot_avx2(const uint32_t *st, const float *x, uint32_t cnt) {
    float s = 0;
    for (uint32_t i = 0; i < cnt; i++) s += tr_val(st[i]) * x[i];
    return s;
}
void tr_block_decode_avx2(const uint8_t *stream, uint64_t pos, uint32_t T, uint32_t L, uint32_t j0, uint32_t cnt,
                          float sc, float *out) {
    for (uint32_t i = 0; i < cnt; i++) {
        uint64_t a = pos + (((j0 + i + 1) * T) >> 6) - L;
        out[i] = sc * tr_val(tr_get_bits(stream, (a >> 3) + 8, a, L));
    }
}
float tr_block_dot_avx2(const uint8_t *stream, uint64_t pos, uint32_t T, uint32_t L, uint32_t j0, uint32_t cnt,
                        const float *x) {
    float s = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        uint64_t a = pos + (((j0 + i + 1) * T) >> 6) - L;
        s += tr_val(tr_get_bits(stream, (a >> 3) + 8, a, L)) * x[i];
    }
    return s;
}
#endif
