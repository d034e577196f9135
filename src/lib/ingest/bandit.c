/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bandit's JSON report (bandit -f json), docs/INGEST.md "Bandit":
 *
 *   {"errors": [...], "generated_at": "...", "metrics": {...},
 *    "results": [{"filename", "line_number", "issue_severity", "issue_confidence",
 *                 "issue_cwe": {"id", "link"}, "issue_text", "test_id", "test_name",
 *                 ...}]}
 *
 * rule_id is test_id ("B602"): the name users give to --skip and # nosec,
 * and test_name adds nothing to it ("blacklist" for every B3xx/B4xx).
 * Bandit does not write its own version into the report.
 */
#include <errno.h>

#include "ingest-internal.h"

/* Bandit's levels, as its constants spell them. */
static const char *const levels[] = {"UNDEFINED", "LOW", "MEDIUM", "HIGH"};

static const enum ev_finding_severity severities[] = {
    EV_FINDING_INFO,
    EV_FINDING_LOW,
    EV_FINDING_MEDIUM,
    EV_FINDING_HIGH,
};

static const enum ev_confidence confidences[] = {
    EV_CONFIDENCE_UNSET,
    EV_CONFIDENCE_LOW,
    EV_CONFIDENCE_MEDIUM,
    EV_CONFIDENCE_HIGH,
};

static int result(struct evi_ingest *in, const json_t *item, struct ev_finding *f)
{
    json_t *cwe;
    size_t level;
    bool present;
    int r;

    if (!json_is_object(item)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected an object");
    }
    if ((r = evi_ingest_string(in, item, "test_id", true, 256, &f->rule_id)) < 0 ||
        (r = evi_ingest_choice(in, item, "issue_severity", true, levels, 4, &level, &present)) <
            0) {
        return r;
    }
    f->severity = severities[level];
    if ((r = evi_ingest_choice(in, item, "issue_confidence", false, levels, 4, &level, &present)) <
        0) {
        return r;
    }
    f->confidence = present ? confidences[level] : EV_CONFIDENCE_UNSET;
    if ((r = evi_ingest_string(in, item, "filename", true, 4096, &f->file)) < 0 ||
        (r = evi_ingest_int(in, item, "line_number", true, 1, INT32_MAX, &f->line)) < 0 ||
        (r = evi_ingest_message(in, item, "issue_text", false, &f->message)) < 0 ||
        (r = evi_ingest_object(in, item, "issue_cwe", false, &cwe)) < 0) {
        return r;
    }
    if (cwe != NULL) {
        /* Bandit writes id 0 for a test with no CWE. */
        size_t mark = evi_ingest_push_key(in, "issue_cwe");
        r = evi_ingest_int(in, cwe, "id", true, 0, EVI_INGEST_CWE_MAX, &f->cwe);
        evi_ingest_pop(in, mark);
        if (r < 0) {
            return r;
        }
        if (f->cwe.value == 0) {
            f->cwe = (struct ev_opt_int){0};
        }
    }
    return 0;
}

int evi_ingest_bandit(struct evi_ingest *in)
{
    json_t *results, *errors, *item;
    struct ev_finding *findings;
    size_t i;
    int r;

    if (!json_is_object(in->root)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected a JSON object (Bandit's -f json)");
    }
    if ((r = evi_ingest_array(in, in->root, "results", true, &results)) < 0 ||
        (r = evi_ingest_array(in, in->root, "errors", false, &errors)) < 0 ||
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
        .tool = "bandit",
        .findings = findings,
        .finding_count = json_array_size(results),
    };
    in->pub.assessment_count = 1;
    in->pub.tool_errors = json_array_size(errors);
    return evi_ingest_assessment_done(in, &in->assessments[0]);
}
