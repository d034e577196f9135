/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A full disk at every step (issue 5, "Full disks"): evi_io_fail_after(k,
 * ENOSPC) makes the k-th pwrite/fdatasync/fsync from now on fail with ENOSPC,
 * for every k up to past the last I/O call of a scenario that appends
 * records of ~20 KiB into 64 KiB segments (a rotation, a new segment file,
 * every third record), compresses each closed segment (a .seg.zst.tmp, its
 * fsync, rename, unlink of the .seg) on the writer's background thread, seals
 * and signs checkpoints. test-faults.c sweeps the same without compression;
 * test-compress.c sweeps the compressor alone. Here they run together, as in
 * evidentd with storage.compression: zstd.
 *
 * For every k, with the disk still "full" (before anything reopens the log):
 *   - every call returned 0 or -ENOSPC (never another error, never a crash);
 *   - a reader (EV_OPEN_READONLY, no recovery) sees only whole entries: every
 *     index below its size reads, and every acknowledged one it covers has the
 *     bytes that were acknowledged;
 * and once the disk has room again:
 *   - the writer reopens (recovery cuts what was never acknowledged), every
 *     acknowledged entry is there with the same bytes, no .zst.tmp is left
 *     once the compressor has run, the log takes new entries, and it verifies
 *     with the verification key.
 */
#include "testutil.h"

#include <evident/config.h>

#include "log-internal.h"
#include "store.h"

#define K_MAX 1500
#define ACK_MAX 64

struct acked {
    uint64_t index;
    char *bytes;
    size_t len;
};

struct run {
    struct ev_log *log;
    long k;
    bool failed;   /* the handle failed */
    bool injected; /* a call failed (the handle, or the compressor) */
    const char *failed_at;
    struct acked acked[ACK_MAX];
    size_t acked_count;
};

static int teardown(void **state)
{
    evi_io_fail_after(0, 0);
    return tu_teardown(state);
}

/*
 * Checks a call's result. At the first failure the disk heals at once, so
 * that what fails afterwards fails because the handle is failed (log.h: every
 * write failure sticks until the log is reopened), which writes checks.
 */
static void check_rc(struct run *run, const char *what, bool writes, int r)
{
    if (r != 0 && r != -ENOSPC) {
        evi_io_fail_after(0, 0);
        fail_msg("k=%ld %s: %d (%s), expected 0 or ENOSPC: %s", run->k, what, r, ev_strerror(r),
                 ev_last_error());
    }
    if (r != 0) {
        run->injected = true;
    }
    if (r != 0 && !run->failed) {
        evi_io_fail_after(0, 0);
        run->failed = true;
        run->failed_at = what;
    } else if (r == 0 && run->failed && writes) {
        fail_msg("k=%ld %s worked on a handle that had failed (at %s)", run->k, what,
                 run->failed_at);
    }
}

static void remember(struct run *run, uint64_t index)
{
    struct ev_entry *e = NULL;
    assert_true(run->acked_count < ACK_MAX);
    /* Reading may write nothing: the injected fault does not apply to it. */
    tu_ok(ev_log_entry(run->log, index, &e));
    struct acked *a = &run->acked[run->acked_count++];
    a->index = index;
    a->len = e->len;
    a->bytes = e->bytes;
    e->bytes = NULL;
    ev_entry_free(e);
}

static void append_one(struct run *run, const char *what, size_t pad)
{
    char *data = malloc(pad + 64);
    uint64_t index = 0;
    assert_non_null(data);
    (void)snprintf(data, pad + 64, "{\"what\":\"%s\",\"pad\":\"%0*d\"}", what, (int)pad, 0);
    struct ev_event ev = {.type = "disk", .severity = EV_SEV_INFO, .data_json = data};
    int r = ev_log_append(run->log, &ev, &index);
    free(data);
    check_rc(run, what, true, r);
    if (r == 0) {
        remember(run, index);
    }
}

/* Rotations, compression, seals, a batch, a checkpoint; every call, failed or not. */
static void scenario(struct run *run)
{
    for (int i = 0; i < 10; i++) {
        append_one(run, "big", 20000);
        if (i % 3 == 2) {
            /* The closed segments compress now, between appends (the writer's thread). */
            bool failed = run->failed;
            int r = evi_log_compress_wait(run->log);
            check_rc(run, "compress", false, r);
            if (r != 0 && !failed) {
                /* A failed compression does not fail the handle: appends go on. */
                run->failed = false;
                append_one(run, "after-compress-failure", 10);
            }
        }
    }
    check_rc(run, "seal", true, ev_log_seal(run->log));
    {
        struct ev_event batch[3] = {
            {.type = "disk", .severity = EV_SEV_NOTICE, .data_json = "{\"b\":0}"},
            {.type = "disk", .severity = EV_SEV_NOTICE, .data_json = "{\"b\":1}"},
            {.type = "disk", .severity = EV_SEV_NOTICE, .data_json = "{\"b\":2}"},
        };
        uint64_t first = 0;
        int r = ev_log_append_batch(run->log, batch, 3, &first, NULL);
        check_rc(run, "batch", true, r);
        for (size_t i = 0; r == 0 && i < 3; i++) {
            remember(run, first + i);
        }
    }
    check_rc(run, "checkpoint", false, ev_log_checkpoint(run->log));
    append_one(run, "after-checkpoint", 10);
    if (!run->failed) {
        check_rc(run, "compress-last", false, evi_log_compress_wait(run->log));
    }
}

