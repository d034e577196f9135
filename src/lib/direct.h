/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A segment's records written around the page cache (O_DIRECT; DESIGN.md,
 * "Writing an entry", step 5). The writer of a log never reads its records
 * back, so a large write sends the whole file-system blocks it covers to
 * the disk with O_DIRECT: no copy into the page cache and no pages to
 * allocate, account and drop again (measured: docs/PERFORMANCE.md,
 * session 10). A write that starts on a block boundary
 * from a buffer aligned to it goes straight from that buffer (log.c's
 * pending records start so under the flusher: carry_lead()); otherwise the
 * block the write starts in is read back from the file, written again whole
 * with the rest through the staging buffer. The last, partial block goes
 * through the page cache, as do small writes (a commit under sync: always
 * carries a few records), so the file never holds a byte past the records
 * and every offset means what FORMAT.md says. Durability is unchanged: the
 * fdatasync that follows covers the direct writes and the cached tail alike.
 *
 * A commit that writes over zeros that preallocation wrote and synced, to
 * be synced in place (inplace.h), goes around the page cache whatever its
 * size (evi_direct_write_zeros): its last block is written whole, the
 * records then zeros up to the block's end, as the file holds them already.
 * Under the flusher (evidentd's log, which it syncs itself under sync:
 * always) the commit's buffer starts on a block boundary (carry_lead() in
 * log.c), so the blocks go straight from it; otherwise the block it starts
 * in is read back and staged as above, up to EVI_DIRECT_CHUNK. Fewer steps for the
 * kernel than a write into the page cache and its writeback, on the
 * acknowledgement's path (measured: docs/PERFORMANCE.md, session 18).
 *
 * A file system that refuses O_DIRECT, or a write it refuses as misaligned,
 * turns the handle back to the page cache for good, with the same bytes
 * written; any other error is the write's error, as before. Committer only:
 * one struct per log, used without the log's mutex by whoever runs the
 * commit (one at a time).
 */
#ifndef EVI_DIRECT_H
#define EVI_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writes shorter than this go through the page cache: a commit under sync:
 * always carries what arrived during one fdatasync, and the flusher's
 * commits under sync: interval carry PENDING_FLUSH_BYTES (log.c), 1 MiB.
 */
#define EVI_DIRECT_MIN_BYTES (256u << 10)
/* The staging buffer: what one direct write carries at most. */
#define EVI_DIRECT_CHUNK (1u << 20)
/* The largest alignment accepted (block size); above it, the page cache. */
#define EVI_DIRECT_MAX_ALIGN (64u << 10)

struct evi_direct {
    int fd;           /* O_DIRECT descriptor of segment `first`, or -1 */
    int for_fd;       /* the log's own (cached) descriptor of the same file */
    uint64_t first;   /* that segment's first index */
    size_t align;     /* offset, length and memory alignment of a direct write */
    uint8_t *stage;   /* EVI_DIRECT_CHUNK bytes, aligned; allocated on first use */
    bool unusable;    /* refused once: the page cache for the rest of the handle */
    uint64_t written; /* bytes written directly, the re-written blocks included */
    uint64_t staged;  /* of those, bytes copied into the staging buffer first */
};

void evi_direct_init(struct evi_direct *d);
/*
 * The alignment the file system asks of direct I/O on fd (an O_DIRECT
 * descriptor): a power of two from 4096 to EVI_DIRECT_MAX_ALIGN, or 0 if
 * none is usable.
 */
size_t evi_direct_alignment(int fd);
/*
 * An O_DIRECT descriptor of segment first in the log directory dirfd that is
 * the same file as fd, and the alignment its writes need. 0; -EOPNOTSUPP when
 * the file system has no direct I/O (for good); -ESTALE when the name is no
 * longer fd's file; or -errno.
 */
int evi_direct_open_twin(int dirfd, uint64_t first, int fd, int *ret_dfd, size_t *ret_align);
/* Closes the descriptor and frees the staging buffer; d may be used again. */
void evi_direct_close(struct evi_direct *d);

/*
 * Writes len bytes of data at off of fd, the segment with first index first
 * in the log directory dirfd, like evi_write_all(fd, data, len, off): whole
 * blocks directly when len is at least EVI_DIRECT_MIN_BYTES and the file
 * system allows, the rest through fd. With off and data both aligned to
 * d->align (EVI_DIRECT_MAX_ALIGN suffices) nothing is copied; otherwise the
 * bytes before off in off's block must be in the file already (they are:
 * the records before). 0 or -errno.
 */
int evi_direct_write(struct evi_direct *d, int dirfd, uint64_t first, int fd, const void *data,
                     size_t len, uint64_t off);

/*
 * Writes len bytes of data at off of fd like evi_direct_write(), when every
 * block from off's to the one that holds the last byte lies below zeros_to
 * (zeros that a fill wrote and synced, past the records): all of it
 * directly, the last block ending in zeros. cap: the bytes data has room
 * for; with off and data aligned and room for the zeros, they are written
 * into it and the blocks go from it. *ret_end: where the bytes written end
 * (that block's end). 0; 1 when not done here (the file system refuses
 * direct I/O, the last block is not all zeros yet, or the write would need
 * staging and is larger than EVI_DIRECT_CHUNK): the caller writes it through
 * fd; or -errno.
 */
int evi_direct_write_zeros(struct evi_direct *d, int dirfd, uint64_t first, int fd, void *data,
                           size_t len, size_t cap, uint64_t off, uint64_t zeros_to,
                           uint64_t *ret_end);

#endif
