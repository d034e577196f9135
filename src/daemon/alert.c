/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Alert rules (alert.h). Three parts on three kinds of threads:
 *
 *   observe/condition  any thread (the committer above all): match, count in
 *                      the rule's window, and when it fires queue a struct
 *                      fired. No I/O, no JSON, one short mutex.
 *   the alert thread   turns a fired alert into JSON, records it through
 *                      options.record (which may wait for a commit), and
 *                      hands the webhook body to webhook.c.
 *   webhook.c          a delivery lane (queue and thread) per webhook URL:
 *                      HTTP, retries, backoff.
 *
 * Recording and delivery are separate threads so that a dead webhook, which
 * fills its lane's queue, never keeps alerts out of the log.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>

#include "alert.h"
#include "metrics.h"
#include "webhook.h"

#define DEFAULT_QUEUE_MAX 1024
#define DEFAULT_WEBHOOK_TIMEOUT_NS 10000000000ull /* alerting.webhook_timeout's default */
#define MAX_RETRIES 100
#define DETAIL_MAX 1024 /* bytes of a condition's detail text kept */
#define CUSTOM_ANY EV_CUSTOM_PREFIX "*"

/* One counted event (or condition report). */
struct slot {
    int64_t t;
    uint64_t index;
    int severity;
};

/* The last (up to threshold) counted events, oldest at head. */
struct window {
    struct slot *slots;
    size_t cap, head, count;
};

struct rule {
    char name[EV_CONFIG_MAX_NAME + 1];
    enum ev_alert_condition condition;
    char *type; /* events: the rule's type ("*", "custom.*" or a name) */
    int min_severity;
    uint64_t threshold;
    int64_t window_ns;
    char *webhook; /* or NULL */
    struct window window;
    bool fired;
    int64_t quiet_until; /* when fired: no alert before this */
};

struct rules {
    struct rule *rules;
    size_t count;
    bool any_events; /* a rule with on: events */
    uint64_t webhook_timeout_ns;
    unsigned webhook_retries;
};

/* What observe queues for the alert thread: everything copied, nothing shared. */
struct fired {
    struct fired *next;
    char rule[EV_CONFIG_MAX_NAME + 1];
    enum ev_alert_condition condition;
    char type[72];
    int min_severity;
    int severity;
    uint64_t threshold, count;
    int64_t window_ns;
    bool has_index;
    uint64_t first_index, last_index;
    char detail[DETAIL_MAX + 1];
    char *webhook;
    uint64_t timeout_ns;
    unsigned retries;
    int64_t wall_ns;
};

struct evd_alerts {
    pthread_mutex_t rules_lock;
    struct rules rules;
    atomic_bool any_events; /* rules.any_events, read without the lock */

    pthread_mutex_t queue_lock;
    pthread_cond_t queue_wake;
    pthread_cond_t queue_idle; /* the alert thread waits for work, nothing queued */
    struct fired *head, *tail;
    size_t queued;
    bool stopping;
    bool busy;          /* the alert thread is handling one */
    bool record_closed; /* evd_alerts_close_record() was called: record no more */
    pthread_t thread;

    struct evd_webhook *webhook;
    struct evd_metrics *metrics;
    evd_record_fn record;
    void *record_ctx;
    char *origin;
    evd_warn_fn warn;
    void *warn_ctx;
    size_t queue_max;
    int64_t (*clock_ns)(void);

    atomic_uint_least64_t raised, recorded, record_failed, dropped;
};

static const char *const condition_names[] = {
    [EV_ALERT_EVENTS] = "events",
    [EV_ALERT_VERIFICATION_FAILURE] = "verification_failure",
    [EV_ALERT_DISK_LOW] = "disk_low",
    [EV_ALERT_LOGGING_FAILURE] = "logging_failure",
    [EV_ALERT_ADMIN_SPACE_LEFT] = "admin_space_left",
    [EV_ALERT_DISK_FULL] = "disk_full",
};

static const char *const condition_texts[] = {
    [EV_ALERT_EVENTS] = "events",
    [EV_ALERT_VERIFICATION_FAILURE] = "the log's self-verification failed",
    [EV_ALERT_DISK_LOW] = "free disk space is low",
    [EV_ALERT_LOGGING_FAILURE] = "the log cannot append: events are being refused",
    [EV_ALERT_ADMIN_SPACE_LEFT] = "free disk space is critically low",
    [EV_ALERT_DISK_FULL] = "the disk is full",
};

