/* test_paper_simd.c — the paper codec's fused decode-and-multiply kernels
 * (src/codec/paper_simd.c, paper_linear.c): every level this CPU runs, and
 * the plain-C linear product, give the row sums of decode-then-multiply and
 * of the plain-C reference, on odd and even shapes, index widths from 1 to
 * 22 bits, row ranges anywhere in the tensor, and damaged payloads; the
 * correction list holds exactly the pairs it should; and the dispatch picks
 * a level the CPU has. */
#include "test.h"
#include "../src/codec/paper.h"
#include <float.h>
#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static const hc_paper_simd all_levels[] = {HC_PAPER_SIMD_REF, HC_PAPER_SIMD_AVX2, HC_PAPER_SIMD_AVX512};
#define N_LEVELS (sizeof all_levels / sizeof all_levels[0])

/* Student-t (3 d.o.f.) weights around `mean`: a dense core and far outliers,
 * so small L puts pairs in every band. */
static float *gen_heavy(uint64_t n, double scale, double mean, uint64_t seed) {
    hc_rng r = {seed};
    float *w = malloc(n ? n * sizeof *w : 1);
    for (uint64_t i = 0; i < n; i++) {
        double c = 0;
        for (int k = 0; k < 3; k++) {
            double g = hc_rng_normal(&r);
            c += g * g;
        }
        w[i] = (float)(mean + scale * hc_rng_normal(&r) / sqrt(c / 3));
    }
    return w;
}

static float *gen_x(uint64_t n, uint64_t seed) {
    hc_rng r = {seed};
    float *x = malloc(n ? n * sizeof *x : 1);
    for (uint64_t i = 0; i < n; i++) x[i] = (float)(hc_rng_normal(&r) * (0.5 + hc_rng_uniform(&r)));
    return x;
}

/* Rebuilds d's correction list under a memory limit of max_bits per
 * weight (open() uses HC_PAPER_LINEAR_MAX_BITS, which small tensors miss
 * for their corr table); returns has_linear. */
static int relist(hc_decoder *d, double max_bits) {
    hc_paper_decoder *pd = (hc_paper_decoder *)d;
    hc_error err = {0};
    hc_paper_linear_free(&pd->lin);
    if (hc_paper_linear_build(pd, max_bits, &err) != HC_OK) return -1;
    return pd->has_linear;
}

/* The row ranges tried on a tensor of `rows` rows: all, from 1, the middle,
 * one row at the end, and one reaching past the end (those rows give 0). */
static int row_ranges(uint64_t rows, uint64_t out[5][2]) {
    int k = 0;
    out[k][0] = 0, out[k++][1] = rows;
    if (rows > 1) out[k][0] = 1, out[k++][1] = rows;
    if (rows > 4) out[k][0] = rows / 3, out[k++][1] = rows - rows / 4;
    out[k][0] = rows - 1, out[k++][1] = rows;
    out[k][0] = rows > 2 ? rows - 2 : 0, out[k++][1] = rows + 3;
    return k;
}

/* Row sums of every level against decode-then-multiply (double) and against
 * hc_paper_matvec_ref: |y - ref| <= 1e-5 * sum_c |W[r,c] x[c]| per row, plus
 * a few float roundings of the codebook's scale S = |c| + (C+2) L per |x|
 * (the arithmetic and linear kernels rebuild a weight from pieces of that
 * size, so a row of near-zero weights meets only this term). Returns 0 and
 * fills msg on the first mismatch. */
