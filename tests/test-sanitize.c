/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secret sanitizer (src/lib/privacy/sanitize.h): every built-in pattern
 * with the exact text it produces and the near misses it must leave alone,
 * configured patterns and their errors, invalid UTF-8, the canonical-JSON
 * path against jansson, idempotence, and sharing one sanitizer between
 * threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <evident/error.h>
#include <evident/policy.h>

#include "jsonw.h"
#include "privacy/patterns.h"
#include "privacy/sanitize.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length (it may hold NUL bytes). */
#define LIT(s) s, sizeof(s) - 1

struct sample {
    const char *in;
    const char *out; /* NULL: left alone */
    int count;
};

static struct evi_sanitizer *builtin_sanitizer(void)
{
    struct evi_sanitizer *s = NULL;
    int r = evi_sanitizer_new(true, NULL, 0, &s);
    if (r != 0) {
        fail_msg("evi_sanitizer_new = %d: %s", r, ev_last_error());
    }
    return s;
}

/* Sanitizing text gives want (NULL: nothing found), and the result is a fixed point. */
static void check_text_n(const struct evi_sanitizer *s, const char *in, size_t len,
                         const char *want, size_t want_len, int want_count)
{
    char *out = (char *)"untouched";
    size_t out_len = 12345;
    int r = evi_sanitize_text(s, in, len, &out, &out_len);

    if (want == NULL) {
        if (r != 0) {
            fail_msg("'%s': expected nothing, got %d: '%s'", in, r, r > 0 ? out : "");
        }
        assert_string_equal(out, "untouched");
        assert_int_equal(out_len, 12345);
        return;
    }
    if (r <= 0) {
        fail_msg("'%s': expected '%s', got %d", in, want, r);
    }
    assert_int_equal(out[out_len], '\0');
    if (out_len != want_len || memcmp(out, want, want_len) != 0) {
        fail_msg("'%s':\n  got  '%s'\n  want '%s'", in, out, want);
    }
    assert_int_equal(r, want_count);

    char *again = NULL;
    size_t again_len = 0;
    int r2 = evi_sanitize_text(s, out, out_len, &again, &again_len);
    if (r2 != 0) {
        fail_msg("'%s' is not a fixed point: %d '%s'", out, r2, r2 > 0 ? again : "");
    }
    free(out);
}

static void check_text(const struct evi_sanitizer *s, const char *in, size_t len, const char *want,
                       int want_count)
{
    check_text_n(s, in, len, want, want != NULL ? strlen(want) : 0, want_count);
}

static void check_samples(const struct evi_sanitizer *s, const struct sample *samples, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_text(s, samples[i].in, strlen(samples[i].in), samples[i].out, samples[i].count);
    }
}

static void test_builtin_names(void **state)
{
    const char *const *names = ev_sanitize_builtin_names();
    size_t n = 0;

    (void)state;
    for (; names[n] != NULL; n++) {
        assert_true(n < EVI_PAT_COUNT);
        assert_string_equal(names[n], evi_builtin_patterns[n].name);
        assert_true(strlen(names[n]) <= 32);
        assert_int_equal(strspn(names[n], "abcdefghijklmnopqrstuvwxyz0123456789_-"),
                         strlen(names[n]));
    }
    assert_int_equal(n, EVI_PAT_COUNT);
}

