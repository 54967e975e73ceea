/* test_cli_files.c — what the hyperc CLI does with its output paths and its
 * process (issue 11, defects 3, 4, 6, 7, 11, and disk full): devices, FIFOs,
 * directories and "-" as outputs; the input never replaced; signals remove
 * the temporary file; a closed or failing standard output; symbolic links
 * and modes under -f; a file size limit. Runs $HYPERC_BIN (set by make test)
 * on models written here, so no shared data is needed. */
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

/* ---- helpers ----------------------------------------------------------- */

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    if (!b || access(b, X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN; run through make test)");
        return NULL;
    }
    return b;
}

/* A fresh directory under the test directory. */
static const char *subdir(const char *name) {
    static char p[8][512];
    static int k;
    char *d = p[k++ % 8];
    snprintf(d, 512, "%s/cli_files_%s", hc_test_tmpdir(), name);
    mkdir(d, 0777);
    return d;
}

/* A safetensors file of n F32 tensors rows x cols, random normal weights. */
static int make_model(const char *path, int n, uint64_t rows, uint64_t cols) {
    hc_tensor_info infos[8];
    if (n > 8) return -1;
    memset(infos, 0, sizeof infos);
    for (int i = 0; i < n; i++) {
        snprintf(infos[i].name, sizeof infos[i].name, "layer%d.weight", i);
        infos[i].dtype = HC_F32;
        infos[i].ndim = 2;
        infos[i].shape[0] = rows;
        infos[i].shape[1] = cols;
        infos[i].nelem = rows * cols;
        infos[i].nbytes = rows * cols * 4;
    }
    float *w = malloc(rows * cols * 4);
    if (!w) return -1;
    hc_error err;
    hc_error_clear(&err);
    hc_st_writer *sw = NULL;
    hc_status s = hc_st_writer_open(path, infos, (size_t)n, NULL, 0, 1, &sw, &err);
    hc_rng r = {42};
    for (int i = 0; s == HC_OK && i < n; i++) {
        for (uint64_t k = 0; k < rows * cols; k++) w[k] = (float)(0.02 * hc_rng_normal(&r));
        s = hc_st_writer_put(sw, (size_t)i, w, &err);
    }
    if (s == HC_OK) s = hc_st_writer_finish(sw, &err);
    else hc_st_writer_abort(sw);
    free(w);
    if (s) fprintf(stderr, "make_model: %s\n", err.msg);
    return s ? -1 : 0;
}

/* Runs `sh -c "$HYPERC_BIN args"` with stdout/stderr redirected as given in
 * redir (e.g. "> out 2> err"); the wait status. */
static int sh_run(const char *args, const char *redir) {
    size_t cap = strlen(args) + strlen(redir) + strlen(getenv("HYPERC_BIN")) + 64;
    char *cmd = malloc(cap);
    if (!cmd) return -1;
    snprintf(cmd, cap, "ulimit -c 0; '%s' %s %s", getenv("HYPERC_BIN"), args, redir);
    int s = system(cmd);
    free(cmd);
    return s;
}

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status); }

static int file_has(const char *path, const char *needle) {
    size_t n = 0;
    uint8_t *b = hc_test_slurp(path, &n);
    if (!b) return 0;
    int found = memmem(b, n, needle, strlen(needle)) != NULL;
    free(b);
    return found;
}

