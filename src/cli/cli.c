/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the evident subcommands: see cli.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <evident/config.h>
#include <evident/datakey.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>
#include <evident/note.h>
#include <evident/policy.h>

#include "cli.h"

/* ---- messages ----------------------------------------------------------- */

__attribute__((format(printf, 1, 0))) static void vmessage(const char *fmt, va_list ap,
                                                           const char *cause)
{
    char msg[1024];

    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    if (cause != NULL) {
        (void)fprintf(stderr, "evident: %s: %s\n", msg, cause);
    } else {
        (void)fprintf(stderr, "evident: %s\n", msg);
    }
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap, NULL);
    va_end(ap);
}

const char *cli_cause(int r)
{
    static _Thread_local char cause[768];
    const char *name = ev_strerror(r);
    const char *detail = ev_last_error();

    (void)snprintf(cause, sizeof(cause), "%s", name);
    /* Messages are lowercase; strerror() capitalizes. */
    if (r > EV_ERRNO_BASE && cause[0] != '\0') {
        cause[0] = (char)tolower((unsigned char)cause[0]);
    }
    /* The library's detail says where; skip it when it only restates the cause. */
    if (detail != NULL && detail[0] != '\0' && strstr(detail, name) == NULL) {
        size_t n = strlen(cause);
        (void)snprintf(cause + n, sizeof(cause) - n, " (%s)", detail);
    }
    return cause;
}

int cli_fail_read(int r, const char *fmt, ...)
{
    char cause[768];
    va_list ap;

    if (r == EV_ENOKEY) {
        (void)snprintf(cause, sizeof(cause), "%s %s", ev_last_error(), CLI_DATA_KEY_HINT);
    } else if (r == EV_EDECRYPT) {
        (void)snprintf(cause, sizeof(cause), "%s", ev_last_error());
    } else {
        (void)snprintf(cause, sizeof(cause), "%s", cli_cause(r));
    }
    va_start(ap, fmt);
    vmessage(fmt, ap, cause);
    va_end(ap);
    return CLI_TROUBLE;
}

int cli_fail(int r, const char *fmt, ...)
{
    char cause[768];
    va_list ap;

    (void)snprintf(cause, sizeof(cause), "%s", cli_cause(r));
    va_start(ap, fmt);
    vmessage(fmt, ap, cause);
    va_end(ap);
    return CLI_TROUBLE;
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cli->command != NULL) {
        cli_error("%s: %s (see 'evident %s --help')", cli->command->name, msg, cli->command->name);
    } else {
        cli_error("%s (see 'evident --help')", msg);
    }
    return CLI_TROUBLE;
}

/* ---- options ------------------------------------------------------------ */

void cli_getopt_reset(void)
{
    optind = 0; /* glibc: 0 also resets its internal state */
    opterr = 0;
}

int cli_common_option(struct cli *cli, int c, char **argv)
{
    switch (c) {
    case 'd': cli->dir = optarg; return -1;
    case 'h':
        (void)fputs(cli->command->usage, stdout);
        return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
    case ':': return cli_usage_error(cli, "option '%s' needs a value", argv[optind - 1]);
    case '?':
        if (optopt != 0) {
            return cli_usage_error(cli, "unknown option '-%c'", optopt);
        }
        return cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
    default: return cli_usage_error(cli, "unexpected option");
    }
}

/* ---- parsing ------------------------------------------------------------ */

