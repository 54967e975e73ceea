/* hlat_search.c — the hlat encoder: settles a tensor's data-dependent
 * parameters (scale ladder, compander, dead zone) and finds, block by block,
 * the scale code and the lattice points of least squared error.
 *
 * Per block every scale code from 7 steps (of 1/16 octave) above the block's
 * absmax code to 2 below is tried (a larger scale can put the largest weight
 * on a finer part of the compander, a smaller one clips it; which wins is
 * close to a coin toss, so the choice itself carries information), each by a
 * full search. Per group the target is pulled back through the compander
 * into lattice coordinates J* in [0, 2^m)^K, written in the reduced basis
 * (Babai), and the 2^K lattice points of the basis cell holding it are
 * compared in the weight domain. Measured on the shared models this is
 * within 0.03 dB of a 3^K enumeration around the Babai point, and Babai
 * rounding alone would lose 1 dB (the compander bends the metric).
 * Full blocks go to hlat_search_simd.c; this file has the scalar search
 * (partial blocks, m > 30, CPUs without AVX2), which gives the same bits. */
#include "hlat.h"
#include "../common/util.h"
#include <stdlib.h>

#define SCALE_UP 7       /* scale codes tried above the absmax code        */
#define SCALE_DOWN 2     /* ... and below (10 tries: -0.01 dB against 12) */
_Static_assert(SCALE_UP + SCALE_DOWN + 1 <= HLAT_SCALE_TRIES, "lane buffers hold HLAT_SCALE_TRIES tries");
#define STEP_FINE 16     /* scale step, 1/256 octave (1/16 octave)         */
#define ZERO_SHARE 0.01  /* tensors with >= 1% exact zeros keep them exact */
#define LOW_ENERGY 0.01  /* blocks below the fine scale range hold <= 1%   */

/* Fallback compander (typical of the fits below on the shared models). */
static const double comp_default[3] = {0.62, 0.08, 0.32};
/* Codeword density ~ p^e for these e, the best on a sample of blocks kept
 * (high-rate theory says 1/3; at 2-8 bits the optimum is 0.5-0.8 and varies
 * with the tails: 0.65 suits near-Gaussian tensors, heavier tails want more
 * or less depending on the block structure). */
static const double density_exps[] = {0.5, 0.65, 0.8};
#define N_DENSITY (sizeof density_exps / sizeof density_exps[0])
#define HIST_BINS 256
#define SAMPLE_BLOCKS 512 /* blocks that judge the compander candidates */

/* ===================================================================== */
/* Compander helpers                                                      */
/* ===================================================================== */

static double comp_eval(const hlat_enc_ctx *c, double z) { /* z >= 0, past the dead zone */
    double z2 = z * z;
    return z * (c->c1 + z2 * (c->c3 + z2 * c->c5));
}

static void build_zinv(hlat_enc_ctx *c) {
    double zmax = 1.0 - c->dz;
    c->vmax = comp_eval(c, zmax);
    for (int k = 0; k <= HLAT_ZINV_N; k++) {
        double v = c->vmax * k / HLAT_ZINV_N, lo = 0, hi = zmax;
        for (int it = 0; it < 40; it++) {
            double mid = 0.5 * (lo + hi);
            if (comp_eval(c, mid) < v) lo = mid; else hi = mid;
        }
        c->zinv[k] = (float)(0.5 * (lo + hi));
    }
    c->zinv[HLAT_ZINV_N + 1] = c->zinv[HLAT_ZINV_N];
    c->scale_in = (float)(HLAT_ZINV_N / c->vmax);
}

/* Fits the compander to the tensor: histogram of |w| / (block absmax),
 * codeword density proportional to p^density_exp, then the odd quintic
 * c1 z + c3 z^3 + c5 z^5 closest (least squares) to the resulting map from
 * z in [0, 1] to |w| / absmax. On the shared models this matches iterating
 * the fit on the searched scales, and gains up to 2 dB over one fixed curve
 * on heavy-tailed tensors. */
