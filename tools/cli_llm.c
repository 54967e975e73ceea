/* cli_llm.c — helpers of the llama-family commands (tools/cmd_generate.c,
 * tools/cmd_perplexity.c): model and tokenizer opening, their option
 * scanner, reading a text; also the calibration of `compress --calib` and
 * the tokens of a text file for `hyperc layers`. */
#include "cli.h"
#include "cli_llm.h"
#include "commands.h"
#include "hyperc.h"
#include "hyperc_llm.h"
#include "hyperc_tok.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ---- small helpers --------------------------------------------------------- */
double llm_peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

/* Reads a whole file (the text for perplexity). */
int llm_read_file(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hyperc: cannot open '%s': %s\n", path, strerror(errno));
        return 0;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n == cap) {
            char *nb = cap > ((size_t)1 << 31) ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int ok = b && !ferror(f);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "hyperc: cannot read '%s' (%s)\n", path, b ? "read error" : "out of memory or too large");
        free(b);
        return 0;
    }
    *buf = b;
    *len = n;
    return 1;
}

static void print_notice(void *user, const char *line) {
    (void)user;
    fprintf(stderr, "hyperc: warning: %s\n", line);
}

/* Opens model and tokenizer and checks that they belong together. The
 * tokenizer: --tokenizer if given, else the one stored in a .hyc. */
int llm_open_model_and_tokenizer(const char *cmd, const char *model_path, const char *config_path,
                                 const char *tok_path, hc_llm_model **m, cli_tok *t) {
    hc_error err;
    hc_error_clear(&err);
    if (hc_llm_open2(model_path, config_path, print_notice, NULL, m, &err) != HC_OK) {
        fprintf(stderr, "hyperc %s: %s\n", cmd, err.msg);
        return 0;
    }
    char stored_label[4400];
    int vocab = hc_llm_config_of(*m)->vocab_size;
    if (!tok_path) {
        /* a .hyc or GGUF model: the tokenizer it carries */
        FILE *f = fopen(model_path, "rb");
        uint8_t head[4] = {0};
        int carries = f && fread(head, 1, 4, f) == 4 && (!memcmp(head, "GGUF", 4) || !memcmp(head, "\x89HYC", 4));
        if (f) fclose(f);
        if (!carries || cli_tok_open(model_path, 0, vocab, t, &err) != HC_OK) {
            if (carries) fprintf(stderr, "hyperc %s: %s\n", cmd, err.msg);
            fprintf(stderr, "hyperc %s: --tokenizer is required: '%s' stores no usable tokenizer\n", cmd, model_path);
            hc_llm_free(*m);
            return 0;
        }
        snprintf(stored_label, sizeof stored_label, "stored in '%.4300s'", model_path);
        tok_path = stored_label;
    } else if (cli_tok_open(tok_path, 0, vocab, t, &err) != HC_OK) {
        fprintf(stderr, "hyperc %s: %s\n", cmd, err.msg);
        hc_llm_free(*m);
        return 0;
    }
    if (t->l2c && hc_tok_vocab_size(t->l2c) != vocab) {
        fprintf(stderr, "hyperc %s: tokenizer '%s' has %d tokens but model '%s' has a vocabulary of %d: they do not belong together\n",
                cmd, tok_path, hc_tok_vocab_size(t->l2c), model_path, vocab);
        cli_tok_free(t);
        hc_llm_free(*m);
        return 0;
    }
    return 1;
}

/* One option of generate/perplexity: NULL-terminated lists of the names of
 * the options that take a value. Returns 0 to go on (value or operand taken),
 * or prints why and returns HC_EXIT_USAGE: an unknown option (also at the end
 * of the line), a missing value, or a second MODEL operand. */
