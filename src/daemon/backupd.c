/* SPDX-License-Identifier: Apache-2.0 */
/* The backup timer (backupd.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evident/backup.h>
#include <evident/error.h>

#include "alert.h"
#include "backupd.h"

struct evd_backupd {
    struct evd *d;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool stop;
    struct evd_backupd_stats stats; /* under lock */
};

/* The wall time in a generation's name, "20261127T090000Z-183204"; 0 if it has none. */
static int64_t generation_time(const char *name)
{
    struct tm tm = {0};
    const char *end = strptime(name, "%Y%m%dT%H%M%SZ", &tm);
    if (end == NULL) {
        return 0;
    }
    time_t t = timegm(&tm);
    return t > 0 ? (int64_t)t * 1000000000 : 0;
}

/* The newest generation's time in dir, 0 if none; and how many there are. */
static int64_t newest_generation(const char *dir, uint64_t *ret_count)
{
    char **names = NULL;
    size_t count = 0;
    int64_t newest = 0;

    *ret_count = 0;
    if (ev_backup_list(dir, &names, &count) < 0) {
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t t = generation_time(names[i]);
        newest = t > newest ? t : newest;
    }
    *ret_count = count;
    ev_backup_names_free(names, count);
    return newest;
}

/* One backup. */
static void run_backup(struct evd_backupd *b, const char *dir, uint64_t keep)
{
    struct evd *d = b->d;
    struct ev_backup_options o = {.keep = keep};
    struct ev_backup_report report;
    uint64_t generations = 0;

    memset(&report, 0, sizeof(report));
    int r = ev_backup_create(d->log_dir, dir, &o, &report);
    if (r < 0) {
        char detail[600];
        (void)snprintf(detail, sizeof(detail), "backup to '%s' failed: %s", dir, ev_last_error());
        fprintf(stderr, "evidentd: %s\n", detail);
        pthread_mutex_lock(&b->lock);
        b->stats.failures++;
        pthread_mutex_unlock(&b->lock);
        evd_alerts_condition(d->alerts, EV_ALERT_LOGGING_FAILURE, detail);
        return;
    }
    (void)newest_generation(dir, &generations);
    pthread_mutex_lock(&b->lock);
    b->stats.runs++;
    b->stats.last_success_ns = evd_wall_ns();
    b->stats.last_tree_size = report.tree_size;
    b->stats.last_bytes = report.bytes_copied;
    b->stats.last_generations = generations;
    pthread_mutex_unlock(&b->lock);
}

static void *run(void *arg)
{
    struct evd_backupd *b = arg;
    struct evd *d = b->d;
    int64_t next = 0; /* monotonic; 0: not computed yet */

    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        pthread_mutex_unlock(&b->lock);
        /* A reload may change the directory, the interval or keep: read them each round. */
        pthread_rwlock_rdlock(&d->config_lock);
        char *dir = d->config->retention.backup_dir != NULL
                        ? strdup(d->config->retention.backup_dir)
                        : NULL;
        uint64_t interval = d->config->retention.backup_interval_ns;
        uint64_t keep = d->config->retention.backup_keep;
        pthread_rwlock_unlock(&d->config_lock);

        int64_t now = evd_now_ns();
        if (next == 0 && dir != NULL) {
            uint64_t count;
            int64_t newest = newest_generation(dir, &count);
            int64_t since = newest > 0 ? evd_wall_ns() - newest : 0;
            next = newest > 0 && since >= (int64_t)interval ? now
                   : newest > 0                             ? now + (int64_t)interval - since
                                                            : now + (int64_t)interval;
        }
        if (dir != NULL && now >= next) {
            run_backup(b, dir, keep);
            next = evd_now_ns() + (int64_t)interval;
        }
        free(dir);

        pthread_mutex_lock(&b->lock);
        if (b->stop) {
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t wait = next > evd_now_ns() ? next - evd_now_ns() : 1000000000;
        if (wait > 1000000000) {
            wait = 1000000000; /* look at the configuration again every second */
        }
        until.tv_nsec += (long)wait;
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        (void)pthread_cond_timedwait(&b->cond, &b->lock, &until);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

int evd_backupd_start(struct evd *d, struct evd_backupd **ret_backupd)
{
    pthread_condattr_t attr;

    *ret_backupd = NULL;
    pthread_rwlock_rdlock(&d->config_lock);
    bool wanted = d->config->retention.backup_dir != NULL;
    pthread_rwlock_unlock(&d->config_lock);
    if (!wanted) {
        return 0;
    }
    struct evd_backupd *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return -ENOMEM;
    }
    b->d = d;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    int r = pthread_create(&b->thread, NULL, run, b);
    if (r != 0) {
        pthread_cond_destroy(&b->cond);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return -r;
    }
    *ret_backupd = b;
    return 0;
}

void evd_backupd_stop(struct evd_backupd *b)
{
    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void evd_backupd_stats(struct evd_backupd *b, struct evd_backupd_stats *ret_stats)
{
    memset(ret_stats, 0, sizeof(*ret_stats));
    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&b->lock);
    *ret_stats = b->stats;
    pthread_mutex_unlock(&b->lock);
}
