/* SPDX-License-Identifier: Apache-2.0 */
/* struct ev_log, shared by log.c (writing, recovery) and read.c (reading). */
#ifndef EVI_LOG_INTERNAL_H
#define EVI_LOG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <evident/log.h>
#include <evident/note.h>

#include "cpindex.h"
#include "direct.h"
#include "inplace.h"
#include "prealloc.h"
#include "fskey.h"
#include "leafhash.h"
#include "store.h"
#include "tree.h"

struct evi_buf {
    uint8_t *data;
    size_t len, cap;
};

/* Sets of commit buffers kept for reuse (struct ev_log's spare). */
#define EVI_SPARE_SETS 2

/* Bytes sequenced but not yet handed to the kernel, with where they go. */
/*
 * The entries of a run (log.c, sequence_run_locked): where each entry was
 * assembled in the pending records, its ts, and its leaf hash once computed.
 */
struct evi_run {
    struct evi_leaf_item *items;
    int64_t *ts;
    uint8_t (*leaves)[EV_HASH_BYTES];
    size_t cap;
};

struct evi_pending {
    struct evi_buf records, hashes, index;
    int segment_fd;
    uint64_t segment_first; /* that segment's first index (its file name) */
    uint64_t records_off, hashes_off, index_off;
};

struct ev_log {
    char *dir;
    int dirfd;
    bool writer;
    struct evi_meta meta;
    struct evi_segment *segments;
    size_t segment_count;
    int hashes_fd, index_fd;

    /* Where the history's notes of each tree size are (cpindex.h: its own lock). */
    struct evi_cpindex checkpoints_index;

    pthread_mutex_t mu; /* guards all that follows, and segments */
    pthread_cond_t cv;
    uint64_t size; /* entries sequenced (writer) or visible (reader) */

    /* writer only */
    struct ev_open_options options;   /* data_keys: atomic, see evi_log_data_keys() */
    struct ev_datakeys *encrypt_keys; /* atomic: what appends encrypt under, or NULL */
    int lock_fd, keystate_fd;
    struct ev_signer *signer;
    struct evi_fskey key;         /* state for record `size`; key.chain = c(size - 1) */
    struct evi_frontier frontier; /* tree of `size` entries */
    uint64_t segment_end;         /* end of the last sequenced record in the last segment */
    struct evi_pending pending;
    /*
     * Buffers of finished commits kept for the next pending ones (records,
     * hashes, index; log.c, spare_take()). Two sets: a rotation during a
     * commit needs a third set beside the pending and the closing ones.
     */
    struct evi_buf spare[EVI_SPARE_SETS][3];
    uint64_t buffers_allocated; /* buffer (re)allocations for pending bytes (tests) */
    size_t buffer_peak[3];      /* the largest each kind of pending buffer grew to */
    uint64_t pages_dropped_at;  /* size when the flusher last dropped the buffers' pages */
    uint64_t written;           /* entries handed to the kernel, the derived files too */
    uint64_t durable;           /* entries known durable, the derived files written */
    uint64_t records_durable;   /* entries whose records are durable (>= durable) */
    bool committing;
    bool sequencing; /* one caller sequences at a time, batches stay whole */
    int failed;      /* sticky: a write or sync failed; reopen to go on */
    uint64_t checkpoint_size;
    bool have_checkpoint;
    int64_t checkpoint_ns, sync_ns;
    int64_t sync_cost_ns;       /* how long the last fdatasync took */
    uint64_t calls_pending;     /* append calls sequenced since the last commit began */
    uint64_t calls_last_commit; /* append calls the last sync commit carried */
    int64_t segment_first_ns;   /* ts of the first record of the last segment (age rotation) */
    uint64_t rotations;         /* segments closed by this handle */
    char failed_message[256];   /* what made the handle fail, for every thread's later calls */
    int dropped_fd;             /* the commit's thread only: the segment whose durable records */
    uint64_t dropped_to;        /* left the page cache up to this offset (drop_durable) */
    struct evi_direct direct;   /* committer only: records around the page cache (direct.h) */
    struct evi_inplace inplace; /* committer only: syncs without the inode (inplace.h) */
    struct evi_run run;         /* the sequencer's: a run of a batch (log.c) */
    struct evi_leaf_hasher *leaf_hasher; /* started at the first long run (leafhash.h) */
    bool leaf_hasher_off;                /* one CPU, or it could not start: hash inline */

    /*
     * A rotation whose closing segment still has records that are not durable
     * (log.c, rotate_if_due_locked): those records with where they go, and the
     * key state to record once they are durable. The next commit writes and
     * syncs them, then creates the next segment; until then the next
     * segment's records wait in pending, so that none of them can reach the
     * disk before the closing segment is whole.
     */
    bool rotating;
    struct evi_pending closing;
    uint64_t closing_size;        /* entries up to the end of the closing segment */
    uint64_t closing_end;         /* its length in bytes */
    struct evi_fskey closing_key; /* the key state at closing_size: secret, wiped */

