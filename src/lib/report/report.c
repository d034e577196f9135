/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building a report as evidence: the latest signed checkpoint fixes the
 * entries covered, [0, tree size); the verifier runs over the directory with
 * that checkpoint as a trusted one, so the records it accepts are the entries
 * summarized; the report keeps the note, the key and the verifier's result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evident/error.h>

#include "entry.h"
#include "error.h"
#include "report-internal.h"

int ev_report_format_parse(const char *name, enum ev_report_format *ret_format)
{
    if (strcmp(name, "html") == 0) {
        *ret_format = EV_REPORT_HTML;
    } else if (strcmp(name, "json") == 0) {
        *ret_format = EV_REPORT_JSON;
    } else if (strcmp(name, "md") == 0 || strcmp(name, "markdown") == 0) {
        *ret_format = EV_REPORT_MARKDOWN;
    } else {
        return evi_error(EV_EFORMAT, "unknown report format '%s' (html, json, md)", name);
    }
    return 0;
}

static void problem(struct ev_report *r, const char *what, int code)
{
    if (r->problem[0] == '\0') {
        const char *detail = ev_last_error();
        (void)snprintf(r->problem, sizeof(r->problem), "%s: %s%s%s", what, ev_strerror(code),
                       detail[0] ? ": " : "", detail);
    }
}

/* Takes the latest checkpoint and checks its signature with the report's key. */
static int take_checkpoint(struct ev_report *r, struct ev_log *log)
{
    struct ev_verifier *verifier = NULL;
    int c = ev_log_latest_checkpoint(log, &r->checkpoint_note, &r->checkpoint_len);

    if (c == -ENOENT) {
        problem(r, "no signed checkpoint", c);
        return 0;
    }
    if (c < 0) {
        return c;
    }
    c = ev_verifier_parse(r->vkey, &verifier);
    if (c < 0) {
        problem(r, "the log's public key cannot be read", c);
    } else {
        c = ev_checkpoint_open(r->checkpoint_note, r->checkpoint_len, verifier, &r->checkpoint);
        ev_verifier_free(verifier);
        if (c == 0) {
            r->checkpoint_valid = true;
            r->tree_size = r->checkpoint.tree_size;
            return 0;
        }
        problem(r, "the latest checkpoint does not verify", c);
    }
    /*
     * Unsigned, the size is no evidence, but the report of a damaged log still
     * shows what the entries it claims say (marked as not verified).
     */
    const char *body_end = strstr(r->checkpoint_note, "\n\n");
    if (body_end != NULL &&
        ev_checkpoint_parse(r->checkpoint_note, (size_t)(body_end - r->checkpoint_note) + 1,
                            &r->checkpoint) == 0) {
        r->tree_size = r->checkpoint.tree_size;
    }
    return 0;
}

static int summarize(struct ev_report *r, struct ev_log *log, const struct ev_report_options *o)
{
    struct ev_summary_options so = {
        .since_ns = o->since_ns,
        .until_ns = o->until_ns,
        .bounded = true,
        .to = r->tree_size,
        .notable_rows = o->max_rows != 0 ? o->max_rows : EV_REPORT_DEFAULT_ROWS,
    };
    int c = ev_log_refresh(log);

    if (c < 0) {
        return c;
    }
    if (ev_log_size(log) < r->tree_size) {
        (void)evi_error(EV_ETRUNCATED, "the checkpoint covers %llu entries, the log has %llu",
                        (unsigned long long)r->tree_size, (unsigned long long)ev_log_size(log));
        problem(r, "entries missing", EV_ETRUNCATED);
        so.to = ev_log_size(log);
    }
    c = ev_summary_build(log, &so, &r->summary);
    if (c == EV_ECORRUPT || c == EV_EFORMAT) {
        /* A damaged log: the numbers cover the entries before the first bad one. */
        const struct ev_verify_report *v = &r->verification;
        problem(r, "the entries cannot be read", c);
        so.to = r->verify_result != 0 && v->has_entry && v->entry < so.to ? v->entry : 0;
        c = ev_summary_build(log, &so, &r->summary);
        if (c == EV_ECORRUPT || c == EV_EFORMAT) {
            so.to = 0;
            c = ev_summary_build(log, &so, &r->summary);
        }
        return c;
    }
    r->summary_complete = c == 0 && so.to == r->tree_size;
    return c;
}

