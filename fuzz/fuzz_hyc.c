/* fuzz_hyc.c — libFuzzer harness for the .hyc reader (src/io/hyc.c) and,
 * through hc_hyc_decoder, every codec's payload validation and decoding.
 *
 * Each input is opened as a whole container image held in an exact-size,
 * 64-byte-aligned buffer (so AddressSanitizer sees any over-read and codecs
 * see the alignment a mapped file gives). An accepted file must keep the
 * reader's promises: payloads inside the file, names found by hc_hyc_find,
 * decoders of the stated length; a refusal must say why. Any broken promise
 * aborts.
 *
 * Build the library with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: the
 * reader then ignores CRC mismatches, so mutations reach the checks behind
 * them (crashes found that way must be replayed with the same flag).
 *
 * Built with -DHC_FUZZ_MAIN it has its own main() instead of libFuzzer's:
 *   fuzz_hyc FILE...        replays files (a corpus, a crash reproducer)
 *   fuzz_hyc --seeds DIR    writes small valid containers to start a corpus */
#include "hyperc.h"
#include "../src/codec/codec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes a few windows of tensor i and, for matrices, a couple of rows. */
static void use_decoder(const hc_hyc_entry *e, const hc_decoder *d) {
    if (d->n != e->info.nelem) abort();
    float buf[256];
    uint64_t k = d->n < 256 ? d->n : 256;
    if (k) {
        d->decode(d, 0, k, buf);
        d->decode(d, d->n - k, k, buf);
        d->decode(d, (d->n - k) / 2, k, buf);
    }
    if (e->info.ndim >= 2) {
        uint64_t cols = e->info.shape[e->info.ndim - 1];
        if (cols && cols <= 4096 && d->n % cols == 0) {
            uint64_t rows = d->n / cols, r1 = rows < 2 ? rows : 2;
            float *x = malloc((size_t)cols * sizeof *x), y[2];
            if (!x) abort();
            for (uint64_t c = 0; c < cols; c++) x[c] = (float)(c % 7) - 3.0f;
            hc_matvec(d, cols, 0, r1, x, y);
            free(x);
        }
    }
}

static void use_container(const uint8_t *img, size_t len) {
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h = NULL;
    if (hc_hyc_open_mem(img, len, "fuzz.hyc", &h, &err) != HC_OK) {
        if (h || !err.msg[0]) abort();
        return;
    }
    if (hc_hyc_file_size(h) != len) abort();
    size_t mdlen = 0;
    const char *md = hc_hyc_metadata(h, &mdlen);
    if (md && (mdlen > len || md[mdlen] != 0)) abort();
    if (!md && mdlen) abort();
    size_t n = hc_hyc_count(h);
    if (hc_hyc_get(h, n) != NULL) abort();
    for (size_t i = 0; i < n; i++) {
        const hc_hyc_entry *e = hc_hyc_get(h, i);
        if (!e || e->offset > len || e->size > len - e->offset || e->params_len > HC_MAX_PARAMS ||
            e->info.ndim > HC_MAX_DIMS || (unsigned)e->info.dtype >= HC_DTYPE_COUNT)
            abort();
        size_t nl = strlen(e->info.name);
        if (nl == 0 || nl >= HC_MAX_NAME || hc_hyc_find(h, e->info.name) != (long)i) abort();
        const uint8_t *p = NULL;
        hc_error_clear(&err);
        if (hc_hyc_payload(h, i, &p, &err) != HC_OK) {
            if (p || !err.msg[0]) abort();
            continue;
        }
        if (p != img + e->offset) abort();
        hc_decoder *d = NULL;
        hc_error_clear(&err);
        if (hc_hyc_decoder(h, i, &d, &err) != HC_OK) {
            if (d || !err.msg[0]) abort();
            continue;
        }
        use_decoder(e, d);
        hc_decoder_free(d);
    }
    /* 2.0 attachments and shards: data inside the file, names findable,
     * shards covering the directory in order */
    for (size_t i = 0; i < hc_hyc_attachment_count(h); i++) {
        const hc_hyc_attachment *a = hc_hyc_attachment_get(h, i);
        if (!a || a->size > len || hc_hyc_attachment_find(h, a->name) != (long)i) abort();
        const uint8_t *p = NULL;
        hc_error_clear(&err);
        if (hc_hyc_attachment_data(h, i, &p, &err) != HC_OK) {
            if (p || !err.msg[0]) abort();
        } else if (p < img || (size_t)(p - img) > len - a->size) {
            abort();
        }
    }
    size_t next = 0;
    for (size_t k = 0; k < hc_hyc_shard_count(h); k++) {
        const hc_hyc_shard *sh = hc_hyc_shard_get(h, k);
        if (!sh || sh->first != next || sh->count > n - next) abort();
        if (sh->metadata && ((const uint8_t *)sh->metadata < img || sh->metadata_len > len)) abort();
        next += sh->count;
    }
    if (hc_hyc_shard_count(h) && next != n) abort();
    hc_error_clear(&err);
    if (hc_hyc_verify(h, &err) != HC_OK && !err.msg[0]) abort();
    hc_hyc_close(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    void *img = NULL;
    if (posix_memalign(&img, 64, size ? size : 1) != 0) return 0;
    if (size) memcpy(img, data, size);
    use_container(img, size);
    free(img);
    return 0;
}

#ifdef HC_FUZZ_MAIN
/* ---- replay and seed corpus (no libFuzzer) ----------------------------- */

static int add_tensor(hc_hyc_writer *w, const char *name, hc_dtype dt, uint32_t ndim, const uint64_t *shape,
                      hc_codec_id codec, const uint8_t *params, uint32_t params_len, const void *payload,
                      uint64_t size, hc_error *err) {
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, sizeof e.info.name, "%s", name);
    e.info.dtype = dt;
    e.info.ndim = ndim;
    e.info.nelem = 1;
    for (uint32_t k = 0; k < ndim; k++) e.info.nelem *= (e.info.shape[k] = shape[k]);
    e.info.nbytes = e.info.nelem * hc_dtype_size(dt);
    e.codec = codec;
    e.params_len = params_len;
    if (params_len) memcpy(e.params, params, params_len);
    return hc_hyc_writer_add(w, &e, payload, size, err) == HC_OK;
}

