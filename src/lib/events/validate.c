/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checking an event struct against its schema, however it was filled: the C
 * API hands us structs directly, and decode.c fills them from JSON. Errors
 * name the field by its path ("code_execution.language: required").
 *
 * Every event is validated on the append path, so the path of a field is a
 * chain of names on the stack, written out only when there is an error.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "events/events.h"

#define PATH_MAX_LEN 192

/* "data", then ".findings", then "[3]", then ".line": one link per step. */
struct vpath {
    const struct vpath *parent;
    const char *name; /* NULL for an index step */
    size_t index;
};

static size_t render(const struct vpath *p, char *out, size_t cap)
{
    size_t len = p->parent != NULL ? render(p->parent, out, cap) : 0;
    int n;
    if (p->name == NULL) {
        n = snprintf(out + len, cap - len, "[%zu]", p->index);
    } else {
        n = snprintf(out + len, cap - len, "%s%s", p->parent != NULL ? "." : "", p->name);
    }
    if (n > 0) {
        len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
    }
    return len;
}

static int fail(const struct vpath *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const struct vpath *p, const char *fmt, ...)
{
    char path[PATH_MAX_LEN], what[256];
    va_list ap;
    render(p, path, sizeof(path));
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return evi_error(EV_EFORMAT, "%s: %s", path, what);
}

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

static int check_length(const struct vpath *p, const char *s, int64_t max)
{
    if (max <= 0) {
        return 0;
    }
    size_t len = strnlen(s, (size_t)max + 1);
    if (len > (size_t)max) {
        return fail(p, "%zu bytes, over the limit of %lld", strlen(s), (long long)max);
    }
    return 0;
}

static int validate_object(const struct evi_schema *schema, const void *obj,
                           const struct vpath *path, bool quick, bool *ret_any);

/* ret_len: where a string row's length goes once checked (NULL: not wanted). Out of line: the
 * common rows are checked in validate_object(). */
static __attribute__((noinline)) int validate_field(const struct evi_field *f, const void *obj,
                                                    const struct vpath *parent, size_t *ret_len,
                                                    bool quick)
{
    const struct vpath here = {parent, f->name, 0};
    const void *p = at(obj, f->offset);
    bool required = (f->flags & EVI_REQUIRED) != 0;

    switch (f->kind) {
    case EV_FIELD_STRING: {
        const char *s = *(const char *const *)p;
        if (s == NULL) {
            return required ? fail(&here, "required") : 0;
        }
        if (required && s[0] == '\0') {
            return fail(&here, "must not be empty");
        }
        if (ret_len != NULL && f->max > 0) {
            /* check_length(), keeping the length for the encoder. */
            size_t len = strnlen(s, (size_t)f->max + 1);
            if (len > (size_t)f->max) {
                return fail(&here, "%zu bytes, over the limit of %lld", strlen(s),
                            (long long)f->max);
            }
            *ret_len = len;
            return 0;
        }
        return check_length(&here, s, f->max);
    }
    case EV_FIELD_DIGEST: {
        const char *s = *(const char *const *)p;
        if (s == NULL) {
            return required ? fail(&here, "required") : 0;
        }
        return is_hex64(s) ? 0 : fail(&here, "expected a SHA-256 as 64 lower-case hex digits");
    }
    case EV_FIELD_INT: {
        int64_t v;
        if (f->flags & EVI_PLAIN_INT) {
            v = *(const int64_t *)p;
        } else {
            const struct ev_opt_int *o = p;
            if (!o->set) {
                return required ? fail(&here, "required") : 0;
            }
            v = o->value;
        }
        if (v < f->min || v > f->max) {
            return fail(&here, "%lld is outside %lld..%lld", (long long)v, (long long)f->min,
                        (long long)f->max);
        }
        return 0;
    }
    case EV_FIELD_BOOL:
        return !((const struct ev_opt_bool *)p)->set && required ? fail(&here, "required") : 0;
    case EV_FIELD_ENUM: {
        int v = *(const int *)p;
        if (v == 0) {
            return required ? fail(&here, "required") : 0;
        }
        size_t n = f->enum_count;
        if (n == 0) {
            while (f->enum_names[n] != NULL) {
                n++;
            }
        }
        return v < 0 || (size_t)v >= n
                   ? fail(&here, "value %d is not one of the documented ones", v)
                   : 0;
    }
    case EV_FIELD_STRINGS: {
        const struct ev_strings *l = p;
        if (l->count > (size_t)f->max) {
            return fail(&here, "%zu items, over the limit of %lld", l->count, (long long)f->max);
        }
        if (l->count > 0 && l->items == NULL) {
            return fail(&here, "items missing");
        }
        for (size_t i = 0; i < l->count; i++) {
            const struct vpath item = {&here, NULL, i};
            if (l->items[i] == NULL) {
                return fail(&item, "NULL");
            }
            int r = check_length(&item, l->items[i], (int64_t)f->item_max);
            if (r < 0) {
                return r;
            }
        }
        return 0;
    }
    case EV_FIELD_CAPTURE: {
        const struct ev_capture *c = p;
        if (c->data != NULL) {
            return 0;
        }
        if (c->sha256 != NULL && !is_hex64(c->sha256)) {
            const struct vpath sub = {&here, "sha256", 0};
            return fail(&sub, "expected a SHA-256 as 64 lower-case hex digits");
        }
        if (c->bytes.set && c->bytes.value < 0) {
            const struct vpath sub = {&here, "bytes", 0};
            return fail(&sub, "must not be negative");
        }
        return 0;
    }
    case EV_FIELD_OBJECT: return validate_object(f->sub, p, &here, quick, NULL);
    case EV_FIELD_OBJECTS: {
        const void *items = *(const void *const *)p;
        size_t count = *(const size_t *)at(obj, f->count_offset);
        if (count > (size_t)f->max) {
            return fail(&here, "%zu items, over the limit of %lld", count, (long long)f->max);
        }
        if (count > 0 && items == NULL) {
            return fail(&here, "items missing");
        }
        for (size_t i = 0; i < count; i++) {
            const struct vpath item = {&here, NULL, i};
            int r = validate_object(f->sub, at(items, i * f->item_size), &item, quick, NULL);
            if (r < 0) {
                return r;
            }
        }
        return 0;
    }
    case EV_FIELD_JSON: {
        /* Well-formedness is checked when it is canonicalized (encode.c). */
        const char *s = *(const char *const *)p;
        return s != NULL ? check_length(&here, s, EV_ENTRY_MAX_BYTES) : 0;
    }
    }
    return 0;
}

