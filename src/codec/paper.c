/* paper.c — the paper's hyperfunction codec (Fan et al., arXiv 2409.00592),
 * as specified in docs/ALGORITHM.md: pairs of weights, a sheared-grid
 * trajectory codebook over a square S around the pairs' centre, distance
 * bands that shrink outliers into S, bit-packed indices. This file holds the
 * parameters, codebook, search, bands and the encoder; paper_dec.c decodes. */
#include "paper.h"
#include "bitpack.h"
#include "options.h"
#include "../common/util.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>

/* The fast search and the brute force must round identically: no fused
 * multiply-add contraction (gcc does not contract under -std=c11). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* the search runs millions of times per tensor: keep it in the callers */
#if defined(__GNUC__)
#define HC_PAPER_INLINE static inline __attribute__((always_inline))
#else
#define HC_PAPER_INLINE static inline
#endif

/* ===================================================================== */
/* Parameters blob                                                        */
/* ===================================================================== */
/* Version 1, little-endian, 40 bytes:
 *   0 u8 version   1 u8 flags (bit 0: pad)   2 u8 u   3 u8 C   4 u32 n
 *   8 f64 cx      16 f64 cy   24 f64 L   32 f64 d_max                     */

uint32_t hc_paper_index_bits(uint32_t n, uint32_t bands) {
    uint64_t max_index = ((uint64_t)n + 1) * ((uint64_t)bands + 1) - 1;
    return hc_bit_length(max_index);
}

void hc_paper_params_write(const hc_paper_params *p, uint8_t out[HC_PAPER_PARAMS_LEN]) {
    out[0] = HC_PAPER_VERSION;
    out[1] = (uint8_t)(p->pad ? 1 : 0);
    out[2] = (uint8_t)p->u;
    out[3] = (uint8_t)p->bands;
    hc_put_u32(out + 4, p->n);
    hc_put_f64(out + 8, p->cx);
    hc_put_f64(out + 16, p->cy);
    hc_put_f64(out + 24, p->L);
    hc_put_f64(out + 32, p->d_max);
}

hc_status hc_paper_params_read(const uint8_t *blob, uint32_t len, uint64_t nweights, hc_paper_params *p,
                               hc_error *err) {
    if (len < 1 || !blob) return hc_fail(err, HC_E_CORRUPT, "paper codec: empty parameter blob");
    if (blob[0] != HC_PAPER_VERSION)
        return hc_fail(err, HC_E_UNSUPPORTED, "paper codec: parameter version %u is unknown (this build reads %d)",
                       blob[0], HC_PAPER_VERSION);
    if (len != HC_PAPER_PARAMS_LEN)
        return hc_fail(err, HC_E_CORRUPT, "paper codec: parameter blob is %u bytes, expected %d", len,
                       HC_PAPER_PARAMS_LEN);
    if (blob[1] & ~1u) return hc_fail(err, HC_E_CORRUPT, "paper codec: unknown flags 0x%02x", blob[1]);
    p->pad = blob[1] & 1;
    p->u = blob[2];
    p->bands = blob[3];
    p->n = hc_get_u32(blob + 4);
    p->cx = hc_get_f64(blob + 8);
    p->cy = hc_get_f64(blob + 16);
    p->L = hc_get_f64(blob + 24);
    p->d_max = hc_get_f64(blob + 32);
    if (p->pad != (int)(nweights & 1))
        return hc_fail(err, HC_E_CORRUPT, "paper codec: pad flag %d does not match %llu weights", p->pad,
                       (unsigned long long)nweights);
    if (p->n < 1 || p->n >= HC_PAPER_MAX_TABLE)
        return hc_fail(err, HC_E_CORRUPT, "paper codec: codebook size %u outside [1, %u)", p->n, HC_PAPER_MAX_TABLE);
    if (p->bands > HC_PAPER_MAX_BANDS)
        return hc_fail(err, HC_E_CORRUPT, "paper codec: %u bands exceed %d", p->bands, HC_PAPER_MAX_BANDS);
    if (((uint64_t)p->n + 1) * ((uint64_t)p->bands + 1) > HC_PAPER_MAX_TABLE)
        return hc_fail(err, HC_E_CORRUPT, "paper codec: (n+1)(C+1) = (%u+1)(%u+1) exceeds %u", p->n, p->bands,
                       HC_PAPER_MAX_TABLE);
    if (p->u != hc_paper_index_bits(p->n, p->bands))
        return hc_fail(err, HC_E_CORRUPT, "paper codec: %u bits per index, expected %u for n=%u C=%u", p->u,
                       hc_paper_index_bits(p->n, p->bands), p->n, p->bands);
    if (!isfinite(p->cx) || !isfinite(p->cy) || !isfinite(p->L) || !isfinite(p->d_max) || !(p->L > 0) ||
        !(p->d_max >= 0))
        return hc_fail(err, HC_E_CORRUPT, "paper codec: bad geometry (c=(%g,%g) L=%g d_max=%g)", p->cx, p->cy, p->L,
                       p->d_max);
    if (p->bands > 0 && !(p->d_max > p->L / 2))
        return hc_fail(err, HC_E_CORRUPT, "paper codec: %u bands but d_max %g <= L/2 %g", p->bands, p->d_max,
                       p->L / 2);
    return HC_OK;
}

/* ===================================================================== */
/* Trajectory codebook                                                    */
/* ===================================================================== */

