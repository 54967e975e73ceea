/* fuzz_tokenizer.c — libFuzzer harness for the llama2.c tokenizer file
 * reader (hc_tok_open_mem), its BPE encoder and the decoder.
 *
 * Input: [0..1] u16 length L of the tokenizer file (mod the input size),
 * [2] flags (bit 0: BOS, bit 1: EOS, bit 2: ask for vocab_size = the number
 * of tokens the fuzzer's bytes [3..4] say), then L bytes of tokenizer file,
 * then the text to encode. The file is held in an exact-size buffer.
 *
 * An accepted tokenizer must give token ids inside its vocabulary, pieces
 * for every id, and a decode that succeeds; with every byte token present
 * (<0x00>..<0xFF> at ids 3..258, the llama2.c layout) decode(encode(text))
 * must give the text back. A refusal must say why. */
#include "hyperc_llm.h"
#include "../src/common/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_byte_tokens(const hc_tokenizer *t) {
    if (hc_tok_vocab_size(t) < 259) return 0;
    for (int b = 0; b < 256; b++) {
        char want[8];
        snprintf(want, sizeof want, "<0x%02X>", b);
        size_t len;
        const char *p = hc_tok_piece(t, 0, b + 3, &len);
        if (len != 1 || (uint8_t)p[0] != b) return 0; /* a <0xXX> piece decodes to its byte */
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 5) return 0;
    size_t flen = hc_get_u16(data) % (size - 4);
    int flags = data[2];
    int vocab = (flags & 4) ? (int)hc_get_u16(data + 3) : 0;
    uint8_t *file = malloc(flen ? flen : 1);
    if (!file) return 0;
    memcpy(file, data + 5, flen);
    size_t tlen = size - 5 - flen;
    char *text = malloc(tlen ? tlen : 1);
    if (!text) abort();
    memcpy(text, data + 5 + flen, tlen);

    hc_error err;
    hc_error_clear(&err);
    hc_tokenizer *t = NULL;
    if (hc_tok_open_mem(file, flen, vocab, "fuzz-tok", &t, &err) != HC_OK) {
        if (t || !err.msg[0]) abort();
        goto out;
    }
    int nv = hc_tok_vocab_size(t);
    if (nv <= 0 || (vocab && nv != vocab)) abort();
    size_t plen;
    for (int id = -2; id < nv + 2 && id < 4096; id++) {
        const char *p = hc_tok_piece(t, HC_TOK_BOS, id, &plen);
        if (!p) abort();
        volatile char sink = 0;
        for (size_t i = 0; i < plen; i++) sink ^= p[i];
        (void)sink;
    }
    int *tok = NULL;
    size_t nt = 0;
    hc_error_clear(&err);
    if (hc_tok_encode(t, text, tlen, flags & 1, (flags >> 1) & 1, &tok, &nt, &err) != HC_OK) {
        if (tok || !err.msg[0]) abort();
    } else {
        for (size_t i = 0; i < nt; i++)
            if (tok[i] < 0 || tok[i] >= nv) abort();
        char *back = NULL;
        size_t blen = 0;
        hc_error_clear(&err);
        if (hc_tok_decode(t, tok, nt, &back, &blen, &err) != HC_OK) abort();
        if (!back || back[blen] != 0) abort();
        if ((flags & 1) && !(flags & 2) && has_byte_tokens(t) && (blen != tlen || memcmp(back, text, tlen) != 0))
            abort();
        free(back);
        free(tok);
    }
    hc_tok_free(t);
out:
    free(file);
    free(text);
    return 0;
}

#include "fuzz_main.h"
