/* fuzz_config.c — libFuzzer harness for the hyperparameter readers: a
 * config.json (Hugging Face) or llama2.c-style metadata, read by
 * hc_llm_config_parse, then hc_llm_config_check, and the flat metadata
 * lookup hc_json_object_get. The input is the JSON text, held in an
 * exact-size buffer (no terminating NUL). A parse that succeeds must give
 * values the checker then accepts or refuses with a message; a refusal must
 * say why. */
#include "hyperc_llm.h"
#include "../src/infer/infer.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = malloc(size ? size : 1);
    if (!json) return 0;
    if (size) memcpy(json, data, size);
    hc_error err;
    hc_error_clear(&err);
    hc_llm_config cfg;
    memset(&cfg, 0x5A, sizeof cfg);
    if (hc_llm_config_parse(json, size, "fuzz-config", &cfg, &err) != HC_OK) {
        if (!err.msg[0]) abort();
    } else {
        hc_error_clear(&err);
        if (hc_llm_config_check(&cfg, "fuzz-config", &err) != HC_OK && !err.msg[0]) abort();
    }
    char buf[64];
    static const char *const keys[] = {"dim", "vocab_size", "hidden_size", "rope_theta", ""};
    for (int k = 0; k < 5; k++) {
        memset(buf, 0x5A, sizeof buf);
        if (hc_json_object_get(json, size, keys[k], buf, sizeof buf) && !memchr(buf, 0, sizeof buf)) abort();
    }
    free(json);
    return 0;
}

#include "fuzz_main.h"
