/* SPDX-License-Identifier: Apache-2.0 */
/* Segment headers and records: docs/FORMAT.md §3 and §4. */
#include <string.h>

#include "crypto.h"
#include "error.h"
#include "record.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void evi_segment_header_encode(const struct evi_segment_header *h, uint8_t out[EVI_SEGMENT_HEADER])
{
    memcpy(out, h->pruned ? EVI_PRUNED_MAGIC : EVI_SEGMENT_MAGIC, 8);
    put64(out + 8, h->first_index);
    put64(out + 16, (uint64_t)h->created_ns);
    put32(out + 24, 0);
    put32(out + 28, evi_crc32c(0, out, 28));
}

int evi_segment_header_decode(const uint8_t in[EVI_SEGMENT_HEADER], struct evi_segment_header *ret)
{
    bool pruned = memcmp(in, EVI_PRUNED_MAGIC, 8) == 0;
    if (!pruned && memcmp(in, EVI_SEGMENT_MAGIC, 8) != 0) {
        return evi_error(EV_EFORMAT, "segment header: bad magic");
    }
    if (get32(in + 28) != evi_crc32c(0, in, 28)) {
        return evi_error(EV_EFORMAT, "segment header: checksum mismatch");
    }
    if (get32(in + 24) != 0) {
        return evi_error(EV_EFORMAT, "segment header: reserved field not zero");
    }
    ret->first_index = get64(in + 8);
    ret->created_ns = (int64_t)get64(in + 16);
    ret->pruned = pruned;
    return 0;
}

/*
 * The CRC covers every byte of the record except the CRC field itself (§4):
 * len and epoch (little-endian, taken as values), then the entry and the tag.
 */
static uint32_t record_crc_of(uint32_t len, uint32_t epoch, const uint8_t *entry_and_tag)
{
    uint32_t crc = evi_crc32c_le32(evi_crc32c_le32(0, len), epoch);
    return evi_crc32c(crc, entry_and_tag, (size_t)len + 32);
}

static uint32_t record_crc(const uint8_t *rec, size_t entry_len)
{
    return record_crc_of((uint32_t)entry_len, get32(rec + 8), rec + EVI_RECORD_PREFIX);
}

size_t evi_record_encode_run(uint32_t epoch, const uint8_t *leaves, uint32_t n, uint8_t *out)
{
    put32(out, EVI_PRUNED_FLAG | n);
    put32(out + 8, epoch);
    memcpy(out + EVI_RECORD_PREFIX, leaves, 32 * (size_t)n);
    put32(out + 4, evi_crc32c(evi_crc32c(0, out, 4), out + 8, 4 + 32 * (size_t)n));
    return EVI_PRUNED_RUN_BYTES(n);
}

size_t evi_record_finish(uint8_t *record, uint32_t epoch, size_t entry_len, const uint8_t tag[32])
{
    put32(record, (uint32_t)entry_len);
    put32(record + 8, epoch);
    memcpy(record + EVI_RECORD_PREFIX + entry_len, tag, 32);
    put32(record + 4, record_crc_of((uint32_t)entry_len, epoch, record + EVI_RECORD_PREFIX));
    return EVI_RECORD_OVERHEAD + entry_len;
}

size_t evi_record_encode(uint32_t epoch, const void *entry, size_t entry_len, const uint8_t tag[32],
                         uint8_t *out)
{
    memcpy(out + EVI_RECORD_PREFIX, entry, entry_len);
    return evi_record_finish(out, epoch, entry_len, tag);
}

enum evi_record_status evi_record_decode(const uint8_t *buf, size_t avail,
                                         struct evi_record *ret_record, size_t *ret_need)
{
    return evi_record_decode_any(buf, avail, false, ret_record, ret_need);
}

static enum evi_record_status decode_run(const uint8_t *buf, size_t avail, uint32_t n,
                                         struct evi_record *ret_record, size_t *ret_need)
{
    if (n == 0 || n > EVI_PRUNED_RUN_MAX) {
        return EVI_RECORD_BAD_LENGTH;
    }
    size_t size = EVI_PRUNED_RUN_BYTES(n);
    if (avail < size) {
        if (ret_need != NULL) {
            *ret_need = size;
        }
        return EVI_RECORD_SHORT;
    }
    if (get32(buf + 4) != evi_crc32c(evi_crc32c(0, buf, 4), buf + 8, size - 8)) {
        return EVI_RECORD_BAD_CRC;
    }
    ret_record->epoch = get32(buf + 8);
    ret_record->entry = NULL;
    ret_record->entry_len = 0;
    ret_record->leaf = buf + EVI_RECORD_PREFIX;
    ret_record->run_count = n;
    ret_record->tag = NULL;
    ret_record->size = size;
    return EVI_RECORD_OK;
}

enum evi_record_status evi_record_decode_any(const uint8_t *buf, size_t avail, bool allow_pruned,
                                             struct evi_record *ret_record, size_t *ret_need)
{
    if (avail < EVI_RECORD_PREFIX) {
        if (ret_need != NULL) {
            *ret_need = EVI_RECORD_PREFIX;
        }
        return EVI_RECORD_SHORT;
    }
    uint32_t len = get32(buf);
    if (allow_pruned && (len & EVI_PRUNED_FLAG) != 0) {
        return decode_run(buf, avail, len & ~EVI_PRUNED_FLAG, ret_record, ret_need);
    }
    if (len == 0 || len > 65535) {
        return EVI_RECORD_BAD_LENGTH;
    }
    size_t size = EVI_RECORD_OVERHEAD + (size_t)len;
    if (avail < size) {
        if (ret_need != NULL) {
            *ret_need = size;
        }
        return EVI_RECORD_SHORT;
    }
    if (get32(buf + 4) != record_crc(buf, len)) {
        return EVI_RECORD_BAD_CRC;
    }
    ret_record->epoch = get32(buf + 8);
    ret_record->entry = buf + EVI_RECORD_PREFIX;
    ret_record->entry_len = len;
    ret_record->leaf = NULL;
    ret_record->run_count = 0;
    ret_record->tag = buf + EVI_RECORD_PREFIX + len;
    ret_record->size = size;
    return EVI_RECORD_OK;
}

const char *evi_record_status_name(enum evi_record_status status)
{
    switch (status) {
    case EVI_RECORD_OK: return "intact";
    case EVI_RECORD_SHORT: return "incomplete record";
    case EVI_RECORD_BAD_LENGTH: return "impossible entry length";
    case EVI_RECORD_BAD_CRC: return "checksum mismatch";
    }
    return "unknown";
}
