/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tamper suite: every kind of damage to a small sealed log must fail
 * verification with the right kind of failure at the right entry, at each
 * depth where it is detectable (public key only, with the verification key V,
 * against trusted checkpoints), and must pass exactly where the threat model
 * (DESIGN.md §1, §4) says it cannot be seen at that depth.
 *
 * One log is built per run (tl_build: 3 epochs, each closed by a forced seal;
 * seal interval 1 s but no sleeping). Every test works on a fresh copy of it.
 * Forged records are made by tamperutil.h from the format (FORMAT.md §4, §5,
 * §7, §8), independently of the verifier's own code.
 */
#include "tamperutil.h"
#include "tree.h"

#include <evident/bundle.h>
#include <evident/datakey.h>

struct fixture {
    char base[PATH_MAX];
    char pristine[PATH_MAX];    /* the small log, never modified after setup */
    char early[PATH_MAX];       /* a copy taken after its first epoch */
    char work[PATH_MAX];        /* each test's copy */
    uint8_t v[EV_HASH_BYTES];
    uint8_t wrong_v[EV_HASH_BYTES]; /* what an attacker without V keys tags with */
    char *vkey;
    char *final_note, *early_note;
    size_t final_len, early_len;
    uint64_t early_size;
    struct tl_log log;          /* the pristine records */
    struct tl_hashes hashes;
    uint64_t req[TL_MAX_RECORDS * 2]; /* sizes of every checkpoint in the directory */
    size_t req_count;
    uint8_t *segment;           /* the pristine segment file */
    size_t segment_len;
};

static struct fixture *F;

static const struct tl_depth no_v;

static struct tl_depth with_v(void)
{
    return (struct tl_depth){.v = F->v};
}

/* The trusted checkpoints an auditor kept: the early and the final one. */
static const char *trusted_notes[2];
static size_t trusted_lens[2];

static struct tl_depth trusted(const uint8_t *v)
{
    trusted_notes[0] = F->early_note;
    trusted_notes[1] = F->final_note;
    trusted_lens[0] = F->early_len;
    trusted_lens[1] = F->final_len;
    return (struct tl_depth){.v = v, .checkpoints = trusted_notes, .lens = trusted_lens, .count = 2};
}

/*
 * Asserts the same outcome at every depth: public key only, with V (tags
 * inline and on a second thread), and against the trusted checkpoints with
 * and without V.
 */
static void expect_all(const char *dir, enum ev_failure kind, uint64_t entry, const char *what)
{
    struct tl_depth v = with_v(), t = trusted(F->v), tn = trusted(NULL);
    tl_expect(dir, &no_v, kind, entry, what);
    tl_expect(dir, &v, kind, entry, what);
    tl_expect(dir, &t, kind, entry, what);
    tl_expect(dir, &tn, kind, entry, what);
}

static int group_setup(void **state)
{
    (void)state;
    F = calloc(1, sizeof(*F));
    assert_non_null(F);
    tl_tmpdir(F->base);
    tl_path(F->pristine, F->base, "log");
    tl_path(F->early, F->base, "early");
    tl_path(F->work, F->base, "work");
    tl_build(F->pristine, F->early, F->v);
    tl_ok(evi_random(F->wrong_v, sizeof(F->wrong_v)));
    F->vkey = tl_log_vkey(F->pristine);
    F->final_note = (char *)tl_read_in(F->pristine, "checkpoint", &F->final_len);
    F->early_note = (char *)tl_read_in(F->early, "checkpoint", &F->early_len);
    F->early_size = tl_latest_size(F->early);
    tl_log_read(F->pristine, &F->log);
    tl_hashes(&F->log, &F->hashes);
    F->req_count = tl_history_sizes(F->pristine, F->req, TL_MAX_RECORDS * 2 - 1);
    F->req[F->req_count++] = tl_latest_size(F->pristine);
    F->segment = tl_read_in(F->pristine, TL_SEGMENT, &F->segment_len);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tl_log_free(&F->log);
    free(F->vkey);
    free(F->final_note);
    free(F->early_note);
    free(F->segment);
    tl_rm_rf(F->base);
    free(F);
    return 0;
}

static int fresh(void **state)
{
    (void)state;
    tl_fresh_copy(F->pristine, F->work);
    return 0;
}

/* The work copy's records, to change and write back. */
static void work_log(struct tl_log *log)
{
    tl_log_read(F->work, log);
}

static void restore_segment(void)
{
    tl_write_in(F->work, TL_SEGMENT, F->segment, F->segment_len);
}

/*
 * The bit-flip loops verify tens of thousands of times, and each verification
 * checks the signature of every checkpoint in the directory (about 0.3 ms each
 * here). They run on a copy without the history: the latest checkpoint alone
 * covers every record, so what must fail fails the same way. The history's own
 * part is pinned by sampled passes and by the checkpoint tests.
 */
static void strip_history(void)
{
    tl_unlink_in(F->work, "checkpoints");
}

/* The checkpoint sizes of the work copy once stripped: the latest only. */
static const uint64_t *latest_only(size_t *count)
{
    static uint64_t size;
    size = F->log.count;
    *count = 1;
    return &size;
}

/* The record that holds byte off of the segment file. */
static size_t record_at(size_t off)
{
    size_t k = 0;
    while (F->log.offset[k + 1] <= off) {
        k++;
    }
    return k;
}

/* ---- the log itself --------------------------------------------------------- */

static void test_shape(void **state)
{
    const struct tl_log *log = &F->log;
    (void)state;
    /* Three epochs, each closed by its seal, the last record being the last seal. */
    assert_true(tl_seal_count(log) >= 3);
    assert_true(tl_is_seal(&log->rec[log->count - 1]));
    assert_int_equal(tl_latest_size(F->pristine), log->count);
    assert_true(F->early_size > 0 && F->early_size < log->count);
    assert_true(F->segment_len < 8192); /* keeps the bit-flip loops fast */
    for (size_t i = 0; i < log->count; i++) {
        struct tl_envelope env = tl_envelope(log->rec[i].entry, log->rec[i].len);
        assert_int_equal(env.verdict, TL_ENV_OK);
        assert_int_equal(env.seq, i);
    }
}

static void test_clean_passes(void **state)
{
    struct tl_depth pinned = {.pubkey = F->vkey}, pinned_v = {.pubkey = F->vkey, .v = F->v};
    (void)state;
    expect_all(F->work, EV_FAIL_NONE, 0, "untouched log");
    tl_expect(F->work, &pinned, EV_FAIL_NONE, 0, "untouched log, pinned key");
    tl_expect(F->work, &pinned_v, EV_FAIL_NONE, 0, "untouched log, pinned key");
    struct tl_depth v = with_v();
    tl_expect(F->early, &no_v, EV_FAIL_NONE, 0, "the early copy");
    tl_expect(F->early, &v, EV_FAIL_NONE, 0, "the early copy");
}

/* The forger is right: rebuilding every record as the writer gives the same bytes. */
static void test_forger_reproduces_writer(void **state)
{
    struct tl_log log;
    size_t len;
    (void)state;
    work_log(&log);
    tl_rebuild(&log, 0, TL_RENUMBER | TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    uint8_t *seg = tl_read_in(F->work, TL_SEGMENT, &len);
    assert_int_equal(len, F->segment_len);
    assert_memory_equal(seg, F->segment, len);
    free(seg);
    /* ...and tl_resign reproduces the checkpoints' content (the signatures are fresh). */
    tl_resign(F->work, &log);
    assert_int_equal(tl_latest_size(F->work), log.count);
    expect_all(F->work, EV_FAIL_NONE, 0, "re-forged with V, re-signed");
    tl_log_free(&log);
}

/* ---- bit flips ---------------------------------------------------------------- */

/* Every bit of every record: the checksum catches it, at the record, at every depth. */
static void test_flip_every_record_bit(void **state)
{
    struct tl_depth v = with_v();
    char what[96];
    (void)state;
    strip_history();
    for (size_t off = EVI_SEGMENT_HEADER; off < F->segment_len; off++) {
        size_t k = record_at(off);
        /* The checksum comes before any tag: the threaded tag checker on a sample only. */
        tl_both_tag_modes = off % 8 == 0;
        for (int bit = 0; bit < 8; bit++) {
            uint8_t b = (uint8_t)(F->segment[off] ^ (1u << bit));
            (void)snprintf(what, sizeof(what), "byte %zu bit %d (record %zu)", off, bit, k);
            tl_pwrite_in(F->work, TL_SEGMENT, &b, 1, off);
            tl_expect(F->work, &no_v, EV_FAIL_RECORD, k, what);
            tl_expect(F->work, &v, EV_FAIL_RECORD, k, what);
        }
        tl_pwrite_in(F->work, TL_SEGMENT, &F->segment[off], 1, off);
    }
    tl_both_tag_modes = true;
    expect_all(F->work, EV_FAIL_NONE, 0, "restored");
}

static void test_flip_segment_header_bit(void **state)
{
    struct tl_depth v = with_v();
    char what[64];
    (void)state;
    strip_history();
    for (size_t off = 0; off < EVI_SEGMENT_HEADER; off++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t b = (uint8_t)(F->segment[off] ^ (1u << bit));
            (void)snprintf(what, sizeof(what), "header byte %zu bit %d", off, bit);
            tl_pwrite_in(F->work, TL_SEGMENT, &b, 1, off);
            tl_expect(F->work, &no_v, EV_FAIL_RECORD, TL_NO_ENTRY, what);
            tl_expect(F->work, &v, EV_FAIL_RECORD, TL_NO_ENTRY, what);
        }
        tl_pwrite_in(F->work, TL_SEGMENT, &F->segment[off], 1, off);
    }
}

/*
 * Header flips with the header CRC recomputed: magic, first index and the
 * reserved field still fail; the creation time is not authenticated and the
 * verifier relies on nothing in it, so changing it alone passes.
 */
static void test_flip_segment_header_recrc(void **state)
{
    struct tl_depth v = with_v();
    char what[64];
    (void)state;
    strip_history();
    for (size_t off = 0; off < 28; off++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t hdr[EVI_SEGMENT_HEADER];
            memcpy(hdr, F->segment, sizeof(hdr));
            hdr[off] ^= (uint8_t)(1u << bit);
            tl_put32(hdr + 28, evi_crc32c(0, hdr, 28));
            tl_pwrite_in(F->work, TL_SEGMENT, hdr, sizeof(hdr), 0);
            (void)snprintf(what, sizeof(what), "header byte %zu bit %d, CRC redone", off, bit);
            enum ev_failure kind = off >= 16 && off < 24 ? EV_FAIL_NONE : EV_FAIL_RECORD;
            tl_expect(F->work, &no_v, kind, TL_NO_ENTRY, what);
            tl_expect(F->work, &v, kind, TL_NO_ENTRY, what);
        }
    }
}

struct outcome {
    enum ev_failure kind;
    uint64_t entry;
};

