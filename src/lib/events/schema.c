/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed events' schema: every field of every built-in type, its kind,
 * bounds, level and documentation (see schema.h). docs/EVENTS.md is generated
 * from these rows (`evident event --schema`), and the tests check that each
 * table is sorted and that the committed document matches.
 */
#include "events/schema.h"

#include <evident/syslog.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(type, member) offsetof(type, member)
#define DER(member) .derived_offset = offsetof(struct evi_derived, member)

const char *const evi_outcome_names[] = {"", "success", "failure", "denied", NULL};
const char *const evi_finding_severity_names[] = {"",     "info",     "low", "medium",
                                                  "high", "critical", NULL};
const char *const evi_confidence_names[] = {"", "low", "medium", "high", NULL};
const char *const evi_resource_names[] = {"",          "cpu",     "memory", "disk", "pids",
                                          "wall_time", "network", "files",  NULL};
const char *const evi_action_names[] = {"", "warned", "throttled", "killed", "denied", NULL};
const char *const evi_system_action_names[] = {
    "", "startup", "shutdown", "config_change", "key_rotation", "retention", NULL};
const char *const evi_syslog_format_names[] = {"", "rfc5424", "rfc3164", NULL};
/* Index = facility code + 1 (EV_SYSLOG_FACILITY); names as rsyslog gives them. */
const char *const evi_syslog_facility_names[] = {
    "",       "kern",   "user",     "mail",   "daemon", "auth",   "syslog", "lpr",   "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock", "local0",
    "local1", "local2", "local3",   "local4", "local5", "local6", "local7", NULL};

/* Captured text kept per level (escaped bytes): minimal, basic, comprehensive. */
const struct evi_capture_limits evi_capture_limits[3] = {
    {.code = 0, .output = 0},
    {.code = 0, .output = 1024},
    {.code = 16384, .output = 8192},
};

/* Every typed struct starts with struct ev_common, so its offsets hold for all. */
_Static_assert(offsetof(struct ev_code_execution, common) == 0, "common first");
_Static_assert(offsetof(struct ev_security_assessment, common) == 0, "common first");
_Static_assert(offsetof(struct ev_container_creation, common) == 0, "common first");
_Static_assert(offsetof(struct ev_resource_violation, common) == 0, "common first");
_Static_assert(offsetof(struct ev_security_event, common) == 0, "common first");
_Static_assert(offsetof(struct ev_system_event, common) == 0, "common first");
_Static_assert(offsetof(struct ev_syslog_event, common) == 0, "common first");
_Static_assert(sizeof(enum ev_syslog_format) == sizeof(int), "enums are stored as int");
/* Lists of objects are a pointer and a count side by side, in events and derived. */
_Static_assert(offsetof(struct evi_derived, finding_count) ==
                   offsetof(struct evi_derived, findings) + sizeof(void *),
               "pointer then count");

#define STR(n, member, T, bytes, doc_)                                                             \
    {                                                                                              \
        .name = n, .kind = EV_FIELD_STRING, .offset = OFF(T, member), .max = (bytes), .doc = doc_  \
    }
#define INT(n, member, T, lo, hi, unit_, doc_)                                                     \
    {                                                                                              \
        .name = n, .kind = EV_FIELD_INT, .offset = OFF(T, member), .min = (lo), .max = (hi),       \
        .unit = unit_, .doc = doc_                                                                 \
    }
#define BOOL(n, member, T, doc_)                                                                   \
    {                                                                                              \
        .name = n, .kind = EV_FIELD_BOOL, .offset = OFF(T, member), .doc = doc_                    \
    }
#define ENUM(n, member, T, names, doc_)                                                            \
    {                                                                                              \
        .name = n, .kind = EV_FIELD_ENUM, .offset = OFF(T, member), .enum_names = names,           \
        .doc = doc_                                                                                \
    }

/* ---- objects inside events ------------------------------------------------ */

