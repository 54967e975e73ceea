/* cmd_tokenize.c — `hyperc tokenize`: token ids (and pieces) of a text, as
 * llama.cpp's llama-tokenize prints them. */
#include "cli.h"
#include "commands.h"
#include "hyperc_tok.h"
#include "../src/common/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc tokenize --tokenizer T (--text FILE | --prompt P) [--ids] [--no-bos] [--stats]\n"
            "  T         tokenizer.json (tokenizer_config.json beside it is read too), SentencePiece tokenizer.model (BPE),\n"
            "            llama2.c tokenizer.bin,\n"
            "            a GGUF (its tokenizer.ggml.* vocabulary) or a .hyc (the tokenizer it stores, else\n"
            "            the vocabulary of the GGUF it was made from)\n"
            "  --ids     the ids alone, space-separated, on one line\n"
            "  --no-bos  no BOS even where the tokenizer adds one\n"
            "  --stats   token count and speed on stderr\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *tok_path = NULL, *text_path = NULL, *prompt = NULL;
    int ids_only = 0, no_bos = 0, stats = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tokenize_usage(stdout);
            return HC_EXIT_OK;
        } else if (!strcmp(a, "--ids")) {
            ids_only = 1;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = 1;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else if (v && (!strcmp(a, "--tokenizer") || !strcmp(a, "-z"))) {
            tok_path = argv[++i];
        } else if (v && (!strcmp(a, "--text") || !strcmp(a, "-f"))) {
            text_path = argv[++i];
        } else if (v && (!strcmp(a, "--prompt") || !strcmp(a, "-p"))) {
            prompt = argv[++i];
        } else {
            fprintf(stderr, "hyperc tokenize: bad or incomplete option '%s'\n", a);
            tokenize_usage(stderr);
            return HC_EXIT_USAGE;
        }
    }
    if (!tok_path || (!text_path == !prompt)) {
        fprintf(stderr, "hyperc tokenize: %s\n", !tok_path ? "--tokenizer is required" : "give one of --text and --prompt");
        tokenize_usage(stderr);
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_tkz *t;
    if (hc_tkz_open(tok_path, &t, &err)) {
        fprintf(stderr, "hyperc tokenize: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    hc_map m = {0};
    const char *text = prompt;
    size_t len = prompt ? strlen(prompt) : 0;
    if (text_path) {
        if (hc_map_file(text_path, &m, &err)) {
            fprintf(stderr, "hyperc tokenize: %s\n", err.msg);
            hc_tkz_free(t);
            return HC_EXIT_FAIL;
        }
        text = (const char *)m.ptr;
        len = (size_t)m.len;
    }
    int *ids = NULL;
    size_t n = 0;
    double t0 = cli_now();
    int rc = HC_EXIT_OK;
    if (hc_tkz_encode(t, text ? text : "", len, HC_TKZ_SPECIALS | (no_bos ? HC_TKZ_NO_BOS : 0), &ids, &n, &err)) {
        fprintf(stderr, "hyperc tokenize: %s\n", err.msg);
        rc = HC_EXIT_FAIL;
    } else {
        double dt = cli_now() - t0;
        char buf[4 * HC_TKZ_MAX_TOKEN_BYTES];
        for (size_t i = 0; i < n; i++) {
            if (ids_only) {
                printf(i ? " %d" : "%d", ids[i]);
                continue;
            }
            size_t l = hc_tkz_token_text(t, -1, ids[i], buf, sizeof buf);
            printf("%6d -> '", ids[i]);
            for (size_t k = 0; k < l; k++) {
                unsigned char c = (unsigned char)buf[k];
                if (c == '\n') fputs("\\n", stdout);
                else if (c == '\t') fputs("\\t", stdout);
                else if (c == '\r') fputs("\\r", stdout);
                else if (c < 32 || c == 127) printf("\\x%02X", c);
                else putchar(c);
            }
            printf("'\n");
        }
        if (ids_only) printf("\n");
        if (stats)
            fprintf(stderr, "%zu tokens from %zu bytes in %.3f s (%.0f tokens/s)\n", n, len, dt, dt > 0 ? (double)n / dt : 0.0);
    }
    free(ids);
    hc_unmap(&m);
    hc_tkz_free(t);
    return rc;
}
