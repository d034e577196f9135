/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream intake (stream.h): the epoll loops of the Unix socket and syslog.
 *
 * Each loop owns its connections: only its thread reads, parses, queues and
 * answers them. Loop 0 also accepts (conn_hand() gives each new connection to
 * the loop with the fewest) and reads datagrams. Another thread reaches a loop
 * only through its wake_lock and eventfd: the committer's answers
 * (done_chunk()) and loop 0's handed connections.
 *
 * A connection's bytes are cut into lines (Unix: JSON Lines) or frames
 * (syslog TCP). All the complete ones read in one go become one chunk: their
 * events are prepared here and queued as one submission; lines that are
 * malformed or dropped by the policy get their answer at once but keep their
 * place, so a Unix client reads one reply line per line sent, in order:
 *
 *     {"index":41}
 *     {"error":"data.exit_code: expected an integer","line":2}
 *     {"dropped":true}
 *
 * The committer answers a chunk through done_chunk() on its own thread, which
 * hands it back to the loop through a list and an eventfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <evident/error.h>
#include <evident/syslog.h>

#include "auth.h"
#include "commit.h"
#include "disk.h"
#include "intake.h"
#include "metrics.h"
#include "net.h"
#include "stream.h"

#define READ_BYTES 65536
#define MAX_UNSENT (1u << 20) /* replies not yet read by the client: stop reading past this */
/*
 * Chunks of one connection not yet replied to (each at most MAX_ITEMS lines):
 * stop reading past this. Lines refused at once wait in their chunk behind an
 * earlier one still being committed, and must not pile up meanwhile.
 */
#define MAX_CHUNKS 8
#define MAX_ITEMS 4096     /* lines or frames per chunk */
#define STOP_FLUSH_MS 2000 /* at stop, how long replies may wait for slow readers, in all */
#define UDP_BATCH 64
/*
 * A chunk's arrays start this small and double as items come (a read of 64 KiB
 * holds about 350 syslog messages): sizing them for the worst case (one item
 * per two bytes) cleared 600 KiB per read.
 */
#define CHUNK_FIRST_ITEMS 64
#define SPARE_CHUNKS 16      /* answered chunks the loop keeps for reuse */
#define SPARE_ITEMS_MAX 1024 /* a chunk with larger arrays is freed, not kept */
#define RETRY_MS 20
#define ACCEPT_PAUSE_NS 100000000 /* out of descriptors: accept again after 100 ms */
#define STREAM_THREADS_AUTO_MAX 4 /* stream_threads 0: one loop per CPU but one, 1 to 4 */

enum conn_kind { CONN_UNIX = 1, CONN_SYSLOG_TCP };

/* What became of one line (Unix connections). */
struct line_result {
    int kind;       /* RESULT_* */
    uint64_t line;  /* of the connection, from 1 (blank lines count) */
    unsigned event; /* RESULT_EVENT: position in the chunk's events */
    char *error;    /* RESULT_ERROR */
};
enum { RESULT_EVENT = 1, RESULT_ERROR, RESULT_DROPPED };

struct conn;

struct chunk {
    struct evd_submission submission;
    struct stream_loop *loop; /* whose connection (or datagrams) it holds */
    struct conn *conn;
    struct ev_prepared *events;
    char **sources; /* owned claimed sources, per event (NULL mostly) */
    size_t event_count;
    struct line_result *lines; /* Unix: one per line */
    size_t line_count;
    size_t cap; /* items each of the three arrays holds */
    bool done;
    int rc;
    uint64_t first;
    struct chunk *next;      /* the connection's chunks, oldest first */
    struct chunk *next_done; /* the loop's answered list */
};

struct conn {
    int fd;
    enum conn_kind kind;
    enum evd_source source_kind;
    char source[640]; /* the entry's source: what the transport vouches for */
    char *in;
    size_t in_len, in_cap;
    bool discarding; /* skipping the rest of an oversized line */
    uint64_t skip;   /* bytes of an oversized octet-counted frame still to skip */
    char *out;
    size_t out_len, out_cap;
    struct chunk *chunks, *chunks_tail; /* submitted or waiting, in order */
    size_t chunk_count;                 /* in chunks */
    struct chunk *waiting;              /* refused by a full queue: retried */
    uint64_t lines;                     /* lines read so far */
    bool eof, dead, reading;
    bool hung_up;    /* epoll said EPOLLHUP or EPOLLERR: not watched while held */
    bool registered; /* in the epoll set */
    bool closed;     /* freed at the end of the loop's round: events may still name it */
    int64_t last_active_ns;
    struct conn *prev, *next; /* all connections */
};

enum listener_kind { L_UNIX = 1, L_SYSLOG_TCP, L_SYSLOG_UDP, L_SYSLOG_UNIX, L_EVENT };

struct listener {
    enum listener_kind kind;
    int fd;
};

/*
 * User names of Unix peers' uids, kept a minute: NSS may ask a directory
 * server, and the loop must not wait on it at every connection. A uid without
 * a plain name is kept too (name "").
 */
#define PEER_NAMES 64
#define PEER_NAME_TTL_NS (60 * 1000000000LL)

struct peer_name {
    bool used;
    uid_t uid;
    int64_t until_ns;
    char name[64];
};

/*
 * One stream loop: an epoll thread and the connections it serves. Loop 0
 * also watches the listeners: it accepts, and hands each connection to the
 * loop with the fewest (itself included), which reads, parses and answers it
 * from then on. Datagrams are read on loop 0.
 */
struct stream_loop {
    struct evd_stream *stream;
    struct evd *d;   /* stream->d */
    size_t max_line; /* stream->max_line */
    unsigned id;
    int epfd, efd;
    pthread_t thread;
    bool running;

    pthread_mutex_t wake_lock;
    struct chunk *done_head; /* answered by the committer, not yet seen by the loop */
    struct conn *handed;     /* accepted by loop 0 for this loop, not yet watched */

    struct conn *conns;
    struct conn *closed; /* closed this round, freed after it */
    struct chunk *spare; /* answered chunks kept for reuse (the loop's own: no lock) */
    size_t spare_count;
    atomic_size_t conn_count; /* in conns and handed */
    size_t waiting;           /* chunks refused by a full queue */
    size_t inflight;          /* chunks submitted and not answered */
    struct listener event_listener;
    atomic_uint_least64_t held_wakeups; /* tests: a held connection's hang-up reported */
};

