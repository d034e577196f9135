/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for src/lib/ingest/: every report in tests/data/ingest/ parsed field
 * by field with exact values (the Bandit one is the real Bandit 1.6.2's
 * output over tests/data/ingest/vulnerable/), every malformed report in
 * tests/data/ingest/bad/ refused with the exact message, and the edge cases
 * of each mapping (docs/INGEST.md) on small inline reports. The report
 * digest is checked against OpenSSL's SHA-256, not ours.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/sha.h>

#include <evident/error.h>
#include <evident/ingest.h>
#include <evident/config.h>
#include <evident/policy.h>

#include "testutil.h"

#include "ingest/ingest-internal.h"

#define DATA_DIR EV_TEST_VECTORS_DIR "/../data/ingest"

/* ---- helpers ------------------------------------------------------------- */

static char *read_data(const char *rel, size_t *ret_len)
{
    char path[4096];
    assert_true(snprintf(path, sizeof(path), "%s/%s", DATA_DIR, rel) < (int)sizeof(path));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) {
            break;
        }
        cap *= 2;
        buf = realloc(buf, cap);
        assert_non_null(buf);
    }
    (void)fclose(f);
    *ret_len = len;
    return buf;
}

/* Parses tests/data/ingest/REL (named by its base name in messages) and asserts success. */
static struct ev_ingest *parse_file(enum ev_ingest_format format, const char *rel,
                                    const char *target)
{
    size_t len;
    char *data = read_data(rel, &len);
    struct ev_ingest *in = NULL;
    const char *base = strrchr(rel, '/') != NULL ? strrchr(rel, '/') + 1 : rel;
    int r = ev_ingest_parse(format, base, data, len, target, &in);
    if (r != 0) {
        fail_msg("%s: %d (%s): %s", rel, r, ev_strerror(r), ev_last_error());
    }
    assert_non_null(in);

    /* Digest and length of the exact bytes, by an implementation other than ours. */
    uint8_t digest[SHA256_DIGEST_LENGTH];
    char hex[65];
    SHA256((const unsigned char *)data, len, digest);
    for (size_t i = 0; i < sizeof(digest); i++) {
        (void)snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    assert_string_equal(in->report_sha256, hex);
    assert_int_equal(in->report_bytes, len);
    for (size_t i = 0; i < in->assessment_count; i++) {
        assert_string_equal(in->assessments[i].report_sha256, hex);
        assert_true(in->assessments[i].report_bytes.set);
        assert_int_equal(in->assessments[i].report_bytes.value, len);
        assert_string_equal(in->assessments[i].target, target != NULL ? target : base);
        assert_false(in->assessments[i].counts_set);
    }
    free(data);
    return in;
}

/* Parses an inline report; returns the code, *ret the parse on success. */
static int parse_text(enum ev_ingest_format format, const char *text, struct ev_ingest **ret)
{
    *ret = NULL;
    return ev_ingest_parse(format, "r.json", text, strlen(text), NULL, ret);
}

static void expect_error(enum ev_ingest_format format, const char *text, int code,
                         const char *message)
{
    struct ev_ingest *in = NULL;
    int r = parse_text(format, text, &in);
    if (r != code) {
        fail_msg("expected %d, got %d (%s) for %s", code, r, ev_last_error(), text);
    }
    assert_null(in);
    assert_string_equal(ev_last_error(), message);
}

struct want_finding {
    const char *rule_id;
    enum ev_finding_severity severity;
    enum ev_confidence confidence;
    const char *file; /* NULL: unset */
    int64_t line;     /* 0: unset */
    int64_t cwe;      /* 0: unset */
    const char *message;
};

static void check_str(const char *what, size_t i, const char *got, const char *want)
{
    if (want == NULL && got == NULL) {
        return;
    }
    if (want == NULL || got == NULL || strcmp(got, want) != 0) {
        fail_msg("finding %zu: %s: got \"%s\", expected \"%s\"", i, what, got ? got : "(unset)",
                 want ? want : "(unset)");
    }
}

static void check_opt(const char *what, size_t i, struct ev_opt_int got, int64_t want)
{
    if (want == 0) {
        if (got.set) {
            fail_msg("finding %zu: %s: set to %lld, expected unset", i, what, (long long)got.value);
        }
        return;
    }
    if (!got.set || got.value != want) {
        fail_msg("finding %zu: %s: got %lld (%s), expected %lld", i, what, (long long)got.value,
                 got.set ? "set" : "unset", (long long)want);
    }
}

static void check_findings(const struct ev_security_assessment *a, const struct want_finding *want,
                           size_t count)
{
    assert_int_equal(a->finding_count, count);
    for (size_t i = 0; i < count; i++) {
        const struct ev_finding *f = &a->findings[i];
        check_str("rule_id", i, f->rule_id, want[i].rule_id);
        if (f->severity != want[i].severity) {
            fail_msg("finding %zu (%s): severity %d, expected %d", i, f->rule_id, f->severity,
                     want[i].severity);
        }
        if (f->confidence != want[i].confidence) {
            fail_msg("finding %zu (%s): confidence %d, expected %d", i, f->rule_id, f->confidence,
                     want[i].confidence);
        }
        check_str("file", i, f->file, want[i].file);
        check_opt("line", i, f->line, want[i].line);
        check_opt("cwe", i, f->cwe, want[i].cwe);
        check_str("message", i, f->message, want[i].message);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- formats ------------------------------------------------------------- */

static void test_format_names(void **state)
{
    static const char *const names[] = {"bandit", "semgrep", "sarif", "docker-inspect"};
    enum ev_ingest_format f;
    (void)state;

    for (size_t i = 0; i < N(names); i++) {
        assert_int_equal(ev_ingest_format_parse(names[i], &f), 0);
        assert_int_equal(f, (enum ev_ingest_format)i);
        assert_string_equal(ev_ingest_format_name(f), names[i]);
    }
    assert_int_equal(ev_ingest_format_parse("podman-inspect", &f), 0);
    assert_int_equal(f, EV_INGEST_DOCKER_INSPECT);
    assert_int_equal(ev_ingest_format_parse("Bandit", &f), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "unknown report format 'Bandit': expected bandit, "
                                         "semgrep, sarif, docker-inspect or podman-inspect");
    assert_int_equal(ev_ingest_format_parse("", &f), EV_EFORMAT);
    assert_null(ev_ingest_format_name(EV_INGEST_FORMAT_COUNT));
    assert_null(ev_ingest_format_name((enum ev_ingest_format) - 1));
    assert_int_equal(ev_ingest_event_count(NULL), 0);
    ev_ingest_free(NULL);
}

/* ---- Bandit -------------------------------------------------------------- */

static void test_bandit_real(void **state)
{
    /* The real Bandit 1.6.2 over tests/data/ingest/vulnerable/ (bandit -f json -r vulnerable). */
    static const struct want_finding want[] = {
        {"B403", EV_FINDING_LOW, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 7, 0,
         "Consider possible security implications associated with pickle module."},
        {"B404", EV_FINDING_LOW, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 8, 0,
         "Consider possible security implications associated with subprocess module."},
        {"B602", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 18, 0,
         "subprocess call with shell=True identified, security issue."},
        {"B307", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 22, 0,
         "Use of possibly insecure function - consider using safer ast.literal_eval."},
        {"B301", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 26, 0,
         "Pickle and modules that wrap it can be unsafe when used to deserialize untrusted data, "
         "possible security issue."},
        {"B506", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 30, 0,
         "Use of unsafe yaml load. Allows instantiation of arbitrary objects. Consider "
         "yaml.safe_load()."},
        {"B303", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 34, 0,
         "Use of insecure MD2, MD4, MD5, or SHA1 hash function."},
        {"B101", EV_FINDING_LOW, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 38, 0,
         "Use of assert detected. The enclosed code will be removed when compiling to optimised "
         "byte code."},
        {"B107", EV_FINDING_LOW, EV_CONFIDENCE_MEDIUM, "vulnerable/app.py", 42, 0,
         "Possible hardcoded password: 's3cret-admin'"},
        {"B102", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 47, 0,
         "Use of exec detected."},
        {"B306", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 51, 0,
         "Use of insecure and deprecated function (mktemp)."},
        {"B501", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 55, 0,
         "Requests call with verify=False disabling SSL certificate checks, security issue."},
        {"B103", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 59, 0,
         "Chmod setting a permissive mask 0o777 on file (path)."},
        {"B602", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 63, 0,
         "subprocess call with shell=True identified, security issue."},
    };
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_BANDIT, "bandit-1.6.2.json", NULL);
    assert_int_equal(in->format, EV_INGEST_BANDIT);
    assert_int_equal(in->assessment_count, 1);
    assert_int_equal(in->container_count, 0);
    assert_null(in->containers);
    assert_int_equal(ev_ingest_event_count(in), 1);
    assert_int_equal(in->tool_errors, 0);
    const struct ev_security_assessment *a = &in->assessments[0];
    assert_string_equal(a->tool, "bandit");
    assert_null(a->tool_version); /* Bandit does not write its version into the report */
    assert_string_equal(a->target, "bandit-1.6.2.json");
    assert_false(a->score.set);
    assert_int_equal(a->recommendations.count, 0);
    check_findings(a, want, N(want));
    ev_ingest_free(in);
}

static void test_bandit_cwe(void **state)
{
    static const struct want_finding want[] = {
        {"B602", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "src/app.py", 14, 78,
         "subprocess call with shell=True identified, security issue."},
        {"B324", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "src/app.py", 30, 327,
         "Use of weak MD5 hash for security. Consider usedforsecurity=False"},
        /* issue_cwe.id 0 is Bandit's "no CWE". */
        {"B107", EV_FINDING_LOW, EV_CONFIDENCE_MEDIUM, "src/db.py", 41, 0,
         "Possible hardcoded password: 's3cret-admin'"},
    };
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_BANDIT, "bandit-1.7.json", "git@example.com:app");
    assert_int_equal(in->tool_errors, 1);
    assert_string_equal(in->assessments[0].target, "git@example.com:app");
    check_findings(&in->assessments[0], want, N(want));
    ev_ingest_free(in);
}

static void test_bandit_edges(void **state)
{
    struct ev_ingest *in;
    (void)state;

    /* No results is a clean scan: one assessment without findings. */
    assert_int_equal(parse_text(EV_INGEST_BANDIT, "{\"results\": []}", &in), 0);
    assert_int_equal(in->assessment_count, 1);
    assert_int_equal(in->assessments[0].finding_count, 0);
    ev_ingest_free(in);

    /* UNDEFINED severity is info, UNDEFINED or no confidence is unset; case is ignored. */
    assert_int_equal(parse_text(EV_INGEST_BANDIT,
                                "{\"results\": [{\"test_id\": \"B000\", \"issue_severity\": "
                                "\"UNDEFINED\", \"issue_confidence\": \"UNDEFINED\", "
                                "\"filename\": \"a.py\", \"line_number\": 1}, {\"test_id\": "
                                "\"B001\", \"issue_severity\": \"high\", \"filename\": \"b.py\", "
                                "\"line_number\": 2, \"issue_text\": null, \"issue_cwe\": null}]}",
                                &in),
                     0);
    static const struct want_finding want[] = {
        {"B000", EV_FINDING_INFO, EV_CONFIDENCE_UNSET, "a.py", 1, 0, NULL},
        {"B001", EV_FINDING_HIGH, EV_CONFIDENCE_UNSET, "b.py", 2, 0, NULL},
    };
    check_findings(&in->assessments[0], want, N(want));
    ev_ingest_free(in);

    expect_error(EV_INGEST_BANDIT, "[]", EV_EFORMAT,
                 "r.json: expected a JSON object (Bandit's -f json)");
    expect_error(EV_INGEST_BANDIT, "{\"results\": {}}", EV_EFORMAT,
                 "r.json: results: expected an array");
    expect_error(EV_INGEST_BANDIT, "{\"results\": [7]}", EV_EFORMAT,
                 "r.json: results[0]: expected an object");
    expect_error(EV_INGEST_BANDIT,
                 "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                 "\"filename\": \"a\", \"line_number\": 0}]}",
                 EV_EFORMAT,
                 "r.json: results[0].line_number: expected an integer from 1 to 2147483647");
    expect_error(EV_INGEST_BANDIT,
                 "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                 "\"filename\": \"a\", \"line_number\": 3.0}]}",
                 EV_EFORMAT, "r.json: results[0].line_number: expected an integer");
    expect_error(EV_INGEST_BANDIT,
                 "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                 "\"filename\": \"a\", \"line_number\": 3, \"issue_cwe\": {\"id\": \"78\"}}]}",
                 EV_EFORMAT, "r.json: results[0].issue_cwe.id: expected an integer");
    expect_error(EV_INGEST_BANDIT, "{\"results\": [], \"errors\": 3}", EV_EFORMAT,
                 "r.json: errors: expected an array");
}

/* ---- Semgrep ------------------------------------------------------------- */

static void test_semgrep(void **state)
{
    static const struct want_finding want[] = {
        {"python.lang.security.audit.subprocess-shell-true.subprocess-shell-true", EV_FINDING_HIGH,
         EV_CONFIDENCE_MEDIUM, "vulnerable/app.py", 18, 78,
         "Found 'subprocess' function 'Popen' with 'shell=True'. This is dangerous because this "
         "call will spawn the command using a shell process. Doing so propagates current shell "
         "settings and variables, which makes it much easier for a malicious actor to execute "
         "commands. Use 'shell=False' instead."},
        {"python.lang.security.deserialization.pickle.avoid-pickle", EV_FINDING_MEDIUM,
         EV_CONFIDENCE_LOW, "vulnerable/app.py", 26, 502,
         "Avoid using `pickle`, which is known to lead to code execution vulnerabilities. When "
         "unpickling, the serialized data could be manipulated to run arbitrary code. Instead, "
         "consider serializing the relevant data as JSON or a similar text-based serialization "
         "format."},
        /* metadata.cwe as one string rather than a list */
        {"python.lang.security.insecure-hash-algorithms-md5.insecure-hash-algorithm-md5",
         EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 34, 327,
         "Detected MD5 hash algorithm which is considered insecure. MD5 is not collision "
         "resistant and is therefore not suitable as a cryptographic signature. Use SHA256 or "
         "SHA3 instead."},
        {"python.lang.best-practice.use-assert", EV_FINDING_LOW, EV_CONFIDENCE_UNSET,
         "vulnerable/app.py", 38, 0, "assert is removed under python -O"},
    };
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_SEMGREP, "semgrep.json", NULL);
    assert_int_equal(in->assessment_count, 1);
    assert_int_equal(in->tool_errors, 1);
    assert_string_equal(in->assessments[0].tool, "semgrep");
    assert_string_equal(in->assessments[0].tool_version, "1.56.0");
    check_findings(&in->assessments[0], want, N(want));
    ev_ingest_free(in);
}

