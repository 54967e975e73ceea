/* test_paper.c — the paper codec: bit packing, the trajectory codebook and
 * its exact nearest-point search, distance bands, the choice of C and n, the
 * worst-case error bound (synthetic and real tensors), fallbacks, hostile
 * parameters, random-access decoding and the row-range product. */
#include "test.h"
#include "../src/codec/bitpack.h"
#include "../src/codec/paper.h"
#include "../src/common/util.h"
#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static float *gen_tensor(uint64_t n, double scale, int heavy, double mean, uint64_t seed) {
    hc_rng r = {seed};
    float *w = malloc(n ? n * sizeof *w : 1);
    for (uint64_t i = 0; i < n; i++) {
        double z = hc_rng_normal(&r);
        if (heavy) { /* Student-t with 3 degrees of freedom: heavy tails */
            double c = 0;
            for (int k = 0; k < 3; k++) {
                double g = hc_rng_normal(&r);
                c += g * g;
            }
            z /= sqrt(c / 3);
        }
        w[i] = (float)(mean + scale * z);
    }
    return w;
}

static int ceil_sqrt(uint32_t n) {
    int m = 0;
    while ((uint64_t)m * m < n) m++;
    return m;
}

/* Decodes everything; NULL on failure (message in err). */
static float *decode_all(const hc_encoded *e, uint64_t n, hc_error *err) {
    hc_decoder *d;
    if (hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, &d, err))
        return NULL;
    float *out = malloc(n ? n * sizeof *out : 1);
    hc_decode_all(d, out);
    hc_decoder_free(d);
    return out;
}

/* Every decoded weight within the derived bound of its pair's band; also the
 * encoder's reported statistics against an independent recomputation.
 * Returns 0 and writes why into msg on failure. */
static int check_bound(const float *w, uint64_t n, const hc_encoded *e, char *msg, size_t msgsz) {
    hc_error err = {0};
    hc_paper_params p;
    if (hc_paper_params_read(e->params, e->params_len, n, &p, &err)) {
        snprintf(msg, msgsz, "params: %.400s", err.msg);
        return 0;
    }
    float *dec = decode_all(e, n, &err);
    if (!dec) {
        snprintf(msg, msgsz, "open: %.400s", err.msg);
        return 0;
    }
    hc_paper_bands b;
    hc_paper_bands_init(&b, p.L, p.d_max, p.bands);
    const double e0 = hc_paper_bound0(p.n, p.L);
    const double slack = 1e-12 * (fabs(p.cx) + fabs(p.cy) + p.L + p.d_max);
    double sae = 0, sse = 0, mx = 0;
    int ok = 1;
    for (uint64_t i = 0; i < n && ok; i++) {
        uint32_t v = hc_bitpack_get(e->payload, e->payload_len, i / 2, p.u);
        uint32_t k = v / (p.n + 1);
        double diff = fabs((double)w[i] - (double)dec[i]);
        double bound = e0 * b.grow[k] + slack + 0x1p-23 * fabs((double)dec[i]);
        if (k > p.bands || !(diff <= bound)) {
            snprintf(msg, msgsz, "weight %llu: |%.9g - %.9g| = %.3g > bound %.3g (band %u of %u, n %u, L %g)",
                     (unsigned long long)i, w[i], dec[i], diff, bound, k, p.bands, p.n, p.L);
            ok = 0;
        }
        sae += diff;
        sse += diff * diff;
        if (diff > mx) mx = diff;
    }
    if (ok && n && (fabs(sae / n - e->mae) > 1e-9 * (1 + e->mae) || fabs(sse / n - e->mse) > 1e-9 * (1 + e->mse) ||
                    mx != e->max_abs_err)) {
        snprintf(msg, msgsz, "reported mae/mse/max %g/%g/%g, measured %g/%g/%g", e->mae, e->mse, e->max_abs_err,
                 sae / n, sse / n, mx);
        ok = 0;
    }
    free(dec);
    return ok;
}

/* ---- bit packing ---------------------------------------------------------- */

