/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The log directory's files (docs/FORMAT.md §1–§3, §8, §9): the metadata,
 * segments, the writer lock, checkpoint files, and a sequential record
 * scanner shared by recovery, readers and verification.
 *
 * All file I/O that writes goes through evi_io_* so that tests can inject
 * failures (ENOSPC, EIO) at an exact call.
 */
#ifndef EVI_STORE_H
#define EVI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"

#define EVI_META_FILE "evident.meta"
#define EVI_SIGNING_KEY_FILE "signing.key"
#define EVI_KEYSTATE_FILE "keystate"
#define EVI_LOCK_FILE "lock"
#define EVI_SEGMENTS_DIR "segments"
#define EVI_HASHES_FILE "hashes"
#define EVI_INDEX_FILE "index"
#define EVI_CHECKPOINT_FILE "checkpoint"
#define EVI_CHECKPOINTS_FILE "checkpoints"
#define EVI_META_MAX 4096

struct evi_meta {
    int format;
    char origin[256];
    uint64_t seal_interval_ns;
    int64_t start_ns;
    char vkey[512];
};

int evi_meta_write(int dirfd, const struct evi_meta *meta);
int evi_meta_read(int dirfd, struct evi_meta *ret_meta);

struct evi_segment {
    uint64_t first_index;
    int64_t created_ns;
    uint64_t bytes; /* file size when listed (or as written); decompressed size if compressed */
    int fd;
    /* A closed segment stored as NNN.seg.zst (FORMAT.md §3.1), read through zseg.h. */
    bool compressed;
    uint32_t zframe_count;
    uint64_t *zframes; /* zframe_count + 1 file offsets of the frames; owned by the table */
    /* A segment whose entry bytes retention removed, stored as NNN.pruned (FORMAT.md §3.2). */
    bool pruned;
};

/*
 * Lists and opens segments in index order, checking headers and continuity.
 * A segment present as both NNN.seg and NNN.seg.zst is the .seg (§3.1: a
 * crash between the rename and the unlink); a writer (writable) then removes
 * the .zst, and any leftover temporary file of a compression.
 */
int evi_segments_open(int dirfd, bool writable, struct evi_segment **ret_segments,
                      size_t *ret_count);
/* Closes every fd and frees every seek table, then the array. */
void evi_segments_close(struct evi_segment *segments, size_t count);
/* Closes one segment's fd and frees its seek table (the entry stays). */
void evi_segment_release(struct evi_segment *segment);
/* Creates segment file for first_index (header written and synced, dir synced). */
int evi_segment_create(int dirfd, uint64_t first_index, struct evi_segment *ret_segment);
/*
 * Opens the plain segment first_index write-only with O_DIRECT (direct.h) into
 * *ret_fd. -errno, without a message: -EINVAL when the file system has no
 * direct I/O.
 */
int evi_segment_open_direct(int dirfd, uint64_t first_index, int *ret_fd);
/* Removes the segment file of first_index (.seg and .seg.zst). */
int evi_segment_remove(int dirfd, uint64_t first_index);
/*
 * Compresses the closed segment plain into NNN.seg.zst (§3.1): a temporary
 * file, fsync, rename, fsync of segments/, then the .seg is unlinked and
 * segments/ synced again. The compressed file is read back and compared with
 * the .seg before the .seg goes. On success *ret_compressed is the new segment
 * (its own fd, opened read-only); plain->fd is left open (still readable).
 * On failure the .seg stays and no temporary is left. -ECANCELED when *stop.
 */
int evi_segment_compress(int dirfd, const struct evi_segment *plain, int level, const bool *stop,
                         struct evi_segment *ret_compressed);

/*
 * Pruning (§3.2), in two steps. evi_pruned_write writes the pruned form of
 * segment first_index (header and records already encoded in body) to the
 * temporary .NNN.pruned.tmp and syncs it. evi_pruned_commit renames it to
 * NNN.pruned, syncs segments/, removes NNN.seg and NNN.seg.zst and syncs
 * segments/ again; it must only run once the retention entry naming the
 * segment is durable. evi_pruned_discard removes a temporary.
 */
int evi_pruned_write(int dirfd, uint64_t first_index, const void *body, size_t len);
int evi_pruned_commit(int dirfd, uint64_t first_index);
void evi_pruned_discard(int dirfd, uint64_t first_index);
/* Opens NNN.pruned read-only into *ret_segment (header checked). */
int evi_pruned_open(int dirfd, uint64_t first_index, struct evi_segment *ret_segment);
/* The file name of a segment as it is stored now ("NNN.seg", "NNN.seg.zst", "NNN.pruned"). */
void evi_segment_file_name(const struct evi_segment *segment, char out[64]);