static int same_bytes(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    uint8_t *pa = hc_test_slurp(a, &na), *pb = hc_test_slurp(b, &nb);
    int same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

static int valid_hyc(const char *path) {
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h = NULL;
    if (hc_hyc_open(path, &h, &err) != HC_OK) return 0;
    int ok = hc_hyc_verify(h, &err) == HC_OK;
    hc_hyc_close(h);
    return ok;
}

/* Temporary files (any name holding ".tmp.") in dir. */
static int temps_in(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static mode_t mode_of(const char *path, int follow) {
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) return 0;
    return st.st_mode;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Starts $HYPERC_BIN argv[0..] with stdout to out_fd (or /dev/null if < 0)
 * and stderr to errf; the child's pid. */
static pid_t spawn(char *const argv[], int out_fd, const char *errf) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int o = out_fd >= 0 ? out_fd : open("/dev/null", O_WRONLY);
    if (e < 0 || o < 0) _exit(99);
    dup2(o, 1);
    dup2(e, 2);
    signal(SIGPIPE, SIG_DFL);
    /* the signals under test act as in a terminal even when the test runs
     * under nohup (an inherited SIG_IGN is kept by hyperc, as it should be) */
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    char *args[16];
    int k = 0;
    args[k++] = (char *)getenv("HYPERC_BIN");
    for (int i = 0; argv[i] && k < 15; i++) args[k++] = argv[i];
    args[k] = NULL;
    execv(args[0], args);
    _exit(98);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 10 s for a temporary file in dir; 1 once there is one. */
static int wait_for_temp(const char *dir, pid_t pid) {
    for (int i = 0; i < 2000; i++) {
        if (temps_in(dir) > 0) return 1;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return 0; /* finished before */
        sleep_ms(5);
    }
    return 0;
}

/* One model big enough that a compression on one thread takes a while (a
 * signal arrives while it runs), one small. */
static const char *big_model(void) {
    static char p[512];
    if (!p[0]) {
        snprintf(p, sizeof p, "%s/cli_files_big.safetensors", hc_test_tmpdir());
        if (make_model(p, 8, 512, 512)) p[0] = 0;
    }
    return p[0] ? p : NULL;
}

static const char *small_model(void) {
    static char p[512];
    if (!p[0]) {
        snprintf(p, sizeof p, "%s/cli_files_small.safetensors", hc_test_tmpdir());
        if (make_model(p, 3, 64, 64)) p[0] = 0;
    }
    return p[0] ? p : NULL;
}

/* small_model() compressed */
static const char *small_hyc(void) {
    static char p[512];
    if (!p[0]) {
        const char *m = small_model();
        if (!m) return NULL;
        snprintf(p, sizeof p, "%s/cli_files_small.hyc", hc_test_tmpdir());
        char args[1200];
        snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q", m, p);
        if (exit_code(sh_run(args, "")) != 0) p[0] = 0;
    }
    return p[0] ? p : NULL;
}

/* ---- defect 3: devices, FIFOs, directories, "-" ------------------------ */

TEST(cli_files_fifo_is_written_not_replaced) {
    if (!bin()) return;
    const char *m = small_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("fifo");
    char fifo[600], got[600], ref[600], args[3000], err[600];
    snprintf(fifo, sizeof fifo, "%s/pipe", d);
    snprintf(got, sizeof got, "%s/got", d);
    snprintf(ref, sizeof ref, "%s/ref.safetensors", d);
    snprintf(err, sizeof err, "%s/err", d);
    CHECK(mkfifo(fifo, 0644) == 0);
    /* with and without -f: the FIFO is opened and written, never replaced */
    for (int force = 0; force < 2; force++) {
        unlink(got);
        snprintf(args, sizeof args,
                 "ulimit -c 0; timeout 30 '%s' compress '%s' -o '%s' -q %s 2> '%s' & timeout 10 cat '%s' > '%s'; "
                 "wait $!",
                 getenv("HYPERC_BIN"), m, fifo, force ? "-f" : "", err, fifo, got);
        int s = system(args);
        CHECKF(exit_code(s) == 0, "compress -o FIFO%s: status %d", force ? " -f" : "", exit_code(s));
        CHECKF(S_ISFIFO(mode_of(fifo, 0)), "the FIFO was replaced (-f %d)", force);
        CHECK(valid_hyc(got));
        CHECK(temps_in(d) == 0);
    }
    /* decompress into it: the same bytes as into a file */
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -q", x, ref);
    CHECK(exit_code(sh_run(args, "")) == 0);
    snprintf(args, sizeof args, "timeout 30 '%s' decompress '%s' -o '%s' -q & timeout 10 cat '%s' > '%s'; wait $!",
             getenv("HYPERC_BIN"), x, fifo, fifo, got);
    CHECK(exit_code(system(args)) == 0);
    CHECK(S_ISFIFO(mode_of(fifo, 0)));
    CHECK(same_bytes(got, ref));
}

TEST(cli_files_char_devices) {
    if (!bin()) return;
    const char *m = small_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("dev");
    char args[2000], redir[1200], err[600];
    snprintf(err, sizeof err, "%s/err", d);
    snprintf(redir, sizeof redir, "> /dev/null 2> '%s'", err);
    /* never with -f here: on a broken build that would replace the device */
    snprintf(args, sizeof args, "compress '%s' -o /dev/null", m);
    CHECKF(exit_code(sh_run(args, redir)) == 0, "compress -o /dev/null failed");
    CHECK(S_ISCHR(mode_of("/dev/null", 0)));
    snprintf(args, sizeof args, "decompress '%s' -o /dev/null", x);
    CHECK(exit_code(sh_run(args, redir)) == 0);
    CHECK(S_ISCHR(mode_of("/dev/null", 0)));
    /* a full device: a clear error naming it */
    snprintf(args, sizeof args, "decompress '%s' -o /dev/full", x);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "'/dev/full'") && file_has(err, "No space left"));
    snprintf(args, sizeof args, "compress '%s' -o /dev/full", m);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "'/dev/full'") && file_has(err, "No space left"));
    CHECK(S_ISCHR(mode_of("/dev/full", 0)));
}

