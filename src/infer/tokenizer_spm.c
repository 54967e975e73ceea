/* tokenizer_spm.c — SentencePiece tokenizer.model files (a serialized
 * sentencepiece.ModelProto, protobuf wire format), read with a small bounded
 * wire-format reader written from the published .proto description:
 *
 *   ModelProto     1 pieces (repeated SentencePiece), 2 trainer_spec,
 *                  3 normalizer_spec (others skipped)
 *   SentencePiece  1 piece (string), 2 score (float), 3 type (enum:
 *                  NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5,
 *                  BYTE 6; default NORMAL)
 *   TrainerSpec    3 model_type (UNIGRAM 1 = default, BPE 2, WORD 3, CHAR 4),
 *                  24 treat_whitespace_as_suffix, 35 byte_fallback,
 *                  40 unk_id (0), 41 bos_id (1), 42 eos_id (2)
 *   NormalizerSpec 1 name, 2 precompiled_charsmap, 3 add_dummy_prefix (true),
 *                  4 remove_extra_whitespaces (true), 5 escape_whitespaces (true)
 *
 * Wire format: varints (at most 10 bytes), fixed64, length-delimited (every
 * length checked against what is left of its message), fixed32; groups
 * (wire types 3/4) are refused; field number 0 is refused. Unknown fields are
 * skipped without being parsed, so nesting is bounded by the schema (two
 * levels). Only what the tokenizer core can reproduce is accepted: model
 * BPE, normalizer 'identity' (or no name and no rules), whitespace escaped
 * to U+2581 as a prefix; everything else is refused by name. The pieces go to
 * hc_tkz_from_vocab as an SPM vocabulary merging by score (as GGUF 'llama'). */
#include "tokenizer_int.h"
#include "../common/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pb {
    const uint8_t *base, *p, *end;
} pb;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static int pb_varint(pb *r, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return 0;
        uint8_t b = *r->p++;
        if (i == 9 && b > 1) return 0; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* a tag: field number 1..2^29-1 and a wire type the reader knows */
static int pb_key(pb *r, uint32_t *field, int *wt) {
    uint64_t k;
    if (!pb_varint(r, &k) || k >> 32) return 0;
    *field = (uint32_t)(k >> 3);
    *wt = (int)(k & 7);
    return *field != 0 && (*wt == WT_VARINT || *wt == WT_I64 || *wt == WT_LEN || *wt == WT_I32);
}

static int pb_len(pb *r, pb *sub) {
    uint64_t n;
    if (!pb_varint(r, &n) || n > (uint64_t)(r->end - r->p)) return 0;
    sub->base = r->base;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return 1;
}

static int pb_fixed32(pb *r, uint32_t *v) {
    if (r->end - r->p < 4) return 0;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 1;
}

static int pb_skip(pb *r, int wt) {
    uint64_t v;
    uint32_t u;
    pb sub;
    switch (wt) {
    case WT_VARINT: return pb_varint(r, &v);
    case WT_I64:
        if (r->end - r->p < 8) return 0;
        r->p += 8;
        return 1;
    case WT_LEN: return pb_len(r, &sub);
    case WT_I32: return pb_fixed32(r, &u);
    }
    return 0;
}

/* an int32 field: protobuf writes negative values as 10-byte varints */
static int pb_int32(pb *r, int wt, int32_t *v) {
    uint64_t x;
    if (wt != WT_VARINT || !pb_varint(r, &x)) return 0;
    *v = (int32_t)(uint32_t)x;
    return 1;
}

typedef struct spm_model {
    size_t n, cap;
    const char **tok;
    size_t *len;
    float *score;
    int32_t *type;
    int32_t model_type, unk_id, bos_id, eos_id;
    int byte_fallback, suffix_ws, add_dummy, remove_ws, escape_ws;
    const uint8_t *name, *charsmap;
    size_t name_len, charsmap_len;
    int has_rules;
} spm_model;

static void spm_free(spm_model *m) {
    free(m->tok);
    free(m->len);
    free(m->score);
    free(m->type);
}

#define BAD(r, what) hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': bad SentencePiece model at byte %zu: %s", label, \
                             (size_t)((r)->p - (r)->base), what)

