/* commands.h — the subcommands of the hyperc CLI. Each takes the argument
 * vector after the program name (argv[0] is the subcommand's name) and
 * returns the process exit code: 0 success, 1 failure of the operation
 * (message on stderr), 2 bad usage. */
#ifndef HC_COMMANDS_H
#define HC_COMMANDS_H

int cmd_compress(int argc, char **argv);   /* tools/hyperc.c   */
int cmd_decompress(int argc, char **argv); /* tools/hyperc.c   */
int cmd_info(int argc, char **argv);       /* tools/hyperc.c   */
int cmd_compare(int argc, char **argv);    /* tools/hyperc.c   */
int cmd_generate(int argc, char **argv);   /* tools/cmd_llm.c  */
int cmd_perplexity(int argc, char **argv); /* tools/cmd_llm.c  */
int cmd_rd(int argc, char **argv);         /* tools/cmd_rd.c   */

/* Exit codes shared by all commands. */
enum { HC_EXIT_OK = 0, HC_EXIT_FAIL = 1, HC_EXIT_USAGE = 2 };

#endif