static void test_semgrep_severities(void **state)
{
    static const char *const names[] = {"ERROR",  "WARNING", "INFO",       "CRITICAL",  "HIGH",
                                        "MEDIUM", "LOW",     "EXPERIMENT", "INVENTORY", "error"};
    static const enum ev_finding_severity want[] = {
        EV_FINDING_HIGH,   EV_FINDING_MEDIUM, EV_FINDING_LOW,  EV_FINDING_CRITICAL, EV_FINDING_HIGH,
        EV_FINDING_MEDIUM, EV_FINDING_LOW,    EV_FINDING_INFO, EV_FINDING_INFO,     EV_FINDING_HIGH,
    };
    (void)state;

    for (size_t i = 0; i < N(names); i++) {
        char text[512];
        struct ev_ingest *in;
        (void)snprintf(text, sizeof(text),
                       "{\"results\": [{\"check_id\": \"r\", \"path\": \"p\", \"start\": "
                       "{\"line\": 4}, \"extra\": {\"severity\": \"%s\"}}]}",
                       names[i]);
        assert_int_equal(parse_text(EV_INGEST_SEMGREP, text, &in), 0);
        assert_int_equal(in->assessments[0].findings[0].severity, want[i]);
        assert_null(in->assessments[0].tool_version);
        ev_ingest_free(in);
    }
    expect_error(EV_INGEST_SEMGREP,
                 "{\"results\": [{\"check_id\": \"r\", \"path\": \"p\", \"start\": {\"line\": 4}, "
                 "\"extra\": {\"severity\": \"FATAL\"}}]}",
                 EV_EFORMAT,
                 "r.json: results[0].extra.severity: expected one of ERROR, WARNING, INFO, "
                 "CRITICAL, HIGH, MEDIUM, LOW, EXPERIMENT, INVENTORY");
    expect_error(EV_INGEST_SEMGREP,
                 "{\"results\": [{\"check_id\": \"r\", \"path\": \"p\", \"start\": {\"line\": 4}, "
                 "\"extra\": {\"severity\": \"INFO\", \"metadata\": {\"confidence\": 3}}}]}",
                 EV_EFORMAT, "r.json: results[0].extra.metadata.confidence: expected a string");
    expect_error(
        EV_INGEST_SEMGREP,
        "{\"results\": [{\"check_id\": \"r\", \"path\": \"p\", \"start\": {\"line\": 4}}]}",
        EV_EFORMAT, "r.json: results[0].extra: missing");
    expect_error(EV_INGEST_SEMGREP, "{\"results\": [], \"version\": 1}", EV_EFORMAT,
                 "r.json: version: expected a string");
}

