/* raw.c — the lossless codec: the payload is the tensor's original bytes.
 * Decoding converts F32/F16/BF16 to float32; other dtypes have no decoder
 * (they are passed through bit-exact by decompression). */
#include "codec.h"
#include "../common/util.h"
#include <stdlib.h>

typedef struct raw_decoder {
    hc_decoder base;
    const uint8_t *data;
    hc_dtype dtype;
} raw_decoder;

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
    r->base.matvec = NULL;
    r->base.destroy = raw_destroy;
    r->data = payload;
    r->dtype = dtype;
    *out = &r->base;
    return HC_OK;
}

const hc_codec_vt hc_codec_raw_vt = {HC_CODEC_RAW, "raw", raw_encode, raw_open};
