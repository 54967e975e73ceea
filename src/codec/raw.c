/* raw.c — the lossless codec: the payload is the tensor's original bytes.
 * Decoding converts F32/F16/BF16 to float32; other dtypes have no decoder
 * (they are passed through bit-exact by decompression). Row products (the
 * matvec used by inference on float models) read the stored dtype directly:
 * a plain-C reference plus AVX2 and AVX-512 variants picked at run time. */
#include "codec.h"
#include "../common/util.h"
#include "raw.h"
#include "../common/cpu.h"
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

typedef struct raw_decoder {
    hc_decoder base;
    const uint8_t *data;
    hc_dtype dtype;
    hc_raw_rows_fn rows; /* row product variant for this CPU */
} raw_decoder;

/* ---- row products: reference ---------------------------------------------- */
/* One stored element as float (memcpy: the payload may be unaligned). */
static inline float raw_elem(hc_dtype dt, const uint8_t *p) {
    uint16_t h;
    switch (dt) {
    case HC_F32: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    case HC_F16: memcpy(&h, p, 2); return hc_f16_to_f32(h);
    default: memcpy(&h, p, 2); return hc_bf16_to_f32(h);
    }
}

void hc_raw_rows_ref(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0, uint64_t row1,
                     const float *x, float *y) {
    size_t es = hc_dtype_size(dt);
    for (uint64_t r = row0; r < row1; r++) {
        const uint8_t *row = data + r * cols * es;
        float acc = 0;
        for (uint64_t c = 0; c < cols; c++) acc += raw_elem(dt, row + c * es) * x[c];
        y[r - row0] = acc;
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* ---- row products: AVX2 + FMA (+ F16C) ----------------------------------------- */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256
load8_avx2(hc_dtype dt, const uint8_t *p) {
    if (dt == HC_F32) return _mm256_loadu_ps((const float *)(const void *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (dt == HC_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx2,fma,f16c"))) static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dt is a constant at each call, so the dtype test leaves the loop. */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
rows_avx2(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0, uint64_t row1,
          const float *x, float *y) {
    const size_t es = dt == HC_F32 ? 4 : 2;
    const uint64_t cv = cols & ~(uint64_t)7;
    uint64_t r = row0;
    for (; r + 4 <= row1; r += 4) {
        const uint8_t *w0 = data + r * cols * es, *w1 = w0 + cols * es;
        const uint8_t *w2 = w1 + cols * es, *w3 = w2 + cols * es;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (uint64_t c = 0; c < cv; c += 8) {
            __m256 xv = _mm256_loadu_ps(x + c);
            a0 = _mm256_fmadd_ps(load8_avx2(dt, w0 + c * es), xv, a0);
            a1 = _mm256_fmadd_ps(load8_avx2(dt, w1 + c * es), xv, a1);
            a2 = _mm256_fmadd_ps(load8_avx2(dt, w2 + c * es), xv, a2);
            a3 = _mm256_fmadd_ps(load8_avx2(dt, w3 + c * es), xv, a3);
        }
        float s0 = hsum_avx2(a0), s1 = hsum_avx2(a1), s2 = hsum_avx2(a2), s3 = hsum_avx2(a3);
        for (uint64_t c = cv; c < cols; c++) {
            s0 += raw_elem(dt, w0 + c * es) * x[c];
            s1 += raw_elem(dt, w1 + c * es) * x[c];
            s2 += raw_elem(dt, w2 + c * es) * x[c];
            s3 += raw_elem(dt, w3 + c * es) * x[c];
        }
        y[r - row0] = s0;
        y[r - row0 + 1] = s1;
        y[r - row0 + 2] = s2;
        y[r - row0 + 3] = s3;
    }
    for (; r < row1; r++) {
        const uint8_t *w0 = data + r * cols * es;
        __m256 a0 = _mm256_setzero_ps();
        for (uint64_t c = 0; c < cv; c += 8)
            a0 = _mm256_fmadd_ps(load8_avx2(dt, w0 + c * es), _mm256_loadu_ps(x + c), a0);
        float s0 = hsum_avx2(a0);
        for (uint64_t c = cv; c < cols; c++) s0 += raw_elem(dt, w0 + c * es) * x[c];
        y[r - row0] = s0;
    }
}

__attribute__((target("avx2,fma,f16c"))) void hc_raw_rows_avx2(hc_dtype dt, const uint8_t *data,
                                                              uint64_t cols, uint64_t row0,
                                                              uint64_t row1, const float *x,
                                                              float *y) {
    switch (dt) {
    case HC_F32: rows_avx2(HC_F32, data, cols, row0, row1, x, y); break;
    case HC_F16: rows_avx2(HC_F16, data, cols, row0, row1, x, y); break;
    default: rows_avx2(HC_BF16, data, cols, row0, row1, x, y); break;
    }
}

/* ---- row products: AVX-512 --------------------------------------------------- */
__attribute__((target("avx512f"), always_inline)) static inline __m512 load16_avx512(hc_dtype dt,
                                                                                    const uint8_t *p) {
    if (dt == HC_F32) return _mm512_loadu_ps((const void *)p);
    __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
    if (dt == HC_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f"), always_inline)) static inline void
rows_avx512(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0, uint64_t row1,
            const float *x, float *y) {
    const size_t es = dt == HC_F32 ? 4 : 2;
    const uint64_t cv = cols & ~(uint64_t)15;
    uint64_t r = row0;
    for (; r + 4 <= row1; r += 4) {
        const uint8_t *w0 = data + r * cols * es, *w1 = w0 + cols * es;
        const uint8_t *w2 = w1 + cols * es, *w3 = w2 + cols * es;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (uint64_t c = 0; c < cv; c += 16) {
            __m512 xv = _mm512_loadu_ps(x + c);
            a0 = _mm512_fmadd_ps(load16_avx512(dt, w0 + c * es), xv, a0);
            a1 = _mm512_fmadd_ps(load16_avx512(dt, w1 + c * es), xv, a1);
            a2 = _mm512_fmadd_ps(load16_avx512(dt, w2 + c * es), xv, a2);
            a3 = _mm512_fmadd_ps(load16_avx512(dt, w3 + c * es), xv, a3);
        }
        float s0 = _mm512_reduce_add_ps(a0), s1 = _mm512_reduce_add_ps(a1);
        float s2 = _mm512_reduce_add_ps(a2), s3 = _mm512_reduce_add_ps(a3);
        for (uint64_t c = cv; c < cols; c++) {
            s0 += raw_elem(dt, w0 + c * es) * x[c];
            s1 += raw_elem(dt, w1 + c * es) * x[c];
            s2 += raw_elem(dt, w2 + c * es) * x[c];
            s3 += raw_elem(dt, w3 + c * es) * x[c];
        }
        y[r - row0] = s0;
        y[r - row0 + 1] = s1;
        y[r - row0 + 2] = s2;
        y[r - row0 + 3] = s3;
    }
    for (; r < row1; r++) {
        const uint8_t *w0 = data + r * cols * es;
        __m512 a0 = _mm512_setzero_ps();
        for (uint64_t c = 0; c < cv; c += 16)
            a0 = _mm512_fmadd_ps(load16_avx512(dt, w0 + c * es), _mm512_loadu_ps(x + c), a0);
        float s0 = _mm512_reduce_add_ps(a0);
        for (uint64_t c = cv; c < cols; c++) s0 += raw_elem(dt, w0 + c * es) * x[c];
        y[r - row0] = s0;
    }
}

__attribute__((target("avx512f"))) void hc_raw_rows_avx512(hc_dtype dt, const uint8_t *data,
                                                          uint64_t cols, uint64_t row0,
                                                          uint64_t row1, const float *x, float *y) {
    switch (dt) {
    case HC_F32: rows_avx512(HC_F32, data, cols, row0, row1, x, y); break;
    case HC_F16: rows_avx512(HC_F16, data, cols, row0, row1, x, y); break;
    default: rows_avx512(HC_BF16, data, cols, row0, row1, x, y); break;
    }
}
#endif

int hc_raw_rows_supported(const char *variant) {
    if (strcmp(variant, "avx2") == 0) return hc_cpu_has(HC_SIMD_AVX2);
    if (strcmp(variant, "avx512") == 0) return hc_cpu_has(HC_SIMD_AVX512);
    return strcmp(variant, "ref") == 0;
}

/* The kernels of a level (src/common/cpu.h): the row products. Called once,
 * at open, with hc_simd_level(). */
static void raw_kernels(hc_simd level, raw_decoder *r) {
    r->rows = hc_raw_rows_ref;
#if defined(__x86_64__) || defined(__i386__)
    if (level >= HC_SIMD_AVX512) r->rows = hc_raw_rows_avx512;
    else if (level >= HC_SIMD_AVX2) r->rows = hc_raw_rows_avx2;
#else
    (void)level;
#endif
}

static void raw_matvec(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                       float *y) {
    const raw_decoder *r = (const raw_decoder *)d;
    r->rows(r->dtype, r->data, cols, row0, row1, x, y);
}

static void raw_decode(const hc_decoder *d, uint64_t start, uint64_t count, float *out) {
    const raw_decoder *r = (const raw_decoder *)d;
    size_t es = hc_dtype_size(r->dtype);
    hc_to_f32(r->dtype, r->data + start * es, out, count);
}

static void raw_destroy(hc_decoder *d) { free(d); }

static hc_status raw_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    (void)o;
    uint64_t bytes;
    if (!hc_mul_ok(n, 4, &bytes) || (uint64_t)(size_t)bytes != bytes)
        return hc_fail(err, HC_E_LIMIT, "raw codec: tensor of %llu weights too large", (unsigned long long)n);
    out->codec = HC_CODEC_RAW;
    out->params_len = 0;
    out->payload = malloc(bytes ? (size_t)bytes : 1);
    if (!out->payload) return hc_fail(err, HC_E_NOMEM, "raw codec: cannot allocate %llu bytes", (unsigned long long)bytes);
    memcpy(out->payload, w, (size_t)bytes);
    out->payload_len = bytes;
    out->mae = out->mse = out->max_abs_err = 0;
    double s = 0;
    for (uint64_t i = 0; i < n; i++) s += (double)w[i] * w[i];
    out->sum_sq = s;
    return HC_OK;
}

static hc_status raw_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                          uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out,
                          hc_error *err) {
    (void)params;
    *out = NULL;
    if (params_len != 0) return hc_fail(err, HC_E_CORRUPT, "raw codec: unexpected %u parameter bytes", params_len);
    if (!hc_dtype_is_codable(dtype))
        return hc_fail(err, HC_E_UNSUPPORTED, "raw codec: dtype %s has no float decoder", hc_dtype_name(dtype));
    uint64_t need;
    if (!hc_mul_ok(n, hc_dtype_size(dtype), &need) || need != payload_len)
        return hc_fail(err, HC_E_CORRUPT, "raw codec: payload is %llu bytes, expected %llu weights of %s",
                       (unsigned long long)payload_len, (unsigned long long)n, hc_dtype_name(dtype));
    raw_decoder *r = calloc(1, sizeof *r);
    if (!r) return hc_fail(err, HC_E_NOMEM, "raw codec: out of memory");
    r->base.codec = HC_CODEC_RAW;
    r->base.n = n;
    r->base.decode = raw_decode;
    r->base.matvec = raw_matvec;
    r->base.destroy = raw_destroy;
    r->data = payload;
    r->dtype = dtype;
    raw_kernels(hc_simd_level(), r);
    *out = &r->base;
    return HC_OK;
}

/* Lossless: no options, no ladder, not measured by rd. */
const hc_codec_vt hc_codec_raw_vt = {
    .id = HC_CODEC_RAW,
    .name = "raw",
    .encode = raw_encode,
    .open = raw_open,
};
