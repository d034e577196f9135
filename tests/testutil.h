/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers shared by the log engine tests (test-log, test-recovery,
 * test-concurrency, test-faults): temporary directories, making a log,
 * appending numbered events, and reading, writing and damaging files.
 * Every helper asserts (cmocka) instead of returning errors.
 */
#ifndef EV_TESTUTIL_H
#define EV_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <evident/error.h>
#include <evident/log.h>
#include <evident/verify.h>

#define TU_ORIGIN "test.example/log"

/* Fails the test with the library's description of a failed call. */
#define tu_ok(call)                                                                        \
    do {                                                                                   \
        int tu_r_ = (call);                                                                \
        if (tu_r_ != 0) {                                                                  \
            fail_msg("%s = %d (%s): %s", #call, tu_r_, ev_strerror(tu_r_), ev_last_error()); \
        }                                                                                  \
    } while (0)


/* Joins dir and name into out (PATH_MAX bytes). */
static inline char *tu_path(char out[PATH_MAX], const char *dir, const char *name)
{
    assert_true(snprintf(out, PATH_MAX, "%s/%s", dir, name) < PATH_MAX);
    return out;
}

/* A fresh empty directory under $TMPDIR (or /tmp); the log goes in tu_path(.., "log"). */
static inline void tu_tmpdir(char out[PATH_MAX])
{
    const char *base = getenv("TMPDIR");
    assert_true(snprintf(out, PATH_MAX, "%s/evident-test-XXXXXX",
                         base != NULL && base[0] != '\0' ? base : "/tmp") < PATH_MAX);
    assert_non_null(mkdtemp(out));
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

static inline void tu_rm_rf(const char *path)
{
    (void)nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Per-test fixture: a temporary root and the log directory path inside it (not created). */
struct tu_fixture {
    char root[PATH_MAX];
    char dir[PATH_MAX];
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
};

static inline int tu_setup(void **state)
{
    struct tu_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->root);
    tu_path(f->dir, f->root, "log");
    *state = f;
    return 0;
}

static inline int tu_teardown(void **state)
{
    struct tu_fixture *f = *state;
    if (f != NULL) {
        tu_rm_rf(f->root);
        free(f);
    }
    return 0;
}

/* Creates a log in dir (seal_interval_ns 0 = default) and returns V in v (may be NULL). */
static inline void tu_create(const char *dir, uint64_t seal_interval_ns, uint8_t *v)
{
    struct ev_create_options o = {.origin = TU_ORIGIN, .seal_interval_ns = seal_interval_ns};
    uint8_t key[EV_VERIFICATION_KEY_BYTES];
    tu_ok(ev_log_create(dir, &o, key));
    if (v != NULL) {
        memcpy(v, key, sizeof(key));
    }
}

static inline struct ev_log *tu_open(const char *dir, const struct ev_open_options *o)
{
    struct ev_log *log = NULL;
    tu_ok(ev_log_open(dir, o, &log));
    assert_non_null(log);
    return log;
}

/*
 * Appends n events of type "test" with data {"n":i,"tag":tag} one by one and
 * asserts that their indexes are consecutive; returns the first index.
 */
static inline uint64_t tu_append_n(struct ev_log *log, unsigned n, const char *tag)
{
    uint64_t first = 0;
    for (unsigned i = 0; i < n; i++) {
        char data[256];
        uint64_t index = UINT64_MAX;
        struct ev_event ev = {.type = "test", .severity = EV_SEV_INFO, .data_json = data};
        assert_true(snprintf(data, sizeof(data), "{\"tag\":\"%s\",\"n\":%u}", tag, i) <
                    (int)sizeof(data));
        tu_ok(ev_log_append(log, &ev, &index));
        if (i == 0) {
            first = index;
        }
        assert_int_equal(index, first + i);
    }
    return first;
}

/* Verifies dir with V (may be NULL) and asserts success; returns the report. */
static inline struct ev_verify_report tu_verify(const char *dir, const uint8_t *v)
{
    struct ev_verify_options o = {.verification_key = v, .threads = 1};
    struct ev_verify_report rep;
    int r = ev_verify_dir(dir, &o, &rep);
    if (r != 0) {
        fail_msg("verify '%s' = %d (%s): %s [%s at entry %" PRIu64 ": %s]", dir, r,
                 ev_strerror(r), ev_last_error(), ev_failure_name(rep.failure), rep.entry,
                 rep.detail);
    }
    assert_int_equal(rep.failure, EV_FAIL_NONE);
    return rep;
}

static inline uint64_t tu_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* The whole file; caller frees. NUL added after the bytes. */
static inline uint8_t *tu_read(const char *path, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t *buf;
    size_t got = 0;

    if (fd < 0) {
        fail_msg("cannot open '%s': %s", path, strerror(errno));
    }
    assert_int_equal(fstat(fd, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    buf[got] = 0;
    (void)close(fd);
    if (ret_len != NULL) {
        *ret_len = got;
    }
    return buf;
}

/* Writes bytes at off (O_APPEND when off < 0), creating the file with mode 0600. */
static inline void tu_write_at(const char *path, const void *data, size_t len, off_t off)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (off < 0 ? O_APPEND : 0), 0600);
    assert_true(fd >= 0);
    if (off < 0) {
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    } else {
        assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
    }
    assert_int_equal(close(fd), 0);
}

/* Replaces the whole content of path (mode kept when it exists). */
static inline void tu_write(const char *path, const void *data, size_t len)
{
    assert_int_equal(truncate(path, 0) == 0 || errno == ENOENT, 1);
    tu_write_at(path, data, len, 0);
}

/* XORs the byte at off with mask. */
static inline void tu_flip(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    uint8_t b;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    assert_int_equal(close(fd), 0);
}

/* Path of the segment holding the largest first index. */
static inline char *tu_last_segment(const char *logdir, char out[PATH_MAX])
{
    char segdir[PATH_MAX];
    struct dirent **names;
    int n = scandir(tu_path(segdir, logdir, "segments"), &names, NULL, alphasort);
    int last = -1;

    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        if (strlen(names[i]->d_name) == 24) {
            last = i;
        }
    }
    assert_true(last >= 0);
    tu_path(out, segdir, names[last]->d_name);
    for (int i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return out;
}

/* Number of segment files. */
static inline int tu_segment_count(const char *logdir)
{
    char segdir[PATH_MAX];
    struct dirent **names;
    int n = scandir(tu_path(segdir, logdir, "segments"), &names, NULL, alphasort);
    int count = 0;

    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        count += strlen(names[i]->d_name) == 24 && strstr(names[i]->d_name, ".seg") != NULL;
        free(names[i]);
    }
    free(names);
    return count;
}

/* Record offset of entry index within its segment, from DIR/index (FORMAT.md §6). */
static inline uint64_t tu_record_offset(const char *logdir, uint64_t index)
{
    char path[PATH_MAX];
    uint8_t b[8];
    uint64_t off = 0;
    int fd = open(tu_path(path, logdir, "index"), O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, b, 8, (off_t)(index * 8)), 8);
    (void)close(fd);
    for (int i = 7; i >= 0; i--) {
        off = off << 8 | b[i];
    }
    return off;
}

