/* cmd_convert.c — `hyperc convert IN -o OUT`: lossless conversion between
 * model file formats, and `hyperc info` for files that are not .hyc.
 *
 * Every format is one entry of the table below: how to recognise it, how to
 * read it into named tensors (a safetensors object, possibly an in-memory
 * image), and how to write named tensors out. Adding a format (GGUF, a
 * Hugging Face folder) is adding an entry. */
#include "cli.h"
#include "commands.h"
#include "hyperc.h"
#include "../src/io/gguf.h"
#include "../src/io/hyc_ext.h"
#include "../src/io/llama2c_io.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct convert_opts {
    int overwrite;
    int l2c_version; /* -1: as recorded in the metadata, else legacy */
    const void *gguf_blob; /* the GGUF header of the input (a GGUF, or a .hyc made from one), or NULL */
    size_t gguf_blob_len;
} convert_opts;

typedef struct model_format {
    const char *name;        /* value of --to                                    */
    const char *exts[3];     /* output file name endings that select it          */
    const char *what;        /* for messages                                     */
    /* 1 if the file (its first bytes p[0..len), whole file mapped) is of this format */
    int (*detect)(const uint8_t *p, uint64_t len, const char *path);
    hc_status (*read)(const char *path, hc_safetensors **out, hc_error *err);
    hc_status (*write)(const hc_safetensors *st, const char *path, const convert_opts *o, hc_error *err);
    int meta_names;          /* the writer needs Meta (llama2.c) tensor names    */
} model_format;

static const uint8_t hyc_magic[8] = {0x89, 'H', 'Y', 'C', '\r', '\n', 0x1a, '\n'};

static int detect_hyc(const uint8_t *p, uint64_t len, const char *path) {
    (void)path;
    return len >= 8 && memcmp(p, hyc_magic, 8) == 0;
}
static int detect_st(const uint8_t *p, uint64_t len, const char *path) {
    (void)path;
    return len >= 10 && p[8] == '{';
}
/* Tried before safetensors: a legacy header with n_layers 123 has '{' at byte 8. */
static int detect_l2c(const uint8_t *p, uint64_t len, const char *path) {
    if (detect_hyc(p, len, path)) return 0;
    if (hc_l2c_sniff(p, len, path)) return 1;
    hc_l2c_layout l;
    if (hc_l2c_parse(p, len, path, &l, NULL) != HC_OK) return 0;
    hc_l2c_layout_free(&l);
    return 1;
}

static int detect_gguf(const uint8_t *p, uint64_t len, const char *path) {
    (void)path;
    return hc_gguf_is_gguf(p, len);
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A temporary file name (created empty) in $TMPDIR or /tmp; malloc'd. */
static hc_status temp_name(char **out, hc_error *err) {
    const char *d = getenv("TMPDIR");
    if (!d || !*d) d = "/tmp";
    size_t n = strlen(d) + 40;
    char *p = malloc(n);
    if (!p) return hc_fail(err, HC_E_NOMEM, "out of memory");
    snprintf(p, n, "%s/hyperc-convert-XXXXXX", d);
    int fd = mkstemp(p);
    if (fd < 0) {
        hc_status s = hc_fail(err, HC_E_IO, "cannot create a temporary file in '%s': %s", d, strerror(errno));
        free(p);
        return s;
    }
    close(fd);
    *out = p;
    return HC_OK;
}

/* A Hugging Face folder (or its index.json) as a raw .hyc at tmp (shards,
 * index and small files kept). */
static hc_status folder_to_hyc(const char *in, const char *out, int overwrite, hc_error *err) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_RAW;
    hc_model_report rep;
    memset(&rep, 0, sizeof rep);
    return hc_compress_path(in, out, &o, NULL, 1, overwrite, NULL, NULL, &rep, err);
}

/* A folder's tensors, in memory: through a temporary raw .hyc. */
static hc_status read_folder(const char *path, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    char *tmp = NULL;
    hc_status s = temp_name(&tmp, err);
    if (s) return s;
    s = folder_to_hyc(path, tmp, 1, err);
    if (!s) s = hc_hyc_open_st(tmp, out, err);
    unlink(tmp);
    free(tmp);
    return s;
}

static hc_status write_gguf(const hc_safetensors *st, const char *path, const convert_opts *o, hc_error *err) {
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n ? n : 1, sizeof *infos);
    if (!infos) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
    for (size_t i = 0; i < n; i++) infos[i] = *hc_st_info(st, i);
    hc_gguf_writer *w = NULL;
    hc_status s = hc_gguf_writer_open(path, o->gguf_blob, o->gguf_blob_len, infos, n, o->overwrite, &w, err);
    free(infos);
    if (s) return s;
    for (size_t i = 0; i < n && !s; i++) s = hc_gguf_writer_put(w, i, hc_st_data(st, i), err);
    if (s) {
        hc_gguf_writer_abort(w);
        return s;
    }
    return hc_gguf_writer_finish(w, err);
}

