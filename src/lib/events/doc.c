/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema as documentation (docs/EVENTS.md's field tables) and as answers
 * to tools (the kind of a field, for `evident event TYPE --field value`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "events/events.h"

static const char *kind_name(const struct evi_field *f)
{
    switch (f->kind) {
    case EV_FIELD_STRING: return "string";
    case EV_FIELD_INT: return "integer";
    case EV_FIELD_BOOL: return "boolean";
    case EV_FIELD_ENUM: return "enum";
    case EV_FIELD_STRINGS: return "array of strings";
    case EV_FIELD_CAPTURE: return "capture";
    case EV_FIELD_DIGEST: return "sha256";
    case EV_FIELD_OBJECT: return "object";
    case EV_FIELD_OBJECTS: return "array of objects";
    case EV_FIELD_JSON: return "JSON object";
    }
    return "?";
}

static void bounds(const struct evi_field *f, char *out, size_t cap)
{
    out[0] = '\0';
    switch (f->kind) {
    case EV_FIELD_STRING:
        if (f->max > 0) {
            (void)snprintf(out, cap, "<= %lld bytes", (long long)f->max);
        }
        break;
    case EV_FIELD_INT:
        if (f->flags & EVI_DERIVED) {
            break;
        }
        if (f->max == INT64_MAX || f->max == INT64_MAX / 8) {
            (void)snprintf(out, cap, ">= %lld", (long long)f->min);
        } else {
            (void)snprintf(out, cap, "%lld .. %lld", (long long)f->min, (long long)f->max);
        }
        break;
    case EV_FIELD_ENUM: {
        char list[256];
        evi_enum_list(f, list, sizeof(list));
        (void)snprintf(out, cap, "%s", list);
        break;
    }
    case EV_FIELD_STRINGS:
        if (f->max > 0) {
            (void)snprintf(out, cap, "<= %lld items of <= %zu bytes", (long long)f->max,
                           f->item_max);
        }
        break;
    case EV_FIELD_OBJECTS: (void)snprintf(out, cap, "<= %lld items", (long long)f->max); break;
    case EV_FIELD_DIGEST: (void)snprintf(out, cap, "64 lower-case hex digits"); break;
    default: break;
    }
}

static const char *const level_words[] = {"all", "basic, comprehensive", "comprehensive"};

static void table(FILE *out, const struct evi_schema *schema)
{
    (void)fprintf(out, "| field | kind | unit | bounds | required | kept at | meaning |\n"
                       "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        char b[300];
        bounds(f, b, sizeof(b));
        const char *kind = kind_name(f);
        char sub[96];
        if (f->sub != NULL) {
            (void)snprintf(sub, sizeof(sub), "%s (%s)", kind, f->sub->name);
            kind = sub;
        }
        (void)fprintf(out, "| `%s` | %s | %s | %s | %s | %s | %s |\n", f->name, kind,
                      f->unit != NULL ? f->unit : "", b,
                      (f->flags & EVI_REQUIRED)  ? "yes"
                      : (f->flags & EVI_DERIVED) ? "set by evident"
                                                 : "",
                      level_words[f->level], f->doc != NULL ? f->doc : "");
    }
    (void)fprintf(out, "\n");
}

static bool seen(const struct evi_schema **list, size_t n, const struct evi_schema *s)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == s) {
            return true;
        }
    }
    return false;
}

int ev_event_schema_markdown(char **ret_text)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    const struct evi_schema *subs[16];
    size_t nsubs = 0;

    if (out == NULL) {
        return -errno;
    }
    for (size_t t = 0; t < EV_TYPE_CUSTOM; t++) {
        const struct evi_schema *s = evi_schema_of((enum ev_event_type)t);
        (void)fprintf(out, "### `%s`\n\n", s->name);
        table(out, s);
        for (size_t i = 0; i < s->count; i++) {
            const struct evi_schema *sub = s->fields[i].sub;
            if (sub != NULL && !seen(subs, nsubs, sub) && nsubs < 16) {
                subs[nsubs++] = sub;
            }
        }
    }
    for (size_t i = 0; i < nsubs; i++) {
        (void)fprintf(out, "### object `%s`\n\n", subs[i]->name);
        table(out, subs[i]);
    }
    if (fclose(out) != 0) {
        free(text);
        return -ENOMEM;
    }
    *ret_text = text;
    return 0;
}

int ev_event_field_kind(enum ev_event_type type, const char *path, enum ev_field_kind *ret_kind)
{
    const struct evi_schema *schema = evi_schema_of(type);
    if (schema == NULL) {
        return evi_error(EV_EFORMAT, "custom types have no schema");
    }
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        const struct evi_field *f = evi_schema_field(schema, p, n);
        if (f == NULL || (f->flags & EVI_DERIVED)) {
            char list[768];
            evi_schema_input_fields(schema, list, sizeof(list));
            return evi_error(EV_EFORMAT, "%s has no field '%.64s' (it has: %s)", schema->name, path,
                             list);
        }
        if (dot == NULL) {
            *ret_kind = f->kind;
            return 0;
        }
        if (f->kind != EV_FIELD_OBJECT) {
            return evi_error(EV_EFORMAT, "%s: '%.*s' has no fields", schema->name, (int)n, p);
        }
        schema = f->sub;
        p = dot + 1;
    }
}