static hc_status parse_piece(pb *r, spm_model *m, const char *label, hc_error *err) {
    if (m->n == m->cap) {
        if (m->n >= HC_TKZ_MAX_VOCAB)
            return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': more than %d pieces", label, HC_TKZ_MAX_VOCAB);
        size_t nc = m->cap ? m->cap * 2 : 256;
        const char **t = realloc(m->tok, nc * sizeof *t);
        if (t) m->tok = t;
        size_t *l = realloc(m->len, nc * sizeof *l);
        if (l) m->len = l;
        float *s = realloc(m->score, nc * sizeof *s);
        if (s) m->score = s;
        int32_t *y = realloc(m->type, nc * sizeof *y);
        if (y) m->type = y;
        if (!t || !l || !s || !y) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory for pieces", label);
        m->cap = nc;
    }
    size_t i = m->n;
    m->tok[i] = "";
    m->len[i] = 0;
    m->score[i] = 0;
    m->type[i] = HC_TKZ_NORMAL;
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        if (!pb_key(r, &f, &wt)) return BAD(r, "bad field tag in a piece");
        if (f == 1 && wt == WT_LEN) {
            pb s;
            if (!pb_len(r, &s)) return BAD(r, "piece string runs past its message");
            m->tok[i] = (const char *)s.p;
            m->len[i] = (size_t)(s.end - s.p);
        } else if (f == 2 && wt == WT_I32) {
            uint32_t u;
            if (!pb_fixed32(r, &u)) return BAD(r, "truncated piece score");
            float x;
            memcpy(&x, &u, 4);
            if (isnan(x)) return BAD(r, "piece score is NaN");
            m->score[i] = x;
        } else if (f == 3) {
            int32_t t;
            if (!pb_int32(r, wt, &t)) return BAD(r, "bad piece type");
            if (t < 1 || t > 6)
                return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': piece %zu has type %d (1..6 are defined)", label,
                               i, (int)t);
            m->type[i] = t;
        } else if (!pb_skip(r, wt)) {
            return BAD(r, "field runs past its piece");
        }
    }
    m->n++;
    return HC_OK;
}

static hc_status parse_trainer(pb *r, spm_model *m, const char *label, hc_error *err) {
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        if (!pb_key(r, &f, &wt)) return BAD(r, "bad field tag in trainer_spec");
        int32_t v;
        int32_t *dst = f == 3 ? &m->model_type : f == 40 ? &m->unk_id : f == 41 ? &m->bos_id : f == 42 ? &m->eos_id : NULL;
        int *flag = f == 24 ? &m->suffix_ws : f == 35 ? &m->byte_fallback : NULL;
        if ((dst || flag) && wt == WT_VARINT) {
            if (!pb_int32(r, wt, &v)) return BAD(r, "bad varint in trainer_spec");
            if (dst) *dst = v;
            else *flag = v != 0;
        } else if (!pb_skip(r, wt)) {
            return BAD(r, "field runs past trainer_spec");
        }
    }
    return HC_OK;
}

static hc_status parse_normalizer(pb *r, spm_model *m, const char *label, hc_error *err) {
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        if (!pb_key(r, &f, &wt)) return BAD(r, "bad field tag in normalizer_spec");
        int32_t v;
        int *flag = f == 3 ? &m->add_dummy : f == 4 ? &m->remove_ws : f == 5 ? &m->escape_ws : NULL;
        if ((f == 1 || f == 2 || f == 6) && wt == WT_LEN) {
            pb s;
            if (!pb_len(r, &s)) return BAD(r, "string runs past normalizer_spec");
            if (f == 1) {
                m->name = s.p;
                m->name_len = (size_t)(s.end - s.p);
            } else if (f == 2) {
                m->charsmap = s.p;
                m->charsmap_len = (size_t)(s.end - s.p);
            } else if (s.end > s.p) {
                m->has_rules = 1;
            }
        } else if (flag && wt == WT_VARINT) {
            if (!pb_int32(r, wt, &v)) return BAD(r, "bad varint in normalizer_spec");
            *flag = v != 0;
        } else if (!pb_skip(r, wt)) {
            return BAD(r, "field runs past normalizer_spec");
        }
    }
    return HC_OK;
}

