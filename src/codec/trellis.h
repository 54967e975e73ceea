/* trellis.h — the "trellis" codec: weights as the path of a shift-map
 * trajectory read through a linear congruential map (a bitshift trellis with
 * a computed codebook), searched by Viterbi.
 *
 * A tensor (optionally rotated by a randomized block Walsh–Hadamard
 * transform along its rows) is cut into blocks of 64 weights, each with a
 * 6-bit log scale code q (1/8 octave). Block b spends T_b = clamp(O + slope q,
 * 64 kmin, 64 kmax) bits (water-filling: slope 8 = one bit per weight per
 * octave of scale; flags bit 1 stores another slope in byte 7; one
 * per-tensor offset O), i.e. k_j = floor((j+1) T/64) - floor(j T/64)
 * bits enter the shift register at step j of the block. The state of weight
 * i is the L-bit window of the bit stream ending at its position; weight i
 * decodes as
 *     x   = s * TR_LCG_A + TR_LCG_C            (mod 2^32)
 *     v   = (bytesum(x) - 510) * TR_VAL_NORM   (4 uniform bytes: ~N(0,1))
 *     w   = scale_b * v
 * Layout: docs/FORMAT.md, "trellis"; rationale: docs/ALGORITHM.md. */
#ifndef HC_TRELLIS_H
#define HC_TRELLIS_H

#include "codec.h"
#include <math.h>
#include <string.h>

#define TR_VERSION 1
#define TR_PARAMS_BYTES 20
#define TR_BLOCK 64          /* weights per scale block                     */
#define TR_SBITS 6           /* scale-code bits                             */
#define TR_GROUP_BLOCKS 16   /* blocks per entry of the decoder's bit-offset table */
#define TR_L_MIN 8
#define TR_L_MAX 20
#define TR_L_DEFAULT 12
#define TR_L_MAX_EFFORT 16   /* --effort max                                 */
#define TR_K_MAX 8           /* bits per step                               */
#define TR_SEG_LOG2 16       /* weights per independent segment (2^16)      */
#define TR_RHT_MAX_LOG2 8    /* Hadamard blocks of at most 256              */
#define TR_RHT_MIN_LOG2 4    /* and at least 16 (smaller: no transform)     */
#define TR_FLAG_RHT 1u
#define TR_FLAG_SLOPE 2u     /* byte 7 holds the water-filling slope (else 8) */
#define TR_SLOPE_DEFAULT 8u  /* block bits per scale-code step: 1 bit/weight/octave */
#define TR_SLOPE_MAX 16u
#ifndef TR_LCG_A
#define TR_LCG_A 0xB5297A4Du /* chosen on N(0,1) (docs/ALGORITHM.md) */
#endif
#ifndef TR_LCG_C
#define TR_LCG_C 0x1B873593u
#endif
#define TR_VAL_NORM (1.0f / 147.801f) /* 1 / sqrt(4 (256^2 - 1) / 12)      */
#define TR_DEFAULT_BPW 4.0

typedef struct tr_params {
    uint32_t L, flags, rht_log2, seg_log2, kmin, kmax;
    uint32_t seed;   /* RHT signs                                        */
    float top;       /* scale of code 63                                 */
    int32_t offset;  /* O: T_b = clamp(O + slope q_b, 64 kmin, 64 kmax)  */
    uint32_t slope;  /* 8 unless flags has TR_FLAG_SLOPE (then byte 7)    */
} tr_params;

/* Serialises p into out (TR_PARAMS_BYTES); returns the length. */
uint32_t tr_params_write(const tr_params *p, uint8_t *out);
hc_status tr_params_read(const uint8_t *b, uint32_t len, tr_params *p, hc_error *err);

/* The codebook: the value of state s (unscaled); the one definition the
 * encoder's table, the decoders and the kernels follow. */
static inline float tr_val(uint32_t s) {
    uint32_t x = s * TR_LCG_A + TR_LCG_C;
    uint32_t t = (x & 0x00ff00ffu) + ((x >> 8) & 0x00ff00ffu);
    t = (t & 0xffffu) + (t >> 16);
    return (float)((int32_t)t - 510) * TR_VAL_NORM;
}
/* The same codebook as an integer: tr_val(s) = tr_val_int(s) * TR_VAL_NORM
 * exactly, |tr_val_int| <= 510. */
static inline int32_t tr_val_int(uint32_t s) {
    uint32_t x = s * TR_LCG_A + TR_LCG_C;
    uint32_t t = (x & 0x00ff00ffu) + ((x >> 8) & 0x00ff00ffu);
    t = (t & 0xffffu) + (t >> 16);
    return (int32_t)t - 510;
}

