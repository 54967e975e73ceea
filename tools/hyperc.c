/* hyperc.c — the command-line tool: compress, decompress, info, compare,
 * and the dispatcher for the other subcommands (tools/commands.h). */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include "../src/io/llama2c_io.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers shared by the commands (cli.h) ---------------------- */

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

const char *cli_shape_str(const hc_tensor_info *ti, char *buf, size_t n) {
    size_t pos = 0;
    buf[0] = 0;
    if (ti->ndim == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    for (uint32_t d = 0; d < ti->ndim && pos < n; d++)
        pos += (size_t)snprintf(buf + pos, n - pos, d ? "x%llu" : "%llu", (unsigned long long)ti->shape[d]);
    return buf;
}

const char *cli_bytes_str(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.2f MiB", (double)b / (1ull << 20));
    else if (b >= 1024)
        snprintf(buf, n, "%.1f KiB", (double)b / 1024);
    else
        snprintf(buf, n, "%llu B", (unsigned long long)b);
    return buf;
}

double cli_snr_db(double nmse) { return nmse > 0 ? -10.0 * log10(nmse) : INFINITY; }

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- compress ---------------------------------------------------------- */

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

int cli_is_codec_option(const char *opt) {
    for (const hc_opt_def *r = hc_opt_table; r->cli || r->key; r++)
        if (r->cli && !strcmp(r->cli, opt)) return 1;
    return 0;
}

int cli_parse_codec_option(hc_optset *set, const char *opt, const char *val, hc_error *err) {
    hc_status s = hc_optset_add(set, opt, val, err);
    return s == HC_OK ? 0 : s == HC_E_UNSUPPORTED ? 1 : -1;
}

void cli_print_codec_options(FILE *f) {
    for (const hc_opt_def *r = hc_opt_table; r->cli || r->key; r++) {
        if (!r->cli) continue;
        int first = r == hc_opt_table || r[-1].field != r->field;
        char head[64];
        snprintf(head, sizeof head, "%s %s", r->cli, r->arg);
        fprintf(f, "  %-19s %s\n", first ? head : "", r->help);
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

/* ---- decompress -------------------------------------------------------- */

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

/* ---- info -------------------------------------------------------------- */

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

/* ---- compare ----------------------------------------------------------- */

int cmd_compare(int argc, char **argv) {
    const char *pa = NULL, *pb = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hyperc compare A.safetensors B.safetensors [-q]\n"
                   "\nPer-tensor and total NMSE = sum (a-b)^2 / sum a^2, SNR = -10 log10 NMSE,\n"
                   "and the largest absolute difference, for tensors present in both.\n"
                   "-q prints the totals only. Exit status 1 if the files hold different\n"
                   "tensor names or shapes.\n");
            return HC_EXIT_OK;
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hyperc compare: unknown option '%s'\n", argv[i]);
            return HC_EXIT_USAGE;
        } else if (!pa) {
            pa = argv[i];
        } else if (!pb) {
            pb = argv[i];
        } else {
            fprintf(stderr, "hyperc compare: unexpected argument '%s'\n", argv[i]);
            return HC_EXIT_USAGE;
        }
    }
    if (!pa || !pb) {
        fprintf(stderr, "usage: hyperc compare A.safetensors B.safetensors\n");
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *a = NULL, *b = NULL;
    if (cli_open_tensors(pa, &a, &err) != HC_OK || cli_open_tensors(pb, &b, &err) != HC_OK) {
        fprintf(stderr, "hyperc compare: %s\n", err.msg);
        hc_st_close(a);
        return HC_EXIT_FAIL;
    }
    int rc = HC_EXIT_OK;
    double tot_err = 0, tot_sq = 0, tot_max = 0;
    uint64_t n_float = 0;
    float *fa = NULL, *fb = NULL;
    if (!quiet)
        printf("%-44s %-14s %12s %9s %12s\n", "tensor", "shape", "nmse", "snr dB", "max |a-b|");
    for (size_t i = 0; i < hc_st_count(a); i++) {
        const hc_tensor_info *ia = hc_st_info(a, i);
        long j = hc_st_find(b, ia->name);
        if (j < 0) {
            fprintf(stderr, "hyperc compare: tensor '%s' is missing from '%s'\n", ia->name, pb);
            rc = HC_EXIT_FAIL;
            continue;
        }
        const hc_tensor_info *ib = hc_st_info(b, (size_t)j);
        if (ia->ndim != ib->ndim || memcmp(ia->shape, ib->shape, ia->ndim * sizeof ia->shape[0])) {
            fprintf(stderr, "hyperc compare: tensor '%s' has different shapes\n", ia->name);
            rc = HC_EXIT_FAIL;
            continue;
        }
        char shape[128];
        cli_shape_str(ia, shape, sizeof shape);
        if (!hc_dtype_is_codable(ia->dtype) || !hc_dtype_is_codable(ib->dtype)) {
            int same = ia->nbytes == ib->nbytes && !memcmp(hc_st_data(a, i), hc_st_data(b, (size_t)j), ia->nbytes);
            if (!quiet) printf("%-44s %-14s %12s\n", ia->name, shape, same ? "identical" : "DIFFERENT");
            if (!same) rc = HC_EXIT_FAIL;
            continue;
        }
        free(fa);
        free(fb);
        fa = malloc(ia->nelem * 4 + 4);
        fb = malloc(ia->nelem * 4 + 4);
        if (!fa || !fb) {
            fprintf(stderr, "hyperc compare: out of memory\n");
            rc = HC_EXIT_FAIL;
            break;
        }
        hc_to_f32(ia->dtype, hc_st_data(a, i), fa, ia->nelem);
        hc_to_f32(ib->dtype, hc_st_data(b, (size_t)j), fb, ib->nelem);
        double se = 0, sq = 0, mx = 0;
        for (uint64_t k = 0; k < ia->nelem; k++) {
            double d = (double)fa[k] - (double)fb[k];
            se += d * d;
            sq += (double)fa[k] * fa[k];
            if (fabs(d) > mx) mx = fabs(d);
        }
        double nmse = sq > 0 ? se / sq : (se > 0 ? INFINITY : 0);
        if (!quiet) printf("%-44s %-14s %12.4e %9.2f %12.4e\n", ia->name, shape, nmse, cli_snr_db(nmse), mx);
        tot_err += se;
        tot_sq += sq;
        if (mx > tot_max) tot_max = mx;
        n_float += ia->nelem;
    }
    free(fa);
    free(fb);
    if (hc_st_count(a) != hc_st_count(b)) {
        fprintf(stderr, "hyperc compare: '%s' has %zu tensors, '%s' has %zu\n", pa, hc_st_count(a), pb,
                hc_st_count(b));
        rc = HC_EXIT_FAIL;
    }
    double nmse = tot_sq > 0 ? tot_err / tot_sq : 0;
    printf("total: %llu float weights, nmse %.4e, snr %.2f dB, max |a-b| %.4e\n", (unsigned long long)n_float, nmse,
           cli_snr_db(nmse), tot_max);
    hc_st_close(a);
    hc_st_close(b);
    return rc;
}

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
