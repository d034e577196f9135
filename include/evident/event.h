/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed security events: the audit model (docs/EVENTS.md).
 *
 * The engine (log.h) stores any JSON object under any type. This layer is
 * what producers use: seven documented event types, each with a schema, a C
 * struct and validation whose errors name the field; custom types under the
 * "custom." prefix, checked only as JSON; and a policy (policy.h) applied
 * before anything is hashed: per-type enablement and minimum severity, a
 * detail level deciding what is kept, and secret sanitization.
 *
 * Two ways in, one way out:
 *   - a C struct (struct ev_code_execution, ...) through ev_audit_<type>();
 *   - JSON (the CLI, the daemon) through ev_event_prepare() / ev_audit_append(),
 *     which decodes the data object into the same struct with the same table.
 * Both end in one serializer that writes the canonical data object (keys
 * sorted, compact), applying the level and the sanitizer field by field.
 *
 * Strings in the structs are NUL-terminated UTF-8 unless a length is given;
 * invalid UTF-8 in a captured output is replaced by U+FFFD (its digest is
 * taken over the original bytes). Nothing is kept from the struct after a
 * call returns.
 */
#ifndef EVIDENT_EVENT_H
#define EVIDENT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* ---- types and levels ---------------------------------------------------- */

enum ev_event_type {
    EV_TYPE_CODE_EXECUTION = 0,
    EV_TYPE_SECURITY_ASSESSMENT,
    EV_TYPE_CONTAINER_CREATION,
    EV_TYPE_RESOURCE_VIOLATION,
    EV_TYPE_SECURITY_EVENT,
    EV_TYPE_SYSTEM_EVENT,
    EV_TYPE_SYSLOG, /* a syslog message (include/evident/syslog.h) */
    EV_TYPE_CUSTOM, /* any "custom.NAME" type */
    EV_TYPE_COUNT,
};

/* Custom types are "custom." followed by 1..57 of [a-z0-9_.:-]. */
#define EV_CUSTOM_PREFIX "custom."

/*
 * The type of a type name: a built-in name, or EV_TYPE_CUSTOM for a valid
 * custom name. Returns EV_EFORMAT (and says why in ev_last_error()) for any
 * other name, including the engine's own "seal" and "retention".
 */
int ev_event_type_parse(const char *name, enum ev_event_type *ret_type);

/* "code_execution", ..., "custom" for EV_TYPE_CUSTOM. NULL if out of range. */
const char *ev_event_type_name(enum ev_event_type type);

/* What a detail level keeps is documented per field in docs/EVENTS.md. */
enum ev_level {
    EV_LEVEL_MINIMAL = 0,       /* digests, sizes, counts; no outputs, code or messages */
    EV_LEVEL_BASIC = 1,         /* the default: short outputs, finding messages */
    EV_LEVEL_COMPREHENSIVE = 2, /* everything, up to the documented bounds */
};

/* "minimal", "basic", "comprehensive". EV_EFORMAT otherwise. */
int ev_level_parse(const char *name, enum ev_level *ret_level);
const char *ev_level_name(enum ev_level level);

/* ---- optional values ----------------------------------------------------- */

/* A zero-initialized struct leaves every optional field unset. */
struct ev_opt_int {
    bool set;
    int64_t value;
};
struct ev_opt_bool {
    bool set;
    bool value;
};
#define EV_SOME_INT(v) ((struct ev_opt_int){true, (v)})
#define EV_SOME_BOOL(v) ((struct ev_opt_bool){true, (v)})

/* A list of strings. */
struct ev_strings {
    const char *const *items;
    size_t count;
};

/*
 * Captured bytes (code, stdout, stderr): the library stores their SHA-256 and
 * length always, and a prefix of the text as the level allows. When data is
 * NULL, sha256 (64 hex digits) and bytes may describe content the producer
 * did not send.
 */
struct ev_capture {
    const char *data; /* the bytes, or NULL */
    size_t len;
    const char *sha256;      /* only when data is NULL */
    struct ev_opt_int bytes; /* only when data is NULL */
};

/* ---- fields every typed event has (all optional) ------------------------- */

enum ev_outcome {
    EV_OUTCOME_UNSET = 0,
    EV_OUTCOME_SUCCESS,
    EV_OUTCOME_FAILURE,
    EV_OUTCOME_DENIED,
};

