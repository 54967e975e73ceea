/* hyperc_tok.h — tokenizers of the models users hold: Hugging Face
 * tokenizer.json (SentencePiece-style BPE with byte fallback, as LLaMA-2,
 * TinyLlama, Mistral; byte-level BPE with a regex pre-tokenizer, as GPT-2,
 * LLaMA-3, Qwen2/3, SmolLM), and vocabularies given as arrays (what GGUF's
 * tokenizer.ggml.* keys or a llama2.c tokenizer.bin hold).
 *
 *     hc_tkz *t;
 *     hc_tkz_open("tokenizer.json", &t, &err);     // tokenizer_config.json beside it is read too
 *     hc_tkz_encode(t, text, len, HC_TKZ_SPECIALS, &ids, &n, &err);
 *     hc_tkz_decode(t, ids, n, 0, &s, &slen, &err);
 *     hc_tkz_free(t);
 *
 * Encoding follows the Hugging Face pipeline: added tokens are split out of
 * the text first (longest match), the rest is normalized, pre-tokenized and
 * BPE-merged (lowest merge rank first, leftmost on ties; or, for a vocabulary
 * without merges, highest score of the merged piece first); a piece left
 * without a token falls back to its <0xXX> byte tokens, else the unknown
 * token. The result equals transformers.js' (checked on whole text files,
 * tests/test_tokenizer_json.c).
 *
 * Limits (HC_E_LIMIT beyond them): HC_TKZ_MAX_VOCAB tokens,
 * HC_TKZ_MAX_TOKEN_BYTES bytes per token, HC_TKZ_MAX_MERGES merges,
 * HC_TKZ_MAX_ADDED added tokens, HC_TKZ_MAX_FILE bytes of tokenizer.json,
 * HC_TKZ_MAX_TEXT bytes of text per encode call. */
#ifndef HYPERC_TOK_H
#define HYPERC_TOK_H

#include "hyperc.h"
#include <stddef.h>
#include <stdint.h>

#define HC_TKZ_MAX_VOCAB (1 << 21)
#define HC_TKZ_MAX_TOKEN_BYTES 4096
#define HC_TKZ_MAX_MERGES (1 << 23)
#define HC_TKZ_MAX_ADDED 65536
#define HC_TKZ_MAX_FILE ((size_t)1 << 29)
#define HC_TKZ_MAX_TEXT ((size_t)1 << 30)

typedef struct hc_tkz hc_tkz;

/* Model kinds (GGUF tokenizer.ggml.model): */
enum {
    HC_TKZ_SPM = 1, /* "llama": pieces with U+2581 for spaces and <0xXX> byte tokens;
                       merges if given, else merge order from scores */
    HC_TKZ_BPE = 2  /* "gpt2": byte-level pieces (GPT-2's bytes-to-unicode map) and merges */
};

/* Token types (GGUF tokenizer.ggml.token_type). */
enum { HC_TKZ_NORMAL = 1, HC_TKZ_UNKNOWN = 2, HC_TKZ_CONTROL = 3, HC_TKZ_USER = 4, HC_TKZ_UNUSED = 5, HC_TKZ_BYTE = 6 };

/* A vocabulary given as arrays (not copied: only read during the call). */
typedef struct hc_tok_vocab {
    int kind;                     /* HC_TKZ_SPM or HC_TKZ_BPE                            */
    size_t n_tokens;
    const char *const *tokens;    /* (n_tokens) pieces as the vocabulary stores them    */
    const size_t *token_lens;     /* (n_tokens) byte lengths, or NULL: NUL-terminated   */
    const float *scores;          /* (n_tokens) or NULL (SPM without merges needs them) */
    const int32_t *types;         /* (n_tokens) HC_TKZ_NORMAL.. or NULL (all normal)     */
    size_t n_merges;
    const char *const *merges;    /* (n_merges) "left right", rank = index; or NULL     */
    const size_t *merge_lens;     /* (n_merges) or NULL: NUL-terminated                 */
    int bos_id, eos_id, unk_id;   /* -1: none                                            */
    int add_bos, add_eos;         /* put BOS / EOS around encoded text (HC_TKZ_SPECIALS) */
    int add_space_prefix;         /* SPM: a space before the text (llama: 1)             */
    const char *pre;              /* BPE pre-tokenizer (GGUF tokenizer.ggml.pre):
                                     NULL/"gpt2"/"default", "llama3"/"llama-bpe",
                                     "qwen2"; see hc_tkz_from_vocab                    */
} hc_tok_vocab;

