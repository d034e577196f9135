/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backup timer (docs/LIFECYCLE.md, "The daemon's backup timer"): with
 * retention.backup_dir set, a thread of its own makes a backup generation
 * (ev_backup_create, the same as `evident backup`) every
 * retention.backup_interval and keeps retention.backup_keep of them. It
 * reads the log's files like any reader and never takes the writer's lock or
 * the committer: ingestion never waits for it.
 *
 * The first backup is due one interval after the newest generation already
 * in backup_dir (at once if that is past), or one interval after start if
 * there is none. A failure is a line on stderr, a logging_failure alert and
 * evident_backup_failures_total; a success sets the last backup's time, tree
 * size and bytes copied (metrics).
 */
#ifndef EVD_BACKUPD_H
#define EVD_BACKUPD_H

#include <stdint.h>

#include "daemon.h"

struct evd_backupd;

struct evd_backupd_stats {
    uint64_t runs;             /* backups that succeeded (unchanged ones too) */
    uint64_t failures;         /* backups that failed */
    int64_t last_success_ns;   /* wall clock; 0: none yet */
    uint64_t last_tree_size;   /* entries the last good generation covers */
    uint64_t last_bytes;       /* bytes the last good backup copied (0: unchanged or linked) */
    uint64_t last_generations; /* generations in backup_dir after it */
};

/* Starts the thread when retention.backup_dir is set (else *ret is NULL). 0 or -errno. */
int evd_backupd_start(struct evd *d, struct evd_backupd **ret_backupd);

/* Stops the thread (a backup under way finishes first) and frees; NULL is fine. */
void evd_backupd_stop(struct evd_backupd *b);

/* Zeroes when b is NULL. */
void evd_backupd_stats(struct evd_backupd *b, struct evd_backupd_stats *ret_stats);

#endif
