/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident append: one event from the command line, or a stream of JSON Lines
 * from stdin appended in batches.
 *
 * The stream path is built for throughput: stdin is read in large blocks,
 * each line is checked on its own (so a bad line is reported and the good
 * ones of its batch still go in), and the lines that are ready are appended
 * with one ev_log_append_batch() call: one write and, with --sync always, one
 * fdatasync per batch. A batch ends at BATCH_MAX lines, at BATCH_TEXT_MAX
 * bytes of their text, or when no more input is immediately available, so
 * a slow producer sees its events acknowledged at once. Reading and checking
 * (main thread) overlaps with appending the batch before (appender thread);
 * the order of the lines is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/jsonl.h>
#include <evident/log.h>
#include <evident/policy.h>

#include "cli.h"

#define READ_BLOCK (256u << 10)
#define BATCH_MAX 4096
/*
 * The events' text past which a batch is handed over: the reader does not
 * bound an event (preparing it does, and a code_execution's long stdout
 * becomes a digest), only a line (EV_JSONL_LINE_MAX), so this bounds the text
 * of each of the two batches to 64 MiB and a line (its buffer, which doubles,
 * to 128 MiB). What preparing makes of a batch is at most BATCH_MAX entries.
 */
#define BATCH_TEXT_MAX ((size_t)64 << 20)

static const char usage[] =
    "usage: evident [-d DIR] append --type TYPE [--severity SEVERITY] [--source JSON]\n"
    "                              [--data JSON] [--sync MODE]\n"
    "       evident [-d DIR] append --jsonl [--sync MODE] < EVENTS\n"
    "\n"
    "Appends one event, or with --jsonl one event per line of standard input, and\n"
    "prints the index of each event appended.\n"
    "\n"
    "Options:\n"
    "  --type TYPE          event type: 1-64 of [a-z0-9_.:-], starting with a letter\n"
    "  --severity SEVERITY  emergency alert critical error warning notice info debug\n"
    "                       (also emerg crit err warn); default info\n"
    "  --source JSON        a JSON object naming the producer; default: this process\n"
    "                       (host, program, pid, uid, user)\n"
    "  --data JSON          a JSON object, the event's content; default {}\n"
    "  --sync MODE          always (default): an index is printed once its event is\n"
    "                       durable (fdatasync); interval: synced within a second;\n"
    "                       never: synced at seals, checkpoints and exit. With interval\n"
    "                       and never, --jsonl prints indexes as events are appended\n"
    "  --jsonl              read events from standard input, one JSON object per line:\n"
    "                       {\"type\": \"...\", \"severity\": \"...\", \"source\": {...},\n"
    "                       \"data\": {...}} (type required, no other keys; lines of at\n"
    "                       most 1 MiB; blank lines are skipped). A bad line is reported\n"
    "                       as 'evident: line N: REASON' and not written; the others go\n"
    "                       on. Indexes are printed one per line as batches complete.\n"
    "  -d, --dir DIR        the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 every event appended; 2 usage error, malformed event (nothing\n"
    "written) or I/O failure; 3 (--jsonl) some lines were rejected, all others were\n"
    "appended.\n";

/* ---- JSON Lines ----------------------------------------------------------- */

struct pending_event {
    struct ev_jsonl_event event; /* its text in the batch's buffer */
    unsigned long long line;
};

/* One batch of checked lines: filled by the reading thread, appended by the other. */
struct batch {
    struct ev_jsonl_buffer *text;
    struct pending_event pending[BATCH_MAX];
    struct ev_prepared prepared[BATCH_MAX]; /* what the policy made of each line */
    size_t count;
    int failed; /* prepare_batch() ran out of memory */
};

/*
 * Reading and checking lines runs in the main thread while the previous batch
 * is appended in an appender thread: two batches, one filling and one handed
 * over. Indexes are printed by the appender, in order.
 */
struct stream {
    struct cli *cli;
    struct ev_log *log;
    struct ev_policy *policy;
    size_t batch_max; /* performance.batch_max, at most BATCH_MAX */
    struct batch batches[2];
    struct batch *b;             /* the batch being filled (main thread) */
    unsigned long long line;     /* number of the line being read, from 1 */
    unsigned long long rejected; /* lines rejected by the main thread */

    pthread_mutex_t mu; /* guards handed, done, error */
    pthread_cond_t cv;
    pthread_t thread;     /* the appender */
    struct batch *handed; /* waiting for or being appended; NULL when free */
    bool done;            /* no more batches will come */
    int error;            /* the appender's fatal error, negative */

