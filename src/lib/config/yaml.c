/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the configuration file: libyaml's event parser (the only libyaml
 * user) builds a small tree of the document, then the tree is walked against
 * the option table.
 *
 * libyaml's document loader is not used because it resolves aliases and
 * gives every node a default tag, so a file could not be refused for using
 * them. Here every node remembers its anchor, tag or alias and the walk
 * refuses them where it meets them, with the key's path. The tree is bounded
 * (EV_CONFIG_MAX_NODES nodes, EV_CONFIG_MAX_DEPTH levels) and lives in one
 * array, freed at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config-internal.h"
#include "error.h"

#define NONE SIZE_MAX
#define PATH_MAX_TEXT 256
#define KEY_SHOWN 64         /* bytes of a key quoted in a message */
#define MAX_RECORD_FIELDS 64 /* fields of one table, for the seen[] arrays */

enum node_kind { NODE_SCALAR, NODE_SEQUENCE, NODE_MAPPING, NODE_ALIAS };

struct node {
    enum node_kind kind;
    bool plain;       /* scalars: unquoted */
    bool anchor;      /* &name */
    bool tag;         /* !tag */
    size_t line, col; /* 1-based */
    char *text;       /* scalars: NUL-terminated */
    size_t len;
    size_t first, last, next; /* children (mappings: key, value, key, value, ...) */
    size_t count;
};

struct reader {
    const char *name;
    struct node *nodes;
    size_t node_count, node_cap;
    size_t *where; /* per row of evi_config_options: the value node that set it */
    struct ev_config *config;
};

/* ---- messages ------------------------------------------------------------- */