TEST(paper_bitpack_roundtrip_all_widths) {
    hc_rng r = {7};
    const uint64_t counts[] = {0, 1, 2, 7, 8, 9, 63, 64, 65, 1000};
    uint32_t codes[1000], back[1000];
    uint8_t buf[4096], ref[4096];
    for (unsigned u = 1; u <= 32; u++) {
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            uint64_t cnt = counts[ci];
            uint64_t mask = (u == 32) ? 0xFFFFFFFFull : (1ull << u) - 1;
            for (uint64_t j = 0; j < cnt; j++) codes[j] = (uint32_t)(hc_rng_next(&r) & mask);
            if (cnt > 2) codes[1] = (uint32_t)mask, codes[2] = 0;
            int ok;
            uint64_t len = hc_bitpack_bytes(cnt, u, &ok);
            CHECK(ok && len == (cnt * u + 7) / 8);
            memset(buf, 0xAB, sizeof buf);
            hc_bitpack_pack(codes, cnt, u, buf);
            CHECKF(buf[len] == 0xAB, "u=%u count=%llu wrote past the end", u, (unsigned long long)cnt);
            /* independent oracle: bit b of the stream is bit b%8 of byte b/8 */
            memset(ref, 0, sizeof ref);
            for (uint64_t j = 0; j < cnt; j++)
                for (unsigned bit = 0; bit < u; bit++)
                    if ((codes[j] >> bit) & 1) {
                        uint64_t b = j * u + bit;
                        ref[b / 8] |= (uint8_t)(1u << (b % 8));
                    }
            CHECKF(memcmp(buf, ref, (size_t)len) == 0, "u=%u count=%llu layout differs", u, (unsigned long long)cnt);
            for (uint64_t j = 0; j < cnt; j++)
                CHECKF(hc_bitpack_get(buf, len, j, u) == codes[j], "u=%u get(%llu)", u, (unsigned long long)j);
            uint64_t first = cnt / 3, num = cnt - first;
            memset(back, 0, sizeof back);
            hc_bitpack_unpack(buf, len, u, first, num, back);
            for (uint64_t j = 0; j < num; j++)
                CHECKF(back[j] == codes[first + j], "u=%u unpack(%llu)", u, (unsigned long long)(first + j));
            uint64_t fast = hc_bitpack_fast_limit(len, u);
            for (uint64_t j = 0; j < cnt && j < fast; j++) {
                CHECK((j * u) / 8 + 8 <= len);
                CHECK(hc_bitpack_get_fast(buf, j * u, (uint32_t)mask) == codes[j]);
            }
        }
    }
    CHECK(hc_bit_length(0) == 1 && hc_bit_length(1) == 1 && hc_bit_length(2) == 2);
    CHECK(hc_bit_length(6403) == 13 && hc_bit_length(8191) == 13 && hc_bit_length(8192) == 14);
    int ok;
    hc_bitpack_bytes(UINT64_MAX / 4, 32, &ok);
    CHECK(!ok);
}

/* ---- codebook ---------------------------------------------------------------- */

TEST(paper_codebook_formula) {
    const uint32_t ns[] = {1, 2, 3, 4, 5, 10, 225, 900, 1000, 1600};
    const double cxs[] = {0.0, -0.37, 12.5}, Ls[] = {0.1, 0.8, 3.0};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (int b = 0; b < 3; b++) {
            uint32_t n = ns[a];
            double cx = cxs[b], cy = 0.25 - cxs[b], L = Ls[b];
            hc_paper_codebook cb;
            hc_paper_codebook_init(&cb, cx, cy, L, n);
            int m = ceil_sqrt(n);
            CHECKF((int)cb.m == m, "n=%u m=%u expected %d", n, cb.m, m);
            double x, y;
            hc_paper_point(&cb, 0, &x, &y);
            CHECK(x == cx && y == cy);
            for (uint32_t i = 1; i <= n; i++) {
                /* the formula: c - (L/2, L/2) + ((i-1) v mod L), v = (L/m^2, L/m) */
                double ex = cx - L / 2 + fmod((double)(i - 1) * (L / ((double)m * m)), L);
                double ey = cy - L / 2 + fmod((double)(i - 1) * (L / m), L);
                hc_paper_point(&cb, i, &x, &y);
                double tol = 1e-12 * (L + fabs(cx) + fabs(cy));
                /* compare modulo L: the formula's own rounding may land on either side of a wrap */
                double ddx = fmod(fabs(x - ex), L), ddy = fmod(fabs(y - ey), L);
                ddx = ddx < L - ddx ? ddx : L - ddx;
                ddy = ddy < L - ddy ? ddy : L - ddy;
                CHECKF(ddx <= tol && ddy <= tol, "n=%u P_%u = (%.17g, %.17g), formula (%.17g, %.17g)",
                       n, i, x, y, ex, ey);
                /* inside the square S */
                CHECK(x >= cx - L / 2 - tol && x < cx + L / 2 && y >= cy - L / 2 - tol && y < cy + L / 2);
            }
        }
}

/* Queries that stress the search: uniform in and around S, the disk, exact
 * grid points, midpoints between neighbours (ties), edges, corners, far. */
static void make_query(hc_rng *r, const hc_paper_codebook *cb, double L, double *qx, double *qy) {
    const double x0 = cb->x0, y0 = cb->y0;
    double a = hc_rng_uniform(r), b = hc_rng_uniform(r);
    uint32_t kind = (uint32_t)(hc_rng_next(r) % 8);
    uint32_t i = (uint32_t)(hc_rng_next(r) % (cb->n + 1)), i2 = (uint32_t)(hc_rng_next(r) % (cb->n + 1));
    double px, py, px2, py2;
    hc_paper_point(cb, i, &px, &py);
    hc_paper_point(cb, i2 == i ? (i + 1) % (cb->n + 1) : i2, &px2, &py2);
    switch (kind) {
    case 0: *qx = x0 + L * a, *qy = y0 + L * b; break;                          /* in S */
    case 1: *qx = x0 + L * (1.4 * a - 0.2), *qy = y0 + L * (1.4 * b - 0.2); break; /* around S */
    case 2: *qx = px, *qy = py; break;                                          /* on a point */
    case 3: { /* midpoint of a neighbour in the same row or the next row: ties */
        uint32_t t = i ? i - 1 : 0, r0 = t % cb->m;
        uint32_t t2 = (hc_rng_next(r) & 1) ? t + cb->m : (r0 + 1 < cb->m ? t + 1 : t);
        if (t2 >= cb->n) t2 = t;
        hc_paper_point(cb, t2 + 1, &px2, &py2);
        hc_paper_point(cb, t + 1, &px, &py);
        *qx = 0.5 * (px + px2), *qy = 0.5 * (py + py2);
        break;
    }
    case 4: *qx = 0.5 * (px + px2), *qy = 0.5 * (py + py2); break; /* between any two */
    case 5: { /* on an edge or a corner of S */
        double e[4] = {x0, x0 + L, y0, y0 + L};
        *qx = (a < 0.5) ? e[hc_rng_next(r) & 1] : x0 + L * b;
        *qy = (a < 0.5 || b < 0.3) ? e[2 + (hc_rng_next(r) & 1)] : y0 + L * a;
        break;
    }
    case 6: { /* in the disk of radius L/2, as shrunk outliers are */
        double ang = 6.283185307179586 * a, rad = 0.5 * L * sqrt(b);
        *qx = cb->cx + rad * cos(ang), *qy = cb->cy + rad * sin(ang);
        break;
    }
    default: *qx = cb->cx + 5 * L * (a - 0.5), *qy = cb->cy + 5 * L * (b - 0.5); break; /* far */
    }
}