static bool parse_digits(const char *text, const char **ret_end, uint64_t *ret)
{
    uint64_t v = 0;
    const char *p = text;

    if (*p < '0' || *p > '9') {
        return false;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *ret_end = p;
    *ret = v;
    return true;
}

bool cli_parse_u64(const char *what, const char *text, uint64_t *ret)
{
    const char *end;
    uint64_t v;

    if (!parse_digits(text, &end, &v) || *end != '\0') {
        cli_error("invalid %s '%s': expected a non-negative decimal number", what, text);
        return false;
    }
    *ret = v;
    return true;
}

bool cli_parse_duration(const char *what, const char *text, uint64_t *ret_ns)
{
    const char *end;
    uint64_t v, unit = 1;

    if (!parse_digits(text, &end, &v)) {
        goto bad;
    }
    switch (*end) {
    case '\0':
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: goto bad;
    }
    if (*end != '\0' && end[1] != '\0') {
        goto bad;
    }
    if (v == 0) {
        cli_error("invalid %s '%s': must be at least 1s", what, text);
        return false;
    }
    if (v > UINT64_MAX / unit / 1000000000ull) {
        cli_error("invalid %s '%s': too long", what, text);
        return false;
    }
    *ret_ns = v * unit * 1000000000ull;
    return true;
bad:
    cli_error("invalid %s '%s': expected a number of seconds or a number followed by s, m, "
              "h or d (90s, 15m, 1h, 2d)",
              what, text);
    return false;
}

bool cli_parse_time(const char *what, const char *text, int64_t *ret_ns)
{
    int r = ev_time_parse(text, ret_ns);
    if (r < 0) {
        cli_error("invalid %s '%s': expected a time like 2026-11-27T09:00:00Z", what, text);
        return false;
    }
    return true;
}

void cli_format_duration(int64_t ns, char *out, size_t cap)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    int64_t secs = ns < 0 ? 0 : ns / 1000000000;
    size_t n = 0;
    int shown = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
        int64_t q = secs / units[i].secs;
        if (q == 0 && !(units[i].unit == 's' && shown == 0)) {
            if (shown > 0) {
                break; /* "2d" not "2d0h" */
            }
            continue;
        }
        secs -= q * units[i].secs;
        int w = snprintf(out + n, cap - n, "%" PRId64 "%c", q, units[i].unit);
        if (w < 0 || (size_t)w >= cap - n) {
            break;
        }
        n += (size_t)w;
        shown++;
    }
}

