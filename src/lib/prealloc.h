/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Zeros written ahead of the records in the writer's last segment
 * (ev_open_options.preallocate; FORMAT.md §3, DESIGN.md "Writing an entry").
 *
 * An fdatasync after records that grow a file also commits the file system's
 * journal (the new size, the blocks allocated): on ext4 that is a second
 * write and a wait for the journal thread. Over bytes that the file already
 * holds, allocated and written, it writes the data only (on ext4 without a
 * journal also the inode's block, for the new times, which inplace.h then
 * spares the records' syncs). Measured on the
 * benchmark machine (append + fdatasync of 32 KiB, 2,000 times): 164 / 207 us
 * at the median / p99 growing the file, 101 / 149 us overwriting zeros
 * written before (docs/PERFORMANCE.md, session 14). So the flusher keeps the
 * file a few MiB ahead of the records, in zeros it writes and syncs itself,
 * and an acknowledgement's fdatasync finds the space ready.
 *
 * The zeros go around the page cache (O_DIRECT), so that an fdatasync of the
 * records never waits for their writeback. A file system without direct I/O,
 * or one in memory (tmpfs, ramfs: an fdatasync there costs nothing to save),
 * turns preallocation off for the handle. The zeros take real space: a fill
 * leaves EVI_PREALLOC_MIN_FREE free or is not made, and one that runs out of
 * space gives back what it took. Flusher only: one struct per log, used
 * without the log's mutex.
 */
#ifndef EVI_PREALLOC_H
#define EVI_PREALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one fill writes at most: one direct write and one fdatasync. */
#define EVI_PREALLOC_STEP (1u << 20)
/* A fill leaves at least this much space free on the file system, or waits for the next segment. */
#define EVI_PREALLOC_MIN_FREE (256ull << 20)

struct evi_prealloc {
    int fd;           /* O_DIRECT descriptor of segment `first`, or -1 */
    int for_fd;       /* the log's own descriptor of the same file */
    uint64_t first;   /* that segment's first index */
    size_t align;     /* offset and memory alignment of a direct write */
    uint8_t *zeros;   /* EVI_PREALLOC_STEP zero bytes, aligned; on first use */
    bool unusable;    /* no direct I/O here: preallocation stays off */
    uint64_t written; /* bytes of zeros written (tests, metrics) */
};

void evi_prealloc_init(struct evi_prealloc *z);
/* Closes the descriptor and frees the buffer; unusable and written stay. */
void evi_prealloc_close(struct evi_prealloc *z);

/* from rounded up to the alignment that fills use (a page until one is known). */
uint64_t evi_prealloc_start(const struct evi_prealloc *z, uint64_t from);

/*
 * Writes zeros over [from, to) of fd, the segment with first index first in
 * the log directory dirfd, then fdatasyncs it. from is rounded up and to
 * down to the file system's alignment (nothing is written below from: the
 * bytes there may be records); to - from is at most EVI_PREALLOC_STEP. On
 * success *ret_end is where the zeros end (from if nothing was written).
 * 0; -EOPNOTSUPP when the file system has no direct I/O or is in memory
 * (z->unusable from then on); -ENOSPC when fewer than EVI_PREALLOC_MIN_FREE
 * bytes would stay free, or the write ran short (the file is cut back to
 * from); or the -errno of the write or the sync.
 */
int evi_prealloc_fill(struct evi_prealloc *z, int dirfd, uint64_t first, int fd, uint64_t from,
                      uint64_t to, uint64_t *ret_end);

#endif
