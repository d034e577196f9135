/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the JSON way into typed events (ev_event_prepare,
 * src/lib/events/: decode, validate, derive, policy, encode), a parser of
 * hostile input for the CLI, `append --jsonl` and the daemon (docs/EVENTS.md).
 *
 * Input:
 *
 *     byte 0       bits 0-2 the type: 0-5 the built-ins in enum ev_event_type order,
 *                  6 "custom.x", 7 "custom.fuzz-1:a.b"; bits 3-4 the level
 *                  (0 minimal, 1 basic, 2 comprehensive, 3 basic); bit 5 sanitization
 *                  off; bits 6-7 the severity given: 0 none (the type's default),
 *                  1 emergency, 2 debug, 3 out of range (9: must be refused)
 *     the rest     the data JSON text (up to its first NUL; empty: no data)
 *
 * Invariants beyond "no crash, no leak" (a violation is __builtin_trap(), a crash to
 * libFuzzer):
 *  - the result is 0 or one of the documented codes (EV_EJSON, EV_EFORMAT, EV_ETOOBIG,
 *    -ENOMEM); on failure *out holds nothing (no buffer) and ev_last_error() is set; when
 *    the data was a JSON object the message names where: it starts with "data", "type" or
 *    "severity";
 *  - on success nothing is dropped (the policies keep every severity), the type is the
 *    input's, the severity is the one given or a syslog severity, and the data is one
 *    canonical JSON object (jansson, duplicates rejected, writes back the same bytes) of at
 *    most EV_ENTRY_MAX_BYTES;
 *  - "redacted" is present exactly when the count is above zero, and equals it; never with
 *    sanitization off; with it on, sanitizing the output again finds nothing when nothing
 *    was cut (a cut may end inside a marker, "pwd=[", which reads as a value: cut text is
 *    checked by the prefix rule below instead);
 *  - built-in types: every top-level key is a field of the type's schema, kept at the
 *    policy's level (schema.c); captured text is at most the level's limit and a prefix of
 *    the whole capture sanitized (encode.c sanitizes only a window past what it keeps: the
 *    window's cut edge, where a secret may be cut and go unrecognized, must never be kept);
 *    findings come most severe first, findings_total is the sum of counts, the score is
 *    0..100.
 *
 * And the fast paths against their references (tests/test-events.c does the same on random
 * events), on the data decoded into the struct of the type's table (for the custom types,
 * which have none, into the syslog table's, which no other way of this target reaches), with
 * the severity given and the input's "counts" as ev_event_prepare() sets them:
 *  - evi_event_validate() (the row masks, the shortcuts for common rows) gives the result and
 *    message of evi_event_validate_reference() (every row through the full test), and so does
 *    evi_event_validate_known() given the lengths of the set string rows; on success the
 *    rows' set mask is evi_field_set()'s and each set string row's length is its strlen();
 *    the same again with each string row with a limit in turn empty, at its limit and one
 *    byte over (boundaries that mutation seldom hits exactly);
 *  - for a valid event whose derived fields can be made, the encoder driven by those rows
 *    (evi_encoding.rows) writes what the one that asks every row in turn writes (the same
 *    result, bytes and redacted count) at every level, with and without the sanitizer, with
 *    the whole data budget; and at the level and sanitization of byte 0 also with budgets
 *    that cut the output (one byte short of it, and half of it).
 *
 * Seed corpus: fuzz/corpus/typed-event/.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>
#include <evident/policy.h>

#include "events/events.h"
#include "privacy/sanitize.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static const char *const type_names[8] = {
    "code_execution", "security_assessment", "container_creation", "resource_violation",
    "security_event", "system_event",        "custom.x",           "custom.fuzz-1:a.b",
};
static const enum ev_level levels[4] = {EV_LEVEL_MINIMAL, EV_LEVEL_BASIC, EV_LEVEL_COMPREHENSIVE,
                                        EV_LEVEL_BASIC};
static const int severities[4] = {-1, EV_SEV_EMERGENCY, EV_SEV_DEBUG, EV_SEV_DEBUG + 2};

/* [level][sanitize]: built once, immutable, as a daemon shares them. */
static struct ev_policy *policies[3][2];

/* The bytes of an ev_last_error() message compared (all of any shorter than that). */
#define MESSAGE_MAX 1024

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int level = 0; level < 3; level++) {
        for (int sanitize = 0; sanitize < 2; sanitize++) {
            struct ev_config *config = NULL;
            CHECK(ev_config_defaults(&config) == 0);
            config->levels.default_level = (enum ev_level)level;
            config->privacy.sanitize = sanitize != 0;
            CHECK(ev_policy_new(config, &policies[level][sanitize]) == 0);
            CHECK((policies[level][sanitize]->sanitizer != NULL) == (sanitize != 0));
            ev_config_free(config);
        }
    }
    return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The length of a string value as canonical JSON writes it, without the quotes. */
