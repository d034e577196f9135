/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing signed checkpoints off the host (configuration option
 * integrity.publish), and reading them back for verification.
 *
 * A log's own checkpoint files live on the host, where an intruder with root
 * can roll them back together with the records. A copy kept elsewhere is what
 * catches a later truncation or fork (docs/SECURITY.md): every checkpoint the
 * log signs is sent to each destination, and `evident verify --checkpoint-dir`
 * checks the log against all of them.
 *
 * Destinations:
 *   "/abs/dir"        the note is written to
 *                     DIR/<origin escaped>/<tree size, 20 digits>.checkpoint
 *                     atomically (temporary file, fsync, rename, fsync of the
 *                     directory), mode 0644. The origin is escaped so that it
 *                     is one safe file name: bytes other than A-Z a-z 0-9 - _
 *                     and a non-leading '.' become %XX. A file already there
 *                     with the same bytes is left alone; with other bytes
 *                     (another checkpoint for the same size: a fork) it is
 *                     kept, the new note is written beside it as
 *                     <size>-<first 8 hex of SHA-256(note)>.checkpoint and
 *                     the call returns EV_EFORKED.
 *   "http://..." or "https://..."
 *                     POSTed with Content-Type text/plain; any 2xx answer is
 *                     success; redirects are not followed. Each attempt is
 *                     bounded by timeout_ns; failures (no answer, 5xx, 429) are
 *                     retried retries times with backoff 0.5 s, 1 s, 2 s, ...;
 *                     another 4xx is not retried. Needs libevident built with
 *                     libcurl, else -ENOTSUP.
 *
 * The functions block for as long as the slowest destination takes (with
 * URLs up to (retries + 1) * timeout_ns plus the backoff): a daemon calls them
 * outside its commit path. They are safe to call from any thread.
 */
#ifndef EVIDENT_PUBLISH_H
#define EVIDENT_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define EV_PUBLISH_DEFAULT_TIMEOUT_NS (10ull * 1000000000ull)
#define EV_PUBLISH_DEFAULT_RETRIES 2u
#define EV_PUBLISH_MAX_RETRIES 10u
#define EV_PUBLISH_SUFFIX ".checkpoint"
/* Limits of ev_checkpoint_dir_read(): files read, directory depth. */
#define EV_CHECKPOINT_DIR_MAX_FILES 1000000u
#define EV_CHECKPOINT_DIR_MAX_DEPTH 8

struct ev_publish_options {
    uint64_t timeout_ns; /* per HTTP attempt; 0 = EV_PUBLISH_DEFAULT_TIMEOUT_NS */
    int retries;         /* HTTP attempts after the first; -1 = EV_PUBLISH_DEFAULT_RETRIES */
};

struct ev_publish_report {
    size_t written;   /* destinations that took the note */
    size_t unchanged; /* directories that already held it */
    size_t failed;    /* destinations that did not */
    char detail[512]; /* the first failure: destination and cause; "" if none */
};

/*
 * Sends one signed checkpoint note (note_len bytes, as the log signed it) to
 * each of count destinations (as in integrity.publish). The note's body is
 * parsed for its origin and tree size (it is not verified: the caller has just
 * signed or read it from its own log). Every destination is tried even when
 * one fails. options may be NULL (defaults); ret_report may be NULL.
 * Returns 0 if every destination has the note, else the first failure:
 * EV_EFORMAT (not a checkpoint note, or a destination that is neither an
 * absolute path nor an http(s) URL), EV_EFORKED (a directory held another
 * note for that size), -ENOTSUP (a URL, without libcurl), -EIO (the HTTP
 * request failed or was answered with an error), or -errno.
 */
int ev_checkpoint_publish(const char *note, size_t note_len, const char *const *destinations,
                          size_t count, const struct ev_publish_options *options,
                          struct ev_publish_report *ret_report);

/* Checkpoint notes read from a directory tree. */
struct ev_checkpoint_set {
    char **notes; /* each NUL-terminated (the note's own bytes before it) */
    size_t *lens;
    char **paths; /* the file each came from */
    size_t count;
    size_t skipped; /* files of other logs (another origin line) */
};

/*
 * Reads every "*.checkpoint" file under dir, recursively (at most
 * EV_CHECKPOINT_DIR_MAX_DEPTH levels, EV_CHECKPOINT_DIR_MAX_FILES files, each
 * at most EV_NOTE_MAX_BYTES), in name order. With origin set, files whose
 * first line is another origin are skipped and counted (a directory shared by
 * many logs); their signatures are not checked here: ev_verify_dir() checks
 * each note it is given. Returns 0, EV_ETOOBIG, -ENOENT (no dir) or -errno.
 * Free *ret_set with ev_checkpoint_set_free().
 */
int ev_checkpoint_dir_read(const char *dir, const char *origin, struct ev_checkpoint_set **ret_set);
void ev_checkpoint_set_free(struct ev_checkpoint_set *set);

/*
 * The origin of the log in log_dir (from its evident.meta) into ret_origin
 * (at least 256 bytes). 0, EV_EFORMAT or -errno.
 */
int ev_log_dir_origin(const char *log_dir, char *ret_origin, size_t cap);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
