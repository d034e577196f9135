/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Summaries and reports (include/evident/report.h): exact numbers over a log
 * of known typed events, time windows, the bounds, the integrity section of a
 * report (checkpoint, tree size, verification), a tampered log, and hostile
 * strings in every output format.
 */
#include <time.h>

#include <jansson.h>

#include <evident/report.h>

#include "testutil.h"

/* ---- the log -------------------------------------------------------------- */

struct fixture {
    struct tu_fixture tu;
    int64_t mid_ns; /* between the first four events (and the seal) and the last four */
    uint64_t size;  /* entries after the build */
};

static void append(struct ev_log *log, const char *type, int severity, const char *source,
                   const char *data)
{
    struct ev_event ev = {
        .type = type, .severity = severity, .source_json = source, .data_json = data};
    tu_ok(ev_log_append(log, &ev, NULL));
}

static int64_t now_ns(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_ms(void)
{
    struct timespec ts = {0, 2000000};
    (void)nanosleep(&ts, NULL);
}

#define HOSTILE_SCRIPT "<script>alert(1)</script>"
#define HOSTILE_IMG "<img src=x onerror=alert(1)>"

/*
 * Eight events in the stored layout (/tmp/spec/layout.md, docs/REPORTS.md),
 * a seal after the fourth; the clock is read between the halves.
 */
static void build(struct fixture *f)
{
    tu_create(f->tu.dir, 0, f->tu.v);
    struct ev_log *log = tu_open(f->tu.dir, NULL);
    append(
        log, "security_assessment", EV_SEV_WARNING, "{\"host\":\"h1\",\"program\":\"bandit\"}",
        "{\"counts\":{\"critical\":1,\"high\":2,\"info\":0,\"low\":1,\"medium\":0},"
        "\"findings\":[{\"rule_id\":\"B101\",\"severity\":\"high\"},{\"rule_id\":\"B101\","
        "\"severity\":\"high\"},{\"rule_id\":\"B602\",\"severity\":\"critical\"},"
        "{\"rule_id\":\"B303\",\"severity\":\"low\"}],\"findings_total\":4,\"tool\":\"bandit\"}");
    append(log, "container_creation", EV_SEV_NOTICE, "{\"host\":\"h1\",\"program\":\"dockerd\"}",
           "{\"container_id\":\"c1\",\"image\":\"alpine:3\",\"name\":\"web\",\"privileged\":true,"
           "\"risks\":[\"privileged\",\"runs_as_root\"]}");
    append(log, "container_creation", EV_SEV_INFO, "{\"host\":\"h1\",\"program\":\"dockerd\"}",
           "{\"container_id\":\"c2\",\"image\":\"debian\",\"name\":\"ok\",\"risks\":[]}");
    append(log, "resource_violation", EV_SEV_WARNING, "{\"host\":\"h2\"}",
           "{\"action\":\"killed\",\"limit\":100,\"observed\":200,\"resource\":\"memory\"}");
    tu_ok(ev_log_seal(log));
    pause_ms();
    f->mid_ns = now_ns();
    pause_ms();
    append(log, "resource_violation", EV_SEV_INFO, "{\"program\":\"sandbox\"}",
           "{\"action\":\"warned\",\"limit\":1,\"observed\":2,\"resource\":\"cpu\"}");
    append(log, "custom.login", EV_SEV_INFO, "{\"host\":\"h3\",\"program\":\"collector\"}",
           "{\"outcome\":\"success\",\"program\":\"sshd\"}");
    append(log, "custom.login", EV_SEV_ERROR, "{\"host\":\"h3\",\"program\":\"collector\"}",
           "{\"outcome\":\"failure\",\"program\":\"sshd\"}");
    append(log, "security_event", EV_SEV_CRITICAL, "{\"program\":\"" HOSTILE_IMG "\"}",
           "{\"category\":\"intrusion\",\"description\":\"" HOSTILE_SCRIPT
           "\",\"outcome\":\"denied\"}");
    f->size = ev_log_size(log);
    tu_ok(ev_log_close(log));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->tu.root);
    tu_path(f->tu.dir, f->tu.root, "log");
    build(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tu_rm_rf(f->tu.root);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static json_t *summary_json(const char *dir, const struct ev_summary_options *o, char **ret_text)
{
    struct ev_log *log = tu_open(dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    struct ev_summary *s = NULL;
    char *text = NULL;
    size_t len;
    json_error_t jerr;

    tu_ok(ev_summary_build(log, o, &s));
    tu_ok(ev_summary_json(s, &text, &len));
    assert_int_equal(strlen(text), len);
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (j == NULL) {
        fail_msg("summary JSON does not parse: %s: %s", jerr.text, text);
    }
    /* Canonical: exactly what jansson writes back with sorted keys. */
    char *again = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, text);
    free(again);
    if (ret_text != NULL) {
        *ret_text = text;
    } else {
        free(text);
    }
    ev_summary_free(s);
    tu_ok(ev_log_close(log));
    return j;
}

static json_int_t num(json_t *root, const char *path)
{
    json_t *v = root;
    char buf[256];
    assert_true(snprintf(buf, sizeof(buf), "%s", path) < (int)sizeof(buf));
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part != NULL;
         part = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, part);
    }
    if (!json_is_integer(v)) {
        fail_msg("%s is not an integer", path);
    }
    return json_integer_value(v);
}

