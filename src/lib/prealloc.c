/* SPDX-License-Identifier: Apache-2.0 */
/* Zeros written ahead of the records in the writer's last segment (see prealloc.h). */
#include "prealloc.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "direct.h"
#include "store.h"

void evi_prealloc_init(struct evi_prealloc *z)
{
    memset(z, 0, sizeof(*z));
    z->fd = z->for_fd = -1;
}

void evi_prealloc_close(struct evi_prealloc *z)
{
    if (z->fd >= 0) {
        (void)close(z->fd);
    }
    free(z->zeros);
    bool unusable = z->unusable;
    uint64_t written = z->written;
    evi_prealloc_init(z);
    z->unusable = unusable;
    z->written = written;
}

uint64_t evi_prealloc_start(const struct evi_prealloc *z, uint64_t from)
{
    uint64_t align = z->align != 0 ? z->align : 4096;
    return (from + align - 1) / align * align;
}

/* z->fd open on the same file as fd. 0, -EOPNOTSUPP (no direct I/O here) or -errno. */
static int attach(struct evi_prealloc *z, int dirfd, uint64_t first, int fd)
{
    if (z->fd >= 0 && z->for_fd == fd && z->first == first) {
        return 0;
    }
    if (z->fd >= 0) {
        (void)close(z->fd);
        z->fd = -1;
    }
    int dfd;
    size_t align;
    int r = evi_direct_open_twin(dirfd, first, fd, &dfd, &align);
    if (r < 0) {
        return r;
    }
    /* tmpfs and ramfs have direct I/O (Linux 6.6) but nothing for an fdatasync to save. */
    struct statfs fs;
    if (fstatfs(dfd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
        (void)close(dfd);
        return -EOPNOTSUPP;
    }
    if (z->zeros == NULL || align != z->align) {
        free(z->zeros);
        z->zeros = NULL;
        void *p;
        if (posix_memalign(&p, align, EVI_PREALLOC_STEP) != 0) {
            (void)close(dfd);
            return -ENOMEM;
        }
        memset(p, 0, EVI_PREALLOC_STEP);
        z->zeros = p;
        z->align = align;
    }
    z->fd = dfd;
    z->for_fd = fd;
    z->first = first;
    return 0;
}

int evi_prealloc_fill(struct evi_prealloc *z, int dirfd, uint64_t first, int fd, uint64_t from,
                      uint64_t to, uint64_t *ret_end)
{
    *ret_end = from;
    if (z->unusable) {
        return -EOPNOTSUPP;
    }
    int r = attach(z, dirfd, first, fd);
    if (r == -EOPNOTSUPP) {
        z->unusable = true;
    }
    if (r < 0) {
        return r;
    }
    /* A page's alignment was assumed before the first attach: the file system may ask more. */
    from = (from + z->align - 1) / z->align * z->align;
    *ret_end = from;
    uint64_t end = to - to % z->align;
    if (end <= from) {
        return 0;
    }
    size_t n = (size_t)(end - from);
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < n + EVI_PREALLOC_MIN_FREE) {
        return -ENOSPC; /* the space is the records' (and the daemon's reserve) */
    }
    ssize_t w;
    do {
        w = evi_io_pwrite(z->fd, z->zeros, n, (off_t)from);
    } while (w < 0 && errno == EINTR);
    if (w < 0 || (size_t)w < n) {
        /*
         * Out of space (or failing): give back what this write allocated.
         * Nothing lies at or after from but these zeros: records that reach
         * it wait for the fill (log.c).
         */
        r = w < 0 ? -errno : -ENOSPC;
        (void)ftruncate(fd, (off_t)from);
        if (r == -EINVAL || r == -EOPNOTSUPP) {
            z->unusable = true; /* refused as misaligned: the file system wants no direct I/O */
            return -EOPNOTSUPP;
        }
        return r;
    }
    z->written += (uint64_t)w;
    /*
     * Synced through the fill's own descriptor: an fdatasync of the log's
     * would take for itself a writeback error of the records' pages (the
     * error is reported once per open file), which the committer's next
     * sync must see instead.
     */
    r = evi_io_fdatasync(z->fd);
    if (r < 0) {
        return r;
    }
    *ret_end = end;
    return 0;
}