/* keystate's `next` field (FORMAT.md §7). */
static inline uint64_t tu_keystate_next(const char *logdir)
{
    char path[PATH_MAX];
    size_t len;
    uint8_t *ks = tu_read(tu_path(path, logdir, "keystate"), &len);
    uint64_t next = 0;

    assert_int_equal(len, 192);
    for (int i = 7; i >= 0; i--) {
        next = next << 8 | ks[8 + i];
    }
    free(ks);
    return next;
}

struct tu_snap {
    char *data;
    size_t len;
};

static inline void tu_snap_add(struct tu_snap *s, const void *p, size_t n)
{
    char *d = realloc(s->data, s->len + n + 1);
    assert_non_null(d);
    memcpy(d + s->len, p, n);
    s->data = d;
    s->len += n;
}

static inline void tu_snap_dir(struct tu_snap *s, const char *dir, const char *rel, bool derived)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);

    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[PATH_MAX], relname[PATH_MAX];
        struct stat st;

        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            (!derived && (strcmp(name, "hashes") == 0 || strcmp(name, "index") == 0 ||
                          strcmp(name, "lock") == 0))) {
            free(names[i]);
            continue;
        }
        tu_path(path, dir, name);
        assert_true(snprintf(relname, sizeof(relname), "%s%s", rel, name) < PATH_MAX);
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            char sub[PATH_MAX];
            assert_true(snprintf(sub, sizeof(sub), "%s/", relname) < PATH_MAX);
            tu_snap_dir(s, path, sub, derived);
        } else {
            size_t len;
            uint8_t *content = tu_read(path, &len);
            char head[PATH_MAX + 64];
            int h = snprintf(head, sizeof(head), "\n== %s %04o %zu\n", relname,
                             (unsigned)(st.st_mode & 07777), len);
            tu_snap_add(s, head, (size_t)h);
            tu_snap_add(s, content, len);
            free(content);
        }
        free(names[i]);
    }
    free(names);
}

/*
 * Every file of the log directory: names, modes and bytes. Without derived,
 * leaves out the caches (hashes, index) and the lock file.
 */
static inline struct tu_snap tu_snapshot(const char *logdir, bool derived)
{
    struct tu_snap s = {0};
    tu_snap_dir(&s, logdir, "", derived);
    return s;
}

static inline void tu_snap_assert_equal(const struct tu_snap *a, const struct tu_snap *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->data, b->data, a->len);
}

static inline void tu_snap_free(struct tu_snap *s)
{
    free(s->data);
    s->data = NULL;
    s->len = 0;
}

/* A small deterministic generator (the banned rand() is not used). */
static inline uint64_t tu_next_random(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

#endif
