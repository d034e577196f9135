/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's commit queue (src/daemon/commit.c) and intake (intake.c):
 *
 *   - submissions are answered once each, in order, with consecutive indexes
 *     that hold exactly the events submitted;
 *   - many threads waiting on commits share batches, and every index is
 *     unique;
 *   - a slow disk (the committer held up) fills the queue: submissions are
 *     refused with -EAGAIN (never blocked, never lost), reads still work, and
 *     everything queued is appended once the disk is back;
 *   - streams (submissions that can wait) are refused past their own share
 *     of the queue while other producers still get in;
 *   - the daemon's own events go in when producers have filled the queue
 *     (producers are still refused);
 *   - a failing disk fails the submissions in flight (nothing acknowledged),
 *     every later one with the same error, and what was acknowledged before
 *     is intact after a reopen;
 *   - stopping answers everything queued;
 *   - a burst of submissions is appended and answered in queue order;
 *   - a write or sync failing at any step of such a burst acknowledges only
 *     what is durable: the answers come in order, all 0 up to the failure and
 *     the error after it, and every acknowledged event is in the log at its
 *     index after a reopen;
 *   - intake turns JSON into prepared events, or into the exact error.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#include <evident/event.h>
#include <evident/policy.h>

#include "commit.h"
#include "intake.h"
#include "metrics.h"
#include "store.h"

struct answer {
    struct evd_submission s;
    struct ev_prepared events[4];
    size_t count;
    atomic_int calls;
    int rc;
    uint64_t first;
    int order; /* when it was answered, among all answers */
};

static atomic_int answers_given;

static void on_done(struct evd_submission *s, int rc, uint64_t first)
{
    struct answer *a = s->ctx;
    a->rc = rc;
    a->first = first;
    a->order = atomic_fetch_add(&answers_given, 1);
    atomic_fetch_add(&a->calls, 1);
}

static void prepare(struct ev_prepared *p, const char *type, const char *data)
{
    struct ev_event ev = {.type = type, .severity = EV_SEV_INFO, .data_json = data};
    tu_ok(ev_event_prepare(NULL, &ev, p));
    assert_false(p->dropped);
}

static void answer_init(struct answer *a, size_t count, int tag)
{
    char data[64];
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < count; i++) {
        (void)snprintf(data, sizeof(data), "{\"tag\":%d,\"i\":%zu}", tag, i);
        prepare(&a->events[i], "custom.commit", data);
    }
    a->count = count;
    a->s = (struct evd_submission){
        .events = a->events, .count = count, .done = on_done, .ctx = a, .source = EVD_SRC_UNIX};
}

static void answer_release(struct answer *a)
{
    for (size_t i = 0; i < a->count; i++) {
        ev_prepared_release(&a->events[i]);
    }
}

static void wait_calls(struct answer *a)
{
    for (int i = 0; i < 10000 && atomic_load(&a->calls) == 0; i++) {
        usleep(1000);
    }
    assert_int_equal(atomic_load(&a->calls), 1);
}

/* The entry at index holds {"i":i,"tag":tag}. */
static void assert_entry(struct ev_log *log, uint64_t index, int tag, size_t i)
{
    struct ev_entry *e = NULL;
    char want[64];
    tu_ok(ev_log_entry(log, index, &e));
    (void)snprintf(want, sizeof(want), "\"data\":{\"i\":%zu,\"tag\":%d}", i, tag);
    if (strstr(e->bytes, want) == NULL) {
        fail_msg("entry %llu is %s, expected %s", (unsigned long long)index, e->bytes, want);
    }
    ev_entry_free(e);
}

static struct evd_commit *start(struct ev_log *log, size_t queue_max)
{
    struct evd_commit_options o = {.sync = EV_SYNC_ALWAYS, .batch_max = 64, .queue_max = queue_max};
    struct evd_commit *c = NULL;
    tu_ok(evd_commit_start(log, &o, &c));
    return c;
}

