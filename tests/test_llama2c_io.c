/* test_llama2c_io.c — llama2.c checkpoints in and out (src/io/llama2c_io.c)
 * and `hyperc convert`: byte-identical round trips of the real legacy
 * checkpoints, bit-identical weights through every format and both namings,
 * and every truncation / hostile header refused with a message. */
#include "test.h"
#include "../src/io/llama2c_io.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static hc_error *E(hc_error *e) {
    hc_error_clear(e);
    return e;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *pa = hc_test_slurp(a, &la), *pb = hc_test_slurp(b, &lb);
    int same = pa && pb && la == lb && memcmp(pa, pb, la) == 0;
    free(pa);
    free(pb);
    return same;
}

/* Every tensor of a is in b with the same dtype, shape and bytes. */
static int same_tensors(const hc_safetensors *a, const hc_safetensors *b, char *why, size_t cap) {
    for (size_t i = 0; i < hc_st_count(a); i++) {
        const hc_tensor_info *ia = hc_st_info(a, i);
        long j = hc_st_find(b, ia->name);
        if (j < 0) {
            snprintf(why, cap, "'%.200s' missing", ia->name);
            return 0;
        }
        const hc_tensor_info *ib = hc_st_info(b, (size_t)j);
        if (ia->dtype != ib->dtype || ia->ndim != ib->ndim || memcmp(ia->shape, ib->shape, sizeof ia->shape) ||
            memcmp(hc_st_data(a, i), hc_st_data(b, (size_t)j), (size_t)ia->nbytes)) {
            snprintf(why, cap, "'%.200s' differs", ia->name);
            return 0;
        }
    }
    return 1;
}

/* .bin -> .hyc (raw) -> .bin through the compress / decompress pipeline:
 * byte-identical, for both real legacy checkpoints. */
TEST(l2c_pipeline_roundtrip_byte_identical) {
    const char *names[] = {"models/stories260K.bin", "models/aidreams260K.bin"};
    for (int k = 0; k < 2; k++) {
        const char *in = hc_test_shared(names[k]);
        if (!in) return;
        char hyc[512], back[512];
        snprintf(hyc, sizeof hyc, "%s/l2c_rt%d.hyc", hc_test_tmpdir(), k);
        snprintf(back, sizeof back, "%s/l2c_rt%d.bin", hc_test_tmpdir(), k);
        hc_opts o;
        hc_opts_default(&o);
        o.codec = HC_CODEC_RAW;
        hc_error err;
        CHECK_OK(hc_compress_file(in, hyc, &o, 1, 1, NULL, NULL, NULL, E(&err)), &err);
        CHECK_OK(hc_decompress_file(hyc, back, 1, 1, E(&err)), &err);
        CHECKF(same_file(in, back), "%s: .bin -> .hyc -> .bin is not byte-identical", names[k]);
    }
}

/* The tensors and metadata of stories260K.bin are those of the project's
 * stories260K.safetensors (made from it), plus the RoPE tables. */
TEST(l2c_matches_shared_safetensors) {
    const char *bin = hc_test_shared("models/stories260K.bin");
    const char *stp = hc_test_shared("models/stories260K.safetensors");
    if (!bin || !stp) return;
    hc_error err;
    hc_safetensors *a = NULL, *b = NULL;
    CHECK_OK(hc_model_open_st(bin, 0, &a, E(&err)), &err);
    CHECK_OK(hc_st_open(stp, &b, E(&err)), &err);
    char why[256] = "";
    int ok = same_tensors(b, a, why, sizeof why);
    CHECK(hc_st_count(a) == hc_st_count(b) + 2);
    CHECK(hc_st_find(a, "freq_cis_real") >= 0 && hc_st_find(a, "freq_cis_imag") >= 0);
    /* metadata: same keys and values for the hyperparameters */
    size_t la, lb;
    const char *ma = hc_st_metadata(a, &la), *mb = hc_st_metadata(b, &lb);
    const char *keys[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
                          "shared_classifier"};
    int meta_ok = ma && mb;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && meta_ok; k++) {
        char va[64], vb[64];
        meta_ok = hc_json_object_get(ma, la, keys[k], va, sizeof va) &&
                  hc_json_object_get(mb, lb, keys[k], vb, sizeof vb) && !strcmp(va, vb);
    }
    hc_st_close(a);
    hc_st_close(b);
    CHECKF(ok, "%s", why);
    CHECK(meta_ok);
}