static const struct evi_field actor_fields[] = {
    STR("session", session, struct ev_actor, 256, "login or sandbox session id"),
    INT("uid", uid, struct ev_actor, 0, 4294967295LL, NULL, "numeric user id"),
    STR("user", user, struct ev_actor, 256, "user name"),
};
static const struct evi_schema actor_schema = {
    .name = "actor", .fields = actor_fields, .count = 3, .struct_size = sizeof(struct ev_actor)};

static const struct evi_field finding_fields[] = {
    ENUM("confidence", confidence, struct ev_finding, evi_confidence_names,
         "the scanner's confidence"),
    INT("cwe", cwe, struct ev_finding, 1, 1000000, NULL, "CWE number, where the scanner gives one"),
    STR("file", file, struct ev_finding, 4096, "file the finding is in"),
    INT("line", line, struct ev_finding, 1, INT32_MAX, NULL, "line of the finding"),
    {.name = "message",
     .kind = EV_FIELD_STRING,
     .offset = OFF(struct ev_finding, message),
     .max = 4096,
     .basic_max = EVI_BASIC_MESSAGE_MAX,
     .doc = "the scanner's message; cut to 256 bytes at level basic"},
    {.name = "rule_id",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(struct ev_finding, rule_id),
     .max = 256,
     .doc = "the scanner's rule or test id"},
    {.name = "severity",
     .kind = EV_FIELD_ENUM,
     .flags = EVI_REQUIRED,
     .offset = OFF(struct ev_finding, severity),
     .enum_names = evi_finding_severity_names,
     .doc = "normalized severity (docs/INGEST.md maps each scanner's)"},
};
static const struct evi_schema finding_schema = {.name = "finding",
                                                 .fields = finding_fields,
                                                 .count = 7,
                                                 .struct_size = sizeof(struct ev_finding)};

#define COUNT(n, member)                                                                           \
    {                                                                                              \
        .name = n, .kind = EV_FIELD_INT, .flags = EVI_PLAIN_INT,                                   \
        .offset = OFF(struct ev_finding_counts, member), .min = 0, .max = INT64_MAX / 8,           \
        .doc = "findings of severity " n                                                           \
    }
static const struct evi_field counts_fields[] = {
    COUNT("critical", critical), COUNT("high", high),     COUNT("info", info),
    COUNT("low", low),           COUNT("medium", medium),
};
static const struct evi_schema counts_schema = {.name = "counts",
                                                .fields = counts_fields,
                                                .count = 5,
                                                .struct_size = sizeof(struct ev_finding_counts)};

static const struct evi_field mount_fields[] = {
    {.name = "destination",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(struct ev_mount, destination),
     .max = 4096,
     .doc = "path inside the container"},
    BOOL("read_only", read_only, struct ev_mount, "mounted read-only"),
    STR("source", source, struct ev_mount, 4096, "host path or volume name"),
    STR("type", type, struct ev_mount, 32, "bind, volume, tmpfs, ..."),
};
static const struct evi_schema mount_schema = {
    .name = "mount", .fields = mount_fields, .count = 4, .struct_size = sizeof(struct ev_mount)};

/* ---- fields of every type ------------------------------------------------- */

static const struct evi_field common_fields[] = {
    {.name = "actor",
     .kind = EV_FIELD_OBJECT,
     .offset = OFF(struct ev_common, actor),
     .sub = &actor_schema,
     .doc = "who acted (the envelope's source is who recorded)"},
    STR("correlation_id", correlation_id, struct ev_common, 128,
        "ties related events together (a request, a job, a session)"),
    STR("host", host, struct ev_common, 255, "host the action happened on"),
    ENUM("outcome", outcome, struct ev_common, evi_outcome_names, "how the action ended"),
    STR("program", program, struct ev_common, 256, "program that acted"),
    {.name = "redacted",
     .kind = EV_FIELD_INT,
     .flags = EVI_DERIVED | EVI_REDACTED,
     .min = 1,
     .doc = "secrets the sanitizer replaced in this event (present only when > 0)"},
};

/* ---- the types ------------------------------------------------------------ */

