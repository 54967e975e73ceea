/* paper.h — internals of the paper codec (docs/ALGORITHM.md), shared with its
 * tests and with the SIMD matvec kernels.
 *
 * Terms: a tensor of N weights is read as npairs = ceil(N/2) points
 * p_j = (w[2j], w[2j+1]) (a pad element when N is odd). The codebook is
 * P_0 = c plus n points of a sheared grid over the square S of side L centred
 * on c; pairs far from c are shrunk into S by distance band k (0..C). A pair
 * is stored as index i + (n+1)k in u bits (bitpack.h layout). */
#ifndef HC_PAPER_H
#define HC_PAPER_H

#include "codec.h"

#define HC_PAPER_VERSION 1          /* first byte of the params blob          */
#define HC_PAPER_PARAMS_LEN 40      /* bytes of the params blob (version 1)   */
#define HC_PAPER_MAX_BANDS 64       /* C <= this                              */
#define HC_PAPER_MAX_TABLE (1u << 22) /* (n+1)(C+1) <= this, so u <= 22       */

/* ---- parameters stored per tensor ------------------------------------- */
typedef struct hc_paper_params {
    double cx, cy;  /* centre c of the pairs                                 */
    double L;       /* side of the square S                                  */
    double d_max;   /* largest |p - c|                                       */
    uint32_t n;     /* codebook size (points besides P_0)                    */
    uint32_t bands; /* C, number of outer distance bands (0: none)           */
    uint32_t u;     /* bits per stored index = bit_length((n+1)(C+1) - 1)    */
    int pad;        /* 1: N is odd and the last pair holds a pad element     */
} hc_paper_params;

/* Bits per index for codebook size n and C bands (at least 1). */
uint32_t hc_paper_index_bits(uint32_t n, uint32_t bands);
void hc_paper_params_write(const hc_paper_params *p, uint8_t out[HC_PAPER_PARAMS_LEN]);
/* Parses and validates a params blob for a tensor of nweights weights. */
hc_status hc_paper_params_read(const uint8_t *blob, uint32_t len, uint64_t nweights, hc_paper_params *p,
                               hc_error *err);

/* ---- the trajectory codebook ------------------------------------------ */
/* P_i = c - (L/2, L/2) + ((i-1) v mod L), v = (L/m^2, L/m), m = ceil(sqrt n).
 * Step t = i-1 lies in row r = t mod m (height r*L/m) and column t div m. */
typedef struct hc_paper_codebook {
    double cx, cy;  /* P_0                                                   */
    double x0, y0;  /* lower-left corner of S                                */
    double sx;      /* L/m^2: x advance per step                             */
    double h;       /* L/m: row height, and x spacing of a row's points      */
    double inv_sx, inv_h, inv_m;
    uint32_t n, m;
    int degenerate;     /* spacing near the rounding of the coordinates:
                           the search scans all points                   */
    uint32_t full, rem; /* row r holds full + (r < rem) points               */
} hc_paper_codebook;

void hc_paper_codebook_init(hc_paper_codebook *cb, double cx, double cy, double L, uint32_t n);
/* Coordinates of P_i, i in [0, n]: the one definition used everywhere. */
void hc_paper_point(const hc_paper_codebook *cb, uint32_t i, double *x, double *y);
/* Index of the codebook point nearest to q (Euclidean; ties: lower index).
 * The fast one uses the grid structure; both give the same answer. */
uint32_t hc_paper_nearest(const hc_paper_codebook *cb, double qx, double qy);
uint32_t hc_paper_nearest_brute(const hc_paper_codebook *cb, double qx, double qy);
/* Upper bound on the distance from any point of S to its nearest codebook
 * point (exact for n = m^2). Band k's bound is this times r_k / (L/2). */
double hc_paper_bound0(uint32_t n, double L);

/* ---- distance bands --------------------------------------------------- */
typedef struct hc_paper_bands {
    uint32_t C;
    double half;                          /* L/2 = r_0                       */
    double r[HC_PAPER_MAX_BANDS + 1];     /* r_k, r_C = d_max                */
    double r2[HC_PAPER_MAX_BANDS + 1];    /* r_k^2                           */
    double shrink[HC_PAPER_MAX_BANDS + 1];/* (L/2) / r_k                     */
    double grow[HC_PAPER_MAX_BANDS + 1];  /* r_k / (L/2)                     */
} hc_paper_bands;

