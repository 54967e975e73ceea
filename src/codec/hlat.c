/* hlat.c — the hlat codec's parameters, payload layout, settings, encoder
 * driver and decoder opening (the search is in hlat_search.c, the lattice
 * algebra in hlat_lattice.c, the decoding kernels in hlat_kernels.c).
 *
 * Params blob, version 1 (little-endian):
 *    0 u8  version (1)          1 u8  K (1..8)         2 u8  m (K..32)
 *    3 u8  sbits (1..8)         4 u16 block B (multiple of K, <= 4096)
 *    6 u8  flags                7 u8  nfine (< 2^sbits)
 *    8 f32 scale_top           12 u16 step1          14 u16 step2  (1/256 octave)
 *   16 f16 c1  18 f16 c3  20 f16 c5                   compander
 *   22 [u16 dead zone in 2^-16 units of z]           if flags & HLAT_FLAG_DZ
 *   .. [u32 g[0..K)]                                  if flags & HLAT_FLAG_GEN
 * Without HLAT_FLAG_GEN the generator is the built-in one for (K, m).
 * Payload: the block scale codes (sbits each, LSB-first bit stream), padded
 * to a byte, then the group indices (m bits each, same bit order). */
#include "hlat.h"
#include "options.h"
#include "../common/util.h"
#include "../common/cpu.h"
#include <float.h>
#include <stdlib.h>

/* ===================================================================== */
/* Built-in generators                                                    */
/* ===================================================================== */

/* Generators of K = 4 rank-1 lattices with n = 2^m, m = 8..32. Found
 * offline: of 20000 random odd candidates the 32 with the longest shortest
 * vector (normalised second moments G ~ 0.077-0.079; Z^4: 0.0833, D4:
 * 0.0766), of those the one whose encodings of a synthetic heavy-tailed
 * tensor (Student t5, 2^20 weights) had the least error: the encoder's
 * search only looks at the 2^K corners of the reduced basis cell, and how
 * well that suits a lattice varies by up to 0.3 dB among equally dense ones. */
static const uint32_t hlat_gen4[25][4] = {
    {1, 153, 199, 235},                        /* m = 8 */
    {1, 385, 275, 333},                        /* m = 9 */
    {1, 861, 899, 69},                         /* m = 10 */
    {1, 145, 1297, 1131},                      /* m = 11 */
    {1, 2521, 3659, 3287},                     /* m = 12 */
    {1, 5053, 6939, 2349},                     /* m = 13 */
    {1, 15149, 5339, 7923},                    /* m = 14 */
    {1, 12023, 20267, 19061},                  /* m = 15 */
    {1, 39549, 35849, 1361},                   /* m = 16 */
    {1, 100095, 96883, 4167},                  /* m = 17 */
    {1, 184257, 250399, 2619},                 /* m = 18 */
    {1, 240523, 249373, 339585},               /* m = 19 */
    {1, 868645, 643815, 546947},               /* m = 20 */
    {1, 1120593, 28515, 1652541},              /* m = 21 */
    {1, 2409295, 1186121, 2322299},            /* m = 22 */
    {1, 829437, 3727859, 5352625},             /* m = 23 */
    {1, 12877467, 15937703, 1589063},          /* m = 24 */
    {1, 9730245, 14803253, 31510455},          /* m = 25 */
    {1, 1431757, 20078653, 53447677},          /* m = 26 */
    {1, 17629575, 53975621, 79684721},         /* m = 27 */
    {1, 243181027, 252133481, 89412841},       /* m = 28 */
    {1, 160568237, 203717835, 249317043},      /* m = 29 */
    {1, 163104173, 492920615, 777696345},      /* m = 30 */
    {1, 2014081835, 1679679821, 1066928527},   /* m = 31 */
    {1, 427940971, 1928103251, 976373977},     /* m = 32 */
};

int hlat_builtin_generator(uint32_t K, uint32_t m, uint32_t *g) {
    if (K != 4 || m < 8 || m > 32 || hlat_gen4[m - 8][0] != 1) return 0;
    for (uint32_t i = 0; i < 4; i++) g[i] = hlat_gen4[m - 8][i];
    return 1;
}

