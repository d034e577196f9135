/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the JSON event reader (evi_entry_body_make) and the small text parsers
 * around entries (docs/FORMAT.md §5, §7).
 *
 * Input, for the event reader:
 *
 *     byte 0       flags: bits 0-2 severity, bit 3 severity taken from byte 1 as a signed
 *                  value instead (out of range), bit 4 no source (library default), bit 5
 *                  no data ({}), bit 6 allow the reserved types
 *     bytes 1-8    seq (little-endian) used to assemble the entry
 *     bytes 9-16   ts_ns (little-endian, sign bit cleared: the writer's clock is never
 *                  before 1970)
 *     the rest     type, source JSON and data JSON, separated by NUL bytes
 *
 * The whole input, unchanged, also goes to ev_time_parse, evi_ts_parse_exact and
 * ev_severity_parse (as a C string) and to evi_entry_view and evi_seal_parse (as bytes).
 *
 * Invariants beyond "no crash" (a violation is __builtin_trap(), a crash to libFuzzer):
 *  - an accepted body is at most EV_ENTRY_MAX_BYTES, is text without NUL, and fits in an
 *    entry at seq 0;
 *  - evi_entry_assemble succeeds exactly when evi_entry_prefix_len(seq) + body length is
 *    within EV_ENTRY_MAX_BYTES, and then writes exactly that many bytes (the writer checks a
 *    whole batch with evi_entry_prefix_len before sequencing any of it, log.c);
 *  - the assembled entry reads back with evi_entry_view with the same seq, ts and type, and
 *    is one JSON object with the seven keys of §5;
 *  - source and data come out with their keys sorted at every depth, and making a body
 *    again from the output source and data gives exactly the same bytes (idempotent);
 *  - evi_json_is_canonical_object (json.c, the fast path that lets the reader borrow the
 *    producer's text) accepts only text that jansson parses and writes back as exactly the
 *    same bytes; checked on the source and data strings and on the whole input;
 *  - evi_json_canonicalize_object (json.c, sorting members without jansson) writes exactly
 *    jansson's bytes whenever it writes any;
 *  - a seal body made from input values parses back to those values (evi_seal_parse);
 *  - the time, severity and view parsers return values in range and write their results
 *    only on success (STYLE.md: ret_* written only on success).
 *
 * Seed corpus: fuzz/corpus/event/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/error.h>
#include <evident/log.h>

#include "entry.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#define HEADER_BYTES 17
/* `{"v":1,"seq":` + 20 digits + `,"ts":"` + 30 + `",`: the most any seq and ts add. */
#define ENTRY_PREFIX_MAX (13 + 20 + 7 + EVI_TS_LEN + 2)
#define POISON 0xa5

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static bool all_poison(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != POISON) {
            return false;
        }
    }
    return true;
}

/* Keys of every object in value are in strictly increasing byte order (§5). */
static void check_sorted(json_t *value, int depth)
{
    CHECK(depth < 4096);
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++) {
            check_sorted(json_array_get(value, i), depth + 1);
        }
        return;
    }
    if (!json_is_object(value)) {
        return;
    }
    /* Iteration order of a parsed object is the order of its text (jansson keeps it). */
    const char *prev = NULL;
    for (void *it = json_object_iter(value); it != NULL; it = json_object_iter_next(value, it)) {
        const char *key = json_object_iter_key(it);
        CHECK(prev == NULL || strcmp(prev, key) < 0);
        prev = key;
        check_sorted(json_object_iter_value(it), depth + 1);
    }
}

/*
 * The canonicalizer without jansson (json.c) writes exactly jansson's bytes
 * whenever it writes anything, and never more bytes than it read.
 */
static void check_canonicalizer(const char *text, size_t len)
{
    json_error_t jerr;
    char *out = malloc(len + 1);

    CHECK(out != NULL);
    size_t n = evi_json_canonicalize_object(text, len, out, len);
    if (n > 0) {
        json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        CHECK(value != NULL && json_is_object(value));
        char *want = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
        CHECK(want != NULL && strlen(want) == n && memcmp(want, out, n) == 0);
        CHECK(evi_json_is_canonical_object(out, n));
        free(want);
        json_decref(value);
    }
    free(out);
}

/* The fast canonical-form check agrees with jansson whenever it says yes. */
static void check_canonical_detector(const char *text, size_t len)
{
    json_error_t jerr;

    check_canonicalizer(text, len);
    if (!evi_json_is_canonical_object(text, len)) {
        return; /* "ask jansson": always allowed */
    }
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(value != NULL && json_is_object(value));
    char *out = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(out != NULL && strlen(out) == len && memcmp(out, text, len) == 0);
    free(out);
    json_decref(value);
}

/* Parses one canonical object at text; returns its length in bytes. */
static size_t object_length(const char *text, size_t len, json_t **ret_value)
{
    json_error_t jerr;
    json_t *value = json_loadb(text, len, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);

    CHECK(value != NULL && json_is_object(value));
    CHECK(jerr.position > 0 && (size_t)jerr.position <= len);
    *ret_value = value;
    return (size_t)jerr.position;
}

