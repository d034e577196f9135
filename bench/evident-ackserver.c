/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident-ackserver: the simplest HTTP server with durable acknowledgements,
 * the reference of the daemon benchmark's latency run (bench/daemon.sh,
 * docs/PERFORMANCE.md "The daemon"). It tells what any HTTP server can reach
 * on this machine for evidentd's workload shape, measured by the same load
 * generator on the same file system in the same repetition.
 *
 * It does what evidentd does around the log and nothing of the log itself:
 *
 *   - libmicrohttpd with evidentd's thread model (src/daemon/http.c: an
 *     internal polling thread pool of 2 with epoll, suspend/resume, ITC);
 *   - POST /v1/events: the body is read whole, the connection is suspended
 *     and the request queued for one sync thread (evidentd's committer);
 *   - the sync thread takes everything queued (group commit), appends the
 *     raw bodies to one file with one pwritev, calls fdatasync, and only then
 *     resumes each connection with its 200, in order.
 *
 * No JSON parsing, no hashing, no token check (the Authorization header is
 * ignored), no per-event work at all: what is left is HTTP, two thread
 * hand-offs and the fdatasync. The 200's body is {"offset":N,"bytes":M}
 * (evidentd's names every index: about 700 bytes more for 100 events).
 * GET /healthz answers 200 so that `evident-loadgen probe` can wait for it.
 *
 *   evident-ackserver --port P --dir D
 *
 * Runs until SIGTERM or SIGINT, then answers everything queued, prints one
 * line of key=value pairs on stdout (requests, bytes, fdatasyncs, the p50 and
 * p99 of its own write + fdatasync) and exits
 * 0. Exit 1 on errors, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <microhttpd.h>

#define BODY_MAX_BYTES (16u << 20)
#define THREADS 2u /* evidentd's THREADS_PER_LISTENER */
#define IOV_BATCH 64

struct request {
    atomic_int refs; /* MHD's (until completed) and the sync thread's (while queued) */
    char *body;
    size_t len, cap;
    bool too_big;
    /* Under lock. */
    bool submitted, answered, suspended;
    int rc; /* 0 durable, else -errno */
    uint64_t offset;
    struct MHD_Connection *connection;
    struct request *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct request *head, *tail;
static bool stopping;

static int data_fd = -1;
static uint64_t data_end;
static uint64_t requests_total, bytes_total, syncs_total, sync_errors;
static int64_t *sync_ns; /* the duration of each write + fdatasync, for the exit line */
static size_t sync_ns_cap;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (q in 0..1) of the sorted durations, in µs. */
static double sync_us(double q)
{
    if (syncs_total == 0) {
        return 0;
    }
    size_t rank = (size_t)(q * (double)syncs_total + 0.999999);
    rank = rank < 1 ? 1 : rank > syncs_total ? syncs_total : rank;
    return (double)sync_ns[rank - 1] / 1e3;
}

static void request_unref(struct request *q)
{
    if (atomic_fetch_sub(&q->refs, 1) == 1) {
        free(q->body);
        free(q);
    }
}

/* Writes the bodies of list at data_end in one pwritev per IOV_BATCH: 0 or -errno. */
static int append_list(struct request *list)
{
    struct iovec iov[IOV_BATCH];
    struct request *q = list;

    while (q != NULL) {
        int n = 0;
        size_t want = 0;
        for (; q != NULL && n < IOV_BATCH; q = q->next) {
            q->offset = data_end + want;
            iov[n++] = (struct iovec){.iov_base = q->body, .iov_len = q->len};
            want += q->len;
        }
        struct iovec *v = iov;
        while (want > 0) {
            ssize_t w = pwritev(data_fd, v, n, (off_t)data_end);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                return w < 0 ? -errno : -EIO;
            }
            data_end += (uint64_t)w;
            want -= (size_t)w;
            while (w > 0 && (size_t)w >= v->iov_len) {
                w -= (ssize_t)v->iov_len;
                v++;
                n--;
            }
            if (w > 0) {
                v->iov_base = (char *)v->iov_base + w;
                v->iov_len -= (size_t)w;
            }
        }
    }
    return 0;
}

/* evidentd's committer, without the log: take all, write, fdatasync, answer in order. */
static void *syncer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (head == NULL && !stopping) {
            pthread_cond_wait(&wake, &lock);
        }
        if (head == NULL) {
            break;
        }
        struct request *list = head;
        head = tail = NULL;
        pthread_mutex_unlock(&lock);

        int64_t t0 = now_ns();
        int rc = append_list(list);
        if (rc == 0 && fdatasync(data_fd) < 0) {
            rc = -errno;
        }
        int64_t took = now_ns() - t0;

        pthread_mutex_lock(&lock);
        if (syncs_total == sync_ns_cap) {
            size_t cap = sync_ns_cap > 0 ? sync_ns_cap * 2 : 4096;
            int64_t *grown = realloc(sync_ns, cap * sizeof(*grown));
            if (grown == NULL) {
                (void)fprintf(stderr, "evident-ackserver: out of memory\n");
                exit(1);
            }
            sync_ns = grown;
            sync_ns_cap = cap;
        }
        sync_ns[syncs_total++] = took;
        if (rc < 0) {
            sync_errors++;
        }
        while (list != NULL) {
            struct request *q = list;
            list = q->next;
            q->next = NULL;
            q->rc = rc;
            q->answered = true;
            requests_total++;
            bytes_total += q->len;
            if (q->suspended) {
                q->suspended = false;
                MHD_resume_connection(q->connection);
            }
            request_unref(q); /* the queue's reference; MHD still holds its own */
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    enum MHD_Result ok =
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (ok == MHD_YES) {
        ok = MHD_queue_response(c, status, r);
    }
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_of(struct MHD_Connection *c, const struct request *q)
{
    char body[96];
    if (q->rc < 0) {
        (void)snprintf(body, sizeof(body), "{\"error\":\"storage: %s\",\"status\":500}",
                       strerror(-q->rc));
        return reply(c, 500, body);
    }
    (void)snprintf(body, sizeof(body), "{\"bytes\":%zu,\"offset\":%" PRIu64 "}", q->len, q->offset);
    return reply(c, 200, body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct request *q = *con_cls;
    (void)cls;
    (void)version;

    if (q == NULL) {
        if (strcmp(method, "POST") != 0) {
            bool health = strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0;
            return reply(c, health ? 200 : 404,
                         health ? "{\"status\":\"ok\"}" : "{\"error\":\"not found\"}");
        }
        if (strcmp(url, "/v1/events") != 0) {
            return reply(c, 404, "{\"error\":\"not found\"}");
        }
        q = calloc(1, sizeof(*q));
        if (q == NULL) {
            return MHD_NO;
        }
        atomic_init(&q->refs, 1);
        q->connection = c;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (q->too_big || q->len + n > BODY_MAX_BYTES) {
            q->too_big = true;
            return MHD_YES;
        }
        if (q->len + n > q->cap) {
            size_t cap = q->cap > 0 ? q->cap : 16384;
            while (cap < q->len + n) {
                cap *= 2;
            }
            char *b = realloc(q->body, cap);
            if (b == NULL) {
                return MHD_NO;
            }
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload_data, n);
        q->len += n;
        return MHD_YES;
    }

    /* The body is complete, or the connection was resumed with the answer. */
    pthread_mutex_lock(&lock);
    if (q->answered) {
        pthread_mutex_unlock(&lock);
        return answer_of(c, q);
    }
    if (q->too_big || stopping || q->len == 0) {
        pthread_mutex_unlock(&lock);
        return reply(c,
                     q->too_big ? 413
                     : stopping ? 503
                                : 400,
                     q->too_big ? "{\"error\":\"too big\"}"
                     : stopping ? "{\"error\":\"stopping\"}"
                                : "{\"error\":\"empty body\"}");
    }
    if (!q->submitted) {
        q->submitted = true;
        atomic_fetch_add(&q->refs, 1); /* the queue's */
        if (tail != NULL) {
            tail->next = q;
        } else {
            head = q;
        }
        tail = q;
        pthread_cond_signal(&wake);
    }
    q->suspended = true;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&lock);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    if (*con_cls != NULL) {
        request_unref(*con_cls);
        *con_cls = NULL;
    }
}

__attribute__((noreturn)) static void usage(const char *why)
{
    (void)fprintf(stderr, "evident-ackserver: %s\nusage: evident-ackserver --port P --dir D\n",
                  why);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned long port = 0;

    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            usage("every option takes a value");
        }
        if (strcmp(argv[i], "--port") == 0) {
            char *end;
            errno = 0;
            port = strtoul(argv[i + 1], &end, 10);
            if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
                usage("--port: expected 1 to 65535");
            }
        } else if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        } else {
            usage("unknown option");
        }
    }
    if (dir == NULL || port == 0) {
        usage("--port and --dir are required");
    }

    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/ackserver.data", dir);
    data_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (data_fd < 0) {
        (void)fprintf(stderr, "evident-ackserver: cannot create '%s': %s\n", path, strerror(errno));
        return 1;
    }

    /* The signals are taken by sigwait() below, never by the server's threads. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    pthread_t sync_thread;
    if (pthread_create(&sync_thread, NULL, syncer, NULL) != 0) {
        (void)fprintf(stderr, "evident-ackserver: cannot start the sync thread\n");
        return 1;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    struct MHD_Daemon *mhd =
        MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_THREAD_POOL_SIZE, THREADS, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (mhd == NULL) {
        (void)fprintf(stderr, "evident-ackserver: cannot serve HTTP on 127.0.0.1:%lu\n", port);
        return 1;
    }

    int sig;
    while (sigwait(&stop_signals, &sig) != 0) {
    }

    /* Answer everything queued; requests completing from now on get 503. */
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    (void)pthread_join(sync_thread, NULL);
    MHD_stop_daemon(mhd);
    (void)close(data_fd);
    (void)unlink(path);
    qsort(sync_ns, syncs_total, sizeof(*sync_ns), cmp_i64);
    (void)printf("requests=%" PRIu64 " bytes=%" PRIu64 " fdatasyncs=%" PRIu64
                 " requests_per_fdatasync=%.2f write_fdatasync_p50_us=%.0f"
                 " write_fdatasync_p99_us=%.0f errors=%" PRIu64 "\n",
                 requests_total, bytes_total, syncs_total,
                 syncs_total > 0 ? (double)requests_total / (double)syncs_total : 0.0,
                 sync_us(0.50), sync_us(0.99), sync_errors);
    free(sync_ns);
    return sync_errors == 0 ? 0 : 1;
}
