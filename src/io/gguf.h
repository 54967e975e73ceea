/* gguf.h — reading and writing GGUF files (ggml's model format, versions 2
 * and 3; little-endian only), and their place in a .hyc.
 *
 * Layout read here (GGUF v3; v2 is the same for little-endian files, v1 with
 * 32-bit counts is refused):
 *   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
 *   kv_count x { string key, u32 value_type, value },
 *   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
 *   zero padding to align_up(., alignment), then the tensor data; each offset is
 *   relative to the data start and a multiple of the alignment (the u32 value of
 *   `general.alignment`, default 32, a power of two).
 *   string = u64 length + bytes (no NUL); array = u32 element type, u64 count,
 *   elements (arrays may nest).
 *
 * The reader treats the file as hostile: every count, length and offset is
 * checked against the bytes that are actually left before anything is
 * allocated or looped over, so an array length of 2^60 or a tensor past the
 * end is refused at once; memory grows only with entries actually parsed (at
 * most a small multiple of the file size). Nested arrays are limited to
 * HC_GGUF_MAX_DEPTH levels. Tensors must appear in increasing offset order
 * without overlap (llama.cpp writes them so and its reader requires it).
 *
 * How a GGUF lives in a .hyc (docs/FORMAT.md, "GGUF files"): the .hyc's
 * metadata holds the GGUF bytes [0, header_end) verbatim (magic, counts, every
 * key/value, every tensor info) followed by a small tail (HC_GGUF_TAIL_MAGIC,
 * u64 file length, u64 gap_len, gap bytes) that restores the padding exactly;
 * the tensors are the .hyc's entries in GGUF order. */
#ifndef HC_GGUF_H
#define HC_GGUF_H

#include "hyperc.h"

#define HC_GGUF_MAX_DIMS 8           /* ggml uses at most 4                     */
#define HC_GGUF_MAX_DEPTH 8          /* nesting of arrays inside arrays         */
#define HC_GGUF_MAX_KEY 65535u       /* the spec's limit on a key's length      */
#define HC_GGUF_DEFAULT_ALIGNMENT 32
#define HC_GGUF_TAIL_MAGIC "HYCGGUF1" /* 8 bytes after the verbatim GGUF header */
#define HC_GGUF_MAX_GAPS ((uint64_t)64 << 20) /* non-zero/odd padding kept verbatim, at most */

/* Metadata value types (the numbers are the file's). */
typedef enum hc_gguf_type {
    HC_GGUF_UINT8 = 0, HC_GGUF_INT8 = 1, HC_GGUF_UINT16 = 2, HC_GGUF_INT16 = 3,
    HC_GGUF_UINT32 = 4, HC_GGUF_INT32 = 5, HC_GGUF_FLOAT32 = 6, HC_GGUF_BOOL = 7,
    HC_GGUF_STRING = 8, HC_GGUF_ARRAY = 9, HC_GGUF_UINT64 = 10, HC_GGUF_INT64 = 11,
    HC_GGUF_FLOAT64 = 12, HC_GGUF_TYPE_COUNT
} hc_gguf_type;

/* "uint32", "string", ... ("?" if unknown). */
const char *hc_gguf_type_name(uint32_t t);

/* ---- ggml tensor types ------------------------------------------------- */
typedef struct hc_ggml_type {
    uint32_t id;         /* ggml_type value in the file                        */
    const char *name;    /* "F32", "Q4_K", "IQ2_XXS", ...                     */
    uint32_t block;      /* elements per block (1 for plain types)             */
    uint32_t bytes;      /* bytes per block                                   */
    int hc_dtype;        /* the hyperc dtype of the same bits, or -1           */
} hc_ggml_type;

/* The table entry of a ggml type id, or NULL if hyperc does not know it. */
const hc_ggml_type *hc_ggml_type_get(uint32_t id);
/* The ggml type id of an hc dtype (F32 -> 0, BF16 -> 30, I8 -> 24, ...), or -1. */
int hc_ggml_type_of_dtype(hc_dtype t);

/* ---- reading ----------------------------------------------------------- */
typedef struct hc_gguf hc_gguf;

