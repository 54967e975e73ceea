/* test_infer.c — llama inference: the golden greedy text of the reference
 * llama2.c, equal logits across file formats and naming conventions,
 * perplexity against an independent implementation of the protocol, bad
 * checkpoints, and SIMD kernels against references (the tokenizer's own
 * tests are in test_tokenizer.c). */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/infer/infer.h"
#include "../src/codec/codec.h"
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

/* Clears an error before a call, so its code is the call's own. */
static hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}

/* A fresh subdirectory of the test tmpdir. */
static const char *subdir(const char *name) {
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ & 7];
    snprintf(p, 512, "%s/infer_%s", hc_test_tmpdir(), name);
    mkdir(p, 0755);
    return p;
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Logits (n, vocab) for tokens at positions 0..n-1: one batch, or one token
 * at a time (the generation path). */
static float *run_logits(const hc_llm_model *m, const int *tokens, int n, int one_by_one, int threads) {
    int vocab = hc_llm_config_of(m)->vocab_size;
    hc_error err;
    hc_llm_state *s;
    if (hc_llm_state_new(m, n, 0, threads, &s, E(&err)) != HC_OK) return NULL;
    float *out = malloc((size_t)n * vocab * sizeof *out);
    int ok = out != NULL;
    if (ok && one_by_one) {
        for (int i = 0; i < n && ok; i++)
            ok = hc_llm_forward(s, tokens + i, 1, i, out + (size_t)i * vocab, 0, E(&err)) == HC_OK;
    } else if (ok) {
        ok = hc_llm_forward(s, tokens, n, 0, out, 1, E(&err)) == HC_OK;
    }
    hc_llm_state_free(s);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* Largest |a - b| relative to the largest |a| of the same row. */
static double rel_diff(const float *a, const float *b, int n, int vocab) {
    double worst = 0;
    for (int t = 0; t < n; t++) {
        double mx = 1e-30, d = 0;
        for (int i = 0; i < vocab; i++) {
            const float x = a[(size_t)t * vocab + i], y = b[(size_t)t * vocab + i];
            if (fabs(x) > mx) mx = fabs(x);
            if (fabs((double)x - y) > d || x != x || y != y) d = (x != x || y != y) ? INFINITY : fabs((double)x - y);
        }
        if (d / mx > worst) worst = d / mx;
    }
    return worst;
}

static const int probe_tokens[] = {1, 403, 407, 261, 378, 430, 300, 267, 318, 269, 395, 350,
                                   400, 280, 290, 260, 511, 3, 258, 500, 420, 333, 444, 275};
#define N_PROBE ((int)(sizeof probe_tokens / sizeof probe_tokens[0]))

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

/* ===================================================================== */
/* The same weights in every format give the same logits                   */
/* ===================================================================== */

/* Writes stories260K in Hugging Face naming, q/k rows permuted as the HF
 * conversion does (within a head, HF row p*hs/2 + j is Meta row 2j + p),
 * plus a config.json, into dir. */
static hc_status write_hf_copy(const hc_safetensors *st, const char *dir, hc_error *err) {
    const int dim = 64, heads = 8, kv_heads = 4, hs = dim / heads, layers = 5;
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n, sizeof *infos);
    if (!infos) return HC_E_NOMEM;
    static const char *const from[] = {"attention_norm", "attention.wq", "attention.wk", "attention.wv",
                                       "attention.wo",   "ffn_norm",     "feed_forward.w1",
                                       "feed_forward.w2", "feed_forward.w3"};
    static const char *const to[] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj",
                                     "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
                                     "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"};
    for (size_t i = 0; i < n; i++) {
        infos[i] = *hc_st_info(st, i);
        const char *nm = infos[i].name;
        int l;
        char part[64];
        if (strcmp(nm, "tok_embeddings.weight") == 0) snprintf(infos[i].name, HC_MAX_NAME, "model.embed_tokens.weight");
        else if (strcmp(nm, "norm.weight") == 0) snprintf(infos[i].name, HC_MAX_NAME, "model.norm.weight");
        else if (sscanf(nm, "layers.%d.%63[a-z_.0-9]", &l, part) == 2) {
            size_t pl = strlen(part);
            if (pl > 7) part[pl - 7] = 0; /* drop ".weight" */
            for (int k = 0; k < 9; k++)
                if (strcmp(part, from[k]) == 0) snprintf(infos[i].name, HC_MAX_NAME, "model.layers.%d.%s.weight", l, to[k]);
        }
    }
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *config =
        "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
        "  \"hidden_size\": 64, \"intermediate_size\": 172, \"num_hidden_layers\": 5,\n"
        "  \"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"vocab_size\": 512,\n"
        "  \"max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,\n"
        "  \"rope_scaling\": null, \"hidden_act\": \"silu\", \"tie_word_embeddings\": true,\n"
        "  \"torch_dtype\": \"float32\", \"quantization_config\": {\"nested\": [1, 2, {\"x\": null}]}\n}\n";
    if (!write_bytes(path, config, strlen(config))) {
        free(infos);
        return hc_fail(err, HC_E_IO, "cannot write %s", path);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    hc_st_writer *w;
    hc_status s = hc_st_writer_open(path, infos, n, NULL, 0, 1, &w, err);
    float *buf = malloc(64 * 64 * sizeof *buf);
    for (size_t i = 0; i < n && !s; i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        const float *src = hc_st_data(st, i);
        int is_q = strstr(ti->name, "attention.wq") != NULL, is_k = strstr(ti->name, "attention.wk") != NULL;
        if (!is_q && !is_k) {
            s = hc_st_writer_put(w, i, src, err);
            continue;
        }
        int nh = is_q ? heads : kv_heads;
        for (int h = 0; h < nh; h++)
            for (int p = 0; p < 2; p++)
                for (int j = 0; j < hs / 2; j++)
                    memcpy(buf + (size_t)(h * hs + p * hs / 2 + j) * dim, src + (size_t)(h * hs + 2 * j + p) * dim,
                           dim * sizeof *buf);
        s = hc_st_writer_put(w, i, buf, err);
    }
    (void)layers;
    free(buf);
    if (s) hc_st_writer_abort(w);
    else s = hc_st_writer_finish(w, err);
    free(infos);
    return s;
}

