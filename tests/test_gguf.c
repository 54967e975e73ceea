/* test_gguf.c — GGUF reading (real llama.cpp vocabulary files and files built
 * here), metadata lookup, GGUF -> .hyc -> GGUF round trips (byte-identical when
 * nothing is lossy), hostile input (every truncation point, random byte
 * flips, huge counts), wrong-format messages, and the independent reader
 * @huggingface/gguf (tests/node/gguf_check.mjs) on hyperc's output. */
#include "test.h"
#include "../src/common/util.h"
#include "../src/io/gguf.h"
#include "hyperc_llm.h"
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rnd_normal(void) {
    double u1 = ((double)(rnd() >> 11) + 1) / 9007199254740993.0, u2 = (double)(rnd() >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Test tensors: F32 [64 x 256], F16 and BF16 [32 x 256], Q8_0 [4 x 256], Q4_K
 * [2 x 512], I32 [7] and a tiny F32 norm [256]. Data lives in static arrays. */
enum { R = 64, C = 256 };
static float t_f32[R * C], t_norm[C];
static uint16_t t_f16[32 * C], t_bf16[32 * C];
static uint8_t t_q8[4 * (C / 32) * 34], t_q4k[2 * 2 * 144];
static int32_t t_i32[7];

static void fill_tensors(void) {
    for (size_t i = 0; i < R * C; i++) t_f32[i] = 0.02f * rnd_normal();
    for (size_t i = 0; i < C; i++) t_norm[i] = 1.0f + 0.1f * rnd_normal();
    for (size_t i = 0; i < 32 * C; i++) {
        t_f16[i] = hc_f32_to_f16(0.05f * rnd_normal());
        t_bf16[i] = hc_f32_to_bf16(0.05f * rnd_normal());
    }
    for (size_t i = 0; i < sizeof t_q8; i++) t_q8[i] = (uint8_t)rnd();
    for (size_t i = 0; i < sizeof t_q4k; i++) t_q4k[i] = (uint8_t)rnd();
    for (int i = 0; i < 7; i++) t_i32[i] = (int32_t)(rnd() & 0xFFFF) - 30000;
}

/* Metadata of every value type, a nested array, then the tensors (all of them
 * when `tensors`, else none). */
static hc_gguf_build *make_build(int tensors, uint32_t version, hc_error *err) {
    hc_gguf_build *b = NULL;
    if (hc_gguf_build_new(version, &b, err)) return NULL;
    uint8_t v[64];
    int ok = 1;
    ok &= !hc_gguf_build_str(b, "general.architecture", "llama", err);
    ok &= !hc_gguf_build_str(b, "general.name", "hyperc test", err);
    ok &= !hc_gguf_build_u32(b, "general.alignment", 64, err);
    ok &= !hc_gguf_build_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err);
    v[0] = 200;
    ok &= !hc_gguf_build_kv(b, "t.u8", HC_GGUF_UINT8, v, 1, err);
    v[0] = 0xF0;
    ok &= !hc_gguf_build_kv(b, "t.i8", HC_GGUF_INT8, v, 1, err);
    hc_put_u16(v, 0xFFFE);
    ok &= !hc_gguf_build_kv(b, "t.i16", HC_GGUF_INT16, v, 2, err);
    ok &= !hc_gguf_build_kv(b, "t.u16", HC_GGUF_UINT16, v, 2, err);
    hc_put_u32(v, (uint32_t)-7);
    ok &= !hc_gguf_build_kv(b, "t.i32", HC_GGUF_INT32, v, 4, err);
    hc_put_u64(v, 1ull << 40);
    ok &= !hc_gguf_build_kv(b, "t.u64", HC_GGUF_UINT64, v, 8, err);
    hc_put_u64(v, (uint64_t)-5);
    ok &= !hc_gguf_build_kv(b, "t.i64", HC_GGUF_INT64, v, 8, err);
    hc_put_f64(v, 3.25);
    ok &= !hc_gguf_build_kv(b, "t.f64", HC_GGUF_FLOAT64, v, 8, err);
    v[0] = 1;
    ok &= !hc_gguf_build_kv(b, "t.bool", HC_GGUF_BOOL, v, 1, err);
    const char *toks[] = {"<unk>", "<s>", "</s>", "", "\xe2\x96\x81the"};
    ok &= !hc_gguf_build_str_array(b, "tokenizer.ggml.tokens", toks, 5, err);
    /* float32 array [0.5, -1.5, 2] */
    hc_put_u32(v, HC_GGUF_FLOAT32);
    hc_put_u64(v + 4, 3);
    hc_put_f32(v + 12, 0.5f);
    hc_put_f32(v + 16, -1.5f);
    hc_put_f32(v + 20, 2.0f);
    ok &= !hc_gguf_build_kv(b, "tokenizer.ggml.scores", HC_GGUF_ARRAY, v, 24, err);
    /* array of 2 arrays of int32: [[1, 2], [3]] */
    size_t k = 0;
    hc_put_u32(v + k, HC_GGUF_ARRAY); k += 4;
    hc_put_u64(v + k, 2); k += 8;
    hc_put_u32(v + k, HC_GGUF_INT32); k += 4;
    hc_put_u64(v + k, 2); k += 8;
    hc_put_u32(v + k, 1); k += 4;
    hc_put_u32(v + k, 2); k += 4;
    hc_put_u32(v + k, HC_GGUF_INT32); k += 4;
    hc_put_u64(v + k, 1); k += 8;
    hc_put_u32(v + k, 3); k += 4;
    ok &= !hc_gguf_build_kv(b, "t.nested", HC_GGUF_ARRAY, v, k, err);
    if (tensors) {
        uint64_t ne[2];
        ne[0] = C; ne[1] = R;
        ok &= !hc_gguf_build_tensor(b, "blk.0.attn_q.weight", 2, ne, 0, t_f32, err);
        ne[1] = 32;
        ok &= !hc_gguf_build_tensor(b, "blk.0.ffn_up.weight", 2, ne, 1, t_f16, err);
        ok &= !hc_gguf_build_tensor(b, "blk.0.ffn_down.weight", 2, ne, 30, t_bf16, err);
        ne[1] = 4;
        ok &= !hc_gguf_build_tensor(b, "blk.0.attn_k.weight", 2, ne, 8, t_q8, err);
        ne[0] = 512; ne[1] = 2;
        ok &= !hc_gguf_build_tensor(b, "blk.0.attn_v.weight", 2, ne, 12, t_q4k, err);
        ne[0] = 7;
        ok &= !hc_gguf_build_tensor(b, "ids", 1, ne, 26, t_i32, err);
        ne[0] = C;
        ok &= !hc_gguf_build_tensor(b, "output_norm.weight", 1, ne, 0, t_norm, err);
    }
    if (!ok) {
        hc_gguf_build_free(b);
        return NULL;
    }
    return b;
}

static uint8_t *make_image(int tensors, size_t *len, hc_error *err) {
    hc_gguf_build *b = make_build(tensors, 3, err);
    if (!b) return NULL;
    uint8_t *img = NULL;
    if (hc_gguf_build_image(b, &img, len, err)) img = NULL;
    hc_gguf_build_free(b);
    return img;
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *x = hc_test_slurp(a, &la), *y = hc_test_slurp(b, &lb);
    int r = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return r;
}

/* Runs the node oracle on two files. 1: it agreed, 0: it disagreed (out has
 * its words), -1: node or the package is missing (out says so). */
static int node_check(const char *a, const char *b, char *out, size_t cap) {
    out[0] = 0;
    if (access("tests/node/gguf_check.mjs", R_OK) != 0) {
        snprintf(out, cap, "tests/node/gguf_check.mjs not found (run from the repository root)");
        return -1;
    }
    if (system("command -v node >/dev/null 2>&1") != 0) {
        snprintf(out, cap, "node is not installed");
        return -1;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "node tests/node/gguf_check.mjs '%s' '%s' 2>&1", a, b);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc == 2) return -1;
    return rc == 0 && strstr(out, "gguf_check OK") ? 1 : 0;
}

