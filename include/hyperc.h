/*
 * hyperc.h — the public interface of libhyperc.
 *
 * libhyperc compresses the weights of trained neural networks without
 * retraining, by Hyper-Compression (Fan et al., arXiv 2409.00592): groups of
 * weights are stored as the integer "time" t of the nearest point on the
 * trajectory of a low-dimensional ergodic system (an irrational winding on a
 * torus), bit-packed; decoding evaluates the trajectory at t.
 *
 * Conventions that hold for every call below:
 *  - Functions that can fail return hc_status (HC_OK == 0) and, when `err` is
 *    not NULL, fill it with a one-line message saying what failed, on which
 *    file and tensor, and why. On failure no output is left half-made: files
 *    are written under a temporary name and renamed only on success, and
 *    output pointers are left NULL.
 *  - Sizes and offsets are 64-bit. Multi-byte values on disk are little-endian.
 *  - Objects (hc_safetensors, hc_hyc, hc_decoder, ...) are not thread-safe for
 *    mutation, but every read-only query and every decode may run concurrently.
 *  - Nothing here prints; progress goes through callbacks.
 */
#ifndef HYPERC_H
#define HYPERC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HC_VERSION_MAJOR 0
#define HC_VERSION_MINOR 1
#define HC_VERSION_PATCH 0
#define HC_VERSION_STRING "0.1.0"

/* ===================================================================== */
/* Errors                                                                 */
/* ===================================================================== */

typedef enum hc_status {
    HC_OK = 0,
    HC_E_ARG = 1,         /* bad argument from the caller                     */
    HC_E_IO = 2,          /* open/read/write/rename/mmap failed (errno text)  */
    HC_E_FORMAT = 3,      /* input is not of the expected format              */
    HC_E_CORRUPT = 4,     /* recognised format, but inconsistent or damaged   */
    HC_E_NOMEM = 5,       /* allocation failed                                */
    HC_E_UNSUPPORTED = 6, /* valid but not supported (unknown codec, version) */
    HC_E_LIMIT = 7,       /* a size limit was exceeded                        */
    HC_E_EXISTS = 8       /* output exists and overwriting was not allowed    */
} hc_status;

typedef struct hc_error {
    hc_status code;
    char msg[1024];
} hc_error;

/* Short name of a status ("ok", "io error", ...). Never NULL. */
const char *hc_status_str(hc_status s);

/* The error rule. Every call that can fail takes `hc_error *err` (may be
 * NULL) and returns hc_status (HC_OK == 0); on failure err holds the same
 * code and a one-line message (what failed, which file and tensor, why).
 *  - A call that fails SETS the error, REPLACING whatever err held before:
 *    an earlier failure the caller handled never leaks into a later message
 *    or code. A call that succeeds leaves err as it was.
 *  - A caller passing a failure on ADDS CONTEXT with hc_error_context: the
 *    message becomes "context: callee message" (or "context: <status name>"
 *    if the callee left no message), the code becomes `code`, the callee's
 *    status, which is returned. It does nothing when code is HC_OK, and does
 *    not repeat a context the message already begins with.
 *    `if ((s = hc_hyc_open(path, &h, err))) return hc_error_context(err, s, "model %d", i);`
 *  - A caller that handles a failure and goes on may call hc_error_clear.
 * Return values: every call that can fail returns hc_status, including the
 * name parsers (hc_dtype_parse, hc_codec_parse) and the by-index getters
 * (hc_st_info_at, hc_hyc_entry_at), which fail with HC_E_ARG and leave err
 * alone (they take none). The exceptions are calls that cannot fail:
 * lookups by name give an index or -1 (hc_st_find, hc_hyc_find,
 * hc_hyc_attachment_find), predicates 1 or 0 (hc_dtype_is_codable,
 * hc_opts_codes_tensor, hc_tkz_is_*), counts and sizes a number, getters a
 * pointer or NULL. */
