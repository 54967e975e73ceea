/* hlat_feedback.c — the hlat encoder with error feedback (feedback.c).
 *
 * Rows are independent and go to threads in batches whose first weight
 * starts a block, so a block never spans two batches. Within a batch the
 * groups are taken column by column (every row of the batch at column j,
 * then j + K, ...): after each group its error e (e U_GG = w_G - q_G) is
 * moved into the row's later weights, w_F -= e U_GF, reading the K rows of
 * U once for the whole batch. A block's scale code is searched, as without
 * feedback, when the block's first group is reached, on the weights as they
 * are then. Exact zeros of pruned tensors (the dead zone is on) stay exact:
 * their share of the updates is dropped. */
#include "hlat.h"
#include "../common/util.h"
#include <stdlib.h>
#include <string.h>

#define BATCH_ROWS_MIN 16 /* rows per work item (at least) */
#define CODE_UNSET 0xFFu  /* scale codes fit in 8 bits, < 2^sbits <= 255 */

typedef struct fb_job {
    const hlat_enc_ctx *c;
    hlat_block_search_fn search;
    hlat_group_fn group;
    const float *w;               /* (rows, cols) original weights          */
    uint64_t rows, cols, n, batch; /* batch: rows per work item             */
    const float *U;               /* (cols, cols) upper factor              */
    uint8_t *codes;               /* [nblocks] scale code per block         */
    uint32_t *t;                  /* [n / K] lattice index per group        */
    hlat_enc_ctx **ctx;           /* [threads] search state                 */
    hlat_block_result **res;      /* [threads] two results each             */
    float **work;                 /* [threads] (batch, cols) + (batch, K) + B */
    double *sae, *sse, *mx;       /* [items] error statistics               */
} fb_job;

static uint64_t gcd_u64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

static void feedback_item(void *arg, uint64_t item, int tid) {
    const fb_job *jb = (const fb_job *)arg;
    const hlat_enc_ctx *c = jb->ctx[tid];
    hlat_block_result *res = jb->res[tid];
    const uint32_t K = c->K, B = c->B;
    const uint64_t cols = jb->cols, r0 = item * jb->batch;
    const uint64_t r1 = r0 + jb->batch < jb->rows ? r0 + jb->batch : jb->rows, nr = r1 - r0;
    const uint64_t base = r0 * cols; /* flat index of W[0][0] */
    float *W = jb->work[tid];           /* (nr, cols) weights being updated */
    float *E = W + jb->batch * cols;     /* (nr, K) errors of this column's groups */
    float *vals = E + jb->batch * K;     /* (B) one block's current weights */
    const float *w0 = jb->w + base;
    memcpy(W, w0, sizeof(float) * nr * cols);
    double sae = 0, sse = 0, mx = 0;
    for (uint64_t j = 0; j < cols; j += K) {
        for (uint64_t rr = 0; rr < nr; rr++) {
            float *wr = W + rr * cols;
            const uint64_t p = base + rr * cols + j, b = p / B;
            if (jb->codes[b] == CODE_UNSET) { /* first group of the block reached */
                uint64_t start = b * B, end = start + B < jb->n ? start + B : jb->n;
                float bmax = 0;
                for (uint64_t q = start; q < end; q++) {
                    float v = W[q - base];
                    vals[q - start] = v;
                    bmax = fabsf(v) > bmax ? fabsf(v) : bmax;
                }
                jb->search(c, vals, (uint32_t)(end - start), bmax, &res[0], &res[1]);
                jb->codes[b] = (uint8_t)res[0].code;
            }
            const float s = c->scale_tab[jb->codes[b]];
            float wv[HLAT_KMAX], rec[HLAT_KMAX], e[HLAT_KMAX];
            for (uint32_t d = 0; d < K; d++) wv[d] = (c->dz > 0 && w0[rr * cols + j + d] == 0) ? 0.0f : wr[j + d];
            uint32_t t;
            jb->group(c, wv, K, s, &t, rec);
            jb->t[p / K] = t;
            for (uint32_t d = 0; d < K; d++) {
                const float *ud = jb->U + (j + d) * cols;
                float v = wv[d] - rec[d];
                for (uint32_t k = 0; k < d; k++) v -= e[k] * jb->U[(j + k) * cols + j + d];
                e[d] = v / ud[j + d];
                E[rr * K + d] = e[d];
                double diff = fabs((double)rec[d] - w0[rr * cols + j + d]);
                sae += diff;
                sse += diff * diff;
                mx = diff > mx ? diff : mx;
            }
        }
        /* move the errors into the later columns of every row */
        for (uint32_t d = 0; d < K; d++) {
            const float *ud = jb->U + (j + d) * cols;
            for (uint64_t rr = 0; rr < nr; rr++) {
                float *wr = W + rr * cols;
                const float ed = E[rr * K + d];
                for (uint64_t q = j + K; q < cols; q++) wr[q] -= ed * ud[q];
            }
        }
    }
    jb->sae[item] = sae;
    jb->sse[item] = sse;
    jb->mx[item] = mx;
}