    /* appender thread only */
    unsigned long long lib_rejected;
    unsigned long long dropped; /* by the policy (main thread) */
    char *out;                  /* printed indexes of one batch */
    size_t out_len, out_cap;
};

/* Reports a rejected line (main thread). */
static void line_error(struct stream *s, unsigned long long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void line_error(struct stream *s, unsigned long long line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_error("line %llu: %s", line, msg);
    s->rejected++;
}

/* One input line (without its newline): into the batch, or reported. */
static int add_line(struct stream *s, const char *text, size_t len)
{
    struct pending_event *p = &s->b->pending[s->b->count];
    int r = ev_jsonl_read(s->b->text, text, len, &p->event);

    if (r > 0) {
        p->line = s->line;
        s->b->count++;
    } else if (r < 0 && r != -ENOMEM) {
        line_error(s, s->line, "%s", ev_last_error());
        r = 0;
    }
    return r < 0 ? r : 0;
}

static int out_reserve(struct stream *s, size_t more)
{
    if (s->out_cap - s->out_len >= more) {
        return 0;
    }
    size_t cap = s->out_cap ? s->out_cap * 2 : 1u << 16;
    while (cap - s->out_len < more) {
        cap *= 2;
    }
    char *n = realloc(s->out, cap);
    if (n == NULL) {
        return -ENOMEM;
    }
    s->out = n;
    s->out_cap = cap;
    return 0;
}

static void out_index(struct stream *s, uint64_t v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) {
        s->out[s->out_len++] = digits[--n];
    }
    s->out[s->out_len++] = '\n';
}

/*
 * Main thread, when a batch is complete: the policy for every line
 * (validation against the type's schema, level, sanitization), so that this
 * work overlaps the appender's work on the batch before. Rejected and
 * dropped lines leave the batch; an allocation failure ends the run.
 */
static void prepare_batch(struct stream *s, struct batch *b)
{
    size_t kept = 0;
    int r = 0;
    b->failed = 0;
    for (size_t i = 0; i < b->count; i++) {
        const struct pending_event *p = &b->pending[i];
        struct ev_event in;
        ev_jsonl_event_get(b->text, &p->event, &in);
        struct ev_prepared *prep = &b->prepared[kept];
        r = ev_event_prepare(s->policy, &in, prep);
        if (r == -ENOMEM) {
            cli_error("out of memory");
            b->failed = r;
            break;
        }
        if (r < 0) {
            cli_error("line %llu: %s", p->line, cli_cause(r));
            s->rejected++;
            continue;
        }
        if (prep->dropped) {
            ev_prepared_release(prep);
            s->dropped++;
            continue;
        }
        b->pending[kept] = *p;
        kept++;
    }
    b->count = kept;
}

/*
 * Appender thread: appends batch b. If the library still rejects one event
 * (ret_bad), that line is reported and the batch goes again without it.
 * Prints the indexes. Returns 0 or a negative code that ends the run.
 */
static int append_batch(struct stream *s, struct batch *b)
{
    int r = out_reserve(s, b->count * 21);

    if (r < 0) {
        cli_error("out of memory");
        return r;
    }
    if (b->failed < 0) {
        r = b->failed;
        goto release;
    }
    while (b->count > 0) {
        uint64_t first = 0;
        size_t bad = SIZE_MAX;
        r = ev_audit_append_prepared(s->log, b->prepared, b->count, &first, &bad);
        if (r == 0) {
            for (size_t i = 0; i < b->count; i++) {
                out_index(s, first + i);
            }
            break;
        }
        if ((r == EV_EJSON || r == EV_ETOOBIG) && bad < b->count) {
            cli_error("line %llu: %s", b->pending[bad].line, cli_cause(r));
            s->lib_rejected++;
            ev_prepared_release(&b->prepared[bad]);
            memmove(&b->prepared[bad], &b->prepared[bad + 1],
                    (b->count - bad - 1) * sizeof(b->prepared[0]));
            memmove(&b->pending[bad], &b->pending[bad + 1],
                    (b->count - bad - 1) * sizeof(b->pending[0]));
            b->count--;
            r = 0;
            continue;
        }
        cli_fail(r, "cannot append lines %llu-%llu to '%s'", b->pending[0].line,
                 b->pending[b->count - 1].line, s->cli->dir);
        cli_disk_full_hint(r);
        break;
    }
release:
    for (size_t i = 0; i < b->count; i++) {
        ev_prepared_release(&b->prepared[i]);
    }
    b->count = 0;
    ev_jsonl_buffer_clear(b->text);
    if (s->out_len > 0) {
        int w = cli_write_all(STDOUT_FILENO, s->out, s->out_len);
        s->out_len = 0;
        if (w < 0 && r == 0) {
            cli_error("cannot write to standard output: %s", cli_strerror(-w));
            r = w;
        }
    }
    return r;
}

