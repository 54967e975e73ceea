/* tokenizer.c — the llama2.c tokenizer: file reader, BPE encoder, decoder.
 *
 * Encoding follows llama2.c's algorithm exactly (see hc_tok_encode in
 * hyperc_llm.h). llama2.c finds the best pair by rescanning the whole
 * sequence after every merge, which is quadratic; here candidate pairs sit
 * in a max-heap ordered by (score, position) and stale entries are skipped
 * when popped, which picks the same pair at every step. */
#include "infer.h"
#include <math.h>
#include <stdlib.h>

struct hc_tokenizer {
    int vocab_size;
    int max_token_length; /* longest piece, as stated by the file            */
    float *scores;        /* (vocab_size) merge priority of each piece       */
    uint32_t *offset;     /* (vocab_size + 1) piece i = blob[offset[i]..[i+1]) */
    char *blob;           /* all pieces back to back                         */
    int32_t *table;       /* (table_mask + 1) hash of pieces -> id, -1 empty */
    uint32_t table_mask;
    char bytes[256];      /* bytes[b] = b, returned for <0xXX> pieces        */
    int space_id;         /* id of " " (dummy prefix), -1 if absent          */
};

/* ---- lookup of pieces ---------------------------------------------------- */
static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int tok_lookup(const hc_tokenizer *t, const char *s, size_t n) {
    for (uint32_t i = hash_bytes(s, n) & t->table_mask;; i = (i + 1) & t->table_mask) {
        int32_t id = t->table[i];
        if (id < 0) return -1;
        uint32_t len = t->offset[id + 1] - t->offset[id];
        if (len == n && memcmp(t->blob + t->offset[id], s, n) == 0) return id;
    }
}

/* ---- reading the file ------------------------------------------------------ */
static int32_t get_i32(const uint8_t *p) { return (int32_t)hc_get_u32(p); }

hc_status hc_tok_open_mem(const void *buf, size_t len, int vocab_size, const char *label,
                          hc_tokenizer **out, hc_error *err) {
    *out = NULL;
    const uint8_t *p = (const uint8_t *)buf;
    if (vocab_size < 0) return hc_fail(err, HC_E_ARG, "tokenizer '%s': negative vocabulary size", label);
    if (len < 4) return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': %zu bytes, too short for a llama2.c tokenizer", label, len);
    int32_t max_len = get_i32(p);
    if (vocab_size > HC_LLM_MAX_VOCAB)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': vocabulary of %d tokens exceeds the limit of %d", label,
                       vocab_size, HC_LLM_MAX_VOCAB);
    if (max_len <= 0 || max_len > HC_TOK_MAX_PIECE)
        return hc_fail(err, HC_E_FORMAT, "tokenizer '%s': max_token_length %d is not in 1..%d (not a llama2.c tokenizer?)",
                       label, (int)max_len, HC_TOK_MAX_PIECE);
    /* first pass: count and check the records */
    size_t pos = 4, count = 0, blob_len = 0;
    while (pos < len && (vocab_size == 0 || count < (size_t)vocab_size)) {
        if (len - pos < 8)
            return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': token %zu: record cut short at byte %zu", label, count, pos);
        float score = hc_get_f32(p + pos);
        int32_t n = get_i32(p + pos + 4);
        if (isnan(score)) return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': token %zu has a NaN score", label, count);
        if (n < 0 || n > max_len)
            return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': token %zu has length %d, outside 0..max_token_length %d", label, count, (int)n, (int)max_len);
        if ((size_t)n > len - pos - 8)
            return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': token %zu: %d bytes of text run past the end of the file", label, count, (int)n);
        pos += 8 + (size_t)n;
        blob_len += (size_t)n;
        count++;
        if (count > (size_t)HC_LLM_MAX_VOCAB)
            return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': more than %d tokens (the limit)", label, HC_LLM_MAX_VOCAB);
    }
    if (vocab_size > 0 && count < (size_t)vocab_size)
        return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s' holds %zu tokens, the model's vocabulary has %d", label, count, vocab_size);
    if (pos != len)
        return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s': %zu bytes left after %zu tokens (vocabulary of %d expected: wrong tokenizer for this model?)", label, len - pos, count, vocab_size);
    if (count == 0) return hc_fail(err, HC_E_CORRUPT, "tokenizer '%s' holds no tokens", label);
    if (blob_len > UINT32_MAX)
        return hc_fail(err, HC_E_LIMIT, "tokenizer '%s': %zu bytes of pieces exceed the limit of 4 GiB", label, blob_len);

    hc_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    t->vocab_size = (int)count;
    t->max_token_length = max_len;
    uint32_t cap = 16;
    while (cap < 2 * count) cap *= 2;
    t->table_mask = cap - 1;
    t->scores = malloc(count * sizeof *t->scores);
    t->offset = malloc((count + 1) * sizeof *t->offset);
    t->blob = malloc(blob_len ? blob_len : 1);
    t->table = malloc((size_t)cap * sizeof *t->table);
    if (!t->scores || !t->offset || !t->blob || !t->table) {
        hc_tok_free(t);
        return hc_fail(err, HC_E_NOMEM, "tokenizer '%s': out of memory", label);
    }
    memset(t->table, 0xff, (size_t)cap * sizeof *t->table);
    /* second pass: copy; the first id wins when a piece repeats */
    pos = 4;
    uint32_t off = 0;
    for (size_t i = 0; i < count; i++) {
        int32_t n = get_i32(p + pos + 4);
        t->scores[i] = hc_get_f32(p + pos);
        t->offset[i] = off;
        memcpy(t->blob + off, p + pos + 8, (size_t)n);
        off += (uint32_t)n;
        pos += 8 + (size_t)n;
        t->offset[i + 1] = off;
        const char *s = t->blob + t->offset[i];
        if (tok_lookup(t, s, (size_t)n) >= 0) continue;
        uint32_t h = hash_bytes(s, (size_t)n) & t->table_mask;
        while (t->table[h] >= 0) h = (h + 1) & t->table_mask;
        t->table[h] = (int32_t)i;
    }
    for (int b = 0; b < 256; b++) t->bytes[b] = (char)b;
    t->space_id = tok_lookup(t, " ", 1);
    *out = t;
    return HC_OK;
}

