/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's clock work. The timer thread seals epochs whose time has
 * passed and signs checkpoints (through the committer, between batches),
 * watches free disk space (and so relieves a filling disk early) and runs
 * retention. Every integrity.self_verify_interval it asks a thread of its own
 * to verify the log, so that a whole-log verification (minutes) delays none of
 * that. One verification at a time: one that is due while the last still
 * runs is skipped (a line on stderr), the next is due an interval later.
 * evd_timers_stop() stops and joins them all; a verification under way stops
 * at its next look and counts nothing.
 */
#ifndef EVD_TIMERS_H
#define EVD_TIMERS_H

#include <evident/verify.h>

#include "daemon.h"

struct evd_timers;

int evd_timers_start(struct evd *d, struct evd_timers **ret_timers);
void evd_timers_stop(struct evd_timers *t);

/* Seals what is due and signs a checkpoint now (on the committer thread). */
int evd_checkpoint_now(struct evd *d);

/*
 * Verifies the log directory with the public key (no tags: the daemon does
 * not hold the verification key), counts the run in the metrics and raises
 * the verification_failure alert on failure. 0 when it verifies.
 *
 * It stops early once the daemon is stopping (d->stopping, which evd_stop()
 * sets first; on the verifier thread also evd_timers_stop()), so that SIGTERM
 * does not wait for a whole-log verification: it then returns -ECANCELED,
 * counts nothing and raises nothing (neither a pass nor a failure).
 */
int evd_self_verify(struct evd *d, struct ev_verify_report *ret_report);

/*
 * Tests: fn(arg, entries) runs on the verifying thread each time a
 * self-verification looks whether to stop (before each batch of records),
 * before it looks. Set it while no verification runs; NULL removes it.
 */
void evd_self_verify_set_hook(void (*fn)(void *arg, uint64_t entries), void *arg);

/* Measures the log directory and looks at free space now (disk.h: levels and their alerts). */
void evd_check_disk(struct evd *d);

#endif