static size_t escaped_length(json_t *s)
{
    char *text = json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT);
    CHECK(text != NULL);
    size_t n = strlen(text);
    CHECK(n >= 2);
    free(text);
    return n - 2;
}

static void check_capture(json_t *capture, size_t limit)
{
    CHECK(json_is_object(capture));
    json_t *text = json_object_get(capture, "text");
    if (text != NULL) {
        /* Text only comes with the digest of what it is a prefix of. */
        CHECK(limit > 0 && json_is_string(text) && escaped_length(text) <= limit);
        CHECK(json_is_integer(json_object_get(capture, "bytes")));
        CHECK(json_is_string(json_object_get(capture, "sha256")));
    }
    json_t *truncated = json_object_get(capture, "truncated");
    CHECK(truncated == NULL || (json_is_true(truncated) && text != NULL));
}

static int finding_rank(json_t *finding)
{
    const char *s = json_string_value(json_object_get(finding, "severity"));
    CHECK(s != NULL);
    for (int i = 1; evi_finding_severity_names[i] != NULL; i++) {
        if (strcmp(s, evi_finding_severity_names[i]) == 0) {
            return i;
        }
    }
    CHECK(false);
    return 0;
}

static void check_assessment(json_t *data, enum ev_level level)
{
    json_t *counts = json_object_get(data, "counts");
    json_t *total = json_object_get(data, "findings_total");
    json_t *score = json_object_get(data, "score");
    CHECK(json_is_object(counts) && json_is_integer(total) && json_is_integer(score));
    json_int_t sum = 0;
    const char *key;
    json_t *value;
    json_object_foreach(counts, key, value)
    {
        CHECK(json_is_integer(value) && json_integer_value(value) >= 0);
        sum += json_integer_value(value);
    }
    CHECK(json_integer_value(total) == sum);
    CHECK(json_integer_value(score) >= 0 && json_integer_value(score) <= 100);

    json_t *findings = json_object_get(data, "findings");
    json_t *truncated = json_object_get(data, "findings_truncated");
    json_t *kept = json_object_get(data, "findings_kept");
    CHECK((truncated == NULL) == (kept == NULL));
    CHECK(truncated == NULL || json_is_true(truncated));
    if (findings == NULL) {
        return;
    }
    CHECK(json_is_array(findings));
    CHECK(kept == NULL || json_integer_value(kept) == (json_int_t)json_array_size(findings));
    int previous = EV_FINDING_CRITICAL;
    size_t i;
    json_t *finding;
    json_array_foreach(findings, i, finding)
    {
        int rank = finding_rank(finding);
        CHECK(rank <= previous);
        previous = rank;
        json_t *message = json_object_get(finding, "message");
        if (message != NULL && level == EV_LEVEL_BASIC) {
            CHECK(escaped_length(message) <= EVI_BASIC_MESSAGE_MAX);
        }
    }
}

