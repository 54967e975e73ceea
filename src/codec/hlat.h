/* hlat.h — the "hlat" codec: block-scaled, companded rank-1 lattice
 * (a K-dimensional winding evaluated at integer times).
 *
 * A tensor is cut into blocks of B weights, each with one scale code, and
 * each block into groups of K weights, each stored as one m-bit integer t.
 * Weight i of a group decodes as
 *     x32 = (uint32)(t * (g_i << (32 - m)))        the winding frac(t g_i / 2^m)
 *     z   = (int32)(x32 ^ 0x80000000) * 2^-31      centred to [-1, 1)
 *     z   = z - copysign(min(|z|, dz), z)          optional dead zone (exact zeros)
 *     w   = s_q * (z * fma(z^2, fma(z^2, c5, c3), c1))   odd compander, block scale
 * so the codebook is the rank-1 (Korobov) lattice {frac(t g / 2^m)} pushed
 * through a per-coordinate compander: K integer multiplies per group, no
 * table. Layout and rationale: docs/ALGORITHM.md, "The hlat codec". */
#ifndef HC_HLAT_H
#define HC_HLAT_H

#include "codec.h"
#include <math.h>

#define HLAT_VERSION 1
#define HLAT_KMAX 8          /* weights per group                          */
#define HLAT_MMAX 32         /* index bits per group (32-bit winding)      */
#define HLAT_SBITS_MAX 8     /* scale-code bits per block                  */
#define HLAT_BLOCK_MAX 4096  /* weights per block                          */
#define HLAT_FLAG_GEN 1u     /* params carry an explicit generator         */
#define HLAT_FLAG_DZ 2u      /* params carry a dead zone (zeros kept exact) */

/* Decoded form of the params blob. */
typedef struct hlat_params {
    uint32_t K, m, sbits, block; /* group size, index bits, scale bits, block */
    uint32_t flags;              /* HLAT_FLAG_*                                */
    uint32_t nfine;              /* scale codes [0, nfine] step by step1      */
    uint32_t step1, step2;       /* scale steps in 1/256 octave               */
    float scale_top;             /* scale of code 0                           */
    float c1, c3, c5;            /* compander coefficients (stored as f16)    */
    float dead_zone;             /* dz in z units, 0 = none (stored as u16)   */
    uint32_t g[HLAT_KMAX];       /* [K] generator, g[0] = 1 (odd as written)  */
} hlat_params;

/* Serialises p into out (HC_MAX_PARAMS bytes); returns the length. */
uint32_t hlat_params_write(const hlat_params *p, uint8_t *out);
/* Parses and validates a params blob. */
hc_status hlat_params_read(const uint8_t *buf, uint32_t len, hlat_params *p, hc_error *err);
/* The 2^sbits block scales, code 0 largest. */
void hlat_scale_table(const hlat_params *p, float *tab);
/* Built-in generator for (K, m); returns 0 if there is none. */
int hlat_builtin_generator(uint32_t K, uint32_t m, uint32_t *g);
/* Payload bytes for n weights under p; 0 on overflow. */
uint64_t hlat_payload_len(const hlat_params *p, uint64_t n, uint64_t *scale_bytes);

/* ---- the lattice as the encoder sees it (hlat_lattice.c) ---------------- */
typedef struct hlat_lattice {
    uint32_t K, m;
    int64_t n;                              /* 2^m                            */
    int64_t basis[HLAT_KMAX][HLAT_KMAX];    /* [K][K] reduced basis, rows     */
    double inv[HLAT_KMAX][HLAT_KMAX];       /* [K][K] J -> coefficients       */
    double gs_norm2[HLAT_KMAX];             /* [K] |b*_i|^2 (nearest plane)   */
    double gs_mu[HLAT_KMAX][HLAT_KMAX];     /* [K][K] Gram-Schmidt mu         */
    double gs_star[HLAT_KMAX][HLAT_KMAX];   /* [K][K] b*_i                    */
    double babai_radius;                    /* 0.5 sqrt(sum |b*_i|^2), J units */
} hlat_lattice;

