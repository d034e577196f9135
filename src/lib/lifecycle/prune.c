/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention (include/evident/retention.h, FORMAT.md §3.2): which closed
 * segments expired, their pruned form, the retention entry, and the order in
 * which they land on disk:
 *
 *   1. every pruned form is written to .NNN.pruned.tmp and synced;
 *   2. the retention entry naming them is appended, its epoch sealed and a
 *      checkpoint signed (durable before anything goes);
 *   3. each .tmp is renamed to NNN.pruned and the segment's .seg or .seg.zst
 *      unlinked (evi_pruned_commit), each step synced.
 *
 * A crash before 2 leaves temporaries that the next writer removes; between 2
 * and 3, a retention entry that names segments still whole (verify says so);
 * inside 3, both forms of a segment, of which the pruned one wins (§3.2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <evident/retention.h>

#include "../crypto.h"
#include "../entry.h"
#include "../error.h"
#include "../log-internal.h"
#include "../record.h"
#include "../store.h"
#include "../zseg.h"
#include "prune.h"

/* Segments named by one retention entry: keeps the entry far below 64 KiB. */
#define SEGMENTS_PER_ENTRY 64

struct buf {
    uint8_t *data;
    size_t len, cap;
};

static int buf_put(struct buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + len) {
            cap *= 2;
        }
        uint8_t *grown = realloc(b->data, cap);
        if (grown == NULL) {
            return -ENOMEM;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

/* Leaf hashes waiting to become one pruned run (§3.2). */
struct run {
    uint8_t leaves[EVI_PRUNED_RUN_MAX][EV_HASH_BYTES];
    uint32_t count;
    uint32_t epoch;
};

static int run_flush(struct run *run, struct buf *body)
{
    uint8_t *out;
    int r;

    if (run == NULL || body == NULL || run->count == 0) {
        return 0;
    }
    out = malloc(EVI_PRUNED_RUN_BYTES(run->count));
    if (out == NULL) {
        return -ENOMEM;
    }
    size_t n = evi_record_encode_run(run->epoch, &run->leaves[0][0], run->count, out);
    r = buf_put(body, out, n);
    free(out);
    run->count = 0;
    return r;
}

int evi_pruned_summary(const struct evi_segment *segment, uint64_t end,
                       struct evi_pruned_summary *ret, void *ret_body)
{
    struct buf *body = ret_body;
    struct evi_scanner sc = {0};
    struct evi_record rec;
    enum evi_record_status status;
    struct evi_sha256_ctx bytes, leaves;
    uint8_t hdr[EVI_SEGMENT_HEADER];
    struct run *run = NULL;
    char name[64];
    int r;

    memset(ret, 0, sizeof(*ret));
    evi_segment_file_name(segment, name);
    evi_sha256_init(&bytes);
    evi_sha256_init(&leaves);
    struct evi_zcache *zc = NULL;
    r = evi_segment_read_exact(&zc, 1, segment, hdr, sizeof(hdr), 0);
    evi_zcache_free(zc);
    if (r < 0) {
        return evi_error(r, "'%s': cannot read the header: %s", name, ev_strerror(r));
    }
    evi_sha256_update(&bytes, hdr, sizeof(hdr));
    if (body != NULL) {
        struct evi_segment_header h = {
            .first_index = segment->first_index, .created_ns = segment->created_ns, .pruned = true};
        evi_segment_header_encode(&h, hdr);
        run = malloc(sizeof(*run));
        if (run == NULL || (r = buf_put(body, hdr, sizeof(hdr))) < 0) {
            free(run);
            return r < 0 ? r : -ENOMEM;
        }
        run->count = 0;
    }
    r = evi_scanner_init(&sc, segment, 1, 0, EVI_SEGMENT_HEADER, segment->first_index);
    for (uint64_t i = segment->first_index; r == 0; i++) {
        uint8_t leaf[EV_HASH_BYTES];
        r = evi_scanner_next(&sc, &rec, &status);
        if (r == EVI_SCAN_END) {
            r = i == end
                    ? run_flush(run, body)
                    : evi_error(EV_ECORRUPT, "'%s' ends at entry %" PRIu64 ", expected %" PRIu64,
                                name, i, end);
            break;
        }
        if (r == EVI_SCAN_DAMAGED || (r == EVI_SCAN_RECORD && i >= end)) {
            r = evi_error(EV_ECORRUPT, "'%s': record %" PRIu64 " is %s; run 'evident verify'", name,
                          i, r == EVI_SCAN_DAMAGED ? evi_record_status_name(status) : "extra");
            break;
        }
        if (r < 0) {
            break;
        }
        r = 0;
        bool keep = false;
        if (rec.leaf != NULL) {
            memcpy(leaf, rec.leaf, EV_HASH_BYTES);
        } else {
            struct evi_entry_view view;
            if (evi_entry_view(rec.entry, rec.entry_len, &view) < 0 || view.seq != i) {
                r = evi_error(EV_ECORRUPT, "'%s': entry %" PRIu64 " is malformed", name, i);
                break;
            }
            ev_leaf_hash(rec.entry, rec.entry_len, leaf);
            evi_sha256_update(&bytes, rec.entry - EVI_RECORD_PREFIX, rec.size);
            ret->newest_ns = view.ts_ns;
            /* The log's own entries stay whole: seals keep the epochs and the tags
             * checkable, retention entries keep every pruning accounted for (§3.2). */
            keep = evi_entry_is_type(&view, "seal") || evi_entry_is_type(&view, "retention");
        }
        evi_sha256_update(&leaves, leaf, EV_HASH_BYTES);
        ret->entries++;
        if (body == NULL) {
            continue;
        }
        if (keep) {
            if ((r = run_flush(run, body)) == 0) {
                r = buf_put(body, rec.entry - EVI_RECORD_PREFIX, rec.size);
            }
            continue;
        }
        if (run->count > 0 && (run->epoch != rec.epoch || run->count == EVI_PRUNED_RUN_MAX)) {
            r = run_flush(run, body);
        }
        run->epoch = rec.epoch;
        memcpy(run->leaves[run->count++], leaf, EV_HASH_BYTES);
    }
    evi_scanner_free(&sc);
    free(run);
    evi_sha256_final(&bytes, ret->sha256);
    evi_sha256_final(&leaves, ret->leaf_digest);
    return r;
}

/* ---- deciding ----------------------------------------------------------- */

struct candidate {
    struct evi_segment seg; /* a copy: its fd stays open while log->scans counts us */
    uint64_t end;           /* first index of the next segment */
    uint64_t disk_bytes;
};

static int newest_ts(struct ev_log *log, uint64_t index, int64_t *ret_ns)
{
    struct ev_entry *e = NULL;
    struct evi_entry_view view;
    int r = ev_log_entry(log, index, &e);

    if (r == 0) {
        r = evi_entry_view((const uint8_t *)e->bytes, e->len, &view);
        if (r == 0) {
            *ret_ns = view.ts_ns;
        }
    }
    ev_entry_free(e);
    return r;
}

static int report_add(struct ev_prune_report *rep, const struct candidate *c, int64_t newest,
                      const char *reason)
{
    struct ev_pruned_segment *grown =
        realloc(rep->segments, (rep->count + 1) * sizeof(*rep->segments));
    if (grown == NULL) {
        return -ENOMEM;
    }
    rep->segments = grown;
    struct ev_pruned_segment *p = &rep->segments[rep->count++];
    memset(p, 0, sizeof(*p));
    evi_segment_file_name(&c->seg, p->file);
    p->first = c->seg.first_index;
    p->last = c->end - 1;
    p->bytes = c->disk_bytes;
    p->newest_ns = newest;
    p->reason = reason;
    rep->entries += c->end - c->seg.first_index;
    return 0;
}

/* ---- the retention entry ------------------------------------------------ */

/* Disk bytes a pruning frees (a pruned form is never larger in practice; never negative). */
static uint64_t freed(const struct ev_pruned_segment *p)
{
    return p->bytes > p->pruned_bytes ? p->bytes - p->pruned_bytes : 0;
}

static int append_text(char **text, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int append_text(char **text, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*text != NULL ? *text + *len : NULL, *text != NULL ? *cap - *len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0) {
            return -EINVAL;
        }
        if (*text != NULL && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 0;
        }
        size_t ncap = *cap ? *cap * 2 : 4096;
        while (ncap < *len + (size_t)n + 1) {
            ncap *= 2;
        }
        char *grown = realloc(*text, ncap);
        if (grown == NULL) {
            return -ENOMEM;
        }
        *text = grown;
        *cap = ncap;
    }
}

/*
 * The data of a retention entry (docs/LIFECYCLE.md): canonical JSON, keys in
 * byte order at every depth, written here directly.
 */
static int retention_data(const struct ev_retention *policy, const struct ev_prune_report *rep,
                          size_t from, size_t to, const struct evi_pruned_summary *sums,
                          char **ret_text)
{
    char *t = NULL;
    size_t len = 0, cap = 0;
    uint64_t bytes = 0, entries = 0;
    int r = 0;

    for (size_t k = from; k < to; k++) {
        bytes += freed(&rep->segments[k]);
        entries += rep->segments[k].last - rep->segments[k].first + 1;
    }
    r = append_text(&t, &len, &cap,
                    "{\"bytes\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"first\":%" PRIu64
                    ",\"last\":%" PRIu64 ",\"policy\":{\"max_age_s\":%" PRIu64
                    ",\"max_bytes\":%" PRIu64 ",\"min_age_s\":%" PRIu64
                    ",\"want_free_bytes\":%" PRIu64 "},\"segments\":[",
                    bytes, entries, rep->segments[from].first, rep->segments[to - 1].last,
                    (uint64_t)(policy->max_age_ns / 1000000000u), policy->max_bytes,
                    (uint64_t)(policy->min_age_ns / 1000000000u), policy->want_free_bytes);
    for (size_t k = from; r == 0 && k < to; k++) {
        const struct ev_pruned_segment *p = &rep->segments[k];
        char sha[65], leaves[65], ts[EVI_TS_LEN + 1];
        evi_hex_encode(sums[k].sha256, EV_HASH_BYTES, sha);
        evi_hex_encode(sums[k].leaf_digest, EV_HASH_BYTES, leaves);
        evi_ts_format(p->newest_ns, ts);
        r = append_text(&t, &len, &cap,
                        "%s{\"bytes\":%" PRIu64 ",\"entries\":%" PRIu64
                        ",\"file\":\"%s\",\"first\":%" PRIu64 ",\"last\":%" PRIu64
                        ",\"leaf_digest\":\"%s\",\"newest\":\"%s\",\"reason\":\"%s\","
                        "\"sha256\":\"%s\"}",
                        k > from ? "," : "", p->bytes, p->last - p->first + 1, p->file, p->first,
                        p->last, leaves, ts, p->reason, sha);
    }
    if (r == 0) {
        r = append_text(&t, &len, &cap, "]}");
    }
    if (r < 0) {
        free(t);
        return r;
    }
    *ret_text = t;
    return 0;
}

/* ---- pruning ------------------------------------------------------------ */

static void pruning_end(struct ev_log *log)
{
    pthread_mutex_lock(&log->mu);
    log->pruning = false;
    evi_log_scan_end_locked(log);
    pthread_cond_signal(&log->compress_cv);
    pthread_cond_broadcast(&log->cv);
    pthread_mutex_unlock(&log->mu);
}

/* Puts the pruned form of segment first_index into the writer's table. */
static int install_pruned(struct ev_log *log, uint64_t first_index)
{
    struct evi_segment seg;
    int r = evi_pruned_open(log->dirfd, first_index, &seg);

    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&log->mu);
    size_t i = evi_log_segment_of(log, first_index);
    /* Scans may hold copies of this entry: its fd and seek table go when they end. */
    evi_log_retire_fd_locked(log, log->segments[i].fd);
    evi_log_retire_zframes_locked(log, log->segments[i].zframes);
    log->segments[i] = seg;
    pthread_mutex_unlock(&log->mu);
    return 0;
}