void hc_paper_bands_init(hc_paper_bands *b, double L, double d_max, uint32_t C);
/* Band of a pair at offset (dx, dy) from c: 0 inside S or within L/2, else
 * the smallest k with |p - c| <= r_k (C if rounding leaves none). */
uint32_t hc_paper_band_of(const hc_paper_bands *b, double dx, double dy);

/* ---- encoder entry points for tests and tools ------------------------- */
/* Side L used when rect_l <= 0: rect_l_sigmas * rms, rms being the RMS
 * deviation of the pair coordinates from c = (cx, cy); 1 + |cx| + |cy| for a
 * constant tensor (rms = 0). */
double hc_paper_auto_l(double rect_l_sigmas, double rms, double cx, double cy);
/* Encodes with fixed L, codebook size n and band count C (C is used only if
 * some pair lies outside band 0; else C = 0). Never falls back to RAW. */
hc_status hc_paper_encode_fixed(const float *w, uint64_t nw, double L, uint32_t n, uint32_t C,
                                hc_encoded *out, hc_error *err);

/* ---- linear row products (paper_linear.c) ------------------------------ */
/* A band-0 index v in [1, n] decodes to an affine function of (col, r), the
 * column and row of t = v - 1 (col = t div m, r = t mod m):
 *   x = x0 + col*h + r*sx,  y = y0 + r*h.
 * The fast pass applies that formula to every index ("fake" point; for v = 0
 * t = -1 gives col = -1, r = m - 1), so a row's sum is
 *   x0*sum(xe) + y0*sum(xo) + sum_j col_j*U_j + r_j*Z_j,
 *   U_j = h*xe_j, Z_j = sx*xe_j + h*xo_j  (xe, xo: x at 2j, 2j+1),
 * and the pairs the formula gets wrong (v = 0, v > n: outer bands and
 * damaged indices) are listed once at open() and corrected by
 * corr[v] . (xe_j, xo_j), corr[v] = table[v] - fake(v) (NaN stays NaN). A
 * correction reads its pair's index again from the payload. The list is
 * split in blocks of 2^16 pairs so an entry is 16 bits. */
#define HC_PAPER_FIX_BLOCK_BITS 16
#define HC_PAPER_LINEAR_MAX_BITS 1.0 /* open() keeps list + corr table only  */
                                     /* within this many bits per weight     */
#define HC_PAPER_LINEAR_MAX_U 16     /* corr table <= 2^16 pairs (512 KB)   */
typedef struct hc_paper_linear {
    uint32_t *block_start; /* [nblocks + 1]: block b's entries are            */
                           /* [block_start[b], block_start[b+1])              */
    uint16_t *offset;      /* [count]: pair (b << 16) + offset, ascending     */
    float *corr;           /* [2 << u]: table[v] - fake(v) for listed v, else 0 */
    uint64_t count;        /* pairs to correct                                */
    uint64_t nblocks;      /* ceil(npairs / 2^16)                             */
    float x0, y0;          /* fake-point constants, as the kernels use them   */
    float h, sx;           /* row height L/m and x advance per step L/m^2     */
    float m, inv_m;        /* m and hc_paper_divisor_inv(m)                   */
} hc_paper_linear;

/* 1/d rounded up to a float: floor(w * this) is exactly floor(w / d) for
 * integers -1 <= w < 2^22 and 1 <= d <= 2^22 (paper_linear.c). */
float hc_paper_divisor_inv(uint32_t d);

