/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading one syslog message: RFC 5424 strictly (its grammar, its field
 * limits), RFC 3164 as real senders write it (docs/INGEST.md, "Syslog").
 * The input is hostile: every read is bounds-checked against len, nothing is
 * allocated, and each error names the byte (from 0) where the message stops
 * making sense.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <evident/error.h>
#include <evident/syslog.h>

#include "error.h"
#include "syslog/syslog-internal.h"

static const char *const facility_names[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
    "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7",
};

const char *ev_syslog_facility_name(int facility)
{
    return facility >= 0 && facility < 24 ? facility_names[facility] : NULL;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* PRINTUSASCII (RFC 5424 §6): the bytes of header fields. */
static bool is_print(char c)
{
    return (unsigned char)c >= 33 && (unsigned char)c <= 126;
}

static struct ev_syslog_span span(const char *text, size_t from, size_t to)
{
    if (to <= from) {
        return (struct ev_syslog_span){NULL, 0};
    }
    return (struct ev_syslog_span){text + from, to - from};
}

/* "<PRI>": 1 to 3 digits, no leading zero, at most 191 (RFC 5424 §6.2.1). */
static int parse_pri(const char *text, size_t len, size_t *pos, int *ret_pri)
{
    if (len == 0 || text[0] != '<') {
        return evi_error(EV_EFORMAT, "byte 0: expected '<' and a priority (PRI)");
    }
    size_t i = 1;
    int value = 0;
    while (i < len && is_digit(text[i]) && i <= 4) {
        value = value * 10 + (text[i] - '0');
        i++;
    }
    size_t digits = i - 1;
    if (digits == 0) {
        return evi_error(EV_EFORMAT, "byte 1: PRI: expected a number");
    }
    if (digits > 3) {
        return evi_error(EV_EFORMAT, "byte 1: PRI: more than 3 digits");
    }
    if (digits > 1 && text[1] == '0') {
        return evi_error(EV_EFORMAT, "byte 1: PRI: leading zero");
    }
    if (value > 191) {
        return evi_error(EV_EFORMAT, "byte 1: PRI above 191");
    }
    if (i >= len || text[i] != '>') {
        return evi_error(EV_EFORMAT, "byte %zu: PRI: expected '>'", i);
    }
    *pos = i + 1;
    *ret_pri = value;
    return 0;
}

/*
 * Matches text[pos..len) against a pattern of literal bytes and 'D' for a
 * digit; returns the offset of the first mismatch, or SIZE_MAX if it matches.
 */
static size_t match(const char *text, size_t len, size_t pos, const char *pattern)
{
    for (size_t k = 0; pattern[k] != '\0'; k++) {
        size_t at = pos + k;
        if (at >= len) {
            return at;
        }
        if (pattern[k] == 'D' ? !is_digit(text[at]) : text[at] != pattern[k]) {
            return at;
        }
    }
    return SIZE_MAX;
}

static int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * Whether the 8 bytes at t have a shape: a digit where digits has 0xFF, the
 * byte of separators elsewhere (separators has 0 where digits has 0xFF).
 * Both patterns are loaded as t is, so the test holds for either byte order.
 * A digit byte is 0x30..0x39: its high nibble 3, and adding 6 keeps it 3 (no
 * byte carries: one that could, 0xFA and up, failed the first test).
 */
static bool shape8(const char *t, const char digits[8], const char separators[8])
{
    uint64_t v = load8(t), d = load8(digits);
    uint64_t high = d & load8("\xF0\xF0\xF0\xF0\xF0\xF0\xF0\xF0");
    uint64_t three = d & load8("00000000");
    uint64_t six = d & load8("\x06\x06\x06\x06\x06\x06\x06\x06");
    uint64_t n = v & d;
    return (v & ~d) == load8(separators) && (n & high) == three && ((n + six) & high) == three;
}

/*
 * Whether the 19 bytes at t have the shape "DDDD-DD-DDTDD:DD:DD" (what
 * match() checks, tested 8 bytes at a time without its walk: bytes 0-7,
 * 8-15 and 11-18; when it says no, match() finds the byte to name).
 */
static bool date_time_shape(const char *t)
{
    static const char d0[8] = {-1, -1, -1, -1, 0, -1, -1, 0}, s0[8] = {0, 0, 0, 0, '-', 0, 0, '-'};
    static const char d1[8] = {-1, -1, 0, -1, -1, 0, -1, -1}, s1[8] = {0, 0, 'T', 0, 0, ':', 0, 0};
    static const char d2[8] = {-1, -1, 0, -1, -1, 0, -1, -1}, s2[8] = {0, 0, ':', 0, 0, ':', 0, 0};
    return shape8(t, d0, s0) && shape8(t + 8, d1, s1) && shape8(t + 11, d2, s2);
}

/* Whether the 5 bytes at t have the shape "DD:DD" (an offset's, after its sign). */
static bool offset_shape(const char *t)
{
    return is_digit(t[0]) && is_digit(t[1]) && t[2] == ':' && is_digit(t[3]) && is_digit(t[4]);
}

/*
 * An RFC 5424 TIMESTAMP (RFC 3339 with the restrictions of §6.2.3) at pos.
 * Returns 0 and its end, or EV_EFORMAT naming the byte when report is true;
 * when report is false (RFC 3164's optional ISO stamp) returns EV_EFORMAT
 * without touching ev_last_error().
 */
static int parse_iso_time(const char *text, size_t len, size_t pos, bool report, size_t *ret_end)
{
    const char *what = NULL;
    size_t bad = len >= 19 && pos <= len - 19 && date_time_shape(text + pos)
                     ? SIZE_MAX
                     : match(text, len, pos, "DDDD-DD-DDTDD:DD:DD");
    size_t i = pos + 19;
    if (bad != SIZE_MAX) {
        what = "expected YYYY-MM-DDThh:mm:ss";
        goto fail;
    }
    const char *t = text + pos;
    if (two(t + 5) < 1 || two(t + 5) > 12) {
        bad = pos + 5, what = "month out of range";
    } else if (two(t + 8) < 1 || two(t + 8) > 31) {
        bad = pos + 8, what = "day out of range";
    } else if (two(t + 11) > 23) {
        bad = pos + 11, what = "hour out of range";
    } else if (two(t + 14) > 59) {
        bad = pos + 14, what = "minute out of range";
    } else if (two(t + 17) > 60) {
        bad = pos + 17, what = "second out of range";
    }
    if (what != NULL) {
        goto fail;
    }
    if (i < len && text[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(text[i]) && i - start < 7) {
            i++;
        }
        if (i == start || i - start > 6) {
            bad = i, what = "expected 1 to 6 digits of a second's fraction";
            goto fail;
        }
    }
    if (i < len && text[i] == 'Z') {
        i++;
    } else if (i < len && (text[i] == '+' || text[i] == '-')) {
        bad = len - i >= 6 && offset_shape(text + i + 1) ? SIZE_MAX
                                                         : match(text, len, i + 1, "DD:DD");
        if (bad != SIZE_MAX) {
            what = "expected an offset +hh:mm or -hh:mm";
            goto fail;
        }
        if (two(text + i + 1) > 23 || two(text + i + 4) > 59) {
            bad = i + 1, what = "offset out of range";
            goto fail;
        }
        i += 6;
    } else {
        bad = i, what = "expected 'Z' or an offset";
        goto fail;
    }
    *ret_end = i;
    return 0;
fail:
    return report ? evi_error(EV_EFORMAT, "byte %zu: TIMESTAMP: %s", bad, what) : EV_EFORMAT;
}

/*
 * One RFC 5424 header field: "-" or 1..max printable bytes, then a space.
 * *pos moves past the space.
 */
/* The end of the run of printable bytes at text[i..len): 16 bytes per step while there are. */
static size_t print_run(const char *text, size_t len, size_t i)
{
#if defined(__SSE2__)
    /* As signed bytes, PRINTUSASCII (33..126) is above 32 and below 127. */
    const __m128i low = _mm_set1_epi8(32), high = _mm_set1_epi8(127);
    while (len - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(text + i));
        __m128i print = _mm_and_si128(_mm_cmpgt_epi8(v, low), _mm_cmplt_epi8(v, high));
        unsigned other = ~(unsigned)_mm_movemask_epi8(print) & 0xFFFFu;
        if (other != 0) {
            return i + (size_t)__builtin_ctz(other);
        }
        i += 16;
    }
#endif
    while (i < len && is_print(text[i])) {
        i++;
    }
    return i;
}

