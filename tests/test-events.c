/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed events: the schema table, validation with errors naming the field,
 * the canonical data each type writes at each level, derived fields, the JSON
 * and C ways in agreeing byte for byte, findings cut to fit with exact
 * counts, policies (enablement, minimum severity) and custom types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>
#include <evident/policy.h>
#include <evident/syslog.h>

#include "events/events.h"
#include "json.h"
#include "privacy/sanitize.h"
#include "jsonw.h"
#include "testutil.h"

#define SHA_PRINT1 "cc42155088fca5730758db72b2a5bca33112a941dfaa2d43098ec422ce4ea213"
#define SHA_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define SHA_OOPS "fe19778cf1ce280658154f2b9c01ffbccd825a23460141dcf3794e7a2c0eb629"

/* A policy with every default but the level (and sanitization as asked). */
static struct ev_policy *policy_at(enum ev_level level, bool sanitize)
{
    struct ev_config *c = NULL;
    struct ev_policy *p = NULL;
    tu_ok(ev_config_defaults(&c));
    c->levels.default_level = level;
    c->privacy.sanitize = sanitize;
    tu_ok(ev_policy_new(c, &p));
    ev_config_free(c);
    return p;
}

static void assert_canonical(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(v);
    char *again = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, text);
    free(again);
    json_decref(v);
}

static struct ev_code_execution sample_execution(void)
{
    static const char code[] = "print(1)\n";
    static const char out[] = "hello\n";
    static const char err[] = "oops\n";
    struct ev_code_execution e = {
        .common = {.actor = {.user = "alice", .uid = EV_SOME_INT(1000)},
                   .outcome = EV_OUTCOME_SUCCESS,
                   .correlation_id = "job-7"},
        .language = "python",
        .code = {.data = code, .len = sizeof(code) - 1},
        .sandbox_id = "sbx-1",
        .exit_code = EV_SOME_INT(0),
        .duration_ms = EV_SOME_INT(42),
        .stdout_capture = {.data = out, .len = sizeof(out) - 1},
        .stderr_capture = {.data = err, .len = sizeof(err) - 1},
    };
    return e;
}

/* ---- the table -------------------------------------------------------------- */

static void test_schema_sorted_and_unique(void **state)
{
    (void)state;
    for (int t = 0; t < EV_TYPE_CUSTOM; t++) {
        const struct evi_schema *s = evi_schema_of((enum ev_event_type)t);
        assert_non_null(s);
        for (size_t i = 1; i < s->count; i++) {
            assert_true(strcmp(s->fields[i - 1].name, s->fields[i].name) < 0);
        }
        for (size_t i = 0; i < s->count; i++) {
            const struct evi_schema *sub = s->fields[i].sub;
            for (size_t j = 1; sub != NULL && j < sub->count; j++) {
                assert_true(strcmp(sub->fields[j - 1].name, sub->fields[j].name) < 0);
            }
        }
    }
}

/* What the merged tables keep precomputed for the encoder and validator, in every row. */
static void check_rows(const struct evi_schema *s, bool top)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct evi_field *f = &s->fields[i];
        assert_int_equal(evi_field_name_len(f), strlen(f->name));
        assert_true(f->name_len == 0 || f->name_len == strlen(f->name));
        assert_true(!top || f->name_len != 0);
        /* The flag stands for the by-name test it replaced. */
        bool redacted = (f->flags & EVI_DERIVED) && strcmp(f->name, "redacted") == 0;
        assert_int_equal((f->flags & EVI_REDACTED) != 0, redacted);
        assert_true(!redacted || top);
        if (f->kind == EV_FIELD_ENUM) {
            size_t n = 0;
            while (f->enum_names[n] != NULL) {
                /* Written without escaping (evi_jsonw_plain_string): plain ASCII only. */
                const char *name = f->enum_names[n];
                for (size_t k = 0; name[k] != '\0'; k++) {
                    assert_true(name[k] >= 0x20 && name[k] < 0x7f && name[k] != '"' &&
                                name[k] != '\\');
                }
                struct evi_jsonw plain, escaped;
                evi_jsonw_init(&plain, 0);
                evi_jsonw_init(&escaped, 0);
                evi_jsonw_plain_string(&plain, name, strlen(name));
                evi_jsonw_string(&escaped, name, strlen(name));
                assert_string_equal(plain.data, escaped.data);
                evi_jsonw_free(&plain);
                evi_jsonw_free(&escaped);
                n++;
            }
            assert_true(f->enum_count == 0 || f->enum_count == n);
            assert_true(!top || f->enum_count == n);
            /* The names' lengths the encoder takes instead of strlen(). */
            assert_true(!top || f->enum_name_lens != NULL);
            for (size_t k = 0; f->enum_name_lens != NULL && k < n; k++) {
                assert_int_equal(f->enum_name_lens[k], strlen(f->enum_names[k]));
            }
        } else {
            assert_int_equal(f->enum_count, 0);
            assert_null(f->enum_name_lens);
        }
        if (f->sub != NULL) {
            check_rows(f->sub, false);
        }
    }
}

static void test_schema_precomputed(void **state)
{
    (void)state;
    for (int t = 0; t < EV_TYPE_CUSTOM; t++) {
        check_rows(evi_schema_of((enum ev_event_type)t), true);
        /* A prepared event's type is the name's own pointer; a copy parses the same. */
        const char *name = ev_event_type_name((enum ev_event_type)t);
        char copy[64];
        enum ev_event_type parsed = EV_TYPE_COUNT;
        assert_string_equal(evi_schema_of((enum ev_event_type)t)->name, name);
        assert_int_equal(ev_event_type_parse(name, &parsed), 0);
        assert_int_equal(parsed, t);
        (void)snprintf(copy, sizeof(copy), "%s", name);
        parsed = EV_TYPE_COUNT;
        assert_int_equal(ev_event_type_parse(copy, &parsed), 0);
        assert_int_equal(parsed, t);
    }
}

/* The data object of event with lengths from validation (or measured again), its count. */
static char *encode_with(const struct evi_schema *schema, const void *event,
                         const struct evi_sanitizer *sanitizer, enum ev_level level,
                         bool known_lengths, unsigned *ret_redacted)
{
    struct evi_rows rows;
    struct evi_derived d;
    struct evi_arena arena = {0};
    struct evi_jsonw w;
    tu_ok(evi_event_validate(schema, event, "syslog", &rows));
    tu_ok(evi_event_derive(EV_TYPE_SYSLOG, event, &d, &arena));
    struct evi_encoding e = {.sanitizer = sanitizer,
                             .level = level,
                             .max_bytes = EV_ENTRY_MAX_BYTES,
                             .rows = known_lengths ? &rows : NULL};
    evi_jsonw_init(&w, 0);
    tu_ok(evi_event_encode(schema, event, &d, &e, &w, ret_redacted));
    evi_arena_free(&arena);
    return w.data;
}

/*
 * The encoder with the string lengths validation took against measuring each
 * string again: the same bytes and count for random syslog events (strings
 * of every length around the level cuts, secrets, escapes, invalid UTF-8) at
 * every level, with and without the sanitizer.
 */
