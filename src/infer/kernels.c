/* kernels.c — the dense product used by batched inference: a tile of decoded
 * weight rows times several activation vectors. A plain-C reference and an
 * AVX2+FMA variant chosen at run time. */
#include "infer.h"

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

/* R rows (1..4) times T tokens (1..2); R and T are constants at every call,
 * so the loops over them unroll. The column tail uses masked loads. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block_avx2(const float *w, size_t ws, int R, int cols, const float *x, size_t xs, int T, float *y,
           size_t ys) {
    __m256 acc[4][2];
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < 2; t++) acc[r][t] = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 xv[2];
        for (int t = 0; t < T; t++) xv[t] = _mm256_loadu_ps(x + (size_t)t * xs + c);
        for (int r = 0; r < R; r++) {
            __m256 wv = _mm256_loadu_ps(w + (size_t)r * ws + c);
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    if (c < cols) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask_words + 8 - (cols - c)));
        __m256 xv[2];
        for (int t = 0; t < T; t++) xv[t] = _mm256_maskload_ps(x + (size_t)t * xs + c, m);
        for (int r = 0; r < R; r++) {
            __m256 wv = _mm256_maskload_ps(w + (size_t)r * ws + c, m);
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    for (int t = 0; t < T; t++) {
        __m128 s = hsum4_avx2(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
        float *yt = y + (size_t)t * ys;
        if (R == 4) {
            _mm_storeu_ps(yt, s);
        } else {
            float tmp[4];
            _mm_storeu_ps(tmp, s);
            for (int r = 0; r < R; r++) yt[r] = tmp[r];
        }
    }
}

__attribute__((target("avx2,fma"))) void hc_kern_tile_avx2(const float *w, size_t ws, int rows,
                                                          int cols, const float *x, size_t xs,
                                                          int n, float *y, size_t ys) {
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *wi = w + (size_t)i * ws;
        int t = 0;
        for (; t + 2 <= n; t += 2)
            block_avx2(wi, ws, 4, cols, x + (size_t)t * xs, xs, 2, y + (size_t)t * ys + i, ys);
        if (t < n) block_avx2(wi, ws, 4, cols, x + (size_t)t * xs, xs, 1, y + (size_t)t * ys + i, ys);
    }
    for (; i < rows; i++) {
        const float *wi = w + (size_t)i * ws;
        int t = 0;
        for (; t + 2 <= n; t += 2)
            block_avx2(wi, ws, 1, cols, x + (size_t)t * xs, xs, 2, y + (size_t)t * ys + i, ys);
        if (t < n) block_avx2(wi, ws, 1, cols, x + (size_t)t * xs, xs, 1, y + (size_t)t * ys + i, ys);
    }
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
        __m256 acc = _mm256_setzero_ps();
        for (int p = 0; p < len; p++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(a[p]), _mm256_maskload_ps(v + (size_t)p * vs + i, m), acc);
        _mm256_maskstore_ps(out + i, m, acc);
    }
}
#endif

/* ---- dispatch ----------------------------------------------------------------- */
hc_tile_fn hc_kern_tile_best(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return hc_kern_tile_avx2;
#endif
    return hc_kern_tile_ref;
}

hc_wsum_fn hc_kern_wsum_best(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return hc_kern_wsum_avx2;
#endif
    return hc_kern_wsum_ref;
}
