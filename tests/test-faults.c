/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Failing writes (STYLE.md "Fault injection"): evi_io_fail_after (store.h)
 * makes the k-th following pwrite/fdatasync/fsync and every one after it fail
 * with ENOSPC or EIO. For every k up to past the last I/O call of a scenario
 * that appends, rotates segments, seals, batches and checkpoints:
 *
 *   - every call returns 0 or exactly the injected error, never crashes;
 *   - once a call has failed, the handle stays failed: the disk heals at
 *     once, and every later append or seal on the handle still fails with
 *     the same error (log.c: "reopen the log to recover"; test_faults_sticky);
 *   - after the disk heals, the log reopens, every acknowledged entry is
 *     there with the same bytes, and verification with V passes (an open
 *     last epoch is fine).
 *
 * The same for the writer's open (recovery writes) and for creating a log.
 */
#include "testutil.h"

#include "store.h"

#define K_MAX 1000

struct acked {
    uint64_t index;
    char *bytes;
    size_t len;
};

struct run {
    struct ev_log *log;
    int err;
    long k;
    bool failed;                    /* a call returned the injected error */
    const char *failed_at;          /* which call */
    const char *not_sticky;         /* a writing call that worked after the failure */
    struct acked acked[64];
    size_t acked_count;
};

static int teardown(void **state)
{
    evi_io_fail_after(0, 0);
    return tu_teardown(state);
}

/*
 * Checks a call's result; on success records the entries it acknowledged.
 * At the first failure the disk heals at once (evi_io_fail_after(0, 0)), so
 * that what fails afterwards fails because the handle is failed, not because
 * the fault is still there. writes: the call always writes when it works.
 */
static void outcome(struct run *run, const char *what, bool writes, int r, uint64_t first,
                    size_t count)
{
    if (run->failed) {
        /* Sticky: with the disk healthy again the handle still refuses to write. */
        assert_true(r == 0 || r == -run->err);
        if (r == 0 && writes && run->not_sticky == NULL) {
            run->not_sticky = what;
        }
        if (r != 0) {
            return;
        }
        /* It worked all the same: what it acknowledged must survive like the rest. */
    } else if (r != 0) {
        evi_io_fail_after(0, 0);
        if (r != -run->err) {
            fail_msg("k=%ld %s: %d (%s), expected the injected %d: %s", run->k, what, r,
                     ev_strerror(r), -run->err, ev_last_error());
        }
        run->failed = true;
        run->failed_at = what;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        struct ev_entry *e = NULL;
        struct acked *a = &run->acked[run->acked_count++];
        assert_true(run->acked_count <= 64);
        tu_ok(ev_log_entry(run->log, first + i, &e));
        a->index = first + i;
        a->len = e->len;
        a->bytes = e->bytes;
        e->bytes = NULL;
        ev_entry_free(e);
    }
}

static void append_one(struct run *run, const char *what, size_t pad)
{
    char *data = malloc(pad + 64);
    uint64_t index = 0;
    assert_non_null(data);
    (void)snprintf(data, pad + 64, "{\"what\":\"%s\",\"pad\":\"%0*d\"}", what, (int)pad, 0);
    struct ev_event ev = {.type = "fault", .severity = EV_SEV_INFO, .data_json = data};
    int r = ev_log_append(run->log, &ev, &index);
    free(data);
    outcome(run, what, true, r, index, 1);
}

/* The scenario: every kind of write the writer makes. Returns whether any call failed. */
static bool scenario(struct run *run)
{
    uint64_t first = 0;
    int r;

    append_one(run, "small-1", 10);
    append_one(run, "small-2", 10);
    /* Records of ~20 KiB in 64 KiB segments: rotations. */
    for (int i = 0; i < 5; i++) {
        append_one(run, "big", 20000);
    }
    r = ev_log_seal(run->log);
    outcome(run, "seal", true, r, 0, 0);
    struct ev_event batch[3] = {
        {.type = "fault", .severity = EV_SEV_NOTICE, .data_json = "{\"b\":0}"},
        {.type = "fault", .severity = EV_SEV_NOTICE, .data_json = "{\"b\":1}"},
        {.type = "fault", .severity = EV_SEV_NOTICE, .data_json = "{\"b\":2}"},
    };
    r = ev_log_append_batch(run->log, batch, 3, &first, NULL);
    outcome(run, "batch", true, r, first, 3);
    r = ev_log_checkpoint(run->log);
    outcome(run, "checkpoint", false, r, 0, 0);
    append_one(run, "after-checkpoint", 10);
    r = ev_log_sync(run->log);
    outcome(run, "sync", false, r, 0, 0);
    return run->failed;
}

