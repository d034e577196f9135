/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's life (daemon.h): start in dependency order, reload, stop in
 * reverse, so that nothing acknowledged is lost on the way out.
 *
 * Start: configuration, policy and tokens; the log (writer lock, recovery);
 * metrics, alerts and the committer; a checkpoint and a verification of what
 * is on disk (only then is /healthz ready); listeners; privileges dropped;
 * serving; a startup event.
 *
 * Stop: listeners stop accepting; the stream loop and the HTTP server answer
 * what they already submitted; a shutdown event; the committer drains; the
 * log seals, checkpoints and closes; alerts deliver what is queued.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <evident/datakey.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/publish.h>

#include "events/events.h" /* src/lib: evi_policy_own_use() */

#include "alert.h"
#include "auth.h"
#include "backupd.h"
#include "commit.h"
#include "disk.h"
#include "http.h"
#include "metrics.h"
#include "stream.h"
#include "timers.h"

static int fail(char *err, size_t err_size, int r, const char *what, const char *why)
{
    (void)snprintf(err, err_size, "%s: %s", what, why);
    return r < 0 ? r : -EINVAL;
}

/* The source of the daemon's own events. */
static void own_source(const struct evd *d, char *out, size_t size)
{
    (void)snprintf(
        out, size,
        "{\"host\":\"%s\",\"pid\":%d,\"program\":\"evidentd\",\"transport\":\"evidentd\"}", d->host,
        (int)getpid());
}

/* Appends one event of the daemon's own and waits until it is durable. */
static int record_own(struct evd *d, const char *type, int severity, const char *data_json,
                      bool no_alerts)
{
    char source[512];
    struct ev_prepared p;
    struct ev_event ev = {
        .type = type, .severity = severity, .source_json = source, .data_json = data_json};
    int r;

    own_source(d, source, sizeof(source));
    pthread_rwlock_rdlock(&d->config_lock);
    r = ev_event_prepare(d->policy, &ev, &p);
    pthread_rwlock_unlock(&d->config_lock);
    if (r < 0) {
        return r;
    }
    if (!p.dropped) {
        r = evd_commit_wait(d->commit, &p, 1, no_alerts, NULL);
    }
    ev_prepared_release(&p);
    return r;
}

/* The alerting module's callback: an alert as a security_event. */
static int record_alert(void *ctx, int severity, const char *data_json)
{
    return record_own(ctx, "security_event", severity, data_json, true);
}

/* SHA-256 of the configuration file as hex ("" for the defaults). */
static void config_digest(const char *path, char out[65])
{
    unsigned char md[32], buf[65536];
    unsigned len = 0;
    FILE *f;

    out[0] = '\0';
    if (path == NULL || (f = fopen(path, "rb")) == NULL) {
        return;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
            (void)EVP_DigestUpdate(ctx, buf, n);
        }
        if (!ferror(f) && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32) {
            for (int i = 0; i < 32; i++) {
                (void)snprintf(out + 2 * i, 3, "%02x", md[i]);
            }
        }
    }
    EVP_MD_CTX_free(ctx);
    fclose(f);
}

static void system_event(struct evd *d, const char *action, const char *description,
                         const char *old_digest, const char *new_digest)
{
    char data[768];
    int n = snprintf(data, sizeof(data),
                     "{\"action\":\"%s\",\"component\":\"evidentd\",\"description\":\"%s\","
                     "\"version\":\"%s\"",
                     action, description, EVIDENT_VERSION);
    if (old_digest != NULL && old_digest[0] != '\0') {
        n += snprintf(data + n, sizeof(data) - (size_t)n, ",\"config_old_sha256\":\"%s\"",
                      old_digest);
    }
    if (new_digest != NULL && new_digest[0] != '\0') {
        n += snprintf(data + n, sizeof(data) - (size_t)n, ",\"config_new_sha256\":\"%s\"",
                      new_digest);
    }
    (void)snprintf(data + n, sizeof(data) - (size_t)n, "}");
    int r = record_own(d, "system_event", EV_SEV_INFO, data, false);
    if (r < 0) {
        fprintf(stderr, "evidentd: cannot record the %s event: %s\n", action, ev_last_error());
    }
}

