/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident ingest: a scanner's report (Bandit, Semgrep, SARIF, docker or
 * podman inspect) into typed events, all of them or none (docs/INGEST.md).
 *
 * The whole report is read and checked before the log is opened: a bad
 * report is refused with the JSON path of what is wrong and nothing is
 * written. The events then go in as one batch under the configuration's
 * policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/event.h>
#include <evident/ingest.h>
#include <evident/log.h>
#include <evident/policy.h>

#include "cli.h"

#define MAX_RISKS 32

static const char usage[] =
    "usage: evident [-d DIR] ingest FORMAT FILE [--target TARGET] [--sync MODE]\n"
    "\n"
    "Reads a security tool's report and appends what it found as typed events\n"
    "(docs/INGEST.md): every event or, if anything in the report is wrong, none.\n"
    "FILE \"-\" reads standard input. Prints one line per report saying what was\n"
    "appended and at which index.\n"
    "\n"
    "Formats:\n"
    "  bandit          bandit -f json: one security_assessment\n"
    "  semgrep         semgrep --json: one security_assessment\n"
    "  sarif           SARIF 2.1.0 (CodeQL, Trivy, gitleaks, ...): one\n"
    "                  security_assessment per run\n"
    "  docker-inspect  docker inspect / podman inspect of containers: one\n"
    "                  container_creation per container (podman-inspect is the same)\n"
    "\n"
    "Each security_assessment records the tool and its version (when the report\n"
    "gives it), the target, the SHA-256 and size of the report file, every\n"
    "finding (rule, severity, confidence, file, line, CWE, message) and exact\n"
    "counts by severity; when the findings do not fit an entry the most severe\n"
    "are kept and the entry says so. The configuration's policy (-c) applies.\n"
    "\n"
    "Options:\n"
    "  --target TARGET  what was scanned (a path, an image, a repository);\n"
    "                   default: FILE\n"
    "  --sync MODE      always (default), interval or never, as for append\n"
    "  -d, --dir DIR    the log directory (default: $EVIDENT_DIR, else ./evident-log)\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit codes: 0 appended (events the policy drops are reported, not written);\n"
    "2 usage error, unreadable or malformed report (nothing written; the message\n"
    "names the file and the JSON path, e.g. 'report.json: results[3].line_number:\n"
    "expected an integer'), or I/O failure.\n";

/* "14 findings: 4 high, 6 medium, 4 low" */
static void describe_findings(const struct ev_security_assessment *a, char *out, size_t cap)
{
    static const char *const names[] = {"info", "low", "medium", "high", "critical"};
    size_t by[5] = {0};
    size_t n;

    for (size_t i = 0; i < a->finding_count; i++) {
        enum ev_finding_severity s = a->findings[i].severity;
        if (s >= EV_FINDING_INFO && s <= EV_FINDING_CRITICAL) {
            by[s - EV_FINDING_INFO]++;
        }
    }
    int w = snprintf(out, cap, "%zu finding%s", a->finding_count, a->finding_count == 1 ? "" : "s");
    n = w < 0 ? 0 : (size_t)w;
    bool first = true;
    for (int s = 4; s >= 0 && n < cap; s--) {
        if (by[s] > 0) {
            w = snprintf(out + n, cap - n, "%s%zu %s", first ? ": " : ", ", by[s], names[s]);
            n = w < 0 ? n : n + (size_t)w;
            first = false;
        }
    }
}

/* "CodeQL 2.16.1: 4 findings: 2 critical, 1 high, 1 low" or "ci-runner: privileged, ..." */
static void describe(const struct ev_ingest *in, size_t i, bool with_tool, char *out, size_t cap)
{
    if (i < in->assessment_count) {
        const struct ev_security_assessment *a = &in->assessments[i];
        char findings[256];
        describe_findings(a, findings, sizeof(findings));
        if (with_tool) {
            (void)snprintf(out, cap, "%s%s%s: %s", a->tool, a->tool_version ? " " : "",
                           a->tool_version ? a->tool_version : "", findings);
        } else {
            (void)snprintf(out, cap, "%s", findings);
        }
        return;
    }
    const struct ev_container_creation *c = &in->containers[i - in->assessment_count];
    const char *risks[MAX_RISKS];
    size_t count = ev_container_risks(c, risks, MAX_RISKS);
    int w = snprintf(out, cap, "%s%.*s: ", c->name != NULL ? c->name : "", c->name != NULL ? 0 : 12,
                     c->container_id);
    size_t n = w < 0 ? 0 : (size_t)w;
    if (count == 0 && n < cap) {
        (void)snprintf(out + n, cap - n, "no risks");
    }
    for (size_t r = 0; r < count && r < MAX_RISKS && n < cap; r++) {
        w = snprintf(out + n, cap - n, "%s%s", r == 0 ? "risks: " : ", ", risks[r]);
        n = w < 0 ? n : n + (size_t)w;
    }
}

/* " (findings cut to fit the entry; 2 secrets redacted)" or "". */
static void notes(const struct ev_ingest_result *r, char *out, size_t cap)
{
    out[0] = '\0';
    if (r->truncated && r->redacted > 0) {
        (void)snprintf(out, cap, " (findings cut to fit the entry; %u secret%s redacted)",
                       r->redacted, r->redacted == 1 ? "" : "s");
    } else if (r->truncated) {
        (void)snprintf(out, cap, " (findings cut to fit the entry)");
    } else if (r->redacted > 0) {
        (void)snprintf(out, cap, " (%u secret%s redacted)", r->redacted,
                       r->redacted == 1 ? "" : "s");
    }
}