/* Skips (or fails under CI=true) when the oracle is missing. */
#define NODE_CHECK(a, b)                                                                              \
    do {                                                                                              \
        char nout_[4096];                                                                             \
        int nr_ = node_check((a), (b), nout_, sizeof nout_);                                          \
        if (nr_ < 0) {                                                                                \
            const char *ci_ = getenv("CI");                                                           \
            CHECKF(!(ci_ && !strcmp(ci_, "true")), "CI=true but the GGUF oracle is missing: %.600s", nout_); \
            hc_test_skip(nout_);                                                                      \
            return;                                                                                   \
        }                                                                                             \
        CHECKF(nr_ == 1, "@huggingface/gguf disagrees on %.200s vs %.200s: %.600s", (a), (b), nout_);           \
    } while (0)

static void tmp_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", hc_test_tmpdir(), name); }

/* ===================================================================== */
/* Reading and metadata lookup                                            */
/* ===================================================================== */

TEST(gguf_ggml_type_table) {
    const hc_ggml_type *q4k = hc_ggml_type_get(12), *q8 = hc_ggml_type_get(8), *bf = hc_ggml_type_get(30);
    CHECK(q4k && !strcmp(q4k->name, "Q4_K") && q4k->block == 256 && q4k->bytes == 144);
    CHECK(q8 && q8->block == 32 && q8->bytes == 34);
    CHECK(bf && bf->hc_dtype == HC_BF16);
    CHECK(hc_ggml_type_get(4) == NULL && hc_ggml_type_get(31) == NULL && hc_ggml_type_get(1000) == NULL);
    CHECK(hc_ggml_type_of_dtype(HC_F16) == 1 && hc_ggml_type_of_dtype(HC_U8) == -1);
}

TEST(gguf_real_vocab_files) {
    const char *spm = hc_test_shared("data/gguf/ggml-vocab-llama-spm.gguf");
    if (!spm) return;
    const char *gpt2 = hc_test_shared("data/gguf/ggml-vocab-gpt-2.gguf");
    if (!gpt2) return;
    hc_error err = {0};
    hc_gguf *g = NULL;
    CHECK_OK(hc_gguf_open(spm, &g, &err), &err);
    CHECK(hc_gguf_version(g) == 3 && hc_gguf_tensor_count(g) == 0 && hc_gguf_kv_count(g) == 22);
    const char *s;
    size_t n;
    CHECK(hc_gguf_get_str(g, "tokenizer.ggml.model", &s, &n) && n == 5 && !memcmp(s, "llama", 5));
    uint32_t et;
    uint64_t cnt;
    CHECK(hc_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &cnt) && et == HC_GGUF_STRING && cnt == 32000);
    CHECK(hc_gguf_array_str(g, "tokenizer.ggml.tokens", 1, &s, &n) && n == 3 && !memcmp(s, "<s>", 3));
    CHECK(hc_gguf_array_str(g, "tokenizer.ggml.tokens", 31999, &s, &n));
    CHECK(!hc_gguf_array_str(g, "tokenizer.ggml.tokens", 32000, &s, &n));
    double sc;
    CHECK(hc_gguf_array_float(g, "tokenizer.ggml.scores", 1, &sc) && sc == 0.0);
    CHECK(hc_gguf_array_float(g, "tokenizer.ggml.scores", 300, &sc) && sc < 0);
    int64_t v;
    CHECK(hc_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v) && v == 1);
    CHECK(hc_gguf_get_int(g, "tokenizer.ggml.add_bos_token", &v) && v == 1);
    CHECK(hc_gguf_get_int(g, "llama.embedding_length", &v) && v == 4096);
    CHECK(hc_gguf_array_int(g, "tokenizer.ggml.token_type", 1, &v) && v == 3); /* <s> is a control token */
    CHECK(hc_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &sc) && fabs(sc - 1e-5) < 1e-9);
    CHECK(!hc_gguf_get_str(g, "llama.embedding_length", &s, &n) && !hc_gguf_get_int(g, "no.such.key", &v));
    hc_gguf_close(g);
    CHECK_OK(hc_gguf_open(gpt2, &g, &err), &err);
    CHECK(hc_gguf_get_str(g, "tokenizer.ggml.model", &s, &n) && n == 4 && !memcmp(s, "gpt2", 4));
    CHECK(hc_gguf_get_array(g, "tokenizer.ggml.merges", &et, &cnt) && et == HC_GGUF_STRING && cnt > 40000);
    CHECK(hc_gguf_array_str(g, "tokenizer.ggml.merges", 0, &s, &n) && n > 2 && memchr(s, ' ', n));
    hc_gguf_close(g);
}