static void test_encode_known_lengths(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a", " ", "password=hunter2 ", "\"", "\\", "\n", "\xC3\xA9",
                                         "\xFF", "AKIAIOSFODNN7EXAMPLE", "0123456789abcdef",
                                         "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"};
    const struct evi_schema *schema = evi_schema_of(EV_TYPE_SYSLOG);
    struct evi_sanitizer *sanitizer = NULL;
    uint64_t rng = 4242;
    static char texts[5][1400];
    tu_ok(evi_sanitizer_new(true, NULL, 0, &sanitizer));
    for (int round = 0; round < 600; round++) {
        size_t limits[5] = {255, 48, 128, 32, sizeof(texts[4]) - 1};
        for (size_t t = 0; t < 5; t++) {
            size_t want = (size_t)(tu_next_random(&rng) % (limits[t] + 1)), len = 0;
            while (len < want) {
                const char *piece = pieces[tu_next_random(&rng) % (sizeof(pieces) / sizeof(*pieces))];
                size_t n = strlen(piece) < want - len ? strlen(piece) : want - len;
                memcpy(texts[t] + len, piece, n);
                len += n;
            }
            texts[t][len] = '\0';
        }
        struct ev_syslog_event e = {
            .format = EV_SYSLOG_RFC5424,
            .facility = EV_SYSLOG_FACILITY((int)(tu_next_random(&rng) % 24)),
            .hostname = texts[0],
            .app_name = round % 3 == 0 ? NULL : texts[1],
            .procid = texts[2],
            .msgid = round % 5 == 0 ? NULL : texts[3],
            .timestamp = "2026-11-27T10:51:00.000004+00:00",
            .message = texts[4],
        };
        e.common.host = round % 2 == 0 ? texts[1] : NULL;
        for (int level = EV_LEVEL_MINIMAL; level <= EV_LEVEL_COMPREHENSIVE; level++) {
            for (int sanitize = 0; sanitize <= 1; sanitize++) {
                unsigned known = 0, measured = 0;
                const struct evi_sanitizer *s = sanitize ? sanitizer : NULL;
                char *a = encode_with(schema, &e, s, (enum ev_level)level, true, &known);
                char *b = encode_with(schema, &e, s, (enum ev_level)level, false, &measured);
                assert_string_equal(a, b);
                assert_int_equal(known, measured);
                free(a);
                free(b);
            }
        }
    }
    evi_sanitizer_free(sanitizer);
}

/* Memory of random events, freed all at once. */
struct pool {
    void *blocks[4096];
    size_t count;
};

static void *pool_alloc(struct pool *pool, size_t size)
{
    assert_true(pool->count < sizeof(pool->blocks) / sizeof(pool->blocks[0]));
    void *p = calloc(1, size);
    assert_non_null(p);
    pool->blocks[pool->count++] = p;
    return p;
}

/* Frees what random_object() took. */
static void pool_free(struct pool *pool)
{
    for (size_t k = 0; k < pool->count; k++) {
        free(pool->blocks[k]);
    }
    free(pool);
}

/* A string of len bytes: plain, or with bytes to escape, UTF-8 (maybe cut), a secret. */
static const char *random_text(struct pool *pool, uint64_t *rng, size_t len)
{
    static const char *const pieces[] = {"s", "\"", "\\", "\n", "\x01", "\xC3\xA9", "\xFF",
                                         "password=hunter2 ", "AKIAIOSFODNN7EXAMPLE "};
    char *t = pool_alloc(pool, len + 1);
    uint64_t r = tu_next_random(rng);
    if (r % 2 == 0) {
        memset(t, 's', len);
        return t;
    }
    for (size_t at = 0; at < len;) {
        const char *piece = pieces[tu_next_random(rng) % (sizeof(pieces) / sizeof(*pieces))];
        size_t n = strlen(piece) < len - at ? strlen(piece) : len - at;
        memcpy(t + at, piece, n);
        at += n;
    }
    return t;
}

/* A length near the limit (or small): the interesting ones for a check of bounds. */
static size_t random_len(uint64_t *rng, size_t max)
{
    switch (tu_next_random(rng) % 5) {
    case 0: return 0;
    case 1: return max > 0 ? max - 1 : 0;
    case 2: return max;
    case 3: return max + 1;
    default: return tu_next_random(rng) % 8;
    }
}

static int64_t random_int(uint64_t *rng, const struct evi_field *f)
{
    int64_t edges[] = {f->min, f->max, f->min - (f->min > INT64_MIN), f->max + (f->max < INT64_MAX),
                       0};
    return edges[tu_next_random(rng) % 5];
}

/* Fills obj (zeroed) of schema s with values set or not, valid or not, by row. */
static void random_object(struct pool *pool, uint64_t *rng, const struct evi_schema *s, void *obj,
                          int depth)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct evi_field *f = &s->fields[i];
        char *p = (char *)obj + f->offset;
        uint64_t r = tu_next_random(rng);
        if ((f->flags & EVI_DERIVED) || r % 3 == 0) {
            continue; /* unset */
        }
        switch (f->kind) {
        case EV_FIELD_STRING:
            *(const char **)p = random_text(pool, rng, random_len(rng, (size_t)f->max));
            break;
        case EV_FIELD_DIGEST:
            *(const char **)p = r % 2 ? SHA_HELLO : "not-a-digest";
            break;
        case EV_FIELD_JSON:
            *(const char **)p = r % 2 ? "{}" : "{\"z\":[1,true],\"a\":\"password=hunter2\"}";
            break;
        case EV_FIELD_INT:
            if (f->flags & EVI_PLAIN_INT) {
                *(int64_t *)p = random_int(rng, f);
            } else {
                *(struct ev_opt_int *)p = EV_SOME_INT(random_int(rng, f));
            }
            break;
        case EV_FIELD_BOOL: *(struct ev_opt_bool *)p = EV_SOME_BOOL(r % 2 == 0); break;
        case EV_FIELD_ENUM: {
            int n = 0;
            while (f->enum_names[n] != NULL) {
                n++;
            }
            *(int *)p = (int)(tu_next_random(rng) % (size_t)(n + 1)) - (r % 7 == 0);
            break;
        }
        case EV_FIELD_STRINGS: {
            struct ev_strings *l = (struct ev_strings *)(void *)p;
            size_t count = r % 5 == 0 ? (size_t)f->max + 1 : r % 3;
            const char **items = pool_alloc(pool, (count + 1) * sizeof(*items));
            for (size_t k = 0; k < count; k++) {
                items[k] = random_text(pool, rng, random_len(rng, f->item_max));
            }
            l->items = items;
            l->count = count;
            break;
        }
        case EV_FIELD_CAPTURE: {
            struct ev_capture *c = (struct ev_capture *)(void *)p;
            if (r % 5 == 1) {
                c->data = "print(\"password=hunter2\")\n";
                c->len = strlen(c->data);
                break;
            }
            c->sha256 = r % 2 ? SHA_OOPS : "bad";
            c->bytes = EV_SOME_INT(r % 4 == 0 ? -1 : 5);
            break;
        }
        case EV_FIELD_OBJECT:
            if (depth < 2) {
                random_object(pool, rng, f->sub, p, depth + 1);
            }
            break;
        case EV_FIELD_OBJECTS:
            if (depth < 2) {
                size_t count = r % 4;
                char *items = pool_alloc(pool, (count + 1) * f->item_size);
                for (size_t k = 0; k < count; k++) {
                    random_object(pool, rng, f->sub, items + k * f->item_size, depth + 1);
                }
                *(void **)p = items;
                *(size_t *)((char *)obj + f->count_offset) = count;
            }
            break;
        }
    }
}

/*
 * Validation with its shortcuts for common rows (optional and unset; a set
 * string within its limit) against the reference that puts every row
 * through the full test: the same result and message for 3,000 random events
 * of each type, and the lengths it hands the encoder are the strings'.
 */
