/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's metrics (src/daemon/metrics.c): every rendering is parsed by a
 * strict Prometheus text format 0.0.4 checker (below) before any value is
 * looked at; values are looked up by name and exact label set.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <evident/event.h>

#include "metrics.h"

/* ---- a strict exposition parser ------------------------------------------------ */

#define MAX_SAMPLES 4096
#define MAX_LABELS 8
#define MAX_FAMILIES 128

struct sample {
    char name[128];
    char label_names[MAX_LABELS][64];
    char label_values[MAX_LABELS][128];
    size_t label_count;
    double value;
    char value_text[64];
};

struct family {
    char name[128];
    char type[16];
    bool help;
};

struct exposition {
    struct sample samples[MAX_SAMPLES];
    size_t sample_count;
    struct family families[MAX_FAMILIES];
    size_t family_count;
};

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && isdigit((unsigned char)c));
}

/* Reads a metric or label name at *p into out; false if there is none. */
static bool parse_name(const char **p, char *out, size_t cap, bool metric)
{
    size_t n = 0;

    if (!name_char(**p, true) || (!metric && **p == ':')) {
        return false;
    }
    while (name_char(**p, false) && (metric || **p != ':')) {
        if (n + 1 >= cap) {
            return false;
        }
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
    return true;
}

static struct family *find_family(struct exposition *e, const char *name)
{
    for (size_t i = 0; i < e->family_count; i++) {
        if (strcmp(e->families[i].name, name) == 0) {
            return &e->families[i];
        }
    }
    return NULL;
}

/* The family a sample belongs to: itself, or a histogram's _bucket/_sum/_count. */
static struct family *family_of(struct exposition *e, const char *sample_name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    struct family *f = find_family(e, sample_name);

    if (f != NULL) {
        return f;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(sample_name), s = strlen(suffixes[i]);
        if (n > s && strcmp(sample_name + n - s, suffixes[i]) == 0) {
            char base[128];
            (void)snprintf(base, sizeof(base), "%.*s", (int)(n - s), sample_name);
            f = find_family(e, base);
            if (f != NULL && strcmp(f->type, "histogram") == 0) {
                return f;
            }
        }
    }
    return NULL;
}

static bool parse_value(const char *text, double *ret)
{
    char *end;

    if (strcmp(text, "+Inf") == 0 || strcmp(text, "-Inf") == 0 || strcmp(text, "NaN") == 0) {
        return false; /* legal in the format, but evidentd never renders them */
    }
    if (text[0] == '\0') {
        return false;
    }
    *ret = strtod(text, &end);
    return *end == '\0' && isfinite(*ret);
}

/* Why a parse failed, naming the line; set by CHECK. */
static char parse_error[1200];

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (void)snprintf(parse_error, sizeof(parse_error), "%s: in line '%s'", #cond, buf);      \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* Parses text as strict text format 0.0.4 into e; false (parse_error says why) if it is not. */
static bool parse_exposition(const char *text, size_t len, struct exposition *e)
{
    const char *line = text;
    struct family *current = NULL;
    char buf[1024] = "";

    memset(e, 0, sizeof(*e));
    CHECK(strlen(text) == len);
    CHECK(len > 0 && text[len - 1] == '\n');
    while (*line != '\0') {
        const char *eol = strchr(line, '\n');
        const char *p = buf;

        CHECK(eol != NULL);
        CHECK((size_t)(eol - line) < sizeof(buf));
        memcpy(buf, line, (size_t)(eol - line));
        buf[eol - line] = '\0';
        line = eol + 1;
        CHECK(buf[0] != '\0'); /* no empty lines */

        if (strncmp(buf, "# HELP ", 7) == 0 || strncmp(buf, "# TYPE ", 7) == 0) {
            char name[128];
            bool help = buf[2] == 'H';
            p = buf + 7;
            CHECK(parse_name(&p, name, sizeof(name), true));
            CHECK(*p == ' ');
            p++;
            struct family *f = find_family(e, name);
            if (f == NULL) {
                CHECK(e->family_count < MAX_FAMILIES);
                f = &e->families[e->family_count++];
                (void)snprintf(f->name, sizeof(f->name), "%s", name);
            } else {
                /* a family's metadata comes together, before its samples */
                CHECK(f == current);
            }
            if (help) {
                CHECK(!f->help);
                CHECK(strlen(p) > 0);
                f->help = true;
            } else {
                CHECK(f->type[0] == '\0');
                CHECK(strcmp(p, "counter") == 0 || strcmp(p, "gauge") == 0 ||
                      strcmp(p, "histogram") == 0);
                (void)snprintf(f->type, sizeof(f->type), "%s", p);
            }
            current = f;
            continue;
        }
        CHECK(buf[0] != '#');

        CHECK(e->sample_count < MAX_SAMPLES);
        struct sample *s = &e->samples[e->sample_count++];
        CHECK(parse_name(&p, s->name, sizeof(s->name), true));
        if (*p == '{') {
            p++;
            while (*p != '}') {
                CHECK(s->label_count < MAX_LABELS);
                CHECK(parse_name(&p, s->label_names[s->label_count], 64, false));
                CHECK(*p++ == '=');
                CHECK(*p++ == '"');
                size_t n = 0;
                while (*p != '"') {
                    CHECK(*p != '\0');
                    if (*p == '\\') {
                        p++;
                        CHECK(*p == '\\' || *p == '"' || *p == 'n');
                    }
                    CHECK(n + 1 < 128);
                    s->label_values[s->label_count][n++] = *p++;
                }
                s->label_values[s->label_count][n] = '\0';
                for (size_t i = 0; i < s->label_count; i++) {
                    CHECK(strcmp(s->label_names[i], s->label_names[s->label_count]) != 0);
                }
                s->label_count++;
                p++;
                if (*p == ',') {
                    p++;
                    CHECK(*p != '}');
                } else {
                    CHECK(*p == '}');
                }
            }
            p++;
        }
        CHECK(*p++ == ' ');
        (void)snprintf(s->value_text, sizeof(s->value_text), "%s", p);
        CHECK(parse_value(s->value_text, &s->value));
        /* the sample belongs to the family whose TYPE came last */
        struct family *f = family_of(e, s->name);
        CHECK(f != NULL);
        CHECK(f == current);
        CHECK(f->help && f->type[0] != '\0');
        if (strcmp(f->type, "counter") == 0) {
            CHECK(s->value >= 0);
        }
        /* no series twice */
        for (size_t i = 0; i + 1 < e->sample_count; i++) {
            const struct sample *o = &e->samples[i];
            bool same = strcmp(o->name, s->name) == 0 && o->label_count == s->label_count;
            for (size_t l = 0; same && l < s->label_count; l++) {
                same = strcmp(o->label_names[l], s->label_names[l]) == 0 &&
                       strcmp(o->label_values[l], s->label_values[l]) == 0;
            }
            CHECK(!same);
        }
    }
    for (size_t i = 0; i < e->family_count; i++) {
        (void)snprintf(buf, sizeof(buf), "%s", e->families[i].name);
        CHECK(e->families[i].help && e->families[i].type[0] != '\0');
    }
    return true;
}

/* The sample named name with exactly the labels "k=v", ... (in any order); NULL if none. */
static const struct sample *find_sample(const struct exposition *e, const char *name,
                                        size_t label_count, ...)
{
    char names[MAX_LABELS][64], values[MAX_LABELS][128];
    va_list ap;

    assert_true(label_count <= MAX_LABELS);
    va_start(ap, label_count);
    for (size_t i = 0; i < label_count; i++) {
        const char *kv = va_arg(ap, const char *);
        const char *eq = strchr(kv, '=');
        assert_non_null(eq);
        (void)snprintf(names[i], sizeof(names[i]), "%.*s", (int)(eq - kv), kv);
        (void)snprintf(values[i], sizeof(values[i]), "%s", eq + 1);
    }
    va_end(ap);
    for (size_t i = 0; i < e->sample_count; i++) {
        const struct sample *s = &e->samples[i];
        if (strcmp(s->name, name) != 0 || s->label_count != label_count) {
            continue;
        }
        size_t matched = 0;
        for (size_t a = 0; a < label_count; a++) {
            for (size_t b = 0; b < label_count; b++) {
                if (strcmp(s->label_names[b], names[a]) == 0 &&
                    strcmp(s->label_values[b], values[a]) == 0) {
                    matched++;
                }
            }
        }
        if (matched == label_count) {
            return s;
        }
    }
    return NULL;
}

static size_t count_samples(const struct exposition *e, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < e->sample_count; i++) {
        n += strcmp(e->samples[i].name, name) == 0;
    }
    return n;
}

#define assert_value(e, text, name, ...)                                                           \
    do {                                                                                           \
        const struct sample *s_ = find_sample(e, name, __VA_ARGS__);                               \
        if (s_ == NULL) {                                                                          \
            fail_msg("no sample %s", name);                                                        \
        }                                                                                          \
        assert_string_equal(s_->value_text, text);                                                 \
    } while (0)

static struct exposition *render(struct evd_metrics *m, const struct evd_gauges *g)
{
    struct exposition *e = malloc(sizeof(*e));
    char *text = NULL;
    size_t len = 0;

    assert_non_null(e);
    assert_int_equal(evd_metrics_render(m, g, &text, &len), 0);
    if (!parse_exposition(text, len, e)) {
        fail_msg("not text format 0.0.4: %s", parse_error);
    }
    free(text);
    return e;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(evd_source_name(EVD_SRC_UNIX), "unix");
    assert_string_equal(evd_source_name(EVD_SRC_HTTP), "http");
    assert_string_equal(evd_source_name(EVD_SRC_SYSLOG_TCP), "syslog_tcp");
    assert_string_equal(evd_source_name(EVD_SRC_SYSLOG_UDP), "syslog_udp");
    assert_string_equal(evd_source_name(EVD_SRC_DAEMON), "evidentd");
    assert_null(evd_source_name(EVD_SRC_COUNT));
    assert_string_equal(evd_reject_name(EVD_REJ_MALFORMED), "malformed");
    assert_string_equal(evd_reject_name(EVD_REJ_TOO_BIG), "too_big");
    assert_string_equal(evd_reject_name(EVD_REJ_UNAUTHORIZED), "unauthorized");
    assert_string_equal(evd_reject_name(EVD_REJ_FORBIDDEN), "forbidden");
    assert_string_equal(evd_reject_name(EVD_REJ_OVERLOAD), "overload");
    assert_string_equal(evd_reject_name(EVD_REJ_POLICY), "policy");
    assert_string_equal(evd_reject_name(EVD_REJ_STORAGE), "storage");
    assert_null(evd_reject_name(EVD_REJ_COUNT));
}

/* A fresh registry: every family present, every known series at 0, optional gauges absent. */
static void test_fresh(void **state)
{
    struct evd_metrics *m;
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    struct exposition *e = render(m, NULL);
    static const char *const families[] = {
        "evident_build_info",
        "evident_up",
        "evident_healthy",
        "evident_uptime_seconds",
        "evident_events_total",
        "evident_rejected_total",
        "evident_queue_depth",
        "evident_queue_capacity",
        "evident_commit_batch_events",
        "evident_append_seconds",
        "evident_fdatasync_seconds",
        "evident_ack_seconds",
        "evident_tree_size",
        "evident_checkpoint_tree_size",
        "evident_seconds_since_seal",
        "evident_seconds_since_checkpoint",
        "evident_verification_runs_total",
        "evident_verification_failures_total",
        "evident_retention_runs_total",
        "evident_retention_failures_total",
        "evident_retention_pruned_entries_total",
        "evident_retention_freed_bytes_total",
        "evident_alerts_raised_total",
        "evident_alerts_delivered_total",
        "evident_alerts_failed_total",
        "evident_alerts_dropped_total",
        "evident_connections",
        "evident_stream_connections",
        "evident_disk_free_bytes",
        "evident_log_disk_bytes",
        "evident_direct_io",
        "evident_direct_write_bytes_total",
        "evident_preallocation_active",
        "evident_preallocated_bytes_total",
        "evident_preallocation_failures_total",
        "evident_inplace_sync",
        "evident_inplace_syncs_total",
        "evident_fsync_gap",
        "evident_disk_state",
        "evident_disk_needed_bytes",
        "evident_disk_held_events",
        "evident_disk_full_total",
        "evident_disk_enospc_total",
        "evident_disk_space_left_total",
        "evident_disk_admin_space_left_total",
        "evident_log_reopens_total",
        "evident_backups_total",
        "evident_backup_failures_total",
        "evident_backup_last_success_timestamp_seconds",
        "evident_backup_last_tree_size",
        "evident_backup_last_copied_bytes",
        "evident_backup_generations",
    };
    assert_int_equal(e->family_count, sizeof(families) / sizeof(families[0]));
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        assert_non_null(find_family(e, families[i]));
    }
    /* every source x type, by the library's own type names */
    assert_int_equal(count_samples(e, "evident_events_total"), EVD_SRC_COUNT * EV_TYPE_COUNT);
    for (int s = 0; s < EVD_SRC_COUNT; s++) {
        char source[64], type[64];
        (void)snprintf(source, sizeof(source), "source=%s", evd_source_name(s));
        for (int t = 0; t < EV_TYPE_COUNT; t++) {
            (void)snprintf(type, sizeof(type), "type=%s", ev_event_type_name(t));
            assert_value(e, "0", "evident_events_total", 2, source, type);
        }
        for (int r = 0; r < EVD_REJ_COUNT; r++) {
            char reason[64];
            (void)snprintf(reason, sizeof(reason), "reason=%s", evd_reject_name(r));
            assert_value(e, "0", "evident_rejected_total", 2, source, reason);
        }
    }
    assert_int_equal(count_samples(e, "evident_rejected_total"), EVD_SRC_COUNT * EVD_REJ_COUNT);
    assert_value(e, "1", "evident_up", 0);
    assert_value(e, "0", "evident_healthy", 0);
    assert_value(e, "0", "evident_disk_state", 0);
    assert_int_equal(count_samples(e, "evident_backup_last_success_timestamp_seconds"), 0);
    assert_value(e, "0", "evident_connections", 0);
    assert_int_equal(count_samples(e, "evident_seconds_since_seal"), 0);
    assert_int_equal(count_samples(e, "evident_seconds_since_checkpoint"), 0);
    assert_int_equal(count_samples(e, "evident_build_info"), 1);
    assert_value(e, "0", "evident_commit_batch_events_count", 0);
    assert_value(e, "0.000000000", "evident_fdatasync_seconds_sum", 0);
    free(e);
    evd_metrics_free(m);
    evd_metrics_free(NULL);
}

