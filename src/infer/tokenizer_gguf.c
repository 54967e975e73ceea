/* tokenizer_gguf.c — tokenizers from GGUF metadata (tokenizer.ggml.* keys,
 * read through the GGUF reader of src/io/gguf.h) and from what a .hyc
 * stores (its tokenizer attachment, else the GGUF header it keeps).
 *
 * Mapping (GGUF's published key set; defaults as llama.cpp applies them):
 *   tokenizer.ggml.model      "llama" -> HC_TKZ_SPM (merge order from scores),
 *                             "gpt2"  -> HC_TKZ_BPE (byte-level, merges required);
 *                             anything else is refused by name
 *   tokenizer.ggml.tokens     array of strings (required, non-empty)
 *   tokenizer.ggml.scores     array of float32, one per token (llama: required)
 *   tokenizer.ggml.token_type array of int32, one per token (optional)
 *   tokenizer.ggml.merges     array of strings "left right" (gpt2; both parts
 *                             must be tokens); ignored for llama, as llama.cpp does
 *   tokenizer.ggml.bos_token_id / eos_token_id / unknown_token_id
 *                             (llama defaults 1 / 2 / 0; gpt2: none); an id
 *                             outside the vocabulary keeps the default
 *   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix
 *                             (llama: BOS yes, space prefix yes; gpt2: BOS only
 *                             for the LLaMA-3 pre-tokenizers)
 *   tokenizer.ggml.pre        gpt2 only: the pre-tokenizer, mapped to one the
 *                             core has (GPT-2, LLaMA-3, Qwen2 regexes), else refused. */
#include "hyperc_tok.h"
#include "tokenizer_int.h"
#include "../io/gguf.h"
#include "../common/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_MODEL "tokenizer.ggml.model"
#define K_TOKENS "tokenizer.ggml.tokens"
#define K_SCORES "tokenizer.ggml.scores"
#define K_TYPES "tokenizer.ggml.token_type"
#define K_MERGES "tokenizer.ggml.merges"
#define K_PRE "tokenizer.ggml.pre"

/* GGUF pre-tokenizer names -> the core's (hc_tok_vocab.pre); add_bos: llama.cpp's default */
static const struct { const char *gguf, *core; int add_bos; } pre_map[] = {
    {"default", "gpt2", 0},   {"gpt-2", "gpt2", 0},        {"gpt2", "gpt2", 0},         {"phi-2", "gpt2", 0},
    {"roberta-bpe", "gpt2", 0}, {"mpt", "gpt2", 0},        {"olmo", "gpt2", 0},         {"jais", "gpt2", 0},
    {"jina-es", "gpt2", 0},   {"jina-de", "gpt2", 0},      {"jina-v1-en", "gpt2", 0},   {"jina-v2-es", "gpt2", 0},
    {"jina-v2-de", "gpt2", 0}, {"jina-v2-code", "gpt2", 0}, {"gigachat", "gpt2", 0},
    {"llama3", "llama3", 1},  {"llama-v3", "llama3", 1},   {"llama-bpe", "llama3", 1},  {"falcon3", "llama3", 1},
    {"qwen2", "qwen2", 0},    {"deepseek-r1-qwen", "qwen2", 0}, {"megrez", "qwen2", 0}, {"stablelm2", "qwen2", 0},
};

static int key_is(const hc_gguf *g, const char *key, const char *s, size_t n) {
    const char *v;
    size_t l;
    return hc_gguf_get_str(g, key, &v, &l) && l == n && !memcmp(v, s, n);
}

/* an optional bool/int key; 1 if present */
static int get_flag(const hc_gguf *g, const char *key, int *v) {
    int64_t x;
    if (!hc_gguf_get_int(g, key, &x)) return 0;
    *v = x != 0;
    return 1;
}

static void get_id(const hc_gguf *g, const char *key, size_t n_tokens, int *id) {
    int64_t x;
    if (hc_gguf_get_int(g, key, &x) && x >= 0 && (uint64_t)x < n_tokens) *id = (int)x;
}

