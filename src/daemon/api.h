/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP API, apart from the HTTP server: a request in (method, path,
 * query, bearer token, body), a response out (status, JSON body, headers).
 * http.c adapts libmicrohttpd to this; the fuzzer and the unit tests call it
 * directly. Writes go through the commit queue and answer asynchronously.
 *
 * Routes (docs/DAEMON.md):
 *   POST /v1/events                 writer: one event object or an array
 *   POST /v1/events/TYPE            writer: the type from the path
 *   GET  /v1/checkpoint             anyone: the latest signed note (text/plain)
 *   GET  /v1/entries?from=&to=&type=&severity=&source=&since=&until=&limit=   reader
 *   GET  /v1/entries/N              reader
 *   GET  /v1/proof/N?size=          anyone: tlog-proof text (c2sp.org/tlog-proof)
 *   GET  /v1/consistency?old=&new=  anyone: hashes, one base64 per line
 *   GET  /v1/summary?since=&until=  reader
 *   GET  /healthz                   anyone: 200 ready, 503 not
 *   GET  /metrics                   anyone (bind it to loopback or a separate listener)
 * Errors are JSON: {"error":"what is wrong","status":N} (400 bad input, 401 no
 * or unknown token, 403 wrong role, 404, 405, 413 too large, 503 overloaded,
 * starting or stopping, 500 storage failure). Every 503 has Retry-After.
 */
#ifndef EVD_API_H
#define EVD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

struct evd_request {
    const char *method; /* "GET", "POST", ... ("HEAD" is answered as GET) */
    const char *path;   /* without the query */
    /* query parameter lookup: returns the decoded value or NULL */
    const char *(*query)(void *ctx, const char *key);
    void *query_ctx;
    const char *authorization; /* the Authorization header, or NULL */
    const char *content_type;  /* or NULL */
    const char *body;          /* POST: the whole body (NUL after it), or NULL */
    size_t body_len;
    char peer[64];   /* the client's address, "127.0.0.1" or "::1", for the entry's source */
    bool monitoring; /* came in on monitoring.metrics_listen: only /metrics and /healthz */
};

struct evd_response {
    int status;
    const char *content_type; /* static text */
    char *body;               /* owned (malloc), may be NULL */
    size_t body_len;
    unsigned retry_after;     /* seconds, 0: no Retry-After header (a 503 always has one) */
    const char *allow;        /* 405: the Allow header (static text), else NULL */
    const char *authenticate; /* 401: the WWW-Authenticate header (static text), else NULL */
};

struct evd_api_call;

/*
 * Called when an asynchronous request is answered (on the committer thread);
 * must not block. The response now belongs to the callee.
 */
typedef void (*evd_api_done_fn)(void *ctx, struct evd_response *response);

/*
 * Handles a request. Returns 1 with *ret_response filled (answered now), or 0
 * when the answer comes later through done(ctx, response), exactly once.
 * Never fails otherwise: every error is a response.
 */
int evd_api_handle(struct evd *d, const struct evd_request *request, evd_api_done_fn done,
                   void *ctx, struct evd_response *ret_response);

/*
 * What the request line and headers alone decide, before any body is read (http.c
 * calls it on a request's first callback, before 100 Continue): the route (404), the
 * method (405) and the token's role (401, 403), with the answers and reject counts of
 * evd_api_handle, which makes the same checks again. request->body and peer are not
 * looked at. Returns 1 with *ret_response filled when the request is refused, else 0
 * (*ret_response then holds no body).
 */
int evd_api_admit(struct evd *d, const struct evd_request *request,
                  struct evd_response *ret_response);

/* Frees the body of a response. */
void evd_response_clear(struct evd_response *response);

/*
 * A query string parsed for evd_request.query (tests, the fuzzer): "a=1&b=%20"
 * with %XX and '+' decoded; at most EVD_QUERY_MAX pairs (more: -E2BIG), the
 * first of a repeated key wins. evd_query_get is the lookup function.
 */
#define EVD_QUERY_MAX 32
struct evd_query {
    char *keys[EVD_QUERY_MAX];
    char *values[EVD_QUERY_MAX];
    size_t count;
    char *storage;
};
int evd_query_parse(const char *text, size_t len, struct evd_query *ret_query);
const char *evd_query_get(void *ctx, const char *key);
void evd_query_free(struct evd_query *query);

/* ---- between api.c and api-read.c ---------------------------------------- */

/* Largest body a read builds: a page of entries stops before it (and says next). */
#define EVD_API_PAGE_MAX_BYTES (8u << 20)
/* Entries one /v1/entries request looks at before it answers with what it has. */
#define EVD_API_SCAN_MAX 100000u
/*
 * GET /v1/summary with since or until: the most entries its window may hold
 * (each is parsed: about 16 us apiece, so some 4 s); more is 413. The whole
 * log's summary is kept and extended instead (api-read.c).
 */
#define EVD_API_SUMMARY_WINDOW_MAX 250000u
/* How long a /v1/summary request waits for the whole log's summary while another builds it. */
#define EVD_API_SUMMARY_WAIT_NS 200000000ll

/* A growing text; a failed allocation makes it failed, and the response a 500. */
struct evd_buf {
    char *data;
    size_t len, cap;
    bool failed;
};
void evd_buf_add(struct evd_buf *b, const char *text, size_t len);
void evd_buf_str(struct evd_buf *b, const char *text);
void evd_buf_printf(struct evd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal. */
void evd_buf_u64(struct evd_buf *b, uint64_t v);
/* text as a JSON string, quoted; control characters escaped. */
void evd_buf_json_string(struct evd_buf *b, const char *text, size_t len);

/* The Retry-After of a 503 whose builder set none before its body. */
#define EVD_API_RETRY_AFTER_S 1u

/* {"error":MESSAGE,"status":STATUS}; a 503 gets Retry-After (EVD_API_RETRY_AFTER_S unless
 * r->retry_after was set before). */
void evd_api_error(struct evd_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Moves b into the response (500 if b failed); a 503 gets Retry-After as above. */
void evd_api_reply(struct evd_response *r, int status, const char *content_type, struct evd_buf *b);
/* 500 "storage: ..." for a failed library call: the code's name and ev_last_error(). */
void evd_api_storage_error(struct evd_response *r, int code);

/* The GET routes (api-read.c); arg is the path's tail (N) or NULL. */
void evd_api_checkpoint(struct evd *d, const struct evd_request *q, const char *arg,
                        struct evd_response *r);
void evd_api_entries(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r);
void evd_api_entry(struct evd *d, const struct evd_request *q, const char *arg,
                   struct evd_response *r);
void evd_api_proof(struct evd *d, const struct evd_request *q, const char *arg,
                   struct evd_response *r);
void evd_api_consistency(struct evd *d, const struct evd_request *q, const char *arg,
                         struct evd_response *r);
void evd_api_summary(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r);

void evd_api_healthz(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r);
void evd_api_metrics(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r);

#endif
