/* SPDX-License-Identifier: Apache-2.0 */
/* evident summary: what the log says about security, as text or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/log.h>
#include <evident/report.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] summary [--since TIME] [--until TIME] [--to N] [--json]\n"
    "                               [--data-key FILE]\n"
    "\n"
    "Summarizes the security events of the log: counts by type, severity, source\n"
    "(the event's program, else its host) and outcome; findings of security\n"
    "assessments by rule and severity; resource violations by resource and action;\n"
    "containers created with risky settings; events per hour (per day, week, ... when\n"
    "the window spans more than 2000 hours). Seals are the log's own integrity\n"
    "entries: they are counted apart, not as events. The text lists the top rows of\n"
    "each table; --json has them all (schema: docs/REPORTS.md).\n"
    "\n"
    "Options:\n"
    "  --since TIME     only entries with ts >= TIME (e.g. 2026-11-27T09:00:00Z)\n"
    "  --until TIME     only entries with ts < TIME\n"
    "  --to N           only entries before entry N (default: all); an audit report\n"
    "                   names the N its numbers were computed over\n"
    "  --json           print the summary as one JSON object (keys sorted, compact)\n"
    "  --data-key FILE  the data key file of encrypted entries (default: the\n"
    "                   privacy.encryption.key_file of -c CONFIG); a log holding\n"
    "                   encrypted entries cannot be summarized without it\n"
    "  -d, --dir DIR    the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, no log, --to past the end of the log, or a\n"
    "record that cannot be read (run 'evident verify').\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"since", required_argument, NULL, 'a'},
        {"until", required_argument, NULL, 'b'},
        {"to", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'j'},
        {"data-key", required_argument, NULL, 'K'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_summary_options so = {0};
    struct ev_summary *summary = NULL;
    struct ev_log *log = NULL;
    bool json = false;
    char *text = NULL;
    size_t len = 0;
    int c, r, ret = CLI_TROUBLE;

    cli->decrypts = true; /* shows source and data: needs the data keys (FORMAT.md §5.1) */
    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!cli_parse_time("--since time", optarg, &so.since_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'b':
            if (!cli_parse_time("--until time", optarg, &so.until_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'T':
            if (!cli_parse_u64("--to index", optarg, &so.to)) {
                return CLI_TROUBLE;
            }
            so.bounded = true;
            break;
        case 'j': json = true; break;
        case 'K': cli->data_key_path = optarg; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (so.since_ns != 0 && so.until_ns != 0 && so.since_ns >= so.until_ns) {
        return cli_usage_error(cli, "--since must be before --until");
    }
    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        return CLI_TROUBLE;
    }
    r = ev_summary_build(log, &so, &summary);
    if (r < 0) {
        cli_fail_read(r, "cannot summarize '%s'", cli->dir);
        goto out;
    }
    r = json ? ev_summary_json(summary, &text, &len) : ev_summary_text(summary, &text, &len);
    if (r < 0) {
        cli_fail(r, "cannot summarize '%s'", cli->dir);
        goto out;
    }
    if (json) {
        /* One JSON object on one line. */
        char *line = realloc(text, len + 2);
        if (line == NULL) {
            cli_error("out of memory");
            goto out;
        }
        text = line;
        text[len++] = '\n';
        text[len] = '\0';
    } else {
        struct ev_log_info info;
        if ((r = ev_log_info(log, &info)) < 0) {
            cli_fail(r, "cannot read '%s'", cli->dir);
            goto out;
        }
        (void)printf("Security summary of '%s' (origin %s)\n", cli->dir, info.origin);
        (void)fflush(stdout);
    }
    ret = cli_write_output(NULL, text, len) ? CLI_OK : CLI_TROUBLE;
out:
    free(text);
    ev_summary_free(summary);
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_summary = {
    .name = "summary",
    .summary = "security summary: counts by type, severity, source; findings; risks",
    .usage = usage,
    .run = run,
};
