/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing checkpoints off the host (publish.h): to directories, one file
 * per tree size written atomically, and to HTTP endpoints with libcurl when
 * the library is built with it. Reading a tree of published checkpoints back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBCURL
#include <curl/curl.h>
#endif

#include <evident/error.h>
#include <evident/note.h>
#include <evident/publish.h>

#include "crypto.h"
#include "error.h"
#include "store.h"

/* The note's text: everything up to and including the newline before the last blank line. */
static int note_body(const char *note, size_t len, struct ev_checkpoint *ret_checkpoint)
{
    size_t text_len = 0;

    for (size_t i = len; i >= 2; i--) {
        if (note[i - 1] == '\n' && note[i - 2] == '\n') {
            text_len = i - 1;
            break;
        }
    }
    if (text_len == 0) {
        return evi_error(EV_EFORMAT, "not a signed note (no blank line before signatures)");
    }
    return ev_checkpoint_parse(note, text_len, ret_checkpoint);
}

/* One safe file name for an origin (publish.h): %XX for anything unusual. */
static void escape_origin(const char *origin, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = origin; *p != '\0' && n + 4 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || (c == '.' && p != origin);
        if (plain) {
            out[n++] = (char)c;
        } else {
            (void)snprintf(out + n, cap - n, "%%%02X", c);
            n += 3;
        }
    }
    out[n] = '\0';
}

/* Whether the file at name in dirfd holds exactly data: 1 yes, 0 no, -ENOENT none. */
static int same_file(int dirfd, const char *name, const char *data, size_t len)
{
    char *have = NULL;
    size_t have_len;
    int r = evi_read_file(dirfd, name, EV_NOTE_MAX_BYTES, &have, &have_len);

    if (r < 0) {
        return r;
    }
    r = have_len == len && memcmp(have, data, len) == 0;
    free(have);
    return r;
}

static int publish_dir(const char *dest, const char *note, size_t len,
                       const struct ev_checkpoint *cp, bool *ret_unchanged)
{
    char origin[3 * EV_KEY_NAME_MAX + 1], path[4096], name[96];
    int dirfd = -1, r;

    escape_origin(cp->origin, origin, sizeof(origin));
    if (snprintf(path, sizeof(path), "%s/%s", dest, origin) >= (int)sizeof(path)) {
        return -ENAMETOOLONG;
    }
    r = evi_mkdir_p(path, 0755);
    if (r < 0) {
        return evi_error(r, "cannot create '%s': %s", path, strerror(-r));
    }
    dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", path, strerror(errno));
    }
    (void)snprintf(name, sizeof(name), "%020" PRIu64 EV_PUBLISH_SUFFIX, cp->tree_size);
    r = same_file(dirfd, name, note, len);
    if (r == 1) {
        *ret_unchanged = true;
        r = 0;
        goto out;
    }
    if (r == 0) {
        /* Another note for the same size: keep both, they are the evidence of a fork. */
        uint8_t digest[32];
        char hex[65];
        evi_sha256(note, len, digest);
        evi_hex_encode(digest, 4, hex);
        hex[8] = '\0';
        (void)snprintf(name, sizeof(name), "%020" PRIu64 "-%.8s" EV_PUBLISH_SUFFIX, cp->tree_size,
                       hex);
        r = same_file(dirfd, name, note, len);
        if (r != 1 && (r == 0 || r == -ENOENT)) {
            r = evi_replace_file(dirfd, name, note, len, 0644);
        }
        if (r >= 0) {
            r = evi_error(EV_EFORKED,
                          "'%s' already holds another checkpoint for tree size %" PRIu64
                          " (the log forked); the new one is '%s'",
                          path, cp->tree_size, name);
        }
        goto out;
    }
    if (r != -ENOENT) {
        r = evi_error(r, "cannot read '%s/%s': %s", path, name, strerror(-r));
        goto out;
    }
    r = evi_replace_file(dirfd, name, note, len, 0644);
    if (r < 0) {
        r = evi_error(r, "cannot write '%s/%s': %s", path, name, strerror(-r));
    }
out:
    (void)close(dirfd);
    return r;
}