TEST(gguf_built_file_reads_back) {
    fill_tensors();
    hc_error err = {0};
    size_t len;
    uint8_t *img = make_image(1, &len, &err);
    CHECKF(img, "%s", err.msg);
    hc_gguf *g = NULL;
    hc_status s = hc_gguf_open_mem(img, len, "built", &g, &err);
    if (s) free(img);
    CHECK_OK(s, &err);
    CHECK(hc_gguf_alignment(g) == 64 && hc_gguf_data_start(g) % 64 == 0);
    CHECK(hc_gguf_tensor_count(g) == 7);
    const hc_gguf_tensor *t = hc_gguf_tensor_get(g, 4);
    CHECK(!strcmp(t->name, "blk.0.attn_v.weight") && t->type == 12 && t->nbytes == sizeof t_q4k && t->ne[0] == 512);
    CHECK(memcmp(hc_gguf_tensor_data(g, 4), t_q4k, sizeof t_q4k) == 0);
    CHECK(memcmp(hc_gguf_tensor_data(g, 0), t_f32, sizeof t_f32) == 0);
    CHECK(hc_gguf_find_tensor(g, "ids") == 5 && hc_gguf_find_tensor(g, "nope") == -1);
    hc_tensor_info ti;
    hc_gguf_tensor_info(hc_gguf_tensor_get(g, 0), &ti);
    CHECK(ti.dtype == HC_F32 && ti.ndim == 2 && ti.shape[0] == R && ti.shape[1] == C);
    hc_gguf_tensor_info(hc_gguf_tensor_get(g, 3), &ti);
    CHECK(ti.dtype == HC_U8 && ti.ndim == 1 && ti.shape[0] == sizeof t_q8);
    int64_t v;
    double d;
    CHECK(hc_gguf_get_int(g, "t.u8", &v) && v == 200);
    CHECK(hc_gguf_get_int(g, "t.i8", &v) && v == -16);
    CHECK(hc_gguf_get_int(g, "t.i16", &v) && v == -2);
    CHECK(hc_gguf_get_int(g, "t.u16", &v) && v == 0xFFFE);
    CHECK(hc_gguf_get_int(g, "t.i32", &v) && v == -7);
    CHECK(hc_gguf_get_int(g, "t.u64", &v) && v == (int64_t)1 << 40);
    CHECK(hc_gguf_get_int(g, "t.i64", &v) && v == -5);
    CHECK(hc_gguf_get_float(g, "t.f64", &d) && d == 3.25);
    CHECK(hc_gguf_get_int(g, "t.bool", &v) && v == 1);
    CHECK(hc_gguf_array_float(g, "tokenizer.ggml.scores", 1, &d) && d == -1.5);
    const char *str;
    size_t n;
    CHECK(hc_gguf_array_str(g, "tokenizer.ggml.tokens", 3, &str, &n) && n == 0);
    CHECK(hc_gguf_array_str(g, "tokenizer.ggml.tokens", 4, &str, &n) && n == 6 && !memcmp(str + 3, "the", 3));
    uint32_t et;
    uint64_t cnt;
    CHECK(hc_gguf_get_array(g, "t.nested", &et, &cnt) && et == HC_GGUF_ARRAY && cnt == 2);
    CHECK(!hc_gguf_array_int(g, "t.nested", 0, &v));
    size_t kl;
    uint32_t kt;
    const char *k0 = hc_gguf_kv_key(g, 0, &kl, &kt);
    CHECK(k0 && kl == 20 && !memcmp(k0, "general.architecture", 20) && kt == HC_GGUF_STRING);
    hc_gguf_close(g);
    /* version 2 reads the same */
    hc_gguf_build *b = make_build(0, 2, &err);
    CHECK(b);
    uint8_t *img2 = NULL;
    size_t len2;
    s = hc_gguf_build_image(b, &img2, &len2, &err);
    hc_gguf_build_free(b);
    CHECK_OK(s, &err);
    s = hc_gguf_open_mem(img2, len2, "v2", &g, &err);
    CHECKF(s == HC_OK && hc_gguf_version(g) == 2, "%s", err.msg);
    hc_gguf_close(g);
    free(img2);
    free(img);
}

/* ===================================================================== */
/* Round trips through .hyc                                               */
/* ===================================================================== */

