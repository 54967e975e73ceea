/* options.h — the table of encoder options, one set of names, bounds and
 * help texts for the CLI (`hyperc compress --bits 5`), the settings of
 * `hyperc rd` ("qkm:bits=5") and the help text, and the one place that
 * decides which option applies to which codec.
 *
 * The rules (README, "Options"):
 *  - A preset only sets defaults: options given explicitly win over it,
 *    whether they come before or after it on the line.
 *  - A preset of one codec (paper-llm, paper-vision) with --codec naming
 *    another is a contradiction and refused; --preset default goes with any
 *    codec (it is the tool's defaults).
 *  - An option that does not apply to the chosen codec is refused, naming
 *    the option and the codec; so are two options that contradict each
 *    other: --bpw with --snr, and either of them with an option the budget
 *    itself chooses (--bits for qkm/hlat, --points/--loss-limit for paper).
 *  - Every value is checked against the bounds in the table; --bpw against
 *    the smallest and largest rate of the codec's ladder (the settings rate
 *    allocation chooses from), before any work.
 * Use: hc_optset_init, hc_optset_add for each option (in any order), then
 * hc_optset_finish. */
#ifndef HC_OPTIONS_H
#define HC_OPTIONS_H

#include "hyperc.h"

typedef enum hc_opt_kind {
    HC_OPTK_PRESET, /* a preset name                               */
    HC_OPTK_CODEC,  /* a codec name                                */
    HC_OPTK_UINT,   /* an integer in [lo, hi]                      */
    HC_OPTK_REAL,   /* a finite number in [lo, hi]                 */
    HC_OPTK_LIST,   /* up to HC_MAX_POINT_SIZES integers in [lo, hi], ',' or '/' between */
    HC_OPTK_TEXT    /* free text (glob patterns)                   */
} hc_opt_kind;

/* The fields of hc_opts an option sets. */
typedef enum hc_opt_field {
    HC_OPTF_PRESET, HC_OPTF_CODEC, HC_OPTF_RECT_L, HC_OPTF_SIGMAS, HC_OPTF_POINTS, HC_OPTF_BANDS,
    HC_OPTF_LOSS_TARGET, HC_OPTF_LOSS_MAX, HC_OPTF_LOSS_LIMIT, HC_OPTF_BITS, HC_OPTF_BLOCK, HC_OPTF_DIM,
    HC_OPTF_BPW, HC_OPTF_SNR, HC_OPTF_MIN_ELEMS, HC_OPTF_KEEP, HC_OPTF_EFFORT, HC_OPTF_RHT,
    HC_OPTF_COUNT
} hc_opt_field;

#define HC_OPT_ALL_LOSSY                                                                                          \
    ((1u << HC_CODEC_PAPER) | (1u << HC_CODEC_Q8B) | (1u << HC_CODEC_Q4B) | (1u << HC_CODEC_QKM) |               \
     (1u << HC_CODEC_HLAT) | (1u << HC_CODEC_TRELLIS))
#define HC_OPT_ANY_CODEC (HC_OPT_ALL_LOSSY | (1u << HC_CODEC_RAW))

/* One row: an option of some codecs. A field may have several rows (one per
 * codec with its own bounds: --bits is 2..8 for qkm, 1..32 for hlat). */
typedef struct hc_opt_def {
    hc_opt_field field;
    const char *cli;    /* "--bits", or NULL (not on the command line)     */
    const char *key;    /* "bits" in rd settings, or NULL                 */
    const char *alias;  /* a second rd key ("C" for bands), or NULL       */
    unsigned codecs;    /* bit (1 << hc_codec_id) per codec it applies to */
    hc_opt_kind kind;
    double lo, hi;      /* bounds of the value (each item of a list)      */
    int rate;           /* 1: chosen by --bpw/--snr (contradicts them)    */
    const char *arg;    /* "B", "X", ... for the help text                */
    const char *help;   /* one line                                       */
} hc_opt_def;

/* The table, ending with a row whose cli and key are both NULL. */
extern const hc_opt_def hc_opt_table[];

/* Options collected before they are applied. */
#define HC_OPTSET_MAX 32
typedef struct hc_optset {
    struct {
        hc_opt_field field;
        const char *name;  /* as given: "--bits" or "bits" (for messages) */
        const char *value; /* not copied: must outlive hc_optset_finish (and o->keep, the hc_opts) */
    } item[HC_OPTSET_MAX];
    int n;
    int strict;            /* 1: an option given twice is an error (rd); 0: the last wins (CLI) */
    uint64_t min_elems;    /* > 0: replaces the preset's min_elems default (rd's protocol) */
    int codec_set;         /* the codec named apart (an rd setting's prefix) */
    hc_codec_id codec;
} hc_optset;

void hc_optset_init(hc_optset *s, int strict);
/* Records option `name` ("--bits" for the CLI form, "bits" or an alias for
 * the rd form) with its value. Returns HC_OK, HC_E_ARG (err says why: given
 * twice in strict mode, too many), or HC_E_UNSUPPORTED without touching err
 * when name is not an option of the table (the caller decides what it is). */
hc_status hc_optset_add(hc_optset *s, const char *name, const char *value, hc_error *err);
/* Builds o: the preset (or hc_opts_default), then every option given, then
 * the checks above. HC_E_ARG (bad usage) with a message naming the options
 * concerned, or HC_E_UNSUPPORTED for a codec this build lacks. */
hc_status hc_optset_finish(const hc_optset *s, hc_opts *o, hc_error *err);

/* The smallest and largest bits per weight the codec of o reaches over its
 * rate ladder (the settings --bpw/--snr choose from), payload only, for a
 * large tensor. Returns 0, or -1 when the codec has no ladder. */
int hc_opts_rate_range(const hc_opts *o, double *lo, double *hi);

/* Encodes a small synthetic tensor with o so that settings the codec itself
 * refuses (hlat block not a multiple of dim) are found before any work. */
hc_status hc_opts_probe(const hc_opts *o, hc_error *err);

/* "preset, L, sigmas, n, ...": the keys of rd settings, for messages and help. */
const char *hc_opt_rd_keys(char *buf, size_t n);

/* "paper", "qkm, hlat": the codecs of a mask, for messages. */
const char *hc_opt_codec_list(unsigned codecs, char *buf, size_t n);

#endif
