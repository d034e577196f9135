/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syslog in: exact parse results for messages captured from util-linux
 * logger 2.38.1 and rsyslog 8 (Debian bookworm) and for the RFC examples;
 * every parse and framing error with its message; TCP framing across reads;
 * the canonical data of the `syslog` event, its levels, structured data with
 * repeated names, sanitization and the policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>
#include <evident/policy.h>
#include <evident/syslog.h>

#include "syslog/syslog-internal.h"
#include "testutil.h"

#define SOURCE "{\"listener\":\"syslog-test\"}"

static struct ev_syslog_message parse_ok(const char *text)
{
    struct ev_syslog_message m;
    memset(&m, 0xA5, sizeof(m));
    tu_ok(ev_syslog_parse(text, strlen(text), &m));
    return m;
}

/* want NULL: the field is absent. Spans must lie inside the input. */
static void span_is(struct ev_syslog_span s, const char *want)
{
    if (want == NULL) {
        assert_null(s.ptr);
        assert_int_equal(s.len, 0);
        return;
    }
    assert_non_null(s.ptr);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0) {
        fail_msg("span '%.*s' != '%s'", (int)s.len, s.ptr, want);
    }
}

struct want {
    enum ev_syslog_format format;
    int facility, severity;
    const char *timestamp, *hostname, *app_name, *procid, *msgid, *sd, *msg;
};

static void parses_as(const char *text, struct want w)
{
    struct ev_syslog_message m = parse_ok(text);
    assert_int_equal(m.format, w.format);
    assert_int_equal(m.facility, w.facility);
    assert_int_equal(m.severity, w.severity);
    span_is(m.timestamp, w.timestamp);
    span_is(m.hostname, w.hostname);
    span_is(m.app_name, w.app_name);
    span_is(m.procid, w.procid);
    span_is(m.msgid, w.msgid);
    span_is(m.structured_data, w.sd);
    span_is(m.msg, w.msg);
}

static void parse_fails(const char *text, size_t len, int code, const char *message)
{
    struct ev_syslog_message m;
    memset(&m, 0x5A, sizeof(m));
    struct ev_syslog_message before = m;
    assert_int_equal(ev_syslog_parse(text, len, &m), code);
    assert_string_equal(ev_last_error(), message);
    assert_memory_equal(&m, &before, sizeof(m)); /* written only on success */
}

/* The data object of the event for text under policy (NULL = defaults). */
static char *event_of(const struct ev_policy *policy, const char *text, size_t len,
                      int *ret_severity)
{
    struct ev_syslog_message m;
    struct ev_prepared p;
    tu_ok(ev_syslog_parse(text, len, &m));
    tu_ok(ev_syslog_prepare(policy, &m, SOURCE, &p));
    assert_false(p.dropped);
    assert_string_equal(p.event.type, "syslog");
    assert_string_equal(p.event.source_json, SOURCE);
    if (ret_severity != NULL) {
        *ret_severity = p.event.severity;
    }
    /* Canonical: what jansson writes for it. */
    json_error_t jerr;
    json_t *j = json_loads(p.event.data_json, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(j);
    char *again = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, p.event.data_json);
    free(again);
    json_decref(j);
    char *data = strdup(p.event.data_json);
    ev_prepared_release(&p);
    return data;
}

static void event_is(const struct ev_policy *policy, const char *text, const char *want)
{
    char *data = event_of(policy, text, strlen(text), NULL);
    assert_string_equal(data, want);
    free(data);
}

static struct ev_policy *policy_with(enum ev_level level, int min_severity)
{
    struct ev_config *c = NULL;
    struct ev_policy *p = NULL;
    tu_ok(ev_config_defaults(&c));
    c->policies[EV_TYPE_SYSLOG].level = (int)level;
    c->policies[EV_TYPE_SYSLOG].min_severity = min_severity;
    tu_ok(ev_policy_new(c, &p));
    ev_config_free(c);
    return p;
}

/* ---- captures of real senders ------------------------------------------------ */

static void test_logger_captures(void **state)
{
    (void)state;
    /* logger --rfc5424 -t myapp -p auth.warning, over UDP */
    parses_as("<36>1 2026-11-27T14:05:33.805500+00:00 vm myapp - - [timeQuality tzKnown=\"1\" "
              "isSynced=\"0\"] hello rfc5424 udp",
              (struct want){EV_SYSLOG_RFC5424, 4, 4, "2026-11-27T14:05:33.805500+00:00", "vm",
                            "myapp", NULL, NULL, "[timeQuality tzKnown=\"1\" isSynced=\"0\"]",
                            "hello rfc5424 udp"});
    /* logger --rfc3164 -t myapp -p local3.err, over UDP */
    parses_as("<155>Nov 27 14:05:33 vm myapp: hello rfc3164 udp",
              (struct want){EV_SYSLOG_RFC3164, 19, 3, "Nov 27 14:05:33", "vm", "myapp", NULL, NULL,
                            NULL, "hello rfc3164 udp"});
    /* logger --rfc5424 -i --msgid ID47 --sd-id exampleSDID@32473 --sd-param ... */
    parses_as("<13>1 2026-11-27T14:05:33.809951+00:00 vm app 13523 ID47 [timeQuality "
              "tzKnown=\"1\" isSynced=\"0\"][exampleSDID@32473 iut=\"3\" "
              "eventSource=\"Application\"] with sd",
              (struct want){EV_SYSLOG_RFC5424, 1, 5, "2026-11-27T14:05:33.809951+00:00", "vm",
                            "app", "13523", "ID47",
                            "[timeQuality tzKnown=\"1\" isSynced=\"0\"][exampleSDID@32473 "
                            "iut=\"3\" eventSource=\"Application\"]",
                            "with sd"});
    /* logger --rfc5424=notq,notime,nohost */
    parses_as("<13>1 - - app - - - bare",
              (struct want){EV_SYSLOG_RFC5424, 1, 5, NULL, NULL, "app", NULL, NULL, NULL, "bare"});
    /* logger's default on a Unix socket: RFC 3164 without a HOSTNAME */
    parses_as("<13>Nov 27 14:05:40 myapp: default unix",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Nov 27 14:05:40", NULL, "myapp", NULL, NULL,
                            NULL, "default unix"});
    /* logger -T --rfc3164 over TCP: the LF of its framing is ignored */
    parses_as("<13>Nov 27 14:05:37 vm myapp: hello rfc3164 tcp\n",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Nov 27 14:05:37", "vm", "myapp", NULL, NULL,
                            NULL, "hello rfc3164 tcp"});
}

