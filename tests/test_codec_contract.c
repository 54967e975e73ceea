/* test_codec_contract.c — what every registered codec promises, checked by
 * looping over the codec table (as ggml's test-quantize-fns loops over its
 * type traits), each codec at its default setting and at the two ends of
 * its rate ladder:
 *  - the encoder's statistics (mae, mse, max error, sum of squares) equal a
 *    decode-and-measure of the payload it wrote;
 *  - decoding any window (odd starts and lengths) equals the full decode;
 *  - matvec over any row range equals decode-then-multiply, at every
 *    instruction-set level this CPU runs;
 *  - open() refuses params or payload one byte short or long and hostile
 *    parameter fields with an error (never a crash);
 *  - hostile weights: zero blocks, all-subnormal blocks, mixed scales,
 *    single huge outliers, magnitudes up to FLT_MAX (coded at the quality
 *    of the same tensor at scale 1, or kept lossless with a stated reason),
 *    NaN/Inf (kept lossless, bit-exact, with a reason);
 *  - identical payload bytes on 1 and N threads;
 *  - the same, with error feedback (hc_encode_matrix), for codecs that
 *    support it.
 * Per-codec tests keep only what is specific to a codec. */
#include "test.h"
#include "../src/codec/codec.h"
#include "../src/codec/paper.h"
#include "../src/common/cpu.h"
#include "../src/io/plan.h"
#include <float.h>
#include <math.h>
#include <string.h>

/* A check that reports and lets the loop go on (so that one run lists every
 * codec and case that fails). */
#define SOFTF(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            char soft_buf_[1536];                                                            \
            snprintf(soft_buf_, sizeof soft_buf_, __VA_ARGS__);                              \
            hc_test_fail(__FILE__, __LINE__, soft_buf_);                                     \
        }                                                                                    \
    } while (0)

#define ROWS 64
#define COLS 64
#define N (ROWS * COLS)

/* ---- tensors -------------------------------------------------------------- */

static void base_tensor(float *w, uint64_t seed) {
    hc_rng r = {seed};
    for (int i = 0; i < N; i++) w[i] = (float)(0.02 * hc_rng_normal(&r));
}

typedef struct tcase {
    const char *name;
    double scale;   /* the tensor is base * scale where it is finite (0: none) */
    int kind;
} tcase;

enum { T_PLAIN, T_SUBNORMAL_TAIL, T_ZERO_BLOCKS, T_ALL_SUBNORMAL, T_MIXED, T_OUTLIER, T_ALL_ZERO, T_FLT_MAX, T_NONFINITE };

/* The hostile tensors of issue 11. `scale` multiplies the whole tensor. */
static const tcase cases[] = {
    {"plain", 1, T_PLAIN},
    {"subnormal tail (last 32 weights ~1e-40)", 1, T_SUBNORMAL_TAIL},
    {"zero blocks", 1, T_ZERO_BLOCKS},
    {"all subnormal", 1, T_ALL_SUBNORMAL},
    {"mixed scales (1e-40 next to 1)", 1, T_MIXED},
    {"one huge outlier", 1, T_OUTLIER},
    {"all zero", 1, T_ALL_ZERO},
    {"x 1e22", 1e22, T_PLAIN},
    {"x 1e25", 1e25, T_PLAIN},
    {"x 1e35", 1e35, T_PLAIN},
    {"subnormal tail x 1e22", 1e22, T_SUBNORMAL_TAIL},
    {"x 1e-30", 1e-30, T_PLAIN},
    {"largest |w| = FLT_MAX", 1, T_FLT_MAX},
    {"NaN and +-Inf", 1, T_NONFINITE},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void make_tensor(const tcase *tc, float *w) {
    base_tensor(w, 11);
    switch (tc->kind) {
    case T_SUBNORMAL_TAIL:
        for (int i = N - 32; i < N; i++) w[i] = (i & 1 ? -1.0f : 1.0f) * (float)(1e-40 * (1 + (i % 7) / 7.0));
        break;
    case T_ZERO_BLOCKS:
        for (int i = 0; i < N; i++)
            if ((i / 32) % 5 == 2) w[i] = 0;
        break;
    case T_ALL_SUBNORMAL:
        for (int i = 0; i < N; i++) w[i] = w[i] * 1e-38f * 50.0f * 1e-2f; /* ~1e-40 */
        break;
    case T_MIXED:
        for (int i = 0; i < N; i++) w[i] = (i & 1) ? (float)(1e-40 * (1 + (i % 5))) : w[i] * 50.0f;
        break;
    case T_OUTLIER: w[1234] = 1e4f; break;
    case T_NONFINITE:
        w[77] = NAN;
        w[1000] = -INFINITY;
        w[4000] = INFINITY;
        break;
    case T_ALL_ZERO: memset(w, 0, sizeof(float) * N); break;
    case T_FLT_MAX: {
        float mx = 0;
        for (int i = 0; i < N; i++) mx = fabsf(w[i]) > mx ? fabsf(w[i]) : mx;
        for (int i = 0; i < N; i++) w[i] = (float)((double)w[i] / mx * FLT_MAX);
        break;
    }
    default: break;
    }
    if (tc->scale != 1)
        for (int i = 0; i < N; i++) w[i] = (float)((double)w[i] * tc->scale);
}

/* ---- settings --------------------------------------------------------------- */

#define MAX_SETTINGS 5
typedef struct setting {
    hc_opts o;
    char label[64];
} setting;

/* The codec's default setting and the two ends of its ladder; returns how many. */
static int settings_of(hc_codec_id id, setting *out) {
    hc_opts base;
    hc_opts_default(&base);
    base.codec = id;
    int k = 0;
    out[k].o = base;
    snprintf(out[k].label, sizeof out[k].label, "%s default", hc_codec_name(id));
    k++;
    hc_opts lad[64];
    size_t nl = hc_codec_ladder(&base, lad, 64);
    if (nl > 1) {
        out[k].o = lad[0];
        snprintf(out[k].label, sizeof out[k].label, "%s ladder low", hc_codec_name(id));
        k++;
        out[k].o = lad[nl - 1];
        snprintf(out[k].label, sizeof out[k].label, "%s ladder high", hc_codec_name(id));
        k++;
    }
    /* the presets that name this codec (a fixed L, a loss limit) */
    static const char *const presets[] = {"paper-llm", "paper-vision"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        hc_error err = {0};
        if (hc_opts_preset(&out[k].o, presets[i], &err) == HC_OK && out[k].o.codec == id) {
            snprintf(out[k].label, sizeof out[k].label, "%s", presets[i]);
            k++;
        }
    }
    return k;
}

/* ---- helpers ------------------------------------------------------------------ */

static int open_enc(const hc_encoded *e, uint64_t n, hc_decoder **d, hc_error *err) {
    return hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, n, HC_F32, d, err) ==
           HC_OK;
}