static const struct sample positives[] = {
    /* private_key */
    {"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----",
     "[REDACTED:private_key]", 1},
    {"key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\ndone",
     "key:\n[REDACTED:private_key]\ndone", 1},
    {"-----BEGIN EC PRIVATE KEY-----\nMHcCAQ\n-----END EC PRIVATE KEY----- x",
     "[REDACTED:private_key] x", 1},
    {"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----",
     "[REDACTED:private_key]", 1},
    {"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHz\n-----END ENCRYPTED PRIVATE KEY-----",
     "[REDACTED:private_key]", 1},
    {"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----\n",
     "[REDACTED:private_key]\n", 1},
    /* a block cut short (truncated output) is redacted to the end */
    {"cat id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKC",
     "cat id_rsa\n[REDACTED:private_key]", 1},
    /* two blocks, text between them kept */
    {"-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY----- and "
     "-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----",
     "[REDACTED:private_key] and [REDACTED:private_key]", 2},
    /* aws_access_key */
    {"key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws_access_key] here", 1},
    {"ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws_access_key]", 1},
    /* aws_secret_key */
    {"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "aws_secret_access_key = [REDACTED:aws_secret_key]", 1},
    {"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
     "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key]\n", 1},
    /* github_token */
    {"token ghp_16C7e42F292c6912E7710c838347Ae178B4a done", "token [REDACTED:github_token] done",
     1},
    {"gho_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github_token]", 1},
    {"ghu_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github_token]", 1},
    {"ghs_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github_token]", 1},
    {"ghr_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github_token]", 1},
    {"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
     "[REDACTED:github_token]", 1},
    /* slack_token, slack_webhook */
    {"SLACK=xoxb-2345678901-1234567890123-AbCdEfGhIjKl ok", "SLACK=[REDACTED:slack_token] ok", 1},
    {"xoxp-2345678901-2345678901-1234567890123-0123456789abcdef", "[REDACTED:slack_token]", 1},
    {"xapp-1-A0123456789-0123456789012-abcdef", "[REDACTED:slack_token]", 1},
    {"post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now",
     "post to [REDACTED:slack_webhook] now", 1},
    /* anthropic_key, openai_key */
    {"ANTHROPIC_API_KEY sk-ant-api03-AbCdEf0123456789AbCdEf_xyz",
     "ANTHROPIC_API_KEY [REDACTED:anthropic_key]", 1},
    {"key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 end", "key [REDACTED:openai_key] end", 1},
    /* stripe_key */
    {"stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [REDACTED:stripe_key]", 1},
    {"rk_test_4eC39HqLyjWDarjtT1zdp7dc", "[REDACTED:stripe_key]", 1},
    /* google_api_key */
    {"maps?key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&x=1",
     "maps?key=[REDACTED:google_api_key]&x=1", 1},
    /* jwt */
    {"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk ok",
     "jwt [REDACTED:jwt] ok", 1},
    {"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "[REDACTED:jwt]", 1},
    /* url_password */
    {"postgres://app:s3cret@db:5432/x", "postgres://app:[REDACTED:url_password]@db:5432/x", 1},
    {"redis://:pa%40ss@cache:6379", "redis://:[REDACTED:url_password]@cache:6379", 1},
    {"git clone https://bob:hunter2@github.com/x/y.git",
     "git clone https://bob:[REDACTED:url_password]@github.com/x/y.git", 1},
    /* basic_auth */
    {"Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED:basic_auth]", 1},
    {"{'authorization': 'basic dXNlcjpwYXNz'}", "{'authorization': 'basic [REDACTED:basic_auth]'}",
     1},
    /* bearer_token */
    {"Authorization: Bearer 0a1b2c3d4e5f6a7b8c9d", "Authorization: Bearer [REDACTED:bearer_token]",
     1},
    {"curl -H 'authorization: bearer abcdefghijklmnopQRST' x",
     "curl -H 'authorization: bearer [REDACTED:bearer_token]' x", 1},
    /* a JWT as the bearer token is named for what it is */
    {"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r",
     "Bearer [REDACTED:jwt]", 1},
    /* credential */
    {"password=hunter2&user=bob", "password=[REDACTED:credential]&user=bob", 1},
    {"login?user=bob&passwd=hunter2", "login?user=bob&passwd=[REDACTED:credential]", 1},
    {"Server=db;Uid=sa;Pwd=hunter2;", "Server=db;Uid=sa;Pwd=[REDACTED:credential];", 1},
    {"secret=abc token=def", "secret=[REDACTED:credential] token=[REDACTED:credential]", 2},
    {"API_KEY=abc123", "API_KEY=[REDACTED:credential]", 1},
    {"X-Api-Key: 0123456789abcdef", "X-Api-Key: [REDACTED:credential]", 1},
    {"DB_PASSWORD=\"two words\"", "DB_PASSWORD=\"[REDACTED:credential]\"", 1},
    {"{\"api_key\": \"abc123\", \"x\": 1}", "{\"api_key\": \"[REDACTED:credential]\", \"x\": 1}",
     1},
    {"{'password': 'a b'}", "{'password': '[REDACTED:credential]'}", 1},
    {"password: correct horse staple\nuser: bob", "password: [REDACTED:credential]\nuser: bob", 1},
    {"mysql --password hunter2 -u root", "mysql --password [REDACTED:credential] -u root", 1},
    {"tool --db-password=hunter2 --api-key abc",
     "tool --db-password=[REDACTED:credential] --api-key "
     "[REDACTED:credential]",
     2},
    {"curl -u bob:hunter2 https://x", "curl -u bob:[REDACTED:credential] https://x", 1},
    /* the more specific pattern names a secret found by two */
    {"token=ghp_16C7e42F292c6912E7710c838347Ae178B4a", "token=[REDACTED:github_token]", 1},
    /* several kinds at once */
    {"AKIAIOSFODNN7EXAMPLE password=x xoxb-2345678901-abcdefghij",
     "[REDACTED:aws_access_key] password=[REDACTED:credential] [REDACTED:slack_token]", 3},
};

static void test_builtin_positives(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    (void)state;
    check_samples(s, positives, ARRAY_SIZE(positives));
    evi_sanitizer_free(s);
}

/*
 * The prefilter's 16-byte scan for anchor bytes: every positive sample, with
 * and without a plain tail, gives the same result after 1..40 spaces (so each
 * anchor crosses the 16- and 32-byte boundaries) as without them.
 */
static void test_builtin_positives_shifted(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    char in[512], want[512];
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(positives); i++) {
        size_t in_len = strlen(positives[i].in);
        for (size_t tail = 0; tail <= 19; tail += 19) {
            char *base = NULL;
            size_t base_len = 0;
            assert_true(in_len + tail < sizeof(in));
            memcpy(in, positives[i].in, in_len);
            memset(in + in_len, ' ', tail);
            int count = evi_sanitize_text(s, in, in_len + tail, &base, &base_len);
            assert_int_equal(count, positives[i].count);
            for (size_t k = 1; k <= 40 && k + in_len + tail < sizeof(in) &&
                               k + base_len < sizeof(want);
                 k++) {
                memset(in, ' ', k);
                memcpy(in + k, positives[i].in, in_len);
                memset(in + k + in_len, ' ', tail);
                memset(want, ' ', k);
                memcpy(want + k, base, base_len);
                want[k + base_len] = '\0';
                check_text(s, in, k + in_len + tail, want, count);
            }
            free(base);
        }
    }
    /* UTF-8 sequences (valid and not) across the block edges, before and after an anchor. */
    static const char utf8[] = "\xC3\xA9\xE2\x98\x83\xF0\x9F\x98\x80 password=hunter2 \xFF\xE2\x98 "
                               "\xF0\x9F\x98\x80x";
    for (size_t k = 0; k <= 40; k++) {
        char *base = NULL, *out = NULL;
        size_t base_len = 0, out_len = 0;
        memset(in, ' ', k);
        memcpy(in + k, utf8, sizeof(utf8) - 1);
        int count = evi_sanitize_text(s, in + k, sizeof(utf8) - 1, &base, &base_len);
        assert_true(count > 0);
        assert_int_equal(evi_sanitize_text(s, in, k + sizeof(utf8) - 1, &out, &out_len), count);
        assert_int_equal(out_len, k + base_len);
        assert_memory_equal(out + k, base, base_len);
        free(base);
        free(out);
    }
    evi_sanitizer_free(s);
}

static const char *const negatives[] = {
    "",
    "a",
    "ok",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "output_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "{\"code_sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}",
    "https://example.com/path?q=1",
    "https://host:8080/p?email=a@b.com",
    "ssh git@github.com:x/y.git",
    "mailto:bob@example.com",
    "Enter your password:",
    "Enter your password: ",
    "the password is required",
    "Forgot password? Reset it",
    "passwordless: true",
    "password",
    "tokens: 5",
    "max_tokens=4096",
    "input_tokens\": 300",
    "PWD=/home/bob",
    "OLDPWD=/tmp",
    "docker run -u 1000:1000 img",
    "the bearer of this letter",
    "bearer certificates are fine",
    "Bearer short",
    "basic authentication is enabled",
    "AKIA is a prefix",
    "AKIAIOSFODNN7EXAMPL",   /* 15 after AKIA */
    "XAKIAIOSFODNN7EXAMPLE", /* inside a word */
    "ghp_short",
    "xoxb-short",
    "eyJhbGciOiJIUzI1NiJ9",
    "sk-learn",
    "task-0123456789abcdef0123456789abcdef01234567",
    "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----",
    "git commit -m 'fix the build on arm64'",
    "ls -la /home/user/project/src",
    "time: 10:00:00, key: sort_key",
    "[REDACTED:credential]",
    "password=[REDACTED:credential]",
    "x [REDACTED:aws_access_key] y [REDACTED:jwt]",
};

static void test_builtin_negatives(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(negatives); i++) {
        check_text(s, negatives[i], strlen(negatives[i]), NULL, 0);
    }
    evi_sanitizer_free(s);
}

/*
 * Markers already in the text are never matched into, but what follows them
 * is; no pattern takes its place from a marker's own bytes (its ':').
 */
static void test_markers_in_input(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    static const struct sample samples[] = {
        {"password: [REDACTED:credential] hunter2", "password: [REDACTED:credential]", 1},
        {"[REDACTED:credential]AKIAIOSFODNN7EXAMPLE",
         "[REDACTED:credential][REDACTED:aws_access_key]", 1},
        /* an unknown name is not a marker */
        {"password=[REDACTED:nope]", "password=[REDACTED:credential]", 1},
        /* the marker's ':' is no URL's user information */
        {"https://[REDACTED:credential]@db", NULL, 0},
        {"https://bob[REDACTED:credential]x@db", NULL, 0},
        /* nor does it hide a real one */
        {"://user[REDACTED:credential]:realpass@host",
         "://user[REDACTED:credential]:[REDACTED:url_password]@host", 1},
        /*
         * Found by fuzz-sanitize: credential and url_password took turns on
         * the marker's ':', two bytes a pass, and the output after the last
         * pass was no fixed point.
         */
        {"://pwd=t&@&@&@&@&@&@&@&@&@&@", "://pwd=[REDACTED:credential]&@&@&@&@&@&@&@&@&@&@", 1},
        {"://pwd=t&@", "://pwd=[REDACTED:credential]&@", 1},
    };
    (void)state;
    check_samples(s, samples, ARRAY_SIZE(samples));
    evi_sanitizer_free(s);
}

static void test_configured(void **state)
{
    struct ev_sanitize_pattern patterns[] = {
        {(char *)"ticket", (char *)"TICKET-[0-9]+"},
        {(char *)"emp-id", (char *)"\\bE\\d{6}\\b"},
        {(char *)"empty", (char *)"x*"},
        {(char *)"word", (char *)"(?i)hunter2"},
    };
    struct evi_sanitizer *s = NULL;

    (void)state;
    assert_int_equal(evi_sanitizer_new(false, patterns, ARRAY_SIZE(patterns), &s), 0);
    static const struct sample only[] = {
        {"see TICKET-123 and TICKET-9", "see [REDACTED:ticket] and [REDACTED:ticket]", 2},
        {"badge E123456 ok", "badge [REDACTED:emp-id] ok", 1},
        /* no built-ins here */
        {"password=HUNTER2 AKIAIOSFODNN7EXAMPLE", "password=[REDACTED:word] AKIAIOSFODNN7EXAMPLE",
         1},
        /* adjacent matches stay two markers */
        {"TICKET-1hunter2", "[REDACTED:ticket][REDACTED:word]", 2},
        {"TICKET-1 E123456", "[REDACTED:ticket] [REDACTED:emp-id]", 2},
    };
    check_samples(s, only, ARRAY_SIZE(only));
    /* x* matches "x"; its empty matches everywhere else do nothing */
    check_text(s, LIT("xyz"), "[REDACTED:empty]yz", 1);
    check_text(s, LIT("abc def"), NULL, 0);
    evi_sanitizer_free(s);

    /* with the built-ins: overlaps merge under the match that starts first */
    struct ev_sanitize_pattern one[] = {{(char *)"acct", (char *)"key [A-Z0-9]+"}};
    assert_int_equal(evi_sanitizer_new(true, one, 1, &s), 0);
    check_text(s, LIT("key AKIAIOSFODNN7EXAMPLE"), "[REDACTED:acct]", 1);
    check_text(s, LIT("AKIAIOSFODNN7EXAMPLE key X"), "[REDACTED:aws_access_key] [REDACTED:acct]",
               2);
    evi_sanitizer_free(s);
}

static void expect_bad(bool builtin, const char *name, const char *regex, const char *message)
{
    struct ev_sanitize_pattern p = {(char *)name, (char *)regex};
    struct evi_sanitizer *s = (struct evi_sanitizer *)&p; /* must stay untouched */
    assert_int_equal(evi_sanitizer_new(builtin, &p, 1, &s), EV_EFORMAT);
    assert_ptr_equal(s, (struct evi_sanitizer *)&p);
    assert_string_equal(ev_last_error(), message);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    expect_bad(true, "bad", "(abc",
               "privacy pattern 'bad': missing closing parenthesis at offset 4");
    expect_bad(false, "q", "a{2,1}",
               "privacy pattern 'q': numbers out of order in {} quantifier at offset 5");
    expect_bad(true, "cls", "[z-a]",
               "privacy pattern 'cls': range out of order in character class at offset 3");
    expect_bad(true, "Upper", "x",
               "privacy pattern 'Upper': name must be 1 to 32 of a-z, 0-9, '_' and '-'");
    expect_bad(true, "", "x", "privacy pattern '': name must be 1 to 32 of a-z, 0-9, '_' and '-'");
    expect_bad(true, "none", NULL, "privacy pattern 'none': no regex");

    struct evi_sanitizer *s = NULL;
    struct ev_sanitize_pattern many[EV_CONFIG_MAX_PATTERNS + 1];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++) {
        many[i] = (struct ev_sanitize_pattern){(char *)"p", (char *)"p"};
    }
    assert_int_equal(evi_sanitizer_new(true, many, ARRAY_SIZE(many), &s), EV_EFORMAT);
    assert_null(s);
    assert_int_equal(evi_sanitizer_new(true, many, EV_CONFIG_MAX_PATTERNS, &s), 0);
    evi_sanitizer_free(s);
    evi_sanitizer_free(NULL);
}

