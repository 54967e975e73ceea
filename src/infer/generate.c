/* generate.c — sampling (greedy, temperature, nucleus) and the generation
 * loop, which counts positions and stops the way llama2.c's run.c does. */
#include "infer.h"
#include <math.h>
#include <stdlib.h>

/* ---- sampler ----------------------------------------------------------------- */
typedef struct prob_index {
    float prob;
    int index;
} prob_index;

struct hc_llm_sampler {
    int vocab_size;
    float temperature;
    float topp;
    uint64_t rng;        /* xorshift64* state, never 0                    */
    prob_index *cands;   /* (vocab_size) scratch for nucleus sampling     */
};

hc_status hc_llm_sampler_new(int vocab_size, const hc_llm_sampling *p, hc_llm_sampler **out, hc_error *err) {
    *out = NULL;
    if (vocab_size <= 0) return hc_fail(err, HC_E_ARG, "sampler: vocabulary size %d", vocab_size);
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return hc_fail(err, HC_E_ARG, "sampler: temperature %g must be >= 0", p->temperature);
    if (!(p->topp >= 0) || p->topp > 1)
        return hc_fail(err, HC_E_ARG, "sampler: top-p %g must be in [0, 1]", p->topp);
    hc_llm_sampler *s = calloc(1, sizeof *s);
    if (s) s->cands = malloc((size_t)vocab_size * sizeof *s->cands);
    if (!s || !s->cands) {
        if (s) free(s);
        return hc_fail(err, HC_E_NOMEM, "sampler: out of memory");
    }
    s->vocab_size = vocab_size;
    s->temperature = p->temperature;
    s->topp = p->topp;
    s->rng = p->seed ^ 0x2545F4914F6CDD1Dull;
    if (s->rng == 0) s->rng = 1;
    *out = s;
    return HC_OK;
}

void hc_llm_sampler_free(hc_llm_sampler *s) {
    if (!s) return;
    free(s->cands);
    free(s);
}

static float random_unit(hc_llm_sampler *s) { /* [0, 1) */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (float)((s->rng * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static int by_prob_desc(const void *a, const void *b) {
    float pa = ((const prob_index *)a)->prob, pb = ((const prob_index *)b)->prob;
    return pa > pb ? -1 : pa < pb ? 1 : 0;
}

int hc_llm_sample(hc_llm_sampler *s, float *logits) {
    const int n = s->vocab_size;
    if (s->temperature == 0) return argmax(logits, n);
    /* softmax of logits / temperature */
    float max_val = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > max_val) max_val = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        logits[i] = expf((logits[i] - max_val) / s->temperature);
        sum += logits[i];
    }
    for (int i = 0; i < n; i++) logits[i] = (float)(logits[i] / sum);
    float coin = random_unit(s);
    if (s->topp <= 0 || s->topp >= 1) {
        float cdf = 0;
        for (int i = 0; i < n; i++) {
            cdf += logits[i];
            if (coin < cdf) return i;
        }
        return n - 1; /* rounding */
    }
    /* nucleus: the most probable tokens whose mass first exceeds topp; tokens
     * below (1 - topp) / (n - 1) can never be in it, so they are not sorted */
    float cutoff = (1.0f - s->topp) / (float)(n > 1 ? n - 1 : 1);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] >= cutoff) s->cands[m++] = (prob_index){logits[i], i};
    if (m == 0) return argmax(logits, n);
    qsort(s->cands, (size_t)m, sizeof *s->cands, by_prob_desc);
    float mass = 0;
    int last = m - 1;
    for (int i = 0; i < m; i++) {
        mass += s->cands[i].prob;
        if (mass > s->topp) {
            last = i;
            break;
        }
    }
    float r = coin * mass, cdf = 0;
    for (int i = 0; i <= last; i++) {
        cdf += s->cands[i].prob;
        if (r < cdf) return s->cands[i].index;
    }
    return s->cands[last].index;
}

/* ---- generation -------------------------------------------------------------------- */
hc_status hc_llm_generate(hc_llm_state *s, const int *prompt, int n_prompt, int steps, const hc_llm_sampling *p,
                          hc_llm_token_fn on_token, void *user, hc_llm_gen_stats *stats, hc_error *err) {
    hc_llm_gen_stats st = {0};
    if (stats) *stats = st;
    if (n_prompt < 1) return hc_fail(err, HC_E_ARG, "the prompt needs at least one token (BOS)");
    const hc_llm_model *m = hc_llm_state_model(s);
    const int vocab = m->cfg.vocab_size;
    int ctx = hc_llm_state_ctx(s);
    if (steps > ctx) steps = ctx;
    if (steps < 1) return HC_OK;
    int np = n_prompt < steps ? n_prompt : steps;
    hc_llm_sampler *smp;
    hc_status rc = hc_llm_sampler_new(vocab, p, &smp, err);
    if (rc) return rc;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    if (!logits) {
        hc_llm_sampler_free(smp);
        return hc_fail(err, HC_E_NOMEM, "out of memory");
    }

    /* the prompt in one batch, its tokens reported as llama2.c prints them */
    double t0 = hc_now();
    rc = hc_llm_forward(s, prompt, np, 0, logits, 0, err);
    int stop = 0;
    for (int i = 1; i < np && !rc && !stop; i++) stop = on_token && on_token(user, prompt[i - 1], prompt[i]);
    st.prompt_tokens = np;
    double t1 = hc_now();
    st.prompt_seconds = t1 - t0;

    /* then one token at a time: positions np .. steps-1 */
    int token = prompt[np - 1], pos = np - 1;
    while (!rc && !stop) {
        /* a prompt longer than the batch run above is forced, not sampled */
        int next = pos + 1 < n_prompt ? prompt[pos + 1] : hc_llm_sample(smp, logits);
        pos++;
        if (next == HC_TOK_BOS) break; /* BOS delimits sequences */
        st.generated++;
        if (on_token && on_token(user, token, next)) break;
        token = next;
        if (pos >= steps) break;
        rc = hc_llm_forward(s, &token, 1, pos, logits, 0, err);
    }
    st.gen_seconds = hc_now() - t1;
    if (stats) *stats = st;
    free(logits);
    hc_llm_sampler_free(smp);
    return rc;
}
