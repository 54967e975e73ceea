/* test_model.c — end to end: real models through hc_compress_file /
 * hc_decompress_file and through the hyperc command (exit codes, refusals,
 * no partial outputs). */
#include "test.h"
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Compares a restored model with its original: names, order, dtypes, shapes,
 * metadata identical; tensors that were stored RAW bit-exact; coded tensors
 * within max_nmse. Returns 0 if all holds. */
static int check_restored(const char *orig_path, const char *hyc_path, const char *back_path, double max_nmse) {
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *a = NULL, *b = NULL;
    hc_hyc *h = NULL;
    int rc = -1;
    if (hc_st_open(orig_path, &a, &err) != HC_OK || hc_st_open(back_path, &b, &err) != HC_OK ||
        hc_hyc_open(hyc_path, &h, &err) != HC_OK) {
        hc_test_fail(__FILE__, __LINE__, err.msg);
        goto done;
    }
    if (hc_st_count(a) != hc_st_count(b) || hc_st_count(a) != hc_hyc_count(h)) {
        hc_test_fail(__FILE__, __LINE__, "tensor counts differ");
        goto done;
    }
    size_t ma = 0, mb = 0;
    const char *meta_a = hc_st_metadata(a, &ma), *meta_b = hc_st_metadata(b, &mb);
    if (ma != mb || (ma && memcmp(meta_a, meta_b, ma))) {
        hc_test_fail(__FILE__, __LINE__, "metadata differs");
        goto done;
    }
    int coded = 0;
    for (size_t i = 0; i < hc_st_count(a); i++) {
        const hc_tensor_info *ia = hc_st_info(a, i), *ib = hc_st_info(b, i);
        if (strcmp(ia->name, ib->name) || ia->dtype != ib->dtype || ia->ndim != ib->ndim ||
            memcmp(ia->shape, ib->shape, sizeof ia->shape[0] * ia->ndim)) {
            char m[2200];
            snprintf(m, sizeof m, "tensor %zu differs in name/dtype/shape: '%s' vs '%s'", i, ia->name, ib->name);
            hc_test_fail(__FILE__, __LINE__, m);
            goto done;
        }
        const hc_hyc_entry *e = hc_hyc_get(h, i);
        if (e->codec == HC_CODEC_RAW) {
            if (memcmp(hc_st_data(a, i), hc_st_data(b, i), ia->nbytes)) {
                hc_test_fail(__FILE__, __LINE__, "a losslessly stored tensor is not bit-exact");
                goto done;
            }
        } else {
            coded++;
            float *fa = malloc(ia->nelem * 4), *fb = malloc(ia->nelem * 4);
            hc_to_f32(ia->dtype, hc_st_data(a, i), fa, ia->nelem);
            hc_to_f32(ib->dtype, hc_st_data(b, i), fb, ib->nelem);
            double se = 0, sq = 0;
            for (uint64_t k = 0; k < ia->nelem; k++) {
                se += ((double)fa[k] - fb[k]) * ((double)fa[k] - fb[k]);
                sq += (double)fa[k] * fa[k];
            }
            free(fa);
            free(fb);
            if (!(se <= max_nmse * sq)) {
                char m[2200];
                snprintf(m, sizeof m, "tensor '%s' nmse %.3e above %.3e", ia->name, se / sq, max_nmse);
                hc_test_fail(__FILE__, __LINE__, m);
                goto done;
            }
        }
    }
    if (coded == 0) {
        hc_test_fail(__FILE__, __LINE__, "no tensor was coded");
        goto done;
    }
    rc = 0;
done:
    hc_st_close(a);
    hc_st_close(b);
    hc_hyc_close(h);
    return rc;
}

static void roundtrip_model(const char *model, const char *preset, double max_nmse) {
    const char *in = hc_test_shared(model);
    if (!in) return;
    char hyc[512], back[512];
    snprintf(hyc, sizeof hyc, "%s/%s.hyc", hc_test_tmpdir(), preset);
    snprintf(back, sizeof back, "%s/%s.safetensors", hc_test_tmpdir(), preset);
    hc_opts o;
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_opts_preset(&o, preset, &err), &err);
    hc_model_report rep;
    CHECK_OK(hc_compress_file(in, hyc, &o, 2, 1, NULL, NULL, &rep, &err), &err);
    CHECK(rep.bytes_out > 0 && rep.bytes_out < rep.bytes_in);
    CHECK(rep.weights_coded > 0);
    CHECK_OK(hc_decompress_file(hyc, back, 2, 1, &err), &err);
    CHECK(check_restored(in, hyc, back, max_nmse) == 0);
}

