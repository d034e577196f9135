/* SPDX-License-Identifier: Apache-2.0 */
/* Compressed segments: docs/FORMAT.md §3.1. The only file that includes zstd.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "error.h"
#include "store.h"
#include "zseg.h"

/* §3.1: the seek table is a skippable frame laid out as zstd's seekable format. */
#define SEEK_TABLE_MAGIC 0x184D2A5Eu /* ZSTD_MAGIC_SKIPPABLE_START | 0xE */
#define SEEKABLE_MAGIC 0x8F92EAB1u
#define SEEK_FOOTER 9
#define SEEK_ENTRY 8
/* Frames are written with a window no larger than a chunk; allow one step of slack. */
#define WINDOW_LOG_MAX 21

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Decompressed size of frame k of a segment of total bytes. */
static size_t frame_size(uint64_t total, uint64_t k)
{
    uint64_t rest = total - k * EVI_ZSEG_CHUNK;
    return rest < EVI_ZSEG_CHUNK ? (size_t)rest : EVI_ZSEG_CHUNK;
}

/* ---- writing -------------------------------------------------------------- */

int evi_zseg_compress(int in_fd, uint64_t size, int out_fd, int level, const bool *stop,
                      uint64_t *ret_bytes)
{
    size_t bound = ZSTD_compressBound(EVI_ZSEG_CHUNK);
    uint64_t frames = (size + EVI_ZSEG_CHUNK - 1) / EVI_ZSEG_CHUNK;
    uint8_t *in = malloc(EVI_ZSEG_CHUNK), *out = malloc(bound);
    uint8_t *table = NULL;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    uint64_t written = 0;
    size_t table_len = 0;
    int r = 0;

    if (size < 32 || size > EVI_SEGMENT_MAX_BYTES) {
        r = evi_error(-EINVAL, "segment of %llu bytes cannot be compressed",
                      (unsigned long long)size);
        goto out;
    }
    table_len = 8 + (size_t)frames * SEEK_ENTRY + SEEK_FOOTER;
    table = malloc(table_len);
    if (in == NULL || out == NULL || table == NULL || cctx == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1))) {
        r = evi_error(-EINVAL, "zstd level %d is not supported", level);
        goto out;
    }
    for (uint64_t k = 0; k < frames; k++) {
        size_t n = frame_size(size, k);
        if (stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED)) {
            r = -ECANCELED;
            goto out;
        }
        r = evi_read_exact(in_fd, in, n, (off_t)(k * EVI_ZSEG_CHUNK));
        if (r < 0) {
            goto out;
        }
        size_t c = ZSTD_compress2(cctx, out, bound, in, n);
        if (ZSTD_isError(c)) {
            r = evi_error(-EIO, "zstd: %s", ZSTD_getErrorName(c));
            goto out;
        }
        r = evi_write_all(out_fd, out, c, (off_t)written);
        if (r < 0) {
            goto out;
        }
        written += c;
        put32(table + 8 + k * SEEK_ENTRY, (uint32_t)c);
        put32(table + 8 + k * SEEK_ENTRY + 4, (uint32_t)n);
    }
    put32(table, SEEK_TABLE_MAGIC);
    put32(table + 4, (uint32_t)(table_len - 8));
    put32(table + table_len - SEEK_FOOTER, (uint32_t)frames);
    table[table_len - SEEK_FOOTER + 4] = 0; /* descriptor: no per-frame checksums */
    put32(table + table_len - 4, SEEKABLE_MAGIC);
    r = evi_write_all(out_fd, table, table_len, (off_t)written);
    if (r == 0 && ret_bytes != NULL) {
        *ret_bytes = written + table_len;
    }
out:
    ZSTD_freeCCtx(cctx);
    free(in);
    free(out);
    free(table);
    return r;
}

/* ---- the seek table ------------------------------------------------------- */

