/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SARIF 2.1.0 (OASIS, sarif-v2.1.0-os), docs/INGEST.md "SARIF": one
 * security_assessment per run, from run.tool.driver (name, semanticVersion
 * or version) and run.results. What the standard says and we follow:
 *
 *   - a result's rule is result.rule.index or result.ruleIndex into
 *     run.tool.driver.rules, or into run.tool.extensions[N].rules when
 *     result.rule.toolComponent.index is N (CodeQL keeps its rules there,
 *     §3.52.7); its id is result.ruleId, else result.rule.id, else the rule's;
 *   - level defaults to the rule's defaultConfiguration.level, else "warning"
 *     (§3.27.10); a result whose kind is not "fail" defaults to "none";
 *   - results that are not open findings are skipped: kind "pass" and
 *     "notApplicable", baselineState "absent" (fixed since the baseline),
 *     and suppressed ones (a suppression whose status is absent or
 *     "accepted", §3.35);
 *   - results absent (not an empty list) means the tool failed (§3.14.23):
 *     an error, there is no scan to record.
 *
 * Severity: GitHub's "security-severity" property (a CVSS-like score 0-10,
 * on the result or its rule) when above 0: >= 9 critical, >= 7 high, >= 4
 * medium, else low; otherwise by level: error high, warning medium, note
 * low, none info. Confidence: the rule's "precision" property (very-high
 * and high: high, medium, low). CWE: the first tag "external/cwe/cwe-N" or
 * "CWE-N..." of the rule, else of the result.
 */
#include <errno.h>
#include <string.h>

#include "ingest-internal.h"

static const char *const level_names[] = {"none", "note", "warning", "error"};

static const enum ev_finding_severity level_severities[] = {
    EV_FINDING_INFO,
    EV_FINDING_LOW,
    EV_FINDING_MEDIUM,
    EV_FINDING_HIGH,
};

enum { LEVEL_NONE = 0, LEVEL_WARNING = 2 };

/* A run being read: where its rules are. */
struct run {
    const json_t *run;
    const json_t *driver_rules; /* array or NULL */
    const json_t *extensions;   /* array or NULL */
    const json_t *artifacts;    /* array or NULL */
};

/* The string member key of obj, or NULL (any other type, absent). */
static const char *text_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The rule a result refers to (may be none: *ret NULL). */
static int find_rule(struct evi_ingest *in, const struct run *run, const json_t *result,
                     const json_t **ret)
{
    struct ev_opt_int index, component = {0};
    json_t *rule;
    const json_t *rules = run->driver_rules;
    int r;

    *ret = NULL;
    if ((r = evi_ingest_object(in, result, "rule", false, &rule)) < 0 ||
        (r = evi_ingest_int(in, result, "ruleIndex", false, -1, INT64_MAX, &index)) < 0) {
        return r;
    }
    if (rule != NULL) {
        json_t *tool_component;
        struct ev_opt_int rule_index;
        size_t mark = evi_ingest_push_key(in, "rule");
        r = evi_ingest_int(in, rule, "index", false, -1, INT64_MAX, &rule_index);
        if (r == 0) {
            r = evi_ingest_object(in, rule, "toolComponent", false, &tool_component);
        }
        if (r == 0 && tool_component != NULL) {
            size_t at = evi_ingest_push_key(in, "toolComponent");
            r = evi_ingest_int(in, tool_component, "index", false, -1, INT64_MAX, &component);
            if (r == 0 && component.set && component.value >= 0) {
                if ((size_t)component.value >= json_array_size(run->extensions)) {
                    r = evi_ingest_fail_at(in, "index", EV_EFORMAT,
                                           "%lld is out of range (the tool has %zu extensions)",
                                           (long long)component.value,
                                           json_array_size(run->extensions));
                } else {
                    rules = json_object_get(
                        json_array_get(run->extensions, (size_t)component.value), "rules");
                }
            }
            evi_ingest_pop(in, at);
        }
        evi_ingest_pop(in, mark);
        if (r < 0) {
            return r;
        }
        if (rule_index.set) {
            index = rule_index;
        }
    }
    if (!index.set || index.value < 0) {
        return 0;
    }
    if (!json_is_array(rules) || (size_t)index.value >= json_array_size(rules)) {
        return evi_ingest_fail_at(in, rule != NULL ? "rule.index" : "ruleIndex", EV_EFORMAT,
                                  "%lld is out of range (the tool component has %zu rules)",
                                  (long long)index.value, json_array_size(rules));
    }
    const json_t *found = json_array_get(rules, (size_t)index.value);
    if (!json_is_object(found)) {
        return evi_ingest_fail_at(in, rule != NULL ? "rule.index" : "ruleIndex", EV_EFORMAT,
                                  "rule %lld is not an object", (long long)index.value);
    }
    *ret = found;
    return 0;
}

