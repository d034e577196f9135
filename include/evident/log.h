/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct ev_log: one evident log directory, opened for writing or reading.
 *
 * A log is an append-only sequence of entries (docs/FORMAT.md §5), each in an
 * RFC 6962 Merkle tree and a hash chain, each record carrying a forward-secure
 * tag, every epoch closed by a seal, with signed checkpoints.
 *
 * Invariants:
 *   - An entry, once appended, is never changed; its index never changes.
 *   - With EV_SYNC_ALWAYS an append returns only after its record is durable
 *     (fdatasync); concurrent appends share one fdatasync (group commit).
 *   - A checkpoint is signed only over durable records and never over a tree
 *     smaller than one signed before.
 *
 * Processes: one writer at a time holds an exclusive lock on the directory; any
 * number of readers (EV_OPEN_READONLY) take no lock and see a consistent prefix
 * of the log (call ev_log_refresh() to see entries written since).
 *
 * Threads: every function on a struct ev_log may be called from any thread
 * concurrently, except ev_log_close(). Appends from many threads are batched.
 * A writer handle may start threads of its own, all stopped by ev_log_close():
 * the flusher (sync interval and never), the compressor (zstd), and, at the
 * first batch of 64 events or more on a machine with more than one CPU, the
 * leaf hasher, which computes leaf hashes while the appending thread chains
 * and tags. Threads do not survive fork(): a child must not use or close a
 * writer handle its parent opened (it may open its own after the parent's is
 * closed; the directory lock allows one writer).
 *
 * The library never prints, logs or exits. Failures return a negative code
 * (include/evident/error.h) and describe themselves in ev_last_error().
 */
#ifndef EVIDENT_LOG_H
#define EVIDENT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/merkle.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

#define EV_ENTRY_MAX_BYTES 65535u
#define EV_VERIFICATION_KEY_BYTES 32
#define EV_DEFAULT_SEAL_INTERVAL_NS (15ull * 60 * 1000000000ull)
#define EV_MIN_SEAL_INTERVAL_NS 1000000000ull
#define EV_DEFAULT_CHECKPOINT_INTERVAL_NS (60ull * 1000000000ull)
#define EV_DEFAULT_SEGMENT_BYTES (64ull << 20)
#define EV_DEFAULT_LOCK_TIMEOUT_MS 5000

struct ev_log;

/*
 * How appends reach the disk. Under interval and never a writer thread of the
 * handle (the flusher) writes and syncs, so appends do not wait for I/O; it
 * syncs when the interval is over even if no append follows.
 */
enum ev_sync {
    EV_SYNC_ALWAYS = 0,   /* fdatasync before an append returns (default) */
    EV_SYNC_INTERVAL = 1, /* fdatasync at most sync_interval_ns after an append */
    EV_SYNC_NEVER = 2,    /* fdatasync only at seals, checkpoints, rotations and close */
};

/* Parses "always", "interval", "never". Returns 0 or EV_EFORMAT. */
int ev_sync_parse(const char *name, enum ev_sync *ret_sync);

struct ev_create_options {
    const char *origin;        /* required: checkpoint origin and key name */
    uint64_t seal_interval_ns; /* 0 = EV_DEFAULT_SEAL_INTERVAL_NS; >= 1 s */
};

/*
 * Creates a new log in dir (created if missing; must be empty of evident files).
 * Writes the 32-byte verification key V to ret_verification_key: the caller
 * shows it to the operator once and must not store it on the host. Returns
 * -EEXIST if dir already holds a log.
 */
int ev_log_create(const char *dir, const struct ev_create_options *options,
                  uint8_t ret_verification_key[EV_VERIFICATION_KEY_BYTES]);

enum {
    EV_OPEN_READONLY = 1u << 0, /* no lock, no recovery, no appends */
    /*
     * A writer given data_keys does not encrypt what it appends: encryption
     * was turned off, and the keys are there only to read older entries.
     */
    EV_OPEN_DECRYPT_ONLY = 1u << 1,
};

