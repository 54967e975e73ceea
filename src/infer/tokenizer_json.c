/* tokenizer_json.c — Hugging Face tokenizer.json (+ tokenizer_config.json)
 * and llama2.c tokenizer.bin readers for the tokenizer core.
 *
 * Supported: model BPE (merges as "a b" strings or [a, b] arrays, byte_fallback,
 * unk_token, fuse_unk, ignore_merges); normalizers Sequence, Prepend, Replace
 * (string pattern), NFC (quick check, else full Unicode NFC: tokenizer_unicode.c);
 * pre-tokenizers Sequence, Split (the GPT-2, LLaMA-3 and Qwen2 regexes,
 * behaviour Isolated), ByteLevel, Metaspace (no split, as transformers.js);
 * post-processors TemplateProcessing (BOS/EOS around the text), ByteLevel,
 * Sequence; added_tokens (lstrip/rstrip). Anything else is refused with its
 * name, never guessed. The JSON is walked with the cursor of src/io/json.h;
 * objects are read key by key into snapshots, so key order does not matter. */
#include "tokenizer_int.h"
#include "../io/json.h"
#include "../common/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jfield {
    hc_json_str key;
    hc_json at; /* cursor at the value */
} jfield;

#define MAX_FIELDS 48

typedef struct jctx {
    const char *label;
    hc_error *err;
} jctx;

static hc_status jfail(jctx *c, hc_json *j, const char *what) {
    if (j && j->status) return hc_fail(c->err, HC_E_FORMAT, "tokenizer '%s': bad JSON at byte %zu: %s", c->label, j->err_pos, j->why);
    return hc_fail(c->err, HC_E_FORMAT, "tokenizer '%s': %s", c->label, what);
}

/* Reads the object at j: its keys and a cursor at each value (values skipped). */
static int obj_fields(hc_json *j, jfield *f, int *n) {
    *n = 0;
    if (!hc_json_object_begin(j)) return 0;
    hc_json_str key;
    int r;
    while ((r = hc_json_object_next(j, &key)) > 0) {
        if (*n < MAX_FIELDS) {
            f[*n].key = key;
            f[*n].at = *j;
            (*n)++;
        }
        if (!hc_json_skip(j)) return 0;
    }
    return r == 0;
}

/* The last field named name (JSON.parse keeps the last), or NULL. */
static hc_json *fget(jfield *f, int n, const char *name) {
    for (int i = n - 1; i >= 0; i--)
        if (hc_json_str_eq(&f[i].key, name, strlen(name))) return &f[i].at;
    return NULL;
}

static int is_null(hc_json *j) { return !j || hc_json_peek(j) == HC_JSON_NULL; }

/* a string value (decoded, NUL-terminated) into buf[cap] */
/* (reads a copy of the cursor, so a field can be read again) */
static int jstring(const hc_json *at, char *buf, size_t cap, size_t *len) {
    hc_json_str s;
    if (!at) return 0;
    hc_json j0 = *at, *j = &j0;
    if (hc_json_peek(j) != HC_JSON_STRING || !hc_json_string(j, &s) || s.len >= cap) return 0;
    hc_json_str_decode(&s, buf);
    buf[s.len] = 0;
    if (len) *len = s.len;
    return 1;
}

static int jbool(const hc_json *at, int def) {
    if (!at) return def;
    hc_json j0 = *at;
    hc_json_type ty = hc_json_peek(&j0);
    return ty == HC_JSON_TRUE ? 1 : ty == HC_JSON_FALSE ? 0 : def;
}

static int jint(const hc_json *at, int64_t *v) {
    uint64_t u;
    if (!at) return 0;
    hc_json j0 = *at, *j = &j0;
    if (hc_json_peek(j) != HC_JSON_NUMBER || !hc_json_u64(j, &u) || u > INT32_MAX) return 0;
    *v = (int64_t)u;
    return 1;
}