void cli_format_time(int64_t ns, char *out, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;

    if (frac < 0) {
        secs--;
        frac += 1000000000;
    }
    if (gmtime_r(&secs, &tm) == NULL) {
        (void)snprintf(out, cap, "?");
        return;
    }
    (void)snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void cli_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static int unhex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool cli_unhex(const char *text, size_t text_len, uint8_t *out, size_t len)
{
    if (text_len != 2 * len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        int hi = unhex_digit(text[2 * i]), lo = unhex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void cli_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

/* ---- files -------------------------------------------------------------- */

static int read_fd(int fd, size_t max, char **ret_data, size_t *ret_len)
{
    size_t cap = 4096, len = 0;
    char *data = malloc(cap + 1);

    if (data == NULL) {
        return -ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                free(data);
                return -EFBIG;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *n = realloc(data, ncap + 1);
            if (n == NULL) {
                free(data);
                return -ENOMEM;
            }
            data = n;
            cap = ncap;
        }
        ssize_t got = read(fd, data + len, cap - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            int e = errno;
            free(data);
            return -e;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
        if (len > max) {
            free(data);
            return -EFBIG;
        }
    }
    data[len] = '\0';
    *ret_data = data;
    *ret_len = len;
    return 0;
}

const char *cli_strerror(int e)
{
    static _Thread_local char text[128];
    (void)snprintf(text, sizeof(text), "%s", strerror(e));
    text[0] = (char)tolower((unsigned char)text[0]);
    return text;
}

bool cli_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    int r;

    if (fd < 0) {
        cli_error("cannot read '%s': %s", path, cli_strerror(errno));
        return false;
    }
    r = read_fd(fd, max, ret_data, ret_len);
    if (fd != STDIN_FILENO) {
        (void)close(fd);
    }
    if (r == -EFBIG) {
        cli_error("cannot read '%s': larger than %zu bytes", path, max);
        return false;
    }
    if (r < 0) {
        cli_error("cannot read '%s': %s", path, cli_strerror(-r));
        return false;
    }
    return true;
}

bool cli_read_verification_key(const char *path, uint8_t ret_key[EV_VERIFICATION_KEY_BYTES])
{
    bool from_stdin = strcmp(path, "-") == 0;
    int fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char text[2 * EV_VERIFICATION_KEY_BYTES + 3];
    size_t len = 0;
    struct stat st;
    bool ok = false;

    if (fd < 0) {
        cli_error("cannot read verification key file '%s': %s", path, cli_strerror(errno));
        return false;
    }
    if (!from_stdin) {
        if (fstat(fd, &st) < 0) {
            cli_error("cannot read verification key file '%s': %s", path, cli_strerror(errno));
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            cli_error("cannot read verification key file '%s': not a regular file", path);
            goto out;
        }
        if ((st.st_mode & 077) != 0) {
            cli_error("refusing verification key file '%s': mode %04o lets group or others "
                      "read it (chmod 600 '%s')",
                      path, (unsigned)(st.st_mode & 07777), path);
            goto out;
        }
    }
    while (len < sizeof(text)) {
        ssize_t got = read(fd, text + len, sizeof(text) - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            cli_error("cannot read verification key file '%s': %s", path, cli_strerror(errno));
            goto out;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    if (len > 0 && text[len - 1] == '\n') {
        len--;
    }
    if (!cli_unhex(text, len, ret_key, EV_VERIFICATION_KEY_BYTES)) {
        cli_error("invalid verification key file '%s': expected 64 hex digits and a newline", path);
        goto out;
    }
    ok = true;
out:
    cli_wipe(text, sizeof(text));
    if (!from_stdin) {
        (void)close(fd);
    }
    return ok;
}

int cli_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

bool cli_write_output(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    int fd, r;

    if (path == NULL) {
        r = cli_write_all(STDOUT_FILENO, data, len);
        if (r < 0) {
            cli_error("cannot write to standard output: %s", cli_strerror(-r));
            return false;
        }
        return true;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /*
         * A device, a FIFO, a socket (-o /dev/null, -o /dev/stdout, a pipe):
         * written into as it is. The atomic replacement below would put a
         * regular file in its place, which as root replaces /dev/null.
         */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            cli_error("cannot write '%s': %s", path, cli_strerror(errno));
            return false;
        }
        r = cli_write_all(fd, data, len);
        if (close(fd) < 0 && r == 0) {
            r = -errno;
        }
        if (r < 0) {
            cli_error("cannot write '%s': %s", path, cli_strerror(-r));
            return false;
        }
        return true;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= sizeof(tmp)) {
        cli_error("cannot write '%s': path too long", path);
        return false;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cli_error("cannot write '%s': %s", path, cli_strerror(errno));
        return false;
    }
    r = cli_write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        (void)unlink(tmp);
        cli_error("cannot write '%s': %s", path, cli_strerror(-r));
        return false;
    }
    return true;
}

/* ---- the log ------------------------------------------------------------ */

/* Whether the lock error's "held by pid N" names an evidentd process. */
static bool lock_held_by_daemon(const char *message)
{
    const char *at = strstr(message, "pid ");
    char path[64], comm[32] = "";
    FILE *f;

    if (at == NULL) {
        return false;
    }
    long pid = strtol(at + 4, NULL, 10);
    if (pid <= 0) {
        return false;
    }
    (void)snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    if ((f = fopen(path, "r")) == NULL) {
        return false;
    }
    bool got = fgets(comm, sizeof(comm), f) != NULL;
    fclose(f);
    return got && strncmp(comm, "evidentd", 8) == 0;
}

static struct ev_datakeys *data_keys; /* borrowed by the logs cli_open() opens */

void cli_data_keys_free(void)
{
    ev_datakeys_free(data_keys);
    data_keys = NULL;
}

bool cli_data_keys(const struct cli *cli, bool readonly, struct ev_datakeys **ret_keys)
{
    const char *path = NULL;

    if (readonly && cli->data_key_path != NULL) {
        path = cli->data_key_path;
    } else if (cli->config != NULL && cli->config->privacy.encryption_key_file != NULL &&
               (readonly || cli->config->privacy.encrypt)) {
        path = cli->config->privacy.encryption_key_file;
    }
    *ret_keys = NULL;
    if (path == NULL || (readonly && !cli->decrypts)) {
        return true;
    }
    if (data_keys == NULL) {
        int r = ev_datakeys_load(path, &data_keys);
        if (r < 0) {
            cli_fail(r, "cannot load the data keys");
            return false;
        }
    }
    *ret_keys = data_keys;
    return true;
}

bool cli_open(const struct cli *cli, bool readonly, enum ev_sync sync, struct ev_log **ret_log)
{
    struct ev_open_options options = {
        .flags = readonly ? EV_OPEN_READONLY : 0,
        .sync = sync == CLI_SYNC_CONFIG ? EV_SYNC_ALWAYS : sync,
    };
    if (cli->config != NULL) {
        /*
         * log.sync, log.sync_interval, integrity.checkpoint_interval,
         * storage.segment_size, segment_max_age, compression, compression_level,
         * direct_io
         */
        if (sync == CLI_SYNC_CONFIG) {
            options.sync = cli->config->log.sync;
        }
        options.sync_interval_ns = cli->config->log.sync_interval_ns;
        options.checkpoint_interval_ns = cli->config->integrity.checkpoint_interval_ns;
        options.segment_bytes = cli->config->storage.segment_bytes;
        options.segment_max_age_ns = cli->config->storage.segment_max_age_ns;
        options.compression = (int)cli->config->storage.compression;
        options.compression_level = cli->config->storage.compression_level;
        options.no_direct_io = !cli->config->storage.direct_io;
    }
    char meta[PATH_MAX];
    const char *wait = getenv(CLI_LOCK_TIMEOUT_ENV);

    if (wait != NULL && wait[0] != '\0') {
        char *end;
        errno = 0;
        long seconds = strtol(wait, &end, 10);
        if (errno != 0 || *end != '\0' || seconds < 0 || seconds > 86400) {
            cli_error("%s='%s' is not a number of seconds (0..86400)", CLI_LOCK_TIMEOUT_ENV, wait);
            return false;
        }
        /* 0 means: do not wait at all. */
        options.lock_timeout_ms = seconds == 0 ? -1 : (int)(seconds * 1000);
    }
    struct stat st;
    int r;

    /* Say plainly when there is no log at all: the usual mistake is the directory. */
    (void)snprintf(meta, sizeof(meta), "%s/evident.meta", cli->dir);
    if (stat(cli->dir, &st) < 0 && errno == ENOENT) {
        cli_error("cannot open '%s': no such directory (use -d DIR, set %s, or run 'evident "
                  "init')",
                  cli->dir, CLI_DIR_ENV);
        return false;
    }
    if (stat(meta, &st) < 0 && errno == ENOENT) {
        cli_error("cannot open '%s': not an evident log (no evident.meta; run 'evident init')",
                  cli->dir);
        return false;
    }
    if (!cli_data_keys(cli, readonly, &options.data_keys)) {
        return false;
    }
    r = ev_log_open(cli->dir, &options, ret_log);
    if (r == EV_ELOCKED && !readonly && lock_held_by_daemon(ev_last_error())) {
        cli_fail(r, "cannot open '%s'", cli->dir);
        cli_error("evidentd holds this log: write through it with -c CONFIG (its "
                  "server.unix_socket) or %s=SOCKET",
                  CLI_SOCKET_ENV);
        return false;
    }
    if (r < 0) {
        cli_fail(r, "cannot open '%s'", cli->dir);
        cli_disk_full_hint(r);
        return false;
    }
    return true;
}

bool cli_close(const struct cli *cli, struct ev_log *log)
{
    int r = ev_log_close(log);
    if (r < 0) {
        cli_fail(r, "cannot close '%s'", cli->dir);
        cli_disk_full_hint(r);
        return false;
    }
    return true;
}

void cli_disk_full_hint(int r)
{
    if (r == -ENOSPC || r == -EDQUOT) {
        cli_error("the log's file system is full: nothing after the last index printed was "
                  "acknowledged; free space, then check the log with 'evident verify'");
    }
}

bool cli_latest_checkpoint(const struct cli *cli, struct ev_log *log, char **ret_note,
                           size_t *ret_len, struct ev_checkpoint *ret_checkpoint)
{
    char *note = NULL;
    size_t len;
    int r = ev_log_latest_checkpoint(log, &note, &len);

    if (r == -ENOENT) {
        cli_error("'%s' has no signed checkpoint yet (sign one with 'evident checkpoint --new')",
                  cli->dir);
        return false;
    }
    if (r < 0) {
        cli_fail(r, "cannot read the checkpoint of '%s'", cli->dir);
        return false;
    }
    /* The note text ends at the blank line before the signatures (C2SP signed-note). */
    const char *blank = strstr(note, "\n\n");
    r = blank == NULL ? EV_EFORMAT
                      : ev_checkpoint_parse(note, (size_t)(blank - note) + 1, ret_checkpoint);
    if (r < 0) {
        cli_fail(r, "cannot read the checkpoint of '%s'", cli->dir);
        free(note);
        return false;
    }
    *ret_note = note;
    *ret_len = len;
    return true;
}

bool cli_config(const struct cli *cli, struct ev_config **ret_config)
{
    int r = cli->config_path != NULL ? ev_config_load(cli->config_path, ret_config)
                                     : ev_config_defaults(ret_config);
    if (r < 0) {
        if (r == EV_EFORMAT) {
            cli_error("%s", ev_last_error());
        } else {
            cli_fail(r, "cannot read the configuration '%s'",
                     cli->config_path != NULL ? cli->config_path : "(defaults)");
        }
        return false;
    }
    return true;
}

bool cli_policy(const struct cli *cli, struct ev_policy **ret_policy)
{
    struct ev_config *config = NULL;
    if (cli->config == NULL && !cli_config(cli, &config)) {
        return false;
    }
    int r = ev_policy_new(cli->config != NULL ? cli->config : config, ret_policy);
    ev_config_free(config);
    if (r < 0) {
        cli_fail(r, "cannot build the event policy");
        return false;
    }
    return true;
}

/* One event through a running evidentd (daemon.c); closes fd. */
static int daemon_append(int fd, const struct ev_event *event)
{
    struct cli_daemon_result res;
    char *line = NULL;
    size_t len = 0;
    int r = cli_daemon_event_line(event, &line, &len);

    if (r == 0) {
        r = cli_daemon_send(fd, -1, line, len, &res);
    }
    free(line);
    close(fd);
    if (r < 0) {
        return cli_fail(r, "evidentd did not acknowledge the event");
    }
    if (res.dropped > 0) {
        cli_error("not appended: evidentd's policy drops %s events of this severity", event->type);
    }
    return res.rejected > 0 ? CLI_TROUBLE : (fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE);
}

int cli_record_event(struct cli *cli, const struct ev_event *event, enum ev_sync sync, bool dry_run)
{
    struct ev_policy *policy = NULL;
    struct ev_prepared prepared;
    struct ev_log *log = NULL;
    uint64_t index;

    if (!cli_policy(cli, &policy)) {
        return CLI_TROUBLE;
    }
    int r = ev_event_prepare(policy, event, &prepared);
    ev_policy_free(policy);
    if (r < 0) {
        return cli_fail(r, "invalid %s event", event->type);
    }
    if (prepared.dropped) {
        cli_error("not appended: the policy drops %s events of severity %s", prepared.type,
                  ev_severity_name(prepared.event.severity));
        ev_prepared_release(&prepared);
        return CLI_OK;
    }
    if (dry_run) {
        (void)printf("{\"type\":\"%s\",\"severity\":\"%s\",\"data\":%s}\n", prepared.type,
                     ev_severity_name(prepared.event.severity), prepared.event.data_json);
        ev_prepared_release(&prepared);
        return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
    }
    int daemon = cli_daemon_connect(cli);
    if (daemon >= 0) {
        /* evidentd holds the log: it applies its own policy to the event as given. */
        ev_prepared_release(&prepared);
        return daemon_append(daemon, event);
    }
    if (!cli_open(cli, false, sync, &log)) {
        ev_prepared_release(&prepared);
        return CLI_TROUBLE;
    }
    r = ev_log_append(log, &prepared.event, &index);
    ev_prepared_release(&prepared);
    if (r < 0) {
        cli_fail(r, "cannot append to '%s'", cli->dir);
        cli_disk_full_hint(r);
        (void)ev_log_close(log);
        return CLI_TROUBLE;
    }
    r = ev_log_close(log);
    if (r < 0 && sync == EV_SYNC_ALWAYS) {
        /*
         * The event was durable when the append returned: only the close's
         * seal or checkpoint failed (a full disk, most often). Say so, and
         * print its index: a script that retried would append it twice.
         */
        (void)printf("%llu\n", (unsigned long long)index);
        cli_error("warning: event %llu is durable, but closing '%s' failed: %s (the next writer "
                  "signs its checkpoint)",
                  (unsigned long long)index, cli->dir, cli_cause(r));
        return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
    }
    if (r < 0) {
        cli_fail(r, "event %llu may not have reached the disk: cannot close '%s'",
                 (unsigned long long)index, cli->dir);
        cli_disk_full_hint(r);
        return CLI_TROUBLE;
    }
    (void)printf("%llu\n", (unsigned long long)index);
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}