/* Bits block b spends for scale code q. */
static inline uint32_t tr_block_bits(const tr_params *p, uint32_t q) {
    int64_t t = (int64_t)p->offset + (int64_t)p->slope * (int64_t)q, lo = 64 * (int64_t)p->kmin, hi = 64 * (int64_t)p->kmax;
    return (uint32_t)(t < lo ? lo : t > hi ? hi : t);
}
/* Bits entering at step j of a block of T bits (j < 64). */
static inline uint32_t tr_step_bits(uint32_t T, uint32_t j) { return ((j + 1) * T >> 6) - ((j * T) >> 6); }
/* Block scale for code q. */
static inline float tr_scale(const tr_params *p, uint32_t q) {
    return (float)((double)p->top * exp2(((double)q - 63.0) / 8.0));
}

/* Codebook gain for a block of T bits (rate r = T / 64): the codebook's
 * support is bounded (|v| < 3.46), so at higher rates it is stretched;
 * measured on N(0,1) at L = 12 (docs/ALGORITHM.md). Piecewise linear in r. */
static inline float tr_gain(uint32_t T) {
    static const double g[9] = {0.97, 0.97, 1.04, 1.09, 1.15, 1.20, 1.25, 1.28, 1.30}; /* r = 0..8 */
    uint32_t i = T >> 6;
    if (i >= 8) return (float)g[8];
    return (float)(g[i] + (g[i + 1] - g[i]) * (double)(T & 63) / 64.0);
}

/* Reads `bits` (<= 32) bits at bit offset pos of an MSB-first stream of
 * len bytes; bytes past the end read as zero. */
