/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP API without the HTTP server (api.h): the route table, who may call
 * which route, and the write route. Reads are in api-read.c.
 *
 * A write is all or nothing: every event of the body goes through intake
 * (schema and policy) before anything is queued, and the whole request is one
 * submission, so either every kept event is durable and acknowledged or none
 * is written.
 */
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <evident/error.h>
#include <evident/event.h>

#include "api.h"
#include "auth.h"
#include "commit.h"
#include "disk.h"
#include "intake.h"
#include "metrics.h"

#define JSON_TYPE "application/json"

/* ---- text buffers ---------------------------------------------------------- */

static bool buf_reserve(struct evd_buf *b, size_t more)
{
    size_t need, cap;
    char *data;

    if (b->failed) {
        return false;
    }
    if (more > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    need = b->len + more + 1;
    if (need <= b->cap) {
        return true;
    }
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) {
        cap *= 2;
    }
    data = realloc(b->data, cap);
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

void evd_buf_add(struct evd_buf *b, const char *text, size_t len)
{
    if (!buf_reserve(b, len)) {
        return;
    }
    if (len > 0) {
        memcpy(b->data + b->len, text, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}

void evd_buf_str(struct evd_buf *b, const char *text)
{
    evd_buf_add(b, text, strlen(text));
}

void evd_buf_printf(struct evd_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!buf_reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void evd_buf_u64(struct evd_buf *b, uint64_t v)
{
    char digits[20];
    size_t n = sizeof(digits);

    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    evd_buf_add(b, digits + n, sizeof(digits) - n);
}

void evd_buf_json_string(struct evd_buf *b, const char *text, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    size_t run = 0;

    evd_buf_add(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            continue;
        }
        evd_buf_add(b, text + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': evd_buf_add(b, "\\\"", 2); break;
        case '\\': evd_buf_add(b, "\\\\", 2); break;
        case '\n': evd_buf_add(b, "\\n", 2); break;
        case '\t': evd_buf_add(b, "\\t", 2); break;
        case '\r': evd_buf_add(b, "\\r", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', digits[c >> 4], digits[c & 0xf]};
            evd_buf_add(b, esc, sizeof(esc));
        }
        }
    }
    evd_buf_add(b, text + run, len - run);
    evd_buf_add(b, "\"", 1);
}

/* ---- responses ----------------------------------------------------------- */

void evd_response_clear(struct evd_response *response)
{
    if (response == NULL) {
        return;
    }
    free(response->body);
    response->body = NULL;
    response->body_len = 0;
}

/*
 * Every response's body is set here, so this is where a 503 gets its Retry-After: none can
 * be built without one (RFC 9110 §15.6.4). A builder may choose the delay before.
 */
static void reply_raw(struct evd_response *r, int status, const char *content_type, char *body,
                      size_t len)
{
    if (status == 503 && r->retry_after == 0) {
        r->retry_after = EVD_API_RETRY_AFTER_S;
    }
    free(r->body);
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->body_len = len;
}

/* The last resort when even an error body cannot be allocated. */
static void reply_oom(struct evd_response *r)
{
    static const char text[] = "{\"error\":\"out of memory\",\"status\":500}";
    char *body = malloc(sizeof(text));
    if (body != NULL) {
        memcpy(body, text, sizeof(text));
    }
    reply_raw(r, 500, JSON_TYPE, body, body != NULL ? sizeof(text) - 1 : 0);
}

void evd_api_reply(struct evd_response *r, int status, const char *content_type, struct evd_buf *b)
{
    if (b->failed) {
        free(b->data);
        *b = (struct evd_buf){0};
        reply_oom(r);
        return;
    }
    if (b->data == NULL) { /* an empty body */
        evd_buf_add(b, "", 0);
        if (b->failed) {
            reply_oom(r);
            return;
        }
    }
    reply_raw(r, status, content_type, b->data, b->len);
    *b = (struct evd_buf){0};
}

void evd_api_error(struct evd_response *r, int status, const char *fmt, ...)
{
    struct evd_buf b = {0};
    char message[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    evd_buf_str(&b, "{\"error\":");
    evd_buf_json_string(&b, message, strlen(message));
    evd_buf_printf(&b, ",\"status\":%d}", status);
    evd_api_reply(r, status, JSON_TYPE, &b);
}

void evd_api_storage_error(struct evd_response *r, int code)
{
    /* ev_strerror() only: ev_last_error() may name files on the server. */
    if (code == -ENOMEM) {
        reply_oom(r);
        return;
    }
    evd_api_error(r, 500, "storage: %s", ev_strerror(code));
}

/* A failed write: 507 "disk full: ..." when the disk is full (disk.h), else as above. */
static void write_error(struct evd *d, struct evd_response *r, int code)
{
    if (evd_disk_is_full_error(code)) {
        char why[160];
        evd_disk_describe(d->disk, why, sizeof(why));
        r->retry_after = 60;
        evd_api_error(r, 507, "%s", why);
        return;
    }
    evd_api_storage_error(r, code);
}

static void count_reject(struct evd *d, enum evd_reject reason, uint64_t n)
{
    if (d->metrics != NULL) {
        evd_metrics_reject(d->metrics, EVD_SRC_HTTP, reason, n);
    }
}

/* ---- query strings ------------------------------------------------------- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes src[0..len) into dst (at most len bytes and a NUL). */
static void url_decode(const char *src, size_t len, char *dst)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (src[i] == '+') {
            dst[j++] = ' ';
        } else if (src[i] == '%' && i + 2 < len && (hi = hex_digit(src[i + 1])) >= 0 &&
                   (lo = hex_digit(src[i + 2])) >= 0) {
            dst[j++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[j++] = src[i];
        }
    }
    dst[j] = '\0';
}

int evd_query_parse(const char *text, size_t len, struct evd_query *ret_query)
{
    struct evd_query q = {0};
    char *out;
    size_t i = 0;

    /* Decoding never grows a string: each pair needs at most its length plus two NULs. */
    q.storage = malloc(len + 2 * EVD_QUERY_MAX + 1);
    if (q.storage == NULL) {
        return -ENOMEM;
    }
    out = q.storage;
    while (i < len) {
        size_t start = i, eq = SIZE_MAX;
        while (i < len && text[i] != '&') {
            if (text[i] == '=' && eq == SIZE_MAX) {
                eq = i;
            }
            i++;
        }
        if (i > start) {
            if (q.count == EVD_QUERY_MAX) {
                free(q.storage);
                return -E2BIG;
            }
            size_t key_end = eq == SIZE_MAX ? i : eq;
            q.keys[q.count] = out;
            url_decode(text + start, key_end - start, out);
            out += strlen(out) + 1;
            q.values[q.count] = out;
            if (eq == SIZE_MAX) {
                *out = '\0';
            } else {
                url_decode(text + eq + 1, i - eq - 1, out);
            }
            out += strlen(out) + 1;
            q.count++;
        }
        i++; /* the '&' */
    }
    *ret_query = q;
    return 0;
}

const char *evd_query_get(void *ctx, const char *key)
{
    const struct evd_query *q = ctx;
    for (size_t i = 0; q != NULL && i < q->count; i++) {
        if (strcmp(q->keys[i], key) == 0) {
            return q->values[i];
        }
    }
    return NULL;
}

void evd_query_free(struct evd_query *query)
{
    if (query != NULL) {
        free(query->storage);
        *query = (struct evd_query){0};
    }
}

/* ---- the write route ----------------------------------------------------- */

/*
 * The two scans of the body below read every byte of a request before intake
 * does, so they skip 8 bytes at a time where they can: a word with no byte
 * >= 0x80 is ASCII; a word holding neither '"' nor '\\' cannot end a string.
 * (They were a fifth of the HTTP threads' CPU a byte at a time.)
 */

#define WORD_ONES UINT64_C(0x0101010101010101)
#define WORD_HIGHS UINT64_C(0x8080808080808080)

static uint64_t word_at(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}

/* Nonzero if some byte of w is b (the exact test: a zero byte of w ^ b). */
static uint64_t word_has(uint64_t w, unsigned char b)
{
    uint64_t x = w ^ (WORD_ONES * b);
    return (x - WORD_ONES) & ~x & WORD_HIGHS;
}

/*
 * Returns SIZE_MAX if text is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), else the offset of the first bad byte.
 */
static size_t utf8_invalid_at(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        while (len - i >= sizeof(uint64_t) && (word_at(text + i) & WORD_HIGHS) == 0) {
            i += sizeof(uint64_t);
        }
        if (i == len) {
            break;
        }
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return i;
        }
        for (size_t k = 1; k <= n; k++) {
            unsigned char lim_lo = k == 1 ? lo : 0x80, lim_hi = k == 1 ? hi : 0xbf;
            if (i + k >= len || s[i + k] < lim_lo || s[i + k] > lim_hi) {
                return i + k < len ? i + k : i;
            }
        }
        i += n + 1;
    }
    return SIZE_MAX;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The end of the object or array starting at body[start] (one past its
 * closing bracket), or 0 if it does not close. Only brackets outside strings
 * are counted: intake parses each object for real, so a body whose brackets
 * pair up wrongly still fails there.
 *
 * With SSE2 (every x86-64), 16 bytes at a time: a mask of the bytes that can
 * matter (quotes, backslashes, brackets), then those bytes alone, in order,
 * against the state. A byte loop took 13 % of the HTTP threads' time under
 * 4 x 1000 events (docs/PERFORMANCE.md, session 13).
 */
/*
 * One byte of a value against the state: 1 if it closes the value, -1 if it
 * escapes the byte after it (a backslash in a string), 0 otherwise.
 */
static int bracket_step(char c, bool *in_string, size_t *depth)
{
    if (*in_string) {
        if (c == '\\') {
            return -1;
        }
        if (c == '"') {
            *in_string = false;
        }
    } else if (c == '"') {
        *in_string = true;
    } else if (c == '{' || c == '[') {
        (*depth)++;
    } else if ((c == '}' || c == ']') && --*depth == 0) {
        return 1;
    }
    return 0;
}

static size_t value_end(const char *body, size_t len, size_t start)
{
    size_t depth = 0;
    bool in_string = false;
    size_t i = start, skip = start; /* a byte before skip was escaped */

#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i open_o = _mm_set1_epi8('{'), close_o = _mm_set1_epi8('}');
    const __m128i open_a = _mm_set1_epi8('['), close_a = _mm_set1_epi8(']');
    for (; len - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(body + i));
        __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
        hits =
            _mm_or_si128(hits, _mm_or_si128(_mm_cmpeq_epi8(v, open_o), _mm_cmpeq_epi8(v, close_o)));
        hits =
            _mm_or_si128(hits, _mm_or_si128(_mm_cmpeq_epi8(v, open_a), _mm_cmpeq_epi8(v, close_a)));
        for (unsigned m = (unsigned)_mm_movemask_epi8(hits); m != 0; m &= m - 1) {
            size_t at = i + (size_t)__builtin_ctz(m);
            if (at < skip) {
                continue;
            }
            int step = bracket_step(body[at], &in_string, &depth);
            if (step > 0) {
                return at + 1;
            }
            if (step < 0) {
                skip = at + 2;
            }
        }
    }
#endif
    for (i = i > skip ? i : skip; i < len; i++) {
        if (in_string) {
            while (len - i >= sizeof(uint64_t)) {
                uint64_t w = word_at(body + i);
                if (word_has(w, '"') || word_has(w, '\\')) {
                    break;
                }
                i += sizeof(uint64_t);
            }
            if (i == len) {
                break;
            }
        }
        int step = bracket_step(body[i], &in_string, &depth);
        if (step > 0) {
            return i + 1;
        }
        if (step < 0) {
            i++;
        }
    }
    return 0;
}

/* One element of the body: [start, end). */
struct span {
    size_t start, end;
};

/*
 * Splits the body into event objects. Returns the count, or -1 with the
 * response set (400, or 413 past max events).
 */
static long split_events(const char *body, size_t len, uint64_t max_events, size_t span_cap,
                         bool *ret_single, struct span *spans, struct evd_response *r)
{
    size_t i = 0, count = 0;

    while (i < len && is_space(body[i])) {
        i++;
    }
    if (i == len) {
        evd_api_error(r, 400, "body: empty: expected an event object or an array of them");
        return -1;
    }
    if (body[i] == '{') {
        size_t end = value_end(body, len, i);
        if (end == 0) {
            evd_api_error(r, 400, "body: unterminated object");
            return -1;
        }
        spans[0] = (struct span){i, end};
        for (i = end; i < len; i++) {
            if (!is_space(body[i])) {
                evd_api_error(r, 400, "body: unexpected text after the event at byte %zu", i);
                return -1;
            }
        }
        *ret_single = true;
        return 1;
    }
    if (body[i] != '[') {
        evd_api_error(r, 400, "body: expected an event object or an array of them");
        return -1;
    }
    i++;
    for (;;) {
        while (i < len && is_space(body[i])) {
            i++;
        }
        if (i < len && body[i] == ']' && count == 0) {
            i++;
            break;
        }
        if (i == len) {
            evd_api_error(r, 400, "body: unterminated array");
            return -1;
        }
        if (body[i] != '{') {
            evd_api_error(r, 400, "events[%zu]: expected an object", count);
            return -1;
        }
        if (count == span_cap) { /* cannot happen: span_cap bounds what fits in len */
            evd_api_error(r, 400, "events[%zu]: too many objects", count);
            return -1;
        }
        if (count == max_events) {
            evd_api_error(
                r, 413, "too many events: at most %" PRIu64 " per request (performance.batch_max)",
                max_events);
            return -1;
        }
        size_t end = value_end(body, len, i);
        if (end == 0) {
            evd_api_error(r, 400, "events[%zu]: unterminated object", count);
            return -1;
        }
        spans[count++] = (struct span){i, end};
        i = end;
        while (i < len && is_space(body[i])) {
            i++;
        }
        if (i < len && body[i] == ',') {
            i++;
            continue;
        }
        if (i < len && body[i] == ']') {
            i++;
            break;
        }
        if (i == len) {
            evd_api_error(r, 400, "body: unterminated array");
            return -1;
        }
        evd_api_error(r, 400, "body: expected ',' or ']' after events[%zu] at byte %zu", count - 1,
                      i);
        return -1;
    }
    for (; i < len; i++) {
        if (!is_space(body[i])) {
            evd_api_error(r, 400, "body: unexpected text after the array at byte %zu", i);
            return -1;
        }
    }
    *ret_single = false;
    return (long)count;
}

/* One write request in flight: its submission and what the answer needs. */
struct evd_api_call {
    struct evd_submission submission; /* first: done() gets it back */
    struct evd *d;
    evd_api_done_fn done;
    void *ctx;
    bool single;
    size_t total;             /* events in the body */
    bool *dropped;            /* [total] */
    struct ev_prepared *kept; /* [total], the first submission.count in use */
    char **claimed;           /* [total]: owned sources with a claim, or NULL */
    char *transport_source;   /* borrowed by the kept events */
};

static void call_free(struct evd_api_call *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->submission.count; i++) {
        ev_prepared_release(&c->kept[i]);
    }
    for (size_t i = 0; c->claimed != NULL && i < c->total; i++) {
        free(c->claimed[i]);
    }
    free(c->claimed);
    free(c->kept);
    free(c->dropped);
    free(c->transport_source);
    free(c);
}

