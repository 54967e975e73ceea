/* plan.c — rate allocation across the tensors of a model.
 *
 * With a size budget (--bpw X) or a quality floor (--snr Y), every coded
 * tensor is first encoded at each setting of its codec's ladder (increasing
 * rate), giving points (bits_ij, nmse_ij). The quantity minimised is the
 * metric the project reports: the size-weighted mean NMSE,
 *     D = sum_i n_i * nmse_i / sum_i n_i,     R = sum_i bits_i / sum_i n_i.
 * For a multiplier lambda each tensor independently takes the setting with
 * the least n_i*nmse_ij + lambda*bits_ij; lambda is found by bisection so R
 * meets the budget (or D the floor) — the classic Lagrangian allocation,
 * which reaches the lower convex hull of the (R, D) points. A greedy pass
 * then spends what budget is left on the upgrades with the best error drop
 * per bit.
 * With calibration (o->calib holding sensitivities from hc_llm_sensitivity)
 * a size budget instead weighs each tensor's NMSE by what it costs the
 * model — the KL divergence of its predictions per unit of NMSE — in place
 * of n_i; tensors are then probed with error feedback, as they will be
 * coded. A quality floor (--snr) stays on the reported metric. */
#include "../codec/codec.h"
#include "../codec/trellis.h"
#include "../common/util.h"
#include "plan.h"
#include <math.h>
#include <stdlib.h>

size_t hc_codec_ladder(const hc_opts *base, hc_opts *out, size_t max) {
    size_t k = 0;
    switch (base->codec) {
    case HC_CODEC_PAPER: {
        static const uint32_t pts[] = {49, 100, 225, 400, 900, 1600, 3600, 6400, 14400, 25600, 57600};
        for (size_t i = 0; i < sizeof pts / sizeof pts[0] && k < max; i++) {
            out[k] = *base;
            out[k].points[0] = pts[i];
            out[k].n_points = 1;
            out[k].loss_limit = 0;
            k++;
        }
        break;
    }
    case HC_CODEC_QKM:
        for (uint32_t b = 2; b <= 8 && k < max; b++) {
            out[k] = *base;
            out[k].bits = b;
            k++;
        }
        break;
    case HC_CODEC_HLAT: {
        /* index bits per group of K: from ~2.4 to ~7.7 bits per weight at
         * K = 4 (m <= 30 keeps the vectorised search) */
        uint32_t K = base->dim ? base->dim : 4, lo = 2 * K + 1, hi = 8 * K < 30 ? 8 * K : 30;
        for (uint32_t m = lo; m <= hi && k < max; m++) {
            out[k] = *base;
            out[k].dim = K;
            out[k].bits = m;
            k++;
        }
        break;
    }
    case HC_CODEC_TRELLIS: k = hc_trellis_ladder(base, out, max); break;
    default:
        if (max) out[k++] = *base;
        break;
    }
    return k;
}

typedef struct plan_point {
    double bits;  /* payload + params bits */
    double wnmse; /* n_i * nmse            */
} plan_point;

typedef struct plan_ctx {
    const hc_safetensors *st;
    const hc_opts *ladder;
    size_t n_ladder;
    const size_t *tensor; /* indices of coded tensors */
    plan_point *pts;      /* [tensor][ladder]        */
    hc_error *errs;       /* per coded tensor         */
    hc_status *status;
    double *weight;       /* per coded tensor: what its NMSE costs       */
} plan_ctx;