static void test_counters_and_gauges(void **state)
{
    struct evd_metrics *m;
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    evd_metrics_events(m, EVD_SRC_UNIX, "security_event", 3);
    evd_metrics_events(m, EVD_SRC_UNIX, "security_event", 4);
    evd_metrics_events(m, EVD_SRC_HTTP, "custom.deploy", 2);
    evd_metrics_events(m, EVD_SRC_HTTP, "custom.build:step", 1);
    evd_metrics_events(m, EVD_SRC_SYSLOG_UDP, "code_execution", 5);
    evd_metrics_events(m, EVD_SRC_DAEMON, "seal", 1);          /* the engine's: not an event type */
    evd_metrics_events(m, EVD_SRC_DAEMON, "custom.", 1);       /* invalid custom name */
    evd_metrics_events(m, EVD_SRC_COUNT, "code_execution", 9); /* out of range: ignored */
    evd_metrics_reject(m, EVD_SRC_HTTP, EVD_REJ_TOO_BIG, 2);
    evd_metrics_reject(m, EVD_SRC_SYSLOG_UDP, EVD_REJ_OVERLOAD, 7);
    evd_metrics_reject(m, EVD_SRC_HTTP, EVD_REJ_COUNT, 1); /* ignored */
    evd_metrics_verification(m, true);
    evd_metrics_verification(m, true);
    evd_metrics_verification(m, false);
    evd_metrics_retention(m, true, 9469, 3889443);
    evd_metrics_retention(m, false, 0, 0);
    evd_metrics_retention(m, true, 0, 0);
    evd_metrics_alert_raised(m);
    evd_metrics_alert_raised(m);
    evd_metrics_alert(m, true);
    evd_metrics_alert(m, false);
    evd_metrics_alert(m, false);
    evd_metrics_alert_dropped(m);
    evd_metrics_connections(m, 3);
    evd_metrics_connections(m, -1);
    /* NULL registries are accepted everywhere (tests and optional parts pass NULL) */
    evd_metrics_events(NULL, EVD_SRC_UNIX, "security_event", 1);
    evd_metrics_commit(NULL, 1, 1, 1);
    evd_metrics_alert(NULL, true);

    struct evd_gauges g = {
        .queue_depth = 12,
        .queue_max = 65536,
        .tree_size = 1000,
        .checkpoint_size = 990,
        .seconds_since_seal = 1.5,
        .seconds_since_checkpoint = 0,
        .disk_free_bytes = 123456789012ull,
        .disk_bytes = 4096,
        .io = {.direct_io = true,
               .direct_bytes = 5u << 20,
               .preallocating = false,
               .preallocated_bytes = 3u << 20,
               .preallocation_failures = 2,
               .preallocation_error = -EIO,
               .inplace_sync = true,
               .inplace_syncs = 77,
               .fsync_gap = true},
        .healthy = true,
        .uptime_seconds = 61.25,
        .stream_loops = 2,
        .stream_loop_connections = {5, 4},
    };
    struct exposition *e = render(m, &g);
    assert_value(e, "7", "evident_events_total", 2, "source=unix", "type=security_event");
    assert_value(e, "3", "evident_events_total", 2, "type=custom", "source=http");
    assert_value(e, "5", "evident_events_total", 2, "source=syslog_udp", "type=code_execution");
    assert_value(e, "2", "evident_events_total", 2, "source=evidentd", "type=other");
    assert_value(e, "0", "evident_events_total", 2, "source=unix", "type=custom");
    /* "other" appears only where it happened */
    assert_int_equal(count_samples(e, "evident_events_total"), EVD_SRC_COUNT * EV_TYPE_COUNT + 1);
    assert_value(e, "2", "evident_rejected_total", 2, "source=http", "reason=too_big");
    assert_value(e, "7", "evident_rejected_total", 2, "source=syslog_udp", "reason=overload");
    assert_value(e, "0", "evident_rejected_total", 2, "source=http", "reason=overload");
    assert_value(e, "3", "evident_verification_runs_total", 0);
    assert_value(e, "1", "evident_verification_failures_total", 0);
    assert_value(e, "3", "evident_retention_runs_total", 0);
    assert_value(e, "1", "evident_retention_failures_total", 0);
    assert_value(e, "9469", "evident_retention_pruned_entries_total", 0);
    assert_value(e, "3889443", "evident_retention_freed_bytes_total", 0);
    assert_value(e, "2", "evident_alerts_raised_total", 0);
    assert_value(e, "1", "evident_alerts_delivered_total", 0);
    assert_value(e, "2", "evident_alerts_failed_total", 0);
    assert_value(e, "1", "evident_alerts_dropped_total", 0);
    assert_value(e, "2", "evident_connections", 0);
    assert_value(e, "5", "evident_stream_connections", 1, "loop=0");
    assert_value(e, "4", "evident_stream_connections", 1, "loop=1");
    assert_value(e, "12", "evident_queue_depth", 0);
    assert_value(e, "65536", "evident_queue_capacity", 0);
    assert_value(e, "1000", "evident_tree_size", 0);
    assert_value(e, "990", "evident_checkpoint_tree_size", 0);
    assert_value(e, "1.500", "evident_seconds_since_seal", 0);
    assert_value(e, "0.000", "evident_seconds_since_checkpoint", 0);
    assert_value(e, "123456789012", "evident_disk_free_bytes", 0);
    assert_value(e, "4096", "evident_log_disk_bytes", 0);
    assert_value(e, "1", "evident_direct_io", 0);
    assert_value(e, "5242880", "evident_direct_write_bytes_total", 0);
    assert_value(e, "0", "evident_preallocation_active", 0);
    assert_value(e, "3145728", "evident_preallocated_bytes_total", 0);
    assert_value(e, "2", "evident_preallocation_failures_total", 0);
    assert_string_equal(find_family(e, "evident_preallocation_failures_total")->type, "counter");
    assert_value(e, "1", "evident_inplace_sync", 0);
    assert_value(e, "77", "evident_inplace_syncs_total", 0);
    assert_value(e, "1", "evident_fsync_gap", 0);
    assert_string_equal(find_family(e, "evident_inplace_syncs_total")->type, "counter");
    assert_value(e, "1", "evident_healthy", 0);
    assert_value(e, "61.250", "evident_uptime_seconds", 0);
    assert_value(e, "1", "evident_build_info", 1, "version=" EVIDENT_VERSION);
    assert_string_equal(find_family(e, "evident_events_total")->type, "counter");
    assert_string_equal(find_family(e, "evident_queue_depth")->type, "gauge");
    assert_string_equal(find_family(e, "evident_ack_seconds")->type, "histogram");
    free(e);
    evd_metrics_free(m);
}

