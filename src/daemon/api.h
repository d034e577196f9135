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
 * or unknown token, 403 wrong role, 404, 405, 413 too large, 503 overloaded
 * with Retry-After, 500 storage failure).
 */
#ifndef EVD_API_H
#define EVD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

struct evd_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query */
    /* query parameter lookup: returns the decoded value or NULL */
    const char *(*query)(void *ctx, const char *key);
    void *query_ctx;
    const char *authorization; /* the Authorization header, or NULL */
    const char *content_type;  /* or NULL */
    const char *body;          /* POST: the whole body (NUL after it), or NULL */
    size_t body_len;
    char peer[64]; /* "127.0.0.1:40312", for the entry's source */
};

struct evd_response {
    int status;
    const char *content_type; /* static text */
    char *body;               /* owned (malloc), may be NULL */
    size_t body_len;
    unsigned retry_after; /* seconds, 0: no Retry-After header */
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

/* Frees the body of a response. */
void evd_response_clear(struct evd_response *response);

#endif
