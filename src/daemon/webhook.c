/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webhook delivery (webhook.h): one thread, one reused curl handle (so a
 * webhook's connection is kept alive between alerts), a bounded FIFO.
 *
 * Stopping sets a deadline that every wait checks: the condition variable
 * wait of a backoff, and curl's progress callback, which aborts a transfer in
 * flight. So evd_webhook_stop() returns soon after the deadline however the
 * webhook behaves (a refused connection, a server that never answers).
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

struct evd_webhook {
    struct evd_webhook_options options;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a post queued, or stopping (CLOCK_MONOTONIC) */
    struct post *head, *tail;
    size_t queued;
    bool stopping;                 /* under lock */
    atomic_int_least64_t deadline; /* 0: none; else the stop deadline */
    atomic_uint_least64_t delivered, failed, dropped, attempts;
    uint64_t rng;     /* jitter, delivery thread only */
    CURL *curl;       /* delivery thread only */
    bool curl_global; /* curl_global_init succeeded */
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

/* Counts, and warns when the count reaches a power of two: a flood says so a few times only. */
static void count_dropped(struct evd_webhook *w)
{
    uint64_t n = atomic_fetch_add_explicit(&w->dropped, 1, memory_order_relaxed) + 1;

    evd_metrics_alert_dropped(w->options.metrics);
    if ((n & (n - 1)) == 0) {
        warn(w, "webhook queue full (%zu alerts waiting): %" PRIu64 " alerts not sent so far",
             w->options.queue_max, n);
    }
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
        count_dropped(w);
        return -ENOMEM;
    }
    p->body = body;
    p->len = len;
    p->timeout_ns = timeout_ns;
    p->retries = retries;

    (void)pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        ret = -ESHUTDOWN;
    } else if (w->queued >= w->options.queue_max) {
        ret = -EAGAIN;
    } else {
        if (w->tail != NULL) {
            w->tail->next = p;
        } else {
            w->head = p;
        }
        w->tail = p;
        w->queued++;
        (void)pthread_cond_signal(&w->wake);
    }
    (void)pthread_mutex_unlock(&w->lock);
    if (ret < 0) {
        post_free(p);
        count_dropped(w);
    }
    return ret;
}

void evd_webhook_stats(struct evd_webhook *w, struct evd_webhook_stats *ret_stats)
{
    ret_stats->delivered = atomic_load(&w->delivered);
    ret_stats->failed = atomic_load(&w->failed);
    ret_stats->dropped = atomic_load(&w->dropped);
    ret_stats->attempts = atomic_load(&w->attempts);
}

/* ---- the delivery thread ------------------------------------------------------ */

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

static uint64_t next_random(struct evd_webhook *w)
{
    /* xorshift64*: jitter only spreads retries apart, it needs no cryptographic quality */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 0x2545F4914F6CDD1Dull;
}

/*
 * Waits ns, or less if stop's deadline comes first. Returns false when the
 * deadline has passed (give up).
 */
static bool backoff(struct evd_webhook *w, uint64_t ns)
{
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
        (void)pthread_cond_timedwait(&w->wake, &w->lock, &ts);
    }
    (void)pthread_mutex_unlock(&w->lock);
    return ok;
}

/* One request. Returns 0 on a 2xx, else a negative value with why in reason. */
static int attempt(struct evd_webhook *w, const struct post *p, struct curl_slist *headers,
                   char *reason, size_t cap)
{
    CURL *c = w->curl;
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
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
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
static bool deliver(struct evd_webhook *w, struct post *p, struct curl_slist *headers)
{
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
            delay = delay / 2 + next_random(w) % (delay / 2 + 1);
            if (!backoff(w, delay)) {
                break;
            }
        } else if (past_deadline(w, evd_webhook_now_ns())) {
            break;
        }
        tries++;
        if (attempt(w, p, headers, reason, sizeof(reason)) == 0) {
            atomic_fetch_add(&w->delivered, 1);
            evd_metrics_alert(w->options.metrics, true);
            return true;
        }
    }
    atomic_fetch_add(&w->failed, 1);
    evd_metrics_alert(w->options.metrics, false);
    if (tries == 0) {
        return false; /* the thread says it once for all of them */
    }
    evd_webhook_redact(p->url, where, sizeof(where));
    warn(w, "webhook %s: alert not delivered after %u attempt%s: %s", where, tries,
         tries == 1 ? "" : "s", reason);
    return true;
}

