/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a log: entries, ranges with filters, roots, proofs, info. Readers
 * use the derived files (FORMAT.md §6) to find records, and check every
 * record they return (its checksum and its seq).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "log-internal.h"
#include "privacy/datakey.h"
#include "zseg.h"

int evi_log_read_hash(void *ctx, uint64_t stored_index, uint8_t ret[EV_HASH_BYTES])
{
    struct ev_log *log = ctx;
    int r =
        evi_read_exact(log->hashes_fd, ret, EV_HASH_BYTES, (off_t)(stored_index * EV_HASH_BYTES));
    if (r < 0) {
        return evi_error(r == -EIO ? EV_ECORRUPT : r, "stored hash %" PRIu64 " missing",
                         stored_index);
    }
    return 0;
}

int evi_log_entry_offset(struct ev_log *log, uint64_t index, uint64_t *ret_offset)
{
    uint8_t b[8];
    int r = evi_read_exact(log->index_fd, b, sizeof(b), (off_t)(index * 8));
    uint64_t off = 0;

    if (r < 0) {
        return evi_error(r == -EIO ? EV_ECORRUPT : r, "index entry %" PRIu64 " missing", index);
    }
    for (int i = 7; i >= 0; i--) {
        off = off << 8 | b[i];
    }
    *ret_offset = off;
    return 0;
}

uint64_t ev_log_size(struct ev_log *log)
{
    uint64_t n;
    pthread_mutex_lock(&log->mu);
    n = log->size;
    pthread_mutex_unlock(&log->mu);
    return n;
}

