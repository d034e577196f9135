/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in secret patterns (patterns.h), one entry per kind of secret,
 * each with an example of what it redacts.
 *
 * Rules every entry follows, so that the prefilter in sanitize.c stays a
 * superset of what the regexes can match and sanitizing stays idempotent:
 *  - each regex needs the anchor that sanitize.c's prefilter looks for
 *    (listed as "anchor" below); a new entry needs a new prefilter case;
 *  - values are bounded by characters a marker's "[" cannot extend, or the
 *    matching region is covered by an existing marker, which sanitize.c
 *    ignores;
 *  - nothing here may match 64 hex digits on its own (digests are data).
 */
#include <stddef.h>

#include <evident/policy.h>

#include "patterns.h"

/* Credential words, matched case-insensitively as the end of a key name. */
#define KEYWORDS                                                                                   \
    "pass(?:word|wd|phrase)|secret(?:[_-]?key)?|token|api[_-]?key|apikey|access[_-]?key|"          \
    "private[_-]?key"
/* A quoted value (group 1 = inside the quotes), for the branch resets below. */
#define DQUOTED "\"((?:[^\"\\\\\\r\\n]|\\\\.)+)\""
#define SQUOTED "'([^'\\r\\n]+)'"

const struct evi_builtin_pattern evi_builtin_patterns[EVI_PAT_COUNT] = {
    /*
     * A PEM or PGP private key block, from BEGIN through END (or through the
     * end of the text when END is missing, e.g. truncated output):
     *   -----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----
     *   -> [REDACTED:private_key]
     * Covers PRIVATE KEY, RSA/EC/DSA/OPENSSH/ENCRYPTED PRIVATE KEY and
     * PGP PRIVATE KEY BLOCK. Anchor "-----BEGIN ".
     */
    [EVI_PAT_PRIVATE_KEY] = {"private_key",
                             "-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                             "(?:[\\s\\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                             "|[\\s\\S]*)"},
    /*
     * An AWS access key id (long-term AKIA, temporary ASIA):
     *   AKIAIOSFODNN7EXAMPLE -> [REDACTED:aws_access_key]
     * Anchor "AKIA" / "ASIA".
     */
    [EVI_PAT_AWS_ACCESS_KEY] = {"aws_access_key",
                                "(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"},
    /*
     * The 40-character value of an AWS secret access key assignment:
     *   aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
     *   -> aws_secret_access_key = [REDACTED:aws_secret_key]
     * Anchor "=" or ":" after a name ending in "key".
     */
    [EVI_PAT_AWS_SECRET_KEY] = {"aws_secret_key",
                                "(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)"
                                "[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9/+]{40})"
                                "(?![A-Za-z0-9/+])"},
    /*
     * GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_),
     * server-to-server (ghs_), refresh (ghr_), fine-grained (github_pat_):
     *   ghp_16C7e42F292c6912E7710c838347Ae178B4a -> [REDACTED:github_token]
     * Anchor "_" after "gh?" or "github".
     */
    [EVI_PAT_GITHUB_TOKEN] = {"github_token", "(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}"
                                              "|github_pat_[A-Za-z0-9_]{22,})"},
    /*
     * Slack tokens (bot xoxb-, user xoxp-, xoxa-, xoxr-, xoxs-, xoxe-, app xapp-):
     *   xoxb-2345678901-1234567890123-AbCdEfGhIjKl -> [REDACTED:slack_token]
     * Anchor "xox?-" / "xapp-".
     */
    [EVI_PAT_SLACK_TOKEN] = {"slack_token",
                             "(?<![A-Za-z0-9])(?:xox[baprse]|xapp)-[A-Za-z0-9-]{10,}"},
    /*
     * A Slack incoming-webhook or workflow URL, whole (the path is the secret):
     *   https://hooks.slack.com/services/T000/B000/XXXX -> [REDACTED:slack_webhook]
     * Anchor "://hooks.slack.com/".
     */
    [EVI_PAT_SLACK_WEBHOOK] = {"slack_webhook",
                               "https?://hooks\\.slack\\.com/(?:services|workflows|triggers)/"
                               "[A-Za-z0-9_/+-]{8,}"},
    /*
     * An Anthropic API key:
     *   sk-ant-api03-AbCdEf0123456789AbCdEf -> [REDACTED:anthropic_key]
     * Anchor "sk-".
     */
    [EVI_PAT_ANTHROPIC_KEY] = {"anthropic_key", "(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}"},
    /*
     * An OpenAI API key (legacy sk-, project sk-proj-, service account
     * sk-svcacct-), at least 32 characters after "sk-":
     *   sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345 -> [REDACTED:openai_key]
     * Anchor "sk-".
     */
    [EVI_PAT_OPENAI_KEY] = {"openai_key", "(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{32,}"},
    /*
     * Stripe secret and restricted keys, live or test:
     *   sk_live_4eC39HqLyjWDarjtT1zdp7dc -> [REDACTED:stripe_key]
     * Anchor "_" after "sk" / "rk".
     */
    [EVI_PAT_STRIPE_KEY] = {"stripe_key", "(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"},
    /*
     * A Google API key (AIza + 35 characters):
     *   AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe -> [REDACTED:google_api_key]
     * Anchor "AIza".
     */
    [EVI_PAT_GOOGLE_API_KEY] = {"google_api_key",
                                "(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"},
    /*
     * A JSON Web Token: three base64url parts, the header a JSON object
     * (so "eyJ"); the signature may be empty (alg none):
     *   eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP -> [REDACTED:jwt]
     * Anchor "eyJ".
     */
    [EVI_PAT_JWT] = {"jwt", "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{3,}\\."
                            "[A-Za-z0-9_-]*"},
    /*
     * The password of a URL's user information; the rest of the URL stays:
     *   postgres://app:s3cret@db:5432/x -> postgres://app:[REDACTED:url_password]@db:5432/x
     * A URL without user information (https://host:8080/p?a=b@c) is left
     * alone. Anchor "://".
     */
    [EVI_PAT_URL_PASSWORD] = {"url_password", "://[^\\s/?#@:]*:([^\\s/?#@]+)@"},
    /*
     * HTTP Basic credentials after an Authorization header name; the scheme
     * stays:
     *   Authorization: Basic dXNlcjpwYXNz -> Authorization: Basic [REDACTED:basic_auth]
     * Anchor "basic" (any case).
     */
    [EVI_PAT_BASIC_AUTH] = {"basic_auth", "(?i:authorization)[\"']?[ \\t]*[:=][ \\t]*[\"']?"
                                          "(?i:basic)[ \\t]+([A-Za-z0-9+/]{8,}=*)"},
    /*
     * A bearer token; "Bearer " stays so the reader sees what it was:
     *   Authorization: Bearer 0a1b2c3d4e5f6a7b8c9d
     *   -> Authorization: Bearer [REDACTED:bearer_token]
     * The token must be 16+ token characters with a digit, or an upper-case
     * letter after the first character, so that prose ("bearer certificates")
     * is left alone. Anchor "bearer" (any case).
     */
    [EVI_PAT_BEARER_TOKEN] = {"bearer_token",
                              "(?i:bearer)[ \\t]+((?=[A-Za-z0-9._~+/-]{16})"
                              "(?=[A-Za-z0-9._~+/-]*?[0-9]|[A-Za-z0-9._~+/-]+?[A-Z])"
                              "[A-Za-z0-9._~+/-]+=*)"},
    /*
     * The value of a credential assignment, whatever the syntax around it;
     * the key stays. The key ends in password, passwd, passphrase, pwd,
     * secret, secret_key, token, api_key/apikey/api-key, access_key or
     * private_key (any case, so DB_PASSWORD and X-Api-Key count):
     *   password=hunter2&user=bob      -> password=[REDACTED:credential]&user=bob
     *   "api_key": "abc123"            -> "api_key": "[REDACTED:credential]"
     *   password: correct horse staple -> password: [REDACTED:credential]
     *       (after ':' the value runs to the end of the line, as in YAML and
     *       HTTP headers; after '=' to a space, quote, '&', ';' or ',')
     *   mysql --password hunter2       -> mysql --password [REDACTED:credential]
     *   curl -u bob:hunter2 URL        -> curl -u bob:[REDACTED:credential] URL
     * Not: "PWD=/home/bob" (a shell's working directory), "tokens: 5",
     * "-u 1000:1000", "password" without a value. Anchor "=" or ":" after a
     * key ending in one of the words, "--" before one, or "-u ".
     */
    [EVI_PAT_CREDENTIAL] = {"credential",
                            "(?|(?i:" KEYWORDS "|pwd(?![\"']?[ \\t]*[:=][ \\t]*[\"']?/))"
                            "[\"']?[ \\t]*"
                            "(?|=[ \\t]*(?|" DQUOTED "|" SQUOTED "|[\"']?([^\\s\"'&;,]+))"
                            "|:[ \\t]*(?|" DQUOTED "|" SQUOTED "|(\\S(?:[^\\r\\n]*\\S)?)))"
                            "|--(?:[A-Za-z0-9]+[_-])*(?i:" KEYWORDS "|pwd)[ \\t]+"
                            "(?|" DQUOTED "|" SQUOTED "|([^\\s\"'-][^\\s\"']*))"
                            "|(?<!\\S)(?:-u|--user)[ \\t]+[\"']?[^\\s:\"'@]+:"
                            "(?![0-9]+(?![^\\s\"']))([^\\s\"'@]+))"},
};

const char *const *ev_sanitize_builtin_names(void)
{
    static const char *const names[EVI_PAT_COUNT + 1] = {
        "private_key",
        "aws_access_key",
        "aws_secret_key",
        "github_token",
        "slack_token",
        "slack_webhook",
        "anthropic_key",
        "openai_key",
        "stripe_key",
        "google_api_key",
        "jwt",
        "url_password",
        "basic_auth",
        "bearer_token",
        "credential",
        NULL,
    };
    return names;
}
