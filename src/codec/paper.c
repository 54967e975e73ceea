/* paper.c — PLACEHOLDER until the paper codec lands (being written now). */
#include "codec.h"
static hc_status paper_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    (void)w; (void)n; (void)o; (void)out;
    return hc_fail(err, HC_E_UNSUPPORTED, "paper codec not built yet");
}
static hc_status paper_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                            uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)params; (void)params_len; (void)payload; (void)payload_len; (void)n; (void)dtype; *out = NULL;
    return hc_fail(err, HC_E_UNSUPPORTED, "paper codec not built yet");
}
const hc_codec_vt hc_codec_paper_vt = {HC_CODEC_PAPER, "paper", paper_encode, paper_open};