/* A configured regex that PCRE2 cannot finish redacts rather than lets anything through. */
static void test_fail_closed(void **state)
{
    struct ev_sanitize_pattern p = {(char *)"slow", (char *)"(a+)+$"};
    struct evi_sanitizer *s = NULL;
    (void)state;
    assert_int_equal(evi_sanitizer_new(false, &p, 1, &s), 0);
    check_text(s, LIT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"), "[REDACTED:slow]", 1);
    check_text(s, LIT("aaaa"), "[REDACTED:slow]", 1);
    evi_sanitizer_free(s);
}

static void test_invalid_utf8(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    (void)state;
    /* nothing found: 0, whatever the bytes */
    check_text(s, LIT("abc\xff\xfe def \xc3"), NULL, 0);
    check_text(s, LIT("\xed\xa0\x80 surrogate \xc0\xaf overlong"), NULL, 0);
    /* found: the result is valid UTF-8, invalid bytes as U+FFFD */
    check_text(s, LIT("\xff AKIAIOSFODNN7EXAMPLE \xc3"),
               "\xEF\xBF\xBD [REDACTED:aws_access_key] \xEF\xBF\xBD", 1);
    /* an invalid byte does not hide the rest of a key block */
    check_text(s,
               LIT("-----BEGIN PRIVATE KEY-----\nAB\x80"
                   "CD\n-----END PRIVATE KEY----- ok"),
               "[REDACTED:private_key] ok", 1);
    /* NUL bytes are data */
    check_text_n(s, LIT("a\0password=x b\0"), LIT("a\0password=[REDACTED:credential] b\0"), 1);
    evi_sanitizer_free(s);
}

/* Many secrets between many markers: every one replaced, in one pass over the markers. */
static void test_many(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    static const char unit[] = "[REDACTED:jwt] password=x ";
    static const char want_unit[] = "[REDACTED:jwt] password=[REDACTED:credential] ";
    const size_t n = 5000;
    char *in = malloc(n * (sizeof(unit) - 1) + 1);
    char *want = malloc(n * (sizeof(want_unit) - 1) + 1);
    (void)state;
    assert_non_null(in);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++) {
        memcpy(in + i * (sizeof(unit) - 1), unit, sizeof(unit));
        memcpy(want + i * (sizeof(want_unit) - 1), want_unit, sizeof(want_unit));
    }
    check_text(s, in, strlen(in), want, (int)n);
    free(in);
    free(want);
    evi_sanitizer_free(s);
}

