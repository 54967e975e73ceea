/* cmd_extract.c — `hyperc extract FILE.hyc NAME [-o OUT]`: one file stored
 * in a .hyc (config.json, tokenizer.json, ...) byte for byte; and the part
 * of `hyperc info` that lists stored files and shards. */
#include "cli.h"
#include "commands.h"
#include "hyperc.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_print_note(void *user, const char *line) {
    (void)user;
    printf("  %s\n", line);
}

void cli_print_attachments(const hc_hyc *h) {
    size_t na = hc_hyc_attachment_count(h), ns = hc_hyc_shard_count(h);
    if (ns) {
        printf("shards       %zu\n", ns);
        for (size_t i = 0; i < ns; i++) {
            const hc_hyc_shard *s = hc_hyc_shard_get(h, i);
            printf("  %-48s tensors %zu..%zu (%zu)\n", s->name, s->first, s->first + s->count - (s->count > 0),
                   s->count);
        }
    }
    if (na) {
        printf("attachments  %zu (extract one with: hyperc extract FILE NAME)\n", na);
        for (size_t i = 0; i < na; i++) {
            const hc_hyc_attachment *a = hc_hyc_attachment_get(h, i);
            char b[32];
            printf("  %-48s %10s  crc32c %08x%s\n", a->name, cli_bytes_str(a->size, b, sizeof b), a->crc32c,
                   (a->flags & HC_ATTACH_TOKENIZER) ? "  (tokenizer)" : "");
        }
    }
}

static void extract_usage(FILE *f) {
    fprintf(f, "usage: hyperc extract FILE.hyc NAME [-o OUT] [-f]\n"
               "\nWrites the file NAME stored in FILE.hyc (see `hyperc info`) to standard\n"
               "output, or to OUT (-f: replace OUT). Its CRC-32C is checked first.\n"
               "\nexit status: 0 success, 1 failure, 2 bad usage\n");
}

static int write_out(const char *out, const uint8_t *p, size_t n, int force) {
    struct stat st;
    if (!force && lstat(out, &st) == 0) {
        fprintf(stderr, "hyperc extract: '%s' exists (use -f to overwrite)\n", out);
        return HC_EXIT_FAIL;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "hyperc extract: cannot create '%s': %s\n", out, strerror(errno));
        return HC_EXIT_FAIL;
    }
    int ok = fwrite(p, 1, n, f) == n;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, out) != 0) {
        fprintf(stderr, "hyperc extract: cannot write '%s': %s\n", out, strerror(errno));
        unlink(tmp);
        return HC_EXIT_FAIL;
    }
    return HC_EXIT_OK;
}

int cmd_extract(int argc, char **argv) {
    const char *in = NULL, *name = NULL, *out = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            extract_usage(stdout);
            return HC_EXIT_OK;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hyperc extract: -o needs a value\n");
                return HC_EXIT_USAGE;
            }
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hyperc extract: unknown option '%s'\n", a);
            return HC_EXIT_USAGE;
        } else if (!in) {
            in = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "hyperc extract: unexpected argument '%s'\n", a);
            return HC_EXIT_USAGE;
        }
    }
    if (!in || !name) {
        extract_usage(stderr);
        return HC_EXIT_USAGE;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_hyc *h = NULL;
    if (hc_hyc_open(in, &h, &err) != HC_OK) {
        fprintf(stderr, "hyperc extract: %s\n", err.msg);
        return HC_EXIT_FAIL;
    }
    long i = hc_hyc_attachment_find(h, name);
    if (i < 0) {
        size_t n = hc_hyc_attachment_count(h);
        fprintf(stderr, "hyperc extract: '%s' holds no file named '%s' (%zu stored%s)\n", in, name, n,
                n ? ": see `hyperc info`" : "");
        hc_hyc_close(h);
        return HC_EXIT_FAIL;
    }
    const uint8_t *p;
    if (hc_hyc_attachment_data(h, (size_t)i, &p, &err) != HC_OK) {
        fprintf(stderr, "hyperc extract: %s\n", err.msg);
        hc_hyc_close(h);
        return HC_EXIT_FAIL;
    }
    size_t n = (size_t)hc_hyc_attachment_get(h, (size_t)i)->size;
    int rc;
    if (out) {
        rc = write_out(out, p, n, force);
    } else {
        rc = fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0 ? HC_EXIT_OK : HC_EXIT_FAIL;
        if (rc) fprintf(stderr, "hyperc extract: writing to standard output: %s\n", strerror(errno));
    }
    hc_hyc_close(h);
    return rc;
}
