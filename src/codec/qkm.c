/* qkm.c — the k-quant-like baseline: b-bit codes (b = 2..8) with a scale AND
 * a minimum per sub-block, in the spirit of ggml's Q4_K/Q5_K (own layout).
 *
 * Weights are cut into super-blocks of 8 sub-blocks of `block` weights
 * (default 32, so 256 per super-block). Sub-block j of a super-block decodes
 * as   w = (d * sc[j]) * q - (dmin * mn[j]),   q in [0, 2^b - 1],
 * where d and dmin are fp16 per super-block and sc[j], mn[j] are 6-bit
 * integers. A super-block is a 16-byte head (qkm_head) followed by
 * 8 * block * b / 8 bytes of codes packed LSB-first; with block 32 that is
 * b + 0.5 bits per weight. The last super-block is truncated after the codes
 * of the weights it holds. Parameters (3 bytes): b, then block as u16.
 *
 * The encoder searches each sub-block's (scale, min) for least squared error
 * (not plain min/max): a sweep of candidate step sizes around range/(2^b-1),
 * each followed by the closed-form least-squares fit of scale and offset to
 * the codes it assigns; then, once the 6-bit grids are fixed, a local search
 * over the neighbouring grid values of sc[j] and mn[j]. */
#include "codec.h"
#include "options.h"
#include "../common/util.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>

#define QKM_SUBS 8            /* sub-blocks per super-block          */
#define QKM_PARAMS_LEN 3
#define QKM_BLOCK_MIN 8
#define QKM_BLOCK_MAX 1024

typedef struct __attribute__((packed)) qkm_head {
    uint8_t d[2];     /* fp16 super-scale of the sub-block scales (>= 0)   */
    uint8_t dmin[2];  /* fp16 super-scale of the sub-block minimums (>= 0) */
    uint8_t sm[12];   /* [16] 6-bit fields LSB-first: sc[0..7], mn[0..7]   */
} qkm_head;
static_assert(sizeof(qkm_head) == 16, "qkm super-block head must be 16 bytes");

typedef struct qkm_layout {
    uint32_t bits, block;
    uint64_t super_weights;   /* QKM_SUBS * block                  */
    uint64_t super_bytes;     /* head + codes of a full super-block */
} qkm_layout;

static void qkm_layout_init(qkm_layout *L, uint32_t bits, uint32_t block) {
    L->bits = bits;
    L->block = block;
    L->super_weights = (uint64_t)QKM_SUBS * block;
    L->super_bytes = sizeof(qkm_head) + (uint64_t)block * bits; /* 8*block*bits/8 */
}

/* Payload bytes for n weights; 0 on overflow. */
static uint64_t qkm_payload_len(const qkm_layout *L, uint64_t n) {
    uint64_t full = n / L->super_weights, rem = n % L->super_weights, bytes;
    if (!hc_mul_ok(full, L->super_bytes, &bytes)) return 0;
    if (rem) {
        uint64_t tail = sizeof(qkm_head) + (rem * L->bits + 7) / 8;
        if (bytes > UINT64_MAX - tail) return 0;
        bytes += tail;
    }
    return bytes;
}

/* ---- bit fields ------------------------------------------------------------ */

/* `bits` (<= 8) wide field at bit position pos, LSB-first; touches the second
 * byte only when the field crosses into it. */
static inline uint32_t get_field(const uint8_t *p, uint64_t pos, uint32_t bits) {
    uint32_t sh = (uint32_t)(pos & 7);
    uint32_t v = p[pos >> 3] >> sh;
    if (sh + bits > 8) v |= (uint32_t)p[(pos >> 3) + 1] << (8 - sh);
    return v & ((1u << bits) - 1);
}

static inline void put_field(uint8_t *p, uint64_t pos, uint32_t bits, uint32_t v) {
    uint32_t sh = (uint32_t)(pos & 7);
    p[pos >> 3] |= (uint8_t)(v << sh);
    if (sh + bits > 8) p[(pos >> 3) + 1] |= (uint8_t)(v >> (8 - sh));
}

