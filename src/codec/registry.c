/* registry.c — the table of codecs, the default options and presets, and
 * the generic entry points that dispatch through the codec tables. */
#include "codec.h"
#include "sparse.h"
#include "../common/util.h"
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The registry: one line per codec, in id order; the table X names is
 * defined in the codec's own file (codec.h says what it holds). */
#define HC_CODEC_LIST(X)                                                                                         \
    X(hc_codec_raw_vt)   /* raw.c    */                                                                          \
    X(hc_codec_paper_vt) /* paper.c  */                                                                          \
    X(hc_codec_q8b_vt)   /* blockq.c */                                                                          \
    X(hc_codec_q4b_vt)   /* blockq.c */                                                                          \
    X(hc_codec_qkm_vt)   /* qkm.c    */                                                                          \
    X(hc_codec_hlat_vt)  /* hlat.c   */                                                                          \
    X(hc_codec_trellis_vt) /* trellis.c */                                                                       \
    X(hc_codec_sparse_vt) /* sparse.c */

#define HC_CODEC_DECLARE(vt) extern const hc_codec_vt vt;
#define HC_CODEC_ENTRY(vt) &vt,
HC_CODEC_LIST(HC_CODEC_DECLARE)
static const hc_codec_vt *const registry[] = {HC_CODEC_LIST(HC_CODEC_ENTRY)};
#define N_REGISTERED (sizeof registry / sizeof registry[0])

const hc_codec_vt *hc_codec_get(hc_codec_id id) {
    for (size_t i = 0; i < N_REGISTERED; i++)
        if (registry[i]->id == id) return registry[i];
    return NULL;
}

const hc_codec_vt *hc_codec_at(size_t i) { return i < N_REGISTERED ? registry[i] : NULL; }

const char *hc_codec_name(hc_codec_id c) {
    const hc_codec_vt *vt = hc_codec_get(c);
    return vt && vt->name ? vt->name : "?";
}

hc_status hc_codec_parse(const char *name, hc_codec_id *out) {
    for (size_t i = 0; i < N_REGISTERED; i++)
        if (registry[i]->name && strcmp(registry[i]->name, name) == 0) {
            *out = registry[i]->id;
            return HC_OK;
        }
    return HC_E_ARG;
}

hc_codec_id hc_codec_default(void) {
    hc_opts o;
    hc_opts_default(&o);
    return o.codec;
}

size_t hc_codec_ladder(const hc_opts *base, hc_opts *out, size_t max) {
    const hc_codec_vt *vt = hc_codec_get(base->codec);
    if (vt && vt->ladder) return vt->ladder(base, out, max);
    if (!max) return 0;
    out[0] = *base;
    return 1;
}

void hc_codec_probe_setting(const hc_opts *o, hc_opts *probe) {
    *probe = *o;
    probe->target_bpw = probe->target_snr = 0;
    const hc_codec_vt *vt = hc_codec_get(o->codec);
    if (vt && vt->probe_setting) vt->probe_setting(probe);
}

void hc_opts_default(hc_opts *o) {
    memset(o, 0, sizeof *o);
    o->codec = HC_CODEC_HLAT;
    o->rect_l = 0;         /* derived from the spread of each tensor */
    o->rect_l_sigmas = 3.5; /* best mean NMSE on the shared models (docs/ALGORITHM.md) */
    o->points[0] = 1600;
    o->n_points = 1;
    o->bands_max = 3;
    o->loss_target = 0;    /* relative targets are not used by default */
    o->loss_max = 0;
    o->loss_limit = 0;
    o->bits = 0;  /* 0: the codec's own default (qkm 4 bits/weight, hlat 5*dim+1 bits/group) */
    o->block = 0; /* 0: the codec's own default (32) */
    o->dim = 0;   /* 0: the codec's own default (hlat: 4) */
    o->min_elems = 1024; /* smaller tensors (norms, biases) stay lossless */
}

int hc_opts_codes_tensor(const hc_opts *o, const hc_tensor_info *ti) {
    if (o->codec == HC_CODEC_RAW || !hc_dtype_is_codable(ti->dtype) || ti->nelem < o->min_elems || ti->nelem < 2)
        return 0;
    if (strncmp(ti->name, "freq_cis_", 9) == 0) return 0; /* llama2.c's RoPE tables: not weights, kept exact */
    for (const char *p = o->keep; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char pat[512];
        if (len > 0 && len < sizeof pat) {
            memcpy(pat, p, len);
            pat[len] = 0;
            if (fnmatch(pat, ti->name, 0) == 0) return 0;
        }
        p = end ? end + 1 : p + len;
    }
    return 1;
}

/* "default", or a codec's preset (hc_codec_vt.presets); o is left as it
 * was for an unknown name. */
