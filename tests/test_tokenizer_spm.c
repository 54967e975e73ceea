/* test_tokenizer_spm.c — SentencePiece tokenizer.model (src/infer/tokenizer_spm.c).
 * No real tokenizer.model is shared, so a test-only protobuf WRITER builds
 * ModelProtos from (a) tok512.bin's vocabulary (ids must equal tok512.bin's
 * on every line of tinystories_val.txt, with BOS) and (b) the GGUF vocabulary
 * ggml-vocab-llama-spm.gguf (llama.cpp's .inp/.out vectors must pass); plus
 * refusals by name, hostile lengths, every truncation point and random
 * flips of a small model. */
#include "test.h"
#include "hyperc_tok.h"
#include "../src/io/gguf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- a tiny protobuf writer ---- */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;
static void w_put(wbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void w_varint(wbuf *b, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do {
        t[k] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) t[k] |= 0x80;
        k++;
    } while (v);
    w_put(b, t, (size_t)k);
}
static void w_key(wbuf *b, uint32_t f, int wt) { w_varint(b, (uint64_t)f << 3 | (uint64_t)wt); }
static void w_bytes(wbuf *b, uint32_t f, const void *d, size_t n) {
    w_key(b, f, 2);
    w_varint(b, n);
    w_put(b, d, n);
}
static void w_float(wbuf *b, uint32_t f, float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint8_t t[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    w_key(b, f, 5);
    w_put(b, t, 4);
}
static void w_int(wbuf *b, uint32_t f, int64_t v) {
    w_key(b, f, 0);
    w_varint(b, (uint64_t)v);
}
static void w_piece(wbuf *m, const char *s, size_t n, float score, int type) {
    wbuf p = {0};
    w_bytes(&p, 1, s, n);
    w_float(&p, 2, score);
    if (type != 1) w_int(&p, 3, type);
    w_bytes(m, 1, p.p, p.n);
    free(p.p);
}
/* trainer_spec and normalizer_spec as LLaMA-2's tokenizer.model has them */
static void w_specs(wbuf *m, int model_type, const char *norm, int remove_ws) {
    wbuf t = {0}, n = {0};
    w_int(&t, 3, model_type);
    w_int(&t, 4, 32000);
    w_int(&t, 35, 1);
    w_int(&t, 40, 0);
    w_int(&t, 41, 1);
    w_int(&t, 42, 2);
    w_int(&t, 43, -1); /* pad_id: a 10-byte varint */
    w_bytes(m, 2, t.p, t.n);
    w_bytes(&n, 1, norm, strlen(norm));
    w_bytes(&n, 2, "", 0);
    w_int(&n, 3, 1);
    w_int(&n, 4, remove_ws);
    w_bytes(m, 3, n.p, n.n);
    free(t.p);
    free(n.p);
}

static int is_byte_piece(const char *s, size_t n) {
    return n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>';
}

/* (a) a ModelProto from a llama2.c tokenizer.bin: spaces -> U+2581, types */
static uint8_t *model_from_l2c(const char *path, size_t *out_len) {
    size_t len;
    uint8_t *f = hc_test_slurp(path, &len);
    if (!f) return NULL;
    wbuf m = {0};
    size_t at = 4, id = 0;
    while (at + 8 <= len) {
        float sc;
        int32_t n;
        memcpy(&sc, f + at, 4);
        memcpy(&n, f + at + 4, 4);
        at += 8;
        if (n < 0 || (size_t)n > len - at) break;
        const char *s = (const char *)f + at;
        at += (size_t)n;
        if (id < 3) {
            static const char *const sp[] = {"<unk>", "<s>", "</s>"};
            w_piece(&m, sp[id], strlen(sp[id]), 0, id ? 3 : 2);
        } else if (is_byte_piece(s, (size_t)n)) {
            w_piece(&m, s, (size_t)n, sc, 6);
        } else {
            char buf[4096 * 3];
            size_t k = 0;
            for (int32_t i = 0; i < n && k + 3 < sizeof buf; i++) {
                if (s[i] == ' ') {
                    memcpy(buf + k, "\xE2\x96\x81", 3);
                    k += 3;
                } else {
                    buf[k++] = s[i];
                }
            }
            w_piece(&m, buf, k, sc, 1);
        }
        id++;
    }
    free(f);
    w_specs(&m, 2, "identity", 0);
    *out_len = m.n;
    return m.p;
}

static hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}

