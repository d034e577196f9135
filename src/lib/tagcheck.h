/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checking forward-secure tags (FORMAT.md §7) for the verifier, inline or on a
 * second thread. The tag of record i needs R(e, j) (a sequential HMAC chain
 * within the epoch) and c(i) (computed by the verifier's main pass); the
 * checker walks the key chain and compares tags while the main pass goes on
 * hashing, so verification with V uses two cores.
 *
 * The checker holds V-derived secrets; evi_tagcheck_free() wipes them.
 */
#ifndef EVI_TAGCHECK_H
#define EVI_TAGCHECK_H

#include <stdbool.h>
#include <stdint.h>

struct evi_tagcheck;

/* threaded: check on a worker thread; else check inside evi_tagcheck_add. */
int evi_tagcheck_new(const uint8_t verification_key[32], bool threaded,
                     struct evi_tagcheck **ret_checker);

/*
 * Queues (or checks) the tag of record index, the j-th record of epoch. Calls
 * must come in index order with epochs stepping up by at most one. Returns
 * true once a bad tag is known (the caller may stop early).
 */
bool evi_tagcheck_add(struct evi_tagcheck *c, uint64_t index, uint32_t epoch, uint64_t j,
                      const uint8_t chain[32], const uint8_t tag[32]);

/* Waits for every queued tag. true if one failed: its place in *ret_index etc. */
bool evi_tagcheck_finish(struct evi_tagcheck *c, uint64_t *ret_index, uint32_t *ret_epoch,
                         uint64_t *ret_j);

void evi_tagcheck_free(struct evi_tagcheck *c);

#endif
