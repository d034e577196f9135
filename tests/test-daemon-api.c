/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidentd's HTTP API (src/daemon/api.c, api-read.c) driven through
 * evd_api_handle() against a real log and commit queue, with exact statuses
 * and bodies; then the same server over real HTTP (http.c, libcurl):
 * keep-alive, oversize bodies, stalled clients, overload, TLS and auth.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/merkle.h>
#include <evident/note.h>
#include <evident/policy.h>

#include "api.h"
#include "auth.h"
#include "commit.h"
#include "http.h"
#include "metrics.h"
#include "daemontest.h"
#include "testutil.h"

/* Tokens "secret" (writer) and "reader" (reader), as the configuration holds them. */
#define WRITER "Bearer secret"
#define READER "Bearer reader"
#define WRITER_HASH "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
#define READER_HASH "sha256:3d0941964aa3ebdcb00ccef58b1bb399f9f898465e9886d5aec7f31090a0fb30"
#define PEER "192.0.2.7"
#define SOURCE "{\"peer\":\"192.0.2.7\",\"token\":\"sha256:2bb80d\",\"transport\":\"http\"}"

struct fx {
    char root[PATH_MAX], dir[PATH_MAX];
    struct evd d;
    struct ev_verifier *verifier;
};

/* Options a test sets before the daemon parts start. */
struct fx_options {
    uint64_t batch_max, queue_max, max_request_bytes, request_timeout_ns;
    const char *listen, *metrics_listen, *tls_cert, *tls_key;
    bool no_start_http;
};

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

static void fx_start(struct fx *f, const struct fx_options *o)
{
    struct ev_create_options create = {.origin = TU_ORIGIN};
    struct ev_open_options open_options = {.sync = EV_SYNC_NEVER};
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    struct ev_config *c = NULL;
    struct ev_log_info info;

    memset(f, 0, sizeof(*f));
    tu_tmpdir(f->root);
    tu_path(f->dir, f->root, "log");
    tu_ok(ev_log_create(f->dir, &create, v));
    tu_ok(ev_log_open(f->dir, &open_options, &f->d.log));
    tu_ok(ev_log_info(f->d.log, &info));
    tu_ok(ev_verifier_parse(info.vkey, &f->verifier));

    tu_ok(ev_config_defaults(&c));
    free(c->log.dir);
    c->log.dir = xstrdup(f->dir);
    c->server.writer_tokens[c->server.writer_token_count++] = xstrdup(WRITER_HASH);
    c->server.reader_tokens[c->server.reader_token_count++] = xstrdup(READER_HASH);
    /* custom.* events under warning are dropped: the policy's drops are tested with them. */
    c->policies[EV_TYPE_CUSTOM].min_severity = EV_SEV_WARNING;
    if (o->batch_max != 0) {
        c->performance.batch_max = o->batch_max;
    }
    if (o->queue_max != 0) {
        c->performance.queue_max = o->queue_max;
    }
    if (o->max_request_bytes != 0) {
        c->server.max_request_bytes = o->max_request_bytes;
    }
    if (o->request_timeout_ns != 0) {
        c->server.request_timeout_ns = o->request_timeout_ns;
    }
    /* The defaults listen on a fixed port: the tests choose their own. */
    for (size_t i = 0; i < c->server.http_listen_count; i++) {
        free(c->server.http_listen[i]);
        c->server.http_listen[i] = NULL;
    }
    c->server.http_listen_count = 0;
    free(c->monitoring.metrics_listen);
    c->monitoring.metrics_listen = NULL;
    if (o->listen != NULL) {
        c->server.http_listen[c->server.http_listen_count++] = xstrdup(o->listen);
    }
    if (o->metrics_listen != NULL) {
        c->monitoring.metrics_listen = xstrdup(o->metrics_listen);
    }
    if (o->tls_cert != NULL) {
        c->server.tls_cert_file = xstrdup(o->tls_cert);
        c->server.tls_key_file = xstrdup(o->tls_key);
    }
    f->d.config = c;
    assert_int_equal(pthread_rwlock_init(&f->d.config_lock, NULL), 0);
    assert_int_equal(pthread_mutex_init(&f->d.summary_lock, NULL), 0);
    tu_ok(ev_policy_new(c, &f->d.policy));
    tu_ok(evd_auth_new(c, &f->d.auth));
    tu_ok(evd_metrics_new(&f->d.metrics));

    struct evd_commit_options co = {
        .sync = EV_SYNC_ALWAYS,
        .batch_max = (size_t)c->performance.batch_max,
        .queue_max = (size_t)c->performance.queue_max,
        .metrics = f->d.metrics,
    };
    tu_ok(evd_commit_start(f->d.log, &co, &f->d.commit));
    f->d.started_ns = evd_wall_ns();
    atomic_store(&f->d.ready, true);
    if (o->listen != NULL && !o->no_start_http) {
        tu_ok(evd_http_start(&f->d, &f->d.http));
    }
}

static void fx_stop(struct fx *f)
{
    atomic_store(&f->d.stopping, true);
    evd_http_stop(f->d.http);
    evd_commit_stop(f->d.commit);
    tu_ok(ev_log_close(f->d.log));
    evd_metrics_free(f->d.metrics);
    evd_auth_free(f->d.auth);
    ev_policy_free(f->d.policy);
    ev_config_free(f->d.config);
    ev_verifier_free(f->verifier);
    ev_summary_free(f->d.summary);
    (void)pthread_mutex_destroy(&f->d.summary_lock);
    (void)pthread_rwlock_destroy(&f->d.config_lock);
    tu_rm_rf(f->root);
}

/* ---- calling the API directly ------------------------------------------- */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    struct evd_response response;
};

static void on_done(void *ctx, struct evd_response *response)
{
    struct waiter *w = ctx;
    pthread_mutex_lock(&w->lock);
    w->response = *response;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* A request prepared from a target "PATH?QUERY". */
struct call {
    struct evd_request request;
    struct evd_query query;
    char path[1024];
};

static void call_init(struct call *c, const char *method, const char *target, const char *auth,
                      const char *content_type, const char *body, size_t body_len)
{
    const char *mark = strchr(target, '?');
    size_t path_len = mark != NULL ? (size_t)(mark - target) : strlen(target);

    memset(c, 0, sizeof(*c));
    assert_true(path_len < sizeof(c->path));
    memcpy(c->path, target, path_len);
    if (mark != NULL) {
        assert_int_equal(evd_query_parse(mark + 1, strlen(mark + 1), &c->query), 0);
    }
    c->request.method = method;
    c->request.path = c->path;
    c->request.query = evd_query_get;
    c->request.query_ctx = &c->query;
    c->request.authorization = auth;
    c->request.content_type = content_type;
    c->request.body = body;
    c->request.body_len = body_len;
    (void)snprintf(c->request.peer, sizeof(c->request.peer), "%s", PEER);
}

/* Waits for an asynchronous answer if there is one. */
static int call_run(struct fx *f, struct call *c, struct evd_response *ret)
{
    struct waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

    if (evd_api_handle(&f->d, &c->request, on_done, &w, ret) == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.done) {
            pthread_cond_wait(&w.cond, &w.lock);
        }
        pthread_mutex_unlock(&w.lock);
        *ret = w.response;
    }
    evd_query_free(&c->query);
    assert_non_null(ret->body);
    assert_int_equal(strlen(ret->body), ret->body_len);
    return ret->status;
}

static int request(struct fx *f, const char *method, const char *target, const char *auth,
                   const char *body, struct evd_response *ret)
{
    struct call c;
    call_init(&c, method, target, auth, NULL, body, body != NULL ? strlen(body) : 0);
    return call_run(f, &c, ret);
}

/* Asserts status and exact body, then frees the body. */
#define expect(f_, method_, target_, auth_, body_, status_, expected_)                             \
    do {                                                                                           \
        struct evd_response r_;                                                                    \
        int s_ = request((f_), (method_), (target_), (auth_), (body_), &r_);                       \
        if (s_ != (status_) || strcmp(r_.body, (expected_)) != 0) {                                \
            fail_msg("%s %s: got %d %s, expected %d %s", (method_), (target_), s_, r_.body,        \
                     (status_), (expected_));                                                      \
        }                                                                                          \
        evd_response_clear(&r_);                                                                   \
    } while (0)

static char *entry_text(struct fx *f, uint64_t index)
{
    struct ev_entry *e = NULL;
    char *text;
    tu_ok(ev_log_entry(f->d.log, index, &e));
    text = xstrdup(e->bytes);
    ev_entry_free(e);
    return text;
}