static json_t *get(json_t *root, const char *path)
{
    json_t *v = root;
    char buf[256];
    assert_true(snprintf(buf, sizeof(buf), "%s", path) < (int)sizeof(buf));
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part != NULL;
         part = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, part);
    }
    if (v == NULL) {
        fail_msg("%s is missing", path);
    }
    return v;
}

/* The items of a {"items":[...]} table as "name=count,name=count" in their order. */
static void items(json_t *table, const char *name, char *out, size_t cap)
{
    json_t *item;
    size_t i, used = 0;
    out[0] = '\0';
    json_array_foreach(json_object_get(table, "items"), i, item)
    {
        int n = snprintf(out + used, cap - used, "%s%s=%lld", i ? "," : "",
                         json_string_value(json_object_get(item, name)),
                         (long long)json_integer_value(json_object_get(item, "count")));
        assert_true(n > 0 && (size_t)n < cap - used);
        used += (size_t)n;
    }
}

static void assert_items(json_t *root, const char *table, const char *name, const char *want)
{
    char got[2048];
    items(get(root, table), name, got, sizeof(got));
    assert_string_equal(got, want);
}

static json_int_t timeline_total(json_t *root)
{
    json_t *v;
    size_t i;
    json_int_t total = 0;
    json_array_foreach(get(root, "timeline.counts"), i, v)
    {
        total += json_integer_value(v);
    }
    return total;
}

/* ---- summaries ------------------------------------------------------------ */