/* Key paths in messages; a path longer than PATH_MAX_TEXT is cut, which only shortens a message. */
static void set_path(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static int fail(const struct reader *r, size_t at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(const struct reader *r, size_t at, const char *path, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    const struct node *n = &r->nodes[at];

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path == NULL || path[0] == '\0') {
        return evi_error(EV_EFORMAT, "%s:%zu:%zu: %s", r->name, n->line, n->col, msg);
    }
    return evi_error(EV_EFORMAT, "%s:%zu:%zu: %s: %s", r->name, n->line, n->col, path, msg);
}

static int out_of_memory(void)
{
    return evi_error(-ENOMEM, "out of memory reading the configuration");
}

/* ---- building the tree ---------------------------------------------------- */

static int add_node(struct reader *r, const yaml_event_t *ev, enum node_kind kind, size_t parent,
                    size_t *ret_index)
{
    struct node *n;

    if (r->node_count >= EV_CONFIG_MAX_NODES) {
        return evi_error(EV_EFORMAT, "%s:%zu:%zu: more than %d keys and values", r->name,
                         (size_t)ev->start_mark.line + 1, (size_t)ev->start_mark.column + 1,
                         EV_CONFIG_MAX_NODES);
    }
    if (r->node_count == r->node_cap) {
        size_t cap = r->node_cap > 0 ? r->node_cap * 2 : 64;
        struct node *nodes = realloc(r->nodes, cap * sizeof(*nodes));
        if (nodes == NULL) {
            return out_of_memory();
        }
        r->nodes = nodes;
        r->node_cap = cap;
    }
    n = &r->nodes[r->node_count];
    *n = (struct node){
        .kind = kind,
        .line = (size_t)ev->start_mark.line + 1,
        .col = (size_t)ev->start_mark.column + 1,
        .first = NONE,
        .last = NONE,
        .next = NONE,
    };
    if (kind == NODE_SCALAR) {
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->anchor = ev->data.scalar.anchor != NULL;
        n->tag = ev->data.scalar.tag != NULL;
        n->len = ev->data.scalar.length;
        n->text = malloc(n->len + 1);
        if (n->text == NULL) {
            return out_of_memory();
        }
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
    } else if (kind == NODE_SEQUENCE) {
        n->anchor = ev->data.sequence_start.anchor != NULL;
        n->tag = ev->data.sequence_start.tag != NULL;
    } else if (kind == NODE_MAPPING) {
        n->anchor = ev->data.mapping_start.anchor != NULL;
        n->tag = ev->data.mapping_start.tag != NULL;
    }
    *ret_index = r->node_count++;
    if (parent != NONE) {
        struct node *p = &r->nodes[parent];
        if (p->last == NONE) {
            p->first = *ret_index;
        } else {
            r->nodes[p->last].next = *ret_index;
        }
        p->last = *ret_index;
        p->count++;
    }
    return 0;
}

static int syntax_error(const struct reader *r, const yaml_parser_t *parser)
{
    const char *problem = parser->problem != NULL ? parser->problem : "malformed YAML";

    if (parser->error == YAML_READER_ERROR) {
        return evi_error(EV_EFORMAT, "%s: byte %zu: %s", r->name, (size_t)parser->problem_offset,
                         problem);
    }
    if (parser->error == YAML_MEMORY_ERROR) {
        return out_of_memory();
    }
    return evi_error(EV_EFORMAT, "%s:%zu:%zu: %s", r->name, (size_t)parser->problem_mark.line + 1,
                     (size_t)parser->problem_mark.column + 1, problem);
}

/* Builds the tree of the one document in text; *ret_root is NONE for an empty file. */
static int build(struct reader *r, const char *text, size_t len, size_t *ret_root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t stack[EV_CONFIG_MAX_DEPTH];
    size_t depth = 0, root = NONE, index, documents = 0;
    bool done = false;
    int ret = 0;

    if (!yaml_parser_initialize(&parser)) {
        return out_of_memory();
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && ret == 0) {
        if (!yaml_parser_parse(&parser, &ev)) {
            ret = syntax_error(r, &parser);
            break;
        }
        size_t parent = depth > 0 ? stack[depth - 1] : NONE;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                ret = evi_error(EV_EFORMAT, "%s:%zu:%zu: more than one document", r->name,
                                (size_t)ev.start_mark.line + 1, (size_t)ev.start_mark.column + 1);
            }
            break;
        case YAML_ALIAS_EVENT: ret = add_node(r, &ev, NODE_ALIAS, parent, &index); break;
        case YAML_SCALAR_EVENT: ret = add_node(r, &ev, NODE_SCALAR, parent, &index); break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == EV_CONFIG_MAX_DEPTH) {
                ret = evi_error(EV_EFORMAT, "%s:%zu:%zu: nested deeper than %d levels", r->name,
                                (size_t)ev.start_mark.line + 1, (size_t)ev.start_mark.column + 1,
                                EV_CONFIG_MAX_DEPTH);
                break;
            }
            ret =
                add_node(r, &ev, ev.type == YAML_MAPPING_START_EVENT ? NODE_MAPPING : NODE_SEQUENCE,
                         parent, &index);
            if (ret == 0) {
                stack[depth++] = index;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        default: break;
        }
        if (ret == 0 && parent == NONE && root == NONE &&
            (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT ||
             ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)) {
            root = index;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    *ret_root = root;
    return ret;
}

static void free_tree(struct reader *r)
{
    for (size_t i = 0; i < r->node_count; i++) {
        free(r->nodes[i].text);
    }
    free(r->nodes);
    r->nodes = NULL;
    r->node_count = r->node_cap = 0;
}

/* ---- walking the tree ----------------------------------------------------- */

static bool is_null(const struct node *n)
{
    struct evi_config_scalar s = {n->text, n->len, n->plain};
    return n->kind == NODE_SCALAR && evi_config_scalar_is_null(&s);
}

/* Anchors, aliases and tags are refused wherever they appear. */
static int check_plain_yaml(const struct reader *r, size_t at, const char *path)
{
    const struct node *n = &r->nodes[at];

    if (n->kind == NODE_ALIAS || n->anchor) {
        return fail(r, at, path, "anchors and aliases are not allowed");
    }
    if (n->tag) {
        return fail(r, at, path, "tags are not allowed");
    }
    return 0;
}

static const char *shape(const struct node *n)
{
    return n->kind == NODE_MAPPING ? "a mapping" : n->kind == NODE_SEQUENCE ? "a list" : "a value";
}

/* Edit distance, for "did you mean"; both strings at most KEY_SHOWN bytes. */
static size_t distance(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t row[KEY_SHOWN + 1];

    for (size_t j = 0; j <= blen; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= alen; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t up = row[j];
            size_t best = diagonal + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diagonal = up;
        }
    }
    return row[blen];
}