/* Builds the reduced basis of {J in Z^K : J = t g mod 2^m}. */
void hlat_lattice_init(hlat_lattice *L, uint32_t K, uint32_t m, const uint32_t *g);
/* Picks a generator for (K, m) by a seeded search (figure of merit: the
 * shortest row of the LLL-reduced basis, i.e. the packing radius). */
void hlat_generator_search(uint32_t K, uint32_t m, uint32_t tries, uint32_t *g);
/* Nearest-plane (Babai) lattice point to a real target J* (J units). */
void hlat_lattice_babai(const hlat_lattice *L, const double *target, int64_t *point);

/* ---- decoding kernels (hlat_kernels.c) --------------------------------- */
/* The integer form of the compander for the quantised-activation product
 * (hlat_q16.c): int16 fixed point with W = f(z) 2^b, set at open. */
typedef struct hlat_q16 {
    int ok;                  /* 1: this tensor's setting runs the q16 product  */
    int b;                   /* W = f(z) 2^b                                   */
    int16_t c1, c3, c5;      /* c1 2^b, c3 2^(b+1), c5 2^(b+2), rounded        */
    int sq;                  /* 1: the square form W = Z ((U + A)^2 + E), f = c5 W 2^-13 */
    int16_t a16, e16;        /* its A = a 2^14, E = e 2^13 (hlat_q16_prepare)   */
    float unscale;           /* 2^-b, or c5 2^-13 in the square form           */
    float werr;              /* |W 2^-b - f(z)| bound, in units of the block scale */
    int gpb_shift;           /* log2 of the groups per block, -1 if not a power of two */
    int no_b32;              /* 1: not the blocks-of-32 path (A/B timing, tests: kernels "avx2s") */
    /* per bit phase of a row's first group (its bit offset mod 8): the byte
     * shuffle and shifts that put groups 0..7 of a step in dword lanes
     * 0..7 (groups 4..7 from the 16 bytes at hi_off) */
    uint8_t pat[8][32];
    int32_t shift[8][8];
    uint8_t hi_off[8];
    /* Small tensors (<= HLAT_Q16_CACHE_MAX weights) keep their int16
     * weights in the kernel's lane order once multiplied (rows of
     * cache_cols): the product then skips the decode. Built once, by the
     * first caller (state 0 -> 1 -> 2; 3: not possible), freed with d. */
    int16_t *cache;
    uint64_t cache_cols;
    int cache_state;
    /* the product used where the q16 one does not apply (cols % 32 != 0) */
    void (*fallback)(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y);
} hlat_q16;

typedef struct hlat_decoder {
    hc_decoder base;
    hlat_params p;
    const uint8_t *scales;   /* scale-code stream                              */
    const uint8_t *idx;      /* index stream                                   */
    uint64_t scales_len, idx_len;
    uint64_t nblocks, ngroups;
    uint64_t fast_groups;    /* groups whose 8-byte index load stays in bounds */
    uint64_t fast_blocks;    /* blocks whose 2-byte scale load stays in bounds */
    uint32_t gshift[HLAT_KMAX]; /* [K] g_i << (32 - m)                         */
    float scale_tab[1u << HLAT_SBITS_MAX]; /* [2^sbits] scales by code         */
    hlat_q16 q16;            /* integer product constants (hlat_q16.c)          */
    /* Small tensors (<= HLAT_SMALL_MAX weights; hlat_small.c): the decoded
     * float32 weights, built by the first product (state 0 -> 1 -> 2; 3: not
     * possible), freed with d; the product is then the float one. */
    float *small;
    int small_state;
    void (*small_rows)(hc_dtype dt, const uint8_t *data, uint64_t cols, uint64_t row0, uint64_t row1,
                       const float *x, float *y); /* the float row product of this level (raw.h) */
    /* the product used where the weights could not be kept */
    void (*small_fallback)(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                           float *y);
} hlat_decoder;

/* Reconstruction of one lattice coordinate; the single definition that the
 * encoder, the reference decoder and (lane by lane) the SIMD kernels follow. */