static void test_order(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit *c = start(log, 1000);
    static struct answer a[3];

    for (int k = 0; k < 3; k++) {
        answer_init(&a[k], (size_t)k + 1, k);
        tu_ok(evd_commit_submit(c, &a[k].s));
    }
    for (int k = 0; k < 3; k++) {
        wait_calls(&a[k]);
        assert_int_equal(a[k].rc, 0);
    }
    /* 1 + 2 + 3 events at consecutive indexes, in submission order. */
    assert_int_equal(a[1].first, a[0].first + 1);
    assert_int_equal(a[2].first, a[1].first + 2);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i <= (size_t)k; i++) {
            assert_entry(log, a[k].first + i, k, i);
        }
    }
    evd_commit_stop(c);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(atomic_load(&a[k].calls), 1); /* never twice */
        answer_release(&a[k]);
    }
    tu_ok(ev_log_close(log));
}

struct worker {
    struct evd_commit *c;
    int id;
    uint64_t indexes[50];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < 50; i++) {
        struct ev_prepared p;
        char data[64];
        (void)snprintf(data, sizeof(data), "{\"tag\":%d,\"i\":%zu}", w->id, i);
        prepare(&p, "custom.commit", data);
        tu_ok(evd_commit_wait(w->c, &p, 1, false, &w->indexes[i]));
        ev_prepared_release(&p);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit *c = start(log, 1000);
    struct worker w[8];
    pthread_t t[8];

    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
    }
    evd_commit_stop(c);
    /* 400 acknowledged events, each at its own index, holding its own data. */
    assert_int_equal(ev_log_size(log), 400);
    bool *seen = calloc(400, sizeof(bool));
    for (int i = 0; i < 8; i++) {
        for (size_t k = 0; k < 50; k++) {
            assert_true(w[i].indexes[k] < 400);
            assert_false(seen[w[i].indexes[k]]);
            seen[w[i].indexes[k]] = true;
            assert_entry(log, w[i].indexes[k], i, k);
        }
    }
    free(seen);
    tu_ok(ev_log_close(log));
}

/* Holds the committer (a slow disk) until released. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered, open;
};

static int hold(struct ev_log *log, void *arg)
{
    struct gate *g = arg;
    (void)log;
    pthread_mutex_lock(&g->lock);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static void *hold_thread(void *arg)
{
    void **args = arg;
    (void)evd_commit_call(args[0], hold, args[1]);
    return NULL;
}

static void test_slow_disk_pushes_back(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    tu_append_n(log, 3, "before");
    struct evd_commit *c = start(log, 64); /* queue_max 64 = batch_max */
    struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    void *args[2] = {c, &g};
    pthread_t t;
    static struct answer a[40];

    assert_int_equal(pthread_create(&t, NULL, hold_thread, args), 0);
    pthread_mutex_lock(&g.lock);
    while (!g.entered) {
        pthread_cond_wait(&g.cond, &g.lock);
    }
    pthread_mutex_unlock(&g.lock);

    /* 4 events each: 16 submissions fill 64, the 17th is refused at once. */
    int accepted = 0, refused = 0;
    for (int k = 0; k < 40; k++) {
        answer_init(&a[k], 4, k);
        int r = evd_commit_submit(c, &a[k].s);
        if (r == 0) {
            accepted++;
        } else {
            assert_int_equal(r, -EAGAIN);
            refused++;
        }
    }
    assert_int_equal(accepted, 16);
    assert_int_equal(refused, 24);
    assert_int_equal(evd_commit_depth(c), 64);
    /* Reads do not wait for the committer. */
    assert_int_equal(ev_log_size(log), 3);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(log, 1, &e));
    ev_entry_free(e);

    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(t, NULL);
    for (int k = 0; k < accepted; k++) {
        wait_calls(&a[k]);
        assert_int_equal(a[k].rc, 0);
        assert_entry(log, a[k].first + 3, k, 3);
    }
    for (int k = accepted; k < 40; k++) {
        assert_int_equal(atomic_load(&a[k].calls), 0); /* refused: never answered */
    }
    evd_commit_stop(c);
    assert_int_equal(ev_log_size(log), 3 + 64);
    for (int k = 0; k < 40; k++) {
        answer_release(&a[k]);
    }
    tu_ok(ev_log_close(log));
}

