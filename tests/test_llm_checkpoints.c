/* test_llm_checkpoints.c — bad llama checkpoints refused with a clear
 * message, and config parsing. Split from test_infer.c. */
#include "test_llm.h"

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
