/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's clock work (src/daemon/timers.c) against a real log, commit
 * queue, metrics and alert rules:
 *
 *   - self-verification passes on an intact log, and on a damaged one fails,
 *     counts the failure and raises the verification_failure alert, which is
 *     recorded with the failure's kind;
 *   - a self-verification under way when the daemon stops (directly, or on
 *     the timers' verifier thread that evd_stop joins) stops at its next
 *     look, counts nothing and raises no alert;
 *   - the periodic self-verification runs off the timer thread: while one is
 *     held, the timer thread still checks the disk, seals an ended epoch and
 *     signs checkpoints; one is never begun while another runs, and each
 *     pass is counted once;
 *   - free space under disk.space_left raises the disk_low alert, once per crossing;
 *   - a checkpoint requested through the committer covers every entry.
 */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>

#include <evident/config.h>
#include <evident/event.h>
#include <evident/policy.h>

#include "alert.h"
#include "commit.h"
#include "disk.h"
#include "metrics.h"
#include "timers.h"

struct recorded {
    pthread_mutex_t lock;
    char text[8192];
    int count;
};

static int record(void *ctx, int severity, const char *data_json)
{
    struct recorded *r = ctx;
    (void)severity;
    pthread_mutex_lock(&r->lock);
    (void)snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text), "%s\n", data_json);
    r->count++;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static bool wait_recorded(struct recorded *r, const char *what)
{
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&r->lock);
        bool found = strstr(r->text, what) != NULL;
        pthread_mutex_unlock(&r->lock);
        if (found) {
            return true;
        }
        usleep(1000);
    }
    return false;
}

struct rig {
    struct evd d;
    struct recorded rec;
    char dir[PATH_MAX];
};

static void rig_start(struct rig *g, const char *dir)
{
    struct ev_config *cfg = NULL;

    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->rec.lock, NULL);
    (void)snprintf(g->dir, sizeof(g->dir), "%s", dir);
    tu_ok(ev_config_defaults(&cfg));
    free(cfg->log.dir);
    cfg->log.dir = strdup(dir);
    /* 1 PiB: every disk is under space_left; nothing under the others. */
    cfg->disk.space_left = (struct ev_space){.bytes = 1024ull << 40};
    cfg->disk.admin_space_left = (struct ev_space){0};
    cfg->disk.reserve = (struct ev_space){0};
    cfg->alerting.rule_count = 2;
    cfg->alerting.rules[0] = (struct ev_alert_rule){.name = strdup("verify"),
                                                    .condition = EV_ALERT_VERIFICATION_FAILURE,
                                                    .type = strdup("*"),
                                                    .threshold = 1,
                                                    .window_ns = 60000000000ull};
    cfg->alerting.rules[1] = (struct ev_alert_rule){.name = strdup("disk"),
                                                    .condition = EV_ALERT_DISK_LOW,
                                                    .type = strdup("*"),
                                                    .threshold = 1,
                                                    .window_ns = 60000000000ull};
    g->d.config = cfg;
    (void)snprintf(g->d.log_dir, sizeof(g->d.log_dir), "%s", dir);
    pthread_rwlock_init(&g->d.config_lock, NULL);
    pthread_rwlock_init(&g->d.log_lock, NULL);
    pthread_mutex_init(&g->d.summary_lock, NULL);
    tu_ok(ev_policy_new(cfg, &g->d.policy));
    g->d.log = tu_open(dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    tu_ok(evd_metrics_new(&g->d.metrics));
    struct evd_alert_options ao = {
        .config = cfg, .metrics = g->d.metrics, .record = record, .record_ctx = &g->rec};
    tu_ok(evd_alerts_start(&ao, &g->d.alerts));
    tu_ok(evd_disk_new(&g->d, &(struct ev_open_options){.sync = EV_SYNC_NEVER}, &g->d.disk));
    struct evd_commit_options co = {.sync = EV_SYNC_ALWAYS,
                                    .batch_max = 64,
                                    .queue_max = 1024,
                                    .metrics = g->d.metrics,
                                    .alerts = g->d.alerts};
    tu_ok(evd_commit_start(g->d.log, &co, &g->d.commit));
}