/*
 * Streams (submissions that can wait) have their own, smaller share of the
 * queue: past it they are refused while others still go in, up to the whole
 * queue; answered, the share is free again.
 */
static void test_streams_have_their_share(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit_options o = {
        .sync = EV_SYNC_ALWAYS, .batch_max = 64, .queue_max = 64, .stream_queue_max = 16};
    struct evd_commit *c = NULL;
    tu_ok(evd_commit_start(log, &o, &c));
    struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    void *args[2] = {c, &g};
    pthread_t t;
    static struct answer streams[6], others[14], late;

    assert_int_equal(pthread_create(&t, NULL, hold_thread, args), 0);
    pthread_mutex_lock(&g.lock);
    while (!g.entered) {
        pthread_cond_wait(&g.cond, &g.lock);
    }
    pthread_mutex_unlock(&g.lock);

    /* 4 events each: 4 stream submissions fill the share of 16, the 5th and 6th wait. */
    for (int k = 0; k < 6; k++) {
        answer_init(&streams[k], 4, k);
        streams[k].s.can_wait = true;
        assert_int_equal(evd_commit_submit(c, &streams[k].s), k < 4 ? 0 : -EAGAIN);
    }
    /* The rest of the queue is the others': 48 more events, then full. */
    for (int k = 0; k < 14; k++) {
        answer_init(&others[k], 4, 100 + k);
        assert_int_equal(evd_commit_submit(c, &others[k].s), k < 12 ? 0 : -EAGAIN);
    }
    assert_int_equal(evd_commit_depth(c), 64);

    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(t, NULL);
    for (int k = 0; k < 4; k++) {
        wait_calls(&streams[k]);
        assert_int_equal(streams[k].rc, 0);
        assert_entry(log, streams[k].first, k, 0);
    }
    for (int k = 0; k < 12; k++) {
        wait_calls(&others[k]);
        assert_int_equal(others[k].rc, 0);
        assert_entry(log, others[k].first, 100 + k, 0);
    }
    /* Answered, the stream share is free again: a stream submission as large as it goes in. */
    answer_init(&late, 4, 200);
    late.s.can_wait = true;
    tu_ok(evd_commit_submit(c, &late.s));
    wait_calls(&late);
    assert_int_equal(late.rc, 0);
    evd_commit_stop(c);
    assert_int_equal(ev_log_size(log), 64 + 4);
    for (int k = 0; k < 6; k++) {
        answer_release(&streams[k]);
    }
    for (int k = 0; k < 14; k++) {
        answer_release(&others[k]);
    }
    answer_release(&late);
    tu_ok(ev_log_close(log));
}

/*
 * The daemon's own events (evd_commit_wait: alerts, startup, reload,
 * shutdown) are not refused when producers have filled the queue: overload,
 * or a full disk holding the producers, is when alerts fire. One recorded
 * then goes in beyond queue_max and is committed once the committer is free;
 * producers are still refused meanwhile.
 */
struct own_record {
    struct evd_commit *c;
    atomic_bool finished;
    int rc;
    uint64_t first;
};

static void *record_own_thread(void *arg)
{
    struct own_record *o = arg;
    struct ev_prepared p;
    prepare(&p, "custom.commit", "{\"tag\":300,\"i\":0}");
    o->rc = evd_commit_wait(o->c, &p, 1, true, &o->first);
    ev_prepared_release(&p);
    atomic_store(&o->finished, true);
    return NULL;
}

