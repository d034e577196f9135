/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident-loadgen: the load generator of the daemon benchmarks
 * (bench/daemon.sh, docs/PERFORMANCE.md "The daemon"). It talks to evidentd,
 * or to rsyslogd for comparison, over plain sockets only; it links nothing of
 * evident, so that it measures the daemon as any client sees it.
 *
 *   syslog-tcp      N syslog messages over C TCP connections, as fast as they
 *                   are read or at a fixed total rate, then waits until
 *                   they are ingested: counted as lines of a file (rsyslog's
 *                   omfile) or as evidentd's evident_events_total{source=
 *                   "syslog_tcp"} (GET /metrics)
 *   http            C clients POST JSON arrays of B events to /v1/events over
 *                   HTTP/1.1 keep-alive, as fast as they are answered or at a
 *                   fixed total rate; client-side latency of every request
 *   unix-producers  P connections to the Unix socket, each sending one event
 *                   every interval; reads the daemon's VmRSS/VmHWM meanwhile
 *   fsync-probe     the machine's limit: 4 KiB append + fdatasync on a fresh
 *                   file, latency distribution; or (--mode direct) evidentd's
 *                   own pattern under sync: always, an O_DIRECT overwrite of a
 *                   preallocated file then fdatasync, the write and the sync
 *                   timed apart
 *   write-probe     the machine's cost of writing a log: 1 MiB writes to a
 *                   fresh file with an fdatasync every 64 MiB, CPU per byte,
 *                   with the written pages kept in the page cache, dropped
 *                   after each sync, or never cached (O_DIRECT, as evident's
 *                   writer sends its large writes)
 *
 * Every subcommand prints one line of key=value pairs on stdout, for the
 * driver script; diagnostics go to stderr. Exit 0 on success, 1 when the
 * measurement did not complete (timeout, refused connections, errors), 2 on
 * usage errors. Clock: CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define MAX_THREADS 256
#define MAX_PRODUCERS 20000
#define MAX_BATCH 4096
#define RESPONSE_BYTES (1u << 20) /* an HTTP response: 4096 indexes fit easily */
#define POLL_NS 2000000           /* ingestion polling period: 2 ms */

/* ---- helpers ------------------------------------------------------------------ */

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)fputs("evident-loadgen: ", stderr);
    (void)vfprintf(stderr, fmt, ap);
    (void)fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)fputs("evident-loadgen: ", stderr);
    (void)vfprintf(stderr, fmt, ap);
    (void)fputs(" (see evident-loadgen --help)\n", stderr);
    va_end(ap);
    exit(2);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000), .tv_nsec = (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void sleep_ns(int64_t ns)
{
    sleep_until(now_ns() + ns);
}

static uint64_t parse_u64(const char *option, const char *text, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
        usage_error("%s: expected a number from %" PRIu64 " to %" PRIu64 ", got '%s'", option, min,
                    max, text);
    }
    return (uint64_t)v;
}

static double parse_seconds(const char *option, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v > 0) || v > 86400) {
        usage_error("%s: expected seconds (0 to 86400), got '%s'", option, text);
    }
    return v;
}

/* "127.0.0.1:PORT" (IPv4 only: the benchmark runs on loopback). */
static void parse_addr(const char *text, struct sockaddr_in *ret_addr)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) {
        usage_error("expected HOST:PORT, got '%s'", text);
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    memset(ret_addr, 0, sizeof(*ret_addr));
    ret_addr->sin_family = AF_INET;
    ret_addr->sin_port = htons((uint16_t)parse_u64("port", colon + 1, 1, 65535));
    if (inet_pton(AF_INET, host, &ret_addr->sin_addr) != 1) {
        usage_error("'%s': not an IPv4 address", host);
    }
}

