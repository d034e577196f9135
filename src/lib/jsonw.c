/* SPDX-License-Identifier: Apache-2.0 */
/* Compact canonical JSON output without jansson (see jsonw.h). */
#include "jsonw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>

#include "jsonscan.h"
#include "utf8.h"

void evi_jsonw_init(struct evi_jsonw *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void evi_jsonw_free(struct evi_jsonw *w)
{
    free(w->data);
    memset(w, 0, sizeof(*w));
}

void evi_jsonw_reset(struct evi_jsonw *w)
{
    w->len = 0;
    w->error = 0;
    w->need_comma = false;
}

int evi_jsonw_error(const struct evi_jsonw *w)
{
    return w->error;
}

/* Room for more bytes and a NUL (jsonw.h): the common case inline, growing out of line. */
static inline bool reserve(struct evi_jsonw *w, size_t more)
{
    return evi_jsonw_reserve(w, more);
}

bool evi_jsonw_grow(struct evi_jsonw *w, size_t more)
{
    if (w->error != 0) {
        return false;
    }
    if (w->max != 0 && (more > w->max || w->len > w->max - more)) {
        w->error = EV_ETOOBIG;
        return false;
    }
    if (w->len + more + 1 <= w->cap) {
        return true;
    }
    /*
     * A first buffer of 1,000 bytes holds most events' data. Under 1,008 bytes, glibc serves it
     * from its small bins: at 1,024 (a large-bin chunk) the malloc cost about 60 % more on the
     * stream thread, where the buffers of answered chunks are freed in bursts.
     */
    size_t cap = w->cap != 0 ? w->cap : 1000;
    while (cap < w->len + more + 1) {
        cap *= 2;
    }
    /* A writer's first buffer from malloc: realloc(NULL) is the same with a call more. */
    char *data = w->data != NULL ? realloc(w->data, cap) : malloc(cap);
    if (data == NULL) {
        w->error = -ENOMEM;
        return false;
    }
    w->data = data;
    w->cap = cap;
    return true;
}

void evi_jsonw_raw(struct evi_jsonw *w, const void *data, size_t len)
{
    if (!reserve(w, len)) {
        return;
    }
    memcpy(w->data + w->len, data, len);
    w->len += len;
    w->data[w->len] = '\0';
}

static void put_char(struct evi_jsonw *w, char c)
{
    evi_jsonw_raw(w, &c, 1);
}

static void before_value(struct evi_jsonw *w)
{
    if (w->need_comma) {
        put_char(w, ',');
    }
    w->need_comma = true;
}

void evi_jsonw_begin_object(struct evi_jsonw *w)
{
    before_value(w);
    put_char(w, '{');
    w->need_comma = false;
}

void evi_jsonw_end_object(struct evi_jsonw *w)
{
    put_char(w, '}');
    w->need_comma = true;
}

void evi_jsonw_begin_array(struct evi_jsonw *w)
{
    before_value(w);
    put_char(w, '[');
    w->need_comma = false;
}

void evi_jsonw_end_array(struct evi_jsonw *w)
{
    put_char(w, ']');
    w->need_comma = true;
}

void evi_jsonw_key(struct evi_jsonw *w, const char *key)
{
    evi_jsonw_key_n(w, key, strlen(key));
}

/* Bytes of the escape for an ASCII control or quote character, 0 if none. */
static size_t escape_of(unsigned char c, char out[7])
{
    switch (c) {
    case '"': memcpy(out, "\\\"", 2); return 2;
    case '\\': memcpy(out, "\\\\", 2); return 2;
    case '\b': memcpy(out, "\\b", 2); return 2;
    case '\f': memcpy(out, "\\f", 2); return 2;
    case '\n': memcpy(out, "\\n", 2); return 2;
    case '\r': memcpy(out, "\\r", 2); return 2;
    case '\t': memcpy(out, "\\t", 2); return 2;
    default:
        if (c < 0x20) {
            (void)snprintf(out, 7, "\\u%04X", c);
            return 6;
        }
        return 0;
    }
}

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/*
 * The character at s[i]: its escaped size, its input length in *ret_in, and
 * either the bytes to copy (*ret_verbatim) or, when that is NULL, its escape
 * in esc. The writer and the two length functions share it so they agree.
 */
static size_t next_char(const char *s, size_t len, size_t i, size_t *ret_in, char esc[7],
                        const char **ret_verbatim)
{
    unsigned char c = (unsigned char)s[i];
    if (c == 0) {
        /* U+0000 has no place in an entry (json.c refuses \u0000): written as U+FFFD. */
        *ret_in = 1;
        *ret_verbatim = replacement;
        return 3;
    }
    if (c < 0x80) {
        size_t n = escape_of(c, esc);
        *ret_in = 1;
        if (n != 0) {
            *ret_verbatim = NULL;
            return n;
        }
        *ret_verbatim = s + i;
        return 1;
    }
    uint32_t cp;
    size_t n = evi_utf8_decode((const uint8_t *)s + i, len - i, &cp);
    if (n == 0) {
        *ret_in = 1;
        *ret_verbatim = replacement;
        return 3;
    }
    *ret_in = n;
    *ret_verbatim = s + i;
    return n;
}

/*
 * evi_json_plain_run() with its tail in one 16-byte step too (the strings of
 * an event are mostly short, and a string's last 1..15 bytes went byte by
 * byte): the 16 bytes that end the text, whose first ones already passed, or
 * a copy padded with plain bytes for a text shorter than that.
 */
static size_t plain_run(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0) {
        return 0; /* s may be NULL */
    }
    if (len < 16) {
        unsigned char padded[16];
        memset(padded, 'a', sizeof(padded));
        memcpy(padded, p, len);
        size_t run = evi_json_plain_run(padded, sizeof(padded));
        return run < len ? run : len;
    }
    size_t whole = len - len % 16;
    size_t run = evi_json_plain_run(p, whole);
    if (run < whole || whole == len) {
        return run;
    }
    return len - 16 + evi_json_plain_run(p + len - 16, 16);
}