/* as jint, consuming the value */
static int jint_take(hc_json *j, int64_t *v) {
    uint64_t u;
    if (hc_json_peek(j) != HC_JSON_NUMBER || !hc_json_u64(j, &u) || u > INT32_MAX) return 0;
    *v = (int64_t)u;
    return 1;
}

static int type_is(jfield *f, int n, const char *name) {
    char buf[64];
    return jstring(fget(f, n, "type"), buf, sizeof buf, NULL) && !strcmp(buf, name);
}

/* ---- the known pre-tokenizer regexes ---- */
static const char RE_GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char RE_LLAMA3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct pipeline {
    tkz_step norm[TKZ_MAX_STEPS], pre[TKZ_MAX_STEPS];
    int n_norm, n_pre;
    int byte_level;
} pipeline;

static hc_status parse_normalizer(jctx *c, hc_json at, pipeline *p, int depth) {
    if (is_null(&at)) return HC_OK;
    jfield f[MAX_FIELDS];
    int n;
    if (depth > 4 || !obj_fields(&at, f, &n)) return jfail(c, &at, "normalizer is not an object");
    char ty[64] = "";
    jstring(fget(f, n, "type"), ty, sizeof ty, NULL);
    if (!strcmp(ty, "Sequence")) {
        hc_json *a = fget(f, n, "normalizers");
        if (!a || !hc_json_array_begin(a)) return jfail(c, a, "normalizer Sequence without a normalizers array");
        int r;
        while ((r = hc_json_array_next(a)) > 0) {
            hc_status s = parse_normalizer(c, *a, p, depth + 1);
            if (s) return s;
            if (!hc_json_skip(a)) return jfail(c, a, "bad normalizer");
        }
        return r < 0 ? jfail(c, a, "bad normalizers array") : HC_OK;
    }
    if (p->n_norm >= TKZ_MAX_STEPS) return hc_fail(c->err, HC_E_LIMIT, "tokenizer '%s': more than %d normalizer steps", c->label, TKZ_MAX_STEPS);
    tkz_step *st = &p->norm[p->n_norm];
    memset(st, 0, sizeof *st);
    if (!strcmp(ty, "Prepend")) {
        st->type = TKZ_N_PREPEND;
        if (!jstring(fget(f, n, "prepend"), st->a, sizeof st->a, &st->alen))
            return jfail(c, NULL, "normalizer Prepend: 'prepend' is not a short string");
    } else if (!strcmp(ty, "Replace")) {
        st->type = TKZ_N_REPLACE;
        hc_json *pat = fget(f, n, "pattern");
        jfield pf[MAX_FIELDS];
        int pn;
        if (!pat || !obj_fields(pat, pf, &pn) || !jstring(fget(pf, pn, "String"), st->a, sizeof st->a, &st->alen) ||
            !jstring(fget(f, n, "content"), st->b, sizeof st->b, &st->blen))
            return hc_fail(c->err, HC_E_UNSUPPORTED, "tokenizer '%s': normalizer Replace is supported with a short String pattern and content only", c->label);
    } else if (!strcmp(ty, "NFC")) {
        st->type = TKZ_N_NFC;
    } else {
        return hc_fail(c->err, HC_E_UNSUPPORTED, "tokenizer '%s': normalizer '%s' is not supported (Sequence, Prepend, Replace, NFC are)", c->label, ty);
    }
    p->n_norm++;
    return HC_OK;
}

