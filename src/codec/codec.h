/* codec.h — the internal codec interface: one table per codec.
 *
 * Everything the library, the CLI and `hyperc rd` know about a codec is its
 * hc_codec_vt (as ggml keeps one traits entry per quant type): name and id,
 * the encoder, the opener whose hc_decoder serves decode and matvec, the
 * optional error-feedback encoder, the rate ladder that --bpw / --snr
 * choose from, the option rows the CLI, rd settings and help text are made
 * from, the setting sensitivity passes probe with, and the constants of
 * the tools (rd's built-in settings, its chart colour), its presets.
 * Outside the codec's files only the default options (registry.c) name a
 * codec; nothing switches on its id.
 *
 * Adding a codec = one file under src/codec/, one id, one registry line:
 *  1. include/hyperc.h: a new id in hc_codec_id, before HC_CODEC_COUNT
 *     (ids are part of the file format: never renumber; a codec needing a
 *     setting hc_opts lacks adds that field there too).
 *  2. src/codec/NAME.c (helpers in NAME_*.c if it grows): the encoder and
 *     opener, then at its end the option rows (hc_opt_def, options.h,
 *     setters made with HC_OPT_SETTER_U32/REAL), the ladder and its bpw,
 *     presets if any, the rd settings, and
 *     `const hc_codec_vt hc_codec_NAME_vt = {...}`
 *     (hlat.c and qkm.c show the whole shape; raw.c the least one).
 *  3. src/codec/registry.c: one line X(hc_codec_NAME_vt) in HC_CODEC_LIST.
 * The Makefile builds every src/SUBDIR/NAME.c; tests/test_codec_registry.c
 * and tests/test_codec_contract.c then check the new codec with all the
 * others (names, ladder, option bounds through the CLI and rd, help text,
 * encode/decode/matvec/open contract). docs/FORMAT.md documents its
 * params and payload. */
#ifndef HC_CODEC_H
#define HC_CODEC_H

#include "hyperc.h"

struct hc_opt_def; /* options.h */

/* A preset of a codec: hc_opts_preset(o, name) is hc_opts_default, the
 * codec, then apply(o). */
typedef struct hc_codec_preset {
    const char *name; /* "paper-llm"; unique over the registry, not "default" */
    void (*apply)(hc_opts *o);
} hc_codec_preset;

typedef struct hc_codec_vt {
    hc_codec_id id;
    const char *name; /* as in --codec NAME, rd settings, hyperc info */
    /* Must fill out->params/params_len/payload/payload_len and the error
     * statistics (mae, mse, max_abs_err, sum_sq); may set out->codec to
     * HC_CODEC_RAW to keep the tensor lossless. */
    hc_status (*encode)(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err);
    /* Validates everything it will later read (params, payload length versus
     * n) so that decode/matvec never read out of bounds. */
    hc_status (*open)(const uint8_t *params, uint32_t params_len, const uint8_t *payload,
                      uint64_t payload_len, uint64_t n, hc_dtype dtype, hc_decoder **out,
                      hc_error *err);
    /* Optional (NULL: not supported): encodes a (rows, cols) matrix with
     * error feedback through U, the (cols, cols) upper factor with
     * H^-1 = U^T U (feedback.c). Same duties as encode. */
    hc_status (*encode_matrix)(const float *w, uint64_t rows, uint64_t cols, const float *U, const hc_opts *o,
                               hc_encoded *out, hc_error *err);

    /* ---- settings ---- */
    /* Optional (NULL: a single rate; --bpw/--snr do not apply): the rate
     * ladder, settings of base's codec from low to high rate (at most max,
     * returns how many), each a copy of base with the fields the budget
     * chooses changed (those of the rows marked `rate`). */
    size_t (*ladder)(const hc_opts *base, hc_opts *out, size_t max);
    /* With a ladder: bits per weight of setting o, payload only, on a large
     * tensor; of its lowest-rate alternative when `lowest` (a setting may
     * let the encoder choose among several). Increasing along the ladder. */
    double (*ladder_bpw)(const hc_opts *o, int lowest);
    /* The codec's own options (options.h), ending with a row whose cli and
     * key are both NULL; NULL: none. */
    const struct hc_opt_def *options;
    /* Optional: the setting of a sensitivity pass (hc_llm_sensitivity, for
     * rate allocation with calibration): changes o, a copy of the user's
     * setting, to one near the middle of the codec's range. NULL: the
     * user's setting as it is. */
    void (*probe_setting)(hc_opts *o);
    /* Its presets (--preset NAME, rd's preset=NAME), ending with a NULL
     * name, or NULL. */
    const hc_codec_preset *presets;

    /* ---- the tools ---- */
    /* `hyperc rd`'s built-in settings of this codec ("qkm:bits=3", ...),
     * NULL-terminated, or NULL; the built-in list is those of every codec
     * in id order. */
    const char *const *rd_settings;
    const char *rd_colour; /* its curve in rd's chart ("#d62728"), or NULL: grey */
    int rd_targets;        /* 1: rd compares its curve with the k-quant reference points */
} hc_codec_vt;