/* a top-level array of the given element type; n its length. 0: absent.
 * -1: present with another type (error set). */
static int get_array(const hc_gguf *g, const char *key, uint32_t want, uint64_t *n, const char *label,
                     hc_error *err) {
    uint32_t et;
    if (hc_gguf_find_key(g, key) < 0) return 0;
    if (!hc_gguf_get_array(g, key, &et, n)) {
        hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %s is not an array", label, key);
        return -1;
    }
    if (et != want) {
        /* an empty array's element type does not matter */
        if (*n == 0) return 1;
        hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %s is an array of %s, not of %s", label, key,
                hc_gguf_type_name(et), hc_gguf_type_name(want));
        return -1;
    }
    return 1;
}

static uint64_t hash_str(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* every merge's two parts must be tokens (compared as the GGUF stores both) */
static hc_status check_merges(const hc_tok_vocab *v, const char *label, hc_error *err) {
    size_t cap = 16;
    while (cap < 2 * v->n_tokens) cap <<= 1;
    int32_t *tab = malloc(cap * sizeof *tab);
    if (!tab) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    memset(tab, 0xff, cap * sizeof *tab);
    for (size_t i = 0; i < v->n_tokens; i++) {
        size_t j = (size_t)hash_str(v->tokens[i], v->token_lens[i]) & (cap - 1);
        while (tab[j] >= 0) j = (j + 1) & (cap - 1);
        tab[j] = (int32_t)i;
    }
    hc_status s = HC_OK;
    for (size_t i = 0; i < v->n_merges && !s; i++) {
        const char *m = v->merges[i];
        size_t n = v->merge_lens[i];
        const char *sp = memchr(m, ' ', n);
        if (!sp || sp == m) {
            s = hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %s[%zu] ('%.*s') is not 'left right'", label, K_MERGES, i,
                        (int)(n > 60 ? 60 : n), m);
            break;
        }
        const char *part[2] = {m, sp + 1};
        const char *e = memchr(part[1], ' ', (size_t)(m + n - part[1]));
        size_t plen[2] = {(size_t)(sp - m), (size_t)((e ? e : m + n) - part[1])};
        for (int k = 0; k < 2 && !s; k++) {
            size_t j = (size_t)hash_str(part[k], plen[k]) & (cap - 1);
            int found = 0;
            for (; tab[j] >= 0 && !found; j = (j + 1) & (cap - 1))
                found = v->token_lens[tab[j]] == plen[k] && !memcmp(v->tokens[tab[j]], part[k], plen[k]);
            if (!found)
                s = hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s[%zu] ('%.*s') has %s part '%.*s', which is not a token",
                            label, K_MERGES, i, (int)(n > 60 ? 60 : n), m, k ? "a right" : "a left",
                            (int)(plen[k] > 40 ? 40 : plen[k]), part[k]);
        }
    }
    free(tab);
    return s;
}