int ev_log_prune(struct ev_log *log, const struct ev_retention *policy, unsigned flags,
                 struct ev_prune_report *ret_report)
{
    static const struct ev_retention none;
    const struct ev_retention *pol = policy != NULL ? policy : &none;
    struct ev_prune_report rep = {.dry_run = (flags & EV_PRUNE_DRY_RUN) != 0};
    struct candidate *cands = NULL;
    struct evi_pruned_summary *sums = NULL;
    size_t ncand = 0, written = 0;
    uint64_t last_bytes = 0;
    int64_t now = pol->now_ns != 0 ? pol->now_ns : evi_now_ns();
    int r = 0;

    evi_error_clear();
    memset(ret_report, 0, sizeof(*ret_report));
    if (!log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only: only the writer prunes");
    }

    /* The closed segments not yet pruned, with the compressor held off. */
    pthread_mutex_lock(&log->mu);
    while (log->pruning) {
        pthread_cond_wait(&log->cv, &log->mu); /* one pruning at a time */
    }
    log->pruning = true;
    while (log->compressor_busy) {
        pthread_cond_wait(&log->cv, &log->mu);
    }
    log->scans++;
    cands = calloc(log->segment_count, sizeof(*cands));
    for (size_t i = 0; cands != NULL && i < log->segment_count; i++) {
        struct stat st;
        const struct evi_segment *g = &log->segments[i];
        rep.log_bytes += fstat(g->fd, &st) == 0 ? (uint64_t)st.st_size : g->bytes;
        if (i + 1 == log->segment_count) {
            last_bytes = fstat(g->fd, &st) == 0 ? (uint64_t)st.st_size : g->bytes;
        }
        if (i + 1 < log->segment_count && !g->pruned) {
            cands[ncand].seg = *g;
            cands[ncand].end = log->segments[i + 1].first_index;
            cands[ncand].disk_bytes = fstat(g->fd, &st) == 0 ? (uint64_t)st.st_size : g->bytes;
            ncand++;
        }
    }
    pthread_mutex_unlock(&log->mu);
    if (cands == NULL) {
        r = -ENOMEM;
        goto out;
    }

