/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident publish: copy the latest signed checkpoint to the places that
 * integrity.publish names (and --to), off the host (include/evident/publish.h).
 * Also the hook main.c runs after commands that sign checkpoints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/publish.h>

#include "cli.h"

#define MAX_DESTINATIONS (EV_CONFIG_MAX_PUBLISH + 16)

static const char usage[] =
    "usage: evident [-c CONFIG] [-d DIR] publish [--to DEST]...\n"
    "\n"
    "Copies the log's latest signed checkpoint to every destination of the\n"
    "configuration's integrity.publish and every --to: a directory (written as\n"
    "DEST/<origin>/<tree size>.checkpoint, atomically) or an http(s):// URL (POSTed\n"
    "as text/plain, with retries). With integrity.publish set, 'init', 'append',\n"
    "'event', 'ingest', 'checkpoint' and 'seal' publish on their own whenever they\n"
    "signed a new checkpoint; run this to catch up after a destination was away.\n"
    "'evident verify --checkpoint-dir DIR' checks the log against what was published.\n"
    "\n"
    "Options:\n"
    "  --to DEST      a directory or URL, in addition to integrity.publish\n"
    "                 (repeatable)\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 every destination has the checkpoint; 1 a directory already held\n"
    "another checkpoint for the same tree size (the log forked: both are kept);\n"
    "2 usage error, no log, no destination, a destination failed.\n";

/* The latest note of the log, or NULL (with a message unless quiet). Caller frees. */
static char *latest_note(const struct cli *cli, size_t *ret_len, bool quiet)
{
    struct ev_log *log = NULL;
    struct ev_open_options oo = {.flags = EV_OPEN_READONLY};
    char *note = NULL;
    int r = ev_log_open(cli->dir, &oo, &log);

    if (r == 0) {
        r = ev_log_latest_checkpoint(log, &note, ret_len);
    }
    (void)ev_log_close(log);
    if (r < 0) {
        if (!quiet) {
            cli_fail(r, "cannot read the latest checkpoint of '%s'", cli->dir);
        }
        return NULL;
    }
    return note;
}

static int publish(const struct cli *cli, const char *note, size_t len, const char *const *dests,
                   size_t count, bool verbose)
{
    struct ev_publish_options po = {.timeout_ns = 0, .retries = -1};
    struct ev_publish_report rep;
    const struct ev_config *cfg = cli->config;

    if (cfg != NULL) {
        po.timeout_ns = cfg->alerting.webhook_timeout_ns;
        po.retries = (int)cfg->alerting.webhook_retries;
    }
    int r = ev_checkpoint_publish(note, len, dests, count, &po, &rep);
    if (r == EV_EFORKED) {
        cli_error("publishing the checkpoint of '%s' FAILED: %s", cli->dir, rep.detail);
        return CLI_FAILED;
    }
    if (r < 0) {
        cli_error("cannot publish the checkpoint of '%s' to %zu of %zu destinations: %s", cli->dir,
                  rep.failed, count, rep.detail);
        return CLI_TROUBLE;
    }
    if (verbose) {
        (void)printf("published: %zu destinations written, %zu already had it\n", rep.written,
                     rep.unchanged);
        if (fflush(stdout) != 0) {
            cli_error("cannot write to standard output");
            return CLI_TROUBLE;
        }
    }
    return CLI_OK;
}

char *cli_publish_before(const struct cli *cli, size_t *ret_len)
{
    if (cli->config == NULL || cli->config->integrity.publish_count == 0) {
        return NULL;
    }
    return latest_note(cli, ret_len, true);
}

int cli_publish_after(const struct cli *cli, int code, char *before, size_t before_len)
{
    size_t len = 0;
    char *note;

    if (cli->config == NULL || cli->config->integrity.publish_count == 0 ||
        (code != CLI_OK && code != CLI_PARTIAL)) {
        free(before);
        return code;
    }
    note = latest_note(cli, &len, true);
    if (note != NULL && (before == NULL || before_len != len || memcmp(before, note, len) != 0)) {
        /*
         * The command's own work is done and durable: a destination that fails
         * is said on stderr but does not turn it into a failure (a script would
         * append the same events again); 'evident publish' catches up.
         */
        if (publish(cli, note, len, (const char *const *)cli->config->integrity.publish,
                    cli->config->integrity.publish_count, false) != CLI_OK) {
            cli_error("the checkpoint was signed; run 'evident publish' once the destination "
                      "is back");
        }
    }
    free(note);
    free(before);
    return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"to", required_argument, NULL, 't'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *dests[MAX_DESTINATIONS];
    size_t count = 0, len;
    int c, r;

    if (cli->config != NULL) {
        for (size_t i = 0; i < cli->config->integrity.publish_count; i++) {
            dests[count++] = cli->config->integrity.publish[i];
        }
    }
    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if (c == 't') {
            if (count == MAX_DESTINATIONS) {
                return cli_usage_error(cli, "at most %d destinations", MAX_DESTINATIONS);
            }
            if (optarg[0] != '/' && strncmp(optarg, "http://", 7) != 0 &&
                strncmp(optarg, "https://", 8) != 0) {
                return cli_usage_error(cli,
                                       "--to '%s': expected an absolute directory or an "
                                       "http(s):// URL",
                                       optarg);
            }
            dests[count++] = optarg;
        } else if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (count == 0) {
        return cli_usage_error(cli, "no destination: give --to DEST or set integrity.publish in "
                                    "the configuration (-c)");
    }
    char *note = latest_note(cli, &len, false);
    if (note == NULL) {
        return CLI_TROUBLE;
    }
    r = publish(cli, note, len, dests, count, true);
    free(note);
    return r;
}

const struct cli_command cli_cmd_publish = {
    .name = "publish",
    .summary = "copy the latest checkpoint to integrity.publish (and --to) destinations",
    .usage = usage,
    .run = run,
};
