/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's stream intake (src/daemon/stream.c) on real sockets: a Unix
 * JSON Lines connection held back by a full queue whose peer hangs up, and
 * syslog over TCP and a Unix datagram socket at and past their limits. The
 * end-to-end script (test-daemon.sh) covers the common paths with real
 * senders; these are the edges a sender cannot be made to reach on cue.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <evident/config.h>
#include <evident/log.h>
#include <evident/policy.h>
#include <evident/syslog.h>

#include "auth.h"
#include "commit.h"
#include "metrics.h"
#include "stream.h"
#include "daemontest.h"
#include "testutil.h"

struct fx {
    char root[PATH_MAX], dir[PATH_MAX], sock[PATH_MAX], dgram[PATH_MAX];
    uint16_t tcp_port;
    struct evd d;
};

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* tcp_host: syslog_tcp's host ("" for every address), on a free port. */
static void fx_start_on(struct fx *f, size_t stream_queue_max, const char *tcp_host)
{
    struct ev_create_options create = {.origin = TU_ORIGIN};
    struct ev_open_options open_options = {.sync = EV_SYNC_NEVER};
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    struct ev_config *c = NULL;
    char addr[64], err[256];

    memset(f, 0, sizeof(*f));
    tu_tmpdir(f->root);
    tu_path(f->dir, f->root, "log");
    tu_path(f->sock, f->root, "evidentd.sock");
    tu_path(f->dgram, f->root, "dev-log");
    f->tcp_port = free_port();
    tu_ok(ev_log_create(f->dir, &create, v));
    tu_ok(ev_log_open(f->dir, &open_options, &f->d.log));

    tu_ok(ev_config_defaults(&c));
    free(c->log.dir);
    c->log.dir = xstrdup(f->dir);
    free(c->server.unix_socket); /* the default's */
    c->server.unix_socket = xstrdup(f->sock);
    c->server.syslog_unix = xstrdup(f->dgram);
    (void)snprintf(addr, sizeof(addr), "%s:%u", tcp_host, (unsigned)f->tcp_port);
    c->server.syslog_tcp = xstrdup(addr);
    c->performance.stream_threads = 1;
    f->d.config = c;
    (void)snprintf(f->d.host, sizeof(f->d.host), "test-host");
    assert_int_equal(pthread_rwlock_init(&f->d.config_lock, NULL), 0);
    tu_ok(ev_policy_new(c, &f->d.policy));
    tu_ok(evd_auth_new(c, &f->d.auth));
    tu_ok(evd_metrics_new(&f->d.metrics));

    struct evd_commit_options co = {
        .sync = EV_SYNC_NEVER,
        .batch_max = (size_t)c->performance.batch_max,
        .queue_max = (size_t)c->performance.queue_max,
        .stream_queue_max = stream_queue_max,
        .metrics = f->d.metrics,
    };
    tu_ok(evd_commit_start(f->d.log, &co, &f->d.commit));
    assert_int_equal(evd_stream_bind(&f->d, &f->d.stream, err, sizeof(err)), 0);
    tu_ok(evd_stream_run(f->d.stream));
}

static void fx_start(struct fx *f, size_t stream_queue_max)
{
    fx_start_on(f, stream_queue_max, "127.0.0.1");
}