typedef struct hc_gguf_tensor {
    const char *name;              /* NUL-terminated                        */
    uint32_t ndim;                 /* 0 .. HC_GGUF_MAX_DIMS                 */
    uint64_t ne[HC_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the innermost    */
    uint32_t type;                 /* ggml type id (known to hc_ggml_type_get) */
    uint64_t offset;               /* from the start of the data section     */
    uint64_t nelem, nbytes;
} hc_gguf_tensor;

/* Opens and validates a GGUF file (mmap). */
hc_status hc_gguf_open(const char *path, hc_gguf **out, hc_error *err);
/* Validates a GGUF image in memory (not copied; must outlive the object). */
hc_status hc_gguf_open_mem(const void *buf, uint64_t len, const char *label, hc_gguf **out, hc_error *err);
void hc_gguf_close(hc_gguf *g);
/* 1 if the bytes start with the GGUF magic. */
int hc_gguf_is_gguf(const void *buf, uint64_t len);
/* 1 if the file at path starts with the GGUF magic (0 if unreadable). */
int hc_gguf_sniff(const char *path);

uint32_t hc_gguf_version(const hc_gguf *g);
uint64_t hc_gguf_alignment(const hc_gguf *g);
uint64_t hc_gguf_header_end(const hc_gguf *g); /* end of the last tensor info   */
uint64_t hc_gguf_data_start(const hc_gguf *g); /* align_up(header_end, alignment) */
size_t hc_gguf_tensor_count(const hc_gguf *g);
const hc_gguf_tensor *hc_gguf_tensor_get(const hc_gguf *g, size_t i);
/* Tensor i's bytes (NULL for a header-only object, see hc_gguf_blob_open). */
const void *hc_gguf_tensor_data(const hc_gguf *g, size_t i);
long hc_gguf_find_tensor(const hc_gguf *g, const char *name);

/* ---- metadata lookup (for tokenizers, hyperparameters, ...) -------------
 * Keys are found by exact byte comparison. Every getter returns 1 when the
 * key exists and has a fitting type, else 0 (outputs untouched). Strings
 * point into the file (not NUL-terminated: use the length); they stay valid
 * while the hc_gguf is open.
 *   int:   any integer type or bool, as int64 (uint64 above INT64_MAX fails)
 *   float: float32/float64, or any integer type converted
 *   array: top-level arrays; *elem_type is the element type (HC_GGUF_ARRAY
 *          for nested arrays, whose elements the getters below refuse). */
size_t hc_gguf_kv_count(const hc_gguf *g);
/* Key i (in file order) and its type; NULL if i is out of range. */
const char *hc_gguf_kv_key(const hc_gguf *g, size_t i, size_t *len, uint32_t *type);
long hc_gguf_find_key(const hc_gguf *g, const char *key);
int hc_gguf_get_str(const hc_gguf *g, const char *key, const char **s, size_t *len);
int hc_gguf_get_int(const hc_gguf *g, const char *key, int64_t *v);
int hc_gguf_get_float(const hc_gguf *g, const char *key, double *v);
int hc_gguf_get_array(const hc_gguf *g, const char *key, uint32_t *elem_type, uint64_t *n);
/* Element i of a top-level array (O(1), also for arrays of strings). */
int hc_gguf_array_str(const hc_gguf *g, const char *key, uint64_t i, const char **s, size_t *len);
int hc_gguf_array_int(const hc_gguf *g, const char *key, uint64_t i, int64_t *v);
int hc_gguf_array_float(const hc_gguf *g, const char *key, uint64_t i, double *v);

/* ---- in a .hyc ----------------------------------------------------------- */
/* The .hyc metadata for g: header bytes verbatim + tail (malloc'd). */
hc_status hc_gguf_blob(const hc_gguf *g, uint8_t **blob, size_t *len, hc_error *err);
/* Parses such metadata: a header-only object (no tensor data). The blob must
 * outlive it. *file_len gets the original file's length. */
hc_status hc_gguf_blob_open(const void *blob, size_t len, const char *label, hc_gguf **out,
                            uint64_t *file_len, hc_error *err);
/* The hyperc view of GGUF tensor i: the name; F32/F16/BF16/F64/I8..I64 as
 * that dtype with the shape outermost first (ne reversed); every other ggml
 * type as U8 of shape [nbytes], carried bit-exact. */
void hc_gguf_tensor_info(const hc_gguf_tensor *t, hc_tensor_info *out);
/* A safetensors object viewing g's tensors (for the compression pipeline);
 * close it before g. */
hc_status hc_gguf_as_st(const hc_gguf *g, hc_safetensors **out, hc_error *err);
/* Defined in safetensors.c: an hc_safetensors over n tensors held elsewhere,
 * tensor i at data + begins[i] (in this order; nothing is copied). */
hc_status hc_st_open_view(const void *data, uint64_t data_len, const hc_tensor_info *infos,
                          const uint64_t *begins, size_t n, const char *label, hc_safetensors **out,
                          hc_error *err);

/* ---- llama models ---------------------------------------------------------- */
/* Hyperparameters of a GGUF llama model (general.architecture "llama"):
 * llama.embedding_length, feed_forward_length, block_count,
 * attention.head_count, attention.head_count_kv (default head_count),
 * context_length, vocab_size (else the length of tokenizer.ggml.tokens),
 * attention.layer_norm_rms_epsilon (default 1e-5), rope.freq_base (default
 * 10000). Partial RoPE, RoPE scaling and experts are HC_E_UNSUPPORTED. The
 * weights use llama.cpp's names (token_embd.weight, blk.N.attn_q.weight, ...:
 * HC_LLM_NAMES_GGUF in hyperc_llm.h). */
struct hc_llm_config;
hc_status hc_gguf_llm_config(const hc_gguf *g, const char *label, struct hc_llm_config *cfg, hc_error *err);
/* The same from the GGUF metadata of a .hyc (hc_gguf_blob). */
hc_status hc_gguf_llm_config_blob(const void *blob, size_t len, const char *label, struct hc_llm_config *cfg,
                                  hc_error *err);

/* Makes hc_st_close(st) also call owner_free(owner) (after st's own memory). */
void hc_st_view_set_owner(hc_safetensors *st, void *owner, void (*owner_free)(void *));
/* Takes `meta` (malloc'd, len bytes + 1 byte of room for a NUL) as the
 * view's metadata: hc_st_metadata returns it, hc_st_close frees it. */
void hc_st_view_set_metadata(hc_safetensors *st, char *meta, size_t len);
/* Opens a GGUF file as a self-contained hc_safetensors view (hc_st_close
 * closes the GGUF too); tensors as in hc_gguf_tensor_info, and
 * hc_st_metadata gives the .hyc metadata of the GGUF (hc_gguf_blob), so the
 * compression pipeline takes a GGUF file like a safetensors one. */
hc_status hc_gguf_open_st(const char *path, hc_safetensors **out, hc_error *err);

/* ---- writing ------------------------------------------------------------- */
/* Streaming writer used by decompression: tensors are put in order, each as
 * the bytes of its hyperc view (hc_gguf_tensor_info). With a blob (the .hyc's
 * GGUF metadata) the header and padding are written back verbatim and the
 * infos must agree with it; without one (a .hyc made from safetensors), a
 * fresh GGUF v3 is written with the tensors' names, ggml types from their
 * dtypes and no metadata keys. */
typedef struct hc_gguf_writer hc_gguf_writer;
hc_status hc_gguf_writer_open(const char *path, const void *blob, size_t blob_len,
                              const hc_tensor_info *infos, size_t n, int overwrite,
                              hc_gguf_writer **out, hc_error *err);
hc_status hc_gguf_writer_put(hc_gguf_writer *w, size_t i, const void *data, hc_error *err);
hc_status hc_gguf_writer_finish(hc_gguf_writer *w, hc_error *err); /* frees w */
void hc_gguf_writer_abort(hc_gguf_writer *w);

/* Building a GGUF from scratch (tests, seeds, converters): add keys and
 * tensors in order, then write. Values are copied; tensor data is not (it must
 * stay valid until hc_gguf_build_write/_image). */
typedef struct hc_gguf_build hc_gguf_build;
hc_status hc_gguf_build_new(uint32_t version, hc_gguf_build **out, hc_error *err);
void hc_gguf_build_free(hc_gguf_build *b);
/* A value of any type from its encoded bytes (as in the file after the type field). */
hc_status hc_gguf_build_kv(hc_gguf_build *b, const char *key, uint32_t type, const void *val, size_t len,
                           hc_error *err);
hc_status hc_gguf_build_u32(hc_gguf_build *b, const char *key, uint32_t v, hc_error *err);
hc_status hc_gguf_build_f32(hc_gguf_build *b, const char *key, float v, hc_error *err);
hc_status hc_gguf_build_str(hc_gguf_build *b, const char *key, const char *s, hc_error *err);
hc_status hc_gguf_build_str_array(hc_gguf_build *b, const char *key, const char *const *s, size_t n,
                                  hc_error *err);
/* ne in ggml order (ne[0] innermost). */
hc_status hc_gguf_build_tensor(hc_gguf_build *b, const char *name, uint32_t ndim, const uint64_t *ne,
                               uint32_t ggml_type, const void *data, hc_error *err);
/* The whole file image (malloc'd) / written to path (temp name + rename). */
hc_status hc_gguf_build_image(hc_gguf_build *b, uint8_t **img, size_t *len, hc_error *err);
hc_status hc_gguf_build_write(hc_gguf_build *b, const char *path, int overwrite, hc_error *err);

#endif