/* The checkpoint signed at shutdown goes out too (the timers' publisher has stopped). */
static void publish_final(struct evd *d)
{
    char *note = NULL;
    size_t len = 0;
    struct ev_publish_report report;

    if (d->config->integrity.publish_count == 0 ||
        ev_log_latest_checkpoint(d->log, &note, &len) != 0) {
        return;
    }
    struct ev_publish_options po = {.timeout_ns = d->config->alerting.webhook_timeout_ns,
                                    .retries = (int)d->config->alerting.webhook_retries};
    if (ev_checkpoint_publish(note, len, (const char *const *)d->config->integrity.publish,
                              d->config->integrity.publish_count, &po, &report) < 0) {
        fprintf(stderr, "evidentd: publishing the last checkpoint: %s\n", report.detail);
    }
    free(note);
}

/* Started as root with server.user set: become that user for good. */
static int drop_privileges(const char *user, char *err, size_t err_size)
{
    struct passwd pw, *found = NULL;
    char buf[4096];

    if (user == NULL || geteuid() != 0) {
        return 0;
    }
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || found == NULL) {
        return fail(err, err_size, -ENOENT, user, "server.user: no such user");
    }
    if (initgroups(found->pw_name, found->pw_gid) < 0 || setgid(found->pw_gid) < 0 ||
        setuid(found->pw_uid) < 0) {
        return fail(err, err_size, -errno, user, strerror(errno));
    }
    if (found->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        return fail(err, err_size, -EPERM, user, "could regain root after dropping to it");
    }
    return 0;
}

static enum ev_sync log_sync_mode(enum ev_sync configured)
{
    /* Under always the committer syncs itself after each batch (commit.c). */
    return configured == EV_SYNC_ALWAYS ? EV_SYNC_NEVER : configured;
}