struct evd_stream {
    struct evd *d;
    struct listener listeners[2 + 2 * EVD_NET_MAX_FDS]; /* two Unix, each address of TCP, UDP */
    size_t listener_count;
    char *unix_path, *syslog_unix_path;
    size_t max_line;
    atomic_bool stop;
    struct stream_loop *loops;
    size_t loop_count;

    /* Loop 0's own (it accepts): no lock. */
    int64_t accept_paused_ns; /* out of descriptors at this time: listeners not watched */
    struct peer_name names[PEER_NAMES];
    size_t names_next;
    size_t next_loop; /* where the search for the least busy loop starts */
};

/* ---- chunks ----------------------------------------------------------------- */

/* Releases what the items own; the arrays stay. */
static void chunk_clear(struct chunk *c)
{
    for (size_t i = 0; i < c->event_count; i++) {
        ev_prepared_release(&c->events[i]);
        free(c->sources[i]);
    }
    for (size_t i = 0; i < c->line_count; i++) {
        free(c->lines[i].error);
    }
    c->event_count = 0;
    c->line_count = 0;
}

static void chunk_free(struct chunk *c)
{
    chunk_clear(c);
    free(c->events);
    free(c->sources);
    free(c->lines);
    free(c);
}

/* On the loop thread: a chunk it is done with goes to the spares, or is freed. */
static void chunk_put(struct stream_loop *lp, struct chunk *c)
{
    if (lp->spare_count >= SPARE_CHUNKS || c->cap > SPARE_ITEMS_MAX) {
        chunk_free(c);
        return;
    }
    chunk_clear(c);
    c->next = lp->spare;
    lp->spare = c;
    lp->spare_count++;
}

/* On the committer thread: hand the chunk back to the loop. */
static void done_chunk(struct evd_submission *sub, int rc, uint64_t first)
{
    struct chunk *c = sub->ctx;
    struct stream_loop *lp = c->loop;
    uint64_t one = 1;

    c->rc = rc;
    c->first = first;
    /*
     * Wake the loop before letting go of the lock: once the loop has seen the
     * chunk it may finish, and evd_stream_stop() close efd and free the loop.
     */
    pthread_mutex_lock(&lp->wake_lock);
    c->next_done = lp->done_head;
    lp->done_head = c;
    (void)!write(lp->efd, &one, sizeof(one));
    pthread_mutex_unlock(&lp->wake_lock);
}

/* An empty chunk for conn (NULL: datagrams), a spare one if there is one. */
static struct chunk *chunk_new(struct stream_loop *lp, struct conn *conn)
{
    struct chunk *c = lp->spare;

    if (c != NULL) {
        lp->spare = c->next;
        lp->spare_count--;
        struct chunk keep = {
            .events = c->events, .sources = c->sources, .lines = c->lines, .cap = c->cap};
        *c = keep;
    } else if ((c = calloc(1, sizeof(*c))) == NULL) {
        return NULL;
    }
    c->loop = lp;
    c->conn = conn;
    return c;
}

/* Room for one more item (event, line or both). False: out of memory. */
static bool chunk_room(struct chunk *c)
{
    size_t used = c->event_count > c->line_count ? c->event_count : c->line_count;

    if (used < c->cap) {
        return true;
    }
    size_t cap = c->cap > 0 ? 2 * c->cap : CHUNK_FIRST_ITEMS;
    struct ev_prepared *events = realloc(c->events, cap * sizeof(*events));
    if (events == NULL) {
        return false;
    }
    c->events = events;
    char **sources = realloc(c->sources, cap * sizeof(*sources));
    if (sources == NULL) {
        return false;
    }
    c->sources = sources;
    struct line_result *lines = realloc(c->lines, cap * sizeof(*lines));
    if (lines == NULL) {
        return false;
    }
    c->lines = lines;
    c->cap = cap;
    return true;
}

/* ---- connections ------------------------------------------------------------- */

/* Whether more lines of c may be cut into chunks now: within its bounds, not held back. */
static bool may_consume(struct stream_loop *lp, const struct conn *c)
{
    return !c->dead && c->waiting == NULL && c->out_len < MAX_UNSENT &&
           c->chunk_count < MAX_CHUNKS && !atomic_load(&lp->stream->stop);
}