/* Meta -> HF naming permutes q/k rows the way HF's converter does, and back
 * restores every byte; .bin -> safetensors / .hyc / v1 -> .bin are identical. */
TEST(l2c_convert_formats_and_naming) {
    const char *bin = hc_test_shared("models/stories260K.bin");
    if (!bin) return;
    const char *t = hc_test_tmpdir();
    char p_st[512], p_hyc[512], p_v1[512], p_back[512];
    snprintf(p_st, sizeof p_st, "%s/cv.safetensors", t);
    snprintf(p_hyc, sizeof p_hyc, "%s/cv.hyc", t);
    snprintf(p_v1, sizeof p_v1, "%s/cv_v1.bin", t);
    snprintf(p_back, sizeof p_back, "%s/cv_back.bin", t);
    hc_error err;
    hc_safetensors *m = NULL, *hf = NULL, *meta = NULL, *x = NULL;
    CHECK_OK(hc_l2c_open_st(bin, &m, E(&err)), &err);
    /* naming */
    CHECK_OK(hc_llama_renamed(m, 1, "test", &hf, E(&err)), &err);
    long q = hc_st_find(hf, "model.layers.2.self_attn.q_proj.weight");
    long k = hc_st_find(hf, "model.layers.2.self_attn.k_proj.weight");
    long q0 = hc_st_find(m, "layers.2.attention.wq.weight"), k0 = hc_st_find(m, "layers.2.attention.wk.weight");
    CHECK(q >= 0 && k >= 0 && q0 >= 0 && k0 >= 0 && hc_st_find(hf, "model.embed_tokens.weight") >= 0);
    /* head size 8 (64 / 8 heads; k: 4 heads): HF row h*8 + j*4 + i = Meta row h*8 + 2i + j */
    const float *fq = hc_st_data(hf, (size_t)q), *mq = hc_st_data(m, (size_t)q0);
    const float *fk = hc_st_data(hf, (size_t)k), *mk = hc_st_data(m, (size_t)k0);
    int perm_ok = 1;
    for (int h = 0; h < 8; h++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++) {
                perm_ok &= !memcmp(fq + (h * 8 + j * 4 + i) * 64, mq + (h * 8 + 2 * i + j) * 64, 64 * 4);
                if (h < 4) perm_ok &= !memcmp(fk + (h * 8 + j * 4 + i) * 64, mk + (h * 8 + 2 * i + j) * 64, 64 * 4);
            }
    CHECK(perm_ok);
    CHECK_OK(hc_llama_renamed(hf, 0, "test", &meta, E(&err)), &err);
    char why[256] = "";
    CHECKF(same_tensors(m, meta, why, sizeof why) && hc_st_count(m) == hc_st_count(meta), "hf -> meta: %s", why);
    hc_st_close(hf);
    hc_st_close(meta);
    /* formats */
    CHECK_OK(hc_st_write_all(m, p_st, 1, E(&err)), &err);
    CHECK_OK(hc_model_open_st(p_st, 1, &x, E(&err)), &err);
    CHECKF(same_tensors(m, x, why, sizeof why), "safetensors: %s", why);
    CHECK_OK(hc_hyc_write_raw(x, p_hyc, 1, E(&err)), &err);
    hc_st_close(x);
    CHECK_OK(hc_model_open_st(p_hyc, 1, &x, E(&err)), &err);
    CHECKF(same_tensors(m, x, why, sizeof why), "hyc: %s", why);
    CHECK_OK(hc_l2c_write(x, p_back, -1, 1, E(&err)), &err);
    hc_st_close(x);
    CHECK(same_file(bin, p_back));
    /* version 1: 256-byte header, no RoPE tables, same weights */
    CHECK_OK(hc_l2c_write(m, p_v1, 1, 1, E(&err)), &err);
    size_t len;
    uint8_t *v1 = hc_test_slurp(p_v1, &len);
    CHECK(v1);
    int v1_ok = len == 256 + 260032 * 4 && !memcmp(v1, "24ka", 4) && hc_get_u32(v1 + 4) == 1 && v1[36] == 1;
    free(v1);
    CHECK(v1_ok);
    CHECK_OK(hc_model_open_st(p_v1, 0, &x, E(&err)), &err);
    CHECK(hc_st_count(x) == hc_st_count(m) - 2);
    CHECKF(same_tensors(x, m, why, sizeof why), "v1: %s", why);
    hc_st_close(x);
    hc_st_close(m);
}

