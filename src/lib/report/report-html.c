/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTML report: one self-contained page (inline CSS and SVG, no script, no
 * network: a Content-Security-Policy forbids both), readable offline and
 * printable. Every string that comes from the log goes through
 * evi_rtext_html(); the page's own text is fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "report-internal.h"

#define TABLE_ROWS 15 /* rows of each summary table; the JSON report has them all */

static const char css[] =
    ":root{--ink:#111827;--muted:#4b5563;--line:#e5e7eb;--bg:#f3f4f6;--ok:#047857;"
    "--bad:#b91c1c;--accent:#1d4ed8}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\n"
    "header.top{background:#0f172a;color:#f8fafc;padding:28px 0 24px}\n"
    ".wrap{max-width:1180px;margin:0 auto;padding:0 36px}\n"
    ".kicker{text-transform:uppercase;letter-spacing:.14em;font-size:11.5px;color:#93c5fd;"
    "font-weight:600}\n"
    "h1{margin:4px 0 18px;font-size:26px;font-weight:700;word-break:break-word}\n"
    "header dl{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:12px 28px;margin:0}\n"
    "header dt{font-size:11px;text-transform:uppercase;letter-spacing:.08em;color:#94a3b8}\n"
    "header dd{margin:2px 0 0;font-size:13.5px;word-break:break-word}\n"
    "main{padding:8px 0 40px}\n"
    ".status{margin:22px 0 6px;padding:14px 18px;border-radius:10px;font-weight:600}\n"
    ".status.ok{background:#ecfdf5;color:var(--ok);border:1px solid #a7f3d0}\n"
    ".status.fail{background:#fef2f2;color:var(--bad);border:2px solid #ef4444;font-size:17px}\n"
    ".status .why{display:block;font-weight:400;font-size:13.5px;color:#7f1d1d;margin-top:4px;"
    "word-break:break-word}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(100px,1fr));gap:12px;"
    "margin:18px 0}\n"
    ".card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px;"
    "display:flex;flex-direction:column;justify-content:space-between}\n"
    ".card .label{font-size:12px;line-height:1.3;color:var(--muted)}\n"
    ".card .value{font-size:26px;font-weight:700;font-variant-numeric:tabular-nums}\n"
    ".card.alert .value{color:var(--bad)}\n"
    "section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:20px 24px;"
    "margin:16px 0}\n"
    "h2{font-size:17px;margin:0 0 4px}\n"
    "h3{font-size:13px;margin:14px 0 6px;color:var(--muted);text-transform:uppercase;"
    "letter-spacing:.06em}\n"
    "p.note{margin:0 0 12px;color:var(--muted);font-size:13px}\n"
    ".grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:28px}\n"
    "table{width:100%;border-collapse:collapse;font-size:13px}\n"
    "th{text-align:left;font-weight:600;color:var(--muted);border-bottom:2px solid var(--line);"
    "padding:6px 8px;font-size:12px}\n"
    "td{border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top;"
    "overflow-wrap:break-word}\n"
    "td code{overflow-wrap:break-word}\n"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".nowrap{white-space:nowrap}\n"
    ".badge{display:inline-block;padding:1px 8px;border-radius:999px;color:#fff;font-size:11.5px;"
    "font-weight:600;white-space:nowrap}\n"
    ".chip{display:inline-block;padding:0 6px;margin:1px 2px;border-radius:4px;background:#fee2e2;"
    "color:#991b1b;font-size:12px}\n"
    "pre{background:#f8fafc;border:1px solid var(--line);border-radius:6px;padding:12px;"
    "white-space:pre-wrap;word-break:break-all;font:12.5px/1.45 ui-monospace,SFMono-Regular,"
    "Menlo,Consolas,monospace;margin:0}\n"
    "code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}\n"
    "dl.kv{display:grid;grid-template-columns:210px minmax(0,1fr);gap:6px 16px;margin:0}\n"
    "dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-word}\n"
    ".ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}.muted{color:var(--muted)}\n"
    "a.dl{display:inline-block;margin-top:8px;font-size:13px;color:var(--accent)}\n"
    "footer{color:var(--muted);font-size:12px;padding:0 0 32px}\n"
    "@media (max-width:800px){header dl,.grid2{grid-template-columns:1fr}}\n"
    "@media print{body{background:#fff;font-size:10pt}header.top{background:#fff;color:#000;"
    "border-bottom:2px solid #000;padding:0 0 10px}.wrap{max-width:none;padding:0}"
    "header dt,.kicker{color:#374151}section,.card,.status{break-inside:avoid}"
    "section{border-color:#d1d5db}tr{break-inside:avoid}.noprint{display:none}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}@page{margin:14mm}}\n";