static void test_own_events_pass_a_full_queue(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit *c = start(log, 64); /* queue_max 64 = batch_max */
    struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    void *args[2] = {c, &g};
    pthread_t t, own_thread;
    struct own_record own = {.c = c};
    static struct answer producers[16], late;

    assert_int_equal(pthread_create(&t, NULL, hold_thread, args), 0);
    pthread_mutex_lock(&g.lock);
    while (!g.entered) {
        pthread_cond_wait(&g.cond, &g.lock);
    }
    pthread_mutex_unlock(&g.lock);

    /* 16 producers' submissions of 4 events fill the queue of 64. */
    for (int k = 0; k < 16; k++) {
        answer_init(&producers[k], 4, k);
        tu_ok(evd_commit_submit(c, &producers[k].s));
    }
    assert_int_equal(evd_commit_depth(c), 64);

    /* An own event goes in all the same: its thread waits for the commit. */
    assert_int_equal(pthread_create(&own_thread, NULL, record_own_thread, &own), 0);
    for (int i = 0; i < 10000 && evd_commit_depth(c) == 64 && !atomic_load(&own.finished); i++) {
        usleep(1000);
    }
    assert_false(atomic_load(&own.finished)); /* refused, it would be back with -EAGAIN */
    assert_int_equal(evd_commit_depth(c), 65);

    /* A producer is still refused. */
    answer_init(&late, 1, 200);
    assert_int_equal(evd_commit_submit(c, &late.s), -EAGAIN);

    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(t, NULL);
    pthread_join(own_thread, NULL);
    assert_int_equal(own.rc, 0);
    assert_int_equal(own.first, 64); /* after the producers queued before it */
    assert_entry(log, own.first, 300, 0);
    for (int k = 0; k < 16; k++) {
        wait_calls(&producers[k]);
        assert_int_equal(producers[k].rc, 0);
        assert_entry(log, producers[k].first + 3, k, 3);
    }
    assert_int_equal(atomic_load(&late.calls), 0); /* refused: never answered */
    evd_commit_stop(c);
    assert_int_equal(ev_log_size(log), 64 + 1);
    for (int k = 0; k < 16; k++) {
        answer_release(&producers[k]);
    }
    answer_release(&late);
    tu_ok(ev_log_close(log));
}

static void test_failing_disk(void **state)
{
    struct tu_fixture *f = *state;
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    tu_create(f->dir, 0, v);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit *c = start(log, 1000);
    static struct answer ok, bad, after;

    answer_init(&ok, 2, 1);
    tu_ok(evd_commit_submit(c, &ok.s));
    wait_calls(&ok);
    assert_int_equal(ok.rc, 0);

    evi_io_fail_after(1, ENOSPC);
    answer_init(&bad, 2, 2);
    tu_ok(evd_commit_submit(c, &bad.s));
    wait_calls(&bad);
    assert_int_equal(bad.rc, -ENOSPC);
    assert_int_equal(evd_commit_error(c), -ENOSPC);
    evi_io_fail_after(0, 0); /* the disk heals; the handle stays failed until reopened */
    answer_init(&after, 1, 3);
    assert_int_equal(evd_commit_submit(c, &after.s), -ENOSPC);
    evd_commit_stop(c);
    (void)ev_log_close(log);

    log = tu_open(f->dir, NULL);
    assert_entry(log, ok.first, 1, 0);
    assert_entry(log, ok.first + 1, 1, 1);
    tu_ok(ev_log_close(log));
    struct ev_verify_report rep = tu_verify(f->dir, v);
    assert_int_equal(rep.failure, EV_FAIL_NONE);
    answer_release(&ok);
    answer_release(&bad);
    answer_release(&after);
}

static void test_stop_answers_everything(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit *c = start(log, 100000);
    static struct answer a[200];

    for (int k = 0; k < 200; k++) {
        answer_init(&a[k], 1, k);
        tu_ok(evd_commit_submit(c, &a[k].s));
    }
    evd_commit_stop(c); /* returns once all 200 are answered */
    for (int k = 0; k < 200; k++) {
        assert_int_equal(atomic_load(&a[k].calls), 1);
        assert_int_equal(a[k].rc, 0);
        answer_release(&a[k]);
    }
    assert_int_equal(ev_log_size(log), 200);
    tu_ok(ev_log_close(log));
}