/* The severity of a condition's alert: the free-space levels rise with the level. */
static const int condition_severities[] = {
    [EV_ALERT_EVENTS] = EV_SEV_CRITICAL, /* not used: an events alert takes its events' */
    [EV_ALERT_VERIFICATION_FAILURE] = EV_SEV_CRITICAL,
    [EV_ALERT_DISK_LOW] = EV_SEV_WARNING,
    [EV_ALERT_LOGGING_FAILURE] = EV_SEV_CRITICAL,
    [EV_ALERT_ADMIN_SPACE_LEFT] = EV_SEV_CRITICAL,
    [EV_ALERT_DISK_FULL] = EV_SEV_ALERT,
};

#define CONDITION_COUNT (sizeof(condition_names) / sizeof(condition_names[0]))
_Static_assert(sizeof(condition_severities) / sizeof(condition_severities[0]) == CONDITION_COUNT,
               "a severity for every condition");

static void warn(struct evd_alerts *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct evd_alerts *a, const char *fmt, ...)
{
    char message[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (a->warn != NULL) {
        a->warn(a->warn_ctx, message);
    } else {
        (void)fprintf(stderr, "evidentd: %s\n", message);
    }
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- rules ------------------------------------------------------------------------ */

static void rules_free(struct rules *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->rules[i].type);
        free(r->rules[i].webhook);
        free(r->rules[i].window.slots);
    }
    free(r->rules);
    r->rules = NULL;
    r->count = 0;
}

/* Copies the configuration's rules: nothing of config is kept. */
static int rules_load(const struct ev_config *config, struct rules *ret_rules)
{
    struct rules r = {0};
    size_t n = config->alerting.rule_count;

    if (n > EV_CONFIG_MAX_RULES) {
        return -EINVAL;
    }
    r.rules = calloc(n > 0 ? n : 1, sizeof(*r.rules));
    if (r.rules == NULL) {
        return -ENOMEM;
    }
    r.webhook_timeout_ns = config->alerting.webhook_timeout_ns > 0
                               ? config->alerting.webhook_timeout_ns
                               : DEFAULT_WEBHOOK_TIMEOUT_NS;
    r.webhook_retries = config->alerting.webhook_retries > MAX_RETRIES
                            ? MAX_RETRIES
                            : (unsigned)config->alerting.webhook_retries;
    for (size_t i = 0; i < n; i++) {
        const struct ev_alert_rule *c = &config->alerting.rules[i];
        struct rule *rule = &r.rules[i];
        r.count = i + 1;
        if (c->name == NULL || strlen(c->name) > EV_CONFIG_MAX_NAME || c->threshold == 0 ||
            c->window_ns == 0 || c->window_ns > INT64_MAX / 4 ||
            (unsigned)c->condition >= CONDITION_COUNT) {
            rules_free(&r);
            return -EINVAL;
        }
        (void)snprintf(rule->name, sizeof(rule->name), "%s", c->name);
        rule->condition = c->condition;
        rule->min_severity = c->min_severity;
        rule->threshold = c->threshold;
        rule->window_ns = (int64_t)c->window_ns;
        rule->type = strdup(c->type != NULL ? c->type : "*");
        rule->webhook = c->webhook != NULL ? strdup(c->webhook) : NULL;
        if (rule->type == NULL || (c->webhook != NULL && rule->webhook == NULL)) {
            rules_free(&r);
            return -ENOMEM;
        }
        if (strlen(rule->type) >= sizeof(((struct fired *)NULL)->type)) {
            rules_free(&r);
            return -EINVAL;
        }
        if (rule->condition == EV_ALERT_EVENTS) {
            r.any_events = true;
        }
    }
    *ret_rules = r;
    return 0;
}

static bool rule_matches(const struct rule *rule, const char *type, int severity)
{
    if (rule->condition != EV_ALERT_EVENTS || severity > rule->min_severity) {
        return false;
    }
    if (strcmp(rule->type, "*") == 0) {
        return true;
    }
    if (strcmp(rule->type, CUSTOM_ANY) == 0) {
        return strncmp(type, EV_CUSTOM_PREFIX, sizeof(EV_CUSTOM_PREFIX) - 1) == 0;
    }
    return strcmp(rule->type, type) == 0;
}

