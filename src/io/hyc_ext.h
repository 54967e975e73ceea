/* hyc_ext.h — internal hooks between the container (hyc.c) and its 2.0
 * attachments section (hyc_attach.c, docs/FORMAT.md "Attachments section"),
 * and between the pipeline (pipeline.c) and Hugging Face folders (hfdir.c). */
#ifndef HC_HYC_EXT_H
#define HC_HYC_EXT_H

#include "hyperc.h"

typedef struct hyc_ext hyc_ext;     /* a reader's parsed section          */
typedef struct hyc_ext_w hyc_ext_w; /* what a writer collects for it      */

/* ---- provided by hyc.c ---------------------------------------------------- */
const hyc_ext *hyc_reader_ext(const hc_hyc *h);
const char *hyc_reader_label(const hc_hyc *h);
hyc_ext_w **hyc_writer_ext(hc_hyc_writer *w);
size_t hyc_writer_count(const hc_hyc_writer *w);
const char *hyc_writer_path(const hc_hyc_writer *w);

/* ---- provided by hyc_attach.c ------------------------------------------- */
/* Parses and checks the section of a version-2 file (header field 56 gives
 * its size; it ends at dir_off). *out stays NULL when there is none. */
hc_status hyc_ext_open(const uint8_t *base, uint64_t len, uint64_t dir_off, uint64_t payload_start,
                       const hc_hyc *h, size_t count, const char *label, hyc_ext **out, hc_error *err);
void hyc_ext_free(hyc_ext *x);
/* Checks every attachment's CRC-32C. */
hc_status hyc_ext_verify(const hc_hyc *h, hc_error *err);
/* The section bytes for a writer of tensor_count tensors (malloc'd, a
 * multiple of 8 long); *len 0 and *out NULL when x holds nothing. */
hc_status hyc_ext_w_build(const hyc_ext_w *x, size_t tensor_count, const char *path, uint8_t **out,
                          size_t *len, hc_error *err);
void hyc_ext_w_free(hyc_ext_w *x);

/* ---- provided by hfdir.c --------------------------------------------------- */
/* Parses and checks a model.safetensors.index.json image on its own (names,
 * shard file names, duplicates, limits): what compress does before it opens
 * the shards. For tests and the fuzzer. */
hc_status hc_hfdir_index_parse(const void *buf, size_t len, const char *label, size_t *n_tensors, size_t *n_shards,
                               hc_error *err);

/* ---- provided by pipeline.c ------------------------------------------------ */
/* Decodes tensors [first, first + count) of h in order (each over threads)
 * and hands tensor first + k to put as index k, as bytes of its dtype; raw
 * tensors as stored. Stops at the first failure. */
typedef hc_status (*hc_tensor_put_fn)(void *user, size_t k, const void *data, hc_error *err);
hc_status hc_hyc_decode_each(const hc_hyc *h, size_t first, size_t count, int threads, hc_tensor_put_fn put,
                             void *user, hc_error *err);
/* Codes the tensors of st into w (appended after what w holds), with rate
 * planning (--bpw/--snr) over st alone. Progress reports number tensors from
 * index_base of count_total. sum_sq/sum_err accumulate the size-weighted
 * NMSE. label names st in messages. release_pages: st was opened from a
 * file (hc_st_open, a read-only mapping); each tensor's pages are dropped
 * once it is written, so memory stays bounded by the tensors in flight. */
hc_status hc_compress_st_into(const hc_safetensors *st, const char *label, hc_hyc_writer *w, const hc_opts *o,
                              int threads, hc_progress_fn progress, void *user, hc_model_report *rep,
                              size_t index_base, size_t count_total, double *sum_sq, double *sum_err,
                              int release_pages, hc_error *err);

/* ---- provided by hfdir.c ------------------------------------------------- */
/* 1 if in_path is a folder or a *.index.json file (a Hugging Face model). */
int hc_hfdir_is_input(const char *in_path);
/* 1 if out_path names a folder to decompress into: an existing folder, a
 * path ending in '/', or a new name without an extension when in_path holds
 * a shard table. */
int hc_hfdir_is_output(const char *in_path, const char *out_path);
hc_status hc_hfdir_compress(const char *in_path, const char *out_path, const hc_opts *o,
                            const hc_compress_extra *x, int threads, int overwrite, hc_progress_fn progress,
                            void *user, hc_model_report *rep, hc_error *err);
hc_status hc_hfdir_decompress(const char *in_path, const char *out_dir, int threads, int overwrite,
                              hc_error *err);
/* Stores the extra files of x (attach paths, tokenizer) in w. */
hc_status hc_hfdir_attach_extras(hc_hyc_writer *w, const hc_compress_extra *x, hc_error *err);

#endif