/* Writes every tensor of st losslessly (RAW codec) into a .hyc file. */
static hc_status write_raw_hyc(const hc_safetensors *st, const char *path, hc_error *err) {
    hc_hyc_writer *w;
    hc_status s = hc_hyc_writer_open(path, 1, &w, err);
    if (s) return s;
    for (size_t i = 0; i < hc_st_count(st) && !s; i++) {
        hc_hyc_entry e;
        memset(&e, 0, sizeof e);
        e.info = *hc_st_info(st, i);
        e.codec = HC_CODEC_RAW;
        s = hc_hyc_writer_add(w, &e, hc_st_data(st, i), e.info.nbytes, err);
    }
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    size_t ml;
    const char *meta = hc_st_metadata(st, &ml);
    return hc_hyc_writer_finish(w, meta, meta ? ml : 0, err);
}

TEST(infer_formats_give_same_logits) {
    const char *bin = hc_test_shared("models/stories260K.bin");
    if (!bin) return;
    const char *stp = hc_test_shared("models/stories260K.safetensors");
    if (!stp) return;
    hc_error err;
    hc_llm_model *m;
    const int vocab = 512;
    CHECK_OK(hc_llm_open(bin, NULL, &m, E(&err)), &err);
    float *ref = run_logits(m, probe_tokens, N_PROBE, 0, 1);
    float *seq = run_logits(m, probe_tokens, N_PROBE, 1, 1);
    float *thr = run_logits(m, probe_tokens, N_PROBE, 0, 2);
    CHECK(ref && seq && thr);
    CHECKF(rel_diff(ref, seq, N_PROBE, vocab) < 1e-5, "batch vs one-by-one: %g", rel_diff(ref, seq, N_PROBE, vocab));
    CHECK(memcmp(ref, thr, (size_t)N_PROBE * vocab * sizeof(float)) == 0); /* threads change nothing */
    free(seq);
    free(thr);
    hc_llm_free(m);

    /* safetensors, Meta naming, hyperparameters from its metadata */
    CHECK_OK(hc_llm_open(stp, NULL, &m, E(&err)), &err);
    CHECK(strcmp(hc_llm_format_of(m), "safetensors") == 0 && hc_llm_naming_of(m) == HC_LLM_NAMES_META);
    CHECK(hc_llm_config_of(m)->shared_classifier == 1 && hc_llm_config_of(m)->n_kv_heads == 4);
    float *l = run_logits(m, probe_tokens, N_PROBE, 0, 1);
    CHECK(l);
    CHECKF(rel_diff(ref, l, N_PROBE, vocab) < 1e-5, "safetensors (Meta): %g", rel_diff(ref, l, N_PROBE, vocab));
    free(l);
    hc_llm_free(m);

    hc_safetensors *st;
    CHECK_OK(hc_st_open(stp, &st, E(&err)), &err);

    /* safetensors, Hugging Face naming with permuted q/k, config.json */
    const char *hf = subdir("hf");
    char path[600];
    CHECK_OK(write_hf_copy(st, hf, E(&err)), &err);
    snprintf(path, sizeof path, "%s/model.safetensors", hf);
    CHECK_OK(hc_llm_open(path, NULL, &m, E(&err)), &err);
    CHECK(hc_llm_naming_of(m) == HC_LLM_NAMES_HF);
    l = run_logits(m, probe_tokens, N_PROBE, 0, 1);
    CHECK(l);
    CHECKF(rel_diff(ref, l, N_PROBE, vocab) < 1e-5, "safetensors (HF): %g", rel_diff(ref, l, N_PROBE, vocab));
    free(l);
    l = run_logits(m, probe_tokens, N_PROBE, 1, 1);
    CHECK(l);
    CHECKF(rel_diff(ref, l, N_PROBE, vocab) < 1e-5, "safetensors (HF), one by one: %g", rel_diff(ref, l, N_PROBE, vocab));
    free(l);
    hc_llm_free(m);

    /* .hyc holding the same tensors losslessly */
    snprintf(path, sizeof path, "%s/model.hyc", subdir("hyc"));
    CHECK_OK(write_raw_hyc(st, path, E(&err)), &err);
    CHECK_OK(hc_llm_open(path, NULL, &m, E(&err)), &err);
    CHECK(strcmp(hc_llm_format_of(m), "hyc") == 0);
    l = run_logits(m, probe_tokens, N_PROBE, 0, 1);
    CHECK(l);
    CHECKF(rel_diff(ref, l, N_PROBE, vocab) < 1e-5, ".hyc: %g", rel_diff(ref, l, N_PROBE, vocab));
    free(l);
    hc_llm_free(m);

    /* a tensor source over the open handle (not owned) */
    hc_llm_source src;
    hc_llm_source_st(st, 0, &src);
    CHECK_OK(hc_llm_open_source(&src, NULL, "stories260K", &m, E(&err)), &err);
    CHECK(strcmp(hc_llm_format_of(m), "source") == 0);
    CHECK(hc_llm_param_count(m) == 260032);
    l = run_logits(m, probe_tokens, N_PROBE, 0, 1);
    CHECK(l);
    CHECKF(rel_diff(ref, l, N_PROBE, vocab) < 1e-5, "source: %g", rel_diff(ref, l, N_PROBE, vocab));
    free(l);
    hc_llm_free(m);
    hc_st_close(st);
    free(ref);
}

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

