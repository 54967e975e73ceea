/* hlat_q16.c — hlat's fused product against activations quantised to int16:
 * the compander evaluated in int16 fixed point, products summed in int32.
 *
 * Why: the float kernels (hlat_kernels.c) are compute-bound — per 8 weights
 * an index load and shift, a 32-bit multiply, a conversion and five float
 * multiplies or FMAs, which on AVX2 runs at about the speed of the float32
 * product it replaces. Here, per step of 32 weights (8 groups, m bytes of
 * index stream):
 *   - the 8 indices t are unpacked at once into the 8 dword lanes (two
 *     16-byte loads, one byte shuffle, one variable shift), and bit m-1 of
 *     each flipped (the centring: it adds 2^31 to every product, g odd);
 *   - coordinate i of all 8 groups is one 32-bit multiply by g_i << (32-m)
 *     (coordinate 0, g_0 = 1, a shift);
 *     the top 16 bits of coordinates 0 and 1 (2 and 3) are merged into one
 *     vector of 16 int16 by a shift and a word blend: Z = floor(z 2^15);
 *   - the odd quintic f(z) = z (c1 + u (c3 + c5 u)), u = z^2, runs on 16
 *     lanes at once: U = mulhi(Z, Z) = u 2^14, Q = C3 + mulhrs(U, C5),
 *     P = C1 + mulhrs(U, Q), W = mulhrs(Z, P) = f(z) 2^b, with C1 = c1 2^b,
 *     C3 = c3 2^(b+1), C5 = c5 2^(b+2) and b the largest that keeps every
 *     intermediate below 32000 in magnitude (hlat_q16_prepare);
 *   - two pmaddwd against the step's int16 activations (stored in the lane
 *     order above, so that dword lane l sums exactly group l) give the
 *     step's 8 partial sums in int32 (|W| <= 32000, |X| <= 16383: four
 *     products per lane stay below 2^31), converted to float and added
 *     with one FMA by (block scale 2^-b activation scale).
 * About 31 vector operations per 32 weights, half the float kernel's.
 *
 * Accuracy (the tests check it against decode-then-multiply): each
 * activation is off by at most half a step of its 32-column block
 * (max |x| / 32766), each weight by at most werr times its block scale
 * (hlat_q16_prepare: the truncation of z to 16 bits, of u to 14 bits, the
 * rounded constants and the three roundings of mulhrs). On the tensors of
 * stories260K werr is about 1e-4 of the compander's range (b = 14), the
 * activation error below 2^-15 of a block's largest entry: both far below
 * the codec's own error (SNR ~31 dB, about 3e-2).
 *
 * The plain-C reference (hlat_q16_rows_ref) performs the same integer and
 * float operations in the same order, lane by lane, so the AVX2 kernel
 * matches it bit for bit; a row's result does not depend on the row range
 * it was computed in (so not on the thread count). */
#include "hlat.h"
#include <float.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define Q16_LIM 32000.0

static double dmax(double a, double b) { return a > b ? a : b; }
static double dmin(double a, double b) { return a < b ? a : b; }

void hlat_q16_prepare(hlat_decoder *d) { hlat_q16_prepare_form(d, 1); }

