/* bind.c — the layout-independent interface for language bindings
 * (include/hyperc_bind.h). */
#include "hyperc_bind.h"
#include "../common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t hc_opts_size(void) { return sizeof(hc_opts); }
size_t hc_error_size(void) { return sizeof(hc_error); }
const char *hc_version(void) { return HC_VERSION_STRING; }

static int parse_double(const char *v, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || d != d) return 0;
    *out = d;
    return 1;
}

static int parse_u64(const char *v, uint64_t *out) {
    char *end;
    if (!*v || *v == '-') return 0;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (end == v || *end || errno) return 0;
    *out = (uint64_t)u;
    return 1;
}

hc_status hc_opts_set(hc_opts *o, const char *key, const char *value, hc_error *err) {
    if (!o || !key || !value) return hc_fail(err, HC_E_ARG, "hc_opts_set: NULL argument");
    double d;
    uint64_t u;
    if (!strcmp(key, "preset")) return hc_opts_preset(o, value, err);
    if (!strcmp(key, "codec")) {
        hc_codec_id c;
        if (hc_codec_parse(value, &c)) return hc_fail(err, HC_E_ARG, "unknown codec '%s'", value);
        o->codec = c;
        return HC_OK;
    }
    if (!strcmp(key, "keep")) {
        o->keep = *value ? value : NULL;
        return HC_OK;
    }
    struct { const char *k; double *p; double lo, hi; } dk[] = {
        {"bpw", &o->target_bpw, 0.5, 32},       {"snr", &o->target_snr, 0, 200},
        {"loss_limit", &o->loss_limit, 0, 1e30}, {"rect_l_sigmas", &o->rect_l_sigmas, 0.01, 100},
    };
    for (size_t i = 0; i < sizeof dk / sizeof dk[0]; i++) {
        if (strcmp(key, dk[i].k)) continue;
        if (!parse_double(value, &d) || d < dk[i].lo || d > dk[i].hi)
            return hc_fail(err, HC_E_ARG, "option %s: '%s' is not a number in [%g, %g]", key, value,
                           dk[i].lo, dk[i].hi);
        *dk[i].p = d;
        return HC_OK;
    }
    struct { const char *k; uint32_t *p; uint64_t lo, hi; } uk[] = {
        {"bits", &o->bits, 1, 32},         {"block", &o->block, 1, 1u << 20}, {"dim", &o->dim, 1, 64},
        {"threads", &o->threads, 0, 256},   {"bands", &o->bands_max, 1, 64},
    };
    for (size_t i = 0; i < sizeof uk / sizeof uk[0]; i++) {
        if (strcmp(key, uk[i].k)) continue;
        if (!parse_u64(value, &u) || u < uk[i].lo || u > uk[i].hi)
            return hc_fail(err, HC_E_ARG, "option %s: '%s' is not an integer in [%llu, %llu]", key, value,
                           (unsigned long long)uk[i].lo, (unsigned long long)uk[i].hi);
        *uk[i].p = (uint32_t)u;
        return HC_OK;
    }
    if (!strcmp(key, "min_elems")) {
        if (!parse_u64(value, &u)) return hc_fail(err, HC_E_ARG, "option min_elems: '%s' is not an integer", value);
        o->min_elems = u;
        return HC_OK;
    }
    if (!strcmp(key, "points")) {
        if (!parse_u64(value, &u) || u < 2 || u > (1u << 24))
            return hc_fail(err, HC_E_ARG, "option points: '%s' is not an integer in [2, 16777216]", value);
        o->points[0] = (uint32_t)u;
        o->n_points = 1;
        return HC_OK;
    }
    return hc_fail(err, HC_E_ARG, "unknown option '%s'", key);
}

hc_status hc_hyc_describe(const hc_hyc *h, size_t i, const char **name, int *dtype, uint32_t *ndim,
                          uint64_t *shape, int *codec, uint64_t *payload_size, hc_error *err) {
    if (!h) return hc_fail(err, HC_E_ARG, "hc_hyc_describe: NULL file");
    if (i >= hc_hyc_count(h))
        return hc_fail(err, HC_E_ARG, "tensor index %zu out of range (file has %zu)", i, hc_hyc_count(h));
    const hc_hyc_entry *e = hc_hyc_get(h, i);
    if (name) *name = e->info.name;
    if (dtype) *dtype = (int)e->info.dtype;
    if (ndim) *ndim = e->info.ndim;
    if (shape)
        for (uint32_t k = 0; k < e->info.ndim && k < HC_MAX_DIMS; k++) shape[k] = e->info.shape[k];
    if (codec) *codec = (int)e->codec;
    if (payload_size) *payload_size = e->size;
    return HC_OK;
}