static int check_levels(hc_decoder *d, const float *full, uint64_t rows, uint64_t cols, const float *x, char *msg,
                        size_t msgsz) {
    uint64_t ranges[5][2];
    int nr = row_ranges(rows, ranges);
    float *y_ref = malloc((rows + 3) * sizeof *y_ref), *y = malloc((rows + 3) * sizeof *y);
    const hc_paper_params *pp = &((const hc_paper_decoder *)d)->p;
    const double scale = fabs(pp->cx) + fabs(pp->cy) + (pp->bands + 2.0) * pp->L;
    double sum_x = 0;
    for (uint64_t c = 0; c < cols; c++) sum_x += fabs(x[c]);
    int ok = 1;
    for (int ri = 0; ri < nr && ok; ri++) {
        const uint64_t r0 = ranges[ri][0], r1 = ranges[ri][1];
        hc_paper_matvec_ref(d, cols, r0, r1, x, y_ref);
        for (size_t li = 0; li <= N_LEVELS && ok; li++) { /* the levels, then the plain-C linear product */
            hc_paper_matvec_fn fn = li < N_LEVELS ? hc_paper_matvec_for(all_levels[li]) : hc_paper_matvec_linear_ref;
            if (!fn) continue;
            fn(d, cols, r0, r1, x, y);
            for (uint64_t r = r0; r < r1 && ok; r++) {
                double exact = 0, mag = 0;
                if (r < rows)
                    for (uint64_t c = 0; c < cols; c++) {
                        double p = (double)full[r * cols + c] * x[c];
                        exact += p;
                        mag += fabs(p);
                    }
                const double tol = 1e-5 * mag + 4 * FLT_EPSILON * scale * sum_x + 1e-30;
                const double got = y[r - r0];
                if (!(fabs(got - exact) <= tol) || !(fabs(got - y_ref[r - r0]) <= tol)) {
                    snprintf(msg, msgsz, "%s %llux%llu rows [%llu,%llu) row %llu: %.9g, decode+dot %.9g, ref %.9g",
                             li < N_LEVELS ? hc_paper_simd_name(all_levels[li]) : "linear-ref",
                             (unsigned long long)rows, (unsigned long long)cols,
                             (unsigned long long)r0, (unsigned long long)r1, (unsigned long long)r, got, exact,
                             (double)y_ref[r - r0]);
                    ok = 0;
                }
            }
        }
    }
    free(y_ref);
    free(y);
    return ok;
}

/* ---- dispatch ------------------------------------------------------------- */

TEST(paper_simd_dispatch) {
    CHECK(hc_paper_simd_supported(HC_PAPER_SIMD_REF));
    CHECK(hc_paper_matvec_for(HC_PAPER_SIMD_REF) == hc_paper_matvec_ref);
    for (size_t li = 0; li < N_LEVELS; li++) {
        int has = hc_paper_simd_supported(all_levels[li]);
        CHECKF((hc_paper_matvec_for(all_levels[li]) != NULL) == has, "level %s", hc_paper_simd_name(all_levels[li]));
    }
    hc_paper_simd sel = hc_paper_simd_selected();
    CHECK(hc_paper_simd_supported(sel));
    CHECK(hc_paper_simd_selected() == sel); /* decided once */
    hc_paper_simd best = HC_PAPER_SIMD_REF;
    for (size_t li = 0; li < N_LEVELS; li++)
        if (hc_paper_simd_supported(all_levels[li])) best = all_levels[li];
    /* HYPERC_SIMD only lowers the level */
    const char *force = getenv("HYPERC_SIMD");
    hc_paper_simd expect = best;
    if (force && strcmp(force, "ref") == 0) expect = HC_PAPER_SIMD_REF;
    if (force && strcmp(force, "avx2") == 0 && best > HC_PAPER_SIMD_AVX2) expect = HC_PAPER_SIMD_AVX2;
    CHECKF(sel == expect, "selected %s, expected %s", hc_paper_simd_name(sel), hc_paper_simd_name(expect));

    /* a paper decoder uses the selected level */
    float w[64];
    for (int i = 0; i < 64; i++) w[i] = (float)(0.01 * ((i * 37) % 23) - 0.1);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_paper_encode_fixed(w, 64, 0.3, 64, 1, &e, &err), &err);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, 64, HC_F32, &d, &err), &err);
    CHECK(d->matvec == hc_paper_matvec_select());
    hc_decoder_free(d);
    hc_encoded_free(&e);
    if (!hc_paper_simd_supported(HC_PAPER_SIMD_AVX512)) hc_test_skip("no AVX-512 on this CPU");
}

