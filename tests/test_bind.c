/* test_bind.c — the binding interface (include/hyperc_bind.h): options by
 * key, tensor descriptions, per-tensor decodes in the original dtype, and
 * the fused decoder matmul against hc_matvec. */
#include "test.h"
#include "hyperc_bind.h"

#include <math.h>
#include <string.h>

/* writes a .hyc with an F16 matrix coded by `codec` and an I32 vector */
static int make_hyc(const char *path, const char *codec, float *w, uint64_t rows, uint64_t cols) {
    hc_error err = {0};
    hc_opts o;
    hc_opts_default(&o);
    if (hc_opts_set(&o, "codec", codec, &err)) return 0;
    uint64_t n = rows * cols;
    uint16_t *h = malloc(n * 2);
    hc_rng r = {7};
    for (uint64_t i = 0; i < n; i++) {
        h[i] = hc_f32_to_f16((float)hc_rng_normal(&r) * 0.1f);
        w[i] = hc_f16_to_f32(h[i]);
    }
    hc_encoded e;
    int ok = hc_encode(w, n, &o, &e, &err) == HC_OK;
    hc_hyc_writer *wr = NULL;
    ok = ok && hc_hyc_writer_open(path, 1, &wr, &err) == HC_OK;
    hc_hyc_entry ent;
    memset(&ent, 0, sizeof ent);
    strcpy(ent.info.name, "m");
    ent.info.dtype = HC_F16;
    ent.info.ndim = 2;
    ent.info.shape[0] = rows;
    ent.info.shape[1] = cols;
    ent.info.nelem = n;
    ent.info.nbytes = n * 2;
    if (ok) {
        ent.codec = e.codec;
        ent.params_len = e.params_len;
        memcpy(ent.params, e.params, e.params_len);
        const void *pl = e.payload;
        uint64_t plen = e.payload_len;
        if (e.codec == HC_CODEC_RAW) { pl = h; plen = n * 2; }
        ok = hc_hyc_writer_add(wr, &ent, pl, plen, &err) == HC_OK;
    }
    int32_t iv[5] = {1, -2, 3, -4, 5};
    memset(&ent, 0, sizeof ent);
    strcpy(ent.info.name, "v");
    ent.info.dtype = HC_I32;
    ent.info.ndim = 1;
    ent.info.shape[0] = 5;
    ent.info.nelem = 5;
    ent.info.nbytes = 20;
    ok = ok && hc_hyc_writer_add(wr, &ent, iv, 20, &err) == HC_OK;
    if (ok) ok = hc_hyc_writer_finish(wr, NULL, 0, &err) == HC_OK;
    else if (wr) hc_hyc_writer_abort(wr);
    hc_encoded_free(&e);
    free(h);
    if (!ok) fprintf(stderr, "make_hyc: %s\n", err.msg);
    return ok;
}

TEST(bind_opts_set) {
    hc_error err = {0};
    hc_opts o;
    CHECK(hc_opts_size() == sizeof(hc_opts));
    CHECK(hc_error_size() == sizeof(hc_error));
    CHECK(!strcmp(hc_version(), HC_VERSION_STRING));
    hc_opts_default(&o);
    CHECK_OK(hc_opts_set(&o, "codec", "qkm", &err), &err);
    CHECK(o.codec == HC_CODEC_QKM);
    CHECK_OK(hc_opts_set(&o, "bpw", "4.5", &err), &err);
    CHECK(o.target_bpw == 4.5);
    CHECK_OK(hc_opts_set(&o, "bits", "3", &err), &err);
    CHECK(o.bits == 3);
    CHECK_OK(hc_opts_set(&o, "keep", "a.*,b", &err), &err);
    CHECK(o.keep && !strcmp(o.keep, "a.*,b"));
    CHECK_OK(hc_opts_set(&o, "min_elems", "10", &err), &err);
    CHECK(o.min_elems == 10);
    CHECK(hc_opts_set(&o, "codec", "zip", &err) == HC_E_ARG && strstr(err.msg, "zip"));
    CHECK(hc_opts_set(&o, "bpw", "abc", &err) == HC_E_ARG && strstr(err.msg, "bpw"));
    CHECK(hc_opts_set(&o, "bpw", "nan", &err) == HC_E_ARG);
    CHECK(hc_opts_set(&o, "bits", "-1", &err) == HC_E_ARG);
    CHECK(hc_opts_set(&o, "bits", "99", &err) == HC_E_ARG);
    CHECK(hc_opts_set(&o, "nope", "1", &err) == HC_E_ARG && strstr(err.msg, "nope"));
    CHECK(hc_opts_set(NULL, "codec", "raw", &err) == HC_E_ARG);
    CHECK(hc_opts_set(&o, "preset", "nonsense", &err) == HC_E_ARG);
}