    /* Oldest first, and only a prefix: retention never leaves a hole behind it. */
    /*
     * max_bytes bounds the segments that still hold their entries: pruned forms
     * cannot shrink further, so counting them would prune everything once they
     * alone came near the limit.
     */
    uint64_t remaining = 0, free_now = 0;
    for (size_t k = 0; k < ncand; k++) {
        remaining += cands[k].disk_bytes;
    }
    remaining += last_bytes;
    if (pol->want_free_bytes != 0) {
        struct statvfs vfs;
        if (fstatvfs(log->dirfd, &vfs) == 0) {
            free_now = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        } else {
            free_now = UINT64_MAX; /* unknown: no early pruning */
        }
    }
    for (size_t k = 0; k < ncand; k++) {
        int64_t newest = 0;
        const char *reason = NULL;
        r = newest_ts(log, cands[k].end - 1, &newest);
        if (r < 0) {
            goto out;
        }
        uint64_t age = now > newest ? (uint64_t)(now - newest) : 0;
        if (pol->max_age_ns != 0 && age >= pol->max_age_ns) {
            reason = "max_age";
        } else if (pol->max_bytes != 0 && remaining > pol->max_bytes) {
            reason = "max_bytes";
        } else if (pol->want_free_bytes != 0 && free_now < pol->want_free_bytes &&
                   age >= pol->min_age_ns) {
            reason = "disk_space";
        }
        if (reason == NULL) {
            break;
        }
        r = report_add(&rep, &cands[k], newest, reason);
        if (r < 0) {
            goto out;
        }
        remaining -= cands[k].disk_bytes;
        /* A pruned form keeps about 32 bytes an entry of the segment (§3.2). */
        uint64_t kept = 32 * (cands[k].end - cands[k].seg.first_index);
        free_now += cands[k].disk_bytes > kept ? cands[k].disk_bytes - kept : 0;
    }
    if (rep.count == 0 || rep.dry_run) {
        for (size_t k = 0; k < rep.count; k++) {
            rep.bytes_freed += rep.segments[k].bytes;
        }
        goto out;
    }