static void test_validate_matches_reference(void **state)
{
    (void)state;
    uint64_t rng = 777;
    for (int t = 0; t < EV_TYPE_CUSTOM; t++) {
        const struct evi_schema *s = evi_schema_of((enum ev_event_type)t);
        size_t valid = 0;
        for (int round = 0; round < 3000; round++) {
            struct pool *pool = calloc(1, sizeof(*pool));
            assert_non_null(pool);
            void *event = pool_alloc(pool, s->struct_size);
            random_object(pool, &rng, s, event, 0);
            struct evi_rows rows;
            int quick = evi_event_validate(s, event, "data", &rows);
            char message[512];
            (void)snprintf(message, sizeof(message), "%s", quick < 0 ? ev_last_error() : "");
            int reference = evi_event_validate_reference(s, event, "data");
            assert_int_equal(quick, reference);
            if (reference < 0) {
                assert_string_equal(message, ev_last_error());
            } else {
                valid++;
                for (size_t i = 0; i < s->count; i++) {
                    const struct evi_field *f = &s->fields[i];
                    if (f->kind != EV_FIELD_STRING || f->max <= 0) {
                        continue;
                    }
                    const char *v = *(const char *const *)((const char *)event + f->offset);
                    if (v != NULL) {
                        assert_int_equal(rows.lengths[i], strlen(v));
                    }
                }
            }
            pool_free(pool);
        }
        /* Both ways out are taken (the events are not all refused). */
        assert_true(valid > 10 && valid < 2990);
    }
}

/*
 * The encoder driven by the rows validation saw set (evi_rows) against the
 * one that asks every row of the table in turn: for random valid events of
 * every type (unset rows, strings at their limits, escapes, UTF-8, secrets,
 * captures, objects and lists), the rows' set mask is evi_field_set()'s and
 * the bytes and the redacted count are the same at every level, with and
 * without the sanitizer.
 */
static void test_encode_rows_match_reference(void **state)
{
    (void)state;
    uint64_t rng = 9001;
    struct evi_sanitizer *sanitizer = NULL;
    tu_ok(evi_sanitizer_new(true, NULL, 0, &sanitizer));
    for (int t = 0; t < EV_TYPE_CUSTOM; t++) {
        const struct evi_schema *s = evi_schema_of((enum ev_event_type)t);
        size_t encoded = 0;
        assert_true(s->masks);
        for (int round = 0; round < 40000 && encoded < 1200; round++) {
            struct pool *pool = calloc(1, sizeof(*pool));
            assert_non_null(pool);
            void *event = pool_alloc(pool, s->struct_size);
            random_object(pool, &rng, s, event, 0);
            struct evi_rows rows;
            struct evi_derived d;
            struct evi_arena arena = {0};
            if (evi_event_validate(s, event, "data", &rows) < 0 ||
                evi_event_derive((enum ev_event_type)t, event, &d, &arena) < 0) {
                evi_arena_free(&arena);
                pool_free(pool);
                continue;
            }
            for (size_t i = 0; i < s->count; i++) {
                const struct evi_field *f = &s->fields[i];
                bool set = !(f->flags & EVI_DERIVED) &&
                           evi_field_set(f, (const char *)event + f->offset);
                assert_int_equal((rows.set >> i) & 1, set);
            }
            for (int level = EV_LEVEL_MINIMAL; level <= EV_LEVEL_COMPREHENSIVE; level++) {
                for (int sanitize = 0; sanitize <= 1; sanitize++) {
                    struct evi_encoding e = {.sanitizer = sanitize ? sanitizer : NULL,
                                             .level = (enum ev_level)level,
                                             .max_bytes = EV_ENTRY_MAX_BYTES};
                    struct evi_jsonw fast, reference;
                    unsigned fast_redacted = 0, reference_redacted = 0;
                    evi_jsonw_init(&fast, 0);
                    evi_jsonw_init(&reference, 0);
                    int r = evi_event_encode(s, event, &d, &e, &reference, &reference_redacted);
                    e.rows = &rows;
                    assert_int_equal(evi_event_encode(s, event, &d, &e, &fast, &fast_redacted), r);
                    if (r == 0) {
                        assert_string_equal(fast.data, reference.data);
                        assert_int_equal(fast_redacted, reference_redacted);
                        encoded++;
                    }
                    evi_jsonw_free(&fast);
                    evi_jsonw_free(&reference);
                }
            }
            evi_arena_free(&arena);
            pool_free(pool);
        }
        /* Enough events of each type got through to compare. */
        print_message("%s: %zu encodings compared\n", s->name, encoded);
        assert_true(encoded >= 300);
    }
    evi_sanitizer_free(sanitizer);
}

static void test_events_md_matches_table(void **state)
{
    (void)state;
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/../../docs/EVENTS.md", EV_TEST_VECTORS_DIR);
    size_t len;
    char *doc = (char *)tu_read(path, &len);
    char *tables = NULL;
    tu_ok(ev_event_schema_markdown(&tables));
    /* The document carries the generated tables verbatim between two markers. */
    const char *begin = strstr(doc, "<!-- schema:begin -->\n");
    const char *end = strstr(doc, "<!-- schema:end -->");
    assert_non_null(begin);
    assert_non_null(end);
    begin += strlen("<!-- schema:begin -->\n");
    assert_int_equal((size_t)(end - begin), strlen(tables));
    assert_memory_equal(begin, tables, strlen(tables));
    free(tables);
    free(doc);
}

static void test_type_names(void **state)
{
    (void)state;
    enum ev_event_type t;
    tu_ok(ev_event_type_parse("container_creation", &t));
    assert_int_equal(t, EV_TYPE_CONTAINER_CREATION);
    tu_ok(ev_event_type_parse("custom.deploy", &t));
    assert_int_equal(t, EV_TYPE_CUSTOM);
    assert_int_equal(ev_event_type_parse("seal", &t), EV_EFORMAT);
    assert_non_null(strstr(ev_last_error(), "unknown event type 'seal'"));
    assert_int_equal(ev_event_type_parse("user.login", &t), EV_EFORMAT);
    assert_int_equal(ev_event_type_parse("custom.", &t), EV_EFORMAT);
    assert_int_equal(ev_event_type_parse("custom.Bad", &t), EV_EFORMAT);
    enum ev_field_kind k;
    tu_ok(ev_event_field_kind(EV_TYPE_CODE_EXECUTION, "actor.user", &k));
    assert_int_equal(k, EV_FIELD_STRING);
    tu_ok(ev_event_field_kind(EV_TYPE_CODE_EXECUTION, "stdout", &k));
    assert_int_equal(k, EV_FIELD_CAPTURE);
    assert_int_equal(ev_event_field_kind(EV_TYPE_CODE_EXECUTION, "redacted", &k), EV_EFORMAT);
    assert_int_equal(ev_event_field_kind(EV_TYPE_CODE_EXECUTION, "nope", &k), EV_EFORMAT);
}

/* ---- code_execution at each level ------------------------------------------- */

