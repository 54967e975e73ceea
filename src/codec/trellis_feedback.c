/* trellis_feedback.c — the trellis encoder with error feedback (GPTQ-style,
 * feedback.c), and the encoder's choice of the water-filling slope.
 *
 * A Viterbi path does not fit GPTQ's column-by-column update: a step's
 * value is only final once the search has looked far enough ahead. So the
 * columns of a row are taken in groups of TR_FB_GROUP: the search runs from
 * the state committed so far over the group plus TR_FB_AHEAD steps of
 * look-ahead (targets as they are now: the row's later weights already
 * carry the updates made so far, the next row's are its own), traces back,
 * commits the group's steps, and moves the group's error e (e U_GG =
 * w_G - q_G) into the row's later weights, w_F -= e U_GF. Each step's
 * squared error is weighted by 1 / U_jj^2 (GPTQ's cost of an error in
 * column j given the columns after it). The block scales and the rate
 * offset are chosen on the weights before feedback, as without it, so the
 * payload has the same layout and size. No transform by default: feedback
 * works on the weights themselves (with the RHT it measured worse). Segments (2^16 weights) are independent work
 * items: a row that crosses a segment boundary gets no feedback from its
 * part in the earlier segment, so the output does not depend on the thread
 * count. */
#include "trellis_enc.h"
#include "../common/cpu.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

#define TR_FB_GROUP 4  /* columns committed per search              */
#define TR_FB_AHEAD 32 /* steps of look-ahead past the group         */

uint32_t tr_encode_slope(const hc_opts *o, uint64_t n) {
    (void)n; /* one slope per tensor today; the size is there for a choice by tensor */
    uint32_t slope = o->tr_slope ? o->tr_slope - 1 : TR_SLOPE_DEFAULT;
    const char *e = getenv("HYPERC_TRELLIS_SLOPE"); /* ablation knob, like HYPERC_TRELLIS_NO_RHT */
    if (e && *e) slope = (uint32_t)strtoul(e, NULL, 10);
    return slope > TR_SLOPE_MAX ? TR_SLOPE_MAX : slope;
}

