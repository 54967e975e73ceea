/* cmd_rd.c — `hyperc rd`: rate–distortion figures of every codec setting on
 * every model of a folder, as a CSV table and a gnuplot chart (SNR in dB
 * against bits per weight, one panel per model, with the k-quant reference
 * points of the rate–distortion issue drawn as markers). */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include "../src/io/rd_model.h"
#include "../src/codec/options.h"
#include "../src/codec/codec.h"
#include "../src/common/util.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define RD_MAX_MODELS 64
#define RD_MAX_SETTINGS 256

static void rd_usage(FILE *f) {
    fprintf(f,
            "usage: hyperc rd [options]\n"
            "\n"
            "Rate-distortion of codec settings on models: every F32/F16/BF16 tensor of at\n"
            "least 4096 weights is encoded and decoded; NMSE = sum (w-w')^2 / sum w^2 per\n"
            "tensor, averaged weighted by tensor size; SNR = -10 log10 NMSE.\n"
            "bpw_coded counts payload, codec parameters and directory entries of the coded\n"
            "tensors over their weights; bpw_file the whole .hyc file (other tensors raw)\n"
            "over all weights; bpw_payload payload and parameters only. encode_mws and\n"
            "decode_mws (CSV only): millions of weights per second per thread, the coded\n"
            "weights over the thread time spent encoding / decoding them.\n"
            "\n"
            "options:\n"
            "  --shared DIR        folder holding models/ (default $HYPERC_SHARED or ../shared)\n"
            "  --models a,b,...    model names in DIR/models (default: every *.safetensors)\n"
            "  --settings FILE     settings, one per line ('#' comments), or 'default'\n"
            "  --add SETTING       one more setting (repeatable)\n"
            "  --only SETTING      measure this setting instead of the list (repeatable)\n"
            "  -o FILE             CSV output (default: standard output)\n"
            "  --png FILE          chart (needs gnuplot; skipped with a note without it)\n"
            "  --threads N         worker threads (default: all cores)\n"
            "\n"
            "A setting is codec[:key=value,...], e.g. paper:preset=paper-llm, paper:n=256,\n"
            "q8b, q4b, qkm:bits=5, qkm:bits=4,block=64, hlat:bits=4,dim=8. The keys are\n"
            "those of hyperc compress (bounds and rules in its --help), as key=value:\n");
    char keys[256];
    fprintf(f, "%s (n is a list a/b/c).\n\nThe built-in list:", hc_opt_rd_keys(keys, sizeof keys));
    const char *const *defaults = hc_rd_default_settings();
    for (size_t i = 0; defaults[i]; i++) fprintf(f, " %s", defaults[i]);
    fprintf(f, "\n");
}

/* ---- one measured row ------------------------------------------------------ */

typedef struct rd_row {
    char model[128];
    const hc_rd_setting *setting;
    hc_rd_result r;
} rd_row;

typedef struct rd_list {
    hc_rd_setting *v; /* [n] */
    size_t n;
} rd_list;

/* Adds a setting; a default-list entry the build cannot run is skipped with
 * a note, a user's is an error. Returns 0, or 2 (usage error). */
static int add_setting(rd_list *l, const char *text, int from_default) {
    if (l->n == RD_MAX_SETTINGS) {
        fprintf(stderr, "hyperc rd: more than %d settings\n", RD_MAX_SETTINGS);
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    if (hc_rd_parse_setting(text, 1, &l->v[l->n], &err) != HC_OK) {
        if (from_default) {
            fprintf(stderr, "hyperc rd: skipped: %s\n", err.msg);
            return 0;
        }
        fprintf(stderr, "hyperc rd: %s\n", err.msg);
        return HC_EXIT_USAGE;
    }
    l->n++;
    return 0;
}

static int read_settings_file(rd_list *l, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "hyperc rd: cannot open settings file '%s': %s\n", path, strerror(errno));
        return HC_EXIT_USAGE;
    }
    char line[1024];
    int rc = 0, lineno = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line, *e;
        while (*p == ' ' || *p == '\t') p++;
        for (e = p + strlen(p); e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t');) *--e = 0;
        if (!*p || *p == '#') continue;
        if ((rc = add_setting(l, p, 0))) fprintf(stderr, "hyperc rd: in '%s' line %d\n", path, lineno);
    }
    fclose(f);
    return rc;
}

