/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention (include/evident/retention.h, docs/FORMAT.md §3.2):
 *
 *   - max_bytes and max_age expire the oldest closed segments, never the last
 *     one; a dry run changes nothing;
 *   - after pruning, every checkpoint ever signed still verifies (with V:
 *     tags, seals and chain across the pruned range too), the report names the
 *     pruned range exactly, pruned entries read as EV_EPRUNED, kept ones read
 *     as before, seals in a pruned segment stay readable, inclusion and
 *     consistency proofs still verify against the checkpoints, and recovery
 *     rebuilds the derived files from the pruned forms;
 *   - tampering is found: a pruned form no retention entry accounts for, a
 *     changed leaf hash or epoch, a removed pruned form;
 *   - a crash at every I/O step, or ENOSPC at any of them, leaves a log that
 *     verifies, whose kept entries read back, and that the next prune
 *     finishes.
 */
#include <sys/wait.h>

#include "testutil.h"

#include <evident/config.h>
#include <evident/merkle.h>
#include <evident/retention.h>

#include "crypto.h"
#include "entry.h"
#include "lifecycle/prune.h"
#include "log-internal.h"
#include "record.h"
#include "store.h"
#include "tamperutil.h"

#define SMALL_SEGMENT 65611u /* the smallest segment_bytes: one largest record */
#define HOUR (3600ull * 1000000000ull)

static const struct ev_open_options small = {.segment_bytes = SMALL_SEGMENT};

/* Appends n events of about 300 bytes each. */
static void append_events(struct ev_log *log, unsigned n, unsigned salt)
{
    for (unsigned i = 0; i < n; i++) {
        char data[512];
        struct ev_event ev = {.type = "code_execution", .severity = EV_SEV_INFO, .data_json = data};
        (void)snprintf(data, sizeof(data),
                       "{\"argv\":\"python3 -m pytest -q tests/test_%u_%u.py\",\"exit_code\":%u,"
                       "\"stdout\":\"%0200u\"}",
                       salt, i, i % 3, i);
        tu_ok(ev_log_append(log, &ev, NULL));
    }
}

/* A log of several small segments, closed, with V in v. Returns its size. */
static uint64_t make_log(const char *dir, uint8_t *v, unsigned events)
{
    tu_create(dir, HOUR, v);
    struct ev_log *log = tu_open(dir, &small);
    append_events(log, events, 1);
    tu_ok(ev_log_checkpoint(log));
    uint64_t n = ev_log_size(log);
    tu_ok(ev_log_close(log));
    assert_true(tu_segment_count(dir) >= 4);
    return n;
}

/* Counts files in segments/ by suffix. */
struct seg_files {
    int plain, zst, pruned, tmp;
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
        if (strstr(de->d_name, ".tmp") != NULL) {
            c.tmp++;
        } else if (n == 24 && strcmp(de->d_name + 20, ".seg") == 0) {
            c.plain++;
        } else if (n == 28 && strcmp(de->d_name + 20, ".seg.zst") == 0) {
            c.zst++;
        } else if (n == 27 && strcmp(de->d_name + 20, ".pruned") == 0) {
            c.pruned++;
        }
    }
    (void)closedir(d);
    return c;
}

/* Every entry's bytes (NULL where pruned), to compare across operations. */
struct entries {
    char **bytes;
    uint64_t count;
};

static struct entries collect(const char *dir)
{
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(dir, &ro);
    struct entries e = {.count = ev_log_size(log)};
    e.bytes = calloc(e.count, sizeof(*e.bytes));
    assert_non_null(e.bytes);
    for (uint64_t i = 0; i < e.count; i++) {
        struct ev_entry *entry = NULL;
        int r = ev_log_entry(log, i, &entry);
        if (r == EV_EPRUNED) {
            continue;
        }
        tu_ok(r);
        e.bytes[i] = strdup(entry->bytes);
        ev_entry_free(entry);
    }
    tu_ok(ev_log_close(log));
    return e;
}

static void entries_free(struct entries *e)
{
    for (uint64_t i = 0; i < e->count; i++) {
        free(e->bytes[i]);
    }
    free(e->bytes);
}

/* Entries of before that after still has are the same bytes; after may have more. */
static void assert_kept(const struct entries *before, const struct entries *after)
{
    assert_true(after->count >= before->count);
    for (uint64_t i = 0; i < before->count; i++) {
        if (after->bytes[i] != NULL) {
            assert_non_null(before->bytes[i]);
            assert_string_equal(after->bytes[i], before->bytes[i]);
        }
    }
}

static struct ev_prune_report prune(const char *dir, const struct ev_retention *policy,
                                    unsigned flags)
{
    struct ev_log *log = tu_open(dir, &small);
    struct ev_prune_report rep;
    tu_ok(ev_log_prune(log, policy, flags, &rep));
    tu_ok(ev_log_close(log));
    return rep;
}

/* ---- what goes, and what a pruned log still does ---------------------------- */

