/* test_convert_more.c — `hyperc convert` with GGUF files and Hugging Face
 * folders (issue 12 §4): every round trip keeps every tensor's bits. */
#include "test.h"
#include "hyperc.h"
#include "../src/io/gguf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
static int run(const char *args);
/* run() with a printf-style argument line */
static int runf(const char *fmt, ...) {
    char a[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a, sizeof a, fmt, ap);
    va_end(ap);
    return n < 0 || n >= (int)sizeof a ? -1 : run(a);
}
static int run(const char *args) {
    const char *bin = getenv("HYPERC_BIN");
    size_t n = strlen(bin) + strlen(args) + 32;
    char *cmd = malloc(n);
    if (!cmd) return -1;
    snprintf(cmd, n, "'%s' %s > /dev/null 2>&1", bin, args);
    int s = system(cmd);
    free(cmd);
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

static const char *pj(const char *dir, const char *name) {
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ % 8];
    if (snprintf(b, sizeof buf[0], "%s/%s", dir, name) >= (int)sizeof buf[0]) b[0] = 0;
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *x = hc_test_slurp(a, &la), *y = hc_test_slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Every tensor of a (names, dtypes, shapes, bytes) in b, and as many. */
static int same_tensors(const char *a, const char *b) {
    hc_safetensors *x = NULL, *y = NULL;
    hc_error err;
    hc_error_clear(&err);
    if (hc_st_open(a, &x, &err) || hc_st_open(b, &y, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        hc_st_close(x);
        return 0;
    }
    int ok = hc_st_count(x) == hc_st_count(y) && hc_st_count(x) > 0;
    for (size_t i = 0; i < hc_st_count(x) && ok; i++) {
        const hc_tensor_info *ti = hc_st_info(x, i);
        long j = hc_st_find(y, ti->name);
        const hc_tensor_info *tj = j >= 0 ? hc_st_info(y, (size_t)j) : NULL;
        ok = tj && tj->dtype == ti->dtype && tj->ndim == ti->ndim && tj->nbytes == ti->nbytes &&
             memcmp(tj->shape, ti->shape, ti->ndim * sizeof ti->shape[0]) == 0 &&
             memcmp(hc_st_data(x, i), hc_st_data(y, (size_t)j), (size_t)ti->nbytes) == 0;
        if (!ok) fprintf(stderr, "  tensor '%s' differs between %s and %s\n", ti->name, a, b);
    }
    hc_st_close(x);
    hc_st_close(y);
    return ok;
}

static int have_bin(void) {
    const char *bin = getenv("HYPERC_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        hc_test_skip("hyperc binary not built (HYPERC_BIN)");
        return 0;
    }
    return 1;
}

TEST(convert_gguf_round_trips) {
    if (!have_bin()) return;
    const char *m = hc_test_shared("models/stories260K.safetensors");
    const char *v1 = hc_test_shared("data/gguf/ggml-vocab-llama-spm.gguf");
    const char *v2 = hc_test_shared("data/gguf/ggml-vocab-gpt-2.gguf");
    if (!m || !v1 || !v2) return;
    const char *d = hc_test_tmpdir();
    /* safetensors -> GGUF -> safetensors: every tensor bit-identical */
    CHECK(runf("convert -q '%s' -o '%s'", m, pj(d, "cg.gguf")) == 0);
    hc_gguf *g = NULL;
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_gguf_open(pj(d, "cg.gguf"), &g, &err), &err);
    if (g) {
        CHECK(hc_gguf_tensor_count(g) == 47);
        CHECK(hc_gguf_find_tensor(g, "tok_embeddings.weight") == 0);
        hc_gguf_close(g);
    }
    CHECK(runf("convert -q '%s' -o '%s'", pj(d, "cg.gguf"), pj(d, "cg.safetensors")) == 0);
    CHECK(same_tensors(m, pj(d, "cg.safetensors")));
    /* --to gguf with another name */
    CHECK(runf("convert -q '%s' -o '%s' --to gguf", m, pj(d, "cg2.model")) == 0);
    CHECK(same_file(pj(d, "cg.gguf"), pj(d, "cg2.model")));
    /* GGUF -> .hyc -> GGUF: the same file, byte for byte (header kept) */
    CHECK(runf("convert -q '%s' -o '%s'", pj(d, "cg.gguf"), pj(d, "cg.hyc")) == 0);
    CHECK(runf("convert -q '%s' -o '%s'", pj(d, "cg.hyc"), pj(d, "cg3.gguf")) == 0);
    CHECK(same_file(pj(d, "cg.gguf"), pj(d, "cg3.gguf")));
    /* .hyc (from a GGUF) -> safetensors: the tensors, without the GGUF header as metadata */
    CHECK(runf("convert -q '%s' -o '%s'", pj(d, "cg.hyc"), pj(d, "cg4.safetensors")) == 0);
    CHECK(same_tensors(m, pj(d, "cg4.safetensors")));
    /* real GGUF files (22 / 16 keys): .hyc and back byte-identical, also .hyc -> .hyc -> GGUF */
    const char *v[2] = {v1, v2};
    for (int k = 0; k < 2; k++) {
        CHECK(runf("convert -q -f '%s' -o '%s'", v[k], pj(d, "v.hyc")) == 0);
        CHECK(runf("convert -q -f '%s' -o '%s'", pj(d, "v.hyc"), pj(d, "v2.hyc")) == 0);
        CHECK(runf("convert -q -f '%s' -o '%s'", pj(d, "v2.hyc"), pj(d, "v.gguf")) == 0);
        CHECKF(same_file(v[k], pj(d, "v.gguf")), "%s", v[k]);
    }
    /* an existing output is refused without -f */
    CHECK(runf("convert -q '%s' -o '%s'", m, pj(d, "cg.gguf")) == 1);
}

/* A folder of 3 shards (tensor i in shard i % 3, F32), an index and a config.json. */
static int make_folder(const char *dir, const char *model) {
    static const char *const SH[3] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                      "model-00003-of-00003.safetensors"};
    hc_safetensors *st = NULL;
    hc_error err;
    hc_error_clear(&err);
    if (mkdir(dir, 0777) != 0 || hc_st_open(model, &st, &err)) return 0;
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n, sizeof *infos);
    int ok = infos != NULL;
    for (int k = 0; k < 3 && ok; k++) {
        size_t c = 0;
        for (size_t i = (size_t)k; i < n; i += 3) infos[c++] = *hc_st_info(st, i);
        hc_st_writer *w = NULL;
        ok = hc_st_writer_open(pj(dir, SH[k]), infos, c, "{\"format\":\"pt\"}", 15, 1, &w, &err) == HC_OK;
        for (size_t i = (size_t)k, j = 0; i < n && ok; i += 3) ok = hc_st_writer_put(w, j++, hc_st_data(st, i), &err) == HC_OK;
        if (ok) ok = hc_st_writer_finish(w, &err) == HC_OK;
        else if (w) hc_st_writer_abort(w);
    }
    FILE *f = ok ? fopen(pj(dir, "model.safetensors.index.json"), "wb") : NULL;
    ok = f != NULL;
    if (f) {
        fprintf(f, "{\n  \"metadata\": {},\n  \"weight_map\": {\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "    \"%s\": \"%s\"%s\n", hc_st_info(st, i)->name, SH[i % 3], i + 1 < n ? "," : "");
        fprintf(f, "  }\n}\n");
        ok = fclose(f) == 0;
    }
    f = ok ? fopen(pj(dir, "config.json"), "wb") : NULL;
    ok = f != NULL;
    if (f) {
        fputs("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64}\n", f);
        ok = fclose(f) == 0;
    }
    free(infos);
    hc_st_close(st);
    return ok;
}

