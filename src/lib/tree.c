/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stored-hash layout, the writer's frontier, and proofs built from stored
 * hashes (tree.h; the hashes file is docs/FORMAT.md section 6).
 *
 * Trees hold at most 2^63 leaves (TREE_MAX_SIZE). Within that bound every
 * quantity here fits in a uint64_t: the last stored index of a full tree is
 * 2^64 - 2, and no sum of a leaf position and a subtree width exceeds 2^63.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <evident/error.h>
#include <evident/merkle.h>

#include "error.h"
#include "tree.h"

#define TREE_MAX_SIZE ((uint64_t)1 << 63)

/*
 * Hash k of level L covers leaves [k*2^L, (k+1)*2^L) and is written right after
 * that range's last leaf x = (k+1)*2^L - 1 and the L - 1 hashes below it that
 * x completes. Leaf x itself is preceded by the stored hashes of the x leaves
 * before it: sum over i >= 0 of floor(x / 2^i) = 2x - popcount(x).
 * Coordinates outside a tree of TREE_MAX_SIZE leaves give UINT64_MAX, which is
 * no valid index, rather than a wrapped-around one.
 */
uint64_t evi_stored_hash_index(int level, uint64_t n)
{
    uint64_t last_leaf;

    if (level < 0 || level > 63 || (n >> (63 - level)) != 0) {
        return UINT64_MAX;
    }
    last_leaf = (n << level) | (((uint64_t)1 << level) - 1);
    return 2 * last_leaf - (uint64_t)__builtin_popcountll(last_leaf) + (uint64_t)level;
}

/*
 * Every leaf adds itself and one hash per trailing 1 bit of its index: 2n -
 * popcount(n) in all. For n = 2^63 that is exactly UINT64_MAX (2n wraps to 0
 * and the subtraction wraps back); larger sizes saturate there too.
 */
uint64_t evi_stored_hash_count(uint64_t tree_size)
{
    if (tree_size > TREE_MAX_SIZE) {
        return UINT64_MAX;
    }
    return 2 * tree_size - (uint64_t)__builtin_popcountll(tree_size);
}

void evi_frontier_init(struct evi_frontier *f)
{
    memset(f, 0, sizeof(*f));
}

int evi_frontier_append(struct evi_frontier *f, const uint8_t leaf_hash[EV_HASH_BYTES],
                        uint8_t ret_stored[64][EV_HASH_BYTES])
{
    uint8_t hash[EV_HASH_BYTES];
    int stored = 0;

    if (f->size >= TREE_MAX_SIZE) {
        return evi_error(EV_ERANGE, "tree is full at %llu leaves", (unsigned long long)f->size);
    }
    /* The merges below index hashes[count - 1]: never trust a damaged struct for that. */
    if (f->count != __builtin_popcountll(f->size)) {
        return evi_error(-EINVAL, "frontier of size %llu holds %d hashes",
                         (unsigned long long)f->size, f->count);
    }

    memcpy(hash, leaf_hash, EV_HASH_BYTES);
    memcpy(ret_stored[stored++], hash, EV_HASH_BYTES);
    /* Each trailing 1 bit of the old size is a complete subtree the new leaf now pairs up with. */
    for (uint64_t s = f->size; (s & 1) != 0; s >>= 1) {
        ev_node_hash(f->hashes[f->count - 1], hash, hash);
        f->count--;
        memcpy(ret_stored[stored++], hash, EV_HASH_BYTES);
    }
    memcpy(f->hashes[f->count++], hash, EV_HASH_BYTES);
    f->size++;
    return stored;
}

void evi_frontier_root(const struct evi_frontier *f, uint8_t ret_root[EV_HASH_BYTES])
{
    uint8_t root[EV_HASH_BYTES];

    if (f->count <= 0) {
        ev_empty_root(ret_root);
        return;
    }
    /* RFC 6962 splits off the largest complete subtree first, so fold from the right. */
    memcpy(root, f->hashes[f->count - 1], EV_HASH_BYTES);
    for (int i = f->count - 2; i >= 0; i--) {
        ev_node_hash(f->hashes[i], root, root);
    }
    memcpy(ret_root, root, EV_HASH_BYTES);
}

static int read_hash(evi_hash_reader read, void *ctx, uint64_t stored_index,
                     uint8_t ret[EV_HASH_BYTES])
{
    int r = read(ctx, stored_index, ret);

    if (r < 0) {
        return r;
    }
    if (r > 0) {
        return evi_error(-EIO, "hash reader returned %d for stored hash %llu", r,
                         (unsigned long long)stored_index);
    }
    return 0;
}

