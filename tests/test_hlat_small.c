/* test_hlat_small.c — small hlat tensors multiply their kept decoded
 * weights (src/codec/hlat_small.c): the default kernels install it for
 * tensors of at most HLAT_SMALL_MAX weights only, the product equals the
 * level's float row kernel on the decoded weights bit for bit (so
 * decode-then-multiply to float rounding), row ranges and concurrent first
 * products from two threads give the same bits, HYPERC_HLAT_NOCACHE turns
 * it off. */
#include "test.h"
#include "../src/codec/hlat.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static float *normals(uint64_t n, uint64_t seed, double sd) {
    hc_rng r = {seed};
    float *w = malloc(sizeof(float) * (n ? n : 1));
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(sd * hc_rng_normal(&r));
    return w;
}

static hc_status encode_open(const float *w, uint64_t n, hc_encoded *e, hc_decoder **d, hc_error *err) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_HLAT;
    hc_status s = hc_encode(w, n, &o, e, err);
    if (s) return s;
    return hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, d, err);
}

typedef struct job {
    hc_decoder *d;
    uint64_t cols, row0, row1;
    const float *x;
    float *y;
} job;

static void *run_job(void *p) {
    job *j = p;
    j->d->matvec(j->d, j->cols, j->row0, j->row1, j->x, j->y);
    return NULL;
}

TEST(hlat_small_tensors_use_kept_weights) {
    static const struct { uint64_t rows, cols; } cases[] = {{64, 64}, {512, 64}, {172, 64}, {64, 172}, {37, 44},
                                                             {3, 5}, {1, 65536}, {256, 256}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        uint64_t rows = cases[ci].rows, cols = cases[ci].cols, n = rows * cols;
        float *w = normals(n, 300 + ci, 0.03), *x = normals(cols, 400 + ci, 1.0);
        hc_encoded e;
        hc_decoder *d;
        hc_error err = {0};
        CHECK_OK(encode_open(w, n, &e, &d, &err), &err);
        hlat_decoder *hd = (hlat_decoder *)d;
        CHECKF(d->matvec == hlat_matvec_small, "%llux%llu: small product not installed", (unsigned long long)rows,
               (unsigned long long)cols);
        CHECK(hd->small_state == 0); /* lazily: nothing kept before the first product */
        float *dec = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * rows);
        float *y1 = malloc(sizeof(float) * rows), *y2 = malloc(sizeof(float) * rows), *y3 = malloc(sizeof(float) * rows);
        hlat_decode_ref(d, 0, n, dec);
        hd->small_rows(HC_F32, (const uint8_t *)dec, cols, 0, rows, x, want);
        /* the first product from two threads at once: both halves on the kept weights */
        uint64_t half = rows / 2;
        job a = {d, cols, 0, half, x, y1}, b = {d, cols, half, rows, x, y1 + half};
        pthread_t ta, tb;
        CHECK(pthread_create(&ta, NULL, run_job, &a) == 0);
        CHECK(pthread_create(&tb, NULL, run_job, &b) == 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(hd->small_state == 2 && hd->small != NULL);
        CHECK(memcmp(hd->small, dec, sizeof(float) * n) == 0);
        CHECKF(memcmp(y1, want, sizeof(float) * rows) == 0, "%llux%llu: product differs from the float kernel",
               (unsigned long long)rows, (unsigned long long)cols);
        d->matvec(d, cols, 0, rows, x, y2);
        CHECK(memcmp(y1, y2, sizeof(float) * rows) == 0);
        for (uint64_t r0 = 0; r0 < rows; r0 += 5) {
            uint64_t r1 = r0 + 5 < rows ? r0 + 5 : rows;
            d->matvec(d, cols, r0, r1, x, y3 + r0);
        }
        CHECK(memcmp(y1, y3, sizeof(float) * rows) == 0);
        /* decode-then-multiply in double, to float rounding */
        for (uint64_t r = 0; r < rows; r++) {
            double s = 0, mag = 0;
            for (uint64_t c = 0; c < cols; c++) {
                s += (double)dec[r * cols + c] * x[c];
                mag += fabs((double)dec[r * cols + c] * x[c]);
            }
            CHECKF(fabs(y1[r] - s) <= 1e-6 * (double)cols * mag / 64 + 1e-30, "row %llu: %.9g vs %.9g",
                   (unsigned long long)r, y1[r], s);
        }
        free(dec);
        free(want);
        free(y1);
        free(y2);
        free(y3);
        free(w);
        free(x);
        hc_decoder_free(d);
        hc_encoded_free(&e);
    }
}

/* Larger tensors and HYPERC_HLAT_NOCACHE keep the fused product; forced
 * kernel sets (tests, A/B timing) too. */
TEST(hlat_small_only_where_it_applies) {
    uint64_t n = HLAT_SMALL_MAX + 64;
    float *w = normals(n, 7, 0.03);
    hc_encoded e;
    hc_decoder *d;
    hc_error err = {0};
    CHECK_OK(encode_open(w, n, &e, &d, &err), &err);
    CHECK(d->matvec != hlat_matvec_small);
    hc_decoder_free(d);
    hc_encoded_free(&e);
    CHECK_OK(encode_open(w, 4096, &e, &d, &err), &err);
    CHECK(d->matvec == hlat_matvec_small);
    hlat_select_kernels((hlat_decoder *)d, "ref");
    CHECK(d->matvec == hlat_matvec_ref);
    setenv("HYPERC_HLAT_NOCACHE", "1", 1);
    hlat_select_kernels((hlat_decoder *)d, NULL);
    unsetenv("HYPERC_HLAT_NOCACHE");
    CHECK(d->matvec != hlat_matvec_small);
    hc_decoder_free(d);
    hc_encoded_free(&e);
    free(w);
}
