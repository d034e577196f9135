/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backups of a log directory, made while its writer runs, and restores.
 *
 * A backup directory holds generations, one directory each, named
 * "YYYYMMDDTHHMMSSZ-SIZE" (UTC time of the backup, tree size it holds), so
 * that names sort in the order they were made (docs/LIFECYCLE.md):
 *
 *     BACKUP/20261127T090000Z-1024/evident.meta   the log's public parameters
 *     BACKUP/20261127T090000Z-1024/checkpoint     the checkpoint it is cut at
 *     BACKUP/20261127T090000Z-1024/checkpoints    the history up to that one
 *     BACKUP/20261127T090000Z-1024/segments/...   the records [0, SIZE)
 *     BACKUP/20261127T090000Z-1024/BACKUP         "evident-backup v1" manifest
 *
 * Invariants of a generation:
 *   - It is a prefix of the log: the records of entries 0..SIZE-1 exactly as
 *     the log holds them, cut at the signed checkpoint of size SIZE, with
 *     every checkpoint of the history up to it. `evident verify` checks it on
 *     any machine with only the public key (and V for the tags). (One
 *     exception: when SIZE falls inside a closed segment that the log already
 *     compressed, the whole segment is kept, so the generation holds a few
 *     intact records after its checkpoint, as any live log does.)
 *   - It holds no secret: never signing.key, keystate or the lock; and no
 *     derived file (hashes, index), which ev_backup_restore() rebuilds from
 *     the records (FORMAT.md §6, §10).
 *   - It is never written again once made: a generation appears by rename of
 *     a finished temporary directory (".tmp-*"), synced before the rename.
 *   - Closed segments identical to the previous generation's (same name,
 *     same size, same last 4 KiB) are hard links to it, not copies; a segment
 *     that grew is its previous copy (copy_file_range, a reflink where the
 *     file system can) plus the new bytes read from the log.
 *
 * The writer is not locked or paused: the log's files are append-only (the
 * history, the segments) or replaced atomically (the checkpoint), and a
 * checkpoint is signed only over durable records (FORMAT.md §8), so the
 * records below a checkpoint found in the history are on disk and final.
 *
 * Functions here are safe to call from any thread; two backups into the same
 * directory at the same time are not (the later rename fails cleanly).
 */
#ifndef EVIDENT_BACKUP_H
#define EVIDENT_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/merkle.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define EV_BACKUP_MANIFEST "BACKUP"
#define EV_BACKUP_NAME_MAX 64 /* bytes of a generation name */
#define EV_BACKUP_MAX_GENERATIONS 10000
#define EV_BACKUP_MAX_SEGMENTS 1000000

struct ev_backup_options {
    uint64_t keep; /* generations kept after this one is made, oldest removed first;
                      0 = keep all */
    /*
     * Verify the new generation (public key only) against the checkpoint of
     * the previous one before keeping it: catches a log truncated or forked
     * since the last backup. Costs a full read of the new generation.
     */
    bool verify;
    const char *pubkey; /* for verify: pinned verifier key; NULL = evident.meta's */
    int64_t now_ns;     /* the time in the generation's name; 0 = now */
};

struct ev_backup_report {
    char generation[EV_BACKUP_NAME_MAX]; /* name of the new (or unchanged latest) one */
    bool unchanged;                      /* the latest generation already holds this checkpoint */
    uint64_t tree_size;                  /* entries covered by its checkpoint */
    uint64_t records;                    /* intact records it holds (>= tree_size) */
    uint64_t bytes_copied;               /* bytes read from the log and written */
    uint64_t bytes_cloned;               /* bytes taken from the previous generation's copy */
    uint64_t bytes_linked;        /* bytes shared with the previous generation (hard links) */
    uint64_t segments_copied;     /* segment files written (whole or in part) */
    uint64_t segments_linked;     /* segment files hard-linked */
    uint64_t generations_removed; /* by keep */
    uint64_t previous_size;       /* tree size of the previous generation, 0 if none */
};

/*
 * Makes a new generation of the log in log_dir under backup_dir (created if
 * missing, mode 0700), then removes the oldest generations beyond keep.
 * options may be NULL (defaults). When the latest generation already holds
 * the log's latest checkpoint nothing is written and report->unchanged is set.
 * Returns 0, or:
 *   EV_ETRUNCATED  the log's latest checkpoint is smaller than the previous
 *                  generation's: the log shrank (nothing is written or removed)
 *   EV_EVERIFY     options->verify: the new generation did not verify against
 *                  the previous checkpoint (it is removed; nothing else is)
 *   EV_EBADSIG     the log's checkpoint does not verify with its key
 *   EV_EFORMAT     the log's files are not as FORMAT.md says
 *   -errno         I/O (-ENOENT: no log; -ENOSPC, ...)
 * ret_report (may be NULL) is filled on success; on EV_EVERIFY its
 * generation names the removed attempt and ev_last_error() says why.
 */
int ev_backup_create(const char *log_dir, const char *backup_dir,
                     const struct ev_backup_options *options, struct ev_backup_report *ret_report);

/*
 * The generations in backup_dir, oldest first: *ret_names is an array of
 * *ret_count NUL-terminated names (caller frees with ev_backup_names_free()).
 */
int ev_backup_list(const char *backup_dir, char ***ret_names, size_t *ret_count);
void ev_backup_names_free(char **names, size_t count);

struct ev_restore_report {
    char generation[EV_BACKUP_NAME_MAX];
    uint64_t tree_size;          /* size of the checkpoint restored */
    uint64_t records;            /* records restored */
    uint8_t root[EV_HASH_BYTES]; /* root at tree_size, recomputed from the records */
    uint64_t bytes;              /* bytes written */
};

/*
 * Restores a generation into new_dir, which must not exist or be empty:
 * from is a generation directory, or a backup directory (its latest
 * generation). Copies the files, rebuilds the derived files (hashes, index)
 * from the records and checks the rebuilt tree's root equals the checkpoint's
 * (EV_ETAMPERED if not). The result is a log that `evident verify`, readers
 * and proofs use as they would the original. It has no signing key and no key
 * state: it cannot be appended to (docs/LIFECYCLE.md says why and what to do
 * instead). Returns 0, EV_EFORMAT (not a generation), EV_ETAMPERED, -EEXIST
 * (new_dir not empty) or -errno. On failure new_dir is removed if this call
 * made it.
 */
int ev_backup_restore(const char *from, const char *new_dir, struct ev_restore_report *ret_report);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
