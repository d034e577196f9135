/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the typed events: validating, deriving, encoding and decoding an
 * event through its schema (schema.h), and the policy's internals.
 */
#ifndef EVI_EVENTS_EVENTS_H
#define EVI_EVENTS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    bool own_use;                    /* evi_policy_own_use() */
};

/*
 * Events prepared under this policy take no check of their data (no CRC32C
 * pass): for a caller that appends them only with
 * evi_audit_append_own_prepared() (evidentd). Given to
 * ev_audit_append_prepared() all the same, their data is checked like a
 * caller's JSON (still_ours() sees EVI_PREPARED_UNCHECKED).
 */
void evi_policy_own_use(struct ev_policy *policy);

/* In ev_prepared.check_len: no check was taken (evi_policy_own_use()). */
#define EVI_PREPARED_UNCHECKED (UINT32_C(1) << 31)

/* The policy NULL stands for (every default), made once. NULL if that failed. */
const struct ev_policy *evi_policy_default(void);

/* true if the policy keeps an event of this type and severity. */
bool evi_policy_keeps(const struct ev_policy *policy, enum ev_event_type type, int severity);

/*
 * ev_event_prepare() for a caller that vouches that event->data_json (or its
 * absence) is in canonical form already (evi_jsonl_read_fast() said so): a
 * custom event's data is then not checked for it again. evidentd's intake.
 */
int evi_event_prepare_canonical(const struct ev_policy *policy, const struct ev_event *event,
                                struct ev_prepared *out);

/*
 * ev_audit_append_prepared() for a caller inside this project that prepared
 * every event with the library's prepare functions and changes none before
 * appending it (evidentd). The data the library wrote is taken as it is,
 * without the check that recognizes it for an application (still_ours(): a
 * pass of strnlen and one of CRC32C over each event's data, on the writer's
 * serial path). An event whose data_json no longer points at the library's
 * buffer is checked like any caller's JSON.
 */
int evi_audit_append_own_prepared(struct ev_log *log, const struct ev_prepared *prepared,
                                  size_t count, uint64_t *ret_first, size_t *ret_bad);

/* ---- memory for decoded events --------------------------------------------- */

struct evi_arena {
    void **blocks;
    size_t count, cap;
};
void *evi_arena_alloc(struct evi_arena *arena, size_t size);
void evi_arena_free(struct evi_arena *arena);

/* ---- one event through the schema ------------------------------------------ */

/*
 * What validation learned of an event of a merged table (schema->masks) for the
 * encoder, valid while the event is unchanged.
 */
struct evi_rows {
    /* bit i: row i is not EVI_DERIVED and has a value (evi_field_set()) */
    uint64_t set;
    /* evi_event_validate_known() only: string rows whose lengths[] the caller gave */
    uint64_t known;
    /* the length of each set EV_FIELD_STRING row with a limit (max > 0); others unset */
    size_t lengths[EVI_MAX_FIELDS];
};

/*
 * Checks a struct against its schema: required fields, bounds, sizes, digests.
 * EV_EFORMAT naming "PREFIX.field" (prefix: "data" or the type's name).
 * ret_rows: NULL, or filled on success when schema is a merged table
 * (schema->masks; left alone otherwise), for evi_encoding.rows; on failure
 * its contents are unspecified (it is scratch for the lengths as they are
 * taken, which a copy on success would cost more than).
 */
int evi_event_validate(const struct evi_schema *schema, const void *event, const char *prefix,
                       struct evi_rows *ret_rows);
/*
 * evi_event_validate() with rows->known and those rows' lengths[] given by the caller: for
 * each such row that is set (an EV_FIELD_STRING row of a merged table), the strlen() of its
 * value, so that it is not measured again. Rows of rows->known that are not set are ignored.
 */
int evi_event_validate_known(const struct evi_schema *schema, const void *event, const char *prefix,
                             struct evi_rows *rows);
/* For tests: the same checks without the shortcuts (every row in order through the full
 * test); the result and ev_last_error() must be those of evi_event_validate(). */
int evi_event_validate_reference(const struct evi_schema *schema, const void *event,
                                 const char *prefix);

/* Whether any row of an object (EVI_DERIVED ones aside) has a value. */
bool evi_object_set(const struct evi_schema *schema, const void *obj);

static inline bool evi_capture_set(const struct ev_capture *c)
{
    return c->data != NULL || c->sha256 != NULL || c->bytes.set;
}

/* Whether a field at p has a value to write (for a derived row, p is in struct evi_derived).
 * Inline: it is asked of many rows of every event, and is mostly one load. */
static inline __attribute__((always_inline)) bool evi_field_set(const struct evi_field *f,
                                                                const void *p)
{
    switch (f->kind) {
    case EV_FIELD_STRING:
    case EV_FIELD_DIGEST:
    case EV_FIELD_JSON: return *(const char *const *)p != NULL;
    case EV_FIELD_INT: return (f->flags & EVI_PLAIN_INT) || ((const struct ev_opt_int *)p)->set;
    case EV_FIELD_BOOL: return ((const struct ev_opt_bool *)p)->set;
    case EV_FIELD_ENUM: return *(const int *)p != 0;
    case EV_FIELD_STRINGS: return ((const struct ev_strings *)p)->count > 0;
    case EV_FIELD_CAPTURE: return evi_capture_set(p);
    case EV_FIELD_OBJECT: return evi_object_set(f->sub, p);
    case EV_FIELD_OBJECTS: return *(const size_t *)((const char *)p + sizeof(void *)) > 0;
    }
    return false;
}

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
    /* NULL, or what evi_event_validate() found of this event (a merged table's): only the set
     * rows are visited, and string lengths are not measured again. */
    const struct evi_rows *rows;
};

/*
 * Writes the canonical data object of an event into w. Returns 0 (and the
 * secrets replaced in *ret_redacted), EV_ETOOBIG if it does not fit, or
 * -ENOMEM.
 */
int evi_event_encode(const struct evi_schema *schema, const void *event,
                     const struct evi_derived *derived, const struct evi_encoding *encoding,
                     struct evi_jsonw *w, unsigned *ret_redacted);

/* The strings of a syslog event that ev_syslog_prepare() copies, whose lengths it knows. */
enum evi_syslog_string {
    EVI_SYSLOG_TIMESTAMP,
    EVI_SYSLOG_HOSTNAME,
    EVI_SYSLOG_APP_NAME,
    EVI_SYSLOG_PROCID,
    EVI_SYSLOG_MSGID,
    EVI_SYSLOG_MESSAGE,
    EVI_SYSLOG_STRINGS,
};

/*
 * ev_syslog_event_prepare() for an event whose strings' lengths are known:
 * lengths[k] is the strlen() of the string k (enum evi_syslog_string) when
 * it is set (ignored when NULL). The same result, messages and bytes.
 */
int evi_syslog_event_prepare_known(const struct ev_policy *policy, const struct ev_syslog_event *e,
                                   const size_t lengths[EVI_SYSLOG_STRINGS],
                                   struct ev_prepared *out);

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