/* A small legacy checkpoint: dim 8, hidden 12, 2 layers, 2 heads, 1 kv head,
 * vocab 10 (separate classifier), seq_len 3, RoPE tables stored. */
static uint8_t *small_bin_layers(size_t *len, int version, int L) {
    const int dim = 8, hid = 12, kv = 4, vocab = 10, seq = 3;
    size_t w = (size_t)(vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * dim * hid) + dim +
                        vocab * dim);
    size_t rope = version ? 0 : (size_t)seq * 4 / 2 * 2;
    size_t hdr = version ? 256 : 28;
    *len = hdr + 4 * (w + rope);
    uint8_t *p = calloc(1, *len);
    if (!p) return NULL;
    int32_t h[7] = {dim, hid, L, 2, 1, version ? vocab : -vocab, seq};
    uint8_t *q = p;
    if (version) {
        hc_put_u32(p, 0x616b3432u);
        hc_put_u32(p + 4, 1);
        q = p + 8;
    }
    for (int i = 0; i < 7; i++) hc_put_u32(q + 4 * i, (uint32_t)h[i]);
    for (size_t i = 0; i < w + rope; i++) {
        float f = (float)i * 0.25f;
        memcpy(p + hdr + 4 * i, &f, 4);
    }
    return p;
}

static uint8_t *small_bin(size_t *len, int version) { return small_bin_layers(len, version, 2); }

/* 123 layers put '{' at byte 8, as in a safetensors file: still read as llama2.c. */
TEST(l2c_brace_at_byte_8) {
    size_t len;
    uint8_t *p = small_bin_layers(&len, 0, 123);
    CHECK(p);
    char path[512];
    snprintf(path, sizeof path, "%s/brace.model", hc_test_tmpdir());
    FILE *f = fopen(path, "wb");
    int wrote = f && fwrite(p, 1, len, f) == len;
    if (f) fclose(f);
    uint8_t b8 = p[8];
    free(p);
    CHECK(wrote && b8 == '{');
    hc_error err;
    hc_safetensors *st = NULL;
    CHECK_OK(hc_model_open_st(path, 0, &st, E(&err)), &err);
    int ok = hc_st_find(st, "layers.122.feed_forward.w3.weight") >= 0 && hc_st_find(st, "output.weight") >= 0;
    hc_st_close(st);
    CHECK(ok);
}

TEST(l2c_every_truncation_refused) {
    for (int version = 0; version < 2; version++) {
        size_t len;
        uint8_t *p = small_bin(&len, version);
        CHECK(p);
        hc_error err;
        hc_l2c_layout l;
        int full_ok = hc_l2c_parse(p, len, "small", &l, E(&err)) == HC_OK;
        size_t n = l.n;
        if (full_ok) hc_l2c_layout_free(&l);
        int bad = -1;
        for (size_t cut = 0; cut < len && bad < 0; cut++) {
            if (!version && cut == len - 48) continue; /* a valid file: the same without RoPE tables */
            hc_status s = hc_l2c_parse(p, cut, "small", &l, E(&err));
            if (s == HC_OK) hc_l2c_layout_free(&l);
            if (s == HC_OK || !err.msg[0] || !strstr(err.msg, "small")) bad = (int)cut;
        }
        /* and through a file, at a few points, with the file's name */
        char path[512];
        snprintf(path, sizeof path, "%s/trunc%d.bin", hc_test_tmpdir(), version);
        int file_bad = -1;
        for (size_t cut = 0; cut < len && file_bad < 0; cut += 37) {
            if (!version && cut == len - 48) continue;
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(p, 1, cut, f) != cut) file_bad = -2;
            if (f) fclose(f);
            hc_safetensors *st = NULL;
            hc_status s = hc_model_open_st(path, 0, &st, E(&err));
            hc_st_close(st);
            if (s == HC_OK || !strstr(err.msg, path)) file_bad = (int)cut;
        }
        free(p);
        CHECK(full_ok);
        CHECK(n == 2 + 9 * 2 + (version ? 0 : 2) + 1);
        CHECKF(bad < 0, "version %d: truncation at %d not refused with a message (%s)", version, bad, err.msg);
        CHECKF(file_bad < 0, "version %d: file truncated at %d: %s", version, file_bad, err.msg);
    }
}

