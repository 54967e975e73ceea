/* bench_codec.c — codec speed and quality, measured in one run.
 *
 * For each codec setting, on (1) a 4096x4096 tensor of realistic weights
 * (Student-t, 4 degrees of freedom, scaled to std 0.02: Gaussian-like with
 * heavy tails; fixed seed) and (2) every tensor of >= 4096 weights of
 * stories260K.safetensors, prints on ONE thread:
 *   encode and decode throughput (M weights/s), bits per weight, NMSE/SNR;
 * and on the big tensor the fused decode-and-multiply (y = W x) against the
 * float32 product of the same runner (hc_matvec over a RAW F32 decoder), on
 * one thread and with the rows split over every core, the weights read from
 * memory as in inference (see "timing the products"). */
#include "hyperc.h"
#include "../src/common/util.h"
#include "../src/infer/infer.h"
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

/* ---- timing the products ------------------------------------------------------ */
/* In inference each layer's weights come from memory once per token: a
 * model's layers together are far larger than the last-level cache. So the
 * products are timed over copies of the matrix whose total passes
 * STREAM_BYTES (256 MiB, past any LLC here), taken in turn: every product
 * reads its weights from memory. One matrix product after another on the
 * same copy ("in cache") is printed too, for the kernels' compute speed; a
 * float32 4096x4096 matrix (64 MiB) streams either way.
 *
 * Best of the products after 30 ms of warm-up: the first products after a
 * decoder opens (or after other work) run up to 2x slower on this machine
 * while clocks and caches settle. Threads: a persistent pool, as the runner
 * uses, so no thread start is timed. */
#define STREAM_BYTES (256ull << 20)
#define MAX_COPIES 64
#define MATVEC_WARMUP_S 0.03
#define MATVEC_REPS 40

typedef struct product {
    hc_decoder *d[MAX_COPIES]; /* decoders over copies of one payload */
    uint8_t *copy[MAX_COPIES]; /* the copies (NULL for d[0])           */
    int n;
    uint64_t rows, cols;
    const float *x;
    float *y;
    hc_pool *pool;             /* NULL: one thread                     */
    uint64_t chunk;            /* rows per task                        */
    const hc_decoder *cur;
} product;

static void product_rows(void *p, uint64_t i, int tid) {
    (void)tid;
    product *c = (product *)p;
    uint64_t r0 = i * c->chunk, r1 = r0 + c->chunk < c->rows ? r0 + c->chunk : c->rows;
    hc_matvec(c->cur, c->cols, r0, r1, c->x, c->y + r0);
}

static void product_run(product *c, const hc_decoder *d) {
    c->cur = d;
    if (!c->pool) {
        hc_matvec(d, c->cols, 0, c->rows, c->x, c->y);
        return;
    }
    hc_pool_run(c->pool, (c->rows + c->chunk - 1) / c->chunk, product_rows, c);
}