static void esc(struct evi_rtext *t, const char *s)
{
    evi_rtext_html(t, s);
}

static void card(struct evi_rtext *t, const char *id, const char *label, uint64_t value, bool alert)
{
    evi_rtext_printf(t,
                     "<div class=\"card%s\"><div class=\"label\">%s</div>"
                     "<div class=\"value\" id=\"%s\">%llu</div></div>\n",
                     alert && value > 0 ? " alert" : "", label, id, (unsigned long long)value);
}

static void badge(struct evi_rtext *t, int severity)
{
    evi_rtext_printf(t, "<span class=\"badge\" style=\"background:%s\">%s</span>",
                     evi_rep_severity_color(severity),
                     severity >= 0 ? ev_severity_name(severity) : "unknown");
}

static void when(struct evi_rtext *t, bool set, int64_t ns, const char *unset)
{
    char ts[32];
    evi_rep_time_short(ns, ts);
    evi_rtext_puts(t, set ? ts : unset);
}

/* A table of names and counts (top TABLE_ROWS), with what did not fit. */
static void count_table(struct evi_rtext *t, const char *title, const char *column,
                        const struct evi_rep_table *tab, const char *id)
{
    const struct evi_rep_count **sorted = evi_rep_table_sorted(tab, false);

    if (sorted == NULL) {
        t->error = -ENOMEM;
        return;
    }
    evi_rtext_printf(t,
                     "<div><h3>%s</h3><table id=\"%s\"><thead><tr><th>%s</th>"
                     "<th class=\"num\">Events</th></tr></thead><tbody>\n",
                     title, id, column);
    if (tab->len == 0) {
        evi_rtext_puts(t, "<tr><td class=\"muted\" colspan=\"2\">none</td></tr>\n");
    }
    for (size_t i = 0; i < tab->len && i < TABLE_ROWS; i++) {
        evi_rtext_puts(t, "<tr><td>");
        esc(t, sorted[i]->key);
        evi_rtext_printf(t, "</td><td class=\"num\">%llu</td></tr>\n",
                         (unsigned long long)sorted[i]->count);
    }
    if (tab->len > TABLE_ROWS) {
        evi_rtext_printf(t,
                         "<tr><td class=\"muted\" colspan=\"2\">%zu more not shown (see the JSON "
                         "report)</td></tr>\n",
                         tab->len - TABLE_ROWS);
    }
    if (tab->other > 0) {
        evi_rtext_printf(t,
                         "<tr><td class=\"muted\">other (over %d distinct names)</td>"
                         "<td class=\"num\">%llu</td></tr>\n",
                         EV_SUMMARY_MAX_KEYS, (unsigned long long)tab->other);
    }
    evi_rtext_puts(t, "</tbody></table></div>\n");
    free(sorted);
}