static double snr_db(const float *w, const float *v, uint64_t n) {
    double se = 0, ss = 0;
    for (uint64_t i = 0; i < n; i++) {
        double d = (double)w[i] - v[i];
        se += d * d;
        ss += (double)w[i] * w[i];
    }
    return se == 0 ? 999 : ss == 0 ? -999 : -10 * log10(se / ss);
}

/* Encoder statistics against a measure of the decoded tensor. */
static int stats_match(const float *w, const float *dec, uint64_t n, const hc_encoded *e, char *why, size_t wl) {
    double sae = 0, sse = 0, ss = 0, mx = 0;
    for (uint64_t i = 0; i < n; i++) {
        double d = fabs((double)dec[i] - (double)w[i]);
        sae += d;
        sse += d * d;
        ss += (double)w[i] * w[i];
        if (d > mx) mx = d;
    }
    double mae = sae / (double)n, mse = sse / (double)n;
    /* relative 1e-9, plus an absolute floor tied to the tensor's energy */
    double tol_mse = 1e-9 * mse + 1e-12 * ss / (double)n, tol_mae = 1e-9 * mae + 1e-9 * sqrt(ss / (double)n);
    int ok = fabs(e->mae - mae) <= tol_mae && fabs(e->mse - mse) <= tol_mse &&
             fabs(e->max_abs_err - mx) <= 1e-9 * mx + 1e-9 * sqrt(ss / (double)n) &&
             fabs(e->sum_sq - ss) <= 1e-9 * ss;
    if (!ok)
        snprintf(why, wl, "reported mae %.9g mse %.9g max %.9g ss %.9g; measured %.9g %.9g %.9g %.9g", e->mae,
                 e->mse, e->max_abs_err, e->sum_sq, mae, mse, mx, ss);
    return ok;
}

/* ---- instruction-set levels ------------------------------------------------------ */

static const char *const levels[] = {"ref", "avx2", "avx512"};
#define NLEVELS 3

static int level_supported(int l) { return hc_cpu_has((hc_simd)l); }

/* Opens e with every codec's kernels at level l: the one dispatch
 * (src/common/cpu.h) is switched for the open, where each codec picks its
 * kernels, then put back. */
static int open_at_level(const hc_encoded *e, uint64_t n, int l, hc_decoder **d, hc_paper_matvec_fn *row_fn,
                         hc_error *err) {
    hc_simd was = hc_simd_level();
    hc_simd_set_level((hc_simd)l);
    int ok = open_enc(e, n, d, err);
    hc_simd_set_level(was);
    *row_fn = NULL;
    return ok;
}