/* 200: {"index":N} / {"dropped":true}, or {"dropped":[...],"indexes":[...]} */
static void reply_written(struct evd_api_call *c, uint64_t first, struct evd_response *r)
{
    struct evd_buf b = {0};
    size_t next = 0; /* among the kept events */

    if (c->single) {
        if (c->dropped[0]) {
            evd_buf_str(&b, "{\"dropped\":true}");
        } else {
            evd_buf_printf(&b, "{\"index\":%" PRIu64 "}",
                           evd_submission_index(&c->submission, first, 0));
        }
        evd_api_reply(r, 200, JSON_TYPE, &b);
        return;
    }
    /* On the ack path of every request: no printf per index (100 of them took 16 us). */
    evd_buf_str(&b, "{\"dropped\":[");
    for (size_t i = 0, n = 0; i < c->total; i++) {
        if (c->dropped[i]) {
            if (n++ > 0) {
                evd_buf_add(&b, ",", 1);
            }
            evd_buf_u64(&b, i);
        }
    }
    evd_buf_str(&b, "],\"indexes\":[");
    for (size_t i = 0; i < c->total; i++) {
        if (i > 0) {
            evd_buf_add(&b, ",", 1);
        }
        if (c->dropped[i]) {
            evd_buf_str(&b, "null");
        } else {
            evd_buf_u64(&b, evd_submission_index(&c->submission, first, next++));
        }
    }
    evd_buf_str(&b, "]}");
    evd_api_reply(r, 200, JSON_TYPE, &b);
}

