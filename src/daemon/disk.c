/* SPDX-License-Identifier: Apache-2.0 */
/* Free space and the full-disk actions (disk.h, docs/LIFECYCLE.md "Full disks"). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <evident/error.h>

#include "entry.h" /* src/lib: evi_entry_view() */

#include "alert.h"
#include "disk.h"
#include "retention.h"

/*
 * After the disk said ENOSPC (with no reserve crossed), how much more must be
 * free before the held batch is tried again: enough for a segment's header,
 * a few records and the derived files, without retrying on every freed page.
 */
#define ENOSPC_MARGIN (256u << 10)
/*
 * ... or this long after it, whatever statvfs says: a quota (EDQUOT) or space
 * freed and taken again between two looks does not show in free space. A
 * retry that fails again costs one reopen.
 */
#define ENOSPC_RETRY_NS 5000000000ll
#define MIN_MARGIN 4096u

struct evd_disk {
    struct evd *d;
    struct ev_open_options reopen;

    pthread_mutex_t lock;
    int level;            /* enum evd_disk_level */
    int relieve_pending;  /* a level entered that the timer has not relieved yet (0: none) */
    bool full_enospc;     /* full because an append failed, not (only) by the reserve */
    uint64_t enospc_free; /* free bytes when it did */
    int64_t enospc_ns;    /* when it did (evd_now_ns) */
    int64_t retry_ns;     /* ENOSPC_RETRY_NS, or less in tests */
    bool no_writer;       /* the handle is read-only: the writer could not open again yet */
    /*
     * The writer's size when it last opened again, before any other thread
     * could append (the retention pass): what recovery kept, and the seals
     * of the open, end there. Committer only.
     */
    uint64_t reopened_size;
    int action; /* enum ev_disk_full_action, at the last look */
    uint64_t free_bytes, need_bytes;

    uint64_t full_total, enospc_total, space_left_total, admin_left_total, reopen_total;
    uint64_t held_events;

    void (*reopen_hook)(struct evd *d, void *arg); /* tests */
    void *reopen_hook_arg;
};

struct thresholds {
    uint64_t space_left, admin_space_left, reserve;
    int action;
};

static const char *const level_names[] = {
    [EVD_DISK_OK] = "ok",
    [EVD_DISK_SPACE_LEFT] = "space_left",
    [EVD_DISK_ADMIN_SPACE_LEFT] = "admin_space_left",
    [EVD_DISK_FULL] = "full",
};

const char *evd_disk_level_name(int level)
{
    if (level < EVD_DISK_OK || level > EVD_DISK_FULL) {
        return "unknown";
    }
    return level_names[level];
}

int evd_disk_new(struct evd *d, const struct ev_open_options *reopen, struct evd_disk **ret_disk)
{
    struct evd_disk *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        return -ENOMEM;
    }
    k->d = d;
    k->reopen = *reopen;
    k->reopen.ret_recovery = NULL;
    k->retry_ns = ENOSPC_RETRY_NS;
    pthread_mutex_init(&k->lock, NULL);
    *ret_disk = k;
    return 0;
}

void evd_disk_set_reopen_hook(struct evd_disk *disk, void (*fn)(struct evd *d, void *arg),
                              void *arg)
{
    disk->reopen_hook = fn; /* set before the committer meets a full disk */
    disk->reopen_hook_arg = arg;
}

void evd_disk_set_retry(struct evd_disk *disk, int64_t ns)
{
    pthread_mutex_lock(&disk->lock);
    disk->retry_ns = ns;
    pthread_mutex_unlock(&disk->lock);
}

void evd_disk_free(struct evd_disk *disk)
{
    if (disk == NULL) {
        return;
    }
    pthread_mutex_destroy(&disk->lock);
    free(disk);
}

bool evd_disk_is_full_error(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT;
}

/* 1.5 MiB, 512 KiB, 300 B: for messages. */
static void human(uint64_t bytes, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    size_t u = 0;

    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) {
        (void)snprintf(out, size, "%" PRIu64 " B", bytes);
    } else {
        (void)snprintf(out, size, "%.1f %s", v, units[u]);
    }
}

