/* tokenizer_core.c — the BPE tokenizer core behind hyperc_tok.h: vocabulary
 * and merge tables, the pipeline (added tokens, normalizer, pre-tokenizer,
 * BPE, byte fallback, BOS/EOS), decoding, and vocabularies built from arrays
 * (GGUF tokenizer.ggml.*, llama2.c tokenizer.bin).
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

static uint32_t hash_pair(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
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

static size_t put_utf8(uint32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
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

/* JavaScript's \s (WhiteSpace and LineTerminator). */
static int js_space(uint32_t c) {
    if (c < 128) return c == ' ' || (c >= 9 && c <= 13);
    return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
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

static int merge_find(const hc_tkz *t, int32_t a, int32_t b, int32_t *rank, int32_t *res) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    for (uint32_t i = hash_pair(k) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == 0) return 0;
        if (t->mkey[i] == k) {
            *rank = t->mrank[i];
            *res = t->mres[i];
            return 1;
        }
    }
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

/* ---- growing buffers ------------------------------------------------------------ */
typedef struct ibuf { int *v; size_t n, cap; } ibuf;
static int ibuf_push(ibuf *b, int x) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        int *nv = realloc(b->v, cap * sizeof *nv);
        if (!nv) return 0;
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = x;
    return 1;
}

typedef struct cbuf { char *v; size_t n, cap; } cbuf;
static int cbuf_add(cbuf *b, const char *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        while (cap < b->n + n) cap *= 2;
        char *nv = realloc(b->v, cap);
        if (!nv) return 0;
        b->v = nv;
        b->cap = cap;
    }
    if (n) memcpy(b->v + b->n, s, n);
    b->n += n;
    return 1;
}

/* pieces: spans of a text buffer */
typedef struct span { size_t off, len; } span;
typedef struct spans { span *v; size_t n, cap; } spans;
static int spans_push(spans *s, size_t off, size_t len) {
    if (len == 0) return 1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        span *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return 0;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n].off = off;
    s->v[s->n++].len = len;
    return 1;
}

/* ---- the pre-tokenizer regexes, matched by hand ----------------------------------- */
typedef struct cpcur { const unsigned char *s; size_t n; } cpcur;
static uint32_t cp_at(const cpcur *c, size_t i, size_t *len) {
    if (i >= c->n) {
        *len = 0;
        return 0xFFFFFFFFu;
    }
    return tkz_utf8(c->s + i, c->n - i, len);
}
static int is_L(uint32_t c) { return c != 0xFFFFFFFFu && hc_uni_class(c) == HC_UNI_LETTER; }
static int is_N(uint32_t c) { return c != 0xFFFFFFFFu && hc_uni_class(c) == HC_UNI_NUMBER; }
static int is_S(uint32_t c) { return c != 0xFFFFFFFFu && js_space(c); }
/* [^\s\p{L}\p{N}] */
static int is_P(uint32_t c) { return c != 0xFFFFFFFFu && !js_space(c) && hc_uni_class(c) == 0; }
static int is_nl(uint32_t c) { return c == '\r' || c == '\n'; }

/* end of the run of code points from i for which f holds, at most max of them */
static size_t run(const cpcur *c, size_t i, int (*f)(uint32_t), size_t max) {
    size_t l, k = 0;
    while (k < max && f(cp_at(c, i, &l))) {
        i += l;
        k++;
    }
    return i;
}

/* \s+(?!\S)|\s+ at i (c[i] is a space): the run, less its last space when
 * a non-space follows and the run has more than one. */
static size_t space_tail(const cpcur *c, size_t i) {
    size_t l, k = i, last = i;
    while (is_S(cp_at(c, k, &l))) {
        last = k;
        k += l;
    }
    if (k >= c->n || last == i) return k;
    return last;
}