static void header(struct evi_rtext *t, const struct ev_report *r)
{
    const struct ev_summary *s = r->summary;
    char ts[32];

    evi_rtext_puts(t, "<header class=\"top\"><div class=\"wrap\">\n"
                      "<div class=\"kicker\">evident &middot; security audit report</div>\n<h1>");
    esc(t, r->origin);
    evi_rtext_puts(t, "</h1>\n<dl>\n<div><dt>Log origin</dt><dd id=\"origin\">");
    esc(t, r->origin);
    evi_rtext_puts(t, "</dd></div>\n<div><dt>Time window</dt><dd id=\"window\">");
    if (r->since_ns == 0 && r->until_ns == 0) {
        evi_rtext_puts(t, "whole log");
    } else {
        when(t, r->since_ns != 0, r->since_ns, "beginning");
        evi_rtext_puts(t, " &ndash; ");
        when(t, r->until_ns != 0, r->until_ns, "end");
    }
    if (s->any_event) {
        evi_rtext_puts(t, "<br><span style=\"color:#94a3b8\">events ");
        when(t, true, s->first_ns, "");
        evi_rtext_puts(t, " &ndash; ");
        when(t, true, s->last_ns, "");
        evi_rtext_puts(t, "</span>");
    }
    evi_rtext_printf(t,
                     "</dd></div>\n<div><dt>Entries covered</dt><dd>0 &ndash; %llu "
                     "(<span id=\"tree-size\">%llu</span> entries, %s)",
                     (unsigned long long)(r->tree_size > 0 ? r->tree_size - 1 : 0),
                     (unsigned long long)r->tree_size,
                     r->checkpoint_valid ? "signed checkpoint" : "checkpoint NOT verified");
    if (s->to != r->tree_size) {
        evi_rtext_printf(t,
                         "<br><span style=\"color:#fca5a5\">numbers cover only entries 0 "
                         "&ndash; %llu, before the damage</span>",
                         (unsigned long long)(s->to > 0 ? s->to - 1 : 0));
    }
    evi_rtext_puts(t, "</dd></div>\n");
    evi_rep_time_short(r->generated_ns, ts);
    evi_rtext_printf(t, "<div><dt>Generated</dt><dd id=\"generated\">%s</dd></div>\n", ts);
    evi_rtext_puts(t, "</dl>\n</div></header>\n");
}

static void status(struct evi_rtext *t, const struct ev_report *r)
{
    struct evi_rtext why = {0};

    if (ev_report_verified(r)) {
        evi_rtext_printf(t,
                         "<div class=\"status ok\" id=\"status\">&#10004; Log verified: "
                         "every record, seal and signed checkpoint checks out%s.</div>\n",
                         r->verification.tags_checked ? ", forward-secure tags included"
                                                      : " (tags not checked: no verification key)");
        return;
    }
    evi_rep_status(&why, r);
    evi_rtext_puts(t, "<div class=\"status fail\" id=\"status\">&#10008; VERIFICATION FAILED "
                      "&mdash; the log has been damaged or tampered with; do not rely on the "
                      "numbers below<span class=\"why\" id=\"failure\">");
    esc(t, why.data != NULL ? why.data : "");
    evi_rtext_puts(t, "</span></div>\n");
    if (why.error != 0) {
        t->error = why.error;
    }
    evi_rtext_free(&why);
}

static void cards(struct evi_rtext *t, const struct ev_summary *s)
{
    uint64_t urgent =
        s->severity[EV_SEV_EMERGENCY] + s->severity[EV_SEV_ALERT] + s->severity[EV_SEV_CRITICAL];
    evi_rtext_puts(t, "<div class=\"cards\">\n");
    card(t, "total-events", "Security events", s->events, false);
    card(t, "notable-events", "Notable events", s->notable_total, true);
    card(t, "urgent-events", "Critical or worse", urgent, true);
    card(t, "error-events", "Errors", s->severity[EV_SEV_ERROR], true);
    card(t, "warning-events", "Warnings", s->severity[EV_SEV_WARNING], true);
    card(t, "high-findings", "High/critical findings",
         s->findings_by_severity[EVI_FSEV_CRITICAL] + s->findings_by_severity[EVI_FSEV_HIGH], true);
    card(t, "risky-containers", "Risky containers", s->containers_risky, true);
    card(t, "violations", "Resource violations", s->violations, false);
    card(t, "seals", "Seals (integrity)", s->seals, false);
    evi_rtext_puts(t, "</div>\n");
}

