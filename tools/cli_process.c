/* cli_process.c — what the hyperc process does around every command:
 * signals (temporary outputs removed, exit 128+N), SIGPIPE ignored so that
 * a closed standard output never kills the work, standard output flushed
 * and checked at the end (a write error there is a failure), and the checks
 * made on an output path before any work. */
#include "cli.h"
#include "commands.h"
#include "../src/common/util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static const char *sig_name(int sig) {
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGXFSZ: return "SIGXFSZ";
    default: return "a signal";
    }
}

static void on_signal(int sig) {
    int saved = errno;
    const char *names[4];
    size_t n = hc_out_cleanup_pending(names, 4);
    if (sig == SIGXFSZ) put("hyperc: file size limit exceeded (SIGXFSZ, see ulimit -f)");
    else if (n) { put("hyperc: interrupted by "); put(sig_name(sig)); }
    for (size_t i = 0; i < n && i < 4; i++) {
        put(i ? ", '" : "; not written: '");
        put(names[i]);
        put("'");
    }
    if (sig == SIGXFSZ || n) put("\n");
    if (sig == SIGXFSZ) _exit(128 + SIGXFSZ); /* no core dump */
    /* die of the same signal, so that the shell sees 128+N and stops a loop */
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    errno = saved;
    _exit(128 + sig);
}

void cli_process_init(void) {
    /* a closed descriptor 0, 1 or 2 must not be reused by an output file:
     * 1 becomes a read-only /dev/null so that writing the report fails */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int r = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
            if (r >= 0 && r != fd) {
                dup2(r, fd);
                close(r);
            }
        }
    signal(SIGPIPE, SIG_IGN); /* a closed pipe gives EPIPE on the write instead */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGXFSZ};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN && sigs[i] != SIGXFSZ)
            continue; /* ignored by whoever started us (nohup, a background job): stays ignored */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) sigaddset(&sa.sa_mask, sigs[k]);
        sigaction(sigs[i], &sa, NULL);
    }
    hc_error err; /* HYPERC_SIMD that names no instruction-set level */
    if (hc_simd_env_check(&err) != HC_OK) fprintf(stderr, "hyperc: warning: %s\n", err.msg);
}

/* 1 if fd is a pipe or socket whose reader has gone */
static int reader_gone(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return 0;
    struct pollfd p = {fd, POLLOUT, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int cli_close_stdout(int rc) {
    int e = 0;
    int had = ferror(stdout);
    errno = 0;
    if (fflush(stdout) != 0) e = errno ? errno : EIO;
    else if (had) e = reader_gone(1) ? EPIPE : EIO;
    if (!e && fclose(stdout) != 0) e = errno ? errno : EIO;
    /* the reader went away (`hyperc info x | head`): what it read was what it wanted */
    if (!e || e == EPIPE) return rc;
    fprintf(stderr, "hyperc: error writing to standard output: %s\n", strerror(e));
    return rc == HC_EXIT_OK ? HC_EXIT_FAIL : rc;
}

int cli_check_output(const char *cmd, const char *in, const char *out, int *quiet) {
    hc_error err;
    hc_error_clear(&err);
    if (hc_out_check_distinct(in, out, &err) != HC_OK) {
        fprintf(stderr, "hyperc %s: %s\n", cmd, err.msg);
        return HC_EXIT_FAIL;
    }
    if (!strcmp(out, "-")) {
        if (isatty(1)) {
            fprintf(stderr, "hyperc %s: refusing to write binary data to a terminal (redirect standard output, or "
                            "give -o FILE)\n", cmd);
            return HC_EXIT_FAIL;
        }
        *quiet = 1; /* the data goes to standard output: no report there */
    }
    return HC_EXIT_OK;
}
