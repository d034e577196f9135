/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leaf hasher: a second thread that computes the leaf hashes (FORMAT.md
 * §5, RFC 6962 §2.1) of a run of entries already assembled in the pending
 * records, while the sequencer chains, tags and adds them to the tree in
 * order (log.c). A leaf hash depends on its entry alone, so it is the part of
 * a record's hashing that can leave the sequencer: about 40 % of a syslog
 * record's SHA-256 blocks.
 *
 * The sequencer hashes chunks of the run from the front as it needs them,
 * the helper from the back; they meet once. The run never waits for the
 * helper to wake up: without it the sequencer hashes the whole run itself.
 * One sequencer at a time
 * (the log's `sequencing` flag); the run's memory must stay where it is
 * between evi_leaf_hasher_begin() and evi_leaf_hasher_end().
 */
#ifndef EVIDENT_LEAFHASH_H
#define EVIDENT_LEAFHASH_H

#include <stddef.h>
#include <stdint.h>

#include <evident/merkle.h>

/*
 * Entries per chunk, the unit each thread takes: small, so that the sequencer
 * waits little where they meet (8 syslog entries hash in about 3 µs).
 */
#define EVI_LEAF_HASHER_CHUNK 8u

/*
 * The shortest run whose leaves the helper hashes as well; shorter ones the
 * sequencer hashes alone. Waking the helper costs the sequencer about 13 µs
 * (futex wake-up, and the helper preempting it on a CPU it shares), which is
 * the hashing of some 50 entries, and the helper starts late. Measured at
 * 64: runs of 100 entries (evidentd's HTTP requests under `sync: always`)
 * took 10 µs longer to append with the helper than without it
 * (docs/PERFORMANCE.md, session 20).
 */
#define EVI_LEAF_HASHER_MIN_RUN 256u

/*
 * One entry of a run: at base + offset, len bytes, after the leaf prefix put
 * there by the caller (evi_leaf_prefix_put, tree.h). The hasher only reads.
 */
struct evi_leaf_item {
    size_t offset;
    size_t len;
};

struct evi_leaf_hasher;

/* Starts the helper thread. 0, or a negative errno with the message set. */
int evi_leaf_hasher_start(struct evi_leaf_hasher **ret_hasher);

/* Stops and joins the helper, frees everything. NULL is fine. */
void evi_leaf_hasher_stop(struct evi_leaf_hasher *hasher);

/*
 * Hands a run of count entries to the helper: leaves[i] will be the leaf hash
 * of items[i]. 0, or -ENOMEM (nothing handed over: hash the run inline).
 */
int evi_leaf_hasher_begin(struct evi_leaf_hasher *hasher, const uint8_t *base,
                          const struct evi_leaf_item *items, uint8_t (*leaves)[EV_HASH_BYTES],
                          size_t count);

/*
 * Returns once leaves[i] of the current run is computed (by either thread).
 * Asked for in order, i = 0, 1, 2 ...
 */
void evi_leaf_hasher_need(struct evi_leaf_hasher *hasher, size_t i);

/*
 * Ends the run: every leaf is computed and the helper no longer reads the
 * run's memory when this returns.
 */
void evi_leaf_hasher_end(struct evi_leaf_hasher *hasher);

/* Tests: how many chunks the helper thread has hashed, in all. */
size_t evi_leaf_hasher_helped(struct evi_leaf_hasher *hasher);

#endif
