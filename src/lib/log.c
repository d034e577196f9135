/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer: create, open (with recovery, FORMAT.md §10), sequence, group
 * commit, seal (§7), checkpoint (§8), close.
 *
 * Sequencing happens under log->mu: an entry gets its seq and ts, its leaf
 * hash goes into the frontier, the chain and tag are computed, the record key
 * is stepped (erasing the old one) and the record is appended to the pending
 * buffer. The expensive part of making an entry (JSON canonicalization) is
 * done before taking the lock.
 *
 * Group commit: one appender at a time is the committer. It takes the pending
 * buffers, drops the lock, writes them and fdatasyncs the segment, writes the
 * derived files and the key state, then wakes every appender whose entries
 * that sync covered. Appenders that arrived meanwhile fill fresh buffers and
 * ride the next commit. Under the flusher, ev_log_sync() waits for the
 * records only: the derived files and the key state of its commit follow on
 * the flusher (commit_locked's hand_off), before the next commit begins.
 *
 * A failed write or sync makes the handle fail every later call (log->failed):
 * after a failed fdatasync the kernel's view of the file is unknown, so the
 * only safe continuation is to reopen, which recovers from what is on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <evident/config.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "log-internal.h"
#include "zseg.h"

#define PENDING_FLUSH_BYTES (1u << 20)

/*
 * Sequenced bytes allowed to wait in memory for the flusher: an appender that
 * finds more waits for a commit to end, so a slow disk slows the appenders
 * down instead of growing the writer without bound.
 */
#define PENDING_MAX_BYTES (32u << 20)

/*
 * The entries of one batch take their ts (FORMAT.md §5: the writer's clock
 * when sequenced) from one clock read per this many entries, read while the
 * batch is being sequenced under the mutex: at about a microsecond per entry
 * the ts is at most tens of microseconds older than the entry's own
 * sequencing, and a clock read per entry was a few percent of the append. A
 * rotation inside the batch reads it again. ts still never decreases.
 */
#define SEQUENCE_CLOCK_REUSE 16

/*
 * A batch is sequenced in runs of at most RUN_MAX entries (the run arrays
 * stay small: 56 bytes an entry); runs of EVI_LEAF_HASHER_MIN_RUN or more
 * have their leaves hashed by the leaf hasher's thread as well (leafhash.h):
 * below that, waking it costs more than it saves.
 */
#define RUN_MAX 1024

int ev_sync_parse(const char *name, enum ev_sync *ret_sync)
{
    if (name != NULL && strcmp(name, "always") == 0) {
        *ret_sync = EV_SYNC_ALWAYS;
    } else if (name != NULL && strcmp(name, "interval") == 0) {
        *ret_sync = EV_SYNC_INTERVAL;
    } else if (name != NULL && strcmp(name, "never") == 0) {
        *ret_sync = EV_SYNC_NEVER;
    } else {
        return evi_error(EV_EFORMAT, "sync mode '%.32s' is not always, interval or never",
                         name != NULL ? name : "");
    }
    return 0;
}

/* ---- buffers ------------------------------------------------------------ */

/*
 * Buffers start on a boundary of EVI_DIRECT_MAX_ALIGN: a commit's records go
 * to the disk straight from theirs when they start on a block boundary of
 * the file too (carry_lead(), direct.h).
 */
static int buf_reserve(struct ev_log *log, struct evi_buf *b, size_t more)
{
    if (b->len + more <= b->cap) {
        return 0;
    }
    int kind = b == &log->pending.records ? 0 : b == &log->pending.hashes ? 1 : 2;
    /* A spare large enough takes over: its pages are in memory already. */
    for (int s = 0; s < EVI_SPARE_SETS; s++) {
        struct evi_buf *spare = &log->spare[s][kind];
        if (spare->data != NULL && spare->cap >= b->len + more) {
            struct evi_buf smaller = *b;
            if (smaller.len > 0) {
                memcpy(spare->data, smaller.data, smaller.len);
            }
            *b = (struct evi_buf){.data = spare->data, .len = smaller.len, .cap = spare->cap};
            smaller.len = 0;
            *spare = smaller; /* none, if b had no buffer yet */
            return 0;
        }
    }
    /*
     * Else straight to the largest this kind has needed (at least double):
     * a pending buffer that grew by doubling from 64 KiB at every rotation
     * copied itself and took new pages at each step.
     */
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + more) {
        cap *= 2;
    }
    if (cap < log->buffer_peak[kind]) {
        cap = log->buffer_peak[kind];
    } else if (cap <= PENDING_MAX_BYTES) {
        log->buffer_peak[kind] = cap; /* larger ones are a batch past the limit */
    }
    void *d;
    if (posix_memalign(&d, EVI_DIRECT_MAX_ALIGN, cap) != 0) {
        return -ENOMEM;
    }
    if (b->len > 0) {
        memcpy(d, b->data, b->len);
    }
    free(b->data);
    b->data = d;
    b->cap = cap;
    log->buffers_allocated++;
    return 0;
}

static void buf_free(struct evi_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/*
 * The next pending buffers, from the spares where there are some: their
 * pages are in memory already. Fresh buffers grow by doubling from 64 KiB,
 * a new allocation, copy and page faults each time (measured: a rotation
 * every 0.15 s under syslog load used to cost that for a whole set).
 */
static void spare_take(struct ev_log *log, struct evi_pending *p)
{
    struct evi_buf *to[3] = {&p->records, &p->hashes, &p->index};

    for (int i = 0; i < 3; i++) {
        memset(to[i], 0, sizeof(*to[i]));
        for (int s = 0; s < EVI_SPARE_SETS; s++) {
            if (log->spare[s][i].data != NULL) {
                *to[i] = log->spare[s][i];
                memset(&log->spare[s][i], 0, sizeof(log->spare[s][i]));
                break;
            }
        }
    }
}

/* ---- key state ---------------------------------------------------------- */

static int keystate_write(int fd, const struct evi_fskey *key, bool sync)
{
    uint8_t ks[EVI_KEYSTATE_BYTES];
    int r;

    evi_keystate_encode(key, ks);
    r = evi_write_all(fd, ks, sizeof(ks), 0);
    evi_wipe(ks, sizeof(ks));
    if (r == 0 && sync) {
        r = evi_io_fdatasync(fd);
    }
    return r;
}

static int keystate_read(int fd, struct evi_fskey *ret)
{
    uint8_t ks[EVI_KEYSTATE_BYTES];
    int r = evi_read_exact(fd, ks, sizeof(ks), 0);

    if (r == 0) {
        r = evi_keystate_decode(ks, ret);
    } else {
        r = evi_error(EV_EFORMAT, "keystate: incomplete");
    }
    evi_wipe(ks, sizeof(ks));
    return r;
}

/* ---- commit ------------------------------------------------------------- */

/*
 * Under the flusher (sync: interval and never), where a commit carries a
 * megabyte: the next pending records start with a copy of the bytes of the
 * block the taken ones end in, and at that block's start. Those bytes are
 * written again with the next commit (the same bytes), so that it starts on
 * a block boundary, in the file and in its buffer, and its whole blocks go
 * to the disk straight from the buffer: no copy into a staging buffer
 * (direct.h). Skipped when the block began before the taken buffer (its
 * start is not in memory: the next write reads it back) or direct writes are
 * off. The block size is the file system's once known, else a page.
 */
static void carry_lead(struct ev_log *log, const struct evi_buf *taken)
{
    struct evi_pending *p = &log->pending;
    if (log->options.sync == EV_SYNC_ALWAYS || log->options.compression != EV_COMPRESSION_NONE ||
        log->direct.unusable) {
        return;
    }
    size_t align = log->direct.align != 0 ? log->direct.align : 4096;
    size_t lead = (size_t)(p->records_off % align);
    if (lead == 0 || lead > taken->len || buf_reserve(log, &p->records, lead) < 0) {
        return; /* without it, the next write stages its blocks */
    }
    memcpy(p->records.data, taken->data + taken->len - lead, lead);
    p->records.len = lead;
    p->records_off -= lead;
}

static void pending_reset(struct ev_log *log, struct evi_buf taken[3])
{
    struct evi_pending *p = &log->pending;

    taken[0] = p->records;
    taken[1] = p->hashes;
    taken[2] = p->index;
    p->records_off += p->records.len;
    p->hashes_off += p->hashes.len;
    p->index_off += p->index.len;
    spare_take(log, p);
    carry_lead(log, &taken[0]);
}

/*
 * Makes the handle fail (sticky, log.h) with r and the calling thread's
 * message, kept for every later call: a failure met by the flusher is
 * reported by the appender that comes next, in its own thread.
 */
static int fail_locked(struct ev_log *log, int r)
{
    if (log->failed == 0) {
        log->failed = r;
        (void)snprintf(log->failed_message, sizeof(log->failed_message), "%s", ev_last_error());
    }
    return log->failed;
}

/* The handle's failure, with its message set again in the calling thread. */
static int failed_locked(const struct ev_log *log)
{
    if (log->failed_message[0] != '\0') {
        return evi_error(log->failed, "%s", log->failed_message);
    }
    return log->failed;
}

/*
 * Puts a commit's buffers back: kept as spares, emptied, or freed. The two
 * largest buffers of each kind are kept, up to SPARE_MAX_BYTES, and
 * spare_take() hands out the larger first. A rotation during a commit needs
 * three sets (the pending, the closing and the commit's own), and on a disk
 * that stalls for tens of milliseconds each can reach PENDING_MAX_BYTES
 * (and a batch past it). Keeping one large spare freed a third buffer at
 * every rotation under syslog load, and allocated it again, with new pages
 * for every byte written into it: a page fault for every 27 messages
 * (docs/PERFORMANCE.md, session 15). The memory a burst leaves in them goes
 * back once the flusher is idle (buffers_drop_pages_locked()).
 */
#define SPARE_MAX_BYTES (2 * PENDING_MAX_BYTES)

static void buffers_return(struct ev_log *log, struct evi_buf taken[3])
{
    for (int i = 0; i < 3; i++) {
        struct evi_buf b = taken[i], *first = &log->spare[0][i], *second = &log->spare[1][i];
        b.len = 0;
        if (b.cap > first->cap && b.cap <= SPARE_MAX_BYTES) {
            struct evi_buf smaller = *first; /* empty when there was none */
            *first = b;
            b = smaller;
        }
        if (b.data != NULL && b.cap > second->cap && b.cap <= SPARE_MAX_BYTES) {
            struct evi_buf smaller = *second;
            *second = b;
            b = smaller;
        }
        buf_free(&b); /* nothing if it took the place of none */
    }
}

/*
 * What one madvise() of buffers_drop_pages_locked() gives back at most, with
 * the mutex held: 0.8 ms at most under strace. A whole drop after a syslog
 * burst (110 MB) in one go held it 7.5 ms, long for an append that arrives
 * meanwhile to wait.
 */
#define DROP_STEP_BYTES (4u << 20)

/* Buffer i of the ones an idle flusher drops: the spares, then the pending ones. */
static struct evi_buf *drop_slot(struct ev_log *log, int i)
{
    if (i < 3 * EVI_SPARE_SETS) {
        return &log->spare[i / 3][i % 3];
    }
    struct evi_buf *pending[3] = {&log->pending.records, &log->pending.hashes, &log->pending.index};
    return pending[i - 3 * EVI_SPARE_SETS];
}

/*
 * On the flusher, idle for IDLE_DROP_S: the memory of the spares and of the
 * pending buffers past what they hold goes back to the system
 * (MADV_DONTNEED). The buffers stay; written again, their pages come back
 * zeroed, one fault each, as at the start. Under syslog load the buffers
 * grow to tens of MiB (the pending records during a slow write); an idle
 * evidentd keeps none of that resident. Called with log->mu held, since the
 * pending buffers change only under it; it lets go of the mutex between
 * steps of DROP_STEP_BYTES, and stops (to try at the next idle second) as
 * soon as entries arrive or a buffer changes hands.
 */
static void buffers_drop_pages_locked(struct ev_log *log)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uint64_t size = log->size;

    if (page == 0 || page == (uintptr_t)-1) {
        return;
    }
    for (int i = 0; i < 3 * EVI_SPARE_SETS + 3; i++) {
        const uint8_t *data = drop_slot(log, i)->data;
        for (uintptr_t done = 0;;) {
            struct evi_buf *b = drop_slot(log, i);
            if (log->size != size || log->flusher_stop || log->derived.pending) {
                return; /* busy again */
            }
            if (b->data == NULL || b->data != data) {
                break; /* taken, or another buffer in its place */
            }
            uintptr_t start = (uintptr_t)b->data;
            uintptr_t from = (start + b->len + page - 1) / page * page;
            from = from > start + done ? from : start + done;
            uintptr_t end = (start + b->cap) / page * page;
            if (from >= end) {
                break;
            }
            uintptr_t to = end - from > DROP_STEP_BYTES ? from + DROP_STEP_BYTES : end;
            (void)madvise((void *)from, to - from, MADV_DONTNEED); /* a failure only keeps them */
            done = to - start;
            pthread_mutex_unlock(&log->mu);
            pthread_mutex_lock(&log->mu);
        }
    }
    log->pages_dropped_at = size;
}

/*
 * Durable bytes of a segment the log will not read again soon that are
 * worth a call to drop from the page cache. Under sync: always, a commit
 * carries only what arrived during the last fdatasync; this keeps it to one
 * posix_fadvise() per megabyte.
 */
#define DROP_MIN_BYTES (1u << 20)

