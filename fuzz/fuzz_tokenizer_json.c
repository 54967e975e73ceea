/* fuzz_tokenizer_json.c — libFuzzer harness for the tokenizer.json reader and
 * the tokenizer core (src/infer/tokenizer_*.c; see fuzz/README.md).
 *
 * Each input is tried as a tokenizer.json; an accepted one must encode a
 * fixed text (with added tokens, UTF-8, spaces, digits, newlines) and decode
 * it again without error other than a stated one. It also tries the input as
 * the text to encode with a small built-in byte-level tokenizer and a small
 * SentencePiece-style one, so the pre-tokenizer regexes and BPE see arbitrary
 * bytes. Aborts if a failure has no message. Inputs are copied into
 * exact-size buffers so that AddressSanitizer sees any overread.
 *
 * Built with -DHC_FUZZ_MAIN it has its own main() that replays the files
 * named on the command line (for compilers without libFuzzer). */
#include "hyperc.h"
#include "hyperc_tok.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char BL[] =
    "{\"added_tokens\":[{\"id\":9,\"content\":\"<|end|>\",\"special\":true,\"lstrip\":true,\"rstrip\":true}],"
    "\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
    "\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\","
    "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"x\",\"fuse_unk\":true,\"ignore_merges\":true,\"vocab\":{\"a\":0,\"b\":1,\"c\":2,"
    "\"\\u0120\":3,\"ab\":4,\"abc\":5,\"\\u0120a\":6,\"\\u0120ab\":7,\"x\":8},\"merges\":[[\"a\",\"b\"],[\"ab\",\"c\"],"
    "[\"\\u0120\",\"a\"],[\"\\u0120a\",\"b\"],[\"q\",\"r\"]]}}";
static const char SPM[] =
    "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"fuse_unk\":true,"
    "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"<0xC3>\":2,\"<0xA9>\":3,\"\\u2581\":4,\"h\":5,\"i\":6,\"\\u2581h\":7,\"\\u2581hi\":8},"
    "\"merges\":[\"\\u2581 h\",\"\\u2581h i\"]}}";

static void use(const hc_tkz *t, const char *text, size_t len) {
    hc_error err = {0};
    int *ids = NULL;
    size_t n = 0;
    if (hc_tkz_encode(t, text, len, HC_TKZ_SPECIALS, &ids, &n, &err) != HC_OK) {
        if (ids || !err.msg[0]) abort();
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= hc_tkz_vocab_size(t)) abort();
    char *back = NULL, buf[64];
    size_t bl;
    if (hc_tkz_decode(t, ids, n, 0, &back, &bl, &err) != HC_OK) abort(); /* valid ids always decode */
    for (size_t i = 0; i < n; i++) hc_tkz_token_text(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *img = malloc(size ? size : 1);
    if (!img) return 0;
    if (size) memcpy(img, data, size);
    hc_error err = {0};
    hc_tkz *t = NULL;
    if (hc_tkz_from_json(img, size, NULL, 0, "fuzz", &t, &err) == HC_OK) {
        static const char txt[] = "hi hi abc\xC3\xA9 <s>x<|end|>  12345 it's\n\n\t\xE6\x97\xA5 \xF0\x9F\x98\x80 ";
        use(t, txt, sizeof txt - 1);
        hc_tkz_free(t);
    } else if (t || !err.msg[0]) {
        abort();
    }
    /* the input as text */
    static hc_tkz *bl, *spm;
    if (!bl && hc_tkz_from_json(BL, strlen(BL), NULL, 0, "bl", &bl, &err)) abort();
    if (!spm && hc_tkz_from_json(SPM, strlen(SPM), NULL, 0, "spm", &spm, &err)) abort();
    use(bl, img, size);
    use(spm, img, size);
    free(img);
    return 0;
}

#include "fuzz_main.h" /* the replay main() of -DHC_FUZZ_MAIN builds */