TEST(paper_search_matches_brute_force) {
    struct { uint32_t n, queries; } cases[] = {{1600, 200000}, {225, 300000}, {900, 150000}, {1000, 150000},
                                               {1, 240000},    {2, 240000},   {3, 240000},   {4, 240000},
                                               {5, 240000},    {10, 60000}};
    hc_rng r = {99};
    uint64_t total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t n = cases[c].n;
        for (int geo = 0; geo < 5; geo++) {
            /* typical, wide, small, tiny against a large centre, degenerate (brute-force fallback) */
            const double Ls[5] = {0.1, 1.0, 3e-5, 1e-6, 1e-14}, cxs[5] = {0, -0.01, 0.731, 1000, 0.5};
            const double cys[5] = {0.004, 0.004, -2.5, -1000, 0.5};
            double L = Ls[geo], cx = cxs[geo], cy = cys[geo];
            hc_paper_codebook cb;
            hc_paper_codebook_init(&cb, cx, cy, L, n);
            CHECK(cb.degenerate == (geo == 4));
            uint32_t nq = geo == 4 ? 1000 : cases[c].queries / 4;
            for (uint32_t q = 0; q < nq; q++) {
                double qx, qy;
                make_query(&r, &cb, L, &qx, &qy);
                uint32_t fast = hc_paper_nearest(&cb, qx, qy), slow = hc_paper_nearest_brute(&cb, qx, qy);
                CHECKF(fast == slow, "n=%u L=%g query (%.17g, %.17g): fast %u, brute force %u", n, L, qx, qy, fast,
                       slow);
                total++;
            }
        }
    }
    CHECK(total > 1950000);
}

TEST(paper_bound_valid_and_tight) {
    const uint32_t ns[] = {1, 2, 3, 5, 10, 225, 900, 1000, 1600};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        uint32_t n = ns[a];
        const double L = 0.8, cx = 0.1, cy = -0.2;
        hc_paper_codebook cb;
        hc_paper_codebook_init(&cb, cx, cy, L, n);
        double bound = hc_paper_bound0(n, L), worst = 0;
        /* a dense sampling of S, boundary included */
        const int G = 160;
        for (int i = 0; i <= G; i++)
            for (int j = 0; j <= G; j++) {
                double qx = cb.x0 + L * i / G, qy = cb.y0 + L * j / G, px, py;
                hc_paper_point(&cb, hc_paper_nearest(&cb, qx, qy), &px, &py);
                double d = hypot(qx - px, qy - py);
                if (d > worst) worst = d;
            }
        CHECKF(worst <= bound * (1 + 1e-12), "n=%u: sampled error %g above the bound %g", n, worst, bound);
        int m = ceil_sqrt(n);
        if ((uint32_t)(m * m) == n && m >= 2) {
            /* full grid: the bound h sqrt(1 + (1-1/m)^2) is met at the top-left corner */
            double h = L / m, expect = h * sqrt(1 + (1 - 1.0 / m) * (1 - 1.0 / m)), px, py;
            CHECKF(fabs(bound - expect) <= 1e-12 * L, "n=%u bound %.17g, formula %.17g", n, bound, expect);
            double qx = cb.x0, qy = cb.y0 + L;
            hc_paper_point(&cb, hc_paper_nearest_brute(&cb, qx, qy), &px, &py);
            CHECKF(fabs(hypot(qx - px, qy - py) - bound) <= 1e-12 * L, "n=%u corner distance %.17g, bound %.17g", n,
                   hypot(qx - px, qy - py), bound);
        }
    }
    /* paper default: n = 1600, L = 0.1 gives 0.1/40 * sqrt(1 + 0.975^2) */
    CHECK(fabs(hc_paper_bound0(1600, 0.1) - 0.0025 * sqrt(1 + 0.975 * 0.975)) < 1e-15);
}

/* ---- bands and the choice of C and n --------------------------------------- */