static int connect_tcp(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
        int r = -errno;
        (void)close(fd);
        return r;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        return -ENAMETOOLONG;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int r = -errno;
        (void)close(fd);
        return r;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array (q in 0..1). */
static int64_t percentile(const int64_t *sorted, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return sorted[rank - 1];
}

static void raise_fd_limit(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need + 64) {
        rl.rlim_cur = rl.rlim_max < need + 64 ? rl.rlim_max : need + 64;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A growable array of latencies in ns. */
struct samples {
    int64_t *v;
    size_t n, cap;
};

static void samples_add(struct samples *s, int64_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap > 0 ? s->cap * 2 : 4096;
        int64_t *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL) {
            die("out of memory");
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

/* ---- ingestion counters --------------------------------------------------------- */

/*
 * GET /metrics on a fresh connection and the sum of every sample of the
 * metric whose name and labels start with prefix. Returns -1 on failure.
 */
static int64_t metrics_sum(const struct sockaddr_in *addr, const char *prefix)
{
    static char buf[4u << 20];
    static const char request[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Connection: close\r\n\r\n";
    size_t len = 0;
    int fd = connect_tcp(addr);
    if (fd < 0) {
        return -1;
    }
    if (write_all(fd, request, sizeof(request) - 1) < 0) {
        (void)close(fd);
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (len == sizeof(buf) - 1) {
            break;
        }
    }
    (void)close(fd);
    buf[len] = '\0';
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
        return -1;
    }
    int64_t sum = 0;
    size_t plen = strlen(prefix);
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *eol = strchr(line, '\n');
        if (eol != NULL) {
            *eol = '\0';
        }
        if (strncmp(line, prefix, plen) == 0) {
            char *sp = strrchr(line, ' ');
            if (sp != NULL) {
                sum += (int64_t)strtoull(sp + 1, NULL, 10);
            }
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    return sum;
}

/* Newlines in a file, counted incrementally from *offset. */
static int64_t count_lines(const char *path, off_t *offset, int64_t *lines)
{
    static char buf[1u << 20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? *lines : -1;
    }
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), *offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++) {
            (*lines)++;
        }
        *offset += n;
    }
    (void)close(fd);
    return *lines;
}

struct ingest_counter {
    const char *index;       /* entries in this log index (8 bytes each, FORMAT.md), or */
    const char *file;        /* count lines of this file, or */
    struct sockaddr_in addr; /* sum this metric */
    const char *metric;
    off_t offset;
    int64_t lines;
};

static int64_t ingested(struct ingest_counter *c)
{
    if (c->index != NULL) {
        struct stat st;
        return stat(c->index, &st) == 0 ? (int64_t)(st.st_size / 8) : -1;
    }
    if (c->file != NULL) {
        return count_lines(c->file, &c->offset, &c->lines);
    }
    return metrics_sum(&c->addr, c->metric);
}

/* ---- syslog-tcp ----------------------------------------------------------------- */

struct syslog_thread {
    pthread_t thread;
    const struct sockaddr_in *addr;
    int fd;
    char *stream; /* this connection's whole byte stream, made before the clock starts */
    size_t stream_len;
    pthread_barrier_t *start;
    double seconds; /* to spread the stream over evenly (--rate); 0: at once */
    int64_t sent_ns;
    int rc;
};

/* With a rate: every millisecond, the bytes due by then (messages split across writes). */
static void *syslog_sender(void *arg)
{
    struct syslog_thread *t = arg;
    (void)pthread_barrier_wait(t->start);
    if (t->seconds <= 0) {
        t->rc = write_all(t->fd, t->stream, t->stream_len);
    } else {
        int64_t start = now_ns();
        size_t done = 0;
        while (done < t->stream_len && t->rc == 0) {
            double due = (double)(now_ns() - start) / 1e9 / t->seconds;
            size_t upto = due >= 1 ? t->stream_len : (size_t)(due * (double)t->stream_len);
            if (upto > done) {
                t->rc = write_all(t->fd, t->stream + done, upto - done);
                done = upto;
            }
            sleep_ns(1000000);
        }
    }
    t->sent_ns = now_ns();
    return NULL;
}

/*
 * One RFC 5424 message, about 200 bytes: the same text for every server.
 * Octet-counting framing (RFC 6587 3.4.1) or a trailing LF.
 */
static size_t syslog_message(char *out, size_t cap, bool octet, unsigned conn, uint64_t seq)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "<134>1 2026-11-27T10:51:00.%06u+00:00 bench-host loadgen %u - - "
                     "conn=%u seq=%09" PRIu64 " user=alice action=login result=success "
                     "src=192.0.2.%u session=0x%08" PRIx64 " detail=benchmark message",
                     (unsigned)(seq % 1000000), 4000 + conn, conn, seq, conn % 250 + 1,
                     seq * 2654435761u);
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        die("syslog message too long");
    }
    int m = octet ? snprintf(out, cap, "%d %s", n, msg) : snprintf(out, cap, "%s\n", msg);
    if (m < 0 || (size_t)m >= cap) {
        die("syslog buffer too small");
    }
    return (size_t)m;
}

static int cmd_syslog_tcp(int argc, char **argv)
{
    struct sockaddr_in addr;
    bool have_addr = false, octet = true;
    unsigned conns = 4;
    uint64_t messages = 200000;
    double timeout = 120, rate = 0;
    struct ingest_counter counter = {.metric = NULL};
    bool have_counter = false;

    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage_error("%s: missing value", a);
        }
        if (strcmp(a, "--addr") == 0) {
            parse_addr(v, &addr);
            have_addr = true;
        } else if (strcmp(a, "--connections") == 0) {
            conns = (unsigned)parse_u64(a, v, 1, MAX_THREADS);
        } else if (strcmp(a, "--messages") == 0) {
            messages = parse_u64(a, v, 1, 100000000);
        } else if (strcmp(a, "--framing") == 0) {
            if (strcmp(v, "octet") != 0 && strcmp(v, "lf") != 0) {
                usage_error("--framing: octet or lf");
            }
            octet = strcmp(v, "octet") == 0;
        } else if (strcmp(a, "--wait-file") == 0) {
            counter.file = v;
            have_counter = true;
        } else if (strcmp(a, "--wait-index") == 0) {
            counter.index = v;
            have_counter = true;
        } else if (strcmp(a, "--wait-metrics") == 0) {
            parse_addr(v, &counter.addr);
            counter.metric = "evident_events_total{source=\"syslog_tcp\"";
            have_counter = true;
        } else if (strcmp(a, "--timeout") == 0) {
            timeout = parse_seconds(a, v);
        } else if (strcmp(a, "--rate") == 0) {
            rate = (double)parse_u64(a, v, 1, 100000000);
        } else {
            usage_error("syslog-tcp: unknown option '%s'", a);
        }
    }
    if (!have_addr || !have_counter) {
        usage_error("syslog-tcp needs --addr and --wait-file, --wait-index or --wait-metrics");
    }

    int64_t base = ingested(&counter);
    if (base < 0) {
        die("cannot read the ingestion counter before the run");
    }

    struct syslog_thread *threads = calloc(conns, sizeof(*threads));
    pthread_barrier_t start;
    if (threads == NULL) {
        die("out of memory");
    }
    (void)pthread_barrier_init(&start, NULL, conns + 1);
    uint64_t seq = 0;
    for (unsigned c = 0; c < conns; c++) {
        struct syslog_thread *t = &threads[c];
        uint64_t count = messages / conns + (c < messages % conns ? 1 : 0);
        size_t cap = (size_t)count * 320 + 1;
        t->stream = malloc(cap);
        if (t->stream == NULL) {
            die("out of memory");
        }
        for (uint64_t k = 0; k < count; k++) {
            t->stream_len +=
                syslog_message(t->stream + t->stream_len, cap - t->stream_len, octet, c, seq++);
        }
        t->addr = &addr;
        t->start = &start;
        t->seconds = rate > 0 ? (double)messages / rate : 0;
        t->fd = connect_tcp(&addr);
        if (t->fd < 0) {
            die("connect: %s", strerror(-t->fd));
        }
    }
    for (unsigned c = 0; c < conns; c++) {
        if (pthread_create(&threads[c].thread, NULL, syslog_sender, &threads[c]) != 0) {
            die("pthread_create failed");
        }
    }
    int64_t t0 = now_ns();
    (void)pthread_barrier_wait(&start);
    int64_t sent = t0;
    uint64_t bytes = 0;
    for (unsigned c = 0; c < conns; c++) {
        (void)pthread_join(threads[c].thread, NULL);
        if (threads[c].rc < 0) {
            die("write: %s", strerror(-threads[c].rc));
        }
        sent = threads[c].sent_ns > sent ? threads[c].sent_ns : sent;
        bytes += threads[c].stream_len;
    }

    /* Ingested: the counter reached base + messages. */
    int64_t deadline = t0 + (int64_t)(timeout * 1e9), done = 0, got = 0;
    for (;;) {
        got = ingested(&counter) - base;
        int64_t t = now_ns();
        if (got >= (int64_t)messages) {
            done = t;
            break;
        }
        if (t > deadline) {
            break;
        }
        sleep_ns(POLL_NS);
    }
    for (unsigned c = 0; c < conns; c++) {
        (void)close(threads[c].fd);
        free(threads[c].stream);
    }
    free(threads);
    (void)pthread_barrier_destroy(&start);
    if (done == 0) {
        (void)printf("messages=%" PRIu64 " ingested=%" PRId64 " timeout=1\n", messages, got);
        return 1;
    }
    double secs = (double)(done - t0) / 1e9;
    (void)printf("messages=%" PRIu64 " connections=%u bytes=%" PRIu64
                 " sent_s=%.4f ingested_s=%.4f rate=%.0f\n",
                 messages, conns, bytes, (double)(sent - t0) / 1e9, secs, (double)messages / secs);
    return 0;
}

