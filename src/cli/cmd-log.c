/* SPDX-License-Identifier: Apache-2.0 */
/* evident log: list entries, filtered, as text or JSON Lines; optionally follow. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <evident/datakey.h>
#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

#define FOLLOW_POLL_NS 200000000L

static const char usage[] =
    "usage: evident [-d DIR] log [--type TYPE] [--severity SEVERITY] [--source TEXT]\n"
    "                           [--since TIME] [--until TIME] [--from N] [--to N]\n"
    "                           [--json] [--follow] [--data-key FILE]\n"
    "\n"
    "Lists the entries of the log, oldest first. Each line of the default output is\n"
    "    INDEX TS SEVERITY TYPE SOURCE DATA\n"
    "where SOURCE is user@host:program[pid] (or the source object when it holds other\n"
    "keys) and DATA the data object. With --json each line is the exact stored entry\n"
    "(JSON Lines), the bytes that are hashed.\n"
    "\n"
    "Encrypted entries (docs/FORMAT.md §5.1) are shown decrypted when their data key\n"
    "is given (--data-key FILE, or privacy.encryption.key_file of -c CONFIG); --json\n"
    "then prints the entry they decrypt to ('evident entry N' gives the stored bytes).\n"
    "Without the key an entry is listed as\n"
    "    INDEX TS SEVERITY TYPE [encrypted: data key KID]\n"
    "(--json: the stored entry), and a note on stderr says how many were not read.\n"
    "\n"
    "Options:\n"
    "  --type TYPE          only entries of this type\n"
    "  --severity SEVERITY  only entries of this severity or more severe\n"
    "  --source TEXT        only entries whose source object's JSON text contains TEXT\n"
    "  --since TIME         only entries with ts >= TIME (e.g. 2026-11-27T09:00:00Z)\n"
    "  --until TIME         only entries with ts < TIME\n"
    "  --from N             start at entry N (default 0)\n"
    "  --to N               stop before entry N (default: the end of the log)\n"
    "  --json               print the stored entries as JSON Lines\n"
    "  --data-key FILE      the data key file for encrypted entries\n"
    "  --follow             keep printing new entries as they are appended (checked\n"
    "                       every 200 ms) until interrupted (SIGINT or SIGTERM)\n"
    "  -d, --dir DIR        the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 ok (also when --follow ends on a signal, and when entries were not\n"
    "decrypted for want of their key); 2 usage error, no log, a record that cannot be\n"
    "read (run 'evident verify'), or an entry that does not decrypt with its key.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct printer {
    struct ev_log *log;
    const char *dir;
    bool json;
    uint64_t no_key;      /* encrypted entries whose key was not given */
    uint64_t undecrypted; /* entries that did not decrypt with their key */
    uint64_t next;        /* index after the last entry seen */
    int error;            /* -errno from writing stdout */
    int read_error;       /* from reading an entry (ev_log_decrypt) */
};

static const char *string_of(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

/* user@host:program[pid] for the default source, its JSON for anything else. */
static void print_source(FILE *out, json_t *source)
{
    static const char *const known[] = {"host", "program", "pid", "uid", "user"};
    const char *key;
    json_t *value;
    bool plain = json_is_object(source) && json_object_size(source) > 0;

    json_object_foreach(source, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            ok = ok || strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            plain = false;
        }
    }
    if (!plain) {
        char *text = json_dumps(source, JSON_COMPACT | JSON_SORT_KEYS);
        (void)fputs(text != NULL ? text : "{}", out);
        free(text);
        return;
    }
    const char *user = string_of(source, "user"), *host = string_of(source, "host");
    const char *program = string_of(source, "program");
    json_t *pid = json_object_get(source, "pid");
    if (user[0]) {
        (void)fprintf(out, "%s@", user);
    }
    (void)fputs(host[0] ? host : "-", out);
    if (program[0] || json_is_integer(pid)) {
        (void)fprintf(out, ":%s", program[0] ? program : "-");
    }
    if (json_is_integer(pid)) {
        (void)fprintf(out, "[%lld]", (long long)json_integer_value(pid));
    }
}

/* An encrypted entry that could not be read: its visible fields and why. */
static void print_encrypted(FILE *out, const struct ev_entry *e, const char *why)
{
    json_error_t jerr;
    json_t *root = json_loadb(e->bytes, e->len, 0, &jerr);
    json_t *enc = json_object_get(root, "enc");

    (void)fprintf(out, "%llu %s %s %s [%s: data key %s]\n", (unsigned long long)e->index,
                  string_of(root, "ts"), string_of(root, "severity"), string_of(root, "type"), why,
                  string_of(enc, "key"));
    json_decref(root);
}

static void print_human(FILE *out, const struct ev_entry *e, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);

    if (!json_is_object(root)) {
        /* Not expected from an intact log: show the bytes rather than nothing. */
        (void)fprintf(out, "%llu ? ? ? ? %s\n", (unsigned long long)e->index, e->bytes);
        json_decref(root);
        return;
    }
    (void)fprintf(out, "%llu %s %s %s ", (unsigned long long)e->index, string_of(root, "ts"),
                  string_of(root, "severity"), string_of(root, "type"));
    print_source(out, json_object_get(root, "source"));
    char *data = json_dumps(json_object_get(root, "data"), JSON_COMPACT | JSON_SORT_KEYS);
    (void)fprintf(out, " %s\n", data != NULL ? data : "{}");
    free(data);
    json_decref(root);
}