TEST(paper_band_rule) {
    hc_paper_bands b;
    hc_paper_bands_init(&b, 1.0, 4.0, 3); /* r = 0.5, 1.6667, 2.8333, 4 */
    CHECK(b.r[0] == 0.5 && b.r[3] == 4.0);
    CHECK(fabs(b.r[1] - (0.5 + 3.5 / 3)) < 1e-15 && fabs(b.r[2] - (0.5 + 7.0 / 3)) < 1e-15);
    CHECK(hc_paper_band_of(&b, 0, 0) == 0);
    CHECK(hc_paper_band_of(&b, 0.49, -0.49) == 0); /* inside S, beyond L/2: still band 0 */
    CHECK(hc_paper_band_of(&b, 0.5, 0.5) == 0);    /* corner of S */
    CHECK(hc_paper_band_of(&b, 0.51, 0) == 1);
    CHECK(hc_paper_band_of(&b, 0, -1.6) == 1);
    CHECK(hc_paper_band_of(&b, 1.2, 1.2) == 2); /* |p| = 1.697 */
    CHECK(hc_paper_band_of(&b, -2.8, 0) == 2);
    CHECK(hc_paper_band_of(&b, 2.9, 0) == 3);
    CHECK(hc_paper_band_of(&b, 0, 4.0) == 3);
    for (uint32_t k = 1; k <= 3; k++) CHECK(fabs(b.shrink[k] * b.r[k] - 0.5) < 1e-15);

    /* every pair inside S: C = 0 and u = bit_length(n) */
    hc_rng r = {3};
    const uint64_t N = 5000;
    float *w = malloc(N * sizeof *w);
    for (uint64_t i = 0; i < N; i++) w[i] = (float)(0.3 + 0.01 * (hc_rng_uniform(&r) - 0.5));
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.rect_l = 0.05;
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    hc_paper_params p;
    CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
    CHECK(e.codec == HC_CODEC_PAPER && p.bands == 0 && p.u == 11 && p.n == 1600);
    char msg[512];
    CHECKF(check_bound(w, N, &e, msg, sizeof msg), "%s", msg);
    hc_encoded_free(&e);
    /* a constant tensor is exact: every pair is P_0 = c */
    for (uint64_t i = 0; i < N; i++) w[i] = -1.2345f;
    o.rect_l = 0;
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
    CHECK(e.codec == HC_CODEC_PAPER && p.bands == 0 && p.d_max == 0 && e.max_abs_err == 0);
    float *dec = decode_all(&e, N, &err);
    CHECK(dec != NULL);
    int same = 1;
    for (uint64_t i = 0; i < N; i++) same &= dec[i] == -1.2345f;
    free(dec);
    hc_encoded_free(&e);
    free(w);
    CHECK(same);
}

/* The spec's rule applied to given per-C errors: C tried from 1 upward, the
 * lowest MAE kept (first on ties), stop once the best is <= target. */
static uint32_t expected_c(const double *mae, uint32_t cmax, double target, double *best_out) {
    double best = INFINITY;
    uint32_t bc = 0;
    for (uint32_t c = 1; c <= cmax; c++) {
        if (mae[c] < best) best = mae[c], bc = c;
        if (best <= target) break;
    }
    *best_out = best;
    return bc;
}

TEST(paper_choice_of_c_and_n) {
    const uint64_t N = 20001;
    float *w = gen_tensor(N, 0.03, 1, 0.001, 11);
    const uint32_t sizes[3] = {225, 900, 1600};
    double mae[3][5];
    hc_error err = {0};
    for (int s = 0; s < 3; s++)
        for (uint32_t c = 1; c <= 4; c++) {
            hc_encoded e;
            CHECK_OK(hc_paper_encode_fixed(w, N, 0.1, sizes[s], c, &e, &err), &err);
            hc_paper_params p;
            CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
            CHECK(p.bands == c && p.n == sizes[s] && p.L == 0.1);
            mae[s][c] = e.mae;
            hc_encoded_free(&e);
        }
    CHECK(mae[2][3] < mae[2][1]); /* more bands help on heavy tails */
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.rect_l = 0.1;
    o.bands_max = 4;
    /* targets: none, each MAE exactly, and everything */
    double targets[7] = {0, mae[2][1], mae[2][2], mae[2][3], mae[2][4], 0.5 * (mae[2][2] + mae[2][3]), 1.0};
    for (int t = 0; t < 7; t++) {
        o.loss_target = targets[t];
        double best;
        uint32_t want = expected_c(mae[2], 4, targets[t], &best);
        hc_encoded e;
        CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
        hc_paper_params p;
        CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
        CHECKF(p.bands == want && e.mae == best, "target %g: chose C=%u (mae %g), expected C=%u (mae %g)", targets[t],
               p.bands, e.mae, want, best);
        hc_encoded_free(&e);
    }
    CHECKF(expected_c(mae[2], 4, 1.0, &targets[0]) == 1, "a loose target stops at C = 1");
    /* codebook sizes: move on while the best MAE exceeds loss_max (never past the last) */
    o.loss_target = 0;
    o.bands_max = 3;
    o.n_points = 3;
    memcpy(o.points, sizes, sizeof sizes);
    double best_n[3];
    for (int s = 0; s < 3; s++) expected_c(mae[s], 3, 0, &best_n[s]);
    double lmax[4] = {0, best_n[0], 0.5 * (best_n[0] + best_n[1]), 1.0};
    for (int t = 0; t < 4; t++) {
        o.loss_max = lmax[t];
        int want = 0;
        while (want < 2 && best_n[want] > lmax[t]) want++;
        hc_encoded e;
        CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
        hc_paper_params p;
        CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
        CHECKF(p.n == sizes[want] && e.mae == best_n[want], "loss_max %g: n=%u, expected %u", lmax[t], p.n,
               sizes[want]);
        hc_encoded_free(&e);
    }
    free(w);
}