/* ---- http ----------------------------------------------------------------------- */

struct http_options {
    struct sockaddr_in addr;
    const char *token;
    unsigned clients;
    unsigned batch;
    double seconds, warmup;
    double rate; /* events/s over all clients; 0: as fast as answered */
};

struct http_client {
    pthread_t thread;
    unsigned id;
    const struct http_options *o;
    int64_t start_ns, measure_ns, end_ns;
    uint64_t events, requests, rejected;
    int64_t behind_ns; /* the largest lag behind the schedule (rate mode) */
    struct samples latency;
    /*
     * Rate mode, to tell the generator's own delays from the server's: service
     * runs from the actual send to the answer; wake is how late this thread
     * woke for a send it had slept for (timer slack and waiting for a CPU).
     */
    struct samples service, wake;
    char error[160];
};

/*
 * The body: a JSON array of batch events whose "seq" fields are fixed-width
 * digits, rewritten in place before each request.
 */
struct http_body {
    char *text;
    size_t len;
    size_t *seq_at; /* offsets of the seq digits */
};

#define SEQ_DIGITS 12

static void body_make(struct http_body *b, unsigned client, unsigned batch)
{
    size_t cap = (size_t)batch * 256 + 16, len = 0;
    b->text = malloc(cap);
    b->seq_at = calloc(batch, sizeof(*b->seq_at));
    if (b->text == NULL || b->seq_at == NULL) {
        die("out of memory");
    }
    b->text[len++] = '[';
    for (unsigned i = 0; i < batch; i++) {
        int n = snprintf(b->text + len, cap - len,
                         "%s{\"type\":\"custom.bench\",\"severity\":\"info\",\"data\":"
                         "{\"client\":%u,\"user\":\"alice\",\"action\":\"file.read\","
                         "\"path\":\"/srv/data/report-%04u.csv\",\"bytes\":%u,\"seq\":",
                         i > 0 ? "," : "", client, i % 10000, 4096 + i);
        if (n < 0 || (size_t)n >= cap - len) {
            die("body buffer too small");
        }
        len += (size_t)n;
        b->seq_at[i] = len;
        memset(b->text + len, '0', SEQ_DIGITS);
        len += SEQ_DIGITS;
        b->text[len++] = '}';
        b->text[len++] = '}';
    }
    b->text[len++] = ']';
    b->len = len;
}

static void body_number(struct http_body *b, unsigned batch, uint64_t first)
{
    for (unsigned i = 0; i < batch; i++) {
        uint64_t v = first + i;
        char *p = b->text + b->seq_at[i] + SEQ_DIGITS;
        for (int d = 0; d < SEQ_DIGITS; d++) {
            *--p = (char)('0' + v % 10);
            v /= 10;
        }
    }
}

/*
 * One request on a keep-alive connection; returns the status (200, 503, ...)
 * or a negative errno. ret_retry_after: the Retry-After seconds, if any.
 */
static int http_post(int fd, const char *head, size_t head_len, const struct http_body *b,
                     char *resp, unsigned *ret_retry_after)
{
    struct iovec iov[2] = {{.iov_base = (void *)head, .iov_len = head_len},
                           {.iov_base = b->text, .iov_len = b->len}};
    size_t total = head_len + b->len, done = 0;
    while (done < total) {
        ssize_t n = writev(fd, iov, 2);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        done += (size_t)n;
        for (int k = 0; k < 2; k++) {
            size_t take = (size_t)n < iov[k].iov_len ? (size_t)n : iov[k].iov_len;
            iov[k].iov_base = (char *)iov[k].iov_base + take;
            iov[k].iov_len -= take;
            n -= (ssize_t)take;
        }
    }

    size_t len = 0, header_end = 0, content_length = 0;
    for (;;) {
        ssize_t n = read(fd, resp + len, RESPONSE_BYTES - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return -ECONNRESET;
        }
        len += (size_t)n;
        resp[len] = '\0';
        if (header_end == 0) {
            char *e = strstr(resp, "\r\n\r\n");
            if (e == NULL) {
                if (len == RESPONSE_BYTES - 1) {
                    return -EMSGSIZE;
                }
                continue;
            }
            header_end = (size_t)(e - resp) + 4;
            char *cl = strcasestr(resp, "\r\nContent-Length:");
            if (cl == NULL || cl > e) {
                return -EPROTO;
            }
            content_length = (size_t)strtoull(cl + 17, NULL, 10);
            char *ra = strcasestr(resp, "\r\nRetry-After:");
            *ret_retry_after = ra != NULL && ra < e ? (unsigned)strtoul(ra + 14, NULL, 10) : 0;
        }
        if (len >= header_end + content_length) {
            break;
        }
        if (len == RESPONSE_BYTES - 1) {
            return -EMSGSIZE;
        }
    }
    if (len != header_end + content_length || len < 12) {
        return -EPROTO;
    }
    return (int)strtol(resp + 9, NULL, 10);
}