int llm_arg(const char *cmd, int argc, char **argv, int *i, const char *const *known, const char **model,
            const char **opt, const char **val) {
    const char *a = argv[*i];
    *opt = *val = NULL;
    if (a[0] != '-' || !a[1]) {
        if (*model) {
            fprintf(stderr, "hyperc %s: unexpected argument '%s' (one MODEL only; '%s' given before)\n", cmd, a,
                    *model);
            return HC_EXIT_USAGE;
        }
        *model = a;
        return 0;
    }
    int k = 0;
    while (known[k] && strcmp(known[k], a) != 0) k++;
    if (!known[k]) {
        fprintf(stderr, "hyperc %s: unknown option '%s' (see hyperc %s --help)\n", cmd, a, cmd);
        return HC_EXIT_USAGE;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "hyperc %s: option %s needs a value\n", cmd, a);
        return HC_EXIT_USAGE;
    }
    *opt = a;
    *val = argv[++*i];
    return 0;
}

/* ---- calibration for `hyperc compress --calib` (hc_llm_calib_build) ------- */
int cli_build_calib(const char *model_path, const char *source, const char *tokenizer, long n_tokens, int threads,
                    int quiet, const hc_opts *o, hc_calib **out) {
    hc_error err;
    hc_error_clear(&err);
    double t0 = cli_now();
    if (strcmp(source, "self") && !tokenizer) { /* a GGUF model carries its vocabulary */
        FILE *f = fopen(model_path, "rb");
        char head[4] = {0};
        int gguf = f && fread(head, 1, 4, f) == 4 && !memcmp(head, "GGUF", 4);
        if (f) fclose(f);
        if (!gguf) {
            fprintf(stderr, "hyperc compress: --calib FILE needs --tokenizer (or use --calib self)\n");
            return HC_EXIT_USAGE;
        }
    }
    size_t n = 0;
    hc_status s = hc_llm_calib_build(model_path, source, tokenizer, n_tokens > 0 ? (size_t)n_tokens : 0, o, threads,
                                     out, &n, &err);
    if (s) {
        fprintf(stderr, "hyperc compress: --calib %s: %s\n", source, err.msg);
        return HC_EXIT_FAIL;
    }
    if (!quiet)
        printf("calibration: %zu tokens (%s), statistics for %zu matrices, %.2f s\n", n,
               strcmp(source, "self") ? source : "sampled from the model", hc_calib_count(*out), cli_now() - t0);
    return HC_EXIT_OK;
}

/* ---- tokens of a text file for `hyperc layers` ------------------------------- */
int cli_text_tokens(const char *cmd, const char *model_path, const char *tok_path, const char *text_path, int vocab,
                    size_t max_tokens, int **tokens, size_t *n) {
    *tokens = NULL;
    *n = 0;
    hc_error err;
    hc_error_clear(&err);
    cli_tok t = {0};
    const char *tp = tok_path ? tok_path : model_path; /* a .hyc or GGUF carries its tokenizer */
    if (cli_tok_open(tp, 0, vocab, &t, &err) != HC_OK) {
        fprintf(stderr, "hyperc %s: %s%s\n", cmd, err.msg, tok_path ? "" : " (give --tokenizer)");
        return 0;
    }
    if (t.l2c && hc_tok_vocab_size(t.l2c) != vocab) {
        fprintf(stderr, "hyperc %s: tokenizer '%s' has %d tokens, the model %d\n", cmd, tp, hc_tok_vocab_size(t.l2c),
                vocab);
        cli_tok_free(&t);
        return 0;
    }
    char *text;
    size_t len;
    if (!llm_read_file(text_path, &text, &len)) {
        cli_tok_free(&t);
        return 0;
    }
    /* a token is rarely shorter than one byte: 64 bytes a token is plenty */
    if (max_tokens > 0 && max_tokens < ((size_t)1 << 40) && len > max_tokens * 64) len = max_tokens * 64;
    hc_status s = cli_tok_encode(&t, text, len, tokens, n, &err);
    free(text);
    cli_tok_free(&t);
    if (s) {
        fprintf(stderr, "hyperc %s: '%s': %s\n", cmd, text_path, err.msg);
        return 0;
    }
    if (max_tokens > 0 && *n > max_tokens) *n = max_tokens;
    return 1;
}
