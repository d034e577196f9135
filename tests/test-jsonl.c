/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON event in (include/evident/jsonl.h): exact events for good lines, by
 * the fast reader and by jansson; canonical source and data; every error
 * message with its code, the buffer left as it was; hostile lines (over-long,
 * invalid UTF-8, deep nesting, duplicate keys, not an object, truncated, NUL
 * bytes); offsets that survive the buffer's growth; and what the library's
 * prepare makes of a line the reader hands on unchecked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <evident/error.h>
#include <evident/event.h>
#include <evident/jsonl.h>
#include <evident/log.h>

#include "ingest/jsonl-internal.h" /* src/lib */
#include "json.h"

/* Reads text (NUL-terminated, so no NUL inside) with ev_jsonl_read() into a fresh buffer. */
struct reading {
    struct ev_jsonl_buffer *buffer;
    int r;    /* ev_jsonl_read()'s result */
    int fast; /* ev_jsonl_read_fast()'s, under the same bound */
    struct ev_event event;
};

static struct reading read_len(const char *text, size_t len)
{
    struct reading out = {0};
    struct ev_jsonl_buffer *fast = NULL;
    struct ev_jsonl_event ev, fast_ev;

    assert_int_equal(ev_jsonl_buffer_new(&out.buffer), 0);
    assert_int_equal(ev_jsonl_buffer_new(&fast), 0);
    out.fast = ev_jsonl_read_fast(fast, text, len, SIZE_MAX, &fast_ev);
    if (out.fast == 0) {
        assert_int_equal(ev_jsonl_buffer_size(fast), 0);
    }
    ev_jsonl_buffer_free(fast);
    out.r = ev_jsonl_read(out.buffer, text, len, &ev);
    if (out.r == 1) {
        ev_jsonl_event_get(out.buffer, &ev, &out.event);
    } else {
        assert_int_equal(ev_jsonl_buffer_size(out.buffer), 0);
    }
    return out;
}

static struct reading read_line(const char *text)
{
    return read_len(text, strlen(text));
}

static void done(struct reading *rd)
{
    ev_jsonl_buffer_free(rd->buffer);
}

/* A good line: the event read, and which reader read it (1 = the fast one). */
static void expect_event(const char *line, int fast, const char *type, int severity,
                         const char *source, const char *data)
{
    struct reading rd = read_line(line);

    assert_int_equal(rd.r, 1);
    assert_int_equal(rd.fast, fast);
    assert_string_equal(rd.event.type, type);
    assert_int_equal(rd.event.severity, severity);
    if (source == NULL) {
        assert_null(rd.event.source_json);
    } else {
        assert_string_equal(rd.event.source_json, source);
    }
    if (data == NULL) {
        assert_null(rd.event.data_json);
    } else {
        assert_string_equal(rd.event.data_json, data);
    }
    done(&rd);
}

/* A bad line: code and exact message, and nothing left in the buffer. */
static void expect_error_len(const char *line, size_t len, int code, const char *message)
{
    struct reading rd = read_len(line, len);

    assert_int_equal(rd.fast, 0);
    assert_int_equal(rd.r, code);
    assert_string_equal(ev_last_error(), message);
    done(&rd);
}

static void expect_error(const char *line, int code, const char *message)
{
    expect_error_len(line, strlen(line), code, message);
}

static void test_fast_reader(void **state)
{
    (void)state;
    expect_event("{\"type\":\"custom.a\"}", 1, "custom.a", -1, NULL, NULL);
    /* Canonical source and data: compact, keys sorted at every depth. */
    expect_event("  {\"data\": {\"b\": [1, 2, {\"d\": null, \"c\": true}], \"a\": -5},"
                 " \"severity\": \"warn\", \"source\": {\"z\": 1, \"a\": \"x\"},"
                 " \"type\": \"code_execution\"}\r",
                 1, "code_execution", EV_SEV_WARNING, "{\"a\":\"x\",\"z\":1}",
                 "{\"a\":-5,\"b\":[1,2,{\"c\":true,\"d\":null}]}");
    expect_event("{\"type\":\"custom.a\",\"severity\":\"crit\",\"data\":{}}", 1, "custom.a",
                 EV_SEV_CRITICAL, NULL, "{}");
    /* Plain JSON that is not canonical as it stands is handed on as its text. */
    expect_event("{\"type\":\"custom.a\",\"data\":{ \"x\" : 1.5 }}", 1, "custom.a", -1, NULL,
                 "{ \"x\" : 1.5 }");
    expect_event("{\"type\":\"custom.a\",\"data\":{\"k\":-0}}", 1, "custom.a", -1, NULL,
                 "{\"k\":-0}");
    expect_event("{\"type\":\"custom.a\",\"data\":{\"k\":\"a\\nb\"}}", 1, "custom.a", -1, NULL,
                 "{\"k\":\"a\\nb\"}");
    /* A 64-byte type is the longest. */
    expect_event("{\"type\":\"a123456789012345678901234567890123456789012345678901234567890123\"}",
                 1, "a123456789012345678901234567890123456789012345678901234567890123", -1, NULL,
                 NULL);
}

