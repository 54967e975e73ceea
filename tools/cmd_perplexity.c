/* cmd_perplexity.c — `hyperc perplexity`: perplexity of llama-family
 * models read from .hyc, safetensors or llama2.c checkpoints (helpers in
 * tools/cli_llm.c). */
#include "cli.h"
#include "cli_llm.h"
#include "commands.h"
#include "hyperc.h"
#include "hyperc_llm.h"
#include "hyperc_tok.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- perplexity ----------------------------------------------------------------------- */
static void perplexity_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc perplexity MODEL [--tokenizer T] --text FILE [--ctx N] [--threads N]\n"
            "                         [--max-windows K] [--config C]\n"
            "  protocol: docs/PERPLEXITY.md (documents at blank lines, BOS + BPE each,\n"
            "  non-overlapping windows of --ctx tokens, default the model's context)\n");
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *text_path = NULL, *config_path = NULL;
    long ctx = 0, threads = 0, max_windows = 0;
    static const char *const known[] = {"--tokenizer", "-z", "--text", "--config", "--ctx", "--threads",
                                        "--max-windows", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int ok = 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            perplexity_usage(stdout); /* asked for: standard output, checked at exit */
            return HC_EXIT_OK;
        }
        if (llm_arg("perplexity", argc, argv, &i, known, &model_path, &a, &v)) return HC_EXIT_USAGE;
        if (!a) continue; /* the MODEL operand */
        if (strcmp(a, "--tokenizer") == 0 || strcmp(a, "-z") == 0) {
            tok_path = v;
        } else if (strcmp(a, "--text") == 0) {
            text_path = v;
        } else if (strcmp(a, "--config") == 0) {
            config_path = v;
        } else if (strcmp(a, "--ctx") == 0) {
            ok = !cli_parse_int(v, 2, 1L << 24, &ctx);
        } else if (strcmp(a, "--threads") == 0) {
            ok = !cli_parse_int(v, 0, 256, &threads);
        } else if (strcmp(a, "--max-windows") == 0) {
            ok = !cli_parse_int(v, 0, 1L << 40, &max_windows);
        }
        if (!ok) {
            fprintf(stderr, "hyperc perplexity: bad value for %s: '%s'\n", a, v);
            perplexity_usage(stderr);
            return HC_EXIT_USAGE;
        }
    }
    if (!model_path || !text_path) {
        fprintf(stderr, "hyperc perplexity: %s is required\n", !model_path ? "MODEL" : "--text");
        perplexity_usage(stderr);
        return HC_EXIT_USAGE;
    }
    hc_llm_model *m;
    cli_tok t;
    if (!llm_open_model_and_tokenizer("perplexity", model_path, config_path, tok_path, &m, &t)) return HC_EXIT_FAIL;
    char *text;
    size_t len;
    if (!llm_read_file(text_path, &text, &len)) {
        cli_tok_free(&t);
        hc_llm_free(m);
        return HC_EXIT_FAIL;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_llm_ppl_result r;
    int rc = HC_EXIT_OK;
    hc_status ps = t.l2c ? hc_llm_perplexity(m, t.l2c, text, len, (int)ctx, max_windows, (int)threads, &r, &err)
                         : hc_llm_perplexity_fn(m, cli_tok_encode, &t, text, len, (int)ctx, max_windows, (int)threads, &r, &err);
    if (ps == HC_OK) {
        printf("perplexity: %.4f\n", r.perplexity);
        printf("documents: %llu\ntokens: %llu\nwindows: %llu (ctx %d, %llu tokens scored)\n",
               (unsigned long long)r.documents, (unsigned long long)r.tokens, (unsigned long long)r.windows, r.ctx,
               (unsigned long long)r.scored);
        fflush(stdout);
        fprintf(stderr, "%.1f tokens/s (%llu tokens in %.2f s); peak RSS %.1f MiB\n",
                r.seconds > 0 ? (double)r.scored / r.seconds : 0.0,
                (unsigned long long)r.scored, r.seconds, llm_peak_rss_mib());
    } else {
        fprintf(stderr, "hyperc perplexity: %s\n", err.msg);
        rc = HC_EXIT_FAIL;
    }
    free(text);
    cli_tok_free(&t);
    hc_llm_free(m);
    return rc;
}
