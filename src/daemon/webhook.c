/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webhook delivery (webhook.h): a lane per webhook URL, each with its own
 * FIFO, thread and reused curl handle (so a webhook's connection is kept
 * alive between alerts), and one overflow lane.
 *
 * Lanes, because with one FIFO and one thread for every webhook a dead one
 * (each alert tried retries + 1 times, each attempt up to the timeout, with
 * backoff between) held every other webhook's alerts behind it: a minute or
 * more per alert with the defaults, until the full queue dropped them.
 *
 * A post finds its lane under the lock, without I/O:
 *
 *   1. the lane keyed by its URL;
 *   2. else the overflow lane, if that still holds a post to the URL (queued
 *      or in flight): a URL is in one lane at a time, so its order is kept;
 *   3. else a new lane, while there are fewer than lanes_max;
 *   4. else the least recently used idle lane (nothing queued or in flight),
 *      keyed anew: a reload that changed URLs leaves lanes nobody posts to;
 *   5. else (every lane busy, or a lane could not start) the overflow lane,
 *      which every URL sent there shares: the one place where a webhook can
 *      still delay another, and only past lanes_max busy lanes.
 *
 * Lanes live until stop: at most lanes_max + 1 threads, queue_max posts each.
 *
 * Stopping sets a deadline that every wait checks: the condition variable
 * wait of a backoff, and curl's progress callback, which aborts a transfer in
 * flight. So evd_webhook_stop() returns soon after the deadline however the
 * webhooks behave (a refused connection, a server that never answers), and
 * as all lanes deliver at once, one slow webhook does not use up the others'
 * grace period either.
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
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "metrics.h"
#include "webhook.h"

#ifndef EVIDENT_VERSION
#define EVIDENT_VERSION "unknown"
#endif

struct post {
    struct post *next;
    char *url;
    char *body;
    size_t len;
    uint64_t timeout_ns;
    unsigned retries;
};

struct lane {
    struct evd_webhook *w;
    char *url;                  /* the key, under lock; NULL: the overflow lane */
    struct post *head, *tail;   /* under lock */
    size_t queued;              /* under lock */
    const struct post *current; /* being delivered, under lock */
    uint64_t last_used;         /* w->uses when last posted to, under lock */
    pthread_cond_t wake;        /* a post queued, or stopping (CLOCK_MONOTONIC) */
    pthread_t thread;
    CURL *curl;   /* the lane's thread only */
    uint64_t rng; /* jitter, the lane's thread only */
};

struct evd_webhook {
    struct evd_webhook_options options;
    pthread_mutex_t lock;
    struct lane **lanes; /* options.lanes_max slots, lane_count used; under lock */
    size_t lane_count;
    struct lane *overflow;
    uint64_t uses;                 /* posts so far: the lanes' clock for least recently used */
    bool stopping;                 /* under lock */
    struct curl_slist *headers;    /* read only once started */
    atomic_int_least64_t deadline; /* 0: none; else the stop deadline */
    atomic_uint_least64_t delivered, failed, dropped, attempts, abandoned, running;
};

int64_t evd_webhook_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void warn(struct evd_webhook *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct evd_webhook *w, const char *fmt, ...)
{
    char message[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (w->options.warn != NULL) {
        w->options.warn(w->options.warn_ctx, message);
    } else {
        (void)fprintf(stderr, "evidentd: %s\n", message);
    }
}

void evd_webhook_redact(const char *url, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;

    if (cap == 0) {
        return;
    }
    if (u != NULL && url != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        (void)snprintf(out, cap, "%s://%s", scheme, host);
    } else {
        (void)snprintf(out, cap, "(invalid URL)");
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
}

static void post_free(struct post *p)
{
    if (p != NULL) {
        free(p->url);
        free(p->body);
        free(p);
    }
}

void evd_webhook_stats(struct evd_webhook *w, struct evd_webhook_stats *ret_stats)
{
    ret_stats->delivered = atomic_load(&w->delivered);
    ret_stats->failed = atomic_load(&w->failed);
    ret_stats->dropped = atomic_load(&w->dropped);
    ret_stats->attempts = atomic_load(&w->attempts);
    ret_stats->lanes = atomic_load(&w->running);
}

/* ---- a lane's thread ------------------------------------------------------------ */

static bool past_deadline(struct evd_webhook *w, int64_t now)
{
    int64_t deadline = atomic_load(&w->deadline);

    return deadline != 0 && now >= deadline;
}

static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return past_deadline(ctx, evd_webhook_now_ns()) ? 1 : 0;
}

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data, (void)ctx;
    return size * n;
}

static uint64_t next_random(struct lane *l)
{
    /* xorshift64*: jitter only spreads retries apart, it needs no cryptographic quality */
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return l->rng * 0x2545F4914F6CDD1Dull;
}