/* One container of raw tensors, one per available codec, one empty. */
static int write_seeds(const char *dir) {
    char path[4096];
    hc_error err;
    hc_error_clear(&err);
    hc_hyc_writer *w;
    float f32[32];
    uint16_t half[8];
    for (int i = 0; i < 32; i++) f32[i] = (float)((i * 37) % 19) / 8.0f - 1.0f;
    for (int i = 0; i < 8; i++) half[i] = hc_f32_to_f16(f32[i]);
    const uint64_t s48[2] = {4, 8}, s8[1] = {8}, s24[2] = {2, 4};
    snprintf(path, sizeof path, "%s/seed_raw.hyc", dir);
    if (hc_hyc_writer_open(path, 1, &w, &err) != HC_OK) goto fail;
    if (!add_tensor(w, "w", HC_F32, 2, s48, HC_CODEC_RAW, NULL, 0, f32, sizeof f32, &err) ||
        !add_tensor(w, "h", HC_F16, 1, s8, HC_CODEC_RAW, NULL, 0, half, sizeof half, &err) ||
        !add_tensor(w, "b", HC_BF16, 2, s24, HC_CODEC_RAW, NULL, 0, half, sizeof half, &err) ||
        !add_tensor(w, "i", HC_I64, 0, NULL, HC_CODEC_RAW, NULL, 0, f32, 8, &err)) {
        hc_hyc_writer_abort(w);
        goto fail;
    }
    if (hc_hyc_writer_finish(w, "{\"k\":\"v\"}", 9, &err) != HC_OK) goto fail;

    snprintf(path, sizeof path, "%s/seed_attach.hyc", dir); /* format 2.0 */
    if (hc_hyc_writer_open(path, 1, &w, &err) != HC_OK) goto fail;
    if (hc_hyc_writer_begin_shard(w, "a.safetensors", "{\"format\":\"pt\"}", 15, &err) != HC_OK ||
        !add_tensor(w, "w", HC_F32, 2, s48, HC_CODEC_RAW, NULL, 0, f32, sizeof f32, &err) ||
        hc_hyc_writer_begin_shard(w, "b.safetensors", NULL, 0, &err) != HC_OK ||
        !add_tensor(w, "h", HC_F16, 1, s8, HC_CODEC_RAW, NULL, 0, half, sizeof half, &err) ||
        hc_hyc_writer_attach(w, "config.json", "{\"dim\": 4}", 11, 0, &err) != HC_OK ||
        hc_hyc_writer_attach(w, "tokenizer.bin", "\1\2\3", 3, HC_ATTACH_TOKENIZER, &err) != HC_OK) {
        hc_hyc_writer_abort(w);
        goto fail;
    }
    if (hc_hyc_writer_finish(w, NULL, 0, &err) != HC_OK) goto fail;

    snprintf(path, sizeof path, "%s/seed_empty.hyc", dir);
    if (hc_hyc_writer_open(path, 1, &w, &err) != HC_OK || hc_hyc_writer_finish(w, NULL, 0, &err) != HC_OK)
        goto fail;

    float wts[256];
    for (int i = 0; i < 256; i++) wts[i] = (float)((i * 7919) % 257 - 128) / 1024.0f;
    const uint64_t shape[2] = {8, 32};
    for (int c = 0; c < HC_CODEC_COUNT; c++) {
        if (!hc_codec_get((hc_codec_id)c)) continue;
        hc_opts o;
        hc_opts_default(&o);
        o.codec = (hc_codec_id)c;
        o.min_elems = 0;
        hc_encoded enc;
        hc_error_clear(&err);
        if (hc_encode(wts, 256, &o, &enc, &err) != HC_OK) {
            fprintf(stderr, "seed: codec %s skipped: %s\n", hc_codec_name((hc_codec_id)c), err.msg);
            continue;
        }
        snprintf(path, sizeof path, "%s/seed_%s.hyc", dir, hc_codec_name((hc_codec_id)c));
        int ok = hc_hyc_writer_open(path, 1, &w, &err) == HC_OK;
        if (ok && !add_tensor(w, "layer.weight", HC_F32, 2, shape, enc.codec, enc.params, enc.params_len,
                              enc.payload, enc.payload_len, &err)) {
            hc_hyc_writer_abort(w);
            ok = 0;
        }
        if (ok) ok = hc_hyc_writer_finish(w, NULL, 0, &err) == HC_OK;
        hc_encoded_free(&enc);
        if (!ok) goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "seed: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0) return write_seeds(argv[2]);
    int n = 0;
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", argv[a]);
            return 2;
        }
        size_t cap = 1 << 16, len = 0, got;
        uint8_t *buf = malloc(cap);
        while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
            len += got;
            if (len == cap) {
                uint8_t *nb = realloc(buf, cap *= 2);
                if (!nb) free(buf);
                buf = nb;
            }
        }
        fclose(f);
        if (!buf) return 2;
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        n++;
    }
    printf("replayed %d file(s)\n", n);
    return 0;
}
#endif