int ev_log_refresh(struct ev_log *log)
{
    struct stat st;
    uint64_t n, hbytes;
    int r = 0;

    if (log->writer) {
        return 0;
    }
    pthread_mutex_lock(&log->mu);
    if (fstat(log->index_fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    n = (uint64_t)st.st_size / 8;
    if (fstat(log->hashes_fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    hbytes = (uint64_t)st.st_size;
    while (n > log->size && evi_stored_hash_count(n) * EV_HASH_BYTES > hbytes) {
        n--;
    }
    if (n > log->size) {
        /*
         * New entries may live in segments this handle has not opened yet. The
         * descriptors already open stay as they are: scans running in other
         * threads hold copies of them (a segment fd lives as long as the handle).
         */
        struct evi_segment *segs;
        size_t count;
        r = evi_segments_open(log->dirfd, false, &segs, &count);
        if (r < 0) {
            goto out;
        }
        if (count < log->segment_count) {
            evi_segments_close(segs, count);
            r = evi_error(EV_ECORRUPT, "segments disappeared while the log was open");
            goto out;
        }
        for (size_t i = 0; i < log->segment_count; i++) {
            struct evi_segment *old = &log->segments[i];
            if ((!old->compressed && !old->pruned && segs[i].compressed) ||
                (!old->pruned && segs[i].pruned)) {
                /*
                 * The writer compressed (FORMAT.md §3.1) or pruned (§3.2) it
                 * since: read the new form from now on, so that the unlinked
                 * file's space is freed.
                 */
                evi_log_retire_fd_locked(log, old->fd);
                evi_log_retire_zframes_locked(log, old->zframes);
                continue;
            }
            uint64_t bytes = segs[i].bytes;
            evi_segment_release(&segs[i]);
            segs[i] = *old;
            segs[i].bytes = old->compressed || old->pruned ? old->bytes : bytes;
        }
        free(log->segments);
        log->segments = segs;
        log->segment_count = count;
        log->size = n;
    }
out:
    pthread_mutex_unlock(&log->mu);
    return r;
}

/*
 * Reads the record at off of segment seg and checks it is entry index: its
 * checksum and its seq. On success *ret_rec (caller frees) holds it.
 */
static int record_at(struct ev_log *log, size_t seg, uint64_t off, uint64_t index,
                     uint8_t **ret_rec, struct evi_record *ret_record)
{
    const struct evi_segment *g = &log->segments[seg];
    uint8_t head[EVI_RECORD_PREFIX];
    struct evi_entry_view view;
    uint8_t *rec;
    int r = evi_segment_read_exact(&log->zcache, EVI_ZCACHE_LOG_SLOTS, g, head, sizeof(head), off);

    if (r < 0) {
        /* Bytes that do not decompress are damage; a failing system call is not. */
        return r == -EIO || r == EV_ECORRUPT ? EV_ECORRUPT : r;
    }
    uint32_t len = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
                   (uint32_t)head[3] << 24;
    if (len == 0 || len > EV_ENTRY_MAX_BYTES) {
        return EV_ECORRUPT;
    }
    rec = malloc(EVI_RECORD_OVERHEAD + (size_t)len);
    if (rec == NULL) {
        return -ENOMEM;
    }
    r = evi_segment_read_exact(&log->zcache, EVI_ZCACHE_LOG_SLOTS, g, rec,
                               EVI_RECORD_OVERHEAD + (size_t)len, off);
    if (r < 0 && r != -EIO && r != EV_ECORRUPT) {
        free(rec);
        return r;
    }
    if (r < 0 ||
        evi_record_decode(rec, EVI_RECORD_OVERHEAD + (size_t)len, ret_record, NULL) !=
            EVI_RECORD_OK ||
        evi_entry_view(ret_record->entry, ret_record->entry_len, &view) < 0 || view.seq != index) {
        free(rec);
        return EV_ECORRUPT;
    }
    *ret_rec = rec;
    return 0;
}

static int entry_from_record(const struct evi_record *record, uint64_t index,
                             struct ev_entry **ret_entry)
{
    struct ev_entry *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->bytes = malloc(record->entry_len + 1)) == NULL) {
        free(e);
        return -ENOMEM;
    }
    memcpy(e->bytes, record->entry, record->entry_len);
    e->bytes[record->entry_len] = '\0';
    e->len = record->entry_len;
    e->index = index;
    e->epoch = record->epoch;
    memcpy(e->tag, record->tag, EV_HASH_BYTES);
    ev_leaf_hash(record->entry, record->entry_len, e->leaf_hash);
    *ret_entry = e;
    return 0;
}

/*
 * Entry index of a pruned segment (FORMAT.md §3.2): the segment is small
 * (76 bytes a pruned record), so it is read from the start rather than
 * trusting the index file, which was written for the whole segment.
 */
static int read_pruned_entry(struct ev_log *log, size_t seg, uint64_t index,
                             struct ev_entry **ret_entry)
{
    const struct evi_segment *g = &log->segments[seg];
    struct evi_scanner sc = {0};
    struct evi_record record;
    enum evi_record_status status;
    char name[64];
    int r;

    evi_segment_file_name(g, name);
    r = evi_scanner_init(&sc, g, 1, 0, EVI_SEGMENT_HEADER, g->first_index);
    while (r == 0) {
        uint64_t i = sc.index;
        r = evi_scanner_next(&sc, &record, &status);
        if (r != EVI_SCAN_RECORD) {
            r = r < 0 ? r
                      : evi_error(EV_ECORRUPT,
                                  "entry %" PRIu64 ": '%s' ends before it; run 'evident verify'",
                                  index, name);
            break;
        }
        if (i < index) {
            r = 0;
            continue;
        }
        if (record.leaf != NULL) {
            r = evi_error(EV_EPRUNED,
                          "'%s' keeps entry %" PRIu64 "'s leaf hash, so its proofs hold, but "
                          "not its bytes",
                          name, index);
            break;
        }
        struct evi_entry_view view;
        if (evi_entry_view(record.entry, record.entry_len, &view) < 0 || view.seq != index) {
            r = evi_error(EV_ECORRUPT, "entry %" PRIu64 ": record damaged; run 'evident verify'",
                          index);
            break;
        }
        r = entry_from_record(&record, index, ret_entry);
        break;
    }
    evi_scanner_free(&sc);
    return r;
}

/* Reads and checks the record of entry index into a new ev_entry. */
static int read_entry(struct ev_log *log, uint64_t index, struct ev_entry **ret_entry)
{
    uint64_t off = 0;
    uint8_t *rec = NULL;
    struct evi_record record;
    size_t seg = evi_log_segment_of(log, index);
    int r;

    if (log->segments[seg].pruned) {
        return read_pruned_entry(log, seg, index, ret_entry);
    }
    r = evi_log_entry_offset(log, index, &off);
    if (r < 0) {
        return r;
    }
    r = record_at(log, seg, off, index, &rec, &record);
    if (r == EV_ECORRUPT && index > log->segments[seg].first_index) {
        /*
         * The index is a cache: if its entry is wrong, the record follows the
         * one before it (FORMAT.md §3). Only if that fails too is it damage.
         */
        uint8_t *prev = NULL;
        struct evi_record before;
        if (evi_log_entry_offset(log, index - 1, &off) == 0 &&
            record_at(log, seg, off, index - 1, &prev, &before) == 0) {
            r = record_at(log, seg, off + before.size, index, &rec, &record);
            free(prev);
        }
    }
    if (r == EV_ECORRUPT) {
        return evi_error(EV_ECORRUPT, "entry %" PRIu64 ": record damaged; run 'evident verify'",
                         index);
    }
    if (r < 0) {
        return r;
    }
    r = entry_from_record(&record, index, ret_entry);
    free(rec);
    return r;
}

int ev_log_entry(struct ev_log *log, uint64_t index, struct ev_entry **ret_entry)
{
    int r;

    evi_error_clear();
    if (index >= ev_log_size(log)) {
        return evi_error(EV_ERANGE,
                         "entry %" PRIu64 " does not exist (the log has %" PRIu64 " entries)",
                         index, ev_log_size(log));
    }
    r = evi_log_flush_for_read(log, index + 1);
    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&log->mu);
    r = read_entry(log, index, ret_entry);
    pthread_mutex_unlock(&log->mu);
    return r;
}

void ev_entry_free(struct ev_entry *entry)
{
    if (entry != NULL) {
        free(entry->bytes);
        free(entry);
    }
}

/* Sequential reading from entry `from`, through the scanner. */
static int scan_range(struct ev_log *log, uint64_t from, uint64_t to,
                      int (*visit)(void *ctx, const struct evi_record *rec,
                                   const struct evi_entry_view *view, uint64_t index),
                      void *ctx)
{
    struct evi_scanner sc = {0};
    struct evi_record record;
    enum evi_record_status status;
    uint64_t off = EVI_SEGMENT_HEADER;
    size_t seg = 0;
    int r;

    if (from >= to) {
        return 0;
    }
    r = evi_log_flush_for_read(log, to);
    if (r < 0) {
        return r;
    }
    /*
     * Visit without holding the mutex, so that visit may call back into the
     * log; the scan works on a copy of the segment table (fds stay open for
     * the handle's life).
     */
    pthread_mutex_lock(&log->mu);
    size_t count = log->segment_count;
    struct evi_segment *segs = malloc(count * sizeof(*segs));
    if (segs == NULL) {
        pthread_mutex_unlock(&log->mu);
        return -ENOMEM;
    }
    memcpy(segs, log->segments, count * sizeof(*segs));
    log->scans++; /* the fds in the copy stay open until the scan ends */
    uint64_t start = from;
    if (from > 0) {
        seg = evi_log_segment_of(log, from);
        if (segs[seg].pruned) {
            /* The index file does not describe a pruned segment (§3.2): read it from its start. */
            start = segs[seg].first_index;
        } else {
            r = evi_log_entry_offset(log, from, &off);
        }
    }
    pthread_mutex_unlock(&log->mu);
    if (r == 0) {
        r = evi_scanner_init(&sc, segs, count, seg, off, start);
    }
    if (r < 0) {
        evi_scanner_free(&sc);
        goto out;
    }
    for (uint64_t i = start; i < to; i++) {
        struct evi_entry_view view;
        r = evi_scanner_next(&sc, &record, &status);
        if (r == EVI_SCAN_RECORD && record.leaf != NULL) {
            /* Pruned (§3.2): no entry bytes; only visitors that take a NULL view see it. */
            r = i < from ? 0 : visit(ctx, &record, NULL, i);
            if (r != 0) {
                break;
            }
            continue;
        }
        if (r == EVI_SCAN_RECORD) {
            r = evi_entry_view(record.entry, record.entry_len, &view);
            if (r == 0 && view.seq != i) {
                r = -1;
            }
            if (r < 0) {
                r = evi_error(EV_ECORRUPT,
                              "entry %" PRIu64 ": not a valid entry; run 'evident "
                              "verify'",
                              i);
                break;
            }
        } else if (r >= 0) {
            r = evi_error(EV_ECORRUPT,
                          "entry %" PRIu64 ": record damaged; run 'evident "
                          "verify'",
                          i);
            break;
        } else {
            if (r == EV_ECORRUPT) {
                char why[200];
                (void)snprintf(why, sizeof(why), "%s", ev_last_error());
                r = evi_error(r, "entry %" PRIu64 ": %s; run 'evident verify'", i, why);
            }
            break;
        }
        r = i < from ? 0 : visit(ctx, &record, &view, i);
        if (r != 0) {
            break;
        }
    }
    evi_scanner_free(&sc);
out:
    pthread_mutex_lock(&log->mu);
    evi_log_scan_end_locked(log);
    pthread_mutex_unlock(&log->mu);
    free(segs);
    return r;
}

struct chain_ctx {
    uint8_t chain[EV_HASH_BYTES];
};

static int chain_visit(void *ctx, const struct evi_record *rec, const struct evi_entry_view *view,
                       uint64_t index)
{
    struct chain_ctx *c = ctx;
    uint8_t leaf[EV_HASH_BYTES];
    (void)view;
    if (rec->leaf != NULL) {
        memcpy(leaf, rec->leaf, EV_HASH_BYTES); /* pruned: the leaf hash is kept */
    } else {
        ev_leaf_hash(rec->entry, rec->entry_len, leaf);
    }
    evi_sha256_parts(c->chain, EV_HASH_BYTES, leaf, EV_HASH_BYTES, NULL, 0, c->chain);
    return 0;
}

int ev_log_chain_hash(struct ev_log *log, uint64_t index, uint8_t ret_chain[EV_HASH_BYTES])
{
    struct chain_ctx c = {{0}};
    int r;

    evi_error_clear();
    if (index >= ev_log_size(log)) {
        return evi_error(EV_ERANGE, "entry %" PRIu64 " does not exist", index);
    }
    r = scan_range(log, 0, index + 1, chain_visit, &c);
    if (r == 0) {
        memcpy(ret_chain, c.chain, EV_HASH_BYTES);
    }
    return r;
}

static int check_size(struct ev_log *log, uint64_t tree_size)
{
    uint64_t n = ev_log_size(log);
    if (tree_size > n) {
        return evi_error(EV_ERANGE, "tree size %" PRIu64 " is beyond the log's %" PRIu64 " entries",
                         tree_size, n);
    }
    return evi_log_flush_for_read(log, tree_size);
}

int ev_log_root(struct ev_log *log, uint64_t tree_size, uint8_t ret_root[EV_HASH_BYTES])
{
    int r;

    evi_error_clear();
    r = check_size(log, tree_size);
    if (r == 0) {
        r = evi_tree_root(tree_size, evi_log_read_hash, log, ret_root);
    }
    return r;
}

int ev_log_prove_inclusion(struct ev_log *log, uint64_t index, uint64_t tree_size,
                           uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len)
{
    int r;

    evi_error_clear();
    if (index >= tree_size) {
        return evi_error(EV_ERANGE, "entry %" PRIu64 " is not in a tree of size %" PRIu64, index,
                         tree_size);
    }
    r = check_size(log, tree_size);
    if (r == 0) {
        r = evi_prove_inclusion(index, tree_size, evi_log_read_hash, log, ret_proof, ret_len);
    }
    return r;
}

int ev_log_prove_consistency(struct ev_log *log, uint64_t old_size, uint64_t new_size,
                             uint8_t ret_proof[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_len)
{
    int r;

    evi_error_clear();
    if (old_size < 1 || old_size > new_size) {
        return evi_error(EV_ERANGE, "need 1 <= old size (%" PRIu64 ") <= new size (%" PRIu64 ")",
                         old_size, new_size);
    }
    r = check_size(log, new_size);
    if (r == 0) {
        r = evi_prove_consistency(old_size, new_size, evi_log_read_hash, log, ret_proof, ret_len);
    }
    return r;
}

int ev_log_latest_checkpoint(struct ev_log *log, char **ret_note, size_t *ret_len)
{
    evi_error_clear();
    int r = evi_read_file(log->dirfd, EVI_CHECKPOINT_FILE, EV_NOTE_MAX_BYTES, ret_note, ret_len);
    if (r == -ENOENT) {
        return evi_error(r, "no checkpoint has been signed yet");
    }
    return r;
}

/* ---- filtered scans ----------------------------------------------------- */

struct filter_ctx {
    const struct ev_datakeys *keys;
    const struct ev_filter *filter;
    ev_visit_fn visit;
    void *ctx;
};

/* The severity name right after the type (FORMAT.md §5 fixes the key order). */
static int entry_severity(const struct evi_record *rec, const struct evi_entry_view *view)
{
    static const char head[] = "\",\"severity\":\"";
    const char *p = view->type + view->type_len;
    const char *end = (const char *)rec->entry + rec->entry_len;

    if ((size_t)(end - p) < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0) {
        return -1;
    }
    p += sizeof(head) - 1;
    for (int s = 0; s <= EV_SEV_DEBUG; s++) {
        const char *name = ev_severity_name(s);
        size_t n = strlen(name);
        if ((size_t)(end - p) > n && memcmp(p, name, n) == 0 && p[n] == '"') {
            return s;
        }
    }
    return -1;
}

static bool source_matches(const struct evi_record *rec, const char *needle)
{
    static const char head[] = ",\"source\":";
    const char *e = (const char *)rec->entry;
    size_t n = rec->entry_len, hn = sizeof(head) - 1, nn = strlen(needle);

    /* The source object sits between ,"source": and ,"data": (FORMAT.md §5). */
    const char *s = memmem(e, n, head, hn);
    if (s == NULL) {
        return false;
    }
    s += hn;
    const char *d = memmem(s, (size_t)(e + n - s), ",\"data\":", 8);
    if (d == NULL) {
        return false;
    }
    return memmem(s, (size_t)(d - s), needle, nn) != NULL;
}

static int filter_visit(void *ctx, const struct evi_record *rec, const struct evi_entry_view *view,
                        uint64_t index)
{
    struct filter_ctx *f = ctx;
    const struct ev_filter *flt = f->filter;

    if (view == NULL) {
        return 0; /* pruned by retention: nothing left to show */
    }
    if (flt != NULL) {
        if (flt->type != NULL && !evi_entry_is_type(view, flt->type)) {
            return 0;
        }
        if (flt->max_severity >= 0 && entry_severity(rec, view) > flt->max_severity) {
            return 0;
        }
        if (flt->since_ns != 0 && view->ts_ns < flt->since_ns) {
            return 0;
        }
        if (flt->until_ns != 0 && view->ts_ns >= flt->until_ns) {
            return 0;
        }
        if (flt->source != NULL && evi_envelope_is_encrypted(rec->entry, rec->entry_len)) {
            /* The source of an encrypted entry needs its data key (FORMAT.md §5.1). */
            int m = evi_envelope_source_contains(f->keys, rec->entry, rec->entry_len, flt->source);
            if (m <= 0) {
                return m;
            }
        } else if (flt->source != NULL && !source_matches(rec, flt->source)) {
            return 0;
        }
    }
    struct ev_entry e = {.index = index, .epoch = rec->epoch, .len = rec->entry_len};
    char *copy = malloc(rec->entry_len + 1);
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, rec->entry, rec->entry_len);
    copy[rec->entry_len] = '\0';
    e.bytes = copy;
    memcpy(e.tag, rec->tag, EV_HASH_BYTES);
    ev_leaf_hash(rec->entry, rec->entry_len, e.leaf_hash);
    int r = f->visit(f->ctx, &e);
    free(copy);
    return r;
}

/*
 * The first index after the segments retention pruned (FORMAT.md §3.2): they
 * are the oldest, and hold only leaf hashes besides their seals and retention
 * entries. 0 when nothing is pruned.
 */
static uint64_t first_whole_index(struct ev_log *log)
{
    uint64_t first = 0;

    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i + 1 < log->segment_count; i++) {
        if (log->segments[i].pruned) {
            first = log->segments[i + 1].first_index;
        }
    }
    pthread_mutex_unlock(&log->mu);
    return first;
}