TEST(tokenizer_spm_tok512_tinystories) {
    const char *tp = hc_test_shared("models/tok512.bin"), *xp = hc_test_shared("data/tinystories_val.txt");
    if (!tp || !xp) return;
    size_t ml, tl;
    uint8_t *mp = model_from_l2c(tp, &ml);
    char *text = (char *)hc_test_slurp(xp, &tl);
    CHECK(mp && text);
    hc_error err;
    hc_tkz *a = NULL, *b = NULL;
    CHECK(hc_tkz_is_spm(mp, ml));
    CHECK(hc_tkz_from_spm(mp, ml, "tok512.model", &a, E(&err)) == HC_OK);
    CHECK(hc_tkz_open(tp, &b, E(&err)) == HC_OK);
    /* also through hc_tkz_open on a file (by name and by content) */
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.model", hc_test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(mp, 1, ml, f) == ml);
    if (f) fclose(f);
    hc_tkz *c = NULL;
    CHECK(hc_tkz_open(path, &c, E(&err)) == HC_OK);
    CHECK(hc_tkz_file_is_spm(path));
    CHECK(!hc_tkz_file_is_spm(tp));
    size_t lines = 0, ids_n = 0, bad = 0;
    for (size_t at = 0; a && b && c && text && at < tl;) {
        const char *nl = memchr(text + at, '\n', tl - at);
        size_t e = nl ? (size_t)(nl - text) + 1 : tl;
        int *x = NULL, *y = NULL, *z = NULL;
        size_t nx = 0, ny = 0, nz = 0;
        CHECK(hc_tkz_encode(a, text + at, e - at, HC_TKZ_SPECIALS, &x, &nx, E(&err)) == HC_OK);
        CHECK(hc_tkz_encode(b, text + at, e - at, HC_TKZ_SPECIALS, &y, &ny, E(&err)) == HC_OK);
        CHECK(hc_tkz_encode(c, text + at, e - at, HC_TKZ_SPECIALS, &z, &nz, E(&err)) == HC_OK);
        if (nx != ny || nx != nz || memcmp(x, y, nx * sizeof *x) || memcmp(x, z, nx * sizeof *x)) bad++;
        CHECK(nx > 0 && x && x[0] == 1);
        ids_n += nx;
        lines++;
        free(x);
        free(y);
        free(z);
        at = e;
    }
    printf("    tok512 as tokenizer.model: %zu lines, %zu ids, %zu lines differ\n", lines, ids_n, bad);
    CHECK(lines > 1000 && bad == 0);
    hc_tkz_free(a);
    hc_tkz_free(b);
    hc_tkz_free(c);
    free(mp);
    free(text);
}

/* (b) the GGUF llama vocabulary as a ModelProto; llama.cpp's vectors */
TEST(tokenizer_spm_gguf_llama_vectors) {
    const char *gp = hc_test_shared("data/gguf/ggml-vocab-llama-spm.gguf");
    if (!gp) return;
    hc_error err;
    hc_gguf *g = NULL;
    CHECK(hc_gguf_open(gp, &g, E(&err)) == HC_OK);
    if (!g) return;
    uint32_t et;
    uint64_t n = 0;
    CHECK(hc_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &n) && n > 1000);
    wbuf m = {0};
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t l;
        double sc = 0;
        int64_t ty = 1;
        CHECK(hc_gguf_array_str(g, "tokenizer.ggml.tokens", i, &s, &l));
        CHECK(hc_gguf_array_float(g, "tokenizer.ggml.scores", i, &sc));
        CHECK(hc_gguf_array_int(g, "tokenizer.ggml.token_type", i, &ty));
        w_piece(&m, s, l, (float)sc, (int)ty);
    }
    hc_gguf_close(g);
    w_specs(&m, 2, "identity", 0);
    hc_tkz *t = NULL, *r = NULL;
    CHECK(hc_tkz_from_spm(m.p, m.n, "llama-spm.model", &t, E(&err)) == HC_OK);
    CHECK(hc_tkz_open(gp, &r, E(&err)) == HC_OK);
    char ip[1024], op[1024];
    snprintf(ip, sizeof ip, "%s.inp", gp);
    snprintf(op, sizeof op, "%s.out", gp);
    size_t il, ol;
    char *in = (char *)hc_test_slurp(ip, &il), *out = (char *)hc_test_slurp(op, &ol);
    CHECK(in && out && t && r);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t a = 0, o = 0, cases = 0, bad = 0, compared = 0;
    while (in && out && t && r && a < il) {
        const char *e = strstr(in + a, sep);
        size_t b = e ? (size_t)(e - in) : il;
        int *ids = NULL, *gids = NULL;
        size_t k = 0, nn = 0, gn = 0;
        CHECK(hc_tkz_encode(t, in + a, b - a, 0, &ids, &nn, E(&err)) == HC_OK);
        CHECK(hc_tkz_encode(r, in + a, b - a, 0, &gids, &gn, E(&err)) == HC_OK);
        int ok = nn == gn && !memcmp(ids, gids, nn * sizeof *ids);
        while (o < ol && out[o] != '\n') {
            char *end;
            long v = strtol(out + o, &end, 10);
            if (end == out + o) {
                o++;
                continue;
            }
            if (k >= nn || ids[k] != v) ok = 0;
            k++;
            o = (size_t)(end - out);
        }
        o++;
        if (k != nn) ok = 0;
        compared += k;
        bad += !ok;
        cases++;
        free(ids);
        free(gids);
        if (!e) break;
        a = b + strlen(sep);
    }
    printf("    llama-spm as tokenizer.model: %zu cases, %zu ids, %zu differ\n", cases, compared, bad);
    CHECK(cases > 30 && bad == 0);
    hc_tkz_free(t);
    hc_tkz_free(r);
    free(in);
    free(out);
    free(m.p);
}

