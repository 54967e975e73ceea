/* test_determinism.c — `hyperc compress` gives the same bytes on 1, 2 and 8
 * threads: at the default codec, with --calib self (calibration inputs
 * sampled from the model, error feedback), and at --preset paper-llm.
 * stories260K, through the CLI ($HYPERC_BIN); --calib-tokens 256 keeps it
 * cheap (the calibration path is the same at any size). */
#include "test.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int compress_with(const char *bin, const char *in, const char *out, int threads, const char *extra) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' compress '%s' -o '%s' -f -q --threads %d %s", bin, in, out, threads, extra);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void same_on_all_threads(const char *tag, const char *extra) {
    const char *in = hc_test_shared("models/stories260K.safetensors");
    const char *bin = getenv("HYPERC_BIN");
    if (!in) return;
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    static const int threads[3] = {1, 2, 8};
    uint8_t *first = NULL;
    size_t first_len = 0;
    for (int k = 0; k < 3; k++) {
        char out[600];
        snprintf(out, sizeof out, "%s/det_%s_t%d.hyc", hc_test_tmpdir(), tag, threads[k]);
        CHECKF(compress_with(bin, in, out, threads[k], extra), "compress %s --threads %d failed", extra, threads[k]);
        size_t len;
        uint8_t *b = hc_test_slurp(out, &len);
        CHECK(b && len > 0);
        if (!first) {
            first = b;
            first_len = len;
            continue;
        }
        size_t at = 0;
        while (at < len && at < first_len && b[at] == first[at]) at++;
        int same = len == first_len && at == len;
        free(b);
        if (!same) free(first);
        CHECKF(same, "compress %s: --threads %d gives %zu bytes, --threads 1 %zu bytes; first difference at byte %zu",
               extra, threads[k], len, first_len, at);
    }
    free(first);
}

TEST(determinism_threads_default) { same_on_all_threads("default", ""); }
TEST(determinism_threads_calib_self) { same_on_all_threads("calib", "--calib self --calib-tokens 256"); }
TEST(determinism_threads_paper_llm) { same_on_all_threads("paper", "--preset paper-llm"); }
