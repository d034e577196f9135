/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Appending a parsed report: every event prepared under the policy first,
 * then the kept ones in one ev_log_append_batch(), so that a report is in
 * the log whole or not at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <evident/event.h>
#include <evident/ingest.h>
#include <evident/log.h>

#include "error.h"

/* Puts "CONTEXT: " before the library's description of failure r. */
static int with_context(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int with_context(int r, const char *fmt, ...)
{
    char context[128], detail[512];
    va_list ap;

    /* ev_last_error() is the buffer evi_error() writes: copy it first. */
    (void)snprintf(detail, sizeof(detail), "%s", ev_last_error());
    va_start(ap, fmt);
    (void)vsnprintf(context, sizeof(context), fmt, ap);
    va_end(ap);
    return evi_error(r, "%s: %s", context, detail[0] != '\0' ? detail : ev_strerror(r));
}

int ev_ingest_append(struct ev_log *log, const struct ev_policy *policy,
                     const struct ev_ingest *ingest, struct ev_ingest_result *ret_results,
                     size_t *ret_appended)
{
    size_t count = ev_ingest_event_count(ingest), prepared_count = 0, kept = 0;
    struct ev_prepared *prepared = NULL;
    struct ev_ingest_result *results = NULL;
    struct ev_event *events = NULL;
    int r = 0;

    evi_error_clear();
    if (log == NULL || ingest == NULL) {
        return evi_error(-EINVAL, "ev_ingest_append: NULL argument");
    }
    if (count == 0) {
        goto done;
    }
    prepared = calloc(count, sizeof(*prepared));
    results = calloc(count, sizeof(*results));
    events = calloc(count, sizeof(*events));
    if (prepared == NULL || results == NULL || events == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (i < ingest->assessment_count) {
            r = ev_security_assessment_prepare(policy, &ingest->assessments[i], &prepared[i]);
        } else {
            r = ev_container_creation_prepare(
                policy, &ingest->containers[i - ingest->assessment_count], &prepared[i]);
        }
        if (r < 0) {
            r = with_context(r, "event %zu of the report", i);
            goto out;
        }
        prepared_count++;
        results[i] = (struct ev_ingest_result){
            .dropped = prepared[i].dropped,
            .truncated = prepared[i].truncated,
            .redacted = prepared[i].redacted,
        };
        if (!prepared[i].dropped) {
            events[kept++] = prepared[i].event;
        }
    }
    if (kept > 0) {
        uint64_t first = 0;
        size_t bad = SIZE_MAX;
        r = ev_log_append_batch(log, events, kept, &first, &bad);
        if (r < 0) {
            if (bad < kept) {
                r = with_context(r, "an event of the report");
            }
            goto out;
        }
        for (size_t i = 0; i < count; i++) {
            if (!results[i].dropped) {
                results[i].index = first++;
            }
        }
    }
done:
    if (ret_results != NULL && count > 0) {
        for (size_t i = 0; i < count; i++) {
            ret_results[i] = results[i];
        }
    }
    if (ret_appended != NULL) {
        *ret_appended = kept;
    }
out:
    for (size_t i = 0; i < prepared_count; i++) {
        ev_prepared_release(&prepared[i]);
    }
    free(prepared);
    free(results);
    free(events);
    return r;
}
