/* hlat_lattice.c — the rank-1 lattice behind the hlat codebook, as the
 * encoder needs it: a reduced basis (LLL) of
 *     L = { J in Z^K : J = t g (mod 2^m) for some integer t },
 * its inverse for Babai rounding, Gram-Schmidt data for nearest-plane
 * rounding, and a seeded search for good generators g.
 *
 * J = (t g) mod 2^m restricted to the cube [0, 2^m)^K is exactly the set of
 * codewords, and because g[0] = 1 the index of a point J is t = J[0]. */
#include "hlat.h"
#include <string.h>

static long double dot_ll(const int64_t *a, const int64_t *b, uint32_t K) {
    long double s = 0;
    for (uint32_t i = 0; i < K; i++) s += (long double)a[i] * (long double)b[i];
    return s;
}

/* Gram-Schmidt of the rows of B (long double: entries reach 2^32, products 2^64). */
static void gram_schmidt(int64_t B[HLAT_KMAX][HLAT_KMAX], uint32_t K, long double mu[HLAT_KMAX][HLAT_KMAX],
                         long double star[HLAT_KMAX][HLAT_KMAX], long double norm2[HLAT_KMAX]) {
    for (uint32_t i = 0; i < K; i++) {
        for (uint32_t d = 0; d < K; d++) star[i][d] = (long double)B[i][d];
        for (uint32_t j = 0; j < i; j++) {
            long double s = 0;
            for (uint32_t d = 0; d < K; d++) s += (long double)B[i][d] * star[j][d];
            mu[i][j] = norm2[j] > 0 ? s / norm2[j] : 0;
            for (uint32_t d = 0; d < K; d++) star[i][d] -= mu[i][j] * star[j][d];
        }
        norm2[i] = 0;
        for (uint32_t d = 0; d < K; d++) norm2[i] += star[i][d] * star[i][d];
    }
}

/* LLL reduction (delta = 0.99) of the rows of B, in place. */
static void lll_reduce(int64_t B[HLAT_KMAX][HLAT_KMAX], uint32_t K) {
    long double mu[HLAT_KMAX][HLAT_KMAX], star[HLAT_KMAX][HLAT_KMAX], norm2[HLAT_KMAX];
    gram_schmidt(B, K, mu, star, norm2);
    uint32_t k = 1;
    for (int guard = 0; k < K && guard < 100000; guard++) {
        for (int j = (int)k - 1; j >= 0; j--) {
            long double q = roundl(mu[k][j]);
            if (q != 0) {
                int64_t qi = (int64_t)q;
                for (uint32_t d = 0; d < K; d++) B[k][d] -= qi * B[j][d];
                gram_schmidt(B, K, mu, star, norm2);
            }
        }
        if (norm2[k] >= (0.99L - mu[k][k - 1] * mu[k][k - 1]) * norm2[k - 1]) {
            k++;
        } else {
            for (uint32_t d = 0; d < K; d++) {
                int64_t t = B[k][d];
                B[k][d] = B[k - 1][d];
                B[k - 1][d] = t;
            }
            gram_schmidt(B, K, mu, star, norm2);
            k = k > 1 ? k - 1 : 1;
        }
    }
}

/* Inverse of a K x K matrix by Gauss-Jordan with partial pivoting. */
static void invert(const double A[HLAT_KMAX][HLAT_KMAX], double R[HLAT_KMAX][HLAT_KMAX], uint32_t K) {
    double M[HLAT_KMAX][2 * HLAT_KMAX];
    for (uint32_t i = 0; i < K; i++)
        for (uint32_t j = 0; j < K; j++) {
            M[i][j] = A[i][j];
            M[i][K + j] = (i == j);
        }
    for (uint32_t c = 0; c < K; c++) {
        uint32_t piv = c;
        for (uint32_t r = c + 1; r < K; r++)
            if (fabs(M[r][c]) > fabs(M[piv][c])) piv = r;
        for (uint32_t j = 0; j < 2 * K; j++) {
            double t = M[c][j];
            M[c][j] = M[piv][j];
            M[piv][j] = t;
        }
        double dv = M[c][c];
        for (uint32_t j = 0; j < 2 * K; j++) M[c][j] /= dv;
        for (uint32_t r = 0; r < K; r++)
            if (r != c) {
                double f = M[r][c];
                for (uint32_t j = 0; j < 2 * K; j++) M[r][j] -= f * M[c][j];
            }
    }
    for (uint32_t i = 0; i < K; i++)
        for (uint32_t j = 0; j < K; j++) R[i][j] = M[i][K + j];
}

