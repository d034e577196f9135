/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Free space on the log's file system, docs/LIFECYCLE.md "Full disks": the
 * levels of the `disk` section, their alerts, the early retention pass, and
 * what the committer does while the disk is full.
 *
 * Levels, from what statvfs() says is free for the daemon's user:
 *
 *   EVD_DISK_OK                 above disk.space_left
 *   EVD_DISK_SPACE_LEFT         under disk.space_left: disk_low alert (warning)
 *   EVD_DISK_ADMIN_SPACE_LEFT   under disk.admin_space_left: admin_space_left alert
 *   EVD_DISK_FULL               under disk.reserve, or an append failed with ENOSPC
 *                               (or EDQUOT): disk_full and logging_failure alerts
 *
 * A level is entered as soon as free space falls under its threshold and left
 * only once free space is back over the threshold plus an eighth of it, so a
 * log hovering at a threshold raises one alert per crossing, not one per
 * check. Entering space_left, admin_space_left or full calls
 * evd_disk_relieve() once (on the timer thread, never the committer's).
 *
 * While full, the committer asks evd_disk_gate() before each batch: the
 * daemon's own events (alerts, which disk.reserve keeps room for) still go in;
 * producers' events wait in the queue (block: the queue fills and producers
 * feel the usual pushback) or are refused with -ENOSPC (reject). After an
 * append failed with ENOSPC the handle is failed (log.h): evd_disk_failed()
 * closes it and opens the log again (recovery cuts the torn tail that was
 * never acknowledged); while even that cannot be done the daemon reads
 * through a read-only handle and tries again once space returns.
 *
 * Threads: evd_disk_check() on the timer thread; evd_disk_gate() and
 * evd_disk_failed() on the committer thread (they may replace d->log, under
 * d->log_lock held for writing), as are evd_disk_survivors() and
 * evd_disk_reopened_size(); evd_disk_set_reopen_hook() before a disk fills
 * (tests); the rest from any thread.
 */
#ifndef EVD_DISK_H
#define EVD_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

#include "daemon.h"

enum evd_disk_level {
    EVD_DISK_OK = 0,
    EVD_DISK_SPACE_LEFT,
    EVD_DISK_ADMIN_SPACE_LEFT,
    EVD_DISK_FULL,
};

/* What evd_disk_gate() allows; 0: everything. */
enum {
    EVD_GATE_HOLD = 1u << 0,     /* full, block: producers' events wait in the queue */
    EVD_GATE_REFUSE = 1u << 1,   /* full, reject: producers' events are refused (-ENOSPC) */
    EVD_GATE_NO_LOG = 1u << 2,   /* no writer handle: the daemon's own events are refused too */
    EVD_GATE_REOPENED = 1u << 3, /* a writer handle was opened again: see evd_disk_survivors */
};

struct evd_disk;

struct evd_disk_stats {
    int level;                 /* enum evd_disk_level */
    uint64_t free_bytes;       /* at the last look */
    uint64_t need_bytes;       /* disk.reserve in bytes (what "full" is measured against) */
    uint64_t full_total;       /* times the disk became full */
    uint64_t enospc_total;     /* appends that failed with ENOSPC */
    uint64_t space_left_total; /* crossings under disk.space_left */
    uint64_t admin_left_total; /* crossings under disk.admin_space_left */
    uint64_t reopen_total;     /* writer handles opened again after a full disk */
    uint64_t held_events;      /* producers' events waiting for space (block) */
};

/*
 * Makes the disk watcher of d; reopen is what the log is opened with again
 * after a failure (copied; its ret_recovery is ignored). 0 or -ENOMEM.
 */
int evd_disk_new(struct evd *d, const struct ev_open_options *reopen, struct evd_disk **ret_disk);
void evd_disk_free(struct evd_disk *disk);

/* Tests: after an ENOSPC, try again after ns even if free space did not grow (default 5 s). */
void evd_disk_set_retry(struct evd_disk *disk, int64_t ns);