/* On the committer thread: must not block. */
static void call_done(struct evd_submission *s, int rc, uint64_t first)
{
    struct evd_api_call *c = (struct evd_api_call *)s;
    struct evd_response r = {0};
    evd_api_done_fn done = c->done;
    void *ctx = c->ctx;

    /* The committer counted the events (or the storage rejects) by submission.source. */
    if (rc == 0) {
        reply_written(c, first, &r);
    } else if (rc == EV_EJSON || rc == EV_EFORMAT || rc == EV_ETOOBIG) {
        /* The log refused an event intake let through: the request's fault, not storage's. */
        evd_api_error(&r, 400, "an event was refused by the log: %s", ev_strerror(rc));
    } else {
        write_error(c->d, &r, rc);
    }
    /* The answer first: freeing 100 events' buffers is not the producer's wait. */
    done(ctx, &r);
    call_free(c);
}

static bool content_type_json(const char *content_type)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    if (content_type == NULL) {
        return true;
    }
    while (*content_type == ' ' || *content_type == '\t') {
        content_type++;
    }
    if (strncasecmp(content_type, json, n) != 0) {
        return false;
    }
    /* Parameters (charset=utf-8) may follow; nothing else may. */
    content_type += n;
    while (*content_type == ' ' || *content_type == '\t') {
        content_type++;
    }
    return *content_type == '\0' || *content_type == ';';
}

