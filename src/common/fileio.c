/* fileio.c — read-only file mapping and crash-safe output files. */
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

hc_status hc_map_file(const char *path, hc_map *m, hc_error *err) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hc_fail(err, HC_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hc_fail(err, HC_E_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hc_fail(err, HC_E_IO, "'%s' is not a regular file", path);
    }
    m->len = (uint64_t)st.st_size;
    if (m->len == 0) {
        close(fd);
        static const uint8_t empty[1];
        m->ptr = empty;
        return HC_OK;
    }
    if ((uint64_t)(size_t)m->len != m->len) {
        close(fd);
        return hc_fail(err, HC_E_LIMIT, "'%s' is too large to map", path);
    }
    void *p = mmap(NULL, (size_t)m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return hc_fail(err, HC_E_IO, "cannot mmap '%s': %s", path, strerror(e));
    m->ptr = (const uint8_t *)p;
    m->mapped = 1;
    return HC_OK;
}

void hc_unmap(hc_map *m) {
    if (m->mapped) munmap((void *)m->ptr, (size_t)m->len);
    memset(m, 0, sizeof *m);
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

hc_status hc_out_open(hc_outfile *o, const char *path, int overwrite, hc_error *err) {
    memset(o, 0, sizeof *o);
    struct stat st;
    if (!overwrite && stat(path, &st) == 0)
        return hc_fail(err, HC_E_EXISTS, "'%s' already exists (use -f to overwrite)", path);
    o->path = dupstr(path);
    size_t n = strlen(path) + 64;
    o->tmp_path = malloc(n);
    if (!o->path || !o->tmp_path) {
        free(o->path);
        free(o->tmp_path);
        memset(o, 0, sizeof *o);
        return hc_fail(err, HC_E_NOMEM, "out of memory opening '%s'", path);
    }
    static unsigned counter;
    snprintf(o->tmp_path, n, "%s.tmp.%ld.%u", path, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        hc_fail(err, HC_E_IO, "cannot create '%s': %s", o->tmp_path, strerror(e));
        free(o->path);
        free(o->tmp_path);
        memset(o, 0, sizeof *o);
        return HC_E_IO;
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        unlink(o->tmp_path);
        free(o->path);
        free(o->tmp_path);
        memset(o, 0, sizeof *o);
        return hc_fail(err, HC_E_IO, "fdopen failed for '%s'", path);
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return HC_OK;
}

hc_status hc_out_write(hc_outfile *o, const void *p, size_t n, hc_error *err) {
    if (n && fwrite(p, 1, n, o->f) != n)
        return hc_fail(err, HC_E_IO, "write to '%s' failed: %s", o->tmp_path, strerror(errno));
    o->pos += n;
    return HC_OK;
}

hc_status hc_out_zeros(hc_outfile *o, size_t n, hc_error *err) {
    static const uint8_t z[256];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        hc_status s = hc_out_write(o, z, k, err);
        if (s) return s;
        n -= k;
    }
    return HC_OK;
}

hc_status hc_out_pwrite(hc_outfile *o, const void *p, size_t n, uint64_t off, hc_error *err) {
    if (fflush(o->f) != 0)
        return hc_fail(err, HC_E_IO, "write to '%s' failed: %s", o->tmp_path, strerror(errno));
    ssize_t w = pwrite(fileno(o->f), p, n, (off_t)off);
    if (w < 0 || (size_t)w != n)
        return hc_fail(err, HC_E_IO, "write to '%s' failed: %s", o->tmp_path, strerror(errno));
    return HC_OK;
}

static void out_free(hc_outfile *o) {
    free(o->path);
    free(o->tmp_path);
    memset(o, 0, sizeof *o);
}

hc_status hc_out_commit(hc_outfile *o, hc_error *err) {
    hc_status s = HC_OK;
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)
        s = hc_fail(err, HC_E_IO, "cannot flush '%s': %s", o->tmp_path, strerror(errno));
    if (fclose(o->f) != 0 && s == HC_OK)
        s = hc_fail(err, HC_E_IO, "cannot close '%s': %s", o->tmp_path, strerror(errno));
    o->f = NULL;
    if (s == HC_OK && rename(o->tmp_path, o->path) != 0)
        s = hc_fail(err, HC_E_IO, "cannot rename '%s' to '%s': %s", o->tmp_path, o->path, strerror(errno));
    if (s != HC_OK) unlink(o->tmp_path);
    out_free(o);
    return s;
}

void hc_out_abort(hc_outfile *o) {
    if (o->f) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    out_free(o);
}