static void test_rsyslog_captures(void **state)
{
    (void)state;
    /* omfwd with RSYSLOG_TraditionalForwardFormat */
    parses_as("<38>Nov 27 14:05:50 vm sshd[13877]: Accepted publickey for alice from 10.0.0.1 "
              "port 22 ssh2",
              (struct want){EV_SYSLOG_RFC3164, 4, 6, "Nov 27 14:05:50", "vm", "sshd", "13877", NULL,
                            NULL, "Accepted publickey for alice from 10.0.0.1 port 22 ssh2"});
    /* a TAG without a colon (logger --rfc5424 -t su relayed as traditional) */
    parses_as("<85>Nov 27 14:05:50 vm su password=hunter2 in \"quotes\"",
              (struct want){EV_SYSLOG_RFC3164, 10, 5, "Nov 27 14:05:50", "vm", "su", NULL, NULL,
                            NULL, "password=hunter2 in \"quotes\""});
    /* RSYSLOG_SyslogProtocol23Format: MSG keeps the space the original had after "sshd[13877]:" */
    parses_as("<38>1 2026-11-27T14:05:50+00:00 vm sshd 13877 - -  Accepted publickey for alice "
              "from 10.0.0.1 port 22 ssh2\n",
              (struct want){EV_SYSLOG_RFC5424, 4, 6, "2026-11-27T14:05:50+00:00", "vm", "sshd",
                            "13877", NULL, NULL,
                            " Accepted publickey for alice from 10.0.0.1 port 22 ssh2"});
    parses_as("<85>1 2026-11-27T14:05:50.649062+00:00 vm su - LOGIN [timeQuality tzKnown=\"1\" "
              "isSynced=\"0\"][origin ip=\"10.0.0.1\"] password=hunter2 in \"quotes\"",
              (struct want){EV_SYSLOG_RFC5424, 10, 5, "2026-11-27T14:05:50.649062+00:00", "vm",
                            "su", NULL, "LOGIN",
                            "[timeQuality tzKnown=\"1\" isSynced=\"0\"][origin ip=\"10.0.0.1\"]",
                            "password=hunter2 in \"quotes\""});
    /* an RFC 3339 timestamp in the traditional layout (rsyslog's RSYSLOG_FileFormat) */
    parses_as("<30>2026-11-27T14:05:50.649062+01:00 vm systemd[1]: Started x.",
              (struct want){EV_SYSLOG_RFC3164, 3, 6, "2026-11-27T14:05:50.649062+01:00", "vm",
                            "systemd", "1", NULL, NULL, "Started x."});
}

/* ---- the RFC examples ---------------------------------------------------------- */

static void test_rfc5424_examples(void **state)
{
    (void)state;
    /* §6.5, example 1 (with its BOM) */
    parses_as("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su "
              "root' failed for lonvick on /dev/pts/8",
              (struct want){EV_SYSLOG_RFC5424, 4, 2, "2003-10-11T22:14:15.003Z",
                            "mymachine.example.com", "su", NULL, "ID47", NULL,
                            "'su root' failed for lonvick on /dev/pts/8"});
    /* example 2 */
    parses_as("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
              "make the do-nuts.",
              (struct want){EV_SYSLOG_RFC5424, 20, 5, "2003-08-24T05:14:15.000003-07:00",
                            "192.0.2.1", "myproc", "8710", NULL, NULL,
                            "%% It's time to make the do-nuts."});
    /* example 3 */
    parses_as("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
              "\xEF\xBB\xBF"
              "An application event log entry...",
              (struct want){EV_SYSLOG_RFC5424, 20, 5, "2003-10-11T22:14:15.003Z",
                            "mymachine.example.com", "evntslog", NULL, "ID47",
                            "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                            "eventID=\"1011\"]",
                            "An application event log entry..."});
    /* example 4: no MSG */
    parses_as("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
              "[examplePriority@32473 class=\"high\"]",
              (struct want){EV_SYSLOG_RFC5424, 20, 5, "2003-10-11T22:14:15.003Z",
                            "mymachine.example.com", "evntslog", NULL, "ID47",
                            "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                            "eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
                            NULL});
    /* the smallest message, and PRI 0 and 191 */
    parses_as("<0>1 - - - - - -",
              (struct want){EV_SYSLOG_RFC5424, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL});
    parses_as("<191>1 - - - - - - x",
              (struct want){EV_SYSLOG_RFC5424, 23, 7, NULL, NULL, NULL, NULL, NULL, NULL, "x"});
    /* a leap second, an escaped value, a ']' left unescaped inside the quotes */
    parses_as("<14>1 1990-12-31T23:59:60Z h a p m [x@1 a=\"q\\\"\\\\\\]\" b=\"]\"] m",
              (struct want){EV_SYSLOG_RFC5424, 1, 6, "1990-12-31T23:59:60Z", "h", "a", "p", "m",
                            "[x@1 a=\"q\\\"\\\\\\]\" b=\"]\"]", "m"});
}

static void test_rfc3164_examples(void **state)
{
    (void)state;
    /* §5.4, example 1 */
    parses_as("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
              (struct want){EV_SYSLOG_RFC3164, 4, 2, "Oct 11 22:14:15", "mymachine", "su", NULL,
                            NULL, NULL, "'su root' failed for lonvick on /dev/pts/8"});
    /* example 3: the TAG is "Use" (RFC 3164 says so too) */
    parses_as("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Feb  5 17:32:18", "10.0.0.99", "Use", NULL,
                            NULL, NULL, "the BFG!"});
    /* example 4: what follows a valid timestamp is read as HOSTNAME and TAG */
    parses_as("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the "
              "do-nuts.",
              (struct want){EV_SYSLOG_RFC3164, 20, 5, "Aug 24 05:34:00", "CST", "1987", NULL, NULL,
                            NULL, "mymachine myproc[10]: %% It's time to make the do-nuts."});
    /* example 5: no timestamp we know, so no HOSTNAME either */
    parses_as("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's "
              "All Folks!",
              (struct want){EV_SYSLOG_RFC3164, 0, 0, NULL, NULL, "1990", NULL, NULL, NULL,
                            "Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: "
                            "That's All Folks!"});
    /* no timestamp, a TAG with a PID */
    parses_as("<13>myapp[42]: hi",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, "myapp", "42", NULL, NULL, "hi"});
    /* an invalid date is no timestamp: all of it is read as TAG and MSG */
    parses_as("<13>Nov 31 25:00:00 vm x: y",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, "Nov", NULL, NULL, NULL,
                            "31 25:00:00 vm x: y"});
    /* a day the month does not have, at a valid hour; the last days that exist are dates */
    parses_as("<13>Nov 31 23:00:00 vm x: y",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, "Nov", NULL, NULL, NULL,
                            "31 23:00:00 vm x: y"});
    parses_as("<13>Apr 31 23:00:00 vm x: y",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, "Apr", NULL, NULL, NULL,
                            "31 23:00:00 vm x: y"});
    parses_as("<13>Feb 30 23:00:00 vm x: y",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, "Feb", NULL, NULL, NULL,
                            "30 23:00:00 vm x: y"});
    parses_as("<13>Feb 29 23:00:00 vm x: y", /* no year: February may have 29 */
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Feb 29 23:00:00", "vm", "x", NULL, NULL,
                            NULL, "y"});
    parses_as("<13>Nov 30 23:00:00 vm x: y",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Nov 30 23:00:00", "vm", "x", NULL, NULL,
                            NULL, "y"});
    parses_as("<13>Dec 31 23:00:00 vm x: y",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Dec 31 23:00:00", "vm", "x", NULL, NULL,
                            NULL, "y"});
    /* a PRI and nothing else; a TAG over 48 characters is message */
    parses_as("<13>",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, NULL, NULL, NULL, NULL, NULL});
    const char *long_tag = "<13>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x"; /* 49 a */
    parses_as(long_tag, (struct want){EV_SYSLOG_RFC3164, 1, 5, NULL, NULL, NULL, NULL, NULL, NULL,
                                      long_tag + 4});
    /* an unclosed PID: not a TAG */
    parses_as("<13>Nov 27 14:05:40 vm app[12 x",
              (struct want){EV_SYSLOG_RFC3164, 1, 5, "Nov 27 14:05:40", "vm", NULL, NULL, NULL,
                            NULL, "app[12 x"});
}