static void test_prune_by_bytes(void **state)
{
    struct tu_fixture *f = *state;
    uint64_t n = make_log(f->dir, f->v, 900);
    struct entries before = collect(f->dir);
    int segments = tu_segment_count(f->dir);

    /* Keep about half: the oldest closed segments go, never the last. */
    struct ev_retention policy = {.max_bytes = (uint64_t)segments * SMALL_SEGMENT / 2};
    struct ev_prune_report rep = prune(f->dir, &policy, 0);
    assert_true(rep.count >= 1 && rep.count < (size_t)segments);
    assert_int_equal(rep.segments[0].first, 0);
    for (size_t k = 0; k < rep.count; k++) {
        assert_string_equal(rep.segments[k].reason, "max_bytes");
        assert_true(rep.segments[k].pruned_bytes > 0);
        assert_true(rep.segments[k].pruned_bytes < rep.segments[k].bytes / 3);
        if (k > 0) {
            assert_int_equal(rep.segments[k].first, rep.segments[k - 1].last + 1);
        }
    }
    uint64_t last = rep.segments[rep.count - 1].last;
    assert_int_equal(rep.entries, last + 1);
    /* The retention entry, then the seal that closes its epoch. */
    assert_int_equal(rep.retention_index, n);

    struct seg_files c = seg_files(f->dir);
    assert_int_equal(c.pruned, (int)rep.count);
    /* The whole ones left: the last, and one more if the retention entry and its
     * seal did not fit in it (they are appended like any entry, and may rotate). */
    assert_true(c.plain + c.zst == segments - (int)rep.count ||
                c.plain + c.zst == segments - (int)rep.count + 1);
    assert_int_equal(c.tmp, 0);

    /* Verification: everything, with V, and the pruned range said exactly. */
    struct ev_verify_report vr = tu_verify(f->dir, f->v);
    assert_int_equal(vr.pruned_entries, last + 1);
    assert_int_equal(vr.pruned_segments, rep.count);
    assert_int_equal(vr.pruned_first, 0);
    assert_int_equal(vr.pruned_last, last);
    assert_int_equal(vr.retention_entries, 1);
    assert_int_equal(vr.entries, n + 2);
    vr = tu_verify(f->dir, NULL);
    assert_int_equal(vr.pruned_entries, last + 1);

    /* Reading: pruned entries say so, kept ones are unchanged. */
    struct entries after = collect(f->dir);
    for (uint64_t i = 0; i <= last; i++) {
        assert_null(after.bytes[i]);
    }
    for (uint64_t i = last + 1; i < n; i++) {
        assert_string_equal(after.bytes[i], before.bytes[i]);
    }
    assert_non_null(strstr(after.bytes[n], "\"type\":\"retention\""));
    assert_non_null(strstr(after.bytes[n], "\"first\":0,"));
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(f->dir, &ro);
    struct ev_entry *e = NULL;
    assert_int_equal(ev_log_entry(log, 3, &e), EV_EPRUNED);
    assert_non_null(strstr(ev_last_error(), "00000000000000000000.pruned"));

    /* Proofs: a pruned entry and a kept one, in the newest tree and an old one. */
    char *note = NULL;
    size_t note_len;
    tu_ok(ev_log_latest_checkpoint(log, &note, &note_len));
    uint8_t root[EV_HASH_BYTES], old_root[EV_HASH_BYTES], proof[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t plen;
    uint64_t size = ev_log_size(log);
    tu_ok(ev_log_root(log, size, root));
    tu_ok(ev_log_root(log, n, old_root));
    uint64_t probes[] = {0, last / 2, last, last + 1, n - 1};
    for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
        uint8_t leaf[EV_HASH_BYTES];
        ev_leaf_hash(before.bytes[probes[k]], strlen(before.bytes[probes[k]]), leaf);
        tu_ok(ev_log_prove_inclusion(log, probes[k], size, proof, &plen));
        tu_ok(ev_merkle_verify_inclusion(probes[k], size, leaf, (const uint8_t(*)[32])proof, plen,
                                         root));
        tu_ok(ev_log_prove_inclusion(log, probes[k], n, proof, &plen));
        tu_ok(ev_merkle_verify_inclusion(probes[k], n, leaf, (const uint8_t(*)[32])proof, plen,
                                         old_root));
    }
    tu_ok(ev_log_prove_consistency(log, n / 3, size, proof, &plen));
    uint8_t third_root[EV_HASH_BYTES];
    tu_ok(ev_log_root(log, n / 3, third_root));
    tu_ok(ev_merkle_verify_consistency(n / 3, size, third_root, root, (const uint8_t(*)[32])proof,
                                       plen));
    /* A scan passes over what is gone. */
    uint8_t chain[EV_HASH_BYTES];
    tu_ok(ev_log_chain_hash(log, size - 1, chain));
    free(note);
    tu_ok(ev_log_close(log));

    /* Recovery rebuilds the derived files from the pruned forms. */
    char path[PATH_MAX];
    assert_int_equal(unlink(tu_path(path, f->dir, "hashes")), 0);
    assert_int_equal(unlink(tu_path(path, f->dir, "index")), 0);
    log = tu_open(f->dir, &small);
    uint8_t again[EV_HASH_BYTES];
    tu_ok(ev_log_root(log, size, again));
    assert_memory_equal(again, root, EV_HASH_BYTES);
    append_events(log, 5, 2);
    tu_ok(ev_log_close(log));
    (void)tu_verify(f->dir, f->v);

    /*
     * A second prune goes on from where the first stopped (the appends may have
     * closed another segment), never over what is already pruned.
     */
    ev_prune_report_free(&rep);
    rep = prune(f->dir, &policy, 0);
    assert_true(rep.count == 0 || rep.segments[0].first == last + 1);
    ev_prune_report_free(&rep);
    (void)tu_verify(f->dir, f->v);
    entries_free(&before);
    entries_free(&after);
}

