/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's counters and their Prometheus text (metrics.h).
 *
 * Everything is a relaxed atomic: no counter orders anything else, so no
 * fence is needed, and no producer ever waits on a render. Histograms keep one
 * non-cumulative count per bucket; the render sums them into the cumulative
 * le="..." series and takes _count from the same sum, so a scrape never shows
 * a +Inf bucket that disagrees with _count. Durations are kept in integer
 * nanoseconds, so _sum is printed exactly (seconds with nine decimals).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/event.h>

#include "metrics.h"

#ifndef EVIDENT_VERSION
#define EVIDENT_VERSION "unknown"
#endif

/* The type column past the enum: a name ev_event_type_parse() refuses. */
#define TYPE_OTHER EV_TYPE_COUNT
#define TYPE_COLUMNS (EV_TYPE_COUNT + 1)

/* A histogram's upper bounds: the value compared, and the label printed. */
struct bucket {
    uint64_t le;
    const char *label;
};

#define MAX_BUCKETS 16

/* Events per committed batch: powers of two up to performance.batch_max's bound. */
static const struct bucket batch_buckets[] = {
    {1, "1"},       {2, "2"},       {4, "4"},       {8, "8"},     {16, "16"},
    {32, "32"},     {64, "64"},     {128, "128"},   {256, "256"}, {512, "512"},
    {1024, "1024"}, {2048, "2048"}, {4096, "4096"},
};

/* fdatasync and append: from a fast NVMe flush (50 us) to a struggling disk (1 s). */
static const struct bucket io_buckets[] = {
    {50000, "0.00005"},  {100000, "0.0001"},  {250000, "0.00025"}, {500000, "0.0005"},
    {1000000, "0.001"},  {2500000, "0.0025"}, {5000000, "0.005"},  {10000000, "0.01"},
    {25000000, "0.025"}, {50000000, "0.05"},  {100000000, "0.1"},  {250000000, "0.25"},
    {500000000, "0.5"},  {1000000000, "1"},
};