struct ev_actor {
    const char *user;      /* <= 256 bytes */
    struct ev_opt_int uid; /* 0 .. 4294967295 */
    const char *session;   /* <= 256 bytes */
};

struct ev_common {
    struct ev_opt_int severity; /* enum ev_severity; unset: the type's default */
    const char *source_json;    /* the envelope's source; NULL: this process */
    struct ev_actor actor;      /* who acted (source is who recorded) */
    const char *host;           /* <= 255 bytes */
    const char *program;        /* <= 256 bytes */
    enum ev_outcome outcome;
    const char *correlation_id; /* <= 128 bytes */
};

/* ---- code_execution ------------------------------------------------------ */

struct ev_code_execution {
    struct ev_common common;
    const char *language; /* required, <= 64 bytes */
    struct ev_capture code;
    const char *command;                 /* command line or entrypoint, <= 4096 bytes */
    const char *sandbox_id;              /* <= 128 bytes */
    const char *container_id;            /* <= 128 bytes */
    const char *security_level;          /* the sandbox's, e.g. "strict", <= 64 bytes */
    struct ev_opt_int exit_code;         /* -2147483648 .. 2147483647 */
    struct ev_opt_int duration_ms;       /* wall time, >= 0 */
    struct ev_opt_int cpu_time_ms;       /* >= 0 */
    struct ev_opt_int peak_memory_bytes; /* >= 0 */
    struct ev_capture stdout_capture;
    struct ev_capture stderr_capture;
};

/* ---- security_assessment ------------------------------------------------- */

enum ev_finding_severity {
    EV_FINDING_UNSET = 0,
    EV_FINDING_INFO,
    EV_FINDING_LOW,
    EV_FINDING_MEDIUM,
    EV_FINDING_HIGH,
    EV_FINDING_CRITICAL,
};

/* "info", "low", "medium", "high", "critical". */
int ev_finding_severity_parse(const char *name, enum ev_finding_severity *ret);
const char *ev_finding_severity_name(enum ev_finding_severity severity);

enum ev_confidence {
    EV_CONFIDENCE_UNSET = 0,
    EV_CONFIDENCE_LOW,
    EV_CONFIDENCE_MEDIUM,
    EV_CONFIDENCE_HIGH,
};

struct ev_finding {
    const char *rule_id;               /* required, <= 256 bytes */
    enum ev_finding_severity severity; /* required */
    enum ev_confidence confidence;
    const char *file;       /* <= 4096 bytes */
    struct ev_opt_int line; /* >= 1 */
    struct ev_opt_int cwe;  /* the CWE number, >= 1 */
    const char *message;    /* <= 4096 bytes; cut to 256 at level basic */
};

struct ev_finding_counts {
    int64_t critical, high, medium, low, info;
};

struct ev_security_assessment {
    struct ev_common common;
    const char *tool;         /* required, <= 64 bytes */
    const char *tool_version; /* <= 64 bytes */
    const char *target;       /* what was scanned, <= 4096 bytes */
    const struct ev_finding *findings;
    size_t finding_count;
    /*
     * Exact counts by severity. When counts_set is false they are counted
     * from findings; set them when findings holds only part of the scan.
     */
    bool counts_set;
    struct ev_finding_counts counts;
    struct ev_opt_int score;           /* 0..100; unset: computed (docs/EVENTS.md) */
    struct ev_strings recommendations; /* <= 32 of <= 1024 bytes */
    const char *report_sha256;         /* SHA-256 of the scanner's report file, hex */
    struct ev_opt_int report_bytes;
};

/* ---- container_creation -------------------------------------------------- */

struct ev_mount {
    const char *source;      /* <= 4096 bytes */
    const char *destination; /* required, <= 4096 bytes */
    const char *type;        /* bind, volume, tmpfs, ...; <= 32 bytes */
    struct ev_opt_bool read_only;
};