hc_status hc_tkz_from_gguf(const hc_gguf *g, const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "GGUF";
    const char *ms;
    size_t ml;
    if (hc_gguf_find_key(g, K_MODEL) < 0)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': the GGUF has no %s key (no vocabulary stored)", label, K_MODEL);
    if (!hc_gguf_get_str(g, K_MODEL, &ms, &ml))
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %s is not a string", label, K_MODEL);
    hc_tok_vocab v;
    memset(&v, 0, sizeof v);
    if (ml == 5 && !memcmp(ms, "llama", 5)) v.kind = HC_TKZ_SPM;
    else if (ml == 4 && !memcmp(ms, "gpt2", 4)) v.kind = HC_TKZ_BPE;
    else
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': %s '%.*s' is not supported ('llama' and 'gpt2' are)",
                       label, K_MODEL, (int)(ml > 40 ? 40 : ml), ms);

    uint64_t n_tok = 0, n_sc = 0, n_ty = 0, n_mer = 0;
    int r = get_array(g, K_TOKENS, HC_GGUF_STRING, &n_tok, label, err);
    if (r < 0) return HC_E_FORMAT;
    if (r == 0 || n_tok == 0)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %s is %s", label, K_TOKENS, r ? "empty" : "missing");
    if (n_tok > HC_TKZ_MAX_VOCAB)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': %s has %llu tokens (limit %d)", label, K_TOKENS,
                       (unsigned long long)n_tok, HC_TKZ_MAX_VOCAB);
    int has_sc = get_array(g, K_SCORES, HC_GGUF_FLOAT32, &n_sc, label, err);
    if (has_sc < 0) return HC_E_FORMAT;
    int has_ty = get_array(g, K_TYPES, HC_GGUF_INT32, &n_ty, label, err);
    if (has_ty < 0) return HC_E_FORMAT;
    int has_mer = v.kind == HC_TKZ_BPE ? get_array(g, K_MERGES, HC_GGUF_STRING, &n_mer, label, err) : 0;
    if (has_mer < 0) return HC_E_FORMAT;
    if (has_sc && n_sc != n_tok)
        return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s has %llu values for %llu tokens", label, K_SCORES,
                       (unsigned long long)n_sc, (unsigned long long)n_tok);
    if (has_ty && n_ty != n_tok)
        return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s has %llu values for %llu tokens", label, K_TYPES,
                       (unsigned long long)n_ty, (unsigned long long)n_tok);
    if (v.kind == HC_TKZ_SPM && !has_sc)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': a 'llama' vocabulary needs %s (missing)", label, K_SCORES);
    if (v.kind == HC_TKZ_BPE && !has_mer)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': a 'gpt2' vocabulary needs %s (missing)", label, K_MERGES);
    if (n_mer > HC_TKZ_MAX_MERGES)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': %s has %llu entries (limit %d)", label, K_MERGES,
                       (unsigned long long)n_mer, HC_TKZ_MAX_MERGES);

    /* pre-tokenizer (gpt2 only) and the defaults that go with it */
    char pre[64] = "";
    int pre_bos = 0;
    if (v.kind == HC_TKZ_BPE) {
        const char *ps = "";
        size_t pl = 0;
        int found = 0;
        if (hc_gguf_find_key(g, K_PRE) < 0 || (hc_gguf_get_str(g, K_PRE, &ps, &pl) && pl == 0)) {
            snprintf(pre, sizeof pre, "gpt2"); /* llama.cpp: missing means 'default' */
            found = 1;
        } else if (!hc_gguf_get_str(g, K_PRE, &ps, &pl)) {
            return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %s is not a string", label, K_PRE);
        }
        for (size_t i = 0; !found && i < sizeof pre_map / sizeof pre_map[0]; i++)
            if (key_is(g, K_PRE, pre_map[i].gguf, strlen(pre_map[i].gguf))) {
                snprintf(pre, sizeof pre, "%s", pre_map[i].core);
                pre_bos = pre_map[i].add_bos;
                found = 1;
            }
        if (!found)
            return hc_fail(err, HC_E_UNSUPPORTED,
                           "tokenizer '%s': pre-tokenizer %s '%.*s' is not supported (GPT-2-style 'default'/'gpt-2', "
                           "LLaMA-3-style 'llama-bpe'/'llama3', Qwen2-style 'qwen2' are)",
                           label, K_PRE, (int)(pl > 40 ? 40 : pl), ps);
    }

    v.n_tokens = (size_t)n_tok;
    v.n_merges = (size_t)n_mer;
    const char **toks = calloc(v.n_tokens, sizeof *toks);
    size_t *tl = calloc(v.n_tokens, sizeof *tl);
    float *sc = has_sc ? calloc(v.n_tokens, sizeof *sc) : NULL;
    int32_t *ty = has_ty ? calloc(v.n_tokens, sizeof *ty) : NULL;
    const char **mer = n_mer ? calloc(v.n_merges, sizeof *mer) : NULL;
    size_t *mel = n_mer ? calloc(v.n_merges, sizeof *mel) : NULL;
    hc_status s = HC_OK;
    if (!toks || !tl || (has_sc && !sc) || (has_ty && !ty) || (n_mer && (!mer || !mel)))
        s = hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory for %zu tokens", label, v.n_tokens);
    for (size_t i = 0; !s && i < v.n_tokens; i++) {
        double d;
        int64_t x;
        if (!hc_gguf_array_str(g, K_TOKENS, i, &toks[i], &tl[i]))
            s = hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s[%zu] cannot be read", label, K_TOKENS, i);
        else if (sc && !hc_gguf_array_float(g, K_SCORES, i, &d))
            s = hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s[%zu] cannot be read", label, K_SCORES, i);
        else if (ty && !hc_gguf_array_int(g, K_TYPES, i, &x))
            s = hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s[%zu] cannot be read", label, K_TYPES, i);
        else {
            if (sc) sc[i] = (float)d;
            if (ty) ty[i] = (int32_t)x;
        }
    }
    for (size_t i = 0; !s && i < v.n_merges; i++)
        if (!hc_gguf_array_str(g, K_MERGES, i, &mer[i], &mel[i]))
            s = hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %s[%zu] cannot be read", label, K_MERGES, i);
    if (!s) {
        v.tokens = toks;
        v.token_lens = tl;
        v.scores = sc;
        v.types = ty;
        v.merges = mer;
        v.merge_lens = mel;
        v.bos_id = v.eos_id = v.unk_id = -1;
        if (v.kind == HC_TKZ_SPM) {
            v.bos_id = n_tok > 1 ? 1 : -1;
            v.eos_id = n_tok > 2 ? 2 : -1;
            v.unk_id = 0;
            v.add_bos = 1;
            v.add_space_prefix = 1;
        } else {
            v.add_bos = pre_bos;
            v.pre = pre;
        }
        get_id(g, "tokenizer.ggml.bos_token_id", v.n_tokens, &v.bos_id);
        get_id(g, "tokenizer.ggml.eos_token_id", v.n_tokens, &v.eos_id);
        get_id(g, "tokenizer.ggml.unknown_token_id", v.n_tokens, &v.unk_id);
        get_flag(g, "tokenizer.ggml.add_bos_token", &v.add_bos);
        get_flag(g, "tokenizer.ggml.add_eos_token", &v.add_eos);
        get_flag(g, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix);
        s = v.n_merges ? check_merges(&v, label, err) : HC_OK;
        if (!s) s = hc_tkz_from_vocab(&v, label, out, err);
    }
    free(toks);
    free(tl);
    free(sc);
    free(ty);
    free(mer);
    free(mel);
    return s;
}

