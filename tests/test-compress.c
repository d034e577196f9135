/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation by age and compressed segments (docs/FORMAT.md §3, §3.1):
 *
 *   - a segment whose first record is older than segment_max_age_ns is closed
 *     at the next append, and for a quiet log at the next checkpoint or seal;
 *   - closed segments are compressed in the background; entries, scans, proofs
 *     and verification (with V, threaded or not) give the same bytes and
 *     results over any mix of .seg and .seg.zst, and readers opened before
 *     the compression keep working;
 *   - a crash at every I/O step of the compression leaves a log that reads,
 *     verifies, and is compressed again by the next writer;
 *   - tampering with a .zst is found: a changed compressed byte is record
 *     damage naming the segment; changed and recompressed content fails
 *     exactly as the same change in a .seg does;
 *   - a zstd bomb (a frame or a seek table claiming more than a segment may
 *     hold) is refused with a clear error.
 */
#include <sys/wait.h>
#include <time.h>

#include <zstd.h>

#include "testutil.h"

#include <evident/config.h>
#include <evident/merkle.h>

#include "log-internal.h"
#include "record.h"
#include "store.h"
#include "zseg.h"

#define SMALL_SEGMENT 65611u /* the smallest segment_bytes: one largest record */
#define HOUR (3600ull * 1000000000ull)

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Counts segment files by form: plain .seg, .seg.zst, and temporaries. */
struct seg_files {
    int plain, zst, tmp;
};

static struct seg_files seg_files(const char *logdir)
{
    char segdir[PATH_MAX];
    struct seg_files c = {0};
    DIR *d = opendir(tu_path(segdir, logdir, "segments"));
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n == 24 && strcmp(de->d_name + 20, ".seg") == 0) {
            c.plain++;
        } else if (n == 28 && strcmp(de->d_name + 20, ".seg.zst") == 0) {
            c.zst++;
        } else if (strstr(de->d_name, ".tmp") != NULL) {
            c.tmp++;
        }
    }
    (void)closedir(d);
    return c;
}

/* Events with some variety, like code_execution and syslog events. */
static void append_varied(struct ev_log *log, unsigned n, unsigned salt)
{
    for (unsigned i = 0; i < n; i++) {
        char data[512];
        struct ev_event ev = {.severity = EV_SEV_INFO, .data_json = data};
        if (i % 3 == 0) {
            ev.type = "code_execution";
            (void)snprintf(data, sizeof(data),
                           "{\"argv\":\"python3 -m pytest -q tests/test_%u.py\",\"cwd\":"
                           "\"/work/agent-%u\",\"exit_code\":%u,\"session\":\"s-%u-%u\"}",
                           i % 97, salt, i % 3, salt, i / 10);
        } else {
            ev.type = "system_event";
            (void)snprintf(data, sizeof(data),
                           "{\"facility\":\"auth\",\"message\":\"Accepted publickey for user%u "
                           "from 10.0.%u.%u port %u ssh2\",\"pid\":%u}",
                           i % 13, salt % 250, i % 250, 40000 + i, 1000 + i);
        }
        tu_ok(ev_log_append(log, &ev, NULL));
    }
}

/* Every entry of the log, in order, through a read-only handle. */
struct entries {
    char **bytes;
    size_t *len;
    uint64_t count;
};

static int collect_visit(void *ctx, const struct ev_entry *e)
{
    struct entries *es = ctx;
    es->bytes = realloc(es->bytes, (es->count + 1) * sizeof(*es->bytes));
    es->len = realloc(es->len, (es->count + 1) * sizeof(*es->len));
    assert_non_null(es->bytes);
    assert_non_null(es->len);
    assert_int_equal(e->index, es->count);
    es->bytes[es->count] = malloc(e->len);
    assert_non_null(es->bytes[es->count]);
    memcpy(es->bytes[es->count], e->bytes, e->len);
    es->len[es->count] = e->len;
    es->count++;
    return 0;
}

static struct entries collect(const char *dir)
{
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(dir, &ro);
    struct entries es = {0};
    tu_ok(ev_log_scan(log, 0, UINT64_MAX, NULL, collect_visit, &es));
    assert_int_equal(es.count, ev_log_size(log));
    tu_ok(ev_log_close(log));
    return es;
}

