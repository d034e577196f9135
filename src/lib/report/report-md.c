/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Markdown report, for a repository or a pull request: the same sections
 * as the HTML page without the charts (timeline as a table). Strings from the
 * log are escaped for Markdown and for the HTML that Markdown lets through;
 * the checkpoint and the commands sit in fenced blocks, where nothing is
 * interpreted (a fence longer than any run of backticks in them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report-internal.h"

#define TABLE_ROWS 15

static void md(struct evi_rtext *t, const char *s)
{
    evi_rtext_md(t, s);
}

/* A fenced block whose fence no line of text can close. */
static void fenced(struct evi_rtext *t, const char *text)
{
    size_t run = 0, longest = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    size_t fence = longest >= 3 ? longest + 1 : 3;
    for (size_t i = 0; i < fence; i++) {
        evi_rtext_puts(t, "`");
    }
    evi_rtext_puts(t, "text\n");
    evi_rtext_puts(t, text);
    if (text[0] != '\0' && text[strlen(text) - 1] != '\n') {
        evi_rtext_puts(t, "\n");
    }
    for (size_t i = 0; i < fence; i++) {
        evi_rtext_puts(t, "`");
    }
    evi_rtext_puts(t, "\n\n");
}

static void count_table(struct evi_rtext *t, const char *title, const char *column,
                        const struct evi_rep_table *tab)
{
    const struct evi_rep_count **sorted = evi_rep_table_sorted(tab, false);

    if (sorted == NULL) {
        t->error = -ENOMEM;
        return;
    }
    evi_rtext_printf(t, "### %s\n\n", title);
    if (tab->len == 0) {
        evi_rtext_puts(t, "None.\n\n");
        free(sorted);
        return;
    }
    evi_rtext_printf(t, "| %s | Events |\n|---|---:|\n", column);
    for (size_t i = 0; i < tab->len && i < TABLE_ROWS; i++) {
        evi_rtext_puts(t, "| ");
        md(t, sorted[i]->key);
        evi_rtext_printf(t, " | %llu |\n", (unsigned long long)sorted[i]->count);
    }
    if (tab->other > 0) {
        evi_rtext_printf(t, "| *other (over %d distinct names)* | %llu |\n", EV_SUMMARY_MAX_KEYS,
                         (unsigned long long)tab->other);
    }
    evi_rtext_puts(t, "\n");
    if (tab->len > TABLE_ROWS) {
        evi_rtext_printf(t, "%zu more not shown (see the JSON report).\n\n", tab->len - TABLE_ROWS);
    }
    free(sorted);
}

static void overview(struct evi_rtext *t, const struct ev_report *r)
{
    const struct ev_summary *s = r->summary;
    struct evi_rtext x = {0};
    char a[32], b[32];

    evi_rtext_puts(t, "# Security audit report: ");
    md(t, r->origin);
    evi_rtext_puts(t, "\n\n");
    evi_rep_status(&x, r);
    if (ev_report_verified(r)) {
        evi_rtext_puts(t, "> **Verified.** Every record, seal and signed checkpoint of the log "
                          "checks out.\n\n");
    } else {
        evi_rtext_puts(t, "> **VERIFICATION FAILED.** The log has been damaged or tampered "
                          "with; do not rely on the numbers below.\n>\n> ");
        md(t, x.data != NULL ? x.data : "");
        evi_rtext_puts(t, "\n\n");
    }
    evi_rtext_free(&x);
    evi_rtext_puts(t, "| | |\n|---|---|\n| Log origin | ");
    md(t, r->origin);
    evi_rtext_puts(t, " |\n| Time window | ");
    evi_rep_time(r->since_ns, a);
    evi_rep_time(r->until_ns, b);
    if (r->since_ns == 0 && r->until_ns == 0) {
        evi_rtext_puts(t, "whole log");
    } else {
        evi_rtext_printf(t, "%s to %s", r->since_ns ? a : "beginning", r->until_ns ? b : "end");
    }
    if (s->any_event) {
        evi_rep_time(s->first_ns, a);
        evi_rep_time(s->last_ns, b);
        evi_rtext_printf(t, " (events %s to %s)", a, b);
    }
    evi_rep_time(r->generated_ns, a);
    evi_rtext_printf(t,
                     " |\n| Entries covered | 0 to %llu (%llu entries, signed checkpoint) |\n"
                     "| Generated | %s |\n\n",
                     (unsigned long long)(r->tree_size > 0 ? r->tree_size - 1 : 0),
                     (unsigned long long)r->tree_size, a);
    evi_rtext_printf(
        t,
        "## Summary\n\n| Security events | Notable | Critical or worse | Errors | Warnings | "
        "High/critical findings | Risky containers | Violations | Seals |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| %llu | %llu | %llu | %llu | %llu | %llu | %llu | %llu | %llu |\n\n",
        (unsigned long long)s->events, (unsigned long long)s->notable_total,
        (unsigned long long)(s->severity[0] + s->severity[1] + s->severity[2]),
        (unsigned long long)s->severity[EV_SEV_ERROR],
        (unsigned long long)s->severity[EV_SEV_WARNING],
        (unsigned long long)(s->findings_by_severity[EVI_FSEV_CRITICAL] +
                             s->findings_by_severity[EVI_FSEV_HIGH]),
        (unsigned long long)s->containers_risky, (unsigned long long)s->violations,
        (unsigned long long)s->seals);
}

static void breakdown(struct evi_rtext *t, const struct ev_summary *s)
{
    evi_rtext_puts(t, "### By severity\n\n| Severity | Events |\n|---|---:|\n");
    for (int i = 0; i <= EV_SEV_DEBUG; i++) {
        evi_rtext_printf(t, "| %s | %llu |\n", ev_severity_name(i),
                         (unsigned long long)s->severity[i]);
    }
    evi_rtext_puts(t, "\n");
    count_table(t, "By type", "Type", &s->types);
    count_table(t, "By source (program, else host)", "Source", &s->sources);
    count_table(t, "By outcome", "Outcome", &s->outcomes);

    evi_rtext_printf(t, "### Security assessments\n\n%llu scans, %llu findings.\n\n| ",
                     (unsigned long long)s->assessments, (unsigned long long)s->findings_total);
    for (int i = 0; i < EVI_FSEV_N; i++) {
        evi_rtext_printf(t, "%s | ", evi_rep_finding_names[i]);
    }
    evi_rtext_puts(t, "\n|---:|---:|---:|---:|---:|\n| ");
    for (int i = 0; i < EVI_FSEV_N; i++) {
        evi_rtext_printf(t, "%llu | ", (unsigned long long)s->findings_by_severity[i]);
    }
    evi_rtext_puts(t, "\n\n");
    const struct evi_rep_count **rules = evi_rep_table_sorted(&s->rules, true);
    if (rules == NULL) {
        t->error = -ENOMEM;
        return;
    }
    if (s->rules.len > 0) {
        evi_rtext_puts(t, "| Severity | Rule | Findings |\n|---|---|---:|\n");
    }
    for (size_t i = 0; i < s->rules.len && i < TABLE_ROWS; i++) {
        evi_rtext_printf(t, "| %s | ",
                         rules[i]->rank < EVI_FSEV_N ? evi_rep_finding_names[rules[i]->rank]
                                                     : "unknown");
        md(t, rules[i]->key);
        evi_rtext_printf(t, " | %llu |\n", (unsigned long long)rules[i]->count);
    }
    evi_rtext_puts(t, "\n");
    free(rules);

    const struct evi_rep_count **kinds = evi_rep_table_sorted(&s->violation_kinds, false);
    if (kinds == NULL) {
        t->error = -ENOMEM;
        return;
    }
    evi_rtext_printf(t, "### Resource violations\n\n%llu violations.\n\n",
                     (unsigned long long)s->violations);
    if (s->violation_kinds.len > 0) {
        evi_rtext_puts(t, "| Resource | Action | Events |\n|---|---|---:|\n");
    }
    for (size_t i = 0; i < s->violation_kinds.len && i < TABLE_ROWS; i++) {
        evi_rtext_puts(t, "| ");
        md(t, kinds[i]->key);
        evi_rtext_printf(t, " | %s | %llu |\n", evi_rep_action_names[kinds[i]->rank],
                         (unsigned long long)kinds[i]->count);
    }
    evi_rtext_puts(t, "\n");
    free(kinds);

    evi_rtext_printf(t, "### Containers\n\n%llu created, %llu with risky settings.\n\n",
                     (unsigned long long)s->containers, (unsigned long long)s->containers_risky);
    if (s->risky_len > 0) {
        evi_rtext_puts(t, "| Entry | Container | Image | Risks |\n|---:|---|---|---|\n");
    }
    for (size_t i = 0; i < s->risky_len; i++) {
        const struct evi_rep_container *c = &s->risky[i];
        evi_rtext_printf(t, "| %llu | ", (unsigned long long)c->index);
        md(t, c->name[0] ? c->name : c->container_id);
        evi_rtext_puts(t, " | ");
        md(t, c->image);
        evi_rtext_puts(t, " | ");
        md(t, c->risks);
        evi_rtext_puts(t, " |\n");
    }
    evi_rtext_puts(t, "\n");

    int64_t width = evi_rep_bucket_seconds(s->bucket_unit);
    evi_rtext_printf(t, "### Events per %s (UTC)\n\n", evi_rep_bucket_name(s->bucket_unit));
    if (!s->any_bucket) {
        evi_rtext_puts(t, "None.\n\n");
        return;
    }
    evi_rtext_puts(t, "| Start | Events |\n|---|---:|\n");
    for (int64_t b = s->bucket_lo; b <= s->bucket_hi; b++) {
        char ts[32];
        if (s->buckets[b - s->bucket_lo] == 0) {
            continue;
        }
        evi_rep_time_short(b * width * 1000000000, ts);
        evi_rtext_printf(t, "| %s | %llu |\n", ts,
                         (unsigned long long)s->buckets[b - s->bucket_lo]);
    }
    evi_rtext_puts(t, "\nBuckets without events are left out.\n\n");
}

static void notable(struct evi_rtext *t, const struct ev_summary *s)
{
    const struct evi_rep_notable **rows = evi_rep_summary_notable_sorted(s);

    if (rows == NULL) {
        t->error = -ENOMEM;
        return;
    }
    evi_rtext_printf(t,
                     "## Notable events\n\nSeverity warning or worse, high or critical findings, "
                     "risky containers, violations killed or denied: %llu in total.\n\n",
                     (unsigned long long)s->notable_total);
    if (s->notable_len > 0) {
        evi_rtext_puts(t, "| Entry | Time (UTC) | Severity | Type | Source | Why | Detail |\n"
                          "|---:|---|---|---|---|---|---|\n");
    }
    for (size_t i = 0; i < s->notable_len; i++) {
        const struct evi_rep_notable *n = rows[i];
        struct evi_rtext why = {0};
        char ts[32];
        evi_rep_time(n->ts_ns, ts);
        evi_rtext_printf(t, "| %llu | %s | %s | ", (unsigned long long)n->index, ts,
                         n->severity >= 0 ? ev_severity_name(n->severity) : "unknown");
        md(t, n->type);
        evi_rtext_puts(t, " | ");
        md(t, n->source);
        evi_rtext_puts(t, " | ");
        evi_rep_notable_reasons(&why, n->reasons);
        md(t, why.data != NULL ? why.data : "");
        evi_rtext_free(&why);
        evi_rtext_puts(t, " | ");
        md(t, n->detail);
        evi_rtext_puts(t, " |\n");
    }
    evi_rtext_puts(t, "\n");
    if (s->notable_total > s->notable_len) {
        evi_rtext_printf(t, "%llu more not shown.\n\n",
                         (unsigned long long)(s->notable_total - s->notable_len));
    }
    free(rows);
}

static void integrity(struct evi_rtext *t, const struct ev_report *r)
{
    const struct ev_verify_report *v = &r->verification;
    struct evi_rtext x = {0};

    evi_rtext_puts(t, "## Integrity\n\nThis report covers exactly the entries of the signed "
                      "checkpoint below; the verifier was run over the log directory with that "
                      "checkpoint as a trusted one.\n\n| | |\n|---|---|\n| Result | ");
    evi_rep_status(&x, r);
    md(t, x.data != NULL ? x.data : "");
    evi_rtext_free(&x);
    evi_rtext_printf(t,
                     " |\n| Checkpoint tree size | %llu |\n| Entries verified | %llu records, "
                     "%lu epochs sealed, %llu seals in the covered range |\n"
                     "| Forward-secure tags | %s |\n| Public key | `",
                     (unsigned long long)r->tree_size, (unsigned long long)v->entries,
                     (unsigned long)v->epochs_sealed, (unsigned long long)r->summary->seals,
                     v->tags_checked ? "checked" : "not checked (no verification key)");
    /* A key has no backticks or pipes when well formed; escape whatever it holds. */
    for (const char *p = r->vkey; *p; p++) {
        evi_rtext_puts(t, *p == '`' || *p == '|' ? "?" : (char[2]){*p, 0});
    }
    evi_rtext_printf(t, "` (%s) |\n\n",
                     r->key_pinned ? "pinned" : "recorded in the log: compare with the owner's");
    evi_rtext_puts(t, "### Signed checkpoint\n\n");
    if (r->checkpoint_note != NULL) {
        fenced(t, r->checkpoint_note);
    } else {
        evi_rtext_puts(t, "The log has no signed checkpoint.\n\n");
    }
    evi_rtext_puts(t, "### How to re-check this report\n\n");
    evi_rep_commands(&x, r);
    fenced(t, x.data != NULL ? x.data : "");
    if (x.error != 0) {
        t->error = x.error;
    }
    evi_rtext_free(&x);
}

int evi_rep_md(const struct ev_report *r, struct evi_rtext *t)
{
    overview(t, r);
    breakdown(t, r->summary);
    notable(t, r->summary);
    integrity(t, r);
    evi_rtext_puts(t, "---\n*Generated by evident (" EV_REPORT_FORMAT ").*\n");
    return t->error;
}
