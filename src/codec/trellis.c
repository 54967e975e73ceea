/* trellis.c — the trellis codec's parameters, settings, encoder driver
 * (transform, block scales, water-filling, the search of trellis_viterbi.c)
 * and decoder (decode windows and the fused row product).
 *
 * Params blob, version 1 (little-endian, TR_PARAMS_BYTES = 20):
 *    0 u8 version (1)   1 u8 L (8..20)   2 u8 flags (1: RHT, 2: slope)   3 u8 rht_log2
 *    4 u8 seg_log2 (10..30)   5 u8 kmin   6 u8 kmax   7 u8 slope (with flags & 2; else 0 = slope 8)
 *    8 u32 seed (RHT signs)  12 f32 top scale (>= 0)  16 i32 offset O
 * Payload: ceil(nblocks) 6-bit scale codes (MSB-first bit stream), padded
 * to a byte, then the trellis bit stream (MSB-first), padded to a byte.
 * docs/FORMAT.md, "trellis". */
#include "trellis.h"
#include "trellis_enc.h"
#include "options.h"
#include "../common/cpu.h"
#include "../common/util.h"
#include <float.h>
#include <stdlib.h>
#include <string.h>

#define TR_OFFSET_LIM (1 << 20)
#define TR_SEED 0x2545F491u

/* ===================================================================== */
/* Params                                                                 */
/* ===================================================================== */

uint32_t tr_params_write(const tr_params *p, uint8_t *out) {
    out[0] = TR_VERSION;
    out[1] = (uint8_t)p->L;
    out[2] = (uint8_t)p->flags;
    out[3] = (uint8_t)p->rht_log2;
    out[4] = (uint8_t)p->seg_log2;
    out[5] = (uint8_t)p->kmin;
    out[6] = (uint8_t)p->kmax;
    out[7] = (p->flags & TR_FLAG_SLOPE) ? (uint8_t)p->slope : 0;
    hc_put_u32(out + 8, p->seed);
    hc_put_f32(out + 12, p->top);
    hc_put_u32(out + 16, (uint32_t)p->offset);
    return TR_PARAMS_BYTES;
}

hc_status tr_params_read(const uint8_t *b, uint32_t len, tr_params *p, hc_error *err) {
    memset(p, 0, sizeof *p);
    if (len != TR_PARAMS_BYTES)
        return hc_fail(err, HC_E_CORRUPT, "trellis: parameters are %u bytes, expected %d", len, TR_PARAMS_BYTES);
    if (b[0] != TR_VERSION)
        return hc_fail(err, HC_E_UNSUPPORTED, "trellis: parameter version %u (this build reads %d)", b[0], TR_VERSION);
    p->L = b[1];
    p->flags = b[2];
    p->rht_log2 = b[3];
    p->seg_log2 = b[4];
    p->kmin = b[5];
    p->kmax = b[6];
    p->seed = hc_get_u32(b + 8);
    p->top = hc_get_f32(b + 12);
    p->offset = (int32_t)hc_get_u32(b + 16);
    if (p->L < TR_L_MIN || p->L > TR_L_MAX)
        return hc_fail(err, HC_E_CORRUPT, "trellis: state bits L = %u not in %d..%d", p->L, TR_L_MIN, TR_L_MAX);
    if (p->flags & ~(TR_FLAG_RHT | TR_FLAG_SLOPE))
        return hc_fail(err, HC_E_CORRUPT, "trellis: unknown flags 0x%x", p->flags);
    if ((p->flags & TR_FLAG_RHT) ? (p->rht_log2 < TR_RHT_MIN_LOG2 || p->rht_log2 > TR_RHT_MAX_LOG2) : p->rht_log2 != 0)
        return hc_fail(err, HC_E_CORRUPT, "trellis: Hadamard block 2^%u with flags 0x%x", p->rht_log2, p->flags);
    if (p->seg_log2 < 10 || p->seg_log2 > 30)
        return hc_fail(err, HC_E_CORRUPT, "trellis: segment of 2^%u weights not in 2^10..2^30", p->seg_log2);
    uint32_t kcap = p->L - 1 < TR_K_MAX ? p->L - 1 : TR_K_MAX;
    if (p->kmin < 1 || p->kmin > p->kmax || p->kmax > kcap)
        return hc_fail(err, HC_E_CORRUPT, "trellis: bits per step %u..%u not within 1..%u", p->kmin, p->kmax, kcap);
    if (p->flags & TR_FLAG_SLOPE) {
        p->slope = b[7];
        if (p->slope > TR_SLOPE_MAX || p->slope == TR_SLOPE_DEFAULT)
            return hc_fail(err, HC_E_CORRUPT, "trellis: water-filling slope %u not in 0..%u (other than %u)", p->slope,
                           TR_SLOPE_MAX, TR_SLOPE_DEFAULT);
    } else {
        p->slope = TR_SLOPE_DEFAULT;
        if (b[7] != 0) return hc_fail(err, HC_E_CORRUPT, "trellis: reserved byte is %u, not 0", b[7]);
    }
    if (!(p->top >= 0) || !isfinite(p->top))
        return hc_fail(err, HC_E_CORRUPT, "trellis: top scale %g is not a finite number >= 0", (double)p->top);
    if (p->offset < -TR_OFFSET_LIM || p->offset > TR_OFFSET_LIM)
        return hc_fail(err, HC_E_CORRUPT, "trellis: rate offset %d out of range", (int)p->offset);
    return HC_OK;
}