/* FORMAT.md §7's epoch rules for one record after a state, in the verifier's order. */
static enum ev_failure epoch_rule(bool have_prev, uint32_t prev_epoch, bool prev_sealed,
                                  uint32_t epoch)
{
    if (!have_prev) {
        return epoch != 0 ? EV_FAIL_MISSING_SEAL : EV_FAIL_NONE;
    }
    if (epoch < prev_epoch) {
        return EV_FAIL_EPOCH_BACKWARDS;
    }
    if (epoch == prev_epoch) {
        return prev_sealed ? EV_FAIL_AFTER_SEAL : EV_FAIL_NONE;
    }
    if (!prev_sealed || epoch != prev_epoch + 1) {
        return EV_FAIL_MISSING_SEAL;
    }
    return EV_FAIL_NONE;
}

static void consider(struct outcome *best, int *best_rank, uint64_t entry, int rank,
                     enum ev_failure kind)
{
    if (best->kind == EV_FAIL_NONE || entry < best->entry ||
        (entry == best->entry && rank < *best_rank)) {
        best->kind = kind;
        best->entry = entry;
        *best_rank = rank;
    }
}

/*
 * Without V: what first catches record k's entry changed to (entry, len) when
 * its envelope still holds and its seq is k. A ts now before record k-1's
 * fails at k (FORMAT.md §5), before the seal checks. A seal is checked against
 * the recomputed values; anything else shows where the changed leaf is next
 * committed to: the next record's epoch rule (a seal that stopped being one),
 * its ts rule (a ts now after record k+1's), the next seal's root, or the
 * first checkpoint that covers k. At one entry, the epoch rule comes before
 * the ts rule, then the seal check, then checkpoints.
 */
static struct outcome unkeyed_outcome(size_t k, const uint8_t *entry, size_t len,
                                      const struct tl_envelope *env, const uint64_t *req,
                                      size_t req_count)
{
    const struct tl_log *log = &F->log;
    bool was_seal = tl_is_seal(&log->rec[k]), now_seal = strcmp(env->type, "seal") == 0;
    struct outcome best = {EV_FAIL_NONE, 0};
    int rank = 0;
    char text[EVI_TS_LEN + 1];

    if (k > 0 && env->ts_ns < tl_entry_ts(log->rec[k - 1].entry, log->rec[k - 1].len, text)) {
        return (struct outcome){EV_FAIL_TS_BACKWARDS, k};
    }
    if (now_seal) {
        struct evi_seal s;
        if (evi_seal_parse(entry, len, &s) < 0 || s.epoch != log->rec[k].epoch ||
            s.tree_size != k) {
            return (struct outcome){EV_FAIL_SEAL, k};
        }
        if (memcmp(s.root, F->hashes.root[k], EV_HASH_BYTES) != 0) {
            return (struct outcome){EV_FAIL_ROOT, k};
        }
        if (memcmp(s.chain_head, F->hashes.chain[k], EV_HASH_BYTES) != 0) {
            return (struct outcome){EV_FAIL_CHAIN, k};
        }
    }
    if (was_seal != now_seal && k + 1 < log->count) {
        enum ev_failure f = epoch_rule(true, log->rec[k].epoch, now_seal, log->rec[k + 1].epoch);
        if (f != EV_FAIL_NONE) {
            consider(&best, &rank, k + 1, 0, f);
        }
    }
    if (k + 1 < log->count &&
        env->ts_ns > tl_entry_ts(log->rec[k + 1].entry, log->rec[k + 1].len, text)) {
        consider(&best, &rank, k + 1, 1, EV_FAIL_TS_BACKWARDS);
    }
    for (size_t s = k + 1; s < log->count; s++) {
        if (tl_is_seal(&log->rec[s])) {
            consider(&best, &rank, s, 2, EV_FAIL_ROOT);
            break;
        }
    }
    for (size_t i = 0; i < req_count; i++) {
        if (req[i] > k) {
            consider(&best, &rank, req[i] - 1, 3, EV_FAIL_ROOT);
        }
    }
    return best;
}

/* Rewrites record k of the work segment from rec (same length), CRC recomputed. */
static void put_record(size_t k, uint8_t *rec, size_t size)
{
    tl_put32(rec + 4, tl_record_crc(rec, tl_get32(rec)));
    tl_pwrite_in(F->work, TL_SEGMENT, rec, size, F->log.offset[k]);
}

static void check_flip(const char *what, const struct outcome *keyed, const struct outcome *bare)
{
    struct tl_depth v = with_v();
    tl_expect(F->work, &no_v, bare->kind, bare->kind == EV_FAIL_NONE ? 0 : bare->entry, what);
    tl_expect(F->work, &v, keyed->kind, keyed->entry, what);
}

/*
 * A smarter attacker flips a bit of an entry and recomputes the record's CRC.
 * Where the envelope breaks: ENTRY (or SEQUENCE for another seq number) at
 * the record, at both depths. Elsewhere: with V the tag, at the record; without
 * V whatever next commits to the entry (unkeyed_outcome). Flips bit b of every
 * stride-th byte (b = all 8 bits when stride is 1, else the byte's offset mod 8).
 */
static void entry_flips(const uint64_t *req, size_t req_count, size_t stride,
                        size_t bare_seen[EV_FAIL_TS_BACKWARDS + 1], size_t *leap_seen)
{
    uint8_t rec[EVI_RECORD_MAX];
    char what[128];
    for (size_t k = 0; k < F->log.count; k++) {
        size_t size = F->log.offset[k + 1] - F->log.offset[k];
        size_t len = F->log.rec[k].len;
        for (size_t at = 0; at < len; at += stride) {
            for (int bit = 0; bit < 8; bit++) {
                if (stride > 1 && bit != (int)((F->log.offset[k] + at) % 8)) {
                    continue;
                }
                memcpy(rec, F->segment + F->log.offset[k], size);
                rec[EVI_RECORD_PREFIX + at] ^= (uint8_t)(1u << bit);
                put_record(k, rec, size);
                (void)snprintf(what, sizeof(what), "record %zu entry byte %zu bit %d, CRC redone",
                               k, at, bit);
                const uint8_t *entry = rec + EVI_RECORD_PREFIX;
                struct tl_envelope env = tl_envelope(entry, len);
                struct outcome keyed, bare;
                if (env.verdict == TL_ENV_MALFORMED) {
                    keyed = bare = (struct outcome){EV_FAIL_ENTRY, k};
                } else if (env.seq != k) {
                    keyed = bare = (struct outcome){EV_FAIL_SEQUENCE, k};
                } else {
                    keyed = (struct outcome){EV_FAIL_TAG, k};
                    bare = unkeyed_outcome(k, entry, len, &env, req, req_count);
                    /* Every entry of this log is covered by a checkpoint. */
                    assert_int_not_equal(bare.kind, EV_FAIL_NONE);
                }
                check_flip(what, &keyed, &bare);
                bare_seen[bare.kind]++;
                /* A second of 60 is malformed (§5): the writer's seconds run 0..59. */
                *leap_seen += memmem(entry, len, ":60.", 4) != NULL;
            }
        }
        tl_pwrite_in(F->work, TL_SEGMENT, F->segment + F->log.offset[k], size, F->log.offset[k]);
    }
}

static void test_flip_entry_bits_recrc(void **state)
{
    size_t count, seen[EV_FAIL_TS_BACKWARDS + 1] = {0}, leap = 0;
    const uint64_t *req = latest_only(&count);
    (void)state;
    strip_history();
    entry_flips(req, count, 1, seen, &leap);
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "restored");
    print_message("entry flips without V: entry %zu, sequence %zu, seal %zu, root %zu, "
                  "chain %zu, missing seal %zu, ts %zu (%zu leap seconds)\n",
                  seen[EV_FAIL_ENTRY], seen[EV_FAIL_SEQUENCE], seen[EV_FAIL_SEAL],
                  seen[EV_FAIL_ROOT], seen[EV_FAIL_CHAIN], seen[EV_FAIL_MISSING_SEAL],
                  seen[EV_FAIL_TS_BACKWARDS], leap);
    /* Every branch of the expectation was taken: this loop can fail each way. */
    assert_true(seen[EV_FAIL_ENTRY] > 0 && seen[EV_FAIL_SEQUENCE] > 0 && seen[EV_FAIL_SEAL] > 0 &&
                seen[EV_FAIL_ROOT] > 0 && seen[EV_FAIL_CHAIN] > 0 &&
                seen[EV_FAIL_MISSING_SEAL] > 0 && seen[EV_FAIL_TS_BACKWARDS] > 0);
}

/* A sample of the same flips with the history in place: its checkpoints come first. */
static void test_flip_entry_bits_recrc_history(void **state)
{
    (void)state;
    size_t seen[EV_FAIL_TS_BACKWARDS + 1] = {0}, leap = 0;
    entry_flips(F->req, F->req_count, 5, seen, &leap);
    expect_all(F->work, EV_FAIL_NONE, 0, "restored");
}

/*
 * Tag flips with the CRC recomputed: with V, the tag at the record. Without V
 * the log passes, and must: the tag is the one field of a record outside the
 * entry bytes, so no hash (leaf, chain, seal, checkpoint) commits to it; only
 * V can check it (DESIGN.md §1: forward-secure tags need the verification key).
 */
static void test_flip_tag_bits_recrc(void **state)
{
    uint8_t rec[EVI_RECORD_MAX];
    struct tl_depth v = with_v();
    char what[96];
    (void)state;
    strip_history();
    for (size_t k = 0; k < F->log.count; k++) {
        size_t size = F->log.offset[k + 1] - F->log.offset[k];
        size_t tag_at = EVI_RECORD_PREFIX + F->log.rec[k].len;
        for (size_t at = 0; at < EV_HASH_BYTES; at++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(rec, F->segment + F->log.offset[k], size);
                rec[tag_at + at] ^= (uint8_t)(1u << bit);
                put_record(k, rec, size);
                (void)snprintf(what, sizeof(what), "record %zu tag byte %zu bit %d, CRC redone",
                               k, at, bit);
                tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, what);
                tl_expect(F->work, &v, EV_FAIL_TAG, k, what);
            }
        }
        tl_pwrite_in(F->work, TL_SEGMENT, F->segment + F->log.offset[k], size, F->log.offset[k]);
    }
}

/*
 * Epoch-field flips with the CRC recomputed: the epoch rules catch every one
 * at the record itself, at both depths (they need no key), before the tag.
 */
static void test_flip_epoch_bits_recrc(void **state)
{
    uint8_t rec[EVI_RECORD_MAX];
    struct tl_depth v = with_v();
    char what[96];
    (void)state;
    strip_history();
    for (size_t k = 0; k < F->log.count; k++) {
        size_t size = F->log.offset[k + 1] - F->log.offset[k];
        bool have_prev = k > 0;
        uint32_t prev_epoch = have_prev ? F->log.rec[k - 1].epoch : 0;
        bool prev_sealed = have_prev && tl_is_seal(&F->log.rec[k - 1]);
        for (int bit = 0; bit < 32; bit++) {
            memcpy(rec, F->segment + F->log.offset[k], size);
            uint32_t epoch = F->log.rec[k].epoch ^ (1u << bit);
            tl_put32(rec + 8, epoch);
            put_record(k, rec, size);
            (void)snprintf(what, sizeof(what), "record %zu epoch bit %d (epoch %" PRIu32 ")", k,
                           bit, epoch);
            enum ev_failure kind = epoch_rule(have_prev, prev_epoch, prev_sealed, epoch);
            assert_int_not_equal(kind, EV_FAIL_NONE);
            tl_expect(F->work, &no_v, kind, k, what);
            tl_expect(F->work, &v, kind, k, what);
        }
        tl_pwrite_in(F->work, TL_SEGMENT, F->segment + F->log.offset[k], size, F->log.offset[k]);
    }
}

