/* test_cli_llm.c — the generate and perplexity commands of the CLI. Split
 * from test_infer.c. */
#include "test_llm.h"

/* ===================================================================== */
/* The commands                                                           */
/* ===================================================================== */

/* Runs `$HYPERC_BIN args`, stdout and stderr to files; the exit code. */
static int run_cli(const char *args, const char *out, const char *errf) { return hc_test_run(args, out, errf); }

static int file_has(const char *path, const char *needle) {
    hc_map m;
    hc_error err;
    if (hc_map_file(path, &m, E(&err)) != HC_OK) return 0;
    int found = memmem(m.ptr, (size_t)m.len, needle, strlen(needle)) != NULL;
    hc_unmap(&m);
    return found;
}

TEST(infer_cli_generate_perplexity) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *mp = hc_test_shared("models/stories260K.bin");
    if (!mp) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    const char *gp = hc_test_shared("models/stories260K_greedy_golden.txt");
    if (!gp) return;
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!xp) return;
    const char *big = hc_test_shared("models/tokenizer.bin");
    if (!big) return;
    const char *dir = subdir("cli");
    char out[600], errf[600], args[4096];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(errf, sizeof errf, "%s/err.txt", dir);
    /* the golden text, byte for byte, on stdout; speed and memory on stderr */
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 200 --threads 2", mp, tp);
    CHECK(run_cli(args, out, errf) == 0);
    hc_map a, b;
    hc_error err;
    CHECK_OK(hc_map_file(out, &a, E(&err)), &err);
    CHECK_OK(hc_map_file(gp, &b, E(&err)), &err);
    CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
    hc_unmap(&a);
    hc_unmap(&b);
    CHECK(file_has(errf, "tokens/s") && file_has(errf, "peak RSS"));
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' --ctx 256 --max-windows 20", mp, tp, xp);
    CHECK(run_cli(args, out, errf) == 0);
    CHECK(file_has(out, "perplexity: ") && file_has(out, "documents: 4302\n") && file_has(out, "tokens: 384954\n"));
    CHECK(file_has(out, "windows: 20 (ctx 256, 5100 tokens scored)"));
    CHECK(file_has(errf, "tokens/s") && file_has(errf, "peak RSS"));
    /* a tokenizer of another model: failure with a message; bad usage: 2 */
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s'", mp, big);
    CHECK(run_cli(args, out, errf) == 1);
    CHECK(file_has(errf, "32000"));
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s'", mp, tp);
    CHECK(run_cli(args, out, errf) == 2);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' -n lots", mp, tp);
    CHECK(run_cli(args, out, errf) == 2);
}