void hlat_q16_prepare_form(hlat_decoder *d, int allow_sq) {
    hlat_q16 *q = &d->q16;
    const hlat_params *p = &d->p;
    q->ok = 0;
    if (p->K != 4 || p->m > 25 || p->block % 32 || p->dead_zone > 0) return;
    /* the kernel centres by flipping bit m-1 of t, which equals flipping the
     * top bit of t*g only for odd g (hyperc writes odd generators; the
     * format allows any) */
    for (uint32_t i = 0; i < p->K; i++)
        if (!(p->g[i] & 1)) return;
    const double c1 = p->c1, c3 = p->c3, c5 = p->c5;
    double qmax = 0, pmax = 0, fmax = 0;
    for (int i = 0; i <= 4096; i++) { /* smooth polynomials: a fine grid and a margin below */
        double z = i / 4096.0, u = z * z;
        double qq = fabs(c3 + c5 * u), pp = fabs(c1 + u * (c3 + c5 * u));
        if (qq > qmax) qmax = qq;
        if (pp > pmax) pmax = pp;
        if (z * pp > fmax) fmax = z * pp;
    }
    qmax *= 1.01;
    pmax *= 1.01;
    int b = 40;
    for (; b >= 0; b--) {
        double s = ldexp(1.0, b);
        if (fabs(c5) * 4 * s <= Q16_LIM && fabs(c3) * 2 * s <= Q16_LIM && fabs(c1) * s <= Q16_LIM &&
            qmax * 2 * s + 4 <= Q16_LIM && pmax * s + 4 <= Q16_LIM)
            break;
    }
    /* fewer than 11 bits for the compander's range: keep the float kernels */
    if (b < 0 || fmax * ldexp(1.0, b) < 2048) return;
    q->b = b;
    q->c1 = (int16_t)lrint(c1 * ldexp(1.0, b));
    q->c3 = (int16_t)lrint(c3 * ldexp(1.0, b + 1));
    q->c5 = (int16_t)lrint(c5 * ldexp(1.0, b + 2));
    q->unscale = ldexpf(1.0f, -b);
    double dfmax = fabs(c1) + 3 * fabs(c3) + 5 * fabs(c5); /* |f'| */
    q->werr = (float)(1.05 * (dfmax * 0x1p-15 + (fabs(c3) + 2 * fabs(c5)) * 0x1p-14 + 2.2 * ldexp(1.0, -b)));
    /* The square form, where it fits: c1 + c3 u + c5 u^2 = c5 ((u + a)^2 + e)
     * with a = c3 / (2 c5), e = c1 / c5 - a^2, so that
     *   U = mulhi(Z, Z) = u 2^14,  V = U + A = (u + a) 2^14,
     *   R = mulhrs(V, V) + E = ((u + a)^2 + e) 2^13,  W = mulhrs(Z, R) = f(z) / c5 2^13
     * (A = a 2^14, E = e 2^13 rounded; c5 2^-13 goes into the float factor):
     * three multiplies per 16 weights instead of four. Every intermediate
     * must stay within 32000 and W keep at least 11 bits. */
    q->sq = 0;
    if (allow_sq && c5 != 0) {
        const double a = c3 / (2 * c5), e = c1 / c5 - a * a;
        const double lo = (a >= 0 || a <= -1) ? dmin(a * a, (1 + a) * (1 + a)) : 0, hi = dmax(a * a, (1 + a) * (1 + a));
        const double ua = dmax(fabs(a), fabs(1 + a));
        if (ua * 16384 + 1 <= Q16_LIM && dmax(fabs(lo + e), fabs(hi + e)) * 8192 + 2 <= Q16_LIM &&
            fabs(e) * 8192 + 1 <= Q16_LIM && fmax / fabs(c5) * 8192 >= 2048) {
            /* and never less accurate than the four-multiply form, so that every
             * bound that holds for that one holds for this one */
            const float werr_sq = (float)(1.05 * (dfmax * 0x1p-15 + fabs(c5) * (3 * ua + 3) * 0x1p-14));
            if (werr_sq <= q->werr) {
                q->sq = 1;
                q->a16 = (int16_t)lrint(a * 16384);
                q->e16 = (int16_t)lrint(e * 8192);
                q->unscale = (float)(c5 * 0x1p-13);
                q->werr = werr_sq;
            }
        }
    }
    const uint32_t gpb = p->block / 4, m = p->m;
    q->gpb_shift = -1;
    for (int sh = 0; sh < 31; sh++)
        if ((1u << sh) == gpb) q->gpb_shift = sh;
    for (uint32_t ph = 0; ph < 8; ph++) {
        /* groups 0..3 from bytes [0, 16) of the step, 4..7 from [o, o + 16) */
        uint32_t o = (ph + 4 * m) / 8;
        q->hi_off[ph] = (uint8_t)o;
        for (uint32_t l = 0; l < 8; l++) {
            uint32_t bit = l < 4 ? ph + l * m : ph + 4 * m - 8 * o + (l - 4) * m;
            for (uint32_t k = 0; k < 4; k++) q->pat[ph][4 * l + k] = (uint8_t)((bit >> 3) + k);
            q->shift[ph][l] = (int32_t)(bit & 7);
        }
    }
    q->ok = 1;
}

/* ===================================================================== */
/* Reference                                                              */
/* ===================================================================== */

static void quantize_step_ref(const float *xs, int16_t *o, float *sx) {
    float amax = 0;
    int bad = 0;
    for (int c = 0; c < 32; c++) {
        float a = fabsf(xs[c]);
        if (!(a <= FLT_MAX)) bad = 1;
        else if (a > amax) amax = a;
    }
    if (bad || !(amax >= 0x1p-100f)) {
        memset(o, 0, 32 * sizeof *o);
        *sx = bad ? NAN : 0.0f;
        return;
    }
    const float inv = (float)HLAT_Q16_XMAX / amax;
    *sx = amax / (float)HLAT_Q16_XMAX;
    for (int c = 0; c < 32; c++) o[HLAT_Q16_POS(c)] = (int16_t)lrintf(xs[c] * inv);
}

void hlat_q16_quantize_ref(const float *x, uint64_t ncols, int16_t *xq, float *sx) {
    uint64_t u = 0;
    for (; 32 * u + 32 <= ncols; u++) quantize_step_ref(x + 32 * u, xq + 32 * u, sx + u);
    if (32 * u < ncols) {
        float pad[32] = {0};
        memcpy(pad, x + 32 * u, sizeof(float) * (ncols - 32 * u));
        quantize_step_ref(pad, xq + 32 * u, sx + u);
    }
}