/* ---- errors ---------------------------------------------------------------------- */

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"", "byte 0: expected '<' and a priority (PRI)"},
        {"Use the BFG!", "byte 0: expected '<' and a priority (PRI)"},
        {"<>x", "byte 1: PRI: expected a number"},
        {"<1234>x", "byte 1: PRI: more than 3 digits"},
        {"<013>x", "byte 1: PRI: leading zero"},
        {"<00>x", "byte 1: PRI: leading zero"},
        {"<192>x", "byte 1: PRI above 191"},
        {"<13x", "byte 3: PRI: expected '>'"},
        {"<13", "byte 3: PRI: expected '>'"},
        {"<13>1 ", "byte 6: TIMESTAMP: expected YYYY-MM-DDThh:mm:ss"},
        {"<13>1 2003-10-11 22:14:15Z h a p m -",
         "byte 16: TIMESTAMP: expected YYYY-MM-DDThh:mm:ss"},
        {"<13>1 2003-13-11T22:14:15Z h a p m -", "byte 11: TIMESTAMP: month out of range"},
        {"<13>1 2003-10-00T22:14:15Z h a p m -", "byte 14: TIMESTAMP: day out of range"},
        {"<13>1 2003-10-11T24:14:15Z h a p m -", "byte 17: TIMESTAMP: hour out of range"},
        {"<13>1 2003-10-11T22:60:15Z h a p m -", "byte 20: TIMESTAMP: minute out of range"},
        {"<13>1 2003-10-11T22:14:61Z h a p m -", "byte 23: TIMESTAMP: second out of range"},
        {"<13>1 2003-10-11T22:14:15.Z h a p m -",
         "byte 26: TIMESTAMP: expected 1 to 6 digits of a second's fraction"},
        {"<13>1 2003-10-11T22:14:15.1234567Z h a p m -",
         "byte 33: TIMESTAMP: expected 1 to 6 digits of a second's fraction"},
        {"<13>1 2003-10-11T22:14:15 h a p m -", "byte 25: TIMESTAMP: expected 'Z' or an offset"},
        {"<13>1 2003-10-11T22:14:15z h a p m -", "byte 25: TIMESTAMP: expected 'Z' or an offset"},
        {"<13>1 2003-10-11T22:14:15+0100 h a p m -",
         "byte 28: TIMESTAMP: expected an offset +hh:mm or -hh:mm"},
        {"<13>1 2003-10-11T22:14:15+24:00 h a p m -", "byte 26: TIMESTAMP: offset out of range"},
        {"<13>1 2003-10-11T22:14:15ZZ h a p m -", "byte 26: expected a space after TIMESTAMP"},
        {"<13>1 -", "byte 7: expected a space after TIMESTAMP"},
        {"<13>1 - ", "byte 8: the message ends before HOSTNAME"},
        {"<13>1 -  a p m -", "byte 8: HOSTNAME: expected a value or '-'"},
        {"<13>1 - h", "byte 9: the message ends after HOSTNAME"},
        {"<13>1 - h\ta p m -", "byte 9: HOSTNAME: byte 0x09 is not printable US-ASCII"},
        {"<13>1 - h \xC3\xA9 p m -", "byte 10: APP-NAME: expected a value or '-'"},
        {"<13>1 - h aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa p m -",
         "byte 10: APP-NAME: longer than 48 characters"},
        {"<13>1 - h a p mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm -",
         "byte 14: MSGID: longer than 32 characters"},
        {"<13>1 - h a p m", "byte 15: the message ends after MSGID"},
        {"<13>1 - h a p m ", "byte 16: STRUCTURED-DATA: expected '[' or '-'"},
        {"<13>1 - h a p m x", "byte 16: STRUCTURED-DATA: expected '[' or '-'"},
        {"<13>1 - h a p m -x", "byte 17: expected a space before MSG"},
        {"<13>1 - h a p m []", "byte 17: SD-ID: expected a name"},
        {"<13>1 - h a p m [a", "byte 18: SD-ELEMENT: expected ' ' or ']'"},
        {"<13>1 - h a p m [a]x", "byte 19: expected a space before MSG"},
        {"<13>1 - h a p m [a ]", "byte 19: PARAM-NAME: expected a name"},
        {"<13>1 - h a p m [a b]", "byte 20: SD-PARAM: expected '='"},
        {"<13>1 - h a p m [a b=c]", "byte 21: PARAM-VALUE: expected '\"'"},
        {"<13>1 - h a p m [a b=\"c]", "byte 21: PARAM-VALUE: no closing '\"'"},
        {"<13>1 - h a p m [a b=\"c\\\"]", "byte 21: PARAM-VALUE: no closing '\"'"},
        {"<13>1 - h a p m [a b=\"c\"", "byte 24: SD-ELEMENT: expected ' ' or ']'"},
        {"<13>1 - h a p m [a b=\"c\"x]", "byte 24: SD-ELEMENT: expected ' ' or ']'"},
        {"<13>1 - h a p m [a  b=\"c\"]", "byte 19: PARAM-NAME: expected a name"},
        {"<13>1 - h a p m [a=b]", "byte 18: SD-ELEMENT: expected ' ' or ']'"},
        {"<13>1 - h a p m [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]",
         "byte 17: SD-ID: longer than 32 characters"},
        {"<13>1 - h a p m [a bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=\"\"]",
         "byte 19: PARAM-NAME: longer than 32 characters"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_fails(cases[i].text, strlen(cases[i].text), EV_EFORMAT, cases[i].message);
    }
}