/*
 * Whether validate_field() has nothing to check: an optional field left
 * unset, as most rows of an event are (the same tests it starts with).
 */
static bool optional_unset(const struct evi_field *f, const void *obj)
{
    const void *p = at(obj, f->offset);
    if (f->flags & EVI_REQUIRED) {
        return f->kind == EV_FIELD_JSON && *(const char *const *)p == NULL;
    }
    switch (f->kind) {
    case EV_FIELD_STRING:
    case EV_FIELD_DIGEST:
    case EV_FIELD_JSON: return *(const char *const *)p == NULL;
    case EV_FIELD_INT: return !(f->flags & EVI_PLAIN_INT) && !((const struct ev_opt_int *)p)->set;
    case EV_FIELD_BOOL: return true;
    case EV_FIELD_ENUM: return *(const int *)p == 0;
    default: return false;
    }
}

/*
 * A set string row with a limit, within it, as validate_field() checks it (which says what is
 * wrong otherwise): true and its length in *ret_len.
 */
static inline bool string_fits(const struct evi_field *f, const char *s, size_t *ret_len)
{
    if (s != NULL && (s[0] != '\0' || !(f->flags & EVI_REQUIRED))) {
        size_t len = strnlen(s, (size_t)f->max + 1);
        if (len <= (size_t)f->max) {
            *ret_len = len;
            return true;
        }
    }
    return false;
}

/*
 * quick: pass over the common rows before validate_field() (false: the reference, for tests).
 * ret_any (NULL: not wanted): whether a row that is not EVI_DERIVED is set (evi_object_set()),
 * on success.
 */
static int validate_object(const struct evi_schema *schema, const void *obj,
                           const struct vpath *path, bool quick, bool *ret_any)
{
    bool any = false;
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        if (f->flags & EVI_DERIVED) {
            continue; /* EVI_OUT_DERIVED values given are checked like any other */
        }
        if (quick && optional_unset(f, obj)) {
            /* Unset, but for an optional bool, which optional_unset() passes either way. */
            if (ret_any != NULL && f->kind == EV_FIELD_BOOL) {
                any = any || ((const struct ev_opt_bool *)at(obj, f->offset))->set;
            }
            continue;
        }
        if (ret_any != NULL && !any) {
            any = evi_field_set(f, at(obj, f->offset));
        }
        size_t len;
        if (quick && f->kind == EV_FIELD_STRING && f->max > 0 &&
            string_fits(f, *(const char *const *)at(obj, f->offset), &len)) {
            continue;
        }
        int r = validate_field(f, obj, path, NULL, quick);
        if (r < 0) {
            return r;
        }
    }
    if (ret_any != NULL) {
        *ret_any = any;
    }
    return 0;
}