static hc_status parse_pre(jctx *c, hc_json at, pipeline *p, int depth) {
    if (is_null(&at)) return HC_OK;
    jfield f[MAX_FIELDS];
    int n;
    if (depth > 4 || !obj_fields(&at, f, &n)) return jfail(c, &at, "pre_tokenizer is not an object");
    char ty[64] = "";
    jstring(fget(f, n, "type"), ty, sizeof ty, NULL);
    if (!strcmp(ty, "Sequence")) {
        hc_json *a = fget(f, n, "pretokenizers");
        if (!a || !hc_json_array_begin(a)) return jfail(c, a, "pre_tokenizer Sequence without a pretokenizers array");
        int r;
        while ((r = hc_json_array_next(a)) > 0) {
            hc_status s = parse_pre(c, *a, p, depth + 1);
            if (s) return s;
            if (!hc_json_skip(a)) return jfail(c, a, "bad pre_tokenizer");
        }
        return r < 0 ? jfail(c, a, "bad pretokenizers array") : HC_OK;
    }
    if (p->n_pre >= TKZ_MAX_STEPS) return hc_fail(c->err, HC_E_LIMIT, "tokenizer '%s': more than %d pre-tokenizer steps", c->label, TKZ_MAX_STEPS);
    tkz_step *st = &p->pre[p->n_pre];
    memset(st, 0, sizeof *st);
    if (!strcmp(ty, "Split")) {
        st->type = TKZ_P_SPLIT;
        hc_json *pat = fget(f, n, "pattern");
        jfield pf[MAX_FIELDS];
        int pn;
        char re[512], beh[32] = "";
        if (!pat || !obj_fields(pat, pf, &pn) || !jstring(fget(pf, pn, "Regex"), re, sizeof re, NULL))
            return hc_fail(c->err, HC_E_UNSUPPORTED, "tokenizer '%s': pre-tokenizer Split is supported with a Regex pattern only", c->label);
        st->re = !strcmp(re, RE_GPT2) ? TKZ_RE_GPT2 : !strcmp(re, RE_LLAMA3) ? TKZ_RE_LLAMA3 : !strcmp(re, RE_QWEN2) ? TKZ_RE_QWEN2 : 0;
        if (!st->re)
            return hc_fail(c->err, HC_E_UNSUPPORTED, "tokenizer '%s': pre-tokenizer regex '%.200s' is not one of the known patterns (GPT-2, LLaMA-3, Qwen2)", c->label, re);
        jstring(fget(f, n, "behavior"), beh, sizeof beh, NULL);
        if (strcmp(beh, "Isolated") || jbool(fget(f, n, "invert"), 0))
            return hc_fail(c->err, HC_E_UNSUPPORTED, "tokenizer '%s': pre-tokenizer Split with behavior '%s'%s is not supported (Isolated is)", c->label, beh,
                           jbool(fget(f, n, "invert"), 0) ? " inverted" : "");
    } else if (!strcmp(ty, "ByteLevel")) {
        st->type = TKZ_P_BYTELEVEL;
        st->flag = jbool(fget(f, n, "add_prefix_space"), 0);
        st->re = jbool(fget(f, n, "use_regex"), 1) ? TKZ_RE_GPT2 : 0;
        p->byte_level = 1;
    } else if (!strcmp(ty, "Metaspace")) {
        st->type = TKZ_P_METASPACE;
        if (!jstring(fget(f, n, "replacement"), st->a, sizeof st->a, &st->alen)) memcpy(st->a, "\xE2\x96\x81", 4), st->alen = 3;
        char scheme[16] = "always";
        jstring(fget(f, n, "prepend_scheme"), scheme, sizeof scheme, NULL);
        st->flag = !jbool(fget(f, n, "add_prefix_space"), 1) || !strcmp(scheme, "never") ? 0 : !strcmp(scheme, "first") ? 2 : 1;
    } else {
        return hc_fail(c->err, HC_E_UNSUPPORTED, "tokenizer '%s': pre-tokenizer '%s' is not supported (Sequence, Split, ByteLevel, Metaspace are)", c->label, ty);
    }
    p->n_pre++;
    return HC_OK;
}