TEST(convert_hf_folder) {
    if (!have_bin()) return;
    const char *m = hc_test_shared("models/stories260K.safetensors");
    if (!m) return;
    const char *d = hc_test_tmpdir();
    char dir[4096];
    CHECK(snprintf(dir, sizeof dir, "%s/cvdir", d) < (int)sizeof dir);
    CHECK(make_folder(dir, m));
    /* sharded folder -> one safetensors: every tensor bit-identical */
    CHECK(runf("convert -q '%s' -o '%s'", dir, pj(d, "one.safetensors")) == 0);
    CHECK(same_tensors(m, pj(d, "one.safetensors")));
    /* the index file as input, to GGUF, and the GGUF back to one file */
    CHECK(runf("convert -q '%s' -o '%s'", pj(dir, "model.safetensors.index.json"), pj(d, "f.gguf")) == 0);
    CHECK(runf("convert -q '%s' -o '%s'", pj(d, "f.gguf"), pj(d, "f.safetensors")) == 0);
    CHECK(same_tensors(m, pj(d, "f.safetensors")));
    /* folder -> .hyc -> folder: the same shards (tensors bit-identical), index and config.json */
    CHECK(runf("convert -q '%s' -o '%s'", dir, pj(d, "f.hyc")) == 0);
    hc_hyc *h = NULL;
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_hyc_open(pj(d, "f.hyc"), &h, &err), &err);
    if (h) {
        CHECK(hc_hyc_shard_count(h) == 3);
        CHECK(hc_hyc_attachment_find(h, "config.json") >= 0);
        for (size_t i = 0; i < hc_hyc_count(h); i++) CHECK(hc_hyc_get(h, i)->codec == HC_CODEC_RAW);
        hc_hyc_close(h);
    }
    CHECK(runf("convert -q '%s' -o '%s/back/'", pj(d, "f.hyc"), d) == 0);
    char back[4096];
    CHECK(snprintf(back, sizeof back, "%s/back", d) < (int)sizeof back);
    static const char *const SH[3] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                      "model-00003-of-00003.safetensors"};
    for (int k = 0; k < 3; k++) CHECKF(same_tensors(pj(dir, SH[k]), pj(back, SH[k])), "%s", SH[k]);
    CHECK(same_file(pj(dir, "config.json"), pj(back, "config.json")));
    CHECK(same_file(pj(dir, "model.safetensors.index.json"), pj(back, "model.safetensors.index.json")));
    /* again into the same folder: refused without -f */
    CHECK(runf("convert -q '%s' -o '%s/'", pj(d, "f.hyc"), back) == 1);
    /* folder -> folder (--to folder), and a single file -> folder/model.safetensors */
    CHECK(runf("convert -q '%s' -o '%s/copy' --to folder", dir, d) == 0);
    CHECK(same_tensors(pj(dir, SH[1]), pj(d, "copy/" "model-00002-of-00003.safetensors")));
    CHECK(same_file(pj(dir, "config.json"), pj(d, "copy/config.json")));
    CHECK(runf("convert -q '%s' -o '%s/single/'", m, d) == 0);
    CHECK(same_file(m, pj(d, "single/model.safetensors")));
    /* a folder without a model is refused */
    CHECK(mkdir(pj(d, "empty"), 0777) == 0);
    CHECK(runf("convert -q '%s' -o '%s'", pj(d, "empty"), pj(d, "e.safetensors")) == 1);
    CHECK(access(pj(d, "e.safetensors"), F_OK) != 0);
}
