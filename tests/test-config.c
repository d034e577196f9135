/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration file (include/evident/config.h, src/lib/config/): the
 * defaults, every section, every kind of error with its exact message
 * (file:line:column: key: what), hostile input (size, depth, anchors,
 * aliases, tags), dump -> parse round trips, and the committed
 * docs/CONFIG.md and config/evident.yaml against what the table writes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <evident/config.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/log.h>

#include "config/config-internal.h"

#ifndef EV_TEST_VECTORS_DIR
#define EV_TEST_VECTORS_DIR "tests/vectors"
#endif

#define SEC 1000000000ull
#define MIB (1ull << 20)
#define KIB (1ull << 10)
#define GIB (1ull << 30)

static struct ev_config *parse_ok(const char *text)
{
    struct ev_config *config = NULL;
    int r = ev_config_parse("evident.yaml", text, strlen(text), &config);
    if (r != 0) {
        fail_msg("parse = %d: %s\n--- input:\n%s", r, ev_last_error(), text);
    }
    assert_non_null(config);
    return config;
}

static void parse_fails(const char *text, const char *message)
{
    struct ev_config *config = (struct ev_config *)&config; /* must stay untouched */
    int r = ev_config_parse("evident.yaml", text, strlen(text), &config);
    if (r != EV_EFORMAT || strcmp(ev_last_error(), message) != 0) {
        fail_msg("parse = %d\n got: %s\nwant: %s\n--- input:\n%s", r, ev_last_error(), message,
                 text);
    }
    assert_ptr_equal(config, &config);
}

static struct ev_config *defaults(void)
{
    struct ev_config *config = NULL;
    assert_int_equal(ev_config_defaults(&config), 0);
    return config;
}

static void assert_same(const struct ev_config *a, const struct ev_config *b)
{
    if (!evi_config_equal(a, b)) {
        char *x = NULL, *y = NULL;
        assert_int_equal(ev_config_dump(a, &x), 0);
        assert_int_equal(ev_config_dump(b, &y), 0);
        fail_msg("configurations differ:\n%s\n---\n%s", x, y);
    }
}

/* dump(config) parses back to the same values, and dumps to the same text. */
static void assert_round_trip(const struct ev_config *config)
{
    char *text = NULL, *again = NULL;
    struct ev_config *back;

    assert_int_equal(ev_config_dump(config, &text), 0);
    back = parse_ok(text);
    assert_same(config, back);
    assert_int_equal(ev_config_dump(back, &again), 0);
    assert_string_equal(text, again);
    free(text);
    free(again);
    ev_config_free(back);
}

static void test_defaults(void **state)
{
    struct ev_config *c = defaults();
    (void)state;

    assert_null(c->path);
    assert_string_equal(c->log.dir, "evident-log");
    assert_null(c->log.origin);
    assert_int_equal(c->log.sync, EV_SYNC_ALWAYS);
    assert_int_equal(c->log.sync_interval_ns, SEC);
    assert_int_equal(c->integrity.seal_interval_ns, EV_DEFAULT_SEAL_INTERVAL_NS);
    assert_int_equal(c->integrity.checkpoint_interval_ns, EV_DEFAULT_CHECKPOINT_INTERVAL_NS);
    assert_int_equal(c->integrity.self_verify_interval_ns, 3600 * SEC);
    assert_int_equal(c->storage.segment_bytes, EV_DEFAULT_SEGMENT_BYTES);
    assert_int_equal(c->storage.preallocate_bytes, 8 * MIB);
    assert_int_equal(c->storage.segment_max_age_ns, 0);
    assert_int_equal(c->storage.compression, EV_COMPRESSION_NONE);
    assert_int_equal(c->storage.compression_level, 3);
    assert_int_equal(c->retention.max_age_ns, 30ull * 86400 * SEC);
    assert_null(c->retention.backup_dir);
    assert_int_equal(c->retention.backup_keep, 7);
    assert_int_equal(c->levels.default_level, EV_LEVEL_BASIC);
    for (int t = 0; t < EV_TYPE_COUNT; t++) {
        assert_true(c->policies[t].enabled);
        assert_int_equal(c->policies[t].min_severity, EV_SEV_DEBUG);
        assert_int_equal(c->policies[t].level, -1);
    }
    assert_true(c->privacy.sanitize);
    assert_true(c->privacy.sanitize_builtin);
    assert_int_equal(c->privacy.pattern_count, 0);
    assert_false(c->privacy.encrypt);
    assert_int_equal(c->alerting.rule_count, 0);
    assert_int_equal(c->alerting.webhook_timeout_ns, 10 * SEC);
    assert_int_equal(c->performance.batch_max, 4096);
    assert_int_equal(c->performance.group_commit_wait_ns, 0);
    assert_string_equal(c->server.unix_socket, "evidentd.sock");
    assert_int_equal(c->server.unix_socket_mode, 0660);
    assert_int_equal(c->server.http_listen_count, 1);
    assert_string_equal(c->server.http_listen[0], "127.0.0.1:8425");
    assert_int_equal(c->server.writer_token_count, 0);
    assert_null(c->server.user);
    assert_int_equal(c->server.request_timeout_ns, 30 * SEC);
    assert_int_equal(c->alerting.webhook_retries, 5);
    assert_int_equal(c->server.max_request_bytes, MIB);
    assert_true(c->monitoring.metrics);
    assert_true(c->monitoring.health);
    assert_null(c->monitoring.metrics_listen);
    assert_round_trip(c);
    ev_config_free(c);
    ev_config_free(NULL);
}

