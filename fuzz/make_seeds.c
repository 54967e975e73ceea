/* make_seeds.c — writes the seed corpora of the fuzz harnesses with the
 * project's own writers (safetensors and .hyc writers, every codec's
 * encoder, the compression pipeline), so the seeds follow the formats as
 * they change. `make fuzz` and `make fuzz-replay` run it at build time:
 *     make_seeds OUTDIR      -> OUTDIR/<harness>/seed_*
 * Everything is synthetic and deterministic (no shared data needed). */
#include "hyperc.h"
#include "../src/common/util.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char outdir[2048];
static hc_error err;

static void die(const char *what) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, err.msg[0] ? err.msg : strerror(errno));
    exit(1);
}

static const char *dir_of(const char *harness) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", outdir, harness);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) die(p);
    return p;
}

static void put_file(const char *harness, const char *name, const void *a, size_t alen, const void *b, size_t blen) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir_of(harness), name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0) die(p);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* roughly normal, deterministic */
    double s = 0;
    for (int i = 0; i < 4; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        s += (double)(rng >> 11) / 9007199254740992.0;
    }
    return (float)((s - 2.0) * 1.7);
}

/* ---- fuzz_codec: [codec, dtype, cols-1 (u16), rows-1 (u16), plen, params, payload] */
static void codec_seed(const char *name, hc_codec_id c, hc_dtype dt, uint64_t rows, uint64_t cols,
                       const uint8_t *params, uint32_t plen, const void *payload, uint64_t paylen) {
    uint8_t head[7 + HC_MAX_PARAMS];
    head[0] = (uint8_t)c;
    head[1] = (uint8_t)dt;
    hc_put_u16(head + 2, (uint16_t)(cols - 1));
    hc_put_u16(head + 4, (uint16_t)(rows - 1));
    head[6] = (uint8_t)plen;
    memcpy(head + 7, params, plen);
    put_file("fuzz_codec", name, head, 7 + plen, payload, paylen);
}

static void seeds_codec(void) {
    static const uint64_t dims[][2] = {{8, 32}, {24, 96}, {5, 33}};
    for (int s = 0; s < 3; s++) {
        uint64_t rows = dims[s][0], cols = dims[s][1], n = rows * cols;
        float *w = malloc(n * sizeof *w);
        if (!w) die("malloc");
        for (uint64_t i = 0; i < n; i++) w[i] = frand() * (s == 2 && i % 32 == 0 ? 40.0f : 0.05f);
        codec_seed(s == 0 ? "seed_raw_f32" : s == 1 ? "seed_raw_f32_b" : "seed_raw_f32_c", HC_CODEC_RAW, HC_F32,
                   rows, cols, NULL, 0, w, n * 4);
        if (s == 0) {
            uint16_t h[256], bf[256];
            hc_from_f32(HC_F16, w, h, n);
            hc_from_f32(HC_BF16, w, bf, n);
            codec_seed("seed_raw_f16", HC_CODEC_RAW, HC_F16, rows, cols, NULL, 0, h, n * 2);
            codec_seed("seed_raw_bf16", HC_CODEC_RAW, HC_BF16, rows, cols, NULL, 0, bf, n * 2);
        }
        for (int c = 1; c < HC_CODEC_COUNT; c++) {
            if (!strcmp(hc_codec_name((hc_codec_id)c), "?")) continue; /* an id this build lacks */
            for (int variant = 0; variant < 2; variant++) {
                hc_opts o;
                hc_opts_default(&o);
                if (c == HC_CODEC_PAPER && hc_opts_preset(&o, variant ? "paper-vision" : "paper-llm", &err) != HC_OK)
                    die("preset");
                o.codec = (hc_codec_id)c;
                o.min_elems = 0;
                if (variant && c == HC_CODEC_QKM) o.bits = 3;
                if (variant && c == HC_CODEC_HLAT) o.bits = 6;
                if (variant && c == HC_CODEC_SPARSE) o.prune_n = 2, o.prune_m = 4; /* the 2:4 pattern mask */
                if (!variant && c == HC_CODEC_SPARSE) o.prune = 0.5;                /* a bitmap */
                hc_encoded e;
                hc_error_clear(&err);
                if (hc_encode(w, n, &o, &e, &err) != HC_OK) {
                    fprintf(stderr, "make_seeds: codec %s skipped: %s\n", hc_codec_name((hc_codec_id)c), err.msg);
                    continue;
                }
                char name[64];
                snprintf(name, sizeof name, "seed_%s_%d_%d", hc_codec_name(e.codec), s, variant);
                codec_seed(name, e.codec, HC_F32, rows, cols, e.params, e.params_len, e.payload, e.payload_len);
                hc_encoded_free(&e);
            }
        }
        free(w);
    }
}

