/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: removing the bytes of old entries while the log stays verifiable
 * (docs/LIFECYCLE.md, FORMAT.md §3.2).
 *
 * What goes is whole closed segments, oldest first: a segment expires when
 * its newest entry is older than max_age, or while the log's segments take
 * more than max_bytes on disk. An expired segment is replaced by its pruned
 * form, which keeps for every record its epoch, tag and leaf hash (and keeps
 * seals and retention entries whole), so:
 *   - every checkpoint ever signed still verifies, and every entry that is
 *     kept still has inclusion and consistency proofs;
 *   - verification still checks the hash chain, the epochs and seals and,
 *     with V, every tag across the pruned range;
 *   - reading a pruned entry fails with EV_EPRUNED.
 *
 * Before anything is removed the writer appends a `retention` entry naming
 * every segment it removes (its file, index range, entry count, size, the
 * SHA-256 of its bytes and the SHA-256 of its leaf hashes), seals its epoch
 * and signs a checkpoint; `evident verify` fails any pruned segment that no
 * retention entry accounts for.
 */
#ifndef EVIDENT_RETENTION_H
#define EVIDENT_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define EV_DEFAULT_RETENTION_MAX_AGE_NS (30ull * 24 * 3600 * 1000000000ull)

struct ev_retention {
    uint64_t max_age_ns; /* a segment whose newest entry is this old expires; 0 = no limit */
    uint64_t max_bytes;  /* while the segments still holding their entries take more than
                            this on disk, the oldest expire; 0 = no limit */
    int64_t now_ns;      /* the clock for max_age and min_age; 0 = now */
    /*
     * Early pruning when the disk runs low: while the log's file system has
     * less than want_free_bytes free (counting what this pruning frees), the
     * oldest segments whose newest entry is at least min_age_ns old expire
     * too ("disk_space"). Both 0 = off; min_age_ns is the retention the
     * operator must keep whatever the disk says.
     */
    uint64_t want_free_bytes;
    uint64_t min_age_ns;
};

/* One segment that retention removed (or, in a dry run, would remove). */
struct ev_pruned_segment {
    char file[64];         /* its file name before: "NNN.seg" or "NNN.seg.zst" */
    uint64_t first, last;  /* the index range it held */
    uint64_t bytes;        /* its size on disk before */
    uint64_t pruned_bytes; /* the size of its pruned form (0 in a dry run) */
    int64_t newest_ns;     /* the ts of its last entry */
    const char *reason;    /* "max_age", "max_bytes" or "disk_space" */
};

struct ev_prune_report {
    struct ev_pruned_segment *segments; /* oldest first */
    size_t count;
    uint64_t entries;         /* entries whose bytes went */
    uint64_t bytes_freed;     /* disk bytes freed (the pruned forms subtracted) */
    uint64_t log_bytes;       /* segment bytes on disk before */
    uint64_t retention_index; /* the last retention entry written (when count > 0, not dry) */
    bool dry_run;
};

enum {
    EV_PRUNE_DRY_RUN = 1u << 0, /* decide and report only; nothing is written */
};

/*
 * Writer only. Removes the bytes of every expired closed segment as the
 * header above says. Returns 0 with report->count = 0 when nothing expired.
 * On failure nothing was removed, or (after the retention entry became
 * durable) the segments it names are removed by the next prune, and the log
 * verifies in every case. The caller frees the report with
 * ev_prune_report_free().
 */
int ev_log_prune(struct ev_log *log, const struct ev_retention *policy, unsigned flags,
                 struct ev_prune_report *ret_report);
void ev_prune_report_free(struct ev_prune_report *report);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
