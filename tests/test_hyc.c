/* test_hyc.c — the .hyc container: round trips, the writer's guarantees,
 * random access, and refusal of truncated, damaged and hostile files.
 * A small reference encoder written from docs/FORMAT.md (independent of
 * src/io/hyc.c) checks the writer byte for byte and builds the files the
 * writer never makes: extended minor versions, >4 GiB offsets, bad fields. */
#include "test.h"
#include "../src/common/util.h"
#include <fcntl.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ===================================================================== */
/* Helpers                                                                */
/* ===================================================================== */

static uint64_t up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* A fresh, empty directory under the test tmpdir. */
static const char *fresh_dir(const char *name) {
    static char buf[4][512];
    static int slot;
    char *p = buf[slot++ & 3];
    snprintf(p, 512, "%s/%s", hc_test_tmpdir(), name);
    mkdir(p, 0755);
    return p;
}

static const char *join(const char *dir, const char *name) {
    static char buf[4][600];
    static int slot;
    char *p = buf[slot++ & 3];
    snprintf(p, 600, "%s/%s", dir, name);
    return p;
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* ===================================================================== */
/* Test tensors                                                           */
/* ===================================================================== */

typedef struct tt {
    const char *name;
    hc_dtype dtype;
    uint32_t ndim;
    uint64_t shape[HC_MAX_DIMS];
    unsigned codec;
    uint32_t params_len;
    uint8_t params[HC_MAX_PARAMS];
    const uint8_t *payload; /* NULL: zeros never read (sparse files) */
    uint64_t size;
} tt;

static hc_hyc_entry entry_of(const tt *t) {
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, sizeof e.info.name, "%s", t->name);
    e.info.dtype = t->dtype;
    e.info.ndim = t->ndim;
    e.info.nelem = 1;
    for (uint32_t d = 0; d < t->ndim; d++) {
        e.info.shape[d] = t->shape[d];
        e.info.nelem *= t->shape[d];
    }
    e.info.nbytes = e.info.nelem * hc_dtype_size(t->dtype);
    e.codec = (hc_codec_id)t->codec;
    e.params_len = t->params_len;
    memcpy(e.params, t->params, t->params_len);
    return e;
}

enum { NS = 7 };
static uint8_t p_f32[60], p_f16[14], p_bf16[24], p_i64[8], p_paper[100], p_hlat[1];
static const char md_sample[] = "{\"format\":\"pt\"}\0tail"; /* NUL inside, kept verbatim */
#define MD_LEN (sizeof md_sample - 1)

static float f32_value(int i) { return (float)(i - 7) * 0.25f; }

/* Seven tensors: raw F32/F16/BF16/I64 (one scalar, one empty), and two
 * lossy-codec entries carrying arbitrary parameters and payloads. */
static void sample(tt t[NS]) {
    memset(t, 0, NS * sizeof *t);
    hc_rng r = {42};
    for (int i = 0; i < 15; i++) hc_put_f32(p_f32 + 4 * i, f32_value(i));
    for (int i = 0; i < 7; i++) hc_put_u16(p_f16 + 2 * i, hc_f32_to_f16(1.0f + (float)i / 8));
    for (int i = 0; i < 12; i++) hc_put_u16(p_bf16 + 2 * i, hc_f32_to_bf16(-3.0f + (float)i));
    hc_put_u64(p_i64, (uint64_t)-123456789012345ll);
    for (int i = 0; i < 100; i++) p_paper[i] = (uint8_t)hc_rng_next(&r);
    p_hlat[0] = 0xA5;
    t[0] = (tt){.name = "tok_embeddings.weight", .dtype = HC_F32, .ndim = 2, .shape = {3, 5},
                .payload = p_f32, .size = 60};
    t[1] = (tt){.name = "norm.weight", .dtype = HC_F16, .ndim = 1, .shape = {7}, .payload = p_f16, .size = 14};
    t[2] = (tt){.name = "layers.0.attention.wq.weight", .dtype = HC_F32, .ndim = 2, .shape = {10, 10},
                .codec = HC_CODEC_PAPER, .params_len = 37, .payload = p_paper, .size = 100};
    for (int i = 0; i < 37; i++) t[2].params[i] = (uint8_t)(i * 7 + 1);
    t[3] = (tt){.name = "bf", .dtype = HC_BF16, .ndim = 3, .shape = {2, 2, 3}, .payload = p_bf16, .size = 24};
    t[4] = (tt){.name = "st", .dtype = HC_I64, .ndim = 0, .payload = p_i64, .size = 8};
    t[5] = (tt){.name = "empty", .dtype = HC_F32, .ndim = 2, .shape = {0, 4}, .payload = NULL, .size = 0};
    t[6] = (tt){.name = "hlat.weight", .dtype = HC_BF16, .ndim = 1, .shape = {4}, .codec = HC_CODEC_HLAT,
                .params_len = HC_MAX_PARAMS, .payload = p_hlat, .size = 1};
    for (int i = 0; i < HC_MAX_PARAMS; i++) t[6].params[i] = (uint8_t)(255 - i);
}

static hc_status write_tensors(const char *path, const tt *t, size_t n, const char *md, size_t mdlen,
                               hc_error *err) {
    hc_hyc_writer *w;
    hc_status s = hc_hyc_writer_open(path, 1, &w, err);
    for (size_t i = 0; i < n && s == HC_OK; i++) {
        hc_hyc_entry e = entry_of(&t[i]);
        s = hc_hyc_writer_add(w, &e, t[i].payload, t[i].size, err);
        if (s) hc_hyc_writer_abort(w);
    }
    return s ? s : hc_hyc_writer_finish(w, md, mdlen, err);
}