/* ---- agreement on odd shapes and index widths ----------------------------- */

typedef struct simd_case {
    uint32_t n, C;   /* codebook size, bands asked for          */
    double L, scale; /* square side, spread of the weights      */
    uint32_t u;      /* the index width this gives (checked)    */
    int lin;         /* linear path expected (1) or not (0) with no
                        memory limit                               */
} simd_case;

TEST(paper_simd_matches_reference) {
    /* u from 1 to 22; L well above the spread gives C = 0, small L all bands;
     * C = 20 and C = 10 exceed what one register of band factors holds */
    const simd_case cases[] = {
        {1, 1, 1e3, 0.05, 1, 1},          {7, 1, 1e3, 0.05, 3, 1},       {49, 1, 1e3, 0.05, 6, 1},
        {1600, 3, 0.1, 0.03, 13, 1},      {6400, 4, 0.1, 0.03, 15, 1},   {2000, 20, 0.05, 0.03, 16, 1},
        {380000, 10, 0.02, 0.03, 22, 0},
        /* n + 1 = 41 and m = 41: divisors whose float reciprocal rounds low */
        {40, 3, 0.1, 0.03, 8, 1},         {1681, 2, 0.1, 0.03, 13, 1},
        /* few outer pairs (C = 20: beyond the arithmetic path) */
        {1600, 3, 0.1, 0.008, 13, 1},     {6400, 4, 0.1, 0.008, 15, 1},  {2000, 20, 0.05, 0.004, 16, 1},
        {40, 3, 0.1, 0.008, 8, 1},        {1681, 2, 0.1, 0.008, 13, 1},
    };
    /* odd cols (general kernels) and even cols (linear path; 8194: two tiles) */
    const uint64_t shapes[][2] = {{1, 1},   {1, 3},   {7, 13},    {33, 65},  {100, 257}, {64, 4096},
                                  {3, 4097}, {2, 8193}, {5, 2},   {9, 34},   {17, 1000}, {2, 8194}};
    char msg[512];
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const simd_case *k = &cases[ci];
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const uint64_t rows = shapes[si][0], cols = shapes[si][1], N = rows * cols;
            if (k->u == 22 && si != 2 && si != 4 && si != 6 && si != 10) continue; /* 32 MB tables: a few shapes */
            float *w = gen_heavy(N, k->scale, 0.002 * (double)ci, 100 * ci + si);
            float *x = gen_x(cols, 7 + si);
            hc_encoded e;
            hc_error err = {0};
            CHECK_OK(hc_paper_encode_fixed(w, N, k->L, k->n, k->C, &e, &err), &err);
            hc_decoder *d;
            CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err),
                     &err);
            const hc_paper_decoder *pd = (const hc_paper_decoder *)d;
            relist(d, 1e9); /* these tensors are too small for open()'s limit */
            /* the tiny shapes have too few pairs to reach the outer bands */
            if (N >= 1000)
                CHECKF(pd->u == k->u && pd->has_linear == k->lin,
                       "n=%u C=%u %llux%llu: u=%u, expected %u (bands %u); linear %d, expected %d", k->n, k->C,
                       (unsigned long long)rows, (unsigned long long)cols, pd->u, k->u, pd->p.bands, pd->has_linear,
                       k->lin);
            float *full = malloc(N * sizeof *full);
            hc_decode_all(d, full);
            int ok = check_levels(d, full, rows, cols, x, msg, sizeof msg);
            free(full);
            hc_decoder_free(d);
            hc_encoded_free(&e);
            free(w);
            free(x);
            CHECKF(ok, "n=%u C=%u: %s", k->n, k->C, msg);
        }
    }
}

/* The same tensor read with many widths: every row start bit offset and
 * parity, and rows shorter than one vector group. */
