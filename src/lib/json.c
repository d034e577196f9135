/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict one-pass check that a JSON text is already in evident's canonical
 * form (FORMAT.md §5): exactly what jansson writes with JSON_COMPACT |
 * JSON_SORT_KEYS for the value jansson would parse from it.
 *
 * Why: canonicalizing through jansson (parse into hash tables, sort, print)
 * costs several microseconds per event, more than all the hashing of an
 * entry. Producers that already send canonical JSON (our own typed-event
 * builders, most serializers with sorted keys) skip it. Anything this check
 * does not accept goes through jansson as before, which also produces the
 * error messages; so this function only ever decides "same bytes as jansson
 * would write" or "ask jansson". fuzz/fuzz-event.c checks that equivalence.
 *
 * Conservative on purpose: real numbers, keys with escapes, and deep nesting
 * are left to jansson.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "jsonscan.h"
#include "utf8.h"

#define MAX_DEPTH 32

struct cursor {
    const unsigned char *p, *end;
};

static bool is_hex_upper(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/*
 * A string as jansson writes it: raw UTF-8 except '"', '\\' and control
 * characters, which are escaped as \" \\ \b \f \n \r \t or \u00XX (uppercase).
 * With key set, any escape at all is left to jansson (so that raw bytes
 * compare as jansson's sort does).
 */
static bool canonical_string(struct cursor *c, bool key)
{
    if (c->p >= c->end || *c->p != '"') {
        return false;
    }
    c->p++;
    while (c->p < c->end) {
        c->p += evi_json_plain_run(c->p, (size_t)(c->end - c->p)); /* skipped as below, faster */
        if (c->p >= c->end) {
            break;
        }
        unsigned char b = *c->p;
        if (b == '"') {
            c->p++;
            return true;
        }
        if (b < 0x20) {
            return false;
        }
        if (b == '\\') {
            if (key || c->end - c->p < 2) {
                return false;
            }
            unsigned char e = c->p[1];
            if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                c->p += 2;
                continue;
            }
            /* \u00XX only for control characters without a short form. */
            if (e != 'u' || c->end - c->p < 6 || c->p[2] != '0' || c->p[3] != '0' ||
                !is_hex_upper(c->p[4]) || !is_hex_upper(c->p[5])) {
                return false;
            }
            unsigned v = (unsigned)((c->p[4] <= '9' ? c->p[4] - '0' : c->p[4] - 'A' + 10) * 16 +
                                    (c->p[5] <= '9' ? c->p[5] - '0' : c->p[5] - 'A' + 10));
            if (v >= 0x20 || v == 0 || v == '\b' || v == '\f' || v == '\n' || v == '\r' ||
                v == '\t') {
                return false;
            }
            c->p += 6;
            continue;
        }
        if (b < 0x80) {
            c->p++;
        } else {
            size_t n = evi_utf8_decode(c->p, (size_t)(c->end - c->p), NULL);
            if (n == 0) {
                return false;
            }
            c->p += n;
        }
    }
    return false;
}

/* An integer as jansson writes a json_int_t: -?(0|[1-9][0-9]*), no -0, in int64 range. */
static bool canonical_integer(struct cursor *c)
{
    const unsigned char *start = c->p;
    bool negative = false;
    uint64_t v = 0;
    size_t digits = 0;

    if (c->p < c->end && *c->p == '-') {
        negative = true;
        c->p++;
    }
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (digits == 1 && v == 0) {
            return false; /* leading zero */
        }
        if (v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*c->p - '0');
        digits++;
        c->p++;
    }
    if (digits == 0 || digits > 19) {
        return false;
    }
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) {
        return false; /* a real: jansson rewrites it */
    }
    if (negative && (v == 0 || v > (uint64_t)INT64_MAX + 1)) {
        return false;
    }
    if (!negative && v > (uint64_t)INT64_MAX) {
        return false;
    }
    (void)start;
    return true;
}

static bool literal(struct cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) {
        return false;
    }
    c->p += n;
    return true;
}

static bool canonical_value(struct cursor *c, int depth);

static bool canonical_object(struct cursor *c, int depth)
{
    const unsigned char *prev = NULL;
    size_t prev_len = 0;

    c->p++; /* '{' */
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        const unsigned char *key = c->p + 1;
        if (!canonical_string(c, true)) {
            return false;
        }
        size_t key_len = (size_t)(c->p - 1 - key);
        if (prev != NULL) {
            /* Strictly ascending by bytes, as strcmp orders jansson's keys. */
            size_t n = prev_len < key_len ? prev_len : key_len;
            int cmp = memcmp(prev, key, n);
            if (cmp > 0 || (cmp == 0 && prev_len >= key_len)) {
                return false;
            }
        }
        prev = key;
        prev_len = key_len;
        if (c->p >= c->end || *c->p != ':') {
            return false;
        }
        c->p++;
        if (!canonical_value(c, depth + 1)) {
            return false;
        }
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == '}') {
            c->p++;
            return true;
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
    }
}

static bool canonical_array(struct cursor *c, int depth)
{
    c->p++; /* '[' */
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (;;) {
        if (!canonical_value(c, depth + 1)) {
            return false;
        }
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == ']') {
            c->p++;
            return true;
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
    }
}