hc_status hc_error_context(hc_error *err, hc_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void hc_error_clear(hc_error *err);

/* ===================================================================== */
/* Data types and tensors                                                 */
/* ===================================================================== */

typedef enum hc_dtype {
    HC_F32 = 0, HC_F16 = 1, HC_BF16 = 2, HC_F64 = 3,
    HC_I8 = 4, HC_I16 = 5, HC_I32 = 6, HC_I64 = 7,
    HC_U8 = 8, HC_U16 = 9, HC_U32 = 10, HC_U64 = 11,
    HC_BOOL = 12, HC_F8_E4M3 = 13, HC_F8_E5M2 = 14,
    HC_DTYPE_COUNT
} hc_dtype;

/* safetensors spelling ("F32", "BF16", ...); "?" for an invalid value. */
const char *hc_dtype_name(hc_dtype t);
/* Parses a safetensors dtype name of `len` bytes; HC_E_ARG if unknown. */
hc_status hc_dtype_parse(const char *s, size_t len, hc_dtype *out);
/* Bytes per element; 0 for an invalid value. */
size_t hc_dtype_size(hc_dtype t);
/* 1 for the dtypes the lossy codecs take (F32, F16, BF16), else 0. */
int hc_dtype_is_codable(hc_dtype t);

/* Element conversions (round to nearest even; NaN/Inf kept). */
float hc_f16_to_f32(uint16_t h);
uint16_t hc_f32_to_f16(float f);
float hc_bf16_to_f32(uint16_t h);
uint16_t hc_f32_to_bf16(float f);
/* Converts n elements of a codable dtype to/from float32. */
void hc_to_f32(hc_dtype t, const void *src, float *dst, uint64_t n);
void hc_from_f32(hc_dtype t, const float *src, void *dst, uint64_t n);

#define HC_MAX_DIMS 8
#define HC_MAX_NAME 1024

/* Limits: one set for every reader and writer of this library (safetensors,
 * .hyc, decompress), checked before any work or allocation that depends on
 * them; docs/FORMAT.md "Limits" lists them with the llama2.c and tokenizer
 * ones. A file past a limit is refused with HC_E_LIMIT. Memory for a file's
 * table of tensors stays proportional to its size on disk (about 60 bytes a
 * tensor plus its name and shape).
 *   HC_MAX_DIMS        dimensions of a tensor
 *   HC_MAX_NAME - 1    bytes of a tensor name (UTF-8 in safetensors, no NUL)
 *   HC_MAX_PARAMS      bytes of codec parameters of a .hyc tensor           */
#define HC_MAX_TENSORS (1u << 20)     /* tensors in one file                 */
#define HC_MAX_HEADER 100000000u      /* bytes of a safetensors JSON header  */
#define HC_MAX_METADATA 100000000u    /* bytes of the metadata JSON object   */
#define HC_MAX_META_KEYS (1u << 16)   /* keys of the metadata object         */
#define HC_MAX_JSON_DEPTH 64          /* nesting of any JSON text read       */
#define HC_MAX_HYC_HEADER 65536u      /* bytes of a .hyc header              */

typedef struct hc_tensor_info {
    char name[HC_MAX_NAME]; /* NUL-terminated, at most HC_MAX_NAME-1 bytes  */
    hc_dtype dtype;
    uint32_t ndim;           /* 0 = scalar                                  */
    uint64_t shape[HC_MAX_DIMS];
    uint64_t nelem;          /* product of shape (1 for a scalar)           */
    uint64_t nbytes;         /* nelem * dtype size                          */
} hc_tensor_info;

/* ===================================================================== */
/* Codecs                                                                 */
/* ===================================================================== */

/* Codec ids are part of the .hyc format: never renumber. */
typedef enum hc_codec_id {
    HC_CODEC_RAW = 0,    /* lossless: the original bytes                    */
    HC_CODEC_PAPER = 1,  /* the paper's 2-D winding with distance bands     */
    HC_CODEC_Q8B = 2,    /* baseline: 8-bit absmax round-to-nearest, 32/blk */
    HC_CODEC_Q4B = 3,    /* baseline: 4-bit absmax round-to-nearest, 32/blk */
    HC_CODEC_QKM = 4,    /* baseline: b-bit scale+min per block (k-quant-like) */
    HC_CODEC_HLAT = 5,   /* block-scaled K-dim winding lattice (hyperfunction) */
    HC_CODEC_TRELLIS = 6, /* shift-map trellis, Viterbi-searched (hyperfunction) */
    HC_CODEC_SPARSE = 7, /* zero mask + the kept weights by another codec (pruning) */
    HC_CODEC_COUNT
} hc_codec_id;

#define HC_MAX_POINT_SIZES 8

/* Options of the encoders. hc_opts_default() gives the tool's default;
 * hc_opts_preset() the paper's presets. Fields a codec does not use are
 * ignored by it. */
typedef struct hc_opts {
    hc_codec_id codec;
    /* paper codec */
    double rect_l;              /* side L of the square; <= 0: derived from the
                                   tensor's spread (see docs/ALGORITHM.md)    */
    double rect_l_sigmas;       /* auto L = rect_l_sigmas * stddev             */
    uint32_t points[HC_MAX_POINT_SIZES]; /* codebook sizes n, tried in order   */
    uint32_t n_points;
    uint32_t bands_max;         /* C_max                                       */
    double loss_target;         /* stop trying C once MAE <= this              */
    double loss_max;            /* move to the next n while MAE > this         */
    double loss_limit;          /* > 0: keep a tensor lossless if MAE > this   */
    /* block codecs */
    uint32_t bits;              /* bits per code (QKM), or index bits (HLAT)   */
    uint32_t block;             /* weights per scale block                     */
    uint32_t dim;               /* K, weights per group (HLAT)                 */
    /* budgets (model level) */
    double target_bpw;          /* > 0: choose settings per tensor to meet it  */
    double target_snr;          /* > 0: smallest file with SNR >= this (dB)    */
    /* which tensors are coded */
    uint64_t min_elems;         /* smaller float tensors stay lossless         */
    const char *keep;           /* comma-separated glob patterns (fnmatch) of
                                   tensor names kept lossless, or NULL        */
    uint32_t threads;           /* threads for one tensor in hc_encode and
                                   hc_encode_matrix (0 or 1: one). The whole-
                                   model calls (hc_compress_file/_path) take
                                   their own `threads`: with 0 or 1 here they
                                   split a large tensor over all of them    */
    /* calibration: input statistics of the model's matrices (hc_calib), or
       NULL. Matrices found in it are coded with error feedback
       (hc_encode_matrix); not owned, must outlive the call. */
    const struct hc_calib *calib;
    uint32_t effort;            /* trellis: state bits L (0: the default, 12)   */
    uint32_t no_transform;      /* trellis: 1 = no Hadamard transform           */
    uint32_t tr_slope;          /* trellis: water-filling slope + 1 (block bits
                                   per 1/8 octave of scale; 0: the default)    */
    uint64_t cols;              /* row length of the tensor when known (0: not);
                                   set by hc_encode_tensor from the shape      */
    /* pruning before coding (src/codec/sparse.h; the zeros stored exactly by
       HC_CODEC_SPARSE): prune > 0 zeroes that fraction of each coded tensor,
       smallest magnitudes first; prune_m > 0 keeps the prune_n largest of
       every prune_m consecutive weights (2:4) */
    double prune;
    uint32_t prune_n, prune_m;
} hc_opts;

void hc_opts_default(hc_opts *o);
/* 1 if a tensor is coded under o: a codable dtype, at least o->min_elems
 * (and 2) weights, a lossy codec, and no o->keep pattern matching its name. */
int hc_opts_codes_tensor(const hc_opts *o, const hc_tensor_info *ti);
/* name: "paper-llm", "paper-vision", "default". Returns HC_E_ARG if unknown. */
hc_status hc_opts_preset(hc_opts *o, const char *name, hc_error *err);

/* The result of encoding one tensor. */
#define HC_MAX_PARAMS 256
typedef struct hc_encoded {
    hc_codec_id codec;
    uint32_t params_len;
    uint8_t params[HC_MAX_PARAMS]; /* codec parameters, stored in the directory */
    uint8_t *payload;              /* malloc'd; free with hc_encoded_free      */
    uint64_t payload_len;
    /* measured on the tensor as coded (float32 domain) */
    double mae, mse, max_abs_err, sum_sq; /* sum_sq = sum of w^2              */
    /* with calibration (hc_encode_matrix): the error of the layer's outputs,
       tr(D H D^T) / tr(W H W^T) for D = W - W'; 0 otherwise */
    double out_nmse;
    /* when a lossy codec kept the tensor lossless (codec == HC_CODEC_RAW):
       why, e.g. "NaN/Inf values"; empty otherwise */
    char note[112];
} hc_encoded;

void hc_encoded_free(hc_encoded *e);

/* Encodes n float32 weights with the codec named in o->codec. The result may
 * be HC_CODEC_RAW when the codec's rules decide the tensor stays lossless
 * (loss limit); RAW payloads then hold float32. */
hc_status hc_encode(const float *w, uint64_t n, const hc_opts *o,
                    hc_encoded *out, hc_error *err);

/* ---- calibration and error feedback ---------------------------------- */
/* The input statistics of a model's matrices: for a matrix W of shape
 * (rows, cols) used as y = W x, H = mean over calibration inputs of x x^T
 * (cols x cols). Built by hc_llm_calibrate (hyperc_llm.h) or by the caller. */
typedef struct hc_calib hc_calib;
hc_status hc_calib_new(hc_calib **out, hc_error *err);
void hc_calib_free(hc_calib *c);
/* Stores a copy of H (dim x dim, row-major, symmetric positive
 * semi-definite) for the tensor `name`; a second call for a name replaces
 * it. dim is at most HC_CALIB_DIM_MAX. */
#define HC_CALIB_DIM_MAX 16384u
hc_status hc_calib_add(hc_calib *c, const char *name, uint32_t dim, const float *H, hc_error *err);
/* H of `name` and its dim, or NULL. */
const float *hc_calib_find(const hc_calib *c, const char *name, uint32_t *dim);
size_t hc_calib_count(const hc_calib *c);
/* The loss the model suffers per unit of NMSE of tensor `name` (measured by
 * hc_llm_sensitivity); rate allocation (target_bpw / target_snr) minimises
 * the sum of weight * NMSE over tensors when weights are present. 0: none. */
hc_status hc_calib_set_weight(hc_calib *c, const char *name, double weight, hc_error *err);
double hc_calib_weight(const hc_calib *c, const char *name);

/* Encodes a (rows, cols) matrix so that its products with the calibration
 * inputs suffer least: the quantisation error of each group of weights is
 * fed back into the weights of the same row not yet quantised, through the
 * inverse of H (cols x cols) — the optimal-brain-surgeon update that GPTQ
 * uses, with this library's codecs as the quantiser; docs/ALGORITHM.md.
 * No retraining: only W is read. Fills out->out_nmse. Codecs without
 * feedback support (and H == NULL) encode as hc_encode. */
hc_status hc_encode_matrix(const float *w, uint64_t rows, uint64_t cols, const float *H,
                           const hc_opts *o, hc_encoded *out, hc_error *err);

/* A decoder: a codec's ready state for one stored tensor. It points into the
 * payload (which must outlive it) and holds only small tables. Opaque: use
 * hc_decode_range / hc_decode_all / hc_matvec. */
typedef struct hc_decoder hc_decoder; /* layout: HC_STATIC_LINKING_ONLY below */

/* Opens a decoder over a stored payload. `dtype` is the stored dtype of a RAW
 * payload (ignored by lossy codecs). Validates params and payload sizes. */
hc_status hc_decoder_open(hc_codec_id codec, const uint8_t *params, uint32_t params_len,
                          const uint8_t *payload, uint64_t payload_len, uint64_t n,
                          hc_dtype dtype, hc_decoder **out, hc_error *err);
void hc_decoder_free(hc_decoder *d);
/* Decodes all n weights. */
void hc_decode_all(const hc_decoder *d, float *out);
/* Decodes weights [start, start + count) into out; HC_E_ARG if the range
 * goes past the tensor. */
hc_status hc_decode_range(const hc_decoder *d, uint64_t start, uint64_t count, float *out, hc_error *err);
/* The number of weights, and the codec, of a decoder (0 and HC_CODEC_RAW for NULL). */
uint64_t hc_decoder_size(const hc_decoder *d);
hc_codec_id hc_decoder_codec(const hc_decoder *d);
/* Row range of W*x, using d->matvec or decode+dot. */
void hc_matvec(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
               const float *x, float *y);

/* Codec name ("raw", "paper", ...) or "?"; and the reverse (HC_E_ARG for a
 * name no codec of this build has). */
const char *hc_codec_name(hc_codec_id c);
hc_status hc_codec_parse(const char *name, hc_codec_id *out);

/* Bits per weight of an encoded tensor of n weights: 8 * (payload + params
 * bytes) / n. The rest of its .hyc directory entry (name, shape, offsets) is
 * not counted; the file-level figure (hc_model_report) counts everything. */
double hc_encoded_bpw(const hc_encoded *e, uint64_t n);

/* ===================================================================== */
/* safetensors                                                            */
/* ===================================================================== */

typedef struct hc_safetensors hc_safetensors;

/* Opens and validates a safetensors file (mmap). */
hc_status hc_st_open(const char *path, hc_safetensors **out, hc_error *err);
/* Validates a safetensors image held in memory (not copied; must outlive). */
hc_status hc_st_open_mem(const void *buf, uint64_t len, const char *label,
                         hc_safetensors **out, hc_error *err);
void hc_st_close(hc_safetensors *st);
size_t hc_st_count(const hc_safetensors *st);
/* Tensor i's info. The record is built on first query and kept until close
 * (about 1.1 KB a tensor); to walk a large file, prefer hc_st_info_at. */
const hc_tensor_info *hc_st_info(const hc_safetensors *st, size_t i);
/* Fills *out with tensor i's info, keeping nothing; HC_E_ARG if i is out of range. */
hc_status hc_st_info_at(const hc_safetensors *st, size_t i, hc_tensor_info *out);
/* Tensor i's name (lives as long as st), or NULL. */
const char *hc_st_name(const hc_safetensors *st, size_t i);
const void *hc_st_data(const hc_safetensors *st, size_t i);
/* Index of a tensor by name, or -1. */
long hc_st_find(const hc_safetensors *st, const char *name);
/* The JSON text of "__metadata__" exactly as in the file, or NULL. */
const char *hc_st_metadata(const hc_safetensors *st, size_t *len);

/* Writes a safetensors file: header from infos (in this order, data packed
 * back to back), then each tensor's bytes through put() in the same order.
 * metadata_json: a JSON object text kept verbatim as "__metadata__", or NULL. */
typedef struct hc_st_writer hc_st_writer;
hc_status hc_st_writer_open(const char *path, const hc_tensor_info *infos, size_t n,
                            const char *metadata_json, size_t metadata_len,
                            int overwrite, hc_st_writer **out, hc_error *err);
/* The same, with tensor i's info filled by info(user, i, out) on demand, so
 * the caller needs no table of full records (the writer keeps about 20 bytes
 * a tensor plus its name). */
typedef void (*hc_st_info_fn)(const void *user, size_t i, hc_tensor_info *out);
hc_status hc_st_writer_open_fn(const char *path, size_t n, hc_st_info_fn info, const void *user,
                               const char *metadata_json, size_t metadata_len, int overwrite,
                               hc_st_writer **out, hc_error *err);
/* Every check hc_st_writer_open(_fn) makes of its table and metadata (count,
 * names, dtypes, shapes, header size; the limits above), without writing. */
hc_status hc_st_writer_check(const char *path, size_t n, hc_st_info_fn info, const void *user,
                             const char *metadata_json, size_t metadata_len, hc_error *err);
hc_status hc_st_writer_put(hc_st_writer *w, size_t i, const void *data, hc_error *err);
/* Flushes, fsyncs and renames into place; frees w in all cases. */
hc_status hc_st_writer_finish(hc_st_writer *w, hc_error *err);
/* Removes the temporary file; frees w. */
void hc_st_writer_abort(hc_st_writer *w);

/* ===================================================================== */
/* The .hyc container (docs/FORMAT.md)                                    */
/* ===================================================================== */

typedef struct hc_hyc_entry {
    hc_tensor_info info;      /* original name, dtype, shape                 */
    hc_codec_id codec;
    uint32_t params_len;
    uint8_t params[HC_MAX_PARAMS];
    uint64_t offset;          /* payload offset from the start of the file   */
    uint64_t size;            /* payload bytes                               */
    uint32_t crc32c;          /* CRC-32C of the payload                      */
} hc_hyc_entry;

typedef struct hc_hyc hc_hyc;

/* Opens a .hyc file (mmap), validates header and directory. Payload CRCs are
 * checked when a payload is fetched (hc_hyc_payload) or by hc_hyc_verify. */
hc_status hc_hyc_open(const char *path, hc_hyc **out, hc_error *err);
hc_status hc_hyc_open_mem(const void *buf, uint64_t len, const char *label,
                          hc_hyc **out, hc_error *err);
void hc_hyc_close(hc_hyc *h);
size_t hc_hyc_count(const hc_hyc *h);
/* Entry i. The record is built on first query and kept until close (about
 * 1.4 KB an entry, against 48 bytes on disk); to walk a large directory,
 * prefer hc_hyc_entry_at. */
const hc_hyc_entry *hc_hyc_get(const hc_hyc *h, size_t i);
/* Fills *out with entry i, keeping nothing; HC_E_ARG if i is out of range. */
hc_status hc_hyc_entry_at(const hc_hyc *h, size_t i, hc_hyc_entry *out);
/* Tensor i's name (lives as long as h), or NULL. */
const char *hc_hyc_name(const hc_hyc *h, size_t i);
long hc_hyc_find(const hc_hyc *h, const char *name);
/* The input file's metadata kept verbatim, or NULL. */
const char *hc_hyc_metadata(const hc_hyc *h, size_t *len);
/* Pointer to tensor i's payload after checking its CRC-32C. */
hc_status hc_hyc_payload(const hc_hyc *h, size_t i, const uint8_t **p, hc_error *err);
/* Checks every payload CRC. */
hc_status hc_hyc_verify(const hc_hyc *h, hc_error *err);
/* Checks everything hc_decompress_file checks, without writing (`hyperc info
 * --verify`): every payload's CRC; for every coded tensor its codec id, its
 * parameters and its payload against its shape and dtype (its decoder is
 * opened, as decompress does); then the tensor table and metadata as the
 * safetensors writer takes them (hc_st_writer_check: limits, names). */
hc_status hc_hyc_verify_full(const hc_hyc *h, hc_error *err);
/* Opens a decoder for tensor i (CRC checked). */
hc_status hc_hyc_decoder(const hc_hyc *h, size_t i, hc_decoder **out, hc_error *err);
uint64_t hc_hyc_file_size(const hc_hyc *h);
/* Which software wrote the file ("hyperc 0.1.0"); "" if not recorded. */
const char *hc_hyc_writer_version(const hc_hyc *h);

typedef struct hc_hyc_writer hc_hyc_writer;
hc_status hc_hyc_writer_open(const char *path, int overwrite, hc_hyc_writer **out, hc_error *err);
/* Appends one tensor: e->offset, e->size and e->crc32c are filled in here. */
hc_status hc_hyc_writer_add(hc_hyc_writer *w, const hc_hyc_entry *e,
                            const void *payload, uint64_t size, hc_error *err);
/* Writes directory, metadata and trailer, fsyncs, renames; frees w always. */
hc_status hc_hyc_writer_finish(hc_hyc_writer *w, const char *metadata_json,
                               size_t metadata_len, hc_error *err);
void hc_hyc_writer_abort(hc_hyc_writer *w);

/* CRC-32C (Castagnoli), as used by the container. Pass 0 as crc to start. */
uint32_t hc_crc32c(uint32_t crc, const void *data, size_t n);

/* ---- attachments and shards (format 2.0, docs/FORMAT.md) -------------- */
/* Small files kept verbatim (config.json, tokenizer.json, ...), and for a
 * model read from a folder of shards the shard each tensor came from. */
#define HC_ATTACH_NAME_MAX 255
#define HC_ATTACH_SIZE_MAX ((uint64_t)64 << 20) /* per attachment            */
#define HC_ATTACH_COUNT_MAX 1024
#define HC_SHARD_COUNT_MAX 4096
#define HC_ATTACH_TOKENIZER 1u /* flag: the tokenizer given at compress time  */

typedef struct hc_hyc_attachment {
    char name[HC_ATTACH_NAME_MAX + 1]; /* a plain file name (no '/')         */
    uint64_t size;
    uint32_t crc32c;
    uint32_t flags;                    /* HC_ATTACH_*                         */
} hc_hyc_attachment;

size_t hc_hyc_attachment_count(const hc_hyc *h);
const hc_hyc_attachment *hc_hyc_attachment_get(const hc_hyc *h, size_t i);
long hc_hyc_attachment_find(const hc_hyc *h, const char *name);
/* The bytes of attachment i (valid while h is open) after checking its CRC. */
hc_status hc_hyc_attachment_data(const hc_hyc *h, size_t i, const uint8_t **p, hc_error *err);

typedef struct hc_hyc_shard {
    char name[HC_ATTACH_NAME_MAX + 1]; /* file name, e.g. model-00001-of-00003.safetensors */
    size_t first, count;               /* its tensors: directory entries [first, first+count) */
    const char *metadata;              /* its own __metadata__ JSON, verbatim, or NULL */
    size_t metadata_len;
} hc_hyc_shard;

/* 0 for a file made from a single file. */
size_t hc_hyc_shard_count(const hc_hyc *h);
const hc_hyc_shard *hc_hyc_shard_get(const hc_hyc *h, size_t i);

/* Stores a copy of size bytes as attachment `name` (written by finish). */
hc_status hc_hyc_writer_attach(hc_hyc_writer *w, const char *name, const void *data, uint64_t size,
                               uint32_t flags, hc_error *err);
/* Tensors added from now on belong to shard `name` (metadata: the shard's
 * __metadata__ text, or NULL). The first shard must begin before any tensor. */
hc_status hc_hyc_writer_begin_shard(hc_hyc_writer *w, const char *name, const char *metadata,
                                    size_t metadata_len, hc_error *err);

/* ===================================================================== */
/* Whole-model compression                                                */
/* ===================================================================== */

typedef struct hc_tensor_report {
    size_t index, count;      /* this tensor's position, number of tensors   */
    const hc_tensor_info *info;
    hc_codec_id codec;        /* codec actually used (RAW when kept)         */
    uint64_t bytes_in, bytes_out;
    double bpw;               /* payload + params bits / weight              */
    double nmse;              /* sum (w-w')^2 / sum w^2 (0 if lossless)      */
    double max_abs_err;
    double seconds;
    const char *note;         /* why a coded tensor was kept lossless, or "" */
} hc_tensor_report;

typedef void (*hc_progress_fn)(const hc_tensor_report *r, void *user);

typedef struct hc_model_report {
    uint64_t bytes_in, bytes_out;
    uint64_t weights_total, weights_coded;
    double bits_coded;        /* bits spent on the lossy-coded tensors        */
    double seconds;
    double nmse_coded;        /* mean NMSE of coded tensors, weighted by size  */
} hc_model_report;

/* safetensors -> .hyc. threads <= 0: all cores. progress may be NULL; it is
 * called once per tensor, in tensor order, never concurrently (possibly from
 * a worker thread). Tensors that are not F32/F16/BF16, or smaller than
 * o->min_elems, are stored verbatim (RAW). */
hc_status hc_compress_file(const char *in_path, const char *out_path, const hc_opts *o,
                           int threads, int overwrite, hc_progress_fn progress,
                           void *user, hc_model_report *rep, hc_error *err);
/* .hyc -> safetensors with the original names, order, dtypes and metadata.
 * out_path an existing folder, ending in '/', or (for a file made from a
 * folder of shards) a new name without an extension: the model folder is
 * rebuilt there (every shard, the index, every attachment); else one file. */
hc_status hc_decompress_file(const char *in_path, const char *out_path, int threads,
                             int overwrite, hc_error *err);

/* What hc_compress_path stores beside the tensors, and where it reports
 * which files of a model folder it stored or skipped. */
typedef struct hc_compress_extra {
    const char *tokenizer_path;      /* stored with HC_ATTACH_TOKENIZER, or NULL */
    const char *const *attach_paths; /* more files to store (by base name)      */
    size_t n_attach;
    void (*note)(void *user, const char *line); /* one line per file, or NULL */
    void *note_user;
} hc_compress_extra;

/* As hc_compress_file, and in_path may be a Hugging Face model folder (a
 * model.safetensors, or shards listed by model.safetensors.index.json, which
 * is validated against them) or the index file itself: shards are read one
 * at a time, each tensor keeps its shard, and the folder's other small files
 * (at most HC_ATTACH_SIZE_MAX bytes, not weights) are stored as attachments.
 * x may be NULL. */
hc_status hc_compress_path(const char *in_path, const char *out_path, const hc_opts *o,
                           const hc_compress_extra *x, int threads, int overwrite,
                           hc_progress_fn progress, void *user, hc_model_report *rep,
                           hc_error *err);

/* ===================================================================== */
/* Instruction sets                                                       */
/* ===================================================================== */

/* Every kernel of the library (decode, matvec and encoder searches of each
 * codec, the inference kernels) runs at one instruction-set level, decided
 * once per process: the highest this CPU and OS run (CPUID + XGETBV),
 * lowered by the environment variable HYPERC_SIMD=ref|avx2|avx512 (one
 * switch for everything; a level the CPU lacks is clamped to what it has).
 * Every level gives the same bytes from the encoders and the same decoded
 * weights; row products agree to float rounding. HYPERC_SIMD=ref runs the
 * plain-C reference kernels everywhere (for debugging and comparisons). */
typedef enum hc_simd {
    HC_SIMD_REF = 0,   /* plain C                                            */
    HC_SIMD_AVX2 = 1,  /* AVX2 + FMA + F16C                                  */
    HC_SIMD_AVX512 = 2 /* AVX-512 F + BW (and VBMI where a kernel uses it)   */
} hc_simd;

/* The level in force. */
hc_simd hc_simd_level(void);
/* "ref", "avx2", "avx512"; "?" for an invalid value. */
const char *hc_simd_name(hc_simd l);
/* HC_E_ARG, with a message naming it, when HYPERC_SIMD is set to something
 * that is not a level (it is then ignored: the best level is used). The CLI
 * prints it as a warning. */
hc_status hc_simd_env_check(hc_error *err);

/* ===================================================================== */
/* HC_STATIC_LINKING_ONLY: internals, not a stable interface               */
/* ===================================================================== */

/* What follows is for the library's own sources, its tools and tests, and
 * programs linked statically against one exact version: it may change in
 * any release, and libhyperc.so does not export these functions (zstd's
 * convention). Define HC_STATIC_LINKING_ONLY before including hyperc.h. */
#if defined(HC_STATIC_LINKING_ONLY) && !defined(HYPERC_H_STATIC)
#define HYPERC_H_STATIC

/* Sets an error found here: err gets `code` and the formatted message,
 * replacing whatever it held (the rule above). Returns code. */
hc_status hc_fail(hc_error *err, hc_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The decoder's layout, which each codec fills (src/codec/). */
struct hc_decoder {
    hc_codec_id codec;
    uint64_t n; /* number of weights */
    /* out[0..count) = weights [start, start+count) as float32 */
    void (*decode)(const hc_decoder *d, uint64_t start, uint64_t count, float *out);
    /* y[r - row0] = sum_c W[r, c] * x[c] for r in [row0, row1), with W the
     * tensor read row-major as (n / cols) x cols. NULL: use decode + dot. */
    void (*matvec)(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                   const float *x, float *y);
    void (*destroy)(hc_decoder *d);
};

/* Looks up a string (or number, returned as its text) value of `key` in a flat
 * JSON object text such as safetensors metadata. Returns 1 if found and it fit
 * in buf (NUL-terminated, JSON escapes decoded), else 0. */
int hc_json_object_get(const char *json, size_t len, const char *key, char *buf, size_t bufsz);

#endif /* HC_STATIC_LINKING_ONLY */

#ifdef __cplusplus
}
#endif
#endif /* HYPERC_H */
