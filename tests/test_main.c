/* test_main.c — runs the registered tests and prints the summary line. */
#include "test.h"
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define MAX_TESTS 1024
static struct { const char *name, *file; hc_test_fn fn; } tests[MAX_TESTS];
static int n_tests;
static int cur_failed, cur_skipped;
static int cur_missing_data; /* the current test skipped (or failed) for missing shared data */

void hc_test_register(const char *name, const char *file, hc_test_fn fn) {
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].file = file;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void hc_test_fail(const char *file, int line, const char *what) {
    cur_failed = 1;
    fprintf(stdout, "    %s:%d: check failed: %s\n", file, line, what);
}

void hc_test_skip(const char *why) {
    cur_skipped = 1;
    fprintf(stdout, "    skipped: %s\n", why);
}

int hc_test_failed(void) { return cur_failed; }

double hc_rng_normal(hc_rng *r) {
    double u1 = hc_rng_uniform(r), u2 = hc_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

float *hc_test_correlated_hessian(uint32_t d, uint32_t N, uint64_t seed) {
    hc_rng r = {seed};
    float *A = malloc(sizeof(float) * d * d), *H = calloc((size_t)d * d, sizeof(float));
    float *x = malloc(sizeof(float) * d), *z = malloc(sizeof(float) * d);
    for (uint32_t i = 0; i < d * d; i++) A[i] = (float)hc_rng_normal(&r);
    for (uint32_t i = 0; i < d; i++) A[i * d + i % 3] += 4.0f; /* shared directions */
    for (uint32_t s = 0; s < N; s++) {
        for (uint32_t i = 0; i < d; i++) z[i] = (float)hc_rng_normal(&r) * (i < 4 ? 3.0f : 1.0f);
        for (uint32_t i = 0; i < d; i++) {
            float v = 0;
            for (uint32_t j = 0; j < d; j++) v += A[i * d + j] * z[j];
            x[i] = v;
        }
        for (uint32_t i = 0; i < d; i++)
            for (uint32_t j = 0; j < d; j++) H[i * d + j] += x[i] * x[j] / (float)N;
    }
    free(A);
    free(x);
    free(z);
    return H;
}

const char *hc_test_shared(const char *rel) {
    static char buf[8][4096];
    static int slot;
    char *p = buf[slot++ & 7];
    const char *env = getenv("HYPERC_SHARED");
    const char *bases[] = {env, "../shared", "../../shared", NULL};
    for (int i = 0; i < 3; i++) {
        if (!bases[i]) continue;
        snprintf(p, 4096, "%s/%s", bases[i], rel);
        if (access(p, R_OK) == 0) return p;
    }
    const char *ci = getenv("CI");
    char msg[4200];
    snprintf(msg, sizeof msg, "shared file '%s' not found (set HYPERC_SHARED)", rel);
    cur_missing_data = 1;
    if (ci && strcmp(ci, "true") == 0)
        hc_test_fail(__FILE__, __LINE__, msg);
    else
        hc_test_skip(msg);
    return NULL;
}

uint8_t *hc_test_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

static char tmpdir[256];
static void rm_tmpdir(void) {
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) { /* best effort */ }
    }
}

const char *hc_test_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/hyperc-test-XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0, skipped = 0, missing_data = 0, failed_data = 0;
    for (int i = 0; i < n_tests; i++) {
        int selected = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strstr(tests[i].name, argv[a]) || strstr(tests[i].file, argv[a])) selected = 1;
        if (!selected) continue;
        cur_failed = cur_skipped = cur_missing_data = 0;
        printf("[ RUN  ] %s (%s)\n", tests[i].name, tests[i].file);
        tests[i].fn();
        if (cur_failed) {
            failed++;
            failed_data += cur_missing_data;
            printf("[ FAIL ] %s\n", tests[i].name);
        } else if (cur_skipped) {
            skipped++;
            missing_data += cur_missing_data;
            printf("[ SKIP ] %s\n", tests[i].name);
        } else {
            passed++;
            printf("[  OK  ] %s\n", tests[i].name);
        }
    }
    if (missing_data || failed_data) {
        /* a run without the shared data must not look green */
        const char *env = getenv("HYPERC_SHARED");
        printf("\n*** %d test(s) %s because the shared data (real models, vocabularies, eval text) is missing:\n"
               "*** looked in %s%s%s../shared and ../../shared. Get the shared/ folder (see its README.md and\n"
               "*** SHA256SUMS) beside the checkout, or set HYPERC_SHARED=/path/to/shared, and run again.\n"
               "*** With CI=true these tests fail instead of being skipped.\n\n",
               missing_data + failed_data, failed_data ? "FAILED (CI=true)" : "were SKIPPED", env ? "$HYPERC_SHARED=" : "",
               env ? env : "", env ? ", " : "");
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
