/* rd_model.h — rate–distortion measurement of one model under one codec
 * setting (src/io/rd_model.c), for `hyperc rd` (tools/cmd_rd.c) and its
 * tests; the settings and the per-tensor measure are src/codec/rd.h. */
#ifndef HC_RD_MODEL_H
#define HC_RD_MODEL_H

#include "../codec/rd.h"

typedef struct hc_rd_result {
    size_t tensors_total, tensors_coded;
    size_t tensors_kept_raw;  /* coded-set tensors the codec chose to keep lossless */
    uint64_t weights_total;   /* elements of every tensor                  */
    uint64_t weights_coded;   /* elements of the coded tensors             */
    uint64_t bytes_payload;   /* coded tensors: payload + params           */
    uint64_t bytes_coded;     /* coded tensors: payload + directory entry (params included) */
    uint64_t bytes_file;      /* the whole .hyc file this setting would write */
    double bpw_payload, bpw_coded; /* 8 * bytes / weights_coded            */
    double bpw_file;          /* 8 * bytes_file / weights_total            */
    double nmse;              /* size-weighted mean of the per-tensor NMSE */
    double snr_db;            /* -10 log10 nmse (+inf when 0)              */
    double seconds;           /* wall time of encode + measure             */
    double encode_s;          /* thread-seconds in hc_encode, summed over coded tensors */
    double decode_s;          /* thread-seconds decoding them back (4096 at a time)     */
} hc_rd_result;

/* Measures one model under one setting, in parallel over tensors
 * (threads <= 0: all cores). `label` names the model in error messages. */
hc_status hc_rd_measure(const hc_safetensors *st, const char *label, const hc_opts *o, int threads,
                        hc_rd_result *out, hc_error *err);

/* Bytes of the .hyc directory entry of a tensor (docs/FORMAT.md, "Entries"). */
uint64_t hc_rd_entry_bytes(const hc_tensor_info *ti, uint32_t params_len);

#endif
