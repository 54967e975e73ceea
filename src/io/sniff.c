/* sniff.c — naming a file's format from its first bytes (sniff.h). */
#include "sniff.h"
#include <string.h>

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* llama2.c: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, negative when the classifier is not shared, seq_len); the
 * versioned export starts with the magic "ak42". */
static int looks_llama2c(const uint8_t *h, size_t n) {
    if (n >= 8 && le32(h) == 0x616b3432u) return 1;
    if (n < 28) return 0;
    int32_t v[7];
    for (int i = 0; i < 7; i++) v[i] = (int32_t)le32(h + 4 * i);
    int32_t dim = v[0], hidden = v[1], layers = v[2], heads = v[3], kv = v[4], seq = v[6];
    int64_t vocab = v[5] < 0 ? -(int64_t)v[5] : v[5];
    return dim >= 1 && dim <= (1 << 16) && hidden >= 1 && hidden <= (1 << 20) && layers >= 1 && layers <= 4096 &&
           heads >= 1 && heads <= 4096 && dim % heads == 0 && kv >= 1 && kv <= heads && heads % kv == 0 &&
           vocab >= 1 && vocab <= (1 << 24) && seq >= 1 && seq <= (1 << 24);
}

const char *hc_sniff_format(const uint8_t *h, size_t n) {
    static const uint8_t hyc_magic[8] = {0x89, 'H', 'Y', 'C', '\r', '\n', 0x1a, '\n'};
    if (!h || n == 0) return NULL;
    if (n >= 4 && memcmp(h, "GGUF", 4) == 0) return "GGUF file";
    if (n >= 8 && memcmp(h, hyc_magic, 8) == 0) return ".hyc container";
    if (n >= 4 && memcmp(h, "PK\x03\x04", 4) == 0) return "zip archive (PyTorch .pt/.bin)";
    if (n >= 6 && memcmp(h, "\x93NUMPY", 6) == 0) return "NumPy .npy array";
    if (n >= 9 && h[8] == '{') {
        uint64_t hlen = le32(h) | (uint64_t)le32(h + 4) << 32;
        if (hlen >= 2 && hlen < ((uint64_t)1 << 32)) return "safetensors file";
    }
    if (n >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5) return "Python pickle (PyTorch .pt/.bin)";
    if (looks_llama2c(h, n)) return "llama2.c checkpoint";
    /* text: no control bytes but tab and line ends (UTF-8 passes) */
    for (size_t k = 0; k < n; k++)
        if (!((h[k] >= 0x20 && h[k] != 0x7f) || h[k] == '\n' || h[k] == '\r' || h[k] == '\t')) return NULL;
    size_t i = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF) i = 3; /* UTF-8 byte order mark */
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) i++;
    if (i < n && (h[i] == '{' || h[i] == '[')) return "JSON text";
    return n >= 4 ? "text file" : NULL;
}