/* Scale and minimum of sub-block j, as float, exactly as the decoder forms
 * them (the encoder uses the same function so both agree bit for bit). */
static inline void sub_scale_min(const uint8_t *head, uint32_t j, float *scale, float *minv) {
    float d = hc_f16_to_f32(hc_get_u16(head));
    float dmin = hc_f16_to_f32(hc_get_u16(head + 2));
    *scale = d * (float)get_field(head + 4, 6u * j, 6);
    *minv = dmin * (float)get_field(head + 4, 6u * (QKM_SUBS + j), 6);
}

/* ---- decoding ---------------------------------------------------------------- */

typedef struct qkm_decoder {
    hc_decoder base;
    const uint8_t *payload;
    qkm_layout L;
} qkm_decoder;

/* One piece of a weight range that lies inside a single sub-block. */
typedef struct qkm_piece {
    const uint8_t *head;  /* the super-block's head          */
    const uint8_t *codes; /* the super-block's codes          */
    uint32_t j;           /* sub-block within the super-block */
    uint32_t o;           /* offset of the piece's first weight in the super-block */
    uint32_t k;           /* weights in the piece             */
} qkm_piece;

static inline void qkm_piece_at(const qkm_decoder *q, uint64_t i, uint64_t end, qkm_piece *pc) {
    uint64_t sbi = i / q->L.super_weights;
    pc->o = (uint32_t)(i % q->L.super_weights);
    pc->j = pc->o / q->L.block;
    uint32_t left = (pc->j + 1) * q->L.block - pc->o;
    pc->k = (uint32_t)(end - i < left ? end - i : left);
    pc->head = q->payload + sbi * q->L.super_bytes;
    pc->codes = pc->head + sizeof(qkm_head);
}

static void qkm_decode(const hc_decoder *d, uint64_t start, uint64_t count, float *out) {
    const qkm_decoder *q = (const qkm_decoder *)d;
    const uint32_t bits = q->L.bits;
    qkm_piece pc;
    for (uint64_t i = start, end = start + count; i < end; i += pc.k) {
        qkm_piece_at(q, i, end, &pc);
        float scale, minv;
        sub_scale_min(pc.head, pc.j, &scale, &minv);
        for (uint32_t t = 0; t < pc.k; t++)
            *out++ = scale * (float)get_field(pc.codes, (uint64_t)(pc.o + t) * bits, bits) - minv;
    }
}

/* Row products: per piece, sum q*x and x separately, then scale*Σqx - min*Σx. */
static void qkm_matvec(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                       float *y) {
    const qkm_decoder *q = (const qkm_decoder *)d;
    const uint32_t bits = q->L.bits;
    for (uint64_t r = row0; r < row1; r++) {
        const float *xp = x;
        float acc = 0;
        qkm_piece pc;
        for (uint64_t i = r * cols, end = i + cols; i < end; i += pc.k) {
            qkm_piece_at(q, i, end, &pc);
            float scale, minv, sqx = 0, sx = 0;
            sub_scale_min(pc.head, pc.j, &scale, &minv);
            for (uint32_t t = 0; t < pc.k; t++) {
                sqx += (float)get_field(pc.codes, (uint64_t)(pc.o + t) * bits, bits) * xp[t];
                sx += xp[t];
            }
            acc += scale * sqx - minv * sx;
            xp += pc.k;
        }
        y[r - row0] = acc;
    }
}

static void qkm_destroy(hc_decoder *d) { free(d); }

static hc_status qkm_check_shape(uint32_t bits, uint32_t block, hc_error *err) {
    if (bits < 2 || bits > 8) return hc_fail(err, HC_E_ARG, "qkm codec: bits must be 2..8, got %u", bits);
    if (block < QKM_BLOCK_MIN || block > QKM_BLOCK_MAX || block % 8 != 0)
        return hc_fail(err, HC_E_ARG, "qkm codec: block must be a multiple of 8 in %d..%d, got %u", QKM_BLOCK_MIN,
                       QKM_BLOCK_MAX, block);
    return HC_OK;
}

