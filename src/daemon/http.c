/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd under api.h (http.h): listeners, bodies, TLS and the
 * suspension of a connection while its write waits for the committer.
 *
 * A request's state lives from its first callback to MHD's "completed"
 * notification and, when a write is in flight, until the committer's answer
 * too: two references. The answer may arrive before the handler has
 * suspended the connection (the committer is quick); the answered and
 * suspended flags, under h->lock, decide who queues the response.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include <evident/error.h>

#include "api.h"
#include "error.h" /* src/lib: evi_error() sets ev_last_error() for the caller */
#include "http.h"
#include "metrics.h"

#define THREADS_PER_LISTENER 2u
#define MAX_SOCKETS (EV_CONFIG_MAX_LISTENERS * 4 + 1)
#define TLS_FILE_MAX_BYTES (1u << 20)
#define STOP_WAIT_NS (10ll * 1000000000ll)
/* Then, for the 503s of the writes still waiting to be sent. */
#define FLUSH_WAIT_NS (1ll * 1000000000ll)
/*
 * A chunked body cannot be answered in the middle (MHD queues responses only
 * between uploads): past the limit it is read and dropped, up to this much
 * more, before the 413; a client sending still more is cut off.
 */
#define DISCARD_MAX_BYTES (1u << 20)

struct listener {
    struct evd_http *h;
    struct MHD_Daemon *mhd; /* NULL: bound, not served yet (evd_http_run) */
    int fd;
    bool monitoring;
    const char *key; /* the configuration key it comes from (static text) */
    char *address;   /* as configured, for messages */
};

struct evd_http {
    struct evd *d;
    struct listener listeners[MAX_SOCKETS];
    size_t count;
    uint64_t max_connections;
    uint64_t request_timeout_ns; /* as at start, like MHD's idle timeout; 0: none */
    unsigned timeout_s, limit;   /* MHD's idle timeout and connection limit */
    atomic_uint_least64_t connections;
    atomic_uint_least64_t body_bytes; /* request bodies held now (tests) */
    char *tls_cert, *tls_key;         /* PEM texts, NUL-terminated; the key is wiped at stop */
    size_t tls_key_len;

    /* Writes waiting for the committer. */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    size_t pending;
    size_t flushing;         /* answered late, their response not yet sent */
    struct request *waiting; /* a list through request.next */
    size_t abandoned_left;   /* abandoned writes whose late answer has not come yet */
    bool stopped;            /* evd_http_stop() is done: the last late answer frees h */
};

struct request {
    struct listener *listener;
    struct MHD_Connection *connection;
    atomic_int refs;
    uint64_t max_bytes;
    char *body;
    size_t len, cap;
    uint64_t received; /* bytes of body seen, stored or not */
    bool too_big;
    bool discard_body;   /* not a POST: no route reads its body, so none is kept */
    int64_t deadline_ns; /* evd_now_ns() by which the body must be whole; 0: none */

    /* Under h->lock. */
    bool waiting, suspended, answered, abandoned, flushing;
    struct evd_response response;
    struct request *next, *prev;
};

static void request_unref(struct request *q)
{
    if (atomic_fetch_sub(&q->refs, 1) != 1) {
        return;
    }
    evd_response_clear(&q->response);
    if (q->len > 0) {
        atomic_fetch_sub(&q->listener->h->body_bytes, q->len);
    }
    free(q->body);
    free(q);
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result queue(struct MHD_Connection *c, struct evd_response *r, bool close)
{
    struct MHD_Response *response;
    char retry[24];
    enum MHD_Result ok;

    response = MHD_create_response_from_buffer(r->body_len, r->body != NULL ? r->body : "",
                                               r->body != NULL ? MHD_RESPMEM_MUST_FREE
                                                               : MHD_RESPMEM_PERSISTENT);
    if (response == NULL) {
        evd_response_clear(r);
        return MHD_NO;
    }
    r->body = NULL; /* MHD frees it */
    r->body_len = 0;
    ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                 r->content_type != NULL ? r->content_type : "application/json");
    ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ok &= MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (r->retry_after > 0) {
        (void)snprintf(retry, sizeof(retry), "%u", r->retry_after);
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    if (r->allow != NULL) {
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, r->allow);
    }
    if (r->authenticate != NULL) {
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->authenticate);
    }
    if (close) {
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    if (ok == MHD_YES) {
        ok = MHD_queue_response(c, (unsigned)r->status, response);
    }
    MHD_destroy_response(response);
    return ok;
}