#define CAPTURE(n, member, T, doc_)                                                                \
    {                                                                                              \
        .name = n, .kind = EV_FIELD_CAPTURE, .offset = OFF(T, member), .doc = doc_                 \
    }

#define CE struct ev_code_execution
static const struct evi_field code_execution_fields[] = {
    CAPTURE("code", code, CE,
            "the code run: digest and size always; text at comprehensive (16 KiB)"),
    STR("command", command, CE, 4096, "command line or entrypoint"),
    STR("container_id", container_id, CE, 128, "container the code ran in"),
    INT("cpu_time_ms", cpu_time_ms, CE, 0, INT64_MAX, "ms", "CPU time used"),
    INT("duration_ms", duration_ms, CE, 0, INT64_MAX, "ms", "wall-clock time"),
    INT("exit_code", exit_code, CE, INT32_MIN, INT32_MAX, NULL, "exit status"),
    {.name = "language",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(CE, language),
     .max = 64,
     .doc = "python, bash, javascript, ..."},
    INT("peak_memory_bytes", peak_memory_bytes, CE, 0, INT64_MAX, "bytes", "peak resident memory"),
    STR("sandbox_id", sandbox_id, CE, 128, "sandbox the code ran in"),
    STR("security_level", security_level, CE, 64, "the sandbox's security level, e.g. strict"),
    CAPTURE("stderr", stderr_capture, CE,
            "standard error: digest and size always; text 1 KiB at basic, 8 KiB at comprehensive"),
    CAPTURE("stdout", stdout_capture, CE,
            "standard output: digest and size always; text 1 KiB at basic, 8 KiB at comprehensive"),
};
#undef CE

#define SA struct ev_security_assessment
static const struct evi_field security_assessment_fields[] = {
    {.name = "counts",
     .kind = EV_FIELD_OBJECT,
     .flags = EVI_OUT_DERIVED,
     .offset = OFF(SA, counts),
     DER(counts),
     .sub = &counts_schema,
     .doc = "exact findings by severity over the whole scan (counted from findings when not "
            "given)"},
    {.name = "findings",
     .kind = EV_FIELD_OBJECTS,
     .flags = EVI_OUT_DERIVED,
     .offset = OFF(SA, findings),
     .count_offset = OFF(SA, finding_count),
     DER(findings),
     .max = 100000,
     .level = EV_LEVEL_BASIC,
     .sub = &finding_schema,
     .item_size = sizeof(struct ev_finding),
     .doc = "the findings, most severe first; as many as fit in the entry"},
    {.name = "findings_kept",
     .kind = EV_FIELD_INT,
     .flags = EVI_DERIVED,
     DER(findings_kept),
     .doc = "findings listed, when not all fit (then findings_truncated is true)"},
    {.name = "findings_total",
     .kind = EV_FIELD_INT,
     .flags = EVI_DERIVED,
     DER(findings_total),
     .doc = "findings in the scan (the sum of counts)"},
    {.name = "findings_truncated",
     .kind = EV_FIELD_BOOL,
     .flags = EVI_DERIVED,
     DER(findings_truncated),
     .doc = "true when the least severe findings were left out to fit the entry"},
    {.name = "recommendations",
     .kind = EV_FIELD_STRINGS,
     .offset = OFF(SA, recommendations),
     .max = 32,
     .item_max = 1024,
     .level = EV_LEVEL_BASIC,
     .doc = "what to do about the findings"},
    INT("report_bytes", report_bytes, SA, 0, INT64_MAX, "bytes", "size of the scanner's report"),
    {.name = "report_sha256",
     .kind = EV_FIELD_DIGEST,
     .offset = OFF(SA, report_sha256),
     .doc = "SHA-256 of the scanner's report file, to match the file later"},
    {.name = "score",
     .kind = EV_FIELD_INT,
     .flags = EVI_OUT_DERIVED,
     .offset = OFF(SA, score),
     DER(score),
     .min = 0,
     .max = 100,
     .doc = "100 = no findings; when not given, 100 - (25 critical + 10 high + 3 medium + 1 "
            "low), at least 0"},
    STR("target", target, SA, 4096, "what was scanned"),
    {.name = "tool",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(SA, tool),
     .max = 64,
     .doc = "the scanner: bandit, semgrep, codeql, trivy, ..."},
    STR("tool_version", tool_version, SA, 64, "the scanner's version"),
};
#undef SA