/* ---- models ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Model names (without .safetensors) into names[]; returns the count or -1. */
static int list_models(const char *dir, const char *wanted, char **names, int max) {
    int n = 0;
    if (wanted) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", wanted);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (n == max) return -1;
            size_t l = strlen(tok);
            if (ends_with(tok, ".safetensors")) l -= strlen(".safetensors");
            names[n] = strndup(tok, l);
            if (!names[n]) return -1;
            n++;
        }
        return n;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "hyperc rd: cannot list '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) && n < max)
        if (ends_with(de->d_name, ".safetensors") && de->d_name[0] != '.') {
            names[n] = strndup(de->d_name, strlen(de->d_name) - strlen(".safetensors"));
            if (names[n]) n++;
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

/* ---- CSV --------------------------------------------------------------------------- */

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, const char *fmt, double v) {
    if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", f);
    else fprintf(f, fmt, v);
}

static void csv_row(FILE *f, const rd_row *w) {
    csv_field(f, w->model);
    fputc(',', f);
    csv_field(f, w->setting->text);
    fprintf(f, ",%s,", hc_codec_name(w->setting->opts.codec));
    csv_num(f, "%.6f", w->r.bpw_coded);
    fputc(',', f);
    csv_num(f, "%.6f", w->r.bpw_file);
    fputc(',', f);
    csv_num(f, "%.6e", w->r.nmse);
    fputc(',', f);
    csv_num(f, "%.4f", w->r.snr_db);
    fprintf(f, ",%.3f,", w->r.seconds);
    csv_num(f, "%.6f", w->r.bpw_payload);
    fprintf(f, ",%zu,%llu,%llu,", w->r.tensors_coded, (unsigned long long)w->r.weights_coded,
            (unsigned long long)w->r.weights_total);
    /* speeds per thread: weights over the thread-seconds spent in each step */
    double wc = (double)w->r.weights_coded;
    fprintf(f, "%.3f,%.3f\n", w->r.encode_s > 0 ? wc / w->r.encode_s / 1e6 : 0.0,
            w->r.decode_s > 0 ? wc / w->r.decode_s / 1e6 : 0.0);
}

static const char CSV_HEADER[] =
    "model,setting,codec,bpw_coded,bpw_file,nmse,snr_db,seconds,bpw_payload,tensors_coded,weights_coded,"
    "weights_total,encode_mws,decode_mws\n";

static int write_csv(const char *path, const rd_row *rows, size_t n) {
    if (!path) {
        fputs(CSV_HEADER, stdout);
        for (size_t i = 0; i < n; i++) csv_row(stdout, &rows[i]);
        fflush(stdout);
        return 0;
    }
    /* built in memory, then written through the crash-safe output file */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return -1;
    fputs(CSV_HEADER, m);
    for (size_t i = 0; i < n; i++) csv_row(m, &rows[i]);
    fclose(m);
    hc_error err;
    hc_error_clear(&err);
    hc_outfile o;
    hc_status s = hc_out_open(&o, path, 1, &err);
    if (!s) {
        s = hc_out_write(&o, buf, len, &err);
        if (!s) s = hc_out_commit(&o, &err);
        else hc_out_abort(&o);
    }
    free(buf);
    if (s) fprintf(stderr, "hyperc rd: %s\n", err.msg);
    return s ? -1 : 0;
}

/* ---- chart ------------------------------------------------------------------------ */

/* k-quant reference points of the rate–distortion issue: SNR (dB) at these bpw. */
static const double ref_bpw[5] = {6.56, 5.5, 4.5, 4.25, 3.44};
static const struct { const char *model; double snr[5]; } ref_snr[] = {
    {"stories260K", {35.0, 28.7, 22.8, 22.2, 16.4}},
    {"resnet20", {35.2, 29.2, 23.3, 22.4, 16.8}},
    {"resnet56", {35.1, 29.2, 23.3, 22.3, 16.7}},
    {"mobilenet_v1_075", {34.0, 28.3, 22.3, 21.5, 15.7}},
};

static char *find_in_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char *copy = strdup(path), *found = NULL;
    for (char *save = NULL, *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char cand[4096];
        snprintf(cand, sizeof cand, "%s/%s", dir, prog);
        if (access(cand, X_OK) == 0) found = strdup(cand);
    }
    free(copy);
    return found;
}