/* Checks that h holds exactly t[0..n) with their payloads. Returns 1 if so. */
static int same_tensors(const hc_hyc *h, const tt *t, size_t n, uint64_t align) {
    if (hc_hyc_count(h) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        const hc_hyc_entry *e = hc_hyc_get(h, i);
        hc_hyc_entry x = entry_of(&t[i]);
        hc_error err;
        hc_error_clear(&err);
        const uint8_t *p;
        if (!e || strcmp(e->info.name, t[i].name) || e->info.dtype != x.info.dtype || e->info.ndim != x.info.ndim ||
            memcmp(e->info.shape, x.info.shape, sizeof x.info.shape) || e->info.nelem != x.info.nelem ||
            e->info.nbytes != x.info.nbytes || e->codec != x.codec || e->params_len != x.params_len ||
            memcmp(e->params, x.params, x.params_len) || e->size != t[i].size || e->offset % align != 0 ||
            hc_hyc_find(h, t[i].name) != (long)i || hc_hyc_payload(h, i, &p, &err) != HC_OK ||
            (t[i].size && memcmp(p, t[i].payload, t[i].size)) ||
            e->crc32c != hc_crc32c(0, t[i].payload, (size_t)t[i].size))
            return 0;
    }
    return hc_hyc_get(h, n) == NULL;
}

/* ===================================================================== */
/* Reference encoder (from docs/FORMAT.md)                                */
/* ===================================================================== */

typedef struct ref_opts {
    uint32_t align;                                  /* 0: 64                      */
    uint32_t header_extra, dirhdr_extra, entry_extra; /* minor-version growth      */
    int reverse;                                     /* payloads in reverse order */
    int no_metadata;
    const char *writer;                              /* NULL: ""                   */
} ref_opts;

typedef struct ref_image {
    uint8_t *bytes; /* [file_size], NULL for sparse use */
    uint8_t header[256];
    uint32_t header_size;
    uint8_t *dir;
    uint64_t dir_off, dir_size, file_size;
    uint8_t trailer[32];
    uint64_t payload_off[NS + 2], entry_pos[NS + 2]; /* file offsets */
} ref_image;

static void ref_build(const tt *t, size_t n, const char *md, size_t mdlen, const ref_opts *o, ref_image *r) {
    memset(r, 0, sizeof *r);
    uint32_t a = o->align ? o->align : 64;
    const char *wr = o->writer ? o->writer : "";
    size_t wl = strlen(wr), dh = 32 + o->dirhdr_extra;
    r->header_size = 64 + o->header_extra;
    uint64_t pos = r->header_size;
    for (size_t k = 0; k < n; k++) {
        size_t i = o->reverse ? n - 1 - k : k;
        r->payload_off[i] = pos = up(pos, a);
        pos += t[i].size;
    }
    r->dir_off = up(pos, 8);
    r->dir = calloc(1, dh + mdlen + wl + 8 + n * (48 + 64 + HC_MAX_NAME + HC_MAX_PARAMS + o->entry_extra));
    uint8_t *d = r->dir;
    hc_put_u32(d + 0, (uint32_t)dh);
    hc_put_u32(d + 4, o->no_metadata ? 0 : 1);
    hc_put_u64(d + 8, n);
    hc_put_u64(d + 16, mdlen);
    hc_put_u32(d + 24, (uint32_t)wl);
    if (mdlen) memcpy(d + dh, md, mdlen);
    memcpy(d + dh + mdlen, wr, wl);
    uint64_t p = up(dh + mdlen + wl, 8);
    for (size_t i = 0; i < n; i++) {
        uint8_t *q = d + p;
        size_t nl = strlen(t[i].name);
        uint64_t es = up(40 + 8 * t[i].ndim + nl + t[i].params_len + o->entry_extra, 8);
        hc_put_u32(q, (uint32_t)es);
        hc_put_u16(q + 4, (uint16_t)nl);
        hc_put_u16(q + 6, (uint16_t)t[i].params_len);
        hc_put_u16(q + 8, (uint16_t)t[i].codec);
        q[10] = (uint8_t)t[i].dtype;
        q[11] = (uint8_t)t[i].ndim;
        hc_put_u32(q + 16, t[i].payload ? hc_crc32c(0, t[i].payload, (size_t)t[i].size) : 0);
        hc_put_u64(q + 24, r->payload_off[i]);
        hc_put_u64(q + 32, t[i].size);
        for (uint32_t k = 0; k < t[i].ndim; k++) hc_put_u64(q + 40 + 8 * k, t[i].shape[k]);
        memcpy(q + 40 + 8 * t[i].ndim, t[i].name, nl);
        memcpy(q + 40 + 8 * t[i].ndim + nl, t[i].params, t[i].params_len);
        r->entry_pos[i] = r->dir_off + p;
        p += es;
    }
    r->dir_size = p;
    r->file_size = r->dir_off + p + 32;
    uint32_t dcrc = hc_crc32c(0, d, (size_t)p);
    uint8_t *tr = r->trailer, *h = r->header;
    memcpy(tr, "\x89HYCEND\n", 8);
    hc_put_u64(tr + 8, r->dir_off);
    hc_put_u64(tr + 16, r->dir_size);
    hc_put_u32(tr + 24, dcrc);
    hc_put_u32(tr + 28, hc_crc32c(0, tr, 28));
    memcpy(h, "\x89HYC\r\n\x1a\n", 8);
    hc_put_u16(h + 8, 1);
    hc_put_u16(h + 10, 0);
    hc_put_u32(h + 12, r->header_size);
    hc_put_u64(h + 24, r->file_size);
    hc_put_u64(h + 32, r->dir_off);
    hc_put_u64(h + 40, r->dir_size);
    hc_put_u32(h + 48, dcrc);
    hc_put_u32(h + 52, a);
    hc_put_u32(h + r->header_size - 4, hc_crc32c(0, h, r->header_size - 4));
}

