/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident event: one typed security event from command-line fields.
 *
 * Each --FIELD VALUE names a field of the type's schema (docs/EVENTS.md),
 * with '-' or '_' alike and dots into objects (--actor.user alice). The
 * library says what kind each field is, so the value is read as a string, an
 * integer, a boolean or JSON accordingly; the event then goes through the
 * same validation and policy as `append --type` and the daemon.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>
#include <evident/policy.h>

#include "cli.h"

#define FILE_MAX_BYTES (16u << 20)

static const char usage[] =
    "usage: evident [-d DIR] event TYPE [--FIELD VALUE ...] [--severity SEVERITY]\n"
    "                             [--source JSON] [--sync MODE] [--dry-run]\n"
    "       evident [-d DIR] event custom.NAME --data JSON [--severity SEVERITY]\n"
    "       evident event --schema\n"
    "\n"
    "Records one typed security event and prints its index. TYPE is one of\n"
    "code_execution, security_assessment, container_creation, resource_violation,\n"
    "security_event, system_event, syslog, or custom.NAME. docs/EVENTS.md lists every\n"
    "field of every type; validation errors name the field. The configuration's\n"
    "policy (-c) applies: disabled types and severities are dropped, the detail\n"
    "level decides what is kept, and secrets are replaced before anything is\n"
    "hashed.\n"
    "\n"
    "Fields:\n"
    "  --FIELD VALUE        a field of TYPE; '-' and '_' are alike (--exit-code 3),\n"
    "                       dots reach into objects (--actor.user alice). Strings are\n"
    "                       taken as given; integers and true/false are checked.\n"
    "                       Lists (cap_add, recommendations, findings, mounts) take\n"
    "                       the option once per item; findings and mounts take JSON\n"
    "                       objects; details takes a JSON object.\n"
    "  --FIELD @PATH        the contents of a file (\"-\" = standard input), for\n"
    "                       code, stdout, stderr or any string; @@TEXT is the literal\n"
    "                       text @TEXT. Files must be UTF-8; for other bytes give\n"
    "                       --FIELD.sha256 HEX and --FIELD.bytes N instead\n"
    "\n"
    "Options:\n"
    "  --severity SEVERITY  emergency alert critical error warning notice info debug;\n"
    "                       default: the type's (docs/EVENTS.md)\n"
    "  --source JSON        the recorder, a JSON object; default: this process\n"
    "  --data JSON          custom types: the event's data object\n"
    "  --sync MODE          always (default), interval or never, as for append\n"
    "  --dry-run            print the entry's data as it would be written (after the\n"
    "                       policy) instead of appending it\n"
    "  --schema             print the field tables of every type (Markdown)\n"
    "  -d, --dir DIR        the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 appended (or dropped by the policy, which says so on stderr);\n"
    "2 usage error, invalid event (nothing written) or I/O failure.\n";

/* "exit-code" -> "exit_code" in out. */
static bool field_path(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    if (n == 0 || n >= cap) {
        return false;
    }
    for (size_t i = 0; i <= n; i++) {
        out[i] = name[i] == '-' ? '_' : name[i];
    }
    return true;
}

/* A string value: VALUE, or a file's contents for @PATH. Caller frees *ret_owned. */
static bool read_value(const char *value, const char **ret, size_t *ret_len, char **ret_owned)
{
    *ret_owned = NULL;
    if (value[0] == '@' && value[1] != '@') {
        if (!cli_read_file(value + 1, FILE_MAX_BYTES, ret_owned, ret_len)) {
            return false;
        }
        *ret = *ret_owned;
        return true;
    }
    if (value[0] == '@') {
        value++;
    }
    *ret = value;
    *ret_len = strlen(value);
    return true;
}