/* Builds a tokenizer from arrays. SPM: control and user-defined tokens are
 * matched in the text before BPE, like added tokens; the space is U+2581;
 * unknown pieces become their byte tokens (type BYTE, or pieces "<0xXX>").
 * BPE: GPT-2-style byte-level pieces, the regex pre-tokenizer named by pre. */
hc_status hc_tkz_from_vocab(const hc_tok_vocab *v, const char *label, hc_tkz **out, hc_error *err);

/* tokenizer.json text (buf need not be NUL-terminated). config (may be NULL)
 * is the text of tokenizer_config.json: add_bos_token / add_eos_token /
 * bos_token / eos_token there override what the post-processor says. */
hc_status hc_tkz_from_json(const char *buf, size_t len, const char *config, size_t config_len, const char *label,
                           hc_tkz **out, hc_error *err);

/* Reads a tokenizer file, choosing the reader by content: tokenizer.json
 * (with tokenizer_config.json from the same folder, if there), or a llama2.c
 * tokenizer.bin (its whole vocabulary; SPM with scores, BOS 1, EOS 2). */
hc_status hc_tkz_open(const char *path, hc_tkz **out, hc_error *err);
void hc_tkz_free(hc_tkz *t);

/* 1 if the bytes look like a tokenizer.json (a JSON object with "model"). */
int hc_tkz_is_json(const void *buf, size_t len);

int hc_tkz_vocab_size(const hc_tkz *t);
int hc_tkz_bos(const hc_tkz *t); /* -1 if none */
int hc_tkz_eos(const hc_tkz *t);
int hc_tkz_kind(const hc_tkz *t);

/* Flags of hc_tkz_encode: */
#define HC_TKZ_SPECIALS 1 /* add BOS/EOS as the tokenizer says (post-processor / add_bos) */
#define HC_TKZ_NO_BOS 2   /* ... but no BOS */

hc_status hc_tkz_encode(const hc_tkz *t, const char *text, size_t len, int flags, int **ids, size_t *n,
                        hc_error *err);

/* The stored piece of a token (as in the vocabulary, internal bytes form:
 * byte-level pieces already mapped back to bytes). "" for a bad id. */
const char *hc_tkz_piece(const hc_tkz *t, int id, size_t *len);
/* The text of one token as decoding gives it: U+2581 -> " ", <0xXX> -> the
 * byte; a leading space dropped after BOS (SPM, as llama2.c prints) when
 * prev is BOS. Writes at most cap bytes to buf; returns the length. */
size_t hc_tkz_token_text(const hc_tkz *t, int prev, int id, char *buf, size_t cap);
/* Concatenated text of ids (malloc'd, NUL-terminated); skip_special: leave
 * out control/added special tokens. SPM drops the space prefix of the first
 * piece, as the tokenizer's decoder does. */
hc_status hc_tkz_decode(const hc_tkz *t, const int *ids, size_t n, int skip_special, char **text, size_t *len,
                        hc_error *err);
/* 1 if id is a special token (control, or an added token marked special). */
int hc_tkz_is_special(const hc_tkz *t, int id);