/* A gnuplot single-quoted string: quotes are doubled. */
static void gp_string(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* One colour per codec (its table's), the same in every panel. */
static const char *codec_colour(hc_codec_id c) {
    const hc_codec_vt *vt = hc_codec_get(c);
    return vt && vt->rd_colour ? vt->rd_colour : "#808080";
}

/* A curve's family: the codec, with preset settings apart (they are single
 * operating points, not a sweep). */
static void family_of(const hc_rd_setting *s, char *buf, size_t n) {
    snprintf(buf, n, "%s%s", hc_codec_name(s->opts.codec), strstr(s->text, "preset=") ? " presets" : "");
}

static int by_bpw(const void *a, const void *b) {
    double x = (*(const rd_row *const *)a)->r.bpw_coded, y = (*(const rd_row *const *)b)->r.bpw_coded;
    return (x > y) - (x < y);
}

static void write_gnuplot_script(FILE *f, const char *png_tmp, const rd_row *rows, size_t n, char **models,
                                 int nmodels) {
    int cols = nmodels > 1 ? 2 : 1, nrows = (nmodels + 1) / 2;
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo noenhanced size %d,%d font ',10' }"
               " else { set terminal png noenhanced size %d,%d }\n",
            640 * cols, 480 * nrows, 640 * cols, 480 * nrows);
    fputs("set output ", f);
    gp_string(f, png_tmp);
    fprintf(f, "\nset multiplot layout %d,%d title 'SNR against bits per weight (coded tensors)'\n", nrows, cols);
    fputs("set grid\nset key bottom right font ',8'\nset xlabel 'bits per weight'\nset ylabel 'SNR (dB)'\n", f);
    const rd_row **sorted = malloc((n ? n : 1) * sizeof *sorted);
    for (int m = 0; m < nmodels; m++) {
        /* families of this model, in first-seen order */
        char fam[32][64];
        hc_codec_id fam_codec[32];
        int nfam = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(rows[i].model, models[m]) != 0 || !isfinite(rows[i].r.snr_db)) continue;
            char fname[64];
            family_of(rows[i].setting, fname, sizeof fname);
            int k = 0;
            while (k < nfam && strcmp(fam[k], fname) != 0) k++;
            if (k == nfam && nfam < 32) {
                fam_codec[nfam] = rows[i].setting->opts.codec;
                snprintf(fam[nfam++], sizeof fam[0], "%s", fname);
            }
        }
        int ref = -1;
        for (size_t r = 0; r < sizeof ref_snr / sizeof ref_snr[0]; r++)
            if (strcmp(ref_snr[r].model, models[m]) == 0) ref = (int)r;
        fputs("set title ", f);
        gp_string(f, models[m]);
        fputs("\nplot ", f);
        int first = 1;
        for (int k = 0; k < nfam; k++) {
            fprintf(f, "%s'-' using 1:2 with %s lc rgb '%s' title ", first ? "" : ", ",
                    strstr(fam[k], "presets") ? "points pt 6 ps 1.5" : "linespoints pt 7 lw 1.5",
                    codec_colour(fam_codec[k]));
            gp_string(f, fam[k]);
            first = 0;
        }
        if (ref >= 0) {
            fprintf(f, "%s'-' using 1:2 with points pt 2 ps 2 lc rgb 'black' title 'k-quant (issue table)'",
                    first ? "" : ", ");
            first = 0;
        }
        if (first) fputs("NaN notitle", f);
        fputc('\n', f);
        for (int k = 0; k < nfam; k++) {
            size_t c = 0;
            for (size_t i = 0; i < n; i++) {
                char fname[64];
                family_of(rows[i].setting, fname, sizeof fname);
                if (strcmp(rows[i].model, models[m]) == 0 && isfinite(rows[i].r.snr_db) && strcmp(fname, fam[k]) == 0)
                    sorted[c++] = &rows[i];
            }
            qsort(sorted, c, sizeof *sorted, by_bpw);
            for (size_t i = 0; i < c; i++) fprintf(f, "%.6f %.4f\n", sorted[i]->r.bpw_coded, sorted[i]->r.snr_db);
            fputs("e\n", f);
        }
        if (ref >= 0) {
            for (int p = 0; p < 5; p++) fprintf(f, "%.2f %.1f\n", ref_bpw[p], ref_snr[ref].snr[p]);
            fputs("e\n", f);
        }
    }
    free(sorted);
    fputs("unset multiplot\nset output\n", f);
}