uint64_t tr_stream_bits(const tr_params *p, const uint8_t *q, uint64_t n) {
    uint64_t pos = 0, nb = (n + TR_BLOCK - 1) / TR_BLOCK, seg = (uint64_t)1 << p->seg_log2;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t start = b * TR_BLOCK, len = n - start < TR_BLOCK ? n - start : TR_BLOCK;
        uint32_t T = tr_block_bits(p, q[b]);
        if (start % seg == 0) pos += p->L - (T >> 6);
        pos += (len * T) >> 6;
    }
    return pos;
}

/* ===================================================================== */
/* Randomized Hadamard transform                                          */
/* ===================================================================== */

void tr_make_signs(uint32_t seed, uint32_t lg, float *signs) {
    uint32_t x = seed ? seed : 1, B = 1u << lg;
    float mag = (float)(1.0 / sqrt((double)B));
    for (uint32_t i = 0; i < B; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        signs[i] = (x & 1) ? -mag : mag;
    }
}

static void fwht(float *x, uint32_t B) {
    for (uint32_t h = 1; h < B; h <<= 1)
        for (uint32_t i = 0; i < B; i += 2 * h)
            for (uint32_t j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

void tr_rht_forward(float *x, uint32_t lg, const float *signs) {
    uint32_t B = 1u << lg;
    for (uint32_t i = 0; i < B; i++) x[i] *= signs[i];
    fwht(x, B);
}

void tr_rht_inverse(float *x, uint32_t lg, const float *signs) {
    uint32_t B = 1u << lg;
    fwht(x, B);
    for (uint32_t i = 0; i < B; i++) x[i] *= signs[i];
}

/* ===================================================================== */
/* Settings                                                               */
/* ===================================================================== */

/* The level in force (src/common/cpu.h, HYPERC_SIMD); HYPERC_TRELLIS_KERNEL=ref
 * is a debugging knob below it (tests compare the two searches). */
static int isa_for(hc_simd level) {
    const char *e = getenv("HYPERC_TRELLIS_KERNEL");
    if (e && strcmp(e, "ref") == 0) return 0;
    return level >= HC_SIMD_AVX2;
}

static int isa_wanted(void) { return isa_for(hc_simd_level()); }

/* The kernels of a level: the decoder's block products (AVX2 or plain C).
 * Called once, at open, with hc_simd_level(). */
static void trellis_kernels(hc_simd level, tr_decoder *d) { d->isa = isa_for(level); }

/* Ladder: rates 1.5 .. 8 bits per weight in quarter bits (bits = 16 x bpw). */
size_t hc_trellis_ladder(const hc_opts *base, hc_opts *out, size_t max) {
    size_t k = 0;
    for (uint32_t r = 24; r <= 128 && k < max; r += 4) {
        out[k] = *base;
        out[k].bits = r;
        k++;
    }
    return k;
}

double hc_trellis_nominal_bpw(const hc_opts *o) {
    if (o->target_bpw > 0) return o->target_bpw;
    return o->bits ? o->bits / 16.0 : TR_DEFAULT_BPW;
}

/* ===================================================================== */
/* Encoder                                                                */
/* ===================================================================== */

typedef struct tr_bw {
    uint8_t *p;
    uint64_t acc;
    uint32_t n;
} tr_bw;

static inline void bw_put(tr_bw *w, uint32_t v, uint32_t bits) {
    w->acc = (w->acc << bits) | (v & ((bits >= 32) ? 0xffffffffu : ((1u << bits) - 1)));
    w->n += bits;
    while (w->n >= 8) {
        *w->p++ = (uint8_t)(w->acc >> (w->n - 8));
        w->n -= 8;
    }
}

static inline void bw_flush(tr_bw *w) {
    if (w->n) *w->p++ = (uint8_t)(w->acc << (8 - w->n));
    w->n = 0;
}

typedef struct seg_ctx {
    const float *u, *wg;
    const uint8_t *kb;
    uint32_t *st;
    uint64_t n, seg;
    tr_viterbi *vit; /* [threads] */
} seg_ctx;

static void seg_worker(void *p, uint64_t i, int tid) {
    seg_ctx *c = (seg_ctx *)p;
    uint64_t a = i * c->seg, len = c->n - a < c->seg ? c->n - a : c->seg;
    tr_viterbi_segment(&c->vit[tid], c->u + a, c->wg + a, c->kb + a, len, c->st + a);
}

static uint64_t payload_bytes(const tr_params *p, const uint8_t *q, uint64_t n) {
    uint64_t nb = (n + TR_BLOCK - 1) / TR_BLOCK;
    return tr_scale_bytes(nb) + (tr_stream_bits(p, q, n) + 7) / 8;
}

/* The transform: along the rows (cols, when known), blocks of the largest
 * power of two dividing them; not for tensors with >= 1% zeros. */
static void tr_encode_transform(float *t, uint64_t n, uint64_t cols, uint64_t zeros, const hc_opts *o, tr_params *p) {
    if (zeros * 100 < n && !o->no_transform && !getenv("HYPERC_TRELLIS_NO_RHT")) {
        uint64_t c = (cols > 0 && n % cols == 0) ? cols : n;
        uint32_t lg = 0;
        while (lg < TR_RHT_MAX_LOG2 && c % ((uint64_t)2 << lg) == 0) lg++;
        /* rows of no large power of two (172 = 4 x 43): blocks along the
         * flat tensor, across row ends (the product then decodes first) */
        if (lg < TR_RHT_MIN_LOG2)
            for (lg = 0; lg < TR_RHT_MAX_LOG2 && n % ((uint64_t)2 << lg) == 0;) lg++;
        if (lg >= TR_RHT_MIN_LOG2) {
            p->flags |= TR_FLAG_RHT;
            p->rht_log2 = lg;
            float signs[1u << TR_RHT_MAX_LOG2];
            tr_make_signs(p->seed, lg, signs);
            for (uint64_t a = 0; a < n; a += (uint64_t)1 << lg) tr_rht_forward(t + a, lg, signs);
        }
    }
}

/* Block scales from the RMS, 1/8 octave below the largest: p->top and q[nb]. */
hc_status tr_encode_scales(const float *t, uint64_t n, uint64_t nb, tr_params *p, uint8_t *q, hc_error *err) {
    double top = 0;
    double *rmsb = malloc(sizeof(double) * nb);
    if (!rmsb) return hc_fail(err, HC_E_NOMEM, "trellis: out of memory");
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t a = b * TR_BLOCK, len = n - a < TR_BLOCK ? n - a : TR_BLOCK;
        double ss = 0;
        for (uint64_t j = 0; j < len; j++) ss += (double)t[a + j] * t[a + j];
        rmsb[b] = sqrt(ss / (double)len);
        if (rmsb[b] > top) top = rmsb[b];
    }
    p->top = (float)top;
    for (uint64_t b = 0; b < nb; b++) {
        long c = rmsb[b] > 0 && top > 0 ? 63 + lround(8.0 * log2(rmsb[b] / (double)p->top)) : 0;
        q[b] = (uint8_t)(c < 0 ? 0 : c > 63 ? 63 : c);
    }
    free(rmsb);
    return HC_OK;
}

/* Water-filling: the largest offset whose size meets the rate R. */
void tr_encode_offset(tr_params *p, const uint8_t *q, uint64_t n, double R) {
    double budget = R * (double)n;
    int32_t lo = -64 * TR_K_MAX - 8 * 63 - 64, hi = 64 * TR_K_MAX + 64;
    p->offset = lo;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        p->offset = mid;
        double bits = 8.0 * (double)(payload_bytes(p, q, n) + TR_PARAMS_BYTES);
        if (bits <= budget) lo = mid;
        else hi = mid - 1;
    }
    p->offset = lo;
}

