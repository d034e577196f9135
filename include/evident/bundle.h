/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Export bundles: a contiguous range of entries together with everything an
 * auditor needs to check them offline against one signed checkpoint: the
 * checkpoint note, each entry's exact bytes, its record's epoch and tag, and
 * its RFC 9162 inclusion proof. The format is normative in docs/FORMAT.md §11
 * ("evident-bundle/v1", one JSON document in one canonical serialization).
 *
 * What a bundle proves: every entry in it is, byte for byte, entry number
 * `index` of the log whose key signed the checkpoint, and the entries are the
 * whole range [from, to) with nothing left out. Seals inside the range are
 * checked against the entries (epoch structure, chain head; and the root when
 * the range starts at 0). Record tags can only be checked with the log's
 * verification key V; without it the report says they were not checked.
 *
 * A bundle carries its log's verifier key, but a key that comes with the data
 * proves nothing by itself: pin the key (pubkey) you obtained elsewhere. The
 * report says which key the checkpoint was checked with.
 *
 * Threads: ev_bundle_export() takes the same rules as the other functions on
 * a struct ev_log; ev_bundle_verify() touches no shared state. Neither prints.
 */
#ifndef EVIDENT_BUNDLE_H
#define EVIDENT_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <evident/log.h>
#include <evident/merkle.h>
#include <evident/verify.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

#define EV_BUNDLE_FORMAT "evident-bundle/v1"
#define EV_BUNDLE_MAX_BYTES (1ull << 30)   /* largest bundle ev_bundle_verify() reads */
#define EV_BUNDLE_TO_CHECKPOINT UINT64_MAX /* `to` meaning "the latest checkpoint's size" */

/*
 * The signed checkpoint of exactly tree_size entries from the log's
 * checkpoint history (DIR/checkpoints, docs/FORMAT.md §8), NUL-terminated;
 * caller frees *ret_note. Only notes validly signed by the log's key are
 * considered; of several with that size the latest is returned. The handle
 * keeps an index of the history (16 bytes a note, src/lib/cpindex.h): a call
 * reads only the notes appended since the last one and the one it returns.
 * Thread-safe. Returns -ENOENT (with ev_last_error() saying so) if there is none,
 * EV_ECORRUPT if the history file is damaged before one is found, -errno on
 * I/O failure.
 */
int ev_log_checkpoint_at(struct ev_log *log, uint64_t tree_size, char **ret_note, size_t *ret_len);

/*
 * Writes the bundle of entries [from, to) under the latest signed checkpoint
 * to out (docs/FORMAT.md §11). to may be EV_BUNDLE_TO_CHECKPOINT. Requires
 * from <= to <= the checkpoint's tree size (EV_ERANGE otherwise: sign a newer
 * checkpoint first). The caller owns out and flushes/closes it; on failure
 * out holds a partial bundle that the caller should discard.
 * Returns 0, -ENOENT if no checkpoint exists, EV_ERANGE, EV_ECORRUPT if a
 * record in the range is damaged, -errno on read or write failure.
 */
int ev_bundle_export(struct ev_log *log, uint64_t from, uint64_t to, FILE *out);

/* What ev_bundle_verify() checked and, on failure, where it failed. */
struct ev_bundle_report {
    enum ev_failure failure; /* EV_FAIL_NONE when verified */
    uint64_t entry;          /* first bad entry (when has_entry) */
    bool has_entry;
    char detail[256]; /* one line: what was expected and what was found */

    bool key_pinned; /* checked with the caller's key, not the bundle's */
    char vkey[512];  /* the verifier key the checkpoint was checked with */
    char origin[256];
    uint64_t from, to;        /* the range the bundle claims */
    bool checkpoint_verified; /* its signature checked out; size and root are set */
    uint64_t checkpoint_size;
    uint8_t checkpoint_root[EV_HASH_BYTES];
    uint64_t entries;     /* entries whose inclusion proof verified */
    uint64_t seals;       /* seals among them, each checked */
    bool root_recomputed; /* from == 0 and to == checkpoint size: root rebuilt */
    bool tags_checked;    /* the verification key was given */
};

/*
 * Verifies a bundle (text, len bytes; at most EV_BUNDLE_MAX_BYTES).
 * pubkey: the pinned verifier key, or NULL to use the bundle's own (then the
 * result only shows the bundle is self-consistent). verification_key: the
 * log's 32-byte V to check record tags too, or NULL.
 * Any change to any byte of a bundle makes it fail. Returns 0 after full
 * success; EV_EVERIFY when the bundle does not verify (including a damaged or
 * malformed bundle), with *ret_report saying where and why; EV_ETOOBIG if len
 * is over the limit and EV_EBADKEY if pubkey is malformed (nothing checked).
 * *ret_report is filled in every case but the last two.
 */
int ev_bundle_verify(const char *text, size_t len, const char *pubkey,
                     const uint8_t *verification_key, struct ev_bundle_report *ret_report);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
