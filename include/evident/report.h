/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Security summaries and audit reports over a log.
 *
 * struct ev_summary: what a range of entries says about security, built in
 * one pass over the entries (ev_log_scan) with bounded memory whatever the
 * size of the log: counts by type, severity, source, outcome; the findings of
 * security_assessment events by rule and severity; resource violations by
 * resource and action; containers created with risky settings; events per
 * time bucket. Seals are not security events: they are counted apart, as
 * integrity information. Layout of the typed events: docs/REPORTS.md.
 *
 * Bounds (the summary says when one was reached, nothing is dropped silently):
 *   - each table of names (types, sources, rules, ...) tracks at most
 *     EV_SUMMARY_MAX_KEYS distinct names, each cut to EV_SUMMARY_KEY_MAX
 *     bytes; events with a name first seen after that count under "other";
 *   - the timeline has at most EV_SUMMARY_MAX_BUCKETS buckets: it starts with
 *     hours and switches to days, then weeks, when the window is wider;
 *   - at most EV_SUMMARY_MAX_CONTAINERS risky containers are listed and at
 *     most options.notable_rows notable events are kept (the most severe).
 *
 * struct ev_report: an audit report as evidence. ev_report_build() opens the
 * log read-only, takes its latest signed checkpoint and summarizes exactly
 * the entries [0, checkpoint tree size), then runs the verifier over the
 * directory with that checkpoint as a trusted one (so the verified records
 * are the summarized ones). The report holds the checkpoint note, the
 * verification result and the log's public key; ev_report_render() writes it
 * as one self-contained HTML page, a JSON document or Markdown.
 *
 * Every string in a report that comes from the log is treated as hostile:
 * escaped for HTML, Markdown and JSON, control characters replaced.
 *
 * Objects are immutable after they are built and may be read from several
 * threads. The library never prints; failures return a negative code
 * (include/evident/error.h) and describe themselves in ev_last_error().
 */
#ifndef EVIDENT_REPORT_H
#define EVIDENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>
#include <evident/verify.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

#define EV_SUMMARY_MAX_KEYS 256      /* distinct names tracked per table */
#define EV_SUMMARY_KEY_MAX 128       /* bytes of a name kept (cut on a UTF-8 boundary) */
#define EV_SUMMARY_MAX_BUCKETS 2000  /* timeline buckets */
#define EV_SUMMARY_MAX_CONTAINERS 50 /* risky containers listed */
#define EV_REPORT_DEFAULT_ROWS 200   /* notable events shown by default */
#define EV_REPORT_MAX_ROWS 10000     /* notable events that can be asked for */
#define EV_SUMMARY_FORMAT "evident-summary/v1"
#define EV_REPORT_FORMAT "evident-report/v1"

struct ev_summary;

struct ev_summary_options {
    int64_t since_ns;     /* only entries with ts >= since_ns (0 = no bound) */
    int64_t until_ns;     /* only entries with ts < until_ns (0 = no bound) */
    bool bounded;         /* scan entries [0, to) instead of all the handle sees */
    uint64_t to;          /* with bounded: must be <= ev_log_size() (else EV_ERANGE) */
    size_t notable_rows;  /* notable events to keep (0 = none; at most EV_REPORT_MAX_ROWS) */
    uint64_t max_entries; /* 0 = no bound; else EV_ETOOBIG once the window holds more: a
                             service bounds the work one request may ask for */
};

/*
 * Scans the entries of log (options may be NULL: all entries, no window) and
 * builds their summary into *ret_summary (caller frees with ev_summary_free()).
 * Entries whose data is not a JSON object still count by type and severity.
 * Returns 0; EV_ERANGE (bounded and to past the log's size, or since >= until
 * when both are set); EV_ETOOBIG (more than max_entries entries in the
 * window: it stops there, having read max_entries + 1); EV_ECORRUPT if a record cannot be read (run
 * the verifier); -ENOMEM; -errno on I/O failure.
 */
int ev_summary_build(struct ev_log *log, const struct ev_summary_options *options,
                     struct ev_summary **ret_summary);