/*
 * The committer appends batches in the order they were queued: a burst of
 * submissions, not waited for one by one, gets increasing indexes in
 * submission order, is answered in that order, each once, and each index
 * holds its own event. The same under interval, and with group_commit_wait.
 */
static void burst_in_order(const char *dir, enum ev_sync sync, uint64_t group_wait_ns)
{
    struct ev_log *log = tu_open(dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_commit_options o = {
        .sync = sync, .batch_max = 7, .queue_max = 100000, .group_wait_ns = group_wait_ns};
    struct evd_commit *c = NULL;
    static struct answer a[300];

    tu_ok(evd_commit_start(log, &o, &c));
    for (int k = 0; k < 300; k++) {
        answer_init(&a[k], (size_t)(k % 3) + 1, k);
        tu_ok(evd_commit_submit(c, &a[k].s));
    }
    for (int k = 0; k < 300; k++) {
        wait_calls(&a[k]);
        assert_int_equal(a[k].rc, 0);
        if (k > 0) {
            assert_true(a[k].first >= a[k - 1].first + a[k - 1].count);
            assert_true(a[k].order > a[k - 1].order);
        }
        for (size_t i = 0; i < a[k].count; i++) {
            assert_entry(log, a[k].first + i, k, i);
        }
    }
    evd_commit_stop(c);
    for (int k = 0; k < 300; k++) {
        assert_int_equal(atomic_load(&a[k].calls), 1);
        answer_release(&a[k]);
    }
    tu_ok(ev_log_close(log));
}

static void test_burst_in_order(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    burst_in_order(f->dir, EV_SYNC_ALWAYS, 0);
    burst_in_order(f->dir, EV_SYNC_INTERVAL, 0);
    burst_in_order(f->dir, EV_SYNC_ALWAYS, 1000000); /* a lone batch waits 1 ms for company */
}

/* count events of about 6 KiB each ({"i":i,"tag":tag,"zpad":"000..."}): 10 fill a segment. */
static void answer_init_big(struct answer *a, size_t count, int tag)
{
    static char data[6200];
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < count; i++) {
        (void)snprintf(data, sizeof(data), "{\"i\":%zu,\"tag\":%d,\"zpad\":\"%06000d\"}", i, tag,
                       0);
        prepare(&a->events[i], "custom.commit", data);
    }
    a->count = count;
    a->s = (struct evd_submission){
        .events = a->events, .count = count, .done = on_done, .ctx = a, .source = EVD_SRC_UNIX};
}

static void assert_big_entry(struct ev_log *log, uint64_t index, int tag, size_t i)
{
    struct ev_entry *e = NULL;
    char want[64];
    tu_ok(ev_log_entry(log, index, &e));
    (void)snprintf(want, sizeof(want), "\"data\":{\"i\":%zu,\"tag\":%d,\"zpad\"", i, tag);
    if (strstr(e->bytes, want) == NULL) {
        fail_msg("entry %llu does not hold %s", (unsigned long long)index, want);
    }
    ev_entry_free(e);
}

/*
 * A burst of batches (batch_max 7) of 6 KiB events, crossing a segment
 * rotation every 10 events, the I/O failing from its k-th write or sync on:
 * returns whether any submission failed. Whatever step fails (a
 * record write or fdatasync, a rotation inside an append, the derived files),
 * nothing is acknowledged that is not durable, and the answers keep their
 * order (a committer that overlaps appends with syncs must keep this too).
 */