static inline float hlat_recon(uint32_t x32, float scale, float dz, float c1, float c3, float c5) {
    float z = (float)(int32_t)(x32 ^ 0x80000000u) * 0x1p-31f;
    float a = fabsf(z);
    z = z - copysignf(a < dz ? a : dz, z);
    float z2 = z * z;
    float p = fmaf(z2, fmaf(z2, c5, c3), c1);
    return scale * (z * p);
}

/* Reads `bits` (<= 57) bits at bit offset `pos` of a stream of len bytes,
 * LSB first; bytes past the end read as zero. */
static inline uint64_t hlat_get_bits(const uint8_t *s, uint64_t len, uint64_t pos, uint32_t bits) {
    uint64_t byte = pos >> 3, v = 0;
    if (byte + 8 <= len) {
        for (int i = 0; i < 8; i++) v |= (uint64_t)s[byte + i] << (8 * i);
    } else {
        for (uint64_t i = 0; byte + i < len && i < 8; i++) v |= (uint64_t)s[byte + i] << (8 * i);
    }
    return (v >> (pos & 7)) & ((bits >= 64) ? ~0ull : ((1ull << bits) - 1));
}

/* Scale of block b (b < nblocks). */
static inline float hlat_block_scale(const hlat_decoder *d, uint64_t b) {
    uint64_t pos = b * d->p.sbits;
    uint32_t code;
    if (b < d->fast_blocks) {
        const uint8_t *s = d->scales + (pos >> 3);
        code = ((uint32_t)(s[0] | (s[1] << 8)) >> (pos & 7)) & ((1u << d->p.sbits) - 1);
    } else {
        code = (uint32_t)hlat_get_bits(d->scales, d->scales_len, pos, d->p.sbits);
    }
    return d->scale_tab[code];
}

void hlat_decode_ref(const hc_decoder *d, uint64_t start, uint64_t count, float *out);
void hlat_matvec_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1,
                     const float *x, float *y);
/* Chooses the best kernels this CPU runs ("ref", "avx2", "avx512") and sets
 * them on d; returns the name. `force` (NULL = best) names a kernel set. */
const char *hlat_select_kernels(hlat_decoder *d, const char *force);
/* The same for a given level (src/common/cpu.h); hlat_select_kernels uses
 * hc_simd_level(). */
const char *hlat_kernels_at(hc_simd level, hlat_decoder *d, const char *force);

/* ---- quantised-activation product (hlat_q16.c) -------------------------
 * For K = 4, m <= 25, blocks a multiple of 32, no dead zone, and rows of a
 * multiple of 4 weights: x is quantised once per call to int16 (|X| <=
 * 16383) with one scale per 32 columns, each weight's compander is evaluated
 * in int16 fixed point from the top 16 bits of its lattice coordinate, and
 * the products are summed exactly in int32 per 32 weights, then scaled and
 * summed in float. The activations of a step are stored in the kernel's lane
 * order (HLAT_Q16_POS). */
#define HLAT_Q16_XMAX 16383
#define HLAT_Q16_CHUNK 8192   /* columns quantised at a time (stack buffer) */
#define HLAT_Q16_CACHE_MAX 65536 /* weights of a tensor whose int16 weights are kept */
/* position in a step's 32 quantised activations of column c (0..31) */
#define HLAT_Q16_POS(c) ((((c) >> 1) & 1) * 16 + ((c) >> 2) * 2 + ((c) & 1))
/* Sets d->q16 for d's parameters (ok = 0 where the q16 product does not apply). */
void hlat_q16_prepare(hlat_decoder *d);
/* The same, with the square form allowed or not (tests of the other form). */
void hlat_q16_prepare_form(hlat_decoder *d, int allow_sq);
/* xq[32 u + HLAT_Q16_POS(c)], sx[u] for the steps u of 32 columns of x[0..
 * ncols) (the last one padded with zeros); a step holding NaN/Inf gets sx =
 * NaN, one with max |x| below 2^-100 is zero. */
void hlat_q16_quantize_ref(const float *x, uint64_t ncols, int16_t *xq, float *sx);
/* For rows [row0, row1) of the (n / cols, cols) matrix, cols a multiple of
 * 4: the product of columns [c0, c0 + nc) (c0 a multiple of 32) with
 * activations quantised by hlat_q16_quantize_* (xq, sx of those columns);
 * y[r - row0] = that (add = 0) or y[r - row0] + that (add = 1). */