/* ---- fuzz_safetensors: bare-header form and a whole file ------------------ */
static void seeds_safetensors(void) {
    const char *h = "{\"__metadata__\":{\"dim\":\"4\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                    "\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[16,17]}}";
    uint8_t len2[2] = {17, 0};
    put_file("fuzz_safetensors", "seed_header", len2, 2, h, strlen(h));
    hc_tensor_info ti[3];
    memset(ti, 0, sizeof ti);
    snprintf(ti[0].name, sizeof ti[0].name, "layer.weight");
    ti[0].dtype = HC_F32, ti[0].ndim = 2, ti[0].shape[0] = 4, ti[0].shape[1] = 8, ti[0].nelem = 32, ti[0].nbytes = 128;
    snprintf(ti[1].name, sizeof ti[1].name, "layer.bias");
    ti[1].dtype = HC_BF16, ti[1].ndim = 1, ti[1].shape[0] = 4, ti[1].nelem = 4, ti[1].nbytes = 8;
    snprintf(ti[2].name, sizeof ti[2].name, "step");
    ti[2].dtype = HC_I64, ti[2].ndim = 0, ti[2].nelem = 1, ti[2].nbytes = 8;
    char p[4200];
    snprintf(p, sizeof p, "%s/seed_file.safetensors", dir_of("fuzz_safetensors"));
    hc_st_writer *w;
    uint8_t data[128] = {0};
    for (int i = 0; i < 32; i++) hc_put_f32(data + 4 * i, frand());
    const char *md = "{\"format\":\"pt\",\"dim\":\"8\"}";
    if (hc_st_writer_open(p, ti, 3, md, strlen(md), 1, &w, &err) != HC_OK) die(p);
    for (size_t i = 0; i < 3; i++)
        if (hc_st_writer_put(w, i, data, &err) != HC_OK) die(p);
    if (hc_st_writer_finish(w, &err) != HC_OK) die(p);
}

/* ---- llama models: safetensors in memory -> .hyc with every codec ---------- */
typedef struct model_dims { int dim, hidden, layers, heads, kv, vocab, seq, shared; } model_dims;

/* Writes a Meta-named llama safetensors file (random weights) at path. */
static void write_llama_st(const char *path, const model_dims *d) {
    hc_tensor_info ti[64];
    size_t n = 0;
    memset(ti, 0, sizeof ti);
#define ADD(nm, r, c)                                                                 \
    do {                                                                              \
        snprintf(ti[n].name, sizeof ti[n].name, "%s", nm);                            \
        ti[n].dtype = HC_F32;                                                         \
        ti[n].ndim = (c) ? 2 : 1;                                                     \
        ti[n].shape[0] = (uint64_t)(r);                                               \
        ti[n].shape[1] = (uint64_t)(c);                                               \
        ti[n].nelem = (uint64_t)(r) * ((c) ? (uint64_t)(c) : 1);                      \
        ti[n].nbytes = ti[n].nelem * 4;                                               \
        n++;                                                                          \
    } while (0)
    int hs = d->dim / d->heads, kvd = hs * d->kv;
    char nm[128];
    ADD("tok_embeddings.weight", d->vocab, d->dim);
    for (int l = 0; l < d->layers; l++) {
        static const char *const parts[] = {"attention_norm", "attention.wq", "attention.wk", "attention.wv",
                                            "attention.wo", "ffn_norm", "feed_forward.w1", "feed_forward.w2",
                                            "feed_forward.w3"};
        int rows[] = {d->dim, d->dim, kvd, kvd, d->dim, d->dim, d->hidden, d->dim, d->hidden};
        int cols[] = {0, d->dim, d->dim, d->dim, d->dim, 0, d->dim, d->hidden, d->dim};
        for (int p = 0; p < 9; p++) {
            snprintf(nm, sizeof nm, "layers.%d.%s.weight", l, parts[p]);
            ADD(nm, rows[p], cols[p]);
        }
    }
    ADD("norm.weight", d->dim, 0);
    if (!d->shared) ADD("output.weight", d->vocab, d->dim);
#undef ADD
    char md[512];
    snprintf(md, sizeof md,
             "{\"dim\":\"%d\",\"hidden_dim\":\"%d\",\"n_layers\":\"%d\",\"n_heads\":\"%d\",\"n_kv_heads\":\"%d\","
             "\"vocab_size\":\"%d\",\"seq_len\":\"%d\",\"shared_classifier\":\"%d\"}",
             d->dim, d->hidden, d->layers, d->heads, d->kv, d->vocab, d->seq, d->shared);
    hc_st_writer *w;
    if (hc_st_writer_open(path, ti, n, md, strlen(md), 1, &w, &err) != HC_OK) die(path);
    for (size_t i = 0; i < n; i++) {
        float *buf = malloc(ti[i].nbytes);
        if (!buf) die("malloc");
        int norm = ti[i].ndim == 1;
        for (uint64_t k = 0; k < ti[i].nelem; k++) buf[k] = norm ? 1.0f + 0.1f * frand() : 0.08f * frand();
        if (hc_st_writer_put(w, i, buf, &err) != HC_OK) die(path);
        free(buf);
    }
    if (hc_st_writer_finish(w, &err) != HC_OK) die(path);
}