/* ---- decoder ---------------------------------------------------------- */
typedef struct hc_paper_decoder {
    hc_decoder base;
    hc_paper_params p;
    const uint8_t *payload; /* [payload_len] packed indices, u bits each      */
    uint64_t payload_len;   /* = ceil(npairs * u / 8) exactly                 */
    uint64_t npairs;        /* ceil(n / 2); pair j holds weights 2j, 2j+1     */
    uint64_t fast_pairs;    /* pairs j < this may use an 8-byte load          */
    float *table;           /* [2 << u]: index v -> (table[2v], table[2v+1]); */
                            /* indices >= (n+1)(C+1) (never written) map NaN  */
    uint32_t u;             /* bits per index, 1..22                          */
    uint32_t mask;          /* (1 << u) - 1                                   */
    int has_linear;         /* lin is built: the linear row products apply   */
    hc_paper_linear lin;    /* correction list (see above)                    */
} hc_paper_decoder;

/* Writes the decoded weights of pairs [j0, j1) (2 floats per pair, the pad
 * element included) to out. */
/* index -> point table of 2^u float pairs (unused entries NaN); malloc'd. */
hc_status hc_paper_table_build(const hc_paper_params *p, float **out, hc_error *err);
/* The codec's open() (paper_dec.c). */
hc_status hc_paper_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload, uint64_t payload_len,
                        uint64_t nw, hc_dtype dtype, hc_decoder **out, hc_error *err);
void hc_paper_decode_pairs(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, float *out);

/* Builds d->lin from the payload (d otherwise complete; open() passes
 * HC_PAPER_LINEAR_MAX_BITS): has_linear stays 0 when the list and the corr
 * table would take more than max_bits per weight (many outer pairs, or a
 * tensor too small for its 2^u-entry table), u is above
 * HC_PAPER_LINEAR_MAX_U, the list would pass 2^32 entries, or the constants
 * could leave float range. */
hc_status hc_paper_linear_build(hc_paper_decoder *d, double max_bits, hc_error *err);
void hc_paper_linear_free(hc_paper_linear *l);
/* First list entry whose pair is >= j (count if none). */
uint64_t hc_paper_linear_find(const hc_paper_linear *l, uint64_t j);
/* Per tile of np pairs of x (xp interleaved): U, Z [np] and
 * base = x0*sum(xe) + y0*sum(xo). */
void hc_paper_linear_tile(const hc_paper_linear *l, const float *xp, uint64_t np, float *U, float *Z,
                          double *base);
/* sum over pairs j in [j0, j0 + np) of col_j*U[j-j0] + r_j*Z[j-j0] */
double hc_paper_linear_fast_ref(const hc_paper_decoder *d, uint64_t j0, uint64_t np, const float *U,
                                const float *Z);
/* Sum of the corrections of the listed pairs in [j0, j0 + np) against x
 * interleaved from pair j0 (xp). *e: in, the first entry whose pair is
 * >= j0; out, the first whose pair is >= j0 + np. */
double hc_paper_linear_fix(const hc_paper_decoder *d, uint64_t j0, uint64_t np, const float *xp, uint64_t *e);
/* The plain-C linear row product; the decode-then-multiply reference where
 * it does not apply (odd cols, no list). */
void hc_paper_matvec_linear_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                                float *y);

/* ---- row products: reference (paper.c), SIMD and dispatch (paper_simd.c) */
typedef void (*hc_paper_matvec_fn)(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                                   const float *x, float *y);
typedef enum hc_paper_simd { HC_PAPER_SIMD_REF = 0, HC_PAPER_SIMD_AVX2 = 1, HC_PAPER_SIMD_AVX512 = 2 } hc_paper_simd;

/* The plain-C row product (decode a tile, multiply), d a paper decoder. */
void hc_paper_matvec_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                         float *y);
const char *hc_paper_simd_name(hc_paper_simd level); /* "ref", "avx2", "avx512" */
int hc_paper_simd_supported(hc_paper_simd level);    /* 1 if this CPU runs it  */
/* The row product of a level, or NULL if this CPU lacks it. */
hc_paper_matvec_fn hc_paper_matvec_for(hc_paper_simd level);
/* The level decoders use: the one in force (src/common/cpu.h, HYPERC_SIMD);
 * hc_paper_simd levels equal hc_simd's. */
hc_paper_simd hc_paper_simd_selected(void);
hc_paper_matvec_fn hc_paper_matvec_select(void); /* hc_paper_matvec_for(selected) */

#endif
