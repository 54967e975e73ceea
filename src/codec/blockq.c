/* blockq.c — the two absmax baselines: q8b (8-bit) and q4b (4-bit)
 * round-to-nearest with one fp16 scale per block of 32 weights.
 *
 * They exist to put the hyperfunction codecs on a rate–distortion chart next
 * to the plainest scalar quantisers (in the manner of ggml's Q8_0 / Q4_0,
 * with our own layout). Payload = the blocks back to back; the last block is
 * truncated to the weights it holds, so a tensor of n weights (n a multiple
 * of 32) costs exactly 8.5 or 4.5 bits per weight. No codec parameters.
 * Layouts are documented in docs/FORMAT.md ("Baseline codec payloads"). */
#include "codec.h"
#include "../common/util.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>

#define QB_BLOCK 32

/* q8b block: w[i] ≈ d * qs[i], d = absmax / 127 rounded to fp16. */
typedef struct __attribute__((packed)) q8b_block {
    uint8_t d[2];          /* fp16 scale, little-endian        */
    int8_t qs[QB_BLOCK];   /* [32] codes in [-127, 127]        */
} q8b_block;
static_assert(sizeof(q8b_block) == 34, "q8b block must be 34 bytes (8.5 bits/weight)");

/* q4b block: w[i] ≈ d * (nibble(i) - 8). d = -m / 8 with m the weight of
 * largest magnitude (sign kept), so that weight lands exactly on code -8 and
 * all 16 levels are used. Weight 2j is the low nibble of qs[j], 2j+1 the high. */
typedef struct __attribute__((packed)) q4b_block {
    uint8_t d[2];              /* fp16 scale, little-endian        */
    uint8_t qs[QB_BLOCK / 2];  /* [16] two 4-bit codes per byte    */
} q4b_block;
static_assert(sizeof(q4b_block) == 18, "q4b block must be 18 bytes (4.5 bits/weight)");

/* ---- layout arithmetic -------------------------------------------------- */

typedef struct qb_kind {
    hc_codec_id id;
    const char *name;
    uint32_t block_bytes;             /* bytes of a full block            */
    uint32_t (*tail_bytes)(uint32_t); /* bytes of a last block of k < 32  */
} qb_kind;

static uint32_t q8b_tail(uint32_t k) { return 2 + k; }
static uint32_t q4b_tail(uint32_t k) { return 2 + (k + 1) / 2; }

static const qb_kind q8b_kind = {HC_CODEC_Q8B, "q8b", sizeof(q8b_block), q8b_tail};
static const qb_kind q4b_kind = {HC_CODEC_Q4B, "q4b", sizeof(q4b_block), q4b_tail};

