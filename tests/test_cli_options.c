/* test_cli_options.c — the option rules of the command line (src/codec/
 * options.h): a preset gives defaults that explicit options override in any
 * order; options of another codec, contradicting options and values out of
 * bounds are usage errors (exit 2) naming the options, found before any
 * work; extra operands and unknown flags are refused by every command. */
#include "test.h"
#include "../src/codec/options.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b ? b : "build/hyperc";
}

static const char *tpath(const char *name) {
    static char buf[64][512];
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", hc_test_tmpdir(), name);
    return buf[k];
}

/* Runs `hyperc args`; stdout and stderr together into *out; the exit status. */
static int run(const char *args, const char **out) {
    static char buf[16384];
    const char *log = tpath("opt.log");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2>&1", bin(), args, log);
    int s = system(cmd);
    size_t n = 0;
    uint8_t *t = hc_test_slurp(log, &n);
    if (n >= sizeof buf) n = sizeof buf - 1;
    if (t) memcpy(buf, t, n);
    buf[n] = 0;
    free(t);
    *out = buf;
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

/* tok_emb (64x64), w (64x64), b (64): a tiny model, made once. */
static const char *model(void) {
    static char path[512];
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s/opts_model.safetensors", hc_test_tmpdir());
    static float w[2][4096], b[64];
    hc_rng r = {11};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 4096; i++) w[t][i] = (float)(0.05 * hc_rng_normal(&r));
    for (int i = 0; i < 64; i++) b[i] = (float)i;
    hc_tensor_info ti[3];
    memset(ti, 0, sizeof ti);
    const char *names[3] = {"tok_emb", "w", "b"};
    for (int k = 0; k < 3; k++) {
        snprintf(ti[k].name, sizeof ti[k].name, "%s", names[k]);
        ti[k].dtype = HC_F32;
        ti[k].ndim = k < 2 ? 2 : 1;
        ti[k].shape[0] = 64;
        ti[k].shape[1] = k < 2 ? 64 : 0;
        ti[k].nelem = k < 2 ? 4096 : 64;
        ti[k].nbytes = ti[k].nelem * 4;
    }
    hc_error err = {0};
    hc_st_writer *wr;
    if (hc_st_writer_open(path, ti, 3, NULL, 0, 1, &wr, &err) || hc_st_writer_put(wr, 0, w[0], &err) ||
        hc_st_writer_put(wr, 1, w[1], &err) || hc_st_writer_put(wr, 2, b, &err) || hc_st_writer_finish(wr, &err)) {
        path[0] = 0;
        return NULL;
    }
    return path;
}

static int have_tool(void) {
    if (access(bin(), X_OK) == 0) return 1;
    hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
    return 0;
}

/* Coded bits per weight of the lossy tensors of a .hyc, and which codec. */
static double coded_bpw(const char *hyc, hc_codec_id *codec, int *kept_tok) {
    hc_error err = {0};
    hc_hyc *h;
    if (hc_hyc_open(hyc, &h, &err)) return -1;
    double bits = 0, n = 0;
    *kept_tok = 0;
    for (size_t i = 0; i < hc_hyc_count(h); i++) {
        const hc_hyc_entry *e = hc_hyc_get(h, i);
        if (!strcmp(e->info.name, "tok_emb") && e->codec == HC_CODEC_RAW) *kept_tok = 1;
        if (e->codec == HC_CODEC_RAW) continue;
        *codec = e->codec;
        bits += 8.0 * (double)(e->size + e->params_len);
        n += (double)e->info.nelem;
    }
    hc_hyc_close(h);
    return n > 0 ? bits / n : 0;
}

