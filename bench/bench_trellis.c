/* bench_trellis.c — the trellis codec's speed and quality per effort level
 * (L = 12, 14, 16), measured side by side in one run:
 *   1. encode speed (weights/s, one thread; L = 12 also on two threads and
 *      with the float search, HYPERC_TRELLIS_COSTS=float) and SNR on a
 *      N(0, 0.02) tensor;
 *   2. SNR and encode speed on a real model (stories260K from HYPERC_SHARED,
 *      every tensor of >= 4096 weights, size-weighted SNR as `hyperc rd`);
 *   3. the fused decode-and-multiply (hc_matvec) and decode against hlat's
 *      default (its int16 product) and the float32 product, on a 2048 x 2048
 *      matrix at 4 bpw; every payload copied so the weights come from memory.
 * Rounds interleave the kernels; best and median are printed.
 *   HYPERC_BENCH_ROUNDS=N   product rounds (default 7)
 *   HYPERC_BENCH_QUICK=1    smaller encode tensors, no L = 16 model run */
#include "hyperc.h"
#include "../src/codec/hlat.h"
#include "../src/codec/trellis.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COPIES 8

/* this thread's CPU time: on a shared box, what one thread spent */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng_s;
static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double normal(void) { /* Box-Muller */
    double u1 = ((double)(next_u64() >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(next_u64() >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double snr_db(const hc_encoded *e, uint64_t n) { return 10 * log10(e->sum_sq / (e->mse * (double)n)); }

static int encode(const float *w, uint64_t n, uint64_t cols, double bpw, uint32_t L, int threads, hc_encoded *e,
                  double *sec, double *cpu) {
    hc_opts o;
    hc_opts_default(&o);
    o.codec = HC_CODEC_TRELLIS;
    o.target_bpw = bpw;
    o.effort = L;
    o.cols = cols;
    o.threads = threads;
    hc_error err = {0};
    double t0 = hc_now(), c0 = cpu_now();
    hc_status s = hc_encode(w, n, &o, e, &err);
    *sec = hc_now() - t0;
    if (cpu) *cpu = cpu_now() - c0;
    if (s) fprintf(stderr, "bench_trellis: encode: %s\n", err.msg);
    return s == HC_OK;
}

/* 1. encode speed and SNR on N(0, 0.02) */
static int bench_encode(int quick) {
    printf("encode: N(0, 0.02) rows of 1024, best of rounds; M w/s by the thread's CPU time and by wall time\n");
    printf("  %-32s %6s %10s %10s %9s\n", "setting", "bpw", "M w/s cpu", "M w/s wall", "SNR dB");
    static const struct { uint32_t L; uint64_t rows; int rounds; } lv[] = {{12, 256, 3}, {14, 64, 2}, {16, 16, 1}};
    static const double rates[] = {2.0, 3.0, 4.0};
    for (size_t li = 0; li < 3; li++) {
        uint64_t rows = quick ? lv[li].rows / 4 : lv[li].rows, cols = 1024, n = rows * cols;
        float *w = malloc(sizeof(float) * n);
        rng_s = 11;
        for (uint64_t i = 0; i < n; i++) w[i] = (float)(0.02 * normal());
        for (size_t ri = 0; ri < 3; ri++) {
            /* variants: int16 search, float search (L = 12), two threads (L = 12) */
            int nv = lv[li].L == 12 ? 3 : 1;
            for (int v = 0; v < nv; v++) {
                if (v == 1) setenv("HYPERC_TRELLIS_COSTS", "float", 1);
                double best = 1e30, bestc = 1e30, snr = 0;
                for (int r = 0; r < lv[li].rounds; r++) {
                    hc_encoded e;
                    double sec, cpu;
                    if (!encode(w, n, cols, rates[ri], lv[li].L, v == 2 ? 2 : 1, &e, &sec, &cpu)) return 1;
                    if (sec < best) best = sec;
                    if (cpu < bestc) bestc = cpu;
                    snr = snr_db(&e, n);
                    hc_encoded_free(&e);
                }
                unsetenv("HYPERC_TRELLIS_COSTS");
                char name[64];
                snprintf(name, sizeof name, "L=%u %s", lv[li].L,
                         v == 0 ? "int16 search" : v == 1 ? "float search" : "int16 search, 2 threads");
                if (v == 2) /* the main thread's CPU time is not the work's */
                    printf("  %-32s %6.2f %10s %10.3f %9.2f\n", name, rates[ri], "", (double)n / best / 1e6, snr);
                else
                    printf("  %-32s %6.2f %10.3f %10.3f %9.2f\n", name, rates[ri], (double)n / bestc / 1e6,
                           (double)n / best / 1e6, snr);
            }
        }
        free(w);
    }
    return 0;
}

/* 2. a real model: every tensor of >= 4096 weights at 3 bpw */
static int bench_model(int quick) {
    const char *sh = getenv("HYPERC_SHARED");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.safetensors", sh ? sh : "/work/shared");
    hc_safetensors *st;
    hc_error err = {0};
    if (hc_st_open(path, &st, &err)) {
        printf("real model: %s not readable (%s): skipped\n", path, err.msg);
        return 0;
    }
    printf("stories260K, tensors >= 4096 weights, --bpw 3, one thread: size-weighted SNR (as hyperc rd)\n");
    printf("  %-8s %10s %9s\n", "effort", "M w/s cpu", "SNR dB");
    for (uint32_t L = 12; L <= (quick ? 14u : 16u); L += 2) {
        double sec_all = 0, ss = 0, se = 0;
        uint64_t nall = 0;
        for (size_t i = 0; i < hc_st_count(st); i++) {
            const hc_tensor_info *ti = hc_st_info(st, i);
            if (!ti || ti->nelem < 4096 || !hc_dtype_is_codable(ti->dtype) || ti->ndim < 2) continue;
            float *w = malloc(sizeof(float) * ti->nelem);
            hc_to_f32(ti->dtype, hc_st_data(st, i), w, ti->nelem);
            hc_encoded e;
            double sec, cpu;
            if (!encode(w, ti->nelem, ti->nelem / ti->shape[0], 3.0, L, 1, &e, &sec, &cpu)) return 1;
            sec_all += cpu;
            ss += e.sum_sq;
            se += e.mse * (double)ti->nelem;
            nall += ti->nelem;
            hc_encoded_free(&e);
            free(w);
        }
        printf("  L=%-6u %10.3f %9.2f\n", L, (double)nall / sec_all / 1e6, 10 * log10(ss / se));
    }
    hc_st_close(st);
    return 0;
}

typedef struct kern {
    const char *label;
    hc_decoder *d[COPIES];
    double *t, *td;
} kern;

/* A payload for state size L with the block scales and offset of e's (a
 * trellis payload at L = 12) and random stream bits: the kernels' speed
 * does not depend on what the encoder chose. */
static uint8_t *retarget(const hc_encoded *e, uint64_t n, uint32_t L, uint8_t *params, uint64_t *len) {
    tr_params p;
    hc_error err = {0};
    if (tr_params_read(e->params, e->params_len, &p, &err)) return NULL;
    p.L = L;
    uint64_t nb = (n + TR_BLOCK - 1) / TR_BLOCK, sb = tr_scale_bytes(nb);
    uint8_t *q = malloc(nb);
    for (uint64_t b = 0; b < nb; b++) q[b] = (uint8_t)tr_get_bits(e->payload, sb, b * TR_SBITS, TR_SBITS);
    *len = sb + (tr_stream_bits(&p, q, n) + 7) / 8;
    uint8_t *pl = malloc(*len);
    memcpy(pl, e->payload, sb);
    for (uint64_t i = sb; i < *len; i++) pl[i] = (uint8_t)next_u64();
    free(q);
    tr_params_write(&p, params);
    return pl;
}

/* 3. products and decode */
static int bench_product(int rounds) {
    const uint64_t rows = 2048, cols = 2048, n = rows * cols;
    float *w = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * cols), *y = malloc(sizeof(float) * rows);
    float *dec = malloc(sizeof(float) * n);
    rng_s = 5;
    for (uint64_t i = 0; i < n; i++) w[i] = (float)(0.02 * normal());
    for (uint64_t i = 0; i < cols; i++) x[i] = (float)normal();
    hc_error err = {0};
    hc_encoded et, eh;
    double sec;
    if (!encode(w, n, cols, 4.0, 12, 2, &et, &sec, NULL)) return 1;
    hc_opts o;
    hc_opts_default(&o);
    o.target_bpw = 4.0;
    if (hc_encode(w, n, &o, &eh, &err)) {
        fprintf(stderr, "bench_trellis: hlat encode: %s\n", err.msg);
        return 1;
    }
    enum { NK = 6 };
    kern k[NK];
    memset(k, 0, sizeof k);
    const char *labels[NK] = {"float32",      "hlat default (q16)", "trellis L=12",
                              "trellis L=12 ref", "trellis L=14",     "trellis L=16"};
    uint8_t *pay[NK][COPIES];
    memset(pay, 0, sizeof pay);
    for (int c = 0; c < COPIES; c++) {
        if (c < 4) { /* float32: 4 copies of 16 MiB */
            pay[0][c] = malloc(n * 4);
            memcpy(pay[0][c], w, n * 4);
            if (hc_decoder_open(HC_CODEC_RAW, NULL, 0, pay[0][c], n * 4, n, HC_F32, &k[0].d[c], &err)) goto fail;
        } else {
            k[0].d[c] = k[0].d[c - 4];
        }
        pay[1][c] = malloc(eh.payload_len);
        memcpy(pay[1][c], eh.payload, eh.payload_len);
        if (hc_decoder_open(eh.codec, eh.params, eh.params_len, pay[1][c], eh.payload_len, n, HC_F32, &k[1].d[c], &err))
            goto fail;
        for (int t = 2; t <= 3; t++) {
            pay[t][c] = malloc(et.payload_len);
            memcpy(pay[t][c], et.payload, et.payload_len);
            if (t == 3) setenv("HYPERC_TRELLIS_KERNEL", "ref", 1);
            hc_status s = hc_decoder_open(et.codec, et.params, et.params_len, pay[t][c], et.payload_len, n, HC_F32,
                                          &k[t].d[c], &err);
            unsetenv("HYPERC_TRELLIS_KERNEL");
            if (s) goto fail;
        }
        for (int t = 4; t <= 5; t++) {
            uint8_t prm[TR_PARAMS_BYTES];
            uint64_t len;
            pay[t][c] = retarget(&et, n, t == 4 ? 14 : 16, prm, &len);
            if (!pay[t][c] || hc_decoder_open(HC_CODEC_TRELLIS, prm, TR_PARAMS_BYTES, pay[t][c], len, n, HC_F32,
                                              &k[t].d[c], &err))
                goto fail;
        }
    }
    for (int i = 0; i < NK; i++) {
        k[i].label = labels[i];
        k[i].t = malloc(sizeof(double) * (size_t)rounds);
        k[i].td = malloc(sizeof(double) * (size_t)rounds);
    }
    int turn = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < NK; i++, turn++) {
            const hc_decoder *d = k[i].d[turn % COPIES];
            double t0 = cpu_now();
            hc_matvec(d, cols, 0, rows, x, y);
            k[i].t[r] = cpu_now() - t0;
            t0 = cpu_now();
            hc_decode_all(d, dec);
            k[i].td[r] = cpu_now() - t0;
        }
    printf("y = W x and decode, %llu x %llu, 4 bpw (trellis %.3f coded bpw, hlat %.3f), one thread unless said; "
           "thread CPU time, best / median of %d rounds\n",
           (unsigned long long)rows, (unsigned long long)cols, 8.0 * (double)et.payload_len / (double)n,
           8.0 * (double)eh.payload_len / (double)n, rounds);
    printf("  %-20s %10s %10s %14s %10s\n", "kernel", "prod G w/s", "(median)", "x float32 med", "decode G/s");
    double fmed = 0;
    for (int i = 0; i < NK; i++) {
        qsort(k[i].t, (size_t)rounds, sizeof(double), cmp_d);
        qsort(k[i].td, (size_t)rounds, sizeof(double), cmp_d);
        double med = k[i].t[rounds / 2];
        if (i == 0) fmed = med;
        printf("  %-20s %10.3f %10.3f %14.2f", k[i].label, (double)n / k[i].t[0] / 1e9, (double)n / med / 1e9,
               fmed / med);
        printf(" %10.3f\n", (double)n / k[i].td[0] / 1e9);
    }
    for (int i = 0; i < NK; i++) {
        free(k[i].t);
        free(k[i].td);
    }
    for (int c = 0; c < COPIES; c++) {
        for (int i = 1; i <= 5; i++) hc_decoder_free(k[i].d[c]);
        if (c < 4) hc_decoder_free(k[0].d[c]);
        for (int i = 0; i <= 5; i++) free(pay[i][c]);
    }
    hc_encoded_free(&et);
    hc_encoded_free(&eh);
    free(w);
    free(x);
    free(y);
    free(dec);
    return 0;
fail:
    fprintf(stderr, "bench_trellis: open: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv) {
    int rounds = getenv("HYPERC_BENCH_ROUNDS") ? atoi(getenv("HYPERC_BENCH_ROUNDS")) : 7;
    int quick = getenv("HYPERC_BENCH_QUICK") != NULL;
    if (rounds < 1) rounds = 1;
    const char *only = argc > 1 ? argv[1] : "";
    printf("bench_trellis (SIMD level %s)\n", getenv("HYPERC_SIMD") ? getenv("HYPERC_SIMD") : "auto");
    if ((!*only || !strcmp(only, "encode")) && bench_encode(quick)) return 1;
    if ((!*only || !strcmp(only, "model")) && bench_model(quick)) return 1;
    if ((!*only || !strcmp(only, "product")) && bench_product(rounds)) return 1;
    return 0;
}