static hc_status qkm_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                          uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype;
    *out = NULL;
    if (params_len != QKM_PARAMS_LEN)
        return hc_fail(err, HC_E_CORRUPT, "qkm codec: expected %d parameter bytes, found %u", QKM_PARAMS_LEN,
                       params_len);
    uint32_t bits = params[0], block = hc_get_u16(params + 1);
    if (bits < 2 || bits > 8 || block < QKM_BLOCK_MIN || block > QKM_BLOCK_MAX || block % 8 != 0)
        return hc_fail(err, HC_E_CORRUPT, "qkm codec: bad parameters (bits %u, block %u)", bits, block);
    qkm_layout L;
    qkm_layout_init(&L, bits, block);
    uint64_t need = qkm_payload_len(&L, n);
    if (n == 0 || need == 0 || need != payload_len)
        return hc_fail(err, HC_E_CORRUPT, "qkm codec: payload is %llu bytes, %llu weights at %u bits need %llu",
                       (unsigned long long)payload_len, (unsigned long long)n, bits, (unsigned long long)need);
    qkm_decoder *q = calloc(1, sizeof *q);
    if (!q) return hc_fail(err, HC_E_NOMEM, "qkm codec: out of memory");
    q->base.codec = HC_CODEC_QKM;
    q->base.n = n;
    q->base.decode = qkm_decode;
    q->base.matvec = qkm_matvec;
    q->base.destroy = qkm_destroy;
    q->payload = payload;
    q->L = L;
    *out = &q->base;
    return HC_OK;
}

/* ---- encoding: per sub-block search ---------------------------------------- */

/* Best (scale >= 0, minv >= 0) with x ≈ scale*q - minv, q in [0, nmax]. */
static void fit_sub_block(const float *x, uint32_t k, uint32_t nmax, float *scale_out, float *min_out) {
    float lo = x[0], hi = x[0];
    double sx = 0, sxx = 0;
    for (uint32_t t = 0; t < k; t++) {
        if (x[t] < lo) lo = x[t];
        if (x[t] > hi) hi = x[t];
        sx += x[t];
        sxx += (double)x[t] * x[t];
    }
    if (lo > 0) lo = 0; /* the minimum is stored as a non-negative offset */
    if (hi <= lo) {
        *scale_out = 0;
        *min_out = -lo;
        return;
    }
    double best_s = (hi - lo) / nmax, best_b = lo, best_e = INFINITY;
    /* candidate steps: nmax-1 .. nmax+1 levels across the range, in 1/8ths */
    for (int c = -8; c <= 8; c++) {
        double iscale = ((double)nmax + c / 8.0) / (hi - lo);
        double sq = 0, sqq = 0, sqx = 0;
        for (uint32_t t = 0; t < k; t++) {
            double v = floor((x[t] - lo) * iscale + 0.5);
            if (v < 0) v = 0;
            if (v > nmax) v = nmax;
            sq += v;
            sqq += v * v;
            sqx += v * x[t];
        }
        /* least squares of x ≈ s*q + b over this assignment, with b <= 0 */
        double det = k * sqq - sq * sq, s, b;
        if (det <= 0) continue;
        s = (k * sqx - sq * sx) / det;
        b = (sqq * sx - sq * sqx) / det;
        if (b > 0) {
            b = 0;
            s = sqx / sqq;
        }
        if (!(s > 0)) continue;
        double e = s * s * sqq + 2 * s * b * sq + k * b * b - 2 * s * sqx - 2 * b * sx + sxx;
        if (e < best_e) {
            best_e = e;
            best_s = s;
            best_b = b;
        }
    }
    *scale_out = (float)best_s;
    *min_out = (float)-best_b;
}

/* Codes for x given the final (scale, minv); returns the squared error. */
static double assign_codes(const float *x, uint32_t k, uint32_t nmax, float scale, float minv, uint8_t *q) {
    float inv = scale > 0 ? 1.0f / scale : 0.0f;
    double e = 0;
    for (uint32_t t = 0; t < k; t++) {
        float v = roundf((x[t] + minv) * inv);
        if (v < 0) v = 0;
        if (v > (float)nmax) v = (float)nmax;
        q[t] = (uint8_t)v;
        double r = (double)(scale * v - minv) - x[t];
        e += r * r;
    }
    return e;
}

