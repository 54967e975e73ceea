/* cmd_compare.c — `hyperc compare`: per-tensor and total NMSE, SNR and
 * largest difference between two models. */
#include "commands.h"
#include "cli.h"
#include "hyperc.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_compare(int argc, char **argv) {
    const char *pa = NULL, *pb = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hyperc compare A.safetensors B.safetensors [-q]\n"
                   "\nPer-tensor and total NMSE = sum (a-b)^2 / sum a^2, SNR = -10 log10 NMSE,\n"
                   "and the largest absolute difference, for tensors present in both.\n"
                   "-q prints the totals only. Exit status 1 if the files hold different\n"
                   "tensor names or shapes.\n");
            return HC_EXIT_OK;
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hyperc compare: unknown option '%s'\n", argv[i]);
            return HC_EXIT_USAGE;
        } else if (!pa) {
            pa = argv[i];
        } else if (!pb) {
            pb = argv[i];
        } else {
            fprintf(stderr, "hyperc compare: unexpected argument '%s'\n", argv[i]);
            return HC_EXIT_USAGE;
        }
    }
    if (!pa || !pb) {
        fprintf(stderr, "usage: hyperc compare A.safetensors B.safetensors\n");
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *a = NULL, *b = NULL;
    if (cli_open_tensors(pa, &a, &err) != HC_OK || cli_open_tensors(pb, &b, &err) != HC_OK) {
        fprintf(stderr, "hyperc compare: %s\n", err.msg);
        hc_st_close(a);
        return HC_EXIT_FAIL;
    }
    int rc = HC_EXIT_OK;
    double tot_err = 0, tot_sq = 0, tot_max = 0;
    uint64_t n_float = 0;
    float *fa = NULL, *fb = NULL;
    if (!quiet)
        printf("%-44s %-14s %12s %9s %12s\n", "tensor", "shape", "nmse", "snr dB", "max |a-b|");
    for (size_t i = 0; i < hc_st_count(a); i++) {
        const hc_tensor_info *ia = hc_st_info(a, i);
        long j = hc_st_find(b, ia->name);
        if (j < 0) {
            fprintf(stderr, "hyperc compare: tensor '%s' is missing from '%s'\n", ia->name, pb);
            rc = HC_EXIT_FAIL;
            continue;
        }
        const hc_tensor_info *ib = hc_st_info(b, (size_t)j);
        if (ia->ndim != ib->ndim || memcmp(ia->shape, ib->shape, ia->ndim * sizeof ia->shape[0])) {
            fprintf(stderr, "hyperc compare: tensor '%s' has different shapes\n", ia->name);
            rc = HC_EXIT_FAIL;
            continue;
        }
        char shape[128];
        cli_shape_str(ia, shape, sizeof shape);
        if (!hc_dtype_is_codable(ia->dtype) || !hc_dtype_is_codable(ib->dtype)) {
            int same = ia->nbytes == ib->nbytes && !memcmp(hc_st_data(a, i), hc_st_data(b, (size_t)j), ia->nbytes);
            if (!quiet) printf("%-44s %-14s %12s\n", ia->name, shape, same ? "identical" : "DIFFERENT");
            if (!same) rc = HC_EXIT_FAIL;
            continue;
        }
        free(fa);
        free(fb);
        fa = malloc(ia->nelem * 4 + 4);
        fb = malloc(ia->nelem * 4 + 4);
        if (!fa || !fb) {
            fprintf(stderr, "hyperc compare: out of memory\n");
            rc = HC_EXIT_FAIL;
            break;
        }
        hc_to_f32(ia->dtype, hc_st_data(a, i), fa, ia->nelem);
        hc_to_f32(ib->dtype, hc_st_data(b, (size_t)j), fb, ib->nelem);
        double se = 0, sq = 0, mx = 0;
        for (uint64_t k = 0; k < ia->nelem; k++) {
            double d = (double)fa[k] - (double)fb[k];
            se += d * d;
            sq += (double)fa[k] * fa[k];
            if (fabs(d) > mx) mx = fabs(d);
        }
        double nmse = sq > 0 ? se / sq : (se > 0 ? INFINITY : 0);
        if (!quiet) printf("%-44s %-14s %12.4e %9.2f %12.4e\n", ia->name, shape, nmse, cli_snr_db(nmse), mx);
        tot_err += se;
        tot_sq += sq;
        if (mx > tot_max) tot_max = mx;
        n_float += ia->nelem;
    }
    free(fa);
    free(fb);
    if (hc_st_count(a) != hc_st_count(b)) {
        fprintf(stderr, "hyperc compare: '%s' has %zu tensors, '%s' has %zu\n", pa, hc_st_count(a), pb,
                hc_st_count(b));
        rc = HC_EXIT_FAIL;
    }
    double nmse = tot_sq > 0 ? tot_err / tot_sq : 0;
    printf("total: %llu float weights, nmse %.4e, snr %.2f dB, max |a-b| %.4e\n", (unsigned long long)n_float, nmse,
           cli_snr_db(nmse), tot_max);
    hc_st_close(a);
    hc_st_close(b);
    return rc;
}
