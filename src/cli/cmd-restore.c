/* SPDX-License-Identifier: Apache-2.0 */
/* evident restore: a backup generation back into a readable log directory. */
#include <inttypes.h>
#include <stdio.h>

#include <evident/backup.h>
#include <evident/error.h>

#include "cli.h"

static const char usage[] =
    "usage: evident restore --from BACKUP_DIR[/GENERATION] --to NEW_DIR\n"
    "\n"
    "Copies a backup generation (the latest one of BACKUP_DIR, or the generation\n"
    "named) into NEW_DIR, which must not exist or be empty, rebuilds the derived\n"
    "files from the records and checks that they give the root the checkpoint\n"
    "signed. Then 'evident -d NEW_DIR verify' proves the copy, and reading, proofs\n"
    "and exports work as on the original. The restored log has no signing key and\n"
    "no key state: it cannot be appended to (docs/LIFECYCLE.md says why and how to\n"
    "continue logging after a loss).\n"
    "\n"
    "Options:\n"
    "  --from DIR     a backup directory or one of its generations\n"
    "  --to DIR       the new log directory\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 restored; 1 the records do not give the checkpoint's root (run\n"
    "'evident -d GENERATION verify' to see where); 2 usage error, not a backup,\n"
    "NEW_DIR not empty, I/O failure.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_restore_report rep;
    const char *from = NULL, *to = NULL;
    char root[2 * EV_HASH_BYTES + 1];
    int c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (from == NULL || to == NULL) {
        return cli_usage_error(cli, "both --from and --to are needed");
    }
    r = ev_backup_restore(from, to, &rep);
    if (r == EV_ETAMPERED) {
        cli_error("restore from '%s' FAILED: %s", from, ev_last_error());
        return CLI_FAILED;
    }
    if (r < 0) {
        return cli_fail(r, "cannot restore '%s' into '%s'", from, to);
    }
    cli_hex(rep.root, EV_HASH_BYTES, root);
    (void)printf("restored: '%s' from generation '%s'\n", to, rep.generation);
    (void)printf("checkpoint: %" PRIu64 " entries, root %s (recomputed from the records)\n",
                 rep.tree_size, root);
    (void)printf("records: %" PRIu64 "\n", rep.records);
    (void)printf("written: %" PRIu64 " bytes\n", rep.bytes);
    (void)printf("next: evident -d '%s' verify --pubkey KEY [--verification-key-file FILE]\n", to);
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return CLI_TROUBLE;
    }
    return CLI_OK;
}

const struct cli_command cli_cmd_restore = {
    .name = "restore",
    .summary = "restore a backup generation into a new log directory",
    .usage = usage,
    .run = run,
};