static void seeds_models(void) {
    static const model_dims dims[] = {
        {16, 32, 2, 2, 1, 32, 16, 1},  /* tiny: fast to fuzz                            */
        {64, 384, 1, 4, 2, 256, 32, 0}, /* products split over threads (>= 65536 work) */
    };
    char st[4200], out[4200];
    for (int m = 0; m < 2; m++) {
        snprintf(st, sizeof st, "%s/model%d.safetensors.tmp", outdir, m);
        write_llama_st(st, &dims[m]);
        static const char *const presets[] = {"default", "paper-llm", "q8b", "q4b", "qkm", "raw"};
        for (int p = 0; p < 6; p++) {
            if (m == 1 && p == 5) continue; /* 400 KB raw: too big a seed */
            hc_opts o;
            hc_opts_default(&o);
            if (p <= 1 && hc_opts_preset(&o, presets[p], &err) != HC_OK) die("preset");
            if (p >= 2 && hc_codec_parse(presets[p], &o.codec) != 0) die(presets[p]);
            hc_model_report rep;
            for (int h = 0; h < 2; h++) {
                if (h == 1 && m == 1) continue;
                snprintf(out, sizeof out, "%s/seed_llama%d_%s.hyc", dir_of(h ? "fuzz_hyc" : "fuzz_model"), m,
                         presets[p]);
                hc_error_clear(&err);
                if (hc_compress_file(st, out, &o, 1, 1, NULL, NULL, &rep, &err) != HC_OK) die(out);
            }
        }
        remove(st);
    }
}

/* ---- fuzz_hyc: one container per codec (as fuzz_hyc --seeds) -------------- */
static void seeds_hyc(void) {
    float wts[256];
    for (int i = 0; i < 256; i++) wts[i] = 0.1f * frand();
    for (int c = 0; c < HC_CODEC_COUNT; c++) {
        hc_opts o;
        hc_opts_default(&o);
        o.codec = (hc_codec_id)c;
        o.min_elems = 0;
        hc_encoded enc;
        hc_error_clear(&err);
        if (hc_encode(wts, 256, &o, &enc, &err) != HC_OK) continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/seed_%s.hyc", dir_of("fuzz_hyc"), hc_codec_name((hc_codec_id)c));
        hc_hyc_writer *w;
        hc_hyc_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.info.name, sizeof e.info.name, "layer.weight");
        e.info.dtype = HC_F32, e.info.ndim = 2, e.info.shape[0] = 8, e.info.shape[1] = 32;
        e.info.nelem = 256, e.info.nbytes = 1024;
        e.codec = enc.codec;
        e.params_len = enc.params_len;
        memcpy(e.params, enc.params, enc.params_len);
        if (hc_hyc_writer_open(p, 1, &w, &err) != HC_OK) die(p);
        if (hc_hyc_writer_add(w, &e, enc.payload, enc.payload_len, &err) != HC_OK) {
            hc_hyc_writer_abort(w);
            die(p);
        }
        if (hc_hyc_writer_finish(w, "{\"k\":\"v\"}", 9, &err) != HC_OK) die(p);
        hc_encoded_free(&enc);
    }
}

/* ---- fuzz_llama2c: checkpoints in the legacy layout ------------------------- */
static void llama2c_seed(const char *name, const model_dims *d, int rope) {
    int hs = d->dim / d->heads, kvd = hs * d->kv;
    uint64_t L = (uint64_t)d->layers, dim = (uint64_t)d->dim, hid = (uint64_t)d->hidden;
    uint64_t nw = (uint64_t)d->vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * (uint64_t)kvd * dim + 3 * dim * hid) + dim;
    if (rope) nw += (uint64_t)d->seq * (uint64_t)hs;
    if (!d->shared) nw += (uint64_t)d->vocab * dim;
    size_t len = 28 + 4 * nw;
    uint8_t *b = malloc(len);
    if (!b) die("malloc");
    int32_t h[7] = {d->dim, d->hidden, d->layers, d->heads, d->kv, d->shared ? d->vocab : -d->vocab, d->seq};
    for (int i = 0; i < 7; i++) hc_put_u32(b + 4 * i, (uint32_t)h[i]);
    for (uint64_t i = 0; i < nw; i++) hc_put_f32(b + 28 + 4 * i, 0.08f * frand());
    put_file("fuzz_llama2c", name, b, len, NULL, 0);
    put_file("fuzz_llama2c_model", name, b, len, NULL, 0);
    free(b);
}