static void test_parse_limits(void **state)
{
    (void)state;
    /* Trailing CR, LF and NUL are not part of the message. */
    static const char crlf[] = "<13>1 - - - - - - hi\r\n\0";
    struct ev_syslog_message m;
    tu_ok(ev_syslog_parse(crlf, sizeof(crlf), &m));
    span_is(m.msg, "hi");
    /* NUL inside the message is kept (the event writes U+FFFD). */
    static const char nul[] = "<13>1 - - - - - - a\0b";
    tu_ok(ev_syslog_parse(nul, sizeof(nul) - 1, &m));
    assert_int_equal(m.msg.len, 3);

    size_t max = EV_SYSLOG_MAX_BYTES;
    char *big = malloc(max + 2);
    assert_non_null(big);
    memcpy(big, "<13>1 - - - - - - ", 18);
    memset(big + 18, 'x', max + 2 - 18);
    tu_ok(ev_syslog_parse(big, max, &m));
    assert_int_equal(m.msg.len, max - 18);
    big[max] = '\n';
    tu_ok(ev_syslog_parse(big, max + 1, &m)); /* the LF does not count */
    big[max] = 'x';
    parse_fails(big, max + 1, EV_ETOOBIG, "syslog message of 65537 bytes, over the limit of 65536");
    free(big);
    assert_int_equal(ev_syslog_parse(NULL, 0, &m), EV_EFORMAT);
}

/*
 * The TIMESTAMP's fixed shapes ("DDDD-DD-DDTDD:DD:DD", the offset's "DD:DD")
 * are tested a byte at a time or all at once: every byte of them replaced by
 * every other byte value is refused naming that byte when it breaks the
 * shape, and a digit for a digit never is; every cut of the message is
 * refused (the shape then runs past the end).
 */
static void test_timestamp_shape(void **state)
{
    (void)state;
    static const char base[] = "<13>1 2003-10-11T22:14:15.003+05:00 h a p m -";
    static const char date_shape[] = "DDDD-DD-DDTDD:DD:DD";
    const size_t at = 6, offset_at = 6 + 23 + 1; /* the date; the offset after its sign */
    char text[sizeof(base)], want[128];
    struct ev_syslog_message m;
    for (size_t k = 0; k < 19 + 5; k++) {
        size_t pos = k < 19 ? at + k : offset_at + (k - 19);
        char shape = k < 19 ? date_shape[k] : "DD:DD"[k - 19];
        for (int b = 0; b < 256; b++) {
            memcpy(text, base, sizeof(base));
            text[pos] = (char)b;
            bool digit = b >= '0' && b <= '9';
            bool breaks = shape == 'D' ? !digit : b != shape;
            if (k == 0 && b == '-') {
                continue; /* the NILVALUE, then not a space */
            }
            int r = ev_syslog_parse(text, sizeof(base) - 1, &m);
            if (breaks) {
                (void)snprintf(want, sizeof(want), "byte %zu: TIMESTAMP: %s", pos,
                               k < 19 ? "expected YYYY-MM-DDThh:mm:ss"
                                      : "expected an offset +hh:mm or -hh:mm");
                if (r != EV_EFORMAT || strcmp(ev_last_error(), want) != 0) {
                    fail_msg("byte %zu = %d: %d %s, want %s", pos, b, r, ev_last_error(), want);
                }
            } else if (r < 0) {
                /* A digit for a digit: at most a field out of range, never the shape. */
                assert_null(strstr(ev_last_error(), "expected"));
            }
        }
    }
    for (size_t len = at; len < sizeof(base) - 1; len++) {
        assert_int_equal(ev_syslog_parse(base, len, &m), EV_EFORMAT);
    }
    tu_ok(ev_syslog_parse(base, sizeof(base) - 1, &m));
}

/*
 * A header field's printable run is found 16 bytes at a time: a HOSTNAME of
 * every length to 70 with one byte of every class (NUL, control, space, DEL,
 * 8-bit, printable) at every place gives what the byte-at-a-time definition
 * of PRINTUSASCII says: the field up to that byte, or the error naming it.
 */
static void test_header_field_scan(void **state)
{
    (void)state;
    static const unsigned char probes[] = {0x00, 0x09, 0x1f, ' ', '!', '~', 0x7f, 0x80, 0xC3, 0xff};
    char text[128], want[128];
    for (size_t n = 1; n <= 70; n++) {
        for (size_t k = 0; k <= n; k++) {
            for (size_t b = 0; b < sizeof(probes); b++) {
                size_t len = (size_t)snprintf(text, sizeof(text), "<13>1 - ");
                size_t start = len;
                memset(text + len, 'h', n);
                len += n;
                memcpy(text + len, " a p m -", 8);
                len += 8;
                if (k < n) {
                    text[start + k] = (char)probes[b];
                }
                size_t i = start;
                while (i < len && (unsigned char)text[i] >= 33 && (unsigned char)text[i] <= 126) {
                    i++;
                }
                struct ev_syslog_message m;
                int r = ev_syslog_parse(text, len, &m);
                if (i == start) {
                    (void)snprintf(want, sizeof(want), "byte %zu: HOSTNAME: expected a value or '-'",
                                   i);
                } else if (text[i] != ' ') {
                    (void)snprintf(want, sizeof(want),
                                   "byte %zu: HOSTNAME: byte 0x%02x is not printable US-ASCII", i,
                                   (unsigned char)text[i]);
                } else {
                    /* A space: the field ends there, and what follows decides the rest. */
                    if (r == 0) {
                        assert_int_equal(m.hostname.len, i - start);
                        assert_ptr_equal(m.hostname.ptr, text + start);
                    } else {
                        assert_null(strstr(ev_last_error(), "HOSTNAME"));
                    }
                    continue;
                }
                assert_int_equal(r, EV_EFORMAT);
                assert_string_equal(ev_last_error(), want);
            }
        }
    }
}

/* The byte-at-a-time copy evi_syslog_copy_text() must equal (NUL as U+FFFD, cut at max). */
static size_t copy_reference(char *out, const char *text, size_t len, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 3 <= max; i++) {
        if (text[i] == '\0') {
            memcpy(out + n, "\xEF\xBF\xBD", 3);
            n += 3;
        } else {
            out[n++] = text[i];
        }
    }
    out[n++] = '\0';
    return n;
}

