/* decoder.c — the public calls over an opaque hc_decoder (hyperc.h). */
#include "hyperc.h"

hc_status hc_decode_range(const hc_decoder *d, uint64_t start, uint64_t count, float *out, hc_error *err) {
    if (!d || (!out && count)) return hc_fail(err, HC_E_ARG, "decode: no decoder or no output");
    if (start > d->n || count > d->n - start)
        return hc_fail(err, HC_E_ARG, "decode: weights [%llu, %llu + %llu) are past the tensor's %llu",
                       (unsigned long long)start, (unsigned long long)start, (unsigned long long)count,
                       (unsigned long long)d->n);
    if (count) d->decode(d, start, count, out);
    return HC_OK;
}

uint64_t hc_decoder_size(const hc_decoder *d) { return d ? d->n : 0; }

hc_codec_id hc_decoder_codec(const hc_decoder *d) { return d ? d->codec : HC_CODEC_RAW; }
