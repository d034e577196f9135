/* SPDX-License-Identifier: Apache-2.0 */
/* The summary as text for a terminal: aligned columns, strings from the log made safe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report-internal.h"

#define TOP_ROWS 15 /* rows per table in the text; the JSON has them all */

static void heading(struct evi_rtext *t, const char *title)
{
    evi_rtext_printf(t, "\n%s\n", title);
}

static void row(struct evi_rtext *t, const char *name, uint64_t count)
{
    evi_rtext_puts(t, "  ");
    evi_rtext_pad(t, name, 32);
    evi_rtext_printf(t, " %10llu\n", (unsigned long long)count);
}

static void table(struct evi_rtext *t, const char *title, const struct evi_rep_table *tab)
{
    const struct evi_rep_count **sorted = evi_rep_table_sorted(tab, false);

    if (sorted == NULL) {
        t->error = -ENOMEM;
        return;
    }
    heading(t, title);
    if (tab->len == 0) {
        evi_rtext_puts(t, "  (none)\n");
    }
    for (size_t i = 0; i < tab->len && i < TOP_ROWS; i++) {
        row(t, sorted[i]->key, sorted[i]->count);
    }
    if (tab->len > TOP_ROWS) {
        evi_rtext_printf(t, "  ... %zu more (see --json)\n", tab->len - TOP_ROWS);
    }
    if (tab->other > 0) {
        row(t, "(other: table full)", tab->other);
    }
    free(sorted);
}

static void when(struct evi_rtext *t, const char *label, bool set, int64_t ns)
{
    char ts[32];
    evi_rep_time(ns, ts);
    evi_rtext_printf(t, "%s%s", label, set ? ts : "-");
}