/* ===================================================================== */
/* Bad checkpoints                                                        */
/* ===================================================================== */

TEST(infer_bad_checkpoints) {
    const char *bin = hc_test_shared("models/stories260K.bin");
    if (!bin) return;
    const char *stp = hc_test_shared("models/stories260K.safetensors");
    if (!stp) return;
    const char *big_tok = hc_test_shared("models/tokenizer.bin");
    if (!big_tok) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    hc_error err;
    hc_llm_model *m = NULL;
    hc_map map;
    CHECK_OK(hc_map_file(bin, &map, E(&err)), &err);
    const char *dir = subdir("bad");
    char path[600];
    snprintf(path, sizeof path, "%s/cut.bin", dir);

    /* truncated */
    CHECK(write_bytes(path, map.ptr, (size_t)map.len - 100));
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_CORRUPT && m == NULL);
    CHECKF(strstr(err.msg, "bytes") && strstr(err.msg, "cut.bin"), "%s", err.msg);
    /* without the RoPE tables it is still complete */
    CHECK(write_bytes(path, map.ptr, (size_t)map.len - 16384));
    CHECK_OK(hc_llm_open(path, NULL, &m, E(&err)), &err);
    hc_llm_free(m);
    /* dims that do not match the size */
    uint8_t *copy = malloc((size_t)map.len);
    memcpy(copy, map.ptr, (size_t)map.len);
    hc_put_u32(copy + 8, 6); /* n_layers 6 */
    CHECK(write_bytes(path, copy, (size_t)map.len));
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_CORRUPT);
    CHECKF(strstr(err.msg, "n_layers 6") != NULL, "%s", err.msg);
    hc_put_u32(copy + 8, 5);
    hc_put_u32(copy + 20, (uint32_t)-512); /* claims a separate classifier */
    CHECK(write_bytes(path, copy, (size_t)map.len));
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_CORRUPT);
    hc_put_u32(copy + 20, 512);
    hc_put_u32(copy + 12, 7); /* 7 heads do not divide 64 */
    CHECK(write_bytes(path, copy, (size_t)map.len));
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_FORMAT);
    /* not a model at all */
    memset(copy, 0xff, 64);
    CHECK(write_bytes(path, copy, 64));
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_FORMAT);
    CHECK(write_bytes(path, copy, 3));
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_FORMAT);
    free(copy);
    hc_unmap(&map);
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_IO);

    /* tokenizer of another vocabulary */
    hc_tokenizer *t;
    CHECK(hc_tok_open(big_tok, 512, &t, E(&err)) == HC_E_CORRUPT);
    CHECK_OK(hc_tok_open(big_tok, 0, &t, E(&err)), &err);
    CHECK(hc_tok_vocab_size(t) == 32000);
    CHECK_OK(hc_llm_open(bin, NULL, &m, E(&err)), &err);
    hc_llm_ppl_result r;
    CHECK(hc_llm_perplexity(m, t, "Once upon a time.", 17, 4, 0, 1, &r, E(&err)) == HC_E_ARG);
    CHECKF(strstr(err.msg, "32000") != NULL, "%s", err.msg);
    hc_tok_free(t);
    hc_llm_free(m);

    /* safetensors: a missing tensor, a wrong shape (config says 8 kv heads) */
    hc_safetensors *st;
    CHECK_OK(hc_st_open(stp, &st, E(&err)), &err);
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n, sizeof *infos);
    size_t k = 0;
    long skip = hc_st_find(st, "layers.2.attention.wk.weight");
    CHECK(skip >= 0);
    for (size_t i = 0; i < n; i++)
        if ((long)i != skip) infos[k++] = *hc_st_info(st, i);
    size_t ml;
    const char *meta = hc_st_metadata(st, &ml);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    hc_st_writer *w;
    CHECK_OK(hc_st_writer_open(path, infos, k, meta, ml, 1, &w, E(&err)), &err);
    k = 0;
    for (size_t i = 0; i < n; i++)
        if ((long)i != skip) CHECK_OK(hc_st_writer_put(w, k++, hc_st_data(st, i), E(&err)), &err);
    CHECK_OK(hc_st_writer_finish(w, E(&err)), &err);
    CHECK(hc_llm_open(path, NULL, &m, E(&err)) == HC_E_FORMAT);
    CHECKF(strstr(err.msg, "missing tensor 'layers.2.attention.wk.weight'") != NULL, "%s", err.msg);
    free(infos);

    const char *cdir = subdir("badcfg");
    snprintf(path, sizeof path, "%s/config.json", cdir);
    const char *cfg8 = "{\"hidden_size\": 64, \"intermediate_size\": 172, \"num_hidden_layers\": 5, "
                       "\"num_attention_heads\": 8, \"num_key_value_heads\": 8, \"vocab_size\": 512, "
                       "\"max_position_embeddings\": 512}";
    CHECK(write_bytes(path, cfg8, strlen(cfg8)));
    CHECK(hc_llm_open(stp, path, &m, E(&err)) == HC_E_FORMAT);
    CHECKF(strstr(err.msg, "'layers.0.attention.wk.weight' has shape [32, 64]") != NULL, "%s", err.msg);
    /* unsupported variants are refused by name */
    const char *scaled = "{\"hidden_size\": 64, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}";
    CHECK(write_bytes(path, scaled, strlen(scaled)));
    CHECK(hc_llm_open(stp, path, &m, E(&err)) == HC_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "rope_scaling") != NULL);
    const char *broken = "{\"hidden_size\": 64,";
    CHECK(write_bytes(path, broken, strlen(broken)));
    CHECK(hc_llm_open(stp, path, &m, E(&err)) == HC_E_FORMAT);
    hc_st_close(st);
}

