/* SPDX-License-Identifier: Apache-2.0 */
/* evident checkpoint: print the latest signed checkpoint, or sign a new one first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] checkpoint [--new]\n"
    "\n"
    "Prints the latest signed checkpoint: a C2SP signed note whose text is the log's\n"
    "origin, tree size and base64 root. Keep copies elsewhere: 'evident verify\n"
    "--checkpoint FILE' then proves the log still contains what it covered.\n"
    "\n"
    "Options:\n"
    "  --new          first sign a checkpoint over every entry (unless the latest\n"
    "                 already covers them); needs the writer lock\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no log, no checkpoint yet, log locked by a\n"
    "writer (--new), or I/O failure.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"new", no_argument, NULL, 'n'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_log *log = NULL;
    bool sign = false;
    char *note = NULL;
    size_t len;
    int ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if (c == 'n') {
            sign = true;
        } else if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (!cli_open(cli, !sign, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    if (sign) {
        r = ev_log_checkpoint(log);
        if (r < 0) {
            cli_fail(r, "cannot sign a checkpoint of '%s'", cli->dir);
            goto out;
        }
    }
    r = ev_log_latest_checkpoint(log, &note, &len);
    if (r == -ENOENT) {
        cli_error("'%s' has no signed checkpoint yet (sign one with 'evident checkpoint --new')",
                  cli->dir);
        goto out;
    }
    if (r < 0) {
        cli_fail(r, "cannot read the checkpoint of '%s'", cli->dir);
        goto out;
    }
    if (sign) {
        struct ev_log *writer = log;
        log = NULL;
        if (!cli_close(cli, writer)) {
            goto out;
        }
    }
    if (fwrite(note, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        goto out;
    }
    ret = CLI_OK;
out:
    free(note);
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_checkpoint = {
    .name = "checkpoint",
    .summary = "print the latest signed checkpoint (--new: sign one first)",
    .usage = usage,
    .run = run,
};
