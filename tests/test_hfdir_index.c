/* test_hfdir_index.c — the shard index reader (issue 12 §6): a valid index,
 * every truncation point and random byte flips of it, and hostile indexes:
 * a clear error or a correct result, never a crash. */
#include "test.h"
#include "../src/io/hyc_ext.h"
#include <string.h>

static const char good[] =
    "{\"metadata\":{\"total_size\":12288},\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
    "\"b.weight\":\"model-00002-of-00002.safetensors\",\"c.bias\":\"model-00001-of-00002.safetensors\"}}";

static hc_status parse(const char *p, size_t n, size_t *nt, size_t *ns, hc_error *err) {
    char *b = malloc(n ? n : 1); /* exact size, so ASan sees a read past the end */
    if (!b) return HC_E_NOMEM;
    memcpy(b, p, n);
    hc_error_clear(err);
    hc_status s = hc_hfdir_index_parse(b, n, "index.json", nt, ns, err);
    free(b);
    return s;
}

TEST(hfdir_index_truncations_and_flips) {
    hc_error err;
    size_t nt = 0, ns = 0, n = strlen(good);
    CHECK_OK(parse(good, n, &nt, &ns, &err), &err);
    CHECK(nt == 3 && ns == 2);
    for (size_t k = 0; k < n; k++) { /* every cut but the whole: refused with a message */
        hc_status s = parse(good, k, &nt, &ns, &err);
        CHECKF(s != HC_OK && err.msg[0], "cut at %zu: status %d, '%s'", k, (int)s, err.msg);
    }
    hc_rng r = {7};
    char img[sizeof good];
    int refused = 0, accepted = 0;
    for (int t = 0; t < 3000; t++) {
        memcpy(img, good, n);
        int flips = 1 + (int)(hc_rng_next(&r) % 3);
        for (int f = 0; f < flips; f++) img[hc_rng_next(&r) % n] ^= (char)(1u << (hc_rng_next(&r) % 8));
        hc_status s = parse(img, n, &nt, &ns, &err);
        if (s == HC_OK) {
            CHECK(nt >= 1 && ns >= 1 && ns <= nt);
            accepted++;
        } else {
            CHECKF(err.msg[0], "flip %d: refused without a message", t);
            refused++;
        }
    }
    CHECK(refused > 0 && accepted > 0);
}

TEST(hfdir_index_hostile) {
    static const char *const bad[] = {
        "{\"weight_map\":{}}",                                       /* no tensor */
        "{\"metadata\":{}}",                                         /* no weight_map */
        "{\"weight_map\":{\"a\":\"x.safetensors\"},\"weight_map\":{\"b\":\"y.safetensors\"}}",
        "{\"weight_map\":{\"a\":\"x.safetensors\",\"a\":\"y.safetensors\"}}", /* listed twice */
        "{\"weight_map\":{\"a\":\"../x.safetensors\"}}",             /* outside the folder */
        "{\"weight_map\":{\"a\":\"..\"}}",
        "{\"weight_map\":{\"a\":7}}",                                /* shard not a string */
        "{\"weight_map\":{\"\":\"x.safetensors\"}}",                 /* empty name */
        "[1,2,3]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hc_error err;
        size_t nt = 0, ns = 0;
        hc_status s = parse(bad[i], strlen(bad[i]), &nt, &ns, &err);
        CHECKF(s != HC_OK && err.msg[0], "index %zu '%s' accepted", i, bad[i]);
    }
}