/*
 * After the fdatasync that made a segment's records durable up to end:
 * their pages leave the page cache (POSIX_FADV_DONTNEED; DESIGN.md,
 * "Writing an entry", step 5). The writer never reads them
 * back; a verifier and a reader read them from the disk, which is then what
 * they check. It spares the host a cache of every byte ever logged, and
 * the writer the cost of ever new pages (measured: docs/PERFORMANCE.md,
 * session 9). Pages are clean after the sync, so nothing is written or
 * lost here; a failure only leaves them cached. With compression the
 * compressor reads each closed segment back, then deletes it: the pages
 * stay until then. Only the thread that ends a commit calls it (write_derived:
 * the committer, or the flusher after a hand-off), one commit at a time, like
 * dropped_fd and dropped_to.
 */
static void drop_durable(struct ev_log *log, int fd, uint64_t end)
{
    if (log->options.compression != EV_COMPRESSION_NONE) {
        return;
    }
    if (fd != log->dropped_fd) {
        log->dropped_fd = fd;
        log->dropped_to = 0;
    }
    if (end < log->dropped_to + DROP_MIN_BYTES) {
        return;
    }
    /* The kernel keeps the partial pages at both ends: the last one is dropped next time. */
    (void)posix_fadvise(fd, (off_t)log->dropped_to, (off_t)(end - log->dropped_to),
                        POSIX_FADV_DONTNEED);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    log->dropped_to = end - end % page;
}

/*
 * What ev_log_io_stats() says of the direct writes, copied under the mutex
 * when a commit ends: the committer uses log->direct without it, and no other
 * commit runs until this one has ended.
 */
static void io_direct_locked(struct ev_log *log)
{
    log->io.direct_io = !log->direct.unusable && log->options.compression == EV_COMPRESSION_NONE;
    log->io.direct_bytes = log->direct.written;
    log->io.inplace_sync = log->inplace.flush_fd >= 0;
    log->io.inplace_syncs = log->inplace.syncs;
}

/*
 * The I/O of a commit, without the mutex, in two halves. First the records
 * at off of the segment fd (first index first; around the page cache when
 * they are many and nothing reads them back soon, or when they are to be
 * synced in place: direct.h), then (sync) their fdatasync; *ret_sync_ns
 * gets what that took. 0 or -errno.
 *
 * zeros_to: where the zeros preallocated past the records end (prealloc.h),
 * 0 if none. Within them the write goes on with zeros to the end of its
 * last page: the file holds zeros there anyway, and a write of part of a
 * page that is not cached would first read it from the disk (the fills go
 * around the cache), one read per commit on the acknowledgement's path.
 */
#define EVI_PAGE 4096u

struct zeros {
    uint64_t to;            /* zeros (or a gap a fill skipped) up to here, 0 if none */
    uint64_t from, durable; /* of them, the run fills wrote and synced */
};

static int write_records(struct ev_log *log, int fd, uint64_t first, struct evi_buf *records,
                         uint64_t off, const struct zeros *zeros, bool sync, int64_t *ret_sync_ns)
{
    uint64_t zeros_to = zeros->to;
    int64_t sync_start = sync ? evi_now_ns() : 0;
    size_t len = records->len;
    uint64_t end = off + len, page_end = (end + EVI_PAGE - 1) / EVI_PAGE * EVI_PAGE;
    uint64_t wrote_to = 0;
    int r = 1;
    if (sync && log->options.compression == EV_COMPRESSION_NONE &&
        evi_inplace_covers_write(&log->inplace, first, fd, zeros->from, zeros->durable, end)) {
        /* To be synced in place: around the page cache, whatever its size (direct.h). */
        r = evi_direct_write_zeros(&log->direct, log->dirfd, first, fd, records->data, len,
                                   records->cap, off, zeros->durable, &wrote_to);
    }
    if (r == 1) {
        if (page_end > end && page_end <= zeros_to && records->cap - len >= page_end - end) {
            memset(records->data + len, 0, (size_t)(page_end - end));
            len += (size_t)(page_end - end);
        }
        if (log->options.compression == EV_COMPRESSION_NONE) {
            r = evi_direct_write(&log->direct, log->dirfd, first, fd, records->data, len, off);
        } else {
            r = evi_write_all(fd, records->data, len, (off_t)off);
        }
        wrote_to = off + len;
    }
    if (r == 0) {
        evi_inplace_wrote(&log->inplace, first, wrote_to);
    }
    if (r == 0 && sync) {
        /* Over zeros preallocated and synced, the inode need not be written (inplace.h). */
        r = evi_inplace_covers(&log->inplace, first, fd, zeros->from, zeros->durable)
                ? evi_inplace_sync(&log->inplace, fd)
                : evi_io_fdatasync(fd);
        if (r == 0) {
            evi_inplace_synced(&log->inplace, first);
        }
    }
    *ret_sync_ns = sync ? evi_now_ns() - sync_start : 0;
    return r;
}

/*
 * Then what follows from the records: the stored hashes and index entries at
 * off[1] and off[2], and (with key, after a sync) the key state, which thus
 * never runs ahead of durable records; the synced records' pages leave the
 * page cache. 0 or -errno.
 */
static int write_derived(struct ev_log *log, int fd, const struct evi_buf taken[3],
                         const uint64_t off[3], const struct evi_fskey *key)
{
    int r;
    if (key != NULL) {
        drop_durable(log, fd, off[0] + taken[0].len);
    }
    r = evi_write_all(log->hashes_fd, taken[1].data, taken[1].len, (off_t)off[1]);
    if (r == 0) {
        r = evi_write_all(log->index_fd, taken[2].data, taken[2].len, (off_t)off[2]);
    }
    if (r == 0 && key != NULL) {
        r = keystate_write(log->keystate_fd, key, false);
    }
    return r;
}

static int write_out(struct ev_log *log, int fd, uint64_t first, struct evi_buf taken[3],
                     const uint64_t off[3], const struct evi_fskey *key)
{
    int64_t sync_ns;
    const struct zeros none = {0};
    int r = write_records(log, fd, first, &taken[0], off[0], &none, key != NULL, &sync_ns);
    return r == 0 ? write_derived(log, fd, taken, off, key) : r;
}

/*
 * Whether segment `first`, ending at end, holds bytes after its records that
 * preallocation wrote (zeros, prealloc.h): a segment is closed, and the
 * handle closes, only after cutting them.
 */
static bool preallocated_past_locked(const struct ev_log *log, uint64_t first, uint64_t end)
{
    return log->prealloc_first == first && log->prealloc_end > end;
}

/*
 * The commit after a rotation that left records of the closing segment not
 * durable (rotate_if_due_locked): writes them, syncs the closing segment and
 * records the key state as of its end, and only then creates the next
 * segment, whose records have waited in pending meanwhile. So a new segment
 * file never exists before the one it follows is whole and durable, as when
 * the rotation synced in place (FORMAT.md §3, §10). Called like
 * commit_locked().
 */
static int commit_closing_locked(struct ev_log *log)
{
    struct evi_pending c = log->closing;
    struct evi_buf taken[3] = {c.records, c.hashes, c.index};
    struct evi_fskey key = log->closing_key;
    uint64_t target = log->closing_size, end = log->closing_end;
    struct evi_segment seg = {.fd = -1};
    bool cut_zeros = preallocated_past_locked(log, c.segment_first, end);
    int r = 0;

    evi_fskey_wipe(&log->closing_key);
    memset(&log->closing, 0, sizeof(log->closing));
    log->committing = true;
    pthread_mutex_unlock(&log->mu);

    const uint64_t off[3] = {c.records_off, c.hashes_off, c.index_off};
    /* Zeros past the records go first: the records' fdatasync covers the new size too. */
    if (cut_zeros && ftruncate(c.segment_fd, (off_t)end) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = write_out(log, c.segment_fd, c.segment_first, taken, off, &key);
    }
    evi_fskey_wipe(&key);
    if (r < 0) {
        r = evi_error(r, "write to the log failed (%s); reopen the log to recover", strerror(-r));
    } else {
        r = evi_segment_create(log->dirfd, target, &seg); /* sets its own message */
    }

    pthread_mutex_lock(&log->mu);
    io_direct_locked(log);
    buffers_return(log, taken);
    if (r < 0) {
        r = fail_locked(log, r);
    } else {
        /* The table has room: the rotation grew it. */
        log->segments[log->segment_count - 1].bytes = end;
        log->segments[log->segment_count++] = seg;
        log->pending.segment_fd = seg.fd;
        log->pending.segment_first = target;
        log->written = log->written > target ? log->written : target;
        log->durable = log->durable > target ? log->durable : target;
        if (log->records_durable < log->durable) {
            log->records_durable = log->durable;
        }
        pthread_cond_signal(&log->compress_cv);
    }
    log->rotating = false;
    log->committing = false;
    pthread_cond_broadcast(&log->cv);
    pthread_cond_signal(&log->flush_cv);
    return r;
}

/*
 * The end of a commit of target entries that wrote (r == 0) or failed, its
 * buffers back, with log->mu held: it was committing.
 */
static int commit_end_locked(struct ev_log *log, int r, struct evi_buf taken[3], uint64_t target,
                             bool sync, int64_t sync_cost, uint64_t calls)
{
    io_direct_locked(log);
    buffers_return(log, taken);
    if (r < 0) {
        r = fail_locked(log, evi_error(r, "write to the log failed (%s); reopen the log to recover",
                                       strerror(-r)));
    } else {
        log->written = target;
        if (sync) {
            log->durable = target;
            if (log->records_durable < target) {
                log->records_durable = target;
            }
            log->sync_ns = evi_now_ns();
            log->sync_cost_ns = sync_cost;
            /*
             * Expect next time every call this commit carried and every call
             * that arrived while it ran: two cohorts then merge into one sync.
             */
            log->calls_last_commit = calls + log->calls_pending;
        }
    }
    log->committing = false;
    pthread_cond_broadcast(&log->cv);
    pthread_cond_signal(&log->flush_cv);
    return r;
}

/*
 * Writes everything sequenced so far and, if sync, makes it durable and
 * records the key state. Called with log->mu held and !log->committing;
 * drops the lock while doing I/O. After a rotation it first finishes the
 * closing segment (commit_closing_locked) and returns: callers loop. So they
 * do when the flusher is writing zeros where the records go (prealloc.h): it
 * waits for that and returns 0, having committed nothing.
 *
 * hand_off (sync, with the flusher running): once the records are durable,
 * records_durable says so and the rest of the commit (write_derived) goes
 * to the flusher, which ends the commit (derived_locked). The caller, who
 * waited only for its records, goes on meanwhile: an acknowledgement does
 * not wait for files that recovery rebuilds from the records (FORMAT.md §10).
 */
static int commit_locked(struct ev_log *log, bool sync, bool hand_off)
{
    struct evi_buf taken[3];
    uint64_t target = log->size;
    int fd = log->pending.segment_fd;
    uint64_t first = log->pending.segment_first;
    const uint64_t off[3] = {log->pending.records_off, log->pending.hashes_off,
                             log->pending.index_off};
    struct evi_fskey key;
    int r;

    if (log->failed) {
        return failed_locked(log);
    }
    if (log->filling && (log->rotating || off[0] + log->pending.records.len > log->fill_from)) {
        /* The flusher writes zeros where these records go (or past the closing segment's). */
        pthread_cond_wait(&log->cv, &log->mu);
        return 0; /* callers loop: look again */
    }
    if (log->rotating) {
        return commit_closing_locked(log);
    }
    key = log->key;
    evi_frontier_root(&log->frontier, key.root);
    struct zeros zeros = {0};
    if (log->prealloc_first == first) {
        zeros = (struct zeros){log->prealloc_end, log->zeros_from, log->zeros_durable};
    }
    log->committing = true;
    pending_reset(log, taken);
    uint64_t calls = log->calls_pending;
    log->calls_pending = 0;
    pthread_mutex_unlock(&log->mu);

    int64_t sync_cost;
    r = write_records(log, fd, first, &taken[0], off[0], &zeros, sync, &sync_cost);
    if (r == 0 && sync && hand_off) {
        pthread_mutex_lock(&log->mu);
        log->records_durable = target;
        if (!log->filling) {
            log->derived = (struct evi_handed_off){.pending = true,
                                                   .fd = fd,
                                                   .taken = {taken[0], taken[1], taken[2]},
                                                   .off = {off[0], off[1], off[2]},
                                                   .target = target,
                                                   .calls = calls,
                                                   .sync_cost_ns = sync_cost,
                                                   .key = key};
            evi_fskey_wipe(&key);
            pthread_cond_broadcast(&log->cv);
            pthread_cond_signal(&log->flush_cv);
            return 0; /* still committing: the flusher ends it */
        }
        /* The flusher is writing zeros (prealloc.h) for a while: the rest is done here. */
        pthread_cond_broadcast(&log->cv);
        pthread_mutex_unlock(&log->mu);
    }
    if (r == 0) {
        r = write_derived(log, fd, taken, off, sync ? &key : NULL);
    }
    evi_fskey_wipe(&key);

    pthread_mutex_lock(&log->mu);
    return commit_end_locked(log, r, taken, target, sync, sync_cost, calls);
}

/* On the flusher, with log->mu held: the rest of a handed-off commit (commit_locked). */
static void derived_locked(struct ev_log *log)
{
    struct evi_handed_off s = log->derived;

    evi_fskey_wipe(&log->derived.key);
    memset(&log->derived, 0, sizeof(log->derived));
    pthread_mutex_unlock(&log->mu);
    int r = write_derived(log, s.fd, s.taken, s.off, &s.key);
    evi_fskey_wipe(&s.key);
    pthread_mutex_lock(&log->mu);
    (void)commit_end_locked(log, r, s.taken, s.target, true, s.sync_cost_ns, s.calls);
}