static hc_status write_folder(const hc_safetensors *st, const char *path, const convert_opts *o, hc_error *err) {
    if (!is_dir(path) && mkdir(path, 0777) != 0)
        return hc_fail(err, HC_E_IO, "'%s': cannot create the folder: %s", path, strerror(errno));
    size_t n = strlen(path) + 32;
    char *p = malloc(n);
    if (!p) return hc_fail(err, HC_E_NOMEM, "out of memory");
    snprintf(p, n, "%s%smodel.safetensors", path, path[strlen(path) - 1] == '/' ? "" : "/");
    hc_status s = hc_st_write_all(st, p, o->overwrite, err);
    free(p);
    return s;
}

static hc_status write_st(const hc_safetensors *st, const char *path, const convert_opts *o, hc_error *err) {
    return hc_st_write_all(st, path, o->overwrite, err);
}
static hc_status write_hyc(const hc_safetensors *st, const char *path, const convert_opts *o, hc_error *err) {
    size_t mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    if (!o->gguf_blob || hc_gguf_is_gguf(meta, mlen)) return hc_hyc_write_raw(st, path, o->overwrite, err);
    /* a .hyc made from a GGUF, decoded: its GGUF header goes back into the new .hyc */
    hc_hyc_writer *w = NULL;
    hc_status s = hc_hyc_writer_open(path, o->overwrite, &w, err);
    for (size_t i = 0; i < hc_st_count(st) && !s; i++) {
        hc_hyc_entry e;
        memset(&e, 0, sizeof e);
        e.info = *hc_st_info(st, i);
        e.codec = HC_CODEC_RAW;
        s = hc_hyc_writer_add(w, &e, hc_st_data(st, i), e.info.nbytes, err);
    }
    if (s) {
        if (w) hc_hyc_writer_abort(w);
        return s;
    }
    return hc_hyc_writer_finish(w, o->gguf_blob, o->gguf_blob_len, err);
}
static hc_status write_l2c(const hc_safetensors *st, const char *path, const convert_opts *o, hc_error *err) {
    return hc_l2c_write(st, path, o->l2c_version, o->overwrite, err);
}

static const model_format formats[] = {
    /* in the order of detection */
    {"hyc", {".hyc"}, ".hyc container", detect_hyc, hc_hyc_open_st, write_hyc, 0},
    {"gguf", {".gguf"}, "GGUF file", detect_gguf, hc_gguf_open_st, write_gguf, 0},
    {"llama2c", {".bin"}, "llama2.c checkpoint", detect_l2c, hc_l2c_open_st, write_l2c, 1},
    {"safetensors", {".safetensors"}, "safetensors file", detect_st, hc_st_open, write_st, 0},
    /* a folder is recognised by hc_hfdir_is_input (a folder or *.index.json), never by content */
    {"folder", {"/"}, "Hugging Face folder", NULL, read_folder, write_folder, 0},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

static const model_format *format_named(const char *name) {
    for (size_t i = 0; i < N_FORMATS; i++)
        if (!strcmp(formats[i].name, name)) return &formats[i];
    return NULL;
}

static const model_format *format_by_ext(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < N_FORMATS; i++)
        for (size_t k = 0; k < 3 && formats[i].exts[k]; k++) {
            size_t e = strlen(formats[i].exts[k]);
            if (n > e && !strcmp(path + n - e, formats[i].exts[k])) return &formats[i];
        }
    return NULL;
}

static hc_status format_of_file(const char *path, const model_format **out, hc_error *err) {
    *out = NULL;
    if (hc_hfdir_is_input(path)) {
        *out = format_named("folder");
        return HC_OK;
    }
    hc_map m;
    hc_status s = hc_map_file(path, &m, err);
    if (s) return s;
    for (size_t i = 0; i < N_FORMATS && !*out; i++)
        if (formats[i].detect && formats[i].detect(m.ptr, m.len, path)) *out = &formats[i];
    hc_unmap(&m);
    if (!*out)
        return hc_fail(err, HC_E_FORMAT, "'%s' is not a .hyc container, a GGUF file, a safetensors file, a llama2.c checkpoint or a folder",
                       path);
    return HC_OK;
}

