/* test_generate.c — llama generation against the reference llama2.c: the
 * golden greedy text and reproducible sampling. Split from test_infer.c. */
#include "test_llm.h"

/* ===================================================================== */
/* Generation against the reference llama2.c                              */
/* ===================================================================== */

typedef struct text_buf {
    const hc_tokenizer *t;
    char *s;
    size_t n, cap;
} text_buf;

static void buf_append(text_buf *b, const char *p, size_t len) {
    if (b->n + len + 1 > b->cap) {
        b->cap = (b->n + len + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    memcpy(b->s + b->n, p, len);
    b->n += len;
    b->s[b->n] = 0;
}

/* Appends pieces as llama2.c prints them (lone unprintable bytes skipped). */
static int append_piece(void *user, int prev, int token) {
    text_buf *b = user;
    size_t len;
    const char *p = hc_tok_piece(b->t, prev, token, &len);
    if (len == 1 && !((p[0] >= 32 && p[0] < 127) || p[0] == '\n' || p[0] == '\t' || p[0] == ' ' ||
                      p[0] == '\r' || p[0] == '\v' || p[0] == '\f'))
        return 0;
    buf_append(b, p, len);
    return 0;
}

TEST(infer_golden_greedy_text) {
    const char *mp = hc_test_shared("models/stories260K.bin");
    if (!mp) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    const char *gp = hc_test_shared("models/stories260K_greedy_golden.txt");
    if (!gp) return;
    hc_error err;
    hc_llm_model *m;
    hc_tokenizer *t;
    hc_llm_state *s;
    hc_map golden;
    CHECK_OK(hc_llm_open(mp, NULL, &m, E(&err)), &err);
    CHECK(strcmp(hc_llm_format_of(m), "llama2.c") == 0);
    CHECK(hc_llm_naming_of(m) == HC_LLM_NAMES_META);
    CHECK_OK(hc_tok_open(tp, 512, &t, E(&err)), &err);
    CHECK_OK(hc_llm_state_new(m, 0, 0, 2, &s, E(&err)), &err);
    int *prompt;
    size_t np;
    CHECK_OK(hc_tok_encode(t, "", 0, 1, 0, &prompt, &np, E(&err)), &err);
    CHECK(np == 1 && prompt[0] == HC_TOK_BOS);
    text_buf b = {t, NULL, 0, 0};
    hc_llm_sampling greedy = {0, 0.9f, 42};
    hc_llm_gen_stats st;
    CHECK_OK(hc_llm_generate(s, prompt, (int)np, 200, &greedy, append_piece, &b, &st, E(&err)), &err);
    CHECK(st.generated == 200);
    buf_append(&b, "\n", 1); /* llama2.c ends with a newline */
    CHECK_OK(hc_map_file(gp, &golden, E(&err)), &err);
    CHECKF(golden.len == b.n && memcmp(golden.ptr, b.s, b.n) == 0, "generated text differs from the golden file:\n%.*s",
           (int)b.n, b.s);
    hc_unmap(&golden);
    free(b.s);
    free(prompt);
    hc_llm_state_free(s);
    hc_tok_free(t);
    hc_llm_free(m);
}

TEST(infer_sampling_reproducible) {
    const char *mp = hc_test_shared("models/stories260K.bin");
    if (!mp) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    hc_error err;
    hc_llm_model *m;
    hc_tokenizer *t;
    CHECK_OK(hc_llm_open(mp, NULL, &m, E(&err)), &err);
    CHECK_OK(hc_tok_open(tp, 512, &t, E(&err)), &err);
    int *prompt;
    size_t np;
    CHECK_OK(hc_tok_encode(t, "Once upon a time", 16, 1, 0, &prompt, &np, E(&err)), &err);
    char *texts[2];
    for (int run = 0; run < 2; run++) {
        hc_llm_state *s;
        CHECK_OK(hc_llm_state_new(m, 0, 0, 1, &s, E(&err)), &err);
        text_buf b = {t, NULL, 0, 0};
        hc_llm_sampling sp = {1.0f, 0.9f, 1234};
        hc_llm_gen_stats st;
        CHECK_OK(hc_llm_generate(s, prompt, (int)np, 80, &sp, append_piece, &b, &st, E(&err)), &err);
        CHECK(st.prompt_tokens == (int)np && st.generated > 0 && st.generated <= 80 - (int)np + 1);
        buf_append(&b, "", 0);
        texts[run] = b.s;
        hc_llm_state_free(s);
    }
    CHECK(strncmp(texts[0], "Once upon a time", 16) == 0); /* the prompt is echoed */
    CHECK(strcmp(texts[0], texts[1]) == 0);                 /* same seed, same text */
    free(texts[0]);
    free(texts[1]);
    free(prompt);
    /* bad sampling parameters are refused */
    hc_llm_sampler *smp;
    hc_llm_sampling bad = {-1, 0.9f, 1};
    CHECK(hc_llm_sampler_new(512, &bad, &smp, E(&err)) == HC_E_ARG);
    hc_tok_free(t);
    hc_llm_free(m);
}
