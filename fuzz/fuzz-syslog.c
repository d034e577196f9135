/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: syslog in (src/lib/syslog/): TCP framing, the RFC 5424 /
 * RFC 3164 parser and the `syslog` event, the path every byte a network
 * sender writes to evidentd takes (docs/INGEST.md, "Syslog").
 *
 * Input:
 *
 *     byte 0       bits 0-1 the level (0 minimal, 1 basic, 2 comprehensive, 3 basic);
 *                  bit 2 sanitization off; bits 3-7 the framing limit, 16 << (bits % 13)
 *                  bytes (small limits reach the too-big paths)
 *     the rest     a TCP stream, framed by ev_syslog_frame(); also parsed whole as one
 *                  datagram
 *
 * Invariants beyond "no crash, no leak" (a violation is __builtin_trap()):
 *  - framing returns 1, 0, EV_ETOOBIG or EV_EFORMAT; a message lies inside the buffer, is at
 *    most the limit, and what is consumed lies inside the buffer and moves on;
 *  - parsing returns 0, EV_EFORMAT (with "byte N: " naming a byte inside the input) or
 *    EV_ETOOBIG; on success every span lies inside the input, header fields are printable
 *    US-ASCII within their limits, facility and severity are in range;
 *  - preparing a parsed message succeeds (the policies keep everything) with type "syslog",
 *    the message's severity, and data that is one canonical JSON object (jansson,
 *    duplicates rejected, writes back the same bytes) within EV_ENTRY_MAX_BYTES whose
 *    "format" and "facility" are the message's; "redacted" is there exactly when counted,
 *    never with sanitization off;
 *  - ev_syslog_prepare() (which hands validation the lengths of the strings it copied) gives
 *    the result, message, severity, redacted count and bytes of the same message built by
 *    hand as a struct ev_syslog_event (each span copied a byte at a time, a NUL as U+FFFD)
 *    through ev_syslog_event_prepare(), which measures them; the structured data is left out
 *    of this comparison (its JSON is built inside ev_syslog_prepare() and given to both ways
 *    alike), as tests/test-syslog.c's test_prepare_known_lengths does; and the same for one
 *    header field (picked by the message's length) at its limit or one byte over.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/policy.h>
#include <evident/syslog.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* [level][sanitize]: built once, immutable, as the daemon shares them. */
static struct ev_policy *policies[3][2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int level = 0; level < 3; level++) {
        for (int sanitize = 0; sanitize < 2; sanitize++) {
            struct ev_config *config = NULL;
            CHECK(ev_config_defaults(&config) == 0);
            config->levels.default_level = (enum ev_level)level;
            config->privacy.sanitize = sanitize != 0;
            CHECK(ev_policy_new(config, &policies[level][sanitize]) == 0);
            ev_config_free(config);
        }
    }
    return 0;
}

/* ascii: printable US-ASCII, 33..126 (a lowest of 32 lets RFC 3164 timestamps have spaces). */
static void span_inside(struct ev_syslog_span s, const char *text, size_t len, size_t max,
                        bool ascii, unsigned char lowest)
{
    if (s.ptr == NULL) {
        CHECK(s.len == 0);
        return;
    }
    CHECK(s.len > 0 && s.len <= max);
    CHECK(s.ptr >= text && s.ptr + s.len <= text + len);
    for (size_t i = 0; ascii && i < s.len; i++) {
        CHECK((unsigned char)s.ptr[i] >= lowest && (unsigned char)s.ptr[i] <= 126);
    }
}

static void check_event(const struct ev_policy *policy, bool sanitize,
                        const struct ev_syslog_message *m)
{
    struct ev_prepared p;
    int r = ev_syslog_prepare(policy, m, NULL, &p);
    CHECK(r == 0);
    CHECK(!p.dropped);
    CHECK(strcmp(p.event.type, "syslog") == 0);
    CHECK(p.event.severity == m->severity);
    const char *text = p.event.data_json;
    CHECK(text != NULL && strlen(text) <= EV_ENTRY_MAX_BYTES);
    json_error_t jerr;
    json_t *data = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(json_is_object(data));
    char *again = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(again != NULL && strcmp(again, text) == 0);
    free(again);
    const char *format = json_string_value(json_object_get(data, "format"));
    CHECK(format != NULL &&
          strcmp(format, m->format == EV_SYSLOG_RFC5424 ? "rfc5424" : "rfc3164") == 0);
    const char *facility = json_string_value(json_object_get(data, "facility"));
    CHECK(facility != NULL && strcmp(facility, ev_syslog_facility_name(m->facility)) == 0);
    json_t *redacted = json_object_get(data, "redacted");
    CHECK((redacted != NULL) == (p.redacted > 0));
    CHECK(redacted == NULL || (json_integer_value(redacted) == (json_int_t)p.redacted));
    CHECK(sanitize || p.redacted == 0);
    json_t *sd = json_object_get(data, "structured_data");
    CHECK(sd == NULL || json_is_object(sd));
    json_decref(data);
    ev_prepared_release(&p);
}