TEST(l2c_hostile_headers_refused) {
    size_t len;
    uint8_t *p = small_bin(&len, 0);
    CHECK(p);
    /* field, value, expected status */
    const struct {
        int field;
        int32_t value;
        hc_status want;
    } cases[] = {
        {0, -8, HC_E_FORMAT},         {0, 0, HC_E_FORMAT},          {1, -1, HC_E_FORMAT},
        {2, -2, HC_E_FORMAT},         {3, 0, HC_E_FORMAT},          {4, -1, HC_E_FORMAT},
        {5, INT32_MIN, HC_E_FORMAT},  {5, 0x7fffffff, HC_E_FORMAT}, {6, -3, HC_E_FORMAT},
        {0, 1 << 20, HC_E_FORMAT},    /* dim 2^20 with 2 heads: size mismatch or bound */
        {1, 1 << 22, HC_E_CORRUPT},   /* would need ~400 MB: size check, no allocation */
        {2, 4096, HC_E_CORRUPT},      {6, 1 << 24, HC_E_CORRUPT}, {6, 0x7fffffff, HC_E_FORMAT},
        {2, 0x7fffffff, HC_E_FORMAT}, {3, 3, HC_E_FORMAT},          {4, 3, HC_E_FORMAT},
    };
    int bad = -1;
    hc_error err;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0] && bad < 0; c++) {
        uint8_t *q = malloc(len);
        if (!q) break;
        memcpy(q, p, len);
        hc_put_u32(q + 4 * cases[c].field, (uint32_t)cases[c].value);
        hc_l2c_layout l;
        hc_status s = hc_l2c_parse(q, len, "hostile", &l, E(&err));
        if (s == HC_OK) hc_l2c_layout_free(&l);
        if (s == HC_OK || !strstr(err.msg, "hostile")) bad = (int)c;
        if (cases[c].field != 0 || cases[c].value != (1 << 20)) {
            if (s != cases[c].want) bad = (int)c;
        }
        free(q);
    }
    free(p);
    CHECKF(bad < 0, "case %d: %s", bad, err.msg);
    /* version 1 oddities */
    uint8_t v[256];
    memset(v, 0, sizeof v);
    hc_put_u32(v, 0x616b3432u);
    hc_put_u32(v + 4, 2);
    hc_l2c_layout l;
    CHECK(hc_l2c_parse(v, sizeof v, "v2", &l, E(&err)) == HC_E_UNSUPPORTED && strstr(err.msg, "version 2"));
    hc_put_u32(v + 4, 1);
    int32_t h[7] = {8, 12, 2, 2, 1, 10, 3};
    for (int i = 0; i < 7; i++) hc_put_u32(v + 8 + 4 * i, (uint32_t)h[i]);
    v[36] = 7;
    CHECK(hc_l2c_parse(v, sizeof v, "flag", &l, E(&err)) == HC_E_CORRUPT && strstr(err.msg, "shared_classifier"));
    v[36] = 0;
    uint8_t g[64];
    memset(g, 0, sizeof g);
    memcpy(g, "GGUF", 4);
    CHECK(hc_l2c_parse(g, sizeof g, "g", &l, E(&err)) == HC_E_FORMAT && strstr(err.msg, "GGUF"));
    memcpy(g, "PK\x03\x04", 4);
    CHECK(hc_l2c_parse(g, sizeof g, "z", &l, E(&err)) == HC_E_FORMAT && strstr(err.msg, "zip"));
    hc_put_u32(v + 8 + 20, (uint32_t)-10);
    CHECK(hc_l2c_parse(v, sizeof v, "neg", &l, E(&err)) == HC_E_CORRUPT && strstr(err.msg, "vocab_size"));
}

