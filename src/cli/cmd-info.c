/* SPDX-License-Identifier: Apache-2.0 */
/* evident info: what the log holds and the state of its epochs and checkpoints. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] info [--json]\n"
    "\n"
    "Shows the log's origin, public key, size, root, chain head, epochs, checkpoint\n"
    "and disk use. 'open-epoch' is the epoch still collecting entries: its entry\n"
    "count and the age of its first entry. 'record-bytes' is the size of the\n"
    "segments (records with their framing and tags), 'disk-bytes' of the whole\n"
    "directory including the derived files.\n"
    "\n"
    "Options:\n"
    "  --json         one JSON object instead of text\n"
    "  -d, --dir DIR  the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no log, or I/O failure.\n";

static int64_t now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int print_json(const struct ev_log_info *info, int64_t age_ns)
{
    char root[2 * EV_HASH_BYTES + 1], head[2 * EV_HASH_BYTES + 1], since[40], start[40];
    json_t *o = json_object();
    json_t *open = json_null();

    cli_hex(info->root, EV_HASH_BYTES, root);
    cli_hex(info->chain_head, EV_HASH_BYTES, head);
    cli_format_time(info->start_ns, start, sizeof(start));
    if (info->open_epoch_entries > 0) {
        cli_format_time(info->open_epoch_since_ns, since, sizeof(since));
        open = json_pack("{s:I,s:s,s:I}", "entries", (json_int_t)info->open_epoch_entries, "since",
                         since, "age_s", (json_int_t)(age_ns / 1000000000));
    }
    (void)json_object_set_new(o, "origin", json_string(info->origin));
    (void)json_object_set_new(o, "public_key", json_string(info->vkey));
    (void)json_object_set_new(o, "size", json_integer((json_int_t)info->tree_size));
    (void)json_object_set_new(o, "root", json_string(root));
    (void)json_object_set_new(o, "chain_head", json_string(head));
    (void)json_object_set_new(o, "epoch", json_integer((json_int_t)info->last_epoch));
    (void)json_object_set_new(o, "epoch_sealed", json_boolean(info->last_epoch_sealed));
    (void)json_object_set_new(o, "open_epoch", open);
    (void)json_object_set_new(o, "checkpoint_size",
                              json_integer((json_int_t)info->checkpoint_size));
    (void)json_object_set_new(o, "seal_interval_s",
                              json_integer((json_int_t)(info->seal_interval_ns / 1000000000)));
    (void)json_object_set_new(o, "started", json_string(start));
    (void)json_object_set_new(o, "disk_bytes", json_integer((json_int_t)info->disk_bytes));
    (void)json_object_set_new(o, "record_bytes", json_integer((json_int_t)info->record_bytes));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_TROUBLE;
    }
    (void)printf("%s\n", text);
    free(text);
    return CLI_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_log_info info;
    struct ev_log *log = NULL;
    bool json = false;
    int ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if ((r = cli_common_option(cli, c, argv)) >= 0) {
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
    int64_t age = info.open_epoch_entries > 0 ? now_ns() - info.open_epoch_since_ns : 0;
    if (json) {
        ret = print_json(&info, age);
    } else {
        char hex[2 * EV_HASH_BYTES + 1], when[40], dur[32];
        (void)printf("origin: %s\n", info.origin);
        (void)printf("public-key: %s\n", info.vkey);
        (void)printf("size: %llu\n", (unsigned long long)info.tree_size);
        cli_hex(info.root, EV_HASH_BYTES, hex);
        (void)printf("root: %s\n", hex);
        cli_hex(info.chain_head, EV_HASH_BYTES, hex);
        (void)printf("chain-head: %s\n", hex);
        (void)printf("epoch: %lu (%s)\n", (unsigned long)info.last_epoch,
                     info.last_epoch_sealed ? "sealed" : "open");
        if (info.open_epoch_entries > 0) {
            cli_format_time(info.open_epoch_since_ns, when, sizeof(when));
            cli_format_duration(age, dur, sizeof(dur));
            (void)printf("open-epoch: %llu entries since %s (age %s)\n",
                         (unsigned long long)info.open_epoch_entries, when, dur);
        } else {
            (void)printf("open-epoch: none\n");
        }
        (void)printf("checkpoint-size: %llu\n", (unsigned long long)info.checkpoint_size);
        cli_format_duration((int64_t)info.seal_interval_ns, dur, sizeof(dur));
        (void)printf("seal-interval: %s\n", dur);
        cli_format_time(info.start_ns, when, sizeof(when));
        (void)printf("started: %s\n", when);
        (void)printf("disk-bytes: %llu\n", (unsigned long long)info.disk_bytes);
        (void)printf("record-bytes: %llu\n", (unsigned long long)info.record_bytes);
        ret = CLI_OK;
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        ret = CLI_TROUBLE;
    }
    return ret;
}

const struct cli_command cli_cmd_info = {
    .name = "info",
    .summary = "show the log's size, root, epochs, checkpoint and disk use",
    .usage = usage,
    .run = run,
};