/* ---- SARIF --------------------------------------------------------------- */

static void test_sarif_codeql(void **state)
{
    /* Rules in tool.extensions[0] (rule.toolComponent.index); the suppressed result is skipped. */
    static const struct want_finding want[] = {
        {"py/command-line-injection", EV_FINDING_CRITICAL, EV_CONFIDENCE_HIGH, "vulnerable/app.py",
         18, 78, "This command line depends on a [user-provided value](1)."},
        /* the uri from run.artifacts[0] */
        {"py/weak-sensitive-data-hashing", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "vulnerable/app.py",
         34, 327,
         "[Sensitive data (password)](1) is used in a hashing algorithm (MD5) that is insecure "
         "for password hashing, since it is not a computationally expensive hash function."},
        {"py/unsafe-deserialization", EV_FINDING_CRITICAL, EV_CONFIDENCE_HIGH, "vulnerable/app.py",
         26, 502, "Unsafe deserialization depends on a [user-provided value](1)."},
        /* no security-severity: the rule's default level, note, is low */
        {"py/unused-import", EV_FINDING_LOW, EV_CONFIDENCE_HIGH, "vulnerable/app.py", 6, 0,
         "Import of 'os' is not used."},
    };
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_SARIF, "codeql.sarif", "github.com/example/app");
    assert_int_equal(in->assessment_count, 1);
    assert_int_equal(in->tool_errors, 0);
    assert_string_equal(in->assessments[0].tool, "CodeQL");
    assert_string_equal(in->assessments[0].tool_version, "2.16.1");
    check_findings(&in->assessments[0], want, N(want));
    ev_ingest_free(in);
}

static void test_sarif_trivy(void **state)
{
    static const struct want_finding want[] = {
        {"CVE-2023-0286", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "library/python", 1, 0,
         "Package: libssl3\nInstalled Version: 3.0.7-r0\nVulnerability CVE-2023-0286\n"
         "Severity: HIGH\nFixed Version: 3.0.8-r0\nLink: "
         "[CVE-2023-0286](https://avd.aquasec.com/nvd/cve-2023-0286)"},
        {"CVE-2022-37434", EV_FINDING_CRITICAL, EV_CONFIDENCE_HIGH, "library/python", 1, 0,
         "Package: zlib\nInstalled Version: 1.2.12-r1\nVulnerability CVE-2022-37434\n"
         "Severity: CRITICAL\nFixed Version: 1.2.12-r2\nLink: "
         "[CVE-2022-37434](https://avd.aquasec.com/nvd/cve-2022-37434)"},
        {"CVE-2023-5678", EV_FINDING_MEDIUM, EV_CONFIDENCE_HIGH, "library/python", 1, 0,
         "Package: libcrypto3\nInstalled Version: 3.0.7-r0\nVulnerability CVE-2023-5678\n"
         "Severity: MEDIUM\nFixed Version: 3.0.12-r1\nLink: "
         "[CVE-2023-5678](https://avd.aquasec.com/nvd/cve-2023-5678)"},
        {"DS002", EV_FINDING_HIGH, EV_CONFIDENCE_HIGH, "Dockerfile", 1, 0,
         "Artifact: Dockerfile\nType: dockerfile\nVulnerability DS002\nSeverity: HIGH\n"
         "Message: Specify at least 1 USER command in Dockerfile with non-root user as "
         "argument\nLink: [DS002](https://avd.aquasec.com/misconfig/ds002)"},
    };
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_SARIF, "trivy.sarif", NULL);
    assert_int_equal(in->assessment_count, 1);
    assert_string_equal(in->assessments[0].tool, "Trivy");
    assert_string_equal(in->assessments[0].tool_version, "0.49.1");
    check_findings(&in->assessments[0], want, N(want));
    ev_ingest_free(in);
}

static void test_sarif_runs(void **state)
{
    /* gitleaks: no levels anywhere, so "warning": medium */
    static const struct want_finding leaks[] = {
        {"aws-access-token", EV_FINDING_MEDIUM, EV_CONFIDENCE_UNSET, "config/settings.py", 12, 0,
         "aws-access-token has detected secret for file config/settings.py at commit 4b5e2a1."},
        {"generic-api-key", EV_FINDING_MEDIUM, EV_CONFIDENCE_UNSET, "deploy/env.sh", 3, 0,
         "generic-api-key has detected secret for file deploy/env.sh at commit 9c0d3f7."},
    };
    /* pass and absent results skipped; kind "review" without a level is none: info */
    static const struct want_finding linter[] = {
        {"EX100", EV_FINDING_LOW, EV_CONFIDENCE_UNSET, "src/util.c", 77, 563,
         "Variable '{0}' is assigned but never used."},
        {"EX200", EV_FINDING_MEDIUM, EV_CONFIDENCE_MEDIUM, "src/main.c", 12, 0,
         "Buffer length taken from the input."},
        {"EX300", EV_FINDING_INFO, EV_CONFIDENCE_UNSET, NULL, 0, 0, "Review this use of memcpy."},
    };
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_SARIF, "multi-run.sarif", NULL);
    assert_int_equal(in->assessment_count, 2);
    assert_int_equal(ev_ingest_event_count(in), 2);
    assert_int_equal(in->tool_errors, 1); /* the second run's invocation failed */
    assert_string_equal(in->assessments[0].tool, "gitleaks");
    assert_string_equal(in->assessments[0].tool_version, "v8.18.2");
    check_findings(&in->assessments[0], leaks, N(leaks));
    assert_string_equal(in->assessments[1].tool, "example-linter");
    assert_string_equal(in->assessments[1].tool_version, "1.4");
    check_findings(&in->assessments[1], linter, N(linter));
    ev_ingest_free(in);
}

/* One result whose rule has the given properties; returns the finding's severity. */
static int sarif_severity(const char *level, const char *score, enum ev_finding_severity *ret)
{
    char text[1024];
    struct ev_ingest *in;
    (void)snprintf(text, sizeof(text),
                   "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"t\", "
                   "\"rules\": [{\"id\": \"R1\", \"properties\": {%s%s}}]}}, \"results\": "
                   "[{\"ruleIndex\": 0, %s%s%s\"message\": {\"text\": \"m\"}}]}]}",
                   score != NULL ? "\"security-severity\": " : "", score != NULL ? score : "",
                   level != NULL ? "\"level\": \"" : "", level != NULL ? level : "",
                   level != NULL ? "\", " : "");
    int r = parse_text(EV_INGEST_SARIF, text, &in);
    if (r == 0) {
        *ret = in->assessments[0].findings[0].severity;
        assert_string_equal(in->assessments[0].findings[0].rule_id, "R1");
        ev_ingest_free(in);
    }
    return r;
}

