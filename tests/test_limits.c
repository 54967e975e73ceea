/* test_limits.c — the documented limits (hyperc.h, hyperc_llm.h,
 * docs/FORMAT.md "Limits") and their guarantees (issue 11, defect 9 and
 * "Limits"): lookups by name cost O(1), memory follows the bytes on disk,
 * hostile sizes are refused before anything is allocated by them, and the
 * readers and writers agree on the tensor count.
 *
 * Peak memory is measured on a child process: VmHWM of the CLI process, or
 * the growth of the child's own peak for a library call. */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/infer/infer.h"
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b ? b : "build/hyperc";
}

static const char *tmp_path(const char *name) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", hc_test_tmpdir(), name);
    return p;
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* ---- measuring a child ------------------------------------------------------ */

typedef struct child_result {
    hc_status status;
    long extra_kb; /* growth of the child's peak RSS during the call */
    char msg[1024];
} child_result;

/* Runs fn(arg, err) in a forked child; returns 0 if the child reported back. */
static int in_child(hc_status (*fn)(void *arg, hc_error *err), void *arg, child_result *r) {
    memset(r, 0, sizeof *r);
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fd[0]);
        child_result c;
        memset(&c, 0, sizeof c);
        hc_error err;
        hc_error_clear(&err);
        struct rusage a, b;
        getrusage(RUSAGE_SELF, &a);
        c.status = fn(arg, &err);
        getrusage(RUSAGE_SELF, &b);
        c.extra_kb = b.ru_maxrss - a.ru_maxrss;
        snprintf(c.msg, sizeof c.msg, "%s", err.msg);
        ssize_t w = write(fd[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], r, sizeof *r);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return n == (ssize_t)sizeof *r && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Peak resident memory of the hyperc process, in KB. Not wait4's ru_maxrss:
 * that counts the pages a forked child shares with this (large) test runner
 * before it execs. /proc/PID/status VmHWM is the peak of the process's own
 * memory since its exec; it only grows, so the last value read before the
 * process ends is its peak, up to the last 2 ms. */
static long hwm_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int is_hyperc = fgets(line, sizeof line, f) && !strncmp(line, "hyperc", 6);
    fclose(f);
    if (!is_hyperc) return -1; /* still the shell, or the copy of this runner */
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r"))) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* Runs `hyperc ARGS` (output to log); *maxrss_kb: its peak RSS. */
static int run_measured(const char *args, const char *log, long *maxrss_kb) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s %s > '%s' 2>&1", bin(), args, log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    long peak = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (r < 0) return -1;
        long kb = hwm_kb(pid);
        if (kb > peak) peak = kb;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    *maxrss_kb = peak;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int log_contains(const char *path, const char *needle) {
    size_t n = 0;
    uint8_t *b = hc_test_slurp(path, &n);
    if (!b) return 0;
    char *t = realloc(b, n + 1);
    if (!t) {
        free(b);
        return 0;
    }
    t[n] = 0;
    int r = strstr(t, needle) != NULL;
    free(t);
    return r;
}

/* ---- O(1) lookups: a llama2.c file of 4096 layers of width 2 ------------------ */

/* A source that counts how often the binder reads a tensor's info. */
typedef struct counting {
    hc_llm_source inner;
    uint64_t info_calls;
} counting;

static const hc_tensor_info *counting_info(void *user, size_t i) {
    counting *c = user;
    c->info_calls++;
    return c->inner.info(c->inner.user, i);
}
static hc_status counting_open(void *user, size_t i, hc_decoder **out, hc_error *err) {
    counting *c = user;
    return c->inner.open(c->inner.user, i, out, err);
}
static void counting_release(void *user) {
    counting *c = user;
    if (c->inner.release) c->inner.release(c->inner.user);
}

static int put_i32(FILE *f, int32_t v) {
    uint8_t b[4];
    hc_put_u32(b, (uint32_t)v);
    return fwrite(b, 1, 4, f) == 4;
}

/* llama2.c checkpoint: dim 2, hidden 2, one head, vocab 8, seq_len 4. */
static int write_deep_llama2c(const char *path, int layers) {
    const int dim = 2, hid = 2, vocab = 8;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = put_i32(f, dim) && put_i32(f, hid) && put_i32(f, layers) && put_i32(f, 1) && put_i32(f, 1) &&
             put_i32(f, vocab) && put_i32(f, 4);
    uint64_t weights = (uint64_t)vocab * dim +
                       (uint64_t)layers * (2 * dim + 2 * dim * dim + 2 * dim * dim + 3 * dim * hid) + dim;
    for (uint64_t i = 0; i < weights && ok; i++) {
        uint8_t b[4];
        hc_put_f32(b, 0.01f * (float)(i % 7));
        ok = fwrite(b, 1, 4, f) == 4;
    }
    return fclose(f) == 0 && ok;
}

