/* kernels.c — the dense product used by batched inference: a tile of decoded
 * weight rows times several activation vectors. A plain-C reference and an
 * AVX2+FMA variant chosen at run time. */
#include "infer.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* ---- reference ------------------------------------------------------------ */
void hc_kern_tile_ref(const float *w, size_t ws, int rows, int cols, const float *x, size_t xs,
                      int n, float *y, size_t ys) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * xs;
        for (int i = 0; i < rows; i++) {
            const float *wi = w + (size_t)i * ws;
            float acc = 0;
            for (int c = 0; c < cols; c++) acc += wi[c] * xt[c];
            y[(size_t)t * ys + (size_t)i] = acc;
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* ---- AVX2 + FMA ------------------------------------------------------------- */
/* Lane sums of four vectors: result lane k = sum of the lanes of v[k]. */
__attribute__((target("avx2,fma"))) static inline __m128 hsum4_avx2(__m256 a, __m256 b, __m256 c,
                                                                   __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

static const int32_t tail_mask_words[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Four rows times two tokens: eight accumulators stay in registers. The
 * column tail uses masked loads. Every output gets the same arithmetic as
 * in the one-row and one-token variants below (same lanes, same hadd tree),
 * so a result does not depend on how rows and tokens were blocked. */
__attribute__((target("avx2,fma"))) static void block4x2_avx2(const float *w, size_t ws, int cols,
                                                              const float *x, size_t xs, float *y,
                                                              size_t ys) {
    const float *w0 = w, *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws, *x0 = x, *x1 = x + xs;
    __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00;
    __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 xv0 = _mm256_loadu_ps(x0 + c), xv1 = _mm256_loadu_ps(x1 + c), wv;
        wv = _mm256_loadu_ps(w0 + c);
        a00 = _mm256_fmadd_ps(wv, xv0, a00);
        a01 = _mm256_fmadd_ps(wv, xv1, a01);
        wv = _mm256_loadu_ps(w1 + c);
        a10 = _mm256_fmadd_ps(wv, xv0, a10);
        a11 = _mm256_fmadd_ps(wv, xv1, a11);
        wv = _mm256_loadu_ps(w2 + c);
        a20 = _mm256_fmadd_ps(wv, xv0, a20);
        a21 = _mm256_fmadd_ps(wv, xv1, a21);
        wv = _mm256_loadu_ps(w3 + c);
        a30 = _mm256_fmadd_ps(wv, xv0, a30);
        a31 = _mm256_fmadd_ps(wv, xv1, a31);
    }
    if (c < cols) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask_words + 8 - (cols - c)));
        __m256 xv0 = _mm256_maskload_ps(x0 + c, m), xv1 = _mm256_maskload_ps(x1 + c, m), wv;
        wv = _mm256_maskload_ps(w0 + c, m);
        a00 = _mm256_fmadd_ps(wv, xv0, a00);
        a01 = _mm256_fmadd_ps(wv, xv1, a01);
        wv = _mm256_maskload_ps(w1 + c, m);
        a10 = _mm256_fmadd_ps(wv, xv0, a10);
        a11 = _mm256_fmadd_ps(wv, xv1, a11);
        wv = _mm256_maskload_ps(w2 + c, m);
        a20 = _mm256_fmadd_ps(wv, xv0, a20);
        a21 = _mm256_fmadd_ps(wv, xv1, a21);
        wv = _mm256_maskload_ps(w3 + c, m);
        a30 = _mm256_fmadd_ps(wv, xv0, a30);
        a31 = _mm256_fmadd_ps(wv, xv1, a31);
    }
    _mm_storeu_ps(y, hsum4_avx2(a00, a10, a20, a30));
    _mm_storeu_ps(y + ys, hsum4_avx2(a01, a11, a21, a31));
}

/* Four rows times one token. */
__attribute__((target("avx2,fma"))) static void block4x1_avx2(const float *w, size_t ws, int cols,
                                                              const float *x, float *y) {
    const float *w0 = w, *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 xv = _mm256_loadu_ps(x + c);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + c), xv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + c), xv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + c), xv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + c), xv, a3);
    }
    if (c < cols) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask_words + 8 - (cols - c)));
        __m256 xv = _mm256_maskload_ps(x + c, m);
        a0 = _mm256_fmadd_ps(_mm256_maskload_ps(w0 + c, m), xv, a0);
        a1 = _mm256_fmadd_ps(_mm256_maskload_ps(w1 + c, m), xv, a1);
        a2 = _mm256_fmadd_ps(_mm256_maskload_ps(w2 + c, m), xv, a2);
        a3 = _mm256_fmadd_ps(_mm256_maskload_ps(w3 + c, m), xv, a3);
    }
    _mm_storeu_ps(y, hsum4_avx2(a0, a1, a2, a3));
}

/* One row times one token. */
__attribute__((target("avx2,fma"))) static float block1x1_avx2(const float *w, int cols, const float *x) {
    __m256 a = _mm256_setzero_ps(), z = a;
    int c = 0;
    for (; c + 8 <= cols; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(x + c), a);
    if (c < cols) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask_words + 8 - (cols - c)));
        a = _mm256_fmadd_ps(_mm256_maskload_ps(w + c, m), _mm256_maskload_ps(x + c, m), a);
    }
    return _mm_cvtss_f32(hsum4_avx2(a, z, z, z));
}

