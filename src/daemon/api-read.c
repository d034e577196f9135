/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's reads (api.h): checkpoint, entries, proofs, summary, health and
 * metrics. Each runs on the HTTP thread that received the request, on the
 * writer's log handle, which takes reads from any thread (log.h).
 *
 * Entries are stored as canonical JSON text (docs/FORMAT.md §5) and are
 * embedded in responses byte for byte, never re-serialized: what a client
 * gets is what was hashed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/statvfs.h>

#include <evident/datakey.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/note.h>
#include <evident/bundle.h>
#include <evident/report.h>

#include "api.h"
#include "backupd.h"
#include "commit.h"
#include "disk.h"
#include "metrics.h"
#include "stream.h"

#define JSON_TYPE "application/json"
#define TEXT_TYPE "text/plain; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define ENTRIES_DEFAULT_LIMIT 100
#define ENTRIES_MAX_LIMIT 1000
/* ev_log_scan() is called over this many entries at a time, to bound one request's work. */
#define SCAN_CHUNK 4096

static const char *param(const struct evd_request *q, const char *key)
{
    return q->query != NULL ? q->query(q->query_ctx, key) : NULL;
}

/* A decimal number without sign, at most 20 digits, within uint64_t. */
static bool parse_u64(const char *text, uint64_t *ret_value)
{
    uint64_t v = 0;

    if (text == NULL || text[0] == '\0' || strlen(text) > 20) {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    *ret_value = v;
    return true;
}

/*
 * An optional non-negative integer parameter. Returns false with a 400 set
 * when it is present and malformed.
 */
static bool param_u64(const struct evd_request *q, const char *key, bool *ret_given,
                      uint64_t *ret_value, struct evd_response *r)
{
    const char *text = param(q, key);

    *ret_given = text != NULL;
    if (text == NULL) {
        return true;
    }
    if (!parse_u64(text, ret_value)) {
        evd_api_error(r, 400, "%s: expected a non-negative integer", key);
        return false;
    }
    return true;
}

static bool param_time(const struct evd_request *q, const char *key, int64_t *ret_ns,
                       struct evd_response *r)
{
    const char *text = param(q, key);

    if (text == NULL) {
        return true;
    }
    if (ev_time_parse(text, ret_ns) < 0 || *ret_ns <= 0) {
        evd_api_error(r, 400, "%s: expected a time such as 2026-11-27T09:00:00Z", key);
        return false;
    }
    return true;
}

/* since/until of /v1/entries and /v1/summary. */
static bool param_window(const struct evd_request *q, int64_t *ret_since, int64_t *ret_until,
                         struct evd_response *r)
{
    if (!param_time(q, "since", ret_since, r) || !param_time(q, "until", ret_until, r)) {
        return false;
    }
    if (*ret_since != 0 && *ret_until != 0 && *ret_since >= *ret_until) {
        evd_api_error(r, 400, "until: must be later than since");
        return false;
    }
    return true;
}

/* The latest checkpoint note and its tree size; false with the response set. */
static bool latest_checkpoint(struct evd *d, char **ret_note, size_t *ret_len, uint64_t *ret_size,
                              struct evd_response *r)
{
    struct ev_checkpoint cp;
    char *note = NULL;
    size_t len = 0;
    int rc = ev_log_latest_checkpoint(d->log, &note, &len);

    if (rc == -ENOENT) {
        evd_api_error(r, 404, "no checkpoint signed yet");
        return false;
    }
    if (rc < 0) {
        evd_api_storage_error(r, rc);
        return false;
    }
    /* The note's text ends at the blank line before its signatures (C2SP signed-note). */
    const char *blank = strstr(note, "\n\n");
    rc = blank == NULL ? EV_EFORMAT : ev_checkpoint_parse(note, (size_t)(blank - note) + 1, &cp);
    if (rc < 0) {
        free(note);
        evd_api_storage_error(r, rc);
        return false;
    }
    *ret_note = note;
    *ret_len = len;
    *ret_size = cp.tree_size;
    return true;
}

/* ---- GET /v1/checkpoint -------------------------------------------------- */

void evd_api_checkpoint(struct evd *d, const struct evd_request *q, const char *arg,
                        struct evd_response *r)
{
    struct evd_buf b = {0};
    char *note;
    size_t len;
    uint64_t size;

    if (!latest_checkpoint(d, &note, &len, &size, r)) {
        return;
    }
    b.data = note;
    b.len = len;
    b.cap = len + 1;
    evd_api_reply(r, 200, TEXT_TYPE, &b);
}

/* ---- GET /v1/entries ----------------------------------------------------- */

static bool is_json_object(const struct ev_entry *entry)
{
    return entry->len >= 2 && entry->bytes[0] == '{' && entry->bytes[entry->len - 1] == '}';
}

/*
 * An encrypted entry (FORMAT.md §5.1) gets `,"decrypted":ENTRY` after it: the
 * entry it decrypts to with the daemon's data keys, or null without its key.
 * A plain entry gets nothing.
 */
static void add_decrypted(struct evd_buf *b, struct ev_log *log, const struct ev_entry *entry)
{
    char *text = NULL;
    size_t len = 0;

    if (ev_entry_encryption(entry->bytes, entry->len, NULL) != 1) {
        return;
    }
    if (ev_log_decrypt(log, entry, &text, &len) < 0) {
        evd_buf_str(b, ",\"decrypted\":null");
        return;
    }
    evd_buf_str(b, ",\"decrypted\":");
    evd_buf_add(b, text, len);
    free(text);
}

struct page {
    struct ev_log *log;
    struct evd_buf *body;
    uint64_t limit, count;
    bool more;     /* stopped at an entry that did not fit */
    uint64_t next; /* with more: where the next page starts */
    uint64_t bad;  /* an entry that is not a JSON object */
    int error;
};

static int add_entry(void *ctx, const struct ev_entry *entry)
{
    struct page *p = ctx;

    /* An encrypted entry may add its decrypted form, never longer than itself. */
    if (p->count == p->limit || p->body->len + 2 * entry->len > EVD_API_PAGE_MAX_BYTES) {
        p->more = true;
        p->next = entry->index;
        return 1;
    }
    if (!is_json_object(entry)) {
        p->bad = entry->index;
        p->error = EV_ECORRUPT;
        return 1;
    }
    evd_buf_str(p->body, p->count > 0 ? ",{\"entry\":" : "{\"entry\":");
    evd_buf_add(p->body, entry->bytes, entry->len);
    add_decrypted(p->body, p->log, entry);
    evd_buf_printf(p->body, ",\"index\":%" PRIu64 "}", entry->index);
    p->count++;
    return 0;
}

void evd_api_entries(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r)
{
    struct ev_filter filter = {.max_severity = -1};
    struct evd_buf b = {0};
    struct page page = {.log = d->log, .body = &b, .limit = ENTRIES_DEFAULT_LIMIT};
    uint64_t from = 0, to = 0, size, pos, scanned = 0;
    bool from_given, to_given, limit_given;
    const char *text;
    int rc = 0;

    if (!param_u64(q, "from", &from_given, &from, r) || !param_u64(q, "to", &to_given, &to, r) ||
        !param_u64(q, "limit", &limit_given, &page.limit, r) ||
        !param_window(q, &filter.since_ns, &filter.until_ns, r)) {
        return;
    }
    if (page.limit < 1 || page.limit > ENTRIES_MAX_LIMIT) {
        evd_api_error(r, 400, "limit: expected 1 to %d", ENTRIES_MAX_LIMIT);
        return;
    }
    if (to_given && from > to) {
        evd_api_error(r, 400, "to: must not be less than from");
        return;
    }
    if ((text = param(q, "type")) != NULL) {
        if (text[0] == '\0') {
            evd_api_error(r, 400, "type: empty");
            return;
        }
        filter.type = text;
    }
    if ((text = param(q, "severity")) != NULL) {
        uint64_t level;
        if (parse_u64(text, &level) && level <= EV_SEV_DEBUG) {
            filter.max_severity = (int)level;
        } else if (ev_severity_parse(text, &filter.max_severity) < 0) {
            evd_api_error(r, 400, "severity: expected a severity name or 0 to 7");
            return;
        }
    }
    if ((text = param(q, "source")) != NULL) {
        if (text[0] == '\0') {
            evd_api_error(r, 400, "source: empty");
            return;
        }
        filter.source = text;
    }

    size = ev_log_size(d->log);
    if (!to_given || to > size) {
        to = size;
    }
    evd_buf_str(&b, "{\"entries\":[");
    for (pos = from; pos < to && rc == 0; pos += SCAN_CHUNK) {
        if (scanned >= EVD_API_SCAN_MAX) {
            /* Enough work for one request: the client continues from here. */
            page.more = true;
            page.next = pos;
            break;
        }
        uint64_t end = to - pos > SCAN_CHUNK ? pos + SCAN_CHUNK : to;
        rc = ev_log_scan(d->log, pos, end, &filter, add_entry, &page);
        scanned += end - pos;
    }
    if (page.error != 0) {
        free(b.data);
        evd_api_error(r, 500, "storage: entry %" PRIu64 " is not a JSON object", page.bad);
        return;
    }
    if (rc < 0) {
        free(b.data);
        evd_api_storage_error(r, rc);
        return;
    }
    if (page.more) {
        evd_buf_printf(&b, "],\"next\":%" PRIu64 "}", page.next);
    } else {
        evd_buf_str(&b, "],\"next\":null}");
    }
    evd_api_reply(r, 200, JSON_TYPE, &b);
}

/* ---- GET /v1/entries/N --------------------------------------------------- */

/* The N of a path: decimal, no sign; false with a 404 set (the resource does not exist). */
static bool path_index(const char *arg, uint64_t *ret_index, struct evd_response *r)
{
    if (!parse_u64(arg, ret_index)) {
        evd_api_error(r, 404, "no such resource: expected an entry number");
        return false;
    }
    return true;
}

static void hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    out[2 * len] = '\0';
}

