/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a scanner report (docs/INGEST.md): the checks every format shares
 * (size, JSON syntax, duplicate keys), the report's digest, and typed JSON
 * getters whose errors name the file and the JSON path of the bad value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "error.h"
#include "ingest-internal.h"

static const char *const format_names[EV_INGEST_FORMAT_COUNT] = {
    [EV_INGEST_BANDIT] = "bandit",
    [EV_INGEST_SEMGREP] = "semgrep",
    [EV_INGEST_SARIF] = "sarif",
    [EV_INGEST_DOCKER_INSPECT] = "docker-inspect",
};

int ev_ingest_format_parse(const char *name, enum ev_ingest_format *ret_format)
{
    if (name == NULL || ret_format == NULL) {
        return evi_error(-EINVAL, "ev_ingest_format_parse: NULL argument");
    }
    for (size_t i = 0; i < EV_INGEST_FORMAT_COUNT; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *ret_format = (enum ev_ingest_format)i;
            return 0;
        }
    }
    if (strcmp(name, "podman-inspect") == 0) {
        *ret_format = EV_INGEST_DOCKER_INSPECT;
        return 0;
    }
    return evi_error(EV_EFORMAT,
                     "unknown report format '%.64s': expected bandit, semgrep, sarif, "
                     "docker-inspect or podman-inspect",
                     name);
}

const char *ev_ingest_format_name(enum ev_ingest_format format)
{
    if ((unsigned)format >= EV_INGEST_FORMAT_COUNT) {
        return NULL;
    }
    return format_names[format];
}

size_t ev_ingest_event_count(const struct ev_ingest *ingest)
{
    return ingest == NULL ? 0 : ingest->assessment_count + ingest->container_count;
}

/* ---- owning memory ------------------------------------------------------- */

static int own(struct evi_ingest *in, void *p)
{
    if (in->owned_count == in->owned_cap) {
        size_t cap = in->owned_cap ? in->owned_cap * 2 : 16;
        void **n = realloc(in->owned, cap * sizeof(*n));
        if (n == NULL) {
            return -ENOMEM;
        }
        in->owned = n;
        in->owned_cap = cap;
    }
    in->owned[in->owned_count++] = p;
    return 0;
}

void *evi_ingest_alloc(struct evi_ingest *in, size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p != NULL && own(in, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

char *evi_ingest_strndup(struct evi_ingest *in, const char *s, size_t len)
{
    char *p = evi_ingest_alloc(in, len + 1, 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* ---- the JSON path ------------------------------------------------------- */

static size_t push(struct evi_ingest *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t push(struct evi_ingest *in, const char *fmt, ...)
{
    size_t mark = in->path_len;
    size_t room = sizeof(in->path) - in->path_len;
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(in->path + in->path_len, room, fmt, ap);
    va_end(ap);
    /* A path too deep to show whole stays cut; the parsers never nest that far. */
    in->path_len = n < 0               ? mark
                   : (size_t)n >= room ? sizeof(in->path) - 1
                                       : in->path_len + (size_t)n;
    return mark;
}

size_t evi_ingest_push_key(struct evi_ingest *in, const char *key)
{
    return push(in, in->path_len == 0 ? "%s" : ".%s", key);
}

size_t evi_ingest_push_index(struct evi_ingest *in, size_t index)
{
    return push(in, "[%zu]", index);
}

void evi_ingest_pop(struct evi_ingest *in, size_t mark)
{
    in->path_len = mark;
    in->path[mark] = '\0';
}

static int vfail(struct evi_ingest *in, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int vfail(struct evi_ingest *in, int code, const char *fmt, va_list ap)
{
    char msg[512];

    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    if (in->path_len == 0) {
        return evi_error(code, "%s: %s", in->name, msg);
    }
    return evi_error(code, "%s: %s: %s", in->name, in->path, msg);
}

int evi_ingest_fail(struct evi_ingest *in, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int r = vfail(in, code, fmt, ap);
    va_end(ap);
    return r;
}

int evi_ingest_fail_at(struct evi_ingest *in, const char *key, int code, const char *fmt, ...)
{
    size_t mark = evi_ingest_push_key(in, key);
    va_list ap;

    va_start(ap, fmt);
    int r = vfail(in, code, fmt, ap);
    va_end(ap);
    evi_ingest_pop(in, mark);
    return r;
}

/* ---- getters ------------------------------------------------------------- */

/* The member, NULL when absent or null; an error when required and so. */
static int member(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                  json_t **ret)
{
    json_t *v = json_object_get(obj, key);

    if (v != NULL && json_is_null(v)) {
        v = NULL;
    }
    if (v == NULL && required) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "missing");
    }
    *ret = v;
    return 0;
}

int evi_ingest_object(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                      json_t **ret)
{
    json_t *v = NULL;
    int r = member(in, obj, key, required, &v);

    if (r < 0) {
        return r;
    }
    if (v != NULL && !json_is_object(v)) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected an object");
    }
    *ret = v;
    return 0;
}

int evi_ingest_array(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                     json_t **ret)
{
    json_t *v = NULL;
    int r = member(in, obj, key, required, &v);

    if (r < 0) {
        return r;
    }
    if (v != NULL && !json_is_array(v)) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected an array");
    }
    *ret = v;
    return 0;
}

int evi_ingest_string(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                      size_t max, const char **ret)
{
    json_t *v = NULL;
    int r = member(in, obj, key, required, &v);

    if (r < 0) {
        return r;
    }
    if (v == NULL) {
        *ret = NULL;
        return 0;
    }
    if (!json_is_string(v)) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected a string");
    }
    if (max > 0 && json_string_length(v) > max) {
        return evi_ingest_fail_at(in, key, EV_ETOOBIG, "longer than %zu bytes", max);
    }
    if (required && json_string_length(v) == 0) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "must not be empty");
    }
    *ret = json_string_value(v);
    return 0;
}

