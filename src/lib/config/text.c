/* SPDX-License-Identifier: Apache-2.0 */
/* A growable text buffer for the configuration's writers (dump, docs, example). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-internal.h"

static bool reserve(struct evi_text *t, size_t more)
{
    if (t->failed) {
        return false;
    }
    if (more < t->cap - t->len) {
        return true;
    }
    size_t cap = t->cap > 0 ? t->cap : 1024;
    while (cap - t->len <= more) {
        if (cap > SIZE_MAX / 2) {
            t->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *data = realloc(t->data, cap);
    if (data == NULL) {
        t->failed = true;
        return false;
    }
    t->data = data;
    t->cap = cap;
    return true;
}

static void add_bytes(struct evi_text *t, const char *s, size_t len)
{
    if (!reserve(t, len)) {
        return;
    }
    memcpy(t->data + t->len, s, len);
    t->len += len;
    t->data[t->len] = '\0';
}

void evi_text_add(struct evi_text *t, const char *s)
{
    add_bytes(t, s, strlen(s));
}

void evi_text_addf(struct evi_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n)) {
        t->failed = true;
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void evi_text_add_quoted(struct evi_text *t, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    add_bytes(t, "\"", 1);
    for (; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            add_bytes(t, "\\", 1);
            add_bytes(t, (const char *)p, 1);
        } else if (*p < 0x20 || *p == 0x7f) {
            char esc[5];
            (void)snprintf(esc, sizeof(esc), "\\x%02x", *p);
            add_bytes(t, esc, 4);
        } else if (*p == 0xc2 && p[1] == 0x85) {
            /* NEL, LS and PS are line breaks to YAML: written raw, they would fold to spaces. */
            add_bytes(t, "\\N", 2);
            p += 1;
        } else if (*p == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            add_bytes(t, p[2] == 0xa8 ? "\\L" : "\\P", 2);
            p += 2;
        } else {
            add_bytes(t, (const char *)p, 1);
        }
    }
    add_bytes(t, "\"", 1);
}

int evi_text_finish(struct evi_text *t, char **ret_text)
{
    if (!t->failed && t->data == NULL && reserve(t, 0)) {
        t->data[0] = '\0';
    }
    if (t->failed) {
        free(t->data);
        *t = (struct evi_text){0};
        return -ENOMEM;
    }
    *ret_text = t->data;
    *t = (struct evi_text){0};
    return 0;
}