static void rig_stop(struct rig *g)
{
    evd_commit_stop(g->d.commit);
    (void)ev_log_close(g->d.log);
    evd_alerts_stop(g->d.alerts);
    evd_disk_free(g->d.disk);
    evd_metrics_free(g->d.metrics);
    ev_policy_free(g->d.policy);
    ev_config_free(g->d.config);
    pthread_rwlock_destroy(&g->d.config_lock);
    pthread_rwlock_destroy(&g->d.log_lock);
    ev_summary_free(g->d.summary);
    pthread_mutex_destroy(&g->d.summary_lock);
    pthread_mutex_destroy(&g->rec.lock);
}

static void append_some(struct rig *g, int n)
{
    for (int i = 0; i < n; i++) {
        struct ev_prepared p;
        struct ev_event ev = {.type = "custom.timer",
                              .severity = EV_SEV_INFO,
                              .data_json = "{\"marker\":\"intact-entry\"}"};
        tu_ok(ev_event_prepare(NULL, &ev, &p));
        tu_ok(evd_commit_wait(g->d.commit, &p, 1, false, NULL));
        ev_prepared_release(&p);
    }
}

/* The name of the (only) segment file. */
static const char *first_segment(const char *dir)
{
    static char name[256];
    char path[PATH_MAX + 16];
    (void)snprintf(path, sizeof(path), "%s/segments", dir);
    DIR *d = opendir(path);
    struct dirent *e;
    assert_non_null(d);
    name[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".seg") != NULL) {
            (void)snprintf(name, sizeof(name), "%s", e->d_name);
        }
    }
    closedir(d);
    assert_true(name[0] != '\0');
    return name;
}

/* Changes one byte of the first "intact-entry" in the segments. */
static void damage(const char *dir)
{
    char seg[PATH_MAX + 64];
    (void)snprintf(seg, sizeof(seg), "%s/segments/%s", dir, first_segment(dir));
    size_t len = 0;
    uint8_t *data = tu_read(seg, &len);
    assert_non_null(data);
    uint8_t *at = memmem(data, len, "intact-entry", 12);
    assert_non_null(at);
    tu_write_at(seg, "X", 1, (off_t)(at - data));
    free(data);
}

static void test_self_verify(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    struct ev_verify_report rep;

    tu_create(f->dir, 0, NULL);
    rig_start(&g, f->dir);
    append_some(&g, 5);
    tu_ok(evd_checkpoint_now(&g.d));
    assert_int_equal(ev_log_info(g.d.log, &(struct ev_log_info){0}), 0);

    tu_ok(evd_self_verify(&g.d, &rep));
    assert_int_equal(rep.failure, EV_FAIL_NONE);
    assert_int_equal(rep.checkpoint_size, 5);
    assert_int_equal(atomic_load(&g.d.verification_failures), 0);

    damage(f->dir);
    assert_true(evd_self_verify(&g.d, &rep) < 0);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);
    assert_int_equal(atomic_load(&g.d.verification_failures), 1);
    assert_true(wait_recorded(&g.rec, "\"condition\":\"verification_failure\""));
    assert_true(wait_recorded(&g.rec, "record damaged"));

    char *text = NULL;
    size_t len = 0;
    tu_ok(evd_metrics_render(g.d.metrics, NULL, &text, &len));
    assert_non_null(strstr(text, "evident_verification_failures_total 1\n"));
    assert_non_null(strstr(text, "evident_verification_runs_total 2\n"));
    free(text);
    rig_stop(&g);
}

/*
 * A log of n entries and a checkpoint over them, written before the rig opens
 * it; seal_interval_ns 0: the default epoch length.
 */