void evd_api_entry(struct evd *d, const struct evd_request *q, const char *arg,
                   struct evd_response *r)
{
    struct ev_entry *entry = NULL;
    struct evd_buf b = {0};
    char leaf[2 * EV_HASH_BYTES + 1];
    uint64_t index;
    int rc;

    if (!path_index(arg, &index, r)) {
        return;
    }
    rc = ev_log_entry(d->log, index, &entry);
    if (rc == EV_ERANGE) {
        evd_api_error(r, 404, "no entry %" PRIu64 " (the log has %" PRIu64 " entries)", index,
                      ev_log_size(d->log));
        return;
    }
    if (rc == EV_EPRUNED) {
        /* Gone for good, and said so (FORMAT.md §3.2): its proofs still work. */
        evd_api_error(r, 410,
                      "entry %" PRIu64 " was removed by retention; its leaf hash is kept, so "
                      "/v1/proof/%" PRIu64 " still proves it",
                      index, index);
        return;
    }
    if (rc < 0) {
        evd_api_storage_error(r, rc);
        return;
    }
    if (!is_json_object(entry)) {
        ev_entry_free(entry);
        evd_api_error(r, 500, "storage: entry %" PRIu64 " is not a JSON object", index);
        return;
    }
    hex(entry->leaf_hash, EV_HASH_BYTES, leaf);
    evd_buf_str(&b, "{\"entry\":");
    evd_buf_add(&b, entry->bytes, entry->len);
    add_decrypted(&b, d->log, entry);
    evd_buf_printf(&b, ",\"epoch\":%" PRIu32 ",\"index\":%" PRIu64 ",\"leaf_hash\":\"%s\"}",
                   entry->epoch, entry->index, leaf);
    ev_entry_free(entry);
    evd_api_reply(r, 200, JSON_TYPE, &b);
}