hc_status hc_tkz_from_gguf_file(const char *path, hc_tkz **out, hc_error *err) {
    *out = NULL;
    hc_gguf *g;
    hc_status s = hc_gguf_open(path, &g, err);
    if (s) return hc_error_context(err, s, "tokenizer '%s'", path);
    s = hc_tkz_from_gguf(g, path, out, err);
    hc_gguf_close(g);
    return s;
}

hc_status hc_tkz_from_gguf_mem(const void *buf, size_t len, const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "GGUF";
    hc_gguf *g;
    hc_status s = hc_gguf_open_mem(buf, len, label, &g, err);
    if (s) return hc_error_context(err, s, "tokenizer '%s'", label);
    s = hc_tkz_from_gguf(g, label, out, err);
    hc_gguf_close(g);
    return s;
}

hc_status hc_tkz_from_gguf_meta(const void *blob, size_t len, const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "GGUF metadata";
    hc_gguf *g;
    uint64_t file_len;
    hc_status s = hc_gguf_blob_open(blob, len, label, &g, &file_len, err);
    if (s) return hc_error_context(err, s, "tokenizer '%s'", label);
    s = hc_tkz_from_gguf(g, label, out, err);
    hc_gguf_close(g);
    return s;
}

/* ---- what a .hyc stores ------------------------------------------------------------ */
long hc_tkz_hyc_attachment(const hc_hyc *h) {
    for (size_t i = 0; i < hc_hyc_attachment_count(h); i++)
        if (hc_hyc_attachment_get(h, i)->flags & HC_ATTACH_TOKENIZER) return (long)i;
    long k = hc_hyc_attachment_find(h, "tokenizer.json");
    if (k < 0) k = hc_hyc_attachment_find(h, "tokenizer.model");
    return k >= 0 ? k : hc_hyc_attachment_find(h, "tokenizer.bin");
}