/* Length of the match at i (0: none), for each known pattern. */
static size_t re_match(int re, const cpcur *c, size_t i) {
    size_t l0, l1;
    uint32_t c0 = cp_at(c, i, &l0), c1 = cp_at(c, i + l0, &l1);
    if (c0 == '\'' && i + 1 < c->n) {
        unsigned char x = c->s[i + 1], y = i + 2 < c->n ? c->s[i + 2] : 0;
        if (re != TKZ_RE_GPT2) {
            x = (unsigned char)(x | 32 * (x >= 'A' && x <= 'Z'));
            y = (unsigned char)(y | 32 * (y >= 'A' && y <= 'Z'));
        }
        if (x == 's' || x == 't' || x == 'm' || x == 'd') return 2;
        if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l')) return 3;
    }
    if (re == TKZ_RE_GPT2) {
        /*  ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+ */
        int (*cls[3])(uint32_t) = {is_L, is_N, is_P};
        for (int k = 0; k < 3; k++) {
            if (c0 == ' ' && cls[k](c1)) return run(c, i + 1, cls[k], (size_t)-1) - i;
            if (cls[k](c0)) return run(c, i, cls[k], (size_t)-1) - i;
        }
        if (is_S(c0)) return space_tail(c, i) - i;
        return 0;
    }
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c0 != 0xFFFFFFFFu && !is_nl(c0) && !is_L(c0) && !is_N(c0) && is_L(c1)) return run(c, i + l0, is_L, (size_t)-1) - i;
    if (is_L(c0)) return run(c, i, is_L, (size_t)-1) - i;
    /* \p{N}{1,3} (qwen2: \p{N}) */
    if (is_N(c0)) return run(c, i, is_N, re == TKZ_RE_QWEN2 ? 1 : 3) - i;
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    if ((c0 == ' ' && is_P(c1)) || is_P(c0)) {
        size_t k = run(c, c0 == ' ' ? i + 1 : i, is_P, (size_t)-1);
        return run(c, k, is_nl, (size_t)-1) - i;
    }
    if (is_S(c0)) {
        /* \s*[\r\n]+ : the run up to and with its last newline */
        size_t l, k = i, nl_end = 0;
        uint32_t x;
        while (is_S(x = cp_at(c, k, &l))) {
            k += l;
            if (is_nl(x)) nl_end = k;
        }
        if (nl_end) return nl_end - i;
        return space_tail(c, i) - i;
    }
    return 0;
}

/* Splits [s, s+n) by the regex: matches and the gaps between them. */
static int re_split(int re, const char *s, size_t n, size_t base, spans *out) {
    cpcur c = {(const unsigned char *)s, n};
    size_t i = 0, prev = 0;
    while (i < n) {
        size_t m = re_match(re, &c, i);
        if (m == 0) {
            size_t l;
            cp_at(&c, i, &l);
            i += l;
            continue;
        }
        if (prev < i && !spans_push(out, base + prev, i - prev)) return 0;
        if (!spans_push(out, base + i, m)) return 0;
        i += m;
        prev = i;
    }
    if (prev < n && !spans_push(out, base + prev, n - prev)) return 0;
    return 1;
}

/* ---- BPE ---------------------------------------------------------------------------- */
typedef struct cand {
    double key;          /* lower first: rank, or -score          */
    int32_t pos;         /* start of the left symbol (ties)        */
    int32_t left, right; /* symbol slots                           */
    int32_t lsym, rsym, res;
} cand;

static int cand_before(const cand *a, const cand *b) {
    if (a->key != b->key) return a->key < b->key;
    return a->pos < b->pos;
}

typedef struct bpe_work {
    int32_t *sym, *next, *prev, *start, *len;
    cand *heap;
    size_t heap_n, heap_cap, cap;
    char *cat;
} bpe_work;

static int work_reserve(bpe_work *w, size_t n) {
    if (n <= w->cap) return 1;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    int32_t **arrs[5] = {&w->sym, &w->next, &w->prev, &w->start, &w->len};
    for (int k = 0; k < 5; k++) {
        int32_t *na = realloc(*arrs[k], cap * sizeof **arrs[k]);
        if (!na) return 0;
        *arrs[k] = na;
    }
    w->cap = cap;
    return 1;
}

