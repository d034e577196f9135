/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Alert rules and webhook delivery (src/daemon/alert.c, webhook.c).
 *
 * Event times are given to evd_alerts_observe() directly, and conditions read
 * a clock the test sets, so windows and quiet periods are tested without
 * sleeping. Webhooks go to a receiver on 127.0.0.1 (libmicrohttpd, ephemeral
 * port) that records each request and can fail the first K of them, or to a
 * socket that listens and never answers, or to a port nobody listens on.
 * Waiting for the threads polls their counts; no test asserts on a duration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>

#include <evident/config.h>
#include <evident/log.h>

#include "alert.h"
#include "metrics.h"
#include "webhook.h"

#define SEC 1000000000ll
#define MAX_SEEN 128

/* ---- a webhook receiver -------------------------------------------------------------- */

struct request {
    char *body;
    char path[256];
    char content_type[128];
    char user_agent[128];
    int status;
};

struct receiver {
    struct MHD_Daemon *daemon;
    unsigned port;
    pthread_mutex_t lock;
    int fail_first; /* answer 500 to this many requests first */
    struct request seen[MAX_SEEN];
    size_t seen_count;
};

struct upload {
    char *data;
    size_t len;
};

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;
    (void)cls, (void)c, (void)toe;

    if (u != NULL) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct receiver *r = cls;
    struct upload *u = *con_cls;
    (void)version;

    if (u == NULL) {
        u = calloc(1, sizeof(*u));
        if (u == NULL) {
            return MHD_NO;
        }
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *data = realloc(u->data, u->len + *upload_data_size + 1);
        if (data == NULL) {
            return MHD_NO;
        }
        memcpy(data + u->len, upload_data, *upload_data_size);
        u->len += *upload_data_size;
        data[u->len] = '\0';
        u->data = data;
        *upload_data_size = 0;
        return MHD_YES;
    }

    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    int status = 200;
    (void)pthread_mutex_lock(&r->lock);
    if (r->fail_first > 0) {
        r->fail_first--;
        status = 500;
    }
    if (r->seen_count < MAX_SEEN && strcmp(method, "POST") == 0) {
        struct request *q = &r->seen[r->seen_count++];
        q->body = strdup(u->data != NULL ? u->data : "");
        (void)snprintf(q->path, sizeof(q->path), "%s", url);
        (void)snprintf(q->content_type, sizeof(q->content_type), "%s", type ? type : "");
        (void)snprintf(q->user_agent, sizeof(q->user_agent), "%s", agent ? agent : "");
        q->status = status;
    }
    (void)pthread_mutex_unlock(&r->lock);

    static char ok_text[] = "{}";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(2, ok_text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, response);
    MHD_destroy_response(response);
    return ret;
}

static struct receiver *receiver_start(int fail_first)
{
    struct receiver *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    assert_int_equal(pthread_mutex_init(&r->lock, NULL), 0);
    r->fail_first = fail_first;
    r->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 answer, r, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
                                 MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(r->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    r->port = info->port;
    assert_true(r->port > 0);
    return r;
}

static size_t receiver_count(struct receiver *r)
{
    (void)pthread_mutex_lock(&r->lock);
    size_t n = r->seen_count;
    (void)pthread_mutex_unlock(&r->lock);
    return n;
}

static void receiver_stop(struct receiver *r)
{
    MHD_stop_daemon(r->daemon);
    for (size_t i = 0; i < r->seen_count; i++) {
        free(r->seen[i].body);
    }
    (void)pthread_mutex_destroy(&r->lock);
    free(r);
}

/* A socket that accepts connections (the kernel's backlog) and never answers. */
static int hanging_listener(unsigned *ret_port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *ret_port = ntohs(addr.sin_port);
    return fd;
}

/* A port that was just free: connections to it are refused. */
static unsigned refused_port(void)
{
    unsigned port;
    int fd = hanging_listener(&port);
    (void)close(fd);
    return port;
}

/* ---- what the alerts hand back ----------------------------------------------------------- */

struct recorded {
    pthread_mutex_t lock;
    char *data[MAX_SEEN];
    int severity[MAX_SEEN];
    size_t count;
    int fail; /* what record returns */
    char *warnings[MAX_SEEN];
    size_t warning_count;
};

static struct recorded seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int record(void *ctx, int severity, const char *data_json)
{
    struct recorded *r = ctx;

    (void)pthread_mutex_lock(&r->lock);
    if (r->count < MAX_SEEN) {
        r->data[r->count] = strdup(data_json);
        r->severity[r->count] = severity;
        r->count++;
    }
    int fail = r->fail;
    (void)pthread_mutex_unlock(&r->lock);
    return fail;
}

static void warned(void *ctx, const char *message)
{
    struct recorded *r = ctx;

    (void)pthread_mutex_lock(&r->lock);
    if (r->warning_count < MAX_SEEN) {
        r->warnings[r->warning_count++] = strdup(message);
    }
    (void)pthread_mutex_unlock(&r->lock);
}

static void seen_reset(void)
{
    for (size_t i = 0; i < seen.count; i++) {
        free(seen.data[i]);
    }
    for (size_t i = 0; i < seen.warning_count; i++) {
        free(seen.warnings[i]);
    }
    seen.count = 0;
    seen.warning_count = 0;
    seen.fail = 0;
}

static atomic_int_least64_t fake_now;

static int64_t fake_clock(void)
{
    return atomic_load(&fake_now);
}

/* ---- set-up ------------------------------------------------------------------------------ */

static struct ev_config *config_new(void)
{
    struct ev_config *c;

