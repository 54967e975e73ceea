/* tokenizer_bpe.c — the tokenizer pipeline behind hyperc_tok.h: added
 * tokens, normalizer, pre-tokenizer (its regexes matched by hand), BPE with
 * byte fallback, BOS/EOS, and decoding, over the tables built in
 * tokenizer_core.c (which describes the symbols and the merge order). */
#include "tokenizer_int.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------ */
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

/* JavaScript's \s (WhiteSpace and LineTerminator). */
static int js_space(uint32_t c) {
    if (c < 128) return c == ' ' || (c >= 9 && c <= 13);
    return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
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