static void matvec_with(const hc_decoder *d, hc_paper_matvec_fn fn, uint64_t cols, uint64_t r0, uint64_t r1,
                        const float *x, float *y) {
    if (fn)
        fn(d, cols, r0, r1, x, y);
    else
        hc_matvec(d, cols, r0, r1, x, y);
}

/* ---- issue 11, defects 1 and 2: every codec over hostile tensors ------------------ */

/* Each codec at each setting over every hostile tensor: no crash, a valid
 * payload whose statistics are true, finite decoded weights, and either the
 * quality of the plain tensor at that setting (scale does not matter) or a
 * lossless copy with a stated reason. */
TEST(codec_contract_hostile_tensors) {
    float *w = malloc(sizeof(float) * N), *dec = malloc(sizeof(float) * N), *lvl = malloc(sizeof(float) * N);
    hc_error err = {0};
    for (int id = 0; id < HC_CODEC_COUNT; id++) {
        if (!hc_codec_get((hc_codec_id)id)) continue;
        setting st[MAX_SETTINGS];
        int ns = settings_of((hc_codec_id)id, st);
        for (int si = 0; si < ns; si++) {
            double plain_snr = 0;
            for (size_t ci = 0; ci < NCASES; ci++) {
                const tcase *tc = &cases[ci];
                make_tensor(tc, w);
                hc_encoded e;
                hc_status s = hc_encode(w, N, &st[si].o, &e, &err);
                SOFTF(s == HC_OK, "%s, %s: %s", st[si].label, tc->name, err.msg);
                if (s) continue;
                hc_decoder *d;
                int opened = open_enc(&e, N, &d, &err);
                SOFTF(opened, "%s, %s: open: %s", st[si].label, tc->name, err.msg);
                if (!opened) {
                    hc_encoded_free(&e);
                    continue;
                }
                hc_decode_all(d, dec);
                hc_decoder_free(d);
                /* every instruction-set level decodes these weights alike */
                for (int l = 0; l < NLEVELS; l++) {
                    hc_paper_matvec_fn fn;
                    if (!level_supported(l) || !open_at_level(&e, N, l, &d, &fn, &err)) continue;
                    hc_decode_all(d, lvl);
                    hc_decoder_free(d);
                    SOFTF(!memcmp(lvl, dec, sizeof(float) * N), "%s, %s: %s decodes differently", st[si].label,
                          tc->name, levels[l]);
                }
                if (tc->kind == T_NONFINITE) { /* kept bit for bit, with the reason */
                    SOFTF(e.codec == HC_CODEC_RAW && !memcmp(w, dec, sizeof(float) * N) &&
                              (id == HC_CODEC_RAW || strstr(e.note, "NaN")),
                          "%s, NaN/Inf: codec %d, note '%s'", st[si].label, (int)e.codec, e.note);
                    hc_encoded_free(&e);
                    continue;
                }
                char why[512] = "";
                int match = stats_match(w, dec, N, &e, why, sizeof why);
                int finite = 1;
                for (int i = 0; i < N; i++) finite &= isfinite(dec[i]) != 0;
                double snr = snr_db(w, dec, N);
                int raw = e.codec == HC_CODEC_RAW;
                int note = e.note[0] != 0;
                if (getenv("HC_CONTRACT_VERBOSE"))
                    printf("    %-18s %-42s %-5s snr %7.2f dB %s\n", st[si].label, tc->name,
                           hc_codec_name(e.codec), snr, e.note);
                hc_encoded_free(&e);
                SOFTF(match, "%s, %s: %s", st[si].label, tc->name, why);
                SOFTF(finite, "%s, %s: decodes to NaN/Inf", st[si].label, tc->name);
                if (raw) {
                    SOFTF(snr == 999, "%s, %s: kept lossless but not exact", st[si].label, tc->name);
                    SOFTF(id == HC_CODEC_RAW || note, "%s, %s: kept lossless without a reason", st[si].label,
                           tc->name);
                }
                if (tc->kind == T_PLAIN && tc->scale == 1) {
                    plain_snr = snr;
                    SOFTF(id == HC_CODEC_RAW || !raw, "%s: plain tensor kept lossless", st[si].label);
                } else if (tc->kind == T_PLAIN || tc->kind == T_SUBNORMAL_TAIL || tc->kind == T_FLT_MAX) {
                    /* the same tensor at another scale: the same quality */
                    SOFTF(raw || snr >= plain_snr - 0.5, "%s, %s: SNR %.2f dB, %.2f dB at scale 1", st[si].label,
                           tc->name, snr, plain_snr);
                } else if (tc->kind != T_ALL_ZERO && !raw) {
                    SOFTF(snr >= plain_snr - 6 || snr > 20, "%s, %s: SNR %.2f dB (plain %.2f dB)", st[si].label,
                           tc->name, snr, plain_snr);
                }
            }
        }
    }
    free(w);
    free(dec);
    free(lvl);
}