/* Lays the image out in memory (r->bytes, r->file_size bytes). */
static void ref_flatten(ref_image *r, const tt *t, size_t n) {
    r->bytes = calloc(1, (size_t)r->file_size);
    memcpy(r->bytes, r->header, r->header_size);
    for (size_t i = 0; i < n; i++)
        if (t[i].size) memcpy(r->bytes + r->payload_off[i], t[i].payload, (size_t)t[i].size);
    memcpy(r->bytes + r->dir_off, r->dir, (size_t)r->dir_size);
    memcpy(r->bytes + r->dir_off + r->dir_size, r->trailer, 32);
}

static void ref_free(ref_image *r) {
    free(r->bytes);
    free(r->dir);
}

/* After patching fields: recompute the directory CRC from the header's
 * directory location, copy it and that location into the trailer, and
 * recompute the trailer and header CRCs, so only validation can object. */
static void fix_crcs(uint8_t *img, size_t len) {
    uint32_t hs = hc_get_u32(img + 12);
    if (hs < 64 || hs % 4 || hs > len) hs = 64;
    uint64_t doff = hc_get_u64(img + 32), dsz = hc_get_u64(img + 40);
    if (doff <= len && dsz <= len - doff) hc_put_u32(img + 48, hc_crc32c(0, img + doff, (size_t)dsz));
    uint8_t *t = img + len - 32;
    hc_put_u64(t + 8, doff);
    hc_put_u64(t + 16, dsz);
    hc_put_u32(t + 24, hc_get_u32(img + 48));
    hc_put_u32(t + 28, hc_crc32c(0, t, 28));
    hc_put_u32(img + hs - 4, hc_crc32c(0, img, hs - 4));
}

/* Opens a private copy of img[0..len) (exactly len bytes, so ASan sees any
 * over-read). */
static hc_status open_copy(const uint8_t *img, size_t len, hc_error *err) {
    uint8_t *b = malloc(len ? len : 1);
    memcpy(b, img, len);
    hc_hyc *h = NULL;
    hc_error_clear(err);
    hc_status s = hc_hyc_open_mem(b, len, "copy.hyc", &h, err);
    if (s == HC_OK && h == NULL) s = HC_E_ARG; /* must not happen */
    hc_hyc_close(h);
    free(b);
    return s;
}

/* ===================================================================== */
/* Round trips                                                            */
/* ===================================================================== */

TEST(hyc_roundtrip_all_fields) {
    tt t[NS];
    sample(t);
    hc_error err;
    hc_error_clear(&err);
    const char *path = join(fresh_dir("rt"), "m.hyc");
    CHECK_OK(write_tensors(path, t, NS, md_sample, MD_LEN, &err), &err);
    hc_hyc *h;
    CHECK_OK(hc_hyc_open(path, &h, &err), &err);
    CHECK(same_tensors(h, t, NS, 64));
    size_t mdlen = 0;
    const char *md = hc_hyc_metadata(h, &mdlen);
    CHECK(md && mdlen == MD_LEN && memcmp(md, md_sample, MD_LEN) == 0);
    CHECK(strcmp(hc_hyc_writer_version(h), "hyperc " HC_VERSION_STRING) == 0);
    CHECK(hc_hyc_find(h, "nope") == -1 && hc_hyc_find(h, "") == -1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && hc_hyc_file_size(h) == (uint64_t)st.st_size);
    for (size_t i = 0; i < NS; i++) { /* aligned in memory too: mmap is page-aligned */
        const uint8_t *p;
        CHECK_OK(hc_hyc_payload(h, i, &p, &err), &err);
        CHECK(((uintptr_t)p & 63) == 0);
    }
    CHECK_OK(hc_hyc_verify(h, &err), &err);
    hc_hyc_close(h);
}

TEST(hyc_writer_matches_reference_encoder) {
    tt t[NS];
    sample(t);
    hc_error err;
    hc_error_clear(&err);
    const char *path = join(fresh_dir("ref"), "m.hyc");
    CHECK_OK(write_tensors(path, t, NS, md_sample, MD_LEN, &err), &err);
    size_t len;
    uint8_t *img = hc_test_slurp(path, &len);
    ref_opts o = {.writer = "hyperc " HC_VERSION_STRING};
    ref_image r;
    ref_build(t, NS, md_sample, MD_LEN, &o, &r);
    ref_flatten(&r, t, NS);
    int same = img && len == r.file_size && memcmp(img, r.bytes, len) == 0;
    free(img);
    ref_free(&r);
    CHECK(same);
}

/* The worked example at the end of docs/FORMAT.md, field by field. */
TEST(hyc_format_doc_example) {
    if (strlen("hyperc " HC_VERSION_STRING) != 12) {
        hc_test_skip("the example assumes a 12-byte writer string");
        return;
    }
    uint8_t pay[8] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40};
    tt t = {.name = "w", .dtype = HC_F32, .ndim = 1, .shape = {2}, .payload = pay, .size = 8};
    hc_error err;
    hc_error_clear(&err);
    const char *path = join(fresh_dir("doc"), "w.hyc");
    CHECK_OK(write_tensors(path, &t, 1, NULL, 0, &err), &err);
    size_t len;
    uint8_t *b = hc_test_slurp(path, &len);
    CHECK(b && len == 208);
    int ok = memcmp(b, "\x89HYC\r\n\x1a\n", 8) == 0 && hc_get_u16(b + 8) == 1 && hc_get_u16(b + 10) == 0 &&
             hc_get_u32(b + 12) == 64 && hc_get_u64(b + 24) == 208 && hc_get_u64(b + 32) == 72 &&
             hc_get_u64(b + 40) == 104 && hc_get_u32(b + 52) == 64 && memcmp(b + 64, pay, 8) == 0 &&
             hc_get_u32(b + 72) == 32 && hc_get_u32(b + 76) == 0 && hc_get_u64(b + 80) == 1 &&
             hc_get_u32(b + 96) == 12 && memcmp(b + 104, "hyperc ", 7) == 0 && hc_get_u32(b + 120) == 56 &&
             hc_get_u16(b + 124) == 1 && b[130] == 0 && b[131] == 1 &&
             hc_get_u32(b + 136) == hc_crc32c(0, pay, 8) && hc_get_u64(b + 144) == 64 &&
             hc_get_u64(b + 152) == 8 && hc_get_u64(b + 160) == 2 && b[168] == 'w' &&
             memcmp(b + 176, "\x89HYCEND\n", 8) == 0 && hc_get_u32(b + 200) == hc_get_u32(b + 48) &&
             hc_get_u32(b + 48) == hc_crc32c(0, b + 72, 104) && hc_get_u32(b + 60) == hc_crc32c(0, b, 60);
    free(b);
    CHECK(ok);
}

