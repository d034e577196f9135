/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the verifier tests (test-verify.c) and the tamper suite
 * (test-tamper.c): a small sealed log built once, directory copies, a
 * record-level reader and writer of the segment file (docs/FORMAT.md §3, §4),
 * an independent implementation of the tags, seals, tree roots and checkpoint
 * signing (§5, §7, §8) to forge well-framed records as a writer (holding V) or
 * an attacker (without V) would, and assertions on ev_verify_dir's result.
 *
 * Every helper asserts (cmocka) instead of returning errors. The forging code
 * uses the library only for primitives (SHA-256, HMAC, CRC32C, Ed25519 notes,
 * the record encoder, the seal parser, the ts formatter), never the code under
 * test (verify.c, the tree frontier, the key-state walker), so that a bug there
 * cannot hide itself.
 */
#ifndef EV_TAMPERUTIL_H
#define EV_TAMPERUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <evident/error.h>
#include <evident/log.h>
#include <evident/merkle.h>
#include <evident/note.h>
#include <evident/verify.h>

#include "crypto.h"
#include "entry.h"
#include "record.h"

#define TL_ORIGIN "tamper.example/log"
#define TL_SEGMENT "segments/00000000000000000000.seg"
#define TL_NO_ENTRY UINT64_MAX
#define TL_MAX_RECORDS 256

/* The shared test helpers (temporary directories, paths, failure messages). */
#include "testutil.h"

#define tl_ok tu_ok
#define tl_path tu_path
#define tl_tmpdir tu_tmpdir
#define tl_rm_rf tu_rm_rf

/* The whole file, NUL added after its bytes; caller frees. */
static inline uint8_t *tl_read(const char *path, size_t *ret_len)
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
    buf[got] = '\0';
    (void)close(fd);
    *ret_len = got;
    return buf;
}

static inline uint8_t *tl_read_in(const char *dir, const char *name, size_t *ret_len)
{
    char path[PATH_MAX];
    return tl_read(tl_path(path, dir, name), ret_len);
}

/*
 * Replaces the content of path (created with mode 0644 if missing; mode kept
 * otherwise). Written over in place and then cut to length, not opened with
 * O_TRUNC: ext4 flushes a file truncated to zero at close (auto_da_alloc),
 * which made the loops that restore a segment thousands of times slow.
 */
static inline void tl_write(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    size_t done = 0;

    if (fd < 0) {
        fail_msg("cannot write '%s': %s", path, strerror(errno));
    }
    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)data + done, len - done, (off_t)done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    assert_int_equal(ftruncate(fd, (off_t)len), 0);
    assert_int_equal(close(fd), 0);
}

static inline void tl_write_in(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    tl_write(tl_path(path, dir, name), data, len);
}

static inline void tl_append_in(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    int fd = open(tl_path(path, dir, name), O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static inline void tl_pwrite_in(const char *dir, const char *name, const void *data, size_t len,
                                size_t off)
{
    char path[PATH_MAX];
    int fd = open(tl_path(path, dir, name), O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static inline void tl_truncate_in(const char *dir, const char *name, size_t size)
{
    char path[PATH_MAX];
    assert_int_equal(truncate(tl_path(path, dir, name), (off_t)size), 0);
}

static inline void tl_unlink_in(const char *dir, const char *name)
{
    char path[PATH_MAX];
    assert_int_equal(unlink(tl_path(path, dir, name)), 0);
}

/* cp -a for a log directory: regular files and directories, modes kept. */
static const char *tl_copy_src_root __attribute__((unused));
static const char *tl_copy_dst_root __attribute__((unused));

static inline int tl_copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char dst[PATH_MAX];
    (void)ftw;
    assert_true(snprintf(dst, sizeof(dst), "%s%s", tl_copy_dst_root,
                         path + strlen(tl_copy_src_root)) < (int)sizeof(dst));
    if (flag == FTW_D) {
        if (mkdir(dst, st->st_mode & 07777) < 0 && errno != EEXIST) {
            fail_msg("cannot create '%s': %s", dst, strerror(errno));
        }
        assert_int_equal(chmod(dst, st->st_mode & 07777), 0);
        return 0;
    }
    assert_true(flag == FTW_F && S_ISREG(st->st_mode));
    size_t len;
    uint8_t *data = tl_read(path, &len);
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail_msg("cannot create '%s': %s", dst, strerror(errno));
    }
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, st->st_mode & 07777), 0);
    assert_int_equal(close(fd), 0);
    free(data);
    return 0;
}

/* Makes dst (which must not exist) a copy of src. */
static inline void tl_copy_dir(const char *src, const char *dst)
{
    tl_copy_src_root = src;
    tl_copy_dst_root = dst;
    assert_int_equal(nftw(src, tl_copy_one, 16, FTW_PHYS), 0);
}

/* dst becomes a fresh copy of src. */
static inline void tl_fresh_copy(const char *src, const char *dst)
{
    tl_rm_rf(dst);
    tl_copy_dir(src, dst);
}

/* A fingerprint of every file under a directory: path, type, mode, size, times, SHA-256. */
struct tl_fingerprint {
    char *text;
    size_t len, cap;
};

static struct tl_fingerprint *tl_fp_current __attribute__((unused));
static size_t tl_fp_root_len __attribute__((unused));

static inline int tl_fp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char line[PATH_MAX + 256], hex[2 * EVI_HASH + 1] = "-";
    struct tl_fingerprint *fp = tl_fp_current;
    (void)ftw;
    if (flag == FTW_F && S_ISREG(st->st_mode)) {
        size_t len;
        uint8_t *data = tl_read(path, &len), hash[EVI_HASH];
        evi_sha256(data, len, hash);
        evi_hex_encode(hash, sizeof(hash), hex);
        free(data);
    }
    int n = snprintf(line, sizeof(line), "%s %o %lld %lld.%09ld %lld.%09ld %s\n",
                     path + tl_fp_root_len, (unsigned)st->st_mode, (long long)st->st_size,
                     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                     (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, hex);
    assert_true(n > 0 && n < (int)sizeof(line));
    if (fp->len + (size_t)n + 1 > fp->cap) {
        fp->cap = (fp->cap + (size_t)n + 1) * 2;
        fp->text = realloc(fp->text, fp->cap);
        assert_non_null(fp->text);
    }
    memcpy(fp->text + fp->len, line, (size_t)n + 1);
    fp->len += (size_t)n;
    return 0;
}