#ifdef HAVE_LIBCURL
static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    return size * n;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int publish_url(const char *url, const char *note, size_t len,
                       const struct ev_publish_options *o)
{
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    CURL *c = curl_easy_init();
    char why[CURL_ERROR_SIZE] = "";
    long status = 0;
    int r = -EIO;

    if (c == NULL || headers == NULL) {
        r = -ENOMEM;
        goto out;
    }
    uint64_t backoff = 500000000u;
    for (int attempt = 0; attempt <= o->retries; attempt++) {
        if (attempt > 0) {
            sleep_ns(backoff);
            backoff *= 2;
        }
        curl_easy_reset(c);
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(c, CURLOPT_POST, 1L);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, note);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ns / 1000000u));
        (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_ns / 1000000u));
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
        why[0] = '\0';
        CURLcode cr = curl_easy_perform(c);
        if (cr != CURLE_OK) {
            r = evi_error(-EIO, "POST '%s': %s", url,
                          why[0] != '\0' ? why : curl_easy_strerror(cr));
            continue;
        }
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            r = 0;
            break;
        }
        r = evi_error(-EIO, "POST '%s': answered HTTP %ld", url, status);
        if (status >= 400 && status < 500 && status != 408 && status != 429) {
            break; /* the request itself is refused: asking again will not help */
        }
    }
out:
    curl_slist_free_all(headers);
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
    return r;
}
#else
static int publish_url(const char *url, const char *note, size_t len,
                       const struct ev_publish_options *o)
{
    return evi_error(-ENOTSUP, "cannot POST to '%s': libevident was built without libcurl", url);
}
#endif

static bool is_url(const char *dest)
{
    return strncmp(dest, "http://", 7) == 0 || strncmp(dest, "https://", 8) == 0;
}

int ev_checkpoint_publish(const char *note, size_t note_len, const char *const *destinations,
                          size_t count, const struct ev_publish_options *options,
                          struct ev_publish_report *ret_report)
{
    struct ev_publish_options o = {0, -1};
    struct ev_publish_report rep = {0};
    struct ev_checkpoint cp;
    int first = 0, r;

    evi_error_clear();
    if (options != NULL) {
        o = *options;
    }
    if (o.timeout_ns == 0) {
        o.timeout_ns = EV_PUBLISH_DEFAULT_TIMEOUT_NS;
    }
    if (o.retries < 0) {
        o.retries = (int)EV_PUBLISH_DEFAULT_RETRIES;
    }
    if (o.retries > (int)EV_PUBLISH_MAX_RETRIES) {
        o.retries = (int)EV_PUBLISH_MAX_RETRIES;
    }
    if (note == NULL || note_len == 0 || note_len > EV_NOTE_MAX_BYTES ||
        (count > 0 && destinations == NULL)) {
        return evi_error(-EINVAL, "no checkpoint note to publish");
    }
    r = note_body(note, note_len, &cp);
    if (r < 0) {
        return evi_error(EV_EFORMAT, "cannot publish: not a checkpoint note: %s", ev_last_error());
    }
    for (size_t i = 0; i < count; i++) {
        const char *dest = destinations[i];
        bool unchanged = false;
        if (dest != NULL && is_url(dest)) {
            r = publish_url(dest, note, note_len, &o);
        } else if (dest != NULL && dest[0] == '/') {
            r = publish_dir(dest, note, note_len, &cp, &unchanged);
        } else {
            r = evi_error(EV_EFORMAT,
                          "destination '%s' is neither an absolute directory nor "
                          "an http(s) URL",
                          dest != NULL ? dest : "(null)");
        }
        if (r < 0) {
            rep.failed++;
            if (first == 0) {
                first = r;
                (void)snprintf(rep.detail, sizeof(rep.detail), "%s", ev_last_error());
            }
        } else if (unchanged) {
            rep.unchanged++;
        } else {
            rep.written++;
        }
    }
    if (ret_report != NULL) {
        *ret_report = rep;
    }
    if (first != 0) {
        return evi_error(first, "%s", rep.detail);
    }
    return 0;
}

/* ---- reading published checkpoints back ------------------------------------------------- */

