/* test_kernels.c — the inference SIMD kernels (and raw matvec variants)
 * against their references. Split from test_infer.c. */
#include "test_llm.h"

/* ===================================================================== */
/* SIMD kernels against their references                                   */
/* ===================================================================== */

TEST(infer_raw_matvec_variants) {
    hc_rng rng = {11};
    static const int cols_list[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 129};
    static const int rows_list[] = {1, 3, 4, 5, 7, 13};
    const hc_dtype dts[] = {HC_F32, HC_F16, HC_BF16};
    const char *variants[] = {"avx2", "avx512"};
    int compared = 0;
    for (int di = 0; di < 3; di++)
        for (size_t ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++)
            for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++) {
                const int rows = rows_list[ri], cols = cols_list[ci], es = (int)hc_dtype_size(dts[di]);
                size_t nb = (size_t)rows * cols * es;
                uint8_t *raw = malloc(nb + 3);
                float *w = malloc((size_t)rows * cols * sizeof *w), *x = malloc((size_t)cols * sizeof *x);
                float yr[16], yv[16], yd[16];
                for (int i = 0; i < rows * cols; i++) w[i] = (float)hc_rng_normal(&rng);
                for (int i = 0; i < cols; i++) x[i] = (float)hc_rng_normal(&rng);
                uint8_t *data = raw + 1 + (ci & 1); /* unaligned on purpose */
                hc_from_f32(dts[di], w, data, (uint64_t)rows * cols);
                hc_raw_rows_ref(dts[di], data, (uint64_t)cols, 0, (uint64_t)rows, x, yr);
                /* the decoder's matvec against decode + dot */
                hc_decoder *d;
                hc_error err;
                CHECK_OK(hc_decoder_open(HC_CODEC_RAW, NULL, 0, data, nb, (uint64_t)rows * cols, dts[di], &d, E(&err)), &err);
                hc_matvec(d, (uint64_t)cols, 1, (uint64_t)rows, x, yd);
                hc_matvec_ref(d, (uint64_t)cols, 1, (uint64_t)rows, x, yv);
                for (int r = 1; r < rows; r++) CHECKF(fabsf(yd[r - 1] - yv[r - 1]) <= 1e-5f * (1 + fabsf(yv[r - 1])), "decoder %s %dx%d", hc_dtype_name(dts[di]), rows, cols);
                hc_decoder_free(d);
#if defined(__x86_64__) || defined(__i386__)
                for (int vi = 0; vi < 2; vi++) {
                    if (!hc_raw_rows_supported(variants[vi])) continue;
                    if (vi == 0) hc_raw_rows_avx2(dts[di], data, (uint64_t)cols, 0, (uint64_t)rows, x, yv);
                    else hc_raw_rows_avx512(dts[di], data, (uint64_t)cols, 0, (uint64_t)rows, x, yv);
                    for (int r = 0; r < rows; r++) {
                        double mag = 0;
                        for (int c2 = 0; c2 < cols; c2++) mag += fabs((double)w[r * cols + c2] * x[c2]);
                        CHECKF(fabs((double)yv[r] - yr[r]) <= 1e-5 * (mag + 1e-6), "%s %s %dx%d row %d: %g vs %g",
                               variants[vi], hc_dtype_name(dts[di]), rows, cols, r, yv[r], yr[r]);
                    }
                    compared++;
                }
#endif
                (void)variants;
                free(raw);
                free(w);
                free(x);
            }
#if defined(__x86_64__) || defined(__i386__)
    if (!hc_raw_rows_supported("avx2")) hc_test_skip("no AVX2 on this CPU");
#endif
    (void)compared;
}

TEST(infer_kernel_variants) {
    hc_kernels ref, simd;
    hc_kernels_ref(&ref);
    if (!hc_kernels_avx2(&simd)) {
        hc_test_skip("no AVX2 on this CPU");
        return;
    }
    hc_rng rng = {3};
    static const int dims[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 33, 64, 67};
    float *w = malloc(70 * 80 * sizeof *w), *x = malloc(9 * 80 * sizeof *x);
    float *y1 = malloc(9 * 70 * sizeof *y1), *y2 = malloc(9 * 70 * sizeof *y2);
    for (int i = 0; i < 70 * 80; i++) w[i] = (float)hc_rng_normal(&rng);
    for (int i = 0; i < 9 * 80; i++) x[i] = (float)hc_rng_normal(&rng);
    for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++)
        for (size_t b = 0; b < sizeof dims / sizeof dims[0]; b++)
            for (int n = 1; n <= 5; n += 2) {
                int rows = dims[a], cols = dims[b];
                /* strided operands, as attention uses them */
                ref.tile(w, 80, rows, cols, x, 80, n, y1, 70);
                simd.tile(w, 80, rows, cols, x, 80, n, y2, 70);
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < rows; i++) {
                        double mag = 0;
                        for (int c = 0; c < cols; c++) mag += fabs((double)w[i * 80 + c] * x[t * 80 + c]);
                        CHECKF(fabs((double)y1[t * 70 + i] - y2[t * 70 + i]) <= 1e-5 * (mag + 1e-6), "tile %dx%d n %d", rows, cols, n);
                    }
                ref.wsum(x, rows, w, 80, cols, y1);
                simd.wsum(x, rows, w, 80, cols, y2);
                for (int i = 0; i < cols; i++) {
                    double mag = 0;
                    for (int p = 0; p < rows; p++) mag += fabs((double)x[p] * w[p * 80 + i]);
                    CHECKF(fabs((double)y1[i] - y2[i]) <= 1e-5 * (mag + 1e-6), "wsum %dx%d", rows, cols);
                }
            }
    /* softmax and SwiGLU over the full range exp sees, odd lengths */
    for (int n = 1; n <= 67; n += 3) {
        for (int i = 0; i < n; i++) y1[i] = y2[i] = (float)(hc_rng_normal(&rng) * (n % 2 ? 30 : 3));
        if (n > 5) y1[3] = y2[3] = -1e30f; /* underflows to 0 */
        ref.softmax(y1, n, 2.8284271f);
        simd.softmax(y2, n, 2.8284271f);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            CHECKF(fabs((double)y1[i] - y2[i]) <= 2e-6 * (fabs(y1[i]) + 1e-30) + 1e-37, "softmax n %d: %g vs %g", n, y1[i], y2[i]);
            sum += y2[i];
        }
        CHECK(fabs(sum - 1) < 1e-5);
        for (int i = 0; i < n; i++) {
            y1[i] = y2[i] = (float)(hc_rng_normal(&rng) * 20);
            x[i] = (float)hc_rng_normal(&rng);
        }
        ref.swiglu(y1, x, (size_t)n);
        simd.swiglu(y2, x, (size_t)n);
        for (int i = 0; i < n; i++)
            CHECKF(fabs((double)y1[i] - y2[i]) <= 2e-6 * (fabs(y1[i]) + 1e-30) + 1e-30, "swiglu %g vs %g", y1[i], y2[i]);
    }
    free(w);
    free(x);
    free(y1);
    free(y2);
}