int hc_tkz_hyc_has_gguf_vocab(const hc_hyc *h) {
    size_t n;
    const char *m = hc_hyc_metadata(h, &n);
    return m && hc_gguf_is_gguf(m, n);
}

hc_status hc_tkz_from_bytes(const char *name, const void *buf, size_t len, const char *config, size_t config_len,
                            const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    size_t l = name ? strlen(name) : 0;
    if (hc_tkz_is_json(buf, len)) return hc_tkz_from_json(buf, len, config, config_len, label, out, err);
    if (hc_gguf_is_gguf(buf, len)) return hc_tkz_from_gguf_mem(buf, len, label, out, err);
    if ((l >= 6 && !strcmp(name + l - 6, ".model")) || hc_tkz_is_spm(buf, len))
        return hc_tkz_from_spm(buf, len, label, out, err);
    return tkz_from_llama2c(buf, len, label, out, err);
}

hc_status hc_tkz_from_hyc(const hc_hyc *h, const char *path, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!path) path = ".hyc";
    long pick = hc_tkz_hyc_attachment(h);
    if (pick >= 0) {
        const hc_hyc_attachment *a = hc_hyc_attachment_get(h, (size_t)pick);
        char label[HC_ATTACH_NAME_MAX + 4200];
        snprintf(label, sizeof label, "%s stored in %.4000s", a->name, path);
        const uint8_t *p, *cp = NULL;
        hc_status s = hc_hyc_attachment_data(h, (size_t)pick, &p, err);
        if (s) return hc_error_context(err, s, "tokenizer '%s'", label);
        /* a stored tokenizer.json takes the stored tokenizer_config.json, as a file takes the one beside it */
        long c = hc_tkz_is_json(p, (size_t)a->size) ? hc_hyc_attachment_find(h, "tokenizer_config.json") : -1;
        size_t cl = 0;
        if (c >= 0) {
            if ((s = hc_hyc_attachment_data(h, (size_t)c, &cp, err))) return hc_error_context(err, s, "'%s'", path);
            cl = (size_t)hc_hyc_attachment_get(h, (size_t)c)->size;
        }
        return hc_tkz_from_bytes(a->name, p, (size_t)a->size, (const char *)cp, cl, label, out, err);
    }
    size_t n;
    const char *m = hc_hyc_metadata(h, &n);
    if (m && hc_gguf_is_gguf(m, n)) {
        char label[4200];
        snprintf(label, sizeof label, "GGUF metadata of %.4000s", path);
        return hc_tkz_from_gguf_meta(m, n, label, out, err);
    }
    return hc_fail(err, HC_E_FORMAT,
                   "'%s' stores no tokenizer (no tokenizer attachment: give one with compress --tokenizer T; no GGUF "
                   "vocabulary)", path);
}

hc_status hc_tkz_open_hyc(const char *path, hc_tkz **out, hc_error *err) {
    *out = NULL;
    hc_hyc *h;
    hc_status s = hc_hyc_open(path, &h, err);
    if (s) return hc_error_context(err, s, "tokenizer '%s'", path);
    s = hc_tkz_from_hyc(h, path, out, err);
    hc_hyc_close(h);
    return s;
}