static void *http_worker(void *arg)
{
    struct http_client *c = arg;
    const struct http_options *o = c->o;
    struct http_body body;
    char head[512];
    char *resp = malloc(RESPONSE_BYTES);
    /* SEQ_DIGITS digits and no leading zero (JSON forbids one): 1e11 + client * 1e9. */
    uint64_t seq = 100000000000ull + (uint64_t)c->id * 1000000000ull;

    if (resp == NULL) {
        die("out of memory");
    }
    /* Wake on the schedule, not up to 50 µs after it (the default timer slack). */
    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
    body_make(&body, c->id, o->batch);
    int head_len = snprintf(head, sizeof(head),
                            "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            o->token, body.len);
    if (head_len < 0 || (size_t)head_len >= sizeof(head)) {
        die("token too long");
    }
    int fd = connect_tcp(&o->addr);
    if (fd < 0) {
        (void)snprintf(c->error, sizeof(c->error), "connect: %s", strerror(-fd));
        goto out;
    }

    /* Rate mode: client k sends at start + phase + k * period. */
    int64_t period = 0, next = c->start_ns;
    if (o->rate > 0) {
        period = (int64_t)((double)o->batch * o->clients / o->rate * 1e9);
        next += period * c->id / o->clients;
    }
    for (;;) {
        int64_t t = now_ns();
        if (period > 0) {
            if (next > t) {
                sleep_until(next);
                t = now_ns();
                if (next >= c->measure_ns && t < c->end_ns) {
                    samples_add(&c->wake, t - next);
                }
            } else if (t - next > c->behind_ns && next >= c->measure_ns) {
                c->behind_ns = t - next;
            }
        }
        if (t >= c->end_ns) {
            break;
        }
        /* Latency counts from the scheduled time in rate mode (no coordinated omission). */
        int64_t from = period > 0 ? next : t;
        body_number(&body, o->batch, seq);
        unsigned retry_after = 0;
        int status = http_post(fd, head, (size_t)head_len, &body, resp, &retry_after);
        int64_t answered = now_ns();
        if (status < 0) {
            (void)snprintf(c->error, sizeof(c->error), "request: %s", strerror(-status));
            break;
        }
        if (status == 503) {
            /* Overloaded: back off briefly (Retry-After is whole seconds, too coarse here). */
            if (from >= c->measure_ns) {
                c->rejected++;
            }
            sleep_ns(retry_after > 0 ? 10000000 : 1000000);
            continue;
        }
        if (status != 200) {
            (void)snprintf(c->error, sizeof(c->error), "HTTP status %d: %.100s", status,
                           strstr(resp, "\r\n\r\n") != NULL ? strstr(resp, "\r\n\r\n") + 4 : "");
            break;
        }
        seq += o->batch;
        if (from >= c->measure_ns && answered <= c->end_ns) {
            c->events += o->batch;
            c->requests++;
            samples_add(&c->latency, answered - from);
            samples_add(&c->service, answered - t);
        }
        next += period;
    }
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    free(body.text);
    free(body.seq_at);
    free(resp);
    return NULL;
}

static int cmd_http(int argc, char **argv)
{
    struct http_options o = {.clients = 4, .batch = 1000, .seconds = 5, .warmup = 1};
    bool have_addr = false;

    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage_error("%s: missing value", a);
        }
        if (strcmp(a, "--addr") == 0) {
            parse_addr(v, &o.addr);
            have_addr = true;
        } else if (strcmp(a, "--token") == 0) {
            o.token = v;
        } else if (strcmp(a, "--clients") == 0) {
            o.clients = (unsigned)parse_u64(a, v, 1, MAX_THREADS);
        } else if (strcmp(a, "--batch") == 0) {
            o.batch = (unsigned)parse_u64(a, v, 1, MAX_BATCH);
        } else if (strcmp(a, "--seconds") == 0) {
            o.seconds = parse_seconds(a, v);
        } else if (strcmp(a, "--warmup") == 0) {
            o.warmup = parse_seconds(a, v);
        } else if (strcmp(a, "--rate") == 0) {
            o.rate = (double)parse_u64(a, v, 1, 100000000);
        } else {
            usage_error("http: unknown option '%s'", a);
        }
    }
    if (!have_addr || o.token == NULL) {
        usage_error("http needs --addr and --token");
    }

    struct http_client *clients = calloc(o.clients, sizeof(*clients));
    if (clients == NULL) {
        die("out of memory");
    }
    int64_t start = now_ns() + 50000000; /* 50 ms to start the threads */
    int64_t measure = start + (int64_t)(o.warmup * 1e9);
    int64_t end = measure + (int64_t)(o.seconds * 1e9);
    for (unsigned k = 0; k < o.clients; k++) {
        clients[k] = (struct http_client){
            .id = k, .o = &o, .start_ns = start, .measure_ns = measure, .end_ns = end};
        if (pthread_create(&clients[k].thread, NULL, http_worker, &clients[k]) != 0) {
            die("pthread_create failed");
        }
    }
    struct samples all = {0}, service = {0}, wake = {0};
    uint64_t events = 0, requests = 0, rejected = 0;
    int64_t behind = 0;
    int rc = 0;
    for (unsigned k = 0; k < o.clients; k++) {
        struct http_client *c = &clients[k];
        (void)pthread_join(c->thread, NULL);
        if (c->error[0] != '\0') {
            (void)fprintf(stderr, "evident-loadgen: client %u: %s\n", k, c->error);
            rc = 1;
        }
        events += c->events;
        requests += c->requests;
        rejected += c->rejected;
        behind = c->behind_ns > behind ? c->behind_ns : behind;
        for (size_t j = 0; j < c->latency.n; j++) {
            samples_add(&all, c->latency.v[j]);
        }
        for (size_t j = 0; j < c->service.n; j++) {
            samples_add(&service, c->service.v[j]);
        }
        for (size_t j = 0; j < c->wake.n; j++) {
            samples_add(&wake, c->wake.v[j]);
        }
        free(c->latency.v);
        free(c->service.v);
        free(c->wake.v);
    }
    free(clients);
    qsort(all.v, all.n, sizeof(*all.v), cmp_i64);
    qsort(service.v, service.n, sizeof(*service.v), cmp_i64);
    qsort(wake.v, wake.n, sizeof(*wake.v), cmp_i64);
    (void)printf(
        "clients=%u batch=%u target_rate=%.0f seconds=%.1f events=%" PRIu64 " requests=%" PRIu64
        " rejected=%" PRIu64 " rate=%.0f"
        " p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f"
        " behind_max_us=%.0f service_p50_us=%.0f service_p99_us=%.0f"
        " wake_p50_us=%.0f wake_p99_us=%.0f errors=%d\n",
        o.clients, o.batch, o.rate, o.seconds, events, requests, rejected,
        (double)events / o.seconds, (double)percentile(all.v, all.n, 0.50) / 1e3,
        (double)percentile(all.v, all.n, 0.90) / 1e3, (double)percentile(all.v, all.n, 0.99) / 1e3,
        (double)percentile(all.v, all.n, 0.999) / 1e3, (double)percentile(all.v, all.n, 1.0) / 1e3,
        (double)behind / 1e3, (double)percentile(service.v, service.n, 0.50) / 1e3,
        (double)percentile(service.v, service.n, 0.99) / 1e3,
        (double)percentile(wake.v, wake.n, 0.50) / 1e3,
        (double)percentile(wake.v, wake.n, 0.99) / 1e3, rc);
    free(all.v);
    free(service.v);
    free(wake.v);
    return rc;
}