TEST(limits_deep_llama2c_binds_with_constant_lookups) {
    const int layers = HC_LLM_MAX_LAYERS; /* 36866 tensors in a 512 KB file */
    const char *path = tmp_path("deep.bin");
    CHECK(write_deep_llama2c(path, layers));
    hc_error err;
    hc_error_clear(&err);
    hc_map map;
    CHECK_OK(hc_map_file(path, &map, &err), &err);
    counting *c = calloc(1, sizeof *c);
    CHECK(c);
    hc_llm_config cfg;
    hc_status s = hc_llama2c_source(&map, path, &c->inner, &cfg, &err);
    if (s) free(c);
    CHECK_OK(s, &err);
    const size_t n = c->inner.n_tensors;
    hc_llm_source src = c->inner;
    src.user = c;
    src.info = counting_info;
    src.open = counting_open;
    src.release = counting_release;
    hc_llm_model *m = NULL;
    s = hc_llm_bind(&src, &cfg, path, "llama2.c", &m, &err);
    uint64_t calls = c->info_calls;
    if (m) hc_llm_free(m);
    else counting_release(c);
    free(c);
    CHECK_OK(s, &err);
    CHECK(n == 2 + 9 * (size_t)layers);
    /* a scan per name reads ~n^2/2 = 6.8e8 infos; an index reads each a few times */
    CHECKF(calls <= 12 * (uint64_t)n, "binding %zu tensors read %llu tensor infos (%.1f each)", n,
           (unsigned long long)calls, (double)calls / (double)n);
}

/* ---- 2^20 empty tensors: memory follows the file ------------------------------- */

TEST(limits_2pow20_empty_tensors_bounded_memory) {
    const size_t N = HC_MAX_TENSORS;
    const char *hyc = tmp_path("many.hyc"), *st = tmp_path("many.safetensors"), *log = tmp_path("many.log");
    hc_error err;
    hc_error_clear(&err);
    hc_hyc_writer *w;
    CHECK_OK(hc_hyc_writer_open(hyc, 1, &w, &err), &err);
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    e.info.dtype = HC_F32;
    e.info.ndim = 1;
    hc_status s = HC_OK;
    for (size_t i = 0; i < N && s == HC_OK; i++) {
        snprintf(e.info.name, sizeof e.info.name, "t%zu", i);
        s = hc_hyc_writer_add(w, &e, "", 0, &err);
    }
    if (s) hc_hyc_writer_abort(w);
    CHECK_OK(s, &err);
    /* one more is past the limit the readers share */
    snprintf(e.info.name, sizeof e.info.name, "one_more");
    s = hc_hyc_writer_add(w, &e, "", 0, &err);
    int refused = s == HC_E_LIMIT && strstr(err.msg, "1048576");
    hc_error_clear(&err);
    CHECK_OK(hc_hyc_writer_finish(w, "{}", 2, &err), &err);
    CHECKF(refused, "tensor 2^20 + 1: %s", err.msg);
    struct stat sb;
    CHECK(stat(hyc, &sb) == 0 && sb.st_size < 64 * 1024 * 1024); /* 58.7 MB */

    if (access(bin(), X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        return;
    }
    /* before: 1.5 GB for info --verify, 2.6 GB for decompress (then refused) */
    const long limit_kb = 512 * 1024;
    char args[4096];
    long kb = 0;
    snprintf(args, sizeof args, "info '%s' --verify", hyc);
    int rc = run_measured(args, log, &kb);
    CHECKF(rc == 0 && log_contains(log, "all 1048576 payload checksums OK"), "info --verify: exit %d", rc);
    CHECKF(kb < limit_kb, "info --verify of 2^20 empty tensors peaked at %ld MB", kb / 1024);
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -f", hyc, st);
    rc = run_measured(args, log, &kb);
    CHECKF(rc == 0, "decompress: exit %d", rc);
    CHECKF(kb < limit_kb, "decompress of 2^20 empty tensors peaked at %ld MB", kb / 1024);
    remove(hyc);

    /* the safetensors reader takes what the writer wrote, in bounded memory */
    hc_safetensors *t = NULL;
    CHECK_OK(hc_st_open(st, &t, &err), &err);
    long last = hc_st_find(t, "t1048575");
    const char *nm = hc_st_name(t, (size_t)(last >= 0 ? last : 0));
    int found = hc_st_count(t) == N && last == (long)N - 1 && nm && strcmp(nm, "t1048575") == 0 &&
                hc_st_find(t, "t1048576") == -1;
    hc_tensor_info ti;
    found &= hc_st_info_at(t, 12345, &ti) == 0 && strcmp(ti.name, "t12345") == 0 && ti.ndim == 1 && ti.nelem == 0;
    hc_st_close(t);
    remove(st);
    CHECK(found);
}

/* The tensor limit is checked before any work, the same for the writers. */
static void unused_info(const void *user, size_t i, hc_tensor_info *out) {
    (void)user;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "t%zu", i);
    out->ndim = 1;
}