static void post_events(struct fx *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char body[256];
        struct evd_response r;
        (void)snprintf(body, sizeof(body),
                       "{\"type\":\"custom.test\",\"severity\":\"%s\",\"data\":{\"n\":%zu}}",
                       i % 2 == 0 ? "warning" : "error", i);
        assert_int_equal(request(f, "POST", "/v1/events", WRITER, body, &r), 200);
        evd_response_clear(&r);
    }
}

static int checkpoint_on_committer(struct ev_log *log, void *arg)
{
    (void)arg;
    return ev_log_checkpoint(log);
}

/* ---- writes --------------------------------------------------------------- */

static void test_write_single(void **state)
{
    struct fx f;
    struct fx_options o = {0};
    struct evd_response r;
    char *entry;

    (void)state;
    fx_start(&f, &o);
    expect(&f, "POST", "/v1/events", WRITER,
           "{\"type\":\"custom.test\",\"severity\":\"error\",\"data\":{\"b\":1,\"a\":\"x\"}}", 200,
           "{\"index\":0}");
    entry = entry_text(&f, 0);
    assert_non_null(strstr(entry,
                           "\"type\":\"custom.test\",\"severity\":\"error\",\"source\":" SOURCE
                           ",\"data\":{\"a\":\"x\",\"b\":1}}"));

    /* The type from the path; a claimed source is kept under "claimed". */
    expect(&f, "POST", "/v1/events/custom.path", WRITER,
           " {\"severity\":4,\"source\":{\"host\":\"h\"}} ", 200, "{\"index\":1}");
    free(entry);
    entry = entry_text(&f, 1);
    assert_non_null(strstr(entry, "\"type\":\"custom.path\",\"severity\":\"warning\",\"source\":"
                                  "{\"claimed\":{\"host\":\"h\"},\"peer\":\"192.0.2.7\",\"token\":"
                                  "\"sha256:2bb80d\",\"transport\":\"http\"},\"data\":{}}"));
    free(entry);

    /* Dropped by the policy: not an error. */
    expect(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.test\",\"severity\":\"info\"}",
           200, "{\"dropped\":true}");
    assert_int_equal(ev_log_size(f.d.log), 2);

    /* A content type with parameters is still JSON. */
    struct call c;
    const char *body = "{\"type\":\"custom.test\",\"severity\":\"alert\"}";
    call_init(&c, "POST", "/v1/events", WRITER, "Application/JSON; charset=utf-8", body,
              strlen(body));
    assert_int_equal(call_run(&f, &c, &r), 200);
    assert_string_equal(r.body, "{\"index\":2}");
    assert_string_equal(r.content_type, "application/json");
    evd_response_clear(&r);
    fx_stop(&f);
}

static void test_write_array(void **state)
{
    struct fx f;
    struct fx_options o = {0};

    (void)state;
    fx_start(&f, &o);
    expect(&f, "POST", "/v1/events", WRITER,
           "[{\"type\":\"custom.a\",\"severity\":\"error\"},\n"
           " {\"type\":\"custom.b\",\"severity\":\"debug\",\"data\":{\"s\":\"]}\\\"\"}},\n"
           " {\"type\":\"custom.c\",\"severity\":\"critical\",\"data\":{\"l\":[1,{\"x\":[]}]}}]",
           200, "{\"dropped\":[1],\"indexes\":[0,null,1]}");
    assert_int_equal(ev_log_size(f.d.log), 2);
    expect(&f, "POST", "/v1/events", WRITER, "[ ]", 200, "{\"dropped\":[],\"indexes\":[]}");
    expect(&f, "POST", "/v1/events", WRITER,
           "[{\"type\":\"custom.a\",\"severity\":\"info\"},{\"type\":\"custom.a\","
           "\"severity\":\"debug\"}]",
           200, "{\"dropped\":[0,1],\"indexes\":[null,null]}");
    /* The type of the path applies to every event. */
    expect(&f, "POST", "/v1/events/custom.p", WRITER,
           "[{\"severity\":\"error\"},{\"severity\":\"error\",\"type\":\"custom.p\"}]", 200,
           "{\"dropped\":[],\"indexes\":[2,3]}");
    assert_int_equal(ev_log_size(f.d.log), 4);
    fx_stop(&f);
}