static void assert_acked(struct run *run, struct ev_log *log, bool only_below_size)
{
    uint64_t size = ev_log_size(log);
    for (size_t i = 0; i < run->acked_count; i++) {
        struct acked *a = &run->acked[i];
        struct ev_entry *e = NULL;
        if (only_below_size && a->index >= size) {
            continue; /* a reader without recovery may see a prefix */
        }
        int r = ev_log_entry(log, a->index, &e);
        if (r != 0) {
            fail_msg("k=%ld: acknowledged entry %" PRIu64 " unreadable: %d (%s)", run->k, a->index,
                     r, ev_strerror(r));
        }
        assert_int_equal(e->len, a->len);
        assert_memory_equal(e->bytes, a->bytes, a->len);
        ev_entry_free(e);
    }
}

/* A reader of the full disk's log, before anything recovers it: whole entries only. */
static void check_reader(const char *dir, struct run *run)
{
    struct ev_log *reader = NULL;
    int r = ev_log_open(dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY}, &reader);
    if (r != 0) {
        fail_msg("k=%ld: a reader cannot open the full disk's log: %d (%s): %s", run->k, r,
                 ev_strerror(r), ev_last_error());
    }
    uint64_t size = ev_log_size(reader);
    for (uint64_t i = 0; i < size; i++) {
        struct ev_entry *e = NULL;
        r = ev_log_entry(reader, i, &e);
        if (r != 0) {
            fail_msg("k=%ld: the reader's entry %" PRIu64 " of %" PRIu64 " is not whole: %d (%s)",
                     run->k, i, size, r, ev_strerror(r));
        }
        ev_entry_free(e);
    }
    assert_acked(run, reader, true);
    tu_ok(ev_log_close(reader));
}

static int count_tmp(const char *dir)
{
    char path[PATH_MAX];
    DIR *d = opendir(tu_path(path, dir, "segments"));
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += strstr(e->d_name, ".tmp") != NULL;
    }
    (void)closedir(d);
    return n;
}

static void check_healed(struct tu_fixture *f, struct run *run, const struct ev_open_options *o)
{
    struct ev_log *log = NULL;
    int r = ev_log_open(f->dir, o, &log);
    if (r != 0) {
        fail_msg("k=%ld: reopen after the disk has room again: %d (%s): %s", run->k, r,
                 ev_strerror(r), ev_last_error());
    }
    assert_acked(run, log, false);
    tu_ok(evi_log_compress_wait(log));
    assert_int_equal(count_tmp(f->dir), 0);
    tu_append_n(log, 1, "healed");
    tu_ok(ev_log_close(log));
    struct ev_verify_report rep = tu_verify(f->dir, f->v);
    assert_true(rep.entries >= run->acked_count + 1);
}

static void test_enospc_append_rotate_compress(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_open_options o = {.segment_bytes = 64 * 1024, .compression = EV_COMPRESSION_ZSTD};
    long k;
    long failures = 0;

    for (k = 1; k < K_MAX; k++) {
        struct run run = {.k = k};
        tu_rm_rf(f->dir);
        tu_create(f->dir, 0, f->v);
        run.log = tu_open(f->dir, &o);
        evi_io_fail_after(k, ENOSPC);
        scenario(&run);
        bool any_failed = run.injected || evi_log_compress_wait(run.log) != 0;
        /* Before anything recovers the log: what a reader sees now. */
        check_reader(f->dir, &run);
        int r = ev_log_close(run.log);
        assert_true(r == 0 || r == -ENOSPC);
        any_failed = any_failed || r != 0;
        evi_io_fail_after(0, 0);
        check_healed(f, &run, &o);
        for (size_t i = 0; i < run.acked_count; i++) {
            free(run.acked[i].bytes);
        }
        if (!any_failed) {
            break; /* k is past the scenario's last I/O call */
        }
        failures++;
    }
    print_message("ENOSPC at each of %ld I/O calls\n", failures);
    assert_true(k < K_MAX);
    /* Rotations, compressions, seals and checkpoints each take several calls. */
    assert_true(failures > 60);
}

/* The disk fills while a writer's open seals epochs and repairs: it opens or says ENOSPC. */
static void test_enospc_open_with_compression(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_open_options o = {.segment_bytes = 64 * 1024, .compression = EV_COMPRESSION_ZSTD};
    struct ev_open_options plain = {.segment_bytes = 64 * 1024};
    long k;

    for (k = 1; k < K_MAX; k++) {
        tu_rm_rf(f->dir);
        tu_create(f->dir, 0, f->v);
        struct ev_log *log = tu_open(f->dir, &plain);
        for (int i = 0; i < 4; i++) {
            char data[20100];
            (void)snprintf(data, sizeof(data), "{\"pad\":\"%020000d\"}", i);
            tu_ok(ev_log_append(
                log, &(struct ev_event){.type = "disk", .severity = EV_SEV_INFO, .data_json = data},
                NULL));
        }
        tu_ok(ev_log_close(log));
        evi_io_fail_after(k, ENOSPC);
        log = NULL;
        int r = ev_log_open(f->dir, &o, &log);
        bool failed = r != 0;
        if (r == 0) {
            int c = evi_log_compress_wait(log);
            failed = c != 0;
            assert_true(c == 0 || c == -ENOSPC);
            c = ev_log_close(log);
            failed = failed || c != 0;
            assert_true(c == 0 || c == -ENOSPC);
        } else {
            assert_int_equal(r, -ENOSPC);
        }
        evi_io_fail_after(0, 0);
        log = tu_open(f->dir, &o);
        assert_true(ev_log_size(log) >= 4); /* the entries, and seals a close or open made */
        tu_ok(evi_log_compress_wait(log));
        tu_ok(ev_log_close(log));
        assert_int_equal(count_tmp(f->dir), 0);
        (void)tu_verify(f->dir, f->v);
        if (!failed) {
            break;
        }
    }
    assert_true(k < K_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enospc_append_rotate_compress, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_open_with_compression, tu_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
