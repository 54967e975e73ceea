/* bitpack.h — fixed-width unsigned codes packed back to back, LSB first.
 *
 * Layout: code j of width u (1..32) occupies bits [j*u, (j+1)*u) of the
 * buffer, where bit b is bit (b % 8) of byte b / 8 (least significant first).
 * A buffer of `count` codes is exactly ceil(count * u / 8) bytes; the unused
 * high bits of the last byte are zero. This is the layout every reader of
 * packed indices (scalar, AVX2, AVX-512) relies on. */
#ifndef HC_BITPACK_H
#define HC_BITPACK_H

#include <stdint.h>
#include <string.h>

/* Bytes needed for count codes of u bits; 0 and *ok = 0 on overflow. */
static inline uint64_t hc_bitpack_bytes(uint64_t count, unsigned u, int *ok) {
    *ok = 1;
    if (u != 0 && count > (UINT64_MAX - 7) / u) {
        *ok = 0;
        return 0;
    }
    return (count * u + 7) / 8;
}

/* Number of bits needed to write v (at least 1). */
static inline unsigned hc_bit_length(uint64_t v) {
    unsigned b = 1;
    while (b < 64 && (v >> b) != 0) b++;
    return b;
}

/* 8 bytes at p as a little-endian integer (no alignment needed). */
static inline uint64_t hc_load64_le(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Code at bit offset `bit`, when the 8 bytes from bit/8 lie inside the
 * buffer (the caller checks). mask = (1 << u) - 1, u <= 32. */
static inline uint32_t hc_bitpack_get_fast(const uint8_t *buf, uint64_t bit, uint32_t mask) {
    return (uint32_t)(hc_load64_le(buf + (bit >> 3)) >> (bit & 7)) & mask;
}

/* Code j of width u from a buffer of len bytes, reading only bytes that
 * belong to it (safe at the tail). The caller ensures (j+1)*u <= 8*len. */
static inline uint32_t hc_bitpack_get(const uint8_t *buf, uint64_t len, uint64_t j, unsigned u) {
    uint64_t bit = j * u;
    uint64_t first = bit >> 3, last = (bit + u - 1) >> 3;
    uint64_t acc = 0;
    (void)len;
    for (uint64_t b = first; b <= last; b++) acc |= (uint64_t)buf[b] << (8 * (b - first));
    return (uint32_t)(acc >> (bit & 7)) & (uint32_t)((1ull << u) - 1);
}

/* Writes count codes (each masked to u bits) into dst, which must hold
 * hc_bitpack_bytes(count, u) bytes; every byte of it is written. */
void hc_bitpack_pack(const uint32_t *codes, uint64_t count, unsigned u, uint8_t *dst);

/* out[i] = code (first + i) for i < count, from a buffer of len bytes that
 * holds at least first + count codes. Uses 8-byte loads where they stay
 * inside the buffer, byte reads at the tail. */
void hc_bitpack_unpack(const uint8_t *buf, uint64_t len, unsigned u, uint64_t first, uint64_t count,
                       uint32_t *out);

/* Codes j < this bound can be read with hc_bitpack_get_fast from a buffer of
 * len bytes (their 8-byte load ends inside it). */
static inline uint64_t hc_bitpack_fast_limit(uint64_t len, unsigned u) {
    if (len < 8) return 0;
    return ((len - 8) * 8 + 7) / u + 1;
}

#endif