/* What recovery did at open (see docs/FORMAT.md §10). */
struct ev_recovery {
    uint64_t records_scanned; /* records read past the derived files */
    uint64_t torn_bytes;      /* cut from the tail (never acknowledged), but trailing zeros */
    uint64_t torn_records;    /* whole-looking records among them */
    uint64_t rebuilt_entries; /* entries whose hashes/index were rebuilt */
    uint64_t seals_written;   /* epochs sealed at open because time passed */
};

struct ev_open_options {
    unsigned flags;                   /* EV_OPEN_* */
    enum ev_sync sync;                /* default EV_SYNC_ALWAYS */
    uint64_t sync_interval_ns;        /* EV_SYNC_INTERVAL; 0 = 1 s */
    uint64_t checkpoint_interval_ns;  /* 0 = EV_DEFAULT_CHECKPOINT_INTERVAL_NS */
    uint64_t segment_bytes;           /* 0 = EV_DEFAULT_SEGMENT_BYTES; at least one largest
                                         record (65,611 bytes) is used if smaller */
    int lock_timeout_ms;              /* wait for the writer lock; 0 = default, <0 = no wait */
    struct ev_recovery *ret_recovery; /* optional: filled on successful open */
    /*
     * Rotation by age: a segment whose first record is older than this is
     * closed, and a new one started, at the next append, seal or checkpoint
     * (docs/FORMAT.md §3). 0 = no age limit (only segment_bytes rotates).
     */
    uint64_t segment_max_age_ns;
    /*
     * Compression of closed segments (docs/FORMAT.md §3.1): an enum
     * ev_compression (evident/config.h). With EV_COMPRESSION_ZSTD a thread of
     * the writer compresses every closed segment into NNN.seg.zst in the
     * background, including closed segments left uncompressed by an earlier
     * run; appends never wait for it, and close abandons (crash-safely) a
     * compression under way, which the next open redoes. Default 0 = none.
     * Reading, proofs, recovery and verification handle both forms whatever
     * this says.
     */
    int compression;
    int compression_level; /* zstd level 1..19; 0 = 3 */
    /*
     * Encryption at rest (docs/FORMAT.md §5.1, evident/datakey.h), borrowed:
     * it must outlive the handle. A writer encrypts the source and data of
     * every event it appends under the keyring's current (last) key, unless
     * flags has EV_OPEN_DECRYPT_ONLY; seals stay plain. A reader, and ev_log_decrypt(), decrypt
     * with any key of it. NULL (default): nothing is encrypted, and encrypted entries can be listed
     * and verified but not read. ev_log_entry() and ev_log_scan() always give the stored bytes,
     * which are what is hashed.
     */
    struct ev_datakeys *data_keys;
    /*
     * Bytes of zeros the writer keeps written ahead of its records in the
     * last segment (docs/FORMAT.md §3), so that an fdatasync of new records
     * writes no file system metadata (the file neither grows nor allocates):
     * faster acknowledgements when each commit is synced (evidentd under
     * `sync: always` syncs with ev_log_sync()). The flusher writes them, so
     * only with sync interval or never; a file system without direct I/O
     * (tmpfs) turns it off. Closing the handle, and every rotation, cut the
     * zeros; a crash leaves them, and the next writer's recovery cuts them.
     * Rounded up to MiB. 0 (default) = off.
     */
    uint64_t preallocate;
    /*
     * No O_DIRECT writes at all: every record through the page cache, and no
     * preallocation (its zeros are direct writes). By default the writer sends
     * large writes of records around the page cache where the file system
     * allows, and falls back by itself where it refuses them (DESIGN.md,
     * "Writing an entry", step 5); this is for storage that takes O_DIRECT
     * but handles it badly. The bytes written are the same either way.
     */
    bool no_direct_io;
};

/*
 * Opens the log in dir. options may be NULL (write, defaults). A writer takes
 * the lock (EV_ELOCKED after lock_timeout_ms; ev_last_error() names the pid
 * holding it), recovers (FORMAT.md §10), loads the signing key (EV_EKEYPERM if
 * its mode is not 0600) and seals epochs whose time has passed.
 */
int ev_log_open(const char *dir, const struct ev_open_options *options, struct ev_log **ret_log);

/*
 * Seals epochs whose time has passed, makes everything durable, signs a
 * checkpoint if the tree grew, releases the lock and frees. Accepts NULL.
 * Returns the first error met; the handle is freed in every case.
 */