static int watch(struct stream_loop *lp, struct conn *c)
{
    struct epoll_event ev = {.data.ptr = c};
    bool want_in = !c->eof && may_consume(lp, c);

    /* EPOLLRDHUP only while reading: a peer's hang-up would wake a held connection forever. */
    ev.events = (want_in ? EPOLLIN | EPOLLRDHUP : 0) | (c->out_len > 0 ? EPOLLOUT : 0);
    c->reading = want_in;
    /*
     * Nothing to read or send: out of epoll, or a hung-up peer would wake it
     * forever (EPOLLHUP and EPOLLERR are reported whatever the mask). A held
     * connection whose peer hung up is watched again when it may be read.
     */
    if (((c->eof || c->dead) || (c->hung_up && !want_in)) && c->out_len == 0) {
        if (c->registered) {
            c->registered = false;
            return epoll_ctl(lp->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        }
        return 0;
    }
    if (!c->registered) {
        c->registered = true;
        return epoll_ctl(lp->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    }
    return epoll_ctl(lp->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/*
 * Closes c. Its memory waits for the end of the loop's round (free_closed),
 * because events of the same epoll_wait may still point at it.
 */
static void conn_free(struct stream_loop *lp, struct conn *c)
{
    if (c->closed) {
        return;
    }
    if (c->registered) {
        (void)epoll_ctl(lp->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    }
    close(c->fd);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        lp->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    atomic_fetch_sub(&lp->conn_count, 1);
    evd_metrics_connections(lp->d->metrics, -1);
    c->closed = true;
    c->next = lp->closed;
    lp->closed = c;
}

static void free_closed(struct stream_loop *lp)
{
    while (lp->closed != NULL) {
        struct conn *c = lp->closed;
        lp->closed = c->next;
        free(c->in);
        free(c->out);
        free(c);
    }
}

/* Frees the connection once nothing of it is in the commit queue. */
static void conn_maybe_free(struct stream_loop *lp, struct conn *c)
{
    if ((c->dead || (c->eof && c->out_len == 0)) && c->chunks == NULL && c->waiting == NULL) {
        conn_free(lp, c);
    }
}

static void out_add(struct conn *c, const char *text, size_t len)
{
    if (c->dead) {
        return;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
        while (cap < c->out_len + len) {
            cap *= 2;
        }
        char *out = realloc(c->out, cap);
        if (out == NULL) {
            c->dead = true; /* cannot answer: the client sees the connection close */
            return;
        }
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, text, len);
    c->out_len += len;
}

/* A JSON string body for an error message (control characters and quotes escaped). */
static void out_error(struct conn *c, const char *message, uint64_t line)
{
    char buf[1024];
    size_t n = 0;

    n += (size_t)snprintf(buf, sizeof(buf), "{\"error\":\"");
    for (const char *p = message; *p != '\0' && n < sizeof(buf) - 64; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\u%04x", ch);
        } else {
            buf[n++] = (char)ch;
        }
    }
    n +=
        (size_t)snprintf(buf + n, sizeof(buf) - n, "\",\"line\":%llu}\n", (unsigned long long)line);
    out_add(c, buf, n);
}

static void flush(struct stream_loop *lp, struct conn *c)
{
    while (c->out_len > 0 && !c->dead) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            c->dead = true; /* the peer went away: its events are still committed */
            c->out_len = 0;
            break;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    (void)watch(lp, c);
}

/* Writes the replies of the chunks at the head that are answered, in order. */
static void reply_answered(struct stream_loop *lp, struct conn *c)
{
    while (c->chunks != NULL && c->chunks->done) {
        struct chunk *ch = c->chunks;
        c->chunks = ch->next;
        if (c->chunks == NULL) {
            c->chunks_tail = NULL;
        }
        c->chunk_count--;
        if (c->kind == CONN_UNIX) {
            for (size_t i = 0; i < ch->line_count; i++) {
                const struct line_result *l = &ch->lines[i];
                char buf[64];
                if (l->kind == RESULT_ERROR) {
                    out_error(c, l->error, l->line);
                } else if (l->kind == RESULT_DROPPED) {
                    out_add(c, "{\"dropped\":true}\n", 17);
                } else if (ch->rc < 0) {
                    char msg[256];
                    char full[160] = "";
                    if (evd_disk_is_full_error(ch->rc)) {
                        evd_disk_describe(lp->d->disk, full, sizeof(full));
                    }
                    (void)snprintf(msg, sizeof(msg), "not recorded: %s",
                                   full[0] != '\0'     ? full
                                   : ch->rc == -EAGAIN ? "the daemon is overloaded"
                                   : ch->rc == -ESHUTDOWN
                                       ? "the daemon is stopping"
                                       : "the log cannot append (storage failure)");
                    out_error(c, msg, l->line);
                } else {
                    int n = snprintf(buf, sizeof(buf), "{\"index\":%llu}\n",
                                     (unsigned long long)evd_submission_index(&ch->submission,
                                                                              ch->first, l->event));
                    out_add(c, buf, (size_t)n);
                }
            }
        }
        chunk_put(lp, ch);
    }
    flush(lp, c);
}

/* ---- intake ----------------------------------------------------------------- */

/* Queues a chunk, or keeps it waiting when the queue is full. */
static void submit(struct stream_loop *lp, struct conn *c, struct chunk *ch)
{
    if (c->chunks_tail != NULL) {
        c->chunks_tail->next = ch;
    } else {
        c->chunks = ch;
    }
    c->chunks_tail = ch;
    c->chunk_count++;
    if (ch->event_count == 0) {
        ch->done = true;
        return;
    }
    ch->submission = (struct evd_submission){
        .events = ch->events,
        .count = ch->event_count,
        .done = done_chunk,
        .ctx = ch,
        .source = (int)c->source_kind,
        .can_wait = true, /* refused, the connection is not read until it is in */
    };
    int r = evd_commit_submit(lp->d->commit, &ch->submission);
    if (r == -EAGAIN) {
        c->waiting = ch; /* not read again until it is in */
        lp->waiting++;
        return;
    }
    if (r < 0) {
        ch->rc = r;
        ch->done = true;
        evd_metrics_reject(lp->d->metrics, c->source_kind,
                           r == -ESHUTDOWN ? EVD_REJ_OVERLOAD : EVD_REJ_STORAGE, ch->event_count);
        return;
    }
    lp->inflight++;
}

static void progress(struct stream_loop *lp, struct conn *c);

static void retry_waiting(struct stream_loop *lp)
{
    for (struct conn *c = lp->conns, *next; c != NULL && lp->waiting > 0; c = next) {
        next = c->next; /* progress() may close c */
        if (c->waiting == NULL) {
            continue;
        }
        int r = evd_commit_submit(lp->d->commit, &c->waiting->submission);
        if (r == -EAGAIN) {
            return; /* still full: keep the order, try again later */
        }
        lp->waiting--;
        if (r < 0) {
            c->waiting->rc = r;
            c->waiting->done = true;
            evd_metrics_reject(lp->d->metrics, c->source_kind,
                               r == -ESHUTDOWN ? EVD_REJ_OVERLOAD : EVD_REJ_STORAGE,
                               c->waiting->event_count);
        } else {
            lp->inflight++;
        }
        c->waiting = NULL;
        progress(lp, c);
    }
}

/* Only spaces, tabs and '\r': no event, as ev_jsonl_read() and `evident append --jsonl` have it. */
static bool blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
            return false;
        }
    }
    return true;
}

/* One line or frame into the chunk. */
static void take_item(struct stream_loop *lp, struct conn *c, struct chunk *ch, const char *text,
                      size_t len)
{
    char err[512];
    int r;
    size_t e = ch->event_count;

    c->lines++;
    ch->sources[e] = NULL; /* the arrays are not cleared: every item sets its own */
    if (c->kind == CONN_UNIX) {
        r = evd_intake_json(lp->d, text, len, c->source, NULL, &ch->events[e], &ch->sources[e], err,
                            sizeof(err));
    } else {
        r = evd_intake_syslog(lp->d, text, len, c->source, &ch->events[e], err, sizeof(err));
    }
    if (r == 0) {
        ch->event_count++;
    } else {
        evd_metrics_reject(lp->d->metrics, c->source_kind,
                           r == EV_DROPPED   ? EVD_REJ_POLICY
                           : r == EV_ETOOBIG ? EVD_REJ_TOO_BIG
                                             : EVD_REJ_MALFORMED,
                           1);
    }
    if (c->kind == CONN_UNIX) {
        struct line_result *l = &ch->lines[ch->line_count++];
        *l = (struct line_result){.line = c->lines};
        if (r == 0) {
            l->kind = RESULT_EVENT;
            l->event = (unsigned)e;
        } else if (r == EV_DROPPED) {
            l->kind = RESULT_DROPPED;
        } else {
            l->kind = RESULT_ERROR;
            l->error = strdup(err);
        }
    }
}

static void line_error(struct stream_loop *lp, struct conn *c, struct chunk *ch, const char *what)
{
    c->lines++;
    evd_metrics_reject(lp->d->metrics, c->source_kind, EVD_REJ_TOO_BIG, 1);
    if (c->kind == CONN_UNIX) {
        struct line_result *l = &ch->lines[ch->line_count++];
        *l = (struct line_result){.line = c->lines, .kind = RESULT_ERROR, .error = strdup(what)};
    }
}

/*
 * The longest syslog frame a TCP connection buffers: the parser refuses any
 * message over EV_SYSLOG_MAX_BYTES, so a longer one is skipped as it arrives
 * instead of held whole (max_request_bytes is for JSON lines).
 */
static size_t syslog_frame_max(const struct stream_loop *lp)
{
    return lp->max_line < EV_SYSLOG_MAX_BYTES ? lp->max_line : EV_SYSLOG_MAX_BYTES;
}

/*
 * Cuts what was read into items and queues them as one chunk. Returns true
 * when the chunk filled up before the complete items did (call again); a
 * stream that cannot go on (a bad octet count) marks c dead.
 */
static bool consume(struct stream_loop *lp, struct conn *c)
{
    size_t used = 0, max_items = c->in_len / 2 + 2;
    struct chunk *ch;
    char what[128];
    bool full;

    if (max_items > MAX_ITEMS) {
        max_items = MAX_ITEMS; /* the rest stays in the buffer for the next chunk */
    }
    if ((ch = chunk_new(lp, c)) == NULL) {
        c->dead = true;
        return false;
    }
    while (used < c->in_len && ch->line_count < max_items && ch->event_count < max_items) {
        const char *buf = c->in + used;
        size_t avail = c->in_len - used;

        if (!chunk_room(ch)) { /* each turn adds at most one item */
            c->dead = true;
            break;
        }

        if (c->skip > 0) {
            size_t n = c->skip < avail ? (size_t)c->skip : avail;
            used += n;
            c->skip -= n;
            continue;
        }
        if (c->discarding) {
            const char *nl = memchr(buf, '\n', avail);
            used += nl != NULL ? (size_t)(nl - buf) + 1 : avail;
            c->discarding = nl == NULL;
            continue;
        }
        if (c->kind == CONN_UNIX) {
            const char *nl = memchr(buf, '\n', avail);
            if (nl == NULL) {
                if (avail > lp->max_line) {
                    (void)snprintf(what, sizeof(what), "line longer than %zu bytes", lp->max_line);
                    line_error(lp, c, ch, what);
                    c->discarding = true;
                    used += avail;
                }
                break;
            }
            size_t len = (size_t)(nl - buf);
            used += len + 1;
            if (len > lp->max_line) {
                (void)snprintf(what, sizeof(what), "line longer than %zu bytes", lp->max_line);
                line_error(lp, c, ch, what);
                continue;
            }
            if (blank(buf, len)) {
                c->lines++; /* blank lines are not events, but they are lines */
                continue;
            }
            if (buf[len - 1] == '\r') {
                len--;
            }
            take_item(lp, c, ch, buf, len);
        } else {
            const char *msg;
            size_t len, consumed = 0;
            int r = ev_syslog_frame(buf, avail, syslog_frame_max(lp), &msg, &len, &consumed);
            if (r == 0) {
                break;
            }
            if (r == EV_ETOOBIG && buf[0] >= '1' && buf[0] <= '9') {
                /* Octet counting: the count says where the next frame starts. */
                line_error(lp, c, ch, "syslog message too long");
                size_t n = consumed < avail ? consumed : avail;
                c->skip = consumed - n;
                used += n;
                continue;
            }
            if (r == EV_ETOOBIG) {
                /* Newline framing: skip the oversized message, keep the stream. */
                line_error(lp, c, ch, "syslog message too long");
                c->discarding = consumed == avail && buf[avail - 1] != '\n';
                used += consumed;
                continue;
            }
            if (r < 0) {
                /* A bad octet count: the stream cannot be trusted further. */
                evd_metrics_reject(lp->d->metrics, c->source_kind, EVD_REJ_MALFORMED, 1);
                c->dead = true;
                used = c->in_len;
                break;
            }
            used += consumed;
            if (len > 0) {
                take_item(lp, c, ch, msg, len);
            }
        }
    }
    full = used < c->in_len && !c->dead &&
           (ch->line_count == max_items || ch->event_count == max_items);
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    if (ch->line_count == 0 && ch->event_count == 0) {
        chunk_put(lp, ch);
        return full;
    }
    submit(lp, c, ch);
    return full;
}

/* Cuts every complete item of the buffer into chunks, as far as c's bounds let it. */
static void consume_all(struct stream_loop *lp, struct conn *c)
{
    while (c->in_len > 0 && may_consume(lp, c) && consume(lp, c)) {
    }
}

/*
 * After anything that changed c (bytes read, an answer, replies sent, the
 * queue taking its waiting chunk): cuts what is left in its buffer (at the
 * end of the stream, a last line without its newline too), writes the
 * replies that are due, and frees c once it is done. Items left in the
 * buffer when a bound stopped the cutting are taken here as soon as the
 * bound is gone: no new byte may ever arrive to wake the connection.
 */
static void progress(struct stream_loop *lp, struct conn *c)
{
    for (;;) {
        size_t before = c->in_len;
        consume_all(lp, c);
        if (c->eof && c->in_len > 0 && c->kind == CONN_SYSLOG_TCP && c->in[0] >= '0' &&
            c->in[0] <= '9' && c->skip == 0 && !c->discarding && may_consume(lp, c)) {
            /*
             * An octet-counted frame cut short by the end of the stream: its
             * sender did not send it whole, so it is no message (an LF added
             * as for a last line could even complete its count). Counted.
             */
            evd_metrics_reject(lp->d->metrics, c->source_kind, EVD_REJ_MALFORMED, 1);
            c->in_len = 0;
        }
        if (c->eof && c->in_len > 0 && c->in[c->in_len - 1] != '\n' && may_consume(lp, c)) {
            /* A last line without its newline still counts. */
            if (c->in_len == c->in_cap) {
                char *in = realloc(c->in, c->in_cap + 1);
                if (in == NULL) {
                    c->dead = true;
                    break;
                }
                c->in = in;
                c->in_cap++;
            }
            c->in[c->in_len++] = '\n';
            consume_all(lp, c);
        }
        reply_answered(lp, c);
        if (c->in_len == before || c->in_len == 0 || !may_consume(lp, c)) {
            break;
        }
    }
    conn_maybe_free(lp, c);
}

static void on_readable(struct stream_loop *lp, struct conn *c)
{
    for (int rounds = 0; rounds < 4 && !c->eof && may_consume(lp, c); rounds++) {
        if (c->in_cap - c->in_len < READ_BYTES) {
            size_t cap = c->in_len + READ_BYTES;
            char *in = realloc(c->in, cap);
            if (in == NULL) {
                c->dead = true;
                break;
            }
            c->in = in;
            c->in_cap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                c->dead = true;
            }
            break;
        }
        if (n == 0) {
            c->eof = true;
            break;
        }
        c->in_len += (size_t)n;
        c->last_active_ns = evd_now_ns();
        consume_all(lp, c);
        /* Keep the buffer small once drained (10,000 idle connections). */
        if (c->in_len == 0 && c->in_cap > READ_BYTES) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
    progress(lp, c);
}

/* ---- accepting ----------------------------------------------------------- */

/* The user name of uid when it is plain ([A-Za-z0-9._-], safe in JSON as it is), else "". */
static const char *peer_name(struct evd_stream *s, uid_t uid)
{
    int64_t now = evd_now_ns();
    for (size_t i = 0; i < PEER_NAMES; i++) {
        if (s->names[i].used && s->names[i].uid == uid && s->names[i].until_ns > now) {
            return s->names[i].name;
        }
    }
    struct peer_name *n = &s->names[s->names_next++ % PEER_NAMES];
    *n = (struct peer_name){.used = true, .uid = uid, .until_ns = now + PEER_NAME_TTL_NS};
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != NULL &&
        strlen(found->pw_name) < sizeof(n->name)) {
        bool plain = true;
        for (const char *p = found->pw_name; *p != '\0'; p++) {
            plain = plain && (*p == '.' || *p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
                              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
        }
        if (plain) {
            (void)snprintf(n->name, sizeof(n->name), "%s", found->pw_name);
        }
    }
    return n->name;
}

static void unix_source(struct evd_stream *s, int fd, struct conn *c, bool *ret_allowed)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    char user[128] = "";

    *ret_allowed = false;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        return;
    }
    pthread_rwlock_rdlock(&s->d->config_lock);
    *ret_allowed = evd_auth_peer(s->d->auth, cred.uid, cred.gid);
    pthread_rwlock_unlock(&s->d->config_lock);

    const char *name = peer_name(s, cred.uid);
    if (name[0] != '\0') {
        (void)snprintf(user, sizeof(user), ",\"user\":\"%s\"", name);
    }
    (void)snprintf(c->source, sizeof(c->source),
                   "{\"gid\":%u,\"host\":\"%s\",\"pid\":%d,\"transport\":\"unix\",\"uid\":%u%s}",
                   (unsigned)cred.gid, s->d->host, (int)cred.pid, (unsigned)cred.uid, user);
}