struct suggestion {
    const char *key; /* the unknown key */
    size_t key_len;
    char best[KEY_SHOWN + 1];
    size_t best_distance;
};

/* Considers candidate, the first component of rest (up to a dot). */
static void consider(struct suggestion *s, const char *rest)
{
    size_t len = strcspn(rest, ".");

    if (len > KEY_SHOWN || s->key_len > KEY_SHOWN) {
        return;
    }
    size_t d = distance(s->key, s->key_len, rest, len);
    if (d < s->best_distance) {
        s->best_distance = d;
        memcpy(s->best, rest, len);
        s->best[len] = '\0';
    }
}

static int unknown_key(const struct reader *r, size_t at, const char *path, const char *prefix,
                       const struct evi_config_option *fields, size_t field_count, bool sections)
{
    const struct node *key = &r->nodes[at];
    struct suggestion s = {.key = key->text, .key_len = key->len, .best_distance = SIZE_MAX};
    size_t prefix_len = strlen(prefix);
    const char *dot = strrchr(key->text, '.');
    char full[PATH_MAX_TEXT];

    set_path(full, sizeof(full), "%s%s", prefix, key->text);
    for (size_t i = 0; sections && evi_config_renamed[i].old_path != NULL; i++) {
        if (strcmp(evi_config_renamed[i].old_path, full) == 0) {
            return fail(r, at, path, "renamed: use %s (docs/CONFIG.md)",
                        evi_config_renamed[i].new_path);
        }
    }
    if (dot != NULL && strlen(key->text) == key->len) {
        char dotted[PATH_MAX_TEXT];
        set_path(dotted, sizeof(dotted), "%s%s", prefix, key->text);
        for (size_t i = 0; i < field_count; i++) {
            if (strcmp(fields[i].path, dotted) == 0) {
                return fail(r, at, path, "unknown key (nest it: %.*s: then %s:)",
                            (int)(dot - key->text), key->text, dot + 1);
            }
        }
    }

    for (size_t i = 0; i < field_count; i++) {
        if (strncmp(fields[i].path, prefix, prefix_len) == 0) {
            consider(&s, fields[i].path + prefix_len);
        }
    }
    for (size_t i = 0; sections && i < evi_config_section_count; i++) {
        if (strncmp(evi_config_sections[i].path, prefix, prefix_len) == 0) {
            consider(&s, evi_config_sections[i].path + prefix_len);
        }
    }
    if (s.best_distance <= 2 || (s.best_distance < SIZE_MAX && s.best_distance * 3 <= s.key_len)) {
        return fail(r, at, path, "unknown key (did you mean '%s'?)", s.best);
    }
    return fail(r, at, path, "unknown key");
}

/* The key node at `at` as a path component; fails unless it is a plain string key. */
static int key_text(const struct reader *r, size_t at, const char *prefix, char *path, size_t cap)
{
    const struct node *key = &r->nodes[at];
    int ret = check_plain_yaml(r, at, prefix);

    if (ret < 0) {
        return ret;
    }
    if (key->kind != NODE_SCALAR) {
        return fail(r, at, prefix, "keys must be strings, not %s", shape(key));
    }
    set_path(path, cap, "%s%.*s", prefix, KEY_SHOWN, key->text);
    return 0;
}

/* A key seen before in the same mapping (keys before i are all known and distinct). */
static int duplicate_key(const struct reader *r, size_t map, size_t key, const char *path)
{
    const struct node *k = &r->nodes[key];

    for (size_t i = r->nodes[map].first; i != key; i = r->nodes[r->nodes[i].next].next) {
        const struct node *other = &r->nodes[i];
        if (other->len == k->len && memcmp(other->text, k->text, k->len) == 0) {
            return fail(r, key, path, "duplicate key (first at line %zu)", other->line);
        }
    }
    return 0;
}

static int walk_mapping(struct reader *r, size_t map, const char *shown, const char *prefix,
                        const struct evi_config_option *fields, size_t field_count, void *base,
                        size_t *where);