/* ===================================================================== */
/* Params                                                                 */
/* ===================================================================== */

uint32_t hlat_params_write(const hlat_params *p, uint8_t *out) {
    out[0] = HLAT_VERSION;
    out[1] = (uint8_t)p->K;
    out[2] = (uint8_t)p->m;
    out[3] = (uint8_t)p->sbits;
    hc_put_u16(out + 4, (uint16_t)p->block);
    out[6] = (uint8_t)p->flags;
    out[7] = (uint8_t)p->nfine;
    hc_put_f32(out + 8, p->scale_top);
    hc_put_u16(out + 12, (uint16_t)p->step1);
    hc_put_u16(out + 14, (uint16_t)p->step2);
    hc_put_u16(out + 16, hc_f32_to_f16(p->c1));
    hc_put_u16(out + 18, hc_f32_to_f16(p->c3));
    hc_put_u16(out + 20, hc_f32_to_f16(p->c5));
    uint32_t len = 22;
    if (p->flags & HLAT_FLAG_DZ) {
        double q = p->dead_zone * 65536.0;
        hc_put_u16(out + len, (uint16_t)(q > 65535 ? 65535 : q));
        len += 2;
    }
    if (p->flags & HLAT_FLAG_GEN) {
        for (uint32_t i = 0; i < p->K; i++) hc_put_u32(out + len + 4 * i, p->g[i]);
        len += 4 * p->K;
    }
    return len;
}

hc_status hlat_params_read(const uint8_t *b, uint32_t len, hlat_params *p, hc_error *err) {
    memset(p, 0, sizeof *p);
    if (len < 22) return hc_fail(err, HC_E_CORRUPT, "hlat: parameters are %u bytes, need at least 22", len);
    if (b[0] != HLAT_VERSION)
        return hc_fail(err, HC_E_UNSUPPORTED, "hlat: parameter version %u (this build reads %d)", b[0], HLAT_VERSION);
    p->K = b[1];
    p->m = b[2];
    p->sbits = b[3];
    p->block = hc_get_u16(b + 4);
    p->flags = b[6];
    p->nfine = b[7];
    p->scale_top = hc_get_f32(b + 8);
    p->step1 = hc_get_u16(b + 12);
    p->step2 = hc_get_u16(b + 14);
    p->c1 = hc_f16_to_f32(hc_get_u16(b + 16));
    p->c3 = hc_f16_to_f32(hc_get_u16(b + 18));
    p->c5 = hc_f16_to_f32(hc_get_u16(b + 20));
    if (p->K < 1 || p->K > HLAT_KMAX) return hc_fail(err, HC_E_CORRUPT, "hlat: group size K = %u not in 1..%d", p->K, HLAT_KMAX);
    if (p->m < p->K || p->m > HLAT_MMAX)
        return hc_fail(err, HC_E_CORRUPT, "hlat: index bits m = %u not in K..%d (K = %u)", p->m, HLAT_MMAX, p->K);
    if (p->sbits < 1 || p->sbits > HLAT_SBITS_MAX)
        return hc_fail(err, HC_E_CORRUPT, "hlat: scale bits %u not in 1..%d", p->sbits, HLAT_SBITS_MAX);
    if (p->block < p->K || p->block > HLAT_BLOCK_MAX || p->block % p->K)
        return hc_fail(err, HC_E_CORRUPT, "hlat: block %u is not a multiple of K = %u in [K, %d]", p->block, p->K,
                       HLAT_BLOCK_MAX);
    if (p->flags & ~(HLAT_FLAG_GEN | HLAT_FLAG_DZ)) return hc_fail(err, HC_E_CORRUPT, "hlat: unknown flags 0x%x", p->flags);
    if (p->nfine >= (1u << p->sbits)) return hc_fail(err, HC_E_CORRUPT, "hlat: nfine %u >= 2^sbits", p->nfine);
    if (!(p->scale_top > 0) || !isfinite(p->scale_top))
        return hc_fail(err, HC_E_CORRUPT, "hlat: top scale %g is not a positive finite number", (double)p->scale_top);
    if (!isfinite(p->c1) || !isfinite(p->c3) || !isfinite(p->c5))
        return hc_fail(err, HC_E_CORRUPT, "hlat: compander coefficients are not finite");
    uint32_t need = 22 + ((p->flags & HLAT_FLAG_DZ) ? 2 : 0) + ((p->flags & HLAT_FLAG_GEN) ? 4 * p->K : 0);
    if (len != need) return hc_fail(err, HC_E_CORRUPT, "hlat: parameters are %u bytes, expected %u", len, need);
    uint32_t pos = 22;
    if (p->flags & HLAT_FLAG_DZ) {
        p->dead_zone = (float)(hc_get_u16(b + pos) / 65536.0);
        pos += 2;
    }
    if (p->flags & HLAT_FLAG_GEN) {
        for (uint32_t i = 0; i < p->K; i++) p->g[i] = hc_get_u32(b + pos + 4 * i);
    } else if (!hlat_builtin_generator(p->K, p->m, p->g)) {
        return hc_fail(err, HC_E_CORRUPT, "hlat: no built-in generator for K = %u, m = %u and none stored", p->K, p->m);
    }
    uint64_t n = 1ull << p->m;
    if (p->g[0] != 1) return hc_fail(err, HC_E_CORRUPT, "hlat: generator must start with 1 (got %u)", p->g[0]);
    for (uint32_t i = 0; i < p->K; i++)
        if (p->g[i] >= n) return hc_fail(err, HC_E_CORRUPT, "hlat: generator entry %u = %u >= 2^%u", i, p->g[i], p->m);
    return HC_OK;
}