int ev_report_build(const char *dir, const struct ev_report_options *options,
                    struct ev_report **ret_report)
{
    struct ev_report_options o = {0};
    struct ev_open_options oo = {.flags = EV_OPEN_READONLY};
    struct ev_log_info info;
    struct ev_log *log = NULL;
    struct ev_report *r = NULL;
    int c;

    evi_error_clear();
    if (options != NULL) {
        o = *options;
    }
    if (o.since_ns != 0 && o.until_ns != 0 && o.since_ns >= o.until_ns) {
        return evi_error(EV_ERANGE, "the window's start is not before its end");
    }
    if (o.max_rows > EV_REPORT_MAX_ROWS) {
        return evi_error(EV_ERANGE, "at most %d notable rows", EV_REPORT_MAX_ROWS);
    }
    if (o.pubkey != NULL) {
        struct ev_verifier *v = NULL;
        if ((c = ev_verifier_parse(o.pubkey, &v)) < 0) {
            return c;
        }
        ev_verifier_free(v);
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->dir_label = strdup(o.dir_label ? o.dir_label : dir)) == NULL) {
        c = -ENOMEM;
        goto out;
    }
    r->generated_ns = o.now_ns != 0 ? o.now_ns : evi_now_ns();
    r->since_ns = o.since_ns;
    r->until_ns = o.until_ns;
    oo.data_keys = o.data_keys; /* encrypted entries (FORMAT.md §5.1) */
    if ((c = ev_log_open(dir, &oo, &log)) < 0) {
        goto out;
    }
    c = ev_log_info(log, &info);
    if (c == EV_ECORRUPT || c == EV_EFORMAT) {
        /* A damaged tail: the verifier will say where; the report goes on without the key. */
        problem(r, "the log's state cannot be read", c);
        (void)snprintf(info.origin, sizeof(info.origin), "(unknown: the log cannot be read)");
        (void)snprintf(info.vkey, sizeof(info.vkey), "(unknown: the log cannot be read)");
        char *note = NULL;
        size_t len;
        if (ev_log_latest_checkpoint(log, &note, &len) == 0) {
            /* The origin line of the (unchecked) checkpoint, to name the log at least. */
            (void)snprintf(info.origin, sizeof(info.origin), "%.*s (unverified)",
                           (int)strcspn(note, "\n"), note);
        }
        free(note);
    } else if (c < 0) {
        goto out;
    }
    (void)snprintf(r->origin, sizeof(r->origin), "%s", info.origin);
    (void)snprintf(r->log_vkey, sizeof(r->log_vkey), "%s", info.vkey);
    r->key_pinned = o.pubkey != NULL;
    (void)snprintf(r->vkey, sizeof(r->vkey), "%s", o.pubkey != NULL ? o.pubkey : info.vkey);

    if ((c = take_checkpoint(r, log)) < 0) {
        goto out;
    }
    const char *trusted[1] = {r->checkpoint_note};
    size_t trusted_len[1] = {r->checkpoint_len};
    struct ev_verify_options vo = {
        .pubkey = o.pubkey,
        .verification_key = o.verification_key,
        .checkpoints = trusted,
        .checkpoint_lens = trusted_len,
        .checkpoint_count = r->checkpoint_valid ? 1 : 0,
        .now_ns = o.now_ns,
    };
    c = ev_verify_dir(dir, &vo, &r->verification);
    if (c < 0 && c != EV_EVERIFY) {
        goto out;
    }
    r->verify_result = c;
    c = summarize(r, log, &o);
out:
    (void)ev_log_close(log);
    if (c < 0) {
        ev_report_free(r);
        return c;
    }
    *ret_report = r;
    return 0;
}

void ev_report_free(struct ev_report *r)
{
    if (r == NULL) {
        return;
    }
    ev_summary_free(r->summary);
    free(r->checkpoint_note);
    free(r->dir_label);
    free(r);
}

bool ev_report_verified(const struct ev_report *r)
{
    return r->verify_result == 0 && r->checkpoint_valid && r->summary_complete &&
           r->problem[0] == '\0';
}

