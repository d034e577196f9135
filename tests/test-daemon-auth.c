/* SPDX-License-Identifier: Apache-2.0 */
/* evidentd's bearer tokens and Unix peer checks (src/daemon/auth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <evident/config.h>
#include <evident/error.h>

#include "auth.h"

/* SHA-256("secret") and SHA-256("reader") (sha256sum). */
#define SECRET_HASH "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
#define READER_HASH "sha256:3d0941964aa3ebdcb00ccef58b1bb399f9f898465e9886d5aec7f31090a0fb30"

static struct ev_config *config_new(void)
{
    struct ev_config *c = NULL;
    assert_int_equal(ev_config_defaults(&c), 0);
    return c;
}

static void add(char **list, size_t *count, const char *value)
{
    list[(*count)++] = strdup(value);
}

static struct evd_auth *auth_with_tokens(void)
{
    struct ev_config *c = config_new();
    struct evd_auth *a = NULL;

    add(c->server.writer_tokens, &c->server.writer_token_count, SECRET_HASH);
    add(c->server.reader_tokens, &c->server.reader_token_count, READER_HASH);
    assert_int_equal(evd_auth_new(c, &a), 0);
    ev_config_free(c);
    return a;
}

static void test_hash_token(void **state)
{
    char out[72];

    (void)state;
    evd_auth_hash_token("secret", out);
    assert_string_equal(out, SECRET_HASH);
    evd_auth_hash_token("reader", out);
    assert_string_equal(out, READER_HASH);
}

static void test_roles(void **state)
{
    struct evd_auth *a = auth_with_tokens();
    char id[EVD_TOKEN_ID_SIZE];

    (void)state;
    assert_int_equal(evd_auth_token(a, "Bearer secret", id, sizeof(id)), EVD_ROLE_WRITER);
    assert_string_equal(id, "sha256:2bb80d");
    assert_int_equal(evd_auth_token(a, "Bearer reader", id, sizeof(id)), EVD_ROLE_READER);
    assert_string_equal(id, "sha256:3d0941");
    /* The scheme in any case, blanks around the token. */
    assert_int_equal(evd_auth_token(a, "bearer secret", NULL, 0), EVD_ROLE_WRITER);
    assert_int_equal(evd_auth_token(a, "  BEARER \t secret  ", NULL, 0), EVD_ROLE_WRITER);

    assert_int_equal(evd_auth_token(a, "Bearer wrong", id, sizeof(id)), EVD_ROLE_NONE);
    assert_string_equal(id, "");
    assert_int_equal(evd_auth_token(a, NULL, id, sizeof(id)), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Bearer", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Bearer ", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Bearersecret", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Basic secret", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Bearer secret extra", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Bearer secre", NULL, 0), EVD_ROLE_NONE);
    assert_int_equal(evd_auth_token(a, "Bearer secrett", NULL, 0), EVD_ROLE_NONE);
    /* A short id buffer stays empty rather than cut. */
    assert_int_equal(evd_auth_token(a, "Bearer secret", id, 5), EVD_ROLE_WRITER);
    assert_string_equal(id, "");

    /* No auth (or no tokens configured) authorizes nobody. */
    assert_int_equal(evd_auth_token(NULL, "Bearer secret", NULL, 0), EVD_ROLE_NONE);
    evd_auth_free(a);
    evd_auth_free(NULL);
}

static void test_long_token(void **state)
{
    struct evd_auth *a = auth_with_tokens();
    size_t n = 100000;
    char *header = malloc(n + 8);

    (void)state;
    memcpy(header, "Bearer ", 7);
    memset(header + 7, 'x', n);
    header[7 + n] = '\0';
    assert_int_equal(evd_auth_token(a, header, NULL, 0), EVD_ROLE_NONE);
    free(header);
    evd_auth_free(a);
}

static void test_both_lists_is_writer(void **state)
{
    struct ev_config *c = config_new();
    struct evd_auth *a = NULL;

    (void)state;
    add(c->server.reader_tokens, &c->server.reader_token_count, SECRET_HASH);
    add(c->server.writer_tokens, &c->server.writer_token_count, SECRET_HASH);
    assert_int_equal(evd_auth_new(c, &a), 0);
    assert_int_equal(evd_auth_token(a, "Bearer secret", NULL, 0), EVD_ROLE_WRITER);
    evd_auth_free(a);
    ev_config_free(c);
}

static void expect_bad(const char *writer, const char *user, const char *group, const char *message)
{
    struct ev_config *c = config_new();
    struct evd_auth *a = NULL;

    if (writer != NULL) {
        add(c->server.writer_tokens, &c->server.writer_token_count, SECRET_HASH);
        add(c->server.writer_tokens, &c->server.writer_token_count, writer);
    }
    if (user != NULL) {
        add(c->server.unix_allow_users, &c->server.unix_allow_user_count, user);
    }
    if (group != NULL) {
        add(c->server.unix_allow_groups, &c->server.unix_allow_group_count, group);
    }
    assert_int_equal(evd_auth_new(c, &a), EV_EFORMAT);
    assert_null(a);
    assert_string_equal(ev_last_error(), message);
    ev_config_free(c);
}

static void test_bad_config(void **state)
{
    (void)state;
    expect_bad("2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b", NULL, NULL,
               "server.writer_tokens[1]: expected \"sha256:\" and 64 hex digits (see 'evident "
               "token')");
    expect_bad("sha256:2bb80d", NULL, NULL,
               "server.writer_tokens[1]: expected \"sha256:\" and 64 hex digits (see 'evident "
               "token')");
    expect_bad("sha256:zbb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b", NULL,
               NULL, "server.writer_tokens[1]: expected \"sha256:\" and 64 hex digits");
    expect_bad(NULL, "no-such-user-evident", NULL,
               "server.unix_allow_users: no such user 'no-such-user-evident'");
    expect_bad(NULL, NULL, "no-such-group-evident",
               "server.unix_allow_groups: no such group 'no-such-group-evident'");
}

static void test_peers(void **state)
{
    struct ev_config *c = config_new();
    struct evd_auth *a = NULL;

    (void)state;
    /* Nothing configured: any peer. */
    assert_int_equal(evd_auth_new(c, &a), 0);
    assert_true(evd_auth_peer(a, 12345, 12345));
    evd_auth_free(a);
    assert_false(evd_auth_peer(NULL, 0, 0));

    add(c->server.unix_allow_users, &c->server.unix_allow_user_count, "root");
    add(c->server.unix_allow_users, &c->server.unix_allow_user_count, "4242");
    add(c->server.unix_allow_groups, &c->server.unix_allow_group_count, "5151");
    assert_int_equal(evd_auth_new(c, &a), 0);
    assert_true(evd_auth_peer(a, 0, 99999));
    assert_true(evd_auth_peer(a, 4242, 99999));
    assert_true(evd_auth_peer(a, 77777, 5151));
    assert_false(evd_auth_peer(a, 77777, 99999));
    evd_auth_free(a);
    ev_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_token), cmocka_unit_test(test_roles),
        cmocka_unit_test(test_long_token), cmocka_unit_test(test_both_lists_is_writer),
        cmocka_unit_test(test_bad_config), cmocka_unit_test(test_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
