/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The summary as JSON (schema: docs/REPORTS.md, "Summary JSON"), written with
 * the canonical writer: members in byte order of their keys, so the same
 * summary always gives the same bytes and a re-computed summary can be
 * compared byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "report-internal.h"

static void str(struct evi_jsonw *w, const char *s)
{
    evi_jsonw_string(w, s, strlen(s));
}

static void member_u64(struct evi_jsonw *w, const char *key, uint64_t v)
{
    evi_jsonw_key(w, key);
    evi_jsonw_int(w, (int64_t)v);
}

static void member_str(struct evi_jsonw *w, const char *key, const char *v)
{
    evi_jsonw_key(w, key);
    str(w, v);
}

static void member_time(struct evi_jsonw *w, const char *key, bool set, int64_t ns)
{
    char ts[EVI_TS_LEN + 1];

    evi_jsonw_key(w, key);
    if (!set) {
        evi_jsonw_value_raw(w, "null", 4);
        return;
    }
    evi_ts_format(ns, ts);
    str(w, ts);
}

/* {"items":[{"count":N,"<name>":"..."}...],"other":N} sorted by count. */
static void table(struct evi_jsonw *w, const char *key, const struct evi_rep_table *t,
                  const char *name)
{
    const struct evi_rep_count **sorted = evi_rep_table_sorted(t, false);

    if (sorted == NULL) {
        w->error = w->error ? w->error : -ENOMEM;
        return;
    }
    evi_jsonw_key(w, key);
    evi_jsonw_begin_object(w);
    evi_jsonw_key(w, "items");
    evi_jsonw_begin_array(w);
    for (size_t i = 0; i < t->len; i++) {
        evi_jsonw_begin_object(w);
        member_u64(w, "count", sorted[i]->count);
        member_str(w, name, sorted[i]->key);
        evi_jsonw_end_object(w);
    }
    evi_jsonw_end_array(w);
    member_u64(w, "other", t->other);
    evi_jsonw_end_object(w);
    free(sorted);
}

static void assessments(struct evi_jsonw *w, const struct ev_summary *s)
{
    const struct evi_rep_count **rules = evi_rep_table_sorted(&s->rules, true);

    if (rules == NULL) {
        w->error = w->error ? w->error : -ENOMEM;
        return;
    }
    evi_jsonw_key(w, "assessments");
    evi_jsonw_begin_object(w);
    evi_jsonw_key(w, "findings_by_severity");
    evi_jsonw_begin_object(w);
    /* Keys in byte order: critical, high, info, low, medium. */
    static const int order[] = {EVI_FSEV_CRITICAL, EVI_FSEV_HIGH, EVI_FSEV_INFO, EVI_FSEV_LOW,
                                EVI_FSEV_MEDIUM};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        member_u64(w, evi_rep_finding_names[order[i]], s->findings_by_severity[order[i]]);
    }
    evi_jsonw_end_object(w);
    member_u64(w, "findings_total", s->findings_total);
    evi_jsonw_key(w, "rules");
    evi_jsonw_begin_array(w);
    for (size_t i = 0; i < s->rules.len; i++) {
        evi_jsonw_begin_object(w);
        member_u64(w, "count", rules[i]->count);
        member_str(w, "rule_id", rules[i]->key);
        member_str(w, "severity",
                   rules[i]->rank < EVI_FSEV_N ? evi_rep_finding_names[rules[i]->rank] : "unknown");
        evi_jsonw_end_object(w);
    }
    evi_jsonw_end_array(w);
    member_u64(w, "rules_other", s->rules.other);
    member_u64(w, "scans", s->assessments);
    member_u64(w, "truncated_scans", s->findings_truncated_scans);
    evi_jsonw_end_object(w);
    free(rules);
}

static void containers(struct evi_jsonw *w, const struct ev_summary *s)
{
    evi_jsonw_key(w, "containers");
    evi_jsonw_begin_object(w);
    member_u64(w, "created", s->containers);
    evi_jsonw_key(w, "listed");
    evi_jsonw_begin_array(w);
    for (size_t i = 0; i < s->risky_len; i++) {
        const struct evi_rep_container *c = &s->risky[i];
        evi_jsonw_begin_object(w);
        member_str(w, "container_id", c->container_id);
        member_str(w, "image", c->image);
        member_u64(w, "index", c->index);
        member_str(w, "name", c->name);
        evi_jsonw_key(w, "risks");
        evi_jsonw_begin_array(w);
        for (const char *p = c->risks; *p != '\0';) {
            size_t n = strcspn(p, ",");
            evi_jsonw_string(w, p, n);
            p += n + (p[n] == ',');
        }
        evi_jsonw_end_array(w);
        member_time(w, "ts", true, c->ts_ns);
        evi_jsonw_end_object(w);
    }
    evi_jsonw_end_array(w);
    member_u64(w, "not_listed", s->containers_risky - s->risky_len);
    table(w, "risks", &s->risks, "risk");
    member_u64(w, "risky", s->containers_risky);
    evi_jsonw_end_object(w);
}

