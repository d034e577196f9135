/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for src/lib/leafhash.c: every leaf the two threads compute together
 * is the RFC 6962 leaf hash of its entry (ev_leaf_hash, itself checked
 * against the shared vectors in test-merkle), for runs of every shape around
 * the chunk size, run after run on one hasher; neither thread writes a byte
 * of the run (the caller put each leaf prefix before); and the helper thread
 * does hash part of a run.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <evident/merkle.h>

#include "leafhash.h"
#include "tree.h"

#define HASH EV_HASH_BYTES

/* count entries of 0 .. 700 bytes back to back, each after one spare byte. */
struct run {
    uint8_t *buf;
    uint8_t *copy;
    struct evi_leaf_item *items;
    uint8_t (*leaves)[HASH];
    size_t count, size;
};

static void run_make(struct run *r, size_t count, unsigned seed)
{
    size_t size = 0;

    r->count = count;
    r->items = calloc(count + 1, sizeof(*r->items));
    r->leaves = calloc(count + 1, HASH);
    assert_non_null(r->items);
    assert_non_null(r->leaves);
    for (size_t i = 0; i < count; i++) {
        r->items[i].offset = size + 1;
        r->items[i].len = (i * 37 + seed * 11) % 701;
        size += 1 + r->items[i].len;
    }
    r->buf = malloc(size + 1);
    r->copy = malloc(size + 1);
    assert_non_null(r->buf);
    assert_non_null(r->copy);
    for (size_t k = 0; k <= size; k++) {
        r->buf[k] = (uint8_t)(k * 131 + seed);
    }
    for (size_t i = 0; i < count; i++) {
        evi_leaf_prefix_put(r->buf + r->items[i].offset);
    }
    memcpy(r->copy, r->buf, size + 1);
    r->size = size + 1;
}

/* Every leaf is its entry's leaf hash; not a byte of the run changed. */
static void run_check_free(struct run *r)
{
    for (size_t i = 0; i < r->count; i++) {
        uint8_t want[HASH];
        const struct evi_leaf_item *it = &r->items[i];
        ev_leaf_hash(r->copy + it->offset, it->len, want);
        assert_memory_equal(r->leaves[i], want, HASH);
    }
    assert_memory_equal(r->buf, r->copy, r->size);
    free(r->buf);
    free(r->copy);
    free(r->items);
    free(r->leaves);
}

static void hash_run(struct evi_leaf_hasher *h, struct run *r)
{
    assert_int_equal(evi_leaf_hasher_begin(h, r->buf, r->items, r->leaves, r->count), 0);
    for (size_t i = 0; i < r->count; i++) {
        evi_leaf_hasher_need(h, i);
    }
    evi_leaf_hasher_end(h);
}

static void test_runs_of_every_shape(void **state)
{
    const size_t counts[] = {1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 1000, 1023, 1024};
    struct evi_leaf_hasher *h = NULL;
    (void)state;

    assert_int_equal(evi_leaf_hasher_start(&h), 0);
    for (unsigned round = 0; round < 20; round++) {
        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
            struct run r;
            run_make(&r, counts[c], round * 31 + (unsigned)c);
            hash_run(h, &r);
            run_check_free(&r);
        }
    }
    evi_leaf_hasher_stop(h);
}

/*
 * The helper's part: a run handed over and left alone until the helper has
 * hashed a chunk (from the back), then finished by the sequencer. No timing:
 * the wait ends as soon as the helper has run at all (the 60 s bound only
 * turns a hang into a failure).
 */
static void test_helper_hashes_from_the_back(void **state)
{
    struct evi_leaf_hasher *h = NULL;
    struct run r;
    (void)state;

    assert_int_equal(evi_leaf_hasher_start(&h), 0);
    assert_int_equal(evi_leaf_hasher_helped(h), 0);
    run_make(&r, 1000, 7);
    assert_int_equal(evi_leaf_hasher_begin(h, r.buf, r.items, r.leaves, r.count), 0);
    time_t until = time(NULL) + 60;
    while (evi_leaf_hasher_helped(h) == 0 && time(NULL) < until) {
        (void)sched_yield();
    }
    size_t helped = evi_leaf_hasher_helped(h);
    assert_true(helped > 0);
    for (size_t i = 0; i < r.count; i++) {
        evi_leaf_hasher_need(h, i);
    }
    evi_leaf_hasher_end(h);
    /* The helper stopped where the sequencer's chunks began: at most every chunk. */
    size_t chunks = (r.count + EVI_LEAF_HASHER_CHUNK - 1) / EVI_LEAF_HASHER_CHUNK;
    assert_true(evi_leaf_hasher_helped(h) <= chunks);
    run_check_free(&r);
    /* Stopped with no run, and stopping NULL, are fine. */
    evi_leaf_hasher_stop(h);
    evi_leaf_hasher_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_of_every_shape),
        cmocka_unit_test(test_helper_hashes_from_the_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