/*
 * Length-field flips with the CRC recomputed over the new span where the file
 * has it: the framing shifts, and the log fails at both depths (what fails
 * first depends on the bytes the new frame takes in).
 */
static void test_flip_length_bits_recrc(void **state)
{
    struct tl_depth v = with_v();
    struct ev_verify_report rep;
    char what[96];
    (void)state;
    strip_history();
    for (size_t k = 0; k < F->log.count; k++) {
        size_t off = F->log.offset[k];
        for (int bit = 0; bit < 32; bit++) {
            uint8_t *seg = malloc(F->segment_len);
            assert_non_null(seg);
            memcpy(seg, F->segment, F->segment_len);
            uint32_t len = tl_get32(seg + off) ^ (1u << bit);
            tl_put32(seg + off, len);
            if (len >= 1 && len <= 65535 && off + EVI_RECORD_OVERHEAD + len <= F->segment_len) {
                tl_put32(seg + off + 4, tl_record_crc(seg + off, len));
            }
            tl_write_in(F->work, TL_SEGMENT, seg, F->segment_len);
            free(seg);
            (void)snprintf(what, sizeof(what), "record %zu length bit %d", k, bit);
            int r = tl_verify(F->work, &no_v, &rep);
            if (r != EV_EVERIFY || rep.failure == EV_FAIL_NONE) {
                fail_msg("%s without V: %d %s", what, r, ev_failure_name(rep.failure));
            }
            r = tl_verify(F->work, &v, &rep);
            if (r != EV_EVERIFY || rep.failure == EV_FAIL_NONE) {
                fail_msg("%s with V: %d %s", what, r, ev_failure_name(rep.failure));
            }
            /* The threaded tag checker says exactly what the inline one said. */
            struct tl_depth threaded = {.v = F->v, .threads = 2};
            tl_expect(F->work, &threaded, rep.failure, rep.has_entry ? rep.entry : TL_NO_ENTRY,
                      what);
        }
    }
    restore_segment();
}

/* ---- truncation ------------------------------------------------------------- */

/* Cut at every record boundary: fewer entries than the latest checkpoint signed. */
static void test_truncate_at_every_boundary(void **state)
{
    char what[64];
    (void)state;
    for (size_t k = 0; k < F->log.count; k++) {
        (void)snprintf(what, sizeof(what), "cut before record %zu", k);
        tl_truncate_in(F->work, TL_SEGMENT, F->log.offset[k]);
        expect_all(F->work, EV_FAIL_TRUNCATED, k, what);
        restore_segment();
    }
}

/* Cut inside a record (it is covered by the latest checkpoint): the record is damaged. */
static void test_truncate_inside_records(void **state)
{
    struct tl_depth v = with_v();
    char what[64];
    (void)state;
    strip_history();
    for (size_t k = 0; k < F->log.count; k++) {
        for (size_t cut = F->log.offset[k] + 1; cut < F->log.offset[k + 1]; cut++) {
            (void)snprintf(what, sizeof(what), "cut at byte %zu (record %zu)", cut, k);
            tl_truncate_in(F->work, TL_SEGMENT, cut);
            tl_expect(F->work, &no_v, EV_FAIL_RECORD, k, what);
            tl_expect(F->work, &v, EV_FAIL_RECORD, k, what);
            restore_segment();
        }
    }
    for (size_t cut = 0; cut < EVI_SEGMENT_HEADER; cut++) {
        (void)snprintf(what, sizeof(what), "cut inside the segment header at %zu", cut);
        tl_truncate_in(F->work, TL_SEGMENT, cut);
        tl_expect(F->work, &no_v, EV_FAIL_RECORD, TL_NO_ENTRY, what);
        tl_expect(F->work, &v, EV_FAIL_RECORD, TL_NO_ENTRY, what);
        restore_segment();
    }
}

/* ---- dropped, duplicated, reordered records ---------------------------------- */

/* The first k >= 1 with records k and k+1 both ordinary events. */
static size_t middle_event(void)
{
    for (size_t k = 1; k + 1 < F->log.count; k++) {
        if (!tl_is_seal(&F->log.rec[k]) && !tl_is_seal(&F->log.rec[k + 1])) {
            return k;
        }
    }
    fail_msg("no two adjacent events in the log");
    return 0;
}

static void test_drop_record(void **state)
{
    struct tl_log log;
    size_t k = middle_event();
    (void)state;
    work_log(&log);
    tl_log_remove(&log, k);
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, k, "record dropped");
    tl_log_free(&log);

    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    tl_log_remove(&log, 0);
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, 0, "first record dropped");
    tl_log_free(&log);
}

static void test_duplicate_record(void **state)
{
    struct tl_log log;
    size_t k = middle_event();
    (void)state;
    work_log(&log);
    tl_log_insert(&log, k + 1, &log.rec[k]);
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, k + 1, "record duplicated");
    tl_log_free(&log);
}

static void test_swap_records(void **state)
{
    struct tl_log log;
    size_t k = middle_event();
    (void)state;
    work_log(&log);
    struct tl_record tmp = log.rec[k];
    log.rec[k] = log.rec[k + 1];
    log.rec[k + 1] = tmp;
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, k, "records swapped");
    tl_log_free(&log);

    /* A seal swapped with the event before it. */
    size_t s = tl_seal_index(&F->log, 1);
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    tmp = log.rec[s];
    log.rec[s] = log.rec[s - 1];
    log.rec[s - 1] = tmp;
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, s - 1, "seal swapped with its predecessor");
    tl_log_free(&log);
}

/* ---- seals -------------------------------------------------------------------- */

static void test_drop_last_seal(void **state)
{
    size_t last = tl_seal_index(&F->log, tl_seal_count(&F->log) - 1);
    (void)state;
    tl_truncate_in(F->work, TL_SEGMENT, F->log.offset[last]);
    expect_all(F->work, EV_FAIL_TRUNCATED, last, "last seal and all after it dropped");
}

static void test_drop_middle_seal(void **state)
{
    struct tl_log log;
    size_t s = tl_seal_index(&F->log, 1);
    (void)state;
    work_log(&log);
    tl_log_remove(&log, s);
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, s, "middle seal dropped");
    tl_log_free(&log);
}

/*
 * An attacker without V drops a seal and rewrites everything after it so that
 * seq numbers, later seals, CRCs and the checkpoints (re-signed with the key
 * on the host) all hold; the tags it must guess. The epoch left without a seal
 * is seen by the epoch rules, at the first changed entry, even without V.
 */