/*
 * Where a scan of [lo, hi) may start (upper false) or end (upper true) for a
 * time bound t: entries' times never decrease along the log (FORMAT.md §5), so
 * the first entry with ts >= t is found by binary search, about log2(hi - lo)
 * entries read. The search runs over the entries that pruning left whole; when
 * the boundary may lie in the pruned stretch before them (whose kept seals have
 * times too), the start is lo and the end the stretch's end, and the scan's
 * filter decides there. False when an entry does not read (damaged): the
 * caller then filters every entry, which is slower but gives the same result.
 */
static bool time_bound(struct ev_log *log, uint64_t lo, uint64_t hi, int64_t t, bool upper,
                       uint64_t *ret)
{
    uint64_t whole = first_whole_index(log);
    uint64_t a = whole > lo ? (whole < hi ? whole : hi) : lo, b = hi, start = a;

    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        struct ev_entry *e = NULL;
        struct evi_entry_view view;
        if (ev_log_entry(log, mid, &e) < 0 ||
            evi_entry_view((const uint8_t *)e->bytes, e->len, &view) < 0) {
            ev_entry_free(e);
            evi_error_clear();
            return false;
        }
        ev_entry_free(e);
        if (view.ts_ns < t) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    *ret = a == start && !upper ? lo : a;
    return true;
}

