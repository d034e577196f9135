/* SPDX-License-Identifier: Apache-2.0 */
/* evident export: a range of entries with their proofs, checkable offline. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <evident/bundle.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/note.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] export [--from N] [--to N] --out FILE\n"
    "\n"
    "Writes an export bundle (docs/FORMAT.md §11): the entries N with FROM <= N < TO,\n"
    "each with its record's epoch and tag and its inclusion proof, under the latest\n"
    "signed checkpoint. 'evident verify --bundle FILE' checks it anywhere, without\n"
    "the log.\n"
    "\n"
    "Options:\n"
    "  --from N       first entry (default 0)\n"
    "  --to N         stop before entry N (default: the latest checkpoint's size; at\n"
    "                 most that: sign a newer one with 'evident checkpoint --new')\n"
    "  --out FILE     the bundle file, replaced atomically ('-': standard output)\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 written; 2 usage error, no log, no checkpoint, range outside the\n"
    "checkpoint, or I/O failure.\n";

static int export_to(struct cli *cli, struct ev_log *log, uint64_t from, uint64_t to,
                     const char *path)
{
    char tmp[PATH_MAX];
    FILE *out;
    int fd, r;

    if (strcmp(path, "-") == 0) {
        r = ev_bundle_export(log, from, to, stdout);
        if (r == 0 && fflush(stdout) != 0) {
            r = -errno;
        }
        if (r < 0) {
            return cli_fail(r, "cannot export from '%s'", cli->dir);
        }
        return CLI_OK;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= sizeof(tmp)) {
        cli_error("cannot write '%s': path too long", path);
        return CLI_TROUBLE;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
        cli_error("cannot write '%s': %s", path, cli_strerror(errno));
        if (fd >= 0) {
            (void)close(fd);
            (void)unlink(tmp);
        }
        return CLI_TROUBLE;
    }
    r = ev_bundle_export(log, from, to, out);
    if (r < 0) {
        cli_fail(r, "cannot export from '%s'", cli->dir);
    } else if (fflush(out) != 0 || fsync(fd) < 0) {
        r = -errno;
        cli_error("cannot write '%s': %s", path, cli_strerror(errno));
    }
    if (fclose(out) != 0 && r == 0) {
        r = -errno;
        cli_error("cannot write '%s': %s", path, cli_strerror(errno));
    }
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
        cli_error("cannot write '%s': %s", path, cli_strerror(errno));
    }
    if (r < 0) {
        (void)unlink(tmp);
        return CLI_TROUBLE;
    }
    return CLI_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    uint64_t from = 0, to = 0;
    bool to_given = false;
    const char *out = NULL;
    struct ev_checkpoint cp;
    struct ev_log *log = NULL;
    char *note = NULL;
    size_t note_len;
    int ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!cli_parse_u64("--from index", optarg, &from)) {
                return CLI_TROUBLE;
            }
            break;
        case 't':
            if (!cli_parse_u64("--to index", optarg, &to)) {
                return CLI_TROUBLE;
            }
            to_given = true;
            break;
        case 'o': out = optarg; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (out == NULL) {
        return cli_usage_error(cli, "--out FILE is required");
    }
    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    if (!cli_latest_checkpoint(cli, log, &note, &note_len, &cp)) {
        goto out;
    }
    if (!to_given) {
        to = cp.tree_size;
    }
    if (from > to || to > cp.tree_size) {
        cli_error("cannot export entries %llu..%llu: the latest checkpoint covers entries "
                  "0..%llu (sign a newer one with 'evident checkpoint --new')",
                  (unsigned long long)from, (unsigned long long)to - (to > 0),
                  (unsigned long long)cp.tree_size - (cp.tree_size > 0));
        goto out;
    }
    ret = export_to(cli, log, from, to, out);
    if (ret == CLI_OK && strcmp(out, "-") != 0) {
        (void)fprintf(stderr,
                      "evident: exported %llu entries (%llu..%llu) under the checkpoint "
                      "of size %llu to '%s'\n",
                      (unsigned long long)(to - from), (unsigned long long)from,
                      (unsigned long long)(to > from ? to - 1 : from),
                      (unsigned long long)cp.tree_size, out);
    }
out:
    free(note);
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_export = {
    .name = "export",
    .summary = "write a bundle of entries with proofs, checkable offline",
    .usage = usage,
    .run = run,
};