typedef struct {
    const hc_decoder *d;
    float *out;
    uint64_t chunk;
} bind_decode_ctx;

static void bind_decode_chunk(void *ctx, uint64_t i, int tid) {
    (void)tid;
    bind_decode_ctx *c = (bind_decode_ctx *)ctx;
    uint64_t start = i * c->chunk;
    uint64_t count = c->d->n - start < c->chunk ? c->d->n - start : c->chunk;
    c->d->decode(c->d, start, count, c->out + start);
}

static hc_status decode_f32_into(const hc_hyc *h, size_t i, float *out, int threads, hc_error *err) {
    const hc_hyc_entry *e = hc_hyc_get(h, i);
    hc_decoder *d = NULL;
    hc_status s = hc_hyc_decoder(h, i, &d, err);
    if (s) return s;
    if (d->n != e->info.nelem) {
        hc_decoder_free(d);
        return hc_fail(err, HC_E_CORRUPT, "tensor '%s': decoder holds %llu weights, the shape %llu", e->info.name,
                       (unsigned long long)d->n, (unsigned long long)e->info.nelem);
    }
    if (threads <= 0) threads = hc_cpu_count();
    bind_decode_ctx dc = {d, out, 1u << 18};
    hc_parallel_for(threads, (e->info.nelem + dc.chunk - 1) / dc.chunk, bind_decode_chunk, &dc);
    hc_decoder_free(d);
    return HC_OK;
}

hc_status hc_hyc_decode_tensor(const hc_hyc *h, size_t i, void *out, uint64_t out_bytes, int threads,
                               hc_error *err) {
    if (!h || (!out && out_bytes)) return hc_fail(err, HC_E_ARG, "hc_hyc_decode_tensor: NULL argument");
    if (i >= hc_hyc_count(h))
        return hc_fail(err, HC_E_ARG, "tensor index %zu out of range (file has %zu)", i, hc_hyc_count(h));
    const hc_hyc_entry *e = hc_hyc_get(h, i);
    if (out_bytes != e->info.nbytes)
        return hc_fail(err, HC_E_ARG, "tensor '%s': buffer of %llu bytes, tensor has %llu", e->info.name,
                       (unsigned long long)out_bytes, (unsigned long long)e->info.nbytes);
    if (e->codec == HC_CODEC_RAW) {
        const uint8_t *p;
        hc_status s = hc_hyc_payload(h, i, &p, err);
        if (s) return s;
        if (e->size != e->info.nbytes)
            return hc_fail(err, HC_E_CORRUPT, "tensor '%s': lossless payload of %llu bytes, tensor has %llu",
                           e->info.name, (unsigned long long)e->size, (unsigned long long)e->info.nbytes);
        if (out_bytes) memcpy(out, p, (size_t)out_bytes);
        return HC_OK;
    }
    if (!hc_dtype_is_codable(e->info.dtype))
        return hc_fail(err, HC_E_CORRUPT, "tensor '%s': codec %s on dtype %s", e->info.name,
                       hc_codec_name(e->codec), hc_dtype_name(e->info.dtype));
    if (e->info.dtype == HC_F32) return decode_f32_into(h, i, (float *)out, threads, err);
    uint64_t bytes;
    if (!hc_mul_ok(e->info.nelem, 4, &bytes) || (uint64_t)(size_t)bytes != bytes)
        return hc_fail(err, HC_E_LIMIT, "tensor '%s' too large", e->info.name);
    float *buf = malloc(bytes ? (size_t)bytes : 1);
    if (!buf)
        return hc_fail(err, HC_E_NOMEM, "tensor '%s': cannot allocate %llu bytes", e->info.name,
                       (unsigned long long)bytes);
    hc_status s = decode_f32_into(h, i, buf, threads, err);
    if (s == HC_OK) hc_from_f32(e->info.dtype, buf, out, e->info.nelem);
    free(buf);
    return s;
}