static void test_code_execution_levels(void **state)
{
    (void)state;
    struct ev_code_execution e = sample_execution();
    struct ev_prepared p;
    static const char *const want[3] = {
        /* minimal: digests and sizes, no text */
        "{\"actor\":{\"uid\":1000,\"user\":\"alice\"},\"code\":{\"bytes\":9,\"sha256\":"
        "\"" SHA_PRINT1
        "\"},\"correlation_id\":\"job-7\",\"duration_ms\":42,\"exit_code\":0,\"language\":"
        "\"python\",\"outcome\":\"success\",\"sandbox_id\":\"sbx-1\",\"stderr\":{\"bytes\":5,"
        "\"sha256\":\"" SHA_OOPS "\"},\"stdout\":{\"bytes\":6,\"sha256\":\"" SHA_HELLO "\"}}",
        /* basic: outputs' text, not the code's */
        "{\"actor\":{\"uid\":1000,\"user\":\"alice\"},\"code\":{\"bytes\":9,\"sha256\":"
        "\"" SHA_PRINT1
        "\"},\"correlation_id\":\"job-7\",\"duration_ms\":42,\"exit_code\":0,\"language\":"
        "\"python\",\"outcome\":\"success\",\"sandbox_id\":\"sbx-1\",\"stderr\":{\"bytes\":5,"
        "\"sha256\":\"" SHA_OOPS
        "\",\"text\":\"oops\\n\"},\"stdout\":{\"bytes\":6,\"sha256\":\"" SHA_HELLO
        "\",\"text\":\"hello\\n\"}}",
        /* comprehensive: the code too */
        "{\"actor\":{\"uid\":1000,\"user\":\"alice\"},\"code\":{\"bytes\":9,\"sha256\":"
        "\"" SHA_PRINT1 "\",\"text\":\"print(1)\\n\"},\"correlation_id\":\"job-7\",\"duration_ms\":"
        "42,\"exit_code\":"
        "0,\"language\":\"python\",\"outcome\":\"success\",\"sandbox_id\":\"sbx-1\",\"stderr\":{"
        "\"bytes\":5,\"sha256\":\"" SHA_OOPS "\",\"text\":\"oops\\n\"},\"stdout\":{\"bytes\":6,"
        "\"sha256\":\"" SHA_HELLO "\",\"text\":\"hello\\n\"}}",
    };
    for (int level = 0; level < 3; level++) {
        struct ev_policy *pol = policy_at((enum ev_level)level, true);
        tu_ok(ev_code_execution_prepare(pol, &e, &p));
        assert_false(p.dropped);
        assert_string_equal(p.event.type, "code_execution");
        assert_int_equal(p.event.severity, EV_SEV_INFO);
        assert_string_equal(p.event.data_json, want[level]);
        assert_canonical(p.event.data_json);
        ev_prepared_release(&p);
        ev_policy_free(pol);
    }
}

static void test_json_and_struct_agree(void **state)
{
    (void)state;
    struct ev_code_execution e = sample_execution();
    struct ev_prepared a, b;
    tu_ok(ev_code_execution_prepare(NULL, &e, &a));
    struct ev_event in = {
        .type = "code_execution",
        .severity = -1,
        .data_json = "{\"language\":\"python\",\"code\":\"print(1)\\n\",\"sandbox_id\":\"sbx-1\","
                     "\"exit_code\":0,\"duration_ms\":42,\"stdout\":\"hello\\n\",\"stderr\":"
                     "\"oops\\n\",\"outcome\":\"success\",\"correlation_id\":\"job-7\","
                     "\"actor\":{\"user\":\"alice\",\"uid\":1000}}",
    };
    tu_ok(ev_event_prepare(NULL, &in, &b));
    assert_string_equal(a.event.data_json, b.event.data_json);
    assert_int_equal(a.event.severity, b.event.severity);
    ev_prepared_release(&a);
    ev_prepared_release(&b);
}

static void test_capture_cut_and_sanitized_first(void **state)
{
    (void)state;
    /* 2000 bytes of output with an AWS key straddling the 1 KiB cut of level basic. */
    char out[2001];
    memset(out, 'x', 2000);
    memcpy(out + 1015, " AKIAIOSFODNN7EXAMPLE ", 22);
    out[2000] = '\0';
    struct ev_code_execution e = {.language = "sh", .stdout_capture = {out, 2000}};
    struct ev_prepared p;
    tu_ok(ev_code_execution_prepare(NULL, &e, &p));
    assert_null(strstr(p.event.data_json, "AKIA"));
    assert_null(strstr(p.event.data_json, "EXAMPLE"));
    assert_non_null(strstr(p.event.data_json, "\"bytes\":2000,"));
    assert_non_null(strstr(p.event.data_json, "\"truncated\":true}"));
    assert_non_null(strstr(p.event.data_json, "\"redacted\":1,"));
    assert_int_equal(p.redacted, 1);
    json_t *v = json_loads(p.event.data_json, 0, NULL);
    const char *text = json_string_value(json_object_get(json_object_get(v, "stdout"), "text"));
    assert_non_null(text);
    assert_true(strlen(text) <= 1024);
    json_decref(v);
    ev_prepared_release(&p);

    /* Invalid UTF-8 becomes U+FFFD; the digest is of the bytes given. */
    static const char bad[] = "a\xff"
                              "b";
    struct ev_code_execution e2 = {.language = "sh", .stdout_capture = {bad, 3}};
    tu_ok(ev_code_execution_prepare(NULL, &e2, &p));
    assert_non_null(strstr(p.event.data_json, "\"text\":\"a\xEF\xBF\xBD"
                                              "b\""));
    assert_canonical(p.event.data_json);
    ev_prepared_release(&p);
}

/* ---- validation -------------------------------------------------------------- */

static void expect_invalid(const char *type, const char *data, int code, const char *message)
{
    struct ev_event in = {.type = type, .severity = -1, .data_json = data};
    struct ev_prepared p;
    int r = ev_event_prepare(NULL, &in, &p);
    if (r != code || strcmp(ev_last_error(), message) != 0) {
        fail_msg("%s %s: got %d '%s', want %d '%s'", type, data, r, ev_last_error(), code, message);
    }
}

static void test_validation_names_the_field(void **state)
{
    (void)state;
    expect_invalid("code_execution", "{}", EV_EFORMAT, "data.language: required");
    expect_invalid("code_execution", "{\"language\":\"\"}", EV_EFORMAT,
                   "data.language: must not be empty");
    expect_invalid("code_execution", "{\"language\":\"py\",\"exit_code\":\"1\"}", EV_EJSON,
                   "data.exit_code: expected an integer");
    expect_invalid("code_execution", "{\"language\":\"py\",\"exit_code\":4294967296}", EV_EFORMAT,
                   "data.exit_code: 4294967296 is outside -2147483648..2147483647");
    expect_invalid("code_execution", "{\"language\":\"py\",\"outcome\":\"ok\"}", EV_EFORMAT,
                   "data.outcome: not one of: success, failure, denied");
    expect_invalid("code_execution", "{\"language\":\"py\",\"redacted\":3}", EV_EFORMAT,
                   "data.redacted: set by evident, not by producers");
    expect_invalid("code_execution", "{\"language\":\"py\",\"actor\":{\"uid\":-1}}", EV_EFORMAT,
                   "data.actor.uid: -1 is outside 0..4294967295");
    expect_invalid("code_execution", "{\"language\":\"py\",\"code\":{\"sha256\":\"abc\"}}",
                   EV_EFORMAT, "data.code.sha256: expected a SHA-256 as 64 lower-case hex digits");
    expect_invalid("resource_violation",
                   "{\"resource\":\"memory\",\"limit\":1,\"observed\":2,\"action\":\"nuked\"}",
                   EV_EFORMAT,
                   "data.action: not one of: warned, throttled, killed, "
                   "denied");
    expect_invalid("resource_violation",
                   "{\"resource\":\"memory\",\"limit\":1,\"action\":"
                   "\"killed\"}",
                   EV_EFORMAT, "data.observed: required");
    expect_invalid("security_assessment",
                   "{\"tool\":\"x\",\"findings\":[{\"rule_id\":\"R1\",\"severity\":\"high\"},"
                   "{\"rule_id\":\"R2\",\"severity\":\"high\",\"line\":\"7\"}]}",
                   EV_EJSON, "data.findings[1].line: expected an integer");
    expect_invalid("security_event", "{\"category\":\"auth\",\"description\":\"d\",\"details\":[]}",
                   EV_EJSON, "data.details: expected a JSON object");
    expect_invalid("system_event", "{\"action\":\"startup\",\"extra\":1}", EV_EFORMAT,
                   "data.extra: unknown field (system_event has: action, actor, component, "
                   "config_new_sha256, config_old_sha256, correlation_id, description, details, "
                   "host, outcome, program, version)");
    expect_invalid(
        "system_event", "{\"action\":\"startup\",\"action\":\"shutdown\"}", EV_EJSON,
        "data: invalid JSON at line 1 column 28: duplicate object key near '\"action\"'");
    expect_invalid("custom.x", "{\"redacted\":1}", EV_EFORMAT,
                   "data.redacted: reserved for the count of secrets evident replaced");
    expect_invalid("custom.x", "[1]", EV_EJSON, "data: must be a JSON object");

    /* The C way in: the struct's name in the path. */
    struct ev_container_creation c = {.container_id = "c1"};
    struct ev_prepared p;
    assert_int_equal(ev_container_creation_prepare(NULL, &c, &p), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "container_creation.image: required");
    const char *caps[] = {"NET_ADMIN", NULL};
    c.image = "alpine";
    c.cap_add = (struct ev_strings){caps, 2};
    assert_int_equal(ev_container_creation_prepare(NULL, &c, &p), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "container_creation.cap_add[1]: NULL");
}