TEST(cli_files_stdout_dash) {
    if (!bin()) return;
    const char *m = small_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("dash");
    char a[600], b[600], args[2000], redir[1300];
    snprintf(a, sizeof a, "%s/a.hyc", d);
    snprintf(b, sizeof b, "%s/b.hyc", d);
    /* .hyc (its header is written last): spooled, then copied; only the data on stdout */
    snprintf(args, sizeof args, "compress '%s' -o '%s'", m, a);
    CHECK(exit_code(sh_run(args, "> /dev/null")) == 0);
    snprintf(args, sizeof args, "compress '%s' -o -", m);
    snprintf(redir, sizeof redir, "| cat > '%s'", b);
    CHECK(exit_code(sh_run(args, redir)) == 0);
    CHECK(valid_hyc(b));
    CHECK(same_bytes(a, b));
    CHECK(!exists("-"));
    /* safetensors: streamed */
    snprintf(a, sizeof a, "%s/a.safetensors", d);
    snprintf(b, sizeof b, "%s/b.safetensors", d);
    snprintf(args, sizeof args, "decompress '%s' -o '%s'", x, a);
    CHECK(exit_code(sh_run(args, "> /dev/null")) == 0);
    snprintf(args, sizeof args, "decompress '%s' -o -", x);
    snprintf(redir, sizeof redir, "| cat > '%s'", b);
    CHECK(exit_code(sh_run(args, redir)) == 0);
    CHECK(same_bytes(a, b));
    CHECK(temps_in(d) == 0);
}

TEST(cli_files_directory_refused) {
    if (!bin()) return;
    const char *m = small_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("dir");
    char out[600], err[600], args[2000], redir[700];
    snprintf(out, sizeof out, "%s/out", d);
    snprintf(err, sizeof err, "%s/err", d);
    CHECK(mkdir(out, 0755) == 0);
    snprintf(redir, sizeof redir, "> /dev/null 2> '%s'", err);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f", m, out);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "is a directory"));
    CHECK(!file_has(err, ".tmp.")); /* the user's name, not a temporary one */
    CHECK(S_ISDIR(mode_of(out, 0)));
    /* decompress into a directory rebuilds the model folder there (issue 12) */
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -f", x, out);
    CHECK(exit_code(sh_run(args, redir)) == 0);
    CHECK(S_ISDIR(mode_of(out, 0)));
    char inner[700];
    snprintf(inner, sizeof inner, "%s/model.safetensors", out);
    CHECK(S_ISREG(mode_of(inner, 0)));
    CHECK(temps_in(d) == 0);
}

