/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident report: an audit report as evidence: the summary of exactly the
 * entries of the latest signed checkpoint, with that checkpoint, the result
 * of verifying the log, its public key and the commands to re-check it all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/log.h>
#include <evident/report.h>
#include <evident/verify.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] report --format html|json|md --out FILE [--since TIME]\n"
    "                              [--until TIME] [--pubkey KEY]\n"
    "                              [--verification-key-file FILE] [--rows N]\n"
    "                              [--data-key FILE]\n"
    "\n"
    "Writes an audit report of the log: the security summary (as 'evident summary'),\n"
    "charts of events over time, by severity and by type, the notable events\n"
    "(severity warning or worse, high or critical findings, risky containers,\n"
    "violations killed or denied) and an integrity section. The report covers\n"
    "exactly the entries [0, N) of the latest signed checkpoint, whose text it\n"
    "includes; the log is verified with that checkpoint as a trusted one, and the\n"
    "report says the result, the log's public key and the commands an auditor runs\n"
    "to re-check it. A log that fails verification still gets a report, which says\n"
    "so at the top, and the command exits 1.\n"
    "\n"
    "HTML is one self-contained page (inline CSS and SVG, no script, no network),\n"
    "printable; JSON holds everything machine-readable; Markdown suits a repository\n"
    "or a pull request. Formats and schema: docs/REPORTS.md.\n"
    "\n"
    "Options:\n"
    "  --format FORMAT      html, json or md (required)\n"
    "  --out FILE           the report file, replaced atomically ('-': standard output)\n"
    "  --since TIME         only events with ts >= TIME (e.g. 2026-11-27T09:00:00Z)\n"
    "  --until TIME         only events with ts < TIME\n"
    "  --pubkey KEY         pin the log's public key (ORIGIN+KEYID+BASE64); without it\n"
    "                       the key recorded in the log is used, and shown\n"
    "  --verification-key-file FILE\n"
    "                       the verification key from 'evident init' (64 hex digits,\n"
    "                       mode 0600 or stricter): check every record's tag too\n"
    "  --rows N             notable events listed, the most severe first chosen\n"
    "                       (default 200, at most 10000)\n"
    "  --data-key FILE      the data key file of encrypted entries (default: the\n"
    "                       privacy.encryption.key_file of -c CONFIG); needed when\n"
    "                       the log holds encrypted entries\n"
    "  -d, --dir DIR        the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 written, log verified; 1 written, log FAILED verification; 2 usage\n"
    "error, no log, unreadable or insecure key file, malformed --pubkey, I/O failure\n"
    "(nothing written).\n";

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"since", required_argument, NULL, 'a'},
        {"until", required_argument, NULL, 'b'},
        {"pubkey", required_argument, NULL, 'p'},
        {"verification-key-file", required_argument, NULL, 'k'},
        {"rows", required_argument, NULL, 'r'},
        {"data-key", required_argument, NULL, 'K'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_report_options ro = {0};
    enum ev_report_format format = EV_REPORT_HTML;
    const char *out = NULL, *key_file = NULL;
    bool have_format = false;
    uint8_t key[EV_VERIFICATION_KEY_BYTES];
    struct ev_report *report = NULL;
    char *text = NULL;
    size_t len = 0;
    uint64_t rows;
    int c, r, ret = CLI_TROUBLE;

    cli->decrypts = true; /* shows source and data: needs the data keys (FORMAT.md §5.1) */
    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (ev_report_format_parse(optarg, &format) < 0) {
                return cli_usage_error(cli, "unknown format '%s' (html, json, md)", optarg);
            }
            have_format = true;
            break;
        case 'o': out = optarg; break;
        case 'a':
            if (!cli_parse_time("--since time", optarg, &ro.since_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'b':
            if (!cli_parse_time("--until time", optarg, &ro.until_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'p': ro.pubkey = optarg; break;
        case 'k': key_file = optarg; break;
        case 'K': cli->data_key_path = optarg; break;
        case 'r':
            if (!cli_parse_u64("--rows", optarg, &rows)) {
                return CLI_TROUBLE;
            }
            if (rows == 0 || rows > EV_REPORT_MAX_ROWS) {
                return cli_usage_error(cli, "--rows must be 1 to %d", EV_REPORT_MAX_ROWS);
            }
            ro.max_rows = (size_t)rows;
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
    if (!have_format) {
        return cli_usage_error(cli, "--format is required (html, json, md)");
    }
    if (out == NULL) {
        return cli_usage_error(cli, "--out is required ('-' for standard output)");
    }
    if (ro.since_ns != 0 && ro.until_ns != 0 && ro.since_ns >= ro.until_ns) {
        return cli_usage_error(cli, "--since must be before --until");
    }
    if (key_file != NULL) {
        if (!cli_read_verification_key(key_file, key)) {
            return CLI_TROUBLE;
        }
        ro.verification_key = key;
    }
    ro.dir_label = cli->dir;
    if (!cli_data_keys(cli, true, &ro.data_keys)) {
        goto out;
    }
    r = ev_report_build(cli->dir, &ro, &report);
    if (r == EV_EBADKEY) {
        cli_fail(r, "invalid --pubkey '%s'", ro.pubkey != NULL ? ro.pubkey : "");
        goto out;
    }
    if (r < 0) {
        cli_fail_read(r, "cannot make a report of '%s'", cli->dir);
        goto out;
    }
    r = ev_report_render(report, format, &text, &len);
    if (r < 0) {
        cli_fail(r, "cannot make a report of '%s'", cli->dir);
        goto out;
    }
    if (!cli_write_output(strcmp(out, "-") == 0 ? NULL : out, text, len)) {
        goto out;
    }
    if (!ev_report_verified(report)) {
        const struct ev_verify_report *v = ev_report_verification(report);
        if (v->failure != EV_FAIL_NONE) {
            cli_error("'%s' FAILED verification (%s: %s); the report says so", cli->dir,
                      ev_failure_name(v->failure), v->detail);
        } else {
            cli_error("'%s' FAILED verification (see the report's integrity section)", cli->dir);
        }
        ret = CLI_FAILED;
    } else {
        ret = CLI_OK;
    }
out:
    free(text);
    ev_report_free(report);
    cli_wipe(key, sizeof(key));
    return ret;
}

const struct cli_command cli_cmd_report = {
    .name = "report",
    .summary = "audit report (HTML, JSON, Markdown) with its checkpoint; exit 1 if it fails",
    .usage = usage,
    .run = run,
};
