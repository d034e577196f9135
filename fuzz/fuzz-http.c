/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: evidentd's HTTP API (src/daemon/api.c, api-read.c) behind
 * evd_api_handle(), against a real log with a real commit queue, as a hostile
 * client would call it (no HTTP parsing: that is libmicrohttpd's).
 *
 * Input:
 *
 *     byte 0    method: GET, POST, HEAD, PUT, DELETE (modulo 5)
 *     byte 1    Authorization: none, the writer's, the reader's, or from the input (mod 4)
 *     byte 2    Content-Type: none, application/json, text/plain, or from the input (mod 4)
 *     byte 3    bit 0: came in on the monitoring listener
 *     then      lines: the path, the query string, [the Authorization value], [the
 *               Content-Type value], and the body (the rest, newlines included)
 *
 * Invariants beyond "no crash" (a violation is __builtin_trap(), a crash to libFuzzer):
 *  - every request is answered exactly once, with a status of 200, 400, 401, 403, 404,
 *    405, 413, 415, 500 or 503 and a body whose length is body_len;
 *  - a JSON answer is one object: it starts with '{' and ends with '}'; an error is
 *    {"error":...,"status":N} with N the status;
 *  - 401 comes with WWW-Authenticate, 405 with Allow, 503 with Retry-After, and a 200
 *    to a write never comes for a request without the writer's token;
 *  - evd_api_admit() (the headers-only check http.c makes before a body) refuses exactly
 *    what evd_api_handle() refuses for route, method and token, with the same status,
 *    and leaves the response empty when it admits;
 *  - the tokens' text never appears in an error unless the input has it (errors may
 *    quote the input; entries hold what earlier inputs wrote).
 *
 * The log lives in a temporary directory made at start (removed at exit); writes grow
 * it, with sync: never. Seed corpus: fuzz/corpus/http/.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/policy.h>

#include "api.h"
#include "auth.h"
#include "commit.h"
#include "metrics.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "fuzz-writer-token" and "fuzz-reader-token" */
#define WRITER_TOKEN "fuzz-writer-token"
#define READER_TOKEN "fuzz-reader-token"

static struct evd daemon_state;
static char root[64];

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    struct evd *d = &daemon_state;

    evd_commit_stop(d->commit);
    (void)ev_log_close(d->log);
    (void)nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, int r)
{
    fprintf(stderr, "fuzz-http: %s: %s: %s\n", what, ev_strerror(r), ev_last_error());
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct evd *d = &daemon_state;
    struct ev_create_options create = {.origin = "fuzz.example/log"};
    struct ev_open_options open_options = {.sync = EV_SYNC_NEVER};
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char dir[128], hash[72];
    struct ev_config *c = NULL;
    int r;

    (void)argc;
    (void)argv;
    (void)snprintf(root, sizeof(root), "/tmp/evident-fuzz-http-XXXXXX");
    if (mkdtemp(root) == NULL) {
        die("mkdtemp", -errno);
    }
    (void)snprintf(dir, sizeof(dir), "%s/log", root);
    if ((r = ev_log_create(dir, &create, v)) < 0 ||
        (r = ev_log_open(dir, &open_options, &d->log))) {
        die("log", r);
    }
    if ((r = ev_config_defaults(&c)) < 0) {
        die("config", r);
    }
    free(c->log.dir);
    c->log.dir = strdup(dir);
    evd_auth_hash_token(WRITER_TOKEN, hash);
    c->server.writer_tokens[c->server.writer_token_count++] = strdup(hash);
    evd_auth_hash_token(READER_TOKEN, hash);
    c->server.reader_tokens[c->server.reader_token_count++] = strdup(hash);
    c->performance.batch_max = 16;
    c->server.max_request_bytes = 8192;
    d->config = c;
    (void)pthread_rwlock_init(&d->config_lock, NULL);
    if ((r = ev_policy_new(c, &d->policy)) < 0 || (r = evd_auth_new(c, &d->auth)) < 0 ||
        (r = evd_metrics_new(&d->metrics)) < 0) {
        die("daemon parts", r);
    }
    struct evd_commit_options co = {
        .sync = EV_SYNC_NEVER,
        .batch_max = 16,
        .queue_max = 64,
        .metrics = d->metrics,
    };
    if ((r = evd_commit_start(d->log, &co, &d->commit)) < 0) {
        die("commit", r);
    }
    /* A few entries and a checkpoint, so reads and proofs have something to serve. */
    for (int i = 0; i < 8; i++) {
        struct ev_event e = {.type = "custom.seed", .severity = i % 8, .data_json = "{\"n\":1}"};
        if ((r = ev_log_append(d->log, &e, NULL)) < 0) {
            die("seed", r);
        }
    }
    if ((r = ev_log_checkpoint(d->log)) < 0) {
        die("checkpoint", r);
    }
    d->started_ns = evd_wall_ns();
    atomic_store(&d->ready, true);
    (void)atexit(cleanup);
    return 0;
}

struct answer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    struct evd_response response;
};