int evi_ingest_int(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                   int64_t min, int64_t max, struct ev_opt_int *ret)
{
    json_t *v = NULL;
    int r = member(in, obj, key, required, &v);

    if (r < 0) {
        return r;
    }
    if (v == NULL) {
        *ret = (struct ev_opt_int){0};
        return 0;
    }
    if (!json_is_integer(v)) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected an integer");
    }
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        if (max == INT64_MAX) {
            return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected an integer >= %lld",
                                      (long long)min);
        }
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected an integer from %lld to %lld",
                                  (long long)min, (long long)max);
    }
    *ret = EV_SOME_INT((int64_t)n);
    return 0;
}

int evi_ingest_bool(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                    struct ev_opt_bool *ret)
{
    json_t *v = NULL;
    int r = member(in, obj, key, required, &v);

    if (r < 0) {
        return r;
    }
    if (v == NULL) {
        *ret = (struct ev_opt_bool){0};
        return 0;
    }
    if (!json_is_boolean(v)) {
        return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected true or false");
    }
    *ret = EV_SOME_BOOL(json_is_true(v));
    return 0;
}

/* The longest prefix of s of at most max bytes that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    size_t n = max;
    /* Back off continuation bytes (10xxxxxx): the cut falls before their lead byte. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}

int evi_ingest_cut(struct evi_ingest *in, const char *s, const char **ret)
{
    size_t len = s == NULL ? 0 : strlen(s);

    if (len > EV_INGEST_MESSAGE_MAX) {
        s = evi_ingest_strndup(in, s, utf8_cut(s, len, EV_INGEST_MESSAGE_MAX));
        if (s == NULL) {
            return -ENOMEM;
        }
    }
    *ret = s;
    return 0;
}

int evi_ingest_message(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                       const char **ret)
{
    const char *s = NULL;
    int r = evi_ingest_string(in, obj, key, required, 0, &s);

    if (r < 0) {
        *ret = NULL;
        return r;
    }
    return evi_ingest_cut(in, s, ret);
}

int evi_ingest_strings(struct evi_ingest *in, const json_t *obj, const char *key, size_t max_items,
                       size_t max, struct ev_strings *ret)
{
    json_t *array, *item;
    size_t i;
    int r = evi_ingest_array(in, obj, key, false, &array);

    *ret = (struct ev_strings){0};
    if (r < 0 || array == NULL) {
        return r;
    }
    if (json_array_size(array) > max_items) {
        return evi_ingest_fail_at(in, key, EV_ETOOBIG, "more than %zu items", max_items);
    }
    const char **items = evi_ingest_alloc(in, json_array_size(array), sizeof(*items));
    if (items == NULL) {
        return -ENOMEM;
    }
    size_t mark = evi_ingest_push_key(in, key);
    json_array_foreach(array, i, item)
    {
        size_t at = evi_ingest_push_index(in, i);
        if (!json_is_string(item)) {
            r = evi_ingest_fail(in, EV_EFORMAT, "expected a string");
        } else if (json_string_length(item) > max) {
            r = evi_ingest_fail(in, EV_ETOOBIG, "longer than %zu bytes", max);
        }
        evi_ingest_pop(in, at);
        if (r < 0) {
            break;
        }
        items[i] = json_string_value(item);
    }
    evi_ingest_pop(in, mark);
    if (r == 0) {
        *ret = (struct ev_strings){items, json_array_size(array)};
    }
    return r;
}

static bool equal_ignoring_case(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (ca != cb) {
            return false;
        }
    }
    return *a == *b;
}

int evi_ingest_choice(struct evi_ingest *in, const json_t *obj, const char *key, bool required,
                      const char *const *names, size_t count, size_t *ret, bool *ret_present)
{
    const char *s;
    int r = evi_ingest_string(in, obj, key, required, 64, &s);

    *ret_present = false;
    if (r < 0) {
        return r;
    }
    if (s == NULL) {
        return 0;
    }
    /* A string with a NUL inside cannot be any of the names. */
    if (strlen(s) == json_string_length(json_object_get(obj, key))) {
        for (size_t i = 0; i < count; i++) {
            if (equal_ignoring_case(s, names[i])) {
                *ret = i;
                *ret_present = true;
                return 0;
            }
        }
    }
    char list[256];
    size_t n = 0;
    for (size_t i = 0; i < count && n < sizeof(list); i++) {
        int w = snprintf(list + n, sizeof(list) - n, "%s%s", i == 0 ? "" : ", ", names[i]);
        n = w < 0 ? n : n + (size_t)w;
    }
    return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected one of %s", list);
}

