/* bench_entropy.c — how much could entropy coding save on hlat? (issue #4)
 *
 * For each shared model and each setting (hlat, K = 4, B = 32, m = 21 and
 * m = 17), encodes every tensor the default options code, parses the hlat
 * params and payload back, and measures, summed over the model, in bits per
 * coded weight:
 *  (a) scale codes (6 bits per block of 32): the stored cost against an
 *      order-0 coder, a coder of the difference to the previous block's
 *      code, and an order-1 coder (conditioned on the previous code);
 *  (b) indices: the lattice point of a group's index t is J_i = t g_i mod 2^m;
 *      per coordinate, the entropy of its top b bits (b = 4..8) against the
 *      b bits they take at fixed rate. Under the model "probability of t ∝
 *      product of the per-coordinate cell probabilities" an ideal coder of t
 *      saves sum_i (b - H_i) bits per group (the lattice is equidistributed,
 *      so the normaliser is 2^(m - K b)). Also the top 8 bits of t itself
 *      (J_0 = t, as g_0 = 1): what a coder that keeps the low m - 8 bits raw
 *      and codes only the top 8 could realise.
 *  (d) rows (of tensors whose rows hold whole blocks) that come out
 *      identical, and what a row table would save.
 * Figures come several ways: the empirical ("plug-in") entropy without a
 * table (the estimate asked for; biased high on small tensors), the same
 * plus a frequency table per tensor (10 bits an entry), the exact code
 * length of an adaptive Krichevsky–Trofimov coder (no table; an arithmetic
 * coder gets within a few bits per tensor of it), for the indices the
 * coordinates pooled with the sign sent raw, and one table per model. The
 * summary takes the best of the realisable ones and turns it into dB at
 * 6.02 dB per bit. (c), zstd / xz on whole files, is not done here.
 * Runtime: a few seconds on two cores (one encode per tensor and setting). */
#include "hyperc.h"
#include "../src/codec/hlat.h"
#include "../src/common/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================================== */
/* Counts of one tensor                                                   */
/* ===================================================================== */

#define NB_MIN 4                  /* top-bit widths measured: 4..8 */
#define NB_MAX 8
#define NB_COUNT (NB_MAX - NB_MIN + 1)
#define SCODES 64                 /* 2^sbits, sbits = 6 (checked)  */
#define TABLE_ENTRY_BITS 10.0     /* cost of one frequency-table entry */

typedef struct tensor_counts {
    int coded;                    /* 1: hlat-coded and counted below          */
    uint64_t n, nblocks, ngroups;
    uint32_t m, K;
    double stored_bits;           /* payload + params                        */
    double sq_err, sum_sq;        /* for the model's NMSE                    */
    uint32_t scale0[SCODES];                 /* [64] code histogram          */
    uint32_t delta[2 * SCODES - 1];          /* [127] code - previous code   */
    uint32_t scale1[SCODES][SCODES];         /* [prev][code]                 */
    uint32_t *coord[HLAT_KMAX][NB_COUNT];    /* [K][b] histograms of 2^b     */
    uint64_t rows, dup_rows;      /* rows holding whole blocks; repeats      */
    double row_bits;              /* stored bits of one row                  */
    char err[512];                /* non-empty: this tensor failed           */
} tensor_counts;

/* The bits of one stream that a coder would spend, summed over a model. */
typedef struct cost {
    double plugin;  /* N H(empirical) + table                 */
    double kt;      /* adaptive KT code length                */
} cost;

static double log2_gamma(double x) { return lgamma(x) / log(2.0); }

/* N times the empirical entropy of a histogram, in bits. */
static double plugin_bits(const uint32_t *h, size_t a, uint32_t *nonzero) {
    double total = 0, sum = 0;
    uint32_t nz = 0;
    for (size_t s = 0; s < a; s++) total += h[s];
    for (size_t s = 0; s < a; s++)
        if (h[s]) {
            sum -= h[s] * log2(h[s] / total);
            nz++;
        }
    if (nonzero) *nonzero = nz;
    return sum;
}