static void test_write_errors(void **state)
{
    struct fx f;
    struct fx_options o = {.batch_max = 3, .max_request_bytes = 4096};
    struct evd_response r;
    struct call c;
    char big[5000];

    (void)state;
    fx_start(&f, &o);
    /* One bad event: nothing of the request is written. */
    expect(&f, "POST", "/v1/events", WRITER,
           "[{\"type\":\"custom.a\",\"severity\":\"error\"},{\"type\":\"custom.a\","
           "\"severity\":\"error\"},{\"type\":\"custom.a\",\"data\":5}]",
           400, "{\"error\":\"events[2]: data: expected a JSON object\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER,
           "[{\"type\":\"code_execution\",\"data\":{\"language\":\"sh\",\"exit_code\":\"1\"}}]",
           400, "{\"error\":\"events[0]: data.exit_code: expected an integer\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.a\",\"bogus\":1}", 400,
           "{\"error\":\"bogus: unknown key (expected type, severity, source, data)\","
           "\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.a\",}", 400,
           "{\"error\":\"invalid JSON at column 20: string or '}' expected near '}'\","
           "\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{\"type\":\"custom.a\"},{\"type\":1}]", 400,
           "{\"error\":\"events[1]: type: expected a string\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{\"severity\":\"error\"}]", 400,
           "{\"error\":\"events[0]: type: required\",\"status\":400}");
    expect(&f, "POST", "/v1/events/custom.p", WRITER, "{\"type\":\"custom.q\"}", 400,
           "{\"error\":\"type: differs from the type in the path\",\"status\":400}");
    expect(&f, "POST",
           "/v1/events/custom.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
           WRITER, "{}", 400, "{\"error\":\"type: longer than 64 characters\",\"status\":400}");

    /* The body's shape. */
    expect(&f, "POST", "/v1/events", WRITER, "", 400,
           "{\"error\":\"body: empty: expected an event object or an array of them\","
           "\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, " \n ", 400,
           "{\"error\":\"body: empty: expected an event object or an array of them\","
           "\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "\"type\"", 400,
           "{\"error\":\"body: expected an event object or an array of them\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.a\"} x", 400,
           "{\"error\":\"body: unexpected text after the event at byte 20\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.a\"", 400,
           "{\"error\":\"body: unterminated object\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{\"type\":\"custom.a\"}", 400,
           "{\"error\":\"body: unterminated array\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{\"type\":\"custom.a\"} {}]", 400,
           "{\"error\":\"body: expected ',' or ']' after events[0] at byte 21\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{\"type\":\"custom.a\"}, 3]", 400,
           "{\"error\":\"events[1]: expected an object\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{\"type\":\"custom.a\"},]", 400,
           "{\"error\":\"events[1]: expected an object\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[] []", 400,
           "{\"error\":\"body: unexpected text after the array at byte 3\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "[{},{},{},{}]", 413,
           "{\"error\":\"too many events: at most 3 per request (performance.batch_max)\","
           "\"status\":413}");

    /* Invalid UTF-8, found before parsing: a lone continuation byte, an overlong form. */
    expect(&f, "POST", "/v1/events", WRITER, "{\"type\":\"\x80\"}", 400,
           "{\"error\":\"body: invalid UTF-8 at byte 9\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"a\":\"\xc0\xaf\"}", 400,
           "{\"error\":\"body: invalid UTF-8 at byte 6\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"a\":\"\xed\xa0\x80\"}", 400,
           "{\"error\":\"body: invalid UTF-8 at byte 7\",\"status\":400}");
    expect(&f, "POST", "/v1/events", WRITER, "{\"a\":\"\xe2\x82", 400,
           "{\"error\":\"body: invalid UTF-8 at byte 6\",\"status\":400}");

    /* Content type and size. */
    call_init(&c, "POST", "/v1/events", WRITER, "text/plain", "{}", 2);
    assert_int_equal(call_run(&f, &c, &r), 415);
    assert_string_equal(r.body,
                        "{\"error\":\"content type must be application/json\",\"status\":415}");
    evd_response_clear(&r);
    call_init(&c, "POST", "/v1/events", WRITER, "application/jsonx", "{}", 2);
    assert_int_equal(call_run(&f, &c, &r), 415);
    evd_response_clear(&r);
    memset(big, ' ', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    expect(&f, "POST", "/v1/events", WRITER, big, 413,
           "{\"error\":\"request body over 4096 bytes (server.max_request_bytes)\","
           "\"status\":413}");

    /* Stopping: nothing is taken. */
    atomic_store(&f.d.stopping, true);
    assert_int_equal(request(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.a\"}", &r), 503);
    assert_string_equal(r.body, "{\"error\":\"stopping: not accepting events\",\"status\":503}");
    assert_int_equal(r.retry_after, 1);
    evd_response_clear(&r);
    atomic_store(&f.d.stopping, false);
    /* Every 503 has Retry-After, also those no test provokes (a committer stopping under a
     * write): 1 s unless its builder chose another. */
    r = (struct evd_response){0};
    evd_api_error(&r, 503, "stopping: not accepting events");
    assert_int_equal(r.retry_after, 1);
    evd_response_clear(&r);
    r = (struct evd_response){.retry_after = 7};
    evd_api_error(&r, 503, "later");
    assert_int_equal(r.retry_after, 7);
    evd_response_clear(&r);
    assert_int_equal(ev_log_size(f.d.log), 0);
    fx_stop(&f);
}


/*
 * The body scans skip 8 bytes at a time (api.c): a bad byte, a multi-byte
 * character, an escaped quote and an escaped backslash at each of 18 places
 * relative to the 8-byte words, with the exact answer each time. A skip that
 * jumped over a backslash at the end of a word, or over a bad byte, fails here.
 */
static void test_write_scans_every_alignment(void **state)
{
    static const char prefix[] = "{\"type\":\"custom.a\",\"severity\":\"error\",\"data\":{\"s\":\"";
    struct fx f;
    struct fx_options o = {0};
    char body[512], want[128];
    uint64_t index = 0;

    (void)state;
    fx_start(&f, &o);
    for (int k = 0; k < 18; k++) {
        /* A lone continuation byte after k ASCII bytes, then more ASCII. */
        (void)snprintf(body, sizeof(body), "%s%.*s\x80yyyyyyyyy\"}}", prefix, k,
                       "xxxxxxxxxxxxxxxxxx");
        (void)snprintf(want, sizeof(want),
                       "{\"error\":\"body: invalid UTF-8 at byte %zu\",\"status\":400}",
                       sizeof(prefix) - 1 + (size_t)k);
        expect(&f, "POST", "/v1/events", WRITER, body, 400, want);
        /* A truncated 3-byte form: the byte that breaks it is named. */
        (void)snprintf(body, sizeof(body), "%s%.*s\xe2\x82yyyyyyyyy\"}}", prefix, k,
                       "xxxxxxxxxxxxxxxxxx");
        (void)snprintf(want, sizeof(want),
                       "{\"error\":\"body: invalid UTF-8 at byte %zu\",\"status\":400}",
                       sizeof(prefix) + 1 + (size_t)k);
        expect(&f, "POST", "/v1/events", WRITER, body, 400, want);
        /* Two, three and four bytes long characters are fine anywhere. */
        (void)snprintf(body, sizeof(body),
                       "%s%.*s\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9eyyyyyyyyy\"}}", prefix, k,
                       "xxxxxxxxxxxxxxxxxx");
        (void)snprintf(want, sizeof(want), "{\"index\":%" PRIu64 "}", index++);
        expect(&f, "POST", "/v1/events", WRITER, body, 200, want);
        /*
         * An escaped quote, then brackets, inside a string; then a string that
         * ends in an escaped backslash: two events, whatever the alignment.
         */
        (void)snprintf(body, sizeof(body), "[%s%.*s\\\"}]{[zzzzzzzzz\"}},%s%.*s\\\\\"}}]", prefix,
                       k, "xxxxxxxxxxxxxxxxxx", prefix, k, "xxxxxxxxxxxxxxxxxx");
        (void)snprintf(want, sizeof(want), "{\"dropped\":[],\"indexes\":[%" PRIu64 ",%" PRIu64 "]}",
                       index, index + 1);
        index += 2;
        expect(&f, "POST", "/v1/events", WRITER, body, 200, want);
    }
    char *entry = entry_text(&f, index - 1);
    assert_non_null(strstr(entry, "xxxxxxxxxxxxxxxxx\\\\\"}"));
    free(entry);
    assert_int_equal(ev_log_size(f.d.log), index);
    fx_stop(&f);
}

static void test_queue_full(void **state)
{
    struct fx f;
    /* The queue is at least batch_max long (commit.c). */
    struct fx_options o = {.batch_max = 1, .queue_max = 1};
    struct waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct evd_response r;
    struct blocker b;
    struct call c;
    const char *body = "{\"type\":\"custom.a\",\"severity\":\"error\"}";

    (void)state;
    fx_start(&f, &o);
    blocker_start(&b, f.d.commit);
    /* The first write waits in the queue; the second finds it full. */
    call_init(&c, "POST", "/v1/events", WRITER, NULL, body, strlen(body));
    assert_int_equal(evd_api_handle(&f.d, &c.request, on_done, &w, &r), 0);
    evd_query_free(&c.query);
    call_init(&c, "POST", "/v1/events", WRITER, NULL, body, strlen(body));
    assert_int_equal(call_run(&f, &c, &r), 503);
    assert_string_equal(r.body, "{\"error\":\"queue full: try again later\",\"status\":503}");
    assert_int_equal(r.retry_after, 1);
    evd_response_clear(&r);

    blocker_release(&b);
    pthread_mutex_lock(&w.lock);
    while (!w.done) {
        pthread_cond_wait(&w.cond, &w.lock);
    }
    pthread_mutex_unlock(&w.lock);
    assert_int_equal(w.response.status, 200);
    assert_string_equal(w.response.body, "{\"index\":0}");
    evd_response_clear(&w.response);
    fx_stop(&f);
}

/* ---- routes and auth ------------------------------------------------------ */

static void test_routes_and_auth(void **state)
{
    struct fx f;
    struct fx_options o = {0};
    struct evd_response r;

    (void)state;
    fx_start(&f, &o);
    expect(&f, "GET", "/nope", NULL, NULL, 404, "{\"error\":\"no such resource\",\"status\":404}");
    expect(&f, "GET", "/v1/entries/1/2", READER, NULL, 404,
           "{\"error\":\"no such resource\",\"status\":404}");
    expect(&f, "GET", "/v1/events/", WRITER, NULL, 404,
           "{\"error\":\"no such resource\",\"status\":404}");
    expect(&f, "GET", "/v1/entries/x1", READER, NULL, 404,
           "{\"error\":\"no such resource: expected an entry number\",\"status\":404}");

    assert_int_equal(request(&f, "GET", "/v1/events", WRITER, NULL, &r), 405);
    assert_string_equal(r.body, "{\"error\":\"method not allowed: use POST\",\"status\":405}");
    assert_string_equal(r.allow, "POST");
    evd_response_clear(&r);
    assert_int_equal(request(&f, "DELETE", "/v1/checkpoint", WRITER, NULL, &r), 405);
    assert_string_equal(r.body, "{\"error\":\"method not allowed: use GET\",\"status\":405}");
    assert_string_equal(r.allow, "GET, HEAD");
    evd_response_clear(&r);

    /* No token, an unknown token, a reader's token on a write. */
    assert_int_equal(request(&f, "POST", "/v1/events", NULL, "{}", &r), 401);
    assert_string_equal(r.body, "{\"error\":\"authorization required\",\"status\":401}");
    assert_string_equal(r.authenticate, "Bearer realm=\"evidentd\"");
    evd_response_clear(&r);
    assert_int_equal(request(&f, "POST", "/v1/events", "Bearer nope", "{}", &r), 401);
    assert_string_equal(r.body, "{\"error\":\"invalid token\",\"status\":401}");
    assert_string_equal(r.authenticate, "Bearer realm=\"evidentd\", error=\"invalid_token\"");
    evd_response_clear(&r);
    expect(&f, "POST", "/v1/events", READER, "{}", 403,
           "{\"error\":\"this token may not write\",\"status\":403}");
    expect(&f, "GET", "/v1/entries", NULL, NULL, 401,
           "{\"error\":\"authorization required\",\"status\":401}");
    expect(&f, "GET", "/v1/entries/0", "Basic eDp5", NULL, 401,
           "{\"error\":\"invalid token\",\"status\":401}");
    expect(&f, "GET", "/v1/summary", NULL, NULL, 401,
           "{\"error\":\"authorization required\",\"status\":401}");
    /* Readers and writers read; public routes need nothing. */
    expect(&f, "GET", "/v1/entries", READER, NULL, 200, "{\"entries\":[],\"next\":null}");
    expect(&f, "GET", "/v1/entries", WRITER, NULL, 200, "{\"entries\":[],\"next\":null}");
    expect(&f, "HEAD", "/v1/entries", WRITER, NULL, 200, "{\"entries\":[],\"next\":null}");
    /* A new log has the checkpoint of its empty tree. */
    assert_int_equal(request(&f, "GET", "/v1/checkpoint", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, TU_ORIGIN "\n0\n"));
    evd_response_clear(&r);
    expect(&f, "GET", "/v1/proof/0", NULL, NULL, 404,
           "{\"error\":\"entry 0 is not in the checkpoint of size 0 (a newer checkpoint will "
           "cover it)\",\"status\":404}");
    expect(&f, "GET", "/v1/consistency?old=1", NULL, NULL, 400,
           "{\"error\":\"old: expected 1 to new (0)\",\"status\":400}");
    expect(&f, "GET", "/healthz", NULL, NULL, 200,
           "{\"disk\":\"ok\",\"status\":\"ok\",\"tree_size\":0}");
    fx_stop(&f);
}

/* ---- reads ---------------------------------------------------------------- */

static void test_entries(void **state)
{
    struct fx f;
    struct fx_options o = {0};
    char expected[8192], *e[5];

    (void)state;
    fx_start(&f, &o);
    post_events(&f, 5);
    for (uint64_t i = 0; i < 5; i++) {
        e[i] = entry_text(&f, i);
    }
    (void)snprintf(expected, sizeof(expected),
                   "{\"entries\":[{\"entry\":%s,\"index\":0},{\"entry\":%s,\"index\":1}],"
                   "\"next\":2}",
                   e[0], e[1]);
    expect(&f, "GET", "/v1/entries?limit=2", READER, NULL, 200, expected);
    (void)snprintf(expected, sizeof(expected),
                   "{\"entries\":[{\"entry\":%s,\"index\":3},{\"entry\":%s,\"index\":4}],"
                   "\"next\":null}",
                   e[3], e[4]);
    expect(&f, "GET", "/v1/entries?from=3", READER, NULL, 200, expected);
    (void)snprintf(expected, sizeof(expected),
                   "{\"entries\":[{\"entry\":%s,\"index\":1}],\"next\":3}", e[1]);
    expect(&f, "GET", "/v1/entries?severity=error&limit=1", READER, NULL, 200, expected);
    expect(&f, "GET", "/v1/entries?severity=3&limit=1", READER, NULL, 200, expected);
    (void)snprintf(expected, sizeof(expected),
                   "{\"entries\":[{\"entry\":%s,\"index\":1},{\"entry\":%s,\"index\":2}],"
                   "\"next\":null}",
                   e[1], e[2]);
    expect(&f, "GET", "/v1/entries?from=1&to=3&type=custom.test&source=192.0.2.7", READER, NULL,
           200, expected);
    expect(&f, "GET", "/v1/entries?type=custom.other", READER, NULL, 200,
           "{\"entries\":[],\"next\":null}");
    expect(&f, "GET", "/v1/entries?source=%22peer%22%3A%22198", READER, NULL, 200,
           "{\"entries\":[],\"next\":null}");
    expect(&f, "GET", "/v1/entries?from=99", READER, NULL, 200, "{\"entries\":[],\"next\":null}");
    (void)snprintf(expected, sizeof(expected),
                   "{\"entries\":[{\"entry\":%s,\"index\":0}],\"next\":1}", e[0]);
    expect(&f, "GET", "/v1/entries?since=2000-01-01T00:00:00Z&until=2200-01-01T00:00:00Z&limit=1",
           READER, NULL, 200, expected);
    expect(&f, "GET", "/v1/entries?until=2000-01-01T00:00:00Z", READER, NULL, 200,
           "{\"entries\":[],\"next\":null}");

    /* Each bad parameter is named. */
    expect(&f, "GET", "/v1/entries?limit=0", READER, NULL, 400,
           "{\"error\":\"limit: expected 1 to 1000\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?limit=1001", READER, NULL, 400,
           "{\"error\":\"limit: expected 1 to 1000\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?from=-1", READER, NULL, 400,
           "{\"error\":\"from: expected a non-negative integer\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?to=18446744073709551616", READER, NULL, 400,
           "{\"error\":\"to: expected a non-negative integer\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?from=4&to=3", READER, NULL, 400,
           "{\"error\":\"to: must not be less than from\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?severity=loud", READER, NULL, 400,
           "{\"error\":\"severity: expected a severity name or 0 to 7\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?severity=8", READER, NULL, 400,
           "{\"error\":\"severity: expected a severity name or 0 to 7\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?type=", READER, NULL, 400,
           "{\"error\":\"type: empty\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?source=", READER, NULL, 400,
           "{\"error\":\"source: empty\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?since=yesterday", READER, NULL, 400,
           "{\"error\":\"since: expected a time such as 2026-11-27T09:00:00Z\",\"status\":400}");
    expect(&f, "GET", "/v1/entries?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", READER,
           NULL, 400, "{\"error\":\"until: must be later than since\",\"status\":400}");
    fx_stop(&f);
    for (int i = 0; i < 5; i++) {
        free(e[i]);
    }
}

static void test_entry(void **state)
{
    struct fx f;
    struct fx_options o = {0};
    struct ev_entry *entry = NULL;
    uint8_t leaf[EV_HASH_BYTES];
    char expected[4096], hex[2 * EV_HASH_BYTES + 1];

    (void)state;
    fx_start(&f, &o);
    post_events(&f, 2);
    tu_ok(ev_log_entry(f.d.log, 1, &entry));
    ev_leaf_hash(entry->bytes, entry->len, leaf);
    for (size_t i = 0; i < EV_HASH_BYTES; i++) {
        (void)snprintf(hex + 2 * i, 3, "%02x", leaf[i]);
    }
    (void)snprintf(expected, sizeof(expected),
                   "{\"entry\":%s,\"epoch\":%" PRIu32 ",\"index\":1,\"leaf_hash\":\"%s\"}",
                   entry->bytes, entry->epoch, hex);
    expect(&f, "GET", "/v1/entries/1", READER, NULL, 200, expected);
    ev_entry_free(entry);
    expect(&f, "GET", "/v1/entries/2", READER, NULL, 404,
           "{\"error\":\"no entry 2 (the log has 2 entries)\",\"status\":404}");
    expect(&f, "GET", "/v1/entries/99999999999999999999", READER, NULL, 404,
           "{\"error\":\"no such resource: expected an entry number\",\"status\":404}");
    expect(&f, "GET", "/v1/entries/+1", READER, NULL, 404,
           "{\"error\":\"no such resource: expected an entry number\",\"status\":404}");
    fx_stop(&f);
}

static void test_proofs(void **state)
{
    struct fx f;
    struct fx_options o = {0};
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES], old_root[EV_HASH_BYTES], new_root[EV_HASH_BYTES];
    struct ev_checkpoint cp;
    struct evd_response r;
    struct ev_entry *entry = NULL;
    char *note = NULL;
    size_t note_len, count;

    (void)state;
    fx_start(&f, &o);
    post_events(&f, 3);
    tu_ok(evd_commit_call(f.d.commit, checkpoint_on_committer, NULL));
    post_events(&f, 4);
    tu_ok(evd_commit_call(f.d.commit, checkpoint_on_committer, NULL));

    /* The latest checkpoint, exactly as the log has it. */
    tu_ok(ev_log_latest_checkpoint(f.d.log, &note, &note_len));
    assert_int_equal(request(&f, "GET", "/v1/checkpoint", NULL, NULL, &r), 200);
    assert_string_equal(r.body, note);
    assert_string_equal(r.content_type, "text/plain; charset=utf-8");
    evd_response_clear(&r);
    free(note);

    /* An inclusion proof an auditor verifies offline with the entry's bytes. */
    tu_ok(ev_log_entry(f.d.log, 5, &entry));
    assert_int_equal(request(&f, "GET", "/v1/proof/5", NULL, NULL, &r), 200);
    tu_ok(ev_tlog_proof_verify(r.body, r.body_len, entry->bytes, entry->len, f.verifier, &cp));
    assert_int_equal(cp.tree_size, 7);
    evd_response_clear(&r);
    /* Against the older checkpoint of 3 entries. */
    assert_int_equal(request(&f, "GET", "/v1/proof/5?size=3", NULL, NULL, &r), 404);
    assert_string_equal(
        r.body, "{\"error\":\"entry 5 is not in the checkpoint of size 3\",\"status\":404}");
    evd_response_clear(&r);
    ev_entry_free(entry);
    tu_ok(ev_log_entry(f.d.log, 2, &entry));
    assert_int_equal(request(&f, "GET", "/v1/proof/2?size=3", NULL, NULL, &r), 200);
    tu_ok(ev_tlog_proof_verify(r.body, r.body_len, entry->bytes, entry->len, f.verifier, &cp));
    assert_int_equal(cp.tree_size, 3);
    evd_response_clear(&r);
    ev_entry_free(entry);
    expect(&f, "GET", "/v1/proof/1?size=4", NULL, NULL, 404,
           "{\"error\":\"no signed checkpoint of size 4 (the latest covers 7 entries)\","
           "\"status\":404}");
    expect(&f, "GET", "/v1/proof/7", NULL, NULL, 404,
           "{\"error\":\"entry 7 is not in the checkpoint of size 7 (a newer checkpoint will "
           "cover it)\",\"status\":404}");
    expect(&f, "GET", "/v1/proof/1?size=x", NULL, NULL, 400,
           "{\"error\":\"size: expected a non-negative integer\",\"status\":400}");

    /* Consistency from 3 to 7 (the latest checkpoint), checked against the roots. */
    assert_int_equal(request(&f, "GET", "/v1/consistency?old=3", NULL, NULL, &r), 200);
    tu_ok(ev_proof_lines_parse(r.body, r.body_len, hashes, &count));
    tu_ok(ev_log_root(f.d.log, 3, old_root));
    tu_ok(ev_log_root(f.d.log, 7, new_root));
    tu_ok(ev_merkle_verify_consistency(3, 7, old_root, new_root,
                                       (const uint8_t(*)[EV_HASH_BYTES])hashes, count));
    evd_response_clear(&r);
    assert_int_equal(request(&f, "GET", "/v1/consistency?old=2&new=5", NULL, NULL, &r), 200);
    tu_ok(ev_proof_lines_parse(r.body, r.body_len, hashes, &count));
    tu_ok(ev_log_root(f.d.log, 2, old_root));
    tu_ok(ev_log_root(f.d.log, 5, new_root));
    tu_ok(ev_merkle_verify_consistency(2, 5, old_root, new_root,
                                       (const uint8_t(*)[EV_HASH_BYTES])hashes, count));
    evd_response_clear(&r);
    expect(&f, "GET", "/v1/consistency?old=7&new=7", NULL, NULL, 200, "");
    expect(&f, "GET", "/v1/consistency", NULL, NULL, 400,
           "{\"error\":\"old: required\",\"status\":400}");
    expect(&f, "GET", "/v1/consistency?old=0", NULL, NULL, 400,
           "{\"error\":\"old: expected 1 to new (7)\",\"status\":400}");
    expect(&f, "GET", "/v1/consistency?old=6&new=5", NULL, NULL, 400,
           "{\"error\":\"old: expected 1 to new (5)\",\"status\":400}");
    expect(&f, "GET", "/v1/consistency?old=1&new=8", NULL, NULL, 400,
           "{\"error\":\"new: the log has 7 entries\",\"status\":400}");
    expect(&f, "GET", "/v1/consistency?old=1x", NULL, NULL, 400,
           "{\"error\":\"old: expected a non-negative integer\",\"status\":400}");
    fx_stop(&f);
}

