/* cmd_llm.c — `hyperc generate` and `hyperc perplexity`: text generation
 * and perplexity of llama-family models read from .hyc, safetensors or
 * llama2.c checkpoints. */
#include "cli.h"
#include "commands.h"
#include "hyperc.h"
#include "hyperc_llm.h"
#include "hyperc_tok.h"
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

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return 0;
    *out = (float)v;
    return 1;
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

/* A tokenizer of either kind: llama2.c tokenizer.bin (src/infer/tokenizer.c)
 * or Hugging Face tokenizer.json (hyperc_tok.h), chosen by content. */
typedef struct cli_tok {
    hc_tokenizer *l2c;
    hc_tkz *hf;
} cli_tok;

static void cli_tok_free(cli_tok *t) {
    hc_tok_free(t->l2c);
    hc_tkz_free(t->hf);
    t->l2c = NULL;
    t->hf = NULL;
}

/* l2c_vocab: tokens a llama2.c tokenizer must have (0: all in the file);
 * vocab: the model's vocabulary, which a tokenizer.json must not exceed */
static hc_status cli_tok_open(const char *path, int l2c_vocab, int vocab, cli_tok *t, hc_error *err) {
    t->l2c = NULL;
    t->hf = NULL;
    char head[256];
    size_t got = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        got = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    if (!hc_tkz_is_json(head, got)) return hc_tok_open(path, l2c_vocab, &t->l2c, err); /* it says why it cannot */
    hc_status s = hc_tkz_open(path, &t->hf, err);
    if (!s && vocab > 0 && hc_tkz_vocab_size(t->hf) > vocab) {
        s = hc_fail(err, HC_E_ARG, "tokenizer '%s' has %d tokens, more than the model's vocabulary of %d", path,
                    hc_tkz_vocab_size(t->hf), vocab);
        cli_tok_free(t);
    }
    return s;
}

/* a document or prompt: BOS (llama2.c: always; tokenizer.json: as it says) + BPE */
static hc_status cli_tok_encode(void *user, const char *text, size_t len, int **tokens, size_t *n, hc_error *err) {
    const cli_tok *t = user;
    if (t->l2c) return hc_tok_encode(t->l2c, text, len, 1, 0, tokens, n, err);
    return hc_tkz_encode(t->hf, text, len, HC_TKZ_SPECIALS, tokens, n, err);
}

/* Opens model and tokenizer and checks that they belong together. */
static int open_model_and_tokenizer(const char *model_path, const char *config_path, const char *tok_path,
                                    hc_llm_model **m, cli_tok *t) {
    hc_error err;
    hc_error_clear(&err);
    if (hc_llm_open(model_path, config_path, m, &err) != HC_OK) {
        fprintf(stderr, "hyperc: %s\n", err.msg);
        return 0;
    }
    int vocab = hc_llm_config_of(*m)->vocab_size;
    if (cli_tok_open(tok_path, 0, vocab, t, &err) != HC_OK) {
        fprintf(stderr, "hyperc: %s\n", err.msg);
        hc_llm_free(*m);
        return 0;
    }
    if (t->l2c && hc_tok_vocab_size(t->l2c) != vocab) {
        fprintf(stderr, "hyperc: tokenizer '%s' has %d tokens but model '%s' has a vocabulary of %d: they do not belong together\n",
                tok_path, hc_tok_vocab_size(t->l2c), model_path, vocab);
        cli_tok_free(t);
        hc_llm_free(*m);
        return 0;
    }
    return 1;
}