/* On the loop's own thread: starts watching a connection handed to it (or accepted by it). */
static void conn_start(struct stream_loop *lp, struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};

    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        free(c);
        atomic_fetch_sub(&lp->conn_count, 1);
        evd_metrics_connections(lp->d->metrics, -1);
        return;
    }
    c->reading = true;
    c->registered = true;
    c->next = lp->conns;
    if (lp->conns != NULL) {
        lp->conns->prev = c;
    }
    lp->conns = c;
}

/* The loop with the fewest connections, the search starting after the last one chosen. */
static struct stream_loop *least_busy(struct evd_stream *s)
{
    struct stream_loop *best = NULL;
    size_t best_count = SIZE_MAX;

    for (size_t k = 0; k < s->loop_count; k++) {
        struct stream_loop *lp = &s->loops[(s->next_loop + k) % s->loop_count];
        size_t count = atomic_load(&lp->conn_count);
        if (count < best_count) {
            best = lp;
            best_count = count;
        }
    }
    s->next_loop = (best->id + 1) % s->loop_count;
    return best;
}

/* Hands c to lp: started at once when lp is the accepting loop, else through lp's wake-up. */
static void conn_hand(struct stream_loop *self, struct stream_loop *lp, struct conn *c)
{
    uint64_t one = 1;

    atomic_fetch_add(&lp->conn_count, 1);
    evd_metrics_connections(lp->d->metrics, 1);
    if (lp == self) {
        conn_start(lp, c);
        return;
    }
    pthread_mutex_lock(&lp->wake_lock);
    c->next = lp->handed;
    lp->handed = c;
    (void)!write(lp->efd, &one, sizeof(one));
    pthread_mutex_unlock(&lp->wake_lock);
}

