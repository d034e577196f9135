/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding messages in a TCP stream (RFC 6587): octet counting (§3.4.1) when a
 * frame starts with a digit, else non-transparent framing with LF as the
 * trailer (§3.4.2). A syslog message starts with '<', so the first byte tells
 * the two apart, frame by frame, as rsyslog does.
 */
#include <string.h>

#include <evident/error.h>
#include <evident/syslog.h>

#include "error.h"

/* MSG-LEN of RFC 6587 is NONZERO-DIGIT *DIGIT; 9 digits are more than any limit we take. */
#define MAX_COUNT_DIGITS 9

static int octet_counted(const char *buf, size_t len, size_t max_bytes, const char **ret_msg,
                         size_t *ret_len, size_t *ret_consumed)
{
    size_t i = 0, count = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        if (i == MAX_COUNT_DIGITS) {
            *ret_consumed = 0;
            return evi_error(EV_EFORMAT, "octet count of more than %d digits", MAX_COUNT_DIGITS);
        }
        count = count * 10 + (size_t)(buf[i] - '0');
        i++;
    }
    if (buf[0] == '0') {
        *ret_consumed = 0;
        return evi_error(EV_EFORMAT, count == 0 && i == 1 ? "octet count 0"
                                                          : "octet count with a leading zero");
    }
    if (i == len) {
        return 0;
    }
    if (buf[i] != ' ') {
        *ret_consumed = 0;
        return evi_error(EV_EFORMAT, "octet count not followed by a space (byte 0x%02x)",
                         (unsigned char)buf[i]);
    }
    if (count > max_bytes) {
        /* The count says where the next frame starts: the caller skips this one whole. */
        *ret_consumed = i + 1 + count;
        return evi_error(EV_ETOOBIG, "octet count %zu over the limit of %zu", count, max_bytes);
    }
    if (len - i - 1 < count) {
        return 0;
    }
    *ret_msg = buf + i + 1;
    *ret_len = count;
    *ret_consumed = i + 1 + count;
    return 1;
}

int ev_syslog_frame(const char *buf, size_t len, size_t max_bytes, const char **ret_msg,
                    size_t *ret_len, size_t *ret_consumed)
{
    if (len == 0) {
        return 0;
    }
    if (buf[0] >= '0' && buf[0] <= '9') {
        return octet_counted(buf, len, max_bytes, ret_msg, ret_len, ret_consumed);
    }
    const char *lf = memchr(buf, '\n', len);
    if (lf == NULL) {
        if (len > max_bytes) {
            *ret_consumed = len;
            return evi_error(EV_ETOOBIG, "line of more than %zu bytes", max_bytes);
        }
        return 0;
    }
    size_t line = (size_t)(lf - buf);
    if (line > max_bytes) {
        *ret_consumed = line + 1;
        return evi_error(EV_ETOOBIG, "line of %zu bytes, over the limit of %zu", line, max_bytes);
    }
    *ret_msg = buf;
    *ret_len = line == 1 && buf[0] == '\r' ? 0 : line;
    *ret_consumed = line + 1;
    return 1;
}