/* The text kept of each capture given as text is a prefix of the whole text, sanitized. */
static void check_capture_texts(json_t *input, json_t *data, const struct evi_sanitizer *sanitizer)
{
    static const char *const names[] = {"code", "stdout", "stderr"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *given = json_object_get(input, names[i]);
        json_t *kept = json_object_get(json_object_get(data, names[i]), "text");
        if (!json_is_string(given) || kept == NULL) {
            continue;
        }
        const char *whole = json_string_value(given);
        size_t whole_len = json_string_length(given);
        char *clean = NULL;
        size_t clean_len = 0;
        if (sanitizer != NULL) {
            int n = evi_sanitize_text(sanitizer, whole, whole_len, &clean, &clean_len);
            CHECK(n >= 0);
            if (n > 0) {
                whole = clean;
                whole_len = clean_len;
            }
        }
        size_t len = json_string_length(kept);
        CHECK(len <= whole_len && memcmp(json_string_value(kept), whole, len) == 0);
        free(clean);
    }
}

/* A built-in type's data: only its schema's fields, as its level keeps them. */
static void check_typed(enum ev_event_type type, json_t *data, enum ev_level level)
{
    const struct evi_schema *schema = evi_schema_of(type);
    const char *key;
    json_t *value;

    CHECK(schema != NULL);
    json_object_foreach(data, key, value)
    {
        const struct evi_field *f = evi_schema_field(schema, key, strlen(key));
        CHECK(f != NULL);
        CHECK(f->level <= level);
        if (f->kind == EV_FIELD_CAPTURE) {
            const struct evi_capture_limits *l = &evi_capture_limits[level];
            check_capture(value, strcmp(key, "code") == 0 ? l->code : l->output);
        }
    }
    if (type == EV_TYPE_SECURITY_ASSESSMENT) {
        check_assessment(data, level);
    }
}

static void check_success(const struct ev_prepared *out, const char *input, const char *type_name,
                          enum ev_event_type type, enum ev_level level, bool sanitize, int severity)
{
    json_error_t jerr;

    CHECK(!out->dropped);
    /* The type is never a pointer into *out, so prepared events can be moved. */
    CHECK(out->event.type != out->type && strcmp(out->event.type, type_name) == 0 &&
          strcmp(out->type, type_name) == 0);
    CHECK(out->event.source_json == NULL);
    CHECK(out->event.severity >= EV_SEV_EMERGENCY && out->event.severity <= EV_SEV_DEBUG);
    CHECK(severity < 0 || out->event.severity == severity);
    CHECK(out->buffer != NULL && out->event.data_json == out->buffer);
    CHECK(sanitize || out->redacted == 0);

    const char *text = out->event.data_json;
    size_t len = strlen(text);
    CHECK(len <= EV_ENTRY_MAX_BYTES);
    json_t *data = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(data != NULL && json_is_object(data));
    char *again = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(again != NULL && strlen(again) == len && memcmp(again, text, len) == 0);
    free(again);

    json_t *redacted = json_object_get(data, "redacted");
    if (out->redacted > 0) {
        CHECK(json_is_integer(redacted) && json_integer_value(redacted) == out->redacted);
    } else if (type != EV_TYPE_CUSTOM) {
        /* A custom producer's own "redacted" member is refused on input. */
        CHECK(redacted == NULL);
    }
    /* A cut can end inside a marker ("pwd=[" of "pwd=[REDACTED:credential]"), which the
     * sanitizer would take for a value: the fixed point is checked on uncut text only. */
    bool cut = strstr(text, "\"truncated\":true") != NULL ||
               (type == EV_TYPE_SECURITY_ASSESSMENT && level == EV_LEVEL_BASIC);
    if (sanitize && !cut) {
        char *clean = NULL;
        size_t clean_len = 0;
        int n =
            evi_event_sanitize_json(policies[level][1]->sanitizer, text, len, &clean, &clean_len);
        CHECK(n == 0 || n == -ENOMEM);
        free(clean);
    }
    if (type != EV_TYPE_CUSTOM) {
        check_typed(type, data, level);
        if (type == EV_TYPE_CODE_EXECUTION) {
            json_t *given = json_loads(input, 0, NULL);
            CHECK(json_is_object(given));
            check_capture_texts(given, data, policies[level][sanitize]->sanitizer);
            json_decref(given);
        }
    } else {
        CHECK(redacted == NULL || out->redacted > 0);
    }
    json_decref(data);
}

