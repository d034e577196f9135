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
 *
 * Matching (rules with on: events): type "*" matches every event, "custom.*"
 * every custom.NAME type, any other type only itself; an event counts when its
 * severity is min_severity or more severe (numerically <= : 0, emergency, is
 * the most severe). The window is exact: the rule keeps the times of the last
 * threshold matching events (at most threshold of them per rule, 24 bytes
 * each) and fires when the oldest of them is less than window old. Events
 * matching during the quiet period are still counted, so a rule fires again
 * right after it when threshold of them fell within the last window; an
 * event is never counted in two alerts.
 *
 * Condition rules (verification_failure, disk_low, logging_failure) count
 * evd_alerts_condition() calls the same way (threshold 1: the first report
 * fires), with the same quiet period.
 *
 * Threads: evd_alerts_observe() and evd_alerts_condition() may be called from
 * any thread and never wait for I/O (they hold a mutex for a few comparisons
 * and queue what fired). An "alert thread" writes each alert through
 * options.record and hands it to the delivery lane of its webhook URL
 * (webhook.h: one webhook cannot delay another). The alert queue and each
 * lane's queue are bounded (options.queue_max, default 1024); an alert a full
 * queue refuses is counted dropped (metrics: alerts_dropped_total).
 */
#ifndef EVD_ALERT_H
#define EVD_ALERT_H

#include <stdint.h>

#include <evident/config.h>

#include "webhook.h"

struct evd_metrics;
struct evd_alerts;

/*
 * Writes an alert to the log as an event: type security_event, category
 * "alert", severity the most severe of the counted events (critical for
 * conditions); data_json is the whole canonical data object:
 *
 *   {"category":"alert","description":"...","details":{"condition":"events",
 *    "count":5,"event_type":"security_event","first_index":10,
 *    "last_index":14,"min_severity":"warning","rule":"auth-failures",
 *    "threshold":5,"window_seconds":600}}
 *
 * (conditions: "detail" instead of event_type, min_severity and the indexes).
 * Called on the alert thread; may block for a commit. The event must be
 * submitted with no_alerts set (an alert must not count towards an alert).
 * Returns 0 or a negative code (the webhook body then says "recorded":false).
 */
typedef int (*evd_record_fn)(void *ctx, int severity, const char *data_json);

struct evd_alert_options {
    const struct ev_config *config; /* rules, webhook timeout and retries; copied */
    struct evd_metrics *metrics;    /* may be NULL; must outlive the alerts */
    evd_record_fn record;           /* may be NULL (tests) */
    void *record_ctx;
    const char *origin; /* the log's origin, put in every webhook body; copied; may be NULL */
    evd_warn_fn warn;   /* messages (webhook failures, drops); NULL: stderr */
    void *warn_ctx;
    /* Tuning, mostly for tests; 0 or NULL for the defaults. */
    size_t queue_max;          /* alerts waiting for each thread; default 1024 */
    uint64_t backoff_base_ns;  /* first webhook retry after about this; default 1 s */
    int64_t (*clock_ns)(void); /* the clock evd_alerts_condition() reads; default
                                  CLOCK_MONOTONIC (condition rules only see this one) */
};

/* What the alerts did so far (the same numbers go to the metrics). */
struct evd_alert_stats {
    uint64_t raised;        /* rules that fired */
    uint64_t recorded;      /* alerts written through options.record */
    uint64_t record_failed; /* record returned an error */
    uint64_t delivered;     /* webhook answered 2xx */
    uint64_t failed;        /* webhook attempts all failed, or shutdown came first */
    uint64_t dropped;       /* refused by a full queue */
    uint64_t attempts;      /* webhook requests made */
};

/*
 * Starts the alert thread and webhook delivery (webhook.h; a lane's thread
 * starts with its first alert). 0, -EINVAL (a rule with threshold
 * or window 0, or no name), -ENOMEM or -errno.
 */
int evd_alerts_start(const struct evd_alert_options *options, struct evd_alerts **ret_alerts);

/*
 * One committed event (called on the committer thread: cheap, never blocks;
 * when the alert queue is full the alert is counted and dropped). now_ns
 * is any clock in ns that the caller uses for every call; evd_now_ns()
 * (monotonic) is best: with a wall clock, a step back delays the expiry of
 * counted events and the end of a quiet period by the size of the step.
 * index is the event's index in the log. a may be NULL (no alerting).
 */
void evd_alerts_observe(struct evd_alerts *a, const char *type, int severity, uint64_t index,
                        int64_t now_ns);

/*
 * A daemon condition (EV_ALERT_VERIFICATION_FAILURE, ...) with a short detail
 * text (or NULL; cut to 1 KiB, put in the alert's details). Never blocks.
 * a may be NULL.
 */
void evd_alerts_condition(struct evd_alerts *a, enum ev_alert_condition condition,
                          const char *detail);

/*
 * Swaps in new rules (SIGHUP); windows of rules kept by name carry over
 * (the counted events and the quiet period), even when their other fields
 * changed. The webhook timeout and retries apply to alerts raised from now
 * on. 0, -EINVAL or -ENOMEM (the old rules then stay).
 */
int evd_alerts_reload(struct evd_alerts *a, const struct ev_config *config);

void evd_alerts_stats(struct evd_alerts *a, struct evd_alert_stats *ret_stats);

/*
 * Waits until every alert raised so far has been through options.record,
 * then stops calling it: alerts raised later (by the last commits) still go
 * to their webhooks, with "recorded":false. Observing stays safe. Call it
 * while the commit queue still runs and before evd_commit_stop(), so that
 * record never meets a stopped queue:
 *
 *   stop producers and timers; evd_alerts_close_record(); evd_commit_stop();
 *   close the log; evd_alerts_stop()
 *
 * Accepts NULL.
 */
void evd_alerts_close_record(struct evd_alerts *a);

/*
 * Handles every alert raised so far (through options.record unless
 * evd_alerts_close_record() was called), then delivers what is queued for
 * webhooks until the webhook timeout has passed since the call, counts what
 * is left as failed, stops both threads and frees. Nothing may observe after
 * it (stop the commit queue first). Accepts NULL.
 */
void evd_alerts_stop(struct evd_alerts *a);

#endif