/* The rows of a merged table's event that are set, objects aside (evi_field_set() says the
 * same; struct evi_schema.probes), a load per row. */
static uint64_t rows_set(const struct evi_schema *schema, const void *event)
{
    const struct evi_set_probe *p = schema->probes;
    const uint8_t *end = schema->probe_end;
    uint64_t set = schema->always_set;
    size_t k = 0;
    for (; k < end[EVI_SET_POINTER]; k++) {
        set |= (uint64_t)(*(const void *const *)at(event, p[k].offset) != NULL) << p[k].row;
    }
    for (; k < end[EVI_SET_FLAG]; k++) {
        set |= (uint64_t) * (const bool *)at(event, p[k].offset) << p[k].row;
    }
    for (; k < end[EVI_SET_ENUM]; k++) {
        set |= (uint64_t)(*(const int *)at(event, p[k].offset) != 0) << p[k].row;
    }
    for (; k < end[EVI_SET_COUNT]; k++) {
        set |= (uint64_t)(*(const size_t *)at(event, p[k].offset) != 0) << p[k].row;
    }
    for (; k < end[EVI_SET_CAPTURE]; k++) {
        set |= (uint64_t)evi_capture_set(at(event, p[k].offset)) << p[k].row;
    }
    return set;
}

/*
 * validate_object() for the merged table of an event type, row masks in hand: an optional row
 * that is not set has nothing to check (see optional_unset()), so only the rows set and the
 * ones always checked (schema->checked) are visited, in row order, so that the first
 * failing row is the one the reference names. Fills rows.
 */
static int validate_rows(const struct evi_schema *schema, const void *event,
                         const struct vpath *path, struct evi_rows *rows)
{
    const struct evi_field *fields = schema->fields;
    uint64_t set = rows_set(schema, event);
    uint64_t known = rows->known & set;
    for (uint64_t todo = set | schema->checked; todo != 0; todo &= todo - 1) {
        size_t i = (size_t)__builtin_ctzll(todo);
        const struct evi_field *f = &fields[i];
        const void *p = at(event, f->offset);
        int r;
        if (f->kind == EV_FIELD_STRING && f->max > 0) {
            if (known & (todo & -todo)) {
                /* Set, its length given: string_fits() without the strnlen. */
                size_t len = rows->lengths[i];
                if (len <= (size_t)f->max && (len > 0 || !(f->flags & EVI_REQUIRED))) {
                    continue;
                }
            } else if (string_fits(f, *(const char *const *)p, &rows->lengths[i])) {
                continue;
            }
            r = validate_field(f, event, path, &rows->lengths[i], true);
        } else if (f->kind == EV_FIELD_ENUM && *(const int *)p > 0 &&
                   (size_t) * (const int *)p < f->enum_count) {
            continue; /* a documented value, as validate_field() checks it */
        } else if (f->kind == EV_FIELD_OBJECT) {
            const struct vpath here = {path, f->name, 0};
            bool any = false; /* validate_object() sets it only when the object is valid */
            r = validate_object(f->sub, p, &here, true, &any);
            set |= (uint64_t)any << i;
        } else {
            r = validate_field(f, event, path, NULL, true);
        }
        if (r < 0) {
            return r;
        }
    }
    rows->set = set;
    return 0;
}

static int validate_event(const struct evi_schema *schema, const void *event, const char *prefix,
                          struct evi_rows *rows, bool quick)
{
    const struct ev_common *common = event;
    const struct vpath root = {NULL, prefix, 0};
    if (common->severity.set &&
        (common->severity.value < EV_SEV_EMERGENCY || common->severity.value > EV_SEV_DEBUG)) {
        return fail(&root, "severity %lld is not a syslog severity (0..7)",
                    (long long)common->severity.value);
    }
    if (quick && schema->masks) {
        struct evi_rows own;
        if (rows == NULL) {
            own.known = 0;
            rows = &own;
        }
        return validate_rows(schema, event, &root, rows);
    }
    return validate_object(schema, event, &root, quick, NULL);
}

int evi_event_validate(const struct evi_schema *schema, const void *event, const char *prefix,
                       struct evi_rows *ret_rows)
{
    if (ret_rows != NULL) {
        ret_rows->known = 0;
    }
    return validate_event(schema, event, prefix, ret_rows, true);
}

int evi_event_validate_known(const struct evi_schema *schema, const void *event, const char *prefix,
                             struct evi_rows *rows)
{
    return validate_event(schema, event, prefix, rows, true);
}

int evi_event_validate_reference(const struct evi_schema *schema, const void *event,
                                 const char *prefix)
{
    return validate_event(schema, event, prefix, NULL, false);
}