/* The same result, bytes and redacted count from the row-driven encoder and the reference. */
static size_t check_encode(const struct evi_schema *schema, const void *event,
                           const struct evi_derived *d, const struct evi_rows *rows,
                           enum ev_level level, const struct evi_sanitizer *sanitizer,
                           size_t max_bytes)
{
    struct evi_encoding encoding = {
        .sanitizer = sanitizer,
        .level = level,
        .max_bytes = max_bytes,
    };
    struct evi_jsonw fast, reference;
    unsigned fast_redacted = 0, reference_redacted = 0;
    evi_jsonw_init(&fast, 0);
    evi_jsonw_init(&reference, 0);
    int r = evi_event_encode(schema, event, d, &encoding, &reference, &reference_redacted);
    encoding.rows = rows;
    CHECK(evi_event_encode(schema, event, d, &encoding, &fast, &fast_redacted) == r);
    size_t len = 0;
    if (r == 0) {
        CHECK(fast.len == reference.len && memcmp(fast.data, reference.data, fast.len) == 0);
        CHECK(fast_redacted == reference_redacted);
        len = fast.len;
    }
    evi_jsonw_free(&fast);
    evi_jsonw_free(&reference);
    return len;
}

/* Set rows and their lengths as the encoder takes them (evi_rows) agree with the event. */
static void check_rows(const struct evi_schema *schema, const void *event,
                       const struct evi_rows *rows)
{
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        const void *p = (const char *)event + f->offset;
        bool set = !(f->flags & EVI_DERIVED) && evi_field_set(f, p);
        CHECK(((rows->set >> i) & 1) == set);
        if (set && f->kind == EV_FIELD_STRING && f->max > 0) {
            CHECK(rows->lengths[i] == strlen(*(const char *const *)p));
        }
    }
}

/* Quick validation, and with the lengths of the set string rows known, gives the reference's
 * result and message. */
static int check_validate(const struct evi_schema *schema, void *event, struct evi_rows *rows)
{
    char message[MESSAGE_MAX];
    int r = evi_event_validate(schema, event, "data", rows);
    (void)snprintf(message, sizeof(message), "%s", r < 0 ? ev_last_error() : "");
    CHECK(evi_event_validate_reference(schema, event, "data") == r);
    CHECK(r == 0 || strncmp(message, ev_last_error(), sizeof(message) - 1) == 0);

    /* The lengths a caller already knows (as ev_syslog_prepare() does): every set string row's. */
    struct evi_rows known = {0};
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        if (f->kind != EV_FIELD_STRING || f->max <= 0) {
            continue;
        }
        const char *value = *(const char *const *)((const char *)event + f->offset);
        if (value != NULL) {
            known.known |= (uint64_t)1 << i;
            known.lengths[i] = strlen(value);
        }
    }
    CHECK(evi_event_validate_known(schema, event, "data", &known) == r);
    CHECK(r == 0 || strncmp(message, ev_last_error(), sizeof(message) - 1) == 0);
    if (r == 0) {
        check_rows(schema, event, rows);
        check_rows(schema, event, &known);
    }
    return r;
}

/*
 * The limits of the string rows, which random mutation seldom hits exactly: each string row
 * with a limit in turn empty, at its limit and one byte over, the rest of the event as
 * decoded, validated both ways.
 */
static void check_string_limits(const struct evi_schema *schema, void *event)
{
    static char filler[100000 + 2];
    if (filler[0] == '\0') {
        memset(filler, 'a', sizeof(filler) - 1);
    }
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        if (f->kind != EV_FIELD_STRING || f->max <= 0 || (size_t)f->max + 1 >= sizeof(filler)) {
            continue;
        }
        const char **value = (const char **)(void *)((char *)event + f->offset);
        const char *given = *value;
        const size_t lengths[] = {0, (size_t)f->max, (size_t)f->max + 1};
        for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
            *value = filler + sizeof(filler) - 1 - lengths[k];
            struct evi_rows rows;
            (void)check_validate(schema, event, &rows);
        }
        *value = given;
    }
}