static bool failing_burst_once(const char *dir, const uint8_t *v, long k)
{
    struct ev_open_options oo = {.sync = EV_SYNC_NEVER, .segment_bytes = 64 * 1024};
    struct ev_log *log = tu_open(dir, &oo);
    struct evd_commit_options o = {.sync = EV_SYNC_ALWAYS, .batch_max = 7, .queue_max = 100000};
    struct evd_commit *c = NULL;
    struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    void *args[2];
    pthread_t t;
    static struct answer a[60];
    uint64_t size0 = ev_log_size(log);

    tu_ok(evd_commit_start(log, &o, &c));
    args[0] = c;
    args[1] = &g;
    /* Hold the committer so that the burst is queued whole, then let it go. */
    assert_int_equal(pthread_create(&t, NULL, hold_thread, args), 0);
    pthread_mutex_lock(&g.lock);
    while (!g.entered) {
        pthread_cond_wait(&g.cond, &g.lock);
    }
    pthread_mutex_unlock(&g.lock);
    for (int n = 0; n < 60; n++) {
        answer_init_big(&a[n], (size_t)(n % 3) + 1, n);
        tu_ok(evd_commit_submit(c, &a[n].s));
    }
    evi_io_fail_after(k, EIO);
    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(t, NULL);

    bool failed = false;
    for (int n = 0; n < 60; n++) {
        wait_calls(&a[n]);
        if (n > 0 && a[n].order <= a[n - 1].order) {
            fail_msg("k=%ld: submission %d answered before %d", k, n, n - 1);
        }
        if (a[n].rc != 0) {
            failed = true;
            assert_int_equal(a[n].rc, -EIO);
        } else if (failed) {
            fail_msg("k=%ld: submission %d acknowledged after one before it failed", k, n);
        }
    }
    evi_io_fail_after(0, 0);
    evd_commit_stop(c);
    (void)ev_log_close(log);

    log = tu_open(dir, &oo);
    for (int n = 0; n < 60; n++) {
        if (a[n].rc == 0) {
            for (size_t i = 0; i < a[n].count; i++) {
                assert_big_entry(log, a[n].first + i, n, i);
            }
        }
        answer_release(&a[n]);
    }
    assert_true(ev_log_size(log) >= size0);
    tu_ok(ev_log_close(log));
    struct ev_verify_report rep = tu_verify(dir, v);
    assert_int_equal(rep.failure, EV_FAIL_NONE);
    return failed;
}

static void test_failing_burst(void **state)
{
    struct tu_fixture *f = *state;
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    long k, failed = 0;

    tu_create(f->dir, 0, v);
    for (k = 1; k < 400; k++) {
        if (!failing_burst_once(f->dir, v, k)) {
            break; /* past the burst's last write or sync */
        }
        failed++;
    }
    print_message("a failure at each of %ld I/O calls of the burst\n", failed);
    assert_true(k < 400);
    assert_true(failed >= 20); /* records, syncs, rotations, derived files */
}

/* ---- intake ----------------------------------------------------------------- */

static void intake_err(struct evd *d, const char *json, const char *type, int want_rc,
                       const char *want)
{
    struct ev_prepared p;
    char *source = NULL, err[512] = "";
    int r = evd_intake_json(d, json, strlen(json), "{\"transport\":\"test\"}", type, &p, &source,
                            err, sizeof(err));
    if (r != want_rc || strcmp(err, want) != 0) {
        fail_msg("%s: got %d '%s', want %d '%s'", json, r, err, want_rc, want);
    }
    assert_null(source);
}

