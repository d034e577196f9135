/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The commit queue: every producer (Unix socket, HTTP, syslog, the daemon's
 * own events) hands prepared events to one committer thread, which appends
 * whatever is waiting as one batch (one write, one fdatasync under
 * `sync: always`) and only then calls each submission's done callback.
 *
 * The queue is bounded by events (performance.queue_max): a submission that
 * would pass the bound is refused with -EAGAIN and the producer pushes back
 * (HTTP 503, TCP stops reading, UDP drops and counts). Memory therefore never
 * grows without bound. Submissions that can wait (streams, which just stop
 * reading) have a smaller share of their own (performance.stream_queue_max):
 * a stream keeps the committer busy with a batch or two queued, whose events
 * are still in the CPU's cache when appended, and leaves the rest of the
 * queue to producers that cannot wait.
 *
 * The daemon's own events (source EVD_SRC_DAEMON: alerts, startup, shutdown,
 * configuration changes) are not bounded by queue_max: they are what reports
 * an overload or a full disk, when producers have filled the queue, and
 * disk.reserve keeps room on disk for them (the disk gate lets them, and only
 * them, in while the disk is full). They count in the depth like any event,
 * and a producer is refused while the depth is at queue_max, whoever filled
 * it. Exempting them cannot grow memory without bound:
 * each is submitted through evd_commit_wait(), whose thread waits for its
 * commit before it records another, and only two threads record them (the
 * alert thread, one alert at a time, and the main thread: startup, reload,
 * shutdown). So at most two of them are queued beyond queue_max; alerts
 * waiting their turn stay in the alert queue, bounded and rate-limited by
 * their rules' windows (alert.h).
 */
#ifndef EVD_COMMIT_H
#define EVD_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/event.h>
#include <evident/log.h>

struct evd_metrics;
struct evd_alerts;
struct evd_disk;
struct evd_submission;

/*
 * Called on the committer thread once the events are durable (rc 0: the
 * first event got index first, the others the indexes after it, in order;
 * evd_submission_index() says it for a submission a full disk split) or
 * failed (rc < 0: nothing acknowledged). Must not block; it may free s.
 */
typedef void (*evd_done_fn)(struct evd_submission *s, int rc, uint64_t first);

struct evd_submission {
    struct ev_prepared *events; /* none dropped by the policy; the submitter owns them */
    size_t count;               /* >= 1 */
    evd_done_fn done;
    void *ctx;
    bool no_alerts; /* the alerting module's own events: do not observe them */
    bool can_wait;  /* a stream's: its producer waits, unread, when refused (stream_queue_max) */
    int source;     /* enum evd_source (metrics.h), for the events_total metric */
    /* private to the queue */
    struct evd_submission *next;
    int64_t enqueued_ns;
    /*
     * Set by the queue when the disk filled during this submission's batch and
     * recovery kept its first `written` events (disk.h): those have indexes
     * from written_first on, the rest from done's first on. 0 otherwise.
     */
    size_t written;
    uint64_t written_first;
};

/* The index of event i of s, answered with first (rc 0). */
static inline uint64_t evd_submission_index(const struct evd_submission *s, uint64_t first,
                                            size_t i)
{
    return i < s->written ? s->written_first + i : first + (i - s->written);
}

struct evd_commit_options {
    enum ev_sync sync;           /* always: fdatasync before done; others as the log does */
    size_t batch_max;            /* events per append */
    size_t queue_max;            /* events waiting or being appended */
    size_t stream_queue_max;     /* of them, from submissions that can wait; 0: queue_max */
    uint64_t group_wait_ns;      /* wait this long for more when a batch is small */
    struct evd_metrics *metrics; /* may be NULL */
    struct evd_alerts *alerts;   /* may be NULL: sees each committed event */
    struct evd_disk *disk;       /* may be NULL: the full-disk actions (disk.h) */
};

struct evd_commit;

/* Starts the committer thread over an open writer log. 0 or -errno. */
int evd_commit_start(struct ev_log *log, const struct evd_commit_options *options,
                     struct evd_commit **ret_commit);

/*
 * Queues s. Returns 0 (done will be called exactly once), -EAGAIN when the
 * queue is full (never for the daemon's own events: see the top), -ESHUTDOWN
 * once stopping, or the log's sticky I/O error (nothing will be acknowledged
 * until the daemon reopens the log).
 */
int evd_commit_submit(struct evd_commit *c, struct evd_submission *s);

/*
 * Blocking helper for the daemon's own events: submits them with source
 * EVD_SRC_DAEMON (not refused when the queue is full) and waits for done.
 */
int evd_commit_wait(struct evd_commit *c, struct ev_prepared *events, size_t count, bool no_alerts,
                    uint64_t *ret_first);

/* Events waiting or being appended now. */
size_t evd_commit_depth(struct evd_commit *c);

/* 0 while appends work, else the error that stopped them. */
int evd_commit_error(struct evd_commit *c);

/* Runs fn(log, arg) on the committer thread between batches (seal, checkpoint). */
int evd_commit_call(struct evd_commit *c, int (*fn)(struct ev_log *log, void *arg), void *arg);

/*
 * Tests: fn(arg) runs on the committer after a round of the disk gate that
 * found nothing to do, before it decides whether to wait for the disk (with
 * its lock free, as a submitter finds it); and how many times it waited.
 */
void evd_commit_set_gate_hook(struct evd_commit *c, void (*fn)(void *arg), void *arg);
uint64_t evd_commit_gate_waits(struct evd_commit *c);

/*
 * Stops taking submissions, commits everything queued, joins the thread, frees.
 * Every submitter has returned from evd_commit_submit() (and evd_commit_wait())
 * before this is called, and none calls it again.
 */
void evd_commit_stop(struct evd_commit *c);

#endif