static uint8_t *small_model(size_t *len, int model_type, const char *norm, int remove_ws) {
    wbuf m = {0};
    w_piece(&m, "<unk>", 5, 0, 2);
    w_piece(&m, "<s>", 3, 0, 3);
    w_piece(&m, "</s>", 4, 0, 3);
    for (int i = 0; i < 256; i++) {
        char b[8];
        snprintf(b, sizeof b, "<0x%02X>", i);
        w_piece(&m, b, 6, 0, 6);
    }
    static const char *const p[] = {"\xE2\x96\x81", "h", "e", "l", "o", "w", "r", "d", "\xE2\x96\x81h", "he",
                                    "ll", "\xE2\x96\x81he", "llo", "\xE2\x96\x81hello", "wo", "\xE2\x96\x81w"};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) w_piece(&m, p[i], strlen(p[i]), -(float)i, 1);
    w_piece(&m, "<tag>", 5, 0, 4);
    w_specs(&m, model_type, norm, remove_ws);
    *len = m.n;
    return m.p;
}

static void use(const hc_tkz *t) {
    hc_error err;
    int *ids = NULL;
    size_t n = 0;
    static const char txt[] = "hello world <tag> \xC3\xA9\n";
    CHECK(hc_tkz_encode(t, txt, sizeof txt - 1, HC_TKZ_SPECIALS, &ids, &n, E(&err)) == HC_OK);
    char *back = NULL;
    size_t bl;
    CHECK(hc_tkz_decode(t, ids, n, 0, &back, &bl, E(&err)) == HC_OK);
    free(back);
    free(ids);
}

TEST(tokenizer_spm_small_and_refusals) {
    size_t len;
    uint8_t *m = small_model(&len, 2, "identity", 0);
    hc_error err;
    hc_tkz *t = NULL;
    CHECK(hc_tkz_from_spm(m, len, "small", &t, E(&err)) == HC_OK);
    if (t) {
        int *ids = NULL;
        size_t n = 0;
        CHECK(hc_tkz_encode(t, "hello <tag>\xC3\xA9", 13, HC_TKZ_SPECIALS, &ids, &n, E(&err)) == HC_OK);
        /* BOS, ▁hello, ▁, <tag> (user-defined), ▁ (the core's prefix after a special, as llama.cpp), <0xC3>, <0xA9> */
        CHECK(n == 7 && ids[0] == 1 && ids[1] == 259 + 13 && ids[2] == 259 && ids[3] == 275 && ids[4] == 259 &&
              ids[5] == 3 + 0xC3 && ids[6] == 3 + 0xA9);
        free(ids);
        use(t);
        hc_tkz_free(t);
    }
    free(m);
    struct {
        int mt;
        const char *norm;
        int rws;
        const char *want;
    } bad[] = {{1, "identity", 0, "UNIGRAM"}, {3, "identity", 0, "WORD"},  {4, "identity", 0, "CHAR"},
               {2, "nmt_nfkc", 0, "nmt_nfkc"}, {2, "nfkc_cf", 0, "nfkc_cf"}, {2, "identity", 1, "remove_extra_whitespaces"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = small_model(&len, bad[i].mt, bad[i].norm, bad[i].rws);
        CHECK(hc_tkz_from_spm(m, len, "small", &t, E(&err)) == HC_E_UNSUPPORTED && !t);
        CHECK(strstr(err.msg, bad[i].want) != NULL);
        free(m);
    }
    /* hostile: a piece of length 2^62, an 11-byte varint, a group, field 0 */
    static const uint8_t h1[] = {0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 'a'};
    static const uint8_t h2[] = {0x0A, 0x03, 0x0A, 0x01, 'a', 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    static const uint8_t h3[] = {0x0A, 0x03, 0x0A, 0x01, 'a', 0x0B, 0x0C};
    static const uint8_t h4[] = {0x0A, 0x03, 0x0A, 0x01, 'a', 0x00};
    static const uint8_t h5[] = {0x0A, 0x07, 0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04};
    const uint8_t *hs[] = {h1, h2, h3, h4, h5};
    size_t hl[] = {sizeof h1, sizeof h2, sizeof h3, sizeof h4, sizeof h5};
    for (int i = 0; i < 5; i++) {
        CHECK(hc_tkz_from_spm(hs[i], hl[i], "hostile", &t, E(&err)) != HC_OK && !t && err.msg[0]);
        CHECK(!hc_tkz_is_spm(hs[i], hl[i]));
    }
    CHECK(hc_tkz_from_spm("", 0, "empty", &t, E(&err)) == HC_E_FORMAT && strstr(err.msg, "no pieces"));
}

TEST(tokenizer_spm_corrupt) {
    size_t len;
    uint8_t *m = small_model(&len, 2, "identity", 0);
    hc_error err;
    size_t refused = 0, built = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, m, cut);
        hc_tkz *t = NULL;
        if (hc_tkz_from_spm(c, cut, "cut", &t, E(&err)) == HC_OK) {
            use(t);
            hc_tkz_free(t);
            built++;
        } else {
            CHECK(!t && err.msg[0]);
            refused++;
        }
        free(c);
    }
    uint64_t rng = 12345;
    for (int k = 0; k < 3000; k++) {
        uint8_t *c = malloc(len);
        memcpy(c, m, len);
        int flips = 1 + k % 4;
        for (int j = 0; j < flips; j++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            c[(rng >> 33) % len] ^= (uint8_t)(1u << ((rng >> 20) & 7));
        }
        hc_tkz *t = NULL;
        if (hc_tkz_from_spm(c, len, "flip", &t, E(&err)) == HC_OK) {
            use(t);
            hc_tkz_free(t);
            built++;
        } else {
            CHECK(!t && err.msg[0]);
            refused++;
        }
        free(c);
    }
    printf("    corrupt small tokenizer.model: %zu refused, %zu built\n", refused, built);
    CHECK(refused > 0 && built > 0);
    free(m);
}