/* Code length in bits of the sequence under the adaptive KT estimator
 * (symbol probability (count + 1/2) / (seen + a/2)); it depends only on the
 * final counts. */
static double kt_bits(const uint32_t *h, size_t a) {
    double total = 0, bits = 0;
    for (size_t s = 0; s < a; s++)
        if (h[s]) {
            total += h[s];
            bits -= log2_gamma(h[s] + 0.5) - log2_gamma(0.5);
        }
    if (total == 0) return 0;
    return bits + log2_gamma(total + 0.5 * (double)a) - log2_gamma(0.5 * (double)a);
}

/* ===================================================================== */
/* Encoding and counting (one tensor, run in parallel)                    */
/* ===================================================================== */

typedef struct model_job {
    const hc_safetensors *st;
    const size_t *tensors;        /* [count] indices of the coded tensors */
    tensor_counts *out;           /* [count]                              */
    hc_opts opts;
} model_job;

/* (d) rows that come out identical (scale codes and indices). Only for
 * tensors whose rows hold whole blocks; rows are compared by a 64-bit hash
 * and then word by word against the first row of their hash run. */
typedef struct row_key {
    uint64_t hash, row;
} row_key;

static int cmp_row_key(const void *a, const void *b) {
    const row_key *x = (const row_key *)a, *y = (const row_key *)b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->row < y->row ? -1 : (x->row > y->row);
}

static void count_repeated_rows(tensor_counts *c, const hc_tensor_info *ti, const hlat_params *p, const uint8_t *scales,
                                uint64_t scales_len, const uint8_t *idx, uint64_t idx_len) {
    if (ti->ndim < 2 || ti->shape[0] < 2) return;
    uint64_t rows = ti->shape[0], cols = ti->nelem / rows;
    if (cols % p->block) return;
    uint64_t nb = cols / p->block, ng = cols / p->K, words = nb + ng;
    uint32_t *w = malloc((size_t)(rows * words) * sizeof *w);
    row_key *keys = malloc((size_t)rows * sizeof *keys);
    if (!w || !keys) {
        free(w);
        free(keys);
        return;
    }
    for (uint64_t r = 0; r < rows; r++) {
        uint32_t *row = w + r * words;
        uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the words */
        for (uint64_t j = 0; j < nb; j++) row[j] = (uint32_t)hlat_get_bits(scales, scales_len, (r * nb + j) * p->sbits, p->sbits);
        for (uint64_t j = 0; j < ng; j++) row[nb + j] = (uint32_t)hlat_get_bits(idx, idx_len, (r * ng + j) * p->m, p->m);
        for (uint64_t j = 0; j < words; j++) h = (h ^ row[j]) * 0x100000001b3ull;
        keys[r].hash = h;
        keys[r].row = r;
    }
    qsort(keys, (size_t)rows, sizeof *keys, cmp_row_key);
    uint64_t dup = 0;
    for (uint64_t r = 1, first = 0; r < rows; r++) {
        if (keys[r].hash != keys[first].hash) {
            first = r;
            continue;
        }
        if (!memcmp(w + keys[r].row * words, w + keys[first].row * words, (size_t)words * sizeof *w)) dup++;
    }
    c->rows = rows;
    c->dup_rows = dup;
    c->row_bits = (double)nb * p->sbits + (double)ng * p->m;
    free(w);
    free(keys);
}