/* ---- GET /v1/proof/N?size=S ---------------------------------------------- */

void evd_api_proof(struct evd *d, const struct evd_request *q, const char *arg,
                   struct evd_response *r)
{
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    struct evd_buf b = {0};
    char *note = NULL, *text = NULL;
    size_t note_len, proof_len, text_len;
    uint64_t index, size = 0, latest;
    bool size_given;
    int rc;

    if (!path_index(arg, &index, r) || !param_u64(q, "size", &size_given, &size, r) ||
        !latest_checkpoint(d, &note, &note_len, &latest, r)) {
        return;
    }
    if (size_given && size != latest) {
        free(note);
        note = NULL;
        rc = ev_log_checkpoint_at(d->log, size, &note, &note_len);
        if (rc == -ENOENT) {
            evd_api_error(r, 404,
                          "no signed checkpoint of size %" PRIu64 " (the latest covers %" PRIu64
                          " entries)",
                          size, latest);
            return;
        }
        if (rc < 0) {
            evd_api_storage_error(r, rc);
            return;
        }
    } else {
        size = latest;
    }
    if (index >= size) {
        free(note);
        evd_api_error(r, 404, "entry %" PRIu64 " is not in the checkpoint of size %" PRIu64 "%s",
                      index, size, size_given ? "" : " (a newer checkpoint will cover it)");
        return;
    }
    rc = ev_log_prove_inclusion(d->log, index, size, proof, &proof_len);
    if (rc == 0) {
        rc = ev_tlog_proof_format(index, (const uint8_t(*)[EV_HASH_BYTES])proof, proof_len, NULL, 0,
                                  note, note_len, &text, &text_len);
    }
    free(note);
    if (rc < 0) {
        evd_api_storage_error(r, rc);
        return;
    }
    b.data = text;
    b.len = text_len;
    b.cap = text_len + 1;
    evd_api_reply(r, 200, TEXT_TYPE, &b);
}