/* The search's inputs: each weight's step bits kb, scaled target u and weight wg. */
static void tr_encode_targets(const tr_params *p, const uint8_t *q, const float *t, uint64_t n, uint64_t nb,
                              uint8_t *kb, float *u, float *wg) {
    const float topf = p->top;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t a = b * TR_BLOCK, len = n - a < TR_BLOCK ? n - a : TR_BLOCK;
        uint32_t T = tr_block_bits(p, q[b]);
        float sc = tr_scale(p, q[b]) * tr_gain(T);
        float r = topf > 0 ? sc / topf : 0;
        float wgt = sc > 0 ? r * r : 0;
        for (uint64_t j = 0; j < len; j++) {
            kb[a + j] = (uint8_t)tr_step_bits(T, (uint32_t)j);
            u[a + j] = sc > 0 ? t[a + j] / sc : 0;
            wg[a + j] = wgt;
        }
    }
}

/* The search, segment by segment, on o->threads threads: the states st[n]. */
static hc_status tr_encode_search(const tr_params *p, const hc_opts *o, const float *u, const float *wg,
                                  const uint8_t *kb, uint64_t n, uint32_t *st, hc_error *err) {
    uint64_t seg = (uint64_t)1 << p->seg_log2, nseg = (n + seg - 1) / seg;
    int threads = o->threads > 1 ? (int)(o->threads < 64 ? o->threads : 64) : 1;
    if ((uint64_t)threads > nseg) threads = (int)nseg;
    tr_viterbi *vit = calloc((size_t)threads, sizeof *vit);
    if (!vit) return hc_fail(err, HC_E_NOMEM, "trellis: out of memory");
    hc_status s = HC_OK;
    int isa = isa_wanted();
    for (int i = 0; i < threads; i++)
        if (!tr_viterbi_init(&vit[i], p->L, isa)) {
            s = hc_fail(err, HC_E_NOMEM, "trellis: out of memory for the search at L = %u", p->L);
            goto done;
        }
    seg_ctx sc = {u, wg, kb, st, n, seg, vit};
    hc_parallel_for(threads, nseg, seg_worker, &sc);
done:
    for (int i = 0; i < threads; i++) tr_viterbi_free(&vit[i]);
    free(vit);
    return s;
}

