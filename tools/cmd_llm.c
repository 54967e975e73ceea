/* cmd_llm.c — `hyperc generate` and `hyperc perplexity`: text generation
 * and perplexity of llama-family models read from .hyc, safetensors or
 * llama2.c checkpoints. */
#include "cli.h"
#include "commands.h"
#include "hyperc.h"
#include "hyperc_llm.h"
#include "hyperc_tok.h"
#include "../src/infer/tok_any.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* ---- small helpers --------------------------------------------------------- */
static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

/* As cli_parse_int (cli.h): 0 on success, -1 on a bad value. */
static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = (float)v;
    return 0;
}

/* Reads a whole file (the text for perplexity). */
static int read_file(const char *path, char **buf, size_t *len) {
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

/* A tokenizer of either kind, chosen by content (src/infer/tok_any.h). */
typedef hc_tok_any cli_tok;
#define cli_tok_free hc_tok_any_free
#define cli_tok_open hc_tok_any_open
#define cli_tok_encode hc_tok_any_encode

/* Opens model and tokenizer and checks that they belong together. The
 * tokenizer: --tokenizer if given, else the one stored in a .hyc. */
static int open_model_and_tokenizer(const char *cmd, const char *model_path, const char *config_path,
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
static int llm_arg(const char *cmd, int argc, char **argv, int *i, const char *const *known, const char **model,
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

/* ---- generate --------------------------------------------------------------------- */
static void generate_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc generate MODEL [--tokenizer T] [--prompt P] [-n N] [--temp T] [--topp P]\n"
            "                       [--seed S] [--threads N] [--config C]\n"
            "  MODEL       .hyc, safetensors or llama2.c .bin checkpoint\n"
            "  -n N        sequence length incl. the BOS and the prompt (default 256; 0: model's)\n"
            "  --temp T    0 = greedy (default 1.0); --topp P nucleus (default 0.9)\n"
            "  --tokenizer T  llama2.c tokenizer.bin, Hugging Face tokenizer.json, a GGUF or a .hyc\n"
            "              (default: the one a .hyc stores, or a GGUF's vocabulary)\n"
            "  --config C  hyperparameters (config.json), overriding what the file stores\n");
}

typedef struct gen_print {
    const cli_tok *t;
} gen_print;

/* Prints a piece as llama2.c does: lone bytes that are neither printable
 * nor whitespace are skipped. */
static int print_token(void *user, int prev, int token) {
    gen_print *g = user;
    size_t len;
    char buf[4 * HC_TKZ_MAX_TOKEN_BYTES];
    const char *p = buf;
    if (g->t->l2c) p = hc_tok_piece(g->t->l2c, prev, token, &len);
    else len = hc_tkz_token_text(g->t->hf, prev, token, buf, sizeof buf);
    if (len == 1 && !isprint((unsigned char)p[0]) && !isspace((unsigned char)p[0])) return 0;
    fwrite(p, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = "", *config_path = NULL;
    long steps = 256, threads = 0;
    hc_llm_sampling sp = {1.0f, 0.9f, (uint64_t)time(NULL)};
    static const char *const known[] = {"--tokenizer", "-z", "--prompt", "-i", "--config", "-n", "--steps",
                                        "--temp", "-t", "--topp", "-p", "--seed", "-s", "--threads", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int ok = 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            generate_usage(stdout); /* asked for: standard output, checked at exit */
            return HC_EXIT_OK;
        }
        if (llm_arg("generate", argc, argv, &i, known, &model_path, &a, &v)) return HC_EXIT_USAGE;
        if (!a) continue; /* the MODEL operand */
        if (strcmp(a, "--tokenizer") == 0 || strcmp(a, "-z") == 0) {
            tok_path = v;
        } else if (strcmp(a, "--prompt") == 0 || strcmp(a, "-i") == 0) {
            prompt = v;
        } else if (strcmp(a, "--config") == 0) {
            config_path = v;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--steps") == 0) {
            ok = !cli_parse_int(v, 0, 1L << 24, &steps);
        } else if (strcmp(a, "--temp") == 0 || strcmp(a, "-t") == 0) {
            ok = !parse_float(v, 0, 1e6, &sp.temperature);
        } else if (strcmp(a, "--topp") == 0 || strcmp(a, "-p") == 0) {
            ok = !parse_float(v, 0, 1, &sp.topp);
        } else if (strcmp(a, "--seed") == 0 || strcmp(a, "-s") == 0) {
            ok = !parse_u64(v, &sp.seed);
        } else if (strcmp(a, "--threads") == 0) {
            ok = !cli_parse_int(v, 0, 256, &threads);
        }
        if (!ok) {
            fprintf(stderr, "hyperc generate: bad value for %s: '%s'\n", a, v);
            generate_usage(stderr);
            return HC_EXIT_USAGE;
        }
    }
    if (!model_path) {
        fprintf(stderr, "hyperc generate: %s is required\n", "MODEL");
        generate_usage(stderr);
        return HC_EXIT_USAGE;
    }

    hc_llm_model *m;
    cli_tok t;
    if (!open_model_and_tokenizer("generate", model_path, config_path, tok_path, &m, &t)) return HC_EXIT_FAIL;
    int seq_len = hc_llm_config_of(m)->seq_len;
    if (steps == 0 || steps > seq_len) steps = seq_len;
    hc_error err;
    hc_error_clear(&err);
    int *prompt_tokens = NULL;
    size_t n_prompt = 0;
    hc_llm_state *s = NULL;
    hc_llm_gen_stats st;
    int rc = HC_EXIT_FAIL;
    gen_print gp = {&t};
    if (cli_tok_encode(&t, prompt, strlen(prompt), &prompt_tokens, &n_prompt, &err) == HC_OK &&
        (n_prompt > 0 || hc_fail(&err, HC_E_ARG, "the prompt gives no token and the tokenizer adds no BOS: give --prompt") == HC_OK) &&
        hc_llm_state_new(m, (int)steps, 0, (int)threads, &s, &err) == HC_OK &&
        hc_llm_generate(s, prompt_tokens, (int)n_prompt, (int)steps, &sp, print_token, &gp, &st, &err) == HC_OK) {
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "generated %d tokens in %.3f s: %.1f tokens/s (prompt %d tokens in %.3f s); peak RSS %.1f MiB\n",
                st.generated, st.gen_seconds, st.gen_seconds > 0 ? st.generated / st.gen_seconds : 0.0,
                st.prompt_tokens, st.prompt_seconds, peak_rss_mib());
        rc = HC_EXIT_OK;
    } else {
        fprintf(stderr, "hyperc generate: %s\n", err.msg);
    }
    hc_llm_state_free(s);
    free(prompt_tokens);
    cli_tok_free(&t);
    hc_llm_free(m);
    return rc;
}

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
    if (!open_model_and_tokenizer("perplexity", model_path, config_path, tok_path, &m, &t)) return HC_EXIT_FAIL;
    char *text;
    size_t len;
    if (!read_file(text_path, &text, &len)) {
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
                (unsigned long long)r.scored, r.seconds, peak_rss_mib());
    } else {
        fprintf(stderr, "hyperc perplexity: %s\n", err.msg);
        rc = HC_EXIT_FAIL;
    }
    free(text);
    cli_tok_free(&t);
    hc_llm_free(m);
    return rc;
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
    if (!read_file(text_path, &text, &len)) {
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