static int clamp63(long v) { return v < 0 ? 0 : v > 63 ? 63 : (int)v; }

/* Encodes one super-block of m <= 8*block weights into sb (zeroed). Returns
 * 0 when a super-scale does not fit in fp16. */
static int encode_super(const qkm_layout *L, const float *x, uint64_t m, uint8_t *sb, uint8_t *qbuf) {
    const uint32_t nmax = (1u << L->bits) - 1;
    uint32_t nsub = (uint32_t)((m + L->block - 1) / L->block);
    float scale[QKM_SUBS], minv[QKM_SUBS], smax = 0, mmax = 0;
    for (uint32_t j = 0; j < nsub; j++) {
        uint32_t k = (uint32_t)(m - (uint64_t)j * L->block < L->block ? m - (uint64_t)j * L->block : L->block);
        fit_sub_block(x + (uint64_t)j * L->block, k, nmax, &scale[j], &minv[j]);
        if (scale[j] > smax) smax = scale[j];
        if (minv[j] > mmax) mmax = minv[j];
    }
    uint16_t dh = hc_f32_to_f16(smax / 63.0f), mh = hc_f32_to_f16(mmax / 63.0f);
    float d = hc_f16_to_f32(dh), dmin = hc_f16_to_f32(mh);
    if (!isfinite(d) || !isfinite(dmin)) return 0;
    hc_put_u16(sb, dh);
    hc_put_u16(sb + 2, mh);
    uint8_t *codes = sb + sizeof(qkm_head);
    for (uint32_t j = 0; j < nsub; j++) {
        uint32_t k = (uint32_t)(m - (uint64_t)j * L->block < L->block ? m - (uint64_t)j * L->block : L->block);
        const float *xj = x + (uint64_t)j * L->block;
        /* the 6-bit grid values nearest the fitted pair are not the best
         * pair on the grid: try the neighbouring scales, and for each refit
         * the minimum to the codes it gives (least squares, then the grid) */
        long sc0 = d > 0 ? lroundf(scale[j] / d) : 0, mn0 = dmin > 0 ? lroundf(minv[j] / dmin) : 0;
        int best_sc = clamp63(sc0), best_mn = clamp63(mn0);
        double best_e = INFINITY;
        for (long ds = -1; ds <= 1; ds++) {
            int sc = clamp63(sc0 + ds), mn = clamp63(mn0);
            for (int pass = 0; pass < 3; pass++) {
                float fs = d * (float)sc;
                double e = assign_codes(xj, k, nmax, fs, dmin * (float)mn, qbuf);
                if (e < best_e) {
                    best_e = e;
                    best_sc = sc;
                    best_mn = mn;
                }
                double mfit = 0;
                for (uint32_t t = 0; t < k; t++) mfit += (double)fs * qbuf[t] - xj[t];
                mfit /= k;
                int next = dmin > 0 ? clamp63(lround(mfit / dmin)) : 0;
                if (next == mn) break;
                mn = next;
            }
        }
        put_field(sb + 4, 6u * j, 6, (uint32_t)best_sc);
        put_field(sb + 4, 6u * (QKM_SUBS + j), 6, (uint32_t)best_mn);
        float fs, fm;
        sub_scale_min(sb, j, &fs, &fm);
        assign_codes(xj, k, nmax, fs, fm, qbuf);
        for (uint32_t t = 0; t < k; t++) put_field(codes, ((uint64_t)j * L->block + t) * L->bits, L->bits, qbuf[t]);
    }
    return 1;
}