TEST(infer_config_parse) {
    hc_llm_config c;
    hc_error err;
    const char *j = "{\"dim\": \"64\", \"hidden_dim\": \"172\", \"n_layers\": \"5\", \"n_heads\": \"8\", "
                    "\"n_kv_heads\": \"4\", \"vocab_size\": \"512\", \"seq_len\": \"512\", \"shared_classifier\": \"True\", "
                    "\"note\": \"x\"}";
    CHECK_OK(hc_llm_config_parse(j, strlen(j), "meta", &c, E(&err)), &err);
    CHECK(c.dim == 64 && c.hidden_dim == 172 && c.n_layers == 5 && c.n_heads == 8 && c.n_kv_heads == 4);
    CHECK(c.vocab_size == 512 && c.seq_len == 512 && c.shared_classifier == 1);
    CHECK(c.norm_eps == 1e-5f && c.rope_theta == 10000.0f);
    const char *hf = "{\"hidden_size\": 2048, \"num_attention_heads\": 32, \"head_dim\": 64, \"rope_theta\": 500000.0,"
                     " \"architectures\": [\"LlamaForCausalLM\"], \"rope_scaling\": null}";
    CHECK_OK(hc_llm_config_parse(hf, strlen(hf), "hf", &c, E(&err)), &err);
    CHECK(c.dim == 2048 && c.n_kv_heads == 32 && c.norm_eps == 1e-6f && c.rope_theta == 500000.0f);
    CHECK(c.shared_classifier == -1 && c.hidden_dim == 0);
    const char *conflict = "{\"hidden_size\": 64, \"dim\": 32}";
    CHECK(hc_llm_config_parse(conflict, strlen(conflict), "x", &c, E(&err)) == HC_E_FORMAT);
    const char *act = "{\"hidden_size\": 64, \"hidden_act\": \"gelu\"}";
    CHECK(hc_llm_config_parse(act, strlen(act), "x", &c, E(&err)) == HC_E_UNSUPPORTED);
    const char *frac = "{\"hidden_size\": 64.5}";
    CHECK(hc_llm_config_parse(frac, strlen(frac), "x", &c, E(&err)) == HC_E_FORMAT);
    const char *none = "{\"foo\": 1}";
    CHECK(hc_llm_config_parse(none, strlen(none), "x", &c, E(&err)) == HC_E_FORMAT);
    CHECK(hc_llm_config_parse("[1]", 3, "x", &c, E(&err)) == HC_E_FORMAT);
}

