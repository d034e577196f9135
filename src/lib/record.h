/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segment headers and records: docs/FORMAT.md §3 and §4. The decoder is the
 * first thing hostile bytes meet; it is fuzzed (fuzz/fuzz-record.c).
 */
#ifndef EVI_RECORD_H
#define EVI_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVI_SEGMENT_HEADER 32
#define EVI_RECORD_OVERHEAD 44
#define EVI_RECORD_PREFIX 12
#define EVI_RECORD_MAX (EVI_RECORD_OVERHEAD + 65535)
#define EVI_SEGMENT_MAGIC "EVSEGv1\n"
/* A pruned segment (§3.2) has the same header with this magic. */
#define EVI_PRUNED_MAGIC "EVPRNv1\n"
/*
 * A pruned run (§3.2): bit 31 of len set, the low bits the number n of
 * entries it stands for (1..EVI_PRUNED_RUN_MAX), their epoch, then their n
 * leaf hashes: 12 + 32 n bytes, no tag.
 */
#define EVI_PRUNED_FLAG 0x80000000u
#define EVI_PRUNED_RUN_MAX 2048u
#define EVI_PRUNED_RUN_BYTES(n) (EVI_RECORD_PREFIX + 32 * (size_t)(n))

struct evi_segment_header {
    uint64_t first_index;
    int64_t created_ns;
    bool pruned; /* EVI_PRUNED_MAGIC */
};

void evi_segment_header_encode(const struct evi_segment_header *h, uint8_t out[EVI_SEGMENT_HEADER]);
/*
 * 0, or EV_EFORMAT with a message if magic, reserved field or checksum is
 * wrong. Both magics are accepted; ret->pruned says which one it was.
 */
int evi_segment_header_decode(const uint8_t in[EVI_SEGMENT_HEADER], struct evi_segment_header *ret);

/*
 * A decoded record; entry, leaf and tag point into the decoded buffer. A
 * pruned run (§3.2, only in a pruned segment) decodes as run_count leaf
 * hashes from leaf, with no entry bytes (entry NULL, entry_len 0) and no tag
 * (tag NULL); the scanner hands them out as one record per entry. For an
 * ordinary record leaf is NULL and run_count 0.
 */
struct evi_record {
    uint32_t epoch;
    const uint8_t *entry;
    size_t entry_len;
    const uint8_t *leaf;
    uint32_t run_count;
    const uint8_t *tag;
    size_t size; /* bytes the record occupies: 44 + entry_len, or 12 + 32 run_count */
};

/*
 * Writes a pruned run of n (1..EVI_PRUNED_RUN_MAX) leaf hashes of epoch into
 * out (capacity EVI_PRUNED_RUN_BYTES(n)); returns its size.
 */
size_t evi_record_encode_run(uint32_t epoch, const uint8_t *leaves, uint32_t n, uint8_t *out);

/* Writes a record into out (capacity >= 44 + entry_len); returns its size. */
size_t evi_record_encode(uint32_t epoch, const void *entry, size_t entry_len, const uint8_t tag[32],
                         uint8_t *out);

/*
 * The same for an entry already in its place at record + EVI_RECORD_PREFIX
 * (the writer assembles it there): writes len, epoch, the tag after the entry
 * and the crc around it. Returns the record's size.
 */
size_t evi_record_finish(uint8_t *record, uint32_t epoch, size_t entry_len, const uint8_t tag[32]);

enum evi_record_status {
    EVI_RECORD_OK = 0,
    EVI_RECORD_SHORT = 1,      /* the bytes end inside the record */
    EVI_RECORD_BAD_LENGTH = 2, /* len 0 or over 65535 */
    EVI_RECORD_BAD_CRC = 3,    /* checksum does not hold */
};

/*
 * Decodes the record at the start of buf (avail bytes). Never reads past avail.
 * For EVI_RECORD_SHORT with a plausible length, *ret_need (may be NULL) gets
 * the bytes the whole record needs.
 */
enum evi_record_status evi_record_decode(const uint8_t *buf, size_t avail,
                                         struct evi_record *ret_record, size_t *ret_need);
/* The same, accepting pruned runs too (for the records of a pruned segment, §3.2). */
enum evi_record_status evi_record_decode_any(const uint8_t *buf, size_t avail, bool allow_pruned,
                                             struct evi_record *ret_record, size_t *ret_need);

const char *evi_record_status_name(enum evi_record_status status);

#endif
