/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ev_verify_dir on intact logs: what the report says (include/evident/verify.h)
 * at each depth, the names of the failure kinds, the return codes for a
 * log that cannot be checked, and a verification its caller stops (-ECANCELED,
 * nothing judged). The damage cases are in test-tamper.c.
 */
#include "tamperutil.h"

struct fixture {
    char base[PATH_MAX];
    char log[PATH_MAX];
    char early[PATH_MAX];
    char work[PATH_MAX];
    uint8_t v[EV_HASH_BYTES];
    char *vkey;
    char *final_note, *early_note;
    size_t final_len, early_len;
    struct tl_log records;
    struct tl_hashes hashes;
};

static struct fixture *F;

static int group_setup(void **state)
{
    (void)state;
    F = calloc(1, sizeof(*F));
    assert_non_null(F);
    tl_tmpdir(F->base);
    tl_path(F->log, F->base, "log");
    tl_path(F->early, F->base, "early");
    tl_path(F->work, F->base, "work");
    tl_build(F->log, F->early, F->v);
    F->vkey = tl_log_vkey(F->log);
    F->final_note = (char *)tl_read_in(F->log, "checkpoint", &F->final_len);
    F->early_note = (char *)tl_read_in(F->early, "checkpoint", &F->early_len);
    tl_log_read(F->log, &F->records);
    tl_hashes(&F->records, &F->hashes);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tl_log_free(&F->records);
    free(F->vkey);
    free(F->final_note);
    free(F->early_note);
    tl_rm_rf(F->base);
    free(F);
    return 0;
}

static struct ev_verify_report verify_ok(const char *dir, const struct ev_verify_options *o)
{
    struct ev_verify_report rep;
    memset(&rep, 0xa5, sizeof(rep)); /* every field must be written */
    int r = ev_verify_dir(dir, o, &rep);
    if (r != 0) {
        fail_msg("verify '%s' = %d (%s): %s [%s]", dir, r, ev_strerror(r), ev_last_error(),
                 rep.detail);
    }
    assert_int_equal(rep.failure, EV_FAIL_NONE);
    assert_false(rep.has_entry);
    return rep;
}

/* The report of the small log: three sealed epochs, every entry in the latest checkpoint. */
static void assert_clean_report(const struct ev_verify_report *rep, bool tags, uint64_t trusted)
{
    uint64_t n = F->records.count;
    assert_int_equal(rep->entries, n);
    assert_int_equal(rep->checkpoint_size, n);
    assert_memory_equal(rep->root, F->hashes.root[n], EV_HASH_BYTES);
    assert_int_equal(rep->tags_checked, tags);
    assert_int_equal(rep->trusted_checked, trusted);
    assert_int_equal(rep->epochs_sealed, tl_seal_count(&F->records));
    assert_int_equal(rep->epochs_sealed, F->records.rec[n - 1].epoch + 1);
    /* The last record is the last seal. */
    struct tl_envelope last = tl_envelope(F->records.rec[n - 1].entry, F->records.rec[n - 1].len);
    assert_true(rep->any_sealed);
    assert_int_equal(rep->last_sealed_epoch, F->records.rec[n - 1].epoch);
    assert_int_equal(rep->last_seal_ns, last.ts_ns);
    assert_true(rep->last_seal_age_ns >= 0);
    assert_false(rep->open_epoch);
    assert_int_equal(rep->open_epoch_number, 0);
    assert_int_equal(rep->open_epoch_entries, 0);
    assert_int_equal(rep->open_epoch_since_ns, 0);
    assert_int_equal(rep->open_epoch_age_ns, 0);
    assert_int_equal(rep->torn_bytes, 0);
}

static void test_report_public_key_only(void **state)
{
    struct ev_verify_options o = {.threads = 1};
    (void)state;
    struct ev_verify_report rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, false, 0);
    assert_true(tl_seal_count(&F->records) >= 3);
    /* The age of the last seal against a given clock. */
    o.now_ns = rep.last_seal_ns + 42;
    rep = verify_ok(F->log, &o);
    assert_int_equal(rep.last_seal_age_ns, 42);
}

static void test_report_with_v(void **state)
{
    struct ev_verify_options o = {.verification_key = F->v, .threads = 1};
    (void)state;
    struct ev_verify_report rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, true, 0);
    /* threads = 0 (online CPUs) and several threads say the same. */
    o.threads = 0;
    rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, true, 0);
    o.threads = 4;
    rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, true, 0);
}