void hlat_scale_table(const hlat_params *p, float *tab) {
    uint32_t codes = 1u << p->sbits;
    for (uint32_t q = 0; q < codes; q++) {
        double e = (double)p->step1 * (q < p->nfine ? q : p->nfine) + (double)p->step2 * (q > p->nfine ? q - p->nfine : 0);
        tab[q] = (float)((double)p->scale_top * exp2(-e / 256.0));
    }
}

uint64_t hlat_payload_len(const hlat_params *p, uint64_t n, uint64_t *scale_bytes) {
    uint64_t nblocks = n / p->block + (n % p->block != 0);
    uint64_t ngroups = n / p->K + (n % p->K != 0);
    uint64_t sb, ib;
    if (!hc_mul_ok(nblocks, p->sbits, &sb) || !hc_mul_ok(ngroups, p->m, &ib)) return 0;
    sb = sb / 8 + (sb % 8 != 0);
    ib = ib / 8 + (ib % 8 != 0);
    if (scale_bytes) *scale_bytes = sb;
    return sb + ib;
}

/* ===================================================================== */
/* Settings                                                               */
/* ===================================================================== */

#define HLAT_DEF_K 4
#define HLAT_DEF_BLOCK 32
#define HLAT_DEF_SBITS 6
#define HLAT_PARAMS_BYTES 22 /* params without optional parts */

static double setting_bpw(uint32_t K, uint32_t m, uint32_t B, uint32_t sbits, uint64_t n, uint32_t params) {
    hlat_params p = {.K = K, .m = m, .block = B, .sbits = sbits};
    uint64_t bytes = hlat_payload_len(&p, n, NULL);
    return n ? 8.0 * (double)(bytes + params) / (double)n : 0;
}

/* Resolves opts into (K, m, B): zero fields take the defaults; a target
 * rate picks the largest m whose bits per weight stay within it. */
