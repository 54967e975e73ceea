/* trellis_viterbi.c — the trellis codec's encoder search: Viterbi over the
 * 2^L states of the shift register, in chunks of TR_CHUNK committed steps
 * searched with TR_LOOKAHEAD steps of look-ahead (memory: (TR_CHUNK +
 * TR_LOOKAHEAD) 2^(L-1) bytes of back pointers), each chunk starting from
 * the state the previous one committed, so the path is one valid
 * trajectory. Segments of 2^TR_SEG_LOG2 weights restart the register and
 * are searched independently (on any thread, with identical output).
 *
 * int16 costs (the default, TR_COSTS_INT16): within a chunk whose per-step
 * weights lie within a factor TR_I16_WRATIO of each other, path costs are
 * 16-bit integers and a step is one fused pass (min over predecessors and
 * the add of the branch cost, no 2^L cost array): with c_t = sqrt(w_t /
 * w_max) of the chunk, aq = round(32767 c_t), au = round(u_t 64 /
 * TR_VAL_NORM * aq / 32768) clamped to +-32767, the branch cost of state s is
 *     e(s) = (min(|sat16(au - mulhrs(64 tr_val_int(s), aq))|, lim_h) << h)^2 >> 16
 * (the mulhrs term, AV, is recomputed only when aq changes: per block),
 * i.e. about 2^(2h-16) (64 c_t / TR_VAL_NORM)^2 (u_t - v(s))^2, where the
 * resolution shift h is 1 for chunks of 3 and more bits per step (mean,
 * rounded), else 0: a typical error (0.26 at 2 bits, halving per bit) is 92
 * units at 2 bits and full weight. Larger h clip large errors (at h = 2,
 * |u - v| c >= 0.87) and lost up to 0.7 dB on resnet20 at 4.5 bpw. Costs are unsigned and add with saturation at 65535
 * (a soft infinity; lim_0 = 32768, lim_1 = 16383: e <= 16384, so paths from the start state stay below it
 * for 3 steps at least, and a chunk whose traced path lost its start state
 * is searched again in float); when the smallest cost of a step reaches
 * TR_I16_RENORM it is subtracted from all. Chunks of more widely spread
 * weights use the float search. The scalar and AVX2 steps compute the same
 * integers, so the payload does not depend on the instruction set. */
#include "trellis.h"
#include <stdlib.h>
#include <string.h>

#define TR_I16_WRATIO 16.0f
#define TR_I16_RENORM 8192
#define TR_I16_INF 65535

#define TR_CHUNK 1024
#define TR_LOOKAHEAD 128

void tr_step_ref(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp) {
    const uint32_t L = v->L, sh = L - k, nq = 1u << sh, np = 1u << k;
    const float *D = v->D;
    float *M = v->M, *Dn = v->Dn;
    for (uint32_t q = 0; q < nq; q++) {
        float m = D[q];
        uint32_t b = 0;
        for (uint32_t p = 1; p < np; p++) {
            float x = D[q | (p << sh)];
            if (x < m) {
                m = x;
                b = p;
            }
        }
        M[q] = m;
        bp[q] = (uint8_t)b;
    }
    for (uint32_t s = 0; s < (1u << L); s++) {
        /* separate statements: no contraction into an FMA (AVX2 path: mul, mul, add) */
        float d = u - v->V[s];
        float e = d * d;
        e = wgt * e;
        Dn[s] = M[s >> k] + e;
    }
}

void tr_step(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp) {
#if defined(__x86_64__) || defined(__i386__)
    if (v->isa == 1) {
        tr_step_avx2(v, k, u, wgt, bp);
        return;
    }
#endif
    tr_step_ref(v, k, u, wgt, bp);
}

void tr_set_weight_ref(tr_viterbi *v, int16_t aq) {
    for (uint32_t s = 0; s < (1u << v->L); s++) v->AV[s] = tr_av16(v->V16[s], aq);
    v->av_q = aq;
}

int tr_fstep_ref(const tr_viterbi *v, const uint16_t *Mt, uint32_t kt, int16_t au, uint32_t k1, uint16_t *Mn,
                 uint8_t *bp) {
    const uint32_t L = v->L, sh = L - k1, nq = 1u << sh, np = 1u << k1;
    const int16_t *AV = v->AV;
    const uint32_t esh = v->esh;
    int mn = TR_I16_INF;
    for (uint32_t q = 0; q < nq; q++) {
        int best = 0;
        uint32_t b = 0;
        for (uint32_t p = 0; p < np; p++) {
            uint32_t s = q | (p << sh);
            int c = (int)(Mt[s >> kt] + tr_cost16(AV[s], au, esh));
            if (c > TR_I16_INF) c = TR_I16_INF;
            if (p == 0 || c < best) {
                best = c;
                b = p;
            }
        }
        Mn[q] = (uint16_t)best;
        bp[q] = (uint8_t)b;
        if (best < mn) mn = best;
    }
    return mn;
}