/* Renders the chart; returns 0 on success, 1 if skipped (no gnuplot), -1 on failure. */
static int write_png(const char *png, const rd_row *rows, size_t n, char **models, int nmodels) {
    char *gnuplot = find_in_path("gnuplot");
    if (!gnuplot) {
        fprintf(stderr, "hyperc rd: gnuplot not found: chart '%s' skipped (Debian: apt-get install gnuplot-nox)\n", png);
        return 1;
    }
    char script[] = "/tmp/hyperc-rd-XXXXXX";
    int fd = mkstemp(script);
    size_t tlen = strlen(png) + 32;
    char *png_tmp = malloc(tlen);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || !png_tmp) {
        fprintf(stderr, "hyperc rd: cannot write a gnuplot script: %s\n", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(script);
        }
        free(gnuplot);
        free(png_tmp);
        return -1;
    }
    snprintf(png_tmp, tlen, "%s.tmp.%ld", png, (long)getpid());
    write_gnuplot_script(f, png_tmp, rows, n, models, nmodels);
    int ok = fclose(f) == 0;
    pid_t pid;
    char *argv[] = {gnuplot, script, NULL};
    int status = 0;
    if (ok) ok = posix_spawn(&pid, gnuplot, NULL, NULL, argv, environ) == 0 && waitpid(pid, &status, 0) == pid &&
                 WIFEXITED(status) && WEXITSTATUS(status) == 0;
    /* the chart appears under its name only when complete */
    if (ok) ok = access(png_tmp, R_OK) == 0 && rename(png_tmp, png) == 0;
    if (!ok) {
        fprintf(stderr, "hyperc rd: gnuplot failed to draw '%s' (script kept: %s)\n", png, script);
        unlink(png_tmp);
    } else {
        unlink(script);
    }
    free(gnuplot);
    free(png_tmp);
    return ok ? 0 : -1;
}

/* ---- the targets of the rate-distortion issue ------------------------------------------ */

/* For each model of the reference table and each codec family measured at
 * several rates, the family's SNR interpolated (linearly in bpw) at the
 * reference budgets, against the k-quant figures + 1 dB. */
static void print_targets(FILE *f, const rd_row *rows, size_t n) {
    /* the codecs whose table asks for it: the default codec first */
    hc_codec_id fams[HC_CODEC_COUNT];
    size_t nfams = 0;
    const hc_codec_vt *def = hc_codec_get(hc_codec_default());
    if (def && def->rd_targets) fams[nfams++] = def->id;
    for (size_t i = 0; hc_codec_at(i) && nfams < HC_CODEC_COUNT; i++)
        if (hc_codec_at(i)->rd_targets && hc_codec_at(i) != def) fams[nfams++] = hc_codec_at(i)->id;
    int header = 0;
    for (size_t m = 0; m < sizeof ref_snr / sizeof ref_snr[0]; m++)
        for (size_t fi = 0; fi < nfams; fi++) {
            double bpw[64], snr[64];
            int k = 0;
            for (size_t i = 0; i < n && k < 64; i++) {
                if (strcmp(rows[i].model, ref_snr[m].model) || rows[i].setting->opts.codec != fams[fi] ||
                    strstr(rows[i].setting->text, "preset=") || rows[i].setting->opts.target_bpw > 0)
                    continue;
                int j = k++;
                while (j > 0 && bpw[j - 1] > rows[i].r.bpw_coded) {
                    bpw[j] = bpw[j - 1];
                    snr[j] = snr[j - 1];
                    j--;
                }
                bpw[j] = rows[i].r.bpw_coded;
                snr[j] = rows[i].r.snr_db;
            }
            if (k < 2) continue;
            if (!header) {
                fprintf(f, "\nSNR (dB) interpolated at the reference budgets; target = k-quant + 1 dB\n");
                fprintf(f, "%-18s %-6s", "model", "codec");
                for (int b = 0; b < 5; b++) fprintf(f, "   %5.2f bpw (target)", ref_bpw[b]);
                fprintf(f, "\n");
                header = 1;
            }
            fprintf(f, "%-18s %-6s", ref_snr[m].model, hc_codec_name(fams[fi]));
            for (int b = 0; b < 5; b++) {
                double x = ref_bpw[b], y = NAN;
                for (int j = 0; j + 1 < k; j++)
                    if (bpw[j] <= x && x <= bpw[j + 1] && bpw[j + 1] > bpw[j])
                        y = snr[j] + (snr[j + 1] - snr[j]) * (x - bpw[j]) / (bpw[j + 1] - bpw[j]);
                double target = ref_snr[m].snr[b] + 1.0;
                if (isnan(y))
                    fprintf(f, "   %-20s", "out of range");
                else
                    fprintf(f, "   %5.2f (%4.1f) %-5s", y, target, b == 3 ? "" : (y >= target ? "met" : "MISS"));
            }
            fprintf(f, "\n");
        }
}