/* Caller frees the text. nftw's order is the directory order, stable between calls. */
static inline char *tl_fingerprint(const char *dir)
{
    struct tl_fingerprint fp = {0};
    tl_fp_current = &fp;
    tl_fp_root_len = strlen(dir);
    assert_int_equal(nftw(dir, tl_fp_one, 16, FTW_PHYS), 0);
    return fp.text;
}

/* ---- records (FORMAT.md §3, §4) ------------------------------------------ */

static inline uint32_t tl_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void tl_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* §4: CRC32C over bytes 0..3, then 8..(12+len+32). */
static inline uint32_t tl_record_crc(const uint8_t *rec, size_t entry_len)
{
    return evi_crc32c(evi_crc32c(0, rec, 4), rec + 8, 4 + entry_len + 32);
}

struct tl_record {
    uint32_t epoch;
    uint8_t *entry;                 /* NUL added after len bytes */
    size_t len;
    uint8_t tag[EV_HASH_BYTES];
};

/* The one segment of a small log, decoded. */
struct tl_log {
    uint8_t header[EVI_SEGMENT_HEADER];
    struct tl_record rec[TL_MAX_RECORDS];
    size_t count;
    size_t offset[TL_MAX_RECORDS + 1]; /* file offset of each record; [count] = file size */
};

static inline void tl_log_free(struct tl_log *log)
{
    for (size_t i = 0; i < log->count; i++) {
        free(log->rec[i].entry);
    }
    log->count = 0;
}

static inline void tl_record_set_entry(struct tl_record *r, const void *entry, size_t len)
{
    uint8_t *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, entry, len);
    copy[len] = '\0';
    free(r->entry);
    r->entry = copy;
    r->len = len;
}

/* Decodes dir's segment with this file's own decoder; every record must be intact. */
static inline void tl_log_read(const char *dir, struct tl_log *ret)
{
    size_t size, pos = EVI_SEGMENT_HEADER;
    uint8_t *seg = tl_read_in(dir, TL_SEGMENT, &size);

    memset(ret, 0, sizeof(*ret));
    assert_true(size >= EVI_SEGMENT_HEADER);
    memcpy(ret->header, seg, EVI_SEGMENT_HEADER);
    while (pos < size) {
        struct tl_record *r = &ret->rec[ret->count];
        assert_true(ret->count < TL_MAX_RECORDS);
        assert_true(size - pos >= EVI_RECORD_OVERHEAD);
        size_t len = tl_get32(seg + pos);
        assert_true(len >= 1 && len <= 65535 && size - pos >= EVI_RECORD_OVERHEAD + len);
        assert_int_equal(tl_get32(seg + pos + 4), tl_record_crc(seg + pos, len));
        r->epoch = tl_get32(seg + pos + 8);
        r->entry = NULL;
        tl_record_set_entry(r, seg + pos + EVI_RECORD_PREFIX, len);
        memcpy(r->tag, seg + pos + EVI_RECORD_PREFIX + len, EV_HASH_BYTES);
        ret->offset[ret->count++] = pos;
        pos += EVI_RECORD_OVERHEAD + len;
    }
    ret->offset[ret->count] = pos;
    free(seg);
}

/* Encodes the records of log (recomputing every CRC) and replaces dir's segment with them. */
static inline void tl_log_write(const char *dir, struct tl_log *log)
{
    size_t cap = EVI_SEGMENT_HEADER, pos = EVI_SEGMENT_HEADER;
    for (size_t i = 0; i < log->count; i++) {
        cap += EVI_RECORD_OVERHEAD + log->rec[i].len;
    }
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    memcpy(buf, log->header, EVI_SEGMENT_HEADER);
    for (size_t i = 0; i < log->count; i++) {
        const struct tl_record *r = &log->rec[i];
        log->offset[i] = pos;
        pos += evi_record_encode(r->epoch, r->entry, r->len, r->tag, buf + pos);
    }
    log->offset[log->count] = pos;
    assert_int_equal(pos, cap);
    tl_write_in(dir, TL_SEGMENT, buf, cap);
    free(buf);
}

/* Removes record i (0 <= i < count). */
static inline void tl_log_remove(struct tl_log *log, size_t i)
{
    assert_true(i < log->count);
    free(log->rec[i].entry);
    memmove(&log->rec[i], &log->rec[i + 1], (log->count - i - 1) * sizeof(log->rec[0]));
    log->count--;
}

/* Inserts a copy of src before position i (0 <= i <= count). */
static inline void tl_log_insert(struct tl_log *log, size_t i, const struct tl_record *src)
{
    struct tl_record copy = *src;
    assert_true(i <= log->count && log->count < TL_MAX_RECORDS);
    copy.entry = NULL;
    tl_record_set_entry(&copy, src->entry, src->len);
    memmove(&log->rec[i + 1], &log->rec[i], (log->count - i) * sizeof(log->rec[0]));
    log->rec[i] = copy;
    log->count++;
}

/* ---- entries (FORMAT.md §5) ----------------------------------------------- */

#define TL_HEAD "{\"v\":1,\"seq\":"
#define TL_TS_HEAD ",\"ts\":\""
#define TL_TYPE_HEAD "\",\"type\":\""

/* How an entry's fixed prefix reads against the grammar of FORMAT.md §5. */
enum tl_envelope_verdict {
    TL_ENV_OK,
    TL_ENV_MALFORMED,
};

struct tl_envelope {
    enum tl_envelope_verdict verdict;
    uint64_t seq;
    int64_t ts_ns;
    char type[EVI_TYPE_MAX + 1];
};

static inline bool tl_type_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '-';
}

