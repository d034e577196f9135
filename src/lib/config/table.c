/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option table: every option of the configuration file, once. Parsing,
 * validation, defaults, `evident config show`, docs/CONFIG.md and
 * config/evident.yaml are all written from these rows (config-internal.h says
 * what each column means). To add an option: add its field to struct
 * ev_config, a row here, then regenerate the docs (`evident config doc`,
 * `evident config example`); test-config checks the committed files.
 */
#include <stddef.h>
#include <string.h>

#include "config-internal.h"

#define SEC 1000000000ull
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define TIB (1ull << 40)

#define AT(field) offsetof(struct ev_config, field)

#define LIBRARY "library"
#define CLI "cli"
#define DAEMON "daemon (issue 4)"
#define LIFECYCLE "lifecycle (issue 5)"

/* The enums stored through int pointers must be int-sized. */
_Static_assert(sizeof(enum ev_sync) == sizeof(int), "enum ev_sync is not int-sized");
_Static_assert(sizeof(enum ev_level) == sizeof(int), "enum ev_level is not int-sized");
_Static_assert(sizeof(enum ev_compression) == sizeof(int), "enum ev_compression is not int-sized");
_Static_assert(sizeof(enum ev_alert_condition) == sizeof(int),
               "enum ev_alert_condition is not int-sized");
_Static_assert(sizeof(((struct ev_config *)0)->disk.disk_full_action) == sizeof(int),
               "disk_full_action is not int-sized");

const char *const evi_config_type_names[EV_TYPE_COUNT] = {
    [EV_TYPE_CODE_EXECUTION] = "code_execution",
    [EV_TYPE_SECURITY_ASSESSMENT] = "security_assessment",
    [EV_TYPE_CONTAINER_CREATION] = "container_creation",
    [EV_TYPE_RESOURCE_VIOLATION] = "resource_violation",
    [EV_TYPE_SECURITY_EVENT] = "security_event",
    [EV_TYPE_SYSTEM_EVENT] = "system_event",
    [EV_TYPE_SYSLOG] = "syslog",
    [EV_TYPE_CUSTOM] = "custom",
};

/* The same names as ev_sync_parse() and ev_level_parse(); test-config checks they agree. */
static const struct evi_config_choice sync_choices[] = {
    {"always", EV_SYNC_ALWAYS},
    {"interval", EV_SYNC_INTERVAL},
    {"never", EV_SYNC_NEVER},
    {NULL, 0},
};

const struct evi_config_choice evi_config_level_choices[] = {
    {"minimal", EV_LEVEL_MINIMAL},
    {"basic", EV_LEVEL_BASIC},
    {"comprehensive", EV_LEVEL_COMPREHENSIVE},
    {NULL, 0},
};

/* A policy's level may also defer to levels.default (-1). */
static const struct evi_config_choice policy_level_choices[] = {
    {"default", -1},
    {"minimal", EV_LEVEL_MINIMAL},
    {"basic", EV_LEVEL_BASIC},
    {"comprehensive", EV_LEVEL_COMPREHENSIVE},
    {NULL, 0},
};

static const struct evi_config_choice compression_choices[] = {
    {"none", EV_COMPRESSION_NONE},
    {"zstd", EV_COMPRESSION_ZSTD},
    {NULL, 0},
};

/* ---- policies.<type> --------------------------------------------------------- */

static const struct evi_config_option policy_fields[] = {
    {.path = "enabled",
     .kind = EVI_CFG_BOOL,
     .offset = offsetof(struct ev_type_policy, enabled),
     .default_text = "true",
     .used_by = LIBRARY,
     .doc = "Record events of this type; false drops them before anything is written."},
    {.path = "min_severity",
     .kind = EVI_CFG_SEVERITY,
     .offset = offsetof(struct ev_type_policy, min_severity),
     .default_text = "debug",
     .used_by = LIBRARY,
     .doc = "The least severe severity kept: less severe events are dropped (debug keeps all)."},
    {.path = "level",
     .kind = EVI_CFG_ENUM,
     .offset = offsetof(struct ev_type_policy, level),
     .default_text = "default",
     .choices = policy_level_choices,
     .used_by = LIBRARY,
     .doc = "The detail level of this type's events; default: levels.default."},
};