/* ---- JSON ---- */

/* The bytes jansson writes for the value text holds (JSON_COMPACT | JSON_SORT_KEYS). */
static char *jansson_dump(const char *text, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (v == NULL) {
        fail_msg("jansson cannot parse '%.*s': %s", (int)len, text, err.text);
    }
    char *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(out);
    json_decref(v);
    return out;
}

static void check_json(const struct evi_sanitizer *s, const char *in, const char *want,
                       int want_count)
{
    char *out = (char *)"untouched";
    size_t out_len = 7;
    int r;

    /* The inputs are canonical: what jansson writes. */
    char *canon = jansson_dump(in, strlen(in));
    assert_string_equal(canon, in);
    free(canon);

    r = evi_sanitize_json(s, in, strlen(in), &out, &out_len);
    if (want == NULL) {
        assert_int_equal(r, 0);
        assert_string_equal(out, "untouched");
        assert_int_equal(out_len, 7);
        return;
    }
    if (r != want_count) {
        fail_msg("'%s': %d (%s), want %d", in, r, r > 0 ? out : ev_last_error(), want_count);
    }
    assert_int_equal(strlen(out), out_len);
    if (strcmp(out, want) != 0) {
        fail_msg("'%s':\n  got  '%s'\n  want '%s'", in, out, want);
    }
    /* canonical: jansson writes the very same bytes back */
    canon = jansson_dump(out, out_len);
    assert_string_equal(canon, out);
    free(canon);
    /* a fixed point */
    char *again;
    size_t again_len;
    assert_int_equal(evi_sanitize_json(s, out, out_len, &again, &again_len), 0);
    free(out);
}