/* ---- round trips and the error bound ------------------------------------- */

TEST(paper_roundtrip_within_bound) {
    struct { uint64_t n; double scale, mean; int heavy; const char *preset; double rect_l; } cases[] = {
        {65536, 0.02, 0.0, 0, "default", 0},    {65537, 0.02, 0.003, 1, "default", 0},
        {40001, 0.02, 0.0, 1, "paper-llm", 0},  {30000, 0.3, -0.1, 1, "paper-vision", 0},
        {12345, 1.0, 5.0, 1, "default", 0.5},   {9999, 0.05, 0.0, 1, "default", 1e-4},
        {1, 0.1, 0.2, 0, "default", 0},         {2, 0.1, 0.2, 0, "default", 0},
        {3, 0.1, 0.2, 0, "default", 0},         {5, 0.1, 0.0, 1, "default", 0.01},
    };
    char msg[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float *w = gen_tensor(cases[c].n, cases[c].scale, cases[c].heavy, cases[c].mean, 100 + c);
        hc_opts o;
        hc_error err = {0};
        CHECK_OK(hc_opts_preset(&o, cases[c].preset, &err), &err);
        o.codec = HC_CODEC_PAPER; /* "default" names the hlat codec */
        o.loss_limit = 0;
        if (cases[c].rect_l > 0) o.rect_l = cases[c].rect_l;
        hc_encoded e;
        CHECK_OK(hc_encode(w, cases[c].n, &o, &e, &err), &err);
        CHECK(e.codec == HC_CODEC_PAPER && e.params_len == HC_PAPER_PARAMS_LEN);
        hc_paper_params p;
        CHECK_OK(hc_paper_params_read(e.params, e.params_len, cases[c].n, &p, &err), &err);
        uint64_t npairs = (cases[c].n + 1) / 2;
        CHECK(e.payload_len == (npairs * p.u + 7) / 8);
        CHECK(p.pad == (int)(cases[c].n & 1));
        CHECKF(check_bound(w, cases[c].n, &e, msg, sizeof msg), "case %zu: %s", c, msg);
        /* the library's generic measurement agrees */
        hc_encoded m = e;
        CHECK_OK(hc_encoded_measure(w, cases[c].n, &m, &err), &err);
        CHECK(fabs(m.mae - e.mae) <= 1e-9 * (1 + e.mae) && m.max_abs_err == e.max_abs_err);
        if (cases[c].n <= 2) CHECK(e.max_abs_err == 0); /* one pair: it is c itself */
        hc_encoded_free(&e);
        free(w);
    }
    /* N = 0 */
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    hc_encoded e;
    hc_error err = {0};
    float dummy = 0;
    CHECK_OK(hc_encode(&dummy, 0, &o, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_PAPER && e.payload_len == 0);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, 0, HC_F32, &d, &err), &err);
    CHECK(d->n == 0);
    hc_decoder_free(d);
    hc_encoded_free(&e);
}

/* stories260K.bin: 7 int32 (dim, hidden, layers, heads, kv heads, vocab,
 * seq), then the float32 tensors in llama2.c order. */
TEST(paper_real_tensors_within_bound) {
    const char *path = hc_test_shared("models/stories260K.bin");
    if (!path) return;
    const uint64_t total = 264128; /* floats after the header */
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    uint8_t *raw = malloc(28 + 4 * total);
    size_t got = fread(raw, 1, 28 + 4 * total, f);
    fclose(f);
    if (got != 28 + 4 * total) free(raw);
    CHECK(got == 28 + 4 * total);
    uint32_t hdr[7];
    for (int i = 0; i < 7; i++) hdr[i] = hc_get_u32(raw + 4 * i);
    const uint64_t dim = hdr[0], hidden = hdr[1], layers = hdr[2];
    const uint64_t kv_dim = dim * hdr[4] / hdr[3], vocab = hdr[5];
    if (!(dim == 64 && hidden == 172 && layers == 5 && vocab == 512)) free(raw);
    CHECK(dim == 64 && hidden == 172 && layers == 5 && vocab == 512);
    float *all = malloc(total * sizeof *all);
    for (uint64_t i = 0; i < total; i++) all[i] = hc_get_f32(raw + 28 + 4 * i);
    free(raw);
    /* tok_embeddings, wq of layer 0, wo of layer 4, w1 of layer 0, w2 of all layers */
    const uint64_t wq = vocab * dim + layers * dim, wo = wq + layers * dim * dim + 2 * layers * dim * kv_dim;
    const uint64_t w1 = wo + layers * dim * dim + layers * dim, w2 = w1 + layers * dim * hidden;
    struct { uint64_t off, n; } t[] = {{0, vocab * dim}, {wq, dim * dim}, {wo + 4 * dim * dim, dim * dim},
                                       {w1, dim * hidden}, {w2, layers * dim * hidden}};
    const char *presets[3] = {"default", "paper-llm", "paper-vision"};
    char msg[512];
    double nmse_default = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        for (int ps = 0; ps < 3; ps++) {
            hc_opts o;
            hc_error err = {0};
            CHECK_OK(hc_opts_preset(&o, presets[ps], &err), &err);
            o.codec = HC_CODEC_PAPER; /* "default" names the hlat codec */
            o.loss_limit = 0; /* the bound holds for the coded path; RAW is lossless */
            hc_encoded e;
            CHECK_OK(hc_encode(all + t[i].off, t[i].n, &o, &e, &err), &err);
            CHECK(e.codec == HC_CODEC_PAPER);
            CHECKF(check_bound(all + t[i].off, t[i].n, &e, msg, sizeof msg), "tensor %zu preset %s: %s", i,
                   presets[ps], msg);
            if (ps == 0 && e.mse * t[i].n / e.sum_sq > nmse_default) nmse_default = e.mse * t[i].n / e.sum_sq;
            hc_encoded_free(&e);
        }
    /* 6.5 bits per weight should reach a useful fidelity on real weights */
    CHECKF(nmse_default < 0.02, "worst NMSE with the default options: %g", nmse_default);
    free(all);
}

