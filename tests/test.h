/* test.h — a tiny self-registering test framework.
 *   TEST(name) { CHECK(cond); CHECKF(cond, "fmt", ...); }
 * The runner (tests/test_main.c) runs every test (or those whose name
 * contains argv[1]) and ends with the line "N passed, N failed, N skipped". */
#ifndef HC_TEST_H
#define HC_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include "hyperc.h"

typedef void (*hc_test_fn)(void);
void hc_test_register(const char *name, const char *file, hc_test_fn fn);
void hc_test_fail(const char *file, int line, const char *what);
void hc_test_skip(const char *why);
int hc_test_failed(void); /* 1 once the current test has failed */

#define TEST(name)                                                                         \
    static void name(void);                                                                \
    __attribute__((constructor)) static void hc_reg_##name(void) {                         \
        hc_test_register(#name, __FILE__, name);                                           \
    }                                                                                      \
    static void name(void)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            hc_test_fail(__FILE__, __LINE__, #cond);                                       \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECKF(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            char hc_buf_[1536];                                                            \
            snprintf(hc_buf_, sizeof hc_buf_, __VA_ARGS__);                                \
            hc_test_fail(__FILE__, __LINE__, hc_buf_);                                     \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* CHECK that an hc call returned HC_OK, printing its message otherwise. */
#define CHECK_OK(call, errp)                                                               \
    do {                                                                                   \
        hc_status hc_s_ = (call);                                                          \
        CHECKF(hc_s_ == HC_OK, "%s -> %s: %s", #call, hc_status_str(hc_s_), (errp)->msg);  \
    } while (0)

/* Path of a file under the shared folder ($HYPERC_SHARED, else ../shared,
 * else ../../shared from the test's working directory). Returns NULL and
 * marks the test skipped when missing, or failed when CI=true. */
const char *hc_test_shared(const char *rel);

/* The whole file at path (malloc'd, *len bytes), or NULL. */
uint8_t *hc_test_slurp(const char *path, size_t *len);

/* A fresh temporary directory for this run (removed at exit). */
const char *hc_test_tmpdir(void);

/* The hyperc binary under test: $HYPERC_BIN, else build/hyperc. */
const char *hc_test_bin(void);

/* Runs `hyperc ARGS` through the shell (ARGS pasted as is: quote paths);
 * stdout to out_path, stderr to err_path (NULL: /dev/null; the same path for
 * both: one file). Returns the exit status, -1 if it did not exit. */
int hc_test_run(const char *args, const char *out_path, const char *err_path);

/* Runs `hyperc ARGS`; its stdout (and stderr when with_stderr, else stderr
 * is dropped) into out[cap], NUL-terminated, cut at cap - 1 bytes. Returns
 * the exit status, -1 if it did not exit. */
int hc_test_run_capture(const char *args, int with_stderr, char *out, size_t cap);

/* Deterministic random numbers for tests. */
typedef struct hc_rng { uint64_t s; } hc_rng;
static inline uint64_t hc_rng_next(hc_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double hc_rng_uniform(hc_rng *r) { return (double)(hc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
double hc_rng_normal(hc_rng *r);
/* A d x d input second-moment matrix H = mean x x^T over N samples of
 * correlated inputs (a few shared directions, four louder ones), for the
 * error-feedback tests; malloc'd. */
float *hc_test_correlated_hessian(uint32_t d, uint32_t N, uint64_t seed);

#endif