int ev_log_scan(struct ev_log *log, uint64_t from, uint64_t to, const struct ev_filter *filter,
                ev_visit_fn visit, void *ctx)
{
    struct filter_ctx f = {
        .keys = evi_log_data_keys(log), .filter = filter, .visit = visit, .ctx = ctx};
    uint64_t n = ev_log_size(log), at;

    evi_error_clear();
    if (to > n) {
        to = n;
    }
    /* A time window reads only its own stretch of the log (the filter still checks each). */
    if (filter != NULL && filter->until_ns != 0 && from < to &&
        time_bound(log, from, to, filter->until_ns, true, &at)) {
        to = at;
    }
    if (filter != NULL && filter->since_ns != 0 && from < to &&
        time_bound(log, from, to, filter->since_ns, false, &at)) {
        from = at;
    }
    return scan_range(log, from, to, filter_visit, &f);
}

/* ---- info --------------------------------------------------------------- */

static uint64_t dir_bytes(int dirfd, const char *sub)
{
    int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *de;
    struct stat st;
    uint64_t total = 0;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode)) {
                total += dir_bytes(fd, de->d_name);
            } else {
                total += (uint64_t)st.st_size;
            }
        }
    }
    (void)closedir(d);
    return total;
}

int ev_log_info(struct ev_log *log, struct ev_log_info *ret_info)
{
    struct ev_log_info info;
    char *note = NULL;
    size_t len;
    int r;

    evi_error_clear();
    memset(&info, 0, sizeof(info));
    (void)snprintf(info.origin, sizeof(info.origin), "%s", log->meta.origin);
    (void)snprintf(info.vkey, sizeof(info.vkey), "%s", log->meta.vkey);
    info.seal_interval_ns = log->meta.seal_interval_ns;
    info.start_ns = log->meta.start_ns;
    info.tree_size = ev_log_size(log);
    r = ev_log_root(log, info.tree_size, info.root);
    if (r < 0) {
        return r;
    }
    /*
     * Walk back to the last seal: the open epoch and its first entry. The
     * chain head follows from the seal's chain_head and the leaf hashes after it.
     */
    uint64_t chain_from = 0;
    for (uint64_t i = info.tree_size; i > 0; i--) {
        struct ev_entry *e = NULL;
        struct evi_entry_view view;
        r = ev_log_entry(log, i - 1, &e);
        if (r < 0) {
            return r;
        }
        r = evi_entry_view((const uint8_t *)e->bytes, e->len, &view);
        if (i == info.tree_size) {
            info.last_epoch = e->epoch;
        }
        bool seal = r == 0 && evi_entry_is_type(&view, "seal");
        struct evi_seal sd;
        if (seal && evi_seal_parse((const uint8_t *)e->bytes, e->len, &sd) == 0) {
            memcpy(info.chain_head, sd.chain_head, EV_HASH_BYTES);
            chain_from = i - 1;
        }
        if (!seal) {
            info.open_epoch_entries++;
            info.open_epoch_since_ns = view.ts_ns;
        } else if (i == info.tree_size) {
            info.last_epoch_sealed = true;
        }
        ev_entry_free(e);
        if (seal) {
            break;
        }
    }
    for (uint64_t i = chain_from; i < info.tree_size; i++) {
        uint8_t leaf[EV_HASH_BYTES];
        r = evi_log_read_hash(log, evi_stored_hash_index(0, i), leaf);
        if (r < 0) {
            return r;
        }
        evi_sha256_parts(info.chain_head, EV_HASH_BYTES, leaf, EV_HASH_BYTES, NULL, 0,
                         info.chain_head);
    }
    if (ev_log_latest_checkpoint(log, &note, &len) == 0) {
        struct ev_checkpoint cp;
        const char *body_end = strstr(note, "\n\n");
        if (body_end != NULL &&
            ev_checkpoint_parse(note, (size_t)(body_end - note) + 1, &cp) == 0) {
            info.checkpoint_size = cp.tree_size;
        }
        free(note);
    }
    info.disk_bytes = dir_bytes(log->dirfd, ".");
    info.record_bytes = dir_bytes(log->dirfd, EVI_SEGMENTS_DIR);
    *ret_info = info;
    evi_error_clear();
    return 0;
}