static struct slot *slot_at(struct window *w, size_t i)
{
    return &w->slots[(w->head + i) % w->cap];
}

/* Keeps the newest min(count, keep) slots, in a buffer of at least want slots. */
static int window_resize(struct window *w, size_t keep, size_t want)
{
    size_t n = w->count < keep ? w->count : keep;
    size_t cap = want > n ? want : n;
    struct slot *slots = malloc((cap > 0 ? cap : 1) * sizeof(*slots));

    if (slots == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        slots[i] = *slot_at(w, w->count - n + i);
    }
    free(w->slots);
    w->slots = slots;
    w->cap = cap > 0 ? cap : 1;
    w->head = 0;
    w->count = n;
    return 0;
}

/*
 * Counts one event at now in rule's window and says whether the rule fires;
 * if so fills f's counting fields. The caller holds the rules lock.
 */
static bool rule_count(struct rule *rule, int64_t now, uint64_t index, int severity,
                       struct fired *f)
{
    struct window *w = &rule->window;

    while (w->count > 0 && now - slot_at(w, 0)->t >= rule->window_ns) {
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    if (w->count == rule->threshold) {
        w->head = (w->head + 1) % w->cap; /* only the newest threshold matter */
        w->count--;
    }
    if (w->count == w->cap) {
        size_t want = w->cap < 8 ? 8 : w->cap * 2;
        if (want > rule->threshold) {
            want = (size_t)rule->threshold;
        }
        /* out of memory: forget the oldest; the window under-counts rather than blocks */
        if (w->cap == 0 || window_resize(w, w->count, want) < 0) {
            if (w->cap == 0) {
                return false;
            }
            w->head = (w->head + 1) % w->cap;
            w->count--;
        }
    }
    *slot_at(w, w->count) = (struct slot){.t = now, .index = index, .severity = severity};
    w->count++;

    if (w->count < rule->threshold || (rule->fired && now < rule->quiet_until)) {
        return false;
    }
    rule->fired = true;
    rule->quiet_until = now + rule->window_ns;

    memset(f, 0, sizeof(*f));
    f->severity = severity;
    for (size_t i = 0; i < w->count; i++) {
        if (slot_at(w, i)->severity < f->severity) {
            f->severity = slot_at(w, i)->severity;
        }
    }
    f->first_index = slot_at(w, 0)->index;
    f->last_index = index;
    f->count = w->count;
    (void)snprintf(f->rule, sizeof(f->rule), "%s", rule->name);
    f->condition = rule->condition;
    (void)snprintf(f->type, sizeof(f->type), "%s", rule->type);
    f->min_severity = rule->min_severity;
    f->threshold = rule->threshold;
    f->window_ns = rule->window_ns;
    return true;
}

/* The window of a rule needs no buffer until its first event: threshold may be large. */
static int window_init(struct window *w)
{
    w->slots = malloc(sizeof(*w->slots));
    if (w->slots == NULL) {
        return -ENOMEM;
    }
    w->cap = 1;
    return 0;
}

/* ---- queueing what fired ---------------------------------------------------------- */

static void fired_free(struct fired *f)
{
    if (f != NULL) {
        free(f->webhook);
        free(f);
    }
}

static void count_dropped(struct evd_alerts *a)
{
    uint64_t n = atomic_fetch_add(&a->dropped, 1) + 1;

    evd_metrics_alert_dropped(a->metrics);
    if ((n & (n - 1)) == 0) {
        warn(a, "alert queue full (%zu alerts waiting): %" PRIu64 " alerts dropped so far",
             a->queue_max, n);
    }
}

/* Finishes f (copies of the webhook and the timeouts) under the rules lock. */
static struct fired *fired_new(struct evd_alerts *a, const struct rule *rule,
                               const struct fired *counted)
{
    struct fired *f = malloc(sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    *f = *counted;
    f->webhook = NULL;
    if (rule->webhook != NULL && (f->webhook = strdup(rule->webhook)) == NULL) {
        free(f);
        return NULL;
    }
    f->timeout_ns = a->rules.webhook_timeout_ns;
    f->retries = a->rules.webhook_retries;
    f->wall_ns = wall_ns();
    return f;
}

static void enqueue(struct evd_alerts *a, struct fired *f)
{
    bool queued = false;

    atomic_fetch_add(&a->raised, 1);
    evd_metrics_alert_raised(a->metrics);
    if (f == NULL) {
        count_dropped(a); /* out of memory */
        return;
    }
    (void)pthread_mutex_lock(&a->queue_lock);
    if (!a->stopping && a->queued < a->queue_max) {
        if (a->tail != NULL) {
            a->tail->next = f;
        } else {
            a->head = f;
        }
        a->tail = f;
        a->queued++;
        queued = true;
        (void)pthread_cond_signal(&a->queue_wake);
    }
    (void)pthread_mutex_unlock(&a->queue_lock);
    if (!queued) {
        fired_free(f);
        count_dropped(a);
    }
}

void evd_alerts_observe(struct evd_alerts *a, const char *type, int severity, uint64_t index,
                        int64_t now_ns)
{
    struct fired *fired[EV_CONFIG_MAX_RULES];
    size_t n = 0;
    struct fired counted;

    if (a == NULL || type == NULL || !atomic_load_explicit(&a->any_events, memory_order_relaxed)) {
        return;
    }
    (void)pthread_mutex_lock(&a->rules_lock);
    for (size_t i = 0; i < a->rules.count && n < EV_CONFIG_MAX_RULES; i++) {
        struct rule *rule = &a->rules.rules[i];
        if (rule_matches(rule, type, severity) &&
            rule_count(rule, now_ns, index, severity, &counted)) {
            counted.has_index = true;
            fired[n++] = fired_new(a, rule, &counted);
        }
    }
    (void)pthread_mutex_unlock(&a->rules_lock);
    for (size_t i = 0; i < n; i++) {
        enqueue(a, fired[i]);
    }
}

static int64_t monotonic_ns(void)
{
    return evd_webhook_now_ns();
}

/* Cuts text to at most max bytes on a UTF-8 character boundary. */
static void copy_utf8(char *out, size_t cap, const char *text)
{
    size_t len = strlen(text);

    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80) {
            len--; /* text[len] continues a character: cut before the character */
        }
    }
    memcpy(out, text, len);
    out[len] = '\0';
}