/* Waits until entries [0, upto) are durable (sync) or written, committing if needed. */
/*
 * Before a sync commit: wait until as many append calls have joined as the last
 * commit carried, for at most what the last sync cost (2 ms at most). Without this, the
 * thread whose commit just finished comes straight back and syncs its next
 * batch alone while the threads it woke are still on their way (a convoy:
 * measured at about half the entries per fdatasync that 8 threads could share).
 * With one appender it never waits; when appenders leave, the timeout adapts
 * the expectation at the next commit.
 */
static void gather_locked(struct ev_log *log)
{
    int64_t wait = log->sync_cost_ns;
    struct timespec deadline;

    if (log->calls_pending >= log->calls_last_commit || wait <= 0) {
        return;
    }
    if (wait > 2000000) {
        wait = 2000000;
    }
    (void)clock_gettime(CLOCK_MONOTONIC, &deadline); /* log->cv waits on this clock */
    deadline.tv_nsec += (long)wait;
    deadline.tv_sec += deadline.tv_nsec / 1000000000;
    deadline.tv_nsec %= 1000000000;
    while (log->calls_pending < log->calls_last_commit && !log->committing) {
        if (pthread_cond_timedwait(&log->cv, &log->mu, &deadline) != 0) {
            break;
        }
    }
}

/*
 * records_only (sync): the records suffice, what derives from them may still
 * be on its way (commit_locked's hand_off).
 */
static int wait_for_locked(struct ev_log *log, uint64_t upto, bool sync, bool gather,
                           bool records_only)
{
    for (;;) {
        uint64_t done = records_only ? log->records_durable : sync ? log->durable : log->written;
        /* A rotation still in memory is finished too: its new segment then exists. */
        if (done >= upto && !log->rotating) {
            return 0;
        }
        if (log->failed) {
            return failed_locked(log);
        }
        if (!log->committing && sync && gather) {
            gather_locked(log);
            if (log->committing) {
                continue; /* someone else took the commit while we waited */
            }
        }
        if (!log->committing) {
            int r = commit_locked(log, sync, sync && records_only && log->flusher_running);
            if (r < 0) {
                return r;
            }
            continue;
        }
        pthread_cond_wait(&log->cv, &log->mu);
    }
}

int evi_log_flush_for_read(struct ev_log *log, uint64_t upto)
{
    int r = 0;
    if (!log->writer) {
        return 0;
    }
    pthread_mutex_lock(&log->mu);
    if (upto > log->size) {
        upto = log->size;
    }
    r = wait_for_locked(log, upto, false, false, false);
    pthread_mutex_unlock(&log->mu);
    return r;
}

/* ---- sequencing --------------------------------------------------------- */

/*
 * The last segment, ending at segment_end, holds records and its first is
 * older than segment_max_age_ns (§3).
 */
static bool segment_too_old_locked(const struct ev_log *log, uint64_t segment_end)
{
    return log->options.segment_max_age_ns != 0 && segment_end > EVI_SEGMENT_HEADER &&
           evi_now_ns() - log->segment_first_ns >= (int64_t)log->options.segment_max_age_ns;
}

/* Whether a record of record_size after segment_end needs a new segment first (§3). */
static bool rotation_due_locked(const struct ev_log *log, uint64_t segment_end, size_t record_size)
{
    return (segment_end + record_size > log->options.segment_bytes ||
            segment_too_old_locked(log, segment_end)) &&
           segment_end > EVI_SEGMENT_HEADER;
}

/*
 * Starts a new segment once the current one is full, or too old (FORMAT.md
 * §3); record_size 0 checks the age only. The closed segment goes to the
 * compressor.
 *
 * The closed segment must be whole and durable before the next segment
 * exists. When it already is, the next segment is created here. Otherwise
 * its last records, and the sync, are handed to the next commit
 * (commit_closing_locked), which also creates the next segment; sequencing
 * goes on at once into fresh pending buffers, so that an appender does not
 * wait for the closing segment's fdatasync (tens of milliseconds for a 64 MiB
 * segment: at every rotation the appenders used to stop that long).
 */
static int rotate_if_due_locked(struct ev_log *log, size_t record_size)
{
    while (rotation_due_locked(log, log->segment_end, record_size)) {
        if (log->failed) {
            return failed_locked(log);
        }
        if (log->rotating) {
            /* The previous rotation is not finished (rare: a segment filled meanwhile). */
            if (log->committing) {
                pthread_cond_wait(&log->cv, &log->mu);
            } else {
                int r = commit_locked(log, false, false);
                if (r < 0) {
                    return r;
                }
            }
            continue;
        }
        struct evi_segment *grown =
            realloc(log->segments, (log->segment_count + 1) * sizeof(*grown));
        if (grown == NULL) {
            return -ENOMEM;
        }
        log->segments = grown;
        if (log->committing || log->written < log->size || log->durable < log->size ||
            log->filling ||
            preallocated_past_locked(log, log->pending.segment_first, log->segment_end)) {
            /*
             * Hand the closing segment's tail to the next commit, and go on (a
             * commit under way ends before the next one starts).
             */
            struct evi_pending *p = &log->pending;
            log->closing = *p;
            log->closing_size = log->size;
            log->closing_end = log->segment_end;
            log->closing_key = log->key;
            evi_frontier_root(&log->frontier, log->closing_key.root);
            spare_take(log, p);
            p->segment_fd = -1; /* known once commit_closing_locked() creates it */
            p->records_off = EVI_SEGMENT_HEADER;
            p->hashes_off = log->closing.hashes_off + log->closing.hashes.len;
            p->index_off = log->closing.index_off + log->closing.index.len;
            log->rotating = true;
            pthread_cond_signal(&log->flush_cv);
        } else {
            struct evi_segment seg;
            int r = evi_segment_create(log->dirfd, log->size, &seg);
            if (r < 0) {
                return fail_locked(log, r); /* every I/O failure of the writer is sticky */
            }
            log->segments[log->segment_count - 1].bytes = log->segment_end;
            log->segments[log->segment_count++] = seg;
            log->pending.segment_fd = seg.fd;
            log->pending.segment_first = seg.first_index;
            log->pending.records_off = EVI_SEGMENT_HEADER;
            log->pending.records.len = 0; /* a lead carried from the closed one (carry_lead) */
            pthread_cond_signal(&log->compress_cv);
        }
        log->segment_end = EVI_SEGMENT_HEADER;
        log->rotations++;
    }
    return 0;
}

/*
 * Sequencing gives an entry its index and appends its record to the pending
 * buffers, in two steps: assemble_locked() writes the entry in its place in
 * the pending records (FORMAT.md §4: at offset 12 of its record), not in a
 * scratch buffer that is then copied; finish_locked() then chains, tags and
 * adds its leaf hash to the tree. Between the two the leaf hash 0x00 ‖ entry
 * (§5) is computed in place: it uses the byte before the entry, the last byte
 * of the record's epoch field, which is written only after hashing. A batch
 * assembles a run of entries before finishing any (sequence_run_locked), so
 * that a second thread can hash their leaves meanwhile (leafhash.h).
 */

/*
 * Assembles the entry of index seq at offset `at` of the pending records
 * (the space reserved). Its length, or a negative error with nothing of the
 * log's state changed.
 */
static long assemble_locked(struct ev_log *log, const struct evi_entry_body *body, uint64_t seq,
                            size_t at, int64_t ts)
{
    size_t max_len = evi_entry_prefix_len(seq) + body->len;
    char *entry = (char *)log->pending.records.data + at + EVI_RECORD_PREFIX;
    long len = evi_entry_assemble(seq, ts, body, entry, max_len);

    if (len == EV_ETOOBIG) {
        return evi_error((int)len, "entry would be over %u bytes", EV_ENTRY_MAX_BYTES);
    }
    return len; /* < 0: encryption (§5.1) failed; its message is set */
}

/*
 * Finishes the record at the end of the pending records, whose entry of len
 * bytes (index log->size, time ts) has leaf hash `leaf`: the chain hashes
 * c(i-1) ‖ leafhash(i) from one 64-byte array, the tag steps the record key.
 * On failure before the key steps nothing of the log's state has changed.
 */
static int finish_locked(struct ev_log *log, size_t len, int64_t ts,
                         const uint8_t leaf[EV_HASH_BYTES], bool is_seal)
{
    uint8_t link[2 * EV_HASH_BYTES]; /* c(i-1) ‖ leafhash(i): the chain's input (§5) */
    uint8_t tag[EV_HASH_BYTES], chain[EV_HASH_BYTES];
    struct evi_pending *p = &log->pending;
    uint8_t *record = p->records.data + p->records.len;
    size_t record_size = EVI_RECORD_OVERHEAD + len;
    int nstored, r;

    if ((r = buf_reserve(log, &p->hashes, 64 * EV_HASH_BYTES)) < 0 ||
        (r = buf_reserve(log, &p->index, 8)) < 0) {
        return r;
    }
    memcpy(link, log->key.chain, EV_HASH_BYTES);
    memcpy(link + EV_HASH_BYTES, leaf, EV_HASH_BYTES);
    evi_sha256_public(link, sizeof(link), chain); /* the chain is public (§5) */
    if (is_seal) {
        evi_fskey_tag(&log->key, log->size, chain, tag);
    } else {
        evi_fskey_tag_next(&log->key, log->size, chain, tag); /* R(e, j) is erased here */
    }
    p->records.len += evi_record_finish(record, log->key.epoch, len, tag);
    nstored = evi_frontier_append(&log->frontier, leaf,
                                  (uint8_t(*)[EV_HASH_BYTES])(p->hashes.data + p->hashes.len));
    if (nstored < 0) {
        /* A damaged frontier (tree.c): the record key is already stepped, stop here. */
        return fail_locked(log, nstored);
    }
    p->hashes.len += (size_t)nstored * EV_HASH_BYTES;
    /* Locals: a byte store through p->index.data could alias p and log, reloaded each time. */
    uint8_t *index_at = p->index.data + p->index.len;
    uint64_t offset = log->segment_end;
    for (int i = 0; i < 8; i++) {
        index_at[i] = (uint8_t)(offset >> (8 * i)); /* u64 little-endian (§6) */
    }
    p->index.len += 8;

    log->segment_end += record_size;
    memcpy(log->key.chain, chain, EV_HASH_BYTES);
    log->key.last_ts_ns = ts;
    log->size++;
    log->key.next = log->size;
    if (is_seal) {
        evi_fskey_next_epoch(&log->key);
    }
    return 0;
}

/* The largest record body can make, whatever its index: what rotation must leave room for. */
static size_t record_bound(const struct evi_entry_body *body)
{
    return EVI_RECORD_OVERHEAD + evi_entry_prefix_len(UINT64_MAX) + body->len;
}

/*
 * Sequences one entry (a seal, the library's own events). On failure nothing
 * of the log's state has changed.
 *
 * *clock_ns is the writer's clock as the caller last read it, 0 to read it
 * here (see SEQUENCE_CLOCK_REUSE); it is read again after a rotation, which
 * may have dropped the mutex for a commit.
 */
static int sequence_locked(struct ev_log *log, const struct evi_entry_body *body, bool is_seal,
                           int64_t *clock_ns)
{
    uint8_t leaf[EV_HASH_BYTES];
    int r;

    if (log->failed) {
        return failed_locked(log);
    }
    /*
     * Rotation may drop the mutex (it commits the old segment): do it first,
     * for the largest this record can be, and only then give the entry its
     * seq and ts, so that nothing can come between them and the record.
     */
    uint64_t rotations = log->rotations;
    if ((r = rotate_if_due_locked(log, record_bound(body))) < 0) {
        return r;
    }
    if (*clock_ns == 0 || log->rotations != rotations) {
        *clock_ns = evi_now_ns();
    }
    size_t max_len = evi_entry_prefix_len(log->size) + body->len;
    if (max_len > EV_ENTRY_MAX_BYTES) {
        return evi_error(EV_ETOOBIG, "entry would be over %u bytes", EV_ENTRY_MAX_BYTES);
    }
    struct evi_pending *p = &log->pending;
    if ((r = buf_reserve(log, &p->records, EVI_RECORD_OVERHEAD + max_len)) < 0) {
        return r;
    }
    /* ts never decreases along the log (§5) */
    int64_t ts = *clock_ns < log->key.last_ts_ns ? log->key.last_ts_ns : *clock_ns;
    long len = assemble_locked(log, body, log->size, p->records.len, ts);
    if (len < 0) {
        return (int)len;
    }
    if (log->segment_end == EVI_SEGMENT_HEADER) {
        log->segment_first_ns = ts; /* the age of a segment is its first record's (§3) */
    }
    evi_leaf_hash_in_place(p->records.data + p->records.len + EVI_RECORD_PREFIX, (size_t)len, leaf);
    return finish_locked(log, (size_t)len, ts, leaf, is_seal);
}

/* Room for a run of count entries in the log's run arrays. */
static int run_reserve(struct ev_log *log, size_t count)
{
    struct evi_run *run = &log->run;
    if (count <= run->cap) {
        return 0;
    }
    struct evi_leaf_item *items = realloc(run->items, count * sizeof(*items));
    if (items != NULL) {
        run->items = items;
    }
    int64_t *ts = realloc(run->ts, count * sizeof(*ts));
    if (ts != NULL) {
        run->ts = ts;
    }
    uint8_t(*leaves)[EV_HASH_BYTES] = realloc(run->leaves, count * sizeof(*leaves));
    if (leaves != NULL) {
        run->leaves = leaves;
    }
    if (items == NULL || ts == NULL || leaves == NULL) {
        return -ENOMEM;
    }
    run->cap = count;
    return 0;
}

/*
 * The leaf hasher for a run of count entries, started at the first run long
 * enough to be worth its hand-over (a wake-up of the helper thread), on a
 * machine with more than one CPU; NULL: hash inline.
 */
