/* cli.h — helpers shared by the hyperc subcommands. */
#ifndef HC_CLI_H
#define HC_CLI_H

#include "hyperc.h"
#include "../src/codec/options.h"
#include <stddef.h>
#include <stdio.h>

/* tools/cli_util.c: parse a whole string as an integer in [lo, hi] / a finite double; 0 on success. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* "64x172", "scalar" */
const char *cli_shape_str(const hc_tensor_info *ti, char *buf, size_t n);
/* "1.23 MiB" */
const char *cli_bytes_str(uint64_t b, char *buf, size_t n);
/* -10 log10(nmse); +inf for 0 */
double cli_snr_db(double nmse);
/* monotonic seconds */
double cli_now(void);
/* tools/cli_options.c: the encoder options, the rows of src/codec/
 * options.h (--preset, --codec, --bpw, --snr, --min-elems, --keep and each
 * codec's own: --points, --bits, --dim, ...): cli_is_codec_option says
 * whether opt is one; cli_parse_codec_option records it in set (applied
 * later, in any order, by hc_optset_finish). Returns 0 if recorded, 1 if
 * opt is not a codec option, -1 on an error (err says why). */
int cli_is_codec_option(const char *opt);
int cli_parse_codec_option(hc_optset *set, const char *opt, const char *val, hc_error *err);
/* The help lines of those options, from the table. */
void cli_print_codec_options(FILE *f);

/* tools/cli_process.c: signal handling, SIGPIPE ignored, closed standard
 * descriptors reopened (main() calls this first). */
void cli_process_init(void);
/* Flushes and closes standard output: a write error there (other than a
 * reader gone, EPIPE) is reported and turns exit status 0 into 1. */
int cli_close_stdout(int rc);
/* Before any work of a command writing `out` from `in`: refuses (message,
 * returns 1) when they are the same file; with out "-" sets *quiet (the
 * data goes to standard output, the report must not). 0 otherwise. */
int cli_check_output(const char *cmd, const char *in, const char *out, int *quiet);

#endif
