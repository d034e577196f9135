/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the secret sanitizer (src/lib/privacy/sanitize.h).
 *
 * Input: byte 0 picks the sanitizer (bit 0: the built-ins only, or the
 * built-ins plus two configured patterns) and, for the built-ins only, the
 * scan whose plain verdict is checked (bits 1-7 modulo 3, see below); the
 * rest is the text.
 *
 * Invariants beyond "no crash" (a violation is __builtin_trap()):
 *  - evi_sanitize_text: never fails on valid arguments; a result is
 *    NUL-terminated, valid UTF-8 (whatever the input) and a fixed point (run
 *    again it reports 0);
 *  - evi_sanitize_json on the raw input: EV_EJSON exactly when
 *    evi_json_is_canonical_object() says no (the sanitizer's own one-pass
 *    scanner copies json.c's grammar);
 *  - when the input parses with jansson as an object: its canonical dump
 *    (JSON_COMPACT | JSON_SORT_KEYS) goes through evi_sanitize_json; the
 *    result parses, jansson dumps it back to the same bytes (canonical), it
 *    has the same shape and keys, every string value is what
 *    evi_sanitize_text makes of the input's value (or, under an object key,
 *    one marker: a credential key's whole value), every other value is
 *    unchanged, and it is a fixed point;
 *  - the prefilter as the sanitizer runs it (evi_sanitize_prefilter(), fast)
 *    agrees with its byte-at-a-time reference on the text: the same built-in
 *    anchors and the same UTF-8 verdict, for the built-ins scanned 32 bytes
 *    per step (where the CPU has AVX2), the built-ins 16 bytes per step
 *    (evi_sanitizer_scan32() off) and a sanitizer without built-ins (the
 *    scan of the bytes >= 0x80 only); and for the one byte 0 picks, the
 *    plain verdict of evi_sanitize_text_plain() is evi_sanitize_json_plain()
 *    of the text when it comes back unchanged (and false otherwise). For the
 *    sanitizer with configured patterns beside the built-ins (when byte 0
 *    picks it), whose pass cannot always tell, plain may be false where the
 *    reference says true, never true where it says false.
 *
 * Seed corpus: fuzz/corpus/sanitize/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/error.h>

#include "json.h"
#include "privacy/sanitize.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static struct evi_sanitizer *sanitizers[2];

/* The scans compared with the reference (as tests/test-sanitize.c's scan_sanitizers()): the
 * built-ins 32 bytes per step where the CPU has AVX2 (sanitizers[0]), the built-ins 16 bytes
 * per step, and no built-ins. */
#define SCANS 3
static struct evi_sanitizer *scans[SCANS];

static void init(void)
{
    static struct ev_sanitize_pattern configured[] = {
        {(char *)"ticket", (char *)"TICKET-[0-9]+"},
        {(char *)"word", (char *)"(?i)hunter2|s3cr3t"},
    };
    if (sanitizers[0] != NULL) {
        return;
    }
    CHECK(evi_sanitizer_new(true, NULL, 0, &sanitizers[0]) == 0);
    CHECK(evi_sanitizer_new(true, configured, 2, &sanitizers[1]) == 0);
#if defined(__x86_64__) && defined(__GNUC__)
    /* Off only where the CPU lacks AVX2. */
    CHECK(evi_sanitizer_scan32(sanitizers[0], true) == (__builtin_cpu_supports("avx2") != 0));
#endif
    scans[0] = sanitizers[0];
    CHECK(evi_sanitizer_new(true, NULL, 0, &scans[1]) == 0);
    CHECK(!evi_sanitizer_scan32(scans[1], false));
    CHECK(evi_sanitizer_new(false, configured, 1, &scans[2]) == 0);
    CHECK(!evi_sanitizer_scan32(scans[2], true));
}

static bool valid_utf8(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = evi_utf8_decode((const uint8_t *)s + i, len - i, NULL);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

static void check_text(const struct evi_sanitizer *s, const char *text, size_t len)
{
    char *out = NULL;
    size_t out_len = 0;
    int r = evi_sanitize_text(s, text, len, &out, &out_len);

    CHECK(r >= 0);
    if (r == 0) {
        CHECK(out == NULL && out_len == 0);
        return;
    }
    CHECK(out != NULL && out[out_len] == '\0');
    CHECK(valid_utf8(out, out_len));
    CHECK(memmem(out, out_len, "[REDACTED:", 10) != NULL);

    char *again = NULL;
    size_t again_len = 0;
    CHECK(evi_sanitize_text(s, out, out_len, &again, &again_len) == 0);
    CHECK(again == NULL);
    free(out);
}

/* out is what evi_sanitize_text makes of the string in (in itself when nothing matched). */
static bool sanitized_equal(const struct evi_sanitizer *s, json_t *in, json_t *out, bool member)
{
    const char *text = json_string_value(in);
    size_t len = json_string_length(in);
    char *clean = NULL;
    size_t clean_len = 0;
    int r = evi_sanitize_text(s, text, len, &clean, &clean_len);
    bool equal;

    CHECK(r >= 0);
    if (r == 0) {
        clean = (char *)text;
        clean_len = len;
    }
    equal = json_string_length(out) == clean_len &&
            memcmp(json_string_value(out), clean, clean_len) == 0;
    if (!equal && member) {
        /* A value under a credential key: one marker, the whole value. */
        const char *o = json_string_value(out);
        size_t n = json_string_length(out);
        equal = n > 11 && memcmp(o, "[REDACTED:", 10) == 0 && o[n - 1] == ']' &&
                strspn(o + 10, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n - 11;
    }
    if (r > 0) {
        free(clean);
    }
    return equal;
}

/* out is in with string values sanitized: same shape, keys and other values. */
static void check_same_shape(const struct evi_sanitizer *s, json_t *in, json_t *out, bool member,
                             int depth)
{
    CHECK(depth < 64);
    CHECK(json_typeof(in) == json_typeof(out));
    switch (json_typeof(in)) {
    case JSON_OBJECT: {
        CHECK(json_object_size(in) == json_object_size(out));
        const char *key;
        json_t *value;
        json_object_foreach(in, key, value)
        {
            json_t *other = json_object_get(out, key);
            CHECK(other != NULL);
            check_same_shape(s, value, other, true, depth + 1);
        }
        break;
    }
    case JSON_ARRAY:
        CHECK(json_array_size(in) == json_array_size(out));
        for (size_t i = 0; i < json_array_size(in); i++) {
            check_same_shape(s, json_array_get(in, i), json_array_get(out, i), false, depth + 1);
        }
        break;
    case JSON_STRING: CHECK(sanitized_equal(s, in, out, member)); break;
    default: CHECK(json_equal(in, out)); break;
    }
}

/*
 * The prefilter against its reference (a pass over the text each, cheap); and, below, the
 * plain verdict against evi_sanitize_json_plain() (exact: the sanitizer's pass always tells;
 * otherwise only "true" is checked), which costs a whole sanitization.
 */
static void check_prefilter(const struct evi_sanitizer *s, const char *text, size_t len)
{
    bool fast_valid = false, ref_valid = true;
    uint32_t fast = evi_sanitize_prefilter(s, text, len, true, &fast_valid);
    uint32_t ref = evi_sanitize_prefilter(s, text, len, false, &ref_valid);
    CHECK(fast == ref && fast_valid == ref_valid);
}

static void check_plain(const struct evi_sanitizer *s, const char *text, size_t len, bool exact)
{
    char *clean = NULL;
    size_t clean_len = 0;
    bool plain = !exact;
    int r = evi_sanitize_text_plain(s, text, len, &clean, &clean_len, &plain);
    CHECK(r >= 0);
    bool want = r == 0 && evi_sanitize_json_plain(text, len);
    CHECK(plain == want || (!exact && !plain));
    free(clean);
}

static void check_json(const struct evi_sanitizer *s, const char *text, size_t len)
{
    json_error_t jerr;
    char *out = NULL;
    size_t out_len = 0;
    int r;

    /* The raw input: rejected exactly when json.c says it is not canonical. */
    r = evi_sanitize_json(s, text, len, &out, &out_len);
    CHECK((r == EV_EJSON) == !evi_json_is_canonical_object(text, len));
    CHECK(r >= 0 || r == EV_EJSON);
    free(out);
    out = NULL;

    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        return;
    }
    if (!json_is_object(value)) {
        json_decref(value);
        return;
    }
    char *canon = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(canon != NULL);
    size_t canon_len = strlen(canon);
    r = evi_sanitize_json(s, canon, canon_len, &out, &out_len);
    CHECK((r == EV_EJSON) == !evi_json_is_canonical_object(canon, canon_len));
    if (r > 0) {
        CHECK(out != NULL && out[out_len] == '\0' && strlen(out) == out_len);
        json_t *result = json_loadb(out, out_len, JSON_REJECT_DUPLICATES, &jerr);
        CHECK(result != NULL && json_is_object(result));
        char *again = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS);
        CHECK(again != NULL && strcmp(again, out) == 0);
        free(again);
        check_same_shape(s, value, result, false, 0);
        json_decref(result);

        char *twice = NULL;
        size_t twice_len = 0;
        CHECK(evi_sanitize_json(s, out, out_len, &twice, &twice_len) == 0);
        free(out);
    } else if (r == 0) {
        /* Nothing found in the object: nothing in any of its strings either. */
        check_same_shape(s, value, value, false, 0);
    }
    free(canon);
    json_decref(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    init();
    const struct evi_sanitizer *s = sanitizers[data[0] & 1];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    check_text(s, text, len);
    check_json(s, text, len);
    for (size_t i = 0; i < SCANS; i++) {
        check_prefilter(scans[i], text, len);
    }
    /* One sanitization more per input: the plain verdict of one scan, or the inexact one. */
    if (s == sanitizers[1]) {
        check_plain(s, text, len, false);
    } else {
        check_plain(scans[(data[0] >> 1) % SCANS], text, len, true);
    }
    return 0;
}