static hc_status qkm_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    uint32_t bits = o->bits ? o->bits : 4, block = o->block ? o->block : 32;
    hc_status s = qkm_check_shape(bits, block, err);
    if (s) return s;
    if (n == 0) return hc_fail(err, HC_E_ARG, "qkm codec: empty tensor");
    uint64_t bad = hc_first_nonfinite(w, n);
    if (bad < n) return hc_encode_lossless(w, n, out, err, "holds NaN/Inf (weight %llu)", (unsigned long long)bad);
    qkm_layout L;
    qkm_layout_init(&L, bits, block);
    uint64_t bytes = qkm_payload_len(&L, n);
    if (bytes == 0 || (uint64_t)(size_t)bytes != bytes)
        return hc_fail(err, HC_E_LIMIT, "qkm codec: tensor of %llu weights too large", (unsigned long long)n);
    uint8_t *p = calloc(1, (size_t)bytes);
    uint8_t *qbuf = malloc(block);
    if (!p || !qbuf) {
        free(p);
        free(qbuf);
        return hc_fail(err, HC_E_NOMEM, "qkm codec: cannot allocate %llu bytes", (unsigned long long)bytes);
    }
    for (uint64_t sbi = 0; sbi * L.super_weights < n; sbi++) {
        uint64_t i = sbi * L.super_weights;
        uint64_t m = n - i < L.super_weights ? n - i : L.super_weights;
        if (!encode_super(&L, w + i, m, p + sbi * L.super_bytes, qbuf)) {
            free(p); /* a scale beyond fp16: such a tensor is better kept exactly */
            free(qbuf);
            return hc_encode_lossless(w, n, out, err,
                                      "|w| up to %.3g beyond qkm's fp16 super-block scales (limit about %.3g)",
                                      (double)hc_abs_max(w, n), 65504.0 * 63 * ((1u << bits) - 1));
        }
    }
    free(qbuf);
    out->codec = HC_CODEC_QKM;
    out->params_len = QKM_PARAMS_LEN;
    out->params[0] = (uint8_t)bits;
    hc_put_u16(out->params + 1, (uint16_t)block);
    out->payload = p;
    out->payload_len = bytes;
    /* the errors are measured by decoding, so they describe exactly what a
     * reader of the payload gets */
    return hc_encoded_measure(w, n, out, err);
}

/* ---- settings: options, rate ladder, the tools' constants (codec.h) ---- */

HC_OPT_SETTER_U32(set_bits, bits)
HC_OPT_SETTER_U32(set_block, block)

static const hc_opt_def qkm_options[] = {
    {"--bits", "bits", NULL, HC_OPTK_UINT, 2, 8, 1, set_bits, "B", "bits per weight of the codes (4), 2..8;", 0, 0},
    {"--block", "block", NULL, HC_OPTK_UINT, 8, 1024, 0, set_block, "N",
     "weights per scale block (32), 8..1024, multiple of 8;", 0, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0},
};

/* 2 to 8 bits per code; below them (about 2 bits per weight) 2-bit codes
 * in blocks of 256, unless the user fixed the block. */
static size_t qkm_ladder(const hc_opts *base, hc_opts *out, size_t max) {
    size_t k = 0;
    if (!base->block && k < max) {
        out[k] = *base;
        out[k].bits = 2;
        out[k].block = 256;
        k++;
    }
    for (uint32_t b = 2; b <= 8 && k < max; b++) {
        out[k] = *base;
        out[k].bits = b;
        k++;
    }
    return k;
}

static double qkm_ladder_bpw(const hc_opts *o, int lowest) {
    (void)lowest;
    uint32_t b = o->bits ? o->bits : 4, B = o->block ? o->block : 32;
    return (double)b + 16.0 / (double)B; /* a 16-byte head per 8 blocks */
}

static const char *const qkm_rd_settings[] = {"qkm:bits=2,block=256", "qkm:bits=2", "qkm:bits=3", "qkm:bits=4", "qkm:bits=5", "qkm:bits=6", NULL};

const hc_codec_vt hc_codec_qkm_vt = {
    .id = HC_CODEC_QKM,
    .name = "qkm",
    .encode = qkm_encode,
    .open = qkm_open,
    .ladder = qkm_ladder,
    .ladder_bpw = qkm_ladder_bpw,
    .options = qkm_options,
    .rd_settings = qkm_rd_settings,
    .rd_colour = "#7b3fb0",
    .rd_targets = 1,
};