hc_status hc_opts_preset(hc_opts *o, const char *name, hc_error *err) {
    if (strcmp(name, "default") == 0) {
        hc_opts_default(o);
        return HC_OK;
    }
    char known[256] = "default";
    for (size_t i = 0; i < N_REGISTERED; i++)
        for (const hc_codec_preset *p = registry[i]->presets; p && p->name; p++) {
            if (strcmp(name, p->name) == 0) {
                hc_opts_default(o);
                o->codec = registry[i]->id;
                p->apply(o);
                return HC_OK;
            }
            size_t l = strlen(known);
            snprintf(known + l, sizeof known - l, ", %s", p->name);
        }
    return hc_fail(err, HC_E_ARG, "unknown preset '%s' (known: %s)", name, known);
}

void hc_encoded_free(hc_encoded *e) {
    if (!e) return;
    free(e->payload);
    e->payload = NULL;
    e->payload_len = 0;
}

double hc_encoded_bpw(const hc_encoded *e, uint64_t n) {
    if (n == 0) return 0;
    return 8.0 * (double)(e->payload_len + e->params_len) / (double)n;
}

hc_status hc_encode_lossless(const float *w, uint64_t n, hc_encoded *out, hc_error *err, const char *fmt, ...) {
    hc_encoded_free(out);
    hc_status s = hc_codec_raw_vt.encode(w, n, NULL, out, err);
    if (s) return s;
    out->out_nmse = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->note, sizeof out->note, fmt, ap);
    va_end(ap);
    return HC_OK;
}

uint64_t hc_first_nonfinite(const float *w, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(w[i])) return i;
    return n;
}

/* Weights whose largest magnitude lies outside [2^-MAG_LO, 2^MAG_HI) get
 * the magnitude check below; every codec is at home inside. */
#define MAG_LO 8
#define MAG_HI 8
#define MAG_SLACK_DB 0.5 /* quality a magnitude may cost before a tensor is kept lossless */

static double nmse_of(const hc_encoded *e, uint64_t n) {
    return e->sum_sq > 0 ? e->mse * (double)n / e->sum_sq : 0;
}

/* A setting promises the quality it reaches on the same tensor at a plain
 * magnitude: a codec whose stored scales have a fixed range (fp16) loses
 * precision on tensors far from it, and one that computes in float can
 * overflow or underflow. For a tensor of unusual magnitude (largest |w|
 * outside [2^-8, 2^8)) the same tensor is coded again scaled by a power of
 * two to largest |w| in [0.5, 1) (exact but for the parts 2^-149 below
 * the largest), with the options given in weight units scaled alike (in
 * exact arithmetic both codings are then the same up to that power of
 * two); where the real coding is worse by more than MAG_SLACK_DB,
 * the tensor is kept lossless with the reason. Codecs that rescale
 * internally (hlat, paper) pass at no cost but the second coding. */
static hc_status check_magnitude(const hc_codec_vt *vt, const float *w, uint64_t n, const hc_opts *o,
                                 hc_encoded *out, hc_error *err) {
    float amax = hc_abs_max(w, n);
    if (amax == 0) return HC_OK;
    int ex = ilogbf(amax) + 1; /* amax * 2^-ex in [0.5, 1) */
    if (ex >= 1 - MAG_LO && ex <= MAG_HI) return HC_OK; /* amax in [2^-MAG_LO, 2^MAG_HI) */
    float *t = malloc(sizeof(float) * (size_t)n);
    if (!t) return hc_fail(err, HC_E_NOMEM, "%s: cannot allocate %llu floats", vt->name, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) t[i] = (float)ldexp((double)w[i], -ex);
    /* the same setting relative to the tensor: options in weight units
     * (the paper codec's fixed L and MAE thresholds) scale with it */
    hc_opts ro = *o;
    if (ro.rect_l > 0) ro.rect_l = ldexp(ro.rect_l, -ex);
    if (ro.loss_target > 0) ro.loss_target = ldexp(ro.loss_target, -ex);
    if (ro.loss_max > 0) ro.loss_max = ldexp(ro.loss_max, -ex);
    if (ro.loss_limit > 0) ro.loss_limit = ldexp(ro.loss_limit, -ex);
    hc_encoded ref;
    memset(&ref, 0, sizeof ref);
    ref.codec = o->codec;
    hc_status s = vt->encode(t, n, &ro, &ref, err);
    free(t);
    if (s) {
        hc_encoded_free(&ref);
        return s;
    }
    double want = ref.codec == HC_CODEC_RAW ? 0 : nmse_of(&ref, n), got = nmse_of(out, n);
    hc_encoded_free(&ref);
    if (got > want * pow(10, MAG_SLACK_DB / 10) + 1e-30)
        return hc_encode_lossless(w, n, out, err, "%s at |w| up to %.3g: SNR %.1f dB, %.1f dB at unit scale",
                                  vt->name, (double)amax, -10 * log10(got), want > 0 ? -10 * log10(want) : 999.0);
    return HC_OK;
}