/* Checks one histogram: cumulative buckets in order, +Inf last, _count equal to +Inf. */
static void check_histogram(const struct exposition *e, const char *name, const char *const *les,
                            const uint64_t *cumulative, size_t n, const char *sum, uint64_t count)
{
    char bucket[128], sum_name[128], count_name[128], le[64], text[32];
    size_t seen = 0;

    (void)snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    (void)snprintf(sum_name, sizeof(sum_name), "%s_sum", name);
    (void)snprintf(count_name, sizeof(count_name), "%s_count", name);
    for (size_t i = 0; i < e->sample_count; i++) {
        const struct sample *s = &e->samples[i];
        if (strcmp(s->name, bucket) != 0) {
            continue;
        }
        assert_true(seen < n);
        assert_int_equal(s->label_count, 1);
        assert_string_equal(s->label_names[0], "le");
        assert_string_equal(s->label_values[0], les[seen]);
        (void)snprintf(text, sizeof(text), "%llu", (unsigned long long)cumulative[seen]);
        assert_string_equal(s->value_text, text);
        seen++;
    }
    assert_int_equal(seen, n);
    assert_string_equal(les[n - 1], "+Inf");
    (void)snprintf(le, sizeof(le), "le=%s", "+Inf");
    (void)snprintf(text, sizeof(text), "%llu", (unsigned long long)count);
    assert_value(e, text, count_name, 0);
    assert_value(e, sum, sum_name, 0);
    assert_int_equal(cumulative[n - 1], count);
}

