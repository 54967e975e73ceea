/* test_rd.c — `hyperc rd`: the settings parser, the measurement against an
 * independent computation and against the size of a real .hyc file, and the
 * command itself (CSV, chart or its skip note, exit codes). */
#include "test.h"
#include "../src/io/rd_model.h"
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- settings parser ------------------------------------------------------ */

TEST(rd_parse_good_settings) {
    hc_rd_setting s;
    hc_error err = {0};
    CHECK_OK(hc_rd_parse_setting("q8b", 1, &s, &err), &err);
    CHECK(s.opts.codec == HC_CODEC_Q8B && strcmp(s.text, "q8b") == 0 && s.opts.min_elems == 4096);
    CHECK_OK(hc_rd_parse_setting("qkm:bits=5", 1, &s, &err), &err);
    CHECK(s.opts.codec == HC_CODEC_QKM && s.opts.bits == 5 && (s.opts.block == 32 || s.opts.block == 0));
    CHECK_OK(hc_rd_parse_setting("qkm:block=64,bits=3", 1, &s, &err), &err);
    CHECK(s.opts.bits == 3 && s.opts.block == 64);
    /* a preset gives exactly hc_opts_preset, whatever the codec field */
    hc_opts want;
    CHECK_OK(hc_opts_preset(&want, "paper-llm", &err), &err);
    want.min_elems = 4096; /* the rate-distortion protocol's threshold */
    CHECK_OK(hc_rd_parse_setting("paper:preset=paper-llm", 0, &s, &err), &err);
    CHECK(memcmp(&s.opts, &want, sizeof want) == 0);
    /* overrides win over the preset wherever the preset is written */
    CHECK_OK(hc_rd_parse_setting("paper:L=0.3,preset=paper-vision,n=256/1600,C=2", 0, &s, &err), &err);
    CHECK(s.opts.rect_l == 0.3 && s.opts.bands_max == 2 && s.opts.n_points == 2);
    CHECK(s.opts.points[0] == 256 && s.opts.points[1] == 1600);
    CHECK_OK(hc_opts_preset(&want, "paper-vision", &err), &err);
    CHECK(s.opts.loss_target == want.loss_target && s.opts.rect_l_sigmas == want.rect_l_sigmas);
    CHECK_OK(hc_rd_parse_setting("paper:sigmas=2.5,loss_limit=0.01,min_elems=100", 0, &s, &err), &err);
    CHECK(s.opts.rect_l_sigmas == 2.5 && s.opts.loss_limit == 0.01 && s.opts.min_elems == 100);
    /* the built-in list parses (entries of codecs this build lacks are refused
     * as unsupported, nothing else) */
    for (size_t i = 0; hc_rd_default_settings()[i]; i++) {
        hc_error_clear(&err);
        hc_status st = hc_rd_parse_setting(hc_rd_default_settings()[i], 0, &s, &err);
        CHECKF(st == HC_OK || st == HC_E_UNSUPPORTED, "%s: %s", hc_rd_default_settings()[i], err.msg);
    }
}

/* A bad setting fails with HC_E_ARG (or UNSUPPORTED) and a message holding
 * the setting and the word that explains it. */