    assert_int_equal(ev_config_defaults(&c), 0);
    c->alerting.webhook_timeout_ns = 2 * SEC;
    c->alerting.webhook_retries = 0;
    return c;
}

static void add_rule(struct ev_config *c, const char *name, enum ev_alert_condition condition,
                     const char *type, int min_severity, uint64_t threshold, uint64_t window_ns,
                     const char *webhook)
{
    struct ev_alert_rule *r = &c->alerting.rules[c->alerting.rule_count++];

    memset(r, 0, sizeof(*r));
    r->name = strdup(name);
    r->condition = condition;
    r->type = type != NULL ? strdup(type) : NULL;
    r->min_severity = min_severity;
    r->threshold = threshold;
    r->window_ns = window_ns;
    r->webhook = webhook != NULL ? strdup(webhook) : NULL;
}

static struct evd_alerts *start(const struct ev_config *c, struct evd_metrics *m, bool with_record)
{
    struct evd_alert_options o = {
        .config = c,
        .metrics = m,
        .record = with_record ? record : NULL,
        .record_ctx = &seen,
        .origin = "test.example/log",
        .warn = warned,
        .warn_ctx = &seen,
        .backoff_base_ns = 1000000, /* 1 ms */
        .clock_ns = fake_clock,
    };
    struct evd_alerts *a = NULL;

