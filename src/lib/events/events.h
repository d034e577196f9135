/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the typed events: validating, deriving, encoding and decoding an
 * event through its schema (schema.h), and the policy's internals.
 */
#ifndef EVI_EVENTS_EVENTS_H
#define EVI_EVENTS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <evident/config.h>
#include <evident/event.h>
#include <evident/policy.h>
#include <evident/syslog.h>

#include "events/schema.h"
#include "jsonw.h"

struct evi_sanitizer;

struct ev_policy {
    enum ev_level default_level;
    struct ev_type_policy types[EV_TYPE_COUNT];
    struct evi_sanitizer *sanitizer; /* NULL: sanitization off */
};

/* The policy NULL stands for (every default), made once. NULL if that failed. */
const struct ev_policy *evi_policy_default(void);

/* true if the policy keeps an event of this type and severity. */
bool evi_policy_keeps(const struct ev_policy *policy, enum ev_event_type type, int severity);

/* ---- memory for decoded events --------------------------------------------- */

struct evi_arena {
    void **blocks;
    size_t count, cap;
};
void *evi_arena_alloc(struct evi_arena *arena, size_t size);
void evi_arena_free(struct evi_arena *arena);

/* ---- one event through the schema ------------------------------------------ */

/*
 * Checks a struct against its schema: required fields, bounds, sizes, digests.
 * EV_EFORMAT naming "PREFIX.field" (prefix: "data" or the type's name).
 * ret_lengths (NULL, or schema->count entries): on success, the length of
 * the value of each EV_FIELD_STRING row with a limit (max > 0) that is set;
 * other entries are left alone. For evi_encoding.lengths, valid while the
 * event is unchanged.
 */
int evi_event_validate(const struct evi_schema *schema, const void *event, const char *prefix,
                       size_t *ret_lengths);
/* For tests: the same checks without the shortcuts for common rows (every row through the
 * full test); the result and ev_last_error() must be those of evi_event_validate(). */
int evi_event_validate_reference(const struct evi_schema *schema, const void *event,
                                 const char *prefix);

/* Fills the derived fields of an event (counts, score, risks, sorted findings). */
int evi_event_derive(enum ev_event_type type, const void *event, struct evi_derived *derived,
                     struct evi_arena *arena);

/* The type's default severity for this event (docs/EVENTS.md). */
int evi_event_default_severity(enum ev_event_type type, const void *event,
                               const struct evi_derived *derived);

struct evi_encoding {
    const struct evi_sanitizer *sanitizer; /* NULL: none */
    enum ev_level level;
    size_t max_bytes; /* the data object's budget */
    /* NULL, or the string lengths evi_event_validate() took of this event's rows, so that
     * they are not measured again. */
    const size_t *lengths;
};

/*
 * Writes the canonical data object of an event into w. Returns 0 (and the
 * secrets replaced in *ret_redacted), EV_ETOOBIG if it does not fit, or
 * -ENOMEM.
 */
int evi_event_encode(const struct evi_schema *schema, const void *event,
                     const struct evi_derived *derived, const struct evi_encoding *encoding,
                     struct evi_jsonw *w, unsigned *ret_redacted);

/*
 * Sanitizes every string value of a canonical JSON object (sanitizer may be
 * NULL). Returns 0 when nothing matched, else the count and the canonical
 * result in *ret_json (malloc'd). Falls back to jansson for what the
 * sanitizer's own reader does not take (reals).
 */
int evi_event_sanitize_json(const struct evi_sanitizer *sanitizer, const char *json, size_t len,
                            char **ret_json, size_t *ret_len);

/*
 * Decodes a data object into a zeroed event struct of the schema's type.
 * Strings point into data (keep it alive) or the arena. EV_EFORMAT/EV_EJSON
 * naming "data.path" on a wrong field.
 */
int evi_event_decode(const struct evi_schema *schema, json_t *data, void *event,
                     struct evi_arena *arena);

#endif