/* The source every entry written through HTTP gets: canonical JSON, keys sorted. */
static char *transport_source(const char *peer, const char *token_id)
{
    struct evd_buf b = {0};

    evd_buf_str(&b, "{\"peer\":");
    evd_buf_json_string(&b, peer, strnlen(peer, 64));
    evd_buf_str(&b, ",\"token\":");
    evd_buf_json_string(&b, token_id, strlen(token_id));
    evd_buf_str(&b, ",\"transport\":\"http\"}");
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

struct write_limits {
    uint64_t batch_max;
    uint64_t max_request_bytes;
};

/*
 * POST /v1/events[/TYPE]. The caller checked the role. Returns 1 (answered
 * in *r) or 0 (queued: call_done answers).
 */
static int handle_write(struct evd *d, const struct evd_request *q, const char *type_override,
                        const char *token_id, const struct write_limits *limits,
                        evd_api_done_fn done, void *ctx, struct evd_response *r)
{
    struct evd_api_call *c = NULL;
    struct span *spans = NULL;
    bool single = false;
    size_t bad_at;
    long count;
    int rc;

    if (atomic_load(&d->stopping)) {
        evd_api_error(r, 503, "stopping: not accepting events");
        return 1;
    }
    if (d->commit == NULL || !atomic_load(&d->ready)) {
        evd_api_error(r, 503, "starting: not accepting events yet");
        return 1;
    }
    if (!content_type_json(q->content_type)) {
        count_reject(d, EVD_REJ_MALFORMED, 1);
        evd_api_error(r, 415, "content type must be application/json");
        return 1;
    }
    if (q->body_len > limits->max_request_bytes) {
        count_reject(d, EVD_REJ_TOO_BIG, 1);
        evd_api_error(r, 413, "request body over %" PRIu64 " bytes (server.max_request_bytes)",
                      limits->max_request_bytes);
        return 1;
    }
    if (q->body == NULL || q->body_len == 0) {
        count_reject(d, EVD_REJ_MALFORMED, 1);
        evd_api_error(r, 400, "body: empty: expected an event object or an array of them");
        return 1;
    }
    bad_at = utf8_invalid_at(q->body, q->body_len);
    if (bad_at != SIZE_MAX) {
        count_reject(d, EVD_REJ_MALFORMED, 1);
        evd_api_error(r, 400, "body: invalid UTF-8 at byte %zu", bad_at);
        return 1;
    }

    /* An object takes at least 2 bytes and a separator: this bounds the span array. */
    uint64_t max_events = limits->batch_max;
    size_t span_cap = q->body_len / 3 + 1;
    if (span_cap > max_events) {
        span_cap = (size_t)max_events;
    }
    spans = calloc(span_cap + 1, sizeof(*spans));
    if (spans == NULL) {
        reply_oom(r);
        return 1;
    }
    count = split_events(q->body, q->body_len, max_events, span_cap + 1, &single, spans, r);
    if (count < 0) {
        count_reject(d, r->status == 413 ? EVD_REJ_TOO_BIG : EVD_REJ_MALFORMED, 1);
        goto answered;
    }
    if (count == 0) {
        struct evd_buf b = {0};
        evd_buf_str(&b, "{\"dropped\":[],\"indexes\":[]}");
        evd_api_reply(r, 200, JSON_TYPE, &b);
        goto answered;
    }

    c = calloc(1, sizeof(*c));
    if (c != NULL) {
        c->d = d;
        c->done = done;
        c->ctx = ctx;
        c->single = single;
        c->total = (size_t)count;
        c->dropped = calloc((size_t)count, sizeof(*c->dropped));
        c->kept = calloc((size_t)count, sizeof(*c->kept));
        c->claimed = calloc((size_t)count, sizeof(*c->claimed));
        c->transport_source = transport_source(q->peer, token_id);
    }
    if (c == NULL || c->dropped == NULL || c->kept == NULL || c->claimed == NULL ||
        c->transport_source == NULL) {
        reply_oom(r);
        goto answered;
    }
    /* One hold of the configuration for the whole body: a reload waits for its intake. */
    (void)pthread_rwlock_rdlock(&d->config_lock);
    for (size_t i = 0; i < c->total; i++) {
        char err[256] = "";
        struct ev_prepared *slot = &c->kept[c->submission.count];
        rc = evd_intake_json_held(d, q->body + spans[i].start, spans[i].end - spans[i].start,
                                  c->transport_source, type_override, slot, &c->claimed[i], err,
                                  sizeof(err));
        if (rc == EV_DROPPED) {
            c->dropped[i] = true;
            continue;
        }
        if (rc < 0) {
            const char *why = err[0] != '\0' ? err : ev_strerror(rc);
            if (rc == -ENOMEM) {
                reply_oom(r);
            } else if (single) {
                evd_api_error(r, 400, "%s", why);
            } else {
                evd_api_error(r, 400, "events[%zu]: %s", i, why);
            }
            (void)pthread_rwlock_unlock(&d->config_lock);
            count_reject(d, rc == EV_ETOOBIG ? EVD_REJ_TOO_BIG : EVD_REJ_MALFORMED, c->total);
            goto answered;
        }
        c->submission.count++;
    }
    (void)pthread_rwlock_unlock(&d->config_lock);
    if (c->total > c->submission.count) {
        count_reject(d, EVD_REJ_POLICY, c->total - c->submission.count);
    }
    if (c->submission.count == 0) {
        reply_written(c, 0, r);
        goto answered;
    }

    c->submission.events = c->kept;
    c->submission.done = call_done;
    c->submission.source = EVD_SRC_HTTP;
    c->submission.ctx = c;
    rc = evd_commit_submit(d->commit, &c->submission);
    if (rc == 0) {
        free(spans);
        return 0; /* c belongs to the queue until call_done */
    }
    if (rc == -EAGAIN) {
        count_reject(d, EVD_REJ_OVERLOAD, c->submission.count);
        evd_api_error(r, 503, "queue full: try again later");
    } else if (rc == -ESHUTDOWN) {
        evd_api_error(r, 503, "stopping: not accepting events");
    } else {
        count_reject(d, EVD_REJ_STORAGE, c->submission.count);
        write_error(d, r, rc);
    }
answered:
    call_free(c);
    free(spans);
    return 1;
}

/* ---- routes -------------------------------------------------------------- */

enum access {
    ACCESS_PUBLIC = 0,
    ACCESS_READER,
    ACCESS_WRITER,
};

typedef void (*read_fn)(struct evd *d, const struct evd_request *q, const char *arg,
                        struct evd_response *r);

struct route {
    const char *path; /* exact; with tail, a prefix followed by one path segment */
    bool tail;
    bool post; /* the write route; every other one is GET (and HEAD) */
    enum access access;
    bool monitoring; /* also served on monitoring.metrics_listen */
    read_fn read;
};

static const struct route routes[] = {
    {"/v1/events", false, true, ACCESS_WRITER, false, NULL},
    {"/v1/events/", true, true, ACCESS_WRITER, false, NULL},
    {"/v1/checkpoint", false, false, ACCESS_PUBLIC, false, evd_api_checkpoint},
    {"/v1/entries", false, false, ACCESS_READER, false, evd_api_entries},
    {"/v1/entries/", true, false, ACCESS_READER, false, evd_api_entry},
    {"/v1/proof/", true, false, ACCESS_PUBLIC, false, evd_api_proof},
    {"/v1/consistency", false, false, ACCESS_PUBLIC, false, evd_api_consistency},
    {"/v1/summary", false, false, ACCESS_READER, false, evd_api_summary},
    {"/healthz", false, false, ACCESS_PUBLIC, true, evd_api_healthz},
    {"/metrics", false, false, ACCESS_PUBLIC, true, evd_api_metrics},
};

/* The route of path, and in *ret_arg its tail (for tail routes). */
static const struct route *find_route(const char *path, const char **ret_arg)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *rt = &routes[i];
        size_t n = strlen(rt->path);
        if (!rt->tail) {
            if (strcmp(path, rt->path) == 0) {
                *ret_arg = NULL;
                return rt;
            }
        } else if (strncmp(path, rt->path, n) == 0 && path[n] != '\0' &&
                   strchr(path + n, '/') == NULL) {
            *ret_arg = path + n;
            return rt;
        }
    }
    return NULL;
}