static inline bool tl_digits(const uint8_t *s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/*
 * A ts is well formed when it is the writer's spelling (evi_ts_format) of some
 * instant: a second of 60 (a leap second, which RFC 3339 allows) never is, since
 * the writer's clock is ns since 1970 (§5).
 */
static inline enum tl_envelope_verdict tl_ts_check(const uint8_t *s, int64_t *ret_ns)
{
    int y, mo, d, h, mi, se, frac;
    char again[EVI_TS_LEN + 1];
    struct tm tm = {0};

    if (!tl_digits(s, 4, &y) || s[4] != '-' || !tl_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !tl_digits(s + 8, 2, &d) || s[10] != 'T' || !tl_digits(s + 11, 2, &h) || s[13] != ':' ||
        !tl_digits(s + 14, 2, &mi) || s[16] != ':' || !tl_digits(s + 17, 2, &se) ||
        s[19] != '.' || !tl_digits(s + 20, 9, &frac) || s[29] != 'Z') {
        return TL_ENV_MALFORMED;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
        return TL_ENV_MALFORMED;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if ((int64_t)t > (INT64_MAX - 999999999) / 1000000000) {
        /* After 2262-04-11T23:47:16Z an int64 of ns overflows: no writer's clock reads that. */
        return TL_ENV_MALFORMED;
    }
    int64_t ns = (int64_t)t * 1000000000 + frac;
    evi_ts_format(ns, again);
    if (memcmp(again, s, EVI_TS_LEN) != 0) {
        return TL_ENV_MALFORMED; /* an impossible date that timegm moved */
    }
    *ret_ns = ns;
    return TL_ENV_OK;
}

/*
 * Reads the fixed prefix `{"v":1,"seq":N,"ts":"TS","type":"T"` and the final `}`
 * by FORMAT.md §5 (what verification reads; the rest of the JSON is hashed, not
 * parsed).
 */
static inline struct tl_envelope tl_envelope(const uint8_t *e, size_t len)
{
    struct tl_envelope env = {.verdict = TL_ENV_MALFORMED};
    const uint8_t *p = e, *end = e + len;
    size_t digits = 0, head = strlen(TL_HEAD);

    if (len < head || memcmp(p, TL_HEAD, head) != 0) {
        return env;
    }
    p += head;
    while (p < end && *p >= '0' && *p <= '9') {
        if (digits == 19) {
            return env; /* the small logs of these tests never get near 20 digits */
        }
        if (digits == 1 && env.seq == 0) {
            return env; /* leading zero */
        }
        env.seq = env.seq * 10 + (uint64_t)(*p - '0');
        digits++;
        p++;
    }
    if (digits == 0 || (size_t)(end - p) < strlen(TL_TS_HEAD) + EVI_TS_LEN ||
        memcmp(p, TL_TS_HEAD, strlen(TL_TS_HEAD)) != 0) {
        return env;
    }
    p += strlen(TL_TS_HEAD);
    if (tl_ts_check(p, &env.ts_ns) == TL_ENV_MALFORMED) {
        return env;
    }
    p += EVI_TS_LEN;
    if ((size_t)(end - p) < strlen(TL_TYPE_HEAD) ||
        memcmp(p, TL_TYPE_HEAD, strlen(TL_TYPE_HEAD)) != 0) {
        return env;
    }
    p += strlen(TL_TYPE_HEAD);
    const uint8_t *type = p;
    while (p < end && tl_type_char(*p)) {
        p++;
    }
    size_t type_len = (size_t)(p - type);
    if (type_len == 0 || type_len > EVI_TYPE_MAX || p >= end || *p != '"' || end[-1] != '}') {
        return env;
    }
    if (type[0] < 'a' || type[0] > 'z') {
        return env; /* §5: a type starts with a letter */
    }
    memcpy(env.type, type, type_len);
    env.type[type_len] = '\0';
    env.verdict = TL_ENV_OK;
    return env;
}

static inline bool tl_is_seal(const struct tl_record *r)
{
    struct tl_envelope env = tl_envelope(r->entry, r->len);
    return env.verdict == TL_ENV_OK && strcmp(env.type, "seal") == 0;
}

/* Rewrites the seq of an entry (the digits after `{"v":1,"seq":`). */
static inline void tl_entry_set_seq(struct tl_record *r, uint64_t seq)
{
    size_t head = strlen(TL_HEAD), digits = 0;
    char text[EV_ENTRY_MAX_BYTES + 64];

    assert_true(r->len > head && memcmp(r->entry, TL_HEAD, head) == 0);
    while (r->entry[head + digits] >= '0' && r->entry[head + digits] <= '9') {
        digits++;
    }
    int n = snprintf(text, sizeof(text), "%s%" PRIu64 "%s", TL_HEAD, seq,
                     (const char *)r->entry + head + digits);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    tl_record_set_entry(r, text, (size_t)n);
}

/* Replaces the first occurrence of from with to in the entry (asserts one exists). */
static inline void tl_entry_replace(struct tl_record *r, const char *from, const char *to)
{
    char text[EV_ENTRY_MAX_BYTES + 256];
    const char *at = strstr((const char *)r->entry, from);

    if (at == NULL) {
        fail_msg("'%s' not in entry %s", from, (const char *)r->entry);
    }
    size_t before = (size_t)(at - (const char *)r->entry);
    int n = snprintf(text, sizeof(text), "%.*s%s%s", (int)before, (const char *)r->entry, to,
                     at + strlen(from));
    assert_true(n > 0 && (size_t)n < sizeof(text));
    tl_record_set_entry(r, text, (size_t)n);
}

/*
 * Rewrites a seal's data (FORMAT.md §7): everything from `"data":{` on. The
 * writer's key order and compact form are kept so that the entry stays what
 * the writer would have written.
 */
static inline void tl_seal_set(struct tl_record *r, const uint8_t chain_head[EV_HASH_BYTES],
                               uint32_t epoch, const uint8_t root[EV_HASH_BYTES],
                               uint64_t tree_size)
{
    char text[EV_ENTRY_MAX_BYTES + 256], chain_hex[65], root_hex[65];
    const char *at = strstr((const char *)r->entry, "\"data\":{\"chain_head\":");

    assert_non_null(at);
    evi_hex_encode(chain_head, EV_HASH_BYTES, chain_hex);
    evi_hex_encode(root, EV_HASH_BYTES, root_hex);
    int n = snprintf(text, sizeof(text),
                     "%.*s\"data\":{\"chain_head\":\"%s\",\"epoch\":%" PRIu32
                     ",\"root\":\"%s\",\"tree_size\":%" PRIu64 "}}",
                     (int)(at - (const char *)r->entry), (const char *)r->entry, chain_hex,
                     epoch, root_hex, tree_size);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    tl_record_set_entry(r, text, (size_t)n);
}

/* The ts of an entry (§5): its 30 characters into text (NUL added), and its time in ns. */
static inline int64_t tl_entry_ts(const uint8_t *entry, size_t len, char text[EVI_TS_LEN + 1])
{
    const char *at = memmem(entry, len, TL_TS_HEAD, strlen(TL_TS_HEAD));
    int64_t ns = 0;

    assert_non_null(at);
    memcpy(text, at + strlen(TL_TS_HEAD), EVI_TS_LEN);
    text[EVI_TS_LEN] = '\0';
    assert_int_equal(tl_ts_check((const uint8_t *)text, &ns), TL_ENV_OK);
    return ns;
}

/* Rewrites an entry's ts to the writer's spelling of ns (evi_ts_format). */
static inline void tl_entry_set_ts(struct tl_record *r, int64_t ns)
{
    char old[EVI_TS_LEN + 1], from[64], to[64];

    (void)tl_entry_ts(r->entry, r->len, old);
    (void)snprintf(from, sizeof(from), "%s%s\"", TL_TS_HEAD, old);
    evi_ts_format(ns, old);
    (void)snprintf(to, sizeof(to), "%s%s\"", TL_TS_HEAD, old);
    tl_entry_replace(r, from, to);
}

/* ---- hashes, tags (FORMAT.md §5, §7) ------------------------------------- */

/* RFC 6962 MTH over leaf hashes, written out independently of the library's frontier. */
static inline void tl_mth(const uint8_t (*leaves)[EV_HASH_BYTES], size_t n,
                          uint8_t ret[EV_HASH_BYTES])
{
    if (n == 0) {
        ev_empty_root(ret);
        return;
    }
    if (n == 1) {
        memcpy(ret, leaves[0], EV_HASH_BYTES);
        return;
    }
    size_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    uint8_t left[EV_HASH_BYTES], right[EV_HASH_BYTES];
    tl_mth(leaves, k, left);
    tl_mth(leaves + k, n - k, right);
    ev_node_hash(left, right, ret);
}

/* Per-prefix values of a log: root[i] and chain[i] describe the first i entries. */
struct tl_hashes {
    uint8_t leaf[TL_MAX_RECORDS][EV_HASH_BYTES];
    uint8_t root[TL_MAX_RECORDS + 1][EV_HASH_BYTES];
    uint8_t chain[TL_MAX_RECORDS + 1][EV_HASH_BYTES]; /* chain[i] = c(i-1); chain[0] = zeros */
};

static inline void tl_hashes(const struct tl_log *log, struct tl_hashes *h)
{
    memset(h->chain[0], 0, EV_HASH_BYTES);
    for (size_t i = 0; i <= log->count; i++) {
        tl_mth((const uint8_t(*)[EV_HASH_BYTES])h->leaf, i, h->root[i]);
        if (i == log->count) {
            break;
        }
        ev_leaf_hash(log->rec[i].entry, log->rec[i].len, h->leaf[i]);
        evi_sha256_parts(h->chain[i], EV_HASH_BYTES, h->leaf[i], EV_HASH_BYTES, NULL, 0,
                         h->chain[i + 1]);
    }
}

/* Tag of record index, the j-th of epoch, with chain value c(index), from V (§7). */
static inline void tl_tag(const uint8_t v[EV_HASH_BYTES], uint32_t epoch, uint64_t j,
                          uint64_t index, const uint8_t chain[EV_HASH_BYTES],
                          uint8_t ret[EV_HASH_BYTES])
{
    static const char label_epoch[] = "evident epoch v1";
    static const char label_record[] = "evident record v1";
    static const char label_next[] = "evident next v1";
    uint8_t a[EV_HASH_BYTES], r[EV_HASH_BYTES], msg[8 + EV_HASH_BYTES];

    memcpy(a, v, EV_HASH_BYTES);
    for (uint32_t e = 0; e < epoch; e++) {
        evi_hmac_sha256(a, label_epoch, sizeof(label_epoch) - 1, a);
    }
    evi_hmac_sha256(a, label_record, sizeof(label_record) - 1, r);
    for (uint64_t k = 0; k < j; k++) {
        evi_hmac_sha256(r, label_next, sizeof(label_next) - 1, r);
    }
    for (int b = 0; b < 8; b++) {
        msg[b] = (uint8_t)(index >> (56 - 8 * b));
    }
    memcpy(msg + 8, chain, EV_HASH_BYTES);
    evi_hmac_sha256(r, msg, sizeof(msg), ret);
}

enum {
    TL_RENUMBER = 1u << 0, /* seq := position */
    TL_RESEAL = 1u << 1,   /* each seal's data := its epoch field, position, root, chain */
};

/*
 * Rewrites records from..count-1 as a writer would after a change at from:
 * seq numbers (TL_RENUMBER), seal contents (TL_RESEAL) and, if key is not
 * NULL, tags keyed from key as if it were V. j counts a record's place in its
 * epoch (by the records' epoch fields), as the writer does.
 */
static inline void tl_rebuild(struct tl_log *log, size_t from, unsigned flags,
                              const uint8_t *key)
{
    uint8_t leaves[TL_MAX_RECORDS][EV_HASH_BYTES], chain[EV_HASH_BYTES] = {0};
    uint64_t j = 0;

    for (size_t i = 0; i < log->count; i++) {
        struct tl_record *r = &log->rec[i];
        j = (i == 0 || r->epoch != log->rec[i - 1].epoch) ? 0 : j + 1;
        if (i >= from) {
            if (flags & TL_RENUMBER) {
                tl_entry_set_seq(r, i);
            }
            if ((flags & TL_RESEAL) && tl_is_seal(r)) {
                uint8_t root[EV_HASH_BYTES];
                tl_mth((const uint8_t(*)[EV_HASH_BYTES])leaves, i, root);
                tl_seal_set(r, chain, r->epoch, root, i);
            }
        }
        ev_leaf_hash(r->entry, r->len, leaves[i]);
        evi_sha256_parts(chain, EV_HASH_BYTES, leaves[i], EV_HASH_BYTES, NULL, 0, chain);
        if (i >= from && key != NULL) {
            tl_tag(key, r->epoch, j, i, chain, r->tag);
        }
    }
}

/* ---- checkpoints (FORMAT.md §8) ------------------------------------------- */

static inline struct ev_verifier *tl_log_verifier(const char *dir)
{
    struct ev_signer *signer = NULL;
    struct ev_verifier *verifier = NULL;
    char path[PATH_MAX], *vkey = NULL;

    tl_ok(ev_signer_load(tl_path(path, dir, "signing.key"), &signer));
    tl_ok(ev_signer_vkey(signer, &vkey));
    tl_ok(ev_verifier_parse(vkey, &verifier));
    free(vkey);
    ev_signer_free(signer);
    return verifier;
}

/* The verifier key string of dir's signing key; caller frees. */
static inline char *tl_log_vkey(const char *dir)
{
    struct ev_signer *signer = NULL;
    char path[PATH_MAX], *vkey = NULL;

    tl_ok(ev_signer_load(tl_path(path, dir, "signing.key"), &signer));
    tl_ok(ev_signer_vkey(signer, &vkey));
    ev_signer_free(signer);
    return vkey;
}

/* A checkpoint note for (origin, size, root) signed by signer; caller frees. */
static inline char *tl_sign_checkpoint(const struct ev_signer *signer, const char *origin,
                                       uint64_t size, const uint8_t root[EV_HASH_BYTES],
                                       size_t *ret_len)
{
    char *text = NULL, *note = NULL;
    size_t text_len;

    tl_ok(ev_checkpoint_format(origin, size, root, &text, &text_len));
    tl_ok(ev_note_sign(text, text_len, signer, &note, ret_len));
    free(text);
    return note;
}

static inline struct ev_signer *tl_log_signer(const char *dir)
{
    struct ev_signer *signer = NULL;
    char path[PATH_MAX];
    tl_ok(ev_signer_load(tl_path(path, dir, "signing.key"), &signer));
    return signer;
}

/* Tree sizes of the frames of dir's history (at most max); returns their count. */
static inline size_t tl_history_sizes(const char *dir, uint64_t *sizes, size_t max)
{
    struct ev_verifier *verifier = tl_log_verifier(dir);
    size_t len, pos = 0, count = 0;
    uint8_t *data = tl_read_in(dir, "checkpoints", &len);

    while (pos < len) {
        struct ev_checkpoint cp;
        assert_true(len - pos >= 8);
        uint32_t n = tl_get32(data + pos);
        assert_true(n <= len - pos - 8);
        assert_int_equal(tl_get32(data + pos + 4), evi_crc32c(0, data + pos + 8, n));
        tl_ok(ev_checkpoint_open((const char *)data + pos + 8, n, verifier, &cp));
        assert_true(count < max);
        sizes[count++] = cp.tree_size;
        pos += 8 + (size_t)n;
    }
    free(data);
    ev_verifier_free(verifier);
    return count;
}

/* The tree size of dir's latest checkpoint. */
static inline uint64_t tl_latest_size(const char *dir)
{
    struct ev_verifier *verifier = tl_log_verifier(dir);
    struct ev_checkpoint cp;
    size_t len;
    char *note = (char *)tl_read_in(dir, "checkpoint", &len);
    tl_ok(ev_checkpoint_open(note, len, verifier, &cp));
    free(note);
    ev_verifier_free(verifier);
    return cp.tree_size;
}

/* One history frame (§8): u32 length, u32 CRC32C of the note, the note. */
static inline void tl_history_frame(uint8_t **buf, size_t *len, const char *note, size_t n)
{
    *buf = realloc(*buf, *len + 8 + n);
    assert_non_null(*buf);
    tl_put32(*buf + *len, (uint32_t)n);
    tl_put32(*buf + *len + 4, evi_crc32c(0, note, n));
    memcpy(*buf + *len + 8, note, n);
    *len += 8 + n;
}

/*
 * What a root attacker holding the signing key does after rewriting records:
 * re-signs every checkpoint of the history whose size the log still has, with
 * the roots the records now give, adds one for the whole log if missing, and
 * makes that the latest checkpoint.
 */
static inline void tl_resign(const char *dir, const struct tl_log *log)
{
    struct ev_signer *signer = tl_log_signer(dir);
    struct tl_hashes *h = malloc(sizeof(*h));
    uint64_t sizes[TL_MAX_RECORDS * 2];
    size_t count = tl_history_sizes(dir, sizes, TL_MAX_RECORDS * 2), hist_len = 0, len = 0;
    uint8_t *hist = NULL;
    char *note = NULL;
    bool have_last = false;

    assert_non_null(h);
    tl_hashes(log, h);
    for (size_t i = 0; i < count; i++) {
        if (sizes[i] > log->count) {
            continue;
        }
        note = tl_sign_checkpoint(signer, TL_ORIGIN, sizes[i], h->root[sizes[i]], &len);
        tl_history_frame(&hist, &hist_len, note, len);
        have_last = sizes[i] == log->count;
        free(note);
    }
    note = tl_sign_checkpoint(signer, TL_ORIGIN, log->count, h->root[log->count], &len);
    if (!have_last) {
        tl_history_frame(&hist, &hist_len, note, len);
    }
    tl_write_in(dir, "checkpoints", hist, hist_len);
    tl_write_in(dir, "checkpoint", note, len);
    free(note);
    free(hist);
    free(h);
    ev_signer_free(signer);
}

/*
 * What a writer holding every key (V and the signing key) does after changing
 * records of dir's one segment, the first at index from: seals and tags from
 * there redone as the writer would, every checkpoint re-signed. Only rules
 * that need no key can catch what it wrote.
 */
static inline void tl_forge_as_writer(const char *dir, struct tl_log *log, size_t from,
                                      const uint8_t v[EV_HASH_BYTES])
{
    tl_rebuild(log, from, TL_RESEAL, v);
    tl_log_write(dir, log);
    tl_resign(dir, log);
}

/* ---- a whole log directory: several segments, pruned forms (FORMAT.md §3, §3.2) ---- */

/* One entry of a log directory: a record, or a pruned entry (its leaf hash only). */
struct tl_item {
    uint32_t epoch;
    uint8_t *entry; /* NULL when pruned; NUL added after len bytes */
    size_t len;
    uint8_t tag[EV_HASH_BYTES];
    uint8_t leaf[EV_HASH_BYTES]; /* every entry's, after tl_dir_read or tl_dir_forge */
    size_t file;                 /* the segment file that holds it */
    bool run_start;              /* a pruned entry that begins a run */
};

struct tl_dir {
    char (*names)[32]; /* segment file names (NNN.seg, NNN.pruned), in index order */
    uint8_t (*headers)[EVI_SEGMENT_HEADER];
    size_t file_count;
    struct tl_item *items;
    size_t count;
};

static inline int tl_name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Decodes every segment of dir (no compressed ones) with this file's own decoder. */
static inline void tl_dir_read(const char *dir, struct tl_dir *ret)
{
    char segdir[PATH_MAX], name[64];
    DIR *d = opendir(tl_path(segdir, dir, "segments"));
    struct dirent *de;
    size_t cap = 0;

    memset(ret, 0, sizeof(*ret));
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.') {
            continue;
        }
        assert_true(n == 24 || n == 27); /* NNN.seg or NNN.pruned: no .seg.zst here */
        ret->names = realloc(ret->names, (ret->file_count + 1) * sizeof(*ret->names));
        assert_non_null(ret->names);
        memcpy(ret->names[ret->file_count++], de->d_name, n + 1);
    }
    (void)closedir(d);
    qsort(ret->names, ret->file_count, sizeof(*ret->names), tl_name_cmp);
    ret->headers = calloc(ret->file_count, sizeof(*ret->headers));
    assert_non_null(ret->headers);
    for (size_t f = 0; f < ret->file_count; f++) {
        size_t size, pos = EVI_SEGMENT_HEADER;
        (void)snprintf(name, sizeof(name), "segments/%s", ret->names[f]);
        uint8_t *seg = tl_read_in(dir, name, &size);
        bool pruned = strstr(ret->names[f], ".pruned") != NULL;
        assert_true(size >= EVI_SEGMENT_HEADER);
        memcpy(ret->headers[f], seg, EVI_SEGMENT_HEADER);
        while (pos < size) {
            uint32_t head = tl_get32(seg + pos);
            size_t n = pruned && (head & EVI_PRUNED_FLAG) ? head & ~EVI_PRUNED_FLAG : 1;
            if (ret->count + n > cap) {
                cap = (ret->count + n) * 2;
                ret->items = realloc(ret->items, cap * sizeof(*ret->items));
                assert_non_null(ret->items);
            }
            if (pruned && (head & EVI_PRUNED_FLAG)) {
                assert_true(size - pos >= EVI_PRUNED_RUN_BYTES(n));
                assert_int_equal(tl_get32(seg + pos + 4),
                                 evi_crc32c(evi_crc32c(0, seg + pos, 4), seg + pos + 8,
                                            EVI_PRUNED_RUN_BYTES(n) - 8));
                for (size_t k = 0; k < n; k++) {
                    struct tl_item *it = &ret->items[ret->count++];
                    memset(it, 0, sizeof(*it));
                    it->epoch = tl_get32(seg + pos + 8);
                    memcpy(it->leaf, seg + pos + EVI_RECORD_PREFIX + 32 * k, EV_HASH_BYTES);
                    it->file = f;
                    it->run_start = k == 0;
                }
                pos += EVI_PRUNED_RUN_BYTES(n);
                continue;
            }
            assert_true(head >= 1 && head <= 65535 && size - pos >= EVI_RECORD_OVERHEAD + head);
            assert_int_equal(tl_get32(seg + pos + 4), tl_record_crc(seg + pos, head));
            struct tl_item *it = &ret->items[ret->count++];
            memset(it, 0, sizeof(*it));
            it->epoch = tl_get32(seg + pos + 8);
            it->entry = malloc(head + 1);
            assert_non_null(it->entry);
            memcpy(it->entry, seg + pos + EVI_RECORD_PREFIX, head);
            it->entry[head] = '\0';
            it->len = head;
            memcpy(it->tag, seg + pos + EVI_RECORD_PREFIX + head, EV_HASH_BYTES);
            ev_leaf_hash(it->entry, it->len, it->leaf);
            it->file = f;
            pos += EVI_RECORD_OVERHEAD + head;
        }
        free(seg);
    }
}

