/* error.c — status names and the two error-message helpers (the rule is in
 * include/hyperc.h, "Errors"): hc_fail sets an error, replacing whatever err
 * held; hc_error_context prefixes context to the error a callee has set. */
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

hc_status hc_fail(hc_error *err, hc_status code, const char *fmt, ...) {
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

hc_status hc_error_context(hc_error *err, hc_status code, const char *fmt, ...) {
    if (!err || code == HC_OK) return code;
    char ctx[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    /* the callee's message, or the status name when it left none */
    char inner[sizeof err->msg];
    if (err->code != HC_OK && err->msg[0])
        memcpy(inner, err->msg, sizeof inner);
    else
        snprintf(inner, sizeof inner, "%s", hc_status_str(code));
    size_t a = strlen(ctx), b = strlen(inner), cap = sizeof err->msg - 1;
    if (a == 0 || (b > a + 1 && memcmp(inner, ctx, a) == 0 && inner[a] == ':')) {
        /* no context, or the message already begins with it: not repeated */
        memcpy(err->msg, inner, b + 1);
    } else {
        if (a > cap) a = cap;
        memcpy(err->msg, ctx, a);
        size_t pos = a;
        if (pos + 2 <= cap) {
            memcpy(err->msg + pos, ": ", 2);
            pos += 2;
        }
        if (b > cap - pos) b = cap - pos;
        memcpy(err->msg + pos, inner, b);
        err->msg[pos + b] = 0;
    }
    err->code = code;
    return code;
}

void hc_error_clear(hc_error *err) {
    if (!err) return;
    err->code = HC_OK;
    err->msg[0] = 0;
}
