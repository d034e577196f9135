/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's clock work, on one thread: seals epochs whose time has passed
 * and signs checkpoints (through the committer, between batches), verifies
 * the log every integrity.self_verify_interval, and watches free disk space.
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
 */
int evd_self_verify(struct evd *d, struct ev_verify_report *ret_report);

/* Measures the log directory and looks at free space now (disk.h: levels and their alerts). */
void evd_check_disk(struct evd *d);

#endif