TEST(rd_parse_bad_settings) {
    struct { const char *text, *why; int probe; } bad[] = {
        {"", "empty", 0},
        {"nosuch", "unknown codec 'nosuch'", 0},
        {"nosuch:bits=4", "known: raw", 0},
        {"qkm:", "nothing after", 0},
        {"qkm:bits", "not key=value", 0},
        {"qkm:bits=", "not key=value", 0},
        {"qkm:=4", "not key=value", 0},
        {"qkm:bits=4,", "not key=value", 0},
        {"qkm:bits=x", "bits=x is not an integer", 0},
        {"qkm:bits=-3", "not an integer", 0},
        {"qkm:bits=99", "2..8 for codec qkm", 0},
        {"hlat:bits=99", "1..32 for codec hlat", 0},
        {"qkm:n=256", "does not apply to codec qkm", 0},
        {"hlat:preset=paper-llm", "contradicts preset=paper-llm", 0},
        {"qkm:bits=5,bpw=4", "contradicts bpw=4", 0},
        {"hlat:bpw=4,snr=30", "not both", 0},
        {"hlat:bpw=0.5", "outside the rates", 0},
        {"hlat:dim=12", "1..8", 0},
        {"paper:C=0", "1..64", 0},
        {"qkm:bits=4,bits=5", "given twice", 0},
        {"qkm:colour=red", "unknown key 'colour'", 0},
        {"paper:preset=nope", "unknown preset 'nope'", 0},
        {"paper:preset=paper-llm,preset=default", "more than one preset", 0},
        {"paper:n=256//1600", "list of sizes", 0},
        {"paper:n=0", "list of sizes", 0},
        {"paper:L=abc", "not a number", 0},
        {"paper:L=-1", "not a number in [0,", 0},
        {"paper:L=inf", "not a number", 0},
        {"qkm:bits=9", "2..8", 0},
        {"hlat:bits=3", "not in 4..32", 1},  /* the codec refuses it: found by the probe */
        {"qkm:block=12", "block must be", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hc_rd_setting s;
        hc_error err;
        hc_error_clear(&err);
        hc_status st = hc_rd_parse_setting(bad[i].text, bad[i].probe, &s, &err);
        CHECKF(st == HC_E_ARG, "'%s' -> %s (%s)", bad[i].text, hc_status_str(st), err.msg);
        CHECKF(strstr(err.msg, bad[i].why) != NULL, "'%s': message '%s' lacks '%s'", bad[i].text, err.msg, bad[i].why);
        if (bad[i].text[0]) CHECKF(strstr(err.msg, bad[i].text) != NULL, "'%s' not named in '%s'", bad[i].text, err.msg);
    }
    char longtext[400];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    hc_rd_setting s;
    hc_error err = {0};
    CHECK(hc_rd_parse_setting(longtext, 0, &s, &err) == HC_E_ARG);
}

/* ---- measurement ---------------------------------------------------------------- */

/* Size-weighted NMSE of a codec over resnet20's float tensors of >= 4096
 * weights, computed here without rd.c. */
static double independent_nmse(const hc_safetensors *st, hc_codec_id codec, uint64_t *coded) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = codec;
    double acc = 0;
    *coded = 0;
    for (size_t i = 0; i < hc_st_count(st); i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        if (ti->dtype != HC_F32 || ti->nelem < 4096) continue;
        float *w = malloc(ti->nelem * sizeof *w), *v = malloc(ti->nelem * sizeof *v);
        memcpy(w, hc_st_data(st, i), ti->nelem * sizeof *w);
        hc_encoded e;
        hc_error err = {0};
        hc_decoder *d = NULL;
        if (hc_encode(w, ti->nelem, &o, &e, &err) != HC_OK ||
            hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, ti->nelem, HC_F32, &d, &err)) {
            free(w), free(v);
            return -1;
        }
        hc_decode_all(d, v);
        double se = 0, ss = 0;
        for (uint64_t k = 0; k < ti->nelem; k++) {
            se += ((double)v[k] - w[k]) * ((double)v[k] - w[k]);
            ss += (double)w[k] * w[k];
        }
        acc += se / ss * (double)ti->nelem;
        *coded += ti->nelem;
        hc_decoder_free(d);
        hc_encoded_free(&e);
        free(w), free(v);
    }
    return acc / (double)*coded;
}

TEST(rd_resnet20_q8b_consistent) {
    const char *path = hc_test_shared("models/resnet20.safetensors");
    if (!path) return;
    hc_error err = {0};
    hc_safetensors *st;
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    hc_rd_setting q8, q4;
    CHECK_OK(hc_rd_parse_setting("q8b", 1, &q8, &err), &err);
    CHECK_OK(hc_rd_parse_setting("q4b", 1, &q4, &err), &err);
    hc_rd_result r8, r4, r8b;
    hc_status s8 = hc_rd_measure(st, "resnet20", &q8.opts, 2, &r8, &err);
    hc_status s4 = s8 ? s8 : hc_rd_measure(st, "resnet20", &q4.opts, 1, &r4, &err);
    hc_status s8b = s4 ? s4 : hc_rd_measure(st, "resnet20", &q8.opts, 1, &r8b, &err);
    uint64_t coded = 0;
    double nmse = independent_nmse(st, HC_CODEC_Q8B, &coded);
    hc_st_close(st);
    CHECK_OK(s8b, &err);
    CHECK(nmse > 0);
    CHECKF(fabs(r8.nmse - nmse) <= 1e-9 * nmse, "rd nmse %.10e, independent %.10e", r8.nmse, nmse);
    CHECK(fabs(r8.snr_db + 10 * log10(nmse)) < 1e-6);
    CHECK(r8.weights_coded == coded);
    /* thread count does not change the figures */
    CHECK(r8b.nmse == r8.nmse && r8b.bytes_file == r8.bytes_file);
    /* every resnet20 coded tensor is a multiple of 32 weights: exactly 8.5 / 4.5 */
    CHECKF(r8.bpw_payload == 8.5 && r4.bpw_payload == 4.5, "%.6f %.6f", r8.bpw_payload, r4.bpw_payload);
    CHECK(r8.bpw_coded > 8.5 && r8.bpw_coded < 8.6); /* plus directory entries */
    CHECK(r8.bpw_file > r8.bpw_coded);               /* small tensors stay float32 */
    CHECKF(r8.snr_db > r4.snr_db + 15, "q8b %.2f dB, q4b %.2f dB", r8.snr_db, r4.snr_db);
    /* the per-step times are thread time inside the call: positive, within its wall time times the threads */
    CHECK(r8.encode_s > 0 && r8.decode_s > 0 && r4.encode_s > 0 && r4.decode_s > 0);
    CHECKF(r4.encode_s + r4.decode_s <= r4.seconds * 1.01 + 1e-3, "encode %.4f + decode %.4f s in %.4f s", r4.encode_s,
           r4.decode_s, r4.seconds);
    /* the predicted file size is that of the file hyperc writes */
    char hyc[512];
    snprintf(hyc, sizeof hyc, "%s/rd_q8b.hyc", hc_test_tmpdir());
    hc_model_report rep;
    CHECK_OK(hc_compress_file(path, hyc, &q8.opts, 2, 1, NULL, NULL, &rep, &err), &err);
    CHECKF(rep.bytes_out == r8.bytes_file, "real file %llu bytes, rd predicts %llu", (unsigned long long)rep.bytes_out,
           (unsigned long long)r8.bytes_file);
    CHECK(rep.weights_total == r8.weights_total && rep.weights_coded == r8.weights_coded);
}

