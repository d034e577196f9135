/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's metrics, rendered as Prometheus text (version 0.0.4) at
 * /metrics. Every function is thread-safe and cheap (atomics or one short
 * mutex): producers, the committer and the HTTP threads all call them.
 *
 * Label values are bounded so the series count is too: sources are the
 * transports ("unix", "http", "syslog_tcp", "syslog_udp", "syslog_unix", "evidentd"), types
 * the built-in names with every custom.* counted as "custom", reasons a fixed
 * list (enum evd_reject). Every source x type and source x reason series is
 * rendered from the start, at 0, so rate() sees the first increment.
 *
 * Counters are relaxed atomics: a render taken while threads count sees each
 * counter at some recent value, and a histogram's _count is the sum of the
 * buckets it printed, so +Inf and _count always agree.
 */
#ifndef EVD_METRICS_H
#define EVD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

#include "backupd.h"
#include "disk.h"

enum evd_source {
    EVD_SRC_UNIX = 0,
    EVD_SRC_HTTP,
    EVD_SRC_SYSLOG_TCP,
    EVD_SRC_SYSLOG_UDP,
    EVD_SRC_SYSLOG_UNIX, /* a Unix datagram socket like /dev/log */
    EVD_SRC_DAEMON,      /* evidentd's own events: alerts, startup, shutdown */
    EVD_SRC_COUNT,
};

enum evd_reject {
    EVD_REJ_MALFORMED = 0, /* not JSON, not syslog, schema errors */
    EVD_REJ_TOO_BIG,       /* over max_request_bytes or an entry */
    EVD_REJ_UNAUTHORIZED,  /* no or unknown token, peer not allowed */
    EVD_REJ_FORBIDDEN,     /* a reader token used to write */
    EVD_REJ_OVERLOAD,      /* queue full: 503, or a UDP datagram dropped */
    EVD_REJ_POLICY,        /* dropped by the policy (not an error for the producer) */
    EVD_REJ_STORAGE,       /* the log could not append (disk full, I/O error) */
    EVD_REJ_COUNT,
};

const char *evd_source_name(enum evd_source s);
const char *evd_reject_name(enum evd_reject r);

struct evd_metrics;

int evd_metrics_new(struct evd_metrics **ret_metrics); /* 0 or -ENOMEM */
void evd_metrics_free(struct evd_metrics *m);

/*
 * Events accepted (durable) from a source, by type name: the built-in names
 * as ev_event_type_name() gives them, every custom.* as "custom", and a name
 * ev_event_type_parse() refuses (or NULL) as "other".
 */
void evd_metrics_events(struct evd_metrics *m, enum evd_source s, const char *type, uint64_t n);
void evd_metrics_reject(struct evd_metrics *m, enum evd_source s, enum evd_reject r, uint64_t n);

/*
 * One committed batch: its size in events, the append and the fdatasync time.
 * sync_ns 0 means the batch was not synced (sync: batch or none) and is not
 * observed in the fdatasync histogram.
 */
void evd_metrics_commit(struct evd_metrics *m, size_t events, uint64_t append_ns, uint64_t sync_ns);
/* Time from a submission to its acknowledgement. */
void evd_metrics_ack(struct evd_metrics *m, uint64_t ns);

void evd_metrics_verification(struct evd_metrics *m, bool ok); /* a self-verification ran */
/* A retention pass ran: ok, and what it pruned (entries, disk bytes freed). */
void evd_metrics_retention(struct evd_metrics *m, bool ok, uint64_t entries, uint64_t bytes);
void evd_metrics_alert(struct evd_metrics *m, bool delivered); /* a webhook delivery ended */
void evd_metrics_alert_raised(struct evd_metrics *m);          /* a rule fired */
void evd_metrics_alert_dropped(struct evd_metrics *m);         /* a full alert queue refused one */
void evd_metrics_connections(struct evd_metrics *m, int delta);

/*
 * Values read when /metrics is served. A negative seconds_since_* (no seal or
 * checkpoint yet) leaves that gauge's sample out: the family keeps its HELP
 * and TYPE lines and has no sample, which PromQL sees as absent().
 */
#define EVD_METRICS_MAX_LOOPS 64 /* performance.stream_threads' maximum */

struct evd_gauges {
    uint64_t queue_depth, queue_max;
    uint64_t tree_size, checkpoint_size;
    double seconds_since_seal, seconds_since_checkpoint; /* < 0: none yet */
    uint64_t disk_free_bytes, disk_bytes;
    struct ev_log_io_stats io; /* how the records reach the disk (ev_log_io_stats()) */
    bool healthy;
    double uptime_seconds;
    struct evd_disk_stats disk;
    struct evd_backupd_stats backup;
    bool backup_enabled; /* retention.backup_dir is set: the backup families have samples */
    /* Connections each stream loop serves (stream.h), loops 0 .. stream_loops - 1. */
    size_t stream_loops;
    uint64_t stream_loop_connections[EVD_METRICS_MAX_LOOPS];
};

/*
 * The whole exposition (text/plain; version=0.0.4), NUL-terminated; caller
 * frees *ret_text; *ret_len is its length without the NUL. g may be NULL
 * (the gauges then read 0 and the seconds_since_* are left out). 0 or -ENOMEM.
 */
int evd_metrics_render(struct evd_metrics *m, const struct evd_gauges *g, char **ret_text,
                       size_t *ret_len);

#endif
