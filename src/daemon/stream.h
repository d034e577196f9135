/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream intake: epoll loops (performance.stream_threads) serve the Unix
 * socket (JSON Lines, a reply line per event once durable), syslog over TCP
 * (RFC 6587 framing) and syslog over UDP. Loop 0 accepts and hands each
 * connection to the loop with the fewest, which serves it from then on;
 * datagrams are read on loop 0. Parsing and policy run on the loops; appends
 * go to the commit queue, whose answers come back through each loop's eventfd.
 *
 * Pushback: when the commit queue is full a connection stops being read (TCP
 * and the Unix socket hold the sender back; nothing is lost) until the queue
 * drains; a UDP datagram that finds the queue full is dropped and counted.
 * Each connection's memory is bounded: its read buffer by max_request_bytes,
 * its unsent replies by a fixed cap past which it is not read either.
 */
#ifndef EVD_STREAM_H
#define EVD_STREAM_H

#include "daemon.h"

struct evd_stream;

/* Binds the configured listeners (before privileges are dropped). 0 or -errno with a message. */
int evd_stream_bind(struct evd *d, struct evd_stream **ret_stream, char *err, size_t err_size);

/* Starts the loop thread. */
int evd_stream_run(struct evd_stream *s);

/* Connections open now. */
size_t evd_stream_connections(struct evd_stream *s);

/* Connections each loop serves now, into ret_counts[0 .. max - 1]; returns the loop count (0 for
 * NULL). */
size_t evd_stream_loop_connections(struct evd_stream *s, uint64_t *ret_counts, size_t max);

/*
 * Tests: how many times epoll reported a hang-up (EPOLLHUP, EPOLLERR) of a
 * connection that was held (not being read), over all loops. A held
 * connection is reported once, then not watched until it may be read again.
 */
uint64_t evd_stream_held_wakeups(struct evd_stream *s);

/*
 * Stops accepting and reading, waits for the answers of everything already
 * submitted and sends them, closes every connection, joins the thread, frees.
 * The Unix socket file is removed.
 */
void evd_stream_stop(struct evd_stream *s);

#endif
