/* fuzz_gguf.c — libFuzzer harness for the GGUF reader (src/io/gguf.c) and
 * for the GGUF metadata a .hyc carries (see fuzz/README.md).
 *
 * Each input is tried as a whole GGUF image (every tensor's bytes and every
 * metadata value are read back through the lookup API; an accepted file's
 * .hyc metadata is made and parsed again, and must give the same length), and
 * as a .hyc metadata blob (hc_gguf_blob_open), the header-only path that
 * decompression takes; the llama hyperparameter reader runs on both. Inputs
 * are copied into exact-size buffers so that AddressSanitizer sees any
 * overread. Aborts if an accepted file breaks the reader's guarantees or if a
 * refusal has no message.
 *
 * Built with -DHC_FUZZ_MAIN it has its own main() that replays the files
 * named on the command line (for compilers without libFuzzer); with
 * `--seeds DIR` it writes a few tiny seed files made by hyperc's GGUF writer. */
#include "hyperc.h"
#include "../src/common/util.h"
#include "../src/io/gguf.h"
#include "hyperc_llm.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_metadata(const hc_gguf *g) {
    hc_llm_config cfg;
    hc_error lerr;
    hc_error_clear(&lerr);
    if (hc_gguf_llm_config(g, "fuzz", &cfg, &lerr) != HC_OK && !lerr.msg[0]) abort();
    for (size_t i = 0; i < hc_gguf_kv_count(g); i++) {
        size_t kl;
        uint32_t kt;
        const char *k = hc_gguf_kv_key(g, i, &kl, &kt);
        char key[256];
        if (!k || kl >= sizeof key) continue;
        memcpy(key, k, kl);
        key[kl] = 0;
        if (strlen(key) == kl && hc_gguf_find_key(g, key) < 0) abort(); /* every key is found */
        const char *s;
        size_t n;
        int64_t v;
        double d;
        uint32_t et;
        uint64_t cnt;
        volatile char sink = 0;
        if (hc_gguf_get_str(g, key, &s, &n) && n) sink ^= s[n - 1];
        hc_gguf_get_int(g, key, &v);
        hc_gguf_get_float(g, key, &d);
        if (hc_gguf_get_array(g, key, &et, &cnt))
            for (uint64_t e = 0; e < cnt && e < 64; e++) {
                if (hc_gguf_array_str(g, key, cnt - 1 - e, &s, &n) && n) sink ^= s[n - 1];
                hc_gguf_array_int(g, key, e, &v);
                hc_gguf_array_float(g, key, e, &d);
            }
        (void)sink;
    }
}

static void try_image(const uint8_t *img, size_t len) {
    hc_error err;
    hc_error_clear(&err);
    hc_gguf *g = NULL;
    if (hc_gguf_open_mem(img, len, "fuzz", &g, &err) != HC_OK) {
        if (g || !err.msg[0]) abort();
        return;
    }
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < hc_gguf_tensor_count(g); i++) {
        const hc_gguf_tensor *t = hc_gguf_tensor_get(g, i);
        const uint8_t *d = hc_gguf_tensor_data(g, i);
        if (d < img || t->nbytes > (uint64_t)(img + len - d)) abort();
        if (t->nbytes) sink ^= d[0] ^ d[t->nbytes - 1];
        hc_tensor_info ti;
        hc_gguf_tensor_info(t, &ti);
        if (ti.nbytes != t->nbytes) abort();
    }
    (void)sink;
    use_metadata(g);
    uint8_t *blob = NULL;
    size_t bl = 0;
    if (hc_gguf_blob(g, &blob, &bl, &err) == HC_OK) {
        uint8_t *b2 = malloc(bl ? bl : 1);
        if (!b2) abort();
        memcpy(b2, blob, bl);
        hc_gguf *h = NULL;
        uint64_t fl = 0;
        if (hc_gguf_blob_open(b2, bl, "blob", &h, &fl, &err) != HC_OK || fl != len ||
            hc_gguf_tensor_count(h) != hc_gguf_tensor_count(g))
            abort();
        hc_gguf_close(h);
        free(b2);
        free(blob);
    }
    hc_gguf_close(g);
}

static void try_blob(const uint8_t *b, size_t len) {
    hc_error err;
    hc_error_clear(&err);
    hc_gguf *h = NULL;
    uint64_t fl;
    if (hc_gguf_blob_open(b, len, "fuzz-blob", &h, &fl, &err) != HC_OK) {
        if (h || !err.msg[0]) abort();
        return;
    }
    use_metadata(h);
    hc_gguf_close(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *img = malloc(size ? size : 1);
    if (!img) return 0;
    if (size) memcpy(img, data, size);
    try_image(img, size);
    try_blob(img, size);
    free(img);
    return 0;
}

#ifdef HC_FUZZ_MAIN
#include <stdio.h>

/* Tiny seeds: metadata of several types, and tensors of F32, F16, Q8_0. */
static int write_seeds(const char *dir) {
    static float f[8] = {1, -2, 3.5f, 0, 0.25f, -0.5f, 7, 8};
    static uint16_t h[4] = {0x3C00, 0xBC00, 0x4000, 0};
    static uint8_t q[34] = {0x00, 0x3C, 1, 2, 3, 255};
    for (int k = 0; k < 3; k++) {
        hc_error err;
        hc_error_clear(&err);
        hc_gguf_build *b = NULL;
        if (hc_gguf_build_new(k == 2 ? 2 : 3, &b, &err)) return 1;
        const char *toks[] = {"<s>", "a", "bc"};
        hc_gguf_build_str(b, "general.architecture", "llama", &err);
        hc_gguf_build_u32(b, "llama.block_count", 1, &err);
        hc_gguf_build_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &err);
        hc_gguf_build_str_array(b, "tokenizer.ggml.tokens", toks, 3, &err);
        if (k >= 1) {
            uint64_t ne[2] = {4, 2};
            hc_gguf_build_u32(b, "general.alignment", 16, &err);
            hc_gguf_build_tensor(b, "w", 2, ne, 0, f, &err);
            ne[0] = 4;
            hc_gguf_build_tensor(b, "h", 1, ne, 1, h, &err);
            ne[0] = 32;
            if (k == 1) hc_gguf_build_tensor(b, "q", 1, ne, 8, q, &err);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/seed%d.ggufseed", dir, k);
        hc_status s = err.code ? err.code : hc_gguf_build_write(b, path, 1, &err);
        hc_gguf_build_free(b);
        if (s) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    printf("wrote 3 seeds to %s\n", dir);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--seeds")) return write_seeds(argv[2]);
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, n = 0, k;
        uint8_t *b = malloc(cap);
        while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
            n += k;
            if (n == cap) b = realloc(b, cap *= 2);
        }
        fclose(f);
        if (!b) return 1;
        LLVMFuzzerTestOneInput(b, n);
        free(b);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
#endif