static void entries_free(struct entries *es)
{
    for (uint64_t i = 0; i < es->count; i++) {
        free(es->bytes[i]);
    }
    free(es->bytes);
    free(es->len);
    memset(es, 0, sizeof(*es));
}

/* Every entry of dir, by ev_log_entry in a scattered order and by a scan, equals want. */
static void check_entries(const char *dir, const struct entries *want)
{
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(dir, &ro);
    assert_int_equal(ev_log_size(log), want->count);
    for (uint64_t k = 0; k < want->count; k++) {
        uint64_t i = (k * 7919) % want->count; /* jumps between segments */
        struct ev_entry *e = NULL;
        tu_ok(ev_log_entry(log, i, &e));
        assert_int_equal(e->len, want->len[i]);
        assert_memory_equal(e->bytes, want->bytes[i], e->len);
        ev_entry_free(e);
    }
    tu_ok(ev_log_close(log));
    struct entries got = collect(dir);
    assert_int_equal(got.count, want->count);
    for (uint64_t i = 0; i < got.count; i++) {
        assert_int_equal(got.len[i], want->len[i]);
        assert_memory_equal(got.bytes[i], want->bytes[i], got.len[i]);
    }
    entries_free(&got);
}

/* A log of several small segments, all closed ones compressed; returns the entries. */
static struct ev_log *open_compressing(const char *dir)
{
    struct ev_open_options o = {
        .segment_bytes = SMALL_SEGMENT, .compression = EV_COMPRESSION_ZSTD, .compression_level = 3};
    return tu_open(dir, &o);
}

static void make_compressed_log(struct tu_fixture *f, unsigned n)
{
    tu_create(f->dir, HOUR, f->v);
    struct ev_log *log = open_compressing(f->dir);
    append_varied(log, n, 1);
    tu_ok(ev_log_checkpoint(log));
    tu_ok(evi_log_compress_wait(log));
    tu_ok(ev_log_close(log));
    struct seg_files c = seg_files(f->dir);
    assert_true(c.zst >= 3);
    assert_int_equal(c.plain, 1); /* the last segment stays open for appends */
    assert_int_equal(c.tmp, 0);
}

static void verify_both_ways(const char *dir, const uint8_t *v)
{
    struct ev_verify_options o = {.verification_key = v, .threads = 2};
    struct ev_verify_report rep;
    (void)tu_verify(dir, v);
    int r = ev_verify_dir(dir, &o, &rep);
    if (r != 0) {
        fail_msg("threaded verify: %d %s [%s]", r, ev_last_error(), rep.detail);
    }
}

/* ---- rotation by age -------------------------------------------------------- */

static void test_rotate_by_age(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, HOUR, f->v);

    /* An hour's limit: nothing rotates. */
    struct ev_open_options o = {.segment_max_age_ns = HOUR};
    struct ev_log *log = tu_open(f->dir, &o);
    (void)tu_append_n(log, 5, "young");
    tu_ok(ev_log_checkpoint(log));
    assert_int_equal(tu_segment_count(f->dir), 1);
    tu_ok(ev_log_close(log));

    /* Reopened with 20 ms: the first record (written before) is older at the next append. */
    sleep_ms(30);
    o.segment_max_age_ns = 20 * 1000000ull;
    log = tu_open(f->dir, &o);
    (void)tu_append_n(log, 1, "old");
    assert_int_equal(tu_segment_count(f->dir), 2);
    /* The new segment's age starts at its first record: the next append does not rotate. */
    (void)tu_append_n(log, 1, "next");
    assert_int_equal(tu_segment_count(f->dir), 2);

    /* A quiet log: the checkpoint closes the old segment; an empty one never rotates. */
    sleep_ms(30);
    tu_ok(ev_log_checkpoint(log));
    assert_int_equal(tu_segment_count(f->dir), 3);
    sleep_ms(30);
    tu_ok(ev_log_checkpoint(log));
    tu_ok(ev_log_seal(log));
    assert_int_equal(tu_segment_count(f->dir), 3); /* the seal went into the empty one */
    sleep_ms(30);
    tu_ok(ev_log_seal(log)); /* and closes it once that seal is old */
    assert_int_equal(tu_segment_count(f->dir), 4);
    tu_ok(ev_log_close(log));
    (void)tu_verify(f->dir, f->v);
}

/* ---- reading over compressed segments --------------------------------------- */