    seen_reset();
    atomic_store(&fake_now, 1000 * SEC);
    assert_int_equal(evd_alerts_start(&o, &a), 0);
    return a;
}

/* Polls until fn holds; the bound only keeps a broken build from hanging the suite. */
static void wait_for(bool (*fn)(struct evd_alerts *a, void *arg), struct evd_alerts *a, void *arg)
{
    for (int i = 0; i < 60000; i++) {
        if (fn(a, arg)) {
            return;
        }
        struct timespec ts = {.tv_nsec = 1000000};
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("the alert threads never got there");
}

static bool webhook_done(struct evd_alerts *a, void *arg)
{
    struct evd_alert_stats s;
    evd_alerts_stats(a, &s);
    return s.delivered + s.failed + s.dropped >= *(uint64_t *)arg;
}

static bool recorded_count(struct evd_alerts *a, void *arg)
{
    (void)a;
    (void)pthread_mutex_lock(&seen.lock);
    bool done = seen.count >= *(size_t *)arg;
    (void)pthread_mutex_unlock(&seen.lock);
    return done;
}

static bool attempts_made(struct evd_alerts *a, void *arg)
{
    struct evd_alert_stats s;
    evd_alerts_stats(a, &s);
    return s.attempts >= *(uint64_t *)arg;
}

static void wait_recorded(struct evd_alerts *a, size_t n)
{
    wait_for(recorded_count, a, &n);
}

static void wait_webhooks(struct evd_alerts *a, uint64_t n)
{
    wait_for(webhook_done, a, &n);
}

static char *url(unsigned port, const char *path)
{
    char *u = malloc(256);
    assert_non_null(u);
    (void)snprintf(u, 256, "http://127.0.0.1:%u%s", port, path);
    return u;
}

/* The canonical form of a JSON value (keys sorted, compact). */
static char *canonical(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(text);
    return text;
}

static const char *string_of(json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    if (!json_is_string(v)) {
        fail_msg("no string %s", key);
    }
    return json_string_value(v);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Three matching events within the window fire once; the exact record and webhook body. */
static void test_threshold_fires_once(void **state)
{
    struct receiver *r = receiver_start(0);
    struct ev_config *c = config_new();
    char *hook = url(r->port, "/hook/s3cr3t-token");
    struct evd_alert_stats s;
    (void)state;

    add_rule(c, "auth-failures", EV_ALERT_EVENTS, "security_event", EV_SEV_WARNING, 3, 600 * SEC,
             hook);
    struct evd_alerts *a = start(c, NULL, true);
    int64_t t = 5000 * SEC;
    evd_alerts_observe(a, "security_event", EV_SEV_WARNING, 10, t);
    evd_alerts_observe(a, "security_event", EV_SEV_INFO, 11, t + 1); /* not severe enough */
    evd_alerts_observe(a, "system_event", EV_SEV_ERROR, 12, t + 2);  /* another type */
    evd_alerts_observe(a, "custom.security_event", EV_SEV_ERROR, 13, t + 3);
    evd_alerts_observe(a, "security_event", EV_SEV_ERROR, 14, t + 10 * SEC);
    evd_alerts_observe(a, "security_event", EV_SEV_WARNING, 15, t + 20 * SEC); /* fires */
    evd_alerts_observe(a, "security_event", EV_SEV_WARNING, 16, t + 21 * SEC); /* quiet */
    evd_alerts_observe(a, "security_event", EV_SEV_EMERGENCY, 17, t + 22 * SEC);
    evd_alerts_observe(a, "security_event", EV_SEV_WARNING, 18, t + 23 * SEC);
    wait_webhooks(a, 1);
    evd_alerts_stats(a, &s);
    assert_int_equal(s.raised, 1);
    assert_int_equal(s.recorded, 1);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.attempts, 1);
    assert_int_equal(s.failed + s.dropped, 0);
    evd_alerts_stop(a);

    /* the log gets the security_event data, canonical, with the most severe counted severity */
    static const char *const expected =
        "{\"category\":\"alert\",\"description\":\"rule 'auth-failures': 3 security_event "
        "events of severity warning or more severe within 600s\",\"details\":{\"condition\":"
        "\"events\",\"count\":3,\"event_type\":\"security_event\",\"first_index\":10,"
        "\"last_index\":15,\"min_severity\":\"warning\",\"rule\":\"auth-failures\","
        "\"threshold\":3,\"window_seconds\":600}}";
    assert_int_equal(seen.count, 1);
    assert_string_equal(seen.data[0], expected);
    assert_int_equal(seen.severity[0], EV_SEV_ERROR);

    /* the webhook gets one POST with the same description and details */
    assert_int_equal(receiver_count(r), 1);
    struct request *q = &r->seen[0];
    assert_string_equal(q->path, "/hook/s3cr3t-token");
    assert_string_equal(q->content_type, "application/json");
    assert_string_equal(q->user_agent, "evidentd/" EVIDENT_VERSION);
    json_error_t error;
    json_t *body = json_loads(q->body, 0, &error);
    assert_non_null(body);
    assert_int_equal(json_object_size(body), 8);
    assert_string_equal(string_of(body, "rule"), "auth-failures");
    assert_string_equal(string_of(body, "condition"), "events");
    assert_string_equal(string_of(body, "severity"), "error");
    assert_string_equal(string_of(body, "origin"), "test.example/log");
    assert_true(json_is_true(json_object_get(body, "recorded")));
    const char *time_text = string_of(body, "time");
    assert_int_equal(strlen(time_text), strlen("2024-01-01T00:00:00.000Z"));
    assert_true(time_text[10] == 'T' && time_text[23] == 'Z');
    json_t *data = json_loads(expected, 0, &error);
    assert_non_null(data);
    assert_string_equal(string_of(body, "description"), string_of(data, "description"));
    char *got = canonical(json_object_get(body, "details"));
    char *want = canonical(json_object_get(data, "details"));
    assert_string_equal(got, want);
    free(got);
    free(want);
    json_decref(data);
    json_decref(body);

    receiver_stop(r);
    ev_config_free(c);
    free(hook);
}

static void test_below_threshold(void **state)
{
    struct receiver *r = receiver_start(0);
    struct ev_config *c = config_new();
    char *hook = url(r->port, "/");
    (void)state;

    add_rule(c, "three", EV_ALERT_EVENTS, "*", EV_SEV_WARNING, 3, 60 * SEC, hook);
    struct evd_alerts *a = start(c, NULL, true);
    evd_alerts_observe(a, "security_event", EV_SEV_WARNING, 1, 10 * SEC);
    evd_alerts_observe(a, "code_execution", EV_SEV_ERROR, 2, 11 * SEC);
    evd_alerts_observe(a, "custom.x", EV_SEV_NOTICE, 3, 12 * SEC); /* not severe enough */
    evd_alerts_observe(a, "custom.x", EV_SEV_DEBUG, 4, 13 * SEC);
    evd_alerts_stop(a);
    assert_int_equal(seen.count, 0);
    assert_int_equal(receiver_count(r), 0);
    receiver_stop(r);
    ev_config_free(c);
    free(hook);
}

/* Type patterns: "*" any, "custom.*" every custom type, a name only itself. */
static void test_matching(void **state)
{
    struct ev_config *c = config_new();
    struct evd_alert_stats s;
    (void)state;

    add_rule(c, "any", EV_ALERT_EVENTS, "*", EV_SEV_ERROR, 4, 60 * SEC, NULL);
    add_rule(c, "customs", EV_ALERT_EVENTS, "custom.*", EV_SEV_DEBUG, 3, 60 * SEC, NULL);
    add_rule(c, "one", EV_ALERT_EVENTS, "custom.deploy", EV_SEV_DEBUG, 2, 60 * SEC, NULL);
    struct evd_alerts *a = start(c, NULL, true);
    evd_alerts_observe(a, "custom.deploy", EV_SEV_DEBUG, 1, SEC);        /* customs, one */
    evd_alerts_observe(a, "custom.build", EV_SEV_ERROR, 2, 2 * SEC);     /* any, customs */
    evd_alerts_observe(a, "security_event", EV_SEV_ALERT, 3, 3 * SEC);   /* any */
    evd_alerts_observe(a, "customdeploy", EV_SEV_DEBUG, 4, 4 * SEC);     /* none */
    evd_alerts_observe(a, "custom.deploy", EV_SEV_CRITICAL, 5, 5 * SEC); /* customs, one fire */
    wait_recorded(a, 2);
    evd_alerts_observe(a, "system_event", EV_SEV_EMERGENCY, 6, 6 * SEC); /* any fires */
    wait_recorded(a, 3);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    assert_int_equal(s.raised, 3);
    /* in rule order for the event that fired several */
    assert_non_null(strstr(seen.data[0], "\"rule\":\"customs\""));
    assert_non_null(strstr(seen.data[0], "\"first_index\":1,\"last_index\":5"));
    assert_non_null(strstr(seen.data[0], "3 custom.* events of severity debug"));
    assert_int_equal(seen.severity[0], EV_SEV_CRITICAL);
    assert_non_null(strstr(seen.data[1], "\"rule\":\"one\""));
    assert_non_null(strstr(seen.data[1], "\"first_index\":1,\"last_index\":5"));
    assert_int_equal(seen.severity[1], EV_SEV_CRITICAL);
    assert_non_null(strstr(seen.data[2], "\"rule\":\"any\""));
    assert_non_null(strstr(seen.data[2], "4 events of any type of severity error"));
    assert_int_equal(seen.severity[2], EV_SEV_EMERGENCY);
    assert_non_null(strstr(seen.data[2], "\"first_index\":2,\"last_index\":6"));
    ev_config_free(c);
}

/* Events older than the window no longer count. */
static void test_window_expires(void **state)
{
    struct ev_config *c = config_new();
    (void)state;

    add_rule(c, "w", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 3, 10 * SEC, NULL);
    struct evd_alerts *a = start(c, NULL, true);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 100, 0);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 101, 5 * SEC);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 102, 10 * SEC);     /* 100 is 10 s old: out */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 103, 15 * SEC);     /* 101 out */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 104, 20 * SEC - 1); /* 102, 103, 104 */
    evd_alerts_stop(a);
    assert_int_equal(seen.count, 1);
    assert_string_equal(
        seen.data[0],
        "{\"category\":\"alert\",\"description\":\"rule 'w': 3 events of any type of severity "
        "debug or more severe within 10s\",\"details\":{\"condition\":\"events\",\"count\":3,"
        "\"event_type\":\"*\",\"first_index\":102,\"last_index\":104,\"min_severity\":"
        "\"debug\",\"rule\":\"w\",\"threshold\":3,\"window_seconds\":10}}");
    ev_config_free(c);
}

