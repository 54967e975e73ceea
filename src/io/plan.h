/* plan.h — rate allocation across a model's tensors (--bpw, --snr). */
#ifndef HC_PLAN_H
#define HC_PLAN_H

#include "hyperc.h"

typedef struct hc_plan_report {
    double bpw;     /* planned bits per coded weight (payload + params) */
    double nmse;    /* planned size-weighted mean NMSE                  */
    size_t settings;
} hc_plan_report;

/* Chooses per_tensor[i] (one per tensor of st) so that the coded tensors
 * meet o->target_bpw (least weighted NMSE within the size) or o->target_snr
 * (fewest bits with weighted SNR >= floor). Tensors that are not coded get
 * a copy of o. */
hc_status hc_plan_model(const hc_safetensors *st, const hc_opts *o, int threads, hc_opts *per_tensor,
                        hc_plan_report *rep, hc_error *err);

/* Encodes one tensor of a model: with error feedback (hc_encode_matrix)
 * when o->calib holds statistics for it whose size matches its columns,
 * else hc_encode. */
hc_status hc_encode_tensor(const hc_tensor_info *ti, const float *w, const hc_opts *o, hc_encoded *out,
                           hc_error *err);

#endif