/* post-processor: the special tokens before and after the text */
static hc_status parse_post(jctx *c, hc_json at, hc_tkz *t, int depth) {
    if (is_null(&at)) return HC_OK;
    jfield f[MAX_FIELDS];
    int n;
    if (depth > 4 || !obj_fields(&at, f, &n)) return jfail(c, &at, "post_processor is not an object");
    if (type_is(f, n, "Sequence")) {
        hc_json *a = fget(f, n, "processors");
        if (!a || !hc_json_array_begin(a)) return jfail(c, a, "post_processor Sequence without a processors array");
        int r;
        while ((r = hc_json_array_next(a)) > 0) {
            hc_status s = parse_post(c, *a, t, depth + 1);
            if (s) return s;
            if (!hc_json_skip(a)) return jfail(c, a, "bad post_processor");
        }
        return r < 0 ? jfail(c, a, "bad processors array") : HC_OK;
    }
    if (!type_is(f, n, "TemplateProcessing")) return HC_OK; /* ByteLevel and others add no tokens */
    hc_json *a = fget(f, n, "single");
    if (!a || !hc_json_array_begin(a)) return jfail(c, a, "TemplateProcessing without a 'single' array");
    int r, seen_a = 0;
    while ((r = hc_json_array_next(a)) > 0) {
        jfield e[MAX_FIELDS];
        int en;
        hc_json item = *a;
        if (!obj_fields(&item, e, &en)) return jfail(c, &item, "bad TemplateProcessing item");
        hc_json *sp = fget(e, en, "SpecialToken");
        if (sp) {
            jfield s2[MAX_FIELDS];
            int sn;
            char name[256];
            size_t nl;
            if (!obj_fields(sp, s2, &sn) || !jstring(fget(s2, sn, "id"), name, sizeof name, &nl))
                return jfail(c, NULL, "TemplateProcessing SpecialToken without an id");
            int id = tkz_lookup(t, name, nl);
            if (id < 0 || id >= t->n_vocab)
                return hc_fail(c->err, HC_E_CORRUPT, "tokenizer '%s': post-processor token '%s' is not in the vocabulary", c->label, name);
            if (seen_a) t->eos_id = id, t->add_eos = 1;
            else t->bos_id = id, t->add_bos = 1;
        } else if (fget(e, en, "Sequence")) {
            seen_a = 1;
        }
        if (!hc_json_skip(a)) return jfail(c, a, "bad TemplateProcessing");
    }
    return r < 0 ? jfail(c, a, "bad TemplateProcessing array") : HC_OK;
}

/* tokenizer_config.json: add_bos_token, add_eos_token, bos_token, eos_token */
static int config_token(jctx *c, hc_tkz *t, hc_json *v) {
    (void)c;
    char name[256];
    size_t nl;
    if (!v) return -2;
    if (hc_json_peek(v) == HC_JSON_OBJECT) {
        jfield f[MAX_FIELDS];
        int n;
        if (!obj_fields(v, f, &n) || !jstring(fget(f, n, "content"), name, sizeof name, &nl)) return -2;
    } else if (!jstring(v, name, sizeof name, &nl)) {
        return -2;
    }
    int id = tkz_lookup(t, name, nl);
    return id >= 0 && id < t->n_vocab ? id : -2;
}

static hc_status parse_config(jctx *c, const char *buf, size_t len, hc_tkz *t) {
    hc_json j;
    hc_json_init(&j, buf, len);
    jfield f[MAX_FIELDS];
    int n;
    if (!obj_fields(&j, f, &n) || !hc_json_finish(&j))
        return hc_fail(c->err, HC_E_FORMAT, "tokenizer config of '%s': bad JSON at byte %zu: %s", c->label, j.err_pos, j.why ? j.why : "not an object");
    int bos = config_token(c, t, fget(f, n, "bos_token")), eos = config_token(c, t, fget(f, n, "eos_token"));
    if (bos >= 0) t->bos_id = bos;
    if (eos >= 0) t->eos_id = eos;
    hc_json *ab = fget(f, n, "add_bos_token"), *ae = fget(f, n, "add_eos_token");
    if (ab && hc_json_peek(ab) != HC_JSON_NULL) t->add_bos = jbool(ab, t->add_bos);
    if (ae && hc_json_peek(ae) != HC_JSON_NULL) t->add_eos = jbool(ae, t->add_eos);
    return HC_OK;
}

/* ---- the model ---- */
static hc_status decode_str(jctx *c, hc_json_str *s, char *buf, const char *what) {
    if (s->len > HC_TKZ_MAX_TOKEN_BYTES)
        return hc_fail(c->err, HC_E_LIMIT, "tokenizer '%s': %s of %zu bytes (limit %d)", c->label, what, s->len, HC_TKZ_MAX_TOKEN_BYTES);
    hc_json_str_decode(s, buf);
    return HC_OK;
}