TEST(cli_preset_is_defaults) {
    if (!have_tool() || !model()) return;
    const char *hyc = tpath("o.hyc"), *out;
    char args[2048];
    hc_codec_id codec = HC_CODEC_RAW;
    int kept;
    /* a budget before the preset is kept (it was dropped) */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q --bpw 4.5 --preset paper-llm", model(), hyc);
    CHECKF(run(args, &out) == 0, "%s", out);
    double bpw = coded_bpw(hyc, &codec, &kept);
    CHECKF(codec == HC_CODEC_PAPER && bpw > 3 && bpw <= 4.5 + 1e-9, "codec %d, %.3f bpw", (int)codec, bpw);
    /* ... and after it, the same file */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q --preset paper-llm --bpw 4.5", model(), tpath("o2.hyc"));
    CHECKF(run(args, &out) == 0, "%s", out);
    double bpw2 = coded_bpw(tpath("o2.hyc"), &codec, &kept);
    CHECK(bpw2 == bpw);
    /* a keep list before the preset is kept */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q --keep 'tok_*' --preset default", model(), hyc);
    CHECKF(run(args, &out) == 0, "%s", out);
    coded_bpw(hyc, &codec, &kept);
    CHECK(kept && codec == HC_CODEC_HLAT);
    /* --preset default goes with any codec; a paper preset with paper */
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q --codec qkm --preset default --bits 3", model(), hyc);
    CHECKF(run(args, &out) == 0, "%s", out);
    bpw = coded_bpw(hyc, &codec, &kept);
    CHECKF(codec == HC_CODEC_QKM && bpw > 3.4 && bpw < 3.7, "codec %d, %.3f bpw", (int)codec, bpw);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f -q --codec paper --preset paper-vision --points 256",
             model(), hyc);
    CHECKF(run(args, &out) == 0, "%s", out);
}

/* Usage errors: exit 2, every listed word in the message, no output file. The
 * input does not exist, so the refusal comes before any work. */
TEST(cli_option_conflicts_refused) {
    if (!have_tool()) return;
    struct { const char *args, *words[3]; } bad[] = {
        {"--preset paper-llm --codec hlat", {"--codec hlat", "--preset paper-llm", "contradicts"}},
        {"--codec hlat --preset paper-vision", {"--codec hlat", "--preset paper-vision", "contradicts"}},
        {"--codec hlat --rect-l 0.1", {"--rect-l 0.1", "codec hlat", "does not apply"}},
        {"--codec qkm --points 256", {"--points 256", "codec qkm", "does not apply"}},
        {"--bands 2", {"--bands 2", "codec hlat", "does not apply"}},
        {"--codec q4b --loss-target 0.1", {"--loss-target", "codec q4b", "does not apply"}},
        {"--loss-max 0.1 --codec qkm", {"--loss-max", "codec qkm", "does not apply"}},
        {"--codec hlat --loss-limit 0.1", {"--loss-limit", "codec hlat", "does not apply"}},
        {"--codec raw --bpw 4", {"--bpw 4", "codec raw", "does not apply"}},
        {"--codec q8b --bits 3", {"--bits 3", "codec q8b", "does not apply"}},
        {"--codec q8b --block 64", {"--block 64", "codec q8b", "does not apply"}},
        {"--codec paper --dim 4", {"--dim 4", "codec paper", "does not apply"}},
        {"--preset paper-llm --bits 4", {"--bits 4", "codec paper", "--preset paper-llm"}},
        {"--bpw 4 --snr 30", {"--bpw 4", "--snr 30", "contradicts"}},
        {"--snr 30 --bpw 4", {"--bpw 4", "--snr 30", "contradicts"}},
        {"--codec qkm --bits 5 --bpw 4", {"--bits 5", "--bpw 4", "contradicts"}},
        {"--codec hlat --snr 30 --bits 20", {"--bits 20", "--snr 30", "contradicts"}},
        {"--codec paper --points 256 --bpw 4", {"--points 256", "--bpw 4", "contradicts"}},
        {"--bpw 0.5", {"--bpw 0.5", "codec hlat", "1.688..7.688"}},
        {"--bpw 32", {"--bpw 32", "codec hlat", "outside the rates"}},
        {"--codec qkm --bpw 9", {"--bpw 9", "codec qkm", "2.062..8.500"}},
        {"--codec paper --bpw 1", {"--bpw 1", "codec paper", "outside the rates"}},
        {"--codec qkm --bits 9", {"--bits 9", "2..8", "qkm"}},
        {"--codec qkm --bits 1", {"--bits 1", "2..8", "qkm"}},
        {"--bits 33", {"--bits 33", "1..32", "hlat"}},
        {"--bits 3", {"hlat", "3", "4..32"}}, /* below dim 4: the codec's own check, before any work */
        {"--dim 12", {"--dim 12", "1..8", ""}},
        {"--codec paper --bands 65", {"--bands 65", "1..64", ""}},
        {"--codec paper --points 0", {"--points 0", "list of sizes", ""}},
        {"--snr 500", {"--snr 500", "200", ""}},
        {"--codec nope", {"unknown codec 'nope'", "", ""}},
        {"--preset nope", {"unknown preset 'nope'", "", ""}},
    };
    char args[2048];
    const char *out;
    char hyc[512];
    snprintf(hyc, sizeof hyc, "%s", tpath("never.hyc"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "compress /nonexistent/in.safetensors -o '%s' %s", hyc, bad[i].args);
        int rc = run(args, &out);
        CHECKF(rc == 2, "'%s': exit %d: %s", bad[i].args, rc, out);
        for (int k = 0; k < 3; k++)
            CHECKF(strstr(out, bad[i].words[k]) != NULL, "'%s': message '%s' lacks '%s'", bad[i].args, out,
                   bad[i].words[k]);
        CHECKF(strstr(out, "nonexistent") == NULL, "'%s': the input was opened: %s", bad[i].args, out);
        CHECK(access(hyc, F_OK) != 0);
    }
}