int ev_log_close(struct ev_log *log);

/* Syslog severities, in syslog order. */
enum ev_severity {
    EV_SEV_EMERGENCY = 0,
    EV_SEV_ALERT,
    EV_SEV_CRITICAL,
    EV_SEV_ERROR,
    EV_SEV_WARNING,
    EV_SEV_NOTICE,
    EV_SEV_INFO,
    EV_SEV_DEBUG,
};

/* "emergency" ... "debug"; NULL for an out-of-range value. */
const char *ev_severity_name(int severity);
/* Accepts the names above and the aliases emerg, crit, err, warn. 0 or EV_EFORMAT. */
int ev_severity_parse(const char *name, int *ret_severity);

/* An event to append. Strings are borrowed for the duration of the call. */
struct ev_event {
    const char *type;        /* required, docs/FORMAT.md §5 */
    int severity;            /* enum ev_severity */
    const char *source_json; /* a JSON object, or NULL to fill host/program/pid/user */
    const char *data_json;   /* a JSON object, or NULL for {} */
};

/*
 * Appends one event and writes its index to *ret_index (may be NULL).
 * Returns EV_EJSON for a malformed event (nothing written), EV_ETOOBIG if the
 * entry would exceed EV_ENTRY_MAX_BYTES (nothing written), -errno on I/O
 * failure (the log stays verifiable; the event is not acknowledged).
 * After any I/O failure (a write, a sync, a new segment, a checkpoint) every
 * later call on the handle fails with the same code: close it and reopen,
 * which recovers from what is on disk.
 */
int ev_log_append(struct ev_log *log, const struct ev_event *event, uint64_t *ret_index);

/*
 * Appends count events as consecutive entries, all or nothing as to
 * validation: if any event is malformed nothing is written and *ret_bad (may be
 * NULL) gets its position. On success writes the first index to *ret_first.
 */
int ev_log_append_batch(struct ev_log *log, const struct ev_event *events, size_t count,
                        uint64_t *ret_first, size_t *ret_bad);

/* Closes the current epoch now (appends its seal) and signs a checkpoint. */
int ev_log_seal(struct ev_log *log);

/* Makes every appended entry durable (whatever the sync mode). */
int ev_log_sync(struct ev_log *log);

/*
 * Signs a new checkpoint over every entry (after making them durable) unless
 * the latest already covers them. Writer only.
 */
int ev_log_checkpoint(struct ev_log *log);

/*
 * Seals the epochs whose time has passed, even when no entry arrives, and
 * then signs a checkpoint. Returns the number of seals written (0: none was
 * due; that check takes no I/O), or a negative code. Writer only: a daemon
 * calls it on a timer.
 */
int ev_log_seal_due(struct ev_log *log);

/*
 * The latest signed checkpoint note, NUL-terminated; caller frees *ret_note.
 * -ENOENT if none has been signed yet.
 */
int ev_log_latest_checkpoint(struct ev_log *log, char **ret_note, size_t *ret_len);

/* Reader: picks up entries the writer appended since open or the last refresh. */
int ev_log_refresh(struct ev_log *log);

/* Number of entries this handle sees. */
uint64_t ev_log_size(struct ev_log *log);

struct ev_log_info {
    char origin[256];
    char vkey[512]; /* the verifier key recorded at init */
    uint64_t tree_size;
    uint8_t root[EV_HASH_BYTES];
    uint8_t chain_head[EV_HASH_BYTES]; /* c(tree_size - 1), zeros if empty */
    uint64_t seal_interval_ns;
    int64_t start_ns;
    uint32_t last_epoch;         /* epoch of the last entry */
    bool last_epoch_sealed;      /* the last entry is a seal */
    uint64_t open_epoch_entries; /* entries after the last seal */
    int64_t open_epoch_since_ns; /* ts of the first of them, 0 if none */
    uint64_t checkpoint_size;    /* tree size of the latest checkpoint, 0 if none */
    uint64_t disk_bytes;         /* all files of the log directory */
    uint64_t record_bytes;       /* segment bytes (records and headers) */
};