hc_status hc_tkz_from_json(const char *buf, size_t len, const char *config, size_t config_len, const char *label,
                           hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "tokenizer.json";
    jctx c = {label, err};
    if (len > HC_TKZ_MAX_FILE) return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': %zu bytes (limit %zu)", label, len, HC_TKZ_MAX_FILE);
    hc_json j;
    hc_json_init(&j, buf, len);
    jfield top[MAX_FIELDS], mf[MAX_FIELDS];
    int tn, mn;
    if (!obj_fields(&j, top, &tn) || !hc_json_finish(&j))
        return j.status ? jfail(&c, &j, NULL) : jfail(&c, NULL, "not a JSON object");
    hc_json *model = fget(top, tn, "model");
    if (!model || !obj_fields(model, mf, &mn)) return jfail(&c, model, "no \"model\" object (not a tokenizer.json?)");
    char mtype[64] = "BPE";
    jstring(fget(mf, mn, "type"), mtype, sizeof mtype, NULL);
    if (strcmp(mtype, "BPE"))
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': model type '%s' is not supported (BPE is)", label, mtype);
    for (int k = 0; k < 2; k++) {
        char v[64];
        const char *key = k ? "end_of_word_suffix" : "continuing_subword_prefix";
        hc_json *x = fget(mf, mn, key);
        if (!is_null(x) && !(jstring(x, v, sizeof v, NULL) && !v[0]))
            return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': model.%s is not supported", label, key);
    }
    pipeline p = {0};
    hc_status s;
    hc_json *x;
    if ((x = fget(top, tn, "normalizer")) && (s = parse_normalizer(&c, *x, &p, 0))) return s;
    if ((x = fget(top, tn, "pre_tokenizer")) && (s = parse_pre(&c, *x, &p, 0))) return s;
    int kind = p.byte_level ? HC_TKZ_BPE : HC_TKZ_SPM;

    /* sizes: the largest id of the vocabulary and of the added tokens */
    hc_json *vocab = fget(mf, mn, "vocab"), *added = fget(top, tn, "added_tokens"), *merges = fget(mf, mn, "merges");
    if (!vocab || hc_json_peek(vocab) != HC_JSON_OBJECT) return jfail(&c, vocab, "model.vocab is not an object");
    int64_t max_id = -1, id;
    size_t n_vocab_entries = 0, n_added = 0, n_merges = 0;
    hc_json v = *vocab;
    hc_json_str key;
    int r;
    hc_json_object_begin(&v);
    while ((r = hc_json_object_next(&v, &key)) > 0) {
        if (!jint_take(&v, &id)) return jfail(&c, &v, "a model.vocab value is not a token id");
        if (id >= HC_TKZ_MAX_VOCAB) return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': token id %lld (limit %d tokens)", label, (long long)id, HC_TKZ_MAX_VOCAB);
        if (id > max_id) max_id = id;
        n_vocab_entries++;
    }
    if (r < 0) return jfail(&c, &v, NULL);
    if (added && !is_null(added)) {
        hc_json a = *added;
        if (!hc_json_array_begin(&a)) return jfail(&c, &a, "added_tokens is not an array");
        while ((r = hc_json_array_next(&a)) > 0) {
            jfield af[MAX_FIELDS];
            int an;
            if (!obj_fields(&a, af, &an) || !jint(fget(af, an, "id"), &id)) return jfail(&c, &a, "an added token without an id");
            if (id >= HC_TKZ_MAX_VOCAB) return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': added token id %lld (limit %d tokens)", label, (long long)id, HC_TKZ_MAX_VOCAB);
            if (id > max_id) max_id = id;
            if (++n_added > HC_TKZ_MAX_ADDED) return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': more than %d added tokens", label, HC_TKZ_MAX_ADDED);
        }
        if (r < 0) return jfail(&c, &a, NULL);
    }
    if (merges && !is_null(merges)) {
        hc_json m = *merges;
        if (!hc_json_array_begin(&m)) return jfail(&c, &m, "model.merges is not an array");
        while ((r = hc_json_array_next(&m)) > 0) {
            if (!hc_json_skip(&m)) return jfail(&c, &m, NULL);
            if (++n_merges > HC_TKZ_MAX_MERGES) return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': more than %d merges", label, HC_TKZ_MAX_MERGES);
        }
        if (r < 0) return jfail(&c, &m, NULL);
    }
    if (max_id < 0) return jfail(&c, NULL, "empty vocabulary");

    hc_tkz *t;
    if ((s = tkz_new(kind, (size_t)max_id + 1, label, &t, err))) return s;
    char *tmp = malloc(HC_TKZ_MAX_TOKEN_BYTES * 2 + 2);
    if (!tmp) {
        hc_tkz_free(t);
        return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    }
    v = *vocab;
    hc_json_object_begin(&v);
    while (!s && hc_json_object_next(&v, &key) > 0) {
        jint_take(&v, &id);
        s = decode_str(&c, &key, tmp, "a token");
        if (!s) s = tkz_set_token(t, (int)id, tmp, key.len, 0, label, err);
    }
    /* added tokens not in the vocabulary: their content */
    if (!s && added && !is_null(added)) {
        hc_json a = *added;
        hc_json_array_begin(&a);
        while (!s && hc_json_array_next(&a) > 0) {
            jfield af[MAX_FIELDS];
            int an;
            hc_json_str cs;
            obj_fields(&a, af, &an);
            jint(fget(af, an, "id"), &id);
            hc_json *ct = fget(af, an, "content");
            if (!ct || hc_json_peek(ct) != HC_JSON_STRING || !hc_json_string(ct, &cs)) {
                s = jfail(&c, NULL, "an added token without a content string");
                break;
            }
            if (tkz_token_set(t, (int)id)) continue;
            s = decode_str(&c, &cs, tmp, "an added token");
            if (!s) s = tkz_set_token(t, (int)id, tmp, cs.len, 1, label, err);
        }
    }
    if (!s) s = tkz_finish_vocab(t, label, err);
    if (!s && added && !is_null(added)) {
        hc_json a = *added;
        hc_json_array_begin(&a);
        while (!s && hc_json_array_next(&a) > 0) {
            jfield af[MAX_FIELDS];
            int an;
            obj_fields(&a, af, &an);
            jint(fget(af, an, "id"), &id);
            s = tkz_add_added(t, (int)id, jbool(fget(af, an, "special"), 0), jbool(fget(af, an, "lstrip"), 0),
                              jbool(fget(af, an, "rstrip"), 0), label, err);
        }
    }
    if (!s) s = tkz_alloc_merges(t, n_merges, label, err);
    if (!s && n_merges) {
        hc_json m = *merges;
        hc_json_array_begin(&m);
        int32_t rank = 0;
        while (!s && hc_json_array_next(&m) > 0) {
            hc_json_str a, b;
            const char *pa, *pb;
            size_t la, lb;
            if (hc_json_peek(&m) == HC_JSON_STRING) {
                if (!hc_json_string(&m, &a)) { s = jfail(&c, &m, NULL); break; }
                if ((s = decode_str(&c, &a, tmp, "a merge"))) break;
                char *sp = memchr(tmp, ' ', a.len);
                if (!sp || sp == tmp) {
                    s = hc_fail(err, HC_E_FORMAT, "tokenizer '%s': merge %d ('%.40s') is not 'left right'", label, (int)rank, tmp);
                    break;
                }
                char *e = memchr(sp + 1, ' ', (size_t)(tmp + a.len - sp - 1));
                pa = tmp;
                la = (size_t)(sp - tmp);
                pb = sp + 1;
                lb = (size_t)((e ? e : tmp + a.len) - pb);
            } else {
                if (!hc_json_array_begin(&m) || hc_json_array_next(&m) <= 0 || !hc_json_string(&m, &a) ||
                    hc_json_array_next(&m) <= 0 || !hc_json_string(&m, &b) || hc_json_array_next(&m) != 0) {
                    s = hc_fail(err, HC_E_FORMAT, "tokenizer '%s': merge %d is neither \"a b\" nor [a, b]", label, (int)rank);
                    break;
                }
                if ((s = decode_str(&c, &a, tmp, "a merge")) || (s = decode_str(&c, &b, tmp + HC_TKZ_MAX_TOKEN_BYTES + 1, "a merge"))) break;
                pa = tmp;
                la = a.len;
                pb = tmp + HC_TKZ_MAX_TOKEN_BYTES + 1;
                lb = b.len;
            }
            s = tkz_add_merge(t, pa, la, pb, lb, rank++, label, err);
        }
    }
    char unk[256];
    size_t ul;
    if (!s && jstring(fget(mf, mn, "unk_token"), unk, sizeof unk, &ul)) {
        t->unk_id = tkz_lookup(t, unk, ul);
        if (t->unk_id >= t->n_vocab) t->unk_id = -1;
    }
    if (!s) {
        t->byte_fallback = jbool(fget(mf, mn, "byte_fallback"), 0);
        t->fuse_unk = jbool(fget(mf, mn, "fuse_unk"), 0);
        t->ignore_merges = jbool(fget(mf, mn, "ignore_merges"), 0);
        memcpy(t->norm, p.norm, sizeof p.norm);
        memcpy(t->pre, p.pre, sizeof p.pre);
        t->n_norm = p.n_norm;
        t->n_pre = p.n_pre;
        tkz_finish(t);
        if (kind == HC_TKZ_SPM) {
            t->spm_space = 1;
            for (int k = 0; k < t->n_norm; k++)
                if (t->norm[k].type == TKZ_N_PREPEND) t->strip_first_space = 1;
            for (int k = 0; k < t->n_pre; k++)
                if (t->pre[k].type == TKZ_P_METASPACE && t->pre[k].flag) t->strip_first_space = 1;
        }
        if ((x = fget(top, tn, "post_processor"))) s = parse_post(&c, *x, t, 0);
    }
    if (!s && config) s = parse_config(&c, config, config_len, t);
    free(tmp);
    if (s) {
        hc_tkz_free(t);
        return s;
    }
    *out = t;
    return HC_OK;
}

