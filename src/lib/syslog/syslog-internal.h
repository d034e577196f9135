/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside syslog ingestion: the one reader of RFC 5424 STRUCTURED-DATA, used by
 * the parser to check it and by the event builder to take it apart.
 */
#ifndef EVI_SYSLOG_INTERNAL_H
#define EVI_SYSLOG_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include <evident/syslog.h>

/*
 * Called for each SD-PARAM (name and value set; value still escaped, without
 * its quotes) and for each SD-ELEMENT without one (name.ptr NULL). A negative
 * return stops the walk and is returned.
 */
typedef int (*evi_sd_visit)(void *ctx, struct ev_syslog_span id, struct ev_syslog_span name,
                            struct ev_syslog_span value);

/*
 * Reads STRUCTURED-DATA ("-" or one or more SD-ELEMENTs) at text[pos..len),
 * stopping after the last element; *ret_end gets the offset after it. visit
 * may be NULL. Errors are EV_EFORMAT naming the byte (counted in text).
 */
int evi_syslog_sd_walk(const char *text, size_t len, size_t pos, evi_sd_visit visit, void *ctx,
                       size_t *ret_end);

/* evi_syslog_copy_text() for a span that holds a NUL or is cut: byte by byte. */
const char *evi_syslog_copy_text_slow(char **cursor, struct ev_syslog_span s, size_t max);

/*
 * Appends span s as a NUL-terminated string at *cursor and advances it: NUL
 * bytes become U+FFFD, and a byte (or its U+FFFD) goes in only while 3 bytes
 * are left of max, so the text takes at most max - 2 bytes before its NUL.
 * Returns the start, or NULL (nothing written) for an absent span. The
 * buffer must hold 3 * s.len + 1 bytes. Inline: a syslog event copies six
 * spans, and the common case (no NUL, nothing cut) is a memchr and a memcpy.
 */
static inline const char *evi_syslog_copy_text(char **cursor, struct ev_syslog_span s, size_t max)
{
    char *start = *cursor;
    if (s.ptr == NULL) {
        return NULL;
    }
    size_t plain_max = max >= 2 ? max - 2 : 0;
    if (s.len <= plain_max && memchr(s.ptr, '\0', s.len) == NULL) {
        /* As the byte-by-byte copy does it: no NUL, nothing cut. */
        memcpy(start, s.ptr, s.len);
        start[s.len] = '\0';
        *cursor = start + s.len + 1;
        return start;
    }
    return evi_syslog_copy_text_slow(cursor, s, max);
}

#endif