static int heap_push(bpe_work *w, cand c) {
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? 2 * w->heap_cap : 256;
        cand *nh = realloc(w->heap, cap * sizeof *nh);
        if (!nh) return 0;
        w->heap = nh;
        w->heap_cap = cap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = c;
    return 1;
}

static cand heap_pop(bpe_work *w) {
    cand top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!cand_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

static int try_pair(const hc_tkz *t, bpe_work *w, int32_t a, int32_t b) {
    if (a < 0 || b < 0) return 1;
    int32_t sa = w->sym[a], sb = w->sym[b];
    if (sa < 0 || sb < 0) return 1;
    cand c = {0, w->start[a], a, b, sa, sb, -1};
    if (t->use_scores) {
        uint32_t la = t->off[sa + 1] - t->off[sa], lb = t->off[sb + 1] - t->off[sb];
        if (la + lb > HC_TKZ_MAX_TOKEN_BYTES) return 1;
        memcpy(w->cat, t->blob + t->off[sa], la);
        memcpy(w->cat + la, t->blob + t->off[sb], lb);
        int id = tkz_lookup(t, w->cat, la + lb);
        if (id < 0 || id >= t->n_vocab) return 1;
        c.key = -(double)t->scores[id];
        c.res = id;
    } else {
        int32_t rank;
        if (!merge_find(t, sa, sb, &rank, &c.res)) return 1;
        c.key = rank;
    }
    return heap_push(w, c);
}

/* Emits the ids of one symbol (unknown pieces: bytes, else unk). */
static hc_status emit_sym(const hc_tkz *t, int32_t sym, const char *s, size_t n, ibuf *out, int *last_unk,
                          hc_error *err) {
    if (sym >= 0 && sym < t->n_vocab) {
        *last_unk = 0;
        return ibuf_push(out, sym) ? HC_OK : hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    }
    if (t->byte_fallback) {
        int ok = 1;
        for (size_t k = 0; k < n; k++)
            if (t->byte_tok[(uint8_t)s[k]] < 0) ok = 0;
        if (ok) {
            for (size_t k = 0; k < n; k++)
                if (!ibuf_push(out, t->byte_tok[(uint8_t)s[k]])) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
            *last_unk = 0;
            return HC_OK;
        }
    }
    if (t->unk_id < 0) {
        uint32_t cp;
        size_t l;
        cp = tkz_utf8((const unsigned char *)s, n, &l);
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer: no token for U+%04X ('%.*s') and no unknown token", cp,
                       (int)(n > 16 ? 16 : n), s);
    }
    if (t->fuse_unk && *last_unk) return HC_OK;
    *last_unk = 1;
    return ibuf_push(out, t->unk_id) ? HC_OK : hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
}

static hc_status bpe_piece(const hc_tkz *t, bpe_work *w, const char *s, size_t n, ibuf *out, int *last_unk,
                           hc_error *err) {
    if (t->ignore_merges) {
        int id = tkz_lookup(t, s, n);
        if (id >= 0 && id < t->n_vocab) return emit_sym(t, id, s, n, out, last_unk, err);
    }
    if (!work_reserve(w, n + 1)) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t l = 1;
        int32_t sym;
        if (t->kind == HC_TKZ_BPE) {
            sym = t->byte_sym[(uint8_t)s[i]];
        } else {
            /* a byte and its continuation bytes (at most 4), like llama2.c */
            while (i + l < n && l < 4 && ((uint8_t)s[i + l] & 0xC0) == 0x80) l++;
            sym = tkz_lookup(t, s + i, l);
        }
        w->sym[m] = sym;
        w->start[m] = (int32_t)i;
        w->len[m] = (int32_t)l;
        w->prev[m] = (int32_t)m - 1;
        w->next[m] = i + l < n ? (int32_t)m + 1 : -1;
        m++;
        i += l;
    }
    w->heap_n = 0;
    for (size_t i = 0; i + 1 < m; i++)
        if (!try_pair(t, w, (int32_t)i, (int32_t)i + 1)) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    while (w->heap_n > 0) {
        cand c = heap_pop(w);
        if (w->len[c.left] == 0 || w->len[c.right] == 0 || w->next[c.left] != c.right || w->sym[c.left] != c.lsym ||
            w->sym[c.right] != c.rsym)
            continue; /* stale */
        w->sym[c.left] = c.res;
        w->len[c.left] += w->len[c.right];
        w->len[c.right] = 0;
        w->next[c.left] = w->next[c.right];
        if (w->next[c.right] >= 0) w->prev[w->next[c.right]] = c.left;
        if (!try_pair(t, w, w->prev[c.left], c.left) || !try_pair(t, w, c.left, w->next[c.left]))
            return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    }
    for (int32_t i = m ? 0 : -1; i >= 0; i = w->next[i]) {
        hc_status st = emit_sym(t, w->sym[i], s + w->start[i], (size_t)w->len[i], out, last_unk, err);
        if (st) return st;
    }
    return HC_OK;
}