static void fit_compander(const double *hist, double density_exp, double *co) {
    double cum[HIST_BINS + 1], tot = 0;
    for (int i = 0; i < HIST_BINS; i++) tot += hist[i];
    memcpy(co, comp_default, sizeof comp_default);
    if (tot == 0) return;
    cum[0] = 0;
    for (int i = 0; i < HIST_BINS; i++) cum[i + 1] = cum[i] + pow(hist[i] / tot * HIST_BINS + 1e-3, density_exp);
    for (int i = 0; i <= HIST_BINS; i++) cum[i] /= cum[HIST_BINS];
    /* normal equations of the fit h(z) ~ sum c_j z^(2j+1), h = cum^-1 */
    double M[3][4] = {{0}};
    int seg = 0;
    for (int k = 0; k <= 512; k++) {
        double z = k / 512.0;
        while (seg < HIST_BINS - 1 && cum[seg + 1] < z) seg++;
        double d = cum[seg + 1] - cum[seg], fr = d > 0 ? (z - cum[seg]) / d : 0;
        fr = fr < 0 ? 0 : fr > 1 ? 1 : fr;
        double h = (seg + fr) / HIST_BINS, f[3] = {z, z * z * z, z * z * z * z * z};
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) M[i][j] += f[i] * f[j];
            M[i][3] += f[i] * h;
        }
    }
    for (int c = 0; c < 3; c++)
        for (int r = c + 1; r < 3; r++) {
            double f = M[r][c] / M[c][c];
            for (int j = c; j < 4; j++) M[r][j] -= f * M[c][j];
        }
    double x[3];
    for (int i = 2; i >= 0; i--) {
        double t = M[i][3];
        for (int j = i + 1; j < 3; j++) t -= M[i][j] * x[j];
        x[i] = t / M[i][i];
    }
    /* keep it increasing on [0, 1] with a usable slope at 0 */
    if (!(x[0] >= 0.05)) return;
    for (int k = 0; k <= 64; k++) {
        double z = k / 64.0;
        if (!(x[0] + 3 * x[1] * z * z + 5 * x[2] * z * z * z * z > 0.02)) return;
    }
    memcpy(co, x, sizeof x);
}

/* ===================================================================== */
/* Group and block search                                                 */
/* ===================================================================== */

/* Error of lattice point P (in [0, n)^K) for weights w[0..k); INFINITY when
 * a weight that must stay zero does not decode to zero. */
static inline __attribute__((always_inline)) float point_error(const hlat_enc_ctx *c, const int64_t *P, const float *w,
                                                               uint32_t k, float s, float *rec) {
    float e = 0;
    uint32_t sh = 32 - c->m;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t x32 = (uint32_t)((uint64_t)P[i] << sh);
        float r = hlat_recon(x32, s, c->dz, c->c1, c->c3, c->c5);
        if (c->dz > 0 && w[i] == 0 && r != 0) return INFINITY;
        float d = r - w[i];
        e = fmaf(d, d, e);
        rec[i] = r;
    }
    return e;
}

static inline __attribute__((always_inline)) int in_cube(const int64_t *P, uint32_t K, int64_t n) {
    for (uint32_t i = 0; i < K; i++)
        if (P[i] < 0 || P[i] >= n) return 0;
    return 1;
}

/* Best codeword for the k (<= K) weights w at scale s: returns the error,
 * sets *t and rec[0..k) (exact decodes). The error returned is the single
 * precision estimate used to compare candidates. This follows the SIMD
 * lanes of hlat_search_simd.c operation for operation, so every path
 * encodes alike:
 *  - target: |w / s| through the inverse compander table, u = (z + 1) / 2;
 *  - Babai coefficients of u in the reduced basis, rounded down: P0;
 *  - candidates: the 2^K corners P0 + (0/1 combination of basis rows) of
 *    the basis cell holding the target, judged by z(P0) + z(offset). */