static void test_compressed_reads(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, HOUR, f->v);

    /* Written without compression first: the plain log's bytes are the reference. */
    struct ev_open_options plain = {.segment_bytes = SMALL_SEGMENT};
    struct ev_log *log = tu_open(f->dir, &plain);
    append_varied(log, 1500, 2);
    tu_ok(ev_log_close(log));
    struct entries want = collect(f->dir);
    int segments = tu_segment_count(f->dir);
    assert_true(segments >= 4);
    struct ev_verify_report rep = tu_verify(f->dir, f->v);

    /* A reader opened now keeps reading through the compression. */
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *reader = tu_open(f->dir, &ro);

    log = open_compressing(f->dir);
    tu_ok(evi_log_compress_wait(log));
    struct seg_files c = seg_files(f->dir);
    assert_int_equal(c.zst, segments - 1);
    assert_int_equal(c.plain, 1);

    /* The writer reads its own compressed segments (entries, scans, proofs). */
    for (uint64_t i = 0; i < want.count; i += 97) {
        struct ev_entry *e = NULL;
        tu_ok(ev_log_entry(log, i, &e));
        assert_int_equal(e->len, want.len[i]);
        assert_memory_equal(e->bytes, want.bytes[i], e->len);
        ev_entry_free(e);
    }
    uint8_t chain[EV_HASH_BYTES];
    tu_ok(ev_log_chain_hash(log, want.count - 1, chain));
    tu_ok(ev_log_close(log));

    for (uint64_t i = 0; i < want.count; i += 101) {
        struct ev_entry *e = NULL;
        tu_ok(ev_log_entry(reader, i, &e));
        assert_memory_equal(e->bytes, want.bytes[i], e->len);
        ev_entry_free(e);
    }
    tu_ok(ev_log_refresh(reader));
    struct entries seen = {0};
    tu_ok(ev_log_scan(reader, 0, UINT64_MAX, NULL, collect_visit, &seen));
    assert_true(seen.count >= want.count);
    entries_free(&seen);
    tu_ok(ev_log_close(reader));

    check_entries(f->dir, &want);

    /* Proofs over compressed segments. */
    log = tu_open(f->dir, &ro);
    uint64_t n = ev_log_size(log);
    uint8_t root[EV_HASH_BYTES], proof[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t len;
    tu_ok(ev_log_root(log, n, root));
    for (uint64_t i = 0; i < n; i += 211) {
        struct ev_entry *e = NULL;
        tu_ok(ev_log_entry(log, i, &e));
        tu_ok(ev_log_prove_inclusion(log, i, n, proof, &len));
        tu_ok(ev_merkle_verify_inclusion(i, n, e->leaf_hash, (const uint8_t(*)[EV_HASH_BYTES])proof,
                                         len, root));
        ev_entry_free(e);
    }
    uint8_t old_root[EV_HASH_BYTES];
    tu_ok(ev_log_root(log, n / 3, old_root));
    tu_ok(ev_log_prove_consistency(log, n / 3, n, proof, &len));
    tu_ok(ev_merkle_verify_consistency(n / 3, n, old_root, root,
                                       (const uint8_t(*)[EV_HASH_BYTES])proof, len));
    tu_ok(ev_log_close(log));

    /* Then more plain segments after the compressed ones: a mix. */
    log = tu_open(f->dir, &plain);
    append_varied(log, 800, 3);
    tu_ok(ev_log_close(log));
    c = seg_files(f->dir);
    assert_true(c.zst >= 3 && c.plain >= 3);
    rep = tu_verify(f->dir, f->v);
    assert_int_equal(rep.entries, want.count + 800 + rep.epochs_sealed);
    verify_both_ways(f->dir, f->v);
    entries_free(&want);
}

/* ---- crash safety ------------------------------------------------------------ */

static void copy_file(const char *from, const char *to)
{
    size_t len;
    uint8_t *data = tu_read(from, &len);
    struct stat st;
    assert_int_equal(stat(from, &st), 0);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    free(data);
}

