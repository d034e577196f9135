/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON data in: a typed event's data object decoded into its C struct with the
 * schema's rows, so the JSON and C ways in share every later step. Each value
 * is checked for its kind here; bounds and required fields are validate.c's.
 * Errors name the path ("data.findings[2].line: expected an integer").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "events/events.h"

#define PATH_MAX_LEN 160

void *evi_arena_alloc(struct evi_arena *arena, size_t size)
{
    if (arena->count == arena->cap) {
        size_t cap = arena->cap != 0 ? arena->cap * 2 : 8;
        void **blocks = realloc(arena->blocks, cap * sizeof(void *));
        if (blocks == NULL) {
            return NULL;
        }
        arena->blocks = blocks;
        arena->cap = cap;
    }
    void *p = calloc(1, size != 0 ? size : 1);
    if (p != NULL) {
        arena->blocks[arena->count++] = p;
    }
    return p;
}

void evi_arena_free(struct evi_arena *arena)
{
    for (size_t i = 0; i < arena->count; i++) {
        free(arena->blocks[i]);
    }
    free(arena->blocks);
    memset(arena, 0, sizeof(*arena));
}

static void *at(void *base, size_t offset)
{
    return (char *)base + offset;
}

static int decode_object(const struct evi_schema *schema, json_t *obj, void *out,
                         struct evi_arena *arena, const char *path);

static int want_string(json_t *v, const char *path, bool allow_nul, const char **ret,
                       size_t *ret_len)
{
    if (!json_is_string(v)) {
        return evi_error(EV_EJSON, "%s: expected a string", path);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!allow_nul && memchr(s, '\0', len) != NULL) {
        return evi_error(EV_EJSON, "%s: contains a NUL character", path);
    }
    *ret = s;
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return 0;
}

