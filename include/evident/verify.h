/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verification of a log directory (or an export bundle) from its records.
 *
 * Three depths, each adding to the one before:
 *   1. public key only: records intact, entries well formed, sequence
 *      continuous, ts never decreasing, seal contents, tree root equal to every
 *      checkpoint signed by the key, structure of epochs and seals;
 *   2. with the verification key V: every record's forward-secure tag;
 *   3. against trusted checkpoints kept elsewhere: the log must contain and be
 *      consistent with each (else truncated or forked).
 *
 * Verification reads the records only (never the derived hashes/index files),
 * opens every file read-only, takes no lock and never modifies the log.
 * It returns 0 only after full success. On failure it returns EV_EVERIFY and
 * the report names the first bad entry and the kind of failure; any other
 * negative code means the log could not be checked (I/O, bad arguments), or
 * -ECANCELED: the caller stopped it (ev_verify_options.stop).
 */
#ifndef EVIDENT_VERIFY_H
#define EVIDENT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/merkle.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

/* The kinds of failure, stable numbers. */
enum ev_failure {
    EV_FAIL_NONE = 0,
    EV_FAIL_RECORD = 1,          /* record damaged: checksum, framing, length */
    EV_FAIL_ENTRY = 2,           /* entry not a well-formed envelope */
    EV_FAIL_SEQUENCE = 3,        /* seq not equal to the record's position */
    EV_FAIL_TAG = 4,             /* forward-secure tag does not verify */
    EV_FAIL_CHAIN = 5,           /* a seal's chain head is not the recomputed chain */
    EV_FAIL_ROOT = 6,            /* a root (seal or checkpoint) is not the recomputed root */
    EV_FAIL_SIGNATURE = 7,       /* a checkpoint is not validly signed by the log key */
    EV_FAIL_MISSING_SEAL = 8,    /* an epoch before the last has no seal */
    EV_FAIL_EPOCH_BACKWARDS = 9, /* an epoch number smaller than the one before */
    EV_FAIL_AFTER_SEAL = 10,     /* a record after the seal of its own epoch */
    EV_FAIL_SEAL = 11,           /* a seal whose epoch or tree size is wrong */
    EV_FAIL_TRUNCATED = 12,      /* fewer entries than a checkpoint or seal requires */
    EV_FAIL_FORKED = 13,         /* a trusted checkpoint's root differs at its size */
    EV_FAIL_NO_CHECKPOINT = 14,  /* the log has entries but no signed checkpoint */
    EV_FAIL_PRUNED = 15,         /* pruned entries that no retention entry accounts for */
    EV_FAIL_TS_BACKWARDS = 16,   /* an entry's ts before the ts of the entry before it */
};

/* "record damaged", "tag", ...; never NULL. */
const char *ev_failure_name(enum ev_failure failure);

struct ev_verify_options {
    const char *pubkey;              /* pinned verifier key; NULL = evident.meta's */
    const uint8_t *verification_key; /* 32-byte V, or NULL to skip tags */
    const char *const *checkpoints;  /* trusted signed checkpoint notes */
    const size_t *checkpoint_lens;
    size_t checkpoint_count;
    int threads;    /* tag checking threads; 0 = online CPUs */
    int64_t now_ns; /* clock for the open epoch's age; 0 = now */
    /*
     * Stops a verification early (a daemon that is stopping), or NULL to run
     * to the end. Called on the calling thread with stop_arg and the entries
     * checked so far, before each batch of records is checked (the first
     * call with 0; batches are a few thousand records or a few MiB). When it
     * returns non-zero, ev_verify_dir() returns -ECANCELED without reading
     * further: nothing is judged (report failure EV_FAIL_NONE, entries = those
     * checked), neither a pass nor a failure. It must not call ev_verify_dir().
     */
    int (*stop)(void *stop_arg, uint64_t entries);
    void *stop_arg;
};

struct ev_verify_report {
    enum ev_failure failure; /* EV_FAIL_NONE when verified */
    uint64_t entry;          /* first bad entry (when the failure has one) */
    bool has_entry;
    char detail[256]; /* one line: what was expected and what was found */

    uint64_t entries;            /* intact records read */
    uint64_t checkpoint_size;    /* size of the latest checkpoint in the directory */
    uint8_t root[EV_HASH_BYTES]; /* root of all entries read */
    bool tags_checked;           /* V was given */
    uint64_t trusted_checked;    /* trusted checkpoints checked */
    uint32_t epochs_sealed;
    bool any_sealed;
    uint32_t last_sealed_epoch;
    int64_t last_seal_ns;     /* ts of the last seal (the writer's clock) */
    int64_t last_seal_age_ns; /* now - last_seal_ns: with a running writer a seal comes
                                 every seal interval, so a long gap means a stopped
                                 writer or a cut-off tail */
    bool open_epoch;          /* the last epoch has no seal yet */
    uint32_t open_epoch_number;
    uint64_t open_epoch_entries;
    int64_t open_epoch_since_ns; /* ts of its first entry (0 if empty) */
    int64_t open_epoch_age_ns;   /* now - start of that epoch's records */
    uint64_t torn_bytes;         /* a torn record after the last intact one (zeros after it: 0) */

    /* Retention (FORMAT.md §3.2): pruned entries are reported, not failed. */
    uint64_t pruned_entries;    /* entries whose bytes retention removed (hashes kept) */
    uint64_t pruned_segments;   /* segments in pruned form */
    uint64_t pruned_first;      /* first entry of the first pruned segment */
    uint64_t pruned_last;       /* last entry of the last pruned segment */
    uint64_t retention_entries; /* retention entries read */
};

/*
 * Verifies the log in dir. See the top of this header for the return codes
 * (0, EV_EVERIFY, -ECANCELED when options->stop stopped it, other negative
 * codes: could not check).
 */
int ev_verify_dir(const char *dir, const struct ev_verify_options *options,
                  struct ev_verify_report *ret_report);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