static int has_hf_names(const hc_safetensors *st) {
    return hc_st_find(st, "model.embed_tokens.weight") >= 0 || hc_st_find(st, "lm_head.weight") >= 0;
}

/* ---- hyperparameters from a config file (Hugging Face config.json) ----- */

static hc_status fill_copy(void *user, size_t i, uint8_t *dst, hc_error *err) {
    (void)err;
    const hc_safetensors *st = user;
    memcpy(dst, hc_st_data(st, i), (size_t)hc_st_info(st, i)->nbytes);
    return HC_OK;
}

static int meta_has_hparams(const hc_safetensors *st) {
    size_t n = 0;
    const char *m = hc_st_metadata(st, &n);
    char v[64];
    return m && (hc_json_object_get(m, n, "dim", v, sizeof v) || hc_json_object_get(m, n, "hidden_size", v, sizeof v));
}

/* A copy of st whose metadata also holds the hyperparameters of the JSON
 * file cfg_path, as llama2.c-style string values (safetensors metadata is a
 * flat string map, so config.json itself cannot go there). */
static hc_status with_config(hc_safetensors *st, const char *cfg_path, hc_safetensors **out, hc_error *err) {
    *out = NULL;
    hc_map m;
    hc_status s = hc_map_file(cfg_path, &m, err);
    if (s) return s;
    hc_llm_config c;
    s = hc_llm_config_parse((const char *)m.ptr, (size_t)m.len, cfg_path, &c, err);
    hc_unmap(&m);
    if (s) return s;
    size_t mlen = 0;
    const char *old = hc_st_metadata(st, &mlen);
    char *meta = malloc(mlen + 1024);
    if (!meta) return hc_fail(err, HC_E_NOMEM, "out of memory");
    int at = snprintf(meta, 1024,
                      "{\"dim\":\"%d\",\"hidden_dim\":\"%d\",\"n_layers\":\"%d\",\"n_heads\":\"%d\",\"n_kv_heads\":\"%d\","
                      "\"vocab_size\":\"%d\",\"seq_len\":\"%d\",\"norm_eps\":\"%.9g\",\"rope_theta\":\"%.9g\"%s",
                      c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
                      (double)c.norm_eps, (double)c.rope_theta,
                      c.shared_classifier < 0 ? "" : c.shared_classifier ? ",\"shared_classifier\":\"True\""
                                                                          : ",\"shared_classifier\":\"False\"");
    /* keep the old keys that do not clash (the old text is a validated flat object) */
    size_t b = 0, e = mlen;
    while (old && b < e && old[b] != '{') b++;
    while (old && e > b && old[e - 1] != '}') e--;
    int empty = 1;
    for (size_t k = b + 1; old && k + 1 < e; k++) empty &= old[k] == ' ' || old[k] == '\n' || old[k] == '\t' || old[k] == '\r';
    if (old && !empty && !meta_has_hparams(st)) {
        meta[at++] = ',';
        memcpy(meta + at, old + b + 1, e - b - 2);
        at += (int)(e - b - 2);
    }
    meta[at++] = '}';
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n ? n : 1, sizeof *infos);
    if (!infos) s = hc_fail(err, HC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && infos; i++) infos[i] = *hc_st_info(st, i);
    if (!s) s = hc_st_image(infos, n, meta, (size_t)at, cfg_path, fill_copy, st, out, err);
    free(infos);
    free(meta);
    return s;
}