/* ---- security_assessment ---------------------------------------------------------- */

static void test_assessment_derived(void **state)
{
    (void)state;
    struct ev_finding f[] = {
        {.rule_id = "B101", .severity = EV_FINDING_LOW, .file = "a.py", .line = EV_SOME_INT(3)},
        {.rule_id = "B602",
         .severity = EV_FINDING_HIGH,
         .cwe = EV_SOME_INT(78),
         .confidence = EV_CONFIDENCE_HIGH,
         .message = "shell=True"},
        {.rule_id = "B303", .severity = EV_FINDING_MEDIUM},
        {.rule_id = "B102", .severity = EV_FINDING_HIGH},
    };
    struct ev_security_assessment a = {.tool = "bandit", .findings = f, .finding_count = 4};
    struct ev_prepared p;
    tu_ok(ev_security_assessment_prepare(NULL, &a, &p));
    assert_int_equal(p.event.severity, EV_SEV_ERROR);
    assert_string_equal(
        p.event.data_json,
        "{\"counts\":{\"critical\":0,\"high\":2,\"info\":0,\"low\":1,\"medium\":1},\"findings\":["
        "{\"confidence\":\"high\",\"cwe\":78,\"message\":\"shell=True\",\"rule_id\":\"B602\","
        "\"severity\":\"high\"},{\"rule_id\":\"B102\",\"severity\":\"high\"},{\"rule_id\":\"B303\","
        "\"severity\":\"medium\"},{\"file\":\"a.py\",\"line\":3,\"rule_id\":\"B101\",\"severity\":"
        "\"low\"}],\"findings_total\":4,\"score\":76,\"tool\":\"bandit\"}");
    ev_prepared_release(&p);

    /* Minimal: counts and score, no list. */
    struct ev_policy *pol = policy_at(EV_LEVEL_MINIMAL, true);
    tu_ok(ev_security_assessment_prepare(pol, &a, &p));
    assert_string_equal(p.event.data_json,
                        "{\"counts\":{\"critical\":0,\"high\":2,\"info\":0,\"low\":1,\"medium\":1},"
                        "\"findings_total\":4,\"score\":76,\"tool\":\"bandit\"}");
    ev_prepared_release(&p);
    ev_policy_free(pol);
}

static void test_assessment_cut_to_fit(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct ev_finding *f = calloc(N, sizeof(*f));
    char msg[200];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    for (int i = 0; i < N; i++) {
        f[i] = (struct ev_finding){.rule_id = i == N - 1 ? "CRIT" : "R",
                                   .severity = i == N - 1 ? EV_FINDING_CRITICAL : EV_FINDING_LOW,
                                   .file = "some/long/path/to/a/file.py",
                                   .message = msg};
    }
    struct ev_security_assessment a = {.tool = "semgrep", .findings = f, .finding_count = N};
    struct ev_prepared p;
    tu_ok(ev_security_assessment_prepare(NULL, &a, &p));
    assert_true(p.truncated);
    assert_true(strlen(p.event.data_json) <= EV_ENTRY_MAX_BYTES - 256);
    json_t *v = json_loads(p.event.data_json, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "findings_total")), N);
    assert_true(json_is_true(json_object_get(v, "findings_truncated")));
    json_t *list = json_object_get(v, "findings");
    assert_int_equal(json_integer_value(json_object_get(v, "findings_kept")),
                     json_array_size(list));
    assert_true(json_array_size(list) > 100 && json_array_size(list) < N);
    /* The most severe one is kept, first. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "rule_id")),
                        "CRIT");
    json_t *counts = json_object_get(v, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "low")), N - 1);
    assert_int_equal(json_integer_value(json_object_get(counts, "critical")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "score")), 0);
    assert_int_equal(p.event.severity, EV_SEV_CRITICAL);
    json_decref(v);
    ev_prepared_release(&p);
    free(f);
}

/* ---- container_creation ------------------------------------------------------------ */

static void test_container_risks(void **state)
{
    (void)state;
    const char *add[] = {"SYS_ADMIN", "CAP_NET_RAW"};
    struct ev_mount m[] = {
        {.source = "/var/run/docker.sock", .destination = "/var/run/docker.sock", .type = "bind"},
        {.source = "/etc", .destination = "/host-etc", .type = "bind"}};
    struct ev_container_creation risky = {.container_id = "c1",
                                          .image = "alpine",
                                          .privileged = EV_SOME_BOOL(true),
                                          .cap_add = {add, 2},
                                          .seccomp_profile = "unconfined",
                                          .network_mode = "host",
                                          .mounts = m,
                                          .mount_count = 2};
    const char *names[32];
    size_t n = ev_container_risks(&risky, names, 32);
    const char *want[] = {"privileged",
                          "runs_as_root",
                          "cap_sys_admin",
                          "cap_net_raw",
                          "writable_rootfs",
                          "seccomp_unconfined",
                          "new_privileges_allowed",
                          "host_network",
                          "container_socket_mount",
                          "sensitive_host_mount",
                          "no_memory_limit",
                          "no_pids_limit",
                          "no_cpu_limit"};
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
    }
    struct ev_prepared p;
    tu_ok(ev_container_creation_prepare(NULL, &risky, &p));
    assert_int_equal(p.event.severity, EV_SEV_ERROR);
    assert_non_null(strstr(p.event.data_json, "\"risks\":[\"privileged\",\"runs_as_root\","));
    ev_prepared_release(&p);

    const char *drop[] = {"ALL"};
    struct ev_container_creation hardened = {.container_id = "c2",
                                             .image = "alpine",
                                             .user = "1000:1000",
                                             .cap_drop = {drop, 1},
                                             .read_only_rootfs = EV_SOME_BOOL(true),
                                             .no_new_privileges = EV_SOME_BOOL(true),
                                             .memory_limit_bytes = EV_SOME_INT(1 << 28),
                                             .pids_limit = EV_SOME_INT(100),
                                             .cpu_millicores = EV_SOME_INT(500)};
    assert_int_equal(ev_container_risks(&hardened, names, 32), 0);
    tu_ok(ev_container_creation_prepare(NULL, &hardened, &p));
    assert_int_equal(p.event.severity, EV_SEV_INFO);
    assert_null(strstr(p.event.data_json, "\"risks\""));
    ev_prepared_release(&p);
}