/* ---- defect 4: the output is the input --------------------------------- */

TEST(cli_files_input_never_replaced) {
    if (!bin()) return;
    const char *m = small_model(), *x0 = small_hyc();
    CHECK(m && x0);
    const char *d = subdir("same");
    char in[600], x[600], sym[600], hard[600], err[600], args[4400], redir[700];
    snprintf(in, sizeof in, "%s/in.safetensors", d);
    snprintf(x, sizeof x, "%s/in.hyc", d);
    snprintf(sym, sizeof sym, "%s/sym", d);
    snprintf(hard, sizeof hard, "%s/hard", d);
    snprintf(err, sizeof err, "%s/err", d);
    snprintf(redir, sizeof redir, "> /dev/null 2> '%s'", err);
    snprintf(args, sizeof args, "cp '%s' '%s' && cp '%s' '%s' && ln -s in.safetensors '%s' && ln '%s' '%s'", m, in,
             x0, x, sym, in, hard);
    CHECK(system(args) == 0);
    const char *outs[] = {in, sym, hard};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "compress '%s' -o '%s' -f", in, outs[i]);
        CHECKF(exit_code(sh_run(args, redir)) == 1, "compress IN -o %s -f was not refused", outs[i]);
        CHECK(file_has(err, "same file"));
        CHECK(same_bytes(in, m));
        CHECK(S_ISLNK(mode_of(sym, 0)));
    }
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -f", x, x);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "same file"));
    CHECK(same_bytes(x, x0));
    CHECK(temps_in(d) == 0);
}

/* ---- defect 6: signals ------------------------------------------------- */

TEST(cli_files_signals_remove_temporary) {
    if (!bin()) return;
    const char *m = big_model();
    CHECK(m);
    const char *d = subdir("sig");
    char out[600], err[600];
    snprintf(out, sizeof out, "%s/out.hyc", d);
    snprintf(err, sizeof err, "%s/err", d);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        /* the trellis codec at its top effort encodes at ~0.05 M weights/s: seconds
         * for this model, so the signal arrives while it runs, even on a loaded machine */
        char *argv[] = {"compress", (char *)m, "-o", out, "-q", "--threads", "1",
                        "--codec", "trellis", "--effort", "max", NULL};
        pid_t pid = spawn(argv, -1, err);
        CHECK(pid > 0);
        int started = wait_for_temp(d, pid);
        if (started) kill(pid, sigs[i]);
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECKF(started, "the compression ended before signal %d (make the model bigger)", sigs[i]);
        CHECKF((WIFSIGNALED(st) && WTERMSIG(st) == sigs[i]) || (WIFEXITED(st) && WEXITSTATUS(st) == 128 + sigs[i]),
               "signal %d: status %d", sigs[i], exit_code(st));
        CHECKF(temps_in(d) == 0, "signal %d left a temporary file", sigs[i]);
        CHECK(!exists(out));
        CHECK(file_has(err, "out.hyc") && !file_has(err, ".tmp."));
    }
}