/* config.json in the folder of path, if there is one. */
static int config_beside(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path + 1) : 0;
    if (snprintf(buf, cap, "%.*sconfig.json", dir, path) >= (int)cap) return 0;
    FILE *f = fopen(buf, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static void convert_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc convert IN -o OUT [--to FORMAT] [--naming hf|meta] [--llama2c-version 0|1]\n"
            "                      [--config config.json] [-f] [-q]\n"
            "\nConverts a model between formats without loss: every tensor keeps its bits\n"
            "(a .hyc is written with the raw codec; a lossy .hyc is decoded).\n"
            "  FORMAT       hyc, gguf, safetensors, llama2c or folder; default: from OUT's extension\n"
            "               (.hyc, .gguf, .safetensors, .bin; a name ending in '/' or an existing folder:\n"
            "               a Hugging Face folder). IN's format is recognised by content; IN may be a\n"
            "               Hugging Face folder (model.safetensors or shards + index) or its index.json.\n"
            "               folder -> .hyc keeps shards, index and small files; .hyc or folder -> folder\n"
            "               is `hyperc decompress IN -o OUT/`; other inputs give OUT/model.safetensors.\n"
            "               A GGUF (or a .hyc made from one) written as GGUF keeps its header; other\n"
            "               tensors become a fresh GGUF (ggml types from the dtypes, no keys).\n"
            "  --naming     rename llama tensors to Hugging Face names (model.layers.N.self_attn.q_proj.weight,\n"
            "               ...) or Meta/llama2.c names (layers.N.attention.wq.weight, ...), permuting the\n"
            "               q/k rows between the two RoPE layouts (needs n_heads, n_kv_heads in the metadata).\n"
            "               Writing llama2c renames to Meta names by itself.\n"
            "  --llama2c-version  0: legacy layout (with RoPE tables), 1: \"ak42\" version 1 layout;\n"
            "               default: the version the tensors were read from, else legacy.\n"
            "  --config     hyperparameters from a JSON file (Hugging Face config.json or llama2.c-style\n"
            "               keys), stored in the output's metadata; by default config.json beside IN is\n"
            "               used when IN's metadata has none and the output needs them (llama2c, --naming).\n"
            "\nexit status: 0 success, 1 failure, 2 bad usage\n");
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *to = NULL, *naming = NULL, *config = NULL;
    convert_opts o = {0, -1, NULL, 0};
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            convert_usage(stdout);
            return HC_EXIT_OK;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            o.overwrite = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--to") && i + 1 < argc) {
            to = argv[++i];
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(a, "--naming") && i + 1 < argc) {
            naming = argv[++i];
            if (strcmp(naming, "hf") && strcmp(naming, "meta")) {
                fprintf(stderr, "hyperc convert: --naming: '%s' is not hf or meta\n", naming);
                return HC_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--llama2c-version") && i + 1 < argc) {
            long v;
            if (cli_parse_int(argv[++i], 0, 1, &v)) {
                fprintf(stderr, "hyperc convert: --llama2c-version: '%s' is not 0 or 1\n", argv[i]);
                return HC_EXIT_USAGE;
            }
            o.l2c_version = (int)v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hyperc convert: unknown option or missing value '%s'\n", a);
            return HC_EXIT_USAGE;
        } else if (!in) {
            in = a;
        } else {
            fprintf(stderr, "hyperc convert: unexpected argument '%s'\n", a);
            return HC_EXIT_USAGE;
        }
    }
    if (!in || !out) {
        convert_usage(stderr);
        return HC_EXIT_USAGE;
    }
    const model_format *ofmt = to ? format_named(to) : is_dir(out) ? format_named("folder") : format_by_ext(out);
    if (!ofmt) {
        if (to) fprintf(stderr, "hyperc convert: --to: unknown format '%s' (hyc, gguf, safetensors, llama2c, folder)\n", to);
        else fprintf(stderr, "hyperc convert: cannot tell the format of '%s' from its name: give --to hyc|gguf|safetensors|llama2c|folder\n", out);
        return HC_EXIT_USAGE;
    }
    if (naming && !strcmp(naming, "hf") && ofmt->meta_names) {
        fprintf(stderr, "hyperc convert: a %s needs Meta tensor names, not --naming hf\n", ofmt->what);
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    double t0 = cli_now();
    const model_format *ifmt;
    hc_safetensors *st = NULL;
    hc_status s = format_of_file(in, &ifmt, &err);
    int plain = !naming && !config;
    uint8_t *hyc_blob = NULL; /* the GGUF header kept in a .hyc input */
    size_t hyc_blob_len = 0;
    if (!s && !strcmp(ifmt->name, "hyc")) {
        hc_hyc *h = NULL;
        s = hc_hyc_open(in, &h, &err);
        size_t mlen = 0;
        const char *meta = s ? NULL : hc_hyc_metadata(h, &mlen);
        if (meta && hc_gguf_is_gguf(meta, mlen) && plain) {
            hyc_blob = malloc(mlen ? mlen : 1);
            if (!hyc_blob) s = hc_fail(&err, HC_E_NOMEM, "out of memory");
            else memcpy(hyc_blob, meta, mlen);
            hyc_blob_len = mlen;
        }
        if (h) hc_hyc_close(h);
    }
    /* direct routes that keep a folder's shards, index and small files */
    int direct = 0;
    if (!s && plain && !strcmp(ifmt->name, "folder") && !strcmp(ofmt->name, "hyc")) {
        direct = 1;
        s = folder_to_hyc(in, out, o.overwrite, &err);
    } else if (!s && plain && !strcmp(ofmt->name, "folder") && !hyc_blob &&
               (!strcmp(ifmt->name, "folder") || !strcmp(ifmt->name, "hyc"))) {
        direct = 1; /* exactly `hyperc decompress IN -o OUT/` */
        char *tmp = NULL;
        if (!strcmp(ifmt->name, "folder")) {
            s = temp_name(&tmp, &err);
            if (!s) s = folder_to_hyc(in, tmp, 1, &err);
        }
        if (!s) s = hc_hfdir_decompress(tmp ? tmp : in, out, 0, o.overwrite, &err);
        if (tmp) unlink(tmp);
        free(tmp);
    }
    if (direct) {
        free(hyc_blob);
        if (s) {
            fprintf(stderr, "hyperc convert: %s\n", err.msg);
            return HC_EXIT_FAIL;
        }
        if (!quiet) printf("%s (%s) -> %s (%s) (%.3f s)\n", in, ifmt->name, out, ofmt->name, cli_now() - t0);
        return HC_EXIT_OK;
    }
    if (!s) s = ifmt->read(in, &st, &err);
    if (!s) {
        size_t mlen = 0;
        const char *meta = hc_st_metadata(st, &mlen);
        int gguf_meta = hc_gguf_is_gguf(meta, mlen);
        if (gguf_meta && plain && (!strcmp(ofmt->name, "gguf") || !strcmp(ofmt->name, "hyc"))) {
            o.gguf_blob = meta; /* valid while st is open */
            o.gguf_blob_len = mlen;
        } else if (gguf_meta) { /* a GGUF header is no safetensors/llama2.c metadata: dropped */
            size_t nt = hc_st_count(st);
            hc_tensor_info *infos = calloc(nt ? nt : 1, sizeof *infos);
            hc_safetensors *bare = NULL;
            if (!infos) s = hc_fail(&err, HC_E_NOMEM, "out of memory");
            for (size_t i = 0; i < nt && infos; i++) infos[i] = *hc_st_info(st, i);
            if (!s) s = hc_st_image(infos, nt, NULL, 0, in, fill_copy, st, &bare, &err);
            free(infos);
            hc_st_close(st);
            st = bare;
        } else if (hyc_blob) {
            o.gguf_blob = hyc_blob;
            o.gguf_blob_len = hyc_blob_len;
        }
    }
    char beside[4200];
    if (!s && !config && (naming || ofmt->meta_names) && !meta_has_hparams(st) && config_beside(in, beside, sizeof beside))
        config = beside;
    if (!s && config) {
        hc_safetensors *configured = NULL;
        s = with_config(st, config, &configured, &err);
        hc_st_close(st);
        st = configured;
    }
    if (!s && (naming || (ofmt->meta_names && has_hf_names(st)))) {
        hc_safetensors *renamed = NULL;
        s = hc_llama_renamed(st, naming && !strcmp(naming, "hf"), in, &renamed, &err);
        hc_st_close(st);
        st = renamed;
    }
    if (!s) s = ofmt->write(st, out, &o, &err);
    size_t n = hc_st_count(st);
    hc_st_close(st);
    free(hyc_blob);
    if (s) {
        fprintf(stderr, "hyperc convert: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    if (!quiet)
        printf("%s (%s) -> %s (%s): %zu tensors (%.3f s)\n", in, ifmt->name, out, ofmt->name, n, cli_now() - t0);
    return HC_EXIT_OK;
}

int cli_model_info(const char *path, int *rc) {
    const model_format *f;
    hc_error err;
    hc_error_clear(&err);
    if (format_of_file(path, &f, &err) != HC_OK || strcmp(f->name, "llama2c") != 0) return 0;
    hc_safetensors *st = NULL;
    if (f->read(path, &st, &err) != HC_OK) {
        fprintf(stderr, "hyperc info: %s\n", err.msg);
        *rc = HC_EXIT_FAIL;
        return 1;
    }
    uint64_t total = 0, weights = 0;
    printf("%-6s %-44s %-14s %-5s %12s\n", "#", "name", "shape", "dtype", "bytes");
    for (size_t i = 0; i < hc_st_count(st); i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        char shape[128];
        printf("%-6zu %-44s %-14s %-5s %12llu\n", i, ti->name, cli_shape_str(ti, shape, sizeof shape),
               hc_dtype_name(ti->dtype), (unsigned long long)ti->nbytes);
        total += ti->nbytes;
        weights += ti->nelem;
    }
    size_t mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    char b1[32];
    printf("\nformat       %s\n", f->what);
    printf("tensors      %zu, %llu weights, %s\n", hc_st_count(st), (unsigned long long)weights,
           cli_bytes_str(total, b1, sizeof b1));
    if (meta) printf("metadata     %.*s\n", (int)mlen, meta);
    hc_st_close(st);
    *rc = HC_EXIT_OK;
    return 1;
}
