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
    /* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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

/* ---- output files ------------------------------------------------------
 *
 * What hc_out_open does with the path it is given (docs/FORMAT.md, "Output
 * files"):
 *   - "-": standard output. Sequential writers (HC_OUT_SEQUENTIAL) write to
 *     it directly; a writer that patches bytes already written (the .hyc
 *     header) writes to an unnamed temporary file in $TMPDIR (or /tmp) that
 *     is copied to standard output when complete.
 *   - an existing character device or FIFO: written to directly (no -f
 *     needed: nothing is replaced), the same way as standard output.
 *   - an existing directory, block device or socket: refused.
 *   - an existing regular file: refused unless overwrite; replaced by rename
 *     of a temporary file. A symbolic link to a regular file is followed:
 *     the link's target is replaced and the link stays. A link to nothing
 *     is refused. The replaced file's permission bits (and, where allowed,
 *     its owner and group) are kept; a new file gets 0666 & ~umask.
 *   - the temporary file is "<target>.hyperc.tmp.<pid>.<n>" in the target's
 *     directory. A signal handler can remove every temporary file still open
 *     (hc_out_cleanup_pending); one left by a killed process (its pid no
 *     longer running, same owner) is removed by the next hc_out_open of the
 *     same target.
 *   - commit: flush, fsync, rename, fsync of the directory. */

#include <dirent.h>
#include <limits.h>
#include <signal.h>

#define TMP_TAG ".hyperc.tmp."

enum { OUT_RENAME = 0, OUT_DIRECT = 1, OUT_SPOOL = 2 };

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

/* ---- temporary files a signal handler may have to remove --------------- */

#define PENDING_SLOTS 16
typedef struct pending_slot {
    int state; /* 0 free, 1 being filled, 2 live */
    char tmp[PATH_MAX + 80];
    char user[512];
} pending_slot;
static pending_slot pending[PENDING_SLOTS];