static enum MHD_Result queue_too_big(struct listener *l, struct MHD_Connection *c,
                                     uint64_t max_bytes)
{
    struct evd_response r = {0};

    if (l->h->d->metrics != NULL) {
        evd_metrics_reject(l->h->d->metrics, EVD_SRC_HTTP, EVD_REJ_TOO_BIG, 1);
    }
    evd_api_error(&r, 413, "request body over %" PRIu64 " bytes (server.max_request_bytes)",
                  max_bytes);
    return queue(c, &r, true);
}

/* ---- the committer's answer ---------------------------------------------- */

/* Takes q off the waiting list (under h->lock). */
static void unwait_locked(struct evd_http *h, struct request *q)
{
    if (!q->waiting) {
        return;
    }
    q->waiting = false;
    if (q->prev != NULL) {
        q->prev->next = q->next;
    } else {
        h->waiting = q->next;
    }
    if (q->next != NULL) {
        q->next->prev = q->prev;
    }
    if (--h->pending == 0 && h->flushing == 0) {
        (void)pthread_cond_broadcast(&h->idle);
    }
}

static void http_free(struct evd_http *h)
{
    (void)pthread_cond_destroy(&h->idle);
    (void)pthread_mutex_destroy(&h->lock);
    free(h);
}

/* On the committer thread: store the answer and wake the connection. */
static void answered(void *ctx, struct evd_response *response)
{
    struct request *q = ctx;
    struct evd_http *h = q->listener->h;
    bool abandoned, last = false;

    (void)pthread_mutex_lock(&h->lock);
    abandoned = q->abandoned;
    if (abandoned) {
        /* evd_http_stop gave up waiting and answered 503 already. */
        evd_response_clear(response);
    } else {
        q->response = *response;
        q->answered = true;
        unwait_locked(h, q);
        if (!q->flushing) {
            q->flushing = true;
            h->flushing++;
        }
        if (q->suspended) {
            q->suspended = false;
            MHD_resume_connection(q->connection);
        }
    }
    (void)pthread_mutex_unlock(&h->lock);
    request_unref(q); /* uses h, which a late answer keeps until it is counted off below */
    if (abandoned) {
        (void)pthread_mutex_lock(&h->lock);
        last = --h->abandoned_left == 0 && h->stopped;
        (void)pthread_mutex_unlock(&h->lock);
        if (last) {
            http_free(h); /* stopped, and this was the last answer it waited for */
        }
    }
}

/* ---- the access handler -------------------------------------------------- */

static const char *query_value(void *ctx, const char *key)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static void peer_address(struct MHD_Connection *c, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;
    socklen_t len = 0;

    (void)snprintf(out, size, "unknown");
    if (sa == NULL) {
        return;
    }
    if (sa->sa_family == AF_INET) {
        len = sizeof(struct sockaddr_in);
    } else if (sa->sa_family == AF_INET6) {
        len = sizeof(struct sockaddr_in6);
    } else {
        return;
    }
    if (getnameinfo(sa, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0) {
        (void)snprintf(out, size, "unknown");
    }
}

static bool parse_length(const char *text, uint64_t *ret_value)
{
    uint64_t v = 0;

    if (text == NULL || *text == '\0') {
        return false;
    }
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9' || v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*text - '0');
    }
    *ret_value = v;
    return true;
}

/* Appends an upload chunk within the request's bound. */
static void take_body(struct request *q, const char *data, size_t len)
{
    q->received += len;
    if (q->too_big || q->received > q->max_bytes) {
        q->too_big = true;
        return;
    }
    if (q->discard_body) {
        return; /* read and counted against the limit, never held */
    }
    if (q->len + len + 1 > q->cap) {
        size_t cap = q->cap < 4096 ? 4096 : q->cap;
        while (cap < q->len + len + 1) {
            cap *= 2;
        }
        if (cap > q->max_bytes + 1) {
            cap = (size_t)q->max_bytes + 1;
        }
        char *body = realloc(q->body, cap);
        if (body == NULL) {
            q->too_big = true; /* answered 413: the server cannot hold it */
            return;
        }
        q->body = body;
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, len);
    q->len += len;
    atomic_fetch_add(&q->listener->h->body_bytes, len);
    q->body[q->len] = '\0';
}