/* The object at the parent of path in root (created as needed); *ret_key = last part. */
static json_t *parent_of(json_t *root, char *path, const char **ret_key)
{
    json_t *obj = root;
    char *p = path;
    for (char *dot = strchr(p, '.'); dot != NULL; dot = strchr(p, '.')) {
        *dot = '\0';
        json_t *next = json_object_get(obj, p);
        if (next == NULL) {
            next = json_object();
            if (next == NULL || json_object_set_new(obj, p, next) != 0) {
                return NULL;
            }
        }
        if (!json_is_object(next)) {
            return NULL;
        }
        obj = next;
        *dot = '.';
        p = dot + 1;
    }
    *ret_key = p;
    return obj;
}

static json_t *json_arg(const char *flag, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        cli_error("--%s: invalid JSON at column %d: %s", flag, jerr.column, jerr.text);
    }
    return v;
}

/* Sets one --FIELD VALUE in data. Prints its own message on failure. */
static bool set_field(enum ev_event_type type, json_t *data, const char *flag, const char *value)
{
    char path[160];
    enum ev_field_kind kind;
    json_t *v = NULL;
    char *owned = NULL;

    if (!field_path(flag, path, sizeof(path))) {
        cli_error("--%s: not a field name", flag);
        return false;
    }
    /* code.sha256 / stdout.bytes: a capture described instead of given. */
    char *last = strrchr(path, '.');
    bool capture_part = false;
    if (last != NULL && (strcmp(last, ".sha256") == 0 || strcmp(last, ".bytes") == 0)) {
        *last = '\0';
        capture_part = ev_event_field_kind(type, path, &kind) == 0 && kind == EV_FIELD_CAPTURE;
        *last = '.';
    }
    if (capture_part) {
        kind = strcmp(last, ".bytes") == 0 ? EV_FIELD_INT : EV_FIELD_STRING;
    } else if (ev_event_field_kind(type, path, &kind) < 0) {
        cli_error("--%s: %s", flag, ev_last_error());
        return false;
    }
    const char *key;
    json_t *parent = parent_of(data, path, &key);
    if (parent == NULL) {
        cli_error("--%s: conflicts with another option for the same object", flag);
        return false;
    }
    switch (kind) {
    case EV_FIELD_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0') {
            cli_error("--%s: '%s' is not an integer", flag, value);
            return false;
        }
        v = json_integer(n);
        break;
    }
    case EV_FIELD_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            cli_error("--%s: expected true or false, not '%s'", flag, value);
            return false;
        }
        v = json_boolean(strcmp(value, "true") == 0);
        break;
    case EV_FIELD_OBJECT:
    case EV_FIELD_JSON:
        v = json_arg(flag, value);
        if (v == NULL) {
            return false;
        }
        break;
    case EV_FIELD_OBJECTS: {
        json_t *item = json_arg(flag, value);
        if (item == NULL) {
            return false;
        }
        json_t *list = json_object_get(parent, key);
        if (list == NULL) {
            list = json_array();
            if (json_object_set_new(parent, key, list) != 0) {
                json_decref(item);
                return false;
            }
        }
        if (json_is_array(item)) {
            (void)json_array_extend(list, item);
            json_decref(item);
        } else {
            (void)json_array_append_new(list, item);
        }
        return true;
    }
    default: {
        const char *text;
        size_t len;
        if (!read_value(value, &text, &len, &owned)) {
            return false;
        }
        v = json_stringn(text, len);
        if (v == NULL) {
            cli_error("--%s: not UTF-8 text%s", flag,
                      kind == EV_FIELD_CAPTURE ? "; give --FIELD.sha256 and --FIELD.bytes instead"
                                               : "");
            free(owned);
            return false;
        }
        free(owned);
        if (kind == EV_FIELD_STRINGS) {
            json_t *list = json_object_get(parent, key);
            if (list == NULL) {
                list = json_array();
                if (json_object_set_new(parent, key, list) != 0) {
                    json_decref(v);
                    return false;
                }
            }
            return json_array_append_new(list, v) == 0;
        }
    }
    }
    if (v == NULL || json_object_get(parent, key) != NULL) {
        cli_error("--%s: given twice", flag);
        json_decref(v);
        return false;
    }
    return json_object_set_new(parent, key, v) == 0;
}