const struct evi_config_record evi_config_policy_record = {
    .what = "policy",
    .size = sizeof(struct ev_type_policy),
    .fields = policy_fields,
    .field_count = sizeof(policy_fields) / sizeof(policy_fields[0]),
};

/* ---- privacy.patterns[] ------------------------------------------------------ */

static const struct evi_config_option pattern_fields[] = {
    {.path = "name",
     .kind = EVI_CFG_NAME,
     .offset = offsetof(struct ev_sanitize_pattern, name),
     .used_by = LIBRARY,
     .doc = "Required. Shown in the marker that replaces a match: [REDACTED:name]."},
    {.path = "regex",
     .kind = EVI_CFG_REGEX,
     .offset = offsetof(struct ev_sanitize_pattern, regex),
     .used_by = LIBRARY,
     .doc = "Required. A PCRE2 pattern (UTF mode); every match in a string value is replaced."},
};

static const struct evi_config_record pattern_record = {
    .what = "pattern",
    .size = sizeof(struct ev_sanitize_pattern),
    .fields = pattern_fields,
    .field_count = sizeof(pattern_fields) / sizeof(pattern_fields[0]),
};

/* ---- alerting.rules[] -------------------------------------------------------- */

/* disk_low is space_left's first name; both parse, `config show` writes disk_low. */
static const struct evi_config_choice condition_choices[] = {
    {"events", EV_ALERT_EVENTS},
    {"verification_failure", EV_ALERT_VERIFICATION_FAILURE},
    {"disk_low", EV_ALERT_DISK_LOW},
    {"space_left", EV_ALERT_DISK_LOW},
    {"admin_space_left", EV_ALERT_ADMIN_SPACE_LEFT},
    {"disk_full", EV_ALERT_DISK_FULL},
    {"logging_failure", EV_ALERT_LOGGING_FAILURE},
    {NULL, 0},
};

static const struct evi_config_choice disk_full_choices[] = {
    {"block", EV_DISK_FULL_BLOCK},
    {"reject", EV_DISK_FULL_REJECT},
    {NULL, 0},
};

static const struct evi_config_option rule_fields[] = {
    {.path = "name",
     .kind = EVI_CFG_NAME,
     .offset = offsetof(struct ev_alert_rule, name),
     .used_by = DAEMON,
     .doc = "Required. Names the rule in the alerts it raises."},
    {.path = "on",
     .kind = EVI_CFG_ENUM,
     .offset = offsetof(struct ev_alert_rule, condition),
     .default_text = "events",
     .choices = condition_choices,
     .used_by = DAEMON,
     .doc = "What the rule watches: events (matching type and min_severity), "
            "verification_failure, disk_low (free space under disk.space_left; also spelt "
            "space_left), admin_space_left, disk_full or logging_failure."},
    {.path = "type",
     .kind = EVI_CFG_EVENT_TYPE,
     .offset = offsetof(struct ev_alert_rule, type),
     .default_text = "*",
     .used_by = DAEMON,
     .doc = "The event type counted: a built-in type, custom.NAME, \"custom.*\" for every "
            "custom type, or \"*\" for every type (quote it: a bare * is YAML syntax)."},
    {.path = "min_severity",
     .kind = EVI_CFG_SEVERITY,
     .offset = offsetof(struct ev_alert_rule, min_severity),
     .default_text = "warning",
     .used_by = DAEMON,
     .doc = "Only events this severe or more are counted."},
    {.path = "threshold",
     .kind = EVI_CFG_COUNT,
     .offset = offsetof(struct ev_alert_rule, threshold),
     .default_text = "1",
     .min = 1,
     .max = 1000000,
     .used_by = DAEMON,
     .doc = "The alert is raised when this many events are counted within window."},
    {.path = "window",
     .kind = EVI_CFG_DURATION,
     .offset = offsetof(struct ev_alert_rule, window_ns),
     .default_text = "5m",
     .min = SEC,
     .max = 7 * DAY,
     .used_by = DAEMON,
     .doc = "The sliding window the threshold applies to."},
    {.path = "webhook",
     .kind = EVI_CFG_URL,
     .offset = offsetof(struct ev_alert_rule, webhook),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "An http:// or https:// URL the alert is POSTed to as JSON; null: the alert is "
            "only recorded in the log."},
};