/* ---- the low end: 2 and 2.5 bits per weight --------------------------------------------- */

/* For each model and codec measured (plain settings: no preset, budget or
 * pruning), the SNR interpolated at 2 and 2.5 bits per coded weight, or
 * that the codec cannot go that low, with the lowest rate it reached. */
static void print_low_rates(FILE *f, const rd_row *rows, size_t n) {
    static const double at[2] = {2.0, 2.5};
    int header = 0;
    for (size_t m0 = 0; m0 < n; m0++) {
        int first_of_model = 1;
        for (size_t q = 0; q < m0; q++)
            if (!strcmp(rows[q].model, rows[m0].model)) first_of_model = 0;
        if (!first_of_model) continue;
        for (int c = 0; c < HC_CODEC_COUNT; c++) {
            double bpw[RD_MAX_SETTINGS], snr[RD_MAX_SETTINGS];
            int k = 0;
            for (size_t i = 0; i < n; i++) {
                const hc_rd_setting *st = rows[i].setting;
                if (strcmp(rows[i].model, rows[m0].model) || (int)st->opts.codec != c || c == HC_CODEC_RAW ||
                    strstr(st->text, "preset=") || st->opts.target_bpw > 0 || st->opts.target_snr > 0 ||
                    st->opts.prune > 0 || st->opts.prune_m > 0 || !isfinite(rows[i].r.snr_db))
                    continue;
                int j = k++;
                while (j > 0 && bpw[j - 1] > rows[i].r.bpw_coded) {
                    bpw[j] = bpw[j - 1];
                    snr[j] = snr[j - 1];
                    j--;
                }
                bpw[j] = rows[i].r.bpw_coded;
                snr[j] = rows[i].r.snr_db;
            }
            if (k == 0) continue;
            if (!header) {
                fprintf(f, "\nLow rates: SNR (dB) interpolated at 2 and 2.5 bits per coded weight (all-inclusive)\n");
                fprintf(f, "%-18s %-6s %9s %14s %14s\n", "model", "codec", "lowest", "2.00 bpw", "2.50 bpw");
                header = 1;
            }
            fprintf(f, "%-18s %-6s %9.3f", rows[m0].model, hc_codec_name((hc_codec_id)c), bpw[0]);
            for (int b = 0; b < 2; b++) {
                double y = NAN;
                if (bpw[0] == at[b]) y = snr[0];
                for (int j = 0; j + 1 < k; j++)
                    if (bpw[j] <= at[b] && at[b] <= bpw[j + 1] && bpw[j + 1] > bpw[j])
                        y = snr[j] + (snr[j + 1] - snr[j]) * (at[b] - bpw[j]) / (bpw[j + 1] - bpw[j]);
                if (!isnan(y)) fprintf(f, " %14.2f", y);
                else if (at[b] < bpw[0]) fprintf(f, " %14s", "cannot reach");
                else fprintf(f, " %14s", "not measured");
            }
            fprintf(f, "\n");
        }
    }
}

/* ---- the command ---------------------------------------------------------------------- */