float hc_abs_max(const float *w, uint64_t n) {
    float m = 0;
    for (uint64_t i = 0; i < n; i++) m = fabsf(w[i]) > m ? fabsf(w[i]) : m;
    return m;
}

hc_status hc_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    memset(out, 0, sizeof *out);
    /* pruning: the sparse codec keeps the zeros, o->codec codes the rest (sparse.c) */
    const hc_codec_vt *vt = hc_prune_active(o) && o->codec != HC_CODEC_RAW ? hc_codec_get(HC_CODEC_SPARSE)
                                                                            : hc_codec_get(o->codec);
    if (!vt || !vt->encode)
        return hc_fail(err, HC_E_UNSUPPORTED, "codec %d (%s) is not available in this build", (int)o->codec,
                       hc_codec_name(o->codec));
    out->codec = vt->id;
    if (o->codec != HC_CODEC_RAW) {
        /* NaN/Inf (e.g. a -inf attention mask) cannot be coded: kept exactly */
        uint64_t bad = hc_first_nonfinite(w, n);
        if (bad < n) return hc_encode_lossless(w, n, out, err, "holds NaN/Inf (weight %llu is %g)",
                                               (unsigned long long)bad, (double)w[bad]);
    }
    hc_status s = vt->encode(w, n, o, out, err);
    if (s == HC_OK && out->codec != HC_CODEC_RAW && !(isfinite(out->mse) && isfinite(out->mae)))
        s = hc_encode_lossless(w, n, out, err, "%s coding overflowed float range", vt->name);
    if (s == HC_OK && out->codec != HC_CODEC_RAW) s = check_magnitude(vt, w, n, o, out, err);
    if (s != HC_OK) hc_encoded_free(out);
    return s;
}

hc_status hc_decoder_open(hc_codec_id codec, const uint8_t *params, uint32_t params_len,
                          const uint8_t *payload, uint64_t payload_len, uint64_t n, hc_dtype dtype,
                          hc_decoder **out, hc_error *err) {
    *out = NULL;
    const hc_codec_vt *vt = hc_codec_get(codec);
    if (!vt || !vt->open)
        return hc_fail(err, HC_E_UNSUPPORTED, "unknown codec id %d (written by a newer hyperc?)", (int)codec);
    if (params_len > HC_MAX_PARAMS)
        return hc_fail(err, HC_E_CORRUPT, "codec parameters of %u bytes exceed %d", params_len, HC_MAX_PARAMS);
    return vt->open(params, params_len, payload, payload_len, n, dtype, out, err);
}

void hc_decoder_free(hc_decoder *d) {
    if (d) d->destroy(d);
}

void hc_decode_all(const hc_decoder *d, float *out) {
    const uint64_t chunk = 1 << 16;
    for (uint64_t s = 0; s < d->n; s += chunk) d->decode(d, s, d->n - s < chunk ? d->n - s : chunk, out + s);
}

void hc_matvec_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                   float *y) {
    float buf[1024];
    for (uint64_t r = row0; r < row1; r++) {
        double acc = 0;
        for (uint64_t c0 = 0; c0 < cols; c0 += 1024) {
            uint64_t k = cols - c0 < 1024 ? cols - c0 : 1024;
            d->decode(d, r * cols + c0, k, buf);
            float part = 0;
            for (uint64_t c = 0; c < k; c++) part += buf[c] * x[c0 + c];
            acc += part;
        }
        y[r - row0] = (float)acc;
    }
}

void hc_matvec(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y) {
    if (d->matvec)
        d->matvec(d, cols, row0, row1, x, y);
    else
        hc_matvec_ref(d, cols, row0, row1, x, y);
}

hc_status hc_encoded_measure(const float *w, uint64_t n, hc_encoded *e, hc_error *err) {
    hc_decoder *d;
    hc_status s = hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, &d, err);
    if (s) return s;
    float buf[4096];
    double sae = 0, sse = 0, ss = 0, mx = 0;
    for (uint64_t st = 0; st < n; st += 4096) {
        uint64_t k = n - st < 4096 ? n - st : 4096;
        d->decode(d, st, k, buf);
        for (uint64_t i = 0; i < k; i++) {
            double diff = fabs((double)buf[i] - (double)w[st + i]);
            sae += diff;
            sse += diff * diff;
            ss += (double)w[st + i] * w[st + i];
            if (diff > mx) mx = diff;
        }
    }
    hc_decoder_free(d);
    e->mae = n ? sae / (double)n : 0;
    e->mse = n ? sse / (double)n : 0;
    e->max_abs_err = mx;
    e->sum_sq = ss;
    return HC_OK;
}