static struct evi_leaf_hasher *run_hasher(struct ev_log *log, size_t count)
{
    if (count < EVI_LEAF_HASHER_MIN_RUN || log->leaf_hasher_off) {
        return NULL;
    }
    if (log->leaf_hasher == NULL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus < 2 || evi_leaf_hasher_start(&log->leaf_hasher) < 0) {
            log->leaf_hasher_off = true; /* hashing inline is as correct, only slower */
            evi_error_clear();
            return NULL;
        }
    }
    return log->leaf_hasher;
}

/*
 * Hashes the leaves of the n entries the run assembled and finishes their
 * records in order. Returns 0 or the first error; *ret_done: how many were
 * finished.
 */
static int finish_run_locked(struct ev_log *log, size_t n, size_t *ret_done)
{
    struct evi_run *run = &log->run;
    struct evi_leaf_hasher *hasher = run_hasher(log, n);
    uint8_t *base = log->pending.records.data;
    size_t done = 0;
    int r = 0;

    if (hasher != NULL && evi_leaf_hasher_begin(hasher, base, run->items, run->leaves, n) < 0) {
        hasher = NULL;
    }
    for (; done < n && r == 0; done++) {
        if (hasher != NULL) {
            evi_leaf_hasher_need(hasher, done);
        } else {
            evi_leaf_hash_prefixed(base + run->items[done].offset, run->items[done].len,
                                   run->leaves[done]);
        }
        r = finish_locked(log, run->items[done].len, run->ts[done], run->leaves[done], false);
    }
    if (hasher != NULL) {
        evi_leaf_hasher_end(hasher);
    }
    *ret_done = r == 0 ? done : done - 1;
    return r;
}

/*
 * The entries' data comes from another thread's memory (evidentd's stream
 * loops encode each event, its committer sequences them): copied into the
 * records cold, one cache miss after another. Asking for the data of the
 * entry PREFETCH_AHEAD places on (its first PREFETCH_MAX_BYTES; the
 * hardware follows longer ones) overlaps those misses with the copies
 * before it: the committer's CPU a syslog message fell by 11 % (six
 * alternating pairs, docs/PERFORMANCE.md, session 15).
 */
#define PREFETCH_AHEAD 4
#define PREFETCH_MAX_BYTES 2048

static void prefetch_data(const struct evi_entry_body *body)
{
    const char *d = body->text != NULL ? body->text : body->part[3]; /* EVI_BODY_BORROW */
    size_t len = body->text == NULL ? body->part_len[3] : body->enc ? body->plain_len : body->len;
    len = len < PREFETCH_MAX_BYTES ? len : PREFETCH_MAX_BYTES;

    for (size_t at = 0; at < len; at += 64) {
        __builtin_prefetch(d + at);
    }
}

/*
 * Sequences bodies[0 .. count) or a first part of them, as one run: the
 * entries are assembled one after the other in the pending records, then
 * their leaves hashed and their records finished (finish_run_locked). A run
 * ends before an entry that needs a new segment (only the run's first entry
 * may rotate, since rotation may drop the mutex) and at RUN_MAX entries.
 * batch_at is the index of bodies[0] in the caller's batch (for the clock).
 * Returns 0 or an error; *ret_done: how many were sequenced, also on error.
 */
static int sequence_run_locked(struct ev_log *log, const struct evi_entry_body *bodies,
                               size_t count, size_t batch_at, int64_t *clock_ns, size_t *ret_done)
{
    struct evi_pending *p = &log->pending;
    int r;

    *ret_done = 0;
    if (log->failed) {
        return failed_locked(log);
    }
    uint64_t rotations = log->rotations;
    if ((r = rotate_if_due_locked(log, record_bound(&bodies[0]))) < 0) {
        return r;
    }
    if (log->rotations != rotations) {
        *clock_ns = 0;
    }
    count = count < RUN_MAX ? count : RUN_MAX;
    /* buf_reserve keeps only finished records when it moves the buffer: reserve it all now. */
    size_t room = 0;
    for (size_t i = 0; i < count; i++) {
        room += EVI_RECORD_OVERHEAD + evi_entry_prefix_len(log->size + count - 1) + bodies[i].len;
    }
    if ((r = run_reserve(log, count)) < 0 || (r = buf_reserve(log, &p->records, room)) < 0) {
        return r;
    }
    struct evi_run *run = &log->run;
    size_t at = p->records.len, n;
    uint64_t segment_end = log->segment_end;
    int64_t last_ts = log->key.last_ts_ns;
    for (n = 0; n < count; n++) {
        const struct evi_entry_body *body = &bodies[n];
        if (n + PREFETCH_AHEAD < count) {
            prefetch_data(&bodies[n + PREFETCH_AHEAD]);
        }
        if (n > 0 && rotation_due_locked(log, segment_end, record_bound(body))) {
            break;
        }
        if ((batch_at + n) % SEQUENCE_CLOCK_REUSE == 0 || *clock_ns == 0) {
            *clock_ns = evi_now_ns();
        }
        uint64_t seq = log->size + n;
        if (evi_entry_prefix_len(seq) + body->len > EV_ENTRY_MAX_BYTES) {
            r = evi_error(EV_ETOOBIG, "entry would be over %u bytes", EV_ENTRY_MAX_BYTES);
            break;
        }
        int64_t ts = *clock_ns < last_ts ? last_ts : *clock_ns; /* never decreases (§5) */
        long len = assemble_locked(log, body, seq, at, ts);
        if (len < 0) {
            r = (int)len;
            break;
        }
        if (segment_end == EVI_SEGMENT_HEADER) {
            log->segment_first_ns = ts; /* the age of a segment is its first record's (§3) */
        }
        evi_leaf_prefix_put(p->records.data + at + EVI_RECORD_PREFIX); /* see leafhash.h */
        run->items[n] = (struct evi_leaf_item){at + EVI_RECORD_PREFIX, (size_t)len};
        run->ts[n] = ts;
        last_ts = ts;
        at += EVI_RECORD_OVERHEAD + (size_t)len;
        segment_end += EVI_RECORD_OVERHEAD + (size_t)len;
    }
    int finished = finish_run_locked(log, n, ret_done);
    return r != 0 ? r : finished;
}

/*
 * One caller at a time sequences (appends a batch, seals): a batch keeps
 * consecutive indexes even when a rotation inside it drops the mutex.
 */
static void sequencing_begin_locked(struct ev_log *log)
{
    while (log->sequencing) {
        pthread_cond_wait(&log->cv, &log->mu);
    }
    log->sequencing = true;
}

static void sequencing_end_locked(struct ev_log *log)
{
    log->sequencing = false;
    pthread_cond_broadcast(&log->cv);
}

static uint32_t clock_epoch(const struct ev_log *log)
{
    int64_t now = evi_now_ns();
    if (now <= log->meta.start_ns) {
        return 0;
    }
    uint64_t e = (uint64_t)(now - log->meta.start_ns) / log->meta.seal_interval_ns;
    return e > UINT32_MAX ? UINT32_MAX : (uint32_t)e;
}

static int seal_one_locked(struct ev_log *log)
{
    struct evi_seal seal = {.epoch = log->key.epoch, .tree_size = log->size};
    struct evi_entry_body body = {0};
    int r;

    evi_frontier_root(&log->frontier, seal.root);
    memcpy(seal.chain_head, log->key.chain, EV_HASH_BYTES);
    r = evi_seal_body_make(&seal, &body);
    if (r == 0) {
        int64_t now = 0;
        r = sequence_locked(log, &body, true, &now);
    }
    evi_entry_body_free(&body);
    return r;
}

static int checkpoint_locked(struct ev_log *log);

/* Seals every epoch whose time is over (§7); returns how many, or an error. */
static int seal_due_locked(struct ev_log *log, bool force)
{
    uint32_t target = clock_epoch(log);
    int count = 0, r;

    if (force && target <= log->key.epoch) {
        target = log->key.epoch + 1;
    }
    while (log->key.epoch < target) {
        r = seal_one_locked(log);
        if (r < 0) {
            return r;
        }
        count++;
    }
    if (count > 0) {
        r = checkpoint_locked(log);
        if (r < 0) {
            return r;
        }
    }
    return count;
}

/* ---- checkpoints -------------------------------------------------------- */

static int checkpoint_locked(struct ev_log *log)
{
    uint8_t root[EV_HASH_BYTES];
    char *text = NULL, *note = NULL;
    size_t text_len, note_len;
    uint64_t size = log->size;
    int r;

    if (log->have_checkpoint && log->checkpoint_size == size) {
        return 0;
    }
    /* Sign only what is durable (FORMAT.md §8). */
    r = wait_for_locked(log, size, true, false, false);
    if (r < 0) {
        return r;
    }
    if (log->have_checkpoint && log->checkpoint_size >= size) {
        /*
         * Another thread signed while this one waited for the sync: the tree it
         * signed covers ours (never sign a smaller tree after a bigger one).
         */
        return 0;
    }
    r = evi_tree_root(size, evi_log_read_hash, log, root);
    if (r < 0) {
        goto out;
    }
    uint8_t mem_root[EV_HASH_BYTES];
    evi_frontier_root(&log->frontier, mem_root);
    if (log->size == size && memcmp(root, mem_root, EV_HASH_BYTES) != 0) {
        r = evi_error(EV_ESTATE, "stored hashes disagree with the in-memory tree");
        goto out;
    }
    r = ev_checkpoint_format(log->meta.origin, size, root, &text, &text_len);
    if (r < 0) {
        goto out;
    }
    r = ev_note_sign(text, text_len, log->signer, &note, &note_len);
    if (r < 0) {
        goto out;
    }
    r = evi_checkpoint_history_append(log->dirfd, note, note_len);
    if (r == 0) {
        r = evi_replace_file(log->dirfd, EVI_CHECKPOINT_FILE, note, note_len, 0644);
    }
    if (r < 0) {
        r = fail_locked(log, evi_error(r, "cannot write checkpoint: %s", strerror(-r)));
        goto out;
    }
    log->checkpoint_size = size;
    log->have_checkpoint = true;
    log->checkpoint_ns = evi_now_ns();
out:
    free(text);
    free(note);
    return r;
}

/* ---- compression of closed segments (FORMAT.md §3.1) ---------------------- */

void evi_log_retire_fd_locked(struct ev_log *log, int fd)
{
    if (fd < 0) {
        return;
    }
    if (log->scans == 0) {
        (void)close(fd);
        return;
    }
    if (log->retired_count == log->retired_cap) {
        size_t cap = log->retired_cap ? log->retired_cap * 2 : 8;
        int *grown = realloc(log->retired_fds, cap * sizeof(*grown));
        if (grown == NULL) {
            return; /* out of memory: leaking one fd beats closing it under a scan */
        }
        log->retired_fds = grown;
        log->retired_cap = cap;
    }
    log->retired_fds[log->retired_count++] = fd;
}

void evi_log_retire_zframes_locked(struct ev_log *log, uint64_t *zframes)
{
    if (zframes == NULL) {
        return;
    }
    if (log->scans == 0) {
        free(zframes);
        return;
    }
    if (log->retired_zcount == log->retired_zcap) {
        size_t cap = log->retired_zcap ? log->retired_zcap * 2 : 8;
        uint64_t **grown = realloc(log->retired_zframes, cap * sizeof(*grown));
        if (grown == NULL) {
            return; /* out of memory: leaking a table beats freeing it under a scan */
        }
        log->retired_zframes = grown;
        log->retired_zcap = cap;
    }
    log->retired_zframes[log->retired_zcount++] = zframes;
}

void evi_log_scan_end_locked(struct ev_log *log)
{
    if (--log->scans == 0) {
        for (size_t i = 0; i < log->retired_count; i++) {
            (void)close(log->retired_fds[i]);
        }
        log->retired_count = 0;
        for (size_t i = 0; i < log->retired_zcount; i++) {
            free(log->retired_zframes[i]);
        }
        log->retired_zcount = 0;
    }
}

/*
 * The oldest closed segment still uncompressed. After a failure the
 * compressor waits for the next rotation before it tries again, so that a
 * full disk is not retried in a loop.
 */
static bool compress_candidate_locked(const struct ev_log *log, size_t *ret_i)
{
    if (log->pruning || (log->compress_error != 0 && log->rotations == log->compress_failed_at)) {
        return false;
    }
    for (size_t i = 0; i + 1 < log->segment_count; i++) {
        if (!log->segments[i].compressed && !log->segments[i].pruned) {
            *ret_i = i;
            return true;
        }
    }
    return false;
}

/*
 * The compressor thread. Only it replaces entries of log->segments (a closed
 * .seg by its .seg.zst), so the plain fd it works from stays open while it
 * works without the mutex; index i keeps naming the same segment because the
 * writer's table only grows. Appends never wait for it.
 */
