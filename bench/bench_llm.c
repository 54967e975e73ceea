/* bench_llm.c — tokens per second of generation on a llama-shaped model of
 * about 1.1 B parameters (TinyLlama's shape: dim 2048, hidden 5632, 22
 * layers, 32 query / 4 key-value heads, vocab 32000, separate classifier),
 * filled with Gaussian weights (std 0.02, fixed seed: speed does not depend
 * on the values), held as float32 and compressed by each codec setting.
 * Every figure comes from this one run, same threads, same prompt.
 *
 *   HYPERC_BENCH_LLM_SCALE=small  runs a 4x narrower model (quick check).
 *
 * Given a model file it times token generation from that file instead, the
 * way llama.cpp's `llama-bench -p 0 -n N` does (bench/peer/ uses it):
 *   bench_llm MODEL [-t THREADS] [-n TOKENS] [-r REPS]
 * MODEL: .hyc, GGUF, safetensors or llama2.c. One untimed warm-up token,
 * then REPS times: the cache emptied, TOKENS single-token forward steps at
 * positions 0..TOKENS-1 (BOS, then pseudo-random tokens: no sampling, no
 * prompt, no tokenizer), each computing the last token's logits. Prints one
 * line of key=value fields: tokens/s per rep, their mean, the load time
 * (open + warm-up) and the peak RSS of the process. */
#include "hyperc.h"
#include "hyperc_llm.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define N_CODED 2 /* the coded settings: paper-llm, default */
#define ROUNDS 3  /* runs per setting, interleaved; the best one counts */

typedef struct bench_tensor {
    hc_tensor_info info;
    float *w;                /* float32 weights            (nelem)       */
    hc_encoded enc[N_CODED]; /* the compressed forms, per setting        */
} bench_tensor;

typedef struct bench_model {
    bench_tensor *t;
    size_t n;
    int setting;          /* -1: decoders over w (RAW F32), else over enc[setting] */
    const hc_opts *opts;  /* the options encode_tensor codes setting with */
} bench_model;

static const hc_tensor_info *src_info(void *user, size_t i) { return &((bench_model *)user)->t[i].info; }

static hc_status src_open(void *user, size_t i, hc_decoder **out, hc_error *err) {
    bench_model *m = (bench_model *)user;
    bench_tensor *t = &m->t[i];
    const hc_encoded *e = m->setting >= 0 ? &t->enc[m->setting] : NULL;
    if (e && e->payload)
        return hc_decoder_open(e->codec, e->params, e->params_len, e->payload, e->payload_len, t->info.nelem, HC_F32,
                               out, err);
    return hc_decoder_open(HC_CODEC_RAW, NULL, 0, (const uint8_t *)t->w, t->info.nbytes, t->info.nelem, HC_F32, out,
                           err);
}

static void add_tensor(bench_model *m, const char *name, uint64_t rows, uint64_t cols) {
    bench_tensor *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->info.name, sizeof t->info.name, "%s", name);
    t->info.dtype = HC_F32;
    t->info.ndim = cols ? 2 : 1;
    t->info.shape[0] = rows;
    t->info.shape[1] = cols;
    t->info.nelem = rows * (cols ? cols : 1);
    t->info.nbytes = t->info.nelem * 4;
}

static void fill_tensor(void *p, uint64_t i, int tid) {
    (void)tid;
    bench_tensor *t = &((bench_model *)p)->t[i];
    t->w = malloc(t->info.nbytes);
    if (!t->w) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint64_t s = 0x9E3779B97F4A7C15ull * (i + 1);
    int is_norm = t->info.ndim == 1;
    for (uint64_t k = 0; k < t->info.nelem; k += 2) {
        /* xorshift64* + Box-Muller: two normals per step */
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t a = s * 0x2545F4914F6CDD1Dull;
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t b = s * 0x2545F4914F6CDD1Dull;
        double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0, u2 = (double)(b >> 11) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1));
        t->w[k] = is_norm ? 1.0f : (float)(0.02 * r * cos(6.283185307179586 * u2));
        if (k + 1 < t->info.nelem) t->w[k + 1] = is_norm ? 1.0f : (float)(0.02 * r * sin(6.283185307179586 * u2));
    }
}

static void encode_tensor(void *p, uint64_t i, int tid) {
    (void)tid;
    bench_model *m = (bench_model *)p;
    bench_tensor *t = &m->t[i];
    hc_encoded *e = &t->enc[m->setting];
    if (t->info.ndim != 2) return;
    hc_error err;
    hc_error_clear(&err);
    if (hc_encode(t->w, t->info.nelem, m->opts, e, &err) != HC_OK) {
        fprintf(stderr, "encode %s: %s\n", t->info.name, err.msg);
        exit(1);
    }
    if (e->codec == HC_CODEC_RAW) hc_encoded_free(e);
}

/* The process's peak RSS: VmHWM (reset by exec, so a launcher's own size is
 * not counted, as it is in ru_maxrss), else getrusage. */
static double peak_rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        double kib = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %lf", &kib) == 1) break;
        fclose(f);
        if (kib >= 0) return kib / 1024.0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* generates `steps` tokens greedily; returns tokens/s of the generated part */