/* ===================================================================== */
/* SIMD kernels against their references                                   */
/* ===================================================================== */

TEST(infer_raw_matvec_variants) {
    hc_rng rng = {11};
    static const int cols_list[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 129};
    static const int rows_list[] = {1, 3, 4, 5, 7, 13};
    const hc_dtype dts[] = {HC_F32, HC_F16, HC_BF16};
    const char *variants[] = {"avx2", "avx512"};
    int compared = 0;
    for (int di = 0; di < 3; di++)
        for (size_t ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++)
            for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++) {
                const int rows = rows_list[ri], cols = cols_list[ci], es = (int)hc_dtype_size(dts[di]);
                size_t nb = (size_t)rows * cols * es;
                uint8_t *raw = malloc(nb + 3);
                float *w = malloc((size_t)rows * cols * sizeof *w), *x = malloc((size_t)cols * sizeof *x);
                float yr[16], yv[16], yd[16];
                for (int i = 0; i < rows * cols; i++) w[i] = (float)hc_rng_normal(&rng);
                for (int i = 0; i < cols; i++) x[i] = (float)hc_rng_normal(&rng);
                uint8_t *data = raw + 1 + (ci & 1); /* unaligned on purpose */
                hc_from_f32(dts[di], w, data, (uint64_t)rows * cols);
                hc_raw_rows_ref(dts[di], data, (uint64_t)cols, 0, (uint64_t)rows, x, yr);
                /* the decoder's matvec against decode + dot */
                hc_decoder *d;
                hc_error err;
                CHECK_OK(hc_decoder_open(HC_CODEC_RAW, NULL, 0, data, nb, (uint64_t)rows * cols, dts[di], &d, E(&err)), &err);
                hc_matvec(d, (uint64_t)cols, 1, (uint64_t)rows, x, yd);
                hc_matvec_ref(d, (uint64_t)cols, 1, (uint64_t)rows, x, yv);
                for (int r = 1; r < rows; r++) CHECKF(fabsf(yd[r - 1] - yv[r - 1]) <= 1e-5f * (1 + fabsf(yv[r - 1])), "decoder %s %dx%d", hc_dtype_name(dts[di]), rows, cols);
                hc_decoder_free(d);
#if defined(__x86_64__) || defined(__i386__)
                for (int vi = 0; vi < 2; vi++) {
                    if (!hc_raw_rows_supported(variants[vi])) continue;
                    if (vi == 0) hc_raw_rows_avx2(dts[di], data, (uint64_t)cols, 0, (uint64_t)rows, x, yv);
                    else hc_raw_rows_avx512(dts[di], data, (uint64_t)cols, 0, (uint64_t)rows, x, yv);
                    for (int r = 0; r < rows; r++) {
                        double mag = 0;
                        for (int c2 = 0; c2 < cols; c2++) mag += fabs((double)w[r * cols + c2] * x[c2]);
                        CHECKF(fabs((double)yv[r] - yr[r]) <= 1e-5 * (mag + 1e-6), "%s %s %dx%d row %d: %g vs %g",
                               variants[vi], hc_dtype_name(dts[di]), rows, cols, r, yv[r], yr[r]);
                    }
                    compared++;
                }
#endif
                (void)variants;
                free(raw);
                free(w);
                free(x);
            }