/* The disk has healed: reopen, find every acknowledged entry, verify. */
static void check_after(struct tu_fixture *f, struct run *run)
{
    struct ev_log *log = NULL;
    int r = ev_log_open(f->dir, NULL, &log);
    if (r != 0) {
        fail_msg("k=%ld err=%d: reopen failed: %d (%s): %s", run->k, run->err, r,
                 ev_strerror(r), ev_last_error());
    }
    for (size_t i = 0; i < run->acked_count; i++) {
        struct acked *a = &run->acked[i];
        struct ev_entry *e = NULL;
        r = ev_log_entry(log, a->index, &e);
        if (r != 0) {
            fail_msg("k=%ld err=%d: acknowledged entry %" PRIu64 " lost: %d (%s)", run->k,
                     run->err, a->index, r, ev_strerror(r));
        }
        assert_int_equal(e->len, a->len);
        assert_memory_equal(e->bytes, a->bytes, a->len);
        ev_entry_free(e);
    }
    /* It goes on working. */
    tu_append_n(log, 1, "healed");
    tu_ok(ev_log_close(log));

    struct ev_verify_options vo = {.verification_key = f->v, .threads = 1};
    struct ev_verify_report rep;
    r = ev_verify_dir(f->dir, &vo, &rep);
    if (r != 0) {
        fail_msg("k=%ld err=%d: verify: %d (%s): %s at entry %" PRIu64 ": %s", run->k, run->err,
                 r, ev_strerror(r), ev_failure_name(rep.failure), rep.entry, rep.detail);
    }
}

static void run_free(struct run *run)
{
    for (size_t i = 0; i < run->acked_count; i++) {
        free(run->acked[i].bytes);
    }
    run->acked_count = 0;
}

static void fault_sweep(struct tu_fixture *f, int err, bool check_sticky)
{
    char not_sticky[1024] = "";
    size_t used = 0;
    long k;

    for (k = 1; k < K_MAX; k++) {
        struct run run = {.err = err, .k = k};
        struct ev_open_options o = {.segment_bytes = 64 * 1024};

        tu_rm_rf(f->dir);
        tu_create(f->dir, 0, f->v);
        run.log = tu_open(f->dir, &o);
        evi_io_fail_after(k, err);
        bool failed = scenario(&run);
        evi_io_fail_after(0, 0);
        int r = ev_log_close(run.log);
        assert_true(r == 0 || (failed && r == -err));
        check_after(f, &run);
        run_free(&run);
        if (run.not_sticky != NULL && used < sizeof(not_sticky) - 100) {
            used += (size_t)snprintf(not_sticky + used, sizeof(not_sticky) - used,
                                     " k=%ld (%s failed, then %s worked);", k, run.failed_at,
                                     run.not_sticky);
        }
        if (!failed) {
            break; /* k is past the scenario's last I/O call: all covered */
        }
    }
    assert_true(k < K_MAX);
    assert_true(k > 40); /* the scenario does make that many writes and syncs */
    if (check_sticky && not_sticky[0] != '\0') {
        fail_msg("err=%d: failures that did not stick to the handle:%s", err, not_sticky);
    }
}

static void test_faults_enospc(void **state)
{
    fault_sweep(*state, ENOSPC, false);
}

static void test_faults_eio(void **state)
{
    fault_sweep(*state, EIO, false);
}

/*
 * Every failure sticks to the handle. Known bug: a failed segment creation
 * (rotate_if_full_locked) or checkpoint write (checkpoint_locked, also the
 * one after a seal) in src/lib/log.c returns the error without setting
 * log->failed, so the next append on the handle works. (The data stays safe:
 * test_faults_* pass; it is the documented contract that is not kept.)
 */
