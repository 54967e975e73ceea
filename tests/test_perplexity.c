/* test_perplexity.c — perplexity against an independent implementation of the
 * protocol, and its stability. Split from test_infer.c. */
#include "test_llm.h"

/* ===================================================================== */
/* Perplexity                                                             */
/* ===================================================================== */

TEST(infer_perplexity_reference) {
    const char *mp = hc_test_shared("models/stories260K.bin");
    if (!mp) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!xp) return;
    hc_error err;
    hc_llm_model *m;
    hc_tokenizer *t;
    hc_map text;
    CHECK_OK(hc_llm_open(mp, NULL, &m, E(&err)), &err);
    CHECK_OK(hc_tok_open(tp, 512, &t, E(&err)), &err);
    CHECK_OK(hc_map_file(xp, &text, E(&err)), &err);
    hc_llm_ppl_result r;
    /* under sanitizers only a few windows are scored; the counts still
     * cover the whole text */
    long windows = SANITIZED ? 4 : 0;
    CHECK_OK(hc_llm_perplexity(m, t, (const char *)text.ptr, (size_t)text.len, 256, windows, 2, &r, E(&err)), &err);
    /* counts and perplexity of an independent implementation of the protocol */
    CHECKF(r.documents == 4302, "documents %llu", (unsigned long long)r.documents);
    CHECKF(r.tokens == 384954, "tokens %llu", (unsigned long long)r.tokens);
    CHECK(r.ctx == 256);
    if (!SANITIZED) {
        CHECKF(r.windows == 1503, "windows %llu", (unsigned long long)r.windows);
        CHECK(r.scored == 1503ull * 255);
        CHECKF(fabs(r.perplexity / 5.3755 - 1) < 1e-3, "perplexity %.5f, reference 5.3755", r.perplexity);
    } else {
        CHECK(r.windows == 4 && isfinite(r.perplexity) && r.perplexity > 1);
    }
    hc_unmap(&text);
    hc_tok_free(t);
    hc_llm_free(m);
}

TEST(infer_perplexity_stable) {
    const char *mp = hc_test_shared("models/stories260K.safetensors");
    if (!mp) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!xp) return;
    hc_error err;
    hc_llm_model *m;
    hc_tokenizer *t;
    hc_map text;
    CHECK_OK(hc_llm_open(mp, NULL, &m, E(&err)), &err);
    CHECK_OK(hc_tok_open(tp, 512, &t, E(&err)), &err);
    CHECK_OK(hc_map_file(xp, &text, E(&err)), &err);
    size_t slice = text.len < 30000 ? (size_t)text.len : 30000;
    hc_llm_ppl_result a, b, c, d, e;
    const char *s = (const char *)text.ptr;
    CHECK_OK(hc_llm_perplexity(m, t, s, slice, 128, 0, 1, &a, E(&err)), &err);
    CHECK_OK(hc_llm_perplexity(m, t, s, slice, 128, 0, 1, &b, E(&err)), &err);
    CHECK_OK(hc_llm_perplexity(m, t, s, slice, 128, 0, 2, &c, E(&err)), &err);
    CHECK(a.windows > 4 && a.windows == a.tokens / 128 && a.scored == a.windows * 127);
    CHECK(isfinite(a.perplexity) && a.perplexity > 1 && a.perplexity < 512);
    CHECK(a.perplexity == b.perplexity && a.nll_sum == b.nll_sum);     /* two runs equal */
    CHECKF(fabs(a.perplexity / c.perplexity - 1) < 1e-5, "1 thread %.9f, 2 threads %.9f", a.perplexity, c.perplexity);
    /* one window: the threads share the products instead of the windows */
    CHECK_OK(hc_llm_perplexity(m, t, s, slice, 128, 1, 1, &d, E(&err)), &err);
    CHECK_OK(hc_llm_perplexity(m, t, s, slice, 128, 1, 2, &e, E(&err)), &err);
    CHECK(d.windows == 1 && e.windows == 1);
    CHECKF(fabs(d.perplexity / e.perplexity - 1) < 1e-5, "%.9f vs %.9f", d.perplexity, e.perplexity);
    /* documents split at blank lines, whitespace-only lines included */
    const char *docs = "  Once upon a time.\n \t \nThere was a dog.\nIt ran.\n\n\n\nThe end.  \n";
    CHECK_OK(hc_llm_perplexity(m, t, docs, strlen(docs), 2, 0, 1, &d, E(&err)), &err);
    CHECK(d.documents == 3);
    /* too short for a window, context longer than the model's */
    CHECK(hc_llm_perplexity(m, t, "Hi.", 3, 128, 0, 1, &d, E(&err)) == HC_E_ARG);
    CHECK(hc_llm_perplexity(m, t, s, slice, 513, 0, 1, &d, E(&err)) == HC_E_ARG);
    hc_unmap(&text);
    hc_tok_free(t);
    hc_llm_free(m);
}