static void test_summary(void **state)
{
    struct fx f;
    struct fx_options o = {0};
    struct evd_response r;

    (void)state;
    fx_start(&f, &o);
    post_events(&f, 3);
    assert_int_equal(request(&f, "GET", "/v1/summary", READER, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"format\":\"evident-summary/v1\""));
    assert_true(r.body[0] == '{' && r.body[r.body_len - 1] == '}');
    assert_non_null(strstr(r.body, "\"events\":3,"));
    char *first = xstrdup(r.body);
    evd_response_clear(&r);
    /* The kept summary grows by what is new, and equals one built from the start. */
    post_events(&f, 2);
    assert_int_equal(request(&f, "GET", "/v1/summary", READER, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"events\":5,"));
    assert_string_not_equal(r.body, first);
    char *grown = xstrdup(r.body);
    evd_response_clear(&r);
    assert_non_null(f.d.summary);
    uint64_t built = f.d.summary_built;
    evd_summary_forget(&f.d);
    assert_int_equal(request(&f, "GET", "/v1/summary", READER, NULL, &r), 200);
    assert_string_equal(r.body, grown);
    assert_int_equal(f.d.summary_built, built + 1); /* built again after the forget */
    evd_response_clear(&r);
    free(first);
    free(grown);
    assert_int_equal(request(&f, "GET", "/v1/summary?since=2000-01-01T00:00:00Z", READER, NULL, &r),
                     200);
    evd_response_clear(&r);
    expect(&f, "GET", "/v1/summary?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", READER,
           NULL, 400, "{\"error\":\"until: must be later than since\",\"status\":400}");
    expect(&f, "GET", "/v1/summary?until=1", READER, NULL, 400,
           "{\"error\":\"until: expected a time such as 2026-11-27T09:00:00Z\",\"status\":400}");

    /* A window is scanned for each request, so it is bounded; the whole log's is kept. */
    f.d.summary_window_max = 4;
    expect(&f, "GET", "/v1/summary?since=2000-01-01T00:00:00Z", READER, NULL, 413,
           "{\"error\":\"the window holds more than 4 entries: narrow it, or ask without since "
           "and until for the whole log\",\"status\":413}");
    assert_int_equal(request(&f, "GET", "/v1/summary?until=2000-01-01T00:00:00Z", READER, NULL, &r),
                     200);
    evd_response_clear(&r);
    assert_int_equal(request(&f, "GET", "/v1/summary", READER, NULL, &r), 200);
    evd_response_clear(&r);

    /* While the whole log's summary is built, others are answered 503, not parked. */
    pthread_mutex_lock(&f.d.summary_lock);
    assert_int_equal(request(&f, "GET", "/v1/summary", READER, NULL, &r), 503);
    assert_string_equal(
        r.body, "{\"error\":\"the summary is being built: try again shortly\",\"status\":503}");
    assert_int_equal(r.retry_after, 1);
    evd_response_clear(&r);
    pthread_mutex_unlock(&f.d.summary_lock);
    fx_stop(&f);
}