static void test_copy_text(void **state)
{
    (void)state;
    char text[64], want[200], got[200];
    /* NULs at the start, the end, in runs and alone; every cut from nothing to past the end. */
    static const char *const shapes[] = {"abcdef",   "\1abc\1\1de\1", "\1\1\1\1",
                                         "a\1b\1c\1d", "\1bcdefghijklmnopqrstuvwxyz\1",
                                         /* a NUL only at the end, or only at the start */
                                         "abcdefghijklmnopqrstuvwxyz0123456789\1", "\1abcdef"};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t len = strlen(shapes[s]);
        for (size_t i = 0; i < len; i++) {
            text[i] = shapes[s][i] == '\1' ? '\0' : shapes[s][i];
        }
        for (size_t max = 0; max <= 3 * len + 4; max++) {
            size_t n = copy_reference(want, text, len, max);
            memset(got, 0x55, sizeof(got));
            char *cursor = got;
            struct ev_syslog_span span = {text, len};
            assert_ptr_equal(evi_syslog_copy_text(&cursor, span, max), got);
            assert_int_equal((size_t)(cursor - got), n);
            assert_memory_equal(got, want, n);
            /* The out-of-line path alone, for the spans the inline one takes too. */
            memset(got, 0x55, sizeof(got));
            cursor = got;
            assert_ptr_equal(evi_syslog_copy_text_slow(&cursor, span, max), got);
            assert_int_equal((size_t)(cursor - got), n);
            assert_memory_equal(got, want, n);
        }
        char *cursor = got;
        struct ev_syslog_span span = {text, len};
        assert_int_equal(copy_reference(want, text, len, SIZE_MAX),
                         (size_t)(evi_syslog_copy_text(&cursor, span, SIZE_MAX), cursor - got));
        assert_memory_equal(got, want, (size_t)(cursor - got));
    }
    char *cursor = got;
    struct ev_syslog_span absent = {NULL, 0};
    assert_null(evi_syslog_copy_text(&cursor, absent, SIZE_MAX));
    assert_ptr_equal(cursor, got);
}

/* A span of random bytes (NUL, escapes, UTF-8, invalid UTF-8, a secret) of a length around
 * limit, or absent. */
static struct ev_syslog_span random_span(uint64_t *rng, char *buf, size_t limit)
{
    static const char *const pieces[] = {"a", "\0", "\"", "\\", "\n", "\xC3\xA9", "\xFF",
                                         "password=hunter2 "};
    size_t len;
    switch (tu_next_random(rng) % 6) {
    case 0: return (struct ev_syslog_span){NULL, 0};
    case 1: len = limit; break;
    case 2: len = limit + 1; break;
    case 3: len = limit > 0 ? limit - 1 : 0; break;
    case 4: len = limit / 3 + 1; break; /* over the limit if it has NULs (3 bytes each) */
    default: len = tu_next_random(rng) % 12; break;
    }
    for (size_t at = 0; at < len;) {
        const char *piece = pieces[tu_next_random(rng) % (sizeof(pieces) / sizeof(*pieces))];
        size_t n = piece[0] == '\0' ? 1 : strlen(piece);
        n = n < len - at ? n : len - at;
        memcpy(buf + at, piece, n);
        at += n;
    }
    return (struct ev_syslog_span){buf, len};
}

/* A span copied as the byte-by-byte reference does it (NULL when absent). */
static const char *reference_copy(char **cursor, struct ev_syslog_span s, size_t max)
{
    if (s.ptr == NULL) {
        return NULL;
    }
    char *start = *cursor;
    *cursor += copy_reference(start, s.ptr, s.len, max);
    return start;
}

/*
 * ev_syslog_prepare(), which hands validation the lengths of the strings it
 * copied, against the event built by hand (the reference copy) through
 * ev_syslog_event_prepare(), which measures them: the same result, message
 * and bytes for random messages (NULs, escapes, UTF-8, secrets, every field
 * absent, at, under and over its limit, a long MSG) at every level.
 */
static void test_prepare_known_lengths(void **state)
{
    (void)state;
    static char texts[6][EV_SYSLOG_MAX_BYTES], copies[3 * 6 * 1024 + 6 * 70000];
    static const size_t limits[6] = {EV_SYSLOG_MAX_TIMESTAMP, EV_SYSLOG_MAX_HOSTNAME,
                                     EV_SYSLOG_MAX_APP_NAME,  EV_SYSLOG_MAX_PROCID,
                                     EV_SYSLOG_MAX_MSGID,     300};
    struct ev_policy *policies[3];
    uint64_t rng = 5424;
    size_t refused = 0;
    for (int level = 0; level < 3; level++) {
        policies[level] = policy_with((enum ev_level)level, EV_SEV_DEBUG);
    }
    for (int round = 0; round < 3000; round++) {
        struct ev_syslog_message m = {
            .format = round % 2 ? EV_SYSLOG_RFC5424 : EV_SYSLOG_RFC3164,
            .facility = (int)(tu_next_random(&rng) % 24),
            .severity = (int)(tu_next_random(&rng) % 8),
        };
        struct ev_syslog_span *spans[6] = {&m.timestamp, &m.hostname, &m.app_name,
                                           &m.procid,    &m.msgid,    &m.msg};
        for (size_t k = 0; k < 6; k++) {
            size_t limit = k == 5 && round % 50 == 0 ? EV_SYSLOG_MAX_BYTES - 1 : limits[k];
            *spans[k] = random_span(&rng, texts[k], limit);
        }
        struct ev_syslog_event e = {
            .common = {.severity = EV_SOME_INT(m.severity), .source_json = SOURCE},
            .format = m.format,
            .facility = EV_SYSLOG_FACILITY(m.facility),
        };
        char *cursor = copies;
        e.timestamp = reference_copy(&cursor, m.timestamp, SIZE_MAX);
        e.hostname = reference_copy(&cursor, m.hostname, SIZE_MAX);
        e.app_name = reference_copy(&cursor, m.app_name, SIZE_MAX);
        e.procid = reference_copy(&cursor, m.procid, SIZE_MAX);
        e.msgid = reference_copy(&cursor, m.msgid, SIZE_MAX);
        e.message = reference_copy(&cursor, m.msg, EV_SYSLOG_MAX_BYTES);
        struct ev_policy *policy = policies[round % 3];
        struct ev_prepared fast, reference;
        int r = ev_syslog_event_prepare(policy, &e, &reference);
        char message[512];
        (void)snprintf(message, sizeof(message), "%s", r < 0 ? ev_last_error() : "");
        assert_int_equal(ev_syslog_prepare(policy, &m, SOURCE, &fast), r);
        if (r < 0) {
            assert_string_equal(ev_last_error(), message);
            refused++;
            continue;
        }
        assert_int_equal(fast.dropped, reference.dropped);
        assert_int_equal(fast.redacted, reference.redacted);
        assert_int_equal(fast.event.severity, reference.event.severity);
        assert_string_equal(fast.event.data_json, reference.event.data_json);
        ev_prepared_release(&fast);
        ev_prepared_release(&reference);
    }
    /* Both ways out are taken. */
    assert_true(refused > 100 && refused < 2900);
    for (int level = 0; level < 3; level++) {
        ev_policy_free(policies[level]);
    }
}

