/* SPDX-License-Identifier: Apache-2.0 */
/* evident prune: apply retention (include/evident/retention.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/retention.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-c CONFIG] [-d DIR] prune [--dry-run] [--max-age DURATION]\n"
    "                                         [--max-bytes SIZE]\n"
    "\n"
    "Applies retention: removes the entry bytes of closed segments whose newest\n"
    "entry is older than retention.max_age (default 30d), and of the oldest closed\n"
    "segments while the log's segments take more than retention.max_bytes. Each\n"
    "pruned segment keeps its leaf hashes, tags and seals, so every checkpoint and\n"
    "every proof of what remains still verifies; a 'retention' entry, sealed and\n"
    "signed before anything goes, names what was removed. The last segment is never\n"
    "pruned. 'evident verify' reports pruned ranges and fails pruning that no\n"
    "retention entry accounts for.\n"
    "\n"
    "Options:\n"
    "  --dry-run             show what would go; change nothing\n"
    "  --max-age DURATION    e.g. 30d, 12h (overrides retention.max_age; 0 = off)\n"
    "  --max-bytes SIZE      e.g. 10G, 500M (overrides retention.max_bytes; 0 = off)\n"
    "  -d, --dir DIR         the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Output: one line per segment (removed, or would be), then a total.\n"
    "Exit codes: 0 done (also when nothing expired); 2 usage error, no log, log\n"
    "locked by a writer, or I/O failure (the log still verifies).\n";

/* "123", "10K", "500M", "10G", "1T" (binary multiples). */
static bool parse_size(const char *text, uint64_t *ret)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mult = 1;

    if (end == text || text[0] == '-') {
        return false;
    }
    switch (*end) {
    case '\0': break;
    case 'K': mult = 1ull << 10; break;
    case 'M': mult = 1ull << 20; break;
    case 'G': mult = 1ull << 30; break;
    case 'T': mult = 1ull << 40; break;
    default: return false;
    }
    if (*end != '\0' && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0) {
        return false;
    }
    if (v > UINT64_MAX / mult) {
        return false;
    }
    *ret = (uint64_t)v * mult;
    return true;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"max-age", required_argument, NULL, 'a'},
        {"max-bytes", required_argument, NULL, 'b'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_retention policy = {.max_age_ns = EV_DEFAULT_RETENTION_MAX_AGE_NS};
    struct ev_prune_report rep;
    struct ev_log *log = NULL;
    bool dry_run = false;
    int c, r;

    if (cli->config != NULL) {
        policy.max_age_ns = cli->config->retention.max_age_ns;
        policy.max_bytes = cli->config->retention.max_bytes;
    }
    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'n': dry_run = true; break;
        case 'a':
            if (strcmp(optarg, "0") == 0) {
                policy.max_age_ns = 0;
            } else if (!cli_parse_duration("--max-age", optarg, &policy.max_age_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'b':
            if (!parse_size(optarg, &policy.max_bytes)) {
                return cli_usage_error(cli, "--max-bytes '%s': expected a size like 500M or 10G",
                                       optarg);
            }
            break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (!cli_open(cli, false, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    r = ev_log_prune(log, &policy, dry_run ? EV_PRUNE_DRY_RUN : 0, &rep);
    if (r < 0) {
        cli_fail(r, "cannot prune '%s'", cli->dir);
        (void)ev_log_close(log);
        return CLI_TROUBLE;
    }
    if (!cli_close(cli, log)) {
        ev_prune_report_free(&rep);
        return CLI_TROUBLE;
    }
    for (size_t k = 0; k < rep.count; k++) {
        const struct ev_pruned_segment *p = &rep.segments[k];
        char newest[40];
        cli_format_time(p->newest_ns, newest, sizeof(newest));
        (void)printf("%s %s: entries %" PRIu64 "..%" PRIu64 ", %" PRIu64 " bytes, newest %s (%s)\n",
                     dry_run ? "would prune" : "pruned", p->file, p->first, p->last, p->bytes,
                     newest, p->reason);
    }
    if (rep.count == 0) {
        (void)printf("nothing to prune (%" PRIu64 " bytes of segments)\n", rep.log_bytes);
    } else if (dry_run) {
        (void)printf("would prune %zu segments, %" PRIu64 " entries, up to %" PRIu64 " of %" PRIu64
                     " bytes\n",
                     rep.count, rep.entries, rep.bytes_freed, rep.log_bytes);
    } else {
        (void)printf("pruned %zu segments, %" PRIu64 " entries, %" PRIu64 " of %" PRIu64
                     " bytes freed; retention entry %" PRIu64 "\n",
                     rep.count, rep.entries, rep.bytes_freed, rep.log_bytes, rep.retention_index);
    }
    ev_prune_report_free(&rep);
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}

const struct cli_command cli_cmd_prune = {
    .name = "prune",
    .summary = "remove expired entry bytes, keeping the log verifiable (retention)",
    .usage = usage,
    .run = run,
};
