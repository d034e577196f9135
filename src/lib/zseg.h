/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compressed segments (docs/FORMAT.md §3.1): a closed segment stored as
 * NNN.seg.zst, a zstd file of independent frames of EVI_ZSEG_CHUNK bytes each
 * and a seek table, so that any byte range is reached by decompressing at most
 * two frames. zseg.c is the only file that includes zstd.h.
 *
 * Everything read from a .seg.zst is hostile: the seek table is checked
 * against its limits before use, each frame must claim exactly the size the
 * table gives it and decompresses into a buffer of that size (a frame cannot
 * expand further), and every failure of the bytes is EV_ECORRUPT (EV_EFORMAT
 * for a table that does not parse) with a message naming the file; -errno is
 * kept for system failures.
 */
#ifndef EVI_ZSEG_H
#define EVI_ZSEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evi_segment;

/* Decompressed bytes per frame (the last frame holds the rest, 1..CHUNK). */
#define EVI_ZSEG_CHUNK (1u << 20)
/* A segment is at most 16 GiB (storage.segment_size's limit), so 16384 frames. */
#define EVI_SEGMENT_MAX_BYTES (16ull << 30)
#define EVI_ZSEG_MAX_FRAMES (EVI_SEGMENT_MAX_BYTES / EVI_ZSEG_CHUNK)
/* Decompressed chunks a random-access cache keeps (struct ev_log: 4 MiB). */
#define EVI_ZCACHE_LOG_SLOTS 4
/* A sequential scan needs the chunk it is in and the next one. */
#define EVI_ZCACHE_SCAN_SLOTS 2
#define EVI_ZSEG_DEFAULT_LEVEL 3

/*
 * Compresses the size bytes of in_fd (a closed segment) into out_fd, as frames
 * and a seek table (§3.1), writing through evi_write_all (fault injection).
 * Checks *stop (may be NULL) between frames and returns -ECANCELED when it is
 * set. *ret_bytes (may be NULL) gets the compressed size. 0 or a negative code.
 */
int evi_zseg_compress(int in_fd, uint64_t size, int out_fd, int level, const bool *stop,
                      uint64_t *ret_bytes);

/*
 * Reads and checks the seek table of the open .seg.zst in seg->fd (name is for
 * messages) and sets seg->compressed, seg->zframes, seg->zframe_count and
 * seg->bytes (the decompressed size). Also returns the first 32 decompressed
 * bytes (the segment header) in header. EV_EFORMAT for a damaged or oversized
 * table or first frame.
 */
int evi_zseg_load(struct evi_segment *seg, const char *name, uint8_t header[32]);

/* A small cache of decompressed chunks with a zstd decoder. Not thread-safe. */
struct evi_zcache;

void evi_zcache_free(struct evi_zcache *cache);

/*
 * Reads up to len bytes of the segment's content (decompressed, for a
 * compressed segment) from off into buf; *ret_n gets the count, less than len
 * only at the end of the segment. *cache is made on first use (slots chunks)
 * and kept for the next call. 0, EV_ECORRUPT (bytes that do not decompress as
 * the table says; ev_last_error() names the segment and frame) or -errno.
 */
int evi_segment_pread(struct evi_zcache **cache, unsigned slots, const struct evi_segment *seg,
                      void *buf, size_t len, uint64_t off, size_t *ret_n);

/* The same, for exactly len bytes: EV_ECORRUPT (compressed) or -EIO (plain) if fewer. */
int evi_segment_read_exact(struct evi_zcache **cache, unsigned slots, const struct evi_segment *seg,
                           void *buf, size_t len, uint64_t off);

#endif