int ev_summary_text(const struct ev_summary *s, char **ret_text, size_t *ret_len)
{
    struct evi_rtext t = {0};

    evi_rtext_printf(&t, "Entries [0, %llu)", (unsigned long long)s->to);
    when(&t, ", window ", s->since_ns != 0, s->since_ns);
    when(&t, " .. ", s->until_ns != 0, s->until_ns);
    evi_rtext_puts(&t, "\n");
    evi_rtext_printf(&t, "Security events: %llu", (unsigned long long)s->events);
    if (s->any_event) {
        when(&t, " (first ", true, s->first_ns);
        when(&t, ", last ", true, s->last_ns);
        evi_rtext_puts(&t, ")");
    }
    evi_rtext_puts(&t, "\n");
    evi_rtext_printf(&t,
                     "Notable events: %llu (severity warning or worse, high/critical "
                     "findings, risky containers, violations killed/denied)\n",
                     (unsigned long long)s->notable_total);
    evi_rtext_printf(&t, "Integrity: %llu seals", (unsigned long long)s->seals);
    if (s->retention_marks > 0) {
        evi_rtext_printf(&t, ", %llu retention marks", (unsigned long long)s->retention_marks);
    }
    evi_rtext_puts(&t, " (not counted as events)\n");
    if (s->malformed > 0) {
        evi_rtext_printf(&t, "Malformed entries: %llu (run 'evident verify')\n",
                         (unsigned long long)s->malformed);
    }

    heading(&t, "By severity");
    for (int i = 0; i <= EV_SEV_DEBUG; i++) {
        row(&t, ev_severity_name(i), s->severity[i]);
    }
    if (s->severity_unknown > 0) {
        row(&t, "(unknown)", s->severity_unknown);
    }
    table(&t, "By type", &s->types);
    table(&t, "By source (program, else host)", &s->sources);
    table(&t, "By outcome", &s->outcomes);

    heading(&t, "Security assessments");
    evi_rtext_printf(&t, "  %llu scans, %llu findings:", (unsigned long long)s->assessments,
                     (unsigned long long)s->findings_total);
    for (int i = 0; i < EVI_FSEV_N; i++) {
        evi_rtext_printf(&t, " %llu %s%s", (unsigned long long)s->findings_by_severity[i],
                         evi_rep_finding_names[i], i + 1 < EVI_FSEV_N ? "," : "\n");
    }
    if (s->findings_truncated_scans > 0) {
        evi_rtext_printf(&t, "  %llu scans kept only part of their findings list\n",
                         (unsigned long long)s->findings_truncated_scans);
    }
    const struct evi_rep_count **rules = evi_rep_table_sorted(&s->rules, true);
    if (rules == NULL) {
        t.error = -ENOMEM;
    }
    for (size_t i = 0; rules != NULL && i < s->rules.len && i < TOP_ROWS; i++) {
        char name[EV_SUMMARY_KEY_MAX + 32];
        (void)snprintf(name, sizeof(name), "%-8s %s",
                       rules[i]->rank < EVI_FSEV_N ? evi_rep_finding_names[rules[i]->rank]
                                                   : "unknown",
                       rules[i]->key);
        row(&t, name, rules[i]->count);
    }
    free(rules);

    heading(&t, "Resource violations (resource, action)");
    const struct evi_rep_count **kinds = evi_rep_table_sorted(&s->violation_kinds, false);
    if (kinds == NULL) {
        t.error = -ENOMEM;
    }
    if (s->violations == 0) {
        evi_rtext_puts(&t, "  (none)\n");
    }
    for (size_t i = 0; kinds != NULL && i < s->violation_kinds.len && i < TOP_ROWS; i++) {
        char name[EV_SUMMARY_KEY_MAX + 32];
        (void)snprintf(name, sizeof(name), "%s %s", kinds[i]->key,
                       evi_rep_action_names[kinds[i]->rank]);
        row(&t, name, kinds[i]->count);
    }
    free(kinds);

    heading(&t, "Containers");
    evi_rtext_printf(&t, "  %llu created, %llu with risky settings\n",
                     (unsigned long long)s->containers, (unsigned long long)s->containers_risky);
    for (size_t i = 0; i < s->risky_len && i < TOP_ROWS; i++) {
        const struct evi_rep_container *c = &s->risky[i];
        evi_rtext_printf(&t, "  #%llu ", (unsigned long long)c->index);
        evi_rtext_pad(&t, c->name[0] ? c->name : c->container_id, 0);
        evi_rtext_puts(&t, " (");
        evi_rtext_pad(&t, c->image, 0);
        evi_rtext_puts(&t, "): ");
        evi_rtext_pad(&t, c->risks, 0);
        evi_rtext_puts(&t, "\n");
    }
    if (s->containers_risky > TOP_ROWS && s->risky_len >= TOP_ROWS) {
        evi_rtext_printf(&t, "  ... %llu more\n",
                         (unsigned long long)(s->containers_risky - TOP_ROWS));
    }
    table(&t, "Container risks", &s->risks);

    int64_t width = evi_rep_bucket_seconds(s->bucket_unit);
    evi_rtext_printf(&t, "\nEvents per %s (UTC)%s\n", evi_rep_bucket_name(s->bucket_unit),
                     s->bucket_unit != EVI_BUCKET_HOUR ? " (window too wide for hours)" : "");
    uint64_t peak = 0;
    for (int64_t b = s->bucket_lo; s->any_bucket && b <= s->bucket_hi; b++) {
        uint64_t n = s->buckets[b - s->bucket_lo];
        peak = n > peak ? n : peak;
    }
    if (!s->any_bucket) {
        evi_rtext_puts(&t, "  (none)\n");
    }
    for (int64_t b = s->bucket_lo; s->any_bucket && b <= s->bucket_hi; b++) {
        uint64_t n = s->buckets[b - s->bucket_lo];
        char ts[32];
        if (n == 0 && s->bucket_hi - s->bucket_lo > 48) {
            continue; /* a long timeline lists only buckets with events */
        }
        evi_rep_time_short(b * width * 1000000000, ts);
        evi_rtext_printf(&t, "  %s %10llu ", ts, (unsigned long long)n);
        for (uint64_t k = 0; peak > 0 && k < (n * 40 + peak - 1) / peak; k++) {
            evi_rtext_puts(&t, "#");
        }
        evi_rtext_puts(&t, "\n");
    }
    return evi_rtext_finish(&t, ret_text, ret_len);
}