TEST(model_roundtrip_stories260k_paper_llm) { roundtrip_model("models/stories260K.safetensors", "paper-llm", 0.02); }
TEST(model_roundtrip_resnet20_paper_vision) { roundtrip_model("models/resnet20.safetensors", "paper-vision", 0.05); }
TEST(model_roundtrip_resnet20_default) { roundtrip_model("models/resnet20.safetensors", "default", 0.02); }

TEST(model_threads_give_identical_files) {
    const char *in = hc_test_shared("models/stories260K.safetensors");
    if (!in) return;
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/t1.hyc", hc_test_tmpdir());
    snprintf(p2, sizeof p2, "%s/t3.hyc", hc_test_tmpdir());
    hc_opts o;
    hc_opts_default(&o);
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_compress_file(in, p1, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_compress_file(in, p2, &o, 3, 1, NULL, NULL, NULL, &err), &err);
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    CHECK(f1 && f2);
    int same = 1, c1, c2;
    do {
        c1 = fgetc(f1);
        c2 = fgetc(f2);
        if (c1 != c2) same = 0;
    } while (same && c1 != EOF);
    fclose(f1);
    fclose(f2);
    CHECK(same);
}

/* Refusals leave no file under the final name and never touch the input. */
TEST(model_refusals_leave_nothing) {
    char bad[512], out[512];
    snprintf(bad, sizeof bad, "%s/bad.safetensors", hc_test_tmpdir());
    snprintf(out, sizeof out, "%s/bad.hyc", hc_test_tmpdir());
    FILE *f = fopen(bad, "wb");
    CHECK(f);
    fputs("\x10\0\0\0\0\0\0\0{\"a\":", f); /* header longer than the file */
    fclose(f);
    hc_opts o;
    hc_opts_default(&o);
    hc_error err;
    hc_error_clear(&err);
    CHECK(hc_compress_file(bad, out, &o, 1, 1, NULL, NULL, NULL, &err) != HC_OK);
    CHECK(strstr(err.msg, "bad.safetensors") != NULL);
    CHECK(!file_exists(out));
    /* existing output without overwrite */
    const char *in = hc_test_shared("models/resnet20.safetensors");
    if (!in) return;
    f = fopen(out, "wb");
    CHECK(f);
    fputs("keep me", f);
    fclose(f);
    hc_error_clear(&err);
    CHECK(hc_compress_file(in, out, &o, 1, 0, NULL, NULL, NULL, &err) == HC_E_EXISTS);
    f = fopen(out, "rb");
    char buf[16] = {0};
    CHECK(f && fread(buf, 1, sizeof buf, f) == 7);
    fclose(f);
    CHECK(strcmp(buf, "keep me") == 0);
    /* no temporary files left behind in the directory */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.tmp\\.' > /dev/null", hc_test_tmpdir());
    CHECK(system(cmd) != 0);
}

/* ---- the command line ---------------------------------------------------- */

static const char *bin(void) {
    const char *b = getenv("HYPERC_BIN");
    return b ? b : "build/hyperc";
}

static int run(const char *args, const char *outfile) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s > '%s' 2>&1", bin(), args, outfile);
    int s = system(cmd);
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

static int file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

