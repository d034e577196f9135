/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of the evident command line tool: the command table entry,
 * exit codes, messages, option and number parsing, files and output.
 *
 * The CLI is a thin layer over the public API (include/evident/): it parses
 * arguments, calls the library and prints. It never reaches into src/lib.
 */
#ifndef EVIDENT_CLI_H
#define EVIDENT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

/* Exit codes: scripts depend on them (STYLE.md, "Errors"). */
enum {
    CLI_OK = 0,      /* done; verified */
    CLI_FAILED = 1,  /* verification failed */
    CLI_TROUBLE = 2, /* could not check: usage, I/O, configuration */
    CLI_PARTIAL = 3, /* append --jsonl: some lines were rejected, the others went in */
};

#define CLI_DEFAULT_DIR "evident-log"
#define CLI_DIR_ENV "EVIDENT_DIR"
#define CLI_CONFIG_ENV "EVIDENT_CONFIG"
/* Seconds a writer waits for another writer's lock (default 5; 0 = do not wait). */
#define CLI_LOCK_TIMEOUT_ENV "EVIDENT_LOCK_TIMEOUT"
#define CLI_SOCKET_ENV "EVIDENT_SOCKET"

struct cli;
struct ev_config;

/* One subcommand: a row of the command table in main.c. */
struct cli_command {
    const char *name;
    const char *summary; /* one line for 'evident --help' */
    const char *usage;   /* full --help text: usage, options, exit codes */
    int (*run)(struct cli *cli, int argc, char **argv);
};

/* What every command gets: the log directory and its own table row. */
struct cli {
    const char *dir;
    const struct cli_command *command;
    const char *config_path;        /* -c/--config or $EVIDENT_CONFIG; NULL = defaults */
    const struct ev_config *config; /* that file, loaded by main(); NULL = defaults */
    const char *data_key_path;      /* --data-key FILE of a reading command; NULL = none */
    bool decrypts;                  /* the command shows source and data (log, show, ...) */
};

/*
 * The sync mode a command uses when its --sync was not given: the
 * configuration's log.sync (always without one).
 */
#define CLI_SYNC_CONFIG ((enum ev_sync) - 1)

/* The rows, one per cmd-<name>.c. */
extern const struct cli_command cli_cmd_init, cli_cmd_append, cli_cmd_log, cli_cmd_show,
    cli_cmd_entry, cli_cmd_info, cli_cmd_checkpoint, cli_cmd_pubkey, cli_cmd_prove, cli_cmd_verify,
    cli_cmd_verify_proof, cli_cmd_export, cli_cmd_seal, cli_cmd_event, cli_cmd_ingest,
    cli_cmd_config, cli_cmd_summary, cli_cmd_report, cli_cmd_token, cli_cmd_backup, cli_cmd_restore,
    cli_cmd_publish, cli_cmd_prune, cli_cmd_datakey;

/*
 * integrity.publish around a command that may sign a checkpoint (cmd-publish.c):
 * before returns the log's latest note (or NULL); after publishes the latest
 * one if it changed, says on stderr when a destination fails, frees before and
 * returns code unchanged.
 */
char *cli_publish_before(const struct cli *cli, size_t *ret_len);
int cli_publish_after(const struct cli *cli, int code, char *before, size_t before_len);

/* ---- options ------------------------------------------------------------ */

/* Every command also takes these; its short option string starts with CLI_SHORTOPTS. */
#define CLI_SHORTOPTS ":d:h"
#define CLI_LONGOPTS                                                                               \
    {"dir", required_argument, NULL, 'd'},                                                         \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/*
 * Handles the options every command shares and getopt's errors: 'd' sets the
 * directory, 'h' prints the command's help, '?' and ':' print a usage error.
 * Returns -1 to go on parsing, or the exit code to return.
 */
int cli_common_option(struct cli *cli, int c, char **argv);

/* "evident: NAME: MESSAGE" plus a pointer to --help; returns CLI_TROUBLE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets getopt for a new argument vector. */
void cli_getopt_reset(void);

/* ---- messages ----------------------------------------------------------- */

/* "evident: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * "evident: MESSAGE: CAUSE" where the cause comes from the library's code r
 * and ev_last_error(). Call it right after the failing library call.
 * Returns CLI_TROUBLE.
 */
int cli_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strerror(e), lowercase as messages are. */
const char *cli_strerror(int e);

/* The cause text for code r (lowercase), with the library's detail when it adds any. */
const char *cli_cause(int r);

/* ---- parsing ------------------------------------------------------------ */

/* Strict unsigned decimal. false (and a message naming what) if not one. */
bool cli_parse_u64(const char *what, const char *text, uint64_t *ret);

/* "90", "90s", "15m", "1h", "2d" (>= 1 s) to ns. false (and a message) if not one. */
bool cli_parse_duration(const char *what, const char *text, uint64_t *ret_ns);

/* A time for --since/--until through ev_time_parse(). */
bool cli_parse_time(const char *what, const char *text, int64_t *ret_ns);

/* "3m12s", "2d4h", "0s". out holds at least 32 bytes. */
void cli_format_duration(int64_t ns, char *out, size_t cap);

/* RFC 3339 UTC with nine fraction digits. out holds at least 40 bytes. */
void cli_format_time(int64_t ns, char *out, size_t cap);

