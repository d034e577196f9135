/* SPDX-License-Identifier: Apache-2.0 */
/* Forward-secure tag checking for the verifier: see tagcheck.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tagcheck.h"

#define BATCH 2048
#define RING 4

struct job {
    uint64_t index, j;
    uint32_t epoch;
    uint8_t chain[32], tag[32];
};

struct batch {
    struct job jobs[BATCH];
    size_t count;
};

struct evi_tagcheck {
    /* key state: A(key_epoch) and R(key_epoch, key_j) */
    uint8_t epoch_key[32], record_key[32];
    uint32_t key_epoch;
    uint64_t key_j;

    bool failed;
    uint64_t fail_index, fail_j;
    uint32_t fail_epoch;

    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *ring[RING]; /* filled batches, in order */
    size_t head, tail;        /* ring[head % RING] .. ring[(tail-1) % RING] */
    struct batch *filling;
    bool closing;
    bool stop; /* worker saw a failure: producer may stop */
};

static const char label_epoch[] = "evident epoch v1";
static const char label_record[] = "evident record v1";
static const char label_next[] = "evident next v1";

/* Records arrive in order with epochs stepping by one: one or two HMACs each. */
static void key_for(struct evi_tagcheck *c, uint32_t epoch, uint64_t j)
{
    if (epoch != c->key_epoch) {
        while (c->key_epoch < epoch) {
            evi_hmac_sha256(c->epoch_key, label_epoch, sizeof(label_epoch) - 1, c->epoch_key);
            c->key_epoch++;
        }
        evi_hmac_sha256(c->epoch_key, label_record, sizeof(label_record) - 1, c->record_key);
        c->key_j = 0;
    }
    while (c->key_j < j) {
        evi_hmac_sha256(c->record_key, label_next, sizeof(label_next) - 1, c->record_key);
        c->key_j++;
    }
}

static bool check_one(struct evi_tagcheck *c, const struct job *job)
{
    uint8_t msg[40], tag[32];

    key_for(c, job->epoch, job->j);
    for (int b = 0; b < 8; b++) {
        msg[b] = (uint8_t)(job->index >> (56 - 8 * b));
    }
    memcpy(msg + 8, job->chain, 32);
    /* The tag and the next record key from one preparation of R(e, j). */
    evi_hmac_pair(c->record_key, msg, sizeof(msg), label_next, sizeof(label_next) - 1, tag,
                  c->record_key);
    c->key_j++;
    if (!evi_ct_equal(tag, job->tag, 32)) {
        if (!c->failed) {
            /* The first bad tag is the one reported: later batches may fail too. */
            c->failed = true;
            c->fail_index = job->index;
            c->fail_epoch = job->epoch;
            c->fail_j = job->j;
        }
        return false;
    }
    return true;
}

static void *worker(void *arg)
{
    struct evi_tagcheck *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->head == c->tail && !c->closing) {
            pthread_cond_wait(&c->cv, &c->mu);
        }
        if (c->head == c->tail) {
            break;
        }
        struct batch *b = c->ring[c->head % RING];
        pthread_mutex_unlock(&c->mu);
        bool ok = true;
        for (size_t k = 0; k < b->count && ok; k++) {
            ok = check_one(c, &b->jobs[k]);
        }
        pthread_mutex_lock(&c->mu);
        c->ring[c->head % RING] = NULL;
        c->head++;
        free(b);
        if (!ok) {
            __atomic_store_n(&c->stop, true, __ATOMIC_RELAXED);
        }
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int evi_tagcheck_new(const uint8_t verification_key[32], bool threaded,
                     struct evi_tagcheck **ret_checker)
{
    struct evi_tagcheck *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return -ENOMEM;
    }
    memcpy(c->epoch_key, verification_key, 32);
    evi_hmac_sha256(c->epoch_key, label_record, sizeof(label_record) - 1, c->record_key);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->threaded = threaded;
    if (threaded && pthread_create(&c->thread, NULL, worker, c) != 0) {
        c->threaded = false; /* no thread to be had: check inline */
    }
    *ret_checker = c;
    return 0;
}

/* Hands the batch being filled to the worker (waits while the ring is full). */
static void push(struct evi_tagcheck *c)
{
    if (c->filling == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    while (c->tail - c->head == RING) {
        pthread_cond_wait(&c->cv, &c->mu);
    }
    c->ring[c->tail % RING] = c->filling;
    c->tail++;
    c->filling = NULL;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

bool evi_tagcheck_add(struct evi_tagcheck *c, uint64_t index, uint32_t epoch, uint64_t j,
                      const uint8_t chain[32], const uint8_t tag[32])
{
    struct job job = {.index = index, .j = j, .epoch = epoch};

    memcpy(job.chain, chain, 32);
    memcpy(job.tag, tag, 32);
    if (!c->threaded) {
        return c->failed || !check_one(c, &job);
    }
    if (c->filling == NULL) {
        c->filling = malloc(sizeof(*c->filling));
        if (c->filling == NULL) {
            /* Out of memory for a batch: check this one here, in order. */
            push(c);
            pthread_mutex_lock(&c->mu);
            while (c->head != c->tail) {
                pthread_cond_wait(&c->cv, &c->mu);
            }
            pthread_mutex_unlock(&c->mu);
            return c->failed || !check_one(c, &job);
        }
        c->filling->count = 0;
    }
    c->filling->jobs[c->filling->count++] = job;
    if (c->filling->count == BATCH) {
        push(c);
    }
    return __atomic_load_n(&c->stop, __ATOMIC_RELAXED);
}

bool evi_tagcheck_finish(struct evi_tagcheck *c, uint64_t *ret_index, uint32_t *ret_epoch,
                         uint64_t *ret_j)
{
    if (c->threaded) {
        push(c);
        pthread_mutex_lock(&c->mu);
        c->closing = true;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        (void)pthread_join(c->thread, NULL);
        c->threaded = false;
    }
    if (c->failed) {
        *ret_index = c->fail_index;
        *ret_epoch = c->fail_epoch;
        *ret_j = c->fail_j;
    }
    return c->failed;
}

void evi_tagcheck_free(struct evi_tagcheck *c)
{
    uint64_t i, j;
    uint32_t e;

    if (c == NULL) {
        return;
    }
    (void)evi_tagcheck_finish(c, &i, &e, &j);
    free(c->filling);
    for (size_t k = c->head; k < c->tail; k++) {
        free(c->ring[k % RING]);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    evi_wipe(c->epoch_key, sizeof(c->epoch_key));
    evi_wipe(c->record_key, sizeof(c->record_key));
    free(c);
}