static void test_prune_by_age_and_dry_run(void **state)
{
    struct tu_fixture *f = *state;
    uint64_t n = make_log(f->dir, f->v, 600);
    int segments = tu_segment_count(f->dir);
    struct ev_retention young = {.max_age_ns = 24 * HOUR};

    /* Nothing is a day old yet. */
    struct ev_prune_report rep = prune(f->dir, &young, 0);
    assert_int_equal(rep.count, 0);
    ev_prune_report_free(&rep);

    /* Two days later every closed segment expired; a dry run says so and changes nothing. */
    struct ev_retention later = {.max_age_ns = 24 * HOUR, .now_ns = evi_now_ns() + 48 * HOUR};
    struct tu_snap snap = tu_snapshot(f->dir, false);
    rep = prune(f->dir, &later, EV_PRUNE_DRY_RUN);
    assert_true(rep.dry_run);
    assert_int_equal(rep.count, (size_t)segments - 1);
    assert_string_equal(rep.segments[0].reason, "max_age");
    assert_int_equal(rep.segments[0].pruned_bytes, 0);
    struct tu_snap after_dry = tu_snapshot(f->dir, false);
    tu_snap_assert_equal(&snap, &after_dry);
    tu_snap_free(&snap);
    tu_snap_free(&after_dry);
    uint64_t last = rep.segments[rep.count - 1].last;
    ev_prune_report_free(&rep);

    rep = prune(f->dir, &later, 0);
    assert_int_equal(rep.count, (size_t)segments - 1);
    assert_int_equal(rep.segments[rep.count - 1].last, last);
    assert_int_equal(seg_files(f->dir).pruned, segments - 1);
    struct ev_verify_report vr = tu_verify(f->dir, f->v);
    assert_int_equal(vr.pruned_last, last);
    assert_int_equal(vr.entries, n + 2);
    ev_prune_report_free(&rep);
}

/* Early pruning when the disk runs low: never younger than min_age. */
static void test_prune_for_disk_space(void **state)
{
    struct tu_fixture *f = *state;
    make_log(f->dir, f->v, 600);
    int segments = tu_segment_count(f->dir);
    /* No file system has this much free: the disk is "low" for this policy. */
    struct ev_retention young = {.want_free_bytes = UINT64_MAX / 2, .min_age_ns = 24 * HOUR};
    struct ev_prune_report rep = prune(f->dir, &young, 0);
    assert_int_equal(rep.count, 0); /* nothing is a day old: min_age protects it all */
    ev_prune_report_free(&rep);

    struct ev_retention low = {.want_free_bytes = UINT64_MAX / 2,
                               .min_age_ns = 24 * HOUR,
                               .now_ns = evi_now_ns() + 25 * HOUR};
    rep = prune(f->dir, &low, 0);
    assert_int_equal(rep.count, (size_t)segments - 1);
    assert_string_equal(rep.segments[0].reason, "disk_space");
    ev_prune_report_free(&rep);
    struct entries after = collect(f->dir);
    assert_non_null(strstr(after.bytes[after.count - 2], "\"min_age_s\":86400,"));
    assert_non_null(strstr(after.bytes[after.count - 2], "\"reason\":\"disk_space\""));
    entries_free(&after);
    (void)tu_verify(f->dir, f->v);

    /* Enough free space (one byte is wanted): no early pruning, even past min_age. */
    char other[PATH_MAX];
    tu_path(other, f->root, "other");
    make_log(other, NULL, 600);
    struct ev_retention plenty = {.want_free_bytes = 1, .now_ns = evi_now_ns() + 25 * HOUR};
    rep = prune(other, &plenty, 0);
    assert_int_equal(rep.count, 0);
    ev_prune_report_free(&rep);
}

/* Seals inside a pruned segment stay whole: the epochs stay checkable and readable. */
/* (index, ts) of every entry a scan passes. */
struct seen {
    uint64_t index[4096];
    int64_t ts[4096];
    size_t n;
};

static int seen_visit(void *ctx, const struct ev_entry *e)
{
    struct seen *s = ctx;
    const char *at = strstr(e->bytes, "\"ts\":\"");
    char text[31];
    assert_non_null(at);
    assert_true(s->n < 4096);
    memcpy(text, at + 6, 30);
    text[30] = '\0';
    s->index[s->n] = e->index;
    tu_ok(ev_time_parse(text, &s->ts[s->n]));
    s->n++;
    return 0;
}

/* A time window over a pruned stretch gives what filtering every readable entry gives. */
static void check_windows_over_pruned(struct ev_log *log)
{
    static struct seen all, got;
    all.n = 0;
    tu_ok(ev_log_scan(log, 0, ev_log_size(log), NULL, seen_visit, &all));
    assert_true(all.n > 2);
    for (size_t w = 0; w < all.n; w += all.n / 7 + 1) {
        struct ev_filter flt = {.max_severity = -1, .since_ns = all.ts[w]};
        got.n = 0;
        tu_ok(ev_log_scan(log, 0, ev_log_size(log), &flt, seen_visit, &got));
        size_t k = 0;
        for (size_t i = 0; i < all.n; i++) {
            if (all.ts[i] >= flt.since_ns) {
                assert_true(k < got.n);
                assert_int_equal(got.index[k++], all.index[i]);
            }
        }
        assert_int_equal(got.n, k);
    }
}