#define CC struct ev_container_creation
static const struct evi_field container_creation_fields[] = {
    STR("apparmor_profile", apparmor_profile, CC, 256, "AppArmor profile, or unconfined"),
    {.name = "cap_add",
     .kind = EV_FIELD_STRINGS,
     .offset = OFF(CC, cap_add),
     .max = 64,
     .item_max = 64,
     .doc = "capabilities added"},
    {.name = "cap_drop",
     .kind = EV_FIELD_STRINGS,
     .offset = OFF(CC, cap_drop),
     .max = 64,
     .item_max = 64,
     .doc = "capabilities dropped"},
    {.name = "container_id",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(CC, container_id),
     .max = 128,
     .doc = "the runtime's container id"},
    INT("cpu_millicores", cpu_millicores, CC, 0, INT64_MAX, "millicores",
        "CPU limit, 1000 = one CPU; 0 = none"),
    {.name = "image",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(CC, image),
     .max = 512,
     .doc = "image reference"},
    STR("image_digest", image_digest, CC, 128, "image digest, sha256:..."),
    INT("memory_limit_bytes", memory_limit_bytes, CC, 0, INT64_MAX, "bytes",
        "memory limit; 0 = none"),
    {.name = "mounts",
     .kind = EV_FIELD_OBJECTS,
     .offset = OFF(CC, mounts),
     .count_offset = OFF(CC, mount_count),
     .max = 256,
     .level = EV_LEVEL_BASIC,
     .sub = &mount_schema,
     .item_size = sizeof(struct ev_mount),
     .doc = "mounts"},
    STR("name", name, CC, 256, "container name"),
    STR("network_mode", network_mode, CC, 64, "bridge, host, none, ..."),
    BOOL("no_new_privileges", no_new_privileges, CC, "no-new-privileges set"),
    STR("pid_mode", pid_mode, CC, 64, "PID namespace mode, e.g. host"),
    INT("pids_limit", pids_limit, CC, 0, INT64_MAX, NULL, "process limit; 0 = none"),
    BOOL("privileged", privileged, CC, "privileged container"),
    BOOL("read_only_rootfs", read_only_rootfs, CC, "root file system read-only"),
    {.name = "risks",
     .kind = EV_FIELD_STRINGS,
     .flags = EVI_DERIVED,
     DER(risks),
     .doc = "risky settings found by the library (see the list below)"},
    STR("runtime", runtime, CC, 32, "docker, podman, ..."),
    STR("seccomp_profile", seccomp_profile, CC, 256, "seccomp profile, or unconfined"),
    STR("user", user, CC, 128, "user the container runs as; empty = the image's"),
};
#undef CC

#define RV struct ev_resource_violation
static const struct evi_field resource_violation_fields[] = {
    {.name = "action",
     .kind = EV_FIELD_ENUM,
     .flags = EVI_REQUIRED,
     .offset = OFF(RV, action),
     .enum_names = evi_action_names,
     .doc = "what was done about it"},
    STR("container_id", container_id, RV, 128, "container that hit the limit"),
    {.name = "limit",
     .kind = EV_FIELD_INT,
     .flags = EVI_REQUIRED,
     .offset = OFF(RV, limit),
     .min = 0,
     .max = INT64_MAX,
     .unit = "unit",
     .doc = "the limit"},
    {.name = "observed",
     .kind = EV_FIELD_INT,
     .flags = EVI_REQUIRED,
     .offset = OFF(RV, observed),
     .min = 0,
     .max = INT64_MAX,
     .unit = "unit",
     .doc = "the value observed"},
    INT("pid", pid, RV, 0, INT32_MAX, NULL, "process that hit the limit"),
    {.name = "resource",
     .kind = EV_FIELD_ENUM,
     .flags = EVI_REQUIRED,
     .offset = OFF(RV, resource),
     .enum_names = evi_resource_names,
     .doc = "the resource"},
    STR("sandbox_id", sandbox_id, RV, 128, "sandbox that hit the limit"),
    STR("unit", unit, RV, 32, "bytes, ms, count, millicores, bytes_per_second"),
};
#undef RV