__attribute__((target("avx2,fma"))) void hc_kern_tile_avx2(const float *w, size_t ws, int rows,
                                                          int cols, const float *x, size_t xs,
                                                          int n, float *y, size_t ys) {
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *wi = w + (size_t)i * ws;
        int t = 0;
        for (; t + 2 <= n; t += 2) block4x2_avx2(wi, ws, cols, x + (size_t)t * xs, xs, y + (size_t)t * ys + i, ys);
        if (t < n) block4x1_avx2(wi, ws, cols, x + (size_t)t * xs, y + (size_t)t * ys + i);
    }
    for (; i < rows; i++)
        for (int t = 0; t < n; t++)
            y[(size_t)t * ys + i] = block1x1_avx2(w + (size_t)i * ws, cols, x + (size_t)t * xs);
}
#endif

/* ---- weighted sum of rows (attention output) -------------------------------- */
void hc_kern_wsum_ref(const float *a, int len, const float *v, size_t vs, int cols, float *out) {
    for (int i = 0; i < cols; i++) out[i] = 0;
    for (int p = 0; p < len; p++) {
        const float *vp = v + (size_t)p * vs;
        for (int i = 0; i < cols; i++) out[i] += a[p] * vp[i];
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) void hc_kern_wsum_avx2(const float *a, int len, const float *v,
                                                          size_t vs, int cols, float *out) {
    for (int i = 0; i < cols; i += 8) {
        int k = cols - i < 8 ? cols - i : 8;
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask_words + 8 - k));
        /* four chains, so the FMA latency is hidden */
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int p = 0;
        for (; p + 4 <= len; p += 4) {
            const float *vp = v + (size_t)p * vs + i;
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(a[p]), _mm256_maskload_ps(vp, m), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(a[p + 1]), _mm256_maskload_ps(vp + vs, m), acc1);
            acc2 = _mm256_fmadd_ps(_mm256_set1_ps(a[p + 2]), _mm256_maskload_ps(vp + 2 * vs, m), acc2);
            acc3 = _mm256_fmadd_ps(_mm256_set1_ps(a[p + 3]), _mm256_maskload_ps(vp + 3 * vs, m), acc3);
        }
        for (; p < len; p++)
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(a[p]), _mm256_maskload_ps(v + (size_t)p * vs + i, m), acc0);
        __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
        _mm256_maskstore_ps(out + i, m, acc);
    }
}
#endif

/* ---- softmax and SwiGLU ------------------------------------------------------ */
void hc_kern_softmax_ref(float *x, int n, float div) {
    float max_val = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] /= div;
        if (x[i] > max_val) max_val = x[i];
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

void hc_kern_swiglu_ref(float *h, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = h[i];
        v *= 1.0f / (1.0f + expf(-v));
        h[i] = v * g[i];
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* e^x for 8 lanes: x = k ln2 + r with |r| <= ln2/2, e^r by a degree-7
 * polynomial (Cephes' single-precision coefficients, error ~1 ulp), times
 * 2^k through the exponent bits. Below -87.3 the result is 0, above 88.7
 * +inf, as expf's underflow and overflow. */
__attribute__((target("avx2,fma"))) static inline __m256 exp8_avx2(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.7228f), lo = _mm256_set1_ps(-87.3365f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^k; k in [-127, 128] is split in two factors so both are normal */
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, _mm256_set1_epi32(127)), 23));
    __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, _mm256_set1_epi32(127)), 23));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
    e = _mm256_andnot_ps(under, e);
    return _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), over);
}

__attribute__((target("avx2,fma"))) static inline float hmax_avx2(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) void hc_kern_softmax_avx2(float *x, int n, float div) {
    const __m256 dv = _mm256_set1_ps(div);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), dv);
        _mm256_storeu_ps(x + i, v);
        mx = _mm256_max_ps(mx, v);
    }
    float max_val = hmax_avx2(mx);
    for (; i < n; i++) {
        x[i] /= div;
        if (x[i] > max_val) max_val = x[i];
    }
    const __m256 mv = _mm256_set1_ps(max_val);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask_words + 8 - (n - i)));
        __m256 e = exp8_avx2(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), mv));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        acc = _mm256_add_ps(acc, e);
    }
    __m256 z = _mm256_setzero_ps();
    const __m256 sv = _mm256_set1_ps(_mm_cvtss_f32(hsum4_avx2(acc, z, z, z)));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), sv));
    for (; i < n; i++) x[i] /= _mm256_cvtss_f32(sv);
}

__attribute__((target("avx2,fma"))) void hc_kern_swiglu_avx2(float *h, const float *g, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(h + i);
        __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp8_avx2(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_mul_ps(v, sig), _mm256_loadu_ps(g + i)));
    }
    hc_kern_swiglu_ref(h + i, g + i, n - i);
}
#endif

/* ---- dispatch ----------------------------------------------------------------- */
void hc_kernels_ref(hc_kernels *k) {
    k->tile = hc_kern_tile_ref;
    k->wsum = hc_kern_wsum_ref;
    k->softmax = hc_kern_softmax_ref;
    k->swiglu = hc_kern_swiglu_ref;
}

int hc_kernels_avx2(hc_kernels *k) {
#if defined(__x86_64__) || defined(__i386__)
    if (hc_simd_level() >= HC_SIMD_AVX2) { /* the level in force (src/common/cpu.h) */
        k->tile = hc_kern_tile_avx2;
        k->wsum = hc_kern_wsum_avx2;
        k->softmax = hc_kern_softmax_avx2;
        k->swiglu = hc_kern_swiglu_avx2;
        return 1;
    }
#endif
    hc_kernels_ref(k);
    return 0;
}

void hc_kernels_best(hc_kernels *k) {
    if (!hc_kernels_avx2(k)) hc_kernels_ref(k);
}