static int visit(void *ctx, const struct ev_entry *entry)
{
    struct printer *p = ctx;
    char *text = NULL;
    size_t len = 0;
    int r = ev_log_decrypt(p->log, entry, &text, &len);

    if (r == EV_ENOKEY || r == EV_EDECRYPT) {
        if (r == EV_ENOKEY) {
            p->no_key++;
        } else if (p->undecrypted++ == 0) {
            cli_fail_read(r, "cannot read '%s'", p->dir);
        }
        if (p->json) {
            (void)fwrite(entry->bytes, 1, entry->len, stdout);
            (void)fputc('\n', stdout);
        } else {
            print_encrypted(stdout, entry, r == EV_ENOKEY ? "encrypted" : "does not decrypt");
        }
    } else if (r < 0) {
        p->read_error = r;
        return r;
    } else if (p->json) {
        (void)fwrite(text, 1, len, stdout);
        (void)fputc('\n', stdout);
    } else {
        print_human(stdout, entry, text, len);
    }
    free(text);
    p->next = entry->index + 1;
    if (ferror(stdout)) {
        p->error = -(errno ? errno : EIO);
        return p->error;
    }
    return stop_requested ? 1 : 0;
}

static int scan(struct cli *cli, struct ev_log *log, uint64_t from, uint64_t to,
                const struct ev_filter *filter, struct printer *p)
{
    int r = ev_log_scan(log, from, to, filter, visit, p);

    if (r < 0 && r == p->read_error) {
        return cli_fail_read(r, "cannot read '%s'", cli->dir);
    }
    if (p->error < 0) {
        cli_error("cannot write to standard output: %s", cli_strerror(-p->error));
        return CLI_TROUBLE;
    }
    if (r < 0) {
        return cli_fail_read(r, "cannot read '%s'", cli->dir);
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output: %s", cli_strerror(errno));
        return CLI_TROUBLE;
    }
    return CLI_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"type", required_argument, NULL, 't'},
        {"severity", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'S'},
        {"since", required_argument, NULL, 'a'},
        {"until", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'j'},
        {"follow", no_argument, NULL, 'F'},
        {"data-key", required_argument, NULL, 'K'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_filter filter = {.max_severity = -1};
    struct printer p = {0};
    uint64_t from = 0, to = UINT64_MAX;
    bool follow = false;
    struct ev_log *log = NULL;
    int c, r;

    cli->decrypts = true; /* shows source and data: needs the data keys (FORMAT.md §5.1) */
    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 't': filter.type = optarg; break;
        case 's':
            if (ev_severity_parse(optarg, &filter.max_severity) < 0) {
                return cli_usage_error(cli, "invalid severity '%s'", optarg);
            }
            break;
        case 'S': filter.source = optarg; break;
        case 'a':
            if (!cli_parse_time("--since time", optarg, &filter.since_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'b':
            if (!cli_parse_time("--until time", optarg, &filter.until_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'f':
            if (!cli_parse_u64("--from index", optarg, &from)) {
                return CLI_TROUBLE;
            }
            break;
        case 'T':
            if (!cli_parse_u64("--to index", optarg, &to)) {
                return CLI_TROUBLE;
            }
            break;
        case 'j': p.json = true; break;
        case 'F': follow = true; break;
        case 'K': cli->data_key_path = optarg; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (follow) {
        struct sigaction sa = {.sa_handler = on_signal};
        (void)sigemptyset(&sa.sa_mask);
        /* No SA_RESTART: the signal must cut the 200 ms sleep short. */
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
    }
    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    p.next = from;
    p.log = log;
    p.dir = cli->dir;
    r = scan(cli, log, from, to, &filter, &p);
    /* Entries that the filter skipped still move the follow position on. */
    uint64_t size = ev_log_size(log);
    uint64_t next = size < to ? size : to;
    if (next < from) {
        next = from;
    }
    while (r == CLI_OK && follow && !stop_requested && next < to) {
        struct timespec ts = {0, FOLLOW_POLL_NS};
        (void)nanosleep(&ts, NULL);
        if (stop_requested) {
            break;
        }
        int rr = ev_log_refresh(log);
        if (rr < 0) {
            r = cli_fail(rr, "cannot read '%s'", cli->dir);
            break;
        }
        size = ev_log_size(log);
        uint64_t end = size < to ? size : to;
        if (end > next) {
            r = scan(cli, log, next, end, &filter, &p);
            next = end;
        }
    }
    if (p.no_key > 0) {
        cli_error("%llu encrypted entries not shown: their data key was not given %s",
                  (unsigned long long)p.no_key, CLI_DATA_KEY_HINT);
    }
    if (r == CLI_OK && p.undecrypted > 0) {
        cli_error("%llu entries do not decrypt with their data key (wrong key or damaged "
                  "entries; run 'evident verify')",
                  (unsigned long long)p.undecrypted);
        r = CLI_TROUBLE;
    }
    (void)ev_log_close(log);
    return r;
}

const struct cli_command cli_cmd_log = {
    .name = "log",
    .summary = "list entries (filters, JSON Lines, --follow)",
    .usage = usage,
    .run = run,
};