hc_status hlat_quantize_feedback(const hlat_enc_ctx *c, hlat_block_search_fn search, hlat_group_fn group,
                                 const float *w, uint64_t rows, uint64_t cols, const float *U, uint8_t *payload,
                                 int threads, hc_encoded *st, hc_error *err) {
    const uint32_t K = c->K, B = c->B;
    const uint64_t n = rows * cols, nblocks = n / B + (n % B != 0), ngroups = n / K;
    /* a batch starts on a block: (batch * cols) % B == 0 */
    uint64_t step = B / gcd_u64(cols, B), batch = step * ((BATCH_ROWS_MIN + step - 1) / step);
    if (batch > rows) batch = rows;
    const uint64_t items = (rows + batch - 1) / batch;
    if (threads < 1) threads = 1;
    if ((uint64_t)threads > items) threads = (int)items;
    uint8_t *codes = malloc(nblocks);
    uint32_t *t = malloc(sizeof(uint32_t) * ngroups);
    hlat_enc_ctx **ctx = calloc((size_t)threads, sizeof *ctx);
    hlat_block_result **res = calloc((size_t)threads, sizeof *res);
    float **work = calloc((size_t)threads, sizeof *work);
    double *sums = malloc(3 * sizeof(double) * items);
    int ok = codes && t && ctx && res && work && sums;
    for (int i = 0; i < threads && ok; i++) {
        ok = hlat_enc_thread_state(c, &ctx[i], &res[i]);
        if (ok) ok = (work[i] = malloc(sizeof(float) * (batch * (cols + K) + B))) != NULL;
    }
    if (ok) {
        memset(codes, CODE_UNSET, nblocks);
        fb_job jb = {c, search, group, w, rows, cols, n, batch, U, codes, t, ctx, res, work,
                     sums, sums + items, sums + 2 * items};
        hc_parallel_for(threads, items, feedback_item, &jb);
        double sae = 0, sse = 0, mx = 0;
        for (uint64_t i = 0; i < items; i++) { /* in order: independent of the thread count */
            sae += jb.sae[i];
            sse += jb.sse[i];
            mx = jb.mx[i] > mx ? jb.mx[i] : mx;
        }
        st->mae = sae / (double)n;
        st->mse = sse / (double)n;
        st->max_abs_err = mx;
        uint64_t scale_bytes;
        hlat_payload_len(c->p, n, &scale_bytes);
        hlat_bit_writer sw = {payload, 0, 0}, iw = {payload + scale_bytes, 0, 0};
        for (uint64_t b = 0; b < nblocks; b++) hlat_bits_put(&sw, codes[b], c->p->sbits);
        for (uint64_t g = 0; g < ngroups; g++) hlat_bits_put(&iw, t[g], c->m);
        hlat_bits_flush(&sw);
        hlat_bits_flush(&iw);
    }
    for (int i = 0; ctx && res && i < threads; i++) {
        hlat_enc_thread_free(ctx[i], res[i]);
        if (work) free(work[i]);
    }
    free(codes);
    free(t);
    free(ctx);
    free(res);
    free(work);
    free(sums);
    if (!ok) return hc_fail(err, HC_E_NOMEM, "hlat: out of memory for error feedback on %llu x %llu",
                            (unsigned long long)rows, (unsigned long long)cols);
    return HC_OK;
}