static void test_empty(void **state)
{
    static const char *const empty[] = {
        "",
        "# only a comment\n",
        "\n\n# comments\n   # and blank lines\n\n",
        "---\n",
        "---\n...\n",
        "~\n",
        "{}\n",
        "log:\n  # dir: elsewhere\nstorage:\n",
    };
    struct ev_config *d = defaults();
    (void)state;

    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        struct ev_config *c = parse_ok(empty[i]);
        assert_string_equal(c->path, "evident.yaml");
        assert_same(c, d);
        ev_config_free(c);
    }
    ev_config_free(d);
}

static const char every_section[] =
    "log:\n"
    "  dir: /var/lib/evident\n"
    "  origin: \"audit.example.com/prod\"\n"
    "  sync: interval\n"
    "  sync_interval: 250ms\n"
    "integrity:\n"
    "  seal_interval: 1h\n"
    "  checkpoint_interval: 30s\n"
    "  self_verify_interval: 0\n"
    "storage:\n"
    "  segment_size: 1GiB\n"
    "  preallocate: 0\n"
    "  segment_max_age: 2d\n"
    "  compression: zstd\n"
    "  compression_level: 19\n"
    "retention:\n"
    "  max_age: 365d\n"
    "  max_bytes: 2TiB\n"
    "  backup_dir: /backup/evident\n"
    "  backup_interval: 6h\n"
    "  backup_keep: 30\n"
    "disk:\n"
    "  space_left: 12.5%\n"
    "  admin_space_left: 2GiB\n"
    "  reserve: 512MiB\n"
    "  disk_full_action: reject\n"
    "levels:\n"
    "  default: comprehensive\n"
    "policies:\n"
    "  code_execution: {level: minimal}\n"
    "  security_event:\n"
    "    min_severity: warn\n"
    "  system_event:\n"
    "    enabled: false\n"
    "  custom:\n"
    "    min_severity: info\n"
    "    level: basic\n"
    "privacy:\n"
    "  sanitize: true\n"
    "  sanitize_builtin: false\n"
    "  patterns:\n"
    "    - name: internal-token\n"
    "      regex: 'itk_[A-Za-z0-9]{32}'\n"
    "    - {name: card_number, regex: \"\\\\b4[0-9]{15}\\\\b\"}\n"
    "  encryption:\n"
    "    enabled: true\n"
    "    key_file: /etc/evident/at-rest.key\n"
    "alerting:\n"
    "  rules:\n"
    "    - name: auth-failures\n"
    "      type: security_event\n"
    "      min_severity: warning\n"
    "      threshold: 5\n"
    "      window: 10m\n"
    "      webhook: https://hooks.example.com/evident\n"
    "    - name: anything-critical\n"
    "      type: \"*\"\n"
    "      min_severity: crit\n"
    "    - name: builds\n"
    "      type: custom.ci.build\n"
    "  webhook_timeout: 3s\n"
    "performance:\n"
    "  batch_max: 512\n"
    "  queue_max: 100000\n"
    "  group_commit_wait: 5ms\n"
    "server:\n"
    "  unix_socket: /run/evident/evidentd.sock\n"
    "  unix_socket_mode: \"0600\"\n"
    "  http_listen: [\"127.0.0.1:8080\", \"[::1]:8080\"]\n"
    "  syslog_udp: 127.0.0.1:5514\n"
    "  syslog_tcp: localhost:5514\n"
    "  tls_cert_file: /etc/evident/cert.pem\n"
    "  tls_key_file: /etc/evident/key.pem\n"
    "  writer_tokens: "
    "[\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]\n"
    "  reader_tokens:\n"
    "    - sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n"
    "    - \"sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"\n"
    "  unix_allow_users: [root, 1000]\n"
    "  unix_allow_groups: [adm]\n"
    "  user: evident\n"
    "  max_connections: 20000\n"
    "  request_timeout: 5s\n"
    "  max_request_bytes: 4MiB\n"
    "monitoring:\n"
    "  metrics: false\n"
    "  health: true\n"
    "  metrics_listen: 0.0.0.0:9100\n";