static int print_schema(void)
{
    char *text = NULL;
    int r = ev_event_schema_markdown(&text);
    if (r < 0) {
        return cli_fail(r, "cannot write the schema");
    }
    (void)fputs(text, stdout);
    free(text);
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}

/* The value of --NAME VALUE or --NAME=VALUE at argv[*i]; advances *i. */
static const char *option_value(int argc, char **argv, int *i, const char *name, size_t n)
{
    if (argv[*i][2 + n] == '=') {
        return argv[*i] + 3 + n;
    }
    if (*i + 1 >= argc) {
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

static int run(struct cli *cli, int argc, char **argv)
{
    struct ev_event event = {.severity = -1};
    enum ev_sync sync = CLI_SYNC_CONFIG;
    enum ev_event_type type = EV_TYPE_CUSTOM;
    bool dry_run = false;
    json_t *data = json_object();
    char *data_text = NULL;
    int ret = CLI_TROUBLE;

    if (data == NULL) {
        cli_error("out of memory");
        return CLI_TROUBLE;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            (void)fputs(usage, stdout);
            ret = fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
            goto out;
        }
        if (strcmp(a, "--schema") == 0) {
            ret = print_schema();
            goto out;
        }
        if (strcmp(a, "--dry-run") == 0) {
            dry_run = true;
            continue;
        }
        if (strcmp(a, "-d") == 0 && i + 1 < argc) {
            cli->dir = argv[++i];
            continue;
        }
        if (event.type == NULL && a[0] != '-') {
            event.type = a;
            if (ev_event_type_parse(a, &type) < 0) {
                ret = cli_usage_error(cli, "%s", ev_last_error());
                goto out;
            }
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            ret = cli_usage_error(cli, "unexpected argument '%s'", a);
            goto out;
        }
        const char *name = a + 2;
        size_t n = strcspn(name, "=");
        const char *value = option_value(argc, argv, &i, name, n);
        char flag[160];
        (void)snprintf(flag, sizeof(flag), "%.*s", (int)n, name);
        if (value == NULL) {
            ret = cli_usage_error(cli, "option '--%s' needs a value", flag);
            goto out;
        }
        if (strcmp(flag, "dir") == 0) {
            cli->dir = value;
        } else if (strcmp(flag, "severity") == 0) {
            if (ev_severity_parse(value, &event.severity) < 0) {
                ret = cli_usage_error(cli, "invalid severity '%s'", value);
                goto out;
            }
        } else if (strcmp(flag, "source") == 0) {
            event.source_json = value;
        } else if (strcmp(flag, "sync") == 0) {
            if (ev_sync_parse(value, &sync) < 0) {
                ret = cli_usage_error(cli, "invalid sync mode '%s'", value);
                goto out;
            }
        } else if (strcmp(flag, "data") == 0 && type == EV_TYPE_CUSTOM) {
            event.data_json = value;
        } else if (event.type == NULL) {
            ret = cli_usage_error(cli, "the event type comes before its fields");
            goto out;
        } else if (type == EV_TYPE_CUSTOM) {
            ret = cli_usage_error(cli, "custom types take their data with --data JSON");
            goto out;
        } else if (!set_field(type, data, flag, value)) {
            goto out;
        }
    }
    if (event.type == NULL) {
        ret = cli_usage_error(cli, "the event type is required");
        goto out;
    }
    if (type != EV_TYPE_CUSTOM) {
        data_text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        if (data_text == NULL) {
            cli_error("out of memory");
            goto out;
        }
        event.data_json = data_text;
    }
    ret = cli_record_event(cli, &event, sync, dry_run);
out:
    free(data_text);
    json_decref(data);
    return ret;
}

const struct cli_command cli_cmd_event = {
    .name = "event",
    .summary = "record a typed security event from fields",
    .usage = usage,
    .run = run,
};
