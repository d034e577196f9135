/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backups, restores and published checkpoints (include/evident/backup.h,
 * publish.h): a generation is a verifiable prefix cut at a checkpoint, holds
 * no secret, shares unchanged segments by hard links, copies only new bytes,
 * keeps at most `keep` generations, refuses a shrunk or forked log; restore
 * gives a readable log; publishing writes one file per tree size and keeps a
 * conflicting note as evidence of a fork.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

#include <evident/backup.h>
#include <evident/note.h>
#include <evident/publish.h>

static void backup_dir(const struct tu_fixture *f, char out[PATH_MAX])
{
    tu_path(out, f->root, "backup");
}

static void generation_path(const struct tu_fixture *f, const char *gen, char out[PATH_MAX])
{
    char b[PATH_MAX];
    backup_dir(f, b);
    tu_path(out, b, gen);
}

static bool exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    return stat(tu_path(p, dir, name), &st) == 0;
}

static struct ev_backup_report backup(const struct tu_fixture *f, uint64_t keep, int64_t now_s)
{
    char b[PATH_MAX];
    struct ev_backup_options o = {.keep = keep, .verify = true, .now_ns = now_s * 1000000000ll};
    struct ev_backup_report rep;
    backup_dir(f, b);
    tu_ok(ev_backup_create(f->dir, b, &o, &rep));
    return rep;
}

static void test_first_backup_is_verifiable_prefix(void **state)
{
    struct tu_fixture *f = *state;
    char gen[PATH_MAX];

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 50, "a");
    tu_ok(ev_log_checkpoint(log));
    tu_append_n(log, 7, "after"); /* not covered by a checkpoint: not in the backup */
    tu_ok(ev_log_sync(log));

    struct ev_backup_report rep = backup(f, 0, 1000);
    assert_false(rep.unchanged);
    assert_int_equal(rep.tree_size, 50);
    assert_int_equal(rep.records, 50);
    assert_true(rep.bytes_copied > 0);
    generation_path(f, rep.generation, gen);
    /* No secret and no derived file in a backup. */
    assert_false(exists(gen, "signing.key"));
    assert_false(exists(gen, "keystate"));
    assert_false(exists(gen, "lock"));
    assert_false(exists(gen, "hashes"));
    assert_false(exists(gen, "index"));
    assert_true(exists(gen, EV_BACKUP_MANIFEST));
    struct ev_verify_report vr = tu_verify(gen, f->v);
    assert_int_equal(vr.entries, 50);
    assert_int_equal(vr.checkpoint_size, 50);
    assert_int_equal(vr.torn_bytes, 0);
    tu_ok(ev_log_close(log));
}

static void test_incremental_links_and_copies_only_new(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_open_options oo = {.segment_bytes = 1}; /* smallest segments: many of them */

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, &oo);
    for (int i = 0; i < 40; i++) {
        tu_append_n(log, 50, "fill-the-segments-with-some-bytes-so-that-they-rotate-often");
    }
    tu_ok(ev_log_checkpoint(log));
    struct ev_backup_report first = backup(f, 0, 1000);
    assert_true(first.bytes_copied > 0);
    assert_int_equal(first.segments_linked, 0);

    /* Nothing new: nothing written. */
    struct ev_backup_report same = backup(f, 0, 1001);
    assert_true(same.unchanged);
    assert_string_equal(same.generation, first.generation);

    tu_append_n(log, 10, "new");
    tu_ok(ev_log_checkpoint(log));
    struct ev_backup_report second = backup(f, 0, 1002);
    assert_false(second.unchanged);
    assert_int_equal(second.tree_size, 2010);
    assert_true(second.segments_linked > 0);
    /* Only the new records (and the small public files) were read from the log. */
    assert_true(second.bytes_copied < first.bytes_copied / 10);
    assert_true(second.bytes_linked + second.bytes_cloned > first.bytes_copied / 2);
    char gen[PATH_MAX];
    generation_path(f, second.generation, gen);
    struct ev_verify_report vr = tu_verify(gen, f->v);
    assert_int_equal(vr.entries, 2010);
    /* The first generation is untouched by the second. */
    generation_path(f, first.generation, gen);
    vr = tu_verify(gen, f->v);
    assert_int_equal(vr.entries, 2000);
    tu_ok(ev_log_close(log));
}

static void test_keep_bounds_generations(void **state)
{
    struct tu_fixture *f = *state;
    char b[PATH_MAX], **names = NULL;
    size_t n = 0;

    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    for (int i = 0; i < 5; i++) {
        tu_append_n(log, 3, "k");
        tu_ok(ev_log_checkpoint(log));
        struct ev_backup_report rep = backup(f, 2, 2000 + i);
        assert_int_equal(rep.generations_removed, i >= 2 ? 1 : 0);
    }
    backup_dir(f, b);
    tu_ok(ev_backup_list(b, &names, &n));
    assert_int_equal(n, 2);
    assert_string_equal(names[0] + 16, "-12");
    assert_string_equal(names[1] + 16, "-15");
    ev_backup_names_free(names, n);
    tu_ok(ev_log_close(log));
}