hc_status hc_tok_open(const char *path, int vocab_size, hc_tokenizer **out, hc_error *err) {
    *out = NULL;
    hc_map m;
    hc_status s = hc_map_file(path, &m, err);
    if (s) return s;
    s = hc_tok_open_mem(m.ptr, (size_t)m.len, vocab_size, path, out, err);
    hc_unmap(&m);
    return s;
}

void hc_tok_free(hc_tokenizer *t) {
    if (!t) return;
    free(t->scores);
    free(t->offset);
    free(t->blob);
    free(t->table);
    free(t);
}

int hc_tok_vocab_size(const hc_tokenizer *t) { return t->vocab_size; }

/* ---- encoding ---------------------------------------------------------------- */
/* A candidate merge of symbols left and right (adjacent when pushed). */
typedef struct merge_cand {
    float score;
    int32_t left, right;      /* symbol indices                               */
    int32_t left_id, right_id; /* their ids when pushed (detects stale ones)  */
    int32_t merged_id;
} merge_cand;

/* Heap order: higher score first, then the leftmost pair. */
static int cand_before(const merge_cand *a, const merge_cand *b) {
    if (a->score != b->score) return a->score > b->score;
    return a->left < b->left;
}

static void heap_push(merge_cand *h, size_t *n, merge_cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_before(&c, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
}

static merge_cand heap_pop(merge_cand *h, size_t *n) {
    merge_cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_before(&h[c + 1], &h[c])) c++;
        if (!cand_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

typedef struct bpe_work {
    int32_t *id;       /* (n) token id of each symbol                        */
    int32_t *next;     /* (n) next live symbol, -1 at the end                */
    int32_t *prev;     /* (n) previous live symbol, -1 at the start          */
    uint8_t *alive;    /* (n)                                                */
    merge_cand *heap;  /* (3n) candidates                                    */
    size_t heap_n;
    char *cat;         /* (2 * max_token_length) concatenation buffer       */
} bpe_work;

/* Pushes the merge of symbols a, b if their concatenation is a token that
 * llama2.c would consider (score above its -1e10 floor). */
static void try_pair(const hc_tokenizer *t, bpe_work *w, int32_t a, int32_t b) {
    if (a < 0 || b < 0) return;
    int32_t ia = w->id[a], ib = w->id[b];
    uint32_t la = t->offset[ia + 1] - t->offset[ia], lb = t->offset[ib + 1] - t->offset[ib];
    if (la + lb > (uint32_t)t->max_token_length) return; /* no piece is that long */
    memcpy(w->cat, t->blob + t->offset[ia], la);
    memcpy(w->cat + la, t->blob + t->offset[ib], lb);
    int merged = tok_lookup(t, w->cat, la + lb);
    if (merged < 0 || !(t->scores[merged] > -1e10f)) return;
    merge_cand c = {t->scores[merged], a, b, ia, ib, merged};
    heap_push(w->heap, &w->heap_n, c);
}

hc_status hc_tok_encode(const hc_tokenizer *t, const char *text, size_t len, int bos, int eos,
                        int **tokens, size_t *n_tokens, hc_error *err) {
    *tokens = NULL;
    *n_tokens = 0;
    if (!text && len) return hc_fail(err, HC_E_ARG, "tokenizer: NULL text");
    if (len > ((size_t)1 << 30)) return hc_fail(err, HC_E_LIMIT, "tokenizer: text of %zu bytes is too long", len);
    if (len > 0 && t->space_id < 0)
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer has no \" \" token for the dummy prefix");
    if ((bos && t->vocab_size <= HC_TOK_BOS) || (eos && t->vocab_size <= HC_TOK_EOS))
        return hc_fail(err, HC_E_UNSUPPORTED, "tokenizer: a vocabulary of %d tokens has no %s token (id %d)",
                       t->vocab_size, bos && t->vocab_size <= HC_TOK_BOS ? "BOS" : "EOS",
                       bos && t->vocab_size <= HC_TOK_BOS ? HC_TOK_BOS : HC_TOK_EOS);
    size_t cap = len + 3;
    bpe_work w = {0};
    w.id = malloc(cap * sizeof *w.id);
    w.next = malloc(cap * sizeof *w.next);
    w.prev = malloc(cap * sizeof *w.prev);
    w.alive = malloc(cap);
    w.heap = malloc(3 * cap * sizeof *w.heap);
    w.cat = malloc(2 * (size_t)t->max_token_length + 8);
    hc_status st = HC_OK;
    if (!w.id || !w.next || !w.prev || !w.alive || !w.heap || !w.cat) {
        st = hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
        goto done;
    }

    /* BOS, the dummy-prefix space, then code points or their bytes */
    size_t n = 0;
    if (bos) w.id[n++] = HC_TOK_BOS;
    if (len > 0) w.id[n++] = t->space_id;
    for (size_t i = 0; i < len;) {
        /* a code point: a byte, then up to 3 continuation bytes */
        size_t j = i + 1;
        while (j < len && j - i < 4 && ((uint8_t)text[j] & 0xC0) == 0x80) j++;
        int id = tok_lookup(t, text + i, j - i);
        if (id >= 0) {
            w.id[n++] = id;
        } else {
            for (size_t k = i; k < j; k++) {
                int b = (uint8_t)text[k] + 3;
                if (b >= t->vocab_size) {
                    st = hc_fail(err, HC_E_UNSUPPORTED, "tokenizer: byte 0x%02X has no token (vocabulary of %d has no byte fallback)", b - 3, t->vocab_size);
                    goto done;
                }
                w.id[n++] = b;
            }
        }
        i = j;
    }

    /* merge the best-scoring adjacent pair until none is a token */
    for (size_t i = 0; i < n; i++) {
        w.prev[i] = (int32_t)i - 1;
        w.next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        w.alive[i] = 1;
    }
    for (size_t i = 0; i + 1 < n; i++) try_pair(t, &w, (int32_t)i, (int32_t)i + 1);
    while (w.heap_n > 0) {
        merge_cand c = heap_pop(w.heap, &w.heap_n);
        if (!w.alive[c.left] || !w.alive[c.right] || w.next[c.left] != c.right ||
            w.id[c.left] != c.left_id || w.id[c.right] != c.right_id)
            continue; /* stale: one side has merged since */
        w.id[c.left] = c.merged_id;
        w.alive[c.right] = 0;
        w.next[c.left] = w.next[c.right];
        if (w.next[c.right] >= 0) w.prev[w.next[c.right]] = c.left;
        try_pair(t, &w, w.prev[c.left], c.left);
        try_pair(t, &w, c.left, w.next[c.left]);
    }

    int *outv = malloc((n + 1) * sizeof *outv);
    if (!outv) {
        st = hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory");
        goto done;
    }
    size_t m = 0;
    for (int32_t i = n ? 0 : -1; i >= 0; i = w.next[i]) outv[m++] = w.id[i];
    if (eos) outv[m++] = HC_TOK_EOS;
    *tokens = outv;
    *n_tokens = m;
done:
    free(w.id);
    free(w.next);
    free(w.prev);
    free(w.alive);
    free(w.heap);
    free(w.cat);
    return st;
}

/* ---- decoding -------------------------------------------------------------------- */
static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

const char *hc_tok_piece(const hc_tokenizer *t, int prev_token, int token, size_t *len) {
    if (token < 0 || token >= t->vocab_size) {
        *len = 0;
        return "";
    }
    const char *p = t->blob + t->offset[token];
    size_t n = t->offset[token + 1] - t->offset[token];
    if (prev_token == HC_TOK_BOS && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (n == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>') {
        int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
        if (hi >= 0 && lo >= 0) {
            *len = 1;
            return &t->bytes[hi * 16 + lo];
        }
    }
    *len = n;
    return p;
}

hc_status hc_tok_decode(const hc_tokenizer *t, const int *tokens, size_t n, char **text,
                        size_t *len, hc_error *err) {
    *text = NULL;
    *len = 0;
    size_t total = 0, pl;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] == HC_TOK_BOS || tokens[i] == HC_TOK_EOS) continue;
        hc_tok_piece(t, i ? tokens[i - 1] : -1, tokens[i], &pl);
        total += pl;
    }
    char *s = malloc(total + 1);
    if (!s) return hc_fail(err, HC_E_NOMEM, "tokenizer: out of memory decoding %zu tokens", n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] == HC_TOK_BOS || tokens[i] == HC_TOK_EOS) continue;
        const char *p = hc_tok_piece(t, i ? tokens[i - 1] : -1, tokens[i], &pl);
        memcpy(s + at, p, pl);
        at += pl;
    }
    s[at] = 0;
    *text = s;
    *len = at;
    return HC_OK;
}
