/* bench_codec.c — codec speed and quality, measured in one run.
 *
 * For each codec setting, on (1) a 4096x4096 tensor of realistic weights
 * (Student-t, 4 degrees of freedom, scaled to std 0.02: Gaussian-like with
 * heavy tails; fixed seed) and (2) every tensor of >= 4096 weights of
 * stories260K.safetensors, prints on ONE thread:
 *   encode and decode throughput (M weights/s), bits per weight, NMSE/SNR;
 * and on the big tensor the fused decode-and-multiply (y = W x) against the
 * float32 product of the same runner (hc_matvec over a RAW F32 decoder), on
 * one thread and with the rows split over every core. */
#include "hyperc.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x1234567887654321ull;
static double uniform(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double normal(void) { return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()); }

/* Student-t(4) scaled to standard deviation s (variance of t4 is 2). */
static void fill_weights(float *w, uint64_t n, double s) {
    for (uint64_t i = 0; i < n; i++) {
        double z = normal(), chi = 0;
        for (int k = 0; k < 4; k++) {
            double g = normal();
            chi += g * g;
        }
        w[i] = (float)(s * z / sqrt(chi / 4.0) / sqrt(2.0));
    }
}

typedef struct setting {
    const char *label;
    const char *preset;     /* hc_opts_preset name             */
    const char *codec;      /* optional codec override          */
    uint32_t bits;          /* 0: keep                          */
} setting;

static const setting settings[] = {
    {"paper-llm", "paper-llm", NULL, 0},
    {"paper auto-L", "default", "paper", 0},
    {"default (hlat)", "default", NULL, 0},
    {"hlat m=17", "default", "hlat", 17},
    {"q4b", "default", "q4b", 0},
    {"q8b", "default", "q8b", 0},
    {"qkm 4-bit", "default", "qkm", 4},
};

static int make_opts(const setting *s, hc_opts *o) {
    hc_error err;
    hc_error_clear(&err);
    if (hc_opts_preset(o, s->preset, &err) != HC_OK) return -1;
    if (s->codec) {
        hc_codec_id c;
        if (hc_codec_parse(s->codec, &c)) return -1; /* not in this build */
        o->codec = c;
    }
    if (s->bits) o->bits = s->bits;
    return 0;
}

/* encodes, decodes, and reports one tensor; returns encode seconds etc. */
typedef struct measure {
    double enc_s, dec_s, bits, sq_err, sum_sq;
    uint64_t n;
    int failed;
} measure;

static void run_tensor(const float *w, uint64_t n, const hc_opts *o, measure *m, float *out) {
    hc_error err;
    hc_error_clear(&err);
    hc_encoded e;
    double t0 = now();
    if (hc_encode(w, n, o, &e, &err) != HC_OK) {
        fprintf(stderr, "  encode failed: %s\n", err.msg);
        m->failed = 1;
        return;
    }
    m->enc_s += now() - t0;
    hc_decoder *d;
    if (hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err) != HC_OK) {
        fprintf(stderr, "  open failed: %s\n", err.msg);
        hc_encoded_free(&e);
        m->failed = 1;
        return;
    }
    int reps = n >= (1u << 20) ? 3 : 20;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        t0 = now();
        hc_decode_all(d, out);
        double t = now() - t0;
        if (t < best) best = t;
    }
    m->dec_s += best;
    for (uint64_t i = 0; i < n; i++) {
        double diff = (double)out[i] - w[i];
        m->sq_err += diff * diff;
        m->sum_sq += (double)w[i] * w[i];
    }
    m->bits += 8.0 * (double)(e.payload_len + e.params_len);
    m->n += n;
    hc_decoder_free(d);
    hc_encoded_free(&e);
}

static void print_measure(const char *what, const char *label, const measure *m) {
    if (m->failed || !m->n) {
        printf("  %-14s %-22s failed\n", what, label);
        return;
    }
    double nmse = m->sq_err / m->sum_sq;
    printf("  %-14s %-22s enc %8.2f Mw/s   dec %8.1f Mw/s   %6.3f bpw   nmse %.3e  snr %6.2f dB\n", what, label,
           (double)m->n / m->enc_s / 1e6, (double)m->n / m->dec_s / 1e6, m->bits / (double)m->n, nmse,
           -10 * log10(nmse));
}

/* Best of 20 products after 30 ms of warm-up: the first products after a
 * decoder opens (or after other work) run up to 2x slower on this machine
 * while clocks and caches settle; the steady state is what inference sees. */
