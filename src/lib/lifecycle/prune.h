/* SPDX-License-Identifier: Apache-2.0 */
/* Pruned segments (FORMAT.md §3.2), shared by retention (prune.c) and verification. */
#ifndef EVI_PRUNE_H
#define EVI_PRUNE_H

#include <stdint.h>

#include "../store.h"

struct evi_pruned_summary {
    uint64_t entries;
    int64_t newest_ns;       /* ts of the last entry whose bytes were read (0 if none) */
    uint8_t sha256[32];      /* SHA-256 of the segment's bytes as read (header included) */
    uint8_t leaf_digest[32]; /* SHA-256 of the leaf hashes of its entries, in order */
};

/*
 * Reads segment (whole, compressed or pruned) from its first entry to end
 * (the next segment's first index) and summarises it; every record must be
 * intact and in sequence (else EV_ECORRUPT naming the file). With body (a
 * struct buf of prune.c; NULL for none) the segment's pruned form is
 * appended to it as well. For a pruned segment sha256 covers only the bytes
 * it still has; leaf_digest is the same for a segment and its pruned form.
 */
int evi_pruned_summary(const struct evi_segment *segment, uint64_t end,
                       struct evi_pruned_summary *ret, void *body);

#endif