static void test_facility_names(void **state)
{
    (void)state;
    assert_string_equal(ev_syslog_facility_name(0), "kern");
    assert_string_equal(ev_syslog_facility_name(4), "auth");
    assert_string_equal(ev_syslog_facility_name(10), "authpriv");
    assert_string_equal(ev_syslog_facility_name(13), "audit");
    assert_string_equal(ev_syslog_facility_name(16), "local0");
    assert_string_equal(ev_syslog_facility_name(23), "local7");
    assert_null(ev_syslog_facility_name(24));
    assert_null(ev_syslog_facility_name(-1));
}

/* ---- framing --------------------------------------------------------------------- */

static int frame(const char *buf, size_t max, const char **msg, size_t *len, size_t *used)
{
    *msg = NULL;
    *len = *used = 999;
    return ev_syslog_frame(buf, strlen(buf), max, msg, len, used);
}

static void test_frame_octet_counting(void **state)
{
    (void)state;
    const char *msg;
    size_t len, used;
    /* rsyslog (TCP_Framing="octet-counted"): the count includes its LF */
    static const char rsyslog[] =
        "107 <38>1 2026-11-27T14:05:50+00:00 vm sshd 13877 - -  Accepted publickey for alice "
        "from 10.0.0.1 port 22 ssh2\n"
        "143 <85>1 2026-11-27T14:05:50.649062+00:00 vm su - LOGIN [timeQuality tzKnown=\"1\" "
        "isSynced=\"0\"][origin ip=\"10.0.0.1\"] password=hunter2 in \"quotes\"\n";
    size_t total = sizeof(rsyslog) - 1;
    assert_int_equal(ev_syslog_frame(rsyslog, total, 8192, &msg, &len, &used), 1);
    assert_ptr_equal(msg, rsyslog + 4);
    assert_int_equal(len, 107);
    assert_int_equal(used, 111);
    struct ev_syslog_message m;
    tu_ok(ev_syslog_parse(msg, len, &m));
    span_is(m.app_name, "sshd");
    assert_int_equal(ev_syslog_frame(rsyslog + used, total - used, 8192, &msg, &len, &used), 1);
    assert_int_equal(len, 143);
    tu_ok(ev_syslog_parse(msg, len, &m));
    span_is(m.msgid, "LOGIN");

    /* logger --octet-count: no LF */
    static const char logger[] = "104 <13>1 2026-11-27T14:05:37.360895+00:00 vm myapp - - "
                                 "[timeQuality tzKnown=\"1\" isSynced=\"0\"] octet counted";
    assert_int_equal(frame(logger, 8192, &msg, &len, &used), 1);
    assert_int_equal(len, 104);
    assert_int_equal(used, sizeof(logger) - 1);

    /* Every split of a frame across reads: more bytes needed until it is whole. */
    for (size_t cut = 0; cut < sizeof(logger) - 1; cut++) {
        assert_int_equal(ev_syslog_frame(logger, cut, 8192, &msg, &len, &used), 0);
    }
    /* The count at exactly the limit, and one above */
    assert_int_equal(frame("3 abc", 3, &msg, &len, &used), 1);
    assert_int_equal(frame("4 abcd", 3, &msg, &len, &used), EV_ETOOBIG);
    assert_string_equal(ev_last_error(), "octet count 4 over the limit of 3");
    assert_int_equal(used, 6); /* the whole frame, to be skipped */
    assert_int_equal(frame("4 ab", 3, &msg, &len, &used), EV_ETOOBIG);
    assert_int_equal(used, 6); /* more than was there: the rest is skipped as it arrives */
    assert_int_equal(frame("999999999 ", 65536, &msg, &len, &used), EV_ETOOBIG);
    assert_int_equal(used, 1000000009);
    assert_int_equal(frame("1000000000 x", 65536, &msg, &len, &used), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "octet count of more than 9 digits");
    assert_int_equal(frame("1000000000", 65536, &msg, &len, &used), EV_EFORMAT);
    assert_int_equal(frame("123456789", 65536, &msg, &len, &used), 0); /* a SP may follow */
    assert_int_equal(frame("0 ", 65536, &msg, &len, &used), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "octet count 0");
    assert_int_equal(frame("012 <13>1 - - - - -", 65536, &msg, &len, &used), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "octet count with a leading zero");
    assert_int_equal(used, 0);
    assert_int_equal(frame("12<13>", 65536, &msg, &len, &used), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "octet count not followed by a space (byte 0x3c)");
    assert_int_equal(frame("12", 65536, &msg, &len, &used), 0);
    assert_int_equal(frame("", 65536, &msg, &len, &used), 0);
    assert_int_equal(len, 999); /* untouched when nothing is found */
}

static void test_frame_lines(void **state)
{
    (void)state;
    const char *msg;
    size_t len, used;
    static const char stream[] = "<13>Nov 27 14:05:37 vm myapp: one\n\n\r\n<13>two\r\n<13>thr";
    const char *p = stream;
    size_t left = sizeof(stream) - 1;

    assert_int_equal(ev_syslog_frame(p, left, 100, &msg, &len, &used), 1);
    assert_int_equal(len, 33);
    assert_int_equal(used, 34);
    p += used, left -= used;
    /* two empty lines: skipped one at a time */
    assert_int_equal(ev_syslog_frame(p, left, 100, &msg, &len, &used), 1);
    assert_int_equal(len, 0);
    assert_int_equal(used, 1);
    p += used, left -= used;
    assert_int_equal(ev_syslog_frame(p, left, 100, &msg, &len, &used), 1);
    assert_int_equal(len, 0);
    assert_int_equal(used, 2);
    p += used, left -= used;
    assert_int_equal(ev_syslog_frame(p, left, 100, &msg, &len, &used), 1);
    assert_int_equal(len, 8); /* "<13>two\r": the parser drops the CR */
    struct ev_syslog_message m;
    tu_ok(ev_syslog_parse(msg, len, &m));
    span_is(m.app_name, "two");
    p += used, left -= used;
    /* the last line is not whole yet */
    assert_int_equal(ev_syslog_frame(p, left, 100, &msg, &len, &used), 0);

    /* A line at the limit, one over (skip through its LF), and one with no LF in sight */
    assert_int_equal(frame("<13>x\n", 5, &msg, &len, &used), 1);
    assert_int_equal(frame("<13>xy\n<13>z\n", 5, &msg, &len, &used), EV_ETOOBIG);
    assert_string_equal(ev_last_error(), "line of 6 bytes, over the limit of 5");
    assert_int_equal(used, 7);
    assert_int_equal(frame("<13>xyz", 5, &msg, &len, &used), EV_ETOOBIG);
    assert_string_equal(ev_last_error(), "line of more than 5 bytes");
    assert_int_equal(used, 7);
    assert_int_equal(frame("<13>x", 5, &msg, &len, &used), 0);
}