/* ---- issue 11 through the pipeline: what `hyperc compress` does ------------------- */

typedef struct notes_seen {
    int n;
    hc_codec_id codec[8];
    char note[8][128];
    double nmse[8];
} notes_seen;

static void collect_notes(const hc_tensor_report *r, void *user) {
    notes_seen *ns = (notes_seen *)user;
    if (ns->n >= 8) return;
    ns->codec[ns->n] = r->codec;
    snprintf(ns->note[ns->n], sizeof ns->note[0], "%s", r->note ? r->note : "(null)");
    ns->nmse[ns->n] = r->nmse;
    ns->n++;
}

/* The tensors of defects 1 and 2 in one safetensors file, compressed at the
 * default setting (hlat) and at q8b: exit OK, the large tensors coded at the
 * plain tensor's quality or kept with a reason in the per-tensor report,
 * NaN/Inf kept with a reason, and decompression gives back finite weights
 * (bit-exact where kept). */
TEST(codec_contract_pipeline_reports_reasons) {
    const char *dir = hc_test_tmpdir();
    char in[1024], out[1024], back[1024];
    snprintf(in, sizeof in, "%s/contract_in.safetensors", dir);
    snprintf(out, sizeof out, "%s/contract.hyc", dir);
    snprintf(back, sizeof back, "%s/contract_back.safetensors", dir);
    enum { NT = 5 };
    static const char *names[NT] = {"a_plain", "b_subnormal_tail", "c_x1e22", "d_x1e35", "e_nan"};
    static const int which[NT] = {0, 1, 7, 9, -1};
    hc_tensor_info infos[NT];
    float *w[NT];
    for (int t = 0; t < NT; t++) {
        memset(&infos[t], 0, sizeof infos[t]);
        snprintf(infos[t].name, sizeof infos[t].name, "%s", names[t]);
        infos[t].dtype = HC_F32;
        infos[t].ndim = 2;
        infos[t].shape[0] = ROWS;
        infos[t].shape[1] = COLS;
        infos[t].nelem = N;
        infos[t].nbytes = 4 * N;
        w[t] = malloc(sizeof(float) * N);
        make_tensor(&cases[which[t] < 0 ? 0 : which[t]], w[t]);
        if (which[t] < 0) w[t][77] = NAN, w[t][78] = -INFINITY;
    }
    hc_error err = {0};
    hc_st_writer *sw;
    CHECK_OK(hc_st_writer_open(in, infos, NT, NULL, 0, 1, &sw, &err), &err);
    for (int t = 0; t < NT; t++) CHECK_OK(hc_st_writer_put(sw, (size_t)t, w[t], &err), &err);
    CHECK_OK(hc_st_writer_finish(sw, &err), &err);
    hc_codec_id codecs[2] = {HC_CODEC_HLAT, HC_CODEC_Q8B};
    for (int k = 0; k < 2; k++) {
        hc_opts o;
        hc_opts_default(&o);
        o.codec = codecs[k];
        notes_seen ns;
        memset(&ns, 0, sizeof ns);
        CHECK_OK(hc_compress_file(in, out, &o, 2, 1, collect_notes, &ns, NULL, &err), &err);
        CHECK(ns.n == NT);
        CHECKF(ns.codec[0] == codecs[k] && ns.note[0][0] == 0, "%s plain: codec %d note '%s'",
               hc_codec_name(codecs[k]), ns.codec[0], ns.note[0]);
        for (int t = 1; t < NT; t++) {
            if (ns.codec[t] == HC_CODEC_RAW)
                CHECKF(ns.note[t][0] != 0, "%s: tensor %s kept lossless without a reason", hc_codec_name(codecs[k]),
                       names[t]);
            else
                CHECKF(ns.nmse[t] <= ns.nmse[0] * 1.13, "%s: tensor %s nmse %g, plain %g", hc_codec_name(codecs[k]),
                       names[t], ns.nmse[t], ns.nmse[0]);
        }
        CHECKF(ns.codec[4] == HC_CODEC_RAW && strstr(ns.note[4], "NaN"), "NaN tensor: codec %d note '%s'",
               ns.codec[4], ns.note[4]);
        if (codecs[k] == HC_CODEC_HLAT) /* hlat rescales: every finite tensor is coded */
            for (int t = 1; t < 4; t++) CHECKF(ns.codec[t] == HC_CODEC_HLAT, "hlat kept %s lossless", names[t]);
        CHECK_OK(hc_decompress_file(out, back, 2, 1, &err), &err);
        hc_safetensors *st;
        CHECK_OK(hc_st_open(back, &st, &err), &err);
        for (int t = 0; t < NT; t++) {
            const float *v = (const float *)hc_st_data(st, (size_t)t);
            if (ns.codec[t] == HC_CODEC_RAW) {
                CHECKF(memcmp(v, w[t], 4 * N) == 0, "%s: tensor %s kept lossless but changed", hc_codec_name(codecs[k]),
                       names[t]);
            } else {
                int finite = 1;
                for (int i = 0; i < N; i++) finite &= isfinite(v[i]) != 0;
                CHECKF(finite, "%s: tensor %s decodes to NaN/Inf", hc_codec_name(codecs[k]), names[t]);
            }
        }
        hc_st_close(st);
    }
    for (int t = 0; t < NT; t++) free(w[t]);
}