static void test_intake(void **state)
{
    (void)state;
    struct evd d = {0};
    struct ev_prepared p;
    char *source = NULL, err[512];

    pthread_rwlock_init(&d.config_lock, NULL);
    tu_ok(ev_policy_new(NULL, &d.policy));

    const char *good = "{\"type\":\"custom.x\",\"severity\":\"warning\",\"data\":{\"b\":1,\"a\":2},"
                       "\"source\":{\"job\":\"ci-1\"}}";
    tu_ok(evd_intake_json(&d, good, strlen(good), "{\"transport\":\"unix\",\"uid\":7}", NULL, &p,
                          &source, err, sizeof(err)));
    assert_string_equal(p.type, "custom.x");
    assert_int_equal(p.event.severity, EV_SEV_WARNING);
    assert_string_equal(source,
                        "{\"claimed\":{\"job\":\"ci-1\"},\"transport\":\"unix\",\"uid\":7}");
    assert_ptr_equal(p.event.source_json, source);
    ev_prepared_release(&p);
    free(source);

    /*
     * Longer than an entry as sent: a capture is kept as its digest and a
     * prefix, so preparing decides the size, not the reader.
     */
    size_t out_len = 200000;
    char *big = malloc(out_len + 128);
    assert_non_null(big);
    int n = snprintf(big, 128, "{\"type\":\"code_execution\",\"data\":{\"language\":\"sh\","
                               "\"stdout\":\"");
    memset(big + n, 'o', out_len);
    memcpy(big + n + out_len, "\"}}", 4);
    tu_ok(evd_intake_json(&d, big, strlen(big), "{}", NULL, &p, &source, err, sizeof(err)));
    assert_null(source);
    assert_non_null(strstr(p.event.data_json, "\"bytes\":200000"));
    assert_non_null(strstr(p.event.data_json, "\"truncated\":true"));
    assert_true(strlen(p.event.data_json) < EV_ENTRY_MAX_BYTES);
    ev_prepared_release(&p);
    free(big);

    /* A type from the path fills in, or must agree. */
    tu_ok(evd_intake_json(&d, "{}", 2, "{}", "custom.path", &p, &source, err, sizeof(err)));
    assert_string_equal(p.type, "custom.path");
    ev_prepared_release(&p);

    intake_err(&d, "[1]", NULL, EV_EJSON, "expected a JSON object (an event)");
    intake_err(&d, "{\"data\":{}}", NULL, EV_EJSON, "type: required");
    intake_err(&d, "{\"type\":\"custom.a\"}", "custom.b", EV_EJSON,
               "type: differs from the type in the path");
    intake_err(&d, "{\"type\":1}", NULL, EV_EJSON, "type: expected a string");
    intake_err(&d, "{\"type\":\"custom.a\",\"severity\":9}", NULL, EV_EJSON,
               "severity: expected a name (emergency, alert, critical, error, warning, notice, "
               "info, debug) or 0..7");
    intake_err(&d, "{\"type\":\"custom.a\",\"severity\":\"loud\"}", NULL, EV_EJSON,
               "severity: expected a name (emergency, alert, critical, error, warning, notice, "
               "info, debug) or 0..7");
    intake_err(&d, "{\"type\":\"custom.a\",\"data\":[]}", NULL, EV_EJSON,
               "data: expected a JSON object");
    intake_err(&d, "{\"type\":\"custom.a\",\"source\":\"me\"}", NULL, EV_EJSON,
               "source: expected a JSON object");
    intake_err(&d, "{\"type\":\"custom.a\",\"ts\":1}", NULL, EV_EJSON,
               "ts: unknown key (expected type, severity, source, data)");
    intake_err(&d, "{\"type\":\"code_execution\",\"data\":{\"exit_code\":\"x\"}}", NULL, EV_EJSON,
               "data.exit_code: expected an integer");
    intake_err(&d, "{\"type\":\"custom.a\",\"type\":\"custom.b\"}", NULL, EV_EJSON,
               "invalid JSON at column 25: duplicate object key near '\"type\"'");
    intake_err(&d, "{\"type\":\"custom.a\"", NULL, EV_EJSON,
               "invalid JSON at column 18: '}' expected near end of file");
    /* A claim the fast reader passed on as its text is checked when it is kept. */
    intake_err(&d, "{\"type\":\"custom.a\",\"source\":{\"a\":1,\"a\":2}}", NULL, EV_EJSON,
               "source: invalid JSON at line 1 column 10: duplicate object key near '\"a\"'");
    /* The library's rule for a type (ev_jsonl_read(), as `evident append --jsonl`). */
    intake_err(&d, "{\"type\":\"seal\"}", NULL, EV_EJSON,
               "type: expected 1-64 of [a-z0-9_.:-] starting with a letter, not \"seal\"");

    ev_policy_free(d.policy);
    pthread_rwlock_destroy(&d.config_lock);
}