TEST(paper_presets_bits_per_weight) {
    const uint64_t N = 100000;
    float *w = gen_tensor(N, 0.035, 1, 0.0, 5);
    hc_opts o;
    hc_error err = {0};
    const char *names[2] = {"paper-llm", "paper-vision"};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(hc_opts_preset(&o, names[i], &err), &err);
        if (i == 1) o.rect_l = 0.1; /* keep the data's scale in the square */
        hc_encoded e;
        CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
        hc_paper_params p;
        CHECK(e.codec == HC_CODEC_PAPER);
        CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
        CHECKF(p.n == 1600 && p.bands >= 2 && p.u == 13, "%s: n=%u C=%u u=%u", names[i], p.n, p.bands, p.u);
        if (i == 0) CHECKF(p.bands == 3, "paper-llm on this tensor should need C = 3 (got %u)", p.bands);
        double bpw = hc_encoded_bpw(&e, N);
        CHECKF(bpw >= 6.5 && bpw < 6.51, "%s: %g bits per weight", names[i], bpw);
        hc_encoded_free(&e);
    }
    free(w);
}

TEST(paper_fallback_to_raw) {
    const uint64_t N = 8192;
    float *w = gen_tensor(N, 0.2, 1, 0.0, 8); /* far too wide for L = 0.1 */
    hc_opts o;
    hc_error err = {0};
    CHECK_OK(hc_opts_preset(&o, "paper-llm", &err), &err);
    hc_encoded e;
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_RAW && e.params_len == 0 && e.payload_len == N * 4);
    CHECK(memcmp(e.payload, w, N * 4) == 0 && e.mae == 0);
    hc_encoded_free(&e);
    o.loss_limit = 0; /* the same tensor is coded when no limit is set */
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_PAPER && e.mae > 0.006);
    hc_encoded_free(&e);
    /* NaN / Inf: stored losslessly by hc_encode, refused by the fixed encoder */
    w[77] = NAN;
    w[78] = -INFINITY;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    CHECK(e.codec == HC_CODEC_RAW && memcmp(e.payload, w, N * 4) == 0);
    hc_encoded_free(&e);
    CHECK(hc_paper_encode_fixed(w, N, 0.1, 1600, 3, &e, &err) == HC_E_ARG && strstr(err.msg, "NaN"));
    /* bad options */
    w[77] = w[78] = 0;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.bands_max = 0;
    CHECK(hc_encode(w, N, &o, &e, &err) == HC_E_ARG);
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.points[0] = 1u << 22;
    CHECK(hc_encode(w, N, &o, &e, &err) == HC_E_ARG);
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.n_points = 0;
    CHECK(hc_encode(w, N, &o, &e, &err) == HC_E_ARG);
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.rect_l = NAN;
    CHECK(hc_encode(w, N, &o, &e, &err) == HC_E_ARG);
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    o.rect_l_sigmas = 0;
    CHECK(hc_encode(w, N, &o, &e, &err) == HC_E_ARG);
    free(w);
}

/* ---- decoder: validation, ranges, matvec ----------------------------------- */

static int open_fails(const uint8_t *params, uint32_t plen, const uint8_t *pay, uint64_t paylen, uint64_t n) {
    hc_decoder *d = (hc_decoder *)1;
    hc_error err = {0};
    hc_status s = hc_decoder_open(HC_CODEC_PAPER, params, plen, pay, paylen, n, HC_F32, &d, &err);
    if (s == HC_OK) {
        hc_decoder_free(d);
        return 0;
    }
    return d == NULL && err.msg[0] != 0;
}

