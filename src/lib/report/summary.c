/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building a struct ev_summary: one pass over the entries with ev_log_scan,
 * each entry's JSON read with jansson (the only file of src/lib/report that
 * does), counted into tables of bounded size. The layout of typed events'
 * `data` is in docs/REPORTS.md ("What is counted").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/datakey.h>
#include <evident/error.h>

#include "error.h"
#include "report-internal.h"

const char *const evi_rep_finding_names[EVI_FSEV_N] = {"critical", "high", "medium", "low", "info"};
const char *const evi_rep_action_names[5] = {"warned", "throttled", "killed", "denied", "other"};

#define NOTABLE_TYPE_MAX 64
#define NOTABLE_SOURCE_MAX 128
#define NOTABLE_DETAIL_MAX 300
#define CONTAINER_FIELD_MAX 128
#define RISKS_MAX 256

/* ---- bounded tables --------------------------------------------------------- */

static uint32_t key_hash(const char *key, size_t len, int rank)
{
    uint32_t h = 2166136261u ^ (uint32_t)rank;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)key[i]) * 16777619u;
    }
    return h;
}

/* Counts n for (key, rank); a name first seen when the table is full counts as other. */
static int table_add(struct evi_rep_table *t, const char *key, int rank, uint64_t n)
{
    size_t len = evi_rep_utf8_prefix(key, strlen(key), EV_SUMMARY_KEY_MAX);
    uint32_t slot = key_hash(key, len, rank) % EVI_TABLE_SLOTS;

    for (;;) {
        uint16_t at = t->slots[slot];
        if (at == 0) {
            break;
        }
        struct evi_rep_count *c = &t->items[at - 1];
        if (c->rank == rank && strlen(c->key) == len && memcmp(c->key, key, len) == 0) {
            c->count += n;
            return 0;
        }
        slot = (slot + 1) % EVI_TABLE_SLOTS;
    }
    if (t->len == EV_SUMMARY_MAX_KEYS) {
        t->other += n;
        return 0;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, key, len);
    copy[len] = '\0';
    t->items[t->len] = (struct evi_rep_count){.key = copy, .rank = rank, .count = n};
    t->slots[slot] = (uint16_t)(++t->len);
    return 0;
}

static void table_free(struct evi_rep_table *t)
{
    for (size_t i = 0; i < t->len; i++) {
        free(t->items[i].key);
    }
}

static int count_cmp(const void *a, const void *b)
{
    const struct evi_rep_count *x = *(const struct evi_rep_count *const *)a;
    const struct evi_rep_count *y = *(const struct evi_rep_count *const *)b;

    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    if (x->rank != y->rank) {
        return x->rank < y->rank ? -1 : 1;
    }
    return strcmp(x->key, y->key);
}

static int rank_first_cmp(const void *a, const void *b)
{
    const struct evi_rep_count *x = *(const struct evi_rep_count *const *)a;
    const struct evi_rep_count *y = *(const struct evi_rep_count *const *)b;

    if (x->rank != y->rank) {
        return x->rank < y->rank ? -1 : 1;
    }
    return count_cmp(a, b);
}

const struct evi_rep_count **evi_rep_table_sorted(const struct evi_rep_table *t, bool by_rank_first)
{
    const struct evi_rep_count **sorted = malloc((t->len + 1) * sizeof(*sorted));
    if (sorted == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < t->len; i++) {
        sorted[i] = &t->items[i];
    }
    qsort(sorted, t->len, sizeof(*sorted), by_rank_first ? rank_first_cmp : count_cmp);
    return sorted;
}

/* ---- the timeline ----------------------------------------------------------- */

static const int64_t bucket_seconds[] = {3600, 86400, 7 * 86400, 28 * 86400, 364 * 86400};
static const char *const bucket_names[] = {"hour", "day", "week", "4 weeks", "52 weeks"};
#define BUCKET_UNITS ((int)(sizeof(bucket_seconds) / sizeof(bucket_seconds[0])))

int64_t evi_rep_bucket_seconds(int unit)
{
    return bucket_seconds[unit];
}