TEST(limits_tensor_count_refused_before_work) {
    hc_error err;
    hc_error_clear(&err);
    CHECK(hc_st_writer_check("x.safetensors", (size_t)HC_MAX_TENSORS + 1, unused_info, NULL, NULL, 0, &err) ==
          HC_E_LIMIT);
    CHECKF(strstr(err.msg, "1048577 tensors") && strstr(err.msg, "1048576"), "%s", err.msg);
    hc_st_writer *w = NULL;
    hc_error_clear(&err);
    CHECK(hc_st_writer_open_fn(tmp_path("never.safetensors"), (size_t)HC_MAX_TENSORS + 1, unused_info, NULL, NULL, 0,
                               1, &w, &err) == HC_E_LIMIT &&
          w == NULL);
    CHECK(access(tmp_path("never.safetensors"), F_OK) != 0);
    hc_error_clear(&err);
    CHECK_OK(hc_st_writer_check("x.safetensors", 1000, unused_info, NULL, "{\"a\":\"b\"}", 9, &err), &err);
}

/* ---- hostile llama2.c headers -------------------------------------------------- */

static hc_status open_model(void *arg, hc_error *err) {
    hc_llm_model *m = NULL;
    hc_status s = hc_llm_open((const char *)arg, NULL, &m, err);
    hc_llm_free(m);
    return s;
}

TEST(limits_llama2c_hostile_headers_refused_in_bounded_memory) {
    static const struct {
        int32_t h[7];
        const char *why;
    } cases[] = {
        {{2, 2, 1, 1, 1, INT32_MAX, 4}, "vocab 2147483647"},
        {{2, 2, 1, 1, 1, -INT32_MAX, 4}, "vocab 2147483647"},
        {{2, 2, 1, 1, 1, INT32_MIN, 4}, "vocab_size"},
        {{-2, 2, 1, 1, 1, 8, 4}, "dim"},
        {{2, -1, 1, 1, 1, 8, 4}, "hidden_dim"},
        {{2, 2, -3, 1, 1, 8, 4}, "n_layers"},
        {{2, 2, 1, -1, 1, 8, 4}, "n_heads"},
        {{2, 2, 1, 1, -1, 8, 4}, "n_kv_heads"},
        {{2, 2, 1, 1, 1, 8, -4}, "seq_len"},
        {{INT32_MAX, 2, 1, 1, 1, 8, 4}, "dim 2147483647"},
        {{2, INT32_MAX, INT32_MAX, 1, 1, 8, 4}, "layers 2147483647"},
        {{2, 2, 1, 1, 1, 8, INT32_MAX}, "seq_len 2147483647"},
        {{1 << 20, 1 << 22, 4096, 1, 1, 1 << 24, 1 << 24}, "needs"}, /* all at the limits: 2^59 bytes claimed */
    };
    uint8_t buf[28 + 4096];
    memset(buf, 0, sizeof buf);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int i = 0; i < 7; i++) hc_put_u32(buf + 4 * i, (uint32_t)cases[k].h[i]);
        const char *path = tmp_path("hostile.bin");
        CHECK(write_file(path, buf, sizeof buf));
        child_result r;
        CHECK(in_child(open_model, (void *)path, &r) == 0);
        CHECKF(r.status != HC_OK && strstr(r.msg, "hostile.bin") && strstr(r.msg, cases[k].why),
               "case %zu: %s: %s", k, hc_status_str(r.status), r.msg);
        CHECKF(r.extra_kb < 16 * 1024, "case %zu grew memory by %ld KB", k, r.extra_kb);
    }
}

/* ---- hostile tokenizer files ----------------------------------------------------- */

typedef struct tok_case {
    const uint8_t *buf;
    size_t len;
    int vocab;
} tok_case;

