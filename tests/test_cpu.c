/* test_cpu.c — the one instruction-set dispatch (src/common/cpu.h): the
 * level in force, the test-only setter clamping to the machine, the
 * HYPERC_SIMD check, and the inference kernels giving the same next-token
 * logits at every level this machine runs. */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/common/cpu.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

TEST(cpu_levels_and_setter) {
    hc_simd was = hc_simd_level(), best = hc_cpu_best();
    CHECK(hc_cpu_has(HC_SIMD_REF));
    CHECK(was <= best && hc_cpu_has(was));
    CHECK(strcmp(hc_simd_name(HC_SIMD_REF), "ref") == 0 && strcmp(hc_simd_name(HC_SIMD_AVX2), "avx2") == 0 &&
          strcmp(hc_simd_name(HC_SIMD_AVX512), "avx512") == 0 && strcmp(hc_simd_name((hc_simd)7), "?") == 0);
    for (int l = HC_SIMD_REF; l <= HC_SIMD_AVX512; l++) {
        hc_simd got = hc_simd_set_level((hc_simd)l);
        CHECKF(got == ((hc_simd)l <= best ? (hc_simd)l : best), "set %d gave %d (best %d)", l, (int)got, (int)best);
        CHECK(hc_simd_level() == got);
        CHECK(hc_cpu_has(got) && (got != (hc_simd)l || hc_cpu_has((hc_simd)l)));
    }
    CHECK(!hc_cpu_has((hc_simd)(HC_SIMD_AVX512 + 1)));
    if (best < HC_SIMD_AVX512) CHECK(!hc_cpu_has_vbmi());
    hc_simd_set_level(was);
    /* the override, as HYPERC_SIMD was at start: only lowers */
    const char *env = getenv("HYPERC_SIMD");
    hc_error err = {0};
    int named = env && (!strcmp(env, "ref") || !strcmp(env, "avx2") || !strcmp(env, "avx512"));
    hc_status s = hc_simd_env_check(&err);
    if (env && *env && !named)
        CHECKF(s == HC_E_ARG && strstr(err.msg, env) && strstr(err.msg, "HYPERC_SIMD"), "%s", err.msg);
    else
        CHECKF(s == HC_OK, "%s", err.msg);
    if (!named) CHECK(was == best);
}

/* A bad HYPERC_SIMD is named in a warning by the CLI and the work goes on. */
TEST(cpu_cli_warns_on_bad_simd) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || !*bin) bin = "build/hyperc";
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "HYPERC_SIMD=sse9 '%.1000s' --help 2>&1 >/dev/null", bin);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char out[2048];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    CHECKF(rc == 0 && strstr(out, "HYPERC_SIMD='sse9'") && strstr(out, "warning"), "rc %d: %.1000s", rc, out);
}

/* The forward pass of stories260K at every level this machine runs: the
 * same next-token logits to float rounding (the kernels are picked when the
 * state is made). */
TEST(cpu_inference_same_at_every_level) {
    const char *path = hc_test_shared("models/stories260K.bin");
    if (!path) return;
    hc_error err = {0};
    hc_llm_model *m;
    CHECK_OK(hc_llm_open(path, NULL, &m, &err), &err);
    const int vocab = hc_llm_config_of(m)->vocab_size;
    const int toks[8] = {1, 403, 407, 261, 378, 275, 280, 300};
    float *ref = malloc(sizeof(float) * (size_t)vocab * 8), *got = malloc(sizeof(float) * (size_t)vocab * 8);
    hc_simd was = hc_simd_level();
    int levels_run = 0;
    for (int l = HC_SIMD_REF; l <= HC_SIMD_AVX512; l++) {
        if (!hc_cpu_has((hc_simd)l)) continue;
        hc_simd_set_level((hc_simd)l);
        hc_llm_state *s;
        hc_status st = hc_llm_state_new(m, 0, 0, 1, &s, &err);
        hc_simd_set_level(was);
        CHECK_OK(st, &err);
        st = hc_llm_forward(s, toks, 8, 0, l == 0 ? ref : got, 1, &err);
        hc_llm_state_free(s);
        CHECK_OK(st, &err);
        levels_run++;
        if (l == 0) continue;
        double maxd = 0, maxv = 0;
        for (size_t i = 0; i < (size_t)vocab * 8; i++) {
            double d = fabs((double)ref[i] - got[i]);
            if (d > maxd) maxd = d;
            if (fabs(ref[i]) > maxv) maxv = fabs(ref[i]);
        }
        CHECKF(maxd <= 1e-4 * (maxv + 1), "level %s: logits differ by %g (max %g)", hc_simd_name((hc_simd)l), maxd,
               maxv);
    }
    CHECK(levels_run >= 1);
    free(ref);
    free(got);
    hc_llm_free(m);
}