/* After an alert the rule is quiet for one window; events in it count for the next one. */
static void test_quiet_period(void **state)
{
    struct ev_config *c = config_new();
    (void)state;

    add_rule(c, "q", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 2, 10 * SEC, NULL);
    struct evd_alerts *a = start(c, NULL, true);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 1, 100 * SEC);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 2, 101 * SEC); /* fires */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 3, 102 * SEC); /* quiet */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 4, 105 * SEC);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 5, 111 * SEC - 1); /* still quiet */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 6, 111 * SEC);     /* fires: 5 and 6 */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 7, 125 * SEC);     /* alone in its window */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 8, 140 * SEC);
    evd_alerts_stop(a);
    assert_int_equal(seen.count, 2);
    assert_non_null(strstr(seen.data[0], "\"first_index\":1,\"last_index\":2"));
    assert_non_null(strstr(seen.data[1], "\"first_index\":5,\"last_index\":6"));
    ev_config_free(c);
}

static void test_conditions(void **state)
{
    struct receiver *r = receiver_start(0);
    struct ev_config *c = config_new();
    char *hook = url(r->port, "/disk");
    struct evd_alert_stats s;
    (void)state;

    add_rule(c, "disk", EV_ALERT_DISK_LOW, NULL, EV_SEV_WARNING, 1, 60 * SEC, hook);
    add_rule(c, "broken", EV_ALERT_LOGGING_FAILURE, "*", EV_SEV_WARNING, 2, 60 * SEC, NULL);
    add_rule(c, "ev", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 1, 60 * SEC, NULL);
    struct evd_alerts *a = start(c, NULL, true);
    evd_alerts_condition(a, EV_ALERT_DISK_LOW, "12 MiB free"); /* fires */
    atomic_fetch_add(&fake_now, 30 * SEC);
    evd_alerts_condition(a, EV_ALERT_DISK_LOW, "11 MiB free");                  /* quiet */
    evd_alerts_condition(a, EV_ALERT_VERIFICATION_FAILURE, "entry 7: bad tag"); /* no rule */
    evd_alerts_condition(a, EV_ALERT_EVENTS, "not a condition");                /* ignored */
    evd_alerts_condition(a, EV_ALERT_LOGGING_FAILURE, "fdatasync: I/O error");  /* 1 of 2 */
    atomic_fetch_add(&fake_now, 30 * SEC);
    evd_alerts_condition(a, EV_ALERT_DISK_LOW, NULL);                     /* fires again */
    evd_alerts_condition(a, EV_ALERT_LOGGING_FAILURE, "write: \xc3\x28"); /* fires, bad UTF-8 */
    wait_recorded(a, 3);
    wait_webhooks(a, 2);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    evd_alerts_condition(NULL, EV_ALERT_DISK_LOW, "no alerts: nothing happens");
    evd_alerts_observe(NULL, "custom.a", EV_SEV_INFO, 1, 1);

    assert_int_equal(s.raised, 3);
    assert_int_equal(s.delivered, 2);
    assert_int_equal(seen.count, 3);
    assert_string_equal(seen.data[0],
                        "{\"category\":\"alert\",\"description\":\"rule 'disk': free disk space "
                        "is low: 12 MiB free\",\"details\":{\"condition\":\"disk_low\",\"count\":"
                        "1,\"detail\":\"12 MiB free\",\"rule\":\"disk\",\"threshold\":1,"
                        "\"window_seconds\":60}}");
    assert_int_equal(seen.severity[0],
                     EV_SEV_WARNING); /* disk_low; admin_space_left and disk_full rise */
    assert_string_equal(seen.data[1],
                        "{\"category\":\"alert\",\"description\":\"rule 'disk': free disk space "
                        "is low\",\"details\":{\"condition\":\"disk_low\",\"count\":1,\"rule\":"
                        "\"disk\",\"threshold\":1,\"window_seconds\":60}}");
    assert_string_equal(
        seen.data[2],
        "{\"category\":\"alert\",\"description\":\"rule 'broken': the log cannot append: events "
        "are being refused (2 times within 60s): (detail not valid UTF-8)\",\"details\":{"
        "\"condition\":\"logging_failure\",\"count\":2,\"detail\":\"(detail not valid UTF-8)\","
        "\"rule\":\"broken\",\"threshold\":2,\"window_seconds\":60}}");
    assert_int_equal(receiver_count(r), 2);
    json_error_t error;
    json_t *body = json_loads(r->seen[0].body, 0, &error);
    assert_non_null(body);
    assert_string_equal(string_of(body, "condition"), "disk_low");
    assert_string_equal(string_of(body, "severity"), "warning");
    json_decref(body);
    receiver_stop(r);
    ev_config_free(c);
    free(hook);
}