/* The codec table entry for an id, or NULL if this build does not know it. */
const hc_codec_vt *hc_codec_get(hc_codec_id id);
/* The i-th registered codec in id order (i from 0), or NULL past the last. */
const hc_codec_vt *hc_codec_at(size_t i);
/* The codec of the default options (hc_opts_default): listed first where
 * codecs are listed for people (--codec help, rd's target table). */
hc_codec_id hc_codec_default(void);

/* The rate ladder of base's codec (vt->ladder), or base alone (count 1)
 * for a codec with a single rate. */
size_t hc_codec_ladder(const hc_opts *base, hc_opts *out, size_t max);
/* The setting of a sensitivity pass for the user's setting o: o without
 * budget, changed by the codec's probe_setting. */
void hc_codec_probe_setting(const hc_opts *o, hc_opts *probe);

/* Replaces whatever out holds by a lossless (RAW, float32) copy of w, with
 * out->note set from fmt (why the codec kept it lossless; the pipeline
 * reports it per tensor). Codecs call it when they cannot code a tensor at
 * the quality their setting promises. */
hc_status hc_encode_lossless(const float *w, uint64_t n, hc_encoded *out, hc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Index of the first NaN/Inf of w, or n if all are finite. */
uint64_t hc_first_nonfinite(const float *w, uint64_t n);
/* Largest |w[i]| (w finite). */
float hc_abs_max(const float *w, uint64_t n);

/* Fills e->mae/mse/max_abs_err/sum_sq by decoding e against w (chunked, no
 * full-size temporary). Used by encoders that do not track errors inline. */
hc_status hc_encoded_measure(const float *w, uint64_t n, hc_encoded *e, hc_error *err);

/* U (d, d), upper triangular, with (H + damping)^-1 = U^T U (feedback.c). */
hc_status hc_feedback_factor(const float *H, uint32_t d, float *U, hc_error *err);
/* hc_encode_matrix with calibration entry `name` of c (whose dimension
 * must be cols, else plain coding), the factor of its H made once and kept
 * in c (thread-safe) so that coding it at many settings factors it once. */
hc_status hc_encode_calibrated(const hc_calib *c, const char *name, const float *w, uint64_t rows, uint64_t cols,
                               const hc_opts *o, hc_encoded *out, hc_error *err);
/* tr(D H D^T) / tr(W H W^T), D = W - decode(e), for the (rows, cols) w. */
hc_status hc_feedback_out_nmse(const float *w, uint64_t rows, uint64_t cols, const float *H, const hc_encoded *e,
                               double *out_nmse, hc_error *err);

/* Generic row-range product by decoding a row at a time (the reference). */
void hc_matvec_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                   const float *x, float *y);

#endif