#define MATVEC_WARMUP_S 0.03
#define MATVEC_REPS 20
static double time_matvec(const hc_decoder *d, uint64_t rows, uint64_t cols, const float *x, float *y) {
    for (double t0 = now(); now() - t0 < MATVEC_WARMUP_S;) hc_matvec(d, cols, 0, rows, x, y);
    double best = 1e30;
    for (int r = 0; r < MATVEC_REPS; r++) {
        double t0 = now();
        hc_matvec(d, cols, 0, rows, x, y);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* the same product split by rows over every core, as the runner does */
typedef struct mt_ctx {
    const hc_decoder *d;
    uint64_t rows, cols, chunk;
    const float *x;
    float *y;
} mt_ctx;

static void mt_rows(void *p, uint64_t i, int tid) {
    (void)tid;
    mt_ctx *c = (mt_ctx *)p;
    uint64_t r0 = i * c->chunk, r1 = r0 + c->chunk < c->rows ? r0 + c->chunk : c->rows;
    hc_matvec(c->d, c->cols, r0, r1, c->x, c->y + r0);
}

static double time_matvec_mt(const hc_decoder *d, uint64_t rows, uint64_t cols, const float *x, float *y) {
    int t = hc_cpu_count();
    mt_ctx c = {d, rows, cols, (rows + (uint64_t)t - 1) / (uint64_t)t, x, y};
    for (double t0 = now(); now() - t0 < MATVEC_WARMUP_S;) hc_parallel_for(t, (rows + c.chunk - 1) / c.chunk, mt_rows, &c);
    double best = 1e30;
    for (int r = 0; r < MATVEC_REPS; r++) {
        double t0 = now();
        hc_parallel_for(t, (rows + c.chunk - 1) / c.chunk, mt_rows, &c);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static const char *shared_dir(void) {
    const char *s = getenv("HYPERC_SHARED");
    return s ? s : "../shared";
}

int main(void) {
    const uint64_t rows = 4096, cols = 4096, n = rows * cols;
    float *w = malloc(n * sizeof *w), *out = malloc(n * sizeof *out);
    float *x = malloc(cols * sizeof *x), *y = malloc(rows * sizeof *y), *y_ref = malloc(rows * sizeof *y);
    if (!w || !out || !x || !y || !y_ref) return 1;
    fill_weights(w, n, 0.02);
    for (uint64_t i = 0; i < cols; i++) x[i] = (float)normal();
    printf("bench_codec: one thread; 4096x4096 Student-t(4) weights (std 0.02, seed fixed) and\n"
           "stories260K.safetensors tensors >= 4096 weights. Mw/s = million weights per second.\n\n");

    hc_error err;
    hc_error_clear(&err);
    hc_decoder *fd;
    if (hc_decoder_open(HC_CODEC_RAW, NULL, 0, (const uint8_t *)w, n * 4, n, HC_F32, &fd, &err) != HC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_f32 = time_matvec(fd, rows, cols, x, y_ref), t_f32_mt = time_matvec_mt(fd, rows, cols, x, y_ref);
    printf("  float32 matvec 4096x4096 (RAW F32 decoder): %.3f ms on one thread, %.3f ms on %d threads\n\n",
           t_f32 * 1e3, t_f32_mt * 1e3, hc_cpu_count());

    hc_safetensors *st = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.safetensors", shared_dir());
    if (hc_st_open(path, &st, &err) != HC_OK) fprintf(stderr, "(stories260K not measured: %s)\n", err.msg);

    for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
        hc_opts o;
        if (make_opts(&settings[k], &o)) continue; /* codec not in this build */
        printf("%s (codec %s)\n", settings[k].label, hc_codec_name(o.codec));
        measure m;
        memset(&m, 0, sizeof m);
        run_tensor(w, n, &o, &m, out);
        print_measure("4096x4096", settings[k].label, &m);
        /* fused decode-and-multiply against float32 */
        hc_encoded e;
        if (!m.failed && hc_encode(w, n, &o, &e, &err) == HC_OK) {
            hc_decoder *d;
            if (hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, n, HC_F32, &d, &err) ==
                HC_OK) {
                double t = time_matvec(d, rows, cols, x, y), tm = time_matvec_mt(d, rows, cols, x, y);
                printf("  %-14s %-22s matvec %.3f ms = %.2fx the float32 product; on %d threads %.3f ms = %.2fx\n",
                       "fused", settings[k].label, t * 1e3, t_f32 / t, hc_cpu_count(), tm * 1e3, t_f32_mt / tm);
                hc_decoder_free(d);
            }
            hc_encoded_free(&e);
        }
        if (st) {
            measure ms;
            memset(&ms, 0, sizeof ms);
            for (size_t i = 0; i < hc_st_count(st); i++) {
                const hc_tensor_info *ti = hc_st_info(st, i);
                if (ti->dtype != HC_F32 || ti->nelem < 4096) continue;
                float *tw = malloc(ti->nelem * 4);
                if (!tw) return 1;
                memcpy(tw, hc_st_data(st, i), ti->nelem * 4);
                run_tensor(tw, ti->nelem, &o, &ms, out);
                free(tw);
            }
            print_measure("stories260K", settings[k].label, &ms);
        }
        printf("\n");
    }
    hc_st_close(st);
    hc_decoder_free(fd);
    free(w);
    free(out);
    free(x);
    free(y);
    free(y_ref);
    return 0;
}
