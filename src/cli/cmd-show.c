/* SPDX-License-Identifier: Apache-2.0 */
/* evident show: one entry with its hashes, tag and epoch. */
#include <stdio.h>
#include <stdlib.h>

#include <evident/datakey.h>
#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] show [--data-key FILE] N\n"
    "\n"
    "Shows entry N: its leaf hash, the hash chain before and after it, its record's\n"
    "forward-secure tag and epoch, and the entry itself:\n"
    "    index: N\n"
    "    epoch: E\n"
    "    hash: HEX            leaf hash, SHA-256(0x00 || entry)\n"
    "    previous-hash: HEX   chain value c(N-1) (zeros for entry 0)\n"
    "    chain-hash: HEX      chain value c(N) = SHA-256(c(N-1) || hash)\n"
    "    tag: HEX\n"
    "    entry: ENTRY\n"
    "An encrypted entry (docs/FORMAT.md §5.1) is shown decrypted, with two more lines:\n"
    "    encrypted: KID ALG   the data key id and algorithm\n"
    "    stored: ENTRY        the stored (encrypted) bytes, which are hashed\n"
    "It needs its data key: --data-key FILE, or privacy.encryption.key_file of\n"
    "-c CONFIG.\n"
    "\n"
    "Options:\n"
    "  --data-key FILE  the data key file for an encrypted entry\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no such entry, a record that cannot be read, or\n"
    "an encrypted entry without its key or that does not decrypt with it.\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"data-key", required_argument, NULL, 'K'}, CLI_LONGOPTS, {NULL, 0, NULL, 0}};
    struct ev_datakey_info key;
    char *text = NULL;
    size_t text_len = 0;
    int encrypted = 0;
    uint8_t previous[EV_HASH_BYTES] = {0}, chain[EV_HASH_BYTES];
    char hex[2 * EV_HASH_BYTES + 1];
    struct ev_entry *entry = NULL;
    struct ev_log *log = NULL;
    uint64_t index;
    int ret = CLI_TROUBLE, c, r;

    cli->decrypts = true; /* shows source and data: needs the data keys (FORMAT.md §5.1) */
    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if (c == 'K') {
            cli->data_key_path = optarg;
        } else if ((r = cli_common_option(cli, c, argv)) >= 0) {
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
    if (r == 0 && index > 0) {
        r = ev_log_chain_hash(log, index - 1, previous);
    }
    if (r == 0) {
        r = ev_log_chain_hash(log, index, chain);
    }
    if (r == 0) {
        encrypted = ev_entry_encryption(entry->bytes, entry->len, &key);
        r = ev_log_decrypt(log, entry, &text, &text_len);
    }
    if (r < 0) {
        cli_fail_read(r, "cannot show entry %llu of '%s'", (unsigned long long)index, cli->dir);
        goto out;
    }
    (void)printf("index: %llu\n", (unsigned long long)entry->index);
    (void)printf("epoch: %lu\n", (unsigned long)entry->epoch);
    cli_hex(entry->leaf_hash, EV_HASH_BYTES, hex);
    (void)printf("hash: %s\n", hex);
    cli_hex(previous, EV_HASH_BYTES, hex);
    (void)printf("previous-hash: %s\n", hex);
    cli_hex(chain, EV_HASH_BYTES, hex);
    (void)printf("chain-hash: %s\n", hex);
    cli_hex(entry->tag, EV_HASH_BYTES, hex);
    (void)printf("tag: %s\n", hex);
    if (encrypted == 1) {
        (void)printf("encrypted: %s %s\n", key.id, ev_data_alg_name(key.alg));
    }
    (void)fputs("entry: ", stdout);
    (void)fwrite(text, 1, text_len, stdout);
    (void)fputc('\n', stdout);
    if (encrypted == 1) {
        (void)fputs("stored: ", stdout);
        (void)fwrite(entry->bytes, 1, entry->len, stdout);
        (void)fputc('\n', stdout);
    }
    ret = fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
out:
    free(text);
    ev_entry_free(entry);
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_show = {
    .name = "show",
    .summary = "show an entry with its hashes, tag and epoch",
    .usage = usage,
    .run = run,
};
