/* fuzz_main.h — the replay main() of the harnesses built without libFuzzer
 * (-DHC_FUZZ_MAIN, e.g. with gcc): runs LLVMFuzzerTestOneInput on every file
 * named on the command line, and on every file inside a named directory. */
#ifndef HC_FUZZ_MAIN_H
#define HC_FUZZ_MAIN_H
#ifdef HC_FUZZ_MAIN
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hc_fuzz_replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0, k;
    uint8_t *b = malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    if (!b) return -1;
    LLVMFuzzerTestOneInput(b, n);
    free(b);
    return 1;
}

int main(int argc, char **argv) {
    int n = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[a]);
            struct dirent *e;
            while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.') continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
                if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
                if (hc_fuzz_replay_file(p) < 0) return 1;
                n++;
            }
            if (d) closedir(d);
        } else {
            if (hc_fuzz_replay_file(argv[a]) < 0) return 1;
            n++;
        }
    }
    printf("replayed %d input(s)\n", n);
    return 0;
}
#endif
#endif