static int pending_add(const char *tmp, const char *user) {
    if (strlen(tmp) >= sizeof pending[0].tmp) return -1;
    for (int i = 0; i < PENDING_SLOTS; i++) {
        int zero = 0;
        if (__atomic_compare_exchange_n(&pending[i].state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            memcpy(pending[i].tmp, tmp, strlen(tmp) + 1);
            snprintf(pending[i].user, sizeof pending[i].user, "%s", user);
            __atomic_store_n(&pending[i].state, 2, __ATOMIC_RELEASE);
            return i;
        }
    }
    return -1; /* not tracked: still removed by the next run of the same output */
}

static void pending_del(int slot) {
    if (slot >= 0 && slot < PENDING_SLOTS) __atomic_store_n(&pending[slot].state, 0, __ATOMIC_RELEASE);
}

size_t hc_out_cleanup_pending(const char **user_paths, size_t max) {
    size_t k = 0;
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (__atomic_load_n(&pending[i].state, __ATOMIC_ACQUIRE) == 2) {
            unlink(pending[i].tmp);
            if (user_paths && k < max) user_paths[k] = pending[i].user;
            k++;
        }
    return k;
}

/* ---- helpers ----------------------------------------------------------- */

/* dirname/basename of path into dir (malloc'd) and *base (inside path) */
static char *split_dir(const char *path, const char **base) {
    const char *sl = strrchr(path, '/');
    if (!sl) {
        *base = path;
        return dupstr(".");
    }
    *base = sl + 1;
    size_t n = sl == path ? 1 : (size_t)(sl - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

/* Removes "<base>.hyperc.tmp.<pid>.<n>" files in dir left by processes that
 * no longer run (a SIGKILL, a power cut): regular files of our owner only. */
static void remove_stale_temps(const char *dir, const char *base) {
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bl = strlen(base), tl = strlen(TMP_TAG);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, TMP_TAG, tl) != 0) continue;
        const char *p = n + bl + tl;
        char *end;
        errno = 0;
        long pid = strtol(p, &end, 10);
        if (errno || end == p || *end != '.' || pid <= 0) continue;
        p = end + 1;
        strtoul(p, &end, 10);
        if (end == p || *end) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        struct stat st;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

/* An unnamed file for the bytes of a stream whose writer seeks. */
static int spool_fd(void) {
    const char *t = getenv("TMPDIR");
    if (!t || !*t) t = "/tmp";
#ifdef O_TMPFILE
    int fd = open(t, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
#endif
    size_t n = strlen(t) + 32;
    char *p = malloc(n);
    if (!p) return -1;
    snprintf(p, n, "%s/hyperc-spool-XXXXXX", t);
    int fd2 = mkstemp(p);
    if (fd2 >= 0) unlink(p);
    free(p);
    return fd2;
}

static void out_free(hc_outfile *o) {
    free(o->path);
    free(o->tmp_path);
    free(o->target);
    memset(o, 0, sizeof *o);
    o->slot = -1;
    o->dest_fd = -1;
}

static hc_status out_fail_free(hc_outfile *o, hc_status code, hc_error *err, const char *fmt, const char *path,
                               const char *why) {
    hc_status s = why ? hc_fail(err, code, fmt, path, why) : hc_fail(err, code, fmt, path);
    out_free(o);
    return s;
}

/* ---- open -------------------------------------------------------------- */

hc_status hc_out_open_flags(hc_outfile *o, const char *path, unsigned flags, hc_error *err) {
    memset(o, 0, sizeof *o);
    o->slot = -1;
    o->dest_fd = -1;
    if (!path || !*path) return hc_fail(err, HC_E_ARG, "no output file name");
    const int seq = (flags & HC_OUT_SEQUENTIAL) != 0;
    o->path = dupstr(strcmp(path, "-") == 0 ? "standard output" : path);
    if (!o->path) return out_fail_free(o, HC_E_NOMEM, err, "out of memory opening '%s'", path, NULL);

    struct stat st, lst;
    int stream_fd = -1;
    if (strcmp(path, "-") == 0) {
        if (fstat(1, &st) != 0)
            return out_fail_free(o, HC_E_IO, err, "standard output is not open: %s", strerror(errno), NULL);
        stream_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
        if (stream_fd < 0)
            return out_fail_free(o, HC_E_IO, err, "cannot use standard output: %s", strerror(errno), NULL);
    } else if (stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
            return out_fail_free(o, HC_E_IO, err,
                                 "'%s' is a symbolic link to a missing file; give the target's name instead", path,
                                 NULL);
        if (e != ENOENT) return out_fail_free(o, HC_E_IO, err, "cannot write '%s': %s", path, strerror(e));
        o->target = dupstr(path); /* a new file */
        o->mode = 0666;
    } else if (S_ISDIR(st.st_mode)) {
        return out_fail_free(o, HC_E_IO, err, "'%s' is a directory; give a file name", path, NULL);
    } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
        /* written in place: replacing a device or FIFO by a file is never wanted */
        stream_fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (stream_fd < 0) return out_fail_free(o, HC_E_IO, err, "cannot open '%s': %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        return out_fail_free(o, HC_E_IO, err,
                             "'%s' is not a regular file, character device or FIFO (a block device or socket); "
                             "refusing to write to it",
                             path, NULL);
    } else {
        if (!(flags & HC_OUT_OVERWRITE))
            return out_fail_free(o, HC_E_EXISTS, err, "'%s' already exists (use -f to overwrite)", path, NULL);
        /* -f on a symbolic link replaces the file it points to; the link stays */
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
            o->target = realpath(path, NULL);
            if (!o->target)
                return out_fail_free(o, HC_E_IO, err, "cannot resolve the symbolic link '%s': %s", path,
                                     strerror(errno));
        } else {
            o->target = dupstr(path);
        }
        o->replace = 1;
        o->mode = (unsigned)(st.st_mode & 0777);
        o->uid = st.st_uid;
        o->gid = st.st_gid;
    }

    if (stream_fd >= 0) {
        o->dest_fd = stream_fd;
        int fd = stream_fd;
        if (seq) {
            o->kind = OUT_DIRECT;
        } else {
            o->kind = OUT_SPOOL;
            fd = spool_fd();
            if (fd < 0) {
                int e = errno;
                close(stream_fd);
                return out_fail_free(o, HC_E_IO, err, "cannot create a temporary file for '%s': %s", o->path,
                                     strerror(e));
            }
        }
        o->f = fdopen(fd, "wb");
        if (!o->f) {
            if (fd != stream_fd) close(fd);
            close(stream_fd);
            return out_fail_free(o, HC_E_IO, err, "cannot open a stream for '%s'", o->path, NULL);
        }
        if (fd == stream_fd) o->dest_fd = -1; /* closed with o->f */
        setvbuf(o->f, NULL, _IOFBF, 1 << 20);
        return HC_OK;
    }

    if (!o->target) return out_fail_free(o, HC_E_NOMEM, err, "out of memory opening '%s'", path, NULL);
    const char *base;
    char *dir = split_dir(o->target, &base);
    if (dir) {
        remove_stale_temps(dir, base);
        free(dir);
    }
    size_t n = strlen(o->target) + 64;
    o->tmp_path = malloc(n);
    if (!o->tmp_path) return out_fail_free(o, HC_E_NOMEM, err, "out of memory opening '%s'", path, NULL);
    static unsigned counter;
    snprintf(o->tmp_path, n, "%s" TMP_TAG "%ld.%u", o->target, (long)getpid(),
             __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    /* registered before it exists, so a signal cannot leave it behind */
    o->slot = pending_add(o->tmp_path, o->path);
    int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, o->replace ? 0600 : 0666);
    if (fd < 0) {
        int e = errno;
        pending_del(o->slot);
        return out_fail_free(o, HC_E_IO, err, "cannot create a file next to '%s': %s", path, strerror(e));
    }
    if (o->replace) {
        /* the replaced file's owner (where allowed) and permission bits */
        if (fchown(fd, o->uid, o->gid) != 0) { /* not ours to give: keep ours */ }
        if (fchmod(fd, (mode_t)o->mode) != 0) {
            int e = errno;
            close(fd);
            unlink(o->tmp_path);
            pending_del(o->slot);
            return out_fail_free(o, HC_E_IO, err, "cannot set the mode of a new '%s': %s", path, strerror(e));
        }
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        unlink(o->tmp_path);
        pending_del(o->slot);
        return out_fail_free(o, HC_E_IO, err, "fdopen failed for '%s'", path, NULL);
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return HC_OK;
}

hc_status hc_out_open(hc_outfile *o, const char *path, int overwrite, hc_error *err) {
    return hc_out_open_flags(o, path, overwrite ? HC_OUT_OVERWRITE : 0, err);
}

/* ---- write ------------------------------------------------------------- */

static hc_status write_fail(hc_outfile *o, hc_error *err, int e) {
    if (e == EFBIG)
        return hc_fail(err, HC_E_IO, "write to '%s' failed: %s (the file size limit, ulimit -f)", o->path,
                       strerror(e));
    return hc_fail(err, HC_E_IO, "write to '%s' failed: %s", o->path, strerror(e));
}

hc_status hc_out_write(hc_outfile *o, const void *p, size_t n, hc_error *err) {
    if (n && fwrite(p, 1, n, o->f) != n) return write_fail(o, err, errno);
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
    if (o->kind == OUT_DIRECT)
        return hc_fail(err, HC_E_ARG, "'%s': this output is written as a stream and cannot be patched", o->path);
    if (fflush(o->f) != 0) return write_fail(o, err, errno);
    ssize_t w = pwrite(fileno(o->f), p, n, (off_t)off);
    if (w < 0 || (size_t)w != n) return write_fail(o, err, w < 0 ? errno : ENOSPC);
    return HC_OK;
}

/* ---- commit / abort ---------------------------------------------------- */

/* Copies the spooled bytes to the stream. */
static int copy_spool(int from, int to) {
    if (lseek(from, 0, SEEK_SET) != 0) return -1;
    const size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    for (;;) {
        ssize_t r = read(from, buf, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            rc = r < 0 ? -1 : 0;
            break;
        }
        for (ssize_t k = 0; k < r && rc == 0;) {
            ssize_t w = write(to, buf + k, (size_t)(r - k));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) rc = -1;
            else k += w;
        }
        if (rc) break;
    }
    int e = errno;
    free(buf);
    errno = e;
    return rc;
}

static void fsync_dir_of(const char *path) {
    const char *base;
    char *dir = split_dir(path, &base);
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync of a directory */
        close(fd);
    }
    free(dir);
}