#define SE struct ev_security_event
static const struct evi_field security_event_fields[] = {
    {.name = "category",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(SE, category),
     .max = 64,
     .doc = "authentication, authorization, policy, intrusion, integrity, network, ..."},
    {.name = "description",
     .kind = EV_FIELD_STRING,
     .flags = EVI_REQUIRED,
     .offset = OFF(SE, description),
     .max = 4096,
     .doc = "what happened"},
    {.name = "details",
     .kind = EV_FIELD_JSON,
     .offset = OFF(SE, details_json),
     .level = EV_LEVEL_BASIC,
     .doc = "any JSON object; dropped at level minimal"},
};
#undef SE

#define SY struct ev_system_event
static const struct evi_field system_event_fields[] = {
    {.name = "action",
     .kind = EV_FIELD_ENUM,
     .flags = EVI_REQUIRED,
     .offset = OFF(SY, action),
     .enum_names = evi_system_action_names,
     .doc = "what the system did"},
    STR("component", component, SY, 64, "the component: evidentd, sandbox, ..."),
    {.name = "config_new_sha256",
     .kind = EV_FIELD_DIGEST,
     .offset = OFF(SY, config_new_sha256),
     .doc = "config_change: SHA-256 of the new configuration"},
    {.name = "config_old_sha256",
     .kind = EV_FIELD_DIGEST,
     .offset = OFF(SY, config_old_sha256),
     .doc = "config_change: SHA-256 of the old configuration"},
    STR("description", description, SY, 4096, "what happened"),
    {.name = "details",
     .kind = EV_FIELD_JSON,
     .offset = OFF(SY, details_json),
     .level = EV_LEVEL_BASIC,
     .doc = "any JSON object; dropped at level minimal"},
    STR("version", version, SY, 64, "the component's version"),
};
#undef SY

#define SL struct ev_syslog_event
static const struct evi_field syslog_fields[] = {
    STR("app_name", app_name, SL, 48, "APP-NAME (RFC 5424) or TAG (RFC 3164)"),
    ENUM("facility", facility, SL, evi_syslog_facility_names, "the facility of the PRI"),
    {.name = "format",
     .kind = EV_FIELD_ENUM,
     .flags = EVI_REQUIRED,
     .offset = OFF(SL, format),
     .enum_names = evi_syslog_format_names,
     .doc = "the message's format"},
    STR("hostname", hostname, SL, 255, "HOSTNAME as sent"),
    {.name = "message",
     .kind = EV_FIELD_STRING,
     .flags = EVI_CUT,
     .offset = OFF(SL, message),
     .max = 65536,
     .cut = {256, 1024, 8192},
     .doc = "MSG, sanitized, then cut to 256 bytes at minimal, 1 KiB at basic, 8 KiB at "
            "comprehensive"},
    {.name = "message_truncated",
     .kind = EV_FIELD_BOOL,
     .flags = EVI_DERIVED | EVI_CUT_MARK,
     .doc = "true when message was cut (present only then)"},
    STR("msgid", msgid, SL, 32, "MSGID (RFC 5424)"),
    STR("procid", procid, SL, 128, "PROCID (RFC 5424) or the PID of TAG[PID] (RFC 3164)"),
    {.name = "structured_data",
     .kind = EV_FIELD_JSON,
     .offset = OFF(SL, structured_data_json),
     .level = EV_LEVEL_BASIC,
     .doc = "STRUCTURED-DATA as {\"SD-ID\": {\"PARAM\": \"value\"}}; a repeated PARAM's values "
            "as an array"},
    BOOL("structured_data_truncated", structured_data_truncated, SL,
         "true when elements were left out to keep structured_data within 16 KiB"),
    STR("timestamp", timestamp, SL, 32, "TIMESTAMP as sent"),
};
#undef SL