/* ---- unix-producers ------------------------------------------------------------- */

/* VmRSS and VmHWM of a process, in KiB; 0 when unreadable. */
static void read_memory(pid_t pid, uint64_t *ret_rss, uint64_t *ret_hwm)
{
    char path[64], line[256];
    *ret_rss = 0;
    *ret_hwm = 0;
    (void)snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            *ret_rss = strtoull(line + 6, NULL, 10);
        } else if (strncmp(line, "VmHWM:", 6) == 0) {
            *ret_hwm = strtoull(line + 6, NULL, 10);
        }
    }
    (void)fclose(f);
}

struct producer {
    int fd;
    int64_t next_ns;
    uint64_t sent, answered;
};

static int cmd_unix_producers(int argc, char **argv)
{
    const char *socket_path = NULL;
    unsigned count = 1000;
    double interval = 1.0, seconds = 10;
    long pid = 0;

    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage_error("%s: missing value", a);
        }
        if (strcmp(a, "--socket") == 0) {
            socket_path = v;
        } else if (strcmp(a, "--producers") == 0) {
            count = (unsigned)parse_u64(a, v, 1, MAX_PRODUCERS);
        } else if (strcmp(a, "--interval") == 0) {
            interval = parse_seconds(a, v);
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = parse_seconds(a, v);
        } else if (strcmp(a, "--pid") == 0) {
            pid = (long)parse_u64(a, v, 1, INT_MAX);
        } else {
            usage_error("unix-producers: unknown option '%s'", a);
        }
    }
    if (socket_path == NULL || pid == 0) {
        usage_error("unix-producers needs --socket and --pid (the daemon's)");
    }
    raise_fd_limit(count);

    struct producer *p = calloc(count, sizeof(*p));
    struct pollfd *pfd = calloc(count, sizeof(*pfd));
    if (p == NULL || pfd == NULL) {
        die("out of memory");
    }
    uint64_t rss0, hwm0;
    read_memory((pid_t)pid, &rss0, &hwm0);
    int64_t period = (int64_t)(interval * 1e9), t0 = now_ns();
    for (unsigned k = 0; k < count; k++) {
        p[k].fd = connect_unix(socket_path);
        if (p[k].fd < 0) {
            die("producer %u: connect '%s': %s", k, socket_path, strerror(-p[k].fd));
        }
        /* Spread the first sends over one interval. */
        p[k].next_ns = t0 + period * k / count;
        pfd[k].fd = p[k].fd;
        pfd[k].events = POLLIN;
    }
    int64_t connected = now_ns(), end = connected + (int64_t)(seconds * 1e9);
    uint64_t rss_max = 0, hwm = 0, rss = 0, errors = 0, sent = 0, answered = 0;
    int64_t next_sample = connected;
    char buf[65536];

    for (;;) {
        int64_t t = now_ns();
        if (t >= end) {
            break;
        }
        int64_t wake = end;
        for (unsigned k = 0; k < count; k++) {
            if (p[k].next_ns <= t) {
                char line[256];
                int n =
                    snprintf(line, sizeof(line),
                             "{\"type\":\"custom.bench\",\"severity\":\"info\",\"data\":"
                             "{\"producer\":%u,\"seq\":%" PRIu64 ",\"action\":\"heartbeat\"}}\n",
                             k, p[k].sent);
                if (write_all(p[k].fd, line, (size_t)n) < 0) {
                    die("producer %u: write: %s", k, strerror(errno));
                }
                p[k].sent++;
                sent++;
                p[k].next_ns += period;
            }
            wake = p[k].next_ns < wake ? p[k].next_ns : wake;
        }
        if (t >= next_sample) {
            read_memory((pid_t)pid, &rss, &hwm);
            rss_max = rss > rss_max ? rss : rss_max;
            next_sample = t + 100000000; /* every 100 ms */
        }
        wake = next_sample < wake ? next_sample : wake;
        int timeout_ms = (int)((wake - now_ns()) / 1000000);
        int r = poll(pfd, count, timeout_ms > 0 ? timeout_ms : 0);
        if (r < 0 && errno != EINTR) {
            die("poll: %s", strerror(errno));
        }
        for (unsigned k = 0; r > 0 && k < count; k++) {
            if (pfd[k].revents == 0) {
                continue;
            }
            ssize_t n = read(p[k].fd, buf, sizeof(buf));
            if (n <= 0) {
                die("producer %u: the daemon closed the connection", k);
            }
            for (ssize_t j = 0; j < n; j++) {
                if (buf[j] == '\n') {
                    p[k].answered++;
                    answered++;
                } else if (buf[j] == 'e' && j > 0 && buf[j - 1] == '"') {
                    errors++; /* {"error":...} */
                }
            }
        }
    }
    /* The memory with every producer still connected. */
    read_memory((pid_t)pid, &rss, &hwm);
    rss_max = rss > rss_max ? rss : rss_max;
    for (unsigned k = 0; k < count; k++) {
        (void)close(p[k].fd);
    }
    free(p);
    free(pfd);
    (void)printf("producers=%u interval_s=%.3f seconds=%.1f connect_s=%.3f sent=%" PRIu64
                 " answered=%" PRIu64 " errors=%" PRIu64 " rss_before_kib=%" PRIu64
                 " rss_kib=%" PRIu64 " rss_max_kib=%" PRIu64 " hwm_kib=%" PRIu64 "\n",
                 count, interval, seconds, (double)(connected - t0) / 1e9, sent, answered, errors,
                 rss0, rss, rss_max, hwm);
    return errors == 0 && answered + count >= sent ? 0 : 1;
}