static void charts(struct evi_rtext *t, const struct ev_summary *s)
{
    evi_rtext_printf(t,
                     "<section id=\"activity\"><h2>Activity over time</h2>\n"
                     "<p class=\"note\">Security events per %s, UTC%s.</p>\n",
                     evi_rep_bucket_name(s->bucket_unit),
                     s->bucket_unit != EVI_BUCKET_HOUR
                         ? " (the window spans too many hours for one bar per hour)"
                         : "");
    evi_rep_svg_timeline(t, s);
    evi_rtext_puts(t, "</section>\n");

    evi_rtext_puts(t, "<section id=\"breakdown\"><h2>Breakdown</h2>\n"
                      "<p class=\"note\">Seals are the log's own integrity entries and are not "
                      "counted as events.</p>\n<div class=\"grid2\">\n<div>");
    evi_rep_svg_severity(t, s);
    evi_rtext_puts(t, "<table id=\"by-severity\"><thead><tr><th>Severity</th>"
                      "<th class=\"num\">Events</th></tr></thead><tbody>\n");
    for (int i = 0; i <= EV_SEV_DEBUG; i++) {
        evi_rtext_puts(t, "<tr><td>");
        badge(t, i);
        evi_rtext_printf(t, "</td><td class=\"num\" id=\"sev-%s\">%llu</td></tr>\n",
                         ev_severity_name(i), (unsigned long long)s->severity[i]);
    }
    if (s->severity_unknown > 0) {
        evi_rtext_printf(t, "<tr><td>unknown</td><td class=\"num\">%llu</td></tr>\n",
                         (unsigned long long)s->severity_unknown);
    }
    evi_rtext_puts(t, "</tbody></table></div>\n<div>");
    evi_rep_svg_types(t, s);
    count_table(t, "By type", "Type", &s->types, "by-type");
    evi_rtext_puts(t, "</div>\n</div>\n<div class=\"grid2\">\n");
    count_table(t, "By source (program, else host)", "Source", &s->sources, "by-source");
    count_table(t, "By outcome", "Outcome", &s->outcomes, "by-outcome");
    evi_rtext_puts(t, "</div>\n</section>\n");
}

