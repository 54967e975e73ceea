/* rd.c — rate–distortion measurement (rd.h): settings parser, the built-in
 * list of settings, and the measurement of one model under one setting. */
#include "rd.h"
#include "codec.h"
#include "options.h"
#include "../common/util.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* ===================================================================== */
/* The built-in settings                                                  */
/* ===================================================================== */

/* Those of every codec (hc_codec_vt.rd_settings), in id order. */
#define RD_DEFAULT_MAX 256
static const char *rd_defaults[RD_DEFAULT_MAX + 1];
static pthread_once_t rd_defaults_once = PTHREAD_ONCE_INIT;

static void rd_defaults_build(void) {
    size_t k = 0;
    for (size_t i = 0; hc_codec_at(i); i++)
        for (const char *const *p = hc_codec_at(i)->rd_settings; p && *p && k < RD_DEFAULT_MAX; p++)
            rd_defaults[k++] = *p;
    rd_defaults[k] = NULL;
}

const char *const *hc_rd_default_settings(void) {
    pthread_once(&rd_defaults_once, rd_defaults_build);
    return rd_defaults;
}

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

/* Encodes n weights under o, decodes them back and measures the NMSE. */
hc_status hc_rd_tensor_measure(const float *w, uint64_t n, uint64_t raw_bytes, const hc_opts *o, hc_rd_tensor *r,
                               hc_error *err) {
    memset(r, 0, sizeof *r);
    float *buf = malloc(4096 * sizeof *buf);
    if (!buf) return hc_fail(err, HC_E_NOMEM, "cannot allocate a decode buffer");
    hc_encoded e;
    double t0 = hc_now();
    hc_status s = hc_encode(w, n, o, &e, err);
    r->encode_s = hc_now() - t0;
    if (s == HC_OK && e.codec == HC_CODEC_RAW) {
        /* the codec chose lossless: the original bytes are stored */
        r->kept_raw = 1;
        r->payload = raw_bytes;
        r->params_len = 0;
        r->nmse = 0;
    } else if (s == HC_OK) {
        r->payload = e.payload_len;
        r->params_len = e.params_len;
        hc_decoder *d;
        s = hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, err);
        if (s == HC_OK) {
            double se = 0, ss = 0;
            for (uint64_t a = 0; a < n; a += 4096) {
                uint64_t k = n - a < 4096 ? n - a : 4096;
                double t1 = hc_now();
                d->decode(d, a, k, buf);
                r->decode_s += hc_now() - t1;
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
    free(buf);
    return s;
}