void evd_alerts_condition(struct evd_alerts *a, enum ev_alert_condition condition,
                          const char *detail)
{
    struct fired *fired[EV_CONFIG_MAX_RULES];
    size_t n = 0;
    struct fired counted;
    int64_t now;

    if (a == NULL || condition == EV_ALERT_EVENTS || (unsigned)condition >= CONDITION_COUNT) {
        return;
    }
    now = a->clock_ns();
    (void)pthread_mutex_lock(&a->rules_lock);
    for (size_t i = 0; i < a->rules.count && n < EV_CONFIG_MAX_RULES; i++) {
        struct rule *rule = &a->rules.rules[i];
        if (rule->condition == condition &&
            rule_count(rule, now, 0, condition_severities[condition], &counted)) {
            counted.type[0] = '\0';
            copy_utf8(counted.detail, sizeof(counted.detail), detail != NULL ? detail : "");
            fired[n++] = fired_new(a, rule, &counted);
        }
    }
    (void)pthread_mutex_unlock(&a->rules_lock);
    for (size_t i = 0; i < n; i++) {
        enqueue(a, fired[i]);
    }
}

/* ---- the alert thread: JSON, record, hand to the webhook -------------------------- */

/* "600s", "1500ms" or "250ns": the window as the configuration would say it. */
static void format_window(int64_t ns, char *out, size_t cap)
{
    if (ns % 1000000000 == 0) {
        (void)snprintf(out, cap, "%" PRId64 "s", ns / 1000000000);
    } else if (ns % 1000000 == 0) {
        (void)snprintf(out, cap, "%" PRId64 "ms", ns / 1000000);
    } else {
        (void)snprintf(out, cap, "%" PRId64 "ns", ns);
    }
}

static json_t *window_seconds(int64_t ns)
{
    if (ns % 1000000000 == 0) {
        return json_integer(ns / 1000000000);
    }
    return json_real((double)ns / 1e9);
}

static const char *severity_name(int severity)
{
    const char *name = ev_severity_name(severity);
    return name != NULL ? name : "unknown";
}