TEST(paper_simd_every_row_alignment) {
    const uint64_t N = 24 * 1024;
    float *w = gen_heavy(N, 0.008, -0.01, 77); /* few outer pairs: even cols take the linear path */
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_paper_encode_fixed(w, N, 0.1, 1600, 3, &e, &err), &err);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err), &err);
    CHECK(!((const hc_paper_decoder *)d)->has_linear); /* 48 K weights: a 64 KB corr table is over the limit */
    CHECK(relist(d, 1e9) == 1);
    float *full = malloc(N * sizeof *full);
    hc_decode_all(d, full);
    char msg[512];
    int ok = 1;
    for (uint64_t cols = 1; cols <= 70 && ok; cols++) {
        float *x = gen_x(cols, cols);
        ok = check_levels(d, full, N / cols, cols, x, msg, sizeof msg);
        free(x);
    }
    free(full);
    hc_decoder_free(d);
    hc_encoded_free(&e);
    free(w);
    CHECKF(ok, "%s", msg);
}

/* ---- damaged payloads ------------------------------------------------------ */

/* Random bytes where indices should be: every level reads only the payload
 * (exact-size allocation, so ASan sees any over-read) and the table, and
 * agrees with the reference, NaN rows included. */
TEST(paper_simd_random_payload) {
    const uint64_t rows = 9, cols = 301, N = rows * cols;
    float *w = gen_heavy(N, 0.03, 0, 5);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_paper_encode_fixed(w, N, 0.1, 1600, 3, &e, &err), &err);
    free(w);
    hc_rng r = {99};
    float *x = gen_x(cols, 3), *y_ref = malloc(rows * sizeof(float)), *y = malloc(rows * sizeof(float));
    for (int trial = 0; trial < 4; trial++) {
        uint8_t *pay = malloc(e.payload_len);
        for (uint64_t i = 0; i < e.payload_len; i++) pay[i] = (uint8_t)hc_rng_next(&r);
        /* trial 0: only valid indices (all zero bits decode to P_0) */
        if (trial == 0) memset(pay, 0, e.payload_len);
        hc_decoder *d;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, pay, e.payload_len, N, HC_F32, &d, &err), &err);
        hc_paper_matvec_ref(d, cols, 0, rows, x, y_ref);
        for (size_t li = 0; li < N_LEVELS; li++) {
            hc_paper_matvec_fn fn = hc_paper_matvec_for(all_levels[li]);
            if (!fn) continue;
            fn(d, cols, 0, rows, x, y);
            for (uint64_t rr = 0; rr < rows; rr++) {
                int same = isnan(y[rr]) ? isnan(y_ref[rr]) : fabsf(y[rr] - y_ref[rr]) <= 1e-4f * (1 + fabsf(y_ref[rr]));
                CHECKF(same, "trial %d %s row %llu: %g vs ref %g", trial, hc_paper_simd_name(all_levels[li]),
                       (unsigned long long)rr, y[rr], y_ref[rr]);
            }
        }
        hc_decoder_free(d);
        free(pay);
    }
    free(x);
    free(y_ref);
    free(y);
    hc_encoded_free(&e);
}

/* ---- the linear path: correction list, damage, fallbacks ------------------ */

static void put_index(uint8_t *pay, uint64_t j, unsigned u, uint32_t v) {
    for (unsigned b = 0; b < u; b++) {
        const uint64_t bit = j * u + b;
        if ((v >> b) & 1)
            pay[bit >> 3] = (uint8_t)(pay[bit >> 3] | (1u << (bit & 7)));
        else
            pay[bit >> 3] = (uint8_t)(pay[bit >> 3] & ~(1u << (bit & 7)));
    }
}

static uint32_t get_index(const uint8_t *pay, uint64_t j, unsigned u) {
    uint32_t v = 0;
    for (unsigned b = 0; b < u; b++) {
        const uint64_t bit = j * u + b;
        v |= (uint32_t)((pay[bit >> 3] >> (bit & 7)) & 1) << b;
    }
    return v;
}

/* The list holds exactly the pairs whose index is P_0 or past band 0, in
 * order, across several 2^16-pair blocks; find() agrees with a scan; and
 * rows that straddle blocks, or are longer than one, multiply right. */