static inline void tl_dir_free(struct tl_dir *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].entry);
    }
    free(d->items);
    free(d->names);
    free(d->headers);
    memset(d, 0, sizeof(*d));
}

/* Item i as a tl_record, to edit it with the tl_entry_* helpers (then tl_dir_set). */
static inline struct tl_record tl_dir_record(const struct tl_dir *d, size_t i)
{
    struct tl_record r = {.epoch = d->items[i].epoch};
    assert_non_null(d->items[i].entry);
    tl_record_set_entry(&r, d->items[i].entry, d->items[i].len);
    return r;
}

static inline void tl_dir_set(struct tl_dir *d, size_t i, struct tl_record *r)
{
    free(d->items[i].entry);
    d->items[i].entry = r->entry;
    d->items[i].len = r->len;
    r->entry = NULL;
}

/*
 * A retention entry (§3.2) names each segment it removed with the SHA-256 of
 * its leaf hashes: redone here from leaves (the first `before` entries), in
 * place (same length), as the writer would write it over changed entries. Its
 * `sha256` of the segment's bytes is left: verification cannot check it.
 */
static inline void tl_retention_redigest(uint8_t *entry, size_t len,
                                         const uint8_t (*leaves)[EV_HASH_BYTES], size_t before)
{
    static const char key[] = "\"first\":";
    char *p = (char *)entry, *end = (char *)entry + len;

    if (strstr((const char *)entry, "\"type\":\"retention\"") == NULL) {
        return;
    }
    while ((p = memmem(p, (size_t)(end - p), key, strlen(key))) != NULL) {
        unsigned long long first, last;
        int at = 0;
        if (sscanf(p, "\"first\":%llu,\"last\":%llu,\"leaf_digest\":\"%n", &first, &last, &at) ==
                2 &&
            at > 0 && first <= last && last < before && end - (p + at) >= 64) {
            uint8_t digest[EV_HASH_BYTES];
            char hex[2 * EV_HASH_BYTES + 1];
            evi_sha256(leaves[first], (size_t)(last - first + 1) * EV_HASH_BYTES, digest);
            evi_hex_encode(digest, EV_HASH_BYTES, hex);
            memcpy(p + at, hex, 2 * EV_HASH_BYTES);
        }
        p += strlen(key);
    }
}

