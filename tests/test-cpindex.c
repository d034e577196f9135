/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checkpoint of one tree size from the history (ev_log_checkpoint_at(),
 * src/lib/cpindex.c): the latest validly signed note of that size, found
 * through an index that reads only what the history gained since it was
 * last asked; damage, a torn tail, a forged note and a replaced file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <evident/bundle.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/note.h>

#include "crypto.h"
#include "log-internal.h"
#include "testutil.h"

#define CHECKPOINTS 40

/* A log with checkpoints of sizes 0 (written at creation) .. CHECKPOINTS. */
static struct ev_log *log_with_history(struct tu_fixture *f)
{
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    for (unsigned i = 0; i < CHECKPOINTS; i++) {
        tu_append_n(log, 1, "cp");
        tu_ok(ev_log_checkpoint(log));
    }
    return log;
}

/* The size stated by the note ev_log_checkpoint_at() gives for tree_size, or 0 on an error. */
static int checkpoint_at(struct ev_log *log, uint64_t tree_size, uint64_t *ret_size)
{
    char *note = NULL;
    size_t len = 0;
    int r = ev_log_checkpoint_at(log, tree_size, &note, &len);
    if (r == 0) {
        struct ev_log_info info;
        struct ev_verifier *v = NULL;
        struct ev_checkpoint cp;
        tu_ok(ev_log_info(log, &info));
        tu_ok(ev_verifier_parse(info.vkey, &v));
        assert_int_equal(strlen(note), len);
        tu_ok(ev_checkpoint_open(note, len, v, &cp));
        *ret_size = cp.tree_size;
        ev_verifier_free(v);
        free(note);
    }
    return r;
}

static void test_every_size(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_log *log = log_with_history(f);
    uint64_t size = 0;

    for (uint64_t s = 1; s <= CHECKPOINTS; s++) {
        tu_ok(checkpoint_at(log, s, &size));
        assert_int_equal(size, s);
    }
    assert_int_equal(checkpoint_at(log, CHECKPOINTS + 1, &size), -ENOENT);
    assert_string_equal(ev_last_error(), "no checkpoint of size 41 in the checkpoint history");
    tu_ok(checkpoint_at(log, 0, &size)); /* the empty log's, from ev_log_create() */
    assert_int_equal(size, 0);
    tu_ok(ev_log_close(log));
}

/*
 * The history is read once, then only what it gained: asking again reads
 * nothing, and a new checkpoint reads its own frame. (Every request used to
 * read the whole file and check every note's signature.)
 */
static void test_reads_only_what_is_new(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_log *log = log_with_history(f);
    char path[PATH_MAX];
    uint64_t size = 0, history = tu_size(tu_path(path, f->dir, "checkpoints"));

    tu_ok(checkpoint_at(log, 7, &size));
    assert_int_equal(log->checkpoints_index.bytes_read, history);
    assert_int_equal(log->checkpoints_index.count, CHECKPOINTS + 1);
    for (uint64_t s = 1; s <= CHECKPOINTS; s++) {
        tu_ok(checkpoint_at(log, s, &size));
    }
    assert_int_equal(checkpoint_at(log, 1000, &size), -ENOENT);
    assert_int_equal(log->checkpoints_index.bytes_read, history);

    tu_append_n(log, 1, "cp");
    tu_ok(ev_log_checkpoint(log));
    uint64_t grown = tu_size(path);
    tu_ok(checkpoint_at(log, CHECKPOINTS + 1, &size));
    assert_int_equal(size, CHECKPOINTS + 1);
    assert_int_equal(log->checkpoints_index.bytes_read, grown);
    tu_ok(ev_log_close(log));
}

/* The frame of the note for tree size s (the history holds 0, 1, 2 ...), and its length. */
static uint64_t frame_of(const char *path, uint64_t s, uint32_t *ret_len)
{
    size_t len = 0;
    uint8_t *data = tu_read(path, &len);
    uint64_t off = 0;
    uint32_t n = 0;
    for (uint64_t i = 0; i <= s; i++) {
        assert_true(off + 8 <= len);
        n = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 | (uint32_t)data[off + 2] << 16 |
            (uint32_t)data[off + 3] << 24;
        if (i < s) {
            off += 8 + n;
        }
    }
    free(data);
    *ret_len = n;
    return off;
}

/*
 * A damaged frame hides what follows it, not what precedes it: sizes before
 * it are found, sizes after it are EV_ECORRUPT, and it says where.
 */