void hc_paper_codebook_init(hc_paper_codebook *cb, double cx, double cy, double L, uint32_t n) {
    uint32_t m = (uint32_t)sqrt((double)n);
    while ((uint64_t)m * m < n) m++;
    while (m > 1 && (uint64_t)(m - 1) * (m - 1) >= n) m--;
    cb->cx = cx;
    cb->cy = cy;
    cb->x0 = cx - L / 2;
    cb->y0 = cy - L / 2;
    cb->sx = L / ((double)m * (double)m);
    cb->h = L / (double)m;
    cb->inv_sx = 1.0 / cb->sx;
    cb->inv_h = 1.0 / cb->h;
    cb->inv_m = 1.0 / (double)m;
    /* spacing within ~2^40 rounding steps of the coordinates: points may
     * coincide or misorder, so the structured search is not trusted */
    cb->degenerate = !(cb->h > 0x1p-40 * (fabs(cx) + fabs(cy) + L)) || !isfinite(cb->inv_sx);
    cb->n = n;
    cb->m = m;
    cb->full = n / m;
    cb->rem = n % m;
}

/* Step t = i-1 of the trajectory: x advances by L/m^2 per step (t < m^2, so
 * the "mod L" never wraps), y cycles through the m rows. */
static inline double cb_x(const hc_paper_codebook *cb, uint32_t t) { return cb->x0 + (double)t * cb->sx; }
static inline double cb_y(const hc_paper_codebook *cb, uint32_t r) { return cb->y0 + (double)r * cb->h; }

void hc_paper_point(const hc_paper_codebook *cb, uint32_t i, double *x, double *y) {
    if (i == 0) {
        *x = cb->cx;
        *y = cb->cy;
        return;
    }
    uint32_t t = i - 1;
    *x = cb_x(cb, t);
    *y = cb_y(cb, t % cb->m);
}

/* Squared distance, written once so every caller rounds the same way. */
static inline double sq(double v) { return v * v; }
static inline double dist2_dy2(double qx, double x, double dy2) {
    double dx2 = sq(qx - x);
    return dx2 + dy2;
}
static inline double dist2(double qx, double qy, double x, double y) { return dist2_dy2(qx, x, sq(qy - y)); }

typedef struct best_pt {
    double d2;
    uint32_t i;
} best_pt;

static inline void consider(best_pt *b, double d2, uint32_t i) {
    if (d2 < b->d2 || (d2 == b->d2 && i < b->i)) {
        b->d2 = d2;
        b->i = i;
    }
}

/* Nearest point of row r (points X(col) = x0 + (col*m + r) sx, col < cols,
 * spaced h apart). Distances along a row fall then rise with col, so the row
 * minimum is at the bracketing pair f, f+1 from the column estimate; a walk
 * outward runs only if q lies over h/4 beyond that pair (then the estimate
 * was off): on a non-degenerate grid a point on the far side of f (or f+1)
 * is then at least 3h/4 farther, far above rounding. */
HC_PAPER_INLINE void search_row(const hc_paper_codebook *cb, double qx, double tq, uint32_t r, double dy2,
                                best_pt *b) {
    const uint32_t m = cb->m;
    const int64_t cols = (int64_t)cb->full + (r < cb->rem);
    double cf = (tq - (double)r) * cb->inv_m;
    int64_t f;
    if (!(cf > 0))
        f = 0;
    else if (cf >= (double)(cols - 1))
        f = cols - 1;
    else
        f = (int64_t)cf;
    if (f > 0 && f == cols - 1) f--; /* keep f+1 inside the row when it has 2+ points */
    double xf = cb_x(cb, (uint32_t)(f * m + r));
    double bd = dist2_dy2(qx, xf, dy2);
    int64_t bc = f;
    if (f + 1 < cols) {
        double xg = cb_x(cb, (uint32_t)((f + 1) * m + r));
        double d = dist2_dy2(qx, xg, dy2);
        /* which of the two wins is a coin toss: select without branching */
        bc += (d < bd);
        bd = (d < bd) ? d : bd;
        if (qx > xg + 0.25 * cb->h)
            for (int64_t c = f + 2; c < cols; c++) {
                double dc = dist2_dy2(qx, cb_x(cb, (uint32_t)(c * m + r)), dy2);
                if (!(dc < bd)) break;
                bd = dc;
                bc = c;
            }
    }
    if (qx < xf - 0.25 * cb->h)
        for (int64_t c = f - 1; c >= 0; c--) {
            double dc = dist2_dy2(qx, cb_x(cb, (uint32_t)(c * m + r)), dy2);
            if (!(dc <= bd)) break;
            bd = dc;
            bc = c;
        }
    consider(b, bd, (uint32_t)(bc * m + r) + 1);
}

/* Rows are visited outward from the nearest by height; a row whose vertical
 * gap alone exceeds the best distance (as computed, so the comparison is
 * exact) cannot hold a better or tied point, nor can any row beyond it. */
HC_PAPER_INLINE uint32_t nearest_fast(const hc_paper_codebook *cb, double qx, double qy) {
    if (cb->degenerate) return hc_paper_nearest_brute(cb, qx, qy);
    best_pt b = {dist2(qx, qy, cb->cx, cb->cy), 0};
    const uint32_t m = cb->m;
    double tq = (qx - cb->x0) * cb->inv_sx;
    double rf = (qy - cb->y0) * cb->inv_h;
    uint32_t r0;
    if (!(rf > 0))
        r0 = 0;
    else if (rf >= (double)(m - 1))
        r0 = m - 1;
    else
        r0 = (uint32_t)(rf + 0.5);
    search_row(cb, qx, tq, r0, sq(qy - cb_y(cb, r0)), &b);
    for (uint32_t r = r0 + 1; r < m; r++) {
        double dy2 = sq(qy - cb_y(cb, r));
        if (dy2 > b.d2) break;
        search_row(cb, qx, tq, r, dy2, &b);
    }
    for (uint32_t r = r0; r-- > 0;) {
        double dy2 = sq(qy - cb_y(cb, r));
        if (dy2 > b.d2) break;
        search_row(cb, qx, tq, r, dy2, &b);
    }
    return b.i;
}

