/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server: libmicrohttpd under the API of api.h.
 *
 * One MHD daemon per listening address (server.http_listen, each
 * "host:port" or "[v6]:port"; a host name binds every address it resolves
 * to), each with an internal epoll thread pool, plus one for
 * monitoring.metrics_listen, which serves only /metrics and /healthz and
 * never TLS. With server.tls_cert_file and tls_key_file set, the API
 * listeners speak only HTTPS; the key file must be mode 0600 or stricter.
 *
 * A request with a body that the API refuses from its headers alone (route,
 * method, token: evd_api_admit) is answered before any of its body is read,
 * and its connection closed: only requests the API would take have a body
 * held.
 *
 * Bounds: bodies over server.max_request_bytes are answered 413 as soon as
 * Content-Length or the bytes received pass it; connections idle or stalled
 * for server.request_timeout_ns are closed, and so is a connection whose
 * request body is not whole that long after its headers, however steadily
 * it trickles (no answer: MHD cannot answer mid-upload); at most
 * server.max_connections are open across all listeners (more are refused
 * at accept). Headers are bounded by libmicrohttpd's connection memory
 * (32 KiB) and the idle timeout only.
 *
 * A write waits for its commit without holding a thread: the connection is
 * suspended until the committer answers (api.h). Listeners are bound at
 * start; a reload does not change them.
 */
#ifndef EVD_HTTP_H
#define EVD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

struct evd_http;

/*
 * Binds every listener of d->config and starts serving (d->log, d->commit,
 * d->auth ... must stay valid until evd_http_stop). Nothing configured gives
 * a server with no listener. Returns 0; EV_EFORMAT for a malformed address
 * or only one of the TLS files; EV_EKEYPERM for a key file readable by
 * others; -errno when a file cannot be read or an address cannot be bound
 * (-EADDRINUSE, -EACCES, ...); ev_last_error() names the address or file.
 */
int evd_http_start(struct evd *d, struct evd_http **ret_http);

/*
 * evd_http_start() in two steps, for a daemon started as root: bind the
 * listeners and read the TLS files (before privileges are dropped), then
 * serve them (once the log is open and verified). After a failure of either,
 * evd_http_stop() closes what there is.
 */
int evd_http_bind(struct evd *d, struct evd_http **ret_http);
int evd_http_run(struct evd_http *h);

/*
 * The port of the i-th bound socket (in the order of server.http_listen, a
 * name's addresses in resolver order, the monitoring listener last), for
 * listeners configured with port 0; 0 when there is no such socket.
 */
uint16_t evd_http_port(const struct evd_http *h, size_t i);

/* Tests: bytes of request bodies held now, over all connections. */
uint64_t evd_http_body_bytes(struct evd_http *h);

/*
 * Stops accepting, waits (up to 10 s) for the writes in flight to be
 * answered, closes every connection and frees. Call it before
 * evd_commit_stop(): the committer answers the waiting writes. A write still
 * unanswered after the wait gets 503 (sent before the connections are closed,
 * for up to 1 s more) and its late answer is discarded.
 * Accepts NULL.
 */
void evd_http_stop(struct evd_http *h);

#endif
