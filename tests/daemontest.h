/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the daemon's unit tests share: a committer held inside
 * evd_commit_call() until the test releases it, so that submissions queue
 * (include after cmocka.h and the daemon's commit.h).
 */
#ifndef EVD_DAEMONTEST_H
#define EVD_DAEMONTEST_H

#include <pthread.h>
#include <stdbool.h>

/* Holds the committer inside evd_commit_call until released. */
struct blocker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered, release;
    struct evd_commit *commit;
    pthread_t thread;
};

static inline int block_committer(struct ev_log *log, void *arg)
{
    struct blocker *b = arg;
    (void)log;
    pthread_mutex_lock(&b->lock);
    b->entered = true;
    pthread_cond_broadcast(&b->cond);
    while (!b->release) {
        pthread_cond_wait(&b->cond, &b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return 0;
}

static inline void *blocker_thread(void *arg)
{
    struct blocker *b = arg;
    (void)evd_commit_call(b->commit, block_committer, b);
    return NULL;
}

static inline void blocker_start(struct blocker *b, struct evd_commit *commit)
{
    *b = (struct blocker){
        .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .commit = commit};
    assert_int_equal(pthread_create(&b->thread, NULL, blocker_thread, b), 0);
    pthread_mutex_lock(&b->lock);
    while (!b->entered) {
        pthread_cond_wait(&b->cond, &b->lock);
    }
    pthread_mutex_unlock(&b->lock);
}

static inline void blocker_release(struct blocker *b)
{
    pthread_mutex_lock(&b->lock);
    b->release = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    assert_int_equal(pthread_join(b->thread, NULL), 0);
}

#endif
