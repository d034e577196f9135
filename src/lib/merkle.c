/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6962 hashing and RFC 9162 proof verification (evident/merkle.h).
 *
 * Both verifiers first work out, from the sizes alone, how many hashes a
 * correct proof has, and reject any other count with EV_EFORMAT before hashing
 * anything: the RFC 9162 loops only notice a missing hash, and checking the
 * exact count up front also rejects a proof with extra hashes appended.
 */
#include <stdbool.h>
#include <string.h>

#include <evident/error.h>
#include <evident/merkle.h>

#include "crypto.h"
#include "error.h"
#include "tree.h"

static const uint8_t leaf_prefix = 0x00;
static const uint8_t node_prefix = 0x01;

void ev_leaf_hash(const void *entry, size_t entry_len, uint8_t ret_hash[EV_HASH_BYTES])
{
    evi_sha256_parts(&leaf_prefix, 1, entry, entry_len, NULL, 0, ret_hash);
}

void evi_leaf_prefix_put(uint8_t *entry)
{
    entry[-1] = leaf_prefix;
}

void evi_leaf_hash_prefixed(const uint8_t *entry, size_t entry_len, uint8_t ret_hash[EV_HASH_BYTES])
{
    evi_sha256_public(entry - 1, entry_len + 1, ret_hash); /* an entry is public (§5) */
}

void evi_leaf_hash_in_place(uint8_t *entry, size_t entry_len, uint8_t ret_hash[EV_HASH_BYTES])
{
    evi_leaf_prefix_put(entry);
    evi_leaf_hash_prefixed(entry, entry_len, ret_hash);
}

/*
 * The 65 bytes are copied into one buffer: two 32-byte moves cost less than
 * the two extra SHA256_Update calls (each with its partial-block copy) of
 * hashing three pieces. The writer does this once per entry on average.
 */
void ev_node_hash(const uint8_t left[EV_HASH_BYTES], const uint8_t right[EV_HASH_BYTES],
                  uint8_t ret_hash[EV_HASH_BYTES])
{
    uint8_t node[1 + 2 * EV_HASH_BYTES];

    node[0] = node_prefix;
    memcpy(node + 1, left, EV_HASH_BYTES);
    memcpy(node + 1 + EV_HASH_BYTES, right, EV_HASH_BYTES);
    evi_sha256_public(node, sizeof(node), ret_hash); /* tree hashes are public */
}

void ev_empty_root(uint8_t ret_hash[EV_HASH_BYTES])
{
    evi_sha256(NULL, 0, ret_hash);
}

/*
 * The number of hashes in the inclusion proof of leaf fn of a tree whose last
 * leaf is sn: RFC 9162 2.1.3.2's loop consumes one hash per pass and its shifts
 * depend on the sizes only.
 */
static size_t inclusion_proof_len(uint64_t fn, uint64_t sn)
{
    size_t n = 0;

    while (sn != 0) {
        if ((fn & 1) == 0 && fn == sn) {
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        }
        fn >>= 1;
        sn >>= 1;
        n++;
    }
    return n;
}