static void print_summary(const char *format, const struct ev_ingest *in,
                          const struct ev_ingest_result *results, size_t appended)
{
    size_t count = ev_ingest_event_count(in);
    const char *type = in->assessment_count > 0 ? "security_assessment" : "container_creation";
    char what[4096], note[128];
    uint64_t first = 0, last = 0;
    bool any = false;

    for (size_t i = 0; i < count; i++) {
        if (!results[i].dropped) {
            last = results[i].index;
            first = any ? first : results[i].index;
            any = true;
        }
    }
    if (count == 1 && appended == 1) {
        /* bandit: 1 security_assessment (14 findings: 4 high, 6 medium, 4 low) at index 12 */
        describe(in, 0, in->format == EV_INGEST_SARIF, what, sizeof(what));
        notes(&results[0], note, sizeof(note));
        (void)printf("%s: 1 %s (%s) at index %llu%s\n", format, type, what,
                     (unsigned long long)first, note);
        return;
    }
    if (appended == 0) {
        (void)printf("%s: nothing appended: the policy drops %s %zu %s%s\n", format,
                     count == 1 ? "the" : "all", count, type, count == 1 ? "" : "s");
    } else if (appended == 1) {
        (void)printf("%s: 1 %s at index %llu (%zu dropped by the policy)\n", format, type,
                     (unsigned long long)first, count - 1);
    } else if (appended == count) {
        (void)printf("%s: %zu %ss at index %llu-%llu\n", format, count, type,
                     (unsigned long long)first, (unsigned long long)last);
    } else {
        (void)printf("%s: %zu %ss at index %llu-%llu (%zu dropped by the policy)\n", format,
                     appended, type, (unsigned long long)first, (unsigned long long)last,
                     count - appended);
    }
    for (size_t i = 0; i < count; i++) {
        describe(in, i, true, what, sizeof(what));
        if (results[i].dropped) {
            (void)printf("  dropped: %s\n", what);
        } else {
            notes(&results[i], note, sizeof(note));
            (void)printf("  index %llu: %s%s\n", (unsigned long long)results[i].index, what, note);
        }
    }
}

static int ingest(struct cli *cli, enum ev_ingest_format format, const char *path,
                  const char *target, enum ev_sync sync)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    struct ev_ingest_result *results = NULL;
    struct ev_policy *policy = NULL;
    struct ev_ingest *in = NULL;
    struct ev_log *log = NULL;
    size_t len, appended = 0;
    char *data = NULL;
    int ret = CLI_TROUBLE, r;

    /* The whole report is checked before the log is touched. */
    if (!cli_read_file(path, EV_INGEST_MAX_BYTES, &data, &len)) {
        goto out;
    }
    r = ev_ingest_parse(format, name, data, len, target, &in);
    if (r < 0) {
        cli_error("cannot ingest %s report: %s", ev_ingest_format_name(format),
                  ev_last_error()[0] != '\0' ? ev_last_error() : cli_cause(r));
        goto out;
    }
    results = calloc(ev_ingest_event_count(in), sizeof(*results));
    if (results == NULL) {
        cli_error("out of memory");
        goto out;
    }
    if (!cli_policy(cli, &policy)) {
        goto out;
    }
    if (!cli_open(cli, false, sync, &log)) {
        goto out;
    }
    r = ev_ingest_append(log, policy, in, results, &appended);
    if (r < 0) {
        cli_fail(r, "cannot append '%s' to '%s'", name, cli->dir);
        goto out;
    }
    /* Close makes the events durable whatever the sync mode: only then are they acknowledged. */
    struct ev_log *closing = log;
    log = NULL;
    if (!cli_close(cli, closing)) {
        goto out;
    }
    print_summary(ev_ingest_format_name(format), in, results, appended);
    if (in->tool_errors > 0) {
        cli_error("note: the report lists %zu error%s of the tool itself: the scan may be "
                  "incomplete",
                  in->tool_errors, in->tool_errors == 1 ? "" : "s");
    }
    ret = fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
out:
    (void)ev_log_close(log);
    ev_policy_free(policy);
    ev_ingest_free(in);
    free(results);
    free(data);
    return ret;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"target", required_argument, NULL, 't'},
        {"sync", required_argument, NULL, 'y'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    enum ev_sync sync = CLI_SYNC_CONFIG;
    enum ev_ingest_format format;
    const char *target = NULL;
    int c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 't':
            if (optarg[0] == '\0') {
                return cli_usage_error(cli, "--target must not be empty");
            }
            target = optarg;
            break;
        case 'y':
            if (ev_sync_parse(optarg, &sync) < 0) {
                return cli_usage_error(cli,
                                       "invalid sync mode '%s': expected always, interval "
                                       "or never",
                                       optarg);
            }
            break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (argc - optind != 2) {
        return cli_usage_error(cli, "expected a format and a report file");
    }
    if (ev_ingest_format_parse(argv[optind], &format) < 0) {
        return cli_usage_error(cli,
                               "unknown format '%s': expected bandit, semgrep, sarif, "
                               "docker-inspect or podman-inspect",
                               argv[optind]);
    }
    return ingest(cli, format, argv[optind + 1], target, sync);
}

const struct cli_command cli_cmd_ingest = {
    .name = "ingest",
    .summary = "append a scanner's report (bandit, semgrep, sarif, docker inspect)",
    .usage = usage,
    .run = run,
};
