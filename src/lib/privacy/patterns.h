/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in secret patterns of the sanitizer (sanitize.c), in priority
 * order: when matches of two patterns overlap, the marker names the one that
 * starts first, and on a tie the one listed first here (so "token=ghp_..."
 * says github_token, not credential). patterns.c documents each with an
 * example. The names are stable: they appear in logs as [REDACTED:NAME].
 */
#ifndef EVI_PRIVACY_PATTERNS_H
#define EVI_PRIVACY_PATTERNS_H

enum evi_builtin_pattern_id {
    EVI_PAT_PRIVATE_KEY,
    EVI_PAT_AWS_ACCESS_KEY,
    EVI_PAT_AWS_SECRET_KEY,
    EVI_PAT_GITHUB_TOKEN,
    EVI_PAT_SLACK_TOKEN,
    EVI_PAT_SLACK_WEBHOOK,
    EVI_PAT_ANTHROPIC_KEY,
    EVI_PAT_OPENAI_KEY,
    EVI_PAT_STRIPE_KEY,
    EVI_PAT_GOOGLE_API_KEY,
    EVI_PAT_JWT,
    EVI_PAT_URL_PASSWORD,
    EVI_PAT_BASIC_AUTH,
    EVI_PAT_BEARER_TOKEN,
    EVI_PAT_CREDENTIAL,
    EVI_PAT_COUNT
};

struct evi_builtin_pattern {
    const char *name;
    /*
     * PCRE2, compiled with PCRE2_UTF. Capture group 1, when the pattern has
     * one and it took part in the match, is what gets replaced ("Bearer "
     * and "password=" stay); otherwise the whole match is.
     */
    const char *regex;
};

extern const struct evi_builtin_pattern evi_builtin_patterns[EVI_PAT_COUNT];

#endif
