/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON event in (include/evident/jsonl.h): a line of JSON Lines as an event,
 * read by a fast reader without a parse tree when it is sure of the line, and
 * otherwise by jansson, which is the authority on what is wrong with a line.
 */
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/jsonl.h>
#include <evident/log.h>

#include "error.h"
#include "jsonl-internal.h"

/* Strings by offset into one growing allocation: offsets survive its growth. */
struct ev_jsonl_buffer {
    char *data;
    size_t len, cap;
};

int ev_jsonl_buffer_new(struct ev_jsonl_buffer **ret_buffer)
{
    struct ev_jsonl_buffer *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        return -ENOMEM;
    }
    *ret_buffer = b;
    return 0;
}

void ev_jsonl_buffer_free(struct ev_jsonl_buffer *buffer)
{
    if (buffer != NULL) {
        free(buffer->data);
        free(buffer);
    }
}

void ev_jsonl_buffer_clear(struct ev_jsonl_buffer *buffer)
{
    buffer->len = 0;
}

size_t ev_jsonl_buffer_size(const struct ev_jsonl_buffer *buffer)
{
    return buffer->len;
}

void ev_jsonl_event_get(const struct ev_jsonl_buffer *buffer, const struct ev_jsonl_event *event,
                        struct ev_event *ret_event)
{
    const char *base = buffer->data;

    *ret_event = (struct ev_event){
        .type = base + event->type,
        .severity = event->severity,
        .source_json = event->source == EV_JSONL_ABSENT ? NULL : base + event->source,
        .data_json = event->data == EV_JSONL_ABSENT ? NULL : base + event->data,
    };
}

/* Makes room for more bytes. 0 or -ENOMEM. */
static int buffer_reserve(struct ev_jsonl_buffer *a, size_t more)
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

/* Copies len bytes and a NUL; returns their offset, or SIZE_MAX if out of memory. */
static size_t buffer_add(struct ev_jsonl_buffer *a, const char *s, size_t len)
{
    if (buffer_reserve(a, len + 1) < 0) {
        return SIZE_MAX;
    }
    size_t off = a->len;
    memcpy(a->data + off, s, len);
    a->data[off + len] = '\0';
    a->len += len + 1;
    return off;
}

/* 1-64 of [a-z0-9_.:-], starting with a letter (docs/FORMAT.md §5). */
static bool type_ok(const char *t)
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

/* ---- the fast reader ------------------------------------------------------- */

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
#ifdef __SSE2__
        /*
         * 16 bytes at a time up to the first that is not plain: a quote, a
         * backslash, a control character or anything from 0x7f (as signed
         * bytes, 0x80 and up are below 0x20 too). Strings were a byte at a
         * time: 12 % of evidentd's HTTP threads (docs/PERFORMANCE.md, session 13).
         */
        while (r->end - r->p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)r->p);
            __m128i stop = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                        _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
            stop = _mm_or_si128(stop, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
            unsigned m = (unsigned)_mm_movemask_epi8(stop);
            if (m != 0) {
                r->p += __builtin_ctz(m);
                break;
            }
            r->p += 16;
        }
        if (r->p >= r->end) {
            break;
        }
#endif
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
 * §5) into the buffer, so that the library can take it as it is instead of
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

static bool canon_value(struct reader *r, struct ev_jsonl_buffer *a, int depth);

static bool canon_put(struct ev_jsonl_buffer *a, const char *p, size_t n)
{
    if (buffer_reserve(a, n) < 0) {
        return false;
    }
    memcpy(a->data + a->len, p, n);
    a->len += n;
    return true;
}

/*
 * Byte order of the keys without their quotes (FORMAT.md §5): with them, a key
 * that another extends by a byte below '"' (a space, '!') sorted after it
 * ("a " before "a"). Found by fuzz-jsonl once evidentd's intake began to rely
 * on this order (evi_jsonl_read_fast()); before, the library's own check put
 * such data in order again.
 */
