/* tokenizer_core.c — the BPE tokenizer core behind hyperc_tok.h: vocabulary
 * and merge tables, added tokens, and vocabularies built from arrays (GGUF
 * tokenizer.ggml.*, llama2.c tokenizer.bin). The pipeline that uses them
 * (normalizer, pre-tokenizer, BPE, byte fallback, BOS/EOS) and decoding are
 * in tokenizer_bpe.c.
 *
 * Symbols are byte strings: for byte-level (GPT-2) vocabularies the pieces
 * are mapped back to raw bytes when loaded, so BPE runs on the text's bytes
 * and decoding is concatenation. Merges are a hash of (left, right) symbol
 * pairs; a merge whose parts or result are not tokens gets a symbol of its
 * own, so BPE behaves as the string-based reference implementations do. BPE
 * keeps candidate pairs in a heap ordered by (rank or -score, start of the
 * left symbol) and skips stale entries, which is the merge order of
 * transformers.js (rank + position bias) and llama.cpp's SPM (score, left). */
#include "tokenizer_int.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------ */
static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

uint32_t tkz_utf8(const unsigned char *s, size_t n, size_t *len) {
    unsigned c = s[0];
    *len = 1;
    if (c < 0x80) return c;
    int need = c >= 0xF0 && c < 0xF5 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : -1;
    if (c >= 0xF5) need = -1;
    if (need < 0 || (size_t)need >= n) return 0xFFFD;
    uint32_t v = c & (0x3F >> need);
    for (int k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0xFFFD;
        v = (v << 6) | (s[k] & 0x3F);
    }
    if ((need == 2 && v < 0x800) || (need == 3 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v < 0xE000))
        return 0xFFFD;
    *len = (size_t)need + 1;
    return v;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * others (0-32, 127-160, 173) to 256, 257, ... in byte order. */
uint32_t tkz_byte_cp(int b) {
    if (b <= 32) return 256u + (uint32_t)b;
    if (b >= 127 && b <= 160) return 256u + 33u + (uint32_t)(b - 127);
    if (b == 173) return 323u;
    return (uint32_t)b;
}

int tkz_cp_byte(uint32_t cp) {
    if (cp < 256) return (cp <= 32 || (cp >= 127 && cp <= 160) || cp == 173) ? -1 : (int)cp;
    if (cp < 289) return (int)(cp - 256);
    if (cp < 323) return (int)(127 + cp - 289);
    return cp == 323 ? 173 : -1;
}

int tkz_unmap_bytes(const char *s, size_t n, char *out, size_t *out_n) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = tkz_utf8((const unsigned char *)s + i, n - i, &l);
        int b = tkz_cp_byte(cp);
        if (b < 0) return 0;
        out[o++] = (char)b;
        i += l;
    }
    *out_n = o;
    return 1;
}

/* ---- building ------------------------------------------------------------------- */
hc_status tkz_new(int kind, size_t n_vocab, const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (n_vocab == 0 || n_vocab > HC_TKZ_MAX_VOCAB)
        return hc_fail(err, n_vocab ? HC_E_LIMIT : HC_E_FORMAT, "tokenizer '%s': %zu tokens (1..%d supported)", label,
                       n_vocab, HC_TKZ_MAX_VOCAB);
    hc_tkz *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->kind = kind;
    t->n_vocab = t->n_sym = (int)n_vocab;
    t->cap_sym = (int)n_vocab;
    t->off = calloc(n_vocab + 1, sizeof *t->off);
    t->flags = calloc(n_vocab, 1);
    t->blob_cap = 16 * n_vocab;
    t->blob = malloc(t->blob_cap);
    t->unk_id = t->bos_id = t->eos_id = -1;
    if (!t->off || !t->flags || !t->blob) goto nomem;
    *out = t;
    return HC_OK;
nomem:
    hc_tkz_free(t);
    return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory for %zu tokens", label, n_vocab);
}

static int blob_reserve(hc_tkz *t, size_t more) {
    if (t->blob_len + more <= t->blob_cap) return 1;
    size_t cap = t->blob_cap * 2;
    while (cap < t->blob_len + more) cap *= 2;
    if (cap > UINT32_MAX) return 0;
    char *nb = realloc(t->blob, cap);
    if (!nb) return 0;
    t->blob = nb;
    t->blob_cap = cap;
    return 1;
}

