/* perplexity.c — the perplexity protocol of docs/PERPLEXITY.md: documents
 * at blank lines, each encoded as BOS + " " + BPE, concatenated, cut into
 * non-overlapping windows of ctx tokens (partial last window dropped), every
 * token after the first of a window scored from a fresh cache. */
#include "infer.h"
#include <math.h>
#include <stdlib.h>

/* ---- documents --------------------------------------------------------------- */
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* Encodes every document of text and appends its tokens to *toks. */
static hc_status encode_documents(hc_llm_encode_fn encode, void *user, const char *text, size_t len, int **toks,
                                  size_t *n_toks, uint64_t *n_docs, hc_error *err) {
    size_t cap = 0, n = 0;
    int *all = NULL;
    uint64_t docs = 0;
    size_t i = 0, doc_start = 0, doc_end = 0; /* doc_end 0: no document open */
    int in_doc = 0;
    hc_status s = HC_OK;
    while (s == HC_OK) {
        /* one line: [i, eol) */
        size_t eol = i;
        while (eol < len && text[eol] != '\n') eol++;
        int blank = 1;
        for (size_t k = i; k < eol; k++)
            if (!is_space(text[k])) blank = 0;
        if (!blank) {
            if (!in_doc) doc_start = i;
            in_doc = 1;
            doc_end = eol;
        }
        int at_end = eol >= len;
        if ((blank || at_end) && in_doc) {
            /* the document spans its lines; strip surrounding whitespace */
            size_t a = doc_start, b = doc_end;
            while (a < b && is_space(text[a])) a++;
            while (b > a && is_space(text[b - 1])) b--;
            int *dt;
            size_t dn;
            s = encode(user, text + a, b - a, &dt, &dn, err);
            if (s) break;
            if (n + dn > cap) {
                size_t ncap = cap ? cap * 2 : 4096;
                while (ncap < n + dn) ncap *= 2;
                int *na = realloc(all, ncap * sizeof *na);
                if (!na) {
                    free(dt);
                    s = hc_fail(err, HC_E_NOMEM, "out of memory for %zu tokens", ncap);
                    break;
                }
                all = na;
                cap = ncap;
            }
            memcpy(all + n, dt, dn * sizeof *dt);
            n += dn;
            free(dt);
            docs++;
            in_doc = 0;
        }
        if (at_end) break;
        i = eol + 1;
    }
    if (s) {
        free(all);
        return s;
    }
    *toks = all;
    *n_toks = n;
    *n_docs = docs;
    return HC_OK;
}

/* ---- scoring ------------------------------------------------------------------- */
typedef struct ppl_job {
    const hc_llm_model *m;
    const int *tokens;     /* all tokens; window w starts at w * ctx         */
    int ctx, batch;
    hc_llm_state **states; /* (n_states) one per thread                      */
    float **logits;        /* (n_states) (batch, vocab) each                  */
    double *nll;           /* (windows) sum of -ln p per window              */
} ppl_job;

/* -ln softmax(row)[target], the sum of exponentials taken in double. */
static double token_nll(const float *row, int vocab, int target) {
    float max_val = row[0];
    for (int i = 1; i < vocab; i++)
        if (row[i] > max_val) max_val = row[i];
    double sum = 0;
    for (int i = 0; i < vocab; i++) sum += exp((double)(row[i] - max_val));
    return log(sum) - (double)(row[target] - max_val);
}

static void score_window(void *ctx, uint64_t w, int tid) {
    const ppl_job *j = ctx;
    hc_llm_state *s = j->states[tid];
    float *logits = j->logits[tid];
    const int vocab = j->m->cfg.vocab_size;
    const int *win = j->tokens + w * (uint64_t)j->ctx;
    double nll = 0;
    /* positions 0..ctx-2 predict tokens 1..ctx-1 */
    for (int p = 0; p < j->ctx - 1; p += j->batch) {
        int k = j->ctx - 1 - p < j->batch ? j->ctx - 1 - p : j->batch;
        /* cannot fail: tokens and positions were checked by the caller */
        hc_llm_forward(s, win + p, k, p, logits, 1, NULL);
        for (int i = 0; i < k; i++) nll += token_nll(logits + (size_t)i * vocab, vocab, win[p + i + 1]);
    }
    j->nll[w] = nll;
}

/* the llama2.c tokenizer: BOS + " " + BPE */
static hc_status encode_llama2c(void *user, const char *text, size_t len, int **tokens, size_t *n, hc_error *err) {
    return hc_tok_encode((const hc_tokenizer *)user, text, len, 1, 0, tokens, n, err);
}