static void count_tensor(void *ctx, uint64_t i, int tid) {
    (void)tid;
    model_job *job = (model_job *)ctx;
    tensor_counts *c = &job->out[i];
    size_t ti_index = job->tensors[i];
    const hc_tensor_info *ti = hc_st_info(job->st, ti_index);
    hc_error err;
    hc_error_clear(&err);
    float *w = malloc((size_t)ti->nelem * sizeof *w);
    if (!w) {
        snprintf(c->err, sizeof c->err, "%.100s: cannot allocate %llu floats", ti->name, (unsigned long long)ti->nelem);
        return;
    }
    hc_to_f32(ti->dtype, hc_st_data(job->st, ti_index), w, ti->nelem);
    hc_encoded e;
    memset(&e, 0, sizeof e);
    if (hc_encode(w, ti->nelem, &job->opts, &e, &err) != HC_OK) {
        snprintf(c->err, sizeof c->err, "%.100s: encode failed: %.200s", ti->name, err.msg);
        free(w);
        return;
    }
    free(w);
    if (e.codec != HC_CODEC_HLAT) { /* kept lossless (NaN/Inf): not counted */
        hc_encoded_free(&e);
        return;
    }
    hlat_params p;
    uint64_t scale_bytes = 0;
    if (hlat_params_read(e.params, e.params_len, &p, &err) != HC_OK ||
        hlat_payload_len(&p, ti->nelem, &scale_bytes) != e.payload_len || p.sbits != 6 || p.K > HLAT_KMAX) {
        snprintf(c->err, sizeof c->err, "%.100s: unexpected hlat params/payload (%.160s)", ti->name, err.msg);
        hc_encoded_free(&e);
        return;
    }
    c->n = ti->nelem;
    c->K = p.K;
    c->m = p.m;
    c->nblocks = (c->n + p.block - 1) / p.block;
    c->ngroups = (c->n + p.K - 1) / p.K;
    c->stored_bits = 8.0 * (double)(e.payload_len + e.params_len);
    c->sq_err = e.mse * (double)c->n;
    c->sum_sq = e.sum_sq;

    /* (a) scale codes */
    uint32_t prev = 0;
    for (uint64_t b = 0; b < c->nblocks; b++) {
        uint32_t q = (uint32_t)hlat_get_bits(e.payload, scale_bytes, b * p.sbits, p.sbits);
        c->scale0[q]++;
        if (b > 0) {
            c->delta[q + SCODES - 1 - prev]++;
            c->scale1[prev][q]++;
        }
        prev = q;
    }
    /* (b) per-coordinate top bits of J = t g mod 2^m */
    int ok = 1;
    for (uint32_t k = 0; k < p.K && ok; k++)
        for (int b = 0; b < NB_COUNT; b++) {
            c->coord[k][b] = calloc((size_t)1 << (NB_MIN + b), sizeof(uint32_t));
            if (!c->coord[k][b]) ok = 0;
        }
    if (!ok || p.m < NB_MAX) {
        snprintf(c->err, sizeof c->err, "%.100s: %s", ti->name, ok ? "m below 8 bits" : "out of memory");
        hc_encoded_free(&e);
        return;
    }
    const uint8_t *idx = e.payload + scale_bytes;
    uint64_t idx_len = e.payload_len - scale_bytes;
    uint64_t mask = (p.m >= 64) ? ~0ull : ((1ull << p.m) - 1);
    uint64_t full_groups = c->n / p.K; /* a padded last group would skew nothing, but is not a real group */
    for (uint64_t gi = 0; gi < full_groups; gi++) {
        uint64_t t = hlat_get_bits(idx, idx_len, gi * p.m, p.m);
        for (uint32_t k = 0; k < p.K; k++) {
            uint64_t J = (t * (uint64_t)p.g[k]) & mask;
            for (int b = 0; b < NB_COUNT; b++) c->coord[k][b][J >> (p.m - (uint32_t)(NB_MIN + b))]++;
        }
    }
    c->ngroups = full_groups;
    count_repeated_rows(c, ti, &p, e.payload, scale_bytes, idx, idx_len);
    c->coded = 1;
    hc_encoded_free(&e);
}

static void counts_free(tensor_counts *c) {
    for (int k = 0; k < HLAT_KMAX; k++)
        for (int b = 0; b < NB_COUNT; b++) free(c->coord[k][b]);
}

/* ===================================================================== */
/* Summing and reporting                                                  */
/* ===================================================================== */

#define FOLD_MAX (1u << (NB_MAX - 1))

