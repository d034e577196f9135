/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scanner reports in: parsing the output of security tools into typed events
 * (docs/INGEST.md) and appending them.
 *
 *   Bandit JSON (bandit -f json)          one security_assessment
 *   Semgrep JSON (semgrep --json)         one security_assessment
 *   SARIF 2.1.0 (CodeQL, Trivy, ...)      one security_assessment per run
 *   docker inspect / podman inspect       one container_creation per container
 *
 * Two steps, so that nothing is written unless the whole report is good:
 * ev_ingest_parse() reads the report into structs (any problem is an error
 * naming the file and the JSON path of the bad value, e.g.
 * "report.json: results[3].line_number: expected an integer"), and
 * ev_ingest_append() prepares every event under a policy and appends them in
 * one batch, all or nothing.
 *
 * Reports are untrusted input: sizes and counts have the limits below, JSON
 * objects with duplicate keys are refused, and every field is checked
 * against the bounds of its event field (event.h) before anything is
 * prepared. Messages longer than EV_INGEST_MESSAGE_MAX bytes are cut (at a
 * UTF-8 character boundary); any other value over its bound is an error.
 *
 * A struct ev_ingest is immutable once parsed and may be read by any number
 * of threads; it owns every string its events point to.
 */
#ifndef EVIDENT_INGEST_H
#define EVIDENT_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/event.h>
#include <evident/log.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* ---- limits -------------------------------------------------------------- */

#define EV_INGEST_MAX_BYTES (64u << 20) /* largest report accepted */
#define EV_INGEST_MAX_FINDINGS 1000000u /* findings in one report, all runs together */
#define EV_INGEST_MAX_RUNS 256u         /* SARIF runs in one report */
#define EV_INGEST_MAX_CONTAINERS 1024u  /* containers in one inspect output */
#define EV_INGEST_MESSAGE_MAX 4096u     /* a finding message is cut to this many bytes */
/*
 * The most findings one security_assessment is given (the bound of its
 * findings field, event.h): a scan with more passes its most severe that
 * many, with exact counts of all (counts_set). An entry holds far fewer
 * anyway; the library keeps the most severe that fit.
 */
#define EV_INGEST_FINDINGS_PER_EVENT 100000u

/* ---- formats ------------------------------------------------------------- */

enum ev_ingest_format {
    EV_INGEST_BANDIT = 0,
    EV_INGEST_SEMGREP,
    EV_INGEST_SARIF,
    EV_INGEST_DOCKER_INSPECT, /* also podman inspect */
    EV_INGEST_FORMAT_COUNT,
};

/*
 * "bandit", "semgrep", "sarif", "docker-inspect" ("podman-inspect" is the
 * same format). EV_EFORMAT for any other name (ev_last_error() lists them).
 */
int ev_ingest_format_parse(const char *name, enum ev_ingest_format *ret_format);

/* The name of a format as ev_ingest_format_parse() takes it; NULL if out of range. */
const char *ev_ingest_format_name(enum ev_ingest_format format);

/* ---- parsing ------------------------------------------------------------- */

/*
 * A parsed report: the events it becomes, in the order they are appended
 * (every assessment, then every container; a report has only one kind).
 * Read-only for the caller; free with ev_ingest_free().
 */
struct ev_ingest {
    enum ev_ingest_format format;
    const struct ev_security_assessment *assessments; /* bandit, semgrep, sarif */
    size_t assessment_count;
    const struct ev_container_creation *containers; /* docker-inspect */
    size_t container_count;
    /*
     * Problems the tool itself reported next to its results (the errors[]
     * of Bandit and Semgrep, SARIF invocations that did not succeed): the
     * scan may have missed something. Not stored in the events.
     */
    size_t tool_errors;
    char report_sha256[65]; /* SHA-256 of the report's bytes, lowercase hex */
    uint64_t report_bytes;  /* the report's length */
};

/*
 * Parses report (len bytes, at most EV_INGEST_MAX_BYTES) in format. name is
 * what error messages call the report (a file name; NULL: "report"). target
 * is what was scanned, stored in each security_assessment (NULL: name).
 * Every security_assessment gets the report's SHA-256 and length, and all
 * its findings with counts_set false, up to EV_INGEST_FINDINGS_PER_EVENT
 * (docs/INGEST.md has the field mapping).
 *
 * Returns 0 and *ret_ingest (caller frees it), or:
 *   EV_EFORMAT  not JSON, or not of the format's shape (ev_last_error():
 *               "NAME: PATH: what is wrong", or for bad JSON the line and
 *               column);
 *   EV_ETOOBIG  the report or one of its counts over its limit above, or a
 *               value over its field's bound;
 *   -EINVAL     a NULL argument or an unknown format;
 *   -ENOMEM.
 * Nothing is kept from data after the call returns.
 */
int ev_ingest_parse(enum ev_ingest_format format, const char *name, const char *report, size_t len,
                    const char *target, struct ev_ingest **ret_ingest);

void ev_ingest_free(struct ev_ingest *ingest);

/* assessment_count + container_count. */
size_t ev_ingest_event_count(const struct ev_ingest *ingest);

/* ---- appending ----------------------------------------------------------- */

/* What became of one event of a report. */
struct ev_ingest_result {
    bool dropped;      /* the policy drops this type or severity: not written */
    uint64_t index;    /* the entry's index, when not dropped */
    bool truncated;    /* findings cut to fit the entry (the entry says how many are kept) */
    unsigned redacted; /* secrets replaced by the sanitizer */
};

/*
 * Prepares every event of ingest under policy (NULL = the defaults) and
 * appends those the policy keeps as one ev_log_append_batch(): consecutive
 * entries, all or nothing. ret_results (may be NULL) is an array of
 * ev_ingest_event_count(ingest) entries, filled in event order; *ret_appended
 * (may be NULL) gets how many were written. Both are written only on success.
 * When the policy drops every event, nothing is written and 0 is returned
 * with *ret_appended = 0.
 *
 * Returns 0, or what ev_security_assessment_prepare() /
 * ev_container_creation_prepare() return for an event the library refuses
 * (ev_last_error() says which event: "event 2: ..."; nothing written), or
 * what ev_log_append_batch() returns.
 */
int ev_ingest_append(struct ev_log *log, const struct ev_policy *policy,
                     const struct ev_ingest *ingest, struct ev_ingest_result *ret_results,
                     size_t *ret_appended);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