static void test_sarif_severity(void **state)
{
    static const struct {
        const char *level, *score;
        enum ev_finding_severity want;
    } cases[] = {
        {"error", NULL, EV_FINDING_HIGH},
        {"warning", NULL, EV_FINDING_MEDIUM},
        {"note", NULL, EV_FINDING_LOW},
        {"none", NULL, EV_FINDING_INFO},
        {NULL, NULL, EV_FINDING_MEDIUM}, /* the default level is warning */
        {"note", "\"10.0\"", EV_FINDING_CRITICAL},
        {"note", "\"9\"", EV_FINDING_CRITICAL},
        {"note", "\"8.9999\"", EV_FINDING_HIGH},
        {"note", "\"7.0\"", EV_FINDING_HIGH},
        {"note", "\"6.99\"", EV_FINDING_MEDIUM},
        {"note", "\"4\"", EV_FINDING_MEDIUM},
        {"error", "\"3.9\"", EV_FINDING_LOW},
        {"error", "\"0.0001\"", EV_FINDING_LOW},
        {"error", "\"0.0\"", EV_FINDING_HIGH}, /* a score of 0 says nothing: the level decides */
        {"note", "\"0\"", EV_FINDING_LOW},
        {"none", "9.8", EV_FINDING_CRITICAL},
        {"none", "7", EV_FINDING_HIGH},
        {"error", "0", EV_FINDING_HIGH},
        {"note", "null", EV_FINDING_LOW},
    };
    static const char *const bad[] = {
        "\"\"",   "\"high\"", "\"10.5\"", "\"-1\"", "\"7.\"",
        "\".5\"", "\"7 \"",   "11",       "-0.5",   "\"99999999999999999999\"",
        "true",   "[]"};
    enum ev_finding_severity got;
    (void)state;

    for (size_t i = 0; i < N(cases); i++) {
        int r = sarif_severity(cases[i].level, cases[i].score, &got);
        if (r != 0) {
            fail_msg("case %zu: %s", i, ev_last_error());
        }
        if (got != cases[i].want) {
            fail_msg("case %zu (%s, %s): severity %d, expected %d", i, cases[i].level,
                     cases[i].score, got, cases[i].want);
        }
    }
    for (size_t i = 0; i < N(bad); i++) {
        assert_int_equal(sarif_severity("error", bad[i], &got), EV_EFORMAT);
        assert_string_equal(ev_last_error(),
                            "r.json: runs[0].results[0]: the rule's "
                            "properties.security-severity: expected a score from 0 to 10");
    }
}

static void test_sarif_shape(void **state)
{
    (void)state;

    expect_error(EV_INGEST_SARIF, "{\"runs\": []}", EV_EFORMAT, "r.json: version: missing");
    expect_error(EV_INGEST_SARIF, "{\"version\": \"2.1.0\", \"runs\": []}", EV_EFORMAT,
                 "r.json: runs: empty: the log holds no scan");
    expect_error(EV_INGEST_SARIF, "{\"version\": \"2.1.0\", \"runs\": [{}]}", EV_EFORMAT,
                 "r.json: runs[0].tool: missing");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {}}, \"results\": "
                 "[]}]}",
                 EV_EFORMAT, "r.json: runs[0].tool.driver.name: missing");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"t\"}}, "
                 "\"results\": [{\"message\": {\"text\": \"m\"}}]}]}",
                 EV_EFORMAT, "r.json: runs[0].results[0]: no ruleId, rule.id or rule index");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"t\"}}, "
                 "\"results\": [{\"ruleId\": \"x\", \"rule\": {\"index\": 0, \"toolComponent\": "
                 "{\"index\": 2}}}]}]}",
                 EV_EFORMAT,
                 "r.json: runs[0].results[0].rule.toolComponent.index: 2 is out of range (the "
                 "tool has 0 extensions)");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"t\"}}, "
                 "\"results\": [{\"ruleId\": \"x\", \"locations\": [{\"physicalLocation\": "
                 "{\"artifactLocation\": {\"index\": 3}}}]}]}]}",
                 EV_EFORMAT,
                 "r.json: runs[0].results[0].locations[0].physicalLocation.artifactLocation."
                 "index: 3 is out of range (the run has 0 artifacts)");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"t\"}}, "
                 "\"results\": [{\"ruleId\": \"x\", \"locations\": [{\"physicalLocation\": "
                 "{\"region\": {\"startLine\": 0}}}]}]}]}",
                 EV_EFORMAT,
                 "r.json: runs[0].results[0].locations[0].physicalLocation.region.startLine: "
                 "expected an integer from 1 to 2147483647");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"t\"}}, "
                 "\"results\": [{\"ruleId\": \"x\", \"message\": \"m\"}]}]}",
                 EV_EFORMAT, "r.json: runs[0].results[0].message: expected an object");

    /* More runs than EV_INGEST_MAX_RUNS. */
    size_t cap = 64 + (EV_INGEST_MAX_RUNS + 1) * 3;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "{\"version\": \"2.1.0\", \"runs\": [");
    for (unsigned i = 0; i <= EV_INGEST_MAX_RUNS; i++) {
        n += (size_t)snprintf(text + n, cap - n, "%s{}", i == 0 ? "" : ",");
    }
    (void)snprintf(text + n, cap - n, "]}");
    expect_error(EV_INGEST_SARIF, text, EV_ETOOBIG, "r.json: runs: more than 256 runs");
    free(text);
}

/* ---- docker and podman inspect ------------------------------------------- */

static void check_strings(struct ev_strings got, const char *const *want, size_t count)
{
    assert_int_equal(got.count, count);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(got.items[i], want[i]);
    }
}

static void test_docker(void **state)
{
    static const char *const risky_caps[] = {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"};
    static const char *const api_add[] = {"CAP_NET_BIND_SERVICE"};
    static const char *const api_drop[] = {"ALL"};
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_DOCKER_INSPECT, "docker-inspect.json", NULL);
    assert_int_equal(in->format, EV_INGEST_DOCKER_INSPECT);
    assert_int_equal(in->assessment_count, 0);
    assert_null(in->assessments);
    assert_int_equal(in->container_count, 2);
    assert_int_equal(ev_ingest_event_count(in), 2);

    const struct ev_container_creation *c = &in->containers[0];
    assert_string_equal(c->container_id,
                        "3f4e8a2b9c1d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f");
    assert_string_equal(c->name, "ci-runner");
    assert_string_equal(c->image, "docker:24-dind");
    assert_string_equal(c->image_digest,
                        "sha256:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90");
    assert_string_equal(c->runtime, "docker");
    assert_string_equal(c->user, "");
    assert_true(c->privileged.set && c->privileged.value);
    check_strings(c->cap_add, risky_caps, N(risky_caps));
    assert_int_equal(c->cap_drop.count, 0);
    assert_true(c->read_only_rootfs.set && !c->read_only_rootfs.value);
    assert_string_equal(c->seccomp_profile, "unconfined");
    assert_string_equal(c->apparmor_profile, "unconfined");
    assert_true(c->no_new_privileges.set && !c->no_new_privileges.value);
    assert_string_equal(c->network_mode, "host");
    assert_string_equal(c->pid_mode, "host");
    assert_false(c->cpu_millicores.set);
    assert_true(c->memory_limit_bytes.set);
    assert_int_equal(c->memory_limit_bytes.value, 0);
    assert_true(c->pids_limit.set); /* null: no limit */
    assert_int_equal(c->pids_limit.value, 0);
    assert_int_equal(c->mount_count, 2);
    assert_string_equal(c->mounts[0].type, "bind");
    assert_string_equal(c->mounts[0].source, "/var/run/docker.sock");
    assert_string_equal(c->mounts[0].destination, "/var/run/docker.sock");
    assert_true(c->mounts[0].read_only.set && !c->mounts[0].read_only.value);
    assert_string_equal(c->mounts[1].source, "/");
    assert_string_equal(c->mounts[1].destination, "/host");

    c = &in->containers[1];
    assert_string_equal(c->container_id,
                        "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b");
    assert_string_equal(c->name, "api");
    assert_string_equal(c->image, "registry.example.com/api:1.4.2");
    assert_string_equal(c->image_digest,
                        "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0");
    assert_string_equal(c->runtime, "docker");
    assert_string_equal(c->user, "10001:10001");
    assert_true(c->privileged.set && !c->privileged.value);
    check_strings(c->cap_add, api_add, N(api_add));
    check_strings(c->cap_drop, api_drop, N(api_drop));
    assert_true(c->read_only_rootfs.set && c->read_only_rootfs.value);
    assert_string_equal(c->seccomp_profile, "default");
    assert_string_equal(c->apparmor_profile, "docker-default");
    assert_true(c->no_new_privileges.set && c->no_new_privileges.value);
    assert_string_equal(c->network_mode, "bridge");
    assert_null(c->pid_mode); /* "" is the default: not shared */
    assert_true(c->cpu_millicores.set);
    assert_int_equal(c->cpu_millicores.value, 1500);
    assert_int_equal(c->memory_limit_bytes.value, 536870912);
    assert_int_equal(c->pids_limit.value, 256);
    assert_int_equal(c->mount_count, 2);
    assert_true(c->mounts[0].read_only.set && c->mounts[0].read_only.value);
    assert_string_equal(c->mounts[1].type, "volume");
    assert_string_equal(c->mounts[1].source, "/var/lib/docker/volumes/api-data/_data");
    assert_string_equal(c->mounts[1].destination, "/data");
    assert_true(c->mounts[1].read_only.set && !c->mounts[1].read_only.value);
    ev_ingest_free(in);
}