static void test_damage(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_log *log = log_with_history(f);
    char path[PATH_MAX], where[96];
    uint64_t size = 0;
    uint32_t n;

    tu_path(path, f->dir, "checkpoints");
    uint64_t off = frame_of(path, 20, &n);
    tu_flip(path, off + 8 + n / 2, 0x01);
    tu_ok(checkpoint_at(log, 19, &size));
    assert_int_equal(size, 19);
    assert_int_equal(checkpoint_at(log, 20, &size), EV_ECORRUPT);
    (void)snprintf(where, sizeof(where), "checkpoints: damaged frame at byte %" PRIu64, off);
    assert_string_equal(ev_last_error(), where);
    assert_int_equal(checkpoint_at(log, 30, &size), EV_ECORRUPT);
    tu_ok(ev_log_close(log));

    /*
     * A damaged length is damage too (its frame's CRC fails), not a frame to
     * skip; one that reaches past the end of the file reads as a torn tail.
     */
    log = tu_open(f->dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    tu_flip(path, off + 8 + n / 2, 0x01); /* mended */
    tu_flip(path, off, 0x01);             /* the length, one off */
    assert_int_equal(checkpoint_at(log, 25, &size), EV_ECORRUPT);
    tu_ok(checkpoint_at(log, 5, &size));
    tu_ok(ev_log_close(log));
}

/* A torn last frame (a crash while appending) is not damage: the history ends before it. */
static void test_torn_tail(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_log *log = log_with_history(f);
    char path[PATH_MAX];
    uint64_t size = 0;
    uint32_t n;

    tu_ok(ev_log_close(log));
    tu_path(path, f->dir, "checkpoints");
    uint64_t off = frame_of(path, CHECKPOINTS, &n);
    assert_int_equal(truncate(path, (off_t)(off + 8 + n - 3)), 0);
    log = tu_open(f->dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    tu_ok(checkpoint_at(log, CHECKPOINTS - 1, &size));
    assert_int_equal(checkpoint_at(log, CHECKPOINTS, &size), -ENOENT);
    tu_ok(ev_log_close(log));
}

/*
 * A later note of the same size that is not signed by the log's key (its
 * signature damaged, its frame's CRC made right) is no checkpoint: the
 * earlier, valid one is returned.
 */
static void test_forged_note_of_the_same_size(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_log *log = log_with_history(f);
    char path[PATH_MAX];
    uint64_t size = 0;
    uint32_t n;
    char *note = NULL;
    size_t len = 0;

    tu_path(path, f->dir, "checkpoints");
    tu_ok(ev_log_checkpoint_at(log, 10, &note, &len));
    /* The signature line's last base64 character before its LF, changed. */
    assert_true(len > 3 && note[len - 1] == '\n');
    note[len - 3] = note[len - 3] == 'A' ? 'B' : 'A';
    uint8_t header[8];
    uint32_t crc = evi_crc32c(0, note, len);
    for (int i = 0; i < 4; i++) {
        header[i] = (uint8_t)(len >> (8 * i));
        header[4 + i] = (uint8_t)(crc >> (8 * i));
    }
    uint64_t end = tu_size(path);
    tu_write_at(path, header, sizeof(header), (off_t)end);
    tu_write_at(path, note, len, (off_t)(end + 8));
    free(note);

    uint64_t valid = frame_of(path, 10, &n);
    note = NULL;
    tu_ok(ev_log_checkpoint_at(log, 10, &note, &len));
    size_t file_len = 0;
    uint8_t *data = tu_read(path, &file_len);
    assert_int_equal(len, n);
    assert_memory_equal(note, data + valid + 8, n); /* the valid one, not the forgery */
    free(data);
    free(note);
    tu_ok(checkpoint_at(log, 11, &size));
    tu_ok(ev_log_close(log));
}

/* A history that shrank or was replaced (a restore) is indexed again from its start. */
static void test_replaced_history(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_log *log = log_with_history(f);
    char path[PATH_MAX], copy[PATH_MAX];
    uint64_t size = 0;
    uint32_t n;

    tu_path(path, f->dir, "checkpoints");
    tu_ok(checkpoint_at(log, CHECKPOINTS, &size));
    uint64_t off = frame_of(path, 10, &n);
    size_t len = 0;
    uint8_t *data = tu_read(path, &len);
    tu_path(copy, f->dir, "checkpoints.new");
    tu_write(copy, data, (size_t)(off + 8 + n)); /* the notes of sizes 0 .. 10, a new file */
    free(data);
    assert_int_equal(rename(copy, path), 0);

    tu_ok(checkpoint_at(log, 10, &size));
    assert_int_equal(size, 10);
    assert_int_equal(checkpoint_at(log, 11, &size), -ENOENT);
    assert_int_equal(log->checkpoints_index.count, 11);
    tu_ok(ev_log_close(log));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_size, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reads_only_what_is_new, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damage, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_forged_note_of_the_same_size, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_replaced_history, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