static bool canonical_value(struct cursor *c, int depth)
{
    if (depth > MAX_DEPTH || c->p >= c->end) {
        return false;
    }
    switch (*c->p) {
    case '{': return canonical_object(c, depth);
    case '[': return canonical_array(c, depth);
    case '"': return canonical_string(c, false);
    case 't': return literal(c, "true");
    case 'f': return literal(c, "false");
    case 'n': return literal(c, "null");
    default: return canonical_integer(c);
    }
}

bool evi_json_is_canonical_object(const char *text, size_t len)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};

    if (len == 0 || text[0] != '{') {
        return false;
    }
    return canonical_object(&c, 1) && c.p == c.end;
}

/* ---- canonicalizing: whitespace out, members sorted, tokens as they are ---- */

#define MAX_MEMBERS 256

struct writer {
    char *out;
    size_t len, cap;
};

struct member {
    const unsigned char *key, *value;
    size_t key_len, value_len; /* key without its quotes */
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static bool emit(struct writer *w, const unsigned char *p, size_t n)
{
    if (w->len + n > w->cap) {
        return false;
    }
    memcpy(w->out + w->len, p, n);
    w->len += n;
    return true;
}

/* Skips one value whose tokens are all in canonical form (whitespace allowed). */
static bool skip_value(struct cursor *c, int depth);

static bool skip_container(struct cursor *c, int depth, unsigned char close)
{
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (!canonical_string(c, true)) {
                return false;
            }
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') {
                return false;
            }
            c->p++;
            skip_ws(c);
        }
        if (!skip_value(c, depth + 1)) {
            return false;
        }
        skip_ws(c);
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == close) {
            c->p++;
            return true;
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
        skip_ws(c);
    }
}

static bool skip_value(struct cursor *c, int depth)
{
    if (depth > MAX_DEPTH || c->p >= c->end) {
        return false;
    }
    switch (*c->p) {
    case '{': return skip_container(c, depth, '}');
    case '[': return skip_container(c, depth, ']');
    case '"': return canonical_string(c, false);
    case 't': return literal(c, "true");
    case 'f': return literal(c, "false");
    case 'n': return literal(c, "null");
    default: return canonical_integer(c);
    }
}

static int member_cmp(const struct member *x, const struct member *y)
{
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static bool write_value(struct cursor *c, struct writer *w, int depth);

static bool write_object(struct cursor *c, struct writer *w, int depth)
{
    struct member m[MAX_MEMBERS];
    size_t count = 0;

    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return emit(w, (const unsigned char *)"{}", 2);
    }
    for (;;) {
        if (count == MAX_MEMBERS) {
            return false;
        }
        struct member cur;
        cur.key = c->p + 1;
        if (!canonical_string(c, true)) {
            return false;
        }
        cur.key_len = (size_t)(c->p - 1 - cur.key);
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':') {
            return false;
        }
        c->p++;
        skip_ws(c);
        cur.value = c->p;
        if (!skip_value(c, depth + 1)) {
            return false;
        }
        cur.value_len = (size_t)(c->p - cur.value);
        /* Insertion sort: objects are small and often nearly sorted. */
        size_t i = count;
        while (i > 0 && member_cmp(&m[i - 1], &cur) > 0) {
            m[i] = m[i - 1];
            i--;
        }
        if (i > 0 && member_cmp(&m[i - 1], &cur) == 0) {
            return false; /* a repeated key: jansson reports it */
        }
        m[i] = cur;
        count++;
        skip_ws(c);
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == '}') {
            c->p++;
            break;
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
        skip_ws(c);
    }
    if (!emit(w, (const unsigned char *)"{", 1)) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        struct cursor v = {m[i].value, m[i].value + m[i].value_len};
        if ((i > 0 && !emit(w, (const unsigned char *)",", 1)) ||
            !emit(w, m[i].key - 1, m[i].key_len + 2) || !emit(w, (const unsigned char *)":", 1) ||
            !write_value(&v, w, depth + 1)) {
            return false;
        }
    }
    return emit(w, (const unsigned char *)"}", 1);
}

static bool write_array(struct cursor *c, struct writer *w, int depth)
{
    bool first = true;

    c->p++;
    if (!emit(w, (const unsigned char *)"[", 1)) {
        return false;
    }
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return emit(w, (const unsigned char *)"]", 1);
    }
    for (;;) {
        if (!first && !emit(w, (const unsigned char *)",", 1)) {
            return false;
        }
        first = false;
        if (!write_value(c, w, depth + 1)) {
            return false;
        }
        skip_ws(c);
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == ']') {
            c->p++;
            return emit(w, (const unsigned char *)"]", 1);
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
        skip_ws(c);
    }
}

static bool write_value(struct cursor *c, struct writer *w, int depth)
{
    const unsigned char *start = c->p;

    if (depth > MAX_DEPTH || c->p >= c->end) {
        return false;
    }
    if (*c->p == '{') {
        return write_object(c, w, depth);
    }
    if (*c->p == '[') {
        return write_array(c, w, depth);
    }
    return skip_value(c, depth) && emit(w, start, (size_t)(c->p - start));
}

size_t evi_json_canonicalize_object(const char *text, size_t len, char *out, size_t cap)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};
    struct writer w = {out, 0, cap};

    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{' || !write_object(&c, &w, 1)) {
        return 0;
    }
    skip_ws(&c);
    return c.p == c.end ? w.len : 0;
}