/* ---- generate --------------------------------------------------------------------- */
static void generate_usage(void) {
    fprintf(stderr,
            "usage: hyperc generate MODEL --tokenizer T [--prompt P] [-n N] [--temp T] [--topp P]\n"
            "  T           llama2.c tokenizer.bin or Hugging Face tokenizer.json\n"
            "                       [--seed S] [--threads N] [--config C]\n"
            "  MODEL       .hyc, safetensors or llama2.c .bin checkpoint\n"
            "  -n N        sequence length incl. the BOS and the prompt (default 256; 0: model's)\n"
            "  --temp T    0 = greedy (default 1.0); --topp P nucleus (default 0.9)\n"
            "  --config C  hyperparameters (config.json) for safetensors/.hyc\n");
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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            generate_usage();
            return HC_EXIT_OK;
        } else if (a[0] != '-') {
            if (model_path) ok = 0;
            model_path = a;
            continue;
        } else if (!v) {
            ok = 0;
        } else if (strcmp(a, "--tokenizer") == 0 || strcmp(a, "-z") == 0) {
            tok_path = v;
        } else if (strcmp(a, "--prompt") == 0 || strcmp(a, "-i") == 0) {
            prompt = v;
        } else if (strcmp(a, "--config") == 0) {
            config_path = v;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--steps") == 0) {
            ok = parse_long(v, 0, 1L << 24, &steps);
        } else if (strcmp(a, "--temp") == 0 || strcmp(a, "-t") == 0) {
            ok = parse_float(v, 0, 1e6, &sp.temperature);
        } else if (strcmp(a, "--topp") == 0 || strcmp(a, "-p") == 0) {
            ok = parse_float(v, 0, 1, &sp.topp);
        } else if (strcmp(a, "--seed") == 0 || strcmp(a, "-s") == 0) {
            ok = parse_u64(v, &sp.seed);
        } else if (strcmp(a, "--threads") == 0) {
            ok = parse_long(v, 0, 256, &threads);
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "hyperc generate: bad or incomplete option '%s'%s%s\n", a, v ? " " : "", v ? v : "");
            generate_usage();
            return HC_EXIT_USAGE;
        }
        i++;
    }
    if (!model_path || !tok_path) {
        fprintf(stderr, "hyperc generate: %s is required\n", model_path ? "--tokenizer" : "MODEL");
        generate_usage();
        return HC_EXIT_USAGE;
    }

    hc_llm_model *m;
    cli_tok t;
    if (!open_model_and_tokenizer(model_path, config_path, tok_path, &m, &t)) return HC_EXIT_FAIL;
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
static void perplexity_usage(void) {
    fprintf(stderr,
            "usage: hyperc perplexity MODEL --tokenizer T --text FILE [--ctx N] [--threads N]\n"
            "                         [--max-windows K] [--config C]\n"
            "  protocol: docs/PERPLEXITY.md (documents at blank lines, BOS + BPE each,\n"
            "  non-overlapping windows of --ctx tokens, default the model's context)\n");
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *text_path = NULL, *config_path = NULL;
    long ctx = 0, threads = 0, max_windows = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            perplexity_usage();
            return HC_EXIT_OK;
        } else if (a[0] != '-') {
            if (model_path) ok = 0;
            model_path = a;
            continue;
        } else if (!v) {
            ok = 0;
        } else if (strcmp(a, "--tokenizer") == 0 || strcmp(a, "-z") == 0) {
            tok_path = v;
        } else if (strcmp(a, "--text") == 0) {
            text_path = v;
        } else if (strcmp(a, "--config") == 0) {
            config_path = v;
        } else if (strcmp(a, "--ctx") == 0) {
            ok = parse_long(v, 2, 1L << 24, &ctx);
        } else if (strcmp(a, "--threads") == 0) {
            ok = parse_long(v, 0, 256, &threads);
        } else if (strcmp(a, "--max-windows") == 0) {
            ok = parse_long(v, 0, 1L << 40, &max_windows);
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "hyperc perplexity: bad or incomplete option '%s'%s%s\n", a, v ? " " : "", v ? v : "");
            perplexity_usage();
            return HC_EXIT_USAGE;
        }
        i++;
    }
    if (!model_path || !tok_path || !text_path) {
        fprintf(stderr, "hyperc perplexity: %s is required\n", !model_path ? "MODEL" : !tok_path ? "--tokenizer" : "--text");
        perplexity_usage();
        return HC_EXIT_USAGE;
    }
    hc_llm_model *m;
    cli_tok t;
    if (!open_model_and_tokenizer(model_path, config_path, tok_path, &m, &t)) return HC_EXIT_FAIL;
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

/* ---- calibration for `hyperc compress --calib` ------------------------------ */
int cli_build_calib(const char *model_path, const char *source, const char *tokenizer, long n_tokens, int threads,
                    int quiet, const hc_opts *o, hc_calib **out) {
    *out = NULL;
    hc_error err;
    hc_error_clear(&err);
    double t0 = cli_now();
    hc_llm_model *m = NULL;
    if (hc_llm_open(model_path, NULL, &m, &err)) {
        fprintf(stderr, "hyperc compress: --calib needs a llama-family model: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    int *tokens = NULL, rc = HC_EXIT_OK;
    size_t n = 0;
    const hc_llm_config *cfg = hc_llm_config_of(m);
    hc_status s;
    if (!strcmp(source, "self")) {
        s = hc_llm_sample_corpus(m, (size_t)n_tokens, cfg->seq_len, 1234, threads, &tokens, &n, &err);
    } else {
        char *text = NULL;
        size_t len = 0;
        cli_tok tok = {0};
        if (!tokenizer) {
            fprintf(stderr, "hyperc compress: --calib FILE needs --tokenizer (or use --calib self)\n");
            hc_llm_free(m);
            return HC_EXIT_USAGE;
        }
        if (!read_file(source, &text, &len)) {
            hc_llm_free(m);
            return HC_EXIT_FAIL;
        }
        s = cli_tok_open(tokenizer, cfg->vocab_size, cfg->vocab_size, &tok, &err);
        if (!s) s = cli_tok_encode(&tok, text, len, &tokens, &n, &err);
        if (!s && n > (size_t)n_tokens) n = (size_t)n_tokens;
        cli_tok_free(&tok);
        free(text);
    }
    if (!s) s = hc_llm_calibrate(m, tokens, n, 0, threads, out, &err);
    if (!s && o->target_bpw > 0) {
        /* rate allocation: weigh each matrix by what its error costs the
         * model, probed near the middle of the codec's range */
        hc_opts probe = *o;
        probe.target_bpw = probe.target_snr = 0;
        if (probe.codec == HC_CODEC_HLAT) probe.bits = 17;
        s = hc_llm_sensitivity(m, tokens, n, 0, &probe, threads, *out, &err);
    }
    if (s) {
        fprintf(stderr, "hyperc compress: calibration from '%s': %s\n", source, err.msg);
        rc = HC_EXIT_FAIL;
    } else if (!quiet) {
        printf("calibration: %zu tokens (%s), statistics for %zu matrices, %.2f s\n", n,
               strcmp(source, "self") ? source : "sampled from the model", hc_calib_count(*out), cli_now() - t0);
    }
    free(tokens);
    hc_llm_free(m);
    return rc;
}