static void plan_tensor(void *p, uint64_t k, int tid) {
    (void)tid;
    plan_ctx *c = (plan_ctx *)p;
    size_t i = c->tensor[k];
    const hc_tensor_info *ti = hc_st_info(c->st, i);
    hc_error *err = &c->errs[k];
    hc_error_clear(err);
    float *w = malloc(ti->nelem * sizeof *w);
    if (!w) {
        c->status[k] = hc_fail(err, HC_E_NOMEM, "tensor '%s': out of memory", ti->name);
        return;
    }
    hc_to_f32(ti->dtype, hc_st_data(c->st, i), w, ti->nelem);
    for (size_t j = 0; j < c->n_ladder; j++) {
        hc_encoded e;
        hc_status s = hc_encode_tensor(ti, w, &c->ladder[j], &e, err);
        if (s) {
            c->status[k] = hc_error_context(err, s, "tensor '%s'", ti->name);
            break;
        }
        plan_point *pt = &c->pts[k * c->n_ladder + j];
        if (e.codec == HC_CODEC_RAW) {
            pt->bits = 8.0 * (double)ti->nbytes;
            pt->wnmse = 0;
        } else {
            pt->bits = 8.0 * (double)(e.payload_len + e.params_len);
            double nmse = e.sum_sq > 0 ? e.mse * (double)ti->nelem / e.sum_sq : 0;
            pt->wnmse = nmse * c->weight[k];
        }
        hc_encoded_free(&e);
    }
    free(w);
}

/* choice per tensor for multiplier lambda; returns total bits and wnmse */
static void choose(const plan_point *pts, size_t nt, size_t nl, double lambda, uint32_t *pick, double *bits,
                   double *wn) {
    double b = 0, d = 0;
    for (size_t k = 0; k < nt; k++) {
        size_t best = 0;
        double bc = INFINITY;
        for (size_t j = 0; j < nl; j++) {
            double c = pts[k * nl + j].wnmse + lambda * pts[k * nl + j].bits;
            if (c < bc) {
                bc = c;
                best = j;
            }
        }
        pick[k] = (uint32_t)best;
        b += pts[k * nl + best].bits;
        d += pts[k * nl + best].wnmse;
    }
    *bits = b;
    *wn = d;
}