static void test_faults_sticky(void **state)
{

    fault_sweep(*state, ENOSPC, true);
}

/*
 * The writer's open under failing writes, with work for recovery to do
 * (a stale keystate, a torn tail, missing derived files) and epochs to seal:
 * it opens or returns the injected error, and after the disk heals the log
 * opens and verifies with every entry in place.
 */
static void open_sweep(struct tu_fixture *f, int err)
{
    long k;

    for (k = 1; k < K_MAX; k++) {
        char ks[PATH_MAX], seg[PATH_MAX], path[PATH_MAX];
        uint8_t junk[99];
        size_t old_len;

        tu_rm_rf(f->dir);
        tu_create(f->dir, 0, f->v);
        struct ev_log *log = tu_open(f->dir, NULL);
        tu_append_n(log, 5, "a");
        tu_ok(ev_log_close(log));
        uint8_t *old = tu_read(tu_path(ks, f->dir, "keystate"), &old_len);
        log = tu_open(f->dir, NULL);
        tu_append_n(log, 5, "b");
        tu_ok(ev_log_close(log));
        tu_write(ks, old, old_len);
        free(old);
        memset(junk, 0xee, sizeof(junk));
        tu_write_at(tu_last_segment(f->dir, seg), junk, sizeof(junk), -1);
        assert_int_equal(unlink(tu_path(path, f->dir, "hashes")), 0);

        evi_io_fail_after(k, err);
        log = NULL;
        int r = ev_log_open(f->dir, NULL, &log);
        bool failed = r != 0;
        if (failed) {
            if (r != -err) {
                fail_msg("k=%ld open: %d (%s), expected %d: %s", k, r, ev_strerror(r), -err,
                         ev_last_error());
            }
            assert_null(log);
        } else {
            r = ev_log_close(log);
            failed = r != 0;
            assert_true(r == 0 || r == -err);
        }
        evi_io_fail_after(0, 0);
        log = tu_open(f->dir, NULL);
        assert_int_equal(ev_log_size(log), 10);
        tu_ok(ev_log_close(log));
        struct ev_verify_report rep = tu_verify(f->dir, f->v);
        assert_int_equal(rep.entries, 10);
        if (!failed) {
            break;
        }
    }
    assert_true(k < K_MAX);
}

static void test_open_faults(void **state)
{
    open_sweep(*state, ENOSPC);
    open_sweep(*state, EIO);
}

/*
 * ev_log_create under failing writes returns the injected error (or 0), and a
 * failed create leaves a directory in which creating again succeeds once the
 * disk has healed. Known bug: ev_log_create (src/lib/log.c) neither removes
 * what it made when it fails nor accepts a directory without evident.meta
 * that holds a leftover signing.key, keystate or segments/: it returns
 * -EEXIST, so a create that failed half-way cannot be retried without
 * removing files by hand.
 */
static void test_create_faults(void **state)
{
    struct tu_fixture *f = *state;
    long k;


    for (k = 1; k < K_MAX; k++) {
        uint8_t v[EV_VERIFICATION_KEY_BYTES];
        struct ev_create_options o = {.origin = TU_ORIGIN};

        tu_rm_rf(f->dir);
        evi_io_fail_after(k, ENOSPC);
        int r = ev_log_create(f->dir, &o, v);
        evi_io_fail_after(0, 0);
        if (r == 0) {
            break;
        }
        assert_int_equal(r, -ENOSPC);
        r = ev_log_create(f->dir, &o, f->v);
        if (r != 0) {
            fail_msg("k=%ld: creating again after a failed create: %d (%s): %s", k, r,
                     ev_strerror(r), ev_last_error());
        }
        struct ev_log *log = tu_open(f->dir, NULL);
        tu_append_n(log, 1, "x");
        tu_ok(ev_log_close(log));
        tu_verify(f->dir, f->v);
    }
    assert_true(k < K_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_faults_enospc, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_eio, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_sticky, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_faults, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_faults, tu_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
