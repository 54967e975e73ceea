/* test_layers.c — `hyperc layers` (src/infer/layers.c): error accumulation
 * through depth between a float model and a compressed one. */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/infer/layers.h"
#include <math.h>
#include <string.h>
#include <sys/wait.h>

static const int toks[] = {1, 403, 407, 261, 378, 284, 410, 338, 343, 299, 262, 270, 306, 325, 402, 356,
                           291, 260, 431, 289, 276, 436, 270, 416, 349, 265, 271, 312, 409, 301, 259, 340};
#define NT (sizeof toks / sizeof toks[0])

TEST(layers_self_is_zero) {
    const char *p = hc_test_shared("models/stories260K.safetensors");
    if (!p) return;
    hc_error err = {0};
    hc_llm_model *m;
    CHECK_OK(hc_llm_open(p, NULL, &m, &err), &err);
    hc_layers_result r;
    hc_status s = hc_llm_layer_errors(m, m, toks, NT, 16, 2, &r, &err);
    CHECKF(s == HC_OK, "%s", err.msg);
    CHECK(r.tokens == NT && r.windows == 2 && r.n_layers == hc_llm_config_of(m)->n_layers);
    for (int l = 0; l <= r.n_layers; l++)
        CHECKF(r.rows[l].hidden == 0 && r.rows[l].att == 0 && r.rows[l].ffn == 0, "row %d not 0", l);
    CHECK(r.logits == 0 && r.kl == 0 && r.top1 == 1);
    hc_layers_result_free(&r);
    /* a token outside the vocabulary is refused, naming it */
    int bad[2] = {1, 100000};
    CHECK(hc_llm_layer_errors(m, m, bad, 2, 16, 1, &r, &err) == HC_E_ARG && strstr(err.msg, "100000"));
    CHECK(hc_llm_layer_errors(m, m, toks, 0, 16, 1, &r, &err) == HC_E_ARG);
    hc_llm_free(m);
}

TEST(layers_coded_model_positive) {
    const char *p = hc_test_shared("models/stories260K.safetensors");
    if (!p) return;
    char out[4096];
    snprintf(out, sizeof out, "%s/layers_q4b.hyc", hc_test_tmpdir());
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_Q4B;
    hc_error err = {0};
    CHECK_OK(hc_compress_file(p, out, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    hc_llm_model *f, *c;
    CHECK_OK(hc_llm_open(p, NULL, &f, &err), &err);
    CHECK_OK(hc_llm_open(out, NULL, &c, &err), &err);
    hc_layers_result r;
    hc_status s = hc_llm_layer_errors(f, c, toks, NT, 0, 1, &r, &err);
    CHECKF(s == HC_OK, "%s", err.msg);
    CHECK(r.windows == 1);
    for (int l = 0; l <= r.n_layers; l++) {
        CHECKF(r.rows[l].hidden > 1e-4 && r.rows[l].hidden < 1, "layer %d hidden %g", l - 1, r.rows[l].hidden);
        if (l > 0) CHECKF(r.rows[l].att > 1e-4 && r.rows[l].att < 2 && r.rows[l].ffn > 1e-4 && r.rows[l].ffn < 2,
                          "layer %d att %g ffn %g", l - 1, r.rows[l].att, r.rows[l].ffn);
    }
    /* q4b (4.5 bpw): errors grow through depth */
    CHECKF(r.rows[r.n_layers].hidden > r.rows[0].hidden, "last %g embed %g", r.rows[r.n_layers].hidden, r.rows[0].hidden);
    CHECK(r.logits > 0 && isfinite(r.logits) && r.kl > 0 && isfinite(r.kl) && r.top1 > 0.5 && r.top1 <= 1);
    hc_layers_result_free(&r);
    hc_llm_free(f);
    hc_llm_free(c);
}

TEST(layers_cli) {
    const char *p = hc_test_shared("models/stories260K.safetensors");
    if (!p) return;
    const char *b = getenv("HYPERC_BIN") ? getenv("HYPERC_BIN") : "build/hyperc";
    char cmd[8192], log[1024];
    snprintf(log, sizeof log, "%s/layers_cli.txt", hc_test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' layers '%s' '%s' --tokens 64 --ctx 32 --threads 1 > '%s' 2>&1", b, p, p, log);
    CHECK(system(cmd) == 0);
    size_t len;
    char *t = (char *)hc_test_slurp(log, &len);
    CHECK(t);
    CHECKF(strstr(t, "64 tokens") && strstr(t, "2 windows") && strstr(t, "embed    0.0000e+00") &&
               strstr(t, "\n4        0.0000e+00   0.0000e+00   0.0000e+00") && strstr(t, "top-1 agreement 100.00%"),
           "%s", t);
    free(t);
    static const char *const bad[] = {"", "'%s'", "'%s' '%s' '%s'", "'%s' '%s' --tokens 0", "'%s' '%s' --bogus 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, bad[i], p, p, p);
        snprintf(cmd, sizeof cmd, "'%s' layers %s > /dev/null 2>&1", b, args);
        int st = system(cmd);
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2, "layers %s: exit %d", args, WEXITSTATUS(st));
    }
    /* a missing model: a failure, not a usage error */
    snprintf(cmd, sizeof cmd, "'%s' layers '%s' /nonexistent.hyc > /dev/null 2>&1", b, p);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}