static void test_report_trusted(void **state)
{
    const char *notes[] = {F->early_note, F->final_note, F->final_note};
    size_t lens[] = {F->early_len, F->final_len, F->final_len};
    struct ev_verify_options o = {.verification_key = F->v,
                                  .checkpoints = notes,
                                  .checkpoint_lens = lens,
                                  .checkpoint_count = 3,
                                  .threads = 1};
    (void)state;
    struct ev_verify_report rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, true, 3);
    o.verification_key = NULL;
    o.checkpoint_count = 1;
    rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, false, 1);
}

static void test_null_options_and_pinned_key(void **state)
{
    struct ev_verify_report rep;
    (void)state;
    assert_int_equal(ev_verify_dir(F->log, NULL, &rep), 0);
    assert_clean_report(&rep, false, 0);
    struct ev_verify_options o = {.pubkey = F->vkey, .verification_key = F->v};
    rep = verify_ok(F->log, &o);
    assert_clean_report(&rep, true, 0);
}

/* A bad pinned key cannot check anything: a negative code, but not "verification failed". */
static void test_malformed_pubkey(void **state)
{
    static const char *const keys[] = {"", "nonsense", TL_ORIGIN "+00000000+AAAA"};
    struct ev_verify_report rep;
    (void)state;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct ev_verify_options o = {.pubkey = keys[i]};
        int r = ev_verify_dir(F->log, &o, &rep);
        assert_true(r < 0);
        assert_int_not_equal(r, EV_EVERIFY);
        assert_int_equal(rep.failure, EV_FAIL_NONE);
    }
}

static void test_empty_log(void **state)
{
    char dir[PATH_MAX];
    uint8_t v[EV_HASH_BYTES], empty[EV_HASH_BYTES];
    (void)state;
    tl_path(dir, F->base, "empty");
    tl_create(dir, 0, v);
    ev_empty_root(empty);
    for (int with = 0; with < 2; with++) {
        struct ev_verify_options o = {.verification_key = with ? v : NULL};
        struct ev_verify_report rep = verify_ok(dir, &o);
        assert_int_equal(rep.entries, 0);
        assert_int_equal(rep.checkpoint_size, 0);
        assert_memory_equal(rep.root, empty, EV_HASH_BYTES);
        assert_int_equal(rep.epochs_sealed, 0);
        assert_false(rep.any_sealed);
        assert_int_equal(rep.last_sealed_epoch, 0);
        assert_int_equal(rep.last_seal_ns, 0);
        assert_int_equal(rep.last_seal_age_ns, 0);
        assert_false(rep.open_epoch);
        assert_int_equal(rep.tags_checked, with);
    }
    tl_rm_rf(dir);
}

/*
 * A writer that is still running: entries after the latest checkpoint, the
 * writer holding its lock. The verifier takes no lock, reads what is durable,
 * and reports the open epoch with its exact entry count and age.
 */
static void test_open_epoch_while_writing(void **state)
{
    char dir[PATH_MAX];
    uint8_t v[EV_HASH_BYTES];
    struct tl_log log;
    (void)state;
    tl_path(dir, F->base, "live");
    tl_create(dir, 3600ull * 1000000000ull, v); /* no epoch ends by itself here */
    struct ev_log *w = tl_open(dir);
    tl_append(w, 2);
    tl_ok(ev_log_seal(w));
    tl_append(w, 1);
    tl_ok(ev_log_seal(w));
    tl_append(w, 3);  /* durable (sync always), not yet in a checkpoint */

    tl_log_read(dir, &log);
    assert_int_equal(log.count, 8);
    struct tl_hashes *h = malloc(sizeof(*h));
    assert_non_null(h);
    tl_hashes(&log, h);
    struct tl_envelope first = tl_envelope(log.rec[5].entry, log.rec[5].len);
    struct tl_envelope seal = tl_envelope(log.rec[4].entry, log.rec[4].len);
    assert_int_equal(first.verdict, TL_ENV_OK);
    assert_string_equal(seal.type, "seal");
    for (int with = 0; with < 2; with++) {
        struct ev_verify_options o = {.verification_key = with ? v : NULL,
                                      .now_ns = first.ts_ns + 1500000000};
        struct ev_verify_report rep = verify_ok(dir, &o);
        assert_int_equal(rep.entries, 8);
        assert_int_equal(rep.checkpoint_size, 5);
        assert_int_equal(rep.epochs_sealed, 2);
        assert_true(rep.open_epoch);
        assert_int_equal(rep.open_epoch_number, 2);
        assert_int_equal(rep.open_epoch_entries, 3);
        assert_int_equal(rep.open_epoch_since_ns, first.ts_ns);
        assert_int_equal(rep.open_epoch_age_ns, 1500000000);
        assert_true(rep.any_sealed);
        assert_int_equal(rep.last_sealed_epoch, 1);
        assert_int_equal(rep.last_seal_ns, seal.ts_ns);
        assert_int_equal(rep.last_seal_age_ns, first.ts_ns + 1500000000 - seal.ts_ns);
        assert_memory_equal(rep.root, h->root[8], EV_HASH_BYTES);
    }
    /* now_ns = 0 reads the clock: the age is that of entries written just now. */
    struct ev_verify_options o = {0};
    struct ev_verify_report rep = verify_ok(dir, &o);
    assert_true(rep.open_epoch_age_ns >= 0);
    assert_true(rep.open_epoch_age_ns < 600ll * 1000000000ll);

    tl_ok(ev_log_close(w));
    rep = verify_ok(dir, &o);
    assert_int_equal(rep.checkpoint_size, 8);
    assert_true(rep.open_epoch);
    assert_int_equal(rep.open_epoch_entries, 3);
    free(h);
    tl_log_free(&log);
    tl_rm_rf(dir);
}