static uint32_t env_u32(const char *name, uint32_t def, uint32_t lo, uint32_t hi) {
    const char *e = getenv(name);
    if (!e || !*e) return def;
    unsigned long v = strtoul(e, NULL, 10);
    return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

typedef struct fb_ctx {
    const tr_params *p;
    const float *t;     /* (rows, cols) weights, scaled by 2^-ex          */
    const float *U;     /* (cols, cols) upper factor                     */
    const float *cw;    /* [cols] 1 / U_jj^2, mean 1                      */
    const uint8_t *q;   /* [nb] scale codes                              */
    const uint8_t *kb;  /* [n] bits per step                             */
    uint32_t *st;       /* [n] states                                    */
    uint64_t n, cols, seg;
    uint32_t group, ahead;
    tr_viterbi *vit;    /* [threads] */
    float **work;       /* [threads] seg + 2 (group + ahead) + group floats */
} fb_ctx;

static void fb_segment(void *arg, uint64_t item, int tid) {
    const fb_ctx *c = (const fb_ctx *)arg;
    const tr_params *p = c->p;
    tr_viterbi *v = &c->vit[tid];
    const uint32_t L = p->L, S = 1u << L;
    const size_t stride = (size_t)1 << (L - 1);
    const uint64_t a0 = item * c->seg, a1 = a0 + c->seg < c->n ? a0 + c->seg : c->n, cols = c->cols;
    const uint32_t G = c->group, A = c->ahead;
    float *W = c->work[tid], *u = W + (c->n < c->seg ? c->n : c->seg), *wg = u + G + A, *e = wg + G + A;
    memcpy(W, c->t + a0, sizeof(float) * (a1 - a0));
    const float topf = p->top;
    uint32_t prev = 0;
    for (uint64_t i = a0; i < a1;) {
        const uint64_t r = i / cols, rend = (r + 1) * cols < a1 ? (r + 1) * cols : a1;
        const uint64_t gend = i + G < rend ? i + G : rend, lend = gend + A < a1 ? gend + A : a1;
        const uint64_t m = lend - i;
        for (uint64_t x = i; x < lend; x++) {
            uint64_t b = x / TR_BLOCK;
            uint32_t T = tr_block_bits(p, c->q[b]);
            float sc = tr_scale(p, c->q[b]) * tr_gain(T), rr = topf > 0 ? sc / topf : 0;
            u[x - i] = sc > 0 ? W[x - a0] / sc : 0;
            wg[x - i] = sc > 0 ? rr * rr * c->cw[x % cols] : 0;
        }
        uint64_t t0;
        if (i == a0) { /* the first state of a segment is free */
            for (uint32_t s = 0; s < S; s++) {
                float d = u[0] - v->V[s];
                float ee = d * d;
                v->D[s] = wg[0] * ee;
            }
            t0 = 1;
        } else {
            for (uint32_t s = 0; s < S; s++) v->D[s] = INFINITY;
            v->D[prev] = 0;
            t0 = 0;
        }
        for (uint64_t x = t0; x < m; x++) {
            tr_step(v, c->kb[i + x], u[x], wg[x], v->bp + x * stride);
            float *tmp = v->D;
            v->D = v->Dn;
            v->Dn = tmp;
        }
        uint32_t s = 0;
        for (uint32_t y = 1; y < S; y++)
            if (v->D[y] < v->D[s]) s = y;
        for (uint64_t x = m; x-- > t0;) {
            if (i + x < gend) c->st[i + x] = s;
            uint32_t k = c->kb[i + x], qq = s >> k;
            s = qq | ((uint32_t)v->bp[x * stride + qq] << (L - k));
        }
        if (i == a0) c->st[i] = s;
        prev = c->st[gend - 1];
        /* the group's error, moved into the row's later weights */
        const uint64_t j0 = i - r * cols, g = gend - i, fend = rend - r * cols;
        for (uint64_t d = 0; d < g; d++) {
            uint64_t x = i + d, b = x / TR_BLOCK;
            float sc = tr_scale(p, c->q[b]) * tr_gain(tr_block_bits(p, c->q[b]));
            float diff = W[x - a0] - sc * tr_val(c->st[x]);
            for (uint64_t k = 0; k < d; k++) diff -= e[k] * c->U[(j0 + k) * cols + j0 + d];
            e[d] = diff / c->U[(j0 + d) * cols + j0 + d];
        }
        for (uint64_t d = 0; d < g; d++) {
            const float *ud = c->U + (j0 + d) * cols, ed = e[d];
            float *wr = W + (i + g - a0); /* column j0 + g of row r */
            for (uint64_t col = j0 + g; col < fend; col++) wr[col - j0 - g] -= ed * ud[col];
        }
        i = gend;
    }
}

/* The factor in the transformed domain: with t = M w per block of 2^lg
 * columns (M = H diag(signs), orthogonal), H' = M H M^T, so
 * H'^-1 = M (U^T U) M^T = U'^T U'. Writes U' (cols, cols) upper; 0 if
 * out of memory or not positive definite. */
static int fb_factor_rht(const float *U, uint64_t cols, uint32_t lg, const float *signs, float *Ut) {
    const uint64_t B = (uint64_t)1 << lg;
    double *A = malloc(sizeof(double) * cols * cols);
    float *row = malloc(sizeof(float) * cols);
    if (!A || !row) {
        free(A);
        free(row);
        return 0;
    }
    /* A = U^T U (H^-1, symmetric) */
    for (uint64_t i = 0; i < cols; i++)
        for (uint64_t j = 0; j <= i; j++) {
            double acc = 0;
            for (uint64_t k = 0; k <= j; k++) acc += (double)U[k * cols + i] * U[k * cols + j];
            A[i * cols + j] = A[j * cols + i] = acc;
        }
    /* A <- M A M^T: rows then columns (A symmetric: transform rows twice, transposing between) */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < cols; i++) {
            for (uint64_t j = 0; j < cols; j++) row[j] = (float)A[i * cols + j];
            for (uint64_t a = 0; a < cols; a += B) tr_rht_forward(row + a, lg, signs);
            for (uint64_t j = 0; j < cols; j++) A[i * cols + j] = row[j];
        }
        for (uint64_t i = 0; i < cols; i++)
            for (uint64_t j = 0; j < i; j++) {
                double x = A[i * cols + j];
                A[i * cols + j] = A[j * cols + i];
                A[j * cols + i] = x;
            }
    }
    free(row);
    /* Cholesky A = Lc Lc^T (lower, in place); U' = Lc^T */
    int ok = 1;
    for (uint64_t j = 0; j < cols && ok; j++) {
        double d = A[j * cols + j];
        for (uint64_t k = 0; k < j; k++) d -= A[j * cols + k] * A[j * cols + k];
        if (!(d > 0)) {
            ok = 0;
            break;
        }
        d = sqrt(d);
        A[j * cols + j] = d;
        for (uint64_t i = j + 1; i < cols; i++) {
            double x = A[i * cols + j];
            for (uint64_t k = 0; k < j; k++) x -= A[i * cols + k] * A[j * cols + k];
            A[i * cols + j] = x / d;
        }
    }
    for (uint64_t i = 0; ok && i < cols; i++)
        for (uint64_t j = 0; j < cols; j++) Ut[i * cols + j] = j >= i ? (float)A[j * cols + i] : 0.0f;
    free(A);
    return ok;
}

