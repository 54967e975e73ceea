/* sparse.c — magnitude pruning and the sparse wrapper codec (sparse.h).
 *
 * A tensor of n weights is stored as a mask saying which weights are kept
 * and the kept weights, in order, coded densely by an inner codec as a flat
 * tensor of nnz weights; decoding scatters them and leaves exact zeros
 * elsewhere. Two masks (docs/FORMAT.md, "Sparse codec"):
 *  - a bitmap, 1 bit per weight (bit i of byte i/8, LSB first): any pattern;
 *  - for 2:4, one of the 6 patterns of 2 kept positions per group of 4,
 *    three groups per byte in base 6: 8/12 = 0.667 bits per weight instead
 *    of the bitmap's 1 (log2(6)/4 = 0.646 would be the entropy bound).
 * Params (32 bytes, little-endian): u8 version 1, u8 mask kind (0 bitmap,
 * 1 2:4), u8 inner codec, u8 0, u32 inner params length, u64 n, u64 nnz,
 * u64 mask bytes. Payload: inner params, mask, inner payload. */
#include "sparse.h"
#include "codec.h"
#include "../common/util.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPARSE_PARAMS 32
#define SPARSE_VERSION 1
#define MASK_BITMAP 0
#define MASK_24 1
#define INNER_RAW_BELOW 32 /* fewer kept weights than this: stored as float32 */
#define SUPER_BITS 512     /* bitmap rank directory: one count per 512 weights */

/* ---- pruning ------------------------------------------------------------------ */

int hc_prune_active(const hc_opts *o) { return o->prune > 0 || (o->prune_m > 0 && o->prune_n < o->prune_m); }

const char *hc_prune_str(const hc_opts *o, char *buf, size_t cap) {
    if (o->prune_m > 0) snprintf(buf, cap, "%u:%u", o->prune_n, o->prune_m);
    else if (o->prune > 0) snprintf(buf, cap, "%g", o->prune);
    else snprintf(buf, cap, "%s", "");
    return buf;
}

hc_status hc_prune_parse(const char *name, const char *value, hc_opts *o, hc_error *err) {
    const char *colon = strchr(value, ':');
    char *end;
    errno = 0;
    if (colon) {
        unsigned long a = strtoul(value, &end, 10), b;
        int ok = end == colon && value[0] >= '0' && value[0] <= '9' && !errno;
        if (ok) {
            b = strtoul(colon + 1, &end, 10);
            ok = !*end && colon[1] >= '0' && colon[1] <= '9' && !errno && a >= 1 && a < b && b <= 16;
        }
        if (!ok)
            return hc_fail(err, HC_E_ARG, "%s %s: an N:M pattern wants 1 <= N < M <= 16 (e.g. 2:4)", name, value);
        o->prune_n = (uint32_t)a;
        o->prune_m = (uint32_t)b;
        o->prune = 0;
        return HC_OK;
    }
    double x = strtod(value, &end);
    if (end == value || *end || errno || !(x >= 0 && x < 1))
        return hc_fail(err, HC_E_ARG, "%s %s: want a fraction of zeros in [0, 1) or an N:M pattern such as 2:4", name,
                       value);
    o->prune = x;
    o->prune_n = o->prune_m = 0;
    return HC_OK;
}