/* ---- decode windows, matvec at every instruction-set level ------------------------ */

/* Contract tensors: 64 x 72 (rows straddle the 32-weight blocks; 72 is even
 * and a multiple of 4, so every codec's row products apply). */
#define CR 64
#define CC 72
#define CN (CR * CC)

TEST(codec_contract_windows_and_matvec) {
    float *w = malloc(sizeof(float) * CN), *full = malloc(sizeof(float) * CN), *win = malloc(sizeof(float) * CN);
    float *ref = malloc(sizeof(float) * CN), *x = malloc(sizeof(float) * CN), *y = malloc(sizeof(float) * CN);
    hc_rng r = {3};
    for (int i = 0; i < CN; i++) w[i] = (float)(0.05 * hc_rng_normal(&r));
    w[100] = 0.9f; /* an outlier: the paper codec's outer pairs */
    for (int i = 0; i < CN; i++) x[i] = (float)hc_rng_normal(&r);
    const double wmax = hc_abs_max(w, CN);
    static const uint64_t colss[] = {CC, 9, 3, 1, 512, CN}; /* divisors of CN: odd, long and single rows */
    hc_error err = {0};
    for (int id = 0; id < HC_CODEC_COUNT; id++) {
        if (!hc_codec_get((hc_codec_id)id)) continue;
        setting st[MAX_SETTINGS];
        int ns = settings_of((hc_codec_id)id, st);
        for (int si = 0; si < ns; si++) {
            hc_encoded e;
            hc_status s = hc_encode(w, CN, &st[si].o, &e, &err);
            SOFTF(s == HC_OK && (id == HC_CODEC_RAW || (int)e.codec == id), "%s: %s (codec %d)", st[si].label, err.msg,
                  (int)e.codec);
            if (s) continue;
            int have_ref = 0;
            for (int l = 0; l < NLEVELS; l++) {
                if (!level_supported(l)) continue;
                hc_decoder *d;
                hc_paper_matvec_fn fn;
                int ok = open_at_level(&e, CN, l, &d, &fn, &err);
                SOFTF(ok, "%s at %s: open: %s", st[si].label, levels[l], err.msg);
                if (!ok) continue;
                hc_decode_all(d, full);
                if (!have_ref) {
                    memcpy(ref, full, sizeof(float) * CN);
                    have_ref = 1;
                }
                SOFTF(!memcmp(full, ref, sizeof(float) * CN), "%s: %s decodes differently from ref", st[si].label,
                      levels[l]);
                /* windows: odd starts and lengths, block and row edges, single weights */
                hc_rng wr = {77 + (uint64_t)l};
                for (int k = 0; k < 60; k++) {
                    uint64_t a, len;
                    if (k < 12) {
                        static const uint64_t edge[12][2] = {{0, 1}, {31, 2}, {32, 32}, {33, 63}, {CN - 1, 1},
                                                             {CN - 33, 33}, {1, CN - 1}, {0, CN}, {255, 3},
                                                             {256, 257}, {CC - 1, CC + 1}, {7, 1}};
                        a = edge[k][0];
                        len = edge[k][1];
                    } else {
                        a = hc_rng_next(&wr) % CN;
                        len = 1 + hc_rng_next(&wr) % (CN - a);
                        if (k & 1) len = len % 97 + 1 < CN - a ? len % 97 + 1 : len;
                    }
                    d->decode(d, a, len, win);
                    SOFTF(!memcmp(win, full + a, sizeof(float) * len), "%s at %s: window [%llu, +%llu) differs",
                          st[si].label, levels[l], (unsigned long long)a, (unsigned long long)len);
                }
                /* row products against decode-then-multiply, on row ranges */
                for (size_t ci = 0; ci < sizeof colss / sizeof colss[0]; ci++) {
                    uint64_t cols = colss[ci], rows = CN / cols;
                    uint64_t ranges[3][2] = {{0, rows}, {rows / 3, rows / 3 + 1}, {rows > 2 ? 1 : 0, rows}};
                    for (int ri = 0; ri < 3; ri++) {
                        uint64_t r0 = ranges[ri][0], r1 = ranges[ri][1];
                        matvec_with(d, fn, cols, r0, r1, x, y);
                        for (uint64_t rr = r0; rr < r1; rr++) {
                            /* float rounding relative to the row's products, and
                             * to the tensor's scale (a codec may sum scale * code
                             * and offset terms apart: qkm) */
                            double want = 0, mag = 0, xs = 0, xmax = 0, ws = 0;
                            for (uint64_t c = 0; c < cols; c++) {
                                want += (double)full[rr * cols + c] * x[c];
                                mag += fabs((double)full[rr * cols + c] * x[c]);
                                xs += fabs((double)x[c]);
                                ws += fabs((double)full[rr * cols + c]);
                                if (fabs((double)x[c]) > xmax) xmax = fabs((double)x[c]);
                            }
                            double got = y[rr - r0], tol = 1e-5 * mag + 1e-6 * wmax * xs;
                            /* hlat's AVX2 product quantises x to int16 per 32 columns (error
                             * <= max|x| / 32766 each) and evaluates its weights in int16
                             * (error ~2e-4 of a block's scale): src/codec/hlat_q16.c */
                            if (id == HC_CODEC_HLAT && l == 1) tol += 4e-4 * wmax * xs + 4e-5 * xmax * ws;
                            SOFTF(fabs(got - want) <= tol,
                                  "%s at %s: cols %llu row %llu: matvec %.9g, decode-multiply %.9g", st[si].label,
                                  levels[l], (unsigned long long)cols, (unsigned long long)rr, got, want);
                            if (fabs(got - want) > tol) break;
                        }
                    }
                }
                hc_decoder_free(d);
            }
            hc_encoded_free(&e);
        }
    }
    free(w);
    free(full);
    free(win);
    free(ref);
    free(x);
    free(y);
}

