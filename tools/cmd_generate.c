/* cmd_generate.c — `hyperc generate`: text generation by llama-family
 * models read from .hyc, safetensors or llama2.c checkpoints (helpers in
 * tools/cli_llm.c). */
#include "cli.h"
#include "cli_llm.h"
#include "commands.h"
#include "hyperc.h"
#include "hyperc_llm.h"
#include "hyperc_tok.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    if (!llm_open_model_and_tokenizer("generate", model_path, config_path, tok_path, &m, &t)) return HC_EXIT_FAIL;
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
                st.prompt_tokens, st.prompt_seconds, llm_peak_rss_mib());
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