/*
 * GitHub's security-severity, as a string ("9.8") or a number, in
 * thousandths; -1 when absent. An error if present and not a number 0-10.
 */
static int security_severity(struct evi_ingest *in, const json_t *properties, const char *where,
                             int64_t *ret)
{
    const json_t *v = json_object_get(properties, "security-severity");
    int64_t milli = 0;
    bool nonzero = false, ok = true;

    *ret = -1;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        ok = d >= 0 && d <= 10;
        if (ok) {
            milli = (int64_t)(d * 1000);
            nonzero = d > 0;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int64_t whole = 0;
        size_t digits = 0;
        for (; *s >= '0' && *s <= '9' && ok; s++, digits++) {
            whole = whole * 10 + (*s - '0');
            ok = whole <= 10;
        }
        milli = whole * 1000;
        nonzero = whole > 0;
        if (ok && *s == '.') {
            int64_t scale = 100;
            size_t decimals = 0;
            /* Thousandths are enough for the thresholds; later digits only say "above 0". */
            for (s++; *s >= '0' && *s <= '9'; s++, decimals++) {
                milli += (*s - '0') * scale;
                nonzero = nonzero || *s != '0';
                scale /= 10;
            }
            ok = decimals > 0;
        }
        ok = ok && digits > 0 && *s == '\0';
    } else {
        ok = false;
    }
    if (!ok || milli > 10000) {
        return evi_ingest_fail(in, EV_EFORMAT,
                               "%s.security-severity: expected a score from 0 to 10", where);
    }
    /* A score above 0 that rounds to 0 thousandths still counts as above 0. */
    *ret = milli == 0 && nonzero ? 1 : milli;
    return 0;
}

static enum ev_finding_severity severity_of_score(int64_t milli)
{
    if (milli >= 9000) {
        return EV_FINDING_CRITICAL;
    }
    if (milli >= 7000) {
        return EV_FINDING_HIGH;
    }
    if (milli >= 4000) {
        return EV_FINDING_MEDIUM;
    }
    return EV_FINDING_LOW;
}

/* The first CWE in a properties bag's tags (tags that are not strings are skipped). */
static int64_t cwe_of_tags(const json_t *properties)
{
    const json_t *tags = json_object_get(properties, "tags"), *tag;
    size_t i;

    json_array_foreach(tags, i, tag)
    {
        int64_t n = evi_ingest_cwe(json_string_value(tag));
        if (n > 0) {
            return n;
        }
    }
    return 0;
}

static enum ev_confidence confidence_of(const json_t *rule_properties)
{
    const char *precision = text_of(rule_properties, "precision");

    if (precision == NULL) {
        return EV_CONFIDENCE_UNSET;
    }
    if (strcmp(precision, "very-high") == 0 || strcmp(precision, "high") == 0) {
        return EV_CONFIDENCE_HIGH;
    }
    if (strcmp(precision, "medium") == 0) {
        return EV_CONFIDENCE_MEDIUM;
    }
    if (strcmp(precision, "low") == 0) {
        return EV_CONFIDENCE_LOW;
    }
    return EV_CONFIDENCE_UNSET;
}