hc_status hc_out_commit(hc_outfile *o, hc_error *err) {
    hc_status s = HC_OK;
    if (o->kind != OUT_RENAME) {
        if (fflush(o->f) != 0) s = write_fail(o, err, errno);
        if (s == HC_OK && o->kind == OUT_SPOOL && copy_spool(fileno(o->f), o->dest_fd) != 0) s = write_fail(o, err, errno);
        if (fclose(o->f) != 0 && s == HC_OK) s = write_fail(o, err, errno);
        if (o->dest_fd >= 0 && close(o->dest_fd) != 0 && s == HC_OK && errno != EINTR) s = write_fail(o, err, errno);
        o->f = NULL;
        out_free(o);
        return s;
    }
    if (fflush(o->f) != 0) s = write_fail(o, err, errno);
    else if (fsync(fileno(o->f)) != 0)
        s = hc_fail(err, HC_E_IO, "cannot flush '%s' to disk: %s", o->path, strerror(errno));
    if (fclose(o->f) != 0 && s == HC_OK) s = write_fail(o, err, errno);
    o->f = NULL;
    if (s == HC_OK && rename(o->tmp_path, o->target) != 0)
        s = hc_fail(err, HC_E_IO, "cannot create '%s': %s", o->path, strerror(errno));
    if (s != HC_OK) unlink(o->tmp_path);
    pending_del(o->slot);
    if (s == HC_OK) fsync_dir_of(o->target);
    out_free(o);
    return s;
}

void hc_out_abort(hc_outfile *o) {
    if (o->f) fclose(o->f);
    if (o->dest_fd >= 0) close(o->dest_fd);
    if (o->tmp_path) unlink(o->tmp_path);
    pending_del(o->slot);
    out_free(o);
}

hc_status hc_out_check_distinct(const char *in_path, const char *out_path, hc_error *err) {
    struct stat a, b;
    if (!in_path || !out_path || stat(in_path, &a) != 0) return HC_OK;
    int r = strcmp(out_path, "-") == 0 ? fstat(1, &b) : stat(out_path, &b);
    if (r != 0 || !S_ISREG(b.st_mode)) return HC_OK;
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return hc_fail(err, HC_E_ARG, "'%s' and '%s' are the same file; refusing to overwrite the input", in_path,
                       strcmp(out_path, "-") == 0 ? "standard output" : out_path);
    return HC_OK;
}
