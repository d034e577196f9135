/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Alerting: the rules of alerting.rules (include/evident/config.h) watch the
 * committed events and the daemon's conditions; an alert that fires is
 * written to the log as an event of its own and delivered to the rule's
 * webhook (libcurl, JSON body, retries with backoff) on a thread of its own,
 * so a slow or dead webhook never blocks ingestion.
 *
 * A rule fires when threshold matching events fall within window; it then
 * stays quiet for one window (no alert storms) and fires again after it if
 * the condition still holds.
 */
#ifndef EVD_ALERT_H
#define EVD_ALERT_H

#include <stdint.h>

#include <evident/config.h>

struct evd_metrics;
struct evd_alerts;

/*
 * Writes an alert to the log as an event: type security_event, category
 * "alert", severity of the triggering event (or critical for conditions);
 * data_json is the whole canonical data object. Called on the alert thread;
 * may block for a commit. Returns 0 or a negative code.
 */
typedef int (*evd_record_fn)(void *ctx, int severity, const char *data_json);

struct evd_alert_options {
    const struct ev_config *config; /* rules, webhook timeout and retries; kept */
    struct evd_metrics *metrics;    /* may be NULL */
    evd_record_fn record;           /* may be NULL (tests) */
    void *record_ctx;
    const char *origin; /* the log's origin, put in every webhook body */
};

/* Starts the delivery thread. 0 or -errno / -ENOMEM. */
int evd_alerts_start(const struct evd_alert_options *options, struct evd_alerts **ret_alerts);

/*
 * One committed event (called on the committer thread: cheap, never blocks;
 * when the delivery queue is full the alert is counted and dropped).
 */
void evd_alerts_observe(struct evd_alerts *a, const char *type, int severity, uint64_t index,
                        int64_t now_ns);

/* A daemon condition (EV_ALERT_VERIFICATION_FAILURE, ...) with a short detail text. */
void evd_alerts_condition(struct evd_alerts *a, enum ev_alert_condition condition,
                          const char *detail);

/* Swaps in new rules (SIGHUP); windows of rules kept by name carry over. */
int evd_alerts_reload(struct evd_alerts *a, const struct ev_config *config);

/* Delivers what is queued (up to the webhook timeout), stops the thread, frees. */
void evd_alerts_stop(struct evd_alerts *a);

#endif