hc_status hc_hyc_decode_f32(const hc_hyc *h, size_t i, float *out, uint64_t out_elems, int threads,
                            hc_error *err) {
    if (!h || (!out && out_elems)) return hc_fail(err, HC_E_ARG, "hc_hyc_decode_f32: NULL argument");
    if (i >= hc_hyc_count(h))
        return hc_fail(err, HC_E_ARG, "tensor index %zu out of range (file has %zu)", i, hc_hyc_count(h));
    const hc_hyc_entry *e = hc_hyc_get(h, i);
    if (!hc_dtype_is_codable(e->info.dtype))
        return hc_fail(err, HC_E_ARG, "tensor '%s' is %s, not a float tensor", e->info.name,
                       hc_dtype_name(e->info.dtype));
    if (out_elems != e->info.nelem)
        return hc_fail(err, HC_E_ARG, "tensor '%s': buffer of %llu floats, tensor has %llu", e->info.name,
                       (unsigned long long)out_elems, (unsigned long long)e->info.nelem);
    if (e->codec != HC_CODEC_RAW) return decode_f32_into(h, i, out, threads, err);
    const uint8_t *p;
    hc_status s = hc_hyc_payload(h, i, &p, err);
    if (s) return s;
    if (e->size != e->info.nbytes)
        return hc_fail(err, HC_E_CORRUPT, "tensor '%s': lossless payload of %llu bytes, tensor has %llu",
                       e->info.name, (unsigned long long)e->size, (unsigned long long)e->info.nbytes);
    hc_to_f32(e->info.dtype, p, out, e->info.nelem);
    return HC_OK;
}

typedef struct {
    const hc_decoder *d;
    uint64_t rows, cols, batch, chunk;
    const float *X;
    float *Y;
} bind_mm_ctx;

static void bind_mm_chunk(void *ctx, uint64_t i, int tid) {
    bind_mm_ctx *c = (bind_mm_ctx *)ctx;
    (void)tid;
    uint64_t r0 = i * c->chunk, r1 = r0 + c->chunk < c->rows ? r0 + c->chunk : c->rows;
    for (uint64_t b = 0; b < c->batch; b++) hc_matvec(c->d, c->cols, r0, r1, c->X + b * c->cols, c->Y + b * c->rows + r0);
}

hc_status hc_decoder_matmul(const hc_decoder *d, uint64_t rows, uint64_t cols, const float *X,
                            uint64_t batch, float *Y, int threads, hc_error *err) {
    uint64_t n;
    if (!d || ((!X || !Y) && batch)) return hc_fail(err, HC_E_ARG, "hc_decoder_matmul: NULL argument");
    if (!rows || !cols || !hc_mul_ok(rows, cols, &n) || n != d->n)
        return hc_fail(err, HC_E_ARG, "hc_decoder_matmul: %llu x %llu does not match the tensor's %llu weights",
                       (unsigned long long)rows, (unsigned long long)cols, (unsigned long long)d->n);
    if (!batch) return HC_OK;
    if (threads <= 0) threads = hc_cpu_count();
    if (threads > 256) threads = 256;
    /* about 64K weights per work item, whole rows, at least 8 rows */
    uint64_t chunk = (65536 + cols - 1) / cols;
    if (chunk < 8) chunk = 8;
    if (chunk > rows) chunk = rows;
    uint64_t items = (rows + chunk - 1) / chunk;
    if ((uint64_t)threads > items) threads = (int)items;
    bind_mm_ctx c = {d, rows, cols, batch, chunk, X, Y};
    hc_parallel_for(threads, items, bind_mm_chunk, &c);
    return HC_OK;
}

void hc_tensor_report_get(const hc_tensor_report *r, const char **name, int *codec, double *bpw,
                          double *nmse, double *max_abs_err, uint64_t *bytes_in, uint64_t *bytes_out,
                          double *seconds, const char **note) {
    if (!r) return;
    if (name) *name = r->info ? r->info->name : "";
    if (codec) *codec = (int)r->codec;
    if (bpw) *bpw = r->bpw;
    if (nmse) *nmse = r->nmse;
    if (max_abs_err) *max_abs_err = r->max_abs_err;
    if (bytes_in) *bytes_in = r->bytes_in;
    if (bytes_out) *bytes_out = r->bytes_out;
    if (seconds) *seconds = r->seconds;
    if (note) *note = r->note ? r->note : "";
}
