/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The commit queue (commit.h): producers queue submissions; committer threads
 * take everything waiting, up to batch_max events, append it as one batch,
 * make it durable, and answer each submission.
 *
 * Batching needs no timer: while one batch is being synced, the next one
 * gathers (group commit). group_wait_ns, when set, lets a lone small batch
 * wait that long for company, trading latency for fewer fdatasyncs.
 *
 * Under `sync: always` the log is opened with EV_SYNC_NEVER and the daemon
 * calls ev_log_sync() itself, so that it can time the fdatasync on its own
 * (the metrics' histogram) and answer only after it.
 *
 * Two committer threads take turns, so that appending overlaps the fdatasync
 * in progress, and nothing is handed from thread to thread (each hand-off is
 * one more wake-up on a request's path, which costs most when the CPUs are
 * busy). The thread holding the turn waits for work, takes it and appends it;
 * under `sync: always` it keeps the turn while the other thread syncs,
 * appending whatever arrives (gathering), and gives it up to sync and answer
 * its batches as soon as no sync runs:
 *
 *     thread 1:  append A | sync A             | answer A | append D ...
 *     thread 2:           | append B, append C | sync B+C           | answer B, C
 *
 * Alone (a quiet daemon) a thread appends, syncs and answers in one go, as a
 * single committer would. Calls (seals, checkpoints) run holding the turn, so
 * nothing appends meanwhile; batches are appended in the order they were
 * taken. ev_log_sync() makes everything sequenced before it durable, so a
 * batch is answered only after a sync that began after its append; the
 * library serializes the fdatasyncs themselves. Answers of consecutive
 * batches may come from the two threads in either order: producers that need
 * an order per connection (stream.c) restore it themselves, and every done
 * callback takes its own lock.
 *
 * Ownership: a submission belongs to the queue from evd_commit_submit() to
 * its done call; a taken batch belongs to the committer that took it (its
 * struct pending, no lock). head, tail, depth, error, stopping, the call
 * fields, turn_taken and syncing are under lock; the batch buffer is used
 * only by the thread holding the turn. Only the turn holder waits on wake.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evident/error.h>

#include "alert.h"
#include "commit.h"
#include "daemon.h"
#include "metrics.h"

struct evd_commit {
    struct ev_log *log;
    struct evd_commit_options options;

    pthread_mutex_t lock;
    pthread_cond_t wake;      /* the committer holding the turn: work, a call or a stop */
    pthread_cond_t call_done; /* callers of evd_commit_call */
    struct evd_submission *head, *tail;
    size_t depth; /* events queued or being appended */
    bool stopping;
    int error; /* sticky: the log's I/O error */

    /* One pending call at a time (evd_commit_call serializes them). */
    int (*call_fn)(struct ev_log *log, void *arg);
    void *call_arg;
    int call_rc;
    uint64_t call_seq, calls_done;

    pthread_t thread;

    /* The batch buffer of the committer holding the turn. */
    struct ev_prepared *batch;
    size_t batch_cap;

    /* The second committer, and the turn they take (see the top of the file). */
    struct committer *committers; /* [2] */
    pthread_t thread2;
    bool turn_taken;
    bool syncing;        /* a committer is in ev_log_sync() */
    pthread_cond_t turn; /* a committer waiting for the turn */
};

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
        if (last != NULL && events + s->count > c->options.batch_max) {
            break;
        }
        events += s->count;
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

static void answer(struct evd_commit *c, struct evd_submission *s, int rc, uint64_t first,
                   int64_t now)
{
    if (rc == 0) {
        /* Counted per run of one type (the metric parses the type name): one call per chunk. */
        size_t run = 0;
        for (size_t i = 0; i < s->count; i++) {
            const char *type = s->events[i].event.type;
            const char *next = i + 1 < s->count ? s->events[i + 1].event.type : NULL;
            if (next == NULL || type == NULL || strcmp(type, next) != 0) {
                evd_metrics_events(c->options.metrics, (enum evd_source)s->source, type,
                                   i + 1 - run);
                run = i + 1;
            }
        }
        if (!s->no_alerts && c->options.alerts != NULL) {
            for (size_t i = 0; i < s->count; i++) {
                const struct ev_prepared *p = &s->events[i];
                evd_alerts_observe(c->options.alerts, p->event.type, p->event.severity, first + i,
                                   now);
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
 * On the thread where the append or the sync failed (ev_last_error() is per
 * thread): the log's I/O error becomes sticky and raises an alert.
 */
static void note_failure(struct evd_commit *c, int r)
{
    if (r >= 0 || r == -ENOMEM) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (c->error == 0) {
        c->error = r;
    }
    pthread_mutex_unlock(&c->lock);
    if (c->options.alerts != NULL) {
        evd_alerts_condition(c->options.alerts, EV_ALERT_LOGGING_FAILURE, ev_last_error());
    }
}

/* Answers the submissions of list (rc 0: at first and after) and takes them off the depth. */
static void finish_list(struct evd_commit *c, struct evd_submission *list, size_t events, int r,
                        uint64_t first)
{
    int64_t now = evd_now_ns();
    size_t at = 0;

    /* Off the depth first: a producer answered may submit again at once and find the room. */
    pthread_mutex_lock(&c->lock);
    c->depth -= events;
    pthread_mutex_unlock(&c->lock);
    while (list != NULL) {
        struct evd_submission *next = list->next;
        size_t count = list->count;
        answer(c, list, r, first + at, now);
        at += count;
        list = next;
    }
}

/*
 * Appends the submissions of *list as one batch: 0 with the first index, or
 * the append's error. A malformed event (which intake should have caught)
 * fails its own submission only, answered at once: the others are appended
 * without it, and *list and *events shrink. An empty *list afterwards means
 * nothing is left to answer.
 */
static int append_list(struct evd_commit *c, struct evd_submission **list, size_t *events,
                       uint64_t *ret_first, uint64_t *ret_append_ns)
{
    for (;;) {
        uint64_t first = 0;
        size_t bad = 0, n = 0;
        int r = grow_batch(c, *events);
        if (r < 0) {
            return r;
        }
        for (struct evd_submission *s = *list; s != NULL; s = s->next) {
            memcpy(&c->batch[n], s->events, s->count * sizeof(*s->events));
            n += s->count;
        }
        int64_t t0 = evd_now_ns();
        r = ev_audit_append_prepared(c->log, c->batch, n, &first, &bad);
        *ret_append_ns = (uint64_t)(evd_now_ns() - t0);
        if (r == 0) {
            *ret_first = first;
            return 0;
        }
        if (r != EV_EJSON && r != EV_EFORMAT && r != EV_ETOOBIG) {
            return r;
        }
        /* One bad event: fail its submission, append the rest again. */
        struct evd_submission *prev = NULL, *s = *list;
        size_t at = 0;
        while (s != NULL && at + s->count <= bad) {
            at += s->count;
            prev = s;
            s = s->next;
        }
        if (s == NULL) {
            return r;
        }
        if (prev != NULL) {
            prev->next = s->next;
        } else {
            *list = s->next;
        }
        *events -= s->count;
        s->next = NULL;
        finish_list(c, s, s->count, r, 0);
        if (*list == NULL) {
            return 0;
        }
    }
}

/* Batches a committer appended and has not answered yet (its own: no lock). */
#define PENDING_MAX 64
struct pending {
    struct batch {
        struct evd_submission *list;
        size_t events;
        uint64_t first, append_ns;
        int rc; /* the append's */
    } batches[PENDING_MAX];
    size_t count;
};

struct committer {
    struct evd_commit *commit;
    struct pending pending;
};

/*
 * Takes a batch from the queue and appends it, holding the turn; called and
 * returns with c->lock held. The batch joins p (unless every submission of it
 * was refused and answered already).
 */
static void take_and_append(struct evd_commit *c, struct pending *p)
{
    size_t events;
    struct evd_submission *list = take_locked(c, &events);
    uint64_t first = 0, append_ns = 0;

    pthread_mutex_unlock(&c->lock);
    int r = append_list(c, &list, &events, &first, &append_ns);
    if (list != NULL) {
        if (r != EV_EJSON && r != EV_EFORMAT && r != EV_ETOOBIG) {
            note_failure(c, r);
        }
        p->batches[p->count++] = (struct batch){
            .list = list, .events = events, .first = first, .append_ns = append_ns, .rc = r};
    }
    pthread_mutex_lock(&c->lock);
}

/*
 * Makes the batches of p durable (sync: always) and answers them, without the
 * turn; called and returns with c->lock held.
 */
static void sync_and_answer(struct evd_commit *c, struct pending *p)
{
    bool any = false;
    for (size_t i = 0; i < p->count; i++) {
        any = any || p->batches[i].rc == 0;
    }
    int sync_rc = 0;
    uint64_t sync_ns = 0;
    if (any && c->options.sync == EV_SYNC_ALWAYS) {
        c->syncing = true;
        pthread_mutex_unlock(&c->lock);
        int64_t t0 = evd_now_ns();
        sync_rc = ev_log_sync(c->log);
        sync_ns = (uint64_t)(evd_now_ns() - t0);
        note_failure(c, sync_rc);
        pthread_mutex_lock(&c->lock);
        c->syncing = false;
        pthread_cond_signal(&c->wake); /* the other committer may sync what it gathered */
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < p->count; i++) {
        struct batch *b = &p->batches[i];
        int r = b->rc < 0 ? b->rc : sync_rc;
        if (r == 0) {
            /* The fdatasync counts once, with the first batch it made durable; 0: none here. */
            evd_metrics_commit(c->options.metrics, b->events, b->append_ns, sync_ns);
            sync_ns = 0;
        }
        finish_list(c, b->list, b->events, r, b->first);
    }
    p->count = 0;
    pthread_mutex_lock(&c->lock);
}

static void *committer(void *arg)
{
    struct committer *self = arg;
    struct evd_commit *c = self->commit;
    struct pending *p = &self->pending;
    bool gather = c->options.sync == EV_SYNC_ALWAYS;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->turn_taken) {
            pthread_cond_wait(&c->turn, &c->lock);
        }
        c->turn_taken = true;
        /* Holding the turn: calls, appends, and (always) gathering while the other syncs. */
        for (;;) {
            if (c->call_fn != NULL) {
                int (*fn)(struct ev_log *, void *) = c->call_fn;
                void *fn_arg = c->call_arg;
                c->call_fn = NULL;
                pthread_mutex_unlock(&c->lock);
                int rc = fn(c->log, fn_arg);
                pthread_mutex_lock(&c->lock);
                c->call_rc = rc;
                c->calls_done++;
                pthread_cond_broadcast(&c->call_done);
                continue;
            }
            if (p->count > 0 && (!gather || !c->syncing)) {
                break; /* no sync running: make what was appended durable now */
            }
            if (c->head != NULL && p->count < PENDING_MAX) {
                if (c->options.group_wait_ns > 0 && p->count == 0 && c->head == c->tail &&
                    c->head->count < c->options.batch_max && !c->stopping) {
                    /* A lone submission (not gathering already): give others group_wait_ns. */
                    struct timespec until;
                    clock_gettime(CLOCK_MONOTONIC, &until);
                    uint64_t ns = (uint64_t)until.tv_nsec + c->options.group_wait_ns;
                    until.tv_sec += (time_t)(ns / 1000000000u);
                    until.tv_nsec = (long)(ns % 1000000000u);
                    while (c->head == c->tail && !c->stopping && c->call_fn == NULL &&
                           pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0) {
                    }
                }
                take_and_append(c, p);
                continue;
            }
            if (c->stopping && c->head == NULL && p->count == 0) {
                break;
            }
            pthread_cond_wait(&c->wake, &c->lock); /* work, a call, a stop or the sync's end */
        }
        c->turn_taken = false;
        if (p->count == 0) { /* stopping, and nothing left */
            pthread_cond_broadcast(&c->turn);
            break;
        }
        pthread_cond_signal(&c->turn);
        sync_and_answer(c, p);
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
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&c->call_done, NULL);
    pthread_cond_init(&c->turn, NULL);
    r = grow_batch(c, c->options.batch_max);
    if (r == 0 && (c->committers = calloc(2, sizeof(*c->committers))) == NULL) {
        r = -ENOMEM;
    }
    if (r == 0) {
        c->committers[0].commit = c;
        c->committers[1].commit = c;
        r = -pthread_create(&c->thread, NULL, committer, &c->committers[0]);
    }
    if (r == 0 && (r = -pthread_create(&c->thread2, NULL, committer, &c->committers[1])) < 0) {
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    if (r < 0) {
        free(c->committers);
        free(c->batch);
        pthread_cond_destroy(&c->wake);
        pthread_cond_destroy(&c->call_done);
        pthread_cond_destroy(&c->turn);
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
    } else if (c->depth + s->count > c->options.queue_max && c->depth > 0) {
        /* A submission larger than the whole queue still goes in alone. */
        r = -EAGAIN;
    } else {
        c->depth += s->count;
        if (c->tail != NULL) {
            c->tail->next = s;
        } else {
            c->head = s;
        }
        c->tail = s;
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->lock);
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
    pthread_join(c->thread2, NULL);
    free(c->committers);
    free(c->batch);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->call_done);
    pthread_cond_destroy(&c->turn);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