int evd_start(struct evd *d, const char *config_path, char *err, size_t err_size)
{
    struct ev_config *cfg = NULL;
    int r;

    d->started_ns = evd_wall_ns();
    pthread_rwlock_init(&d->config_lock, NULL);
    pthread_mutex_init(&d->summary_lock, NULL);
    /* Writer-preferring: a stream of reads must not keep disk.c from reopening the log. */
    pthread_rwlockattr_t log_lock_attr;
    pthread_rwlockattr_init(&log_lock_attr);
    pthread_rwlockattr_setkind_np(&log_lock_attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&d->log_lock, &log_lock_attr);
    pthread_rwlockattr_destroy(&log_lock_attr);
    if (gethostname(d->host, sizeof(d->host) - 1) < 0) {
        (void)snprintf(d->host, sizeof(d->host), "localhost");
    }
    for (char *p = d->host; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            *p = '_'; /* the host name goes into JSON sources */
        }
    }

    r = config_path != NULL ? ev_config_load(config_path, &cfg) : ev_config_defaults(&cfg);
    if (r < 0) {
        return fail(err, err_size, r, "configuration", ev_last_error());
    }
    d->config = cfg;
    d->config_path = config_path;
    (void)snprintf(d->log_dir, sizeof(d->log_dir), "%s", cfg->log.dir);
    config_digest(config_path, d->config_sha256);
    if ((r = ev_policy_new(cfg, &d->policy)) < 0) {
        return fail(err, err_size, r, "policy", ev_last_error());
    }
    evi_policy_own_use(d->policy); /* the committer appends what intake prepares: no check */
    if ((r = evd_auth_new(cfg, &d->auth)) < 0) {
        return fail(err, err_size, r, "server", ev_last_error());
    }

    struct ev_recovery recovery = {0};
    struct ev_open_options open_options = {
        .sync = log_sync_mode(cfg->log.sync),
        /* Under always each batch's fdatasync is on its acknowledgement's path (DAEMON.md). */
        .preallocate = cfg->log.sync == EV_SYNC_ALWAYS ? cfg->storage.preallocate_bytes : 0,
        .no_direct_io = !cfg->storage.direct_io,
        .sync_interval_ns = cfg->log.sync_interval_ns,
        .checkpoint_interval_ns = cfg->integrity.checkpoint_interval_ns,
        .segment_bytes = cfg->storage.segment_bytes,
        .segment_max_age_ns = cfg->storage.segment_max_age_ns,
        .compression = (int)cfg->storage.compression,
        .compression_level = cfg->storage.compression_level,
        .lock_timeout_ms = -1,
        .ret_recovery = &recovery,
    };
    /* Encryption at rest (FORMAT.md §5.1): the keys encrypt when enabled, else only read. */
    if (cfg->privacy.encryption_key_file != NULL) {
        r = ev_datakeys_load(cfg->privacy.encryption_key_file, &d->data_keys);
        if (r < 0) {
            return fail(err, err_size, r, "privacy.encryption.key_file", ev_last_error());
        }
        open_options.data_keys = d->data_keys;
        open_options.flags |= cfg->privacy.encrypt ? 0 : EV_OPEN_DECRYPT_ONLY;
        d->encrypt = cfg->privacy.encrypt;
    }
    /*
     * Listeners are bound, and the TLS files read, as the user that started the
     * daemon (root may bind a port below 1024); everything after runs as
     * server.user. So every file the log creates (a segment at a seal or
     * rotation, a replaced checkpoint) is that user's: one made by root would
     * refuse a later reopen for writing (after a full disk) until a restart.
     */
    if ((r = evd_stream_bind(d, &d->stream, err, err_size)) < 0) {
        return r;
    }
    if (cfg->server.http_listen_count > 0 || cfg->monitoring.metrics_listen != NULL) {
        if ((r = evd_http_bind(d, &d->http)) < 0) {
            return fail(err, err_size, r, "http", ev_last_error());
        }
    }
    if ((r = drop_privileges(cfg->server.user, err, err_size)) < 0) {
        return r;
    }

    r = ev_log_open(cfg->log.dir, &open_options, &d->log);
    if (r == -ENOENT) {
        char why[600];
        (void)snprintf(why, sizeof(why), "no log here; create one with `evident init %s`",
                       cfg->log.dir);
        return fail(err, err_size, r, cfg->log.dir, why);
    }
    if (r < 0) {
        return fail(err, err_size, r, cfg->log.dir, ev_last_error());
    }
    if (recovery.torn_bytes > 0) {
        fprintf(stderr, "evidentd: %s: recovery cut %llu torn bytes (never acknowledged)\n",
                cfg->log.dir, (unsigned long long)recovery.torn_bytes);
    }
    struct ev_log_info info;
    if (ev_log_info(d->log, &info) == 0) {
        (void)snprintf(d->origin, sizeof(d->origin), "%s", info.origin);
    }
    struct ev_log_io_stats io;
    bool wanted = open_options.preallocate > 0 ||
                  (!open_options.no_direct_io && open_options.compression == EV_COMPRESSION_NONE);
    if (ev_log_io_stats(d->log, &io) == 0 && io.fsync_gap && wanted) {
        fprintf(stderr,
                "evidentd: %s: ext4 without a journal (or one the kernel does not show), on a "
                "kernel not known to make overwrites of preallocated zeros and direct writes "
                "durable with fdatasync (Linux 7.0 and 6.18.30 on are): preallocation and "
                "direct writes are off; a journal lifts this\n",
                cfg->log.dir);
    }

    if ((r = evd_metrics_new(&d->metrics)) < 0) {
        return fail(err, err_size, r, "metrics", strerror(-r));
    }
    struct evd_alert_options alert_options = {
        .config = cfg,
        .metrics = d->metrics,
        .record = record_alert,
        .record_ctx = d,
        .origin = d->origin,
    };
    if ((r = evd_alerts_start(&alert_options, &d->alerts)) < 0) {
        return fail(err, err_size, r, "alerting", strerror(-r));
    }
    if ((r = evd_disk_new(d, &open_options, &d->disk)) < 0) {
        return fail(err, err_size, r, "disk", strerror(-r));
    }
    struct evd_commit_options commit_options = {
        .sync = cfg->log.sync,
        .batch_max = cfg->performance.batch_max,
        .queue_max = cfg->performance.queue_max,
        .stream_queue_max = cfg->performance.stream_queue_max,
        .group_wait_ns = cfg->performance.group_commit_wait_ns,
        .metrics = d->metrics,
        .alerts = d->alerts,
        .disk = d->disk,
    };
    if ((r = evd_commit_start(d->log, &commit_options, &d->commit)) < 0) {
        return fail(err, err_size, r, "committer", strerror(-r));
    }

    /* What is on disk verifies before anything new is accepted. */
    if ((r = evd_checkpoint_now(d)) < 0) {
        return fail(err, err_size, r, "checkpoint", ev_last_error());
    }
    struct ev_verify_report report;
    if (evd_self_verify(d, &report) < 0) {
        char why[400];
        (void)snprintf(why, sizeof(why), "does not verify (%s: %s); see `evident verify`",
                       ev_failure_name(report.failure), report.detail);
        return fail(err, err_size, -EBADMSG, cfg->log.dir, why);
    }

    if (d->http != NULL && (r = evd_http_run(d->http)) < 0) {
        return fail(err, err_size, r, "http", ev_last_error());
    }
    if ((r = evd_stream_run(d->stream)) < 0) {
        return fail(err, err_size, r, "stream", strerror(-r));
    }
    if ((r = evd_timers_start(d, &d->timers)) < 0) {
        return fail(err, err_size, r, "timers", strerror(-r));
    }
    if ((r = evd_backupd_start(d, &d->backupd)) < 0) {
        return fail(err, err_size, r, "backup timer", strerror(-r));
    }
    system_event(d, "startup", "evidentd started", NULL, d->config_sha256);
    d->started = true;
    atomic_store(&d->ready, true);
    return 0;
}