TEST(paper_open_refuses_corrupt) {
    const uint64_t N = 3001;
    float *w = gen_tensor(N, 0.1, 1, 0.0, 21);
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    CHECK(!open_fails(e.params, e.params_len, e.payload, e.payload_len, N)); /* intact: opens */
    uint8_t p[64];
    const uint32_t L = e.params_len;
#define MUTATE(stmt)                                                                                           \
    do {                                                                                                       \
        memcpy(p, e.params, L);                                                                                \
        stmt;                                                                                                  \
        CHECKF(open_fails(p, L, e.payload, e.payload_len, N), "accepted: %s", #stmt);                          \
    } while (0)
    MUTATE(p[0] = 2);                                    /* unknown version */
    MUTATE(p[1] = 0);                                    /* pad flag vs odd N */
    MUTATE(p[1] = 5);                                    /* unknown flag */
    MUTATE(p[2] = (uint8_t)(p[2] + 1));                  /* u */
    MUTATE(p[2] = 40);                                   /* u > 32 */
    MUTATE(p[3] = 65);                                   /* C */
    MUTATE(hc_put_u32(p + 4, 0));                        /* n = 0 */
    MUTATE(hc_put_u32(p + 4, 0xFFFFFFFFu));              /* n huge */
    MUTATE(hc_put_u32(p + 4, 1u << 21); p[3] = 3);       /* table too large */
    MUTATE(hc_put_f64(p + 24, 0));                       /* L = 0 */
    MUTATE(hc_put_f64(p + 24, -1));                      /* L < 0 */
    MUTATE(hc_put_f64(p + 24, NAN));                     /* L NaN */
    MUTATE(hc_put_f64(p + 8, INFINITY));                 /* c infinite */
    MUTATE(hc_put_f64(p + 32, hc_get_f64(p + 24) / 4));  /* d_max <= L/2 with bands */
    MUTATE(hc_put_u32(p + 4, 100); p[2] = (uint8_t)hc_paper_index_bits(100, p[3])); /* payload size */
#undef MUTATE
    CHECK(open_fails(e.params, L - 1, e.payload, e.payload_len, N));
    CHECK(open_fails(e.params, 0, e.payload, e.payload_len, N));
    CHECK(open_fails(e.params, L, e.payload, e.payload_len - 1, N));
    CHECK(open_fails(e.params, L, e.payload, e.payload_len + 1, N));
    CHECK(open_fails(e.params, L, e.payload, e.payload_len, N + 1));
    CHECK(open_fails(e.params, L, e.payload, e.payload_len, N + 4));
    CHECK(open_fails(e.params, L, e.payload, e.payload_len, UINT64_MAX));
    /* random parameter bytes: refused, or if by chance valid, decodes safely */
    hc_rng r = {1234};
    float *out = malloc(N * sizeof *out);
    for (int it = 0; it < 2000; it++) {
        memcpy(p, e.params, L);
        int flips = 1 + (int)(hc_rng_next(&r) % 4);
        for (int k = 0; k < flips; k++) p[hc_rng_next(&r) % L] ^= (uint8_t)(1u << (hc_rng_next(&r) % 8));
        hc_decoder *d;
        hc_error e2 = {0};
        if (hc_decoder_open(HC_CODEC_PAPER, p, L, e.payload, e.payload_len, N, HC_F32, &d, &e2) == HC_OK) {
            hc_decode_all(d, out);
            hc_decoder_free(d);
        } else {
            CHECK(e2.msg[0] != 0);
        }
    }
    /* garbage payload with valid params: indices past the table decode to NaN, never out of bounds */
    uint8_t *junk = malloc(e.payload_len);
    memset(junk, 0xFF, e.payload_len);
    hc_decoder *d;
    CHECK_OK(hc_decoder_open(HC_CODEC_PAPER, e.params, L, junk, e.payload_len, N, HC_F32, &d, &err), &err);
    hc_decode_all(d, out);
    hc_decoder_free(d);
    CHECK(isnan(out[0]) && isnan(out[N - 1]));
    free(junk);
    free(out);
    hc_encoded_free(&e);
    free(w);
}

TEST(paper_decode_ranges) {
    const uint64_t sizes[2] = {4097, 1000};
    hc_rng r = {77};
    for (int s = 0; s < 2; s++) {
        const uint64_t N = sizes[s];
        float *w = gen_tensor(N, 0.05, 1, 0.0, 31 + s);
        hc_opts o;
        hc_opts_default(&o);
        o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
        float *full = decode_all(&e, N, &err);
        CHECK(full != NULL);
        hc_decoder *d;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err),
                 &err);
        float *part = malloc((N + 2) * sizeof *part);
        for (int it = 0; it < 3000; it++) {
            uint64_t start, count;
            if (it < 40) { /* the tail, where 8-byte loads would overrun */
                start = N - 1 - (uint64_t)it % 20;
                count = N - start - (uint64_t)(it >= 20);
            } else {
                start = hc_rng_next(&r) % N;
                count = hc_rng_next(&r) % (N - start + 1);
                if (it % 3 == 0) count = count % 5;
            }
            part[count] = 12345.0f;
            d->decode(d, start, count, part);
            CHECKF(part[count] == 12345.0f, "decode(%llu, %llu) wrote past its range", (unsigned long long)start,
                   (unsigned long long)count);
            for (uint64_t i = 0; i < count; i++)
                CHECKF(memcmp(&part[i], &full[start + i], 4) == 0, "decode(%llu, %llu) element %llu",
                       (unsigned long long)start, (unsigned long long)count, (unsigned long long)i);
        }
        free(part);
        hc_decoder_free(d);
        free(full);
        hc_encoded_free(&e);
        free(w);
    }
}

