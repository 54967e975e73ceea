/* test_bitrot.c — every single-bit flip of a small .hyc is refused with a
 * clear error or provably harmless, never decoded into different weights.
 *
 * resnet20 (shared/models) is compressed at the default codec and at
 * --preset paper-llm; then, in memory, every bit of the file is flipped in
 * turn and the image opened through the library (hc_hyc_open_mem):
 *   refused   open fails, or the payload holding the flipped bit is refused
 *             (hc_hyc_payload: CRC-32C), or hc_hyc_verify fails — each with a
 *             message;
 *   harmless  accepted, and the directory (names, shapes, codecs, params,
 *             offsets), metadata and every payload byte equal the
 *             original's: the flip was in the zero padding between payloads
 *             (counted separately if anywhere else);
 *   silent    accepted with anything different: the test fails.
 * For a flip inside payload i, the other payloads are the original's bytes
 * (already verified), so only payload i is fetched; a flip outside every
 * payload gets the full hc_hyc_verify.
 *
 * The full sweep (every bit of both files, 3.58 M flips) takes about 3.5
 * minutes on one core, too long for `make test`: `make bitrot` runs it
 * (HYPERC_BITROT=full). By default every bit of every header, directory,
 * trailer and padding byte is flipped, and every bit of every 17th payload
 * byte (under sanitizers: every bit of the header and trailer, and of every
 * 257th byte elsewhere); HYPERC_BITROT=STRIDE (bytes) picks
 * another stride, HYPERC_BITROT=full all of them. */
#include "test.h"
#include "../src/common/util.h"
#include "hyperc_llm.h"
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define BITROT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BITROT_SANITIZED 1
#endif
#endif
#ifdef BITROT_SANITIZED
#define BITROT_DEFAULT_STRIDE 257 /* and the directory and padding strided too */
#else
#define BITROT_SANITIZED 0
#define BITROT_DEFAULT_STRIDE 17
#endif

typedef struct flip_counts {
    uint64_t tried, refused, harmless_padding, harmless_other, silent, no_message;
} flip_counts;

static int same_as_original(const hc_hyc *a, const hc_hyc *b, const uint8_t *ia, const uint8_t *ib) {
    size_t n = hc_hyc_count(a);
    if (hc_hyc_count(b) != n || hc_hyc_file_size(a) != hc_hyc_file_size(b)) return 0;
    size_t la, lb;
    const char *ma = hc_hyc_metadata(a, &la), *mb = hc_hyc_metadata(b, &lb);
    if ((ma == NULL) != (mb == NULL) || la != lb || (ma && memcmp(ma, mb, la) != 0)) return 0;
    for (size_t i = 0; i < n; i++) {
        const hc_hyc_entry *ea = hc_hyc_get(a, i), *eb = hc_hyc_get(b, i);
        if (strcmp(ea->info.name, eb->info.name) != 0 || ea->info.dtype != eb->info.dtype ||
            ea->info.ndim != eb->info.ndim || ea->info.nelem != eb->info.nelem || ea->codec != eb->codec ||
            ea->params_len != eb->params_len || memcmp(ea->params, eb->params, ea->params_len) != 0 ||
            ea->offset != eb->offset || ea->size != eb->size || ea->crc32c != eb->crc32c)
            return 0;
        for (uint32_t d = 0; d < ea->info.ndim; d++)
            if (ea->info.shape[d] != eb->info.shape[d]) return 0;
        if (memcmp(ia + ea->offset, ib + eb->offset, ea->size) != 0) return 0;
    }
    return 1;
}

static uint64_t stride_from_env(void) {
    const char *e = getenv("HYPERC_BITROT");
    if (!e || !*e) return BITROT_DEFAULT_STRIDE;
    if (strcmp(e, "full") == 0) return 1;
    long v = atol(e);
    return v > 0 ? (uint64_t)v : 1;
}

/* Sweeps the flips of the .hyc file at path; fills c. Returns 0 on setup failure. */
static int sweep(const char *path, uint64_t stride, flip_counts *c, char *why, size_t why_len) {
    memset(c, 0, sizeof *c);
    size_t len;
    uint8_t *orig = hc_test_slurp(path, &len);
    uint8_t *img = orig ? malloc(len) : NULL;
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h0 = NULL;
    if (!img || hc_hyc_open_mem(orig, len, path, &h0, &err) != HC_OK || hc_hyc_verify(h0, &err) != HC_OK) {
        snprintf(why, why_len, "cannot open the original: %.200s", err.msg);
        free(orig);
        free(img);
        if (h0) hc_hyc_close(h0);
        return 0;
    }
    /* owner[b]: index + 1 of the payload holding byte b, 0 outside payloads;
     * gap[b]: 1 for bytes between the end of one payload and the start of the
     * next (the zero padding) */
    size_t n = hc_hyc_count(h0);
    uint32_t *owner = calloc(len, sizeof *owner);
    uint8_t *gap = calloc(len, 1);
    if (!owner || !gap) abort();
    uint64_t first = len, last_end = 0;
    for (size_t i = 0; i < n; i++) {
        const hc_hyc_entry *e = hc_hyc_get(h0, i);
        for (uint64_t b = e->offset; b < e->offset + e->size; b++) owner[b] = (uint32_t)i + 1;
        if (e->offset < first) first = e->offset;
        if (e->offset + e->size > last_end) last_end = e->offset + e->size;
    }
    for (uint64_t b = first; b < last_end; b++) gap[b] = owner[b] == 0;
    memcpy(img, orig, len);
    for (uint64_t byte = 0; byte < len; byte++) {
        if (stride > 1 && byte % stride != 0) {
            if (owner[byte]) continue;
            /* sanitizer builds: the header and trailer whole, the rest strided */
            if (BITROT_SANITIZED && stride == BITROT_DEFAULT_STRIDE && byte >= 64 && byte + 32 < len) continue;
        }
        for (int bit = 0; bit < 8; bit++) {
            img[byte] ^= (uint8_t)(1u << bit);
            c->tried++;
            hc_hyc *h = NULL;
            hc_error_clear(&err);
            int refused = 0;
            if (hc_hyc_open_mem(img, len, "flip.hyc", &h, &err) != HC_OK) {
                refused = 1;
            } else if (owner[byte]) {
                const uint8_t *p;
                if (hc_hyc_payload(h, owner[byte] - 1, &p, &err) != HC_OK) refused = 1;
            } else if (hc_hyc_verify(h, &err) != HC_OK) {
                refused = 1;
            }
            if (refused) {
                c->refused++;
                if (!err.msg[0]) c->no_message++;
            } else if (same_as_original(h0, h, orig, img)) {
                if (gap[byte]) c->harmless_padding++;
                else c->harmless_other++;
            } else {
                if (c->silent == 0) snprintf(why, why_len, "first silent flip: byte %llu bit %d",
                                             (unsigned long long)byte, bit);
                c->silent++;
            }
            if (h) hc_hyc_close(h);
            img[byte] ^= (uint8_t)(1u << bit);
        }
    }
    hc_hyc_close(h0);
    free(owner);
    free(gap);
    free(orig);
    free(img);
    return 1;
}