/* What the configuration says, copied under the lock. */
struct snapshot {
    enum evd_role role;
    char token_id[EVD_TOKEN_ID_SIZE];
    struct write_limits limits;
    bool metrics, health, metrics_elsewhere;
};

static void take_snapshot(struct evd *d, const struct evd_request *q, struct snapshot *s)
{
    (void)pthread_rwlock_rdlock(&d->config_lock);
    s->role = evd_auth_token(d->auth, q->authorization, s->token_id, sizeof(s->token_id));
    s->limits.batch_max = d->config->performance.batch_max;
    s->limits.max_request_bytes = d->config->server.max_request_bytes;
    s->metrics = d->config->monitoring.metrics;
    s->health = d->config->monitoring.health;
    s->metrics_elsewhere = d->config->monitoring.metrics_listen != NULL;
    (void)pthread_rwlock_unlock(&d->config_lock);
    if (s->limits.batch_max == 0) {
        s->limits.batch_max = 1;
    }
}

/* Whether the route exists for this request, as configured. */
static bool route_enabled(const struct route *rt, const struct evd_request *q,
                          const struct snapshot *s)
{
    if (q->monitoring && !rt->monitoring) {
        return false;
    }
    if (rt->read == evd_api_metrics) {
        return s->metrics && (q->monitoring || !s->metrics_elsewhere);
    }
    if (rt->read == evd_api_healthz) {
        return s->health;
    }
    return true;
}