/* The same table behind rd settings: one set of bounds. */
TEST(cli_rd_settings_share_the_table) {
    hc_optset a, b;
    hc_opts oa, ob;
    hc_error err = {0};
    /* every row: CLI and rd spellings give the same options */
    hc_optset_init(&a, 0);
    hc_optset_init(&b, 1);
    CHECK_OK(hc_optset_add(&a, "--codec", "hlat", &err), &err);
    CHECK_OK(hc_optset_add(&a, "--dim", "8", &err), &err);
    CHECK_OK(hc_optset_add(&a, "--bits", "30", &err), &err);
    CHECK_OK(hc_optset_add(&a, "--block", "64", &err), &err);
    CHECK_OK(hc_optset_add(&a, "--min-elems", "7", &err), &err);
    b.codec_set = 1;
    b.codec = HC_CODEC_HLAT;
    CHECK_OK(hc_optset_add(&b, "dim", "8", &err), &err);
    CHECK_OK(hc_optset_add(&b, "bits", "30", &err), &err);
    CHECK_OK(hc_optset_add(&b, "block", "64", &err), &err);
    CHECK_OK(hc_optset_add(&b, "min_elems", "7", &err), &err);
    CHECK_OK(hc_optset_finish(&a, &oa, &err), &err);
    CHECK_OK(hc_optset_finish(&b, &ob, &err), &err);
    CHECK(memcmp(&oa, &ob, sizeof oa) == 0);
    /* --dim 12 is refused by both (it was 1..16 in one parser, 1..1024 in the other) */
    hc_optset_init(&a, 0);
    CHECK_OK(hc_optset_add(&a, "--dim", "12", &err), &err);
    CHECK(hc_optset_finish(&a, &oa, &err) == HC_E_ARG && strstr(err.msg, "1..8"));
    hc_optset_init(&b, 1);
    b.codec_set = 1;
    b.codec = HC_CODEC_HLAT;
    CHECK_OK(hc_optset_add(&b, "dim", "12", &err), &err);
    CHECK(hc_optset_finish(&b, &ob, &err) == HC_E_ARG && strstr(err.msg, "dim=12") && strstr(err.msg, "1..8"));
    /* the CLI form: the last of two wins; rd: given twice is an error */
    hc_optset_init(&a, 0);
    CHECK_OK(hc_optset_add(&a, "--bits", "10", &err), &err);
    CHECK_OK(hc_optset_add(&a, "--bits", "12", &err), &err);
    CHECK_OK(hc_optset_finish(&a, &oa, &err), &err);
    CHECK(oa.bits == 12);
    hc_optset_init(&b, 1);
    CHECK_OK(hc_optset_add(&b, "C", "2", &err), &err);
    CHECK(hc_optset_add(&b, "bands", "3", &err) == HC_E_ARG && strstr(err.msg, "twice"));
    CHECK(hc_optset_add(&b, "colour", "red", &err) == HC_E_UNSUPPORTED);
    /* the rate range of the ladder */
    double lo, hi;
    hc_opts_default(&oa);
    CHECK(hc_opts_rate_range(&oa, &lo, &hi) == 0 && lo > 1.68 && lo < 1.69 && hi > 7.68 && hi < 7.69);
    oa.codec = HC_CODEC_Q8B;
    CHECK(hc_opts_rate_range(&oa, &lo, &hi) != 0);
    /* the help lines come from the table */
    size_t rows = 0;
    for (const hc_opt_def *r = hc_opt_rows(); r->cli || r->key; r++) rows += r->help != NULL && r->lo <= r->hi;
    CHECK(rows >= 15);
}