/* pmulhrsw, pmulhw and paddw on one lane */
static inline int16_t mulhrs16(int16_t a, int16_t b) { return (int16_t)(((int32_t)a * b + 0x4000) >> 15); }
static inline int16_t mulhi16(int16_t a, int16_t b) { return (int16_t)(((int32_t)a * b) >> 16); }
static inline int16_t add16(int16_t a, int16_t b) { return (int16_t)(uint16_t)((uint16_t)a + (uint16_t)b); }

static inline int16_t q16_weight(const hlat_q16 *q, int16_t Z) {
    if (q->sq) {
        int16_t V = add16(mulhi16(Z, Z), q->a16);
        return mulhrs16(Z, add16(mulhrs16(V, V), q->e16));
    }
    int16_t U = mulhi16(Z, Z);
    int16_t Q = add16(q->c3, mulhrs16(U, q->c5));
    int16_t P = add16(q->c1, mulhrs16(U, Q));
    return mulhrs16(Z, P);
}

static inline uint64_t block_of(const hlat_decoder *d, uint64_t g) {
    return d->q16.gpb_shift >= 0 ? g >> d->q16.gpb_shift : g / (d->p.block / 4);
}

void hlat_q16_rows_ref(const hlat_decoder *d, uint64_t cols, uint64_t c0, uint64_t nc, uint64_t row0, uint64_t row1,
                       const int16_t *xq, const float *sx, float *y, int add) {
    const hlat_q16 *q = &d->q16;
    const uint32_t m = d->p.m;
    for (uint64_t r = row0; r < row1; r++) {
        float acc[8] = {0};
        const uint64_t g0 = (r * cols + c0) / 4; /* the row's first group */
        for (uint64_t j = 0; j < (nc + 31) / 32; j++) {
            for (uint32_t l = 0; l < 8; l++) {
                const uint64_t g = g0 + 8 * j + l;
                const float sc = hlat_block_scale(d, block_of(d, g)) * q->unscale * sx[j];
                uint32_t t = (uint32_t)hlat_get_bits(d->idx, d->idx_len, g * m, m) ^ (1u << (m - 1));
                int32_t s = 0;
                for (uint32_t i = 0; i < 4; i++) {
                    int16_t Z = (int16_t)((int32_t)(t * d->gshift[i]) >> 16);
                    s += (int32_t)q16_weight(q, Z) * xq[32 * j + HLAT_Q16_POS(4 * l + i)];
                }
                acc[l] = fmaf((float)s, sc, acc[l]);
            }
        }
        /* the AVX2 kernel's reduction tree */
        float a0 = acc[0] + acc[4], a1 = acc[1] + acc[5], a2 = acc[2] + acc[6], a3 = acc[3] + acc[7];
        float v = (a0 + a2) + (a1 + a3);
        y[r - row0] = add ? y[r - row0] + v : v;
    }
}

typedef void (*q16_quantize_fn)(const float *, uint64_t, int16_t *, float *);
typedef void (*q16_rows_fn)(const hlat_decoder *, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, const int16_t *,
                            const float *, float *, int);

static inline void matvec_q16(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                              float *y, q16_quantize_fn quantize, q16_rows_fn rows) {
    const hlat_decoder *d = (const hlat_decoder *)base;
    if (!d->q16.ok || cols == 0 || cols % 4) {
        d->q16.fallback(base, cols, row0, row1, x, y);
        return;
    }
    if (row1 <= row0) return;
    _Alignas(32) int16_t xq[HLAT_Q16_CHUNK];
    float sx[HLAT_Q16_CHUNK / 32];
    for (uint64_t c0 = 0; c0 < cols; c0 += HLAT_Q16_CHUNK) {
        uint64_t nc = cols - c0 < HLAT_Q16_CHUNK ? cols - c0 : HLAT_Q16_CHUNK;
        quantize(x + c0, nc, xq, sx);
        rows(d, cols, c0, nc, row0, row1, xq, sx, y, c0 > 0);
    }
}

void hlat_matvec_q16_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                         float *y) {
    matvec_q16(d, cols, row0, row1, x, y, hlat_q16_quantize_ref, hlat_q16_rows_ref);
}

#if defined(__x86_64__) || defined(__i386__)
/* ===================================================================== */
/* AVX2                                                                   */
/* ===================================================================== */

