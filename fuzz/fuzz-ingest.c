/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the scanner report parsers (src/lib/ingest/, docs/INGEST.md).
 *
 * Input:
 *
 *     byte 0    the format, modulo EV_INGEST_FORMAT_COUNT: 0 bandit, 1 semgrep, 2 sarif,
 *               3 docker-inspect
 *     the rest  the report
 *
 * Invariants beyond "no crash" (a violation is __builtin_trap(), a crash to libFuzzer):
 *  - a refused report leaves *ret_ingest untouched and says why in ev_last_error(),
 *    starting with the report's name;
 *  - an accepted report has events of its format's kind only, at least one, each within
 *    the bounds of its fields (event.h): the strings the parsers promise to bound are
 *    bounded, messages are cut to EV_INGEST_MESSAGE_MAX at a character boundary (valid
 *    UTF-8), lines and CWE numbers are >= 1, image digests are "sha256:" and 64 hex
 *    digits, and the report digest is the SHA-256 of the input;
 *  - every event prepares under the default policy, and each prepared entry's data fits
 *    an entry (EV_ENTRY_MAX_BYTES), however many findings the report has.
 *
 * Seed corpus: fuzz/corpus/ingest/ (tests/data/ingest/ with the format byte in front).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/event.h>
#include <evident/ingest.h>
#include <evident/log.h>
#include <evident/policy.h>

#include "crypto.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static bool bounded(const char *s, size_t max)
{
    return s == NULL || strlen(s) <= max;
}

static bool is_digest(const char *s)
{
    if (s == NULL) {
        return true;
    }
    if (strlen(s) != 71 || strncmp(s, "sha256:", 7) != 0) {
        return false;
    }
    for (size_t i = 7; i < 71; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static bool valid_utf8(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = evi_utf8_decode((const uint8_t *)s + i, len - i, NULL);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

static bool positive(struct ev_opt_int v)
{
    return !v.set || v.value >= 1;
}

static void check_assessment(const struct ev_security_assessment *a)
{
    check(a->tool != NULL && bounded(a->tool, 64));
    check(bounded(a->tool_version, 64));
    check(a->target != NULL && bounded(a->target, 4096));
    check(a->report_sha256 != NULL && strlen(a->report_sha256) == 64);
    check(!a->counts_set);
    check(a->finding_count == 0 || a->findings != NULL);
    for (size_t i = 0; i < a->finding_count; i++) {
        const struct ev_finding *f = &a->findings[i];
        check(f->rule_id != NULL && bounded(f->rule_id, 256));
        check(f->severity >= EV_FINDING_INFO && f->severity <= EV_FINDING_CRITICAL);
        check(f->confidence >= EV_CONFIDENCE_UNSET && f->confidence <= EV_CONFIDENCE_HIGH);
        check(bounded(f->file, 4096));
        check(positive(f->line) && positive(f->cwe));
        check(bounded(f->message, EV_INGEST_MESSAGE_MAX));
        check(f->message == NULL || valid_utf8(f->message));
    }
}

static void check_container(const struct ev_container_creation *c)
{
    check(c->container_id != NULL && bounded(c->container_id, 128));
    check(bounded(c->name, 256));
    check(c->image != NULL && bounded(c->image, 512));
    check(is_digest(c->image_digest));
    check(c->runtime != NULL);
    check(bounded(c->user, 128));
    check(c->cap_add.count <= 64 && c->cap_drop.count <= 64);
    for (size_t i = 0; i < c->cap_add.count; i++) {
        check(bounded(c->cap_add.items[i], 64));
    }
    for (size_t i = 0; i < c->cap_drop.count; i++) {
        check(bounded(c->cap_drop.items[i], 64));
    }
    check(c->seccomp_profile != NULL && bounded(c->seccomp_profile, 256));
    check(bounded(c->apparmor_profile, 256));
    check(bounded(c->network_mode, 64) && bounded(c->pid_mode, 64));
    check(c->mount_count <= 256);
    for (size_t i = 0; i < c->mount_count; i++) {
        check(c->mounts[i].destination != NULL && bounded(c->mounts[i].destination, 4096));
        check(bounded(c->mounts[i].source, 4096) && bounded(c->mounts[i].type, 32));
    }
    check(!c->cpu_millicores.set || c->cpu_millicores.value >= 1);
    check(!c->memory_limit_bytes.set || c->memory_limit_bytes.value >= 0);
    check(!c->pids_limit.set || c->pids_limit.value >= 0);
}

static struct ev_policy *policy;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ev_ingest *in = (struct ev_ingest *)&policy; /* must stay untouched on failure */

    if (size < 1) {
        return 0;
    }
    if (policy == NULL && ev_policy_new(NULL, &policy) < 0) {
        __builtin_trap();
    }
    enum ev_ingest_format format = (enum ev_ingest_format)(data[0] % EV_INGEST_FORMAT_COUNT);
    const char *report = (const char *)data + 1;
    size_t len = size - 1;

    int r = ev_ingest_parse(format, "fuzz.json", report, len, NULL, &in);
    if (r < 0) {
        check(in == (struct ev_ingest *)&policy);
        check(strncmp(ev_last_error(), "fuzz.json", 9) == 0 || r == -ENOMEM);
        return 0;
    }
    check(r == 0 && in != NULL && in->format == format);
    check(ev_ingest_event_count(in) >= 1);
    if (format == EV_INGEST_DOCKER_INSPECT) {
        check(in->assessment_count == 0 && in->container_count >= 1);
    } else {
        check(in->container_count == 0 && in->assessment_count >= 1);
    }

    uint8_t digest[EVI_HASH];
    char hex[2 * EVI_HASH + 1];
    evi_sha256(report, len, digest);
    evi_hex_encode(digest, sizeof(digest), hex);
    check(strcmp(in->report_sha256, hex) == 0 && in->report_bytes == len);

    for (size_t i = 0; i < in->assessment_count; i++) {
        struct ev_prepared prepared;
        check_assessment(&in->assessments[i]);
        r = ev_security_assessment_prepare(policy, &in->assessments[i], &prepared);
        check(r == 0);
        check(strlen(prepared.event.data_json) <= EV_ENTRY_MAX_BYTES);
        ev_prepared_release(&prepared);
    }
    for (size_t i = 0; i < in->container_count; i++) {
        struct ev_prepared prepared;
        check_container(&in->containers[i]);
        r = ev_container_creation_prepare(policy, &in->containers[i], &prepared);
        check(r == 0);
        check(strlen(prepared.event.data_json) <= EV_ENTRY_MAX_BYTES);
        ev_prepared_release(&prepared);
    }
    ev_ingest_free(in);
    return 0;
}