/* runs `hyperc ARGS` (stdout) into out; the exit status */
static int run_cli(const char *args, char *out, size_t cap) { return hc_test_run_capture(args, 0, out, cap); }

/* a .hyc carrying tokenizer.model (compress --tokenizer) runs on its own:
 * tokenize / perplexity / generate equal what tok512.bin gives */
TEST(tokenizer_spm_hyc_cli) {
    const char *tp = hc_test_shared("models/tok512.bin"), *mp = hc_test_shared("models/stories260K.safetensors");
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!tp || !mp || !xp) return;
    if (!getenv("HYPERC_BIN")) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    size_t ml, tl;
    uint8_t *m = model_from_l2c(tp, &ml);
    uint8_t *text = hc_test_slurp(xp, &tl);
    CHECK(m && text);
    if (!m || !text) return;
    char dir[1024], mod[1100], hyc[1100], txt[1100], args[8192];
    snprintf(dir, sizeof dir, "%s/spmcli", hc_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(mod, sizeof mod, "%s/tokenizer.model", dir);
    snprintf(hyc, sizeof hyc, "%s/s.hyc", dir);
    snprintf(txt, sizeof txt, "%s/x.txt", dir);
    FILE *f = fopen(mod, "wb");
    CHECK(f && fwrite(m, 1, ml, f) == ml);
    if (f) fclose(f);
    f = fopen(txt, "wb");
    CHECK(f && fwrite(text, 1, tl < 3000 ? tl : 3000, f) > 0);
    if (f) fclose(f);
    static char a[65536], b[65536];
    snprintf(args, sizeof args, "compress '%s' -o '%s' --tokenizer '%s'", mp, hyc, mod);
    CHECK(run_cli(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --ids --tokenizer '%s' --text '%s'", hyc, txt);
    CHECK(run_cli(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "tokenize --ids --tokenizer '%s' --text '%s'", tp, txt);
    CHECK(run_cli(args, b, sizeof b) == 0);
    CHECK(strlen(a) > 100 && !strcmp(a, b));
    snprintf(args, sizeof args, "perplexity '%s' --text '%s' | grep '^perplexity'", hyc, txt);
    CHECK(run_cli(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' | grep '^perplexity'", hyc, tp, txt);
    CHECK(run_cli(args, b, sizeof b) == 0);
    CHECK(strlen(a) > 10 && !strcmp(a, b));
    snprintf(args, sizeof args, "generate '%s' --temp 0 -n 40 --prompt 'Once upon a time' | head -1", hyc);
    CHECK(run_cli(args, a, sizeof a) == 0);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 40 --prompt 'Once upon a time' | head -1", hyc, tp);
    CHECK(run_cli(args, b, sizeof b) == 0);
    CHECK(strlen(a) > 20 && !strcmp(a, b));
    printf("    .hyc with tokenizer.model: tokenize/perplexity/generate equal tok512.bin's\n");
    free(m);
    free(text);
}