uint32_t hc_paper_nearest(const hc_paper_codebook *cb, double qx, double qy) { return nearest_fast(cb, qx, qy); }

uint32_t hc_paper_nearest_brute(const hc_paper_codebook *cb, double qx, double qy) {
    best_pt b = {dist2(qx, qy, cb->cx, cb->cy), 0};
    /* every P_i, i = t + 1 >= 1, visited row by row: the same coordinates
     * and arithmetic as hc_paper_point + dist2; (d2, i) order makes the
     * visiting order irrelevant */
    for (uint32_t r = 0; r < cb->m; r++) {
        double dy2 = sq(qy - cb_y(cb, r));
        for (uint32_t t = r; t < cb->n; t += cb->m) consider(&b, dist2_dy2(qx, cb_x(cb, t), dy2), t + 1);
    }
    return b.i;
}

/* For q in S take the row nearest by height: the vertical gap is at most
 * h/2 (h for the top row, which sits h below the top edge), and within row r
 * the horizontal gap is at most half the spacing, the gap r*h/m before its
 * first point, or the gap after its last point. P_0 is ignored (it only
 * helps), so this is an upper bound; for n = m^2 it is attained at the
 * top-left corner of S. */
double hc_paper_bound0(uint32_t n, double L) {
    hc_paper_codebook cb;
    hc_paper_codebook_init(&cb, 0, 0, L, n);
    const double m = (double)cb.m;
    double worst = 0;
    for (uint32_t r = 0; r < cb.m; r++) {
        uint32_t cols = cb.full + (r < cb.rem);
        double dy = (r + 1 == cb.m) ? 1.0 : 0.5;
        double left = (double)r / m;
        double right = m - (double)(cols - 1) - (double)r / m;
        double g = cols >= 2 ? 0.5 : 0.0;
        if (left > g) g = left;
        if (right > g) g = right;
        double e2 = dy * dy + g * g;
        if (e2 > worst) worst = e2;
    }
    return cb.h * sqrt(worst);
}

/* ===================================================================== */
/* Distance bands                                                         */
/* ===================================================================== */

void hc_paper_bands_init(hc_paper_bands *b, double L, double d_max, uint32_t C) {
    if (C > HC_PAPER_MAX_BANDS) C = HC_PAPER_MAX_BANDS;
    b->C = C;
    b->half = L / 2;
    for (uint32_t k = 0; k <= C; k++) {
        double r = (k == 0) ? b->half : (k == C) ? d_max : b->half + (double)k * ((d_max - b->half) / (double)C);
        b->r[k] = r;
        b->r2[k] = r * r;
        b->shrink[k] = b->half / r;
        b->grow[k] = r / b->half;
    }
}

static inline int in_band0(double half, double dx, double dy) {
    if (fabs(dx) <= half && fabs(dy) <= half) return 1;
    return sq(dx) + sq(dy) <= sq(half);
}

uint32_t hc_paper_band_of(const hc_paper_bands *b, double dx, double dy) {
    if (in_band0(b->half, dx, dy)) return 0;
    double d2 = sq(dx) + sq(dy);
    for (uint32_t k = 1; k < b->C; k++)
        if (d2 <= b->r2[k]) return k;
    return b->C;
}

/* ===================================================================== */
/* Decode table                                                           */
/* ===================================================================== */

static inline float to_f32_sat(double v) {
    if (v > FLT_MAX) return INFINITY;
    if (v < -FLT_MAX) return -INFINITY;
    return (float)v;
}

/* index v = i + (n+1)k -> c + (P_i - c) r_k/(L/2) as floats; the table is
 * padded to 2^u entries (NaN) so any u-bit value is a safe index. */
hc_status hc_paper_table_build(const hc_paper_params *p, float **out, hc_error *err) {
    *out = NULL;
    const uint64_t entries = 1ull << p->u;
    float *t = malloc((size_t)entries * 2 * sizeof(float));
    if (!t)
        return hc_fail(err, HC_E_NOMEM, "paper codec: cannot allocate a decode table of %llu entries",
                       (unsigned long long)entries);
    hc_paper_codebook cb;
    hc_paper_codebook_init(&cb, p->cx, p->cy, p->L, p->n);
    hc_paper_bands b;
    hc_paper_bands_init(&b, p->L, p->d_max, p->bands);
    const uint64_t used = ((uint64_t)p->n + 1) * ((uint64_t)p->bands + 1);
    for (uint32_t k = 0; k <= p->bands; k++) {
        float *row = t + 2 * (uint64_t)k * (p->n + 1);
        for (uint32_t i = 0; i <= p->n; i++) {
            double x, y;
            hc_paper_point(&cb, i, &x, &y);
            if (k > 0) {
                x = p->cx + (x - p->cx) * b.grow[k];
                y = p->cy + (y - p->cy) * b.grow[k];
            }
            row[2 * i] = to_f32_sat(x);
            row[2 * i + 1] = to_f32_sat(y);
        }
    }
    for (uint64_t v = used; v < entries; v++) t[2 * v] = t[2 * v + 1] = NAN;
    *out = t;
    return HC_OK;
}

/* ===================================================================== */
/* Encoder                                                                */
/* ===================================================================== */

