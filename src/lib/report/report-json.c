/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON report (docs/REPORTS.md, "JSON report"): everything the other
 * formats show, machine-readable. Its "summary" member is byte for byte what
 * `evident summary --to N --json` prints for the same entries and window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "entry.h"
#include "report-internal.h"

static void str(struct evi_jsonw *w, const char *s)
{
    evi_jsonw_string(w, s, strlen(s));
}

static void member_str(struct evi_jsonw *w, const char *key, const char *v)
{
    evi_jsonw_key(w, key);
    str(w, v);
}

static void member_u64(struct evi_jsonw *w, const char *key, uint64_t v)
{
    evi_jsonw_key(w, key);
    evi_jsonw_int(w, (int64_t)v);
}

static void member_bool(struct evi_jsonw *w, const char *key, bool v)
{
    evi_jsonw_key(w, key);
    evi_jsonw_bool(w, v);
}

static void member_ts(struct evi_jsonw *w, const char *key, int64_t ns)
{
    char ts[EVI_TS_LEN + 1];
    evi_ts_format(ns, ts);
    member_str(w, key, ts);
}

/* A text built with evi_text as a string member. */
static void member_text(struct evi_jsonw *w, const char *key, struct evi_rtext *t)
{
    if (t->error != 0) {
        w->error = w->error ? w->error : t->error;
    }
    evi_jsonw_key(w, key);
    evi_jsonw_string(w, t->data != NULL ? t->data : "", t->len);
    evi_rtext_free(t);
}

static void checkpoint(struct evi_jsonw *w, const struct ev_report *r)
{
    char root[64];

    evi_jsonw_key(w, "checkpoint");
    if (r->checkpoint_note == NULL) {
        evi_jsonw_value_raw(w, "null", 4);
        return;
    }
    evi_jsonw_begin_object(w);
    member_str(w, "note", r->checkpoint_note);
    evi_jsonw_key(w, "root");
    if (r->checkpoint_valid) {
        (void)evi_base64_encode(r->checkpoint.root, EV_HASH_BYTES, root, sizeof(root));
        str(w, root);
    } else {
        evi_jsonw_value_raw(w, "null", 4);
    }
    member_u64(w, "tree_size", r->tree_size);
    member_bool(w, "valid", r->checkpoint_valid);
    evi_jsonw_end_object(w);
}

static void verification(struct evi_jsonw *w, const struct ev_verify_report *v)
{
    char root[2 * EV_HASH_BYTES + 1];

    evi_hex_encode(v->root, EV_HASH_BYTES, root);
    evi_jsonw_key(w, "verification");
    evi_jsonw_begin_object(w);
    member_u64(w, "checkpoint_size", v->checkpoint_size);
    member_str(w, "detail", v->detail);
    member_u64(w, "entries", v->entries);
    evi_jsonw_key(w, "entry");
    if (v->failure != EV_FAIL_NONE && v->has_entry) {
        evi_jsonw_int(w, (int64_t)v->entry);
    } else {
        evi_jsonw_value_raw(w, "null", 4);
    }
    member_u64(w, "epochs_sealed", v->epochs_sealed);
    member_str(w, "failure", v->failure == EV_FAIL_NONE ? "none" : ev_failure_name(v->failure));
    member_u64(w, "failure_code", (uint64_t)v->failure);
    member_bool(w, "open_epoch", v->open_epoch);
    member_str(w, "root", root);
    member_bool(w, "tags_checked", v->tags_checked);
    member_u64(w, "torn_bytes", v->torn_bytes);
    member_u64(w, "trusted_checked", v->trusted_checked);
    evi_jsonw_end_object(w);
}

static void integrity(struct evi_jsonw *w, const struct ev_report *r)
{
    struct evi_rtext t = {0};

    evi_jsonw_key(w, "integrity");
    evi_jsonw_begin_object(w);
    checkpoint(w, r);
    evi_rep_commands(&t, r);
    member_text(w, "commands", &t);
    member_bool(w, "key_pinned", r->key_pinned);
    member_str(w, "log_public_key", r->log_vkey);
    member_str(w, "problem", r->problem);
    member_str(w, "public_key", r->vkey);
    member_u64(w, "seals", r->summary->seals);
    evi_rep_status(&t, r);
    member_text(w, "status", &t);
    verification(w, &r->verification);
    member_bool(w, "verified", ev_report_verified(r));
    evi_jsonw_end_object(w);
}

static void notable(struct evi_jsonw *w, const struct ev_summary *s)
{
    static const char *const reason_names[] = {"severity", "findings", "risky_container",
                                               "violation"};
    const struct evi_rep_notable **rows = evi_rep_summary_notable_sorted(s);

    if (rows == NULL) {
        w->error = w->error ? w->error : -ENOMEM;
        return;
    }
    evi_jsonw_key(w, "notable_events");
    evi_jsonw_begin_object(w);
    member_u64(w, "not_shown", s->notable_total - s->notable_len);
    evi_jsonw_key(w, "rows");
    evi_jsonw_begin_array(w);
    for (size_t i = 0; i < s->notable_len; i++) {
        const struct evi_rep_notable *n = rows[i];
        evi_jsonw_begin_object(w);
        member_str(w, "detail", n->detail);
        member_u64(w, "index", n->index);
        evi_jsonw_key(w, "reasons");
        evi_jsonw_begin_array(w);
        for (unsigned k = 0; k < 4; k++) {
            if (n->reasons & (1u << k)) {
                str(w, reason_names[k]);
            }
        }
        evi_jsonw_end_array(w);
        evi_jsonw_key(w, "severity");
        if (n->severity >= 0) {
            str(w, ev_severity_name(n->severity));
        } else {
            evi_jsonw_value_raw(w, "null", 4);
        }
        member_str(w, "source", n->source);
        member_ts(w, "ts", n->ts_ns);
        member_str(w, "type", n->type);
        evi_jsonw_end_object(w);
    }
    evi_jsonw_end_array(w);
    member_u64(w, "total", s->notable_total);
    evi_jsonw_end_object(w);
    free(rows);
}

int evi_rep_json(const struct ev_report *r, char **ret_text, size_t *ret_len)
{
    struct evi_jsonw w;
    int c;

    evi_jsonw_init(&w, 0);
    evi_jsonw_begin_object(&w);
    member_str(&w, "format", EV_REPORT_FORMAT);
    member_ts(&w, "generated", r->generated_ns);
    integrity(&w, r);
    evi_jsonw_key(&w, "log");
    evi_jsonw_begin_object(&w);
    member_str(&w, "directory", r->dir_label);
    member_str(&w, "origin", r->origin);
    evi_jsonw_end_object(&w);
    notable(&w, r->summary);
    evi_jsonw_key(&w, "summary");
    evi_rep_summary_write_json(r->summary, &w);
    evi_jsonw_end_object(&w);
    evi_jsonw_raw(&w, "\n", 2); /* the final newline and a NUL, not counted */
    if ((c = evi_jsonw_error(&w)) < 0) {
        evi_jsonw_free(&w);
        return c;
    }
    *ret_text = w.data;
    *ret_len = w.len - 1;
    return 0;
}