/* Writer lock (§9): waits up to timeout_ms; EV_ELOCKED names the holder's pid. */
int evi_lock_acquire(int dirfd, int timeout_ms, int *ret_fd);

/* Reads a whole small file (at most max bytes) relative to dirfd; caller frees. */
int evi_read_file(int dirfd, const char *name, size_t max, char **ret_data, size_t *ret_len);
/* Atomically replaces name with data (temp file, fsync, rename, dir fsync). */
int evi_replace_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
/* Appends one checkpoint frame to the history (§8) and syncs it. */
int evi_checkpoint_history_append(int dirfd, const char *note, size_t len);
/*
 * Calls visit for each note in the history; stops at a damaged frame with
 * EV_ECORRUPT. A torn last frame (a crash while appending) ends the history.
 */
int evi_checkpoint_history_read(int dirfd, int (*visit)(void *ctx, const char *note, size_t len),
                                void *ctx);
/* Writer, at open: cuts a torn last frame of the history. */
int evi_checkpoint_history_repair(int dirfd);

/* I/O wrappers with fault injection for tests. */
ssize_t evi_io_pwrite(int fd, const void *buf, size_t len, off_t off);
int evi_io_fdatasync(int fd);
int evi_io_fsync(int fd);
/*
 * Writes fd's dirty pages and waits for them (sync_file_range() over the
 * whole file): no inode, no flush of the disk's cache (inplace.h).
 */
int evi_io_sync_range(int fd);
/*
 * Test hook: the countdown-th following call of evi_io_pwrite/fdatasync/fsync/sync_range
 * (1 = the next one) and every call after it fail with -err until reset by
 * evi_io_fail_after(0, 0). With err EVI_IO_CRASH the process instead ends at
 * once with _exit(EVI_IO_CRASH_STATUS) before that call: a crash at that step.
 */
void evi_io_fail_after(long countdown, int err);
/* Test hook: only the countdown-th following call fails with -err. */
void evi_io_fail_once(long countdown, int err);
/* Test hook: hook(fd) runs before every evi_io_pwrite (it may block: a slow disk); NULL: none. */
void evi_io_set_write_hook(void (*hook)(int fd));
/* Test hook: hook(fd) runs before every evi_io_fdatasync and evi_io_fsync; NULL: none. */
void evi_io_set_sync_hook(void (*hook)(int fd));
#define EVI_IO_CRASH (-1)
#define EVI_IO_CRASH_STATUS 86

/* Writes all of buf at off (retrying short writes). 0 or -errno. */
int evi_write_all(int fd, const void *buf, size_t len, off_t off);

/* Creates path and its missing parents with mode (like mkdir -p). 0 or -errno. */
int evi_mkdir_p(const char *path, mode_t mode);
/* Reads exactly len bytes at off; -EIO if the file is shorter. */
int evi_read_exact(int fd, void *buf, size_t len, off_t off);
/*
 * Where the run of zero bytes that ends fd's bytes [from, end) begins (end if
 * the last byte is not zero): the zeros a crash or preallocation leaves after
 * a segment's records (FORMAT.md §3, prealloc.h); from <= end. Reads backwards.
 * 0 or -errno.
 */
int evi_zero_tail(int fd, uint64_t from, uint64_t end, uint64_t *ret_start);

/* Sequential record reader across segments. */
struct evi_scanner {
    const struct evi_segment *segments;
    size_t segment_count;
    size_t seg;      /* current segment */
    uint64_t offset; /* file offset of the next record in seg */
    uint64_t index;  /* index of the next record */
    uint8_t *buf;
    size_t buf_len, buf_pos;
    uint64_t buf_file_off;     /* file offset of buf[0] */
    bool buf_eof;              /* buf ends where the file ended */
    struct evi_zcache *zcache; /* decompressed chunks of compressed segments */
    /* a pruned run (§3.2) being handed out, one leaf hash per call */
    struct evi_record run;
    uint32_t run_next;
};

enum evi_scan_result {
    EVI_SCAN_RECORD = 1,  /* *ret_record is valid until the next call */
    EVI_SCAN_END = 0,     /* clean end of the last segment */
    EVI_SCAN_DAMAGED = 2, /* bytes at (seg, offset) are not an intact record */
};

int evi_scanner_init(struct evi_scanner *s, const struct evi_segment *segments, size_t count,
                     size_t seg, uint64_t offset, uint64_t index);
/*
 * Reads the next record. Returns an evi_scan_result, EV_ECORRUPT for a
 * compressed segment that does not decompress (ev_last_error() says where),
 * or -errno. For
 * EVI_SCAN_DAMAGED, *ret_status says why; s->seg/s->offset stay at the damage.
 */
int evi_scanner_next(struct evi_scanner *s, struct evi_record *ret_record,
                     enum evi_record_status *ret_status);
void evi_scanner_free(struct evi_scanner *s);

#endif
