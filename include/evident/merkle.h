/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6962 / RFC 9162 Merkle tree hashing and proof verification.
 *
 * These functions need no log: an auditor holding an entry, a proof and a
 * trusted root uses them offline. Hashes are 32-byte SHA-256 values passed as
 * caller arrays. Proof hashes are ordered as RFC 9162 section 2.1.3 and 2.1.4
 * produce them (inclusion: from the leaf's sibling upwards).
 *
 * All functions are thread-safe and allocate nothing.
 */
#ifndef EVIDENT_MERKLE_H
#define EVIDENT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

#define EV_HASH_BYTES 32
/* The longest proof of any tree of at most 2^63 leaves. */
#define EV_MAX_PROOF 64

/* SHA-256(0x00 || entry). */
void ev_leaf_hash(const void *entry, size_t entry_len, uint8_t ret_hash[EV_HASH_BYTES]);

/* SHA-256(0x01 || left || right). */
void ev_node_hash(const uint8_t left[EV_HASH_BYTES], const uint8_t right[EV_HASH_BYTES],
                  uint8_t ret_hash[EV_HASH_BYTES]);

/* The root of the empty tree: SHA-256 of the empty string. */
void ev_empty_root(uint8_t ret_hash[EV_HASH_BYTES]);

/*
 * Checks that leaf_hash is leaf number index of the tree of tree_size leaves
 * whose root is root, by RFC 9162 section 2.1.3.2.
 * Returns 0 if it is, EV_ETAMPERED if the proof does not lead to root,
 * EV_EFORMAT if index >= tree_size or the proof has the wrong length.
 */
int ev_merkle_verify_inclusion(uint64_t index, uint64_t tree_size,
                               const uint8_t leaf_hash[EV_HASH_BYTES],
                               const uint8_t (*proof)[EV_HASH_BYTES], size_t proof_len,
                               const uint8_t root[EV_HASH_BYTES]);

/*
 * Checks that the tree of old_size leaves with root old_root is a prefix of
 * the tree of new_size leaves with root new_root, by RFC 9162 section
 * 2.1.4.2. old_size 0 is accepted only with an empty proof and old_root equal
 * to the empty-tree root. old_size == new_size needs an empty proof and equal
 * roots.
 * Returns 0 if consistent, EV_ETAMPERED if the proof does not check,
 * EV_EFORMAT if old_size > new_size or the proof has the wrong length.
 */
int ev_merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
                                 const uint8_t old_root[EV_HASH_BYTES],
                                 const uint8_t new_root[EV_HASH_BYTES],
                                 const uint8_t (*proof)[EV_HASH_BYTES], size_t proof_len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