/* Copies a log directory (files and segments/). */
static void copy_log(const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    assert_int_equal(mkdir(to, 0750), 0);
    for (int level = 0; level < 2; level++) {
        const char *sub = level == 0 ? "" : "segments";
        char src[PATH_MAX], dst[PATH_MAX];
        tu_path(src, from, sub);
        tu_path(dst, to, sub);
        if (level == 1) {
            assert_int_equal(mkdir(dst, 0750), 0);
        }
        DIR *d = opendir(src);
        struct dirent *de;
        assert_non_null(d);
        while ((de = readdir(d)) != NULL) {
            struct stat st;
            tu_path(a, src, de->d_name);
            if (de->d_name[0] == '.' && (de->d_name[1] == 0 || de->d_name[1] == '.')) {
                continue;
            }
            assert_int_equal(lstat(a, &st), 0);
            if (S_ISREG(st.st_mode)) {
                copy_file(a, tu_path(b, dst, de->d_name));
            }
        }
        (void)closedir(d);
    }
}

static void test_compress_crash_every_step(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX];
    tu_path(pristine, f->root, "pristine");
    tu_create(pristine, HOUR, f->v);
    struct ev_open_options plain = {.segment_bytes = SMALL_SEGMENT};
    struct ev_log *log = tu_open(pristine, &plain);
    append_varied(log, 900, 4);
    tu_ok(ev_log_close(log));
    struct entries want = collect(pristine);
    int segments = tu_segment_count(pristine);
    assert_true(segments >= 3);

    bool finished = false;
    long crashes = 0;
    for (long k = 1; k < 400 && !finished; k++) {
        tu_rm_rf(f->dir);
        copy_log(pristine, f->dir);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct ev_open_options o = {.segment_bytes = SMALL_SEGMENT,
                                        .compression = EV_COMPRESSION_ZSTD};
            struct ev_log *child = NULL;
            evi_io_fail_after(k, EVI_IO_CRASH);
            if (ev_log_open(f->dir, &o, &child) != 0 || evi_log_compress_wait(child) != 0 ||
                ev_log_close(child) != 0) {
                _exit(3);
            }
            _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 0) {
            finished = true;
        } else {
            assert_int_equal(WEXITSTATUS(status), EVI_IO_CRASH_STATUS);
            crashes++;
        }
        /* Whatever step it died at: same entries, and it verifies. */
        check_entries(f->dir, &want);
        (void)tu_verify(f->dir, f->v);
        /* The next writer cleans up and compresses everything closed. */
        log = open_compressing(f->dir);
        tu_ok(evi_log_compress_wait(log));
        tu_ok(ev_log_close(log));
        struct seg_files c = seg_files(f->dir);
        assert_int_equal(c.zst, segments - 1);
        assert_int_equal(c.plain, 1);
        assert_int_equal(c.tmp, 0);
        check_entries(f->dir, &want);
        (void)tu_verify(f->dir, f->v);
    }
    assert_true(finished);
    /* Each closed segment has at least 5 steps (frames, table, fsync, rename+fsync, unlink+fsync).
     */
    assert_true(crashes >= 5 * (segments - 1));
    entries_free(&want);
}

/* A failed write (ENOSPC) during compression: the .seg stays and nothing is half made. */
static void test_compress_enospc(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, HOUR, f->v);
    struct ev_open_options plain = {.segment_bytes = SMALL_SEGMENT};
    struct ev_log *log = tu_open(f->dir, &plain);
    append_varied(log, 600, 5);
    tu_ok(ev_log_close(log));
    struct entries want = collect(f->dir);
    int segments = tu_segment_count(f->dir);

    for (long k = 1; k < 60; k++) {
        log = open_compressing(f->dir);
        evi_io_fail_after(k, ENOSPC);
        int r = evi_log_compress_wait(log);
        evi_io_fail_after(0, 0);
        assert_true(r == 0 || r == -ENOSPC);
        (void)ev_log_close(log); /* may fail with the injected error too */
        struct seg_files c = seg_files(f->dir);
        assert_int_equal(c.tmp, 0);
        /* A failure after the rename leaves both forms of one segment (the .seg wins). */
        assert_true(c.zst + c.plain == segments || c.zst + c.plain == segments + 1);
        assert_true(c.plain >= 1);
        check_entries(f->dir, &want);
        (void)tu_verify(f->dir, f->v);
        if (c.zst == segments - 1) {
            break;
        }
    }
    assert_int_equal(seg_files(f->dir).zst, segments - 1);
    entries_free(&want);
}

/* ---- tampering --------------------------------------------------------------- */

static void segment_path(const char *dir, uint64_t first, bool zst, char out[PATH_MAX])
{
    char name[64];
    (void)snprintf(name, sizeof(name), "segments/%020" PRIu64 ".seg%s", first, zst ? ".zst" : "");
    tu_path(out, dir, name);
}

