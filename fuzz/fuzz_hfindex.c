/* fuzz_hfindex.c — libFuzzer harness for the Hugging Face shard index reader
 * (model.safetensors.index.json: hc_hfdir_index_parse in src/io/hfdir.c, the
 * checks compress makes before it opens any shard). An accepted index lists
 * at least one tensor in at least one and at most as many shards; a refusal
 * says why. Built with -DHC_FUZZ_MAIN it replays files (fuzz_main.h). */
#include "hyperc.h"
#include "../src/io/hyc_ext.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1); /* exact size: reads past the end are caught */
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    hc_error err;
    hc_error_clear(&err);
    size_t nt = 0, ns = 0;
    if (hc_hfdir_index_parse(buf, size, "fuzz.index.json", &nt, &ns, &err) == HC_OK) {
        if (nt == 0 || ns == 0 || ns > nt) abort();
    } else if (!err.msg[0]) {
        abort();
    }
    free(buf);
    return 0;
}

#include "fuzz_main.h" /* the replay main() of -DHC_FUZZ_MAIN builds */