/* A failed verification still fills in what it read. */
static void test_report_on_failure(void **state)
{
    struct ev_verify_report rep;
    uint64_t k = F->records.count - 2;
    struct ev_verify_options o = {.threads = 1};
    (void)state;
    tl_fresh_copy(F->log, F->work);
    tl_truncate_in(F->work, TL_SEGMENT, F->records.offset[k]);
    assert_int_equal(ev_verify_dir(F->work, &o, &rep), EV_EVERIFY);
    assert_int_equal(rep.failure, EV_FAIL_TRUNCATED);
    assert_true(rep.has_entry);
    assert_int_equal(rep.entry, k);
    assert_int_equal(rep.entries, k);
    assert_int_equal(rep.checkpoint_size, F->records.count);
    assert_memory_equal(rep.root, F->hashes.root[k], EV_HASH_BYTES);
    assert_true(strlen(rep.detail) > 0);
    assert_non_null(strstr(ev_last_error(), rep.detail));
    tl_rm_rf(F->work);
}

static void test_failure_names(void **state)
{
    const char *names[EV_FAIL_TS_BACKWARDS + 1];
    (void)state;
    for (int f = EV_FAIL_NONE; f <= EV_FAIL_TS_BACKWARDS; f++) {
        names[f] = ev_failure_name((enum ev_failure)f);
        assert_non_null(names[f]);
        assert_true(strlen(names[f]) > 0);
        assert_string_not_equal(names[f], "unknown");
        for (int g = EV_FAIL_NONE; g < f; g++) {
            assert_string_not_equal(names[f], names[g]);
        }
    }
    /* The stable numbers of verify.h. */
    assert_int_equal(EV_FAIL_RECORD, 1);
    assert_int_equal(EV_FAIL_TAG, 4);
    assert_int_equal(EV_FAIL_SIGNATURE, 7);
    assert_int_equal(EV_FAIL_TRUNCATED, 12);
    assert_int_equal(EV_FAIL_NO_CHECKPOINT, 14);
    assert_int_equal(EV_FAIL_PRUNED, 15);
    assert_int_equal(EV_FAIL_TS_BACKWARDS, 16);
    assert_string_equal(ev_failure_name(EV_FAIL_TS_BACKWARDS), "ts went backwards");
    assert_string_equal(ev_failure_name(EV_FAIL_NONE), "none");
    assert_string_equal(ev_failure_name(EV_FAIL_RECORD), "record damaged");
    assert_non_null(ev_failure_name((enum ev_failure)99));
    assert_non_null(ev_failure_name((enum ev_failure)-1));
}

/* ev_verify_options.stop: what it was asked, and when to answer "stop". */
struct stops {
    uint64_t stop_at; /* stop at the first call with at least this many entries checked */
    int calls;
    uint64_t seen[64];
};

static int stop_at(void *arg, uint64_t entries)
{
    struct stops *s = arg;
    if (s->calls < 64) {
        s->seen[s->calls] = entries;
    }
    s->calls++;
    return entries >= s->stop_at;
}

