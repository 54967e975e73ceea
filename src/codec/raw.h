/* raw.h — the raw codec's row products (src/codec/raw.c): used by its
 * decoders, exposed so the tests can compare the variants. */
#ifndef HC_CODEC_RAW_H
#define HC_CODEC_RAW_H

#include "hyperc.h"

/* y[r - row0] = sum_c W[r, c] x[c], W stored row-major as dtype (F32, F16,
 * BF16) at data, cols per row. */
typedef void (*hc_raw_rows_fn)(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0,
                               uint64_t row1, const float *x, float *y);
void hc_raw_rows_ref(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0,
                     uint64_t row1, const float *x, float *y);
#if defined(__x86_64__) || defined(__i386__)
void hc_raw_rows_avx2(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0,
                      uint64_t row1, const float *x, float *y);
void hc_raw_rows_avx512(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0,
                        uint64_t row1, const float *x, float *y);
#endif
/* 1 if this machine runs the variant ("ref", "avx2", "avx512"; src/common/cpu.h). */
int hc_raw_rows_supported(const char *variant);

#endif