static void test_prune_keeps_seals(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, HOUR, f->v);
    struct ev_log *log = tu_open(f->dir, &small);
    uint64_t seals[8];
    for (int k = 0; k < 8; k++) {
        append_events(log, 60, (unsigned)k);
        tu_ok(ev_log_seal(log));
        seals[k] = ev_log_size(log) - 1;
    }
    tu_ok(ev_log_close(log));
    struct ev_retention policy = {.max_bytes = 2 * SMALL_SEGMENT};
    struct ev_prune_report rep = prune(f->dir, &policy, 0);
    uint64_t last = rep.segments[rep.count - 1].last;
    assert_true(last > seals[1]);
    struct ev_verify_report vr = tu_verify(f->dir, f->v);
    assert_int_equal(vr.epochs_sealed, 9); /* 8, and the one the retention entry closed */
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    log = tu_open(f->dir, &ro);
    for (int k = 0; k < 8 && seals[k] <= last; k++) {
        struct ev_entry *e = NULL;
        tu_ok(ev_log_entry(log, seals[k], &e));
        assert_non_null(strstr(e->bytes, "\"type\":\"seal\""));
        ev_entry_free(e);
    }
    struct ev_entry *e = NULL;
    assert_int_equal(ev_log_entry(log, seals[0] - 1, &e), EV_EPRUNED);
    check_windows_over_pruned(log);
    tu_ok(ev_log_close(log));
    ev_prune_report_free(&rep);
}

/*
 * A time window at the end of a mostly pruned log finds its stretch among the
 * whole segments: it never reads the first whole entry, which a scan of every
 * entry does (here it is damaged, so that the difference shows without timing).
 */
static void test_window_skips_pruned_stretch(void **state)
{
    struct tu_fixture *f = *state;
    tu_create(f->dir, HOUR, f->v);
    struct ev_log *log = tu_open(f->dir, &small);
    for (int k = 0; k < 8; k++) {
        append_events(log, 60, (unsigned)k);
        tu_ok(ev_log_seal(log));
    }
    tu_ok(ev_log_close(log));
    struct ev_retention policy = {.max_bytes = 2 * SMALL_SEGMENT};
    struct ev_prune_report rep = prune(f->dir, &policy, 0);
    uint64_t whole = rep.segments[rep.count - 1].last + 1;
    ev_prune_report_free(&rep);
    char path[PATH_MAX + 64];
    (void)snprintf(path, sizeof(path), "%s/segments/%020" PRIu64 ".seg", f->dir, whole);
    tu_flip(path, EVI_SEGMENT_HEADER + EVI_RECORD_PREFIX + 5, 0x01);

    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    log = tu_open(f->dir, &ro);
    uint64_t n = ev_log_size(log);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(log, n - 1, &e));
    const char *at = strstr(e->bytes, "\"ts\":\"");
    char text[31];
    memcpy(text, at + 6, 30);
    text[30] = '\0';
    ev_entry_free(e);
    struct ev_filter late = {.max_severity = -1};
    tu_ok(ev_time_parse(text, &late.since_ns));
    static struct seen got;
    got.n = 0;
    tu_ok(ev_log_scan(log, 0, n, &late, seen_visit, &got));
    assert_true(got.n >= 1);
    assert_int_equal(got.index[got.n - 1], n - 1);
    got.n = 0;
    assert_int_equal(ev_log_scan(log, 0, n, NULL, seen_visit, &got), EV_ECORRUPT);
    tu_ok(ev_log_close(log));
}

/* Compressed segments prune the same way; the compressor never resurrects them. */
static void test_prune_compressed(void **state)
{
    struct tu_fixture *f = *state;
    make_log(f->dir, f->v, 900);
    struct ev_open_options z = {.segment_bytes = SMALL_SEGMENT, .compression = EV_COMPRESSION_ZSTD};
    struct ev_log *log = tu_open(f->dir, &z);
    tu_ok(evi_log_compress_wait(log));
    struct seg_files before = seg_files(f->dir);
    assert_true(before.zst >= 3);
    struct ev_retention policy = {.max_bytes = 1};
    struct ev_prune_report rep;
    tu_ok(ev_log_prune(log, &policy, 0, &rep));
    assert_int_equal(rep.count, (size_t)before.zst); /* every closed one, all compressed */
    assert_non_null(strstr(rep.segments[0].file, ".seg.zst"));
    append_events(log, 300, 9); /* more rotations: the compressor runs again */
    tu_ok(evi_log_compress_wait(log));
    tu_ok(ev_log_close(log));
    struct seg_files c = seg_files(f->dir);
    assert_int_equal(c.pruned, (int)rep.count);
    assert_int_equal(c.tmp, 0);
    (void)tu_verify(f->dir, f->v);
    ev_prune_report_free(&rep);
}

/* A reader opened before the pruning keeps reading, and sees it after a refresh. */
static void test_reader_during_prune(void **state)
{
    struct tu_fixture *f = *state;
    make_log(f->dir, f->v, 600);
    struct entries before = collect(f->dir);
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *reader = tu_open(f->dir, &ro);
    struct ev_retention policy = {.max_bytes = 1};
    struct ev_prune_report rep = prune(f->dir, &policy, 0);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(reader, 1, &e)); /* the unlinked segment is still open */
    assert_string_equal(e->bytes, before.bytes[1]);
    ev_entry_free(e);
    tu_ok(ev_log_refresh(reader));
    assert_int_equal(ev_log_entry(reader, 1, &e), EV_EPRUNED);
    tu_ok(ev_log_close(reader));
    ev_prune_report_free(&rep);
    entries_free(&before);
}

/* ---- tampering ----------------------------------------------------------------- */

static void copy_dir(const char *from, const char *to)
{
    char cmd[4 * PATH_MAX];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    assert_int_equal(system(cmd), 0);
}