static const struct evi_config_record rule_record = {
    .what = "rule",
    .size = sizeof(struct ev_alert_rule),
    .fields = rule_fields,
    .field_count = sizeof(rule_fields) / sizeof(rule_fields[0]),
};

/* ---- sections ---------------------------------------------------------------- */

const struct evi_config_section evi_config_sections[] = {
    {"log", "Where the log lives and how appends reach the disk."},
    {"integrity", "Seals, checkpoints and self-verification."},
    {"storage", "Segment files."},
    {"retention", "Expiry and backups of closed segments."},
    {"disk", "Free space on the log's file system: alerts, early expiry, and what the daemon "
             "does when the disk is full (docs/LIFECYCLE.md, \"Full disks\")."},
    {"levels", "How much of each typed event is kept."},
    {"policies", "Per event type: recorded or not, least severity kept, detail level. Keys: "
                 "code_execution, security_assessment, container_creation, resource_violation, "
                 "security_event, system_event, syslog, and custom (every custom.* type)."},
    {"privacy", "Secret sanitization of event data, and encryption at rest."},
    {"privacy.encryption",
     "Encryption at rest of each entry's source and data (docs/FORMAT.md §5.1); type, "
     "severity and ts stay readable, and verification needs no data key."},
    {"alerting", "Alerts raised by the daemon when events cross a threshold."},
    {"performance", "Batching and queueing."},
    {"server", "The daemon's listeners and their access control."},
    {"monitoring", "The daemon's metrics and health endpoints."},
};

const size_t evi_config_section_count =
    sizeof(evi_config_sections) / sizeof(evi_config_sections[0]);

/* ---- every option ------------------------------------------------------------ */