/* Histograms pooled over a model's tensors, for the one-table-per-model coders. */
typedef struct model_pool {
    uint32_t scale0[SCODES];             /* [64]                                  */
    uint32_t fold[NB_COUNT][FOLD_MAX];   /* [b][2^(b-1)] distance of the top-b cell
                                            from the centre, all coordinates      */
} model_pool;

/* Bits spent by each coder, summed over a model. "table": the empirical
 * entropy plus a frequency table per tensor; "kt": adaptive, no table;
 * "model": one table per model (its cost added in report()). */
typedef struct model_sums {
    uint64_t ntensors, n, nblocks, ngroups;
    uint32_t m, K;
    double stored_bits, sq_err_w, sum_w;   /* NMSE weighted by size                */
    double s0_table, s0_kt, s0_model;      /* scale codes, order-0                 */
    double sd_table, sd_kt;                /* difference to the previous code      */
    double s1_table, s1_kt;                /* order-1                              */
    double ix_fixed[NB_COUNT];             /* [b] K b bits per group               */
    double ix_gross[NB_COUNT];             /* [b] per-coordinate entropy, no table */
    double ix_table[NB_COUNT], ix_kt[NB_COUNT];
    double ix_fold_kt[NB_COUNT];           /* [b] coordinates pooled, sign raw     */
    double ix_model[NB_COUNT];             /* [b] pooled and folded, model table   */
    double top8_fixed, top8_gross, top8_table, top8_kt; /* top 8 bits of t       */
    uint64_t rows, dup_rows, dedup_tensors;  /* (d) rows with whole blocks      */
    double dedup_saved;                    /* bits a row table saves           */
} model_sums;

/* The cell of J's top-b bits folded about the centre (z = 0 at J = 2^(m-1)). */
static void fold_hist(const tensor_counts *c, int b, uint32_t *out) {
    uint32_t half = 1u << (NB_MIN + b - 1);
    memset(out, 0, half * sizeof *out);
    for (uint32_t k = 0; k < c->K; k++)
        for (uint32_t cell = 0; cell < 2 * half; cell++)
            out[cell < half ? half - 1 - cell : cell - half] += c->coord[k][b][cell];
}

/* Bits to code histogram h with probabilities estimated from pooled counts q. */
static double cross_bits(const uint32_t *h, const uint32_t *q, size_t a) {
    double qt = 0.5 * (double)a, bits = 0;
    for (size_t s = 0; s < a; s++) qt += q[s];
    for (size_t s = 0; s < a; s++)
        if (h[s]) bits -= h[s] * log2((q[s] + 0.5) / qt);
    return bits;
}

static void pool_tensor(model_pool *pool, const tensor_counts *c) {
    uint32_t fold[FOLD_MAX];
    for (int s = 0; s < SCODES; s++) pool->scale0[s] += c->scale0[s];
    for (int b = 0; b < NB_COUNT; b++) {
        fold_hist(c, b, fold);
        for (uint32_t s = 0; s < (1u << (NB_MIN + b - 1)); s++) pool->fold[b][s] += fold[s];
    }
}