/* Writing a .bin refuses tensors that do not fit the hyperparameters. */
TEST(l2c_write_refuses_inconsistent) {
    const char *stp = hc_test_shared("models/resnet20.safetensors");
    if (!stp) return;
    hc_error err;
    hc_safetensors *st = NULL;
    CHECK_OK(hc_st_open(stp, &st, E(&err)), &err);
    char out[512];
    snprintf(out, sizeof out, "%s/resnet.bin", hc_test_tmpdir());
    hc_status s = hc_l2c_write(st, out, -1, 1, E(&err));
    hc_st_close(st);
    CHECK(s != HC_OK && err.msg[0]);
    CHECK(access(out, F_OK) != 0);
}

/* Runs `$HYPERC_BIN args` with output into log; the exit code. */
static int run(const char *args, const char *log) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2>&1", getenv("HYPERC_BIN"), args, log);
    int s = system(cmd);
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

static int log_has(const char *log, const char *needle) {
    size_t n;
    uint8_t *p = hc_test_slurp(log, &n);
    int r = p && memmem(p, n, needle, strlen(needle)) != NULL;
    free(p);
    return r;
}

/* The CLI: convert by extension and --to, --naming hf (same greedy text),
 * info on a .bin, compare of a .bin with a .hyc, decompress -o x.bin. */
TEST(l2c_cli_convert) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *m = hc_test_shared("models/stories260K.bin");
    const char *tok = hc_test_shared("models/tok512.bin");
    if (!m || !tok) return;
    const char *t = hc_test_tmpdir();
    char a[2048], log[512], hf[512], hyc[512], out[512], g1[512], g2[512];
    snprintf(log, sizeof log, "%s/cv.log", t);
    snprintf(hf, sizeof hf, "%s/cv_hf.safetensors", t);
    snprintf(hyc, sizeof hyc, "%s/cv_cli.hyc", t);
    snprintf(out, sizeof out, "%s/cv_cli.bin", t);
    snprintf(g1, sizeof g1, "%s/g1.txt", t);
    snprintf(g2, sizeof g2, "%s/g2.txt", t);
    snprintf(a, sizeof a, "convert '%s' -o '%s' --naming hf", m, hf);
    CHECK(run(a, log) == 0);
    snprintf(a, sizeof a, "convert '%s' -o '%s' --to hyc -f", hf, hyc);
    CHECK(run(a, log) == 0);
    snprintf(a, sizeof a, "decompress '%s' -o '%s' -f", hyc, out);
    CHECK(run(a, log) == 0);
    CHECK(same_file(m, out));
    snprintf(a, sizeof a, "generate '%s' --tokenizer '%s' --prompt 'Once upon' -n 30 --temp 0", hf, tok);
    CHECK(run(a, g1) == 0);
    snprintf(a, sizeof a, "generate '%s' --tokenizer '%s' --prompt 'Once upon' -n 30 --temp 0", m, tok);
    CHECK(run(a, g2) == 0);
    size_t n1, n2;
    uint8_t *t1 = hc_test_slurp(g1, &n1), *t2 = hc_test_slurp(g2, &n2);
    /* the first line is the text; timings follow */
    int same = t1 && t2 && memchr(t1, '\n', n1) && (size_t)((uint8_t *)memchr(t1, '\n', n1) - t1) > 20 &&
               !memcmp(t1, t2, (size_t)((uint8_t *)memchr(t1, '\n', n1) - t1));
    free(t1);
    free(t2);
    CHECK(same);
    snprintf(a, sizeof a, "info '%s'", m);
    CHECK(run(a, log) == 0);
    CHECK(log_has(log, "llama2.c checkpoint") && log_has(log, "layers.4.feed_forward.w3.weight"));
    snprintf(a, sizeof a, "compare '%s' '%s' -q", m, out);
    CHECK(run(a, log) == 0);
    CHECK(log_has(log, "snr inf"));
    /* usage errors and a bad file */
    snprintf(a, sizeof a, "convert '%s' -o '%s/x.unknown'", m, t);
    CHECK(run(a, log) == 2);
    snprintf(a, sizeof a, "convert '%s' -o '%s/x.bin' --naming hf", m, t);
    CHECK(run(a, log) == 2);
    snprintf(a, sizeof a, "convert '%s' -o '%s/x.bin'", tok, t);
    CHECK(run(a, log) == 1);
    CHECK(log_has(log, "llama2.c"));
    CHECK(run("convert --help", log) == 0 && log_has(log, "usage"));
}

