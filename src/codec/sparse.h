/* sparse.h — pruning before coding, and the sparse wrapper codec that keeps
 * the zeros exact (sparse.c; payload in docs/FORMAT.md, "Sparse codec").
 *
 * `compress --prune P` zeroes the fraction P of each coded tensor's weights
 * of smallest magnitude; `--prune N:M` keeps the N largest of every M
 * consecutive weights (along the input dimension of a row-major (out, in)
 * matrix), e.g. 2:4. The tensor is then stored by HC_CODEC_SPARSE: a mask of
 * the zeros plus the remaining weights coded densely by the codec chosen
 * (o->codec), so that zeros decode as exact zeros. */
#ifndef HC_SPARSE_H
#define HC_SPARSE_H

#include "hyperc.h"

/* 1 if o asks for pruning (o->prune > 0 or an N:M pattern). */
int hc_prune_active(const hc_opts *o);
/* Parses "0.5" (a fraction in [0, 1)) or "2:4" (N:M, 1 <= N < M <= 16) into
 * o->prune / o->prune_n, o->prune_m. `name` is the option as given (for the
 * message). HC_E_ARG on a bad value. */
hc_status hc_prune_parse(const char *name, const char *value, hc_opts *o, hc_error *err);
/* Prunes w[0..n) in place as o says (nothing when not active). */
hc_status hc_prune_apply(float *w, uint64_t n, const hc_opts *o, hc_error *err);
/* "0.5", "2:4" or "" (no pruning), for labels. */
const char *hc_prune_str(const hc_opts *o, char *buf, size_t cap);

#endif