/* What a reload cannot change, said once per option. */
static void report_restart_needed(const struct ev_config *old, const struct ev_config *new)
{
#define SAME_STR(a, b)                                                                             \
    (((a) == NULL && (b) == NULL) || ((a) != NULL && (b) != NULL && strcmp(a, b) == 0))
    struct {
        const char *name;
        bool same;
    } checks[] = {
        {"log.dir", SAME_STR(old->log.dir, new->log.dir)},
        {"log.sync", old->log.sync == new->log.sync},
        {"server.unix_socket", SAME_STR(old->server.unix_socket, new->server.unix_socket)},
        {"server.syslog_tcp", SAME_STR(old->server.syslog_tcp, new->server.syslog_tcp)},
        {"server.syslog_udp", SAME_STR(old->server.syslog_udp, new->server.syslog_udp)},
        {"server.tls_cert_file", SAME_STR(old->server.tls_cert_file, new->server.tls_cert_file)},
        {"server.user", SAME_STR(old->server.user, new->server.user)},
        {"storage.segment_size", old->storage.segment_bytes == new->storage.segment_bytes},
        {"storage.preallocate", old->storage.preallocate_bytes == new->storage.preallocate_bytes},
        {"storage.direct_io", old->storage.direct_io == new->storage.direct_io},
        {"performance.queue_max", old->performance.queue_max == new->performance.queue_max},
        {"performance.stream_queue_max",
         old->performance.stream_queue_max == new->performance.stream_queue_max},
        {"performance.batch_max", old->performance.batch_max == new->performance.batch_max},
        {"performance.stream_threads",
         old->performance.stream_threads == new->performance.stream_threads},
    };
    bool listeners_same = old->server.http_listen_count == new->server.http_listen_count;
    for (size_t i = 0; listeners_same && i < old->server.http_listen_count; i++) {
        listeners_same = strcmp(old->server.http_listen[i], new->server.http_listen[i]) == 0;
    }
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        if (!checks[i].same) {
            fprintf(stderr, "evidentd: reload: %s changed; it takes effect after a restart\n",
                    checks[i].name);
        }
    }
    if (!listeners_same) {
        fprintf(stderr,
                "evidentd: reload: server.http_listen changed; it takes effect after a restart\n");
    }
#undef SAME_STR
}