TEST(paper_linear_list_exact) {
    const uint64_t N = 2 * 400001; /* 7 blocks of pairs, the last partial; big enough for open()'s limit */
    float *w = gen_heavy(N, 0.008, 0.003, 11);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_paper_encode_fixed(w, N, 0.1, 1600, 3, &e, &err), &err);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err), &err);
    const hc_paper_decoder *pd = (const hc_paper_decoder *)d;
    CHECKF(pd->has_linear, "no linear path (u=%u C=%u)", pd->u, pd->p.bands);
    if (!pd->has_linear) goto out;
    const hc_paper_linear *l = &pd->lin;
    CHECK(l->nblocks == 7);
    uint64_t k = 0, listed = 0, centre = 0, outer = 0;
    int order_ok = 1;
    for (uint64_t j = 0; j < pd->npairs; j++) {
        const uint32_t v = get_index(e.payload, j, pd->u);
        if (v != 0 && v <= pd->p.n) continue;
        listed++;
        centre += v == 0;
        outer += v != 0;
        const uint64_t b = j >> HC_PAPER_FIX_BLOCK_BITS;
        if (k >= l->count || l->offset[k] != (j & 0xFFFF) || k < l->block_start[b] || k >= l->block_start[b + 1])
            order_ok = 0;
        k++;
    }
    CHECKF(order_ok && listed == l->count, "list: %llu entries, %llu expected", (unsigned long long)l->count,
           (unsigned long long)listed);
    CHECKF(outer > 0, "no outer pair: the test does not reach the bands");
    for (uint64_t j = 0; j <= pd->npairs; j += 997) { /* find() = the first entry whose pair >= j */
        const uint64_t f = hc_paper_linear_find(l, j);
        uint64_t expect = 0;
        for (uint64_t b = 0; b < l->nblocks; b++)
            for (uint64_t q = l->block_start[b]; q < l->block_start[b + 1]; q++)
                if ((b << 16) + l->offset[q] < j) expect = q + 1;
        CHECKF(f == expect, "find(%llu) = %llu, expected %llu", (unsigned long long)j, (unsigned long long)f,
               (unsigned long long)expect);
        if (f != expect) break;
    }
    float *full = malloc(N * sizeof *full);
    hc_decode_all(d, full);
    char msg[512];
    const uint64_t widths[] = {1000, 2 * 65536 + 2, 131072 + 2 * 50001};
    for (size_t wi = 0; wi < 3; wi++) {
        float *x = gen_x(widths[wi], 50 + wi);
        int ok = check_levels(d, full, N / widths[wi], widths[wi], x, msg, sizeof msg);
        CHECKF(ok, "%s", msg);
        free(x);
    }
    free(full);
    (void)centre;
out:
    hc_decoder_free(d);
    hc_encoded_free(&e);
    free(w);
}

/* P_0, every band and indices past the codebook written into a valid
 * payload: the list stays small, so the linear path runs, and rows holding
 * a damaged index give NaN at every level, the others the decoded sums. */