void hlat_q16_rows_ref(const hlat_decoder *d, uint64_t cols, uint64_t c0, uint64_t nc, uint64_t row0, uint64_t row1,
                       const int16_t *xq, const float *sx, float *y, int add);
#if defined(__x86_64__) || defined(__i386__)
void hlat_q16_quantize_avx2(const float *x, uint64_t ncols, int16_t *xq, float *sx);
void hlat_q16_rows_avx2(const hlat_decoder *d, uint64_t cols, uint64_t c0, uint64_t nc, uint64_t row0, uint64_t row1,
                        const int16_t *xq, const float *sx, float *y, int add);
#endif
/* The matvec entries: quantise x, then the rows (by columns of at most
 * HLAT_Q16_CHUNK); d->q16.fallback where the product does not apply
 * (cols % 4 != 0). */
void hlat_matvec_q16_ref(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y);
void hlat_matvec_q16_avx2(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                          float *y);

/* ---- small tensors (hlat_small.c) -------------------------------------
 * A tensor of at most HLAT_SMALL_MAX weights (stories260K's, 64 x 64 ...)
 * keeps its decoded float32 weights after its first product (4 bytes per
 * weight, as the float model): the product is then float32's row product
 * on them (raw.h, the same kernel a float model runs), with no per-call
 * setup; its result is decode-then-multiply's to float rounding and does
 * not depend on the row range. Installed by hlat_kernels_at for the default
 * kernels (force NULL) unless HYPERC_HLAT_NOCACHE is set. */
#define HLAT_SMALL_MAX 65536
/* Puts the small-tensor product in front of d's matvec where it applies;
 * returns 1 if it did. */
int hlat_small_install(hc_simd level, hlat_decoder *d);
void hlat_matvec_small(const hc_decoder *d, uint64_t cols, uint64_t row0, uint64_t row1, const float *x, float *y);

/* ---- encoder search (hlat_search.c, hlat_search_simd.c) ---------------- */
#define HLAT_ZINV_N 1024      /* inverse compander table resolution */
#define HLAT_ISA_REF 0
#define HLAT_ISA_AVX2 1
#define HLAT_ISA_AVX512 2
#define HLAT_SCALE_TRIES 10   /* scale codes tried per block (at most) */

typedef struct hlat_enc_ctx {
    const hlat_params *p;
    uint32_t K, m, B, ncodes;
    int64_t n;                                   /* 2^m                          */
    hlat_lattice L;
    float scale_tab[1u << HLAT_SBITS_MAX];       /* [2^sbits]                    */
    float c1, c3, c5, dz;
    int scale_exp;                               /* w is the tensor * 2^-scale_exp */
    double vmax;                                 /* compander output at |z| = 1  */
    float scale_in;                              /* HLAT_ZINV_N / vmax           */
    float zinv[HLAT_ZINV_N + 2];                 /* |v| = k vmax / N -> |z| - dz  */
    float inv_u[HLAT_KMAX][HLAT_KMAX];           /* [K][K] u = J / n -> coefficient */
    int32_t basis32[HLAT_KMAX][HLAT_KMAX];       /* [K][K] (SIMD: m <= 30)        */
    float zunit;                                 /* 2^(1-m): z per unit of J      */
    int64_t box[1u << HLAT_KMAX][HLAT_KMAX];     /* [2^K][K] cell corner offsets  */
    int32_t box32[1u << HLAT_KMAX][HLAT_KMAX];   /* [2^K][K] (SIMD: m <= 30)      */
    float zbox[1u << HLAT_KMAX][HLAT_KMAX];      /* [2^K][K] offsets in z units   */
    /* lane buffers of the SIMD search: lanes = (scale try, group) pairs */
    int simd_ok, isa;                            /* isa: HLAT_ISA_*               */
    uint32_t lanes_max;
    float *lane_w;                               /* [K][lanes_max] weights        */
    float *lane_s, *lane_inv_s, *lane_err;       /* [lanes_max]                   */
    int32_t *lane_t;                             /* [lanes_max] best index        */
} hlat_enc_ctx;