static void *compressor_main(void *arg)
{
    struct ev_log *log = arg;

    /*
     * Background work yields to the appenders: on a busy machine compression
     * lags behind (the .seg stays readable) instead of slowing appends down.
     * Linux gives each thread its own nice value.
     */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
    pthread_mutex_lock(&log->mu);
    for (;;) {
        size_t i;
        if (log->compressor_stop) {
            break;
        }
        if (!compress_candidate_locked(log, &i)) {
            log->compressor_busy = false;
            pthread_cond_broadcast(&log->cv); /* evi_log_compress_wait */
            pthread_cond_wait(&log->compress_cv, &log->mu);
            continue;
        }
        log->compressor_busy = true;
        struct evi_segment plain = log->segments[i], z;
        pthread_mutex_unlock(&log->mu);
        int r = evi_segment_compress(log->dirfd, &plain, log->options.compression_level,
                                     &log->compressor_stop, &z);
        pthread_mutex_lock(&log->mu);
        if (r == 0) {
            evi_log_retire_fd_locked(log, log->segments[i].fd);
            log->segments[i] = z;
            log->compress_error = 0;
        } else if (r != -ECANCELED) {
            log->compress_error = r;
            log->compress_failed_at = log->rotations;
        }
    }
    log->compressor_busy = false;
    pthread_cond_broadcast(&log->cv);
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

static int compressor_start(struct ev_log *log)
{
    if (log->options.compression == EV_COMPRESSION_NONE) {
        return 0;
    }
    int r = pthread_create(&log->compressor, NULL, compressor_main, log);
    if (r != 0) {
        return evi_error(-r, "cannot start the compressor thread: %s", strerror(r));
    }
    log->compressor_running = true;
    return 0;
}

/* Stops the compressor; a compression under way is abandoned crash-safely (§3.1). */
static void compressor_stop(struct ev_log *log)
{
    if (!log->compressor_running) {
        return;
    }
    pthread_mutex_lock(&log->mu);
    __atomic_store_n(&log->compressor_stop, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&log->compress_cv);
    pthread_mutex_unlock(&log->mu);
    (void)pthread_join(log->compressor, NULL);
    log->compressor_running = false;
}

int evi_log_compress_wait(struct ev_log *log)
{
    size_t i;
    int r;

    pthread_mutex_lock(&log->mu);
    while (log->compressor_running && !log->compressor_stop &&
           (log->compressor_busy || compress_candidate_locked(log, &i))) {
        pthread_cond_signal(&log->compress_cv);
        pthread_cond_wait(&log->cv, &log->mu);
    }
    r = log->compress_error;
    pthread_mutex_unlock(&log->mu);
    return r;
}

/* ---- the flusher (sync: interval and never) ------------------------------ */

/* Seconds of nothing to do before the flusher drops the buffers' pages. */
#define IDLE_DROP_S 1

static bool sync_due_locked(const struct ev_log *log)
{
    return log->options.sync == EV_SYNC_INTERVAL && log->durable < log->size &&
           evi_now_ns() - log->sync_ns >= (int64_t)log->options.sync_interval_ns;
}

static bool flush_due_locked(const struct ev_log *log)
{
    return log->rotating || log->pending.records.len >= PENDING_FLUSH_BYTES || sync_due_locked(log);
}

/*
 * Preallocation (prealloc.h): the zeros the flusher keeps ahead of the
 * records, up to options.preallocate bytes past them within the segment.
 * The next fill starts where the zeros or the records end, whichever is
 * further, and is due when a whole step is missing (or the segment's end).
 */
static bool fill_range_locked(struct ev_log *log, uint64_t *ret_from, uint64_t *ret_to)
{
    if (log->options.preallocate == 0 || log->prealloc.unusable || log->failed != 0 ||
        log->rotating || log->pending.segment_fd < 0) {
        return false;
    }
    uint64_t done = log->prealloc_first == log->pending.segment_first ? log->prealloc_end : 0;
    uint64_t from =
        evi_prealloc_start(&log->prealloc, done > log->segment_end ? done : log->segment_end);
    uint64_t cap = log->options.segment_bytes;
    uint64_t want = log->segment_end + log->options.preallocate;
    want = want < cap ? want : cap;
    if (from >= want || (want - from < EVI_PREALLOC_STEP && want < cap)) {
        return false;
    }
    *ret_from = from;
    *ret_to = want - from > EVI_PREALLOC_STEP ? from + EVI_PREALLOC_STEP : want;
    return true;
}

/*
 * On the flusher: one fill. Beyond the records sequenced so far, so nothing
 * written can be under it; a commit of records that reach it waits
 * (commit_locked). Any failure (no room for the zeros, say) only ends
 * preallocation for this segment: the records' own writes meet a lasting one.
 */
static void fill_locked(struct ev_log *log, uint64_t from, uint64_t to)
{
    int fd = log->pending.segment_fd;
    uint64_t first = log->pending.segment_first, end;

    log->filling = true;
    log->fill_from = from;
    uint64_t written_before = log->prealloc.written;
    pthread_mutex_unlock(&log->mu);
    int r = evi_prealloc_fill(&log->prealloc, log->dirfd, first, fd, from, to, &end);
    pthread_mutex_lock(&log->mu);
    uint64_t wrote = log->prealloc.written - written_before;
    log->filling = false;
    log->io.preallocating = !log->prealloc.unusable;
    log->io.preallocated_bytes = log->prealloc.written;
    if (r < 0 && r != -EOPNOTSUPP) {
        log->io.preallocation_failures++;
        log->io.preallocation_error = r;
    }
    if (log->prealloc_first != first) {
        log->prealloc_first = first;
        log->prealloc_end = log->zeros_from = log->zeros_durable = 0;
    }
    if (r == 0) {
        /* [end - wrote, end) written and synced. */
        evi_inplace_zeros_add(&log->zeros_from, &log->zeros_durable, end - wrote, end);
    }
    if (r == 0) {
        log->prealloc_end = to; /* past a short step a gap stays: records there cost as before */
    } else if (r != -EOPNOTSUPP) {
        /* No more for this segment; what there is (zeros, or a gap) is cut as zeros are. */
        log->prealloc_end = log->options.segment_bytes;
    }
    evi_error_clear(); /* nothing failed that a caller asked for */
    pthread_cond_broadcast(&log->cv);
}

/*
 * Under sync: interval and never, the writes and syncs that the appender
 * used to do inline, between two batches, are done by this thread: a megabyte
 * of records at a time, the fdatasync every sync_interval (also when no
 * append comes to notice that it is due), and the closing segment of a
 * rotation. The appender only sequences into memory and wakes it. Every
 * commit still goes through commit_locked(), one at a time, so what is
 * durable and when is as before; only the thread differs.
 */
static void *flusher_main(void *arg)
{
    struct ev_log *log = arg;

#ifdef SCHED_BATCH
    /*
     * Its full share of the CPU, but a wake-up never preempts the thread that
     * woke it: ev_log_sync() hands the flusher the rest of its commit just
     * before it returns, and the caller's acknowledgement must not wait while
     * the flusher writes on its CPU (a host that packs threads onto few CPUs
     * put them on the same one: the flusher ran first). Measured by evidentd
     * at 50,000 events/s in requests of 100: acks 50 us sooner at the median
     * and 80 at p99 (docs/PERFORMANCE.md, session 13).
     */
    struct sched_param batch = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);
#endif
    pthread_mutex_lock(&log->mu);
    while (!log->flusher_stop || log->derived.pending) {
        if (log->derived.pending) {
            derived_locked(log); /* ends a commit: before anything else, even a stop */
            continue;
        }
        if (log->failed == 0 && !log->committing && flush_due_locked(log)) {
            (void)commit_locked(log, sync_due_locked(log), false); /* a failure is sticky */
            continue;
        }
        uint64_t from, to;
        if (fill_range_locked(log, &from, &to)) {
            fill_locked(log, from, to);
            continue;
        }
        if (log->options.sync == EV_SYNC_INTERVAL && log->durable < log->size && log->failed == 0) {
            /* Wake when the sync falls due, if nothing wakes us before. */
            int64_t at = log->sync_ns + (int64_t)log->options.sync_interval_ns;
            int64_t now = evi_now_ns();
            struct timespec until;
            (void)clock_gettime(CLOCK_MONOTONIC, &until);
            int64_t ns = (int64_t)until.tv_nsec + (at > now ? at - now : 1000000);
            until.tv_sec += (time_t)(ns / 1000000000);
            until.tv_nsec = (long)(ns % 1000000000);
            (void)pthread_cond_timedwait(&log->flush_cv, &log->mu, &until);
        } else {
            log->flusher_idle = true; /* the next append wakes it to time its sync */
            if (log->pages_dropped_at != log->size) {
                /* Entries since the last drop: the buffers' memory goes after IDLE_DROP_S. */
                struct timespec until;
                (void)clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += IDLE_DROP_S;
                if (pthread_cond_timedwait(&log->flush_cv, &log->mu, &until) == ETIMEDOUT) {
                    buffers_drop_pages_locked(log);
                }
            } else {
                pthread_cond_wait(&log->flush_cv, &log->mu);
            }
            log->flusher_idle = false;
        }
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

static int flusher_start(struct ev_log *log)
{
    if (log->options.sync == EV_SYNC_ALWAYS) {
        return 0; /* every append waits for its own sync anyway */
    }
    int r = pthread_create(&log->flusher, NULL, flusher_main, log);
    if (r != 0) {
        return evi_error(-r, "cannot start the flusher thread: %s", strerror(r));
    }
    log->flusher_running = true;
    return 0;
}

/* Stops the flusher after the commit it is in, if any; what is pending stays pending. */
static void flusher_stop(struct ev_log *log)
{
    if (!log->flusher_running) {
        return;
    }
    pthread_mutex_lock(&log->mu);
    log->flusher_stop = true;
    pthread_cond_signal(&log->flush_cv);
    pthread_mutex_unlock(&log->mu);
    (void)pthread_join(log->flusher, NULL);
    log->flusher_running = false;
}

/* ---- create ------------------------------------------------------------- */

static int check_origin(const char *origin)
{
    if (origin == NULL || origin[0] == '\0') {
        return evi_error(-EINVAL, "origin missing");
    }
    if (strlen(origin) > 255) {
        return evi_error(-EINVAL, "origin longer than 255 bytes");
    }
    for (const unsigned char *p = (const unsigned char *)origin; *p; p++) {
        if (*p <= ' ' || *p == '+' || *p == 0x7f) {
            return evi_error(-EINVAL, "origin '%s' contains a space, '+' or control character",
                             origin);
        }
    }
    return 0;
}

int ev_log_create(const char *dir, const struct ev_create_options *options,
                  uint8_t ret_verification_key[EV_VERIFICATION_KEY_BYTES])
{
    struct evi_meta meta = {.format = 1};
    struct ev_signer *signer = NULL;
    struct evi_fskey key;
    struct evi_segment seg = {.fd = -1};
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char *vkey = NULL;
    int dirfd = -1, fd = -1, r;
    struct stat st;

    evi_error_clear();
    memset(&key, 0, sizeof(key));
    if (options == NULL) {
        return evi_error(-EINVAL, "create options missing");
    }
    r = check_origin(options->origin);
    if (r < 0) {
        return r;
    }
    meta.seal_interval_ns =
        options->seal_interval_ns ? options->seal_interval_ns : EV_DEFAULT_SEAL_INTERVAL_NS;
    if (meta.seal_interval_ns < EV_MIN_SEAL_INTERVAL_NS) {
        return evi_error(-EINVAL, "seal interval under 1 second");
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        return evi_error(-errno, "cannot create '%s': %s", dir, strerror(errno));
    }
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", dir, strerror(errno));
    }
    if (fstatat(dirfd, EVI_META_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
        fstatat(dirfd, EVI_SEGMENTS_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
        fstatat(dirfd, EVI_SIGNING_KEY_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        r = evi_error(-EEXIST, "'%s' already holds an evident log", dir);
        goto out;
    }
    memcpy(meta.origin, options->origin, strlen(options->origin) + 1);
    meta.start_ns = evi_now_ns();

    r = evi_random(v, sizeof(v));
    if (r < 0) {
        goto out;
    }
    r = ev_signer_generate(options->origin, &signer);
    if (r < 0) {
        goto out;
    }
    char keypath[4096];
    (void)snprintf(keypath, sizeof(keypath), "%s/%s", dir, EVI_SIGNING_KEY_FILE);
    r = ev_signer_save(signer, keypath);
    if (r < 0) {
        goto out;
    }
    r = ev_signer_vkey(signer, &vkey);
    if (r < 0) {
        goto out;
    }
    if (strlen(vkey) >= sizeof(meta.vkey)) {
        r = -EOVERFLOW;
        goto out;
    }
    memcpy(meta.vkey, vkey, strlen(vkey) + 1);

    evi_fskey_init(&key, v);
    fd = openat(dirfd, EVI_KEYSTATE_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = evi_error(-errno, "cannot create keystate: %s", strerror(errno));
        goto out;
    }
    r = keystate_write(fd, &key, true);
    if (r < 0) {
        goto out;
    }
    if (mkdirat(dirfd, EVI_SEGMENTS_DIR, 0750) < 0) {
        r = evi_error(-errno, "cannot create segments/: %s", strerror(errno));
        goto out;
    }
    r = evi_segment_create(dirfd, 0, &seg);
    if (r < 0) {
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? EVI_HASHES_FILE : EVI_INDEX_FILE;
        int dfd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (dfd < 0) {
            r = -errno;
            goto out;
        }
        (void)close(dfd);
    }
    /* evident.meta last: its presence says the log is complete. */
    r = evi_meta_write(dirfd, &meta);
    if (r < 0) {
        goto out;
    }
    /* The first open signs the checkpoint of the empty tree. */
    struct ev_log *log = NULL;
    r = ev_log_open(dir, NULL, &log);
    if (r == 0) {
        r = ev_log_close(log);
    }
    if (r == 0) {
        memcpy(ret_verification_key, v, sizeof(v));
    }
out:
    if (r < 0 && r != -EEXIST && dirfd >= 0) {
        /* Leave nothing half-made behind, so that init can simply be run again. */
        static const char *const made[] = {
            EVI_META_FILE,
            EVI_SIGNING_KEY_FILE,
            EVI_KEYSTATE_FILE,
            EVI_HASHES_FILE,
            EVI_INDEX_FILE,
            EVI_CHECKPOINT_FILE,
            EVI_CHECKPOINTS_FILE,
            EVI_LOCK_FILE,
            EVI_SEGMENTS_DIR "/00000000000000000000.seg",
        };
        for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
            (void)unlinkat(dirfd, made[i], 0);
        }
        (void)unlinkat(dirfd, EVI_SEGMENTS_DIR, AT_REMOVEDIR);
    }
    evi_wipe(v, sizeof(v));
    evi_fskey_wipe(&key);
    ev_signer_free(signer);
    free(vkey);
    if (seg.fd >= 0) {
        (void)close(seg.fd);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    if (dirfd >= 0) {
        (void)close(dirfd);
    }
    return r;
}

/* ---- open and recovery -------------------------------------------------- */

static void log_free(struct ev_log *log)
{
    if (log == NULL) {
        return;
    }
    compressor_stop(log);
    flusher_stop(log);
    evi_leaf_hasher_stop(log->leaf_hasher);
    free(log->run.items);
    free(log->run.ts);
    free(log->run.leaves);
    evi_segments_close(log->segments, log->segment_count);
    for (size_t i = 0; i < log->retired_count; i++) {
        (void)close(log->retired_fds[i]);
    }
    free(log->retired_fds);
    for (size_t i = 0; i < log->retired_zcount; i++) {
        free(log->retired_zframes[i]);
    }
    free(log->retired_zframes);
    evi_zcache_free(log->zcache);
    if (log->hashes_fd >= 0) {
        (void)close(log->hashes_fd);
    }
    if (log->index_fd >= 0) {
        (void)close(log->index_fd);
    }
    if (log->keystate_fd >= 0) {
        (void)close(log->keystate_fd);
    }
    if (log->lock_fd >= 0) {
        (void)close(log->lock_fd); /* releases the OFD lock */
    }
    if (log->dirfd >= 0) {
        (void)close(log->dirfd);
    }
    evi_direct_close(&log->direct);
    evi_inplace_close(&log->inplace);
    evi_prealloc_close(&log->prealloc);
    ev_signer_free(log->signer);
    evi_fskey_wipe(&log->key);
    evi_fskey_wipe(&log->closing_key);
    buf_free(&log->closing.records);
    buf_free(&log->closing.hashes);
    buf_free(&log->closing.index);
    buf_free(&log->pending.records);
    buf_free(&log->pending.hashes);
    buf_free(&log->pending.index);
    for (int s = 0; s < EVI_SPARE_SETS; s++) {
        for (int i = 0; i < 3; i++) {
            buf_free(&log->spare[s][i]);
        }
    }
    free(log->dir);
    evi_cpindex_free(&log->checkpoints_index);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->cv);
    pthread_cond_destroy(&log->compress_cv);
    pthread_cond_destroy(&log->flush_cv);
    free(log);
}

static int file_size(int fd, uint64_t *ret)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    *ret = (uint64_t)st.st_size;
    return 0;
}

/* Entries whose stored hashes and index entries are all present in the files. */
static int derived_size(struct ev_log *log, uint64_t *ret)
{
    uint64_t hbytes, ibytes, n;
    int r;

    if ((r = file_size(log->hashes_fd, &hbytes)) < 0 ||
        (r = file_size(log->index_fd, &ibytes)) < 0) {
        return r;
    }
    n = ibytes / 8;
    if (evi_stored_hash_count(n) * EV_HASH_BYTES > hbytes) {
        uint64_t lo = 0, hi = n; /* largest m with count(m) hashes present */
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo + 1) / 2;
            if (evi_stored_hash_count(mid) * EV_HASH_BYTES <= hbytes) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        n = lo;
    }
    *ret = n;
    return 0;
}

static int open_common(struct ev_log *log, const char *dir, bool writable)
{
    int r;

    log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dirfd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", dir, strerror(errno));
    }
    r = evi_meta_read(log->dirfd, &log->meta);
    if (r < 0) {
        return r;
    }
    if (writable) {
        r = evi_lock_acquire(log->dirfd, log->options.lock_timeout_ms, &log->lock_fd);
        if (r < 0) {
            return r;
        }
    }
    r = evi_segments_open(log->dirfd, writable, &log->segments, &log->segment_count);
    if (r < 0) {
        return r;
    }
    if (log->segment_count == 0) {
        return evi_error(EV_ECORRUPT, "no segments in '%s/segments'", dir);
    }
    int flags = (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW;
    log->hashes_fd = openat(log->dirfd, EVI_HASHES_FILE, flags, 0644);
    log->index_fd = openat(log->dirfd, EVI_INDEX_FILE, flags, 0644);
    if (log->hashes_fd < 0 || log->index_fd < 0) {
        return evi_error(-errno, "cannot open derived files: %s", strerror(errno));
    }
    return 0;
}

size_t evi_log_segment_of(const struct ev_log *log, uint64_t index)
{
    size_t lo = 0, hi = log->segment_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segments[mid].first_index <= index) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

struct recovery_scan {
    uint64_t start; /* first entry rebuilt */
    size_t seg;
    uint64_t offset;
};

/* Where to start rebuilding: after the last entry the derived files describe. */
static int recovery_start(struct ev_log *log, uint64_t limit, struct recovery_scan *ret)
{
    uint64_t n;
    int r = derived_size(log, &n);

    if (r < 0) {
        return r;
    }
    if (n > limit) {
        n = limit;
    }
    ret->start = 0;
    ret->seg = 0;
    ret->offset = EVI_SEGMENT_HEADER;
    if (n == 0) {
        return 0;
    }
    /* Check the last described record; on any doubt rebuild from the start. */
    uint64_t off;
    size_t seg = evi_log_segment_of(log, n - 1);
    uint8_t *rec = malloc(EVI_RECORD_MAX);
    struct evi_record record;
    if (rec == NULL) {
        return -ENOMEM;
    }
    if (evi_log_entry_offset(log, n - 1, &off) == 0 && off >= EVI_SEGMENT_HEADER &&
        off < log->segments[seg].bytes) {
        size_t avail = log->segments[seg].bytes - off;
        if (avail > EVI_RECORD_MAX) {
            avail = EVI_RECORD_MAX;
        }
        struct evi_entry_view view;
        if (evi_segment_read_exact(&log->zcache, EVI_ZCACHE_LOG_SLOTS, &log->segments[seg], rec,
                                   avail, off) == 0 &&
            evi_record_decode(rec, avail, &record, NULL) == EVI_RECORD_OK &&
            evi_entry_view(record.entry, record.entry_len, &view) == 0 && view.seq == n - 1) {
            ret->start = n;
            ret->seg = seg;
            ret->offset = off + record.size;
        }
    }
    free(rec);
    return 0;
}

/*
 * Cuts segment seg at offset and removes the segments after it. torn_bytes
 * counts what was cut but the zeros ending the last segment: no record was
 * ever there (space preallocated ahead of the records, or allocated by the
 * file system for data that never landed).
 */
static int cut_torn_tail(struct ev_log *log, size_t seg, uint64_t offset, struct ev_recovery *rec)
{
    uint64_t end = log->segments[seg].bytes, cut;
    int r;

    if (seg + 1 < log->segment_count ||
        evi_zero_tail(log->segments[seg].fd, offset, end, &end) < 0) {
        end = log->segments[seg].bytes;
    }
    cut = end - offset;

    for (size_t k = seg + 1; k < log->segment_count; k++) {
        cut += log->segments[k].bytes;
        (void)close(log->segments[k].fd);
        r = evi_segment_remove(log->dirfd, log->segments[k].first_index);
        if (r < 0) {
            return evi_error(r, "cannot remove segment after a torn tail: %s", strerror(-r));
        }
    }
    log->segment_count = seg + 1;
    if (ftruncate(log->segments[seg].fd, (off_t)offset) < 0) {
        return evi_error(-errno, "cannot cut torn tail: %s", strerror(errno));
    }
    r = evi_io_fsync(log->segments[seg].fd);
    if (r < 0) {
        return r;
    }
    log->segments[seg].bytes = offset;
    rec->torn_bytes += cut;
    return 0;
}

static int flush_rebuilt(struct ev_log *log)
{
    struct evi_pending *p = &log->pending;
    int r = evi_write_all(log->hashes_fd, p->hashes.data, p->hashes.len, (off_t)p->hashes_off);

    if (r == 0) {
        r = evi_write_all(log->index_fd, p->index.data, p->index.len, (off_t)p->index_off);
    }
    if (r == 0) {
        p->hashes_off += p->hashes.len;
        p->index_off += p->index.len;
        p->hashes.len = 0;
        p->index.len = 0;
    }
    return r;
}

/* Compares the rebuilt tree with the root the key state recorded at its size. */
static bool tree_matches(const struct evi_frontier *f, const uint8_t root[EV_HASH_BYTES])
{
    uint8_t have[EV_HASH_BYTES];
    evi_frontier_root(f, have);
    return memcmp(have, root, EV_HASH_BYTES) == 0;
}

/*
 * FORMAT.md §10. With full, every derived hash is rebuilt from the records;
 * else only those after the last entry the derived files describe, and
 * *ret_rebuild says when the files turned out not to deserve that trust.
 * The derived files are written over in place and cut to length only once the
 * scan succeeded, so a refused open leaves them as they were.
 */
static int recover(struct ev_log *log, struct ev_recovery *rec, bool full, bool *ret_rebuild)
{
    struct recovery_scan at = {.start = 0, .seg = 0, .offset = EVI_SEGMENT_HEADER};
    struct evi_scanner sc = {0};
    struct evi_record record;
    enum evi_record_status status;
    const uint64_t durable = log->key.next; /* records the key state vouches for */
    uint8_t durable_root[EV_HASH_BYTES];
    uint64_t index;
    size_t adopted_seg = SIZE_MAX; /* the segment of the first record past the key state */
    int r;

    *ret_rebuild = false;
    memcpy(durable_root, log->key.root, EV_HASH_BYTES);
    if (!full) {
        r = recovery_start(log, durable, &at);
        if (r < 0) {
            return r;
        }
    }
    evi_frontier_init(&log->frontier);
    if (at.start > 0 && evi_frontier_load(&log->frontier, at.start, evi_log_read_hash, log) < 0) {
        *ret_rebuild = true; /* the hashes file cannot be read: rebuild everything */
        return 0;
    }
    if (at.start == durable && !tree_matches(&log->frontier, durable_root)) {
        *ret_rebuild = true;
        return 0;
    }
    log->pending.hashes.len = 0;
    log->pending.index.len = 0;
    log->pending.hashes_off = evi_stored_hash_count(at.start) * EV_HASH_BYTES;
    log->pending.index_off = at.start * 8;
    log->size = at.start;

    r = evi_scanner_init(&sc, log->segments, log->segment_count, at.seg, at.offset, at.start);
    if (r < 0) {
        return r;
    }
    index = at.start;
    for (;;) {
        size_t seg = sc.seg;
        uint64_t offset = sc.offset;
        r = evi_scanner_next(&sc, &record, &status);
        if (r < 0) {
            goto out;
        }
        if (r == EVI_SCAN_END) {
            break;
        }
        if (r == EVI_SCAN_DAMAGED) {
            if (index < durable || log->segments[sc.seg].compressed ||
                log->segments[sc.seg].pruned) {
                r = evi_error(EV_ECORRUPT,
                              "record %" PRIu64 " (segment %" PRIu64 ", byte %" PRIu64
                              ") is damaged (%s) but was acknowledged as durable; "
                              "run 'evident verify'",
                              index, log->segments[sc.seg].first_index, sc.offset,
                              evi_record_status_name(status));
                goto out;
            }
            r = cut_torn_tail(log, sc.seg, sc.offset, rec);
            if (r < 0) {
                goto out;
            }
            break;
        }
        if (sc.seg != seg) {
            offset = EVI_SEGMENT_HEADER; /* the scanner moved on to the next segment */
        }
        struct evi_entry_view view;
        if (record.leaf != NULL) {
            /* A pruned record (§3.2): only ever before the key state's records. */
            if (index >= durable) {
                r = evi_error(EV_ECORRUPT,
                              "record %" PRIu64 " is pruned but comes after the key state; "
                              "run 'evident verify'",
                              index);
                goto out;
            }
        } else if (evi_entry_view(record.entry, record.entry_len, &view) < 0 || view.seq != index) {
            /* A compressed segment was whole when it was closed (§3.1): never a torn tail. */
            if (index < durable || log->segments[sc.seg].compressed ||
                log->segments[sc.seg].pruned) {
                r = evi_error(EV_ECORRUPT,
                              "record %" PRIu64 " is not a valid entry (%s); run "
                              "'evident verify'",
                              index, ev_last_error());
                goto out;
            }
            r = cut_torn_tail(log, sc.seg, offset, rec);
            if (r < 0) {
                goto out;
            }
            rec->torn_records++;
            break;
        }

        uint8_t leaf[EV_HASH_BYTES], stored[64][EV_HASH_BYTES];
        if (record.leaf != NULL) {
            memcpy(leaf, record.leaf, EV_HASH_BYTES);
        } else {
            ev_leaf_hash(record.entry, record.entry_len, leaf);
        }
        if (index >= durable) {
            /* Durable but after the key state: derive the key state forward over it. */
            if (adopted_seg == SIZE_MAX) {
                adopted_seg = sc.seg;
            }
            uint8_t chain[EV_HASH_BYTES], tag[EV_HASH_BYTES];
            evi_sha256_parts(log->key.chain, EV_HASH_BYTES, leaf, EV_HASH_BYTES, NULL, 0, chain);
            evi_fskey_tag(&log->key, index, chain, tag);
            if (record.epoch != log->key.epoch || !evi_ct_equal(tag, record.tag, EV_HASH_BYTES)) {
                r = evi_error(EV_ESTATE,
                              "record %" PRIu64 " was not made with this log's key "
                              "state; run 'evident verify'",
                              index);
                goto out;
            }
            memcpy(log->key.chain, chain, EV_HASH_BYTES);
            log->key.last_ts_ns = view.ts_ns;
            log->key.next = index + 1;
            if (evi_entry_is_type(&view, "seal")) {
                evi_fskey_next_epoch(&log->key);
            } else {
                evi_fskey_next_record(&log->key);
            }
        }
        int nstored = evi_frontier_append(&log->frontier, leaf, stored);
        if (nstored < 0) {
            r = nstored;
            goto out;
        }
        if ((r = buf_reserve(log, &log->pending.hashes, 64 * EV_HASH_BYTES)) < 0 ||
            (r = buf_reserve(log, &log->pending.index, 8)) < 0) {
            goto out;
        }
        memcpy(log->pending.hashes.data + log->pending.hashes.len, stored,
               (size_t)nstored * EV_HASH_BYTES);
        log->pending.hashes.len += (size_t)nstored * EV_HASH_BYTES;
        for (int i = 0; i < 8; i++) {
            log->pending.index.data[log->pending.index.len + (size_t)i] =
                (uint8_t)(offset >> (8 * i));
        }
        log->pending.index.len += 8;
        rec->records_scanned++;
        index++;
        if (index == durable && !tree_matches(&log->frontier, durable_root)) {
            /* The hashes we started from were wrong (or the records changed). */
            *ret_rebuild = !full;
            r = 0;
            if (full) {
                r = evi_error(EV_ETAMPERED,
                              "the records do not give the tree root the key "
                              "state recorded at %" PRIu64 " entries; run 'evident verify'",
                              durable);
            }
            goto out;
        }
        if (log->pending.hashes.len >= PENDING_FLUSH_BYTES && (r = flush_rebuilt(log)) < 0) {
            goto out;
        }
    }
    if (index < durable) {
        r = evi_error(EV_ESTATE,
                      "the key state says %" PRIu64 " entries are durable but the "
                      "records end at %" PRIu64 ": acknowledged entries are missing; run "
                      "'evident verify'",
                      durable, index);
        goto out;
    }
    r = flush_rebuilt(log);
    if (r < 0) {
        goto out;
    }
    if (ftruncate(log->hashes_fd, (off_t)(evi_stored_hash_count(index) * EV_HASH_BYTES)) < 0 ||
        ftruncate(log->index_fd, (off_t)(index * 8)) < 0) {
        r = evi_error(-errno, "cannot cut derived files: %s", strerror(errno));
        goto out;
    }
    rec->rebuilt_entries = index - at.start;
    log->size = index;
    log->written = log->durable = log->records_durable = index;
    log->segment_end = log->segments[log->segment_count - 1].bytes;
    log->pending.segment_fd = log->segments[log->segment_count - 1].fd;
    log->pending.segment_first = log->segments[log->segment_count - 1].first_index;
    log->pending.records_off = log->segment_end;
    evi_frontier_root(&log->frontier, log->key.root);
    /*
     * Records past the key state may be in the page cache only: their writer
     * died before its sync, or its sync failed (a full disk: disk.c reopens,
     * and the daemon answers what recovery kept as written). They are made
     * durable before the key state vouches for them, or the open fails.
     */
    for (size_t k = adopted_seg; k < log->segment_count; k++) {
        r = evi_io_fdatasync(log->segments[k].fd);
        if (r < 0) {
            r = evi_error(r, "cannot make the records after the key state durable: %s",
                          strerror(-r));
            goto out;
        }
    }
    r = keystate_write(log->keystate_fd, &log->key, true);
out:
    evi_scanner_free(&sc);
    return r;
}

static int load_latest_checkpoint_size(struct ev_log *log)
{
    char *note = NULL;
    size_t len;
    int r = evi_read_file(log->dirfd, EVI_CHECKPOINT_FILE, EV_NOTE_MAX_BYTES, &note, &len);

    if (r == -ENOENT) {
        log->have_checkpoint = false;
        log->checkpoint_size = 0;
        return 0;
    }
    if (r < 0) {
        return r;
    }
    struct ev_verifier *v = NULL;
    struct ev_checkpoint cp;
    r = ev_verifier_parse(log->meta.vkey, &v);
    if (r == 0) {
        r = ev_checkpoint_open(note, len, v, &cp);
    }
    if (r == 0) {
        uint8_t root[EV_HASH_BYTES];
        if (cp.tree_size > log->size) {
            r = evi_error(EV_ETRUNCATED,
                          "latest checkpoint is for %" PRIu64 " entries but the log "
                          "has %" PRIu64,
                          cp.tree_size, log->size);
        } else if ((r = evi_tree_root(cp.tree_size, evi_log_read_hash, log, root)) == 0 &&
                   memcmp(root, cp.root, EV_HASH_BYTES) != 0) {
            r = EV_ETAMPERED; /* the caller rebuilds the hashes and asks again */
            evi_error(r,
                      "the log's first %" PRIu64 " entries do not have the root the latest "
                      "checkpoint signed; run 'evident verify'",
                      cp.tree_size);
        } else if (r == 0) {
            log->checkpoint_size = cp.tree_size;
            log->have_checkpoint = true;
        }
    } else {
        r = evi_error(r, "latest checkpoint does not verify: %s", ev_last_error());
    }
    ev_verifier_free(v);
    free(note);
    return r;
}

/*
 * After recovery: appends go to a .seg, and the age of the last segment
 * starts at its first record (§3). Only a damaged directory ends in a
 * compressed (or pruned) segment; the writer never writes into one and
 * starts a new .seg.
 */
static int prepare_last_segment(struct ev_log *log)
{
    struct evi_segment *last = &log->segments[log->segment_count - 1];
    uint8_t *buf;
    size_t n;
    int r;

    if (last->pruned) {
        /* The writer never prunes its last segment (§3.2): this one was put there. */
        return evi_error(EV_ECORRUPT,
                         "the last segment (%" PRIu64 ") is in pruned form, which the writer "
                         "never makes; run 'evident verify'",
                         last->first_index);
    }
    if (last->compressed) {
        struct evi_segment seg;
        struct evi_segment *grown =
            realloc(log->segments, (log->segment_count + 1) * sizeof(*grown));
        if (grown == NULL) {
            return -ENOMEM;
        }
        log->segments = grown;
        r = evi_segment_create(log->dirfd, log->size, &seg);
        if (r < 0) {
            return r;
        }
        log->segments[log->segment_count++] = seg;
        log->segment_end = EVI_SEGMENT_HEADER;
        log->pending.segment_fd = seg.fd;
        log->pending.segment_first = seg.first_index;
        log->pending.records_off = EVI_SEGMENT_HEADER;
        return 0;
    }
    log->segment_first_ns = evi_now_ns();
    if (log->segment_end <= EVI_SEGMENT_HEADER) {
        return 0;
    }
    buf = malloc(EVI_RECORD_MAX);
    if (buf == NULL) {
        return -ENOMEM;
    }
    r = evi_segment_pread(&log->zcache, EVI_ZCACHE_LOG_SLOTS, last, buf, EVI_RECORD_MAX,
                          EVI_SEGMENT_HEADER, &n);
    struct evi_record record;
    struct evi_entry_view view;
    if (r == 0 && evi_record_decode(buf, n, &record, NULL) == EVI_RECORD_OK &&
        evi_entry_view(record.entry, record.entry_len, &view) == 0) {
        log->segment_first_ns = view.ts_ns;
    }
    free(buf);
    return r;
}

/*
 * In-place syncs (inplace.h) where records go over preallocated zeros: the
 * quiet directory is chosen away from the inodes of the files the writer
 * writes, and of the directories it creates files in.
 */
static void inplace_open(struct ev_log *log)
{
    const int fds[] = {log->dirfd,       log->hashes_fd, log->index_fd,
                       log->keystate_fd, log->lock_fd,   log->pending.segment_fd};
    uint64_t hot[sizeof(fds) / sizeof(fds[0]) + 1];
    size_t n = 0;
    struct stat st;

    if (log->options.preallocate == 0 || log->prealloc.unusable ||
        log->options.sync == EV_SYNC_ALWAYS) {
        return; /* no zeros: every sync is the segment's fdatasync */
    }
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0 && fstat(fds[i], &st) == 0) {
            hot[n++] = (uint64_t)st.st_ino;
        }
    }
    if (fstatat(log->dirfd, EVI_SEGMENTS_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        hot[n++] = (uint64_t)st.st_ino;
    }
    evi_inplace_open(&log->inplace, log->dirfd, hot, n);
    log->io.inplace_sync = log->inplace.flush_fd >= 0;
}