__attribute__((target("avx2,fma"))) static void quantize_step_avx2(const float *xs, int16_t *o, float *sx) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), fmax = _mm256_set1_ps(FLT_MAX);
    __m256 v0 = _mm256_loadu_ps(xs), v1 = _mm256_loadu_ps(xs + 8), v2 = _mm256_loadu_ps(xs + 16),
           v3 = _mm256_loadu_ps(xs + 24);
    __m256 a0 = _mm256_and_ps(v0, absmask), a1 = _mm256_and_ps(v1, absmask), a2 = _mm256_and_ps(v2, absmask),
           a3 = _mm256_and_ps(v3, absmask);
    __m256 bad = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(a0, fmax, _CMP_NLE_UQ), _mm256_cmp_ps(a1, fmax, _CMP_NLE_UQ)),
                              _mm256_or_ps(_mm256_cmp_ps(a2, fmax, _CMP_NLE_UQ), _mm256_cmp_ps(a3, fmax, _CMP_NLE_UQ)));
    __m256 mx = _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float amax = _mm_cvtss_f32(h);
    int isbad = _mm256_movemask_ps(bad) != 0;
    if (isbad || !(amax >= 0x1p-100f)) {
        memset(o, 0, 32 * sizeof *o);
        *sx = isbad ? NAN : 0.0f;
        return;
    }
    const float inv = (float)HLAT_Q16_XMAX / amax;
    *sx = amax / (float)HLAT_Q16_XMAX;
    const __m256 vi = _mm256_set1_ps(inv);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vi)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vi));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vi)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vi));
    /* natural order: n0 = x0..x15, n1 = x16..x31 (packs works per 128-bit lane) */
    __m256i n0 = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), _MM_SHUFFLE(3, 1, 2, 0));
    __m256i n1 = _mm256_permute4x64_epi64(_mm256_packs_epi32(i2, i3), _MM_SHUFFLE(3, 1, 2, 0));
    /* even pairs (x0 x1, x4 x5, ...) first, then the odd pairs: HLAT_Q16_POS */
    __m256 e = _mm256_shuffle_ps(_mm256_castsi256_ps(n0), _mm256_castsi256_ps(n1), _MM_SHUFFLE(2, 0, 2, 0));
    __m256 f = _mm256_shuffle_ps(_mm256_castsi256_ps(n0), _mm256_castsi256_ps(n1), _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_si256((__m256i *)o, _mm256_permute4x64_epi64(_mm256_castps_si256(e), _MM_SHUFFLE(3, 1, 2, 0)));
    _mm256_storeu_si256((__m256i *)(o + 16), _mm256_permute4x64_epi64(_mm256_castps_si256(f), _MM_SHUFFLE(3, 1, 2, 0)));
}

__attribute__((target("avx2,fma"))) void hlat_q16_quantize_avx2(const float *x, uint64_t ncols, int16_t *xq,
                                                                 float *sx) {
    uint64_t u = 0;
    for (; 32 * u + 32 <= ncols; u++) quantize_step_avx2(x + 32 * u, xq + 32 * u, sx + u);
    if (32 * u < ncols) {
        float pad[32] = {0};
        memcpy(pad, x + 32 * u, sizeof(float) * (ncols - 32 * u));
        quantize_step_avx2(pad, xq + 32 * u, sx + u);
    }
}

typedef struct q16_consts {
    __m256i g1, g2, g3, c1, c3, c5, a, e;
    int sq;          /* the square form (hlat_q16_prepare) */
    __m128i sh0;     /* coordinate 0 (g_0 = 1): Z_0 in the low word of t shifted by sh0 */
    int sh0_left;    /* m < 16: left, else right */
} q16_consts;

__attribute__((target("avx2,fma"))) static q16_consts q16_consts_init(const hlat_decoder *d) {
    q16_consts k;
    /* g_0 = 1 (hlat_params_read checks it): t g_0 << (32 - m) needs no
     * multiply, and its top 16 bits are t >> (m - 16) */
    k.sh0_left = d->p.m < 16;
    k.sh0 = _mm_cvtsi32_si128(k.sh0_left ? (int)(16 - d->p.m) : (int)(d->p.m - 16));
    k.g1 = _mm256_set1_epi32((int32_t)d->gshift[1]);
    k.g2 = _mm256_set1_epi32((int32_t)d->gshift[2]);
    k.g3 = _mm256_set1_epi32((int32_t)d->gshift[3]);
    k.c1 = _mm256_set1_epi16(d->q16.c1);
    k.c3 = _mm256_set1_epi16(d->q16.c3);
    k.c5 = _mm256_set1_epi16(d->q16.c5);
    k.a = _mm256_set1_epi16(d->q16.a16);
    k.e = _mm256_set1_epi16(d->q16.e16);
    k.sq = d->q16.sq;
    return k;
}

/* lanes l >= k of split_mask[k]: the second block of a step that crosses one */
static const int32_t split_mask[8][8] = {
    {-1, -1, -1, -1, -1, -1, -1, -1}, {0, -1, -1, -1, -1, -1, -1, -1}, {0, 0, -1, -1, -1, -1, -1, -1},
    {0, 0, 0, -1, -1, -1, -1, -1},    {0, 0, 0, 0, -1, -1, -1, -1},    {0, 0, 0, 0, 0, -1, -1, -1},
    {0, 0, 0, 0, 0, 0, -1, -1},       {0, 0, 0, 0, 0, 0, 0, -1}};