TEST(paper_matvec_odd_shapes) {
    const uint64_t shapes[][2] = {{7, 13}, {5, 1}, {1, 257}, {33, 255}, {3, 1001}, {64, 64}, {9, 600}};
    hc_rng r = {4};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const uint64_t rows = shapes[s][0], cols = shapes[s][1], N = rows * cols;
        float *w = gen_tensor(N, 0.05, 1, 0.001, 50 + s);
        hc_opts o;
        hc_opts_default(&o);
        o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
        hc_encoded e;
        hc_error err = {0};
        CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
        float *full = decode_all(&e, N, &err);
        CHECK(full != NULL);
        hc_decoder *d;
        CHECK_OK(hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, N, HC_F32, &d, &err),
                 &err);
        CHECK(d->matvec != NULL);
        float *x = malloc(cols * sizeof *x), *y = malloc(rows * sizeof *y);
        for (uint64_t c = 0; c < cols; c++) x[c] = (float)hc_rng_normal(&r);
        uint64_t row0 = rows > 2 ? 1 : 0, row1 = rows > 3 ? rows - 1 : rows;
        d->matvec(d, cols, row0, row1, x, y);
        for (uint64_t rr = row0; rr < row1; rr++) {
            double ref = 0, mag = 0;
            for (uint64_t c = 0; c < cols; c++) {
                ref += (double)full[rr * cols + c] * x[c];
                mag += fabs((double)full[rr * cols + c] * x[c]);
            }
            CHECKF(fabs(y[rr - row0] - ref) <= 1e-5 * mag + 1e-30, "%llux%llu row %llu: %g vs %g",
                   (unsigned long long)rows, (unsigned long long)cols, (unsigned long long)rr, y[rr - row0], ref);
        }
        free(x);
        free(y);
        hc_decoder_free(d);
        free(full);
        hc_encoded_free(&e);
        free(w);
    }
}

TEST(paper_auto_l_rule) {
    const uint64_t N = 10001;
    float *w = gen_tensor(N, 0.07, 1, 0.01, 61);
    /* sigma as documented: RMS deviation of pair coordinates from the pair centre */
    double mean = 0, sx = 0, sy = 0, ss = 0;
    for (uint64_t i = 0; i < N; i++) mean += w[i];
    mean /= (double)N;
    const uint64_t np = (N + 1) / 2;
    for (uint64_t j = 0; j < np; j++) sx += w[2 * j], sy += (2 * j + 1 < N) ? w[2 * j + 1] : mean;
    double cx = sx / np, cy = sy / np;
    for (uint64_t j = 0; j < np; j++) {
        double y = (2 * j + 1 < N) ? w[2 * j + 1] : mean;
        ss += (w[2 * j] - cx) * (w[2 * j] - cx) + (y - cy) * (y - cy);
    }
    double sigma = sqrt(ss / (2.0 * np));
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_PAPER; /* the default codec is hlat */
    CHECK(o.rect_l <= 0 && o.rect_l_sigmas == 3.5);
    hc_encoded e;
    hc_error err = {0};
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    hc_paper_params p;
    CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
    CHECKF(fabs(p.L - 3.5 * sigma) <= 1e-9 * sigma, "L = %.12g, 3.5 sigma = %.12g", p.L, 3.5 * sigma);
    CHECK(fabs(p.cx - cx) <= 1e-12 && fabs(p.cy - cy) <= 1e-12);
    hc_encoded_free(&e);
    /* a constant tensor far from 0 stays exact, with an L on its scale */
    for (uint64_t i = 0; i < N; i++) w[i] = 3e30f;
    CHECK_OK(hc_encode(w, N, &o, &e, &err), &err);
    CHECK_OK(hc_paper_params_read(e.params, e.params_len, N, &p, &err), &err);
    CHECK(e.codec == HC_CODEC_PAPER && e.max_abs_err == 0 && p.L >= 3e30);
    hc_encoded_free(&e);
    free(w);
}

/* Splitting one tensor's searches over threads changes nothing: the same
 * parameters and payload for 1, 2 and 3 threads (an odd count exercises the
 * pad pair and a partial last chunk of pairs). */
TEST(paper_threads_same_bytes) {
    const uint64_t n = (2u << 20) + 1;
    float *w = gen_tensor(n, 0.004, 1, 0.001, 77);
    hc_opts presets[2];
    hc_error err;
    CHECK_OK(hc_opts_preset(&presets[0], "paper-llm", &err), &err);
    hc_opts_default(&presets[1]); /* automatic L */
    presets[1].codec = HC_CODEC_PAPER;
    for (int k = 0; k < 2; k++) {
        hc_encoded ref;
        presets[k].threads = 1;
        CHECK_OK(hc_encode(w, n, &presets[k], &ref, &err), &err);
        CHECK(ref.codec == HC_CODEC_PAPER);
        for (uint32_t t = 2; t <= 3; t++) {
            hc_encoded e;
            presets[k].threads = t;
            CHECK_OK(hc_encode(w, n, &presets[k], &e, &err), &err);
            int same = e.codec == ref.codec && e.params_len == ref.params_len &&
                       !memcmp(e.params, ref.params, ref.params_len) && e.payload_len == ref.payload_len &&
                       !memcmp(e.payload, ref.payload, ref.payload_len) && e.mae == ref.mae &&
                       e.max_abs_err == ref.max_abs_err;
            hc_encoded_free(&e);
            if (!same) hc_encoded_free(&ref);
            CHECKF(same, "preset %d: %u threads code differently from one", k, t);
        }
        hc_encoded_free(&ref);
    }
    free(w);
}
