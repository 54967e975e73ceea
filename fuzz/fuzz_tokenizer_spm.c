/* fuzz_tokenizer_spm.c — libFuzzer harness for the SentencePiece
 * tokenizer.model reader (src/infer/tokenizer_spm.c; see fuzz/README.md).
 *
 * Each input is tried as a serialized ModelProto; an accepted one must
 * encode a fixed text (user-defined/control pieces, UTF-8, spaces, bytes)
 * and decode it again; an accepted input starting with field 1 must also
 * pass hc_tkz_is_spm (the content probe of hc_tkz_open). Aborts if a
 * failure has no message. Inputs are copied into exact-size buffers so that
 * AddressSanitizer sees any overread.
 *
 * Built with -DHC_FUZZ_MAIN it has its own main() that replays the files
 * named on the command line (for compilers without libFuzzer). */
#include "hyperc.h"
#include "hyperc_tok.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *img = calloc(size ? size : 1, 1);
    if (!img) return 0;
    if (size) memcpy(img, data, size);
    hc_error err = {0};
    hc_tkz *t = NULL;
    int probe = hc_tkz_is_spm(img, size);
    hc_status s = hc_tkz_from_spm(img, size, "fuzz", &t, &err);
    if (s == HC_OK) {
        if (!probe && size && img[0] == 0x0A) abort();
        static const char txt[] = "hello world <s> </s> <tag>\xC3\xA9 \xE6\x97\xA5\xF0\x9F\x98\x80  12\n\t";
        int *ids = NULL;
        size_t n = 0;
        if (hc_tkz_encode(t, txt, sizeof txt - 1, HC_TKZ_SPECIALS, &ids, &n, &err) == HC_OK) {
            for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= hc_tkz_vocab_size(t)) abort();
            char *back = NULL, buf[64];
            size_t bl;
            if (hc_tkz_decode(t, ids, n, 0, &back, &bl, &err) != HC_OK) abort();
            for (size_t i = 0; i < n; i++) hc_tkz_token_text(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
            free(back);
            free(ids);
        } else if (ids || !err.msg[0]) {
            abort();
        }
        hc_tkz_free(t);
    } else if (t || !err.msg[0]) {
        abort();
    }
    free(img);
    return 0;
}

#ifdef HC_FUZZ_MAIN
#include <stdio.h>
int main(int argc, char **argv) {
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