/*
 * evi_jsonl_read_fast() (evidentd's intake) also says whether the data it
 * hands on is canonical, so that preparing the event need not check again:
 * true for data it rewrote and for no data, false for data it handed on as
 * its text; what it calls canonical is what the library's check says is.
 */
static void expect_canonical(const char *line, bool canonical)
{
    struct ev_jsonl_buffer *b = NULL;
    struct ev_jsonl_event ev;
    struct ev_event e;
    bool said = !canonical;

    assert_int_equal(ev_jsonl_buffer_new(&b), 0);
    assert_int_equal(evi_jsonl_read_fast(b, line, strlen(line), EV_ENTRY_MAX_BYTES, &ev, &said),
                     1);
    assert_int_equal(said, canonical);
    ev_jsonl_event_get(b, &ev, &e);
    if (canonical && e.data_json != NULL) {
        assert_true(evi_json_is_canonical_object(e.data_json, strlen(e.data_json)));
    }
    ev_jsonl_buffer_free(b);
}

static void test_fast_reader_says_canonical(void **state)
{
    (void)state;
    expect_canonical("{\"type\":\"custom.a\"}", true);
    expect_canonical("{\"type\":\"custom.a\",\"data\":{}}", true);
    expect_canonical("{\"type\":\"custom.a\",\"data\":{\"b\":[1,{\"d\":null,\"c\":true}],\"a\":-5}}",
                     true);
    expect_canonical("{\"data\": { \"z\" : \"x\", \"a\" : 1 }, \"type\":\"custom.a\"}", true);
    /* A key that another extends by a byte below '"' comes first (it came after). */
    expect_event("{\"type\":\"custom.a\",\"data\":{\"a \":1,\"a!\":3,\"a\":2,\"b\":4}}", 1,
                 "custom.a", -1, NULL, "{\"a\":2,\"a \":1,\"a!\":3,\"b\":4}");
    expect_canonical("{\"type\":\"custom.a\",\"data\":{\"a \":1,\"a!\":3,\"a\":2}}", true);
    expect_canonical("{\"type\":\"custom.a\",\"data\":{ \"x\" : 1.5 }}", false);
    expect_canonical("{\"type\":\"custom.a\",\"data\":{\"k\":-0}}", false);
    expect_canonical("{\"type\":\"custom.a\",\"data\":{\"k\":\"a\\nb\"}}", false);
}

static void test_jansson_reader(void **state)
{
    (void)state;
    /* What the fast reader is not sure of, jansson reads, writing source and data canonical. */
    expect_event("{\"typ\\u0065\":\"custom.a\"}", 0, "custom.a", -1, NULL, NULL);
    expect_event("{\"type\":\"custom.a\",\"data\":{\"k\":\"\xc3\xa9\",\"b\":1}}", 0, "custom.a", -1,
                 NULL, "{\"b\":1,\"k\":\"\xc3\xa9\"}");
    expect_event("{\"type\":\"custom.a\",\"severity\":\"\\u0064ebug\",\"source\":{\"b\":1e2,"
                 "\"a\":[]}}",
                 0, "custom.a", EV_SEV_DEBUG, "{\"a\":[],\"b\":100.0}", NULL);
    /* A severity by its number, 0..7 (syslog's order). */
    expect_event("{\"type\":\"custom.a\",\"severity\":0}", 0, "custom.a", EV_SEV_EMERGENCY, NULL,
                 NULL);
    expect_event("{\"severity\":7,\"type\":\"custom.a\"}", 0, "custom.a", EV_SEV_DEBUG, NULL, NULL);
    /* DEL (0x7f) is JSON text, but not the fast reader's. */
    expect_event("{\"type\":\"custom.a\",\"data\":{\"k\":\"a\x7f\"}}", 0, "custom.a", -1, NULL,
                 "{\"k\":\"a\x7f\"}");
    /* Deeper than the fast reader goes (32), well within jansson's 2048. */
    char deep[256];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "{\"type\":\"custom.a\",\"data\":{\"a\":");
    memset(deep + n, '[', 40);
    memset(deep + n + 40, ']', 40);
    memcpy(deep + n + 80, "}}", 3);
    char want[128] = "{\"a\":";
    memset(want + 5, '[', 40);
    memset(want + 45, ']', 40);
    memcpy(want + 85, "}", 2);
    expect_event(deep, 0, "custom.a", -1, NULL, want);
}