static hc_status open_tok(void *arg, hc_error *err) {
    const tok_case *c = arg;
    hc_tokenizer *t = NULL;
    hc_status s = hc_tok_open_mem(c->buf, c->len, c->vocab, "hostile.tok", &t, err);
    hc_tok_free(t);
    return s;
}

TEST(limits_tokenizer_hostile_lengths_refused_in_bounded_memory) {
    static const struct {
        int32_t max_len, n;
        int vocab;
        const char *why;
    } cases[] = {
        {16, INT32_MIN, 0, "length -2147483648"},  /* a length of 2^31, read as int32 */
        {16, INT32_MAX, 0, "length 2147483647"},   /* 2^31 - 1 */
        {HC_TOK_MAX_PIECE, HC_TOK_MAX_PIECE, 0, "run past the end"},
        {INT32_MAX, 4, 0, "max_token_length 2147483647"},
        {-1, 4, 0, "max_token_length -1"},
        {16, 4, HC_LLM_MAX_VOCAB + 1, "exceeds the limit"},
        {16, 4, INT32_MAX, "exceeds the limit"},
    };
    uint8_t buf[64];
    memset(buf, 'a', sizeof buf);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        hc_put_u32(buf, (uint32_t)cases[k].max_len);
        hc_put_f32(buf + 4, 0.5f);
        hc_put_u32(buf + 8, (uint32_t)cases[k].n);
        tok_case c = {buf, sizeof buf, cases[k].vocab};
        child_result r;
        CHECK(in_child(open_tok, &c, &r) == 0);
        CHECKF(r.status != HC_OK && strstr(r.msg, "hostile.tok") && strstr(r.msg, cases[k].why), "case %zu: %s: %s",
               k, hc_status_str(r.status), r.msg);
        CHECKF(r.extra_kb < 16 * 1024, "case %zu grew memory by %ld KB", k, r.extra_kb);
    }
}

/* ---- a .hyc directory claiming 2^40 tensors -------------------------------------- */

/* Recomputes the directory, header and trailer CRCs of a .hyc image (so a
 * patched field is seen by the structural checks, not the checksums). */
static void reseal(uint8_t *b, size_t n) {
    uint32_t hsize = hc_get_u32(b + 12);
    uint64_t dir_off = hc_get_u64(b + 32), dir_size = hc_get_u64(b + 40);
    uint32_t dcrc = hc_crc32c(0, b + dir_off, (size_t)dir_size);
    hc_put_u32(b + 48, dcrc);
    hc_put_u32(b + hsize - 4, hc_crc32c(0, b, hsize - 4));
    uint8_t *t = b + n - 32;
    hc_put_u32(t + 24, dcrc);
    hc_put_u32(t + 28, hc_crc32c(0, t, 28));
}

typedef struct hyc_case {
    const uint8_t *buf;
    size_t len;
} hyc_case;

static hc_status open_hyc(void *arg, hc_error *err) {
    const hyc_case *c = arg;
    hc_hyc *h = NULL;
    hc_status s = hc_hyc_open_mem(c->buf, c->len, "claims.hyc", &h, err);
    if (s == HC_OK) s = hc_hyc_verify_full(h, err);
    hc_hyc_close(h);
    return s;
}

TEST(limits_hyc_directory_claims_refused_in_bounded_memory) {
    const char *path = tmp_path("small.hyc");
    hc_error err;
    hc_error_clear(&err);
    hc_hyc_writer *w;
    CHECK_OK(hc_hyc_writer_open(path, 1, &w, &err), &err);
    float x[4] = {1, 2, 3, 4};
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, sizeof e.info.name, "w");
    e.info.dtype = HC_F32;
    e.info.ndim = 1;
    e.info.shape[0] = 4;
    e.info.nelem = 4;
    e.info.nbytes = 16;
    hc_status s = hc_hyc_writer_add(w, &e, x, sizeof x, &err);
    if (s) hc_hyc_writer_abort(w);
    CHECK_OK(s, &err);
    CHECK_OK(hc_hyc_writer_finish(w, "{}", 2, &err), &err);
    size_t n = 0;
    uint8_t *b = hc_test_slurp(path, &n);
    CHECK(b);
    hyc_case c = {b, n};
    child_result r;
    /* the image as written opens */
    CHECK(in_child(open_hyc, &c, &r) == 0);
    int ok = r.status == HC_OK;
    const uint64_t dir_off = hc_get_u64(b + 32);
    static const struct {
        size_t field;   /* offset in the directory header */
        uint64_t value;
        const char *why;
    } cases[] = {
        {8, 1ull << 40, "claims 1099511627776 tensors"},
        {8, (uint64_t)HC_MAX_TENSORS + 1, "claims 1048577 tensors"},
        {8, UINT64_MAX, "claims 18446744073709551615 tensors"},
        {16, 1ull << 40, "metadata of 1099511627776 bytes"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0] && ok; k++) {
        uint64_t old = hc_get_u64(b + dir_off + cases[k].field);
        hc_put_u64(b + dir_off + cases[k].field, cases[k].value);
        reseal(b, n);
        if (in_child(open_hyc, &c, &r) != 0) ok = 0;
        hc_put_u64(b + dir_off + cases[k].field, old);
        reseal(b, n);
        if (!ok) break;
        if (r.status == HC_OK || !strstr(r.msg, "claims.hyc") || !strstr(r.msg, cases[k].why) ||
            r.extra_kb >= 16 * 1024) {
            free(b);
            CHECKF(0, "case %zu: %s: %s (memory +%ld KB)", k, hc_status_str(r.status), r.msg, r.extra_kb);
        }
    }
    free(b);
    CHECKF(ok, "%s", r.msg);
}