static void *delivery_thread(void *arg)
{
    struct evd_webhook *w = arg;
    struct curl_slist *headers = NULL, *h;
    uint64_t abandoned = 0;

    h = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip before bodies over 1 KiB */
    headers = h != NULL ? curl_slist_append(h, "Expect:") : NULL;
    if (headers == NULL) {
        curl_slist_free_all(h);
    }

    (void)pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stopping) {
            (void)pthread_cond_wait(&w->wake, &w->lock);
        }
        struct post *p = w->head;
        if (p == NULL) {
            break; /* stopping, and nothing left */
        }
        w->head = p->next;
        if (w->head == NULL) {
            w->tail = NULL;
        }
        w->queued--;
        (void)pthread_mutex_unlock(&w->lock);

        if (headers == NULL) {
            atomic_fetch_add(&w->failed, 1);
            evd_metrics_alert(w->options.metrics, false);
            warn(w, "webhook: alert not delivered: out of memory");
        } else if (!deliver(w, p, headers)) {
            abandoned++;
        }
        post_free(p);
        (void)pthread_mutex_lock(&w->lock);
    }
    (void)pthread_mutex_unlock(&w->lock);
    curl_slist_free_all(headers);
    if (abandoned > 0) {
        warn(w, "%" PRIu64 " alert%s not sent to webhooks: the shutdown deadline passed", abandoned,
             abandoned == 1 ? "" : "s");
    }
    return NULL;
}

int evd_webhook_start(const struct evd_webhook_options *options, struct evd_webhook **ret_webhook)
{
    struct evd_webhook *w = calloc(1, sizeof(*w));
    pthread_condattr_t attr;
    int ret;

    if (w == NULL) {
        return -ENOMEM;
    }
    w->options = *options;
    if (w->options.queue_max == 0) {
        w->options.queue_max = EVD_WEBHOOK_QUEUE_MAX;
    }
    if (w->options.backoff_base_ns == 0) {
        w->options.backoff_base_ns = EVD_WEBHOOK_BACKOFF_NS;
    }
    atomic_init(&w->deadline, 0);
    atomic_init(&w->delivered, 0);
    atomic_init(&w->failed, 0);
    atomic_init(&w->dropped, 0);
    atomic_init(&w->attempts, 0);
    if (getrandom(&w->rng, sizeof(w->rng), GRND_NONBLOCK) != (ssize_t)sizeof(w->rng)) {
        w->rng = (uint64_t)evd_webhook_now_ns();
    }
    w->rng |= 1; /* xorshift never leaves 0 */

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        return -EIO;
    }
    w->curl_global = true;
    w->curl = curl_easy_init();
    if (w->curl == NULL) {
        ret = -ENOMEM;
        goto fail_curl;
    }
    ret = -pthread_mutex_init(&w->lock, NULL);
    if (ret < 0) {
        goto fail_curl;
    }
    ret = -pthread_condattr_init(&attr);
    if (ret < 0) {
        goto fail_mutex;
    }
    ret = -pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (ret == 0) {
        ret = -pthread_cond_init(&w->wake, &attr);
    }
    (void)pthread_condattr_destroy(&attr);
    if (ret < 0) {
        goto fail_mutex;
    }
    ret = -pthread_create(&w->thread, NULL, delivery_thread, w);
    if (ret < 0) {
        goto fail_cond;
    }
    *ret_webhook = w;
    return 0;

fail_cond:
    (void)pthread_cond_destroy(&w->wake);
fail_mutex:
    (void)pthread_mutex_destroy(&w->lock);
fail_curl:
    curl_easy_cleanup(w->curl);
    curl_global_cleanup();
    free(w);
    return ret;
}

void evd_webhook_stop(struct evd_webhook *w, int64_t deadline_ns)
{
    if (w == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&w->lock);
    w->stopping = true;
    atomic_store(&w->deadline, deadline_ns != 0 ? deadline_ns : 1);
    (void)pthread_cond_broadcast(&w->wake);
    (void)pthread_mutex_unlock(&w->lock);
    (void)pthread_join(w->thread, NULL);

    /* the thread returns only once the queue is empty, and stopping refuses new posts */
    (void)pthread_cond_destroy(&w->wake);
    (void)pthread_mutex_destroy(&w->lock);
    curl_easy_cleanup(w->curl);
    if (w->curl_global) {
        curl_global_cleanup();
    }
    free(w);
}
