/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syncing records written in place, over zeros that preallocation wrote and
 * synced (prealloc.h), without the segment's inode (DESIGN.md, "Writing an
 * entry", step 5; measured: docs/PERFORMANCE.md, session 17).
 *
 * On ext4 without a journal, fdatasync() of a file writes the block of the
 * inode table that holds its inode whenever that block is dirty, and every
 * write makes it dirty: it changes the file's modification time. So nearly
 * every acknowledgement's fdatasync wrote a 4 KiB block of inodes and waited
 * for it, between the records and the disk's cache flush: three requests to
 * the disk, one after the other, where durability needs two.
 *
 * Records that overwrite zeros within the file need nothing of the inode to
 * be read back: their blocks are allocated and the file's size is durable
 * (the fill's own fdatasync saw to that); only the times would be lost in a
 * crash. For them the committer writes the records around the page cache
 * and waits for them (direct.h), and for anything still dirty in it
 * (sync_file_range() with all three flags: the records are in the disk's
 * cache), then calls fdatasync() on a quiet directory of the same file
 * system, which on ext4 ends with a flush of the disk's cache whenever the
 * segment's own fdatasync would (the mount's barrier option, on by
 * default): the records are durable, as after an fdatasync of the segment,
 * one request sooner. Only on kernels where each step was checked
 * (evi_inplace_kernel_ok()).
 *
 * The quiet directory is the nearest ancestor of the log directory whose
 * inode cannot share a block of the inode table with the writer's files
 * (inode numbers at least a block's worth of inodes apart): its own
 * fdatasync then has no inode block to write. Everything else keeps the
 * segment's fdatasync: other file systems (on ext4 with a journal, and on
 * XFS, an fdatasync after a change of the times only already skips the
 * inode), other kernels, records past the zeros, a segment on another
 * file system than the quiet directory (segments/ a mount point) or near
 * its inode, and no such directory (the log at the root of its file
 * system). Committer only, like direct.h: used without the log's mutex by
 * whoever runs the commit.
 */
#ifndef EVI_INPLACE_H
#define EVI_INPLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How many ancestors of the log directory are looked at, at most. */
#define EVI_INPLACE_MAX_DEPTH 32

struct evi_inplace {
    int flush_fd;         /* the quiet directory (O_RDONLY), or -1: never in place */
    dev_t flush_dev;      /* its file system */
    uint64_t flush_ino;   /* its inode number */
    uint64_t spread;      /* inode numbers this far apart never share a block */
    uint64_t checked;     /* first index + 1 of the segment last checked, 0: none */
    bool checked_ok;      /* whether that segment may be synced in place at all */
    uint64_t written;     /* first index + 1 of the segment last written, 0: none */
    uint64_t written_end; /* the end of all that was written to it */
    uint64_t synced;      /* first index + 1 of the segment last synced, 0: none */
    uint64_t synced_end;  /* its bytes before this were durable after that sync */
    uint64_t syncs;       /* syncs done in place */
};

void evi_inplace_init(struct evi_inplace *p);

/*
 * Writer open: whether the log in dirfd (ext4 without a journal) syncs in
 * place, and its quiet directory, far from the inodes in hot[0..n) (the
 * files the writer writes). Off (flush_fd -1) whenever anything is unclear.
 */
void evi_inplace_open(struct evi_inplace *p, int dirfd, const uint64_t *hot, size_t n);

void evi_inplace_close(struct evi_inplace *p);

/*
 * Whether the ext4 file system on device major:minor has a journal, as sysfs
 * (mounted at sysfs: "/sys") tells: 1 yes, 0 no, -1 cannot tell.
 */
int evi_ext4_journal(const char *sysfs, unsigned major, unsigned minor);

/*
 * Whether the running kernel (uname's release) is one where every step was
 * checked: its ext4 fdatasync without a journal flushes the disk's cache
 * even for a clean inode (Linux 6.5 on; before, a clean quiet directory got
 * no flush), and writes the inode metadata that O_DIRECT writes change,
 * such as a fill's new size (Jan Kara's "ext4: fix fsync(2) for nojournal
 * mode": Linux 7.0, and 6.18.y since March 2026). So: Linux 7.0 on, and
 * 6.18.30 on; other kernels keep the segment's fdatasync.
 */
bool evi_inplace_kernel_ok(const char *release);

/*
 * Whether the file system of dirfd, or of its segments/ directory, leaves a
 * gap in fdatasync that preallocation and direct writes of records would
 * fall into: ext4 without a journal (or whose journal sysfs does not show)
 * on a kernel that evi_inplace_kernel_ok() does not know (on 5.5-6.4 no
 * flush after an overwrite that changed only the times; before the
 * nojournal fsync fix, no write of the size an O_DIRECT write gave the
 * file). The writer then keeps the page cache and growing appends, whose
 * fdatasync writes the size and flushes as for any file that grows (the gap
 * narrows: background writeback that cleans the inode first still defeats
 * it on those kernels; a journal closes it). evi_fsync_gap_in() decides
 * from the facts, for tests.
 */
bool evi_fsync_gap(int dirfd);
bool evi_fsync_gap_in(bool ext4, int journal, const char *release);
/* Tests: true makes evi_fsync_gap() say yes everywhere. */
void evi_fsync_gap_force_for_tests(bool force);

/*
 * A fill wrote and synced zeros over [start, end): the run [*from, *to) of
 * such zeros grows when they follow it, or starts again with them.
 */
void evi_inplace_zeros_add(uint64_t *from, uint64_t *to, uint64_t start, uint64_t end);

/* After any write to segment first: its bytes up to end are written (not yet durable). */
void evi_inplace_wrote(struct evi_inplace *p, uint64_t first, uint64_t end);

/*
 * Whether segment first (descriptor fd) may be synced in place now: all
 * that was written to it since its last sync (from synced_end on) lies
 * within [zeros_from, zeros_to), zeros that a fill wrote and synced, so
 * that nothing of it needs the inode; and the segment is a regular file on
 * the quiet directory's file system, its inode far from the directory's.
 */
bool evi_inplace_covers(struct evi_inplace *p, uint64_t first, int fd, uint64_t zeros_from,
                        uint64_t zeros_to);
/* Whether it would, once bytes up to end are written too. */
bool evi_inplace_covers_write(struct evi_inplace *p, uint64_t first, int fd, uint64_t zeros_from,
                              uint64_t zeros_to, uint64_t end);

/* After any sync of segment first (in place or not): all written to it is durable. */
void evi_inplace_synced(struct evi_inplace *p, uint64_t first);

/*
 * Makes what was written to fd durable: its dirty pages written and waited
 * for, then the quiet directory's fdatasync. 0 or -errno.
 */
int evi_inplace_sync(struct evi_inplace *p, int fd);

/* Tests: true takes every file system for ext4 without a journal (evi_inplace_open). */
void evi_inplace_force_for_tests(bool force);

#endif