static void test_drop_seal_and_rewrite(void **state)
{
    struct tl_log log;
    size_t s = tl_seal_index(&F->log, 1);
    struct tl_depth v = with_v(), tv = trusted(F->v);
    (void)state;
    work_log(&log);
    tl_log_remove(&log, s);
    tl_rebuild(&log, s, TL_RENUMBER | TL_RESEAL, F->wrong_v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    tl_expect(F->work, &no_v, EV_FAIL_MISSING_SEAL, s, "seal dropped, rest rewritten");
    tl_expect(F->work, &v, EV_FAIL_MISSING_SEAL, s, "seal dropped, rest rewritten");
    tl_expect(F->work, &tv, EV_FAIL_MISSING_SEAL, s, "seal dropped, rest rewritten");
    tl_log_free(&log);
}

/*
 * The same attacker also merges the two epochs (every later epoch number one
 * lower, later seals rewritten to match): the structure now holds and, with
 * the checkpoints re-signed, the public key alone cannot tell. That is the
 * threat model (DESIGN.md §1): root on the host with the signing key rewrites
 * history; the forward-secure tags are what catch it, at the first changed
 * entry, and so does a checkpoint kept elsewhere.
 */
static void test_drop_seal_merge_epochs(void **state)
{
    struct tl_log log;
    size_t s = tl_seal_index(&F->log, 1);
    struct tl_depth v = with_v(), tn = trusted(NULL);
    (void)state;
    work_log(&log);
    tl_log_remove(&log, s);
    for (size_t i = s; i < log.count; i++) {
        log.rec[i].epoch--;
    }
    tl_rebuild(&log, s, TL_RENUMBER | TL_RESEAL, F->wrong_v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "seal dropped, epochs merged, re-signed");
    tl_expect(F->work, &v, EV_FAIL_TAG, s, "seal dropped, epochs merged, re-signed");
    /* The final trusted checkpoint is for one entry more than the log now has. */
    tl_expect(F->work, &tn, EV_FAIL_TRUNCATED, log.count, "seal dropped, epochs merged");
    tl_log_free(&log);
}

static void test_remove_epoch(void **state)
{
    struct tl_log log;
    size_t first = tl_seal_index(&F->log, 0) + 1, seal = tl_seal_index(&F->log, 1);
    (void)state;
    work_log(&log);
    for (size_t i = first; i <= seal; i++) {
        tl_log_remove(&log, first);
    }
    tl_log_write(F->work, &log);
    expect_all(F->work, EV_FAIL_SEQUENCE, first, "a whole epoch removed");
    tl_log_free(&log);
}

/*
 * A writer holding V (the test forges as the writer would, every tag right)
 * writes a seal with wrong contents: the verifier's seal checks themselves,
 * not the tags, must catch it, at the seal, at every depth.
 */
static void forge_seal(size_t s, const uint8_t chain[EV_HASH_BYTES], uint32_t epoch,
                       const uint8_t root[EV_HASH_BYTES], uint64_t size, enum ev_failure kind,
                       const char *what)
{
    struct tl_log log;
    struct tl_depth v = with_v(), tv = trusted(F->v);
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    tl_seal_set(&log.rec[s], chain, epoch, root, size);
    tl_rebuild(&log, s + 1, TL_RESEAL, NULL);
    tl_rebuild(&log, s, 0, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    tl_expect(F->work, &no_v, kind, s, what);
    tl_expect(F->work, &v, kind, s, what);
    tl_expect(F->work, &tv, kind, s, what);
    tl_log_free(&log);
}

static void test_forged_seal_contents(void **state)
{
    size_t s = tl_seal_index(&F->log, 1);
    const uint8_t *chain = F->hashes.chain[s], *root = F->hashes.root[s];
    uint32_t epoch = F->log.rec[s].epoch;
    uint8_t bad[EV_HASH_BYTES];
    (void)state;

    forge_seal(s, chain, epoch, root, s, EV_FAIL_NONE, "seal rewritten unchanged");
    memcpy(bad, root, sizeof(bad));
    bad[31] ^= 1;
    forge_seal(s, chain, epoch, bad, s, EV_FAIL_ROOT, "seal with a wrong root");
    forge_seal(s, chain, epoch, F->hashes.root[s - 1], s, EV_FAIL_ROOT,
               "seal with the root of one entry less");
    memcpy(bad, chain, sizeof(bad));
    bad[0] ^= 0x80;
    forge_seal(s, bad, epoch, root, s, EV_FAIL_CHAIN, "seal with a wrong chain head");
    forge_seal(s, F->hashes.chain[s - 1], epoch, root, s, EV_FAIL_CHAIN,
               "seal with the chain head of one entry less");
    forge_seal(s, chain, epoch, root, s + 1, EV_FAIL_SEAL, "seal with a wrong tree size");
    forge_seal(s, chain, epoch, root, s - 1, EV_FAIL_SEAL, "seal with a smaller tree size");
    forge_seal(s, chain, epoch + 1, root, s, EV_FAIL_SEAL, "seal naming the next epoch");
    forge_seal(s, chain, epoch - 1, root, s, EV_FAIL_SEAL, "seal naming the previous epoch");
}

/* A seal whose data is not a seal's (FORMAT.md §7): the seal is malformed. */
static void test_forged_seal_malformed(void **state)
{
    static const char *const edits[][2] = {
        {"\"tree_size\":", "\"tree_size\":-"},
        {"\"root\":", "\"rooT\":"},
        {"\"root\":\"", "\"root\":\"zz"},
        {"\"chain_head\":\"", "\"chain_head\":\"0"},
        {"\"epoch\":", "\"epoch\":0.5e1"},
    };
    struct tl_depth v = with_v();
    size_t s = tl_seal_index(&F->log, 0);
    (void)state;
    for (size_t e = 0; e < sizeof(edits) / sizeof(edits[0]); e++) {
        struct tl_log log;
        char what[96];
        tl_fresh_copy(F->pristine, F->work);
        work_log(&log);
        tl_entry_replace(&log.rec[s], edits[e][0], edits[e][1]);
        tl_rebuild(&log, s + 1, TL_RESEAL, NULL);
        tl_rebuild(&log, s, 0, F->v);
        tl_log_write(F->work, &log);
        tl_resign(F->work, &log);
        (void)snprintf(what, sizeof(what), "seal edited: %s -> %s", edits[e][0], edits[e][1]);
        tl_expect(F->work, &no_v, EV_FAIL_SEAL, s, what);
        tl_expect(F->work, &v, EV_FAIL_SEAL, s, what);
        tl_log_free(&log);
    }
}

/* ---- epochs (records forged with valid tags from V) ------------------------- */

static void test_record_after_seal(void **state)
{
    struct tl_log log;
    size_t s = tl_seal_index(&F->log, 1);
    (void)state;
    work_log(&log);
    struct tl_record extra = log.rec[s - 1]; /* an event of the sealed epoch */
    tl_log_insert(&log, s + 1, &extra);
    tl_rebuild(&log, s + 1, TL_RENUMBER | TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_AFTER_SEAL, s + 1, "an event after its epoch's seal");
    tl_log_free(&log);

    /* Two seals for one epoch: the second follows the first. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    extra = log.rec[s];
    tl_log_insert(&log, s + 1, &extra);
    tl_rebuild(&log, s + 1, TL_RENUMBER | TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_AFTER_SEAL, s + 1, "a second seal of one epoch");
    tl_log_free(&log);
}

static void test_epoch_backwards(void **state)
{
    struct tl_log log;
    size_t first2 = tl_seal_index(&F->log, 1) + 1; /* first record of the third epoch */
    (void)state;
    assert_true(F->log.rec[first2].epoch >= 2);
    work_log(&log);
    log.rec[first2].epoch = 0;
    tl_rebuild(&log, first2, TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_EPOCH_BACKWARDS, first2, "epoch 0 after a later epoch");
    tl_log_free(&log);

    /* Inside an open epoch, a record of the epoch before. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    assert_false(tl_is_seal(&log.rec[first2 + 1]));
    log.rec[first2 + 1].epoch = log.rec[first2].epoch - 1;
    tl_rebuild(&log, first2 + 1, TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_EPOCH_BACKWARDS, first2 + 1, "epoch steps back inside an epoch");
    tl_log_free(&log);
}

static void test_epoch_skipped(void **state)
{
    struct tl_log log;
    size_t s = tl_seal_index(&F->log, 0);
    (void)state;
    /* Every epoch after the first seal one higher: epoch e+1 never appears, never sealed. */
    work_log(&log);
    for (size_t i = s + 1; i < log.count; i++) {
        log.rec[i].epoch++;
    }
    tl_rebuild(&log, s + 1, TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_MISSING_SEAL, s + 1, "an epoch skipped");
    tl_log_free(&log);

    /* The log starting in epoch 1: epoch 0 was never sealed. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    for (size_t i = 0; i < log.count; i++) {
        log.rec[i].epoch++;
    }
    tl_rebuild(&log, 0, TL_RESEAL, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_MISSING_SEAL, 0, "log starting in epoch 1");
    tl_log_free(&log);

    /* An epoch that ends without its seal: the next epoch's first record shows it. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    size_t seal1 = tl_seal_index(&F->log, 1);
    tl_entry_replace(&log.rec[seal1], "\"type\":\"seal\"", "\"type\":\"note\"");
    tl_rebuild(&log, seal1 + 1, TL_RESEAL, NULL);
    tl_rebuild(&log, seal1, 0, F->v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    expect_all(F->work, EV_FAIL_MISSING_SEAL, seal1 + 1, "a seal turned into an event");
    tl_log_free(&log);
}

/* ---- ts order (FORMAT.md §5; records forged with valid tags from V) ---------- */

/*
 * A writer holding every key writes an entry whose ts is before the one
 * before it: roots, chain, seals and tags all hold (tl_forge_as_writer), so
 * only the ts rule sees it, at every depth. Readers' time windows would miss
 * entries over such a log.
 */
static void expect_ts_backwards(const char *dir, const struct tl_log *log, size_t k, size_t prev,
                                const char *what)
{
    char ts[EVI_TS_LEN + 1], prev_ts[EVI_TS_LEN + 1], detail[256];
    struct ev_verify_report rep;
    struct tl_depth v = with_v();

    (void)tl_entry_ts(log->rec[k].entry, log->rec[k].len, ts);
    (void)tl_entry_ts(log->rec[prev].entry, log->rec[prev].len, prev_ts);
    expect_all(dir, EV_FAIL_TS_BACKWARDS, k, what);
    (void)snprintf(detail, sizeof(detail), "entry %zu: ts %s is before entry %zu's ts %s", k, ts,
                   prev, prev_ts);
    tl_expect_at(__FILE__, __LINE__, dir, &no_v, EV_FAIL_TS_BACKWARDS, k, what, &rep);
    assert_string_equal(rep.detail, detail);
    tl_expect_at(__FILE__, __LINE__, dir, &v, EV_FAIL_TS_BACKWARDS, k, what, &rep);
    assert_string_equal(rep.detail, detail);
    assert_string_equal(ev_failure_name(rep.failure), "ts went backwards");
}

/*
 * The same forged log exported as a bundle from entry prev on (FORMAT.md §11):
 * the bundle's verifier applies the ts rule too, with and without V.
 */
static void expect_bundle_ts_backwards(const char *dir, const struct tl_log *log, size_t k,
                                       size_t prev)
{
    char ts[EVI_TS_LEN + 1], prev_ts[EVI_TS_LEN + 1], detail[256];
    struct ev_open_options o = {.flags = EV_OPEN_READONLY};
    struct ev_log *r = NULL;
    char *text = NULL;
    size_t len = 0;

    (void)tl_entry_ts(log->rec[k].entry, log->rec[k].len, ts);
    (void)tl_entry_ts(log->rec[prev].entry, log->rec[prev].len, prev_ts);
    (void)snprintf(detail, sizeof(detail), "entry %zu: ts %s is before entry %zu's ts %s", k, ts,
                   prev, prev_ts);
    /* A forging writer rewrites the derived hashes too: the exporter's proofs come from them. */
    struct evi_frontier f;
    uint8_t stored[64][EV_HASH_BYTES], leaf[EV_HASH_BYTES];
    FILE *hashes = open_memstream(&text, &len);
    assert_non_null(hashes);
    evi_frontier_init(&f);
    for (size_t i = 0; i < log->count; i++) {
        ev_leaf_hash(log->rec[i].entry, log->rec[i].len, leaf);
        int n = evi_frontier_append(&f, leaf, stored);
        assert_int_equal(fwrite(stored, EV_HASH_BYTES, (size_t)n, hashes), (size_t)n);
    }
    assert_int_equal(fclose(hashes), 0);
    tl_write_in(dir, "hashes", text, len);
    free(text);
    text = NULL;

    tl_ok(ev_log_open(dir, &o, &r));
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    tl_ok(ev_bundle_export(r, prev, EV_BUNDLE_TO_CHECKPOINT, out));
    assert_int_equal(fclose(out), 0);
    tl_ok(ev_log_close(r));
    for (int with = 0; with < 2; with++) {
        struct ev_bundle_report rep;
        int rc = ev_bundle_verify(text, len, F->vkey, with ? F->v : NULL, &rep);
        assert_int_equal(rc, EV_EVERIFY);
        assert_int_equal(rep.failure, EV_FAIL_TS_BACKWARDS);
        assert_true(rep.has_entry);
        assert_int_equal(rep.entry, k);
        assert_string_equal(rep.detail, detail);
    }
    free(text);
}

/* The first k >= from with records k-1 and k both ordinary events. */
static size_t event_after_event(size_t from)
{
    for (size_t k = from > 0 ? from : 1; k < F->log.count; k++) {
        if (!tl_is_seal(&F->log.rec[k - 1]) && !tl_is_seal(&F->log.rec[k])) {
            return k;
        }
    }
    fail_msg("no two ordinary events in a row after %zu", from);
    return 0;
}

static void test_ts_backwards(void **state)
{
    struct tl_log log;
    char text[EVI_TS_LEN + 1];
    /* After the early checkpoint, which an auditor holds: that stays true. */
    size_t k = event_after_event((size_t)F->early_size);
    (void)state;

    /* One nanosecond before the entry before it. */
    work_log(&log);
    tl_entry_set_ts(&log.rec[k], tl_entry_ts(log.rec[k - 1].entry, log.rec[k - 1].len, text) - 1);
    tl_forge_as_writer(F->work, &log, k, F->v);
    expect_ts_backwards(F->work, &log, k, k - 1, "an event 1 ns before the event before it");
    expect_bundle_ts_backwards(F->work, &log, k, k - 1);
    tl_log_free(&log);

    /* The first event of an epoch, before the seal of the epoch before. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    size_t s = tl_seal_index(&log, 1);
    assert_true(s + 1 < log.count && s >= F->early_size);
    tl_entry_set_ts(&log.rec[s + 1], tl_entry_ts(log.rec[s].entry, log.rec[s].len, text) - 1);
    tl_forge_as_writer(F->work, &log, s + 1, F->v);
    expect_ts_backwards(F->work, &log, s + 1, s, "an event before the seal before it");
    expect_bundle_ts_backwards(F->work, &log, s + 1, s);
    tl_log_free(&log);

    /* A seal before the last event of its epoch (a seal's ts is a ts too). */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    tl_entry_set_ts(&log.rec[s], tl_entry_ts(log.rec[s - 1].entry, log.rec[s - 1].len, text) - 1);
    tl_forge_as_writer(F->work, &log, s, F->v);
    expect_ts_backwards(F->work, &log, s, s - 1, "a seal before the event before it");
    tl_log_free(&log);

    /* A year back, at the last event: every later time is checked, not only neighbours. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    size_t last = log.count - 2;
    assert_false(tl_is_seal(&log.rec[last]));
    tl_entry_set_ts(&log.rec[last], tl_entry_ts(log.rec[last].entry, log.rec[last].len, text) -
                                        365 * 86400 * 1000000000ll);
    tl_forge_as_writer(F->work, &log, last, F->v);
    expect_ts_backwards(F->work, &log, last, last - 1, "an event a year back");
    tl_log_free(&log);
}

/*
 * Equal times are allowed (§5: ts never decreases); only a checkpoint kept
 * elsewhere sees that the history changed.
 */
static void test_ts_equal_passes(void **state)
{
    struct tl_log log;
    char text[EVI_TS_LEN + 1];
    size_t k = event_after_event((size_t)F->early_size);
    struct tl_depth v = with_v(), t = trusted(F->v);
    (void)state;

    work_log(&log);
    /* Every record from k on, seals included, at record k-1's time. */
    int64_t ts = tl_entry_ts(log.rec[k - 1].entry, log.rec[k - 1].len, text);
    for (size_t i = k; i < log.count; i++) {
        tl_entry_set_ts(&log.rec[i], ts);
    }
    tl_forge_as_writer(F->work, &log, k, F->v);
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "equal times");
    tl_expect(F->work, &v, EV_FAIL_NONE, 0, "equal times");
    /* The forged history is not the one the auditor's final checkpoint signed. */
    tl_expect(F->work, &t, EV_FAIL_FORKED, log.count - 1, "equal times, trusted checkpoints");
    tl_log_free(&log);
}

/*
 * A ts with a second of 60 names the next minute's first instant (timegm),
 * but the writer's clock never spells it so (§5): an entry carrying one was
 * not written by a writer and is malformed, even with valid tags and a time
 * that does not go backwards. (It was read as that instant before.)
 */
static void test_ts_leap_second_malformed(void **state)
{
    struct tl_log log;
    char prev[EVI_TS_LEN + 1], old[EVI_TS_LEN + 1], leap[EVI_TS_LEN + 1], from[64], to[64];
    char detail[256];
    struct ev_verify_report rep;
    struct tl_depth v = with_v();
    size_t k = event_after_event((size_t)F->early_size);
    (void)state;

    work_log(&log);
    /* The next whole minute after entry k-1, spelt as second 60 of the minute before. */
    int64_t minute = 60 * 1000000000ll;
    int64_t next = (tl_entry_ts(log.rec[k - 1].entry, log.rec[k - 1].len, prev) / minute + 1) *
                   minute;
    evi_ts_format(next - 1000000000ll, leap);
    assert_memory_equal(leap + 17, "59.000000000Z", 13);
    leap[17] = '6';
    leap[18] = '0';
    for (size_t i = k; i < log.count; i++) { /* every later entry at that time: none goes back */
        (void)tl_entry_ts(log.rec[i].entry, log.rec[i].len, old);
        (void)snprintf(from, sizeof(from), "%s%s\"", TL_TS_HEAD, old);
        (void)snprintf(to, sizeof(to), "%s%s\"", TL_TS_HEAD, leap);
        tl_entry_replace(&log.rec[i], from, to);
    }
    tl_forge_as_writer(F->work, &log, k, F->v);
    expect_all(F->work, EV_FAIL_ENTRY, k, "a ts at second 60");
    (void)snprintf(detail, sizeof(detail), "entry ts '%s' is not YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ",
                   leap);
    tl_expect_at(__FILE__, __LINE__, F->work, &v, EV_FAIL_ENTRY, k, "a ts at second 60", &rep);
    assert_non_null(strstr(rep.detail, detail));
    tl_log_free(&log);
}

/*
 * Encrypted entries (FORMAT.md §5.1) keep ts in their clear prefix: the rule
 * needs no data key. (The forged entry no longer decrypts, since the AAD binds
 * ts; a hostile writer would have encrypted it with that ts. Verification
 * never decrypts, so it makes no difference here.)
 */
static void test_ts_backwards_encrypted(void **state)
{
    char dir[PATH_MAX], keyfile[PATH_MAX], text[EVI_TS_LEN + 1];
    uint8_t v[EV_HASH_BYTES];
    struct ev_datakeys *keys = NULL;
    struct tl_log log;
    (void)state;

    tl_path(dir, F->base, "encrypted");
    tl_path(keyfile, F->base, "data.keys");
    tl_rm_rf(dir);
    (void)unlink(keyfile);
    tl_ok(ev_datakey_new(keyfile, EV_DATA_AES_256_GCM, NULL));
    tl_ok(ev_datakeys_load(keyfile, &keys));
    tl_create(dir, 1000000000ull, v);
    struct ev_open_options o = {.data_keys = keys};
    struct ev_log *w = NULL;
    tl_ok(ev_log_open(dir, &o, &w));
    tl_append(w, 3);
    tl_ok(ev_log_seal(w));
    tl_append(w, 3);
    tl_ok(ev_log_seal(w));
    tl_ok(ev_log_close(w));
    ev_datakeys_free(keys);

    tl_log_read(dir, &log);
    size_t k = tl_seal_index(&log, 0) + 2;
    assert_non_null(strstr((const char *)log.rec[k].entry, "\"enc\":{\"alg\":"));
    assert_non_null(strstr((const char *)log.rec[k - 1].entry, "\"enc\":{\"alg\":"));
    tl_entry_set_ts(&log.rec[k], tl_entry_ts(log.rec[k - 1].entry, log.rec[k - 1].len, text) - 1);
    tl_forge_as_writer(dir, &log, k, v);
    struct tl_depth with_key = {.v = v};
    tl_expect(dir, &no_v, EV_FAIL_TS_BACKWARDS, k, "encrypted, without V");
    tl_expect(dir, &with_key, EV_FAIL_TS_BACKWARDS, k, "encrypted, with V");
    tl_log_free(&log);
    tl_rm_rf(dir);
    (void)unlink(keyfile);
}

/*
 * Root with the signing key cuts whole sealed epochs off the end and re-signs.
 * Every remaining tag, seal and checkpoint holds, so no depth without a
 * checkpoint kept elsewhere can call that a failure; what the report shows is
 * the last sealed epoch and how long ago its seal was written (DESIGN.md §4:
 * with a running writer a seal comes every interval, so a long gap means a
 * stopped writer or a cut tail). A trusted checkpoint sees the cut.
 */
static void test_cut_at_seal_boundary_resigned(void **state)
{
    struct tl_log log;
    struct ev_verify_report rep;
    size_t s = tl_seal_index(&F->log, 1), last = F->log.count - 1;
    struct tl_depth v = with_v(), tn = trusted(NULL);
    (void)state;
    struct tl_envelope seal_env = tl_envelope(F->log.rec[s].entry, F->log.rec[s].len);
    struct tl_envelope last_env = tl_envelope(F->log.rec[last].entry, F->log.rec[last].len);

    tl_expect_at(__FILE__, __LINE__, F->work, &v, EV_FAIL_NONE, 0, "untouched", &rep);
    assert_true(rep.any_sealed);
    assert_int_equal(rep.last_sealed_epoch, F->log.rec[last].epoch);
    assert_int_equal(rep.last_seal_ns, last_env.ts_ns);

    work_log(&log);
    while (log.count > s + 1) {
        tl_log_remove(&log, log.count - 1);
    }
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    struct ev_verify_options o = {.verification_key = F->v, .threads = 1,
                                  .now_ns = seal_env.ts_ns + 3600000000000};
    assert_int_equal(ev_verify_dir(F->work, &o, &rep), 0);
    assert_true(rep.any_sealed);
    assert_int_equal(rep.last_sealed_epoch, F->log.rec[s].epoch);
    assert_true(rep.last_sealed_epoch < F->log.rec[last].epoch);
    assert_int_equal(rep.last_seal_ns, seal_env.ts_ns);
    assert_int_equal(rep.last_seal_age_ns, 3600000000000);
    assert_false(rep.open_epoch);
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "sealed epochs cut off, re-signed");
    tl_expect(F->work, &tn, EV_FAIL_TRUNCATED, s + 1, "sealed epochs cut off, re-signed");
    tl_log_free(&log);
}

/* ---- checkpoints ------------------------------------------------------------ */

/* An older copy of the directory, with its own older checkpoints, in place of the log. */
static void test_rollback(void **state)
{
    struct tl_depth t = trusted(F->v), tn = trusted(NULL), v = with_v();
    const char *later[] = {F->final_note};
    size_t later_len[] = {F->final_len};
    struct tl_depth one = {.checkpoints = later, .lens = later_len, .count = 1};
    (void)state;
    tl_fresh_copy(F->early, F->work);
    /* By itself the old copy is a valid (shorter) log: only a later checkpoint shows it. */
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "rolled back, no trusted checkpoint");
    tl_expect(F->work, &v, EV_FAIL_NONE, 0, "rolled back, no trusted checkpoint");
    tl_expect(F->work, &one, EV_FAIL_TRUNCATED, F->early_size, "rolled back");
    tl_expect(F->work, &tn, EV_FAIL_TRUNCATED, F->early_size, "rolled back");
    tl_expect(F->work, &t, EV_FAIL_TRUNCATED, F->early_size, "rolled back");
}

/* A log with the same origin made by another key replaces this one. */
static void test_other_key(void **state)
{
    char other[PATH_MAX];
    uint8_t other_v[EV_HASH_BYTES];
    struct tl_depth pinned = {.pubkey = F->vkey}, pinned_v = {.pubkey = F->vkey, .v = F->v};
    struct tl_depth orig_v = with_v(), own_v = {.v = other_v};
    (void)state;
    tl_path(other, F->base, "other");
    tl_rm_rf(other);
    tl_build(other, NULL, other_v);
    tl_expect(other, &pinned, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "another key's log, key pinned");
    tl_expect(other, &pinned_v, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "another key's log, key pinned");
    tl_expect(other, &orig_v, EV_FAIL_TAG, 0, "another key's log, original V");
    tl_expect(other, &own_v, EV_FAIL_NONE, 0, "another key's log, its own V");
    /* Its checkpoint in place of ours. */
    size_t len;
    uint8_t *note = tl_read_in(other, "checkpoint", &len);
    tl_write_in(F->work, "checkpoint", note, len);
    free(note);
    tl_expect(F->work, &no_v, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "checkpoint of another key");
    tl_rm_rf(other);
}

static char *sign_with_log_key(uint64_t size, const uint8_t root[EV_HASH_BYTES], size_t *len)
{
    struct ev_signer *signer = tl_log_signer(F->pristine);
    char *note = tl_sign_checkpoint(signer, TL_ORIGIN, size, root, len);
    ev_signer_free(signer);
    return note;
}

static void expect_trusted(const char *note, size_t len, enum ev_failure kind, uint64_t entry,
                           const char *what)
{
    const char *notes[] = {note};
    size_t lens[] = {len};
    struct tl_depth t = {.checkpoints = notes, .lens = lens, .count = 1};
    struct tl_depth tv = {.v = F->v, .checkpoints = notes, .lens = lens, .count = 1};
    tl_expect(F->work, &t, kind, entry, what);
    tl_expect(F->work, &tv, kind, entry, what);
}

/*
 * Checkpoints signed with the log's own key (stolen from the host) for a tree
 * the log is not: a fork at each kind of size.
 */
static void test_forked_checkpoint(void **state)
{
    uint64_t n = F->log.count;
    uint64_t sizes[] = {0, 1, F->early_size, F->early_size + 1, n - 1, n};
    char what[64];
    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t root[EV_HASH_BYTES];
        size_t len;
        memcpy(root, F->hashes.root[sizes[i]], sizeof(root));
        root[7] ^= 0x10;
        char *note = sign_with_log_key(sizes[i], root, &len);
        (void)snprintf(what, sizeof(what), "forked checkpoint at size %" PRIu64, sizes[i]);
        expect_trusted(note, len, EV_FAIL_FORKED, sizes[i] > 0 ? sizes[i] - 1 : TL_NO_ENTRY,
                       what);
        free(note);
        /* The honest checkpoint at that size is fine. */
        note = sign_with_log_key(sizes[i], F->hashes.root[sizes[i]], &len);
        expect_trusted(note, len, EV_FAIL_NONE, 0, "honest checkpoint");
        free(note);
    }
}