/* Acknowledgements include queueing, so they reach further under load. */
static const struct bucket ack_buckets[] = {
    {50000, "0.00005"},  {100000, "0.0001"},  {250000, "0.00025"}, {500000, "0.0005"},
    {1000000, "0.001"},  {2500000, "0.0025"}, {5000000, "0.005"},  {10000000, "0.01"},
    {25000000, "0.025"}, {50000000, "0.05"},  {100000000, "0.1"},  {250000000, "0.25"},
    {500000000, "0.5"},  {1000000000, "1"},   {2500000000, "2.5"}, {10000000000, "10"},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(COUNT_OF(batch_buckets) <= MAX_BUCKETS, "batch buckets");
_Static_assert(COUNT_OF(io_buckets) <= MAX_BUCKETS, "io buckets");
_Static_assert(COUNT_OF(ack_buckets) <= MAX_BUCKETS, "ack buckets");

struct histogram {
    const struct bucket *buckets;
    size_t bucket_count;
    atomic_uint_least64_t counts[MAX_BUCKETS + 1]; /* the last one: above every bound */
    atomic_uint_least64_t sum;                     /* ns, or events */
};

struct evd_metrics {
    atomic_uint_least64_t events[EVD_SRC_COUNT][TYPE_COLUMNS];
    atomic_uint_least64_t rejected[EVD_SRC_COUNT][EVD_REJ_COUNT];
    struct histogram batch, append, fdatasync, ack;
    atomic_uint_least64_t verification_runs, verification_failures;
    atomic_uint_least64_t retention_runs, retention_failures, pruned_entries, pruned_bytes;
    atomic_uint_least64_t alerts_raised, alerts_delivered, alerts_failed, alerts_dropped;
    atomic_int_least64_t connections;
};

static const char *const source_names[EVD_SRC_COUNT] = {
    [EVD_SRC_UNIX] = "unix",
    [EVD_SRC_HTTP] = "http",
    [EVD_SRC_SYSLOG_TCP] = "syslog_tcp",
    [EVD_SRC_SYSLOG_UDP] = "syslog_udp",
    [EVD_SRC_SYSLOG_UNIX] = "syslog_unix",
    [EVD_SRC_DAEMON] = "evidentd",
};

static const char *const reject_names[EVD_REJ_COUNT] = {
    [EVD_REJ_MALFORMED] = "malformed",       [EVD_REJ_TOO_BIG] = "too_big",
    [EVD_REJ_UNAUTHORIZED] = "unauthorized", [EVD_REJ_FORBIDDEN] = "forbidden",
    [EVD_REJ_OVERLOAD] = "overload",         [EVD_REJ_POLICY] = "policy",
    [EVD_REJ_STORAGE] = "storage",
};

const char *evd_source_name(enum evd_source s)
{
    return (unsigned)s < EVD_SRC_COUNT ? source_names[s] : NULL;
}

const char *evd_reject_name(enum evd_reject r)
{
    return (unsigned)r < EVD_REJ_COUNT ? reject_names[r] : NULL;
}

static void histogram_init(struct histogram *h, const struct bucket *buckets, size_t count)
{
    h->buckets = buckets;
    h->bucket_count = count;
    for (size_t i = 0; i <= MAX_BUCKETS; i++) {
        atomic_init(&h->counts[i], 0);
    }
    atomic_init(&h->sum, 0);
}

static void histogram_observe(struct histogram *h, uint64_t value)
{
    size_t i = 0;

    while (i < h->bucket_count && value > h->buckets[i].le) {
        i++;
    }
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

int evd_metrics_new(struct evd_metrics **ret_metrics)
{
    struct evd_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        return -ENOMEM;
    }
    /* calloc's zero bytes are a valid zero for these lock-free atomics; init keeps C11 honest. */
    for (size_t s = 0; s < EVD_SRC_COUNT; s++) {
        for (size_t t = 0; t < TYPE_COLUMNS; t++) {
            atomic_init(&m->events[s][t], 0);
        }
        for (size_t r = 0; r < EVD_REJ_COUNT; r++) {
            atomic_init(&m->rejected[s][r], 0);
        }
    }
    histogram_init(&m->batch, batch_buckets, COUNT_OF(batch_buckets));
    histogram_init(&m->append, io_buckets, COUNT_OF(io_buckets));
    histogram_init(&m->fdatasync, io_buckets, COUNT_OF(io_buckets));
    histogram_init(&m->ack, ack_buckets, COUNT_OF(ack_buckets));
    atomic_init(&m->verification_runs, 0);
    atomic_init(&m->verification_failures, 0);
    atomic_init(&m->retention_runs, 0);
    atomic_init(&m->retention_failures, 0);
    atomic_init(&m->pruned_entries, 0);
    atomic_init(&m->pruned_bytes, 0);
    atomic_init(&m->alerts_raised, 0);
    atomic_init(&m->alerts_delivered, 0);
    atomic_init(&m->alerts_failed, 0);
    atomic_init(&m->alerts_dropped, 0);
    atomic_init(&m->connections, 0);
    *ret_metrics = m;
    return 0;
}

void evd_metrics_free(struct evd_metrics *m)
{
    free(m);
}

static void add(atomic_uint_least64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t load(atomic_uint_least64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void evd_metrics_events(struct evd_metrics *m, enum evd_source s, const char *type, uint64_t n)
{
    enum ev_event_type t;

    if (m == NULL || (unsigned)s >= EVD_SRC_COUNT) {
        return;
    }
    if (type == NULL || ev_event_type_parse(type, &t) < 0 || (unsigned)t >= EV_TYPE_COUNT) {
        t = TYPE_OTHER;
    }
    add(&m->events[s][t], n);
}

void evd_metrics_reject(struct evd_metrics *m, enum evd_source s, enum evd_reject r, uint64_t n)
{
    if (m == NULL || (unsigned)s >= EVD_SRC_COUNT || (unsigned)r >= EVD_REJ_COUNT) {
        return;
    }
    add(&m->rejected[s][r], n);
}

void evd_metrics_commit(struct evd_metrics *m, size_t events, uint64_t append_ns, uint64_t sync_ns)
{
    if (m == NULL) {
        return;
    }
    histogram_observe(&m->batch, events);
    histogram_observe(&m->append, append_ns);
    if (sync_ns > 0) {
        histogram_observe(&m->fdatasync, sync_ns);
    }
}

void evd_metrics_ack(struct evd_metrics *m, uint64_t ns)
{
    if (m != NULL) {
        histogram_observe(&m->ack, ns);
    }
}

void evd_metrics_verification(struct evd_metrics *m, bool ok)
{
    if (m == NULL) {
        return;
    }
    add(&m->verification_runs, 1);
    if (!ok) {
        add(&m->verification_failures, 1);
    }
}

void evd_metrics_retention(struct evd_metrics *m, bool ok, uint64_t entries, uint64_t bytes)
{
    if (m == NULL) {
        return;
    }
    add(&m->retention_runs, 1);
    if (!ok) {
        add(&m->retention_failures, 1);
    }
    add(&m->pruned_entries, entries);
    add(&m->pruned_bytes, bytes);
}

void evd_metrics_alert(struct evd_metrics *m, bool delivered)
{
    if (m != NULL) {
        add(delivered ? &m->alerts_delivered : &m->alerts_failed, 1);
    }
}

void evd_metrics_alert_raised(struct evd_metrics *m)
{
    if (m != NULL) {
        add(&m->alerts_raised, 1);
    }
}

void evd_metrics_alert_dropped(struct evd_metrics *m)
{
    if (m != NULL) {
        add(&m->alerts_dropped, 1);
    }
}

void evd_metrics_connections(struct evd_metrics *m, int delta)
{
    if (m != NULL) {
        atomic_fetch_add_explicit(&m->connections, delta, memory_order_relaxed);
    }
}

/* ---- rendering -------------------------------------------------------------- */

struct text {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory: every later write is skipped */
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed) {
        return;
    }
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 > t->len + (size_t)n + 1 ? t->cap * 2 : t->len + (size_t)n + 1;
        char *buf = realloc(t->buf, cap);
        if (buf == NULL) {
            t->failed = true;
            return;
        }
        t->buf = buf;
        t->cap = cap;
    }
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct text *t, const char *name, const char *help, uint64_t value)
{
    family(t, name, "counter", help);
    put(t, "%s %" PRIu64 "\n", name, value);
}

static void gauge_u64(struct text *t, const char *name, const char *help, uint64_t value)
{
    family(t, name, "gauge", help);
    put(t, "%s %" PRIu64 "\n", name, value);
}

/* Seconds to the millisecond; a negative value (none yet) leaves the sample out. */
static void gauge_seconds(struct text *t, const char *name, const char *help, double value)
{
    family(t, name, "gauge", help);
    if (value >= 0) {
        put(t, "%s %.3f\n", name, value);
    }
}

/* Nanoseconds as exact decimal seconds. */
static void put_seconds_ns(struct text *t, uint64_t ns)
{
    put(t, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
}

static void histogram_render(struct text *t, const char *name, const char *help,
                             struct histogram *h, bool seconds)
{
    uint64_t cumulative = 0;

    family(t, name, "histogram", help);
    for (size_t i = 0; i < h->bucket_count; i++) {
        cumulative += load(&h->counts[i]);
        put(t, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, h->buckets[i].label, cumulative);
    }
    cumulative += load(&h->counts[h->bucket_count]);
    put(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    put(t, "%s_sum ", name);
    if (seconds) {
        put_seconds_ns(t, load(&h->sum));
    } else {
        put(t, "%" PRIu64, load(&h->sum));
    }
    put(t, "\n%s_count %" PRIu64 "\n", name, cumulative);
}

/* Label values: only \, " and newline need escaping in format 0.0.4. */
static void put_label_value(struct text *t, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"') {
            put(t, "\\%c", *p);
        } else if (*p == '\n') {
            put(t, "\\n");
        } else {
            put(t, "%c", *p);
        }
    }
}

int evd_metrics_render(struct evd_metrics *m, const struct evd_gauges *g, char **ret_text,
                       size_t *ret_len)
{
    static const struct evd_gauges none = {.seconds_since_seal = -1,
                                           .seconds_since_checkpoint = -1};
    struct text t = {.cap = 16384};

    if (g == NULL) {
        g = &none;
    }
    t.buf = malloc(t.cap);
    if (t.buf == NULL) {
        return -ENOMEM;
    }
    t.buf[0] = '\0';

    family(&t, "evident_build_info", "gauge", "The evidentd version, as a label; always 1.");
    put(&t, "evident_build_info{version=\"");
    put_label_value(&t, EVIDENT_VERSION);
    put(&t, "\"} 1\n");
    gauge_u64(&t, "evident_up", "1 while evidentd serves metrics.", 1);
    gauge_u64(&t, "evident_healthy",
              "1 when the log is open, verified at start and appends work; else 0.",
              g->healthy ? 1 : 0);
    gauge_seconds(&t, "evident_uptime_seconds", "Seconds since evidentd started.",
                  g->uptime_seconds);

    family(&t, "evident_events_total", "counter",
           "Events made durable, by source and type (every custom.* type counted as custom).");
    for (size_t s = 0; s < EVD_SRC_COUNT; s++) {
        for (size_t ty = 0; ty < TYPE_COLUMNS; ty++) {
            uint64_t n = load(&m->events[s][ty]);
            const char *name = ty == TYPE_OTHER ? "other" : ev_event_type_name(ty);
            if (ty == TYPE_OTHER && n == 0) {
                continue; /* a type the library refused: only shown when it happened */
            }
            put(&t, "evident_events_total{source=\"%s\",type=\"%s\"} %" PRIu64 "\n",
                source_names[s], name != NULL ? name : "other", n);
        }
    }
    family(&t, "evident_rejected_total", "counter",
           "Events or requests refused or dropped, by source and reason.");
    for (size_t s = 0; s < EVD_SRC_COUNT; s++) {
        for (size_t r = 0; r < EVD_REJ_COUNT; r++) {
            put(&t, "evident_rejected_total{source=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                source_names[s], reject_names[r], load(&m->rejected[s][r]));
        }
    }

    gauge_u64(&t, "evident_queue_depth", "Events waiting in the commit queue or being appended.",
              g->queue_depth);
    gauge_u64(&t, "evident_queue_capacity",
              "Events the commit queue holds (performance.queue_max).", g->queue_max);
    histogram_render(&t, "evident_commit_batch_events", "Events per committed batch.", &m->batch,
                     false);
    histogram_render(&t, "evident_append_seconds", "Time of the log append of one batch.",
                     &m->append, true);
    histogram_render(&t, "evident_fdatasync_seconds", "Time of one fdatasync of a batch.",
                     &m->fdatasync, true);
    histogram_render(&t, "evident_ack_seconds",
                     "Time from a submission to its acknowledgement (queueing included).", &m->ack,
                     true);

    gauge_u64(&t, "evident_tree_size", "Entries in the log.", g->tree_size);
    gauge_u64(&t, "evident_checkpoint_tree_size", "Tree size of the latest signed checkpoint.",
              g->checkpoint_size);
    gauge_seconds(&t, "evident_seconds_since_seal",
                  "Seconds since the last seal; no sample before the first.",
                  g->seconds_since_seal);
    gauge_seconds(&t, "evident_seconds_since_checkpoint",
                  "Seconds since the last signed checkpoint; no sample before the first.",
                  g->seconds_since_checkpoint);

    counter(&t, "evident_verification_runs_total", "Self-verifications run.",
            load(&m->verification_runs));
    counter(&t, "evident_verification_failures_total", "Self-verifications that failed.",
            load(&m->verification_failures));
    counter(&t, "evident_retention_runs_total",
            "Retention passes run (hourly, or the disk ran low).", load(&m->retention_runs));
    counter(&t, "evident_retention_failures_total", "Retention passes that failed.",
            load(&m->retention_failures));
    counter(&t, "evident_retention_pruned_entries_total",
            "Entries whose bytes retention removed (their hashes stay).", load(&m->pruned_entries));
    counter(&t, "evident_retention_freed_bytes_total", "Disk bytes retention freed.",
            load(&m->pruned_bytes));
    counter(&t, "evident_alerts_raised_total", "Alerts raised by the alert rules.",
            load(&m->alerts_raised));
    counter(&t, "evident_alerts_delivered_total", "Alerts a webhook accepted (2xx).",
            load(&m->alerts_delivered));
    counter(&t, "evident_alerts_failed_total",
            "Alerts not delivered: every attempt failed, or shutdown came first.",
            load(&m->alerts_failed));
    counter(&t, "evident_alerts_dropped_total", "Alerts dropped because an alert queue was full.",
            load(&m->alerts_dropped));

    family(&t, "evident_connections", "gauge", "Open client connections.");
    put(&t, "evident_connections %" PRId64 "\n",
        (int64_t)atomic_load_explicit(&m->connections, memory_order_relaxed));
    family(&t, "evident_stream_connections", "gauge",
           "Unix socket and syslog TCP connections each stream loop serves.");
    for (size_t i = 0; i < g->stream_loops && i < EVD_METRICS_MAX_LOOPS; i++) {
        put(&t, "evident_stream_connections{loop=\"%zu\"} %" PRIu64 "\n", i,
            g->stream_loop_connections[i]);
    }
    gauge_u64(&t, "evident_disk_free_bytes", "Free bytes on the log's file system.",
              g->disk_free_bytes);
    gauge_u64(&t, "evident_log_disk_bytes", "Bytes the log directory takes.", g->disk_bytes);
    gauge_u64(&t, "evident_direct_io",
              "1 while large writes of records go around the page cache (O_DIRECT; "
              "storage.direct_io, the file system allows it, storage.compression is none).",
              g->io.direct_io ? 1 : 0);
    counter(&t, "evident_direct_write_bytes_total",
            "Bytes of records written around the page cache.", g->io.direct_bytes);
    gauge_u64(&t, "evident_preallocation_active",
              "1 while the writer keeps zeros written ahead of its records (storage.preallocate "
              "under log.sync: always, and the file system allows it); a failed fill stops it for "
              "the rest of its segment only (evident_preallocation_failures_total).",
              g->io.preallocating ? 1 : 0);
    counter(&t, "evident_preallocated_bytes_total", "Bytes of zeros written ahead of the records.",
            g->io.preallocated_bytes);
    counter(&t, "evident_preallocation_failures_total",
            "Fills of zeros that failed; each ends preallocation for its segment, and the "
            "daemon's log says why.",
            g->io.preallocation_failures);
    gauge_u64(&t, "evident_inplace_sync",
              "1 when records written over preallocated zeros can be made durable without "
              "writing the segment's inode (ext4 without a journal: the records' pages, "
              "then a flush of the disk's cache); evident_inplace_syncs_total counts those "
              "that were.",
              g->io.inplace_sync ? 1 : 0);
    counter(&t, "evident_inplace_syncs_total", "Syncs of records done that way.",
            g->io.inplace_syncs);
    gauge_u64(&t, "evident_fsync_gap",
              "1 when the log is on ext4 without a journal and a kernel not known to make "
              "overwrites of preallocated zeros and direct writes durable with fdatasync: both "
              "are off (docs/DESIGN.md, \"Writing an entry\").",
              g->io.fsync_gap ? 1 : 0);
    gauge_u64(&t, "evident_disk_state",
              "Free space level: 0 ok, 1 under disk.space_left, 2 under disk.admin_space_left, "
              "3 full (under disk.reserve or ENOSPC: writers held or refused).",
              (uint64_t)g->disk.level);
    gauge_u64(&t, "evident_disk_needed_bytes",
              "Free bytes the daemon needs before it takes producers' events again "
              "(disk.reserve, or more after an ENOSPC).",
              g->disk.need_bytes);
    gauge_u64(&t, "evident_disk_held_events",
              "Producers' events of a failed batch waiting for space (disk_full_action: block).",
              g->disk.held_events);
    counter(&t, "evident_disk_full_total", "Times the log's disk became full.", g->disk.full_total);
    counter(&t, "evident_disk_enospc_total", "Appends that failed because the disk was full.",
            g->disk.enospc_total);
    counter(&t, "evident_disk_space_left_total", "Crossings under disk.space_left.",
            g->disk.space_left_total);
    counter(&t, "evident_disk_admin_space_left_total", "Crossings under disk.admin_space_left.",
            g->disk.admin_left_total);
    counter(&t, "evident_log_reopens_total",
            "Times the log was closed and opened again after a full disk.", g->disk.reopen_total);
    counter(&t, "evident_backups_total", "Backups the backup timer made (unchanged ones too).",
            g->backup.runs);
    counter(&t, "evident_backup_failures_total", "Backups the backup timer failed to make.",
            g->backup.failures);
    /* No sample before the first good backup (as evident_seconds_since_seal). */
    bool backed_up = g->backup_enabled && g->backup.last_success_ns > 0;
    family(&t, "evident_backup_last_success_timestamp_seconds", "gauge",
           "Unix time of the last good backup of the backup timer.");
    if (backed_up) {
        put(&t, "evident_backup_last_success_timestamp_seconds %.3f\n",
            (double)g->backup.last_success_ns / 1e9);
    }
    family(&t, "evident_backup_last_tree_size", "gauge",
           "Entries covered by the last good backup's checkpoint.");
    if (backed_up) {
        put(&t, "evident_backup_last_tree_size %" PRIu64 "\n", g->backup.last_tree_size);
    }
    family(&t, "evident_backup_last_copied_bytes", "gauge",
           "Bytes the last good backup copied (hard-linked and unchanged files cost none).");
    if (backed_up) {
        put(&t, "evident_backup_last_copied_bytes %" PRIu64 "\n", g->backup.last_bytes);
    }
    family(&t, "evident_backup_generations", "gauge",
           "Backup generations in retention.backup_dir after the last good backup.");
    if (backed_up) {
        put(&t, "evident_backup_generations %" PRIu64 "\n", g->backup.last_generations);
    }

    if (t.failed) {
        free(t.buf);
        return -ENOMEM;
    }
    *ret_text = t.buf;
    if (ret_len != NULL) {
        *ret_len = t.len;
    }
    return 0;
}