/* The value of one evident_events_total sample in the metrics text. */
static uint64_t events_total(struct evd_metrics *m, const char *source, const char *type)
{
    char *text = NULL, want[128];
    size_t len = 0;
    unsigned long long n = 0;
    tu_ok(evd_metrics_render(m, NULL, &text, &len));
    int w = snprintf(want, sizeof(want), "evident_events_total{source=\"%s\",type=\"%s\"} ",
                     source, type);
    const char *at = strstr(text, want);
    assert_non_null(at);
    assert_int_equal(sscanf(at + w, "%llu", &n), 1);
    free(text);
    return n;
}

/*
 * answer() counts events per run of one type (told by content: a custom
 * type points into its own event's buffer); one submission is appended from
 * its own array, several from the gathered batch. Mixed types in and across
 * submissions are each counted once, in their column.
 */
static void test_metrics_by_type(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    struct evd_metrics *m = NULL;
    tu_ok(evd_metrics_new(&m));
    struct evd_commit_options o = {
        .sync = EV_SYNC_ALWAYS, .batch_max = 64, .queue_max = 1000, .metrics = m};
    struct evd_commit *c = NULL;
    tu_ok(evd_commit_start(log, &o, &c));
    struct ev_resource_violation v = {.resource = EV_RESOURCE_PIDS,
                                      .limit = EV_SOME_INT(10),
                                      .observed = EV_SOME_INT(11),
                                      .action = EV_ACTION_DENIED};
    static struct answer a[3];
    for (int k = 0; k < 3; k++) {
        memset(&a[k], 0, sizeof(a[k]));
        /* rv rv custom rv: runs of 2, 1 and 1 */
        for (int i = 0; i < 4; i++) {
            if (i == 2) {
                prepare(&a[k].events[i], "custom.mixed", "{\"k\":1}");
            } else {
                tu_ok(ev_resource_violation_prepare(NULL, &v, &a[k].events[i]));
            }
        }
        a[k].count = 4;
        a[k].s = (struct evd_submission){.events = a[k].events,
                                         .count = 4,
                                         .done = on_done,
                                         .ctx = &a[k],
                                         .source = k == 2 ? EVD_SRC_HTTP : EVD_SRC_UNIX};
    }
    /* One alone (its own array), then two together (the batch, if they meet in the queue). */
    tu_ok(evd_commit_submit(c, &a[0].s));
    wait_calls(&a[0]);
    tu_ok(evd_commit_submit(c, &a[1].s));
    tu_ok(evd_commit_submit(c, &a[2].s));
    wait_calls(&a[1]);
    wait_calls(&a[2]);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(a[k].rc, 0);
        for (size_t i = 0; i < 4; i++) {
            struct ev_entry *e = NULL;
            tu_ok(ev_log_entry(log, a[k].first + i, &e));
            assert_non_null(strstr(e->bytes, i == 2 ? "\"type\":\"custom.mixed\""
                                                    : "\"type\":\"resource_violation\""));
            ev_entry_free(e);
        }
    }
    evd_commit_stop(c);
    assert_int_equal(events_total(m, "unix", "resource_violation"), 6);
    assert_int_equal(events_total(m, "unix", "custom"), 2);
    assert_int_equal(events_total(m, "http", "resource_violation"), 3);
    assert_int_equal(events_total(m, "http", "custom"), 1);
    for (int k = 0; k < 3; k++) {
        answer_release(&a[k]);
    }
    evd_metrics_free(m);
    tu_ok(ev_log_close(log));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_threads, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_slow_disk_pushes_back, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_streams_have_their_share, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_own_events_pass_a_full_queue, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_failing_disk, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_everything, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_burst_in_order, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_failing_burst, tu_setup, tu_teardown),
        cmocka_unit_test(test_intake),
        cmocka_unit_test_setup_teardown(test_metrics_by_type, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