/* On loop 0: accepts what is pending on a stream listener. */
static void on_accept(struct stream_loop *lp, struct listener *l)
{
    struct evd_stream *s = lp->stream;

    /* A reload replaces the configuration: read it under its lock. */
    pthread_rwlock_rdlock(&s->d->config_lock);
    uint64_t max_connections = s->d->config->server.max_connections;
    pthread_rwlock_unlock(&s->d->config_lock);

    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop watching the listener for a while, or spin. */
                struct epoll_event ev = {.events = 0, .data.ptr = l};
                (void)epoll_ctl(lp->epfd, EPOLL_CTL_MOD, l->fd, &ev);
                s->accept_paused_ns = evd_now_ns();
            }
            return; /* EAGAIN: try again on the next event */
        }
        if (evd_stream_connections(s) >= max_connections) {
            evd_metrics_reject(s->d->metrics, l->kind == L_UNIX ? EVD_SRC_UNIX : EVD_SRC_SYSLOG_TCP,
                               EVD_REJ_OVERLOAD, 1);
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->last_active_ns = evd_now_ns();
        if (l->kind == L_UNIX) {
            bool allowed;
            c->kind = CONN_UNIX;
            c->source_kind = EVD_SRC_UNIX;
            unix_source(s, fd, c, &allowed);
            if (!allowed) {
                static const char refused[] =
                    "{\"error\":\"this user may not write to evidentd (server.unix_allow_users)\","
                    "\"line\":0}\n";
                evd_metrics_reject(s->d->metrics, EVD_SRC_UNIX, EVD_REJ_UNAUTHORIZED, 1);
                (void)!send(fd, refused, sizeof(refused) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(fd);
                free(c);
                continue;
            }
        } else {
            char peer[96];
            c->kind = CONN_SYSLOG_TCP;
            c->source_kind = EVD_SRC_SYSLOG_TCP;
            evd_net_format((struct sockaddr *)&ss, sslen, peer, sizeof(peer));
            (void)snprintf(c->source, sizeof(c->source),
                           "{\"host\":\"%s\",\"peer\":\"%s\",\"transport\":\"syslog_tcp\"}",
                           s->d->host, peer);
        }
        conn_hand(lp, least_busy(s), c);
    }
}

