/*
 * hyperc_bind.h — a small, layout-independent C interface for language
 * bindings (the Python package in python/ uses it through ctypes).
 *
 * Bindings cannot see C struct layouts safely across library versions, so
 * these calls take and return plain scalars, strings and buffers. hc_opts is
 * handled as an opaque block of hc_opts_size() bytes set by key.
 */
#ifndef HYPERC_BIND_H
#define HYPERC_BIND_H

#include "hyperc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sizeof(hc_opts) and sizeof(hc_error) of this build of the library. */
size_t hc_opts_size(void);
size_t hc_error_size(void);
/* Library version string ("0.1.0"). */
const char *hc_version(void);

/* Sets one option of o by name. Keys: "preset" (hc_opts_preset name), "codec"
 * (codec name), "bpw" (target_bpw), "snr" (target_snr), "keep" (glob list;
 * the string is NOT copied and must outlive o's use), "bits", "block", "dim",
 * "min_elems", "threads", "points", "bands", "loss_limit", "rect_l_sigmas".
 * Numbers are given as text. Unknown keys or bad values: HC_E_ARG. */
hc_status hc_opts_set(hc_opts *o, const char *key, const char *value, hc_error *err);

/* Describes tensor i of an open .hyc: any output pointer may be NULL.
 * shape receives ndim (<= HC_MAX_DIMS) values. */
hc_status hc_hyc_describe(const hc_hyc *h, size_t i, const char **name, int *dtype, uint32_t *ndim,
                          uint64_t *shape, int *codec, uint64_t *payload_size, hc_error *err);

/* Decodes tensor i into out (out_bytes must equal the tensor's nbytes) in its
 * original dtype (lossless tensors: their stored bytes; coded tensors: decoded
 * and converted from float32). threads <= 0: all cores. CRC checked. */
hc_status hc_hyc_decode_tensor(const hc_hyc *h, size_t i, void *out, uint64_t out_bytes, int threads,
                               hc_error *err);

/* Same, but always as float32 (nelem * 4 bytes): tensor i must be of a codable
 * dtype (F32, F16, BF16). */
hc_status hc_hyc_decode_f32(const hc_hyc *h, size_t i, float *out, uint64_t out_elems, int threads,
                            hc_error *err);

/* Y (batch x rows) = X (batch x cols) * W^T with W the (rows x cols) tensor of
 * decoder d, computed by the codec's fused decode-and-multiply kernel
 * (hc_matvec) without materialising W; rows are split over threads
 * (threads <= 0: all cores). d->n must equal rows * cols. */
hc_status hc_decoder_matmul(const hc_decoder *d, uint64_t rows, uint64_t cols, const float *X,
                            uint64_t batch, float *Y, int threads, hc_error *err);

/* Fields of a progress report (hc_compress_file's callback); any output
 * pointer may be NULL. */
void hc_tensor_report_get(const hc_tensor_report *r, const char **name, int *codec, double *bpw,
                          double *nmse, double *max_abs_err, uint64_t *bytes_in, uint64_t *bytes_out,
                          double *seconds, const char **note);

#ifdef __cplusplus
}
#endif
#endif /* HYPERC_BIND_H */