/*
 * tl_forge_as_writer for a whole directory: from the records as they now are,
 * every seal's contents and retention entry's leaf digests, every leaf, chain
 * value and tag (keyed from v, j counting pruned entries too, §7), the segment
 * files, and every checkpoint (history and latest, for origin) re-signed over
 * the new roots.
 */
static inline void tl_dir_forge(const char *dir, struct tl_dir *d, const char *origin,
                                const uint8_t v[EV_HASH_BYTES])
{
    uint8_t(*leaves)[EV_HASH_BYTES] = calloc(d->count + 1, EV_HASH_BYTES);
    uint8_t chain[EV_HASH_BYTES] = {0};
    uint64_t j = 0;
    char name[64];

    assert_non_null(leaves);
    for (size_t i = 0; i < d->count; i++) {
        struct tl_item *it = &d->items[i];
        j = (i == 0 || it->epoch != d->items[i - 1].epoch) ? 0 : j + 1;
        if (it->entry != NULL) {
            struct tl_record r = {.entry = it->entry, .len = it->len};
            tl_retention_redigest(it->entry, it->len, (const uint8_t(*)[EV_HASH_BYTES])leaves, i);
            if (tl_is_seal(&r)) {
                uint8_t root[EV_HASH_BYTES];
                tl_mth((const uint8_t(*)[EV_HASH_BYTES])leaves, i, root);
                tl_seal_set(&r, chain, it->epoch, root, i);
                it->entry = r.entry;
                it->len = r.len;
            }
            ev_leaf_hash(it->entry, it->len, it->leaf);
        }
        memcpy(leaves[i], it->leaf, EV_HASH_BYTES);
        evi_sha256_parts(chain, EV_HASH_BYTES, it->leaf, EV_HASH_BYTES, NULL, 0, chain);
        if (it->entry != NULL) {
            tl_tag(v, it->epoch, j, i, chain, it->tag);
        }
    }

    for (size_t f = 0; f < d->file_count; f++) {
        size_t cap = EVI_SEGMENT_HEADER, pos = EVI_SEGMENT_HEADER;
        for (size_t i = 0; i < d->count; i++) {
            if (d->items[i].file == f) {
                cap += d->items[i].entry != NULL ? EVI_RECORD_OVERHEAD + d->items[i].len
                                                 : EVI_RECORD_PREFIX + EV_HASH_BYTES;
            }
        }
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        memcpy(buf, d->headers[f], EVI_SEGMENT_HEADER);
        for (size_t i = 0; i < d->count; i++) {
            const struct tl_item *it = &d->items[i];
            if (it->file != f) {
                continue;
            }
            if (it->entry != NULL) {
                pos += evi_record_encode(it->epoch, it->entry, it->len, it->tag, buf + pos);
                continue;
            }
            if (!it->run_start) {
                continue; /* written with the run it belongs to */
            }
            uint32_t n = 1;
            while (i + n < d->count && d->items[i + n].file == f &&
                   d->items[i + n].entry == NULL && !d->items[i + n].run_start) {
                n++;
            }
            pos += evi_record_encode_run(it->epoch, leaves[i], n, buf + pos);
        }
        assert_true(pos <= cap);
        (void)snprintf(name, sizeof(name), "segments/%s", d->names[f]);
        tl_write_in(dir, name, buf, pos);
        free(buf);
    }

    /* Every checkpoint, as tl_resign does for one segment. */
    struct ev_signer *signer = tl_log_signer(dir);
    size_t max = 4096, hist_len = 0, len = 0;
    uint64_t *sizes = calloc(max, sizeof(*sizes));
    assert_non_null(sizes);
    size_t count = tl_history_sizes(dir, sizes, max);
    uint8_t *hist = NULL, root[EV_HASH_BYTES];
    char *note = NULL;
    bool have_last = false;
    for (size_t k = 0; k < count; k++) {
        if (sizes[k] > d->count) {
            continue;
        }
        tl_mth((const uint8_t(*)[EV_HASH_BYTES])leaves, sizes[k], root);
        note = tl_sign_checkpoint(signer, origin, sizes[k], root, &len);
        tl_history_frame(&hist, &hist_len, note, len);
        have_last = sizes[k] == d->count;
        free(note);
    }
    tl_mth((const uint8_t(*)[EV_HASH_BYTES])leaves, d->count, root);
    note = tl_sign_checkpoint(signer, origin, d->count, root, &len);
    if (!have_last) {
        tl_history_frame(&hist, &hist_len, note, len);
    }
    tl_write_in(dir, "checkpoints", hist, hist_len);
    tl_write_in(dir, "checkpoint", note, len);
    free(note);
    free(hist);
    free(sizes);
    free(leaves);
    ev_signer_free(signer);
}