hc_status hc_plan_model(const hc_safetensors *st, const hc_opts *o, int threads, hc_opts *per_tensor,
                        hc_plan_report *rep, hc_error *err) {
    size_t count = hc_st_count(st);
    hc_opts ladder[64];
    size_t nl = hc_codec_ladder(o, ladder, 64);
    for (size_t j = 0; j < nl; j++) ladder[j].target_bpw = ladder[j].target_snr = 0;
    for (size_t i = 0; i < count; i++) {
        per_tensor[i] = *o;
        per_tensor[i].target_bpw = per_tensor[i].target_snr = 0;
    }
    if (nl == 0) return hc_fail(err, HC_E_ARG, "codec %s has no settings to allocate", hc_codec_name(o->codec));
    size_t *tensor = malloc((count ? count : 1) * sizeof *tensor);
    size_t nt = 0;
    uint64_t weights = 0;
    if (!tensor) return hc_fail(err, HC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const hc_tensor_info *ti = hc_st_info(st, i);
        if (hc_opts_codes_tensor(o, ti)) {
            tensor[nt++] = i;
            weights += ti->nelem;
        }
    }
    plan_ctx c = {st, ladder, nl, tensor, calloc(nt * nl + 1, sizeof(plan_point)), calloc(nt + 1, sizeof(hc_error)),
                  calloc(nt + 1, sizeof(hc_status)), calloc(nt + 1, sizeof(double))};
    if (c.weight) {
        /* a tensor's NMSE costs its size (the reported metric), or, with
         * measured sensitivities (hc_llm_sensitivity), its loss per unit of
         * NMSE; tensors not measured get the mean loss per weight */
        double wsum = 0, nsum = 0;
        for (size_t k = 0; k < nt; k++) {
            const hc_tensor_info *ti = hc_st_info(st, tensor[k]);
            c.weight[k] = o->calib && o->target_bpw > 0 ? hc_calib_weight(o->calib, ti->name) : 0;
            if (c.weight[k] > 0) {
                wsum += c.weight[k];
                nsum += (double)ti->nelem;
            }
        }
        for (size_t k = 0; k < nt; k++) {
            double n_k = (double)hc_st_info(st, tensor[k])->nelem;
            if (!(c.weight[k] > 0)) c.weight[k] = nsum > 0 ? n_k * wsum / nsum : n_k;
        }
    }
    uint32_t *pick = calloc(nt + 1, sizeof *pick);
    hc_status s = HC_OK;
    if (!c.pts || !c.errs || !c.status || !c.weight || !pick) {
        s = hc_fail(err, HC_E_NOMEM, "out of memory");
        goto done;
    }
    hc_parallel_for(threads, nt, plan_tensor, &c);
    for (size_t k = 0; k < nt; k++)
        if (c.status[k]) {
            if (err) *err = c.errs[k];
            s = c.status[k];
            goto done;
        }
    if (nt == 0) goto done;

    const double W = (double)weights;
    double bits, wn;
    if (o->target_bpw > 0) {
        const double budget = o->target_bpw * W;
        for (size_t k = 0; k < nt; k++) { /* the cheapest setting everywhere */
            size_t best = 0;
            for (size_t j = 1; j < nl; j++)
                if (c.pts[k * nl + j].bits < c.pts[k * nl + best].bits) best = j;
            pick[k] = (uint32_t)best;
        }
        bits = 0;
        for (size_t k = 0; k < nt; k++) bits += c.pts[k * nl + pick[k]].bits;
        if (bits > budget) {
            s = hc_fail(err, HC_E_ARG, "--bpw %.3f is below the smallest size this codec reaches (%.3f bpw)",
                        o->target_bpw, bits / W);
            goto done;
        }
        /* bisection on log lambda: smallest lambda whose choice fits */
        double lo = 1e-30, hi = 1e30;
        for (int it = 0; it < 200; it++) {
            double mid = sqrt(lo * hi);
            choose(c.pts, nt, nl, mid, pick, &bits, &wn);
            if (bits > budget) lo = mid;
            else hi = mid;
        }
        choose(c.pts, nt, nl, hi, pick, &bits, &wn);
        /* greedy: spend the rest on the best error drop per bit */
        for (;;) {
            double best_gain = 0;
            size_t bk = 0, bj = 0;
            for (size_t k = 0; k < nt; k++) {
                const plan_point *cur = &c.pts[k * nl + pick[k]];
                for (size_t j = 0; j < nl; j++) {
                    const plan_point *p = &c.pts[k * nl + j];
                    double db = p->bits - cur->bits, dd = cur->wnmse - p->wnmse;
                    if (db <= 0 || dd <= 0 || bits + db > budget) continue;
                    if (dd / db > best_gain) {
                        best_gain = dd / db;
                        bk = k;
                        bj = j;
                    }
                }
            }
            if (best_gain <= 0) break;
            bits += c.pts[bk * nl + bj].bits - c.pts[bk * nl + pick[bk]].bits;
            wn += c.pts[bk * nl + bj].wnmse - c.pts[bk * nl + pick[bk]].wnmse;
            pick[bk] = (uint32_t)bj;
        }
    } else {
        const double floor_wn = pow(10.0, -o->target_snr / 10.0) * W;
        choose(c.pts, nt, nl, 0, pick, &bits, &wn); /* best quality everywhere */
        if (wn > floor_wn) {
            s = hc_fail(err, HC_E_ARG, "--snr %.2f dB is above the best quality this codec reaches (%.2f dB)",
                        o->target_snr, -10 * log10(wn / W));
            goto done;
        }
        /* largest lambda (fewest bits) whose choice still meets the floor */
        double lo = 1e-30, hi = 1e30;
        for (int it = 0; it < 200; it++) {
            double mid = sqrt(lo * hi);
            choose(c.pts, nt, nl, mid, pick, &bits, &wn);
            if (wn <= floor_wn) lo = mid;
            else hi = mid;
        }
        choose(c.pts, nt, nl, lo, pick, &bits, &wn);
    }
    for (size_t k = 0; k < nt; k++) per_tensor[tensor[k]] = ladder[pick[k]];
    if (rep) {
        double nm = 0; /* size-weighted NMSE, whatever weights steered the choice */
        for (size_t k = 0; k < nt; k++)
            nm += c.pts[k * nl + pick[k]].wnmse / c.weight[k] * (double)hc_st_info(st, tensor[k])->nelem;
        rep->bpw = bits / W;
        rep->nmse = nm / W;
        rep->settings = nl;
    }
done:
    free(tensor);
    free(c.pts);
    free(c.weight);
    free(c.errs);
    free(c.status);
    free(pick);
    return s;
}
