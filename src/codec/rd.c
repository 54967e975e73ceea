/* rd.c — rate–distortion measurement (rd.h): settings parser, the built-in
 * list of settings, and the measurement of one model under one setting. */
#include "rd.h"
#include "codec.h"
#include "options.h"
#include "../common/util.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* ===================================================================== */
/* The built-in settings                                                  */
/* ===================================================================== */

const char *const hc_rd_default_settings[] = {
    /* the paper codec: its presets, and codebook sizes n at the automatic L
     * (index bits 9, 11, 13 with 3 bands: 4.5, 5.5, 6.5 bits per weight) */
    "paper:preset=paper-llm",
    "paper:preset=paper-vision",
    "paper:n=64",
    "paper:n=256",
    "paper:n=1600",
    /* scalar baselines */
    "q8b",
    "q4b",
    "qkm:bits=3",
    "qkm:bits=4",
    "qkm:bits=5",
    "qkm:bits=6",
    /* the hyperfunction lattice codec */
    /* the hyperfunction lattice codec (the default): m index bits per group
     * of 4 weights + a 6-bit scale per 32, i.e. m/4 + 0.1875 bits per weight */
    "hlat:bits=9",
    "hlat:bits=10",
    "hlat:bits=11",
    "hlat:bits=12",
    "hlat:bits=13",
    "hlat:bits=14",
    "hlat:bits=15",
    "hlat:bits=16",
    "hlat:bits=17",
    "hlat:bits=18",
    "hlat:bits=19",
    "hlat:bits=20",
    "hlat:bits=21",
    "hlat:bits=22",
    "hlat:bits=23",
    "hlat:bits=24",
    "hlat:bits=25",
    "hlat:bits=26",
    "hlat:bits=27",
    "hlat:bits=28",
    "hlat:bits=29",
    "hlat:bits=30",
    NULL,
};

/* ===================================================================== */
/* Settings parser                                                        */
/* ===================================================================== */

static hc_status resolve_codec(const char *set, const char *name, hc_codec_id *id, hc_error *err) {
    if (hc_codec_parse(name, id) == 0) return HC_OK;
    for (int i = 0; i < HC_CODEC_COUNT; i++)
        if (strcmp(hc_codec_name((hc_codec_id)i), name) == 0)
            return hc_fail(err, HC_E_UNSUPPORTED, "setting '%s': codec '%s' is not available in this build", set,
                           name);
    char known[256] = "";
    for (int i = 0; i < HC_CODEC_COUNT; i++)
        if (hc_codec_get((hc_codec_id)i)) {
            size_t l = strlen(known);
            snprintf(known + l, sizeof known - l, "%s%s", l ? ", " : "", hc_codec_name((hc_codec_id)i));
        }
    return hc_fail(err, HC_E_ARG, "setting '%s': unknown codec '%s' (known: %s)", set, name, known);
}

hc_status hc_rd_parse_setting(const char *text, int probe, hc_rd_setting *out, hc_error *err) {
    memset(out, 0, sizeof *out);
    if (!text || !*text) return hc_fail(err, HC_E_ARG, "empty codec setting");
    size_t len = strlen(text);
    if (len >= HC_RD_SETTING_MAX)
        return hc_fail(err, HC_E_ARG, "codec setting of %zu characters (at most %d)", len, HC_RD_SETTING_MAX - 1);
    memcpy(out->text, text, len + 1);
    char buf[HC_RD_SETTING_MAX];
    memcpy(buf, text, len + 1);

    char *colon = strchr(buf, ':');
    char *list = NULL;
    if (colon) {
        *colon = 0;
        list = colon + 1;
        if (!*list) return hc_fail(err, HC_E_ARG, "setting '%s': nothing after ':'", text);
    }
    hc_codec_id id;
    hc_status s = resolve_codec(text, buf, &id, err);
    if (s) return s;

    /* split into key=value items; check their shape first */
    char *keys[64], *vals[64];
    int nitems = 0;
    if (list) {
        for (char *p = list;;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            char *eq = strchr(p, '=');
            if (!eq || eq == p || !eq[1])
                return hc_fail(err, HC_E_ARG, "setting '%s': '%s' is not key=value", text, p);
            if (nitems == 64) return hc_fail(err, HC_E_ARG, "setting '%s': too many items", text);
            *eq = 0;
            keys[nitems] = p;
            vals[nitems++] = eq + 1;
            if (!comma) break;
            p = comma + 1;
        }
    }
    /* the option table's rules (options.h): a preset gives defaults that the
     * other keys override, wherever it is written */
    hc_optset set;
    hc_optset_init(&set, 1);
    set.min_elems = HC_RD_MIN_ELEMS; /* the protocol's, not the tool's default */
    set.codec_set = 1;
    set.codec = id;
    for (int i = 0; i < nitems; i++) {
        s = hc_optset_add(&set, keys[i], vals[i], err);
        if (s == HC_E_UNSUPPORTED) {
            char known[256];
            return hc_fail(err, HC_E_ARG, "setting '%s': unknown key '%s' (known: %s)", text, keys[i],
                           hc_opt_rd_keys(known, sizeof known));
        }
        if (s) return hc_error_context(err, s, "setting '%s'", text);
    }
    if ((s = hc_optset_finish(&set, &out->opts, err))) return hc_error_context(err, s, "setting '%s'", text);
    if (probe && (s = hc_opts_probe(&out->opts, err)))
        return hc_error_context(err, s, "setting '%s' refused by the codec", text);
    return HC_OK;
}

/* ===================================================================== */
/* Measurement                                                            */
/* ===================================================================== */

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

/* Encodes tensor i, decodes it back and measures its NMSE. */
static hc_status rd_one(const rd_ctx *cx, size_t i, rd_tensor *r) {
    const hc_tensor_info *ti = hc_st_info(cx->st, i);
    uint64_t n = ti->nelem;
    float *w = malloc(n * sizeof *w), *buf = malloc(4096 * sizeof *buf);
    if (!w || !buf) {
        free(w);
        free(buf);
        return hc_fail(&r->err, HC_E_NOMEM, "cannot allocate %llu floats", (unsigned long long)n);
    }
    hc_to_f32(ti->dtype, hc_st_data(cx->st, i), w, n);
    hc_encoded e;
    hc_opts oc = *cx->o; /* the row length, as hc_encode_tensor passes it */
    if (ti->ndim >= 2 && ti->shape[0] > 0) oc.cols = n / ti->shape[0];
    hc_status s = hc_encode(w, n, &oc, &e, &r->err);
    if (s == HC_OK && e.codec == HC_CODEC_RAW) {
        /* the codec chose lossless: the original bytes are stored */
        r->kept_raw = 1;
        r->payload = ti->nbytes;
        r->params_len = 0;
        r->nmse = 0;
    } else if (s == HC_OK) {
        r->payload = e.payload_len;
        r->params_len = e.params_len;
        hc_decoder *d;
        s = hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &r->err);
        if (s == HC_OK) {
            double se = 0, ss = 0;
            for (uint64_t a = 0; a < n; a += 4096) {
                uint64_t k = n - a < 4096 ? n - a : 4096;
                d->decode(d, a, k, buf);
                for (uint64_t j = 0; j < k; j++) {
                    double diff = (double)buf[j] - (double)w[a + j];
                    se += diff * diff;
                    ss += (double)w[a + j] * w[a + j];
                }
            }
            hc_decoder_free(d);
            /* an all-zero tensor: exact or entirely wrong */
            r->nmse = ss > 0 ? se / ss : (se > 0 ? 1.0 : 0.0);
        }
    }
    hc_encoded_free(&e);
    free(w);
    free(buf);
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
