/* cmd_decompress.c — `hyperc decompress`: a .hyc file back to safetensors
 * (a model folder, GGUF or a llama2.c checkpoint by the output's name). */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include "../src/io/llama2c_io.h"
#include <stdio.h>
#include <string.h>

int cmd_decompress(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *to = NULL;
    int force = 0, quiet = 0;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: hyperc decompress IN.hyc -o OUT.safetensors [-f] [--threads N] [-q] [--to llama2c]\n"
                   "       hyperc decompress IN.hyc -o DIR/ [-f] [--threads N] [-q]\n"
                   "\nRestores a safetensors file with the original tensor names, order,\n"
                   "dtypes, shapes and metadata. Losslessly stored tensors come back\n"
                   "bit-exact. With a folder (existing, or ending in '/') the model folder\n"
                   "is rebuilt: the same shards, the index, every stored file. OUT ending\n"
                   "in .gguf writes a GGUF file; OUT ending in .bin (or --to llama2c) a\n"
                   "llama2.c checkpoint (Meta-named llama tensors with their hyperparameters).\n"
                   "\nexit status: 0 success, 1 failure, 2 bad usage\n");
            return HC_EXIT_OK;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--threads")) && i + 1 >= argc) {
            fprintf(stderr, "hyperc decompress: option %s needs a value\n", a);
            return HC_EXIT_USAGE;
        } else if (!strcmp(a, "-o")) {
            out = argv[++i];
        } else if (!strcmp(a, "--to")) { /* llama2c: a llama2.c checkpoint, whatever OUT's name */
            if (i + 1 >= argc) {
                fprintf(stderr, "hyperc decompress: option --to needs a value\n");
                return HC_EXIT_USAGE;
            }
            to = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(argv[++i], 1, 256, &threads)) {
                fprintf(stderr, "hyperc decompress: --threads: '%s' is not in 1..256\n", argv[i]);
                return HC_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hyperc decompress: unknown option '%s' (see --help)\n", a);
            return HC_EXIT_USAGE;
        } else if (!in) {
            in = a;
        } else {
            fprintf(stderr, "hyperc decompress: unexpected argument '%s'\n", a);
            return HC_EXIT_USAGE;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "usage: hyperc decompress IN.hyc -o OUT.safetensors [-f] [--threads N]\n");
        return HC_EXIT_USAGE;
    }
    if (cli_check_output("decompress", in, out, &quiet)) return HC_EXIT_FAIL;
    hc_error err;
    hc_error_clear(&err);
    double t0 = cli_now();
    if (to && strcmp(to, "llama2c")) {
        fprintf(stderr, "hyperc decompress: --to: '%s' is not llama2c (other formats: hyperc convert)\n", to);
        return HC_EXIT_USAGE;
    }
    if (to && !strcmp(to, "llama2c") ? hc_l2c_decompress(in, out, -1, force, &err) != HC_OK
                                     : hc_decompress_file(in, out, (int)threads, force, &err) != HC_OK) {
        fprintf(stderr, "hyperc decompress: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    if (!quiet) printf("%s -> %s (%.3f s)\n", in, out, cli_now() - t0);
    return HC_EXIT_OK;
}