static void fx_stop(struct fx *f)
{
    atomic_store(&f->d.stopping, true);
    evd_stream_stop(f->d.stream);
    evd_commit_stop(f->d.commit);
    tu_ok(ev_log_close(f->d.log));
    evd_metrics_free(f->d.metrics);
    evd_auth_free(f->d.auth);
    ev_policy_free(f->d.policy);
    ev_config_free(f->d.config);
    (void)pthread_rwlock_destroy(&f->d.config_lock);
    tu_rm_rf(f->root);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The rejected_total counter of source and reason, from the Prometheus text. */
static uint64_t rejected(struct fx *f, const char *source, const char *reason)
{
    char *text = NULL, key[160];
    size_t len = 0;
    uint64_t n = 0;

    tu_ok(evd_metrics_render(f->d.metrics, NULL, &text, &len));
    (void)snprintf(key, sizeof(key), "evident_rejected_total{source=\"%s\",reason=\"%s\"} ", source,
                   reason);
    const char *p = strstr(text, key);
    if (p != NULL) {
        n = strtoull(p + strlen(key), NULL, 10);
    }
    free(text);
    return n;
}

static uint64_t log_size(struct fx *f)
{
    struct ev_log_info info;
    tu_ok(ev_log_info(f->d.log, &info));
    return info.tree_size;
}

/* Polls (every 10 ms, at most 20 s) until the log holds n entries; its size then. */
static uint64_t wait_log_size(struct fx *f, uint64_t n)
{
    for (int i = 0; i < 2000 && log_size(f) < n; i++) {
        sleep_ms(10);
    }
    return log_size(f);
}

/* Polls until the counter reaches n; its value then. */
static uint64_t wait_rejected(struct fx *f, const char *source, const char *reason, uint64_t n)
{
    for (int i = 0; i < 2000 && rejected(f, source, reason) < n; i++) {
        sleep_ms(10);
    }
    return rejected(f, source, reason);
}

static int connect_unix(const char *path, int type)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, type, 0);
    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(a.sun_path));
    memcpy(a.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int connect_tcp(uint16_t port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* A connection to [::1]:port, or -1 (errno set) when it fails. */
static int connect_tcp6(uint16_t port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    a.sin6_addr = in6addr_loopback;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Whether this host can bind and reach [::1] at all (IPv6 may be disabled). */
static bool ipv6_loopback_usable(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok;
    if (fd < 0) {
        return false;
    }
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

#define EVENT_LINE "{\"type\":\"custom.stream\",\"severity\":\"warning\",\"data\":{\"n\":1}}\n"

/*
 * A connection held back by a full queue (not read) whose peer hangs up:
 * epoll reports EPOLLHUP whatever the mask, so the loop must stop watching
 * it until it may be read again, or it wakes at once, forever (a CPU spent
 * until the queue drains). Its events still go in once the queue drains.
 */
static void test_held_connection_hang_up(void **state)
{
    struct fx f;
    struct blocker b;
    (void)state;

    fx_start(&f, 1); /* one stream event in the queue, and the next connection waits */
    blocker_start(&b, f.d.commit);
    int fd = connect_unix(f.sock, SOCK_STREAM);
    send_str(fd, EVENT_LINE);
    for (int i = 0; i < 2000 && evd_commit_depth(f.d.commit) < 1; i++) {
        sleep_ms(10);
    }
    assert_int_equal(evd_commit_depth(f.d.commit), 1);
    send_str(fd, EVENT_LINE); /* refused by the full queue: the connection is held */
    close(fd);                /* the peer hangs up while it is held */
    /*
     * Reported at most once: with the line (then it is no wake-up of a held
     * connection) or after it. A loop that spins on it counts thousands.
     */
    sleep_ms(300);
    assert_in_range(evd_stream_held_wakeups(f.d.stream), 0, 1);

    blocker_release(&b);
    assert_int_equal(wait_log_size(&f, 2), 2); /* nothing lost */
    assert_in_range(evd_stream_held_wakeups(f.d.stream), 0, 1);
    fx_stop(&f);
}

#define SYSLOG_AFTER "<13>1 2026-11-29T10:00:00Z h app - - - after the big one"

/*
 * An octet-counted frame over the syslog limit (here over max_request_bytes
 * too) is refused and skipped by its count, as it arrives: the stream goes
 * on with the next frame. It used to close the connection, losing the rest.
 */
static void test_syslog_oversized_octet_frame_skipped(void **state)
{
    struct fx f;
    (void)state;

    fx_start(&f, 0);
    size_t big = 2 * 1024 * 1024; /* over max_request_bytes (1 MiB) and EV_SYSLOG_MAX_BYTES */
    char *frame = malloc(big + 32);
    assert_non_null(frame);
    int n = snprintf(frame, 32, "%zu ", big);
    memset(frame + n, 'a', big);
    int fd = connect_tcp(f.tcp_port);
    send_all(fd, frame, (size_t)n + big);
    char after[128];
    int m = snprintf(after, sizeof(after), "%zu %s", strlen(SYSLOG_AFTER), SYSLOG_AFTER);
    send_all(fd, after, (size_t)m);
    close(fd);
    free(frame);

    assert_int_equal(wait_log_size(&f, 1), 1);
    assert_int_equal(rejected(&f, "syslog_tcp", "too_big"), 1);
    assert_int_equal(rejected(&f, "syslog_tcp", "malformed"), 0);
    fx_stop(&f);
}

/*
 * An octet-counted frame cut short by the end of the stream is no message,
 * and counted: one byte short used to be completed by the LF added for a
 * last line without one (and recorded), more bytes short left uncounted.
 */
static void test_syslog_truncated_frame_at_eof(void **state)
{
    struct fx f;
    (void)state;

    fx_start(&f, 0);
    int fd = connect_tcp(f.tcp_port);
    send_str(fd, "11 <13>hello!"); /* 10 of 11 bytes */
    close(fd);
    fd = connect_tcp(f.tcp_port);
    send_str(fd, "20 <13>hello\n"); /* 9 of 20, ending in an LF */
    close(fd);
    fd = connect_tcp(f.tcp_port);
    send_str(fd, "<13>a last line without its LF"); /* newline framing: still a message */
    close(fd);

    assert_int_equal(wait_rejected(&f, "syslog_tcp", "malformed", 2), 2);
    assert_int_equal(wait_log_size(&f, 1), 1);
    sleep_ms(100);
    assert_int_equal(log_size(&f), 1);
    assert_int_equal(rejected(&f, "syslog_tcp", "malformed"), 2);
    fx_stop(&f);
}

/* A Unix datagram over EV_SYSLOG_MAX_BYTES is refused as too big, not cut and recorded. */
static void test_syslog_unix_datagram_too_big(void **state)
{
    struct fx f;
    (void)state;

    fx_start(&f, 0);
    size_t len = EV_SYSLOG_MAX_BYTES + 1000;
    char *msg = malloc(len);
    assert_non_null(msg);
    memcpy(msg, "<13>", 4);
    memset(msg + 4, 'a', len - 4);
    int fd = connect_unix(f.dgram, SOCK_DGRAM);
    int sndbuf = 1 << 20;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    assert_int_equal(send(fd, msg, len, 0), (ssize_t)len);
    assert_int_equal(send(fd, msg, EV_SYSLOG_MAX_BYTES, 0), (ssize_t)EV_SYSLOG_MAX_BYTES);
    close(fd);
    free(msg);

    assert_int_equal(wait_rejected(&f, "syslog_unix", "too_big", 1), 1);
    assert_int_equal(wait_log_size(&f, 1), 1); /* the one at the limit */
    assert_int_equal(rejected(&f, "syslog_unix", "too_big"), 1);
    fx_stop(&f);
}

/*
 * A host that resolves to several addresses is bound on each: the empty
 * host is 0.0.0.0 and ::, and only the first was bound, so senders to
 * [::1] were refused (and with "localhost" listed as ::1 first, senders to
 * 127.0.0.1).
 */
static void test_syslog_every_address(void **state)
{
    struct fx f;
    (void)state;

    fx_start_on(&f, 0, "");
    int fd = connect_tcp(f.tcp_port);
    send_str(fd, "<13>1 2026-11-29T10:00:00Z h app - - - over IPv4\n");
    close(fd);
    assert_int_equal(wait_log_size(&f, 1), 1);
    if (ipv6_loopback_usable()) {
        fd = connect_tcp6(f.tcp_port);
        assert_true(fd >= 0);
        send_str(fd, "<13>1 2026-11-29T10:00:00Z h app - - - over IPv6\n");
        close(fd);
        assert_int_equal(wait_log_size(&f, 2), 2);
    } else {
        print_message("IPv6 loopback not usable here: only IPv4 checked\n");
    }
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_connection_hang_up),
        cmocka_unit_test(test_syslog_oversized_octet_frame_skipped),
        cmocka_unit_test(test_syslog_truncated_frame_at_eof),
        cmocka_unit_test(test_syslog_unix_datagram_too_big),
        cmocka_unit_test(test_syslog_every_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
