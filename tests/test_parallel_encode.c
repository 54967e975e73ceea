/* test_parallel_encode.c — one tensor coded by several threads: the hlat
 * encoder and whole-model compression give the same bytes whatever the
 * thread count. (The paper codec's case is in test_paper.c.) */
#include "test.h"
#include "../src/common/util.h"
#include <math.h>
#include <string.h>

/* Student-t weights (3 degrees of freedom: heavy tails), as in trained layers. */
static float *student_t(uint64_t n, double scale, uint64_t seed) {
    hc_rng r = {seed};
    float *w = malloc(n * sizeof *w);
    if (!w) return NULL;
    for (uint64_t i = 0; i < n; i++) {
        double z = hc_rng_normal(&r), c = 0;
        for (int k = 0; k < 3; k++) {
            double g = hc_rng_normal(&r);
            c += g * g;
        }
        w[i] = (float)(scale * z / sqrt(c / 3));
    }
    return w;
}

static int same_encoding(const hc_encoded *a, const hc_encoded *b) {
    return a->codec == b->codec && a->params_len == b->params_len && !memcmp(a->params, b->params, a->params_len) &&
           a->payload_len == b->payload_len && !memcmp(a->payload, b->payload, a->payload_len) && a->mae == b->mae &&
           a->mse == b->mse && a->max_abs_err == b->max_abs_err;
}

/* n is not a multiple of the block: the last chunk of blocks ends in a
 * partial block. bits = 17 gives index fields that straddle bytes. */
TEST(hlat_threads_same_bytes) {
    const uint64_t n = (2u << 20) + 37;
    float *w = student_t(n, 0.02, 5);
    CHECK(w);
    const uint32_t bits[2] = {0, 17}; /* 0: the default */
    hc_error err;
    hc_error_clear(&err);
    for (int k = 0; k < 2; k++) {
        hc_opts o;
        hc_opts_default(&o);
        o.codec = HC_CODEC_HLAT;
        o.bits = bits[k];
        hc_encoded ref;
        o.threads = 1;
        hc_status s = hc_encode(w, n, &o, &ref, &err);
        if (s) free(w);
        CHECK_OK(s, &err);
        CHECK(ref.codec == HC_CODEC_HLAT);
        for (uint32_t t = 2; t <= 3; t++) {
            hc_encoded e;
            o.threads = t;
            s = hc_encode(w, n, &o, &e, &err);
            int same = s == HC_OK && same_encoding(&e, &ref);
            if (s == HC_OK) hc_encoded_free(&e);
            if (!same) {
                hc_encoded_free(&ref);
                free(w);
            }
            CHECKF(same, "bits %u: %u threads code differently from one (%s)", bits[k], t, err.msg);
        }
        hc_encoded_free(&ref);
    }
    free(w);
}

static int files_equal(const char *p1, const char *p2) {
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    int same = f1 && f2, c1, c2;
    while (same) {
        c1 = fgetc(f1);
        c2 = fgetc(f2);
        if (c1 != c2) same = 0;
        if (c1 == EOF) break;
    }
    if (f1) fclose(f1);
    if (f2) fclose(f2);
    return same;
}

/* A model whose one large tensor (above the size from which the pipeline
 * splits a tensor over its threads) sits beside a small one: 1 and 2 threads
 * write the same file, with and without per-tensor plans. */
TEST(pipeline_large_tensor_threads_same_file) {
    const uint64_t big = (4u << 20) + 64, small = 4096;
    float *w = student_t(big + small, 0.02, 9);
    CHECK(w);
    hc_tensor_info infos[2];
    memset(infos, 0, sizeof infos);
    snprintf(infos[0].name, sizeof infos[0].name, "layer.big");
    snprintf(infos[1].name, sizeof infos[1].name, "layer.small");
    const uint64_t rows[2] = {big / 64, small / 64};
    for (int i = 0; i < 2; i++) {
        infos[i].dtype = HC_F32;
        infos[i].ndim = 2;
        infos[i].shape[0] = rows[i];
        infos[i].shape[1] = 64;
        infos[i].nelem = rows[i] * 64;
        infos[i].nbytes = infos[i].nelem * 4;
    }
    char in[512], p1[512], p2[512];
    snprintf(in, sizeof in, "%s/pe_model.safetensors", hc_test_tmpdir());
    snprintf(p1, sizeof p1, "%s/pe_t1.hyc", hc_test_tmpdir());
    snprintf(p2, sizeof p2, "%s/pe_t2.hyc", hc_test_tmpdir());
    hc_error err;
    hc_error_clear(&err);
    hc_st_writer *sw;
    hc_status s = hc_st_writer_open(in, infos, 2, NULL, 0, 1, &sw, &err);
    if (!s) s = hc_st_writer_put(sw, 0, w, &err);
    if (!s) s = hc_st_writer_put(sw, 1, w + big, &err);
    if (!s) s = hc_st_writer_finish(sw, &err);
    else hc_st_writer_abort(sw);
    free(w);
    CHECK_OK(s, &err);
    for (int plan = 0; plan < 1; plan++) {
        hc_opts o;
        hc_opts_default(&o);
        if (plan) o.target_bpw = 4.5; /* the per-tensor plan path */
        hc_model_report rep;
        CHECK_OK(hc_compress_file(in, p1, &o, 1, 1, NULL, NULL, &rep, &err), &err);
        CHECK(rep.weights_coded == big + small);
        CHECK_OK(hc_compress_file(in, p2, &o, 2, 1, NULL, NULL, NULL, &err), &err);
        CHECKF(files_equal(p1, p2), "plan %d: 1 and 2 threads write different files", plan);
    }
}