TEST(hyc_metadata_absent_empty_and_zero_tensors) {
    hc_error err;
    hc_error_clear(&err);
    const char *dir = fresh_dir("md");
    const char *paths[2] = {join(dir, "none.hyc"), join(dir, "empty.hyc")};
    CHECK_OK(write_tensors(paths[0], NULL, 0, NULL, 0, &err), &err);
    CHECK_OK(write_tensors(paths[1], NULL, 0, "", 0, &err), &err);
    for (int k = 0; k < 2; k++) {
        hc_hyc *h;
        CHECK_OK(hc_hyc_open(paths[k], &h, &err), &err);
        size_t len = 99;
        const char *md = hc_hyc_metadata(h, &len);
        CHECK(hc_hyc_count(h) == 0 && hc_hyc_get(h, 0) == NULL && len == 0);
        CHECK(k == 0 ? md == NULL : (md != NULL && md[0] == 0));
        CHECK_OK(hc_hyc_verify(h, &err), &err);
        hc_hyc_close(h);
    }
}

/* Files a newer minor version may write: longer header, directory header and
 * entries, compat flags, other alignments, payloads out of directory order. */
TEST(hyc_reads_minor_version_extensions) {
    tt t[NS];
    sample(t);
    ref_opts variants[] = {
        {.header_extra = 16, .dirhdr_extra = 8, .entry_extra = 24, .writer = "future 9"},
        {.align = 4096, .reverse = 1},
        {.align = 8, .no_metadata = 1},
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        ref_image r;
        ref_build(t, NS, md_sample, variants[v].no_metadata ? 0 : MD_LEN, &variants[v], &r);
        ref_flatten(&r, t, NS);
        hc_put_u16(r.bytes + 10, 7);         /* version 1.7 */
        hc_put_u32(r.bytes + 20, 0x80000001u); /* unknown compat flags */
        fix_crcs(r.bytes, (size_t)r.file_size);
        hc_error err;
        hc_error_clear(&err);
        hc_hyc *h = NULL;
        hc_status s = hc_hyc_open_mem(r.bytes, r.file_size, "ext.hyc", &h, &err);
        int ok = s == HC_OK;
        if (ok) ok = same_tensors(h, t, NS, variants[v].align ? variants[v].align : 64);
        size_t mdlen;
        const char *md = ok ? hc_hyc_metadata(h, &mdlen) : NULL;
        if (ok) ok = variants[v].no_metadata ? md == NULL : (md && mdlen == MD_LEN && !memcmp(md, md_sample, MD_LEN));
        if (ok && v == 0) ok = strcmp(hc_hyc_writer_version(h), "future 9") == 0;
        hc_hyc_close(h);
        ref_free(&r);
        CHECKF(ok, "variant %zu: %s", v, err.msg);
    }
}

/* ===================================================================== */
/* Random access and decoders                                             */
/* ===================================================================== */

TEST(hyc_decoder_random_access) {
    tt t[NS];
    sample(t);
    ref_opts o = {0};
    ref_image r;
    ref_build(t, NS, NULL, 0, &o, &r);
    ref_flatten(&r, t, NS);
    /* Damage two other tensors: decoding tensor 0 must not read them. */
    r.bytes[r.payload_off[2] + 5] ^= 0x10;
    r.bytes[r.payload_off[3]] ^= 0x01;
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h;
    hc_status s = hc_hyc_open_mem(r.bytes, r.file_size, "ra.hyc", &h, &err);
    if (s) ref_free(&r);
    CHECK_OK(s, &err);
    hc_decoder *d = NULL;
    float out[15];
    s = hc_hyc_decoder(h, 0, &d, &err);
    int ok = s == HC_OK && d->n == 15;
    if (ok) {
        hc_decode_all(d, out);
        for (int i = 0; i < 15; i++) ok &= out[i] == f32_value(i);
        d->decode(d, 6, 4, out);
        for (int i = 0; i < 4; i++) ok &= out[i] == f32_value(6 + i);
    }
    hc_decoder_free(d);
    d = NULL;
    if (ok && hc_hyc_decoder(h, 1, &d, &err) == HC_OK) { /* F16 */
        hc_decode_all(d, out);
        for (int i = 0; i < 7; i++) ok &= out[i] == 1.0f + (float)i / 8;
    } else
        ok = 0;
    hc_decoder_free(d);
    d = NULL;
    if (ok && hc_hyc_decoder(h, 5, &d, &err) == HC_OK) ok = d->n == 0; /* empty tensor */
    else ok = 0;
    hc_decoder_free(d);
    d = NULL;
    hc_error_clear(&err);
    s = hc_hyc_decoder(h, 4, &d, &err); /* I64 raw: no float decoder */
    int i64_refused = s != HC_OK && d == NULL && strstr(err.msg, "'st'") && strstr(err.msg, "ra.hyc");
    hc_error_clear(&err);
    s = hc_hyc_verify(h, &err);
    int verify_caught = s == HC_E_CORRUPT && strstr(err.msg, "layers.0.attention.wq.weight") && strstr(err.msg, "CRC");
    hc_error_clear(&err);
    s = hc_hyc_decoder(h, 3, &d, &err);
    int dec_caught = s == HC_E_CORRUPT && d == NULL && strstr(err.msg, "'bf'") && strstr(err.msg, "CRC");
    hc_hyc_close(h);
    ref_free(&r);
    CHECK(ok);
    CHECKF(i64_refused, "%s", err.msg);
    CHECK(verify_caught);
    CHECK(dec_caught);
}