static void test_default_severities(void **state)
{
    (void)state;
    struct ev_prepared p;
    struct ev_resource_violation v = {.resource = EV_RESOURCE_MEMORY,
                                      .limit = EV_SOME_INT(100),
                                      .observed = EV_SOME_INT(200),
                                      .action = EV_ACTION_KILLED};
    tu_ok(ev_resource_violation_prepare(NULL, &v, &p));
    assert_int_equal(p.event.severity, EV_SEV_ERROR);
    assert_string_equal(p.event.data_json, "{\"action\":\"killed\",\"limit\":100,\"observed\":"
                                           "200,\"resource\":\"memory\"}");
    ev_prepared_release(&p);
    v.action = EV_ACTION_WARNED;
    v.common.severity = EV_SOME_INT(EV_SEV_DEBUG);
    tu_ok(ev_resource_violation_prepare(NULL, &v, &p));
    assert_int_equal(p.event.severity, EV_SEV_DEBUG);
    ev_prepared_release(&p);

    struct ev_system_event s = {.action = EV_SYSTEM_CONFIG_CHANGE,
                                .config_old_sha256 = SHA_HELLO,
                                .config_new_sha256 = SHA_OOPS,
                                .details_json = "{ \"b\": 1, \"a\": [true] }"};
    tu_ok(ev_system_event_prepare(NULL, &s, &p));
    assert_int_equal(p.event.severity, EV_SEV_INFO);
    assert_string_equal(p.event.data_json,
                        "{\"action\":\"config_change\",\"config_new_sha256\":\"" SHA_OOPS
                        "\",\"config_old_sha256\":\"" SHA_HELLO "\",\"details\":{\"a\":[true],"
                        "\"b\":1}}");
    ev_prepared_release(&p);
}

/* ---- policies and custom types -------------------------------------------------------- */

static void test_policy_drops(void **state)
{
    (void)state;
    struct ev_config *c = NULL;
    struct ev_policy *pol = NULL;
    tu_ok(ev_config_defaults(&c));
    c->policies[EV_TYPE_SYSTEM_EVENT].enabled = false;
    c->policies[EV_TYPE_RESOURCE_VIOLATION].min_severity = EV_SEV_WARNING;
    c->policies[EV_TYPE_CODE_EXECUTION].level = EV_LEVEL_MINIMAL;
    tu_ok(ev_policy_new(c, &pol));
    ev_config_free(c);

    struct ev_prepared p;
    struct ev_system_event s = {.action = EV_SYSTEM_STARTUP};
    tu_ok(ev_system_event_prepare(pol, &s, &p));
    assert_true(p.dropped);
    assert_null(p.event.data_json);
    struct ev_resource_violation v = {.resource = EV_RESOURCE_CPU,
                                      .limit = EV_SOME_INT(1),
                                      .observed = EV_SOME_INT(2),
                                      .action = EV_ACTION_WARNED};
    tu_ok(ev_resource_violation_prepare(pol, &v, &p));
    assert_true(p.dropped); /* notice is less severe than warning */
    v.action = EV_ACTION_KILLED;
    tu_ok(ev_resource_violation_prepare(pol, &v, &p));
    assert_false(p.dropped);
    ev_prepared_release(&p);
    assert_int_equal(ev_policy_level(pol, EV_TYPE_CODE_EXECUTION), EV_LEVEL_MINIMAL);
    assert_int_equal(ev_policy_level(pol, EV_TYPE_SECURITY_EVENT), EV_LEVEL_BASIC);

    /* Appending a dropped event writes nothing. */
    struct tu_fixture *f = NULL;
    tu_setup((void **)&f);
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    uint64_t index = 99;
    assert_int_equal(ev_audit_system_event(log, pol, &s, &index), EV_DROPPED);
    assert_int_equal(index, 99);
    assert_int_equal(ev_log_size(log), 0);
    tu_ok(ev_log_close(log));
    tu_teardown((void **)&f);
    ev_policy_free(pol);
}

static void test_custom_types(void **state)
{
    (void)state;
    struct ev_prepared p;
    struct ev_event in = {.type = "custom.deploy",
                          .severity = -1,
                          .data_json = "{\"url\":\"https://bob:hunter2@example.com/x\",\"n\":1}"};
    tu_ok(ev_event_prepare(NULL, &in, &p));
    assert_string_equal(p.event.type, "custom.deploy");
    assert_int_equal(p.event.severity, EV_SEV_INFO);
    assert_null(strstr(p.event.data_json, "hunter2"));
    assert_int_equal(p.redacted, 1);
    assert_non_null(strstr(p.event.data_json, "\"redacted\":1"));
    assert_canonical(p.event.data_json);
    ev_prepared_release(&p);

    /* Sanitization off: kept as given (canonical). */
    struct ev_policy *pol = policy_at(EV_LEVEL_BASIC, false);
    tu_ok(ev_event_prepare(pol, &in, &p));
    assert_string_equal(p.event.data_json,
                        "{\"n\":1,\"url\":\"https://bob:hunter2@example.com/x\"}");
    ev_prepared_release(&p);
    ev_policy_free(pol);
}

/* ev_audit_* hands its own data to the engine unchecked: the entry must still be canonical. */
static void test_audit_entries_canonical(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    struct ev_code_execution e = sample_execution();
    static const char weird[] = "tab\there \"q\" \xC3\xA9 \x01 \xff end";
    e.command = weird;
    uint64_t index = 0;
    tu_ok(ev_audit_code_execution(log, NULL, &e, &index));
    struct ev_prepared p;
    tu_ok(ev_code_execution_prepare(NULL, &e, &p));
    struct ev_entry *entry = NULL;
    tu_ok(ev_log_entry(log, index, &entry));
    const char *data = strstr(entry->bytes, ",\"data\":");
    assert_non_null(data);
    data += strlen(",\"data\":");
    assert_int_equal(strlen(data), strlen(p.event.data_json) + 1); /* the envelope's '}' */
    assert_memory_equal(data, p.event.data_json, strlen(p.event.data_json));
    char *copy = strndup(data, strlen(data) - 1);
    assert_canonical(copy); /* the data object exactly as jansson writes it */
    free(copy);
    ev_entry_free(entry);
    ev_prepared_release(&p);
    tu_ok(ev_log_close(log));
}

