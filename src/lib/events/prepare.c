/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preparing an event for the log: validate, derive, apply the policy
 * (enablement, minimum severity, level, sanitization), encode. The C structs
 * come straight here; JSON is decoded into the same structs first. Custom
 * types are checked only as JSON objects and sanitized.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "entry.h"
#include "log-internal.h"
#include "error.h"
#include "events/events.h"
#include "privacy/sanitize.h"

/* The envelope around data: {"v":1,"seq":N,"ts":"...","type":"...","severity":"...",...}. */
#define ENVELOPE_RESERVE 256

void ev_prepared_release(struct ev_prepared *prepared)
{
    if (prepared != NULL) {
        free(prepared->buffer);
        prepared->buffer = NULL;
    }
}

static size_t data_budget(const char *source_json)
{
    const char *source = source_json != NULL ? source_json : evi_default_source();
    size_t used = ENVELOPE_RESERVE + strlen(source);
    return used < EV_ENTRY_MAX_BYTES ? EV_ENTRY_MAX_BYTES - used : 0;
}

/*
 * The envelope fields of out. event.type never points into out itself, so a
 * struct ev_prepared may be moved (qsort, memmove, realloc): a built-in name
 * is static, a custom one is put after the data in the buffer (custom_type).
 */
static void set_head(struct ev_prepared *out, const char *type_name, bool is_static, int severity,
                     const char *source_json)
{
    size_t n = strlen(type_name);
    if (n >= sizeof(out->type)) {
        n = sizeof(out->type) - 1;
    }
    memcpy(out->type, type_name, n);
    out->type[n] = '\0';
    out->event.type = is_static ? type_name : NULL;
    out->event.severity = severity;
    out->event.source_json = source_json;
    out->event.data_json = NULL;
}

static int encode_fitting(const struct evi_schema *schema, enum ev_event_type type,
                          const void *event, struct evi_derived *d,
                          const struct evi_encoding *encoding, struct evi_jsonw *w,
                          unsigned *ret_redacted, bool *ret_truncated)
{
    int r = evi_event_encode(schema, event, d, encoding, w, ret_redacted);
    if (r != EV_ETOOBIG || type != EV_TYPE_SECURITY_ASSESSMENT || d->finding_count == 0 ||
        encoding->level < EV_LEVEL_BASIC) {
        return r;
    }
    /* Keep the most severe findings that fit; counts stay exact. */
    size_t lo = 0, hi = d->finding_count - 1;
    d->findings_truncated = EV_SOME_BOOL(true);
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        d->finding_count = mid;
        d->findings_kept = EV_SOME_INT((int64_t)mid);
        r = evi_event_encode(schema, event, d, encoding, w, ret_redacted);
        if (r == 0) {
            lo = mid;
        } else if (r == EV_ETOOBIG) {
            hi = mid - 1;
        } else {
            return r;
        }
    }
    d->finding_count = lo;
    d->findings_kept = EV_SOME_INT((int64_t)lo);
    *ret_truncated = true;
    return evi_event_encode(schema, event, d, encoding, w, ret_redacted);
}

/*
 * What ev_audit_append_prepared() recognizes the library's data of out by
 * (still_ours()): its length and CRC32C; only its length, flagged, under an
 * own-use policy (evi_policy_own_use()).
 */
static void take_check(const struct ev_policy *policy, struct ev_prepared *out, size_t len)
{
    if (policy != NULL && policy->own_use) {
        out->check = 0;
        out->check_len = (uint32_t)len | EVI_PREPARED_UNCHECKED;
    } else {
        out->check = evi_crc32c(0, out->buffer, len);
        out->check_len = (uint32_t)len;
    }
}

/* A built-in typed event, however it came in. known: NULL, or the lengths of some of its
 * string rows (evi_event_validate_known()), used as the scratch of validation after. */
