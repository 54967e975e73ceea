/* cli_options.c — the encoder options on the command line (cli.h): which
 * flags they are, how they are recorded, and their help lines, all from the
 * codec table (the option rows of src/codec/options.h, generic and each
 * codec's own; the codecs and their presets for --codec and --preset). */
#include "cli.h"
#include "../src/codec/codec.h"
#include <string.h>

int cli_is_codec_option(const char *opt) {
    for (const hc_opt_def *r = hc_opt_rows(); r->cli || r->key; r++)
        if (r->cli && !strcmp(r->cli, opt)) return 1;
    return 0;
}

int cli_parse_codec_option(hc_optset *set, const char *opt, const char *val, hc_error *err) {
    hc_status s = hc_optset_add(set, opt, val, err);
    return s == HC_OK ? 0 : s == HC_E_UNSUPPORTED ? 1 : -1;
}

/* "hlat (default) | paper | q8b | q4b | qkm | raw": the registered codecs,
 * the default first, raw last. */
static const char *codec_choices(char *buf, size_t n) {
    hc_codec_id def = hc_codec_default();
    size_t pos = 0;
    buf[0] = 0;
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; hc_codec_at(i); i++) {
            const hc_codec_vt *vt = hc_codec_at(i);
            int want = pass == 0 ? vt->id == def : pass == 1 ? vt->id != def && vt->id != HC_CODEC_RAW
                                                             : vt->id != def && vt->id == HC_CODEC_RAW;
            if (!want || pos >= n) continue;
            int k = snprintf(buf + pos, n - pos, "%s%s%s", pos ? " | " : "", vt->name, pass == 0 ? " (default)" : "");
            if (k > 0) pos += (size_t)k;
        }
    return buf;
}

/* "default | paper-llm | paper-vision": the codecs' presets. */
static const char *preset_choices(char *buf, size_t n) {
    size_t pos = (size_t)snprintf(buf, n, "default");
    for (size_t i = 0; hc_codec_at(i); i++)
        for (const hc_codec_preset *p = hc_codec_at(i)->presets; p && p->name && pos < n; p++) {
            int k = snprintf(buf + pos, n - pos, " | %s", p->name);
            if (k > 0) pos += (size_t)k;
        }
    return buf;
}

void cli_print_codec_options(FILE *f) {
    const hc_opt_def *rows = hc_opt_rows();
    for (const hc_opt_def *r = rows; r->cli || r->key; r++) {
        if (!r->cli) continue;
        int first = r == rows || !r[-1].cli || strcmp(r[-1].cli, r->cli) != 0;
        char head[64], whom[128], text[256];
        snprintf(head, sizeof head, "%s %s", r->cli, r->arg);
        if (r->kind == HC_OPTK_CODEC) {
            codec_choices(text, sizeof text);
        } else if (r->kind == HC_OPTK_PRESET) {
            char list[200];
            snprintf(text, sizeof text, "%s %s", preset_choices(list, sizeof list), r->help);
        } else {
            hc_opt_for_whom(r, whom, sizeof whom);
            snprintf(text, sizeof text, "%s%s%s", whom, whom[0] ? ": " : "", r->help);
        }
        fprintf(f, "  %-19s %s\n", first ? head : "", text);
    }
}
