/* test_util.c — helpers shared by the tests (declared in test.h): running
 * the hyperc binary under test through the shell. */
#include "test.h"
#include <string.h>
#include <sys/wait.h>

const char *hc_test_bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b && *b ? b : "build/hyperc";
}

static int exit_code(int s) { return s != -1 && WIFEXITED(s) ? WEXITSTATUS(s) : -1; }

int hc_test_run(const char *args, const char *out_path, const char *err_path) {
    const char *bin = hc_test_bin();
    const char *o = out_path ? out_path : "/dev/null", *e = err_path ? err_path : "/dev/null";
    size_t cap = strlen(bin) + strlen(args) + strlen(o) + strlen(e) + 32;
    char *cmd = malloc(cap);
    if (!cmd) return -1;
    if (out_path && err_path && strcmp(out_path, err_path) == 0)
        snprintf(cmd, cap, "'%s' %s > '%s' 2>&1", bin, args, o);
    else
        snprintf(cmd, cap, "'%s' %s > '%s' 2> '%s'", bin, args, o, e);
    int s = system(cmd);
    free(cmd);
    return exit_code(s);
}

int hc_test_run_capture(const char *args, int with_stderr, char *out, size_t cap) {
    const char *bin = hc_test_bin();
    size_t n = strlen(bin) + strlen(args) + 32;
    char *cmd = malloc(n);
    if (!cmd) return -1;
    snprintf(cmd, n, "( '%s' %s ) %s", bin, args, with_stderr ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return -1;
    size_t got = cap ? fread(out, 1, cap - 1, p) : 0;
    if (cap) out[got] = 0;
    return exit_code(pclose(p));
}