/* ---- the event -------------------------------------------------------------------- */

static void test_event_data(void **state)
{
    (void)state;
    int severity;
    const char *text = "<85>1 2026-11-27T14:05:50.649062+00:00 vm su - LOGIN [timeQuality "
                       "tzKnown=\"1\" isSynced=\"0\"][origin ip=\"10.0.0.1\"] login ok";
    char *data = event_of(NULL, text, strlen(text), &severity);
    assert_int_equal(severity, EV_SEV_NOTICE);
    assert_string_equal(
        data, "{\"app_name\":\"su\",\"facility\":\"authpriv\",\"format\":\"rfc5424\",\"hostname\":"
              "\"vm\",\"message\":\"login ok\",\"msgid\":\"LOGIN\",\"structured_data\":{"
              "\"origin\":{\"ip\":\"10.0.0.1\"},\"timeQuality\":{\"isSynced\":\"0\","
              "\"tzKnown\":\"1\"}},\"timestamp\":\"2026-11-27T14:05:50.649062+00:00\"}");
    free(data);

    event_is(NULL,
             "<38>Nov 27 14:05:50 vm sshd[13877]: Accepted publickey for alice from 10.0.0.1 "
             "port 22 ssh2",
             "{\"app_name\":\"sshd\",\"facility\":\"auth\",\"format\":\"rfc3164\",\"hostname\":"
             "\"vm\",\"message\":\"Accepted publickey for alice from 10.0.0.1 port 22 ssh2\","
             "\"procid\":\"13877\",\"timestamp\":\"Nov 27 14:05:50\"}");
    event_is(NULL, "<0>1 - - - - - -", "{\"facility\":\"kern\",\"format\":\"rfc5424\"}");
    /* Invalid UTF-8, control bytes and NUL: U+FFFD and JSON escapes */
    static const char odd[] = "<14>1 - - - - - - a\xFF\x01\tb\0c\xC3\xA9";
    data = event_of(NULL, odd, sizeof(odd) - 1, &severity);
    assert_int_equal(severity, EV_SEV_INFO);
    assert_string_equal(data, "{\"facility\":\"user\",\"format\":\"rfc5424\",\"message\":"
                              "\"a\xEF\xBF\xBD\\u0001\\tb\xEF\xBF\xBD"
                              "c\xC3\xA9\"}");
    free(data);
}

static void test_event_structured_data(void **state)
{
    (void)state;
    /* Repeated PARAMs become arrays in the order sent; a repeated SD-ID is merged; escapes are
     * undone and other backslashes kept; an element without PARAMs is an empty object. */
    event_is(NULL,
             "<13>1 - - - - - [origin ip=\"10.0.0.2\" ip=\"10.0.0.1\" x=\"a\\\"b\\\\c\\]d\\n\"]"
             "[b][origin ip=\"10.0.0.3\" s=\"1\"]",
             "{\"facility\":\"user\",\"format\":\"rfc5424\",\"structured_data\":{\"b\":{},"
             "\"origin\":{\"ip\":[\"10.0.0.2\",\"10.0.0.1\",\"10.0.0.3\"],\"s\":\"1\","
             "\"x\":\"a\\\"b\\\\c]d\\\\n\"}}}");
    /* An SD name with a backslash is escaped as a JSON key. */
    event_is(NULL, "<13>1 - - - - - [a\\b c\\d=\"\"]",
             "{\"facility\":\"user\",\"format\":\"rfc5424\",\"structured_data\":{\"a\\\\b\":{"
             "\"c\\\\d\":\"\"}}}");

    /* Over 16 KiB of SD: whole SD-IDs are kept in byte order while they fit. */
    size_t cap = 40000;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "<13>1 - - - - - ");
    for (int i = 0; i < 100; i++) {
        n += (size_t)snprintf(text + n, cap - n, "[id%03d v=\"", i);
        memset(text + n, 'x', 200);
        n += 200;
        n += (size_t)snprintf(text + n, cap - n, "\"]");
    }
    char *data = event_of(NULL, text, n, NULL);
    assert_true(strlen(data) < EV_SYSLOG_MAX_SD_JSON + 200);
    assert_non_null(strstr(data, "\"id000\":"));
    assert_non_null(strstr(data, "\"id070\":"));
    assert_null(strstr(data, "\"id099\":"));
    assert_non_null(strstr(data, "},\"structured_data_truncated\":true}"));
    free(data);
    free(text);
}

static void test_event_levels(void **state)
{
    (void)state;
    char text[12000];
    size_t n = (size_t)snprintf(text, sizeof(text), "<13>1 - - - - - [a b=\"c\"] ");
    memset(text + n, 'm', 9000);
    n += 9000;
    text[n] = '\0';
    static const size_t keep[3] = {256, 1024, 8192};
    for (int level = EV_LEVEL_MINIMAL; level <= EV_LEVEL_COMPREHENSIVE; level++) {
        struct ev_policy *p = policy_with((enum ev_level)level, EV_SEV_DEBUG);
        char *data = event_of(p, text, n, NULL);
        json_t *j = json_loads(data, 0, NULL);
        assert_int_equal(json_string_length(json_object_get(j, "message")), keep[level]);
        assert_true(json_is_true(json_object_get(j, "message_truncated")));
        /* structured data is dropped at minimal, as details are */
        assert_true((json_object_get(j, "structured_data") != NULL) == (level > 0));
        json_decref(j);
        free(data);
        ev_policy_free(p);
    }
    /* Not cut: no message_truncated */
    event_is(NULL, "<13>1 - - - - - - short",
             "{\"facility\":\"user\",\"format\":\"rfc5424\","
             "\"message\":\"short\"}");
}

static void test_event_sanitized(void **state)
{
    (void)state;
    event_is(NULL, "<85>Nov 27 14:05:50 vm su password=hunter2 in \"quotes\"",
             "{\"app_name\":\"su\",\"facility\":\"authpriv\",\"format\":\"rfc3164\",\"hostname\":"
             "\"vm\",\"message\":\"password=[REDACTED:credential] in \\\"quotes\\\"\","
             "\"redacted\":1,\"timestamp\":\"Nov 27 14:05:50\"}");
    /* An AWS key in the message and a credential in the structured data */
    event_is(NULL,
             "<13>1 - - - - - [auth password=\"s3cr3t-value\" user=\"bob\"] key "
             "AKIAIOSFODNN7EXAMPLE used",
             "{\"facility\":\"user\",\"format\":\"rfc5424\",\"message\":\"key "
             "[REDACTED:aws_access_key] used\",\"redacted\":2,\"structured_data\":{\"auth\":{"
             "\"password\":\"[REDACTED:credential]\",\"user\":\"bob\"}}}");
    /* A secret across the cut at level minimal (256 bytes) is still found whole. */
    char text[600];
    size_t n = (size_t)snprintf(text, sizeof(text), "<13>1 - - - - - - ");
    memset(text + n, 'x', 240);
    n += 240;
    n += (size_t)snprintf(text + n, sizeof(text) - n, " AKIAIOSFODNN7EXAMPLE tail");
    struct ev_policy *p = policy_with(EV_LEVEL_MINIMAL, EV_SEV_DEBUG);
    char *data = event_of(p, text, n, NULL);
    assert_null(strstr(data, "AKIA"));
    assert_non_null(strstr(data, "\"message_truncated\":true"));
    assert_non_null(strstr(data, "\"redacted\":1"));
    free(data);
    ev_policy_free(p);
}