static void test_summary_exact(void **state)
{
    struct fixture *f = *state;
    json_t *j = summary_json(f->tu.dir, NULL, NULL);

    assert_string_equal(json_string_value(get(j, "format")), EV_SUMMARY_FORMAT);
    assert_int_equal(num(j, "entries.events"), 8);
    assert_int_equal(num(j, "entries.seals"), 1);
    assert_int_equal(num(j, "entries.in_window"), 9);
    assert_int_equal(num(j, "entries.malformed"), 0);
    assert_int_equal(num(j, "range.to"), f->size);
    assert_int_equal(f->size, 9);
    assert_items(j, "by_severity", "severity",
                 "emergency=0,alert=0,critical=1,error=1,warning=2,notice=1,info=3,debug=0");
    assert_items(j, "by_type", "type",
                 "container_creation=2,custom.login=2,resource_violation=2,"
                 "security_assessment=1,security_event=1");
    /* The event's own program first, then the envelope's program, then a host. */
    assert_items(j, "by_source", "source",
                 "dockerd=2,sshd=2," HOSTILE_IMG "=1,bandit=1,h2=1,sandbox=1");
    assert_items(j, "by_outcome", "outcome", "(none)=5,denied=1,failure=1,success=1");
    assert_int_equal(num(j, "assessments.scans"), 1);
    assert_int_equal(num(j, "assessments.findings_total"), 4);
    assert_int_equal(num(j, "assessments.findings_by_severity.critical"), 1);
    assert_int_equal(num(j, "assessments.findings_by_severity.high"), 2);
    assert_int_equal(num(j, "assessments.findings_by_severity.medium"), 0);
    assert_int_equal(num(j, "assessments.findings_by_severity.low"), 1);
    assert_int_equal(num(j, "assessments.findings_by_severity.info"), 0);
    /* Top rules: by severity first, then count. */
    json_t *rules = get(j, "assessments.rules");
    assert_int_equal(json_array_size(rules), 3);
    assert_string_equal(json_string_value(get(json_array_get(rules, 0), "rule_id")), "B602");
    assert_string_equal(json_string_value(get(json_array_get(rules, 0), "severity")), "critical");
    assert_string_equal(json_string_value(get(json_array_get(rules, 1), "rule_id")), "B101");
    assert_int_equal(num(json_array_get(rules, 1), "count"), 2);
    assert_string_equal(json_string_value(get(json_array_get(rules, 2), "severity")), "low");
    /* Violations by resource and action. */
    assert_int_equal(num(j, "violations.total"), 2);
    json_t *v = get(j, "violations.items");
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(get(json_array_get(v, 0), "resource")), "cpu");
    assert_string_equal(json_string_value(get(json_array_get(v, 0), "action")), "warned");
    assert_string_equal(json_string_value(get(json_array_get(v, 1), "resource")), "memory");
    assert_string_equal(json_string_value(get(json_array_get(v, 1), "action")), "killed");
    /* Containers: the one with risks is listed, the one with none is not. */
    assert_int_equal(num(j, "containers.created"), 2);
    assert_int_equal(num(j, "containers.risky"), 1);
    assert_int_equal(json_array_size(get(j, "containers.listed")), 1);
    json_t *c = json_array_get(get(j, "containers.listed"), 0);
    assert_string_equal(json_string_value(get(c, "container_id")), "c1");
    assert_int_equal(num(c, "index"), 1);
    assert_int_equal(json_array_size(get(c, "risks")), 2);
    assert_items(j, "containers.risks", "risk", "privileged=1,runs_as_root=1");
    /* Notable: 0 (warning, findings), 1 (risky), 3 (warning, killed), 7 (error), 8 (critical). */
    assert_int_equal(num(j, "notable_events"), 5);
    /* Timeline: one bucket per hour, every event in one. */
    assert_string_equal(json_string_value(get(j, "timeline.bucket")), "hour");
    assert_int_equal(num(j, "timeline.bucket_seconds"), 3600);
    assert_int_equal(timeline_total(j), 8);
    assert_true(json_is_string(get(j, "window.first_event")));
    assert_true(json_is_null(get(j, "window.since")));
    json_decref(j);
}

static void test_summary_windows(void **state)
{
    struct fixture *f = *state;

    struct ev_summary_options late = {.since_ns = f->mid_ns};
    json_t *j = summary_json(f->tu.dir, &late, NULL);
    assert_int_equal(num(j, "entries.events"), 4);
    assert_int_equal(num(j, "entries.seals"), 0);
    assert_items(j, "by_type", "type", "custom.login=2,resource_violation=1,security_event=1");
    assert_int_equal(num(j, "notable_events"), 2);
    assert_int_equal(timeline_total(j), 4);
    json_decref(j);

    struct ev_summary_options early = {.until_ns = f->mid_ns};
    j = summary_json(f->tu.dir, &early, NULL);
    assert_int_equal(num(j, "entries.events"), 4);
    assert_int_equal(num(j, "entries.seals"), 1);
    assert_items(j, "by_severity", "severity",
                 "emergency=0,alert=0,critical=0,error=0,warning=2,notice=1,info=1,debug=0");
    assert_int_equal(num(j, "notable_events"), 3);
    json_decref(j);

    /* Both bounds; then the first three entries only (--to). */
    struct ev_summary_options both = {.since_ns = f->mid_ns - 3600ll * 1000000000,
                                      .until_ns = f->mid_ns};
    j = summary_json(f->tu.dir, &both, NULL);
    assert_int_equal(num(j, "entries.events"), 4);
    /* A window given on both sides is drawn whole: one or two buckets for the hour. */
    assert_true(json_array_size(get(j, "timeline.counts")) >= 1 &&
                json_array_size(get(j, "timeline.counts")) <= 2);
    json_decref(j);
    struct ev_summary_options first3 = {.bounded = true, .to = 3};
    j = summary_json(f->tu.dir, &first3, NULL);
    assert_int_equal(num(j, "entries.events"), 3);
    assert_int_equal(num(j, "range.to"), 3);
    json_decref(j);
}