static void test_json(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    (void)state;

    check_json(s, "{}", NULL, 0);
    check_json(s, "{\"a\":\"x\",\"b\":1,\"c\":[true,null,\"ok\"]}", NULL, 0);
    /* a digest is data */
    check_json(s,
               "{\"output_sha256\":"
               "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}",
               NULL, 0);
    /* nested objects and arrays, keys untouched even when they look like secrets */
    check_json(s,
               "{\"AKIAIOSFODNN7EXAMPLE\":{\"list\":[1,\"AKIAIOSFODNN7EXAMPLE\",[{\"k\":"
               "\"xoxb-2345678901-abcdefghij\"}]]},\"z\":\"ok\"}",
               "{\"AKIAIOSFODNN7EXAMPLE\":{\"list\":[1,\"[REDACTED:aws_access_key]\",[{\"k\":"
               "\"[REDACTED:slack_token]\"}]]},\"z\":\"ok\"}",
               2);
    /* escapes decoded before matching: a key block with \n inside, a quote, a tab */
    check_json(s,
               "{\"out\":\"cat key\\n-----BEGIN RSA PRIVATE KEY-----\\nMIIEow\\n-----END RSA "
               "PRIVATE KEY-----\\n\\\"done\\\"\\t\\u0001\"}",
               "{\"out\":\"cat key\\n[REDACTED:private_key]\\n\\\"done\\\"\\t\\u0001\"}", 1);
    /* a secret split by an escape is still found */
    check_json(s, "{\"cmd\":\"PASSWORD=\\\"a b\\\"\"}",
               "{\"cmd\":\"PASSWORD=\\\"[REDACTED:credential]\\\"\"}", 1);
    /* anchors around escapes the scanner sees before decoding: \" and \t */
    check_json(s, "{\"a\":\"password\\\"=x\",\"b\":\"token\\t= abc\",\"c\":\"curl -u\\tbob:pw x\"}",
               "{\"a\":\"password\\\"=[REDACTED:credential]\",\"b\":\"token\\t= "
               "[REDACTED:credential]\",\"c\":\"curl -u\\tbob:[REDACTED:credential] x\"}",
               3);
    /* credential keys: the whole value */
    check_json(s,
               "{\"db_password\":\"x\",\"n\":{\"apiKey\":\"k1\",\"token\":\"\"},\"pwd\":\"/home/"
               "x\",\"user\":\"bob\"}",
               "{\"db_password\":\"[REDACTED:credential]\",\"n\":{\"apiKey\":\"[REDACTED:"
               "credential]\",\"token\":\"\"},\"pwd\":\"/home/x\",\"user\":\"bob\"}",
               2);
    /* ...but not in arrays under them, and not numbers */
    check_json(s, "{\"password\":1,\"tokens\":[\"a\",\"b\"]}", NULL, 0);
    /* non-ASCII text around a secret */
    check_json(s, "{\"m\":\"clé: AKIAIOSFODNN7EXAMPLE — ok\"}",
               "{\"m\":\"clé: [REDACTED:aws_access_key] — ok\"}", 1);
    evi_sanitizer_free(s);
}

static void test_json_not_canonical(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    static const char *const bad[] = {
        "",
        "[]",
        "\"x\"",
        "{ }",
        "{\"a\": 1}",
        "{\"b\":1,\"a\":2}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1.5}",
        "{\"a\":01}",
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":\"\\/\"}",
        "{\"a\":\"x\"} ",
        "{\"a\":\"x\"",
        "{\"a\":\"\xff\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":tru}",
        "{\"a\\n\":1}",
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *out = (char *)"untouched";
        size_t out_len = 3;
        int r = evi_sanitize_json(s, bad[i], strlen(bad[i]), &out, &out_len);
        if (r != EV_EJSON) {
            fail_msg("'%s': %d, want EV_EJSON", bad[i], r);
        }
        assert_string_equal(ev_last_error(),
                            "sanitize: data is not a JSON object in canonical form");
        assert_string_equal(out, "untouched");
    }
    /* deep nesting is left to jansson, as json.c does */
    char deep[200];
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"a\":", 4);
    n += 4;
    for (int i = 0; i < 40; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < 40; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    char *out;
    size_t out_len;
    assert_int_equal(evi_sanitize_json(s, deep, n, &out, &out_len), EV_EJSON);
    evi_sanitizer_free(s);
}

static void test_json_configured(void **state)
{
    struct ev_sanitize_pattern p = {(char *)"ticket", (char *)"TICKET-[0-9]+"};
    struct evi_sanitizer *s = NULL;
    (void)state;
    assert_int_equal(evi_sanitizer_new(false, &p, 1, &s), 0);
    check_json(s, "{\"a\":[\"TICKET-1\\n\",\"x\"],\"password\":\"y\"}",
               "{\"a\":[\"[REDACTED:ticket]\\n\",\"x\"],\"password\":\"y\"}", 1);
    evi_sanitizer_free(s);
}

/* ---- threads ---- */

struct worker {
    const struct evi_sanitizer *s;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 2000; i++) {
        const struct sample *x = &positives[(size_t)i % ARRAY_SIZE(positives)];
        char *out = NULL;
        size_t len = 0;
        int r = evi_sanitize_text(w->s, x->in, strlen(x->in), &out, &len);
        if (r != x->count || strcmp(out, x->out) != 0) {
            w->failures++;
        }
        free(out);
        const char *json = "{\"a\":\"password=x\\n\",\"b\":\"clean\"}";
        r = evi_sanitize_json(w->s, json, strlen(json), &out, &len);
        if (r != 1 ||
            strcmp(out, "{\"a\":\"password=[REDACTED:credential]\\n\",\"b\":\"clean\"}") != 0) {
            w->failures++;
        }
        free(out);
    }
    return NULL;
}

static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* The prefilter as the sanitizer runs it agrees with its reference on text[0..len) and all its
 * suffixes (each start moves the text against the 16-byte steps). */
static void check_prefilter(const struct evi_sanitizer *s, const char *text, size_t len)
{
    for (size_t from = 0; from <= len; from++) {
        bool fast_valid = false, ref_valid = true;
        uint32_t fast = evi_sanitize_prefilter(s, text + from, len - from, true, &fast_valid);
        uint32_t ref = evi_sanitize_prefilter(s, text + from, len - from, false, &ref_valid);
        if (fast != ref || fast_valid != ref_valid) {
            fail_msg("prefilter of '%.*s' (%zu bytes): fast %#x valid %d, reference %#x valid %d",
                     (int)(len - from), text + from, len - from, fast, fast_valid, ref, ref_valid);
        }
    }
}

