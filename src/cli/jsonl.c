/* SPDX-License-Identifier: Apache-2.0 */
/* Events as JSON Lines: the arena and the fast line reader (see jsonl.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <evident/log.h>

#include "jsonl.h"

int cli_arena_reserve(struct cli_arena *a, size_t more)
{
    if (a->cap - a->len >= more) {
        return 0;
    }
    size_t cap = a->cap ? a->cap : 1u << 16;
    while (cap - a->len < more) {
        cap *= 2;
    }
    char *d = realloc(a->data, cap);
    if (d == NULL) {
        return -ENOMEM;
    }
    a->data = d;
    a->cap = cap;
    return 0;
}

size_t cli_arena_add(struct cli_arena *a, const char *s, size_t len)
{
    if (cli_arena_reserve(a, len + 1) < 0) {
        return SIZE_MAX;
    }
    size_t off = a->len;
    memcpy(a->data + off, s, len);
    a->data[off + len] = '\0';
    a->len += len + 1;
    return off;
}

bool cli_event_type_ok(const char *t)
{
    size_t n = 0;
    if (!(t[0] >= 'a' && t[0] <= 'z')) {
        return false;
    }
    for (; t[n]; n++) {
        char c = t[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-')) {
            return false;
        }
    }
    return n <= 64;
}

/* Deeper values go to jansson. */
#define FAST_MAX_DEPTH 32

struct reader {
    const char *p, *end;
};

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) {
        r->p++;
    }
}

/* A string of printable ASCII with only the simple escapes; *ret_plain if it has none. */
static bool fast_string(struct reader *r, bool *ret_plain)
{
    bool plain = true;

    if (r->p >= r->end || *r->p != '"') {
        return false;
    }
    for (r->p++; r->p < r->end; r->p++) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            *ret_plain = plain;
            return true;
        }
        if (c < 0x20 || c >= 0x7f) {
            return false;
        }
        if (c == '\\') {
            plain = false;
            r->p++;
            if (r->p >= r->end || strchr("\"\\/bfnrt", *r->p) == NULL || *r->p == '\0') {
                return false;
            }
        }
    }
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* An integer (at most 18 digits: no jansson overflow) or a decimal fraction. */
static bool fast_number(struct reader *r)
{
    const char *start;

    if (r->p < r->end && *r->p == '-') {
        r->p++;
    }
    start = r->p;
    if (r->p < r->end && *r->p == '0') {
        r->p++;
    } else {
        while (r->p < r->end && is_digit(*r->p)) {
            r->p++;
        }
    }
    if (r->p == start || r->p - start > 18) {
        return false;
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        start = r->p;
        while (r->p < r->end && is_digit(*r->p)) {
            r->p++;
        }
        if (r->p == start || r->p - start > 17) {
            return false;
        }
    }
    return r->p >= r->end || (*r->p != 'e' && *r->p != 'E');
}

static bool fast_literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) {
        return false;
    }
    r->p += n;
    return true;
}

static bool fast_value(struct reader *r, int depth);

static bool fast_container(struct reader *r, int depth, bool object)
{
    char close = object ? '}' : ']';
    bool plain;

    if (depth >= FAST_MAX_DEPTH) {
        return false;
    }
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return true;
    }
    for (;;) {
        if (object) {
            /* Repeated keys are for the library (jansson) to find. */
            if (!fast_string(r, &plain)) {
                return false;
            }
            skip_ws(r);
            if (r->p >= r->end || *r->p++ != ':') {
                return false;
            }
            skip_ws(r);
        }
        if (!fast_value(r, depth + 1)) {
            return false;
        }
        skip_ws(r);
        if (r->p >= r->end) {
            return false;
        }
        if (*r->p == close) {
            r->p++;
            return true;
        }
        if (*r->p++ != ',') {
            return false;
        }
        skip_ws(r);
    }
}

static bool fast_value(struct reader *r, int depth)
{
    bool plain;

    if (r->p >= r->end) {
        return false;
    }
    switch (*r->p) {
    case '{': return fast_container(r, depth, true);
    case '[': return fast_container(r, depth, false);
    case '"': return fast_string(r, &plain);
    case 't': return fast_literal(r, "true");
    case 'f': return fast_literal(r, "false");
    case 'n': return fast_literal(r, "null");
    default: return fast_number(r);
    }
}