static double run_generate(bench_model *bm, const hc_llm_config *cfg, int threads, int steps) {
    hc_llm_source src = {bm, bm->n, src_info, src_open, NULL, NULL, 0};
    hc_error err;
    hc_error_clear(&err);
    hc_llm_model *m = NULL;
    hc_llm_state *s = NULL;
    if (hc_llm_open_source(&src, cfg, "bench", &m, &err) != HC_OK ||
        hc_llm_state_new(m, 64, 1, threads, &s, &err) != HC_OK) {
        fprintf(stderr, "bench model: %s\n", err.msg);
        exit(1);
    }
    int prompt[1] = {1};
    hc_llm_sampling smp = {0, 0, 1};
    hc_llm_gen_stats st;
    if (hc_llm_generate(s, prompt, 1, steps, &smp, NULL, NULL, &st, &err) != HC_OK) {
        fprintf(stderr, "generate: %s\n", err.msg);
        exit(1);
    }
    hc_llm_state_free(s);
    hc_llm_free(m);
    return st.gen_seconds > 0 ? st.generated / st.gen_seconds : 0;
}

/* ---- a model file: pure token generation, as llama-bench's tg test --------------- */
static int bench_file(int argc, char **argv) {
    const char *path = argv[1];
    long threads = 1, n = 64, reps = 1;
    for (int i = 2; i < argc; i++) {
        long *dst = !strcmp(argv[i], "-t") ? &threads : !strcmp(argv[i], "-n") ? &n : !strcmp(argv[i], "-r") ? &reps : NULL;
        char *end = NULL;
        if (!dst || i + 1 >= argc || (*dst = strtol(argv[i + 1], &end, 10), !end || *end) || *dst < 1 || *dst > 1 << 20) {
            fprintf(stderr, "usage: bench_llm MODEL [-t THREADS] [-n TOKENS] [-r REPS]  (bad or unknown '%s')\n", argv[i]);
            return 2;
        }
        i++;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_llm_model *m = NULL;
    hc_llm_state *s = NULL;
    double t0 = hc_now();
    if (hc_llm_open(path, NULL, &m, &err) != HC_OK) {
        fprintf(stderr, "bench_llm: %s\n", err.msg);
        return 1;
    }
    const hc_llm_config *cfg = hc_llm_config_of(m);
    if (n > cfg->seq_len) n = cfg->seq_len;
    float *logits = malloc((size_t)cfg->vocab_size * sizeof *logits);
    double *tps = calloc((size_t)reps, sizeof *tps);
    int rc = 1;
    if (!logits || !tps) {
        fprintf(stderr, "bench_llm: out of memory\n");
        goto done;
    }
    if (hc_llm_state_new(m, (int)n, 1, (int)threads, &s, &err) != HC_OK) goto fail;
    int tok = 1; /* BOS */
    if (hc_llm_forward(s, &tok, 1, 0, logits, 0, &err) != HC_OK) goto fail; /* warm-up: pages in every weight */
    double load_s = hc_now() - t0;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    double sum = 0;
    for (long r = 0; r < reps; r++) {
        double t1 = hc_now();
        for (long i = 0; i < n; i++) {
            if (i > 0) {
                rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
                tok = (int)((rng * 0x2545F4914F6CDD1Dull >> 33) % (uint64_t)cfg->vocab_size);
            } else {
                tok = 1;
            }
            if (hc_llm_forward(s, &tok, 1, (int)i, logits, 0, &err) != HC_OK) goto fail;
        }
        double dt = hc_now() - t1;
        tps[r] = dt > 0 ? (double)n / dt : 0;
        sum += tps[r];
    }
    printf("model=%s format=%s params=%llu threads=%ld tokens=%ld reps=%ld tps=", path, hc_llm_format_of(m),
           (unsigned long long)hc_llm_param_count(m), threads, n, reps);
    for (long r = 0; r < reps; r++) printf("%s%.3f", r ? "," : "", tps[r]);
    printf(" mean_tps=%.3f load_s=%.2f peak_rss_mib=%.1f\n", sum / (double)reps, load_s, peak_rss_mib());
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_llm: %s: %s\n", path, err.msg);
done:
    hc_llm_state_free(s);
    hc_llm_free(m);
    free(logits);
    free(tps);
    return rc;
}

int main(int argc, char **argv) {
    if (argc > 1) return bench_file(argc, argv);
    int small = getenv("HYPERC_BENCH_LLM_SCALE") && !strcmp(getenv("HYPERC_BENCH_LLM_SCALE"), "small");
    hc_llm_config cfg = {2048, 5632, 22, 32, 4, 32000, 2048, 1e-5f, 10000.0f, 0};
    if (small) {
        cfg.dim = 512;
        cfg.hidden_dim = 1408;
        cfg.n_heads = 8;
        cfg.n_kv_heads = 1;
    }
    const int threads = hc_cpu_count(), steps = 16;
    int kv_dim = cfg.dim / cfg.n_heads * cfg.n_kv_heads;
    bench_model bm = {calloc((size_t)(3 + 9 * cfg.n_layers), sizeof(bench_tensor)), 0, -1, NULL};
    if (!bm.t) return 1;
    char name[128];
    add_tensor(&bm, "tok_embeddings.weight", (uint64_t)cfg.vocab_size, (uint64_t)cfg.dim);
    for (int l = 0; l < cfg.n_layers; l++) {
        struct { const char *fmt; uint64_t r, c; } lt[] = {
            {"layers.%d.attention_norm.weight", (uint64_t)cfg.dim, 0},
            {"layers.%d.attention.wq.weight", (uint64_t)cfg.dim, (uint64_t)cfg.dim},
            {"layers.%d.attention.wk.weight", (uint64_t)kv_dim, (uint64_t)cfg.dim},
            {"layers.%d.attention.wv.weight", (uint64_t)kv_dim, (uint64_t)cfg.dim},
            {"layers.%d.attention.wo.weight", (uint64_t)cfg.dim, (uint64_t)cfg.dim},
            {"layers.%d.ffn_norm.weight", (uint64_t)cfg.dim, 0},
            {"layers.%d.feed_forward.w1.weight", (uint64_t)cfg.hidden_dim, (uint64_t)cfg.dim},
            {"layers.%d.feed_forward.w2.weight", (uint64_t)cfg.dim, (uint64_t)cfg.hidden_dim},
            {"layers.%d.feed_forward.w3.weight", (uint64_t)cfg.hidden_dim, (uint64_t)cfg.dim},
        };
        for (size_t k = 0; k < sizeof lt / sizeof lt[0]; k++) {
            snprintf(name, sizeof name, lt[k].fmt, l);
            add_tensor(&bm, name, lt[k].r, lt[k].c);
        }
    }
    add_tensor(&bm, "norm.weight", (uint64_t)cfg.dim, 0);
    add_tensor(&bm, "output.weight", (uint64_t)cfg.vocab_size, (uint64_t)cfg.dim);
    uint64_t params = 0;
    for (size_t i = 0; i < bm.n; i++) params += bm.t[i].info.nelem;
    printf("bench_llm: llama-shaped model, %.3f B parameters (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d),\n"
           "Gaussian weights (std 0.02); greedy generation of %d tokens after a 1-token prompt, %d threads;\n"
           "best of %d runs per setting, the settings' runs interleaved.\n\n",
           (double)params / 1e9, cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size,
           steps, threads, ROUNDS);
    double t0 = hc_now();
    hc_parallel_for(threads, bm.n, fill_tensor, &bm);
    printf("  made the weights in %.1f s\n", hc_now() - t0);

    /* code the model once per setting, then time every setting ROUNDS
     * times, interleaved: this machine's speed drifts by 10-20% over tens
     * of seconds, and interleaving spreads that over all settings alike */
    const char *labels[N_CODED] = {"paper-llm", "default"};
    double enc_s[N_CODED], bpw[N_CODED], mib[N_CODED];
    for (int k = 0; k < N_CODED; k++) {
        hc_opts o;
        hc_error err;
        hc_error_clear(&err);
        if (hc_opts_preset(&o, labels[k], &err) != HC_OK) {
            fprintf(stderr, "preset %s: %s\n", labels[k], err.msg);
            return 1;
        }
        bm.opts = &o;
        bm.setting = k;
        t0 = hc_now();
        hc_parallel_for(threads, bm.n, encode_tensor, &bm);
        enc_s[k] = hc_now() - t0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < bm.n; i++)
            bytes += bm.t[i].enc[k].payload ? bm.t[i].enc[k].payload_len + bm.t[i].enc[k].params_len
                                            : bm.t[i].info.nbytes;
        bpw[k] = 8.0 * (double)bytes / (double)params;
        mib[k] = (double)bytes / (1 << 20);
    }
    double best[1 + N_CODED] = {0};
    for (int r = 0; r < ROUNDS; r++)
        for (int k = -1; k < N_CODED; k++) {
            bm.setting = k;
            if (r == 0) run_generate(&bm, &cfg, threads, 3); /* warm the pages */
            double tps = run_generate(&bm, &cfg, threads, steps);
            if (tps > best[k + 1]) best[k + 1] = tps;
        }
    printf("  %-22s %7.2f tokens/s   weights %7.1f MiB\n", "float32", best[0], (double)params * 4 / (1 << 20));
    for (int k = 0; k < N_CODED; k++)
        printf("  %-22s %7.2f tokens/s   weights %7.1f MiB (%.2f bpw, coded in %.1f s)   = %.2fx float32\n", labels[k],
               best[k + 1], mib[k], bpw[k], enc_s[k], best[k + 1] / best[0]);
    printf("  peak RSS of the bench process: %.0f MiB (holds the float32 copy too)\n", peak_rss_mib());
    for (size_t i = 0; i < bm.n; i++) {
        free(bm.t[i].w);
        for (int k = 0; k < N_CODED; k++) hc_encoded_free(&bm.t[i].enc[k]);
    }
    free(bm.t);
    return 0;
}