/* Prepared data changed after preparation is checked like any caller's JSON. */
static void test_append_prepared(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    struct ev_resource_violation v = {.resource = EV_RESOURCE_PIDS,
                                      .limit = EV_SOME_INT(10),
                                      .observed = EV_SOME_INT(11),
                                      .action = EV_ACTION_DENIED};
    struct ev_prepared p[3];
    for (int i = 0; i < 3; i++) {
        tu_ok(ev_resource_violation_prepare(NULL, &v, &p[i]));
    }
    uint64_t first = 99;
    tu_ok(ev_audit_append_prepared(log, p, 3, &first, NULL));
    assert_int_equal(first, 0);

    /* Spaces put in after preparing: no longer the library's bytes, so canonicalized. */
    char spaced[] =
        "{ \"action\" : \"denied\", \"limit\":10,\"observed\":11,\"resource\":\"pids\"}";
    free(p[1].buffer);
    p[1].buffer = strdup(spaced);
    p[1].event.data_json = p[1].buffer;
    /* Broken JSON in the buffer: refused, nothing written. */
    p[2].buffer[3] = '\0';
    size_t bad = 99;
    assert_int_equal(ev_audit_append_prepared(log, p, 3, &first, &bad), EV_EJSON);
    assert_int_equal(bad, 2);
    assert_int_equal(ev_log_size(log), 3);
    tu_ok(ev_audit_append_prepared(log, p, 2, &first, NULL));
    struct ev_entry *entry = NULL;
    tu_ok(ev_log_entry(log, 4, &entry));
    assert_non_null(strstr(entry->bytes, ",\"data\":{\"action\":\"denied\",\"limit\":10,"));
    ev_entry_free(entry);
    /* A shorter buffer in its place (read only up to its NUL), and one byte changed. */
    free(p[1].buffer);
    p[1].buffer = strdup("{}");
    p[1].event.data_json = p[1].buffer;
    ev_prepared_release(&p[2]);
    tu_ok(ev_resource_violation_prepare(NULL, &v, &p[2]));
    char *limit = strstr(p[2].buffer, "\"limit\":10");
    assert_non_null(limit);
    limit[9] = '2';
    tu_ok(ev_audit_append_prepared(log, p + 1, 2, &first, NULL));
    assert_int_equal(first, 5);
    tu_ok(ev_log_entry(log, 5, &entry));
    assert_non_null(strstr(entry->bytes, ",\"data\":{}}"));
    ev_entry_free(entry);
    tu_ok(ev_log_entry(log, 6, &entry));
    assert_non_null(strstr(entry->bytes, "\"limit\":12,"));
    ev_entry_free(entry);
    /* Prepared events may be moved: their types and data go with them. */
    struct ev_prepared q[2];
    struct ev_event custom = {.type = "custom.moved", .severity = -1, .data_json = "{\"k\":1}"};
    tu_ok(ev_event_prepare(NULL, &custom, &q[0]));
    tu_ok(ev_resource_violation_prepare(NULL, &v, &q[1]));
    struct ev_prepared tmp = q[0];
    memmove(&q[0], &q[1], sizeof(q[0]));
    q[1] = tmp;
    tu_ok(ev_audit_append_prepared(log, q, 2, &first, NULL));
    assert_int_equal(first, 7);
    tu_ok(ev_log_entry(log, 7, &entry));
    assert_non_null(strstr(entry->bytes, "\"type\":\"resource_violation\""));
    assert_non_null(strstr(entry->bytes, "\"data\":{\"action\":\"denied\""));
    ev_entry_free(entry);
    tu_ok(ev_log_entry(log, 8, &entry));
    assert_non_null(strstr(entry->bytes, "\"type\":\"custom.moved\""));
    assert_non_null(strstr(entry->bytes, "\"data\":{\"k\":1}}"));
    ev_entry_free(entry);
    ev_prepared_release(&q[0]);
    ev_prepared_release(&q[1]);
    /* A dropped event is not appendable. */
    p[0].dropped = true;
    assert_int_equal(ev_audit_append_prepared(log, p, 1, &first, &bad), EV_EFORMAT);
    for (int i = 0; i < 3; i++) {
        ev_prepared_release(&p[i]);
    }
    tu_ok(ev_log_close(log));
}

/* Review findings, each a test that failed before its fix. */
static void test_review_regressions(void **state)
{
    (void)state;
    struct ev_prepared p;

    /* A NUL byte in a capture is written as U+FFFD, never as \u0000 (json.c refuses it). */
    static const char nul[] = {'a', '\0', 'b'};
    struct ev_code_execution e = {.language = "sh", .stdout_capture = {nul, 3}};
    tu_ok(ev_code_execution_prepare(NULL, &e, &p));
    assert_non_null(strstr(p.event.data_json, "\"text\":\"a\xEF\xBF\xBD"
                                              "b\""));
    assert_null(strstr(p.event.data_json, "\\u0000"));
    assert_true(evi_json_is_canonical_object(p.event.data_json, strlen(p.event.data_json)));
    ev_prepared_release(&p);

    /* Huge given counts: the score saturates at 0 (25 * critical overflowed). */
    struct ev_security_assessment a = {
        .tool = "t", .counts_set = true, .counts = {.critical = 1152921504606846975LL}};
    tu_ok(ev_security_assessment_prepare(NULL, &a, &p));
    assert_non_null(strstr(p.event.data_json, "\"score\":0,"));
    ev_prepared_release(&p);

    /* Credential keys count in JSON the sanitizer's own reader does not take (a real). */
    struct ev_event in = {.type = "custom.db",
                          .severity = -1,
                          .data_json = "{\"db_password\":\"hunter2-SECRET\",\"ratio\":0.5}"};
    tu_ok(ev_event_prepare(NULL, &in, &p));
    assert_string_equal(p.event.data_json,
                        "{\"db_password\":\"[REDACTED:credential]\",\"ratio\":0.5,\"redacted\":1}");
    ev_prepared_release(&p);
    struct ev_security_event se = {.category = "c",
                                   .description = "d",
                                   .details_json = "{\"api_token\":\"tok-SECRET2\",\"x\":1.5}"};
    tu_ok(ev_security_event_prepare(NULL, &se, &p));
    assert_null(strstr(p.event.data_json, "tok-SECRET2"));
    ev_prepared_release(&p);

    /* A custom event too big once the source is added is refused at preparation. */
    char *big = malloc(70000);
    int n = snprintf(big, 70000, "{\"x\":\"");
    memset(big + n, 'y', 64000);
    memcpy(big + n + 64000, "\"}", 3);
    char source[2100] = "{\"s\":\"";
    memset(source + 6, 'z', 2000);
    memcpy(source + 2006, "\"}", 3);
    struct ev_event huge = {
        .type = "custom.big", .severity = -1, .source_json = source, .data_json = big};
    assert_int_equal(ev_event_prepare(NULL, &huge, &p), EV_ETOOBIG);
    free(big);
}

/* ---- a secret never reaches the disk -------------------------------------------------- */

static bool dir_contains(const char *dir, const char *needle);

static int grep_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static const char *grep_needle;
static bool grep_found;

static int grep_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F) {
        size_t len;
        uint8_t *data = tu_read(path, &len);
        if (len > 0 && memmem(data, len, grep_needle, strlen(grep_needle)) != NULL) {
            grep_found = true;
        }
        free(data);
    }
    return 0;
}

static bool dir_contains(const char *dir, const char *needle)
{
    grep_needle = needle;
    grep_found = false;
    assert_int_equal(nftw(dir, grep_one, 16, FTW_PHYS), 0);
    return grep_found;
}

static void test_secrets_never_reach_disk(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, 0, NULL);
    struct ev_log *log = tu_open(f->dir, NULL);
    static const char out[] = "deploying with AKIAIOSFODNN7EXAMPLE and ghp_"
                              "0123456789abcdefghijklmnopqrstuvwxyzAB\n";
    struct ev_code_execution e = {
        .language = "bash",
        .command = "curl -H 'Authorization: Bearer abcdef0123456789abcdef' "
                   "https://admin:s3cr3tpassw0rd@db.example.com/",
        .stdout_capture = {out, sizeof(out) - 1},
    };
    uint64_t index;
    tu_ok(ev_audit_code_execution(log, NULL, &e, &index));
    struct ev_event custom = {
        .type = "custom.note", .severity = -1, .data_json = "{\"cfg\":\"password=Tr0ub4dor&3\"}"};
    tu_ok(ev_audit_append(log, NULL, &custom, &index));
    tu_ok(ev_log_seal(log));
    tu_ok(ev_log_close(log));
    const char *secrets[] = {"AKIAIOSFODNN7EXAMPLE", "0123456789abcdefghijklmnopqrstuvwxyzAB",
                             "abcdef0123456789abcdef", "s3cr3tpassw0rd", "Tr0ub4dor&3"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (dir_contains(f->dir, secrets[i])) {
            fail_msg("secret '%s' reached the disk", secrets[i]);
        }
    }
    assert_true(dir_contains(f->dir, "[REDACTED:"));
    struct ev_verify_report rep = tu_verify(f->dir, NULL);
    assert_int_equal(rep.failure, EV_FAIL_NONE);
}

