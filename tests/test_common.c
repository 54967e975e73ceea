/* test_common.c — CRC-32C, dtype conversion, parallel-for, error chaining. */
#include "test.h"
#include "../src/common/util.h"
#include <math.h>
#include <string.h>

TEST(crc32c_known_vectors) {
    CHECK(hc_crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(hc_crc32c(0, "", 0) == 0);
    uint8_t zeros[32] = {0};
    CHECK(hc_crc32c(0, zeros, 32) == 0x8A9136AAu); /* RFC 3720 B.4 */
    /* incremental == one-shot */
    const char *s = "The quick brown fox jumps over the lazy dog";
    uint32_t a = hc_crc32c(0, s, strlen(s));
    uint32_t b = hc_crc32c(hc_crc32c(0, s, 10), s + 10, strlen(s) - 10);
    CHECK(a == b);
    CHECK(a == 0x22620404u);
}

TEST(f16_bf16_roundtrip_all) {
    /* every finite f16 survives f16 -> f32 -> f16 */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        float f = hc_f16_to_f32((uint16_t)h);
        CHECKF(hc_f32_to_f16(f) == h, "f16 %04x -> %g -> %04x", h, f, hc_f32_to_f16(f));
        float g = hc_bf16_to_f32((uint16_t)h);
        if (g == g) CHECKF(hc_f32_to_bf16(g) == h, "bf16 %04x", h);
    }
    CHECK(hc_f16_to_f32(0x3c00) == 1.0f);
    CHECK(hc_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(hc_f32_to_f16(1e6f) == 0x7c00);
    CHECK(hc_f32_to_f16(-0.0f) == 0x8000);
    /* ties to even: 1 + 2^-11 is halfway between 1 and 1+2^-10 */
    CHECK(hc_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);
    CHECK(hc_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02);
    CHECK(hc_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);
    float nanv = NAN;
    CHECK(hc_bf16_to_f32(hc_f32_to_bf16(nanv)) != hc_bf16_to_f32(hc_f32_to_bf16(nanv)));
}

static void pf_sum(void *ctx, uint64_t i, int tid) {
    (void)tid;
    __atomic_fetch_add((uint64_t *)ctx, i + 1, __ATOMIC_RELAXED);
}

TEST(parallel_for_covers_all) {
    for (int t = 1; t <= 5; t++) {
        uint64_t sum = 0;
        hc_parallel_for(t, 1000, pf_sum, &sum);
        CHECK(sum == 1000 * 1001 / 2);
    }
}

TEST(dtype_names) {
    hc_dtype t;
    CHECK(hc_dtype_parse("BF16", 4, &t) == 0 && t == HC_BF16);
    CHECK(hc_dtype_parse("F8_E4M3", 7, &t) == 0 && t == HC_F8_E4M3);
    CHECK(hc_dtype_parse("F3", 2, &t) != 0);
    CHECK(hc_dtype_size(HC_I64) == 8);
    CHECK(strcmp(hc_dtype_name(HC_U16), "U16") == 0);
}
