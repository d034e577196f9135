/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the report parsers (bandit.c, semgrep.c, sarif.c, inspect.c):
 * the parsed report and what it owns, JSON getters that check types and
 * bounds and name the JSON path of a bad value in their errors.
 */
#ifndef EVI_INGEST_INTERNAL_H
#define EVI_INGEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/ingest.h>

/* The largest CWE number a finding takes (event.h). */
#define EVI_INGEST_CWE_MAX 1000000

/* A JSON path as messages show it: results[3].extra.metadata.cwe[0]. */
#define EVI_INGEST_PATH_MAX 256

/* The parse of one report: the public struct plus what it owns. */
struct evi_ingest {
    struct ev_ingest pub;
    json_t *root; /* strings of the events point into it */
    void **owned; /* other allocations the events point into */
    size_t owned_count, owned_cap;
    struct ev_security_assessment *assessments;
    struct ev_container_creation *containers;
    size_t finding_total; /* findings of every run so far, against EV_INGEST_MAX_FINDINGS */

    const char *name; /* the report, for messages */
    char path[EVI_INGEST_PATH_MAX];
    size_t path_len;
};

/* The format parsers: fill in->pub from in->root. 0 or a negative code (evi_error set). */
int evi_ingest_bandit(struct evi_ingest *in);
int evi_ingest_semgrep(struct evi_ingest *in);
int evi_ingest_sarif(struct evi_ingest *in);
int evi_ingest_inspect(struct evi_ingest *in);

/* ---- owning memory ------------------------------------------------------- */

/* calloc(n, size) owned by in (freed with it); NULL on overflow or no memory. */
void *evi_ingest_alloc(struct evi_ingest *in, size_t n, size_t size);
/* A NUL-terminated copy of len bytes of s, owned by in. */
char *evi_ingest_strndup(struct evi_ingest *in, const char *s, size_t len);

/* ---- the JSON path ------------------------------------------------------- */

/* Appends ".key" (or "key" at the top) / "[i]" to the path; returns the mark to pop to. */
size_t evi_ingest_push_key(struct evi_ingest *in, const char *key);
size_t evi_ingest_push_index(struct evi_ingest *in, size_t index);
void evi_ingest_pop(struct evi_ingest *in, size_t mark);

/*
 * Records "NAME: PATH: MESSAGE" (or "NAME: MESSAGE" at the top) for
 * ev_last_error() and returns code.
 */
int evi_ingest_fail(struct evi_ingest *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same with key appended to the path (the member being read). */
int evi_ingest_fail_at(struct evi_ingest *in, const char *key, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- getters ------------------------------------------------------------- */

/*
 * Each reads member key of object obj (a JSON null counts as absent),
 * checks it, and writes *ret: NULL / unset when absent and not required.
 * A required member that is absent, or one of the wrong type or out of
 * bounds, is an error naming its path. Strings longer than max bytes are
 * EV_ETOOBIG (max 0: no limit); a required string must not be empty.
 */
int evi_ingest_object(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                      json_t **ret);
int evi_ingest_array(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                     json_t **ret);
int evi_ingest_string(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                      size_t max, const char **ret);
int evi_ingest_int(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                   int64_t min, int64_t max, struct ev_opt_int *ret);
int evi_ingest_bool(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                    struct ev_opt_bool *ret);

/* A message: a string, cut to EV_INGEST_MESSAGE_MAX bytes at a character boundary. */
int evi_ingest_message(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                       const char **ret);

/* s (may be NULL) as a message: itself, or a copy cut as evi_ingest_message() cuts. */
int evi_ingest_cut(struct evi_ingest *in, const char *s, const char **ret);

/* A string array of at most max_items strings of at most max bytes each. */
int evi_ingest_strings(struct evi_ingest *in, const json_t *obj, const char *key, size_t max_items,
                       size_t max, struct ev_strings *ret);

/*
 * The member of obj named key that is one of the names (compared ignoring
 * ASCII case); *ret gets its position. Error lists the names.
 */
int evi_ingest_choice(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                      const char *const *names, size_t count, size_t *ret, bool *ret_present);

/* ---- shared meanings ----------------------------------------------------- */

/*
 * A CWE number from "CWE-78", "CWE-78: Improper ...", "cwe-078" or
 * "external/cwe/cwe-078" (case ignored). 0 if text is none of those.
 */
int64_t evi_ingest_cwe(const char *text);

/*
 * Call when an assessment's findings are complete: a scan with more than
 * EV_INGEST_FINDINGS_PER_EVENT keeps the most severe that many (report order
 * within a severity) and gets exact counts (counts_set) of them all.
 */
int evi_ingest_assessment_done(struct evi_ingest *in, struct ev_security_assessment *a);

/* Adds count findings to the report's total; EV_ETOOBIG past EV_INGEST_MAX_FINDINGS. */
int evi_ingest_count_findings(struct evi_ingest *in, size_t count);

#endif