/* ---- fsync-probe ---------------------------------------------------------------- */

/*
 * --mode direct: size bytes (a multiple of 4 KiB) written with O_DIRECT over a
 * file of DIRECT_AREA bytes written and synced first, round and round, each
 * write followed by fdatasync: the two requests to the disk of an
 * acknowledgement that evidentd syncs in place (its records over preallocated
 * zeros, then the cache flush). Prints the write's and the sync's
 * percentiles besides the pair's. On a file system without O_DIRECT: exit 1.
 */
#define DIRECT_AREA (64u << 20)

static void print_latency(const char *prefix, int64_t *lat, uint64_t count)
{
    qsort(lat, count, sizeof(*lat), cmp_i64);
    (void)printf(" %sp50_us=%.0f %sp90_us=%.0f %sp99_us=%.0f %smax_us=%.0f", prefix,
                 (double)percentile(lat, count, 0.5) / 1e3, prefix,
                 (double)percentile(lat, count, 0.9) / 1e3, prefix,
                 (double)percentile(lat, count, 0.99) / 1e3, prefix,
                 (double)percentile(lat, count, 1.0) / 1e3);
}

/* Between two probes: the daemon's requests come a few milliseconds apart, not back to back. */
static void probe_pause(uint64_t gap_us)
{
    struct timespec ts = {.tv_sec = (time_t)(gap_us / 1000000u),
                          .tv_nsec = (long)(gap_us % 1000000u) * 1000};
    while (gap_us > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int fsync_probe_direct(const char *path, uint64_t count, uint64_t size, uint64_t gap_us)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0600);
    if (fd < 0) {
        (void)fprintf(stderr, "fsync-probe: cannot open '%s' with O_DIRECT: %s\n", path,
                      strerror(errno));
        return 1;
    }
    void *block = NULL;
    int64_t *lat = calloc(3 * count, sizeof(*lat));
    if (posix_memalign(&block, 1u << 16, 1u << 20) != 0 || lat == NULL) {
        die("out of memory");
    }
    memset(block, 'x', 1u << 20);
    for (uint64_t at = 0; at < DIRECT_AREA; at += 1u << 20) {
        if (pwrite(fd, block, 1u << 20, (off_t)at) != (ssize_t)(1u << 20)) {
            die("preallocating '%s': %s", path, strerror(errno));
        }
    }
    if (fsync(fd) < 0) {
        die("fsync of '%s': %s", path, strerror(errno));
    }
    int64_t *write_lat = lat, *sync_lat = lat + count, *both = lat + 2 * count;
    uint64_t at = 0;
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < count; i++) {
        if (at + size > DIRECT_AREA) {
            at = 0;
        }
        int64_t a = now_ns();
        if (pwrite(fd, block, size, (off_t)at) != (ssize_t)size) {
            die("O_DIRECT write of '%s': %s", path, strerror(errno));
        }
        int64_t b = now_ns();
        if (fdatasync(fd) < 0) {
            die("fdatasync of '%s': %s", path, strerror(errno));
        }
        int64_t c = now_ns();
        write_lat[i] = b - a;
        sync_lat[i] = c - b;
        both[i] = c - a;
        at += size;
        probe_pause(gap_us);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    (void)close(fd);
    (void)unlink(path);
    (void)printf("mode=direct size=%" PRIu64 " count=%" PRIu64, size, count);
    print_latency("", both, count);
    print_latency("write_", write_lat, count);
    print_latency("sync_", sync_lat, count);
    (void)printf(" rate=%.0f\n", (double)count / secs);
    free(block);
    free(lat);
    return 0;
}