/*
 * Extends summary (built by ev_summary_build(), same window) with the entries
 * [its to, to): the result is what ev_summary_build() up to `to` gives, for
 * the cost of the new entries only. A caller that keeps a summary of a growing
 * log (evidentd's /v1/summary) extends it instead of rebuilding. Entries that
 * retention pruned since are still counted: rebuild after a pruning.
 * Returns 0; EV_ERANGE (to past the log's size, or before the summary's end);
 * the errors of ev_summary_build(). On failure the summary may hold part of the
 * new entries: free it, do not extend it again.
 */
int ev_summary_extend(struct ev_log *log, struct ev_summary *summary, uint64_t to);

void ev_summary_free(struct ev_summary *summary);

/* Security events counted (seals and entries outside the window excluded). */
uint64_t ev_summary_events(const struct ev_summary *summary);

/*
 * The summary as one JSON object ("format": EV_SUMMARY_FORMAT; schema in
 * docs/REPORTS.md), compact, keys sorted, no final newline; the same summary
 * always gives the same bytes. Caller frees *ret_text. 0 or -ENOMEM.
 */
int ev_summary_json(const struct ev_summary *summary, char **ret_text, size_t *ret_len);

/* The summary as text for a terminal (lines ending in \n). Caller frees. 0 or -ENOMEM. */
int ev_summary_text(const struct ev_summary *summary, char **ret_text, size_t *ret_len);

/* ---- reports ------------------------------------------------------------ */

enum ev_report_format {
    EV_REPORT_HTML = 0,
    EV_REPORT_JSON = 1,
    EV_REPORT_MARKDOWN = 2,
};

/* Parses "html", "json", "md" (or "markdown"). 0 or EV_EFORMAT. */
int ev_report_format_parse(const char *name, enum ev_report_format *ret_format);

struct ev_report;

struct ev_report_options {
    int64_t since_ns;                /* time window, as in ev_summary_options */
    int64_t until_ns;                /* (0 = no bound) */
    const char *pubkey;              /* pinned verifier key; NULL = the log's own */
    const uint8_t *verification_key; /* the log's 32-byte V to check tags too, or NULL */
    size_t max_rows;                 /* notable events shown; 0 = EV_REPORT_DEFAULT_ROWS */
    int64_t now_ns;                  /* "generated at" and the verifier's clock; 0 = now */
    const char *dir_label;           /* how the auditor commands name the directory;
                                        NULL = dir as given */
    struct ev_datakeys *data_keys;   /* to read encrypted entries (evident/datakey.h);
                                        without their key the build fails with EV_ENOKEY */
};

/*
 * Builds the report of the log in dir: see the top of this header. A log that
 * fails verification still gives a report (0 is returned): it says so, and
 * ev_report_verified() is false. Returns 0; EV_EBADKEY if options->pubkey is
 * malformed; EV_ERANGE for a bad window (since >= until) or max_rows over
 * EV_REPORT_MAX_ROWS; -ENOENT (no log in dir); -ENOMEM; -errno on I/O
 * failure. The caller frees *ret_report with ev_report_free().
 */
int ev_report_build(const char *dir, const struct ev_report_options *options,
                    struct ev_report **ret_report);

void ev_report_free(struct ev_report *report);

/*
 * true only if the verifier accepted the log, the checkpoint's signature is
 * valid and the summary read every entry the checkpoint covers.
 */
bool ev_report_verified(const struct ev_report *report);

/* The verifier's report (valid while report lives). */
const struct ev_verify_report *ev_report_verification(const struct ev_report *report);

/* The summary of the covered entries (valid while report lives). */
const struct ev_summary *ev_report_summary(const struct ev_report *report);

/* Entries the report covers: the checkpoint's tree size (0 without one). */
uint64_t ev_report_tree_size(const struct ev_report *report);

/*
 * Renders the report: HTML (one self-contained page: inline CSS and SVG, no
 * script, no network), JSON ("format": EV_REPORT_FORMAT, compact, keys
 * sorted, final newline) or Markdown. Caller frees *ret_text.
 * Returns 0, EV_EFORMAT for an unknown format, -ENOMEM.
 */
int ev_report_render(const struct ev_report *report, enum ev_report_format format, char **ret_text,
                     size_t *ret_len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