static void test_podman(void **state)
{
    static const char *const drop[] = {"CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"};
    (void)state;

    struct ev_ingest *in = parse_file(EV_INGEST_DOCKER_INSPECT, "podman-inspect.json", NULL);
    assert_int_equal(in->container_count, 1);
    const struct ev_container_creation *c = &in->containers[0];
    assert_string_equal(c->container_id,
                        "5d2a0f1c7b3e9d8a6f4c2b0e1d3f5a7c9e8b6d4f2a0c1e3b5d7f9a8c6e4b2d0f");
    assert_string_equal(c->name, "webdev");
    assert_string_equal(c->image, "docker.io/library/python:3.12-slim");
    /* ImageDigest, not the image ID */
    assert_string_equal(c->image_digest,
                        "sha256:7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d");
    assert_string_equal(c->runtime, "podman");
    assert_string_equal(c->user, "");
    assert_true(c->privileged.set && !c->privileged.value);
    assert_int_equal(c->cap_add.count, 0);
    check_strings(c->cap_drop, drop, N(drop));
    assert_string_equal(c->seccomp_profile, "default");
    assert_null(c->apparmor_profile); /* "" on an SELinux host */
    assert_true(c->no_new_privileges.set && !c->no_new_privileges.value);
    assert_string_equal(c->network_mode, "slirp4netns");
    assert_string_equal(c->pid_mode, "private");
    assert_int_equal(c->cpu_millicores.value, 500); /* CpuQuota 25000 / CpuPeriod 50000 */
    assert_int_equal(c->memory_limit_bytes.value, 0);
    assert_int_equal(c->pids_limit.value, 2048);
    assert_int_equal(c->mount_count, 1);
    assert_string_equal(c->mounts[0].source, "/home/dev/project");
    assert_string_equal(c->mounts[0].destination, "/srv");
    ev_ingest_free(in);
}

/* One container with the given HostConfig members and top-level members. */
static int inspect_one(const char *host, const char *extra, struct ev_ingest **ret)
{
    char text[2048];
    (void)snprintf(
        text, sizeof(text),
        "[{\"Id\": \"c1\", \"Config\": {\"Image\": \"alpine\"}, \"HostConfig\": {%s}%s%s}]", host,
        extra[0] != '\0' ? ", " : "", extra);
    return parse_text(EV_INGEST_DOCKER_INSPECT, text, ret);
}

static void test_inspect_edges(void **state)
{
    struct ev_ingest *in;
    const struct ev_container_creation *c;
    (void)state;

    /* Nothing but the required members: everything else unset, engine defaults filled in. */
    assert_int_equal(inspect_one("", "", &in), 0);
    c = &in->containers[0];
    assert_string_equal(c->container_id, "c1");
    assert_null(c->name);
    assert_null(c->image_digest);
    assert_null(c->user);
    assert_false(c->privileged.set);
    assert_string_equal(c->seccomp_profile, "default");
    assert_null(c->apparmor_profile);
    assert_true(c->no_new_privileges.set && !c->no_new_privileges.value);
    assert_false(c->pids_limit.set);
    assert_false(c->memory_limit_bytes.set);
    assert_false(c->cpu_millicores.set);
    assert_int_equal(c->mount_count, 0);
    ev_ingest_free(in);

    /* Options with ':' (old Docker) or '=', inline seccomp JSON, apparmor from the option. */
    assert_int_equal(
        inspect_one("\"SecurityOpt\": [\"seccomp:{\\\"defaultAction\\\": "
                    "\\\"SCMP_ACT_ERRNO\\\"}\", \"apparmor=my-profile\", "
                    "\"no-new-privileges=false\"], \"PidsLimit\": -1, "
                    "\"CpuQuota\": 150000, \"NanoCpus\": 0, \"CapAdd\": "
                    "[\"cap_sys_ptrace\", \"all\", \"Net_Raw\"]",
                    "\"Name\": \"plain\", \"AppArmorProfile\": \"\", \"Image\": "
                    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"",
                    &in),
        0);
    c = &in->containers[0];
    static const char *const caps[] = {"CAP_SYS_PTRACE", "ALL", "CAP_NET_RAW"};
    check_strings(c->cap_add, caps, N(caps));
    assert_string_equal(c->name, "plain");
    assert_string_equal(c->image_digest,
                        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_string_equal(c->seccomp_profile, "custom");
    assert_string_equal(c->apparmor_profile, "my-profile");
    assert_true(c->no_new_privileges.set && !c->no_new_privileges.value);
    assert_int_equal(c->pids_limit.value, 0);
    assert_int_equal(c->cpu_millicores.value, 1500); /* default period 100 ms */
    ev_ingest_free(in);

    /* A seccomp profile file (Podman) and a tiny CPU limit that still counts. */
    assert_int_equal(inspect_one("\"SecurityOpt\": [\"seccomp=/etc/p.json\", "
                                 "\"no-new-privileges\"], \"NanoCpus\": 1000",
                                 "", &in),
                     0);
    assert_string_equal(in->containers[0].seccomp_profile, "/etc/p.json");
    assert_true(in->containers[0].no_new_privileges.value);
    assert_int_equal(in->containers[0].cpu_millicores.value, 1);
    ev_ingest_free(in);

    /* --privileged turns seccomp off whatever the options say. */
    assert_int_equal(
        inspect_one("\"Privileged\": true, \"SecurityOpt\": [\"seccomp=/p.json\"]", "", &in), 0);
    assert_string_equal(in->containers[0].seccomp_profile, "unconfined");
    ev_ingest_free(in);

    expect_error(EV_INGEST_DOCKER_INSPECT, "{}", EV_EFORMAT,
                 "r.json: expected a JSON array of containers (docker inspect's output)");
    expect_error(EV_INGEST_DOCKER_INSPECT, "[{\"Id\": \"c\", \"HostConfig\": {}}]", EV_EFORMAT,
                 "r.json: [0].Config: missing");
    expect_error(EV_INGEST_DOCKER_INSPECT, "[{\"Id\": \"c\", \"Config\": {}, \"HostConfig\": {}}]",
                 EV_EFORMAT, "r.json: [0].Config.Image: missing");
    assert_int_equal(inspect_one("", "\"Image\": \"sha256:XYZ\"", &in), EV_EFORMAT);
    assert_string_equal(ev_last_error(),
                        "r.json: [0].Image: expected \"sha256:\" and 64 hex digits");
    assert_int_equal(inspect_one("\"SecurityOpt\": [\"no-new-privileges:maybe\"]", "", &in),
                     EV_EFORMAT);
    assert_string_equal(ev_last_error(), "r.json: [0].HostConfig.SecurityOpt[0]: "
                                         "no-new-privileges: expected true or false");
    assert_int_equal(inspect_one("\"Memory\": -1", "", &in), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "r.json: [0].HostConfig.Memory: expected an integer >= 0");
    assert_int_equal(inspect_one("\"CpuPeriod\": 2000000", "", &in), EV_EFORMAT);
    assert_string_equal(ev_last_error(),
                        "r.json: [0].HostConfig.CpuPeriod: expected an integer from 0 to 1000000");
    assert_int_equal(inspect_one("\"CpuQuota\": 9223372036854775807, \"CpuPeriod\": 1", "", &in),
                     EV_EFORMAT);
    assert_string_equal(ev_last_error(), "r.json: [0].HostConfig.CpuQuota: too large");
    assert_int_equal(inspect_one("\"CapAdd\": [\"SYS_ADMIN\", 5]", "", &in), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "r.json: [0].HostConfig.CapAdd[1]: expected a string");
    assert_int_equal(inspect_one("\"CapAdd\": \"SYS_ADMIN\"", "", &in), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "r.json: [0].HostConfig.CapAdd: expected an array");
    assert_int_equal(inspect_one("", "\"Mounts\": [{\"Source\": \"/x\"}]", &in), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "r.json: [0].Mounts[0].Destination: missing");

    /* More mounts than a container_creation holds. */
    char text[300 * 24 + 128];
    size_t n = (size_t)snprintf(text, sizeof(text),
                                "[{\"Id\": \"c\", \"Config\": {\"Image\": "
                                "\"i\"}, \"HostConfig\": {}, \"Mounts\": [");
    for (int i = 0; i < 257; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"Destination\": \"/d\"}",
                              i == 0 ? "" : ",");
    }
    (void)snprintf(text + n, sizeof(text) - n, "]}]");
    expect_error(EV_INGEST_DOCKER_INSPECT, text, EV_ETOOBIG,
                 "r.json: [0].Mounts: more than 256 mounts");
}

