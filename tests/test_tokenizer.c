/* test_tokenizer.c — the llama2.c tokenizer: the heap-based encoder against a
 * direct transcription of llama2.c's quadratic merge loop on real text,
 * round trips (ASCII, UTF-8, byte fallback), and malformed tokenizer files. */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/infer/infer.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Clears an error before a call, so its code is the call's own. */
static hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}
/* ===================================================================== */
/* Tokenizer                                                              */
/* ===================================================================== */

/* llama2.c's encoder transcribed directly (sorted vocabulary + bsearch,
 * rescanning every pair after each merge), to check the heap version. */
typedef struct naive_vocab {
    int n;
    char **str;    /* (n) NUL-terminated pieces */
    float *score;  /* (n) */
    int *sorted;   /* (n) ids sorted by piece */
} naive_vocab;

static naive_vocab *nv_cmp_ctx;
static int nv_cmp(const void *a, const void *b) {
    return strcmp(nv_cmp_ctx->str[*(const int *)a], nv_cmp_ctx->str[*(const int *)b]);
}

static int naive_load(naive_vocab *v, const uint8_t *p, size_t len, int n) {
    v->n = n;
    v->str = calloc((size_t)n, sizeof *v->str);
    v->score = calloc((size_t)n, sizeof *v->score);
    v->sorted = calloc((size_t)n, sizeof *v->sorted);
    size_t pos = 4;
    for (int i = 0; i < n; i++) {
        if (pos + 8 > len) return 0;
        v->score[i] = hc_get_f32(p + pos);
        uint32_t l = hc_get_u32(p + pos + 4);
        v->str[i] = calloc(l + 1, 1);
        memcpy(v->str[i], p + pos + 8, l);
        pos += 8 + l;
        v->sorted[i] = i;
    }
    nv_cmp_ctx = v;
    qsort(v->sorted, (size_t)n, sizeof *v->sorted, nv_cmp);
    return 1;
}

static void naive_free(naive_vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->str[i]);
    free(v->str);
    free(v->score);
    free(v->sorted);
}

static int naive_lookup(const naive_vocab *v, const char *s) {
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s, v->str[v->sorted[mid]]);
        if (c == 0) return v->sorted[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

/* text is NUL-terminated; out has room for strlen + 3 */
static int naive_encode(const naive_vocab *v, const char *text, int *out) {
    int n = 0;
    char buf[64];
    out[n++] = 1;
    if (text[0]) out[n++] = naive_lookup(v, " ");
    size_t bl = 0;
    for (const char *c = text; *c; c++) {
        if ((*c & 0xC0) != 0x80) bl = 0;
        buf[bl++] = *c;
        buf[bl] = 0;
        if ((*(c + 1) & 0xC0) == 0x80 && bl < 4) continue;
        int id = naive_lookup(v, buf);
        if (id != -1) out[n++] = id;
        else
            for (size_t i = 0; i < bl; i++) out[n++] = (unsigned char)buf[i] + 3;
        bl = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_i = -1;
        for (int i = 0; i + 1 < n; i++) {
            char cat[128];
            snprintf(cat, sizeof cat, "%s%s", v->str[out[i]], v->str[out[i + 1]]);
            int id = naive_lookup(v, cat);
            if (id != -1 && v->score[id] > best) {
                best = v->score[id];
                best_id = id;
                best_i = i;
            }
        }
        if (best_i < 0) break;
        out[best_i] = best_id;
        for (int i = best_i + 1; i + 1 < n; i++) out[i] = out[i + 1];
        n--;
    }
    return n;
}

TEST(infer_tokenizer_matches_llama2c_merge_loop) {
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!xp) return;
    hc_error err;
    hc_tokenizer *t;
    hc_map tm, text;
    CHECK_OK(hc_tok_open(tp, 512, &t, E(&err)), &err);
    CHECK_OK(hc_map_file(tp, &tm, E(&err)), &err);
    CHECK_OK(hc_map_file(xp, &text, E(&err)), &err);
    naive_vocab v;
    CHECK(naive_load(&v, tm.ptr, (size_t)tm.len, 512));
    /* paragraphs of the real text, then random strings mixing ASCII,
     * multi-byte UTF-8 and stray bytes (ties and fallbacks) */
    hc_rng rng = {99};
    const char *alpha[] = {"a", "b", " ", "e", "th", "\n", "\xc3\xa9", "\xe2\x80\x94", "\x01", "\xff", ".", "T", "\xf0\x9f\x99\x82"};
    int mismatches = 0;
    for (int round = 0; round < 60; round++) {
        char s[700];
        size_t len = 0;
        if (round < 40) {
            size_t at = (size_t)(hc_rng_next(&rng) % (text.len - 600));
            len = 100 + (size_t)(hc_rng_next(&rng) % 400);
            memcpy(s, text.ptr + at, len);
            for (size_t i = 0; i < len; i++)
                if (s[i] == 0) s[i] = ' ';
        } else {
            while (len < 200) {
                const char *a = alpha[hc_rng_next(&rng) % (sizeof alpha / sizeof alpha[0])];
                memcpy(s + len, a, strlen(a));
                len += strlen(a);
            }
        }
        s[len] = 0;
        int *mine, ref[710];
        size_t n;
        CHECK_OK(hc_tok_encode(t, s, len, 1, 0, &mine, &n, E(&err)), &err);
        int rn = naive_encode(&v, s, ref);
        if ((size_t)rn != n || memcmp(mine, ref, n * sizeof *ref) != 0) mismatches++;
        free(mine);
    }
    CHECKF(mismatches == 0, "%d of 60 texts encode differently from llama2.c's loop", mismatches);
    naive_free(&v);
    hc_unmap(&tm);
    hc_unmap(&text);
    hc_tok_free(t);
}