static inline __attribute__((always_inline)) float group_search(const hlat_enc_ctx *c, const float *w, uint32_t k,
                                                                float s, uint32_t *t, float *rec) {
    const uint32_t K = c->K;
    const float is = 1.0f / s, top = (float)HLAT_ZINV_N - 0x1p-10f;
    float coef[HLAT_KMAX] = {0}, wv[HLAT_KMAX];
    for (uint32_t d = 0; d < K; d++) {
        wv[d] = d < k ? w[d] : 0.0f;
        float v = wv[d] * is, a = fabsf(v) * c->scale_in;
        a = a < top ? a : top;
        int32_t ki = (int32_t)a;
        float fr = a - (float)ki;
        float z = fmaf(fr, c->zinv[ki + 1] - c->zinv[ki], c->zinv[ki]) + c->dz;
        z = v == 0 ? 0.0f : copysignf(z, v);
        float u = fmaf(z, 0.5f, 0.5f);
        for (uint32_t j = 0; j < K; j++) coef[j] = fmaf(u, c->inv_u[d][j], coef[j]);
    }
    int64_t P0[HLAT_KMAX] = {0};
    for (uint32_t j = 0; j < K; j++) {
        int64_t cf = (int64_t)floorf(coef[j]);
        for (uint32_t d = 0; d < K; d++) P0[d] += cf * c->L.basis[j][d];
    }
    /* the error of a candidate is judged in single precision from z computed
     * as z(P0) + z(corner offset), as the lanes do; the index found decodes
     * exactly through hlat_recon */
    float z0[HLAT_KMAX], s1 = s * c->c1, s3 = s * c->c3, s5 = s * c->c5;
    for (uint32_t d = 0; d < K; d++) z0[d] = (float)(P0[d] - c->n / 2) * c->zunit;
    float best = INFINITY;
    uint32_t bm = 0;
    for (uint32_t cm = 0; cm < (1u << K); cm++) {
        int ok = 1;
        float e = 0;
        for (uint32_t d = 0; d < K; d++) {
            int64_t P = P0[d] + c->box[cm][d];
            ok &= P >= 0 && P < c->n;
            float z = z0[d] + c->zbox[cm][d];
            if (c->dz > 0) {
                float a = fabsf(z);
                z = z - copysignf(a < c->dz ? a : c->dz, z);
            }
            float z2 = z * z;
            float r = z * fmaf(z2, fmaf(z2, s5, s3), s1);
            if (c->dz > 0) ok &= !(wv[d] == 0 && r != 0);
            float diff = r - wv[d];
            if (d < k) e = fmaf(diff, diff, e);
        }
        if (ok && e < best) {
            best = e;
            bm = cm;
        }
    }
    int64_t P[HLAT_KMAX];
    float r[HLAT_KMAX];
    if (best < INFINITY) { /* decode the winner exactly */
        for (uint32_t d = 0; d < K; d++) P[d] = P0[d] + c->box[bm][d];
        if (point_error(c, P, wv, k, s, r) < INFINITY) {
            *t = (uint32_t)P[0];
            for (uint32_t i = 0; i < k; i++) rec[i] = r[i];
            return best;
        }
    }
    /* No candidate lies in the cube (a target on its boundary) or keeps the
     * zeros: nearest-plane rounding of the target pulled inside by the
     * rounding radius lands in the cube, within that radius of the target. */
    double rad = c->L.babai_radius, T[HLAT_KMAX] = {0};
    for (uint32_t d = 0; d < K; d++) {
        float v = wv[d] * is, a = fabsf(v) * c->scale_in;
        a = a < top ? a : top;
        int32_t ki = (int32_t)a;
        double z = c->zinv[ki] + (a - ki) * (double)(c->zinv[ki + 1] - c->zinv[ki]) + c->dz;
        double J = (v == 0 ? 0.5 : (1.0 + (v < 0 ? -z : z)) * 0.5) * (double)c->n;
        double lo = rad, hi = (double)c->n - 1 - rad;
        T[d] = J < lo ? lo : J > hi ? hi : J;
    }
    hlat_lattice_babai(&c->L, T, P);
    if (in_cube(P, K, c->n)) {
        float e = point_error(c, P, wv, k, s, r);
        if (e < INFINITY) {
            *t = (uint32_t)P[0];
            for (uint32_t i = 0; i < k; i++) rec[i] = r[i];
            return e;
        }
    }
    *t = (uint32_t)(c->n / 2); /* unreachable in exact arithmetic; still valid */
    float e = 0;
    for (uint32_t i = 0; i < k; i++) {
        rec[i] = 0;
        e += w[i] * w[i];
    }
    return e;
}

/* Code of the smallest scale s with s * vmax >= a (or the last code). */
static uint32_t absmax_code(const hlat_enc_ctx *c, float a) {
    uint32_t lo = 0, hi = c->ncodes - 1;
    if ((double)c->scale_tab[hi] * c->vmax >= a) return hi;
    while (lo < hi) { /* scale_tab decreasing: find last q with tab[q] vmax >= a */
        uint32_t mid = (lo + hi + 1) / 2;
        if ((double)c->scale_tab[mid] * c->vmax >= a) lo = mid; else hi = mid - 1;
    }
    return lo;
}