/* ---- shared meanings ----------------------------------------------------- */

static bool prefix_ignoring_case(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (c != *prefix) {
            return false;
        }
    }
    return true;
}

int64_t evi_ingest_cwe(const char *text)
{
    int64_t n = 0;
    size_t digits = 0;

    if (text == NULL) {
        return 0;
    }
    if (prefix_ignoring_case(text, "external/cwe/")) {
        text += strlen("external/cwe/");
    }
    if (!prefix_ignoring_case(text, "cwe-")) {
        return 0;
    }
    text += 4;
    for (; *text >= '0' && *text <= '9'; text++, digits++) {
        if (n > EVI_INGEST_CWE_MAX / 10) {
            return 0; /* past the event's bound: not a CWE number */
        }
        n = n * 10 + (*text - '0');
    }
    /* "CWE-78", "CWE-78: title", "CWE-78 title"; never "CWE-78x". */
    if (digits == 0 || n < 1 || n > EVI_INGEST_CWE_MAX ||
        (*text != '\0' && *text != ':' && *text != ' ')) {
        return 0;
    }
    return n;
}

int evi_ingest_count_findings(struct evi_ingest *in, size_t count)
{
    if (count > EV_INGEST_MAX_FINDINGS - in->finding_total) {
        return evi_ingest_fail(in, EV_ETOOBIG, "more than %u findings in the report",
                               EV_INGEST_MAX_FINDINGS);
    }
    in->finding_total += count;
    return 0;
}

/* Findings by severity, most severe first; the order of the report within each. */
static int keep_most_severe(struct evi_ingest *in, struct ev_security_assessment *a)
{
    size_t start[EV_FINDING_CRITICAL + 2] = {0}, kept = 0;
    int64_t by[EV_FINDING_CRITICAL + 1] = {0};

    for (size_t i = 0; i < a->finding_count; i++) {
        by[a->findings[i].severity]++;
    }
    a->counts = (struct ev_finding_counts){
        .critical = by[EV_FINDING_CRITICAL],
        .high = by[EV_FINDING_HIGH],
        .medium = by[EV_FINDING_MEDIUM],
        .low = by[EV_FINDING_LOW],
        .info = by[EV_FINDING_INFO],
    };
    a->counts_set = true;
    struct ev_finding *sorted = evi_ingest_alloc(in, EV_INGEST_FINDINGS_PER_EVENT, sizeof(*sorted));
    if (sorted == NULL) {
        return -ENOMEM;
    }
    /* Where each severity starts in the sorted order. */
    for (int s = EV_FINDING_CRITICAL; s >= EV_FINDING_INFO; s--) {
        start[s] = kept;
        kept += (size_t)by[s];
    }
    for (size_t i = 0; i < a->finding_count; i++) {
        size_t at = start[a->findings[i].severity]++;
        if (at < EV_INGEST_FINDINGS_PER_EVENT) {
            sorted[at] = a->findings[i];
        }
    }
    a->findings = sorted;
    a->finding_count = EV_INGEST_FINDINGS_PER_EVENT;
    return 0;
}