static void violations(struct evi_jsonw *w, const struct ev_summary *s)
{
    const struct evi_rep_count **kinds = evi_rep_table_sorted(&s->violation_kinds, false);

    if (kinds == NULL) {
        w->error = w->error ? w->error : -ENOMEM;
        return;
    }
    evi_jsonw_key(w, "violations");
    evi_jsonw_begin_object(w);
    evi_jsonw_key(w, "items");
    evi_jsonw_begin_array(w);
    for (size_t i = 0; i < s->violation_kinds.len; i++) {
        evi_jsonw_begin_object(w);
        member_str(w, "action", evi_rep_action_names[kinds[i]->rank]);
        member_u64(w, "count", kinds[i]->count);
        member_str(w, "resource", kinds[i]->key);
        evi_jsonw_end_object(w);
    }
    evi_jsonw_end_array(w);
    member_u64(w, "other", s->violation_kinds.other);
    member_u64(w, "total", s->violations);
    evi_jsonw_end_object(w);
    free(kinds);
}

void evi_rep_summary_write_json(const struct ev_summary *s, struct evi_jsonw *w)
{
    evi_jsonw_begin_object(w);
    assessments(w, s);
    table(w, "by_outcome", &s->outcomes, "outcome");

    evi_jsonw_key(w, "by_severity");
    evi_jsonw_begin_object(w);
    evi_jsonw_key(w, "items");
    evi_jsonw_begin_array(w);
    for (int i = 0; i <= EV_SEV_DEBUG; i++) {
        evi_jsonw_begin_object(w);
        member_u64(w, "count", s->severity[i]);
        member_str(w, "severity", ev_severity_name(i));
        evi_jsonw_end_object(w);
    }
    evi_jsonw_end_array(w);
    member_u64(w, "unknown", s->severity_unknown);
    evi_jsonw_end_object(w);

    table(w, "by_source", &s->sources, "source");
    table(w, "by_type", &s->types, "type");
    containers(w, s);

    evi_jsonw_key(w, "entries");
    evi_jsonw_begin_object(w);
    member_u64(w, "events", s->events);
    member_u64(w, "in_window", s->entries);
    member_u64(w, "malformed", s->malformed);
    member_u64(w, "retention_marks", s->retention_marks);
    member_u64(w, "seals", s->seals);
    evi_jsonw_end_object(w);

    member_str(w, "format", EV_SUMMARY_FORMAT);
    member_u64(w, "notable_events", s->notable_total);

    evi_jsonw_key(w, "range");
    evi_jsonw_begin_object(w);
    member_u64(w, "from", 0);
    member_u64(w, "to", s->to);
    evi_jsonw_end_object(w);

    evi_jsonw_key(w, "timeline");
    evi_jsonw_begin_object(w);
    member_str(w, "bucket", evi_rep_bucket_name(s->bucket_unit));
    member_u64(w, "bucket_seconds", (uint64_t)evi_rep_bucket_seconds(s->bucket_unit));
    evi_jsonw_key(w, "counts");
    evi_jsonw_begin_array(w);
    for (int64_t b = s->bucket_lo; s->any_bucket && b <= s->bucket_hi; b++) {
        evi_jsonw_int(w, (int64_t)s->buckets[b - s->bucket_lo]);
    }
    evi_jsonw_end_array(w);
    member_time(w, "start", s->any_bucket,
                s->bucket_lo * evi_rep_bucket_seconds(s->bucket_unit) * 1000000000);
    evi_jsonw_end_object(w);

    violations(w, s);

    evi_jsonw_key(w, "window");
    evi_jsonw_begin_object(w);
    member_time(w, "first_event", s->any_event, s->first_ns);
    member_time(w, "last_event", s->any_event, s->last_ns);
    member_time(w, "since", s->since_ns != 0, s->since_ns);
    member_time(w, "until", s->until_ns != 0, s->until_ns);
    evi_jsonw_end_object(w);
    evi_jsonw_end_object(w);
}

int ev_summary_json(const struct ev_summary *s, char **ret_text, size_t *ret_len)
{
    struct evi_jsonw w;
    int r;

    evi_jsonw_init(&w, 0);
    evi_rep_summary_write_json(s, &w);
    evi_jsonw_raw(&w, "", 1); /* the NUL, not counted */
    if ((r = evi_jsonw_error(&w)) < 0) {
        evi_jsonw_free(&w);
        return r;
    }
    *ret_text = w.data;
    *ret_len = w.len - 1;
    return 0;
}