void hlat_lattice_init(hlat_lattice *L, uint32_t K, uint32_t m, const uint32_t *g) {
    memset(L, 0, sizeof *L);
    L->K = K;
    L->m = m;
    L->n = (int64_t)1 << m;
    /* generating rows: g and 2^m e_i (i >= 1); with g[0] = 1 they span L */
    for (uint32_t d = 0; d < K; d++) L->basis[0][d] = g[d];
    for (uint32_t i = 1; i < K; i++) L->basis[i][i] = L->n;
    lll_reduce(L->basis, K);
    double A[HLAT_KMAX][HLAT_KMAX];
    for (uint32_t i = 0; i < K; i++)
        for (uint32_t d = 0; d < K; d++) A[i][d] = (double)L->basis[i][d];
    /* J = c A, so c = J A^-1 */
    invert(A, L->inv, K);
    long double mu[HLAT_KMAX][HLAT_KMAX], star[HLAT_KMAX][HLAT_KMAX], norm2[HLAT_KMAX];
    gram_schmidt(L->basis, K, mu, star, norm2);
    double r2 = 0;
    for (uint32_t i = 0; i < K; i++) {
        L->gs_norm2[i] = (double)norm2[i];
        r2 += L->gs_norm2[i];
        for (uint32_t j = 0; j < K; j++) {
            L->gs_mu[i][j] = (double)mu[i][j];
            L->gs_star[i][j] = (double)star[i][j];
        }
    }
    L->babai_radius = 0.5 * sqrt(r2);
}

void hlat_lattice_babai(const hlat_lattice *L, const double *target, int64_t *point) {
    uint32_t K = L->K;
    double r[HLAT_KMAX];
    int64_t c[HLAT_KMAX];
    for (uint32_t d = 0; d < K; d++) r[d] = target[d];
    /* peel off the last Gram-Schmidt direction first */
    for (int i = (int)K - 1; i >= 0; i--) {
        double s = 0;
        for (uint32_t d = 0; d < K; d++) s += r[d] * L->gs_star[i][d];
        c[i] = (int64_t)floor(s / L->gs_norm2[i] + 0.5);
        for (uint32_t d = 0; d < K; d++) r[d] -= (double)c[i] * (double)L->basis[i][d];
    }
    for (uint32_t d = 0; d < K; d++) {
        int64_t v = 0;
        for (uint32_t i = 0; i < K; i++) v += c[i] * L->basis[i][d];
        point[d] = v;
    }
}

void hlat_generator_search(uint32_t K, uint32_t m, uint32_t tries, uint32_t *g) {
    uint64_t state = 0x9E3779B97F4A7C15ull ^ ((uint64_t)K << 40) ^ ((uint64_t)m << 32);
    uint64_t mask = (m >= 32) ? 0xFFFFFFFFull : ((1ull << m) - 1);
    long double best = -1;
    for (uint32_t i = 0; i < K; i++) g[i] = 1; /* K = 1 or m tiny: the only choice */
    if (K == 1) return;
    if (tries == 0) tries = 1;
    for (uint32_t tr = 0; tr < tries; tr++) {
        uint32_t cand[HLAT_KMAX];
        cand[0] = 1;
        for (uint32_t i = 1; i < K; i++) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            cand[i] = (uint32_t)((state & mask) | 1u);
        }
        hlat_lattice L;
        hlat_lattice_init(&L, K, m, cand);
        long double l2 = -1; /* the shortest of the LLL-reduced rows */
        for (uint32_t i = 0; i < K; i++) {
            long double r2 = dot_ll(L.basis[i], L.basis[i], K);
            if (l2 < 0 || r2 < l2) l2 = r2;
        }
        if (l2 > best) {
            best = l2;
            memcpy(g, cand, K * sizeof *g);
        }
    }
}