static void pruned_path(const char *dir, uint64_t first, char out[PATH_MAX])
{
    char name[64];
    (void)snprintf(name, sizeof(name), "segments/%020" PRIu64 ".pruned", first);
    tu_path(out, dir, name);
}

static void expect_failure(const char *dir, const uint8_t *v, enum ev_failure kind, uint64_t entry)
{
    struct ev_verify_options o = {.verification_key = v, .threads = 1};
    struct ev_verify_report rep;
    assert_int_equal(ev_verify_dir(dir, &o, &rep), EV_EVERIFY);
    if (rep.failure != kind || rep.entry != entry) {
        fail_msg("expected %s at %" PRIu64 ", got %s at %" PRIu64 ": %s", ev_failure_name(kind),
                 entry, ev_failure_name(rep.failure), rep.entry, rep.detail);
    }
}

/*
 * Rewrites len bytes at off of the pruned run that starts the pruned form at
 * path (off 8 is its epoch, 12 + 32 k its k-th leaf hash), CRC fixed.
 */
static void rewrite_first_run(const char *path, size_t off, const void *bytes, size_t len)
{
    size_t size;
    uint8_t *data = tu_read(path, &size);
    uint8_t *rec = data + EVI_SEGMENT_HEADER;
    uint32_t head =
        (uint32_t)rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 | (uint32_t)rec[3] << 24;
    assert_true(head & EVI_PRUNED_FLAG);
    size_t n = head & ~EVI_PRUNED_FLAG;
    assert_true(off + len <= EVI_PRUNED_RUN_BYTES(n));
    memcpy(rec + off, bytes, len);
    uint32_t crc = evi_crc32c(evi_crc32c(0, rec, 4), rec + 8, EVI_PRUNED_RUN_BYTES(n) - 8);
    for (int i = 0; i < 4; i++) {
        rec[4 + i] = (uint8_t)(crc >> (8 * i));
    }
    tu_write(path, data, size);
    free(data);
}

/* Segment 0 pruned by retention; segment 1 pruned by hand, with correct hashes. */
static void test_tamper_unaccounted(void **state)
{
    struct tu_fixture *f = *state;
    make_log(f->dir, f->v, 900);
    struct ev_log *log = tu_open(f->dir, &small);
    uint64_t end0 = log->segments[1].first_index, end1 = log->segments[2].first_index;
    struct ev_retention policy = {.max_bytes = (uint64_t)tu_segment_count(f->dir) * SMALL_SEGMENT};
    /* exactly one segment: the oldest while over the limit */
    policy.max_bytes = log->segments[0].bytes + log->segments[1].bytes + log->segments[2].bytes;
    for (size_t i = 3; i < log->segment_count; i++) {
        policy.max_bytes += log->segments[i].bytes;
    }
    policy.max_bytes -= 1;
    struct ev_prune_report rep;
    tu_ok(ev_log_prune(log, &policy, 0, &rep));
    assert_int_equal(rep.count, 1);
    assert_int_equal(rep.segments[0].last, end0 - 1);
    ev_prune_report_free(&rep);

    /* An attacker's pruning: the pruned form is right, only no retention entry names it. */
    struct evi_pruned_summary sum;
    struct {
        uint8_t *data;
        size_t len, cap;
    } body = {0};
    tu_ok(evi_pruned_summary(&log->segments[1], end1, &sum, &body));
    tu_ok(evi_pruned_write(log->dirfd, end0, body.data, body.len));
    tu_ok(evi_pruned_commit(log->dirfd, end0));
    free(body.data);
    tu_ok(ev_log_close(log));
    expect_failure(f->dir, f->v, EV_FAIL_PRUNED, end0);
    expect_failure(f->dir, NULL, EV_FAIL_PRUNED, end0);
}

static void test_tamper_pruned_leaf_epoch_and_removal(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX], path[PATH_MAX], name[64];
    tu_path(pristine, f->root, "pristine");
    uint64_t n = make_log(pristine, f->v, 900);
    struct ev_retention policy = {.max_bytes = 1};
    struct ev_prune_report rep = prune(pristine, &policy, 0);
    uint64_t first1 = rep.segments[1].first;
    uint64_t kept = rep.segments[rep.count - 1].last + 1; /* the first whole record */
    ev_prune_report_free(&rep);

    /*
     * A changed leaf hash: the chain after it, so with V the tag of the first
     * record that has one; without V the root of the first checkpoint over it.
     */
    copy_dir(pristine, f->dir);
    pruned_path(f->dir, first1, path);
    uint8_t junk[32];
    memset(junk, 0x5a, sizeof(junk));
    rewrite_first_run(path, EVI_RECORD_PREFIX + 32 * 7, junk, sizeof(junk));
    expect_failure(f->dir, f->v, EV_FAIL_TAG, kept);
    expect_failure(f->dir, NULL, EV_FAIL_ROOT, n - 1);

    /* A changed epoch: epoch 0 was never sealed before it. */
    copy_dir(pristine, f->dir);
    uint8_t epoch[4] = {1, 0, 0, 0};
    rewrite_first_run(path, 8, epoch, sizeof(epoch));
    expect_failure(f->dir, f->v, EV_FAIL_MISSING_SEAL, first1);

    /* A damaged pruned run (CRC not fixed): record damage at its first entry. */
    copy_dir(pristine, f->dir);
    tu_flip(path, EVI_SEGMENT_HEADER + EVI_RECORD_PREFIX + 32 * 3 + 5, 0x01);
    expect_failure(f->dir, f->v, EV_FAIL_RECORD, first1);

    /* The first pruned form removed: the log no longer starts at entry 0. */
    copy_dir(pristine, f->dir);
    pruned_path(f->dir, 0, path);
    assert_int_equal(unlink(path), 0);
    expect_failure(f->dir, f->v, EV_FAIL_SEQUENCE, 0);

    /* A pruned form in a whole segment's place under the whole segment's name. */
    copy_dir(pristine, f->dir);
    char seg[PATH_MAX];
    (void)snprintf(name, sizeof(name), "segments/%020" PRIu64 ".seg", first1);
    tu_path(seg, f->dir, name);
    pruned_path(f->dir, first1, path);
    assert_int_equal(rename(path, seg), 0);
    struct ev_verify_options o = {.verification_key = f->v, .threads = 1};
    struct ev_verify_report vr;
    assert_int_equal(ev_verify_dir(f->dir, &o, &vr), EV_EVERIFY);
    assert_int_equal(vr.failure, EV_FAIL_RECORD);
}

