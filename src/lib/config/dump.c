/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a configuration as YAML: `evident config show` (ev_config_dump)
 * and config/evident.yaml (ev_config_example_yaml, the defaults with every
 * option's documentation as comments). Both walk the option table in order,
 * so they hold every option and read back to the values written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config-internal.h"
#include "error.h"

#define WRAP_COLUMNS 80

/* The section of a path: everything before its last dot ("" at the top). */
static size_t section_len(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot != NULL ? (size_t)(dot - path) : 0;
}

static size_t depth_of(const char *path, size_t len)
{
    size_t depth = len > 0 ? 1 : 0;
    for (size_t i = 0; i < len; i++) {
        depth += path[i] == '.';
    }
    return depth;
}

static void indent(struct evi_text *t, size_t depth)
{
    for (size_t i = 0; i < depth; i++) {
        evi_text_add(t, "  ");
    }
}

/* Writes text as comment lines at depth, wrapped at WRAP_COLUMNS. */
static void comment(struct evi_text *t, size_t depth, const char *text)
{
    size_t width = WRAP_COLUMNS - 2 * depth - 2;

    while (*text != '\0') {
        size_t len = strlen(text), cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ') {
                cut--;
            }
            if (cut == 0) {
                cut = strcspn(text, " ");
            }
        }
        indent(t, depth);
        evi_text_addf(t, "# %.*s\n", (int)cut, text);
        text += cut;
        while (*text == ' ') {
            text++;
        }
    }
}

static const char *section_doc(const char *path, size_t len)
{
    for (size_t i = 0; i < evi_config_section_count; i++) {
        const char *s = evi_config_sections[i].path;
        if (strlen(s) == len && strncmp(s, path, len) == 0) {
            return evi_config_sections[i].doc;
        }
    }
    return NULL;
}

/*
 * Opens the sections between the current one (cur, cur_len) and the next
 * option's (next, next_len): "privacy.encryption" after "privacy" writes
 * "  encryption:".
 */
static void open_sections(struct evi_text *t, const char *cur, size_t cur_len, const char *next,
                          size_t next_len, bool documented)
{
    size_t common = 0;

    /* The longest shared prefix that ends at a component boundary. */
    for (size_t i = 0; i <= cur_len && i <= next_len; i++) {
        bool cur_end = i == cur_len || cur[i] == '.';
        bool next_end = i == next_len || next[i] == '.';
        if (cur_end && next_end) {
            common = i;
        }
        if (i == cur_len || i == next_len || cur[i] != next[i]) {
            break;
        }
    }
    for (size_t i = common; i < next_len;) {
        size_t start = i == 0 ? 0 : i + 1;
        size_t end = start;
        while (end < next_len && next[end] != '.') {
            end++;
        }
        size_t depth = depth_of(next, end) - 1;
        if (documented) {
            const char *doc = section_doc(next, end);
            evi_text_add(t, "\n");
            if (doc != NULL) {
                comment(t, depth, doc);
            }
        }
        indent(t, depth);
        evi_text_addf(t, "%.*s:\n", (int)(end - start), next + start);
        i = end;
    }
}

/* One record (a policy, a pattern, a rule) as "key: value" lines at depth. */
static void write_record(struct evi_text *t, const struct evi_config_record *rec, const void *item,
                         size_t depth, const char *first_prefix)
{
    for (size_t f = 0; f < rec->field_count; f++) {
        if (f == 0 && first_prefix != NULL) {
            indent(t, depth - 1);
            evi_text_add(t, first_prefix);
        } else {
            indent(t, depth);
        }
        evi_text_addf(t, "%s: ", rec->fields[f].path);
        evi_config_value_format(t, &rec->fields[f], item);
        evi_text_add(t, "\n");
    }
}

static void write_value(struct evi_text *t, const struct evi_config_option *o, const char *key,
                        const void *base, size_t depth)
{
    const char *at = (const char *)base + o->offset;
    const struct evi_config_record *rec = o->record;

    indent(t, depth);
    evi_text_addf(t, "%s:", key);
    if (o->kind == EVI_CFG_POLICIES) {
        evi_text_add(t, "\n");
        for (size_t k = 0; k < EV_TYPE_COUNT; k++) {
            indent(t, depth + 1);
            evi_text_addf(t, "%s:\n", evi_config_type_names[k]);
            write_record(t, rec, at + k * rec->size, depth + 2, NULL);
        }
    } else if (o->kind == EVI_CFG_RECORDS) {
        size_t count = *(const size_t *)((const char *)base + o->count_offset);
        if (count == 0) {
            evi_text_add(t, " []\n");
            return;
        }
        evi_text_add(t, "\n");
        for (size_t k = 0; k < count && k < o->max; k++) {
            write_record(t, rec, at + k * rec->size, depth + 2, "- ");
        }
    } else {
        evi_text_add(t, " ");
        evi_config_value_format(t, o, base);
        evi_text_add(t, "\n");
    }
}