/* ---- normalizer and pre-tokenizer ------------------------------------------------------ */
/* 1 if [s, s+n) is certainly NFC (the quick check: no NFC_QC No/Maybe code
 * point, combining classes in order). */
static int nfc_quick(const char *s, size_t n) {
    int last = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t c = tkz_utf8((const unsigned char *)s + i, n - i, &l);
        int ccc = 0;
        if (c >= 0x300 && (hc_uni_nfc_qc(c, &ccc) || (ccc != 0 && last > ccc))) return 0;
        last = ccc;
        i += l;
    }
    return 1;
}

static int ccc_of(uint32_t c) {
    int k = 0;
    if (c >= 0x300) hc_uni_nfc_qc(c, &k);
    return k;
}

typedef struct ubuf { uint32_t *v; size_t n, cap; } ubuf;
static int ubuf_push(ubuf *b, uint32_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        uint32_t *nv = realloc(b->v, cap * sizeof *nv);
        if (!nv) return 0;
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    return 1;
}

/* full canonical decomposition (tables of tokenizer_unicode.c; Hangul by rule) */
static int decompose_push(ubuf *b, uint32_t c, int depth) {
    if (c >= 0xAC00 && c <= 0xD7A3) {
        uint32_t si = c - 0xAC00, t = 0x11A7 + si % 28;
        if (!ubuf_push(b, 0x1100 + si / 588) || !ubuf_push(b, 0x1161 + (si % 588) / 28)) return 0;
        return t == 0x11A7 || ubuf_push(b, t);
    }
    uint32_t x, y;
    int k = depth < 8 ? hc_uni_decompose(c, &x, &y) : 0;
    if (!k) return ubuf_push(b, c);
    return decompose_push(b, x, depth + 1) && (k == 1 || decompose_push(b, y, depth + 1));
}

static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= 0x1100 && a <= 0x1112 && b >= 0x1161 && b <= 0x1175)
        return 0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28;
    if (a >= 0xAC00 && a <= 0xD7A3 && (a - 0xAC00) % 28 == 0 && b >= 0x11A8 && b <= 0x11C2) return a + (b - 0x11A7);
    return hc_uni_compose(a, b);
}

/* Unicode NFC of [s, s+n) into out (bad UTF-8 becomes U+FFFD, as a
 * JavaScript string read from the bytes would have it) */
static int nfc(const char *s, size_t n, cbuf *out) {
    ubuf d = {0};
    int ok = 1;
    for (size_t i = 0; ok && i < n;) {
        size_t l;
        uint32_t c = tkz_utf8((const unsigned char *)s + i, n - i, &l);
        ok = decompose_push(&d, c, 0);
        i += l;
    }
    /* canonical order: stable sort of each run of non-zero classes */
    for (size_t i = 1; ok && i < d.n; i++) {
        int cc = ccc_of(d.v[i]);
        if (cc == 0) continue;
        for (size_t j = i; j > 0; j--) {
            int pc = ccc_of(d.v[j - 1]);
            if (pc <= cc) break;
            uint32_t x = d.v[j];
            d.v[j] = d.v[j - 1];
            d.v[j - 1] = x;
        }
    }
    /* canonical composition */
    size_t m = 0;
    long starter = -1;
    for (size_t i = 0; ok && i < d.n; i++) {
        uint32_t c = d.v[i];
        int cc = ccc_of(c);
        if (starter >= 0) {
            int blocked = (long)m - 1 > starter && (ccc_of(d.v[m - 1]) == 0 || ccc_of(d.v[m - 1]) >= cc);
            uint32_t k = blocked ? 0 : compose_pair(d.v[starter], c);
            if (k) {
                d.v[starter] = k;
                continue;
            }
        }
        if (cc == 0) starter = (long)m;
        d.v[m++] = c;
    }
    char u[4];
    for (size_t i = 0; ok && i < m; i++) ok = cbuf_add(out, u, put_utf8(d.v[i], u));
    free(d.v);
    return ok;
}