/* The source of one datagram: its peer address, or (Unix) the sender's credentials. */
static void datagram_source(struct stream_loop *lp, bool is_unix, struct msghdr *h, char *out,
                            size_t size)
{
    if (!is_unix) {
        char peer[96];
        evd_net_format(h->msg_name, h->msg_namelen, peer, sizeof(peer));
        (void)snprintf(out, size, "{\"host\":\"%s\",\"peer\":\"%s\",\"transport\":\"syslog_udp\"}",
                       lp->d->host, peer);
        return;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm != NULL; cm = CMSG_NXTHDR(h, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
            (void)snprintf(out, size,
                           "{\"gid\":%u,\"host\":\"%s\",\"pid\":%d,\"transport\":\"syslog_unix\","
                           "\"uid\":%u}",
                           (unsigned)cred.gid, lp->d->host, (int)cred.pid, (unsigned)cred.uid);
            return;
        }
    }
    (void)snprintf(out, size, "{\"host\":\"%s\",\"transport\":\"syslog_unix\"}", lp->d->host);
}

/* Datagrams (UDP, or a Unix datagram socket like /dev/log): one message each, no answer. */
static void on_datagrams(struct stream_loop *lp, struct listener *l)
{
    static char bufs[UDP_BATCH][EV_SYSLOG_MAX_BYTES];
    static char control[UDP_BATCH][CMSG_SPACE(sizeof(struct ucred))];
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    struct sockaddr_storage from[UDP_BATCH];
    bool is_unix = l->kind == L_SYSLOG_UNIX;
    enum evd_source kind = is_unix ? EVD_SRC_SYSLOG_UNIX : EVD_SRC_SYSLOG_UDP;
    char err[256];

    for (int round = 0; round < 16; round++) {
        memset(msgs, 0, sizeof(msgs));
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
            msgs[i].msg_hdr.msg_control = control[i];
            msgs[i].msg_hdr.msg_controllen = sizeof(control[i]);
        }
        int n = recvmmsg(l->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            return;
        }
        /* One chunk for the datagrams of one read, on no connection. */
        struct chunk *ch = chunk_new(lp, NULL);
        if (ch == NULL) {
            evd_metrics_reject(lp->d->metrics, kind, EVD_REJ_OVERLOAD, (uint64_t)n);
            return;
        }
        for (int i = 0; i < n; i++) {
            char source[640];
            if (!chunk_room(ch)) {
                evd_metrics_reject(lp->d->metrics, kind, EVD_REJ_OVERLOAD, (uint64_t)(n - i));
                break;
            }
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                /* Over EV_SYSLOG_MAX_BYTES (a Unix datagram may be): refused, not cut. */
                evd_metrics_reject(lp->d->metrics, kind, EVD_REJ_TOO_BIG, 1);
                continue;
            }
            datagram_source(lp, is_unix, &msgs[i].msg_hdr, source, sizeof(source));
            size_t e = ch->event_count;
            /* Each datagram has its own peer: its source is owned by the chunk. */
            if ((ch->sources[e] = strdup(source)) == NULL) {
                evd_metrics_reject(lp->d->metrics, kind, EVD_REJ_OVERLOAD, 1);
                continue;
            }
            int r = evd_intake_syslog(lp->d, bufs[i], msgs[i].msg_len, ch->sources[e],
                                      &ch->events[e], err, sizeof(err));
            if (r == 0) {
                ch->event_count++;
            } else {
                free(ch->sources[e]);
                ch->sources[e] = NULL;
                evd_metrics_reject(lp->d->metrics, kind,
                                   r == EV_DROPPED   ? EVD_REJ_POLICY
                                   : r == EV_ETOOBIG ? EVD_REJ_TOO_BIG
                                                     : EVD_REJ_MALFORMED,
                                   1);
            }
        }
        if (ch->event_count == 0) {
            chunk_put(lp, ch);
            continue;
        }
        ch->submission = (struct evd_submission){
            .events = ch->events,
            .count = ch->event_count,
            .done = done_chunk,
            .ctx = ch,
            .source = kind,
        };
        if (evd_commit_submit(lp->d->commit, &ch->submission) < 0) {
            /* UDP cannot be held back or answered: the datagrams are dropped, and counted. */
            evd_metrics_reject(lp->d->metrics, kind, EVD_REJ_OVERLOAD, ch->event_count);
            chunk_put(lp, ch);
            continue;
        }
        lp->inflight++;
    }
}

/*
 * The loop's eventfd: connections handed to it start being watched; chunks
 * the committer answered have their replies sent, and connections may close.
 */
static void on_wake(struct stream_loop *lp)
{
    uint64_t n;
    struct chunk *list;
    struct conn *handed;

    (void)!read(lp->efd, &n, sizeof(n));
    pthread_mutex_lock(&lp->wake_lock);
    list = lp->done_head;
    lp->done_head = NULL;
    handed = lp->handed;
    lp->handed = NULL;
    pthread_mutex_unlock(&lp->wake_lock);
    while (handed != NULL) {
        struct conn *c = handed;
        handed = c->next;
        conn_start(lp, c);
    }
    while (list != NULL) {
        struct chunk *ch = list;
        list = ch->next_done;
        lp->inflight--;
        ch->done = true;
        if (ch->conn == NULL) {
            chunk_put(lp, ch); /* UDP */
            continue;
        }
        progress(lp, ch->conn);
    }
    retry_waiting(lp);
}