static void on_done(void *ctx, struct evd_response *response)
{
    struct answer *a = ctx;
    pthread_mutex_lock(&a->lock);
    a->calls++;
    a->response = *response;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

/* The next line of the input as a NUL-terminated copy in out (cut to size - 1 bytes). */
static void take_line(const uint8_t **p, const uint8_t *end, char *out, size_t size)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t len = (size_t)((nl != NULL ? nl : end) - *p);
    size_t n = len < size - 1 ? len : size - 1;

    memcpy(out, *p, n);
    out[n] = '\0';
    *p = nl != NULL ? nl + 1 : end;
}

static bool is_status(int s)
{
    static const int valid[] = {200, 400, 401, 403, 404, 405, 413, 415, 500, 503};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (s == valid[i]) {
            return true;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE"};
    struct answer a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct evd_request q = {0};
    struct evd_response r = {0};
    struct evd_query query = {0};
    char path[512], query_text[512], auth_text[256], type_text[128];
    const uint8_t *p = data + 4, *end = data + size;
    char *body;

    if (size < 4) {
        return 0;
    }
    take_line(&p, end, path, sizeof(path));
    take_line(&p, end, query_text, sizeof(query_text));
    auth_text[0] = type_text[0] = '\0';
    if (data[1] % 4 == 3) {
        take_line(&p, end, auth_text, sizeof(auth_text));
    }
    if (data[2] % 4 == 3) {
        take_line(&p, end, type_text, sizeof(type_text));
    }
    body = malloc((size_t)(end - p) + 1);
    if (body == NULL) {
        return 0;
    }
    memcpy(body, p, (size_t)(end - p));
    body[end - p] = '\0';
    if (evd_query_parse(query_text, strlen(query_text), &query) < 0) {
        free(body);
        return 0;
    }

    q.method = methods[data[0] % 5];
    q.path = path;
    q.query = evd_query_get;
    q.query_ctx = &query;
    switch (data[1] % 4) {
    case 0: q.authorization = NULL; break;
    case 1: q.authorization = "Bearer " WRITER_TOKEN; break;
    case 2: q.authorization = "Bearer " READER_TOKEN; break;
    default: q.authorization = auth_text;
    }
    switch (data[2] % 4) {
    case 0: q.content_type = NULL; break;
    case 1: q.content_type = "application/json"; break;
    case 2: q.content_type = "text/plain"; break;
    default: q.content_type = type_text;
    }
    q.body = body;
    q.body_len = (size_t)(end - p);
    q.monitoring = (data[3] & 1) != 0;
    (void)snprintf(q.peer, sizeof(q.peer), "203.0.113.9");

    struct evd_response admitted = {0};
    int refused = evd_api_admit(&daemon_state, &q, &admitted);
    check(refused == 1 ? admitted.body != NULL : admitted.status == 0 && admitted.body == NULL);

    if (evd_api_handle(&daemon_state, &q, on_done, &a, &r) == 0) {
        pthread_mutex_lock(&a.lock);
        while (a.calls == 0) {
            pthread_cond_wait(&a.cond, &a.lock);
        }
        pthread_mutex_unlock(&a.lock);
        r = a.response;
    }

    check(is_status(r.status));
    check(r.body != NULL && strlen(r.body) == r.body_len);
    check(r.status != 401 || r.authenticate != NULL);
    check(r.status != 405 || r.allow != NULL);
    check(r.status != 503 || r.retry_after > 0);
    check(refused == 0 || r.status == admitted.status);
    check(refused == 1 || (r.status != 401 && r.status != 405)); /* only route and token */
    evd_response_clear(&admitted);
    if (r.status == 200 && strcmp(q.method, "POST") == 0) {
        check(q.authorization != NULL && strstr(q.authorization, WRITER_TOKEN) != NULL);
    }
    /* Errors may quote the input, and entries hold what earlier inputs wrote. */
    if (r.status != 200 && memmem(data, size, "-token", 6) == NULL) {
        check(strstr(r.body, WRITER_TOKEN) == NULL && strstr(r.body, READER_TOKEN) == NULL);
    }
    if (r.content_type != NULL && strcmp(r.content_type, "application/json") == 0) {
        check(r.body_len >= 2 && r.body[0] == '{' && r.body[r.body_len - 1] == '}');
        if (r.status != 200) {
            char tail[32];
            (void)snprintf(tail, sizeof(tail), ",\"status\":%d}", r.status);
            check(strncmp(r.body, "{\"error\":", 9) == 0 ||
                  strncmp(r.body, "{\"reason\":", 10) == 0);
            check(strncmp(r.body, "{\"reason\":", 10) == 0 ||
                  (r.body_len > strlen(tail) &&
                   strcmp(r.body + r.body_len - strlen(tail), tail) == 0));
        }
    }
    /* Only a single call: a second one would have been counted. */
    check(a.calls <= 1);
    evd_response_clear(&r);
    evd_query_free(&query);
    free(body);
    return 0;
}