/* ---- limits and malformed reports ---------------------------------------- */

static void test_bad_files(void **state)
{
    static const struct {
        enum ev_ingest_format format;
        const char *file;
        const char *message;
    } cases[] = {
        {EV_INGEST_BANDIT, "bad/bandit-truncated.json",
         "bandit-truncated.json: invalid JSON: the file is truncated (line 118, column 7: "
         "premature end of input near '\"'"
         ")"},
        {EV_INGEST_BANDIT, "bad/bandit-line-string.json",
         "bandit-line-string.json: results[3].line_number: expected an integer"},
        {EV_INGEST_BANDIT, "bad/bandit-bad-severity.json",
         "bandit-bad-severity.json: results[1].issue_severity: expected one of UNDEFINED, LOW, "
         "MEDIUM, HIGH"},
        {EV_INGEST_BANDIT, "bad/bandit-no-results.json",
         "bandit-no-results.json: results: missing"},
        {EV_INGEST_BANDIT, "bad/bandit-no-test-id.json",
         "bandit-no-test-id.json: results[5].test_id: missing"},
        {EV_INGEST_BANDIT, "bad/bandit-duplicate-key.json",
         "bandit-duplicate-key.json: invalid JSON at line 1, column 39: duplicate object key near "
         "'\"results\"'"},
        {EV_INGEST_BANDIT, "bad/not-json.txt",
         "not-json.txt: invalid JSON at line 1, column 3: '[' or '{' expected near 'Run'"},
        {EV_INGEST_BANDIT, "bad/empty.json", "empty.json: empty file"},
        {EV_INGEST_SEMGREP, "bad/semgrep-no-start.json",
         "semgrep-no-start.json: results[2].start: missing"},
        {EV_INGEST_SEMGREP, "bad/semgrep-cwe-number.json",
         "semgrep-cwe-number.json: results[0].extra.metadata.cwe[0]: expected a string"},
        {EV_INGEST_SARIF, "bad/sarif-version.sarif",
         "sarif-version.sarif: version: \"2.0.0\" is not SARIF 2.1.0"},
        {EV_INGEST_SARIF, "bad/sarif-rule-index.sarif",
         "sarif-rule-index.sarif: runs[0].results[2].ruleIndex: 9 is out of range (the tool "
         "component has 4 rules)"},
        {EV_INGEST_SARIF, "bad/sarif-no-results.sarif",
         "sarif-no-results.sarif: runs[0].results: missing: the run has no results (the tool "
         "failed)"},
        {EV_INGEST_SARIF, "bad/sarif-bad-score.sarif",
         "sarif-bad-score.sarif: runs[0].results[1]: the rule's properties.security-severity: "
         "expected a score from 0 to 10"},
        {EV_INGEST_SARIF, "bad/sarif-bad-level.sarif",
         "sarif-bad-level.sarif: runs[1].results[1].level: expected one of none, note, warning, "
         "error"},
        {EV_INGEST_DOCKER_INSPECT, "bad/docker-image.json",
         "docker-image.json: [0]: no HostConfig: not a container (inspect of an image?)"},
        {EV_INGEST_DOCKER_INSPECT, "bad/docker-truncated.json",
         "docker-truncated.json: invalid JSON: the file is truncated (line 177, column 11: string "
         "or '}' expected near end of file)"},
        {EV_INGEST_DOCKER_INSPECT, "bad/docker-privileged-string.json",
         "docker-privileged-string.json: [1].HostConfig.Privileged: expected true or false"},
        {EV_INGEST_DOCKER_INSPECT, "bad/docker-mount-no-destination.json",
         "docker-mount-no-destination.json: [0].Mounts[1].Destination: missing"},
        {EV_INGEST_DOCKER_INSPECT, "bad/docker-empty.json",
         "docker-empty.json: empty array: no container to record"},
        /* A report of one format given as another. */
        {EV_INGEST_SARIF, "semgrep.json", "semgrep.json: version: \"1.56.0\" is not SARIF 2.1.0"},
        {EV_INGEST_SEMGREP, "bandit-1.6.2.json", "bandit-1.6.2.json: results[0].check_id: missing"},
        {EV_INGEST_DOCKER_INSPECT, "trivy.sarif",
         "trivy.sarif: expected a JSON array of containers (docker inspect's output)"},
        {EV_INGEST_BANDIT, "docker-inspect.json",
         "docker-inspect.json: expected a JSON object (Bandit's -f json)"},
    };
    (void)state;

    for (size_t i = 0; i < N(cases); i++) {
        size_t len;
        char *data = read_data(cases[i].file, &len);
        struct ev_ingest *in = NULL;
        const char *base = strrchr(cases[i].file, '/');
        base = base != NULL ? base + 1 : cases[i].file;
        int r = ev_ingest_parse(cases[i].format, base, data, len, NULL, &in);
        if (r != EV_EFORMAT) {
            fail_msg("%s: %d, expected EV_EFORMAT (%s)", cases[i].file, r, ev_last_error());
        }
        assert_null(in);
        if (strcmp(ev_last_error(), cases[i].message) != 0) {
            fail_msg("%s:\n  got      %s\n  expected %s", cases[i].file, ev_last_error(),
                     cases[i].message);
        }
        free(data);
    }
}

static void test_limits(void **state)
{
    struct ev_ingest *in = NULL;
    (void)state;

    /* Over the size limit: refused before a byte is read. */
    static const char one[] = "{";
    assert_int_equal(ev_ingest_parse(EV_INGEST_BANDIT, "big.json", one,
                                     (size_t)EV_INGEST_MAX_BYTES + 1, NULL, &in),
                     EV_ETOOBIG);
    assert_string_equal(ev_last_error(), "big.json: 67108865 bytes, over the limit of 67108864");
    assert_null(in);

    /* Arguments. */
    assert_int_equal(ev_ingest_parse(EV_INGEST_BANDIT, "x", NULL, 3, NULL, &in), -EINVAL);
    assert_int_equal(ev_ingest_parse(EV_INGEST_BANDIT, "x", "{}", 2, NULL, NULL), -EINVAL);
    assert_int_equal(ev_ingest_parse(EV_INGEST_FORMAT_COUNT, "x", "{}", 2, NULL, &in), -EINVAL);

    /* No name: "report"; the target defaults to it. */
    assert_int_equal(ev_ingest_parse(EV_INGEST_BANDIT, NULL, "{\"results\": []}", 15, NULL, &in),
                     0);
    assert_string_equal(in->assessments[0].target, "report");
    ev_ingest_free(in);
    assert_int_equal(ev_ingest_parse(EV_INGEST_BANDIT, NULL, "{\"results\": 1}", 14, NULL, &in),
                     EV_EFORMAT);
    assert_string_equal(ev_last_error(), "report: results: expected an array");

    /* A NUL byte: jansson would stop there and call the rest fine. */
    assert_int_equal(
        ev_ingest_parse(EV_INGEST_BANDIT, "n.json", "{\"results\": []}\0garbage", 23, NULL, &in),
        EV_EFORMAT);
    assert_string_equal(ev_last_error(), "n.json: not JSON: a NUL byte at offset 15");

    /* Trailing garbage after the JSON text. */
    expect_error(EV_INGEST_BANDIT, "{\"results\": []} {}", EV_EFORMAT,
                 "r.json: invalid JSON at line 1, column 17: end of file expected near '{'");

    /* Deep nesting: jansson's depth limit, no stack overflow. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    assert_int_equal(parse_text(EV_INGEST_DOCKER_INSPECT, deep, &in), EV_EFORMAT);
    assert_null(in);
    free(deep);

    /* Invalid UTF-8 in a string. */
    expect_error(EV_INGEST_BANDIT, "{\"results\": [], \"x\": \"\xff\"}", EV_EFORMAT,
                 "r.json: invalid JSON at line 1, column 22: unable to decode byte 0xff near "
                 "'\"'");

    /* A target over its bound. */
    char target[4098];
    memset(target, 't', sizeof(target) - 1);
    target[sizeof(target) - 1] = '\0';
    assert_int_equal(ev_ingest_parse(EV_INGEST_BANDIT, "t", "{\"results\": []}", 15, target, &in),
                     EV_ETOOBIG);
}