/*
 * The prefilter's shortcuts (16 bytes per step with the text's last bytes in
 * one step; the quick look at the bytes around a trigger before the full
 * check) against its reference, a byte at a time with the full check at
 * every trigger: the samples, and random texts of the bytes and words that
 * anchors are made of, of every length up to 70.
 */
static void test_prefilter_fast_matches_reference(void **state)
{
    static const char *const pieces[] = {
        "=",        ":",       "-",      "--",     "-u ",      "://",     " ",     "\t",     "\\t",
        "\"",       "'",       "\\",     "_",      "b",        "B",       "x",     "A",      "J",
        "a",        "k",       "s",      "y",      "d",        "e",       "t",     "n",      "u",
        "o",        "I",       "K",      "S",      "z",        "/",       "password", "pwd", "token",
        "secret",   "key",     "passphrase", "passwd", "sk", "rk",      "gh",    "github", "eyJ",
        "earer",    "asic",    "AKIA",   "AIza",   "xox",      "xapp",    "-----BEGIN ", "user",
        "hooks.slack.com/", "\xC3\xA9", "\xE2\x98\x83", "\xF0\x9F\x98\x80", "\xFF", "\xE2\x98",
        "\x80",     "0",       "9",      ".",      "Bearer ",  "basic ",  "api_key", "--password",
    };
    struct evi_sanitizer *s = builtin_sanitizer();
    uint64_t seed = 0x9e3779b97f4a7c15u;
    char text[128];
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(positives); i++) {
        check_prefilter(s, positives[i].in, strlen(positives[i].in));
    }
    for (size_t i = 0; i < ARRAY_SIZE(negatives); i++) {
        check_prefilter(s, negatives[i], strlen(negatives[i]));
    }
    for (int round = 0; round < 20000; round++) {
        size_t want = (size_t)(next_random(&seed) % 71), len = 0;
        while (len < want) {
            const char *piece = pieces[next_random(&seed) % ARRAY_SIZE(pieces)];
            size_t n = strlen(piece);
            if (next_random(&seed) % 4 == 0) {
                text[len++] = (char)(next_random(&seed) >> 24); /* any byte */
                continue;
            }
            if (len + n > want) {
                n = want - len;
            }
            memcpy(text + len, piece, n);
            len += n;
        }
        check_prefilter(s, text, len);
    }
    evi_sanitizer_free(s);
}

/*
 * evi_sanitize_text_plain() gives evi_sanitize_text()'s result, and its plain
 * verdict (found in the prefilter's 16-byte pass) is the byte-at-a-time
 * reference whenever the text comes back unchanged; for a plain text the
 * encoder's shortcut (the quoted bytes, cut to a length) writes what
 * evi_jsonw_string() of evi_jsonw_prefix_fitting() does.
 */
static void check_plain(const struct evi_sanitizer *s, const char *text, size_t len, bool exact)
{
    for (size_t from = 0; from <= len; from++) {
        const char *t = text + from;
        size_t n = len - from;
        char *clean = NULL, *ref_clean = NULL;
        size_t clean_len = 0, ref_len = 0;
        bool plain = !exact;
        int r = evi_sanitize_text_plain(s, t, n, &clean, &clean_len, &plain);
        int ref = evi_sanitize_text(s, t, n, &ref_clean, &ref_len);
        assert_int_equal(r, ref);
        if (r > 0) {
            assert_int_equal(clean_len, ref_len);
            assert_memory_equal(clean, ref_clean, clean_len);
        }
        bool want = r == 0 && evi_sanitize_json_plain(t, n);
        if (plain != want && (exact || plain)) {
            fail_msg("plain of '%.*s' (%zu bytes): %d, reference %d", (int)n, t, n, plain, want);
        }
        free(clean);
        free(ref_clean);
        if (!plain) {
            continue;
        }
        static const size_t maxes[] = {0, 1, 2, 5, 15, 16, 17, 40};
        for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
            struct evi_jsonw a, b;
            evi_jsonw_init(&a, 0);
            evi_jsonw_init(&b, 0);
            size_t keep = maxes[m] > 0 ? evi_jsonw_prefix_fitting(t, n, maxes[m]) : n;
            evi_jsonw_string(&a, t, keep);
            evi_jsonw_plain_string(&b, t, maxes[m] > 0 && n > maxes[m] ? maxes[m] : n);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
            evi_jsonw_free(&a);
            evi_jsonw_free(&b);
        }
    }
}

/*
 * evi_jsonw_plain_string() (inline, one reservation for the comma and the
 * string) against evi_jsonw_string() near a writer's limit: the same error,
 * the same comma state, and the same bytes when it fits.
 */
static void test_plain_string_at_limit(void **state)
{
    static const char text[] = "abcdefgh";
    (void)state;
    for (size_t max = 0; max < 16; max++) {
        for (int before = 0; before < 2; before++) {
            for (size_t len = 0; len < sizeof(text); len++) {
                struct evi_jsonw a, b;
                evi_jsonw_init(&a, max);
                evi_jsonw_init(&b, max);
                if (before) {
                    evi_jsonw_int(&a, 7);
                    evi_jsonw_int(&b, 7);
                }
                evi_jsonw_string(&a, text, len);
                evi_jsonw_plain_string(&b, text, len);
                assert_int_equal(evi_jsonw_error(&a), evi_jsonw_error(&b));
                assert_int_equal(a.need_comma, b.need_comma);
                if (evi_jsonw_error(&a) == 0) {
                    assert_int_equal(a.len, b.len);
                    assert_memory_equal(a.data, b.data, a.len + 1);
                }
                evi_jsonw_free(&a);
                evi_jsonw_free(&b);
            }
        }
    }
}