/* Payload bytes for n weights; 0 on overflow (n > 0 never needs 0 bytes). */
static uint64_t qb_payload_len(const qb_kind *k, uint64_t n) {
    uint64_t full = n / QB_BLOCK, rem = n % QB_BLOCK, bytes;
    if (!hc_mul_ok(full, k->block_bytes, &bytes)) return 0;
    if (rem) {
        uint64_t t = k->tail_bytes((uint32_t)rem);
        if (bytes > UINT64_MAX - t) return 0;
        bytes += t;
    }
    return bytes;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct qb_decoder {
    hc_decoder base;
    const uint8_t *payload; /* [payload_len] blocks back to back */
    uint32_t block_bytes;
} qb_decoder;

static inline int q4b_code(const uint8_t *qs, uint32_t i) {
    return (int)((qs[i >> 1] >> ((i & 1) * 4)) & 15) - 8;
}

static void q8b_decode(const hc_decoder *d, uint64_t start, uint64_t count, float *out) {
    const qb_decoder *q = (const qb_decoder *)d;
    uint64_t i = start, end = start + count;
    while (i < end) {
        uint64_t b = i / QB_BLOCK;
        uint32_t j = (uint32_t)(i % QB_BLOCK);
        uint32_t k = (uint32_t)((end - i) < (uint64_t)(QB_BLOCK - j) ? end - i : QB_BLOCK - j);
        const uint8_t *blk = q->payload + b * q->block_bytes;
        float scale = hc_f16_to_f32(hc_get_u16(blk));
        const int8_t *qs = (const int8_t *)(blk + 2);
        for (uint32_t t = 0; t < k; t++) *out++ = scale * (float)qs[j + t];
        i += k;
    }
}

static void q4b_decode(const hc_decoder *d, uint64_t start, uint64_t count, float *out) {
    const qb_decoder *q = (const qb_decoder *)d;
    uint64_t i = start, end = start + count;
    while (i < end) {
        uint64_t b = i / QB_BLOCK;
        uint32_t j = (uint32_t)(i % QB_BLOCK);
        uint32_t k = (uint32_t)((end - i) < (uint64_t)(QB_BLOCK - j) ? end - i : QB_BLOCK - j);
        const uint8_t *blk = q->payload + b * q->block_bytes;
        float scale = hc_f16_to_f32(hc_get_u16(blk));
        for (uint32_t t = 0; t < k; t++) *out++ = scale * (float)q4b_code(blk + 2, j + t);
        i += k;
    }
}

/* y[r-row0] = W[r,:]·x, walking each row block by block: rows need not
 * start on a block boundary, so a block may be split between two rows. The
 * codes of a block piece are summed in integers-times-x first and scaled once. */
static void q8b_matvec(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                       const float *x, float *y) {
    const qb_decoder *q = (const qb_decoder *)d;
    for (uint64_t r = row0; r < row1; r++) {
        uint64_t i = r * cols, end = i + cols;
        const float *xp = x;
        float acc = 0;
        while (i < end) {
            uint32_t j = (uint32_t)(i % QB_BLOCK);
            uint32_t k = (uint32_t)((end - i) < (uint64_t)(QB_BLOCK - j) ? end - i : QB_BLOCK - j);
            const uint8_t *blk = q->payload + (i / QB_BLOCK) * q->block_bytes;
            const int8_t *qs = (const int8_t *)(blk + 2) + j;
            float part = 0;
            for (uint32_t t = 0; t < k; t++) part += (float)qs[t] * xp[t];
            acc += hc_f16_to_f32(hc_get_u16(blk)) * part;
            xp += k;
            i += k;
        }
        y[r - row0] = acc;
    }
}

static void q4b_matvec(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                       const float *x, float *y) {
    const qb_decoder *q = (const qb_decoder *)d;
    for (uint64_t r = row0; r < row1; r++) {
        uint64_t i = r * cols, end = i + cols;
        const float *xp = x;
        float acc = 0;
        while (i < end) {
            uint32_t j = (uint32_t)(i % QB_BLOCK);
            uint32_t k = (uint32_t)((end - i) < (uint64_t)(QB_BLOCK - j) ? end - i : QB_BLOCK - j);
            const uint8_t *blk = q->payload + (i / QB_BLOCK) * q->block_bytes;
            float part = 0;
            for (uint32_t t = 0; t < k; t++) part += (float)q4b_code(blk + 2, j + t) * xp[t];
            acc += hc_f16_to_f32(hc_get_u16(blk)) * part;
            xp += k;
            i += k;
        }
        y[r - row0] = acc;
    }
}

static void qb_destroy(hc_decoder *d) { free(d); }

static hc_status qb_open(const qb_kind *k, const uint8_t *params, uint32_t params_len,
                         const uint8_t *payload, uint64_t payload_len, uint64_t n, hc_decoder **out,
                         hc_error *err) {
    (void)params;
    *out = NULL;
    if (params_len != 0)
        return hc_fail(err, HC_E_CORRUPT, "%s codec: expected no parameters, found %u bytes", k->name, params_len);
    uint64_t need = qb_payload_len(k, n);
    if (n == 0 || need == 0 || need != payload_len)
        return hc_fail(err, HC_E_CORRUPT, "%s codec: payload is %llu bytes, %llu weights need %llu", k->name,
                       (unsigned long long)payload_len, (unsigned long long)n, (unsigned long long)need);
    qb_decoder *q = calloc(1, sizeof *q);
    if (!q) return hc_fail(err, HC_E_NOMEM, "%s codec: out of memory", k->name);
    q->base.codec = k->id;
    q->base.n = n;
    q->base.decode = k->id == HC_CODEC_Q8B ? q8b_decode : q4b_decode;
    q->base.matvec = k->id == HC_CODEC_Q8B ? q8b_matvec : q4b_matvec;
    q->base.destroy = qb_destroy;
    q->payload = payload;
    q->block_bytes = k->block_bytes;
    *out = &q->base;
    return HC_OK;
}

/* ---- encoding ----------------------------------------------------------- */

/* Quantises one block of k <= 32 weights into blk; adds its errors to the
 * running sums. Returns 0 if the block's scale does not fit in fp16. */
static int qb_encode_block(const qb_kind *kd, const float *w, uint32_t k, uint8_t *blk, double *sae,
                           double *sse, double *ss, double *mx) {
    float amax = 0, m = 0;
    for (uint32_t t = 0; t < k; t++)
        if (fabsf(w[t]) > amax) { amax = fabsf(w[t]); m = w[t]; }
    int is8 = kd->id == HC_CODEC_Q8B;
    float scale_want = is8 ? amax / 127.0f : m / -8.0f;
    uint16_t h = hc_f32_to_f16(scale_want);
    float scale = hc_f16_to_f32(h);
    if (!isfinite(scale)) return 0;
    hc_put_u16(blk, h);
    /* quantise against the stored (fp16-rounded) scale, so encoder and
     * decoder agree on every code */
    float inv = scale != 0 ? 1.0f / scale : 0.0f;
    if (!is8) memset(blk + 2, 0, (k + 1) / 2);
    for (uint32_t t = 0; t < k; t++) {
        float v = roundf(w[t] * inv);
        float rec;
        if (is8) {
            if (v > 127) v = 127;
            if (v < -127) v = -127;
            blk[2 + t] = (uint8_t)(int8_t)v;
            rec = scale * v;
        } else {
            if (v > 7) v = 7;
            if (v < -8) v = -8;
            blk[2 + t / 2] |= (uint8_t)(((int)v + 8) << ((t & 1) * 4));
            rec = scale * v;
        }
        double e = fabs((double)rec - (double)w[t]);
        *sae += e;
        *sse += e * e;
        *ss += (double)w[t] * w[t];
        if (e > *mx) *mx = e;
    }
    return 1;
}

static hc_status qb_encode(const qb_kind *kd, const float *w, uint64_t n, const hc_opts *o, hc_encoded *out,
                           hc_error *err) {
    (void)o;
    if (n == 0) return hc_fail(err, HC_E_ARG, "%s codec: empty tensor", kd->name);
    uint64_t bad = hc_first_nonfinite(w, n);
    if (bad < n) return hc_encode_lossless(w, n, out, err, "holds NaN/Inf (weight %llu)", (unsigned long long)bad);
    uint64_t bytes = qb_payload_len(kd, n);
    if (bytes == 0 || (uint64_t)(size_t)bytes != bytes)
        return hc_fail(err, HC_E_LIMIT, "%s codec: tensor of %llu weights too large", kd->name, (unsigned long long)n);
    uint8_t *p = malloc((size_t)bytes);
    if (!p) return hc_fail(err, HC_E_NOMEM, "%s codec: cannot allocate %llu bytes", kd->name, (unsigned long long)bytes);
    double sae = 0, sse = 0, ss = 0, mx = 0;
    const double qmax = kd->id == HC_CODEC_Q8B ? 127.0 : 8.0;
    for (uint64_t b = 0; b * QB_BLOCK < n; b++) {
        uint64_t i = b * QB_BLOCK;
        uint32_t k = (uint32_t)(n - i < QB_BLOCK ? n - i : QB_BLOCK);
        if (!qb_encode_block(kd, w + i, k, p + b * kd->block_bytes, &sae, &sse, &ss, &mx)) {
            free(p); /* a scale beyond fp16: such a tensor is better kept exactly */
            return hc_encode_lossless(w, n, out, err, "|w| up to %.3g beyond %s's fp16 block scales (limit %.3g)",
                                      (double)hc_abs_max(w, n), kd->name, 65504.0 * qmax);
        }
    }
    out->codec = kd->id;
    out->params_len = 0;
    out->payload = p;
    out->payload_len = bytes;
    out->mae = sae / (double)n;
    out->mse = sse / (double)n;
    out->max_abs_err = mx;
    out->sum_sq = ss;
    return HC_OK;
}

/* ---- the two table entries ---------------------------------------------- */

static hc_status q8b_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    return qb_encode(&q8b_kind, w, n, o, out, err);
}
static hc_status q4b_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    return qb_encode(&q4b_kind, w, n, o, out, err);
}
static hc_status q8b_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                          uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype;
    return qb_open(&q8b_kind, params, params_len, payload, payload_len, n, out, err);
}
static hc_status q4b_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                          uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype;
    return qb_open(&q4b_kind, params, params_len, payload, payload_len, n, out, err);
}

/* Single-rate codecs without options of their own; rd measures each once. */
static const char *const q8b_rd_settings[] = {"q8b", NULL};
static const char *const q4b_rd_settings[] = {"q4b", NULL};

const hc_codec_vt hc_codec_q8b_vt = {
    .id = HC_CODEC_Q8B,
    .name = "q8b",
    .encode = q8b_encode,
    .open = q8b_open,
    .rd_settings = q8b_rd_settings,
    .rd_colour = "#1f77b4",
};
const hc_codec_vt hc_codec_q4b_vt = {
    .id = HC_CODEC_Q4B,
    .name = "q4b",
    .encode = q4b_encode,
    .open = q4b_open,
    .rd_settings = q4b_rd_settings,
    .rd_colour = "#ff7f0e",
};