static hc_status resolve_settings(const hc_opts *o, uint64_t n, uint32_t *K, uint32_t *m, uint32_t *B,
                                  hc_error *err) {
    *K = o->dim ? o->dim : HLAT_DEF_K;
    *B = o->block ? o->block : HLAT_DEF_BLOCK;
    if (*K < 1 || *K > HLAT_KMAX) return hc_fail(err, HC_E_ARG, "hlat: dim (K) = %u not in 1..%d", *K, HLAT_KMAX);
    if (*B % *K || *B > HLAT_BLOCK_MAX || *B < *K)
        return hc_fail(err, HC_E_ARG, "hlat: block %u must be a multiple of dim %u, at most %d", *B, *K, HLAT_BLOCK_MAX);
    if (o->target_bpw > 0) {
        uint32_t best = *K;
        for (uint32_t mm = *K; mm <= HLAT_MMAX; mm++)
            if (setting_bpw(*K, mm, *B, HLAT_DEF_SBITS, n, HLAT_PARAMS_BYTES) <= o->target_bpw) best = mm;
        *m = best;
    } else {
        *m = o->bits ? o->bits : 5 * *K + 1; /* 5.44 bits per weight at K = 4, B = 32 */
    }
    if (*m < *K || *m > HLAT_MMAX)
        return hc_fail(err, HC_E_ARG, "hlat: bits (index bits per group of %u) = %u not in %u..%d", *K, *m, *K, HLAT_MMAX);
    return HC_OK;
}

double hc_hlat_bpw(const hc_opts *o, uint64_t n) {
    uint32_t K, m, B;
    if (resolve_settings(o, n, &K, &m, &B, NULL) != HC_OK) return 0;
    uint32_t extra = hlat_builtin_generator(K, m, (uint32_t[HLAT_KMAX]){0}) ? 0 : 4 * K;
    return setting_bpw(K, m, B, HLAT_DEF_SBITS, n, HLAT_PARAMS_BYTES + extra);
}

/* ===================================================================== */
/* Encoder driver                                                         */
/* ===================================================================== */

