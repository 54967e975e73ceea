/* cmd_gguf.c — GGUF-specific output of the CLI: the "source" lines of
 * `hyperc info` for a .hyc made from a GGUF file (src/io/gguf.h). */
#include "commands.h"
#include "../src/io/llama2c_io.h"
#include "hyperc.h"
#include "../src/io/gguf.h"
#include <stdio.h>

void cli_gguf_info(const struct hc_hyc *h) {
    size_t ml = 0;
    const char *m = hc_hyc_metadata(h, &ml);
    if (!hc_gguf_is_gguf(m, ml)) return;
    hc_gguf *g = NULL;
    uint64_t flen = 0;
    hc_error err;
    hc_error_clear(&err);
    if (hc_gguf_blob_open(m, ml, "GGUF metadata", &g, &flen, &err) != HC_OK) {
        printf("source       GGUF (metadata unreadable: %s)\n", err.msg);
        return;
    }
    printf("source       GGUF v%u, %zu metadata keys, %zu tensors, alignment %llu, %llu bytes\n", hc_gguf_version(g),
           hc_gguf_kv_count(g), hc_gguf_tensor_count(g), (unsigned long long)hc_gguf_alignment(g),
           (unsigned long long)flen);
    /* ggml types, in order of first appearance, with counts */
    uint32_t ids[64];
    size_t cnt[64], nt = 0;
    for (size_t i = 0; i < hc_gguf_tensor_count(g); i++) {
        uint32_t t = hc_gguf_tensor_get(g, i)->type;
        size_t k = 0;
        while (k < nt && ids[k] != t) k++;
        if (k == nt && nt < 64) {
            ids[nt] = t;
            cnt[nt++] = 0;
        }
        if (k < nt) cnt[k]++;
    }
    if (nt) {
        printf("ggml types  ");
        for (size_t k = 0; k < nt; k++) {
            const hc_ggml_type *ty = hc_ggml_type_get(ids[k]);
            printf(" %s x%zu%s", ty ? ty->name : "?", cnt[k], k + 1 < nt ? "," : "");
        }
        int quant = 0;
        for (size_t k = 0; k < nt; k++) {
            const hc_ggml_type *ty = hc_ggml_type_get(ids[k]);
            if (ty && ty->hc_dtype < 0) quant = 1;
        }
        printf("%s\n", quant ? "  (ggml-quantised tensors are stored as U8 bytes, bit-exact)" : "");
    }
    hc_gguf_close(g);
}

int cli_open_tensors(const char *path, struct hc_safetensors **out, hc_error *err) {
    return (int)hc_model_open_st(path, 1, out, err); /* safetensors, GGUF, llama2.c or a decoded .hyc */
}