__attribute__((target("avx2,fma"), always_inline)) static inline __m256i q16_poly(const q16_consts *k, __m256i z) {
    if (k->sq) {
        __m256i v = _mm256_add_epi16(_mm256_mulhi_epi16(z, z), k->a);
        return _mm256_mulhrs_epi16(z, _mm256_add_epi16(_mm256_mulhrs_epi16(v, v), k->e));
    }
    __m256i u = _mm256_mulhi_epi16(z, z);
    __m256i q = _mm256_add_epi16(k->c3, _mm256_mulhrs_epi16(u, k->c5));
    __m256i p = _mm256_add_epi16(k->c1, _mm256_mulhrs_epi16(u, q));
    return _mm256_mulhrs_epi16(z, p);
}

/* The 8 partial sums (int32, lane l = group l of the step) of the step
 * whose index bits start at byte `at` of the stream, against the step's 32
 * quantised activations xs; pat, shift, hi_off: the row's bit phase. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
q16_weights(const hlat_decoder *d, const q16_consts *k, uint64_t at, __m256i pat, __m256i shift, uint32_t hi_off,
            __m256i *w01, __m256i *w23) {
    const uint8_t *bp = d->idx + at;
    __m128i lo, hi;
    if (at + hi_off + 16 <= d->idx_len) {
        lo = _mm_loadu_si128((const __m128i *)bp);
        hi = _mm_loadu_si128((const __m128i *)(bp + hi_off));
    } else { /* the stream's last bytes: read no further than its end */
        uint8_t buf[48] = {0};
        uint64_t left = d->idx_len > at ? d->idx_len - at : 0;
        memcpy(buf, bp, left < 48 ? left : 48);
        lo = _mm_loadu_si128((const __m128i *)buf);
        hi = _mm_loadu_si128((const __m128i *)(buf + hi_off));
    }
    __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    t = _mm256_xor_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(t, pat), shift),
                         _mm256_set1_epi32((int32_t)(1u << (d->p.m - 1))));
    /* the low word of each dword of z0 is the top 16 bits of t g_0 << (32 - m)
     * (its high word is replaced by the blend) */
    __m256i z0 = k->sh0_left ? _mm256_sll_epi32(t, k->sh0) : _mm256_srl_epi32(t, k->sh0);
    __m256i z01 = _mm256_blend_epi16(z0, _mm256_mullo_epi32(t, k->g1), 0xAA);
    __m256i z23 = _mm256_blend_epi16(_mm256_srli_epi32(_mm256_mullo_epi32(t, k->g2), 16), _mm256_mullo_epi32(t, k->g3),
                                     0xAA);
    *w01 = q16_poly(k, z01);
    *w23 = q16_poly(k, z23);
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256i q16_dot(__m256i w01, __m256i w23,
                                                                                  const int16_t *xs) {
    return _mm256_add_epi32(_mm256_madd_epi16(w01, _mm256_load_si256((const __m256i *)xs)),
                            _mm256_madd_epi16(w23, _mm256_load_si256((const __m256i *)(xs + 16))));
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256i
q16_step(const hlat_decoder *d, const q16_consts *k, uint64_t at, __m256i pat, __m256i shift, uint32_t hi_off,
         const int16_t *xs) {
    __m256i w01, w23;
    q16_weights(d, k, at, pat, shift, hi_off, &w01, &w23);
    return q16_dot(w01, w23, xs);
}

/* The float factors of step j of a row whose first group is g0: block
 * scale 2^-b activation scale, per lane (a step may cross into the next block). */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256
q16_step_scale(const hlat_decoder *d, uint64_t g0, uint64_t j, float sxj) {
    const uint64_t ga = g0 + 8 * j, ba = block_of(d, ga), bb = block_of(d, ga + 7);
    const float sa = hlat_block_scale(d, ba) * d->q16.unscale;
    if (ba == bb) return _mm256_set1_ps(sa * sxj);
    /* the step crosses into block bb at lane (ba + 1) gpb - ga */
    const float sb = hlat_block_scale(d, bb) * d->q16.unscale;
    const uint64_t split = (ba + 1) * (d->p.block / 4) - ga;
    __m256 msk = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)split_mask[split]));
    return _mm256_mul_ps(_mm256_blendv_ps(_mm256_set1_ps(sa), _mm256_set1_ps(sb), msk), _mm256_set1_ps(sxj));
}

__attribute__((target("avx2,fma"), always_inline)) static inline float hsum8(__m256 acc) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* A row's position in the stream: first group, first byte, bit phase. */
typedef struct q16_row {
    uint64_t g0, at0;
    uint32_t hi_off;
    __m256i pat, shift;
} q16_row;