static inline __attribute__((always_inline)) void block_search_body(const hlat_enc_ctx *c, const float *w, uint32_t len,
                                                                    float bmax, hlat_block_result *best,
                                                                    hlat_block_result *cur, int simd,
                                                                    hlat_group_fn group_fn) {
    const uint32_t K = c->K;
    best->err = INFINITY;
    if (bmax == 0) {
        best->code = c->ncodes - 1;
        best->err = 0;
        for (uint32_t g = 0; g * K < len; g++) best->t[g] = (uint32_t)(c->n / 2);
        for (uint32_t i = 0; i < len; i++) best->rec[i] = 0;
        return;
    }
    uint32_t qa = absmax_code(c, bmax);
    uint32_t q0 = qa > SCALE_UP ? qa - SCALE_UP : 0;
    uint32_t q1 = qa + SCALE_DOWN < c->ncodes ? qa + SCALE_DOWN : c->ncodes - 1;
    if (len == c->B && simd && hlat_block_search_simd(c, w, q0, q1 - q0 + 1, group_fn, best)) return;
    for (uint32_t q = q0; q <= q1; q++) {
        float s = c->scale_tab[q];
        double e = 0;
        for (uint32_t g = 0; g * K < len && e < best->err; g++) {
            uint32_t k = len - g * K < K ? len - g * K : K;
            e += group_search(c, w + g * K, k, s, &cur->t[g], &cur->rec[g * K]);
        }
        if (e < best->err) { /* keep the better one in *best (blocks are small) */
            best->err = e;
            best->code = q;
            memcpy(best->t, cur->t, sizeof(uint32_t) * ((len + K - 1) / K));
            memcpy(best->rec, cur->rec, sizeof(float) * len);
        }
    }
}

static float group_search_ref(const hlat_enc_ctx *c, const float *w, uint32_t k, float s, uint32_t *t, float *rec) {
    return group_search(c, w, k, s, t, rec);
}

static void block_search_ref(const hlat_enc_ctx *c, const float *w, uint32_t len, float bmax, hlat_block_result *best,
                             hlat_block_result *cur) {
    block_search_body(c, w, len, bmax, best, cur, 0, group_search_ref);
}

#if defined(__x86_64__) || defined(__i386__)
/* The same search with FMA instructions for the compander (bit-identical:
 * fmaf is exactly rounded either way). */
__attribute__((target("avx2,fma"))) static float group_search_fma(const hlat_enc_ctx *c, const float *w, uint32_t k,
                                                                    float s, uint32_t *t, float *rec) {
    return group_search(c, w, k, s, t, rec);
}

/* ... and with the SIMD search over (scale, group) lanes for full blocks */
__attribute__((target("avx2,fma"))) static void block_search_fma(const hlat_enc_ctx *c, const float *w, uint32_t len,
                                                                   float bmax, hlat_block_result *best,
                                                                   hlat_block_result *cur) {
    block_search_body(c, w, len, bmax, best, cur, 1, group_search_fma);
}
#endif

/* ===================================================================== */
/* Tensor-level choices                                                   */
/* ===================================================================== */

/* Block maxima by their float bit pattern >> LEVEL_SHIFT (monotone in the
 * value for positive floats): 1/8-octave bins. */
#define LEVEL_SHIFT 20
#define LEVEL_BINS (1u << (31 - LEVEL_SHIFT))

typedef struct tensor_stats {
    double hist[HIST_BINS];        /* [HIST_BINS] |w| / block absmax          */
    uint64_t level[LEVEL_BINS];    /* [LEVEL_BINS] non-zero block maxima      */
    double level_energy;           /* sum of squared non-zero block maxima    */
    float bmax_min, bmax_max;      /* smallest non-zero, largest block max    */
    uint64_t zeros, nonzero_blocks;
    double sum_sq;
} tensor_stats;

static inline uint32_t level_of(float a) {
    uint32_t u;
    memcpy(&u, &a, 4);
    return u >> LEVEL_SHIFT;
}

