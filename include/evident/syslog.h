/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syslog in: RFC 5424 and RFC 3164 (BSD) messages, their framing on a TCP
 * stream (RFC 6587: octet counting and newline), and the `syslog` event they
 * become (docs/EVENTS.md).
 *
 * Every function treats its input as hostile: any bytes, any length. Nothing
 * is allocated by the parser; the message's fields point into the input.
 *
 * What is accepted (docs/INGEST.md, "Syslog"):
 *   - RFC 5424: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]", with "-"
 *     for a nil field, structured data "[id p=\"v\" ...]..." (escapes \" \\ \]),
 *     an optional UTF-8 BOM before MSG.
 *   - RFC 3164: "<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG" and the usual
 *     departures real senders make: no HOST, no timestamp, an ISO timestamp
 *     (rsyslog's RFC3339 template), no PID, no colon.
 *   - A missing <PRI> is refused (RFC 3164 §4.3.3 lets a relay add one; we are
 *     the collector and say the message is malformed instead).
 */
#ifndef EVIDENT_SYSLOG_H
#define EVIDENT_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/event.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* The longest message accepted (RFC 5425 asks receivers for at least 2,048). */
#define EV_SYSLOG_MAX_BYTES 65536u

/* Field limits (RFC 5424 §6; the same for RFC 3164's host, tag and pid). */
#define EV_SYSLOG_MAX_TIMESTAMP 32u /* "2003-10-11T22:14:15.003000+00:00" */
#define EV_SYSLOG_MAX_HOSTNAME 255u
#define EV_SYSLOG_MAX_APP_NAME 48u
#define EV_SYSLOG_MAX_PROCID 128u
#define EV_SYSLOG_MAX_MSGID 32u
#define EV_SYSLOG_MAX_SD_NAME 32u /* an SD-ID or a PARAM-NAME */

/*
 * The structured data of an event is kept, whole elements at a time, while
 * its JSON stays within this many bytes; the event then says
 * "structured_data_truncated": true.
 */
#define EV_SYSLOG_MAX_SD_JSON 16384u

enum ev_syslog_format {
    EV_SYSLOG_RFC5424 = 1,
    EV_SYSLOG_RFC3164 = 2,
};

/* Bytes inside the parsed input; ptr NULL and len 0 when absent, nil ("-") or empty. */
struct ev_syslog_span {
    const char *ptr;
    size_t len;
};

/*
 * A parsed message. Every span lies inside the text given to ev_syslog_parse()
 * and is valid as long as that text is. hostname, app_name, procid, msgid and
 * timestamp hold printable US-ASCII only (bytes 33..126; an RFC 3164 timestamp
 * has spaces too: "Nov  7 14:05:40"); structured_data has been checked against
 * RFC 5424's grammar; msg may hold any bytes.
 */
struct ev_syslog_message {
    enum ev_syslog_format format;
    int facility;                    /* 0..23 */
    int severity;                    /* 0..7, enum ev_severity */
    struct ev_syslog_span timestamp; /* as sent */
    struct ev_syslog_span hostname;
    struct ev_syslog_span app_name;        /* RFC 3164: the TAG */
    struct ev_syslog_span procid;          /* RFC 3164: the PID in TAG[PID] */
    struct ev_syslog_span msgid;           /* RFC 5424 only */
    struct ev_syslog_span structured_data; /* RFC 5424 only: the whole SD text */
    struct ev_syslog_span msg;             /* BOM removed; may be any bytes */
};

/*
 * Parses one message (without its framing). Returns 0 and fills
 * *ret_message, or EV_EFORMAT with ev_last_error() saying what is wrong and
 * at which byte, counted from 0 ("byte 1: PRI above 191"), or EV_ETOOBIG
 * above EV_SYSLOG_MAX_BYTES. Trailing CR/LF/NUL are ignored. Allocates
 * nothing; safe from any thread.
 */
int ev_syslog_parse(const char *text, size_t len, struct ev_syslog_message *ret_message);

/* "kern", "user", ..., "local7" (RFC 5424 §6.2.1, named as rsyslog does); NULL out of range. */
const char *ev_syslog_facility_name(int facility);

/*
 * TCP framing (RFC 6587). Looks at the start of a stream buffer and finds the
 * first message: octet counting ("LEN SP MSG", LEN without leading zeros)
 * when the buffer starts with a digit, else up to the next LF (the LF is not
 * part of the message; a CR before it is left for the parser, which ignores
 * it). Returns:
 *   1  a message: *ret_msg and *ret_len point at it, *ret_consumed bytes are used
 *   0  more bytes are needed (nothing consumed)
 *   EV_ETOOBIG  the frame is longer than max_bytes (octet count says so, or no
 *               LF within max_bytes); *ret_consumed says how much to skip. For
 *               octet counting it is the whole frame, count and SP included,
 *               and may be more than len: skip the rest as it arrives, and the
 *               next frame starts after it. For newline framing it is up to and
 *               including the next LF, or all of len (skip up to the next LF).
 *   EV_EFORMAT  a malformed octet count ("0", leading zero, > 9 digits, no SP);
 *               *ret_consumed 0: close the connection.
 * Empty lines ("\n" or "\r\n") are skipped: consumed with *ret_len 0, and 1 returned.
 * ev_last_error() describes EV_ETOOBIG and EV_EFORMAT. Allocates nothing.
 */
int ev_syslog_frame(const char *buf, size_t len, size_t max_bytes, const char **ret_msg,
                    size_t *ret_len, size_t *ret_consumed);

/* ---- the syslog event ------------------------------------------------------ */

/* A facility as the event's enum field holds it: the code + 1, so that 0 means unset. */
#define EV_SYSLOG_FACILITY(code) ((code) + 1)

/*
 * The `syslog` typed event (docs/EVENTS.md), for producers that hold the
 * fields rather than a raw message. Strings are NUL-terminated UTF-8.
 */
struct ev_syslog_event {
    struct ev_common common;          /* severity unset: notice */
    enum ev_syslog_format format;     /* required */
    int facility;                     /* EV_SYSLOG_FACILITY(0..23), 0 = unset */
    const char *hostname;             /* <= 255 bytes */
    const char *app_name;             /* <= 48 bytes */
    const char *procid;               /* <= 128 bytes */
    const char *msgid;                /* <= 32 bytes */
    const char *timestamp;            /* <= 32 bytes, as the sender wrote it */
    const char *structured_data_json; /* {"SD-ID": {"PARAM": "value" or ["v1", "v2"]}} */
    struct ev_opt_bool structured_data_truncated;
    const char *message; /* <= 65536 bytes; cut per level (docs/EVENTS.md) */
};

/*
 * The struct way in, as ev_code_execution_prepare() and ev_audit_code_execution()
 * (event.h): validation naming "syslog.FIELD", the policy, canonical data.
 */
int ev_syslog_event_prepare(const struct ev_policy *policy, const struct ev_syslog_event *e,
                            struct ev_prepared *out);
int ev_audit_syslog_event(struct ev_log *log, const struct ev_policy *policy,
                          const struct ev_syslog_event *e, uint64_t *ret_index);

/*
 * The event for a parsed message: type "syslog", severity the message's, data
 * as in docs/EVENTS.md (format, facility, hostname, app_name, procid, msgid,
 * timestamp, structured_data, message), with policy (NULL = defaults) applied
 * like any typed event: enablement, minimum severity, level, sanitization of
 * the message and the SD values. Structured data becomes
 * {"SD-ID": {"PARAM": "value"}} with its escapes undone; an SD-ID given twice
 * (RFC 5424 forbids it) has its elements merged, and a PARAM given more than
 * once in an SD-ID (RFC 5424 allows it) has its values as an array in the
 * order sent, so no JSON key is ever repeated and nothing is dropped.
 * Invalid UTF-8 and NUL bytes become U+FFFD. source_json is borrowed into
 * out->event (keep it alive until the append). Returns 0 (out->dropped says
 * if the policy dropped it) or a code as ev_event_prepare() does; on failure
 * *out holds nothing to release.
 */
int ev_syslog_prepare(const struct ev_policy *policy, const struct ev_syslog_message *message,
                      const char *source_json, struct ev_prepared *out);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