/* Pieces are first appended in any order with their id; tkz_finish_vocab
 * sorts them into place. While loading, pend[] records (id, offset, len). */
typedef struct pend_tok { uint32_t off, len; } pend_tok;

hc_status tkz_set_token(hc_tkz *t, int id, const char *s, size_t n, int raw, const char *label, hc_error *err) {
    if (id < 0 || id >= t->n_vocab)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': token id %d outside 0..%d", label, id, t->n_vocab - 1);
    if (n > HC_TKZ_MAX_TOKEN_BYTES)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': token %d is %zu bytes long (limit %d)", label, id, n,
                       HC_TKZ_MAX_TOKEN_BYTES);
    if (t->flags[id] & 0x80) return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': token id %d given twice", label, id);
    char tmp[HC_TKZ_MAX_TOKEN_BYTES];
    size_t m = n;
    if (!raw && t->kind == HC_TKZ_BPE && tkz_unmap_bytes(s, n, tmp, &m)) s = tmp;
    else m = n;
    if (!blob_reserve(t, m + 8)) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    /* record: id (4 bytes), length (4 bytes), bytes; laid out by finish */
    hc_put_u32((uint8_t *)t->blob + t->blob_len, (uint32_t)id);
    hc_put_u32((uint8_t *)t->blob + t->blob_len + 4, (uint32_t)m);
    memcpy(t->blob + t->blob_len + 8, s, m);
    t->blob_len += 8 + m;
    t->flags[id] |= 0x80;
    return HC_OK;
}

static int tab_insert(hc_tkz *t, int32_t sym, int replace) {
    const char *s = t->blob + t->off[sym];
    size_t n = t->off[sym + 1] - t->off[sym];
    for (uint32_t i = hash_bytes(s, n) & t->tab_mask;; i = (i + 1) & t->tab_mask) {
        int32_t o = t->tab[i];
        if (o < 0) {
            t->tab[i] = sym;
            return 1;
        }
        if (t->off[o + 1] - t->off[o] == n && memcmp(t->blob + t->off[o], s, n) == 0) {
            if (replace) t->tab[i] = sym;
            return 0;
        }
    }
}

int tkz_lookup(const hc_tkz *t, const char *s, size_t n) {
    for (uint32_t i = hash_bytes(s, n) & t->tab_mask;; i = (i + 1) & t->tab_mask) {
        int32_t id = t->tab[i];
        if (id < 0) return -1;
        if (t->off[id + 1] - t->off[id] == n && memcmp(t->blob + t->off[id], s, n) == 0) return id;
    }
}

static hc_status tab_alloc(hc_tkz *t, size_t n_entries, const char *label, hc_error *err) {
    uint32_t cap = 64;
    while (cap < 2 * n_entries) cap *= 2;
    free(t->tab);
    t->tab = malloc((size_t)cap * sizeof *t->tab);
    if (!t->tab) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    memset(t->tab, 0xff, (size_t)cap * sizeof *t->tab);
    t->tab_mask = cap - 1;
    return HC_OK;
}

hc_status tkz_finish_vocab(hc_tkz *t, const char *label, hc_error *err) {
    /* gather records into id order */
    size_t total = t->blob_len;
    pend_tok *p = calloc((size_t)t->n_vocab, sizeof *p);
    if (!p) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    size_t payload = 0;
    for (size_t at = 0; at < total;) {
        uint32_t id = hc_get_u32((const uint8_t *)t->blob + at), len = hc_get_u32((const uint8_t *)t->blob + at + 4);
        p[id].off = (uint32_t)(at + 8);
        p[id].len = len;
        payload += len;
        at += 8 + len;
    }
    char *nb = malloc(payload + 64);
    if (!nb) {
        free(p);
        return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    }
    uint32_t o = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        t->off[i] = o;
        memcpy(nb + o, t->blob + p[i].off, p[i].len); /* missing ids: empty */
        o += p[i].len;
        t->flags[i] &= 0x7f;
    }
    t->off[t->n_vocab] = o;
    free(p);
    free(t->blob);
    t->blob = nb;
    t->blob_len = o;
    t->blob_cap = payload + 64;
    hc_status s = tab_alloc(t, (size_t)t->n_vocab, label, err);
    if (s) return s;
    for (int i = 0; i < t->n_vocab; i++)
        if (t->off[i + 1] > t->off[i]) tab_insert(t, i, 0);
    return HC_OK;
}

