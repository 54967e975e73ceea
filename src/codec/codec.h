/* codec.h — the internal codec interface.
 *
 * Every codec is one table of functions (as ggml does per quant type): an
 * encoder from float32 weights to (params, payload), and an opener that
 * validates a stored payload and returns an hc_decoder whose decode() and
 * matvec() serve decompression and inference. The container, the I/O and the
 * CLI only see this table, so a new codec plugs in by adding one entry to
 * the registry (registry.c) and one id to hc_codec_id. */
#ifndef HC_CODEC_H
#define HC_CODEC_H

#include "hyperc.h"

typedef struct hc_codec_vt {
    hc_codec_id id;
    const char *name;
    /* Must fill out->params/params_len/payload/payload_len and the error
     * statistics (mae, mse, max_abs_err, sum_sq); may set out->codec to
     * HC_CODEC_RAW to keep the tensor lossless. */
    hc_status (*encode)(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err);
    /* Validates everything it will later read (params, payload length versus
     * n) so that decode/matvec never read out of bounds. */
    hc_status (*open)(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                      uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out,
                      hc_error *err);
    /* Optional (NULL: not supported): encodes a (rows, cols) matrix with
     * error feedback through U, the (cols, cols) upper factor with
     * H^-1 = U^T U (feedback.c). Same duties as encode. */
    hc_status (*encode_matrix)(const float *w, uint64_t rows, uint64_t cols, const float *U, const hc_opts *o,
                               hc_encoded *out, hc_error *err);
} hc_codec_vt;

extern const hc_codec_vt hc_codec_raw_vt;
extern const hc_codec_vt hc_codec_paper_vt;
extern const hc_codec_vt hc_codec_q8b_vt, hc_codec_q4b_vt, hc_codec_qkm_vt; /* blockq.c, qkm.c */
extern const hc_codec_vt hc_codec_hlat_vt; /* hlat.c */
extern const hc_codec_vt hc_codec_trellis_vt; /* trellis.c */

/* The codec table entry for an id, or NULL if this build does not know it. */
const hc_codec_vt *hc_codec_get(hc_codec_id id);

/* Replaces whatever out holds by a lossless (RAW, float32) copy of w, with
 * out->note set from fmt (why the codec kept it lossless; the pipeline
 * reports it per tensor). Codecs call it when they cannot code a tensor at
 * the quality their setting promises. */
hc_status hc_encode_lossless(const float *w, uint64_t n, hc_encoded *out, hc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Index of the first NaN/Inf of w, or n if all are finite. */
uint64_t hc_first_nonfinite(const float *w, uint64_t n);
/* Largest |w[i]| (w finite). */
float hc_abs_max(const float *w, uint64_t n);

/* Fills e->mae/mse/max_abs_err/sum_sq by decoding e against w (chunked, no
 * full-size temporary). Used by encoders that do not track errors inline. */
hc_status hc_encoded_measure(const float *w, uint64_t n, hc_encoded *e, hc_error *err);

/* U (d, d), upper triangular, with (H + damping)^-1 = U^T U (feedback.c). */
hc_status hc_feedback_factor(const float *H, uint32_t d, float *U, hc_error *err);
/* hc_encode_matrix with calibration entry `name` of c (whose dimension
 * must be cols, else plain coding), the factor of its H made once and kept
 * in c (thread-safe) so that coding it at many settings factors it once. */
hc_status hc_encode_calibrated(const hc_calib *c, const char *name, const float *w, uint64_t rows, uint64_t cols,
                               const hc_opts *o, hc_encoded *out, hc_error *err);
/* tr(D H D^T) / tr(W H W^T), D = W - decode(e), for the (rows, cols) w. */
hc_status hc_feedback_out_nmse(const float *w, uint64_t rows, uint64_t cols, const float *H, const hc_encoded *e,
                               double *out_nmse, hc_error *err);

/* Generic row-range product by decoding a row at a time (the reference). */
void hc_matvec_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                   const float *x, float *y);

#endif