static int parse_scalar(struct reader *r, const struct evi_config_option *o, size_t at,
                        const char *path, void *dst)
{
    const struct node *n = &r->nodes[at];
    struct evi_config_scalar s = {n->text, n->len, n->plain};
    char msg[240];
    bool oom;
    const char *why;

    if (n->kind != NODE_SCALAR) {
        return fail(r, at, path, "expected a single value, not %s", shape(n));
    }
    why = evi_config_value_parse(o, &s, dst, msg, sizeof(msg), &oom);
    if (oom) {
        return out_of_memory();
    }
    return why != NULL ? fail(r, at, path, "%s", why) : 0;
}

static int walk_list(struct reader *r, const struct evi_config_option *o, size_t at,
                     const char *path, void *base)
{
    const struct evi_config_option item = {.path = o->path, .kind = o->item};
    char **items = (char **)((char *)base + o->offset);
    size_t *count = (size_t *)((char *)base + o->count_offset);
    char shown[PATH_MAX_TEXT];
    int ret;

    /* The file's list replaces the default one. */
    for (size_t k = 0; k < *count && k < o->max; k++) {
        free(items[k]);
        items[k] = NULL;
    }
    *count = 0;
    if (is_null(&r->nodes[at])) {
        return 0;
    }
    if (r->nodes[at].kind != NODE_SEQUENCE) {
        return fail(r, at, path, "expected a %s", evi_config_kind_name(o));
    }
    for (size_t i = r->nodes[at].first; i != NONE; i = r->nodes[i].next) {
        set_path(shown, sizeof(shown), "%s[%zu]", path, *count);
        if (*count >= o->max) {
            return fail(r, i, path, "more than %llu items", (unsigned long long)o->max);
        }
        if ((ret = check_plain_yaml(r, i, shown)) < 0 ||
            (ret = parse_scalar(r, &item, i, shown, &items[*count])) < 0) {
            return ret;
        }
        (*count)++;
    }
    return 0;
}

/* Names in a list of records are unique (the first field is the name). */
static int unique_name(struct reader *r, const struct evi_config_option *o, void *base,
                       size_t index, size_t at, const char *path)
{
    const struct evi_config_record *rec = o->record;
    char *items = (char *)base + o->offset;
    const char *name = *(char **)(items + index * rec->size + rec->fields[0].offset);

    if (rec->fields[0].kind != EVI_CFG_NAME) {
        return 0;
    }
    for (size_t i = 0; i < index; i++) {
        if (strcmp(*(char **)(items + i * rec->size + rec->fields[0].offset), name) == 0) {
            return fail(r, at, path, "duplicate %s name '%s'", rec->what, name);
        }
    }
    return 0;
}

static int walk_records(struct reader *r, const struct evi_config_option *o, size_t at,
                        const char *path, void *base)
{
    const struct evi_config_record *rec = o->record;
    char *items = (char *)base + o->offset;
    size_t *count = (size_t *)((char *)base + o->count_offset);
    char shown[PATH_MAX_TEXT], field_path[PATH_MAX_TEXT];
    size_t where[MAX_RECORD_FIELDS];
    int ret;

    if (is_null(&r->nodes[at])) {
        return 0;
    }
    if (r->nodes[at].kind != NODE_SEQUENCE) {
        return fail(r, at, path, "expected a list of %ss", rec->what);
    }
    for (size_t i = r->nodes[at].first; i != NONE; i = r->nodes[i].next) {
        size_t index = *count;
        void *item = items + index * rec->size;
        set_path(shown, sizeof(shown), "%s[%zu]", path, index);
        if (index >= o->max) {
            return fail(r, i, path, "more than %llu %ss", (unsigned long long)o->max, rec->what);
        }
        if ((ret = check_plain_yaml(r, i, shown)) < 0) {
            return ret;
        }
        if (r->nodes[i].kind != NODE_MAPPING) {
            return fail(r, i, shown, "expected a mapping, not %s", shape(&r->nodes[i]));
        }
        /* Counted before it is filled, so that a failure frees what it holds. */
        memset(item, 0, rec->size);
        (*count)++;
        if ((ret = evi_config_record_defaults(rec->fields, rec->field_count, item)) < 0) {
            return ret == -ENOMEM ? out_of_memory() : ret;
        }
        set_path(field_path, sizeof(field_path), "%s.", shown);
        if ((ret = walk_mapping(r, i, field_path, "", rec->fields, rec->field_count, item, where)) <
            0) {
            return ret;
        }
        for (size_t f = 0; f < rec->field_count; f++) {
            if (rec->fields[f].default_text == NULL && where[f] == NONE) {
                return fail(r, i, shown, "missing %s", rec->fields[f].path);
            }
        }
        set_path(field_path, sizeof(field_path), "%s.%s", shown, rec->fields[0].path);
        if ((ret = unique_name(r, o, base, index, where[0], field_path)) < 0) {
            return ret;
        }
    }
    return 0;
}