void tkz_override(hc_tkz *t, int id) {
    if (t->off[id + 1] > t->off[id]) tab_insert(t, id, 1);
}

/* A symbol for bytes s[0..n): a token, or a new symbol (merge parts and
 * results that are not tokens). -1 when out of memory. */
static int32_t sym_for(hc_tkz *t, const char *s, size_t n) {
    int id = tkz_lookup(t, s, n);
    if (id >= 0) return id;
    if (t->n_sym == t->cap_sym) {
        int cap = t->cap_sym * 2;
        uint32_t *no = realloc(t->off, ((size_t)cap + 1) * sizeof *no);
        if (!no) return -1;
        t->off = no;
        t->cap_sym = cap;
    }
    /* the hash table holds at most half its size */
    if ((uint32_t)(t->n_sym + 1) * 2 > t->tab_mask + 1) {
        uint32_t cap = (t->tab_mask + 1) * 2;
        int32_t *nt = malloc((size_t)cap * sizeof *nt);
        if (!nt) return -1;
        free(t->tab);
        t->tab = nt;
        memset(t->tab, 0xff, (size_t)cap * sizeof *t->tab);
        t->tab_mask = cap - 1;
        for (int i = 0; i < t->n_sym; i++)
            if (t->off[i + 1] > t->off[i]) tab_insert(t, i, 0);
        /* added tokens win again */
        for (size_t k = 0; k < t->n_added; k++) tkz_override(t, t->added[k].id);
    }
    if (!blob_reserve(t, n)) return -1;
    memcpy(t->blob + t->blob_len, s, n);
    t->blob_len += n;
    int32_t sym = t->n_sym++;
    t->off[sym + 1] = (uint32_t)t->blob_len;
    tab_insert(t, sym, 0);
    return sym;
}

hc_status tkz_alloc_merges(hc_tkz *t, size_t n, const char *label, hc_error *err) {
    if (n > HC_TKZ_MAX_MERGES)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': %zu merges (limit %d)", label, n, HC_TKZ_MAX_MERGES);
    uint32_t cap = 64;
    while (cap < 2 * n) cap *= 2;
    t->mkey = calloc(cap, sizeof *t->mkey);
    t->mrank = malloc((size_t)cap * sizeof *t->mrank);
    t->mres = malloc((size_t)cap * sizeof *t->mres);
    if (!t->mkey || !t->mrank || !t->mres) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory for %zu merges", label, n);
    t->mmask = cap - 1;
    t->n_merges = 0;
    return HC_OK;
}

hc_status tkz_add_merge(hc_tkz *t, const char *a, size_t an, const char *b, size_t bn, int32_t rank,
                        const char *label, hc_error *err) {
    char ta[HC_TKZ_MAX_TOKEN_BYTES], tb[HC_TKZ_MAX_TOKEN_BYTES], cat[2 * HC_TKZ_MAX_TOKEN_BYTES];
    if (an > HC_TKZ_MAX_TOKEN_BYTES || bn > HC_TKZ_MAX_TOKEN_BYTES)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': merge %d has a part over %d bytes", label, (int)rank,
                       HC_TKZ_MAX_TOKEN_BYTES);
    if ((t->n_merges + 1) * 2 > (size_t)t->mmask + 1)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': more merges than announced", label);
    size_t m;
    if (t->kind == HC_TKZ_BPE && tkz_unmap_bytes(a, an, ta, &m)) { a = ta; an = m; }
    if (t->kind == HC_TKZ_BPE && tkz_unmap_bytes(b, bn, tb, &m)) { b = tb; bn = m; }
    memcpy(cat, a, an);
    memcpy(cat + an, b, bn);
    int32_t sa = sym_for(t, a, an), sb = sa < 0 ? -1 : sym_for(t, b, bn);
    int32_t sr = sb < 0 ? -1 : sym_for(t, cat, an + bn);
    if (sr < 0) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory for merges", label);
    uint64_t k = ((uint64_t)(uint32_t)sa << 32 | (uint32_t)sb) + 1;
    for (uint32_t i = hash_pair(k) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == 0 || t->mkey[i] == k) {
            if (t->mkey[i] == 0) t->n_merges++;
            t->mkey[i] = k; /* a repeated pair takes the later rank (as a JS Map does) */
            t->mrank[i] = rank;
            t->mres[i] = sr;
            return HC_OK;
        }
    }
}