static int open_writer(struct ev_log *log, const char *dir)
{
    char path[4096];
    struct stat st;
    int r;

    r = open_common(log, dir, true);
    if (r < 0) {
        return r;
    }
    if (evi_fsync_gap(log->dirfd)) {
        /* inplace.h: the page cache and growing appends, whose fdatasync is complete here. */
        log->direct.unusable = log->prealloc.unusable = true;
        log->io.direct_io = log->io.preallocating = false;
        log->io.fsync_gap = true;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", dir, EVI_SIGNING_KEY_FILE);
    r = ev_signer_load(path, &log->signer);
    if (r < 0) {
        return r;
    }
    log->keystate_fd = openat(log->dirfd, EVI_KEYSTATE_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (log->keystate_fd < 0) {
        return evi_error(-errno, "cannot open keystate: %s", strerror(errno));
    }
    if (fstat(log->keystate_fd, &st) < 0) {
        return -errno;
    }
    if ((st.st_mode & 077) != 0) {
        return evi_error(EV_EKEYPERM,
                         "'%s/%s' is accessible by group or others (mode %04o); "
                         "it must be 0600",
                         dir, EVI_KEYSTATE_FILE, st.st_mode & 07777);
    }
    r = keystate_read(log->keystate_fd, &log->key);
    if (r < 0) {
        return r;
    }
    struct ev_recovery scratch = {0};
    struct ev_recovery *rec = log->options.ret_recovery ? log->options.ret_recovery : &scratch;
    memset(rec, 0, sizeof(*rec));
    bool rebuild;
    r = recover(log, rec, false, &rebuild);
    if (r == 0 && rebuild) {
        memset(rec, 0, sizeof(*rec));
        r = recover(log, rec, true, &rebuild);
    }
    if (r < 0) {
        return r;
    }
    r = evi_checkpoint_history_repair(log->dirfd);
    if (r < 0) {
        return evi_error(r, "cannot repair the checkpoint history: %s", ev_last_error());
    }
    r = load_latest_checkpoint_size(log);
    if (r == EV_ETAMPERED && rec->rebuilt_entries < log->size) {
        /* Perhaps only the hashes file is damaged: rebuild it and ask again. */
        memset(rec, 0, sizeof(*rec));
        r = recover(log, rec, true, &rebuild);
        if (r == 0) {
            r = load_latest_checkpoint_size(log);
        }
    }
    if (r < 0) {
        return r;
    }
    r = prepare_last_segment(log);
    if (r < 0) {
        return r;
    }
    inplace_open(log);
    log->sync_ns = log->checkpoint_ns = evi_now_ns();
    pthread_mutex_lock(&log->mu);
    if (!log->have_checkpoint) {
        r = checkpoint_locked(log);
    }
    if (r == 0) {
        r = seal_due_locked(log, false);
        if (r > 0) {
            rec->seals_written = (uint64_t)r;
            r = 0;
        }
    }
    pthread_mutex_unlock(&log->mu);
    if (r == 0) {
        r = compressor_start(log); /* also takes closed segments an earlier run left */
    }
    if (r == 0) {
        r = flusher_start(log);
    }
    return r;
}

int ev_log_open(const char *dir, const struct ev_open_options *options, struct ev_log **ret_log)
{
    struct ev_log *log = calloc(1, sizeof(*log));
    int r;

    evi_error_clear();
    if (log == NULL) {
        return -ENOMEM;
    }
    log->dirfd = log->hashes_fd = log->index_fd = log->lock_fd = log->keystate_fd = -1;
    log->dropped_fd = -1;
    evi_direct_init(&log->direct);
    evi_inplace_init(&log->inplace);
    evi_prealloc_init(&log->prealloc);
    if (options != NULL && options->no_direct_io) {
        log->direct.unusable = true; /* as after a refusal: the page cache for good */
        log->prealloc.unusable = true;
    }
    pthread_mutex_init(&log->mu, NULL);
    evi_cpindex_init(&log->checkpoints_index);
    /* Timed waits must not stretch when the wall clock is stepped back. */
    pthread_condattr_t cv_attr;
    (void)pthread_condattr_init(&cv_attr);
    (void)pthread_condattr_setclock(&cv_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&log->cv, &cv_attr);
    pthread_cond_init(&log->flush_cv, &cv_attr);
    (void)pthread_condattr_destroy(&cv_attr);
    pthread_cond_init(&log->compress_cv, NULL);
    if (options != NULL) {
        log->options = *options;
    }
    if (!(log->options.flags & EV_OPEN_DECRYPT_ONLY)) {
        log->encrypt_keys = log->options.data_keys;
    }
    if (log->options.sync_interval_ns == 0) {
        log->options.sync_interval_ns = 1000000000ull;
    }
    if (log->options.checkpoint_interval_ns == 0) {
        log->options.checkpoint_interval_ns = EV_DEFAULT_CHECKPOINT_INTERVAL_NS;
    }
    if (log->options.segment_bytes == 0) {
        log->options.segment_bytes = EV_DEFAULT_SEGMENT_BYTES;
    }
    if (log->options.segment_bytes < EVI_SEGMENT_HEADER + EVI_RECORD_MAX) {
        log->options.segment_bytes = EVI_SEGMENT_HEADER + EVI_RECORD_MAX;
    }
    if (log->options.segment_bytes > EVI_SEGMENT_MAX_BYTES) {
        log->options.segment_bytes = EVI_SEGMENT_MAX_BYTES; /* what §3.1 can compress */
    }
    if (log->options.compression_level == 0) {
        log->options.compression_level = EVI_ZSEG_DEFAULT_LEVEL;
    }
    if (log->options.preallocate > 0) {
        /* Whole steps, two at least: a fill is due when one is missing. */
        uint64_t steps = (log->options.preallocate + EVI_PREALLOC_STEP - 1) / EVI_PREALLOC_STEP;
        uint64_t max_steps = EVI_SEGMENT_MAX_BYTES / EVI_PREALLOC_STEP;
        steps = steps < 2 ? 2 : steps > max_steps ? max_steps : steps;
        log->options.preallocate = steps * EVI_PREALLOC_STEP;
    }
    if (!(log->options.flags & EV_OPEN_READONLY)) {
        log->io.direct_io =
            !log->direct.unusable && log->options.compression == EV_COMPRESSION_NONE;
        /* The flusher writes the zeros: there is none under sync always. */
        log->io.preallocating = log->options.preallocate > 0 && !log->prealloc.unusable &&
                                log->options.sync != EV_SYNC_ALWAYS;
    }
    if ((log->options.compression != EV_COMPRESSION_NONE &&
         log->options.compression != EV_COMPRESSION_ZSTD) ||
        log->options.compression_level < 1 || log->options.compression_level > 19) {
        r = evi_error(-EINVAL, "compression %d level %d: expected none or zstd, level 1..19",
                      log->options.compression, log->options.compression_level);
        goto fail;
    }
    if (log->options.lock_timeout_ms == 0) {
        log->options.lock_timeout_ms = EV_DEFAULT_LOCK_TIMEOUT_MS;
    }
    log->dir = strdup(dir);
    if (log->dir == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    log->writer = !(log->options.flags & EV_OPEN_READONLY);
    if (log->writer) {
        r = open_writer(log, dir);
    } else {
        r = open_common(log, dir, false);
        if (r == 0) {
            r = derived_size(log, &log->size);
        }
    }
    if (r < 0) {
        goto fail;
    }
    *ret_log = log;
    return 0;
fail:
    log_free(log);
    return r;
}

/* ---- append ------------------------------------------------------------- */

static bool want_checkpoint_locked(const struct ev_log *log)
{
    return log->size > log->checkpoint_size &&
           evi_now_ns() - log->checkpoint_ns >= (int64_t)log->options.checkpoint_interval_ns;
}

/* After sequencing: what the sync mode asks before returning. */
static int settle_locked(struct ev_log *log, uint64_t end)
{
    int r = 0;

    switch (log->options.sync) {
    case EV_SYNC_ALWAYS: r = wait_for_locked(log, end, true, true, false); break;
    case EV_SYNC_INTERVAL:
    case EV_SYNC_NEVER:
        if (log->flusher_running) {
            if (flush_due_locked(log) ||
                (log->flusher_idle && log->options.sync == EV_SYNC_INTERVAL)) {
                pthread_cond_signal(&log->flush_cv);
            }
            while (log->failed == 0 &&
                   log->pending.records.len + log->closing.records.len >= PENDING_MAX_BYTES) {
                pthread_cond_wait(&log->cv, &log->mu); /* a commit ends: see again */
            }
            r = log->failed != 0 ? failed_locked(log) : 0;
        } else if (log->options.sync == EV_SYNC_INTERVAL &&
                   evi_now_ns() - log->sync_ns >= (int64_t)log->options.sync_interval_ns) {
            r = wait_for_locked(log, end, true, false, false);
        } else if (log->pending.records.len >= PENDING_FLUSH_BYTES && !log->committing) {
            r = commit_locked(log, false, false);
        }
        break;
    }
    if (r == 0 && want_checkpoint_locked(log)) {
        r = checkpoint_locked(log);
    }
    return r;
}

/*
 * library_len (may be NULL): the length of each event's data when the library wrote it
 * (EVI_BODY_DATA_CANONICAL), 0 for a caller's.
 */
static int append_batch(struct ev_log *log, const struct ev_event *events, size_t stride,
                        size_t count, uint64_t *ret_first, size_t *ret_bad,
                        const size_t *library_len)
{
    struct evi_entry_body *bodies;
    uint64_t first = 0;
    size_t made = 0;
    int r = 0;

    evi_error_clear();
    if (!log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only");
    }
    if (count == 0) {
        return evi_error(-EINVAL, "empty batch");
    }
    /* Not calloc: each body is written whole before use, and only those made are freed. */
    bodies = count <= SIZE_MAX / sizeof(*bodies) ? malloc(count * sizeof(*bodies)) : NULL;
    if (bodies == NULL) {
        return -ENOMEM;
    }
    struct ev_datakeys *encrypt_keys = evi_log_encrypt_keys(log); /* one set for the batch */
    struct evi_body_seen seen = {0}; /* this batch's checked types and sources */
    for (made = 0; made < count; made++) {
        size_t data_len = library_len != NULL ? library_len[made] : 0;
        /* Borrowed bodies: the events outlive them (assembled below, before returning). */
        unsigned flags = EVI_BODY_BORROW | (data_len > 0 ? EVI_BODY_DATA_CANONICAL : 0);
        const struct ev_event *event =
            (const struct ev_event *)(const void *)((const char *)events + made * stride);
        r = evi_entry_body_make_seen(event, flags, data_len, &seen, &bodies[made]);
        if (r == 0 && encrypt_keys != NULL) {
            /* Encryption at rest (FORMAT.md §5.1): sealed in evi_entry_assemble(). */
            r = evi_entry_body_encrypt(&bodies[made], encrypt_keys);
        }
        if (r < 0) {
            if (ret_bad != NULL) {
                *ret_bad = made;
            }
            goto out;
        }
    }
    pthread_mutex_lock(&log->mu);
    sequencing_begin_locked(log);
    r = seal_due_locked(log, false);
    if (r >= 0) {
        first = log->size;
        r = 0;
        /*
         * Only now are the seqs known: check every size before sequencing any.
         * The prefix grows with seq, so the last one's bounds them all; the
         * exact one per entry is needed only to name the first too big.
         */
        size_t longest_prefix = evi_entry_prefix_len(first + count - 1);
        size_t longest_body = 0;
        for (size_t i = 0; i < count; i++) {
            longest_body = bodies[i].len > longest_body ? bodies[i].len : longest_body;
        }
        for (size_t i = 0; i < count && longest_prefix + longest_body > EV_ENTRY_MAX_BYTES; i++) {
            size_t len = evi_entry_prefix_len(first + i) + bodies[i].len;
            if (len > EV_ENTRY_MAX_BYTES) {
                r = evi_error(EV_ETOOBIG,
                              "event %zu: entry would be %zu bytes, over the limit "
                              "of %u",
                              i, len, EV_ENTRY_MAX_BYTES);
                if (ret_bad != NULL) {
                    *ret_bad = i;
                }
                break;
            }
        }
        int64_t now = 0;
        for (size_t i = 0; i < count && r == 0;) {
            size_t done = 0;
            r = sequence_run_locked(log, &bodies[i], count - i, i, &now, &done);
            i += done;
            if (r < 0 && i > 0 && !log->failed) {
                /*
                 * Part of the batch is sequenced and cannot be taken back (its keys
                 * are gone). Nothing of it is acknowledged; stop this handle so that
                 * it is not written either: reopening recovers what is durable.
                 */
                (void)fail_locked(log, r);
            }
        }
        if (r == 0) {
            log->calls_pending++;
        }
        sequencing_end_locked(log); /* also wakes a committer that is gathering */
        if (r == 0) {
            r = settle_locked(log, first + count);
        }
    } else {
        sequencing_end_locked(log);
    }
    pthread_mutex_unlock(&log->mu);
    if (r == 0 && ret_first != NULL) {
        *ret_first = first;
    }
out:
    for (size_t i = 0; i < made && i < count; i++) {
        evi_entry_body_free(&bodies[i]);
    }
    free(bodies);
    return r;
}

int ev_log_append_batch(struct ev_log *log, const struct ev_event *events, size_t count,
                        uint64_t *ret_first, size_t *ret_bad)
{
    return append_batch(log, events, sizeof(*events), count, ret_first, ret_bad, NULL);
}

int ev_log_append(struct ev_log *log, const struct ev_event *event, uint64_t *ret_index)
{
    return append_batch(log, event, sizeof(*event), 1, ret_index, NULL, NULL);
}

int evi_log_append_library_data(struct ev_log *log, const struct ev_event *events, size_t stride,
                                const size_t *library_len, size_t count, uint64_t *ret_first,
                                size_t *ret_bad)
{
    return append_batch(log, events, stride, count, ret_first, ret_bad, library_len);
}

int ev_log_seal(struct ev_log *log)
{
    int r;

    evi_error_clear();
    if (!log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only");
    }
    pthread_mutex_lock(&log->mu);
    sequencing_begin_locked(log);
    r = rotate_if_due_locked(log, 0); /* a quiet log's old segment closes here too */
    if (r == 0) {
        r = seal_due_locked(log, true);
    }
    sequencing_end_locked(log);
    pthread_mutex_unlock(&log->mu);
    return r < 0 ? r : 0;
}

int evi_log_append_own(struct ev_log *log, const char *type, int severity, const char *data_json,
                       uint64_t *ret_index)
{
    struct ev_event event = {.type = type, .severity = severity, .data_json = data_json};
    struct evi_entry_body body = {0};
    int r;

    if (!log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only");
    }
    r = evi_entry_body_make(&event, EVI_BODY_ALLOW_RESERVED | EVI_BODY_DATA_CANONICAL, &body);
    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&log->mu);
    sequencing_begin_locked(log);
    r = seal_due_locked(log, false); /* an epoch whose time is over closes first */
    uint64_t index = log->size;
    if (r >= 0) {
        index = log->size;
        int64_t now = 0;
        r = sequence_locked(log, &body, false, &now);
    }
    if (r == 0) {
        r = seal_due_locked(log, true); /* seals, syncs and signs a checkpoint */
    }
    sequencing_end_locked(log);
    pthread_mutex_unlock(&log->mu);
    evi_entry_body_free(&body);
    if (r < 0) {
        return r;
    }
    *ret_index = index;
    return 0;
}

int ev_log_io_stats(struct ev_log *log, struct ev_log_io_stats *ret_stats)
{
    if (log == NULL || ret_stats == NULL) {
        return evi_error(-EINVAL, "ev_log_io_stats: NULL argument");
    }
    pthread_mutex_lock(&log->mu);
    *ret_stats = log->io;
    pthread_mutex_unlock(&log->mu);
    return 0;
}

int ev_log_sync(struct ev_log *log)
{
    int r;

    if (!log->writer) {
        return 0;
    }
    pthread_mutex_lock(&log->mu);
    /* Durable records are what the caller waits for (commit_locked's hand_off). */
    r = wait_for_locked(log, log->size, true, false, true);
    pthread_mutex_unlock(&log->mu);
    return r;
}

int ev_log_checkpoint(struct ev_log *log)
{
    int r;

    evi_error_clear();
    if (!log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only");
    }
    pthread_mutex_lock(&log->mu);
    sequencing_begin_locked(log);
    r = rotate_if_due_locked(log, 0); /* a quiet log's old segment closes here too */
    if (r == 0) {
        r = seal_due_locked(log, false);
    }
    if (r >= 0) {
        r = checkpoint_locked(log);
    }
    sequencing_end_locked(log);
    pthread_mutex_unlock(&log->mu);
    return r;
}

int ev_log_seal_due(struct ev_log *log)
{
    int r;

    evi_error_clear();
    if (!log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only");
    }
    pthread_mutex_lock(&log->mu);
    if (clock_epoch(log) <= log->key.epoch) {
        /* The common case, four times a second in evidentd: nothing due, no I/O. */
        pthread_mutex_unlock(&log->mu);
        return 0;
    }
    sequencing_begin_locked(log);
    r = seal_due_locked(log, false);
    sequencing_end_locked(log);
    pthread_mutex_unlock(&log->mu);
    return r;
}

int ev_log_close(struct ev_log *log)
{
    int r = 0, r2;

    if (log == NULL) {
        return 0;
    }
    compressor_stop(log);
    flusher_stop(log); /* what it left pending is committed below */
    if (log->writer && !log->failed) {
        pthread_mutex_lock(&log->mu);
        sequencing_begin_locked(log);
        r = seal_due_locked(log, false);
        if (r >= 0) {
            r = checkpoint_locked(log);
        }
        if (r == 0) {
            r = wait_for_locked(log, log->size, true, false, false);
        }
        if (r == 0 && preallocated_past_locked(log, log->pending.segment_first, log->segment_end)) {
            /* The zeros past the records go (FORMAT.md §3): the flusher is stopped. */
            int fd = log->pending.segment_fd;
            r = ftruncate(fd, (off_t)log->segment_end) < 0 ? -errno : evi_io_fdatasync(fd);
            if (r < 0) {
                r = evi_error(r, "cannot cut the preallocated zeros of the last segment: %s",
                              strerror(-r));
            }
        }
        sequencing_end_locked(log);
        pthread_mutex_unlock(&log->mu);
        if (r == 0) {
            r = evi_io_fdatasync(log->keystate_fd);
        }
        r2 = evi_io_fdatasync(log->hashes_fd);
        if (r == 0 && r2 < 0) {
            r = r2;
        }
        r2 = evi_io_fdatasync(log->index_fd);
        if (r == 0 && r2 < 0) {
            r = r2;
        }
    } else if (log->writer) {
        r = log->failed;
    }
    log_free(log);
    return r < 0 ? r : 0;
}