__attribute__((target("avx2,fma"), always_inline)) static inline q16_row q16_row_at(const hlat_decoder *d,
                                                                                     uint64_t cols, uint64_t c0,
                                                                                     uint64_t r) {
    q16_row w;
    w.g0 = (r * cols + c0) / 4;
    const uint64_t bit0 = w.g0 * d->p.m;
    const uint32_t ph = (uint32_t)(bit0 & 7);
    w.at0 = bit0 >> 3;
    w.hi_off = d->q16.hi_off[ph];
    w.pat = _mm256_loadu_si256((const __m256i *)d->q16.pat[ph]);
    w.shift = _mm256_loadu_si256((const __m256i *)d->q16.shift[ph]);
    return w;
}

/* The kept int16 weights of d for rows of `cols` (built here by the first
 * caller of a small tensor), or NULL. Same values as q16_weights computes,
 * so the results are the same bits. */
__attribute__((target("avx2,fma"))) static const int16_t *q16_cache_for(const hlat_decoder *d, uint64_t cols,
                                                                          uint64_t c0, const q16_consts *k) {
    hlat_q16 *q = (hlat_q16 *)&d->q16; /* the cache fields are written once, under cache_state */
    if (c0 != 0 || cols > HLAT_Q16_CHUNK || d->base.n > HLAT_Q16_CACHE_MAX || d->base.n % cols) return NULL;
    int st = __atomic_load_n(&q->cache_state, __ATOMIC_ACQUIRE);
    if (st == 2) return q->cache_cols == cols ? q->cache : NULL;
    int zero = 0;
    if (st != 0 || getenv("HYPERC_HLAT_NOCACHE") ||
        !__atomic_compare_exchange_n(&q->cache_state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return NULL; /* being built by another thread, or not possible: decode as usual */
    const uint64_t rows = d->base.n / cols, ns = (cols + 31) / 32;
    int16_t *c = NULL;
    if (posix_memalign((void **)&c, 32, sizeof(int16_t) * 32 * ns * rows) != 0) c = NULL;
    if (!c) {
        __atomic_store_n(&q->cache_state, 3, __ATOMIC_RELEASE);
        return NULL;
    }
    for (uint64_t r = 0; r < rows; r++) {
        const q16_row a = q16_row_at(d, cols, 0, r);
        for (uint64_t j = 0; j < ns; j++) {
            __m256i w01, w23;
            q16_weights(d, k, a.at0 + j * d->p.m, a.pat, a.shift, a.hi_off, &w01, &w23);
            _mm256_store_si256((__m256i *)(c + (r * ns + j) * 32), w01);
            _mm256_store_si256((__m256i *)(c + (r * ns + j) * 32 + 16), w23);
        }
    }
    q->cache = c;
    q->cache_cols = cols;
    __atomic_store_n(&q->cache_state, 2, __ATOMIC_RELEASE);
    return c;
}

/* ---- blocks of 32 2^sh on rows of whole blocks (the default: B = 32) -------
 * With B = 32 2^sh and cols % B == 0 every step lies in one block and
 * starts on a byte (8 groups = m bytes), so every step has bit phase 0: the
 * shuffle and shifts are constants, the step's bytes are at (first step + j)
 * m, and its scale code at bit ((first step + j) >> sh) sbits. One row at a time (more rows
 * per pass shared the activation loads but gained nothing measurable: the
 * kernel is bound by its vector work and the length of a step's chain),
 * software-pipelined (b32_row). Each lane does the reference's integer and
 * float operations in its order, so the bits are the reference's. */
/* the step constants, by value (kept in registers by the inlined loops) */
typedef struct b32_consts {
    __m256i g1, g2, g3, a, e, pat, shift, flip;
    __m128i sh0;
} b32_consts;

/* Stage 1 of a step: its 8 indices, centred, as the int16 coordinates
 * z01 (0 and 1 of each group) and z23. */
__attribute__((target("avx2,fma"), always_inline)) static inline void b32_coords(const b32_consts *k, const uint8_t *bp,
                                                                                 uint32_t ho, int left, __m256i *z01,
                                                                                 __m256i *z23) {
    __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)bp)),
                                        _mm_loadu_si128((const __m128i *)(bp + ho)), 1);
    t = _mm256_xor_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(t, k->pat), k->shift), k->flip);
    __m256i z0 = left ? _mm256_sll_epi32(t, k->sh0) : _mm256_srl_epi32(t, k->sh0);
    *z01 = _mm256_blend_epi16(z0, _mm256_mullo_epi32(t, k->g1), 0xAA);
    *z23 = _mm256_blend_epi16(_mm256_srli_epi32(_mm256_mullo_epi32(t, k->g2), 16), _mm256_mullo_epi32(t, k->g3), 0xAA);
}

