/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Semgrep's JSON report (semgrep --json), docs/INGEST.md "Semgrep":
 *
 *   {"version": "1.50.0", "errors": [...], "paths": {...},
 *    "results": [{"check_id", "path", "start": {"line", "col", "offset"}, "end": {...},
 *                 "extra": {"message", "severity",
 *                           "metadata": {"cwe": ["CWE-78: ..."], "confidence": "HIGH"}}}]}
 *
 * Severities: the classic ERROR / WARNING / INFO (high / medium / low), and
 * the newer CRITICAL / HIGH / MEDIUM / LOW as they say; EXPERIMENT and
 * INVENTORY (rules that inventory, not detect) are info.
 */
#include <errno.h>

#include "ingest-internal.h"

static const char *const severity_names[] = {
    "ERROR", "WARNING", "INFO", "CRITICAL", "HIGH", "MEDIUM", "LOW", "EXPERIMENT", "INVENTORY",
};

static const enum ev_finding_severity severities[] = {
    EV_FINDING_HIGH,   EV_FINDING_MEDIUM, EV_FINDING_LOW,  EV_FINDING_CRITICAL, EV_FINDING_HIGH,
    EV_FINDING_MEDIUM, EV_FINDING_LOW,    EV_FINDING_INFO, EV_FINDING_INFO,
};

static const char *const confidence_names[] = {"LOW", "MEDIUM", "HIGH"};

static const enum ev_confidence confidences[] = {
    EV_CONFIDENCE_LOW,
    EV_CONFIDENCE_MEDIUM,
    EV_CONFIDENCE_HIGH,
};

/* metadata.cwe: a list of "CWE-78: ..." strings (the first that names one counts) or one string. */
static int cwe(struct evi_ingest *in, const json_t *metadata, struct ev_finding *f)
{
    json_t *v = json_object_get(metadata, "cwe"), *item;
    size_t i;

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        int64_t n = evi_ingest_cwe(json_string_value(v));
        if (n > 0) {
            f->cwe = EV_SOME_INT(n);
        }
        return 0;
    }
    if (!json_is_array(v)) {
        return evi_ingest_fail_at(in, "cwe", EV_EFORMAT,
                                  "expected a string or an array of strings");
    }
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            size_t mark = evi_ingest_push_key(in, "cwe");
            size_t at = evi_ingest_push_index(in, i);
            int r = evi_ingest_fail(in, EV_EFORMAT, "expected a string");
            evi_ingest_pop(in, at);
            evi_ingest_pop(in, mark);
            return r;
        }
        int64_t n = evi_ingest_cwe(json_string_value(item));
        if (n > 0 && !f->cwe.set) {
            f->cwe = EV_SOME_INT(n);
        }
    }
    return 0;
}

static int extra(struct evi_ingest *in, const json_t *x, struct ev_finding *f)
{
    json_t *metadata;
    size_t level;
    bool present;
    int r;

    if ((r = evi_ingest_choice(in, x, "severity", true, severity_names,
                               sizeof(severity_names) / sizeof(severity_names[0]), &level,
                               &present)) < 0) {
        return r;
    }
    f->severity = severities[level];
    if ((r = evi_ingest_message(in, x, "message", false, &f->message)) < 0 ||
        (r = evi_ingest_object(in, x, "metadata", false, &metadata)) < 0) {
        return r;
    }
    if (metadata == NULL) {
        return 0;
    }
    size_t mark = evi_ingest_push_key(in, "metadata");
    r = cwe(in, metadata, f);
    if (r == 0) {
        r = evi_ingest_choice(in, metadata, "confidence", false, confidence_names, 3, &level,
                              &present);
        if (r == 0 && present) {
            f->confidence = confidences[level];
        }
    }
    evi_ingest_pop(in, mark);
    return r;
}

static int result(struct evi_ingest *in, const json_t *item, struct ev_finding *f)
{
    json_t *start, *x;
    int r;

    if (!json_is_object(item)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected an object");
    }
    if ((r = evi_ingest_string(in, item, "check_id", true, 256, &f->rule_id)) < 0 ||
        (r = evi_ingest_string(in, item, "path", true, 4096, &f->file)) < 0 ||
        (r = evi_ingest_object(in, item, "start", true, &start)) < 0) {
        return r;
    }
    size_t mark = evi_ingest_push_key(in, "start");
    r = evi_ingest_int(in, start, "line", true, 1, INT32_MAX, &f->line);
    evi_ingest_pop(in, mark);
    if (r < 0 || (r = evi_ingest_object(in, item, "extra", true, &x)) < 0) {
        return r;
    }
    mark = evi_ingest_push_key(in, "extra");
    r = extra(in, x, f);
    evi_ingest_pop(in, mark);
    return r;
}

int evi_ingest_semgrep(struct evi_ingest *in)
{
    json_t *results, *errors, *item;
    struct ev_finding *findings;
    const char *version;
    size_t i;
    int r;

    if (!json_is_object(in->root)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected a JSON object (Semgrep's --json)");
    }
    if ((r = evi_ingest_array(in, in->root, "results", true, &results)) < 0 ||
        (r = evi_ingest_array(in, in->root, "errors", false, &errors)) < 0 ||
        (r = evi_ingest_string(in, in->root, "version", false, 64, &version)) < 0 ||
        (r = evi_ingest_count_findings(in, json_array_size(results))) < 0) {
        return r;
    }
    findings = evi_ingest_alloc(in, json_array_size(results), sizeof(*findings));
    in->assessments = evi_ingest_alloc(in, 1, sizeof(*in->assessments));
    if (findings == NULL || in->assessments == NULL) {
        return -ENOMEM;
    }
    size_t mark = evi_ingest_push_key(in, "results");
    json_array_foreach(results, i, item)
    {
        size_t at = evi_ingest_push_index(in, i);
        r = result(in, item, &findings[i]);
        evi_ingest_pop(in, at);
        if (r < 0) {
            return r;
        }
    }
    evi_ingest_pop(in, mark);
    in->assessments[0] = (struct ev_security_assessment){
        .tool = "semgrep",
        .tool_version = version,
        .findings = findings,
        .finding_count = json_array_size(results),
    };
    in->pub.assessment_count = 1;
    in->pub.tool_errors = json_array_size(errors);
    return evi_ingest_assessment_done(in, &in->assessments[0]);
}