static int fstep(tr_viterbi *v, const uint16_t *Mt, uint32_t kt, int16_t au, int16_t aq, uint32_t k1, uint16_t *Mn,
                 uint8_t *bp) {
#if defined(__x86_64__) || defined(__i386__)
    if (v->isa == 1) {
        if (v->av_q != aq) tr_set_weight_avx2(v, aq);
        return tr_fstep_avx2(v, Mt, kt, au, k1, Mn, bp);
    }
#endif
    if (v->av_q != aq) tr_set_weight_ref(v, aq);
    return tr_fstep_ref(v, Mt, kt, au, k1, Mn, bp);
}

/* The int16 search of steps [0, m) of a chunk (u, wg, kbits already offset);
 * first: the first state is free, else the path continues from prev.
 * Returns the best final state, or -1 when the weights are too spread for
 * int16 costs (the caller then runs the float search). */
static int64_t chunk_i16(tr_viterbi *v, const float *u, const float *wg, const uint8_t *kbits, uint64_t m, int first,
                         uint32_t prev) {
    const uint32_t L = v->L, S = 1u << L;
    const size_t stride = (size_t)1 << (L - 1);
    float wmax = 0, wmin = INFINITY;
    for (uint64_t t = 0; t < m; t++) {
        if (wg[t] > wmax) wmax = wg[t];
        if (wg[t] > 0 && wg[t] < wmin) wmin = wg[t];
    }
    if (wmax > 0 && wmin * TR_I16_WRATIO < wmax) return -1;
    const double ku = 64.0 / (double)TR_VAL_NORM;
    for (uint64_t t = 0; t < m; t++) {
        float c = wmax > 0 ? sqrtf(wg[t] / wmax) : 0;
        long aq = lrintf(32767.0f * c);
        double a = (double)u[t] * ku * (double)aq / 32768.0;
        a = a > 32767 ? 32767 : a < -32767 ? -32767 : a;
        v->aq[t] = (int16_t)(aq > 32767 ? 32767 : aq);
        v->au[t] = (int16_t)lrint(a);
    }
    /* resolution: errors shrink by 2 per bit per step, so at 3 and more
     * bits per step (chunk mean) costs are counted 4 times finer */
    uint64_t ksum = 0;
    for (uint64_t t = 0; t < m; t++) ksum += kbits[t];
    uint64_t kr = (ksum + m / 2) / m;
    v->esh = kr >= 3 ? 1 : 0; /* 2 and more lost up to 0.7 dB on resnet20 at 4.5 bpw (clipped large errors) */
    uint16_t *M = v->Mi, *Mn = v->Mn;
    if (first) {
        memset(M, 0, sizeof(uint16_t) * (stride + 16));
    } else {
        uint32_t k0 = kbits[0], sh = L - k0;
        for (size_t q = 0; q < stride + 16; q++) M[q] = TR_I16_INF;
        memset(v->bp, 0, (size_t)1 << sh);
        M[prev & ((1u << sh) - 1)] = 0;
        v->bp[prev & ((1u << sh) - 1)] = (uint8_t)(prev >> sh);
    }
    /* M holds the costs by class of step t - 1 (t0 = 1: step 0 with M = 0) */
    for (uint64_t t = 1; t < m; t++) {
        int mn = fstep(v, M, kbits[t - 1], v->au[t - 1], v->aq[t - 1], kbits[t], Mn, v->bp + t * stride);
        if (mn >= TR_I16_RENORM) {
            uint32_t nq = 1u << (L - kbits[t]);
            for (uint32_t q = 0; q < nq; q++) Mn[q] = (uint16_t)(Mn[q] - mn);
        }
        uint16_t *x = M;
        M = Mn;
        Mn = x;
    }
    /* the last step's costs: the first best state */
    const uint32_t kl = kbits[m - 1];
    if (v->av_q != v->aq[m - 1]) tr_set_weight_ref(v, v->aq[m - 1]);
    int best = 1 << 30;
    uint32_t bs = 0;
    for (uint32_t s = 0; s < S; s++) {
        int c = (int)(M[s >> kl] + tr_cost16(v->AV[s], v->au[m - 1], v->esh));
        if (c > TR_I16_INF) c = TR_I16_INF;
        if (c < best) {
            best = c;
            bs = s;
        }
    }
    if (!first) {
        /* costs saturated on every path (an outlier run right after the
         * chunk's start) can lose the start state: then the float search */
        uint32_t x = bs;
        for (uint64_t t = m; t-- > 0;) {
            uint32_t k = kbits[t], q = x >> k;
            x = q | ((uint32_t)v->bp[t * stride + q] << (L - k));
        }
        if (x != prev) return -1;
    }
    return bs;
}