static void test_health_and_metrics(void **state)
{
    struct fx f;
    struct fx_options o = {.metrics_listen = "127.0.0.1:0", .no_start_http = true};
    struct evd_response r;
    struct call c;

    (void)state;
    fx_start(&f, &o);
    post_events(&f, 2);
    expect(&f, "GET", "/healthz", NULL, NULL, 200,
           "{\"disk\":\"ok\",\"status\":\"ok\",\"tree_size\":2}");
    atomic_store(&f.d.ready, false);
    assert_int_equal(request(&f, "GET", "/healthz", NULL, NULL, &r), 503);
    assert_string_equal(r.body,
                        "{\"disk\":\"ok\",\"reason\":\"starting\",\"status\":\"unavailable\"}");
    assert_int_equal(r.retry_after, 1);
    evd_response_clear(&r);
    assert_int_equal(request(&f, "POST", "/v1/events", WRITER, "{\"type\":\"custom.a\"}", &r), 503);
    assert_string_equal(r.body,
                        "{\"error\":\"starting: not accepting events yet\",\"status\":503}");
    assert_int_equal(r.retry_after, 1);
    evd_response_clear(&r);
    atomic_store(&f.d.ready, true);

    /* With monitoring.metrics_listen, /metrics is served there only. */
    expect(&f, "GET", "/metrics", NULL, NULL, 404,
           "{\"error\":\"no such resource\",\"status\":404}");
    call_init(&c, "GET", "/metrics", NULL, NULL, NULL, 0);
    c.request.monitoring = true;
    assert_int_equal(call_run(&f, &c, &r), 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "\nevident_tree_size 2\n"));
    assert_non_null(strstr(r.body, "\nevident_healthy 1\n"));
    assert_non_null(strstr(r.body, "# TYPE "));
    evd_response_clear(&r);
    call_init(&c, "GET", "/v1/checkpoint", NULL, NULL, NULL, 0);
    c.request.monitoring = true;
    assert_int_equal(call_run(&f, &c, &r), 404);
    evd_response_clear(&r);
    call_init(&c, "GET", "/healthz", NULL, NULL, NULL, 0);
    c.request.monitoring = true;
    assert_int_equal(call_run(&f, &c, &r), 200);
    evd_response_clear(&r);

    /* Turned off in the configuration: gone. */
    f.d.config->monitoring.health = false;
    f.d.config->monitoring.metrics = false;
    expect(&f, "GET", "/healthz", NULL, NULL, 404,
           "{\"error\":\"no such resource\",\"status\":404}");
    call_init(&c, "GET", "/metrics", NULL, NULL, NULL, 0);
    c.request.monitoring = true;
    assert_int_equal(call_run(&f, &c, &r), 404);
    evd_response_clear(&r);
    fx_stop(&f);
}

static void test_query_parse(void **state)
{
    struct evd_query q;
    char many[200] = "";

    (void)state;
    assert_int_equal(evd_query_parse("a=1&b=x%20y+z&&c&a=2&d=%zz%4", 29, &q), 0);
    assert_string_equal(evd_query_get(&q, "a"), "1");
    assert_string_equal(evd_query_get(&q, "b"), "x y z");
    assert_string_equal(evd_query_get(&q, "c"), "");
    assert_string_equal(evd_query_get(&q, "d"), "%zz%4");
    assert_null(evd_query_get(&q, "e"));
    evd_query_free(&q);
    for (int i = 0; i < EVD_QUERY_MAX + 1; i++) {
        memcpy(many + 4 * i, "k=v&", 5);
    }
    assert_int_equal(evd_query_parse(many, strlen(many), &q), -E2BIG);
}