static int member_cmp(const struct member *x, const struct member *y)
{
    size_t xn = x->key_len - 2, yn = y->key_len - 2; /* key and key_len span the quotes */
    int c = memcmp(x->key + 1, y->key + 1, xn < yn ? xn : yn);
    return c != 0 ? c : (xn > yn) - (xn < yn);
}

static bool canon_object(struct reader *r, struct ev_jsonl_buffer *a, int depth)
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

static bool canon_array(struct reader *r, struct ev_jsonl_buffer *a, int depth)
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

static bool canon_value(struct reader *r, struct ev_jsonl_buffer *a, int depth)
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
 * The canonical form of the object at r into the buffer as a NUL-terminated
 * string (its offset in *ret_off; *ret_canonical, if not NULL, true), or else
 * its raw text (false). false if the value is not even plain JSON (the jansson
 * path then decides).
 */
static bool take_object(struct reader *r, struct ev_jsonl_buffer *a, size_t *ret_off,
                        bool *ret_canonical)
{
    const char *start = r->p;
    size_t mark = a->len;

    if (r->p >= r->end || *r->p != '{') {
        return false;
    }
    if (canon_value(r, a, 0) && canon_put(a, "", 1)) {
        *ret_off = mark;
        if (ret_canonical != NULL) {
            *ret_canonical = true;
        }
        return true;
    }
    a->len = mark;
    r->p = start;
    if (!fast_value(r, 0)) {
        return false;
    }
    *ret_off = buffer_add(a, start, (size_t)(r->p - start));
    if (ret_canonical != NULL) {
        *ret_canonical = false;
    }
    return *ret_off != SIZE_MAX;
}

/*
 * Any doubt is "not sure" (0), never an error: the caller's full parser
 * decides, and names the fault. Only plain keys, type and severity (no
 * escapes) are read; the first occurrence of each key is taken, a repeated
 * one goes to jansson, which refuses it.
 */
static int read_fast(struct ev_jsonl_buffer *a, const char *text, size_t len,
                     size_t max_object_bytes, const char *path_type,
                     struct ev_jsonl_event *ret_event, bool *ret_data_canonical)
{
    bool data_canonical = true; /* no data: "{}" */
    struct ev_jsonl_event ev = {EV_JSONL_ABSENT, EV_JSONL_ABSENT, EV_JSONL_ABSENT, -1};
    struct ev_jsonl_event *p = &ev;
    struct reader r;
    const char *type = NULL, *severity = NULL;
    size_t type_len = 0, severity_len = 0, mark;
    bool plain;

