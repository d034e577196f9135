/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's clock work (timers.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <evident/error.h>
#include <evident/note.h>
#include <evident/publish.h>

#include "alert.h"
#include "commit.h"
#include "disk.h"
#include "metrics.h"
#include "retention.h"
#include "timers.h"

#define TICK_NS 250000000ll
#define DISK_CHECK_NS 1000000000ll /* free space (disk.c); the log's own size every 10th */

struct evd_timers {
    struct evd *d;
    /* The publisher (integrity.publish): its own thread, so a dead endpoint never delays a seal. */
    pthread_t publisher;
    bool publisher_running;
    char *to_publish; /* the newest note not yet published (older ones are skipped) */
    size_t to_publish_len;
    int64_t start_ns;          /* the log's epoch 0 */
    uint64_t seal_interval_ns; /* the log's epoch length */
    uint64_t epoch;            /* the epoch the clock was in at the last look */
    uint64_t fills_failed;     /* failed fills already said (evd_disk_note_fills()) */
    pthread_t thread;
    /*
     * The periodic self-verification: its own thread, so that a whole-log
     * verification (minutes) never holds up a seal, a checkpoint or a disk
     * check. The timer thread asks for one (verify_due) when one is due and
     * none is asked for or under way (verifying); otherwise that one is skipped.
     */
    pthread_t verifier;
    bool verifier_running;
    pthread_cond_t verify_wake; /* verify_due set, or stop */
    bool verify_due;            /* under lock */
    bool verifying;             /* under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static int checkpoint_on_committer(struct ev_log *log, void *arg)
{
    (void)arg;
    return ev_log_checkpoint(log);
}

static int seal_due_on_committer(struct ev_log *log, void *arg)
{
    (void)arg;
    return ev_log_seal_due(log);
}

static struct evd_timers *the_timers; /* for note_checkpoint's hand-off to the publisher */

/* Hands a new checkpoint to the publisher thread (replacing one it has not taken yet). */
static void publish_later(struct evd_timers *t, const char *note, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, note, len + 1);
    pthread_mutex_lock(&t->lock);
    free(t->to_publish);
    t->to_publish = copy;
    t->to_publish_len = len;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void *publisher(void *arg)
{
    struct evd_timers *t = arg;
    struct evd *d = t->d;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (t->to_publish == NULL && !t->stop) {
            pthread_cond_wait(&t->cond, &t->lock);
        }
        if (t->to_publish == NULL) {
            break; /* stopping, and everything handed over is published */
        }
        char *note = t->to_publish;
        size_t len = t->to_publish_len;
        t->to_publish = NULL;
        pthread_mutex_unlock(&t->lock);

        pthread_rwlock_rdlock(&d->config_lock);
        struct ev_publish_options po = {.timeout_ns = d->config->alerting.webhook_timeout_ns,
                                        .retries = (int)d->config->alerting.webhook_retries};
        size_t n = d->config->integrity.publish_count;
        char *dest[EV_CONFIG_MAX_PUBLISH];
        for (size_t i = 0; i < n; i++) {
            dest[i] = d->config->integrity.publish[i] != NULL
                          ? strdup(d->config->integrity.publish[i])
                          : NULL;
        }
        pthread_rwlock_unlock(&d->config_lock);
        struct ev_publish_report report;
        if (n > 0 &&
            ev_checkpoint_publish(note, len, (const char *const *)dest, n, &po, &report) < 0) {
            fprintf(stderr, "evidentd: publishing a checkpoint: %s\n", report.detail);
            if (d->alerts != NULL) {
                evd_alerts_condition(d->alerts, EV_ALERT_LOGGING_FAILURE, report.detail);
            }
        }
        for (size_t i = 0; i < n; i++) {
            free(dest[i]);
        }
        free(note);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Reads the latest checkpoint's size (one small file); notes when it grew. */
static void note_checkpoint(struct evd *d)
{
    struct ev_checkpoint cp;
    char *note = NULL;
    size_t len = 0;

    pthread_rwlock_rdlock(&d->log_lock); /* disk.c may reopen the log */
    int r = d->log != NULL ? ev_log_latest_checkpoint(d->log, &note, &len) : -ENOENT;
    pthread_rwlock_unlock(&d->log_lock);
    if (r != 0) {
        return;
    }
    const char *body_end = strstr(note, "\n\n");
    if (body_end != NULL && ev_checkpoint_parse(note, (size_t)(body_end - note) + 1, &cp) == 0 &&
        cp.tree_size != atomic_load(&d->checkpoint_size)) {
        atomic_store(&d->checkpoint_size, cp.tree_size);
        atomic_store(&d->last_checkpoint_ns, evd_wall_ns());
        if (the_timers != NULL && the_timers->publisher_running) {
            publish_later(the_timers, note, len);
        }
    }
    free(note);
}

int evd_checkpoint_now(struct evd *d)
{
    int r = evd_commit_call(d->commit, checkpoint_on_committer, NULL);
    note_checkpoint(d);
    return r;
}

/* The log directory's size: its files and those of its subdirectories. */
static uint64_t dir_bytes(const char *path, int depth)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    uint64_t total = 0;

    if (dir == NULL) {
        return 0;
    }
    while ((e = readdir(dir)) != NULL) {
        char child[4096];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child) ||
            lstat(child, &st) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode) && depth > 0) {
            total += dir_bytes(child, depth - 1);
        } else if (S_ISREG(st.st_mode)) {
            total += (uint64_t)st.st_blocks * 512u;
        }
    }
    closedir(dir);
    return total;
}