/* ---- verification --------------------------------------------------------- */

struct tl_depth {
    int threads;                    /* ev_verify_options.threads; 0 here means 1 */
    const uint8_t *v;               /* V or NULL */
    const char *pubkey;             /* pinned verifier key or NULL */
    const char *const *checkpoints; /* trusted notes */
    const size_t *lens;
    size_t count;
};

static inline int tl_verify(const char *dir, const struct tl_depth *d,
                            struct ev_verify_report *rep)
{
    struct ev_verify_options o = {.threads = 1};
    if (d != NULL) {
        o.threads = d->threads > 0 ? d->threads : 1;
        o.verification_key = d->v;
        o.pubkey = d->pubkey;
        o.checkpoints = d->checkpoints;
        o.checkpoint_lens = d->lens;
        o.checkpoint_count = d->count;
    }
    return ev_verify_dir(dir, &o, rep);
}

/*
 * With V, tags are checked inline (threads 1) or on a second thread (threads
 * 2) that may run behind the main pass; tl_expect checks both unless a loop
 * turns this off for speed.
 */
static bool tl_both_tag_modes __attribute__((unused)) = true;

static inline void tl_expect_one(const char *file, int line, const char *dir,
                                 const struct tl_depth *d, enum ev_failure kind, uint64_t entry,
                                 const char *what, struct ev_verify_report *ret_rep);

