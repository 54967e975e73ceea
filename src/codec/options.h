/* options.h — encoder options: one set of names, bounds and help texts for
 * the CLI (`hyperc compress --bits 5`), the settings of `hyperc rd`
 * ("qkm:bits=5") and the help text, and the one place that decides which
 * option applies to which codec.
 *
 * Where the rows live: the options every codec shares (--preset, --codec,
 * --bpw, --snr, --min-elems, --keep) are the generic table of options.c;
 * each codec's own options are a table in the codec's file, referenced by
 * its hc_codec_vt (codec.h, `options`). hc_opt_rows() lists them all, in
 * the order of the help text.
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
 *    itself chooses (rows marked `rate`: --bits for qkm/hlat,
 *    --points/--loss-limit for paper).
 *  - Every value is checked against the bounds of its row (the row of the
 *    chosen codec); --bpw against the smallest and largest rate of the
 *    codec's ladder (the settings rate allocation chooses from), before any
 *    work.
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

/* A value parsed and checked against its row: u (UINT), x (REAL), list/n
 * (LIST), text (every kind: the value as written; it must outlive the
 * hc_opts, as o->keep points into it); spelled: the option as the user
 * wrote it ("--effort 13" or "effort=13"), for messages. */
typedef struct hc_opt_value {
    uint64_t u;
    double x;
    uint32_t list[HC_MAX_POINT_SIZES];
    uint32_t n;
    const char *text;
    const char *spelled;
} hc_opt_value;

/* Stores a value into the options. A setter of a TEXT row checks it too:
 * HC_E_ARG with a message naming v->spelled when it refuses it. */
typedef hc_status (*hc_opt_setter)(hc_opts *o, const hc_opt_value *v, hc_error *err);

/* Which codecs a generic row applies to (a codec's own rows: its codec). */
typedef enum hc_opt_scope {
    HC_OPT_FOR_ANY,    /* every codec, raw included                      */
    HC_OPT_FOR_LOSSY,  /* every codec but raw                            */
    HC_OPT_FOR_LADDER  /* the codecs with a rate ladder (codec.h)        */
} hc_opt_scope;

/* One row: an option of a codec (in its table) or of every codec (generic).
 * Rows of different codecs with the same name are the same option with
 * each codec's bounds (--bits is 2..8 for qkm, 1..32 for hlat); an option
 * is known by its key, or by its cli name when it has no key. */
typedef struct hc_opt_def {
    const char *cli;    /* "--bits", or NULL (not on the command line)     */
    const char *key;    /* "bits" in rd settings, or NULL                 */
    const char *alias;  /* a second rd key ("C" for bands), or NULL       */
    hc_opt_kind kind;
    double lo, hi;      /* bounds of the value (each item of a list)      */
    int rate;           /* 1: chosen by --bpw/--snr (contradicts them)    */
    hc_opt_setter set;  /* NULL for --preset and --codec (applied first)  */
    const char *arg;    /* "B", "X", ... for the help text                */
    const char *help;   /* one line; a codec's rows without the "qkm: " that
                           the help text puts before them                 */
    hc_opt_scope scope; /* generic rows only                              */
    unsigned codecs;    /* in hc_opt_rows(): bit (1 << id) per codec it applies to;
                           0 in the tables themselves                     */
} hc_opt_def;

/* Setters for the fields of hc_opts, for codec tables:
 * HC_OPT_SETTER_U32(set_bits, bits) defines a static set_bits storing a
 * UINT row's value into o->bits; HC_OPT_SETTER_REAL a REAL row's. */
#define HC_OPT_SETTER_U32(fn, member)                                                                             \
    static hc_status fn(hc_opts *o, const hc_opt_value *v, hc_error *err) {                                      \
        (void)err;                                                                                                \
        o->member = (uint32_t)v->u;                                                                               \
        return HC_OK;                                                                                             \
    }
#define HC_OPT_SETTER_REAL(fn, member)                                                                            \
    static hc_status fn(hc_opts *o, const hc_opt_value *v, hc_error *err) {                                      \
        (void)err;                                                                                                \
        o->member = v->x;                                                                                         \
        return HC_OK;                                                                                             \
    }

/* Every row, generic and of every registered codec, with `codecs` filled,
 * in the order of the help text (--preset, --codec, the codecs' rows
 * grouped by option in the order each first appears, codecs in id order,
 * then --bpw, --snr, --min-elems, --keep); ends with a row whose cli and
 * key are both NULL. Built once, never freed. */
const hc_opt_def *hc_opt_rows(void);
/* 1 if row r is the option `name` (its key, alias or cli name). */
int hc_opt_is(const hc_opt_def *r, const char *name);
/* The codec names before a row's help text ("qkm", "paper, qkm, hlat"):
 * empty when every lossy codec takes it. */
const char *hc_opt_for_whom(const hc_opt_def *r, char *buf, size_t n);

/* Options collected before they are applied. */
#define HC_OPTSET_MAX 32
typedef struct hc_optset {
    struct {
        const hc_opt_def *row; /* the option's first row in hc_opt_rows()           */
        const char *name;      /* as given: "--bits" or "bits" (for messages)       */
        const char *value;     /* not copied: must outlive hc_optset_finish (and o->keep, the hc_opts) */
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
 * when name is not an option of any row (the caller decides what it is). */
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
