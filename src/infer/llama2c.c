/* llama2c.c — Karpathy's llama2.c checkpoint (legacy or version 1) as a tensor
 * source in Meta naming.
 *
 * The layouts (legacy and version 1) are parsed and validated by
 * hc_l2c_parse (src/io/llama2c_io.c); the RoPE tables, when stored, are
 * listed as freq_cis_real / freq_cis_imag and ignored by the model. */
#include "infer.h"
#include "../io/sniff.h"
#include "../io/llama2c_io.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct l2c_source {
    hc_map map;
    size_t n;
    hc_tensor_info *infos; /* (n) Meta names, F32                          */
    uint64_t *offsets;     /* (n) byte offset of each tensor in the file    */
} l2c_source;

static const hc_tensor_info *l2c_info(void *user, size_t i) {
    return &((l2c_source *)user)->infos[i];
}

static hc_status l2c_open(void *user, size_t i, hc_decoder **out, hc_error *err) {
    l2c_source *s = user;
    const hc_tensor_info *ti = &s->infos[i];
    return hc_decoder_open(HC_CODEC_RAW, NULL, 0, s->map.ptr + s->offsets[i], ti->nbytes, ti->nelem,
                           HC_F32, out, err);
}

static void l2c_free(l2c_source *s) {
    if (!s) return;
    hc_unmap(&s->map);
    free(s->infos);
    free(s->offsets);
    free(s);
}

static void l2c_release(void *user) { l2c_free(user); }

hc_status hc_llama2c_source(hc_map *m, const char *label, hc_llm_source *src, hc_llm_config *cfg,
                            hc_error *err) {
    memset(src, 0, sizeof *src);
    hc_l2c_layout l;
    hc_error cerr;
    hc_error_clear(&cerr);
    hc_status s = hc_l2c_parse(m->ptr, m->len, label, &l, &cerr);
    if (s) {
        if (s == HC_E_FORMAT) {
            const char *kind = hc_sniff_format(m->ptr, m->len < HC_SNIFF_HEAD ? (size_t)m->len : HC_SNIFF_HEAD);
            if (kind)
                return hc_fail(err, s, "'%s' is a %s, not a .hyc, safetensors or llama2.c checkpoint", label, kind);
            return hc_fail(err, s, "'%s' is not a .hyc, safetensors or llama2.c checkpoint (as llama2.c: %s)", label,
                           cerr.msg);
        }
        if (err) *err = cerr;
        return s;
    }
    l2c_source *ls = calloc(1, sizeof *ls);
    if (!ls) {
        hc_l2c_layout_free(&l);
        hc_unmap(m);
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory", label);
    }
    *cfg = l.cfg;
    ls->map = *m;
    memset(m, 0, sizeof *m);
    ls->n = l.n;
    ls->infos = l.infos; /* the layout's arrays now belong to the source */
    ls->offsets = l.offsets;
    src->user = ls;
    src->n_tensors = ls->n;
    src->info = l2c_info;
    src->open = l2c_open;
    src->release = l2c_release;
    return HC_OK;
}
