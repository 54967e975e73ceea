/* llama2c_io.h — llama2.c checkpoints (legacy and version 1) as named
 * tensors, in-memory safetensors images, and the model-file conversions built
 * on them (used by compress / decompress / info / compare / convert). */
#ifndef HC_LLAMA2C_IO_H
#define HC_LLAMA2C_IO_H

#include "hyperc.h"
#include "hyperc_llm.h"
#include "../common/util.h"

/* Where every tensor of a llama2.c checkpoint lies. Tensors are listed in
 * Meta naming, layer-major (tok_embeddings, layers.0.*, ..., norm, the RoPE
 * tables freq_cis_real/freq_cis_imag when present, output), each with its
 * byte offset in the file. */
typedef struct hc_l2c_layout {
    int version;            /* 0: legacy (7 int32 header), 1: "ak42" version 1 */
    hc_llm_config cfg;      /* shared_classifier is 0 or 1                    */
    int has_rope;           /* legacy only: the freq_cis tables are stored     */
    uint64_t header_bytes;  /* 28 or 256                                       */
    uint64_t file_bytes;
    size_t n;
    hc_tensor_info *infos;  /* [n] F32                                         */
    uint64_t *offsets;      /* [n] byte offset in the file                     */
} hc_l2c_layout;

/* Parses and validates a checkpoint held in p[0..len): header fields, bounds,
 * and that the size matches exactly. Allocates only O(n_layers) after the
 * header has been checked. */
hc_status hc_l2c_parse(const uint8_t *p, uint64_t len, const char *label, hc_l2c_layout *out, hc_error *err);
void hc_l2c_layout_free(hc_l2c_layout *l);

/* 1 if the file starts with the version-1 magic, or is neither a safetensors
 * nor a .hyc file and its name ends in .bin. */
int hc_l2c_sniff(const uint8_t *p, uint64_t len, const char *path);
/* 1 if path ends in ".bin". */
int hc_l2c_path_is_bin(const char *path);

/* A llama2.c checkpoint as a safetensors object (an in-memory image: it
 * copies the weights) with the hyperparameters as metadata, in the form
 * stories260K.safetensors uses ("dim": "64", ..., "shared_classifier": "True"). */
hc_status hc_l2c_open_st(const char *path, hc_safetensors **out, hc_error *err);

/* Writes a llama2.c checkpoint from Meta-named tensors and their metadata.
 * version: 0 legacy, 1 version 1, -1: the version recorded in the metadata
 * ("llama2c_version"), else legacy. Legacy files get the RoPE tables: the
 * stored freq_cis_* tensors when present, else computed. */
hc_status hc_l2c_write(const hc_safetensors *st, const char *path, int version, int overwrite, hc_error *err);

/* .hyc -> llama2.c checkpoint (decompress -o x.bin, or --to llama2c). */
hc_status hc_l2c_decompress(const char *in_path, const char *out_path, int version, int overwrite, hc_error *err);

/* Builds an in-memory safetensors image from tensor infos; fill() writes
 * tensor i's nbytes into dst. The result owns its memory. */
typedef hc_status (*hc_st_fill_fn)(void *user, size_t i, uint8_t *dst, hc_error *err);
hc_status hc_st_image(const hc_tensor_info *infos, size_t n, const char *meta, size_t meta_len, const char *label,
                      hc_st_fill_fn fill, void *user, hc_safetensors **out, hc_error *err);

/* A .hyc file decoded into a safetensors object (lossless tensors bit-exact,
 * lossy ones decoded to their dtype), with its metadata. */
hc_status hc_hyc_open_st(const char *path, hc_safetensors **out, hc_error *err);

/* Opens any model file as a safetensors object: safetensors, GGUF, llama2.c
 * checkpoint, or (with decode_hyc) a .hyc file. */
hc_status hc_model_open_st(const char *path, int decode_hyc, hc_safetensors **out, hc_error *err);

/* Writes tensors as a .hyc file with every tensor stored verbatim (raw). */
hc_status hc_hyc_write_raw(const hc_safetensors *st, const char *path, int overwrite, hc_error *err);
/* Writes tensors as a safetensors file (same order, names, metadata). */
hc_status hc_st_write_all(const hc_safetensors *st, const char *path, int overwrite, hc_error *err);

/* Renames (and permutes q/k rows for RoPE) a llama model between Meta naming
 * (to_hf = 0) and Hugging Face naming (to_hf = 1); other tensors are kept.
 * n_heads / n_kv_heads come from the metadata. */
hc_status hc_llama_renamed(const hc_safetensors *st, int to_hf, const char *label, hc_safetensors **out,
                           hc_error *err);

/* Defined in safetensors.c: like hc_st_open_mem, and the result takes the
 * mapping m (unmapped by hc_st_close, or here on failure). */
hc_status hc_st_open_map(hc_map *m, const char *label, hc_safetensors **out, hc_error *err);

#endif