static void test_event_policy(void **state)
{
    (void)state;
    struct ev_policy *p = policy_with(EV_LEVEL_BASIC, EV_SEV_WARNING);
    struct ev_syslog_message m;
    struct ev_prepared out;
    const char *notice = "<13>1 - - - - - - routine";
    tu_ok(ev_syslog_parse(notice, strlen(notice), &m));
    tu_ok(ev_syslog_prepare(p, &m, NULL, &out));
    assert_true(out.dropped);
    assert_null(out.event.data_json);
    assert_int_equal(out.event.severity, EV_SEV_NOTICE);
    ev_prepared_release(&out);
    const char *error = "<11>1 - - - - - - broken";
    tu_ok(ev_syslog_parse(error, strlen(error), &m));
    tu_ok(ev_syslog_prepare(p, &m, NULL, &out));
    assert_false(out.dropped);
    assert_int_equal(out.event.severity, EV_SEV_ERROR);
    ev_prepared_release(&out);
    ev_policy_free(p);

    /* Disabled */
    struct ev_config *c = NULL;
    tu_ok(ev_config_defaults(&c));
    c->policies[EV_TYPE_SYSLOG].enabled = false;
    tu_ok(ev_policy_new(c, &p));
    ev_config_free(c);
    tu_ok(ev_syslog_prepare(p, &m, NULL, &out));
    assert_true(out.dropped);
    ev_policy_free(p);

    /* Not a parsed message */
    memset(&m, 0, sizeof(m));
    assert_int_equal(ev_syslog_prepare(NULL, &m, NULL, &out), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "syslog: not a parsed message");
}

/* The JSON way in (evident event syslog, the daemon's JSON API) gives the same bytes. */
static void test_event_json_way_in(void **state)
{
    (void)state;
    const char *text = "<38>1 2026-11-27T14:05:50+00:00 vm sshd 13877 - [o ip=\"1\" ip=\"2\"] hi";
    struct ev_syslog_message m;
    struct ev_prepared a, b;
    tu_ok(ev_syslog_parse(text, strlen(text), &m));
    tu_ok(ev_syslog_prepare(NULL, &m, NULL, &a));
    struct ev_event e = {.type = "syslog", .severity = EV_SEV_INFO, .data_json = a.event.data_json};
    tu_ok(ev_event_prepare(NULL, &e, &b));
    assert_string_equal(a.event.data_json, b.event.data_json);
    assert_int_equal(b.event.severity, EV_SEV_INFO);
    ev_prepared_release(&b);
    ev_prepared_release(&a);

    /* Without a severity: notice. The library's own fields are refused. */
    struct ev_event f = {.type = "syslog", .severity = -1, .data_json = "{\"format\":\"rfc3164\"}"};
    tu_ok(ev_event_prepare(NULL, &f, &b));
    assert_int_equal(b.event.severity, EV_SEV_NOTICE);
    ev_prepared_release(&b);
    f.data_json = "{\"format\":\"rfc3164\",\"message_truncated\":true}";
    assert_int_equal(ev_event_prepare(NULL, &f, &b), EV_EFORMAT);
    assert_string_equal(ev_last_error(),
                        "data.message_truncated: set by evident, not by producers");
    f.data_json = "{\"facility\":\"local9\",\"format\":\"rfc3164\"}";
    assert_int_equal(ev_event_prepare(NULL, &f, &b), EV_EFORMAT);
    f.data_json = "{\"message\":\"x\"}";
    assert_int_equal(ev_event_prepare(NULL, &f, &b), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "data.format: required");

    /* The C struct way in */
    struct ev_syslog_event s = {.format = EV_SYSLOG_RFC3164,
                                .facility = EV_SYSLOG_FACILITY(4),
                                .app_name = "sshd",
                                .message = "hello"};
    tu_ok(ev_syslog_event_prepare(NULL, &s, &a));
    assert_string_equal(a.event.data_json, "{\"app_name\":\"sshd\",\"facility\":\"auth\","
                                           "\"format\":\"rfc3164\",\"message\":\"hello\"}");
    ev_prepared_release(&a);
}

/* Appended and read back: the entry carries the data as prepared. */
static void test_event_appended(void **state)
{
    struct tu_fixture *fx = *state;
    tu_create(fx->dir, 0, NULL);
    struct ev_log *log = tu_open(fx->dir, NULL);
    const char *text = "<38>Nov 27 14:05:50 vm sshd[13877]: Accepted publickey for alice";
    struct ev_syslog_message m;
    struct ev_prepared p;
    uint64_t index = 0;
    size_t bad = 0;
    tu_ok(ev_syslog_parse(text, strlen(text), &m));
    tu_ok(ev_syslog_prepare(NULL, &m, SOURCE, &p));
    tu_ok(ev_audit_append_prepared(log, &p, 1, &index, &bad));
    struct ev_entry *entry = NULL;
    tu_ok(ev_log_entry(log, index, &entry));
    assert_non_null(strstr(entry->bytes, "\"type\":\"syslog\",\"severity\":\"info\""));
    assert_non_null(strstr(entry->bytes, p.event.data_json));
    ev_entry_free(entry);
    ev_prepared_release(&p);
    tu_ok(ev_log_close(log));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logger_captures),
        cmocka_unit_test(test_rsyslog_captures),
        cmocka_unit_test(test_rfc5424_examples),
        cmocka_unit_test(test_rfc3164_examples),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_timestamp_shape),
        cmocka_unit_test(test_header_field_scan),
        cmocka_unit_test(test_copy_text),
        cmocka_unit_test(test_prepare_known_lengths),
        cmocka_unit_test(test_facility_names),
        cmocka_unit_test(test_frame_octet_counting),
        cmocka_unit_test(test_frame_lines),
        cmocka_unit_test(test_event_data),
        cmocka_unit_test(test_event_structured_data),
        cmocka_unit_test(test_event_levels),
        cmocka_unit_test(test_event_sanitized),
        cmocka_unit_test(test_event_policy),
        cmocka_unit_test(test_event_json_way_in),
        cmocka_unit_test_setup_teardown(test_event_appended, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