/*
 * The checks that need no body: route (404), method (405), role (401, 403). Returns 1 with
 * the refusal in *r, or 0 with the route and its tail.
 */
static int check_access(struct evd *d, const struct evd_request *request, const struct snapshot *s,
                        const struct route **ret_route, const char **ret_arg,
                        struct evd_response *r)
{
    const struct route *rt;
    const char *arg = NULL;
    bool get;

    rt = request->path != NULL ? find_route(request->path, &arg) : NULL;
    if (rt == NULL || !route_enabled(rt, request, s)) {
        evd_api_error(r, 404, "no such resource");
        return 1;
    }
    get = request->method != NULL &&
          (strcmp(request->method, "GET") == 0 || strcmp(request->method, "HEAD") == 0);
    if (rt->post ? request->method == NULL || strcmp(request->method, "POST") != 0 : !get) {
        r->allow = rt->post ? "POST" : "GET, HEAD";
        evd_api_error(r, 405, "method not allowed: use %s", rt->post ? "POST" : "GET");
        return 1;
    }
    if (rt->access != ACCESS_PUBLIC && s->role == EVD_ROLE_NONE) {
        count_reject(d, EVD_REJ_UNAUTHORIZED, 1);
        r->authenticate = request->authorization == NULL
                              ? "Bearer realm=\"evidentd\""
                              : "Bearer realm=\"evidentd\", error=\"invalid_token\"";
        evd_api_error(r, 401,
                      request->authorization == NULL ? "authorization required" : "invalid token");
        return 1;
    }
    if (rt->access == ACCESS_WRITER && s->role != EVD_ROLE_WRITER) {
        count_reject(d, EVD_REJ_FORBIDDEN, 1);
        evd_api_error(r, 403, "this token may not write");
        return 1;
    }
    *ret_route = rt;
    *ret_arg = arg;
    return 0;
}