static inline uint32_t tr_get_bits(const uint8_t *s, uint64_t len, uint64_t pos, uint32_t bits) {
    uint64_t byte = pos >> 3, v = 0;
    if (byte + 8 <= len) {
        memcpy(&v, s + byte, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap64(v);
#else
        v = 0;
        for (int i = 0; i < 8; i++) v = (v << 8) | s[byte + i];
#endif
    } else {
        for (uint64_t i = 0; i < 8; i++) v = (v << 8) | (byte + i < len ? s[byte + i] : 0);
    }
    return (uint32_t)((v << (pos & 7)) >> (64 - bits));
}

/* Payload: scale codes then the stream; the stream's length in bits for the
 * codes q[0..nblocks) of a tensor of n weights. */
uint64_t tr_stream_bits(const tr_params *p, const uint8_t *q, uint64_t n);
static inline uint64_t tr_scale_bytes(uint64_t nblocks) { return (nblocks * TR_SBITS + 7) / 8; }

/* ---- decoder ----------------------------------------------------------- */
/* Where the 8 windows of each group of 8 steps of a full block lie, for one
 * block rate T and one bit phase (P0 & 7, P0 = the block's position - L):
 * the group's 16-byte load at byte g0 from P0 >> 3, then per lane the
 * shuffle of its 4 big-endian bytes and the left shift (trellis_avx2.c). */
typedef struct tr_pattern {
    uint8_t mask[8][32];
    uint32_t shl[8][8];
    uint32_t g0[8];
} tr_pattern;

typedef struct tr_decoder {
    hc_decoder base;
    tr_params p;
    const uint8_t *stream;
    uint64_t stream_len, nblocks;
    uint8_t *q;           /* [nblocks] scale codes                         */
    uint64_t *goff;       /* [ngroups] bit position before the group's first step */
    float stab[64];       /* scale by code                                */
    float gtab[64 * TR_K_MAX + 1]; /* gain by block bits                  */
    float *signs;         /* [2^rht_log2] RHT signs / sqrt(b), or NULL     */
    int isa;              /* 0 ref, 1 avx2                                 */
    tr_pattern *pat;      /* [npat][8 phases] for the rates T in use (AVX2), or NULL */
    int16_t pidx[64 * TR_K_MAX + 1]; /* T -> pattern set, -1 if none       */
} tr_decoder;

/* Builds d->pat for the rates its blocks use (0 if out of memory: then the
 * product uses the per-block kernel). */
int tr_patterns_build(tr_decoder *d);
/* Row product over whole blocks b0 .. b0 + nblk - 1 of d (each of 64 steps,
 * x[64 nblk] transformed): sum_b scale_b gain_T sum_j v(s_j) x_j. pos: the
 * bit position before block b0. Stops before a block whose loads would pass
 * the stream's end; returns the blocks done and their sum in *sum. */
uint64_t tr_blocks_decode_avx2(const tr_decoder *d, uint64_t b0, uint64_t nblk, uint64_t pos, float *out);
void tr_rht_inverse_avx2(float *x, uint32_t lg, const float *signs);
uint64_t tr_row_dot_avx2(const tr_decoder *d, uint64_t b0, uint64_t nblk, uint64_t pos, const float *x,
                         const float *xsum, double *sum);

/* Weights [start, start + count) in the transformed domain. */
void tr_decode_raw(const tr_decoder *d, uint64_t start, uint64_t count, float *out);
/* The randomized Hadamard transform of one block of b = 2^lg floats in
 * place: forward x <- H (s .* x) (signs already / sqrt(b)); inverse x <- s .* (H x). */
void tr_rht_forward(float *x, uint32_t lg, const float *signs);
void tr_rht_inverse(float *x, uint32_t lg, const float *signs);
void tr_make_signs(uint32_t seed, uint32_t lg, float *signs);

/* ---- encoder search ---------------------------------------------------- */
typedef struct tr_viterbi {
    uint32_t L;
    float *V;          /* [2^L] codebook                                */
    float *D, *Dn, *M; /* [2^L] costs                                   */
    uint8_t *bp;       /* [steps][2^(L-1)] back pointers                */
    uint32_t steps_max;
    int isa;
    /* the int16 search (trellis_viterbi.c, "int16 costs"): */
    int costs;         /* TR_COSTS_INT16 (default) or TR_COSTS_FLOAT    */
    int16_t *V16;      /* [2^L] 64 tr_val_int(s)                        */
    uint16_t *Mi, *Mn; /* [2^(L-1) + 16] path costs by predecessor class */
    uint32_t esh;      /* the chunk's cost resolution shift (0..6)       */
    int16_t *au, *aq;  /* [steps] per-step target and weight            */
    int16_t *AV;       /* [2^L] tr_av16(V16[s], av_q): the codebook at the step's weight */
    int32_t av_q;      /* the weight AV holds, -1 if none               */
} tr_viterbi;
#define TR_COSTS_INT16 0
#define TR_COSTS_FLOAT 1

/* One Viterbi step: M[q] = min_p D[q | p << (L-k)], bp[q] = argmin (first);
 * Dn[s] = M[s >> k] + wgt (u - V[s])^2. Scalar and AVX2 give the same bits. */
void tr_step_ref(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp);
void tr_step_avx2(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp);
/* The float step on the kernel set v was opened with (AVX2 or the reference). */
void tr_step(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp);
/* One fused int16 step: Mn[q] = min_p sat(Mt[s >> kt] + e(s)), s = q | p << (L - k1),
 * e(s) = tr_cost16(v->AV[s], au), the quantised cost of state s at the
 * step's weight (trellis_viterbi.c); bp[q] = the first argmin; returns
 * min_q Mn[q]. Scalar and AVX2: same bits. */
int tr_fstep_ref(const tr_viterbi *v, const uint16_t *Mt, uint32_t kt, int16_t au, uint32_t k1, uint16_t *Mn,
                 uint8_t *bp);
int tr_fstep_avx2(const tr_viterbi *v, const uint16_t *Mt, uint32_t kt, int16_t au, uint32_t k1, uint16_t *Mn,
                  uint8_t *bp);
/* v->AV for weight aq (scalar and AVX2: the same values). */
void tr_set_weight_ref(tr_viterbi *v, int16_t aq);
void tr_set_weight_avx2(tr_viterbi *v, int16_t aq);
/* The codebook value at weight aq: mulhrs(V, aq) (|V| <= 32640). */
static inline int16_t tr_av16(int16_t V, int16_t aq) {
    int32_t pr = (int32_t)V * aq + 0x4000;
    return (int16_t)((int32_t)(((uint32_t)pr + 0x40000000u) >> 15) - 0x8000); /* floor(pr / 2^15), |pr| < 2^30 */
}
/* The int16 branch cost at resolution shift esh (scalar definition; the
 * AVX2 step follows it): (min(|sat16(au - av)|, lim) << esh)^2 >> 16, lim = 32768
 * (no clip) at esh = 0, else 32767 >> esh: at most 16384. */
static inline uint32_t tr_cost16(int16_t av, int16_t au, uint32_t esh) {
    int32_t d = (int32_t)au - av;
    d = d > 32767 ? 32767 : d < -32768 ? -32768 : d;                   /* subs */
    uint32_t ad = (uint32_t)(d < 0 ? -d : d), lim = esh ? 32767u >> esh : 32768u; /* abs as u16 */
    ad = (ad < lim ? ad : lim) << esh;
    return (ad * ad) >> 16;                                            /* mulhi_epu16 */
}
/* Fused row product over the transformed row (AVX2): sum_j w_j x_j for the
 * weights [i0, i0 + cnt) of one row (states already extracted to st). */
float tr_dot_avx2(const uint32_t *st, const float *x, uint32_t cnt);
float tr_block_dot_avx2(const uint8_t *stream, uint64_t pos, uint32_t T, uint32_t L, uint32_t j0, uint32_t cnt,
                        const float *x);
void tr_block_decode_avx2(const uint8_t *stream, uint64_t pos, uint32_t T, uint32_t L, uint32_t j0, uint32_t cnt,
                          float sc, float *out);

/* Encodes n weights (the transformed, normalised targets u and per-step
 * weights wg) of one segment into states st (uses v's buffers). */
/* Buffers for state size L; isa 0 (scalar) or 1 (AVX2). 0 if out of memory (free anyway). */
int tr_viterbi_init(tr_viterbi *v, uint32_t L, int isa);
void tr_viterbi_free(tr_viterbi *v);
void tr_viterbi_segment(tr_viterbi *v, const float *u, const float *wg, const uint8_t *kbits, uint64_t n,
                        uint32_t *st);

size_t hc_trellis_ladder(const hc_opts *base, hc_opts *out, size_t max);
double hc_trellis_nominal_bpw(const hc_opts *o);

#endif