/* First index of the n-th segment (sorted), from the file names. */
static uint64_t nth_segment(const char *dir, int nth)
{
    char segdir[PATH_MAX];
    struct dirent **names;
    int n = scandir(tu_path(segdir, dir, "segments"), &names, NULL, alphasort);
    uint64_t first = UINT64_MAX;
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && seen++ == nth) {
            first = strtoull(names[i]->d_name, NULL, 10);
        }
        free(names[i]);
    }
    free(names);
    assert_true(first != UINT64_MAX);
    return first;
}

static struct ev_verify_report verify_fails(const char *dir, const uint8_t *v)
{
    struct ev_verify_options o = {.verification_key = v, .threads = 2};
    struct ev_verify_report rep;
    int r = ev_verify_dir(dir, &o, &rep);
    if (r != EV_EVERIFY) {
        fail_msg("verify = %d (%s), expected a failed verification: %s", r, ev_strerror(r),
                 ev_last_error());
    }
    assert_int_not_equal(rep.failure, EV_FAIL_NONE);
    return rep;
}

/* The decompressed bytes of a .seg.zst (the zstd library reads the whole file: frames + table). */
static uint8_t *decompress_file(const char *path, size_t *ret_len)
{
    size_t zlen;
    uint8_t *z = tu_read(path, &zlen);
    size_t cap = 64u << 20;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    size_t n = ZSTD_decompress(out, cap, z, zlen);
    assert_false(ZSTD_isError(n));
    free(z);
    *ret_len = n;
    return out;
}

static void compress_to(const char *path, const uint8_t *data, size_t len)
{
    char tmp[PATH_MAX];
    assert_true(snprintf(tmp, sizeof(tmp), "%s.in", path) < (int)sizeof(tmp));
    tu_write_at(tmp, data, len, 0);
    int in = open(tmp, O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(in >= 0 && out >= 0);
    tu_ok(evi_zseg_compress(in, len, out, 3, NULL, NULL));
    (void)close(in);
    (void)close(out);
    assert_int_equal(unlink(tmp), 0);
}

static void test_tamper_compressed_byte(void **state)
{
    struct tu_fixture *f = *state;
    make_compressed_log(f, 1200);
    uint64_t first = nth_segment(f->dir, 1);
    char path[PATH_MAX];
    segment_path(f->dir, first, true, path);
    uint64_t size = tu_size(path);

    /* A byte inside the compressed stream (not the header, not the seek table). */
    tu_flip(path, size / 2, 0x20);
    struct ev_verify_report rep = verify_fails(f->dir, f->v);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);
    assert_true(rep.has_entry);
    assert_true(rep.entry >= first);
    char name[64];
    (void)snprintf(name, sizeof(name), "%020" PRIu64 ".seg.zst", first);
    assert_non_null(strstr(rep.detail, name));

    /* Readers get EV_ECORRUPT (never a crash, never other bytes). */
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(f->dir, &ro);
    struct ev_entry *e = NULL;
    assert_int_equal(ev_log_entry(log, first + 1, &e), EV_ECORRUPT);
    struct entries es = {0};
    assert_int_equal(ev_log_scan(log, 0, UINT64_MAX, NULL, collect_visit, &es), EV_ECORRUPT);
    entries_free(&es);
    tu_ok(ev_log_close(log));
    tu_flip(path, size / 2, 0x20);
    (void)tu_verify(f->dir, f->v);

    /* The seek table and the cut file: damage naming the segment, before any record. */
    tu_flip(path, size - 12, 0x01);
    rep = verify_fails(f->dir, f->v);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);
    assert_non_null(strstr(rep.detail, name));
    tu_flip(path, size - 12, 0x01);
    assert_int_equal(truncate(path, (off_t)(size - 1)), 0);
    rep = verify_fails(f->dir, f->v);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);
    assert_non_null(strstr(rep.detail, name));
}

/*
 * Decompress, change, recompress: the verifier must see exactly what it sees
 * when the same bytes are changed in a .seg.
 */
