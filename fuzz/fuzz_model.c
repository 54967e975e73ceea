/* fuzz_model.c — libFuzzer harness for model binding from a .hyc
 * (hc_hyc_open_mem, the hyperparameters in its metadata, hc_llm_open_source)
 * and the threaded fused products of inference over whatever payloads the
 * codecs accept (fuzz_llm.h: batches of 8 and 3 tokens on 3 threads, so
 * both the tiled and the row products are split over threads).
 *
 * Built with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION the container reader
 * ignores CRC mismatches, so mutated payloads reach the decoders and the
 * products. Seeds: small llama models written by fuzz/make_seeds.c with
 * every codec. A refusal must say why. */
#include "hyperc_llm.h"
#include "../src/infer/infer.h"
#include "fuzz_llm.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    void *img = NULL;
    if (posix_memalign(&img, 64, size ? size : 1) != 0) return 0;
    if (size) memcpy(img, data, size);
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h = NULL;
    if (hc_hyc_open_mem(img, size, "fuzz.hyc", &h, &err) != HC_OK) {
        if (h || !err.msg[0]) abort();
        free(img);
        return 0;
    }
    hc_llm_source src;
    hc_llm_source_hyc(h, 0, &src);
    hc_llm_config cfg;
    hc_error_clear(&err);
    if (!src.metadata || hc_llm_config_parse(src.metadata, src.metadata_len, "fuzz.hyc", &cfg, &err) != HC_OK ||
        hc_llm_config_check(&cfg, "fuzz.hyc", &err) != HC_OK || !fuzz_llm_small_enough(&cfg)) {
        hc_hyc_close(h);
        free(img);
        return 0;
    }
    hc_llm_model *m = NULL;
    hc_error_clear(&err);
    if (hc_llm_open_source(&src, NULL, "fuzz.hyc", &m, &err) != HC_OK) {
        if (m || !err.msg[0]) abort();
    } else {
        fuzz_llm_run(m, data, size);
        hc_llm_free(m);
    }
    hc_hyc_close(h);
    free(img);
    return 0;
}

#include "fuzz_main.h"