/* ---- open refuses what is not exactly right ----------------------------------------- */

static int opens(hc_codec_id c, const uint8_t *params, uint32_t plen, const uint8_t *payload, uint64_t len,
                 uint64_t n, hc_error *err) {
    hc_decoder *d = NULL;
    hc_error_clear(err);
    hc_status s = hc_decoder_open(c, params, plen, payload, len, n, HC_F32, &d, err);
    if (s == HC_OK) {
        /* whatever opens must decode and multiply without reading outside */
        uint64_t k = n < 4096 ? n : 4096;
        float *buf = malloc(sizeof(float) * (k ? k : 1)), xv[64], yv[64];
        if (k) d->decode(d, n - k, k, buf);
        for (int i = 0; i < 64; i++) xv[i] = 1;
        if (n % 64 == 0 && n / 64 >= 1) hc_matvec(d, 64, n / 64 - 1, n / 64, xv, yv);
        free(buf);
        hc_decoder_free(d);
        return 1;
    }
    return 0;
}

TEST(codec_contract_open_refuses_bad_sizes_and_fields) {
    float *w = malloc(sizeof(float) * CN);
    hc_rng r = {21};
    for (int i = 0; i < CN; i++) w[i] = (float)(0.05 * hc_rng_normal(&r));
    hc_error err = {0};
    for (int id = 0; id < HC_CODEC_COUNT; id++) {
        if (!hc_codec_get((hc_codec_id)id)) continue;
        setting st[MAX_SETTINGS];
        int ns = settings_of((hc_codec_id)id, st);
        for (int si = 0; si < ns; si++) {
            hc_encoded e;
            if (hc_encode(w, CN, &st[si].o, &e, &err) != HC_OK) {
                SOFTF(0, "%s: %s", st[si].label, err.msg);
                continue;
            }
            const char *lb = st[si].label;
            hc_codec_id c = e.codec;
            /* a copy with one spare byte, so that "one byte long" reads real memory */
            uint8_t *pl = malloc(e.payload_len + 1);
            memcpy(pl, e.payload, e.payload_len);
            pl[e.payload_len] = 0;
            uint8_t prm[HC_MAX_PARAMS + 1];
            memset(prm, 0, sizeof prm);
            memcpy(prm, e.params, e.params_len);
            SOFTF(opens(c, prm, e.params_len, pl, e.payload_len, CN, &err), "%s: own payload refused: %s", lb,
                  err.msg);
            SOFTF(!opens(c, prm, e.params_len, pl, e.payload_len + 1, CN, &err) && err.msg[0],
                  "%s: payload one byte long accepted", lb);
            if (e.payload_len > 0)
                SOFTF(!opens(c, prm, e.params_len, pl, e.payload_len - 1, CN, &err) && err.msg[0],
                      "%s: payload one byte short accepted", lb);
            SOFTF(!opens(c, prm, e.params_len + 1, pl, e.payload_len, CN, &err) && err.msg[0],
                  "%s: params one byte long accepted", lb);
            if (e.params_len > 0)
                SOFTF(!opens(c, prm, e.params_len - 1, pl, e.payload_len, CN, &err) && err.msg[0],
                      "%s: params one byte short accepted", lb);
            SOFTF(!opens(c, prm, HC_MAX_PARAMS + 1, pl, e.payload_len, CN, &err), "%s: oversized params accepted",
                  lb);
            /* hostile sizes: no weights, more weights than the payload holds, huge
             * counts (CN - 1 may need the same bytes as CN: block padding) */
            static const uint64_t hostile_n[] = {0, CN + 1, CN + 64, (uint64_t)1 << 40, (uint64_t)1 << 62,
                                                 UINT64_MAX / 2, UINT64_MAX};
            for (size_t k = 0; k < sizeof hostile_n / sizeof hostile_n[0]; k++)
                SOFTF(!opens(c, prm, e.params_len, pl, e.payload_len, hostile_n[k], &err) && err.msg[0],
                      "%s: opened for %llu weights", lb, (unsigned long long)hostile_n[k]);
            /* every params byte set to hostile values (zero scales, huge dims,
             * unknown versions and flags): refused, or harmless to decode */
            for (uint32_t b = 0; b < e.params_len; b++) {
                const uint8_t vals[5] = {0, 0xff, 0x80, (uint8_t)(e.params[b] ^ 1), 0x7f};
                for (int v = 0; v < 5; v++) {
                    memcpy(prm, e.params, e.params_len);
                    prm[b] = vals[v];
                    (void)opens(c, prm, e.params_len, pl, e.payload_len, CN, &err);
                }
            }
            /* aligned 2- and 4-byte fields set to zero, all ones, Inf, NaN,
             * the largest finite float (zero or NaN scales, huge dims) */
            static const uint32_t words[] = {0, 0xffffffffu, 0x7f800000u, 0x7fc00000u, 0x7f7fffffu, 0x00000001u};
            for (uint32_t b = 0; b + 2 <= e.params_len; b += 2)
                for (size_t v = 0; v < sizeof words / sizeof words[0]; v++) {
                    memcpy(prm, e.params, e.params_len);
                    uint32_t width = (b % 4 == 0 && b + 4 <= e.params_len) ? 4 : 2;
                    for (uint32_t k = 0; k < width; k++) prm[b + k] = (uint8_t)(words[v] >> (8 * (k + 4 - width)));
                    (void)opens(c, prm, e.params_len, pl, e.payload_len, CN, &err);
                }
            memcpy(prm, e.params, e.params_len);
            /* hostile payload bytes (scales of 0, Inf, NaN): decoding does not crash */
            memset(pl, 0xff, e.payload_len);
            (void)opens(c, prm, e.params_len, pl, e.payload_len, CN, &err);
            memset(pl, 0x00, e.payload_len);
            (void)opens(c, prm, e.params_len, pl, e.payload_len, CN, &err);
            free(pl);
            hc_encoded_free(&e);
        }
    }
    /* an unknown codec id */
    uint8_t one = 0;
    SOFTF(!opens((hc_codec_id)HC_CODEC_COUNT, &one, 0, &one, 1, 1, &err) && err.msg[0], "unknown codec id accepted");
    SOFTF(!opens((hc_codec_id)-1, &one, 0, &one, 1, 1, &err) && err.msg[0], "codec id -1 accepted");
    free(w);
}