/* evi_jsonl_read() with evidentd's type from the path: the event, or the exact message. */
static void expect_path(const char *line, const char *path_type, int want_r, const char *want_type,
                        int want_severity, const char *want_data, bool want_canonical,
                        const char *want_message)
{
    struct ev_jsonl_buffer *b = NULL;
    struct ev_jsonl_event ev;
    struct ev_event got;
    bool canonical = !want_canonical;

    assert_int_equal(ev_jsonl_buffer_new(&b), 0);
    assert_int_equal(evi_jsonl_read(b, line, strlen(line), path_type, &ev, &canonical), want_r);
    if (want_r == 1) {
        ev_jsonl_event_get(b, &ev, &got);
        assert_string_equal(got.type, want_type);
        assert_int_equal(got.severity, want_severity);
        if (want_data == NULL) {
            assert_null(got.data_json);
        } else {
            assert_string_equal(got.data_json, want_data);
        }
        assert_int_equal(canonical, want_canonical);
    } else {
        assert_string_equal(ev_last_error(), want_message);
        assert_int_equal(ev_jsonl_buffer_size(b), 0);
    }
    ev_jsonl_buffer_free(b);
}

static void test_path_type(void **state)
{
    (void)state;
    /* The fast reader: no type, or the same one; data canonical. */
    expect_path("{}", "custom.p", 1, "custom.p", -1, NULL, true, NULL);
    expect_path("{\"type\":\"custom.p\",\"data\":{\"b\":1,\"a\":2}}", "custom.p", 1, "custom.p",
                -1, "{\"a\":2,\"b\":1}", true, NULL);
    /* jansson: a numeric severity; its data is not vouched for. */
    expect_path("{\"severity\":4,\"data\":{\"a\":1}}", "custom.p", 1, "custom.p", EV_SEV_WARNING,
                "{\"a\":1}", false, NULL);
    /* Without a path the type is required, with one it must agree. */
    expect_path("{\"data\":{}}", NULL, EV_EJSON, NULL, 0, NULL, false, "type: required");
    expect_path("{\"type\":\"custom.q\"}", "custom.p", EV_EJSON, NULL, 0, NULL, false,
                "type: differs from the type in the path");
    expect_path("{\"type\":\"custom.q\",\"severity\":1}", "custom.p", EV_EJSON, NULL, 0, NULL,
                false, "type: differs from the type in the path");
    /* The path's type is held to the same rule as a line's. */
    expect_path("{}", "seal", EV_EJSON, NULL, 0, NULL, false,
                "type: expected 1-64 of [a-z0-9_.:-] starting with a letter, not \"seal\"");
    expect_path("{}", "Custom.P", EV_EJSON, NULL, 0, NULL, false,
                "type: expected 1-64 of [a-z0-9_.:-] starting with a letter, not \"seal\"");
    /* The line's faults come first. */
    expect_path("{\"bogus\":1}", "custom.p", EV_EJSON, NULL, 0, NULL, false,
                "bogus: unknown key (expected type, severity, source, data)");
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"type\":\"custom.a\",", EV_EJSON,
                 "invalid JSON at column 19: string or '}' expected near end of file");
    expect_error("{\"type\":\"custom.a\",\"data\":{\"k\":", EV_EJSON,
                 "invalid JSON at column 31: unexpected token near end of file");
    expect_error("{\"type\":\"custom.a\",\"type\":\"custom.b\"}", EV_EJSON,
                 "invalid JSON at column 25: duplicate object key near '\"type\"'");
    expect_error("\"str\"", EV_EJSON, "invalid JSON at column 5: '[' or '{' expected near '\"str\"'");
    expect_error("[1,2]", EV_EJSON, "expected a JSON object (an event)");
    expect_error("{}", EV_EJSON, "type: required");
    expect_error("{\"severity\":\"info\"}", EV_EJSON, "type: required");
    static const char type_message[] =
        "type: expected 1-64 of [a-z0-9_.:-] starting with a letter, not \"seal\"";
    expect_error("{\"type\":\"seal\"}", EV_EJSON, type_message);
    expect_error("{\"type\":\"Custom.a\"}", EV_EJSON, type_message);
    expect_error("{\"type\":\"9a\"}", EV_EJSON, type_message);
    expect_error("{\"type\":\"custom a\"}", EV_EJSON, type_message);
    expect_error("{\"type\":5}", EV_EJSON, "type: expected a string");
    expect_error("{\"type\":null}", EV_EJSON, "type: expected a string");
    expect_error("{\"type\":\"\"}", EV_EJSON, type_message);
    expect_error("{\"type\":\"a1234567890123456789012345678901234567890123456789012345678901234\"}",
                 EV_EJSON, type_message);
    static const char severity_message[] = "severity: expected a name (emergency, alert, "
                                           "critical, error, warning, notice, info, debug) or "
                                           "0..7";
    expect_error("{\"type\":\"custom.a\",\"severity\":\"loud\"}", EV_EJSON, severity_message);
    expect_error("{\"type\":\"custom.a\",\"severity\":8}", EV_EJSON, severity_message);
    expect_error("{\"type\":\"custom.a\",\"severity\":-1}", EV_EJSON, severity_message);
    expect_error("{\"type\":\"custom.a\",\"severity\":3.0}", EV_EJSON, severity_message);
    expect_error("{\"type\":\"custom.a\",\"severity\":\"3\"}", EV_EJSON, severity_message);
    expect_error("{\"type\":\"custom.a\",\"severity\":null}", EV_EJSON, severity_message);
    expect_error("{\"type\":\"custom.a\",\"source\":[]}", EV_EJSON,
                 "source: expected a JSON object");
    expect_error("{\"type\":\"custom.a\",\"data\":\"x\"}", EV_EJSON,
                 "data: expected a JSON object");
    expect_error("{\"type\":\"custom.a\",\"extra\":1}", EV_EJSON,
                 "extra: unknown key (expected type, severity, source, data)");
    /* The first fault in the line's order. */
    expect_error("{\"extra\":1,\"type\":5}", EV_EJSON,
                 "extra: unknown key (expected type, severity, source, data)");
    expect_error("{\"type\":5,\"extra\":1}", EV_EJSON, "type: expected a string");
    expect_error("{\"type\":\"seal\",\"extra\":1}", EV_EJSON, type_message);
    expect_error_len("{\"type\":\"custom.a\"}\0", 20, EV_EJSON, "contains a NUL byte");
    expect_error_len("{\"type\":\"cus\0tom.a\"}", 20, EV_EJSON, "contains a NUL byte");
}