static int prepare_typed(const struct ev_policy *policy, enum ev_event_type type, const void *event,
                         const char *prefix, struct evi_rows *known, struct ev_prepared *out)
{
    struct evi_arena arena = {0};
    struct evi_jsonw w;
    struct evi_derived d;
    const struct evi_schema *schema = evi_schema_of(type);
    const struct ev_common *common = event;
    int r;

    memset(out, 0, sizeof(*out));
    evi_jsonw_init(&w, 0);
    if (policy == NULL && (policy = evi_policy_default()) == NULL) {
        return evi_error(-ENOMEM, "cannot build the default policy");
    }
    struct evi_rows own;
    struct evi_rows *rows = known != NULL ? known : &own;
    r = known != NULL ? evi_event_validate_known(schema, event, prefix, rows)
                      : evi_event_validate(schema, event, prefix, rows);
    if (r < 0) {
        goto out;
    }
    r = evi_event_derive(type, event, &d, &arena);
    if (r < 0) {
        goto out;
    }
    int severity = common->severity.set ? (int)common->severity.value
                                        : evi_event_default_severity(type, event, &d);
    /* The name's own pointer, which ev_event_type_parse() knows without comparing strings. */
    set_head(out, ev_event_type_name(type), true, severity, common->source_json);
    if (!evi_policy_keeps(policy, type, severity)) {
        out->dropped = true;
        r = 0;
        goto out;
    }
    struct evi_encoding encoding = {
        .sanitizer = policy->sanitizer,
        .level = ev_policy_level(policy, type),
        .max_bytes = data_budget(common->source_json),
        .rows = schema->masks ? rows : NULL,
    };
    r = encode_fitting(schema, type, event, &d, &encoding, &w, &out->redacted, &out->truncated);
    if (r == EV_ETOOBIG) {
        r = evi_error(EV_ETOOBIG, "%s: the event does not fit an entry of %u bytes", prefix,
                      EV_ENTRY_MAX_BYTES);
    } else if (r == -ENOMEM) {
        r = evi_error(r, "out of memory");
    }
    if (r < 0) {
        goto out;
    }
    out->buffer = w.data;
    take_check(policy, out, w.len); /* at most EV_ENTRY_MAX_BYTES (data_budget) */
    w.data = NULL;
    out->event.data_json = out->buffer;
out:
    evi_jsonw_free(&w);
    evi_arena_free(&arena);
    if (r < 0) {
        memset(out, 0, sizeof(*out));
    }
    return r;
}

#define PREPARE(fn, T, type)                                                                       \
    int fn(const struct ev_policy *policy, const T *e, struct ev_prepared *out)                    \
    {                                                                                              \
        return prepare_typed(policy, type, e, ev_event_type_name(type), NULL, out);                \
    }
PREPARE(ev_code_execution_prepare, struct ev_code_execution, EV_TYPE_CODE_EXECUTION)
PREPARE(ev_security_assessment_prepare, struct ev_security_assessment, EV_TYPE_SECURITY_ASSESSMENT)
PREPARE(ev_container_creation_prepare, struct ev_container_creation, EV_TYPE_CONTAINER_CREATION)
PREPARE(ev_resource_violation_prepare, struct ev_resource_violation, EV_TYPE_RESOURCE_VIOLATION)
PREPARE(ev_security_event_prepare, struct ev_security_event, EV_TYPE_SECURITY_EVENT)
PREPARE(ev_system_event_prepare, struct ev_system_event, EV_TYPE_SYSTEM_EVENT)
PREPARE(ev_syslog_event_prepare, struct ev_syslog_event, EV_TYPE_SYSLOG)
#undef PREPARE

/* The rows of the syslog table that hold the strings of enum evi_syslog_string, and their
 * mask. */
static size_t syslog_rows[EVI_SYSLOG_STRINGS];
static uint64_t syslog_rows_mask;
static pthread_once_t syslog_rows_once = PTHREAD_ONCE_INIT;

static void find_syslog_rows(void)
{
    static const size_t offsets[EVI_SYSLOG_STRINGS] = {
        [EVI_SYSLOG_TIMESTAMP] = offsetof(struct ev_syslog_event, timestamp),
        [EVI_SYSLOG_HOSTNAME] = offsetof(struct ev_syslog_event, hostname),
        [EVI_SYSLOG_APP_NAME] = offsetof(struct ev_syslog_event, app_name),
        [EVI_SYSLOG_PROCID] = offsetof(struct ev_syslog_event, procid),
        [EVI_SYSLOG_MSGID] = offsetof(struct ev_syslog_event, msgid),
        [EVI_SYSLOG_MESSAGE] = offsetof(struct ev_syslog_event, message),
    };
    const struct evi_schema *schema = evi_schema_of(EV_TYPE_SYSLOG);
    for (size_t k = 0; k < EVI_SYSLOG_STRINGS; k++) {
        /* Row 0 (with no bit in the mask) if the table had no such row: never read. */
        for (size_t i = 0; i < schema->count; i++) {
            const struct evi_field *f = &schema->fields[i];
            if (f->offset == offsets[k] && f->kind == EV_FIELD_STRING &&
                !(f->flags & EVI_DERIVED)) {
                syslog_rows[k] = i;
                syslog_rows_mask |= (uint64_t)1 << i;
            }
        }
    }
}

