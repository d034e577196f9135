/* SPDX-License-Identifier: Apache-2.0 */
/* evident datakey: make, rotate and list the data keys of encryption at rest. */
#include <stdio.h>
#include <string.h>

#include <evident/config.h>
#include <evident/datakey.h>
#include <evident/error.h>

#include "cli.h"

static const char usage[] =
    "usage: evident datakey new [--file FILE] [--alg aes-256-gcm|chacha20-poly1305]\n"
    "       evident datakey list [--file FILE]\n"
    "\n"
    "Data keys encrypt the source and data of entries at rest (docs/FORMAT.md §5.1,\n"
    "docs/LIFECYCLE.md). A key file holds one key a line; the last line is the key\n"
    "new entries are encrypted with, earlier lines stay for reading older entries.\n"
    "\n"
    "new   makes a random 32-byte key and adds it as the last (current) line of FILE,\n"
    "      creating FILE with mode 0600 if it does not exist (rotation: entries written\n"
    "      from now on use it; nothing already written changes). Prints the key's id.\n"
    "list  prints each key's id and algorithm, oldest first, the current one marked\n"
    "      (never the key bytes).\n"
    "\n"
    "Options:\n"
    "  --file FILE  the key file (default: privacy.encryption.key_file of -c CONFIG)\n"
    "  --alg ALG    aes-256-gcm (default) or chacha20-poly1305\n"
    "  -h, --help   show this help\n"
    "\n"
    "A writer started before a rotation keeps its key until it is reopened (evidentd:\n"
    "restart it). Exit codes: 0 ok; 2 usage error, or the file cannot be read or written.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"file", required_argument, NULL, 'f'},
        {"alg", required_argument, NULL, 'a'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *action;
    int alg = EV_DATA_AES_256_GCM, c, r;
    bool alg_given = false;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'f': file = optarg; break;
        case 'a':
            if (ev_data_alg_parse(optarg, &alg) < 0) {
                return cli_usage_error(cli, "unknown --alg '%s': aes-256-gcm or chacha20-poly1305",
                                       optarg);
            }
            alg_given = true;
            break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (argc - optind != 1) {
        return cli_usage_error(cli, "expected one action: new or list");
    }
    action = argv[optind];
    if (file == NULL && cli->config != NULL) {
        file = cli->config->privacy.encryption_key_file;
    }
    if (file == NULL) {
        return cli_usage_error(cli, "no key file: give --file FILE (or -c CONFIG with "
                                    "privacy.encryption.key_file)");
    }
    if (strcmp(action, "new") == 0) {
        struct ev_datakey_info info;
        r = ev_datakey_new(file, alg, &info);
        if (r < 0) {
            return cli_fail(r, "cannot add a data key to '%s'", file);
        }
        (void)printf("%s %s\n", info.id, ev_data_alg_name(info.alg));
        return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
    }
    if (strcmp(action, "list") == 0) {
        struct ev_datakeys *keys = NULL;
        if (alg_given) {
            return cli_usage_error(cli, "--alg is for 'new'");
        }
        r = ev_datakeys_load(file, &keys);
        if (r < 0) {
            return cli_fail(r, "cannot read the data keys");
        }
        size_t n = ev_datakeys_count(keys);
        for (size_t i = 0; i < n; i++) {
            struct ev_datakey_info info;
            (void)ev_datakeys_get(keys, i, &info);
            (void)printf("%s %s%s\n", info.id, ev_data_alg_name(info.alg),
                         i + 1 == n ? " current" : "");
        }
        ev_datakeys_free(keys);
        return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
    }
    return cli_usage_error(cli, "unknown action '%s': new or list", action);
}

const struct cli_command cli_cmd_datakey = {
    .name = "datakey",
    .summary = "make, rotate and list data keys (encryption at rest)",
    .usage = usage,
    .run = run,
};