/*
 * Tests: fn(d, arg) runs on the committer each time a writer handle has
 * opened again, right after the daemon's other threads may use it (the
 * retention pass of the timer thread appends to it). NULL: none.
 */
void evd_disk_set_reopen_hook(struct evd_disk *disk, void (*fn)(struct evd *d, void *arg),
                              void *arg);

/* The timer's look (every second): levels, alerts, stderr lines, relief. */
void evd_disk_check(struct evd *d);

/*
 * The early retention pass, called once each time the disk enters level
 * (space_left, admin_space_left or full), on the timer thread. 0 or -errno.
 */
int evd_disk_relieve(struct evd *d, int level);

/*
 * Before a batch (committer): looks at free space (one statvfs) and returns
 * EVD_GATE_* bits. May replace *log (and d->log) with a writer handle once
 * space is back after a failure: EVD_GATE_REOPENED then says to call
 * evd_disk_survivors() before the committer appends anything (the retention
 * pass may append first: the count stops at evd_disk_reopened_size()).
 */
unsigned evd_disk_gate(struct evd_disk *disk, struct ev_log **log);

/* Whether an append's error means the disk is full (ENOSPC, EDQUOT). */
bool evd_disk_is_full_error(int rc);

/*
 * An append failed with a full-disk error (committer): enters full, closes
 * *log and opens the log again, replacing *log and d->log (a read-only handle
 * if the writer cannot open yet). Returns EVD_GATE_* bits as evd_disk_gate().
 */
unsigned evd_disk_failed(struct evd_disk *disk, struct ev_log **log, int rc);

/*
 * After a writer handle was opened again: how many of the events appended
 * from index from on survived recovery (records made durable before the
 * failure), as *ret_count events from index *ret_first, counting the
 * entries before to (evd_disk_reopened_size(): the daemon's other threads
 * may append to the new handle at once, as the retention pass does). The
 * log's own entries around them are skipped, by the type in each entry's
 * fixed prefix: seals (before a batch when an epoch ended, after it from the
 * open) and a retention entry with its seal, before the batch or after it.
 * The events of one batch are contiguous (log.c sequences a batch as one run,
 * under its `sequencing` flag). 0 or a negative error (nothing allocated).
 */
int evd_disk_survivors(struct ev_log *log, uint64_t from, uint64_t to, uint64_t *ret_first,
                       size_t *ret_count);

/* The writer's size when it last opened again, before any other thread could append. */
uint64_t evd_disk_reopened_size(const struct evd_disk *disk);

/* How many producers' events wait for space now (block), for the metrics. */
void evd_disk_held(struct evd_disk *disk, uint64_t events);

/* "disk full: 1048576 bytes free of 33554432 needed" (or of the disk's own ENOSPC). */
void evd_disk_describe(struct evd_disk *disk, char *buf, size_t size);

int evd_disk_level(struct evd_disk *disk); /* EVD_DISK_OK if disk is NULL */

/*
 * How the log's records reached the disk since the daemon started: the
 * handle's ev_log_io_stats() with the totals of the handles a reopen closed
 * added, so that the counters of /metrics never go back. Call with
 * d->log_lock held for reading.
 */
void evd_disk_io_stats(struct evd *d, struct ev_log_io_stats *ret_stats);

/*
 * Says on stderr when fills of preallocated zeros have failed since *said
 * (which it updates), with the latest error: a failed fill ends
 * preallocation for its segment, so acknowledgements under sync: always cost
 * a metadata write again until the next one. The timers call it once a
 * second; also a metric. Takes d->log_lock for reading.
 */
void evd_disk_note_fills(struct evd *d, uint64_t *said);
const char *evd_disk_level_name(int level);
void evd_disk_stats(struct evd_disk *disk, struct evd_disk_stats *ret_stats);

#endif
