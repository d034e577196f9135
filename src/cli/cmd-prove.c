/* SPDX-License-Identifier: Apache-2.0 */
/* evident prove: inclusion proofs (c2sp.org/tlog-proof@v1) and consistency proofs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <evident/bundle.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/merkle.h>
#include <evident/note.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] prove N [--size S] [--out FILE]\n"
    "       evident [-d DIR] prove --consistency OLD [--size NEW] [--out FILE]\n"
    "\n"
    "Inclusion: writes a c2sp.org/tlog-proof@v1 file proving that entry N is in the\n"
    "tree of S entries, with the signed checkpoint of that size in it. An auditor\n"
    "checks it offline with 'evident verify-proof' and the entry's exact bytes\n"
    "('evident entry N'). S defaults to the latest checkpoint's size; another S needs\n"
    "a checkpoint of exactly that size in the log's checkpoint history.\n"
    "\n"
    "Consistency: writes the RFC 9162 proof that the tree of OLD entries is a prefix\n"
    "of the tree of NEW entries, one base64 hash per line. NEW defaults to the latest\n"
    "checkpoint's size.\n"
    "\n"
    "Options:\n"
    "  --size S             the tree size to prove against\n"
    "  --consistency OLD    prove consistency from tree size OLD (at least 1)\n"
    "  --out FILE           write to FILE (replaced atomically) instead of stdout\n"
    "  -d, --dir DIR        the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no log, no checkpoint of that size, entry or\n"
    "size out of range, or I/O failure.\n";

static int prove_inclusion(struct cli *cli, struct ev_log *log, uint64_t index, bool size_given,
                           uint64_t size, const char *out)
{
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    struct ev_checkpoint cp;
    char *note = NULL, *text = NULL;
    size_t note_len, proof_len, text_len;
    int ret = CLI_TROUBLE, r;

    if (!cli_latest_checkpoint(cli, log, &note, &note_len, &cp)) {
        return CLI_TROUBLE;
    }
    if (size_given && size != cp.tree_size) {
        free(note);
        note = NULL;
        r = ev_log_checkpoint_at(log, size, &note, &note_len);
        if (r == -ENOENT) {
            cli_error("no signed checkpoint of size %llu in '%s' (the latest covers %llu "
                      "entries)",
                      (unsigned long long)size, cli->dir, (unsigned long long)cp.tree_size);
            goto out;
        }
        if (r < 0) {
            cli_fail(r, "cannot read the checkpoints of '%s'", cli->dir);
            goto out;
        }
    } else {
        size = cp.tree_size;
    }
    if (index >= size) {
        cli_error("entry %llu is not in the checkpoint of size %llu%s", (unsigned long long)index,
                  (unsigned long long)size,
                  size_given ? "" : " (sign a newer one with 'evident checkpoint --new')");
        goto out;
    }
    r = ev_log_prove_inclusion(log, index, size, proof, &proof_len);
    if (r == 0) {
        r = ev_tlog_proof_format(index, (const uint8_t(*)[EV_HASH_BYTES])proof, proof_len, NULL, 0,
                                 note, note_len, &text, &text_len);
    }
    if (r < 0) {
        cli_fail(r, "cannot prove entry %llu", (unsigned long long)index);
        goto out;
    }
    ret = cli_write_output(out, text, text_len) ? CLI_OK : CLI_TROUBLE;
out:
    free(note);
    free(text);
    return ret;
}

static int prove_consistency(struct cli *cli, struct ev_log *log, uint64_t old_size,
                             bool size_given, uint64_t new_size, const char *out)
{
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    char *text = NULL;
    size_t proof_len, text_len;
    int ret, r;

    if (!size_given) {
        struct ev_checkpoint cp;
        char *note;
        size_t note_len;
        if (!cli_latest_checkpoint(cli, log, &note, &note_len, &cp)) {
            return CLI_TROUBLE;
        }
        free(note);
        new_size = cp.tree_size;
    }
    if (old_size < 1 || old_size > new_size) {
        cli_error("cannot prove consistency from %llu to %llu: need 1 <= OLD <= NEW",
                  (unsigned long long)old_size, (unsigned long long)new_size);
        return CLI_TROUBLE;
    }
    r = ev_log_prove_consistency(log, old_size, new_size, proof, &proof_len);
    if (r == 0) {
        r = ev_proof_lines_format((const uint8_t(*)[EV_HASH_BYTES])proof, proof_len, &text,
                                  &text_len);
    }
    if (r < 0) {
        return cli_fail(r, "cannot prove consistency from %llu to %llu",
                        (unsigned long long)old_size, (unsigned long long)new_size);
    }
    ret = cli_write_output(out, text, text_len) ? CLI_OK : CLI_TROUBLE;
    free(text);
    return ret;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"size", required_argument, NULL, 's'},
        {"consistency", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    uint64_t size = 0, old_size = 0, index = 0;
    bool size_given = false, consistency = false;
    const char *out = NULL;
    struct ev_log *log = NULL;
    int ret, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!cli_parse_u64("tree size", optarg, &size)) {
                return CLI_TROUBLE;
            }
            size_given = true;
            break;
        case 'c':
            if (!cli_parse_u64("old tree size", optarg, &old_size)) {
                return CLI_TROUBLE;
            }
            consistency = true;
            break;
        case 'o': out = optarg; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (consistency) {
        if (optind < argc) {
            return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
        }
    } else {
        if (argc - optind != 1) {
            return cli_usage_error(cli, "expected one entry index (or --consistency OLD)");
        }
        if (!cli_parse_u64("entry index", argv[optind], &index)) {
            return CLI_TROUBLE;
        }
    }
    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    if (consistency) {
        ret = prove_consistency(cli, log, old_size, size_given, size, out);
    } else {
        ret = prove_inclusion(cli, log, index, size_given, size, out);
    }
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_prove = {
    .name = "prove",
    .summary = "write an inclusion proof (tlog-proof) or a consistency proof",
    .usage = usage,
    .run = run,
};