const struct evi_config_option evi_config_options[] = {
    /* log */
    {.path = "log.dir",
     .kind = EVI_CFG_STRING,
     .offset = AT(log.dir),
     .default_text = "evident-log",
     .used_by = CLI,
     .doc = "The log directory; -d DIR and $EVIDENT_DIR override it."},
    {.path = "log.origin",
     .kind = EVI_CFG_STRING,
     .offset = AT(log.origin),
     .default_text = "null",
     .nullable = true,
     .used_by = CLI,
     .doc = "The log's name in its checkpoints and key, given when `evident init` creates the "
            "log; null: the host name followed by /evident."},
    {.path = "log.sync",
     .kind = EVI_CFG_ENUM,
     .offset = AT(log.sync),
     .default_text = "always",
     .choices = sync_choices,
     .used_by = LIBRARY,
     .doc = "When appends reach the disk: always (fdatasync before an append returns), "
            "interval (at most sync_interval later, by a writer thread), never (at seals, "
            "checkpoints, segment rotations and close)."},
    {.path = "log.sync_interval",
     .kind = EVI_CFG_DURATION,
     .offset = AT(log.sync_interval_ns),
     .default_text = "1s",
     .min = 1000000,
     .max = HOUR,
     .used_by = LIBRARY,
     .doc = "With sync: interval, the longest an acknowledged append waits for its fdatasync."},

    /* integrity */
    {.path = "integrity.seal_interval",
     .kind = EVI_CFG_DURATION,
     .offset = AT(integrity.seal_interval_ns),
     .default_text = "15m",
     .min = SEC,
     .max = 7 * DAY,
     .used_by = CLI,
     .doc = "The length of an epoch; each ends with a seal under its forward-secure key. Fixed "
            "when `evident init` creates the log."},
    {.path = "integrity.checkpoint_interval",
     .kind = EVI_CFG_DURATION,
     .offset = AT(integrity.checkpoint_interval_ns),
     .default_text = "1m",
     .min = SEC,
     .max = DAY,
     .used_by = LIBRARY,
     .doc = "How often the writer signs a checkpoint while entries arrive."},
    {.path = "integrity.self_verify_interval",
     .kind = EVI_CFG_DURATION,
     .offset = AT(integrity.self_verify_interval_ns),
     .default_text = "1h",
     .min = MINUTE,
     .max = 30 * DAY,
     .zero_off = true,
     .used_by = DAEMON,
     .doc = "How often the daemon verifies the whole log from its records; 0 turns it off."},
    {.path = "integrity.publish",
     .kind = EVI_CFG_LIST,
     .item = EVI_CFG_DEST,
     .offset = AT(integrity.publish),
     .count_offset = AT(integrity.publish_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_PUBLISH,
     .used_by = LIFECYCLE,
     .doc = "Places every new signed checkpoint is copied to, off the host: an absolute directory "
            "(a file per tree size, e.g. on another mount) or an http(s):// URL (POSTed as "
            "text/plain). `evident verify --checkpoint-dir` checks a log against them.",
     .example = "- /mnt/witness/evident-checkpoints\n"
                "- https://witness.example.com/evident/checkpoints\n"},

    /* storage */
    {.path = "storage.segment_size",
     .kind = EVI_CFG_SIZE,
     .offset = AT(storage.segment_bytes),
     .default_text = "64MiB",
     .min = MIB,
     .max = 16 * GIB,
     .used_by = LIBRARY,
     .doc = "The size at which the writer closes a segment file and starts the next."},
    {.path = "storage.preallocate",
     .kind = EVI_CFG_SIZE,
     .offset = AT(storage.preallocate_bytes),
     .default_text = "8MiB",
     .min = 2 * MIB,
     .max = 1 * GIB,
     .zero_off = true,
     .used_by = DAEMON,
     .doc = "Under `log.sync: always`, the zeros the daemon keeps written ahead of the records in "
            "the last segment, so that each batch's fdatasync writes no file system metadata "
            "(docs/FORMAT.md §3); cut when a segment closes. On ext4 without a journal the "
            "batches over them are also synced without the segment's inode, from Linux 7.0 "
            "and 6.18.30; on older kernels there it is off, with direct writes (their "
            "fdatasync would not cover them; docs/DESIGN.md, \"Writing an entry\"). Not "
            "written with less than 256 MiB free, nor on tmpfs; 0: off."},
    {.path = "storage.direct_io",
     .kind = EVI_CFG_BOOL,
     .offset = AT(storage.direct_io),
     .default_text = "true",
     .used_by = LIBRARY,
     .doc = "Large writes of records go around the page cache (O_DIRECT) where the file system "
            "allows, falling back by itself where it refuses; false sends every write through the "
            "page cache and turns preallocation off, for storage that takes O_DIRECT but handles "
            "it badly. The bytes written are the same."},
    {.path = "storage.segment_max_age",
     .kind = EVI_CFG_DURATION,
     .offset = AT(storage.segment_max_age_ns),
     .default_text = "0",
     .min = MINUTE,
     .max = 3650 * DAY,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "Also close a segment once its first entry is this old, so that it can be "
            "compressed and expired; 0: no limit."},
    {.path = "storage.compression",
     .kind = EVI_CFG_ENUM,
     .offset = AT(storage.compression),
     .default_text = "none",
     .choices = compression_choices,
     .used_by = LIFECYCLE,
     .doc = "How closed segments are compressed."},
    {.path = "storage.compression_level",
     .kind = EVI_CFG_INT,
     .offset = AT(storage.compression_level),
     .default_text = "3",
     .min = 1,
     .max = 19,
     .used_by = LIFECYCLE,
     .doc = "The zstd level, with compression: zstd."},

    /* retention */
    {.path = "retention.max_age",
     .kind = EVI_CFG_DURATION,
     .offset = AT(retention.max_age_ns),
     .default_text = "30d",
     .min = HOUR,
     .max = 36500 * DAY,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "Closed segments whose newest entry is older than this lose their entry bytes "
            "(leaf hashes, tags and seals stay; a retention entry records what went), by "
            "evidentd hourly or 'evident prune'; 0 keeps everything."},
    {.path = "retention.max_bytes",
     .kind = EVI_CFG_SIZE,
     .offset = AT(retention.max_bytes),
     .default_text = "0",
     .min = MIB,
     .max = 1024 * TIB,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "While the segments that still hold their entries take more than this on disk, the "
            "oldest closed ones are pruned the same way (pruned forms, 32 bytes an entry, do not "
            "count); 0: no limit."},
    {.path = "retention.min_age",
     .kind = EVI_CFG_DURATION,
     .offset = AT(retention.min_age_ns),
     .default_text = "0",
     .min = HOUR,
     .max = 36500 * DAY,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "When the disk runs low (evidentd's space thresholds), closed segments whose newest "
            "entry is older than this are pruned early, oldest first, until enough is free; "
            "0: no early pruning (only max_age and max_bytes)."},
    {.path = "retention.backup_dir",
     .kind = EVI_CFG_STRING,
     .offset = AT(retention.backup_dir),
     .default_text = "null",
     .nullable = true,
     .used_by = LIFECYCLE,
     .doc = "Where closed segments and checkpoints are copied before they can expire; null: no "
            "backups."},
    {.path = "retention.backup_interval",
     .kind = EVI_CFG_DURATION,
     .offset = AT(retention.backup_interval_ns),
     .default_text = "1d",
     .min = SEC,
     .max = 30 * DAY,
     .used_by = LIFECYCLE,
     .doc = "How often the daemon makes a backup (with backup_dir); each one copies only what "
            "is new."},
    {.path = "retention.backup_keep",
     .kind = EVI_CFG_COUNT,
     .offset = AT(retention.backup_keep),
     .default_text = "7",
     .min = 1,
     .max = 10000,
     .used_by = LIFECYCLE,
     .doc = "How many backups are kept."},

    /* disk */
    {.path = "disk.space_left",
     .kind = EVI_CFG_SPACE,
     .offset = AT(disk.space_left),
     .default_text = "10%",
     .min = MIB,
     .max = 1024 * TIB,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "Free space (a size, or a percentage of the file system) below which the daemon "
            "raises disk_low (space_left) alerts and runs retention early; 0: off."},
    {.path = "disk.admin_space_left",
     .kind = EVI_CFG_SPACE,
     .offset = AT(disk.admin_space_left),
     .default_text = "5%",
     .min = MIB,
     .max = 1024 * TIB,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "Free space below which admin_space_left alerts fire (critical) and retention runs "
            "early; keep it under space_left; 0: off."},
    {.path = "disk.reserve",
     .kind = EVI_CFG_SPACE,
     .offset = AT(disk.reserve),
     .default_text = "32MiB",
     .min = 64 * KIB,
     .max = 1024 * TIB,
     .zero_off = true,
     .used_by = LIFECYCLE,
     .doc = "Free space kept for the daemon's own seals, checkpoints and alerts: below it the "
            "disk counts as full before the kernel says ENOSPC; 0: only ENOSPC."},
    {.path = "disk.disk_full_action",
     .kind = EVI_CFG_ENUM,
     .offset = AT(disk.disk_full_action),
     .default_text = "block",
     .choices = disk_full_choices,
     .used_by = LIFECYCLE,
     .doc = "While the disk is full: block (hold writers; their events are written and "
            "answered once space returns, nothing is lost) or reject (refuse them with "
            "\"disk full\", HTTP 507)."},

    /* levels */
    {.path = "levels.default",
     .kind = EVI_CFG_ENUM,
     .offset = AT(levels.default_level),
     .default_text = "basic",
     .choices = evi_config_level_choices,
     .used_by = LIBRARY,
     .doc = "The detail level of typed events whose policy sets none: minimal keeps digests, "
            "sizes and counts; basic adds short outputs and finding messages; comprehensive "
            "keeps everything up to the documented bounds (docs/EVENTS.md)."},

    /* policies */
    {.path = "policies",
     .kind = EVI_CFG_POLICIES,
     .offset = AT(policies),
     .record = &evi_config_policy_record,
     .used_by = LIBRARY,
     .doc = "A mapping from event type to its policy; types left out keep the defaults."},

    /* privacy */
    {.path = "privacy.sanitize",
     .kind = EVI_CFG_BOOL,
     .offset = AT(privacy.sanitize),
     .default_text = "true",
     .used_by = LIBRARY,
     .doc = "Replace secrets in event data by [REDACTED:NAME] before anything is hashed."},
    {.path = "privacy.sanitize_builtin",
     .kind = EVI_CFG_BOOL,
     .offset = AT(privacy.sanitize_builtin),
     .default_text = "true",
     .used_by = LIBRARY,
     .doc = "Use the built-in patterns (private key blocks, AWS keys, GitHub and Slack tokens, "
            "JWTs, bearer tokens, passwords in URLs, password= pairs) as well as patterns."},
    {.path = "privacy.patterns",
     .kind = EVI_CFG_RECORDS,
     .offset = AT(privacy.patterns),
     .count_offset = AT(privacy.pattern_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_PATTERNS,
     .record = &pattern_record,
     .used_by = LIBRARY,
     .doc = "More secrets to redact: a list of {name, regex}; names are unique.",
     .example = "- name: internal-token\n"
                "  regex: 'itk_[A-Za-z0-9]{32}'\n"},
    {.path = "privacy.encryption.enabled",
     .kind = EVI_CFG_BOOL,
     .offset = AT(privacy.encrypt),
     .default_text = "false",
     .used_by = CLI ", " DAEMON,
     .doc = "Encrypt the source and data of every entry appended from now on with the "
            "current (last) key of key_file (needs key_file). Seals stay plain; entries "
            "already written are never rewritten."},
    {.path = "privacy.encryption.key_file",
     .kind = EVI_CFG_STRING,
     .offset = AT(privacy.encryption_key_file),
     .default_text = "null",
     .nullable = true,
     .used_by = CLI ", " DAEMON,
     .doc = "The data key file ('evident datakey new' makes and rotates it): one key a "
            "line, the last one current; mode 0600 (refused otherwise). Readers (log, "
            "show, summary, report, the daemon's read API) decrypt with any key in it, "
            "also when enabled is false."},

    /* alerting */
    {.path = "alerting.rules",
     .kind = EVI_CFG_RECORDS,
     .offset = AT(alerting.rules),
     .count_offset = AT(alerting.rule_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_RULES,
     .record = &rule_record,
     .used_by = DAEMON,
     .doc = "A list of rules {name, type, min_severity, threshold, window, webhook}; names are "
            "unique.",
     .example = "- name: auth-failures\n"
                "  type: security_event\n"
                "  min_severity: warning\n"
                "  threshold: 5\n"
                "  window: 10m\n"
                "  webhook: https://hooks.example.com/evident\n"},
    {.path = "alerting.webhook_timeout",
     .kind = EVI_CFG_DURATION,
     .offset = AT(alerting.webhook_timeout_ns),
     .default_text = "10s",
     .min = 100000000,
     .max = 5 * MINUTE,
     .used_by = DAEMON,
     .doc = "How long the daemon waits for a webhook to answer."},
    {.path = "alerting.webhook_retries",
     .kind = EVI_CFG_COUNT,
     .offset = AT(alerting.webhook_retries),
     .default_text = "5",
     .min = 0,
     .max = 100,
     .used_by = DAEMON,
     .doc = "Attempts after a failed delivery, with exponential backoff from 1s (each wait at "
            "most 60s, jittered down to half)."},

    /* performance */
    {.path = "performance.batch_max",
     .kind = EVI_CFG_COUNT,
     .offset = AT(performance.batch_max),
     .default_text = "4096",
     .min = 1,
     .max = 4096,
     .used_by = CLI,
     .doc = "The most events appended in one batch (one write, one fdatasync), as "
            "`evident append --jsonl` and the daemon batch them."},
    {.path = "performance.queue_max",
     .kind = EVI_CFG_COUNT,
     .offset = AT(performance.queue_max),
     .default_text = "65536",
     .min = 1,
     .max = 16777216,
     .used_by = DAEMON,
     .doc = "Events the daemon queues before producers are pushed back."},
    {.path = "performance.stream_queue_max",
     .kind = EVI_CFG_COUNT,
     .offset = AT(performance.stream_queue_max),
     .default_text = "4096",
     .min = 1,
     .max = 16777216,
     .used_by = DAEMON,
     .doc = "Of those, events from connections that can wait (syslog over TCP and Unix "
            "stream sockets, the Unix socket's JSON lines): past it the daemon stops reading "
            "them until the committer catches up, and the sender's TCP pushes back. Small "
            "keeps what waits in the CPU's cache."},
    {.path = "performance.group_commit_wait",
     .kind = EVI_CFG_DURATION,
     .offset = AT(performance.group_commit_wait_ns),
     .default_text = "0",
     .min = 0,
     .max = 100000000,
     .used_by = DAEMON,
     .doc = "How long the committer lets a lone batch wait for more events to share its "
            "fdatasync; 0: no wait (batches still form while the previous one syncs)."},
    {.path = "performance.stream_threads",
     .kind = EVI_CFG_COUNT,
     .offset = AT(performance.stream_threads),
     .default_text = "0",
     .min = 0,
     .max = 64,
     .used_by = DAEMON,
     .doc = "Threads that read, parse and answer the Unix socket and syslog connections (each "
            "connection stays on one); 0: one per CPU but one (the writer's), 1 to 4."},

    /* server */
    {.path = "server.unix_socket",
     .kind = EVI_CFG_STRING,
     .offset = AT(server.unix_socket),
     .default_text = "evidentd.sock",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "The path of the daemon's Unix socket (events as JSON Lines); null: none."},
    {.path = "server.unix_socket_mode",
     .kind = EVI_CFG_MODE,
     .offset = AT(server.unix_socket_mode),
     .default_text = "0660",
     .used_by = DAEMON,
     .doc = "The socket's file mode, in octal; quote it (\"0660\")."},
    {.path = "server.http_listen",
     .kind = EVI_CFG_LIST,
     .item = EVI_CFG_HOSTPORT,
     .offset = AT(server.http_listen),
     .count_offset = AT(server.http_listen_count),
     .default_text = "[127.0.0.1:8425]",
     .max = EV_CONFIG_MAX_LISTENERS,
     .used_by = DAEMON,
     .doc = "Addresses the HTTP API listens on, as host:port or [v6]:port; [] for none. The "
            "default is loopback only."},
    {.path = "server.syslog_udp",
     .kind = EVI_CFG_HOSTPORT,
     .offset = AT(server.syslog_udp),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "The address receiving syslog messages over UDP, each one an entry; null: off."},
    {.path = "server.syslog_tcp",
     .kind = EVI_CFG_HOSTPORT,
     .offset = AT(server.syslog_tcp),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "The same over TCP; null: off. Both are bound on every address the host resolves "
            "to (an empty host: all of them)."},
    {.path = "server.syslog_unix",
     .kind = EVI_CFG_STRING,
     .offset = AT(server.syslog_unix),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "A Unix datagram socket receiving syslog messages, as /dev/log does (its mode is "
            "unix_socket_mode); the sender's uid, gid and pid are recorded; null: off."},
    {.path = "server.tls_cert_file",
     .kind = EVI_CFG_STRING,
     .offset = AT(server.tls_cert_file),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "Certificate chain (PEM) for HTTPS on http_listen; set with tls_key_file."},
    {.path = "server.tls_key_file",
     .kind = EVI_CFG_STRING,
     .offset = AT(server.tls_key_file),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "The certificate's private key (PEM, mode 0600); set with tls_cert_file."},
    {.path = "server.writer_tokens",
     .kind = EVI_CFG_LIST,
     .item = EVI_CFG_TOKEN_HASH,
     .offset = AT(server.writer_tokens),
     .count_offset = AT(server.writer_token_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_TOKENS,
     .used_by = DAEMON,
     .doc = "Hashes of the bearer tokens that may append (and read) over HTTP, as made by "
            "`evident token new`; [] for none."},
    {.path = "server.reader_tokens",
     .kind = EVI_CFG_LIST,
     .item = EVI_CFG_TOKEN_HASH,
     .offset = AT(server.reader_tokens),
     .count_offset = AT(server.reader_token_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_TOKENS,
     .used_by = DAEMON,
     .doc = "Hashes of the bearer tokens that may read entries and summaries over HTTP; "
            "[] for none."},
    {.path = "server.unix_allow_users",
     .kind = EVI_CFG_LIST,
     .item = EVI_CFG_PRINCIPAL,
     .offset = AT(server.unix_allow_users),
     .count_offset = AT(server.unix_allow_user_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_PEERS,
     .used_by = DAEMON,
     .doc = "Users (names or uids) whose processes may write to the Unix socket; with "
            "unix_allow_groups both [] any user the socket's mode lets in may."},
    {.path = "server.unix_allow_groups",
     .kind = EVI_CFG_LIST,
     .item = EVI_CFG_PRINCIPAL,
     .offset = AT(server.unix_allow_groups),
     .count_offset = AT(server.unix_allow_group_count),
     .default_text = "[]",
     .max = EV_CONFIG_MAX_PEERS,
     .used_by = DAEMON,
     .doc = "Groups (names or gids) whose processes may write to the Unix socket."},
    {.path = "server.user",
     .kind = EVI_CFG_PRINCIPAL,
     .offset = AT(server.user),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "When started as root: the user the daemon becomes once its sockets are bound; "
            "null: stay (the systemd unit starts it as its own user instead)."},
    {.path = "server.max_request_bytes",
     .kind = EVI_CFG_SIZE,
     .offset = AT(server.max_request_bytes),
     .default_text = "1MiB",
     .min = 64 * KIB,
     .max = 64 * MIB,
     .used_by = DAEMON,
     .doc = "The largest request body, or line of a stream, the daemon accepts."},
    {.path = "server.max_connections",
     .kind = EVI_CFG_COUNT,
     .offset = AT(server.max_connections),
     .default_text = "16384",
     .min = 16,
     .max = 1000000,
     .used_by = DAEMON,
     .doc = "Open connections across all listeners; more are refused until some close."},
    {.path = "server.request_timeout",
     .kind = EVI_CFG_DURATION,
     .offset = AT(server.request_timeout_ns),
     .default_text = "30s",
     .min = SEC,
     .max = DAY,
     .used_by = DAEMON,
     .doc = "An HTTP request whose body is not received whole within this of its headers is "
            "dropped, as is a connection idle this long (stream connections: 10 times this)."},

    /* monitoring */
    {.path = "monitoring.metrics",
     .kind = EVI_CFG_BOOL,
     .offset = AT(monitoring.metrics),
     .default_text = "true",
     .used_by = DAEMON,
     .doc = "Serve Prometheus metrics at /metrics."},
    {.path = "monitoring.health",
     .kind = EVI_CFG_BOOL,
     .offset = AT(monitoring.health),
     .default_text = "true",
     .used_by = DAEMON,
     .doc = "Serve /healthz (200 while the writer is healthy)."},
    {.path = "monitoring.metrics_listen",
     .kind = EVI_CFG_HOSTPORT,
     .offset = AT(monitoring.metrics_listen),
     .default_text = "null",
     .nullable = true,
     .used_by = DAEMON,
     .doc = "A separate address for /metrics and /healthz; null: the server's HTTP listeners."},
};

const size_t evi_config_option_count = sizeof(evi_config_options) / sizeof(evi_config_options[0]);

const struct evi_config_renamed evi_config_renamed[] = {
    {"alerting.disk_low", "disk.space_left"},
    {"retention.min_free_space", "disk.reserve"},
    {NULL, NULL},
};

/* Both sizes or both percentages: whether a is below b (an unknown order counts as fine). */
static bool space_below(const struct ev_space *a, const struct ev_space *b)
{
    if ((a->percent_x100 == 0) != (b->percent_x100 == 0)) {
        return true; /* checked at run time, against the file system's size */
    }
    return a->percent_x100 != 0 ? a->percent_x100 < b->percent_x100 : a->bytes < b->bytes;
}

static bool space_on(const struct ev_space *s)
{
    return s->bytes != 0 || s->percent_x100 != 0;
}

const char *evi_config_check(const struct ev_config *c, const char **ret_path)
{
    if ((c->server.tls_cert_file == NULL) != (c->server.tls_key_file == NULL)) {
        *ret_path =
            c->server.tls_cert_file != NULL ? "server.tls_cert_file" : "server.tls_key_file";
        return "tls_cert_file and tls_key_file go together";
    }
    if (space_on(&c->disk.admin_space_left) && space_on(&c->disk.space_left) &&
        !space_below(&c->disk.admin_space_left, &c->disk.space_left)) {
        *ret_path = "disk.admin_space_left";
        return "must be less than disk.space_left";
    }
    if (space_on(&c->disk.reserve) && space_on(&c->disk.admin_space_left) &&
        !space_below(&c->disk.reserve, &c->disk.admin_space_left)) {
        *ret_path = "disk.reserve";
        return "must be less than disk.admin_space_left";
    }
    if (space_on(&c->disk.reserve) && space_on(&c->disk.space_left) &&
        !space_below(&c->disk.reserve, &c->disk.space_left)) {
        *ret_path = "disk.reserve";
        return "must be less than disk.space_left";
    }
    if (c->privacy.encrypt && c->privacy.encryption_key_file == NULL) {
        *ret_path = "privacy.encryption.enabled";
        return "needs privacy.encryption.key_file";
    }
    return NULL;
}
