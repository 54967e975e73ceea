/* cmd_compress.c — `hyperc compress`: a model (safetensors, GGUF, a Hugging
 * Face folder) to a .hyc file, with the encoder options of the codec table
 * (cli_options.c) and a line per tensor. */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void compress_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc compress IN.safetensors -o OUT.hyc [options]\n"
            "       hyperc compress MODEL_DIR -o OUT.hyc [options]\n"
            "\n"
            "MODEL_DIR is a Hugging Face folder: model.safetensors, or the shards of\n"
            "model.safetensors.index.json (the index file may be given instead); its\n"
            "small files (config.json, tokenizer files, ...) are stored in OUT.\n"
            "Compresses every F32/F16/BF16 tensor of IN; other tensors, and tensors\n"
            "smaller than --min-elems, are stored verbatim.\n"
            "\n"
            "options:\n"
            "  -o FILE             output .hyc file (required)\n"
            "  -f, --force         overwrite OUT if it exists\n");
    cli_print_codec_options(f);
    fprintf(f,
            "  --calib SRC         llama models: code each matrix with error feedback\n"
            "                      from calibration inputs (docs/ALGORITHM.md): SRC is\n"
            "                      'self' (text sampled from the model itself) or a\n"
            "                      text file (needs --tokenizer)\n"
            "  --tokenizer FILE    tokenizer stored in OUT (generate/perplexity use it);\n"
            "                      also the llama2.c tokenizer for --calib FILE\n"
            "  --attach FILE       store FILE (e.g. config.json) in OUT; repeatable\n"
            "  --calib-tokens N    calibration tokens (16384)\n"
            "  --threads N         worker threads (default: all cores)\n"
            "  -q, --quiet         print nothing but errors\n"
            "\n"
            "A preset sets defaults: options given explicitly override it wherever they\n"
            "stand. An option of another codec than the one chosen, --bpw with --snr, or\n"
            "either with an option the budget chooses itself (--bits, --points,\n"
            "--loss-limit) is refused as bad usage; so is --bpw outside the codec's rates.\n"
            "\n"
            "exit status: 0 success, 1 failure, 2 bad usage\n");
}

typedef struct progress_state {
    int quiet;
    int bar;     /* draw a progress bar on stderr */
    double t0;
} progress_state;

static void on_tensor(const hc_tensor_report *r, void *user) {
    progress_state *ps = (progress_state *)user;
    if (ps->bar) fprintf(stderr, "\r\033[K");
    if (!ps->quiet) {
        char shape[128];
        cli_shape_str(r->info, shape, sizeof shape);
        if (r->codec == HC_CODEC_RAW)
            printf("[%4zu/%zu] %-44s %-14s %-4s %-6s %7.2f bpw  (lossless%s%s)\n", r->index + 1, r->count,
                   r->info->name, shape, hc_dtype_name(r->info->dtype), "raw", r->bpw,
                   r->note && r->note[0] ? ": " : "", r->note ? r->note : "");
        else
            printf("[%4zu/%zu] %-44s %-14s %-4s %-6s %7.3f bpw  nmse %.3e  snr %5.1f dB  max %.3e\n",
                   r->index + 1, r->count, r->info->name, shape, hc_dtype_name(r->info->dtype),
                   hc_codec_name(r->codec), r->bpw, r->nmse, cli_snr_db(r->nmse), r->max_abs_err);
        fflush(stdout);
    }
    if (ps->bar) {
        int width = 30, done = (int)((double)(r->index + 1) / (double)r->count * width);
        fprintf(stderr, "[");
        for (int k = 0; k < width; k++) fputc(k < done ? '#' : '.', stderr);
        fprintf(stderr, "] %zu/%zu tensors  %.1f s", r->index + 1, r->count, cli_now() - ps->t0);
        fflush(stderr);
    }
}