static uint64_t largest_pow2_below(uint64_t n)
{
    /* n >= 2, so n - 1 >= 1 and clz is defined. */
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/*
 * MTH of leaves [lo, hi), lo < hi, where lo is a multiple of the smallest power
 * of two >= hi - lo (true of every node in RFC 6962's recursion). Such a range
 * is a run of complete subtrees, one per set bit of hi - lo, largest first, and
 * its hash nests them to the right; we read them smallest first so that two
 * hash buffers suffice. popcount(hi - lo) reads.
 */
static int subtree_hash(uint64_t lo, uint64_t hi, evi_hash_reader read, void *ctx,
                        uint8_t ret[EV_HASH_BYTES])
{
    uint64_t width = hi - lo;
    uint8_t hash[EV_HASH_BYTES];
    uint8_t piece[EV_HASH_BYTES];
    bool have = false;
    int r;

    for (int level = 0; level < 64; level++) {
        uint64_t bit = (uint64_t)1 << level;
        uint64_t start;

        if ((width & bit) == 0) {
            continue;
        }
        start = lo + (width & ~(bit | (bit - 1)));
        r = read_hash(read, ctx, evi_stored_hash_index(level, start >> level), have ? piece : hash);
        if (r < 0) {
            return r;
        }
        if (have) {
            ev_node_hash(piece, hash, hash);
        }
        have = true;
    }
    memcpy(ret, hash, EV_HASH_BYTES);
    return 0;
}

int evi_frontier_load(struct evi_frontier *f, uint64_t tree_size, evi_hash_reader read, void *ctx)
{
    struct evi_frontier loaded;
    uint64_t lo = 0;
    int r;

    if (tree_size > TREE_MAX_SIZE) {
        return evi_error(EV_ERANGE, "tree size %llu is over 2^63", (unsigned long long)tree_size);
    }
    evi_frontier_init(&loaded);
    for (int level = 63; level >= 0; level--) {
        uint64_t bit = (uint64_t)1 << level;

        if ((tree_size & bit) == 0) {
            continue;
        }
        r = read_hash(read, ctx, evi_stored_hash_index(level, lo >> level),
                      loaded.hashes[loaded.count]);
        if (r < 0) {
            return r;
        }
        loaded.count++;
        lo += bit;
    }
    loaded.size = tree_size;
    *f = loaded;
    return 0;
}

int evi_tree_root(uint64_t tree_size, evi_hash_reader read, void *ctx,
                  uint8_t ret_root[EV_HASH_BYTES])
{
    if (tree_size > TREE_MAX_SIZE) {
        return evi_error(EV_ERANGE, "tree size %llu is over 2^63", (unsigned long long)tree_size);
    }
    if (tree_size == 0) {
        ev_empty_root(ret_root);
        return 0;
    }
    return subtree_hash(0, tree_size, read, ctx, ret_root);
}

/*
 * Both proofs walk RFC 6962's recursion from the root down. Every sibling
 * taken on the way is a complete subtree (one read) except at most one: the
 * right part of the first split that goes left, which still ends at tree_size.
 * So a proof costs at most 63 + 63 reads. The walk meets the siblings root
 * first; the proofs list them leaf first.
 */
int evi_prove_inclusion(uint64_t index, uint64_t tree_size, evi_hash_reader read, void *ctx,
                        uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len)
{
    uint8_t path[EV_MAX_PROOF][EV_HASH_BYTES];
    uint64_t lo = 0;
    uint64_t hi = tree_size;
    size_t n = 0;
    int r;

    if (tree_size > TREE_MAX_SIZE) {
        return evi_error(EV_ERANGE, "tree size %llu is over 2^63", (unsigned long long)tree_size);
    }
    if (index >= tree_size) {
        return evi_error(EV_ERANGE, "leaf index %llu is outside a tree of %llu leaves",
                         (unsigned long long)index, (unsigned long long)tree_size);
    }
    while (hi - lo > 1) {
        uint64_t k = largest_pow2_below(hi - lo);

        if (index < lo + k) {
            r = subtree_hash(lo + k, hi, read, ctx, path[n]);
            hi = lo + k;
        } else {
            r = subtree_hash(lo, lo + k, read, ctx, path[n]);
            lo += k;
        }
        if (r < 0) {
            return r;
        }
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(ret_proof[i], path[n - 1 - i], EV_HASH_BYTES);
    }
    *ret_len = n;
    return 0;
}

/*
 * RFC 9162 2.1.4.1 SUBPROOF(m, D[lo:hi], b) with m = old_size - lo: while the
 * old tree is not a whole node, record the sibling of the side that holds its
 * last leaf and descend. When it is (old_size == hi), that node's hash comes
 * first unless it is the old root itself (b still true: only left turns so far,
 * so the verifier already has it).
 */
int evi_prove_consistency(uint64_t old_size, uint64_t new_size, evi_hash_reader read, void *ctx,
                          uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len)
{
    uint8_t path[EV_MAX_PROOF][EV_HASH_BYTES];
    uint8_t old_node[EV_HASH_BYTES];
    bool need_old_node = false;
    uint64_t lo = 0;
    uint64_t hi = new_size;
    size_t n = 0;
    size_t len = 0;
    int r;

    if (new_size > TREE_MAX_SIZE) {
        return evi_error(EV_ERANGE, "tree size %llu is over 2^63", (unsigned long long)new_size);
    }
    if (old_size == 0 || old_size > new_size) {
        return evi_error(EV_ERANGE, "no consistency proof from tree size %llu to %llu",
                         (unsigned long long)old_size, (unsigned long long)new_size);
    }
    while (old_size != hi) {
        uint64_t k = largest_pow2_below(hi - lo);

        if (old_size - lo <= k) {
            r = subtree_hash(lo + k, hi, read, ctx, path[n]);
            hi = lo + k;
        } else {
            r = subtree_hash(lo, lo + k, read, ctx, path[n]);
            lo += k;
            need_old_node = true;
        }
        if (r < 0) {
            return r;
        }
        n++;
    }
    if (need_old_node) {
        r = subtree_hash(lo, hi, read, ctx, old_node);
        if (r < 0) {
            return r;
        }
        memcpy(ret_proof[len++], old_node, EV_HASH_BYTES);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(ret_proof[len++], path[n - 1 - i], EV_HASH_BYTES);
    }
    *ret_len = len;
    return 0;
}