static struct request *request_new(struct listener *l, struct MHD_Connection *c)
{
    struct evd *d = l->h->d;
    struct request *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        return NULL;
    }
    q->listener = l;
    q->connection = c;
    atomic_init(&q->refs, 1);
    (void)pthread_rwlock_rdlock(&d->config_lock);
    q->max_bytes = d->config->server.max_request_bytes;
    (void)pthread_rwlock_unlock(&d->config_lock);
    if (l->h->request_timeout_ns > 0) { /* at most a day (the configuration's bound) */
        q->deadline_ns = evd_now_ns() + (int64_t)l->h->request_timeout_ns;
    }
    return q;
}

/* The request as api.h sees it, without its body and peer. */
static void describe(struct listener *l, struct MHD_Connection *c, const char *url,
                     const char *method, struct evd_request *request)
{
    request->method = method;
    request->path = url;
    request->query = query_value;
    request->query_ctx = c;
    request->authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    request->content_type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    request->monitoring = l->monitoring;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct listener *l = cls;
    struct evd_http *h = l->h;
    struct request *q = *con_cls;
    struct evd_request request = {0};
    struct evd_response response = {0};
    uint64_t length;

    if (q == NULL) {
        q = request_new(l, c);
        if (q == NULL) {
            return MHD_NO;
        }
        *con_cls = q;
        /* Only the write routes read a body: a GET or HEAD with one is not made to hold it. */
        q->discard_body = strcmp(method, MHD_HTTP_METHOD_POST) != 0;
        /*
         * A request with a body that the API refuses from its headers alone (route,
         * method, token), or whose declared body is over the limit, is answered before
         * any of the body is read, and before 100 Continue: only a request the API would
         * take has its body held. MHD closes the connection after such an early answer,
         * so a request without a body is left to the usual path, which keeps it open.
         */
        bool has_length = parse_length(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH),
            &length);
        if ((has_length && length > 0) ||
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
                NULL) {
            describe(l, c, url, method, &request);
            if (evd_api_admit(h->d, &request, &response) == 1) {
                return queue(c, &response, true);
            }
        }
        if (has_length && length > q->max_bytes) {
            return queue_too_big(l, c, q->max_bytes);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /*
         * MHD's timeout is for idleness only: a body trickled in just faster than that
         * would hold its connection and buffer for ever. The request as a whole has
         * request_timeout from its headers; past it, the connection is closed (MHD cannot
         * answer in the middle of an upload).
         */
        if (q->deadline_ns != 0 && evd_now_ns() > q->deadline_ns) {
            return MHD_NO;
        }
        take_body(q, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return q->received > q->max_bytes + DISCARD_MAX_BYTES ? MHD_NO : MHD_YES;
    }

    /* The request is complete, or the connection was resumed with the answer. */
    (void)pthread_mutex_lock(&h->lock);
    if (q->answered) {
        response = q->response;
        q->response = (struct evd_response){0};
        q->answered = false;
        (void)pthread_mutex_unlock(&h->lock);
        return queue(c, &response, false);
    }
    (void)pthread_mutex_unlock(&h->lock);
    if (q->too_big) {
        return queue_too_big(l, c, q->max_bytes);
    }

    describe(l, c, url, method, &request);
    request.body = q->body;
    request.body_len = q->len;
    peer_address(c, request.peer, sizeof(request.peer));

    atomic_fetch_add(&q->refs, 1); /* the answer's */
    (void)pthread_mutex_lock(&h->lock);
    q->waiting = true;
    q->prev = NULL;
    q->next = h->waiting;
    if (h->waiting != NULL) {
        h->waiting->prev = q;
    }
    h->waiting = q;
    h->pending++;
    (void)pthread_mutex_unlock(&h->lock);

    if (evd_api_handle(h->d, &request, answered, q, &response) == 1) {
        /* Answered now: no answer will come. */
        (void)pthread_mutex_lock(&h->lock);
        unwait_locked(h, q);
        (void)pthread_mutex_unlock(&h->lock);
        request_unref(q);
        return queue(c, &response, false);
    }
    (void)pthread_mutex_lock(&h->lock);
    if (q->answered) { /* the committer was quicker than us */
        response = q->response;
        q->response = (struct evd_response){0};
        q->answered = false;
        (void)pthread_mutex_unlock(&h->lock);
        return queue(c, &response, false);
    }
    q->suspended = true;
    MHD_suspend_connection(c);
    (void)pthread_mutex_unlock(&h->lock);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct request *q = *con_cls;
    struct evd_http *h;

    if (q == NULL) {
        return;
    }
    *con_cls = NULL;
    h = q->listener->h;
    (void)pthread_mutex_lock(&h->lock);
    if (q->flushing) {
        q->flushing = false;
        if (--h->flushing == 0 && h->pending == 0) {
            (void)pthread_cond_broadcast(&h->idle);
        }
    }
    (void)pthread_mutex_unlock(&h->lock);
    request_unref(q);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct listener *l = cls;
    struct evd_http *h = l->h;
    int delta = toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1;

    if (delta > 0) {
        atomic_fetch_add(&h->connections, 1);
    } else {
        atomic_fetch_sub(&h->connections, 1);
    }
    if (h->d->metrics != NULL) {
        evd_metrics_connections(h->d->metrics, delta);
    }
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct evd_http *h = cls;
    return atomic_load(&h->connections) < h->max_connections ? MHD_YES : MHD_NO;
}

/* ---- start and stop ------------------------------------------------------ */

/* Reads a PEM file; for the key, refuses a mode that lets group or others in. */
static int read_pem(const char *key, const char *path, bool secret, char **ret_text,
                    size_t *ret_len)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return evi_error(-errno, "%s: cannot open '%s': %s", key, path, strerror(errno));
    }
    if (fstat(fd, &st) < 0) {
        r = evi_error(-errno, "%s: cannot read '%s': %s", key, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = evi_error(EV_EFORMAT, "%s: '%s' is not a regular file", key, path);
        goto out;
    }
    if (secret && (st.st_mode & 077) != 0) {
        r = evi_error(EV_EKEYPERM,
                      "%s: '%s' is accessible by group or others (mode %03o): "
                      "chmod 600 it",
                      key, path, (unsigned)(st.st_mode & 0777));
        goto out;
    }
    if ((uint64_t)st.st_size > TLS_FILE_MAX_BYTES) {
        r = evi_error(EV_ETOOBIG, "%s: '%s' is over %u bytes", key, path, TLS_FILE_MAX_BYTES);
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        r = -ENOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            r = evi_error(n < 0 ? -errno : EV_EFORMAT, "%s: cannot read '%s'", key, path);
            goto out;
        }
        len += (size_t)n;
    }
    text[len] = '\0';
    if (len == 0 || strlen(text) != len) {
        r = evi_error(EV_EFORMAT, "%s: '%s' is not a PEM file", key, path);
        goto out;
    }
    *ret_text = text;
    *ret_len = len;
    text = NULL;