static void read_thresholds(struct evd *d, uint64_t fs_bytes, struct thresholds *t)
{
    pthread_rwlock_rdlock(&d->config_lock); /* a reload may swap the configuration */
    t->space_left = ev_space_bytes(&d->config->disk.space_left, fs_bytes);
    t->admin_space_left = ev_space_bytes(&d->config->disk.admin_space_left, fs_bytes);
    t->reserve = ev_space_bytes(&d->config->disk.reserve, fs_bytes);
    t->action = d->config->disk.disk_full_action;
    pthread_rwlock_unlock(&d->config_lock);
}

static uint64_t margin(uint64_t threshold)
{
    return threshold / 8 > MIN_MARGIN ? threshold / 8 : MIN_MARGIN;
}

/* Under threshold, or still within its margin while at or above level (hysteresis). */
static bool below(uint64_t free_bytes, uint64_t threshold, int prev, int level)
{
    if (threshold == 0) {
        return false;
    }
    return free_bytes < threshold || (prev >= level && free_bytes < threshold + margin(threshold));
}

/* What the reserve or the disk's own ENOSPC need free before appends resume. */
static uint64_t need_locked(const struct evd_disk *k, const struct thresholds *t)
{
    uint64_t need = t->reserve > 0 ? t->reserve + margin(t->reserve) : 0;
    if (k->full_enospc && evd_now_ns() - k->enospc_ns < k->retry_ns &&
        k->enospc_free + ENOSPC_MARGIN > need) {
        need = k->enospc_free + ENOSPC_MARGIN;
    }
    return need;
}

static int level_for(const struct evd_disk *k, const struct thresholds *t, uint64_t free_bytes)
{
    if (below(free_bytes, t->reserve, k->level, EVD_DISK_FULL) ||
        (k->full_enospc && free_bytes < need_locked(k, t))) {
        return EVD_DISK_FULL;
    }
    if (below(free_bytes, t->admin_space_left, k->level, EVD_DISK_ADMIN_SPACE_LEFT)) {
        return EVD_DISK_ADMIN_SPACE_LEFT;
    }
    if (below(free_bytes, t->space_left, k->level, EVD_DISK_SPACE_LEFT)) {
        return EVD_DISK_SPACE_LEFT;
    }
    return EVD_DISK_OK;
}

static void describe_locked(const struct evd_disk *k, char *buf, size_t size)
{
    char have[32], need[32];
    human(k->free_bytes, have, sizeof(have));
    human(k->need_bytes, need, sizeof(need));
    (void)snprintf(buf, size, "disk full: %s free of %s needed", have, need);
}

/* Alerts, counts and stderr lines for entering level (once per crossing). */
static void entered_locked(struct evd_disk *k, const struct thresholds *t, int level)
{
    struct evd *d = k->d;
    char detail[256], have[32], limit[32];

    human(k->free_bytes, have, sizeof(have));
    switch (level) {
    case EVD_DISK_SPACE_LEFT:
        if (t->space_left == 0 || k->free_bytes >= t->space_left) {
            return; /* passed on the way to full (an ENOSPC), not crossed */
        }
        k->space_left_total++;
        human(t->space_left, limit, sizeof(limit));
        (void)snprintf(detail, sizeof(detail),
                       "%" PRIu64 " bytes (%s) free on the log's file system, under "
                       "disk.space_left (%s)",
                       k->free_bytes, have, limit);
        fprintf(stderr, "evidentd: disk: %s\n", detail);
        evd_alerts_condition(d->alerts, EV_ALERT_DISK_LOW, detail);
        break;
    case EVD_DISK_ADMIN_SPACE_LEFT:
        if (t->admin_space_left == 0 || k->free_bytes >= t->admin_space_left) {
            return;
        }
        k->admin_left_total++;
        human(t->admin_space_left, limit, sizeof(limit));
        (void)snprintf(detail, sizeof(detail),
                       "%" PRIu64 " bytes (%s) free on the log's file system, under "
                       "disk.admin_space_left (%s)",
                       k->free_bytes, have, limit);
        fprintf(stderr, "evidentd: disk: %s\n", detail);
        evd_alerts_condition(d->alerts, EV_ALERT_ADMIN_SPACE_LEFT, detail);
        break;
    case EVD_DISK_FULL: {
        char what[160];
        k->full_total++;
        describe_locked(k, what, sizeof(what));
        (void)snprintf(detail, sizeof(detail), "%s%s: %s", what,
                       k->full_enospc ? " (the file system refused a write)" : " (disk.reserve)",
                       t->action == EV_DISK_FULL_REJECT
                           ? "new events are refused until space returns"
                           : "new events wait until space returns (nothing is lost)");
        fprintf(stderr, "evidentd: %s\n", detail);
        evd_alerts_condition(d->alerts, EV_ALERT_DISK_FULL, detail);
        evd_alerts_condition(d->alerts, EV_ALERT_LOGGING_FAILURE, detail);
        break;
    }
    default: break;
    }
}