/* ---- GET /v1/consistency?old=&new= --------------------------------------- */

void evd_api_consistency(struct evd *d, const struct evd_request *q, const char *arg,
                         struct evd_response *r)
{
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    struct evd_buf b = {0};
    char *text = NULL;
    size_t proof_len, text_len;
    uint64_t old_size = 0, new_size = 0, size;
    bool old_given, new_given;
    int rc;

    if (!param_u64(q, "old", &old_given, &old_size, r) ||
        !param_u64(q, "new", &new_given, &new_size, r)) {
        return;
    }
    if (!old_given) {
        evd_api_error(r, 400, "old: required");
        return;
    }
    if (!new_given) {
        char *note;
        size_t note_len;
        if (!latest_checkpoint(d, &note, &note_len, &new_size, r)) {
            return;
        }
        free(note);
    }
    size = ev_log_size(d->log);
    if (new_size > size) {
        evd_api_error(r, 400, "new: the log has %" PRIu64 " entries", size);
        return;
    }
    if (old_size < 1 || old_size > new_size) {
        evd_api_error(r, 400, "old: expected 1 to new (%" PRIu64 ")", new_size);
        return;
    }
    rc = ev_log_prove_consistency(d->log, old_size, new_size, proof, &proof_len);
    if (rc == 0) {
        rc = ev_proof_lines_format((const uint8_t(*)[EV_HASH_BYTES])proof, proof_len, &text,
                                   &text_len);
    }
    if (rc < 0) {
        evd_api_storage_error(r, rc);
        return;
    }
    b.data = text;
    b.len = text_len;
    b.cap = text_len + 1;
    evd_api_reply(r, 200, TEXT_TYPE, &b);
}

/* ---- GET /v1/summary?since=&until= --------------------------------------- */

void evd_api_summary(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r)
{
    struct ev_summary_options options = {0};
    struct ev_summary *summary = NULL;
    struct evd_buf b = {0};
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (!param_window(q, &options.since_ns, &options.until_ns, r)) {
        return;
    }
    /* A fixed end: entries appended while the summary is built are left for the next one. */
    options.bounded = true;
    if (options.since_ns == 0 && options.until_ns == 0) {
        /*
         * The whole log: the kept summary, extended by what is new (an O(new) request).
         * Building it from the start (after a start, a pruning or a reopen) takes long:
         * requests meanwhile are not parked on the lock, holding the listener's threads.
         */
        struct timespec until;
        (void)clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += EVD_API_SUMMARY_WAIT_NS;
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        if (pthread_mutex_timedlock(&d->summary_lock, &until) != 0) {
            evd_api_error(r, 503, "the summary is being built: try again shortly");
            return;
        }
        /* Read first: a forget during the build below makes the next request build again. */
        uint64_t generation = atomic_load(&d->summary_generation);
        options.to = ev_log_size(d->log);
        if (d->summary != NULL && (d->summary_built != generation ||
                                   ev_summary_extend(d->log, d->summary, options.to) < 0)) {
            ev_summary_free(d->summary); /* forgotten, or fewer entries than it holds */
            d->summary = NULL;
        }
        rc = d->summary != NULL ? 0 : ev_summary_build(d->log, &options, &d->summary);
        if (rc == 0) {
            d->summary_built = generation;
            rc = ev_summary_json(d->summary, &text, &len);
        }
        pthread_mutex_unlock(&d->summary_lock);
    } else {
        /* A window is scanned for each request: it is bounded. */
        options.to = ev_log_size(d->log);
        options.max_entries =
            d->summary_window_max != 0 ? d->summary_window_max : EVD_API_SUMMARY_WINDOW_MAX;
        rc = ev_summary_build(d->log, &options, &summary);
        if (rc == EV_ETOOBIG) {
            evd_api_error(r, 413,
                          "the window holds more than %llu entries: narrow it, or ask without "
                          "since and until for the whole log",
                          (unsigned long long)options.max_entries);
            return;
        }
        if (rc == 0) {
            rc = ev_summary_json(summary, &text, &len);
        }
        ev_summary_free(summary);
    }
    if (rc < 0) {
        evd_api_storage_error(r, rc);
        return;
    }
    b.data = text;
    b.len = len;
    b.cap = len + 1;
    evd_api_reply(r, 200, JSON_TYPE, &b);
}