static int walk_policies(struct reader *r, const struct evi_config_option *o, size_t at,
                         const char *path, void *base)
{
    const struct evi_config_record *rec = o->record;
    char *policies = (char *)base + o->offset;
    char shown[PATH_MAX_TEXT], prefix[PATH_MAX_TEXT];
    size_t where[MAX_RECORD_FIELDS];
    int ret;

    if (is_null(&r->nodes[at])) {
        return 0;
    }
    if (r->nodes[at].kind != NODE_MAPPING) {
        return fail(r, at, path, "expected a mapping from event type to policy");
    }
    set_path(prefix, sizeof(prefix), "%s.", path);
    for (size_t k = r->nodes[at].first; k != NONE; k = r->nodes[r->nodes[k].next].next) {
        size_t v = r->nodes[k].next;
        size_t type = EV_TYPE_COUNT;
        if ((ret = key_text(r, k, prefix, shown, sizeof(shown))) < 0) {
            return ret;
        }
        for (size_t t = 0; t < EV_TYPE_COUNT; t++) {
            if (strcmp(r->nodes[k].text, evi_config_type_names[t]) == 0) {
                type = t;
            }
        }
        if (type == EV_TYPE_COUNT) {
            if (strncmp(r->nodes[k].text, EV_CUSTOM_PREFIX, strlen(EV_CUSTOM_PREFIX)) == 0) {
                return fail(r, k, shown, "unknown event type (custom covers every custom.* type)");
            }
            struct suggestion s = {
                .key = r->nodes[k].text, .key_len = r->nodes[k].len, .best_distance = SIZE_MAX};
            for (size_t t = 0; t < EV_TYPE_COUNT; t++) {
                consider(&s, evi_config_type_names[t]);
            }
            if (s.best_distance <= 3) {
                return fail(r, k, shown, "unknown event type (did you mean '%s'?)", s.best);
            }
            return fail(r, k, shown, "unknown event type");
        }
        if ((ret = duplicate_key(r, at, k, shown)) < 0 ||
            (ret = check_plain_yaml(r, v, shown)) < 0) {
            return ret;
        }
        if (is_null(&r->nodes[v])) {
            continue;
        }
        if (r->nodes[v].kind != NODE_MAPPING) {
            return fail(r, v, shown, "expected a mapping, not %s", shape(&r->nodes[v]));
        }
        set_path(prefix, sizeof(prefix), "%s.", shown);
        ret = walk_mapping(r, v, prefix, "", rec->fields, rec->field_count,
                           policies + type * rec->size, where);
        if (ret < 0) {
            return ret;
        }
        set_path(prefix, sizeof(prefix), "%s.", path);
    }
    return 0;
}

static int parse_option(struct reader *r, const struct evi_config_option *o, size_t at,
                        const char *path, void *base)
{
    switch (o->kind) {
    case EVI_CFG_POLICIES: return walk_policies(r, o, at, path, base);
    case EVI_CFG_RECORDS: return walk_records(r, o, at, path, base);
    case EVI_CFG_LIST: return walk_list(r, o, at, path, base);
    default: return parse_scalar(r, o, at, path, (char *)base + o->offset);
    }
}