/* The payload: the block scales, then each segment's start state and each
 * weight's step bits. */
hc_status tr_encode_payload(const tr_params *p, const uint8_t *q, const uint32_t *st, const uint8_t *kb, uint64_t n,
                            uint64_t nb, hc_encoded *out, hc_error *err) {
    uint64_t seg = (uint64_t)1 << p->seg_log2;
    uint64_t len = payload_bytes(p, q, n);
    out->payload = calloc(1, (size_t)len);
    if (!out->payload)
        return hc_fail(err, HC_E_NOMEM, "trellis: cannot allocate %llu payload bytes", (unsigned long long)len);
    out->payload_len = len;
    tr_bw bw = {out->payload, 0, 0};
    for (uint64_t b = 0; b < nb; b++) bw_put(&bw, q[b], TR_SBITS);
    bw_flush(&bw);
    for (uint64_t i = 0; i < n; i++) {
        if (i % seg == 0) bw_put(&bw, st[i], p->L);
        else bw_put(&bw, st[i], kb[i]);
    }
    bw_flush(&bw);
    if ((uint64_t)(bw.p - out->payload) != len)
        return hc_fail(err, HC_E_LIMIT, "trellis: wrote %llu payload bytes, expected %llu",
                       (unsigned long long)(bw.p - out->payload), (unsigned long long)len);
    return HC_OK;
}

hc_status tr_encode_finish(tr_params *p, const float *w, uint64_t n, int ex, float amax, hc_encoded *out,
                           hc_error *err) {
    p->top = (float)ldexp((double)p->top, ex);
    if (!isfinite(p->top))
        return hc_encode_lossless(w, n, out, err, "|w| up to %.3g: trellis scales exceed float32", (double)amax);
    out->codec = HC_CODEC_TRELLIS;
    out->params_len = tr_params_write(p, out->params);
    return hc_encoded_measure(w, n, out, err);
}