out:
    if (text != NULL) {
        OPENSSL_cleanse(text, (size_t)st.st_size + 1);
        free(text);
    }
    (void)close(fd);
    return r;
}

/* Splits "host:port" or "[v6]:port" into host and port texts. */
static int split_address(const char *key, const char *address, char *host, size_t host_size,
                         char *port, size_t port_size)
{
    const char *colon, *host_start = address, *host_end;

    if (address[0] == '[') {
        host_start = address + 1;
        host_end = strchr(host_start, ']');
        if (host_end == NULL || host_end[1] != ':') {
            return evi_error(EV_EFORMAT, "%s: '%s': expected [IPv6]:PORT", key, address);
        }
        colon = host_end + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL || memchr(address, ':', (size_t)(colon - address)) != NULL) {
            return evi_error(EV_EFORMAT, "%s: '%s': expected HOST:PORT or [IPv6]:PORT", key,
                             address);
        }
        host_end = colon;
    }
    size_t host_len = (size_t)(host_end - host_start), port_len = strlen(colon + 1);
    if (host_len == 0 || host_len >= host_size || port_len == 0 || port_len > 5 ||
        port_len >= port_size || strspn(colon + 1, "0123456789") != port_len ||
        strtoul(colon + 1, NULL, 10) > 65535) {
        return evi_error(EV_EFORMAT, "%s: '%s': expected HOST:PORT with a port of 0 to 65535", key,
                         address);
    }
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    memcpy(port, colon + 1, port_len + 1);
    return 0;
}