/* Stage 2: the compander, square form (hlat_q16_prepare_form). */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i b32_comp(const b32_consts *k, __m256i z) {
    __m256i v = _mm256_add_epi16(_mm256_mulhi_epi16(z, z), k->a);
    return _mm256_mulhrs_epi16(z, _mm256_add_epi16(_mm256_mulhrs_epi16(v, v), k->e));
}

/* One row: ns steps whose bytes start at p and whose blocks' scale codes
 * start at bit bit0 of the scale stream (all within its 2-byte loads).
 * Software-pipelined in three stages: the coordinates of step j + 2 and the
 * compander of step j + 1 are issued before the dot of step j, so that the
 * out-of-order window holds ready work (a step's dependency chain is about
 * 35 cycles long: without look-ahead the window fills with waiting work).
 * Step j's factor is (scale * unscale) * activation scale, the reference's
 * operations. */
__attribute__((target("avx2,fma"), always_inline)) static inline float
b32_row(const b32_consts *kk, const uint8_t *p, uint64_t ns, uint64_t m, uint32_t ho, int left, const int16_t *xq,
        const uint8_t *scales, uint64_t bit0, uint32_t sbits, uint32_t sh, const float *tabu, const float *sx) {
    const b32_consts k = *kk;
    const uint32_t smask = (1u << sbits) - 1;
    __m256 a = _mm256_setzero_ps();
    __m256i z01, z23, w01, w23;
    b32_coords(&k, p, ho, left, &z01, &z23);
    w01 = b32_comp(&k, z01);
    w23 = b32_comp(&k, z23);
    if (ns > 1) b32_coords(&k, p + m, ho, left, &z01, &z23);
    for (uint64_t j = 0; j < ns; j++) {
        const uint64_t bit = bit0 + (j >> sh) * sbits;
        const uint8_t *sb = scales + (bit >> 3);
        const uint32_t code = ((uint32_t)(sb[0] | (sb[1] << 8)) >> (bit & 7)) & smask;
        const float f = tabu[code] * sx[j];
        const __m256i xa = _mm256_load_si256((const __m256i *)(xq + 32 * j));
        const __m256i xb = _mm256_load_si256((const __m256i *)(xq + 32 * j + 16));
        __m256i n01 = z01, n23 = z23, v01 = w01, v23 = w23;
        if (j + 2 < ns) b32_coords(&k, p + (j + 2) * m, ho, left, &n01, &n23);
        if (j + 1 < ns) {
            v01 = b32_comp(&k, z01);
            v23 = b32_comp(&k, z23);
        }
        __m256i sum = _mm256_add_epi32(_mm256_madd_epi16(w01, xa), _mm256_madd_epi16(w23, xb));
        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(f), a);
        w01 = v01;
        w23 = v23;
        z01 = n01;
        z23 = n23;
    }
    return hsum8(a);
}

#define B32_INST(name, left)                                                                                         \
    __attribute__((target("avx2,fma"))) static float name(const b32_consts *k, const uint8_t *p, uint64_t ns,        \
                                                          uint64_t m, uint32_t ho, const int16_t *xq,                \
                                                          const uint8_t *scales, uint64_t bit, uint32_t sbits,       \
                                                          uint32_t sh, const float *tabu, const float *sx) {         \
        return b32_row(k, p, ns, m, ho, left, xq, scales, bit, sbits, sh, tabu, sx);                                 \
    }
B32_INST(b32_row_r, 0)
B32_INST(b32_row_l, 1)

/* The rows [row0, end) of the product that this path can do from row0 on;
 * returns end (row0 if none). */