static void test_hostile(void **state)
{
    (void)state;
    /* Invalid UTF-8 and lone surrogates anywhere. */
    expect_error("{\"type\":\"custom.a\",\"data\":{\"k\":\"\xff\"}}", EV_EJSON,
                 "invalid JSON at column 32: unable to decode byte 0xff near '\"'");
    expect_error("{\"type\":\"custom.a\" , \"data\":{\"k\":1}}\xe2\x82", EV_EJSON,
                 "invalid JSON at column 36: unable to decode byte 0xe2");
    expect_error("{\"type\":\"custom.a\",\"data\":{\"k\":\"\\ud800\"}}", EV_EJSON,
                 "invalid JSON at column 39: invalid Unicode '\\uD800' near '\"\\ud800\"'");
    expect_error("{\"type\":\"custom.\xc3\xa9\"}", EV_EJSON,
                 "type: expected 1-64 of [a-z0-9_.:-] starting with a letter, not \"seal\"");
    /* Numbers jansson cannot hold. */
    expect_error("{\"type\":\"custom.a\",\"data\":{\"k\":1e400}}", EV_EJSON,
                 "invalid JSON at column 36: real number overflow near '1e400'");
    expect_error("{\"type\":\"custom.a\",\"data\":{\"k\":12345678901234567890}}", EV_EJSON,
                 "invalid JSON at column 51: too big integer near '12345678901234567890'");

    /* Nesting past jansson's limit. */
    size_t n = 3000;
    char *deep = malloc(64 + 2 * n);
    assert_non_null(deep);
    size_t len = (size_t)snprintf(deep, 64, "{\"type\":\"custom.a\",\"data\":");
    memset(deep + len, '[', n);
    memset(deep + len + n, ']', n);
    memcpy(deep + len + 2 * n, "}", 2);
    expect_error(deep, EV_EJSON,
                 "invalid JSON at column 2074: maximum parsing depth reached near '['");
    free(deep);

    /* The sender's key in a message: its first 64 bytes, control characters as '?'. */
    char key_line[1100];
    len = (size_t)snprintf(key_line, sizeof(key_line), "{\"type\":\"custom.a\",\"\\u001b[2J");
    memset(key_line + len, 'k', 1000);
    memcpy(key_line + len + 1000, "\":1}", 5);
    struct reading rd = read_line(key_line);
    assert_int_equal(rd.r, EV_EJSON);
    char want_key[128];
    (void)snprintf(want_key, sizeof(want_key),
                   "?[2J%.60s: unknown key (expected type, severity, source, data)", key_line + len);
    assert_string_equal(ev_last_error(), want_key);
    done(&rd);
    /* Cut at a character's end, never inside one (2-byte é, 63 bytes then one more); a C1 control
     * (U+009B, the terminal's CSI) as '?'. */
    char utf8_line[256];
    len = (size_t)snprintf(utf8_line, sizeof(utf8_line), "{\"type\":\"custom.a\",\"\xc2\x9b");
    for (int i = 0; i < 40; i++) {
        memcpy(utf8_line + len, "\xc3\xa9", 2);
        len += 2;
    }
    memcpy(utf8_line + len, "\":1}", 5);
    rd = read_line(utf8_line);
    assert_int_equal(rd.r, EV_EJSON);
    char want_utf8[256] = "?";
    for (int i = 0; i < 31; i++) {
        strcat(want_utf8, "\xc3\xa9"); /* 1 + 31 * 2 = 63 bytes: a 32nd would make 65 */
    }
    strcat(want_utf8, ": unknown key (expected type, severity, source, data)");
    assert_string_equal(ev_last_error(), want_utf8);
    done(&rd);

    /* Duplicate keys inside data are the library's to find: handed on, then refused. */
    rd = read_line("{\"type\":\"custom.a\",\"data\":{\"k\":1,\"k\":2}}");
    assert_int_equal(rd.r, 1);
    assert_int_equal(rd.fast, 1);
    assert_string_equal(rd.event.data_json, "{\"k\":1,\"k\":2}");
    struct ev_prepared prepared;
    assert_int_equal(ev_event_prepare(NULL, &rd.event, &prepared), EV_EJSON);
    done(&rd);
}