void tr_encode_params_init(tr_params *p, uint32_t L, const hc_opts *o, uint64_t n) {
    memset(p, 0, sizeof *p);
    p->L = L;
    p->seg_log2 = TR_SEG_LOG2;
    p->kmin = 1;
    p->kmax = L - 4 < TR_K_MAX ? L - 4 : TR_K_MAX;
    p->seed = TR_SEED;
    p->slope = tr_encode_slope(o, n);
    if (p->slope != TR_SLOPE_DEFAULT) p->flags |= TR_FLAG_SLOPE;
}

static hc_status trellis_encode_with(const float *w, uint64_t n, const hc_opts *o, uint64_t cols, hc_encoded *out,
                                     hc_error *err) {
    uint32_t L = o->effort ? o->effort : TR_L_DEFAULT;
    if (L < TR_L_MIN || L > TR_L_MAX)
        return hc_fail(err, HC_E_ARG, "trellis: effort (state bits) %u not in %d..%d", L, TR_L_MIN, TR_L_MAX);
    double R = hc_trellis_nominal_bpw(o);
    if (!(R > 0) || R > 64) return hc_fail(err, HC_E_ARG, "trellis: rate %g bits per weight out of range", R);
    if (n == 0) return hc_fail(err, HC_E_ARG, "trellis: empty tensor");
    uint64_t bad = hc_first_nonfinite(w, n);
    if (bad < n) return hc_encode_lossless(w, n, out, err, "holds NaN/Inf (weight %llu)", (unsigned long long)bad);
    if ((uint64_t)(size_t)n != n || n > ((uint64_t)1 << 40))
        return hc_fail(err, HC_E_LIMIT, "trellis: tensor of %llu weights too large", (unsigned long long)n);
    float amax = hc_abs_max(w, n);
    int ex = amax > 0 ? ilogbf(amax) + 1 : 0;
    const uint64_t nb = (n + TR_BLOCK - 1) / TR_BLOCK;
    float *t = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * n), *wg = malloc(sizeof(float) * n);
    uint8_t *kb = malloc(n), *q = malloc(nb);
    uint32_t *st = malloc(sizeof(uint32_t) * n);
    hc_status s = HC_OK;
    if (!t || !u || !wg || !kb || !q || !st) {
        s = hc_fail(err, HC_E_NOMEM, "trellis: out of memory for %llu weights", (unsigned long long)n);
        goto done;
    }
    uint64_t zeros = 0;
    for (uint64_t i = 0; i < n; i++) {
        t[i] = ldexpf(w[i], -ex);
        zeros += w[i] == 0;
    }
    tr_params p;
    tr_encode_params_init(&p, L, o, n);
    tr_encode_transform(t, n, cols, zeros, o, &p);
    if ((s = tr_encode_scales(t, n, nb, &p, q, err)) != HC_OK) goto done;
    tr_encode_offset(&p, q, n, R);
    tr_encode_targets(&p, q, t, n, nb, kb, u, wg);
    if ((s = tr_encode_search(&p, o, u, wg, kb, n, st, err)) != HC_OK) goto done;
    if ((s = tr_encode_payload(&p, q, st, kb, n, nb, out, err)) != HC_OK) goto done;
    s = tr_encode_finish(&p, w, n, ex, amax, out, err);
done:
    free(t);
    free(u);
    free(wg);
    free(kb);
    free(q);
    free(st);
    return s;
}

static hc_status trellis_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    return trellis_encode_with(w, n, o, o->cols, out, err);
}

/* ===================================================================== */
/* Decoder                                                                */
/* ===================================================================== */

/* Bit position before the first step of block b. */
static uint64_t block_pos(const tr_decoder *d, uint64_t b) {
    uint64_t g = b / TR_GROUP_BLOCKS, pos = d->goff[g];
    for (uint64_t x = g * TR_GROUP_BLOCKS; x < b; x++) pos += tr_block_bits(&d->p, d->q[x]);
    return pos;
}

/* States of steps [j0, j1) of block b (pos: block_pos). */
static inline void block_states(const tr_decoder *d, uint64_t pos, uint32_t T, uint32_t j0, uint32_t j1,
                                uint32_t *st) {
    const uint32_t L = d->p.L;
    for (uint32_t j = j0; j < j1; j++)
        st[j - j0] = tr_get_bits(d->stream, d->stream_len, pos + (((j + 1) * T) >> 6) - L, L);
}