static void close_idle(struct stream_loop *lp, int64_t now)
{
    pthread_rwlock_rdlock(&lp->d->config_lock);
    int64_t idle = (int64_t)(10 * lp->d->config->server.request_timeout_ns);
    pthread_rwlock_unlock(&lp->d->config_lock);

    for (struct conn *c = lp->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->chunks == NULL && c->waiting == NULL && now - c->last_active_ns > idle) {
            c->dead = true;
            conn_maybe_free(lp, c);
        }
    }
}

static void *loop(void *arg)
{
    struct stream_loop *lp = arg;
    struct epoll_event events[256];
    int64_t last_sweep = evd_now_ns();

    struct evd_stream *s = lp->stream;

    while (!atomic_load(&s->stop) || lp->inflight > 0 || lp->waiting > 0) {
        bool accepting = lp->id == 0; /* loop 0 watches the listeners */
        int timeout = lp->waiting > 0 || (accepting && s->accept_paused_ns != 0) ? RETRY_MS : 1000;
        int n = epoll_wait(lp->epfd, events, 256, timeout);
        for (int i = 0; i < n; i++) {
            void *ptr = events[i].data.ptr;
            struct listener *l = ptr;
            bool is_listener = false;
            for (size_t k = 0; accepting && k < s->listener_count; k++) {
                is_listener = is_listener || ptr == &s->listeners[k];
            }
            if (ptr == &lp->event_listener) {
                on_wake(lp);
            } else if (is_listener) {
                if (atomic_load(&s->stop)) {
                    continue;
                }
                if (l->kind == L_SYSLOG_UDP || l->kind == L_SYSLOG_UNIX) {
                    on_datagrams(lp, l);
                } else {
                    on_accept(lp, l);
                }
            } else {
                struct conn *c = ptr;
                if (c->closed) {
                    continue;
                }
                if (events[i].events & (EPOLLHUP | EPOLLERR)) {
                    c->hung_up = true;
                    if (!c->reading) {
                        lp->held_wakeups++;
                    }
                }
                if (events[i].events & EPOLLOUT) {
                    flush(lp, c);
                }
                if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                    on_readable(lp, c);
                } else {
                    progress(lp, c); /* replies sent: reading may go on */
                }
            }
        }
        if (lp->waiting > 0) {
            retry_waiting(lp);
        }
        free_closed(lp);
        int64_t now = evd_now_ns();
        if (accepting && s->accept_paused_ns != 0 && now - s->accept_paused_ns > ACCEPT_PAUSE_NS) {
            s->accept_paused_ns = 0;
            for (size_t k = 0; k < s->listener_count; k++) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->listeners[k]};
                (void)epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s->listeners[k].fd, &ev);
            }
        }
        if (now - last_sweep > 1000000000) {
            last_sweep = now;
            close_idle(lp, now);
        }
    }
    return NULL;
}

/* ---- life -------------------------------------------------------------------- */

/*
 * How many loops: performance.stream_threads, or (0) one per CPU but one, at
 * least 1 and at most STREAM_THREADS_AUTO_MAX. Under full load the writer
 * (the committer's sequencing and the library's flusher) keeps about one CPU
 * busy; a loop more than the CPUs left only adds switches (measured on 2
 * CPUs: docs/PERFORMANCE.md, session 9).
 */
static size_t loop_count(const struct ev_config *cfg)
{
    if (cfg->performance.stream_threads > 0) {
        return (size_t)cfg->performance.stream_threads;
    }
    long loops = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    return loops < 1                         ? 1
           : loops > STREAM_THREADS_AUTO_MAX ? STREAM_THREADS_AUTO_MAX
                                             : (size_t)loops;
}

static int loop_init(struct evd_stream *s, struct stream_loop *lp, unsigned id, char *err,
                     size_t err_size)
{
    *lp = (struct stream_loop){.stream = s, .d = s->d, .max_line = s->max_line, .id = id};
    pthread_mutex_init(&lp->wake_lock, NULL);
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    lp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lp->epfd < 0 || lp->efd < 0) {
        int r = -errno;
        (void)snprintf(err, err_size, "epoll: %s", strerror(errno));
        return r;
    }
    lp->event_listener = (struct listener){.kind = L_EVENT, .fd = lp->efd};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lp->event_listener};
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->efd, &ev) < 0) {
        int r = -errno;
        (void)snprintf(err, err_size, "epoll: %s", strerror(errno));
        return r;
    }
    return 0;
}

/*
 * At stop, once everything submitted is answered: sends the replies the
 * clients of lp have not read yet, until the deadline. A client that does not
 * read cannot hold the daemon's shutdown.
 */
static void flush_all(struct stream_loop *lp, int64_t deadline_ns)
{
    struct epoll_event events[64];

    (void)epoll_ctl(lp->epfd, EPOLL_CTL_DEL, lp->efd, NULL);
    for (;;) {
        bool pending = false;
        for (struct conn *c = lp->conns; c != NULL; c = c->next) {
            if (c->out_len > 0 && !c->dead) {
                flush(lp, c); /* watches c for EPOLLOUT while replies are left */
                pending = pending || (c->out_len > 0 && !c->dead);
            }
        }
        int64_t left_ms = (deadline_ns - evd_now_ns()) / 1000000;
        if (!pending || left_ms <= 0) {
            break;
        }
        (void)epoll_wait(lp->epfd, events, 64, (int)left_ms);
    }
}

/* Frees what the loop holds once its thread is gone (or never ran). */
static void loop_free(struct stream_loop *lp, int64_t flush_deadline_ns)
{
    if (lp->stream == NULL) {
        return; /* never initialized */
    }
    while (lp->handed != NULL) { /* handed over as the daemon stopped: never watched */
        struct conn *c = lp->handed;
        lp->handed = c->next;
        c->prev = NULL;
        c->next = lp->conns;
        if (lp->conns != NULL) {
            lp->conns->prev = c;
        }
        lp->conns = c;
    }
    if (lp->epfd >= 0 && lp->efd >= 0) {
        flush_all(lp, flush_deadline_ns);
    }
    while (lp->conns != NULL) {
        struct conn *c = lp->conns;
        while (c->chunks != NULL) {
            struct chunk *ch = c->chunks;
            c->chunks = ch->next;
            chunk_free(ch);
        }
        conn_free(lp, c);
    }
    free_closed(lp);
    while (lp->spare != NULL) {
        struct chunk *ch = lp->spare;
        lp->spare = ch->next;
        chunk_free(ch);
    }
    if (lp->epfd >= 0) {
        close(lp->epfd);
    }
    if (lp->efd >= 0) {
        close(lp->efd);
    }
    pthread_mutex_destroy(&lp->wake_lock);
}