#if defined(__x86_64__) || defined(__i386__)
    if (!hc_raw_rows_supported("avx2")) hc_test_skip("no AVX2 on this CPU");
#endif
    (void)compared;
}

TEST(infer_kernel_variants) {
    hc_kernels ref, simd;
    hc_kernels_ref(&ref);
    if (!hc_kernels_avx2(&simd)) {
        hc_test_skip("no AVX2 on this CPU");
        return;
    }
    hc_rng rng = {3};
    static const int dims[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 33, 64, 67};
    float *w = malloc(70 * 80 * sizeof *w), *x = malloc(9 * 80 * sizeof *x);
    float *y1 = malloc(9 * 70 * sizeof *y1), *y2 = malloc(9 * 70 * sizeof *y2);
    for (int i = 0; i < 70 * 80; i++) w[i] = (float)hc_rng_normal(&rng);
    for (int i = 0; i < 9 * 80; i++) x[i] = (float)hc_rng_normal(&rng);
    for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++)
        for (size_t b = 0; b < sizeof dims / sizeof dims[0]; b++)
            for (int n = 1; n <= 5; n += 2) {
                int rows = dims[a], cols = dims[b];
                /* strided operands, as attention uses them */
                ref.tile(w, 80, rows, cols, x, 80, n, y1, 70);
                simd.tile(w, 80, rows, cols, x, 80, n, y2, 70);
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < rows; i++) {
                        double mag = 0;
                        for (int c = 0; c < cols; c++) mag += fabs((double)w[i * 80 + c] * x[t * 80 + c]);
                        CHECKF(fabs((double)y1[t * 70 + i] - y2[t * 70 + i]) <= 1e-5 * (mag + 1e-6), "tile %dx%d n %d", rows, cols, n);
                    }
                ref.wsum(x, rows, w, 80, cols, y1);
                simd.wsum(x, rows, w, 80, cols, y2);
                for (int i = 0; i < cols; i++) {
                    double mag = 0;
                    for (int p = 0; p < rows; p++) mag += fabs((double)x[p] * w[p * 80 + i]);
                    CHECKF(fabs((double)y1[i] - y2[i]) <= 1e-5 * (mag + 1e-6), "wsum %dx%d", rows, cols);
                }
            }
    /* softmax and SwiGLU over the full range exp sees, odd lengths */
    for (int n = 1; n <= 67; n += 3) {
        for (int i = 0; i < n; i++) y1[i] = y2[i] = (float)(hc_rng_normal(&rng) * (n % 2 ? 30 : 3));
        if (n > 5) y1[3] = y2[3] = -1e30f; /* underflows to 0 */
        ref.softmax(y1, n, 2.8284271f);
        simd.softmax(y2, n, 2.8284271f);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            CHECKF(fabs((double)y1[i] - y2[i]) <= 2e-6 * (fabs(y1[i]) + 1e-30) + 1e-37, "softmax n %d: %g vs %g", n, y1[i], y2[i]);
            sum += y2[i];
        }
        CHECK(fabs(sum - 1) < 1e-5);
        for (int i = 0; i < n; i++) {
            y1[i] = y2[i] = (float)(hc_rng_normal(&rng) * 20);
            x[i] = (float)hc_rng_normal(&rng);
        }
        ref.swiglu(y1, x, (size_t)n);
        simd.swiglu(y2, x, (size_t)n);
        for (int i = 0; i < n; i++)
            CHECKF(fabs((double)y1[i] - y2[i]) <= 2e-6 * (fabs(y1[i]) + 1e-30) + 1e-30, "swiglu %g vs %g", y1[i], y2[i]);
    }
    free(w);
    free(x);
    free(y1);
    free(y2);
}

