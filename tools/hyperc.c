/* hyperc.c — the command-line tool's entry point: the dispatcher for the
 * subcommands (tools/commands.h, one tools/cmd_*.c each; helpers in
 * tools/cli_*.c). */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include <stdio.h>
#include <string.h>

/* ---- dispatcher -------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "hyperc %s — neural-network weight compression by hyperfunctions\n"
            "\n"
            "usage: hyperc COMMAND [options]   (hyperc COMMAND --help for details)\n"
            "\n"
            "commands:\n"
            "  compress    IN.safetensors -o OUT.hyc     compress a model\n"
            "  decompress  IN.hyc -o OUT.safetensors     restore a model file\n"
            "  info        FILE.hyc                      tensors, codecs, sizes, ratio\n"
            "  extract     FILE.hyc NAME [-o OUT]        print a stored file (config.json, ...)\n"
            "  compare     A.safetensors B.safetensors   per-tensor error between two models\n"
            "  generate    MODEL --tokenizer T           text from a llama-family model\n"
            "  perplexity  MODEL --tokenizer T --text F  perplexity on a text file\n"
            "  rd          [--shared DIR]                rate-distortion curves of every codec\n"
            "  tokenize    --tokenizer T --prompt P      token ids of a text (tokenizer.json, tokenizer.bin)\n"
            "  convert     IN -o OUT [--to F]            lossless format conversion (safetensors, llama2.c, .hyc)\n"
            "  layers      FLOAT MODEL                   per-layer error of a compressed model against its float one\n"
            "  version                                   print the version\n",
            HC_VERSION_STRING);
}

static int run_command(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return HC_EXIT_USAGE;
    }
    const char *c = argv[1];
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"compress", cmd_compress}, {"decompress", cmd_decompress}, {"info", cmd_info},
        {"compare", cmd_compare},   {"generate", cmd_generate},     {"perplexity", cmd_perplexity},
        {"rd", cmd_rd},             {"extract", cmd_extract},       {"tokenize", cmd_tokenize},
        {"convert", cmd_convert},   {"layers", cmd_layers},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(c, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        usage(stdout);
        return HC_EXIT_OK;
    }
    if (!strcmp(c, "version") || !strcmp(c, "--version")) {
        printf("hyperc %s\n", HC_VERSION_STRING);
        return HC_EXIT_OK;
    }
    fprintf(stderr, "hyperc: unknown command '%s'\n\n", c);
    usage(stderr);
    return HC_EXIT_USAGE;
}

int main(int argc, char **argv) {
    cli_process_init();
    return cli_close_stdout(run_command(argc, argv));
}