static hc_status spm_parse(const void *buf, size_t len, const char *label, spm_model *m, hc_error *err) {
    memset(m, 0, sizeof *m);
    m->model_type = 1; /* the .proto's defaults */
    m->unk_id = 0;
    m->bos_id = 1;
    m->eos_id = 2;
    m->add_dummy = m->remove_ws = m->escape_ws = 1;
    pb r = {buf, buf, (const uint8_t *)buf + len};
    hc_status s = HC_OK;
    while (!s && r.p < r.end) {
        uint32_t f;
        int wt;
        if (!pb_key(&r, &f, &wt)) {
            s = BAD(&r, "bad field tag (not a SentencePiece model?)");
            break;
        }
        pb sub;
        if (f >= 1 && f <= 3 && wt == WT_LEN) {
            if (!pb_len(&r, &sub)) {
                s = BAD(&r, f == 1 ? "a piece runs past the end of the file"
                                   : f == 2 ? "trainer_spec runs past the end of the file"
                                            : "normalizer_spec runs past the end of the file");
                break;
            }
            s = f == 1 ? parse_piece(&sub, m, label, err)
                : f == 2 ? parse_trainer(&sub, m, label, err) : parse_normalizer(&sub, m, label, err);
        } else if (!pb_skip(&r, wt)) {
            s = BAD(&r, "field runs past the end of the file");
        }
    }
    if (!s && m->n == 0) s = hc_fail(err, HC_E_FORMAT, "tokenizer '%s': the SentencePiece model has no pieces", label);
    if (s) spm_free(m);
    return s;
}

int hc_tkz_is_spm(const void *buf, size_t len) {
    if (!buf || len < 2 || ((const uint8_t *)buf)[0] != 0x0A) return 0; /* field 1, length-delimited */
    spm_model m;
    hc_error err = {0};
    if (spm_parse(buf, len, "probe", &m, &err)) return 0;
    spm_free(&m);
    return 1;
}

int hc_tkz_file_is_spm(const char *path) {
    size_t l = path ? strlen(path) : 0;
    if (l >= 6 && !strcmp(path + l - 6, ".model")) return 1;
    hc_map mp;
    hc_error err = {0};
    if (!path || hc_map_file(path, &mp, &err)) return 0;
    int r = hc_tkz_is_spm(mp.ptr, (size_t)mp.len);
    hc_unmap(&mp);
    return r;
}

hc_status hc_tkz_from_spm(const void *buf, size_t len, const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "tokenizer.model";
    spm_model m;
    hc_status s = spm_parse(buf, len, label, &m, err);
    if (s) return s;
    static const char *const mt[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
    if (m.model_type != 2) {
        s = hc_fail(err, HC_E_UNSUPPORTED,
                    "tokenizer '%s': SentencePiece model_type %s%s is not supported (BPE is)", label,
                    m.model_type >= 1 && m.model_type <= 4 ? mt[m.model_type] : "(unknown)",
                    m.model_type == 1 ? " (also the default when trainer_spec does not say)" : "");
    } else if (!(m.name_len == 8 && !memcmp(m.name, "identity", 8)) &&
               !(m.name_len == 0 && m.charsmap_len == 0 && !m.has_rules)) {
        s = hc_fail(err, HC_E_UNSUPPORTED,
                    "tokenizer '%s': SentencePiece normalizer '%.*s' is not supported (only 'identity' is: the "
                    "core has no NFKC or custom rules)", label, (int)(m.name_len > 40 ? 40 : m.name_len),
                    m.name_len ? (const char *)m.name : "(rules)");
    } else if (m.remove_ws) {
        s = hc_fail(err, HC_E_UNSUPPORTED,
                    "tokenizer '%s': SentencePiece normalizer_spec.remove_extra_whitespaces is not supported", label);
    } else if (!m.escape_ws) {
        s = hc_fail(err, HC_E_UNSUPPORTED,
                    "tokenizer '%s': SentencePiece normalizer_spec.escape_whitespaces false is not supported", label);
    } else if (m.suffix_ws) {
        s = hc_fail(err, HC_E_UNSUPPORTED,
                    "tokenizer '%s': SentencePiece trainer_spec.treat_whitespace_as_suffix is not supported", label);
    }
    if (!s) {
        hc_tok_vocab v;
        memset(&v, 0, sizeof v);
        v.kind = HC_TKZ_SPM;
        v.n_tokens = m.n;
        v.tokens = m.tok;
        v.token_lens = m.len;
        v.scores = m.score;
        v.types = m.type;
        v.unk_id = m.unk_id;
        v.bos_id = m.bos_id;
        v.eos_id = m.eos_id;
        v.add_bos = m.bos_id >= 0 && (size_t)m.bos_id < m.n;
        v.add_space_prefix = m.add_dummy;
        s = hc_tkz_from_vocab(&v, label, out, err);
        if (!s && !m.byte_fallback) (*out)->byte_fallback = 0;
    }
    spm_free(&m);
    return s;
}

hc_status hc_tkz_open_spm(const char *path, hc_tkz **out, hc_error *err) {
    *out = NULL;
    hc_map mp;
    hc_status s = hc_map_file(path, &mp, err);
    if (s) return s;
    s = hc_tkz_from_spm(mp.ptr, (size_t)mp.len, path, out, err);
    hc_unmap(&mp);
    return s;
}