static void test_histograms(void **state)
{
    struct evd_metrics *m;
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    evd_metrics_commit(m, 1, 40000, 0);                  /* not synced: no fdatasync sample */
    evd_metrics_commit(m, 3, 60000, 2000000);            /* 60 us, 2 ms */
    evd_metrics_commit(m, 4096, 50000, 50000);           /* on the bounds: le is inclusive */
    evd_metrics_commit(m, 5000, 2000000000, 1500000000); /* above every bound */
    evd_metrics_ack(m, 1);
    evd_metrics_ack(m, 3000000000u);
    evd_metrics_ack(m, 20000000000ull);

    struct exposition *e = render(m, NULL);
    static const char *const batch_le[] = {"1",   "2",   "4",   "8",    "16",   "32",   "64",
                                           "128", "256", "512", "1024", "2048", "4096", "+Inf"};
    static const uint64_t batch_cum[] = {1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4};
    check_histogram(e, "evident_commit_batch_events", batch_le, batch_cum, 14, "9100", 4);

    static const char *const io_le[] = {"0.00005", "0.0001", "0.00025", "0.0005", "0.001",
                                        "0.0025",  "0.005",  "0.01",    "0.025",  "0.05",
                                        "0.1",     "0.25",   "0.5",     "1",      "+Inf"};
    static const uint64_t append_cum[] = {2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4};
    check_histogram(e, "evident_append_seconds", io_le, append_cum, 15, "2.000150000", 4);
    static const uint64_t sync_cum[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3};
    check_histogram(e, "evident_fdatasync_seconds", io_le, sync_cum, 15, "1.502050000", 3);

    static const char *const ack_le[] = {
        "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
        "0.05",    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "10",    "+Inf"};
    static const uint64_t ack_cum[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3};
    check_histogram(e, "evident_ack_seconds", ack_le, ack_cum, 17, "23.000000001", 3);
    free(e);
    evd_metrics_free(m);
}

