/* dtype.c — dtype names and sizes, F16/BF16 <-> F32 conversion. */
#include "hyperc.h"
#include <string.h>

static const struct { const char *name; size_t size; } dtypes[HC_DTYPE_COUNT] = {
    [HC_F32] = {"F32", 4},   [HC_F16] = {"F16", 2},   [HC_BF16] = {"BF16", 2},
    [HC_F64] = {"F64", 8},   [HC_I8] = {"I8", 1},     [HC_I16] = {"I16", 2},
    [HC_I32] = {"I32", 4},   [HC_I64] = {"I64", 8},   [HC_U8] = {"U8", 1},
    [HC_U16] = {"U16", 2},   [HC_U32] = {"U32", 4},   [HC_U64] = {"U64", 8},
    [HC_BOOL] = {"BOOL", 1}, [HC_F8_E4M3] = {"F8_E4M3", 1}, [HC_F8_E5M2] = {"F8_E5M2", 1},
};

const char *hc_dtype_name(hc_dtype t) {
    return ((unsigned)t < HC_DTYPE_COUNT) ? dtypes[t].name : "?";
}

size_t hc_dtype_size(hc_dtype t) { return ((unsigned)t < HC_DTYPE_COUNT) ? dtypes[t].size : 0; }

hc_status hc_dtype_parse(const char *s, size_t len, hc_dtype *out) {
    for (int i = 0; i < HC_DTYPE_COUNT; i++) {
        if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, s, len) == 0) {
            *out = (hc_dtype)i;
            return HC_OK;
        }
    }
    return HC_E_ARG;
}

int hc_dtype_is_codable(hc_dtype t) { return t == HC_F32 || t == HC_F16 || t == HC_BF16; }

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float hc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        /* zero or subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31) return u2f(sign | 0x7f800000u | (man << 13));
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t hc_f32_to_f16(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* Inf or NaN (keep a quiet NaN) */
        return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: Inf */
    if (a < 0x38800000u) {
        /* subnormal or zero in f16: round(a_value / 2^-24) to nearest even */
        float v = u2f(a) * 16777216.0f; /* exact scaling by 2^24 */
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return (uint16_t)(sign | m);
    }
    /* normal: rebias exponent, round mantissa to 10 bits, nearest even */
    uint32_t r = a - 0x38000000u; /* exponent 127 -> 15 */
    r += 0xfff + ((r >> 13) & 1);
    return (uint16_t)(sign | (r >> 13));
}

float hc_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t hc_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

void hc_to_f32(hc_dtype t, const void *src, float *dst, uint64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    switch (t) {
    case HC_F32: memcpy(dst, src, n * 4); break;
    case HC_F16:
        for (uint64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = hc_f16_to_f32(h); }
        break;
    case HC_BF16:
        for (uint64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = hc_bf16_to_f32(h); }
        break;
    default:
        for (uint64_t i = 0; i < n; i++) dst[i] = 0.0f;
        break;
    }
}

void hc_from_f32(hc_dtype t, const float *src, void *dst, uint64_t n) {
    uint8_t *p = (uint8_t *)dst;
    switch (t) {
    case HC_F32: memcpy(dst, src, n * 4); break;
    case HC_F16:
        for (uint64_t i = 0; i < n; i++) { uint16_t h = hc_f32_to_f16(src[i]); memcpy(p + 2 * i, &h, 2); }
        break;
    case HC_BF16:
        for (uint64_t i = 0; i < n; i++) { uint16_t h = hc_f32_to_bf16(src[i]); memcpy(p + 2 * i, &h, 2); }
        break;
    default: break;
    }
}