static void sum_tensor(model_sums *s, const model_pool *pool, const tensor_counts *c) {
    s->ntensors++;
    s->n += c->n;
    s->nblocks += c->nblocks;
    s->ngroups += c->ngroups;
    s->m = c->m;
    s->K = c->K;
    s->stored_bits += c->stored_bits;
    if (c->sum_sq > 0) {
        s->sq_err_w += c->sq_err / c->sum_sq * (double)c->n;
        s->sum_w += (double)c->n;
    }
    s->s0_table += plugin_bits(c->scale0, SCODES, NULL) + SCODES * TABLE_ENTRY_BITS;
    s->s0_kt += kt_bits(c->scale0, SCODES);
    s->s0_model += cross_bits(c->scale0, pool->scale0, SCODES);
    /* the first block of the delta and order-1 coders goes at 6 bits */
    s->sd_table += 6 + plugin_bits(c->delta, 2 * SCODES - 1, NULL) + (2 * SCODES - 1) * TABLE_ENTRY_BITS;
    s->sd_kt += 6 + kt_bits(c->delta, 2 * SCODES - 1);
    /* order-1: 64 tables, sent sparsely, 6 bits of symbol + 10 of count per
     * non-zero entry (a dense 64 x 64 table would cost 41 kbit a tensor) */
    s->s1_table += 6;
    s->s1_kt += 6;
    for (int q = 0; q < SCODES; q++) {
        uint32_t nz;
        s->s1_table += plugin_bits(c->scale1[q], SCODES, &nz) + nz * (6 + TABLE_ENTRY_BITS);
        s->s1_kt += kt_bits(c->scale1[q], SCODES);
    }
    uint32_t fold[FOLD_MAX];
    double signs = (double)c->ngroups * c->K; /* the folded coders send each sign raw */
    for (int b = 0; b < NB_COUNT; b++) {
        size_t a = (size_t)1 << (NB_MIN + b);
        s->ix_fixed[b] += (double)c->ngroups * c->K * (double)(NB_MIN + b);
        for (uint32_t k = 0; k < c->K; k++) {
            double h = plugin_bits(c->coord[k][b], a, NULL);
            s->ix_gross[b] += h;
            s->ix_table[b] += h + (double)a * TABLE_ENTRY_BITS;
            s->ix_kt[b] += kt_bits(c->coord[k][b], a);
        }
        fold_hist(c, b, fold);
        s->ix_fold_kt[b] += signs + kt_bits(fold, a / 2);
        s->ix_model[b] += signs + cross_bits(fold, pool->fold[b], a / 2);
    }
    /* a row table: one flag bit per row, the source row of each repeat */
    if (c->rows) {
        double saved = (double)c->dup_rows * (c->row_bits - ceil(log2((double)c->rows))) - (double)c->rows;
        s->rows += c->rows;
        s->dup_rows += c->dup_rows;
        if (saved > 0) {
            s->dedup_saved += saved;
            s->dedup_tensors++;
        }
    }
    const uint32_t *top8 = c->coord[0][NB_COUNT - 1]; /* J_0 = t, as g_0 = 1 */
    s->top8_fixed += 8.0 * (double)c->ngroups;
    double h8 = plugin_bits(top8, 256, NULL);
    s->top8_gross += h8;
    s->top8_table += h8 + 256 * TABLE_ENTRY_BITS;
    s->top8_kt += kt_bits(top8, 256);
}

typedef struct summary_row {
    char model[48];
    uint32_t m;
    double stored_bpw, snr;
    double scale_save;        /* best realisable scale coder                */
    double index_save;        /* best realisable index coder (any b)        */
    int index_b;
    double index_gross8;      /* per-coordinate plug-in at b = 8, no table  */
    double top8_save;         /* best realisable coder of t's top 8 bits    */
    double dedup_save;        /* (d) row table                              */
} summary_row;

static double max2(double a, double b) { return a > b ? a : b; }

