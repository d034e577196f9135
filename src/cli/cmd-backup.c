/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident backup: a consistent copy of a log while its writer runs, as a new
 * generation under a backup directory (include/evident/backup.h,
 * docs/LIFECYCLE.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include <evident/backup.h>
#include <evident/config.h>
#include <evident/error.h>
#include <evident/note.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] backup [--to BACKUP_DIR] [--keep N] [--verify]\n"
    "                              [--pubkey KEY] [--json]\n"
    "\n"
    "Copies the log into a new generation BACKUP_DIR/YYYYMMDDTHHMMSSZ-SIZE, cut at the\n"
    "latest signed checkpoint, while the writer (evidentd or another evident) keeps\n"
    "running; no lock is taken. A generation is a log directory holding the records\n"
    "up to that checkpoint, the checkpoints and evident.meta: no signing key, no key\n"
    "state, no derived files. 'evident -d GEN verify' checks it anywhere, with only\n"
    "the public key (and the verification key for the tags); 'evident restore' makes\n"
    "a readable log of it.\n"
    "\n"
    "Repeated runs copy only what is new: closed segments already in the previous\n"
    "generation are hard-linked, a segment that grew is the previous copy plus its new\n"
    "bytes. When the latest generation already holds the log's latest checkpoint,\n"
    "nothing is written.\n"
    "\n"
    "Options:\n"
    "  --to DIR       the backup directory (default: the configuration's\n"
    "                 retention.backup_dir)\n"
    "  --keep N       keep the newest N generations, remove older ones (default: the\n"
    "                 configuration's retention.backup_keep, 7; 0 keeps all)\n"
    "  --verify       verify the new generation (public key) against the previous\n"
    "                 generation's checkpoint before keeping it: a log truncated or\n"
    "                 forked since the last backup fails\n"
    "  --pubkey KEY   the log's public key to check checkpoints with (default: its\n"
    "                 evident.meta)\n"
    "  --json         print the result as one JSON object\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 backed up (or nothing new); 1 the log shrank, forked, or failed\n"
    "--verify since the last generation (nothing is kept); 2 usage error, no log,\n"
    "bad key, I/O failure.\n";

static int print_report(const struct ev_backup_report *rep, const char *to, bool json)
{
    if (json) {
        json_t *j = json_pack(
            "{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "backup_dir", to, "generation",
            rep->generation, "unchanged", rep->unchanged, "tree_size", (json_int_t)rep->tree_size,
            "records", (json_int_t)rep->records, "bytes_copied", (json_int_t)rep->bytes_copied,
            "bytes_cloned", (json_int_t)rep->bytes_cloned, "bytes_linked",
            (json_int_t)rep->bytes_linked, "segments_copied", (json_int_t)rep->segments_copied,
            "segments_linked", (json_int_t)rep->segments_linked, "generations_removed",
            (json_int_t)rep->generations_removed, "previous_size", (json_int_t)rep->previous_size);
        char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (text == NULL) {
            cli_error("out of memory");
            return CLI_TROUBLE;
        }
        (void)printf("%s\n", text);
        free(text);
    } else if (rep->unchanged) {
        (void)printf("backup: '%s/%s' already holds the latest checkpoint (%" PRIu64
                     " entries); nothing copied\n",
                     to, rep->generation, rep->tree_size);
        if (rep->generations_removed > 0) {
            (void)printf("removed: %" PRIu64 " old generations\n", rep->generations_removed);
        }
    } else {
        (void)printf("backup: '%s/%s'\n", to, rep->generation);
        (void)printf("checkpoint: %" PRIu64 " entries (previous generation: %" PRIu64 ")\n",
                     rep->tree_size, rep->previous_size);
        (void)printf("records: %" PRIu64 "\n", rep->records);
        (void)printf("copied: %" PRIu64 " bytes from the log (%" PRIu64 " segment files)\n",
                     rep->bytes_copied, rep->segments_copied);
        (void)printf("reused: %" PRIu64 " bytes hard-linked (%" PRIu64 " segment files), %" PRIu64
                     " bytes from the previous copy\n",
                     rep->bytes_linked, rep->segments_linked, rep->bytes_cloned);
        (void)printf("removed: %" PRIu64 " old generations\n", rep->generations_removed);
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return CLI_TROUBLE;
    }
    return CLI_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"to", required_argument, NULL, 't'},
        {"keep", required_argument, NULL, 'k'},
        {"verify", no_argument, NULL, 'v'},
        {"pubkey", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_backup_options bo = {0};
    struct ev_backup_report rep;
    struct ev_config *config = NULL;
    const char *to = NULL;
    bool have_keep = false, json = false;
    int ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 't': to = optarg; break;
        case 'k':
            if (!cli_parse_u64("--keep", optarg, &bo.keep)) {
                return CLI_TROUBLE;
            }
            have_keep = true;
            break;
        case 'v': bo.verify = true; break;
        case 'p': bo.pubkey = optarg; break;
        case 'j': json = true; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (bo.pubkey != NULL) {
        struct ev_verifier *v = NULL;
        if (ev_verifier_parse(bo.pubkey, &v) < 0) {
            return cli_fail(EV_EBADKEY, "invalid --pubkey '%s'", bo.pubkey);
        }
        ev_verifier_free(v);
    }
    const struct ev_config *cfg = cli->config;
    if (cfg == NULL) {
        if (!cli_config(cli, &config)) {
            return CLI_TROUBLE;
        }
        cfg = config;
    }
    if (to == NULL) {
        to = cfg->retention.backup_dir;
    }
    if (to == NULL) {
        ret = cli_usage_error(cli, "no backup directory: give --to DIR or set "
                                   "retention.backup_dir in the configuration");
        goto out;
    }
    if (!have_keep) {
        bo.keep = cfg->retention.backup_keep;
    }
    r = ev_backup_create(cli->dir, to, &bo, &rep);
    if (r == EV_ETRUNCATED || r == EV_EFORKED || r == EV_EVERIFY) {
        cli_error("backup of '%s' FAILED: %s", cli->dir, ev_last_error());
        ret = CLI_FAILED;
        goto out;
    }
    if (r < 0) {
        ret = cli_fail(r, "cannot back up '%s' to '%s'", cli->dir, to);
        goto out;
    }
    ret = print_report(&rep, to, json);
out:
    ev_config_free(config);
    return ret;
}

const struct cli_command cli_cmd_backup = {
    .name = "backup",
    .summary = "copy the log consistently into a new backup generation",
    .usage = usage,
    .run = run,
};