/* A Hugging Face style model.safetensors (HF names, no metadata, no RoPE
 * tables) with its config.json converts to a .bin with the same weights. */
TEST(l2c_cli_from_hf_config) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return;
    }
    const char *m = hc_test_shared("models/stories260K.bin");
    const char *ref = hc_test_shared("models/stories260K.safetensors");
    if (!m || !ref) return;
    const char *t = hc_test_tmpdir();
    char dir[512], st_path[600], cfg[600], out[600], a[2048], log[600];
    snprintf(dir, sizeof dir, "%s/hfmodel", t);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(out, sizeof out, "%s/from_hf.bin", t);
    snprintf(log, sizeof log, "%s/hf.log", t);
    snprintf(a, sizeof a, "mkdir -p '%s'", dir);
    CHECK(system(a) == 0);
    hc_error err;
    hc_safetensors *l2 = NULL, *hf = NULL, *r = NULL, *o = NULL;
    CHECK_OK(hc_l2c_open_st(m, &l2, E(&err)), &err);
    CHECK_OK(hc_llama_renamed(l2, 1, "test", &hf, E(&err)), &err);
    hc_st_close(l2);
    size_t n = 0;
    hc_tensor_info infos[64];
    size_t src[64];
    for (size_t i = 0; i < hc_st_count(hf) && n < 64; i++)
        if (strncmp(hc_st_info(hf, i)->name, "freq_cis_", 9)) {
            src[n] = i;
            infos[n++] = *hc_st_info(hf, i);
        }
    hc_st_writer *w = NULL;
    CHECK_OK(hc_st_writer_open(st_path, infos, n, NULL, 0, 1, &w, E(&err)), &err);
    for (size_t i = 0; i < n; i++) CHECK_OK(hc_st_writer_put(w, i, hc_st_data(hf, src[i]), E(&err)), &err);
    CHECK_OK(hc_st_writer_finish(w, E(&err)), &err);
    hc_st_close(hf);
    FILE *f = fopen(cfg, "w");
    CHECK(f);
    fprintf(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 172,\n"
               " \"num_hidden_layers\": 5, \"num_attention_heads\": 8, \"num_key_value_heads\": 4,\n"
               " \"vocab_size\": 512, \"max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05,\n"
               " \"rope_scaling\": null, \"tie_word_embeddings\": true}\n");
    fclose(f);
    snprintf(a, sizeof a, "convert '%s' -o '%s' -f", st_path, out);
    CHECK(run(a, log) == 0);
    CHECK_OK(hc_model_open_st(out, 0, &o, E(&err)), &err);
    CHECK_OK(hc_st_open(ref, &r, E(&err)), &err);
    char why[256] = "";
    int same = same_tensors(r, o, why, sizeof why);
    hc_st_close(o);
    hc_st_close(r);
    CHECKF(same, "%s", why);
    /* without a config it says what is missing */
    remove(cfg);
    snprintf(a, sizeof a, "convert '%s' -o '%s' -f", st_path, out);
    CHECK(run(a, log) == 1);
    CHECK(log_has(log, "hyperparameters") || log_has(log, "n_heads"));
}
