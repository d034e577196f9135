/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct ev_config: evident's configuration file (YAML; docs/CONFIG.md,
 * config/evident.yaml).
 *
 * One table in src/lib/config/ describes every option: its section and key,
 * type, bounds, default, which component uses it and a line of documentation.
 * Parsing, validation, defaults, `evident config show`, docs/CONFIG.md and
 * config/evident.yaml all come from it, so they cannot drift apart.
 *
 * The file is hostile input: at most EV_CONFIG_MAX_BYTES, no anchors, aliases
 * or tags, nesting bounded; unknown keys, duplicate keys, wrong types and
 * out-of-range values are errors naming the file, line, column and key
 * ("evident.yaml:12:3: storage.segment_size: expected a size such as 64MiB").
 * An empty file (or one holding only comments) is every default. A file with
 * an error gives nothing: no configuration is half read.
 *
 * The struct below holds values, not syntax: durations in ns, sizes in bytes,
 * the YAML key of each field is in docs/CONFIG.md (storage.segment_size is
 * storage.segment_bytes here). Strings are owned by the struct and freed by
 * ev_config_free(); NULL means an optional value left unset. A configuration
 * is not changed by any function taking it const, so threads may share one.
 */
#ifndef EVIDENT_CONFIG_H
#define EVIDENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/event.h>
#include <evident/log.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define EV_CONFIG_MAX_BYTES (1u << 20)
#define EV_CONFIG_MAX_PATTERNS 64
#define EV_CONFIG_MAX_RULES 64
#define EV_CONFIG_MAX_TOKENS 64
#define EV_CONFIG_MAX_PEERS 64
#define EV_CONFIG_MAX_LISTENERS 16
#define EV_CONFIG_MAX_PUBLISH 16  /* integrity.publish destinations */
#define EV_CONFIG_MAX_DEPTH 16    /* nesting of mappings and lists */
#define EV_CONFIG_MAX_NODES 10000 /* keys, values and list items */
#define EV_CONFIG_MAX_STRING 4096 /* bytes in one value */
#define EV_CONFIG_MAX_NAME 32     /* pattern and rule names */

/* storage.compression of closed segments. */
enum ev_compression {
    EV_COMPRESSION_NONE = 0,
    EV_COMPRESSION_ZSTD = 1,
};

/* Per event type (index enum ev_event_type; EV_TYPE_CUSTOM covers every custom.* type). */
struct ev_type_policy {
    bool enabled;     /* default true */
    int min_severity; /* enum ev_severity: least severe kept; default EV_SEV_DEBUG (all) */
    int level;        /* enum ev_level, or -1 = levels.default */
};

struct ev_sanitize_pattern {
    char *name;  /* shown in the marker [REDACTED:name]; [a-z0-9_-], <= 32 */
    char *regex; /* PCRE2 syntax, UTF mode */
};

/* What an alert rule watches. */
enum ev_alert_condition {
    EV_ALERT_EVENTS = 0,           /* events of type at or above min_severity (default) */
    EV_ALERT_VERIFICATION_FAILURE, /* the daemon's self-verification failed */
    EV_ALERT_DISK_LOW,             /* free space fell under disk.space_left ("space_left") */
    EV_ALERT_LOGGING_FAILURE,      /* an append or sync failed: events are being refused */
    EV_ALERT_ADMIN_SPACE_LEFT,     /* free space fell under disk.admin_space_left */
    EV_ALERT_DISK_FULL,            /* free space under disk.reserve, or the disk said ENOSPC */
};

/*
 * An amount of free space: bytes, or a share of the file system's size in
 * hundredths of a percent ("10%" is percent_x100 1000). Both 0: off.
 */
struct ev_space {
    uint64_t bytes;        /* used when percent_x100 is 0 */
    uint32_t percent_x100; /* 1..5000 (0.01% to 50%), or 0 */
};

/* The bytes space stands for on a file system of fs_bytes (0 when off). */
uint64_t ev_space_bytes(const struct ev_space *space, uint64_t fs_bytes);

struct ev_alert_rule {
    char *name;
    enum ev_alert_condition condition; /* "on:" in the file */
    char *type;                        /* an event type, or "*" */
    int min_severity;                  /* enum ev_severity */
    uint64_t threshold;                /* events within window that raise the alert, >= 1 */
    uint64_t window_ns;
    char *webhook; /* http:// or https:// URL, or NULL */
};

/* What the daemon does while the disk is full (disk.disk_full_action). */
enum ev_disk_full_action {
    EV_DISK_FULL_BLOCK = 0, /* hold writers until space returns: nothing is lost */
    EV_DISK_FULL_REJECT,    /* refuse writes with an error until space returns */
};

struct ev_config {
    char *path; /* the file read, or NULL for the defaults */

    /* log: the log directory and durability */
    struct {
        char *dir;    /* default "evident-log" */
        char *origin; /* for `evident init`; NULL = the host name + "/evident" */
        enum ev_sync sync;
        uint64_t sync_interval_ns;
    } log;

    /* integrity */
    struct {
        uint64_t seal_interval_ns;        /* default 15m */
        uint64_t checkpoint_interval_ns;  /* default 1m */
        uint64_t self_verify_interval_ns; /* 0 = off; default 1h (daemon) */
        /*
         * Where every new signed checkpoint is copied off the host (publish.h):
         * absolute directory paths (a file per tree size) and http(s):// URLs
         * (POSTed as text/plain). None by default.
         */
        char *publish[EV_CONFIG_MAX_PUBLISH];
        size_t publish_count;
    } integrity;