static int bind_one(const char *key, const char *address, const struct addrinfo *ai, int *ret_fd)
{
    int fd, one = 1, r;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        return evi_error(-errno, "%s: '%s': cannot create a socket: %s", key, address,
                         strerror(errno));
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) {
        /* [::]:80 and 0.0.0.0:80 may both be listed. */
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        (void)close(fd);
        return evi_error(r, "%s: cannot listen on '%s': %s", key, address, strerror(-r));
    }
    *ret_fd = fd;
    return 0;
}

/* Serves l (bound by listen_on). 0, or an error with the message set. */
static int run_listener(struct evd_http *h, struct listener *l)
{
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    bool use_tls = !l->monitoring && h->tls_cert != NULL;

    if (use_tls) {
        flags |= MHD_USE_TLS;
    }
    l->mhd = MHD_start_daemon(flags, 0, accept_policy, h, handle, l, MHD_OPTION_LISTEN_SOCKET,
                              l->fd, MHD_OPTION_THREAD_POOL_SIZE, THREADS_PER_LISTENER,
                              MHD_OPTION_CONNECTION_TIMEOUT, h->timeout_s,
                              MHD_OPTION_CONNECTION_LIMIT, h->limit, MHD_OPTION_NOTIFY_COMPLETED,
                              completed, l, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, l,
                              MHD_OPTION_ARRAY, use_tls ? tls : &tls[2], MHD_OPTION_END);
    if (l->mhd == NULL) {
        return evi_error(use_tls ? EV_EFORMAT : -EIO, "%s: cannot serve HTTP%s on '%s'%s", l->key,
                         use_tls ? "S" : "", l->address != NULL ? l->address : "?",
                         use_tls ? " (is the certificate or key malformed?)" : "");
    }
    return 0;
}

/* Binds every address address resolves to (served by evd_http_run). */
static int listen_on(struct evd_http *h, const char *key, const char *address, bool monitoring)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG},
                    *list = NULL;
    char host[256], port[8];
    int r, fd = -1;

    r = split_address(key, address, host, sizeof(host), port, sizeof(port));
    if (r < 0) {
        return r;
    }
    r = getaddrinfo(host, port, &hints, &list);
    if (r != 0) {
        return evi_error(EV_EFORMAT, "%s: cannot resolve '%s': %s", key, address, gai_strerror(r));
    }
    r = 0;
    for (const struct addrinfo *ai = list; ai != NULL && r == 0; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }
        if (h->count == MAX_SOCKETS) {
            r = evi_error(EV_EFORMAT, "%s: too many addresses to listen on", key);
            break;
        }
        r = bind_one(key, address, ai, &fd);
        if (r == 0) {
            /* Closed by evd_http_stop() from here on. */
            h->listeners[h->count++] = (struct listener){
                .h = h, .fd = fd, .monitoring = monitoring, .key = key, .address = strdup(address)};
        }
    }
    freeaddrinfo(list);
    return r;
}

uint64_t evd_http_body_bytes(struct evd_http *h)
{
    return h != NULL ? atomic_load(&h->body_bytes) : 0;
}

uint16_t evd_http_port(const struct evd_http *h, size_t i)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (h == NULL || i >= h->count ||
        getsockname(h->listeners[i].fd, (struct sockaddr *)&ss, &len) < 0) {
        return 0;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

int evd_http_bind(struct evd *d, struct evd_http **ret_http)
{
    const struct ev_config *config;
    struct evd_http *h;
    size_t cert_len = 0;
    int r = 0;

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return -ENOMEM;
    }
    h->d = d;
    atomic_init(&h->connections, 0);
    atomic_init(&h->body_bytes, 0);
    (void)pthread_mutex_init(&h->lock, NULL);
    (void)pthread_cond_init(&h->idle, NULL);

    (void)pthread_rwlock_rdlock(&d->config_lock);
    config = d->config;
    h->max_connections = config->server.max_connections > 0 ? config->server.max_connections : 1;
    h->limit = h->max_connections > UINT32_MAX ? UINT32_MAX : (unsigned)h->max_connections;
    /* MHD counts whole seconds: round up, at least one. */
    uint64_t timeout_ns = config->server.request_timeout_ns;
    h->request_timeout_ns = timeout_ns;
    h->timeout_s = timeout_ns == 0 ? 0
                                   : (unsigned)((timeout_ns + 999999999u) / 1000000000u > UINT32_MAX
                                                    ? UINT32_MAX
                                                    : (timeout_ns + 999999999u) / 1000000000u);
    if ((config->server.tls_cert_file == NULL) != (config->server.tls_key_file == NULL)) {
        r = evi_error(EV_EFORMAT, "server.tls_cert_file and server.tls_key_file go together");
    }
    if (r == 0 && config->server.tls_cert_file != NULL) {
        r = read_pem("server.tls_cert_file", config->server.tls_cert_file, false, &h->tls_cert,
                     &cert_len);
        if (r == 0) {
            r = read_pem("server.tls_key_file", config->server.tls_key_file, true, &h->tls_key,
                         &h->tls_key_len);
        }
    }
    for (size_t i = 0; r == 0 && i < config->server.http_listen_count; i++) {
        r = listen_on(h, "server.http_listen", config->server.http_listen[i], false);
    }
    if (r == 0 && config->monitoring.metrics_listen != NULL &&
        (config->monitoring.metrics || config->monitoring.health)) {
        r = listen_on(h, "monitoring.metrics_listen", config->monitoring.metrics_listen, true);
    }
    (void)pthread_rwlock_unlock(&d->config_lock);
    if (r < 0) {
        evd_http_stop(h);
        return r;
    }
    *ret_http = h;
    return 0;
}