void ev_checkpoint_set_free(struct ev_checkpoint_set *set)
{
    if (set == NULL) {
        return;
    }
    for (size_t i = 0; i < set->count; i++) {
        free(set->notes[i]);
        free(set->paths[i]);
    }
    free(set->notes);
    free(set->lens);
    free(set->paths);
    free(set);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static int set_add(struct ev_checkpoint_set *set, size_t *cap, char *note, size_t len,
                   const char *path)
{
    if (set->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        char **notes = realloc(set->notes, ncap * sizeof(*notes));
        if (notes != NULL) {
            set->notes = notes;
        }
        size_t *lens = realloc(set->lens, ncap * sizeof(*lens));
        if (lens != NULL) {
            set->lens = lens;
        }
        char **paths = realloc(set->paths, ncap * sizeof(*paths));
        if (paths != NULL) {
            set->paths = paths;
        }
        if (notes == NULL || lens == NULL || paths == NULL) {
            return -ENOMEM;
        }
        *cap = ncap;
    }
    char *p = strdup(path);
    if (p == NULL) {
        return -ENOMEM;
    }
    set->notes[set->count] = note;
    set->lens[set->count] = len;
    set->paths[set->count] = p;
    set->count++;
    return 0;
}

/* Whether the note's first line is origin. */
static bool note_has_origin(const char *note, size_t len, const char *origin)
{
    size_t n = strlen(origin);
    return len > n && memcmp(note, origin, n) == 0 && note[n] == '\n';
}

static int read_tree(const char *dir, int depth, const char *origin, struct ev_checkpoint_set *set,
                     size_t *cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int r = 0;

    if (d == NULL) {
        return evi_error(-errno, "cannot open '%s': %s", dir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue; /* ., .. and temporary files of a publisher at work */
        }
        if (n == ncap) {
            size_t c2 = ncap ? ncap * 2 : 64;
            char **nn = realloc(names, c2 * sizeof(*nn));
            if (nn == NULL) {
                r = -ENOMEM;
                goto out;
            }
            names = nn;
            ncap = c2;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n > 0) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path)) {
            r = evi_error(-ENAMETOOLONG, "path too long under '%s'", dir);
            break;
        }
        if (stat(path, &st) < 0) {
            r = evi_error(-errno, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth >= EV_CHECKPOINT_DIR_MAX_DEPTH) {
                r = evi_error(EV_ETOOBIG, "'%s': more than %d directory levels", path,
                              EV_CHECKPOINT_DIR_MAX_DEPTH);
                break;
            }
            r = read_tree(path, depth + 1, origin, set, cap);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !has_suffix(names[i], EV_PUBLISH_SUFFIX)) {
            continue;
        }
        if (set->count + set->skipped >= EV_CHECKPOINT_DIR_MAX_FILES) {
            r = evi_error(EV_ETOOBIG, "more than %u checkpoint files under the directory",
                          EV_CHECKPOINT_DIR_MAX_FILES);
            break;
        }
        char *note = NULL;
        size_t len;
        r = evi_read_file(AT_FDCWD, path, EV_NOTE_MAX_BYTES, &note, &len);
        if (r < 0) {
            r = evi_error(r, "cannot read '%s': %s", path, ev_strerror(r));
            break;
        }
        if (origin != NULL && !note_has_origin(note, len, origin)) {
            set->skipped++;
            free(note);
            continue;
        }
        r = set_add(set, cap, note, len, path);
        if (r < 0) {
            free(note);
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    (void)closedir(d);
    return r;
}

int ev_checkpoint_dir_read(const char *dir, const char *origin, struct ev_checkpoint_set **ret_set)
{
    struct ev_checkpoint_set *set = calloc(1, sizeof(*set));
    size_t cap = 0;
    int r;

    evi_error_clear();
    if (set == NULL) {
        return -ENOMEM;
    }
    r = read_tree(dir, 0, origin, set, &cap);
    if (r < 0) {
        ev_checkpoint_set_free(set);
        return r;
    }
    *ret_set = set;
    return 0;
}

int ev_log_dir_origin(const char *log_dir, char *ret_origin, size_t cap)
{
    struct evi_meta meta;
    int dirfd = open(log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r;

    evi_error_clear();
    if (dirfd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", log_dir, strerror(errno));
    }
    r = evi_meta_read(dirfd, &meta);
    (void)close(dirfd);
    if (r < 0) {
        return r;
    }
    if (strlen(meta.origin) >= cap) {
        return -ENAMETOOLONG;
    }
    memcpy(ret_origin, meta.origin, strlen(meta.origin) + 1);
    return 0;
}
