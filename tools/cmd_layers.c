/* cmd_layers.c — `hyperc layers FLOAT MODEL`: error accumulation through
 * depth. Both llama models run the same tokens; per layer, the relative
 * error of the hidden state after it and of its attention and feed-forward
 * outputs (src/infer/layers.c). */
#include "cli.h"
#include "commands.h"
#include "hyperc.h"
#include "hyperc_llm.h"
#include "../src/infer/layers.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void layers_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc layers FLOAT MODEL [--tokens N] [--text FILE] [--tokenizer T] [--ctx N]\n"
            "                     [--threads N] [--config C]\n"
            "  FLOAT, MODEL  the reference and the compressed llama model (.hyc, safetensors, GGUF, llama2.c)\n"
            "  --tokens N    tokens to run (default 4096)\n"
            "  --text FILE   the tokens: the start of FILE (tokenizer: --tokenizer, else the one MODEL\n"
            "                or FLOAT stores); default: text sampled from FLOAT (seed 1234)\n"
            "  --ctx N       tokens per window, each from a fresh cache (default 256, at most seq_len)\n"
            "  --config C    hyperparameters for both models (config.json)\n"
            "Prints per layer ||x_model - x_float|| / ||x_float|| over all tokens of: the hidden state\n"
            "after the layer (row 'embed': the embedding), the attention block output and the\n"
            "feed-forward block output (before their residual additions); then the logits' relative\n"
            "error, the mean KL divergence of the next-token distributions and top-1 agreement.\n");
}

int cmd_layers(int argc, char **argv) {
    const char *paths[2] = {NULL, NULL}, *text = NULL, *tok = NULL, *config = NULL;
    long n_tokens = 4096, ctx = 256, threads = 0;
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            layers_usage(stdout);
            return HC_EXIT_OK;
        }
        if (a[0] != '-' || !a[1]) {
            if (np == 2) {
                fprintf(stderr, "hyperc layers: unexpected argument '%s' (two models: FLOAT MODEL)\n", a);
                return HC_EXIT_USAGE;
            }
            paths[np++] = a;
            continue;
        }
        int known = !strcmp(a, "--tokens") || !strcmp(a, "--text") || !strcmp(a, "--tokenizer") ||
                    !strcmp(a, "--ctx") || !strcmp(a, "--threads") || !strcmp(a, "--config");
        if (!known) {
            fprintf(stderr, "hyperc layers: unknown option '%s' (see hyperc layers --help)\n", a);
            return HC_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hyperc layers: option %s needs a value\n", a);
            return HC_EXIT_USAGE;
        }
        const char *v = argv[++i];
        int ok = 1;
        if (!strcmp(a, "--tokens")) ok = !cli_parse_int(v, 1, 1L << 24, &n_tokens);
        else if (!strcmp(a, "--ctx")) ok = !cli_parse_int(v, 1, 1L << 24, &ctx);
        else if (!strcmp(a, "--threads")) ok = !cli_parse_int(v, 0, 256, &threads);
        else if (!strcmp(a, "--text")) text = v;
        else if (!strcmp(a, "--tokenizer")) tok = v;
        else config = v;
        if (!ok) {
            fprintf(stderr, "hyperc layers: bad value for %s: '%s'\n", a, v);
            return HC_EXIT_USAGE;
        }
    }
    if (np < 2) {
        fprintf(stderr, "hyperc layers: two models are required: FLOAT MODEL\n");
        layers_usage(stderr);
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_llm_model *m[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (hc_llm_open2(paths[k], config, cli_print_note, NULL, &m[k], &err) != HC_OK) {
            fprintf(stderr, "hyperc layers: %s\n", err.msg);
            hc_llm_free(m[0]);
            return HC_EXIT_FAIL;
        }
    const hc_llm_config *c = hc_llm_config_of(m[0]);
    if (ctx > c->seq_len) ctx = c->seq_len;
    int *tokens = NULL;
    size_t n = 0;
    int rc = HC_EXIT_FAIL;
    hc_status s = HC_OK;
    if (text) {
        const char *carrier = tok ? NULL : paths[1];
        if (!tok) { /* the tokenizer MODEL stores, else the one FLOAT stores */
            FILE *f = fopen(paths[1], "rb");
            char head[4] = {0};
            if (!f || fread(head, 1, 4, f) != 4 || (memcmp(head, "\x89HYC", 4) && memcmp(head, "GGUF", 4)))
                carrier = paths[0];
            if (f) fclose(f);
        }
        if (!cli_text_tokens("layers", carrier, tok, text, c->vocab_size, (size_t)n_tokens, &tokens, &n)) goto out;
    } else {
        s = hc_llm_sample_corpus(m[0], (size_t)n_tokens, c->seq_len, 1234, (int)threads, &tokens, &n, &err);
    }
    hc_layers_result r;
    if (!s) s = hc_llm_layer_errors(m[0], m[1], tokens, n, (int)ctx, (int)threads, &r, &err);
    if (s) {
        fprintf(stderr, "hyperc layers: %s\n", err.msg);
        goto out;
    }
    printf("%s (float) against %s: %llu tokens (%s), %d windows of up to %ld\n", paths[0], paths[1],
           (unsigned long long)r.tokens, text ? text : "sampled from the float model", r.windows, ctx);
    printf("%-6s %12s %12s %12s\n", "layer", "hidden", "attention", "ffn");
    printf("%-6s %12.4e %12s %12s\n", "embed", r.rows[0].hidden, "-", "-");
    for (int l = 0; l < r.n_layers; l++)
        printf("%-6d %12.4e %12.4e %12.4e\n", l, r.rows[l + 1].hidden, r.rows[l + 1].att, r.rows[l + 1].ffn);
    printf("logits %12.4e   KL %.4e nats/token   top-1 agreement %.2f%%\n", r.logits, r.kl, 100.0 * r.top1);
    hc_layers_result_free(&r);
    rc = HC_EXIT_OK;
out:
    free(tokens);
    hc_llm_free(m[0]);
    hc_llm_free(m[1]);
    return rc;
}