void evd_summary_forget(struct evd *d)
{
    atomic_fetch_add(&d->summary_generation, 1); /* never waits for a summary being built */
}

/* ---- GET /healthz and /metrics ------------------------------------------- */

/* Why the daemon is not healthy, or NULL when it is. */
static const char *unhealthy(struct evd *d, char *buf, size_t size)
{
    int rc;

    if (atomic_load(&d->stopping)) {
        return "stopping";
    }
    if (!atomic_load(&d->ready) || d->commit == NULL) {
        return "starting";
    }
    rc = evd_commit_error(d->commit);
    if (rc != 0) {
        (void)snprintf(buf, size, "storage: %s", ev_strerror(rc));
        return buf;
    }
    if (evd_disk_level(d->disk) == EVD_DISK_FULL) {
        evd_disk_describe(d->disk, buf, size); /* "disk full: ..." */
        return buf;
    }
    return NULL;
}

void evd_api_healthz(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r)
{
    struct evd_buf b = {0};
    char why[128];
    const char *reason = unhealthy(d, why, sizeof(why));

    const char *disk = evd_disk_level_name(evd_disk_level(d->disk));

    if (reason != NULL) {
        evd_buf_printf(&b, "{\"disk\":\"%s\",\"reason\":", disk);
        evd_buf_json_string(&b, reason, strlen(reason));
        evd_buf_str(&b, ",\"status\":\"unavailable\"}");
        evd_api_reply(r, 503, JSON_TYPE, &b);
        return;
    }
    evd_buf_printf(&b, "{\"disk\":\"%s\",\"status\":\"ok\",\"tree_size\":%" PRIu64 "}", disk,
                   d->log != NULL ? ev_log_size(d->log) : 0);
    evd_api_reply(r, 200, JSON_TYPE, &b);
}

static double seconds_since(int64_t then_ns, int64_t now_ns)
{
    return then_ns == 0 ? -1.0 : (double)(now_ns - then_ns) / 1e9;
}

void evd_api_metrics(struct evd *d, const struct evd_request *q, const char *arg,
                     struct evd_response *r)
{
    struct evd_gauges g = {0};
    struct statvfs vfs;
    struct evd_buf b = {0};
    char dir[4096] = "", why[128];
    int64_t now = evd_wall_ns();
    size_t len = 0;
    int rc;

    if (d->metrics == NULL) {
        evd_api_error(r, 404, "no such resource");
        return;
    }
    (void)pthread_rwlock_rdlock(&d->config_lock);
    g.queue_max = d->config->performance.queue_max;
    if (d->config->log.dir != NULL) {
        (void)snprintf(dir, sizeof(dir), "%s", d->config->log.dir);
    }
    (void)pthread_rwlock_unlock(&d->config_lock);

    if (d->commit != NULL) {
        g.queue_depth = evd_commit_depth(d->commit);
    }
    g.stream_loops =
        evd_stream_loop_connections(d->stream, g.stream_loop_connections, EVD_METRICS_MAX_LOOPS);
    /* Cheap reads only: a scrape must not cost the writer (ev_log_info reads the open epoch). */
    g.tree_size = d->log != NULL ? ev_log_size(d->log) : 0;
    evd_disk_io_stats(d, &g.io); /* the caller holds log_lock for reading (api.c) */
    g.checkpoint_size = atomic_load(&d->checkpoint_size);
    g.disk_bytes = atomic_load(&d->log_bytes);
    if (dir[0] != '\0' && statvfs(dir, &vfs) == 0) {
        g.disk_free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    g.seconds_since_seal = seconds_since(atomic_load(&d->last_seal_ns), now);
    g.seconds_since_checkpoint = seconds_since(atomic_load(&d->last_checkpoint_ns), now);
    g.healthy = unhealthy(d, why, sizeof(why)) == NULL;
    evd_disk_stats(d->disk, &g.disk);
    evd_backupd_stats(d->backupd, &g.backup);
    g.backup_enabled = d->backupd != NULL;
    g.uptime_seconds = d->started_ns != 0 ? (double)(now - d->started_ns) / 1e9 : 0.0;

    rc = evd_metrics_render(d->metrics, &g, &b.data, &len);
    if (rc < 0) {
        evd_api_storage_error(r, rc);
        return;
    }
    b.len = len;
    b.cap = len + 1;
    evd_api_reply(r, 200, METRICS_TYPE, &b);
}
