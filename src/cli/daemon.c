/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Appending through a running evidentd. While the daemon holds the log's
 * writer lock, `evident append` and `evident event` hand their events to its
 * Unix socket (JSON Lines in, one reply line per event once durable) instead
 * of failing on the lock; the output is the same as a local append: one index
 * per appended event on stdout, "line N: why" on stderr for refused lines.
 *
 * The socket is $EVIDENT_SOCKET, else the configuration's server.unix_socket
 * when a configuration is given. Only a socket that accepts a connection is
 * used; otherwise the command opens the log itself.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include <evident/config.h>

#include "cli.h"

#define REPLY_MAX (64 * 1024)

int cli_daemon_connect(const struct cli *cli)
{
    const char *path = getenv(CLI_SOCKET_ENV);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if ((path == NULL || path[0] == '\0') && cli->config != NULL && cli->config_path != NULL) {
        path = cli->config->server.unix_socket;
    }
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One reply line: prints the index, or reports the error. */
static void take_reply(const char *line, struct cli_daemon_result *res)
{
    json_error_t jerr;
    json_t *reply = json_loads(line, 0, &jerr), *v;

    if (reply != NULL && (v = json_object_get(reply, "index")) != NULL && json_is_integer(v)) {
        (void)printf("%lld\n", (long long)json_integer_value(v));
        res->appended++;
    } else if (reply != NULL && json_is_true(json_object_get(reply, "dropped"))) {
        res->dropped++;
    } else if (reply != NULL && (v = json_object_get(reply, "error")) != NULL &&
               json_is_string(v)) {
        json_t *at = json_object_get(reply, "line");
        cli_error("line %lld: %s", json_is_integer(at) ? (long long)json_integer_value(at) : 0LL,
                  json_string_value(v));
        res->rejected++;
    } else {
        cli_error("evidentd sent a reply that is not understood");
        res->rejected++;
    }
    json_decref(reply);
}

int cli_daemon_send(int fd, int in_fd, const char *text, size_t len,
                    struct cli_daemon_result *ret_result)
{
    char *reply = malloc(REPLY_MAX + 1), *buf = malloc(65536);
    const char *pending = text; /* bytes to send: text, or what was read into buf */
    size_t pending_len = text != NULL ? len : 0, reply_len = 0;
    bool input_done = text != NULL, shut = false;
    uint64_t lines_sent = 0, replies = 0;
    int r = 0;

    memset(ret_result, 0, sizeof(*ret_result));
    if (reply == NULL || buf == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (text != NULL) {
        for (size_t i = 0; i < len; i++) {
            lines_sent += text[i] == '\n';
        }
    }
    /*
     * Pipelined and never blocked on a send: replies are read whenever they
     * come, so the daemon (which stops reading a client that does not read
     * its replies) and we never wait on each other.
     */
    while (!shut || replies < lines_sent) {
        if (!shut && pending_len == 0 && input_done) {
            (void)shutdown(fd, SHUT_WR);
            shut = true;
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = -errno;
            break;
        }
        if ((p.revents & POLLOUT) && !shut) {
            if (pending_len == 0) {
                ssize_t got = read(in_fd, buf, 65536);
                if (got < 0 && errno == EINTR) {
                    continue;
                }
                if (got <= 0) {
                    input_done = true;
                    r = got < 0 ? -errno : 0;
                    if (r < 0) {
                        break;
                    }
                    continue;
                }
                pending = buf;
                pending_len = (size_t)got;
                for (ssize_t i = 0; i < got; i++) {
                    lines_sent += buf[i] == '\n';
                }
            }
            ssize_t w = send(fd, pending, pending_len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                r = -errno;
                break;
            }
            if (w > 0) {
                pending += w;
                pending_len -= (size_t)w;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = recv(fd, reply + reply_len, REPLY_MAX - reply_len, 0);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) {
                    continue;
                }
                r = got < 0 ? -errno : -ECONNRESET;
                break;
            }
            reply_len += (size_t)got;
            char *nl;
            while ((nl = memchr(reply, '\n', reply_len)) != NULL) {
                *nl = '\0';
                take_reply(reply, ret_result);
                replies++;
                size_t used = (size_t)(nl - reply) + 1;
                memmove(reply, reply + used, reply_len - used);
                reply_len -= used;
            }
            if (reply_len == REPLY_MAX) {
                r = -EPROTO;
                break;
            }
        }
    }
    ret_result->unanswered = lines_sent > replies ? lines_sent - replies : 0;
out:
    free(reply);
    free(buf);
    return r;
}

int cli_daemon_event_line(const struct ev_event *event, char **ret_line, size_t *ret_len)
{
    json_t *obj = json_object(), *v;
    json_error_t jerr;
    int r = -ENOMEM;

    *ret_line = NULL;
    if (obj == NULL || json_object_set_new(obj, "type", json_string(event->type)) < 0) {
        goto out;
    }
    if (event->severity >= 0 &&
        json_object_set_new(obj, "severity", json_integer(event->severity)) < 0) {
        goto out;
    }
    const char *members[2] = {"source", "data"};
    const char *texts[2] = {event->source_json, event->data_json};
    for (int i = 0; i < 2; i++) {
        if (texts[i] == NULL) {
            continue;
        }
        if ((v = json_loads(texts[i], JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
            cli_error("--%s: not JSON: %s", members[i], jerr.text);
            r = -EINVAL;
            goto out;
        }
        if (json_object_set_new(obj, members[i], v) < 0) {
            goto out;
        }
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    if (text != NULL) {
        size_t len = strlen(text);
        char *line = realloc(text, len + 2);
        if (line != NULL) {
            line[len] = '\n';
            line[len + 1] = '\0';
            *ret_line = line;
            *ret_len = len + 1;
            r = 0;
        } else {
            free(text);
        }
    }
out:
    json_decref(obj);
    return r;
}