typedef struct hlat_block_result {
    uint32_t code;
    double err;
    uint32_t t[HLAT_BLOCK_MAX];   /* [len / K rounded up] */
    float rec[HLAT_BLOCK_MAX];    /* [len]                */
} hlat_block_result;

/* Best scale code and points of one full block (len == B) for the scale
 * codes [q0, q0 + nq), nq <= HLAT_SCALE_TRIES, by SIMD over (scale, group)
 * lanes; groups with no valid cell corner are settled by `fallback`.
 * Returns 0 where this CPU or the setting has no SIMD path. */
typedef float (*hlat_group_fn)(const hlat_enc_ctx *c, const float *w, uint32_t k, float s, uint32_t *t,
                               float *rec);
int hlat_block_search_simd(const hlat_enc_ctx *c, const float *w, uint32_t q0, uint32_t nq, hlat_group_fn fallback,
                           hlat_block_result *out);

typedef void (*hlat_block_search_fn)(const hlat_enc_ctx *c, const float *w, uint32_t len, float bmax,
                                     hlat_block_result *best, hlat_block_result *scratch);
/* A copy of the search state c for another thread, with its own lane
 * buffers, and two results; 0 if out of memory (free with the next call). */
int hlat_enc_thread_state(const hlat_enc_ctx *c, hlat_enc_ctx **ctx, hlat_block_result **res);
void hlat_enc_thread_free(hlat_enc_ctx *ctx, hlat_block_result *res);

/* Sequential LSB-first bit writer (fields of at most 32 bits). */
typedef struct hlat_bit_writer {
    uint8_t *p;
    uint64_t acc;
    uint32_t nacc;
} hlat_bit_writer;

static inline void hlat_bits_put(hlat_bit_writer *bw, uint32_t v, uint32_t bits) {
    bw->acc |= (uint64_t)v << bw->nacc;
    bw->nacc += bits;
    while (bw->nacc >= 8) {
        *bw->p++ = (uint8_t)bw->acc;
        bw->acc >>= 8;
        bw->nacc -= 8;
    }
}

static inline void hlat_bits_flush(hlat_bit_writer *bw) {
    if (bw->nacc) *bw->p++ = (uint8_t)bw->acc;
    bw->acc = 0;
    bw->nacc = 0;
}

/* Error feedback (hlat_feedback.c): quantises the (rows, cols) matrix w
 * row by row, group by group, moving each group's error into the row's
 * later weights through U (feedback.c); block scales are searched on the
 * weights as updated when the block is reached. Writes the payload and the
 * error statistics (against the original w). cols must be a multiple of K. */
hc_status hlat_quantize_feedback(const hlat_enc_ctx *c, hlat_block_search_fn search, hlat_group_fn group,
                                 const float *w, uint64_t rows, uint64_t cols, const float *U, uint8_t *payload,
                                 int threads, hc_encoded *st, hc_error *err);

/* Settles the data-dependent fields of p (scale ladder, compander, dead
 * zone; K, m, sbits, block and g must be set), quantises the tensor into
 * payload (hlat_payload_len bytes, zeroed) and fills the error statistics.
 * w is the tensor times 2^-scale_exp (the caller's rescaling of weights of
 * extreme magnitude): the stored scales are those of the tensor, and the
 * statistics those of w. Returns HC_E_LIMIT, with err untouched, when the
 * tensor's scales do not fit in float32.
 * The block search runs on up to `threads` threads (<= 1: the caller's);
 * the output does not depend on the thread count. U: NULL, or the feedback
 * factor of a (n / cols, cols) matrix (hlat_quantize_feedback). */
hc_status hlat_quantize(const float *w, uint64_t n, hlat_params *p, uint8_t *payload,
                        hc_encoded *stats, int threads, uint64_t cols, const float *U, int scale_exp,
                        hc_error *err);

/* ---- settings ---------------------------------------------------------- */
/* (The rate ladder, from about 2.5 to 8 bits per weight, is the codec
 * table's: hc_codec_ladder, codec.h.) */
/* Bits per weight of setting o on a tensor of n weights (params included). */
double hc_hlat_bpw(const hc_opts *o, uint64_t n);

#endif
