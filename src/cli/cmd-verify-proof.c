/* SPDX-License-Identifier: Apache-2.0 */
/* evident verify-proof: check a tlog-proof file for an entry offline, no log needed. */
#include <stdio.h>
#include <stdlib.h>

#include <evident/error.h>
#include <evident/log.h>
#include <evident/note.h>

#include "cli.h"

static const char usage[] =
    "usage: evident verify-proof --pubkey KEY PROOF_FILE ENTRY_FILE\n"
    "\n"
    "Checks offline that ENTRY_FILE (the exact bytes of an entry, as 'evident entry N'\n"
    "writes them) is included in the log whose public key is KEY, by the\n"
    "c2sp.org/tlog-proof@v1 file PROOF_FILE ('evident prove N'): the checkpoint in the\n"
    "proof must be signed by KEY and the proof must lead from the entry to its root.\n"
    "'-' reads a file from standard input.\n"
    "\n"
    "Options:\n"
    "  --pubkey KEY   the log's public key (ORIGIN+KEYID+BASE64), obtained elsewhere\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 verified; 1 verification failed (bad or foreign signature, wrong\n"
    "origin, entry not included, proof file malformed); 2 could not check: usage\n"
    "error, malformed --pubkey, unreadable file.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"pubkey", required_argument, NULL, 'p'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_verifier *verifier = NULL;
    struct ev_checkpoint cp;
    const char *pubkey = NULL;
    char *proof = NULL, *entry = NULL;
    size_t proof_len, entry_len;
    int ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if (c == 'p') {
            pubkey = optarg;
        } else if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (pubkey == NULL) {
        return cli_usage_error(cli, "--pubkey is required");
    }
    if (argc - optind != 2) {
        return cli_usage_error(cli, "expected PROOF_FILE and ENTRY_FILE");
    }
    const char *proof_path = argv[optind], *entry_path = argv[optind + 1];
    r = ev_verifier_parse(pubkey, &verifier);
    if (r < 0) {
        return cli_fail(r, "invalid --pubkey '%s'", pubkey);
    }
    if (!cli_read_file(proof_path, EV_NOTE_MAX_BYTES, &proof, &proof_len) ||
        !cli_read_file(entry_path, EV_ENTRY_MAX_BYTES, &entry, &entry_len)) {
        goto out;
    }
    r = ev_tlog_proof_verify(proof, proof_len, entry, entry_len, verifier, &cp);
    if (r == 0) {
        (void)printf("verified: entry in '%s' at tree size %llu\n", cp.origin,
                     (unsigned long long)cp.tree_size);
        ret = fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
    } else if (r == EV_EFORMAT || r == EV_EBADSIG || r == EV_EORIGIN || r == EV_ETAMPERED) {
        (void)printf("FAILED: %s\n", cli_cause(r));
        (void)fflush(stdout);
        ret = CLI_FAILED;
    } else {
        cli_fail(r, "cannot verify '%s'", proof_path);
    }
out:
    free(proof);
    free(entry);
    ev_verifier_free(verifier);
    return ret;
}

const struct cli_command cli_cmd_verify_proof = {
    .name = "verify-proof",
    .summary = "check an inclusion proof file for an entry offline",
    .usage = usage,
    .run = run,
};