/* The file and line of the first location. */
static int location(struct evi_ingest *in, const struct run *run, const json_t *result,
                    struct ev_finding *f)
{
    json_t *locations, *first, *physical, *artifact, *region;
    int r;

    if ((r = evi_ingest_array(in, result, "locations", false, &locations)) < 0 ||
        json_array_size(locations) == 0) {
        return r;
    }
    size_t mark = evi_ingest_push_key(in, "locations");
    size_t at = evi_ingest_push_index(in, 0);
    first = json_array_get(locations, 0);
    if (!json_is_object(first)) {
        r = evi_ingest_fail(in, EV_EFORMAT, "expected an object");
        goto out;
    }
    if ((r = evi_ingest_object(in, first, "physicalLocation", false, &physical)) < 0 ||
        physical == NULL) {
        goto out;
    }
    (void)evi_ingest_push_key(in, "physicalLocation");
    if ((r = evi_ingest_object(in, physical, "artifactLocation", false, &artifact)) < 0 ||
        (r = evi_ingest_object(in, physical, "region", false, &region)) < 0) {
        goto out;
    }
    if (artifact != NULL) {
        struct ev_opt_int index;
        size_t here = evi_ingest_push_key(in, "artifactLocation");
        r = evi_ingest_string(in, artifact, "uri", false, 4096, &f->file);
        if (r == 0 && f->file == NULL) {
            /* §3.4.5: the uri may live in run.artifacts[index].location. */
            r = evi_ingest_int(in, artifact, "index", false, -1, INT64_MAX, &index);
            if (r == 0 && index.set && index.value >= 0) {
                const json_t *a = json_array_get(run->artifacts, (size_t)index.value);
                if (a == NULL) {
                    r = evi_ingest_fail_at(in, "index", EV_EFORMAT,
                                           "%lld is out of range (the run has %zu artifacts)",
                                           (long long)index.value, json_array_size(run->artifacts));
                } else {
                    const char *uri = text_of(json_object_get(a, "location"), "uri");
                    if (uri != NULL && strlen(uri) > 4096) {
                        r = evi_ingest_fail_at(in, "index", EV_ETOOBIG,
                                               "the artifact's uri is longer than 4096 bytes");
                    }
                    f->file = uri;
                }
            }
        }
        evi_ingest_pop(in, here);
        if (r < 0) {
            goto out;
        }
    }
    if (region != NULL) {
        (void)evi_ingest_push_key(in, "region");
        r = evi_ingest_int(in, region, "startLine", false, 1, INT32_MAX, &f->line);
    }
out:
    evi_ingest_pop(in, at);
    evi_ingest_pop(in, mark);
    return r;
}

/* Whether a result is an open finding (see the top of the file). */
static bool is_open(const json_t *result)
{
    const char *kind = text_of(result, "kind");
    const char *baseline = text_of(result, "baselineState");
    const json_t *suppressions = json_object_get(result, "suppressions"), *s;
    size_t i;

    if (kind != NULL && (strcmp(kind, "pass") == 0 || strcmp(kind, "notApplicable") == 0)) {
        return false;
    }
    if (baseline != NULL && strcmp(baseline, "absent") == 0) {
        return false;
    }
    json_array_foreach(suppressions, i, s)
    {
        const char *status = text_of(s, "status");
        if (json_is_object(s) && (status == NULL || strcmp(status, "accepted") == 0)) {
            return false;
        }
    }
    return true;
}

static int result(struct evi_ingest *in, const struct run *run, const json_t *item,
                  struct ev_finding *f)
{
    const json_t *rule = NULL, *rule_properties;
    json_t *message, *properties;
    const char *kind;
    size_t level = LEVEL_WARNING;
    bool present = false;
    int64_t score, rule_score;
    int r;