static void test_sanitize_plain_matches_reference(void **state)
{
    static const char *const pieces[] = {
        "a", "Z", " ", "=", ":", "-", "x", "b", "~", "\x7f", "\"", "\\", "\n", "\t", "\x01",
        "\x1f", "\xC3\xA9", "\xE2\x98\x83", "\xFF", "\x80", "password=", "token: ", "AKIA",
        "user", "Bearer ", "0123456789abcdef", "ghp_", "eyJ",
    };
    struct evi_sanitizer *s = builtin_sanitizer();
    struct ev_sanitize_pattern custom = {"ticket", "TCK-[0-9]{4}"};
    struct evi_sanitizer *with_custom = NULL;
    uint64_t seed = 0x2545f4914f6cdd1du;
    char text[128];
    (void)state;

    assert_int_equal(evi_sanitizer_new(true, &custom, 1, &with_custom), 0);
    for (size_t i = 0; i < ARRAY_SIZE(positives); i++) {
        check_plain(s, positives[i].in, strlen(positives[i].in), true);
    }
    for (size_t i = 0; i < ARRAY_SIZE(negatives); i++) {
        check_plain(s, negatives[i], strlen(negatives[i]), true);
    }
    for (int round = 0; round < 5000; round++) {
        size_t want = (size_t)(next_random(&seed) % 71), len = 0;
        while (len < want) {
            const char *piece = pieces[next_random(&seed) % ARRAY_SIZE(pieces)];
            size_t n = strlen(piece);
            if (len + n > want) {
                n = want - len;
            }
            memcpy(text + len, piece, n);
            len += n;
        }
        check_plain(s, text, len, true);
        check_plain(with_custom, text, len, false);
    }
    evi_sanitizer_free(with_custom);
    evi_sanitizer_free(s);
}

/* check_prefilter() on the whole text only. */
static void check_prefilter_once(const struct evi_sanitizer *s, const char *text, size_t len)
{
    bool fast_valid = false, ref_valid = true;
    uint32_t fast = evi_sanitize_prefilter(s, text, len, true, &fast_valid);
    uint32_t ref = evi_sanitize_prefilter(s, text, len, false, &ref_valid);
    if (fast != ref || fast_valid != ref_valid) {
        fail_msg("prefilter of '%.*s' (%zu bytes): fast %#x valid %d, reference %#x valid %d",
                 (int)len, text, len, fast, fast_valid, ref, ref_valid);
    }
}

/* check_prefilter_once(), and the plain verdict against its reference. */
static void check_scan(const struct evi_sanitizer *s, const char *text, size_t len)
{
    check_prefilter_once(s, text, len);
    char *clean = NULL;
    size_t clean_len = 0;
    bool plain = false;
    int r = evi_sanitize_text_plain(s, text, len, &clean, &clean_len, &plain);
    assert_true(r >= 0);
    if (plain != (r == 0 && evi_sanitize_json_plain(text, len))) {
        fail_msg("plain of '%.*s' (%zu bytes): %d", (int)len, text, len, plain);
    }
    free(clean);
}

/*
 * The sanitizers a scan test runs: built-ins (the 32-byte scan of every
 * trigger where the CPU has AVX2), built-ins 16 bytes per step, and none (the
 * scan of the bytes >= 0x80 only).
 */
#define SCAN_SANITIZERS 3

static void check_scan_all(struct evi_sanitizer *const *s, const char *text, size_t len)
{
    for (size_t i = 0; i < SCAN_SANITIZERS; i++) {
        check_scan(s[i], text, len);
    }
}

static void scan_sanitizers(struct evi_sanitizer *s[SCAN_SANITIZERS])
{
    struct ev_sanitize_pattern custom = {"ticket", "TCK-[0-9]{4}"};
    s[0] = builtin_sanitizer();
#if defined(__x86_64__) && defined(__GNUC__)
    /* Off only where the CPU lacks AVX2 (or its scan disagrees with the 16-byte one: a bug). */
    assert_int_equal(evi_sanitizer_scan32(s[0], true), __builtin_cpu_supports("avx2") != 0);
#endif
    s[1] = builtin_sanitizer();
    assert_false(evi_sanitizer_scan32(s[1], false));
    s[2] = NULL;
    assert_int_equal(evi_sanitizer_new(false, &custom, 1, &s[2]), 0);
    assert_false(evi_sanitizer_scan32(s[2], true));
}

static void free_scan_sanitizers(struct evi_sanitizer *s[SCAN_SANITIZERS])
{
    for (size_t i = 0; i < SCAN_SANITIZERS; i++) {
        evi_sanitizer_free(s[i]);
    }
}

/*
 * The scan against its reference on random texts of every length from 0 to
 * 300: any byte, and bytes drawn from the triggers, the bytes around them in
 * the anchors and UTF-8 lead and continuation bytes, so that triggers fall
 * on every position of a 16-byte step, of the last step and of a short text.
 */
static void test_scan_random(void **state)
{
    static const char alphabet[] = "=:-_AJBbxkeyrdwsntpou KSIaz/\\\"'\t\x80\xBF\xC3\xE2\xF0\xFF";
    struct evi_sanitizer *s[SCAN_SANITIZERS];
    uint64_t seed = 0x6a09e667f3bcc909u;
    char text[300];
    (void)state;

    scan_sanitizers(s);
    for (size_t len = 0; len <= sizeof(text); len++) {
        for (int round = 0; round < 24; round++) {
            for (size_t i = 0; i < len; i++) {
                uint64_t r = next_random(&seed);
                text[i] = round % 3 == 0 ? (char)(r >> 24)
                                         : alphabet[(r >> 24) % (sizeof(alphabet) - 1)];
            }
            check_scan_all(s, text, len);
        }
    }
    free_scan_sanitizers(s);
}

/*
 * Every anchor, near miss and UTF-8 sequence at every offset from 0 to 48 in
 * fillers of plain words, key=value text and blanks, followed by 0 to 17
 * bytes: each crosses the edges of the 16-byte steps and of the overlapping
 * last step, and is the whole of texts shorter than 16.
 */