/* ---- safetensors headers claiming huge shapes ------------------------------------- */

typedef struct st_case {
    uint8_t *buf;
    size_t len;
} st_case;

static hc_status open_st(void *arg, hc_error *err) {
    const st_case *c = arg;
    hc_safetensors *st = NULL;
    hc_status s = hc_st_open_mem(c->buf, c->len, "huge.safetensors", &st, err);
    hc_st_close(st);
    return s;
}

TEST(limits_safetensors_huge_shapes_refused_in_bounded_memory) {
    static const struct {
        const char *json;
        const char *why;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,16]}}", "overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,16]}}", "overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824],\"data_offsets\":[0,16]}}",
         "need 4611686018427387904"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551615]}}", "beyond the data"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", "more than 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,4]}}", "shape"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t jl = strlen(cases[k].json), n = 8 + jl + 16;
        uint8_t *b = calloc(1, n);
        CHECK(b);
        hc_put_u64(b, jl);
        memcpy(b + 8, cases[k].json, jl);
        st_case c = {b, n};
        child_result r;
        int ran = in_child(open_st, &c, &r) == 0;
        free(b);
        CHECK(ran);
        CHECKF(r.status != HC_OK && strstr(r.msg, "huge.safetensors") && strstr(r.msg, cases[k].why),
               "case %zu: %s: %s", k, hc_status_str(r.status), r.msg);
        CHECKF(r.extra_kb < 16 * 1024, "case %zu grew memory by %ld KB", k, r.extra_kb);
    }
    /* a header length of 2^63 */
    uint8_t hdr[16] = {0};
    hc_put_u64(hdr, 1ull << 63);
    hdr[8] = '{';
    st_case c = {hdr, sizeof hdr};
    child_result r;
    CHECK(in_child(open_st, &c, &r) == 0);
    CHECKF(r.status == HC_E_LIMIT && strstr(r.msg, "100000000"), "%s", r.msg);
}

/* The hyperparameter limits of hyperc_llm.h are the ones enforced. */
TEST(limits_hyperparameters_match_the_header) {
    hc_llm_config c = {.dim = 64, .hidden_dim = 128, .n_layers = HC_LLM_MAX_LAYERS, .n_heads = 4, .n_kv_heads = 4,
                       .vocab_size = HC_LLM_MAX_VOCAB, .seq_len = HC_LLM_MAX_SEQ, .norm_eps = 1e-5f,
                       .rope_theta = 10000.0f, .shared_classifier = 1};
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_llm_config_check(&c, "cfg", &err), &err);
    c.n_layers++;
    CHECK(hc_llm_config_check(&c, "cfg", &err) == HC_E_LIMIT);
    c.n_layers--;
    c.vocab_size++;
    CHECK(hc_llm_config_check(&c, "cfg", &err) == HC_E_LIMIT);
    c.vocab_size--;
    c.seq_len++;
    CHECK(hc_llm_config_check(&c, "cfg", &err) == HC_E_LIMIT);
    c.seq_len--;
    c.dim = HC_LLM_MAX_DIM * 2;
    CHECK(hc_llm_config_check(&c, "cfg", &err) == HC_E_LIMIT);
    c.dim = 64;
    c.hidden_dim = HC_LLM_MAX_HIDDEN + 1;
    CHECK(hc_llm_config_check(&c, "cfg", &err) == HC_E_LIMIT);
}
