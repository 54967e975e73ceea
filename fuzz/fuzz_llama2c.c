/* fuzz_llama2c.c — libFuzzer harness for the llama2.c checkpoint parser
 * (hc_l2c_parse in src/io/llama2c_io.c; see fuzz/README.md).
 *
 * Each input is tried as a whole checkpoint, and as a header of small fields
 * (bytes 0..7: the 7 fields as (b % 19) - 2 scaled, byte 7 picks legacy or
 * version 1, rope and the classifier flag) completed to the exact size such
 * a header asks for, so that mutations reach the accepting path. An accepted
 * file must have its tensors tile the bytes after the header exactly; a
 * refusal must say why.
 *
 * Built with -DHC_FUZZ_MAIN it replays the files named on the command line. */
#include "../src/io/llama2c_io.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_image(const uint8_t *img, size_t len) {
    hc_error err = {0};
    hc_l2c_layout l;
    if (hc_l2c_parse(img, len, "fuzz", &l, &err) != HC_OK) {
        if (err.msg[0] == 0 || l.infos || l.offsets) abort(); /* failures say why, own nothing */
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.offsets[i] < l.header_bytes || l.offsets[i] > len || l.infos[i].nbytes > len - l.offsets[i]) abort();
        total += l.infos[i].nbytes;
    }
    if (total != len - l.header_bytes || l.file_bytes != len) abort();
    hc_l2c_layout_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *img = calloc(1, size ? size : 1);
    if (!img) return 0;
    if (size) memcpy(img, data, size);
    try_image(img, size);
    free(img);
    if (size < 8) return 0;
    /* small header: dim = 2*heads*k etc. left to chance; fields in [-2, 16] */
    int32_t h[7];
    static const int scale[7] = {4, 4, 1, 1, 1, 8, 1};
    for (int i = 0; i < 7; i++) h[i] = ((int32_t)(data[i] % 19) - 2) * scale[i];
    int v1 = data[7] & 1, rope = (data[7] >> 1) & 1, shared = (data[7] >> 2) & 1;
    int64_t dim = h[0], hid = h[1], L = h[2], heads = h[3] ? h[3] : 1, kvh = h[4], vocab = h[5], seq = h[6];
    int64_t hs = dim / heads, kv = hs * kvh;
    int64_t w = vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * dim * hid) + dim;
    if (!shared) w += vocab * dim;
    if (!v1 && rope) w += seq * hs;
    int64_t hdr = v1 ? 256 : 28, len = hdr + 4 * w;
    if (len < hdr || len > (1 << 22)) return 0;
    img = calloc((size_t)len, 1);
    if (!img) return 0;
    uint8_t *q = img;
    if (v1) {
        hc_put_u32(img, 0x616b3432u);
        hc_put_u32(img + 4, 1);
        img[36] = (uint8_t)shared;
        q = img + 8;
    } else if (!shared) {
        h[5] = -h[5];
    }
    for (int i = 0; i < 7; i++) hc_put_u32(q + 4 * i, (uint32_t)h[i]);
    for (size_t i = 8; i < size && (int64_t)(hdr + i - 8) < len; i++) img[hdr + i - 8] = data[i];
    try_image(img, (size_t)len);
    free(img);
    return 0;
}

#include "fuzz_main.h" /* the replay main() of -DHC_FUZZ_MAIN builds */