void tr_decode_raw(const tr_decoder *d, uint64_t start, uint64_t count, float *out) {
    uint64_t i = start, end = start + count;
    uint32_t st[TR_BLOCK];
    if (d->isa == 1 && d->pat && i % TR_BLOCK == 0 && end - i >= TR_BLOCK) { /* whole blocks: AVX2 */
        uint64_t b = i / TR_BLOCK;
        i += TR_BLOCK * tr_blocks_decode_avx2(d, b, (end - i) / TR_BLOCK, block_pos(d, b), out);
    }
    while (i < end) {
        uint64_t b = i / TR_BLOCK, a = b * TR_BLOCK;
        uint32_t j0 = (uint32_t)(i - a), j1 = (uint32_t)(end - a < TR_BLOCK ? end - a : TR_BLOCK);
        uint32_t T = tr_block_bits(&d->p, d->q[b]);
        float sc = d->stab[d->q[b]] * d->gtab[T];
        uint64_t pos = block_pos(d, b);
        if (d->isa == 1 && ((pos + T - d->p.L) >> 3) + 16 <= d->stream_len) {
            tr_block_decode_avx2(d->stream, pos, T, d->p.L, j0, j1 - j0, sc, out + (i - start));
        } else {
            block_states(d, pos, T, j0, j1, st);
            for (uint32_t j = j0; j < j1; j++) out[i - start + j - j0] = sc * tr_val(st[j - j0]);
        }
        i = a + j1;
    }
}

static void tr_decode(const hc_decoder *dd, uint64_t start, uint64_t count, float *out) {
    const tr_decoder *d = (const tr_decoder *)dd;
    if (!d->signs) {
        tr_decode_raw(d, start, count, out);
        return;
    }
    const uint32_t lg = d->p.rht_log2;
    const uint64_t B = (uint64_t)1 << lg, end = start + count;
    float buf[4096];
    for (uint64_t a = start & ~(B - 1); a < end; a += 4096) {
        uint64_t len = d->base.n - a < 4096 ? d->base.n - a : 4096; /* n is a multiple of B */
        if (a + len > ((end + B - 1) & ~(B - 1))) len = ((end + B - 1) & ~(B - 1)) - a;
        tr_decode_raw(d, a, len, buf);
        for (uint64_t x = 0; x < len; x += B) {
            if (d->isa == 1 && lg >= 3) tr_rht_inverse_avx2(buf + x, lg, d->signs);
            else tr_rht_inverse(buf + x, lg, d->signs);
        }
        uint64_t lo = a > start ? a : start, hi = a + len < end ? a + len : end;
        memcpy(out + (lo - start), buf + (lo - a), sizeof(float) * (hi - lo));
    }
}

/* Row products over the transformed rows: y_r = t_r . RHT(x). */
static void tr_matvec(const hc_decoder *dd, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y) {
    const tr_decoder *d = (const tr_decoder *)dd;
    const uint64_t B = d->signs ? (uint64_t)1 << d->p.rht_log2 : 1;
    float *xt = NULL;
    if (cols % B == 0) xt = malloc(sizeof(float) * (cols ? cols : 1));
    if (!xt) {
        hc_matvec_ref(dd, cols, row0, row1, x, y);
        return;
    }
    memcpy(xt, x, sizeof(float) * cols);
    if (d->signs)
        for (uint64_t a = 0; a < cols; a += B) tr_rht_forward(xt + a, d->p.rht_log2, d->signs);
    uint32_t st[TR_BLOCK];
    /* whole-block rows (cols a multiple of 64) by the AVX2 row kernel */
    const int rowk = d->isa == 1 && d->pat && cols % TR_BLOCK == 0;
    for (uint64_t r = row0; r < row1; r++) {
        uint64_t i = r * cols, end = i + cols;
        double acc = 0;
        uint64_t b = i / TR_BLOCK, pos = block_pos(d, b);
        if (rowk) {
            uint64_t done = tr_row_dot_avx2(d, b, cols / TR_BLOCK, pos, xt, NULL, &acc);
            if (done == cols / TR_BLOCK) {
                y[r - row0] = (float)acc;
                continue;
            }
            i += TR_BLOCK * done;
            b += done;
            pos = block_pos(d, b);
        }
        while (i < end) {
            uint64_t a = b * TR_BLOCK;
            uint32_t j0 = (uint32_t)(i - a), j1 = (uint32_t)(end - a < TR_BLOCK ? end - a : TR_BLOCK);
            uint32_t T = tr_block_bits(&d->p, d->q[b]);
            const float *xx = xt + (i - r * cols);
            float part;
            if (d->isa == 1 && ((pos + T - d->p.L) >> 3) + 16 <= d->stream_len) {
                part = tr_block_dot_avx2(d->stream, pos, T, d->p.L, j0, j1 - j0, xx);
            } else if (d->isa == 1) {
                block_states(d, pos, T, j0, j1, st);
                part = tr_dot_avx2(st, xx, j1 - j0);
            } else {
                block_states(d, pos, T, j0, j1, st);
                part = 0;
                for (uint32_t j = 0; j < j1 - j0; j++) part += tr_val(st[j]) * xx[j];
            }
            acc += (double)(d->stab[d->q[b]] * d->gtab[T] * part);
            i = a + j1;
            b++;
            if (b % TR_GROUP_BLOCKS == 0) {
                if (i < end) pos = d->goff[b / TR_GROUP_BLOCKS];
            } else {
                pos += T;
            }
        }
        y[r - row0] = (float)acc;
    }
    free(xt);
}