const struct ev_verify_report *ev_report_verification(const struct ev_report *r)
{
    return &r->verification;
}

const struct ev_summary *ev_report_summary(const struct ev_report *r)
{
    return r->summary;
}

uint64_t ev_report_tree_size(const struct ev_report *r)
{
    return r->tree_size;
}

void evi_rep_status(struct evi_rtext *t, const struct ev_report *r)
{
    const struct ev_verify_report *v = &r->verification;

    if (ev_report_verified(r)) {
        evi_rtext_puts(t, "verified");
        return;
    }
    evi_rtext_puts(t, "FAILED: ");
    if (r->verify_result != 0) {
        evi_rtext_puts(t, ev_failure_name(v->failure));
        if (v->has_entry) {
            evi_rtext_printf(t, " at entry %llu", (unsigned long long)v->entry);
        }
        if (v->detail[0] != '\0') {
            evi_rtext_printf(t, ": %s", v->detail);
        }
        if (r->problem[0] != '\0') {
            evi_rtext_printf(t, "; %s", r->problem);
        }
    } else {
        evi_rtext_puts(t, r->problem[0] ? r->problem : "the report is incomplete");
    }
}

void evi_rep_notable_reasons(struct evi_rtext *t, unsigned reasons)
{
    static const char *const names[] = {"severity", "high/critical findings", "risky container",
                                        "violation killed/denied"};
    bool first = true;

    for (unsigned k = 0; k < 4; k++) {
        if (reasons & (1u << k)) {
            evi_rtext_printf(t, "%s%s", first ? "" : ", ", names[k]);
            first = false;
        }
    }
}

void evi_rep_commands(struct evi_rtext *t, const struct ev_report *r)
{
    char ts[EVI_TS_LEN + 1];

    evi_rtext_puts(t,
                   "# 1. Compare the report's public key with the one the log's owner gave you:\n");
    evi_rtext_puts(t, "evident -d ");
    evi_rtext_shell(t, r->dir_label);
    evi_rtext_puts(t, " pubkey\n");
    evi_rtext_puts(t, "# 2. Save the checkpoint of this report, byte for byte, as checkpoint.txt,\n"
                      "#    then verify the log against it (exit 0 = verified):\n");
    evi_rtext_puts(t, "evident -d ");
    evi_rtext_shell(t, r->dir_label);
    evi_rtext_puts(t, " verify --pubkey ");
    evi_rtext_shell(t, r->vkey);
    evi_rtext_puts(t, " --checkpoint checkpoint.txt");
    if (r->verification.tags_checked) {
        evi_rtext_puts(t, " --verification-key-file VERIFICATION_KEY_FILE");
    }
    evi_rtext_puts(
        t, "\n# 3. Recompute the numbers of this report (the JSON report's \"summary\"):\n");
    evi_rtext_puts(t, "evident -d ");
    evi_rtext_shell(t, r->dir_label);
    evi_rtext_printf(t, " summary --to %llu", (unsigned long long)r->tree_size);
    if (r->since_ns != 0) {
        evi_ts_format(r->since_ns, ts);
        evi_rtext_printf(t, " --since %s", ts);
    }
    if (r->until_ns != 0) {
        evi_ts_format(r->until_ns, ts);
        evi_rtext_printf(t, " --until %s", ts);
    }
    evi_rtext_puts(t, " --json\n");
}

int ev_report_render(const struct ev_report *r, enum ev_report_format format, char **ret_text,
                     size_t *ret_len)
{
    struct evi_rtext t = {0};
    int c;

    evi_error_clear();
    switch (format) {
    case EV_REPORT_HTML: c = evi_rep_html(r, &t); break;
    case EV_REPORT_MARKDOWN: c = evi_rep_md(r, &t); break;
    case EV_REPORT_JSON: return evi_rep_json(r, ret_text, ret_len);
    default: return evi_error(EV_EFORMAT, "unknown report format %d", (int)format);
    }
    if (c < 0) {
        evi_rtext_free(&t);
        return c;
    }
    return evi_rtext_finish(&t, ret_text, ret_len);
}
