/* cli_util.c — small helpers shared by the commands (cli.h): parsing
 * numbers, formatting shapes, sizes and SNR, the clock. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

const char *cli_shape_str(const hc_tensor_info *ti, char *buf, size_t n) {
    size_t pos = 0;
    buf[0] = 0;
    if (ti->ndim == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    for (uint32_t d = 0; d < ti->ndim && pos < n; d++)
        pos += (size_t)snprintf(buf + pos, n - pos, d ? "x%llu" : "%llu", (unsigned long long)ti->shape[d]);
    return buf;
}

const char *cli_bytes_str(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.2f MiB", (double)b / (1ull << 20));
    else if (b >= 1024)
        snprintf(buf, n, "%.1f KiB", (double)b / 1024);
    else
        snprintf(buf, n, "%llu B", (unsigned long long)b);
    return buf;
}

double cli_snr_db(double nmse) { return nmse > 0 ? -10.0 * log10(nmse) : INFINITY; }

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