static void tr_destroy(hc_decoder *dd) {
    tr_decoder *d = (tr_decoder *)dd;
    free(d->q);
    free(d->goff);
    free(d->signs);
    free(d->pat);
    free(d);
}

static hc_status trellis_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                              uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype;
    *out = NULL;
    tr_params p;
    hc_status s = tr_params_read(params, params_len, &p, err);
    if (s) return s;
    if (n == 0) return hc_fail(err, HC_E_CORRUPT, "trellis: tensor of 0 weights");
    if ((p.flags & TR_FLAG_RHT) && n % ((uint64_t)1 << p.rht_log2))
        return hc_fail(err, HC_E_CORRUPT, "trellis: %llu weights are not a multiple of the Hadamard block 2^%u",
                       (unsigned long long)n, p.rht_log2);
    const uint64_t nb = (n + TR_BLOCK - 1) / TR_BLOCK, sb = tr_scale_bytes(nb);
    if (n > ((uint64_t)1 << 50) || payload_len < sb)
        return hc_fail(err, HC_E_CORRUPT, "trellis: payload of %llu bytes is shorter than the %llu scale bytes",
                       (unsigned long long)payload_len, (unsigned long long)sb);
    /* every weight spends at least kmin bits: refuse a payload too short
     * for n before allocating tables that grow with n */
    if ((payload_len - sb) < (n / 8) * p.kmin)
        return hc_fail(err, HC_E_CORRUPT, "trellis: payload of %llu bytes is too short for %llu weights",
                       (unsigned long long)payload_len, (unsigned long long)n);
    tr_decoder *d = calloc(1, sizeof *d);
    if (!d) return hc_fail(err, HC_E_NOMEM, "trellis: out of memory");
    d->base.codec = HC_CODEC_TRELLIS;
    d->base.n = n;
    d->base.decode = tr_decode;
    d->base.matvec = tr_matvec;
    d->base.destroy = tr_destroy;
    d->p = p;
    d->nblocks = nb;
    uint64_t ng = (nb + TR_GROUP_BLOCKS - 1) / TR_GROUP_BLOCKS;
    d->q = malloc(nb);
    d->goff = malloc(sizeof(uint64_t) * ng);
    if ((p.flags & TR_FLAG_RHT)) d->signs = malloc(sizeof(float) << p.rht_log2);
    if (!d->q || !d->goff || ((p.flags & TR_FLAG_RHT) && !d->signs)) {
        tr_destroy(&d->base);
        return hc_fail(err, HC_E_NOMEM, "trellis: out of memory for a tensor of %llu weights", (unsigned long long)n);
    }
    for (uint64_t b = 0; b < nb; b++) d->q[b] = (uint8_t)tr_get_bits(payload, sb, b * TR_SBITS, TR_SBITS);
    uint64_t pos = 0, seg = (uint64_t)1 << p.seg_log2;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t start = b * TR_BLOCK, len = n - start < TR_BLOCK ? n - start : TR_BLOCK;
        uint32_t T = tr_block_bits(&p, d->q[b]);
        if (start % seg == 0) pos += p.L - (T >> 6);
        if (b % TR_GROUP_BLOCKS == 0) d->goff[b / TR_GROUP_BLOCKS] = pos;
        pos += (len * T) >> 6;
    }
    uint64_t need = sb + (pos + 7) / 8;
    if (need != payload_len) {
        tr_destroy(&d->base);
        return hc_fail(err, HC_E_CORRUPT, "trellis: payload is %llu bytes, expected %llu for %llu weights",
                       (unsigned long long)payload_len, (unsigned long long)need, (unsigned long long)n);
    }
    d->stream = payload + sb;
    d->stream_len = payload_len - sb;
    for (uint32_t c = 0; c < 64; c++) d->stab[c] = tr_scale(&p, c);
    for (uint32_t T = 0; T <= 64 * TR_K_MAX; T++) d->gtab[T] = tr_gain(T);
    if (d->signs) tr_make_signs(p.seed, p.rht_log2, d->signs);
    trellis_kernels(hc_simd_level(), d);
    if (d->isa == 1 && !tr_patterns_build(d)) {
        free(d->pat); /* the per-block kernel instead */
        d->pat = NULL;
    }
    *out = &d->base;
    return HC_OK;
}

