/* SPDX-License-Identifier: Apache-2.0 */
/* Retention in evidentd: see retention.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <evident/error.h>
#include <evident/retention.h>

#include "daemon.h"
#include "metrics.h"
#include "retention.h"

int64_t evd_retention_run(struct evd *d, const char *why, uint64_t want_free_bytes)
{
    struct ev_retention policy = {0};
    struct ev_prune_report rep;

    pthread_rwlock_rdlock(&d->config_lock); /* a reload may swap the configuration */
    policy.max_age_ns = d->config->retention.max_age_ns;
    policy.max_bytes = d->config->retention.max_bytes;
    policy.min_age_ns = d->config->retention.min_age_ns;
    pthread_rwlock_unlock(&d->config_lock);
    if (policy.min_age_ns != 0) {
        policy.want_free_bytes = want_free_bytes; /* early pruning only with a min_age */
    }
    if (policy.max_age_ns == 0 && policy.max_bytes == 0 && policy.want_free_bytes == 0) {
        return 0; /* keep everything */
    }
    pthread_rwlock_rdlock(&d->log_lock); /* disk.c may reopen the log */
    int r = d->log != NULL ? ev_log_prune(d->log, &policy, 0, &rep) : -ENODEV;
    pthread_rwlock_unlock(&d->log_lock);
    if (r < 0 || rep.count > 0) {
        /* It counted what is gone (a failed pass may have pruned some segments already). */
        evd_summary_forget(d);
    }
    if (r < 0) {
        fprintf(stderr, "evidentd: retention (%s): %s\n", why, ev_last_error());
        evd_metrics_retention(d->metrics, false, 0, 0);
        return r;
    }
    evd_metrics_retention(d->metrics, true, rep.entries, rep.bytes_freed);
    if (rep.count > 0) {
        fprintf(stderr,
                "evidentd: retention (%s): pruned %zu segments, entries %" PRIu64 "..%" PRIu64
                ", %" PRIu64 " bytes freed; retention entry %" PRIu64 "\n",
                why, rep.count, rep.segments[0].first, rep.segments[rep.count - 1].last,
                rep.bytes_freed, rep.retention_index);
    }
    int64_t n = (int64_t)rep.entries;
    ev_prune_report_free(&rep);
    return n;
}
