/* json.h — a small strict JSON (RFC 8259) reader for untrusted input.
 *
 * It is a cursor that walks the text in place: nothing is allocated and no
 * tree is built, so memory use does not depend on the input. Strings come
 * back as spans of the text (escapes decoded on demand into the caller's
 * buffer). Nesting depth is bounded by HC_JSON_MAX_DEPTH and nothing recurses.
 *
 * Every parsing call returns 1 on success and 0 on error; the first error is
 * kept in the cursor (status, why, err_pos) and every later call fails too.
 *
 * Walking an object:
 *     if (!hc_json_object_begin(j)) ...;
 *     while ((r = hc_json_object_next(j, &key)) > 0) { ...parse or skip one value... }
 *     if (r < 0) ...;
 * Arrays are the same with hc_json_array_begin / hc_json_array_next.
 */
#ifndef HC_JSON_H
#define HC_JSON_H

#include "hyperc.h"

#define HC_JSON_MAX_DEPTH 64

typedef enum hc_json_type {
    HC_JSON_NONE = 0, /* end of input, or a byte that cannot start a value */
    HC_JSON_OBJECT,
    HC_JSON_ARRAY,
    HC_JSON_STRING,
    HC_JSON_NUMBER,
    HC_JSON_TRUE,
    HC_JSON_FALSE,
    HC_JSON_NULL
} hc_json_type;

/* A validated string token. */
typedef struct hc_json_str {
    const char *raw; /* [raw_len] the bytes between the quotes, escapes undecoded */
    size_t raw_len;
    size_t len;      /* length in bytes once decoded to UTF-8 */
    int has_nul;     /* 1 if it contains \u0000 (cannot be a C string) */
} hc_json_str;

typedef struct hc_json {
    const char *text; /* [len] */
    size_t len;
    size_t pos;       /* next byte to read */
    int depth;        /* containers open */
    int state;        /* where in the innermost container we are (json.c) */
    uint8_t kind[HC_JSON_MAX_DEPTH]; /* [depth] 'o' or 'a' per open container */
    hc_status status; /* HC_OK until the first error */
    const char *why;  /* static text of the first error */
    size_t err_pos;   /* byte offset of the first error */
} hc_json;

void hc_json_init(hc_json *j, const char *text, size_t len);

/* Type of the next value (after whitespace); HC_JSON_NONE sets an error. */
hc_json_type hc_json_peek(hc_json *j);

int hc_json_object_begin(hc_json *j);
/* 1: *key read (and its ':'), a value follows; 0: object closed; -1: error. */
int hc_json_object_next(hc_json *j, hc_json_str *key);
int hc_json_array_begin(hc_json *j);
/* 1: an element follows; 0: array closed; -1: error. */
int hc_json_array_next(hc_json *j);

int hc_json_string(hc_json *j, hc_json_str *s);
/* A non-negative integer without fraction or exponent, that fits in 64 bits. */
int hc_json_u64(hc_json *j, uint64_t *v);
/* Any number; its text is returned in *start and *n. */
int hc_json_number(hc_json *j, const char **start, size_t *n);
/* true, false or null. */
int hc_json_literal(hc_json *j);
/* Skips one value of any type, containers included. */
int hc_json_skip(hc_json *j);
/* Checks that only whitespace is left. */
int hc_json_finish(hc_json *j);

/* Writes the decoded bytes of s (s->len of them, no terminator) to out. */
void hc_json_str_decode(const hc_json_str *s, char *out);
/* 1 if s decodes to exactly the n bytes at z. */
int hc_json_str_eq(const hc_json_str *s, const char *z, size_t n);
/* Byte-wise order of the decoded strings (<0, 0, >0). */
int hc_json_str_cmp(const hc_json_str *a, const hc_json_str *b);

/* 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int hc_utf8_valid(const char *s, size_t n);

/* JSON string body for s[0..n) (no quotes): escapes '"', '\\' and control
 * characters. Returns the length; writes it to out when out is not NULL. */
size_t hc_json_escape(const char *s, size_t n, char *out);

#endif