/* Validation and encoding against their references, on text decoded as a type's event. */
static void check_reference_paths(enum ev_event_type type, const char *text, size_t len,
                                  enum ev_level level, bool sanitize, int severity)
{
    const struct evi_schema *schema = evi_schema_of(type);
    CHECK(schema != NULL && schema->masks);
    json_t *data = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        return;
    }
    struct evi_arena arena = {0};
    struct evi_arena derived_arena = {0};
    void *event = evi_arena_alloc(&arena, schema->struct_size);
    CHECK(event != NULL);
    if (evi_event_decode(schema, data, event, &arena) < 0) {
        goto out;
    }
    struct ev_common *common = event;
    if (severity >= 0) {
        common->severity = EV_SOME_INT(severity);
    }
    if (type == EV_TYPE_SECURITY_ASSESSMENT && json_object_get(data, "counts") != NULL) {
        ((struct ev_security_assessment *)event)->counts_set = true;
    }

    struct evi_rows rows;
    int r = check_validate(schema, event, &rows);
    check_string_limits(schema, event);
    if (r < 0) {
        goto out;
    }

    struct evi_derived d;
    if (evi_event_derive(type, event, &d, &derived_arena) < 0) {
        goto out;
    }
    const struct evi_sanitizer *sanitizer = policies[level][1]->sanitizer;
    for (int l = EV_LEVEL_MINIMAL; l <= EV_LEVEL_COMPREHENSIVE; l++) {
        for (int s = 0; s <= 1; s++) {
            size_t n = check_encode(schema, event, &d, &rows, (enum ev_level)l,
                                    s ? sanitizer : NULL, EV_ENTRY_MAX_BYTES);
            if ((enum ev_level)l == level && (s != 0) == sanitize && n > 0) {
                /* Budgets that cut it: the limit checks of both ways. */
                (void)check_encode(schema, event, &d, &rows, level, s ? sanitizer : NULL, n - 1);
                (void)check_encode(schema, event, &d, &rows, level, s ? sanitizer : NULL, n / 2);
            }
        }
    }
out:
    evi_arena_free(&derived_arena);
    evi_arena_free(&arena);
    json_decref(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t head = data[0];
    const char *type_name = type_names[head & 7];
    enum ev_level level = levels[(head >> 3) & 3];
    bool sanitize = (head & 0x20) == 0;
    int severity = severities[head >> 6];

    /* The data as a C string, in an exact-size copy so that a read past it is an ASan report. */
    size_t len = strnlen((const char *)data + 1, size - 1);
    char *text = malloc(len + 1);
    CHECK(text != NULL);
    memcpy(text, data + 1, len);
    text[len] = '\0';

    struct ev_event event = {
        .type = type_name,
        .severity = severity,
        .source_json = NULL,
        .data_json = len > 0 ? text : NULL,
    };
    enum ev_event_type type;
    CHECK(ev_event_type_parse(type_name, &type) == 0);

    struct ev_prepared out;
    memset(&out, 0xa5, sizeof(out));
    int r = ev_event_prepare(policies[level][sanitize], &event, &out);
    CHECK(r == 0 || r == EV_EJSON || r == EV_EFORMAT || r == EV_ETOOBIG || r == -ENOMEM);
    if (r == 0) {
        check_success(&out, len > 0 ? text : "{}", type_name, type, level, sanitize, severity);
        ev_prepared_release(&out);
        CHECK(out.buffer == NULL);
    } else {
        CHECK(out.buffer == NULL);
        const char *message = ev_last_error();
        CHECK(message != NULL && message[0] != '\0');
        if (severity > EV_SEV_DEBUG) {
            CHECK(r == EV_EFORMAT && starts_with(message, "severity"));
        }
        json_t *parsed = json_loadb(text, len, 0, NULL);
        if (json_is_object(parsed) && r != -ENOMEM) {
            CHECK(starts_with(message, "data") || starts_with(message, "type") ||
                  starts_with(message, "severity"));
        }
        json_decref(parsed);
    }
    check_reference_paths(type == EV_TYPE_CUSTOM ? EV_TYPE_SYSLOG : type, len > 0 ? text : "{}",
                          len > 0 ? len : 2, level, sanitize, severity);
    free(text);
    return 0;
}
