/* error.c — status names and the error-message helper. */
#include "hyperc.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *hc_status_str(hc_status s) {
    switch (s) {
    case HC_OK: return "ok";
    case HC_E_ARG: return "invalid argument";
    case HC_E_IO: return "i/o error";
    case HC_E_FORMAT: return "format error";
    case HC_E_CORRUPT: return "corrupt data";
    case HC_E_NOMEM: return "out of memory";
    case HC_E_UNSUPPORTED: return "unsupported";
    case HC_E_LIMIT: return "limit exceeded";
    case HC_E_EXISTS: return "file exists";
    }
    return "unknown error";
}

static hc_status set_or_chain(hc_error *err, hc_status code, const char *fmt, va_list ap) {
    if (!err) return code;
    char buf[sizeof err->msg];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (err->code != HC_OK && err->msg[0]) {
        /* keep the inner (earlier) message as the cause */
        char old[sizeof err->msg];
        memcpy(old, err->msg, sizeof old);
        /* "outer: inner", cut to fit */
        size_t a = strlen(buf), cap = sizeof err->msg - 1;
        if (a > cap) a = cap;
        memcpy(err->msg, buf, a);
        size_t pos = a;
        if (pos + 2 <= cap) { memcpy(err->msg + pos, ": ", 2); pos += 2; }
        size_t b = strlen(old);
        if (b > cap - pos) b = cap - pos;
        memcpy(err->msg + pos, old, b);
        err->msg[pos + b] = 0;
    } else {
        memcpy(err->msg, buf, sizeof buf);
        /* the earlier error's code wins: it names the real cause */
        err->code = code;
    }
    return err->code;
}

hc_status hc_fail(hc_error *err, hc_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hc_status s = set_or_chain(err, code, fmt, ap);
    va_end(ap);
    return s;
}

hc_status hc_error_context(hc_error *err, hc_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hc_status s = set_or_chain(err, code, fmt, ap);
    va_end(ap);
    return err ? s : code;
}

void hc_error_clear(hc_error *err) {
    if (!err) return;
    err->code = HC_OK;
    err->msg[0] = 0;
}
