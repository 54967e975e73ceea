/* test_safetensors.c — the strict JSON reader, safetensors reading of real
 * and hostile files, the writer (round trips, refusals, crash safety). */
#include "test.h"
#include "../src/common/util.h"
#include "../src/io/json.h"
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

/* Parses one JSON string token; 1 and the decoded text in out on success. */
static int json_decode_one(const char *text, size_t len, char *out, size_t *out_len, hc_status *st) {
    hc_json j;
    hc_json_str s;
    hc_json_init(&j, text, len);
    int ok = hc_json_string(&j, &s) && hc_json_finish(&j);
    *st = j.status;
    if (!ok) return 0;
    hc_json_str_decode(&s, out);
    *out_len = s.len;
    return 1;
}

/* Skips one complete JSON text; returns the cursor status. */
static hc_status json_check(const char *text, size_t len) {
    hc_json j;
    hc_json_init(&j, text, len);
    if (hc_json_skip(&j)) hc_json_finish(&j);
    return j.status;
}

/* An in-memory safetensors image: length, header text, dlen pattern bytes. */
static uint8_t *make_image(const char *hdr, size_t hlen, size_t dlen, size_t *len) {
    *len = 8 + hlen + dlen;
    uint8_t *b = malloc(*len);
    if (!b) abort();
    hc_put_u64(b, hlen);
    memcpy(b + 8, hdr, hlen);
    for (size_t i = 0; i < dlen; i++) b[8 + hlen + i] = (uint8_t)(i * 7 + 1);
    return b;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of temporary files ("*.tmp.*") left in the test directory. */
static int tmp_files_left(void) {
    DIR *d = opendir(hc_test_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void set_info(hc_tensor_info *t, const char *name, hc_dtype dt, uint32_t ndim, const uint64_t *shape) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->ndim = ndim;
    t->nelem = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->nelem *= shape[d];
    }
    t->nbytes = t->nelem * hc_dtype_size(dt);
}

/* Both files hold the same tensors (info and bytes) in the same order and
 * the same metadata text. */
static int same_content(const hc_safetensors *a, const hc_safetensors *b) {
    if (hc_st_count(a) != hc_st_count(b)) return 0;
    for (size_t i = 0; i < hc_st_count(a); i++) {
        const hc_tensor_info *x = hc_st_info(a, i), *y = hc_st_info(b, i);
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->ndim != y->ndim || x->nbytes != y->nbytes ||
            memcmp(x->shape, y->shape, sizeof x->shape) || memcmp(hc_st_data(a, i), hc_st_data(b, i), x->nbytes))
            return 0;
    }
    size_t la, lb;
    const char *ma = hc_st_metadata(a, &la), *mb = hc_st_metadata(b, &lb);
    if (!ma || !mb) return ma == mb;
    return la == lb && memcmp(ma, mb, la) == 0;
}

/* Copies every tensor of st into a new file at path. */
static hc_status rewrite(const hc_safetensors *st, const char *path, int overwrite, hc_error *err) {
    size_t n = hc_st_count(st), ml;
    hc_tensor_info *infos = malloc((n ? n : 1) * sizeof *infos);
    for (size_t i = 0; i < n; i++) infos[i] = *hc_st_info(st, i);
    const char *meta = hc_st_metadata(st, &ml);
    hc_st_writer *w;
    hc_status s = hc_st_writer_open(path, infos, n, meta, ml, overwrite, &w, err);
    free(infos);
    if (s) return s;
    for (size_t i = 0; i < n; i++)
        if ((s = hc_st_writer_put(w, i, hc_st_data(st, i), err))) {
            hc_st_writer_abort(w);
            return s;
        }
    return hc_st_writer_finish(w, err);
}

/* ===================================================================== */
/* JSON reader                                                            */
/* ===================================================================== */