TEST(bind_decode_and_matmul) {
    const char *codecs[] = {"raw", "q8b", "qkm", "hlat", "paper"};
    const uint64_t rows = 37, cols = 96;
    float *w = malloc(rows * cols * sizeof(float)), *dec = malloc(rows * cols * sizeof(float));
    uint16_t *h16 = malloc(rows * cols * 2);
    float x[3 * 96], y[3 * 37], yr[37];
    hc_rng r = {3};
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)hc_rng_normal(&r);
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0] && !hc_test_failed(); c++) {
        char path[1024];
        snprintf(path, sizeof path, "%.900s/bind_%s.hyc", hc_test_tmpdir(), codecs[c]);
        CHECK(make_hyc(path, codecs[c], w, rows, cols));
        hc_error err = {0};
        hc_hyc *hy = NULL;
        CHECK_OK(hc_hyc_open(path, &hy, &err), &err);
        const char *name = NULL;
        int dt = -1, codec = -1;
        uint32_t ndim = 0;
        uint64_t shape[HC_MAX_DIMS] = {0}, psize = 0;
        CHECK_OK(hc_hyc_describe(hy, 0, &name, &dt, &ndim, shape, &codec, &psize, &err), &err);
        CHECK(!strcmp(name, "m") && dt == HC_F16 && ndim == 2 && shape[0] == rows && shape[1] == cols && psize > 0);
        CHECK(hc_hyc_describe(hy, 2, NULL, NULL, NULL, NULL, NULL, NULL, &err) == HC_E_ARG);
        CHECK_OK(hc_hyc_decode_f32(hy, 0, dec, rows * cols, 1, &err), &err);
        double se = 0, ss = 0;
        for (uint64_t i = 0; i < rows * cols; i++) {
            se += (dec[i] - w[i]) * (double)(dec[i] - w[i]);
            ss += (double)w[i] * w[i];
        }
        CHECKF(se / ss < (strcmp(codecs[c], "raw") ? 0.2 : 1e-12), "%s: nmse %g", codecs[c], se / ss);
        CHECK_OK(hc_hyc_decode_tensor(hy, 0, h16, rows * cols * 2, 0, &err), &err);
        for (uint64_t i = 0; i < rows * cols; i++) CHECK(h16[i] == hc_f32_to_f16(dec[i]));
        CHECK(hc_hyc_decode_tensor(hy, 0, h16, rows * cols * 2 - 2, 0, &err) == HC_E_ARG);
        CHECK(hc_hyc_decode_f32(hy, 1, dec, 5, 0, &err) == HC_E_ARG); /* I32 is not a float tensor */
        int32_t iv[5];
        CHECK_OK(hc_hyc_decode_tensor(hy, 1, iv, sizeof iv, 0, &err), &err);
        CHECK(iv[0] == 1 && iv[3] == -4);
        hc_decoder *d = NULL;
        CHECK_OK(hc_hyc_decoder(hy, 0, &d, &err), &err);
        for (int threads = 1; threads <= 3; threads += 2) {
            CHECK_OK(hc_decoder_matmul(d, rows, cols, x, 3, y, threads, &err), &err);
            for (int b = 0; b < 3; b++) {
                hc_matvec(d, cols, 0, rows, x + b * cols, yr);
                for (uint64_t i = 0; i < rows; i++) {
                    double ref = 0;
                    for (uint64_t k = 0; k < cols; k++) ref += (double)dec[i * cols + k] * x[b * cols + k];
                    CHECKF(fabsf(y[b * rows + i] - yr[i]) <= 1e-5f * (1 + fabsf(yr[i])), "%s fused batch", codecs[c]);
                    CHECKF(fabs(y[b * rows + i] - ref) <= 1e-3 * (1 + fabs(ref)), "%s vs decoded", codecs[c]);
                }
            }
        }
        CHECK(hc_decoder_matmul(d, rows + 1, cols, x, 1, y, 1, &err) == HC_E_ARG);
        CHECK(hc_decoder_matmul(d, rows, cols, NULL, 1, y, 1, &err) == HC_E_ARG);
        CHECK_OK(hc_decoder_matmul(d, rows, cols, x, 0, y, 1, &err), &err);
        hc_decoder_free(d);
        hc_hyc_close(hy);
    }
    free(w);
    free(dec);
    free(h16);
}