struct ev_container_creation {
    struct ev_common common;
    const char *container_id; /* required, <= 128 bytes */
    const char *name;         /* <= 256 bytes */
    const char *image;        /* required, <= 512 bytes */
    const char *image_digest; /* "sha256:" and 64 hex digits */
    const char *runtime;      /* docker, podman, ...; <= 32 bytes */
    const char *user;         /* <= 128 bytes; unset or "" means the image's (often root) */
    struct ev_opt_bool privileged;
    struct ev_strings cap_add;  /* <= 64 of <= 64 bytes */
    struct ev_strings cap_drop; /* <= 64 of <= 64 bytes */
    struct ev_opt_bool read_only_rootfs;
    const char *seccomp_profile;  /* "unconfined", "default", a path; <= 256 bytes */
    const char *apparmor_profile; /* <= 256 bytes */
    struct ev_opt_bool no_new_privileges;
    const char *network_mode; /* <= 64 bytes */
    const char *pid_mode;     /* <= 64 bytes */
    const struct ev_mount *mounts;
    size_t mount_count;                   /* <= 256 */
    struct ev_opt_int cpu_millicores;     /* CPU limit, 1000 = one CPU */
    struct ev_opt_int memory_limit_bytes; /* >= 0; 0 = none */
    struct ev_opt_int pids_limit;         /* >= 0; 0 or unset = none */
};

/*
 * The risky settings of a container, as the "risks" list stores them
 * (docs/EVENTS.md lists each): writes up to cap names into ret and returns
 * how many there are.
 */
size_t ev_container_risks(const struct ev_container_creation *c, const char **ret, size_t cap);

/* ---- resource_violation -------------------------------------------------- */

enum ev_resource {
    EV_RESOURCE_UNSET = 0,
    EV_RESOURCE_CPU,
    EV_RESOURCE_MEMORY,
    EV_RESOURCE_DISK,
    EV_RESOURCE_PIDS,
    EV_RESOURCE_WALL_TIME,
    EV_RESOURCE_NETWORK,
    EV_RESOURCE_FILES,
};

enum ev_action {
    EV_ACTION_UNSET = 0,
    EV_ACTION_WARNED,
    EV_ACTION_THROTTLED,
    EV_ACTION_KILLED,
    EV_ACTION_DENIED,
};

struct ev_resource_violation {
    struct ev_common common;
    enum ev_resource resource;  /* required */
    struct ev_opt_int limit;    /* required, >= 0, in unit */
    struct ev_opt_int observed; /* required, >= 0, in unit */
    const char *unit;           /* bytes, ms, count, millicores, bytes_per_second; <= 32 */
    enum ev_action action;      /* required */
    const char *sandbox_id;     /* <= 128 bytes */
    const char *container_id;   /* <= 128 bytes */
    struct ev_opt_int pid;      /* >= 0 */
};

/* ---- security_event and system_event ------------------------------------- */

struct ev_security_event {
    struct ev_common common;
    const char *category;     /* required, <= 64 bytes: authentication, policy, ... */
    const char *description;  /* required, <= 4096 bytes */
    const char *details_json; /* a JSON object, or NULL; dropped at level minimal */
};

enum ev_system_action {
    EV_SYSTEM_UNSET = 0,
    EV_SYSTEM_STARTUP,
    EV_SYSTEM_SHUTDOWN,
    EV_SYSTEM_CONFIG_CHANGE,
    EV_SYSTEM_KEY_ROTATION,
    EV_SYSTEM_RETENTION,
};

struct ev_system_event {
    struct ev_common common;
    enum ev_system_action action;  /* required */
    const char *component;         /* <= 64 bytes */
    const char *version;           /* <= 64 bytes */
    const char *description;       /* <= 4096 bytes */
    const char *config_old_sha256; /* config_change: digests of the old and new files */
    const char *config_new_sha256;
    const char *details_json; /* a JSON object, or NULL; dropped at level minimal */
};

/* ---- preparing and appending --------------------------------------------- */

struct ev_policy; /* policy.h */

/*
 * An event ready for ev_log_append(): what the policy made of the input.
 * event points into the owned buffer, static names and the input's source,
 * never into the struct itself, so prepared events may be moved and sorted.
 * For a dropped event, event.type and event.data_json are NULL (see type).
 */
struct ev_prepared {
    struct ev_event event; /* type, severity, source and data */
    bool dropped;          /* the policy disables this type or severity: append nothing */
    unsigned redacted;     /* secrets replaced in the data */
    bool truncated;        /* findings or outputs cut to fit (the data says which) */
    char type[72];
    char *buffer;       /* owned; free with ev_prepared_release() */
    uint32_t check;     /* private: what ev_audit_append_prepared() recognizes its data by */
    uint32_t check_len; /* private: the length of that data */
};

void ev_prepared_release(struct ev_prepared *prepared);

/*
 * JSON in: validates event (the engine's struct: type name, severity, source
 * and data JSON) against its type's schema, applies policy (NULL = the
 * defaults) and fills *out. Returns 0, or EV_EJSON / EV_EFORMAT / EV_ETOOBIG
 * with ev_last_error() naming the field ("data.exit_code: expected an
 * integer"). On failure *out holds nothing to release.
 */