/*
 * A retention record anyone could append (no key): taken from a real pruning of
 * the same log and put after the last checkpoint of a copy whose first segment
 * was replaced by its pruned form. Only a claim under a signed checkpoint counts.
 */
static void test_tamper_unsigned_claim(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX], pruned[PATH_MAX], path[PATH_MAX], from[PATH_MAX];
    tu_path(pristine, f->root, "pristine");
    tu_path(pruned, f->root, "pruned");
    uint64_t n = make_log(pristine, f->v, 900);
    copy_dir(pristine, pruned);
    struct ev_retention policy = {.max_bytes = 1};
    struct ev_prune_report rep = prune(pruned, &policy, 0);
    assert_int_equal(rep.retention_index, n);
    ev_prune_report_free(&rep);

    /* The copy: segment 0 in its (correct) pruned form, the retention record appended. */
    copy_dir(pristine, f->dir);
    tu_path(from, pruned, "segments/00000000000000000000.pruned");
    tu_path(path, f->dir, "segments/00000000000000000000.pruned");
    size_t len;
    uint8_t *bytes = tu_read(from, &len);
    tu_write(path, bytes, len);
    free(bytes);
    tu_path(path, f->dir, "segments/00000000000000000000.seg");
    assert_int_equal(unlink(path), 0);
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(pruned, &ro);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(log, n, &e));
    tu_ok(ev_log_close(log));
    uint8_t tag[32] = {0}, rec[EVI_RECORD_MAX];
    size_t size = evi_record_encode(e->epoch, e->bytes, e->len, tag, rec);
    ev_entry_free(e);
    tu_last_segment(f->dir, path);
    tu_write_at(path, rec, size, (off_t)tu_size(path));

    expect_failure(f->dir, NULL, EV_FAIL_PRUNED, 0);
    struct ev_verify_options o = {.threads = 1};
    struct ev_verify_report vr;
    assert_int_equal(ev_verify_dir(f->dir, &o, &vr), EV_EVERIFY);
    assert_non_null(strstr(vr.detail, "covered by a signed checkpoint"));
    /* The same claim under the writer's checkpoint (the real pruning) is accepted. */
    (void)tu_verify(pruned, NULL);
}

/*
 * ts never decreases (FORMAT.md §5), across pruned entries too: a writer
 * holding every key (tl_dir_forge: seals, tags, checkpoints redone) writes the
 * first entry after a pruned stretch with a ts before the last entry still
 * there (a kept seal). The pruned entries' times are gone, so the rule spans
 * them: equal to that seal passes, even though the pruned entries between were
 * later. The log starts with pruned entries: its first entry with a ts has none
 * to follow. The same failure from a compressed segment (§3.1).
 */