    if (a == NULL || text == NULL || ret_event == NULL) {
        return a != NULL && ret_event != NULL && len == 0 ? 0 : -EINVAL;
    }
    r = (struct reader){text, text + len};
    mark = a->len;
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
        } else if (key_len == 6 && memcmp(key, "source", 6) == 0 && p->source == EV_JSONL_ABSENT) {
            if (!take_object(&r, a, &p->source, NULL)) {
                goto fallback;
            }
        } else if (key_len == 4 && memcmp(key, "data", 4) == 0 && p->data == EV_JSONL_ABSENT) {
            if (!take_object(&r, a, &p->data, &data_canonical)) {
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
    if (path_type != NULL) {
        size_t n = strlen(path_type);
        if (type != NULL && (type_len != n || memcmp(type, path_type, n) != 0)) {
            goto fallback;
        }
        type = path_type;
        type_len = n;
    }
    if (r.p != r.end || type == NULL || type_len > 64 || severity_len > 15 ||
        a->len - mark > max_object_bytes) {
        goto fallback;
    }

    char name[80];
    memcpy(name, type, type_len);
    name[type_len] = '\0';
    if (!type_ok(name) || strcmp(name, "seal") == 0) {
        goto fallback;
    }
    if (severity != NULL) {
        memcpy(name, severity, severity_len);
        name[severity_len] = '\0';
        if (ev_severity_parse(name, &p->severity) < 0) {
            goto fallback;
        }
    }
    p->type = buffer_add(a, type, type_len);
    if (p->type == SIZE_MAX) {
        a->len = mark;
        return -ENOMEM;
    }
    *ret_event = ev;
    if (ret_data_canonical != NULL) {
        *ret_data_canonical = data_canonical;
    }
    return 1;
fallback:
    a->len = mark;
    return 0;
}

int ev_jsonl_read_fast(struct ev_jsonl_buffer *a, const char *text, size_t len,
                       size_t max_object_bytes, struct ev_jsonl_event *ret_event)
{
    return read_fast(a, text, len, max_object_bytes, NULL, ret_event, NULL);
}

int evi_jsonl_read_fast(struct ev_jsonl_buffer *a, const char *text, size_t len,
                        size_t max_object_bytes, struct ev_jsonl_event *ret_event,
                        bool *ret_data_canonical)
{
    return read_fast(a, text, len, max_object_bytes, NULL, ret_event, ret_data_canonical);
}

/* ---- jansson: the authority on what is wrong with a line ------------------- */

/* Compact JSON of an object into the buffer, canonical (FORMAT.md §5). */
static size_t buffer_dump(struct ev_jsonl_buffer *a, const json_t *json)
{
    size_t need = json_dumpb(json, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
    if (need == 0 || buffer_reserve(a, need + 1) < 0) {
        return SIZE_MAX;
    }
    size_t off = a->len;
    (void)json_dumpb(json, a->data + off, need, JSON_COMPACT | JSON_SORT_KEYS);
    a->data[off + need] = '\0';
    a->len += need + 1;
    return off;
}

/* The bytes of the UTF-8 character that starts with c (jansson's keys are valid UTF-8). */
static size_t utf8_char_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/*
 * A key for a message: its first 64 bytes, cut at a character's end, with
 * the C0 and C1 control characters as '?' (the key is the sender's, and the
 * message may reach a terminal or a JSON answer).
 */
static void key_for_message(const char *key, char out[65])
{
    size_t in = 0, n = 0;

    while (key[in] != '\0') {
        unsigned char c = (unsigned char)key[in];
        size_t len = utf8_char_len(c);
        if (n + len > 64 || strnlen(key + in, len) < len) {
            break;
        }
        bool c1 = c == 0xc2 && (unsigned char)key[in + 1] < 0xa0;
        if (c < 0x20 || c == 0x7f || c1) {
            out[n++] = '?';
        } else {
            memcpy(out + n, key + in, len);
            n += len;
        }
        in += len;
    }
    out[n] = '\0';
}

/* A severity: a name ev_severity_parse() takes, or its number 0..7. */
static bool severity_of(const json_t *value, int *ret_severity)
{
    if (json_is_integer(value)) {
        json_int_t n = json_integer_value(value);
        if (n < EV_SEV_EMERGENCY || n > EV_SEV_DEBUG) {
            return false;
        }
        *ret_severity = (int)n;
        return true;
    }
    return json_is_string(value) && ev_severity_parse(json_string_value(value), ret_severity) == 0;
}

/*
 * Reads the line with jansson: 1 and the event, or EV_EJSON with
 * ev_last_error() set, or -ENOMEM; the buffer as it was on failure.
 * The messages are listed in jsonl.h and docs/INGEST.md; evidentd sends them
 * to its producers and `evident append --jsonl` prints them after "line N: ".
 */
static int jansson_read(struct ev_jsonl_buffer *a, const char *text, size_t len,
                        const char *path_type, struct ev_jsonl_event *ret_event)
{
    struct ev_jsonl_event ev = {EV_JSONL_ABSENT, EV_JSONL_ABSENT, EV_JSONL_ABSENT, -1};
    json_error_t jerr;
    json_t *root, *value;
    const char *key, *type = NULL;
    char name[65];
    size_t mark = a->len;
    int r;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return evi_error(EV_EJSON, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        r = evi_error(EV_EJSON, "expected a JSON object (an event)");
        goto out;
    }
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "type") == 0) {
            type = json_string_value(value);
            if (type == NULL) {
                r = evi_error(EV_EJSON, "type: expected a string");
                goto out;
            }
            if (!type_ok(type) || strcmp(type, "seal") == 0) {
                r = evi_error(EV_EJSON, "type: expected 1-64 of [a-z0-9_.:-] starting with a "
                                        "letter, not \"seal\"");
                goto out;
            }
        } else if (strcmp(key, "severity") == 0) {
            if (!severity_of(value, &ev.severity)) {
                r = evi_error(EV_EJSON, "severity: expected a name (emergency, alert, critical, "
                                        "error, warning, notice, info, debug) or 0..7");
                goto out;
            }
        } else if (strcmp(key, "source") == 0 || strcmp(key, "data") == 0) {
            if (!json_is_object(value)) {
                r = evi_error(EV_EJSON, "%s: expected a JSON object", key);
                goto out;
            }
            size_t off = buffer_dump(a, value);
            if (off == SIZE_MAX) {
                r = -ENOMEM;
                goto out;
            }
            if (strcmp(key, "source") == 0) {
                ev.source = off;
            } else {
                ev.data = off;
            }
        } else {
            key_for_message(key, name);
            r = evi_error(EV_EJSON, "%s: unknown key (expected type, severity, source, data)",
                          name);
            goto out;
        }
    }
    if (path_type != NULL) {
        if (type != NULL && strcmp(type, path_type) != 0) {
            r = evi_error(EV_EJSON, "type: differs from the type in the path");
            goto out;
        }
        type = path_type;
        if (!type_ok(type) || strcmp(type, "seal") == 0) {
            r = evi_error(EV_EJSON, "type: expected 1-64 of [a-z0-9_.:-] starting with a "
                                    "letter, not \"seal\"");
            goto out;
        }
    }
    if (type == NULL) {
        r = evi_error(EV_EJSON, "type: required");
        goto out;
    }
    ev.type = buffer_add(a, type, strlen(type));
    if (ev.type == SIZE_MAX) {
        r = -ENOMEM;
        goto out;
    }
    *ret_event = ev;
    r = 1;