static void test_restore_gives_readable_log(void **state)
{
    struct tu_fixture *f = *state;
    char b[PATH_MAX], to[PATH_MAX];
    struct ev_restore_report rr;

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 33, "r");
    tu_ok(ev_log_checkpoint(log));
    tu_ok(ev_log_close(log));
    (void)backup(f, 0, 3000);
    backup_dir(f, b);
    tu_path(to, f->root, "restored");
    tu_ok(ev_backup_restore(b, to, &rr));
    assert_int_equal(rr.tree_size, 33);
    tu_verify(to, f->v);
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *r = tu_open(to, &ro);
    assert_int_equal(ev_log_size(r), rr.records);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(r, 5, &e));
    assert_non_null(strstr(e->bytes, "\"n\":5"));
    ev_entry_free(e);
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t len;
    tu_ok(ev_log_prove_inclusion(r, 5, rr.tree_size, proof, &len));
    tu_ok(ev_log_close(r));
    /* A restored log has no keys: it cannot be opened for writing. */
    struct ev_log *w = NULL;
    assert_true(ev_log_open(to, NULL, &w) < 0);
    /* The target must be empty. */
    assert_int_equal(ev_backup_restore(b, to, &rr), -EEXIST);
}

/* Two generations in one second, the later one with more digits: "...-9" sorts after "...-10". */
static void test_generations_ordered_by_size(void **state)
{
    struct tu_fixture *f = *state;

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 5, "x");
    tu_ok(ev_log_checkpoint(log));
    uint64_t small = ev_log_size(log), more = 1;
    while (more <= small) {
        more *= 10; /* one digit more, starting with 1: its name sorts first */
    }
    struct ev_backup_report first = backup(f, 0, 5000);
    while (ev_log_size(log) < more) {
        tu_append_n(log, 1, "y");
    }
    tu_ok(ev_log_checkpoint(log));
    struct ev_backup_report second = backup(f, 0, 5000); /* the same second */
    assert_false(second.unchanged);
    assert_int_equal(second.previous_size, first.tree_size);
    struct ev_backup_report again = backup(f, 0, 5000);
    assert_true(again.unchanged);
    assert_string_equal(again.generation, second.generation);
    tu_ok(ev_log_close(log));
}

static void test_shrunk_log_refused(void **state)
{
    struct tu_fixture *f = *state;
    char b[PATH_MAX], early[PATH_MAX], early_log[PATH_MAX];
    struct ev_backup_options o = {.now_ns = 4000000000000ll};
    struct ev_backup_report rep;
    struct ev_restore_report rr;

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 10, "x");
    tu_ok(ev_log_checkpoint(log));
    tu_path(early, f->root, "early");
    tu_ok(ev_backup_create(f->dir, early, &o, &rep));
    tu_append_n(log, 10, "y");
    tu_ok(ev_log_checkpoint(log));
    tu_ok(ev_log_close(log));
    (void)backup(f, 0, 4001);

    /* The log rolled back to its earlier state (records and checkpoint files). */
    tu_path(early_log, f->root, "rolled-back");
    tu_ok(ev_backup_restore(early, early_log, &rr));
    backup_dir(f, b);
    o.now_ns = 4002000000000ll;
    assert_int_equal(ev_backup_create(early_log, b, &o, &rep), EV_ETRUNCATED);
    char **names = NULL;
    size_t n = 0;
    tu_ok(ev_backup_list(b, &names, &n));
    assert_int_equal(n, 1); /* nothing written */
    ev_backup_names_free(names, n);
}

struct writer_ctx {
    const char *dir;
    atomic_bool stop;
    uint64_t appended;
};

static void *writer(void *arg)
{
    struct writer_ctx *w = arg;
    struct ev_open_options oo = {.segment_bytes = 1, .sync = EV_SYNC_NEVER};
    struct ev_log *log = NULL;
    if (ev_log_open(w->dir, &oo, &log) != 0) {
        return NULL;
    }
    while (!atomic_load(&w->stop)) {
        struct ev_event ev = {.type = "test",
                              .severity = EV_SEV_INFO,
                              .data_json = "{\"while\":\"backing up, with some padding bytes\"}"};
        if (ev_log_append(log, &ev, NULL) != 0) {
            break;
        }
        if (++w->appended % 97 == 0 && ev_log_checkpoint(log) != 0) {
            break;
        }
    }
    (void)ev_log_close(log);
    return NULL;
}

