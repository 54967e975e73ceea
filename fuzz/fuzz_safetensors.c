/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader and the
 * JSON cursor it is built on (see fuzz/README.md).
 *
 * Each input is tried two ways: as a whole file image, and as a bare header
 * (first two bytes: data size mod 4096, the rest: header text) with the length
 * prefix and a data buffer added here, so the fuzzer reaches the header logic
 * without first having to guess a consistent length field. Inputs are copied
 * into exact-size buffers so that AddressSanitizer sees any overread.
 *
 * Built with -DHC_FUZZ_MAIN it has its own main() that replays the files
 * named on the command line (for compilers without libFuzzer). */
#include "hyperc.h"
#include "../src/common/util.h"
#include "../src/io/json.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Opens an image and uses everything the reader hands out. */
static void try_image(const uint8_t *img, size_t len) {
    hc_error err = {0};
    hc_safetensors *st = NULL;
    hc_status s = hc_st_open_mem(img, len, "fuzz", &st, &err);
    if (s != HC_OK) {
        if (st != NULL || err.msg[0] == 0) abort(); /* failures must say why */
        return;
    }
    uint64_t total = 0;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < hc_st_count(st); i++) {
        const hc_tensor_info *t = hc_st_info(st, i);
        const uint8_t *d = hc_st_data(st, i);
        if (d < img || t->nbytes > (uint64_t)(img + len - d)) abort();
        for (uint64_t b = 0; b < t->nbytes; b++) sink ^= d[b];
        if (hc_st_find(st, t->name) != (long)i) abort();
        total += t->nbytes;
    }
    (void)sink;
    if (hc_st_count(st) && (const uint8_t *)hc_st_data(st, 0) + total != img + len) abort();
    size_t ml;
    const char *meta = hc_st_metadata(st, &ml);
    char buf[32];
    if (meta && (meta[0] != '{' || meta[ml - 1] != '}' || meta[ml] != 0)) abort();
    if (meta) hc_json_object_get(meta, ml, "dim", buf, sizeof buf);
    hc_st_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *img = calloc(size ? size : 1, 1);
    if (!img) return 0;
    if (size) memcpy(img, data, size);
    try_image(img, size);

    /* the JSON cursor alone, and the metadata lookup, on the raw bytes */
    hc_json j;
    hc_json_init(&j, (const char *)img, size);
    if (hc_json_skip(&j)) hc_json_finish(&j);
    char buf[32];
    hc_json_object_get((const char *)img, size, "dim", buf, sizeof buf);
    free(img);

    if (size >= 2) {
        size_t dlen = (size_t)(data[0] | (data[1] << 8)) % 4096, hlen = size - 2;
        size_t len = 8 + hlen + dlen;
        img = malloc(len);
        if (!img) return 0;
        hc_put_u64(img, hlen);
        memcpy(img + 8, data + 2, hlen);
        memset(img + 8 + hlen, 0xA5, dlen);
        try_image(img, len);
        free(img);
    }
    return 0;
}

#include "fuzz_main.h" /* the replay main() of -DHC_FUZZ_MAIN builds */