/* ===================================================================== */
/* The commands                                                           */
/* ===================================================================== */

/* Runs `$HYPERC_BIN args`, stdout and stderr to files; the exit code. */
static int run_cli(const char *args, const char *out, const char *errf) {
    size_t cap = strlen(args) + strlen(out) + strlen(errf) + strlen(getenv("HYPERC_BIN")) + 32;
    char *cmd = malloc(cap);
    if (!cmd) return -1;
    snprintf(cmd, cap, "'%s' %s > '%s' 2> '%s'", getenv("HYPERC_BIN"), args, out, errf);
    int s = system(cmd);
    free(cmd);
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

static int file_has(const char *path, const char *needle) {
    hc_map m;
    hc_error err;
    if (hc_map_file(path, &m, E(&err)) != HC_OK) return 0;
    int found = memmem(m.ptr, (size_t)m.len, needle, strlen(needle)) != NULL;
    hc_unmap(&m);
    return found;
}

TEST(infer_cli_generate_perplexity) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *mp = hc_test_shared("models/stories260K.bin");
    if (!mp) return;
    const char *tp = hc_test_shared("models/tok512.bin");
    if (!tp) return;
    const char *gp = hc_test_shared("models/stories260K_greedy_golden.txt");
    if (!gp) return;
    const char *xp = hc_test_shared("data/tinystories_val.txt");
    if (!xp) return;
    const char *big = hc_test_shared("models/tokenizer.bin");
    if (!big) return;
    const char *dir = subdir("cli");
    char out[600], errf[600], args[4096];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(errf, sizeof errf, "%s/err.txt", dir);
    /* the golden text, byte for byte, on stdout; speed and memory on stderr */
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --temp 0 -n 200 --threads 2", mp, tp);
    CHECK(run_cli(args, out, errf) == 0);
    hc_map a, b;
    hc_error err;
    CHECK_OK(hc_map_file(out, &a, E(&err)), &err);
    CHECK_OK(hc_map_file(gp, &b, E(&err)), &err);
    CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
    hc_unmap(&a);
    hc_unmap(&b);
    CHECK(file_has(errf, "tokens/s") && file_has(errf, "peak RSS"));
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s' --text '%s' --ctx 256 --max-windows 20", mp, tp, xp);
    CHECK(run_cli(args, out, errf) == 0);
    CHECK(file_has(out, "perplexity: ") && file_has(out, "documents: 4302\n") && file_has(out, "tokens: 384954\n"));
    CHECK(file_has(out, "windows: 20 (ctx 256, 5100 tokens scored)"));
    CHECK(file_has(errf, "tokens/s") && file_has(errf, "peak RSS"));
    /* a tokenizer of another model: failure with a message; bad usage: 2 */
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s'", mp, big);
    CHECK(run_cli(args, out, errf) == 1);
    CHECK(file_has(errf, "32000"));
    snprintf(args, sizeof args, "perplexity '%s' --tokenizer '%s'", mp, tp);
    CHECK(run_cli(args, out, errf) == 2);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' -n lots", mp, tp);
    CHECK(run_cli(args, out, errf) == 2);
}