typedef struct enc_state {
    const float *w;
    uint64_t nw, npairs;
    double pad_value; /* the tensor mean, second element of the last pair  */
    double cx, cy, d_max, rms;
    double L;
    uint64_t n_outer; /* pairs outside band 0 ("outer" pairs)              */
    uint32_t *idx;    /* [npairs] chosen index per pair                    */
    uint32_t *trial;  /* [n_outer] indices of the C being tried, pair order */
    uint32_t *best;   /* [n_outer] indices of the best C so far            */
    int threads;      /* threads of the searches (1: the caller alone)     */
    uint64_t nchunks; /* work items of ENC_CHUNK_PAIRS pairs               */
    uint64_t *chunk_outer; /* [nchunks] position in trial of a chunk's first outer pair */
    double *chunk_sum;     /* [nchunks] error sum of a chunk's pairs         */
} enc_state;

/* The searches run over fixed chunks of pairs, on one thread or several;
 * error sums are kept per chunk and added in chunk order, so the result
 * does not depend on the thread count. */
#define ENC_CHUNK_PAIRS ((uint64_t)1 << 16)
#define ENC_PARALLEL_MIN ((uint64_t)1 << 20) /* fewer weights: one thread */

static inline void chunk_range(const enc_state *e, uint64_t c, uint64_t *j0, uint64_t *j1) {
    *j0 = c * ENC_CHUNK_PAIRS;
    *j1 = *j0 + ENC_CHUNK_PAIRS < e->npairs ? *j0 + ENC_CHUNK_PAIRS : e->npairs;
}

static double chunk_total(const enc_state *e) {
    double sum = 0;
    for (uint64_t c = 0; c < e->nchunks; c++) sum += e->chunk_sum[c];
    return sum;
}

static inline void pair_at(const enc_state *e, uint64_t j, double *x, double *y) {
    *x = e->w[2 * j];
    *y = (2 * j + 1 < e->nw) ? (double)e->w[2 * j + 1] : e->pad_value;
}

/* |w - w'| summed over the pair's real elements (the pad is not a weight). */
static inline double pair_abs_err(const enc_state *e, uint64_t j, const float *tab, uint32_t v) {
    double s = fabs((double)e->w[2 * j] - (double)tab[2 * v]);
    if (2 * j + 1 < e->nw) s += fabs((double)e->w[2 * j + 1] - (double)tab[2 * v + 1]);
    return s;
}

/* Centre, d_max and RMS deviation; returns 0 if a weight is not finite. */
static int enc_stats(enc_state *e) {
    const float *w = e->w;
    const uint64_t nw = e->nw;
    double base = w[0], s_all = 0, s_even = 0;
    for (uint64_t i = 0; i < nw; i++) {
        if (!isfinite(w[i])) return 0;
        double d = (double)w[i] - base;
        s_all += d;
        if (!(i & 1)) s_even += d;
    }
    /* shifting by w[0] keeps the mean of a constant tensor exact */
    e->pad_value = base + s_all / (double)nw;
    double s_odd = s_all - s_even + ((nw & 1) ? e->pad_value - base : 0.0);
    e->cx = base + s_even / (double)e->npairs;
    e->cy = base + s_odd / (double)e->npairs;
    double d2max = 0, ss = 0;
    for (uint64_t j = 0; j < e->npairs; j++) {
        double x, y;
        pair_at(e, j, &x, &y);
        double d2 = sq(x - e->cx) + sq(y - e->cy);
        ss += d2;
        if (d2 > d2max) d2max = d2;
    }
    e->d_max = sqrt(d2max);
    e->rms = sqrt(ss / (2.0 * (double)e->npairs));
    return 1;
}

static inline int pair_is_outer(const enc_state *e, uint64_t j) {
    double x, y;
    pair_at(e, j, &x, &y);
    return !in_band0(e->L / 2, x - e->cx, y - e->cy);
}

static void count_outer_chunk(void *ctx, uint64_t c, int tid) {
    (void)tid;
    enc_state *e = (enc_state *)ctx;
    uint64_t j0, j1, count = 0;
    chunk_range(e, c, &j0, &j1);
    for (uint64_t j = j0; j < j1; j++) count += (uint64_t)pair_is_outer(e, j);
    e->chunk_outer[c] = count;
}

/* Counts the outer pairs and allocates their index arrays (the outer pairs
 * are re-found by the same test in pair order; no list is kept). */
static hc_status enc_find_outer(enc_state *e, hc_error *err) {
    e->nchunks = (e->npairs + ENC_CHUNK_PAIRS - 1) / ENC_CHUNK_PAIRS;
    size_t nc = (size_t)(e->nchunks ? e->nchunks : 1);
    e->chunk_outer = malloc(nc * sizeof *e->chunk_outer);
    e->chunk_sum = malloc(nc * sizeof *e->chunk_sum);
    if (!e->chunk_outer || !e->chunk_sum)
        return hc_fail(err, HC_E_NOMEM, "paper codec: cannot allocate %llu work items",
                       (unsigned long long)e->nchunks);
    hc_parallel_for(e->threads, e->nchunks, count_outer_chunk, e);
    e->n_outer = 0;
    for (uint64_t c = 0; c < e->nchunks; c++) { /* counts -> first positions */
        uint64_t count = e->chunk_outer[c];
        e->chunk_outer[c] = e->n_outer;
        e->n_outer += count;
    }
    size_t bytes = (size_t)(e->n_outer ? e->n_outer : 1) * sizeof(uint32_t);
    e->trial = malloc(bytes);
    e->best = malloc(bytes);
    if (!e->trial || !e->best)
        return hc_fail(err, HC_E_NOMEM, "paper codec: cannot allocate indices of %llu outer pairs",
                       (unsigned long long)e->n_outer);
    /* A pair outside band 0 needs d_max > L/2 strictly (rounding may tie). */
    if (e->n_outer && !(e->d_max > e->L / 2)) e->d_max = nextafter(e->L / 2, INFINITY);
    return HC_OK;
}