static void test_backup_while_writing(void **state)
{
    struct tu_fixture *f = *state;
    struct writer_ctx w = {.dir = f->dir};
    pthread_t t;

    tu_create(f->dir, 0, f->v);
    assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
    for (int i = 0; i < 8; i++) {
        char gen[PATH_MAX];
        usleep(20000);
        struct ev_backup_report rep = backup(f, 3, 5000 + i);
        generation_path(f, rep.generation, gen);
        struct ev_verify_report vr = tu_verify(gen, f->v);
        assert_true(vr.entries >= rep.tree_size);
        assert_int_equal(vr.checkpoint_size, rep.tree_size);
    }
    atomic_store(&w.stop, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(w.appended > 0);
}

static void test_publish_dir_and_read_back(void **state)
{
    struct tu_fixture *f = *state;
    char pub[PATH_MAX], *note = NULL, *note2 = NULL;
    size_t len, len2;
    struct ev_publish_report pr;

    tu_create(f->dir, 0, f->v);
    tu_path(pub, f->root, "published");
    const char *dests[] = {pub};
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 4, "p");
    tu_ok(ev_log_checkpoint(log));
    tu_ok(ev_log_latest_checkpoint(log, &note, &len));
    tu_ok(ev_checkpoint_publish(note, len, dests, 1, NULL, &pr));
    assert_int_equal(pr.written, 1);
    tu_ok(ev_checkpoint_publish(note, len, dests, 1, NULL, &pr));
    assert_int_equal(pr.unchanged, 1);
    tu_append_n(log, 4, "q");
    tu_ok(ev_log_checkpoint(log));
    tu_ok(ev_log_latest_checkpoint(log, &note2, &len2));
    tu_ok(ev_checkpoint_publish(note2, len2, dests, 1, NULL, &pr));
    tu_ok(ev_log_close(log));

    struct ev_checkpoint_set *set = NULL;
    tu_ok(ev_checkpoint_dir_read(pub, TU_ORIGIN, &set));
    assert_int_equal(set->count, 2);
    struct ev_verify_options vo = {.checkpoints = (const char *const *)set->notes,
                                   .checkpoint_lens = set->lens,
                                   .checkpoint_count = set->count};
    struct ev_verify_report vr;
    tu_ok(ev_verify_dir(f->dir, &vo, &vr));
    assert_int_equal(vr.trusted_checked, 2);
    ev_checkpoint_set_free(set);

    /* Another log's notes are skipped, not failed. */
    tu_ok(ev_checkpoint_dir_read(pub, "other.example/log", &set));
    assert_int_equal(set->count, 0);
    assert_int_equal(set->skipped, 2);
    ev_checkpoint_set_free(set);

    /* A different note for a size already published: both kept, EV_EFORKED. */
    char other[PATH_MAX];
    tu_path(other, f->root, "other");
    tu_create(other, 0, NULL);
    char *fork = NULL;
    size_t fork_len;
    struct ev_log *o = tu_open(other, NULL);
    tu_append_n(o, 4, "p");
    tu_ok(ev_log_checkpoint(o));
    tu_ok(ev_log_latest_checkpoint(o, &fork, &fork_len));
    tu_ok(ev_log_close(o));
    assert_int_equal(ev_checkpoint_publish(fork, fork_len, dests, 1, NULL, &pr), EV_EFORKED);
    assert_int_equal(pr.failed, 1);
    tu_ok(ev_checkpoint_dir_read(pub, TU_ORIGIN, &set));
    assert_int_equal(set->count, 3);
    vo.checkpoints = (const char *const *)set->notes;
    vo.checkpoint_lens = set->lens;
    vo.checkpoint_count = set->count;
    assert_int_equal(ev_verify_dir(f->dir, &vo, &vr), EV_EVERIFY);
    ev_checkpoint_set_free(set);

    /* Bad destinations and notes. */
    const char *bad[] = {"relative/dir"};
    assert_int_equal(ev_checkpoint_publish(note, len, bad, 1, NULL, &pr), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_publish("not a note", 10, dests, 1, NULL, &pr), EV_EFORMAT);
    free(note);
    free(note2);
    free(fork);
}

static void test_publish_url_unreachable(void **state)
{
    struct tu_fixture *f = *state;
    char *note = NULL;
    size_t len;
    struct ev_publish_report pr;
    /* A port nobody listens on: fails quickly, is retried, and is reported. */
    const char *dests[] = {"http://127.0.0.1:9/checkpoints"};
    struct ev_publish_options po = {.timeout_ns = 1000000000ull, .retries = 1};

    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_ok(ev_log_latest_checkpoint(log, &note, &len));
    tu_ok(ev_log_close(log));
    int r = ev_checkpoint_publish(note, len, dests, 1, &po, &pr);
    assert_true(r == -EIO || r == -ENOTSUP);
    assert_int_equal(pr.failed, 1);
    assert_true(strlen(pr.detail) > 0);
    free(note);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_backup_is_verifiable_prefix, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_incremental_links_and_copies_only_new, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_keep_bounds_generations, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_restore_gives_readable_log, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_generations_ordered_by_size, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_shrunk_log_refused, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_while_writing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_publish_dir_and_read_back, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_publish_url_unreachable, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
