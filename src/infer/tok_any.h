/* tok_any.h — a tokenizer of either kind: llama2.c tokenizer.bin
 * (src/infer/tokenizer.c) or one read by hyperc_tok.h (tokenizer.json, a
 * GGUF vocabulary, SentencePiece tokenizer.model), chosen by content; used
 * by `hyperc generate/perplexity` and hc_llm_calib_build. */
#ifndef HC_TOK_ANY_H
#define HC_TOK_ANY_H

#include "hyperc_llm.h"
#include "hyperc_tok.h"

typedef struct hc_tok_any {
    hc_tokenizer *l2c;
    hc_tkz *hf;
} hc_tok_any;

/* A .hyc gives its stored tokenizer (hc_tkz_hyc_attachment: flagged, else
 * tokenizer.json, else tokenizer.bin), else its GGUF vocabulary
 * (hc_tkz_from_hyc); a GGUF file its tokenizer.ggml.* vocabulary; a
 * tokenizer.json or tokenizer.model hc_tkz; anything else is a llama2.c
 * tokenizer.bin. l2c_vocab: tokens a llama2.c tokenizer must have (0: all in
 * the file); vocab: the model's vocabulary, which a hyperc_tok.h tokenizer
 * must not exceed (0: unchecked). */
hc_status hc_tok_any_open(const char *path, int l2c_vocab, int vocab, hc_tok_any *t, hc_error *err);
/* A document or prompt: BOS (llama2.c: always; others: as they say) + BPE;
 * an hc_llm_encode_fn over user = a hc_tok_any. */
hc_status hc_tok_any_encode(void *user, const char *text, size_t len, int **tokens, size_t *n, hc_error *err);
void hc_tok_any_free(hc_tok_any *t);

#endif