/* One search over all chunks: the codebook, bands and decode table of the
 * (n, C) being tried. */
typedef struct enc_job {
    enc_state *e;
    const hc_paper_codebook *cb;
    const hc_paper_bands *b;
    const float *tab;
} enc_job;

/* Band-0 pairs: nearest point of the unshrunk pair; same for every C. */
static void band0_chunk(void *ctx, uint64_t c, int tid) {
    (void)tid;
    const enc_job *jb = (const enc_job *)ctx;
    enc_state *e = jb->e;
    const hc_paper_codebook *cb = jb->cb;
    const float *tab = jb->tab;
    const double half = e->L / 2;
    double sum = 0;
    uint64_t j0, j1;
    chunk_range(e, c, &j0, &j1);
    for (uint64_t j = j0; j < j1; j++) {
        double x, y;
        pair_at(e, j, &x, &y);
        if (!in_band0(half, x - e->cx, y - e->cy)) continue;
        uint32_t v = nearest_fast(cb, x, y);
        e->idx[j] = v;
        sum += pair_abs_err(e, j, tab, v);
    }
    e->chunk_sum[c] = sum;
}

static double enc_band0(enc_state *e, const hc_paper_codebook *cb, const float *tab) {
    enc_job jb = {e, cb, NULL, tab};
    hc_parallel_for(e->threads, e->nchunks, band0_chunk, &jb);
    return chunk_total(e);
}

/* Outer pairs with C bands: shrink into the disk of radius L/2, search. */
static void outer_chunk(void *ctx, uint64_t c, int tid) {
    (void)tid;
    const enc_job *jb = (const enc_job *)ctx;
    enc_state *e = jb->e;
    const hc_paper_codebook *cb = jb->cb;
    const hc_paper_bands *b = jb->b;
    const float *tab = jb->tab;
    const uint32_t stride = cb->n + 1;
    double sum = 0;
    uint64_t j0, j1;
    chunk_range(e, c, &j0, &j1);
    for (uint64_t j = j0, o = e->chunk_outer[c]; j < j1; j++) {
        if (!pair_is_outer(e, j)) continue;
        double x, y;
        pair_at(e, j, &x, &y);
        double dx = x - e->cx, dy = y - e->cy;
        uint32_t k = hc_paper_band_of(b, dx, dy);
        double s = b->shrink[k];
        uint32_t v = nearest_fast(cb, e->cx + dx * s, e->cy + dy * s) + stride * k;
        e->trial[o++] = v;
        sum += pair_abs_err(e, j, tab, v);
    }
    e->chunk_sum[c] = sum;
}

static double enc_outer(enc_state *e, const hc_paper_codebook *cb, const hc_paper_bands *b, const float *tab) {
    enc_job jb = {e, cb, b, tab};
    hc_parallel_for(e->threads, e->nchunks, outer_chunk, &jb);
    return chunk_total(e);
}

/* The best C's indices of a chunk's outer pairs into idx. */
static void scatter_best_chunk(void *ctx, uint64_t c, int tid) {
    (void)tid;
    enc_state *e = (enc_state *)ctx;
    uint64_t j0, j1;
    chunk_range(e, c, &j0, &j1);
    for (uint64_t j = j0, o = e->chunk_outer[c]; j < j1; j++)
        if (pair_is_outer(e, j)) e->idx[j] = e->best[o++];
}

typedef struct enc_plan {
    const uint32_t *points; /* codebook sizes, tried in order             */
    uint32_t n_points;
    uint32_t c_min, c_max;  /* band counts tried when some pair is outer  */
    double loss_target, loss_max;
} enc_plan;

/* Runs the choice of n and C (ALGORITHM.md "Choosing C and n"); leaves the
 * chosen indices in e->idx and the parameters in *p. */
static hc_status enc_search(enc_state *e, const enc_plan *plan, hc_paper_params *p, double *mae_out,
                            hc_error *err) {
    p->cx = e->cx;
    p->cy = e->cy;
    p->L = e->L;
    p->d_max = e->d_max;
    p->pad = (int)(e->nw & 1);
    double best_mae = INFINITY;
    for (uint32_t pi = 0; pi < plan->n_points; pi++) {
        const uint32_t n = plan->points[pi];
        hc_paper_codebook cb;
        hc_paper_codebook_init(&cb, e->cx, e->cy, e->L, n);
        p->n = n;
        best_mae = INFINITY;
        uint32_t best_c = 0;
        double err0 = 0;
        uint32_t c_lo = e->n_outer ? plan->c_min : 0, c_hi = e->n_outer ? plan->c_max : 0;
        for (uint32_t C = c_lo; C <= c_hi; C++) {
            hc_paper_params tp = *p;
            tp.bands = C;
            tp.u = hc_paper_index_bits(n, C);
            float *tab;
            hc_status s = hc_paper_table_build(&tp, &tab, err);
            if (s) return s;
            if (C == c_lo) err0 = enc_band0(e, &cb, tab);
            double sum = err0;
            if (C > 0) {
                hc_paper_bands b;
                hc_paper_bands_init(&b, e->L, e->d_max, C);
                sum += enc_outer(e, &cb, &b, tab);
            }
            free(tab);
            double mae = sum / (double)e->nw;
            if (C == c_lo || mae < best_mae) { /* ties keep the smaller C */
                best_mae = mae;
                best_c = C;
                uint32_t *t = e->best;
                e->best = e->trial;
                e->trial = t;
            }
            if (best_mae <= plan->loss_target) break;
        }
        p->bands = best_c;
        p->u = hc_paper_index_bits(n, best_c);
        if (best_mae <= plan->loss_max) break;
    }
    if (e->n_outer) hc_parallel_for(e->threads, e->nchunks, scatter_best_chunk, e);
    *mae_out = best_mae;
    return HC_OK;
}