static void test_ts_backwards_across_pruned(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX], text[EVI_TS_LEN + 1];
    struct tl_dir d;
    tu_path(pristine, f->root, "pristine");
    tu_create(pristine, HOUR, f->v);
    struct ev_log *log = tu_open(pristine, &small);
    for (int k = 0; k < 8; k++) {
        append_events(log, 60, (unsigned)k);
        tu_ok(ev_log_seal(log));
    }
    tu_ok(ev_log_close(log));
    struct ev_retention policy = {.max_bytes = 2 * SMALL_SEGMENT};
    struct ev_prune_report rep = prune(pristine, &policy, 0);
    ev_prune_report_free(&rep);

    tl_dir_read(pristine, &d);
    assert_null(d.items[0].entry); /* the log starts after pruning */
    size_t gap = 0, kept = 0;
    for (size_t i = 1; i < d.count && gap == 0; i++) {
        if (d.items[i].entry != NULL && d.items[i - 1].entry == NULL) {
            for (size_t p = i - 1; p-- > 0 && gap == 0;) {
                if (d.items[p].entry != NULL) {
                    gap = i;
                    kept = p;
                }
            }
        }
    }
    assert_true(gap > kept + 1); /* pruned entries between */
    struct tl_record kept_rec = tl_dir_record(&d, kept);
    assert_true(tl_is_seal(&kept_rec));
    int64_t kept_ts = tl_entry_ts(kept_rec.entry, kept_rec.len, text);
    free(kept_rec.entry);
    tl_dir_free(&d);

    /* Equal to the kept seal: passes. */
    copy_dir(pristine, f->dir);
    tl_dir_read(f->dir, &d);
    struct tl_record r = tl_dir_record(&d, gap);
    tl_entry_set_ts(&r, kept_ts);
    tl_dir_set(&d, gap, &r);
    tl_dir_forge(f->dir, &d, TU_ORIGIN, f->v);
    tl_dir_free(&d);
    (void)tu_verify(f->dir, f->v);
    (void)tu_verify(f->dir, NULL);

    /* One nanosecond before it: fails at that entry, naming the seal. */
    copy_dir(pristine, f->dir);
    tl_dir_read(f->dir, &d);
    r = tl_dir_record(&d, gap);
    tl_entry_set_ts(&r, kept_ts - 1);
    tl_dir_set(&d, gap, &r);
    tl_dir_forge(f->dir, &d, TU_ORIGIN, f->v);
    tl_dir_free(&d);
    expect_failure(f->dir, f->v, EV_FAIL_TS_BACKWARDS, gap);
    expect_failure(f->dir, NULL, EV_FAIL_TS_BACKWARDS, gap);
    struct ev_verify_options o = {.threads = 1};
    struct ev_verify_report vr;
    char want[64];
    assert_int_equal(ev_verify_dir(f->dir, &o, &vr), EV_EVERIFY);
    (void)snprintf(want, sizeof(want), "is before entry %zu's ts", kept);
    assert_non_null(strstr(vr.detail, want));

    /*
     * A compressed segment: the first whole one (not the last) starts with an
     * entry before the entry before it; then compressed as the writer would.
     */
    copy_dir(pristine, f->dir);
    tl_dir_read(f->dir, &d);
    size_t file = 0;
    while (strstr(d.names[file], ".pruned") != NULL) {
        file++;
    }
    assert_true(file + 1 < d.file_count);
    size_t first = 0, prev = 0;
    while (d.items[first].file != file) {
        first++;
    }
    for (prev = first; prev-- > 0 && d.items[prev].entry == NULL;) {
    }
    assert_non_null(d.items[prev].entry);
    struct tl_record before = tl_dir_record(&d, prev);
    r = tl_dir_record(&d, first);
    tl_entry_set_ts(&r, tl_entry_ts(before.entry, before.len, text) - 1);
    free(before.entry);
    tl_dir_set(&d, first, &r);
    tl_dir_forge(f->dir, &d, TU_ORIGIN, f->v);
    tl_dir_free(&d);
    expect_failure(f->dir, f->v, EV_FAIL_TS_BACKWARDS, first);
    char segdir[PATH_MAX];
    int dirfd = open(tu_path(segdir, f->dir, "."), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    struct evi_segment *segs = NULL, z;
    size_t count = 0;
    bool stop = false;
    tu_ok(evi_segments_open(dirfd, true, &segs, &count));
    assert_true(file < count && segs[file].first_index == first && !segs[file].pruned);
    tu_ok(evi_segment_compress(dirfd, &segs[file], 3, &stop, &z));
    evi_segment_release(&z);
    evi_segments_close(segs, count);
    (void)close(dirfd);
    assert_int_equal(seg_files(f->dir).zst, 1);
    expect_failure(f->dir, f->v, EV_FAIL_TS_BACKWARDS, first);
    expect_failure(f->dir, NULL, EV_FAIL_TS_BACKWARDS, first);
}

/* Pruned forms the writer never makes: an empty one, and one as the last segment. */
static void test_tamper_pruned_last_or_empty(void **state)
{
    struct tu_fixture *f = *state;
    char path[PATH_MAX], name[64];
    uint64_t n = make_log(f->dir, f->v, 600);
    struct evi_segment_header h = {.first_index = n, .created_ns = 1, .pruned = true};
    uint8_t hdr[EVI_SEGMENT_HEADER];
    evi_segment_header_encode(&h, hdr);
    (void)snprintf(name, sizeof(name), "segments/%020" PRIu64 ".pruned", n);
    tu_write(tu_path(path, f->dir, name), hdr, sizeof(hdr));
    expect_failure(f->dir, f->v, EV_FAIL_PRUNED, n);
    /* A writer refuses it rather than append beside it (and later lose what it appended). */
    struct ev_log *log = NULL;
    assert_int_equal(ev_log_open(f->dir, &small, &log), EV_ECORRUPT);
    assert_non_null(strstr(ev_last_error(), "pruned form"));
}

/* A crash between the rename and the unlink: the whole form wins, and is pruned again. */
static void test_both_forms_whole_wins(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    tu_path(pristine, f->root, "pristine");
    make_log(pristine, f->v, 600);
    copy_dir(pristine, f->dir);
    struct entries want = collect(pristine);
    struct ev_retention policy = {.max_bytes = 1};
    struct ev_prune_report rep = prune(f->dir, &policy, 0);
    ev_prune_report_free(&rep);
    /* Put the whole first segment back beside its pruned form. */
    tu_path(from, pristine, "segments/00000000000000000000.seg");
    tu_path(to, f->dir, "segments/00000000000000000000.seg");
    size_t len;
    uint8_t *bytes = tu_read(from, &len);
    tu_write(to, bytes, len);
    free(bytes);
    /* Readers read the whole one. */
    struct entries got = collect(f->dir);
    assert_non_null(got.bytes[1]);
    assert_string_equal(got.bytes[1], want.bytes[1]);
    entries_free(&got);
    struct ev_verify_report vr = tu_verify(f->dir, f->v);
    assert_int_equal(vr.retention_entries, 1);
    /* The next writer removes the pruned form; the next pruning redoes it. */
    struct ev_log *log = tu_open(f->dir, &small);
    tu_ok(ev_log_close(log));
    struct seg_files c = seg_files(f->dir);
    assert_true(c.plain >= 2);
    assert_int_equal(access(to, F_OK), 0);
    char gone[PATH_MAX];
    tu_path(gone, f->dir, "segments/00000000000000000000.pruned");
    assert_int_equal(access(gone, F_OK), -1);
    rep = prune(f->dir, &policy, 0);
    assert_true(rep.count >= 1);
    assert_int_equal(rep.segments[0].first, 0);
    ev_prune_report_free(&rep);
    vr = tu_verify(f->dir, f->v);
    assert_int_equal(vr.retention_entries, 2);
    entries_free(&want);
}