/* ---- merged tables --------------------------------------------------------- */

struct type_table {
    const char *name;
    const struct evi_field *fields;
    size_t count;
    size_t struct_size;
};

#define TABLE(n, f, T)                                                                             \
    {                                                                                              \
        n, f, sizeof(f) / sizeof(f[0]), sizeof(T)                                                  \
    }
static const struct type_table type_tables[EV_TYPE_CUSTOM] = {
    TABLE("code_execution", code_execution_fields, struct ev_code_execution),
    TABLE("security_assessment", security_assessment_fields, struct ev_security_assessment),
    TABLE("container_creation", container_creation_fields, struct ev_container_creation),
    TABLE("resource_violation", resource_violation_fields, struct ev_resource_violation),
    TABLE("security_event", security_event_fields, struct ev_security_event),
    TABLE("system_event", system_event_fields, struct ev_system_event),
    TABLE("syslog", syslog_fields, struct ev_syslog_event),
};

#define COMMON_COUNT (sizeof(common_fields) / sizeof(common_fields[0]))
#define MAX_FIELDS EVI_MAX_FIELDS

static struct evi_field merged_fields[EV_TYPE_CUSTOM][MAX_FIELDS];
static struct evi_schema merged[EV_TYPE_CUSTOM];
static struct evi_set_probe merged_probes[EV_TYPE_CUSTOM][MAX_FIELDS];
/* The lengths of the enum rows' names, for the encoder (evi_field.enum_name_lens). */
#define MAX_ENUM_NAMES 32
static uint8_t merged_enum_lens[EV_TYPE_CUSTOM][MAX_FIELDS][MAX_ENUM_NAMES];
static pthread_once_t merged_once = PTHREAD_ONCE_INIT;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct evi_field *)a)->name, ((const struct evi_field *)b)->name);
}

/*
 * The set test of a merged row (enum evi_set_test) and where it loads: what evi_field_set()
 * reads. -1 for the rows without one (EVI_PLAIN_INT, EVI_DERIVED, objects).
 */
static int set_test_of(const struct evi_field *f, size_t *ret_offset)
{
    *ret_offset = f->offset;
    if (f->flags & EVI_DERIVED) {
        return -1;
    }
    switch (f->kind) {
    case EV_FIELD_STRING:
    case EV_FIELD_DIGEST:
    case EV_FIELD_JSON: return EVI_SET_POINTER;
    case EV_FIELD_INT:
        *ret_offset = f->offset + offsetof(struct ev_opt_int, set);
        return (f->flags & EVI_PLAIN_INT) ? -1 : EVI_SET_FLAG;
    case EV_FIELD_BOOL:
        *ret_offset = f->offset + offsetof(struct ev_opt_bool, set);
        return EVI_SET_FLAG;
    case EV_FIELD_ENUM: return EVI_SET_ENUM;
    case EV_FIELD_STRINGS:
        *ret_offset = f->offset + offsetof(struct ev_strings, count);
        return EVI_SET_COUNT;
    case EV_FIELD_OBJECTS:
        /* The count beside the pointer, as the encoder reads it. */
        *ret_offset = f->offset + sizeof(void *);
        return EVI_SET_COUNT;
    case EV_FIELD_CAPTURE: return EVI_SET_CAPTURE;
    case EV_FIELD_OBJECT: return -1;
    }
    return -1;
}