/* U: NULL, or the feedback factor of w read as (n / cols, cols). */
static hc_status hlat_encode_with(const float *w, uint64_t n, const hc_opts *o, uint64_t cols, const float *U,
                                  hc_encoded *out, hc_error *err) {
    uint32_t K, m, B;
    hc_status s = resolve_settings(o, n, &K, &m, &B, err);
    if (s) return s;
    if (n == 0) return hc_fail(err, HC_E_ARG, "hlat: empty tensor");
    uint64_t bad = hc_first_nonfinite(w, n);
    if (bad < n) /* NaN/Inf (e.g. a -inf mask): keep the tensor lossless, as the other codecs do */
        return hc_encode_lossless(w, n, out, err, "holds NaN/Inf (weight %llu)", (unsigned long long)bad);
    /* Weights of extreme magnitude are searched rescaled by a power of two
     * (exact), so that no square or sum of the search leaves float range;
     * the stored scales are the tensor's. */
    float amax = hc_abs_max(w, n);
    if (amax > FLT_MAX / 8)
        return hc_encode_lossless(w, n, out, err, "|w| up to %.3g: hlat's block scales would exceed float32",
                                  (double)amax);
    int scale_exp = (amax > 0 && (amax < 0x1p-20f || amax > 0x1p20f)) ? ilogbf(amax) + 1 : 0;
    hlat_params p;
    memset(&p, 0, sizeof p);
    p.K = K;
    p.m = m;
    p.block = B;
    p.sbits = HLAT_DEF_SBITS;
    if (!hlat_builtin_generator(K, m, p.g)) {
        hlat_generator_search(K, m, 1000, p.g);
        p.flags |= HLAT_FLAG_GEN;
    }
    uint64_t len = hlat_payload_len(&p, n, NULL);
    if (len == 0 || (uint64_t)(size_t)len != len)
        return hc_fail(err, HC_E_LIMIT, "hlat: tensor of %llu weights too large", (unsigned long long)n);
    out->payload = calloc(1, (size_t)len);
    if (!out->payload) return hc_fail(err, HC_E_NOMEM, "hlat: cannot allocate %llu payload bytes", (unsigned long long)len);
    out->payload_len = len;
    /* hlat_quantize settles the data-dependent parameters (scales, compander,
     * dead zone) before it quantises. */
    /* one thread unless the tensor is large enough to pay for more */
    int threads = (o->threads > 1 && n >= ((uint64_t)1 << 20)) ? (int)(o->threads < 64 ? o->threads : 64) : 1;
    if (U && (cols == 0 || cols % K || n % cols)) U = NULL; /* groups must not straddle rows */
    float *ws = NULL;
    if (scale_exp) {
        ws = malloc(sizeof(float) * (size_t)n);
        if (!ws) return hc_fail(err, HC_E_NOMEM, "hlat: cannot allocate %llu floats", (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) ws[i] = ldexpf(w[i], -scale_exp);
    }
    s = hlat_quantize(ws ? ws : w, n, &p, out->payload, out, threads, cols, U, scale_exp, err);
    free(ws);
    if (s == HC_E_LIMIT)
        return hc_encode_lossless(w, n, out, err, "|w| up to %.3g: hlat's block scales exceed float32", (double)amax);
    if (s) return s;
    out->codec = HC_CODEC_HLAT;
    out->params_len = hlat_params_write(&p, out->params);
    if (scale_exp) {
        /* the statistics of the tensor itself, as a reader decodes it */
        s = hc_encoded_measure(w, n, out, err);
        if (s) return s;
        if (!isfinite(out->mse))
            return hc_encode_lossless(w, n, out, err, "|w| up to %.3g: hlat's decoded weights overflow float32",
                                      (double)amax);
    }
    return HC_OK;
}

static hc_status hlat_encode(const float *w, uint64_t n, const hc_opts *o, hc_encoded *out, hc_error *err) {
    return hlat_encode_with(w, n, o, 0, NULL, out, err);
}

static hc_status hlat_encode_matrix(const float *w, uint64_t rows, uint64_t cols, const float *U, const hc_opts *o,
                                    hc_encoded *out, hc_error *err) {
    return hlat_encode_with(w, rows * cols, o, cols, U, out, err);
}

/* ===================================================================== */
/* Decoder                                                                */
/* ===================================================================== */

static void hlat_destroy(hc_decoder *d) {
    free(((hlat_decoder *)d)->q16.cache);
    free(((hlat_decoder *)d)->small);
    free(d);
}

/* The kernels of a level (src/common/cpu.h): decode and matvec
 * (hlat_kernels.c). Called once, at open, with hc_simd_level(). */
static void hlat_kernels(hc_simd level, hlat_decoder *d) { hlat_kernels_at(level, d, NULL); }

static hc_status hlat_open(const uint8_t *params, uint32_t params_len, const uint8_t *payload, uint64_t payload_len,
                           uint64_t n, hc_dtype dtype, hc_decoder **out, hc_error *err) {
    (void)dtype;
    *out = NULL;
    hlat_params p;
    hc_status s = hlat_params_read(params, params_len, &p, err);
    if (s) return s;
    if (n == 0) return hc_fail(err, HC_E_CORRUPT, "hlat: tensor of 0 weights");
    uint64_t sb, need = hlat_payload_len(&p, n, &sb);
    if (need == 0 || need != payload_len)
        return hc_fail(err, HC_E_CORRUPT, "hlat: payload is %llu bytes, expected %llu for %llu weights",
                       (unsigned long long)payload_len, (unsigned long long)need, (unsigned long long)n);
    hlat_decoder *d = calloc(1, sizeof *d);
    if (!d) return hc_fail(err, HC_E_NOMEM, "hlat: out of memory");
    d->base.codec = HC_CODEC_HLAT;
    d->base.n = n;
    d->base.destroy = hlat_destroy;
    d->p = p;
    d->scales = payload;
    d->scales_len = sb;
    d->idx = payload + sb;
    d->idx_len = payload_len - sb;
    d->nblocks = n / p.block + (n % p.block != 0);
    d->ngroups = n / p.K + (n % p.K != 0);
    /* group g's 8-byte load starts at byte (g m) / 8 */
    /* group g's 8-byte load starts at byte floor(g m / 8): in bounds while
     * g m < (len - 7) * 8; likewise 2-byte scale loads while b sbits < (len - 1) * 8 */
    d->fast_groups = 0;
    if (d->idx_len >= 8) {
        uint64_t g_max = ((d->idx_len - 7) * 8 - 1) / p.m;
        d->fast_groups = g_max + 1 < d->ngroups ? g_max + 1 : d->ngroups;
    }
    d->fast_blocks = 0;
    if (d->scales_len >= 2) {
        uint64_t b_max = ((d->scales_len - 1) * 8 - 1) / p.sbits;
        d->fast_blocks = b_max + 1 < d->nblocks ? b_max + 1 : d->nblocks;
    }
    for (uint32_t i = 0; i < p.K; i++) d->gshift[i] = p.g[i] << (32 - p.m);
    hlat_scale_table(&p, d->scale_tab);
    hlat_kernels(hc_simd_level(), d);
    *out = &d->base;
    return HC_OK;
}

/* ===================================================================== */
/* Settings: options, rate ladder, the tools' constants (codec.h)         */
/* ===================================================================== */

HC_OPT_SETTER_U32(set_bits, bits)
HC_OPT_SETTER_U32(set_block, block)
HC_OPT_SETTER_U32(set_dim, dim)

static const hc_opt_def hlat_options[] = {
    {"--bits", "bits", NULL, HC_OPTK_UINT, 1, HLAT_MMAX, 1, set_bits, "B",
     "index bits per group of K weights (5K+1), K..32", 0, 0},
    {"--block", "block", NULL, HC_OPTK_UINT, 1, HLAT_BLOCK_MAX, 0, set_block, "N",
     "weights per scale block (32), multiple of K, <= 4096", 0, 0},
    {"--dim", "dim", NULL, HC_OPTK_UINT, 1, HLAT_KMAX, 0, set_dim, "K", "weights per trajectory point (4), 1..8", 0, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0},
};

/* Index bits per group of K: from ~1.7 to ~7.7 bits per weight at K = 4
 * (m <= 30 keeps the vectorised search). */
static size_t hlat_ladder(const hc_opts *base, hc_opts *out, size_t max) {
    size_t k = 0;
    uint32_t K = base->dim ? base->dim : HLAT_DEF_K, lo = (3 * K + 1) / 2, hi = 8 * K < 30 ? 8 * K : 30;
    for (uint32_t m = lo; m <= hi && k < max; m++) {
        out[k] = *base;
        out[k].dim = K;
        out[k].bits = m;
        k++;
    }
    return k;
}

static double hlat_ladder_bpw(const hc_opts *o, int lowest) {
    (void)lowest;
    hc_opts t = *o;
    t.target_bpw = t.target_snr = 0;
    return hc_hlat_bpw(&t, (uint64_t)1 << 24);
}

/* Sensitivity passes probe near the middle of the ladder. */
static void hlat_probe_setting(hc_opts *o) { o->bits = 17; }

/* m index bits per group of 4 weights + a 6-bit scale per 32, i.e.
 * m/4 + 0.1875 bits per weight */
static const char *const hlat_rd_settings[] = {
    "hlat:bits=6",  "hlat:bits=7",  "hlat:bits=8", /* down to 2 bits per weight */
    "hlat:bits=9",  "hlat:bits=10", "hlat:bits=11", "hlat:bits=12", "hlat:bits=13", "hlat:bits=14",
    "hlat:bits=15", "hlat:bits=16", "hlat:bits=17", "hlat:bits=18", "hlat:bits=19", "hlat:bits=20",
    "hlat:bits=21", "hlat:bits=22", "hlat:bits=23", "hlat:bits=24", "hlat:bits=25", "hlat:bits=26",
    "hlat:bits=27", "hlat:bits=28", "hlat:bits=29", "hlat:bits=30", NULL,
};

const hc_codec_vt hc_codec_hlat_vt = {
    .id = HC_CODEC_HLAT,
    .name = "hlat",
    .encode = hlat_encode,
    .open = hlat_open,
    .encode_matrix = hlat_encode_matrix,
    .ladder = hlat_ladder,
    .ladder_bpw = hlat_ladder_bpw,
    .options = hlat_options,
    .probe_setting = hlat_probe_setting,
    .rd_settings = hlat_rd_settings,
    .rd_colour = "#d62728",
    .rd_targets = 1,
};