TEST(hyc_unknown_codec_refused_at_decode) {
    uint8_t pay[16] = {1, 2, 3};
    tt t[2] = {{.name = "future.a", .dtype = HC_F32, .ndim = 1, .shape = {4}, .codec = 999, .params_len = 3,
                .params = {9, 8, 7}, .payload = pay, .size = 16},
               {.name = "future.b", .dtype = HC_BF16, .ndim = 0, .codec = 65535, .payload = pay, .size = 3}};
    hc_error err;
    hc_error_clear(&err);
    const char *path = join(fresh_dir("codec"), "u.hyc");
    CHECK_OK(write_tensors(path, t, 2, NULL, 0, &err), &err);
    hc_hyc *h;
    CHECK_OK(hc_hyc_open(path, &h, &err), &err);
    int listed = same_tensors(h, t, 2, 64);
    CHECK_OK(hc_hyc_verify(h, &err), &err);
    const unsigned ids[2] = {999, 65535};
    for (size_t i = 0; i < 2; i++) {
        hc_decoder *d = (hc_decoder *)1;
        char id[16];
        snprintf(id, sizeof id, "%u", ids[i]);
        hc_error_clear(&err);
        hc_status s = hc_hyc_decoder(h, i, &d, &err);
        if (!(s == HC_E_UNSUPPORTED && d == NULL && strstr(err.msg, t[i].name) && strstr(err.msg, "codec") &&
              strstr(err.msg, id) && strstr(err.msg, "u.hyc"))) {
            hc_hyc_close(h);
            CHECKF(0, "tensor %zu: %s", i, err.msg);
        }
    }
    hc_hyc_close(h);
    CHECK(listed);
}

/* ===================================================================== */
/* Writer guarantees                                                      */
/* ===================================================================== */

TEST(hyc_writer_refuses_overwrite) {
    const char *dir = fresh_dir("ow");
    const char *path = join(dir, "x.hyc");
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs("hello", f) >= 0 && fclose(f) == 0);
    hc_error err;
    hc_error_clear(&err);
    hc_hyc_writer *w = (hc_hyc_writer *)1;
    CHECK(hc_hyc_writer_open(path, 0, &w, &err) == HC_E_EXISTS && w == NULL && strstr(err.msg, "x.hyc"));
    size_t len;
    uint8_t *b = hc_test_slurp(path, &len);
    int kept = b && len == 5 && memcmp(b, "hello", 5) == 0;
    free(b);
    CHECK(kept && count_files(dir) == 1);
    hc_error_clear(&err);
    CHECK_OK(hc_hyc_writer_open(path, 1, &w, &err), &err);
    CHECK_OK(hc_hyc_writer_finish(w, NULL, 0, &err), &err);
    hc_hyc *h;
    CHECK_OK(hc_hyc_open(path, &h, &err), &err);
    hc_hyc_close(h);
}

TEST(hyc_writer_final_name_only_at_finish_and_abort) {
    tt t[NS];
    sample(t);
    const char *dir = fresh_dir("atomic");
    const char *path = join(dir, "m.hyc");
    hc_error err;
    hc_error_clear(&err);
    hc_hyc_writer *w;
    CHECK_OK(hc_hyc_writer_open(path, 0, &w, &err), &err);
    hc_hyc_entry e = entry_of(&t[0]);
    CHECK_OK(hc_hyc_writer_add(w, &e, t[0].payload, t[0].size, &err), &err);
    int absent = access(path, F_OK) != 0 && count_files(dir) == 1; /* only the temporary */
    hc_hyc_writer_abort(w);
    CHECK(absent);
    CHECK(count_files(dir) == 0);
    /* finish with invalid metadata arguments also leaves nothing */
    CHECK_OK(hc_hyc_writer_open(path, 0, &w, &err), &err);
    CHECK(hc_hyc_writer_finish(w, NULL, 5, &err) == HC_E_ARG);
    CHECK(count_files(dir) == 0);
    hc_error_clear(&err);
    CHECK_OK(hc_hyc_writer_open(path, 0, &w, &err), &err);
    CHECK_OK(hc_hyc_writer_add(w, &e, t[0].payload, t[0].size, &err), &err);
    CHECK(access(path, F_OK) != 0);
    CHECK_OK(hc_hyc_writer_finish(w, NULL, 0, &err), &err);
    CHECK(access(path, F_OK) == 0 && count_files(dir) == 1);
}