    /* writer, sync interval or never: the flusher writes and syncs for the appenders */
    pthread_t flusher;
    pthread_cond_t flush_cv; /* wakes the flusher: work is due, or stop */
    bool flusher_running;
    bool flusher_stop;
    bool flusher_idle; /* waiting with no sync to time: an append must wake it */
    /*
     * Zeros ahead of the records in the last segment (ev_open_options.preallocate,
     * prealloc.h): the flusher wrote segment prealloc_first's bytes up to
     * prealloc_end (zeros beyond the records, or a gap a fill skipped). While it
     * writes them (filling), a commit of records that reach fill_from waits.
     * Of them, [zeros_from, zeros_durable) is one run that fills wrote and
     * synced: allocated, within the durable size (inplace.h).
     */
    struct evi_prealloc prealloc; /* the flusher's */
    uint64_t prealloc_first, prealloc_end, fill_from;
    uint64_t zeros_from, zeros_durable;
    bool filling;
    /*
     * ev_log_io_stats(), under the mutex: copied from direct and prealloc
     * (which their threads use without it) when a commit or a fill ends.
     */
    struct ev_log_io_stats io;

    /*
     * A sync commit whose records are durable, handed to the flusher for what
     * derives from them (log.c, commit_locked): the stored hashes, the index entries and
     * the key state. The commit stays under way (committing) until it is done.
     */
    struct evi_handed_off {
        bool pending;
        int fd; /* the segment */
        struct evi_buf taken[3];
        uint64_t off[3];
        uint64_t target; /* entries the commit carries */
        uint64_t calls;  /* append calls it carried (gather_locked) */
        int64_t sync_cost_ns;
        struct evi_fskey key; /* the key state at target: secret, wiped */
    } derived;

    /* readers and writer: compressed segments and the fds that scans may still use */
    struct evi_zcache *zcache; /* random reads (read_entry), under mu */
    unsigned scans;            /* scans running over a copy of the segment table */
    int *retired_fds;          /* fds replaced while a scan ran: closed when none does */
    size_t retired_count, retired_cap;
    uint64_t **retired_zframes; /* seek tables of replaced segments: freed the same way */
    size_t retired_zcount, retired_zcap;

    /* writer: the background compressor of closed segments (FORMAT.md §3.1) */
    pthread_t compressor;
    pthread_cond_t compress_cv; /* wakes the compressor: a rotation, or stop */
    bool compressor_running;
    bool compressor_stop; /* read without mu between frames */
    bool compressor_busy;
    bool pruning;                /* ev_log_prune is replacing segments: the compressor holds off */
    int compress_error;          /* the compressor's last failure; 0 = none */
    uint64_t compress_failed_at; /* rotations when it failed: retried after the next one */
};

/* Writer: makes entries up to `upto` readable through the files (no sync). */
int evi_log_flush_for_read(struct ev_log *log, uint64_t upto);

/*
 * ev_log_append_batch where library_len[i] > 0 says that event i's data was
 * written by the library itself in canonical form (ev_audit_*) and is that
 * many bytes long: that data is neither checked nor measured again. 0: the
 * caller's JSON, checked as always. Sources, types and severities are checked
 * as always. Event i is at (const char *)events + i * stride: sizeof(struct
 * ev_event) for an array of events, sizeof(struct ev_prepared) to read the
 * events of prepared ones in place (their first member) without copying them.
 */
int evi_log_append_library_data(struct ev_log *log, const struct ev_event *events, size_t stride,
                                const size_t *library_len, size_t count, uint64_t *ret_first,
                                size_t *ret_bad);

/* Segment that holds entry index (the last one whose first index <= index). */
size_t evi_log_segment_of(const struct ev_log *log, uint64_t index);

/* Hash reader over the hashes file, for tree.c. ctx is the struct ev_log. */
int evi_log_read_hash(void *ctx, uint64_t stored_index, uint8_t ret[EV_HASH_BYTES]);

/*
 * An fd of a segment that was replaced in log->segments (a .seg now read as
 * its .seg.zst): closed now if no scan holds a copy of the table, else when
 * the last one ends. Called with log->mu held.
 */
void evi_log_retire_fd_locked(struct ev_log *log, int fd);

/* The same for a replaced segment's seek table (zframes), which copies of the table share. */
void evi_log_retire_zframes_locked(struct ev_log *log, uint64_t *zframes);

/* Starts (scan_begin) and ends a scan over a copy of the table; mu held. */
void evi_log_scan_end_locked(struct ev_log *log);

/*
 * Writer with compression: waits until the compressor has nothing left to do
 * (every closed segment compressed, or it failed). Returns its last failure
 * (0 if none). For tests and benchmarks.
 */
int evi_log_compress_wait(struct ev_log *log);

/*
 * Writer: appends an entry of the log's own (a reserved type: retention) with
 * data already canonical, then seals its epoch and signs a checkpoint, so that
 * the entry is durable, sealed and signed when this returns. *ret_index gets
 * its index.
 */
int evi_log_append_own(struct ev_log *log, const char *type, int severity, const char *data_json,
                       uint64_t *ret_index);

/* Reads entry index's record offset from the index file. */
int evi_log_entry_offset(struct ev_log *log, uint64_t index, uint64_t *ret_offset);

/*
 * The data keys of a handle (ev_open_options.data_keys) and those a writer
 * encrypts under: ev_log_set_data_keys() may replace both while other threads
 * append and read, so they are read once per use with these.
 */
static inline struct ev_datakeys *evi_log_data_keys(struct ev_log *log)
{
    return __atomic_load_n(&log->options.data_keys, __ATOMIC_ACQUIRE);
}

static inline struct ev_datakeys *evi_log_encrypt_keys(struct ev_log *log)
{
    return __atomic_load_n(&log->encrypt_keys, __ATOMIC_ACQUIRE);
}

#endif