/* Takes a new look at free space; raises what was crossed. */
static void update_locked(struct evd_disk *k, const struct statvfs *st)
{
    struct thresholds t;
    uint64_t fs_bytes = (uint64_t)st->f_blocks * st->f_frsize;

    k->free_bytes = (uint64_t)st->f_bavail * st->f_frsize;
    read_thresholds(k->d, fs_bytes, &t);
    k->action = t.action;
    int prev = k->level, now = level_for(k, &t, k->free_bytes);
    k->need_bytes = need_locked(k, &t);
    if (now < EVD_DISK_FULL) {
        k->full_enospc = false;
    }
    k->level = now;
    if (now > prev) {
        for (int level = prev + 1; level <= now; level++) {
            entered_locked(k, &t, level);
        }
        if (now > k->relieve_pending) {
            k->relieve_pending = now;
        }
    } else if (now < prev) {
        char have[32];
        human(k->free_bytes, have, sizeof(have));
        fprintf(stderr, "evidentd: disk: %s free on the log's file system: %s (was %s)\n", have,
                evd_disk_level_name(now), evd_disk_level_name(prev));
    }
}

/*
 * Closes *log and opens the log again, as a writer if it can (recovery cuts
 * the torn tail), else read-only so that reads go on. Replaces d->log under
 * d->log_lock. Returns 0 (a writer), 1 (read-only) or a negative error (no
 * handle at all: *log and d->log are NULL).
 */
void evd_disk_io_stats(struct evd *d, struct ev_log_io_stats *ret_stats)
{
    struct ev_log_io_stats now = {0};

    if (d->log != NULL) {
        (void)ev_log_io_stats(d->log, &now);
    }
    now.direct_bytes += d->io_closed.direct_bytes;
    now.preallocated_bytes += d->io_closed.preallocated_bytes;
    now.preallocation_failures += d->io_closed.preallocation_failures;
    now.inplace_syncs += d->io_closed.inplace_syncs;
    if (now.preallocation_error == 0) {
        now.preallocation_error = d->io_closed.preallocation_error;
    }
    *ret_stats = now;
}

void evd_disk_note_fills(struct evd *d, uint64_t *said)
{
    struct ev_log_io_stats io;

    pthread_rwlock_rdlock(&d->log_lock); /* reopen() may close the handle */
    evd_disk_io_stats(d, &io);
    pthread_rwlock_unlock(&d->log_lock);
    if (io.preallocation_failures > *said) {
        fprintf(stderr,
                "evidentd: preallocation: %llu fill(s) failed (latest: %s); a segment whose fill "
                "failed grows with its records until the next one\n",
                (unsigned long long)(io.preallocation_failures - *said),
                strerror(-io.preallocation_error));
        *said = io.preallocation_failures;
    }
}

