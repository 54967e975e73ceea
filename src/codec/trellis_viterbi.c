/* trellis_viterbi.c — the trellis codec's encoder search: Viterbi over the
 * 2^L states of the shift register, in chunks of TR_CHUNK committed steps
 * searched with TR_LOOKAHEAD steps of look-ahead (memory: (TR_CHUNK +
 * TR_LOOKAHEAD) 2^(L-1) bytes of back pointers), each chunk starting from
 * the state the previous one committed, so the path is one valid
 * trajectory. Segments of 2^TR_SEG_LOG2 weights restart the register and
 * are searched independently (on any thread, with identical output). */
#include "trellis.h"
#include <stdlib.h>
#include <string.h>

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

static void step(const tr_viterbi *v, uint32_t k, float u, float wgt, uint8_t *bp) {
#if defined(__x86_64__) || defined(__i386__)
    if (v->isa == 1) {
        tr_step_avx2(v, k, u, wgt, bp);
        return;
    }
#endif
    tr_step_ref(v, k, u, wgt, bp);
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
        uint64_t t0;
        if (a == 0) { /* the first state is free: its L bits are stored */
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
        for (uint64_t t = t0; t < m; t++) {
            step(v, kbits[a + t], u[a + t], wg[a + t], v->bp + t * stride);
            swap_costs(v);
        }
        uint32_t s = 0;
        for (uint32_t i = 1; i < S; i++)
            if (v->D[i] < v->D[s]) s = i;
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
    if (!v->V || !v->D || !v->Dn || !v->M || !v->bp) return 0;
    for (size_t s = 0; s < S; s++) v->V[s] = tr_val((uint32_t)s);
    return 1;
}

void tr_viterbi_free(tr_viterbi *v) {
    free(v->V);
    free(v->D);
    free(v->Dn);
    free(v->M);
    free(v->bp);
    memset(v, 0, sizeof *v);
}