/* k-th smallest (0-based) of a[0..n), reordering a. */
static float select_kth(float *a, uint64_t n, uint64_t k) {
    uint64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        uint64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

/* Which of the m weights g[0..m) an N:M pattern keeps: the n largest in
 * magnitude, ties to the lower index. keep[i] = 1 for them. */
static void keep_largest(const float *g, uint32_t m, uint32_t n, uint8_t *keep) {
    for (uint32_t i = 0; i < m; i++) {
        uint32_t rank = 0;
        float a = fabsf(g[i]);
        for (uint32_t j = 0; j < m; j++) {
            float b = fabsf(g[j]);
            if (b > a || (b == a && j < i)) rank++;
        }
        keep[i] = rank < n;
    }
}

hc_status hc_prune_apply(float *w, uint64_t n, const hc_opts *o, hc_error *err) {
    if (!hc_prune_active(o) || n == 0) return HC_OK;
    if (o->prune_m > 0) {
        uint8_t keep[16];
        const uint32_t m = o->prune_m;
        for (uint64_t s = 0; s + m <= n; s += m) { /* a partial last group is kept whole */
            keep_largest(w + s, m, o->prune_n, keep);
            for (uint32_t i = 0; i < m; i++)
                if (!keep[i]) w[s + i] = 0;
        }
        return HC_OK;
    }
    uint64_t z = (uint64_t)floor(o->prune * (double)n + 0.5);
    if (z == 0) return HC_OK;
    if (z > n) z = n;
    float *a = malloc((size_t)n * sizeof *a);
    if (!a) return hc_fail(err, HC_E_NOMEM, "pruning: out of memory for %llu weights", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) a[i] = fabsf(w[i]);
    float t = select_kth(a, n, z - 1);
    free(a);
    uint64_t zeros = 0;
    for (uint64_t i = 0; i < n; i++)
        if (fabsf(w[i]) < t) {
            w[i] = 0;
            zeros++;
        }
    for (uint64_t i = 0; i < n && zeros < z; i++) /* ties at the threshold: the first ones */
        if (fabsf(w[i]) == t) {
            w[i] = 0;
            zeros++;
        }
    return HC_OK;
}

/* ---- the 2:4 patterns --------------------------------------------------------------- */

static const uint8_t pairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
static const uint8_t pow6[3] = {1, 6, 36};

static unsigned pattern_of(const uint8_t *mask, uint64_t g) { return (unsigned)(mask[g / 3] / pow6[g % 3]) % 6; }

/* ---- little-endian fields ------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t bitmap_bytes(uint64_t n) { return n / 8 + (n % 8 != 0); }
static uint64_t groups24(uint64_t n) { return n / 4; }
static uint64_t pattern_bytes(uint64_t n) { return groups24(n) / 3 + (groups24(n) % 3 != 0); }

/* ---- encoder ---------------------------------------------------------------------------- */

static hc_status sparse_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    const hc_codec_id inner = o->codec == HC_CODEC_SPARSE ? HC_CODEC_HLAT : o->codec;
    if (inner == HC_CODEC_RAW || !hc_codec_get(inner))
        return hc_fail(err, HC_E_ARG, "sparse codec: inner codec %s cannot code the kept weights", hc_codec_name(inner));
    const int kind = o->prune_m == 4 && o->prune_n == 2 ? MASK_24 : MASK_BITMAP;
    const uint64_t mbytes = kind == MASK_24 ? pattern_bytes(n) : bitmap_bytes(n);
    uint64_t fbytes;
    if (n == 0 || !hc_mul_ok(n, sizeof(float), &fbytes) || fbytes != (size_t)fbytes)
        return hc_fail(err, HC_E_LIMIT, "sparse codec: %llu weights", (unsigned long long)n);
    float *vals = malloc((size_t)fbytes);
    uint8_t *mask = calloc((size_t)mbytes + 1, 1);
    if (!vals || !mask) {
        free(vals);
        free(mask);
        return hc_fail(err, HC_E_NOMEM, "sparse codec: out of memory for %llu weights", (unsigned long long)n);
    }
    uint64_t nnz = 0;
    if (kind == MASK_24) {
        const uint64_t G = groups24(n);
        for (uint64_t g = 0; g < G; g++) {
            uint8_t keep[4];
            keep_largest(w + 4 * g, 4, 2, keep);
            unsigned p = 0;
            while (!(keep[pairs[p][0]] && keep[pairs[p][1]])) p++;
            mask[g / 3] = (uint8_t)(mask[g / 3] + p * pow6[g % 3]);
            vals[nnz++] = w[4 * g + pairs[p][0]];
            vals[nnz++] = w[4 * g + pairs[p][1]];
        }
        for (uint64_t i = 4 * G; i < n; i++) vals[nnz++] = w[i];
    } else {
        memcpy(vals, w, (size_t)fbytes);
        if (hc_prune_apply(vals, n, o, err) != HC_OK) {
            free(vals);
            free(mask);
            return HC_E_NOMEM;
        }
        for (uint64_t i = 0; i < n; i++)
            if (vals[i] != 0) {
                mask[i / 8] |= (uint8_t)(1u << (i % 8));
                vals[nnz++] = vals[i];
            }
    }
    hc_encoded ie;
    memset(&ie, 0, sizeof ie);
    hc_status s = HC_OK;
    if (nnz == 0) {
        ie.codec = HC_CODEC_RAW;
    } else if (nnz < INNER_RAW_BELOW) {
        s = hc_codec_get(HC_CODEC_RAW)->encode(vals, nnz, NULL, &ie, err);
        ie.codec = HC_CODEC_RAW;
    } else {
        hc_opts io = *o;
        io.codec = inner;
        io.prune = 0;
        io.prune_n = io.prune_m = 0;
        io.calib = NULL;
        io.target_bpw = io.target_snr = 0;
        s = hc_encode(vals, nnz, &io, &ie, err);
    }
    free(vals);
    uint64_t total = (uint64_t)ie.params_len + mbytes + ie.payload_len;
    if (!s) {
        out->payload = malloc(total ? (size_t)total : 1);
        if (!out->payload) s = hc_fail(err, HC_E_NOMEM, "sparse codec: out of memory");
    }
    if (!s) {
        memcpy(out->payload, ie.params, ie.params_len);
        memcpy(out->payload + ie.params_len, mask, (size_t)mbytes);
        if (ie.payload_len) memcpy(out->payload + ie.params_len + mbytes, ie.payload, (size_t)ie.payload_len);
        out->payload_len = total;
        uint8_t *p = out->params;
        memset(p, 0, SPARSE_PARAMS);
        p[0] = SPARSE_VERSION;
        p[1] = (uint8_t)kind;
        p[2] = (uint8_t)ie.codec;
        put32(p + 4, ie.params_len);
        put64(p + 8, n);
        put64(p + 16, nnz);
        put64(p + 24, mbytes);
        out->params_len = SPARSE_PARAMS;
        out->codec = HC_CODEC_SPARSE;
        s = hc_encoded_measure(w, n, out, err);
    }
    free(mask);
    hc_encoded_free(&ie);
    if (s) hc_encoded_free(out);
    return s;
}

