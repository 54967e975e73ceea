/* test_llm_source.c — a llama model built from tensors made in memory (the
 * bench's path). Split from test_infer.c. */
#include "test_llm.h"

/* ===================================================================== */
/* A model built from tensors made in memory (the bench's path)           */
/* ===================================================================== */

typedef struct mem_source {
    size_t n;
    hc_tensor_info infos[64];
    float *data[64];
} mem_source;

static const hc_tensor_info *mem_info(void *u, size_t i) { return &((mem_source *)u)->infos[i]; }
static hc_status mem_open(void *u, size_t i, hc_decoder **out, hc_error *err) {
    mem_source *s = u;
    return hc_decoder_open(HC_CODEC_RAW, NULL, 0, (const uint8_t *)s->data[i], s->infos[i].nbytes, s->infos[i].nelem,
                           HC_F32, out, err);
}

static void mem_add(mem_source *s, hc_rng *rng, const char *name, uint64_t d0, uint64_t d1, int is_norm) {
    hc_tensor_info *ti = &s->infos[s->n];
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", name);
    ti->dtype = HC_F32;
    ti->ndim = d1 ? 2 : 1;
    ti->shape[0] = d0;
    ti->shape[1] = d1;
    ti->nelem = d1 ? d0 * d1 : d0;
    ti->nbytes = ti->nelem * 4;
    float *p = malloc(ti->nbytes);
    for (uint64_t k = 0; k < ti->nelem; k++) p[k] = is_norm ? 1.0f + 0.1f * (float)hc_rng_normal(rng) : 0.08f * (float)hc_rng_normal(rng);
    s->data[s->n++] = p;
}

TEST(infer_source_in_memory) {
    /* dim 48 (6 heads of 8, 2 kv heads), hidden 100, 2 layers, vocab 300,
     * separate classifier, HF names */
    mem_source ms;
    ms.n = 0;
    hc_rng rng = {7};
    char nm[128];
    mem_add(&ms, &rng, "model.embed_tokens.weight", 300, 48, 0);
    mem_add(&ms, &rng, "model.norm.weight", 48, 0, 1);
    mem_add(&ms, &rng, "lm_head.weight", 300, 48, 0);
    for (int l = 0; l < 2; l++) {
        static const char *const parts[] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                            "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj",
                                            "mlp.down_proj", "mlp.up_proj"};
        const uint64_t rows[] = {48, 48, 16, 16, 48, 48, 100, 48, 100}, cols[] = {0, 48, 48, 48, 48, 0, 48, 100, 48};
        for (int p = 0; p < 9; p++) {
            snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, parts[p]);
            mem_add(&ms, &rng, nm, rows[p], cols[p], cols[p] == 0);
        }
    }
    hc_llm_config cfg = {48, 100, 2, 6, 2, 300, 64, 1e-5f, 10000.0f, -1};
    hc_llm_source src = {&ms, ms.n, mem_info, mem_open, NULL, NULL, 0};
    hc_error err;
    hc_llm_model *m;
    CHECK_OK(hc_llm_open_source(&src, &cfg, "synthetic", &m, E(&err)), &err);
    CHECK(hc_llm_config_of(m)->shared_classifier == 0);
    int toks[40];
    for (int i = 0; i < 40; i++) toks[i] = (int)(hc_rng_next(&rng) % 300);
    float *a = run_logits(m, toks, 40, 0, 1), *b = run_logits(m, toks, 40, 1, 1), *c = run_logits(m, toks, 40, 0, 2);
    CHECK(a && b && c);
    CHECKF(rel_diff(a, b, 40, 300) < 1e-5, "batch vs one-by-one %g", rel_diff(a, b, 40, 300));
    CHECK(memcmp(a, c, 40 * 300 * sizeof(float)) == 0);
    int finite = 1;
    for (int i = 0; i < 40 * 300; i++) finite &= isfinite(a[i]) != 0;
    CHECK(finite);
    free(a);
    free(b);
    free(c);
    /* the forward pass refuses what does not fit */
    hc_llm_state *s;
    CHECK_OK(hc_llm_state_new(m, 16, 0, 1, &s, E(&err)), &err);
    int bad = 300;
    CHECK(hc_llm_forward(s, &bad, 1, 0, NULL, 0, E(&err)) == HC_E_ARG);
    CHECK(hc_llm_forward(s, toks, 17, 0, NULL, 0, E(&err)) == HC_E_ARG);
    CHECK(hc_llm_forward(s, toks, 1, 16, NULL, 0, E(&err)) == HC_E_ARG);
    hc_llm_state_free(s);
    CHECK(hc_llm_state_new(m, 65, 0, 1, &s, E(&err)) == HC_E_ARG);
    hc_llm_free(m);

    /* tied classifier stated, but lm_head present: refused */
    cfg.shared_classifier = 1;
    CHECK(hc_llm_open_source(&src, &cfg, "synthetic", &m, E(&err)) == HC_E_FORMAT);
    CHECK(strstr(err.msg, "lm_head.weight") != NULL);
    /* a missing tensor is named */
    cfg.shared_classifier = -1;
    src.n_tensors = ms.n - 1; /* drops model.layers.1.mlp.up_proj.weight */
    CHECK(hc_llm_open_source(&src, &cfg, "synthetic", &m, E(&err)) == HC_E_FORMAT);
    CHECKF(strstr(err.msg, "missing tensor 'model.layers.1.mlp.up_proj.weight'") != NULL, "%s", err.msg);
    /* fewer layers than the tensors hold: the leftovers are refused */
    src.n_tensors = ms.n;
    cfg.n_layers = 1;
    CHECK(hc_llm_open_source(&src, &cfg, "synthetic", &m, E(&err)) == HC_E_FORMAT);
    CHECKF(strstr(err.msg, "unexpected tensor 'model.layers.1.") != NULL, "%s", err.msg);
    /* a Meta name among HF names */
    cfg.n_layers = 2;
    snprintf(ms.infos[1].name, HC_MAX_NAME, "norm.weight");
    CHECK(hc_llm_open_source(&src, &cfg, "synthetic", &m, E(&err)) == HC_E_FORMAT);
    CHECKF(strstr(err.msg, "mixes") != NULL, "%s", err.msg);
    for (size_t i = 0; i < ms.n; i++) free(ms.data[i]);
}
