/* hfdir_int.h — small path helpers shared by hfdir.c (Hugging Face folders
   in) and hfdir_decompress.c (folders out). Internal to src/io. */
#ifndef HC_HFDIR_INT_H
#define HC_HFDIR_INT_H

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef unsigned long long ull;

static inline int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static inline int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static inline char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (k && p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

#endif