static void test_summary_wide_window(void **state)
{
    struct fixture *f = *state;
    int64_t since, until;

    /* Seven years: too many hours, too many days: weeks. */
    tu_ok(ev_time_parse("2020-01-01T00:00:00Z", &since));
    tu_ok(ev_time_parse("2027-01-01T00:00:00Z", &until));
    struct ev_summary_options o = {.since_ns = since, .until_ns = until};
    json_t *j = summary_json(f->tu.dir, &o, NULL);
    assert_string_equal(json_string_value(get(j, "timeline.bucket")), "week");
    assert_true(json_array_size(get(j, "timeline.counts")) <= EV_SUMMARY_MAX_BUCKETS);
    assert_true(json_array_size(get(j, "timeline.counts")) > 300);
    assert_int_equal(timeline_total(j), 8);
    assert_int_equal(num(j, "entries.events"), 8);
    json_decref(j);
}

/* A summary extended in steps is byte for byte the one built at once. */
static char *summary_text(struct ev_summary *s)
{
    char *text = NULL;
    size_t len;
    tu_ok(ev_summary_json(s, &text, &len));
    return text;
}

static void test_summary_extend(void **state)
{
    struct fixture *f = *state;
    struct ev_log *log = tu_open(f->tu.dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    struct ev_summary_options windows[] = {
        {.bounded = true, .to = f->size, .notable_rows = 5},
        {.bounded = true, .to = f->size, .since_ns = f->mid_ns},
        {.bounded = true,
         .to = f->size,
         .since_ns = f->mid_ns - 3600ll * 1000000000,
         .until_ns = f->mid_ns},
    };
    for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
        struct ev_summary *whole = NULL, *grown = NULL;
        tu_ok(ev_summary_build(log, &windows[w], &whole));
        struct ev_summary_options start = windows[w];
        start.to = 0;
        tu_ok(ev_summary_build(log, &start, &grown));
        for (uint64_t to = 1; to <= f->size; to += 2) { /* 1, 3, 5, ...: across the seal */
            tu_ok(ev_summary_extend(log, grown, to));
        }
        tu_ok(ev_summary_extend(log, grown, f->size));
        tu_ok(ev_summary_extend(log, grown, f->size)); /* nothing new: unchanged */
        char *a = summary_text(whole), *b = summary_text(grown);
        assert_string_equal(b, a);
        free(a);
        free(b);

        assert_int_equal(ev_summary_extend(log, grown, f->size - 1), EV_ERANGE);
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "the summary covers entries up to %llu already, not %llu",
                       (unsigned long long)f->size, (unsigned long long)f->size - 1);
        assert_string_equal(ev_last_error(), msg);
        assert_int_equal(ev_summary_extend(log, grown, f->size + 1), EV_ERANGE);
        ev_summary_free(whole);
        ev_summary_free(grown);
    }
    tu_ok(ev_log_close(log));
}

