/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct ev_policy: a configuration's rules for events, compiled once
 * (include/evident/policy.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <evident/config.h>

#include "error.h"
#include "events/events.h"
#include "privacy/sanitize.h"

int ev_policy_new(const struct ev_config *config, struct ev_policy **ret_policy)
{
    struct ev_policy *p = calloc(1, sizeof(*p));
    int r;

    if (p == NULL) {
        return -ENOMEM;
    }
    p->default_level = EV_LEVEL_BASIC;
    for (size_t t = 0; t < EV_TYPE_COUNT; t++) {
        p->types[t] =
            (struct ev_type_policy){.enabled = true, .min_severity = EV_SEV_DEBUG, .level = -1};
    }
    bool sanitize = true, builtin = true;
    const struct ev_sanitize_pattern *patterns = NULL;
    size_t pattern_count = 0;
    if (config != NULL) {
        p->default_level = config->levels.default_level;
        for (size_t t = 0; t < EV_TYPE_COUNT; t++) {
            p->types[t] = config->policies[t];
        }
        sanitize = config->privacy.sanitize;
        builtin = config->privacy.sanitize_builtin;
        patterns = config->privacy.patterns;
        pattern_count = config->privacy.pattern_count;
    }
    if (sanitize && (builtin || pattern_count > 0)) {
        r = evi_sanitizer_new(builtin, patterns, pattern_count, &p->sanitizer);
        if (r < 0) {
            free(p);
            return r;
        }
    }
    *ret_policy = p;
    return 0;
}

void evi_policy_own_use(struct ev_policy *policy)
{
    policy->own_use = true;
}

void ev_policy_free(struct ev_policy *policy)
{
    if (policy != NULL) {
        evi_sanitizer_free(policy->sanitizer);
        free(policy);
    }
}

enum ev_level ev_policy_level(const struct ev_policy *policy, enum ev_event_type type)
{
    if (policy == NULL && (policy = evi_policy_default()) == NULL) {
        return EV_LEVEL_BASIC;
    }
    if ((unsigned)type < EV_TYPE_COUNT && policy->types[type].level >= EV_LEVEL_MINIMAL &&
        policy->types[type].level <= EV_LEVEL_COMPREHENSIVE) {
        return (enum ev_level)policy->types[type].level;
    }
    return policy->default_level;
}

bool evi_policy_keeps(const struct ev_policy *policy, enum ev_event_type type, int severity)
{
    const struct ev_type_policy *t = &policy->types[type];
    /* Lower numbers are more severe (syslog). */
    return t->enabled && severity <= t->min_severity;
}

static struct ev_policy *default_policy;
static pthread_mutex_t default_mu = PTHREAD_MUTEX_INITIALIZER;

const struct ev_policy *evi_policy_default(void)
{
    /* Made on first use; a failure (out of memory) is tried again next time. */
    pthread_mutex_lock(&default_mu);
    if (default_policy == NULL && ev_policy_new(NULL, &default_policy) < 0) {
        default_policy = NULL;
    }
    const struct ev_policy *p = default_policy;
    pthread_mutex_unlock(&default_mu);
    return p;
}