static void test_blank_lines(void **state)
{
    (void)state;
    static const char *const blanks[] = {"", " ", "\t \r", "\r"};
    for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
        struct reading rd = read_line(blanks[i]);
        assert_int_equal(rd.r, 0);
        assert_int_equal(rd.fast, 0);
        done(&rd);
    }
    /* A newline is the caller's framing, not a blank. */
    expect_error("\n", EV_EJSON, "invalid JSON at column 0: '[' or '{' expected near end of file");
}

static void test_bounds(void **state)
{
    (void)state;
    /* A line of exactly EV_JSONL_LINE_MAX bytes is read; one more is too long. */
    char *line = malloc(EV_JSONL_LINE_MAX + 1);
    assert_non_null(line);
    static const char event[] = "{\"type\":\"custom.a\"}";
    memcpy(line, event, sizeof(event) - 1);
    memset(line + sizeof(event) - 1, ' ', EV_JSONL_LINE_MAX + 1 - (sizeof(event) - 1));
    struct reading rd = read_len(line, EV_JSONL_LINE_MAX);
    assert_int_equal(rd.r, 1);
    assert_string_equal(rd.event.type, "custom.a");
    done(&rd);
    rd = read_len(line, EV_JSONL_LINE_MAX + 1);
    assert_int_equal(rd.r, EV_ETOOBIG);
    assert_string_equal(ev_last_error(), "longer than 1048576 bytes");
    done(&rd);

    /*
     * No bound on the event's text short of the line's: preparing it decides
     * the entry's size (a code_execution keeps a long stdout as a digest).
     */
    size_t n = 200000;
    int len = snprintf(line, EV_JSONL_LINE_MAX, "{\"type\":\"custom.a\",\"data\":{\"k\":\"%0*d\"}}",
                       (int)n, 0);
    assert_true(len > 0);
    rd = read_len(line, (size_t)len);
    assert_int_equal(rd.r, 1);
    assert_int_equal(rd.fast, 1);
    assert_int_equal(strlen(rd.event.data_json), n + 8);
    struct ev_prepared prepared;
    assert_int_equal(ev_event_prepare(NULL, &rd.event, &prepared), EV_ETOOBIG);
    done(&rd);
    free(line);

    /* The fast reader alone, under a caller's bound: not sure above it. */
    struct ev_jsonl_buffer *b = NULL;
    struct ev_jsonl_event ev;
    assert_int_equal(ev_jsonl_buffer_new(&b), 0);
    static const char small[] = "{\"type\":\"custom.a\",\"data\":{\"k\":12}}";
    assert_int_equal(ev_jsonl_read_fast(b, small, sizeof(small) - 1, 8, &ev), 0);
    assert_int_equal(ev_jsonl_buffer_size(b), 0);
    assert_int_equal(ev_jsonl_read_fast(b, small, sizeof(small) - 1, 9, &ev), 1);
    assert_int_equal(ev.source, EV_JSONL_ABSENT);
    assert_int_equal(ev.data, 0);
    ev_jsonl_buffer_free(b);
}

