/* SPDX-License-Identifier: Apache-2.0 */
/* A segment's records written around the page cache (see direct.h). */
#include "direct.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

void evi_direct_init(struct evi_direct *d)
{
    memset(d, 0, sizeof(*d));
    d->fd = d->for_fd = -1;
}

void evi_direct_close(struct evi_direct *d)
{
    if (d->fd >= 0) {
        (void)close(d->fd);
    }
    free(d->stage);
    bool unusable = d->unusable;
    uint64_t written = d->written, staged = d->staged;
    evi_direct_init(d);
    d->unusable = unusable;
    d->written = written;
    d->staged = staged;
}

size_t evi_direct_alignment(int fd)
{
    size_t align = 4096; /* what a kernel without STATX_DIOALIGN gets: EINVAL if wrong */
#ifdef STATX_DIOALIGN
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) != 0) {
        if (stx.stx_dio_offset_align == 0) {
            return 0; /* the file system has no direct I/O for this file */
        }
        align = stx.stx_dio_offset_align > stx.stx_dio_mem_align ? stx.stx_dio_offset_align
                                                                 : stx.stx_dio_mem_align;
        align = align < 4096 ? 4096 : align; /* whole pages: the tail's page is never shared */
    }
#endif
    if (align > EVI_DIRECT_MAX_ALIGN || (align & (align - 1)) != 0) {
        return 0;
    }
    return align;
}

int evi_direct_open_twin(int dirfd, uint64_t first, int fd, int *ret_dfd, size_t *ret_align)
{
    int dfd;
    int r = evi_segment_open_direct(dirfd, first, &dfd);
    if (r < 0) {
        return r == -EINVAL || r == -EOPNOTSUPP ? -EOPNOTSUPP : r; /* no O_DIRECT here */
    }
    struct stat a, b;
    size_t align = evi_direct_alignment(dfd);
    if (align == 0) {
        (void)close(dfd);
        return -EOPNOTSUPP;
    }
    if (fstat(dfd, &a) < 0 || fstat(fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        (void)close(dfd);
        return -ESTALE;
    }
    *ret_dfd = dfd;
    *ret_align = align;
    return 0;
}

/*
 * d->fd open on the same file as fd. false: not this time (the caller writes
 * through fd); d->unusable when the file system refuses for good.
 */
static bool attach(struct evi_direct *d, int dirfd, uint64_t first, int fd)
{
    if (d->fd >= 0 && d->for_fd == fd && d->first == first) {
        return true;
    }
    if (d->fd >= 0) {
        (void)close(d->fd);
        d->fd = -1;
    }
    int dfd;
    size_t align;
    int r = evi_direct_open_twin(dirfd, first, fd, &dfd, &align);
    if (r < 0) {
        d->unusable = r == -EOPNOTSUPP;
        return false;
    }
    if (d->stage == NULL || align != d->align) {
        free(d->stage);
        d->stage = NULL;
        void *p;
        if (posix_memalign(&p, align, EVI_DIRECT_CHUNK) != 0) {
            (void)close(dfd);
            return false;
        }
        d->stage = p;
        d->align = align;
    }
    d->fd = dfd;
    d->for_fd = fd;
    d->first = first;
    return true;
}

/*
 * After a direct write that put w of n bytes: the disk's error (the log fails
 * as it would have), or 0 when it was refused as misaligned (the page cache
 * for good) or short; either way the caller writes the rest through the cache.
 */
static int not_written(struct evi_direct *d, ssize_t w)
{
    if (w < 0 && w != -EINVAL && w != -EOPNOTSUPP) {
        return (int)w;
    }
    if (w < 0) {
        d->unusable = true;
        evi_direct_close(d);
    }
    return 0;
}

/* One direct write of n bytes of src at off: n, or fewer, or -errno. */
static ssize_t put_direct(struct evi_direct *d, const uint8_t *src, size_t n, uint64_t off)
{
    ssize_t w;
    do {
        w = evi_io_pwrite(d->fd, src, n, (off_t)off);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : w;
}

int evi_direct_write(struct evi_direct *d, int dirfd, uint64_t first, int fd, const void *data,
                     size_t len, uint64_t off)
{
    const uint8_t *bytes = data;
    if (len < EVI_DIRECT_MIN_BYTES || d->unusable || !attach(d, dirfd, first, fd)) {
        return evi_write_all(fd, data, len, (off_t)off);
    }
    const uint64_t end = off + len, whole_end = end - end % d->align;
    /* On a block boundary in the file and in memory: straight from data. */
    const bool in_place = off % d->align == 0 && (uintptr_t)data % d->align == 0;
    uint64_t block = off - off % d->align; /* where the next direct write starts */
    while (block < whole_end) {
        const uint8_t *src = bytes + (block - off);
        size_t n = (size_t)(whole_end - block);
        if (!in_place) {
            n = n < EVI_DIRECT_CHUNK ? n : EVI_DIRECT_CHUNK;
            size_t lead = block < off ? (size_t)(off - block) : 0; /* already in the file */
            int r = lead > 0 ? evi_read_exact(fd, d->stage, lead, (off_t)block) : 0;
            if (r < 0) {
                return r;
            }
            memcpy(d->stage + lead, bytes + (block + lead - off), n - lead);
            d->staged += n;
            src = d->stage;
        }
        ssize_t w = put_direct(d, src, n, block);
        if (w != (ssize_t)n) {
            int r = not_written(d, w);
            if (r < 0) {
                return r;
            }
            /* From the first byte not written (the same bytes either way). */
            w = w < 0 ? 0 : w;
            uint64_t from = block + (uint64_t)w > off ? block + (uint64_t)w : off;
            return evi_write_all(fd, bytes + (from - off), (size_t)(end - from), (off_t)from);
        }
        d->written += n;
        block += n;
    }
    /* The last, partial block (or nothing) through the page cache. */
    uint64_t from = block > off ? block : off;
    return evi_write_all(fd, bytes + (from - off), (size_t)(end - from), (off_t)from);
}

int evi_direct_write_zeros(struct evi_direct *d, int dirfd, uint64_t first, int fd, void *data,
                           size_t len, size_t cap, uint64_t off, uint64_t zeros_to,
                           uint64_t *ret_end)
{
    if (d->unusable || len == 0 || !attach(d, dirfd, first, fd)) {
        return 1;
    }
    const uint64_t end = off + len, block = off - off % d->align;
    const uint64_t block_end = (end + d->align - 1) / d->align * d->align;
    const size_t lead = (size_t)(off - block), n = (size_t)(block_end - block);
    if (block_end > zeros_to) {
        return 1;
    }
    uint8_t *src = data;
    if (lead == 0 && (uintptr_t)data % d->align == 0 && cap >= n) {
        memset(src + len, 0, n - len); /* straight from the caller's buffer */
    } else if (n <= EVI_DIRECT_CHUNK) {
        /* The block's bytes before off are records already written: read back (not cached). */
        int r = lead > 0 ? evi_read_exact(fd, d->stage, lead, (off_t)block) : 0;
        if (r < 0) {
            return r;
        }
        memcpy(d->stage + lead, data, len);
        memset(d->stage + lead + len, 0, n - lead - len);
        d->staged += n;
        src = d->stage;
    } else {
        return 1;
    }
    ssize_t w = put_direct(d, src, n, block);
    if (w != (ssize_t)n) {
        int r = not_written(d, w);
        return r < 0 ? r : 1; /* refused or short: the same bytes through the page cache */
    }
    d->written += n;
    *ret_end = block_end;
    return 0;
}