static void describe(const struct fired *f, char *out, size_t cap)
{
    char window[32];

    format_window(f->window_ns, window, sizeof(window));
    if (f->condition == EV_ALERT_EVENTS) {
        char what[96];
        if (strcmp(f->type, "*") == 0) {
            (void)snprintf(what, sizeof(what), "events of any type");
        } else {
            (void)snprintf(what, sizeof(what), "%s events", f->type);
        }
        (void)snprintf(out, cap,
                       "rule '%s': %" PRIu64 " %s of severity %s or more severe within %s", f->rule,
                       f->count, what, severity_name(f->min_severity), window);
        return;
    }
    int n = snprintf(out, cap, "rule '%s': %s", f->rule, condition_texts[f->condition]);
    if (n > 0 && (size_t)n < cap && f->threshold > 1) {
        n += snprintf(out + n, cap - (size_t)n, " (%" PRIu64 " times within %s)", f->count, window);
    }
    if (n > 0 && (size_t)n < cap && f->detail[0] != '\0') {
        (void)snprintf(out + n, cap - (size_t)n, ": %s", f->detail);
    }
}

/* Sets key to value, taking value; false if value is NULL or setting failed. */
static bool set(json_t *object, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(object, key, value) == 0;
}

static json_t *details_json(const struct fired *f)
{
    json_t *d = json_object();
    bool ok = d != NULL;

    ok = ok && set(d, "rule", json_string(f->rule));
    ok = ok && set(d, "condition", json_string(condition_names[f->condition]));
    ok = ok && set(d, "count", json_integer((json_int_t)f->count));
    ok = ok && set(d, "threshold", json_integer((json_int_t)f->threshold));
    ok = ok && set(d, "window_seconds", window_seconds(f->window_ns));
    if (f->condition == EV_ALERT_EVENTS) {
        ok = ok && set(d, "event_type", json_string(f->type));
        ok = ok && set(d, "min_severity", json_string(severity_name(f->min_severity)));
    } else if (f->detail[0] != '\0') {
        ok = ok && set(d, "detail", json_string(f->detail));
    }
    if (f->has_index) {
        ok = ok && set(d, "first_index", json_integer((json_int_t)f->first_index));
        ok = ok && set(d, "last_index", json_integer((json_int_t)f->last_index));
    }
    if (!ok) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* RFC 3339, UTC, milliseconds. */
static void format_time(int64_t ns, char *out, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    char date[32];

    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        (void)snprintf(out, cap, "1970-01-01T00:00:00.000Z");
        return;
    }
    (void)snprintf(out, cap, "%s.%03dZ", date, (int)(ns % 1000000000 / 1000000));
}

/* Canonical, as the log stores data: compact, keys sorted. */
static char *dump(json_t *value, size_t *ret_len)
{
    char *text = value != NULL ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    if (text != NULL && ret_len != NULL) {
        *ret_len = strlen(text);
    }
    return text;
}

static void handle(struct evd_alerts *a, struct evd_webhook *webhook, struct fired *f,
                   evd_record_fn record)
{
    char description[2048], time_text[40], where[256];
    json_t *details, *data = json_object(), *body = NULL;
    char *data_text = NULL, *body_text = NULL;
    bool recorded = false, ok;
    size_t body_len = 0;

    /* a detail that is not UTF-8 cannot be JSON: say so rather than lose the alert */
    json_t *probe = json_string(f->detail);
    if (probe == NULL) {
        (void)snprintf(f->detail, sizeof(f->detail), "(detail not valid UTF-8)");
    }
    json_decref(probe);
    details = details_json(f);
    describe(f, description, sizeof(description));
    ok = details != NULL && data != NULL;
    ok = ok && set(data, "category", json_string("alert"));
    ok = ok && set(data, "description", json_string(description));
    ok = ok && set(data, "details", json_incref(details));
    data_text = ok ? dump(data, NULL) : NULL;
    if (data_text == NULL) {
        warn(a, "alert rule '%s': cannot build the alert: out of memory", f->rule);
        goto out;
    }
    if (record != NULL) {
        int r = record(a->record_ctx, f->severity, data_text);
        if (r == 0) {
            recorded = true;
            atomic_fetch_add(&a->recorded, 1);
        } else {
            atomic_fetch_add(&a->record_failed, 1);
            warn(a, "alert rule '%s': cannot record the alert in the log: %s", f->rule,
                 ev_strerror(r));
        }
    }
    if (f->webhook == NULL) {
        goto out;
    }

    format_time(f->wall_ns, time_text, sizeof(time_text));
    body = json_object();
    ok = body != NULL;
    ok = ok && set(body, "rule", json_string(f->rule));
    ok = ok && set(body, "condition", json_string(condition_names[f->condition]));
    ok = ok && set(body, "severity", json_string(severity_name(f->severity)));
    ok = ok && set(body, "description", json_string(description));
    ok = ok && set(body, "details", json_incref(details));
    ok = ok && set(body, "time", json_string(time_text));
    ok = ok && set(body, "recorded", json_boolean(recorded));
    if (a->origin != NULL) {
        ok = ok && set(body, "origin", json_string(a->origin));
    }
    body_text = ok ? dump(body, &body_len) : NULL;
    if (body_text == NULL) {
        evd_webhook_redact(f->webhook, where, sizeof(where));
        warn(a, "alert rule '%s': cannot build the body for webhook %s: out of memory", f->rule,
             where);
        goto out;
    }
    /* ownership of body_text moves; a full queue is counted (and warned) by webhook.c */
    (void)evd_webhook_post(webhook, f->webhook, body_text, body_len, f->timeout_ns, f->retries);
    body_text = NULL;

out:
    free(body_text);
    free(data_text);
    json_decref(body);
    json_decref(data);
    json_decref(details);
}