static int reopen(struct evd_disk *k, struct ev_log **log)
{
    struct evd *d = k->d;
    struct ev_recovery rec = {0};
    struct ev_open_options o = k->reopen;
    struct ev_log *fresh = NULL;
    int r, ret;

    o.ret_recovery = &rec;
    pthread_rwlock_wrlock(&d->log_lock);
    o.data_keys = d->data_keys; /* a reload may have replaced them (daemon.c) */
    o.flags = (o.flags & ~(unsigned)EV_OPEN_DECRYPT_ONLY) | (d->encrypt ? 0 : EV_OPEN_DECRYPT_ONLY);
    if (*log != NULL) {
        evd_disk_io_stats(d, &d->io_closed); /* its totals go on in the next handle's */
        (void)ev_log_close(*log); /* a failed handle: it only releases its files and lock */
    }
    r = ev_log_open(d->log_dir, &o, &fresh);
    ret = 0;
    if (r < 0) {
        fprintf(stderr, "evidentd: disk: cannot reopen the log for writing yet: %s: %s\n",
                ev_strerror(r), ev_last_error());
        o.flags |= EV_OPEN_READONLY;
        o.ret_recovery = NULL;
        r = ev_log_open(d->log_dir, &o, &fresh);
        ret = r < 0 ? r : 1;
        if (r < 0) {
            fprintf(stderr, "evidentd: disk: cannot open the log at all: %s\n", ev_last_error());
            fresh = NULL;
        }
    }
    *log = fresh;
    d->log = fresh;
    if (ret == 0) {
        k->reopened_size = ev_log_size(fresh);
    }
    pthread_rwlock_unlock(&d->log_lock);
    evd_summary_forget(d); /* recovery may have cut entries it counted */
    if (ret == 0 && k->reopen_hook != NULL) {
        k->reopen_hook(d, k->reopen_hook_arg);
    }
    if (ret == 0) {
        k->reopen_total++;
        if (rec.torn_bytes > 0) {
            fprintf(stderr, "evidentd: %s: recovery cut %llu torn bytes (never acknowledged)\n",
                    d->log_dir, (unsigned long long)rec.torn_bytes);
        }
    }
    return ret;
}

static unsigned gate_bits_locked(const struct evd_disk *k)
{
    unsigned bits = 0;
    if (k->level == EVD_DISK_FULL) {
        /* Stopping (SIGTERM): nothing more will be taken, so nothing may wait for space. */
        bool refuse = k->action == EV_DISK_FULL_REJECT || atomic_load(&k->d->stopping);
        bits |= refuse ? EVD_GATE_REFUSE : EVD_GATE_HOLD;
    }
    if (k->no_writer) {
        bits |= EVD_GATE_NO_LOG;
    }
    return bits;
}

unsigned evd_disk_gate(struct evd_disk *k, struct ev_log **log)
{
    struct statvfs st;
    unsigned bits;

    pthread_mutex_lock(&k->lock);
    if (statvfs(k->d->log_dir, &st) == 0) {
        update_locked(k, &st);
    }
    bool try_writer = k->no_writer && k->level < EVD_DISK_FULL;
    pthread_mutex_unlock(&k->lock);

    if (try_writer) {
        /* Space is back: the writer again (the committer is the only one that appends). */
        int r = reopen(k, log);
        pthread_mutex_lock(&k->lock);
        if (r == 0) {
            k->no_writer = false;
            pthread_mutex_unlock(&k->lock);
            return EVD_GATE_REOPENED;
        }
        /* Still no room for recovery: wait for more space than there is now. */
        k->no_writer = true;
        k->full_enospc = true;
        k->enospc_free = k->free_bytes;
        k->enospc_ns = evd_now_ns();
        k->level = EVD_DISK_FULL;
        bits = gate_bits_locked(k);
        pthread_mutex_unlock(&k->lock);
        return bits;
    }
    pthread_mutex_lock(&k->lock);
    bits = gate_bits_locked(k);
    pthread_mutex_unlock(&k->lock);
    return bits;
}

unsigned evd_disk_failed(struct evd_disk *k, struct ev_log **log, int rc)
{
    struct statvfs st;
    unsigned bits;

    pthread_mutex_lock(&k->lock);
    k->enospc_total++;
    k->full_enospc = true;
    k->enospc_ns = evd_now_ns();
    if (statvfs(k->d->log_dir, &st) == 0) {
        k->enospc_free = (uint64_t)st.f_bavail * st.f_frsize;
        update_locked(k, &st); /* enters full, once */
    } else {
        k->level = EVD_DISK_FULL;
    }
    pthread_mutex_unlock(&k->lock);
    fprintf(stderr, "evidentd: disk: an append failed (%s): reopening the log\n", ev_strerror(rc));

    int r = reopen(k, log);
    pthread_mutex_lock(&k->lock);
    k->no_writer = r != 0;
    bits = gate_bits_locked(k);
    if (r == 0) {
        bits |= EVD_GATE_REOPENED;
    }
    if (k->level != EVD_DISK_FULL) {
        /* statvfs failed or space came back at once: hold anyway until the next look. */
        bits |= k->action == EV_DISK_FULL_REJECT ? EVD_GATE_REFUSE : EVD_GATE_HOLD;
    }
    pthread_mutex_unlock(&k->lock);
    return bits;
}

