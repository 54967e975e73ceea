/* calib_build.c — calibration for compression in one call
 * (hc_llm_calib_build, hyperc_llm.h): model, tokens (sampled from the model
 * or a text file and a tokenizer), statistics, and with a size budget each
 * matrix's sensitivity. */
#include "../codec/codec.h"
#include "infer.h"
#include "tok_any.h"
#include <stdlib.h>
#include <string.h>

/* 1 if the file at path begins with the GGUF magic */
static int is_gguf(const char *path) {
    FILE *f = fopen(path, "rb");
    char head[4] = {0};
    int yes = f && fread(head, 1, 4, f) == 4 && !memcmp(head, "GGUF", 4);
    if (f) fclose(f);
    return yes;
}

/* tokens of a text file, at most max */
static hc_status text_tokens(const hc_llm_model *m, const char *text_path, const char *tokenizer_path, size_t max,
                             int **tokens, size_t *n, hc_error *err) {
    const hc_llm_config *cfg = hc_llm_config_of(m);
    hc_map map;
    hc_status s = hc_map_file(text_path, &map, err);
    if (s) return hc_error_context(err, s, "calibration text '%s'", text_path);
    hc_tok_any tok = {0};
    s = hc_tok_any_open(tokenizer_path, cfg->vocab_size, cfg->vocab_size, &tok, err);
    if (s)
        s = hc_error_context(err, s, "tokenizer '%s'", tokenizer_path);
    else if ((s = hc_tok_any_encode(&tok, (const char *)map.ptr, (size_t)map.len, tokens, n, err)) != HC_OK)
        s = hc_error_context(err, s, "calibration text '%s'", text_path);
    if (!s && *n > max) *n = max;
    hc_tok_any_free(&tok);
    hc_unmap(&map);
    return s;
}

hc_status hc_llm_calib_build(const char *model_path, const char *text_path, const char *tokenizer_path,
                             size_t max_tokens, const hc_opts *o, int threads, hc_calib **out,
                             size_t *n_tokens, hc_error *err) {
    if (out) *out = NULL;
    if (n_tokens) *n_tokens = 0;
    if (!model_path || !out) return hc_fail(err, HC_E_ARG, "calibration: no model or no output");
    if (max_tokens == 0) return hc_fail(err, HC_E_ARG, "calibration '%s': 0 tokens asked for", model_path);
    int self = !text_path || !strcmp(text_path, "self");
    if (!self && !tokenizer_path) {
        if (!is_gguf(model_path))
            return hc_fail(err, HC_E_ARG,
                           "calibration '%s': the text '%s' needs a tokenizer (the model carries none; or sample "
                           "the text from the model)",
                           model_path, text_path);
        tokenizer_path = model_path; /* a GGUF model: its own vocabulary */
    }
    hc_llm_model *m = NULL;
    hc_status s = hc_llm_open(model_path, NULL, &m, err);
    if (s) return hc_error_context(err, s, "calibration needs a llama-family model");
    int *tokens = NULL;
    size_t n = 0;
    if (self)
        s = hc_llm_sample_corpus(m, max_tokens, hc_llm_config_of(m)->seq_len, 1234, threads, &tokens, &n, err);
    else
        s = text_tokens(m, text_path, tokenizer_path, max_tokens, &tokens, &n, err);
    if (!s) s = hc_llm_calibrate(m, tokens, n, 0, threads, out, err);
    if (!s && o && o->target_bpw > 0) {
        /* rate allocation: weigh each matrix by what its error costs the
         * model, probed near the middle of the codec's range */
        hc_opts probe;
        hc_codec_probe_setting(o, &probe);
        s = hc_llm_sensitivity(m, tokens, n, 0, &probe, threads, *out, err);
    }
    if (s) {
        s = hc_error_context(err, s, "calibration '%s'", model_path);
        hc_calib_free(*out);
        *out = NULL;
    } else if (n_tokens) {
        *n_tokens = n;
    }
    free(tokens);
    hc_llm_free(m);
    return s;
}
