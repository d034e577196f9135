/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RFC 6962 tree as evident stores it (docs/FORMAT.md, "Tree hashes").
 *
 * Stored hashes: the hashes file holds, in the order in which they become
 * computable, the leaf hash of every entry followed by the hash of every
 * complete subtree that leaf completes (Go's sumdb/tlog "stored hashes"):
 * 2n - popcount(n) hashes for n leaves. Hash number k of level L (the
 * subtree of leaves [k*2^L, (k+1)*2^L)) is at position
 * evi_stored_hash_index(L, k).
 *
 * The frontier is the writer's in-memory view of the tree: the roots of the
 * complete subtrees of the current size, at most 64 hashes. Appending a leaf
 * to it yields exactly the stored hashes to append to the file.
 */
#ifndef EVI_TREE_H
#define EVI_TREE_H

#include <stdint.h>
#include <stddef.h>

#include <evident/merkle.h>

/*
 * ev_leaf_hash() of the entry_len bytes at entry, hashed as one contiguous
 * buffer (one SHA-256 update): entry[-1] must be writable memory of the
 * caller's, and is overwritten with the leaf prefix 0x00 (RFC 6962).
 */
void evi_leaf_hash_in_place(uint8_t *entry, size_t entry_len, uint8_t ret_hash[EV_HASH_BYTES]);

/*
 * The same in two steps, for a thread that hashes entries another one wrote:
 * the writer puts the prefix (evi_leaf_prefix_put), the hasher only reads, so
 * that no cache line goes back and forth between them.
 */
void evi_leaf_prefix_put(uint8_t *entry);
void evi_leaf_hash_prefixed(const uint8_t *entry, size_t entry_len,
                            uint8_t ret_hash[EV_HASH_BYTES]);

uint64_t evi_stored_hash_index(int level, uint64_t n);
uint64_t evi_stored_hash_count(uint64_t tree_size);

struct evi_frontier {
    uint64_t size;
    uint8_t hashes[64][EV_HASH_BYTES]; /* hashes[i]: complete subtree, largest first */
    int count;
};

void evi_frontier_init(struct evi_frontier *f);
/*
 * Appends a leaf. Writes to ret_stored the stored hashes that this leaf adds
 * (its leaf hash first, then each completed subtree) and returns their count
 * (1..64).
 */
int evi_frontier_append(struct evi_frontier *f, const uint8_t leaf_hash[EV_HASH_BYTES],
                        uint8_t ret_stored[64][EV_HASH_BYTES]);
/* The RFC 6962 root of the frontier's tree (the empty-tree root for size 0). */
void evi_frontier_root(const struct evi_frontier *f, uint8_t ret_root[EV_HASH_BYTES]);

/* Reads stored hash number stored_index. 0 or negative error. */
typedef int (*evi_hash_reader)(void *ctx, uint64_t stored_index, uint8_t ret[EV_HASH_BYTES]);

/* Builds the frontier of tree_size from stored hashes (O(log n) reads). */
int evi_frontier_load(struct evi_frontier *f, uint64_t tree_size, evi_hash_reader read, void *ctx);

/* Root of the tree of tree_size leaves from stored hashes (O(log n) reads). */
int evi_tree_root(uint64_t tree_size, evi_hash_reader read, void *ctx,
                  uint8_t ret_root[EV_HASH_BYTES]);

/* RFC 9162 inclusion proof of leaf index in tree_size, from stored hashes. */
int evi_prove_inclusion(uint64_t index, uint64_t tree_size, evi_hash_reader read, void *ctx,
                        uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len);

/* RFC 9162 consistency proof from old_size to new_size (1 <= old <= new). */
int evi_prove_consistency(uint64_t old_size, uint64_t new_size, evi_hash_reader read, void *ctx,
                          uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len);

#endif