/* ---- the same bytes on 1 and N threads --------------------------------------------- */

TEST(codec_contract_threads_same_bytes) {
    /* above the size from which the encoders split a tensor over threads
     * (2^20), not a multiple of any block; with a subnormal block and a
     * huge magnitude in a second tensor (hlat's rescaled path) */
    const uint64_t n = ((uint64_t)1 << 20) + 72;
    float *w = malloc(sizeof(float) * n), *w2 = malloc(sizeof(float) * n);
    hc_rng r = {8};
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(0.02 * hc_rng_normal(&r));
    for (uint64_t i = 0; i < n; i++) w2[i] = (i >= 4096 && i < 4128) ? 1e-40f : w[i] * 1e25f;
    hc_error err = {0};
    for (int id = 0; id < HC_CODEC_COUNT; id++) {
        if (!hc_codec_get((hc_codec_id)id) || id == HC_CODEC_RAW) continue;
        for (int which = 0; which < (id == HC_CODEC_HLAT ? 2 : 1); which++) {
            const float *src = which ? w2 : w;
            hc_opts o;
            hc_opts_default(&o);
            o.codec = (hc_codec_id)id;
            hc_encoded one, many;
            o.threads = 1;
            CHECK_OK(hc_encode(src, n, &o, &one, &err), &err);
            o.threads = 3;
            hc_status s = hc_encode(src, n, &o, &many, &err);
            if (s) hc_encoded_free(&one);
            CHECK_OK(s, &err);
            int same = one.codec == many.codec && one.params_len == many.params_len &&
                       !memcmp(one.params, many.params, one.params_len) && one.payload_len == many.payload_len &&
                       !memcmp(one.payload, many.payload, one.payload_len) && one.mse == many.mse &&
                       one.mae == many.mae && one.max_abs_err == many.max_abs_err;
            SOFTF(same, "%s%s: 3 threads code differently from 1", hc_codec_name((hc_codec_id)id),
                  which ? " (x1e25 with a subnormal block)" : "");
            SOFTF((int)one.codec == id, "%s%s: kept lossless (%s)", hc_codec_name((hc_codec_id)id), which ? " x1e25" : "",
                  one.note);
            hc_encoded_free(&one);
            hc_encoded_free(&many);
        }
    }
    free(w);
    free(w2);
}