/* Many events in one buffer: offsets survive its growth, failures add nothing. */
static void test_buffer(void **state)
{
    (void)state;
    struct ev_jsonl_buffer *b = NULL;
    enum { COUNT = 2000 };
    struct ev_jsonl_event *events = calloc(COUNT, sizeof(*events));
    char line[1200], want[1200];

    assert_non_null(events);
    assert_int_equal(ev_jsonl_buffer_new(&b), 0);
    assert_int_equal(ev_jsonl_buffer_size(b), 0);
    for (int i = 0; i < COUNT; i++) {
        int len = snprintf(line, sizeof(line),
                           "{\"type\":\"custom.n%d\",\"data\":{\"pad\":\"%01000d\",\"i\":%d}}", i,
                           i, i);
        size_t before = ev_jsonl_buffer_size(b);
        assert_int_equal(ev_jsonl_read(b, "{\"type\":\"x\",\"bad\":1}", 20, &events[i]), EV_EJSON);
        assert_int_equal(ev_jsonl_read(b, "{\"type\":", 8, &events[i]), EV_EJSON);
        assert_int_equal(ev_jsonl_buffer_size(b), before);
        assert_int_equal(ev_jsonl_read(b, line, (size_t)len, &events[i]), 1);
    }
    assert_true(ev_jsonl_buffer_size(b) > COUNT * 1000);
    for (int i = 0; i < COUNT; i++) {
        struct ev_event e;
        ev_jsonl_event_get(b, &events[i], &e);
        (void)snprintf(line, sizeof(line), "custom.n%d", i);
        (void)snprintf(want, sizeof(want), "{\"i\":%d,\"pad\":\"%01000d\"}", i, i);
        assert_string_equal(e.type, line);
        assert_string_equal(e.data_json, want);
        assert_null(e.source_json);
        assert_int_equal(e.severity, -1);
    }
    ev_jsonl_buffer_clear(b);
    assert_int_equal(ev_jsonl_buffer_size(b), 0);
    assert_int_equal(ev_jsonl_read(b, "{\"type\":\"custom.z\"}", 19, &events[0]), 1);
    assert_int_equal(events[0].type, 0);
    /* Arguments: an empty line may be NULL; nothing else may. */
    assert_int_equal(ev_jsonl_read(b, NULL, 0, &events[1]), 0);
    assert_int_equal(ev_jsonl_read_fast(b, NULL, 0, 100, &events[1]), 0);
    assert_int_equal(ev_jsonl_read(b, NULL, 1, &events[1]), -EINVAL);
    assert_string_equal(ev_last_error(), "ev_jsonl_read: NULL argument");
    assert_int_equal(ev_jsonl_read_fast(b, NULL, 1, 100, &events[1]), -EINVAL);
    assert_int_equal(ev_jsonl_read(NULL, "{}", 2, &events[1]), -EINVAL);
    assert_int_equal(ev_jsonl_read(b, "{}", 2, NULL), -EINVAL);
    assert_int_equal(ev_jsonl_read_fast(NULL, "{}", 2, 100, &events[1]), -EINVAL);
    assert_int_equal(ev_jsonl_buffer_size(b), 9);
    ev_jsonl_buffer_free(b);
    ev_jsonl_buffer_free(NULL);
    free(events);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_reader),
        cmocka_unit_test(test_fast_reader_says_canonical),  cmocka_unit_test(test_jansson_reader),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_blank_lines),  cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_buffer),       cmocka_unit_test(test_path_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