static void tamper_both_ways(struct tu_fixture *f, bool fix_crc)
{
    char other[PATH_MAX], zpath[PATH_MAX], ppath[PATH_MAX];
    make_compressed_log(f, 1200);
    tu_path(other, f->root, "plain-copy");
    uint64_t first = nth_segment(f->dir, 1);
    segment_path(f->dir, first, true, zpath);

    size_t len;
    uint8_t *seg = decompress_file(zpath, &len);
    /* The third record of the segment: change a byte of its entry's data. */
    uint64_t off = EVI_SEGMENT_HEADER;
    struct evi_record rec;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(evi_record_decode(seg + off, len - off, &rec, NULL), EVI_RECORD_OK);
        off += rec.size;
    }
    assert_int_equal(evi_record_decode(seg + off, len - off, &rec, NULL), EVI_RECORD_OK);
    uint8_t entry[EV_ENTRY_MAX_BYTES], tag[EV_HASH_BYTES];
    size_t entry_len = rec.entry_len;
    uint32_t epoch = rec.epoch;
    memcpy(entry, rec.entry, entry_len);
    memcpy(tag, rec.tag, EV_HASH_BYTES);
    uint8_t *p = memchr(entry, '7', entry_len);
    if (p == NULL) {
        p = entry + entry_len - 3;
    }
    *p ^= 0x01;
    if (fix_crc) {
        (void)evi_record_encode(epoch, entry, entry_len, tag, seg + off);
    } else {
        seg[off + EVI_RECORD_PREFIX + (size_t)(p - entry)] ^= 0x01;
    }

    /* The same change as a .seg in a copy of the log. */
    copy_log(f->dir, other);
    char ozpath[PATH_MAX];
    segment_path(other, first, true, ozpath);
    segment_path(other, first, false, ppath);
    assert_int_equal(unlink(ozpath), 0);
    tu_write_at(ppath, seg, len, 0);
    struct ev_verify_report plain_rep = verify_fails(other, f->v);

    compress_to(zpath, seg, len);
    struct ev_verify_report z_rep = verify_fails(f->dir, f->v);
    assert_int_equal(z_rep.failure, plain_rep.failure);
    assert_int_equal(z_rep.has_entry, plain_rep.has_entry);
    assert_int_equal(z_rep.entry, plain_rep.entry);
    assert_string_equal(z_rep.detail, plain_rep.detail);
    assert_int_equal(z_rep.entry, first + 2);
    /* With V the changed entry's tag fails first; without a CRC fix, its checksum. */
    assert_int_equal(z_rep.failure, fix_crc ? EV_FAIL_TAG : EV_FAIL_RECORD);
    free(seg);
}

static void test_tamper_recompressed(void **state)
{
    tamper_both_ways(*state, false);
}

static void test_tamper_recompressed_crc_fixed(void **state)
{
    tamper_both_ways(*state, true);
}

/* ---- zstd bombs -------------------------------------------------------------- */

static void put32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Writes a .seg.zst of one frame (compressed from content) under a table claiming table_d. */
static void write_one_frame(const char *path, const uint8_t *content, size_t len, uint32_t frames,
                            uint32_t table_d)
{
    size_t cap = ZSTD_compressBound(len);
    uint8_t *z = malloc(cap + 8 + 8 * (size_t)frames + 9);
    assert_non_null(z);
    size_t c = ZSTD_compress(z, cap, content, len, 1);
    assert_false(ZSTD_isError(c));
    uint8_t *t = z + c;
    put32(t, 0x184D2A5E);
    put32(t + 4, 8 * frames + 9);
    for (uint32_t k = 0; k < frames; k++) {
        put32(t + 8 + 8 * k, k == 0 ? (uint32_t)c : 1);
        put32(t + 12 + 8 * k, table_d);
    }
    put32(t + 8 + 8 * frames, frames);
    t[8 + 8 * frames + 4] = 0;
    put32(t + 8 + 8 * frames + 5, 0x8F92EAB1);
    tu_write(path, z, c + 8 + 8 * (size_t)frames + 9);
    free(z);
}

