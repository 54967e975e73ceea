/* fuzz_llama2c_model.c — libFuzzer harness for the llama2.c checkpoint reader
 * (7-int32 header, then float32 arrays), model binding, and a threaded
 * forward pass over what it bound. The input is the whole checkpoint,
 * held in an exact-size buffer; a refusal must say why. Models larger than
 * fuzz_llm_small_enough() are bound but not run (speed only). */
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
    hc_map map = {img, size, 0};
    hc_error err;
    hc_error_clear(&err);
    hc_llm_source src;
    hc_llm_config cfg;
    if (hc_llama2c_source(&map, "fuzz.bin", &src, &cfg, &err) != HC_OK) {
        if (!err.msg[0]) abort();
        free(img);
        return 0;
    }
    hc_llm_model *m = NULL;
    hc_error_clear(&err);
    if (hc_llm_bind(&src, &cfg, "fuzz.bin", "llama2.c", &m, &err) != HC_OK) {
        if (m || !err.msg[0]) abort();
        if (src.release) src.release(src.user);
        free(img);
        return 0;
    }
    if (fuzz_llm_small_enough(hc_llm_config_of(m))) fuzz_llm_run(m, data, size);
    hc_llm_free(m);
    free(img);
    return 0;
}

#include "fuzz_main.h"
