/* SPDX-License-Identifier: Apache-2.0 */
/* Sockets from the configuration's addresses (net.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

static int fail(char *err, size_t err_size, const char *what, int e)
{
    (void)snprintf(err, err_size, "%s: %s", what, strerror(e));
    return -e;
}

/* One bound socket for ai: the fd, or -errno. */
static int bind_address(const struct addrinfo *ai, int socktype)
{
    int fd, one = 1, r;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) {
        /* [::]:514 and 0.0.0.0:514 are both bound. */
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        (socktype == SOCK_STREAM && listen(fd, 4096) < 0)) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* An address of a family this host cannot use: skipped while another is bound. */
static bool unusable_family(int r)
{
    return r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL;
}

int evd_net_listen(const char *hostport, int socktype, int *ret_fds, size_t max, char *err,
                   size_t err_size)
{
    char host[256];
    const char *colon = strrchr(hostport, ':'), *h = hostport;
    size_t hlen, count = 0;
    struct addrinfo hints = {.ai_socktype = socktype, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int r, skipped = 0;

    if (colon == NULL) {
        return fail(err, err_size, hostport, EINVAL);
    }
    hlen = (size_t)(colon - hostport);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host)) {
        return fail(err, err_size, hostport, ENAMETOOLONG);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    r = getaddrinfo(hlen > 0 ? host : NULL, colon + 1, &hints, &res);
    if (r != 0) {
        (void)snprintf(err, err_size, "%s: %s", hostport, gai_strerror(r));
        return -EADDRNOTAVAIL;
    }
    r = 0;
    for (const struct addrinfo *ai = res; ai != NULL && r == 0; ai = ai->ai_next) {
        bool seen = false;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }
        for (const struct addrinfo *p = res; p != ai && !seen; p = p->ai_next) {
            seen = p->ai_addrlen == ai->ai_addrlen &&
                   memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0;
        }
        if (seen) {
            continue; /* listed twice (/etc/hosts): bound once */
        }
        if (count == max) {
            r = fail(err, err_size, hostport, E2BIG);
            break;
        }
        int fd = bind_address(ai, socktype);
        if (fd >= 0) {
            ret_fds[count++] = fd;
        } else if (unusable_family(fd)) {
            skipped = fd;
        } else {
            r = fail(err, err_size, hostport, -fd);
        }
    }
    freeaddrinfo(res);
    if (r == 0 && count == 0) {
        r = fail(err, err_size, hostport, skipped != 0 ? -skipped : EADDRNOTAVAIL);
    }
    if (r < 0) {
        while (count > 0) {
            close(ret_fds[--count]);
        }
        return r;
    }
    return (int)count;
}

int evd_net_listen_unix(const char *path, unsigned mode, int socktype, char *err, size_t err_size)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, r;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        return fail(err, err_size, path, ENAMETOOLONG);
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    /* Replace a stale socket (another evidentd would hold the log's lock first). */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return fail(err, err_size, path, EEXIST);
        }
        (void)unlink(path);
    }
    fd = socket(AF_UNIX, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return fail(err, err_size, path, errno);
    }
    if (socktype == SOCK_DGRAM) {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    }
    /*
     * The socket file gets the process umask's mode, then exactly mode. No
     * umask change here: it is process-wide and other threads create files.
     * Connecting needs write permission, which umask 022 (and the unit's
     * 0077) already withholds from others until chmod.
     */
    r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    int e = errno;
    if (r < 0 || chmod(path, mode) < 0 || (socktype == SOCK_STREAM && listen(fd, 4096) < 0)) {
        r = fail(err, err_size, path, r < 0 ? e : errno);
        close(fd);
        return r;
    }
    return fd;
}

void evd_net_format(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";

    (void)len;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        (void)snprintf(out, size, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        (void)snprintf(out, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        (void)snprintf(out, size, "unix");
    }
}

int evd_net_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -errno;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return -EAFNOSUPPORT;
}