static void report(const char *model, const model_sums *s, summary_row *row) {
    double n = (double)s->n;
#define BPW(fixed, coded) (((fixed) - (coded)) / n)
    double snr = s->sq_err_w > 0 ? -10 * log10(s->sq_err_w / s->sum_w) : 0;
    printf("-- %s, hlat K=%u m=%u: %llu tensors, %llu weights; stored %.4f bpw, SNR %.2f dB\n", model, s->K, s->m,
           (unsigned long long)s->ntensors, (unsigned long long)s->n, s->stored_bits / n, snr);
    double sfixed = 6.0 * (double)s->nblocks, smodel = s->s0_model + SCODES * TABLE_ENTRY_BITS;
    printf("   (a) scale codes, stored %.4f bpw. Saving (bpw) by coder:  H+table/tensor  adaptive KT  table/model\n",
           sfixed / n);
    printf("       order-0                                                %8.4f     %8.4f     %8.4f\n",
           BPW(sfixed, s->s0_table), BPW(sfixed, s->s0_kt), BPW(sfixed, smodel));
    printf("       difference to the previous block's code, order-0       %8.4f     %8.4f\n", BPW(sfixed, s->sd_table),
           BPW(sfixed, s->sd_kt));
    printf("       order-1 (conditioned on the previous block's code)     %8.4f     %8.4f\n", BPW(sfixed, s->s1_table),
           BPW(sfixed, s->s1_kt));
    printf("   (b) indices, stored %.4f bpw. Estimated saving (bpw) = sum over coordinates of b - H(top b bits of J_i):\n",
           (double)s->m * (double)s->ngroups / n);
    printf("       b   H/coord   gross (no table)  H+table/tensor  adaptive KT  pooled+folded KT  table/model\n");
    double best_idx = -1e30;
    int best_b = NB_MIN;
    for (int b = 0; b < NB_COUNT; b++) {
        double fixed = s->ix_fixed[b];
        double imodel = s->ix_model[b] + (double)(1u << (NB_MIN + b - 1)) * TABLE_ENTRY_BITS;
        printf("       %d   %6.3f      %8.4f         %8.4f       %8.4f        %8.4f       %8.4f\n", NB_MIN + b,
               s->ix_gross[b] / ((double)s->ngroups * s->K), BPW(fixed, s->ix_gross[b]), BPW(fixed, s->ix_table[b]),
               BPW(fixed, s->ix_kt[b]), BPW(fixed, s->ix_fold_kt[b]), BPW(fixed, imodel));
        double v = max2(max2(BPW(fixed, s->ix_table[b]), BPW(fixed, s->ix_kt[b])),
                        max2(BPW(fixed, s->ix_fold_kt[b]), BPW(fixed, imodel)));
        if (v > best_idx) {
            best_idx = v;
            best_b = NB_MIN + b;
        }
    }
    printf("       top 8 bits of t alone (= J_0): H %.3f of 8; saving %.4f gross, %.4f H+table, %.4f KT (bpw)\n",
           s->top8_gross / (double)s->ngroups, BPW(s->top8_fixed, s->top8_gross), BPW(s->top8_fixed, s->top8_table),
           BPW(s->top8_fixed, s->top8_kt));
    printf("   (d) rows identical after coding: %llu of %llu rows; a row table (1 bit a row, log2(rows) a repeat)\n"
           "       saves %.4f bpw (in %llu tensors) and keeps random access by one indirection\n",
           (unsigned long long)s->dup_rows, (unsigned long long)s->rows, s->dedup_saved / n,
           (unsigned long long)s->dedup_tensors);
    snprintf(row->model, sizeof row->model, "%s", model);
    row->m = s->m;
    row->stored_bpw = s->stored_bits / n;
    row->snr = snr;
    row->scale_save = max2(max2(max2(BPW(sfixed, s->s0_table), BPW(sfixed, s->s0_kt)), BPW(sfixed, smodel)),
                           max2(max2(BPW(sfixed, s->sd_table), BPW(sfixed, s->sd_kt)),
                                max2(BPW(sfixed, s->s1_table), BPW(sfixed, s->s1_kt))));
    row->index_save = best_idx;
    row->index_b = best_b;
    row->index_gross8 = BPW(s->ix_fixed[NB_COUNT - 1], s->ix_gross[NB_COUNT - 1]);
    row->dedup_save = s->dedup_saved / n;
    row->top8_save = max2(BPW(s->top8_fixed, s->top8_table), BPW(s->top8_fixed, s->top8_kt));
#undef BPW
}

