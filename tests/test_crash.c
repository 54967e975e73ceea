/* test_crash.c — crash safety of the CLI: `hyperc compress` and `hyperc
 * decompress` ($HYPERC_BIN) are killed with SIGKILL at random moments of
 * their run. After every kill:
 *   - the input is byte-for-byte what it was (a writable copy in the test's
 *     temporary directory, so that damage would show);
 *   - a file exists under the final output name only if it is complete and
 *     valid: byte-identical to the output of an uninterrupted run (half the
 *     runs start with no output, half with -f over a complete one, which
 *     must then survive whole).
 * Leftover temporary files are counted and reported (not failures here).
 * HYPERC_CRASH_RUNS (default 25 per command) and HYPERC_CRASH_SEED choose
 * the number of kills and the moments. */
#include "test.h"
#include "../src/common/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int copy_file(const char *from, const char *to) {
    size_t n;
    uint8_t *b = hc_test_slurp(from, &n);
    if (!b) return 0;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(b, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    free(b);
    return ok;
}

static int same_bytes(const char *path, const uint8_t *want, size_t want_len) {
    size_t n;
    uint8_t *b = hc_test_slurp(path, &n);
    int same = b && n == want_len && memcmp(b, want, n) == 0;
    free(b);
    return same;
}

/* Starts `bin cmd in -o out -f`; returns the pid (output to /dev/null). */
static pid_t start(const char *bin, const char *cmd, const char *in, const char *out) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, cmd, in, "-o", out, "-f", "--threads", "2", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static double run_once(const char *bin, const char *cmd, const char *in, const char *out, int *status) {
    double t0 = hc_now();
    pid_t pid = start(bin, cmd, in, out);
    *status = -1;
    if (pid > 0) waitpid(pid, status, 0);
    return hc_now() - t0;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static void remove_all(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1200];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

/* Kills `bin cmd in -o dir/out` runs; checks the guarantees above. */
static void kill_loop(const char *bin, const char *cmd, const char *in, const char *name) {
    const char *e = getenv("HYPERC_CRASH_RUNS");
    int runs = e && atoi(e) > 0 ? atoi(e) : 25;
    e = getenv("HYPERC_CRASH_SEED");
    hc_rng rng = {e ? strtoull(e, NULL, 0) : 0x5EEDull};
    size_t in_len;
    uint8_t *in_bytes = hc_test_slurp(in, &in_len);
    CHECK(in_bytes);
    char dir[600], out[800], ref_path[800];
    snprintf(dir, sizeof dir, "%s/crash_%s", hc_test_tmpdir(), cmd);
    mkdir(dir, 0755);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    snprintf(ref_path, sizeof ref_path, "%s/ref_%s", hc_test_tmpdir(), name);
    int st;
    double dur = run_once(bin, cmd, in, ref_path, &st);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "uninterrupted %s failed (status %d)", cmd, st);
    size_t ref_len;
    uint8_t *ref = hc_test_slurp(ref_path, &ref_len);
    CHECK(ref && ref_len > 0);
    int killed = 0, finished = 0, absent = 0, complete = 0, partial = 0, leftovers = 0;
    for (int i = 0; i < runs; i++) {
        remove_all(dir);
        int overwrite = i & 1;
        if (overwrite) CHECK(copy_file(ref_path, out));
        /* a moment in [0, 1.3 x the uninterrupted run time) */
        double at = hc_rng_uniform(&rng) * dur * 1.3;
        pid_t pid = start(bin, cmd, in, out);
        CHECK(pid > 0);
        struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &st, 0) == pid);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) killed++;
        else finished++;
        CHECKF(same_bytes(in, in_bytes, in_len), "%s run %d: the input changed", cmd, i);
        struct stat sb;
        if (stat(out, &sb) != 0) {
            absent++;
            CHECKF(!overwrite, "%s run %d (killed %.3f s in): the complete output that -f was replacing is gone",
                   cmd, i, at);
        } else if (same_bytes(out, ref, ref_len)) {
            complete++;
        } else {
            partial++;
            CHECKF(0, "%s run %d (killed %.3f s in): '%s' exists (%lld bytes) but is not the complete output (%zu bytes)",
                   cmd, i, at, out, (long long)sb.st_size, ref_len);
        }
        leftovers += count_entries(dir) - (stat(out, &sb) == 0);
    }
    printf("    crash %s: %d runs (%.3f s each uninterrupted): %d killed, %d finished first; output absent %d, "
           "complete %d, partial %d; %d temporary file(s) left behind\n",
           cmd, runs, dur, killed, finished, absent, complete, partial, leftovers);
    CHECK(partial == 0 && killed + finished == runs);
    remove_all(dir);
    free(ref);
    free(in_bytes);
}

static const char *bin_or_skip(void) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return NULL;
    }
    return bin;
}

TEST(crash_sigkill_compress) {
    const char *src = hc_test_shared("models/resnet20.safetensors");
    const char *bin = bin_or_skip();
    if (!src || !bin) return;
    char in[600];
    snprintf(in, sizeof in, "%s/crash_in.safetensors", hc_test_tmpdir());
    CHECK(copy_file(src, in));
    kill_loop(bin, "compress", in, "out.hyc");
}

TEST(crash_sigkill_decompress) {
    const char *src = hc_test_shared("models/resnet20.safetensors");
    const char *bin = bin_or_skip();
    if (!src || !bin) return;
    char in[600];
    snprintf(in, sizeof in, "%s/crash_in.hyc", hc_test_tmpdir());
    int st;
    run_once(bin, "compress", src, in, &st);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "compress failed (status %d)", st);
    kill_loop(bin, "decompress", in, "out.safetensors");
}