static void test_trusted_checkpoint_too_big(void **state)
{
    uint8_t root[EV_HASH_BYTES] = {1, 2, 3};
    size_t len;
    (void)state;
    char *note = sign_with_log_key(F->log.count + 3, root, &len);
    expect_trusted(note, len, EV_FAIL_TRUNCATED, F->log.count, "trusted checkpoint of a bigger tree");
    free(note);
}

static void test_trusted_checkpoint_other_key(void **state)
{
    struct ev_signer *signer = NULL;
    size_t len;
    (void)state;
    tl_ok(ev_signer_generate(TL_ORIGIN, &signer));
    char *note = tl_sign_checkpoint(signer, TL_ORIGIN, F->log.count,
                                    F->hashes.root[F->log.count], &len);
    ev_signer_free(signer);
    expect_trusted(note, len, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "trusted checkpoint, other key");
    free(note);
    /* Signed by the log's key but for another origin. */
    signer = tl_log_signer(F->pristine);
    note = tl_sign_checkpoint(signer, "another.example/log", F->log.count,
                              F->hashes.root[F->log.count], &len);
    ev_signer_free(signer);
    expect_trusted(note, len, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "trusted checkpoint, other log");
    free(note);
}

static void test_latest_checkpoint_garbage(void **state)
{
    static const char garbage[] = "this is not a signed note\n";
    (void)state;
    tl_write_in(F->work, "checkpoint", garbage, sizeof(garbage) - 1);
    expect_all(F->work, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "latest checkpoint is garbage");
    /* One byte of the signature changed. */
    uint8_t *note = malloc(F->final_len);
    assert_non_null(note);
    memcpy(note, F->final_note, F->final_len);
    note[F->final_len - 10] ^= 0x01;
    tl_write_in(F->work, "checkpoint", note, F->final_len);
    expect_all(F->work, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "latest checkpoint signature flipped");
    free(note);
    /* A byte of the first history frame's note changed (its CRC no longer holds). */
    tl_fresh_copy(F->pristine, F->work);
    size_t len;
    uint8_t *hist = tl_read_in(F->work, "checkpoints", &len);
    hist[8 + 3] ^= 0x04;
    tl_write_in(F->work, "checkpoints", hist, len);
    expect_all(F->work, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "history frame damaged");
    /* ...with its CRC recomputed: the note's signature no longer holds. */
    tl_put32(hist + 4, evi_crc32c(0, hist + 8, tl_get32(hist)));
    tl_write_in(F->work, "checkpoints", hist, len);
    expect_all(F->work, EV_FAIL_SIGNATURE, TL_NO_ENTRY, "history note changed, CRC redone");
    free(hist);
}

