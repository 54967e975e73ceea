/* test_fuzz_regress.c — the crash inputs the fuzzers found, as unit tests
 * (they are also replayed by `make fuzz-replay` / `make fuzz-gcc` from
 * fuzz/corpus/<harness>/). Here: every fuzz/corpus/fuzz_codec/ input, in
 * fuzz_codec.c's layout ([codec, dtype, cols-1 u16, rows-1 u16, params_len,
 * params, payload]), opened as a decoder; if accepted, each row product
 * must equal the dot product of the decoded row (first find: the paper
 * codec's arithmetic matvec gave NaN where decode gave 0, for a band growth
 * factor beyond float range). */
#include "test.h"
#include "../src/common/util.h"
#include <dirent.h>
#include <math.h>
#include <string.h>

static int check_codec_input(const uint8_t *data, size_t size, char *why, size_t why_len) {
    if (size < 7 || size - 7 < data[6]) return 1;
    hc_codec_id codec = (hc_codec_id)(data[0] % HC_CODEC_COUNT);
    hc_dtype dtype = (hc_dtype)(data[1] % (HC_DTYPE_COUNT + 1));
    uint64_t cols = (uint64_t)(hc_get_u16(data + 2) % 1024) + 1, rows = (uint64_t)(hc_get_u16(data + 4) % 512) + 1;
    uint32_t plen = data[6];
    uint8_t params[HC_MAX_PARAMS];
    memcpy(params, data + 7, plen);
    size_t paylen = size - 7 - plen;
    uint8_t *payload = malloc(paylen ? paylen : 1);
    if (paylen) memcpy(payload, data + 7 + plen, paylen);
    hc_error err;
    hc_error_clear(&err);
    hc_decoder *d = NULL;
    int ok = 1;
    if (hc_decoder_open(codec, params, plen, payload, paylen, rows * cols, dtype, &d, &err) == HC_OK) {
        float *w = malloc(rows * cols * sizeof *w), *x = malloc(cols * sizeof *x), *y = malloc(rows * sizeof *y);
        hc_decode_all(d, w);
        for (uint64_t c = 0; c < cols; c++) x[c] = (float)((int)(c * 7 % 13) - 6) * 0.25f;
        hc_matvec(d, cols, 0, rows, x, y);
        for (uint64_t r = 0; r < rows && ok; r++) {
            double ref = 0, scale = 0, wmax = 0, ws = 0, xs = 0, xmax = 0;
            int finite = 1;
            for (uint64_t c = 0; c < cols; c++) {
                float v = w[r * cols + c];
                finite &= isfinite(v) && fabsf(v) < 1e30f;
                ref += (double)v * x[c];
                scale += fabs((double)v * x[c]);
                wmax = fmax(wmax, fabs(v));
                ws += fabs(v);
                xs += fabs(x[c]);
                xmax = fmax(xmax, fabs(x[c]));
            }
            /* hlat's integer product: the int16 bound of tests/test_codec_contract.c, as fuzz/fuzz_codec.c */
            double slack = codec == HC_CODEC_HLAT ? 4e-4 * wmax * xs + 4e-5 * xmax * ws : 0;
            if (finite && !(fabs(y[r] - ref) <= 1e-4 * scale + 1e-6 + slack)) {
                snprintf(why, why_len, "codec %s row %llu: matvec %g, decoded dot %g", hc_codec_name(codec),
                         (unsigned long long)r, y[r], ref);
                ok = 0;
            }
        }
        free(w);
        free(x);
        free(y);
        hc_decoder_free(d);
    } else if (!err.msg[0]) {
        snprintf(why, why_len, "refusal without a message");
        ok = 0;
    }
    free(payload);
    return ok;
}

TEST(fuzz_regressions_codec) {
    const char *dir = "fuzz/corpus/fuzz_codec";
    DIR *d = opendir(dir);
    CHECKF(d, "cannot open %s (run the tests from the repository root)", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[1024], why[256] = "";
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *b = hc_test_slurp(p, &len);
        if (!b) continue;
        int ok = check_codec_input(b, len, why, sizeof why);
        free(b);
        n++;
        if (!ok) closedir(d);
        CHECKF(ok, "%s: %s", p, why);
    }
    closedir(d);
    CHECK(n >= 1);
}

/* fuzz_tokenizer's layout: a one-token vocabulary (" ") asked to encode with
 * BOS read the pieces of id 1 past the end of the tables (heap overflow
 * under ASan); now a clear refusal, and EOS likewise. */
#include "hyperc_llm.h"
TEST(fuzz_regressions_tokenizer_bos_beyond_vocab) {
    const uint8_t file[] = {4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, ' '};
    hc_error err;
    hc_error_clear(&err);
    hc_tokenizer *t = NULL;
    CHECK_OK(hc_tok_open_mem(file, sizeof file, 0, "one-token", &t, &err), &err);
    int *tok = NULL;
    size_t n = 0;
    hc_status s = hc_tok_encode(t, " ", 1, 1, 0, &tok, &n, &err);
    CHECKF(s != HC_OK && tok == NULL && strstr(err.msg, "BOS"), "encode with BOS: %s", err.msg);
    hc_error_clear(&err);
    s = hc_tok_encode(t, " ", 1, 0, 1, &tok, &n, &err);
    CHECKF(s != HC_OK && tok == NULL && strstr(err.msg, "EOS"), "encode with EOS: %s", err.msg);
    hc_error_clear(&err);
    CHECK_OK(hc_tok_encode(t, " ", 1, 0, 0, &tok, &n, &err), &err);
    CHECK(n >= 1 && tok[0] == 0);
    free(tok);
    hc_tok_free(t);
}