/* Tests: evd_self_verify_set_hook(). */
static void (*verify_hook)(void *arg, uint64_t entries);
static void *verify_hook_arg;

void evd_self_verify_set_hook(void (*fn)(void *arg, uint64_t entries), void *arg)
{
    verify_hook = fn;
    verify_hook_arg = arg;
}

struct verify_stop {
    struct evd *d;
    struct evd_timers *t; /* NULL: not on the verifier thread */
};

/*
 * The verification's stop callback (ev_verify_options.stop): a whole-log
 * verification can take minutes, and evd_stop() joins the verifier thread, so
 * SIGTERM would wait for it past the service manager's stop timeout.
 */
static int verify_should_stop(void *arg, uint64_t entries)
{
    struct verify_stop *vs = arg;
    bool stop;

    if (verify_hook != NULL) {
        verify_hook(verify_hook_arg, entries);
    }
    stop = atomic_load(&vs->d->stopping);
    if (!stop && vs->t != NULL) {
        pthread_mutex_lock(&vs->t->lock);
        stop = vs->t->stop;
        pthread_mutex_unlock(&vs->t->lock);
    }
    return stop ? 1 : 0;
}

static int self_verify(struct evd *d, struct evd_timers *t, struct ev_verify_report *ret_report)
{
    struct verify_stop vs = {.d = d, .t = t};
    struct ev_verify_options options = {.threads = 1, .stop = verify_should_stop, .stop_arg = &vs};
    struct ev_verify_report report;
    int r = 0;

    for (int attempt = 0; attempt < 2; attempt++) {
        /* A checkpoint signed between the reader's looks can read as a short log: look twice. */
        memset(&report, 0, sizeof(report));
        r = ev_verify_dir(d->log_dir, &options, &report);
        if (r == 0 || r == -ECANCELED) {
            break;
        }
    }
    if (r == -ECANCELED) {
        /* Stopped because the daemon stops: neither a pass nor a failure, nothing counted. */
        if (ret_report != NULL) {
            *ret_report = report;
        }
        return r;
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

int evd_self_verify(struct evd *d, struct ev_verify_report *ret_report)
{
    return self_verify(d, NULL, ret_report);
}

void evd_check_disk(struct evd *d)
{
    atomic_store(&d->log_bytes, dir_bytes(d->log_dir, 2));
    evd_disk_check(d);
}

/*
 * The verifier thread: one periodic self-verification at a time, when the
 * timer thread asks. It touches only what self_verify() does: the log
 * directory by path (a reader of its own, never d->log), the metrics and
 * d->verification_failures (atomics) and the alerts (any thread).
 */
static void *verifier(void *arg)
{
    struct evd_timers *t = arg;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->verify_due && !t->stop) {
            pthread_cond_wait(&t->verify_wake, &t->lock);
        }
        if (t->stop) {
            break;
        }
        t->verify_due = false;
        t->verifying = true;
        pthread_mutex_unlock(&t->lock);
        (void)self_verify(t->d, t, NULL);
        pthread_mutex_lock(&t->lock);
        t->verifying = false;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Asks the verifier for a verification; false when one is asked for or under way already. */
static bool verify_later(struct evd_timers *t)
{
    bool asked = false;

    pthread_mutex_lock(&t->lock);
    if (!t->verify_due && !t->verifying) {
        t->verify_due = true;
        pthread_cond_signal(&t->verify_wake);
        asked = true;
    }
    pthread_mutex_unlock(&t->lock);
    return asked;
}

/* An error of a seal or checkpoint worth a line: not one of a failed or full log's. */
static bool worth_saying(struct evd *d)
{
    return evd_commit_error(d->commit) == 0 && evd_disk_level(d->disk) != EVD_DISK_FULL;
}

static void *run(void *arg)
{
    struct evd_timers *t = arg;
    struct evd *d = t->d;
    int64_t start = evd_now_ns();
    int64_t next_checkpoint = start, next_verify = start, next_disk = start;
    int64_t next_retention = start; /* a first pass at start, then hourly */
    uint64_t disk_checks = 0;

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
        pthread_rwlock_rdlock(&d->config_lock); /* a reload may swap the configuration */
        uint64_t checkpoint_interval = d->config->integrity.checkpoint_interval_ns;
        uint64_t verify_interval = d->config->integrity.self_verify_interval_ns;
        pthread_rwlock_unlock(&d->config_lock);
        /*
         * Epochs end on the wall clock (start + k * seal_interval). Once one has
         * ended, seal it even if no event arrives (appends seal it too: then
         * this finds nothing due). The check costs no I/O.
         */
        int64_t wall = evd_wall_ns();
        uint64_t epoch =
            wall > t->start_ns ? (uint64_t)(wall - t->start_ns) / t->seal_interval_ns : 0;
        if (epoch != t->epoch) {
            int sealed = evd_commit_call(d->commit, seal_due_on_committer, NULL);
            if (sealed >= 0) {
                t->epoch = epoch;
                atomic_store(&d->last_seal_ns,
                             t->start_ns + (int64_t)(epoch * t->seal_interval_ns));
                note_checkpoint(d);
            } else if (worth_saying(d)) {
                fprintf(stderr, "evidentd: seal: %s\n", ev_last_error());
            }
        }
        if (now >= next_checkpoint) {
            if (evd_checkpoint_now(d) < 0 && worth_saying(d)) {
                fprintf(stderr, "evidentd: checkpoint: %s\n", ev_last_error());
            }
            next_checkpoint = now + (int64_t)checkpoint_interval;
        }
        if (verify_interval > 0 && now >= next_verify) {
            /* Not at start: evd_start() verified the log. One at a time: a late one is skipped. */
            if (now > start && !verify_later(t)) {
                fprintf(stderr, "evidentd: self-verification still running: skipping the one "
                                "due now (integrity.self_verify_interval)\n");
            }
            next_verify = now + (int64_t)verify_interval;
        }
        if (now >= next_disk) {
            if (disk_checks++ % 10 == 0) {
                atomic_store(&d->log_bytes, dir_bytes(d->log_dir, 2));
            }
            evd_disk_check(d);
            evd_disk_note_fills(d, &t->fills_failed);
            next_disk = now + DISK_CHECK_NS;
        }
        if (now >= next_retention) {
            (void)evd_retention_run(d, next_retention == start ? "at start" : "hourly", 0);
            next_retention = now + EVD_RETENTION_INTERVAL_NS;
        }
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/*
 * Stops the threads that run and frees t. A verification under way stops at
 * its next look (verify_should_stop() sees t->stop): neither a pass nor a
 * failure.
 */
static void stop_and_free(struct evd_timers *t, bool timer_running)
{
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->cond);
    pthread_cond_broadcast(&t->verify_wake);
    pthread_mutex_unlock(&t->lock);
    if (timer_running) {
        pthread_join(t->thread, NULL);
    }
    if (t->verifier_running) {
        pthread_join(t->verifier, NULL);
    }
    if (t->publisher_running) {
        pthread_join(t->publisher, NULL); /* publishes what was handed over first */
    }
    the_timers = NULL;
    free(t->to_publish);
    pthread_cond_destroy(&t->verify_wake);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
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
    struct ev_log_info info; /* once: it reads the open epoch */
    if (ev_log_info(d->log, &info) < 0) {
        free(t);
        return -EIO;
    }
    t->start_ns = info.start_ns;
    t->seal_interval_ns = info.seal_interval_ns > 0 ? info.seal_interval_ns : 1000000000u;
    int64_t wall = evd_wall_ns();
    t->epoch = wall > t->start_ns ? (uint64_t)(wall - t->start_ns) / t->seal_interval_ns : 0;
    if (info.last_epoch_sealed || info.last_epoch + 1 == t->epoch) {
        atomic_store(&d->last_seal_ns, t->start_ns + (int64_t)(t->epoch * t->seal_interval_ns));
    }
    note_checkpoint(d);
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&t->verify_wake, NULL);
    the_timers = t;
    pthread_rwlock_rdlock(&d->config_lock);
    bool publish = d->config->integrity.publish_count > 0;
    pthread_rwlock_unlock(&d->config_lock);
    if (publish && pthread_create(&t->publisher, NULL, publisher, t) == 0) {
        t->publisher_running = true;
    }
    r = pthread_create(&t->verifier, NULL, verifier, t);
    if (r == 0) {
        t->verifier_running = true;
        r = pthread_create(&t->thread, NULL, run, t);
    }
    if (r != 0) {
        stop_and_free(t, false);
        return -r;
    }
    *ret_timers = t;
    return 0;
}

void evd_timers_stop(struct evd_timers *t)
{
    if (t != NULL) {
        stop_and_free(t, true);
    }
}