out:
    if (r != 1) {
        a->len = mark;
    }
    json_decref(root);
    return r;
}

/*
 * ev_jsonl_read(); with evidentd's type from the path and without the
 * line's limit when bounded is false (evi_jsonl_read()).
 */
static int read_line(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                     const char *path_type, bool bounded, struct ev_jsonl_event *ret_event,
                     bool *ret_data_canonical)
{
    bool data_canonical = false;
    size_t lead = 0;
    int r;

    if (buffer == NULL || (line == NULL && len > 0) || ret_event == NULL) {
        return evi_error(-EINVAL, "ev_jsonl_read: NULL argument");
    }
    if (bounded && len > EV_JSONL_LINE_MAX) {
        return evi_error(EV_ETOOBIG, "longer than %u bytes", EV_JSONL_LINE_MAX);
    }
    while (lead < len && (line[lead] == ' ' || line[lead] == '\t' || line[lead] == '\r')) {
        lead++;
    }
    if (lead == len) {
        return 0;
    }
    /* JSON text never holds a NUL byte; jansson would skip one between tokens. */
    if (memchr(line, '\0', len) != NULL) {
        return evi_error(EV_EJSON, "contains a NUL byte");
    }
    r = read_fast(buffer, line, len, SIZE_MAX, path_type, ret_event, &data_canonical);
    if (r == 0) {
        data_canonical = false; /* the library checks jansson's text when it prepares it */
        r = jansson_read(buffer, line, len, path_type, ret_event);
    }
    if (r == 1 && ret_data_canonical != NULL) {
        *ret_data_canonical = data_canonical;
    }
    return r;
}

int ev_jsonl_read(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                  struct ev_jsonl_event *ret_event)
{
    return read_line(buffer, line, len, NULL, true, ret_event, NULL);
}

int evi_jsonl_read(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                   const char *path_type, struct ev_jsonl_event *ret_event,
                   bool *ret_data_canonical)
{
    return read_line(buffer, line, len, path_type, false, ret_event, ret_data_canonical);
}
