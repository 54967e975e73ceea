/* rd.h — rate–distortion measurement of one model under one codec setting,
 * for `hyperc rd` (tools/cmd_rd.c) and its tests.
 *
 * Protocol: every float tensor (F32/F16/BF16) of at least o->min_elems
 * weights (HC_RD_MIN_ELEMS = 4096 in parsed settings) is encoded with hc_encode and decoded back;
 * NMSE_t = Σ(w-ŵ)²/Σw² per tensor, averaged weighted by the tensors' sizes;
 * SNR = -10 log10 NMSE. Sizes count everything a .hyc file would store. */
#ifndef HC_RD_H
#define HC_RD_H

#include "hyperc.h"

#define HC_RD_SETTING_MAX 256
#define HC_RD_MIN_ELEMS 4096 /* smallest tensor coded, unless a setting says min_elems= */

/* A setting: "codec[:key=value[,key=value...]]", e.g. "qkm:bits=5",
 * "paper:preset=paper-llm", "hlat:bits=4,dim=8". The keys, their bounds and
 * rules are those of the option table (src/codec/options.h, hc_opt_rd_keys):
 * preset (defaults, whatever its place), bits, block, dim, n|points (a list
 * a/b/c), L|rect_l, sigmas, C|bands, loss_target, loss_max, loss_limit, bpw,
 * snr, min_elems; a key of another codec than the setting's is refused. */
typedef struct hc_rd_setting {
    char text[HC_RD_SETTING_MAX]; /* as given */
    hc_opts opts;
} hc_rd_setting;

/* Parses a setting into options: hc_opts_preset/hc_opts_default, min_elems
 * set to HC_RD_MIN_ELEMS, then the overrides. The codec must exist in this build. With `probe`, the setting
 * is also tried on a small synthetic tensor so that values the codec
 * refuses (qkm:bits=9) are reported now rather than mid-run. */
hc_status hc_rd_parse_setting(const char *text, int probe, hc_rd_setting *out, hc_error *err);

/* The built-in list, NULL-terminated: every codec's rd_settings (codec.h)
 * in id order. Entries whose codec is not in this build are meant to be
 * skipped by the caller. */
const char *const *hc_rd_default_settings(void);

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
} hc_rd_result;

/* Measures one model under one setting, in parallel over tensors
 * (threads <= 0: all cores). `label` names the model in error messages. */
hc_status hc_rd_measure(const hc_safetensors *st, const char *label, const hc_opts *o, int threads,
                        hc_rd_result *out, hc_error *err);

/* Bytes of the .hyc directory entry of a tensor (docs/FORMAT.md, "Entries"). */
uint64_t hc_rd_entry_bytes(const hc_tensor_info *ti, uint32_t params_len);

#endif
