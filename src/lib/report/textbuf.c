/* SPDX-License-Identifier: Apache-2.0 */
/* A growable text with the escaping that reports need (HTML, Markdown, shell). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report-internal.h"
#include "utf8.h"

static bool reserve(struct evi_rtext *t, size_t more)
{
    if (t->error != 0) {
        return false;
    }
    if (more > SIZE_MAX / 2 - t->len) {
        t->error = -ENOMEM;
        return false;
    }
    if (t->len + more + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + more + 1) {
            cap *= 2;
        }
        char *data = realloc(t->data, cap);
        if (data == NULL) {
            t->error = -ENOMEM;
            return false;
        }
        t->data = data;
        t->cap = cap;
    }
    return true;
}

void evi_rtext_add(struct evi_rtext *t, const char *s, size_t len)
{
    if (len == 0 || !reserve(t, len)) {
        return;
    }
    memcpy(t->data + t->len, s, len);
    t->len += len;
    t->data[t->len] = '\0';
}

void evi_rtext_puts(struct evi_rtext *t, const char *s)
{
    evi_rtext_add(t, s, strlen(s));
}

void evi_rtext_printf(struct evi_rtext *t, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->error = t->error ? t->error : -ENOMEM;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        evi_rtext_add(t, small, (size_t)n);
        return;
    }
    if (!reserve(t, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/*
 * Walks s by code point: valid UTF-8 is passed to emit whole, control
 * characters and invalid bytes as U+FFFD (hostile text must not reach a
 * terminal or a page as control codes).
 */
static void each_char(struct evi_rtext *t, const char *s, bool keep_newlines,
                      void (*emit)(struct evi_rtext *t, const char *c, size_t n))
{
    static const char replacement[] = "\xef\xbf\xbd";
    size_t len = strlen(s);

    for (size_t i = 0; i < len;) {
        size_t n = evi_utf8_decode((const uint8_t *)s + i, len - i, NULL);
        unsigned char c = (unsigned char)s[i];
        if (n == 0) {
            emit(t, replacement, 3);
            i++;
        } else if (n == 1 && c == '\n' && keep_newlines) {
            emit(t, "\n", 1);
            i++;
        } else if (n == 1 && (c < 0x20 || c == 0x7f)) {
            emit(t, c == '\n' || c == '\t' ? " " : replacement, c == '\n' || c == '\t' ? 1 : 3);
            i++;
        } else {
            emit(t, s + i, n);
            i += n;
        }
    }
}

static void emit_html(struct evi_rtext *t, const char *c, size_t n)
{
    switch (n == 1 ? c[0] : 0) {
    case '&': evi_rtext_puts(t, "&amp;"); break;
    case '<': evi_rtext_puts(t, "&lt;"); break;
    case '>': evi_rtext_puts(t, "&gt;"); break;
    case '"': evi_rtext_puts(t, "&quot;"); break;
    case '\'': evi_rtext_puts(t, "&#39;"); break;
    default: evi_rtext_add(t, c, n);
    }
}

void evi_rtext_html(struct evi_rtext *t, const char *s)
{
    each_char(t, s, false, emit_html);
}

void evi_rtext_html_pre(struct evi_rtext *t, const char *s)
{
    each_char(t, s, true, emit_html);
}

static void emit_md(struct evi_rtext *t, const char *c, size_t n)
{
    if (n == 1 && strchr("\\`*_{}[]|~", c[0]) != NULL && c[0] != '\0') {
        evi_rtext_add(t, "\\", 1);
        evi_rtext_add(t, c, 1);
        return;
    }
    emit_html(t, c, n);
}

void evi_rtext_md(struct evi_rtext *t, const char *s)
{
    each_char(t, s, false, emit_md);
}

static void emit_plain(struct evi_rtext *t, const char *c, size_t n)
{
    evi_rtext_add(t, c, n);
}

void evi_rtext_pad(struct evi_rtext *t, const char *s, size_t width)
{
    size_t before = t->len, chars = 0;

    each_char(t, s, false, emit_plain);
    if (t->error != 0) {
        return;
    }
    for (size_t i = before; i < t->len; i++) {
        chars += ((unsigned char)t->data[i] & 0xc0) != 0x80;
    }
    for (; chars < width; chars++) {
        evi_rtext_add(t, " ", 1);
    }
}

void evi_rtext_shell(struct evi_rtext *t, const char *s)
{
    bool plain = s[0] != '\0';
    for (const char *p = s; *p; p++) {
        plain = plain && (strchr("+-./:=@_,%", *p) != NULL || (*p >= '0' && *p <= '9') ||
                          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
    }
    if (plain) {
        evi_rtext_puts(t, s);
        return;
    }
    evi_rtext_add(t, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            evi_rtext_puts(t, "'\\''");
        } else {
            evi_rtext_add(t, p, 1);
        }
    }
    evi_rtext_add(t, "'", 1);
}

int evi_rtext_finish(struct evi_rtext *t, char **ret_text, size_t *ret_len)
{
    if (t->error == 0) {
        (void)reserve(t, 0);
    }
    if (t->error != 0) {
        int r = t->error;
        evi_rtext_free(t);
        return r;
    }
    *ret_text = t->data;
    *ret_len = t->len;
    t->data = NULL;
    t->len = t->cap = 0;
    return 0;
}

void evi_rtext_free(struct evi_rtext *t)
{
    free(t->data);
    t->data = NULL;
    t->len = t->cap = 0;
}

size_t evi_rep_utf8_prefix(const char *s, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len) {
        size_t n = evi_utf8_decode((const uint8_t *)s + i, len - i, NULL);
        if (n == 0) {
            n = 1;
        }
        if (i + n > max) {
            break;
        }
        i += n;
    }
    return i;
}

static void format_time(int64_t ns, bool minutes, char out[32])
{
    int64_t secs = ns / 1000000000;
    if (ns < 0 && ns % 1000000000 != 0) {
        secs--;
    }
    time_t tt = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL ||
        (minutes ? strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm)
                 : strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) == 0) {
        (void)snprintf(out, 32, "?");
    }
}

void evi_rep_time(int64_t ns, char out[32])
{
    format_time(ns, false, out);
}

void evi_rep_time_short(int64_t ns, char out[32])
{
    format_time(ns, true, out);
}