/*
 * Verifies and asserts the exact outcome: 0 and EV_FAIL_NONE, or EV_EVERIFY
 * with kind at entry (TL_NO_ENTRY: the failure names no entry). what names the
 * case in the failure message.
 */
static inline void tl_expect_at(const char *file, int line, const char *dir,
                                const struct tl_depth *d, enum ev_failure kind, uint64_t entry,
                                const char *what, struct ev_verify_report *ret_rep)
{
    tl_expect_one(file, line, dir, d, kind, entry, what, ret_rep);
    if (d != NULL && d->v != NULL && d->threads == 0 && tl_both_tag_modes) {
        struct tl_depth threaded = *d;
        threaded.threads = 2;
        tl_expect_one(file, line, dir, &threaded, kind, entry, what, NULL);
    }
}

static inline void tl_expect_one(const char *file, int line, const char *dir,
                                 const struct tl_depth *d, enum ev_failure kind, uint64_t entry,
                                 const char *what, struct ev_verify_report *ret_rep)
{
    struct ev_verify_report rep;
    int r = tl_verify(dir, d, &rep);
    bool want_entry = kind != EV_FAIL_NONE && entry != TL_NO_ENTRY;
    bool ok = r == (kind == EV_FAIL_NONE ? 0 : EV_EVERIFY) && rep.failure == kind &&
              (kind == EV_FAIL_NONE || rep.has_entry == want_entry) &&
              (!want_entry || rep.entry == entry);
    if (!ok) {
        fail_msg("%s:%d: %s (%s): expected %s at %s%" PRId64 ", got %d (%s) %s at %s%" PRIu64
                 ": %s [%s]",
                 file, line, what,
                 d == NULL || d->v == NULL ? "without V"
                 : d->threads > 1          ? "with V, tags on a second thread"
                                           : "with V",
                 ev_failure_name(kind), want_entry ? "entry " : "no entry ",
                 want_entry ? (int64_t)entry : -1, r, ev_strerror(r), ev_failure_name(rep.failure),
                 rep.has_entry ? "entry " : "no entry ", rep.has_entry ? rep.entry : 0,
                 rep.detail, ev_last_error());
    }
    if (ret_rep != NULL) {
        *ret_rep = rep;
    }
}