/* applies the normalizer to [s, s+n) into out */
static hc_status normalize(const hc_tkz *t, const char *s, size_t n, cbuf *out, cbuf *tmp, hc_error *err) {
    out->n = 0;
    if (!cbuf_add(out, s, n)) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    for (int k = 0; k < t->n_norm; k++) {
        const tkz_step *st = &t->norm[k];
        tmp->n = 0;
        if (st->type == TKZ_N_NFC && nfc_quick(out->v, out->n)) continue;
        int ok = 1;
        if (st->type == TKZ_N_NFC) {
            ok = nfc(out->v, out->n, tmp);
        } else if (st->type == TKZ_N_PREPEND) {
            ok = cbuf_add(tmp, st->a, st->alen) && cbuf_add(tmp, out->v, out->n);
        } else { /* REPLACE */
            size_t i = 0;
            while (ok && i < out->n) {
                if (st->alen && i + st->alen <= out->n && memcmp(out->v + i, st->a, st->alen) == 0) {
                    ok = cbuf_add(tmp, st->b, st->blen);
                    i += st->alen;
                } else {
                    ok = cbuf_add(tmp, out->v + i, 1);
                    i++;
                }
            }
        }
        if (!ok) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
        cbuf x = *out;
        *out = *tmp;
        *tmp = x;
    }
    return HC_OK;
}

/* pre-tokenizes text (the buffer *buf) into pieces; steps that change text
 * rebuild the buffer */
static hc_status pre_tokenize(const hc_tkz *t, int section, cbuf *buf, cbuf *tmp, spans *pieces, spans *tmp_sp,
                              hc_error *err) {
    pieces->n = 0;
    if (!spans_push(pieces, 0, buf->n)) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    for (int k = 0; k < t->n_pre; k++) {
        const tkz_step *st = &t->pre[k];
        tmp_sp->n = 0;
        int ok = 1;
        if (st->type == TKZ_P_SPLIT || (st->type == TKZ_P_BYTELEVEL && !st->flag)) {
            for (size_t p = 0; ok && p < pieces->n; p++) {
                if (st->re) ok = re_split(st->re, buf->v + pieces->v[p].off, pieces->v[p].len, pieces->v[p].off, tmp_sp);
                else ok = spans_push(tmp_sp, pieces->v[p].off, pieces->v[p].len);
            }
        } else {
            /* a text change per piece: ByteLevel add_prefix_space, Metaspace */
            tmp->n = 0;
            for (size_t p = 0; ok && p < pieces->n; p++) {
                const char *s = buf->v + pieces->v[p].off;
                size_t n = pieces->v[p].len, at = tmp->n;
                if (st->type == TKZ_P_BYTELEVEL) {
                    if (n == 0 || s[0] != ' ') ok = cbuf_add(tmp, " ", 1);
                    ok = ok && cbuf_add(tmp, s, n);
                    if (ok && st->re) ok = re_split(st->re, tmp->v + at, tmp->n - at, at, tmp_sp);
                    else if (ok) ok = spans_push(tmp_sp, at, tmp->n - at);
                } else { /* METASPACE: spaces -> replacement, then maybe a prefix */
                    int starts = n >= st->alen && memcmp(s, st->a, st->alen) == 0;
                    if (!starts && n && s[0] == ' ') starts = 1; /* becomes the replacement */
                    if (!starts && (st->flag == 1 || (st->flag == 2 && section == 0 && p == 0)))
                        ok = cbuf_add(tmp, st->a, st->alen);
                    for (size_t i = 0; ok && i < n; i++)
                        ok = s[i] == ' ' ? cbuf_add(tmp, st->a, st->alen) : cbuf_add(tmp, s + i, 1);
                    ok = ok && spans_push(tmp_sp, at, tmp->n - at);
                }
            }
            if (ok) {
                cbuf x = *buf;
                *buf = *tmp;
                *tmp = x;
            }
        }
        if (!ok) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
        spans x = *pieces;
        *pieces = *tmp_sp;
        *tmp_sp = x;
    }
    return HC_OK;
}

