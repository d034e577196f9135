/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct evd: one running evidentd, what every part of the daemon shares.
 *
 *   main.c      arguments, signals, privileges, systemd readiness
 *   daemon.c    open the log, start and stop the parts below, reload
 *   commit.c    the bounded queue and the committer thread (group commit, full disks)
 *   intake.c    JSON events and syslog messages into prepared events
 *   stream.c    the epoll loops: Unix socket and syslog TCP/UDP connections
 *   http.c      libmicrohttpd: connections, bodies, TLS, suspend/resume
 *   api.c       the HTTP API's routes, independent of libmicrohttpd (fuzzed)
 *   auth.c      bearer tokens (hashed) and Unix peer checks
 *   timers.c    seals, checkpoints, self-verification, disk checks
 *   retention.c retention passes (ev_log_prune), at start, hourly, and when the disk runs low
 *   disk.c      free-space levels and the full-disk actions (block, reject)
 *   backupd.c   the backup timer (retention.backup_dir), on its own thread
 *   metrics.c   counters and the Prometheus text
 *   alert.c     alert rules and webhook delivery
 */
#ifndef EVD_DAEMON_H
#define EVD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <evident/config.h>
#include <evident/log.h>
#include <evident/policy.h>
#include <evident/report.h>

struct evd_commit;
struct evd_metrics;
struct evd_alerts;
struct evd_auth;
struct evd_http;
struct evd_stream;
struct evd_timers;
struct evd_disk;
struct evd_backupd;

struct evd {
    struct ev_config *config; /* replaced on reload (under config_lock) */
    const char *config_path;  /* NULL: the defaults */
    /*
     * The writer handle: appends only through commit. disk.c replaces it
     * after a full disk (close, open again) under log_lock held for writing:
     * everyone else uses it under log_lock held for reading. NULL only while
     * even a read-only open fails.
     */
    struct ev_log *log;
    pthread_rwlock_t log_lock;
    /* What handles that disk.c closed had written (ev_log_io_stats()), under log_lock. */
    struct ev_log_io_stats io_closed;
    /* privacy.encryption.key_file, or NULL; a reload replaces them under log_lock (write). */
    struct ev_datakeys *data_keys;
    bool encrypt; /* appends are encrypted under data_keys (privacy.encryption.enabled) */
    struct ev_policy *policy; /* replaced on reload: read it through evd_policy_get() */
    struct evd_commit *commit;
    struct evd_metrics *metrics;
    struct evd_alerts *alerts;
    struct evd_auth *auth;
    struct evd_http *http;
    struct evd_stream *stream;
    struct evd_timers *timers;
    struct evd_disk *disk;       /* NULL in tests that do not need it */
    struct evd_backupd *backupd; /* NULL without retention.backup_dir */

    pthread_rwlock_t config_lock; /* config, policy and auth swap under it */
    char config_sha256[65];       /* of the running configuration's file; "" for the defaults */
    char host[256];               /* this host's name, in the daemon's own sources */
    char origin[256];
    char log_dir[4096]; /* config->log.dir at start (it needs a restart to change) */
    int64_t started_ns;
    bool started;                                          /* the startup event is in the log */
    atomic_bool ready;                                     /* log open and verified at start */
    atomic_bool stopping;                                  /* SIGTERM: no new work */
    atomic_int_least64_t last_seal_ns, last_checkpoint_ns; /* 0: none yet */
    atomic_uint_least64_t verification_failures;
    atomic_uint_least64_t checkpoint_size; /* tree size of the latest checkpoint (timers.c) */
    atomic_uint_least64_t log_bytes;       /* the log directory's size, every 10 s (timers.c) */
    struct evd_retired *retired;
    /*
     * GET /v1/summary without a window (api-read.c): extended by the entries
     * appended since the last request instead of rebuilt from the start;
     * dropped (evd_summary_forget()) when retention prunes or the log is
     * reopened after a full disk.
     */
    pthread_mutex_t summary_lock;
    struct ev_summary *summary; /* under summary_lock, with the generation it was built at */
    uint64_t summary_built;
    atomic_uint_least64_t summary_generation; /* evd_summary_forget() adds one */
    uint64_t summary_window_max;              /* 0: EVD_API_SUMMARY_WINDOW_MAX (tests set less) */
};

/* Keeps replaced configurations alive until the daemon stops (threads may still read them). */
struct evd_retired {
    struct ev_config *config;
    struct ev_datakeys *data_keys; /* replaced by a reload (a read may still use them) */
    struct ev_policy *policy;
    struct evd_auth *auth;
    struct evd_retired *next;
};

/*
 * Starts everything the configuration asks for: reads it (path NULL: the
 * defaults), opens the log (it must exist: `evident init`), verifies it,
 * binds the listeners, drops privileges when root and server.user is set,
 * starts serving and writes a startup event. On failure err says why and
 * nothing is left running.
 */
int evd_start(struct evd *d, const char *config_path, char *err, size_t err_size);

/*
 * Drops the kept summary of /v1/summary (api-read.c): the next request builds
 * it again. Never blocks (a summary may be under construction).
 */
void evd_summary_forget(struct evd *d);

/* SIGHUP: rereads the configuration; applies what can change while running. */
int evd_reload(struct evd *d);

/* SIGTERM: stops accepting, commits what is queued, seals, checkpoints, closes. */
int evd_stop(struct evd *d);

/* Monotonic and wall clocks in ns. */
int64_t evd_now_ns(void);
int64_t evd_wall_ns(void);

#endif