/* ---- fuzz_tokenizer: [u16 file length, flags, u16 vocab, file, text] ------- */
static size_t tok_add(uint8_t *b, size_t at, float score, const char *s, size_t n) {
    hc_put_f32(b + at, score);
    hc_put_u32(b + at + 4, (uint32_t)n);
    memcpy(b + at + 8, s, n);
    return at + 8 + n;
}

static void seeds_tokenizer(void) {
    static uint8_t b[8192];
    size_t at = 5 + 4;
    hc_put_u32(b + 5, 8);
    at = tok_add(b, at, 0, "<unk>", 5);
    at = tok_add(b, at, 0, "\n<s>\n", 5);
    at = tok_add(b, at, 0, "\n</s>\n", 6);
    for (int i = 0; i < 256; i++) {
        char p[8];
        snprintf(p, sizeof p, "<0x%02X>", i);
        at = tok_add(b, at, 0, p, 6);
    }
    static const char *const merges[] = {" ", "e", "h", "l", "o", "he", "ll", "llo", "hello", " hello", " t", "th",
                                         "\xC3\xA9", "a", "b", "ab", " a"};
    int nm = (int)(sizeof merges / sizeof *merges);
    for (int i = 0; i < nm; i++) at = tok_add(b, at, -(float)(nm - i) * 0.5f, merges[i], strlen(merges[i]));
    size_t flen = at - 5;
    hc_put_u16(b, (uint16_t)flen);
    b[2] = 1; /* BOS */
    hc_put_u16(b + 3, (uint16_t)(259 + nm));
    const char *text = "hello the ab\xC3\xA9 \xF0\x9F\x99\x82 x\n";
    put_file("fuzz_tokenizer", "seed_bytes_bos", b, at, text, strlen(text));
    b[2] = 7; /* BOS, EOS, vocab checked */
    put_file("fuzz_tokenizer", "seed_bytes_eos_vocab", b, at, "ab ab hello", 11);
    /* a vocabulary without byte fallback */
    size_t at2 = 9;
    hc_put_u32(b + 5, 4);
    at2 = tok_add(b, at2, 0, "<unk>", 5);
    at2 = tok_add(b, at2, 0, "<s>", 3);
    at2 = tok_add(b, at2, 0, "</s>", 4);
    at2 = tok_add(b, at2, 0, " ", 1);
    at2 = tok_add(b, at2, -1, "a", 1);
    at2 = tok_add(b, at2, -2, " a", 2);
    hc_put_u16(b, (uint16_t)(at2 - 5));
    b[2] = 3;
    put_file("fuzz_tokenizer", "seed_small", b, at2, "a aa", 4);
}

static void seeds_config(void) {
    static const char *const cfgs[] = {
        "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":172,"
        "\"num_hidden_layers\":5,\"num_attention_heads\":8,\"num_key_value_heads\":4,\"vocab_size\":512,"
        "\"max_position_embeddings\":512,\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,"
        "\"tie_word_embeddings\":true,\"hidden_act\":\"silu\",\"rope_scaling\":null}",
        "{\"dim\":\"64\",\"hidden_dim\":\"172\",\"n_layers\":\"5\",\"n_heads\":\"8\",\"n_kv_heads\":\"4\","
        "\"vocab_size\":\"512\",\"seq_len\":\"512\",\"shared_classifier\":\"1\",\"norm_eps\":\"1e-5\"}",
        "{\"hidden_size\":4096,\"num_attention_heads\":32,\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0},"
        "\"nested\":[1,[2,{\"a\":\"\\u00e9\\n\"}]],\"vocab_size\":32000}",
    };
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed_config%d.json", i);
        put_file("fuzz_config", name, cfgs[i], strlen(cfgs[i]), NULL, 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    snprintf(outdir, sizeof outdir, "%s", argv[1]);
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) die(outdir);
    hc_error_clear(&err);
    seeds_codec();
    seeds_safetensors();
    seeds_hyc();
    seeds_models();
    static const model_dims tiny = {8, 16, 2, 2, 1, 32, 16, 1};
    static const model_dims sep = {8, 24, 1, 4, 2, 16, 8, 0};
    static const model_dims wide = {32, 256, 1, 4, 4, 64, 8, 1};
    llama2c_seed("seed_tiny.bin", &tiny, 0);
    llama2c_seed("seed_sep_rope.bin", &sep, 1);
    llama2c_seed("seed_wide.bin", &wide, 0);
    seeds_tokenizer();
    seeds_config();
    return 0;
}
