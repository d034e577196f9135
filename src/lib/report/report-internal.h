/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the files of src/lib/report: the summary's tables (summary.c),
 * the text buffer with escaping for HTML and Markdown (textbuf.c), the SVG
 * charts (svg.c), the report object (report.c) and its renderers
 * (report-html.c, report-json.c, report-md.c).
 */
#ifndef EVI_REPORT_INTERNAL_H
#define EVI_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>
#include <evident/note.h>
#include <evident/report.h>
#include <evident/verify.h>

#include "jsonw.h"

/* ---- text buffer ---------------------------------------------------------- */

/* A growable text; errors are sticky (every later write is a no-op). */
struct evi_rtext {
    char *data;
    size_t len, cap;
    int error; /* 0 or -ENOMEM */
};

void evi_rtext_add(struct evi_rtext *t, const char *s, size_t len);
void evi_rtext_puts(struct evi_rtext *t, const char *s);
void evi_rtext_printf(struct evi_rtext *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s escaped for HTML text and attribute values; control characters become U+FFFD. */
void evi_rtext_html(struct evi_rtext *t, const char *s);
/* The same, keeping newlines (for <pre>). */
void evi_rtext_html_pre(struct evi_rtext *t, const char *s);
/* s escaped for Markdown inline text and table cells (HTML entities for <>&, \ before
 * Markdown punctuation, newlines as spaces). */
void evi_rtext_md(struct evi_rtext *t, const char *s);
/* s padded with spaces to width columns (counted in code points). */
void evi_rtext_pad(struct evi_rtext *t, const char *s, size_t width);
/* Hands the text to the caller (NUL-terminated), or frees it and returns the error. */
int evi_rtext_finish(struct evi_rtext *t, char **ret_text, size_t *ret_len);
void evi_rtext_free(struct evi_rtext *t);

/* The longest prefix of s (at most max bytes) ending on a UTF-8 character boundary. */
size_t evi_rep_utf8_prefix(const char *s, size_t len, size_t max);

/* "2026-11-27T09:00:00Z" (seconds) into out[32]. */
void evi_rep_time(int64_t ns, char out[32]);
/* "2026-11-27 09:00 UTC" (minutes) into out[32]. */
void evi_rep_time_short(int64_t ns, char out[32]);

/* ---- summary -------------------------------------------------------------- */

/* One name of a table with its count; rank qualifies the name (see summary.c). */
struct evi_rep_count {
    char *key;
    int rank;
    uint64_t count;
};

#define EVI_TABLE_SLOTS 512 /* > 2 * EV_SUMMARY_MAX_KEYS: open addressing stays short */

struct evi_rep_table {
    struct evi_rep_count items[EV_SUMMARY_MAX_KEYS];
    size_t len;
    uint16_t slots[EVI_TABLE_SLOTS]; /* item index + 1, 0 = free */
    uint64_t other;                  /* counts of names that did not fit */
};

/* The items sorted by count (descending), then rank, then key; caller frees the array. */
const struct evi_rep_count **evi_rep_table_sorted(const struct evi_rep_table *t,
                                                  bool by_rank_first);

struct evi_rep_container {
    uint64_t index;
    int64_t ts_ns;
    char *container_id, *name, *image, *risks; /* risks: comma-separated */
};

/* Why an event is notable. */
enum evi_reason {
    EVI_REASON_SEVERITY = 0, /* severity warning or worse */
    EVI_REASON_FINDINGS = 1, /* high or critical findings */
    EVI_REASON_CONTAINER = 2,
    EVI_REASON_VIOLATION = 3, /* action killed or denied */
};

struct evi_rep_notable {
    uint64_t index;
    int64_t ts_ns;
    int severity; /* the envelope's; -1 if unknown */
    int rank;     /* effective severity used to pick the rows kept */
    unsigned reasons;
    char *type, *source, *detail;
};

enum { EVI_FSEV_CRITICAL, EVI_FSEV_HIGH, EVI_FSEV_MEDIUM, EVI_FSEV_LOW, EVI_FSEV_INFO, EVI_FSEV_N };

/* Timeline bucket widths, each a multiple of the one before. */
enum { EVI_BUCKET_HOUR, EVI_BUCKET_DAY, EVI_BUCKET_WEEK, EVI_BUCKET_4WEEKS, EVI_BUCKET_52WEEKS };

struct ev_summary {
    int64_t since_ns, until_ns;
    uint64_t to; /* entries [0, to) were read */

    uint64_t entries; /* in the window, seals included */
    uint64_t events;  /* security events: entries other than the log's own */
    uint64_t seals, retention_marks;
    uint64_t malformed; /* entries whose JSON could not be read (counted as events) */
    bool any_event;
    int64_t first_ns, last_ns;

    uint64_t severity[EV_SEV_DEBUG + 1];
    uint64_t severity_unknown;
    struct evi_rep_table types, sources, outcomes;

    uint64_t assessments, findings_total, findings_truncated_scans;
    uint64_t findings_by_severity[EVI_FSEV_N];
    struct evi_rep_table rules; /* key rule_id, rank finding severity (EVI_FSEV_*) */

    uint64_t violations;
    struct evi_rep_table violation_kinds; /* key resource, rank action (0..3, 4 other) */

    uint64_t containers, containers_risky;
    struct evi_rep_table risks;
    struct evi_rep_container risky[EV_SUMMARY_MAX_CONTAINERS];
    size_t risky_len;

    uint64_t notable_total;
    size_t notable_max;
    struct evi_rep_notable *notable; /* notable_max slots */
    size_t notable_len;
    size_t notable_worst; /* slot of the least severe row, when notable_worst_known */
    bool notable_worst_known;

    int bucket_unit; /* EVI_BUCKET_* */
    bool any_bucket;
    int64_t bucket_lo, bucket_hi; /* bucket numbers (ts / width) */
    uint64_t *buckets;            /* bucket_hi - bucket_lo + 1 counts */
};

extern const char *const evi_rep_finding_names[EVI_FSEV_N];
extern const char *const evi_rep_action_names[5];

int64_t evi_rep_bucket_seconds(int unit);
const char *evi_rep_bucket_name(int unit); /* "hour", "day", "week", "4 weeks", "52 weeks" */

/* The notable rows sorted by index; caller frees the array. */
const struct evi_rep_notable **evi_rep_summary_notable_sorted(const struct ev_summary *s);

/* Writes the summary object into w (shared by ev_summary_json and the JSON report). */
void evi_rep_summary_write_json(const struct ev_summary *s, struct evi_jsonw *w);
/* Names the notable reasons: "severity, high findings" into t (plain text). */
void evi_rep_notable_reasons(struct evi_rtext *t, unsigned reasons);

/* ---- charts --------------------------------------------------------------- */

/* Severity colours, shared by the HTML legend and the SVG. */
const char *evi_rep_severity_color(int severity);

void evi_rep_svg_timeline(struct evi_rtext *t, const struct ev_summary *s);
void evi_rep_svg_severity(struct evi_rtext *t, const struct ev_summary *s);
void evi_rep_svg_types(struct evi_rtext *t, const struct ev_summary *s);

/* ---- report --------------------------------------------------------------- */

struct ev_report {
    char *dir_label;
    char origin[256];
    char vkey[512]; /* the key checked with (the pinned one, else the log's) */
    char log_vkey[512];
    bool key_pinned;
    int64_t generated_ns;
    int64_t since_ns, until_ns;

    char *checkpoint_note; /* NULL if the log has none */
    size_t checkpoint_len;
    bool checkpoint_valid; /* signature and body checked with vkey */
    struct ev_checkpoint checkpoint;
    uint64_t tree_size; /* entries covered */

    int verify_result; /* 0 or EV_EVERIFY */
    struct ev_verify_report verification;
    char problem[512]; /* why the report is not verified beyond the verifier's report */

    struct ev_summary *summary;
    bool summary_complete;
};

/* Shell-quotes s ('...' with '\'' for quotes) into t. */
void evi_rtext_shell(struct evi_rtext *t, const char *s);

/* The auditor's commands, one per line, in t (plain text; the renderers escape it). */
void evi_rep_commands(struct evi_rtext *t, const struct ev_report *r);

/* One-line status: "verified" or "FAILED: ...". */
void evi_rep_status(struct evi_rtext *t, const struct ev_report *r);

int evi_rep_html(const struct ev_report *r, struct evi_rtext *t);
int evi_rep_json(const struct ev_report *r, char **ret_text, size_t *ret_len);
int evi_rep_md(const struct ev_report *r, struct evi_rtext *t);

#endif