/*
 * Waits ns, or less if stop's deadline comes first. Returns false when the
 * deadline has passed (give up).
 */
static bool backoff(struct lane *l, uint64_t ns)
{
    struct evd_webhook *w = l->w;
    int64_t until = evd_webhook_now_ns() + (int64_t)ns;
    bool ok = true;

    (void)pthread_mutex_lock(&w->lock);
    for (;;) {
        int64_t now = evd_webhook_now_ns(), deadline = atomic_load(&w->deadline);
        if (deadline != 0 && now >= deadline) {
            ok = false;
            break;
        }
        if (now >= until) {
            break;
        }
        int64_t wake_at = deadline != 0 && deadline < until ? deadline : until;
        struct timespec ts = {.tv_sec = wake_at / 1000000000, .tv_nsec = wake_at % 1000000000};
        (void)pthread_cond_timedwait(&l->wake, &w->lock, &ts);
    }
    (void)pthread_mutex_unlock(&w->lock);
    return ok;
}

/* One request. Returns 0 on a 2xx, else a negative value with why in reason. */
static int attempt(struct lane *l, const struct post *p, char *reason, size_t cap)
{
    struct evd_webhook *w = l->w;
    CURL *c = l->curl;
    uint64_t timeout_ms = p->timeout_ns / 1000000;
    int64_t deadline = atomic_load(&w->deadline), now = evd_webhook_now_ns();
    CURLcode code;
    long status = 0;

    if (deadline != 0) {
        uint64_t left_ms = deadline > now ? (uint64_t)(deadline - now) / 1000000 : 0;
        timeout_ms = left_ms < timeout_ms ? left_ms : timeout_ms;
    }
    if (timeout_ms == 0) {
        timeout_ms = 1;
    }
    atomic_fetch_add(&w->attempts, 1);
    curl_easy_reset(c);
    (void)curl_easy_setopt(c, CURLOPT_URL, p->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_POST, 1L);
    (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
    (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
    (void)curl_easy_setopt(c, CURLOPT_USERAGENT, "evidentd/" EVIDENT_VERSION);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    (void)curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    (void)curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    (void)curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    code = curl_easy_perform(c);
    if (code != CURLE_OK) {
        /* curl_easy_strerror() names the failure without the URL (no token can leak) */
        (void)snprintf(reason, cap, "%s",
                       code == CURLE_ABORTED_BY_CALLBACK ? "stopped at shutdown"
                                                         : curl_easy_strerror(code));
        return -EIO;
    }
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        (void)snprintf(reason, cap, "HTTP status %ld", status);
        return -EIO;
    }
    return 0;
}

/* Returns false if p was not even tried: stop's deadline had passed. */
static bool deliver(struct lane *l, const struct post *p)
{
    struct evd_webhook *w = l->w;
    char reason[256] = "stopped at shutdown", where[256];
    unsigned tries = 0;

    for (unsigned k = 0; k <= p->retries; k++) {
        if (k > 0) {
            uint64_t delay = w->options.backoff_base_ns;
            for (unsigned i = 1; i < k && delay < EVD_WEBHOOK_BACKOFF_MAX_NS; i++) {
                delay *= 2;
            }
            if (delay > EVD_WEBHOOK_BACKOFF_MAX_NS) {
                delay = EVD_WEBHOOK_BACKOFF_MAX_NS;
            }
            delay = delay / 2 + next_random(l) % (delay / 2 + 1);
            if (!backoff(l, delay)) {
                break;
            }
        } else if (past_deadline(w, evd_webhook_now_ns())) {
            break;
        }
        tries++;
        if (attempt(l, p, reason, sizeof(reason)) == 0) {
            atomic_fetch_add(&w->delivered, 1);
            evd_metrics_alert(w->options.metrics, true);
            return true;
        }
    }
    atomic_fetch_add(&w->failed, 1);
    evd_metrics_alert(w->options.metrics, false);
    if (tries == 0) {
        return false; /* evd_webhook_stop() says it once for all of them */
    }
    evd_webhook_redact(p->url, where, sizeof(where));
    warn(w, "webhook %s: alert not delivered after %u attempt%s: %s", where, tries,
         tries == 1 ? "" : "s", reason);
    return true;
}

static void *lane_thread(void *arg)
{
    struct lane *l = arg;
    struct evd_webhook *w = l->w;
    uint64_t abandoned = 0;

    (void)pthread_mutex_lock(&w->lock);
    for (;;) {
        while (l->head == NULL && !w->stopping) {
            (void)pthread_cond_wait(&l->wake, &w->lock);
        }
        struct post *p = l->head;
        if (p == NULL) {
            break; /* stopping, and nothing left */
        }
        l->head = p->next;
        if (l->head == NULL) {
            l->tail = NULL;
        }
        l->queued--;
        l->current = p;
        (void)pthread_mutex_unlock(&w->lock);

        if (!deliver(l, p)) {
            abandoned++;
        }
        (void)pthread_mutex_lock(&w->lock);
        l->current = NULL;
        post_free(p);
    }
    (void)pthread_mutex_unlock(&w->lock);
    atomic_fetch_add(&w->abandoned, abandoned);
    return NULL;
}

/* Starts a lane for url (NULL: the overflow lane). 0, -ENOMEM or -errno. */
static int lane_start(struct evd_webhook *w, const char *url, struct lane **ret_lane)
{
    struct lane *l = calloc(1, sizeof(*l));
    pthread_condattr_t attr;
    int ret;

    if (l == NULL) {
        return -ENOMEM;
    }
    l->w = w;
    if (url != NULL && (l->url = strdup(url)) == NULL) {
        ret = -ENOMEM;
        goto fail;
    }
    l->curl = curl_easy_init();
    if (l->curl == NULL) {
        ret = -ENOMEM;
        goto fail;
    }
    if (getrandom(&l->rng, sizeof(l->rng), GRND_NONBLOCK) != (ssize_t)sizeof(l->rng)) {
        l->rng = (uint64_t)evd_webhook_now_ns() ^ (uint64_t)(uintptr_t)l;
    }
    l->rng |= 1; /* xorshift never leaves 0 */
    ret = -pthread_condattr_init(&attr);
    if (ret < 0) {
        goto fail;
    }
    ret = -pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (ret == 0) {
        ret = -pthread_cond_init(&l->wake, &attr);
    }
    (void)pthread_condattr_destroy(&attr);
    if (ret < 0) {
        goto fail;
    }
    ret = -pthread_create(&l->thread, NULL, lane_thread, l);
    if (ret < 0) {
        (void)pthread_cond_destroy(&l->wake);
        goto fail;
    }
    atomic_fetch_add(&w->running, 1);
    *ret_lane = l;
    return 0;

fail:
    if (l->curl != NULL) {
        curl_easy_cleanup(l->curl);
    }
    free(l->url);
    free(l);
    return ret;
}

/* After its thread was joined. */
static void lane_free(struct lane *l)
{
    (void)pthread_cond_destroy(&l->wake);
    curl_easy_cleanup(l->curl);
    free(l->url);
    free(l);
}

/* ---- posting --------------------------------------------------------------------- */

/* Counts, and warns when the count reaches a power of two: a flood says so a few times only. */
static void count_dropped(struct evd_webhook *w, const char *url, int why)
{
    uint64_t n = atomic_fetch_add_explicit(&w->dropped, 1, memory_order_relaxed) + 1;
    char where[256];

    evd_metrics_alert_dropped(w->options.metrics);
    if ((n & (n - 1)) != 0) {
        return;
    }
    evd_webhook_redact(url, where, sizeof(where));
    if (why == -EAGAIN) {
        warn(w, "webhook %s: queue full (%zu alerts waiting): %" PRIu64 " alerts not sent so far",
             where, w->options.queue_max, n);
    } else {
        warn(w, "webhook %s: alert not queued (%s): %" PRIu64 " alerts not sent so far", where,
             why == -ESHUTDOWN ? "stopping" : "out of memory", n);
    }
}

/* Whether l has a post to url queued or in flight. Under lock. */
static bool lane_holds(const struct lane *l, const char *url)
{
    if (l->current != NULL && strcmp(l->current->url, url) == 0) {
        return true;
    }
    for (const struct post *p = l->head; p != NULL; p = p->next) {
        if (strcmp(p->url, url) == 0) {
            return true;
        }
    }
    return false;
}

/* The lane for url, in the order of the file's top comment. Under lock. */
static struct lane *route(struct evd_webhook *w, const char *url)
{
    struct lane *idle = NULL, *l = NULL;
    char *key;

    for (size_t i = 0; i < w->lane_count; i++) {
        l = w->lanes[i];
        if (strcmp(l->url, url) == 0) {
            return l;
        }
        if (l->head == NULL && l->current == NULL &&
            (idle == NULL || l->last_used < idle->last_used)) {
            idle = l;
        }
    }
    if (lane_holds(w->overflow, url)) {
        return w->overflow;
    }
    if (w->lane_count < w->options.lanes_max && lane_start(w, url, &l) == 0) {
        w->lanes[w->lane_count++] = l;
        return l;
    }
    if (idle != NULL && (key = strdup(url)) != NULL) {
        free(idle->url);
        idle->url = key;
        return idle;
    }
    return w->overflow;
}

int evd_webhook_post(struct evd_webhook *w, const char *url, char *body, size_t len,
                     uint64_t timeout_ns, unsigned retries)
{
    struct post *p = NULL;
    int ret = 0;

    if (w == NULL || url == NULL || body == NULL) {
        free(body);
        return -EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL || (p->url = strdup(url)) == NULL) {
        free(body);
        post_free(p);
        count_dropped(w, url, -ENOMEM);
        return -ENOMEM;
    }
    p->body = body;
    p->len = len;
    p->timeout_ns = timeout_ns;
    p->retries = retries;

    (void)pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        ret = -ESHUTDOWN;
    } else {
        struct lane *l = route(w, p->url);
        if (l->queued >= w->options.queue_max) {
            ret = -EAGAIN;
        } else {
            if (l->tail != NULL) {
                l->tail->next = p;
            } else {
                l->head = p;
            }
            l->tail = p;
            l->queued++;
            l->last_used = ++w->uses;
            (void)pthread_cond_signal(&l->wake);
        }
    }
    (void)pthread_mutex_unlock(&w->lock);
    if (ret < 0) {
        post_free(p);
        count_dropped(w, url, ret);
    }
    return ret;
}

