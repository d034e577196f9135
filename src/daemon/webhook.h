/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webhook delivery: JSON bodies POSTed with libcurl (Content-Type
 * application/json, User-Agent evidentd/VERSION), retried with exponential
 * backoff and jitter. A 2xx answer is delivered; anything else (another
 * status, a refused connection, a timeout) is retried, and after the last
 * attempt counted failed.
 *
 * One webhook cannot delay another: each URL is delivered by a lane of its
 * own (a bounded FIFO, a curl handle and a thread), made on the first post to
 * that URL, so a dead webhook's retries and timeouts hold back only the
 * alerts for that URL. Posts to one URL are delivered in the order posted.
 * Lanes are bounded: at most options.lanes_max keyed by URL (alerting.rules
 * has at most 64 entries; reloads can bring new URLs), past that a new URL
 * takes over the least recently used idle lane, and when every lane is busy
 * it shares one overflow lane (started with the webhook) with the other URLs
 * that found no lane. So there are never more than lanes_max + 1 delivery
 * threads, and never more than queue_max posts waiting in each:
 * (lanes_max + 1) * queue_max in all.
 *
 * Posting never blocks: a full lane refuses the body (counted dropped). Only
 * the lanes' threads talk to the network.
 *
 * A webhook URL may carry a token (in its path, query or user info): no
 * message ever shows more of it than evd_webhook_redact() gives, the scheme
 * and the host.
 */
#ifndef EVD_WEBHOOK_H
#define EVD_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct evd_metrics;
struct evd_webhook;

/* Where warnings go (one line, no trailing newline); NULL: stderr with "evidentd: ". */
typedef void (*evd_warn_fn)(void *ctx, const char *message);

#define EVD_WEBHOOK_QUEUE_MAX 1024                /* default posts waiting, per lane */
#define EVD_WEBHOOK_LANES_MAX 64                  /* default lanes keyed by URL */
#define EVD_WEBHOOK_BACKOFF_NS 1000000000ull      /* default first retry delay: 1 s */
#define EVD_WEBHOOK_BACKOFF_MAX_NS 60000000000ull /* retries never wait longer than 60 s */

struct evd_webhook_options {
    size_t queue_max;            /* posts waiting in each lane; 0: EVD_WEBHOOK_QUEUE_MAX */
    size_t lanes_max;            /* lanes keyed by URL; 0: EVD_WEBHOOK_LANES_MAX */
    uint64_t backoff_base_ns;    /* 0: EVD_WEBHOOK_BACKOFF_NS; retry k waits base * 2^(k-1),
                                    jittered down to half of that, at most the maximum */
    struct evd_metrics *metrics; /* alerts_delivered / failed / dropped; may be NULL */
    evd_warn_fn warn;
    void *warn_ctx;
};

struct evd_webhook_stats {
    uint64_t delivered; /* a 2xx answer */
    uint64_t failed;    /* every attempt failed, or evd_webhook_stop's deadline came first */
    uint64_t dropped;   /* refused by a full lane (or out of memory, or after stop) */
    uint64_t attempts;  /* HTTP requests made (or tried) */
    uint64_t lanes;     /* lanes started (the overflow lane and the keyed ones); they run
                           until stop, so never more than lanes_max + 1 */
};

/*
 * Starts libcurl and the overflow lane's thread (keyed lanes start on their
 * first post). 0, -ENOMEM, -EIO (libcurl) or -errno.
 */
int evd_webhook_start(const struct evd_webhook_options *options, struct evd_webhook **ret_webhook);

/*
 * Queues a POST of body (len bytes) to url on url's lane: one attempt plus up
 * to retries more, each limited to timeout_ns. body is always taken (freed by
 * the webhook, even on error); url is copied. Returns 0, -EAGAIN when the
 * lane's queue is full (counted dropped), -ESHUTDOWN once stopping, -ENOMEM.
 * Never blocks (it may start a lane's thread, which does not wait for it).
 */
int evd_webhook_post(struct evd_webhook *w, const char *url, char *body, size_t len,
                     uint64_t timeout_ns, unsigned retries);

/* The counts so far. */
void evd_webhook_stats(struct evd_webhook *w, struct evd_webhook_stats *ret_stats);

/*
 * Delivers what is queued, every lane at once, until deadline_ns
 * (CLOCK_MONOTONIC), aborting a request or a backoff still running then;
 * what is left is counted failed. Joins every lane's thread and frees.
 * Accepts NULL.
 */
void evd_webhook_stop(struct evd_webhook *w, int64_t deadline_ns);

/*
 * Writes "scheme://host" of url into out (cap bytes, NUL-terminated): what
 * messages may show. Port, user info, path, query and fragment are left out;
 * "(invalid URL)" if url does not parse.
 */
void evd_webhook_redact(const char *url, char *out, size_t cap);

/* CLOCK_MONOTONIC in ns. */
int64_t evd_webhook_now_ns(void);

#endif