static void enc_free(enc_state *e) {
    free(e->idx);
    free(e->trial);
    free(e->best);
    free(e->chunk_outer);
    free(e->chunk_sum);
}

/* Error statistics of one chunk's weights against the decode table. */
typedef struct finish_job {
    const enc_state *e;
    const float *tab;
    double *sums; /* [nchunks][4] sum |d|, sum d^2, max |d|, sum w^2 */
} finish_job;

static void finish_chunk(void *ctx, uint64_t c, int tid) {
    (void)tid;
    const finish_job *jb = (const finish_job *)ctx;
    const enc_state *e = jb->e;
    const float *tab = jb->tab;
    uint64_t j0, j1;
    chunk_range(e, c, &j0, &j1);
    uint64_t i1 = 2 * j1 < e->nw ? 2 * j1 : e->nw;
    double sae = 0, sse = 0, mx = 0, ss = 0;
    for (uint64_t i = 2 * j0; i < i1; i++) {
        double wi = e->w[i];
        double d = fabs(wi - (double)tab[2 * (uint64_t)e->idx[i >> 1] + (i & 1)]);
        sae += d;
        sse += d * d;
        ss += wi * wi;
        if (d > mx) mx = d;
    }
    double *out = jb->sums + 4 * c;
    out[0] = sae;
    out[1] = sse;
    out[2] = mx;
    out[3] = ss;
}

/* Packs e->idx, writes params, and measures the errors with the table the
 * decoder will build. */
static hc_status enc_finish(enc_state *e, const hc_paper_params *p, hc_encoded *out, hc_error *err) {
    int ok;
    uint64_t bytes = hc_bitpack_bytes(e->npairs, p->u, &ok);
    if (!ok || (uint64_t)(size_t)bytes != bytes)
        return hc_fail(err, HC_E_LIMIT, "paper codec: payload of %llu pairs too large", (unsigned long long)e->npairs);
    float *tab;
    hc_status s = hc_paper_table_build(p, &tab, err);
    if (s) return s;
    double *sums = malloc(4 * sizeof(double) * (size_t)(e->nchunks ? e->nchunks : 1));
    out->payload = malloc(bytes ? (size_t)bytes : 1);
    if (!out->payload || !sums) {
        free(tab);
        free(sums);
        free(out->payload);
        out->payload = NULL;
        return hc_fail(err, HC_E_NOMEM, "paper codec: cannot allocate %llu payload bytes", (unsigned long long)bytes);
    }
    hc_bitpack_pack(e->idx, e->npairs, p->u, out->payload);
    out->payload_len = bytes;
    out->codec = HC_CODEC_PAPER;
    hc_paper_params_write(p, out->params);
    out->params_len = HC_PAPER_PARAMS_LEN;
    finish_job jb = {e, tab, sums};
    hc_parallel_for(e->threads, e->nchunks, finish_chunk, &jb);
    double sae = 0, sse = 0, mx = 0, ss = 0;
    for (uint64_t c = 0; c < e->nchunks; c++) { /* in chunk order: the same sums for any thread count */
        sae += sums[4 * c];
        sse += sums[4 * c + 1];
        mx = sums[4 * c + 2] > mx ? sums[4 * c + 2] : mx;
        ss += sums[4 * c + 3];
    }
    free(sums);
    free(tab);
    out->mae = e->nw ? sae / (double)e->nw : 0;
    out->mse = e->nw ? sse / (double)e->nw : 0;
    out->max_abs_err = mx;
    out->sum_sq = ss;
    return HC_OK;
}

/* Allocates the working arrays and runs stats; *finite = 0 if w has NaN/Inf. */
static hc_status enc_begin(enc_state *e, const float *w, uint64_t nw, int *finite, hc_error *err) {
    memset(e, 0, sizeof *e);
    e->w = w;
    e->nw = nw;
    e->npairs = nw / 2 + (nw & 1);
    *finite = 1;
    uint64_t b4;
    if (!hc_mul_ok(e->npairs, 4, &b4) || (uint64_t)(size_t)b4 != b4)
        return hc_fail(err, HC_E_LIMIT, "paper codec: tensor of %llu weights too large", (unsigned long long)nw);
    if (nw == 0) return HC_OK;
    if (!enc_stats(e)) {
        *finite = 0;
        return HC_OK;
    }
    e->idx = malloc((size_t)b4);
    if (!e->idx)
        return hc_fail(err, HC_E_NOMEM, "paper codec: cannot allocate indices for %llu weights",
                       (unsigned long long)nw);
    return HC_OK;
}

/* An empty tensor: valid parameters, empty payload. */
static hc_status enc_empty(uint32_t n, hc_encoded *out, hc_error *err) {
    hc_paper_params p = {0, 0, 1.0, 0, n, 0, hc_paper_index_bits(n, 0), 0};
    out->payload = malloc(1);
    if (!out->payload) return hc_fail(err, HC_E_NOMEM, "paper codec: out of memory");
    out->payload_len = 0;
    out->codec = HC_CODEC_PAPER;
    hc_paper_params_write(&p, out->params);
    out->params_len = HC_PAPER_PARAMS_LEN;
    out->mae = out->mse = out->max_abs_err = out->sum_sq = 0;
    return HC_OK;
}