/* ---- over HTTP ------------------------------------------------------------ */

struct http_result {
    long status;
    char body[8192];
    size_t len;
    char headers[8192];
    size_t headers_len;
    long connects;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct http_result *res = ctx;
    size_t len = size * n, room = sizeof(res->body) - 1 - res->len;
    memcpy(res->body + res->len, data, len < room ? len : room);
    res->len += len < room ? len : room;
    res->body[res->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    struct http_result *res = ctx;
    size_t len = size * n, room = sizeof(res->headers) - 1 - res->headers_len;
    memcpy(res->headers + res->headers_len, data, len < room ? len : room);
    res->headers_len += len < room ? len : room;
    res->headers[res->headers_len] = '\0';
    return len;
}

/* A chunked body of this many bytes of spaces. */
struct chunked {
    size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    struct chunked *c = ctx;
    size_t len = size * n < c->left ? size * n : c->left;
    memset(buf, ' ', len);
    c->left -= len;
    return len;
}

static CURLcode http_do(CURL *curl, const char *method, const char *url, const char *auth,
                        const char *body, size_t body_len, struct chunked *chunked,
                        struct http_result *res)
{
    struct curl_slist *headers = NULL;
    char header[256];
    CURLcode rc;

    memset(res, 0, sizeof(*res));
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (auth != NULL) {
        (void)snprintf(header, sizeof(header), "Authorization: %s", auth);
        headers = curl_slist_append(headers, header);
    }
    if (chunked != NULL) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, chunked);
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        headers = curl_slist_append(headers, "Content-Type: application/json");
    } else if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        headers = curl_slist_append(headers, "Content-Type: application/json");
    }
    curl_easy_setopt(curl, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &res->connects);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return rc;
}

static long http(CURL *curl, const char *method, const char *url, const char *auth,
                 const char *body, struct http_result *res)
{
    CURLcode rc =
        http_do(curl, method, url, auth, body, body != NULL ? strlen(body) : 0, NULL, res);
    if (rc != CURLE_OK) {
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    }
    return res->status;
}

static void url(char *out, size_t size, const char *scheme, uint16_t port, const char *path)
{
    (void)snprintf(out, size, "%s://127.0.0.1:%u%s", scheme, (unsigned)port, path);
}

static void test_http(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0",
                           .metrics_listen = "127.0.0.1:0",
                           .max_request_bytes = 1 << 20,
                           .batch_max = 1,
                           .queue_max = 1};
    struct http_result res;
    struct blocker b;
    struct waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct evd_response r;
    struct call c;
    char target[256];
    uint16_t port, metrics_port;
    const char *event = "{\"type\":\"custom.a\",\"severity\":\"error\"}";
    CURL *curl;

    (void)state;
    fx_start(&f, &o);
    port = evd_http_port(f.d.http, 0);
    metrics_port = evd_http_port(f.d.http, 1);
    assert_true(port != 0 && metrics_port != 0 && port != metrics_port);
    assert_int_equal(evd_http_port(f.d.http, 2), 0);
    curl = curl_easy_init();
    assert_non_null(curl);

    /* A write waits for its commit (the connection is suspended), then a read on the same
     * connection (keep-alive). */
    url(target, sizeof(target), "http", port, "/v1/events");
    assert_int_equal(http(curl, "POST", target, WRITER, event, &res), 200);
    assert_string_equal(res.body, "{\"index\":0}");
    assert_non_null(strstr(res.headers, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(res.headers, "X-Content-Type-Options: nosniff\r\n"));
    url(target, sizeof(target), "http", port, "/v1/entries/0");
    assert_int_equal(http(curl, "GET", target, READER, NULL, &res), 200);
    assert_int_equal(res.connects, 0);
    assert_non_null(strstr(res.body, "\"source\":{\"peer\":\"127.0.0.1\",\"token\":"
                                     "\"sha256:2bb80d\",\"transport\":\"http\"}"));

    /* Auth and methods, with their headers. */
    url(target, sizeof(target), "http", port, "/v1/events");
    assert_int_equal(http(curl, "POST", target, NULL, event, &res), 401);
    assert_non_null(strstr(res.headers, "WWW-Authenticate: Bearer realm=\"evidentd\"\r\n"));
    assert_int_equal(http(curl, "POST", target, READER, event, &res), 403);
    assert_string_equal(res.body, "{\"error\":\"this token may not write\",\"status\":403}");
    assert_int_equal(http(curl, "DELETE", target, WRITER, NULL, &res), 405);
    assert_non_null(strstr(res.headers, "Allow: POST\r\n"));
    url(target, sizeof(target), "http", port, "/v1/checkpoint");
    assert_int_equal(http(curl, "HEAD", target, NULL, NULL, &res), 200);
    assert_string_equal(res.body, "");
    assert_non_null(strstr(res.headers, "Content-Type: text/plain; charset=utf-8\r\n"));

    /* Bodies over the limit: declared (answered before the body is sent) and chunked. */
    size_t big_len = 2u << 20;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, ' ', big_len);
    url(target, sizeof(target), "http", port, "/v1/events");
    assert_int_equal(http_do(curl, "POST", target, WRITER, big, big_len, NULL, &res), CURLE_OK);
    assert_int_equal(res.status, 413);
    assert_string_equal(res.body, "{\"error\":\"request body over 1048576 bytes "
                                  "(server.max_request_bytes)\",\"status\":413}");
    free(big);
    struct chunked chunked = {.left = (3u << 20) / 2};
    assert_int_equal(http_do(curl, "POST", target, WRITER, NULL, 0, &chunked, &res), CURLE_OK);
    assert_int_equal(res.status, 413);
    /* Still serving after both. */
    assert_int_equal(http(curl, "POST", target, WRITER, event, &res), 200);
    assert_string_equal(res.body, "{\"index\":1}");

    /* Overload: with the committer held, one write fills the queue; the next is refused. */
    blocker_start(&b, f.d.commit);
    call_init(&c, "POST", "/v1/events", WRITER, NULL, event, strlen(event));
    assert_int_equal(evd_api_handle(&f.d, &c.request, on_done, &w, &r), 0);
    assert_int_equal(http(curl, "POST", target, WRITER, event, &res), 503);
    assert_non_null(strstr(res.headers, "Retry-After: 1\r\n"));
    assert_string_equal(res.body, "{\"error\":\"queue full: try again later\",\"status\":503}");
    blocker_release(&b);
    pthread_mutex_lock(&w.lock);
    while (!w.done) {
        pthread_cond_wait(&w.cond, &w.lock);
    }
    pthread_mutex_unlock(&w.lock);
    evd_response_clear(&w.response);

    /* The monitoring listener serves /metrics and /healthz only. */
    url(target, sizeof(target), "http", metrics_port, "/metrics");
    assert_int_equal(http(curl, "GET", target, NULL, NULL, &res), 200);
    assert_non_null(strstr(res.headers, "Content-Type: text/plain; version=0.0.4"));
    url(target, sizeof(target), "http", metrics_port, "/healthz");
    assert_int_equal(http(curl, "GET", target, NULL, NULL, &res), 200);
    url(target, sizeof(target), "http", metrics_port, "/v1/entries");
    assert_int_equal(http(curl, "GET", target, READER, NULL, &res), 404);
    url(target, sizeof(target), "http", port, "/metrics");
    assert_int_equal(http(curl, "GET", target, NULL, NULL, &res), 404);

    curl_easy_cleanup(curl);
    fx_stop(&f);
}

struct client {
    char url[256];
    struct http_result res;
    CURLcode rc;
    pthread_t thread;
};

static void *client_post(void *arg)
{
    struct client *c = arg;
    static const char body[] = "{\"type\":\"custom.a\",\"severity\":0}";
    CURL *curl = curl_easy_init();
    c->rc = http_do(curl, "POST", c->url, WRITER, body, sizeof(body) - 1, NULL, &c->res);
    curl_easy_cleanup(curl);
    return NULL;
}

static void *stop_http(void *arg)
{
    evd_http_stop(arg);
    return NULL;
}