int evd_api_admit(struct evd *d, const struct evd_request *request,
                  struct evd_response *ret_response)
{
    const struct route *rt;
    const char *arg;
    struct snapshot s = {0};

    *ret_response = (struct evd_response){0};
    take_snapshot(d, request, &s);
    return check_access(d, request, &s, &rt, &arg, ret_response);
}

int evd_api_handle(struct evd *d, const struct evd_request *request, evd_api_done_fn done,
                   void *ctx, struct evd_response *ret_response)
{
    struct evd_response *r = ret_response;
    const struct route *rt = NULL;
    const char *arg = NULL;
    struct snapshot s = {0};

    *r = (struct evd_response){0};
    take_snapshot(d, request, &s);
    /* Again, after evd_api_admit: a reload may have changed the tokens since the headers. */
    if (check_access(d, request, &s, &rt, &arg, r) == 1) {
        return 1;
    }
    if (rt->post) {
        if (arg != NULL && strlen(arg) > 64) { /* FORMAT.md §5: types are 1..64 characters */
            count_reject(d, EVD_REJ_MALFORMED, 1);
            evd_api_error(r, 400, "type: longer than 64 characters");
            return 1;
        }
        return handle_write(d, request, arg, s.token_id, &s.limits, done, ctx, r);
    }
    /* disk.c may reopen the log after a full disk: reads hold it meanwhile. */
    (void)pthread_rwlock_rdlock(&d->log_lock);
    if (d->log == NULL && rt->read != evd_api_healthz && rt->read != evd_api_metrics) {
        evd_api_error(r, 503, "the log is being reopened after a full disk");
    } else {
        rt->read(d, request, arg, r);
    }
    (void)pthread_rwlock_unlock(&d->log_lock);
    return 1;
}