static float level_top(uint32_t k) { /* upper edge of bin k */
    uint32_t u = (k + 1) << LEVEL_SHIFT;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Scale ladder: code 0 sits SCALE_UP steps above the largest block; fine
 * steps of 1/16 octave (widened if needed) reach down to the blocks holding
 * all but LOW_ENERGY of the tensor's block-max energy; the last 1/8 of the
 * codes step coarsely down to the smallest non-zero block. */
static void choose_scales(hlat_params *p, const tensor_stats *ts, double vmax) {
    uint32_t ncodes = 1u << p->sbits;
    p->step1 = STEP_FINE;
    p->step2 = STEP_FINE;
    p->nfine = ncodes - 1;
    if (ts->nonzero_blocks == 0) {
        p->scale_top = 1.0f;
        return;
    }
    double top = ts->bmax_max;
    p->scale_top = (float)(top / vmax * exp2(SCALE_UP * STEP_FINE / 256.0));
    /* blocks up to level k may fall below the fine range */
    double lo_fine = ts->bmax_min, below = 0;
    for (uint32_t k = level_of(ts->bmax_min); k < LEVEL_BINS && k <= level_of(ts->bmax_max); k++) {
        below += (double)ts->level[k];
        double hi = level_top(k);
        if (below * hi * hi > LOW_ENERGY * ts->level_energy) break;
        lo_fine = hi;
    }
    if (lo_fine > top) lo_fine = top;
    /* blocks more than 2^64 below the largest are coded as if they were
     * that large (their share of the energy is below 2^-128) */
    double lo_all = ts->bmax_min > top * 0x1p-64 ? ts->bmax_min : top * 0x1p-64;
    if (lo_fine < lo_all) lo_fine = lo_all;
    double oct_all = log2(top / lo_all) + (SCALE_UP + SCALE_DOWN) * STEP_FINE / 256.0;
    if (oct_all * 256.0 / STEP_FINE <= ncodes - 1) return; /* fine steps reach everything */
    uint32_t tail = ncodes / 8 ? ncodes / 8 : 1;
    uint32_t nfine = ncodes - 1 - tail;
    double oct_fine = log2(top / lo_fine) + (SCALE_UP + SCALE_DOWN) * STEP_FINE / 256.0;
    double s1 = ceil(oct_fine * 256.0 / (nfine ? nfine : 1));
    if (s1 < STEP_FINE) s1 = STEP_FINE;
    if (s1 > 65535) s1 = 65535;
    double rest = oct_all * 256.0 - s1 * nfine;
    double s2 = rest > 0 ? ceil(rest / tail) : s1;
    if (s2 < s1) s2 = s1;
    if (s2 > 65535) s2 = 65535;
    p->step1 = (uint32_t)s1;
    p->step2 = (uint32_t)s2;
    p->nfine = nfine;
}

/* Sets the compander (rescaled so that a dead zone does not shrink its
 * range; rounded to the stored f16), its inverse and the scale ladder. */
static void setup_compander(hlat_enc_ctx *c, hlat_params *p, const double *co, const tensor_stats *ts) {
    double span = 1.0 - p->dead_zone;
    p->c1 = hc_f16_to_f32(hc_f32_to_f16((float)(co[0] / span)));
    p->c3 = hc_f16_to_f32(hc_f32_to_f16((float)(co[1] / (span * span * span))));
    p->c5 = hc_f16_to_f32(hc_f32_to_f16((float)(co[2] / (span * span * span * span * span))));
    c->c1 = p->c1;
    c->c3 = p->c3;
    c->c5 = p->c5;
    c->dz = p->dead_zone;
    build_zinv(c);
    choose_scales(p, ts, c->vmax);
    c->ncodes = 1u << p->sbits;
    if (c->scale_exp) {
        /* the stored scales are the tensor's; the search works on w = tensor
         * 2^-scale_exp with the decoder's scales brought to w's magnitude
         * (exact: powers of two) */
        p->scale_top = ldexpf(p->scale_top, c->scale_exp);
        float tab[1u << HLAT_SBITS_MAX];
        hlat_scale_table(p, tab);
        for (uint32_t q = 0; q < c->ncodes; q++) c->scale_tab[q] = ldexpf(tab[q], -c->scale_exp);
    } else {
        hlat_scale_table(p, c->scale_tab);
    }
    /* codes whose scale underflows (in the decoder's float32) are not used */
    while (c->ncodes > 1 && !(c->scale_tab[c->ncodes - 1] >= 0x1p-100f)) c->ncodes--;
}

/* ===================================================================== */
/* Block search over chunks of blocks                                     */
/* ===================================================================== */

/* Blocks per work item: a multiple of 8, so every chunk's scale codes and
 * indices start on a byte of their streams and chunks write disjoint bytes;
 * fixed, so the error sums (added chunk by chunk in order) do not depend on
 * the thread count. */
#define CHUNK_BLOCKS 1024
_Static_assert(CHUNK_BLOCKS % 8 == 0, "chunks must start on whole bytes");

typedef struct chunk_job {
    const float *w;
    uint64_t n, nblocks, scale_bytes;
    const hlat_params *p;
    uint8_t *payload;
    const float *bmax;             /* [nblocks]                                */
    hlat_block_search_fn search;
    hlat_enc_ctx **ctx;            /* [threads] search state per thread        */
    hlat_block_result **res;       /* [threads] two results per thread         */
    double *sae, *sse, *mx;        /* [chunks] error statistics per chunk      */
} chunk_job;

static void quantize_chunk(void *arg, uint64_t ci, int tid) {
    const chunk_job *jb = (const chunk_job *)arg;
    const hlat_params *p = jb->p;
    const uint32_t K = p->K, B = p->block;
    const hlat_enc_ctx *c = jb->ctx[tid];
    hlat_block_result *res = jb->res[tid];
    uint64_t b0 = ci * CHUNK_BLOCKS, b1 = b0 + CHUNK_BLOCKS < jb->nblocks ? b0 + CHUNK_BLOCKS : jb->nblocks;
    /* b0 is a multiple of 8 and every block before it is full */
    hlat_bit_writer scales = {jb->payload + b0 * p->sbits / 8, 0, 0};
    hlat_bit_writer idx = {jb->payload + jb->scale_bytes + b0 * (B / K) * p->m / 8, 0, 0};
    double sae = 0, sse = 0, mx = 0;
    for (uint64_t b = b0; b < b1; b++) {
        uint64_t o = b * B;
        uint32_t len = (uint32_t)(o + B < jb->n ? B : jb->n - o);
        jb->search(c, jb->w + o, len, jb->bmax[b], &res[0], &res[1]);
        hlat_bits_put(&scales, res[0].code, p->sbits);
        for (uint32_t g = 0; g * K < len; g++) hlat_bits_put(&idx, res[0].t[g], p->m);
        for (uint32_t i = 0; i < len; i++) {
            double d = fabs((double)res[0].rec[i] - jb->w[o + i]);
            sae += d;
            sse += d * d;
            if (d > mx) mx = d;
        }
    }
    hlat_bits_flush(&scales);
    hlat_bits_flush(&idx);
    jb->sae[ci] = sae;
    jb->sse[ci] = sse;
    jb->mx[ci] = mx;
}

int hlat_enc_thread_state(const hlat_enc_ctx *c, hlat_enc_ctx **ctx, hlat_block_result **res) {
    *ctx = malloc(sizeof **ctx);
    *res = malloc(2 * sizeof **res);
    if (!*ctx || !*res) return 0;
    **ctx = *c;
    (*ctx)->lane_w = NULL;
    (*ctx)->lane_t = NULL;
    if (c->simd_ok) {
        (*ctx)->lane_w = malloc(sizeof(float) * c->lanes_max * (c->K + 3));
        (*ctx)->lane_t = malloc(sizeof(int32_t) * c->lanes_max);
        if (!(*ctx)->lane_w || !(*ctx)->lane_t) return 0;
        (*ctx)->lane_s = (*ctx)->lane_w + (size_t)c->lanes_max * c->K;
        (*ctx)->lane_inv_s = (*ctx)->lane_s + c->lanes_max;
        (*ctx)->lane_err = (*ctx)->lane_inv_s + c->lanes_max;
    }
    return 1;
}

void hlat_enc_thread_free(hlat_enc_ctx *ctx, hlat_block_result *res) {
    if (ctx) {
        free(ctx->lane_w);
        free(ctx->lane_t);
    }
    free(ctx);
    free(res);
}

/* Quantises every block into the payload; the statistics go to st. */
static hc_status quantize_blocks(const hlat_enc_ctx *c, const float *w, uint64_t n, uint64_t nblocks,
                                 uint64_t scale_bytes, const hlat_params *p, uint8_t *payload, const float *bmax,
                                 hlat_block_search_fn search, hlat_block_result *res0, int threads, hc_encoded *st,
                                 hc_error *err) {
    uint64_t nchunks = (nblocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
    if (threads < 1) threads = 1;
    if ((uint64_t)threads > nchunks) threads = (int)nchunks;
    hlat_enc_ctx **ctx = calloc((size_t)threads, sizeof *ctx);
    hlat_block_result **res = calloc((size_t)threads, sizeof *res);
    double *sums = malloc(3 * sizeof(double) * (size_t)nchunks);
    int ok = ctx && res && sums;
    if (ok) {
        ctx[0] = (hlat_enc_ctx *)c; /* the caller's thread searches with the caller's state */
        res[0] = res0;
        for (int t = 1; t < threads && ok; t++) ok = hlat_enc_thread_state(c, &ctx[t], &res[t]);
    }
    if (ok) {
        chunk_job jb = {w, n, nblocks, scale_bytes, p, payload, bmax, search, ctx, res,
                        sums, sums + nchunks, sums + 2 * nchunks};
        hc_parallel_for(threads, nchunks, quantize_chunk, &jb);
        double sae = 0, sse = 0, mx = 0;
        for (uint64_t ci = 0; ci < nchunks; ci++) {
            sae += jb.sae[ci];
            sse += jb.sse[ci];
            if (jb.mx[ci] > mx) mx = jb.mx[ci];
        }
        st->mae = sae / (double)n;
        st->mse = sse / (double)n;
        st->max_abs_err = mx;
    }
    for (int t = 1; ctx && res && t < threads; t++) hlat_enc_thread_free(ctx[t], res[t]);
    free(ctx);
    free(res);
    free(sums);
    if (!ok) return hc_fail(err, HC_E_NOMEM, "hlat: out of memory for %d search threads", threads);
    return HC_OK;
}

/* The tensor's statistics: each block's largest |w| in bmax, the histogram,
 * zeros and energies in ts. */
static void hlat_block_stats(const float *w, uint64_t n, uint32_t B, uint64_t nblocks, tensor_stats *ts,
                             float *bmax) {
    ts->bmax_min = INFINITY;
    for (uint64_t b = 0; b < nblocks; b++) {
        uint64_t o = b * B, e = o + B < n ? o + B : n;
        float mx = 0;
        for (uint64_t i = o; i < e; i++) {
            float a = fabsf(w[i]);
            mx = a > mx ? a : mx;
            ts->zeros += (w[i] == 0);
            ts->sum_sq += (double)w[i] * w[i];
        }
        bmax[b] = mx;
        if (mx == 0) continue;
        double inv = 1.0 / mx; /* in double: 1/mx overflows float for subnormal mx */
        for (uint64_t i = o; i < e; i++) {
            int k = (int)(fabsf(w[i]) * inv * HIST_BINS);
            ts->hist[k < HIST_BINS ? k : HIST_BINS - 1] += 1;
        }
        ts->level[level_of(mx)]++;
        ts->level_energy += (double)mx * mx;
        ts->nonzero_blocks++;
        ts->bmax_min = mx < ts->bmax_min ? mx : ts->bmax_min;
        ts->bmax_max = mx > ts->bmax_max ? mx : ts->bmax_max;
    }
}

/* The lattice of p and the search state derived from it. */
static void hlat_enc_lattice(hlat_enc_ctx *c, hlat_params *p, int scale_exp) {
    const uint32_t K = p->K, B = p->block;
    c->scale_exp = scale_exp;
    c->p = p;
    c->K = K;
    c->m = p->m;
    c->B = B;
    c->n = (int64_t)1 << p->m;
    c->ncodes = 1u << p->sbits;
    hlat_lattice_init(&c->L, K, p->m, p->g);
    c->zunit = (float)ldexp(1.0, 1 - (int)p->m); /* z per unit of J */
    for (uint32_t cm = 0; cm < (1u << K); cm++)
        for (uint32_t d = 0; d < K; d++) {
            int64_t v = 0;
            for (uint32_t j = 0; j < K; j++)
                if (cm >> j & 1) v += c->L.basis[j][d];
            c->box[cm][d] = v;
            c->box32[cm][d] = (int32_t)v;
            c->zbox[cm][d] = (float)v * c->zunit;
        }
    /* the SIMD search keeps coordinates in int32: m <= 30 leaves headroom
     * for the candidates just outside the cube */
    c->lanes_max = (HLAT_SCALE_TRIES * (B / K) + 15) & ~15u;
    c->simd_ok = p->m <= 30 && c->lanes_max <= HLAT_BLOCK_MAX;
    for (uint32_t i = 0; i < K; i++)
        for (uint32_t j = 0; j < K; j++) {
            c->inv_u[i][j] = (float)(c->L.inv[i][j] * (double)c->n);
            c->basis32[i][j] = (int32_t)c->L.basis[i][j];
        }
    if (c->simd_ok) {
        c->lane_w = malloc(sizeof(float) * c->lanes_max * (K + 3));
        c->lane_t = malloc(sizeof(int32_t) * c->lanes_max);
        if (!c->lane_w || !c->lane_t) {
            c->simd_ok = 0;
        } else {
            c->lane_s = c->lane_w + (size_t)c->lanes_max * K;
            c->lane_inv_s = c->lane_s + c->lanes_max;
            c->lane_err = c->lane_inv_s + c->lanes_max;
        }
    }
}

/* Dead zone: wide enough that nearest-plane rounding of a zero target
 * (J = n/2) always decodes to exactly 0. */
static void hlat_enc_dead_zone(const hlat_enc_ctx *c, hlat_params *p, const tensor_stats *ts, uint64_t n) {
    p->dead_zone = 0;
    if (ts->zeros * 100 >= n * (uint64_t)(ZERO_SHARE * 100) && ts->zeros < n) {
        double dz = 2.0 * c->L.babai_radius / (double)c->n * 1.01 + 2.0 / 65536;
        if (dz < 0.5) {
            p->flags |= HLAT_FLAG_DZ;
            p->dead_zone = (float)(ceil(dz * 65536.0) / 65536.0);
        }
    }
}

/* Instruction set of the search: the level in force (src/common/cpu.h,
 * HYPERC_SIMD); all produce the same payload. */
static void hlat_enc_kernels(hlat_enc_ctx *c, hlat_block_search_fn *search, hlat_group_fn *group) {
    *search = block_search_ref;
    *group = group_search_ref;
    c->isa = HLAT_ISA_REF;
#if defined(__x86_64__) || defined(__i386__)
    if (hc_simd_level() >= HC_SIMD_AVX2) {
        *search = block_search_fma;
        *group = group_search_fma;
        c->isa = hc_simd_level() >= HC_SIMD_AVX512 ? HLAT_ISA_AVX512 : HLAT_ISA_AVX2;
    }
#endif
}

/* Compander: candidates judged on an evenly spread sample of blocks; the
 * best is left set up in c and p. */
static void hlat_enc_compander(hlat_enc_ctx *c, hlat_params *p, const tensor_stats *ts, const float *w, uint64_t n,
                               uint64_t nblocks, const float *bmax, hlat_block_search_fn search,
                               hlat_block_result *res) {
    const uint32_t B = p->block;
    double co[N_DENSITY][3], best_err = INFINITY;
    uint32_t best = 0;
    uint64_t stride = nblocks > SAMPLE_BLOCKS ? nblocks / SAMPLE_BLOCKS : 1;
    for (uint32_t k = 0; k < N_DENSITY; k++) {
        fit_compander(ts->hist, density_exps[k], co[k]);
        setup_compander(c, p, co[k], ts);
        double e = 0;
        for (uint64_t b = 0; b < nblocks && e < best_err; b += stride) {
            uint64_t o = b * B;
            uint32_t len = (uint32_t)(o + B < n ? B : n - o);
            search(c, w + o, len, bmax[b], &res[0], &res[1]);
            e += res[0].err;
        }
        if (e < best_err) {
            best_err = e;
            best = k;
        }
    }
    setup_compander(c, p, co[best], ts);
}

hc_status hlat_quantize(const float *w, uint64_t n, hlat_params *p, uint8_t *payload, hc_encoded *st, int threads,
                        uint64_t cols, const float *U, int scale_exp, hc_error *err) {
    const uint32_t B = p->block;
    uint64_t nblocks = n / B + (n % B != 0), scale_bytes;
    hlat_payload_len(p, n, &scale_bytes);
    hlat_enc_ctx *c = calloc(1, sizeof *c);
    tensor_stats *ts = calloc(1, sizeof *ts);
    float *bmax = malloc(sizeof(float) * nblocks);
    hlat_block_result *res = malloc(2 * sizeof *res);
    if (!c || !ts || !bmax || !res) {
        free(c);
        free(ts);
        free(bmax);
        free(res);
        return hc_fail(err, HC_E_NOMEM, "hlat: out of memory for %llu blocks", (unsigned long long)nblocks);
    }
    hlat_block_stats(w, n, B, nblocks, ts, bmax);
    hlat_enc_lattice(c, p, scale_exp);
    hlat_enc_dead_zone(c, p, ts, n);
    hlat_block_search_fn search;
    hlat_group_fn group;
    hlat_enc_kernels(c, &search, &group);
    hlat_enc_compander(c, p, ts, w, n, nblocks, bmax, search, res);
    hc_status s = HC_OK;
    if (!isfinite(p->scale_top))
        s = HC_E_LIMIT; /* no message: the caller keeps the tensor lossless */
    else
        s = U ? hlat_quantize_feedback(c, search, group, w, n / cols, cols, U, payload, threads, st, err)
                    : quantize_blocks(c, w, n, nblocks, scale_bytes, p, payload, bmax, search, res, threads, st, err);
    st->sum_sq = ts->sum_sq;
    free(c->lane_w);
    free(c->lane_t);
    free(c);
    free(ts);
    free(bmax);
    free(res);
    return s;
}