/* A webhook failing twice, then answering 200: delivered on the third attempt. */
static void test_retries(void **state)
{
    struct receiver *r = receiver_start(2);
    struct ev_config *c = config_new();
    char *hook = url(r->port, "/flaky");
    struct evd_metrics *m;
    struct evd_alert_stats s;
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    c->alerting.webhook_retries = 3;
    add_rule(c, "flaky", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 1, 60 * SEC, hook);
    struct evd_alerts *a = start(c, m, false);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 1, SEC);
    wait_webhooks(a, 1);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.attempts, 3);
    assert_int_equal(receiver_count(r), 3);
    assert_int_equal(r->seen[0].status, 500);
    assert_int_equal(r->seen[1].status, 500);
    assert_int_equal(r->seen[2].status, 200);
    /* the same body each time; not recorded (no record callback) */
    assert_string_equal(r->seen[0].body, r->seen[2].body);
    assert_non_null(strstr(r->seen[2].body, "\"recorded\":false"));
    assert_int_equal(seen.warning_count, 0);

    char *text;
    assert_int_equal(evd_metrics_render(m, NULL, &text, NULL), 0);
    assert_non_null(strstr(text, "\nevident_alerts_raised_total 1\n"));
    assert_non_null(strstr(text, "\nevident_alerts_delivered_total 1\n"));
    assert_non_null(strstr(text, "\nevident_alerts_failed_total 0\n"));
    free(text);
    evd_metrics_free(m);
    receiver_stop(r);
    ev_config_free(c);
    free(hook);
}

/* A refused connection: every attempt fails, counted failed; the token never shows. */
static void test_refused(void **state)
{
    struct ev_config *c = config_new();
    char *hook = url(refused_port(), "/hook/s3cr3t-token?key=hunter2");
    struct evd_alert_stats s;
    (void)state;

    c->alerting.webhook_retries = 2;
    add_rule(c, "gone", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 1, 60 * SEC, hook);
    struct evd_alerts *a = start(c, NULL, true);
    seen.fail = -EIO;
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 1, SEC);
    wait_webhooks(a, 1);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.delivered, 0);
    assert_int_equal(s.attempts, 3);
    assert_int_equal(s.record_failed, 1);
    assert_int_equal(seen.warning_count, 2);
    bool said_webhook = false;
    for (size_t i = 0; i < seen.warning_count; i++) {
        assert_null(strstr(seen.warnings[i], "s3cr3t"));
        assert_null(strstr(seen.warnings[i], "hunter2"));
        assert_null(strstr(seen.warnings[i], "/hook"));
        if (strstr(seen.warnings[i], "webhook http://127.0.0.1: alert not delivered after 3 "
                                     "attempts") != NULL) {
            said_webhook = true;
        }
    }
    assert_true(said_webhook);
    ev_config_free(c);
    free(hook);
}

/*
 * A webhook that never answers must not slow down observe: 100,000 alerts
 * while it hangs. Every alert is accounted for, as delivered (none), failed
 * or dropped by a full queue, and stop returns (its deadline aborts the
 * request in flight).
 */
static void test_dead_webhook(void **state)
{
    unsigned port;
    int fd = hanging_listener(&port);
    struct ev_config *c = config_new();
    char *hook = url(port, "/never");
    struct evd_metrics *m;
    struct evd_alert_stats s;
    const uint64_t n = 100000;
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    c->alerting.webhook_timeout_ns = SEC / 5;
    c->alerting.webhook_retries = 1;
    add_rule(c, "storm", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 1, 1, hook); /* window 1 ns */
    struct evd_alerts *a = start(c, m, false);
    for (uint64_t i = 0; i < n; i++) {
        evd_alerts_observe(a, "custom.a", EV_SEV_INFO, i, (int64_t)i);
    }
    evd_alerts_stats(a, &s);
    assert_int_equal(s.raised, n);
    assert_int_equal(s.delivered, 0);
    evd_alerts_stop(a);

    char *text;
    char line[128];
    assert_int_equal(evd_metrics_render(m, NULL, &text, NULL), 0);
    unsigned long long raised = 0, delivered = 1, failed = 0, dropped = 0;
    const char *p = strstr(text, "\nevident_alerts_raised_total ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nevident_alerts_raised_total %llu", &raised), 1);
    p = strstr(text, "\nevident_alerts_delivered_total ");
    assert_int_equal(sscanf(p, "\nevident_alerts_delivered_total %llu", &delivered), 1);
    p = strstr(text, "\nevident_alerts_failed_total ");
    assert_int_equal(sscanf(p, "\nevident_alerts_failed_total %llu", &failed), 1);
    p = strstr(text, "\nevident_alerts_dropped_total ");
    assert_int_equal(sscanf(p, "\nevident_alerts_dropped_total %llu", &dropped), 1);
    free(text);
    assert_int_equal(raised, n);
    assert_int_equal(delivered, 0);
    assert_true(failed >= 1);
    assert_true(dropped > 0); /* the queues are bounded */
    assert_int_equal(failed + dropped, n);
    /* drops are reported a few times (powers of two), not 100,000 times */
    assert_true(seen.warning_count > 0 && seen.warning_count < 64);
    (void)snprintf(line, sizeof(line), "%s", seen.warnings[0]);
    assert_null(strstr(line, "never"));

    (void)close(fd);
    evd_metrics_free(m);
    ev_config_free(c);
    free(hook);
}

static bool receiver_has(struct evd_alerts *a, void *arg)
{
    (void)a;
    return receiver_count(arg) >= 1;
}

/*
 * One dead webhook must not delay another: the alert to a receiver that
 * accepts the connection and never answers goes first, the alert to a healthy
 * receiver second, and the healthy one gets its alert while the dead one is
 * still being held (with one delivery queue for every webhook it waited
 * behind the dead one for the whole webhook_timeout, a minute here). Then the
 * dead one is released (its listener closed: the connection is reset, the
 * retry refused) and counted failed.
 */
