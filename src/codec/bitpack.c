/* bitpack.c — writer and bulk reader of LSB-first fixed-width codes
 * (layout in bitpack.h). */
#include "bitpack.h"

void hc_bitpack_pack(const uint32_t *codes, uint64_t count, unsigned u, uint8_t *dst) {
    const uint64_t mask = (u >= 32) ? 0xFFFFFFFFull : ((1ull << u) - 1);
    uint64_t acc = 0; /* pending bits, fewer than 8 before each code */
    unsigned held = 0;
    uint64_t o = 0;
    for (uint64_t j = 0; j < count; j++) {
        acc |= ((uint64_t)codes[j] & mask) << held;
        held += u;
        while (held >= 8) {
            dst[o++] = (uint8_t)acc;
            acc >>= 8;
            held -= 8;
        }
    }
    if (held) dst[o] = (uint8_t)acc;
}

void hc_bitpack_unpack(const uint8_t *buf, uint64_t len, unsigned u, uint64_t first, uint64_t count,
                       uint32_t *out) {
    const uint32_t mask = (uint32_t)((1ull << u) - 1);
    uint64_t fast_end = hc_bitpack_fast_limit(len, u);
    uint64_t j = first, end = first + count;
    uint64_t bit = first * u;
    for (; j < end && j < fast_end; j++, bit += u) *out++ = hc_bitpack_get_fast(buf, bit, mask);
    for (; j < end; j++) *out++ = hc_bitpack_get(buf, len, j, u);
}
