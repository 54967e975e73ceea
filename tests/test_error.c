/* test_error.c — the error rule (include/hyperc.h, "Errors"): hc_fail sets
 * an error, replacing what err held; hc_error_context adds context to a
 * callee's error without repeating it; messages of a damaged .hyc and of a
 * failing perplexity have one prefix each; a file of the wrong kind is named
 * for what it is (src/io/sniff.c). */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/io/sniff.h"
#include "../src/common/util.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t count_of(const char *hay, const char *needle) {
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + l, needle)) n++;
    return n;
}

/* ---- the two helpers ------------------------------------------------------ */

TEST(error_fail_replaces) {
    hc_error e;
    hc_error_clear(&e);
    CHECK(hc_fail(&e, HC_E_CORRUPT, "bad crc in tensor '%s'", "w") == HC_E_CORRUPT);
    CHECK(e.code == HC_E_CORRUPT && strcmp(e.msg, "bad crc in tensor 'w'") == 0);
    /* a second failure replaces the first: code and message */
    CHECK(hc_fail(&e, HC_E_IO, "cannot open '%s'", "x.hyc") == HC_E_IO);
    CHECK(e.code == HC_E_IO);
    CHECKF(strcmp(e.msg, "cannot open 'x.hyc'") == 0, "msg '%s'", e.msg);
    CHECK(hc_fail(NULL, HC_E_ARG, "nobody listens") == HC_E_ARG);
    hc_error_clear(&e);
    CHECK(e.code == HC_OK && e.msg[0] == 0);
}

TEST(error_context_prefixes) {
    hc_error e;
    hc_error_clear(&e);
    hc_fail(&e, HC_E_CORRUPT, "payload CRC-32C mismatch");
    CHECK(hc_error_context(&e, HC_E_CORRUPT, "'%s': tensor '%s'", "m.hyc", "w") == HC_E_CORRUPT);
    CHECK(e.code == HC_E_CORRUPT);
    CHECKF(strcmp(e.msg, "'m.hyc': tensor 'w': payload CRC-32C mismatch") == 0, "msg '%s'", e.msg);
    /* the same context again is not repeated */
    hc_error_context(&e, HC_E_CORRUPT, "'%s': tensor '%s'", "m.hyc", "w");
    CHECKF(strcmp(e.msg, "'m.hyc': tensor 'w': payload CRC-32C mismatch") == 0, "msg '%s'", e.msg);
    hc_error_context(&e, HC_E_CORRUPT, "'%s'", "m.hyc");
    CHECKF(strcmp(e.msg, "'m.hyc': tensor 'w': payload CRC-32C mismatch") == 0, "msg '%s'", e.msg);
    /* a different one is */
    hc_error_context(&e, HC_E_CORRUPT, "loading");
    CHECKF(strcmp(e.msg, "loading: 'm.hyc': tensor 'w': payload CRC-32C mismatch") == 0, "msg '%s'", e.msg);
    /* HC_OK: nothing happens */
    CHECK(hc_error_context(&e, HC_OK, "ignored") == HC_OK);
    CHECK(e.code == HC_E_CORRUPT && strncmp(e.msg, "loading: ", 9) == 0);
    /* a callee that left no message: the status name stands in */
    hc_error_clear(&e);
    CHECK(hc_error_context(&e, HC_E_NOMEM, "tensor '%s'", "w") == HC_E_NOMEM);
    CHECKF(strcmp(e.msg, "tensor 'w': out of memory") == 0, "msg '%s'", e.msg);
    CHECK(hc_error_context(NULL, HC_E_IO, "x") == HC_E_IO);
    /* long messages are cut, never overrun */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    hc_fail(&e, HC_E_FORMAT, "%s", big);
    CHECK(strlen(e.msg) == sizeof e.msg - 1);
    hc_error_context(&e, HC_E_FORMAT, "%s", big);
    CHECK(strlen(e.msg) == sizeof e.msg - 1 && e.code == HC_E_FORMAT);
}

/* The example of issue 13: an error handled earlier does not leak into the
 * next, unrelated one, nor does its code. */