int evd_http_run(struct evd_http *h)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < h->count; i++) {
        r = run_listener(h, &h->listeners[i]);
    }
    return r;
}

int evd_http_start(struct evd *d, struct evd_http **ret_http)
{
    struct evd_http *h = NULL;
    int r = evd_http_bind(d, &h);
    if (r == 0 && (r = evd_http_run(h)) < 0) {
        evd_http_stop(h);
    }
    if (r == 0) {
        *ret_http = h;
    }
    return r;
}

void evd_http_stop(struct evd_http *h)
{
    struct timespec deadline;
    int fds[MAX_SOCKETS];

    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->count; i++) {
        struct listener *l = &h->listeners[i];
        fds[i] = l->mhd != NULL ? MHD_quiesce_daemon(l->mhd) : l->fd; /* not served: ours */
    }

    /* Writes in flight get their answer from the committer, and sent, for a while. */
    (void)clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STOP_WAIT_NS / 1000000000ll;
    (void)pthread_mutex_lock(&h->lock);
    while (h->pending > 0 || h->flushing > 0) {
        if (pthread_cond_timedwait(&h->idle, &h->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    /*
     * MHD may not stop with suspended connections: answer what is left ourselves, and let
     * those answers be sent (completed() counts them off) before MHD closes every
     * connection, which would drop them unsent.
     */
    for (struct request *q = h->waiting; q != NULL; q = q->next) {
        q->abandoned = true;
        q->waiting = false;
        evd_response_clear(&q->response);
        q->response = (struct evd_response){0};
        evd_api_error(&q->response, 503, "stopping: the write may or may not be committed");
        q->answered = true;
        if (!q->flushing) {
            q->flushing = true;
            h->flushing++;
        }
        if (q->suspended) {
            q->suspended = false;
            MHD_resume_connection(q->connection);
        }
        h->abandoned_left++;
    }
    h->waiting = NULL;
    h->pending = 0;
    (void)clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += FLUSH_WAIT_NS / 1000000000ll;
    while (h->flushing > 0) {
        if (pthread_cond_timedwait(&h->idle, &h->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    (void)pthread_mutex_unlock(&h->lock);

    for (size_t i = 0; i < h->count; i++) {
        if (h->listeners[i].mhd != NULL) {
            MHD_stop_daemon(h->listeners[i].mhd);
        }
        if (fds[i] != MHD_INVALID_SOCKET) {
            (void)close(fds[i]);
        }
        free(h->listeners[i].address);
        h->listeners[i].address = NULL;
    }
    if (h->tls_key != NULL) {
        OPENSSL_cleanse(h->tls_key, h->tls_key_len);
    }
    free(h->tls_key);
    free(h->tls_cert);
    h->tls_key = h->tls_cert = NULL;
    (void)pthread_mutex_lock(&h->lock);
    bool wait_for_answers = h->abandoned_left > 0;
    h->stopped = true;
    (void)pthread_mutex_unlock(&h->lock);
    if (wait_for_answers) {
        return; /* a late answer still takes h->lock: the last one frees h (answered()) */
    }
    http_free(h);
}