#define THREADS 8
#define ROUNDS 50000

struct worker {
    struct evd_metrics *m;
    int id;
    pthread_barrier_t *start;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    static const char *const types[] = {"security_event", "custom.a", "custom.b", "system_event"};

    (void)pthread_barrier_wait(w->start);
    for (int i = 0; i < ROUNDS; i++) {
        evd_metrics_events(w->m, (enum evd_source)(i % 2), types[i % 4], 1);
        evd_metrics_reject(w->m, EVD_SRC_HTTP, EVD_REJ_OVERLOAD, 2);
        evd_metrics_commit(w->m, (size_t)(i % 8) + 1, 1000, 100000);
        evd_metrics_ack(w->m, 1000000);
        evd_metrics_connections(w->m, 1);
        evd_metrics_connections(w->m, -1);
        evd_metrics_alert(w->m, (i & 1) != 0);
    }
    return NULL;
}

static void *scrape(void *arg)
{
    struct worker *w = arg;

    (void)pthread_barrier_wait(w->start);
    /* renders while counters move must still be well formed */
    for (int i = 0; i < 50; i++) {
        free(render(w->m, NULL));
    }
    return NULL;
}

static void test_concurrency(void **state)
{
    struct evd_metrics *m;
    pthread_t threads[THREADS + 1];
    struct worker workers[THREADS + 1];
    pthread_barrier_t start;
    char text[32];
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS + 1), 0);
    for (int i = 0; i <= THREADS; i++) {
        workers[i] = (struct worker){.m = m, .id = i, .start = &start};
        assert_int_equal(
            pthread_create(&threads[i], NULL, i < THREADS ? work : scrape, &workers[i]), 0);
    }
    for (int i = 0; i <= THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
    (void)pthread_barrier_destroy(&start);

    struct exposition *e = render(m, NULL);
    const unsigned long long total = (unsigned long long)THREADS * ROUNDS;
    /* i % 2 picks the source, i % 4 the type: unix gets security_event and custom.b */
    (void)snprintf(text, sizeof(text), "%llu", total / 4);
    assert_value(e, text, "evident_events_total", 2, "source=unix", "type=security_event");
    assert_value(e, text, "evident_events_total", 2, "source=unix", "type=custom");
    assert_value(e, text, "evident_events_total", 2, "source=http", "type=custom");
    assert_value(e, text, "evident_events_total", 2, "source=http", "type=system_event");
    (void)snprintf(text, sizeof(text), "%llu", total * 2);
    assert_value(e, text, "evident_rejected_total", 2, "source=http", "reason=overload");
    (void)snprintf(text, sizeof(text), "%llu", total);
    assert_value(e, text, "evident_commit_batch_events_count", 0);
    assert_value(e, text, "evident_commit_batch_events_bucket", 1, "le=+Inf");
    assert_value(e, text, "evident_ack_seconds_count", 0);
    assert_value(e, text, "evident_fdatasync_seconds_bucket", 1, "le=0.0001");
    (void)snprintf(text, sizeof(text), "%llu", total / 8); /* sizes 1..8, one each per 8 */
    assert_value(e, text, "evident_commit_batch_events_bucket", 1, "le=1");
    (void)snprintf(text, sizeof(text), "%llu", total * 36 / 8); /* 1+2+...+8 = 36 */
    assert_value(e, text, "evident_commit_batch_events_sum", 0);
    (void)snprintf(text, sizeof(text), "%llu.%09llu", total / 1000, (total % 1000) * 1000000);
    assert_value(e, text, "evident_ack_seconds_sum", 0);
    (void)snprintf(text, sizeof(text), "%llu", total / 2);
    assert_value(e, text, "evident_alerts_delivered_total", 0);
    assert_value(e, text, "evident_alerts_failed_total", 0);
    assert_value(e, "0", "evident_connections", 0);
    free(e);
    evd_metrics_free(m);
}

