/* test_l2c_config.c — a .hyc made from a Hugging Face folder keeps its
 * hyperparameters in the stored config.json only (the shards' metadata has
 * none); decompress -o x.bin still writes the llama2.c checkpoint, byte for
 * byte the original when the folder was made from one. */
#include "test.h"
#include "../src/io/llama2c_io.h"
#include <string.h>
#include <sys/stat.h>

static const char *tpath(const char *name) {
    static char b[4][600];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, 600, "%s/l2ccfg_%s", hc_test_tmpdir(), name);
    return p;
}

TEST(l2c_from_folder_uses_stored_config) {
    const char *bin = hc_test_shared("models/stories260K.bin");
    if (!bin) return;
    hc_error err = {0};
    hc_safetensors *st = NULL, *hf = NULL;
    CHECK_OK(hc_l2c_open_st(bin, &st, &err), &err);
    CHECK_OK(hc_llama_renamed(st, 1, "hf", &hf, &err), &err);
    /* the folder: model.safetensors without metadata, and an HF config.json */
    const char *dir = tpath("folder");
    CHECK(mkdir(dir, 0755) == 0);
    char model[700], cfg[700];
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    size_t n = hc_st_count(hf);
    hc_tensor_info *infos = calloc(n, sizeof *infos);
    CHECK(infos);
    for (size_t i = 0; i < n; i++) infos[i] = *hc_st_info(hf, i);
    hc_st_writer *w = NULL;
    hc_status s = hc_st_writer_open(model, infos, n, NULL, 0, 1, &w, &err);
    free(infos);
    for (size_t i = 0; s == HC_OK && i < n; i++) s = hc_st_writer_put(w, i, hc_st_data(hf, i), &err);
    if (s == HC_OK) s = hc_st_writer_finish(w, &err);
    else hc_st_writer_abort(w);
    hc_st_close(hf);
    hc_st_close(st);
    CHECK_OK(s, &err);
    FILE *f = fopen(cfg, "w");
    CHECK(f);
    fputs("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":172,"
          "\"num_hidden_layers\":5,\"num_attention_heads\":8,\"num_key_value_heads\":4,\"vocab_size\":512,"
          "\"max_position_embeddings\":512,\"rms_norm_eps\":1e-05,\"tie_word_embeddings\":true,"
          "\"hidden_act\":\"silu\"}\n", f);
    CHECK(fclose(f) == 0);

    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    const char *hyc = tpath("m.hyc"), *out = tpath("back.bin");
    CHECK_OK(hc_compress_path(dir, hyc, &o, NULL, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_decompress_file(hyc, out, 1, 1, &err), &err);
    size_t la = 0, lb = 0;
    uint8_t *a = hc_test_slurp(bin, &la), *b = hc_test_slurp(out, &lb);
    int same = a && b && la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    CHECKF(same, "llama2.c checkpoint from the folder's .hyc differs from the original (%zu vs %zu bytes)", lb, la);
}