/* Limits that cannot be met by pruning more prune nothing more. */
static void test_limits_edges(void **state)
{
    struct tu_fixture *f = *state;
    make_log(f->dir, f->v, 900);
    /* An age beyond the clock's range: nothing is that old (it once wrapped negative). */
    struct ev_retention ancient = {.max_age_ns = UINT64_MAX};
    struct ev_prune_report rep = prune(f->dir, &ancient, 0);
    assert_int_equal(rep.count, 0);
    ev_prune_report_free(&rep);
    /* After everything closed is pruned, a limit the pruned forms alone exceed prunes no more. */
    struct ev_retention all = {.max_bytes = 1};
    rep = prune(f->dir, &all, 0);
    size_t first_count = rep.count;
    ev_prune_report_free(&rep);
    struct ev_log *log = tu_open(f->dir, &small);
    append_events(log, 300, 7); /* two more closed segments */
    tu_ok(ev_log_close(log));
    struct ev_retention some = {.max_bytes = 3 * SMALL_SEGMENT};
    rep = prune(f->dir, &some, 0);
    assert_true(rep.count <= 2);
    ev_prune_report_free(&rep);
    assert_int_equal(seg_files(f->dir).pruned >= (int)first_count, 1);
    (void)tu_verify(f->dir, f->v);
}

/* ---- crashes and full disks ----------------------------------------------------- */

static void test_prune_crash_every_step(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX];
    tu_path(pristine, f->root, "pristine");
    make_log(pristine, f->v, 700);
    struct entries want = collect(pristine);
    int segments = tu_segment_count(pristine);
    struct ev_retention policy = {.max_bytes = 1};

    bool finished = false;
    long crashes = 0;
    for (long k = 1; k < 300 && !finished; k++) {
        copy_dir(pristine, f->dir);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct ev_log *child = NULL;
            struct ev_prune_report rep;
            if (ev_log_open(f->dir, &small, &child) != 0) {
                _exit(3);
            }
            evi_io_fail_after(k, EVI_IO_CRASH);
            if (ev_log_prune(child, &policy, 0, &rep) != 0 || ev_log_close(child) != 0) {
                _exit(4);
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
        /* Whatever step it died at: it verifies and what it kept reads the same. */
        (void)tu_verify(f->dir, f->v);
        struct entries got = collect(f->dir);
        assert_kept(&want, &got);
        entries_free(&got);
        /* The next writer cleans up; the next prune finishes the job. */
        struct ev_prune_report rep = prune(f->dir, &policy, 0);
        ev_prune_report_free(&rep);
        struct seg_files c = seg_files(f->dir);
        assert_int_equal(c.pruned, segments - 1);
        assert_true(c.plain == 1 || c.plain == 2); /* the retention entry may rotate */
        assert_int_equal(c.tmp, 0);
        struct ev_verify_report vr = tu_verify(f->dir, f->v);
        assert_true(vr.retention_entries >= 1);
    }
    assert_true(finished);
    assert_true(crashes >= 3 * (segments - 1));
    entries_free(&want);
}

static void test_prune_enospc(void **state)
{
    struct tu_fixture *f = *state;
    char pristine[PATH_MAX];
    tu_path(pristine, f->root, "pristine");
    make_log(pristine, f->v, 700);
    struct entries want = collect(pristine);
    struct ev_retention policy = {.max_bytes = 1};
    int failures = 0;

    for (long k = 1; k < 200; k++) {
        copy_dir(pristine, f->dir);
        struct ev_log *log = tu_open(f->dir, &small);
        struct ev_prune_report rep;
        evi_io_fail_after(k, ENOSPC);
        int r = ev_log_prune(log, &policy, 0, &rep);
        evi_io_fail_after(0, 0);
        (void)ev_log_close(log);
        if (r == 0) {
            ev_prune_report_free(&rep);
            break;
        }
        assert_int_equal(r, -ENOSPC);
        failures++;
        /* Nothing half made survives a reopen, and the log verifies. */
        log = tu_open(f->dir, &small);
        tu_ok(ev_log_close(log));
        assert_int_equal(seg_files(f->dir).tmp, 0);
        (void)tu_verify(f->dir, f->v);
        struct entries got = collect(f->dir);
        assert_kept(&want, &got);
        entries_free(&got);
    }
    assert_true(failures >= 4);
    entries_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_by_bytes, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_prune_by_age_and_dry_run, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_prune_for_disk_space, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_prune_keeps_seals, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_window_skips_pruned_stretch, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_prune_compressed, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reader_during_prune, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_unaccounted, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_pruned_leaf_epoch_and_removal, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_unsigned_claim, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_pruned_last_or_empty, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_ts_backwards_across_pruned, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_both_forms_whole_wins, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_limits_edges, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_prune_crash_every_step, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_prune_enospc, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
