/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct evi_jsonw: a growable buffer that writes compact JSON exactly as
 * jansson does (JSON_COMPACT | JSON_SORT_KEYS, no JSON_ENSURE_ASCII), so that
 * text built here is canonical (docs/FORMAT.md §5) without going through
 * jansson. Callers write object members in byte order of their keys.
 *
 * Errors are sticky: after an allocation failure or when the text would pass
 * max bytes, every write is a no-op and evi_jsonw_error() says which.
 */
#ifndef EVI_JSONW_H
#define EVI_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct evi_jsonw {
    char *data;
    size_t len, cap;
    size_t max; /* limit on len; 0 = none */
    int error;  /* 0, -ENOMEM, or EV_ETOOBIG when max was passed */
    bool need_comma;
};

/* An empty writer limited to max bytes (0 = unlimited). */
void evi_jsonw_init(struct evi_jsonw *w, size_t max);
void evi_jsonw_free(struct evi_jsonw *w);
/* Forgets the text, keeps the memory. */
void evi_jsonw_reset(struct evi_jsonw *w);
int evi_jsonw_error(const struct evi_jsonw *w);

/* Raw bytes, no separators. */
void evi_jsonw_raw(struct evi_jsonw *w, const void *data, size_t len);

void evi_jsonw_begin_object(struct evi_jsonw *w);
void evi_jsonw_end_object(struct evi_jsonw *w);
void evi_jsonw_begin_array(struct evi_jsonw *w);
void evi_jsonw_end_array(struct evi_jsonw *w);

/* "key": (with the comma before it when needed); key is plain ASCII needing no escapes. */
void evi_jsonw_key(struct evi_jsonw *w, const char *key);
/* The same for a key of n bytes whose length is known (the schema's rows keep theirs). */
static inline void evi_jsonw_key_n(struct evi_jsonw *w, const char *key, size_t n);

/*
 * A string value from len bytes of UTF-8. Escapes as jansson does: \" \\ \b
 * \f \n \r \t, other bytes below 0x20 as \u00XX (upper-case hex); everything
 * else verbatim. Invalid UTF-8 sequences and NUL bytes become U+FFFD (entries
 * never hold U+0000).
 */
void evi_jsonw_string(struct evi_jsonw *w, const char *s, size_t len);
/* A string value of len bytes known to need no escapes (plain ASCII, see jsonscan.h): the
 * same bytes as evi_jsonw_string() without looking at them. */
static inline void evi_jsonw_plain_string(struct evi_jsonw *w, const char *s, size_t len);
void evi_jsonw_int(struct evi_jsonw *w, int64_t v);
void evi_jsonw_bool(struct evi_jsonw *w, bool v);
/* A value already in canonical JSON (an object from the canonicalizer). */
void evi_jsonw_value_raw(struct evi_jsonw *w, const char *json, size_t len);

/*
 * The escaped length of a string value body (without quotes) for the first
 * len bytes of s, as evi_jsonw_string() would write it.
 */
size_t evi_jsonw_escaped_len(const char *s, size_t len);

/*
 * The longest prefix of s (at most len bytes) that ends on a UTF-8 character
 * boundary and whose escaped form is at most max_escaped bytes.
 */
size_t evi_jsonw_prefix_fitting(const char *s, size_t len, size_t max_escaped);

/*
 * Inline, for the encoder's loop over a schema's rows (a call per key cost
 * more than the key): room for more bytes and a NUL, growing out of line
 * (evi_jsonw_grow: false, with the sticky error set, when it cannot).
 */
bool evi_jsonw_grow(struct evi_jsonw *w, size_t more);

static inline bool evi_jsonw_reserve(struct evi_jsonw *w, size_t more)
{
    if (w->error == 0 && more < w->cap - w->len && (w->max == 0 || more <= w->max - w->len)) {
        return true;
    }
    return evi_jsonw_grow(w, more);
}

static inline void evi_jsonw_key_n(struct evi_jsonw *w, const char *key, size_t n)
{
    /* Keys are the schema's names: plain ASCII, nothing to escape. */
    if (!evi_jsonw_reserve(w, n + 4)) {
        return;
    }
    char *p = w->data + w->len;
    if (w->need_comma) {
        *p++ = ',';
    }
    *p++ = '"';
    memcpy(p, key, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    *p = '\0';
    w->len = (size_t)(p - w->data);
    w->need_comma = false;
}

static inline void evi_jsonw_plain_string(struct evi_jsonw *w, const char *s, size_t len)
{
    /* The comma, if due, and the quoted bytes in one reservation: the same limit check as one
     * for the comma and one for the string, and the same bytes. */
    if (!evi_jsonw_reserve(w, len + 2 + (w->need_comma ? 1 : 0))) {
        w->need_comma = true;
        return;
    }
    char *p = w->data + w->len;
    if (w->need_comma) {
        *p++ = ',';
    }
    *p++ = '"';
    if (len > 0) {
        memcpy(p, s, len);
        p += len;
    }
    *p++ = '"';
    *p = '\0';
    w->len = (size_t)(p - w->data);
    w->need_comma = true;
}

#endif
