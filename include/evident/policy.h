/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct ev_policy: what happens to an event before it is hashed
 * (docs/EVENTS.md, "Policies").
 *
 *   1. enablement and minimum severity, per event type: a disabled type or a
 *      less severe event is dropped (EV_DROPPED), never written;
 *   2. the detail level, global or per type, decides which fields are kept
 *      and how much of each output;
 *   3. secret sanitization: every string value of the data is matched against
 *      the built-in patterns (private key blocks, AWS access keys, GitHub and
 *      Slack tokens, JWTs, bearer tokens, passwords in URLs, password=
 *      pairs) and the configured PCRE2 patterns; a match is replaced by
 *      "[REDACTED:NAME]" and the data gets "redacted": COUNT.
 *
 * A policy is immutable once built and may be shared by any number of threads.
 */
#ifndef EVIDENT_POLICY_H
#define EVIDENT_POLICY_H

#include <stddef.h>

#include <evident/event.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct ev_config; /* config.h */
struct ev_policy;

/*
 * Builds the policy a configuration describes (NULL = every default:
 * everything enabled, level basic, built-in sanitization on). Compiles the
 * configured patterns; a pattern that does not compile is EV_EFORMAT with
 * ev_last_error() naming it and the offset of the error.
 */
int ev_policy_new(const struct ev_config *config, struct ev_policy **ret_policy);
void ev_policy_free(struct ev_policy *policy);

/* The level the policy applies to a type. */
enum ev_level ev_policy_level(const struct ev_policy *policy, enum ev_event_type type);

/* Names of the built-in sanitization patterns, NULL-terminated. */
const char *const *ev_sanitize_builtin_names(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