/* Lowercase hex of len bytes; out holds 2 * len + 1. */
void cli_hex(const uint8_t *data, size_t len, char *out);

/* Exactly 2 * len hex digits (either case) into out. */
bool cli_unhex(const char *text, size_t text_len, uint8_t *out, size_t len);

/* ---- files and the log -------------------------------------------------- */

/*
 * Reads a whole file (path "-" = stdin), at most max bytes; caller frees
 * *ret_data (NUL-terminated). Prints "cannot read 'PATH': ..." on failure.
 */
bool cli_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

/*
 * Reads the 32-byte verification key from a file of 64 hex digits (an
 * optional newline after). Refuses a file whose mode gives group or others
 * any access. Path "-" reads stdin. Prints its own message on failure.
 */
bool cli_read_verification_key(const char *path, uint8_t ret_key[EV_VERIFICATION_KEY_BYTES]);

/*
 * Writes data to path atomically (a temporary file, fsync, rename), or to
 * stdout when path is NULL. Prints its own message on failure.
 */
bool cli_write_output(const char *path, const void *data, size_t len);

/* Writes all of data to fd (retrying short writes and EINTR). 0 or -errno. */
int cli_write_all(int fd, const void *data, size_t len);

/*
 * Opens the log at cli->dir for reading (readonly) or writing with the sync
 * mode given. Prints "cannot open 'DIR': ..." on failure and returns false.
 */
bool cli_open(const struct cli *cli, bool readonly, enum ev_sync sync, struct ev_log **ret_log);

/*
 * Encryption at rest (docs/FORMAT.md §5.1): cli_open() gives a reader that
 * decrypts (cli->decrypts) the keys of --data-key FILE, else of the
 * configuration's privacy.encryption.key_file; a writer those of key_file
 * when privacy.encryption.enabled (it encrypts). Other readers (entry, info,
 * prove, export, verify) get none: they never need the key file.
 * The keys live until cli_data_keys_free(), which main() calls at the end.
 */
void cli_data_keys_free(void);

/* The data keys for a reader (readonly) or a writer, as above; NULL when none. false after a
 * message. */
bool cli_data_keys(const struct cli *cli, bool readonly, struct ev_datakeys **ret_keys);

/* The hint after a message about a missing data key (EV_ENOKEY). */
#define CLI_DATA_KEY_HINT "(privacy.encryption.key_file or --data-key FILE)"

/*
 * cli_fail() for reading entries: a missing data key (EV_ENOKEY) or one that
 * does not decrypt (EV_EDECRYPT) is said as the library says it, the first
 * followed by CLI_DATA_KEY_HINT. Returns CLI_TROUBLE.
 */
int cli_fail_read(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Closes a log opened for writing; prints and returns false on failure. */
bool cli_close(const struct cli *cli, struct ev_log *log);

/* After a failure r: when the disk is full, one line saying what that means. */
void cli_disk_full_hint(int r);

struct ev_checkpoint;

/*
 * The latest signed checkpoint of the log and its parsed body; caller frees
 * *ret_note. Prints its own message on failure (none signed yet, I/O).
 */
bool cli_latest_checkpoint(const struct cli *cli, struct ev_log *log, char **ret_note,
                           size_t *ret_len, struct ev_checkpoint *ret_checkpoint);

struct ev_config;
struct ev_policy;

/*
 * Loads the configuration (cli->config_path, or every default when NULL). Prints
 * the file's error (file:line:column: key: ...) and returns false on failure.
 */
bool cli_config(const struct cli *cli, struct ev_config **ret_config);

/* The event policy of the configuration. Prints its own message on failure. */
bool cli_policy(const struct cli *cli, struct ev_policy **ret_policy);

/*
 * One event through the policy into the log (append --type, event): prints
 * its index once durable (per sync), or with dry_run the data the policy
 * makes of it instead. An event the policy drops is said on stderr and is
 * CLI_OK. Prints its own messages; returns the exit code.
 */
int cli_record_event(struct cli *cli, const struct ev_event *event, enum ev_sync sync,
                     bool dry_run);

/* Wipes n bytes (secrets) in a way the compiler keeps. */
void cli_wipe(void *p, size_t n);

/* ---- a running evidentd (daemon.c) ------------------------------------------ */

/*
 * A connection to evidentd's Unix socket ($EVIDENT_SOCKET, else the
 * configuration's server.unix_socket when -c/--config is given), or -1 when
 * none accepts one: the caller then opens the log itself.
 */
int cli_daemon_connect(const struct cli *cli);

struct cli_daemon_result {
    uint64_t appended, rejected, dropped, unanswered;
};

/*
 * Sends JSON Lines (text, len; or in_fd's bytes when text is NULL) and prints
 * each reply as a local append would: the index on stdout, "line N: why" on
 * stderr. Closes nothing. 0 or -errno (the daemon went away: unanswered
 * lines were not acknowledged).
 */
int cli_daemon_send(int fd, int in_fd, const char *text, size_t len,
                    struct cli_daemon_result *ret_result);

/* An event as one JSON line for the daemon (newline included); caller frees. */
int cli_daemon_event_line(const struct ev_event *event, char **ret_line, size_t *ret_len);

#endif
