/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The committer on a full disk (src/daemon/disk.c, commit.c), with ENOSPC
 * injected at an exact write or sync (evi_io_fail_after), so that it runs
 * everywhere (tests/test-disk.sh does the same on a real tmpfs, as root):
 *
 *   - block: for every k across a batch that crosses a segment rotation, the
 *     batch is held, the log reopened, and once the disk "has room" every
 *     submission is answered rc 0; every event is in the log exactly once, at
 *     the index its answer gives (events that recovery kept, made durable at
 *     the rotation before the failure, are not appended again: a submission
 *     they cover in part is split), and the log verifies;
 *   - block, with another entry appended as soon as the writer opens again
 *     (the timer's retention pass may): the same; what recovery kept is
 *     counted up to the size the writer had when it opened, and the log's
 *     own entries (seals, a retention entry) are never taken for events;
 *   - block, several batches: the same for five submissions in four
 *     batches queued at once: answered in order, each once, each event in
 *     the log exactly once at its answer's index;
 *   - block, the daemon's log (EV_SYNC_NEVER, the committer syncs): the same
 *     with batches gathered behind a held write, with and without a seal due;
 *   - reject: the batch is refused with -ENOSPC and the daemon appends again
 *     by itself afterwards;
 *   - the reserve: under disk.reserve producers' events wait (block) while
 *     the daemon's own events (alerts) still go in; they go in once the
 *     reserve is met; an own event submitted between two rounds of the disk
 *     gate goes in at the next one, not after the committer's wait;
 *   - the reserve with the queue full of held producers' events: an own
 *     event is not refused for it (a producer is) and goes in;
 *   - failed fills of preallocated zeros: said once each, with the latest
 *     error.
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <evident/config.h>
#include <evident/event.h>

#include "alert.h"
#include "commit.h"
#include "daemon.h"
#include "disk.h"
#include "log-internal.h" /* src/lib: the handle's I/O counters */
#include "metrics.h"
#include "store.h"

#define SEGMENT (64 * 1024)

struct answer {
    struct evd_submission s;
    struct ev_prepared events[4];
    size_t count;
    int tag;
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

/* count events of ~20 KiB (three fill a 64 KiB segment), tagged tag. */
static void answer_init(struct answer *a, size_t count, int tag, int source)
{
    static char data[21000];
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < count; i++) {
        (void)snprintf(data, sizeof(data), "{\"i\":%zu,\"pad\":\"%020000d\",\"tag\":%d}", i, 0,
                       tag);
        struct ev_event ev = {.type = "custom.disk", .severity = EV_SEV_INFO, .data_json = data};
        tu_ok(ev_event_prepare(NULL, &ev, &a->events[i]));
    }
    a->count = count;
    a->tag = tag;
    a->s = (struct evd_submission){
        .events = a->events, .count = count, .done = on_done, .ctx = a, .source = source};
}

static void answer_release(struct answer *a)
{
    for (size_t i = 0; i < a->count; i++) {
        ev_prepared_release(&a->events[i]);
    }
}

static uint64_t enospc_count(struct evd_disk *disk)
{
    struct evd_disk_stats st;
    evd_disk_stats(disk, &st);
    return st.enospc_total;
}

static bool answered(struct answer *a, int ms)
{
    for (int i = 0; i < ms && atomic_load(&a->calls) == 0; i++) {
        usleep(1000);
    }
    return atomic_load(&a->calls) > 0;
}

struct rig {
    struct evd d;
    struct evd_commit *commit;
};

/* log_sync: the log's own mode (evidentd opens it with EV_SYNC_NEVER and syncs itself). */
static void rig_start_with(struct rig *g, const char *dir, int action, uint64_t reserve,
                           size_t batch_max, enum ev_sync log_sync, size_t queue_max)
{
    struct ev_config *cfg = NULL;
    struct ev_open_options o = {.segment_bytes = SEGMENT, .sync = log_sync};

    memset(g, 0, sizeof(*g));
    tu_ok(ev_config_defaults(&cfg));
    cfg->disk.space_left = (struct ev_space){0};
    cfg->disk.admin_space_left = (struct ev_space){0};
    cfg->disk.reserve = (struct ev_space){.bytes = reserve};
    cfg->disk.disk_full_action = action;
    g->d.config = cfg;
    (void)snprintf(g->d.log_dir, sizeof(g->d.log_dir), "%s", dir);
    pthread_rwlock_init(&g->d.config_lock, NULL);
    pthread_rwlock_init(&g->d.log_lock, NULL);
    pthread_mutex_init(&g->d.summary_lock, NULL);
    g->d.log = tu_open(dir, &o);
    tu_ok(evd_metrics_new(&g->d.metrics));
    tu_ok(evd_disk_new(&g->d, &o, &g->d.disk));
    evd_disk_set_retry(g->d.disk, 20000000); /* 20 ms: the sweep retries at once */
    struct evd_commit_options co = {.sync = EV_SYNC_ALWAYS,
                                    .batch_max = batch_max,
                                    .queue_max = queue_max,
                                    .metrics = g->d.metrics,
                                    .disk = g->d.disk};
    tu_ok(evd_commit_start(g->d.log, &co, &g->commit));
    g->d.commit = g->commit;
}

static void rig_start_batch(struct rig *g, const char *dir, int action, uint64_t reserve,
                            size_t batch_max)
{
    rig_start_with(g, dir, action, reserve, batch_max, EV_SYNC_ALWAYS, 1024);
}

static void rig_start(struct rig *g, const char *dir, int action, uint64_t reserve)
{
    rig_start_batch(g, dir, action, reserve, 64);
}

static void rig_stop(struct rig *g)
{
    evd_commit_stop(g->commit);
    if (g->d.log != NULL) {
        (void)ev_log_close(g->d.log);
    }
    evd_disk_free(g->d.disk);
    evd_metrics_free(g->d.metrics);
    ev_config_free(g->d.config);
    pthread_rwlock_destroy(&g->d.config_lock);
    pthread_rwlock_destroy(&g->d.log_lock);
    ev_summary_free(g->d.summary);
    pthread_mutex_destroy(&g->d.summary_lock);
}

/* Runs fn on the committer: while it runs, submissions gather into one batch. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
};

static int wait_gate(struct ev_log *log, void *arg)
{
    struct gate *g = arg;
    (void)log;
    pthread_mutex_lock(&g->lock);
    while (!g->open) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return 0;
}

struct call_arg {
    struct evd_commit *c;
    struct gate *gate;
};

static void *call_thread(void *arg)
{
    struct call_arg *a = arg;
    (void)evd_commit_call(a->c, wait_gate, a->gate);
    return NULL;
}

/* Every event of every answer is in the log once, at its index; counts events. */
static void check_log(const char *dir, struct answer **a, size_t n, long k, const uint8_t *v)
{
    struct ev_log *log = tu_open(dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    size_t events = 0, found = 0;

    for (size_t s = 0; s < n; s++) {
        for (size_t i = 0; i < a[s]->count; i++) {
            char want[64];
            struct ev_entry *e = NULL;
            uint64_t index = evd_submission_index(&a[s]->s, a[s]->first, i);
            tu_ok(ev_log_entry(log, index, &e));
            (void)snprintf(want, sizeof(want), "\"tag\":%d", a[s]->tag);
            bool ok = strstr(e->bytes, want) != NULL;
            (void)snprintf(want, sizeof(want), "{\"i\":%zu,", i);
            ok = ok && strstr(e->bytes, want) != NULL;
            if (!ok) {
                fail_msg("k=%ld: submission %zu event %zu: index %" PRIu64 " holds another entry",
                         k, s, i, index);
            }
            ev_entry_free(e);
            events++;
        }
    }
    for (uint64_t i = 0; i < ev_log_size(log); i++) {
        struct ev_entry *e = NULL;
        tu_ok(ev_log_entry(log, i, &e));
        found += strstr(e->bytes, "\"type\":\"custom.disk\"") != NULL;
        ev_entry_free(e);
    }
    if (found != events) {
        fail_msg("k=%ld: %zu events in the log, %zu acknowledged (appended twice?)", k, found,
                 events);
    }
    tu_ok(ev_log_close(log));
    (void)tu_verify(dir, v);
}

/* Every one of a[0..n) answered once, rc 0 (held, then written), in order. */
static void all_written_in_order(struct answer *a, int n, long k)
{
    for (int i = 0; i < n; i++) {
        if (!answered(&a[i], 10000)) {
            fail_msg("k=%ld: submission %d never answered", k, i);
        }
        if (a[i].rc != 0) {
            fail_msg("k=%ld: submission %d: %d (%s), expected it held and written", k, i, a[i].rc,
                     ev_strerror(a[i].rc));
        }
        assert_int_equal(atomic_load(&a[i].calls), 1);
        if (i > 0 && a[i].order <= a[i - 1].order) {
            fail_msg("k=%ld: submission %d answered before %d", k, i, i - 1);
        }
    }
}

/*
 * Another thread's entry in the log as soon as a writer handle opens again
 * after the failure: the timer's retention pass appends its `retention`
 * entry to d->log, and a full disk is when it runs early (disk.c).
 */
static bool another_appender;

static void append_other(struct evd *d, void *arg)
{
    struct ev_event ev = {.type = "custom.other", .severity = EV_SEV_NOTICE, .data_json = "{}"};
    uint64_t index;
    (void)arg;
    if (ev_log_append(d->log, &ev, &index) == 0) {
        (void)ev_log_sync(d->log);
    }
}

/* Three submissions, one batch of 7 events crossing two rotations, ENOSPC at call k. */
static bool block_once(struct tu_fixture *f, long k)
{
    struct rig g;
    struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    static struct answer a[3];
    pthread_t caller;

    tu_rm_rf(f->dir);
    tu_create(f->dir, 0, f->v);
    rig_start(&g, f->dir, EV_DISK_FULL_BLOCK, 0);
    if (another_appender) {
        evd_disk_set_reopen_hook(g.d.disk, append_other, NULL);
    }
    struct call_arg ca = {g.commit, &gate};
    assert_int_equal(pthread_create(&caller, NULL, call_thread, &ca), 0);
    usleep(20000); /* the committer is in wait_gate (or soon): the three form one batch */
    answer_init(&a[0], 2, 1, EVD_SRC_UNIX);
    answer_init(&a[1], 3, 2, EVD_SRC_HTTP);
    answer_init(&a[2], 2, 3, EVD_SRC_UNIX);
    for (int i = 0; i < 3; i++) {
        tu_ok(evd_commit_submit(g.commit, &a[i].s));
    }
    evi_io_fail_after(k, ENOSPC);
    pthread_mutex_lock(&gate.lock);
    gate.open = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
    pthread_join(caller, NULL);

    /* The injected failure (if k is within the batch) happens now; then the disk heals. */
    for (int i = 0; i < 2000 && enospc_count(g.d.disk) == 0 && !answered(&a[2], 1); i++) {
    }
    bool failed = enospc_count(g.d.disk) > 0;
    evi_io_fail_after(0, 0);
    all_written_in_order(a, 3, k);
    rig_stop(&g);
    struct answer *all[3] = {&a[0], &a[1], &a[2]};
    check_log(f->dir, all, 3, k, f->v);
    for (int i = 0; i < 3; i++) {
        answer_release(&a[i]);
    }
    return failed;
}

/*
 * Runs once(f, k) for k = 1, 2, ... until ENOSPC no longer happens (past the
 * last write or sync): returns at how many I/O calls it was held and recovered.
 */
static long sweep(struct tu_fixture *f, bool (*once)(struct tu_fixture *f, long k), long max,
                  const char *what)
{
    long k, held = 0;
    for (k = 1; k < max; k++) {
        if (!once(f, k)) {
            break;
        }
        held++;
    }
    print_message("ENOSPC held and recovered at each of %ld I/O calls%s\n", held, what);
    assert_true(k < max);
    return held;
}

static void test_block_sweep(void **state)
{
    /* Records, syncs, two segment creations, derived files. */
    assert_true(sweep(*state, block_once, 200, "") >= 8);
}

/*
 * The same with another entry appended as soon as the writer opens again:
 * what recovery kept of the batch is what the writer held when it opened,
 * not what the log holds when the committer looks (that entry is no event of
 * the batch, and counting it acknowledged an event never written).
 */
static void test_block_sweep_another_appender(void **state)
{
    another_appender = true;
    long held = sweep(*state, block_once, 200, " (another entry after each reopen)");
    another_appender = false;
    assert_true(held >= 8);
}

/*
 * Five submissions of 2, 3, 2, 1 and 2 events (tags 1 to 5) with batch_max 3:
 * four batches, [1] [2] [3 4] [5], across rotations (three events fill a
 * segment); ENOSPC from I/O call k on. Returns whether it happened.
 */
static bool block_batches_once(struct tu_fixture *f, long k)
{
    static const size_t sizes[5] = {2, 3, 2, 1, 2};
    struct rig g;
    struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    static struct answer a[5];
    pthread_t caller;

    tu_rm_rf(f->dir);
    tu_create(f->dir, 0, f->v);
    rig_start_batch(&g, f->dir, EV_DISK_FULL_BLOCK, 0, 3);
    struct call_arg ca = {g.commit, &gate};
    assert_int_equal(pthread_create(&caller, NULL, call_thread, &ca), 0);
    usleep(20000); /* the committer is in wait_gate (or soon): all five are queued */
    for (int i = 0; i < 5; i++) {
        answer_init(&a[i], sizes[i], i + 1, i % 2 ? EVD_SRC_HTTP : EVD_SRC_UNIX);
        tu_ok(evd_commit_submit(g.commit, &a[i].s));
    }
    evi_io_fail_after(k, ENOSPC);
    pthread_mutex_lock(&gate.lock);
    gate.open = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
    pthread_join(caller, NULL);

    for (int i = 0; i < 2000 && enospc_count(g.d.disk) == 0 && !answered(&a[4], 1); i++) {
    }
    bool failed = enospc_count(g.d.disk) > 0;
    evi_io_fail_after(0, 0);
    all_written_in_order(a, 5, k);
    rig_stop(&g);
    struct answer *all[5] = {&a[0], &a[1], &a[2], &a[3], &a[4]};
    check_log(f->dir, all, 5, k, f->v);
    for (int i = 0; i < 5; i++) {
        answer_release(&a[i]);
    }
    return failed;
}

static void test_block_batches_sweep(void **state)
{
    assert_true(sweep(*state, block_batches_once, 300, " (4 batches)") >= 12);
}

/* The write hook: the first write after `armed` waits until `released`. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool armed, waiting, released;
} held_write = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, false};

static void hold_write(int fd)
{
    (void)fd;
    pthread_mutex_lock(&held_write.lock);
    if (held_write.armed) {
        held_write.armed = false;
        held_write.waiting = true;
        pthread_cond_broadcast(&held_write.cond);
        while (!held_write.released) {
            pthread_cond_wait(&held_write.cond, &held_write.lock);
        }
        held_write.waiting = false;
    }
    pthread_mutex_unlock(&held_write.lock);
}

/*
 * The log opened as evidentd opens it (EV_SYNC_NEVER: the committer syncs,
 * and the stored hashes, index and key state follow the answers on the log's
 * flusher), the first batch's write held up while four more submissions
 * arrive and gather (batches of three events at most, across rotations);
 * then ENOSPC from I/O call k on. Every submission is answered once, in
 * order, rc 0 once the disk is back, each event in the log once at its index.
 * sealed: epochs of one second, and one ends while the write is held, so
 * that the next append begins with a seal. Returns whether it happened.
 */
static bool block_daemon_once(struct tu_fixture *f, long k, bool sealed)
{
    static const size_t sizes[5] = {1, 3, 2, 1, 2};
    struct rig g;
    static struct answer a[5];

    tu_rm_rf(f->dir);
    tu_create(f->dir, sealed ? 1000000000 : 0, f->v);
    rig_start_with(&g, f->dir, EV_DISK_FULL_BLOCK, 0, 3, EV_SYNC_NEVER, 1024);
    pthread_mutex_lock(&held_write.lock);
    held_write.armed = true;
    held_write.released = false;
    pthread_mutex_unlock(&held_write.lock);
    evi_io_set_write_hook(hold_write);
    for (int i = 0; i < 5; i++) {
        answer_init(&a[i], sizes[i], i + 1, i % 2 ? EVD_SRC_HTTP : EVD_SRC_UNIX);
        tu_ok(evd_commit_submit(g.commit, &a[i].s));
        if (i == 0) {
            pthread_mutex_lock(&held_write.lock);
            while (!held_write.waiting) {
                pthread_cond_wait(&held_write.cond, &held_write.lock);
            }
            pthread_mutex_unlock(&held_write.lock);
            if (sealed) {
                usleep(1100000); /* an epoch ends: the next append begins with a seal */
            }
        }
    }
    usleep(20000); /* the others queue behind the held write */
    evi_io_fail_after(k, ENOSPC);
    pthread_mutex_lock(&held_write.lock);
    held_write.released = true;
    pthread_cond_broadcast(&held_write.cond);
    pthread_mutex_unlock(&held_write.lock);

    for (int i = 0; i < 2000 && enospc_count(g.d.disk) == 0 && !answered(&a[4], 1); i++) {
    }
    bool failed = enospc_count(g.d.disk) > 0;
    evi_io_fail_after(0, 0);
    all_written_in_order(a, 5, k);
    evi_io_set_write_hook(NULL);
    rig_stop(&g);
    /*
     * The stored hashes and index follow the answers here (a hand-off to the
     * log's flusher): a failure among them fails the handle after the last
     * answer, and the next writer rebuilds them from the records.
     */
    tu_ok(ev_log_close(tu_open(f->dir, NULL)));
    struct answer *all[5] = {&a[0], &a[1], &a[2], &a[3], &a[4]};
    check_log(f->dir, all, 5, k, f->v);
    for (int i = 0; i < 5; i++) {
        answer_release(&a[i]);
    }
    return failed;
}

static bool block_daemon_plain(struct tu_fixture *f, long k)
{
    return block_daemon_once(f, k, false);
}

static bool block_daemon_sealed(struct tu_fixture *f, long k)
{
    return block_daemon_once(f, k, true);
}

static void test_block_daemon_sweep(void **state)
{
    assert_true(sweep(*state, block_daemon_plain, 300, " (the daemon's log)") >= 12);
}

/* The same with a seal due while the first batch's write is held up. */
static void test_block_daemon_sealed_sweep(void **state)
{
    assert_true(sweep(*state, block_daemon_sealed, 300, " (the daemon's log, sealed)") >= 12);
}

/*
 * What recovery kept, counted between from and to: the log's own entries
 * (a retention entry another thread appended before the batch, a seal after
 * it) are no events of the batch, nor is anything past to.
 */
static void test_survivors_skip_own_entries(void **state)
{
    struct tu_fixture *f = *state;
    uint64_t from, to, index, first_event = 0, first = 0;
    size_t count = 0;

    tu_rm_rf(f->dir);
    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, &(struct ev_open_options){.segment_bytes = SEGMENT});
    from = ev_log_size(log);
    tu_ok(evi_log_append_own(log, "retention", EV_SEV_NOTICE, "{\"segments\":0}", &index));
    for (int i = 0; i < 3; i++) {
        struct ev_event ev = {.type = "custom.disk", .severity = EV_SEV_INFO, .data_json = "{}"};
        tu_ok(ev_log_append(log, &ev, &index));
        first_event = i == 0 ? index : first_event;
    }
    tu_ok(ev_log_seal(log));
    to = ev_log_size(log);
    struct ev_event other = {.type = "custom.other", .severity = EV_SEV_INFO, .data_json = "{}"};
    tu_ok(ev_log_append(log, &other, &index));

    tu_ok(evd_disk_survivors(log, from, to, &first, &count));
    assert_true(first_event > from); /* after the retention entry (and any seal the open owed) */
    assert_int_equal(first, first_event);
    assert_int_equal(count, 3);
    /* Nothing kept: to at from, or before it. */
    tu_ok(evd_disk_survivors(log, from, from, &first, &count));
    assert_int_equal(first, from);
    assert_int_equal(count, 0);
    /* to past the log's end: it stops there (the entry past the old to is an event). */
    tu_ok(evd_disk_survivors(log, from, UINT64_MAX, &first, &count));
    assert_int_equal(first, first_event);
    assert_int_equal(count, 4);
    tu_ok(ev_log_close(log));
}

static void test_reject(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    static struct answer bad, later;

    tu_create(f->dir, 0, f->v);
    rig_start(&g, f->dir, EV_DISK_FULL_REJECT, 0);
    /* As if this handle had preallocated and failed a fill: the reopen must not lose them. */
    pthread_mutex_lock(&g.d.log->mu);
    g.d.log->io.preallocated_bytes = 3u << 20;
    g.d.log->io.preallocation_failures = 1;
    g.d.log->io.preallocation_error = -EIO;
    pthread_mutex_unlock(&g.d.log->mu);
    g.d.log->inplace.syncs = 5; /* the committer's (idle): ev_log_io_stats() copies it */
    answer_init(&bad, 2, 7, EVD_SRC_HTTP);
    evi_io_fail_after(1, ENOSPC);
    tu_ok(evd_commit_submit(g.commit, &bad.s));
    assert_true(answered(&bad, 10000));
    evi_io_fail_after(0, 0);
    assert_int_equal(bad.rc, -ENOSPC);
    assert_int_equal(evd_commit_error(g.commit), 0); /* not sticky: it recovers */
    char why[160];
    evd_disk_describe(g.d.disk, why, sizeof(why));
    assert_non_null(strstr(why, "disk full: "));
    assert_non_null(strstr(why, " free of "));
    /* After the retry time it appends again by itself, through a reopened handle. */
    for (int i = 0; i < 100; i++) {
        answer_init(&later, 1, 8, EVD_SRC_HTTP);
        tu_ok(evd_commit_submit(g.commit, &later.s));
        assert_true(answered(&later, 10000));
        if (later.rc == 0) {
            break;
        }
        assert_int_equal(later.rc, -ENOSPC);
        answer_release(&later);
        usleep(10000);
    }
    assert_int_equal(later.rc, 0);
    /* /metrics' counters go on across the reopen (disk.c adds the closed handle's). */
    struct ev_log_io_stats io;
    pthread_rwlock_rdlock(&g.d.log_lock);
    evd_disk_io_stats(&g.d, &io);
    pthread_rwlock_unlock(&g.d.log_lock);
    assert_int_equal(io.preallocated_bytes, 3u << 20);
    assert_int_equal(io.preallocation_failures, 1);
    assert_int_equal(io.preallocation_error, -EIO);
    assert_true(io.inplace_syncs >= 5);
    rig_stop(&g);
    struct answer *one[1] = {&later};
    check_log(f->dir, one, 1, 0, f->v);
    answer_release(&bad);
    answer_release(&later);
}

/* What evd_disk_note_fills() writes to stderr, captured in a file under dir. */
static void note_fills_said(struct evd *d, uint64_t *said, const char *dir, char *out, size_t cap)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/stderr", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), saved = dup(STDERR_FILENO);
    assert_true(fd >= 0 && saved >= 0);
    (void)fflush(stderr);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    evd_disk_note_fills(d, said);
    (void)fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    (void)close(saved);
    ssize_t n = pread(fd, out, cap - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    (void)close(fd);
}

/* The failed fills are said once each, with the latest error; nothing when there is none new. */
static void test_note_fills(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    uint64_t said = 0;
    char out[512];

    tu_create(f->dir, 0, f->v);
    rig_start(&g, f->dir, EV_DISK_FULL_REJECT, 0);
    note_fills_said(&g.d, &said, f->root, out, sizeof(out));
    assert_string_equal(out, "");
    pthread_mutex_lock(&g.d.log->mu);
    g.d.log->io.preallocation_failures = 2;
    g.d.log->io.preallocation_error = -EIO;
    pthread_mutex_unlock(&g.d.log->mu);
    note_fills_said(&g.d, &said, f->root, out, sizeof(out));
    assert_string_equal(out, "evidentd: preallocation: 2 fill(s) failed (latest: Input/output "
                             "error); a segment whose fill failed grows with its records until "
                             "the next one\n");
    assert_int_equal(said, 2);
    note_fills_said(&g.d, &said, f->root, out, sizeof(out));
    assert_string_equal(out, "");
    pthread_mutex_lock(&g.d.log->mu);
    g.d.log->io.preallocation_failures = 3;
    g.d.log->io.preallocation_error = -ENOSPC;
    pthread_mutex_unlock(&g.d.log->mu);
    note_fills_said(&g.d, &said, f->root, out, sizeof(out));
    assert_string_equal(out, "evidentd: preallocation: 1 fill(s) failed (latest: No space left on "
                             "device); a segment whose fill failed grows with its records until "
                             "the next one\n");
    rig_stop(&g);
}

static void test_reserve_holds_producers_not_alerts(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    static struct answer producer, own;

    tu_create(f->dir, 0, f->v);
    rig_start(&g, f->dir, EV_DISK_FULL_BLOCK, 1024ull << 40); /* 1 PiB: always full */
    answer_init(&producer, 1, 9, EVD_SRC_UNIX);
    answer_init(&own, 1, 10, EVD_SRC_DAEMON);
    tu_ok(evd_commit_submit(g.commit, &producer.s));
    tu_ok(evd_commit_submit(g.commit, &own.s));
    assert_true(answered(&own, 10000));
    assert_int_equal(own.rc, 0);            /* the daemon's own events fit in the reserve */
    assert_false(answered(&producer, 300)); /* held: the queue fills, producers feel it */
    assert_int_equal(evd_disk_level(g.d.disk), EVD_DISK_FULL);
    pthread_rwlock_wrlock(&g.d.config_lock);
    g.d.config->disk.reserve = (struct ev_space){0}; /* space is back */
    pthread_rwlock_unlock(&g.d.config_lock);
    assert_true(answered(&producer, 10000));
    assert_int_equal(producer.rc, 0);
    assert_true(producer.first > own.first);
    rig_stop(&g);
    struct answer *both[2] = {&own, &producer};
    check_log(f->dir, both, 2, 0, f->v);
    answer_release(&producer);
    answer_release(&own);
}

/*
 * Producers held by the full disk (block) fill the queue to queue_max: that
 * is when alerts fire. The daemon's own event is not refused for the full
 * queue (a producer's is), goes in within the reserve, and the producers'
 * once space returns.
 */
static void test_reserve_with_the_queue_full(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    static struct answer held, late, own;

    tu_create(f->dir, 0, f->v);
    /* 1 PiB: always full; queue_max 4 = batch_max. */
    rig_start_with(&g, f->dir, EV_DISK_FULL_BLOCK, 1024ull << 40, 4, EV_SYNC_ALWAYS, 4);
    answer_init(&held, 4, 13, EVD_SRC_HTTP);
    answer_init(&late, 1, 14, EVD_SRC_HTTP);
    answer_init(&own, 1, 15, EVD_SRC_DAEMON);
    tu_ok(evd_commit_submit(g.commit, &held.s));
    assert_int_equal(evd_commit_submit(g.commit, &late.s), -EAGAIN); /* the queue is full */
    tu_ok(evd_commit_submit(g.commit, &own.s));
    assert_true(answered(&own, 10000));
    assert_int_equal(own.rc, 0);
    assert_false(answered(&held, 0));
    assert_int_equal(evd_disk_level(g.d.disk), EVD_DISK_FULL);
    pthread_rwlock_wrlock(&g.d.config_lock);
    g.d.config->disk.reserve = (struct ev_space){0}; /* space is back */
    pthread_rwlock_unlock(&g.d.config_lock);
    assert_true(answered(&held, 10000));
    assert_int_equal(held.rc, 0);
    assert_int_equal(atomic_load(&late.calls), 0); /* refused: never answered */
    rig_stop(&g);
    struct answer *both[2] = {&own, &held};
    check_log(f->dir, both, 2, 0, f->v);
    answer_release(&held);
    answer_release(&late);
    answer_release(&own);
}

/*
 * A daemon's own event submitted while the committer is between two rounds of
 * the disk gate (the disk full, a producer held, nothing else to do) goes in
 * at the next round. Its submitter's signal found no one waiting; the
 * committer used to sleep until the disk's next look, a second later.
 */
struct gap {
    struct evd_commit *c;
    struct answer *own;
    atomic_int fired;
    uint64_t waits_at_submit, waits_at_answer;
};
static struct gap gap;

static void submit_own_in_gap(void *arg)
{
    struct gap *h = arg;
    if (atomic_fetch_add(&h->fired, 1) != 0) {
        return;
    }
    h->waits_at_submit = evd_commit_gate_waits(h->c);
    tu_ok(evd_commit_submit(h->c, &h->own->s));
}

static void on_own_done(struct evd_submission *s, int rc, uint64_t first)
{
    gap.waits_at_answer = evd_commit_gate_waits(gap.c); /* the committer's thread */
    on_done(s, rc, first);
}

static void test_own_event_between_gate_rounds(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    static struct answer producer, own;

    tu_create(f->dir, 0, f->v);
    rig_start(&g, f->dir, EV_DISK_FULL_BLOCK, 1024ull << 40); /* 1 PiB: always full */
    answer_init(&producer, 1, 11, EVD_SRC_UNIX);
    answer_init(&own, 1, 12, EVD_SRC_DAEMON);
    own.s.done = on_own_done;
    gap = (struct gap){.c = g.commit, .own = &own};
    evd_commit_set_gate_hook(g.commit, submit_own_in_gap, &gap);
    tu_ok(evd_commit_submit(g.commit, &producer.s)); /* held: the gate finds nothing to do */
    assert_true(answered(&own, 10000));
    assert_int_equal(atomic_load(&gap.fired) >= 1, 1);
    assert_int_equal(own.rc, 0);
    assert_int_equal(gap.waits_at_answer, gap.waits_at_submit); /* not slept on */
    assert_false(answered(&producer, 0));
    pthread_rwlock_wrlock(&g.d.config_lock);
    g.d.config->disk.reserve = (struct ev_space){0}; /* space is back */
    pthread_rwlock_unlock(&g.d.config_lock);
    assert_true(answered(&producer, 10000));
    assert_int_equal(producer.rc, 0);
    rig_stop(&g);
    struct answer *both[2] = {&own, &producer};
    check_log(f->dir, both, 2, 0, f->v);
    answer_release(&producer);
    answer_release(&own);
}

static int teardown(void **state)
{
    evi_io_fail_after(0, 0);
    return tu_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_block_sweep, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_sweep_another_appender, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_batches_sweep, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_daemon_sweep, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_daemon_sealed_sweep, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_survivors_skip_own_entries, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_fills, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_holds_producers_not_alerts, tu_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reserve_with_the_queue_full, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_event_between_gate_rounds, tu_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