/* Stopping the server lets a write in flight finish and answers it. */
static void test_http_stop_answers_writes(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0", .batch_max = 1, .queue_max = 1};
    struct client client = {0};
    struct blocker b;
    pthread_t stopper;

    (void)state;
    fx_start(&f, &o);
    blocker_start(&b, f.d.commit);
    url(client.url, sizeof(client.url), "http", evd_http_port(f.d.http, 0), "/v1/events");
    assert_int_equal(pthread_create(&client.thread, NULL, client_post, &client), 0);
    while (evd_commit_depth(f.d.commit) == 0) {
        usleep(1000);
    }
    assert_int_equal(pthread_create(&stopper, NULL, stop_http, f.d.http), 0);
    f.d.http = NULL;
    blocker_release(&b);
    assert_int_equal(pthread_join(stopper, NULL), 0);
    assert_int_equal(pthread_join(client.thread, NULL), 0);
    assert_int_equal(client.rc, CURLE_OK);
    assert_int_equal(client.res.status, 200);
    assert_string_equal(client.res.body, "{\"index\":0}");
    fx_stop(&f);
}

/*
 * A write the committer does not answer within the stop's wait (10 s) gets 503, with
 * Retry-After like every 503, and its late answer is discarded.
 */
static void test_http_stop_abandons_write(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0", .batch_max = 1, .queue_max = 1};
    struct client client = {0};
    struct blocker b;

    (void)state;
    fx_start(&f, &o);
    blocker_start(&b, f.d.commit);
    url(client.url, sizeof(client.url), "http", evd_http_port(f.d.http, 0), "/v1/events");
    assert_int_equal(pthread_create(&client.thread, NULL, client_post, &client), 0);
    while (evd_commit_depth(f.d.commit) == 0) {
        usleep(1000);
    }
    evd_http_stop(f.d.http); /* the committer stays held: the write is abandoned */
    f.d.http = NULL;
    assert_int_equal(pthread_join(client.thread, NULL), 0);
    assert_int_equal(client.rc, CURLE_OK);
    assert_int_equal(client.res.status, 503);
    assert_string_equal(client.res.body, "{\"error\":\"stopping: the write may or may not be "
                                         "committed\",\"status\":503}");
    assert_non_null(strstr(client.res.headers, "Retry-After: 1\r\n"));
    blocker_release(&b);
    fx_stop(&f);
}

