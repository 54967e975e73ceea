/* test_python.c — runs the Python package's tests (python/tests, unittest)
 * with /usr/bin/python3 against this build's libhyperc.so. Skipped when
 * python3, numpy or torch is missing (failed under CI=true), and under the
 * sanitizers (an instrumented libhyperc.so cannot be loaded into python3). */
#include "test.h"

#include <string.h>
#include <unistd.h>

TEST(python_package_unittest) {
    const char *build = getenv("HYPERC_TEST_BUILD");
    const char *cflags = getenv("HYPERC_TEST_CFLAGS");
    const char *ci = getenv("CI");
    int in_ci = ci && !strcmp(ci, "true");
    if (!build || !*build) build = "build";
    if (access("python/tests", R_OK) != 0) {
        hc_test_skip("not run from the source tree");
        return;
    }
    if (cflags && strstr(cflags, "sanitize")) {
        hc_test_skip("sanitizer build: libhyperc.so cannot be loaded into python3");
        return;
    }
    const char *py = "/usr/bin/python3";
    if (access(py, X_OK) != 0 || system("/usr/bin/python3 -c 'import numpy, torch' >/dev/null 2>&1") != 0) {
        CHECKF(!in_ci, "CI=true: /usr/bin/python3 with numpy and torch is required (apt-get install python3-numpy python3-torch)");
        hc_test_skip("/usr/bin/python3 with numpy and torch not available");
        return;
    }
    char lib[1024];
    snprintf(lib, sizeof lib, "%.900s/libhyperc.so", build);
    CHECKF(access(lib, R_OK) == 0, "%s not built", lib);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "PYTHONPATH=python HYPERC_LIB='%s' PYTHONDONTWRITEBYTECODE=1 %s -m unittest discover -s python/tests 2>&1",
             lib, py);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    static char out[1 << 16];
    size_t n = 0, r;
    char chunk[4096];
    while ((r = fread(chunk, 1, sizeof chunk, p)) > 0) {
        /* keep the last 64 KiB */
        if (n + r >= sizeof out) {
            size_t drop = n + r - (sizeof out - 1);
            if (drop > n) drop = n;
            memmove(out, out + drop, n - drop);
            n -= drop;
        }
        memcpy(out + n, chunk, r < sizeof out - 1 - n ? r : sizeof out - 1 - n);
        n += r < sizeof out - 1 - n ? r : sizeof out - 1 - n;
    }
    out[n] = 0;
    int rc = pclose(p);
    if (rc != 0) fputs(out, stderr);
    const char *tail = n > 1400 ? out + n - 1400 : out;
    CHECKF(rc == 0, "python unittest failed (output above): %.1400s", tail);
    CHECKF(strstr(out, "\nOK") != NULL, "no OK from unittest: %.1400s", tail);
}
