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
#include "ingest/jsonl-internal.h" /* src/lib: evi_jsonl_read() */
#include "intake.h"

/*
 * The transport's source with the producer's claim (a JSON object's text,
 * which the fast reader may have passed on unchecked) under "claimed".
 */
static int claimed_source(const char *transport_source, const char *claim_json, char **ret_source,
                          char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *claim = json_loads(claim_json, JSON_REJECT_DUPLICATES, &jerr), *src;
    int r = -ENOMEM;

    if (claim == NULL) {
        /* Worded as the library words a fault inside data (prepare.c). */
        (void)snprintf(err, err_size, "source: invalid JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
        return EV_EJSON;
    }
    src = json_loads(transport_source, 0, NULL);
    if (src != NULL && json_object_set(src, "claimed", claim) == 0) {
        *ret_source = json_dumps(src, JSON_COMPACT | JSON_SORT_KEYS);
        r = *ret_source != NULL ? 0 : -ENOMEM;
    }
    json_decref(claim);
    json_decref(src);
    if (r < 0) {
        (void)snprintf(err, err_size, "out of memory");
    }
    return r;
}

/* Each thread's buffer for the reader, freed when the thread ends. */
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
 * The library's reader (evi_jsonl_read(): the fast reader for the common
 * event, jansson for the rest, with the same words as `evident append
 * --jsonl`), then the event prepared under the current policy. Its text
 * lives in a per-thread buffer that grows to the largest event seen and is
 * freed with the thread.
 */
static int intake_json(struct evd *d, bool held, const char *json, size_t len,
                       const char *transport_source, const char *type_override,
                       struct ev_prepared *out, char **ret_source, char *err, size_t err_size)
{
    struct ev_jsonl_buffer *text = thread_text();
    struct ev_jsonl_event event;
    struct ev_event ev;
    bool data_canonical = false;
    int r;

    *ret_source = NULL;
    if (text == NULL) {
        (void)snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    ev_jsonl_buffer_clear(text);
    r = evi_jsonl_read(text, json, len, type_override, &event, &data_canonical);
    if (r == 0) {
        /* Blank: the socket skips blank lines and HTTP's split finds none, so only a slip. */
        (void)snprintf(err, err_size, "expected a JSON object (an event)");
        return EV_EJSON;
    }
    if (r < 0) {
        /* The reader says nothing of its own on -ENOMEM: the last error is another's. */
        (void)snprintf(err, err_size, "%s", r == -ENOMEM ? "out of memory" : ev_last_error());
        return r;
    }
    ev_jsonl_event_get(text, &event, &ev);
    if (ev.source_json != NULL &&
        (r = claimed_source(transport_source, ev.source_json, ret_source, err, err_size)) < 0) {
        return r;
    }
    ev.source_json = *ret_source != NULL ? *ret_source : transport_source;
    if (!held) {
        pthread_rwlock_rdlock(&d->config_lock);
    }
    r = data_canonical ? evi_event_prepare_canonical(d->policy, &ev, out)
                       : ev_event_prepare(d->policy, &ev, out);
    if (!held) {
        pthread_rwlock_unlock(&d->config_lock);
    }
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