static int header_field(const char *text, size_t len, size_t *pos, size_t max, const char *name,
                        struct ev_syslog_span *ret)
{
    size_t start = *pos, i = print_run(text, len, start);
    if (i == start) {
        if (i >= len) {
            return evi_error(EV_EFORMAT, "byte %zu: the message ends before %s", i, name);
        }
        return evi_error(EV_EFORMAT, "byte %zu: %s: expected a value or '-'", i, name);
    }
    if (i - start > max) {
        return evi_error(EV_EFORMAT, "byte %zu: %s: longer than %zu characters", start, name, max);
    }
    if (i >= len) {
        return evi_error(EV_EFORMAT, "byte %zu: the message ends after %s", i, name);
    }
    if (text[i] != ' ') {
        return evi_error(EV_EFORMAT, "byte %zu: %s: byte 0x%02x is not printable US-ASCII", i, name,
                         (unsigned char)text[i]);
    }
    bool nil = i - start == 1 && text[start] == '-';
    *ret = nil ? span(text, 0, 0) : span(text, start, i);
    *pos = i + 1;
    return 0;
}

/* ---- structured data (RFC 5424 §6.3) ---------------------------------------- */

/* SD-NAME: 1..32 printable bytes except '=', ']', '"' (and space, not printable here). */
static int sd_name(const char *text, size_t len, size_t *pos, const char *what,
                   struct ev_syslog_span *ret)
{
    size_t start = *pos, i = start;
    while (i < len && is_print(text[i]) && text[i] != '=' && text[i] != ']' && text[i] != '"') {
        i++;
    }
    if (i == start) {
        return evi_error(EV_EFORMAT, "byte %zu: %s: expected a name", i, what);
    }
    if (i - start > EV_SYSLOG_MAX_SD_NAME) {
        return evi_error(EV_EFORMAT, "byte %zu: %s: longer than %u characters", start, what,
                         EV_SYSLOG_MAX_SD_NAME);
    }
    *ret = span(text, start, i);
    *pos = i;
    return 0;
}