/* best seconds of one product; streaming: over the copies in turn */
static double product_time(product *c, int streaming) {
    const int n = streaming ? c->n : 1;
    int k = 0;
    for (double t0 = now(); now() - t0 < MATVEC_WARMUP_S; k = (k + 1) % n) product_run(c, c->d[k]);
    double best = 1e30;
    for (int r = 0; r < MATVEC_REPS; r++, k = (k + 1) % n) {
        double t0 = now();
        product_run(c, c->d[k]);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* best seconds of a's and of b's products, streaming, timed alternately
 * (a, b, a, b, ...) so that the machine's drift, 10-20% over seconds here,
 * falls on both alike and their ratio holds */
static void product_time_pair(product *a, product *b, double *ta, double *tb) {
    int ka = 0, kb = 0;
    for (double t0 = now(); now() - t0 < MATVEC_WARMUP_S; ka = (ka + 1) % a->n, kb = (kb + 1) % b->n) {
        product_run(a, a->d[ka]);
        product_run(b, b->d[kb]);
    }
    *ta = *tb = 1e30;
    for (int r = 0; r < MATVEC_REPS; r++, ka = (ka + 1) % a->n, kb = (kb + 1) % b->n) {
        double t0 = now();
        product_run(a, a->d[ka]);
        double t1 = now();
        product_run(b, b->d[kb]);
        double t2 = now();
        if (t1 - t0 < *ta) *ta = t1 - t0;
        if (t2 - t1 < *tb) *tb = t2 - t1;
    }
}

/* the decoders over enough copies of (codec, params, payload) to stream */
static int product_open(product *c, hc_codec_id codec, const uint8_t *params, uint32_t params_len,
                        const uint8_t *payload, uint64_t payload_len, hc_error *err) {
    c->n = 0;
    uint64_t want = (STREAM_BYTES + payload_len - 1) / (payload_len ? payload_len : 1);
    if (want < 1) want = 1;
    if (want > MAX_COPIES) want = MAX_COPIES;
    for (uint64_t k = 0; k < want; k++) {
        const uint8_t *src = payload;
        c->copy[k] = NULL;
        if (k > 0) {
            if (!(c->copy[k] = malloc(payload_len ? payload_len : 1))) break;
            memcpy(c->copy[k], payload, payload_len);
            src = c->copy[k];
        }
        if (hc_decoder_open(codec, params, params_len, src, payload_len, c->rows * c->cols, HC_F32, &c->d[k], err) !=
            HC_OK) {
            free(c->copy[k]);
            break;
        }
        c->n++;
    }
    return c->n > 0 ? 0 : -1;
}

static void product_close(product *c) {
    for (int k = 0; k < c->n; k++) {
        hc_decoder_free(c->d[k]);
        free(c->copy[k]);
    }
    c->n = 0;
}

typedef struct product_times {
    double one, f32_one;   /* seconds, one thread, from memory: this product and float32 alongside */
    double all, f32_all;   /* the same on every core                                              */
    double one_cached;     /* one thread, the same copy each time                                  */
} product_times;

static product_times product_measure(product *c, product *f32, hc_pool *pool) {
    product_times t;
    c->pool = f32->pool = NULL;
    product_time_pair(f32, c, &t.f32_one, &t.one);
    t.one_cached = product_time(c, 0);
    c->pool = f32->pool = pool;
    product_time_pair(f32, c, &t.f32_all, &t.all);
    c->pool = f32->pool = NULL;
    return t;
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
    const int threads = hc_cpu_count();
    hc_pool *pool = NULL;
    if (hc_pool_new(threads, &pool, &err) != HC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    product pr, f32;
    memset(&pr, 0, sizeof pr);
    pr.rows = rows, pr.cols = cols, pr.x = x, pr.y = y;
    pr.chunk = (rows + 4 * (uint64_t)threads - 1) / (4 * (uint64_t)threads); /* as the runner splits */
    f32 = pr;
    f32.y = y_ref;
    if (product_open(&f32, HC_CODEC_RAW, NULL, 0, (const uint8_t *)w, n * 4, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("  Fused products: 4096x4096, weights from memory (copies past the last-level cache, as in\n"
           "  inference), each against the float32 product (RAW F32 decoder) timed alternately with it.\n\n");

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
            if (!product_open(&pr, e.codec, e.params, e.params_len, e.payload, e.payload_len, &err)) {
                const product_times t = product_measure(&pr, &f32, pool);
                printf("  %-14s %-22s matvec %.3f ms = %.2fx float32 (%.3f ms; in cache %.3f ms); on %d threads "
                       "%.3f ms = %.2fx float32 (%.3f ms)\n",
                       "fused", settings[k].label, t.one * 1e3, t.f32_one / t.one, t.f32_one * 1e3,
                       t.one_cached * 1e3, threads, t.all * 1e3, t.f32_all / t.all, t.f32_all * 1e3);
                product_close(&pr);
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
    product_close(&f32);
    hc_pool_free(pool);
    free(w);
    free(out);
    free(x);
    free(y);
    free(y_ref);
    return 0;
}
