/* SPDX-License-Identifier: Apache-2.0 */
/* evident seal: close the current epoch now. */
#include <stdio.h>

#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] seal\n"
    "\n"
    "Closes the current epoch now: appends its seal (which commits to the tree root\n"
    "and chain head so far) and signs a checkpoint. The writer also seals on its own\n"
    "when an epoch's time is up.\n"
    "\n"
    "Options:\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 sealed; 2 usage error, no log, log locked by a writer, or I/O failure.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {CLI_LONGOPTS, {NULL, 0, NULL, 0}};
    struct ev_log_info info;
    struct ev_log *log = NULL;
    int c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (!cli_open(cli, false, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    r = ev_log_seal(log);
    if (r < 0) {
        cli_fail(r, "cannot seal '%s'", cli->dir);
        (void)ev_log_close(log);
        return CLI_TROUBLE;
    }
    r = ev_log_info(log, &info);
    if (r < 0) {
        cli_fail(r, "cannot read '%s'", cli->dir);
        (void)ev_log_close(log);
        return CLI_TROUBLE;
    }
    if (!cli_close(cli, log)) {
        return CLI_TROUBLE;
    }
    (void)printf("sealed epoch %lu at entry %llu\n", (unsigned long)info.last_epoch,
                 (unsigned long long)(info.tree_size - 1));
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}

const struct cli_command cli_cmd_seal = {
    .name = "seal",
    .summary = "close the current epoch now",
    .usage = usage,
    .run = run,
};