int evi_syslog_sd_walk(const char *text, size_t len, size_t pos, evi_sd_visit visit, void *ctx,
                       size_t *ret_end)
{
    int r;
    if (pos < len && text[pos] == '-') {
        *ret_end = pos + 1;
        return 0;
    }
    if (pos >= len || text[pos] != '[') {
        return evi_error(EV_EFORMAT, "byte %zu: STRUCTURED-DATA: expected '[' or '-'", pos);
    }
    while (pos < len && text[pos] == '[') {
        struct ev_syslog_span id, name, value;
        bool any = false;
        pos++;
        r = sd_name(text, len, &pos, "SD-ID", &id);
        if (r < 0) {
            return r;
        }
        while (pos < len && text[pos] == ' ') {
            pos++;
            r = sd_name(text, len, &pos, "PARAM-NAME", &name);
            if (r < 0) {
                return r;
            }
            if (pos >= len || text[pos] != '=') {
                return evi_error(EV_EFORMAT, "byte %zu: SD-PARAM: expected '='", pos);
            }
            if (pos + 1 >= len || text[pos + 1] != '"') {
                return evi_error(EV_EFORMAT, "byte %zu: PARAM-VALUE: expected '\"'", pos + 1);
            }
            size_t start = pos + 2, i = start;
            /* '\' escapes the next byte; an unescaped ']' is taken as itself (the quotes
             * delimit the value unambiguously). */
            while (i < len && text[i] != '"') {
                i += text[i] == '\\' && i + 1 < len ? 2 : 1;
            }
            if (i >= len) {
                return evi_error(EV_EFORMAT, "byte %zu: PARAM-VALUE: no closing '\"'", pos + 1);
            }
            value = (struct ev_syslog_span){text + start, i - start};
            if (visit != NULL && (r = visit(ctx, id, name, value)) < 0) {
                return r;
            }
            any = true;
            pos = i + 1;
        }
        if (pos >= len || text[pos] != ']') {
            return evi_error(EV_EFORMAT, "byte %zu: SD-ELEMENT: expected ' ' or ']'", pos);
        }
        pos++;
        if (!any && visit != NULL) {
            r = visit(ctx, id, span(text, 0, 0), span(text, 0, 0));
            if (r < 0) {
                return r;
            }
        }
    }
    *ret_end = pos;
    return 0;
}