double hc_paper_auto_l(double rect_l_sigmas, double rms, double cx, double cy) {
    double L = rect_l_sigmas * rms;
    /* a constant tensor has no spread: every pair sits on P_0 = c and any L
     * works; one on the scale of c keeps the grid non-degenerate */
    if (!(L > 0) || !isfinite(L)) L = 1.0 + fabs(cx) + fabs(cy);
    return L;
}

hc_status hc_paper_encode_fixed(const float *w, uint64_t nw, double L, uint32_t n, uint32_t C, hc_encoded *out,
                                hc_error *err) {
    memset(out, 0, sizeof *out);
    if (n < 1 || C < 1 || C > HC_PAPER_MAX_BANDS || ((uint64_t)n + 1) * ((uint64_t)C + 1) > HC_PAPER_MAX_TABLE)
        return hc_fail(err, HC_E_ARG, "paper codec: n=%u C=%u out of range", n, C);
    if (!(L > 0) || !isfinite(L)) return hc_fail(err, HC_E_ARG, "paper codec: L=%g must be positive", L);
    if (nw == 0) return enc_empty(n, out, err);
    enc_state e;
    int finite;
    hc_status s = enc_begin(&e, w, nw, &finite, err);
    if (s) return s;
    if (!finite) return hc_fail(err, HC_E_ARG, "paper codec: tensor holds NaN or Inf");
    e.L = L;
    enc_plan plan = {&n, 1, C, C, -1, -1};
    hc_paper_params p;
    double mae;
    s = enc_find_outer(&e, err);
    if (!s) s = enc_search(&e, &plan, &p, &mae, err);
    if (!s) s = enc_finish(&e, &p, out, err);
    enc_free(&e);
    if (s) hc_encoded_free(out);
    return s;
}

static hc_status check_opts(const hc_opts *o, hc_error *err) {
    if (o->n_points < 1 || o->n_points > HC_MAX_POINT_SIZES)
        return hc_fail(err, HC_E_ARG, "paper codec: %u codebook sizes given (1..%d allowed)", o->n_points,
                       HC_MAX_POINT_SIZES);
    if (o->bands_max < 1 || o->bands_max > HC_PAPER_MAX_BANDS)
        return hc_fail(err, HC_E_ARG, "paper codec: bands_max %u outside 1..%d", o->bands_max, HC_PAPER_MAX_BANDS);
    for (uint32_t i = 0; i < o->n_points; i++) {
        uint64_t entries = ((uint64_t)o->points[i] + 1) * ((uint64_t)o->bands_max + 1);
        if (o->points[i] < 1 || entries > HC_PAPER_MAX_TABLE)
            return hc_fail(err, HC_E_ARG,
                           "paper codec: codebook size %u with %u bands out of range ((n+1)(C+1) <= %u)",
                           o->points[i], o->bands_max, HC_PAPER_MAX_TABLE);
    }
    if (isnan(o->rect_l) || isinf(o->rect_l))
        return hc_fail(err, HC_E_ARG, "paper codec: rect_l %g is not finite", o->rect_l);
    if (!(o->rect_l > 0) && !(o->rect_l_sigmas > 0 && isfinite(o->rect_l_sigmas)))
        return hc_fail(err, HC_E_ARG, "paper codec: automatic L needs rect_l_sigmas > 0 (got %g)", o->rect_l_sigmas);
    if (isnan(o->loss_target) || isnan(o->loss_max) || isnan(o->loss_limit))
        return hc_fail(err, HC_E_ARG, "paper codec: loss thresholds must not be NaN");
    return HC_OK;
}

static hc_status paper_encode(const float *w, uint64_t nw, const hc_opts *o, hc_encoded *out, hc_error *err) {
    hc_status s = check_opts(o, err);
    if (s) return s;
    if (nw == 0) return enc_empty(o->points[0], out, err);
    enc_state e;
    int finite;
    s = enc_begin(&e, w, nw, &finite, err);
    if (s) return s;
    /* NaN/Inf (e.g. a -inf mask buffer) cannot be coded: keep it lossless */
    if (!finite) return hc_encode_lossless(w, nw, out, err, "holds NaN/Inf");
    e.L = (o->rect_l > 0) ? o->rect_l : hc_paper_auto_l(o->rect_l_sigmas, e.rms, e.cx, e.cy);
    /* a fixed L (the presets) is a square side in weight units: on weights
     * whose spread is 2^10 times larger or smaller (a tensor of another
     * magnitude altogether) the codebook misses them and the result is
     * noise, so such a tensor is kept as it is */
    if (o->rect_l > 0 && e.rms > 0 && (e.L > 1024 * e.rms || e.L * 1024 < e.rms)) {
        double rms = e.rms;
        enc_free(&e);
        return hc_encode_lossless(w, nw, out, err, "paper: fixed L %.3g does not fit weights of rms %.3g", o->rect_l,
                                  rms);
    }
    e.threads = (o->threads > 1 && nw >= ENC_PARALLEL_MIN) ? (int)(o->threads < 256 ? o->threads : 256) : 1;
    enc_plan plan = {o->points, o->n_points, 1, o->bands_max, o->loss_target, o->loss_max};
    hc_paper_params p;
    double mae;
    s = enc_find_outer(&e, err);
    if (!s) s = enc_search(&e, &plan, &p, &mae, err);
    if (!s) {
        if (o->loss_limit > 0 && mae > o->loss_limit) {
            enc_free(&e);
            return hc_encode_lossless(w, nw, out, err, "paper: MAE %.3g above the loss limit %.3g", mae,
                                      o->loss_limit);
        }
        s = enc_finish(&e, &p, out, err);
    }
    enc_free(&e);
    if (s) hc_encoded_free(out);
    return s;
}