/* ---- decoder ------------------------------------------------------------------------------ */

typedef struct sparse_dec {
    hc_decoder base;
    int kind;
    const uint8_t *mask;
    uint64_t groups;  /* 2:4: full groups of 4 */
    uint64_t *super;  /* bitmap: kept weights before each block of SUPER_BITS */
    hc_decoder *inner; /* NULL when nothing is kept */
} sparse_dec;

static uint64_t rank_of(const sparse_dec *d, uint64_t i) {
    if (d->kind == MASK_24) {
        if (i >= 4 * d->groups) return 2 * d->groups + (i - 4 * d->groups);
        uint64_t g = i / 4;
        unsigned p = pattern_of(d->mask, g), r = (unsigned)(i % 4);
        return 2 * g + (pairs[p][0] < r) + (pairs[p][1] < r);
    }
    uint64_t blk = i / SUPER_BITS, r = d->super[blk];
    for (uint64_t b = blk * (SUPER_BITS / 8); b < i / 8; b++) r += (uint64_t)__builtin_popcount(d->mask[b]);
    if (i % 8) r += (uint64_t)__builtin_popcount(d->mask[i / 8] & ((1u << (i % 8)) - 1));
    return r;
}

static int kept(const sparse_dec *d, uint64_t i) {
    if (d->kind == MASK_24) {
        if (i >= 4 * d->groups) return 1;
        unsigned p = pattern_of(d->mask, i / 4), r = (unsigned)(i % 4);
        return pairs[p][0] == r || pairs[p][1] == r;
    }
    return (d->mask[i / 8] >> (i % 8)) & 1;
}

static void sparse_decode(const hc_decoder *base, uint64_t start, uint64_t count, float *out) {
    const sparse_dec *d = (const sparse_dec *)base;
    float buf[1024];
    while (count > 0) {
        uint64_t k = count < 1024 ? count : 1024;
        uint64_t r0 = rank_of(d, start), r1 = rank_of(d, start + k);
        if (r1 > r0) d->inner->decode(d->inner, r0, r1 - r0, buf);
        uint64_t j = 0;
        for (uint64_t i = 0; i < k; i++) out[i] = kept(d, start + i) ? buf[j++] : 0.0f;
        start += k;
        count -= k;
        out += k;
    }
}

static void sparse_destroy(hc_decoder *base) {
    sparse_dec *d = (sparse_dec *)base;
    hc_decoder_free(d->inner);
    free(d->super);
    free(d);
}