static uint64_t make_long_log(const char *dir, unsigned n, uint64_t seal_interval_ns)
{
    tu_create(dir, seal_interval_ns, NULL);
    struct ev_log *log = tu_open(dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    tu_append_n(log, n, "long");
    tu_ok(ev_log_checkpoint(log));
    uint64_t size = ev_log_size(log);
    tu_ok(ev_log_close(log));
    return size;
}

/*
 * Holds a self-verification once it has checked its first batch of records
 * (evd_self_verify_set_hook), until the daemon is stopping: a stop that comes
 * from another thread while a whole-log verification is under way.
 */
struct held_verify {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct evd *d;
    int calls;
    bool reached;
    uint64_t entries; /* checked when it was held */
};

static void hold_verification(void *arg, uint64_t entries)
{
    struct held_verify *h = arg;
    pthread_mutex_lock(&h->lock);
    h->calls++;
    if (entries > 0 && !h->reached) {
        h->reached = true;
        h->entries = entries;
        pthread_cond_broadcast(&h->cond);
        while (!atomic_load(&h->d->stopping)) {
            pthread_cond_wait(&h->cond, &h->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* Waits (10 s at most) for the verification to be held; then stops the daemon as evd_stop does. */
static void stop_when_held(struct held_verify *h)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&h->lock);
    while (!h->reached && pthread_cond_timedwait(&h->cond, &h->lock, &until) == 0) {
    }
    bool reached = h->reached;
    atomic_store(&h->d->stopping, true); /* evd_stop's first step */
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    assert_true(reached);
}

/* Neither a pass nor a failure: no run, no failure, no alert. */
static void assert_nothing_counted(struct rig *g)
{
    char *text = NULL;
    size_t len = 0;
    struct evd_alert_stats st;
    tu_ok(evd_metrics_render(g->d.metrics, NULL, &text, &len));
    assert_non_null(strstr(text, "\nevident_verification_runs_total 0\n"));
    assert_non_null(strstr(text, "\nevident_verification_failures_total 0\n"));
    assert_non_null(strstr(text, "\nevident_alerts_raised_total 0\n"));
    free(text);
    assert_int_equal(atomic_load(&g->d.verification_failures), 0);
    evd_alerts_stats(g->d.alerts, &st);
    assert_int_equal(st.raised, 0);
    pthread_mutex_lock(&g->rec.lock);
    assert_int_equal(g->rec.count, 0);
    pthread_mutex_unlock(&g->rec.lock);
}

struct verify_run {
    struct evd *d;
    int rc;
    struct ev_verify_report rep;
};

static void *verify_thread(void *arg)
{
    struct verify_run *v = arg;
    v->rc = evd_self_verify(v->d, &v->rep);
    return NULL;
}

/*
 * A self-verification under way when the daemon starts stopping (SIGTERM)
 * stops at its next look, with -ECANCELED: it checked only what it had
 * checked when the stop came, counts neither a run nor a failure and raises
 * no alert.
 */
static void test_self_verify_stops_when_stopping(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    struct held_verify h = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t t;

    uint64_t total = make_long_log(f->dir, 10000, 0);
    rig_start(&g, f->dir);
    h.d = &g.d; /* the rig clears g */
    struct verify_run v = {.d = &g.d};
    evd_self_verify_set_hook(hold_verification, &h);
    assert_int_equal(pthread_create(&t, NULL, verify_thread, &v), 0);
    stop_when_held(&h);
    pthread_join(t, NULL);
    evd_self_verify_set_hook(NULL, NULL);

    assert_int_equal(v.rc, -ECANCELED);
    assert_int_equal(v.rep.failure, EV_FAIL_NONE);
    assert_true(h.entries < total);
    assert_int_equal(v.rep.entries, h.entries); /* not a record more */
    assert_int_equal(h.calls, 2);               /* 0 entries: go on; then held, and stopped */
    assert_nothing_counted(&g);
    rig_stop(&g);
}

/*
 * The same on the timers' verifier thread, stopped as evd_stop() stops it:
 * the periodic verification is held, the daemon starts stopping, and
 * evd_timers_stop() joins a thread that stopped verifying at its next look.
 */
static void test_timers_stop_during_self_verify(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    struct held_verify h = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct evd_timers *timers = NULL;

    (void)make_long_log(f->dir, 10000, 0);
    rig_start(&g, f->dir);
    h.d = &g.d; /* the rig clears g */
    pthread_rwlock_wrlock(&g.d.config_lock);
    g.d.config->integrity.self_verify_interval_ns = 1000000000; /* the first tick verifies */
    g.d.config->disk.space_left = (struct ev_space){0};         /* no disk_low alert */
    pthread_rwlock_unlock(&g.d.config_lock);
    evd_self_verify_set_hook(hold_verification, &h);
    tu_ok(evd_timers_start(&g.d, &timers));
    stop_when_held(&h);
    evd_timers_stop(timers);
    evd_self_verify_set_hook(NULL, NULL);

    assert_int_equal(h.calls, 2); /* 0 entries: go on; then held, and stopped */
    assert_nothing_counted(&g);
    rig_stop(&g);
}

/*
 * Holds periodic self-verifications (evd_self_verify_set_hook): the first
 * once it has checked its first batch, until the test releases it; every
 * later one likewise, until the daemon is stopping. Counts the runs begun
 * (a run's first look comes with 0 entries checked) and whether one began
 * while another was held.
 */
struct verify_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct evd *d;
    int begun;    /* runs that made their first look */
    int held;     /* runs that reached their first batch (and were held there) */
    bool holding; /* a run is held now */
    bool overlap; /* a run began while another was held */
    bool release_first;
};

static void gate_verification(void *arg, uint64_t entries)
{
    struct verify_gate *g = arg;
    pthread_mutex_lock(&g->lock);
    if (entries == 0) {
        g->begun++;
        g->overlap = g->overlap || g->holding;
    } else if (g->held < g->begun) { /* this run's first batch */
        int run = ++g->held;
        g->holding = true;
        pthread_cond_broadcast(&g->cond);
        while (!atomic_load(&g->d->stopping) && !(run == 1 && g->release_first)) {
            pthread_cond_wait(&g->cond, &g->lock);
        }
        g->holding = false;
    }
    pthread_mutex_unlock(&g->lock);
}

/* Waits (10 s at most) until n runs were held. */
static bool gate_wait_held(struct verify_gate *g, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&g->lock);
    while (g->held < n && pthread_cond_timedwait(&g->cond, &g->lock, &until) == 0) {
    }
    bool reached = g->held >= n;
    pthread_mutex_unlock(&g->lock);
    return reached;
}

static uint64_t space_left_crossings(struct rig *g)
{
    struct evd_disk_stats st;
    evd_disk_stats(g->d.disk, &st);
    return st.space_left_total;
}

static bool verification_runs_are(struct rig *g, const char *runs, const char *failures)
{
    char *text = NULL;
    size_t len = 0;
    char want_runs[64], want_failures[64];
    (void)snprintf(want_runs, sizeof(want_runs), "\nevident_verification_runs_total %s\n", runs);
    (void)snprintf(want_failures, sizeof(want_failures),
                   "\nevident_verification_failures_total %s\n", failures);
    tu_ok(evd_metrics_render(g->d.metrics, NULL, &text, &len));
    bool found = strstr(text, want_runs) != NULL && strstr(text, want_failures) != NULL;
    free(text);
    return found;
}

/* Polls what(g) for 10 s at most. */
static bool eventually(struct rig *g, bool (*what)(struct rig *g, void *arg), void *arg)
{
    for (int i = 0; i < 10000; i++) {
        if (what(g, arg)) {
            return true;
        }
        usleep(1000);
    }
    return false;
}

static bool disk_checked(struct rig *g, void *arg)
{
    (void)arg;
    return space_left_crossings(g) > 0;
}

static bool sealed_after(struct rig *g, void *arg)
{
    return atomic_load(&g->d.last_seal_ns) > *(int64_t *)arg;
}

static bool checkpoint_grew(struct rig *g, void *arg)
{
    return atomic_load(&g->d.checkpoint_size) > *(uint64_t *)arg;
}

static bool one_run_passed(struct rig *g, void *arg)
{
    (void)arg;
    return verification_runs_are(g, "1", "0");
}

/*
 * A periodic self-verification runs off the timer thread: while one is held
 * in its first batch, the timer thread still checks the disk (a crossing
 * under disk.space_left is counted), seals the epoch that ended (1 s epochs)
 * and signs a checkpoint over an entry appended meanwhile. The verifications
 * due meanwhile (every second) are skipped, not run beside it. Released, it
 * is counted once, as a pass; the next one begins only then, and stopping the
 * timers while that one is held counts nothing more.
 */
static void test_timers_go_on_during_self_verify(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    struct verify_gate gate = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct evd_timers *timers = NULL;
    bool disk = false, sealed = false, checkpointed = false, passed = false, second = false;
    int begun_while_held = 0;

    (void)make_long_log(f->dir, 10000, 1000000000);
    rig_start(&g, f->dir); /* disk.space_left 1 PiB: every disk check counts a crossing */
    gate.d = &g.d;         /* the rig clears g */
    pthread_rwlock_wrlock(&g.d.config_lock);
    g.d.config->integrity.self_verify_interval_ns = 1000000000; /* the first tick verifies */
    g.d.config->integrity.checkpoint_interval_ns = 1000000000;
    pthread_rwlock_unlock(&g.d.config_lock);
    evd_self_verify_set_hook(gate_verification, &gate);
    tu_ok(evd_timers_start(&g.d, &timers));

    bool held = gate_wait_held(&gate, 1);
    if (held) {
        int64_t seal_before = atomic_load(&g.d.last_seal_ns);
        disk = eventually(&g, disk_checked, NULL);
        sealed = disk && eventually(&g, sealed_after, &seal_before);
        if (sealed) {
            uint64_t checkpoint_before = atomic_load(&g.d.checkpoint_size);
            append_some(&g, 1); /* through the committer, which seals on its own */
            checkpointed = eventually(&g, checkpoint_grew, &checkpoint_before);
        }
        pthread_mutex_lock(&gate.lock);
        begun_while_held = gate.begun;
        gate.release_first = true;
        pthread_cond_broadcast(&gate.cond);
        pthread_mutex_unlock(&gate.lock);
        passed = eventually(&g, one_run_passed, NULL);
        second = passed && gate_wait_held(&gate, 2);
    }
    pthread_mutex_lock(&gate.lock);
    atomic_store(&g.d.stopping, true); /* evd_stop's first step */
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
    evd_timers_stop(timers);
    evd_self_verify_set_hook(NULL, NULL);

    assert_true(held);
    assert_true(disk);         /* checked while the verification was held */
    assert_true(sealed);       /* the same */
    assert_true(checkpointed); /* the same */
    assert_int_equal(begun_while_held, 1);
    assert_false(gate.overlap);
    assert_true(passed);
    assert_true(second);
    assert_int_equal(gate.begun, 2); /* the held second run was stopped, not restarted */
    assert_true(verification_runs_are(&g, "1", "0"));
    assert_int_equal(atomic_load(&g.d.verification_failures), 0);
    assert_int_equal(space_left_crossings(&g), 1);
    pthread_mutex_lock(&g.rec.lock);
    assert_null(strstr(g.rec.text, "verification_failure"));
    pthread_mutex_unlock(&g.rec.lock);
    rig_stop(&g);
}

static void test_disk_low(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;

    tu_create(f->dir, 0, NULL);
    rig_start(&g, f->dir);
    evd_check_disk(&g.d);
    assert_true(wait_recorded(&g.rec, "\"condition\":\"disk_low\""));
    assert_true(wait_recorded(&g.rec, "free on the log's file system, under disk.space_left"));
    /* Once per crossing: the disk stays low, no second crossing is counted. */
    evd_check_disk(&g.d);
    evd_check_disk(&g.d);
    struct evd_disk_stats st;
    evd_disk_stats(g.d.disk, &st);
    assert_int_equal(st.level, EVD_DISK_SPACE_LEFT);
    assert_int_equal(st.space_left_total, 1);
    assert_int_equal(st.admin_left_total, 0);
    assert_int_equal(st.full_total, 0);
    rig_stop(&g);
}

static void test_checkpoint_now(void **state)
{
    struct tu_fixture *f = *state;
    struct rig g;
    struct ev_log_info info;

    tu_create(f->dir, 0, NULL);
    rig_start(&g, f->dir);
    append_some(&g, 3);
    tu_ok(evd_checkpoint_now(&g.d));
    tu_ok(ev_log_info(g.d.log, &info));
    assert_int_equal(info.checkpoint_size, 3);
    assert_true(atomic_load(&g.d.last_checkpoint_ns) > 0);
    rig_stop(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_self_verify, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_self_verify_stops_when_stopping, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_timers_stop_during_self_verify, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_timers_go_on_during_self_verify, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_disk_low, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_now, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