/* The masks and set probes of merged table s (struct evi_schema). */
static void add_masks(struct evi_schema *s, struct evi_field *fields, struct evi_set_probe *probes)
{
    size_t n = 0;
    s->masks = true;
    for (size_t i = 0; i < s->count; i++) {
        const struct evi_field *f = &fields[i];
        uint64_t bit = (uint64_t)1 << i;
        if (!(f->flags & EVI_DERIVED) && ((f->flags & EVI_REQUIRED) || f->kind == EV_FIELD_OBJECT ||
                                          f->kind == EV_FIELD_OBJECTS)) {
            s->checked |= bit;
        }
        if (f->flags & (EVI_DERIVED | EVI_OUT_DERIVED | EVI_CUT_MARK | EVI_REDACTED)) {
            s->own_rules |= bit;
        }
        if (f->kind == EV_FIELD_INT && (f->flags & EVI_PLAIN_INT) && !(f->flags & EVI_DERIVED)) {
            s->always_set |= bit;
        }
        for (int level = 0; level < 3; level++) {
            if ((int)f->level <= level) {
                s->kept[level] |= bit;
            }
        }
    }
    for (int t = 0; t < EVI_SET_TESTS; t++) {
        for (size_t i = 0; i < s->count; i++) {
            size_t offset;
            if (set_test_of(&fields[i], &offset) == t) {
                probes[n++] = (struct evi_set_probe){(uint32_t)offset, (uint32_t)i};
            }
        }
        s->probe_end[t] = (uint8_t)n;
    }
    s->probes = probes;
}

static void merge(void)
{
    for (size_t t = 0; t < EV_TYPE_CUSTOM; t++) {
        const struct type_table *tt = &type_tables[t];
        size_t n = 0;
        for (size_t i = 0; i < COMMON_COUNT && n < MAX_FIELDS; i++) {
            merged_fields[t][n++] = common_fields[i];
        }
        for (size_t i = 0; i < tt->count && n < MAX_FIELDS; i++) {
            merged_fields[t][n++] = tt->fields[i];
        }
        qsort(merged_fields[t], n, sizeof(struct evi_field), by_name);
        struct evi_schema *s = &merged[t];
        *s = (struct evi_schema){.name = tt->name,
                                 .fields = merged_fields[t],
                                 .count = n,
                                 .struct_size = tt->struct_size};
        for (size_t i = 0; i < n; i++) {
            struct evi_field *f = &merged_fields[t][i];
            f->name_len = strlen(f->name);
            while (f->kind == EV_FIELD_ENUM && f->enum_names[f->enum_count] != NULL) {
                f->enum_count++;
            }
            if (f->kind == EV_FIELD_ENUM && f->enum_count <= MAX_ENUM_NAMES) {
                bool fits = true;
                for (size_t v = 0; v < f->enum_count; v++) {
                    size_t len = strlen(f->enum_names[v]);
                    fits = fits && len <= UINT8_MAX;
                    merged_enum_lens[t][i][v] = (uint8_t)len;
                }
                f->enum_name_lens = fits ? merged_enum_lens[t][i] : NULL;
            }
        }
        add_masks(s, merged_fields[t], merged_probes[t]);
    }
}

const struct evi_schema *evi_schema_of(enum ev_event_type type)
{
    if ((unsigned)type >= EV_TYPE_CUSTOM) {
        return NULL;
    }
    (void)pthread_once(&merged_once, merge);
    return &merged[type];
}

const struct evi_field *evi_schema_field(const struct evi_schema *schema, const char *name,
                                         size_t n)
{
    for (size_t i = 0; i < schema->count; i++) {
        const char *f = schema->fields[i].name;
        if (evi_field_name_len(&schema->fields[i]) == n && memcmp(f, name, n) == 0) {
            return &schema->fields[i];
        }
    }
    return NULL;
}

void evi_enum_list(const struct evi_field *field, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 1; field->enum_names[i] != NULL; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", i > 1 ? ", " : "", field->enum_names[i]);
        if (n < 0 || (size_t)n >= cap - len) {
            break;
        }
        len += (size_t)n;
    }
}

void evi_schema_input_fields(const struct evi_schema *schema, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < schema->count; i++) {
        if (schema->fields[i].flags & EVI_DERIVED) {
            continue;
        }
        int n = snprintf(out + len, cap - len, "%s%s", len > 0 ? ", " : "", schema->fields[i].name);
        if (n < 0 || (size_t)n >= cap - len) {
            break;
        }
        len += (size_t)n;
    }
}