hc_status hc_llm_perplexity(const hc_llm_model *m, const hc_tokenizer *t, const char *text, size_t len, int ctx,
                            long max_windows, int threads, hc_llm_ppl_result *r, hc_error *err) {
    memset(r, 0, sizeof *r);
    if (hc_tok_vocab_size(t) != m->cfg.vocab_size)
        return hc_fail(err, HC_E_ARG, "the tokenizer has %d tokens, the model %d", hc_tok_vocab_size(t),
                       m->cfg.vocab_size);
    return hc_llm_perplexity_fn(m, encode_llama2c, (void *)t, text, len, ctx, max_windows, threads, r, err);
}

hc_status hc_llm_perplexity_fn(const hc_llm_model *m, hc_llm_encode_fn encode, void *user, const char *text,
                               size_t len, int ctx, long max_windows, int threads, hc_llm_ppl_result *r,
                               hc_error *err) {
    memset(r, 0, sizeof *r);
    const hc_llm_config *c = &m->cfg;
    if (ctx <= 0) ctx = c->seq_len;
    if (ctx < 2 || ctx > c->seq_len)
        return hc_fail(err, HC_E_ARG, "context %d is not in 2..%d (the model's seq_len)", ctx, c->seq_len);
    if (threads <= 0) threads = hc_cpu_count();

    int *tokens;
    size_t n_tokens;
    uint64_t docs;
    hc_status s = encode_documents(encode, user, text, len, &tokens, &n_tokens, &docs, err);
    if (s) return s;
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size) {
            int bad = tokens[i];
            free(tokens);
            return hc_fail(err, HC_E_ARG, "perplexity: token id %d is outside the model's vocabulary of %d", bad,
                           c->vocab_size);
        }
    uint64_t windows = n_tokens / (size_t)ctx;
    if (max_windows > 0 && windows > (uint64_t)max_windows) windows = (uint64_t)max_windows;
    r->documents = docs;
    r->tokens = n_tokens;
    r->ctx = ctx;
    if (windows == 0) {
        free(tokens);
        return hc_fail(err, HC_E_ARG, "the text gives %zu tokens, less than one window of %d", n_tokens, ctx);
    }

    /* many windows: one per thread at a time, each with its own cache and no
     * synchronisation; few windows: one at a time, threads share the products */
    int n_states = (uint64_t)threads <= windows ? threads : 1;
    int state_threads = n_states > 1 ? 1 : threads;
    int batch = (int)(((size_t)8 << 20) / (size_t)c->vocab_size);
    batch = batch < 16 ? 16 : batch > 256 ? 256 : batch;
    if (batch > ctx - 1) batch = ctx - 1;
    ppl_job j = {m, tokens, ctx, batch, NULL, NULL, NULL};
    j.states = calloc((size_t)n_states, sizeof *j.states);
    j.logits = calloc((size_t)n_states, sizeof *j.logits);
    j.nll = calloc(windows, sizeof *j.nll);
    hc_pool *pool = NULL;
    if (!j.states || !j.logits || !j.nll) s = hc_fail(err, HC_E_NOMEM, "out of memory");
    for (int i = 0; i < n_states && !s; i++) {
        s = hc_llm_state_new(m, ctx, batch, state_threads, &j.states[i], err);
        if (!s && !(j.logits[i] = malloc((size_t)batch * (size_t)c->vocab_size * sizeof(float))))
            s = hc_fail(err, HC_E_NOMEM, "out of memory for logits");
    }
    if (!s && n_states > 1) s = hc_pool_new(n_states, &pool, err);
    if (!s) {
        double t0 = hc_now();
        hc_pool_run(pool, windows, score_window, &j);
        r->seconds = hc_now() - t0;
        double total = 0;
        for (uint64_t w = 0; w < windows; w++) total += j.nll[w]; /* in window order */
        r->windows = windows;
        r->scored = windows * (uint64_t)(ctx - 1);
        r->nll_sum = total;
        r->perplexity = exp(total / (double)r->scored);
    }
    hc_pool_free(pool);
    for (int i = 0; i < n_states; i++) {
        if (j.states) hc_llm_state_free(j.states[i]);
        if (j.logits) free(j.logits[i]);
    }
    free(j.states);
    free(j.logits);
    free(j.nll);
    free(tokens);
    return s;
}
