/* fuzz_codec.c — libFuzzer harness for every registered codec's opener,
 * decode and matvec on hostile parameters and payloads.
 *
 * Input layout (all of it mutated by the fuzzer):
 *   [0]      codec id (mod HC_CODEC_COUNT; ids this build lacks must be refused)
 *   [1]      stored dtype of a raw payload (mod HC_DTYPE_COUNT + 1: one invalid)
 *   [2..3]   cols - 1 (u16, mod 1024)
 *   [4..5]   rows - 1 (u16, mod 512)
 *   [6]      params_len (0..255)
 *   then     params_len bytes of params, then the payload (the rest)
 * The payload is copied into an exact-size, 64-byte-aligned buffer, as a
 * mapped file gives it, so AddressSanitizer sees any over-read.
 *
 * An accepted decoder must: report n = rows * cols; decode every window the
 * same way as the whole tensor; give matvec rows (full range, and split
 * ranges) equal to the dot products of the decoded rows, within float
 * rounding, whenever the decoded weights are finite. A refusal must say why.
 * Any broken promise aborts. */
#include "hyperc.h"
#include "../src/codec/codec.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int close_enough(double a, double b, double scale) {
    if (isnan(a) && isnan(b)) return 1;
    return fabs(a - b) <= 1e-4 * scale + 1e-6;
}

static void check_decoder(const hc_decoder *d, uint64_t rows, uint64_t cols) {
    const uint64_t n = rows * cols;
    if (d->n != n || !d->decode) abort();
    float *w = malloc((size_t)n * sizeof *w), *win = malloc((size_t)n * sizeof *win);
    float *x = malloc((size_t)cols * sizeof *x);
    float *y = malloc((size_t)rows * sizeof *y), *y2 = malloc((size_t)rows * sizeof *y2);
    if (!w || !win || !x || !y || !y2) abort();
    hc_decode_all(d, w);
    /* windows: a prefix, a suffix, one from the middle, single weights */
    uint64_t starts[4] = {0, n / 3, n > 7 ? n - 7 : 0, n / 2};
    uint64_t counts[4] = {n < 5 ? n : 5, n - n / 3, n > 7 ? 7 : n, n > n / 2 ? 1 : 0};
    for (int k = 0; k < 4; k++) {
        if (!counts[k]) continue;
        d->decode(d, starts[k], counts[k], win);
        for (uint64_t i = 0; i < counts[k]; i++) {
            float a = w[starts[k] + i], b = win[i];
            if (!(a == b || (isnan(a) && isnan(b)) || close_enough(a, b, fabs(a)))) abort();
        }
    }
    int finite = 1;
    for (uint64_t i = 0; i < n && finite; i++) finite = isfinite(w[i]) && fabsf(w[i]) < 1e30f;
    for (uint64_t c = 0; c < cols; c++) x[c] = (float)((int)(c * 7 % 13) - 6) * 0.25f;
    hc_matvec(d, cols, 0, rows, x, y);
    /* split ranges, as the threads of inference call them */
    uint64_t cut = rows / 2 + (rows > 2 ? 1 : 0);
    if (cut > rows) cut = rows;
    if (cut) hc_matvec(d, cols, 0, cut, x, y2);
    if (cut < rows) hc_matvec(d, cols, cut, rows, x, y2 + cut);
    if (finite)
        for (uint64_t r = 0; r < rows; r++) {
            double ref = 0, scale = 0, wmax = 0, ws = 0, xs = 0, xmax = 0;
            for (uint64_t c = 0; c < cols; c++) {
                double wc = w[r * cols + c];
                ref += wc * x[c];
                scale += fabs(wc * x[c]);
                wmax = fmax(wmax, fabs(wc));
                ws += fabs(wc);
                xs += fabs(x[c]);
                xmax = fmax(xmax, fabs(x[c]));
            }
            /* hlat's integer product quantises x and its weights to int16: the
             * bound of tests/test_codec_contract.c (src/codec/hlat_q16.c) */
            double slack = d->codec == HC_CODEC_HLAT ? 4e-4 * wmax * xs + 4e-5 * xmax * ws : 0;
            double tol = 1e-4 * scale + 1e-6 + slack;
            if (!(fabs(y[r] - ref) <= tol) || !(fabs(y2[r] - ref) <= tol)) abort();
        }
    free(w);
    free(win);
    free(x);
    free(y);
    free(y2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 7) return 0;
    hc_codec_id codec = (hc_codec_id)(data[0] % HC_CODEC_COUNT);
    hc_dtype dtype = (hc_dtype)(data[1] % (HC_DTYPE_COUNT + 1));
    uint64_t cols = (uint64_t)(hc_get_u16(data + 2) % 1024) + 1;
    uint64_t rows = (uint64_t)(hc_get_u16(data + 4) % 512) + 1;
    uint32_t plen = data[6];
    if (size - 7 < plen) return 0;
    const uint8_t *params = data + 7;
    size_t paylen = size - 7 - plen;
    void *payload = NULL;
    if (posix_memalign(&payload, 64, paylen ? paylen : 1) != 0) return 0;
    if (paylen) memcpy(payload, params + plen, paylen);
    uint8_t pbuf[HC_MAX_PARAMS];
    memcpy(pbuf, params, plen);

    hc_error err;
    hc_error_clear(&err);
    hc_decoder *d = NULL;
    hc_status s = hc_decoder_open(codec, pbuf, plen, payload, paylen, rows * cols, dtype, &d, &err);
    if (s != HC_OK) {
        if (d || !err.msg[0]) abort(); /* a refusal leaves nothing and says why */
    } else {
        if (!d || d->codec != codec) abort();
        check_decoder(d, rows, cols);
        hc_decoder_free(d);
    }
    free(payload);
    return 0;
}

#include "fuzz_main.h"
