/* commands.h — the subcommands of the hyperc CLI. Each takes the argument
 * vector after the program name (argv[0] is the subcommand's name) and
 * returns the process exit code: 0 success, 1 failure of the operation
 * (message on stderr), 2 bad usage. */
#ifndef HC_COMMANDS_H
#define HC_COMMANDS_H

#include <stddef.h>

int cmd_compress(int argc, char **argv);   /* tools/cmd_compress.c */
int cmd_decompress(int argc, char **argv); /* tools/cmd_decompress.c */
int cmd_info(int argc, char **argv);       /* tools/cmd_info.c */
int cmd_compare(int argc, char **argv);    /* tools/cmd_compare.c */
int cmd_generate(int argc, char **argv);   /* tools/cmd_generate.c */
int cmd_perplexity(int argc, char **argv); /* tools/cmd_perplexity.c */
int cmd_rd(int argc, char **argv);         /* tools/cmd_rd.c   */
int cmd_extract(int argc, char **argv);    /* tools/cmd_extract.c */
/* info's list of attachments and shards; compress's notes (cmd_extract.c) */
struct hc_hyc;
void cli_print_attachments(const struct hc_hyc *h);
void cli_print_note(void *user, const char *line);
void cli_gguf_info(const struct hc_hyc *h); /* tools/cmd_gguf.c: info lines of a .hyc made from a GGUF */
/* tools/cmd_gguf.c: a safetensors or GGUF file's tensors (hc_st_close closes either) */
struct hc_safetensors;
struct hc_error;
int cli_open_tensors(const char *path, struct hc_safetensors **out, struct hc_error *err);
int cmd_tokenize(int argc, char **argv);   /* tools/cmd_tokenize.c */
int cmd_convert(int argc, char **argv);    /* tools/cmd_convert.c */
/* `info` of a file that is not a .hyc (a llama2.c checkpoint): returns 1 and
 * sets *rc if it handled the file, else 0 (tools/cmd_convert.c). */
int cli_model_info(const char *path, int *rc);

/* Exit codes shared by all commands. */
enum { HC_EXIT_OK = 0, HC_EXIT_FAIL = 1, HC_EXIT_USAGE = 2 };

/* Calibration statistics for `compress --calib`: source is "self" (text
 * sampled from the model) or a text file read with `tokenizer`; at most
 * n_tokens tokens. With a size budget in o (target_bpw) also each matrix's
 * sensitivity. Prints one line unless quiet. Returns an exit status
 * (tools/cli_llm.c). */
struct hc_calib;
struct hc_opts;
int cli_build_calib(const char *model_path, const char *source, const char *tokenizer, long n_tokens, int threads,
                    int quiet, const struct hc_opts *o, struct hc_calib **out);

int cmd_layers(int argc, char **argv);     /* tools/cmd_layers.c */
/* The first max_tokens tokens of text_path (all: 0) with tokenizer tok_path,
 * else the one model_path carries; prints why and returns 0 on failure
 * (tools/cli_llm.c). *tokens is malloc'd. */
int cli_text_tokens(const char *cmd, const char *model_path, const char *tok_path, const char *text_path, int vocab,
                    size_t max_tokens, int **tokens, size_t *n);

#endif
