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

#define MAX_DEPTH 32

struct cursor {
    const unsigned char *p, *end;
};

static bool is_hex_upper(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* One UTF-8 sequence as jansson accepts it: shortest form, no surrogates, <= U+10FFFF. */
static bool utf8_sequence(struct cursor *c)
{
    const unsigned char *p = c->p;
    size_t left = (size_t)(c->end - p);
    unsigned char b = p[0];
    uint32_t cp;
    size_t n;

    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        cp = b & 0x07;
    } else {
        return false;
    }
    if (left < n) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return false;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return false;
    }
    c->p += n;
    return true;
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
        } else if (!utf8_sequence(c)) {
            return false;
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