/*
 * The log's own entries from `from` on (types no producer may use, entry.c):
 * those before the first event, and all of them. In index order.
 */
struct own_count {
    uint64_t from;
    uint64_t leading;
    uint64_t own;
};

static int count_own(void *ctx, const struct ev_entry *entry)
{
    struct own_count *c = ctx;
    struct evi_entry_view v;
    bool own = evi_entry_view((const uint8_t *)entry->bytes, entry->len, &v) == 0 &&
               (evi_entry_is_type(&v, "seal") || evi_entry_is_type(&v, "retention"));
    if (own && entry->index == c->from + c->leading) {
        c->leading++;
    }
    c->own += own;
    return 0;
}

uint64_t evd_disk_reopened_size(const struct evd_disk *k)
{
    return k->reopened_size;
}

int evd_disk_survivors(struct ev_log *log, uint64_t from, uint64_t to, uint64_t *ret_first,
                       size_t *ret_count)
{
    struct own_count c = {.from = from};
    uint64_t size = ev_log_size(log);

    to = to < size ? to : size;
    if (to <= from) {
        *ret_first = to;
        *ret_count = 0;
        return 0;
    }
    int r = ev_log_scan(log, from, to, NULL, count_own, &c);
    if (r < 0) {
        return r;
    }
    *ret_first = from + c.leading;
    *ret_count = (size_t)(to - from - c.own);
    return 0;
}

/*
 * The early retention pass (retention.c): ev_log_prune() with the configured
 * max_age and max_bytes now rather than at the next hourly pass, and, when
 * retention.min_age is set, the oldest segments older than that until the
 * free space is back above space_left (with its hysteresis margin). Nothing
 * younger than min_age, and nothing at all without retention, is removed.
 */
int evd_disk_relieve(struct evd *d, int level)
{
    struct statvfs st;
    struct thresholds t;

    if (statvfs(d->log_dir, &st) < 0) {
        return -errno;
    }
    read_thresholds(d, (uint64_t)st.f_blocks * st.f_frsize, &t);
    uint64_t want = t.space_left != 0 ? t.space_left + margin(t.space_left) : 0;
    int64_t r = evd_retention_run(d, evd_disk_level_name(level), want);
    return r < 0 ? (int)r : 0;
}

void evd_disk_check(struct evd *d)
{
    struct evd_disk *k = d->disk;
    struct statvfs st;

    if (k == NULL || statvfs(d->log_dir, &st) < 0) {
        return;
    }
    pthread_mutex_lock(&k->lock);
    update_locked(k, &st);
    int level = k->relieve_pending;
    k->relieve_pending = 0;
    pthread_mutex_unlock(&k->lock);
    if (level > 0) {
        int r = evd_disk_relieve(d, level);
        if (r < 0) {
            fprintf(stderr, "evidentd: disk: early retention pass: %s\n", ev_strerror(r));
        }
    }
}

void evd_disk_held(struct evd_disk *k, uint64_t events)
{
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&k->lock);
    k->held_events = events;
    pthread_mutex_unlock(&k->lock);
}

void evd_disk_describe(struct evd_disk *k, char *buf, size_t size)
{
    if (k == NULL) {
        (void)snprintf(buf, size, "disk full");
        return;
    }
    pthread_mutex_lock(&k->lock);
    describe_locked(k, buf, size);
    pthread_mutex_unlock(&k->lock);
}

int evd_disk_level(struct evd_disk *k)
{
    if (k == NULL) {
        return EVD_DISK_OK;
    }
    pthread_mutex_lock(&k->lock);
    int level = k->level;
    pthread_mutex_unlock(&k->lock);
    return level;
}

void evd_disk_stats(struct evd_disk *k, struct evd_disk_stats *ret_stats)
{
    memset(ret_stats, 0, sizeof(*ret_stats));
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&k->lock);
    ret_stats->level = k->level;
    ret_stats->free_bytes = k->free_bytes;
    ret_stats->need_bytes = k->need_bytes;
    ret_stats->full_total = k->full_total;
    ret_stats->enospc_total = k->enospc_total;
    ret_stats->space_left_total = k->space_left_total;
    ret_stats->admin_left_total = k->admin_left_total;
    ret_stats->reopen_total = k->reopen_total;
    ret_stats->held_events = k->held_events;
    pthread_mutex_unlock(&k->lock);
}