/* ===================================================================== */
/* Settings: options, rate ladder, the tools' constants (codec.h)         */
/* ===================================================================== */

HC_OPT_SETTER_U32(set_bits, bits)

static hc_status set_effort(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    char *end;
    unsigned long u = 0;
    if (strcmp(v->text, "max") == 0)
        o->effort = TR_L_MAX_EFFORT;
    else if (strcmp(v->text, "default") == 0)
        o->effort = TR_L_DEFAULT;
    else if (v->text[0] >= '0' && v->text[0] <= '9' && (u = strtoul(v->text, &end, 10), !*end) && u >= TR_L_MIN &&
             u <= TR_L_MAX)
        o->effort = (uint32_t)u;
    else
        return hc_fail(err, HC_E_ARG, "%s is not a trellis effort: 12, 14, 16, max or default (any L in %d..%d)",
                       v->spelled, TR_L_MIN, TR_L_MAX);
    return HC_OK;
}

static hc_status set_rht(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    (void)err;
    o->no_transform = v->u ? 0 : 1;
    return HC_OK;
}

static hc_status set_slope(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    (void)err;
    o->tr_slope = (uint32_t)v->u + 1;
    return HC_OK;
}

static const hc_opt_def trellis_options[] = {
    {"--bits", "bits", NULL, HC_OPTK_UINT, 16, 128, 1, set_bits, "B", "bits per weight x 16 (64 = 4 bpw), 16..128", 0,
     0},
    {"--effort", "effort", NULL, HC_OPTK_TEXT, 0, 0, 0, set_effort, "LEVEL",
     "state bits L: 12 (default), 14, 16, max (= 16); 8..20", 0, 0},
    {"--rht", "rht", NULL, HC_OPTK_UINT, 0, 1, 0, set_rht, "0|1",
     "randomized Hadamard transform of the rows (1, default) or none (0)", 0, 0},
    {"--slope", "slope", NULL, HC_OPTK_UINT, 0, TR_SLOPE_MAX, 0, set_slope, "S",
     "water-filling: block bits per 1/8 octave of block scale, 0..16 (8: one bit per weight per octave; 0: one rate)",
     0, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0},
};

/* the setting's own rate (a ladder entry carries the user's budget too) */
static double trellis_ladder_bpw(const hc_opts *o, int lowest) {
    (void)lowest;
    hc_opts t = *o;
    t.target_bpw = t.target_snr = 0;
    return hc_trellis_nominal_bpw(&t);
}

/* 2 to 4.5 bits per weight at the default effort (bits = 16 x bpw) */
static const char *const trellis_rd_settings[] = {
    "trellis:bits=32", "trellis:bits=40", "trellis:bits=48", "trellis:bits=56", "trellis:bits=64", "trellis:bits=72",
    NULL,
};

const hc_codec_vt hc_codec_trellis_vt = {
    .id = HC_CODEC_TRELLIS,
    .name = "trellis",
    .encode = trellis_encode,
    .encode_matrix = tr_encode_matrix,
    .open = trellis_open,
    .ladder = hc_trellis_ladder,
    .ladder_bpw = trellis_ladder_bpw,
    .options = trellis_options,
    .rd_settings = trellis_rd_settings,
    .rd_colour = "#9467bd",
    .rd_targets = 1,
};