/* The quoted string, nothing escaped: exactly len + 2 bytes. */
static void put_plain(struct evi_jsonw *w, const char *s, size_t len)
{
    if (!reserve(w, len + 2)) {
        return;
    }
    char *out = w->data + w->len;
    *out++ = '"';
    if (len > 0) {
        memcpy(out, s, len);
        out += len;
    }
    *out++ = '"';
    *out = '\0';
    w->len = (size_t)(out - w->data);
}

void evi_jsonw_string(struct evi_jsonw *w, const char *s, size_t len)
{
    before_value(w);
    size_t first = plain_run(s, len);
    if (first == len) {
        put_plain(w, s, len); /* the common case, nothing to escape */
        return;
    }
    /* Worst case: 6 bytes out per byte in, plus the quotes. */
    size_t need = len <= (SIZE_MAX - 2) / 6 ? len * 6 + 2 : SIZE_MAX;
    if (w->max != 0 && need > w->max - (w->len < w->max ? w->len : w->max)) {
        need = evi_jsonw_escaped_len(s, len) + 2; /* near the limit: size it exactly */
    }
    if (!reserve(w, need)) {
        return;
    }
    char *out = w->data + w->len;
    *out++ = '"';
    size_t i = 0;
    while (i < len) {
        /* Runs that need no attention (controls, quote, backslash, non-ASCII end one). */
        size_t run = i == 0 ? first : i + plain_run(s + i, len - i);
        memcpy(out, s + i, run - i);
        out += run - i;
        i = run;
        if (i == len) {
            break;
        }
        char esc[7];
        const char *verbatim;
        size_t in;
        size_t n = next_char(s, len, i, &in, esc, &verbatim);
        memcpy(out, verbatim != NULL ? verbatim : esc, n);
        out += n;
        i += in;
    }
    *out++ = '"';
    w->len = (size_t)(out - w->data);
    w->data[w->len] = '\0';
}

size_t evi_jsonw_escaped_len(const char *s, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        char esc[7];
        const char *verbatim;
        size_t in;
        out += next_char(s, len, i, &in, esc, &verbatim);
        i += in;
    }
    return out;
}

size_t evi_jsonw_prefix_fitting(const char *s, size_t len, size_t max_escaped)
{
    if (len <= max_escaped / 6) {
        return len; /* fits whatever it holds */
    }
    size_t out = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            if (out + 1 > max_escaped) {
                break;
            }
            out++;
            i++;
            continue;
        }
        char esc[7];
        const char *verbatim;
        size_t in;
        size_t n = next_char(s, len, i, &in, esc, &verbatim);
        if (out + n > max_escaped) {
            break;
        }
        out += n;
        i += in;
    }
    return i;
}

void evi_jsonw_int(struct evi_jsonw *w, int64_t v)
{
    char text[24];
    size_t n = sizeof(text);
    /* Digits from the right; the magnitude as unsigned so INT64_MIN works. */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        text[--n] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    if (v < 0) {
        text[--n] = '-';
    }
    before_value(w);
    evi_jsonw_raw(w, text + n, sizeof(text) - n);
}

void evi_jsonw_bool(struct evi_jsonw *w, bool v)
{
    before_value(w);
    if (v) {
        evi_jsonw_raw(w, "true", 4);
    } else {
        evi_jsonw_raw(w, "false", 5);
    }
}

void evi_jsonw_value_raw(struct evi_jsonw *w, const char *json, size_t len)
{
    before_value(w);
    evi_jsonw_raw(w, json, len);
}
