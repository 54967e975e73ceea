/* test_llm_formats.c — the same weights in every file format and naming
 * convention give the same logits. Split from test_infer.c. */
#include "test_llm.h"

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