static void test_latest_checkpoint_deleted(void **state)
{
    (void)state;
    tl_unlink_in(F->work, "checkpoint");
    tl_unlink_in(F->work, "checkpoints");
    tl_expect(F->work, &no_v, EV_FAIL_NO_CHECKPOINT, TL_NO_ENTRY, "no checkpoint at all");
    struct tl_depth v = with_v();
    tl_expect(F->work, &v, EV_FAIL_NO_CHECKPOINT, TL_NO_ENTRY, "no checkpoint at all");
}

/*
 * With the latest checkpoint gone, the history still commits to every entry:
 * a change to the last seal outside its data (which its own checks do not
 * cover) is caught by the history's last checkpoint.
 */
static void test_history_alone_still_checks(void **state)
{
    struct tl_log log;
    size_t last = F->log.count - 1;
    struct tl_depth v = with_v();
    (void)state;
    tl_unlink_in(F->work, "checkpoint");
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "latest checkpoint deleted, history kept");
    work_log(&log);
    tl_entry_replace(&log.rec[last], "\"severity\":\"info\"", "\"severity\":\"warning\"");
    tl_log_write(F->work, &log);
    tl_expect(F->work, &no_v, EV_FAIL_ROOT, last, "last seal edited, no latest checkpoint");
    tl_expect(F->work, &v, EV_FAIL_TAG, last, "last seal edited, no latest checkpoint");
    tl_log_free(&log);
}

/*
 * Root on the host, with the signing key but not V, rewrites an entry and
 * everything that commits to it (later seals, CRCs, every checkpoint). The
 * public key alone cannot see that, by design (DESIGN.md §1: that attacker is
 * what the forward-secure tags are for). V catches it at the changed entry; a
 * checkpoint kept elsewhere catches it as a fork.
 */
static void test_root_attacker_rewrites_entry(void **state)
{
    struct tl_log log;
    size_t k = middle_event();
    struct tl_depth v = with_v();
    const char *later[] = {F->final_note};
    size_t later_len[] = {F->final_len};
    struct tl_depth t = {.checkpoints = later, .lens = later_len, .count = 1};
    (void)state;
    work_log(&log);
    tl_entry_replace(&log.rec[k], "\"data\":{\"n\":", "\"data\":{\"n\":9");
    tl_rebuild(&log, k, TL_RESEAL, F->wrong_v);
    tl_log_write(F->work, &log);
    tl_resign(F->work, &log);
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "entry rewritten, re-signed (public key only)");
    tl_expect(F->work, &v, EV_FAIL_TAG, k, "entry rewritten, re-signed");
    tl_expect(F->work, &t, EV_FAIL_FORKED, F->log.count - 1, "entry rewritten, re-signed");
    tl_log_free(&log);

    /* Without re-signing: the first seal after the entry names the old root. */
    tl_fresh_copy(F->pristine, F->work);
    work_log(&log);
    tl_entry_replace(&log.rec[k], "\"data\":{\"n\":", "\"data\":{\"n\":9");
    tl_log_write(F->work, &log);
    size_t s = k;
    while (!tl_is_seal(&F->log.rec[s])) {
        s++;
    }
    tl_expect(F->work, &no_v, EV_FAIL_ROOT, s, "entry rewritten, CRC redone");
    tl_expect(F->work, &v, EV_FAIL_TAG, k, "entry rewritten, CRC redone");
    tl_log_free(&log);
}

/*
 * Without the signing key: put an older checkpoint back as the latest, cut the
 * history to match, and rewrite entries after it (seals recomputed). The
 * directory's own checkpoints no longer cover those entries, so the public key
 * alone passes (the report shows the older checkpoint size); V and a later
 * checkpoint kept elsewhere catch it.
 */
static void test_replayed_checkpoint(void **state)
{
    struct tl_log log;
    size_t k = F->early_size + 1;
    struct tl_depth v = with_v();
    const char *later[] = {F->final_note};
    size_t later_len[] = {F->final_len};
    struct tl_depth t = {.checkpoints = later, .lens = later_len, .count = 1};
    struct ev_verify_report rep;
    (void)state;
    assert_false(tl_is_seal(&F->log.rec[k]));
    size_t len;
    uint8_t *hist = tl_read_in(F->early, "checkpoints", &len);
    tl_write_in(F->work, "checkpoints", hist, len);
    free(hist);
    tl_write_in(F->work, "checkpoint", F->early_note, F->early_len);
    work_log(&log);
    tl_entry_replace(&log.rec[k], "\"data\":{\"n\":", "\"data\":{\"n\":9");
    tl_rebuild(&log, k, TL_RESEAL, NULL);
    tl_log_write(F->work, &log);
    tl_expect_at(__FILE__, __LINE__, F->work, &no_v, EV_FAIL_NONE, 0, "old checkpoint replayed",
                 &rep);
    assert_int_equal(rep.checkpoint_size, F->early_size);
    tl_expect(F->work, &v, EV_FAIL_TAG, k, "old checkpoint replayed");
    tl_expect(F->work, &t, EV_FAIL_FORKED, F->log.count - 1, "old checkpoint replayed");
    tl_log_free(&log);
}

/* ---- segment files -------------------------------------------------------- */

static void test_segment_files(void **state)
{
    char from[PATH_MAX], to[PATH_MAX];
    struct tl_depth v = with_v();
    (void)state;
    /* Renamed: the name no longer matches the header's first index. */
    tl_path(from, F->work, TL_SEGMENT);
    tl_path(to, F->work, "segments/00000000000000000005.seg");
    assert_int_equal(rename(from, to), 0);
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, TL_NO_ENTRY, "segment renamed");
    /* ...and its header rewritten to match: the records do not start at 0. */
    uint8_t hdr[EVI_SEGMENT_HEADER];
    struct evi_segment_header h = {.first_index = 5, .created_ns = 1};
    evi_segment_header_encode(&h, hdr);
    int fd = open(to, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    assert_int_equal(close(fd), 0);
    tl_expect(F->work, &no_v, EV_FAIL_SEQUENCE, 0, "segment renamed, header rewritten");
    tl_expect(F->work, &v, EV_FAIL_SEQUENCE, 0, "segment renamed, header rewritten");

    /* A second segment appended after the log, starting at the wrong index. */
    tl_fresh_copy(F->pristine, F->work);
    uint64_t n = F->log.count;
    char name[64];
    (void)snprintf(name, sizeof(name), "segments/%020" PRIu64 ".seg", n + 1);
    h.first_index = n + 1;
    evi_segment_header_encode(&h, hdr);
    size_t first = F->log.offset[1] - F->log.offset[0];
    uint8_t *seg = malloc(sizeof(hdr) + first);
    assert_non_null(seg);
    memcpy(seg, hdr, sizeof(hdr));
    memcpy(seg + sizeof(hdr), F->segment + F->log.offset[0], first);
    tl_write_in(F->work, name, seg, sizeof(hdr) + first);
    free(seg);
    tl_expect(F->work, &no_v, EV_FAIL_SEQUENCE, n, "segment with a gap appended");
    tl_expect(F->work, &v, EV_FAIL_SEQUENCE, n, "segment with a gap appended");

    /* No segment file at all. */
    tl_fresh_copy(F->pristine, F->work);
    tl_unlink_in(F->work, TL_SEGMENT);
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, TL_NO_ENTRY, "segment deleted");
}

