/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the library's reader of events as JSON Lines
 * (include/evident/jsonl.h: ev_jsonl_read_fast() and ev_jsonl_read(), used by
 * `evident append --jsonl` and evidentd).
 *
 * The fast reader may only say "good event" for a line that jansson agrees is
 * a good event with the same content; otherwise it must say "not sure" and
 * leave its buffer as it was. Checked on every input:
 *  - no crash, no read past the line (ASan), the buffer untouched on "not sure";
 *  - on "good" for a line jansson rejects: the fault is inside source or data,
 *    which the reader leaves to the library, and the library refuses them;
 *  - on "good": jansson parses the line (duplicates rejected) as an object
 *    whose keys are only type, severity, source and data; the type read equals
 *    jansson's string and is a valid type; the severity equals what
 *    ev_severity_parse makes of jansson's string (absent: -1); source
 *    and data, when present, are objects whose text in the arena means the
 *    same JSON as jansson's value (equal canonical forms);
 *  - data the fast reader says is canonical (evi_jsonl_read_fast(), evidentd's
 *    intake, which then skips that check) is what evi_json_is_canonical_object()
 *    accepts;
 *  - ev_jsonl_read() (the fast reader, else jansson) agrees: the same event
 *    where the fast reader is sure; otherwise an event exactly when jansson
 *    finds one (a severity may also be its number 0..7 there), or an error
 *    with a message and the buffer as it was;
 *  - evi_jsonl_read() with a type from the path (evidentd's POST
 *    /v1/events/TYPE) reads an event of that type only, the same event as
 *    ev_jsonl_read() where the line has that type, none where it has another.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/jsonl.h>
#include <evident/log.h>

#include "entry.h"
#include "ingest/jsonl-internal.h"
#include "json.h"

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

/* 1-64 of [a-z0-9_.:-], starting with a letter: FORMAT.md §5, written out again here. */
static bool type_valid(const char *t)
{
    size_t n = strlen(t);
    if (n < 1 || n > 64 || !(t[0] >= 'a' && t[0] <= 'z')) {
        return false;
    }
    return strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_.:-") == n;
}

/* The text means the same JSON object as value. */
static void check_same(const char *text, const json_t *value)
{
    json_error_t jerr;
    json_t *mine = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    CHECK(mine != NULL && json_is_object(mine) && json_is_object(value));
    char *x = canonical(mine), *y = canonical(value);
    CHECK(x != NULL && y != NULL && strcmp(x, y) == 0);
    free(x);
    free(y);
    json_decref(mine);
}

