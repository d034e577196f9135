/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intake (intake.h): a producer's JSON event or syslog message, made into a
 * prepared event under the current policy. The policy may be swapped by a
 * reload, so it is used under the configuration's read lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/jsonl.h>
#include <evident/syslog.h>

#include "events/events.h"         /* src/lib: evi_event_prepare_canonical() */
#include "ingest/jsonl-internal.h" /* src/lib: evi_jsonl_read_fast() */
#include "intake.h"

static int fail(char *err, size_t err_size, int code, const char *message)
{
    (void)snprintf(err, err_size, "%s", message);
    return code;
}

/* The transport's source with the producer's claim added under "claimed". */
static int claimed_source(const char *transport_source, json_t *claim, char **ret_source)
{
    json_t *src = json_loads(transport_source, 0, NULL);
    int r = -ENOMEM;

    if (src != NULL && json_object_set(src, "claimed", claim) == 0) {
        *ret_source = json_dumps(src, JSON_COMPACT | JSON_SORT_KEYS);
        r = *ret_source != NULL ? 0 : -ENOMEM;
    }
    json_decref(src);
    return r;
}

static int severity_of(json_t *v, int *ret_severity, char *err, size_t err_size)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < EV_SEV_EMERGENCY || n > EV_SEV_DEBUG) {
            return fail(err, err_size, EV_EJSON, "severity: expected 0..7 or a name");
        }
        *ret_severity = (int)n;
        return 0;
    }
    if (!json_is_string(v) || ev_severity_parse(json_string_value(v), ret_severity) < 0) {
        return fail(
            err, err_size, EV_EJSON,
            "severity: expected emergency, alert, critical, error, warning, notice, info or debug");
    }
    return 0;
}

/* ev_event_prepare under the current policy: held says the caller has the read lock. */
static int prepare_held(struct evd *d, bool held, const struct ev_event *ev, bool data_canonical,
                        struct ev_prepared *out)
{
    int r;

    if (!held) {
        pthread_rwlock_rdlock(&d->config_lock);
    }
    r = data_canonical ? evi_event_prepare_canonical(d->policy, ev, out)
                       : ev_event_prepare(d->policy, ev, out);
    if (!held) {
        pthread_rwlock_unlock(&d->config_lock);
    }
    return r;
}

static int intake_value(struct evd *d, bool held, const void *json_value,
                        const char *transport_source, const char *type_override,
                        struct ev_prepared *out, char **ret_source, char *err, size_t err_size)
{
    json_t *event = (json_t *)json_value, *data = NULL, *claim = NULL;
    const char *type = NULL, *key;
    json_t *value;
    struct ev_event ev = {.severity = -1};
    char *data_text = NULL;
    int r;

    *ret_source = NULL;
    if (!json_is_object(event)) {
        return fail(err, err_size, EV_EJSON, "expected a JSON object (an event)");
    }
    json_object_foreach(event, key, value)
    {
        if (strcmp(key, "type") == 0) {
            if (!json_is_string(value)) {
                return fail(err, err_size, EV_EJSON, "type: expected a string");
            }
            type = json_string_value(value);
        } else if (strcmp(key, "severity") == 0) {
            if ((r = severity_of(value, &ev.severity, err, err_size)) < 0) {
                return r;
            }
        } else if (strcmp(key, "data") == 0) {
            if (!json_is_object(value)) {
                return fail(err, err_size, EV_EJSON, "data: expected a JSON object");
            }
            data = value;
        } else if (strcmp(key, "source") == 0) {
            if (!json_is_object(value)) {
                return fail(err, err_size, EV_EJSON, "source: expected a JSON object");
            }
            claim = value;
        } else {
            (void)snprintf(err, err_size,
                           "%.64s: unknown member (an event has type, severity, data, source)",
                           key);
            return EV_EJSON;
        }
    }
    if (type_override != NULL) {
        if (type != NULL && strcmp(type, type_override) != 0) {
            return fail(err, err_size, EV_EJSON, "type: differs from the type in the path");
        }
        type = type_override;
    }
    if (type == NULL) {
        return fail(err, err_size, EV_EJSON, "type: required");
    }
    if (data != NULL && (data_text = json_dumps(data, JSON_COMPACT)) == NULL) {
        return fail(err, err_size, -ENOMEM, "out of memory");
    }
    if (claim != NULL && (r = claimed_source(transport_source, claim, ret_source)) < 0) {
        free(data_text);
        return fail(err, err_size, r, "out of memory");
    }
    ev.type = type;
    ev.source_json = *ret_source != NULL ? *ret_source : transport_source;
    ev.data_json = data_text;

