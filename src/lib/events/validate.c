/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checking an event struct against its schema, however it was filled: the C
 * API hands us structs directly, and decode.c fills them from JSON. Errors
 * name the field by its path ("code_execution.language: required").
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "events/events.h"

#define PATH_MAX_LEN 160

static const void *at(const void *base, size_t offset)
{
    return (const char *)base + offset;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64) {
        return false;
    }
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int check_string(const char *path, const char *s, int64_t max)
{
    size_t len = strlen(s);
    if (max > 0 && len > (size_t)max) {
        return evi_error(EV_EFORMAT, "%s: %zu bytes, over the limit of %lld", path, len,
                         (long long)max);
    }
    return 0;
}

static int validate_object(const struct evi_schema *schema, const void *obj, const char *prefix);

static int validate_field(const struct evi_field *f, const void *obj, const char *prefix)
{
    const void *p = at(obj, f->offset);
    /* The field's path ("data.actor.uid"), formatted only when it is needed. */
    char path_buf[PATH_MAX_LEN];
#define FIELD_PATH (snprintf(path_buf, sizeof(path_buf), "%s.%s", prefix, f->name), path_buf)
    switch (f->kind) {
    case EV_FIELD_STRING: {
        const char *s = *(const char *const *)p;
        if (s == NULL) {
            return (f->flags & EVI_REQUIRED) ? evi_error(EV_EFORMAT, "%s: required", FIELD_PATH)
                                             : 0;
        }
        if ((f->flags & EVI_REQUIRED) && s[0] == '\0') {
            return evi_error(EV_EFORMAT, "%s: must not be empty", FIELD_PATH);
        }
        return f->max > 0 && strlen(s) > (size_t)f->max ? check_string(FIELD_PATH, s, f->max) : 0;
    }
    case EV_FIELD_DIGEST: {
        const char *s = *(const char *const *)p;
        if (s == NULL) {
            return (f->flags & EVI_REQUIRED) ? evi_error(EV_EFORMAT, "%s: required", FIELD_PATH)
                                             : 0;
        }
        if (!is_hex64(s)) {
            return evi_error(EV_EFORMAT, "%s: expected a SHA-256 as 64 lower-case hex digits",
                             FIELD_PATH);
        }
        return 0;
    }
    case EV_FIELD_INT: {
        int64_t v;
        if (f->flags & EVI_PLAIN_INT) {
            v = *(const int64_t *)p;
        } else {
            const struct ev_opt_int *o = p;
            if (!o->set) {
                return (f->flags & EVI_REQUIRED) ? evi_error(EV_EFORMAT, "%s: required", FIELD_PATH)
                                                 : 0;
            }
            v = o->value;
        }
        if (v < f->min || v > f->max) {
            return evi_error(EV_EFORMAT, "%s: %lld is outside %lld..%lld", FIELD_PATH, (long long)v,
                             (long long)f->min, (long long)f->max);
        }
        return 0;
    }
    case EV_FIELD_BOOL: {
        const struct ev_opt_bool *o = p;
        return (!o->set && (f->flags & EVI_REQUIRED))
                   ? evi_error(EV_EFORMAT, "%s: required", FIELD_PATH)
                   : 0;
    }
    case EV_FIELD_ENUM: {
        int v = *(const int *)p;
        if (v == 0) {
            return (f->flags & EVI_REQUIRED) ? evi_error(EV_EFORMAT, "%s: required", FIELD_PATH)
                                             : 0;
        }
        int n = 0;
        while (f->enum_names[n] != NULL) {
            n++;
        }
        if (v < 0 || v >= n) {
            return evi_error(EV_EFORMAT, "%s: value %d is not one of the documented ones",
                             FIELD_PATH, v);
        }
        return 0;
    }
    case EV_FIELD_STRINGS: {
        const struct ev_strings *l = p;
        if (l->count > (size_t)f->max) {
            return evi_error(EV_EFORMAT, "%s: %zu items, over the limit of %lld", FIELD_PATH,
                             l->count, (long long)f->max);
        }
        if (l->count > 0 && l->items == NULL) {
            return evi_error(EV_EFORMAT, "%s: items missing", FIELD_PATH);
        }
        for (size_t i = 0; i < l->count; i++) {
            if (l->items[i] == NULL || strlen(l->items[i]) > f->item_max) {
                char item[PATH_MAX_LEN + 24];
                (void)snprintf(item, sizeof(item), "%s[%zu]", FIELD_PATH, i);
                if (l->items[i] == NULL) {
                    return evi_error(EV_EFORMAT, "%s: NULL", item);
                }
                return check_string(item, l->items[i], (int64_t)f->item_max);
            }
        }
        return 0;
    }
    case EV_FIELD_CAPTURE: {
        const struct ev_capture *c = p;
        if (c->data != NULL) {
            return c->len > (size_t)INT64_MAX ? evi_error(EV_EFORMAT, "%s: too long", FIELD_PATH)
                                              : 0;
        }
        if (c->sha256 != NULL && !is_hex64(c->sha256)) {
            return evi_error(EV_EFORMAT,
                             "%s.sha256: expected a SHA-256 as 64 lower-case hex digits",
                             FIELD_PATH);
        }
        if (c->bytes.set && c->bytes.value < 0) {
            return evi_error(EV_EFORMAT, "%s.bytes: must not be negative", FIELD_PATH);
        }
        return 0;
    }
    case EV_FIELD_OBJECT: return validate_object(f->sub, p, FIELD_PATH);
    case EV_FIELD_OBJECTS: {
        const void *items = *(const void *const *)p;
        size_t count = *(const size_t *)at(obj, f->count_offset);
        if (count > (size_t)f->max) {
            return evi_error(EV_EFORMAT, "%s: %zu items, over the limit of %lld", FIELD_PATH, count,
                             (long long)f->max);
        }
        if (count > 0 && items == NULL) {
            return evi_error(EV_EFORMAT, "%s: items missing", FIELD_PATH);
        }
        for (size_t i = 0; i < count; i++) {
            char item[PATH_MAX_LEN + 24];
            (void)snprintf(item, sizeof(item), "%s[%zu]", FIELD_PATH, i);
            int r = validate_object(f->sub, at(items, i * f->item_size), item);
            if (r < 0) {
                return r;
            }
        }
        return 0;
    }
    case EV_FIELD_JSON: {
        const char *s = *(const char *const *)p;
        /* Well-formedness is checked when it is canonicalized (encode.c). */
        return s != NULL ? check_string(FIELD_PATH, s, EV_ENTRY_MAX_BYTES) : 0;
    }
    }
    return 0;
}
#undef FIELD_PATH

static int validate_object(const struct evi_schema *schema, const void *obj, const char *prefix)
{
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        if (f->flags & EVI_DERIVED) {
            continue; /* EVI_OUT_DERIVED values given are checked like any other */
        }
        int r = validate_field(f, obj, prefix);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

int evi_event_validate(const struct evi_schema *schema, const void *event, const char *prefix)
{
    const struct ev_common *common = event;
    if (common->severity.set &&
        (common->severity.value < EV_SEV_EMERGENCY || common->severity.value > EV_SEV_DEBUG)) {
        return evi_error(EV_EFORMAT, "%s: severity %lld is not a syslog severity (0..7)", prefix,
                         (long long)common->severity.value);
    }
    return validate_object(schema, event, prefix);
}