static int isa_fb(void) {
    const char *e = getenv("HYPERC_TRELLIS_KERNEL");
    if (e && strcmp(e, "ref") == 0) return 0;
    return hc_simd_level() >= HC_SIMD_AVX2;
}

hc_status tr_encode_matrix(const float *w, uint64_t rows, uint64_t cols, const float *U, const hc_opts *o,
                           hc_encoded *out, hc_error *err) {
    const uint64_t n = rows * cols;
    if (getenv("HYPERC_TRELLIS_NO_FB")) { /* experiments: calibration steers the allocation only */
        hc_opts oc = *o;
        oc.cols = cols;
        return hc_encode(w, n, &oc, out, err);
    }
    uint32_t L = o->effort ? o->effort : TR_L_DEFAULT;
    if (L < TR_L_MIN || L > TR_L_MAX)
        return hc_fail(err, HC_E_ARG, "trellis: effort (state bits) %u not in %d..%d", L, TR_L_MIN, TR_L_MAX);
    double R = hc_trellis_nominal_bpw(o);
    if (!(R > 0) || R > 64) return hc_fail(err, HC_E_ARG, "trellis: rate %g bits per weight out of range", R);
    if (n == 0 || cols == 0) return hc_fail(err, HC_E_ARG, "trellis: empty matrix");
    uint64_t bad = hc_first_nonfinite(w, n);
    if (bad < n) return hc_encode_lossless(w, n, out, err, "holds NaN/Inf (weight %llu)", (unsigned long long)bad);
    if (n > ((uint64_t)1 << 40))
        return hc_fail(err, HC_E_LIMIT, "trellis: matrix of %llu weights too large", (unsigned long long)n);
    for (uint64_t j = 0; j < cols; j++)
        if (!(U[j * cols + j] > 0) || !isfinite(U[j * cols + j]))
            return hc_fail(err, HC_E_ARG, "trellis: feedback factor has diagonal %g at column %llu",
                           (double)U[j * cols + j], (unsigned long long)j);
    float amax = hc_abs_max(w, n);
    int ex = amax > 0 ? ilogbf(amax) + 1 : 0;
    const uint64_t nb = (n + TR_BLOCK - 1) / TR_BLOCK;
    tr_params p;
    tr_encode_params_init(&p, L, o, n);
    const uint32_t G = env_u32("HYPERC_TRELLIS_FB_GROUP", TR_FB_GROUP, 1, 512);
    const uint32_t A = env_u32("HYPERC_TRELLIS_FB_AHEAD", TR_FB_AHEAD, 0, 512);
    const uint64_t seg = (uint64_t)1 << p.seg_log2, nseg = (n + seg - 1) / seg;
    int threads = o->threads > 1 ? (int)(o->threads < 64 ? o->threads : 64) : 1;
    if ((uint64_t)threads > nseg) threads = (int)nseg;
    const uint64_t wlen = (n < seg ? n : seg) + 2 * (uint64_t)(G + A) + G;
    float *t = malloc(sizeof(float) * n), *cw = malloc(sizeof(float) * cols), *Ut = NULL;
    uint8_t *kb = malloc(n), *q = malloc(nb);
    uint32_t *st = malloc(sizeof(uint32_t) * n);
    tr_viterbi *vit = calloc((size_t)threads, sizeof *vit);
    float **work = calloc((size_t)threads, sizeof *work);
    hc_status s = HC_OK;
    int ok = t && cw && kb && q && st && vit && work;
    for (int i = 0; ok && i < threads; i++)
        ok = tr_viterbi_init(&vit[i], L, isa_fb()) && (work[i] = malloc(sizeof(float) * wlen)) != NULL;
    if (!ok) {
        s = hc_fail(err, HC_E_NOMEM, "trellis: out of memory for error feedback on %llu x %llu",
                    (unsigned long long)rows, (unsigned long long)cols);
        goto done;
    }
    uint64_t zeros = 0;
    for (uint64_t i = 0; i < n; i++) {
        t[i] = ldexpf(w[i], -ex);
        zeros += w[i] == 0;
    }
    /* experiment (HYPERC_TRELLIS_FB_RHT=1): the transform along the rows when
     * it fits them (blocks of the largest power of two dividing cols, 16 ..
     * 256), with the factor transformed. Measured worse than none with
     * feedback on stories260K (docs/ALGORITHM.md), so off by default. */
    uint32_t lg = 0;
    while (lg < TR_RHT_MAX_LOG2 && cols % ((uint64_t)2 << lg) == 0) lg++;
    if (lg >= TR_RHT_MIN_LOG2 && zeros * 100 < n && !o->no_transform && !getenv("HYPERC_TRELLIS_NO_RHT") &&
        getenv("HYPERC_TRELLIS_FB_RHT")) {
        float signs[1u << TR_RHT_MAX_LOG2];
        tr_make_signs(p.seed, lg, signs);
        Ut = malloc(sizeof(float) * cols * cols);
        if (Ut && fb_factor_rht(U, cols, lg, signs, Ut)) {
            p.flags |= TR_FLAG_RHT;
            p.rht_log2 = lg;
            for (uint64_t a = 0; a < n; a += (uint64_t)1 << lg) tr_rht_forward(t + a, lg, signs);
            U = Ut;
        }
    }
    double mean = 0;
    for (uint64_t j = 0; j < cols; j++) {
        double d = U[j * cols + j];
        cw[j] = (float)(1.0 / (d * d));
        mean += cw[j];
    }
    mean /= (double)cols;
    for (uint64_t j = 0; j < cols; j++) cw[j] = (float)(cw[j] / mean);
    if ((s = tr_encode_scales(t, n, nb, &p, q, err)) != HC_OK) goto done;
    tr_encode_offset(&p, q, n, R);
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t a = b * TR_BLOCK, len = n - a < TR_BLOCK ? n - a : TR_BLOCK;
        uint32_t T = tr_block_bits(&p, q[b]);
        for (uint64_t j = 0; j < len; j++) kb[a + j] = (uint8_t)tr_step_bits(T, (uint32_t)j);
    }
    fb_ctx fc = {&p, t, U, cw, q, kb, st, n, cols, seg, G, A, vit, work};
    hc_parallel_for(threads, nseg, fb_segment, &fc);
    if ((s = tr_encode_payload(&p, q, st, kb, n, nb, out, err)) != HC_OK) goto done;
    s = tr_encode_finish(&p, w, n, ex, amax, out, err);
done:
    for (int i = 0; vit && work && i < threads; i++) {
        tr_viterbi_free(&vit[i]);
        free(work[i]);
    }
    free(vit);
    free(work);
    free(t);
    free(cw);
    free(Ut);
    free(kb);
    free(q);
    free(st);
    return s;
}
