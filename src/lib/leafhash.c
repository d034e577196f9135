/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leaf hasher (leafhash.h). The hand-over of a run is under the mutex:
 * the helper takes a run only while it is open, and evi_leaf_hasher_end()
 * closes it and waits for a helper inside it, so the helper never reads a
 * run's memory after its end. Inside a run the two threads share one state
 * per chunk: free, taken (compare-and-swap from free: one thread wins), done
 * (stored with release, loaded with acquire: a leaf is complete before its
 * chunk is seen done).
 *
 * The sequencer takes chunks from the front, as it needs them; the helper
 * takes them from the back and stops at the first one already taken: they
 * meet once, and only there may the sequencer wait for the helper. (Both from
 * the front, the helper always held the very chunk the sequencer needed next,
 * and the sequencer spent as long waiting as hashing would have taken.)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "leafhash.h"
#include "tree.h"

#define CHUNK EVI_LEAF_HASHER_CHUNK

enum { FREE, TAKEN, DONE };

struct evi_leaf_hasher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* the helper waits for a run (or stop) */
    pthread_cond_t out_cv; /* the sequencer waits for the helper to leave a run */
    bool stop;
    bool open;      /* a run is there to take */
    bool inside;    /* the helper works on the open run */
    uint64_t run;   /* counts runs: the helper takes each at most once */
    uint64_t taken; /* the last run the helper took */

    /* The run: written by the sequencer while no run is open. */
    const uint8_t *base;
    const struct evi_leaf_item *items;
    uint8_t (*leaves)[EV_HASH_BYTES];
    size_t count, chunks;
    atomic_uchar *state; /* per chunk: FREE, TAKEN, DONE */
    size_t state_cap;
    atomic_size_t helped; /* chunks the helper hashed, in all (tests) */
};

static void hash_chunk(struct evi_leaf_hasher *h, size_t chunk)
{
    size_t end = (chunk + 1) * CHUNK < h->count ? (chunk + 1) * CHUNK : h->count;

    for (size_t i = chunk * CHUNK; i < end; i++) {
        evi_leaf_hash_prefixed(h->base + h->items[i].offset, h->items[i].len, h->leaves[i]);
    }
    atomic_store_explicit(&h->state[chunk], DONE, memory_order_release);
}

/* Whether this thread takes the chunk (the other one has not). */
static bool take(struct evi_leaf_hasher *h, size_t chunk)
{
    unsigned char expected = FREE;
    return atomic_compare_exchange_strong_explicit(&h->state[chunk], &expected, TAKEN,
                                                   memory_order_relaxed, memory_order_relaxed);
}

/* The helper: from the back, until it meets the sequencer's chunks. */
static void work(struct evi_leaf_hasher *h)
{
    for (size_t chunk = h->chunks; chunk-- > 0 && take(h, chunk);) {
        hash_chunk(h, chunk);
        atomic_fetch_add_explicit(&h->helped, 1, memory_order_relaxed);
    }
}

static void *helper_main(void *arg)
{
    struct evi_leaf_hasher *h = arg;

    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && !(h->open && h->taken != h->run)) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        if (h->stop) {
            break;
        }
        h->taken = h->run;
        h->inside = true;
        pthread_mutex_unlock(&h->mu);
        work(h);
        pthread_mutex_lock(&h->mu);
        h->inside = false;
        pthread_cond_signal(&h->out_cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int evi_leaf_hasher_start(struct evi_leaf_hasher **ret_hasher)
{
    struct evi_leaf_hasher *h = calloc(1, sizeof(*h));
    int r;

    *ret_hasher = NULL;
    if (h == NULL) {
        return -ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    pthread_cond_init(&h->out_cv, NULL);
    r = pthread_create(&h->thread, NULL, helper_main, h);
    if (r != 0) {
        pthread_cond_destroy(&h->out_cv);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return evi_error(-r, "cannot start the leaf hasher thread: %s", strerror(r));
    }
    *ret_hasher = h;
    return 0;
}

void evi_leaf_hasher_stop(struct evi_leaf_hasher *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    (void)pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->out_cv);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->state);
    free(h);
}

int evi_leaf_hasher_begin(struct evi_leaf_hasher *h, const uint8_t *base,
                          const struct evi_leaf_item *items, uint8_t (*leaves)[EV_HASH_BYTES],
                          size_t count)
{
    size_t chunks = (count + CHUNK - 1) / CHUNK;

    if (chunks > h->state_cap) {
        atomic_uchar *grown = realloc(h->state, chunks * sizeof(*grown));
        if (grown == NULL) {
            return -ENOMEM;
        }
        h->state = grown;
        h->state_cap = chunks;
    }
    /* No run is open and the helper is outside: these are the sequencer's alone. */
    for (size_t c = 0; c < chunks; c++) {
        atomic_init(&h->state[c], FREE);
    }
    h->base = base;
    h->items = items;
    h->leaves = leaves;
    h->count = count;
    h->chunks = chunks;
    pthread_mutex_lock(&h->mu);
    h->run++;
    h->open = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

/* How often the sequencer looks at a flag before it lets other threads run. */
#define SPINS_BEFORE_YIELD 256u

void evi_leaf_hasher_need(struct evi_leaf_hasher *h, size_t i)
{
    size_t chunk = i / CHUNK;

    if (i % CHUNK != 0) {
        return; /* its chunk was done when the chunk's first leaf was needed */
    }
    if (take(h, chunk)) {
        hash_chunk(h, chunk);
        return;
    }
    /*
     * The helper holds it: a few microseconds, unless the helper lost its
     * CPU, which yielding may give back to it.
     */
    for (unsigned spins = 0; atomic_load_explicit(&h->state[chunk], memory_order_acquire) != DONE;
         spins++) {
        if (spins >= SPINS_BEFORE_YIELD) {
            (void)sched_yield();
        }
    }
}

void evi_leaf_hasher_end(struct evi_leaf_hasher *h)
{
    pthread_mutex_lock(&h->mu);
    h->open = false;
    while (h->inside) {
        pthread_cond_wait(&h->out_cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

size_t evi_leaf_hasher_helped(struct evi_leaf_hasher *h)
{
    return atomic_load_explicit(&h->helped, memory_order_relaxed);
}