int ev_event_prepare(const struct ev_policy *policy, const struct ev_event *event,
                     struct ev_prepared *out);

/* C structs in: the same, for each type. */
int ev_code_execution_prepare(const struct ev_policy *policy, const struct ev_code_execution *e,
                              struct ev_prepared *out);
int ev_security_assessment_prepare(const struct ev_policy *policy,
                                   const struct ev_security_assessment *e, struct ev_prepared *out);
int ev_container_creation_prepare(const struct ev_policy *policy,
                                  const struct ev_container_creation *e, struct ev_prepared *out);
int ev_resource_violation_prepare(const struct ev_policy *policy,
                                  const struct ev_resource_violation *e, struct ev_prepared *out);
int ev_security_event_prepare(const struct ev_policy *policy, const struct ev_security_event *e,
                              struct ev_prepared *out);
int ev_system_event_prepare(const struct ev_policy *policy, const struct ev_system_event *e,
                            struct ev_prepared *out);

/*
 * Prepare and append in one call. Return 0 and the index in *ret_index, or
 * EV_DROPPED (positive: the policy dropped the event, nothing appended,
 * *ret_index untouched), or a negative code as ev_log_append() and
 * ev_event_prepare() do.
 */
#define EV_DROPPED 1
int ev_audit_append(struct ev_log *log, const struct ev_policy *policy,
                    const struct ev_event *event, uint64_t *ret_index);
int ev_audit_code_execution(struct ev_log *log, const struct ev_policy *policy,
                            const struct ev_code_execution *e, uint64_t *ret_index);
int ev_audit_security_assessment(struct ev_log *log, const struct ev_policy *policy,
                                 const struct ev_security_assessment *e, uint64_t *ret_index);
int ev_audit_container_creation(struct ev_log *log, const struct ev_policy *policy,
                                const struct ev_container_creation *e, uint64_t *ret_index);
int ev_audit_resource_violation(struct ev_log *log, const struct ev_policy *policy,
                                const struct ev_resource_violation *e, uint64_t *ret_index);
int ev_audit_security_event(struct ev_log *log, const struct ev_policy *policy,
                            const struct ev_security_event *e, uint64_t *ret_index);
int ev_audit_system_event(struct ev_log *log, const struct ev_policy *policy,
                          const struct ev_system_event *e, uint64_t *ret_index);

/*
 * Appends count prepared events (none dropped) as consecutive entries, all or
 * nothing as ev_log_append_batch() is. The data the library wrote for an
 * event is recognized as its own (a CRC32C of it, taken at preparation) and
 * not checked again; data changed since is checked like any caller's JSON.
 * On success writes the first index to *ret_first; *ret_bad gets the
 * position of a rejected event.
 */
int ev_audit_append_prepared(struct ev_log *log, const struct ev_prepared *prepared, size_t count,
                             uint64_t *ret_first, size_t *ret_bad);

/* ---- the schema, for documentation and tools ----------------------------- */

enum ev_field_kind {
    EV_FIELD_STRING = 1, /* a JSON string */
    EV_FIELD_INT,        /* a JSON integer */
    EV_FIELD_BOOL,       /* true or false */
    EV_FIELD_ENUM,       /* a JSON string from a fixed set */
    EV_FIELD_STRINGS,    /* an array of strings */
    EV_FIELD_CAPTURE,    /* input: a string (the text) or {"sha256":..,"bytes":..} */
    EV_FIELD_DIGEST,     /* 64 lower-case hex digits (SHA-256) */
    EV_FIELD_OBJECT,     /* an object with its own fields (actor, counts) */
    EV_FIELD_OBJECTS,    /* an array of such objects (findings, mounts) */
    EV_FIELD_JSON,       /* any JSON object (details) */
};

/*
 * The kind of an input field of a built-in type, by its name or dotted path
 * ("exit_code", "actor.user"). EV_EFORMAT if the type has no such field
 * (ev_last_error() lists the fields it has).
 */
int ev_event_field_kind(enum ev_event_type type, const char *path, enum ev_field_kind *ret_kind);

/*
 * Writes docs/EVENTS.md's field tables (Markdown) for every type, from the
 * same table the validator and serializer use. Caller frees *ret_text.
 */
int ev_event_schema_markdown(char **ret_text);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