static void test_bounds(void **state)
{
    struct ev_ingest *in;
    char *text = malloc(16384);
    (void)state;
    assert_non_null(text);

    /* rule_id over 256 bytes */
    char id[258];
    memset(id, 'B', 257);
    id[257] = '\0';
    (void)snprintf(text, 16384,
                   "{\"results\": [{\"test_id\": \"%s\", \"issue_severity\": \"LOW\", "
                   "\"filename\": \"a\", \"line_number\": 1}]}",
                   id);
    expect_error(EV_INGEST_BANDIT, text, EV_ETOOBIG,
                 "r.json: results[0].test_id: longer than 256 bytes");

    /*
     * A message over EV_INGEST_MESSAGE_MAX is cut at a character boundary:
     * 4095 ASCII bytes then a 3-byte character that would end at 4098.
     */
    char *message = malloc(5000);
    assert_non_null(message);
    memset(message, 'm', 4095);
    memcpy(message + 4095,
           "\xe2\x82\xac"
           "tail",
           8);
    (void)snprintf(text, 16384,
                   "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                   "\"filename\": \"a\", \"line_number\": 1, \"issue_text\": \"%s\"}]}",
                   message);
    assert_int_equal(parse_text(EV_INGEST_BANDIT, text, &in), 0);
    assert_int_equal(strlen(in->assessments[0].findings[0].message), 4095);
    assert_memory_equal(in->assessments[0].findings[0].message, message, 4095);
    ev_ingest_free(in);

    /* Exactly the limit is kept whole. */
    memset(message, 'm', 4093);
    memcpy(message + 4093, "\xe2\x82\xac", 4);
    (void)snprintf(text, 16384,
                   "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                   "\"filename\": \"a\", \"line_number\": 1, \"issue_text\": \"%s\"}]}",
                   message);
    assert_int_equal(parse_text(EV_INGEST_BANDIT, text, &in), 0);
    assert_string_equal(in->assessments[0].findings[0].message, message);
    ev_ingest_free(in);
    free(message);

    /* A file path over 4096 bytes. */
    char *file = malloc(4098);
    assert_non_null(file);
    memset(file, 'f', 4097);
    file[4097] = '\0';
    (void)snprintf(text, 16384,
                   "{\"results\": [{\"check_id\": \"r\", \"path\": \"%s\", \"start\": {\"line\": "
                   "1}, \"extra\": {\"severity\": \"INFO\"}}]}",
                   file);
    expect_error(EV_INGEST_SEMGREP, text, EV_ETOOBIG,
                 "r.json: results[0].path: longer than 4096 bytes");
    free(file);
    free(text);
}

static void test_required_not_empty(void **state)
{
    (void)state;

    expect_error(EV_INGEST_BANDIT,
                 "{\"results\": [{\"test_id\": \"\", \"issue_severity\": \"LOW\", "
                 "\"filename\": \"a\", \"line_number\": 1}]}",
                 EV_EFORMAT, "r.json: results[0].test_id: must not be empty");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": "
                 "\"\"}}, \"results\": []}]}",
                 EV_EFORMAT, "r.json: runs[0].tool.driver.name: must not be empty");
    expect_error(EV_INGEST_SARIF,
                 "{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": "
                 "\"t\", \"rules\": [{\"id\": \"\"}]}}, \"results\": [{\"ruleIndex\": 0}]}]}",
                 EV_EFORMAT, "r.json: runs[0].results[0].ruleId: the rule id must not be empty");
    expect_error(EV_INGEST_DOCKER_INSPECT,
                 "[{\"Id\": \"\", \"Config\": {\"Image\": \"i\"}, \"HostConfig\": {}}]", EV_EFORMAT,
                 "r.json: [0].Id: must not be empty");
    expect_error(EV_INGEST_DOCKER_INSPECT,
                 "[{\"Id\": \"c\", \"Config\": {\"Image\": \"\"}, \"HostConfig\": {}}]", EV_EFORMAT,
                 "r.json: [0].Config.Image: must not be empty");
    expect_error(EV_INGEST_BANDIT,
                 "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                 "\"filename\": \"a\", \"line_number\": 2147483648}]}",
                 EV_EFORMAT,
                 "r.json: results[0].line_number: expected an integer from 1 to 2147483647");
    expect_error(EV_INGEST_BANDIT,
                 "{\"results\": [{\"test_id\": \"B1\", \"issue_severity\": \"LOW\", "
                 "\"filename\": \"a\", \"line_number\": 1, \"issue_cwe\": {\"id\": "
                 "1000001}}]}",
                 EV_EFORMAT,
                 "r.json: results[0].issue_cwe.id: expected an integer from 0 to 1000000");
}

/* A scan with more findings than an assessment takes: the most severe, exact counts. */
static void test_many_findings(void **state)
{
    static const char *const levels[] = {"LOW", "MEDIUM", "HIGH", "UNDEFINED"};
    size_t count = EV_INGEST_FINDINGS_PER_EVENT + 5, cap = 64 + count * 96, n;
    char *text = malloc(cap);
    struct ev_ingest *in;
    (void)state;

    assert_non_null(text);
    n = (size_t)snprintf(text, cap, "{\"results\": [");
    for (size_t i = 0; i < count; i++) {
        /* one HIGH in ten, and the last one is HIGH: it must survive the cut */
        const char *level = i == count - 1 ? "HIGH"
                                           : levels[i % 10 == 0  ? 2
                                                    : i % 4 == 2 ? 3
                                                                 : i % 2];
        n +=
            (size_t)snprintf(text + n, cap - n,
                             "%s{\"test_id\":\"B%zu\",\"issue_severity\":\"%s\",\"filename\":\"f\","
                             "\"line_number\":%zu}",
                             i == 0 ? "" : ",", i, level, i + 1);
    }
    (void)snprintf(text + n, cap - n, "]}");
    assert_int_equal(parse_text(EV_INGEST_BANDIT, text, &in), 0);
    const struct ev_security_assessment *a = &in->assessments[0];
    int64_t high = 0, medium = 0, low = 0, info = 0;
    for (size_t i = 0; i < count; i++) {
        const char *level = i == count - 1 ? "HIGH"
                                           : levels[i % 10 == 0  ? 2
                                                    : i % 4 == 2 ? 3
                                                                 : i % 2];
        high += strcmp(level, "HIGH") == 0;
        medium += strcmp(level, "MEDIUM") == 0;
        low += strcmp(level, "LOW") == 0;
        info += strcmp(level, "UNDEFINED") == 0;
    }
    assert_true(a->counts_set);
    assert_int_equal(a->counts.critical, 0);
    assert_int_equal(a->counts.high, high);
    assert_int_equal(a->counts.medium, medium);
    assert_int_equal(a->counts.low, low);
    assert_int_equal(a->counts.info, info);
    assert_int_equal(a->finding_count, EV_INGEST_FINDINGS_PER_EVENT);
    /* Most severe first, report order within a severity: B0 is the first HIGH, the last HIGH kept.
     */
    assert_string_equal(a->findings[0].rule_id, "B0");
    char last[32];
    (void)snprintf(last, sizeof(last), "B%zu", count - 1);
    assert_string_equal(a->findings[high - 1].rule_id, last);
    assert_int_equal(a->findings[high].severity, EV_FINDING_MEDIUM);
    assert_int_equal(a->findings[EV_INGEST_FINDINGS_PER_EVENT - 1].severity,
                     info > 0 && high + medium + low < (int64_t)EV_INGEST_FINDINGS_PER_EVENT
                         ? EV_FINDING_INFO
                         : EV_FINDING_LOW);
    ev_ingest_free(in);
    free(text);
}