static char *dup_range(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    CHECK(s != NULL);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void check_entry_json(const char *entry, size_t len, uint64_t seq)
{
    static const char *const keys[] = {"v", "seq", "ts", "type", "severity", "source", "data"};
    json_error_t jerr;
    json_t *root;
    size_t i = 0;

    /* jansson's integers are signed 64-bit: a larger seq is valid text it cannot load. */
    if (seq > INT64_MAX) {
        return;
    }
    root = json_loadb(entry, len, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(root != NULL && json_is_object(root) && json_object_size(root) == 7);
    for (void *it = json_object_iter(root); it != NULL; it = json_object_iter_next(root, it)) {
        CHECK(strcmp(json_object_iter_key(it), keys[i]) == 0);
        i++;
    }
    CHECK(json_integer_value(json_object_get(root, "seq")) == (json_int_t)seq);
    json_decref(root);
}

/*
 * The body is `"type":"T","severity":"S","source":SRC,"data":DAT}`: takes SRC and DAT apart,
 * checks their keys are sorted and that they are a fixed point of the reader.
 */
static void check_canonical(const struct ev_event *event, const struct evi_entry_body *body)
{
    const char *sev = ev_severity_name(event->severity);
    size_t head =
        strlen("\"type\":\"\",\"severity\":\"\",\"source\":") + strlen(event->type) + strlen(sev);
    const char *p = body->text + head, *end = body->text + body->len;
    json_t *source, *data;
    size_t n;

    CHECK(head < body->len);
    n = object_length(p, (size_t)(end - p), &source);
    char *src = dup_range(p, n);
    p += n;
    CHECK((size_t)(end - p) > strlen(",\"data\":") && memcmp(p, ",\"data\":", 8) == 0);
    p += 8;
    n = object_length(p, (size_t)(end - p), &data);
    char *dat = dup_range(p, n);
    p += n;
    CHECK(p + 1 == end && *p == '}');

    check_sorted(source, 0);
    check_sorted(data, 0);
    json_decref(source);
    json_decref(data);

    struct ev_event again = {
        .type = event->type,
        .severity = event->severity,
        .source_json = src,
        .data_json = dat,
    };
    struct evi_entry_body body2 = {0};
    CHECK(evi_entry_body_make(&again, true, &body2) == 0);
    CHECK(body2.len == body->len && memcmp(body2.text, body->text, body->len) == 0);
    evi_entry_body_free(&body2);
    free(src);
    free(dat);
}

static void check_event(const uint8_t *data, size_t size)
{
    if (size < HEADER_BYTES) {
        return;
    }
    uint8_t flags = data[0];
    uint64_t seq = get_le64(data + 1);
    int64_t ts_ns = (int64_t)(get_le64(data + 9) & INT64_MAX);

    /* type \0 source \0 data: a missing part is the empty string. */
    char *text = dup_range((const char *)data + HEADER_BYTES, size - HEADER_BYTES);
    const char *end = text + (size - HEADER_BYTES);
    const char *type = text;
    const char *source = type + strlen(type);
    source = source < end ? source + 1 : source;
    const char *dat = source + strlen(source);
    dat = dat < end ? dat + 1 : dat;

    struct ev_event event = {
        .type = type,
        .severity = (flags & 0x08) ? (int)(int8_t)data[1] : (flags & 7),
        .source_json = (flags & 0x10) ? NULL : source,
        .data_json = (flags & 0x20) ? NULL : dat,
    };
    bool allow_reserved = (flags & 0x40) != 0;
    struct evi_entry_body body;

    check_canonical_detector(source, strlen(source));
    check_canonical_detector(dat, strlen(dat));
    memset(&body, POISON, sizeof(body));

    int r = evi_entry_body_make(&event, allow_reserved, &body);
    if (r != 0) {
        CHECK(r < 0 && all_poison(&body, sizeof(body)));
        free(text);
        return;
    }
    CHECK(body.text != NULL && body.len <= EV_ENTRY_MAX_BYTES);
    CHECK(strlen(body.text) == body.len);
    CHECK(event.severity >= EV_SEV_EMERGENCY && event.severity <= EV_SEV_DEBUG);
    CHECK(allow_reserved || (strcmp(type, "seal") != 0 && strcmp(type, "retention") != 0));

    char *entry = malloc(EV_ENTRY_MAX_BYTES);
    CHECK(entry != NULL);

    /* Accepted means it fits at seq 0; at a given seq, exactly when prefix_len says so. */
    CHECK(body.len + evi_entry_prefix_len(0) <= EV_ENTRY_MAX_BYTES);
    size_t want = evi_entry_prefix_len(seq) + body.len;
    CHECK(evi_entry_prefix_len(seq) <= ENTRY_PREFIX_MAX);
    long n = evi_entry_assemble(seq, ts_ns, &body, entry, EV_ENTRY_MAX_BYTES);
    if (want > EV_ENTRY_MAX_BYTES) {
        CHECK(n == EV_ETOOBIG);
        seq = 0;
        want = evi_entry_prefix_len(0) + body.len;
        n = evi_entry_assemble(seq, ts_ns, &body, entry, EV_ENTRY_MAX_BYTES);
    }
    CHECK(n > 0 && (size_t)n == want);

    /* Exact-size copy so that a read past the entry is an ASan report. */
    uint8_t *exact = malloc((size_t)n);
    CHECK(exact != NULL);
    memcpy(exact, entry, (size_t)n);
    struct evi_entry_view view;
    CHECK(evi_entry_view(exact, (size_t)n, &view) == 0);
    CHECK(view.seq == seq);
    CHECK(view.ts_ns == ts_ns);
    CHECK(view.type_len == strlen(type) && memcmp(view.type, type, view.type_len) == 0);
    check_entry_json(entry, (size_t)n, seq);
    check_canonical(&event, &body);

    free(exact);
    free(entry);
    evi_entry_body_free(&body);
    free(text);
}

/* A seal made from input values reads back as the same values (§7). */
static void check_seal_roundtrip(const uint8_t *data, size_t size)
{
    struct evi_seal seal, parsed;
    struct evi_entry_body body;
    char entry[EV_ENTRY_MAX_BYTES];

    if (size < 4 + 8 + 64) {
        return;
    }
    seal.epoch = (uint32_t)get_le64(data);
    seal.tree_size = get_le64(data + 4) & INT64_MAX;
    memcpy(seal.root, data + 12, 32);
    memcpy(seal.chain_head, data + 44, 32);
    CHECK(evi_seal_body_make(&seal, &body) == 0);
    long n = evi_entry_assemble(seal.tree_size, 0, &body, entry, sizeof(entry));
    CHECK(n > 0);
    CHECK(evi_seal_parse((const uint8_t *)entry, (size_t)n, &parsed) == 0);
    CHECK(parsed.epoch == seal.epoch && parsed.tree_size == seal.tree_size);
    CHECK(memcmp(parsed.root, seal.root, 32) == 0);
    CHECK(memcmp(parsed.chain_head, seal.chain_head, 32) == 0);
    evi_entry_body_free(&body);
}

static void check_raw(const uint8_t *data, size_t size)
{
    char *text = dup_range((const char *)data, size);
    int64_t ns;
    int severity;

    ns = (int64_t)0xa5a5a5a5a5a5a5a5;
    if (ev_time_parse(text, &ns) == 0) {
        /* A time the writer's clock can hold formats and reads back exactly. */
        if (ns >= 0) {
            char ts[EVI_TS_LEN + 1];
            int64_t back;
            evi_ts_format(ns, ts);
            CHECK(evi_ts_parse_exact(ts, &back) == 0 && back == ns);
        }
    } else {
        CHECK(ns == (int64_t)0xa5a5a5a5a5a5a5a5);
    }

    ns = (int64_t)0xa5a5a5a5a5a5a5a5;
    if (evi_ts_parse_exact(text, &ns) == 0) {
        /* What the strict parser accepts, the lenient one accepts with the same value. */
        int64_t lenient;
        CHECK(strlen(text) == EVI_TS_LEN);
        CHECK(ev_time_parse(text, &lenient) == 0 && lenient == ns);
    } else {
        CHECK(ns == (int64_t)0xa5a5a5a5a5a5a5a5);
    }

    severity = 0x5a5a5a5a;
    if (ev_severity_parse(text, &severity) == 0) {
        int again = -1;
        CHECK(severity >= EV_SEV_EMERGENCY && severity <= EV_SEV_DEBUG);
        CHECK(ev_severity_parse(ev_severity_name(severity), &again) == 0 && again == severity);
    } else {
        CHECK(severity == 0x5a5a5a5a);
    }
    free(text);

    struct evi_entry_view view;
    memset(&view, POISON, sizeof(view));
    if (evi_entry_view(data, size, &view) == 0) {
        const char *start = (const char *)data;
        CHECK(view.type > start && view.type + view.type_len < start + size);
        CHECK(view.type_len >= 1 && view.type_len <= EVI_TYPE_MAX);
        CHECK(view.type[view.type_len] == '"');
        CHECK(view.ts_ns >= 0);
    } else {
        CHECK(all_poison(&view, sizeof(view)));
    }

    struct evi_seal seal;
    memset(&seal, POISON, sizeof(seal));
    if (evi_seal_parse(data, size, &seal) != 0) {
        CHECK(all_poison(&seal, sizeof(seal)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_canonical_detector((const char *)data, size);
    check_raw(data, size);
    check_event(data, size);
    check_seal_roundtrip(data, size);
    return 0;
}