const char *evi_rep_bucket_name(int unit)
{
    return bucket_names[unit];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t bucket_of(int64_t ts_ns, int unit)
{
    return floor_div(floor_div(ts_ns, 1000000000), bucket_seconds[unit]);
}

/*
 * Makes the timeline cover bucket numbers lo..hi of unit (widening the unit
 * while the span is over EV_SUMMARY_MAX_BUCKETS) and moves the counts over.
 * lo and hi are given as times so that they can be re-bucketed.
 */
static int timeline_cover(struct ev_summary *s, int64_t lo_ns, int64_t hi_ns)
{
    int unit = s->bucket_unit;
    int64_t lo, hi;

    if (s->any_bucket) {
        int64_t old_lo_ns = s->bucket_lo * bucket_seconds[unit] * 1000000000;
        int64_t old_hi_ns = s->bucket_hi * bucket_seconds[unit] * 1000000000;
        lo_ns = lo_ns < old_lo_ns ? lo_ns : old_lo_ns;
        hi_ns = hi_ns > old_hi_ns ? hi_ns : old_hi_ns;
    }
    for (;;) {
        lo = bucket_of(lo_ns, unit);
        hi = bucket_of(hi_ns, unit);
        if (hi - lo < EV_SUMMARY_MAX_BUCKETS || unit == BUCKET_UNITS - 1) {
            break;
        }
        unit++;
    }
    if (hi - lo >= EV_SUMMARY_MAX_BUCKETS) {
        /* Only past 2000 * 364 days: keep the latest buckets. */
        lo = hi - EV_SUMMARY_MAX_BUCKETS + 1;
    }
    if (s->any_bucket && unit == s->bucket_unit && lo == s->bucket_lo && hi == s->bucket_hi) {
        return 0;
    }
    uint64_t *buckets = calloc((size_t)(hi - lo + 1), sizeof(*buckets));
    if (buckets == NULL) {
        return -ENOMEM;
    }
    if (s->any_bucket) {
        for (int64_t b = s->bucket_lo; b <= s->bucket_hi; b++) {
            int64_t nb = floor_div(b * bucket_seconds[s->bucket_unit], bucket_seconds[unit]);
            if (nb >= lo) {
                buckets[nb - lo] += s->buckets[b - s->bucket_lo];
            }
        }
    }
    free(s->buckets);
    s->buckets = buckets;
    s->bucket_unit = unit;
    s->bucket_lo = lo;
    s->bucket_hi = hi;
    s->any_bucket = true;
    return 0;
}

static int timeline_add(struct ev_summary *s, int64_t ts_ns)
{
    int64_t b = bucket_of(ts_ns, s->bucket_unit);
    if (!s->any_bucket || b < s->bucket_lo || b > s->bucket_hi) {
        int r = timeline_cover(s, ts_ns, ts_ns);
        if (r < 0) {
            return r;
        }
        b = bucket_of(ts_ns, s->bucket_unit);
    }
    if (b >= s->bucket_lo) {
        s->buckets[b - s->bucket_lo]++;
    }
    return 0;
}

/* ---- reading an entry ---------------------------------------------------------- */

static const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *str_or(json_t *obj, const char *key, const char *fallback)
{
    const char *s = str(obj, key);
    return s != NULL && s[0] != '\0' ? s : fallback;
}

/* The source of an event: the program, else the host; the event's own before the envelope's. */
static const char *source_label(json_t *data, json_t *source)
{
    const char *s = str(data, "program");
    if (s == NULL || s[0] == '\0') {
        s = str(source, "program");
    }
    if (s == NULL || s[0] == '\0') {
        s = str(data, "host");
    }
    if (s == NULL || s[0] == '\0') {
        s = str(source, "host");
    }
    return s != NULL && s[0] != '\0' ? s : "(unknown)";
}

static int finding_severity(const char *name)
{
    for (int i = 0; i < EVI_FSEV_N; i++) {
        if (name != NULL && strcmp(name, evi_rep_finding_names[i]) == 0) {
            return i;
        }
    }
    return EVI_FSEV_N; /* unknown: sorts last */
}

static int violation_action(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (name != NULL && strcmp(name, evi_rep_action_names[i]) == 0) {
            return i;
        }
    }
    return 4;
}