int evi_zseg_load(struct evi_segment *seg, const char *name, uint8_t header[32])
{
    struct stat st;
    uint8_t footer[SEEK_FOOTER], head[8];
    uint8_t *entries = NULL, *first = NULL;
    uint64_t *offsets = NULL;
    ZSTD_DCtx *dctx = NULL;
    uint64_t total = 0;
    int r;

    if (fstat(seg->fd, &st) < 0) {
        return -errno;
    }
    uint64_t file = (uint64_t)st.st_size;
    if (file < 8 + SEEK_FOOTER ||
        evi_read_exact(seg->fd, footer, sizeof(footer), (off_t)(file - SEEK_FOOTER)) < 0) {
        return evi_error(EV_EFORMAT, "'%s': too short for a seek table", name);
    }
    uint32_t frames = get32(footer);
    if (get32(footer + 5) != SEEKABLE_MAGIC || footer[4] != 0) {
        return evi_error(EV_EFORMAT, "'%s': no seek table (bad magic or descriptor)", name);
    }
    if (frames == 0 || frames > EVI_ZSEG_MAX_FRAMES ||
        8 + (uint64_t)frames * SEEK_ENTRY + SEEK_FOOTER > file) {
        return evi_error(EV_EFORMAT, "'%s': seek table of %u frames is out of bounds", name,
                         frames);
    }
    uint64_t table_at = file - SEEK_FOOTER - (uint64_t)frames * SEEK_ENTRY - 8;
    if (evi_read_exact(seg->fd, head, sizeof(head), (off_t)table_at) < 0 ||
        get32(head) != SEEK_TABLE_MAGIC ||
        get32(head + 4) != (uint64_t)frames * SEEK_ENTRY + SEEK_FOOTER) {
        return evi_error(EV_EFORMAT, "'%s': seek table frame header damaged", name);
    }
    entries = malloc((size_t)frames * SEEK_ENTRY);
    offsets = malloc(((size_t)frames + 1) * sizeof(*offsets));
    if (entries == NULL || offsets == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_read_exact(seg->fd, entries, (size_t)frames * SEEK_ENTRY, (off_t)(table_at + 8));
    if (r < 0) {
        goto out;
    }
    /*
     * Every frame but the last holds exactly one chunk and the last 1..CHUNK
     * bytes: so offsets map to frames by division, and the total is bounded by
     * the frame count before anything is decompressed (a table that claims more
     * is refused here, not discovered while expanding).
     */
    offsets[0] = 0;
    for (uint32_t k = 0; k < frames; k++) {
        uint32_t c = get32(entries + (size_t)k * SEEK_ENTRY);
        uint32_t d = get32(entries + (size_t)k * SEEK_ENTRY + 4);
        bool last = k + 1 == frames;
        if (d == 0 || d > EVI_ZSEG_CHUNK || (!last && d != EVI_ZSEG_CHUNK) || c == 0 ||
            c > ZSTD_compressBound(EVI_ZSEG_CHUNK)) {
            r = evi_error(EV_EFORMAT, "'%s': seek table entry %u is out of bounds", name, k);
            goto out;
        }
        offsets[k + 1] = offsets[k] + c;
        total += d;
    }
    if (offsets[frames] != table_at) {
        r = evi_error(EV_EFORMAT, "'%s': the frames do not end where the seek table begins", name);
        goto out;
    }
    if (total < 32) {
        r = evi_error(EV_EFORMAT, "'%s': shorter than a segment header", name);
        goto out;
    }

    /* The header: decode just the start of the first frame. */
    size_t c0 = (size_t)(offsets[1] - offsets[0]);
    first = malloc(c0);
    dctx = ZSTD_createDCtx();
    if (first == NULL || dctx == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_read_exact(seg->fd, first, c0, 0);
    if (r < 0) {
        goto out;
    }
    unsigned long long claimed = ZSTD_getFrameContentSize(first, c0);
    if (claimed != frame_size(total, 0)) {
        r = evi_error(EV_EFORMAT,
                      "'%s': frame 0 claims %llu bytes where the seek table has %zu: refused", name,
                      claimed, frame_size(total, 0));
        goto out;
    }
    (void)ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
    ZSTD_inBuffer in = {first, c0, 0};
    ZSTD_outBuffer outb = {header, 32, 0};
    while (outb.pos < 32) {
        size_t ret = ZSTD_decompressStream(dctx, &outb, &in);
        const char *why = ZSTD_isError(ret) ? ZSTD_getErrorName(ret) : NULL;
        if (why == NULL && outb.pos < 32 && (ret == 0 || in.pos == in.size)) {
            why = "ends before the segment header";
        }
        if (why != NULL) {
            r = evi_error(EV_EFORMAT, "'%s': frame 0 does not decompress: %s", name, why);
            goto out;
        }
    }
    seg->compressed = true;
    seg->zframes = offsets;
    seg->zframe_count = frames;
    seg->bytes = total;
    offsets = NULL;
    r = 0;
out:
    ZSTD_freeDCtx(dctx);
    free(first);
    free(entries);
    free(offsets);
    return r;
}

/* ---- reading -------------------------------------------------------------- */

struct zslot {
    uint64_t first_index; /* segment */
    uint64_t frame;
    uint64_t used; /* LRU stamp; 0 = empty */
    size_t len;
    uint8_t *data;
};

struct evi_zcache {
    ZSTD_DCtx *dctx;
    uint8_t *in; /* one compressed frame */
    size_t in_cap;
    unsigned slot_count;
    uint64_t clock;
    struct zslot slots[EVI_ZCACHE_LOG_SLOTS];
};

void evi_zcache_free(struct evi_zcache *cache)
{
    if (cache == NULL) {
        return;
    }
    for (unsigned i = 0; i < cache->slot_count; i++) {
        free(cache->slots[i].data);
    }
    ZSTD_freeDCtx(cache->dctx);
    free(cache->in);
    free(cache);
}

static int zcache_new(unsigned slots, struct evi_zcache **ret)
{
    struct evi_zcache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -ENOMEM;
    }
    c->slot_count = slots > EVI_ZCACHE_LOG_SLOTS ? EVI_ZCACHE_LOG_SLOTS : slots;
    c->in_cap = ZSTD_compressBound(EVI_ZSEG_CHUNK);
    c->in = malloc(c->in_cap);
    c->dctx = ZSTD_createDCtx();
    if (c->in == NULL || c->dctx == NULL) {
        evi_zcache_free(c);
        return -ENOMEM;
    }
    (void)ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
    *ret = c;
    return 0;
}

static void frame_name(const struct evi_segment *seg, char out[48])
{
    (void)snprintf(out, 48, "%020llu.seg.zst", (unsigned long long)seg->first_index);
}

/* Decompresses frame k of seg into a slot (or finds it there). */
static int zcache_frame(struct evi_zcache *c, const struct evi_segment *seg, uint64_t k,
                        const struct zslot **ret)
{
    struct zslot *victim = &c->slots[0];
    char name[48];

    for (unsigned i = 0; i < c->slot_count; i++) {
        struct zslot *s = &c->slots[i];
        if (s->used != 0 && s->first_index == seg->first_index && s->frame == k) {
            s->used = ++c->clock;
            *ret = s;
            return 0;
        }
        if (s->used < victim->used) {
            victim = s;
        }
    }
    if (victim->data == NULL && (victim->data = malloc(EVI_ZSEG_CHUNK)) == NULL) {
        return -ENOMEM;
    }
    victim->used = 0;
    size_t csize = (size_t)(seg->zframes[k + 1] - seg->zframes[k]);
    size_t want = frame_size(seg->bytes, k);
    frame_name(seg, name);
    int r = evi_read_exact(seg->fd, c->in, csize, (off_t)seg->zframes[k]);
    if (r == -EIO) {
        return evi_error(EV_ECORRUPT, "'%s': frame %llu is cut short", name, (unsigned long long)k);
    }
    if (r < 0) {
        return r;
    }
    /*
     * The frame must be exactly one frame of the size in the table, and claim
     * that size: a frame that claims more is refused before decoding, and the
     * decoder cannot write past the chunk it is given.
     */
    unsigned long long claimed = ZSTD_getFrameContentSize(c->in, csize);
    if (claimed != want || ZSTD_findFrameCompressedSize(c->in, csize) != csize) {
        if (claimed != ZSTD_CONTENTSIZE_ERROR && claimed != ZSTD_CONTENTSIZE_UNKNOWN &&
            claimed > want) {
            return evi_error(EV_ECORRUPT,
                             "'%s': frame %llu claims %llu bytes, more than the %zu of its "
                             "chunk: refused",
                             name, (unsigned long long)k, claimed, want);
        }
        return evi_error(EV_ECORRUPT, "'%s': frame %llu is not a frame of %zu bytes", name,
                         (unsigned long long)k, want);
    }
    size_t got = ZSTD_decompressDCtx(c->dctx, victim->data, EVI_ZSEG_CHUNK, c->in, csize);
    if (ZSTD_isError(got) || got != want) {
        return evi_error(EV_ECORRUPT, "'%s': frame %llu does not decompress: %s", name,
                         (unsigned long long)k,
                         ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
    }
    victim->first_index = seg->first_index;
    victim->frame = k;
    victim->len = got;
    victim->used = ++c->clock;
    *ret = victim;
    return 0;
}

int evi_segment_pread(struct evi_zcache **cache, unsigned slots, const struct evi_segment *seg,
                      void *buf, size_t len, uint64_t off, size_t *ret_n)
{
    uint8_t *p = buf;
    size_t n = 0;
    int r;

    if (!seg->compressed) {
        while (n < len) {
            ssize_t k = pread(seg->fd, p + n, len - n, (off_t)(off + n));
            if (k < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return -errno;
            }
            if (k == 0) {
                break;
            }
            n += (size_t)k;
        }
        *ret_n = n;
        return 0;
    }
    if (*cache == NULL && (r = zcache_new(slots, cache)) < 0) {
        return r;
    }
    while (n < len && off + n < seg->bytes) {
        uint64_t at = off + n;
        const struct zslot *s = NULL;
        r = zcache_frame(*cache, seg, at / EVI_ZSEG_CHUNK, &s);
        if (r < 0) {
            return r;
        }
        size_t in = (size_t)(at % EVI_ZSEG_CHUNK);
        size_t k = s->len - in < len - n ? s->len - in : len - n;
        memcpy(p + n, s->data + in, k);
        n += k;
    }
    *ret_n = n;
    return 0;
}

int evi_segment_read_exact(struct evi_zcache **cache, unsigned slots, const struct evi_segment *seg,
                           void *buf, size_t len, uint64_t off)
{
    size_t n;
    int r = evi_segment_pread(cache, slots, seg, buf, len, off, &n);
    if (r == 0 && n < len) {
        r = seg->compressed ? evi_error(EV_ECORRUPT, "read past the end of a segment") : -EIO;
    }
    return r;
}