int evi_syslog_event_prepare_known(const struct ev_policy *policy, const struct ev_syslog_event *e,
                                   const size_t lengths[EVI_SYSLOG_STRINGS],
                                   struct ev_prepared *out)
{
    struct evi_rows known;
    (void)pthread_once(&syslog_rows_once, find_syslog_rows);
    /* The lengths of the strings that are NULL are garbage: validation reads only those of
     * the rows that are set. */
    known.known = syslog_rows_mask;
    for (size_t k = 0; k < EVI_SYSLOG_STRINGS; k++) {
        known.lengths[syslog_rows[k]] = lengths[k];
    }
    return prepare_typed(policy, EV_TYPE_SYSLOG, e, ev_event_type_name(EV_TYPE_SYSLOG), &known,
                         out);
}

/*
 * Sanitizes the strings of a jansson tree in place, each under its member's
 * key (NULL in arrays) so that credential keys count as in evi_sanitize_json;
 * returns the count or a negative code.
 */
static int sanitize_tree(const struct evi_sanitizer *sanitizer, const char *key, json_t *v)
{
    int total = 0;
    if (json_is_string(v)) {
        char *clean = NULL;
        size_t clean_len = 0;
        int n =
            evi_sanitize_member(sanitizer, key, key != NULL ? strlen(key) : 0, json_string_value(v),
                                json_string_length(v), &clean, &clean_len);
        if (n > 0) {
            n = json_string_setn(v, clean, clean_len) == 0 ? n : -ENOMEM;
            free(clean);
        }
        return n;
    }
    if (json_is_object(v)) {
        const char *member;
        json_t *m;
        json_object_foreach(v, member, m)
        {
            int n = sanitize_tree(sanitizer, member, m);
            if (n < 0) {
                return n;
            }
            total += n;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            int n = sanitize_tree(sanitizer, NULL, m);
            if (n < 0) {
                return n;
            }
            total += n;
        }
    }
    return total;
}

int evi_event_sanitize_json(const struct evi_sanitizer *sanitizer, const char *json, size_t len,
                            char **ret_json, size_t *ret_len)
{
    if (sanitizer == NULL) {
        return 0;
    }
    int n = evi_sanitize_json(sanitizer, json, len, ret_json, ret_len);
    if (n != EV_EJSON) {
        return n;
    }
    json_t *tree = json_loadb(json, len, 0, NULL);
    if (tree == NULL) {
        return evi_error(EV_EJSON, "data: not a JSON object");
    }
    n = sanitize_tree(sanitizer, NULL, tree);
    if (n > 0) {
        *ret_json = json_dumps(tree, JSON_COMPACT | JSON_SORT_KEYS);
        if (*ret_json == NULL) {
            n = -ENOMEM;
        } else {
            *ret_len = strlen(*ret_json);
        }
    }
    json_decref(tree);
    return n;
}