    /* storage */
    struct {
        uint64_t segment_bytes;          /* default 64MiB */
        uint64_t preallocate_bytes;      /* default 8MiB, 0 = off (daemon, sync: always) */
        bool direct_io;                  /* default true (ev_open_options.no_direct_io) */
        uint64_t segment_max_age_ns;     /* 0 = no limit (lifecycle) */
        enum ev_compression compression; /* (lifecycle) */
        int compression_level;           /* 1..19 */
    } storage;

    /* retention (lifecycle) */
    struct {
        uint64_t max_age_ns; /* 0 = keep forever */
        uint64_t max_bytes;  /* 0 = no limit */
        uint64_t min_age_ns; /* early pruning when the disk runs low keeps this much; 0 = off */
        char *backup_dir;    /* NULL = no backups */
        uint64_t backup_interval_ns;
        uint64_t backup_keep;
    } retention;

    /* disk: free-space thresholds of the log's file system; daemon, issue 5 */
    struct {
        struct ev_space space_left;       /* an alert and an early retention pass */
        struct ev_space admin_space_left; /* the same, more severe */
        struct ev_space reserve;          /* below it the disk counts as full */
        int disk_full_action;             /* enum ev_disk_full_action */
    } disk;

    /* levels */
    struct {
        enum ev_level default_level; /* default basic */
    } levels;

    struct ev_type_policy policies[EV_TYPE_COUNT]; /* policies.<type> */

    /* privacy */
    struct {
        bool sanitize;         /* default true */
        bool sanitize_builtin; /* default true */
        struct ev_sanitize_pattern patterns[EV_CONFIG_MAX_PATTERNS];
        size_t pattern_count;
        bool encrypt; /* encryption at rest (lifecycle) */
        char *encryption_key_file;
    } privacy;

    /* alerting (daemon) */
    struct {
        struct ev_alert_rule rules[EV_CONFIG_MAX_RULES];
        size_t rule_count;
        uint64_t webhook_timeout_ns;
        uint64_t webhook_retries; /* attempts after the first, with backoff */
    } alerting;

    /* performance */
    struct {
        uint64_t batch_max;            /* events per group commit, default 4096 */
        uint64_t queue_max;            /* events queued before producers are pushed back */
        uint64_t stream_queue_max;     /* of them, from connections that can wait (streams) */
        uint64_t group_commit_wait_ns; /* longest a commit waits for others to join */
        uint64_t stream_threads;       /* evidentd's stream loops; 0: one per CPU, at most 4 */
    } performance;

    /* server (daemon) */
    struct {
        char *unix_socket;                          /* NULL = off */
        unsigned unix_socket_mode;                  /* e.g. 0660 */
        char *http_listen[EV_CONFIG_MAX_LISTENERS]; /* "127.0.0.1:8080" */
        size_t http_listen_count;
        char *syslog_udp; /* "127.0.0.1:5514" or NULL */
        char *syslog_tcp;
        char *syslog_unix; /* a datagram socket path, like /dev/log, or NULL */
        char *tls_cert_file;
        char *tls_key_file;
        /* Bearer tokens as "sha256:" + 64 hex digits of the token (`evident token`). */
        char *writer_tokens[EV_CONFIG_MAX_TOKENS]; /* may append (and read) */
        size_t writer_token_count;
        char *reader_tokens[EV_CONFIG_MAX_TOKENS]; /* may read entries and summaries */
        size_t reader_token_count;
        /* Unix socket peers allowed (SO_PEERCRED), names or numbers; none listed = any. */
        char *unix_allow_users[EV_CONFIG_MAX_PEERS];
        size_t unix_allow_user_count;
        char *unix_allow_groups[EV_CONFIG_MAX_PEERS];
        size_t unix_allow_group_count;
        char *user; /* started as root: drop to this user after binding */
        uint64_t max_request_bytes;
        uint64_t max_connections;    /* open connections across all listeners */
        uint64_t request_timeout_ns; /* idle or stalled connections are closed after this */
    } server;

    /* monitoring (daemon) */
    struct {
        bool metrics;         /* Prometheus /metrics, default true */
        bool health;          /* /healthz, default true */
        char *metrics_listen; /* NULL = the server's HTTP listeners */
    } monitoring;
};

/* Every default (what an empty file gives), path NULL. 0 or -ENOMEM. Free with ev_config_free(). */
int ev_config_defaults(struct ev_config **ret_config);

/*
 * Reads and checks a YAML file; config->path is path. Returns 0, or:
 *   EV_EFORMAT  the file is not a valid configuration; ev_last_error() is
 *               "FILE:LINE:COLUMN: KEY: what is wrong" (or "FILE:LINE:COLUMN:
 *               what" for YAML syntax, "FILE: byte N: what" for bad UTF-8)
 *   EV_ETOOBIG  the file is larger than EV_CONFIG_MAX_BYTES
 *   -errno      it cannot be read (-ENOENT, -EACCES, -EISDIR, -ENOMEM, ...)
 * *ret_config is written only on success.
 */
int ev_config_load(const char *path, struct ev_config **ret_config);

/*
 * The same, from len bytes of memory (no NUL needed); name is what messages
 * and config->path call the file. -EINVAL if name is NULL.
 */
int ev_config_parse(const char *name, const char *text, size_t len, struct ev_config **ret_config);

/* Frees the configuration and every string it holds. Accepts NULL. */
void ev_config_free(struct ev_config *config);

/*
 * The effective configuration as YAML (every option, defaults included), as
 * `evident config show` prints it. It parses back to the same values.
 * Caller frees *ret_text.
 */
int ev_config_dump(const struct ev_config *config, char **ret_text);

/* docs/CONFIG.md's option reference (Markdown), from the table. Caller frees. */
int ev_config_doc_markdown(char **ret_text);

/* config/evident.yaml: every option commented with its default and use. Caller frees. */
int ev_config_example_yaml(char **ret_text);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