TEST(hyc_writer_refuses_bad_entries) {
    tt t[NS];
    sample(t);
    hc_error err;
    hc_error_clear(&err);
    const char *path = join(fresh_dir("bad"), "m.hyc");
    hc_hyc_writer *w;
    CHECK_OK(hc_hyc_writer_open(path, 0, &w, &err), &err);
    hc_hyc_entry good = entry_of(&t[0]);
    CHECK_OK(hc_hyc_writer_add(w, &good, t[0].payload, t[0].size, &err), &err);
    hc_hyc_entry bad[9];
    uint64_t sizes[9];
    for (int k = 0; k < 9; k++) {
        bad[k] = entry_of(&t[1]);
        sizes[k] = t[1].size;
    }
    bad[0] = good;                          /* duplicate name */
    sizes[0] = t[0].size;
    sizes[1] = 12;                          /* raw size != nbytes */
    bad[2].params_len = 1;                  /* raw with parameters */
    bad[3].info.ndim = HC_MAX_DIMS + 1;
    bad[4].info.dtype = HC_DTYPE_COUNT;
    bad[5].info.nelem = 8;                  /* disagrees with shape */
    bad[6].info.name[0] = 0;                /* empty name */
    memset(bad[7].info.name, 'a', HC_MAX_NAME); /* not terminated */
    bad[8].codec = HC_CODEC_PAPER;
    bad[8].params_len = HC_MAX_PARAMS + 1;
    for (int k = 0; k < 9; k++) {
        hc_error_clear(&err);
        hc_status s = hc_hyc_writer_add(w, &bad[k], t[1].payload, sizes[k], &err);
        if (s == HC_OK || !err.msg[0]) {
            hc_hyc_writer_abort(w);
            CHECKF(0, "bad entry %d accepted", k);
        }
    }
    hc_error_clear(&err);
    hc_hyc_entry e1 = entry_of(&t[1]);
    CHECK_OK(hc_hyc_writer_add(w, &e1, t[1].payload, t[1].size, &err), &err); /* still usable */
    CHECK_OK(hc_hyc_writer_finish(w, NULL, 0, &err), &err);
    hc_hyc *h;
    CHECK_OK(hc_hyc_open(path, &h, &err), &err);
    int ok = same_tensors(h, t, 2, 64);
    hc_hyc_close(h);
    CHECK(ok);
}

/* Offsets, sizes and shapes past 4 GiB, in a sparse file: only the
 * header, one small payload, the directory and the trailer are written. */
TEST(hyc_offsets_beyond_4gib) {
    if (sizeof(size_t) < 8) {
        hc_test_skip("needs a 64-bit address space");
        return;
    }
    float vals[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    uint8_t pay[16];
    for (int i = 0; i < 4; i++) hc_put_f32(pay + 4 * i, vals[i]);
    const uint64_t big = (1ull << 32) + 8;
    tt t[2] = {{.name = "huge", .dtype = HC_U8, .ndim = 1, .shape = {big}, .payload = NULL, .size = big},
               {.name = "after", .dtype = HC_F32, .ndim = 2, .shape = {2, 2}, .payload = pay, .size = 16}};
    ref_opts o = {0};
    ref_image r;
    ref_build(t, 2, NULL, 0, &o, &r);
    const char *path = join(fresh_dir("big"), "big.hyc");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int wrote = fd >= 0 && ftruncate(fd, (off_t)r.file_size) == 0 &&
                pwrite(fd, r.header, 64, 0) == 64 && pwrite(fd, pay, 16, (off_t)r.payload_off[1]) == 16 &&
                pwrite(fd, r.dir, r.dir_size, (off_t)r.dir_off) == (ssize_t)r.dir_size &&
                pwrite(fd, r.trailer, 32, (off_t)(r.file_size - 32)) == 32;
    if (fd >= 0) close(fd);
    uint64_t off1 = r.payload_off[1], fsize = r.file_size;
    ref_free(&r);
    if (!wrote) {
        unlink(path);
        hc_test_skip("cannot make a sparse file over 4 GiB here");
        return;
    }
    CHECK(off1 == (1ull << 32) + 128);
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h;
    hc_status s = hc_hyc_open(path, &h, &err);
    if (s) unlink(path);
    CHECK_OK(s, &err);
    const hc_hyc_entry *e0 = hc_hyc_get(h, 0), *e1 = hc_hyc_get(h, 1);
    int ok = hc_hyc_file_size(h) == fsize && e0->offset == 64 && e0->size == big && e0->info.shape[0] == big &&
             e0->info.nelem == big && e0->info.nbytes == big && e1->offset == off1 && e1->size == 16;
    hc_decoder *d = NULL;
    float out[4] = {0};
    if (hc_hyc_decoder(h, 1, &d, &err) == HC_OK) {
        hc_decode_all(d, out);
        ok &= memcmp(out, vals, sizeof vals) == 0;
    } else
        ok = 0;
    hc_decoder_free(d);
    hc_hyc_close(h);
    unlink(path);
    CHECKF(ok, "%s", err.msg);
}

/* ===================================================================== */
/* Damaged and hostile files                                              */
/* ===================================================================== */

static uint8_t *sample_image(size_t *len, ref_image *r) {
    tt t[NS];
    sample(t);
    ref_opts o = {.writer = "hyperc " HC_VERSION_STRING};
    ref_build(t, NS, md_sample, MD_LEN, &o, r);
    ref_flatten(r, t, NS);
    *len = (size_t)r->file_size;
    return r->bytes;
}

TEST(hyc_every_truncation_refused) {
    ref_image r;
    size_t len;
    uint8_t *img = sample_image(&len, &r);
    hc_error err;
    for (size_t l = 0; l < len; l++) {
        hc_status s = open_copy(img, l, &err);
        if (s == HC_OK || !err.msg[0] || !strstr(err.msg, "copy.hyc")) {
            ref_free(&r);
            CHECKF(0, "truncated to %zu of %zu bytes: %s", l, len, err.msg);
        }
    }
    CHECK(open_copy(img, len, &err) == HC_OK);
    /* through the file path too, including the empty file */
    const char *path = join(fresh_dir("trunc"), "t.hyc");
    size_t cuts[3] = {0, 70, len - 1};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(path, "wb");
        int w = f && fwrite(img, 1, cuts[k], f) == cuts[k];
        if (f) fclose(f);
        hc_hyc *h = NULL;
        hc_error_clear(&err);
        hc_status s = hc_hyc_open(path, &h, &err);
        if (!w || s == HC_OK || h || !strstr(err.msg, "t.hyc")) {
            ref_free(&r);
            CHECKF(0, "cut %zu: %s", cuts[k], err.msg);
        }
    }
    ref_free(&r);
    hc_hyc *h = NULL;
    hc_error_clear(&err);
    CHECK(hc_hyc_open(join(fresh_dir("trunc"), "missing.hyc"), &h, &err) == HC_E_IO && strstr(err.msg, "missing.hyc"));
}