/*
 * The stop callback is asked before each batch of records, first with 0,
 * with the entries checked so far. Never stopping, the log verifies. Stopped
 * after the first batch, ev_verify_dir returns -ECANCELED having judged
 * nothing: no failure kind, even when damage lies further on, and the report
 * counts the entries checked before the stop.
 */
static void test_stop(void **state)
{
    char dir[PATH_MAX], seg[PATH_MAX];
    uint8_t v[EV_HASH_BYTES];
    struct ev_verify_report rep;
    (void)state;
    tl_path(dir, F->base, "long");
    tl_create(dir, 0, v);
    struct ev_log *log = tu_open(dir, &(struct ev_open_options){.sync = EV_SYNC_NEVER});
    tu_append_n(log, 10000, "long"); /* more than one batch of records */
    tl_ok(ev_log_checkpoint(log));
    uint64_t total = ev_log_size(log);
    tl_ok(ev_log_close(log));

    struct stops never = {.stop_at = UINT64_MAX};
    struct ev_verify_options o = {.stop = stop_at, .stop_arg = &never};
    rep = verify_ok(dir, &o);
    assert_int_equal(rep.entries, total);
    assert_true(never.calls >= 2 && never.calls <= 64);
    assert_int_equal(never.seen[0], 0);
    for (int k = 1; k < never.calls; k++) {
        assert_true(never.seen[k] > never.seen[k - 1]);
    }
    assert_true(never.seen[never.calls - 1] < total);

    for (int damaged = 0; damaged < 2; damaged++) {
        if (damaged) {
            /* An entry near the end no longer matches its record's checksum. */
            size_t len = 0;
            uint8_t *data = tu_read(tu_last_segment(dir, seg), &len);
            uint8_t *at = memmem(data, len, "\"n\":9990,", 9);
            assert_non_null(at);
            tu_flip(seg, (uint64_t)(at - data) + 4, 0x01);
            free(data);
            assert_int_equal(ev_verify_dir(dir, NULL, &rep), EV_EVERIFY);
            assert_int_equal(rep.failure, EV_FAIL_RECORD);
        }
        struct stops early = {.stop_at = 1};
        o.stop_arg = &early;
        memset(&rep, 0xa5, sizeof(rep));
        assert_int_equal(ev_verify_dir(dir, &o, &rep), -ECANCELED);
        assert_int_equal(early.calls, 2); /* 0 entries: go on; the first batch's: stop */
        assert_int_equal(early.seen[0], 0);
        assert_true(early.seen[1] > 0 && early.seen[1] < total);
        assert_int_equal(rep.entries, early.seen[1]);
        assert_int_equal(rep.failure, EV_FAIL_NONE);
        assert_false(rep.has_entry);
    }
    tl_rm_rf(dir);
}

/* Nothing to check: a negative code that is not EV_EVERIFY, and no failure kind. */
static void test_cannot_check(void **state)
{
    struct ev_verify_report rep;
    char path[PATH_MAX], dir[PATH_MAX];
    (void)state;

    int r = ev_verify_dir(tl_path(path, F->base, "no-such-dir"), NULL, &rep);
    assert_int_equal(r, -ENOENT);
    assert_int_equal(rep.failure, EV_FAIL_NONE);

    r = ev_verify_dir(tl_path(path, F->log, "evident.meta"), NULL, &rep);
    assert_true(r < 0);
    assert_int_not_equal(r, EV_EVERIFY);
    assert_int_equal(rep.failure, EV_FAIL_NONE);

    tl_path(dir, F->base, "not-a-log");
    assert_int_equal(mkdir(dir, 0700), 0);
    r = ev_verify_dir(dir, NULL, &rep);
    assert_true(r < 0);
    assert_int_not_equal(r, EV_EVERIFY);
    assert_int_equal(rep.failure, EV_FAIL_NONE);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_public_key_only),
        cmocka_unit_test(test_report_with_v),
        cmocka_unit_test(test_report_trusted),
        cmocka_unit_test(test_null_options_and_pinned_key),
        cmocka_unit_test(test_malformed_pubkey),
        cmocka_unit_test(test_empty_log),
        cmocka_unit_test(test_open_epoch_while_writing),
        cmocka_unit_test(test_report_on_failure),
        cmocka_unit_test(test_failure_names),
        cmocka_unit_test(test_cannot_check),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