int hc_tkz_is_json(const void *buf, size_t len) {
    const char *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    if (i == len || p[i] != '{') return 0;
    /* '{' then a key or '}' (a llama2.c file whose max_token_length is 123 has NUL bytes here) */
    for (i++; i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'); i++) {}
    return i < len && (p[i] == '"' || p[i] == '}');
}

/* ---- llama2.c tokenizer.bin ---- */
static hc_status from_llama2c(const uint8_t *p, size_t len, const char *label, hc_tkz **out, hc_error *err) {
    if (len < 4) return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %zu bytes, neither a tokenizer.json nor a llama2.c tokenizer", label, len);
    static const uint8_t hyc_magic[4] = {0x89, 'H', 'Y', 'C'};
    if (!memcmp(p, "GGUF", 4))
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': this is a GGUF file; its tokenizer.ggml.* vocabulary is not read here", label);
    if (!memcmp(p, hyc_magic, 4))
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': this is a .hyc container, not a tokenizer file", label);
    if (len >= 9 && p[8] == '{' && hc_get_u32(p + 4) == 0)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': this looks like a safetensors file, not a tokenizer", label);
    int32_t max_len = (int32_t)hc_get_u32(p);
    if (max_len <= 0 || max_len > HC_TKZ_MAX_TOKEN_BYTES)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': neither a tokenizer.json nor a llama2.c tokenizer (max_token_length %d)", label, (int)max_len);
    size_t count = 0;
    for (size_t pos = 4; pos < len; count++) {
        if (len - pos < 8) return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': token %zu cut short", label, count);
        int32_t n = (int32_t)hc_get_u32(p + pos + 4);
        if (n < 0 || n > max_len || (size_t)n > len - pos - 8)
            return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': token %zu has a bad length %d", label, count, (int)n);
        pos += 8 + (size_t)n;
        if (count >= HC_TKZ_MAX_VOCAB) return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': more than %d tokens", label, HC_TKZ_MAX_VOCAB);
    }
    const char **toks = malloc((count + 1) * sizeof *toks);
    size_t *lens = malloc((count + 1) * sizeof *lens);
    float *scores = malloc((count + 1) * sizeof *scores);
    hc_status s;
    if (!toks || !lens || !scores) {
        s = hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    } else {
        size_t pos = 4;
        for (size_t i = 0; i < count; i++) {
            scores[i] = hc_get_f32(p + pos);
            if (!(scores[i] > -1e10f)) scores[i] = -1e30f; /* llama2.c never merges into these */
            lens[i] = hc_get_u32(p + pos + 4);
            toks[i] = (const char *)p + pos + 8;
            pos += 8 + lens[i];
        }
        hc_tok_vocab v = {0};
        v.kind = HC_TKZ_SPM;
        v.n_tokens = count;
        v.tokens = toks;
        v.token_lens = lens;
        v.scores = scores;
        v.bos_id = count > 1 ? 1 : -1;
        v.eos_id = count > 2 ? 2 : -1;
        v.unk_id = -1;
        v.add_bos = 1;
        v.add_space_prefix = 1;
        s = hc_tkz_from_vocab(&v, label, out, err);
    }
    free(toks);
    free(lens);
    free(scores);
    return s;
}

hc_status tkz_from_llama2c(const void *p, size_t len, const char *label, hc_tkz **out, hc_error *err) {
    return from_llama2c(p, len, label, out, err);
}

hc_status hc_tkz_open(const char *path, hc_tkz **out, hc_error *err) {
    *out = NULL;
    hc_map m;
    hc_status s = hc_map_file(path, &m, err);
    if (s) return s;
    /* a GGUF's tokenizer.ggml.* vocabulary; what a .hyc stores (tokenizer_gguf.c) */
    static const uint8_t hyc_magic[4] = {0x89, 'H', 'Y', 'C'};
    int gguf = m.len >= 4 && !memcmp(m.ptr, "GGUF", 4), hyc = m.len >= 4 && !memcmp(m.ptr, hyc_magic, 4);
    if (gguf || hyc) {
        hc_unmap(&m);
        return gguf ? hc_tkz_from_gguf_file(path, out, err) : hc_tkz_open_hyc(path, out, err);
    }
    size_t pl = strlen(path);
    if ((pl >= 6 && !strcmp(path + pl - 6, ".model")) || hc_tkz_is_spm(m.ptr, (size_t)m.len)) {
        s = hc_tkz_from_spm(m.ptr, (size_t)m.len, path, out, err); /* SentencePiece (tokenizer_spm.c) */
        hc_unmap(&m);
        return s;
    }
    if (!hc_tkz_is_json(m.ptr, (size_t)m.len)) {
        s = from_llama2c(m.ptr, (size_t)m.len, path, out, err);
        hc_unmap(&m);
        return s;
    }
    /* tokenizer_config.json beside it */
    char cfg_path[4096];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    hc_map cm = {0};
    int have_cfg = 0;
    if (snprintf(cfg_path, sizeof cfg_path, "%.*stokenizer_config.json", dl, path) < (int)sizeof cfg_path) {
        FILE *f = fopen(cfg_path, "rb");
        if (f) {
            fclose(f);
            if ((s = hc_map_file(cfg_path, &cm, err))) {
                hc_unmap(&m);
                return s;
            }
            have_cfg = 1;
        }
    }
    s = hc_tkz_from_json((const char *)m.ptr, (size_t)m.len, have_cfg ? (const char *)cm.ptr : NULL,
                         have_cfg ? (size_t)cm.len : 0, path, out, err);
    if (have_cfg) hc_unmap(&cm);
    hc_unmap(&m);
    return s;
}