/* ---- the two formats ------------------------------------------------------------ */

static int parse_5424(const char *text, size_t len, size_t pos, struct ev_syslog_message *m)
{
    size_t end;
    int r;

    /* TIMESTAMP */
    if (pos < len && text[pos] == '-') {
        end = pos + 1;
    } else {
        r = parse_iso_time(text, len, pos, true, &end);
        if (r < 0) {
            return r;
        }
        m->timestamp = span(text, pos, end);
    }
    if (end >= len || text[end] != ' ') {
        return evi_error(EV_EFORMAT, "byte %zu: expected a space after TIMESTAMP", end);
    }
    pos = end + 1;
    if ((r = header_field(text, len, &pos, EV_SYSLOG_MAX_HOSTNAME, "HOSTNAME", &m->hostname)) < 0 ||
        (r = header_field(text, len, &pos, EV_SYSLOG_MAX_APP_NAME, "APP-NAME", &m->app_name)) < 0 ||
        (r = header_field(text, len, &pos, EV_SYSLOG_MAX_PROCID, "PROCID", &m->procid)) < 0 ||
        (r = header_field(text, len, &pos, EV_SYSLOG_MAX_MSGID, "MSGID", &m->msgid)) < 0) {
        return r;
    }
    r = evi_syslog_sd_walk(text, len, pos, NULL, NULL, &end);
    if (r < 0) {
        return r;
    }
    if (text[pos] != '-') {
        m->structured_data = span(text, pos, end);
    }
    if (end < len) {
        if (text[end] != ' ') {
            return evi_error(EV_EFORMAT, "byte %zu: expected a space before MSG", end);
        }
        pos = end + 1;
        if (len - pos >= 3 && memcmp(text + pos, "\xEF\xBB\xBF", 3) == 0) {
            pos += 3; /* the BOM says MSG is UTF-8 (§6.4); it is not part of it */
        }
        m->msg = span(text, pos, len);
    }
    return 0;
}

/*
 * The days of the month named at p ("Jan" .. "Dec"), 0 if it names none.
 * RFC 3164 has no year, so February has 29.
 */
static int month_days(const char *p)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (size_t i = 0; i < 12; i++) {
        if (memcmp(p, months + 3 * i, 3) == 0) {
            return days[i];
        }
    }
    return 0;
}

/* "Mmm dd hh:mm:ss" (day space-padded), a date that exists, at pos: its end, or 0. */
static size_t bsd_time(const char *text, size_t len, size_t pos)
{
    int days;
    if (len - pos < 15 || (days = month_days(text + pos)) == 0 || text[pos + 3] != ' ') {
        return 0;
    }
    const char *t = text + pos;
    int day;
    if (t[4] == ' ' && is_digit(t[5])) {
        day = t[5] - '0';
    } else if (is_digit(t[4]) && is_digit(t[5])) {
        day = two(t + 4);
    } else {
        return 0;
    }
    if (match(text, len, pos + 6, " DD:DD:DD") != SIZE_MAX || day < 1 || day > days ||
        two(t + 7) > 23 || two(t + 10) > 59 || two(t + 13) > 60) {
        return 0;
    }
    return pos + 15;
}