static void *appender_main(void *arg)
{
    struct stream *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->handed == NULL && !s->done) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        if (s->handed == NULL) {
            break;
        }
        struct batch *b = s->handed;
        pthread_mutex_unlock(&s->mu);
        int r = append_batch(s, b);
        pthread_mutex_lock(&s->mu);
        s->handed = NULL;
        if (r < 0) {
            s->error = r;
        }
        pthread_cond_broadcast(&s->cv);
        if (r < 0) {
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/*
 * Main thread: hands the filled batch to the appender (waiting while it is
 * still busy with the previous one) and goes on with the other. Returns the
 * appender's error, if it stopped.
 */
static int hand_over(struct stream *s)
{
    int r;

    if (s->b->count == 0) {
        pthread_mutex_lock(&s->mu);
        r = s->error;
        pthread_mutex_unlock(&s->mu);
        return r;
    }
    prepare_batch(s, s->b);
    pthread_mutex_lock(&s->mu);
    while (s->handed != NULL && s->error == 0) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    r = s->error;
    if (r == 0) {
        s->handed = s->b;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (r == 0) {
        s->b = s->b == &s->batches[0] ? &s->batches[1] : &s->batches[0];
        s->b->count = 0;
        ev_jsonl_buffer_clear(s->b->text);
    }
    return r;
}

/* Main thread: no more batches; waits for the appender to finish. */
static int finish(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    (void)pthread_join(s->thread, NULL);
    return s->error;
}

static bool input_ready(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

/* Reads, checks and batches lines until end of input; CLI_TROUBLE on a fatal failure. */
static int read_lines(struct stream *s, char *buf, size_t cap)
{
    size_t start = 0, end = 0;
    bool eof = false, skipping = false;

    for (;;) {
        /* Every complete line in the buffer becomes part of the batch. */
        for (;;) {
            char *nl = memchr(buf + start, '\n', end - start);
            if (nl == NULL) {
                break;
            }
            size_t len = (size_t)(nl - (buf + start));
            s->line++;
            if (skipping) {
                skipping = false; /* the tail of a line already reported as too long */
            } else if (add_line(s, buf + start, len) < 0) {
                cli_error("out of memory");
                return CLI_TROUBLE;
            }
            start += len + 1;
            if ((s->b->count == s->batch_max ||
                 ev_jsonl_buffer_size(s->b->text) >= BATCH_TEXT_MAX) &&
                hand_over(s) < 0) {
                return CLI_TROUBLE;
            }
        }
        if (eof) {
            if (end > start && !skipping) {
                s->line++;
                if (add_line(s, buf + start, end - start) < 0) {
                    cli_error("out of memory");
                    return CLI_TROUBLE;
                }
            }
            return hand_over(s) < 0 ? CLI_TROUBLE : CLI_OK;
        }
        /*
         * Keep the partial line; a line over the limit is reported once (as
         * ev_jsonl_read() words it for a whole line) and skipped.
         */
        if (end - start > EV_JSONL_LINE_MAX) {
            if (!skipping) {
                line_error(s, s->line + 1, "longer than %u bytes", EV_JSONL_LINE_MAX);
                skipping = true;
            }
            start = end;
        }
        memmove(buf, buf + start, end - start);
        end -= start;
        start = 0;
        /* Nothing more to read right now: have what we have appended before blocking. */
        if (s->b->count > 0 && !input_ready(STDIN_FILENO) && hand_over(s) < 0) {
            return CLI_TROUBLE;
        }
        ssize_t got = read(STDIN_FILENO, buf + end, cap - end);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            cli_error("cannot read standard input: %s", cli_strerror(errno));
            return CLI_TROUBLE;
        }
        eof = got == 0;
        end += (size_t)got;
    }
}

static int append_stream(struct cli *cli, enum ev_sync sync)
{
    struct stream *s = calloc(1, sizeof(*s));
    size_t cap = EV_JSONL_LINE_MAX + READ_BLOCK;
    char *buf = malloc(cap);
    bool started = false;
    int ret = CLI_TROUBLE, pipe_size;

    if (s == NULL || buf == NULL) {
        cli_error("out of memory");
        free(s);
        free(buf);
        return CLI_TROUBLE;
    }
    /* First, so that every way out below finds them initialized. */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->cli = cli;
    s->b = &s->batches[0];
    if (!cli_policy(cli, &s->policy)) {
        goto out;
    }
    s->batch_max = BATCH_MAX;
    if (cli->config != NULL && cli->config->performance.batch_max < BATCH_MAX) {
        s->batch_max = (size_t)cli->config->performance.batch_max;
    }
    for (int i = 0; i < 2; i++) {
        if (ev_jsonl_buffer_new(&s->batches[i].text) < 0) {
            cli_error("out of memory");
            goto out;
        }
    }
    if (!cli_open(cli, false, sync, &s->log)) {
        goto out;
    }
    /* A larger pipe lets the producer run ahead while we work (best effort). */
    pipe_size = fcntl(STDIN_FILENO, F_GETPIPE_SZ);
    if (pipe_size > 0 && (size_t)pipe_size < READ_BLOCK) {
        (void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, (int)READ_BLOCK);
    }
    int e = pthread_create(&s->thread, NULL, appender_main, s);
    if (e != 0) {
        cli_error("cannot start the appender thread: %s", cli_strerror(e));
        goto out;
    }
    started = true;
    ret = read_lines(s, buf, cap);
    started = false;
    if (finish(s) < 0) {
        ret = CLI_TROUBLE;
    }
    if (ret == CLI_OK) {
        struct ev_log *log = s->log;
        s->log = NULL;
        if (!cli_close(cli, log)) {
            ret = CLI_TROUBLE;
        } else if (s->rejected + s->lib_rejected > 0) {
            ret = CLI_PARTIAL;
        }
        if (s->dropped > 0) {
            cli_error("%llu events not appended: the policy drops them", s->dropped);
        }
    }
out:
    if (started) {
        (void)finish(s);
    }
    (void)ev_log_close(s->log);
    for (int i = 0; i < 2; i++) {
        ev_jsonl_buffer_free(s->batches[i].text);
    }
    free(s->out);
    ev_policy_free(s->policy);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    free(buf);
    return ret;
}

/* --jsonl while evidentd holds the log: the lines go to its socket as they are. */
static int append_through_daemon(int fd)
{
    struct cli_daemon_result res;
    int r = cli_daemon_send(fd, STDIN_FILENO, NULL, 0, &res);

    close(fd);
    if (fflush(stdout) != 0) {
        return CLI_TROUBLE;
    }
    if (res.dropped > 0) {
        cli_error("%llu events not appended: evidentd's policy drops them",
                  (unsigned long long)res.dropped);
    }
    if (r < 0) {
        cli_fail(r, "evidentd stopped answering; %llu lines were not acknowledged",
                 (unsigned long long)res.unanswered);
        return CLI_TROUBLE;
    }
    return res.rejected > 0 ? CLI_PARTIAL : CLI_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"type", required_argument, NULL, 't'},
        {"severity", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'S'},
        {"data", required_argument, NULL, 'D'},
        {"sync", required_argument, NULL, 'y'},
        {"jsonl", no_argument, NULL, 'j'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_event event = {.severity = -1};
    enum ev_sync sync = CLI_SYNC_CONFIG;
    bool jsonl = false, severity_given = false;
    int c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 't': event.type = optarg; break;
        case 's':
            if (ev_severity_parse(optarg, &event.severity) < 0) {
                return cli_usage_error(cli,
                                       "invalid severity '%s': expected emergency, alert, "
                                       "critical, error, warning, notice, info or debug",
                                       optarg);
            }
            severity_given = true;
            break;
        case 'S': event.source_json = optarg; break;
        case 'D': event.data_json = optarg; break;
        case 'y':
            if (ev_sync_parse(optarg, &sync) < 0) {
                return cli_usage_error(cli,
                                       "invalid sync mode '%s': expected always, interval "
                                       "or never",
                                       optarg);
            }
            break;
        case 'j': jsonl = true; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (jsonl) {
        if (event.type || severity_given || event.source_json || event.data_json) {
            return cli_usage_error(cli, "--jsonl takes the events from standard input, not "
                                        "from --type, --severity, --source or --data");
        }
        int daemon = cli_daemon_connect(cli);
        if (daemon >= 0) {
            return append_through_daemon(daemon);
        }
        return append_stream(cli, sync);
    }
    if (event.type == NULL) {
        return cli_usage_error(cli, "--type is required (or --jsonl)");
    }
    return cli_record_event(cli, &event, sync, false);
}

const struct cli_command cli_cmd_append = {
    .name = "append",
    .summary = "append an event, or events as JSON Lines from stdin",
    .usage = usage,
    .run = run,
};
