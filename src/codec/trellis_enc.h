/* trellis_enc.h — the trellis encoder's shared steps (trellis.c) and the
 * encoder with error feedback (trellis_feedback.c). */
#ifndef HC_TRELLIS_ENC_H
#define HC_TRELLIS_ENC_H

#include "trellis.h"

/* The water-filling slope for a tensor of n weights under o (block bits
 * per scale-code step; TR_SLOPE_DEFAULT = one bit per weight per octave). */
uint32_t tr_encode_slope(const hc_opts *o, uint64_t n);
/* Parameters before the transform, scales and offset are chosen. */
void tr_encode_params_init(tr_params *p, uint32_t L, const hc_opts *o, uint64_t n);
/* Block scales from the RMS, 1/8 octave below the largest: p->top and q[nb]. */
hc_status tr_encode_scales(const float *t, uint64_t n, uint64_t nb, tr_params *p, uint8_t *q, hc_error *err);
/* Water-filling: the largest offset whose size meets the rate R (bits per weight). */
void tr_encode_offset(tr_params *p, const uint8_t *q, uint64_t n, double R);
/* The payload: scale codes, then each segment's start state and each step's bits. */
hc_status tr_encode_payload(const tr_params *p, const uint8_t *q, const uint32_t *st, const uint8_t *kb, uint64_t n,
                            uint64_t nb, hc_encoded *out, hc_error *err);
/* The last step: the top scale back to w's exponent ex (lossless with a note
 * when it leaves float32), the params written and the error measured. */
hc_status tr_encode_finish(tr_params *p, const float *w, uint64_t n, int ex, float amax, hc_encoded *out,
                           hc_error *err);
/* The encoder with error feedback through U (codec.h, encode_matrix). */
hc_status tr_encode_matrix(const float *w, uint64_t rows, uint64_t cols, const float *U, const hc_opts *o,
                           hc_encoded *out, hc_error *err);

#endif