static void swap_costs(tr_viterbi *v) {
    float *t = v->D;
    v->D = v->Dn;
    v->Dn = t;
}

void tr_viterbi_segment(tr_viterbi *v, const float *u, const float *wg, const uint8_t *kbits, uint64_t n,
                        uint32_t *st) {
    const uint32_t L = v->L, S = 1u << L;
    const size_t stride = (size_t)1 << (L - 1);
    uint32_t prev = 0;
    for (uint64_t a = 0; a < n;) {
        uint64_t m = n - a < TR_CHUNK + TR_LOOKAHEAD ? n - a : TR_CHUNK + TR_LOOKAHEAD;
        uint64_t commit = a + m == n ? m : TR_CHUNK;
        uint64_t t0 = a == 0 ? 1 : 0;
        int64_t best = v->costs == TR_COSTS_INT16 ? chunk_i16(v, u + a, wg + a, kbits + a, m, a == 0, prev) : -1;
        if (best >= 0) {
            /* int16 search done */
        } else if (a == 0) { /* the first state is free: its L bits are stored */
            for (uint32_t s = 0; s < S; s++) {
                float d = u[0] - v->V[s];
                float e = d * d;
                v->D[s] = wg[0] * e;
            }
            t0 = 1;
        } else { /* continue from the committed state */
            for (uint32_t s = 0; s < S; s++) v->D[s] = INFINITY;
            v->D[prev] = 0;
            t0 = 0;
        }
        uint32_t s = 0;
        if (best >= 0) {
            s = (uint32_t)best;
        } else {
            for (uint64_t t = t0; t < m; t++) {
                tr_step(v, kbits[a + t], u[a + t], wg[a + t], v->bp + t * stride);
                swap_costs(v);
            }
            for (uint32_t i = 1; i < S; i++)
                if (v->D[i] < v->D[s]) s = i;
        }
        for (uint64_t t = m; t-- > t0;) {
            if (t < commit) st[a + t] = s;
            uint32_t k = kbits[a + t], q = s >> k;
            s = q | ((uint32_t)v->bp[t * stride + q] << (L - k));
        }
        if (a == 0) st[0] = s;
        prev = st[a + commit - 1];
        a += commit;
    }
}

int tr_viterbi_init(tr_viterbi *v, uint32_t L, int isa) {
    memset(v, 0, sizeof *v);
    v->L = L;
    v->isa = isa;
    size_t S = (size_t)1 << L;
    v->V = malloc(sizeof(float) * S);
    v->D = malloc(sizeof(float) * (S + 8));
    v->Dn = malloc(sizeof(float) * (S + 8));
    v->M = calloc(S + 16, sizeof(float)); /* padded: the AVX2 path reads 8 past 2^(L-1) */
    v->steps_max = TR_CHUNK + TR_LOOKAHEAD;
    v->bp = malloc((size_t)v->steps_max * (S / 2));
    const char *e = getenv("HYPERC_TRELLIS_COSTS");
    v->costs = e && strcmp(e, "float") == 0 ? TR_COSTS_FLOAT : TR_COSTS_INT16;
    v->V16 = malloc(sizeof(int16_t) * S);
    v->Mi = malloc(sizeof(uint16_t) * (S / 2 + 16));
    v->Mn = malloc(sizeof(uint16_t) * (S / 2 + 16));
    v->au = malloc(sizeof(int16_t) * v->steps_max);
    v->aq = malloc(sizeof(int16_t) * v->steps_max);
    v->AV = malloc(sizeof(int16_t) * S);
    v->av_q = -1;
    if (!v->V || !v->D || !v->Dn || !v->M || !v->bp || !v->V16 || !v->Mi || !v->Mn || !v->au || !v->aq || !v->AV)
        return 0;
    for (size_t s = 0; s < S; s++) {
        v->V[s] = tr_val((uint32_t)s);
        v->V16[s] = (int16_t)(64 * tr_val_int((uint32_t)s));
    }
    return 1;
}

void tr_viterbi_free(tr_viterbi *v) {
    free(v->V);
    free(v->D);
    free(v->Dn);
    free(v->M);
    free(v->bp);
    free(v->V16);
    free(v->Mi);
    free(v->Mn);
    free(v->au);
    free(v->aq);
    free(v->AV);
    memset(v, 0, sizeof *v);
}