TEST(error_stale_not_kept) {
    hc_error e;
    hc_error_clear(&e);
    hc_hyc *h = NULL;
    CHECK(hc_hyc_open("/nonexistent/dir/x.hyc", &h, &e) == HC_E_IO);
    hc_opts o;
    CHECK(hc_opts_preset(&o, "nope", &e) == HC_E_ARG);
    CHECK(e.code == HC_E_ARG);
    CHECKF(strncmp(e.msg, "unknown preset 'nope'", 21) == 0 && !strstr(e.msg, "nonexistent"), "msg '%s'", e.msg);
}

/* ---- what a file looks like ------------------------------------------------- */

TEST(sniff_formats) {
    static const uint8_t hyc[16] = {0x89, 'H', 'Y', 'C', '\r', '\n', 0x1a, '\n', 1, 0};
    uint8_t st[16] = {14, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':'};
    int32_t l2c[7] = {64, 172, 5, 8, 4, -512, 512};
    struct { const void *head; size_t n; const char *want; } cases[] = {
        {"GGUF\3\0\0\0\0\0\0\0", 12, "GGUF file"},
        {hyc, sizeof hyc, ".hyc container"},
        {st, sizeof st, "safetensors file"},
        {l2c, sizeof l2c, "llama2.c checkpoint"},
        {"PK\3\4\24\0\0\0", 8, "zip archive (PyTorch .pt/.bin)"},
        {"\x80\x02}q\0", 5, "Python pickle (PyTorch .pt/.bin)"},
        {"\x93NUMPY\1\0", 8, "NumPy .npy array"},
        {"  {\"dim\": 64}\n", 14, "JSON text"},
        {"Once upon a time\n", 17, "text file"},
        {"{}\0\0\0\0\0", 7, NULL},       /* JSON followed by NUL bytes: unclear */
        {"\0\0\0\0\0\0\0\0", 8, NULL},
        {"", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = hc_sniff_format(cases[i].head, cases[i].n);
        CHECKF((got == NULL && cases[i].want == NULL) || (got && cases[i].want && strcmp(got, cases[i].want) == 0),
               "case %zu: got '%s', want '%s'", i, got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
    }
    /* a llama2.c header with nonsense fields is not named */
    int32_t bad[7] = {64, 172, 5, 7, 4, 512, 512}; /* dim not a multiple of n_heads */
    CHECK(hc_sniff_format((const uint8_t *)bad, sizeof bad) == NULL);
}

static const char *tmp_path(const char *name) {
    static char buf[64][512];
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", hc_test_tmpdir(), name);
    return buf[k];
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* A small safetensors file with one 64x64 F32 tensor 'w' and a bias 'b'. */
static int make_model(const char *path) {
    static float w[64 * 64], b[64];
    hc_rng r = {7};
    for (int i = 0; i < 64 * 64; i++) w[i] = (float)(0.05 * hc_rng_normal(&r));
    for (int i = 0; i < 64; i++) b[i] = (float)i;
    hc_tensor_info ti[2];
    memset(ti, 0, sizeof ti);
    snprintf(ti[0].name, sizeof ti[0].name, "w");
    ti[0].dtype = HC_F32;
    ti[0].ndim = 2;
    ti[0].shape[0] = ti[0].shape[1] = 64;
    ti[0].nelem = 4096;
    ti[0].nbytes = 4096 * 4;
    snprintf(ti[1].name, sizeof ti[1].name, "b");
    ti[1].dtype = HC_F32;
    ti[1].ndim = 1;
    ti[1].shape[0] = 64;
    ti[1].nelem = 64;
    ti[1].nbytes = 256;
    hc_error err = {0};
    hc_st_writer *wr;
    if (hc_st_writer_open(path, ti, 2, NULL, 0, 1, &wr, &err)) return -1;
    if (hc_st_writer_put(wr, 0, w, &err) || hc_st_writer_put(wr, 1, b, &err)) {
        hc_st_writer_abort(wr);
        return -1;
    }
    return hc_st_writer_finish(wr, &err) ? -1 : 0;
}

TEST(error_wrong_format_named) {
    const char *st = tmp_path("wf.safetensors"), *hyc = tmp_path("wf.hyc"), *gguf = tmp_path("wf.gguf");
    CHECK(make_model(st) == 0);
    hc_error err = {0};
    hc_opts o;
    hc_opts_default(&o);
    CHECK_OK(hc_compress_file(st, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    uint8_t g[64] = "GGUF\3\0\0\0";
    CHECK(write_file(gguf, g, sizeof g) == 0);
    hc_safetensors *s = NULL;
    hc_hyc *h = NULL;
    char want[1024];
    CHECK(hc_st_open(hyc, &s, &err) == HC_E_FORMAT && s == NULL);
    snprintf(want, sizeof want, "'%s' is a .hyc container, not a safetensors file", hyc);
    CHECKF(strncmp(err.msg, want, strlen(want)) == 0, "msg '%s'", err.msg);
    CHECK(hc_st_open(gguf, &s, &err) == HC_E_FORMAT);
    snprintf(want, sizeof want, "'%s' is a GGUF file, not a safetensors file", gguf);
    CHECKF(strcmp(err.msg, want) == 0, "msg '%s'", err.msg);
    CHECK(hc_hyc_open(st, &h, &err) == HC_E_FORMAT && h == NULL);
    snprintf(want, sizeof want, "'%s' is a safetensors file, not a .hyc container", st);
    CHECKF(strncmp(err.msg, want, strlen(want)) == 0, "msg '%s'", err.msg);
    CHECK(hc_hyc_open(gguf, &h, &err) == HC_E_FORMAT);
    CHECK(strstr(err.msg, "is a GGUF file, not a .hyc container") != NULL);
    hc_llm_model *m = NULL;
    /* a GGUF is a model format of its own now: this one is refused as a bad GGUF */
    CHECK(hc_llm_open(gguf, NULL, &m, &err) != HC_OK && m == NULL);
    CHECKF(strstr(err.msg, "GGUF"), "msg '%s'", err.msg);
    /* a damaged file of the right kind keeps its precise message */
    size_t len;
    uint8_t *img = hc_test_slurp(st, &len);
    CHECK(img && len > 16);
    img[0] ^= 0x40; /* header length now absurd, byte 8 still '{' */
    const char *bad = tmp_path("wf_bad.safetensors");
    CHECK(write_file(bad, img, len) == 0);
    free(img);
    CHECK(hc_st_open(bad, &s, &err) != HC_OK);
    CHECKF(strstr(err.msg, "' is a ") == NULL && strstr(err.msg, bad) != NULL, "msg '%s'", err.msg);
    /* the llama2.c checkpoint of the shared models */
    const char *l2c = hc_test_shared("models/stories260K.bin");
    if (!l2c) return;
    CHECK(hc_st_open(l2c, &s, &err) == HC_E_FORMAT);
    CHECKF(strstr(err.msg, "is a llama2.c checkpoint, not a safetensors file") != NULL, "msg '%s'", err.msg);
}

/* ---- message shapes through the tool ---------------------------------------------- */

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b ? b : "build/hyperc";
}

/* Runs the tool; stderr into *msg (static buffer); returns the exit status. */
static int run_err(const char *args, const char **msg) {
    static char buf[8192];
    const char *log = tmp_path("err.log");
    int s = hc_test_run(args, NULL, log);
    size_t n = 0;
    uint8_t *t = hc_test_slurp(log, &n);
    if (n >= sizeof buf) n = sizeof buf - 1;
    if (t) memcpy(buf, t, n);
    buf[n] = 0;
    free(t);
    *msg = buf;
    return s;
}

/* Flips one byte inside tensor `name`'s payload; returns 0 on success. */
static int flip_payload(const char *in, const char *out, const char *name) {
    hc_error err = {0};
    hc_hyc *h;
    if (hc_hyc_open(in, &h, &err)) return -1;
    long i = hc_hyc_find(h, name);
    uint64_t off = i >= 0 ? hc_hyc_get(h, (size_t)i)->offset + hc_hyc_get(h, (size_t)i)->size / 2 : 0;
    hc_hyc_close(h);
    if (i < 0) return -1;
    size_t len;
    uint8_t *img = hc_test_slurp(in, &len);
    if (!img || off >= len) return -1;
    img[off] ^= 0x10;
    int r = write_file(out, img, len);
    free(img);
    return r;
}

TEST(error_message_corrupt_hyc) {
    if (access(bin(), X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *st = tmp_path("cm.safetensors"), *hyc = tmp_path("cm.hyc"), *flip = tmp_path("flip.hyc");
    CHECK(make_model(st) == 0);
    hc_error err = {0};
    hc_opts o;
    hc_opts_default(&o);
    CHECK_OK(hc_compress_file(st, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK(flip_payload(hyc, flip, "w") == 0);
    /* the library: file and tensor named once */
    CHECK(hc_decompress_file(flip, tmp_path("cm_back.safetensors"), 1, 1, &err) == HC_E_CORRUPT);
    char want[1024];
    snprintf(want, sizeof want, "'%s': tensor 'w': payload CRC-32C mismatch (stored 0x", flip);
    CHECKF(strncmp(err.msg, want, strlen(want)) == 0, "msg '%s'", err.msg);
    CHECKF(count_of(err.msg, flip) == 1, "msg '%s'", err.msg);
    /* the tool: one prefix */
    char args[2048];
    const char *msg;
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -f", flip, tmp_path("cm_back.safetensors"));
    CHECK(run_err(args, &msg) == 1);
    snprintf(want, sizeof want, "hyperc decompress: '%s': tensor 'w': payload CRC-32C mismatch (stored 0x", flip);
    CHECKF(strncmp(msg, want, strlen(want)) == 0 && count_of(msg, "tensor 'w'") == 1, "stderr '%s'", msg);
    snprintf(args, sizeof args, "info '%s' --verify", flip);
    CHECK(run_err(args, &msg) == 1);
    snprintf(want, sizeof want, "hyperc info: '%s': tensor 'w': payload CRC-32C mismatch (stored 0x", flip);
    CHECKF(strncmp(msg, want, strlen(want)) == 0 && count_of(msg, "tensor 'w'") == 1, "stderr '%s'", msg);
}

/* A damaged llama model and a perplexity that fails: one prefix each. */
TEST(error_message_perplexity) {
    const char *model = hc_test_shared("models/stories260K.safetensors");
    const char *l2c = hc_test_shared("models/stories260K.bin");
    const char *tok = hc_test_shared("models/tok512.bin");
    if (!model || !l2c || !tok) return;
    if (access(bin(), X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *text = tmp_path("short.txt");
    CHECK(write_file(text, "Once.", 5) == 0);
    char args[2048];
    const char *msg;
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s'", l2c, tok, text);
    CHECK(run_err(args, &msg) == 1);
    CHECKF(strncmp(msg, "hyperc perplexity: the text gives ", 34) == 0 && count_of(msg, "perplexity") == 1,
           "stderr '%s'", msg);
    /* a payload byte flipped in a compressed llama: the load names file and tensor once */
    const char *hyc = tmp_path("s.hyc"), *flip = tmp_path("sflip.hyc");
    hc_error err = {0};
    hc_opts o;
    hc_opts_default(&o);
    CHECK_OK(hc_compress_file(model, hyc, &o, 2, 1, NULL, NULL, NULL, &err), &err);
    CHECK(flip_payload(hyc, flip, "tok_embeddings.weight") == 0);
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s'", flip, tok, text);
    CHECK(run_err(args, &msg) == 1);
    char want[1024];
    snprintf(want, sizeof want, "hyperc perplexity: '%s': tensor 'tok_embeddings.weight': payload CRC-32C mismatch",
             flip);
    CHECKF(strncmp(msg, want, strlen(want)) == 0 && count_of(msg, flip) == 1, "stderr '%s'", msg);
}