/* ---- encoding ------------------------------------------------------------------------- */
/* The added token that starts at s[0..n) and is longest, or -1. */
static int match_added(const hc_tkz *t, const char *s, size_t n) {
    uint8_t c0 = (uint8_t)s[0];
    if (!(t->added_first[c0 >> 3] & (1u << (c0 & 7)))) return -1;
    int best = -1;
    uint32_t best_len = 0;
    for (size_t k = 0; k < t->n_added; k++) {
        const tkz_added *a = &t->added[k];
        if (a->len <= n && a->len > best_len && t->blob[a->off] == s[0] && memcmp(t->blob + a->off, s, a->len) == 0) {
            best = (int)k;
            best_len = a->len;
        }
    }
    return best;
}

/* JS trimStart / trimEnd on [*a, *b) */
static void trim_start(const char *s, size_t *a, size_t b) {
    while (*a < b) {
        size_t l;
        uint32_t c = tkz_utf8((const unsigned char *)s + *a, b - *a, &l);
        if (!js_space(c)) break;
        *a += l;
    }
}
static void trim_end(const char *s, size_t a, size_t *b) {
    while (*b > a) {
        size_t k = *b - 1;
        while (k > a && ((uint8_t)s[k] & 0xC0) == 0x80) k--;
        size_t l;
        uint32_t c = tkz_utf8((const unsigned char *)s + k, *b - k, &l);
        if (!js_space(c) || k + l != *b) break;
        *b = k;
    }
}

hc_status hc_tkz_encode(const hc_tkz *t, const char *text, size_t len, int flags, int **ids, size_t *n,
                        hc_error *err) {
    *ids = NULL;
    *n = 0;
    if (!text && len) return hc_fail(err, HC_E_ARG, "tokenizer: NULL text");
    if (len > HC_TKZ_MAX_TEXT) return hc_fail(err, HC_E_LIMIT, "tokenizer: text of %zu bytes is too long", len);
    ibuf out = {0};
    cbuf buf = {0}, tmp = {0};
    spans pieces = {0}, tmp_sp = {0};
    bpe_work w = {0};
    hc_status s = HC_OK;
    w.cat = malloc(2 * HC_TKZ_MAX_TOKEN_BYTES);
    if (!w.cat) {
        s = hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
        goto done;
    }
    if ((flags & HC_TKZ_SPECIALS) && !(flags & HC_TKZ_NO_BOS) && t->add_bos && t->bos_id >= 0 &&
        !ibuf_push(&out, t->bos_id)) {
        s = hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
        goto done;
    }
    /* sections between added tokens */
    size_t i = 0, sec_start = 0;
    int section = 0, last_unk = 0, pending_rstrip = 0;
    while (s == HC_OK) {
        int k = -1;
        size_t j = i;
        for (; j < len; j++)
            if ((k = t->n_added ? match_added(t, text + j, len - j) : -1) >= 0) break;
        /* the text section [sec_start, j) */
        size_t a = sec_start, b = j;
        if (pending_rstrip) trim_start(text, &a, b);
        if (k >= 0 && t->added[k].lstrip) trim_end(text, a, &b);
        if (b > a) {
            s = normalize(t, text + a, b - a, &buf, &tmp, err);
            if (!s && buf.n) s = pre_tokenize(t, section, &buf, &tmp, &pieces, &tmp_sp, err);
            for (size_t p = 0; !s && buf.n && p < pieces.n; p++)
                s = bpe_piece(t, &w, buf.v + pieces.v[p].off, pieces.v[p].len, &out, &last_unk, err);
        }
        if (s) break;
        if (b > a || j > sec_start) section++;
        if (k < 0) break;
        if (!ibuf_push(&out, t->added[k].id)) {
            s = hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
            break;
        }
        last_unk = 0;
        pending_rstrip = t->added[k].rstrip;
        section++;
        i = sec_start = j + t->added[k].len;
    }
    if (!s && (flags & HC_TKZ_SPECIALS) && t->add_eos && t->eos_id >= 0 && !ibuf_push(&out, t->eos_id))
        s = hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
done:
    free(buf.v);
    free(tmp.v);
    free(pieces.v);
    free(tmp_sp.v);
    free(w.sym);
    free(w.next);
    free(w.prev);
    free(w.start);
    free(w.len);
    free(w.heap);
    free(w.cat);
    if (s) {
        free(out.v);
        return s;
    }
    if (!out.v) out.v = malloc(sizeof *out.v);
    if (!out.v) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
    *ids = out.v;
    *n = out.n;
    return HC_OK;
}