/* Fills *ret_info (O(log n) reads plus a scan back to the last seal). */
int ev_log_info(struct ev_log *log, struct ev_log_info *ret_info);

/*
 * How a writer's records reach the disk, since it opened (evidentd's
 * /metrics): whether large writes go around the page cache and what went
 * that way (ev_open_options.no_direct_io, DESIGN.md "Writing an entry"),
 * and the preallocation's zeros and failures (ev_open_options.preallocate).
 * A failed fill only ends preallocation for its segment (the records' own
 * writes meet a lasting fault); the next segment tries again.
 */
struct ev_log_io_stats {
    bool direct_io;                  /* large writes of records go around the page cache (not
                                        with compression, which reads them back) */
    uint64_t direct_bytes;           /* bytes written that way */
    bool preallocating;              /* preallocate is on (sync interval or never) and the file
                                        system allows it; a failed fill stops it for the rest
                                        of its segment only, and this stays true */
    uint64_t preallocated_bytes;     /* zeros written ahead of the records */
    uint64_t preallocation_failures; /* fills that failed */
    int preallocation_error;         /* the last one's code (-errno: -ENOSPC, -EIO), 0 if none */
    bool inplace_sync;               /* records over those zeros can be synced without the
                                        segment's inode (ext4 without a journal) */
    uint64_t inplace_syncs;          /* syncs done that way */
    bool fsync_gap;                  /* ext4 without a journal on a kernel whose fdatasync
                                        would not cover preallocated overwrites and direct
                                        writes: both are off (DESIGN.md "Writing an entry") */
};

/* Fills *ret_stats; a reader's are all zero. 0, or -EINVAL for NULL arguments. */
int ev_log_io_stats(struct ev_log *log, struct ev_log_io_stats *ret_stats);

/* One stored entry. */
struct ev_entry {
    uint64_t index;
    uint32_t epoch;
    uint8_t tag[EV_HASH_BYTES];
    uint8_t leaf_hash[EV_HASH_BYTES];
    size_t len;
    char *bytes; /* the exact entry bytes, NUL added after them */
};

/* Reads entry index. Caller frees with ev_entry_free(). EV_ERANGE if index >= size. */
int ev_log_entry(struct ev_log *log, uint64_t index, struct ev_entry **ret_entry);
void ev_entry_free(struct ev_entry *entry);

/* c(index): the hash chain value after entry index (O(index) hashing). */
int ev_log_chain_hash(struct ev_log *log, uint64_t index, uint8_t ret_chain[EV_HASH_BYTES]);

/* Root of the tree of the first tree_size entries (tree_size <= size). */
int ev_log_root(struct ev_log *log, uint64_t tree_size, uint8_t ret_root[EV_HASH_BYTES]);

/* Inclusion proof of entry index in the tree of tree_size entries. */
int ev_log_prove_inclusion(struct ev_log *log, uint64_t index, uint64_t tree_size,
                           uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len);

/* Consistency proof from old_size to new_size (1 <= old_size <= new_size <= size). */
int ev_log_prove_consistency(struct ev_log *log, uint64_t old_size, uint64_t new_size,
                             uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len);

/*
 * Filters for ev_log_scan(). NULL strings and zero times match everything;
 * max_severity must be set: -1 matches any (0 means emergency only).
 */
struct ev_filter {
    const char *type;   /* exact type */
    int max_severity;   /* this severity or more severe; -1 = any */
    const char *source; /* substring of the source object's JSON text */
    int64_t since_ns;   /* ts >= since_ns (0 = no bound) */
    int64_t until_ns;   /* ts < until_ns (0 = no bound) */
};

/*
 * Calls visit for each entry in [from, to) that matches filter (NULL = all),
 * in order. The entry passed is valid only during the call. A non-zero return
 * from visit stops the scan and is returned.
 */
typedef int (*ev_visit_fn)(void *ctx, const struct ev_entry *entry);
int ev_log_scan(struct ev_log *log, uint64_t from, uint64_t to, const struct ev_filter *filter,
                ev_visit_fn visit, void *ctx);

/* Parses "2026-11-27T09:00:00Z" (any fraction, Z or +hh:mm) to ns since the epoch. */
int ev_time_parse(const char *text, int64_t *ret_ns);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