/* ---- life cycle ------------------------------------------------------------------ */

int evd_webhook_start(const struct evd_webhook_options *options, struct evd_webhook **ret_webhook)
{
    struct evd_webhook *w = calloc(1, sizeof(*w));
    struct curl_slist *h;
    int ret;

    if (w == NULL) {
        return -ENOMEM;
    }
    w->options = *options;
    if (w->options.queue_max == 0) {
        w->options.queue_max = EVD_WEBHOOK_QUEUE_MAX;
    }
    if (w->options.lanes_max == 0) {
        w->options.lanes_max = EVD_WEBHOOK_LANES_MAX;
    }
    if (w->options.backoff_base_ns == 0) {
        w->options.backoff_base_ns = EVD_WEBHOOK_BACKOFF_NS;
    }
    atomic_init(&w->deadline, 0);
    atomic_init(&w->delivered, 0);
    atomic_init(&w->failed, 0);
    atomic_init(&w->dropped, 0);
    atomic_init(&w->attempts, 0);
    atomic_init(&w->abandoned, 0);
    atomic_init(&w->running, 0);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        return -EIO;
    }
    w->lanes = calloc(w->options.lanes_max, sizeof(*w->lanes));
    h = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip before bodies over 1 KiB */
    w->headers = h != NULL ? curl_slist_append(h, "Expect:") : NULL;
    if (w->headers == NULL) {
        curl_slist_free_all(h);
    }
    if (w->lanes == NULL || w->headers == NULL) {
        ret = -ENOMEM;
        goto fail_curl;
    }
    ret = -pthread_mutex_init(&w->lock, NULL);
    if (ret < 0) {
        goto fail_curl;
    }
    ret = lane_start(w, NULL, &w->overflow);
    if (ret < 0) {
        goto fail_mutex;
    }
    *ret_webhook = w;
    return 0;

