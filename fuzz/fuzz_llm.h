/* fuzz_llm.h — shared by the model harnesses: runs a bound model through the
 * threaded forward pass (a batch that takes the tiled, threaded products,
 * then a short batch that takes the threaded row products) and checks that
 * it neither crashes nor fails without a message. */
#ifndef HC_FUZZ_LLM_H
#define HC_FUZZ_LLM_H
#include "hyperc_llm.h"
#include <stdlib.h>
#include <string.h>

/* Small enough to run many times a second, large enough that the products
 * are split over threads (work >= 65536 multiply-adds per product). */
static int fuzz_llm_small_enough(const hc_llm_config *c) {
    return c->dim <= 256 && c->hidden_dim <= 1024 && c->n_layers <= 4 && c->vocab_size <= 1024;
}

static void fuzz_llm_run(const hc_llm_model *m, const uint8_t *seed, size_t seed_len) {
    const hc_llm_config *c = hc_llm_config_of(m);
    hc_error err;
    hc_error_clear(&err);
    hc_llm_state *s = NULL;
    if (hc_llm_state_new(m, 16, 8, 3, &s, &err) != HC_OK) {
        if (s || !err.msg[0]) abort();
        return;
    }
    int tok[11];
    for (int i = 0; i < 11; i++)
        tok[i] = (int)((seed_len ? seed[(i * 131) % seed_len] : 0) + 7u * (unsigned)i) % c->vocab_size;
    tok[0] = c->vocab_size > 1 ? 1 : 0;
    float *logits = malloc((size_t)c->vocab_size * 8 * sizeof *logits);
    if (!logits) abort();
    int ctx = hc_llm_state_ctx(s);
    int n1 = ctx < 8 ? ctx : 8;
    hc_error_clear(&err);
    if (hc_llm_forward(s, tok, n1, 0, logits, 1, &err) != HC_OK && !err.msg[0]) abort();
    int n2 = ctx - n1 < 3 ? ctx - n1 : 3;
    hc_error_clear(&err);
    if (n2 > 0 && hc_llm_forward(s, tok + 8, n2, n1, logits, 0, &err) != HC_OK && !err.msg[0]) abort();
    /* a position past the context must be refused */
    hc_error_clear(&err);
    if (hc_llm_forward(s, tok, 1, ctx, logits, 0, &err) == HC_OK || !err.msg[0]) abort();
    free(logits);
    hc_llm_state_free(s);
}
#endif