/* ---- appending ----------------------------------------------------------- */

/* Entry index of log as a NUL-terminated string (caller frees). */
static char *entry_text(struct ev_log *log, uint64_t index)
{
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(log, index, &e));
    char *text = malloc(e->len + 1);
    assert_non_null(text);
    memcpy(text, e->bytes, e->len);
    text[e->len] = '\0';
    ev_entry_free(e);
    return text;
}

static void expect_in_entry(struct ev_log *log, uint64_t index, const char *want)
{
    char *text = entry_text(log, index);
    if (strstr(text, want) == NULL) {
        fail_msg("entry %llu lacks %s: %s", (unsigned long long)index, want, text);
    }
    free(text);
}

static void test_append(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_ingest_result results[2];
    size_t appended = 99;
    (void)state;

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 1, "before");

    struct ev_ingest *in = parse_file(EV_INGEST_DOCKER_INSPECT, "docker-inspect.json", NULL);
    tu_ok(ev_ingest_append(log, NULL, in, results, &appended));
    assert_int_equal(appended, 2);
    assert_false(results[0].dropped || results[1].dropped);
    assert_int_equal(results[0].index, 1);
    assert_int_equal(results[1].index, 2);
    expect_in_entry(log, 1, "\"type\":\"container_creation\"");
    expect_in_entry(log, 1, "\"name\":\"ci-runner\"");
    expect_in_entry(log, 1, "\"privileged\":true");
    expect_in_entry(log, 2, "\"name\":\"api\"");
    ev_ingest_free(in);

    in = parse_file(EV_INGEST_SARIF, "multi-run.sarif", "repo");
    tu_ok(ev_ingest_append(log, NULL, in, results, &appended));
    assert_int_equal(appended, 2);
    assert_int_equal(results[0].index, 3);
    assert_int_equal(results[1].index, 4);
    expect_in_entry(log, 3, "\"tool\":\"gitleaks\"");
    expect_in_entry(log, 3, "\"target\":\"repo\"");
    expect_in_entry(log, 3, "\"report_sha256\":\"");
    expect_in_entry(log, 4,
                    "\"counts\":{\"critical\":0,\"high\":0,\"info\":1,\"low\":1,"
                    "\"medium\":1}");
    expect_in_entry(log, 4, "\"cwe\":563");
    ev_ingest_free(in);

    /* Many findings: they do not fit, the entry says how many it kept, counts stay exact. */
    size_t len;
    char *data = read_data("../../../fuzz/corpus/ingest/bandit-many-findings", &len);
    tu_ok(ev_ingest_parse(EV_INGEST_BANDIT, "many", data + 1, len - 1, NULL, &in));
    tu_ok(ev_ingest_append(log, NULL, in, results, &appended));
    assert_int_equal(appended, 1);
    assert_true(results[0].truncated);
    expect_in_entry(log, 5, "\"findings_truncated\":true");
    expect_in_entry(log, 5, "\"findings_total\":500");
    expect_in_entry(log, 5,
                    "\"counts\":{\"critical\":0,\"high\":166,\"info\":0,\"low\":167,"
                    "\"medium\":167}");
    ev_ingest_free(in);
    free(data);

    assert_int_equal(ev_log_size(log), 6);
    tu_ok(ev_log_close(log));
    (void)tu_verify(f->dir, f->v);
}

static void test_append_all_or_nothing(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_ingest_result results[2] = {{.index = 77}, {.index = 77}};
    size_t appended = 99;
    (void)state;

    tu_create(f->dir, 0, f->v);
    struct ev_log *log = tu_open(f->dir, NULL);
    tu_append_n(log, 2, "before");

    /* The second event is one the library refuses: nothing of the report goes in. */
    struct ev_finding finding = {.rule_id = "R1", .severity = EV_FINDING_HIGH};
    struct ev_security_assessment assessments[2] = {
        {.tool = "good", .findings = &finding, .finding_count = 1},
        {.tool = "", .findings = &finding, .finding_count = 1},
    };
    struct ev_ingest in = {
        .format = EV_INGEST_SARIF, .assessments = assessments, .assessment_count = 2};
    assert_int_equal(ev_ingest_append(log, NULL, &in, results, &appended), EV_EFORMAT);
    assert_string_equal(ev_last_error(),
                        "event 1 of the report: security_assessment.tool: must not be empty");
    assert_int_equal(appended, 99);
    assert_int_equal(results[0].index, 77);
    assert_int_equal(ev_log_size(log), 2);

    /* A policy that drops the type: nothing written, every event reported dropped. */
    assessments[1].tool = "also-good";
    struct ev_config *config = NULL;
    struct ev_policy *policy = NULL;
    static const char yaml[] = "policies:\n  security_assessment:\n    enabled: false\n";
    tu_ok(ev_config_parse("p.yaml", yaml, sizeof(yaml) - 1, &config));
    tu_ok(ev_policy_new(config, &policy));
    tu_ok(ev_ingest_append(log, policy, &in, results, &appended));
    assert_int_equal(appended, 0);
    assert_true(results[0].dropped && results[1].dropped);
    assert_int_equal(ev_log_size(log), 2);
    ev_policy_free(policy);
    ev_config_free(config);

    /* And with the defaults both go in, consecutively. */
    tu_ok(ev_ingest_append(log, NULL, &in, results, &appended));
    assert_int_equal(appended, 2);
    assert_int_equal(results[0].index, 2);
    assert_int_equal(results[1].index, 3);
    expect_in_entry(log, 3, "\"tool\":\"also-good\"");

    assert_int_equal(ev_ingest_append(NULL, NULL, &in, results, &appended), -EINVAL);
    tu_ok(ev_log_close(log));
    (void)tu_verify(f->dir, f->v);
}

static void test_cwe_text(void **state)
{
    static const struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"CWE-78", 78},
        {"cwe-78", 78},
        {"CWE-78: Improper Neutralization", 78},
        {"CWE-079 Cross-site Scripting", 79},
        {"external/cwe/cwe-078", 78},
        {"EXTERNAL/CWE/CWE-22", 22},
        {"CWE-", 0},
        {"CWE-78x", 0},
        {"CWE78", 0},
        {"external/cwe/78", 0},
        {"OWASP-A03", 0},
        {"", 0},
        {"CWE-99999999999999999999", 0},
        {"CWE-1000000", 1000000},
        {"CWE-1000001", 0},
        {"CWE-0", 0},
    };
    (void)state;

    for (size_t i = 0; i < N(cases); i++) {
        if (evi_ingest_cwe(cases[i].text) != cases[i].want) {
            fail_msg("\"%s\": %lld, expected %lld", cases[i].text,
                     (long long)evi_ingest_cwe(cases[i].text), (long long)cases[i].want);
        }
    }
    assert_int_equal(evi_ingest_cwe(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_bandit_real),
        cmocka_unit_test(test_bandit_cwe),
        cmocka_unit_test(test_bandit_edges),
        cmocka_unit_test(test_semgrep),
        cmocka_unit_test(test_semgrep_severities),
        cmocka_unit_test(test_sarif_codeql),
        cmocka_unit_test(test_sarif_trivy),
        cmocka_unit_test(test_sarif_runs),
        cmocka_unit_test(test_sarif_severity),
        cmocka_unit_test(test_sarif_shape),
        cmocka_unit_test(test_docker),
        cmocka_unit_test(test_podman),
        cmocka_unit_test(test_inspect_edges),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_required_not_empty),
        cmocka_unit_test(test_many_findings),
        cmocka_unit_test(test_cwe_text),
        cmocka_unit_test_setup_teardown(test_append, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_append_all_or_nothing, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
