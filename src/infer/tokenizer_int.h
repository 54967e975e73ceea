/* tokenizer_int.h — internals of the tokenizer core (tokenizer_core.c) shared
 * with its loaders (tokenizer_json.c) and the generated Unicode tables
 * (tokenizer_unicode.c). Public API: include/hyperc_tok.h. */
#ifndef HC_TOKENIZER_INT_H
#define HC_TOKENIZER_INT_H

#include "hyperc_tok.h"
#include <stdint.h>
#include <stddef.h>

enum { HC_UNI_LETTER = 1, HC_UNI_NUMBER = 2 };
/* 0, HC_UNI_LETTER (\p{L}) or HC_UNI_NUMBER (\p{N}) of a code point. */
int hc_uni_class(uint32_t c);
/* 1 if NFC_QC(c) is No or Maybe; *ccc: canonical combining class. */
int hc_uni_nfc_qc(uint32_t c, int *ccc);
/* One step of canonical decomposition of c (not Hangul): 0 none, 1: *a,
 * 2: *a *b. */
int hc_uni_decompose(uint32_t c, uint32_t *a, uint32_t *b);
/* The primary composite of a + b, or 0. */
uint32_t hc_uni_compose(uint32_t a, uint32_t b);

/* pre-tokenizer regexes that are recognised */
enum { TKZ_RE_NONE = 0, TKZ_RE_GPT2, TKZ_RE_LLAMA3, TKZ_RE_QWEN2 };
/* steps of the normalizer and pre-tokenizer */
enum { TKZ_N_PREPEND = 1, TKZ_N_REPLACE, TKZ_N_NFC };
enum { TKZ_P_SPLIT = 1, TKZ_P_BYTELEVEL, TKZ_P_METASPACE };

typedef struct tkz_step {
    int type;
    int re;            /* TKZ_P_SPLIT / BYTELEVEL with regex: TKZ_RE_*          */
    int flag;          /* BYTELEVEL: add_prefix_space; METASPACE: prepend scheme
                          (0 never, 1 always, 2 first)                           */
    char a[16], b[16]; /* PREPEND a; REPLACE a -> b; METASPACE replacement a   */
    size_t alen, blen;
} tkz_step;

typedef struct tkz_added {
    uint32_t off, len; /* content in blob */
    int id;
    uint8_t special, lstrip, rstrip;
} tkz_added;

#define TKZ_MAX_STEPS 8

struct hc_tkz {
    int kind;             /* HC_TKZ_SPM / HC_TKZ_BPE                               */
    int n_vocab;          /* ids 0..n_vocab-1                                       */
    int n_sym;            /* ids, then symbols that only merges name               */
    int cap_sym;
    uint32_t *off;        /* (cap_sym + 1) symbol i = blob[off[i] .. off[i+1])     */
    char *blob;
    size_t blob_len, blob_cap;
    float *scores;        /* (n_vocab) or NULL                                      */
    uint8_t *flags;       /* (n_vocab) TKZ_F_*                                      */
    int32_t *tab;         /* hash of symbol bytes -> symbol, -1 empty              */
    uint32_t tab_mask;
    uint64_t *mkey;       /* merge hash: (left << 32 | right) + 1, 0 empty          */
    int32_t *mrank, *mres;
    uint32_t mmask;
    size_t n_merges;
    int use_scores;       /* SPM without merges: merge order from scores           */
    int byte_tok[256];    /* id of the <0xXX> token of each byte, -1 none         */
    int byte_sym[256];    /* BPE: symbol of each single byte, -1 none             */
    int byte_fallback, ignore_merges, fuse_unk;
    int unk_id, bos_id, eos_id, add_bos, add_eos;
    int spm_space;        /* SPM decode: U+2581 means a space                     */
    int strip_first_space;/* decode: drop the first leading space                  */
    tkz_added *added;     /* matched in the text before everything else           */
    size_t n_added;
    uint8_t added_first[32]; /* bit set: some added token starts with that byte */
    tkz_step norm[TKZ_MAX_STEPS], pre[TKZ_MAX_STEPS];
    int n_norm, n_pre;
};

#define TKZ_F_SPECIAL 1
#define TKZ_F_ADDED 2
#define TKZ_F_CONTROL 4

/* ---- building (tokenizer_core.c) ---- */
hc_status tkz_new(int kind, size_t n_vocab, const char *label, hc_tkz **out, hc_error *err);
/* Sets the bytes of vocabulary id (once per id, any order, before
 * tkz_finish_vocab). raw: s is text, not a byte-level piece to unmap. */
hc_status tkz_set_token(hc_tkz *t, int id, const char *s, size_t n, int raw, const char *label, hc_error *err);
/* 1 if tkz_set_token was called for id (before tkz_finish_vocab). */
int tkz_token_set(const hc_tkz *t, int id);
/* Builds the lookup table after all tokens are set; later tokens with the
 * same bytes do not replace earlier ones unless override_ids. */
hc_status tkz_finish_vocab(hc_tkz *t, const char *label, hc_error *err);
/* Points the lookup of s at id (added tokens win over the vocabulary). */
void tkz_override(hc_tkz *t, int id);
hc_status tkz_add_merge(hc_tkz *t, const char *a, size_t an, const char *b, size_t bn, int32_t rank,
                        const char *label, hc_error *err);
hc_status tkz_alloc_merges(hc_tkz *t, size_t n, const char *label, hc_error *err);
hc_status tkz_add_added(hc_tkz *t, int id, int special, int lstrip, int rstrip, const char *label, hc_error *err);
/* Byte tables after vocabulary and added tokens are in. */
void tkz_finish(hc_tkz *t);
int tkz_lookup(const hc_tkz *t, const char *s, size_t n);
/* GPT-2 bytes-to-unicode: code point of byte b, and back (-1: not a byte). */
uint32_t tkz_byte_cp(int b);
int tkz_cp_byte(uint32_t cp);
/* byte-level piece (UTF-8 of mapped code points) -> raw bytes; 0 if a code
 * point is not in the map. out has room for n bytes. */
int tkz_unmap_bytes(const char *s, size_t n, char *out, size_t *out_n);
/* decodes one UTF-8 code point at s[0..n) (n > 0): *len bytes (>= 1); bad
 * sequences give U+FFFD and length 1 */
uint32_t tkz_utf8(const unsigned char *s, size_t n, size_t *len);

/* tokenizer_json.c: a llama2.c tokenizer.bin image (SPM with scores, BOS 1, EOS 2) */
hc_status tkz_from_llama2c(const void *p, size_t len, const char *label, hc_tkz **out, hc_error *err);
/* tokenizer_gguf.c: from an open GGUF's tokenizer.ggml.* keys (src/io/gguf.h) */
struct hc_gguf;
hc_status hc_tkz_from_gguf(const struct hc_gguf *g, const char *label, hc_tkz **out, hc_error *err);


/* the merge table's hash of a (left, right) symbol pair (tokenizer_core.c,
   tokenizer_bpe.c) */
static inline uint32_t hash_pair(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

#endif