/*
 * A span copied as ev_syslog_prepare() documents it, a byte at a time: a NUL becomes U+FFFD,
 * the copy stops before a character that would take it past max bytes (its NUL aside).
 */
static const char *copy_reference(char **cursor, struct ev_syslog_span s, size_t max)
{
    if (s.ptr == NULL) {
        return NULL;
    }
    char *start = *cursor, *out = start;
    for (size_t i = 0; i < s.len && (size_t)(out - start) + 3 <= max; i++) {
        if (s.ptr[i] == '\0') {
            memcpy(out, "\xEF\xBF\xBD", 3);
            out += 3;
        } else {
            *out++ = s.ptr[i];
        }
    }
    *out++ = '\0';
    *cursor = out;
    return start;
}

/* ev_syslog_prepare() against ev_syslog_event_prepare() of the event built by hand. */
static void check_known_lengths(const struct ev_policy *policy, const struct ev_syslog_message *m)
{
    struct ev_syslog_message plain = *m;
    const struct ev_syslog_span *spans[] = {&plain.timestamp, &plain.hostname, &plain.app_name,
                                            &plain.procid,    &plain.msgid,    &plain.msg};
    size_t total = 0;
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
        total += 3 * spans[i]->len + 1;
    }
    char *strings = malloc(total);
    CHECK(strings != NULL);
    char *cursor = strings;
    struct ev_syslog_event e = {
        .common = {.severity = EV_SOME_INT(m->severity)},
        .format = m->format,
        .facility = EV_SYSLOG_FACILITY(m->facility),
    };
    e.timestamp = copy_reference(&cursor, plain.timestamp, SIZE_MAX);
    e.hostname = copy_reference(&cursor, plain.hostname, SIZE_MAX);
    e.app_name = copy_reference(&cursor, plain.app_name, SIZE_MAX);
    e.procid = copy_reference(&cursor, plain.procid, SIZE_MAX);
    e.msgid = copy_reference(&cursor, plain.msgid, SIZE_MAX);
    e.message = copy_reference(&cursor, plain.msg, EV_SYSLOG_MAX_BYTES);

    struct ev_prepared fast, reference;
    char message[1024];
    int r = ev_syslog_event_prepare(policy, &e, &reference);
    (void)snprintf(message, sizeof(message), "%s", r < 0 ? ev_last_error() : "");
    CHECK(ev_syslog_prepare(policy, &plain, NULL, &fast) == r);
    if (r < 0) {
        CHECK(strncmp(message, ev_last_error(), sizeof(message) - 1) == 0);
    } else {
        CHECK(fast.dropped == reference.dropped && fast.redacted == reference.redacted);
        CHECK(fast.event.severity == reference.event.severity);
        CHECK(fast.dropped || strcmp(fast.event.data_json, reference.event.data_json) == 0);
        ev_prepared_release(&fast);
        ev_prepared_release(&reference);
    }
    free(strings);
}

/*
 * check_known_lengths() on the message without its structured data, and on one variant of it
 * whose header field k is at its limit or one byte over (random mutation seldom makes a
 * field exactly that long): which one, or none, by the message's length, so that every
 * field at both lengths comes up across inputs for the cost of one more comparison.
 */