int cmd_rd(int argc, char **argv) {
    const char *shared = getenv("HYPERC_SHARED"), *models_arg = NULL, *settings_arg = NULL;
    const char *csv = NULL, *png = NULL;
    const char *adds[RD_MAX_SETTINGS], *onlys[RD_MAX_SETTINGS];
    int nadd = 0, nonly = 0;
    long threads = 0;
    if (!shared) shared = "../shared";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rd_usage(stdout);
            return HC_EXIT_OK;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--shared") || !strcmp(a, "--models") || !strcmp(a, "--settings") ||
                    !strcmp(a, "--add") || !strcmp(a, "--only") || !strcmp(a, "-o") || !strcmp(a, "--png") ||
                    !strcmp(a, "--threads");
        if (!takes) {
            fprintf(stderr, "hyperc rd: unknown argument '%s' (see hyperc rd --help)\n", a);
            return HC_EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "hyperc rd: %s needs a value\n", a);
            return HC_EXIT_USAGE;
        }
        i++;
        if ((!strcmp(a, "--add") && nadd == RD_MAX_SETTINGS) || (!strcmp(a, "--only") && nonly == RD_MAX_SETTINGS)) {
            fprintf(stderr, "hyperc rd: more than %d %s settings\n", RD_MAX_SETTINGS, a);
            return HC_EXIT_USAGE;
        }
        if (!strcmp(a, "--shared")) shared = v;
        else if (!strcmp(a, "--models")) models_arg = v;
        else if (!strcmp(a, "--settings")) settings_arg = v;
        else if (!strcmp(a, "-o")) csv = v;
        else if (!strcmp(a, "--png")) png = v;
        else if (!strcmp(a, "--add") && nadd < RD_MAX_SETTINGS) adds[nadd++] = v;
        else if (!strcmp(a, "--only") && nonly < RD_MAX_SETTINGS) onlys[nonly++] = v;
        else if (!strcmp(a, "--threads") && cli_parse_int(v, 1, 256, &threads) != 0) {
            fprintf(stderr, "hyperc rd: --threads wants an integer in 1..256, got '%s'\n", v);
            return HC_EXIT_USAGE;
        }
    }

    /* the settings */
    rd_list list = {calloc(RD_MAX_SETTINGS, sizeof(hc_rd_setting)), 0};
    if (!list.v) return HC_EXIT_FAIL;
    int rc = 0;
    if (nonly) {
        for (int i = 0; i < nonly && !rc; i++) rc = add_setting(&list, onlys[i], 0);
    } else if (settings_arg && strcmp(settings_arg, "default") != 0) {
        rc = read_settings_file(&list, settings_arg);
    } else {
        const char *const *defaults = hc_rd_default_settings();
        for (size_t i = 0; defaults[i] && !rc; i++) rc = add_setting(&list, defaults[i], 1);
    }
    for (int i = 0; i < nadd && !rc; i++) rc = add_setting(&list, adds[i], 0);
    if (!rc && list.n == 0) {
        fprintf(stderr, "hyperc rd: no setting to measure\n");
        rc = HC_EXIT_USAGE;
    }

    /* the models */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models", shared);
    char *models[RD_MAX_MODELS] = {0};
    int nmodels = rc ? 0 : list_models(dir, models_arg, models, RD_MAX_MODELS);
    if (!rc && nmodels <= 0) {
        fprintf(stderr, "hyperc rd: no models found in '%s'\n", dir);
        rc = nmodels < 0 ? HC_EXIT_USAGE : HC_EXIT_FAIL;
    }
    rd_row *rows = rc ? NULL : calloc((size_t)nmodels * list.n + 1, sizeof *rows);
    if (!rc && !rows) rc = HC_EXIT_FAIL;
    size_t nrows = 0;
    FILE *table = csv ? stdout : stderr;
    if (!rc) fprintf(table, "%-18s %-26s %9s %9s %9s %12s %8s\n", "model", "setting", "bpw_code", "bpw_file",
                     "snr_db", "nmse", "seconds");
    for (int m = 0; m < nmodels && !rc; m++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, models[m]);
        hc_error err;
        hc_error_clear(&err);
        hc_safetensors *st = NULL;
        if (hc_st_open(path, &st, &err) != HC_OK) {
            fprintf(stderr, "hyperc rd: %s\n", err.msg);
            rc = HC_EXIT_FAIL;
            continue;
        }
        for (size_t s = 0; s < list.n; s++) {
            rd_row *w = &rows[nrows];
            snprintf(w->model, sizeof w->model, "%s", models[m]);
            w->setting = &list.v[s];
            hc_error_clear(&err);
            if (hc_rd_measure(st, models[m], &list.v[s].opts, (int)threads, &w->r, &err) != HC_OK) {
                fprintf(stderr, "hyperc rd: %s\n", err.msg);
                rc = HC_EXIT_FAIL; /* go on with the others; fail at the end */
                continue;
            }
            fprintf(table, "%-18s %-26s %9.4f %9.4f %9.3f %12.4e %8.2f\n", w->model, w->setting->text,
                    w->r.bpw_coded, w->r.bpw_file, w->r.snr_db, w->r.nmse, w->r.seconds);
            fflush(table);
            nrows++;
        }
        hc_st_close(st);
    }
    if (nrows) print_targets(table, rows, nrows);
    if (nrows) print_low_rates(table, rows, nrows);
    if (nrows && write_csv(csv, rows, nrows) != 0) rc = HC_EXIT_FAIL;
    int png_rc = nrows && png ? write_png(png, rows, nrows, models, nmodels) : 1;
    if (png_rc < 0) rc = HC_EXIT_FAIL;
    if (nrows && csv) fprintf(stdout, "wrote %s%s%s\n", csv, png_rc == 0 ? " and " : "", png_rc == 0 ? png : "");
    for (int m = 0; m < nmodels; m++) free(models[m]);
    free(rows);
    free(list.v);
    return rc;
}