static void bitrot_model(const char *preset, const char *file) {
    const char *in = hc_test_shared("models/resnet20.safetensors");
    if (!in) return;
    char out[512];
    snprintf(out, sizeof out, "%s/%s", hc_test_tmpdir(), file);
    hc_opts o;
    hc_opts_default(&o);
    hc_error err;
    hc_error_clear(&err);
    if (preset) CHECK_OK(hc_opts_preset(&o, preset, &err), &err);
    CHECK_OK(hc_compress_file(in, out, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    uint64_t stride = stride_from_env();
    flip_counts c;
    char why[256] = "";
    double t0 = hc_now();
    CHECKF(sweep(out, stride, &c, why, sizeof why), "%s", why);
    printf("    bitrot %s (%s): %llu flips tried%s, %llu refused, %llu harmless (zero padding), %llu harmless "
           "(elsewhere), %llu silent; %.1f s\n",
           file, preset ? preset : "default codec", (unsigned long long)c.tried,
           stride > 1 ? " (payload bytes strided)" : " (every bit)", (unsigned long long)c.refused,
           (unsigned long long)c.harmless_padding, (unsigned long long)c.harmless_other,
           (unsigned long long)c.silent, hc_now() - t0);
    CHECKF(c.silent == 0, "%llu flips decoded into something else (%s)", (unsigned long long)c.silent, why);
    CHECKF(c.no_message == 0, "%llu refusals without a message", (unsigned long long)c.no_message);
    CHECKF(c.harmless_other == 0, "%llu accepted flips outside the padding", (unsigned long long)c.harmless_other);
    CHECK(c.refused > 0 && c.tried == c.refused + c.harmless_padding);
}

TEST(bitrot_resnet20_default) { bitrot_model(NULL, "bitrot_r20.hyc"); }
TEST(bitrot_resnet20_paper_llm) { bitrot_model("paper-llm", "bitrot_r20_paper.hyc"); }

/* Inference loads weights through the CRC check: a flipped bit in a layer's
 * payload makes hc_llm_open (generate, perplexity) refuse the model. */
TEST(bitrot_llm_open_checks_payload_crc) {
    const char *in = hc_test_shared("models/stories260K.safetensors");
    if (!in) return;
    char out[512], bad[512];
    snprintf(out, sizeof out, "%s/bitrot_s260.hyc", hc_test_tmpdir());
    snprintf(bad, sizeof bad, "%s/bitrot_s260_flip.hyc", hc_test_tmpdir());
    hc_opts o;
    hc_opts_default(&o);
    hc_error err;
    hc_error_clear(&err);
    CHECK_OK(hc_compress_file(in, out, &o, 1, 1, NULL, NULL, NULL, &err), &err);
    hc_llm_model *m = NULL;
    CHECK_OK(hc_llm_open(out, NULL, &m, &err), &err);
    hc_llm_free(m);
    size_t len;
    uint8_t *img = hc_test_slurp(out, &len);
    CHECK(img);
    hc_hyc *h = NULL;
    CHECK_OK(hc_hyc_open_mem(img, len, out, &h, &err), &err);
    long i = hc_hyc_find(h, "layers.2.feed_forward.w2.weight");
    CHECK(i >= 0);
    const hc_hyc_entry *e = hc_hyc_get(h, (size_t)i);
    uint64_t at = e->offset + e->size / 2;
    hc_hyc_close(h);
    img[at] ^= 0x10;
    FILE *f = fopen(bad, "wb");
    CHECK(f && fwrite(img, 1, len, f) == len && fclose(f) == 0);
    free(img);
    m = NULL;
    hc_error_clear(&err);
    hc_status s = hc_llm_open(bad, NULL, &m, &err);
    CHECKF(s != HC_OK && m == NULL, "a model with a flipped payload bit was loaded");
    CHECKF(strstr(err.msg, "CRC") && strstr(err.msg, "layers.2.feed_forward.w2.weight"), "message: %s", err.msg);
}