/* The comment above an option in the example: what it does, its type, default and user. */
static void describe(struct evi_text *t, const struct evi_config_option *o, size_t depth)
{
    struct evi_text line = {0};

    comment(t, depth, o->doc);
    if (o->record != NULL) {
        for (size_t f = 0; f < o->record->field_count; f++) {
            const struct evi_config_option *field = &o->record->fields[f];
            evi_text_addf(&line, "%s (%s", field->path, evi_config_kind_name(field));
            if (field->default_text != NULL) {
                evi_text_addf(&line, ", default %s", field->default_text);
            }
            evi_text_addf(&line, "): %s", field->doc);
            comment(t, depth, line.data != NULL ? line.data : "");
            line.len = 0;
        }
    }
    evi_text_add(&line, evi_config_kind_name(o));
    if (o->kind != EVI_CFG_POLICIES) {
        size_t before = line.len;
        evi_text_add(&line, ": ");
        size_t mark = line.len;
        evi_config_value_bounds(&line, o);
        if (line.len == mark && line.data != NULL) {
            line.len = before; /* no bounds to state */
            line.data[line.len] = '\0';
        }
    }
    evi_text_addf(&line, "%s; used by %s.", o->nullable ? ", or null" : "", o->used_by);
    comment(t, depth, line.data != NULL ? line.data : "");
    t->failed |= line.failed;
    free(line.data);
}

static const char example_header[] =
    "# evident configuration: every option with its default value.\n"
    "#\n"
    "# Generated by `evident config example` from the option table; docs/CONFIG.md\n"
    "# describes the same options. An empty file, or one holding only comments,\n"
    "# gives exactly these values: keep only the lines you change.\n"
    "# `evident config check FILE` checks a file, `evident config show FILE` prints\n"
    "# the values it gives.\n"
    "#\n"
    "# Values: sizes as 4096 (bytes), 64KiB, 64MiB, 1GiB, 1TiB; durations with their\n"
    "# unit: 500us, 2ms, 90s, 15m, 1h, 2d (0 alone needs none); booleans true or\n"
    "# false only; null (or nothing) leaves an optional value unset. Unknown keys,\n"
    "# duplicate keys, anchors, aliases and tags are errors.\n"
    "#\n"
    "# \"used by\" says which part of evident acts on an option: the library, the\n"
    "# cli, the daemon (issue 4) or segment lifecycle (issue 5). Options of parts not\n"
    "# built yet are checked now, so that files written today keep working.\n";

static int write_config(const struct ev_config *config, bool example, char **ret_text)
{
    struct evi_text t = {0};
    const char *cur = "";
    size_t cur_len = 0;
    bool opened = false; /* a section header was just written */

    evi_text_add(&t, example ? example_header
                             : "# evident configuration: the effective values, defaults "
                               "included.\n");
    for (size_t i = 0; i < evi_config_option_count; i++) {
        const struct evi_config_option *o = &evi_config_options[i];
        size_t len = section_len(o->path);
        const char *key = o->path + (len > 0 ? len + 1 : 0);
        size_t depth = depth_of(o->path, len);
        if (len != cur_len || strncmp(cur, o->path, len) != 0) {
            open_sections(&t, cur, cur_len, o->path, len, example);
            opened = len > 0;
            cur = o->path;
            cur_len = len;
        }
        if (example) {
            if (!opened) {
                evi_text_add(&t, "\n");
            }
            if (depth == 0 && section_doc(o->path, strlen(o->path)) != NULL) {
                comment(&t, 0, section_doc(o->path, strlen(o->path)));
            }
            describe(&t, o, depth);
            opened = false;
        }
        write_value(&t, o, key, config, depth);
        if (example && o->example != NULL) {
            indent(&t, depth);
            evi_text_addf(&t, "# for example:\n");
            indent(&t, depth);
            evi_text_addf(&t, "# %s:\n", key);
            for (const char *line = o->example; *line != '\0';) {
                size_t n = strcspn(line, "\n");
                indent(&t, depth);
                evi_text_addf(&t, "#   %.*s\n", (int)n, line);
                line += n + (line[n] == '\n');
            }
        }
    }
    return evi_text_finish(&t, ret_text);
}

int ev_config_dump(const struct ev_config *config, char **ret_text)
{
    int ret;

    if (config == NULL) {
        return evi_error(-EINVAL, "no configuration to write");
    }
    ret = write_config(config, false, ret_text);
    return ret < 0 ? evi_error(ret, "out of memory") : 0;
}

int ev_config_example_yaml(char **ret_text)
{
    struct ev_config *defaults = NULL;
    int ret = ev_config_defaults(&defaults);

    if (ret < 0) {
        return ret;
    }
    ret = write_config(defaults, true, ret_text);
    ev_config_free(defaults);
    return ret < 0 ? evi_error(ret, "out of memory") : 0;
}