/*
 * Writes a value in canonical form (compact, object keys sorted by byte
 * order: what jansson writes with JSON_COMPACT | JSON_SORT_KEYS, FORMAT.md
 * §5) into the arena, so that the library can take it as it is instead of
 * parsing and re-writing it. Only plain values qualify: strings without
 * escapes, integers, literals, objects of at most CANON_MAX_MEMBERS members.
 * false leaves the value to the library; a wrong "true" could only cost
 * speed, since the library checks that what it borrows is canonical.
 */
#define CANON_MAX_MEMBERS 64

struct member {
    const char *key, *value;
    size_t key_len, value_len;
};

static bool canon_value(struct reader *r, struct cli_arena *a, int depth);

static bool canon_put(struct cli_arena *a, const char *p, size_t n)
{
    if (cli_arena_reserve(a, n) < 0) {
        return false;
    }
    memcpy(a->data + a->len, p, n);
    a->len += n;
    return true;
}

static int member_cmp(const struct member *x, const struct member *y)
{
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static bool canon_object(struct reader *r, struct cli_arena *a, int depth)
{
    struct member m[CANON_MAX_MEMBERS];
    size_t count = 0;
    bool plain;

    if (depth >= FAST_MAX_DEPTH) {
        return false;
    }
    r->p++;
    skip_ws(r);
    while (r->p < r->end && *r->p != '}') {
        if (count == CANON_MAX_MEMBERS) {
            return false;
        }
        struct member *cur = &m[count];
        cur->key = r->p;
        if (!fast_string(r, &plain) || !plain) {
            return false;
        }
        cur->key_len = (size_t)(r->p - cur->key);
        skip_ws(r);
        if (r->p >= r->end || *r->p++ != ':') {
            return false;
        }
        skip_ws(r);
        cur->value = r->p;
        if (!fast_value(r, depth + 1)) {
            return false;
        }
        cur->value_len = (size_t)(r->p - cur->value);
        /* Insertion sort: objects are small, and often sorted already. */
        size_t i = count++;
        while (i > 0 && member_cmp(&m[i - 1], cur) > 0) {
            i--;
        }
        if (i > 0 && member_cmp(&m[i - 1], cur) == 0) {
            return false; /* a repeated key: the library reports it */
        }
        struct member moved = *cur;
        memmove(&m[i + 1], &m[i], (count - 1 - i) * sizeof(m[0]));
        m[i] = moved;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            if (r->p >= r->end || *r->p == '}') {
                return false;
            }
        } else if (r->p >= r->end || *r->p != '}') {
            return false;
        }
    }
    if (r->p >= r->end) {
        return false;
    }
    r->p++;
    if (!canon_put(a, "{", 1)) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        struct reader v = {m[i].value, m[i].value + m[i].value_len};
        if ((i > 0 && !canon_put(a, ",", 1)) || !canon_put(a, m[i].key, m[i].key_len) ||
            !canon_put(a, ":", 1) || !canon_value(&v, a, depth + 1)) {
            return false;
        }
    }
    return canon_put(a, "}", 1);
}

static bool canon_array(struct reader *r, struct cli_arena *a, int depth)
{
    bool first = true;

    if (depth >= FAST_MAX_DEPTH) {
        return false;
    }
    r->p++;
    skip_ws(r);
    if (!canon_put(a, "[", 1)) {
        return false;
    }
    while (r->p < r->end && *r->p != ']') {
        if ((!first && !canon_put(a, ",", 1)) || !canon_value(r, a, depth + 1)) {
            return false;
        }
        first = false;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            if (r->p >= r->end || *r->p == ']') {
                return false;
            }
        } else if (r->p >= r->end || *r->p != ']') {
            return false;
        }
    }
    if (r->p >= r->end) {
        return false;
    }
    r->p++;
    return canon_put(a, "]", 1);
}

static bool canon_value(struct reader *r, struct cli_arena *a, int depth)
{
    const char *start = r->p;
    bool plain;

    if (r->p >= r->end) {
        return false;
    }
    switch (*r->p) {
    case '{': return canon_object(r, a, depth);
    case '[': return canon_array(r, a, depth);
    case '"': return fast_string(r, &plain) && plain && canon_put(a, start, (size_t)(r->p - start));
    case 't':
    case 'f':
    case 'n': return fast_value(r, depth) && canon_put(a, start, (size_t)(r->p - start));
    default:
        /* Integers only: jansson writes reals its own way, and -0 as 0. */
        if (!fast_number(r) || memchr(start, '.', (size_t)(r->p - start)) != NULL ||
            (r->p - start == 2 && start[0] == '-' && start[1] == '0')) {
            return false;
        }
        return canon_put(a, start, (size_t)(r->p - start));
    }
}