static bool same_text(const char *x, const char *y)
{
    return (x == NULL && y == NULL) || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

#define PATH_TYPE "custom.path"

/* evi_jsonl_read() with PATH_TYPE, against ev_jsonl_read()'s result r and event got. */
static void check_path_type(const char *line, size_t size, int r, const struct ev_event *got)
{
    struct ev_jsonl_buffer *b = NULL;
    struct ev_jsonl_event ev;
    struct ev_event mine;

    CHECK(ev_jsonl_buffer_new(&b) == 0);
    int p = evi_jsonl_read(b, line, size, PATH_TYPE, &ev, NULL);
    CHECK(p == 1 || p == 0 || p == EV_EJSON || p == EV_ETOOBIG);
    CHECK((p == 0) == (r == 0));
    if (r == 1 && strcmp(got->type, PATH_TYPE) != 0) {
        CHECK(p == EV_EJSON);
    }
    if (p != 1) {
        CHECK(ev_jsonl_buffer_size(b) == 0 && (p == 0 || ev_last_error()[0] != '\0'));
        CHECK(r != 1 || strcmp(got->type, PATH_TYPE) != 0);
        goto out;
    }
    ev_jsonl_event_get(b, &ev, &mine);
    CHECK(strcmp(mine.type, PATH_TYPE) == 0);
    if (r == 1) {
        CHECK(mine.severity == got->severity);
        CHECK(same_text(mine.source_json, got->source_json));
        CHECK(same_text(mine.data_json, got->data_json));
    }
out:
    ev_jsonl_buffer_free(b);
}

/*
 * ev_jsonl_read() on the same line: the fast reader's event (under the same
 * bound) where it is sure, else jansson's verdict; on failure a message and
 * nothing added to the buffer.
 */
static void check_full(const char *line, size_t size)
{
    struct ev_jsonl_buffer *fast = NULL, *full = NULL;
    struct ev_jsonl_event fast_ev, ev;
    struct ev_event want, got;
    json_error_t jerr;

    CHECK(ev_jsonl_buffer_new(&fast) == 0 && ev_jsonl_buffer_new(&full) == 0);
    bool data_canonical = false;
    int f = evi_jsonl_read_fast(fast, line, size, SIZE_MAX, &fast_ev, &data_canonical);
    int r = ev_jsonl_read(full, line, size, &ev);
    CHECK(f == 0 || f == 1);
    CHECK(r == 1 || r == 0 || r == EV_EJSON || r == EV_ETOOBIG);
    if (r != 1) {
        CHECK(ev_jsonl_buffer_size(full) == 0);
        CHECK(r == 0 || ev_last_error()[0] != '\0');
        CHECK(f == 0 || size > EV_JSONL_LINE_MAX);
        check_path_type(line, size, r, NULL);
        goto out;
    }
    ev_jsonl_event_get(full, &ev, &got);
    check_path_type(line, size, r, &got);
    if (f == 1) {
        ev_jsonl_event_get(fast, &fast_ev, &want);
        CHECK(strcmp(got.type, want.type) == 0 && got.severity == want.severity);
        CHECK(same_text(got.source_json, want.source_json));
        CHECK(same_text(got.data_json, want.data_json));
        /* Data it vouches for is canonical: evidentd's intake does not check it again. */
        CHECK(!data_canonical || want.data_json == NULL ||
              evi_json_is_canonical_object(want.data_json, strlen(want.data_json)));
        goto out;
    }
    /* Not the fast reader's: jansson read it, so it is a good event as jansson sees it. */
    json_t *root = json_loadb(line, size, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(root != NULL && json_is_object(root));
    const char *type = json_string_value(json_object_get(root, "type"));
    CHECK(type != NULL && strcmp(type, got.type) == 0 && type_valid(type));
    json_t *sev = json_object_get(root, "severity");
    int severity = -1;
    if (json_is_integer(sev)) {
        CHECK(json_integer_value(sev) >= 0 && json_integer_value(sev) <= 7);
        severity = (int)json_integer_value(sev);
    } else {
        CHECK(sev == NULL ||
              (json_is_string(sev) && ev_severity_parse(json_string_value(sev), &severity) == 0));
    }
    CHECK(got.severity == severity);
    json_t *source = json_object_get(root, "source"), *payload = json_object_get(root, "data");
    CHECK((source == NULL) == (got.source_json == NULL));
    CHECK((payload == NULL) == (got.data_json == NULL));
    if (source != NULL) {
        check_same(got.source_json, source);
    }
    if (payload != NULL) {
        check_same(got.data_json, payload);
    }
    json_decref(root);
out:
    ev_jsonl_buffer_free(fast);
    ev_jsonl_buffer_free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ev_jsonl_buffer *b = NULL;
    struct ev_jsonl_event ev;
    struct ev_event e = {0};
    json_error_t jerr;

    CHECK(ev_jsonl_buffer_new(&b) == 0);
    /* A buffer with an event in it already: "not sure" must leave it as it was. */
    CHECK(ev_jsonl_read(b, "{\"type\":\"prefix\"}", 17, &ev) == 1);
    size_t before = ev_jsonl_buffer_size(b);
    /* An exact-size copy, so that a read past the line is an ASan report. */
    char *line = malloc(size ? size : 1);
    CHECK(line != NULL);
    memcpy(line, data, size);

    int r = ev_jsonl_read_fast(b, line, size, EV_ENTRY_MAX_BYTES, &ev);
    CHECK(r == 0 || r == 1);
    if (r == 0) {
        CHECK(ev_jsonl_buffer_size(b) == before);
        goto out;
    }
    ev_jsonl_event_get(b, &ev, &e);
    CHECK(memchr(line, '\0', size) == NULL);
    json_t *root = json_loadb(line, size, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /*
         * The reader hands source and data on as text for the library to
         * validate (jsonl.h): a line jansson rejects may be "good" only if the
         * fault is inside them, and then the library must refuse the event.
         */
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
    CHECK(type != NULL && ev.type != EV_JSONL_ABSENT && strcmp(type, e.type) == 0);
    CHECK(type_valid(type));
    json_t *sev = json_object_get(root, "severity");
    int want = -1; /* the type's default */
    if (sev != NULL) {
        CHECK(json_is_string(sev) && ev_severity_parse(json_string_value(sev), &want) == 0);
    }
    CHECK(ev.severity == want);
    json_t *source = json_object_get(root, "source");
    CHECK((source == NULL) == (ev.source == EV_JSONL_ABSENT));
    if (source != NULL) {
        check_same(e.source_json, source);
    }
    json_t *payload = json_object_get(root, "data");
    CHECK((payload == NULL) == (ev.data == EV_JSONL_ABSENT));
    if (payload != NULL) {
        check_same(e.data_json, payload);
    }
    json_decref(root);
out:
    check_full(line, size);
    free(line);
    ev_jsonl_buffer_free(b);
    return 0;
}