static void findings(struct evi_rtext *t, const struct ev_summary *s)
{
    const struct evi_rep_count **rules = evi_rep_table_sorted(&s->rules, true);
    const struct evi_rep_count **kinds = evi_rep_table_sorted(&s->violation_kinds, false);

    if (rules == NULL || kinds == NULL) {
        t->error = -ENOMEM;
        free(rules);
        free(kinds);
        return;
    }
    evi_rtext_printf(t,
                     "<section id=\"findings\"><div class=\"grid2\">\n<div><h2>Security "
                     "assessments</h2>\n<p class=\"note\">%llu scans, %llu findings in "
                     "total.%s</p>\n<table><thead><tr>",
                     (unsigned long long)s->assessments, (unsigned long long)s->findings_total,
                     s->findings_truncated_scans > 0
                         ? " Some scans kept only part of their findings list: rules below "
                           "count the findings kept."
                         : "");
    for (int i = 0; i < EVI_FSEV_N; i++) {
        evi_rtext_printf(t, "<th class=\"num\">%s</th>", evi_rep_finding_names[i]);
    }
    evi_rtext_puts(t, "</tr></thead><tbody><tr>");
    for (int i = 0; i < EVI_FSEV_N; i++) {
        evi_rtext_printf(t, "<td class=\"num\" id=\"findings-%s\">%llu</td>",
                         evi_rep_finding_names[i], (unsigned long long)s->findings_by_severity[i]);
    }
    evi_rtext_puts(t, "</tr></tbody></table>\n<h3>Top findings by rule</h3>\n<table "
                      "id=\"rules\"><thead><tr><th>Severity</th><th>Rule</th><th "
                      "class=\"num\">Findings</th></tr></thead><tbody>\n");
    if (s->rules.len == 0) {
        evi_rtext_puts(t, "<tr><td class=\"muted\" colspan=\"3\">none</td></tr>\n");
    }
    for (size_t i = 0; i < s->rules.len && i < TABLE_ROWS; i++) {
        evi_rtext_printf(t, "<tr><td>%s</td><td><code>",
                         rules[i]->rank < EVI_FSEV_N ? evi_rep_finding_names[rules[i]->rank]
                                                     : "unknown");
        esc(t, rules[i]->key);
        evi_rtext_printf(t, "</code></td><td class=\"num\">%llu</td></tr>\n",
                         (unsigned long long)rules[i]->count);
    }
    if (s->rules.len > TABLE_ROWS) {
        evi_rtext_printf(
            t, "<tr><td class=\"muted\" colspan=\"3\">%zu more rules not shown</td></tr>\n",
            s->rules.len - TABLE_ROWS);
    }
    evi_rtext_printf(t,
                     "</tbody></table></div>\n<div><h2>Resource violations</h2>\n<p "
                     "class=\"note\">%llu violations, by resource and action.</p>\n"
                     "<table id=\"violations-table\"><thead><tr><th>Resource</th><th>Action</th>"
                     "<th class=\"num\">Events</th></tr></thead><tbody>\n",
                     (unsigned long long)s->violations);
    if (s->violation_kinds.len == 0) {
        evi_rtext_puts(t, "<tr><td class=\"muted\" colspan=\"3\">none</td></tr>\n");
    }
    for (size_t i = 0; i < s->violation_kinds.len && i < TABLE_ROWS; i++) {
        evi_rtext_puts(t, "<tr><td>");
        esc(t, kinds[i]->key);
        evi_rtext_printf(t, "</td><td class=\"%s\">%s</td><td class=\"num\">%llu</td></tr>\n",
                         kinds[i]->rank == 2 || kinds[i]->rank == 3 ? "bad" : "",
                         evi_rep_action_names[kinds[i]->rank], (unsigned long long)kinds[i]->count);
    }
    evi_rtext_puts(t, "</tbody></table>\n");
    count_table(t, "Container risks", "Risk", &s->risks, "risks");
    evi_rtext_puts(t, "</div>\n</div></section>\n");
    free(rules);
    free(kinds);
}

static void containers(struct evi_rtext *t, const struct ev_summary *s)
{
    evi_rtext_printf(t,
                     "<section id=\"containers\"><h2>Containers with risky settings</h2>\n"
                     "<p class=\"note\">%llu containers created, %llu with risky settings.</p>\n",
                     (unsigned long long)s->containers, (unsigned long long)s->containers_risky);
    if (s->risky_len == 0) {
        evi_rtext_puts(t, "</section>\n");
        return;
    }
    evi_rtext_puts(t,
                   "<table><thead><tr><th class=\"num\">Entry</th><th>Time</th><th>Container</th>"
                   "<th>Image</th><th>Risks</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->risky_len; i++) {
        const struct evi_rep_container *c = &s->risky[i];
        char ts[32];
        evi_rep_time(c->ts_ns, ts);
        evi_rtext_printf(t, "<tr><td class=\"num\">%llu</td><td class=\"nowrap\">%s</td><td>",
                         (unsigned long long)c->index, ts);
        esc(t, c->name[0] ? c->name : c->container_id);
        evi_rtext_puts(t, "</td><td><code>");
        esc(t, c->image);
        evi_rtext_puts(t, "</code></td><td>");
        for (const char *p = c->risks; *p != '\0';) {
            size_t n = strcspn(p, ",");
            char risk[EV_SUMMARY_KEY_MAX + 1];
            (void)snprintf(risk, sizeof(risk), "%.*s",
                           (int)(n < EV_SUMMARY_KEY_MAX ? n : EV_SUMMARY_KEY_MAX), p);
            evi_rtext_puts(t, "<span class=\"chip\">");
            esc(t, risk);
            evi_rtext_puts(t, "</span>");
            p += n + (p[n] == ',');
        }
        evi_rtext_puts(t, "</td></tr>\n");
    }
    evi_rtext_puts(t, "</tbody></table>\n");
    if (s->containers_risky > s->risky_len) {
        evi_rtext_printf(t, "<p class=\"note\">%llu more not shown.</p>\n",
                         (unsigned long long)(s->containers_risky - s->risky_len));
    }
    evi_rtext_puts(t, "</section>\n");
}

