/* cmd_info.c — `hyperc info`: the tensors, codecs, sizes and ratio of a
 * .hyc file (--verify checks it as decompress would). */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include <stdio.h>
#include <string.h>

int cmd_info(int argc, char **argv) {
    const char *in = NULL;
    int verify = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hyperc info FILE.hyc [--verify]\n"
                   "\nLists the tensors of a .hyc file: codec, shape, size, bits per weight,\n"
                   "and the totals. --verify also checks, without writing, everything\n"
                   "decompress checks: every payload's CRC-32C, every codec, its parameters\n"
                   "and payload against the tensor's shape, and the table as safetensors.\n");
            return HC_EXIT_OK;
        } else if (!strcmp(argv[i], "--verify")) {
            verify = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hyperc info: unknown option '%s'\n", argv[i]);
            return HC_EXIT_USAGE;
        } else if (!in) {
            in = argv[i];
        } else {
            fprintf(stderr, "hyperc info: unexpected argument '%s'\n", argv[i]);
            return HC_EXIT_USAGE;
        }
    }
    if (!in) {
        fprintf(stderr, "usage: hyperc info FILE.hyc [--verify]\n");
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h = NULL;
    int l2c_rc;
    if (cli_model_info(in, &l2c_rc)) return l2c_rc; /* a llama2.c checkpoint */
    if (hc_hyc_open(in, &h, &err) != HC_OK) {
        fprintf(stderr, "hyperc info: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    size_t n = hc_hyc_count(h);
    uint64_t orig = 0, w_all = 0, w_coded = 0, bytes_coded = 0;
    uint64_t per_codec[HC_CODEC_COUNT] = {0};
    printf("%-6s %-44s %-14s %-5s %-6s %12s %12s %8s\n", "#", "name", "shape", "dtype", "codec", "original",
           "stored", "bpw");
    for (size_t i = 0; i < n; i++) {
        hc_hyc_entry ent; /* filled on query: memory stays that of the file */
        hc_hyc_entry_at(h, i, &ent);
        const hc_hyc_entry *e = &ent;
        char shape[128];
        uint64_t st = e->size + e->params_len;
        double bpw = e->info.nelem ? 8.0 * (double)st / (double)e->info.nelem : 0;
        printf("%-6zu %-44s %-14s %-5s %-6s %12llu %12llu %8.3f\n", i, e->info.name,
               cli_shape_str(&e->info, shape, sizeof shape), hc_dtype_name(e->info.dtype), hc_codec_name(e->codec),
               (unsigned long long)e->info.nbytes, (unsigned long long)st, bpw);
        orig += e->info.nbytes;
        w_all += e->info.nelem;
        if ((unsigned)e->codec < HC_CODEC_COUNT) per_codec[e->codec]++;
        if (e->codec != HC_CODEC_RAW) {
            w_coded += e->info.nelem;
            bytes_coded += st;
        }
    }
    uint64_t fsize = hc_hyc_file_size(h);
    char b1[32], b2[32];
    printf("\ntensors      %zu (", n);
    int first = 1;
    for (int c = 0; c < HC_CODEC_COUNT; c++)
        if (per_codec[c]) {
            printf("%s%llu %s", first ? "" : ", ", (unsigned long long)per_codec[c], hc_codec_name((hc_codec_id)c));
            first = 0;
        }
    printf(")\n");
    printf("weights      %llu, %llu coded at %.3f bpw\n", (unsigned long long)w_all, (unsigned long long)w_coded,
           w_coded ? 8.0 * (double)bytes_coded / (double)w_coded : 0);
    printf("original     %s of tensor data\n", cli_bytes_str(orig, b1, sizeof b1));
    printf("file         %s (%.3f bits per weight)\n", cli_bytes_str(fsize, b2, sizeof b2),
           w_all ? 8.0 * (double)fsize / (double)w_all : 0);
    printf("ratio        %.3fx\n", fsize ? (double)orig / (double)fsize : 0);
    printf("written by   %s\n", hc_hyc_writer_version(h)[0] ? hc_hyc_writer_version(h) : "(not recorded)");
    cli_print_attachments(h);
    cli_gguf_info(h);
    int rc = HC_EXIT_OK;
    if (verify) {
        if (hc_hyc_verify_full(h, &err) != HC_OK) {
            fprintf(stderr, "hyperc info: %s\n", err.msg);
            rc = HC_EXIT_FAIL;
        } else {
            printf("verify       all %zu payload checksums OK; codecs, parameters and shapes checked as decompress does\n", n);
            if (hc_hyc_attachment_count(h))
                printf("verify       all %zu attachment checksums OK\n", hc_hyc_attachment_count(h));
        }
    }
    hc_hyc_close(h);
    return rc;
}