static void *alert_thread(void *arg)
{
    struct evd_alerts *a = arg;

    (void)pthread_mutex_lock(&a->queue_lock);
    for (;;) {
        while (a->head == NULL && !a->stopping) {
            a->busy = false;
            (void)pthread_cond_broadcast(&a->queue_idle);
            (void)pthread_cond_wait(&a->queue_wake, &a->queue_lock);
        }
        struct fired *f = a->head;
        if (f == NULL) {
            break;
        }
        a->head = f->next;
        if (a->head == NULL) {
            a->tail = NULL;
        }
        a->queued--;
        a->busy = true;
        evd_record_fn record = a->record_closed ? NULL : a->record;
        (void)pthread_mutex_unlock(&a->queue_lock);
        handle(a, a->webhook, f, record);
        fired_free(f);
        (void)pthread_mutex_lock(&a->queue_lock);
    }
    a->busy = false;
    (void)pthread_cond_broadcast(&a->queue_idle);
    (void)pthread_mutex_unlock(&a->queue_lock);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------- */

int evd_alerts_start(const struct evd_alert_options *options, struct evd_alerts **ret_alerts)
{
    struct evd_alerts *a;
    int ret;

    if (options == NULL || options->config == NULL) {
        return -EINVAL;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return -ENOMEM;
    }
    a->metrics = options->metrics;
    a->record = options->record;
    a->record_ctx = options->record_ctx;
    a->warn = options->warn;
    a->warn_ctx = options->warn_ctx;
    a->queue_max = options->queue_max > 0 ? options->queue_max : DEFAULT_QUEUE_MAX;
    a->clock_ns = options->clock_ns != NULL ? options->clock_ns : monotonic_ns;
    atomic_init(&a->raised, 0);
    atomic_init(&a->recorded, 0);
    atomic_init(&a->record_failed, 0);
    atomic_init(&a->dropped, 0);
    if (options->origin != NULL && (a->origin = strdup(options->origin)) == NULL) {
        free(a);
        return -ENOMEM;
    }
    ret = rules_load(options->config, &a->rules);
    if (ret < 0) {
        goto fail_origin;
    }
    for (size_t i = 0; i < a->rules.count; i++) {
        if ((ret = window_init(&a->rules.rules[i].window)) < 0) {
            goto fail_rules;
        }
    }
    atomic_init(&a->any_events, a->rules.any_events);

    ret = -pthread_mutex_init(&a->rules_lock, NULL);
    if (ret < 0) {
        goto fail_rules;
    }
    ret = -pthread_mutex_init(&a->queue_lock, NULL);
    if (ret < 0) {
        goto fail_rules_lock;
    }
    ret = -pthread_cond_init(&a->queue_wake, NULL);
    if (ret < 0) {
        goto fail_queue_lock;
    }
    ret = -pthread_cond_init(&a->queue_idle, NULL);
    if (ret < 0) {
        (void)pthread_cond_destroy(&a->queue_wake);
        goto fail_queue_lock;
    }
    struct evd_webhook_options wo = {
        .queue_max = a->queue_max,
        .backoff_base_ns = options->backoff_base_ns,
        .metrics = options->metrics,
        .warn = options->warn,
        .warn_ctx = options->warn_ctx,
    };
    ret = evd_webhook_start(&wo, &a->webhook);
    if (ret < 0) {
        goto fail_cond;
    }
    ret = -pthread_create(&a->thread, NULL, alert_thread, a);
    if (ret < 0) {
        goto fail_webhook;
    }
    *ret_alerts = a;
    return 0;

fail_webhook:
    evd_webhook_stop(a->webhook, 1);
fail_cond:
    (void)pthread_cond_destroy(&a->queue_idle);
    (void)pthread_cond_destroy(&a->queue_wake);
fail_queue_lock:
    (void)pthread_mutex_destroy(&a->queue_lock);
fail_rules_lock:
    (void)pthread_mutex_destroy(&a->rules_lock);
fail_rules:
    rules_free(&a->rules);
fail_origin:
    free(a->origin);
    free(a);
    return ret;
}

int evd_alerts_reload(struct evd_alerts *a, const struct ev_config *config)
{
    struct rules next, old;
    int ret;

    if (a == NULL || config == NULL) {
        return -EINVAL;
    }
    ret = rules_load(config, &next);
    if (ret < 0) {
        return ret;
    }
    for (size_t i = 0; i < next.count; i++) {
        if ((ret = window_init(&next.rules[i].window)) < 0) {
            rules_free(&next);
            return ret;
        }
    }

    (void)pthread_mutex_lock(&a->rules_lock);
    for (size_t i = 0; i < next.count; i++) {
        struct rule *rule = &next.rules[i];
        for (size_t j = 0; j < a->rules.count; j++) {
            struct rule *was = &a->rules.rules[j];
            if (strcmp(was->name, rule->name) != 0 || was->window.slots == NULL) {
                continue;
            }
            /* the newest threshold events are all a window can use */
            if (was->window.count > rule->threshold &&
                window_resize(&was->window, (size_t)rule->threshold, (size_t)rule->threshold) < 0) {
                break; /* out of memory: this rule starts afresh */
            }
            free(rule->window.slots);
            rule->window = was->window;
            was->window = (struct window){0};
            rule->fired = was->fired;
            rule->quiet_until = was->quiet_until;
            break;
        }
    }
    old = a->rules;
    a->rules = next;
    atomic_store(&a->any_events, next.any_events);
    (void)pthread_mutex_unlock(&a->rules_lock);
    rules_free(&old);
    return 0;
}

void evd_alerts_stats(struct evd_alerts *a, struct evd_alert_stats *ret_stats)
{
    struct evd_webhook_stats w;

    evd_webhook_stats(a->webhook, &w);
    *ret_stats = (struct evd_alert_stats){
        .raised = atomic_load(&a->raised),
        .recorded = atomic_load(&a->recorded),
        .record_failed = atomic_load(&a->record_failed),
        .delivered = w.delivered,
        .failed = w.failed,
        .dropped = atomic_load(&a->dropped) + w.dropped,
        .attempts = w.attempts,
    };
}

void evd_alerts_close_record(struct evd_alerts *a)
{
    if (a == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&a->queue_lock);
    while (a->head != NULL || a->busy) {
        (void)pthread_cond_wait(&a->queue_idle, &a->queue_lock);
    }
    a->record_closed = true;
    (void)pthread_mutex_unlock(&a->queue_lock);
}

void evd_alerts_stop(struct evd_alerts *a)
{
    int64_t deadline;

    if (a == NULL) {
        return;
    }
    /* The webhook's grace period starts now, however long recording takes. */
    (void)pthread_mutex_lock(&a->rules_lock);
    deadline = evd_webhook_now_ns() + (int64_t)a->rules.webhook_timeout_ns;
    (void)pthread_mutex_unlock(&a->rules_lock);

    (void)pthread_mutex_lock(&a->queue_lock);
    a->stopping = true;
    (void)pthread_cond_broadcast(&a->queue_wake);
    (void)pthread_mutex_unlock(&a->queue_lock);
    (void)pthread_join(a->thread, NULL);
    evd_webhook_stop(a->webhook, deadline);

    (void)pthread_cond_destroy(&a->queue_idle);
    (void)pthread_cond_destroy(&a->queue_wake);
    (void)pthread_mutex_destroy(&a->queue_lock);
    (void)pthread_mutex_destroy(&a->rules_lock);
    rules_free(&a->rules);
    free(a->origin);
    free(a);
}