/* ---- decoding ------------------------------------------------------------------------------ */
const char *hc_tkz_piece(const hc_tkz *t, int id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        *len = 0;
        return "";
    }
    *len = t->off[id + 1] - t->off[id];
    return t->blob + t->off[id];
}

static int hexv(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* text of one token into buf (cap >= 4 * piece length is enough) */
static size_t token_text(const hc_tkz *t, int id, char *buf, size_t cap) {
    size_t n;
    const char *p = hc_tkz_piece(t, id, &n);
    size_t o = 0;
    if (t->kind == HC_TKZ_SPM && !(t->flags[id] & TKZ_F_ADDED)) {
        if (n == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' && hexv(p[3]) >= 0 && hexv(p[4]) >= 0) {
            if (cap) buf[o++] = (char)(hexv(p[3]) * 16 + hexv(p[4]));
            return o;
        }
        for (size_t i = 0; i < n && o < cap;) {
            if (t->spm_space && i + 3 <= n && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
                buf[o++] = ' ';
                i += 3;
            } else {
                buf[o++] = p[i++];
            }
        }
        return o;
    }
    if (n > cap) n = cap;
    memcpy(buf, p, n);
    return n;
}

size_t hc_tkz_token_text(const hc_tkz *t, int prev, int id, char *buf, size_t cap) {
    if (id < 0 || id >= t->n_vocab) return 0;
    size_t n = token_text(t, id, buf, cap);
    if (t->kind == HC_TKZ_SPM && prev >= 0 && prev == t->bos_id && n > 0 && buf[0] == ' ') {
        memmove(buf, buf + 1, n - 1);
        n--;
    }
    return n;
}

hc_status hc_tkz_decode(const hc_tkz *t, const int *ids, size_t n, int skip_special, char **text, size_t *len,
                        hc_error *err) {
    *text = NULL;
    *len = 0;
    cbuf out = {0};
    char tmp[HC_TKZ_MAX_TOKEN_BYTES];
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->n_vocab) {
            free(out.v);
            return hc_fail(err, HC_E_ARG, "tokenizer: token id %d at %zu outside 0..%d", id, i, t->n_vocab - 1);
        }
        if (skip_special && hc_tkz_is_special(t, id)) continue;
        size_t m = token_text(t, id, tmp, sizeof tmp);
        const char *p = tmp;
        if (first && t->strip_first_space && m && p[0] == ' ' && !(t->flags[id] & TKZ_F_ADDED)) {
            p++;
            m--;
        }
        if (!(t->flags[id] & TKZ_F_ADDED)) first = 0;
        if (!cbuf_add(&out, p, m)) {
            free(out.v);
            return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory decoding %zu tokens", n);
        }
    }
    if (!cbuf_add(&out, "", 1)) {
        free(out.v);
        return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory decoding %zu tokens", n);
    }
    *text = out.v;
    *len = out.n - 1;
    return HC_OK;
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