/* ===================================================================== */
/* Settings: options, rate ladder, the tools' constants (codec.h)         */
/* ===================================================================== */

HC_OPT_SETTER_REAL(set_rect_l, rect_l)
HC_OPT_SETTER_REAL(set_sigmas, rect_l_sigmas)
HC_OPT_SETTER_U32(set_bands, bands_max)
HC_OPT_SETTER_REAL(set_loss_target, loss_target)
HC_OPT_SETTER_REAL(set_loss_max, loss_max)
HC_OPT_SETTER_REAL(set_loss_limit, loss_limit)

static hc_status set_points(hc_opts *o, const hc_opt_value *v, hc_error *err) {
    (void)err;
    for (uint32_t i = 0; i < v->n; i++) o->points[i] = v->list[i];
    o->n_points = v->n;
    return HC_OK;
}

static const hc_opt_def paper_options[] = {
    {"--rect-l", "L", "rect_l", HC_OPTK_REAL, 0, 1e12, 0, set_rect_l, "L",
     "side of the square (0: from each tensor's spread)", 0, 0},
    {NULL, "sigmas", NULL, HC_OPTK_REAL, 1e-3, 1e3, 0, set_sigmas, "S", "automatic L = S standard deviations", 0, 0},
    {"--points", "n", "points", HC_OPTK_LIST, 1, (1 << 21) - 1, 1, set_points, "N[,N...]",
     "codebook sizes tried in order (1600), 1..2097151", 0, 0},
    {"--bands", "C", "bands", HC_OPTK_UINT, 1, HC_PAPER_MAX_BANDS, 0, set_bands, "C",
     "largest number of distance bands (3), 1..64", 0, 0},
    {"--loss-target", "loss_target", NULL, HC_OPTK_REAL, 0, 1e12, 0, set_loss_target, "X",
     "stop trying bands once MAE <= X", 0, 0},
    {"--loss-max", "loss_max", NULL, HC_OPTK_REAL, 0, 1e12, 0, set_loss_max, "X",
     "next codebook size while MAE > X", 0, 0},
    {"--loss-limit", "loss_limit", NULL, HC_OPTK_REAL, 0, 1e12, 1, set_loss_limit, "X",
     "keep a tensor lossless if MAE > X", 0, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0},
};

/* Codebook sizes n = s^2 (one size per setting, no loss limit), below
 * them down to 2 bits per weight: one band, n = 7 and 15 (4 and 5 index
 * bits a pair). */
static size_t paper_ladder(const hc_opts *base, hc_opts *out, size_t max) {
    static const uint32_t low[] = {7, 15};
    static const uint32_t pts[] = {49, 100, 225, 400, 900, 1600, 3600, 6400, 14400, 25600, 57600};
    size_t k = 0;
    for (size_t i = 0; i < sizeof low / sizeof low[0] && k < max; i++) {
        out[k] = *base;
        out[k].points[0] = low[i];
        out[k].n_points = 1;
        out[k].bands_max = 1;
        out[k].loss_limit = 0;
        k++;
    }
    for (size_t i = 0; i < sizeof pts / sizeof pts[0] && k < max; i++) {
        out[k] = *base;
        out[k].points[0] = pts[i];
        out[k].n_points = 1;
        out[k].loss_limit = 0;
        k++;
    }
    return k;
}

/* One index of u bits per pair; no band when no pair is outside S. */
static double paper_ladder_bpw(const hc_opts *o, int lowest) {
    uint32_t n = o->points[0];
    for (uint32_t i = 1; i < o->n_points; i++)
        if (lowest ? o->points[i] < n : o->points[i] > n) n = o->points[i];
    return 0.5 * (double)hc_paper_index_bits(n, lowest ? 0 : o->bands_max);
}

/* its presets, and codebook sizes n at the automatic L (index bits 9, 11,
 * 13 with 3 bands: 4.5, 5.5, 6.5 bits per weight) */
static const char *const paper_rd_settings[] = {
    "paper:preset=paper-llm", "paper:preset=paper-vision",
    "paper:n=3,C=1", "paper:n=7,C=1", "paper:n=15,C=1", /* down to 2 bits per weight: 3, 4, 5 index bits a pair */
    "paper:n=64", "paper:n=256", "paper:n=1600", NULL,
};

/* The paper's operating points (hc_opts_preset: from the defaults). */
static void preset_llm(hc_opts *o) {
    o->rect_l = 0.1;
    o->points[0] = 1600;
    o->n_points = 1;
    o->bands_max = 3;
    o->loss_target = 0.001;
    o->loss_max = 0.001;
    o->loss_limit = 0.006;
}

static void preset_vision(hc_opts *o) {
    o->rect_l = 0.8;
    o->points[0] = 1600;
    o->n_points = 1;
    o->bands_max = 4;
    o->loss_target = 0.001;
    o->loss_max = 0.001;
    o->loss_limit = 0;
}

static const hc_codec_preset paper_presets[] = {
    {"paper-llm", preset_llm},
    {"paper-vision", preset_vision},
    {NULL, NULL},
};

const hc_codec_vt hc_codec_paper_vt = {
    .id = HC_CODEC_PAPER,
    .name = "paper",
    .encode = paper_encode,
    .open = hc_paper_open,
    .ladder = paper_ladder,
    .ladder_bpw = paper_ladder_bpw,
    .options = paper_options,
    .presets = paper_presets,
    .rd_settings = paper_rd_settings,
    .rd_colour = "#1b9e77",
};