static int cmd_fsync_probe(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t count = 2000, size = 4096, gap_us = 0;
    bool direct = false;

    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage_error("%s: missing value", a);
        }
        if (strcmp(a, "--dir") == 0) {
            dir = v;
        } else if (strcmp(a, "--count") == 0) {
            count = parse_u64(a, v, 10, 10000000);
        } else if (strcmp(a, "--size") == 0) {
            size = parse_u64(a, v, 1, 1u << 24);
        } else if (strcmp(a, "--gap-us") == 0) {
            gap_us = parse_u64(a, v, 0, 10000000);
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "direct") != 0 && strcmp(v, "append") != 0) {
                usage_error("fsync-probe: --mode is append or direct, not '%s'", v);
            }
            direct = strcmp(v, "direct") == 0;
        } else {
            usage_error("fsync-probe: unknown option '%s'", a);
        }
    }
    if (dir == NULL) {
        usage_error("fsync-probe needs --dir");
    }
    if (direct && (size % 4096 != 0 || size > (1u << 20))) {
        usage_error("fsync-probe: --mode direct needs a --size that is a multiple of 4096, "
                    "at most 1 MiB");
    }
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/fsync-probe.%ld", dir, (long)getpid());
    if (direct) {
        return fsync_probe_direct(path, count, size, gap_us);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        die("cannot create '%s': %s", path, strerror(errno));
    }
    char *block = malloc(size);
    int64_t *lat = calloc(count, sizeof(*lat));
    if (block == NULL || lat == NULL) {
        die("out of memory");
    }
    memset(block, 'x', size);
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < count; i++) {
        int64_t a = now_ns();
        if (pwrite(fd, block, size, (off_t)(i * size)) != (ssize_t)size || fdatasync(fd) < 0) {
            die("write/fdatasync of '%s': %s", path, strerror(errno));
        }
        lat[i] = now_ns() - a;
        probe_pause(gap_us);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    (void)close(fd);
    (void)unlink(path);
    qsort(lat, count, sizeof(*lat), cmp_i64);
    (void)printf("size=%" PRIu64 " count=%" PRIu64 " p50_us=%.0f p90_us=%.0f p99_us=%.0f"
                 " max_us=%.0f rate=%.0f\n",
                 size, count, (double)percentile(lat, count, 0.5) / 1e3,
                 (double)percentile(lat, count, 0.9) / 1e3,
                 (double)percentile(lat, count, 0.99) / 1e3,
                 (double)percentile(lat, count, 1.0) / 1e3, (double)count / secs);
    free(block);
    free(lat);
    return 0;
}

/* ---- write-probe ---------------------------------------------------------------- */

static double cpu_seconds(void)
{
    struct rusage ru;
    (void)getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

enum write_mode { KEPT, DROPPED, DIRECT };

/*
 * mib MiB of 1 MiB writes at the start of path, an fdatasync every 64 MiB:
 * through the page cache, each synced range then dropped if DROPPED, or with
 * O_DIRECT from an aligned buffer (DIRECT: -1 if the file system refuses).
 * CPU-s of the process.
 */
static double write_file(const char *path, uint64_t mib, enum write_mode mode,
                         double *ret_seconds)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (mode == DIRECT ? O_DIRECT : 0),
                  0600);
    if (fd < 0 && mode == DIRECT && errno == EINVAL) {
        return -1;
    }
    if (fd < 0) {
        die("cannot create '%s': %s", path, strerror(errno));
    }
    const size_t chunk = 1u << 20;
    void *aligned = NULL;
    if (posix_memalign(&aligned, 1u << 16, chunk) != 0) {
        die("out of memory");
    }
    char *block = aligned;
    memset(block, 'x', chunk);
    int64_t t0 = now_ns();
    double c0 = cpu_seconds();
    for (uint64_t i = 0; i < mib; i++) {
        off_t off = (off_t)(i * chunk);
        if (pwrite(fd, block, chunk, off) != (ssize_t)chunk) {
            if (mode == DIRECT && errno == EINVAL) {
                (void)close(fd);
                free(block);
                return -1;
            }
            die("write of '%s': %s", path, strerror(errno));
        }
        if ((i + 1) % 64 == 0 || i + 1 == mib) {
            if (fdatasync(fd) < 0) {
                die("fdatasync of '%s': %s", path, strerror(errno));
            }
            if (mode == DROPPED) {
                (void)posix_fadvise(fd, 0, off + (off_t)chunk, POSIX_FADV_DONTNEED);
            }
        }
    }
    double cpu = cpu_seconds() - c0;
    *ret_seconds = (double)(now_ns() - t0) / 1e9;
    (void)close(fd);
    free(block);
    return cpu;
}

/*
 * First with the pages kept (that file stays, and its pages with it, until the
 * end), then with each synced range dropped: the second write reuses the pages
 * it frees, the first takes new ones, as a log kept in the cache does. Then
 * around the page cache (O_DIRECT), as evident's writer sends its large writes.
 */
static int cmd_write_probe(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t mib = 1024;

    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage_error("%s: missing value", a);
        }
        if (strcmp(a, "--dir") == 0) {
            dir = v;
        } else if (strcmp(a, "--mib") == 0) {
            mib = parse_u64(a, v, 64, 1u << 20);
        } else {
            usage_error("write-probe: unknown option '%s'", a);
        }
    }
    if (dir == NULL) {
        usage_error("write-probe needs --dir");
    }
    char kept[PATH_MAX], dropped[PATH_MAX], direct[PATH_MAX];
    (void)snprintf(kept, sizeof(kept), "%s/write-probe-kept.%ld", dir, (long)getpid());
    (void)snprintf(dropped, sizeof(dropped), "%s/write-probe-dropped.%ld", dir, (long)getpid());
    (void)snprintf(direct, sizeof(direct), "%s/write-probe-direct.%ld", dir, (long)getpid());
    double kept_s, dropped_s, direct_s = 0;
    double kept_cpu = write_file(kept, mib, KEPT, &kept_s);
    double dropped_cpu = write_file(dropped, mib, DROPPED, &dropped_s);
    double direct_cpu = write_file(direct, mib, DIRECT, &direct_s);
    (void)unlink(kept);
    (void)unlink(dropped);
    (void)unlink(direct);
    double bytes = (double)mib * (double)(1u << 20);
    (void)printf("mib=%" PRIu64 " kept_cpu_ns_per_byte=%.3f kept_mb_per_s=%.0f"
                 " dropped_cpu_ns_per_byte=%.3f dropped_mb_per_s=%.0f",
                 mib, kept_cpu * 1e9 / bytes, bytes / kept_s / 1e6, dropped_cpu * 1e9 / bytes,
                 bytes / dropped_s / 1e6);
    if (direct_cpu >= 0) {
        (void)printf(" direct_cpu_ns_per_byte=%.3f direct_mb_per_s=%.0f\n",
                     direct_cpu * 1e9 / bytes, bytes / direct_s / 1e6);
    } else {
        (void)printf(" direct=refused\n");
    }
    return 0;
}