static void test_dead_webhook_isolated(void **state)
{
    unsigned dead_port;
    int dead_fd = hanging_listener(&dead_port);
    struct receiver *r = receiver_start(0);
    struct ev_config *c = config_new();
    char *dead_hook = url(dead_port, "/dead/s3cr3t");
    char *hook = url(r->port, "/alive");
    struct evd_alert_stats s;
    uint64_t one = 1;
    (void)state;

    c->alerting.webhook_timeout_ns = 60 * SEC; /* only the release ends the dead request */
    c->alerting.webhook_retries = 1;
    add_rule(c, "dead", EV_ALERT_EVENTS, "custom.dead", EV_SEV_DEBUG, 1, 60 * SEC, dead_hook);
    add_rule(c, "alive", EV_ALERT_EVENTS, "custom.alive", EV_SEV_DEBUG, 1, 60 * SEC, hook);
    struct evd_alerts *a = start(c, NULL, false);
    evd_alerts_observe(a, "custom.dead", EV_SEV_INFO, 1, SEC);
    wait_for(attempts_made, a, &one); /* the dead request is in flight */
    evd_alerts_observe(a, "custom.alive", EV_SEV_INFO, 2, SEC);

    /* 10 s: ample for a local POST, far less than the dead request's 60 s timeout */
    bool alive_first = false;
    for (int i = 0; i < 10000 && !alive_first; i++) {
        alive_first = receiver_has(a, r);
        struct timespec ts = {.tv_nsec = 1000000};
        (void)nanosleep(&ts, NULL);
    }
    if (!alive_first) {
        (void)close(dead_fd); /* lets the old code's stop return */
        fail_msg("the healthy webhook waited behind the dead one");
    }
    wait_webhooks(a, 1);
    evd_alerts_stats(a, &s);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.failed, 0); /* the dead one is still held */
    assert_int_equal(s.attempts, 2);

    (void)close(dead_fd); /* release: reset, then the retry is refused */
    wait_webhooks(a, 2);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    assert_int_equal(s.raised, 2);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.attempts, 3);
    assert_int_equal(receiver_count(r), 1);
    assert_string_equal(r->seen[0].path, "/alive");
    assert_non_null(strstr(r->seen[0].body, "\"rule\":\"alive\""));
    assert_int_equal(seen.warning_count, 1);
    assert_non_null(strstr(seen.warnings[0], "webhook http://127.0.0.1: alert not delivered after "
                                             "2 attempts"));
    assert_null(strstr(seen.warnings[0], "s3cr3t"));
    receiver_stop(r);
    ev_config_free(c);
    free(dead_hook);
    free(hook);
}

/* ---- lanes, through webhook.h directly ---------------------------------------------------- */

static struct evd_webhook *webhook_start(size_t lanes_max, struct evd_metrics *m)
{
    struct evd_webhook_options o = {
        .lanes_max = lanes_max,
        .metrics = m,
        .backoff_base_ns = 1000000, /* 1 ms */
        .warn = warned,
        .warn_ctx = &seen,
    };
    struct evd_webhook *w = NULL;

    seen_reset();
    assert_int_equal(evd_webhook_start(&o, &w), 0);
    return w;
}

static void post_to(struct evd_webhook *w, unsigned port, const char *path, const char *body,
                    uint64_t timeout_ns)
{
    char *u = url(port, path);
    char *b = strdup(body);

    assert_non_null(b);
    assert_int_equal(evd_webhook_post(w, u, b, strlen(b), timeout_ns, 0), 0);
    free(u);
}

/* Polls until attempts requests were made and done posts are delivered or failed. */
static void wait_posts(struct evd_webhook *w, uint64_t attempts, uint64_t done)
{
    struct evd_webhook_stats s;

    for (int i = 0; i < 60000; i++) {
        evd_webhook_stats(w, &s);
        if (s.attempts >= attempts && s.delivered + s.failed >= done) {
            return;
        }
        struct timespec ts = {.tv_nsec = 1000000};
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("the lanes never got there");
}

/*
 * Two lanes (lanes_max 2) and the overflow lane: two held webhooks keep both
 * lanes busy, so three more URLs share the overflow lane, and are delivered
 * there while the two are still held. Once released, the idle lanes are
 * taken over by new URLs, least recently used first. Never more than three
 * threads; posts to one URL arrive in the order posted.
 */
static void test_lanes_bounded(void **state)
{
    unsigned port_a, port_b;
    int fd_a = hanging_listener(&port_a), fd_b = hanging_listener(&port_b);
    struct receiver *r = receiver_start(0);
    struct evd_webhook_stats s;
    char path[64], body[64];
    (void)state;

    struct evd_webhook *w = webhook_start(2, NULL);
    evd_webhook_stats(w, &s);
    assert_int_equal(s.lanes, 1); /* the overflow lane */
    post_to(w, port_a, "/a", "{\"to\":\"a\"}", 60 * SEC);
    post_to(w, port_b, "/b", "{\"to\":\"b\"}", 60 * SEC);
    wait_posts(w, 2, 0); /* both in flight, both lanes busy */
    for (int i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof(path), "/overflow/%d", i);
        post_to(w, r->port, path, "{}", 10 * SEC);
    }
    wait_posts(w, 5, 3);
    evd_webhook_stats(w, &s);
    assert_int_equal(s.delivered, 3);
    assert_int_equal(s.failed, 0); /* a and b are still held */
    assert_int_equal(s.lanes, 3);
    assert_int_equal(receiver_count(r), 3);
    for (int i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof(path), "/overflow/%d", i);
        assert_string_equal(r->seen[i].path, path);
    }

    (void)close(fd_a); /* release both: reset, counted failed (no retries) */
    (void)close(fd_b);
    wait_posts(w, 5, 5);

    /* idle lanes are keyed anew; six URLs, three posts each, in order per URL */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++) {
            (void)snprintf(path, sizeof(path), "/new/%d", i);
            (void)snprintf(body, sizeof(body), "{\"round\":%d}", round);
            post_to(w, r->port, path, body, 10 * SEC);
        }
    }
    wait_posts(w, 23, 23);
    evd_webhook_stats(w, &s);
    evd_webhook_stop(w, evd_webhook_now_ns() + 10 * SEC);
    assert_int_equal(s.delivered, 21);
    assert_int_equal(s.failed, 2);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.attempts, 23);
    assert_int_equal(s.lanes, 3); /* lanes only grow: there never were more */
    assert_int_equal(receiver_count(r), 21);
    for (int i = 0; i < 6; i++) {
        int next_round = 0;
        (void)snprintf(path, sizeof(path), "/new/%d", i);
        for (size_t k = 3; k < receiver_count(r); k++) {
            if (strcmp(r->seen[k].path, path) == 0) {
                (void)snprintf(body, sizeof(body), "{\"round\":%d}", next_round++);
                assert_string_equal(r->seen[k].body, body);
            }
        }
        assert_int_equal(next_round, 3);
    }
    assert_int_equal(seen.warning_count, 2); /* a and b, by host only */
    for (size_t i = 0; i < seen.warning_count; i++) {
        assert_non_null(strstr(seen.warnings[i], "webhook http://127.0.0.1: alert not delivered "
                                                 "after 1 attempt: "));
    }
    receiver_stop(r);
}