/* The JSON writer escapes exactly as jansson does, for every ASCII byte and some UTF-8. */
static void test_jsonw_matches_jansson(void **state)
{
    (void)state;
    static const char *const multibyte[] = {"\xC3\xA9", "\xE2\x98\x83", "\xF0\x9F\x98\x80",
                                            "\xE2\x80\xA8", "\x7F"};
    uint64_t rng = 12345;
    struct evi_jsonw w;
    evi_jsonw_init(&w, 0);
    for (int round = 0; round < 20000; round++) {
        char text[96];
        size_t len = 0, want = tu_next_random(&rng) % 40;
        while (len < want) {
            uint64_t r = tu_next_random(&rng);
            if (r % 5 == 0) {
                const char *m = multibyte[(r >> 8) % 5];
                memcpy(text + len, m, strlen(m));
                len += strlen(m);
            } else {
                /* Mostly printable, often the bytes that need escapes. */
                static const char hot[] = "\"\\\b\f\n\r\t\x01\x1f";
                text[len++] = (r >> 8) % 3 == 0 ? hot[(r >> 16) % (sizeof(hot) - 1)]
                                                : (char)(0x20 + (r >> 16) % 95);
            }
        }
        json_t *str = json_stringn(text, len);
        assert_non_null(str);
        char *jan = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
        evi_jsonw_reset(&w);
        evi_jsonw_string(&w, text, len);
        assert_int_equal(evi_jsonw_error(&w), 0);
        assert_string_equal(w.data, jan);
        assert_int_equal(evi_jsonw_escaped_len(text, len) + 2, strlen(jan));
        free(jan);
        json_decref(str);
    }
    evi_jsonw_free(&w);
}

/*
 * A string value that would pass the writer's limit: EV_ETOOBIG exactly when
 * its escaped form and quotes do not fit what is left, whether the string
 * needs escapes (sized for the worst case, then exactly near the limit) or
 * not (sized exactly), and the text before it stays as it was.
 */
static void test_jsonw_string_at_limit(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "", "a", "plain ascii text", "plain ascii text of exactly 32 b", "tab\there",
        "quote\"", "\xC3\xA9" "t\xC3\xA9", "\x01\x02\x03", "\xFF" "bad", "a fairly long plain string, no escapes at all"};
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        size_t len = strlen(texts[t]);
        size_t need = evi_jsonw_escaped_len(texts[t], len) + 2;
        for (size_t max = 4; max < 4 + need + 8; max++) {
            struct evi_jsonw w;
            evi_jsonw_init(&w, max);
            evi_jsonw_raw(&w, "[", 1);
            evi_jsonw_string(&w, texts[t], len);
            bool fits = 1 + need <= max;
            assert_int_equal(evi_jsonw_error(&w), fits ? 0 : EV_ETOOBIG);
            assert_int_equal(w.len, fits ? 1 + need : 1);
            evi_jsonw_free(&w);
        }
    }
}

/*
 * The 16-byte scans of strings (jsonscan.h) against the byte-at-a-time paths:
 * one special character (or none) after every length of plain prefix across
 * the 16- and 32-byte boundaries, then plain text. The canonical check must
 * agree with a jansson round trip, the writer with jansson's escapes (or, for
 * what jansson refuses, with the length of its own per-character path).
 */
static void test_string_scan_boundaries(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } specials[] = {
        {"", 0},             {"\"", 1},           {"\\", 1},           {"\n", 1},
        {"\x01", 1},         {"\x1f", 1},         {"\x7f", 1},         {"\xC3\xA9", 2},
        {"\xE2\x98\x83", 3}, {"\xF0\x9F\x98\x80", 4}, {"\xFF", 1},     {"\xC3", 1},
        {"\xE2\x98", 2},     {"\xED\xA0\x80", 3}, {"\xC0\xAF", 2},     {"\0", 1},
    };
    /* In JSON text: what a canonical string may hold for them (escapes included). */
    static const char *const escaped[] = {"\\\"", "\\\\", "\\n", "\\u0001", "\\u001F", "\\t"};
    struct evi_jsonw w;
    evi_jsonw_init(&w, 0);
    for (size_t k = 0; k <= 40; k++) {
        for (size_t sp = 0; sp < sizeof(specials) / sizeof(specials[0]); sp++) {
            for (size_t tail = 0; tail <= 17; tail += 17) {
                char text[128];
                size_t len = 0;
                for (size_t i = 0; i < k; i++) {
                    text[len++] = (char)('a' + i % 26);
                }
                memcpy(text + len, specials[sp].bytes, specials[sp].len);
                len += specials[sp].len;
                for (size_t i = 0; i < tail; i++) {
                    text[len++] = (char)('A' + i % 26);
                }
                /* The writer: jansson's bytes where jansson takes the text. */
                evi_jsonw_reset(&w);
                evi_jsonw_string(&w, text, len);
                assert_int_equal(evi_jsonw_error(&w), 0);
                assert_int_equal(w.len, evi_jsonw_escaped_len(text, len) + 2);
                /* (NUL aside: jansson writes \u0000, the writer U+FFFD on purpose.) */
                json_t *str = memchr(text, 0, len) == NULL ? json_stringn(text, len) : NULL;
                if (str != NULL) {
                    char *jan = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
                    assert_non_null(jan);
                    assert_string_equal(w.data, jan);
                    free(jan);
                    json_decref(str);
                }
                /* The check, on the raw bytes as a member value and as a key. */
                char obj[256];
                for (int as_key = 0; as_key <= 1; as_key++) {
                    size_t n = 0;
                    memcpy(obj + n, as_key ? "{\"" : "{\"k\":\"", as_key ? 2 : 6);
                    n += as_key ? 2 : 6;
                    memcpy(obj + n, text, len);
                    n += len;
                    memcpy(obj + n, as_key ? "\":1}" : "\"}", as_key ? 4 : 2);
                    n += as_key ? 4 : 2;
                    json_t *v = json_loadb(obj, n, JSON_REJECT_DUPLICATES, NULL);
                    bool same = false;
                    if (v != NULL) {
                        char *back = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
                        same = back != NULL && strlen(back) == n && memcmp(back, obj, n) == 0;
                        free(back);
                        json_decref(v);
                    }
                    assert_int_equal(evi_json_is_canonical_object(obj, n), same);
                }
            }
        }
        /* Escapes as they stand in JSON text, after the same prefixes. */
        for (size_t e = 0; e < sizeof(escaped) / sizeof(escaped[0]); e++) {
            char obj[256];
            int n = snprintf(obj, sizeof(obj), "{\"k\":\"%.*s%s%s\"}", (int)k,
                             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", escaped[e],
                             "ABCDEFGHIJKLMNOPQ");
            json_t *v = json_loadb(obj, (size_t)n, 0, NULL);
            assert_non_null(v);
            char *back = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            assert_non_null(back);
            bool same = strcmp(back, obj) == 0;
            assert_int_equal(evi_json_is_canonical_object(obj, (size_t)n), same);
            free(back);
            json_decref(v);
        }
    }
    evi_jsonw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_sorted_and_unique),
        cmocka_unit_test(test_schema_precomputed),
        cmocka_unit_test(test_encode_known_lengths),
        cmocka_unit_test(test_validate_matches_reference),
        cmocka_unit_test(test_encode_rows_match_reference),
        cmocka_unit_test(test_jsonw_matches_jansson),
        cmocka_unit_test(test_string_scan_boundaries),
        cmocka_unit_test(test_jsonw_string_at_limit),
        cmocka_unit_test(test_events_md_matches_table),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_code_execution_levels),
        cmocka_unit_test(test_json_and_struct_agree),
        cmocka_unit_test(test_capture_cut_and_sanitized_first),
        cmocka_unit_test(test_validation_names_the_field),
        cmocka_unit_test(test_assessment_derived),
        cmocka_unit_test(test_assessment_cut_to_fit),
        cmocka_unit_test(test_container_risks),
        cmocka_unit_test(test_default_severities),
        cmocka_unit_test(test_policy_drops),
        cmocka_unit_test(test_custom_types),
        cmocka_unit_test(test_review_regressions),
        cmocka_unit_test_setup_teardown(test_audit_entries_canonical, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_append_prepared, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_secrets_never_reach_disk, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
