/* SPDX-License-Identifier: Apache-2.0 */
/* Sockets from the configuration's addresses ("host:port", "[v6]:port", paths). */
#ifndef EVD_NET_H
#define EVD_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The most sockets one address gives (a name may resolve to several addresses). */
#define EVD_NET_MAX_FDS 8

/*
 * Bound, non-blocking, close-on-exec sockets for hostport (SOCK_STREAM:
 * listening, backlog 4096, SO_REUSEADDR), one for each address it resolves
 * to ("localhost" may be 127.0.0.1 and ::1; an empty host is 0.0.0.0 and ::,
 * the IPv6 one IPV6_V6ONLY), into ret_fds[0 .. max - 1]. An address of a
 * family the host cannot use (IPv6 disabled) is left out while another is
 * bound. Returns how many, or -errno with err saying what ("127.0.0.1:8425:
 * Address already in use") and none left open.
 */
int evd_net_listen(const char *hostport, int socktype, int *ret_fds, size_t max, char *err,
                   size_t err_size);

/*
 * A Unix socket at path with mode (a stale socket file is replaced):
 * SOCK_STREAM listening, or SOCK_DGRAM receiving with SO_PASSCRED.
 */
int evd_net_listen_unix(const char *path, unsigned mode, int socktype, char *err, size_t err_size);

/* "127.0.0.1:40312" or "[::1]:40312" for an address. */
void evd_net_format(const struct sockaddr *sa, socklen_t len, char *out, size_t size);

/* The port a bound socket got (for port 0 in tests). */
int evd_net_port(int fd);

#endif
