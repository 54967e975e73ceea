/* paper_dec.c — the paper codec's decoder: random-access decode through the
 * index -> point table, and the plain-C fused matvec (the SIMD kernels are in
 * paper_simd.c). The encoder is in paper.c; docs/ALGORITHM.md §6. */
#include "paper.h"
#include "bitpack.h"
#include "../common/util.h"
#include "../common/cpu.h"
#include <math.h>
#include <stdlib.h>

/* ===================================================================== */
/* Decoder                                                                */
/* ===================================================================== */

void hc_paper_decode_pairs(const hc_paper_decoder *d, uint64_t j0, uint64_t j1, float *out) {
    const float *tab = d->table;
    const uint8_t *pay = d->payload;
    const uint32_t u = d->u, mask = d->mask;
    const uint64_t jf = j1 < d->fast_pairs ? j1 : d->fast_pairs;
    uint64_t j = j0, bit = j0 * u;
    for (; j + 4 <= jf; j += 4, bit += 4 * (uint64_t)u) {
        uint32_t v0 = hc_bitpack_get_fast(pay, bit, mask);
        uint32_t v1 = hc_bitpack_get_fast(pay, bit + u, mask);
        uint32_t v2 = hc_bitpack_get_fast(pay, bit + 2 * u, mask);
        uint32_t v3 = hc_bitpack_get_fast(pay, bit + 3 * u, mask);
        memcpy(out, tab + 2 * (size_t)v0, 8);
        memcpy(out + 2, tab + 2 * (size_t)v1, 8);
        memcpy(out + 4, tab + 2 * (size_t)v2, 8);
        memcpy(out + 6, tab + 2 * (size_t)v3, 8);
        out += 8;
    }
    for (; j < jf; j++, bit += u) {
        memcpy(out, tab + 2 * (size_t)hc_bitpack_get_fast(pay, bit, mask), 8);
        out += 2;
    }
    for (; j < j1; j++) {
        memcpy(out, tab + 2 * (size_t)hc_bitpack_get(pay, d->payload_len, j, u), 8);
        out += 2;
    }
}

static inline uint32_t dec_index(const hc_paper_decoder *d, uint64_t j) {
    return hc_bitpack_get(d->payload, d->payload_len, j, d->u);
}

static void paper_decode(const hc_decoder *base, uint64_t start, uint64_t count, float *out) {
    const hc_paper_decoder *d = (const hc_paper_decoder *)base;
    if (start >= base->n) return;
    if (count > base->n - start) count = base->n - start;
    if (count == 0) return;
    uint64_t e = start, end = start + count;
    if (e & 1) { /* odd start: the second element of a pair */
        *out++ = d->table[2 * (size_t)dec_index(d, e >> 1) + 1];
        e++;
    }
    uint64_t j0 = e >> 1, j1 = end >> 1;
    if (j1 > j0) {
        hc_paper_decode_pairs(d, j0, j1, out);
        out += 2 * (j1 - j0);
    }
    if ((end & 1) && end > e) /* odd end: the first element of the last pair */
        *out = d->table[2 * (size_t)dec_index(d, j1)];
}

/* Reference row-range product: decode a tile of a row, multiply, repeat. */
#define PAPER_TILE 256
void hc_paper_matvec_ref(const hc_decoder *base, uint64_t cols, uint64_t row0, uint64_t row1, const float *x,
                         float *y) {
    const uint64_t rows = cols ? base->n / cols : 0;
    float tile[PAPER_TILE];
    for (uint64_t r = row0; r < row1; r++) {
        if (r >= rows) { /* outside the tensor: nothing to read */
            y[r - row0] = 0;
            continue;
        }
        double acc = 0;
        for (uint64_t c0 = 0; c0 < cols; c0 += PAPER_TILE) {
            uint64_t k = cols - c0 < PAPER_TILE ? cols - c0 : PAPER_TILE;
            paper_decode(base, r * cols + c0, k, tile);
            float lane[4] = {0, 0, 0, 0};
            uint64_t c = 0;
            for (; c + 4 <= k; c += 4)
                for (int l = 0; l < 4; l++) lane[l] += tile[c + l] * x[c0 + c + l];
            for (; c < k; c++) lane[0] += tile[c] * x[c0 + c];
            acc += (double)((lane[0] + lane[1]) + (lane[2] + lane[3]));
        }
        y[r - row0] = (float)acc;
    }
}

static void paper_destroy(hc_decoder *base) {
    hc_paper_decoder *d = (hc_paper_decoder *)base;
    free(d->table);
    hc_paper_linear_free(&d->lin);
    free(d);
}

/* The kernels of a level (src/common/cpu.h): the matvec (paper_simd.c; the
 * levels are hc_simd's). Called once, at open, with hc_simd_level(). */
static void paper_kernels(hc_simd level, hc_paper_decoder *d) {
    hc_paper_matvec_fn fn = hc_paper_matvec_for((hc_paper_simd)level);
    d->base.matvec = fn ? fn : hc_paper_matvec_ref;
}

hc_status hc_paper_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload, uint64_t payload_len,
                            uint64_t nw, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype;
    *out = NULL;
    hc_paper_params p;
    hc_status s = hc_paper_params_read(params, params_len, nw, &p, err);
    if (s) return s;
    const uint64_t npairs = nw / 2 + (nw & 1);
    int ok;
    uint64_t need = hc_bitpack_bytes(npairs, p.u, &ok);
    if (!ok || need != payload_len)
        return hc_fail(err, HC_E_CORRUPT, "paper codec: payload is %llu bytes, expected %llu for %llu weights at %u bits",
                       (unsigned long long)payload_len, (unsigned long long)need, (unsigned long long)nw, p.u);
    if (payload_len && !payload) return hc_fail(err, HC_E_ARG, "paper codec: no payload");
    hc_paper_decoder *d = calloc(1, sizeof *d);
    if (!d) return hc_fail(err, HC_E_NOMEM, "paper codec: out of memory");
    s = hc_paper_table_build(&p, &d->table, err);
    if (s) {
        free(d);
        return s;
    }
    d->p = p;
    d->payload = payload;
    d->payload_len = payload_len;
    d->npairs = npairs;
    d->u = p.u;
    d->mask = (uint32_t)((1ull << p.u) - 1);
    uint64_t fast = hc_bitpack_fast_limit(payload_len, p.u);
    d->fast_pairs = fast < npairs ? fast : npairs;
    d->base.codec = HC_CODEC_PAPER;
    d->base.n = nw;
    d->base.decode = paper_decode;
    paper_kernels(hc_simd_level(), d);
    d->base.destroy = paper_destroy;
    s = hc_paper_linear_build(d, HC_PAPER_LINEAR_MAX_BITS, err); /* the correction list: one pass over the indices */
    if (s) {
        free(d->table);
        free(d);
        return s;
    }
    *out = &d->base;
    return HC_OK;
}

