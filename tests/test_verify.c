/* test_verify.c — `hyperc info --verify` (hc_hyc_verify_full) checks what
 * `hyperc decompress` checks, without writing: a file decompress refuses is
 * never reported OK (issue 11, defect 10). Each case is a .hyc whose payload
 * CRCs are all right (the old verify said "all payload checksums OK") but
 * which decompress refuses: an unknown codec id, bad codec parameters, a
 * shape that does not match its payload, a lossy codec on an integer dtype,
 * a name safetensors cannot hold. */
#include "test.h"
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b ? b : "build/hyperc";
}

/* Runs `hyperc ARGS` with its output in log; returns the exit status. */
static int run(const char *args, const char *log) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s > '%s' 2>&1", bin(), args, log);
    int s = system(cmd);
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

static int file_contains(const char *path, const char *needle) {
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

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* A 64x64 matrix coded with the default codec, and a small raw tensor. */
typedef struct coded {
    hc_encoded e;
    float raw[8];
} coded;

static int make_coded(coded *c, hc_error *err) {
    enum { R = 64, C = 64 };
    static float w[R * C];
    hc_rng r = {7};
    for (int i = 0; i < R * C; i++) w[i] = (float)hc_rng_normal(&r) * 0.05f;
    for (int i = 0; i < 8; i++) c->raw[i] = (float)i;
    hc_opts o;
    hc_opts_default(&o);
    memset(&c->e, 0, sizeof c->e);
    return hc_encode(w, R * C, &o, &c->e, err) == HC_OK && c->e.codec != HC_CODEC_RAW;
}

typedef enum damage { D_NONE, D_CODEC_ID, D_PARAMS, D_SHAPE, D_DTYPE, D_NAME } damage;

/* Writes a .hyc of a raw tensor and the coded matrix, damaged as told; every
 * payload CRC is right (the writer computes them). */
static hc_status write_case(const char *path, const coded *c, damage dmg, hc_error *err) {
    hc_hyc_writer *w;
    hc_status s = hc_hyc_writer_open(path, 1, &w, err);
    if (s) return s;
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, sizeof e.info.name, "bias");
    e.info.dtype = HC_F32;
    e.info.ndim = 1;
    e.info.shape[0] = 8;
    e.info.nelem = 8;
    e.info.nbytes = 32;
    e.codec = HC_CODEC_RAW;
    s = hc_hyc_writer_add(w, &e, c->raw, sizeof c->raw, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, sizeof e.info.name, dmg == D_NAME ? "__metadata__" : "layer.weight");
    e.info.dtype = HC_F32;
    e.info.ndim = 2;
    e.info.shape[0] = 64;
    e.info.shape[1] = 64;
    e.codec = c->e.codec;
    e.params_len = c->e.params_len;
    memcpy(e.params, c->e.params, c->e.params_len);
    switch (dmg) {
    case D_CODEC_ID: e.codec = (hc_codec_id)77; break;
    case D_PARAMS: e.params_len = 1; break; /* cut short */
    case D_SHAPE: e.info.shape[0] = 128; break; /* twice the weights the payload holds */
    case D_DTYPE: e.info.dtype = HC_I32; break;
    default: break;
    }
    e.info.nelem = e.info.shape[0] * e.info.shape[1];
    e.info.nbytes = e.info.nelem * hc_dtype_size(e.info.dtype);
    s = hc_hyc_writer_add(w, &e, c->e.payload, c->e.payload_len, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    static const char md[] = "{\"format\":\"pt\"}";
    return hc_hyc_writer_finish(w, md, sizeof md - 1, err);
}

/* The case must be refused by hc_hyc_verify_full, by hc_decompress_file and by
 * `hyperc info --verify` (exit 1, no "OK"), each naming `why`, while its CRCs
 * all pass (hc_hyc_verify). */
static void check_refused(damage dmg, const char *tag, const char *why) {
    hc_error err;
    hc_error_clear(&err);
    coded c;
    CHECKF(make_coded(&c, &err), "encode: %s", err.msg);
    char path[1024], out[1024], log[1024], args[4096];
    snprintf(path, sizeof path, "%s/verify_%s.hyc", hc_test_tmpdir(), tag);
    snprintf(out, sizeof out, "%s/verify_%s.safetensors", hc_test_tmpdir(), tag);
    snprintf(log, sizeof log, "%s/verify_%s.log", hc_test_tmpdir(), tag);
    hc_status s = write_case(path, &c, dmg, &err);
    hc_encoded_free(&c.e);
    CHECK_OK(s, &err);

    hc_hyc *h;
    CHECK_OK(hc_hyc_open(path, &h, &err), &err);
    s = hc_hyc_verify(h, &err); /* the checksums alone are fine */
    hc_status full = HC_OK;
    hc_error ferr;
    hc_error_clear(&ferr);
    if (s == HC_OK) full = hc_hyc_verify_full(h, &ferr);
    hc_hyc_close(h);
    CHECK_OK(s, &err);
    CHECKF(full != HC_OK && strstr(ferr.msg, why), "%s: verify_full gave %s: %s", tag, hc_status_str(full),
           ferr.msg);

    hc_error derr;
    hc_error_clear(&derr);
    s = hc_decompress_file(path, out, 1, 1, &derr);
    CHECKF(s != HC_OK && strstr(derr.msg, why), "%s: decompress gave %s: %s", tag, hc_status_str(s), derr.msg);
    CHECK(!exists(out));

    if (access(bin(), X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        return;
    }
    snprintf(args, sizeof args, "info '%s' --verify", path);
    int rc = run(args, log);
    CHECKF(rc == 1, "%s: info --verify exit %d", tag, rc);
    CHECKF(!file_contains(log, "OK") && file_contains(log, why), "%s: info --verify output lacks '%s'", tag, why);
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -f", path, out);
    CHECK(run(args, log) == 1 && file_contains(log, why) && !exists(out));
}

TEST(verify_unknown_codec_id_refused_like_decompress) { check_refused(D_CODEC_ID, "codec", "unknown codec id 77"); }

TEST(verify_bad_codec_params_refused_like_decompress) { check_refused(D_PARAMS, "params", "parameters"); }

TEST(verify_shape_not_matching_payload_refused_like_decompress) {
    check_refused(D_SHAPE, "shape", "8192 weights");
}

TEST(verify_lossy_codec_on_integer_dtype_refused_like_decompress) {
    check_refused(D_DTYPE, "dtype", "dtype is I32");
}

TEST(verify_name_safetensors_cannot_hold_refused_like_decompress) {
    check_refused(D_NAME, "name", "__metadata__");
}

/* A sound file: verify_full, info --verify and decompress all succeed. */
TEST(verify_accepts_what_decompress_accepts) {
    hc_error err;
    hc_error_clear(&err);
    coded c;
    CHECKF(make_coded(&c, &err), "encode: %s", err.msg);
    char path[1024], out[1024], log[1024], args[4096];
    snprintf(path, sizeof path, "%s/verify_ok.hyc", hc_test_tmpdir());
    snprintf(out, sizeof out, "%s/verify_ok.safetensors", hc_test_tmpdir());
    snprintf(log, sizeof log, "%s/verify_ok.log", hc_test_tmpdir());
    hc_status s = write_case(path, &c, D_NONE, &err);
    hc_encoded_free(&c.e);
    CHECK_OK(s, &err);
    hc_hyc *h;
    CHECK_OK(hc_hyc_open(path, &h, &err), &err);
    s = hc_hyc_verify_full(h, &err);
    hc_hyc_close(h);
    CHECK_OK(s, &err);
    CHECK_OK(hc_decompress_file(path, out, 1, 1, &err), &err);
    if (access(bin(), X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        return;
    }
    snprintf(args, sizeof args, "info '%s' --verify", path);
    CHECK(run(args, log) == 0 && file_contains(log, "checksums OK"));
}