/* ---- GGUF vocabularies and .hyc files (src/infer/tokenizer_gguf.c) ----
 * hc_tkz_open takes these too, by content: a GGUF file (its tokenizer.ggml.*
 * keys) and a .hyc (hc_tkz_from_hyc). GGUF mapping: tokenizer.ggml.model
 * "llama" -> SPM merging by scores (scores required), "gpt2" -> byte-level
 * BPE (merges required, each part a token); tokens (required), scores and
 * token_type (one per token), bos/eos/unknown_token_id, add_bos_token,
 * add_eos_token, add_space_prefix, with llama.cpp's defaults (llama: BOS 1,
 * EOS 2, unk 0, BOS added, space prefix; gpt2: no BOS unless the pre-tokenizer
 * is LLaMA-3's); tokenizer.ggml.pre (gpt2) must name a pre-tokenizer of the
 * GPT-2, LLaMA-3 or Qwen2 kind, else HC_E_UNSUPPORTED. */
hc_status hc_tkz_from_gguf_file(const char *path, hc_tkz **out, hc_error *err);
/* A whole GGUF image in memory (not copied; only read during the call). */
hc_status hc_tkz_from_gguf_mem(const void *buf, size_t len, const char *label, hc_tkz **out, hc_error *err);
/* The GGUF header a .hyc made from a GGUF keeps as its metadata
 * (hc_hyc_metadata; docs/FORMAT.md "GGUF files"). */
hc_status hc_tkz_from_gguf_meta(const void *blob, size_t len, const char *label, hc_tkz **out, hc_error *err);
/* Tokenizer bytes of any kind, by content: tokenizer.json (config: the text
 * of tokenizer_config.json or NULL), GGUF, llama2.c tokenizer.bin; a name
 * ending in .model or bytes that parse as one: SentencePiece (hc_tkz_from_spm). */
hc_status hc_tkz_from_bytes(const char *name, const void *buf, size_t len, const char *config, size_t config_len,
                            const char *label, hc_tkz **out, hc_error *err);
/* The attachment of h that holds its tokenizer: the one flagged
 * HC_ATTACH_TOKENIZER (compress --tokenizer), else tokenizer.json, else
 * tokenizer.model, else tokenizer.bin; -1 if none. */
long hc_tkz_hyc_attachment(const hc_hyc *h);
/* 1 if h's metadata is a GGUF header (it may carry a tokenizer.ggml.* vocabulary). */
int hc_tkz_hyc_has_gguf_vocab(const hc_hyc *h);
/* The tokenizer a .hyc carries: its tokenizer attachment (a stored
 * tokenizer.json takes a stored tokenizer_config.json), else the vocabulary
 * of its GGUF metadata; HC_E_FORMAT if it carries none. path: for messages. */
hc_status hc_tkz_from_hyc(const hc_hyc *h, const char *path, hc_tkz **out, hc_error *err);
hc_status hc_tkz_open_hyc(const char *path, hc_tkz **out, hc_error *err);

/* ---- SentencePiece tokenizer.model (src/infer/tokenizer_spm.c) ----
 * A serialized sentencepiece.ModelProto: pieces (string, score, type),
 * trainer_spec (model_type, byte_fallback, unk/bos/eos ids,
 * treat_whitespace_as_suffix), normalizer_spec (name, add_dummy_prefix,
 * remove_extra_whitespaces, escape_whitespaces). Accepted: model_type BPE
 * with normalizer 'identity' (LLaMA-2, Mistral, TinyLlama): an SPM
 * vocabulary merging by score, BOS added when bos_id is a piece; UNIGRAM,
 * WORD, CHAR, other normalizers (nmt_nfkc, ...) and removed/unescaped
 * whitespace are refused by name (HC_E_UNSUPPORTED). hc_tkz_open takes such
 * a file by name (*.model) or content; hc_tkz_from_bytes and .hyc
 * attachments (tokenizer.model) too. */
hc_status hc_tkz_from_spm(const void *buf, size_t len, const char *label, hc_tkz **out, hc_error *err);
hc_status hc_tkz_open_spm(const char *path, hc_tkz **out, hc_error *err);
/* 1 if the bytes parse as a ModelProto with at least one piece. */
int hc_tkz_is_spm(const void *buf, size_t len);
/* 1 if path ends in .model or its content is a ModelProto (hc_tkz_is_spm). */
int hc_tkz_file_is_spm(const char *path);

#endif
