/* cli_llm.h — helpers shared by `hyperc generate` and `hyperc perplexity`
 * (tools/cli_llm.c). */
#ifndef HC_CLI_LLM_H
#define HC_CLI_LLM_H

#include "hyperc_llm.h"
#include "../src/infer/tok_any.h"
#include <stddef.h>

/* A tokenizer of either kind, chosen by content (src/infer/tok_any.h). */
typedef hc_tok_any cli_tok;
#define cli_tok_free hc_tok_any_free
#define cli_tok_open hc_tok_any_open
#define cli_tok_encode hc_tok_any_encode

/* Peak resident set size of this process in MiB (0 if unknown). */
double llm_peak_rss_mib(void);
/* Reads a whole file (the text for perplexity); prints why and returns 0 on failure. *buf is malloc'd. */
int llm_read_file(const char *path, char **buf, size_t *len);
/* Opens model and tokenizer and checks that they belong together. The
 * tokenizer: --tokenizer if given, else the one stored in a .hyc. */
int llm_open_model_and_tokenizer(const char *cmd, const char *model_path, const char *config_path,
                                 const char *tok_path, hc_llm_model **m, cli_tok *t);
/* One option of generate/perplexity: NULL-terminated lists of the names of
 * the options that take a value. Returns 0 to go on (value or operand taken),
 * or prints why and returns HC_EXIT_USAGE: an unknown option (also at the end
 * of the line), a missing value, or a second MODEL operand. */
int llm_arg(const char *cmd, int argc, char **argv, int *i, const char *const *known, const char **model,
            const char **opt, const char **val);

#endif