/*
 * The canonical form of the object at r into the arena as a NUL-terminated
 * string (its offset in *ret_off), or else its raw text. false if the value
 * is not even plain JSON (the jansson path then decides).
 */
static bool take_object(struct reader *r, struct cli_arena *a, size_t *ret_off)
{
    const char *start = r->p;
    size_t mark = a->len;

    if (r->p >= r->end || *r->p != '{') {
        return false;
    }
    if (canon_value(r, a, 0) && canon_put(a, "", 1)) {
        *ret_off = mark;
        return true;
    }
    a->len = mark;
    r->p = start;
    if (!fast_value(r, 0)) {
        return false;
    }
    *ret_off = cli_arena_add(a, start, (size_t)(r->p - start));
    return *ret_off != SIZE_MAX;
}

int cli_jsonl_fast(const char *text, size_t len, size_t max_object_bytes, struct cli_arena *a,
                   struct cli_event_text *ret_event)
{
    struct cli_event_text ev = {SIZE_MAX, SIZE_MAX, SIZE_MAX, -1};
    struct cli_event_text *p = &ev;
    struct reader r = {text, text + len};
    const char *type = NULL, *severity = NULL;
    size_t type_len = 0, severity_len = 0, mark = a->len;
    bool plain;

    skip_ws(&r);
    if (r.p >= r.end || *r.p++ != '{') {
        goto fallback;
    }
    skip_ws(&r);
    while (r.p < r.end && *r.p != '}') {
        const char *key = r.p + 1;
        if (!fast_string(&r, &plain) || !plain) {
            goto fallback;
        }
        size_t key_len = (size_t)(r.p - 1 - key);
        skip_ws(&r);
        if (r.p >= r.end || *r.p++ != ':') {
            goto fallback;
        }
        skip_ws(&r);
        const char *value = r.p;
        if (key_len == 4 && memcmp(key, "type", 4) == 0 && type == NULL) {
            if (!fast_string(&r, &plain) || !plain) {
                goto fallback;
            }
            type = value + 1;
            type_len = (size_t)(r.p - 1 - type);
        } else if (key_len == 8 && memcmp(key, "severity", 8) == 0 && severity == NULL) {
            if (!fast_string(&r, &plain) || !plain) {
                goto fallback;
            }
            severity = value + 1;
            severity_len = (size_t)(r.p - 1 - severity);
        } else if (key_len == 6 && memcmp(key, "source", 6) == 0 && p->source == SIZE_MAX) {
            if (!take_object(&r, a, &p->source)) {
                goto fallback;
            }
        } else if (key_len == 4 && memcmp(key, "data", 4) == 0 && p->data == SIZE_MAX) {
            if (!take_object(&r, a, &p->data)) {
                goto fallback;
            }
        } else {
            goto fallback;
        }
        skip_ws(&r);
        if (r.p < r.end && *r.p == ',') {
            r.p++;
            skip_ws(&r);
            if (r.p < r.end && *r.p == '}') {
                goto fallback; /* trailing comma */
            }
        } else if (r.p < r.end && *r.p != '}') {
            goto fallback;
        }
    }
    if (r.p >= r.end || *r.p++ != '}') {
        goto fallback;
    }
    skip_ws(&r);
    if (r.p != r.end || type == NULL || type_len > 64 || severity_len > 15 ||
        a->len - mark > max_object_bytes) {
        goto fallback;
    }

    char name[80];
    memcpy(name, type, type_len);
    name[type_len] = '\0';
    if (!cli_event_type_ok(name) || strcmp(name, "seal") == 0) {
        goto fallback;
    }
    if (severity != NULL) {
        memcpy(name, severity, severity_len);
        name[severity_len] = '\0';
        if (ev_severity_parse(name, &p->severity) < 0) {
            goto fallback;
        }
    }
    p->type = cli_arena_add(a, type, type_len);
    if (p->type == SIZE_MAX) {
        a->len = mark;
        return -ENOMEM;
    }
    *ret_event = ev;
    return 1;
fallback:
    a->len = mark;
    return 0;
}