hc_status tkz_add_added(hc_tkz *t, int id, int special, int lstrip, int rstrip, const char *label, hc_error *err) {
    if (id < 0 || id >= t->n_vocab)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': added token id %d outside 0..%d", label, id, t->n_vocab - 1);
    if (t->off[id + 1] == t->off[id]) return HC_OK; /* empty content: never matches */
    if (t->n_added >= HC_TKZ_MAX_ADDED)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': more than %d added tokens", label, HC_TKZ_MAX_ADDED);
    if ((t->n_added & (t->n_added - 1)) == 0) {
        size_t cap = t->n_added ? 2 * t->n_added : 8;
        tkz_added *na = realloc(t->added, cap * sizeof *na);
        if (!na) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
        t->added = na;
    }
    tkz_added *a = &t->added[t->n_added++];
    a->off = t->off[id];
    a->len = t->off[id + 1] - t->off[id];
    a->id = id;
    a->special = (uint8_t)special;
    a->lstrip = (uint8_t)lstrip;
    a->rstrip = (uint8_t)rstrip;
    uint8_t c0 = (uint8_t)t->blob[a->off];
    t->added_first[c0 >> 3] |= (uint8_t)(1u << (c0 & 7));
    t->flags[id] |= TKZ_F_ADDED | (special ? TKZ_F_SPECIAL : 0);
    tkz_override(t, id);
    return HC_OK;
}

void tkz_finish(hc_tkz *t) {
    for (int b = 0; b < 256; b++) {
        char p[7];
        snprintf(p, sizeof p, "<0x%02X>", b);
        t->byte_tok[b] = tkz_lookup(t, p, 6);
        if (t->byte_tok[b] >= t->n_vocab) t->byte_tok[b] = -1;
        char c = (char)b;
        t->byte_sym[b] = tkz_lookup(t, &c, 1);
    }
}

void hc_tkz_free(hc_tkz *t) {
    if (!t) return;
    free(t->off);
    free(t->blob);
    free(t->scores);
    free(t->flags);
    free(t->tab);
    free(t->mkey);
    free(t->mrank);
    free(t->mres);
    free(t->added);
    free(t);
}

int hc_tkz_vocab_size(const hc_tkz *t) { return t->n_vocab; }
int hc_tkz_bos(const hc_tkz *t) { return t->bos_id; }
int hc_tkz_eos(const hc_tkz *t) { return t->eos_id; }
int hc_tkz_kind(const hc_tkz *t) { return t->kind; }
int hc_tkz_is_special(const hc_tkz *t, int id) {
    return id >= 0 && id < t->n_vocab && (t->flags[id] & (TKZ_F_SPECIAL | TKZ_F_CONTROL)) != 0;
}