TEST(gguf_real_files_round_trip_byte_identical) {
    const char *names[] = {"data/gguf/ggml-vocab-llama-spm.gguf", "data/gguf/ggml-vocab-gpt-2.gguf"};
    for (int f = 0; f < 2; f++) {
        const char *in = hc_test_shared(names[f]);
        if (!in) return;
        char hyc[512], out[512];
        tmp_path(hyc, sizeof hyc, f ? "gpt2.hyc" : "spm.hyc");
        tmp_path(out, sizeof out, f ? "gpt2.gguf" : "spm.gguf");
        hc_error err = {0};
        hc_opts o;
        hc_opts_default(&o);
        CHECK_OK(hc_compress_file(in, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
        CHECK_OK(hc_decompress_file(hyc, out, 1, 1, &err), &err);
        CHECKF(same_file(in, out), "%s did not round-trip byte-identical", in);
        /* the .hyc keeps the GGUF header as its metadata */
        hc_hyc *h = NULL;
        CHECK_OK(hc_hyc_open(hyc, &h, &err), &err);
        size_t ml;
        const char *m = hc_hyc_metadata(h, &ml);
        CHECK(m && ml > 1000 && hc_gguf_is_gguf(m, ml) && hc_hyc_count(h) == 0);
        hc_hyc_close(h);
    }
}

TEST(gguf_tensors_round_trip) {
    fill_tensors();
    hc_error err = {0};
    char in[512], hyc[512], out[512], hyc2[512], out2[512], st[512];
    tmp_path(in, sizeof in, "model.gguf");
    tmp_path(hyc, sizeof hyc, "model_raw.hyc");
    tmp_path(out, sizeof out, "model_raw.gguf");
    tmp_path(hyc2, sizeof hyc2, "model_lossy.hyc");
    tmp_path(out2, sizeof out2, "model_lossy.gguf");
    tmp_path(st, sizeof st, "model_lossy.safetensors");
    hc_gguf_build *b = make_build(1, 3, &err);
    CHECKF(b, "%s", err.msg);
    hc_status s = hc_gguf_build_write(b, in, 1, &err);
    hc_gguf_build_free(b);
    CHECK_OK(s, &err);

    /* lossless: byte-identical */
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    CHECK_OK(hc_compress_file(in, hyc, &o, 2, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_decompress_file(hyc, out, 2, 1, &err), &err);
    CHECK(same_file(in, out));

    /* lossy: the float tensors coded (hlat), everything else bit-exact */
    hc_opts_default(&o);
    o.min_elems = 512;
    hc_model_report rep;
    CHECK_OK(hc_compress_file(in, hyc2, &o, 2, 1, NULL, NULL, &rep, &err), &err);
    CHECK(rep.weights_coded == R * C + 2 * 32 * C);
    CHECK_OK(hc_decompress_file(hyc2, out2, 2, 1, &err), &err);
    size_t la, lb;
    uint8_t *a = hc_test_slurp(in, &la), *o2 = hc_test_slurp(out2, &lb);
    CHECK(a && o2);
    hc_gguf *ga = NULL, *gb = NULL;
    s = hc_gguf_open_mem(a, la, "in", &ga, &err);
    if (s == HC_OK) s = hc_gguf_open_mem(o2, lb, "out", &gb, &err);
    int ok = s == HC_OK && la == lb && !memcmp(a, o2, (size_t)hc_gguf_data_start(ga));
    for (size_t i = 3; ok && i < 7; i++) /* Q8_0, Q4_K, I32, small norm: bit-exact */
        ok = !memcmp(hc_gguf_tensor_data(ga, i), hc_gguf_tensor_data(gb, i), (size_t)hc_gguf_tensor_get(ga, i)->nbytes);
    double e2 = 0, s2 = 0;
    const uint8_t *q = ok ? hc_gguf_tensor_data(gb, 0) : NULL;
    for (size_t i = 0; q && i < R * C; i++) {
        double d = hc_get_f32(q + 4 * i) - t_f32[i];
        e2 += d * d;
        s2 += (double)t_f32[i] * t_f32[i];
    }
    int changed = q && memcmp(q, t_f32, sizeof t_f32) != 0;
    hc_gguf_close(ga);
    hc_gguf_close(gb);
    free(a);
    free(o2);
    CHECKF(s == HC_OK, "%s", err.msg);
    CHECK(ok);
    CHECKF(changed && e2 / s2 < 0.05, "F32 tensor nmse %g (lossy, must be small)", e2 / s2);

    /* the GGUF as a self-contained safetensors view */
    hc_safetensors *sv = NULL;
    CHECK_OK(hc_gguf_open_st(in, &sv, &err), &err);
    int vok = hc_st_count(sv) == 7 && hc_st_find(sv, "ids") == 5 &&
              !memcmp(hc_st_data(sv, 0), t_f32, sizeof t_f32) && hc_st_info(sv, 4)->dtype == HC_U8;
    hc_st_close(sv);
    CHECK(vok);
    /* the same .hyc to safetensors: ggml-quantised tensors as U8 bytes */
    CHECK_OK(hc_decompress_file(hyc2, st, 1, 1, &err), &err);
    hc_safetensors *sf = NULL;
    CHECK_OK(hc_st_open(st, &sf, &err), &err);
    long qi = hc_st_find(sf, "blk.0.attn_v.weight");
    int sok = hc_st_count(sf) == 7 && qi >= 0 && hc_st_info(sf, (size_t)qi)->dtype == HC_U8 &&
              !memcmp(hc_st_data(sf, (size_t)qi), t_q4k, sizeof t_q4k) && hc_st_metadata(sf, NULL) == NULL;
    hc_st_close(sf);
    CHECK(sok);

    /* hyperc info on the .hyc made from a GGUF */
    const char *bin = getenv("HYPERC_BIN");
    if (bin && access(bin, X_OK) == 0) {
        char cmd[1200], buf[8192];
        snprintf(cmd, sizeof cmd, "%s info '%s' 2>&1", bin, hyc2);
        FILE *p = popen(cmd, "r");
        CHECK(p);
        size_t n = fread(buf, 1, sizeof buf - 1, p);
        buf[n] = 0;
        int rc = pclose(p);
        CHECKF(rc == 0 && strstr(buf, "blk.0.attn_q.weight") && strstr(buf, "GGUF v3") && strstr(buf, "Q4_K"),
               "hyperc info output:\n%.1200s", buf);
        /* compare takes GGUF files: lossy floats measured, quantised bytes identical */
        snprintf(cmd, sizeof cmd, "%s compare '%s' '%s' 2>&1", bin, in, out2);
        p = popen(cmd, "r");
        CHECK(p);
        n = fread(buf, 1, sizeof buf - 1, p);
        buf[n] = 0;
        rc = pclose(p);
        CHECKF(rc == 0 && strstr(buf, "total: 33024 float weights") && strstr(buf, "identical"),
               "hyperc compare output:\n%.1200s", buf);
    }
}

/* Padding that is not zero, and bytes after the last tensor, come back too. */
TEST(gguf_odd_padding_round_trips) {
    fill_tensors();
    hc_error err = {0};
    size_t len;
    uint8_t *img = make_image(1, &len, &err);
    CHECKF(img, "%s", err.msg);
    hc_gguf *g = NULL;
    hc_status s = hc_gguf_open_mem(img, len, "img", &g, &err);
    if (s) free(img);
    CHECK_OK(s, &err);
    uint64_t ds = hc_gguf_data_start(g), he = hc_gguf_header_end(g);
    const hc_gguf_tensor *t5 = hc_gguf_tensor_get(g, 5); /* I32 [7]: 28 bytes, then padding */
    uint64_t pad_at = ds + t5->offset + t5->nbytes;
    hc_gguf_close(g);
    uint8_t *big = realloc(img, len + 100);
    CHECK(big);
    img = big;
    memset(img + len, 0x5A, 100); /* 100 trailing bytes */
    img[pad_at] = 0xAB;           /* a non-zero padding byte */
    if (ds > he) img[he] = 0xCD;
    char in[512], hyc[512], out[512];
    tmp_path(in, sizeof in, "odd.gguf");
    tmp_path(hyc, sizeof hyc, "odd.hyc");
    tmp_path(out, sizeof out, "odd_out.gguf");
    int w = write_file(in, img, len + 100);
    free(img);
    CHECK(w);
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    CHECK_OK(hc_compress_file(in, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_decompress_file(hyc, out, 1, 1, &err), &err);
    CHECK(same_file(in, out));
}

/* A .hyc made from safetensors can be written as a fresh GGUF. */
TEST(gguf_from_safetensors_hyc) {
    fill_tensors();
    hc_error err = {0};
    char st[512], hyc[512], out[512];
    tmp_path(st, sizeof st, "plain.safetensors");
    tmp_path(hyc, sizeof hyc, "plain.hyc");
    tmp_path(out, sizeof out, "plain.gguf");
    hc_tensor_info ti[2];
    memset(ti, 0, sizeof ti);
    snprintf(ti[0].name, sizeof ti[0].name, "w");
    ti[0].dtype = HC_F32;
    ti[0].ndim = 2;
    ti[0].shape[0] = R;
    ti[0].shape[1] = C;
    ti[0].nelem = R * C;
    ti[0].nbytes = sizeof t_f32;
    snprintf(ti[1].name, sizeof ti[1].name, "b");
    ti[1].dtype = HC_BF16;
    ti[1].ndim = 1;
    ti[1].shape[0] = 32 * C;
    ti[1].nelem = 32 * C;
    ti[1].nbytes = sizeof t_bf16;
    hc_st_writer *w = NULL;
    CHECK_OK(hc_st_writer_open(st, ti, 2, NULL, 0, 1, &w, &err), &err);
    CHECK_OK(hc_st_writer_put(w, 0, t_f32, &err), &err);
    CHECK_OK(hc_st_writer_put(w, 1, t_bf16, &err), &err);
    CHECK_OK(hc_st_writer_finish(w, &err), &err);
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    CHECK_OK(hc_compress_file(st, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_decompress_file(hyc, out, 1, 1, &err), &err);
    hc_gguf *g = NULL;
    CHECK_OK(hc_gguf_open(out, &g, &err), &err);
    const hc_gguf_tensor *t = hc_gguf_tensor_get(g, 0);
    int ok = hc_gguf_tensor_count(g) == 2 && t->type == 0 && t->ndim == 2 && t->ne[0] == C && t->ne[1] == R &&
             !memcmp(hc_gguf_tensor_data(g, 0), t_f32, sizeof t_f32) && hc_gguf_tensor_get(g, 1)->type == 30 &&
             !memcmp(hc_gguf_tensor_data(g, 1), t_bf16, sizeof t_bf16);
    hc_gguf_close(g);
    CHECK(ok);
}

/* ===================================================================== */
/* The independent reader                                                 */
/* ===================================================================== */

TEST(gguf_node_oracle) {
    fill_tensors();
    const char *spm = hc_test_shared("data/gguf/ggml-vocab-llama-spm.gguf");
    if (!spm) return;
    const char *gpt2 = hc_test_shared("data/gguf/ggml-vocab-gpt-2.gguf");
    if (!gpt2) return;
    hc_error err = {0};
    hc_opts o;
    hc_opts_default(&o);
    char hyc[512], out[512], in[512];
    const char *reals[2] = {spm, gpt2};
    for (int f = 0; f < 2; f++) {
        tmp_path(hyc, sizeof hyc, "n.hyc");
        tmp_path(out, sizeof out, f ? "n_gpt2.gguf" : "n_spm.gguf");
        CHECK_OK(hc_compress_file(reals[f], hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
        CHECK_OK(hc_decompress_file(hyc, out, 1, 1, &err), &err);
        NODE_CHECK(reals[f], out);
    }
    /* with tensors, lossy: the metadata and tensor infos still agree */
    tmp_path(in, sizeof in, "n_model.gguf");
    tmp_path(out, sizeof out, "n_model_out.gguf");
    hc_gguf_build *b = make_build(1, 3, &err);
    CHECK(b);
    hc_status s = hc_gguf_build_write(b, in, 1, &err);
    hc_gguf_build_free(b);
    CHECK_OK(s, &err);
    o.min_elems = 512;
    CHECK_OK(hc_compress_file(in, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_decompress_file(hyc, out, 1, 1, &err), &err);
    NODE_CHECK(in, out);
}

/* ===================================================================== */
/* Hostile input                                                          */
/* ===================================================================== */

/* Opens img[0, len) and uses everything; returns the status. */
static hc_status try_open(const uint8_t *img, size_t len, hc_error *err) {
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    if (!copy) abort();
    memcpy(copy, img, len);
    hc_gguf *g = NULL;
    hc_status s = hc_gguf_open_mem(copy, len, "fuzz", &g, err);
    if (s == HC_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < hc_gguf_tensor_count(g); i++) {
            const hc_gguf_tensor *t = hc_gguf_tensor_get(g, i);
            const uint8_t *d = hc_gguf_tensor_data(g, i);
            for (uint64_t k = 0; k < t->nbytes; k++) sink ^= d[k];
        }
        for (size_t i = 0; i < hc_gguf_kv_count(g); i++) {
            size_t kl;
            uint32_t kt;
            const char *k = hc_gguf_kv_key(g, i, &kl, &kt);
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(kl < 100 ? kl : 100), k);
            const char *s2;
            size_t n;
            int64_t v;
            double d;
            uint32_t et;
            uint64_t cnt;
            hc_gguf_get_str(g, key, &s2, &n);
            hc_gguf_get_int(g, key, &v);
            hc_gguf_get_float(g, key, &d);
            if (hc_gguf_get_array(g, key, &et, &cnt) && cnt) {
                hc_gguf_array_str(g, key, cnt - 1, &s2, &n);
                hc_gguf_array_int(g, key, cnt - 1, &v);
                hc_gguf_array_float(g, key, cnt - 1, &d);
            }
        }
        uint8_t *blob = NULL;
        size_t bl;
        if (hc_gguf_blob(g, &blob, &bl, err) == HC_OK) {
            hc_gguf *h = NULL;
            uint64_t fl;
            if (hc_gguf_blob_open(blob, bl, "blob", &h, &fl, err) != HC_OK || fl != len) abort();
            hc_gguf_close(h);
            free(blob);
        }
        (void)sink;
    } else if (g || !err->msg[0]) {
        abort(); /* a failure must say why and return nothing */
    }
    hc_gguf_close(g);
    free(copy);
    return s;
}

TEST(gguf_every_truncation_point) {
    fill_tensors();
    hc_error err = {0};
    size_t len;
    uint8_t *img = make_image(1, &len, &err);
    CHECKF(img, "%s", err.msg);
    hc_gguf *g = NULL;
    CHECK_OK(hc_gguf_open_mem(img, len, "full", &g, &err), &err);
    const hc_gguf_tensor *last = hc_gguf_tensor_get(g, hc_gguf_tensor_count(g) - 1);
    uint64_t need = hc_gguf_data_start(g) + last->offset + last->nbytes;
    hc_gguf_close(g);
    int bad = -1;
    for (size_t cut = 0; cut < len && bad < 0; cut++) {
        hc_error_clear(&err);
        hc_status s = try_open(img, cut, &err);
        if ((s == HC_OK) != (cut >= need)) bad = (int)cut;
    }
    free(img);
    CHECKF(bad < 0, "truncation at %d bytes: wrong verdict (%s)", bad, err.msg);
}

TEST(gguf_random_byte_flips) {
    fill_tensors();
    hc_error err = {0};
    size_t len;
    uint8_t *img = make_image(1, &len, &err);
    CHECKF(img, "%s", err.msg);
    hc_gguf *g = NULL;
    CHECK_OK(hc_gguf_open_mem(img, len, "full", &g, &err), &err);
    size_t hdr = (size_t)hc_gguf_data_start(g);
    hc_gguf_close(g);
    uint8_t *m = malloc(len);
    CHECK(m);
    int refused = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(m, img, len);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)(rnd() % hdr); /* the header is where the checks are */
            m[at] = (trial & 1) ? (uint8_t)rnd() : (uint8_t)(m[at] ^ (1u << (rnd() % 8)));
        }
        hc_error_clear(&err);
        if (try_open(m, len, &err) != HC_OK) refused++;
    }
    free(m);
    free(img);
    CHECKF(refused > 100, "only %d of 3000 damaged headers refused", refused);
}

/* Patches a small valid image and expects a refusal mentioning `want`. */
static int refuses(const uint8_t *img, size_t len, const char *want, hc_status code, char *msg, size_t cap) {
    hc_error err = {0};
    hc_gguf *g = NULL;
    hc_status s = hc_gguf_open_mem(img, len, "bad", &g, &err);
    hc_gguf_close(g);
    snprintf(msg, cap, "%s (%s)", err.msg, hc_status_str(s));
    return s == code && strstr(err.msg, want) != NULL;
}

TEST(gguf_hostile_headers) {
    char msg[1200];
    uint8_t b[256];
    size_t k;
    /* header: GGUF v3, 0 tensors, 1 kv: "a" = array of uint8 with 2^60 elements */
#define HDR(nt, nkv)                                                                                              \
    k = 0;                                                                                                        \
    memcpy(b, "GGUF", 4);                                                                                         \
    hc_put_u32(b + 4, 3);                                                                                         \
    hc_put_u64(b + 8, nt);                                                                                        \
    hc_put_u64(b + 16, nkv);                                                                                      \
    k = 24
    HDR(0, 1);
    hc_put_u64(b + k, 1); k += 8;
    b[k++] = 'a';
    hc_put_u32(b + k, HC_GGUF_ARRAY); k += 4;
    hc_put_u32(b + k, HC_GGUF_UINT8); k += 4;
    hc_put_u64(b + k, 1ull << 60); k += 8;
    memset(b + k, 0, 16); k += 16;
    CHECKF(refuses(b, k, "claims 1152921504606846976 uint8 elements", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    /* the same with strings, and with nested arrays */
    hc_put_u32(b + k - 28, HC_GGUF_STRING);
    CHECKF(refuses(b, k, "string elements", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    /* a string length of 2^63 */
    HDR(0, 1);
    hc_put_u64(b + k, 1); k += 8;
    b[k++] = 'a';
    hc_put_u32(b + k, HC_GGUF_STRING); k += 4;
    hc_put_u64(b + k, 1ull << 63); k += 8;
    CHECKF(refuses(b, k, "has length 9223372036854775808", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    /* counts far beyond the file */
    HDR(1ull << 62, 0);
    CHECKF(refuses(b, k, "tensor infos cannot fit", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    HDR(0, UINT64_MAX);
    CHECKF(refuses(b, k, "metadata keys cannot fit", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    /* versions */
    HDR(0, 0);
    hc_put_u32(b + 4, 1);
    CHECKF(refuses(b, k, "version 1", HC_E_UNSUPPORTED, msg, sizeof msg), "%s", msg);
    hc_put_u32(b + 4, 3u << 24);
    CHECKF(refuses(b, k, "big-endian", HC_E_UNSUPPORTED, msg, sizeof msg), "%s", msg);
    hc_put_u32(b + 4, 4);
    CHECKF(refuses(b, k, "version 4", HC_E_UNSUPPORTED, msg, sizeof msg), "%s", msg);
    /* bool that is not 0/1; unknown value type; arrays nested too deep */
    HDR(0, 1);
    hc_put_u64(b + k, 1); k += 8;
    b[k++] = 'a';
    hc_put_u32(b + k, HC_GGUF_BOOL); k += 4;
    b[k++] = 2;
    CHECKF(refuses(b, k, "not 0 or 1", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    hc_put_u32(b + k - 5, 13);
    CHECKF(refuses(b, k, "unknown value type 13", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    HDR(0, 1);
    hc_put_u64(b + k, 1); k += 8;
    b[k++] = 'a';
    hc_put_u32(b + k, HC_GGUF_ARRAY); k += 4;
    for (int d = 0; d < 12; d++) {
        hc_put_u32(b + k, HC_GGUF_ARRAY); k += 4;
        hc_put_u64(b + k, 1); k += 8;
    }
    hc_put_u32(b + k, HC_GGUF_UINT8); k += 4;
    hc_put_u64(b + k, 0); k += 8;
    CHECKF(refuses(b, k, "nested more than", HC_E_LIMIT, msg, sizeof msg), "%s", msg);
    /* alignment: wrong type, not a power of two */
    HDR(0, 1);
    hc_put_u64(b + k, 17); k += 8;
    memcpy(b + k, "general.alignment", 17); k += 17;
    hc_put_u32(b + k, HC_GGUF_UINT32); k += 4;
    hc_put_u32(b + k, 48); k += 4;
    CHECKF(refuses(b, k, "not a power of two", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    hc_put_u32(b + k - 8, HC_GGUF_INT32);
    CHECKF(refuses(b, k, "must be uint32", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    /* duplicate key */
    HDR(0, 2);
    for (int r = 0; r < 2; r++) {
        hc_put_u64(b + k, 1); k += 8;
        b[k++] = 'a';
        hc_put_u32(b + k, HC_GGUF_UINT8); k += 4;
        b[k++] = 1;
    }
    CHECKF(refuses(b, k, "duplicate metadata key 'a'", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    /* one tensor "w", F32 [8]; then variants */
#define TENSOR(type, off, ne0)                                                                                    \
    HDR(1, 0);                                                                                                    \
    hc_put_u64(b + k, 1); k += 8;                                                                                 \
    b[k++] = 'w';                                                                                                 \
    hc_put_u32(b + k, 1); k += 4;                                                                                 \
    hc_put_u64(b + k, ne0); k += 8;                                                                               \
    hc_put_u32(b + k, type); k += 4;                                                                              \
    hc_put_u64(b + k, off); k += 8;                                                                               \
    while (k % 32) b[k++] = 0;                                                                                    \
    memset(b + k, 0, 64);                                                                                         \
    k += 64
    TENSOR(0, 0, 8);
    hc_error err = {0};
    hc_gguf *g = NULL;
    CHECK_OK(hc_gguf_open_mem(b, k, "ok", &g, &err), &err);
    hc_gguf_close(g);
    TENSOR(0, 1ull << 40, 8);
    CHECKF(refuses(b, k, "past the end", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    TENSOR(0, 32, 16);
    CHECKF(refuses(b, k, "past the end", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    TENSOR(0, 4, 8);
    CHECKF(refuses(b, k, "not a multiple of the alignment", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    TENSOR(200, 0, 8);
    CHECKF(refuses(b, k, "unknown ggml type 200", HC_E_UNSUPPORTED, msg, sizeof msg), "%s", msg);
    TENSOR(31, 0, 32);
    CHECKF(refuses(b, k, "Q4_0_4_4", HC_E_UNSUPPORTED, msg, sizeof msg), "%s", msg);
    TENSOR(8, 0, 16);
    CHECKF(refuses(b, k, "block size 32", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
    TENSOR(0, 0, 1ull << 62);
    CHECKF(refuses(b, k, "overflows", HC_E_CORRUPT, msg, sizeof msg), "%s", msg);
#undef TENSOR
#undef HDR
}

TEST(gguf_wrong_format_messages) {
    fill_tensors();
    hc_error err = {0};
    size_t len;
    uint8_t *img = make_image(0, &len, &err);
    CHECK(img);
    hc_safetensors *st = NULL;
    hc_status s = hc_st_open_mem(img, len, "x.gguf", &st, &err);
    int ok1 = s == HC_E_FORMAT && strstr(err.msg, "is a GGUF file");
    hc_hyc *h = NULL;
    hc_error_clear(&err);
    s = hc_hyc_open_mem(img, len, "x.gguf", &h, &err);
    int ok2 = s == HC_E_FORMAT && strstr(err.msg, "is a GGUF file");
    free(img);
    CHECKF(ok1 && ok2, "%s", err.msg);
    /* a safetensors image given as GGUF */
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint8_t sb[128];
    size_t hl = strlen(hdr);
    hc_put_u64(sb, hl);
    memcpy(sb + 8, hdr, hl);
    memset(sb + 8 + hl, 0, 4);
    hc_gguf *g = NULL;
    hc_error_clear(&err);
    s = hc_gguf_open_mem(sb, 12 + hl, "x.safetensors", &g, &err);
    CHECKF(s == HC_E_FORMAT && strstr(err.msg, "this is a safetensors file"), "%s", err.msg);
    s = hc_gguf_open_mem("\x89HYC\r\n\x1a\n........", 16, "x.hyc", &g, &err);
    CHECKF(s == HC_E_FORMAT && strstr(err.msg, "this is a .hyc container"), "%s", err.msg);
    s = hc_gguf_open_mem("hello world, not a model", 24, "x.txt", &g, &err);
    CHECKF(s == HC_E_FORMAT && strstr(err.msg, "not a GGUF file"), "%s", err.msg);
}

/* Damaged GGUF metadata inside a .hyc is refused at decompression. */
TEST(gguf_blob_checks) {
    fill_tensors();
    hc_error err = {0};
    size_t len;
    uint8_t *img = make_image(1, &len, &err);
    CHECK(img);
    hc_gguf *g = NULL;
    CHECK_OK(hc_gguf_open_mem(img, len, "img", &g, &err), &err);
    uint8_t *blob = NULL;
    size_t bl = 0;
    hc_status s = hc_gguf_blob(g, &blob, &bl, &err);
    hc_gguf_close(g);
    CHECK_OK(s, &err);
    hc_gguf *h = NULL;
    uint64_t fl = 0;
    s = hc_gguf_blob_open(blob, bl, "blob", &h, &fl, &err);
    hc_gguf_close(h);
    int ok = s == HC_OK && fl == len;
    /* a file length that would need gigabytes of zero padding */
    hc_put_u64(blob + bl - 16, (uint64_t)len + (1ull << 40));
    hc_status s2 = hc_gguf_blob_open(blob, bl, "blob", &h, &fl, &err);
    int ok2 = s2 == HC_E_CORRUPT;
    hc_put_u64(blob + bl - 16, 10); /* shorter than the tensors */
    hc_status s3 = hc_gguf_blob_open(blob, bl, "blob", &h, &fl, &err);
    int ok3 = s3 == HC_E_CORRUPT && strstr(err.msg, "too short");
    free(blob);
    free(img);
    CHECK(ok);
    CHECK(ok2);
    CHECKF(ok3, "%s", err.msg);
}

/* ===================================================================== */
/* llama models from GGUF                                                 */
/* ===================================================================== */

/* stories260K (Meta names) rewritten as a GGUF llama with llama.cpp's names;
 * Meta's q/k layout is GGUF's, so the weights are copied unchanged. */
static hc_status stories_to_gguf(const char *st_path, const char *out, hc_error *err) {
    hc_safetensors *st = NULL;
    hc_status s = hc_st_open(st_path, &st, err);
    if (s) return s;
    hc_gguf_build *b = NULL;
    s = hc_gguf_build_new(3, &b, err);
    if (!s) s = hc_gguf_build_str(b, "general.architecture", "llama", err);
    if (!s) s = hc_gguf_build_u32(b, "llama.embedding_length", 64, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.feed_forward_length", 172, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.block_count", 5, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.attention.head_count", 8, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.attention.head_count_kv", 4, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.context_length", 512, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.vocab_size", 512, err);
    if (!s) s = hc_gguf_build_u32(b, "llama.rope.dimension_count", 8, err);
    if (!s) s = hc_gguf_build_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err);
    if (!s) s = hc_gguf_build_f32(b, "llama.rope.freq_base", 10000.0f, err);
    static const char *const map[][2] = {
        {"tok_embeddings.weight", "token_embd.weight"}, {"norm.weight", "output_norm.weight"},
        {"attention_norm.weight", "attn_norm.weight"},  {"attention.wq.weight", "attn_q.weight"},
        {"attention.wk.weight", "attn_k.weight"},       {"attention.wv.weight", "attn_v.weight"},
        {"attention.wo.weight", "attn_output.weight"},  {"ffn_norm.weight", "ffn_norm.weight"},
        {"feed_forward.w1.weight", "ffn_gate.weight"},  {"feed_forward.w2.weight", "ffn_down.weight"},
        {"feed_forward.w3.weight", "ffn_up.weight"}};
    for (size_t i = 0; !s && i < hc_st_count(st); i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        char name[256] = "";
        int layer = -1, off = 0;
        if (sscanf(ti->name, "layers.%d.%n", &layer, &off) == 1 && off > 0) {
            for (size_t k = 2; k < sizeof map / sizeof map[0]; k++)
                if (!strcmp(ti->name + off, map[k][0])) snprintf(name, sizeof name, "blk.%d.%s", layer, map[k][1]);
        } else {
            for (size_t k = 0; k < 2; k++)
                if (!strcmp(ti->name, map[k][0])) snprintf(name, sizeof name, "%s", map[k][1]);
        }
        if (!name[0]) {
            s = hc_fail(err, HC_E_FORMAT, "unexpected tensor %s", ti->name);
            break;
        }
        uint64_t ne[HC_MAX_DIMS];
        for (uint32_t d = 0; d < ti->ndim; d++) ne[d] = ti->shape[ti->ndim - 1 - d];
        s = hc_gguf_build_tensor(b, name, ti->ndim, ne, (uint32_t)hc_ggml_type_of_dtype(ti->dtype), hc_st_data(st, i), err);
    }
    if (!s) s = hc_gguf_build_write(b, out, 1, err);
    hc_gguf_build_free(b);
    hc_st_close(st);
    return s;
}

static hc_status logits_of(const char *path, const int *toks, int n, float *out, hc_llm_naming *naming, hc_error *err) {
    hc_llm_model *m = NULL;
    hc_status s = hc_llm_open(path, NULL, &m, err);
    if (s) return s;
    if (naming) *naming = hc_llm_naming_of(m);
    hc_llm_state *st = NULL;
    s = hc_llm_state_new(m, 0, 0, 1, &st, err);
    if (!s) s = hc_llm_forward(st, toks, n, 0, out, 1, err);
    hc_llm_state_free(st);
    hc_llm_free(m);
    return s;
}

TEST(gguf_llama_runs_like_safetensors) {
    const char *sp = hc_test_shared("models/stories260K.safetensors");
    if (!sp) return;
    hc_error err = {0};
    char gg[512], hyc[512];
    tmp_path(gg, sizeof gg, "stories.gguf");
    tmp_path(hyc, sizeof hyc, "stories_gguf.hyc");
    CHECK_OK(stories_to_gguf(sp, gg, &err), &err);
    enum { N = 6, V = 512 };
    const int toks[N] = {1, 403, 407, 261, 378, 10};
    static float ref[N * V], got[N * V], lossy[N * V];
    hc_llm_naming nm = HC_LLM_NAMES_HF;
    CHECK_OK(logits_of(sp, toks, N, ref, NULL, &err), &err);
    CHECK_OK(logits_of(gg, toks, N, got, &nm, &err), &err);
    CHECK(nm == HC_LLM_NAMES_GGUF);
    CHECK(memcmp(ref, got, sizeof ref) == 0);
    /* a lossless .hyc of the GGUF runs on its own (hyperparameters from the kept GGUF keys) */
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    CHECK_OK(hc_compress_file(gg, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    memset(got, 0, sizeof got);
    CHECK_OK(logits_of(hyc, toks, N, got, NULL, &err), &err);
    CHECK(memcmp(ref, got, sizeof ref) == 0);
    /* lossy: close, not equal */
    hc_opts_default(&o);
    CHECK_OK(hc_compress_file(gg, hyc, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(logits_of(hyc, toks, N, lossy, NULL, &err), &err);
    double e2 = 0, s2 = 0;
    for (int i = 0; i < N * V; i++) {
        e2 += (double)(lossy[i] - ref[i]) * (lossy[i] - ref[i]);
        s2 += (double)ref[i] * ref[i];
    }
    CHECKF(e2 > 0 && e2 / s2 < 0.05, "lossy logits relative error %g", e2 / s2);
}

TEST(gguf_llama_refusals) {
    hc_error err = {0};
    hc_gguf_build *b = NULL;
    CHECK_OK(hc_gguf_build_new(3, &b, &err), &err);
    CHECK_OK(hc_gguf_build_str(b, "general.architecture", "falcon", &err), &err);
    uint8_t *img = NULL;
    size_t len = 0;
    hc_status s = hc_gguf_build_image(b, &img, &len, &err);
    hc_gguf_build_free(b);
    CHECK_OK(s, &err);
    hc_gguf *g = NULL;
    s = hc_gguf_open_mem(img, len, "f", &g, &err);
    hc_llm_config cfg;
    hc_status s2 = s ? s : hc_gguf_llm_config(g, "f", &cfg, &err);
    hc_gguf_close(g);
    free(img);
    CHECKF(s2 == HC_E_UNSUPPORTED && strstr(err.msg, "falcon"), "%s", err.msg);
    /* llama without its sizes */
    hc_error_clear(&err);
    CHECK_OK(hc_gguf_build_new(3, &b, &err), &err);
    CHECK_OK(hc_gguf_build_str(b, "general.architecture", "llama", &err), &err);
    CHECK_OK(hc_gguf_build_u32(b, "llama.embedding_length", 64, &err), &err);
    s = hc_gguf_build_image(b, &img, &len, &err);
    hc_gguf_build_free(b);
    CHECK_OK(s, &err);
    s = hc_gguf_open_mem(img, len, "l", &g, &err);
    s2 = s ? s : hc_gguf_llm_config(g, "l", &cfg, &err);
    hc_gguf_close(g);
    free(img);
    CHECKF(s2 == HC_E_FORMAT && strstr(err.msg, "llama.feed_forward_length is missing"), "%s", err.msg);
}