TEST(paper_linear_damaged_indices) {
    const uint64_t rows = 40, cols = 600, N = rows * cols;
    float *w = gen_heavy(N, 0.008, 0, 21);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_paper_encode_fixed(w, N, 0.1, 1600, 3, &e, &err), &err);
    free(w);
    hc_paper_params p;
    CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
    const uint32_t used = (p.n + 1) * (p.bands + 1);
    CHECKF(p.bands >= 2 && used < (1u << p.u), "C=%u u=%u: no room for damaged indices", p.bands, p.u);
    uint8_t *pay = malloc(e.payload_len);
    memcpy(pay, e.payload, e.payload_len);
    hc_rng r = {5};
    int damaged_row[40] = {0};
    for (int t = 0; t < 300; t++) { /* about 2.5% of the pairs */
        const uint64_t j = hc_rng_next(&r) % (N / 2);
        const uint32_t kind = (uint32_t)(hc_rng_next(&r) % 8);
        uint32_t v;
        if (kind < 3)
            v = 0; /* P_0 */
        else if (kind < 7)
            v = (uint32_t)(hc_rng_next(&r) % used); /* any band */
        else {
            v = used + (uint32_t)(hc_rng_next(&r) % ((1u << p.u) - used)); /* damaged */
            if (t % 3) continue; /* only a few rows */
        }
        put_index(pay, j, p.u, v);
    }
    int n_damaged = 0;
    for (uint64_t j = 0; j < N / 2; j++)
        if (get_index(pay, j, p.u) >= used) damaged_row[(2 * j) / cols] = 1;
    for (uint64_t rr = 0; rr < rows; rr++) n_damaged += damaged_row[rr];
    CHECKF(n_damaged > 0 && n_damaged < (int)rows, "%d damaged rows", n_damaged);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, pay, e.payload_len, N, HC_F32, &d, &err), &err);
    CHECK(relist(d, 1e9) == 1);
    float *full = malloc(N * sizeof *full), *x = gen_x(cols, 8), *y = malloc(rows * sizeof *y);
    hc_decode_all(d, full);
    for (size_t li = 0; li <= N_LEVELS; li++) {
        hc_paper_matvec_fn fn = li < N_LEVELS ? hc_paper_matvec_for(all_levels[li]) : hc_paper_matvec_linear_ref;
        if (!fn) continue;
        const char *name = li < N_LEVELS ? hc_paper_simd_name(all_levels[li]) : "linear-ref";
        fn(d, cols, 0, rows, x, y);
        for (uint64_t rr = 0; rr < rows; rr++) {
            double exact = 0, mag = 0;
            for (uint64_t c = 0; c < cols; c++) {
                exact += (double)full[rr * cols + c] * x[c];
                mag += fabs((double)full[rr * cols + c] * x[c]);
            }
            const int same = damaged_row[rr] ? isnan(y[rr]) && isnan(exact) : fabs(y[rr] - exact) <= 1e-5 * mag;
            CHECKF(same, "%s row %llu (damaged %d): %g, decode+dot %g", name, (unsigned long long)rr,
                   damaged_row[rr], y[rr], exact);
        }
    }
    free(full);
    free(x);
    free(y);
    hc_decoder_free(d);
    free(pay);
    hc_encoded_free(&e);
}

/* No list when list and corr table would pass the memory limit (most
 * pairs outside S, or a small tensor) or u > 16; the general kernels still
 * give the right sums. */
TEST(paper_linear_fallbacks) {
    const struct { double L, scale; uint32_t n, C; } cases[] = {{0.01, 0.03, 1600, 3}, {0.02, 0.03, 380000, 10}};
    const uint64_t rows = 6, cols = 1002, N = rows * cols;
    char msg[512];
    for (int ci = 0; ci < 2; ci++) {
        float *w = gen_heavy(N, cases[ci].scale, 0, 31 + ci), *x = gen_x(cols, 4);
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_paper_encode_fixed(w, N, cases[ci].L, cases[ci].n, cases[ci].C, &e, &err), &err);
        hc_decoder *d;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err),
                 &err);
        const hc_paper_decoder *pd = (const hc_paper_decoder *)d;
        CHECKF(!pd->has_linear, "case %d: linear path kept at open (u=%u)", ci, pd->u);
        if (ci == 0) {
            /* room for the corr table and 100 entries, not the ~60% outer pairs */
            const double bits = (8.0 * (1u << pd->u) + 4.0 * (pd->lin.nblocks + 2) + 200) * 8 / N;
            CHECK(relist(d, bits) == 0);
            CHECK(relist(d, 1e9) == 1); /* without a limit it would be built */
            CHECK(relist(d, bits) == 0);
        } else {
            CHECK(relist(d, 1e9) == 0); /* u = 22 */
        }
        float *full = malloc(N * sizeof *full);
        hc_decode_all(d, full);
        CHECKF(check_levels(d, full, rows, cols, x, msg, sizeof msg), "case %d: %s", ci, msg);
        free(full);
        hc_decoder_free(d);
        hc_encoded_free(&e);
        free(w);
        free(x);
    }
}