int ev_merkle_verify_inclusion(uint64_t index, uint64_t tree_size,
                               const uint8_t leaf_hash[EV_HASH_BYTES],
                               const uint8_t (*proof)[EV_HASH_BYTES], size_t proof_len,
                               const uint8_t root[EV_HASH_BYTES])
{
    uint8_t r[EV_HASH_BYTES];
    uint64_t fn;
    uint64_t sn;

    if (index >= tree_size) {
        return evi_error(EV_EFORMAT, "leaf index %llu is outside a tree of %llu leaves",
                         (unsigned long long)index, (unsigned long long)tree_size);
    }
    fn = index;
    sn = tree_size - 1;
    if (proof_len != inclusion_proof_len(fn, sn)) {
        return evi_error(EV_EFORMAT,
                         "inclusion proof of leaf %llu in tree size %llu has %zu hashes, "
                         "not %zu",
                         (unsigned long long)index, (unsigned long long)tree_size, proof_len,
                         inclusion_proof_len(fn, sn));
    }

    memcpy(r, leaf_hash, EV_HASH_BYTES);
    for (size_t i = 0; i < proof_len; i++) {
        /* sn != 0 here: the length check above guarantees it. */
        if ((fn & 1) != 0 || fn == sn) {
            ev_node_hash(proof[i], r, r);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ev_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !evi_ct_equal(r, root, EV_HASH_BYTES)) {
        return evi_error(EV_ETAMPERED,
                         "inclusion proof of leaf %llu does not lead to the root of tree size "
                         "%llu",
                         (unsigned long long)index, (unsigned long long)tree_size);
    }
    return 0;
}

/*
 * The number of hashes in the proof after the old root is prepended (RFC 9162
 * 2.1.4.2 step 1 when old_size is a power of two): one seed hash and one per
 * pass of the loop, whose shifts depend on the sizes only.
 */
static size_t consistency_path_len(uint64_t fn, uint64_t sn)
{
    size_t n = 1;

    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    while (sn != 0) {
        if ((fn & 1) == 0 && fn == sn) {
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        }
        fn >>= 1;
        sn >>= 1;
        n++;
    }
    return n;
}

int ev_merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
                                 const uint8_t old_root[EV_HASH_BYTES],
                                 const uint8_t new_root[EV_HASH_BYTES],
                                 const uint8_t (*proof)[EV_HASH_BYTES], size_t proof_len)
{
    uint8_t fr[EV_HASH_BYTES];
    uint8_t sr[EV_HASH_BYTES];
    const uint8_t *seed;
    bool old_is_pow2;
    size_t want;
    size_t next;
    uint64_t fn;
    uint64_t sn;

    if (old_size > new_size) {
        return evi_error(EV_EFORMAT, "consistency from tree size %llu to smaller size %llu",
                         (unsigned long long)old_size, (unsigned long long)new_size);
    }
    if (old_size == 0 || old_size == new_size) {
        /* Every tree extends the empty tree, and a tree extends only itself at its own size. */
        if (proof_len != 0) {
            return evi_error(EV_EFORMAT,
                             "consistency proof from tree size %llu to %llu has %zu hashes, "
                             "not 0",
                             (unsigned long long)old_size, (unsigned long long)new_size, proof_len);
        }
        if (old_size == 0) {
            uint8_t empty[EV_HASH_BYTES];

            ev_empty_root(empty);
            if (!evi_ct_equal(old_root, empty, EV_HASH_BYTES)) {
                return evi_error(EV_ETAMPERED, "root of tree size 0 is not the empty-tree hash");
            }
        }
        if (old_size == new_size && !evi_ct_equal(old_root, new_root, EV_HASH_BYTES)) {
            return evi_error(EV_ETAMPERED, "two different roots for tree size %llu",
                             (unsigned long long)old_size);
        }
        return 0;
    }

    old_is_pow2 = (old_size & (old_size - 1)) == 0;
    fn = old_size - 1;
    sn = new_size - 1;
    want = consistency_path_len(fn, sn) - (old_is_pow2 ? 1 : 0);
    if (proof_len != want) {
        return evi_error(
            EV_EFORMAT, "consistency proof from tree size %llu to %llu has %zu hashes, not %zu",
            (unsigned long long)old_size, (unsigned long long)new_size, proof_len, want);
    }

    /* Step 1: a power-of-two old tree is itself a node of the new one. */
    seed = old_is_pow2 ? old_root : proof[0];
    next = old_is_pow2 ? 0 : 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, seed, EV_HASH_BYTES);
    memcpy(sr, seed, EV_HASH_BYTES);
    for (; next < proof_len; next++) {
        if ((fn & 1) != 0 || fn == sn) {
            ev_node_hash(proof[next], fr, fr);
            ev_node_hash(proof[next], sr, sr);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ev_node_hash(sr, proof[next], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !evi_ct_equal(fr, old_root, EV_HASH_BYTES) ||
        !evi_ct_equal(sr, new_root, EV_HASH_BYTES)) {
        return evi_error(EV_ETAMPERED,
                         "consistency proof from tree size %llu to %llu does not check",
                         (unsigned long long)old_size, (unsigned long long)new_size);
    }
    return 0;
}