static void notable(struct evi_rtext *t, const struct ev_summary *s)
{
    const struct evi_rep_notable **rows = evi_rep_summary_notable_sorted(s);

    if (rows == NULL) {
        t->error = -ENOMEM;
        return;
    }
    evi_rtext_printf(t,
                     "<section id=\"notable\"><h2>Notable events</h2>\n<p class=\"note\">Severity "
                     "warning or worse, scans with high or critical findings, containers with "
                     "risky settings, resource violations killed or denied. %llu in total",
                     (unsigned long long)s->notable_total);
    if (s->notable_total > s->notable_len) {
        evi_rtext_printf(t, "; the %zu most severe are shown", s->notable_len);
    }
    evi_rtext_puts(t, ", in log order.</p>\n");
    evi_rtext_puts(t, "<table id=\"notable-table\"><thead><tr><th class=\"num\">Entry</th>"
                      "<th>Time (UTC)</th><th>Severity</th><th>Type</th><th>Source</th>"
                      "<th>Why</th><th>Detail</th></tr></thead><tbody>\n");
    if (s->notable_len == 0) {
        evi_rtext_puts(t, "<tr><td class=\"muted\" colspan=\"7\">none</td></tr>\n");
    }
    for (size_t i = 0; i < s->notable_len; i++) {
        const struct evi_rep_notable *n = rows[i];
        struct evi_rtext why = {0};
        char ts[32];
        evi_rep_time(n->ts_ns, ts);
        evi_rtext_printf(t, "<tr><td class=\"num\">%llu</td><td class=\"nowrap\">%s</td><td>",
                         (unsigned long long)n->index, ts);
        badge(t, n->severity);
        evi_rtext_puts(t, "</td><td><code>");
        esc(t, n->type);
        evi_rtext_puts(t, "</code></td><td>");
        esc(t, n->source);
        evi_rtext_puts(t, "</td><td>");
        evi_rep_notable_reasons(&why, n->reasons);
        esc(t, why.data != NULL ? why.data : "");
        evi_rtext_free(&why);
        evi_rtext_puts(t, "</td><td>");
        esc(t, n->detail);
        evi_rtext_puts(t, "</td></tr>\n");
    }
    evi_rtext_puts(t, "</tbody></table>\n");
    if (s->notable_total > s->notable_len) {
        evi_rtext_printf(t, "<p class=\"note\" id=\"not-shown\">%llu more not shown.</p>\n",
                         (unsigned long long)(s->notable_total - s->notable_len));
    }
    evi_rtext_puts(t, "</section>\n");
    free(rows);
}

static void kv(struct evi_rtext *t, const char *key, const char *html_value)
{
    evi_rtext_printf(t, "<dt>%s</dt><dd>%s</dd>\n", key, html_value);
}

