/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forward-secure record keys and the writer's key state: docs/FORMAT.md §7.
 * struct evi_fskey holds secrets: wipe it (evi_fskey_wipe) before it goes.
 */
#ifndef EVI_FSKEY_H
#define EVI_FSKEY_H

#include <stdint.h>

#define EVI_KEYSTATE_BYTES 192

struct evi_fskey {
    uint64_t next;              /* index of the next record */
    uint32_t epoch;             /* epoch e of the next record */
    uint64_t j;                 /* its place in epoch e */
    uint8_t record_key[32];     /* R(e, j) */
    uint8_t next_epoch_key[32]; /* A(e + 1) */
    int64_t last_ts_ns;         /* ts of record next - 1 */
    uint8_t chain[32];          /* c(next - 1), zeros for an empty log */
    uint8_t root[32];           /* root of the tree of `next` entries */
};

/* State for an empty log from V: e = 0, j = 0, R(0,0), A(1). */
void evi_fskey_init(struct evi_fskey *k, const uint8_t verification_key[32]);

/* Tag of record index with chain value c(index), keyed by the current R(e, j). */
void evi_fskey_tag(const struct evi_fskey *k, uint64_t index, const uint8_t chain[32],
                   uint8_t ret_tag[32]);

/* evi_fskey_tag then evi_fskey_next_record, with the key prepared once. */
void evi_fskey_tag_next(struct evi_fskey *k, uint64_t index, const uint8_t chain[32],
                        uint8_t ret_tag[32]);

/* After a record: R(e, j+1), erasing R(e, j). */
void evi_fskey_next_record(struct evi_fskey *k);

/* After a seal of epoch e: moves to epoch e+1, j = 0, erasing R and A(e+1). */
void evi_fskey_next_epoch(struct evi_fskey *k);

void evi_fskey_wipe(struct evi_fskey *k);

void evi_keystate_encode(const struct evi_fskey *k, uint8_t out[EVI_KEYSTATE_BYTES]);
int evi_keystate_decode(const uint8_t in[EVI_KEYSTATE_BYTES], struct evi_fskey *ret);

/* Verifier side: A(e) from V by e steps (e HMACs). */
void evi_epoch_key(const uint8_t verification_key[32], uint32_t epoch, uint8_t ret[32]);

#endif