/* ---- crash artefacts -------------------------------------------------------- */

/*
 * Half a record after the last one the latest checkpoint covers is a crash's
 * torn tail (FORMAT.md §4, §10): reported, not a failure.
 */
static void test_torn_tail(void **state)
{
    struct ev_verify_report rep;
    size_t sizes[] = {1, 5, EVI_RECORD_PREFIX, (F->log.offset[1] - F->log.offset[0]) / 2,
                      F->log.offset[1] - F->log.offset[0] - 1};
    struct tl_depth v = with_v(), t = trusted(F->v);
    char what[64];
    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        tl_fresh_copy(F->pristine, F->work);
        /* The start of a record as the writer would have written it next. */
        tl_append_in(F->work, TL_SEGMENT, F->segment + F->log.offset[0], sizes[i]);
        (void)snprintf(what, sizeof(what), "torn tail of %zu bytes", sizes[i]);
        const struct tl_depth *depths[] = {&no_v, &v, &t};
        for (size_t d = 0; d < 3; d++) {
            tl_expect_at(__FILE__, __LINE__, F->work, depths[d], EV_FAIL_NONE, 0, what, &rep);
            assert_int_equal(rep.torn_bytes, sizes[i]);
            assert_int_equal(rep.entries, F->log.count);
        }
    }
}

/*
 * A tail of zero bytes (a crash after the file grew but before its data
 * reached the disk, or space the writer preallocated ahead of its records)
 * ends the last segment's records (FORMAT.md §3, §4): beyond the latest
 * checkpoint it fails nothing, and no torn record is reported.
 */
static void test_zero_tail_is_torn(void **state)
{
    static const uint8_t zeros[64];
    struct ev_verify_report rep;
    (void)state;
    tl_append_in(F->work, TL_SEGMENT, zeros, sizeof(zeros));
    tl_expect_at(__FILE__, __LINE__, F->work, &no_v, EV_FAIL_NONE, 0, "64 zero bytes appended",
                 &rep);
    assert_int_equal(rep.torn_bytes, 0);
    assert_int_equal(rep.entries, F->log.count);
}

/*
 * A whole last record whose bytes did not all land (bad checksum), ending at
 * the end of the file, after the latest checkpoint: also a crash's torn tail.
 * The same record followed by anything, or zeros followed by anything, is
 * damage; and inside what the checkpoint covers nothing is a torn tail.
 */
static void test_torn_tail_shapes(void **state)
{
    struct ev_verify_report rep;
    struct tl_depth v = with_v();
    size_t first = F->log.offset[1] - F->log.offset[0];
    uint8_t *rec = malloc(first + 64);
    (void)state;
    assert_non_null(rec);
    memcpy(rec, F->segment + F->log.offset[0], first);
    memset(rec + first / 2, 0, first - first / 2); /* the second half never landed */
    memset(rec + first, 0, 64);

    tl_append_in(F->work, TL_SEGMENT, rec, first);
    tl_expect_at(__FILE__, __LINE__, F->work, &no_v, EV_FAIL_NONE, 0, "whole torn record", &rep);
    assert_int_equal(rep.torn_bytes, first);
    tl_expect_at(__FILE__, __LINE__, F->work, &v, EV_FAIL_NONE, 0, "whole torn record", &rep);
    assert_int_equal(rep.torn_bytes, first);

    /* ...followed by zeros (preallocated space): still a torn tail. */
    tl_append_in(F->work, TL_SEGMENT, rec + first, 64);
    tl_expect_at(__FILE__, __LINE__, F->work, &v, EV_FAIL_NONE, 0, "torn record, then zeros",
                 &rep);
    assert_int_equal(rep.torn_bytes, first);

    /* ...with one more byte after them: not a torn tail. */
    tl_append_in(F->work, TL_SEGMENT, "x", 1);
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, F->log.count, "torn record, then a byte");
    tl_expect(F->work, &v, EV_FAIL_RECORD, F->log.count, "torn record, then a byte");

    /* Zeros, then a non-zero byte. */
    restore_segment();
    rec[first + 40] = 1;
    tl_append_in(F->work, TL_SEGMENT, rec + first, 64);
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, F->log.count, "zeros, then a byte");
    tl_expect(F->work, &v, EV_FAIL_RECORD, F->log.count, "zeros, then a byte");

    /* An impossible length that is not zero. */
    restore_segment();
    uint8_t big[EVI_RECORD_PREFIX] = {0xff, 0xff, 0x01, 0x00};
    tl_append_in(F->work, TL_SEGMENT, big, sizeof(big));
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, F->log.count, "length over 65535 at the end");

    /* The last covered record zeroed, or its second half lost: damage, not a tail. */
    size_t last = F->log.count - 1, size = F->log.offset[last + 1] - F->log.offset[last];
    restore_segment();
    uint8_t *zeros = calloc(1, size);
    assert_non_null(zeros);
    tl_pwrite_in(F->work, TL_SEGMENT, zeros, size, F->log.offset[last]);
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, last, "last covered record zeroed");
    tl_expect(F->work, &v, EV_FAIL_RECORD, last, "last covered record zeroed");
    restore_segment();
    tl_pwrite_in(F->work, TL_SEGMENT, zeros, size / 2, F->log.offset[last] + size / 2);
    tl_expect(F->work, &no_v, EV_FAIL_RECORD, last, "last covered record half lost");
    tl_expect(F->work, &v, EV_FAIL_RECORD, last, "last covered record half lost");
    free(zeros);
    free(rec);
}

/*
 * The writer appends a history frame in two writes (FORMAT.md §8: u32 length,
 * u32 CRC, then the note); a crash between them leaves an incomplete last
 * frame. That is a torn tail of the history, not a bad signature: the note it
 * would have held is not needed (the latest checkpoint file is replaced only
 * after the append), and cutting a history's tail is no more than deleting its
 * last frames, which no verifier can see anyway.
 */
static void test_history_torn_frame(void **state)
{
    uint8_t frame[8];
    size_t before, after;
    (void)state;
    free(tl_read_in(F->work, "checkpoints", &before));
    tl_put32(frame, (uint32_t)F->final_len);
    tl_put32(frame + 4, evi_crc32c(0, F->final_note, F->final_len));
    tl_append_in(F->work, "checkpoints", frame, 5);
    expect_all(F->work, EV_FAIL_NONE, 0, "history ends in part of a frame header");
    tl_truncate_in(F->work, "checkpoints", before);
    tl_append_in(F->work, "checkpoints", frame, sizeof(frame));
    expect_all(F->work, EV_FAIL_NONE, 0, "history ends in a frame header alone");
    tl_append_in(F->work, "checkpoints", F->final_note, F->final_len / 2);
    expect_all(F->work, EV_FAIL_NONE, 0, "history ends in half a frame");

    /*
     * The writer cuts the torn frame at open, so that the frames it appends
     * next start on a frame boundary and the history stays readable.
     */
    struct ev_log *w = tl_open(F->work);
    tl_append(w, 2);
    tl_ok(ev_log_seal(w));
    tl_ok(ev_log_close(w));
    uint64_t sizes[64];
    size_t frames = tl_history_sizes(F->work, sizes, 64);
    free(tl_read_in(F->work, "checkpoints", &after));
    assert_true(after > before);
    /* At open the writer also seals every 1-s epoch that passed since the log was made. */
    uint64_t size = tl_latest_size(F->work);
    assert_true(size >= F->log.count + 3);
    assert_int_equal(sizes[frames - 1], size);
    struct tl_depth v = with_v();
    tl_expect(F->work, &no_v, EV_FAIL_NONE, 0, "torn history, then written to");
    tl_expect(F->work, &v, EV_FAIL_NONE, 0, "torn history, then written to");
}

/* ---- open epoch ------------------------------------------------------------- */

static void test_open_epoch(void **state)
{
    char dir[PATH_MAX];
    uint8_t v[EV_HASH_BYTES];
    struct tl_log log;
    struct ev_verify_report rep;
    (void)state;
    /* A seal interval of an hour: no epoch can end on its own during the test. */
    tl_path(dir, F->base, "open");
    tl_rm_rf(dir);
    tl_create(dir, 3600ull * 1000000000ull, v);
    struct ev_log *w = tl_open(dir);
    tl_append(w, 2);
    tl_ok(ev_log_seal(w));
    tl_append(w, 5);
    tl_ok(ev_log_close(w));
    tl_log_read(dir, &log);
    assert_int_equal(log.count, 8);
    struct tl_envelope first = tl_envelope(log.rec[3].entry, log.rec[3].len);
    assert_int_equal(first.verdict, TL_ENV_OK);

    for (int with = 0; with < 2; with++) {
        struct ev_verify_options o = {.verification_key = with ? v : NULL,
                                      .threads = 1,
                                      .now_ns = first.ts_ns + 7000000000};
        assert_int_equal(ev_verify_dir(dir, &o, &rep), 0);
        assert_int_equal(rep.failure, EV_FAIL_NONE);
        assert_true(rep.open_epoch);
        assert_int_equal(rep.open_epoch_number, 1);
        assert_int_equal(rep.open_epoch_entries, 5);
        assert_int_equal(rep.open_epoch_since_ns, first.ts_ns);
        assert_int_equal(rep.open_epoch_age_ns, 7000000000);
        assert_int_equal(rep.epochs_sealed, 1);
        assert_true(rep.any_sealed);
        assert_int_equal(rep.last_sealed_epoch, 0);
        assert_int_equal(rep.entries, 8);
        assert_int_equal(rep.checkpoint_size, 8);
        assert_int_equal(rep.tags_checked, with);
    }
    tl_log_free(&log);
    tl_rm_rf(dir);
}

/* ---- tags checked on a second thread ---------------------------------------- */

/* Offsets of the records of a segment image (all intact); returns their count. */
static size_t segment_offsets(const uint8_t *seg, size_t len, size_t *offsets, size_t max)
{
    size_t n = 0, pos = EVI_SEGMENT_HEADER;
    while (pos < len) {
        assert_true(n < max);
        offsets[n++] = pos;
        pos += EVI_RECORD_OVERHEAD + tl_get32(seg + pos);
    }
    assert_int_equal(pos, len);
    offsets[n] = pos;
    return n;
}

/*
 * With V and threads, tags are checked on a second thread in batches of
 * records while the main pass goes on; the report must still name the first
 * bad entry, whichever pass found it. A log of several batches, damaged at and
 * around batch edges.
 */