/* Extra operands and unknown flags, by every command. */
TEST(cli_operands_and_unknown_flags) {
    if (!have_tool()) return;
    const char *out;
    struct { const char *args, *word; } bad[] = {
        {"generate a.bin b.bin --tokenizer t.bin", "unexpected argument 'b.bin'"},
        {"generate --tokenizer t.bin a.bin b.bin", "unexpected argument 'b.bin'"},
        {"perplexity a.bin b.bin --tokenizer t --text x", "unexpected argument 'b.bin'"},
        {"compress a b -o c", "unexpected argument 'b'"},
        {"decompress a b -o c", "unexpected argument 'b'"},
        {"info a b", "unexpected argument 'b'"},
        {"compare a b c", "unexpected argument 'c'"},
        {"compress a -o b --json", "unknown option '--json'"},
        {"compress --json a -o b", "unknown option '--json'"},
        {"decompress a -o b --json", "unknown option '--json'"},
        {"generate a.bin --tokenizer t --json", "unknown option '--json'"},
        {"generate a.bin --json --tokenizer t", "unknown option '--json'"},
        {"perplexity a.bin --tokenizer t --text x --json", "unknown option '--json'"},
        {"info a --json", "unknown option '--json'"},
        {"compare a b --json", "unknown option '--json'"},
        {"rd --json", "unknown argument '--json'"},
        {"compress a -o", "-o needs a value"},
        {"compress a -o b --bits", "--bits needs a value"},
        {"decompress a -o", "-o needs a value"},
        {"generate a.bin --tokenizer", "--tokenizer needs a value"},
        {"perplexity a.bin --text", "--text needs a value"},
        {"generate a.bin --tokenizer t -n x", "bad value for -n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run(bad[i].args, &out);
        CHECKF(rc == 2, "'%s': exit %d: %s", bad[i].args, rc, out);
        CHECKF(strstr(out, bad[i].word) != NULL, "'%s': '%s' lacks '%s'", bad[i].args, out, bad[i].word);
        CHECKF(strstr(out, "needs a value") == NULL || strstr(bad[i].word, "needs a value"), "'%s': %s", bad[i].args,
               out);
    }
    /* the help text lists the table's options */
    CHECK(run("compress --help", &out) == 0);
    CHECK(strstr(out, "--loss-limit X") && strstr(out, "--dim K") && strstr(out, "1..8") && strstr(out, "override"));
}

/* The table's bounds are the codecs' own: each end of every integer range
 * is accepted by the codec (a trial encoding), one beyond it refused. */
TEST(cli_table_bounds_match_the_codecs) {
    hc_error err = {0};
    for (const hc_opt_def *r = hc_opt_rows(); r->cli || r->key; r++) {
        if (r->kind != HC_OPTK_UINT && r->kind != HC_OPTK_LIST) continue;
        if (hc_opt_is(r, "min_elems")) continue; /* not a codec setting */
        for (int c = 0; c < HC_CODEC_COUNT; c++) {
            if (!(r->codecs & (1u << c))) continue;
            for (int end = 0; end < 3; end++) {
                double v = end == 0 ? r->lo : end == 1 ? r->hi : r->hi + 1;
                char val[32];
                snprintf(val, sizeof val, "%.0f", v);
                hc_optset s;
                hc_optset_init(&s, 1);
                s.codec_set = 1;
                s.codec = (hc_codec_id)c;
                CHECK_OK(hc_optset_add(&s, r->key, val, &err), &err);
                /* the settings the extreme needs from the others */
                if (c == HC_CODEC_HLAT && (hc_opt_is(r, "bits") || hc_opt_is(r, "block")) && end == 0)
                    hc_optset_add(&s, "dim", "1", &err);
                if (c == HC_CODEC_PAPER && hc_opt_is(r, "points") && end > 0) hc_optset_add(&s, "C", "1", &err);
                /* hlat's default bits (5 dim + 1) exceed 32 from dim 7 on */
                if (c == HC_CODEC_HLAT && hc_opt_is(r, "dim") && end > 0) hc_optset_add(&s, "bits", "30", &err);
                hc_opts o;
                hc_status st = hc_optset_finish(&s, &o, &err);
                if (end == 2) {
                    CHECKF(st == HC_E_ARG, "%s=%s accepted for %s", r->key, val, hc_codec_name((hc_codec_id)c));
                    continue;
                }
                CHECKF(st == HC_OK, "%s=%s for %s: %s", r->key, val, hc_codec_name((hc_codec_id)c), err.msg);
                st = hc_opts_probe(&o, &err);
                CHECKF(st == HC_OK, "%s=%s refused by %s: %s", r->key, val, hc_codec_name((hc_codec_id)c), err.msg);
            }
        }
    }
}