/* A TAG byte: printable, not one that ends it. */
static bool is_tag(char c)
{
    return is_print(c) && c != ':' && c != '[' && c != ']';
}

/*
 * RFC 3164 as senders write it: [TIMESTAMP SP [HOSTNAME SP]] [TAG[\[PID\]][:] [SP]] MSG.
 * Anything that does not fit the optional parts is message: RFC 3164 §4.3
 * lets no content be refused once the PRI is good.
 */
static void parse_3164(const char *text, size_t len, size_t pos, struct ev_syslog_message *m)
{
    size_t end = bsd_time(text, len, pos);
    if (end == 0 && parse_iso_time(text, len, pos, false, &end) < 0) {
        end = 0;
    }
    if (end != 0 && end - pos <= EV_SYSLOG_MAX_TIMESTAMP && (end == len || text[end] == ' ')) {
        m->timestamp = span(text, pos, end);
        pos = end < len ? end + 1 : end;
        /* A HOSTNAME is a word followed by a space that does not look like a TAG. */
        size_t i = pos;
        while (i < len && is_print(text[i]) && text[i] != '[') {
            i++;
        }
        if (i > pos && i < len && text[i] == ' ' && text[i - 1] != ':' &&
            i - pos <= EV_SYSLOG_MAX_HOSTNAME) {
            m->hostname = span(text, pos, i);
            pos = i + 1;
        }
    }
    size_t i = pos;
    while (i < len && is_tag(text[i]) && i - pos <= EV_SYSLOG_MAX_APP_NAME) {
        i++;
    }
    size_t tag_end = i;
    bool tag = i > pos && i - pos <= EV_SYSLOG_MAX_APP_NAME &&
               (i == len || text[i] == ':' || text[i] == ' ' || text[i] == '[');
    if (tag && i < len && text[i] == '[') {
        size_t pid = i + 1, k = pid;
        while (k < len && is_print(text[k]) && text[k] != ']' && k - pid <= EV_SYSLOG_MAX_PROCID) {
            k++;
        }
        if (k > pid && k < len && text[k] == ']' && k - pid <= EV_SYSLOG_MAX_PROCID) {
            m->procid = span(text, pid, k);
            i = k + 1;
        } else {
            tag = false;
        }
    }
    if (tag) {
        m->app_name = span(text, pos, tag_end);
        if (i < len && text[i] == ':') {
            i++;
        }
        if (i < len && text[i] == ' ') {
            i++;
        }
        pos = i;
    } else {
        m->procid = span(text, 0, 0);
    }
    m->msg = span(text, pos, len);
}

int ev_syslog_parse(const char *text, size_t len, struct ev_syslog_message *ret_message)
{
    struct ev_syslog_message m;
    size_t pos = 0;
    int pri = 0, r;

    if (text == NULL && len > 0) {
        return evi_error(EV_EFORMAT, "no message");
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == '\0')) {
        len--;
    }
    if (len > EV_SYSLOG_MAX_BYTES) {
        return evi_error(EV_ETOOBIG, "syslog message of %zu bytes, over the limit of %u", len,
                         EV_SYSLOG_MAX_BYTES);
    }
    r = parse_pri(text, len, &pos, &pri);
    if (r < 0) {
        return r;
    }
    memset(&m, 0, sizeof(m));
    m.facility = pri / 8;
    m.severity = pri % 8;
    /* VERSION 1 and a space: RFC 5424. Anything else is RFC 3164 content. */
    if (len - pos >= 2 && text[pos] == '1' && text[pos + 1] == ' ') {
        m.format = EV_SYSLOG_RFC5424;
        r = parse_5424(text, len, pos + 2, &m);
        if (r < 0) {
            return r;
        }
    } else {
        m.format = EV_SYSLOG_RFC3164;
        parse_3164(text, len, pos, &m);
    }
    *ret_message = m;
    return 0;
}