static int add_listener(struct evd_stream *s, enum listener_kind kind, int fd)
{
    struct listener *l = &s->listeners[s->listener_count++];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};

    l->kind = kind;
    l->fd = fd;
    return epoll_ctl(s->loops[0].epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Every address of hostport (net.h), each a listener of kind. 0 or -errno with err set. */
static int add_listeners(struct evd_stream *s, enum listener_kind kind, const char *hostport,
                         char *err, size_t err_size)
{
    int fds[EVD_NET_MAX_FDS];
    int n = evd_net_listen(hostport, kind == L_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM, fds,
                           EVD_NET_MAX_FDS, err, err_size);
    int r = n < 0 ? n : 0;

    for (int i = 0; i < n; i++) {
        if (kind == L_SYSLOG_UDP) {
            int size = 8 << 20;
            (void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
        if (r == 0) {
            r = add_listener(s, kind, fds[i]); /* closed with the stream, even on failure */
        } else {
            close(fds[i]);
        }
    }
    return r;
}

static void stream_free(struct evd_stream *s, int64_t flush_deadline_ns)
{
    for (size_t i = 0; i < s->listener_count; i++) {
        close(s->listeners[i].fd);
    }
    s->listener_count = 0;
    for (size_t i = 0; i < s->loop_count; i++) {
        loop_free(&s->loops[i], flush_deadline_ns);
    }
    free(s->loops);
    if (s->unix_path != NULL) {
        (void)unlink(s->unix_path);
        free(s->unix_path);
    }
    if (s->syslog_unix_path != NULL) {
        (void)unlink(s->syslog_unix_path);
        free(s->syslog_unix_path);
    }
    free(s);
}

int evd_stream_bind(struct evd *d, struct evd_stream **ret_stream, char *err, size_t err_size)
{
    const struct ev_config *cfg = d->config;
    struct evd_stream *s = calloc(1, sizeof(*s));
    size_t count = loop_count(cfg);
    int fd, r = 0;

    if (s == NULL || (s->loops = calloc(count, sizeof(*s->loops))) == NULL) {
        free(s);
        return -ENOMEM;
    }
    s->d = d;
    s->max_line = cfg->server.max_request_bytes;
    for (size_t i = 0; i < count; i++) {
        s->loops[i].epfd = s->loops[i].efd = -1;
    }
    for (; s->loop_count < count; s->loop_count++) {
        if ((r = loop_init(s, &s->loops[s->loop_count], (unsigned)s->loop_count, err, err_size)) <
            0) {
            s->loop_count++; /* what it opened is closed with the others */
            goto fail;
        }
    }
    if (cfg->server.unix_socket != NULL) {
        fd = evd_net_listen_unix(cfg->server.unix_socket, cfg->server.unix_socket_mode, SOCK_STREAM,
                                 err, err_size);
        if (fd < 0 || (r = add_listener(s, L_UNIX, fd)) < 0) {
            r = fd < 0 ? fd : r;
            goto fail;
        }
        s->unix_path = strdup(cfg->server.unix_socket);
    }
    if (cfg->server.syslog_tcp != NULL &&
        (r = add_listeners(s, L_SYSLOG_TCP, cfg->server.syslog_tcp, err, err_size)) < 0) {
        goto fail;
    }
    if (cfg->server.syslog_udp != NULL &&
        (r = add_listeners(s, L_SYSLOG_UDP, cfg->server.syslog_udp, err, err_size)) < 0) {
        goto fail;
    }
    if (cfg->server.syslog_unix != NULL) {
        fd = evd_net_listen_unix(cfg->server.syslog_unix, cfg->server.unix_socket_mode, SOCK_DGRAM,
                                 err, err_size);
        if (fd < 0 || (r = add_listener(s, L_SYSLOG_UNIX, fd)) < 0) {
            r = fd < 0 ? fd : r;
            goto fail;
        }
        s->syslog_unix_path = strdup(cfg->server.syslog_unix);
        int size = 8 << 20;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    *ret_stream = s;
    return 0;

fail:
    stream_free(s, 0);
    return r < 0 ? r : -EINVAL;
}

int evd_stream_run(struct evd_stream *s)
{
    for (size_t i = 0; i < s->loop_count; i++) {
        struct stream_loop *lp = &s->loops[i];
        int r = pthread_create(&lp->thread, NULL, loop, lp);
        if (r != 0) {
            return -r; /* evd_stream_stop() joins the ones that run */
        }
        lp->running = true;
        char name[16];
        (void)snprintf(name, sizeof(name), "evd-stream/%u", lp->id);
        (void)pthread_setname_np(lp->thread, name);
    }
    return 0;
}

size_t evd_stream_connections(struct evd_stream *s)
{
    size_t n = 0;

    for (size_t i = 0; s != NULL && i < s->loop_count; i++) {
        n += atomic_load(&s->loops[i].conn_count);
    }
    return n;
}

uint64_t evd_stream_held_wakeups(struct evd_stream *s)
{
    uint64_t n = 0;
    for (size_t i = 0; s != NULL && i < s->loop_count; i++) {
        n += atomic_load(&s->loops[i].held_wakeups);
    }
    return n;
}

size_t evd_stream_loop_connections(struct evd_stream *s, uint64_t *ret_counts, size_t max)
{
    size_t count = s != NULL ? s->loop_count : 0;

    for (size_t i = 0; i < count && i < max; i++) {
        ret_counts[i] = atomic_load(&s->loops[i].conn_count);
    }
    return count < max ? count : max;
}

void evd_stream_stop(struct evd_stream *s)
{
    uint64_t one = 1;

    if (s == NULL) {
        return;
    }
    atomic_store(&s->stop, true);
    for (size_t i = 0; i < s->loop_count; i++) {
        (void)!write(s->loops[i].efd, &one, sizeof(one));
    }
    for (size_t i = 0; i < s->loop_count; i++) {
        if (s->loops[i].running) {
            pthread_join(s->loops[i].thread, NULL);
        }
    }
    /* Unsent replies may wait for slow readers STOP_FLUSH_MS in all, across the loops. */
    stream_free(s, evd_now_ns() + (int64_t)STOP_FLUSH_MS * 1000000);
}