/* ---- free-ports, probe (for the driver script) ---------------------------------- */

/* N distinct free loopback TCP ports: all bound at once, printed, released. */
static int cmd_free_ports(int argc, char **argv)
{
    unsigned n = argc > 0 ? (unsigned)parse_u64("free-ports", argv[0], 1, 64) : 1;
    int fds[64];
    for (unsigned k = 0; k < n; k++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        fds[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[k] < 0 || bind(fds[k], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fds[k], (struct sockaddr *)&a, &len) < 0) {
            die("cannot bind a loopback port: %s", strerror(errno));
        }
        (void)printf("%s%u", k > 0 ? " " : "", (unsigned)ntohs(a.sin_port));
    }
    (void)printf("\n");
    for (unsigned k = 0; k < n; k++) {
        (void)close(fds[k]);
    }
    return 0;
}

/*
 * Waits (up to --timeout) until H:P accepts a connection; with --path, GETs it
 * and prints the body of a 200 answer (e.g. /metrics).
 */
static int cmd_probe(int argc, char **argv)
{
    struct sockaddr_in addr;
    bool have_addr = false;
    const char *path = NULL;
    double timeout = 10;

    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage_error("%s: missing value", a);
        }
        if (strcmp(a, "--addr") == 0) {
            parse_addr(v, &addr);
            have_addr = true;
        } else if (strcmp(a, "--path") == 0) {
            path = v;
        } else if (strcmp(a, "--timeout") == 0) {
            timeout = parse_seconds(a, v);
        } else {
            usage_error("probe: unknown option '%s'", a);
        }
    }
    if (!have_addr) {
        usage_error("probe needs --addr");
    }
    int64_t deadline = now_ns() + (int64_t)(timeout * 1e9);
    for (;;) {
        int fd = connect_tcp(&addr);
        if (fd >= 0 && path == NULL) {
            (void)close(fd);
            return 0;
        }
        if (fd >= 0) {
            char head[512], *buf = malloc(RESPONSE_BYTES * 4);
            size_t len = 0;
            int n =
                snprintf(head, sizeof(head),
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
            if (buf == NULL || n < 0 || (size_t)n >= sizeof(head)) {
                die("probe: out of memory or path too long");
            }
            if (write_all(fd, head, (size_t)n) == 0) {
                ssize_t m;
                while ((m = read(fd, buf + len, RESPONSE_BYTES * 4 - 1 - len)) > 0) {
                    len += (size_t)m;
                }
            }
            (void)close(fd);
            buf[len] = '\0';
            char *body = strstr(buf, "\r\n\r\n");
            if (strncmp(buf, "HTTP/1.1 200", 12) == 0 && body != NULL) {
                (void)fputs(body + 4, stdout);
                free(buf);
                return 0;
            }
            free(buf);
        }
        if (now_ns() > deadline) {
            (void)fprintf(stderr, "evident-loadgen: probe: nothing answered on the port\n");
            return 1;
        }
        sleep_ns(20000000);
    }
}

/* ---- main ----------------------------------------------------------------------- */

static void help(void)
{
    (void)printf(
        "usage: evident-loadgen COMMAND [OPTIONS]\n"
        "\n"
        "  syslog-tcp --addr H:P (--wait-file F | --wait-index F | --wait-metrics H:P)\n"
        "             [--messages N] [--connections C] [--framing octet|lf] [--timeout S]\n"
        "             [--rate R]\n"
        "      N RFC 5424 messages over C connections (R messages/s in all, or as fast as\n"
        "      they are read); ingested when the file F has N more\n"
        "      lines, the log index F N more entries (8 bytes each), or evidentd's\n"
        "      evident_events_total{source=\"syslog_tcp\"} rose by N\n"
        "  http --addr H:P --token T [--clients C] [--batch B] [--seconds S] [--warmup S]\n"
        "       [--rate EVENTS_PER_S]\n"
        "      C keep-alive clients POST arrays of B events to /v1/events\n"
        "  unix-producers --socket PATH --pid DAEMON_PID [--producers P] [--interval S]\n"
        "                 [--seconds S]\n"
        "      P Unix-socket producers, one event each per interval; daemon VmRSS/VmHWM\n"
        "  fsync-probe --dir D [--count N] [--size BYTES] [--mode append|direct]\n"
        "              [--gap-us US]\n"
        "      BYTES append + fdatasync on a fresh file in D, N times, US apart: latency;\n"
        "      direct: an O_DIRECT overwrite of a preallocated file, then fdatasync, timed\n"
        "      apart\n"
        "  write-probe --dir D [--mib N]\n"
        "      N MiB (1024) of 1 MiB writes to a fresh file in D, fdatasync every 64 MiB,\n"
        "      the pages kept, then dropped after each sync, then O_DIRECT: CPU per byte\n"
        "  free-ports [N]\n"
        "      N free loopback TCP ports\n"
        "  probe --addr H:P [--path P] [--timeout S]\n"
        "      wait until H:P accepts connections; with --path print the body of GET P\n");
}

int main(int argc, char **argv)
{
    (void)signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help();
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "syslog-tcp") == 0) {
        return cmd_syslog_tcp(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "http") == 0) {
        return cmd_http(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "unix-producers") == 0) {
        return cmd_unix_producers(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "fsync-probe") == 0) {
        return cmd_fsync_probe(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "write-probe") == 0) {
        return cmd_write_probe(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "free-ports") == 0) {
        return cmd_free_ports(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "probe") == 0) {
        return cmd_probe(argc - 2, argv + 2);
    }
    usage_error("unknown command '%s'", cmd);
    return 2;
}