#define tl_expect(dir, depth, kind, entry, what) \
    tl_expect_at(__FILE__, __LINE__, (dir), (depth), (kind), (entry), (what), NULL)

/* ---- the small log ------------------------------------------------------ */

/* Appends count small events (types cycling, data {"n":i}) and asserts their indexes. */
static inline void tl_append(struct ev_log *log, unsigned count)
{
    static const char *const types[] = {"exec", "scan", "container", "limit"};
    for (unsigned i = 0; i < count; i++) {
        char data[64];
        struct ev_event ev = {.type = types[i % 4],
                              .severity = (int)(i % 8),
                              .source_json = "{\"host\":\"h\"}",
                              .data_json = data};
        uint64_t index = UINT64_MAX, before = ev_log_size(log);
        assert_true(snprintf(data, sizeof(data), "{\"n\":%u}", i) < (int)sizeof(data));
        tl_ok(ev_log_append(log, &ev, &index));
        /*
         * The entry is the log's last; a seal may come before it when a 1-s
         * epoch ended since `before` was read (a slow machine, a sanitizer build).
         */
        assert_true(index >= before);
        assert_int_equal(index, ev_log_size(log) - 1);
    }
}

static inline struct ev_log *tl_open(const char *dir)
{
    struct ev_log *log = NULL;
    tl_ok(ev_log_open(dir, NULL, &log));
    return log;
}

/* Creates a log of seal interval interval_ns in dir and returns V. */
static inline void tl_create(const char *dir, uint64_t interval_ns, uint8_t v[EV_HASH_BYTES])
{
    struct ev_create_options o = {.origin = TL_ORIGIN, .seal_interval_ns = interval_ns};
    tl_ok(ev_log_create(dir, &o, v));
}

/*
 * The suite's log: seal interval 1 s; 3 events, a forced seal, close (a copy of
 * the directory is taken here into early, if not NULL); reopen, 3 events, seal,
 * 3 events, seal, close. ev_log_seal closes epochs ahead of the clock, so no
 * sleeping; the structure is still read back from the records, never assumed.
 */
static inline void tl_build(const char *dir, const char *early, uint8_t v[EV_HASH_BYTES])
{
    tl_create(dir, 1000000000ull, v);
    struct ev_log *log = tl_open(dir);
    tl_append(log, 3);
    tl_ok(ev_log_seal(log));
    tl_ok(ev_log_close(log));
    if (early != NULL) {
        tl_copy_dir(dir, early);
    }
    log = tl_open(dir);
    tl_append(log, 3);
    tl_ok(ev_log_seal(log));
    tl_append(log, 3);
    tl_ok(ev_log_seal(log));
    tl_ok(ev_log_close(log));
}

/* Index of the n-th (from 0) seal of log, or SIZE_MAX. */
static inline size_t tl_seal_index(const struct tl_log *log, size_t n)
{
    for (size_t i = 0; i < log->count; i++) {
        if (tl_is_seal(&log->rec[i]) && n-- == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

static inline size_t tl_seal_count(const struct tl_log *log)
{
    size_t n = 0;
    for (size_t i = 0; i < log->count; i++) {
        n += tl_is_seal(&log->rec[i]);
    }
    return n;
}

#endif