TEST(hyc_every_header_directory_trailer_flip_refused) {
    ref_image r;
    size_t len;
    uint8_t *img = sample_image(&len, &r);
    const uint8_t masks[3] = {0x01, 0x80, 0xFF};
    hc_error err;
    for (size_t i = 0; i < len; i++) {
        if (i >= 64 && i < r.dir_off) continue; /* payload area: below */
        for (int m = 0; m < 3; m++) {
            img[i] ^= masks[m];
            hc_status s = open_copy(img, len, &err);
            img[i] ^= masks[m];
            if (s == HC_OK || !err.msg[0]) {
                ref_free(&r);
                CHECKF(0, "flip 0x%02x at byte %zu accepted", masks[m], i);
            }
        }
    }
    /* A payload flip opens (payloads are checked on use) but is caught by
     * hc_hyc_payload and hc_hyc_verify, naming the tensor. */
    tt t[NS];
    sample(t);
    for (size_t k = 0; k < NS; k++)
        for (uint64_t b = 0; b < t[k].size; b++) {
            uint8_t *at = img + r.payload_off[k] + b;
            *at ^= 0x04;
            hc_hyc *h;
            hc_error_clear(&err);
            int ok = hc_hyc_open_mem(img, len, "flip.hyc", &h, &err) == HC_OK;
            const uint8_t *p = (const uint8_t *)1;
            hc_error e2, e3;
            hc_error_clear(&e2);
            hc_error_clear(&e3);
            if (ok) {
                ok = hc_hyc_payload(h, k, &p, &e2) == HC_E_CORRUPT && p == NULL && strstr(e2.msg, "CRC") &&
                     strstr(e2.msg, t[k].name) && hc_hyc_verify(h, &e3) == HC_E_CORRUPT && strstr(e3.msg, "CRC") &&
                     strstr(e3.msg, t[k].name) && hc_hyc_payload(h, (k + 1) % NS, &p, &err) == HC_OK;
                hc_hyc_close(h);
            }
            *at ^= 0x04;
            if (!ok) {
                ref_free(&r);
                CHECKF(0, "payload flip in '%s' byte %llu: %.400s | %.400s", t[k].name, (unsigned long long)b, e2.msg, e3.msg);
            }
        }
    ref_free(&r);
}

typedef struct patch {
    const char *what;
    uint64_t at;        /* file offset */
    int width;          /* 1, 2, 4 or 8 bytes */
    uint64_t value;
    hc_status code;     /* expected */
    const char *says;   /* expected in the message, or NULL */
} patch;

static void put_n(uint8_t *p, int width, uint64_t v) {
    if (width == 1) p[0] = (uint8_t)v;
    else if (width == 2) hc_put_u16(p, (uint16_t)v);
    else if (width == 4) hc_put_u32(p, (uint32_t)v);
    else hc_put_u64(p, v);
}

/* Fields patched to hostile values with every CRC recomputed, so each must
 * be caught by a validation rule, not by a checksum. */