static bool is_section(const char *path)
{
    for (size_t i = 0; i < evi_config_section_count; i++) {
        if (strcmp(evi_config_sections[i].path, path) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Walks a mapping whose keys are fields (prefix + key is a row's path) or,
 * for the top-level table, sections holding more of them. shown is what
 * messages put before the key. where[i] gets the value node of fields[i]
 * (NONE if absent).
 */
static int walk_mapping(struct reader *r, size_t map, const char *shown, const char *prefix,
                        const struct evi_config_option *fields, size_t field_count, void *base,
                        size_t *where)
{
    bool top = fields == evi_config_options;
    char path[PATH_MAX_TEXT], lookup[PATH_MAX_TEXT];
    int ret;

    for (size_t f = 0; f < field_count && !top; f++) {
        where[f] = NONE;
    }
    for (size_t k = r->nodes[map].first; k != NONE; k = r->nodes[r->nodes[k].next].next) {
        const struct node *key = &r->nodes[k];
        size_t v = key->next;
        size_t row = field_count;
        if ((ret = key_text(r, k, shown, path, sizeof(path))) < 0) {
            return ret;
        }
        if (v == NONE) {
            return fail(r, k, path, "no value"); /* libyaml always gives one */
        }
        set_path(lookup, sizeof(lookup), "%s%s", prefix, key->text);
        /* A dotted key ("storage.segment_size:") is not a shorthand for nesting. */
        bool plain_key = strchr(key->text, '.') == NULL && strlen(key->text) == key->len &&
                         key->len <= KEY_SHOWN;
        for (size_t f = 0; plain_key && f < field_count; f++) {
            if (strcmp(fields[f].path, lookup) == 0) {
                row = f;
            }
        }
        bool section = plain_key && top && row == field_count && is_section(lookup);
        if (row == field_count && !section) {
            return unknown_key(r, k, path, prefix, fields, field_count, top);
        }
        if ((ret = duplicate_key(r, map, k, path)) < 0 ||
            (ret = check_plain_yaml(r, v, path)) < 0) {
            return ret;
        }
        if (section) {
            char inner[PATH_MAX_TEXT];
            if (is_null(&r->nodes[v])) {
                continue; /* a section with every key commented out */
            }
            if (r->nodes[v].kind != NODE_MAPPING) {
                return fail(r, v, path, "expected a mapping, not %s", shape(&r->nodes[v]));
            }
            set_path(inner, sizeof(inner), "%s.", lookup);
            if ((ret = walk_mapping(r, v, inner, inner, fields, field_count, base, where)) < 0) {
                return ret;
            }
            continue;
        }
        where[row] = v;
        if ((ret = parse_option(r, &fields[row], v, path, base)) < 0) {
            return ret;
        }
    }
    return 0;
}

int evi_config_read(const char *name, const char *text, size_t len, struct ev_config *config)
{
    struct reader r = {.name = name, .config = config};
    size_t root;
    int ret;

    _Static_assert(MAX_RECORD_FIELDS >= 8, "records have more fields than seen[] holds");
    r.where = malloc(evi_config_option_count * sizeof(*r.where));
    if (r.where == NULL) {
        return out_of_memory();
    }
    for (size_t i = 0; i < evi_config_option_count; i++) {
        r.where[i] = NONE;
    }
    if ((ret = build(&r, text, len, &root)) < 0 || root == NONE) {
        goto out;
    }
    if ((ret = check_plain_yaml(&r, root, NULL)) < 0) {
        goto out;
    }
    if (is_null(&r.nodes[root])) {
        goto out;
    }
    if (r.nodes[root].kind != NODE_MAPPING) {
        ret = fail(&r, root, NULL, "expected a mapping of sections (log:, storage:, ...), not %s",
                   shape(&r.nodes[root]));
        goto out;
    }
    ret = walk_mapping(&r, root, "", "", evi_config_options, evi_config_option_count, config,
                       r.where);
    if (ret == 0) {
        const char *path = NULL;
        const char *why = evi_config_check(config, &path);
        if (why != NULL) {
            size_t at = root;
            for (size_t i = 0; i < evi_config_option_count; i++) {
                if (strcmp(evi_config_options[i].path, path) == 0 && r.where[i] != NONE) {
                    at = r.where[i];
                }
            }
            ret = fail(&r, at, path, "%s", why);
        }
    }
out:
    free_tree(&r);
    free(r.where);
    return ret;
}
