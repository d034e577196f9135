/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct evi_sanitizer: finds secrets in text before it is hashed and
 * replaces each with "[REDACTED:NAME]" (docs/EVENTS.md, "Policies";
 * include/evident/policy.h). An immutable log cannot be scrubbed later, so
 * this runs on every string value of every event.
 *
 * Patterns: the built-in ones (patterns.c; names from
 * ev_sanitize_builtin_names()) and the configured ones, PCRE2 regexes
 * compiled with PCRE2_UTF (JIT when available) and run as given: their whole
 * match is replaced. A built-in pattern replaces only the secret part of its
 * match ("Bearer [REDACTED:bearer_token]", "password=[REDACTED:credential]").
 *
 * Results:
 *  - overlapping matches (of any patterns) become one marker, named after
 *    the match that starts first (on a tie, built-ins in table order, then
 *    configured patterns in order); empty matches are ignored;
 *  - a marker already in the text ("[REDACTED:NAME]" with NAME one of this
 *    sanitizer's names) is never matched into: a match lying inside markers
 *    is ignored, one that overlaps a marker swallows it whole. So the output
 *    never holds a marker inside a marker, and sanitizing the output again
 *    finds nothing (the sanitizer re-checks its own output to make sure);
 *  - text that is not valid UTF-8 is matched as evi_jsonw_string() would
 *    store it, each invalid byte as U+FFFD; when something matches, the
 *    result is that repaired text with the markers, so it is valid UTF-8;
 *  - a match that PCRE2 cannot finish (match or JIT stack limit: only a
 *    pathological configured regex) fails closed: the text from where that
 *    search stood to its end is redacted under the pattern's name.
 *
 * Cost: the common case is cheap and allocates nothing. Text shorter than
 * the shortest possible match is skipped; otherwise one pass over the bytes
 * looks for the built-ins' anchors ("-----BEGIN", "AKIA", "eyJ", "://", "="
 * or ":" after a credential word, ...) and only the built-in regexes whose
 * anchor was seen run. Configured regexes run on every text long enough.
 *
 * Thread safety: a sanitizer is immutable after evi_sanitizer_new() and may
 * be used by any number of threads at once. Each thread keeps its own PCRE2
 * match data and JIT stack (created on its first match, freed when it exits).
 */
#ifndef EVI_PRIVACY_SANITIZE_H
#define EVI_PRIVACY_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/config.h>

struct evi_sanitizer;

/*
 * builtin: include the built-in patterns; patterns[0..count): configured
 * {name, regex} (PCRE2 syntax, compiled with PCRE2_UTF); count at most
 * EV_CONFIG_MAX_PATTERNS. Names are [a-z0-9_-], 1 to 32 characters.
 *
 * Returns 0 and the sanitizer in *ret, or EV_EFORMAT with ev_last_error()
 * "privacy pattern 'NAME': <pcre2 message> at offset N" for a regex that does
 * not compile ("privacy pattern 'NAME': <what is wrong>" for a bad name, a
 * missing regex or too many patterns), or -ENOMEM.
 */
int evi_sanitizer_new(bool builtin, const struct ev_sanitize_pattern *patterns, size_t count,
                      struct evi_sanitizer **ret);

/* Accepts NULL. */
void evi_sanitizer_free(struct evi_sanitizer *s);

/*
 * Finds secrets in text[0..len) (UTF-8; invalid bytes are safe, see above).
 * Returns 0 and leaves *ret_text and *ret_len untouched when nothing matches;
 * otherwise sets *ret_text (malloc'd, NUL-terminated, the caller frees it)
 * and *ret_len to a copy with every match replaced by "[REDACTED:NAME]" and
 * returns the number of replacements (> 0; overlapping matches count once).
 * Negative on failure: -ENOMEM, EV_ETOOBIG when len is over INT_MAX.
 */
int evi_sanitize_text(const struct evi_sanitizer *s, const char *text, size_t len, char **ret_text,
                      size_t *ret_len);

/*
 * evi_sanitize_text, and in *ret_plain (always written) whether the text came
 * back unchanged (0) and evi_jsonw_string() would copy every byte of it as it
 * is: no control character, '"', '\\' or byte >= 0x80. Found in the same pass
 * as the prefilter; false also where that pass cannot tell (a sanitizer whose
 * trigger table is not one of the built-in scans), so false means "ask the
 * writer", true is exact. Lets the encoder skip the writer's own scan.
 */
int evi_sanitize_text_plain(const struct evi_sanitizer *s, const char *text, size_t len,
                            char **ret_text, size_t *ret_len, bool *ret_plain);

/* For tests: the reference for *ret_plain above, a byte at a time. */
bool evi_sanitize_json_plain(const char *text, size_t len);

/*
 * json[0..len) is one JSON object in canonical form (FORMAT.md §5: as
 * jansson writes it with JSON_COMPACT | JSON_SORT_KEYS; exactly what
 * evi_json_is_canonical_object() accepts). Sanitizes every string value at
 * every depth, object members and array elements alike; keys are never
 * changed. Escapes are decoded before matching and the result is escaped as
 * evi_jsonw_string() does, so the output is canonical too, with the same
 * keys in the same order.
 *
 * With the built-in patterns on, a non-empty string value whose key names a
 * credential (the key ends in password, passwd, passphrase, pwd, secret,
 * secret_key, token, api_key/apikey/api-key, access_key or private_key, any
 * case; not pwd with a value starting with '/') is redacted whole as
 * credential: {"db_password":"x"} -> {"db_password":"[REDACTED:credential]"}.
 *
 * Returns 0 when nothing matched (*ret_json and *ret_len untouched), else
 * the number of replacements and the canonical result in *ret_json
 * (malloc'd, NUL-terminated, the caller frees it) and *ret_len. EV_EJSON
 * (with ev_last_error()) when json is not a canonical object; -ENOMEM;
 * EV_ETOOBIG when len is over INT_MAX.
 */
/*
 * evi_sanitize_text for the string value of an object member: with the
 * built-in patterns on, a non-empty value under a credential key (a name
 * ending in password, token, secret, api_key, ...; see evi_sanitize_json) is
 * replaced whole by [REDACTED:credential]. key may be NULL (an array item).
 */
int evi_sanitize_member(const struct evi_sanitizer *s, const char *key, size_t key_len,
                        const char *text, size_t len, char **ret_text, size_t *ret_len);

int evi_sanitize_json(const struct evi_sanitizer *s, const char *json, size_t len, char **ret_json,
                      size_t *ret_len);

/*
 * For tests: the prefilter's verdict on text[0..len), the built-in patterns
 * whose anchor occurs (a bit per enum evi_builtin_pattern_id) and in
 * *ret_valid whether the text is valid UTF-8; fast as the sanitizer runs it
 * (16 or 32 bytes per step, the quick test of the bytes around a trigger
 * before the full one) or the reference (a byte at a time, the full test at every
 * trigger byte). The two must agree on every text.
 */
uint32_t evi_sanitize_prefilter(const struct evi_sanitizer *s, const char *text, size_t len,
                                bool fast, bool *ret_valid);

/*
 * For tests: on a sanitizer with the built-in patterns, texts of 32 bytes or
 * more are scanned 32 bytes per step with AVX2 where the CPU has it, else 16
 * per step with SSE2; off turns the 32-byte scan off (and on back on), so that
 * tests run both. Returns whether it is on. Call before sharing s.
 */
bool evi_sanitizer_scan32(struct evi_sanitizer *s, bool on);

#endif
