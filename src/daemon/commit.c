/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The commit queue (commit.h): producers queue submissions; one committer
 * thread takes everything waiting, up to batch_max events, appends it as one
 * batch, makes it durable, and answers each submission in order.
 *
 * Batching needs no timer: while one batch is being written and synced, the
 * next one gathers (group commit). group_wait_ns, when set, lets a lone small
 * batch wait that long for company, trading latency for fewer fdatasyncs.
 *
 * Under `sync: always` the log is opened with EV_SYNC_NEVER and the committer
 * calls ev_log_sync() itself after each append, so that it can time the
 * fdatasync on its own (the metrics' histogram) and answer only after it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evident/error.h>

#include "events/events.h" /* src/lib: evi_audit_append_own_prepared() */

#include "alert.h"
#include "commit.h"
#include "daemon.h"
#include "disk.h"
#include "metrics.h"

struct evd_commit {
    struct ev_log *log;
    struct evd_commit_options options;

    pthread_mutex_t lock;
    pthread_cond_t wake;      /* the committer: work, a call or a stop */
    pthread_cond_t call_done; /* callers of evd_commit_call */
    struct evd_submission *head, *tail;
    size_t depth;        /* events queued or being appended */
    size_t stream_depth; /* of them, from submissions that can wait */
    bool stopping;
    int error; /* sticky: the log's I/O error */

    /* One pending call at a time (evd_commit_call serializes them). */
    int (*call_fn)(struct ev_log *log, void *arg);
    void *call_arg;
    int call_rc;
    uint64_t call_seq, calls_done;

    pthread_t thread;

    /* The committer's own batch buffer. */
    struct ev_prepared *batch;
    size_t batch_cap;

    /*
     * A full disk (disk.h): submissions of a failed batch waiting for space,
     * in order, ahead of the queue; and where that batch started, until a
     * writer handle shows what recovery kept of it. Committer thread only.
     */
    struct evd_submission *held;
    bool reconcile_pending;
    uint64_t reconcile_from;

    uint64_t submitted;           /* submissions taken in all (under lock) */
    uint64_t gate_waits;          /* waits for the disk between gate rounds (under lock; tests) */
    void (*gate_hook)(void *arg); /* tests: evd_commit_set_gate_hook() */
    void *gate_hook_arg;
};

/* Events of s not yet in the log. */
static size_t pending_of(const struct evd_submission *s)
{
    return s->count - s->written;
}

int64_t evd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t evd_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int grow_batch(struct evd_commit *c, size_t need)
{
    if (need <= c->batch_cap) {
        return 0;
    }
    size_t cap = c->batch_cap > 0 ? c->batch_cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    struct ev_prepared *b = realloc(c->batch, cap * sizeof(*b));
    if (b == NULL) {
        return -ENOMEM;
    }
    c->batch = b;
    c->batch_cap = cap;
    return 0;
}

/* Takes whole submissions from the queue, up to batch_max events (at least one). */
static struct evd_submission *take_locked(struct evd_commit *c, size_t *ret_events)
{
    struct evd_submission *first = c->head, *last = NULL;
    size_t events = 0;

    for (struct evd_submission *s = c->head; s != NULL; s = s->next) {
        if (last != NULL && events + pending_of(s) > c->options.batch_max) {
            break;
        }
        events += pending_of(s);
        last = s;
    }
    c->head = last->next;
    if (c->head == NULL) {
        c->tail = NULL;
    }
    last->next = NULL;
    *ret_events = events;
    return first;
}

/* Takes answered events off the depth: all of them, and those of submissions that could wait. */
static void depth_release(struct evd_commit *c, size_t all, size_t waited)
{
    pthread_mutex_lock(&c->lock);
    c->depth -= all;
    c->stream_depth -= waited;
    pthread_mutex_unlock(&c->lock);
}

static bool same_type(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void answer(struct evd_commit *c, struct evd_submission *s, int rc, uint64_t first,
                   int64_t now)
{
    if (rc == 0) {
        /*
         * Counted per run of events of the same type (a stream's submission
         * is one type throughout; an HTTP request's events usually are): the
         * metrics parse a type name once per run, not once per event, before
         * the answer. Compared by content: a custom type points into its own
         * event's buffer, and parsing one costs a strcmp() per built-in type.
         * No cache across calls: those buffers are freed after done.
         */
        for (size_t i = 0, run = 1; i < s->count; i += run) {
            const char *type = s->events[i].event.type;
            for (run = 1; i + run < s->count && same_type(s->events[i + run].event.type, type);
                 run++) {
            }
            evd_metrics_events(c->options.metrics, (enum evd_source)s->source, type, run);
        }
        if (!s->no_alerts && c->options.alerts != NULL) {
            /* The answer's own time for all: the events became durable together. */
            for (size_t i = 0; i < s->count; i++) {
                const struct ev_prepared *p = &s->events[i];
                evd_alerts_observe(c->options.alerts, p->event.type, p->event.severity,
                                   evd_submission_index(s, first, i), now);
            }
        }
    } else {
        evd_metrics_reject(c->options.metrics, (enum evd_source)s->source, EVD_REJ_STORAGE,
                           s->count);
    }
    evd_metrics_ack(c->options.metrics, (uint64_t)(now - s->enqueued_ns));
    s->done(s, rc, first);
}

/*
 * Appends the submissions of list as one batch and answers them. A malformed
 * event (which intake should have caught) fails its own submission only: the
 * others are appended without it.
 */
static void disk_full_batch(struct evd_commit *c, struct evd_submission *list, int r,
                            uint64_t size_before);

static void commit_list(struct evd_commit *c, struct evd_submission *list, size_t events)
{
    uint64_t first = 0;
    uint64_t size_before = c->options.disk != NULL ? ev_log_size(c->log) : 0;
    size_t bad = 0, n = 0;
    int r;

    /* One submission is appended from its own array; several are gathered into the batch. */
    const struct ev_prepared *batch = list->events + list->written;
    n = pending_of(list);
    r = 0;
    if (list->next != NULL) {
        r = grow_batch(c, events);
        n = 0;
        batch = c->batch;
        for (struct evd_submission *s = list; r == 0 && s != NULL; s = s->next) {
            memcpy(&c->batch[n], s->events + s->written, pending_of(s) * sizeof(*s->events));
            n += pending_of(s);
        }
    }
    if (r == 0) {
        int64_t t0 = evd_now_ns();
        /* Intake prepared every event and nothing changes one: no check per event. */
        r = evi_audit_append_own_prepared(c->log, batch, n, &first, &bad);
        int64_t t1 = evd_now_ns();
        bool synced = r == 0 && c->options.sync == EV_SYNC_ALWAYS;
        if (synced) {
            r = ev_log_sync(c->log);
        }
        int64_t t2 = evd_now_ns();
        if (r == 0) {
            /* 0: not synced here (the log syncs on its own under interval and never). */
            evd_metrics_commit(c->options.metrics, n, (uint64_t)(t1 - t0),
                               synced ? (uint64_t)(t2 - t1) : 0);
        }
    }

    if (r == EV_EJSON || r == EV_EFORMAT || r == EV_ETOOBIG) {
        /* One bad event: fail its submission, append the rest again. */
        struct evd_submission *prev = NULL, *s = list;
        size_t at = 0;
        while (s != NULL && at + pending_of(s) <= bad) {
            at += pending_of(s);
            prev = s;
            s = s->next;
        }
        if (s != NULL) {
            struct evd_submission *rest = s->next;
            size_t rest_events = events - pending_of(s);
            if (prev != NULL) {
                prev->next = rest;
            } else {
                list = rest;
            }
            size_t count = s->count, waited = s->can_wait ? s->count : 0;
            s->next = NULL;
            answer(c, s, r, 0, evd_now_ns()); /* may free s */
            depth_release(c, count, waited);
            if (list != NULL) {
                commit_list(c, list, rest_events);
            }
            return;
        }
    }

    if (r < 0 && c->options.disk != NULL && evd_disk_is_full_error(r)) {
        disk_full_batch(c, list, r, size_before); /* nothing sticky: it recovers */
        return;
    }

    int64_t now = evd_now_ns();
    size_t at = 0, answered = 0, waited = 0;
    if (r < 0 && r != -ENOMEM) {
        pthread_mutex_lock(&c->lock);
        if (c->error == 0) {
            c->error = r;
        }
        pthread_mutex_unlock(&c->lock);
        if (c->options.alerts != NULL) {
            evd_alerts_condition(c->options.alerts, EV_ALERT_LOGGING_FAILURE, ev_last_error());
        }
    }
    while (list != NULL) {
        struct evd_submission *next = list->next;
        size_t pending = pending_of(list);
        answered += list->count;
        waited += list->can_wait ? list->count : 0;
        answer(c, list, r, first + at, now); /* may free list */
        at += pending;
        list = next;
    }
    depth_release(c, answered, waited);
}

/* ---- a full disk (disk.h) ---------------------------------------------------- */

/* Answers s with rc and takes it off the depth. */
static void answer_alone(struct evd_commit *c, struct evd_submission *s, int rc, uint64_t first)
{
    size_t count = s->count, waited = s->can_wait ? s->count : 0;
    s->next = NULL;
    answer(c, s, rc, first, evd_now_ns()); /* may free s */
    depth_release(c, count, waited);
}

static size_t events_of(const struct evd_submission *list)
{
    size_t n = 0;
    for (; list != NULL; list = list->next) {
        n += pending_of(list);
    }
    return n;
}

/*
 * A writer handle is open again after a failed batch that began at
 * size_before: the first events of *list that recovery kept (records made
 * durable before the failure, e.g. at a rotation) are in the log. Answers the
 * submissions they cover wholly; marks the one they cover in part, so that
 * only its other events are appended again. Nothing is appended twice.
 */
static void apply_survivors(struct evd_commit *c, struct evd_submission **list,
                            uint64_t size_before)
{
    uint64_t first = 0;
    size_t kept = 0;
    int r = evd_disk_survivors(c->log, size_before, evd_disk_reopened_size(c->options.disk), &first,
                               &kept);

    if (r < 0) {
        fprintf(stderr, "evidentd: disk: cannot tell what recovery kept: %s\n", ev_strerror(r));
        kept = 0;
    }
    while (*list != NULL && kept > 0) {
        struct evd_submission *s = *list;
        size_t pending = pending_of(s);
        if (kept >= pending) {
            *list = s->next;
            answer_alone(c, s, 0, first);
            first += pending;
            kept -= pending;
        } else if (s->written > 0) {
            /* Split a second time: one answer cannot name three runs of indexes. */
            *list = s->next;
            answer_alone(c, s, -ENOSPC, 0);
            kept = 0;
        } else {
            s->written = kept;
            s->written_first = first;
            kept = 0;
        }
    }
}

/*
 * The disk filled during this batch: the handle failed (log.h). disk.c
 * closes it and opens the log again. What recovery kept of the batch is
 * answered; the rest waits in c->held for space (block) or is refused
 * (reject). The daemon's own events are never held: their threads wait for
 * the answer (an alert is then delivered as not recorded).
 */
static void disk_full_batch(struct evd_commit *c, struct evd_submission *list, int r,
                            uint64_t size_before)
{
    unsigned bits = evd_disk_failed(c->options.disk, &c->log, r);
    struct evd_submission **tail = &c->held;

    if (bits & EVD_GATE_REOPENED) {
        apply_survivors(c, &list, size_before);
    }
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    bool held_any = false;
    while (list != NULL) {
        struct evd_submission *s = list;
        list = s->next;
        s->next = NULL;
        if (s->source == EVD_SRC_DAEMON || (bits & EVD_GATE_REFUSE) || c->stopping) {
            answer_alone(c, s, r, 0);
        } else {
            *tail = s;
            tail = &s->next;
            held_any = true;
        }
    }
    if (held_any && !(bits & EVD_GATE_REOPENED)) {
        /* Survivors are known only once a writer opens: disk_gate_locked() asks then. */
        c->reconcile_pending = true;
        c->reconcile_from = size_before;
    }
    evd_disk_held(c->options.disk, events_of(c->held));
}

/*
 * A seal or checkpoint (evd_commit_call) found the disk full: the handle is
 * failed as after a batch (log.h), with no events of its own to answer.
 */
static void disk_full_call(struct evd_commit *c, int rc)
{
    unsigned bits = evd_disk_failed(c->options.disk, &c->log, rc);
    if ((bits & EVD_GATE_REOPENED) && c->reconcile_pending) {
        c->reconcile_pending = false;
        apply_survivors(c, &c->held, c->reconcile_from);
        evd_disk_held(c->options.disk, events_of(c->held));
    }
}

/*
 * Before a batch: while the disk is full only the daemon's own events go in
 * (disk.reserve keeps room for them); the producers' wait in the queue
 * (block: it fills, and they feel the usual pushback) or are refused
 * (reject, or stopping). Returns true when it did this round's work.
 */
static bool disk_gate_locked(struct evd_commit *c)
{
    uint64_t seen = c->submitted;
    void (*hook)(void *arg) = c->gate_hook;
    void *hook_arg = c->gate_hook_arg;
    pthread_mutex_unlock(&c->lock);
    unsigned bits = evd_disk_gate(c->options.disk, &c->log);
    if ((bits & EVD_GATE_REOPENED) && c->reconcile_pending) {
        c->reconcile_pending = false;
        apply_survivors(c, &c->held, c->reconcile_from);
        evd_disk_held(c->options.disk, events_of(c->held));
    }
    pthread_mutex_lock(&c->lock);
    bits &= ~(unsigned)EVD_GATE_REOPENED;
    if (bits == 0) {
        return false;
    }

    bool refuse = (bits & EVD_GATE_REFUSE) || c->stopping;
    struct evd_submission *own = NULL, **own_tail = &own, *refused = NULL, **ref_tail = &refused;
    if (refuse) {
        *ref_tail = c->held;
        c->held = NULL;
        while (*ref_tail != NULL) {
            ref_tail = &(*ref_tail)->next;
        }
    }
    c->tail = NULL;
    for (struct evd_submission **pp = &c->head; *pp != NULL;) {
        struct evd_submission *s = *pp;
        bool own_event = s->source == EVD_SRC_DAEMON;
        bool mine = own_event && !(bits & EVD_GATE_NO_LOG);
        if (mine || refuse || own_event) {
            *pp = s->next;
            s->next = NULL;
            if (mine) {
                *own_tail = s;
                own_tail = &s->next;
            } else {
                *ref_tail = s;
                ref_tail = &s->next;
            }
        } else {
            c->tail = s;
            pp = &s->next;
        }
    }
    pthread_mutex_unlock(&c->lock);

    bool worked = own != NULL || refused != NULL;
    while (refused != NULL) {
        struct evd_submission *s = refused;
        refused = s->next;
        answer_alone(c, s, -ENOSPC, 0);
    }
    evd_disk_held(c->options.disk, events_of(c->held));
    if (own != NULL) {
        commit_list(c, own, events_of(own));
    }
    if (!worked && hook != NULL) {
        hook(hook_arg);
    }
    pthread_mutex_lock(&c->lock);
    /*
     * A submission that came while the lock was free signalled no one: the
     * committer was not waiting. Counted, it is not slept on (the daemon's
     * own events go in while the disk is full).
     */
    if (!worked && !c->stopping && c->call_fn == NULL && c->submitted == seen) {
        /* Look at the disk again in a second, or sooner for a call, a submission or a stop. */
        c->gate_waits++;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        (void)pthread_cond_timedwait(&c->wake, &c->lock, &until);
    }
    return true;
}

static void *committer(void *arg)
{
    struct evd_commit *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (c->call_fn != NULL) {
            int (*fn)(struct ev_log *, void *) = c->call_fn;
            void *fn_arg = c->call_arg;
            c->call_fn = NULL;
            pthread_mutex_unlock(&c->lock);
            int rc = c->log != NULL ? fn(c->log, fn_arg) : -ENOSPC; /* none: disk.c reopens */
            if (c->options.disk != NULL && evd_disk_is_full_error(rc)) {
                disk_full_call(c, rc); /* a seal or checkpoint failed the handle */
            }
            pthread_mutex_lock(&c->lock);
            c->call_rc = rc;
            c->calls_done++;
            pthread_cond_broadcast(&c->call_done);
            continue;
        }
        if (c->head == NULL && c->held == NULL) {
            if (c->stopping) {
                break;
            }
            pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        if (c->options.disk != NULL && disk_gate_locked(c)) {
            continue;
        }
        if (c->head == NULL && c->held == NULL) {
            continue; /* the gate answered them all (what recovery kept) */
        }
        if (c->held != NULL) {
            /* Space is back: the held submissions go first, in their order. */
            struct evd_submission *held = c->held;
            c->held = NULL;
            pthread_mutex_unlock(&c->lock);
            evd_disk_held(c->options.disk, 0);
            commit_list(c, held, events_of(held));
            pthread_mutex_lock(&c->lock);
            continue;
        }
        if (c->options.group_wait_ns > 0 && c->head == c->tail &&
            c->head->count < c->options.batch_max && !c->stopping) {
            /* A lone submission: give others group_wait_ns to join it. */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            uint64_t ns = (uint64_t)until.tv_nsec + c->options.group_wait_ns;
            until.tv_sec += (time_t)(ns / 1000000000u);
            until.tv_nsec = (long)(ns % 1000000000u);
            while (c->head == c->tail && !c->stopping && c->call_fn == NULL &&
                   pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0) {
            }
        }
        size_t events;
        struct evd_submission *list = take_locked(c, &events);
        pthread_mutex_unlock(&c->lock);
        commit_list(c, list, events);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int evd_commit_start(struct ev_log *log, const struct evd_commit_options *options,
                     struct evd_commit **ret_commit)
{
    struct evd_commit *c = calloc(1, sizeof(*c));
    pthread_condattr_t attr;
    int r;

    if (c == NULL) {
        return -ENOMEM;
    }
    c->log = log;
    c->options = *options;
    if (c->options.batch_max == 0) {
        c->options.batch_max = 4096;
    }
    if (c->options.queue_max < c->options.batch_max) {
        c->options.queue_max = c->options.batch_max;
    }
    if (c->options.stream_queue_max == 0 || c->options.stream_queue_max > c->options.queue_max) {
        c->options.stream_queue_max = c->options.queue_max;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&c->call_done, NULL);
    r = grow_batch(c, c->options.batch_max);
    if (r == 0) {
        r = -pthread_create(&c->thread, NULL, committer, c);
    }
    if (r < 0) {
        free(c->batch);
        pthread_cond_destroy(&c->wake);
        pthread_cond_destroy(&c->call_done);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return r;
    }
    *ret_commit = c;
    return 0;
}

int evd_commit_submit(struct evd_commit *c, struct evd_submission *s)
{
    int r = 0;

    s->next = NULL;
    s->enqueued_ns = evd_now_ns();
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        r = -ESHUTDOWN;
    } else if (c->error != 0) {
        r = c->error;
    } else if (s->source != EVD_SRC_DAEMON && c->depth + s->count > c->options.queue_max &&
               c->depth > 0) {
        /*
         * A submission larger than the whole queue still goes in alone. The
         * daemon's own events are never refused here (commit.h): an alert is
         * raised when producers have filled the queue, by overload or by a
         * full disk holding them (disk.reserve keeps room for the alert).
         */
        r = -EAGAIN;
    } else if (s->can_wait && c->stream_depth + s->count > c->options.stream_queue_max &&
               c->stream_depth > 0) {
        r = -EAGAIN; /* its stream is not read until the committer catches up */
    } else {
        c->depth += s->count;
        c->stream_depth += s->can_wait ? s->count : 0;
        if (c->tail != NULL) {
            c->tail->next = s;
        } else {
            c->head = s;
        }
        c->tail = s;
        c->submitted++;
    }
    pthread_mutex_unlock(&c->lock);
    if (r == 0) {
        /*
         * Signalled after the unlock: a committer woken under the lock could
         * run first on this CPU, find the lock held and sleep again (two more
         * context switches on every lone request). c outlives this call:
         * evd_commit_stop() comes after every submitter has stopped.
         */
        pthread_cond_signal(&c->wake);
    }
    return r;
}

struct waiter {
    struct evd_submission s;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    uint64_t first;
};

static void wake_waiter(struct evd_submission *s, int rc, uint64_t first)
{
    struct waiter *w = s->ctx;
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    w->first = first;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int evd_commit_wait(struct evd_commit *c, struct ev_prepared *events, size_t count, bool no_alerts,
                    uint64_t *ret_first)
{
    struct waiter w = {
        .s = {.events = events,
              .count = count,
              .done = wake_waiter,
              .no_alerts = no_alerts,
              .source = EVD_SRC_DAEMON},
    };
    int r;

    w.s.ctx = &w;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    r = evd_commit_submit(c, &w.s);
    if (r == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.done) {
            pthread_cond_wait(&w.cond, &w.lock);
        }
        pthread_mutex_unlock(&w.lock);
        r = w.rc;
        if (r == 0 && ret_first != NULL) {
            *ret_first = w.first;
        }
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return r;
}

size_t evd_commit_depth(struct evd_commit *c)
{
    pthread_mutex_lock(&c->lock);
    size_t depth = c->depth;
    pthread_mutex_unlock(&c->lock);
    return depth;
}

int evd_commit_error(struct evd_commit *c)
{
    pthread_mutex_lock(&c->lock);
    int error = c->error;
    pthread_mutex_unlock(&c->lock);
    return error;
}

int evd_commit_call(struct evd_commit *c, int (*fn)(struct ev_log *log, void *arg), void *arg)
{
    int r;

    pthread_mutex_lock(&c->lock);
    /* One call at a time: wait for a pending one to be taken and answered. */
    while (c->call_fn != NULL || c->call_seq != c->calls_done) {
        pthread_cond_wait(&c->call_done, &c->lock);
    }
    if (c->stopping && c->head == NULL) {
        /* The thread may be gone or going: run it here, no append can race. */
        pthread_mutex_unlock(&c->lock);
        return fn(c->log, arg);
    }
    c->call_fn = fn;
    c->call_arg = arg;
    uint64_t seq = ++c->call_seq;
    pthread_cond_signal(&c->wake);
    while (c->calls_done < seq) {
        pthread_cond_wait(&c->call_done, &c->lock);
    }
    r = c->call_rc;
    pthread_cond_broadcast(&c->call_done);
    pthread_mutex_unlock(&c->lock);
    return r;
}

void evd_commit_set_gate_hook(struct evd_commit *c, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&c->lock);
    c->gate_hook = fn;
    c->gate_hook_arg = arg;
    pthread_mutex_unlock(&c->lock);
}

uint64_t evd_commit_gate_waits(struct evd_commit *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t waits = c->gate_waits;
    pthread_mutex_unlock(&c->lock);
    return waits;
}

void evd_commit_stop(struct evd_commit *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    free(c->batch);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->call_done);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