int cmd_compress(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *calib_src = NULL, *tokenizer = NULL;
    const char *attach[64];
    size_t n_attach = 0;
    int force = 0, quiet = 0;
    long threads = 0, calib_tokens = 16384;
    hc_opts o;
    hc_optset set;
    hc_optset_init(&set, 0);
    hc_error err;
    hc_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            compress_usage(stdout);
            return HC_EXIT_OK;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            int known = !strcmp(a, "-o") || !strcmp(a, "--threads") || !strcmp(a, "--calib") ||
                        !strcmp(a, "--tokenizer") || !strcmp(a, "--attach") || !strcmp(a, "--calib-tokens") ||
                        cli_is_codec_option(a);
            if (!known) {
                fprintf(stderr, "hyperc compress: unknown option '%s' (see --help)\n", a);
                return HC_EXIT_USAGE;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "hyperc compress: option %s needs a value\n", a);
                return HC_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "-o")) {
                out = v;
                continue;
            }
            if (!strcmp(a, "--threads")) {
                if (cli_parse_int(v, 1, 256, &threads)) {
                    fprintf(stderr, "hyperc compress: --threads: '%s' is not in 1..256\n", v);
                    return HC_EXIT_USAGE;
                }
                continue;
            }
            if (!strcmp(a, "--calib")) {
                calib_src = v;
                continue;
            }
            if (!strcmp(a, "--tokenizer")) {
                tokenizer = v;
                continue;
            }
            if (!strcmp(a, "--attach")) {
                if (n_attach == sizeof attach / sizeof attach[0]) {
                    fprintf(stderr, "hyperc compress: --attach: at most %zu files\n", n_attach);
                    return HC_EXIT_USAGE;
                }
                attach[n_attach++] = v;
                continue;
            }
            if (!strcmp(a, "--calib-tokens")) {
                if (cli_parse_int(v, 2, 1l << 30, &calib_tokens)) {
                    fprintf(stderr, "hyperc compress: --calib-tokens: '%s' is not in 2..2^30\n", v);
                    return HC_EXIT_USAGE;
                }
                continue;
            }
            if (cli_parse_codec_option(&set, a, v, &err) != 0) {
                fprintf(stderr, "hyperc compress: %s\n", err.msg);
                return HC_EXIT_USAGE;
            }
        } else if (!in) {
            in = a;
        } else {
            fprintf(stderr, "hyperc compress: unexpected argument '%s' (one input file only)\n", a);
            return HC_EXIT_USAGE;
        }
    }
    if (!in || !out) {
        compress_usage(stderr);
        return HC_EXIT_USAGE;
    }
    /* the option rules (src/codec/options.h), then a trial encoding, before any work */
    if (hc_optset_finish(&set, &o, &err) != HC_OK || hc_opts_probe(&o, &err) != HC_OK) {
        fprintf(stderr, "hyperc compress: %s\n", err.msg);
        return HC_EXIT_USAGE;
    }
    if (calib_src && (o.prune > 0 || o.prune_m > 0)) {
        fprintf(stderr, "hyperc compress: --prune with --calib is not supported (pruned tensors are coded without error feedback)\n");
        return HC_EXIT_USAGE;
    }
    hc_error_clear(&err);
    if (cli_check_output("compress", in, out, &quiet)) return HC_EXIT_FAIL;
    hc_calib *calib = NULL;
    if (calib_src) {
        int rc = cli_build_calib(in, calib_src, tokenizer, calib_tokens, (int)threads, quiet, &o, &calib);
        if (rc) return rc;
        o.calib = calib;
    }
    progress_state ps = {quiet, !quiet && isatty(2), cli_now()};
    hc_model_report rep;
    hc_compress_extra extra = {tokenizer, attach, n_attach, quiet ? NULL : cli_print_note, NULL};
    hc_status s = hc_compress_path(in, out, &o, &extra, (int)threads, force, on_tensor, &ps, &rep, &err);
    hc_calib_free(calib);
    if (ps.bar) fprintf(stderr, "\r\033[K");
    if (s != HC_OK) {
        fprintf(stderr, "hyperc compress: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    if (!quiet) {
        char b1[32], b2[32];
        double bpw = rep.weights_coded ? rep.bits_coded / (double)rep.weights_coded : 0;
        printf("\n%s -> %s\n", in, out);
        printf("  input   %s (%llu bytes)\n", cli_bytes_str(rep.bytes_in, b1, sizeof b1),
               (unsigned long long)rep.bytes_in);
        printf("  output  %s (%llu bytes)\n", cli_bytes_str(rep.bytes_out, b2, sizeof b2),
               (unsigned long long)rep.bytes_out);
        printf("  ratio   %.3fx   (%.3f bits per weight over the whole file)\n",
               rep.bytes_out ? (double)rep.bytes_in / (double)rep.bytes_out : 0,
               rep.weights_total ? 8.0 * (double)rep.bytes_out / (double)rep.weights_total : 0);
        printf("  coded   %llu of %llu weights at %.3f bpw, mean nmse %.3e (SNR %.2f dB; per tensor, size-weighted)\n",
               (unsigned long long)rep.weights_coded, (unsigned long long)rep.weights_total, bpw, rep.nmse_coded,
               cli_snr_db(rep.nmse_coded));
        printf("  time    %.3f s (%.1f M weights/s)\n", rep.seconds,
               rep.seconds > 0 ? (double)rep.weights_total / rep.seconds / 1e6 : 0);
    }
    return HC_EXIT_OK;
}