/* ---- vocabularies from arrays ------------------------------------------------------------------ */
static int pre_regex_of(const char *pre) {
    if (!pre || !*pre || !strcmp(pre, "default") || !strcmp(pre, "gpt2") || !strcmp(pre, "gpt-2")) return TKZ_RE_GPT2;
    if (!strcmp(pre, "llama3") || !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama-v3") || !strcmp(pre, "smaug-bpe"))
        return TKZ_RE_LLAMA3;
    if (!strcmp(pre, "qwen2") || !strcmp(pre, "qwen35")) return TKZ_RE_QWEN2;
    return -1;
}

hc_status hc_tkz_from_vocab(const hc_tok_vocab *v, const char *label, hc_tkz **out, hc_error *err) {
    *out = NULL;
    if (!label) label = "vocabulary";
    if (v->kind != HC_TKZ_SPM && v->kind != HC_TKZ_BPE)
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': model kind %d is neither SPM (llama) nor BPE (gpt2)", label, v->kind);
    if (!v->tokens) return hc_fail(err, HC_E_ARG, "tokenizer '%s': no tokens", label);
    int re = 0;
    if (v->kind == HC_TKZ_BPE && (re = pre_regex_of(v->pre)) < 0)
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer '%s': pre-tokenizer '%s' is not supported (gpt2, llama3, qwen2 are)", label, v->pre);
    if (v->kind == HC_TKZ_SPM && !v->merges && !v->scores)
        return hc_fail(err, HC_E_ARG, "tokenizer '%s': an SPM vocabulary needs scores or merges", label);
    hc_tkz *t;
    hc_status s = tkz_new(v->kind, v->n_tokens, label, &t, err);
    if (s) return s;
    for (size_t i = 0; i < v->n_tokens && !s; i++) {
        const char *p = v->tokens[i] ? v->tokens[i] : "";
        size_t n = v->token_lens ? v->token_lens[i] : strlen(p);
        s = tkz_set_token(t, (int)i, p, n, 0, label, err);
    }
    if (!s) s = tkz_finish_vocab(t, label, err);
    if (!s && v->scores) {
        t->scores = malloc(v->n_tokens * sizeof *t->scores);
        if (!t->scores) s = hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
        else memcpy(t->scores, v->scores, v->n_tokens * sizeof *t->scores);
    }
    /* control and user-defined tokens are matched in the text like added tokens */
    for (size_t i = 0; i < v->n_tokens && !s && v->types; i++) {
        if (v->types[i] == HC_TKZ_CONTROL) t->flags[i] |= TKZ_F_CONTROL;
        if (v->types[i] == HC_TKZ_CONTROL || v->types[i] == HC_TKZ_USER)
            s = tkz_add_added(t, (int)i, v->types[i] == HC_TKZ_CONTROL, 0, 0, label, err);
    }
    if (!s && v->merges) {
        s = tkz_alloc_merges(t, v->n_merges, label, err);
        for (size_t i = 0; i < v->n_merges && !s; i++) {
            const char *m = v->merges[i] ? v->merges[i] : "";
            size_t n = v->merge_lens ? v->merge_lens[i] : strlen(m);
            const char *sp = memchr(m, ' ', n);
            if (!sp || sp == m) {
                s = hc_fail(err, HC_E_FORMAT, "tokenizer '%s': merge %zu ('%.*s') is not 'left right'", label, i,
                            (int)(n > 40 ? 40 : n), m);
                break;
            }
            const char *b = sp + 1, *e = memchr(b, ' ', (size_t)(m + n - b));
            if (!e) e = m + n;
            s = tkz_add_merge(t, m, (size_t)(sp - m), b, (size_t)(e - b), (int32_t)i, label, err);
        }
    } else if (!s) {
        t->use_scores = 1;
    }
    if (s) {
        hc_tkz_free(t);
        return s;
    }
    t->bos_id = v->bos_id >= 0 && v->bos_id < t->n_vocab ? v->bos_id : -1;
    t->eos_id = v->eos_id >= 0 && v->eos_id < t->n_vocab ? v->eos_id : -1;
    t->unk_id = v->unk_id >= 0 && v->unk_id < t->n_vocab ? v->unk_id : -1;
    t->add_bos = v->add_bos;
    t->add_eos = v->add_eos;
    tkz_finish(t);
    if (v->kind == HC_TKZ_SPM) {
        t->byte_fallback = 1;
        /* U+2581 for spaces (GGUF, SentencePiece), or plain spaces (llama2.c) */
        t->spm_space = tkz_lookup(t, "\xE2\x96\x81", 3) >= 0;
        if (v->add_space_prefix) {
            tkz_step *st = &t->norm[t->n_norm++];
            st->type = TKZ_N_PREPEND;
            memcpy(st->a, " ", 2);
            st->alen = 1;
            t->strip_first_space = 1;
        }
        if (t->spm_space) {
            tkz_step *st = &t->norm[t->n_norm++];
            st->type = TKZ_N_REPLACE;
            memcpy(st->a, " ", 2);
            st->alen = 1;
            memcpy(st->b, "\xE2\x96\x81", 4);
            st->blen = 3;
        }
    } else {
        tkz_step *st = &t->pre[t->n_pre++];
        st->type = TKZ_P_SPLIT;
        st->re = re;
        t->ignore_merges = re == TKZ_RE_LLAMA3;
    }
    *out = t;
    return HC_OK;
}

int tkz_token_set(const hc_tkz *t, int id) { return id >= 0 && id < t->n_vocab && (t->flags[id] & 0x80); }