static void test_summary_errors(void **state)
{
    struct fixture *f = *state;
    struct ev_log *log = tu_open(f->tu.dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    struct ev_summary *s = NULL;

    struct ev_summary_options past = {.bounded = true, .to = f->size + 1};
    assert_int_equal(ev_summary_build(log, &past, &s), EV_ERANGE);
    struct ev_summary_options backwards = {.since_ns = 2000, .until_ns = 1000};
    assert_int_equal(ev_summary_build(log, &backwards, &s), EV_ERANGE);
    struct ev_summary_options rows = {.notable_rows = EV_REPORT_MAX_ROWS + 1};
    assert_int_equal(ev_summary_build(log, &rows, &s), EV_ERANGE);
    assert_null(s);
    /* A bound on the entries one build may read: one short of the log is too many. */
    struct ev_summary_options capped = {.since_ns = 1, .max_entries = f->size - 1};
    assert_int_equal(ev_summary_build(log, &capped, &s), EV_ETOOBIG);
    char want[96];
    (void)snprintf(want, sizeof(want), "the window holds more than %llu entries",
                   (unsigned long long)(f->size - 1));
    assert_string_equal(ev_last_error(), want);
    assert_null(s);
    capped.max_entries = f->size;
    tu_ok(ev_summary_build(log, &capped, &s));
    ev_summary_free(s);
    s = NULL;
    /* The text: headline numbers, aligned. */
    char *text = NULL;
    size_t len;
    tu_ok(ev_summary_build(log, NULL, &s));
    assert_int_equal(ev_summary_events(s), 8);
    tu_ok(ev_summary_text(s, &text, &len));
    assert_non_null(strstr(text, "Security events: 8"));
    assert_non_null(strstr(text, "Integrity: 1 seals"));
    assert_non_null(strstr(text, "  critical                                  1\n"));
    assert_non_null(strstr(text, "memory killed"));
    free(text);
    ev_summary_free(s);
    ev_summary_free(NULL);
    tu_ok(ev_log_close(log));

    enum ev_report_format fmt;
    tu_ok(ev_report_format_parse("md", &fmt));
    assert_int_equal(fmt, EV_REPORT_MARKDOWN);
    tu_ok(ev_report_format_parse("html", &fmt));
    assert_int_equal(fmt, EV_REPORT_HTML);
    assert_int_equal(ev_report_format_parse("pdf", &fmt), EV_EFORMAT);
}

/* More distinct names than a table tracks: the rest count as other, nothing is lost. */
static void test_summary_bounded_tables(void **state)
{
    struct fixture *f = *state;
    struct ev_log *log = tu_open(f->tu.dir, NULL);
    for (int i = 0; i < EV_SUMMARY_MAX_KEYS + 44; i++) {
        char type[32];
        assert_true(snprintf(type, sizeof(type), "custom.t%03d", i) < (int)sizeof(type));
        append(log, type, EV_SEV_DEBUG, "{\"program\":\"p\"}", "{}");
    }
    tu_ok(ev_log_close(log));
    json_t *j = summary_json(f->tu.dir, NULL, NULL);
    assert_int_equal(num(j, "entries.events"), 8 + EV_SUMMARY_MAX_KEYS + 44);
    assert_int_equal(json_array_size(get(j, "by_type.items")), EV_SUMMARY_MAX_KEYS);
    /* The five fixture types came first; 256 - 5 of the new ones fit. */
    assert_int_equal(num(j, "by_type.other"), 44 + 5);
    json_decref(j);
}

/* ---- reports -------------------------------------------------------------- */

static struct ev_report *report(const struct fixture *f, const struct ev_report_options *o)
{
    struct ev_report *r = NULL;
    tu_ok(ev_report_build(f->tu.dir, o, &r));
    assert_non_null(r);
    return r;
}

static char *render(const struct ev_report *r, enum ev_report_format format)
{
    char *text = NULL;
    size_t len;
    tu_ok(ev_report_render(r, format, &text, &len));
    assert_int_equal(strlen(text), len);
    return text;
}

static json_t *render_json(const struct ev_report *r)
{
    char *text = render(r, EV_REPORT_JSON);
    json_error_t jerr;
    size_t len = strlen(text);
    assert_true(len > 0 && text[len - 1] == '\n');
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (j == NULL) {
        fail_msg("report JSON does not parse: %s", jerr.text);
    }
    free(text);
    return j;
}

static char *checkpoint_file(const char *dir)
{
    char path[PATH_MAX];
    return (char *)tu_read(tu_path(path, dir, "checkpoint"), NULL);
}

static void test_report_integrity(void **state)
{
    struct fixture *f = *state;
    struct ev_report_options o = {.verification_key = f->tu.v, .now_ns = f->mid_ns};
    struct ev_report *r = report(f, &o);

    assert_true(ev_report_verified(r));
    assert_int_equal(ev_report_tree_size(r), f->size);
    assert_int_equal(ev_report_verification(r)->failure, EV_FAIL_NONE);
    assert_true(ev_report_verification(r)->tags_checked);
    assert_int_equal(ev_report_verification(r)->trusted_checked, 1);
    assert_int_equal(ev_summary_events(ev_report_summary(r)), 8);

    json_t *j = render_json(r);
    char *note = checkpoint_file(f->tu.dir);
    assert_string_equal(json_string_value(get(j, "format")), EV_REPORT_FORMAT);
    assert_string_equal(json_string_value(get(j, "integrity.checkpoint.note")), note);
    assert_int_equal(num(j, "integrity.checkpoint.tree_size"), f->size);
    assert_true(json_is_true(get(j, "integrity.checkpoint.valid")));
    assert_true(json_is_true(get(j, "integrity.verified")));
    assert_string_equal(json_string_value(get(j, "integrity.status")), "verified");
    assert_true(json_is_true(get(j, "integrity.verification.tags_checked")));
    assert_string_equal(json_string_value(get(j, "integrity.verification.failure")), "none");
    assert_int_equal(num(j, "integrity.seals"), 1);
    assert_string_equal(json_string_value(get(j, "log.origin")), TU_ORIGIN);
    const char *key = json_string_value(get(j, "integrity.public_key"));
    assert_true(strncmp(key, TU_ORIGIN "+", strlen(TU_ORIGIN) + 1) == 0);
    const char *commands = json_string_value(get(j, "integrity.commands"));
    assert_non_null(strstr(commands, "verify --pubkey"));
    assert_non_null(strstr(commands, "--checkpoint checkpoint.txt"));
    assert_non_null(strstr(commands, "--verification-key-file"));
    assert_non_null(strstr(commands, "summary --to 9 --json"));
    /* The report's summary is byte for byte what `evident summary --to N` prints. */
    char *summary_text = NULL;
    struct ev_summary_options so = {.bounded = true, .to = f->size};
    json_decref(summary_json(f->tu.dir, &so, &summary_text));
    char *embedded = json_dumps(get(j, "summary"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(embedded, summary_text);
    free(embedded);
    free(summary_text);
    /* Notable rows, in log order. */
    json_t *rows = get(j, "notable_events.rows");
    assert_int_equal(json_array_size(rows), 5);
    assert_int_equal(num(j, "notable_events.total"), 5);
    assert_int_equal(num(j, "notable_events.not_shown"), 0);
    static const json_int_t want[] = {0, 1, 3, 7, 8};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(num(json_array_get(rows, i), "index"), want[i]);
    }
    assert_string_equal(json_string_value(get(json_array_get(rows, 4), "severity")), "critical");
    json_decref(j);
    free(note);
    ev_report_free(r);
    ev_report_free(NULL);

    /*
     * Few rows: the most severe are kept, shown in log order. Entry 0 (a scan
     * with a critical finding) ranks as critical, like entry 8; entry 7 (error)
     * is left out.
     */
    struct ev_report_options two = {.max_rows = 2};
    r = report(f, &two);
    j = render_json(r);
    rows = get(j, "notable_events.rows");
    assert_int_equal(json_array_size(rows), 2);
    assert_int_equal(num(json_array_get(rows, 0), "index"), 0);
    assert_int_equal(num(json_array_get(rows, 1), "index"), 8);
    assert_int_equal(num(j, "notable_events.not_shown"), 3);
    assert_false(json_is_true(get(j, "integrity.verification.tags_checked")));
    json_decref(j);
    char *html = render(r, EV_REPORT_HTML);
    assert_non_null(strstr(html, "3 more not shown"));
    free(html);
    ev_report_free(r);

    /* A window: the commands repeat it. */
    struct ev_report_options late = {.since_ns = f->mid_ns};
    r = report(f, &late);
    assert_int_equal(ev_summary_events(ev_report_summary(r)), 4);
    j = render_json(r);
    assert_non_null(strstr(json_string_value(get(j, "integrity.commands")), " --since 20"));
    json_decref(j);
    ev_report_free(r);

    struct ev_report_options bad = {.pubkey = "not a key"};
    assert_int_equal(ev_report_build(f->tu.dir, &bad, &r), EV_EBADKEY);
    struct ev_report_options backwards = {.since_ns = 2, .until_ns = 1};
    assert_int_equal(ev_report_build(f->tu.dir, &backwards, &r), EV_ERANGE);
}

/* Entries appended after the latest checkpoint are not in the report. */
static void test_report_covers_checkpoint(void **state)
{
    struct fixture *f = *state;
    struct ev_open_options oo = {.checkpoint_interval_ns = 3600ull * 1000000000};
    struct ev_log *writer = tu_open(f->tu.dir, &oo);
    append(writer, "custom.late", EV_SEV_EMERGENCY, NULL, "{}");
    append(writer, "custom.late", EV_SEV_EMERGENCY, NULL, "{}");
    tu_ok(ev_log_sync(writer));

    struct ev_report *r = report(f, NULL);
    assert_int_equal(ev_report_tree_size(r), f->size);
    assert_int_equal(ev_summary_events(ev_report_summary(r)), 8);
    json_t *j = render_json(r);
    assert_int_equal(num(j, "summary.range.to"), f->size);
    assert_int_equal(num(j, "summary.by_severity.unknown"), 0);
    json_decref(j);
    ev_report_free(r);
    tu_ok(ev_log_close(writer)); /* signs a checkpoint over the two */

    r = report(f, NULL);
    assert_true(ev_report_verified(r));
    assert_int_equal(ev_report_tree_size(r), f->size + 2);
    assert_int_equal(ev_summary_events(ev_report_summary(r)), 10);
    ev_report_free(r);
}

static void test_report_tampered(void **state)
{
    struct fixture *f = *state;
    char segment[PATH_MAX];

    /* A byte inside entry 5's JSON (past the 12-byte record header). */
    tu_flip(tu_last_segment(f->tu.dir, segment), tu_record_offset(f->tu.dir, 5) + 12 + 40, 0x01);
    struct ev_report *r = report(f, NULL);
    assert_false(ev_report_verified(r));
    assert_int_not_equal(ev_report_verification(r)->failure, EV_FAIL_NONE);

    json_t *j = render_json(r);
    assert_true(json_is_false(get(j, "integrity.verified")));
    const char *status = json_string_value(get(j, "integrity.status"));
    assert_true(strncmp(status, "FAILED: ", 8) == 0);
    assert_string_not_equal(json_string_value(get(j, "integrity.verification.failure")), "none");
    json_decref(j);

    char *html = render(r, EV_REPORT_HTML);
    assert_non_null(strstr(html, "VERIFICATION FAILED"));
    assert_non_null(strstr(html, "class=\"status fail\""));
    assert_null(strstr(html, "Log verified"));
    free(html);
    char *md = render(r, EV_REPORT_MARKDOWN);
    assert_non_null(strstr(md, "**VERIFICATION FAILED.**"));
    free(md);
    ev_report_free(r);
}

static void test_report_hostile_strings(void **state)
{
    struct fixture *f = *state;
    struct ev_report *r = report(f, NULL);

    char *html = render(r, EV_REPORT_HTML);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
    /* No script can run, and nothing is fetched. */
    assert_non_null(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_non_null(strstr(html, "@media print"));
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "id=\"total-events\">8<"));
    assert_non_null(strstr(html, "id=\"sev-critical\">1<"));
    assert_non_null(strstr(html, "id=\"tree-size\">9<"));
    free(html);

    char *md = render(r, EV_REPORT_MARKDOWN);
    assert_null(strstr(md, "<script"));
    assert_null(strstr(md, "<img"));
    assert_non_null(strstr(md, "&lt;script&gt;"));
    assert_non_null(strstr(md, "| 8 | 5 |")); /* events, notable */
    free(md);

    json_t *j = render_json(r);
    json_t *rows = get(j, "notable_events.rows");
    json_t *last = json_array_get(rows, json_array_size(rows) - 1);
    assert_string_equal(json_string_value(get(last, "source")), HOSTILE_IMG);
    assert_non_null(strstr(json_string_value(get(last, "detail")), HOSTILE_SCRIPT));
    json_decref(j);
    ev_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_wide_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_extend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_bounded_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_integrity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_covers_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_hostile_strings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