static int run_model(const char *path, const char *label, uint32_t m, int threads, summary_row *row) {
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *st;
    if (hc_st_open(path, &st, &err) != HC_OK) {
        fprintf(stderr, "bench_entropy: %s\n", err.msg);
        return -1;
    }
    model_job job;
    memset(&job, 0, sizeof job);
    job.st = st;
    hc_opts_default(&job.opts);
    job.opts.bits = m;
    job.opts.threads = 1; /* parallel over tensors instead */
    if (job.opts.codec != HC_CODEC_HLAT) {
        fprintf(stderr, "bench_entropy: the default codec is %s, not hlat\n", hc_codec_name(job.opts.codec));
        hc_st_close(st);
        return -1;
    }
    size_t count = 0, nt = hc_st_count(st);
    size_t *tensors = malloc((nt ? nt : 1) * sizeof *tensors);
    tensor_counts *tc = calloc(nt ? nt : 1, sizeof *tc);
    if (!tensors || !tc) {
        fprintf(stderr, "bench_entropy: out of memory\n");
        free(tensors);
        free(tc);
        hc_st_close(st);
        return -1;
    }
    for (size_t i = 0; i < nt; i++)
        if (hc_opts_codes_tensor(&job.opts, hc_st_info(st, i))) tensors[count++] = i;
    job.tensors = tensors;
    job.out = tc;
    hc_parallel_for(threads, count, count_tensor, &job);
    model_sums s;
    model_pool pool;
    memset(&s, 0, sizeof s);
    memset(&pool, 0, sizeof pool);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (tc[i].err[0]) {
            fprintf(stderr, "bench_entropy: %s: %s\n", label, tc[i].err);
            rc = -1;
        } else if (tc[i].coded) {
            pool_tensor(&pool, &tc[i]);
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (rc == 0 && tc[i].coded) sum_tensor(&s, &pool, &tc[i]);
        counts_free(&tc[i]);
    }
    if (rc == 0 && s.n == 0) {
        fprintf(stderr, "bench_entropy: %s: no tensor was hlat-coded\n", label);
        rc = -1;
    }
    if (rc == 0) report(label, &s, row);
    free(tensors);
    free(tc);
    hc_st_close(st);
    return rc;
}

int main(void) {
    const char *shared = getenv("HYPERC_SHARED");
    if (!shared || !*shared) shared = "../shared";
    static const char *models[] = {"stories260K", "resnet20", "resnet56", "mobilenet_v1_075"};
    static const uint32_t bits[] = {21, 17};
    enum { NMODELS = sizeof models / sizeof models[0], NBITS = sizeof bits / sizeof bits[0] };
    char paths[NMODELS][1024];
    for (int i = 0; i < NMODELS; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/models/%s.safetensors", shared, models[i]);
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            fprintf(stderr,
                    "bench_entropy: model %s is missing (set HYPERC_SHARED to the directory holding models/; "
                    "now '%s')\n",
                    paths[i], shared);
            return 1;
        }
        fclose(f);
    }
    int threads = hc_cpu_count();
    double t0 = hc_now();
    summary_row rows[NMODELS * NBITS];
    printf("bench_entropy: entropy-coding headroom of hlat (issue #4); all savings in bits per coded weight\n");
    for (int j = 0; j < NBITS; j++)
        for (int i = 0; i < NMODELS; i++)
            if (run_model(paths[i], models[i], bits[j], threads, &rows[j * NMODELS + i])) return 1;
    printf("\nSummary, bits per coded weight. Saving: the best realisable coder measured above (per-tensor table,\n"
           "adaptive, or one table per model; for the indices the best b); gross b=8: per-coordinate plug-in entropy\n"
           "without any table (biased high on small tensors); dB: total x 6.02 dB/bit.\n");
    printf("%-17s %3s %7s %7s %8s %12s %8s %6s %9s %9s %9s\n", "model", "m", "bpw", "SNR dB", "scales", "indices (b)",
           "total", "dB", "gross b=8", "t top-8", "row dedup");
    for (int r = 0; r < NMODELS * NBITS; r++) {
        const summary_row *w = &rows[r];
        double total = w->scale_save + w->index_save;
        printf("%-17s %3u %7.3f %7.2f %8.4f %8.4f (%d) %8.4f %6.2f %9.4f %9.4f %9.4f\n", w->model, w->m, w->stored_bpw,
               w->snr, w->scale_save, w->index_save, w->index_b, total, 6.02 * total, w->index_gross8, w->top8_save,
               w->dedup_save);
    }
    printf("(%.1f s on %d threads)\n", hc_now() - t0, threads);
    return 0;
}
