/* bench_kernels.c — one thread, the matrix-vector products of generation:
 * float32 (RAW decoder) against the default hlat setting with its AVX2
 * float kernel ("avx2f"), its int16 quantised-activation kernel ("avx2",
 * hlat_q16.c) and the decoder as opened (the default kernels: small tensors
 * multiply their kept float32 weights, hlat_small.c), on the TinyLlama
 * shapes (5632 x 2048 and 2048 x 5632) and stories260K's (64 x 64,
 * 512 x 64). Gaussian weights. The hlat payload of a big matrix is copied 8
 * times and the copies used in turn, so the weights come from memory as in
 * inference (the float matrix is larger than any cache by itself); small
 * ones use one copy, as float does. Rounds interleave the kernels; the best
 * and the median time per product are printed.
 *   HYPERC_BENCH_ROUNDS=N   rounds (default 9) */
#include "hyperc.h"
#include "../src/codec/hlat.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPIES 8
#define NK 4

static uint64_t rng_s;
static double normal(void) { /* splitmix64 + Box-Muller */
    uint64_t v[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        v[i] = z ^ (z >> 31);
    }
    double u1 = ((double)(v[0] >> 11) + 0.5) / 9007199254740992.0, u2 = (double)(v[1] >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    static const struct { uint64_t rows, cols; int reps; } shapes[] = {
        {5632, 2048, 1}, {2048, 5632, 1}, {64, 64, 2000}, {512, 64, 300}};
    int rounds = getenv("HYPERC_BENCH_ROUNDS") ? atoi(getenv("HYPERC_BENCH_ROUNDS")) : 9;
    if (rounds < 1) rounds = 1;
    printf("bench_kernels: one thread, y = W x, default hlat (%s) vs float32; best / median of %d rounds\n",
           "K 4, m 21, B 32", rounds);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        uint64_t rows = shapes[si].rows, cols = shapes[si].cols, n = rows * cols;
        int reps = shapes[si].reps;
        float *w = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * cols), *y = malloc(sizeof(float) * rows);
        rng_s = 7 + si;
        for (uint64_t i = 0; i < n; i++) w[i] = (float)(0.02 * normal());
        for (uint64_t i = 0; i < cols; i++) x[i] = (float)normal();
        hc_opts o;
        hc_opts_default(&o);
        hc_encoded e;
        hc_error err = {0};
        if (hc_encode(w, n, &o, &e, &err) != HC_OK) {
            fprintf(stderr, "encode: %s\n", err.msg);
            return 1;
        }
        uint8_t *copies[COPIES];
        /* the copies keep big matrices out of the caches; a small one is used as
         * in a model (one copy, like the float matrix, so cache-resident alike) */
        const int ncopies = n > (1u << 20) ? COPIES : 1;
        hc_decoder *dq[COPIES], *df[COPIES], *dd[COPIES], *draw;
        for (int c = 0; c < ncopies; c++) {
            copies[c] = malloc(e.payload_len);
            memcpy(copies[c], e.payload, e.payload_len);
            if (hc_decoder_open(e.codec, e.params, e.params_len, copies[c], e.payload_len, n, HC_F32, &dq[c], &err) ||
                hc_decoder_open(e.codec, e.params, e.params_len, copies[c], e.payload_len, n, HC_F32, &df[c], &err) ||
                hc_decoder_open(e.codec, e.params, e.params_len, copies[c], e.payload_len, n, HC_F32, &dd[c], &err)) {
                fprintf(stderr, "open: %s\n", err.msg);
                return 1;
            }
            hlat_select_kernels((hlat_decoder *)dq[c], "avx2");
            hlat_select_kernels((hlat_decoder *)df[c], "avx2f");
        }
        if (hc_decoder_open(HC_CODEC_RAW, NULL, 0, (const uint8_t *)w, n * 4, n, HC_F32, &draw, &err)) {
            fprintf(stderr, "open raw: %s\n", err.msg);
            return 1;
        }
        double *t[NK];
        for (int k = 0; k < NK; k++) t[k] = malloc(sizeof(double) * (size_t)rounds);
        int turn = 0;
        for (int rd = 0; rd < rounds; rd++)
            for (int k = 0; k < NK; k++) {
                double t0 = hc_now();
                for (int i = 0; i < reps; i++, turn++) {
                    const hc_decoder *d = k == 0   ? draw
                                          : k == 1 ? df[turn % ncopies]
                                          : k == 2 ? dq[turn % ncopies]
                                                   : dd[turn % ncopies];
                    d->matvec(d, cols, 0, rows, x, y);
                }
                t[k][rd] = (hc_now() - t0) / reps;
            }
        const char *label[NK] = {"float32", "hlat avx2f", "hlat avx2 (q16)", "hlat as opened"};
        double med[NK], best[NK];
        for (int k = 0; k < NK; k++) {
            qsort(t[k], (size_t)rounds, sizeof(double), cmp_d);
            best[k] = t[k][0];
            med[k] = t[k][rounds / 2];
        }
        printf("  %5llu x %-5llu\n", (unsigned long long)rows, (unsigned long long)cols);
        for (int k = 0; k < NK; k++)
            printf("    %-17s best %9.1f us  median %9.1f us  %6.2f G weights/s  = %.2fx float32 (median)\n",
                   label[k], best[k] * 1e6, med[k] * 1e6, (double)n / best[k] / 1e9, med[0] / med[k]);
        for (int k = 0; k < NK; k++) free(t[k]);
        for (int c = 0; c < ncopies; c++) {
            hc_decoder_free(dq[c]);
            hc_decoder_free(df[c]);
            hc_decoder_free(dd[c]);
            free(copies[c]);
        }
        hc_decoder_free(draw);
        hc_encoded_free(&e);
        free(w);
        free(x);
        free(y);
    }
    return 0;
}