static int connect_local(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void test_http_stalled_client(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0", .request_timeout_ns = 1000000000ull};
    static const char half[] = "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                               "secret\r\nContent-Length: 100\r\n\r\n{\"type\":";
    struct http_result res;
    struct pollfd pfd;
    char target[256], buf[256];
    int fd, fd2;
    CURL *curl;

    (void)state;
    fx_start(&f, &o);
    /* Two clients stall: one in the body, one in the headers. */
    fd = connect_local(evd_http_port(f.d.http, 0));
    assert_int_equal(send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(half) - 1));
    fd2 = connect_local(evd_http_port(f.d.http, 0));
    assert_int_equal(send(fd2, "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);

    /* Others are served meanwhile. */
    curl = curl_easy_init();
    url(target, sizeof(target), "http", evd_http_port(f.d.http, 0), "/healthz");
    assert_int_equal(http(curl, "GET", target, NULL, NULL, &res), 200);
    url(target, sizeof(target), "http", evd_http_port(f.d.http, 0), "/v1/events");
    assert_int_equal(
        http(curl, "POST", target, WRITER, "{\"type\":\"custom.a\",\"severity\":1}", &res), 200);
    curl_easy_cleanup(curl);

    /* The stalled ones are dropped after request_timeout (not a timing assertion: the
     * bound is generous). */
    for (int i = 0; i < 2; i++) {
        pfd = (struct pollfd){.fd = i == 0 ? fd : fd2, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 30000), 1);
        assert_true(recv(pfd.fd, buf, sizeof(buf), 0) <= 0);
    }
    (void)close(fd);
    (void)close(fd2);
    assert_int_equal(ev_log_size(f.d.log), 1);
    fx_stop(&f);
}

/*
 * server.request_timeout bounds the whole request, not each pause: a body trickled in a
 * byte every 300 ms (never idle for the 1 s timeout) is dropped once the request is older
 * than the timeout, without an answer and without being written.
 */
static void test_http_request_deadline(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0", .request_timeout_ns = 1000000000ull};
    static const char headers[] = "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                  "secret\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 100\r\n\r\n";
    struct pollfd pfd;
    char buf[256];
    size_t sent;
    bool closed = false;
    int fd;

    (void)state;
    fx_start(&f, &o);
    fd = connect_local(evd_http_port(f.d.http, 0));
    assert_int_equal(send(fd, headers, sizeof(headers) - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof(headers) - 1));
    /* 40 bytes take at least 12 s, far past the timeout; the body (100 bytes) never ends. */
    for (sent = 0; sent < 40 && !closed; sent++) {
        pfd = (struct pollfd){.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 300) == 1) {
            /* Closed without an answer: not a byte to read. */
            assert_true(recv(fd, buf, sizeof(buf), 0) <= 0);
            closed = true;
        } else if (send(fd, " ", 1, MSG_NOSIGNAL) != 1) {
            closed = true;
        }
    }
    if (!closed) {
        fail_msg("a body trickled for %zu bytes (every 300 ms) was not dropped", sent);
    }
    (void)close(fd);
    assert_int_equal(ev_log_size(f.d.log), 0);
    fx_stop(&f);
}

/*
 * Sends text on a new connection and reads the answer until the server closes the
 * connection or sends nothing for 10 s. Returns the answer's length (out NUL-terminated);
 * *ret_closed says whether the server closed the connection.
 */
static size_t raw_exchange(uint16_t port, const char *text, char *out, size_t size,
                           bool *ret_closed)
{
    struct pollfd pfd;
    size_t len = 0;
    ssize_t n = 1;
    int fd = connect_local(port);

    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
    while (len < size - 1) {
        pfd = (struct pollfd){.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) != 1) {
            break;
        }
        n = recv(fd, out + len, size - 1 - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    out[len] = '\0';
    *ret_closed = n <= 0;
    (void)close(fd);
    return len;
}

/* Asserts that a raw answer has this status line, header and body, and nothing before. */
static void expect_raw(const char *answer, const char *status_line, const char *header,
                       const char *body)
{
    size_t n = strlen(answer), body_len = strlen(body);

    if (strncmp(answer, status_line, strlen(status_line)) != 0 ||
        (header != NULL && strstr(answer, header) == NULL) || n < body_len ||
        strcmp(answer + n - body_len, body) != 0) {
        fail_msg("expected %s ... %s ... %s, got:\n%s", status_line, header != NULL ? header : "",
                 body, answer);
    }
}

/*
 * Route, method and token are checked from the headers alone: a request the API refuses
 * is answered before any of its body is read (no 100 Continue), so nobody can make the
 * server hold a body it would refuse.
 */
static void test_http_refuses_before_body(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0"};
    static const char tail[] = "Host: x\r\nContent-Type: application/json\r\n"
                               "Content-Length: 1048575\r\nExpect: 100-continue\r\n\r\n";
    char text[512], answer[4096], *metrics = NULL;
    size_t metrics_len;
    uint16_t port;
    bool closed;

    (void)state;
    fx_start(&f, &o);
    port = evd_http_port(f.d.http, 0);

    (void)snprintf(text, sizeof(text), "POST /v1/events HTTP/1.1\r\n%s", tail);
    (void)raw_exchange(port, text, answer, sizeof(answer), &closed);
    expect_raw(answer, "HTTP/1.1 401 ", "WWW-Authenticate: Bearer realm=\"evidentd\"\r\n",
               "{\"error\":\"authorization required\",\"status\":401}");
    assert_true(closed);

    (void)snprintf(text, sizeof(text),
                   "POST /v1/events/custom.a HTTP/1.1\r\nAuthorization: %s\r\n%s", READER, tail);
    (void)raw_exchange(port, text, answer, sizeof(answer), &closed);
    expect_raw(answer, "HTTP/1.1 403 ", NULL,
               "{\"error\":\"this token may not write\",\"status\":403}");
    assert_true(closed);

    (void)snprintf(text, sizeof(text),
                   "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Expect: 100-continue\r\n\r\n");
    (void)raw_exchange(port, text, answer, sizeof(answer), &closed);
    expect_raw(answer, "HTTP/1.1 401 ", NULL,
               "{\"error\":\"authorization required\",\"status\":401}");
    assert_true(closed);

    (void)snprintf(text, sizeof(text), "POST /v1/nope HTTP/1.1\r\n%s", tail);
    (void)raw_exchange(port, text, answer, sizeof(answer), &closed);
    expect_raw(answer, "HTTP/1.1 404 ", NULL, "{\"error\":\"no such resource\",\"status\":404}");
    assert_true(closed);

    (void)snprintf(text, sizeof(text), "POST /healthz HTTP/1.1\r\n%s", tail);
    (void)raw_exchange(port, text, answer, sizeof(answer), &closed);
    expect_raw(answer, "HTTP/1.1 405 ", "Allow: GET, HEAD\r\n",
               "{\"error\":\"method not allowed: use GET\",\"status\":405}");
    assert_true(closed);

    /* Counted once each, as when the API refuses them. */
    tu_ok(evd_metrics_render(f.d.metrics, NULL, &metrics, &metrics_len));
    assert_non_null(
        strstr(metrics, "evident_rejected_total{source=\"http\",reason=\"unauthorized\"} 2\n"));
    assert_non_null(
        strstr(metrics, "evident_rejected_total{source=\"http\",reason=\"forbidden\"} 1\n"));
    free(metrics);

    /* A refused request without a body is answered as before, on a connection kept open. */
    CURL *curl = curl_easy_init();
    struct http_result res;
    assert_non_null(curl);
    url(text, sizeof(text), "http", port, "/v1/entries");
    assert_int_equal(http(curl, "GET", text, NULL, NULL, &res), 401);
    assert_int_equal(http(curl, "GET", text, NULL, NULL, &res), 401);
    assert_int_equal(res.connects, 0);
    curl_easy_cleanup(curl);

    /* A writer is told to go on, and its body is taken. */
    static const char event[] = "{\"type\":\"custom.a\",\"severity\":\"error\"}";
    int fd = connect_local(port);
    ssize_t n;
    (void)snprintf(text, sizeof(text),
                   "POST /v1/events HTTP/1.1\r\nAuthorization: %s\r\nHost: x\r\n"
                   "Connection: close\r\nContent-Length: %zu\r\nExpect: 100-continue\r\n\r\n",
                   WRITER, sizeof(event) - 1);
    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
    n = recv(fd, answer, sizeof(answer) - 1, 0);
    assert_true(n > 0);
    answer[n] = '\0';
    assert_string_equal(answer, "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(send(fd, event, sizeof(event) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(event) - 1);
    size_t len = 0;
    while (len < sizeof(answer) - 1 &&
           (n = recv(fd, answer + len, sizeof(answer) - 1 - len, 0)) > 0) {
        len += (size_t)n;
    }
    answer[len] = '\0';
    (void)close(fd);
    expect_raw(answer, "HTTP/1.1 200 ", NULL, "{\"index\":0}");
    fx_stop(&f);
}

/* Runs the openssl command line tool; 0 if it succeeded. */
static int run(char *const argv[])
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        (void)dup2(null, STDOUT_FILENO);
        (void)dup2(null, STDERR_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_http_tls(void **state)
{
    char root[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], target[256];
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0", .no_start_http = true};
    struct http_result res;
    struct evd_http *h = NULL;
    CURL *curl;

    (void)state;
    tu_tmpdir(root);
    tu_path(cert, root, "cert.pem");
    tu_path(key, root, "key.pem");
    char *argv[] = {"openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    key,
                    "-out",
                    cert,
                    "-days",
                    "1",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    NULL};
    if (run(argv) != 0) {
        tu_rm_rf(root);
        skip();
    }
    o.tls_cert = cert;
    o.tls_key = key;
    fx_start(&f, &o);

    /* A key others may read is refused. */
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(evd_http_start(&f.d, &h), EV_EKEYPERM);
    assert_non_null(strstr(ev_last_error(), "server.tls_key_file: '"));
    assert_non_null(strstr(ev_last_error(), "(mode 640): chmod 600 it"));
    assert_int_equal(chmod(key, 0600), 0);
    tu_ok(evd_http_start(&f.d, &f.d.http));

    curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_CAINFO, cert);
    url(target, sizeof(target), "https", evd_http_port(f.d.http, 0), "/v1/events");
    assert_int_equal(
        http(curl, "POST", target, WRITER, "{\"type\":\"custom.a\",\"severity\":2}", &res), 200);
    assert_string_equal(res.body, "{\"index\":0}");
    url(target, sizeof(target), "https", evd_http_port(f.d.http, 0), "/healthz");
    assert_int_equal(http(curl, "GET", target, NULL, NULL, &res), 200);
    assert_int_equal(res.connects, 0);
    /* Plain HTTP on the TLS port gets no answer. */
    url(target, sizeof(target), "http", evd_http_port(f.d.http, 0), "/healthz");
    assert_int_not_equal(http_do(curl, "GET", target, NULL, NULL, 0, NULL, &res), CURLE_OK);
    curl_easy_cleanup(curl);
    fx_stop(&f);
    tu_rm_rf(root);
}

static void test_http_config_errors(void **state)
{
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80",
                                      "[::1]80",   ":80",        "127.0.0.1:8x"};
    struct fx f;
    struct fx_options o = {.no_start_http = true};
    struct evd_http *h = NULL;

    (void)state;
    fx_start(&f, &o);
    f.d.config->server.http_listen_count = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f.d.config->server.http_listen[0] = (char *)bad[i];
        assert_int_equal(evd_http_start(&f.d, &h), EV_EFORMAT);
        assert_null(h);
        assert_non_null(strstr(ev_last_error(), "server.http_listen: '"));
    }
    /* One TLS file without the other. */
    f.d.config->server.http_listen[0] = (char *)"127.0.0.1:0";
    f.d.config->server.tls_cert_file = (char *)"/nonexistent";
    assert_int_equal(evd_http_start(&f.d, &h), EV_EFORMAT);
    assert_string_equal(ev_last_error(),
                        "server.tls_cert_file and server.tls_key_file go together");
    f.d.config->server.tls_key_file = (char *)"/nonexistent";
    assert_int_equal(evd_http_start(&f.d, &h), -ENOENT);
    f.d.config->server.tls_cert_file = NULL;
    f.d.config->server.tls_key_file = NULL;
    /* IPv6 loopback, when the machine has it. */
    f.d.config->server.http_listen[0] = (char *)"[::1]:0";
    if (evd_http_start(&f.d, &h) == 0) {
        assert_true(evd_http_port(h, 0) != 0);
        evd_http_stop(h);
    }
    f.d.config->server.http_listen_count = 0;
    f.d.config->server.http_listen[0] = NULL;
    fx_stop(&f);
}

/*
 * A GET (or HEAD) may carry a body, which no read route looks at: it is read
 * and counted against max_request_bytes but not held, or anyone could make the
 * server keep max_request_bytes per connection on a public route.
 */
static void test_http_get_body_not_held(void **state)
{
    struct fx f;
    struct fx_options o = {.listen = "127.0.0.1:0"};
    static const char head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n"
                               "Connection: close\r\n\r\n";
    char answer[4096];
    char *body = malloc(200000);
    int fd;

    (void)state;
    assert_non_null(body);
    memset(body, 'x', 200000);
    fx_start(&f, &o);
    fd = connect_local(evd_http_port(f.d.http, 0));
    assert_int_equal(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(head) - 1));
    for (size_t sent = 0; sent < 199999;) {
        ssize_t n = send(fd, body + sent, 199999 - sent, MSG_NOSIGNAL);
        assert_true(n > 0);
        sent += (size_t)n;
    }
    /* All but the last byte: a server holding the body would have most of it by now. */
    for (int i = 0; i < 100 && evd_http_body_bytes(f.d.http) == 0; i++) {
        usleep(20000);
    }
    assert_int_equal(evd_http_body_bytes(f.d.http), 0);
    assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), 1);
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, answer + got, sizeof(answer) - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    answer[got] = '\0';
    assert_true(strncmp(answer, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    free(body);

    /* A POST's body is held while it is read, and let go with the request. */
    CURL *curl = curl_easy_init();
    struct http_result res;
    char target[256];
    assert_non_null(curl);
    url(target, sizeof(target), "http", evd_http_port(f.d.http, 0), "/v1/events");
    assert_int_equal(
        http(curl, "POST", target, WRITER, "{\"type\":\"custom.a\",\"severity\":\"error\"}", &res),
        200);
    curl_easy_cleanup(curl);
    for (int i = 0; i < 100 && evd_http_body_bytes(f.d.http) != 0; i++) {
        usleep(20000); /* the request is freed once its answer is sent */
    }
    assert_int_equal(evd_http_body_bytes(f.d.http), 0);
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_write_single),
        cmocka_unit_test(test_write_array),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_write_scans_every_alignment),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_routes_and_auth),
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_proofs),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_health_and_metrics),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_http_stalled_client),
        cmocka_unit_test(test_http_request_deadline),
        cmocka_unit_test(test_http_refuses_before_body),
        cmocka_unit_test(test_http_get_body_not_held),
        cmocka_unit_test(test_http_stop_answers_writes),
        cmocka_unit_test(test_http_stop_abandons_write),
        cmocka_unit_test(test_http_tls),
        cmocka_unit_test(test_http_config_errors),
    };
    int r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