/* More distinct URLs than the default bound: every alert delivered, lanes capped at 64 + 1. */
static void test_lanes_default_cap(void **state)
{
    struct receiver *r = receiver_start(0);
    struct evd_webhook_stats s;
    char path[64];
    const int n = 100;
    (void)state;

    struct evd_webhook *w = webhook_start(0, NULL);
    for (int i = 0; i < n; i++) {
        (void)snprintf(path, sizeof(path), "/hook/%d", i);
        post_to(w, r->port, path, "{}", 10 * SEC);
    }
    wait_posts(w, (uint64_t)n, (uint64_t)n);
    evd_webhook_stats(w, &s);
    evd_webhook_stop(w, evd_webhook_now_ns() + 10 * SEC);
    assert_int_equal(s.delivered, n);
    assert_int_equal(s.failed + s.dropped, 0);
    assert_int_equal(s.attempts, n);
    assert_int_equal(s.lanes, EVD_WEBHOOK_LANES_MAX + 1);
    assert_int_equal(receiver_count(r), n);
    assert_int_equal(seen.warning_count, 0);
    receiver_stop(r);
}

/*
 * Stop's deadline holds for every lane at once: two held webhooks, each with
 * a request in flight and one more queued, are aborted at the deadline and
 * all four are counted failed; the one healthy post is delivered.
 */
static void test_lanes_stop(void **state)
{
    unsigned port_a, port_b;
    int fd_a = hanging_listener(&port_a), fd_b = hanging_listener(&port_b);
    struct receiver *r = receiver_start(0);
    struct evd_webhook_stats s;
    struct evd_metrics *m;
    char *text;
    (void)state;

    assert_int_equal(evd_metrics_new(&m), 0);
    struct evd_webhook *w = webhook_start(0, m);
    for (int i = 0; i < 2; i++) {
        post_to(w, port_a, "/a", "{}", 60 * SEC);
        post_to(w, port_b, "/b", "{}", 60 * SEC);
    }
    post_to(w, r->port, "/ok", "{}", 10 * SEC);
    wait_posts(w, 3, 1);
    evd_webhook_stats(w, &s);
    assert_int_equal(s.delivered, 1);
    evd_webhook_stop(w, evd_webhook_now_ns() + SEC / 5); /* a and b are still held */
    assert_int_equal(receiver_count(r), 1);
    (void)close(fd_a);
    (void)close(fd_b);
    /* two aborted in flight, two never tried */
    bool said_abandoned = false;
    size_t said_stopped = 0;
    for (size_t i = 0; i < seen.warning_count; i++) {
        said_stopped += strstr(seen.warnings[i], "after 1 attempt: stopped at shutdown") != NULL;
        said_abandoned = said_abandoned ||
                         strcmp(seen.warnings[i], "2 alerts not sent to webhooks: the shutdown "
                                                  "deadline passed") == 0;
    }
    assert_int_equal(said_stopped, 2);
    assert_true(said_abandoned);
    assert_int_equal(seen.warning_count, 3);
    assert_int_equal(evd_metrics_render(m, NULL, &text, NULL), 0);
    assert_non_null(strstr(text, "\nevident_alerts_delivered_total 1\n"));
    assert_non_null(strstr(text, "\nevident_alerts_failed_total 4\n"));
    assert_non_null(strstr(text, "\nevident_alerts_dropped_total 0\n"));
    free(text);
    evd_metrics_free(m);
    receiver_stop(r);
}