static char *dup_cut(const char *s, size_t max)
{
    size_t len = evi_rep_utf8_prefix(s, strlen(s), max);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

static uint64_t uint_of(json_t *v)
{
    json_int_t n = json_integer_value(v);
    return n > 0 ? (uint64_t)n : 0;
}

/* What a notable event's row says, by type (plain text, cut to NOTABLE_DETAIL_MAX). */
static char *notable_detail(const char *type, json_t *data)
{
    struct evi_rtext t = {0};
    char *out = NULL;
    size_t len;

    if (strcmp(type, "security_assessment") == 0) {
        json_t *counts = json_object_get(data, "counts");
        evi_rtext_printf(&t, "%s", str_or(data, "tool", "?"));
        if (str(data, "target") != NULL) {
            evi_rtext_printf(&t, " on %s", str(data, "target"));
        }
        evi_rtext_printf(&t, ": %llu critical, %llu high, %llu medium findings",
                         (unsigned long long)uint_of(json_object_get(counts, "critical")),
                         (unsigned long long)uint_of(json_object_get(counts, "high")),
                         (unsigned long long)uint_of(json_object_get(counts, "medium")));
    } else if (strcmp(type, "container_creation") == 0) {
        json_t *risks = json_object_get(data, "risks"), *v;
        size_t i;
        evi_rtext_printf(&t, "container %s (%s)",
                         str_or(data, "name", str_or(data, "container_id", "?")),
                         str_or(data, "image", "?"));
        if (json_array_size(risks) > 0) {
            evi_rtext_puts(&t, " risks:");
            json_array_foreach(risks, i, v)
            {
                const char *risk = json_string_value(v);
                evi_rtext_printf(&t, "%s %s", i ? "," : "", risk != NULL ? risk : "?");
            }
        }
    } else if (strcmp(type, "resource_violation") == 0) {
        evi_rtext_printf(&t, "%s: observed %lld over limit %lld", str_or(data, "resource", "?"),
                         (long long)json_integer_value(json_object_get(data, "observed")),
                         (long long)json_integer_value(json_object_get(data, "limit")));
        if (str(data, "unit") != NULL) {
            evi_rtext_printf(&t, " %s", str(data, "unit"));
        }
        evi_rtext_printf(&t, ", %s", str_or(data, "action", "?"));
    } else if (strcmp(type, "security_event") == 0) {
        evi_rtext_printf(&t, "%s: %s", str_or(data, "category", "?"),
                         str_or(data, "description", ""));
    } else if (strcmp(type, "system_event") == 0) {
        evi_rtext_printf(&t, "%s %s %s", str_or(data, "action", "?"), str_or(data, "component", ""),
                         str_or(data, "description", ""));
    } else if (strcmp(type, "code_execution") == 0) {
        evi_rtext_printf(&t, "%s", str_or(data, "language", "?"));
        if (json_is_integer(json_object_get(data, "exit_code"))) {
            evi_rtext_printf(&t, " exit %lld",
                             (long long)json_integer_value(json_object_get(data, "exit_code")));
        }
        if (str(data, "command") != NULL) {
            evi_rtext_printf(&t, ": %s", str(data, "command"));
        }
    } else {
        char *dump = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        evi_rtext_puts(&t, dump != NULL ? dump : "");
        free(dump);
    }
    if (evi_rtext_finish(&t, &out, &len) < 0) {
        return NULL;
    }
    out[evi_rep_utf8_prefix(out, len, NOTABLE_DETAIL_MAX)] = '\0';
    return out;
}

static void notable_free(struct evi_rep_notable *n)
{
    free(n->type);
    free(n->source);
    free(n->detail);
    memset(n, 0, sizeof(*n));
}

/* true if a is kept before b: more severe, then earlier. */
static bool notable_better(int rank_a, uint64_t index_a, const struct evi_rep_notable *b)
{
    return rank_a != b->rank ? rank_a < b->rank : index_a < b->index;
}

static int notable_add(struct ev_summary *s, uint64_t index, int64_t ts_ns, int severity, int rank,
                       unsigned reasons, const char *type, const char *source, json_t *data)
{
    struct evi_rep_notable *slot;

    s->notable_total++;
    if (s->notable_max == 0) {
        return 0;
    }
    if (s->notable_len < s->notable_max) {
        slot = &s->notable[s->notable_len++];
    } else {
        /*
         * Full: replace the least severe (latest among equals) if this one is
         * worth more. The worst is found again only after a replacement, so
         * the usual case (not better) costs O(1).
         */
        if (!s->notable_worst_known) {
            s->notable_worst = 0;
            for (size_t i = 1; i < s->notable_len; i++) {
                const struct evi_rep_notable *w = &s->notable[s->notable_worst];
                if (notable_better(w->rank, w->index, &s->notable[i])) {
                    s->notable_worst = i;
                }
            }
            s->notable_worst_known = true;
        }
        slot = &s->notable[s->notable_worst];
        if (!notable_better(rank, index, slot)) {
            return 0;
        }
        notable_free(slot);
        s->notable_worst_known = false;
    }
    slot->index = index;
    slot->ts_ns = ts_ns;
    slot->severity = severity;
    slot->rank = rank;
    slot->reasons = reasons;
    slot->type = dup_cut(type, NOTABLE_TYPE_MAX);
    slot->source = dup_cut(source, NOTABLE_SOURCE_MAX);
    slot->detail = notable_detail(type, data);
    if (slot->type == NULL || slot->source == NULL || slot->detail == NULL) {
        return -ENOMEM;
    }
    return 0;
}

static int add_container(struct ev_summary *s, uint64_t index, int64_t ts_ns, json_t *data)
{
    json_t *risks = json_object_get(data, "risks"), *v;
    size_t i;
    int r = 0;

    s->containers++;
    if (json_array_size(risks) == 0) {
        return 0;
    }
    s->containers_risky++;
    json_array_foreach(risks, i, v)
    {
        const char *risk = json_string_value(v);
        if ((r = table_add(&s->risks, risk != NULL ? risk : "(not a string)", 0, 1)) < 0) {
            return r;
        }
    }
    if (s->risky_len == EV_SUMMARY_MAX_CONTAINERS) {
        return 0;
    }
    struct evi_rtext list = {0};
    json_array_foreach(risks, i, v)
    {
        evi_rtext_printf(&list, "%s%s", i ? "," : "",
                         json_string_value(v) != NULL ? json_string_value(v) : "?");
    }
    char *joined = NULL;
    size_t len;
    if (evi_rtext_finish(&list, &joined, &len) < 0) {
        return -ENOMEM;
    }
    joined[evi_rep_utf8_prefix(joined, len, RISKS_MAX)] = '\0';
    struct evi_rep_container *c = &s->risky[s->risky_len++];
    c->index = index;
    c->ts_ns = ts_ns;
    c->risks = joined;
    c->container_id = dup_cut(str_or(data, "container_id", ""), CONTAINER_FIELD_MAX);
    c->name = dup_cut(str_or(data, "name", ""), CONTAINER_FIELD_MAX);
    c->image = dup_cut(str_or(data, "image", ""), CONTAINER_FIELD_MAX);
    return c->container_id && c->name && c->image ? 0 : -ENOMEM;
}

static int add_assessment(struct ev_summary *s, json_t *data, int *ret_rank)
{
    json_t *counts = json_object_get(data, "counts"), *findings = json_object_get(data, "findings");
    json_t *f;
    size_t i;
    int r;

    s->assessments++;
    for (int k = 0; k < EVI_FSEV_N; k++) {
        s->findings_by_severity[k] += uint_of(json_object_get(counts, evi_rep_finding_names[k]));
    }
    s->findings_total += uint_of(json_object_get(data, "findings_total"));
    if (json_is_true(json_object_get(data, "findings_truncated"))) {
        s->findings_truncated_scans++;
    }
    json_array_foreach(findings, i, f)
    {
        const char *rule = str(f, "rule_id");
        r = table_add(&s->rules, rule != NULL ? rule : "(no rule)",
                      finding_severity(str(f, "severity")), 1);
        if (r < 0) {
            return r;
        }
    }
    /* Notable if the scan found anything high or critical (the exact counts, not the list). */
    if (uint_of(json_object_get(counts, "critical")) > 0) {
        *ret_rank = EV_SEV_CRITICAL;
    } else if (uint_of(json_object_get(counts, "high")) > 0) {
        *ret_rank = EV_SEV_ERROR;
    }
    return 0;
}

struct build {
    struct ev_summary *s;
    struct ev_log *log;
    int error;
    uint64_t max_entries, seen; /* ev_summary_options.max_entries (0: no bound) */
};

static int visit(void *ctx, const struct ev_entry *entry)
{
    struct build *b = ctx;
    struct ev_summary *s = b->s;
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;

    if (b->max_entries != 0 && ++b->seen > b->max_entries) {
        b->error = evi_error(EV_ETOOBIG, "the window holds more than %llu entries",
                             (unsigned long long)b->max_entries);
        return b->error;
    }
    /*
     * An encrypted entry is read through its data key (FORMAT.md §5.1); without
     * it, stop. One that does not decrypt is damage: counted as malformed, as a
     * damaged plain entry is, and verification says where.
     */
    int dr = ev_log_decrypt(((struct build *)ctx)->log, entry, &text, &len);
    if (dr < 0 && dr != EV_EDECRYPT) {
        ((struct build *)ctx)->error = dr;
        return dr;
    }
    json_t *root = dr == 0 ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    free(text);
    const char *type = str(root, "type"), *ts = str(root, "ts");
    int64_t ts_ns = 0;
    int severity = -1, r = 0;

    s->entries++;
    if (type != NULL && (strcmp(type, "seal") == 0 || strcmp(type, "retention") == 0)) {
        /* The log's own entries: integrity information, not security events. */
        if (strcmp(type, "seal") == 0) {
            s->seals++;
        } else {
            s->retention_marks++;
        }
        json_decref(root);
        return 0;
    }
    s->events++;
    if (!json_is_object(root) || type == NULL || ts == NULL || ev_time_parse(ts, &ts_ns) < 0) {
        /* The scan checked the envelope's prefix; anything else here is damage. */
        s->malformed++;
        json_decref(root);
        return 0;
    }
    if (str(root, "severity") == NULL || ev_severity_parse(str(root, "severity"), &severity) < 0) {
        severity = -1;
        s->severity_unknown++;
    } else {
        s->severity[severity]++;
    }
    if (!s->any_event || ts_ns < s->first_ns) {
        s->first_ns = ts_ns;
    }
    if (!s->any_event || ts_ns > s->last_ns) {
        s->last_ns = ts_ns;
    }
    s->any_event = true;

    json_t *data = json_object_get(root, "data");
    json_t *source = json_object_get(root, "source");
    const char *src = source_label(data, source);
    int rank = severity >= 0 && severity <= EV_SEV_WARNING ? severity : EV_SEV_DEBUG + 1;
    unsigned reasons = rank <= EV_SEV_WARNING ? 1u << EVI_REASON_SEVERITY : 0;

    if ((r = timeline_add(s, ts_ns)) < 0 || (r = table_add(&s->types, type, 0, 1)) < 0 ||
        (r = table_add(&s->sources, src, 0, 1)) < 0 ||
        (r = table_add(&s->outcomes, str_or(data, "outcome", "(none)"), 0, 1)) < 0) {
        goto out;
    }
    if (strcmp(type, "security_assessment") == 0) {
        int frank = EV_SEV_DEBUG + 1;
        if ((r = add_assessment(s, data, &frank)) < 0) {
            goto out;
        }
        if (frank <= EV_SEV_ERROR) {
            reasons |= 1u << EVI_REASON_FINDINGS;
            rank = frank < rank ? frank : rank;
        }
    } else if (strcmp(type, "container_creation") == 0) {
        if ((r = add_container(s, entry->index, ts_ns, data)) < 0) {
            goto out;
        }
        if (json_array_size(json_object_get(data, "risks")) > 0) {
            reasons |= 1u << EVI_REASON_CONTAINER;
            rank = rank < EV_SEV_WARNING ? rank : EV_SEV_WARNING;
        }
    } else if (strcmp(type, "resource_violation") == 0) {
        int action = violation_action(str(data, "action"));
        s->violations++;
        if ((r = table_add(&s->violation_kinds, str_or(data, "resource", "(none)"), action, 1)) <
            0) {
            goto out;
        }
        if (action == 2 || action == 3) {
            reasons |= 1u << EVI_REASON_VIOLATION;
            rank = rank < EV_SEV_WARNING ? rank : EV_SEV_WARNING;
        }
    }
    if (reasons != 0) {
        r = notable_add(s, entry->index, ts_ns, severity, rank, reasons, type, src, data);
    }
out:
    json_decref(root);
    if (r < 0) {
        ((struct build *)ctx)->error = r;
    }
    return r;
}

int ev_summary_build(struct ev_log *log, const struct ev_summary_options *options,
                     struct ev_summary **ret_summary)
{
    struct ev_summary_options o = {0};
    struct ev_filter filter = {.max_severity = -1};
    struct ev_summary *s = NULL;
    uint64_t size = ev_log_size(log);
    int r;

    evi_error_clear();
    if (options != NULL) {
        o = *options;
    }
    if (o.bounded && o.to > size) {
        return evi_error(EV_ERANGE, "entries up to %llu asked for, the log has %llu",
                         (unsigned long long)o.to, (unsigned long long)size);
    }
    if (o.since_ns != 0 && o.until_ns != 0 && o.since_ns >= o.until_ns) {
        return evi_error(EV_ERANGE, "the window's start is not before its end");
    }
    if (o.notable_rows > EV_REPORT_MAX_ROWS) {
        return evi_error(EV_ERANGE, "at most %d notable rows", EV_REPORT_MAX_ROWS);
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return -ENOMEM;
    }
    s->since_ns = o.since_ns;
    s->until_ns = o.until_ns;
    s->to = o.bounded ? o.to : size;
    s->notable_max = o.notable_rows;
    if (s->notable_max > 0 && (s->notable = calloc(s->notable_max, sizeof(*s->notable))) == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* A window given on both sides is drawn whole, empty buckets included. */
    if (o.since_ns != 0 && o.until_ns != 0 &&
        (r = timeline_cover(s, o.since_ns, o.until_ns - 1)) < 0) {
        goto out;
    }
    filter.since_ns = o.since_ns;
    filter.until_ns = o.until_ns;
    struct build b = {.s = s, .log = log, .max_entries = o.max_entries};
    r = ev_log_scan(log, 0, s->to, &filter, visit, &b);
    if (b.error < 0) {
        r = b.error;
    }
out:
    if (r < 0) {
        ev_summary_free(s);
        return r;
    }
    *ret_summary = s;
    return 0;
}

int ev_summary_extend(struct ev_log *log, struct ev_summary *s, uint64_t to)
{
    uint64_t size = ev_log_size(log);

    evi_error_clear();
    if (to > size) {
        return evi_error(EV_ERANGE, "entries up to %llu asked for, the log has %llu",
                         (unsigned long long)to, (unsigned long long)size);
    }
    if (to < s->to) {
        return evi_error(EV_ERANGE, "the summary covers entries up to %llu already, not %llu",
                         (unsigned long long)s->to, (unsigned long long)to);
    }
    if (to == s->to) {
        return 0;
    }
    struct ev_filter filter = {
        .max_severity = -1, .since_ns = s->since_ns, .until_ns = s->until_ns};
    struct build b = {.s = s, .log = log};
    int r = ev_log_scan(log, s->to, to, &filter, visit, &b);
    if (b.error < 0) {
        r = b.error;
    }
    if (r < 0) {
        return r;
    }
    s->to = to;
    return 0;
}

void ev_summary_free(struct ev_summary *s)
{
    if (s == NULL) {
        return;
    }
    table_free(&s->types);
    table_free(&s->sources);
    table_free(&s->outcomes);
    table_free(&s->rules);
    table_free(&s->violation_kinds);
    table_free(&s->risks);
    for (size_t i = 0; i < s->risky_len; i++) {
        free(s->risky[i].container_id);
        free(s->risky[i].name);
        free(s->risky[i].image);
        free(s->risky[i].risks);
    }
    for (size_t i = 0; i < s->notable_len; i++) {
        notable_free(&s->notable[i]);
    }
    free(s->notable);
    free(s->buckets);
    free(s);
}

uint64_t ev_summary_events(const struct ev_summary *s)
{
    return s->events;
}

static int notable_index_cmp(const void *a, const void *b)
{
    const struct evi_rep_notable *x = *(const struct evi_rep_notable *const *)a;
    const struct evi_rep_notable *y = *(const struct evi_rep_notable *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

const struct evi_rep_notable **evi_rep_summary_notable_sorted(const struct ev_summary *s)
{
    const struct evi_rep_notable **sorted = malloc((s->notable_len + 1) * sizeof(*sorted));
    if (sorted == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < s->notable_len; i++) {
        sorted[i] = &s->notable[i];
    }
    qsort(sorted, s->notable_len, sizeof(*sorted), notable_index_cmp);
    return sorted;
}
