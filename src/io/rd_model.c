/* rd_model.c — rate–distortion measurement of a whole model under one
 * codec setting (rd_model.h): every coded tensor measured in parallel
 * (hc_rd_tensor_measure, src/codec/rd.c) and the .hyc file it would make. */
#include "rd_model.h"
#include "../common/util.h"
#include <math.h>
#include <stdlib.h>

/* The .hyc layout as hyperc writes it (docs/FORMAT.md): a 64-byte header,
 * payloads each starting at a multiple of 64, a directory (32-byte header,
 * metadata, writer string, padding to 8, entries) and a 32-byte trailer. */
enum { HYC_HEADER = 64, HYC_ALIGN = 64, HYC_DIR_HEADER = 32, HYC_TRAILER = 32, HYC_ENTRY_FIXED = 40 };
#define HYC_WRITER "hyperc " HC_VERSION_STRING

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

uint64_t hc_rd_entry_bytes(const hc_tensor_info *ti, uint32_t params_len) {
    size_t name_len = strnlen(ti->name, HC_MAX_NAME);
    return align_up(HYC_ENTRY_FIXED + 8ull * ti->ndim + name_len + params_len, 8);
}

typedef struct rd_tensor {
    int coded;           /* in the coded set                                */
    int kept_raw;        /* the codec kept it lossless                      */
    uint64_t payload;    /* bytes stored as payload                         */
    uint32_t params_len;
    double nmse;
    double encode_s, decode_s;
    hc_status status;
    hc_error err;
} rd_tensor;

typedef struct rd_ctx {
    const hc_safetensors *st;
    const hc_opts *o;
    rd_tensor *t;        /* [count] by tensor index                         */
    size_t *order;       /* [ncoded] coded tensor indices, largest first    */
} rd_ctx;

static int coded_by(const hc_tensor_info *ti, const hc_opts *o) {
    return o->codec != HC_CODEC_RAW && hc_dtype_is_codable(ti->dtype) && ti->nelem >= o->min_elems &&
           ti->nelem >= 2;
}

/* Encodes tensor i, decodes it back and measures its NMSE (codec/rd.c). */
static hc_status rd_one(const rd_ctx *cx, size_t i, rd_tensor *r) {
    const hc_tensor_info *ti = hc_st_info(cx->st, i);
    uint64_t n = ti->nelem;
    float *w = malloc(n * sizeof *w);
    if (!w) return hc_fail(&r->err, HC_E_NOMEM, "cannot allocate %llu floats", (unsigned long long)n);
    hc_to_f32(ti->dtype, hc_st_data(cx->st, i), w, n);
    hc_rd_tensor m;
    hc_opts oc = *cx->o; /* the row length, as hc_encode_tensor passes it */
    if (ti->ndim >= 2 && ti->shape[0] > 0) oc.cols = n / ti->shape[0];
    hc_status s = hc_rd_tensor_measure(w, n, ti->nbytes, &oc, &m, &r->err);
    r->kept_raw = m.kept_raw;
    r->payload = m.payload;
    r->params_len = m.params_len;
    r->nmse = m.nmse;
    r->encode_s = m.encode_s;
    r->decode_s = m.decode_s;
    free(w);
    return s;
}

static void rd_worker(void *p, uint64_t k, int tid) {
    (void)tid;
    const rd_ctx *cx = (const rd_ctx *)p;
    size_t i = cx->order[k];
    rd_tensor *r = &cx->t[i];
    hc_error_clear(&r->err);
    r->status = rd_one(cx, i, r);
}

hc_status hc_rd_measure(const hc_safetensors *st, const char *label, const hc_opts *o, int threads,
                        hc_rd_result *out, hc_error *err) {
    memset(out, 0, sizeof *out);
    double t0 = hc_now();
    size_t count = hc_st_count(st);
    rd_tensor *t = calloc(count ? count : 1, sizeof *t);
    size_t *order = calloc(count ? count : 1, sizeof *order);
    if (!t || !order) {
        free(t);
        free(order);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    }
    size_t ncoded = 0;
    for (size_t i = 0; i < count; i++)
        if ((t[i].coded = coded_by(hc_st_info(st, i), o))) order[ncoded++] = i;
    /* largest first, so that the last tensors handed out are small ones */
    for (size_t a = 1; a < ncoded; a++) {
        size_t v = order[a], b = a;
        while (b > 0 && hc_st_info(st, order[b - 1])->nelem < hc_st_info(st, v)->nelem) {
            order[b] = order[b - 1];
            b--;
        }
        order[b] = v;
    }
    rd_ctx cx = {st, o, t, order};
    if (threads <= 0) threads = hc_cpu_count();
    hc_parallel_for(threads, ncoded, rd_worker, &cx);

    hc_status s = HC_OK;
    double nmse_w = 0;
    uint64_t pos = HYC_HEADER, entries = 0;
    for (size_t i = 0; i < count; i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        rd_tensor *r = &t[i];
        if (r->coded && r->status != HC_OK) {
            if (err) *err = r->err;
            s = hc_error_context(err, r->status, "'%s': tensor '%s' (%s)", label, ti->name, hc_codec_name(o->codec));
            break;
        }
        uint64_t payload = r->coded ? r->payload : ti->nbytes;
        uint32_t params_len = r->coded ? r->params_len : 0;
        uint64_t entry = hc_rd_entry_bytes(ti, params_len);
        pos = align_up(pos, HYC_ALIGN) + payload;
        entries += entry;
        out->weights_total += ti->nelem;
        out->tensors_total++;
        if (!r->coded) continue;
        out->tensors_coded++;
        out->tensors_kept_raw += (size_t)r->kept_raw;
        out->weights_coded += ti->nelem;
        out->bytes_payload += payload + params_len;
        out->bytes_coded += payload + entry;
        nmse_w += r->nmse * (double)ti->nelem;
        out->encode_s += r->encode_s;
        out->decode_s += r->decode_s;
    }
    free(t);
    free(order);
    if (s) return s;
    size_t meta_len = 0;
    hc_st_metadata(st, &meta_len);
    uint64_t dir = align_up(HYC_DIR_HEADER + meta_len + strlen(HYC_WRITER), 8) + entries;
    out->bytes_file = align_up(pos, 8) + dir + HYC_TRAILER;
    if (out->weights_coded) {
        out->bpw_payload = 8.0 * (double)out->bytes_payload / (double)out->weights_coded;
        out->bpw_coded = 8.0 * (double)out->bytes_coded / (double)out->weights_coded;
        out->nmse = nmse_w / (double)out->weights_coded;
    }
    out->bpw_file = out->weights_total ? 8.0 * (double)out->bytes_file / (double)out->weights_total : 0;
    out->snr_db = out->nmse > 0 ? -10.0 * log10(out->nmse) : INFINITY;
    out->seconds = hc_now() - t0;
    return HC_OK;
}