/* Reloading keeps the counted events and the quiet period of rules kept by name. */
static void test_reload(void **state)
{
    struct ev_config *c = config_new(), *c2 = config_new(), *c3 = config_new();
    struct evd_alert_stats s;
    (void)state;

    add_rule(c, "a", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 3, 60 * SEC, NULL);
    add_rule(c, "gone", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 3, 60 * SEC, NULL);
    struct evd_alerts *a = start(c, NULL, true);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 1, 1 * SEC);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 2, 2 * SEC);

    /* "a" kept, "gone" renamed to "new" (which starts afresh) */
    add_rule(c2, "new", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 3, 60 * SEC, NULL);
    add_rule(c2, "a", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 3, 60 * SEC, NULL);
    assert_int_equal(evd_alerts_reload(a, c2), 0);
    ev_config_free(c2);                                         /* nothing of it is kept */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 3, 3 * SEC); /* a fires; new has 1 */
    wait_recorded(a, 1);
    assert_non_null(strstr(seen.data[0], "\"first_index\":1,\"last_index\":3"));
    assert_non_null(strstr(seen.data[0], "\"rule\":\"a\""));

    /* the quiet period carries over too; a lower threshold keeps the newest events */
    add_rule(c3, "a", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 2, 60 * SEC, NULL);
    assert_int_equal(evd_alerts_reload(a, c3), 0);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 4, 4 * SEC);  /* quiet until 63 s */
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 5, 63 * SEC); /* 4 and 5: fires */
    wait_recorded(a, 2);
    assert_non_null(strstr(seen.data[1], "\"first_index\":4,\"last_index\":5"));

    /* a bad configuration leaves the rules as they were */
    struct ev_config *bad = config_new();
    add_rule(bad, "zero", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 0, 60 * SEC, NULL);
    assert_int_equal(evd_alerts_reload(a, bad), -EINVAL);
    ev_config_free(bad);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    assert_int_equal(s.raised, 2);
    assert_int_equal(seen.count, 2);
    ev_config_free(c);
    ev_config_free(c3);
}

/* Shutdown: close_record returns once every raised alert was recorded; later ones are not. */
static void test_close_record(void **state)
{
    struct receiver *r = receiver_start(0);
    struct ev_config *c = config_new();
    char *hook = url(r->port, "/late");
    struct evd_alert_stats s;
    (void)state;

    add_rule(c, "each", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 1, 1, hook); /* window 1 ns */
    struct evd_alerts *a = start(c, NULL, true);
    for (int i = 0; i < 5; i++) {
        evd_alerts_observe(a, "custom.a", EV_SEV_INFO, (uint64_t)i, i);
    }
    evd_alerts_close_record(a);
    (void)pthread_mutex_lock(&seen.lock);
    assert_int_equal(seen.count, 5); /* no waiting: close_record did */
    (void)pthread_mutex_unlock(&seen.lock);
    evd_alerts_observe(a, "custom.a", EV_SEV_INFO, 5, 5);
    wait_webhooks(a, 6);
    evd_alerts_stats(a, &s);
    evd_alerts_stop(a);
    assert_int_equal(s.raised, 6);
    assert_int_equal(s.recorded, 5);
    assert_int_equal(s.delivered, 6);
    assert_int_equal(seen.count, 5);
    size_t late = 0;
    for (size_t i = 0; i < receiver_count(r); i++) {
        late += strstr(r->seen[i].body, "\"recorded\":false") != NULL;
    }
    assert_int_equal(late, 1);
    evd_alerts_close_record(NULL);
    receiver_stop(r);
    ev_config_free(c);
    free(hook);
}

static void test_redact(void **state)
{
    char out[128];
    (void)state;

    evd_webhook_redact("https://user:pw@hooks.example.com:8443/t/SECRET?x=1#f", out, sizeof(out));
    assert_string_equal(out, "https://hooks.example.com");
    evd_webhook_redact("not a url", out, sizeof(out));
    assert_string_equal(out, "(invalid URL)");
    evd_webhook_redact("http://[::1]:80/x", out, sizeof(out));
    assert_string_equal(out, "http://[::1]");
    evd_webhook_redact("https://hooks.example.com/t", out, 9);
    assert_string_equal(out, "https://");
}

static void test_bad_options(void **state)
{
    struct evd_alert_options o = {0};
    struct evd_alerts *a = NULL;
    struct ev_config *c = config_new();
    (void)state;

    assert_int_equal(evd_alerts_start(&o, &a), -EINVAL);
    add_rule(c, "w", EV_ALERT_EVENTS, "*", EV_SEV_DEBUG, 1, 0, NULL);
    o.config = c;
    assert_int_equal(evd_alerts_start(&o, &a), -EINVAL);
    assert_null(a);
    evd_alerts_stop(NULL);
    ev_config_free(c);
}

static int teardown(void **state)
{
    (void)state;
    seen_reset();
    return 0;
}

int main(void)
{
    /* the receiver is local: a proxy from the environment must not get in between */
    static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++) {
        (void)unsetenv(proxies[i]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_threshold_fires_once, teardown),
        cmocka_unit_test_teardown(test_below_threshold, teardown),
        cmocka_unit_test_teardown(test_matching, teardown),
        cmocka_unit_test_teardown(test_window_expires, teardown),
        cmocka_unit_test_teardown(test_quiet_period, teardown),
        cmocka_unit_test_teardown(test_conditions, teardown),
        cmocka_unit_test_teardown(test_retries, teardown),
        cmocka_unit_test_teardown(test_refused, teardown),
        cmocka_unit_test_teardown(test_dead_webhook, teardown),
        cmocka_unit_test_teardown(test_dead_webhook_isolated, teardown),
        cmocka_unit_test_teardown(test_lanes_bounded, teardown),
        cmocka_unit_test_teardown(test_lanes_default_cap, teardown),
        cmocka_unit_test_teardown(test_lanes_stop, teardown),
        cmocka_unit_test_teardown(test_reload, teardown),
        cmocka_unit_test_teardown(test_close_record, teardown),
        cmocka_unit_test_teardown(test_redact, teardown),
        cmocka_unit_test_teardown(test_bad_options, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