int evi_ingest_assessment_done(struct evi_ingest *in, struct ev_security_assessment *a)
{
    for (size_t i = 0; i < a->finding_count; i++) {
        if (a->findings[i].severity < EV_FINDING_INFO ||
            a->findings[i].severity > EV_FINDING_CRITICAL) {
            return evi_error(-EINVAL, "finding %zu without a severity", i);
        }
    }
    return a->finding_count > EV_INGEST_FINDINGS_PER_EVENT ? keep_most_severe(in, a) : 0;
}

/* ---- the report ---------------------------------------------------------- */

static void release(struct evi_ingest *in)
{
    if (in == NULL) {
        return;
    }
    for (size_t i = 0; i < in->owned_count; i++) {
        free(in->owned[i]);
    }
    free(in->owned);
    json_decref(in->root);
    free(in);
}

void ev_ingest_free(struct ev_ingest *ingest)
{
    /* ingest is the first member of the struct evi_ingest that ev_ingest_parse() made. */
    release((struct evi_ingest *)ingest);
}

int ev_ingest_parse(enum ev_ingest_format format, const char *name, const char *report, size_t len,
                    const char *target, struct ev_ingest **ret_ingest)
{
    struct evi_ingest *in = NULL;
    json_error_t jerr;
    uint8_t digest[EVI_HASH];
    int r;

    evi_error_clear();
    if ((report == NULL && len > 0) || ret_ingest == NULL) {
        return evi_error(-EINVAL, "ev_ingest_parse: NULL argument");
    }
    if ((unsigned)format >= EV_INGEST_FORMAT_COUNT) {
        return evi_error(-EINVAL, "ev_ingest_parse: unknown format %d", (int)format);
    }
    if (name == NULL) {
        name = "report";
    }
    if (len > EV_INGEST_MAX_BYTES) {
        return evi_error(EV_ETOOBIG, "%s: %zu bytes, over the limit of %u", name, len,
                         EV_INGEST_MAX_BYTES);
    }
    in = calloc(1, sizeof(*in));
    if (in == NULL) {
        return -ENOMEM;
    }
    in->name = name;
    in->pub.format = format;
    in->pub.report_bytes = len;
    evi_sha256(report, len, digest);
    evi_hex_encode(digest, sizeof(digest), in->pub.report_sha256);

    if (len == 0) {
        r = evi_error(EV_EFORMAT, "%s: empty file", name);
        goto out;
    }
    /* JSON text never holds a NUL byte; jansson would stop at one without saying so. */
    if (memchr(report, '\0', len) != NULL) {
        r = evi_error(EV_EFORMAT, "%s: not JSON: a NUL byte at offset %zu", name,
                      (size_t)((const char *)memchr(report, '\0', len) - report));
        goto out;
    }
    in->root = json_loadb(report, len, JSON_REJECT_DUPLICATES, &jerr);
    if (in->root == NULL) {
        if (jerr.position >= 0 && (size_t)jerr.position >= len) {
            r = evi_error(EV_EFORMAT,
                          "%s: invalid JSON: the file is truncated (line %d, column %d: %s)", name,
                          jerr.line, jerr.column, jerr.text);
        } else {
            r = evi_error(EV_EFORMAT, "%s: invalid JSON at line %d, column %d: %s", name, jerr.line,
                          jerr.column, jerr.text);
        }
        goto out;
    }

    if (target == NULL) {
        target = name;
    }
    if (strlen(target) > 4096) {
        r = evi_error(EV_ETOOBIG, "target longer than 4096 bytes");
        goto out;
    }
    /* Kept as a copy: the caller's string need not outlive the call. */
    char *target_copy = evi_ingest_strndup(in, target, strlen(target));
    char *name_copy = evi_ingest_strndup(in, name, strlen(name));
    if (target_copy == NULL || name_copy == NULL) {
        r = -ENOMEM;
        goto out;
    }
    in->name = name_copy;

    switch (format) {
    case EV_INGEST_BANDIT: r = evi_ingest_bandit(in); break;
    case EV_INGEST_SEMGREP: r = evi_ingest_semgrep(in); break;
    case EV_INGEST_SARIF: r = evi_ingest_sarif(in); break;
    case EV_INGEST_DOCKER_INSPECT: r = evi_ingest_inspect(in); break;
    default: r = -EINVAL; break;
    }
    if (r < 0) {
        goto out;
    }
    for (size_t i = 0; i < in->pub.assessment_count; i++) {
        in->assessments[i].target = target_copy;
        in->assessments[i].report_sha256 = in->pub.report_sha256;
        in->assessments[i].report_bytes = EV_SOME_INT((int64_t)len);
    }
    in->pub.assessments = in->assessments;
    in->pub.containers = in->containers;
    *ret_ingest = &in->pub;
    in = NULL;
    r = 0;
out:
    release(in);
    return r;
}