/* ---- the command ------------------------------------------------------------------- */

static int run_rd(const char *args, const char *log) {
    size_t cap = strlen(args) + 4;
    char *a = malloc(cap);
    if (!a) return -1;
    snprintf(a, cap, "rd %s", args);
    int s = hc_test_run(a, log, log);
    free(a);
    return s;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

TEST(rd_command_csv_and_chart) {
    const char *path = hc_test_shared("models/resnet20.safetensors");
    if (!path) return;
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    char shared[4096];
    snprintf(shared, sizeof shared, "%.*s", (int)(strlen(path) - strlen("/models/resnet20.safetensors")), path);
    const char *t = hc_test_tmpdir();
    char args[8192], log[512], csv[512], png[512];
    snprintf(log, sizeof log, "%s/rd.log", t);
    snprintf(csv, sizeof csv, "%s/rd.csv", t);
    snprintf(png, sizeof png, "%s/rd.png", t);
    snprintf(args, sizeof args, "--shared '%s' --models resnet20 --only q8b --only qkm:bits=4,block=32 -o '%s' --png '%s' --threads 2",
             shared, csv, png);
    CHECK(run_rd(args, log) == 0);
    /* the chart, or a note that it was skipped */
    FILE *f = fopen(png, "rb");
    if (f) {
        unsigned char magic[8] = {0};
        CHECK(fread(magic, 1, 8, f) == 8);
        fclose(f);
        CHECK(memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0);
    } else {
        CHECK(strstr(slurp(log), "skipped") != NULL);
    }
    char *text = slurp(csv);
    CHECK(text != NULL);
    CHECK(strncmp(text, "model,setting,codec,bpw_coded,bpw_file,nmse,snr_db,seconds", 58) == 0);
    /* the q8b row agrees with the library; the setting with a comma is quoted */
    char *row = strstr(text, "\nresnet20,q8b,q8b,");
    CHECK(row != NULL);
    double bpw_coded, bpw_file, nmse, snr;
    CHECK(sscanf(row + strlen("\nresnet20,q8b,q8b,"), "%lf,%lf,%lf,%lf", &bpw_coded, &bpw_file, &nmse, &snr) == 4);
    uint64_t coded;
    hc_error err = {0};
    hc_safetensors *st;
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    double want = independent_nmse(st, HC_CODEC_Q8B, &coded);
    hc_st_close(st);
    CHECKF(fabs(nmse - want) <= 1e-5 * want, "csv nmse %g, independent %g", nmse, want);
    CHECK(fabs(snr + 10 * log10(want)) < 1e-3);
    CHECK(strstr(text, "\nresnet20,\"qkm:bits=4,block=32\",qkm,") != NULL);
    CHECK(strstr(text, ",weights_total,encode_mws,decode_mws\n") != NULL);
    /* usage errors: exit 2 with a message */
    snprintf(args, sizeof args, "--shared '%s' --models resnet20 --only qkm:bits=9", shared);
    CHECK(run_rd(args, log) == 2);
    CHECK(strstr(slurp(log), "bits=9 is not an integer in 2..8 for codec qkm") != NULL);
    CHECK(run_rd("--frobnicate", log) == 2);
    CHECK(run_rd("--threads", log) == 2);
    snprintf(args, sizeof args, "--shared '%s' --models no_such_model --only q8b", shared);
    CHECK(run_rd(args, log) == 1);
    CHECK(strstr(slurp(log), "no_such_model") != NULL);
}
