/* test_install.c — `make install` into a temporary prefix, a program built
 * against it with pkg-config, and the export list of libhyperc.so
 * (tests/install_check.sh does the work). */
#include "test.h"

#include <string.h>
#include <unistd.h>

static const char *test_build_dir(void) {
    const char *b = getenv("HYPERC_TEST_BUILD");
    return b && *b ? b : "build";
}

TEST(install_pkgconfig_shared_library) {
    if (access("Makefile", R_OK) != 0 || access("tests/install_check.sh", R_OK) != 0) {
        hc_test_skip("not run from the source tree");
        return;
    }
    char cmd[8192];
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%.900s/install", hc_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && sh tests/install_check.sh '%s' '%s' 2>&1", tmp, test_build_dir(), tmp);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    CHECKF(rc == 0, "tests/install_check.sh failed: %.1400s", out);
    CHECKF(strstr(out, "install_check: ok") != NULL, "unexpected output: %.1400s", out);
}
