/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segment headers and records: docs/FORMAT.md §3 and §4. The decoder is the
 * first thing hostile bytes meet; it is fuzzed (fuzz/fuzz-record.c).
 */
#ifndef EVI_RECORD_H
#define EVI_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define EVI_SEGMENT_HEADER 32
#define EVI_RECORD_OVERHEAD 44
#define EVI_RECORD_PREFIX 12
#define EVI_RECORD_MAX (EVI_RECORD_OVERHEAD + 65535)
#define EVI_SEGMENT_MAGIC "EVSEGv1\n"

struct evi_segment_header {
    uint64_t first_index;
    int64_t created_ns;
};

void evi_segment_header_encode(const struct evi_segment_header *h, uint8_t out[EVI_SEGMENT_HEADER]);
/* 0, or EV_EFORMAT with a message if magic, reserved field or checksum is wrong. */
int evi_segment_header_decode(const uint8_t in[EVI_SEGMENT_HEADER], struct evi_segment_header *ret);

/* A decoded record; entry and tag point into the decoded buffer. */
struct evi_record {
    uint32_t epoch;
    const uint8_t *entry;
    size_t entry_len;
    const uint8_t *tag;
    size_t size; /* bytes the record occupies: 44 + entry_len */
};

/* Writes a record into out (capacity >= 44 + entry_len); returns its size. */
size_t evi_record_encode(uint32_t epoch, const void *entry, size_t entry_len, const uint8_t tag[32],
                         uint8_t *out);

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

const char *evi_record_status_name(enum evi_record_status status);

#endif
