/* SPDX-License-Identifier: Apache-2.0 */
/* evident pubkey: the verifier key that checks the log's checkpoints. */
#include <stdio.h>

#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] pubkey\n"
    "\n"
    "Prints the log's verifier key (ORIGIN+KEYID+BASE64), the public key that checks\n"
    "its signed checkpoints, alone on one line: give it to auditors, and pin it with\n"
    "'evident verify --pubkey KEY' and 'evident verify-proof --pubkey KEY'.\n"
    "\n"
    "Options:\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no log, or I/O failure.\n";

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
    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    r = ev_log_info(log, &info);
    (void)ev_log_close(log);
    if (r < 0) {
        return cli_fail(r, "cannot read '%s'", cli->dir);
    }
    (void)printf("%s\n", info.vkey);
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}

const struct cli_command cli_cmd_pubkey = {
    .name = "pubkey",
    .summary = "print the public key that checks the checkpoints",
    .usage = usage,
    .run = run,
};
