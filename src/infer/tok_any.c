/* tok_any.c — the one place that picks a tokenizer's reader by content,
 * for generate, perplexity and calibration (tok_any.h). Moved from
 * tools/cli_llm.c so that the library's calibration call can use it. */
#include "tok_any.h"
#include <stdio.h>
#include <string.h>

void hc_tok_any_free(hc_tok_any *t) {
    hc_tok_free(t->l2c);
    hc_tkz_free(t->hf);
    t->l2c = NULL;
    t->hf = NULL;
}

/* vocab: the model's vocabulary, which a tokenizer.json must not exceed */
static hc_status check_json_vocab(hc_tok_any *t, const char *label, int vocab, hc_error *err) {
    if (vocab > 0 && hc_tkz_vocab_size(t->hf) > vocab) {
        hc_status s = hc_fail(err, HC_E_ARG, "tokenizer '%s' has %d tokens, more than the model's vocabulary of %d",
                              label, hc_tkz_vocab_size(t->hf), vocab);
        hc_tok_any_free(t);
        return s;
    }
    return HC_OK;
}

/* The one place that picks a tokenizer's reader for generate, perplexity and
 * compress --calib (hyperc tokenize: hc_tkz_open, the same choice): a .hyc
 * gives its stored tokenizer (hc_tkz_hyc_attachment: flagged, else
 * tokenizer.json, else tokenizer.bin), else its GGUF vocabulary
 * (hc_tkz_from_hyc); a GGUF file its tokenizer.ggml.* vocabulary; a
 * tokenizer.json hc_tkz; anything else is a llama2.c tokenizer.bin, read by
 * src/infer/tokenizer.c (also when stored in a .hyc) as before.
 * l2c_vocab: tokens a llama2.c tokenizer must have (0: all in the file). */
hc_status hc_tok_any_open(const char *path, int l2c_vocab, int vocab, hc_tok_any *t, hc_error *err) {
    t->l2c = NULL;
    t->hf = NULL;
    char head[256];
    size_t got = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        got = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    static const uint8_t hyc_magic[4] = {0x89, 'H', 'Y', 'C'};
    if (got >= 4 && !memcmp(head, hyc_magic, 4)) {
        hc_hyc *h;
        hc_status s = hc_hyc_open(path, &h, err);
        if (s) return s;
        long k = hc_tkz_hyc_attachment(h);
        const uint8_t *p = NULL;
        const hc_hyc_attachment *a = k >= 0 ? hc_hyc_attachment_get(h, (size_t)k) : NULL;
        size_t nl = a ? strlen(a->name) : 0;
        if (a && (s = hc_hyc_attachment_data(h, (size_t)k, &p, err)) == HC_OK && !hc_tkz_is_json(p, (size_t)a->size) &&
            !(a->size >= 4 && !memcmp(p, "GGUF", 4)) && !(nl >= 6 && !strcmp(a->name + nl - 6, ".model")) &&
            !hc_tkz_is_spm(p, (size_t)a->size)) {
            char label[HC_ATTACH_NAME_MAX + 4200];
            snprintf(label, sizeof label, "%s stored in %.4000s", a->name, path);
            s = hc_tok_open_mem(p, (size_t)a->size, l2c_vocab, label, &t->l2c, err);
        } else if (!s) {
            s = hc_tkz_from_hyc(h, path, &t->hf, err);
        }
        hc_hyc_close(h);
        return s ? s : t->hf ? check_json_vocab(t, path, vocab, err) : HC_OK;
    }
    if (!hc_tkz_is_json(head, got) && !(got >= 4 && !memcmp(head, "GGUF", 4)) && !hc_tkz_file_is_spm(path))
        return hc_tok_open(path, l2c_vocab, &t->l2c, err); /* it says why it cannot */
    hc_status s = hc_tkz_open(path, &t->hf, err);
    return s ? s : check_json_vocab(t, path, vocab, err);
}

/* a document or prompt: BOS (llama2.c: always; tokenizer.json: as it says) + BPE */
hc_status hc_tok_any_encode(void *user, const char *text, size_t len, int **tokens, size_t *n, hc_error *err) {
    const hc_tok_any *t = user;
    if (t->l2c) return hc_tok_encode(t->l2c, text, len, 1, 0, tokens, n, err);
    return hc_tkz_encode(t->hf, text, len, HC_TKZ_SPECIALS, tokens, n, err);
}