/* The checker itself must refuse what Prometheus refuses (a test that cannot fail is a bug). */
static void test_checker_refuses(void **state)
{
    static const char *const bad[] = {
        "a 1",                                                       /* no final newline */
        "a 1\n",                                                     /* no TYPE */
        "# HELP a A.\n# TYPE a gauge\na 1\n\n",                      /* empty line */
        "# HELP a A.\n# TYPE a gauge\na NaN\n",                      /* NaN */
        "# HELP a A.\n# TYPE a gauge\na\n",                          /* no value */
        "# HELP a A.\n# TYPE a gauge\na 1x\n",                       /* not a number */
        "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n", /* twice */
        "# HELP a A.\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",       /* label twice */
        "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",                   /* unquoted */
        "# HELP a A.\n# TYPE a gauge\na{x=\"\\q\"} 1\n",             /* bad escape */
        "# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n",              /* bad label name */
        "# HELP a A.\n# TYPE a summary\na 1\n",                      /* a type we do not render */
        "# HELP a A.\n# TYPE a counter\na -1\n",                     /* negative counter */
        "# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\n", /* out of family */
        "# HELP a A.\n# TYPE a gauge\n# TYPE a gauge\na 1\n",              /* TYPE twice */
        "# HELP a A.\n# TYPE a gauge\nb_count 1\n",       /* _count of no histogram */
        "# TYPE a gauge\na 1\n",                          /* no HELP */
        "# HELP a A.\n# TYPE a gauge\n#a comment\na 1\n", /* stray comment */
        "# HELP 9a A.\n# TYPE 9a gauge\n9a 1\n",          /* bad metric name */
    };
    const char *good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"\\\"\"} 3\n"
                       "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\n"
                       "h_count 1\n";
    struct exposition *e = malloc(sizeof(*e));
    (void)state;

    assert_non_null(e);
    if (!parse_exposition(good, strlen(good), e)) {
        fail_msg("%s", parse_error);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_exposition(bad[i], strlen(bad[i]), e)) {
            fail_msg("accepted bad exposition #%zu: %s", i, bad[i]);
        }
    }
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fresh),
        cmocka_unit_test(test_counters_and_gauges),
        cmocka_unit_test(test_histograms),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_checker_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
