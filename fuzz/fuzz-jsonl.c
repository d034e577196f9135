/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the CLI's fast reader of events as JSON Lines
 * (src/cli/jsonl.c, `evident append --jsonl`).
 *
 * The reader may only say "good event" for a line that jansson agrees is a
 * good event with the same content; otherwise it must say "not sure" and leave
 * its arena as it was. Checked on every input:
 *  - no crash, no read past the line (ASan), the arena untouched on "not sure";
 *  - on "good" for a line jansson rejects: the fault is inside source or data,
 *    which the reader leaves to the library, and the library refuses them;
 *  - on "good": jansson parses the line (duplicates rejected) as an object
 *    whose keys are only type, severity, source and data; the type read equals
 *    jansson's string and is a valid type; the severity equals what
 *    ev_severity_parse makes of jansson's string (info when absent); source
 *    and data, when present, are objects whose text in the arena means the
 *    same JSON as jansson's value (equal canonical forms).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/log.h>

#include "entry.h"
#include "jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static char *canonical(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* The arena text at off means the same JSON as value. */
static void check_same(const struct cli_arena *a, size_t off, const json_t *value)
{
    json_error_t jerr;
    const char *text = a->data + off;
    json_t *mine = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    CHECK(mine != NULL && json_is_object(mine) && json_is_object(value));
    char *x = canonical(mine), *y = canonical(value);
    CHECK(x != NULL && y != NULL && strcmp(x, y) == 0);
    free(x);
    free(y);
    json_decref(mine);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cli_arena a = {0};
    struct cli_event_text ev;
    json_error_t jerr;

    /* An arena with something in it already: "not sure" must leave it as it was. */
    CHECK(cli_arena_add(&a, "prefix", 6) == 0);
    size_t before = a.len;
    /* An exact-size copy, so that a read past the line is an ASan report. */
    char *line = malloc(size ? size : 1);
    CHECK(line != NULL);
    memcpy(line, data, size);

    int r = cli_jsonl_fast(line, size, EV_ENTRY_MAX_BYTES, &a, &ev);
    CHECK(r == 0 || r == 1);
    if (r == 0) {
        CHECK(a.len == before);
        goto out;
    }
    CHECK(memchr(line, '\0', size) == NULL);
    json_t *root = json_loadb(line, size, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /*
         * The reader hands source and data on as text for the library to
         * validate (jsonl.h): a line jansson rejects may be "good" only if the
         * fault is inside them, and then the library must refuse the event.
         */
        struct ev_event e = {
            .type = a.data + ev.type,
            .severity = ev.severity,
            .source_json = ev.source == SIZE_MAX ? NULL : a.data + ev.source,
            .data_json = ev.data == SIZE_MAX ? NULL : a.data + ev.data,
        };
        struct evi_entry_body body = {0};
        CHECK(evi_entry_body_make(&e, false, &body) < 0);
        goto out;
    }
    CHECK(json_is_object(root));
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        CHECK(strcmp(key, "type") == 0 || strcmp(key, "severity") == 0 ||
              strcmp(key, "source") == 0 || strcmp(key, "data") == 0);
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    CHECK(type != NULL && ev.type != SIZE_MAX && strcmp(type, a.data + ev.type) == 0);
    CHECK(cli_event_type_ok(type));
    json_t *sev = json_object_get(root, "severity");
    int want = -1; /* the type's default */
    if (sev != NULL) {
        CHECK(json_is_string(sev) && ev_severity_parse(json_string_value(sev), &want) == 0);
    }
    CHECK(ev.severity == want);
    json_t *source = json_object_get(root, "source");
    CHECK((source == NULL) == (ev.source == SIZE_MAX));
    if (source != NULL) {
        check_same(&a, ev.source, source);
    }
    json_t *payload = json_object_get(root, "data");
    CHECK((payload == NULL) == (ev.data == SIZE_MAX));
    if (payload != NULL) {
        check_same(&a, ev.data, payload);
    }
    json_decref(root);
out:
    free(line);
    free(a.data);
    return 0;
}