static void test_every_section(void **state)
{
    struct ev_config *c = parse_ok(every_section);
    (void)state;

    assert_string_equal(c->log.dir, "/var/lib/evident");
    assert_string_equal(c->log.origin, "audit.example.com/prod");
    assert_int_equal(c->log.sync, EV_SYNC_INTERVAL);
    assert_int_equal(c->log.sync_interval_ns, 250000000);
    assert_int_equal(c->integrity.seal_interval_ns, 3600 * SEC);
    assert_int_equal(c->integrity.checkpoint_interval_ns, 30 * SEC);
    assert_int_equal(c->integrity.self_verify_interval_ns, 0);
    assert_int_equal(c->storage.segment_bytes, 1ull << 30);
    assert_int_equal(c->storage.preallocate_bytes, 0);
    assert_int_equal(c->storage.segment_max_age_ns, 2 * 86400 * SEC);
    assert_int_equal(c->storage.compression, EV_COMPRESSION_ZSTD);
    assert_int_equal(c->storage.compression_level, 19);
    assert_int_equal(c->retention.max_age_ns, 365 * 86400 * SEC);
    assert_int_equal(c->retention.max_bytes, 2ull << 40);
    assert_string_equal(c->retention.backup_dir, "/backup/evident");
    assert_int_equal(c->retention.backup_interval_ns, 6 * 3600 * SEC);
    assert_int_equal(c->retention.backup_keep, 30);
    assert_int_equal(c->disk.space_left.percent_x100, 1250);
    assert_int_equal(c->disk.admin_space_left.bytes, 2 * GIB);
    assert_int_equal(c->disk.admin_space_left.percent_x100, 0);
    assert_int_equal(c->disk.reserve.bytes, 512 * MIB);
    assert_int_equal(c->disk.disk_full_action, EV_DISK_FULL_REJECT);
    assert_int_equal(c->levels.default_level, EV_LEVEL_COMPREHENSIVE);
    assert_int_equal(c->policies[EV_TYPE_CODE_EXECUTION].level, EV_LEVEL_MINIMAL);
    assert_true(c->policies[EV_TYPE_CODE_EXECUTION].enabled);
    assert_int_equal(c->policies[EV_TYPE_SECURITY_EVENT].min_severity, EV_SEV_WARNING);
    assert_false(c->policies[EV_TYPE_SYSTEM_EVENT].enabled);
    assert_int_equal(c->policies[EV_TYPE_CUSTOM].min_severity, EV_SEV_INFO);
    assert_int_equal(c->policies[EV_TYPE_CUSTOM].level, EV_LEVEL_BASIC);
    assert_int_equal(c->policies[EV_TYPE_CONTAINER_CREATION].level, -1);
    assert_true(c->privacy.sanitize);
    assert_false(c->privacy.sanitize_builtin);
    assert_int_equal(c->privacy.pattern_count, 2);
    assert_string_equal(c->privacy.patterns[0].name, "internal-token");
    assert_string_equal(c->privacy.patterns[0].regex, "itk_[A-Za-z0-9]{32}");
    assert_string_equal(c->privacy.patterns[1].name, "card_number");
    assert_string_equal(c->privacy.patterns[1].regex, "\\b4[0-9]{15}\\b");
    assert_true(c->privacy.encrypt);
    assert_string_equal(c->privacy.encryption_key_file, "/etc/evident/at-rest.key");
    assert_int_equal(c->alerting.rule_count, 3);
    assert_string_equal(c->alerting.rules[0].name, "auth-failures");
    assert_string_equal(c->alerting.rules[0].type, "security_event");
    assert_int_equal(c->alerting.rules[0].min_severity, EV_SEV_WARNING);
    assert_int_equal(c->alerting.rules[0].threshold, 5);
    assert_int_equal(c->alerting.rules[0].window_ns, 600 * SEC);
    assert_string_equal(c->alerting.rules[0].webhook, "https://hooks.example.com/evident");
    assert_string_equal(c->alerting.rules[1].type, "*");
    assert_int_equal(c->alerting.rules[1].min_severity, EV_SEV_CRITICAL);
    assert_int_equal(c->alerting.rules[1].threshold, 1);
    assert_int_equal(c->alerting.rules[1].window_ns, 300 * SEC);
    assert_null(c->alerting.rules[1].webhook);
    assert_string_equal(c->alerting.rules[2].type, "custom.ci.build");
    assert_int_equal(c->alerting.webhook_timeout_ns, 3 * SEC);
    assert_int_equal(c->performance.batch_max, 512);
    assert_int_equal(c->performance.queue_max, 100000);
    assert_int_equal(c->performance.group_commit_wait_ns, 5000000);
    assert_string_equal(c->server.unix_socket, "/run/evident/evidentd.sock");
    assert_int_equal(c->server.unix_socket_mode, 0600);
    assert_int_equal(c->server.http_listen_count, 2);
    assert_string_equal(c->server.http_listen[0], "127.0.0.1:8080");
    assert_string_equal(c->server.http_listen[1], "[::1]:8080");
    assert_string_equal(c->server.syslog_udp, "127.0.0.1:5514");
    assert_string_equal(c->server.syslog_tcp, "localhost:5514");
    assert_string_equal(c->server.tls_cert_file, "/etc/evident/cert.pem");
    assert_string_equal(c->server.tls_key_file, "/etc/evident/key.pem");
    assert_int_equal(c->server.writer_token_count, 1);
    assert_string_equal(c->server.writer_tokens[0],
                        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(c->server.reader_token_count, 2);
    assert_string_equal(c->server.reader_tokens[1],
                        "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    assert_int_equal(c->server.unix_allow_user_count, 2);
    assert_string_equal(c->server.unix_allow_users[1], "1000");
    assert_string_equal(c->server.unix_allow_groups[0], "adm");
    assert_string_equal(c->server.user, "evident");
    assert_int_equal(c->server.max_connections, 20000);
    assert_int_equal(c->server.request_timeout_ns, 5 * SEC);
    assert_int_equal(c->server.max_request_bytes, 4 * MIB);
    assert_false(c->monitoring.metrics);
    assert_true(c->monitoring.health);
    assert_string_equal(c->monitoring.metrics_listen, "0.0.0.0:9100");
    assert_round_trip(c);
    ev_config_free(c);
}

/* Values at the edges of their syntax and range, and strings that need quoting. */
static void test_values(void **state)
{
    struct ev_config *c;
    (void)state;

    c = parse_ok("storage:\n  segment_size: 1048576\n"
                 "retention:\n  max_bytes: 1024TiB\n"
                 "disk:\n  space_left: 0.5%\n  admin_space_left: 0.05%\n  reserve: 64KiB\n"
                 "log:\n  sync_interval: 1ms\n  dir: \"a \\\"quoted\\\" \\\\ dir: #1 é\"\n"
                 "  origin: 'it''s'\n  sync: \"never\"\n"
                 "server:\n  unix_socket_mode: 0644\n  http_listen: ~\n"
                 "privacy:\n  patterns:\n"
                 "alerting:\n  rules: []\n");
    assert_int_equal(c->storage.segment_bytes, MIB);
    assert_int_equal(c->retention.max_bytes, 1ull << 50);
    assert_int_equal(c->disk.space_left.percent_x100, 50);
    assert_int_equal(c->disk.admin_space_left.percent_x100, 5);
    assert_int_equal(c->disk.reserve.bytes, 64 * KIB);
    assert_int_equal(c->log.sync_interval_ns, 1000000);
    assert_string_equal(c->log.dir, "a \"quoted\" \\ dir: #1 é");
    assert_string_equal(c->log.origin, "it's");
    assert_int_equal(c->log.sync, EV_SYNC_NEVER);
    assert_int_equal(c->server.unix_socket_mode, 0644);
    assert_round_trip(c);
    ev_config_free(c);

    /* Line separators must survive the dump: raw in a quoted scalar, YAML would fold them. */
    c = parse_ok("log:\n  dir: \"a\\Lb\\Pc\"\n");
    assert_string_equal(c->log.dir, "a\xe2\x80\xa8"
                                    "b\xe2\x80\xa9"
                                    "c");
    assert_round_trip(c);
    ev_config_free(c);
}

struct error_case {
    const char *text;
    const char *message;
};

static void test_errors(void **state)
{
    static const struct error_case cases[] = {
        /* types */
        {"storage:\n  segment_size: big\n",
         "evident.yaml:2:17: storage.segment_size: expected a size such as 64MiB"},
        {"storage:\n  segment_size: 64MB\n",
         "evident.yaml:2:17: storage.segment_size: expected a size such as 64MiB"},
        {"storage:\n  segment_size: \"64MiB\"\n",
         "evident.yaml:2:17: storage.segment_size: expected a size such as 64MiB"},
        {"storage:\n  segment_size: -1\n",
         "evident.yaml:2:17: storage.segment_size: expected a size such as 64MiB"},
        {"storage:\n  segment_size: 064MiB\n",
         "evident.yaml:2:17: storage.segment_size: expected a size such as 64MiB"},
        {"storage:\n  segment_size: [1]\n",
         "evident.yaml:2:17: storage.segment_size: expected a single value, not a list"},
        {"storage:\n  segment_size:\n",
         "evident.yaml:2:16: storage.segment_size: expected a size such as 64MiB"},
        {"integrity:\n  seal_interval: 15\n",
         "evident.yaml:2:18: integrity.seal_interval: expected a duration such as 15m"},
        {"integrity:\n  seal_interval: 15 m\n",
         "evident.yaml:2:18: integrity.seal_interval: expected a duration such as 15m"},
        {"integrity:\n  seal_interval: 99999999999999999999d\n",
         "evident.yaml:2:18: integrity.seal_interval: too large"},
        {"integrity:\n  seal_interval: 999999999d\n",
         "evident.yaml:2:18: integrity.seal_interval: too large"},
        {"privacy:\n  sanitize: yes\n",
         "evident.yaml:2:13: privacy.sanitize: expected true or false"},
        {"privacy:\n  sanitize: True\n",
         "evident.yaml:2:13: privacy.sanitize: expected true or false"},
        {"privacy:\n  sanitize: \"true\"\n",
         "evident.yaml:2:13: privacy.sanitize: expected true or false"},
        {"retention:\n  backup_keep: 1e3\n",
         "evident.yaml:2:16: retention.backup_keep: expected a whole number"},
        {"retention:\n  backup_keep: 0x10\n",
         "evident.yaml:2:16: retention.backup_keep: expected a whole number"},
        {"log:\n  dir:\n", "evident.yaml:2:7: log.dir: must not be empty"},
        {"log:\n  dir: null\n", "evident.yaml:2:8: log.dir: must not be null"},
        {"log:\n  origin: \"\"\n",
         "evident.yaml:2:11: log.origin: must not be empty (null leaves it unset)"},
        {"log:\n  dir: \"a\\tb\"\n", "evident.yaml:2:8: log.dir: contains a control character"},
        {"log:\n  dir: \"a\\0b\"\n", "evident.yaml:2:8: log.dir: contains a control character"},
        {"log:\n  dir: \"a\\Nb\"\n", "evident.yaml:2:8: log.dir: contains a control character"},
        {"log:\n  dir: {a: b}\n",
         "evident.yaml:2:8: log.dir: expected a single value, not a mapping"},
        {"log: [1, 2]\n", "evident.yaml:1:6: log: expected a mapping, not a list"},
        {"log: here\n", "evident.yaml:1:6: log: expected a mapping, not a value"},
        {"- log\n", "evident.yaml:1:1: expected a mapping of sections (log:, storage:, ...), not "
                    "a list"},
        {"just text\n",
         "evident.yaml:1:1: expected a mapping of sections (log:, storage:, ...), not a value"},
        /* ranges */
        {"storage:\n  segment_size: 4096\n",
         "evident.yaml:2:17: storage.segment_size: must be between 1MiB and 16GiB"},
        {"storage:\n  segment_size: 17GiB\n",
         "evident.yaml:2:17: storage.segment_size: must be between 1MiB and 16GiB"},
        {"integrity:\n  seal_interval: 0\n",
         "evident.yaml:2:18: integrity.seal_interval: must be between 1s and 7d"},
        {"integrity:\n  self_verify_interval: 30s\n",
         "evident.yaml:2:25: integrity.self_verify_interval: must be 0 (off) or between 1m and "
         "30d"},
        {"storage:\n  compression_level: 20\n",
         "evident.yaml:2:22: storage.compression_level: must be between 1 and 19"},
        {"server:\n  unix_socket_mode: \"1777\"\n",
         "evident.yaml:2:21: server.unix_socket_mode: must be at most 0777 (no setuid, setgid or "
         "sticky bits)"},
        {"server:\n  unix_socket_mode: \"rw\"\n",
         "evident.yaml:2:21: server.unix_socket_mode: expected a file mode in octal such as "
         "\"0660\""},
        /* choices */
        {"log:\n  sync: sometimes\n",
         "evident.yaml:2:9: log.sync: expected one of always, interval, never"},
        {"levels:\n  default: full\n",
         "evident.yaml:2:12: levels.default: expected one of minimal, basic, comprehensive"},
        {"storage:\n  compression: gzip\n",
         "evident.yaml:2:16: storage.compression: expected one of none, zstd"},
        {"policies:\n  security_event:\n    min_severity: loud\n",
         "evident.yaml:3:19: policies.security_event.min_severity: expected a syslog severity: "
         "emergency, alert, critical, error, warning, notice, info or debug"},
        {"policies:\n  security_event:\n    level: everything\n",
         "evident.yaml:3:12: policies.security_event.level: expected one of default, minimal, "
         "basic, comprehensive"},
        /* keys */
        {"storage:\n  segment_sise: 1GiB\n",
         "evident.yaml:2:3: storage.segment_sise: unknown key (did you mean 'segment_size'?)"},
        {"storge:\n  segment_size: 1GiB\n",
         "evident.yaml:1:1: storge: unknown key (did you mean 'storage'?)"},
        {"storage:\n  zzzzzz: 1\n", "evident.yaml:2:3: storage.zzzzzz: unknown key"},
        {"storage.segment_size: 1GiB\n",
         "evident.yaml:1:1: storage.segment_size: unknown key (nest it: storage: then "
         "segment_size:)"},
        {"privacy:\n  encryption:\n    enable: true\n",
         "evident.yaml:3:5: privacy.encryption.enable: unknown key (did you mean 'enabled'?)"},
        {"policies:\n  security_events: {}\n",
         "evident.yaml:2:3: policies.security_events: unknown event type (did you mean "
         "'security_event'?)"},
        {"policies:\n  custom.ci: {}\n",
         "evident.yaml:2:3: policies.custom.ci: unknown event type (custom covers every custom.* "
         "type)"},
        {"policies:\n  custom:\n    enabeld: false\n",
         "evident.yaml:3:5: policies.custom.enabeld: unknown key (did you mean 'enabled'?)"},
        {"log:\n  dir: a\n  dir: b\n",
         "evident.yaml:3:3: log.dir: duplicate key (first at line 2)"},
        {"log:\n  dir: a\nstorage: {}\nlog:\n  sync: never\n",
         "evident.yaml:4:1: log: duplicate key (first at line 1)"},
        {"policies:\n  custom: {}\n  custom: {}\n",
         "evident.yaml:3:3: policies.custom: duplicate key (first at line 2)"},
        {"? [a, b]\n: c\n", "evident.yaml:1:3: keys must be strings, not a list"},
        /* lists and records */
        {"privacy:\n  patterns:\n    - name: Bad Name\n      regex: x\n",
         "evident.yaml:3:13: privacy.patterns[0].name: expected a name of 1 to 32 characters "
         "a-z, 0-9, _ and -"},
        {"privacy:\n  patterns:\n    - name: x\n      regex: 'a(b'\n",
         "evident.yaml:4:14: privacy.patterns[0].regex: regex does not compile at offset 3: "
         "missing closing parenthesis"},
        {"privacy:\n  patterns:\n    - name: x\n      regex: ok\n    - regex: y\n",
         "evident.yaml:5:7: privacy.patterns[1]: missing name"},
        {"privacy:\n  patterns:\n    - {name: x, regex: a}\n    - {name: x, regex: b}\n",
         "evident.yaml:4:14: privacy.patterns[1].name: duplicate pattern name 'x'"},
        {"privacy:\n  patterns:\n    - x\n",
         "evident.yaml:3:7: privacy.patterns[0]: expected a mapping, not a value"},
        {"privacy:\n  patterns: {name: x}\n",
         "evident.yaml:2:13: privacy.patterns: expected a list of patterns"},
        {"alerting:\n  rules:\n    - name: r\n      type: nosuch\n",
         "evident.yaml:4:13: alerting.rules[0].type: expected \"*\", an event type such as "
         "security_event, custom.NAME or custom.*"},
        {"alerting:\n  rules:\n    - name: r\n      threshold: 0\n",
         "evident.yaml:4:18: alerting.rules[0].threshold: must be between 1 and 1000000"},
        {"alerting:\n  rules:\n    - name: r\n      webhook: ftp://example.com/\n",
         "evident.yaml:4:16: alerting.rules[0].webhook: expected an http:// or https:// URL"},
        {"alerting:\n  rules:\n    - name: r\n      window: 2w\n",
         "evident.yaml:4:15: alerting.rules[0].window: expected a duration such as 15m"},
        {"server:\n  http_listen: [\"127.0.0.1\"]\n",
         "evident.yaml:2:17: server.http_listen[0]: expected host:port such as 127.0.0.1:8080"},
        {"server:\n  http_listen: [\"a:1\", \"b:65536\"]\n",
         "evident.yaml:2:24: server.http_listen[1]: expected host:port such as 127.0.0.1:8080"},
        {"server:\n  syslog_udp: \"[zz]:514\"\n",
         "evident.yaml:2:15: server.syslog_udp: expected host:port such as 127.0.0.1:8080"},
        {"server:\n  http_listen: 127.0.0.1:8080\n",
         "evident.yaml:2:16: server.http_listen: expected a list of host:port"},
        {"disk:\n  space_left: 51%\n",
         "evident.yaml:2:15: disk.space_left: a percentage must be 0 (off) or between 0.01% and "
         "50%"},
        {"disk:\n  space_left: 0.001%\n",
         "evident.yaml:2:15: disk.space_left: expected a size such as 512MiB or a percentage such "
         "as 10% or 0.5%"},
        {"disk:\n  space_left: 10 %\n",
         "evident.yaml:2:15: disk.space_left: expected a size such as 512MiB or a percentage such "
         "as 10% or 0.5%"},
        {"disk:\n  space_left: \"10%\"\n",
         "evident.yaml:2:15: disk.space_left: expected a size such as 512MiB or a percentage such "
         "as 10% or 0.5%"},
        {"disk:\n  space_left: -1%\n",
         "evident.yaml:2:15: disk.space_left: expected a size such as 512MiB or a percentage such "
         "as 10% or 0.5%"},
        {"disk:\n  reserve: 1KiB\n",
         "evident.yaml:2:12: disk.reserve: must be 0 (off) or between 64KiB and 1024TiB"},
        {"storage:\n  preallocate: 1MiB\n",
         "evident.yaml:2:16: storage.preallocate: must be 0 (off) or between 2MiB and 1GiB"},
        {"disk:\n  disk_full_action: drop\n",
         "evident.yaml:2:21: disk.disk_full_action: expected one of block, reject"},
        {"alerting:\n  disk_low: 1GiB\n",
         "evident.yaml:2:3: alerting.disk_low: renamed: use disk.space_left (docs/CONFIG.md)"},
        {"retention:\n  min_free_space: 1GiB\n",
         "evident.yaml:2:3: retention.min_free_space: renamed: use disk.reserve (docs/CONFIG.md)"},
        /* across options */
        {"disk:\n  space_left: 5%\n  admin_space_left: 5%\n",
         "evident.yaml:3:21: disk.admin_space_left: must be less than disk.space_left"},
        {"disk:\n  space_left: 0\n  admin_space_left: 1GiB\n  reserve: 1GiB\n",
         "evident.yaml:4:12: disk.reserve: must be less than disk.admin_space_left"},
        {"server:\n  tls_cert_file: /c.pem\n",
         "evident.yaml:2:18: server.tls_cert_file: tls_cert_file and tls_key_file go together"},
        {"privacy:\n  encryption:\n    enabled: true\n",
         "evident.yaml:3:14: privacy.encryption.enabled: needs privacy.encryption.key_file"},
        /* hostile YAML */
        {"log: &a\n  dir: x\nstorage: *a\n",
         "evident.yaml:1:6: log: anchors and aliases are not allowed"},
        {"log:\n  dir: &d x\n", "evident.yaml:2:8: log.dir: anchors and aliases are not allowed"},
        {"log:\n  dir: x\n  origin: *d\n",
         "evident.yaml:3:11: log.origin: anchors and aliases are not allowed"},
        {"log:\n  <<: *base\n", "evident.yaml:2:3: log.<<: unknown key"},
        {"log:\n  dir: !!str x\n", "evident.yaml:2:8: log.dir: tags are not allowed"},
        {"log: !thing\n  dir: x\n", "evident.yaml:1:6: log: tags are not allowed"},
        {"!!map\nlog: {}\n", "evident.yaml:1:1: tags are not allowed"},
        {"log: {}\n---\nlog: {}\n", "evident.yaml:2:1: more than one document"},
        {"log:\n  dir: [unclosed\n", "evident.yaml:3:1: did not find expected ',' or ']'"},
        {"log:\n\tdir: x\n", "evident.yaml:2:1: found character that cannot start any token"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_fails(cases[i].text, cases[i].message);
    }
}

static void test_limits(void **state)
{
    struct ev_config *config = NULL;
    char *text;
    size_t len;
    (void)state;

    /* Too big: refused before it is parsed. */
    len = EV_CONFIG_MAX_BYTES + 1;
    text = malloc(len);
    assert_non_null(text);
    memset(text, '#', len);
    assert_int_equal(ev_config_parse("big.yaml", text, len, &config), EV_ETOOBIG);
    assert_string_equal(ev_last_error(), "big.yaml: larger than 1048576 bytes");
    assert_null(config);
    /* One byte less is a comment, and fine. */
    assert_int_equal(ev_config_parse("big.yaml", text, len - 1, &config), 0);
    ev_config_free(config);
    config = NULL;
    free(text);

    /* Too deep: nested flow lists. */
    parse_fails("log: [[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]\n",
                "evident.yaml:1:21: nested deeper than 16 levels");

    /* Too many values. */
    len = 16 + 2 * (EV_CONFIG_MAX_NODES + 1);
    text = malloc(len + 1);
    assert_non_null(text);
    memcpy(text, "log: [", 6);
    size_t n = 6;
    for (int i = 0; i <= EV_CONFIG_MAX_NODES; i++) {
        text[n++] = '1';
        text[n++] = ',';
    }
    text[n++] = ']';
    text[n] = '\0';
    assert_int_equal(ev_config_parse("many.yaml", text, n, &config), EV_EFORMAT);
    assert_string_equal(ev_last_error(), "many.yaml:1:20001: more than 10000 keys and values");
    free(text);

    /* Lists longer than their limits. */
    struct {
        const char *head, *item_start, *item_end, *message;
    } lists[] = {
        {"privacy:\n  patterns:\n", "    - {name: p", ", regex: x}\n",
         "evident.yaml:67:7: privacy.patterns: more than 64 patterns"},
        {"alerting:\n  rules:\n", "    - {name: r", "}\n",
         "evident.yaml:67:7: alerting.rules: more than 64 rules"},
        {"server:\n  http_listen:\n", "    - \"h", ":1\"\n",
         "evident.yaml:19:7: server.http_listen: more than 16 items"},
    };
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        char buf[8192];
        size_t used = (size_t)snprintf(buf, sizeof(buf), "%s", lists[l].head);
        for (int i = 0; i < 65; i++) {
            used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%d%s", lists[l].item_start,
                                     i, lists[l].item_end);
        }
        parse_fails(buf, lists[l].message);
    }

    /* Invalid UTF-8 is the YAML reader's to refuse. */
    parse_fails("log:\n  dir: \xff\n", "evident.yaml: byte 12: invalid leading UTF-8 octet");
}

static void test_load(void **state)
{
    char dir[] = "/tmp/evident-config-XXXXXX", path[256];
    struct ev_config *config = NULL;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/evident.yaml", dir);
    assert_int_equal(ev_config_load(path, &config), -ENOENT);
    assert_int_equal(ev_config_load(dir, &config), -EISDIR);
    assert_null(config);

    f = fopen(path, "w");
    assert_non_null(f);
    (void)fputs("storage:\n  segment_size: 2MiB\n  compression: lz4\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(ev_config_load(path, &config), EV_EFORMAT);
    char want[512];
    (void)snprintf(want, sizeof(want), "%s:3:16: storage.compression: expected one of none, zstd",
                   path);
    assert_string_equal(ev_last_error(), want);

    f = fopen(path, "w");
    assert_non_null(f);
    (void)fputs("storage:\n  segment_size: 2MiB\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(ev_config_load(path, &config), 0);
    assert_string_equal(config->path, path);
    assert_int_equal(config->storage.segment_bytes, 2 * MIB);
    ev_config_free(config);

    f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i <= EV_CONFIG_MAX_BYTES / 8; i++) {
        (void)fputs("#######\n", f);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(ev_config_load(path, &config), EV_ETOOBIG);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* The table's names agree with the library's own parsers. */
static void test_names_agree(void **state)
{
    static const char *const syncs[] = {"always", "interval", "never"};
    (void)state;

    for (int t = 0; t < EV_TYPE_COUNT; t++) {
        assert_string_equal(evi_config_type_names[t], ev_event_type_name((enum ev_event_type)t));
    }
    for (size_t i = 0; evi_config_level_choices[i].name != NULL; i++) {
        enum ev_level level;
        assert_int_equal(ev_level_parse(evi_config_level_choices[i].name, &level), 0);
        assert_int_equal((int)level, evi_config_level_choices[i].value);
    }
    for (size_t i = 0; i < 3; i++) {
        char text[64];
        enum ev_sync sync;
        struct ev_config *c;
        assert_int_equal(ev_sync_parse(syncs[i], &sync), 0);
        (void)snprintf(text, sizeof(text), "log:\n  sync: %s\n", syncs[i]);
        c = parse_ok(text);
        assert_int_equal(c->log.sync, sync);
        ev_config_free(c);
    }
    /* Every row has its documentation and a user. */
    for (size_t i = 0; i < evi_config_option_count; i++) {
        assert_non_null(evi_config_options[i].doc);
        assert_non_null(evi_config_options[i].used_by);
    }
}

static char *read_source(const char *relative)
{
    char path[1024];
    FILE *f;
    char *text;
    long size;

    /* EV_TEST_VECTORS_DIR is <source>/tests/vectors. */
    assert_true(snprintf(path, sizeof(path), "%s/../../%s", EV_TEST_VECTORS_DIR, relative) <
                (int)sizeof(path));
    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open '%s': %s", path, strerror(errno));
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    assert_int_equal(fclose(f), 0);
    return text;
}

/* docs/CONFIG.md and config/evident.yaml are what the table writes, byte for byte. */
static void test_committed_files(void **state)
{
    char *doc = NULL, *example = NULL;
    char *committed_doc = read_source("docs/CONFIG.md");
    char *committed_example = read_source("config/evident.yaml");
    struct ev_config *d = defaults(), *c;
    (void)state;

    assert_int_equal(ev_config_doc_markdown(&doc), 0);
    assert_int_equal(ev_config_example_yaml(&example), 0);
    if (strcmp(doc, committed_doc) != 0) {
        fail_msg("docs/CONFIG.md is stale: regenerate it with 'evident config doc'");
    }
    if (strcmp(example, committed_example) != 0) {
        fail_msg("config/evident.yaml is stale: regenerate it with 'evident config example'");
    }
    c = parse_ok(example);
    assert_same(c, d);
    ev_config_free(c);
    ev_config_free(d);
    free(doc);
    free(example);
    free(committed_doc);
    free(committed_example);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_every_section),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_names_agree),
        cmocka_unit_test(test_committed_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