/* Whether two key sets hold the same keys, in the same order (ids name the key bytes). */
static bool same_keys(const struct ev_datakeys *a, const struct ev_datakeys *b)
{
    size_t n = ev_datakeys_count(a);
    if (n != ev_datakeys_count(b)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct ev_datakey_info x, y;
        if (ev_datakeys_get(a, i, &x) < 0 || ev_datakeys_get(b, i, &y) < 0 ||
            strcmp(x.id, y.id) != 0 || x.alg != y.alg) {
            return false;
        }
    }
    return true;
}

/*
 * Hands the data keys read again by a reload to the log (the next batch
 * encrypts under the current key), and to disk.c's reopen through d (it reads
 * them under log_lock held for writing; this thread alone writes them). The
 * previous set is retired with the old configuration, since a read or batch
 * under way may still use it; an unchanged set is not swapped at all. The
 * kept /v1/summary is dropped when the keys change: it may hold what the new
 * keys no longer decrypt. Says what is in force.
 */
static void reload_data_keys(struct evd *d, struct ev_datakeys *keys, bool encrypt,
                             struct evd_retired *old)
{
    if (same_keys(keys, d->data_keys) && encrypt == d->encrypt) {
        ev_datakeys_free(keys);
        return;
    }
    pthread_rwlock_rdlock(&d->log_lock); /* against a reopen, without stalling the reads */
    old->data_keys = d->data_keys;
    d->data_keys = keys;
    d->encrypt = encrypt;
    int r = 0;
    if (d->log != NULL && (r = ev_log_set_data_keys(d->log, keys, encrypt)) == EV_EREADONLY) {
        /* Read-only after a full disk: it reads with them; the reopen as a writer encrypts. */
        r = ev_log_set_data_keys(d->log, keys, false);
    }
    pthread_rwlock_unlock(&d->log_lock);
    evd_summary_forget(d);
    if (r < 0) {
        fprintf(stderr, "evidentd: reload: data keys: %s\n", ev_last_error());
    }
    struct ev_datakey_info current;
    size_t n = keys != NULL ? ev_datakeys_count(keys) : 0;
    if (n > 0 && ev_datakeys_get(keys, n - 1, &current) == 0) {
        fprintf(stderr, "evidentd: reload: data keys from %s: %zu, current %s; %s\n",
                ev_datakeys_path(keys), n, current.id,
                encrypt ? "new entries are encrypted under it" : "new entries are plain");
    } else if (old->data_keys != NULL) {
        fprintf(stderr, "evidentd: reload: no data keys: new entries are plain, and the read API "
                        "no longer decrypts\n");
    }
}

/*
 * The data keys a reload brings (privacy.encryption): 0 and *ret_keys (NULL
 * without a key file), or 1: a key file that no longer loads at the path in
 * force (e.g. readable only by root, after the drop to server.user) keeps the
 * keys and encryption in force, with a warning, so that the rest of the reload
 * still applies. A new path that does not load refuses the reload (< 0).
 */
static int reload_keys_load(struct evd *d, const struct ev_config *cfg,
                            struct ev_datakeys **ret_keys)
{
    const char *path = cfg->privacy.encryption_key_file;
    const char *running = d->data_keys != NULL ? ev_datakeys_path(d->data_keys) : NULL;

    *ret_keys = NULL;
    if (path == NULL) {
        return 0;
    }
    int r = ev_datakeys_load(path, ret_keys);
    if (r < 0 && running != NULL && strcmp(running, path) == 0) {
        fprintf(stderr,
                "evidentd: reload: data keys: %s; the keys loaded before stay in force "
                "(the key file must be readable by the daemon's user)\n",
                ev_last_error());
        return 1;
    }
    return r;
}