/* ---- error feedback (calibrated coding) over the hostile tensors ------------------- */

TEST(codec_contract_feedback_hostile_tensors) {
    /* H = A A^T / k + 0.1 I: symmetric positive definite, correlated */
    float *H = malloc(sizeof(float) * COLS * COLS), *A = malloc(sizeof(float) * COLS * 16);
    hc_rng r = {5};
    for (int i = 0; i < COLS * 16; i++) A[i] = (float)hc_rng_normal(&r);
    for (int i = 0; i < COLS; i++)
        for (int j = 0; j < COLS; j++) {
            double s = 0;
            for (int k = 0; k < 16; k++) s += (double)A[i * 16 + k] * A[j * 16 + k];
            H[i * COLS + j] = (float)(s / 16 + (i == j ? 0.1 : 0));
        }
    float *w = malloc(sizeof(float) * N), *dec = malloc(sizeof(float) * N);
    hc_error err = {0};
    for (int id = 0; id < HC_CODEC_COUNT; id++) {
        const hc_codec_vt *vt = hc_codec_get((hc_codec_id)id);
        if (!vt || !vt->encode_matrix) continue;
        setting st[MAX_SETTINGS];
        int ns = settings_of((hc_codec_id)id, st);
        for (int si = 0; si < ns; si++) {
            double plain_snr = 0;
            for (size_t ci = 0; ci < NCASES; ci++) {
                const tcase *tc = &cases[ci];
                make_tensor(tc, w);
                hc_encoded e;
                hc_status s = hc_encode_matrix(w, ROWS, COLS, H, &st[si].o, &e, &err);
                SOFTF(s == HC_OK, "feedback %s, %s: %s", st[si].label, tc->name, err.msg);
                if (s) continue;
                hc_decoder *d;
                int ok = open_enc(&e, N, &d, &err);
                SOFTF(ok, "feedback %s, %s: open: %s", st[si].label, tc->name, err.msg);
                if (!ok) {
                    hc_encoded_free(&e);
                    continue;
                }
                hc_decode_all(d, dec);
                hc_decoder_free(d);
                int raw = e.codec == HC_CODEC_RAW;
                if (tc->kind == T_NONFINITE) { /* kept bit for bit, with the reason */
                    SOFTF(raw && !memcmp(w, dec, sizeof(float) * N) && strstr(e.note, "NaN"),
                          "feedback %s, NaN/Inf: codec %d, note '%s'", st[si].label, (int)e.codec, e.note);
                    hc_encoded_free(&e);
                    continue;
                }
                char why[512] = "";
                int match = stats_match(w, dec, N, &e, why, sizeof why);
                double snr = snr_db(w, dec, N);
                if (getenv("HC_CONTRACT_VERBOSE"))
                    printf("    feedback %-18s %-42s %-5s snr %7.2f dB out_nmse %.3g %s\n", st[si].label, tc->name,
                           hc_codec_name(e.codec), snr, e.out_nmse, e.note);
                SOFTF(match, "feedback %s, %s: %s", st[si].label, tc->name, why);
                SOFTF(isfinite(e.out_nmse), "feedback %s, %s: output NMSE %g", st[si].label, tc->name, e.out_nmse);
                SOFTF(!raw || (snr == 999 && e.note[0]), "feedback %s, %s: kept lossless: exact %d, reason '%s'",
                      st[si].label, tc->name, snr == 999, e.note);
                if (tc->kind == T_PLAIN && tc->scale == 1)
                    plain_snr = snr;
                else if ((tc->kind == T_PLAIN || tc->kind == T_SUBNORMAL_TAIL) && !raw)
                    SOFTF(snr >= plain_snr - 0.5, "feedback %s, %s: SNR %.2f dB, %.2f dB at scale 1", st[si].label,
                          tc->name, snr, plain_snr);
                hc_encoded_free(&e);
            }
        }
    }
    free(H);
    free(A);
    free(w);
    free(dec);
}