    /* 1. The pruned forms, as temporaries. */
    sums = calloc(rep.count, sizeof(*sums));
    if (sums == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (; written < rep.count; written++) {
        struct buf body = {0};
        r = evi_pruned_summary(&cands[written].seg, cands[written].end, &sums[written], &body);
        if (r == 0) {
            r = evi_pruned_write(log->dirfd, cands[written].seg.first_index, body.data, body.len);
        }
        rep.segments[written].pruned_bytes = body.len;
        free(body.data);
        if (r < 0) {
            goto out;
        }
    }

    /* 2 and 3, a retention entry at a time. */
    for (size_t from = 0; from < rep.count; from += SEGMENTS_PER_ENTRY) {
        size_t to = from + SEGMENTS_PER_ENTRY < rep.count ? from + SEGMENTS_PER_ENTRY : rep.count;
        char *data = NULL;
        r = retention_data(pol, &rep, from, to, sums, &data);
        if (r == 0) {
            r = evi_log_append_own(log, "retention", EV_SEV_NOTICE, data, &rep.retention_index);
        }
        free(data);
        for (size_t k = from; r == 0 && k < to; k++) {
            r = evi_pruned_commit(log->dirfd, rep.segments[k].first);
            if (r == 0) {
                r = install_pruned(log, rep.segments[k].first);
            }
            if (r == 0) {
                rep.bytes_freed += freed(&rep.segments[k]);
            }
        }
        if (r < 0) {
            goto out;
        }
    }
    written = 0;
out:
    for (size_t k = 0; k < written; k++) {
        evi_pruned_discard(log->dirfd, cands[k].seg.first_index);
    }
    pruning_end(log);
    free(cands);
    free(sums);
    if (r < 0) {
        ev_prune_report_free(&rep);
        return r;
    }
    *ret_report = rep;
    return 0;
}

void ev_prune_report_free(struct ev_prune_report *report)
{
    if (report != NULL) {
        free(report->segments);
        memset(report, 0, sizeof(*report));
    }
}