static void check_known_lengths_and_limits(const struct ev_policy *policy,
                                           const struct ev_syslog_message *m, size_t len)
{
    static const char filler[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";
    _Static_assert(sizeof(filler) > EV_SYSLOG_MAX_HOSTNAME + 1, "a field one byte over");
    static const size_t limits[5] = {EV_SYSLOG_MAX_TIMESTAMP, EV_SYSLOG_MAX_HOSTNAME,
                                     EV_SYSLOG_MAX_APP_NAME, EV_SYSLOG_MAX_PROCID,
                                     EV_SYSLOG_MAX_MSGID};
    struct ev_syslog_message plain = *m;
    plain.structured_data = (struct ev_syslog_span){NULL, 0};
    check_known_lengths(policy, &plain);

    size_t pick = len % 11;
    if (pick == 0) {
        return;
    }
    struct ev_syslog_span *spans[5] = {&plain.timestamp, &plain.hostname, &plain.app_name,
                                       &plain.procid, &plain.msgid};
    size_t k = (pick - 1) % 5;
    *spans[k] = (struct ev_syslog_span){filler, limits[k] + (pick > 5)};
    check_known_lengths(policy, &plain);
}

static void check_message(const struct ev_policy *policy, bool sanitize, const char *text,
                          size_t len)
{
    struct ev_syslog_message m;
    int r = ev_syslog_parse(text, len, &m);
    if (r == EV_EFORMAT) {
        size_t byte = 0;
        CHECK(sscanf(ev_last_error(), "byte %zu: ", &byte) == 1);
        CHECK(byte <= len);
        return;
    }
    if (r == EV_ETOOBIG) {
        CHECK(len > EV_SYSLOG_MAX_BYTES);
        return;
    }
    CHECK(r == 0);
    CHECK(m.format == EV_SYSLOG_RFC5424 || m.format == EV_SYSLOG_RFC3164);
    CHECK(m.facility >= 0 && m.facility <= 23 && m.severity >= 0 && m.severity <= 7);
    span_inside(m.timestamp, text, len, EV_SYSLOG_MAX_TIMESTAMP, true,
                m.format == EV_SYSLOG_RFC3164 ? 32 : 33);
    span_inside(m.hostname, text, len, EV_SYSLOG_MAX_HOSTNAME, true, 33);
    span_inside(m.app_name, text, len, EV_SYSLOG_MAX_APP_NAME, true, 33);
    span_inside(m.procid, text, len, EV_SYSLOG_MAX_PROCID, true, 33);
    span_inside(m.msgid, text, len, EV_SYSLOG_MAX_MSGID, true, 33);
    span_inside(m.structured_data, text, len, len, false, 0);
    span_inside(m.msg, text, len, len, false, 0);
    CHECK(m.format == EV_SYSLOG_RFC5424 || (m.msgid.ptr == NULL && m.structured_data.ptr == NULL));
    check_event(policy, sanitize, &m);
    check_known_lengths_and_limits(policy, &m, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    int level = data[0] & 3;
    bool sanitize = (data[0] & 4) == 0;
    size_t max_bytes = (size_t)16 << ((data[0] >> 3) % 13);
    const struct ev_policy *policy = policies[level == 3 ? 1 : level][sanitize];
    /* A copy of exactly the input's size, so that ASan sees any read past it. */
    size_t len = size - 1;
    char *buf = malloc(len > 0 ? len : 1);
    CHECK(buf != NULL);
    memcpy(buf, data + 1, len);

    check_message(policy, sanitize, buf, len);

    size_t pos = 0;
    while (pos < len) {
        const char *msg = NULL;
        size_t msg_len = 0, used = 0;
        int r = ev_syslog_frame(buf + pos, len - pos, max_bytes, &msg, &msg_len, &used);
        if (r == 0) {
            break;
        }
        if (r == EV_EFORMAT) {
            CHECK(used == 0);
            break; /* a bad octet count: the daemon closes the connection */
        }
        if (r == EV_ETOOBIG) {
            /* Skipped whole: an octet-counted frame may reach past what was read. */
            CHECK(used > max_bytes);
            CHECK(used <= len - pos || (buf[pos] >= '1' && buf[pos] <= '9'));
            if (used >= len - pos) {
                break;
            }
            pos += used;
            continue;
        }
        CHECK(r == 1);
        CHECK(used > 0 && used <= len - pos);
        CHECK(msg_len <= max_bytes);
        CHECK(msg_len == 0 || (msg >= buf + pos && msg + msg_len <= buf + pos + used));
        if (msg_len > 0) {
            check_message(policy, sanitize, msg, msg_len);
        }
        pos += used;
    }
    free(buf);
    return 0;
}