TEST(cli_end_to_end_resnet20) {
    const char *in = hc_test_shared("models/resnet20.safetensors");
    if (!in) return;
    if (access(bin(), X_OK) != 0) {
        hc_test_fail(__FILE__, __LINE__, "hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *t = hc_test_tmpdir();
    char args[2048], log[512], hyc[512], back[512];
    snprintf(log, sizeof log, "%s/cli.log", t);
    snprintf(hyc, sizeof hyc, "%s/cli.hyc", t);
    snprintf(back, sizeof back, "%s/cli.safetensors", t);
    snprintf(args, sizeof args, "compress '%s' -o '%s' --threads 2", in, hyc);
    CHECK(run(args, log) == 0);
    CHECK(file_contains(log, "ratio"));
    CHECK(file_contains(log, "conv1.weight") || file_contains(log, "module.conv1.weight"));
    /* refuses to overwrite without -f: exit 1, message */
    CHECK(run(args, log) == 1);
    CHECK(file_contains(log, "exists"));
    snprintf(args, sizeof args, "info '%s' --verify", hyc);
    CHECK(run(args, log) == 0);
    CHECK(file_contains(log, "checksums OK"));
    snprintf(args, sizeof args, "decompress '%s' -o '%s'", hyc, back);
    CHECK(run(args, log) == 0);
    snprintf(args, sizeof args, "compare '%s' '%s'", in, back);
    CHECK(run(args, log) == 0);
    CHECK(file_contains(log, "total:"));
    CHECK(check_restored(in, hyc, back, 0.05) == 0);
    /* usage errors: exit 2 */
    CHECK(run("compress", log) == 2);
    CHECK(run("compress a b c", log) == 2);
    CHECK(run("nosuchcommand", log) == 2);
    snprintf(args, sizeof args, "compress '%s' -o '%s' -f --bands 0", in, hyc);
    CHECK(run(args, log) == 2);
    /* help for every command: exit 0 */
    const char *cmds[] = {"compress", "decompress", "info", "compare", "generate", "perplexity", "rd"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        CHECKF(run(args, log) == 0, "%s --help", cmds[i]);
        CHECKF(file_contains(log, "usage"), "%s --help prints usage", cmds[i]);
    }
    /* a corrupt .hyc is refused with a message, exit 1 */
    FILE *f = fopen(hyc, "r+b");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, sz / 2, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    snprintf(args, sizeof args, "decompress '%s' -o '%s' -f", hyc, back);
    CHECK(run(args, log) == 1);
    CHECK(file_contains(log, "CRC") || file_contains(log, "crc") || file_contains(log, "corrupt"));
}

/* --bpw: the allocation stays within the budget and does at least as well as
 * the uniform setting of the same rate; --snr: the floor is met. */
TEST(model_rate_allocation) {
    const char *in = hc_test_shared("models/resnet20.safetensors");
    if (!in) return;
    char p[512];
    snprintf(p, sizeof p, "%s/plan.hyc", hc_test_tmpdir());
    hc_error err;
    hc_error_clear(&err);
    hc_opts o;
    hc_opts_default(&o);
    o.bits = 17; /* uniform: 17/4 + 6/32 bits per weight */
    hc_model_report uni, plan, fl;
    CHECK_OK(hc_compress_file(in, p, &o, 2, 1, NULL, NULL, &uni, &err), &err);
    double uni_bpw = uni.bits_coded / (double)uni.weights_coded;
    hc_opts_default(&o);
    o.target_bpw = uni_bpw;
    CHECK_OK(hc_compress_file(in, p, &o, 2, 1, NULL, NULL, &plan, &err), &err);
    CHECK(plan.weights_coded == uni.weights_coded);
    CHECKF(plan.bits_coded <= uni_bpw * (double)plan.weights_coded + 1e-6, "planned %.4f bpw over budget %.4f",
           plan.bits_coded / (double)plan.weights_coded, uni_bpw);
    CHECKF(plan.nmse_coded <= uni.nmse_coded * 1.001, "planned nmse %.4e worse than uniform %.4e", plan.nmse_coded,
           uni.nmse_coded);
    hc_opts_default(&o);
    o.target_snr = 30;
    CHECK_OK(hc_compress_file(in, p, &o, 2, 1, NULL, NULL, &fl, &err), &err);
    CHECKF(fl.nmse_coded <= pow(10, -3.0), "snr floor 30 dB missed: nmse %.4e", fl.nmse_coded);
    /* impossible budgets are refused with a reason */
    hc_opts_default(&o);
    o.target_bpw = 1.0;
    hc_error_clear(&err);
    CHECK(hc_compress_file(in, p, &o, 2, 1, NULL, NULL, NULL, &err) == HC_E_ARG);
    CHECK(strstr(err.msg, "bpw") != NULL);
}

TEST(model_keep_patterns) {
    hc_opts o;
    hc_opts_default(&o);
    hc_tensor_info ti;
    memset(&ti, 0, sizeof ti);
    ti.dtype = HC_F32;
    ti.nelem = 1 << 16;
    snprintf(ti.name, sizeof ti.name, "layers.3.attention.wv.weight");
    CHECK(hc_opts_codes_tensor(&o, &ti));
    o.keep = "tok_embeddings.weight,*.wv.weight";
    CHECK(!hc_opts_codes_tensor(&o, &ti));
    o.keep = "*.wq.weight";
    CHECK(hc_opts_codes_tensor(&o, &ti));
    ti.dtype = HC_I64;
    CHECK(!hc_opts_codes_tensor(&o, &ti));
    ti.dtype = HC_BF16;
    ti.nelem = 100;
    CHECK(!hc_opts_codes_tensor(&o, &ti));
}

/* F16 and BF16 tensors are coded through float32 and come back in their
 * own dtype; an integer tensor passes through bit-exact. */
TEST(model_f16_bf16_roundtrip) {
    const hc_dtype kinds[2] = {HC_F16, HC_BF16};
    for (int k = 0; k < 2; k++) {
        char in[512], hyc[512], back[512];
        snprintf(in, sizeof in, "%s/half%d.safetensors", hc_test_tmpdir(), k);
        snprintf(hyc, sizeof hyc, "%s/half%d.hyc", hc_test_tmpdir(), k);
        snprintf(back, sizeof back, "%s/half%d-back.safetensors", hc_test_tmpdir(), k);
        hc_tensor_info ti[2];
        memset(ti, 0, sizeof ti);
        snprintf(ti[0].name, sizeof ti[0].name, "w");
        ti[0].dtype = kinds[k];
        ti[0].ndim = 2;
        ti[0].shape[0] = 96;
        ti[0].shape[1] = 128;
        ti[0].nelem = 96 * 128;
        ti[0].nbytes = ti[0].nelem * 2;
        snprintf(ti[1].name, sizeof ti[1].name, "step");
        ti[1].dtype = HC_I64;
        ti[1].ndim = 1;
        ti[1].shape[0] = 3;
        ti[1].nelem = 3;
        ti[1].nbytes = 24;
        float *f = malloc(ti[0].nelem * 4);
        uint16_t *h = malloc(ti[0].nbytes);
        CHECK(f && h);
        hc_rng r = {7 + (uint64_t)k};
        for (uint64_t i = 0; i < ti[0].nelem; i++) f[i] = (float)(0.02 * hc_rng_normal(&r));
        hc_from_f32(kinds[k], f, h, ti[0].nelem);
        int64_t steps[3] = {1, -2, 1LL << 40};
        const char *meta = "{\"format\":\"pt\"}";
        hc_error err;
        hc_error_clear(&err);
        hc_st_writer *w = NULL;
        CHECK_OK(hc_st_writer_open(in, ti, 2, meta, strlen(meta), 1, &w, &err), &err);
        CHECK_OK(hc_st_writer_put(w, 0, h, &err), &err);
        CHECK_OK(hc_st_writer_put(w, 1, steps, &err), &err);
        CHECK_OK(hc_st_writer_finish(w, &err), &err);
        hc_opts o;
        hc_opts_default(&o);
        CHECK_OK(hc_compress_file(in, hyc, &o, 2, 1, NULL, NULL, NULL, &err), &err);
        CHECK_OK(hc_decompress_file(hyc, back, 2, 1, &err), &err);
        hc_hyc *hh = NULL;
        CHECK_OK(hc_hyc_open(hyc, &hh, &err), &err);
        CHECK(hc_hyc_get(hh, 0)->codec == HC_CODEC_HLAT && hc_hyc_get(hh, 1)->codec == HC_CODEC_RAW);
        hc_hyc_close(hh);
        CHECK(check_restored(in, hyc, back, 0.01) == 0);
        hc_safetensors *st = NULL;
        CHECK_OK(hc_st_open(back, &st, &err), &err);
        CHECK(hc_st_info(st, 0)->dtype == kinds[k]);
        CHECK(memcmp(hc_st_data(st, 1), steps, sizeof steps) == 0);
        hc_st_close(st);
        free(f);
        free(h);
    }
}