__attribute__((target("avx2,fma"))) static uint64_t q16_rows_b32_avx2(const hlat_decoder *d, const q16_consts *k,
                                                                      uint64_t cols, uint64_t c0, uint64_t nc,
                                                                      uint64_t row0, uint64_t row1, const int16_t *xq,
                                                                      const float *sx, float *y, int add) {
    const uint64_t m = d->p.m, spr = cols / 32, ns = (nc + 31) / 32, s0 = c0 / 32;
    const uint32_t ho = d->q16.hi_off[0];
    /* blocks of 2^sh steps, rows (and column chunks) of whole blocks */
    const uint32_t B = d->p.block;
    uint32_t sh = 0;
    while ((32u << sh) < B) sh++;
    if (!d->q16.sq || (32u << sh) != B || cols % B || c0 % B || ns == 0 || d->idx_len < ho + 16) return row0;
    /* a step's loads end at byte (step) m + ho + 16, its scale's 2-byte
     * load is in bounds below block fast_blocks: rows [0, rmax) are both */
    const uint64_t last = (d->idx_len - ho - 16) / m; /* the last step whose loads are in bounds */
    uint64_t lastb = d->fast_blocks << sh; /* steps below this one read their block's scale fast */
    if (lastb > last + 1) lastb = last + 1;
    if (lastb < s0 + ns) return row0;
    uint64_t rmax = (lastb - s0 - ns) / spr + 1;
    if (rmax > row1) rmax = row1;
    if (rmax <= row0) return row0;
    b32_consts bk;
    bk.g1 = k->g1;
    bk.g2 = k->g2;
    bk.g3 = k->g3;
    bk.a = k->a;
    bk.e = k->e;
    bk.sh0 = k->sh0;
    bk.pat = _mm256_loadu_si256((const __m256i *)d->q16.pat[0]);
    bk.shift = _mm256_loadu_si256((const __m256i *)d->q16.shift[0]);
    bk.flip = _mm256_set1_epi32((int32_t)(1u << (m - 1)));
    float tabu[1u << HLAT_SBITS_MAX];
    const uint32_t sbits = d->p.sbits;
    for (uint32_t c = 0; c < (1u << sbits); c++) tabu[c] = d->scale_tab[c] * d->q16.unscale;
    for (uint64_t r = row0; r < rmax; r++) {
        const uint64_t s = r * spr + s0; /* the row's first step; its block is s / 2^sh */
        float v = (k->sh0_left ? b32_row_l : b32_row_r)(&bk, d->idx + s * m, ns, m, ho, xq, d->scales,
                                                        (s >> sh) * sbits, sbits, sh, tabu, sx);
        y[r - row0] = add ? y[r - row0] + v : v;
    }
    return rmax;
}

/* Rows two at a time (independent chains, shared activation loads); each
 * row's operations are those of the one-row loop, so the bits are too. */
__attribute__((target("avx2,fma"))) void hlat_q16_rows_avx2(const hlat_decoder *d, uint64_t cols, uint64_t c0,
                                                             uint64_t nc, uint64_t row0, uint64_t row1,
                                                             const int16_t *xq, const float *sx, float *y, int add) {
    const q16_consts k = q16_consts_init(d);
    const uint64_t ns = (nc + 31) / 32, m = d->p.m;
    uint64_t r = row0;
    const int16_t *cache = q16_cache_for(d, cols, c0, &k);
    if (cache && row1 <= d->base.n / cols) { /* the kept int16 weights: only the products and the scales */
        for (; r < row1; r++) {
            const uint64_t g0 = (r * cols) / 4;
            const int16_t *wr = cache + r * ns * 32;
            __m256 acc = _mm256_setzero_ps();
            for (uint64_t j = 0; j < ns; j++) {
                __m256i s = q16_dot(_mm256_load_si256((const __m256i *)(wr + 32 * j)),
                                    _mm256_load_si256((const __m256i *)(wr + 32 * j + 16)), xq + 32 * j);
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), q16_step_scale(d, g0, j, sx[j]), acc);
            }
            float v = hsum8(acc);
            y[r - row0] = add ? y[r - row0] + v : v;
        }
        return;
    }
    if (!d->q16.no_b32) r = q16_rows_b32_avx2(d, &k, cols, c0, nc, row0, row1, xq, sx, y, add);
    for (; r + 2 <= row1; r += 2) {
        const q16_row a = q16_row_at(d, cols, c0, r), b = q16_row_at(d, cols, c0, r + 1);
        __m256 acc_a = _mm256_setzero_ps(), acc_b = _mm256_setzero_ps();
        for (uint64_t j = 0; j < ns; j++) {
            __m256i sa = q16_step(d, &k, a.at0 + j * m, a.pat, a.shift, a.hi_off, xq + 32 * j);
            __m256i sb = q16_step(d, &k, b.at0 + j * m, b.pat, b.shift, b.hi_off, xq + 32 * j);
            acc_a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sa), q16_step_scale(d, a.g0, j, sx[j]), acc_a);
            acc_b = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sb), q16_step_scale(d, b.g0, j, sx[j]), acc_b);
        }
        float va = hsum8(acc_a), vb = hsum8(acc_b);
        y[r - row0] = add ? y[r - row0] + va : va;
        y[r + 1 - row0] = add ? y[r + 1 - row0] + vb : vb;
    }
    for (; r < row1; r++) {
        const q16_row a = q16_row_at(d, cols, c0, r);
        __m256 acc = _mm256_setzero_ps();
        for (uint64_t j = 0; j < ns; j++) {
            __m256i s = q16_step(d, &k, a.at0 + j * m, a.pat, a.shift, a.hi_off, xq + 32 * j);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), q16_step_scale(d, a.g0, j, sx[j]), acc);
        }
        float v = hsum8(acc);
        y[r - row0] = add ? y[r - row0] + v : v;
    }
}

void hlat_matvec_q16_avx2(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                          float *y) {
    matvec_q16(d, cols, row0, row1, x, y, hlat_q16_quantize_avx2, hlat_q16_rows_avx2);
}
#endif