    if ((r = find_rule(in, run, item, &rule)) < 0 ||
        (r = evi_ingest_string(in, item, "ruleId", false, 256, &f->rule_id)) < 0 ||
        (r = evi_ingest_string(in, item, "kind", false, 64, &kind)) < 0) {
        return r;
    }
    if (f->rule_id == NULL) {
        f->rule_id = text_of(json_object_get(item, "rule"), "id");
    }
    if (f->rule_id == NULL) {
        f->rule_id = text_of(rule, "id");
    }
    if (f->rule_id == NULL) {
        return evi_ingest_fail(in, EV_EFORMAT, "no ruleId, rule.id or rule index");
    }
    if (f->rule_id[0] == '\0') {
        return evi_ingest_fail_at(in, "ruleId", EV_EFORMAT, "the rule id must not be empty");
    }
    if (strlen(f->rule_id) > 256) {
        return evi_ingest_fail_at(in, "ruleId", EV_ETOOBIG, "the rule id is longer than 256 bytes");
    }

    if ((r = evi_ingest_choice(in, item, "level", false, level_names, 4, &level, &present)) < 0) {
        return r;
    }
    if (!present) {
        const char *fallback = text_of(json_object_get(rule, "defaultConfiguration"), "level");
        level = kind != NULL && strcmp(kind, "fail") != 0 ? LEVEL_NONE : LEVEL_WARNING;
        for (size_t i = 0; fallback != NULL && i < 4; i++) {
            if (strcmp(fallback, level_names[i]) == 0) {
                level = i;
            }
        }
    }

    rule_properties = json_object_get(rule, "properties");
    if ((r = evi_ingest_object(in, item, "properties", false, &properties)) < 0 ||
        (r = security_severity(in, properties, "properties", &score)) < 0) {
        return r;
    }
    if (score < 0 && json_is_object(rule_properties)) {
        /* A bad score in a rule is the rule's fault: name the rule in the path. */
        r = security_severity(in, rule_properties, "the rule's properties", &rule_score);
        if (r < 0) {
            return r;
        }
        score = rule_score;
    }
    f->severity = score > 0 ? severity_of_score(score) : level_severities[level];
    f->confidence = confidence_of(rule_properties);
    int64_t cwe = cwe_of_tags(rule_properties);
    if (cwe == 0) {
        cwe = cwe_of_tags(properties);
    }
    if (cwe > 0) {
        f->cwe = EV_SOME_INT(cwe);
    }

    if ((r = evi_ingest_object(in, item, "message", false, &message)) < 0) {
        return r;
    }
    if (message != NULL) {
        size_t mark = evi_ingest_push_key(in, "message");
        r = evi_ingest_message(in, message, "text", false, &f->message);
        if (r == 0 && f->message == NULL) {
            /* §3.11.10: a message by id, from the rule's messageStrings (unformatted). */
            const char *id = text_of(message, "id");
            const json_t *strings = json_object_get(rule, "messageStrings");
            const json_t *m = id != NULL ? json_object_get(strings, id) : NULL;
            r = evi_ingest_cut(in, text_of(m, "text"), &f->message);
        }
        evi_ingest_pop(in, mark);
        if (r < 0) {
            return r;
        }
    }
    return location(in, run, item, f);
}

