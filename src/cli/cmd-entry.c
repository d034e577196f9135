/* SPDX-License-Identifier: Apache-2.0 */
/* evident entry: the exact stored bytes of one entry, for proofs and hashing. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] entry N\n"
    "\n"
    "Writes exactly the stored bytes of entry N to standard output, nothing added (no\n"
    "newline): the bytes that are hashed, as 'evident verify-proof' needs them.\n"
    "\n"
    "Options:\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no such entry, or a record that cannot be read.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {CLI_LONGOPTS, {NULL, 0, NULL, 0}};
    struct ev_entry *entry = NULL;
    struct ev_log *log = NULL;
    uint64_t index;
    int ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (argc - optind != 1) {
        return cli_usage_error(cli, "expected one entry index");
    }
    if (!cli_parse_u64("entry index", argv[optind], &index)) {
        return CLI_TROUBLE;
    }
    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    r = ev_log_entry(log, index, &entry);
    if (r < 0) {
        cli_fail(r, "cannot read entry %llu of '%s'", (unsigned long long)index, cli->dir);
        goto out;
    }
    r = cli_write_all(STDOUT_FILENO, entry->bytes, entry->len);
    if (r < 0) {
        cli_error("cannot write to standard output: %s", cli_strerror(-r));
        goto out;
    }
    ret = CLI_OK;
out:
    ev_entry_free(entry);
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_entry = {
    .name = "entry",
    .summary = "write the exact stored bytes of an entry",
    .usage = usage,
    .run = run,
};