static void test_scan_every_offset(void **state)
{
    static const char *const pieces[] = {
        /* anchors */
        "-----BEGIN ", "sk-", "--password ", "--user", "-u ", "-u\t", "-u\\t", "AKIA", "ASIA",
        "AIza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_", "sk_", "rk_", "xoxb-", "xoxp-",
        "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xapp-", "eyJ", "bearer", "Bearer", "BEARER",
        "basic", "Basic", "://", "://hooks.slack.com/", "password=", "passwd=", "pwd=", "Pwd:",
        "passphrase=", "secret=", "SECRET:", "token=", "Token:", "key=", "api_key=", "API_KEY:",
        "password =", "password\t=", "password\\t=", "password\"=", "password':", "password\\\":",
        "token  :", "key \\t \\t=",
        /* near misses: one byte off an anchor, or a key that ends almost like a word */
        "-----BEGIN", "----BEGIN ", "s-", "k-", "-x", "-v ", "AKIB", "ASIB", "AIzb", "AKI", "gh_",
        "ghx_", "githu_", "sk", "k_", "xob-", "xoxc-", "xoxb", "xap-", "xapq-", "ey", "eJ", "yJ",
        "bea", "beare", "bas", "basi", "bxarer", "BEAr", ":/", ":x/", "passwor=", "passwo=",
        "paswd=", "pd=", "wd=", "rd=", "passphras=", "se=", "secre=", "et=", "t=", "tok=", "en=",
        "ke=", "ey=", "y=", "n=", "d=", "e=", "\\=", "\\t=", "t:", "x\\t:", "conn=", "result=",
        "action=", "session=", "src=", "detail=", "=", ":", "==", "::", "=:",
        /* UTF-8: valid, cut short, overlong, a surrogate, past U+10FFFF, stray bytes */
        "\xC3\xA9", "\xE2\x98\x83", "\xF0\x9F\x98\x80", "\xC3", "\xE2\x98", "\xF0\x9F\x98",
        "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xBF", "\xFF",
        "\xE2\x98\x83password=", "\xC3\xA9=", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80-u ",
    };
    static const char *const fillers[] = {
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "conn=1 seq=000000123 user=alice action=login result=success src=192.0.2.1",
        "                                                                  ",
    };
    static const size_t tails[] = {0, 1, 2, 3, 7, 8, 15, 16, 17};
    struct evi_sanitizer *s[SCAN_SANITIZERS];
    char text[160];
    (void)state;

    scan_sanitizers(s);
    for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
        size_t n = strlen(pieces[i]);
        for (size_t f = 0; f < ARRAY_SIZE(fillers); f++) {
            const char *fill = fillers[f];
            size_t fill_len = strlen(fill);
            for (size_t off = 0; off <= 48; off++) {
                for (size_t t = 0; t < ARRAY_SIZE(tails); t++) {
                    size_t len = off + n + tails[t];
                    assert_true(len <= sizeof(text) && off + tails[t] <= 2 * fill_len);
                    for (size_t k = 0; k < off; k++) {
                        text[k] = fill[(fill_len - off + k) % fill_len];
                    }
                    memcpy(text + off, pieces[i], n);
                    for (size_t k = 0; k < tails[t]; k++) {
                        text[off + n + k] = fill[k % fill_len];
                    }
                    check_scan_all(s, text, len);
                }
            }
        }
    }
    free_scan_sanitizers(s);
}

/*
 * The two bytes before every "=" and ":" (the scan's first test of a
 * credential key) take every value, after the start of each credential word,
 * after nothing and after blanks and quotes (what credential_before() skips),
 * at the start of a text and 40 bytes into one (in a 32-byte step).
 */
static void test_scan_credential_pairs(void **state)
{
    static const char *const heads[] = {
        "", "x", "passwo", "passw", "p", "passphra", "secr", "tok", "k", "password", "token",
        "password \\", "key\\t",
    };
    static const char filler[] = "0123456789 abcdefghij klmnopqrst uvwxyz ";
    struct evi_sanitizer *s[SCAN_SANITIZERS];
    char text[128];
    (void)state;

    scan_sanitizers(s);
    for (size_t skip = 0; skip <= 40; skip += 40) {
        for (size_t h = 0; h < ARRAY_SIZE(heads); h++) {
            size_t n = skip + strlen(heads[h]);
            memcpy(text, filler, skip);
            memcpy(text + skip, heads[h], n - skip);
            memcpy(text + n + 3, "hunter2 ok", 10);
            for (unsigned a = 0; a < 256; a++) {
                for (unsigned b = 0; b < 256; b++) {
                    text[n] = (char)a;
                    text[n + 1] = (char)b;
                    text[n + 2] = '=';
                    check_prefilter_once(s[0], text, n + 13);
                    text[n + 2] = ':';
                    check_prefilter_once(s[1], text, n + 13);
                }
            }
        }
    }
    free_scan_sanitizers(s);
}

static void test_threads(void **state)
{
    struct evi_sanitizer *s = builtin_sanitizer();
    pthread_t threads[4];
    struct worker workers[4];
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(threads); i++) {
        workers[i] = (struct worker){s, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    for (size_t i = 0; i < ARRAY_SIZE(threads); i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(workers[i].failures, 0);
    }
    evi_sanitizer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_names),
        cmocka_unit_test(test_builtin_positives),
        cmocka_unit_test(test_builtin_positives_shifted),
        cmocka_unit_test(test_builtin_negatives),
        cmocka_unit_test(test_prefilter_fast_matches_reference),
        cmocka_unit_test(test_sanitize_plain_matches_reference),
        cmocka_unit_test(test_plain_string_at_limit),
        cmocka_unit_test(test_scan_random),
        cmocka_unit_test(test_scan_every_offset),
        cmocka_unit_test(test_scan_credential_pairs),
        cmocka_unit_test(test_markers_in_input),
        cmocka_unit_test(test_configured),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_not_canonical),
        cmocka_unit_test(test_json_configured),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