static int one_run(struct evi_ingest *in, const json_t *run_json, struct ev_security_assessment *a)
{
    json_t *tool, *driver, *results, *invocations, *rules, *extensions, *artifacts, *item;
    const char *name, *version, *semantic_version;
    struct run run = {.run = run_json};
    struct ev_finding *findings;
    size_t i, count = 0;
    int r;

    if (!json_is_object(run_json)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected an object");
    }
    if ((r = evi_ingest_object(in, run_json, "tool", true, &tool)) < 0) {
        return r;
    }
    size_t mark = evi_ingest_push_key(in, "tool");
    if ((r = evi_ingest_object(in, tool, "driver", true, &driver)) < 0 ||
        (r = evi_ingest_array(in, tool, "extensions", false, &extensions)) < 0) {
        goto out;
    }
    (void)evi_ingest_push_key(in, "driver");
    if ((r = evi_ingest_string(in, driver, "name", true, 64, &name)) < 0 ||
        (r = evi_ingest_string(in, driver, "version", false, 64, &version)) < 0 ||
        (r = evi_ingest_string(in, driver, "semanticVersion", false, 64, &semantic_version)) < 0 ||
        (r = evi_ingest_array(in, driver, "rules", false, &rules)) < 0) {
        goto out;
    }
    evi_ingest_pop(in, mark);
    run.driver_rules = rules;
    run.extensions = extensions;
    if ((r = evi_ingest_array(in, run_json, "artifacts", false, &artifacts)) < 0 ||
        (r = evi_ingest_array(in, run_json, "invocations", false, &invocations)) < 0 ||
        (r = evi_ingest_array(in, run_json, "results", false, &results)) < 0) {
        return r;
    }
    run.artifacts = artifacts;
    if (results == NULL) {
        return evi_ingest_fail_at(in, "results", EV_EFORMAT,
                                  "missing: the run has no results (the tool failed)");
    }
    json_array_foreach(invocations, i, item)
    {
        if (json_is_false(json_object_get(item, "executionSuccessful"))) {
            in->pub.tool_errors++;
        }
    }
    if ((r = evi_ingest_count_findings(in, json_array_size(results))) < 0) {
        return r;
    }
    findings = evi_ingest_alloc(in, json_array_size(results), sizeof(*findings));
    if (findings == NULL) {
        return -ENOMEM;
    }
    mark = evi_ingest_push_key(in, "results");
    json_array_foreach(results, i, item)
    {
        size_t at = evi_ingest_push_index(in, i);
        if (!json_is_object(item)) {
            r = evi_ingest_fail(in, EV_EFORMAT, "expected an object");
        } else if (is_open(item)) {
            r = result(in, &run, item, &findings[count]);
            count++;
        }
        evi_ingest_pop(in, at);
        if (r < 0) {
            goto out;
        }
    }
    *a = (struct ev_security_assessment){
        .tool = name,
        .tool_version = semantic_version != NULL ? semantic_version : version,
        .findings = findings,
        .finding_count = count,
    };
    r = evi_ingest_assessment_done(in, a);
out:
    evi_ingest_pop(in, mark);
    return r;
}

int evi_ingest_sarif(struct evi_ingest *in)
{
    json_t *runs, *item;
    const char *version;
    size_t i;
    int r;

    if (!json_is_object(in->root)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected a JSON object (a SARIF log)");
    }
    if ((r = evi_ingest_string(in, in->root, "version", true, 64, &version)) < 0) {
        return r;
    }
    if (strcmp(version, "2.1.0") != 0) {
        return evi_ingest_fail_at(in, "version", EV_EFORMAT, "\"%s\" is not SARIF 2.1.0", version);
    }
    if ((r = evi_ingest_array(in, in->root, "runs", true, &runs)) < 0) {
        return r;
    }
    if (json_array_size(runs) == 0) {
        return evi_ingest_fail_at(in, "runs", EV_EFORMAT, "empty: the log holds no scan");
    }
    if (json_array_size(runs) > EV_INGEST_MAX_RUNS) {
        return evi_ingest_fail_at(in, "runs", EV_ETOOBIG, "more than %u runs", EV_INGEST_MAX_RUNS);
    }
    in->assessments = evi_ingest_alloc(in, json_array_size(runs), sizeof(*in->assessments));
    if (in->assessments == NULL) {
        return -ENOMEM;
    }
    size_t mark = evi_ingest_push_key(in, "runs");
    json_array_foreach(runs, i, item)
    {
        size_t at = evi_ingest_push_index(in, i);
        r = one_run(in, item, &in->assessments[i]);
        evi_ingest_pop(in, at);
        if (r < 0) {
            break;
        }
    }
    evi_ingest_pop(in, mark);
    if (r == 0) {
        in->pub.assessment_count = json_array_size(runs);
    }
    return r;
}