int evd_reload(struct evd *d)
{
    struct ev_config *cfg = NULL;
    struct ev_policy *policy = NULL;
    struct evd_auth *auth = NULL;
    struct ev_datakeys *keys = NULL;
    struct evd_retired *old = calloc(1, sizeof(*old));
    char old_digest[65], new_digest[65];
    int r;

    if (old == NULL) {
        return -ENOMEM;
    }
    /* The file has changed already: the old digest is the one taken when it was loaded. */
    memcpy(old_digest, d->config_sha256, sizeof(old_digest));
    r = d->config_path != NULL ? ev_config_load(d->config_path, &cfg) : ev_config_defaults(&cfg);
    if (r == 0 && (r = ev_policy_new(cfg, &policy)) == 0) {
        evi_policy_own_use(policy);
        r = evd_auth_new(cfg, &auth);
    }
    bool keep_keys = false;
    if (r == 0) {
        /* Read again: a rotation (`evident datakey new`) appends the new current key. */
        r = reload_keys_load(d, cfg, &keys);
        keep_keys = r == 1;
        r = r == 1 ? 0 : r;
    }
    if (r < 0) {
        fprintf(stderr, "evidentd: reload refused, the running configuration stays: %s\n",
                ev_last_error());
        evd_auth_free(auth);
        ev_policy_free(policy);
        ev_config_free(cfg);
        free(old);
        return r;
    }
    config_digest(d->config_path, new_digest);
    memcpy(d->config_sha256, new_digest, sizeof(new_digest));
    report_restart_needed(d->config, cfg);

    pthread_rwlock_wrlock(&d->config_lock);
    old->config = d->config;
    old->policy = d->policy;
    old->auth = d->auth;
    old->next = d->retired;
    d->retired = old;
    d->config = cfg;
    d->policy = policy;
    d->auth = auth;
    pthread_rwlock_unlock(&d->config_lock);
    if (d->alerts != NULL) {
        (void)evd_alerts_reload(d->alerts, cfg);
    }
    if (!keep_keys) {
        reload_data_keys(d, keys, keys != NULL && cfg->privacy.encrypt, old);
    }
    fprintf(stderr,
            "evidentd: reloaded %s: policies, sanitization, tokens, Unix peers, alert rules, "
            "intervals and data keys now apply\n",
            d->config_path != NULL ? d->config_path : "the defaults");
    system_event(d, "config_change", "configuration reloaded (SIGHUP)", old_digest, new_digest);
    return 0;
}

int evd_stop(struct evd *d)
{
    int r = 0;

    atomic_store(&d->stopping, true);
    atomic_store(&d->ready, false);
    evd_http_stop(d->http); /* answers what it submitted */
    d->http = NULL;
    evd_stream_stop(d->stream); /* the same */
    d->stream = NULL;
    evd_timers_stop(d->timers);
    d->timers = NULL;
    evd_backupd_stop(d->backupd); /* lets a backup under way finish */
    d->backupd = NULL;
    if (d->commit != NULL) {
        if (d->started) { /* a start that failed recorded no startup: no shutdown either */
            system_event(d, "shutdown", "evidentd stopping (SIGTERM)", NULL, NULL);
        }
        /* Alerts raised from here on still go to webhooks, but are not written. */
        if (d->alerts != NULL) {
            evd_alerts_close_record(d->alerts);
        }
        evd_commit_stop(d->commit);
        d->commit = NULL;
    }
    if (d->log != NULL) {
        r = ev_log_seal(d->log);
        publish_final(d);
        int c = ev_log_close(d->log);
        r = r < 0 ? r : c;
        d->log = NULL;
        if (r < 0) {
            fprintf(stderr, "evidentd: closing the log: %s\n", ev_last_error());
        }
    }
    ev_datakeys_free(d->data_keys);
    d->data_keys = NULL;
    evd_alerts_stop(d->alerts);
    d->alerts = NULL;
    evd_disk_free(d->disk);
    d->disk = NULL;
    evd_metrics_free(d->metrics);
    d->metrics = NULL;
    while (d->retired != NULL) {
        struct evd_retired *o = d->retired;
        d->retired = o->next;
        ev_config_free(o->config);
        ev_datakeys_free(o->data_keys);
        ev_policy_free(o->policy);
        evd_auth_free(o->auth);
        free(o);
    }
    ev_policy_free(d->policy);
    evd_auth_free(d->auth);
    ev_config_free(d->config);
    d->policy = NULL;
    d->auth = NULL;
    d->config = NULL;
    ev_summary_free(d->summary);
    d->summary = NULL;
    pthread_mutex_destroy(&d->summary_lock);
    pthread_rwlock_destroy(&d->config_lock);
    pthread_rwlock_destroy(&d->log_lock);
    return r;
}
