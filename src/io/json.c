/* json.c — the strict in-place JSON cursor of json.h, and hc_json_object_get. */
#include "json.h"
#include <string.h>

/* Position in the innermost container (hc_json.state). */
enum { S_VALUE = 0, /* a value must come next                  */
       S_OPENED,    /* just after '{' or '['                   */
       S_DONE };    /* just after a complete value             */

/* ===================================================================== */
/* Cursor basics                                                          */
/* ===================================================================== */

void hc_json_init(hc_json *j, const char *text, size_t len) {
    memset(j, 0, sizeof *j);
    j->text = text;
    j->len = text ? len : 0;
    j->state = S_VALUE;
    j->status = HC_OK;
}

static int fail(hc_json *j, hc_status code, const char *why) {
    if (j->status == HC_OK) {
        j->status = code;
        j->why = why;
        j->err_pos = j->pos;
    }
    return 0;
}

/* fail() for the *_next calls, which report errors as -1 */
static int fail_next(hc_json *j, hc_status code, const char *why) {
    fail(j, code, why);
    return -1;
}

static void skip_ws(hc_json *j) {
    while (j->pos < j->len) {
        char c = j->text[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        j->pos++;
    }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Called before reading a value: the cursor must be expecting one. */
static int value_ok(hc_json *j) {
    if (j->status != HC_OK) return 0;
    if (j->state != S_VALUE) return fail(j, HC_E_ARG, "internal: a value was read where none belongs");
    skip_ws(j);
    return 1;
}

static void value_done(hc_json *j) { j->state = S_DONE; }

hc_json_type hc_json_peek(hc_json *j) {
    if (j->status != HC_OK) return HC_JSON_NONE;
    skip_ws(j);
    if (j->pos >= j->len) {
        fail(j, HC_E_FORMAT, "unexpected end of text, expected a value");
        return HC_JSON_NONE;
    }
    char c = j->text[j->pos];
    switch (c) {
    case '{': return HC_JSON_OBJECT;
    case '[': return HC_JSON_ARRAY;
    case '"': return HC_JSON_STRING;
    case 't': return HC_JSON_TRUE;
    case 'f': return HC_JSON_FALSE;
    case 'n': return HC_JSON_NULL;
    default:
        if (c == '-' || is_digit(c)) return HC_JSON_NUMBER;
        fail(j, HC_E_FORMAT, "expected a value");
        return HC_JSON_NONE;
    }
}

/* ===================================================================== */
/* UTF-8 and strings                                                      */
/* ===================================================================== */

/* Length of the valid UTF-8 sequence at p (avail bytes), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t avail) {
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

int hc_utf8_valid(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (avail bytes) as a code unit, or -1. */
static long hex4(const char *p, size_t avail) {
    if (avail < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_val(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8_len(unsigned long cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

static size_t utf8_put(unsigned long cp, uint8_t *out) {
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads the string token at j->pos (on the opening quote), validating it. */
static int scan_string(hc_json *j, hc_json_str *s) {
    const char *t = j->text;
    size_t p = j->pos + 1, len = 0;
    int has_nul = 0;
    for (;;) {
        if (p >= j->len) return fail(j, HC_E_FORMAT, "unterminated string");
        uint8_t c = (uint8_t)t[p];
        if (c == '"') break;
        if (c < 0x20) {
            j->pos = p;
            return fail(j, HC_E_FORMAT, "raw control character in a string");
        }
        if (c == '\\') {
            if (p + 1 >= j->len) return fail(j, HC_E_FORMAT, "unterminated string");
            char e = t[p + 1];
            if (e == 'u') {
                long cp = hex4(t + p + 2, j->len - (p + 2));
                if (cp < 0) {
                    j->pos = p;
                    return fail(j, HC_E_FORMAT, "bad \\u escape (needs 4 hex digits)");
                }
                size_t used = 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    j->pos = p;
                    return fail(j, HC_E_FORMAT, "unpaired low surrogate in \\u escape");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    long lo = -1;
                    if (p + 7 < j->len && t[p + 6] == '\\' && t[p + 7] == 'u')
                        lo = hex4(t + p + 8, j->len - (p + 8));
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        j->pos = p;
                        return fail(j, HC_E_FORMAT, "high surrogate not followed by a low surrogate");
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    used = 12;
                }
                if (cp == 0) has_nul = 1;
                len += utf8_len((unsigned long)cp);
                p += used;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                len++;
                p += 2;
            } else {
                j->pos = p;
                return fail(j, HC_E_FORMAT, "unknown escape in a string");
            }
            continue;
        }
        size_t k = utf8_seq((const uint8_t *)t + p, j->len - p);
        if (!k) {
            j->pos = p;
            return fail(j, HC_E_FORMAT, "invalid UTF-8 in a string");
        }
        p += k;
        len += k;
    }
    s->raw = t + j->pos + 1;
    s->raw_len = p - (j->pos + 1);
    s->len = len;
    s->has_nul = has_nul;
    j->pos = p + 1;
    return 1;
}

int hc_json_string(hc_json *j, hc_json_str *s) {
    if (!value_ok(j)) return 0;
    if (j->pos >= j->len || j->text[j->pos] != '"') return fail(j, HC_E_FORMAT, "expected a string");
    if (!scan_string(j, s)) return 0;
    value_done(j);
    return 1;
}

/* Decodes the unit at raw[*i] of a validated string into out; returns its
 * byte count (1..4) and advances *i. */
static size_t str_step(const char *raw, size_t *i, uint8_t out[4]) {
    char c = raw[*i];
    if (c != '\\') {
        out[0] = (uint8_t)c;
        (*i)++;
        return 1;
    }
    char e = raw[*i + 1];
    *i += 2;
    switch (e) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': {
        long cp = hex4(raw + *i, 4);
        *i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* validated: "\uDCxx" follows */
            long lo = hex4(raw + *i + 2, 4);
            *i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        return utf8_put((unsigned long)cp, out);
    }
    default: out[0] = (uint8_t)e; return 1; /* '"', '\\', '/' */
    }
}

void hc_json_str_decode(const hc_json_str *s, char *out) {
    if (s->raw_len == s->len) { /* no escapes */
        memcpy(out, s->raw, s->len);
        return;
    }
    size_t i = 0, k = 0;
    uint8_t b[4];
    while (i < s->raw_len) {
        size_t n = str_step(s->raw, &i, b);
        memcpy(out + k, b, n);
        k += n;
    }
}

/* Yields the decoded bytes of a string one at a time. */
typedef struct str_reader {
    const hc_json_str *s;
    size_t i;      /* position in s->raw */
    uint8_t b[4];  /* [n] the current unit */
    size_t k, n;
} str_reader;

static int rd_next(str_reader *r) {
    if (r->k == r->n) {
        if (r->i >= r->s->raw_len) return -1;
        r->n = str_step(r->s->raw, &r->i, r->b);
        r->k = 0;
    }
    return r->b[r->k++];
}

int hc_json_str_eq(const hc_json_str *s, const char *z, size_t n) {
    if (s->len != n) return 0;
    if (s->raw_len == s->len) return memcmp(s->raw, z, n) == 0;
    str_reader r = {s, 0, {0}, 0, 0};
    for (size_t i = 0; i < n; i++)
        if (rd_next(&r) != (uint8_t)z[i]) return 0;
    return 1;
}

int hc_json_str_cmp(const hc_json_str *a, const hc_json_str *b) {
    str_reader ra = {a, 0, {0}, 0, 0}, rb = {b, 0, {0}, 0, 0};
    for (;;) {
        int x = rd_next(&ra), y = rd_next(&rb);
        if (x != y) return x < y ? -1 : 1;
        if (x < 0) return 0;
    }
}

size_t hc_json_escape(const char *s, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        char short_esc = 0;
        switch (c) {
        case '"': short_esc = '"'; break;
        case '\\': short_esc = '\\'; break;
        case '\b': short_esc = 'b'; break;
        case '\f': short_esc = 'f'; break;
        case '\n': short_esc = 'n'; break;
        case '\r': short_esc = 'r'; break;
        case '\t': short_esc = 't'; break;
        default: break;
        }
        if (short_esc) {
            if (out) { out[k] = '\\'; out[k + 1] = short_esc; }
            k += 2;
        } else if (c < 0x20) {
            if (out) {
                memcpy(out + k, "\\u00", 4);
                out[k + 4] = hex[c >> 4];
                out[k + 5] = hex[c & 15];
            }
            k += 6;
        } else {
            if (out) out[k] = (char)c;
            k++;
        }
    }
    return k;
}

/* ===================================================================== */
/* Numbers and literals                                                   */
/* ===================================================================== */

int hc_json_u64(hc_json *j, uint64_t *v) {
    if (!value_ok(j)) return 0;
    const char *t = j->text;
    size_t p = j->pos;
    if (p < j->len && t[p] == '-') return fail(j, HC_E_FORMAT, "negative number where an integer >= 0 is required");
    if (p >= j->len || !is_digit(t[p])) return fail(j, HC_E_FORMAT, "expected an integer");
    if (t[p] == '0' && p + 1 < j->len && is_digit(t[p + 1]))
        return fail(j, HC_E_FORMAT, "integer with a leading zero");
    uint64_t x = 0;
    while (p < j->len && is_digit(t[p])) {
        unsigned d = (unsigned)(t[p] - '0');
        if (x > (UINT64_MAX - d) / 10) return fail(j, HC_E_LIMIT, "integer does not fit in 64 bits");
        x = x * 10 + d;
        p++;
    }
    if (p < j->len && (t[p] == '.' || t[p] == 'e' || t[p] == 'E'))
        return fail(j, HC_E_FORMAT, "fraction or exponent where an integer is required");
    j->pos = p;
    *v = x;
    value_done(j);
    return 1;
}

int hc_json_number(hc_json *j, const char **start, size_t *n) {
    if (!value_ok(j)) return 0;
    const char *t = j->text;
    size_t p = j->pos, s = j->pos;
    if (p < j->len && t[p] == '-') p++;
    if (p >= j->len || !is_digit(t[p])) return fail(j, HC_E_FORMAT, "invalid number");
    if (t[p] == '0') {
        p++;
        if (p < j->len && is_digit(t[p])) return fail(j, HC_E_FORMAT, "number with a leading zero");
    } else {
        while (p < j->len && is_digit(t[p])) p++;
    }
    if (p < j->len && t[p] == '.') {
        p++;
        if (p >= j->len || !is_digit(t[p])) { j->pos = p; return fail(j, HC_E_FORMAT, "digit expected after '.'"); }
        while (p < j->len && is_digit(t[p])) p++;
    }
    if (p < j->len && (t[p] == 'e' || t[p] == 'E')) {
        p++;
        if (p < j->len && (t[p] == '+' || t[p] == '-')) p++;
        if (p >= j->len || !is_digit(t[p])) { j->pos = p; return fail(j, HC_E_FORMAT, "digit expected in exponent"); }
        while (p < j->len && is_digit(t[p])) p++;
    }
    j->pos = p;
    if (start) *start = t + s;
    if (n) *n = p - s;
    value_done(j);
    return 1;
}

int hc_json_literal(hc_json *j) {
    if (!value_ok(j)) return 0;
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (j->len - j->pos >= n && memcmp(j->text + j->pos, words[i], n) == 0) {
            j->pos += n;
            value_done(j);
            return 1;
        }
    }
    return fail(j, HC_E_FORMAT, "expected a value");
}

/* ===================================================================== */
/* Containers                                                             */
/* ===================================================================== */

static int open_container(hc_json *j, char open, uint8_t kind) {
    if (!value_ok(j)) return 0;
    if (j->pos >= j->len || j->text[j->pos] != open)
        return fail(j, HC_E_FORMAT, open == '{' ? "expected an object" : "expected an array");
    if (j->depth >= HC_JSON_MAX_DEPTH) return fail(j, HC_E_LIMIT, "nesting deeper than 64 levels");
    j->pos++;
    j->kind[j->depth++] = kind;
    j->state = S_OPENED;
    return 1;
}

int hc_json_object_begin(hc_json *j) { return open_container(j, '{', 'o'); }
int hc_json_array_begin(hc_json *j) { return open_container(j, '[', 'a'); }

static int close_container(hc_json *j) {
    j->pos++;
    j->depth--;
    j->state = S_DONE;
    return 0;
}

/* Checks the cursor is inside a container of this kind, between values. */
static int between_values(hc_json *j, uint8_t kind) {
    if (j->status != HC_OK) return 0;
    if (j->depth == 0 || j->kind[j->depth - 1] != kind || j->state == S_VALUE)
        return fail(j, HC_E_ARG, "internal: container walked out of order");
    skip_ws(j);
    return 1;
}

int hc_json_object_next(hc_json *j, hc_json_str *key) {
    if (!between_values(j, 'o')) return -1;
    if (j->pos >= j->len) return fail_next(j, HC_E_FORMAT, "unterminated object");
    char c = j->text[j->pos];
    if (c == '}') return close_container(j);
    if (j->state == S_DONE) {
        if (c != ',') return fail_next(j, HC_E_FORMAT, "expected ',' or '}' in an object");
        j->pos++;
        skip_ws(j);
    }
    if (j->pos >= j->len || j->text[j->pos] != '"') return fail_next(j, HC_E_FORMAT, "expected a string key");
    if (!scan_string(j, key)) return -1;
    skip_ws(j);
    if (j->pos >= j->len || j->text[j->pos] != ':') return fail_next(j, HC_E_FORMAT, "expected ':' after a key");
    j->pos++;
    j->state = S_VALUE;
    return 1;
}

int hc_json_array_next(hc_json *j) {
    if (!between_values(j, 'a')) return -1;
    if (j->pos >= j->len) return fail_next(j, HC_E_FORMAT, "unterminated array");
    char c = j->text[j->pos];
    if (c == ']') return close_container(j);
    if (j->state == S_DONE) {
        if (c != ',') return fail_next(j, HC_E_FORMAT, "expected ',' or ']' in an array");
        j->pos++;
    }
    j->state = S_VALUE;
    return 1;
}

int hc_json_skip(hc_json *j) {
    int base = j->depth;
    for (;;) {
        hc_json_str s;
        int ok;
        switch (hc_json_peek(j)) {
        case HC_JSON_OBJECT: ok = hc_json_object_begin(j); break;
        case HC_JSON_ARRAY: ok = hc_json_array_begin(j); break;
        case HC_JSON_STRING: ok = hc_json_string(j, &s); break;
        case HC_JSON_NUMBER: ok = hc_json_number(j, NULL, NULL); break;
        case HC_JSON_TRUE:
        case HC_JSON_FALSE:
        case HC_JSON_NULL: ok = hc_json_literal(j); break;
        default: ok = 0; break;
        }
        if (!ok) return 0;
        /* close finished containers until another value is due, or we are back */
        for (;;) {
            if (j->depth == base) return 1;
            int r = j->kind[j->depth - 1] == 'o' ? hc_json_object_next(j, &s) : hc_json_array_next(j);
            if (r < 0) return 0;
            if (r > 0) break;
        }
    }
}

int hc_json_finish(hc_json *j) {
    if (j->status != HC_OK) return 0;
    if (j->depth != 0 || j->state != S_DONE) return fail(j, HC_E_FORMAT, "incomplete JSON text");
    skip_ws(j);
    if (j->pos != j->len) return fail(j, HC_E_FORMAT, "unexpected data after the JSON value");
    return 1;
}

/* ===================================================================== */
/* Public lookup in a flat object                                         */
/* ===================================================================== */

int hc_json_object_get(const char *json, size_t len, const char *key, char *buf, size_t bufsz) {
    if (!json || !key || !buf || bufsz == 0) return 0;
    buf[0] = 0;
    hc_json j;
    hc_json_init(&j, json, len);
    if (!hc_json_object_begin(&j)) return 0;
    size_t klen = strlen(key);
    int found = 0, fits = 0, r;
    hc_json_str k;
    while ((r = hc_json_object_next(&j, &k)) > 0) {
        if (!hc_json_str_eq(&k, key, klen)) {
            if (!hc_json_skip(&j)) return 0;
            continue;
        }
        if (found) return 0; /* a repeated key is ambiguous */
        found = 1;
        hc_json_type t = hc_json_peek(&j);
        if (t == HC_JSON_STRING) {
            hc_json_str v;
            if (!hc_json_string(&j, &v)) return 0;
            if (!v.has_nul && v.len < bufsz) {
                hc_json_str_decode(&v, buf);
                buf[v.len] = 0;
                fits = 1;
            }
        } else if (t == HC_JSON_NUMBER) {
            const char *s;
            size_t n;
            if (!hc_json_number(&j, &s, &n)) return 0;
            if (n < bufsz) {
                memcpy(buf, s, n);
                buf[n] = 0;
                fits = 1;
            }
        } else if (!hc_json_skip(&j)) {
            return 0;
        }
    }
    if (r < 0 || !hc_json_finish(&j) || !fits) {
        buf[0] = 0;
        return 0;
    }
    return 1;
}