/* A custom type: any JSON object, sanitized, with "redacted" added when it counts. */
static int prepare_custom(const struct ev_policy *policy, const struct ev_event *event,
                          bool data_canonical, struct ev_prepared *out)
{
    const char *canon;
    char *owned = NULL, *clean = NULL;
    size_t clean_len = 0;
    json_t *obj = NULL;
    int severity = event->severity >= 0 ? event->severity : EV_SEV_INFO;
    int r;

    set_head(out, event->type, false, severity, event->source_json);
    if (!evi_policy_keeps(policy, EV_TYPE_CUSTOM, severity)) {
        out->dropped = true;
        return 0;
    }
    if (data_canonical) {
        canon = event->data_json != NULL ? event->data_json : "{}";
    } else {
        r = evi_canonical_object("data", event->data_json != NULL ? event->data_json : "{}", &canon,
                                 &owned);
        if (r < 0) {
            return r;
        }
    }
    size_t len = strlen(canon);
    if (memmem(canon, len, "\"redacted\":", 11) != NULL) {
        /* Maybe a top-level member: that name is the sanitizer's. */
        obj = json_loadb(canon, len, 0, NULL);
        if (obj != NULL && json_object_get(obj, "redacted") != NULL) {
            r = evi_error(EV_EFORMAT, "data.redacted: reserved for the count of secrets evident "
                                      "replaced");
            goto out;
        }
        json_decref(obj);
        obj = NULL;
    }
    int n = evi_event_sanitize_json(policy->sanitizer, canon, len, &clean, &clean_len);
    if (n < 0) {
        r = n;
        goto out;
    }
    if (n > 0) {
        /* Rare: re-sort with the count in (jansson keeps the keys sorted). */
        obj = json_loadb(clean, clean_len, 0, NULL);
        if (obj == NULL || json_object_set_new(obj, "redacted", json_integer(n)) != 0) {
            r = -ENOMEM;
            goto out;
        }
        out->buffer = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
        out->redacted = (unsigned)n;
    } else {
        out->buffer = owned != NULL ? owned : strdup(canon);
        owned = NULL;
    }
    if (out->buffer == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* Markers can be longer than what they replace ("pwd=x"), and reals longer as jansson
     * writes them: what fit on input may not fit now. */
    size_t out_len = strlen(out->buffer);
    if (out_len > data_budget(event->source_json)) {
        r = evi_error(EV_ETOOBIG,
                      "data: %zu bytes once canonical and sanitized; with the source and the "
                      "envelope, over the entry limit of %u",
                      out_len, EV_ENTRY_MAX_BYTES);
        goto out;
    }
    /* The type name after the data's NUL: it moves with the buffer, not with *out. */
    size_t type_len = strlen(out->type);
    char *grown = realloc(out->buffer, out_len + 1 + type_len + 1);
    if (grown == NULL) {
        r = -ENOMEM;
        goto out;
    }
    out->buffer = grown;
    memcpy(grown + out_len + 1, out->type, type_len + 1);
    out->event.type = grown + out_len + 1;
    out->event.data_json = out->buffer;
    take_check(policy, out, out_len); /* at most the data budget */
    r = 0;
out:
    json_decref(obj);
    free(clean);
    free(owned);
    return r;
}

static int prepare_event(const struct ev_policy *policy, const struct ev_event *event,
                         bool data_canonical, struct ev_prepared *out)
{
    enum ev_event_type type;
    json_error_t jerr;
    json_t *data = NULL;
    struct evi_arena arena = {0};
    int r;

    memset(out, 0, sizeof(*out));
    if (policy == NULL && (policy = evi_policy_default()) == NULL) {
        return evi_error(-ENOMEM, "cannot build the default policy");
    }
    if (event == NULL || event->type == NULL) {
        return evi_error(EV_EJSON, "type: required");
    }
    if (event->severity < -1 || event->severity > EV_SEV_DEBUG) {
        return evi_error(EV_EFORMAT, "severity: %d is not a syslog severity", event->severity);
    }
    r = ev_event_type_parse(event->type, &type);
    if (r < 0) {
        return r;
    }
    if (type == EV_TYPE_CUSTOM) {
        r = prepare_custom(policy, event, data_canonical, out);
        if (r < 0) {
            ev_prepared_release(out);
            memset(out, 0, sizeof(*out));
        }
        return r;
    }
    const char *text = event->data_json != NULL ? event->data_json : "{}";
    size_t len = strlen(text);
    if (len > (size_t)16 << 20) {
        return evi_error(EV_ETOOBIG, "data: %zu bytes, over the input limit of 16 MiB", len);
    }
    data = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (data == NULL) {
        return evi_error(EV_EJSON, "data: invalid JSON at line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
    }
    const struct evi_schema *schema = evi_schema_of(type);
    void *e = evi_arena_alloc(&arena, schema->struct_size);
    if (e == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_event_decode(schema, data, e, &arena);
    if (r < 0) {
        goto out;
    }
    struct ev_common *common = e;
    if (event->severity >= 0) {
        common->severity = EV_SOME_INT(event->severity);
    }
    common->source_json = event->source_json;
    if (type == EV_TYPE_SECURITY_ASSESSMENT && json_object_get(data, "counts") != NULL) {
        ((struct ev_security_assessment *)e)->counts_set = true;
    }
    r = prepare_typed(policy, type, e, "data", NULL, out);
out:
    evi_arena_free(&arena);
    json_decref(data);
    return r;
}

int ev_event_prepare(const struct ev_policy *policy, const struct ev_event *event,
                     struct ev_prepared *out)
{
    return prepare_event(policy, event, false, out);
}

int evi_event_prepare_canonical(const struct ev_policy *policy, const struct ev_event *event,
                                struct ev_prepared *out)
{
    return prepare_event(policy, event, true, out);
}

/* ---- prepare and append ------------------------------------------------------ */

static int append_prepared(struct ev_log *log, int r, struct ev_prepared *p, uint64_t *ret_index)
{
    if (r < 0) {
        return r;
    }
    if (p->dropped) {
        ev_prepared_release(p);
        return EV_DROPPED;
    }
    /* The data is ours, canonical by construction and never seen by the caller. */
    size_t len = p->check_len & ~EVI_PREPARED_UNCHECKED;
    r = evi_log_append_library_data(log, &p->event, sizeof(p->event), &len, 1, ret_index, NULL);
    ev_prepared_release(p);
    return r;
}

int ev_audit_append(struct ev_log *log, const struct ev_policy *policy,
                    const struct ev_event *event, uint64_t *ret_index)
{
    struct ev_prepared p;
    return append_prepared(log, ev_event_prepare(policy, event, &p), &p, ret_index);
}

/*
 * The length of the data the library wrote for a prepared event if it still
 * carries exactly that data, else 0 (then it is checked as a caller's JSON).
 * strnlen: a buffer the caller replaced may be shorter than check_len.
 */
static size_t still_ours(const struct ev_prepared *p)
{
    size_t len = p->check_len;
    if (p->buffer == NULL || p->event.data_json != p->buffer || len == 0 ||
        (p->check_len & EVI_PREPARED_UNCHECKED) != 0 || strnlen(p->buffer, len + 1) != len ||
        evi_crc32c(0, p->buffer, len) != p->check) {
        return 0;
    }
    return len;
}

/*
 * For evi_audit_append_own_prepared(): the length of the data the library
 * wrote, if the event still points at it, else 0 (checked as a caller's JSON).
 */
static size_t own_data(const struct ev_prepared *p)
{
    return p->buffer != NULL && p->event.data_json == p->buffer
               ? p->check_len & ~EVI_PREPARED_UNCHECKED
               : 0;
}

static int append_prepared_batch(struct ev_log *log, const struct ev_prepared *prepared,
                                 size_t count, uint64_t *ret_first, size_t *ret_bad, bool own)
{
    _Static_assert(offsetof(struct ev_prepared, event) == 0, "the log reads prepared[i].event");
    size_t ours_one[64];
    size_t *ours = ours_one;
    int r = 0;

    if (count > 64) {
        /* Not calloc: every element is written below before the log reads it. */
        ours = count <= SIZE_MAX / sizeof(*ours) ? malloc(count * sizeof(*ours)) : NULL;
    }

    if (ours == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (prepared[i].dropped) {
            if (ret_bad != NULL) {
                *ret_bad = i;
            }
            r = evi_error(EV_EFORMAT, "event %zu: dropped by the policy, nothing to append", i);
            goto out;
        }
        ours[i] = own ? own_data(&prepared[i]) : still_ours(&prepared[i]);
    }
    /* The events are read in place (stride): no copy of them per batch. */
    r = evi_log_append_library_data(log, count > 0 ? &prepared->event : NULL, sizeof(*prepared),
                                    ours, count, ret_first, ret_bad);
out:
    if (ours != ours_one) {
        free(ours);
    }
    return r;
}

int ev_audit_append_prepared(struct ev_log *log, const struct ev_prepared *prepared, size_t count,
                             uint64_t *ret_first, size_t *ret_bad)
{
    return append_prepared_batch(log, prepared, count, ret_first, ret_bad, false);
}

int evi_audit_append_own_prepared(struct ev_log *log, const struct ev_prepared *prepared,
                                  size_t count, uint64_t *ret_first, size_t *ret_bad)
{
    return append_prepared_batch(log, prepared, count, ret_first, ret_bad, true);
}

#define AUDIT(fn, prep, T)                                                                         \
    int fn(struct ev_log *log, const struct ev_policy *policy, const T *e, uint64_t *ret_index)    \
    {                                                                                              \
        struct ev_prepared p;                                                                      \
        return append_prepared(log, prep(policy, e, &p), &p, ret_index);                           \
    }
AUDIT(ev_audit_code_execution, ev_code_execution_prepare, struct ev_code_execution)
AUDIT(ev_audit_security_assessment, ev_security_assessment_prepare, struct ev_security_assessment)
AUDIT(ev_audit_container_creation, ev_container_creation_prepare, struct ev_container_creation)
AUDIT(ev_audit_resource_violation, ev_resource_violation_prepare, struct ev_resource_violation)
AUDIT(ev_audit_security_event, ev_security_event_prepare, struct ev_security_event)
AUDIT(ev_audit_system_event, ev_system_event_prepare, struct ev_system_event)
AUDIT(ev_audit_syslog_event, ev_syslog_event_prepare, struct ev_syslog_event)
#undef AUDIT