static void test_threaded_tags_first_failure(void **state)
{
    enum { N = 5000 };
    char dir[PATH_MAX];
    uint8_t v[EV_HASH_BYTES];
    static size_t off[N + 64];
    (void)state;
    tl_path(dir, F->base, "big");
    tl_rm_rf(dir);
    tl_create(dir, 3600ull * 1000000000ull, v);
    struct ev_log *w = tl_open(dir);
    static struct ev_event events[500];
    for (size_t i = 0; i < 500; i++) {
        events[i] = (struct ev_event){.type = "exec", .severity = EV_SEV_INFO,
                                      .source_json = "{}", .data_json = "{\"k\":1}"};
    }
    for (int b = 0; b < N / 500; b++) {
        uint64_t first;
        tl_ok(ev_log_append_batch(w, events, 500, &first, NULL));
    }
    tl_ok(ev_log_close(w));
    size_t len;
    uint8_t *seg = tl_read_in(dir, TL_SEGMENT, &len);
    size_t n = segment_offsets(seg, len, off, N + 63);
    assert_int_equal(n, N);

    struct tl_depth inline_v = {.v = v, .threads = 1}, threaded = {.v = v, .threads = 2};
    struct {
        size_t bad_tag;   /* SIZE_MAX: none */
        size_t bad_crc;   /* SIZE_MAX: none */
        enum ev_failure keyed, bare;
        size_t keyed_at, bare_at;
    } cases[] = {
        {3000, SIZE_MAX, EV_FAIL_TAG, EV_FAIL_NONE, 3000, 0},
        {0, SIZE_MAX, EV_FAIL_TAG, EV_FAIL_NONE, 0, 0},
        {2047, SIZE_MAX, EV_FAIL_TAG, EV_FAIL_NONE, 2047, 0},
        {2048, SIZE_MAX, EV_FAIL_TAG, EV_FAIL_NONE, 2048, 0},
        {4096, SIZE_MAX, EV_FAIL_TAG, EV_FAIL_NONE, 4096, 0},
        {N - 1, SIZE_MAX, EV_FAIL_TAG, EV_FAIL_NONE, N - 1, 0},
        /* a bad tag early, damage later: the tag first, even if the main pass got further */
        {100, 4000, EV_FAIL_TAG, EV_FAIL_RECORD, 100, 4000},
        {2100, 2101, EV_FAIL_TAG, EV_FAIL_RECORD, 2100, 2101},
        /* damage early, a bad tag later: the damage */
        {3000, 100, EV_FAIL_RECORD, EV_FAIL_RECORD, 100, 100},
        {2049, 2049, EV_FAIL_RECORD, EV_FAIL_RECORD, 2049, 2049},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char what[96];
        uint8_t *img = malloc(len);
        assert_non_null(img);
        memcpy(img, seg, len);
        if (cases[c].bad_tag != SIZE_MAX) {
            size_t k = cases[c].bad_tag;
            uint8_t *rec = img + off[k];
            rec[EVI_RECORD_PREFIX + tl_get32(rec) + 5] ^= 0x20;
            tl_put32(rec + 4, tl_record_crc(rec, tl_get32(rec)));
        }
        if (cases[c].bad_crc != SIZE_MAX) {
            img[off[cases[c].bad_crc] + 20] ^= 0x01;
        }
        tl_write_in(dir, TL_SEGMENT, img, len);
        free(img);
        (void)snprintf(what, sizeof(what), "big log, bad tag at %zd, damage at %zd",
                       (ssize_t)cases[c].bad_tag, (ssize_t)cases[c].bad_crc);
        tl_expect(dir, &inline_v, cases[c].keyed, cases[c].keyed_at, what);
        tl_expect(dir, &threaded, cases[c].keyed, cases[c].keyed_at, what);
        tl_expect(dir, &no_v, cases[c].bare, cases[c].bare_at, what);
    }
    free(seg);
    tl_rm_rf(dir);
}

/* ---- verification is read-only ---------------------------------------------- */

static void verify_all_depths(const char *dir)
{
    struct ev_verify_report rep;
    struct tl_depth v = with_v(), t = trusted(F->v);
    (void)tl_verify(dir, &no_v, &rep);
    (void)tl_verify(dir, &v, &rep);
    (void)tl_verify(dir, &t, &rep);
}

static void assert_unchanged_by_verify(const char *what)
{
    char *before = tl_fingerprint(F->work);
    verify_all_depths(F->work);
    char *after = tl_fingerprint(F->work);
    if (strcmp(before, after) != 0) {
        fail_msg("%s: verification changed the directory:\n%s---\n%s", what, before, after);
    }
    free(before);
    free(after);
}

static void test_verify_never_writes(void **state)
{
    (void)state;
    assert_unchanged_by_verify("untouched log");

    uint8_t b = (uint8_t)(F->segment[F->log.offset[2] + 20] ^ 0x08);
    tl_pwrite_in(F->work, TL_SEGMENT, &b, 1, F->log.offset[2] + 20);
    assert_unchanged_by_verify("bit flipped");

    tl_fresh_copy(F->pristine, F->work);
    tl_append_in(F->work, TL_SEGMENT, F->segment + F->log.offset[0], 20);
    assert_unchanged_by_verify("torn tail");

    tl_fresh_copy(F->pristine, F->work);
    tl_truncate_in(F->work, TL_SEGMENT, F->log.offset[F->log.count - 2]);
    assert_unchanged_by_verify("truncated");

    tl_fresh_copy(F->pristine, F->work);
    tl_unlink_in(F->work, "checkpoint");
    tl_unlink_in(F->work, "checkpoints");
    assert_unchanged_by_verify("no checkpoint");
}

/* ---- entry grammar ------------------------------------------------------------ */

/*
 * FORMAT.md §5: a type is 1..64 characters of [a-z0-9_.:-] "starting with a
 * letter" (the writer refuses others). One bit turns "seal" into "3eal" and
 * "container" into ".ontainer"; such an entry is malformed and should be
 * reported as such (EV_FAIL_ENTRY), not as the tag or root it also breaks.
 */
static void test_type_must_start_with_letter(void **state)
{
    struct tl_log log;
    struct tl_depth v = with_v();
    size_t s = tl_seal_index(&F->log, 0);
    (void)state;
    work_log(&log);
    tl_entry_replace(&log.rec[s], "\"type\":\"seal\"", "\"type\":\"3eal\"");
    tl_log_write(F->work, &log);
    tl_log_free(&log);
    tl_expect(F->work, &no_v, EV_FAIL_ENTRY, s, "type 3eal");
    tl_expect(F->work, &v, EV_FAIL_ENTRY, s, "type 3eal");
}

/*
 * FORMAT.md §5: ts is the writer's clock, an int64 count of ns since 1970
 * (§2, §7), so no ts after 2262-04-11T23:47:16.854775807Z is well formed. One
 * bit turns the year 2026 into 3026: the entry is malformed (EV_FAIL_ENTRY),
 * and reading it must not overflow (secs * 1000000000 does, in
 * evi_ts_parse_exact: UndefinedBehaviorSanitizer reports it).
 */
static void test_ts_beyond_int64_ns(void **state)
{
    struct tl_log log;
    struct tl_depth v = with_v();
    size_t k = middle_event();
    (void)state;
    work_log(&log);
    tl_entry_replace(&log.rec[k], "\"ts\":\"2", "\"ts\":\"3");
    assert_int_equal(tl_envelope(log.rec[k].entry, log.rec[k].len).verdict, TL_ENV_MALFORMED);
    tl_log_write(F->work, &log);
    tl_log_free(&log);
    tl_expect(F->work, &no_v, EV_FAIL_ENTRY, k, "ts in the year 3026");
    tl_expect(F->work, &v, EV_FAIL_ENTRY, k, "ts in the year 3026");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_shape, fresh),
        cmocka_unit_test_setup(test_clean_passes, fresh),
        cmocka_unit_test_setup(test_forger_reproduces_writer, fresh),
        cmocka_unit_test_setup(test_flip_every_record_bit, fresh),
        cmocka_unit_test_setup(test_flip_segment_header_bit, fresh),
        cmocka_unit_test_setup(test_flip_segment_header_recrc, fresh),
        cmocka_unit_test_setup(test_flip_entry_bits_recrc, fresh),
        cmocka_unit_test_setup(test_flip_entry_bits_recrc_history, fresh),
        cmocka_unit_test_setup(test_flip_tag_bits_recrc, fresh),
        cmocka_unit_test_setup(test_flip_epoch_bits_recrc, fresh),
        cmocka_unit_test_setup(test_flip_length_bits_recrc, fresh),
        cmocka_unit_test_setup(test_truncate_at_every_boundary, fresh),
        cmocka_unit_test_setup(test_truncate_inside_records, fresh),
        cmocka_unit_test_setup(test_drop_record, fresh),
        cmocka_unit_test_setup(test_duplicate_record, fresh),
        cmocka_unit_test_setup(test_swap_records, fresh),
        cmocka_unit_test_setup(test_drop_last_seal, fresh),
        cmocka_unit_test_setup(test_drop_middle_seal, fresh),
        cmocka_unit_test_setup(test_drop_seal_and_rewrite, fresh),
        cmocka_unit_test_setup(test_drop_seal_merge_epochs, fresh),
        cmocka_unit_test_setup(test_remove_epoch, fresh),
        cmocka_unit_test_setup(test_forged_seal_contents, fresh),
        cmocka_unit_test_setup(test_forged_seal_malformed, fresh),
        cmocka_unit_test_setup(test_record_after_seal, fresh),
        cmocka_unit_test_setup(test_epoch_backwards, fresh),
        cmocka_unit_test_setup(test_epoch_skipped, fresh),
        cmocka_unit_test_setup(test_ts_backwards, fresh),
        cmocka_unit_test_setup(test_ts_equal_passes, fresh),
        cmocka_unit_test_setup(test_ts_leap_second_malformed, fresh),
        cmocka_unit_test_setup(test_ts_backwards_encrypted, fresh),
        cmocka_unit_test_setup(test_cut_at_seal_boundary_resigned, fresh),
        cmocka_unit_test_setup(test_rollback, fresh),
        cmocka_unit_test_setup(test_other_key, fresh),
        cmocka_unit_test_setup(test_forked_checkpoint, fresh),
        cmocka_unit_test_setup(test_trusted_checkpoint_too_big, fresh),
        cmocka_unit_test_setup(test_trusted_checkpoint_other_key, fresh),
        cmocka_unit_test_setup(test_latest_checkpoint_garbage, fresh),
        cmocka_unit_test_setup(test_latest_checkpoint_deleted, fresh),
        cmocka_unit_test_setup(test_history_alone_still_checks, fresh),
        cmocka_unit_test_setup(test_root_attacker_rewrites_entry, fresh),
        cmocka_unit_test_setup(test_replayed_checkpoint, fresh),
        cmocka_unit_test_setup(test_segment_files, fresh),
        cmocka_unit_test_setup(test_torn_tail, fresh),
        cmocka_unit_test_setup(test_zero_tail_is_torn, fresh),
        cmocka_unit_test_setup(test_torn_tail_shapes, fresh),
        cmocka_unit_test_setup(test_history_torn_frame, fresh),
        cmocka_unit_test_setup(test_open_epoch, fresh),
        cmocka_unit_test_setup(test_threaded_tags_first_failure, fresh),
        cmocka_unit_test_setup(test_verify_never_writes, fresh),
        cmocka_unit_test_setup(test_type_must_start_with_letter, fresh),
        cmocka_unit_test_setup(test_ts_beyond_int64_ns, fresh),
    };
    const char *filter = getenv("EV_TEST_FILTER"); /* e.g. "test_flip_*" */
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