/* ===================================================================== */
/* Thread pool                                                            */
/* ===================================================================== */

typedef struct pool_job {
    int *hits;   /* (tasks) times each task ran in this job */
    int *tid_ok; /* set to 0 if a task saw a bad thread id  */
    int threads;
} pool_job;

static void pool_task(void *ctx, uint64_t task, int tid) {
    pool_job *j = ctx;
    __atomic_add_fetch(&j->hits[task], 1, __ATOMIC_RELAXED);
    if (tid < 0 || tid >= j->threads) __atomic_store_n(j->tid_ok, 0, __ATOMIC_RELAXED);
}

/* Every task of every job runs exactly once, on a valid thread id, with jobs
 * posted back to back (the workers catch them spinning), after pauses past
 * the spin (they catch them blocked), with more threads than cores (no
 * spinning), and the pool frees cleanly in either state. */
TEST(infer_pool_runs_every_task_once) {
    const int sizes[] = {2, 3, hc_cpu_count() + 2};
    hc_rng rng = {5};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        hc_pool *p;
        hc_error err;
        CHECK_OK(hc_pool_new(sizes[si], &p, E(&err)), &err);
        const int threads = hc_pool_threads(p);
        CHECK(threads >= 1 && threads <= sizes[si]);
        int hits[64], tid_ok = 1, bad = 0;
        for (int job = 0; job < 600; job++) {
            const int n = 1 + (int)(hc_rng_next(&rng) % 64);
            memset(hits, 0, sizeof hits);
            pool_job j = {hits, &tid_ok, threads};
            hc_pool_run(p, (uint64_t)n, pool_task, &j);
            for (int t = 0; t < n; t++) bad += hits[t] != 1;
            if (job % 100 == 99) usleep(1000); /* past the spin: workers block */
        }
        CHECKF(bad == 0, "%d tasks ran other than once with %d threads", bad, threads);
        CHECK(tid_ok);
        hc_pool_free(p);
    }
}