TEST(json_string_escapes_and_surrogates) {
    char out[64];
    size_t n;
    hc_status st;
    /* every escape; expected UTF-8 from the Unicode standard: U+00E9 = C3 A9,
     * U+20AC = E2 82 AC, U+1F600 (D83D DE00) = F0 9F 98 80 */
    const char *in = "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"";
    const char want[] = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    CHECK(json_decode_one(in, strlen(in), out, &n, &st));
    CHECK(n == sizeof want - 1 && memcmp(out, want, n) == 0);
    /* raw multi-byte UTF-8 passes through; the largest code point is fine */
    const char *raw = "\"\xc3\xa9\xef\xbf\xbf\xf4\x8f\xbf\xbf\"";
    CHECK(json_decode_one(raw, strlen(raw), out, &n, &st) && n == 9);
    /* \u0000 decodes to a NUL and is flagged */
    hc_json j;
    hc_json_str s;
    hc_json_init(&j, "\"x\\u0000\"", 9);
    CHECK(hc_json_string(&j, &s) && s.has_nul && s.len == 2);
    /* str_eq / str_cmp work on decoded text */
    hc_json_init(&j, "\"\\u0061b\"", 9);
    CHECK(hc_json_string(&j, &s) && hc_json_str_eq(&s, "ab", 2) && !hc_json_str_eq(&s, "ac", 2));
    hc_json_str t = {"ac", 2, 2, 0};
    CHECK(hc_json_str_cmp(&s, &t) < 0 && hc_json_str_cmp(&t, &s) > 0 && hc_json_str_cmp(&s, &s) == 0);

    static const struct { const char *text, *word; } bad[] = {
        {"\"\\ud83d\"", "surrogate"},          /* lone high */
        {"\"\\ude00\"", "surrogate"},          /* lone low */
        {"\"\\ud83d\\u0041\"", "surrogate"},   /* high + non-low */
        {"\"\\ud83dx\"", "surrogate"},
        {"\"\\u12G4\"", "hex"},
        {"\"\\u12\"", "hex"},
        {"\"\\x\"", "escape"},
        {"\"a\nb\"", "control"},
        {"\"a\x01\"", "control"},
        {"\"\xc3\"", "UTF-8"},                 /* truncated sequence */
        {"\"\xc0\xaf\"", "UTF-8"},             /* overlong '/' */
        {"\"\xe0\x80\xaf\"", "UTF-8"},         /* overlong, 3 bytes */
        {"\"\xed\xa0\x80\"", "UTF-8"},         /* encoded surrogate */
        {"\"\xf4\x90\x80\x80\"", "UTF-8"},     /* above U+10FFFF */
        {"\"\xff\"", "UTF-8"},
        {"\"\x80\"", "UTF-8"},
        {"\"abc", "unterminated"},
        {"\"abc\\", "unterminated"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = json_decode_one(bad[i].text, strlen(bad[i].text), out, &n, &st);
        hc_json_init(&j, bad[i].text, strlen(bad[i].text));
        hc_json_string(&j, &s);
        CHECKF(!ok && st == HC_E_FORMAT && strstr(j.why, bad[i].word), "case %zu (%s): ok=%d why=%s", i,
               bad[i].word, ok, j.why ? j.why : "-");
    }
}

TEST(json_numbers) {
    static const struct { const char *text; uint64_t v; hc_status st; const char *word; } ints[] = {
        {"0", 0, HC_OK, NULL},
        {" 42 ", 42, HC_OK, NULL},
        {"18446744073709551615", UINT64_MAX, HC_OK, NULL},
        {"18446744073709551616", 0, HC_E_LIMIT, "64 bits"},
        {"99999999999999999999999", 0, HC_E_LIMIT, "64 bits"},
        {"01", 0, HC_E_FORMAT, "leading zero"},
        {"-1", 0, HC_E_FORMAT, "negative"},
        {"-0", 0, HC_E_FORMAT, "negative"},
        {"1.0", 0, HC_E_FORMAT, "fraction"},
        {"1e3", 0, HC_E_FORMAT, "exponent"},
        {"1E3", 0, HC_E_FORMAT, "exponent"},
        {"+1", 0, HC_E_FORMAT, "integer"},
        {"\"1\"", 0, HC_E_FORMAT, "integer"},
        {"", 0, HC_E_FORMAT, "integer"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        hc_json j;
        uint64_t v = 7;
        hc_json_init(&j, ints[i].text, strlen(ints[i].text));
        int ok = hc_json_u64(&j, &v) && hc_json_finish(&j);
        CHECKF(ok == (ints[i].st == HC_OK) && j.status == ints[i].st, "int case %zu '%s'", i, ints[i].text);
        if (ok) CHECK(v == ints[i].v);
        else CHECKF(strstr(j.why, ints[i].word), "int case %zu: %s", i, j.why);
    }
    static const struct { const char *text; int ok; } nums[] = {
        {"0", 1}, {"-0", 1}, {"-0.5e+10", 1}, {"1E-3", 1}, {"123.456", 1}, {"1e99999", 1},
        {"1.", 0}, {".5", 0}, {"-", 0}, {"1e", 0}, {"1e+", 0}, {"00", 0}, {"-01", 0}, {"0x10", 0},
        {"1.5.2", 0}, {"NaN", 0}, {"Infinity", 0}, {"- 1", 0},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        hc_status st = json_check(nums[i].text, strlen(nums[i].text));
        CHECKF((st == HC_OK) == nums[i].ok, "number case '%s' -> %d", nums[i].text, (int)st);
    }
    hc_json j;
    const char *p;
    size_t n;
    hc_json_init(&j, " -2.5e3 ", 8);
    CHECK(hc_json_number(&j, &p, &n) && n == 6 && memcmp(p, "-2.5e3", 6) == 0 && hc_json_finish(&j));
}

TEST(json_structure_and_depth) {
    static const struct { const char *text; int ok; } cases[] = {
        {"{}", 1}, {"[]", 1}, {" { \"a\" : [ 1 , true , false , null , \"x\" , { } ] } \r\n\t", 1},
        {"{\"a\":1,\"a\":2}", 1}, /* the cursor does not judge duplicates */
        {"{\"a\":1,}", 0}, {"[1,]", 0}, {"[,1]", 0}, {"{,}", 0}, {"{\"a\" 1}", 0}, {"{\"a\":}", 0},
        {"{a:1}", 0}, {"{'a':1}", 0}, {"[1 2]", 0}, {"{\"a\":1", 0}, {"[", 0}, {"{}x", 0}, {"{} {}", 0},
        {"tru", 0}, {"nul", 0}, {"truex", 0}, {"", 0}, {"   ", 0}, {"{\"a\":1}}", 0}, {"[1]]", 0},
        {"\xef\xbb\xbf{}", 0}, /* a byte-order mark is not JSON */
        {"{}\x00", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].text) + (i == sizeof cases / sizeof cases[0] - 1);
        hc_status st = json_check(cases[i].text, len);
        CHECKF((st == HC_OK) == cases[i].ok, "case %zu '%s' -> %d", i, cases[i].text, (int)st);
    }
    /* depth: 64 levels pass, 65 fail with a limit error; a huge nest neither
     * recurses nor crashes */
    size_t big = 200000;
    char *t = malloc(2 * big);
    for (int depth = 63; depth <= 66; depth++) {
        for (int i = 0; i < depth; i++) { t[i] = '['; t[2 * depth - 1 - i] = ']'; }
        hc_status st = json_check(t, 2 * (size_t)depth);
        CHECKF(depth <= HC_JSON_MAX_DEPTH ? st == HC_OK : st == HC_E_LIMIT, "depth %d -> %d", depth, (int)st);
    }
    memset(t, '[', big);
    CHECK(json_check(t, big) == HC_E_LIMIT);
    for (size_t i = 0; i < big; i += 5) memcpy(t + i, "{\"a\":", 5);
    CHECK(json_check(t, big) == HC_E_LIMIT);
    free(t);
    CHECK(hc_utf8_valid("a\xc3\xa9", 3) && !hc_utf8_valid("a\xc3", 2) && hc_utf8_valid("", 0));
    char esc[32];
    size_t n = hc_json_escape("a\"\\\n\x01\x7f", 6, esc);
    CHECK(n == 14 && memcmp(esc, "a\\\"\\\\\\n\\u0001\x7f", 14) == 0);
}

TEST(json_object_get) {
    const char *o = "{\"dim\":\"64\",\"n\":-12.5e1,\"s\":\"a\\u00e9\\n\",\"nested\":{\"k\":\"in\"},"
                    "\"arr\":[1,{\"k\":2}],\"t\":true,\"k\":\"out\"}";
    size_t len = strlen(o);
    char buf[16];
    CHECK(hc_json_object_get(o, len, "dim", buf, sizeof buf) && strcmp(buf, "64") == 0);
    CHECK(hc_json_object_get(o, len, "n", buf, sizeof buf) && strcmp(buf, "-12.5e1") == 0);
    CHECK(hc_json_object_get(o, len, "s", buf, sizeof buf) && strcmp(buf, "a\xc3\xa9\n") == 0);
    CHECK(hc_json_object_get(o, len, "k", buf, sizeof buf) && strcmp(buf, "out") == 0); /* top level only */
    CHECK(!hc_json_object_get(o, len, "nested", buf, sizeof buf));
    CHECK(!hc_json_object_get(o, len, "t", buf, sizeof buf));
    CHECK(!hc_json_object_get(o, len, "missing", buf, sizeof buf));
    CHECK(!hc_json_object_get(o, len, "dim", buf, 2) && buf[0] == 0); /* "64" needs 3 bytes */
    CHECK(hc_json_object_get(o, len, "dim", buf, 3));
    CHECK(!hc_json_object_get("{\"a\":\"1\",\"a\":\"2\"}", 17, "a", buf, sizeof buf)); /* ambiguous */
    CHECK(!hc_json_object_get("{\"a\":\"1\",}", 10, "a", buf, sizeof buf));             /* invalid */
    CHECK(!hc_json_object_get("[\"a\"]", 5, "a", buf, sizeof buf));
    CHECK(!hc_json_object_get("{\"a\":\"x\\u0000\"}", 15, "a", buf, sizeof buf));
    CHECK(hc_json_object_get("{\"\\u0061\":\"1\"}", 14, "a", buf, sizeof buf) && buf[0] == '1');
    CHECK(!hc_json_object_get(NULL, 0, "a", buf, sizeof buf));
}

/* ===================================================================== */
/* Reading real files                                                     */
/* ===================================================================== */

/* Header length and metadata text of a file, found with plain string search
 * (independent of the reader). */
static int raw_header(const uint8_t *file, size_t len, uint64_t *hlen, const char **meta, size_t *meta_len) {
    if (len < 8) return 0;
    *hlen = hc_get_u64(file);
    const char *h = (const char *)file + 8, *key = "\"__metadata__\":";
    const char *m = memmem(h, (size_t)*hlen, key, strlen(key));
    if (!m) return 0;
    m += strlen(key);
    const char *e = memchr(m, '}', (size_t)(h + *hlen - m)); /* values hold no '}' in these files */
    *meta = m;
    *meta_len = (size_t)(e - m) + 1;
    return 1;
}

TEST(st_read_stories260K) {
    const char *path = hc_test_shared("models/stories260K.safetensors");
    if (!path) return;
    hc_error err = {0};
    hc_safetensors *st;
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    size_t flen;
    uint8_t *file = hc_test_slurp(path, &flen);
    uint64_t hlen = 0;
    const char *meta_raw = NULL;
    size_t meta_raw_len = 0;
    int have_raw = file && raw_header(file, flen, &hlen, &meta_raw, &meta_raw_len);
    /* counts and shapes as listed by Python's json module */
    CHECK(have_raw && hlen == 4672);
    CHECK(hc_st_count(st) == 47);
    const hc_tensor_info *t0 = hc_st_info(st, 0), *tl = hc_st_info(st, 46);
    CHECK(strcmp(t0->name, "tok_embeddings.weight") == 0 && t0->dtype == HC_F32 && t0->ndim == 2 &&
          t0->shape[0] == 512 && t0->shape[1] == 64 && t0->nelem == 32768 && t0->nbytes == 131072);
    CHECK(strcmp(tl->name, "norm.weight") == 0 && tl->ndim == 1 && tl->shape[0] == 64);
    CHECK(hc_st_info(st, 47) == NULL && hc_st_data(st, 47) == NULL);
    long i = hc_st_find(st, "layers.0.attention.wk.weight");
    CHECK(i == 3 && hc_st_info(st, 3)->shape[0] == 32 && hc_st_info(st, 3)->shape[1] == 64);
    CHECK(hc_st_find(st, "layers.0.attention.wk") == -1 && hc_st_find(st, "") == -1);
    /* data: contiguous, starting right after the header, same bytes as the file */
    const uint8_t *d0 = hc_st_data(st, 0);
    uint64_t total = 0;
    for (size_t k = 0; k < hc_st_count(st); k++) {
        const hc_tensor_info *t = hc_st_info(st, k);
        CHECK(t->dtype == HC_F32);
        CHECK((const uint8_t *)hc_st_data(st, k) == d0 + total);
        CHECK(hc_st_find(st, t->name) == (long)k);
        total += t->nbytes;
    }
    CHECK(8 + hlen + total == flen);
    CHECK(memcmp(d0, file + 8 + hlen, (size_t)total) == 0);
    /* metadata: verbatim and queryable */
    size_t ml;
    const char *meta = hc_st_metadata(st, &ml);
    CHECK(meta && ml == meta_raw_len && memcmp(meta, meta_raw, ml) == 0 && meta[ml] == 0);
    char v[32];
    CHECK(hc_json_object_get(meta, ml, "dim", v, sizeof v) && strcmp(v, "64") == 0);
    CHECK(hc_json_object_get(meta, ml, "n_layers", v, sizeof v) && strcmp(v, "5") == 0);
    CHECK(hc_json_object_get(meta, ml, "vocab_size", v, sizeof v) && strcmp(v, "512") == 0);
    free(file);
    hc_st_close(st);
}

TEST(st_read_resnet20) {
    const char *path = hc_test_shared("models/resnet20.safetensors");
    if (!path) return;
    hc_error err = {0};
    hc_safetensors *st;
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    CHECK(hc_st_count(st) == 97);
    const hc_tensor_info *t0 = hc_st_info(st, 0), *tl = hc_st_info(st, 96);
    CHECK(strcmp(t0->name, "module.conv1.weight") == 0 && t0->ndim == 4 && t0->shape[0] == 16 &&
          t0->shape[1] == 3 && t0->shape[2] == 3 && t0->shape[3] == 3 && t0->nbytes == 1728);
    CHECK(strcmp(tl->name, "module.linear.bias") == 0 && tl->ndim == 1 && tl->shape[0] == 10);
    CHECK((const uint8_t *)hc_st_data(st, 96) + 40 == (const uint8_t *)hc_st_data(st, 0) + 1084392);
    size_t ml;
    const char *meta = hc_st_metadata(st, &ml);
    char v[64];
    CHECK(meta && hc_json_object_get(meta, ml, "source", v, sizeof v) && strcmp(v, "resnet20-12fca82f.th") == 0);
    hc_st_close(st);
}

TEST(st_open_errors) {
    hc_error err = {0};
    hc_safetensors *st = (hc_safetensors *)1;
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", hc_test_tmpdir());
    CHECK(hc_st_open(path, &st, &err) == HC_E_IO && st == NULL && strstr(err.msg, "does-not-exist"));
    hc_error_clear(&err);
    CHECK(hc_st_open(hc_test_tmpdir(), &st, &err) == HC_E_IO);
    snprintf(path, sizeof path, "%s/empty.safetensors", hc_test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fclose(f);
    hc_error_clear(&err);
    CHECK(hc_st_open(path, &st, &err) == HC_E_FORMAT && strstr(err.msg, "empty.safetensors"));
    remove(path);
}

/* ===================================================================== */
/* Writing                                                                */
/* ===================================================================== */

TEST(st_roundtrip_real_files) {
    const char *names[] = {"models/stories260K.safetensors", "models/resnet20.safetensors"};
    for (int f = 0; f < 2; f++) {
        const char *path = hc_test_shared(names[f]);
        if (!path) return;
        hc_error err = {0};
        hc_safetensors *a, *b;
        CHECK_OK(hc_st_open(path, &a, &err), &err);
        char out[512];
        snprintf(out, sizeof out, "%s/rt%d.safetensors", hc_test_tmpdir(), f);
        CHECK_OK(rewrite(a, out, 0, &err), &err);
        CHECK_OK(hc_st_open(out, &b, &err), &err);
        CHECK(same_content(a, b));
        /* these files were written by another tool in the reference layout:
         * ours must be byte-identical */
        size_t la, lb;
        uint8_t *fa = hc_test_slurp(path, &la), *fb = hc_test_slurp(out, &lb);
        CHECK(fa && fb && la == lb && memcmp(fa, fb, la) == 0);
        free(fa);
        free(fb);
        hc_st_close(a);
        hc_st_close(b);
        remove(out);
    }
    CHECK(tmp_files_left() == 0);
}

TEST(st_writer_synthetic_all_dtypes) {
    /* one tensor per dtype, plus scalars, zero-size tensors and odd names */
    enum { N = HC_DTYPE_COUNT + 6 };
    hc_tensor_info infos[N];
    uint8_t *data[N];
    hc_rng rng = {42};
    const uint64_t s23[] = {2, 3}, s0[] = {0}, s30[] = {3, 0, 2}, s5[] = {5}, s1x8[] = {1, 1, 1, 1, 1, 1, 1, 2};
    for (int t = 0; t < HC_DTYPE_COUNT; t++) {
        char nm[32];
        snprintf(nm, sizeof nm, "t.%s", hc_dtype_name((hc_dtype)t));
        set_info(&infos[t], nm, (hc_dtype)t, 2, s23);
    }
    int k = HC_DTYPE_COUNT;
    set_info(&infos[k++], "scalar \"quoted\" back\\slash", HC_F64, 0, NULL);
    set_info(&infos[k++], "zero\tsize\n\x01\x1f/ctl", HC_F32, 1, s0);
    set_info(&infos[k++], "", HC_I8, 3, s30);
    set_info(&infos[k++], "unicode \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", HC_BF16, 1, s5);
    set_info(&infos[k++], "eight.dims", HC_U8, 8, s1x8);
    set_info(&infos[k++], "__metadata", HC_BOOL, 0, NULL);
    for (int i = 0; i < N; i++) {
        data[i] = malloc(infos[i].nbytes + 1);
        for (uint64_t b = 0; b < infos[i].nbytes; b++) data[i][b] = (uint8_t)hc_rng_next(&rng);
    }
    const char *meta = " {\"format\":\"pt\",\"esc\":\"a\\\"b\\u00e9\"}\n";
    char path[512];
    snprintf(path, sizeof path, "%s/synthetic.safetensors", hc_test_tmpdir());
    hc_error err = {0};
    hc_st_writer *w;
    CHECK_OK(hc_st_writer_open(path, infos, N, meta, strlen(meta), 0, &w, &err), &err);
    for (int i = 0; i < N; i++) CHECK_OK(hc_st_writer_put(w, (size_t)i, data[i], &err), &err);
    CHECK_OK(hc_st_writer_finish(w, &err), &err);

    hc_safetensors *st;
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    CHECK(hc_st_count(st) == N);
    for (int i = 0; i < N; i++) {
        const hc_tensor_info *t = hc_st_info(st, (size_t)i);
        CHECKF(strcmp(t->name, infos[i].name) == 0, "tensor %d name '%s'", i, t->name);
        CHECK(t->dtype == infos[i].dtype && t->ndim == infos[i].ndim && t->nelem == infos[i].nelem &&
              t->nbytes == infos[i].nbytes && memcmp(t->shape, infos[i].shape, sizeof t->shape) == 0);
        CHECK(memcmp(hc_st_data(st, (size_t)i), data[i], t->nbytes) == 0);
        CHECK(hc_st_find(st, infos[i].name) == i);
    }
    size_t ml;
    const char *m = hc_st_metadata(st, &ml);
    CHECK(m && ml == strlen(meta) - 2 && memcmp(m, meta + 1, ml) == 0); /* kept verbatim, trimmed */
    char v[16];
    CHECK(hc_json_object_get(m, ml, "esc", v, sizeof v) && strcmp(v, "a\"b\xc3\xa9") == 0);
    /* the raw header: padded with spaces to a multiple of 8, names escaped */
    size_t flen;
    uint8_t *file = hc_test_slurp(path, &flen);
    uint64_t hlen = hc_get_u64(file);
    const char *h = (const char *)file + 8;
    CHECK(hlen % 8 == 0 && h[0] == '{');
    size_t end = (size_t)hlen;
    while (end > 0 && h[end - 1] == ' ') end--;
    CHECK(h[end - 1] == '}' && hlen - end < 8);
    CHECK(memmem(h, end, "{\"__metadata__\":{\"format\"", 25)); /* metadata first */
    CHECK(memmem(h, end, "\"scalar \\\"quoted\\\" back\\\\slash\"", 31));
    CHECK(memmem(h, end, "\"zero\\tsize\\n\\u0001\\u001f/ctl\"", 30));
    CHECK(memmem(h, end, "\"shape\":[],", 11));
    free(file);
    hc_st_close(st);
    for (int i = 0; i < N; i++) free(data[i]);
    remove(path);

    /* no tensors at all, with and without metadata */
    for (int withmeta = 0; withmeta < 2; withmeta++) {
        CHECK_OK(hc_st_writer_open(path, NULL, 0, withmeta ? "{}" : NULL, 2, 1, &w, &err), &err);
        CHECK_OK(hc_st_writer_finish(w, &err), &err);
        CHECK_OK(hc_st_open(path, &st, &err), &err);
        CHECK(hc_st_count(st) == 0 && (hc_st_metadata(st, &ml) != NULL) == withmeta);
        hc_st_close(st);
    }
    remove(path);
}

TEST(st_writer_refusals_and_crash_safety) {
    char path[512];
    snprintf(path, sizeof path, "%s/refuse.safetensors", hc_test_tmpdir());
    hc_tensor_info t[2];
    const uint64_t s4[] = {4};
    set_info(&t[0], "a", HC_F32, 1, s4);
    set_info(&t[1], "b", HC_F16, 1, s4);
    float fa[4] = {1, 2, 3, 4};
    uint16_t fb[4] = {1, 2, 3, 4};
    hc_error err = {0};
    hc_st_writer *w;

    /* an unfinished write leaves nothing under the final name */
    CHECK_OK(hc_st_writer_open(path, t, 2, NULL, 0, 0, &w, &err), &err);
    CHECK_OK(hc_st_writer_put(w, 0, fa, &err), &err);
    CHECK(!file_exists(path) && tmp_files_left() == 1);
    hc_st_writer_abort(w);
    CHECK(!file_exists(path) && tmp_files_left() == 0);
    /* finishing early fails and leaves nothing either */
    CHECK_OK(hc_st_writer_open(path, t, 2, NULL, 0, 0, &w, &err), &err);
    CHECK_OK(hc_st_writer_put(w, 0, fa, &err), &err);
    CHECK(hc_st_writer_finish(w, &err) == HC_E_ARG && strstr(err.msg, "1 of 2"));
    CHECK(!file_exists(path) && tmp_files_left() == 0);
    /* out of order */
    hc_error_clear(&err);
    CHECK_OK(hc_st_writer_open(path, t, 2, NULL, 0, 0, &w, &err), &err);
    CHECK(hc_st_writer_put(w, 1, fb, &err) == HC_E_ARG && strstr(err.msg, "order"));
    hc_error_clear(&err);
    CHECK_OK(hc_st_writer_put(w, 0, fa, &err), &err);
    CHECK(hc_st_writer_put(w, 0, fa, &err) == HC_E_ARG);
    hc_error_clear(&err);
    CHECK_OK(hc_st_writer_put(w, 1, fb, &err), &err);
    CHECK_OK(hc_st_writer_finish(w, &err), &err);
    CHECK(file_exists(path));
    /* an existing file is refused unless overwrite is set, and kept intact */
    size_t len0, len1;
    uint8_t *before = hc_test_slurp(path, &len0);
    w = (hc_st_writer *)1;
    CHECK(hc_st_writer_open(path, t, 1, NULL, 0, 0, &w, &err) == HC_E_EXISTS && w == NULL);
    uint8_t *after = hc_test_slurp(path, &len1);
    CHECK(before && after && len0 == len1 && memcmp(before, after, len0) == 0);
    free(before);
    free(after);
    hc_error_clear(&err);
    CHECK_OK(hc_st_writer_open(path, t, 1, NULL, 0, 1, &w, &err), &err);
    CHECK_OK(hc_st_writer_put(w, 0, fa, &err), &err);
    CHECK_OK(hc_st_writer_finish(w, &err), &err);
    hc_safetensors *st;
    CHECK_OK(hc_st_open(path, &st, &err), &err);
    CHECK(hc_st_count(st) == 1);
    hc_st_close(st);
    remove(path);

    /* bad tables and metadata are refused before anything is created */
    hc_tensor_info bad[2];
    struct { const char *what; int n; const char *meta; hc_status want; const char *word; } cases[] = {
        {"duplicate", 2, NULL, HC_E_ARG, "duplicate"},
        {"reserved name", 1, NULL, HC_E_ARG, "__metadata__"},
        {"bad utf8", 1, NULL, HC_E_ARG, "UTF-8"},
        {"nelem", 1, NULL, HC_E_ARG, "disagree"},
        {"ndim", 1, NULL, HC_E_ARG, "dimensions"},
        {"dtype", 1, NULL, HC_E_ARG, "dtype"},
        {"unterminated name", 1, NULL, HC_E_ARG, "NUL"},
        {"meta not object", 0, "[\"a\"]", HC_E_ARG, "not a JSON object"},
        {"meta number", 0, "{\"a\":1}", HC_E_ARG, "not a string"},
        {"meta dup", 0, "{\"a\":\"1\",\"\\u0061\":\"2\"}", HC_E_ARG, "duplicate"},
        {"meta trailing", 0, "{\"a\":\"1\"} {}", HC_E_ARG, "after"},
        {"meta broken", 0, "{\"a\":\"1\"", HC_E_ARG, "unterminated"},
        {"meta empty", 0, "", HC_E_ARG, "value"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, t, sizeof t);
        switch (c) {
        case 0: strcpy(bad[1].name, "a"); break;
        case 1: strcpy(bad[0].name, "__metadata__"); break;
        case 2: strcpy(bad[0].name, "a\xff"); break;
        case 3: bad[0].nelem = 5; break;
        case 4: bad[0].ndim = HC_MAX_DIMS + 1; break;
        case 5: bad[0].dtype = HC_DTYPE_COUNT; break;
        case 6: memset(bad[0].name, 'x', HC_MAX_NAME); break;
        default: break;
        }
        hc_error_clear(&err);
        const char *m = cases[c].meta;
        hc_status s = hc_st_writer_open(path, bad, (size_t)cases[c].n, m, m ? strlen(m) : 0, 1, &w, &err);
        CHECKF(s == cases[c].want && strstr(err.msg, cases[c].word) && strstr(err.msg, "refuse.safetensors"),
               "%s: %s: %s", cases[c].what, hc_status_str(s), err.msg);
        CHECK(!file_exists(path) && tmp_files_left() == 0);
    }
}

/* ===================================================================== */
/* Hostile input                                                          */
/* ===================================================================== */

#define TENSOR(name, dt, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

TEST(st_valid_edge_cases) {
    static const struct { const char *hdr; size_t dlen; size_t count; const char *first; } ok[] = {
        {"{}", 0, 0, NULL},
        {"{}      ", 0, 0, NULL},
        {"{\"__metadata__\":{}}", 0, 0, NULL},
        {"{" TENSOR("s", "F64", "[]", 0, 8) "}", 8, 1, "s"},
        {"{" TENSOR("z", "F32", "[0]", 0, 0) "," TENSOR("y", "I16", "[3]", 0, 6) "}", 6, 2, "z"},
        /* keys in alphabetical order, storage order differs */
        {"{" TENSOR("a", "F32", "[2]", 4, 12) "," TENSOR("b", "U8", "[4]", 0, 4) "," TENSOR("c", "U8", "[0]", 12, 12) "}",
         12, 3, "b"},
        /* field order, escapes in keys and dtype, whitespace */
        {"{ \"\\u0061\\n\" : { \"data_offsets\" : [ 0 , 2 ] , \"shape\" : [ 1 ] , \"dtype\" : \"\\u0042F16\" } }\n\t ", 2,
         1, "a\n"},
    };
    for (size_t c = 0; c < sizeof ok / sizeof ok[0]; c++) {
        size_t len;
        uint8_t *img = make_image(ok[c].hdr, strlen(ok[c].hdr), ok[c].dlen, &len);
        hc_error err = {0};
        hc_safetensors *st = NULL;
        hc_status s = hc_st_open_mem(img, len, "edge", &st, &err);
        CHECKF(s == HC_OK, "case %zu: %s", c, err.msg);
        CHECK(hc_st_count(st) == ok[c].count);
        if (ok[c].first) CHECK(strcmp(hc_st_info(st, 0)->name, ok[c].first) == 0);
        for (size_t i = 0; i + 1 < hc_st_count(st); i++)
            CHECK((const uint8_t *)hc_st_data(st, i) + hc_st_info(st, i)->nbytes == hc_st_data(st, i + 1));
        hc_st_close(st);
        free(img);
    }
}

typedef struct hostile {
    const char *what, *hdr;
    size_t dlen;
    hc_status want;
    const char *word; /* expected in the message */
} hostile;

static const hostile hostile_cases[] = {
    {"header not '{'", "[1]", 0, HC_E_FORMAT, "'{'"},
    {"bom", "\xef\xbb\xbf{}", 0, HC_E_FORMAT, "'{'"},
    {"bad utf8 in name", "{\"a\xff\":{}}", 0, HC_E_FORMAT, "UTF-8"},
    {"bad utf8 outside strings", "{\xc3\xa9}", 0, HC_E_FORMAT, "key"},
    {"truncated json", "{\"a\":{\"dtype\":\"F32\"", 0, HC_E_FORMAT, "header"},
    {"trailing garbage", "{} x", 0, HC_E_FORMAT, "after"},
    {"nul padding", "{}\0\0", 0, HC_E_FORMAT, "after"},
    {"entry not object", "{\"a\":[1]}", 0, HC_E_FORMAT, "not a JSON object"},
    {"deep nesting", "{\"a\":{\"shape\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0,
     HC_E_FORMAT, "integer"},
    {"duplicate name", "{" TENSOR("a", "U8", "[1]", 0, 1) "," TENSOR("a", "U8", "[1]", 1, 2) "}", 2, HC_E_FORMAT,
     "duplicate"},
    {"duplicate via escape", "{" TENSOR("a", "U8", "[1]", 0, 1) "," TENSOR("\\u0061", "U8", "[1]", 1, 2) "}", 2,
     HC_E_FORMAT, "duplicate"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, HC_E_FORMAT, "twice"},
    {"metadata not object", "{\"__metadata__\":\"x\"}", 0, HC_E_FORMAT, "not a JSON object"},
    {"metadata value number", "{\"__metadata__\":{\"a\":1}}", 0, HC_E_FORMAT, "not a string"},
    {"metadata nested", "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, HC_E_FORMAT, "not a string"},
    {"metadata dup key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, HC_E_FORMAT, "duplicate"},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, HC_E_FORMAT, "missing field 'dtype'"},
    {"missing shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, HC_E_FORMAT, "missing field 'shape'"},
    {"missing offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, HC_E_FORMAT, "missing field 'data_offsets'"},
    {"field twice", "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, HC_E_FORMAT,
     "twice"},
    {"unknown field", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":0}}", 1, HC_E_FORMAT,
     "unknown field 'extra'"},
    {"dtype not string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, HC_E_FORMAT, "not a string"},
    {"unknown dtype", "{" TENSOR("a", "F4", "[1]", 0, 1) "}", 1, HC_E_UNSUPPORTED, "unknown dtype 'F4'"},
    {"lowercase dtype", "{" TENSOR("a", "f32", "[1]", 0, 4) "}", 4, HC_E_UNSUPPORTED, "dtype"},
    {"shape not array", "{" TENSOR("a", "U8", "1", 0, 1) "}", 1, HC_E_FORMAT, "array"},
    {"shape string", "{" TENSOR("a", "U8", "[\"1\"]", 0, 1) "}", 1, HC_E_FORMAT, "integer"},
    {"shape negative", "{" TENSOR("a", "U8", "[-1]", 0, 1) "}", 1, HC_E_FORMAT, "negative"},
    {"shape fraction", "{" TENSOR("a", "U8", "[1.0]", 0, 1) "}", 1, HC_E_FORMAT, "fraction"},
    {"shape exponent", "{" TENSOR("a", "U8", "[1e0]", 0, 1) "}", 1, HC_E_FORMAT, "exponent"},
    {"shape leading zero", "{" TENSOR("a", "U8", "[01]", 0, 1) "}", 1, HC_E_FORMAT, "leading zero"},
    {"shape null", "{" TENSOR("a", "U8", "[null]", 0, 1) "}", 1, HC_E_FORMAT, "integer"},
    {"dim overflow", "{" TENSOR("a", "U8", "[18446744073709551616]", 0, 1) "}", 1, HC_E_LIMIT, "64 bits"},
    {"product overflow", "{" TENSOR("a", "U8", "[4294967296,4294967296]", 0, 1) "}", 1, HC_E_CORRUPT, "overflow"},
    {"bytes overflow", "{" TENSOR("a", "F64", "[2305843009213693952]", 0, 1) "}", 1, HC_E_CORRUPT, "overflow"},
    {"ndim 9", "{" TENSOR("a", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1, HC_E_LIMIT, "more than 8"},
    {"nul in name", "{" TENSOR("a\\u0000b", "U8", "[1]", 0, 1) "}", 1, HC_E_FORMAT, "NUL"},
    {"offsets reversed", "{" TENSOR("a", "U8", "[0]", 1, 0) "}", 1, HC_E_CORRUPT, "before they begin"},
    {"offsets 1 entry", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}", 1, HC_E_FORMAT, "2 entries"},
    {"offsets 3 entries", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1, HC_E_FORMAT,
     "more than 2"},
    {"offsets negative", "{" TENSOR("a", "U8", "[1]", -1, 0) "}", 1, HC_E_FORMAT, "negative"},
    {"offsets fraction", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.5]}}", 1, HC_E_FORMAT,
     "fraction"},
    {"end beyond data", "{" TENSOR("a", "U8", "[4]", 0, 4) "}", 3, HC_E_CORRUPT, "beyond"},
    {"huge end", "{" TENSOR("a", "U8", "[4]", 18446744073709551611, 18446744073709551615) "}", 3, HC_E_CORRUPT,
     "beyond"},
    {"size mismatch", "{" TENSOR("a", "F32", "[2]", 0, 4) "}", 4, HC_E_CORRUPT, "need 8"},
    {"overlap", "{" TENSOR("a", "U8", "[4]", 0, 4) "," TENSOR("b", "U8", "[4]", 2, 6) "}", 6, HC_E_CORRUPT,
     "overlaps"},
    {"same range", "{" TENSOR("a", "U8", "[4]", 0, 4) "," TENSOR("b", "U8", "[4]", 0, 4) "}", 4, HC_E_CORRUPT,
     "overlaps"},
    {"empty inside other", "{" TENSOR("a", "U8", "[4]", 0, 4) "," TENSOR("b", "U8", "[0]", 2, 2) "}", 4, HC_E_CORRUPT,
     "overlaps"},
    {"hole", "{" TENSOR("a", "U8", "[4]", 0, 4) "," TENSOR("b", "U8", "[4]", 5, 9) "}", 9, HC_E_CORRUPT, "hole"},
    {"hole at start", "{" TENSOR("a", "U8", "[4]", 2, 6) "}", 6, HC_E_CORRUPT, "hole"},
    {"unindexed tail", "{" TENSOR("a", "U8", "[4]", 0, 4) "}", 5, HC_E_CORRUPT, "belong to no tensor"},
    {"data but no tensors", "{}", 1, HC_E_CORRUPT, "belong to no tensor"},
    {"metadata-named tensor", "{" TENSOR("\\u005f_metadata__", "U8", "[1]", 0, 1) "}", 1, HC_E_FORMAT,
     "not a string"},
};

static void check_refused(const uint8_t *img, size_t len, hc_status want, const char *word, const char *what) {
    hc_error err = {0};
    hc_safetensors *st = (hc_safetensors *)1;
    uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees any overread */
    memcpy(copy, img, len);
    hc_status s = hc_st_open_mem(copy, len, "hostile.safetensors", &st, &err);
    free(copy);
    if (s == HC_OK) hc_st_close(st);
    CHECKF(s == want && st == NULL, "%s: got %s (%s), want %s", what, hc_status_str(s), err.msg,
           hc_status_str(want));
    CHECKF(strstr(err.msg, word) && strstr(err.msg, "hostile.safetensors"), "%s: message '%s' lacks '%s'", what,
           err.msg, word);
}

TEST(st_hostile_inputs) {
    for (size_t c = 0; c < sizeof hostile_cases / sizeof hostile_cases[0]; c++) {
        const hostile *h = &hostile_cases[c];
        size_t hl = strcmp(h->what, "nul padding") == 0 ? 4 : strlen(h->hdr), len;
        uint8_t *img = make_image(h->hdr, hl, h->dlen, &len);
        check_refused(img, len, h->want, h->word, h->what);
        free(img);
        if (hc_test_failed()) return;
    }
    /* length field cases */
    uint8_t img[64] = {0};
    check_refused(img, 0, HC_E_FORMAT, "too short", "empty");
    check_refused((const uint8_t *)"{}\0\0\0\0\0", 7, HC_E_FORMAT, "too short", "7 bytes");
    hc_put_u64(img, 0);
    check_refused(img, 8, HC_E_FORMAT, "'{'", "zero header");
    hc_put_u64(img, 57);
    memcpy(img + 8, "{}", 2);
    check_refused(img, 64, HC_E_FORMAT, "beyond the end", "header past eof");
    hc_put_u64(img, UINT64_MAX);
    check_refused(img, 64, HC_E_LIMIT, "limit", "header length 2^64-1");
    hc_put_u64(img, 100000001);
    check_refused(img, 64, HC_E_LIMIT, "limit", "header length 100M+1");
    /* names: 1023 bytes is the longest accepted */
    char *hdr = malloc(4096);
    for (int n = 1023; n <= 1024; n++) {
        int k = snprintf(hdr, 4096, "{\"");
        memset(hdr + k, 'n', (size_t)n);
        k += n;
        k += snprintf(hdr + k, 4096 - (size_t)k, "\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}");
        size_t len;
        uint8_t *im = make_image(hdr, (size_t)k, 1, &len);
        if (n == 1024) {
            check_refused(im, len, HC_E_LIMIT, "longer than 1023", "long name");
        } else {
            hc_error err = {0};
            hc_safetensors *st;
            CHECK_OK(hc_st_open_mem(im, len, "name", &st, &err), &err);
            CHECK(strlen(hc_st_info(st, 0)->name) == 1023);
            hc_st_close(st);
        }
        free(im);
    }
    free(hdr);
    /* metadata keys: distinct among many, a late duplicate, and the count limit */
    size_t cap = 65537 * 16 + 64;
    hdr = malloc(cap);
    for (int c = 0; c < 3; c++) {
        unsigned nkeys = c == 2 ? 65537u : c == 1 ? 1001u : 65536u;
        size_t k = (size_t)snprintf(hdr, cap, "{\"__metadata__\":{");
        for (unsigned i = 0; i < nkeys; i++) {
            unsigned key = c != 1 ? i * 7919u % 65537u : i == nkeys - 1 ? 500 : i; /* c=1: repeats key 500 */
            k += (size_t)snprintf(hdr + k, cap - k, "%s\"k%u\":\"\"", i ? "," : "", key);
        }
        k += (size_t)snprintf(hdr + k, cap - k, "}}");
        size_t len;
        uint8_t *im = make_image(hdr, k, 0, &len);
        if (c == 0) {
            hc_error err = {0};
            hc_safetensors *st;
            CHECK_OK(hc_st_open_mem(im, len, "keys", &st, &err), &err);
            char v[4];
            size_t ml;
            const char *m = hc_st_metadata(st, &ml);
            CHECK(hc_json_object_get(m, ml, "k7919", v, sizeof v) && v[0] == 0);
            hc_st_close(st);
        } else {
            check_refused(im, len, c == 1 ? HC_E_FORMAT : HC_E_LIMIT, c == 1 ? "duplicate __metadata__ key 'k500'" : "keys",
                          c == 1 ? "late duplicate key" : "too many keys");
        }
        free(im);
    }
    free(hdr);
}

TEST(st_mutation_fuzz) {
    /* a small valid file, mutated 20000 times: nothing may crash or leak, and
     * anything accepted must satisfy the reader's guarantees */
    const char *hdr = "{\"__metadata__\":{\"dim\":\"4\"}," TENSOR("w", "F32", "[2,2]", 0, 16) ","
                      TENSOR("b", "BF16", "[3]", 16, 22) "," TENSOR("e", "I8", "[0]", 22, 22) ","
                      TENSOR("s", "U8", "[]", 22, 23) "}  ";
    size_t len0;
    uint8_t *base = make_image(hdr, strlen(hdr), 23, &len0);
    static const char interesting[] = "{}[]\",:0123456789-.eE\\u \x00\xff";
    hc_rng rng = {7};
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = len0;
        uint8_t *m = malloc(len0);
        memcpy(m, base, len0);
        int nmut = 1 + (int)(hc_rng_next(&rng) % 4);
        for (int k = 0; k < nmut; k++) {
            uint64_t r = hc_rng_next(&rng);
            if (len == 0) break;
            size_t pos = (size_t)((r >> 8) % len);
            switch (r % 5) {
            case 0: m[pos] = (uint8_t)(r >> 40); break;
            case 1: m[pos] = (uint8_t)interesting[(r >> 40) % (sizeof interesting - 1)]; break;
            case 2: m[pos] ^= (uint8_t)(1u << ((r >> 40) % 8)); break;
            case 3: len = pos; break; /* truncate */
            case 4: m[(r >> 40) % 8] = (uint8_t)(r >> 48); break; /* header length */
            }
        }
        hc_error err = {0};
        hc_safetensors *st = NULL;
        hc_status s = hc_st_open_mem(m, len, "mut", &st, &err);
        if (s == HC_OK) {
            accepted++;
            uint64_t total = 0;
            for (size_t i = 0; i < hc_st_count(st); i++) {
                const hc_tensor_info *t = hc_st_info(st, i);
                const uint8_t *d = hc_st_data(st, i);
                CHECK(d >= m && d + t->nbytes <= m + len);
                volatile uint8_t sink = 0;
                for (uint64_t b = 0; b < t->nbytes; b++) sink ^= d[b];
                (void)sink;
                CHECK(hc_st_find(st, t->name) == (long)i);
                total += t->nbytes;
            }
            CHECK(hc_st_count(st) == 0 || (const uint8_t *)hc_st_data(st, 0) + total == m + len);
            size_t ml;
            const char *meta = hc_st_metadata(st, &ml);
            char v[8];
            if (meta) hc_json_object_get(meta, ml, "dim", v, sizeof v);
            hc_st_close(st);
        } else {
            CHECK(st == NULL && err.msg[0] && strstr(err.msg, "mut"));
        }
        free(m);
    }
    CHECK(accepted > 0); /* some mutants (e.g. in tensor bytes) stay valid */
    free(base);
}
