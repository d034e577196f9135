/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's clock work (timers.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include <evident/error.h>

#include "alert.h"
#include "commit.h"
#include "metrics.h"
#include "timers.h"

#define TICK_NS 250000000ll
#define DISK_CHECK_NS 10000000000ll

struct evd_timers {
    struct evd *d;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static int checkpoint_on_committer(struct ev_log *log, void *arg)
{
    (void)arg;
    return ev_log_checkpoint(log);
}

/* Notes when the latest seal and checkpoint were made, for the metrics. */
static void note_progress(struct evd *d, const struct ev_log_info *before,
                          const struct ev_log_info *after)
{
    int64_t now = evd_wall_ns();

    if (after->checkpoint_size != before->checkpoint_size) {
        atomic_store(&d->last_checkpoint_ns, now);
    }
    if (after->last_epoch != before->last_epoch ||
        (after->last_epoch_sealed && !before->last_epoch_sealed)) {
        atomic_store(&d->last_seal_ns, now);
    }
}

int evd_checkpoint_now(struct evd *d)
{
    struct ev_log_info before, after;
    int r;

    if (ev_log_info(d->log, &before) < 0) {
        memset(&before, 0, sizeof(before));
    }
    r = evd_commit_call(d->commit, checkpoint_on_committer, NULL);
    if (r == 0 && ev_log_info(d->log, &after) == 0) {
        note_progress(d, &before, &after);
    }
    return r;
}

int evd_self_verify(struct evd *d, struct ev_verify_report *ret_report)
{
    struct ev_verify_options options = {.threads = 1};
    struct ev_verify_report report;
    int r = 0;

    for (int attempt = 0; attempt < 2; attempt++) {
        /* A checkpoint signed between the reader's looks can read as a short log: look twice. */
        memset(&report, 0, sizeof(report));
        r = ev_verify_dir(d->config->log.dir, &options, &report);
        if (r == 0) {
            break;
        }
    }
    /* EV_EVERIFY with report.failure set: the log is bad; any other error: it cannot be read. */
    bool ok = r == 0;
    evd_metrics_verification(d->metrics, ok);
    if (!ok) {
        char detail[400];
        atomic_fetch_add(&d->verification_failures, 1);
        if (report.failure != EV_FAIL_NONE) {
            (void)snprintf(detail, sizeof(detail), "%s: %s", ev_failure_name(report.failure),
                           report.detail);
        } else {
            (void)snprintf(detail, sizeof(detail), "cannot verify: %s", ev_last_error());
        }
        fprintf(stderr, "evidentd: self-verification FAILED: %s\n", detail);
        if (d->alerts != NULL) {
            evd_alerts_condition(d->alerts, EV_ALERT_VERIFICATION_FAILURE, detail);
        }
    }
    if (ret_report != NULL) {
        *ret_report = report;
    }
    return r;
}

void evd_check_disk(struct evd *d)
{
    struct statvfs st;
    uint64_t low = d->config->alerting.disk_low_bytes;

    if (low == 0 || statvfs(d->config->log.dir, &st) < 0) {
        return;
    }
    uint64_t free_bytes = (uint64_t)st.f_bavail * st.f_frsize;
    if (free_bytes < low && d->alerts != NULL) {
        char detail[128];
        (void)snprintf(detail, sizeof(detail), "%llu bytes free on the log's file system",
                       (unsigned long long)free_bytes);
        evd_alerts_condition(d->alerts, EV_ALERT_DISK_LOW, detail);
    }
}

static void *run(void *arg)
{
    struct evd_timers *t = arg;
    struct evd *d = t->d;
    int64_t start = evd_now_ns();
    int64_t next_checkpoint = start, next_verify = start, next_disk = start;

    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_NS;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        (void)pthread_cond_timedwait(&t->cond, &t->lock, &until);
        if (t->stop) {
            break;
        }
        pthread_mutex_unlock(&t->lock);

        int64_t now = evd_now_ns();
        const struct ev_config *cfg = d->config;
        struct ev_log_info info;
        bool seal_due = false;
        if (ev_log_info(d->log, &info) == 0 && info.open_epoch_entries > 0 &&
            info.open_epoch_since_ns > 0) {
            /* The open epoch's time is up: seal it even if no event arrives. */
            seal_due = evd_wall_ns() - info.open_epoch_since_ns >= (int64_t)info.seal_interval_ns;
        }
        if (seal_due || now >= next_checkpoint) {
            if (evd_checkpoint_now(d) < 0 && evd_commit_error(d->commit) == 0) {
                fprintf(stderr, "evidentd: checkpoint: %s\n", ev_last_error());
            }
            next_checkpoint = now + (int64_t)cfg->integrity.checkpoint_interval_ns;
        }
        if (cfg->integrity.self_verify_interval_ns > 0 && now >= next_verify) {
            if (now > start) {
                (void)evd_self_verify(d, NULL);
            }
            next_verify = now + (int64_t)cfg->integrity.self_verify_interval_ns;
        }
        if (now >= next_disk) {
            evd_check_disk(d);
            next_disk = now + DISK_CHECK_NS;
        }
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int evd_timers_start(struct evd *d, struct evd_timers **ret_timers)
{
    struct evd_timers *t = calloc(1, sizeof(*t));
    pthread_condattr_t attr;
    int r;

    if (t == NULL) {
        return -ENOMEM;
    }
    t->d = d;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &attr);
    pthread_condattr_destroy(&attr);
    r = pthread_create(&t->thread, NULL, run, t);
    if (r != 0) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return -r;
    }
    *ret_timers = t;
    return 0;
}

void evd_timers_stop(struct evd_timers *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