static void test_zstd_bomb(void **state)
{
    struct tu_fixture *f = *state;
    make_compressed_log(f, 1200);
    uint64_t first = nth_segment(f->dir, 1);
    char path[PATH_MAX];
    segment_path(f->dir, first, true, path);
    size_t len;
    uint8_t *seg = decompress_file(path, &len);

    /* One frame whose header claims 64 MiB more than the segment: refused before decoding. */
    size_t big = len + (64u << 20);
    uint8_t *bomb = calloc(1, big);
    assert_non_null(bomb);
    memcpy(bomb, seg, len);
    write_one_frame(path, bomb, big, 1, (uint32_t)len);
    free(bomb);
    struct ev_verify_report rep = verify_fails(f->dir, f->v);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);
    assert_non_null(strstr(rep.detail, "refused"));
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = NULL;
    assert_int_equal(ev_log_open(f->dir, &ro, &log), EV_EFORMAT);
    assert_non_null(strstr(ev_last_error(), "refused"));

    /* A seek table claiming more frames than any segment may have. */
    write_one_frame(path, seg, len, (uint32_t)EVI_ZSEG_MAX_FRAMES + 1, EVI_ZSEG_CHUNK);
    rep = verify_fails(f->dir, f->v);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);
    assert_non_null(strstr(rep.detail, "out of bounds"));

    /* A frame without a content size (streamed): refused too. */
    {
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        size_t cap = ZSTD_compressBound(len) + 64;
        uint8_t *z = malloc(cap + 64);
        ZSTD_outBuffer out = {z, cap, 0};
        ZSTD_inBuffer in = {seg, len, 0};
        assert_non_null(cctx);
        assert_non_null(z);
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
        assert_int_equal(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end), 0);
        uint8_t *t = z + out.pos;
        put32(t, 0x184D2A5E);
        put32(t + 4, 8 + 9);
        put32(t + 8, (uint32_t)out.pos);
        put32(t + 12, (uint32_t)len);
        put32(t + 16, 1);
        t[20] = 0;
        put32(t + 21, 0x8F92EAB1);
        tu_write(path, z, out.pos + 25);
        ZSTD_freeCCtx(cctx);
        free(z);
    }
    rep = verify_fails(f->dir, f->v);
    assert_int_equal(rep.failure, EV_FAIL_RECORD);

    /* Put the real one back: all is well again. */
    compress_to(path, seg, len);
    (void)tu_verify(f->dir, f->v);
    free(seg);
}

/* A writer whose last segment is compressed (only a damaged directory has one) starts a new one. */
static void test_last_segment_compressed(void **state)
{
    struct tu_fixture *f = *state;
    make_compressed_log(f, 700);
    struct entries want = collect(f->dir);
    struct seg_files c = seg_files(f->dir);
    uint64_t last = nth_segment(f->dir, c.plain + c.zst - 1);
    char ppath[PATH_MAX], zpath[PATH_MAX];
    segment_path(f->dir, last, false, ppath);
    segment_path(f->dir, last, true, zpath);
    size_t len;
    uint8_t *seg = tu_read(ppath, &len);
    compress_to(zpath, seg, len);
    assert_int_equal(unlink(ppath), 0);
    free(seg);
    check_entries(f->dir, &want);

    struct ev_log *log = open_compressing(f->dir);
    (void)tu_append_n(log, 3, "after");
    tu_ok(ev_log_close(log));
    verify_both_ways(f->dir, f->v);
    entries_free(&want);
}

/* A wrong V over compressed segments: the first tag fails, threaded or not (tagcheck.c). */
static void test_wrong_key_first_entry(void **state)
{
    struct tu_fixture *f = *state;
    struct ev_open_options o = {
        .segment_bytes = SMALL_SEGMENT, .sync = EV_SYNC_NEVER, .compression = EV_COMPRESSION_ZSTD};
    tu_create(f->dir, HOUR, f->v);
    struct ev_log *log = tu_open(f->dir, &o);
    append_varied(log, 9000, 6); /* more than two batches of the verifier and of tagcheck */
    tu_ok(evi_log_compress_wait(log));
    tu_ok(ev_log_close(log));
    verify_both_ways(f->dir, f->v);
    uint8_t wrong[EV_VERIFICATION_KEY_BYTES];
    memcpy(wrong, f->v, sizeof(wrong));
    wrong[0] ^= 1;
    for (int threads = 1; threads <= 2; threads++) {
        struct ev_verify_options vo = {.verification_key = wrong, .threads = threads};
        struct ev_verify_report rep;
        assert_int_equal(ev_verify_dir(f->dir, &vo, &rep), EV_EVERIFY);
        assert_int_equal(rep.failure, EV_FAIL_TAG);
        assert_int_equal(rep.entry, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotate_by_age, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_compressed_reads, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_compress_crash_every_step, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_compress_enospc, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_compressed_byte, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_recompressed, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_recompressed_crc_fixed, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_zstd_bomb, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_last_segment_compressed, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_first_entry, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