TEST(cli_files_sigkill_leftover_cleaned) {
    if (!bin()) return;
    const char *m = big_model(), *s = small_model();
    CHECK(m && s);
    const char *d = subdir("kill");
    char out[600], err[600], left[700], args[2000];
    snprintf(out, sizeof out, "%s/out.hyc", d);
    snprintf(err, sizeof err, "%s/err", d);
    /* the trellis codec at its top effort encodes at ~0.05 M weights/s: seconds
     * for this model, so the signal arrives while it runs, even on a loaded machine */
    char *argv[] = {"compress", (char *)m, "-o", out, "-q", "--threads", "1",
                    "--codec", "trellis", "--effort", "max", NULL};
    pid_t pid = spawn(argv, -1, err);
    CHECK(pid > 0);
    int started = wait_for_temp(d, pid);
    if (started) kill(pid, SIGKILL);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(started && WIFSIGNALED(st));
    /* the documented name: OUT.hyperc.tmp.PID.N */
    snprintf(left, sizeof left, "%s.hyperc.tmp.%ld.0", out, (long)pid);
    CHECKF(exists(left), "no leftover named '%s'", left);
    CHECK(!exists(out));
    /* the next run writing the same output removes it */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -q", s, out);
    CHECK(exit_code(sh_run(args, "")) == 0);
    CHECK(!exists(left) && temps_in(d) == 0);
    CHECK(valid_hyc(out));
}

TEST(cli_files_closed_stdout_does_not_stop_the_work) {
    if (!bin()) return;
    const char *m = big_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("pipe");
    char out[600], err[600];
    snprintf(out, sizeof out, "%s/out.hyc", d);
    snprintf(err, sizeof err, "%s/err", d);
    /* `hyperc compress ... | head -2`: the reader is gone before the report */
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    char *argv[] = {"compress", (char *)m, "-o", out, "--threads", "2", NULL};
    pid_t pid = spawn(argv, p[1], err);
    close(p[1]);
    close(p[0]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "compress | (closed): status %d", exit_code(st));
    CHECK(valid_hyc(out));
    CHECK(temps_in(d) == 0);
    /* info too */
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    char *argv2[] = {"info", (char *)x, NULL};
    pid = spawn(argv2, p[1], err);
    close(p[1]);
    close(p[0]);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "info | (closed): status %d", exit_code(st));
    /* but data for standard output that cannot be delivered is a failure */
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    char *argv3[] = {"decompress", (char *)x, "-o", "-", NULL};
    pid = spawn(argv3, p[1], err);
    close(p[1]);
    close(p[0]);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1, "decompress -o - | (closed): status %d", exit_code(st));
    CHECK(file_has(err, "standard output"));
}

/* ---- defect 7: write errors on standard output ------------------------- */

TEST(cli_files_stdout_write_errors) {
    if (!bin()) return;
    const char *m = small_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("full");
    char err[600], out[600], redir[700], args[2000];
    snprintf(err, sizeof err, "%s/err", d);
    snprintf(out, sizeof out, "%s/out.hyc", d);
    snprintf(redir, sizeof redir, "> /dev/full 2> '%s'", err);
    const char *cmds[] = {"info '%s'", "info '%s' --verify", "compare '%s' '%s'", "--help", "help", "version",
                          "compress --help", "decompress --help", "info --help", "compare --help",
                          "generate --help", "perplexity --help", "tokenize --help", "convert --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *arg = i == 2 ? m : x;
        snprintf(args, sizeof args, cmds[i], arg, arg);
        int rc = exit_code(sh_run(args, redir));
        CHECKF(rc == 1, "'hyperc %.300s > /dev/full': status %d", args, rc);
        CHECKF(file_has(err, "standard output") && file_has(err, "No space left"), "'%.300s': no message", args);
    }
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f", m, out);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "standard output"));
    CHECK(valid_hyc(out)); /* the output itself is complete */
    /* standard output closed */
    snprintf(redir, sizeof redir, ">&- 2> '%s'", err);
    snprintf(args, sizeof args, "info '%s'", x);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "standard output"));
    snprintf(redir, sizeof redir, "> /dev/full 2> '%s'", err);
    /* generate and perplexity write their results to standard output */
    const char *mp = hc_test_shared("models/stories260K.bin");
    const char *tp = hc_test_shared("models/tok512.bin");
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!mp || !tp || !xp) return;
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 16", mp, tp);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "standard output"));
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' --ctx 64 --max-windows 2", mp, tp, xp);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "standard output"));
}

