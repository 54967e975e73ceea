/* test_calib_build.c — calibration as one library call (hc_llm_calib_build,
 * hyperc_llm.h): the same statistics as the steps it stands for, text files
 * through a tokenizer, and errors that name the step and the file. */
#include "test.h"
#include "hyperc_llm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(calib_build_self_equals_its_steps) {
    const char *path = hc_test_shared("models/stories260K.bin");
    if (!path) return;
    hc_error err;
    snprintf(err.msg, sizeof err.msg, "an earlier failure");
    err.code = HC_E_IO;
    hc_calib *c = NULL;
    size_t n = 0;
    CHECK_OK(hc_llm_calib_build(path, NULL, NULL, 300, NULL, 2, &c, &n, &err), &err);
    CHECK(c != NULL && n == 300 && hc_calib_count(c) > 0);
    /* the steps by hand: sampled corpus (seed 1234, seq_len), then statistics */
    hc_llm_model *m;
    CHECK_OK(hc_llm_open(path, NULL, &m, &err), &err);
    int *tok = NULL;
    size_t nt = 0;
    CHECK_OK(hc_llm_sample_corpus(m, 300, hc_llm_config_of(m)->seq_len, 1234, 1, &tok, &nt, &err), &err);
    hc_calib *ref = NULL;
    CHECK_OK(hc_llm_calibrate(m, tok, nt, 0, 1, &ref, &err), &err);
    CHECK(hc_calib_count(ref) == hc_calib_count(c));
    const char *names[] = {"layers.0.attention.wq.weight", "layers.0.feed_forward.w2.weight", "layers.4.attention.wo.weight"};
    int found = 0;
    for (int i = 0; i < 3; i++) {
        uint32_t d1 = 0, d2 = 0;
        const float *h1 = hc_calib_find(c, names[i], &d1), *h2 = hc_calib_find(ref, names[i], &d2);
        if (!h2) continue;
        found++;
        CHECKF(h1 && d1 == d2 && memcmp(h1, h2, sizeof(float) * d1 * d1) == 0, "%s differs", names[i]);
    }
    CHECK(found > 0);
    /* with a size budget each matrix also gets its sensitivity weight */
    hc_opts o;
    hc_opts_default(&o);
    o.target_bpw = 4;
    hc_calib *cw = NULL;
    CHECK_OK(hc_llm_calib_build(path, "self", NULL, 256, &o, 2, &cw, NULL, &err), &err);
    CHECK(hc_calib_weight(cw, "layers.0.attention.wq.weight") > 0);
    CHECK(hc_calib_weight(c, "layers.0.attention.wq.weight") == 0);
    hc_calib_free(cw);
    hc_calib_free(ref);
    hc_calib_free(c);
    free(tok);
    hc_llm_free(m);
}

TEST(calib_build_text_and_errors) {
    const char *path = hc_test_shared("models/stories260K.bin");
    const char *tok = hc_test_shared("models/tok512.bin");
    if (!path || !tok) return;
    char text[1100];
    snprintf(text, sizeof text, "%.1000s/calib_text.txt", hc_test_tmpdir());
    FILE *f = fopen(text, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 40; i++) fprintf(f, "Once upon a time there was a little girl named Lily. She liked to play.\n");
    fclose(f);
    hc_error err = {0};
    hc_calib *c = NULL;
    size_t n = 0;
    CHECK_OK(hc_llm_calib_build(path, text, tok, 200, NULL, 1, &c, &n, &err), &err);
    CHECK(n == 200 && hc_calib_count(c) > 0);
    hc_calib_free(c);
    /* a text without a tokenizer, on a model that carries none */
    c = (hc_calib *)&err; /* must come back NULL */
    CHECK(hc_llm_calib_build(path, text, NULL, 200, NULL, 1, &c, &n, &err) == HC_E_ARG);
    CHECKF(c == NULL && n == 0 && strstr(err.msg, "needs a tokenizer") && strstr(err.msg, "calib_text.txt"), "%s",
           err.msg);
    CHECK(hc_llm_calib_build(path, NULL, NULL, 0, NULL, 1, &c, &n, &err) == HC_E_ARG && c == NULL);
    /* a model that is not there: the step and the file are named */
    hc_status s = hc_llm_calib_build("/nonexistent/m.bin", NULL, NULL, 100, NULL, 1, &c, &n, &err);
    CHECKF(s == HC_E_IO && c == NULL && strstr(err.msg, "llama-family") && strstr(err.msg, "/nonexistent/m.bin"), "%s",
           err.msg);
    /* a text file that is not there */
    s = hc_llm_calib_build(path, "/nonexistent/t.txt", tok, 100, NULL, 1, &c, &n, &err);
    CHECKF(s == HC_E_IO && c == NULL && strstr(err.msg, "calibration text '/nonexistent/t.txt'") &&
               strstr(err.msg, "stories260K.bin"),
           "%s", err.msg);
    /* a tokenizer that is not one */
    s = hc_llm_calib_build(path, text, text, 100, NULL, 1, &c, &n, &err);
    CHECKF(s != HC_OK && c == NULL && strstr(err.msg, "tokenizer"), "%s", err.msg);
}
