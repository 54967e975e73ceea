/* test_public_api.c — the public surface's rules (include/hyperc.h): a
 * failing call replaces the error, callers add context, every fallible call
 * returns hc_status (parsers and by-index getters included), the decoder is
 * usable through calls alone, and the instruction-set level is named. */
#include "test.h"
#include <string.h>

TEST(public_error_replaced_by_a_later_failure) {
    hc_error err = {0};
    hc_hyc *h = NULL;
    CHECK(hc_hyc_open("/nonexistent/x.hyc", &h, &err) == HC_E_IO && h == NULL);
    CHECK(strstr(err.msg, "/nonexistent/x.hyc") != NULL);
    hc_opts o;
    hc_opts_default(&o);
    /* the case: the earlier I/O failure must not leak into this one */
    CHECK(hc_opts_preset(&o, "nope", &err) == HC_E_ARG);
    CHECKF(err.code == HC_E_ARG && strstr(err.msg, "nope") && !strstr(err.msg, "x.hyc"), "%s", err.msg);
    /* context added by a caller keeps the code */
    CHECK(hc_error_context(&err, HC_E_ARG, "step %d", 2) == HC_E_ARG);
    CHECKF(strncmp(err.msg, "step 2: ", 8) == 0 && strstr(err.msg, "nope"), "%s", err.msg);
    CHECK(hc_error_context(&err, HC_OK, "nothing") == HC_OK && strncmp(err.msg, "step 2: ", 8) == 0);
    /* success leaves err alone */
    CHECK(hc_opts_preset(&o, "default", &err) == HC_OK && err.code == HC_E_ARG);
}

TEST(public_return_conventions) {
    hc_codec_id c = HC_CODEC_RAW;
    hc_dtype t = HC_F32;
    CHECK(hc_codec_parse("qkm", &c) == HC_OK && c == HC_CODEC_QKM);
    CHECK(hc_codec_parse("nope", &c) == HC_E_ARG && c == HC_CODEC_QKM);
    CHECK(hc_dtype_parse("BF16", 4, &t) == HC_OK && t == HC_BF16);
    CHECK(hc_dtype_parse("F3", 2, &t) == HC_E_ARG);
    CHECK(hc_st_info_at(NULL, 0, NULL) == HC_E_ARG);
    CHECK(hc_hyc_entry_at(NULL, 0, NULL) == HC_E_ARG);
    CHECK(hc_st_find(NULL, "x") == -1 && hc_hyc_find(NULL, "x") == -1);
}

TEST(public_decoder_through_calls) {
    float w[300], a[300], b[300];
    for (int i = 0; i < 300; i++) w[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    hc_opts o;
    hc_opts_default(&o);
    hc_error err = {0};
    hc_encoded e;
    CHECK_OK(hc_encode(w, 300, &o, &e, &err), &err);
    hc_decoder *d = NULL;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, 300, HC_F32, &d, &err), &err);
    CHECK(hc_decoder_size(d) == 300 && hc_decoder_codec(d) == e.codec);
    CHECK(hc_decoder_size(NULL) == 0);
    hc_decode_all(d, a);
    CHECK_OK(hc_decode_range(d, 17, 200, b, &err), &err);
    CHECK(memcmp(a + 17, b, 200 * sizeof(float)) == 0);
    CHECK_OK(hc_decode_range(d, 300, 0, b, &err), &err);
    CHECK(hc_decode_range(d, 290, 11, b, &err) == HC_E_ARG && strstr(err.msg, "past"));
    CHECK(hc_decode_range(d, UINT64_MAX, 2, b, &err) == HC_E_ARG);
    hc_decoder_free(d);
    hc_encoded_free(&e);
    CHECK(strcmp(hc_simd_name(hc_simd_level()), "?") != 0);
}