TEST(infer_tokenizer_roundtrip) {
    const char *paths[] = {hc_test_shared("models/tok512.bin"), hc_test_shared("models/tokenizer.bin")};
    if (!paths[0] || !paths[1]) return;
    const char *texts[] = {
        "Once upon a time, there was a little girl named Lily.\nShe loved to play.",
        "  leading and trailing spaces  ",
        "UTF-8: h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x99\x82!",
        "bytes \x01\x02\x7f and invalid \xff\xfe\xc3 \x80\x80 tail\xe2\x80",
        "\t\n\n",
    };
    hc_error err;
    for (int k = 0; k < 2; k++) {
        hc_tokenizer *t;
        CHECK_OK(hc_tok_open(paths[k], 0, &t, E(&err)), &err);
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            int *tok;
            size_t n;
            char *back;
            size_t bl;
            CHECK_OK(hc_tok_encode(t, texts[i], strlen(texts[i]), 1, 1, &tok, &n, E(&err)), &err);
            CHECK(n >= 3 && tok[0] == HC_TOK_BOS && tok[n - 1] == HC_TOK_EOS);
            for (size_t q = 0; q < n; q++) CHECK(tok[q] >= 0 && tok[q] < hc_tok_vocab_size(t));
            /* the dummy prefix: the first piece starts with a space */
            size_t pl;
            const char *first = hc_tok_piece(t, -1, tok[1], &pl);
            CHECK(pl >= 1 && first[0] == ' ');
            CHECK_OK(hc_tok_decode(t, tok, n, &back, &bl, E(&err)), &err);
            CHECKF(bl == strlen(texts[i]) && memcmp(back, texts[i], bl) == 0, "round trip of text %zu with %s: '%s'", i,
                   paths[k], back);
            free(back);
            free(tok);
        }
        /* empty text: BOS only; no BOS asked: nothing */
        int *tok;
        size_t n;
        CHECK_OK(hc_tok_encode(t, "", 0, 1, 0, &tok, &n, E(&err)), &err);
        CHECK(n == 1 && tok[0] == HC_TOK_BOS);
        free(tok);
        CHECK_OK(hc_tok_encode(t, "", 0, 0, 0, &tok, &n, E(&err)), &err);
        CHECK(n == 0);
        free(tok);
        /* byte fallback: 0x01 is token 4 in both vocabularies */
        CHECK_OK(hc_tok_encode(t, "\x01", 1, 0, 0, &tok, &n, E(&err)), &err);
        CHECK(n == 2 && tok[1] == 4);
        size_t pl;
        const char *p = hc_tok_piece(t, 3, 4, &pl);
        CHECK(pl == 1 && p[0] == 1);
        free(tok);
        p = hc_tok_piece(t, 0, 1 << 20, &pl);
        CHECK(pl == 0);
        hc_tok_free(t);
    }
}

TEST(infer_tokenizer_bad_files) {
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    hc_error err;
    hc_map m;
    hc_tokenizer *t = NULL;
    CHECK_OK(hc_map_file(tp, &m, E(&err)), &err);
    size_t len = (size_t)m.len;
    uint8_t *b = malloc(len + 16);
    memcpy(b, m.ptr, len);
    CHECK_OK(hc_tok_open_mem(b, len, 512, "tok", &t, E(&err)), &err);
    hc_tok_free(t);
    t = NULL;
    /* every truncation point is refused */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97)) {
        hc_status s = hc_tok_open_mem(b, cut, 512, "tok", &t, E(&err));
        CHECKF(s != HC_OK && t == NULL, "cut at %zu accepted", cut);
    }
    /* more tokens than the model's vocabulary, trailing bytes */
    CHECK(hc_tok_open_mem(b, len, 511, "tok", &t, E(&err)) == HC_E_CORRUPT);
    memcpy(b + len, "abcdefgh", 8);
    CHECK(hc_tok_open_mem(b, len + 8, 512, "tok", &t, E(&err)) == HC_E_CORRUPT);
    /* a length beyond max_token_length, a negative one, a bad header */
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    hc_put_u32(c + 4 + 4, 8);
    CHECK(hc_tok_open_mem(c, len, 512, "tok", &t, E(&err)) == HC_E_CORRUPT);
    hc_put_u32(c + 4 + 4, (uint32_t)-5);
    CHECK(hc_tok_open_mem(c, len, 512, "tok", &t, E(&err)) == HC_E_CORRUPT);
    memcpy(c, b, len);
    hc_put_u32(c, 0);
    CHECK(hc_tok_open_mem(c, len, 512, "tok", &t, E(&err)) == HC_E_FORMAT);
    memcpy(c, b, len);
    hc_put_f32(c + 4, NAN);
    CHECK(hc_tok_open_mem(c, len, 512, "tok", &t, E(&err)) == HC_E_CORRUPT);
    /* random bytes never crash */
    hc_rng rng = {5};
    for (int round = 0; round < 200; round++) {
        memcpy(c, b, len);
        for (int k = 0; k < 4; k++) c[hc_rng_next(&rng) % len] = (uint8_t)hc_rng_next(&rng);
        if (hc_tok_open_mem(c, len, 0, "tok", &t, E(&err)) == HC_OK) {
            int *tok;
            size_t n;
            if (hc_tok_encode(t, "Hello world", 11, 1, 0, &tok, &n, E(&err)) == HC_OK) free(tok);
            hc_tok_free(t);
        }
    }
    free(c);
    free(b);
    hc_unmap(&m);
}