fail_mutex:
    (void)pthread_mutex_destroy(&w->lock);
fail_curl:
    curl_slist_free_all(w->headers);
    free(w->lanes);
    curl_global_cleanup();
    free(w);
    return ret;
}

void evd_webhook_stop(struct evd_webhook *w, int64_t deadline_ns)
{
    uint64_t abandoned;

    if (w == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&w->lock);
    w->stopping = true; /* refuses posts: no lane is added from here on */
    atomic_store(&w->deadline, deadline_ns != 0 ? deadline_ns : 1);
    (void)pthread_cond_broadcast(&w->overflow->wake);
    for (size_t i = 0; i < w->lane_count; i++) {
        (void)pthread_cond_broadcast(&w->lanes[i]->wake);
    }
    (void)pthread_mutex_unlock(&w->lock);

    /* a thread returns only once its queue is empty */
    (void)pthread_join(w->overflow->thread, NULL);
    for (size_t i = 0; i < w->lane_count; i++) {
        (void)pthread_join(w->lanes[i]->thread, NULL);
    }
    abandoned = atomic_load(&w->abandoned);
    if (abandoned > 0) {
        warn(w, "%" PRIu64 " alert%s not sent to webhooks: the shutdown deadline passed", abandoned,
             abandoned == 1 ? "" : "s");
    }

    lane_free(w->overflow);
    for (size_t i = 0; i < w->lane_count; i++) {
        lane_free(w->lanes[i]);
    }
    free(w->lanes);
    curl_slist_free_all(w->headers);
    (void)pthread_mutex_destroy(&w->lock);
    curl_global_cleanup();
    free(w);
}
