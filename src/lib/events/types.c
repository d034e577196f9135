/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What each built-in type works out for itself: its name, its default
 * severity, and the derived fields (finding counts, the score, the order of
 * findings, a container's risky settings). docs/EVENTS.md documents each rule.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "events/events.h"

static const char *const type_names[EV_TYPE_COUNT] = {
    "code_execution",
    "security_assessment",
    "container_creation",
    "resource_violation",
    "security_event",
    "system_event",
    "syslog",
    "custom",
};

const char *ev_event_type_name(enum ev_event_type type)
{
    return (unsigned)type < EV_TYPE_COUNT ? type_names[type] : NULL;
}

static bool type_char(char c, bool first)
{
    if (c >= 'a' && c <= 'z') {
        return true;
    }
    return !first && ((c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-');
}

int ev_event_type_parse(const char *name, enum ev_event_type *ret_type)
{
    if (name == NULL) {
        return evi_error(EV_EFORMAT, "event type missing");
    }
    /* A prepared event's type is one of these very pointers (prepare.c): found without a
     * strcmp() per type. */
    for (size_t t = 0; t < EV_TYPE_CUSTOM; t++) {
        if (name == type_names[t]) {
            *ret_type = (enum ev_event_type)t;
            return 0;
        }
    }
    for (size_t t = 0; t < EV_TYPE_CUSTOM; t++) {
        if (strcmp(name, type_names[t]) == 0) {
            *ret_type = (enum ev_event_type)t;
            return 0;
        }
    }
    size_t plen = strlen(EV_CUSTOM_PREFIX), len = strlen(name);
    if (len > plen && len <= 64 && strncmp(name, EV_CUSTOM_PREFIX, plen) == 0) {
        for (size_t i = plen; i < len; i++) {
            if (!type_char(name[i], false)) {
                return evi_error(EV_EFORMAT,
                                 "event type '%.64s': custom names use only [a-z0-9_.:-]", name);
            }
        }
        *ret_type = EV_TYPE_CUSTOM;
        return 0;
    }
    return evi_error(EV_EFORMAT,
                     "unknown event type '%.64s': the built-in types are code_execution, "
                     "security_assessment, container_creation, resource_violation, "
                     "security_event, system_event and syslog; custom types are named "
                     "'" EV_CUSTOM_PREFIX "NAME' (NAME: up to %zu of [a-z0-9_.:-])",
                     name, 64 - plen);
}

static const char *const level_names[] = {"minimal", "basic", "comprehensive"};

int ev_level_parse(const char *name, enum ev_level *ret_level)
{
    for (size_t i = 0; name != NULL && i < 3; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *ret_level = (enum ev_level)i;
            return 0;
        }
    }
    return evi_error(EV_EFORMAT, "level '%.32s': expected minimal, basic or comprehensive",
                     name != NULL ? name : "");
}

const char *ev_level_name(enum ev_level level)
{
    return (unsigned)level < 3 ? level_names[level] : NULL;
}

int ev_finding_severity_parse(const char *name, enum ev_finding_severity *ret)
{
    for (size_t i = 1; name != NULL && evi_finding_severity_names[i] != NULL; i++) {
        if (strcmp(name, evi_finding_severity_names[i]) == 0) {
            *ret = (enum ev_finding_severity)i;
            return 0;
        }
    }
    return evi_error(EV_EFORMAT,
                     "finding severity '%.32s': expected critical, high, medium, low or info",
                     name != NULL ? name : "");
}

const char *ev_finding_severity_name(enum ev_finding_severity severity)
{
    return severity > EV_FINDING_UNSET && severity <= EV_FINDING_CRITICAL
               ? evi_finding_severity_names[severity]
               : NULL;
}

/* ---- security_assessment ----------------------------------------------------- */

static int64_t *count_of(struct ev_finding_counts *c, enum ev_finding_severity s)
{
    switch (s) {
    case EV_FINDING_CRITICAL: return &c->critical;
    case EV_FINDING_HIGH: return &c->high;
    case EV_FINDING_MEDIUM: return &c->medium;
    case EV_FINDING_LOW: return &c->low;
    default: return &c->info;
    }
}

static int derive_assessment(const struct ev_security_assessment *e, struct evi_derived *d,
                             struct evi_arena *arena)
{
    if (e->counts_set) {
        d->counts = e->counts;
    } else {
        for (size_t i = 0; i < e->finding_count; i++) {
            (*count_of(&d->counts, e->findings[i].severity))++;
        }
    }
    const struct ev_finding_counts *c = &d->counts;
    d->findings_total = EV_SOME_INT(c->critical + c->high + c->medium + c->low + c->info);
    if (e->score.set) {
        d->score = e->score;
    } else {
        /* Saturate before multiplying: counts may be as large as INT64_MAX / 8. */
        int64_t penalty = 100;
        if (c->critical < 4 && c->high < 10 && c->medium < 34 && c->low < 100) {
            penalty = 25 * c->critical + 10 * c->high + 3 * c->medium + c->low;
        }
        d->score = EV_SOME_INT(penalty >= 100 ? 0 : 100 - penalty);
    }
    d->finding_count = e->finding_count;
    d->findings = e->findings;
    if (e->finding_count > 1) {
        /* Most severe first, the scanner's order kept among equals: one pass per severity. */
        struct ev_finding *sorted =
            evi_arena_alloc(arena, e->finding_count * sizeof(struct ev_finding));
        if (sorted == NULL) {
            return -ENOMEM;
        }
        size_t n = 0;
        for (int s = EV_FINDING_CRITICAL; s >= EV_FINDING_UNSET; s--) {
            for (size_t i = 0; i < e->finding_count; i++) {
                if ((int)e->findings[i].severity == s) {
                    sorted[n++] = e->findings[i];
                }
            }
        }
        d->findings = sorted;
    }
    return 0;
}

/* ---- container_creation ------------------------------------------------------ */

static bool has_cap(const struct ev_strings *caps, const char *name)
{
    for (size_t i = 0; i < caps->count; i++) {
        const char *c = caps->items[i];
        if (c == NULL) {
            continue;
        }
        if (strncasecmp(c, "CAP_", 4) == 0) {
            c += 4;
        }
        if (strcasecmp(c, name) == 0) {
            return true;
        }
    }
    return false;
}

static bool eq(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static bool starts(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Host paths a container should not see, as prefixes of a bind mount's source. */
static bool sensitive_path(const char *p)
{
    static const char *const paths[] = {"/etc", "/root",           "/boot",    "/proc", "/sys",
                                        "/dev", "/var/lib/docker", "/var/run", "/run",  "/home"};
    if (p == NULL) {
        return false;
    }
    if (strcmp(p, "/") == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        size_t n = strlen(paths[i]);
        if (strncmp(p, paths[i], n) == 0 && (p[n] == '\0' || p[n] == '/')) {
            return true;
        }
    }
    return false;
}

static const char *const dangerous_caps[][2] = {
    {"ALL", "cap_all"},
    {"SYS_ADMIN", "cap_sys_admin"},
    {"SYS_PTRACE", "cap_sys_ptrace"},
    {"SYS_MODULE", "cap_sys_module"},
    {"SYS_RAWIO", "cap_sys_rawio"},
    {"NET_ADMIN", "cap_net_admin"},
    {"NET_RAW", "cap_net_raw"},
    {"DAC_READ_SEARCH", "cap_dac_read_search"},
    {"SYS_BOOT", "cap_sys_boot"},
    {"BPF", "cap_bpf"},
};

size_t ev_container_risks(const struct ev_container_creation *c, const char **ret, size_t cap)
{
    size_t n = 0;
#define RISK(cond, name)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            if (n < cap) {                                                                         \
                ret[n] = name;                                                                     \
            }                                                                                      \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)
    RISK(c->privileged.set && c->privileged.value, "privileged");
    RISK(c->user == NULL || c->user[0] == '\0' || eq(c->user, "root") || eq(c->user, "0") ||
             starts(c->user, "0:") || starts(c->user, "root:"),
         "runs_as_root");
    for (size_t i = 0; i < sizeof(dangerous_caps) / sizeof(dangerous_caps[0]); i++) {
        RISK(has_cap(&c->cap_add, dangerous_caps[i][0]), dangerous_caps[i][1]);
    }
    RISK(!(c->read_only_rootfs.set && c->read_only_rootfs.value), "writable_rootfs");
    RISK(eq(c->seccomp_profile, "unconfined"), "seccomp_unconfined");
    RISK(eq(c->apparmor_profile, "unconfined"), "apparmor_unconfined");
    RISK(!(c->no_new_privileges.set && c->no_new_privileges.value), "new_privileges_allowed");
    RISK(eq(c->network_mode, "host"), "host_network");
    RISK(eq(c->pid_mode, "host"), "host_pid");
    bool socket = false, sensitive = false;
    for (size_t i = 0; i < c->mount_count; i++) {
        const struct ev_mount *m = &c->mounts[i];
        const char *s = m->source;
        if (s != NULL && (strstr(s, "docker.sock") != NULL || strstr(s, "podman.sock") != NULL ||
                          strstr(s, "containerd.sock") != NULL)) {
            socket = true;
        } else if (sensitive_path(s) && !(eq(m->type, "volume") || eq(m->type, "tmpfs"))) {
            sensitive = true;
        }
    }
    RISK(socket, "container_socket_mount");
    RISK(sensitive, "sensitive_host_mount");
    RISK(!c->memory_limit_bytes.set || c->memory_limit_bytes.value == 0, "no_memory_limit");
    RISK(!c->pids_limit.set || c->pids_limit.value == 0, "no_pids_limit");
    RISK(!c->cpu_millicores.set || c->cpu_millicores.value == 0, "no_cpu_limit");
#undef RISK
    return n;
}

/* Risks that let the container take over its host: the event is an error, not a warning. */
static bool escape_risk(const char *risk)
{
    static const char *const names[] = {"privileged",
                                        "cap_all",
                                        "cap_sys_admin",
                                        "cap_sys_module",
                                        "container_socket_mount",
                                        "host_pid",
                                        "sensitive_host_mount"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(risk, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- every type ---------------------------------------------------------------- */

int evi_event_derive(enum ev_event_type type, const void *event, struct evi_derived *d,
                     struct evi_arena *arena)
{
    memset(d, 0, sizeof(*d));
    switch (type) {
    case EV_TYPE_SECURITY_ASSESSMENT: return derive_assessment(event, d, arena);
    case EV_TYPE_CONTAINER_CREATION: {
        size_t n = ev_container_risks(event, d->risk_names, EVI_MAX_RISKS);
        d->risks.items = d->risk_names;
        d->risks.count = n < EVI_MAX_RISKS ? n : EVI_MAX_RISKS;
        return 0;
    }
    default: return 0;
    }
}

int evi_event_default_severity(enum ev_event_type type, const void *event,
                               const struct evi_derived *d)
{
    const struct ev_common *common = event;
    switch (type) {
    case EV_TYPE_CODE_EXECUTION:
        if (common->outcome == EV_OUTCOME_DENIED) {
            return EV_SEV_WARNING;
        }
        return common->outcome == EV_OUTCOME_FAILURE ? EV_SEV_NOTICE : EV_SEV_INFO;
    case EV_TYPE_SECURITY_ASSESSMENT:
        if (d->counts.critical > 0) {
            return EV_SEV_CRITICAL;
        }
        if (d->counts.high > 0) {
            return EV_SEV_ERROR;
        }
        if (d->counts.medium > 0) {
            return EV_SEV_WARNING;
        }
        return d->counts.low > 0 ? EV_SEV_NOTICE : EV_SEV_INFO;
    case EV_TYPE_CONTAINER_CREATION:
        for (size_t i = 0; i < d->risks.count; i++) {
            if (escape_risk(d->risks.items[i])) {
                return EV_SEV_ERROR;
            }
        }
        return d->risks.count > 0 ? EV_SEV_NOTICE : EV_SEV_INFO;
    case EV_TYPE_RESOURCE_VIOLATION: {
        const struct ev_resource_violation *v = event;
        switch (v->action) {
        case EV_ACTION_KILLED: return EV_SEV_ERROR;
        case EV_ACTION_DENIED:
        case EV_ACTION_THROTTLED: return EV_SEV_WARNING;
        default: return EV_SEV_NOTICE;
        }
    }
    case EV_TYPE_SECURITY_EVENT:
        return common->outcome == EV_OUTCOME_SUCCESS ? EV_SEV_NOTICE : EV_SEV_WARNING;
    case EV_TYPE_SYSLOG: return EV_SEV_NOTICE; /* ev_syslog_prepare() gives the message's */
    default: return EV_SEV_INFO;
    }
}