/* ---- defect 11: symbolic links, modes ---------------------------------- */

TEST(cli_files_links_and_modes) {
    if (!bin()) return;
    const char *m = small_model();
    CHECK(m);
    const char *d = subdir("mode");
    char target[600], link[600], dang[600], fresh[600], err[600], args[2000], redir[700];
    snprintf(target, sizeof target, "%s/target.hyc", d);
    snprintf(link, sizeof link, "%s/link.hyc", d);
    snprintf(dang, sizeof dang, "%s/dangling.hyc", d);
    snprintf(fresh, sizeof fresh, "%s/fresh.hyc", d);
    snprintf(err, sizeof err, "%s/err", d);
    snprintf(redir, sizeof redir, "> /dev/null 2> '%s'", err);
    FILE *f = fopen(target, "wb");
    CHECK(f && fputs("old contents", f) >= 0 && fclose(f) == 0);
    CHECK(chmod(target, 0600) == 0);
    CHECK(symlink("target.hyc", link) == 0);
    /* -f onto a link: the file it points to is replaced, the link stays */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f", m, link);
    CHECK(exit_code(sh_run(args, redir)) == 0);
    CHECK(S_ISLNK(mode_of(link, 0)));
    CHECK(valid_hyc(target));
    CHECKF((mode_of(target, 0) & 07777) == 0600, "a 0600 file came back %o", (unsigned)(mode_of(target, 0) & 07777));
    /* replaced directly: the mode stays, whatever the umask */
    CHECK(chmod(target, 0640) == 0);
    mode_t old = umask(077);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f", m, target);
    int rc = exit_code(sh_run(args, redir));
    /* a new file: 0666 & ~umask */
    umask(0);
    snprintf(args, sizeof args, "compress '%s' -o '%s'", m, fresh);
    int rc2 = exit_code(sh_run(args, redir));
    umask(old);
    CHECK(rc == 0 && rc2 == 0);
    CHECKF((mode_of(target, 0) & 07777) == 0640, "a 0640 file came back %o", (unsigned)(mode_of(target, 0) & 07777));
    CHECKF((mode_of(fresh, 0) & 07777) == 0666, "new file with umask 0: %o", (unsigned)(mode_of(fresh, 0) & 07777));
    /* a link to nothing is refused and stays a link */
    CHECK(symlink("nowhere.hyc", dang) == 0);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f", m, dang);
    CHECK(exit_code(sh_run(args, redir)) == 1);
    CHECK(file_has(err, "symbolic link"));
    CHECK(S_ISLNK(mode_of(dang, 0)) && exists(target));
    CHECK(temps_in(d) == 0);
}

/* ---- disk full --------------------------------------------------------- */

TEST(cli_files_file_size_limit) {
    if (!bin()) return;
    const char *m = big_model(), *x = small_hyc();
    CHECK(m && x);
    const char *d = subdir("ulimit");
    char out[600], err[600], cmd[3000];
    snprintf(out, sizeof out, "%s/out", d);
    snprintf(err, sizeof err, "%s/err", d);
    /* dash counts ulimit -f in 512-byte blocks, bash in KiB: both well below either output */
    for (int dec = 0; dec < 2; dec++) {
        snprintf(cmd, sizeof cmd, "sh -c \"ulimit -c 0; ulimit -f 16; exec '%s' %s '%s' -o '%s' -q 2> '%s'\"",
                 getenv("HYPERC_BIN"), dec ? "decompress" : "compress", dec ? x : m, out, err);
        int rc = exit_code(system(cmd));
        CHECKF(rc != 0 && rc < 1000, "%s over ulimit -f: status %d", dec ? "decompress" : "compress", rc);
        CHECK(file_has(err, "file size limit") && file_has(err, "/out'") && !file_has(err, ".tmp."));
        CHECK(!exists(out));
        CHECK(temps_in(d) == 0);
    }
}