static int decode_field(const struct evi_field *f, json_t *v, void *out, struct evi_arena *arena,
                        const char *path)
{
    void *p = at(out, f->offset);
    switch (f->kind) {
    case EV_FIELD_STRING:
    case EV_FIELD_DIGEST: {
        size_t len = 0;
        int r = want_string(v, path, false, (const char **)p, &len);
        if (r == 0 && f->max > 0 && len > (size_t)f->max) {
            return evi_error(EV_EFORMAT, "%s: %zu bytes, over the limit of %lld", path, len,
                             (long long)f->max);
        }
        return r;
    }
    case EV_FIELD_INT:
        if (!json_is_integer(v)) {
            return evi_error(EV_EJSON, "%s: expected an integer", path);
        }
        if (f->flags & EVI_PLAIN_INT) {
            *(int64_t *)p = json_integer_value(v);
        } else {
            *(struct ev_opt_int *)p = EV_SOME_INT(json_integer_value(v));
        }
        return 0;
    case EV_FIELD_BOOL:
        if (!json_is_boolean(v)) {
            return evi_error(EV_EJSON, "%s: expected true or false", path);
        }
        *(struct ev_opt_bool *)p = EV_SOME_BOOL(json_is_true(v));
        return 0;
    case EV_FIELD_ENUM: {
        const char *s = NULL;
        int r = want_string(v, path, false, &s, NULL);
        if (r < 0) {
            return r;
        }
        for (int i = 1; f->enum_names[i] != NULL; i++) {
            if (strcmp(s, f->enum_names[i]) == 0) {
                *(int *)p = i;
                return 0;
            }
        }
        char list[256];
        evi_enum_list(f, list, sizeof(list));
        /* The value is not repeated: a secret put in the wrong field stays out of messages. */
        return evi_error(EV_EFORMAT, "%s: not one of: %s", path, list);
    }
    case EV_FIELD_STRINGS: {
        if (!json_is_array(v)) {
            return evi_error(EV_EJSON, "%s: expected an array of strings", path);
        }
        size_t n = json_array_size(v);
        if (n > (size_t)f->max) {
            return evi_error(EV_EFORMAT, "%s: %zu items, over the limit of %lld", path, n,
                             (long long)f->max);
        }
        const char **items = evi_arena_alloc(arena, n * sizeof(char *));
        if (items == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            char item[PATH_MAX_LEN + 24];
            (void)snprintf(item, sizeof(item), "%s[%zu]", path, i);
            int r = want_string(json_array_get(v, i), item, false, &items[i], NULL);
            if (r < 0) {
                return r;
            }
        }
        *(struct ev_strings *)p = (struct ev_strings){items, n};
        return 0;
    }
    case EV_FIELD_CAPTURE: {
        struct ev_capture *c = p;
        if (json_is_string(v)) {
            c->data = json_string_value(v);
            c->len = json_string_length(v);
            return 0;
        }
        if (!json_is_object(v)) {
            return evi_error(EV_EJSON,
                             "%s: expected a string (the text) or an object with sha256 "
                             "and bytes",
                             path);
        }
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m)
        {
            char sub[PATH_MAX_LEN + 16];
            (void)snprintf(sub, sizeof(sub), "%s.%s", path, key);
            if (strcmp(key, "sha256") == 0) {
                int r = want_string(m, sub, false, &c->sha256, NULL);
                if (r < 0) {
                    return r;
                }
            } else if (strcmp(key, "bytes") == 0) {
                if (!json_is_integer(m)) {
                    return evi_error(EV_EJSON, "%s: expected an integer", sub);
                }
                c->bytes = EV_SOME_INT(json_integer_value(m));
            } else {
                return evi_error(EV_EFORMAT, "%s: unknown field (expected sha256, bytes)", sub);
            }
        }
        return 0;
    }
    case EV_FIELD_OBJECT: return decode_object(f->sub, v, p, arena, path);
    case EV_FIELD_OBJECTS: {
        if (!json_is_array(v)) {
            return evi_error(EV_EJSON, "%s: expected an array of objects", path);
        }
        size_t n = json_array_size(v);
        if (n > (size_t)f->max) {
            return evi_error(EV_EFORMAT, "%s: %zu items, over the limit of %lld", path, n,
                             (long long)f->max);
        }
        char *items = evi_arena_alloc(arena, n * f->item_size);
        if (items == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            char item[PATH_MAX_LEN + 24];
            (void)snprintf(item, sizeof(item), "%s[%zu]", path, i);
            int r =
                decode_object(f->sub, json_array_get(v, i), items + i * f->item_size, arena, item);
            if (r < 0) {
                return r;
            }
        }
        *(void **)p = items;
        *(size_t *)at(out, f->count_offset) = n;
        return 0;
    }
    case EV_FIELD_JSON: {
        if (!json_is_object(v)) {
            return evi_error(EV_EJSON, "%s: expected a JSON object", path);
        }
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        if (text == NULL) {
            return -ENOMEM;
        }
        char *kept = evi_arena_alloc(arena, strlen(text) + 1);
        if (kept == NULL) {
            free(text);
            return -ENOMEM;
        }
        memcpy(kept, text, strlen(text) + 1);
        free(text);
        *(const char **)p = kept;
        return 0;
    }
    }
    return evi_error(EV_EFORMAT, "%s: unsupported field", path);
}

static int decode_object(const struct evi_schema *schema, json_t *obj, void *out,
                         struct evi_arena *arena, const char *path)
{
    if (!json_is_object(obj)) {
        return evi_error(EV_EJSON, "%s: expected an object", path);
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        char sub[PATH_MAX_LEN];
        (void)snprintf(sub, sizeof(sub), "%s.%.64s", path, key);
        const struct evi_field *f = evi_schema_field(schema, key, strlen(key));
        if (f == NULL) {
            char list[768];
            evi_schema_input_fields(schema, list, sizeof(list));
            return evi_error(EV_EFORMAT, "%s: unknown field (%s has: %s)", sub, schema->name, list);
        }
        if (f->flags & EVI_DERIVED) {
            return evi_error(EV_EFORMAT, "%s: set by evident, not by producers", sub);
        }
        int r = decode_field(f, value, out, arena, sub);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

int evi_event_decode(const struct evi_schema *schema, json_t *data, void *event,
                     struct evi_arena *arena)
{
    return decode_object(schema, data, event, arena, "data");
}
