/* test_llm.h — helpers shared by the llama inference tests (test_generate.c,
 * test_llm_formats.c, test_llm_source.c, test_perplexity.c,
 * test_llm_checkpoints.c, test_kernels.c, test_cli_llm.c, test_pool.c). */
#ifndef HC_TEST_LLM_H
#define HC_TEST_LLM_H

#include "test.h"
#include "hyperc_llm.h"
#include "../src/infer/infer.h"
#include "../src/codec/codec.h"
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

/* Clears an error before a call, so its code is the call's own. */
static inline hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}

/* A fresh subdirectory of the test tmpdir. */
static inline const char *subdir(const char *name) {
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ & 7];
    snprintf(p, 512, "%s/infer_%s", hc_test_tmpdir(), name);
    mkdir(p, 0755);
    return p;
}

static inline int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Logits (n, vocab) for tokens at positions 0..n-1: one batch, or one token
 * at a time (the generation path). */
static inline float *run_logits(const hc_llm_model *m, const int *tokens, int n, int one_by_one, int threads) {
    int vocab = hc_llm_config_of(m)->vocab_size;
    hc_error err;
    hc_llm_state *s;
    if (hc_llm_state_new(m, n, 0, threads, &s, E(&err)) != HC_OK) return NULL;
    float *out = malloc((size_t)n * vocab * sizeof *out);
    int ok = out != NULL;
    if (ok && one_by_one) {
        for (int i = 0; i < n && ok; i++)
            ok = hc_llm_forward(s, tokens + i, 1, i, out + (size_t)i * vocab, 0, E(&err)) == HC_OK;
    } else if (ok) {
        ok = hc_llm_forward(s, tokens, n, 0, out, 1, E(&err)) == HC_OK;
    }
    hc_llm_state_free(s);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* Largest |a - b| relative to the largest |a| of the same row. */
static inline double rel_diff(const float *a, const float *b, int n, int vocab) {
    double worst = 0;
    for (int t = 0; t < n; t++) {
        double mx = 1e-30, d = 0;
        for (int i = 0; i < vocab; i++) {
            const float x = a[(size_t)t * vocab + i], y = b[(size_t)t * vocab + i];
            if (fabs(x) > mx) mx = fabs(x);
            if (fabs((double)x - y) > d || x != x || y != y) d = (x != x || y != y) ? INFINITY : fabs((double)x - y);
        }
        if (d / mx > worst) worst = d / mx;
    }
    return worst;
}

static const int probe_tokens[] = {1, 403, 407, 261, 378, 430, 300, 267, 318, 269, 395, 350,
                                   400, 280, 290, 260, 511, 3, 258, 500, 420, 333, 444, 275};
#define N_PROBE ((int)(sizeof probe_tokens / sizeof probe_tokens[0]))

#endif