static void integrity(struct evi_rtext *t, const struct ev_report *r)
{
    const struct ev_verify_report *v = &r->verification;
    struct evi_rtext x = {0};
    bool verified = ev_report_verified(r);

    evi_rtext_puts(t, "<section id=\"integrity\"><h2>Integrity</h2>\n<p class=\"note\">This "
                      "report covers exactly the entries of the signed checkpoint below. The "
                      "verifier was run over the log directory with that checkpoint as a "
                      "trusted one.</p>\n<dl class=\"kv\">\n");
    evi_rtext_printf(t, "<dt>Result</dt><dd class=\"%s\" id=\"verification\">",
                     verified ? "ok" : "bad");
    evi_rep_status(&x, r);
    esc(t, x.data != NULL ? x.data : "");
    evi_rtext_free(&x);
    evi_rtext_puts(t, "</dd>\n");
    evi_rtext_printf(&x, "%llu", (unsigned long long)r->tree_size);
    kv(t, "Checkpoint tree size", x.data != NULL ? x.data : "");
    evi_rtext_free(&x);
    if (r->checkpoint_valid) {
        char root[64];
        (void)evi_base64_encode(r->checkpoint.root, EV_HASH_BYTES, root, sizeof(root));
        evi_rtext_printf(t, "<dt>Checkpoint root</dt><dd><code>%s</code></dd>\n", root);
    }
    evi_rtext_printf(t, "<dt>Entries verified</dt><dd>%llu records read",
                     (unsigned long long)v->entries);
    evi_rtext_printf(t, ", %lu epochs sealed, %llu seals in the covered range</dd>\n",
                     (unsigned long)v->epochs_sealed, (unsigned long long)r->summary->seals);
    kv(t, "Forward-secure tags",
       v->tags_checked ? "checked with the verification key"
                       : "not checked (no --verification-key-file)");
    evi_rtext_puts(t, "<dt>Public key</dt><dd><code id=\"pubkey\">");
    esc(t, r->vkey);
    evi_rtext_printf(t, "</code><br><span class=\"muted\">%s</span></dd>\n",
                     r->key_pinned ? "pinned by the operator (--pubkey)"
                                   : "the key recorded in the log: compare it with the one its "
                                     "owner published");
    evi_rtext_puts(t, "</dl>\n<h3>Signed checkpoint</h3>\n");
    if (r->checkpoint_note != NULL) {
        evi_rtext_puts(t, "<pre id=\"checkpoint\">");
        evi_rtext_html_pre(t, r->checkpoint_note);
        evi_rtext_puts(t, "</pre>\n");
        size_t b64_len = evi_base64_encoded_len(r->checkpoint_len);
        char *b64 = malloc(b64_len + 1);
        if (b64 == NULL) {
            t->error = -ENOMEM;
        } else {
            (void)evi_base64_encode(r->checkpoint_note, r->checkpoint_len, b64, b64_len + 1);
            evi_rtext_printf(t,
                             "<a class=\"dl noprint\" download=\"checkpoint.txt\" "
                             "href=\"data:text/plain;base64,%s\">Save checkpoint.txt</a>\n",
                             b64);
            free(b64);
        }
    } else {
        evi_rtext_puts(t, "<p class=\"bad\">The log has no signed checkpoint.</p>\n");
    }
    evi_rtext_puts(t, "<h3>How to re-check this report</h3>\n<pre id=\"commands\">");
    evi_rep_commands(&x, r);
    evi_rtext_html_pre(t, x.data != NULL ? x.data : "");
    if (x.error != 0) {
        t->error = x.error;
    }
    evi_rtext_free(&x);
    evi_rtext_puts(t, "</pre>\n</section>\n");
}

int evi_rep_html(const struct ev_report *r, struct evi_rtext *t)
{
    char ts[32];

    evi_rtext_puts(t, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                      "style-src 'unsafe-inline'; img-src data:\">\n"
                      "<meta name=\"generator\" content=\"evident " EV_REPORT_FORMAT "\">\n"
                      "<title>Security audit report &ndash; ");
    esc(t, r->origin);
    evi_rtext_printf(t, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
    header(t, r);
    evi_rtext_puts(t, "<main><div class=\"wrap\">\n");
    status(t, r);
    cards(t, r->summary);
    charts(t, r->summary);
    findings(t, r->summary);
    containers(t, r->summary);
    notable(t, r->summary);
    integrity(t, r);
    evi_rtext_puts(t, "</div></main>\n<footer><div class=\"wrap\">");
    evi_rep_time(r->generated_ns, ts);
    evi_rtext_printf(t, "Generated %s by evident (%s). Self-contained: no scripts, no network.", ts,
                     EV_REPORT_FORMAT);
    evi_rtext_puts(t, "</div></footer>\n</body>\n</html>\n");
    return t->error;
}