static hc_status sparse_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload, uint64_t payload_len,
                             uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype; /* the kept weights are coded as float32 */
    *out = NULL;
    if (params_len != SPARSE_PARAMS)
        return hc_fail(err, HC_E_CORRUPT, "sparse codec: %u parameter bytes, expected %d", params_len, SPARSE_PARAMS);
    const int kind = params[1];
    const hc_codec_id inner = (hc_codec_id)params[2];
    const uint32_t iplen = get32(params + 4);
    const uint64_t sn = get64(params + 8), nnz = get64(params + 16), mbytes = get64(params + 24);
    if (params[0] != SPARSE_VERSION)
        return hc_fail(err, HC_E_UNSUPPORTED, "sparse codec: version %u (this build reads %d)", params[0],
                       SPARSE_VERSION);
    if (params[3] != 0 || (kind != MASK_BITMAP && kind != MASK_24))
        return hc_fail(err, HC_E_CORRUPT, "sparse codec: unknown mask kind %d or flags %u", kind, params[3]);
    if (n == 0 || sn != n)
        return hc_fail(err, HC_E_CORRUPT, "sparse codec: parameters are for %llu weights, the tensor has %llu",
                       (unsigned long long)sn, (unsigned long long)n);
    if (inner == HC_CODEC_SPARSE || !hc_codec_get(inner))
        return hc_fail(err, HC_E_CORRUPT, "sparse codec: inner codec id %d is not usable", (int)inner);
    if (iplen > HC_MAX_PARAMS)
        return hc_fail(err, HC_E_CORRUPT, "sparse codec: inner parameters of %u bytes exceed %d", iplen, HC_MAX_PARAMS);
    const uint64_t want_mask = kind == MASK_24 ? pattern_bytes(n) : bitmap_bytes(n);
    if (mbytes != want_mask || nnz > n || payload_len < (uint64_t)iplen || payload_len - iplen < mbytes)
        return hc_fail(err, HC_E_CORRUPT,
                       "sparse codec: mask of %llu bytes (expected %llu), %llu kept of %llu, payload of %llu bytes",
                       (unsigned long long)mbytes, (unsigned long long)want_mask, (unsigned long long)nnz,
                       (unsigned long long)n, (unsigned long long)payload_len);
    const uint8_t *iparams = payload, *mask = payload + iplen, *ipay = mask + mbytes;
    const uint64_t iplen_payload = payload_len - iplen - mbytes;
    sparse_dec *d = calloc(1, sizeof *d);
    if (!d) return hc_fail(err, HC_E_NOMEM, "sparse codec: out of memory");
    d->kind = kind;
    d->mask = mask;
    hc_status s = HC_OK;
    uint64_t count = 0;
    if (kind == MASK_24) {
        d->groups = groups24(n);
        for (uint64_t b = 0; b < mbytes && !s; b++) {
            uint64_t digits = d->groups - 3 * b < 3 ? d->groups - 3 * b : 3; /* used base-6 digits of this byte */
            if (mask[b] >= (digits == 1 ? 6 : digits == 2 ? 36 : 216))
                s = hc_fail(err, HC_E_CORRUPT, "sparse codec: 2:4 pattern byte %llu is %u, not a pattern",
                            (unsigned long long)b, mask[b]);
        }
        count = 2 * d->groups + n % 4;
    } else {
        uint64_t blocks = mbytes / (SUPER_BITS / 8) + 2;
        d->super = malloc((size_t)blocks * sizeof *d->super);
        if (!d->super) s = hc_fail(err, HC_E_NOMEM, "sparse codec: out of memory for %llu weights", (unsigned long long)n);
        for (uint64_t b = 0; b < mbytes && !s; b++) {
            if (b % (SUPER_BITS / 8) == 0) d->super[b / (SUPER_BITS / 8)] = count;
            count += (uint64_t)__builtin_popcount(mask[b]);
        }
        if (!s && mbytes % (SUPER_BITS / 8) == 0) d->super[mbytes / (SUPER_BITS / 8)] = count;
        if (!s && n % 8 && (mask[mbytes - 1] >> (n % 8)))
            s = hc_fail(err, HC_E_CORRUPT, "sparse codec: bits set past weight %llu in the mask", (unsigned long long)n);
    }
    if (!s && count != nnz)
        s = hc_fail(err, HC_E_CORRUPT, "sparse codec: the mask keeps %llu weights, the parameters say %llu",
                    (unsigned long long)count, (unsigned long long)nnz);
    if (!s && nnz == 0 && (inner != HC_CODEC_RAW || iplen != 0 || iplen_payload != 0))
        s = hc_fail(err, HC_E_CORRUPT, "sparse codec: nothing kept but %llu bytes of coded weights",
                    (unsigned long long)(iplen + iplen_payload));
    if (!s && nnz > 0) {
        s = hc_decoder_open(inner, iparams, iplen, ipay, iplen_payload, nnz, HC_F32, &d->inner, err);
        if (s) hc_error_context(err, s, "sparse codec: kept weights");
        else if (d->inner->n != nnz)
            s = hc_fail(err, HC_E_CORRUPT, "sparse codec: inner decoder of %llu weights, %llu kept",
                        (unsigned long long)d->inner->n, (unsigned long long)nnz);
    }
    if (s) {
        sparse_destroy(&d->base);
        return s;
    }
    d->base.codec = HC_CODEC_SPARSE;
    d->base.n = n;
    d->base.decode = sparse_decode;
    d->base.matvec = NULL; /* decode + dot (hc_matvec_ref) */
    d->base.destroy = sparse_destroy;
    *out = &d->base;
    return HC_OK;
}

const hc_codec_vt hc_codec_sparse_vt = {
    .id = HC_CODEC_SPARSE,
    .name = "sparse",
    .encode = sparse_encode,
    .open = sparse_open,
};