    r = prepare_held(d, held, &ev, false, out);
    free(data_text);
    if (r == 0 && out->dropped) {
        ev_prepared_release(out);
        r = EV_DROPPED;
    }
    if (r < 0) {
        (void)snprintf(err, err_size, "%s", ev_last_error());
    }
    if (r != 0) {
        free(*ret_source);
        *ret_source = NULL;
    }
    return r;
}

/* Each thread's buffer for the fast reader, freed when the thread ends. */
static pthread_key_t text_key;
static pthread_once_t text_once = PTHREAD_ONCE_INIT;

static void text_free(void *p)
{
    ev_jsonl_buffer_free(p);
}

static void text_key_make(void)
{
    (void)pthread_key_create(&text_key, text_free);
}

static struct ev_jsonl_buffer *thread_text(void)
{
    struct ev_jsonl_buffer *b;

    (void)pthread_once(&text_once, text_key_make);
    b = pthread_getspecific(text_key);
    if (b == NULL && ev_jsonl_buffer_new(&b) == 0 && pthread_setspecific(text_key, b) != 0) {
        ev_jsonl_buffer_free(b);
        b = NULL;
    }
    return b;
}

/*
 * The common event, with no source claim, read without a parse tree (the
 * library's fast reader, ev_jsonl_read_fast()): 1 done (r in *ret_r), 0 not
 * sure (take the jansson way, which also names what is wrong). Its text lives
 * in a per-thread buffer that grows to the largest event seen and is freed
 * with the thread.
 */
static int intake_fast(struct evd *d, bool held, const char *json, size_t len,
                       const char *transport_source, const char *type_override,
                       struct ev_prepared *out, char *err, size_t err_size, int *ret_r)
{
    struct ev_jsonl_buffer *text = thread_text();
    struct ev_jsonl_event event;
    struct ev_event ev;
    bool data_canonical = false;
    int r;

    if (text == NULL) {
        return 0;
    }
    ev_jsonl_buffer_clear(text);
    if (evi_jsonl_read_fast(text, json, len, EV_ENTRY_MAX_BYTES, &event, &data_canonical) != 1 ||
        event.source != EV_JSONL_ABSENT) {
        return 0;
    }
    ev_jsonl_event_get(text, &event, &ev);
    if (type_override != NULL && strcmp(ev.type, type_override) != 0) {
        return 0;
    }
    ev.source_json = transport_source;
    r = prepare_held(d, held, &ev, data_canonical, out);
    if (r == 0 && out->dropped) {
        ev_prepared_release(out);
        r = EV_DROPPED;
    }
    if (r < 0) {
        (void)snprintf(err, err_size, "%s", ev_last_error());
    }
    *ret_r = r;
    return 1;
}

static int intake_json(struct evd *d, bool held, const char *json, size_t len,
                       const char *transport_source, const char *type_override,
                       struct ev_prepared *out, char **ret_source, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *event;
    int r;

    *ret_source = NULL;
    if (intake_fast(d, held, json, len, transport_source, type_override, out, err, err_size, &r)) {
        return r;
    }
    event = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (event == NULL) {
        (void)snprintf(err, err_size, "column %d: %s", jerr.column, jerr.text);
        return EV_EJSON;
    }
    r = intake_value(d, held, event, transport_source, type_override, out, ret_source, err,
                     err_size);
    json_decref(event);
    return r;
}

int evd_intake_json(struct evd *d, const char *json, size_t len, const char *transport_source,
                    const char *type_override, struct ev_prepared *out, char **ret_source,
                    char *err, size_t err_size)
{
    return intake_json(d, false, json, len, transport_source, type_override, out, ret_source, err,
                       err_size);
}

int evd_intake_json_held(struct evd *d, const char *json, size_t len, const char *transport_source,
                         const char *type_override, struct ev_prepared *out, char **ret_source,
                         char *err, size_t err_size)
{
    return intake_json(d, true, json, len, transport_source, type_override, out, ret_source, err,
                       err_size);
}

int evd_intake_value(struct evd *d, const void *json_value, const char *transport_source,
                     const char *type_override, struct ev_prepared *out, char **ret_source,
                     char *err, size_t err_size)
{
    return intake_value(d, false, json_value, transport_source, type_override, out, ret_source, err,
                        err_size);
}

int evd_intake_syslog(struct evd *d, const char *msg, size_t len, const char *transport_source,
                      struct ev_prepared *out, char *err, size_t err_size)
{
    struct ev_syslog_message m;
    int r;

    r = ev_syslog_parse(msg, len, &m);
    if (r == 0) {
        pthread_rwlock_rdlock(&d->config_lock);
        r = ev_syslog_prepare(d->policy, &m, transport_source, out);
        pthread_rwlock_unlock(&d->config_lock);
        if (r == 0 && out->dropped) {
            ev_prepared_release(out);
            r = EV_DROPPED;
        }
    }
    if (r < 0) {
        (void)snprintf(err, err_size, "%s", ev_last_error());
    }
    return r;
}