TEST(hyc_hostile_fields_refused_by_validation) {
    ref_image r;
    size_t len;
    uint8_t *img = sample_image(&len, &r);
    const uint64_t D = r.dir_off, DS = r.dir_size, *E = r.entry_pos, *P = r.payload_off;
    const hc_status C = HC_E_CORRUPT;
    const patch cases[] = {
        {"header size 60", 12, 4, 60, C, "header size"},
        {"header size 65544", 12, 4, 65544, C, "header size"},
        {"header size past end", 12, 4, 65536, C, NULL},
        {"alignment 0", 52, 4, 0, C, "alignment"},
        {"alignment 48", 52, 4, 48, C, "alignment"},
        {"alignment 2^25", 52, 4, 1u << 25, C, "alignment"},
        {"alignment 128 misaligns payloads", 52, 4, 128, C, "multiple"},
        {"reserved header field", 56, 4, 1, C, "reserved"},
        {"incompat flag", 16, 4, 1, HC_E_UNSUPPORTED, "incompat"},
        {"version 3.0", 8, 2, 3, HC_E_UNSUPPORTED, "newer"}, /* 2.0 is read since attachments */
        {"version 0", 8, 2, 0, C, "version"},
        {"file size +8", 24, 8, len + 8, C, "truncated"},
        {"file size -8", 24, 8, len - 8, C, "trailing"},
        {"dir offset +8", 32, 8, D + 8, C, "misplaced"},
        {"dir offset 0", 32, 8, 0, C, "misplaced"},
        {"dir offset huge", 32, 8, UINT64_MAX - 7, C, "misplaced"},
        {"dir size -8", 40, 8, DS - 8, C, "misplaced"},
        {"dir size huge", 40, 8, UINT64_MAX - 7, C, "misplaced"},
        {"dir header size 0", D + 0, 4, 0, C, "directory header size"},
        {"dir header size 36", D + 0, 4, 36, C, "directory header size"},
        {"dir header size huge", D + 0, 4, 0xFFFFFFF8u, C, "directory header size"},
        {"dir flags", D + 4, 4, 3, C, "flags"},
        {"dir reserved", D + 28, 4, 1, C, "reserved"},
        {"metadata flag off", D + 4, 4, 0, C, "without metadata"},
        {"tensor count 2^62", D + 8, 8, 1ull << 62, C, "claims"},
        {"tensor count max", D + 8, 8, UINT64_MAX, C, "claims"},
        {"tensor count +1", D + 8, 8, NS + 1, C, NULL},
        {"tensor count -1", D + 8, 8, NS - 1, C, "unexpected bytes"},
        {"tensor count 0", D + 8, 8, 0, C, "unexpected bytes"},
        {"metadata length huge", D + 16, 8, UINT64_MAX, C, "metadata"},
        {"metadata length = dir", D + 16, 8, DS, C, "metadata"},
        {"metadata length +1", D + 16, 8, MD_LEN + 1, C, NULL},
        {"writer length 256", D + 24, 4, 256, C, "writer"},
        {"writer length huge", D + 24, 4, UINT32_MAX, C, "writer"},
        {"writer has NUL", D + 32 + MD_LEN, 1, 0, C, "NUL"},
        {"entry size 0", E[1], 4, 0, C, "invalid size"},
        {"entry size 44", E[1], 4, 44, C, "invalid size"},
        {"entry size huge", E[1], 4, 0xFFFFFFF8u, C, "invalid size"},
        {"entry size +8", E[1], 4, hc_get_u32(img + E[1]) + 8, C, NULL},
        {"name length 0", E[1] + 4, 2, 0, C, "name length"},
        {"name length 65535", E[1] + 4, 2, 65535, C, "overrun"},
        {"name has NUL", E[1] + 48 + 3, 1, 0, C, "NUL"},
        {"params length 257", E[6] + 6, 2, 257, C, "parameters"},
        {"dtype 15", E[1] + 10, 1, 15, C, "dtype"},
        {"dtype 255", E[1] + 10, 1, 255, C, "dtype"},
        {"ndim 9", E[2] + 11, 1, 9, C, "dimensions"},
        {"ndim 255", E[2] + 11, 1, 255, C, "dimensions"},
        {"entry flags", E[2] + 12, 4, 1, C, "flags"},
        {"entry reserved", E[2] + 20, 4, 1, C, "reserved"},
        {"shape product overflow", E[2] + 40, 8, 1ull << 62, C, "element count"},
        {"byte size overflow", E[2] + 48, 8, 1ull << 60, C, "byte size"},
        {"offset misaligned", E[2] + 24, 8, P[2] + 8, C, "multiple"},
        {"offset in header", E[2] + 24, 8, 0, C, "outside"},
        {"offset past directory", E[2] + 24, 8, up(D + 1, 64), C, "outside"},
        {"offset huge", E[2] + 24, 8, UINT64_MAX - 63, C, "outside"},
        {"size huge", E[2] + 32, 8, UINT64_MAX, C, "outside"},
        {"size into directory", E[2] + 32, 8, D - P[2] + 8, C, "outside"},
        {"payloads overlap", E[2] + 24, 8, P[0], C, "overlap"},
        {"raw size != nbytes", E[0] + 32, 8, 56, C, "raw"},
        {"raw with parameters", E[0] + 6, 2, 1, C, "raw"},
        {"duplicate name", E[4] + 40, 2, 'b' | ('f' << 8), C, "twice"},
        {"trailer signature", len - 32, 1, 0x88, C, "trailer"},
    };
    hc_error err;
    uint8_t *b = malloc(len);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const patch *c = &cases[k];
        memcpy(b, img, len);
        put_n(b + c->at, c->width, c->value);
        fix_crcs(b, len);
        hc_status s = open_copy(b, len, &err);
        int ok = s == c->code && err.msg[0] && !strstr(err.msg, "CRC") && (!c->says || strstr(err.msg, c->says));
        if (!ok) {
            free(b);
            ref_free(&r);
            CHECKF(0, "%s: got %s: %s", c->what, hc_status_str(s), err.msg);
        }
    }
    /* header and trailer disagreeing, each with a valid CRC */
    memcpy(b, img, len);
    hc_put_u64(b + len - 16, DS + 8);
    hc_put_u32(b + len - 4, hc_crc32c(0, b + len - 32, 28));
    hc_status s = open_copy(b, len, &err);
    free(b);
    /* compatible changes still open: a newer minor version, compat flags */
    uint8_t *g = malloc(len);
    memcpy(g, img, len);
    hc_put_u16(g + 10, 3);
    hc_put_u32(g + 20, 0xFFFFFFFFu);
    fix_crcs(g, len);
    hc_error err2;
    hc_status s2 = open_copy(g, len, &err2);
    free(g);
    ref_free(&r);
    CHECKF(s == HC_E_CORRUPT && strstr(err.msg, "disagree"), "%s", err.msg);
    CHECK_OK(s2, &err2);
}

/* A newer major version is refused by name even when its header layout
 * (and so its CRC position) is unknown. */
TEST(hyc_newer_major_version_message) {
    ref_image r;
    size_t len;
    uint8_t *img = sample_image(&len, &r);
    hc_put_u16(img + 8, 3);
    hc_put_u16(img + 10, 5);
    hc_error err;
    hc_status s = open_copy(img, len, &err);
    hc_status s_short = open_copy(img, 16, &err); /* even a bare header start */
    int named = strstr(err.msg, "3.5") && strstr(err.msg, "newer");
    /* a bit flipped in a version-1 file's major version is damage, not news */
    hc_put_u16(img + 8, 1);
    hc_put_u16(img + 10, 0);
    img[9] ^= 0x40;
    hc_error err2;
    hc_status s_flip = open_copy(img, len, &err2);
    ref_free(&r);
    CHECK(s == HC_E_UNSUPPORTED && s_short == HC_E_UNSUPPORTED);
    CHECKF(named, "%s", err.msg);
    CHECKF(s_flip == HC_E_CORRUPT && strstr(err2.msg, "version field"), "%s", err2.msg);
}
