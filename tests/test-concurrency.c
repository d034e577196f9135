/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Many threads on one writer handle (include/evident/log.h: "every function
 * ... may be called from any thread concurrently"), in both sync modes, with
 * readers on their own read-only handles reading, scanning and proving while
 * the writer writes (and, in the _rotating tests, rotates segments). Checks exact totals, distinct and
 * ordered indexes, the entry behind every index, and verification with V.
 *
 * cmocka's asserts are not thread-safe: threads record their first failure
 * as text and the main thread fails the test with it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include <evident/note.h>

#include "store.h"
#include "testutil.h"

#define HASH EV_HASH_BYTES
#define CP(proof) ((const uint8_t(*)[HASH])(proof))

#define THREADS 8
#define PER_THREAD 2000
#define READERS 3
#define BATCH_THREADS 4
#define BATCHES 100
#define BATCH_SIZE 10
#define ROTATING_SEGMENT_BYTES (256 * 1024)

struct failure {
    char text[512];
    bool set;
};

static void record_failure(struct failure *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void record_failure(struct failure *f, const char *fmt, ...)
{
    va_list ap;
    if (f->set) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(f->text, sizeof(f->text), fmt, ap);
    va_end(ap);
    f->set = true;
}

static void assert_no_failure(const struct failure *f)
{
    if (f->set) {
        fail_msg("%s", f->text);
    }
}

/* ---- writers ------------------------------------------------------------ */

struct writer {
    pthread_t thread;
    struct ev_log *log;
    int id;
    uint64_t *indexes;              /* PER_THREAD, or BATCHES first indexes */
    struct failure failure;
};

static void *append_thread(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char data[64];
        (void)snprintf(data, sizeof(data), "{\"t\":%d,\"i\":%d}", w->id, i);
        struct ev_event ev = {.type = "conc", .severity = EV_SEV_INFO, .source_json = "{}",
                              .data_json = data};
        int r = ev_log_append(w->log, &ev, &w->indexes[i]);
        if (r != 0) {
            record_failure(&w->failure, "thread %d append %d: %d (%s): %s", w->id, i, r,
                           ev_strerror(r), ev_last_error());
            break;
        }
    }
    return NULL;
}

/* 50 appends (the rounds of test_checkpoints_from_threads). */
static void *append_few_thread(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < 50; i++) {
        struct ev_event ev = {.type = "cp", .severity = EV_SEV_INFO, .source_json = "{}"};
        int r = ev_log_append(w->log, &ev, NULL);
        if (r != 0) {
            record_failure(&w->failure, "thread %d append %d: %d (%s): %s", w->id, i, r,
                           ev_strerror(r), ev_last_error());
            break;
        }
    }
    return NULL;
}

static void *batch_thread(void *arg)
{
    struct writer *w = arg;
    for (int b = 0; b < BATCHES; b++) {
        char data[BATCH_SIZE][64];
        struct ev_event ev[BATCH_SIZE];
        for (int k = 0; k < BATCH_SIZE; k++) {
            (void)snprintf(data[k], sizeof(data[k]), "{\"t\":%d,\"i\":%d}", w->id,
                           b * BATCH_SIZE + k);
            ev[k] = (struct ev_event){.type = "batch", .severity = EV_SEV_NOTICE,
                                      .source_json = "{}", .data_json = data[k]};
        }
        size_t bad = 0;
        int r = ev_log_append_batch(w->log, ev, BATCH_SIZE, &w->indexes[b], &bad);
        if (r != 0) {
            record_failure(&w->failure, "thread %d batch %d: %d (%s): %s", w->id, b, r,
                           ev_strerror(r), ev_last_error());
            break;
        }
    }
    return NULL;
}

/* ---- readers ------------------------------------------------------------ */

struct reader {
    pthread_t thread;
    const char *dir;
    atomic_bool *done;
    uint64_t seed;
    uint64_t reads, scans, proofs;  /* work done, for the record */
    struct failure failure;
};

struct scan_check {
    uint64_t next;
    struct failure *failure;
};

/* Scanned entries come in order, each with its own seq. */
static int scan_check_visit(void *ctx, const struct ev_entry *entry)
{
    struct scan_check *c = ctx;
    char head[64];
    int h = snprintf(head, sizeof(head), "{\"v\":1,\"seq\":%" PRIu64 ",", c->next);
    if (entry->index != c->next || entry->len < (size_t)h ||
        memcmp(entry->bytes, head, (size_t)h) != 0 || strlen(entry->bytes) != entry->len) {
        record_failure(c->failure, "scan: expected entry %" PRIu64 ", got index %" PRIu64
                       " bytes '%.40s'", c->next, entry->index, entry->bytes);
        return 1;
    }
    c->next++;
    return 0;
}

/* One pass of a reader: refresh, then read, scan and prove what it now sees. */
static bool reader_pass(struct reader *rd, struct ev_log *log, uint64_t *seen,
                        uint8_t seen_root[HASH])
{
    struct failure *fl = &rd->failure;
    uint8_t root[HASH], proof[EV_MAX_PROOF][HASH];
    size_t len;
    int r;

    if ((r = ev_log_refresh(log)) != 0) {
        record_failure(fl, "refresh: %d (%s): %s", r, ev_strerror(r), ev_last_error());
        return false;
    }
    uint64_t n = ev_log_size(log);
    if (n < *seen) {
        record_failure(fl, "size went back from %" PRIu64 " to %" PRIu64, *seen, n);
        return false;
    }
    if (n == 0) {
        return true;
    }
    /* The new view extends the old one: consistency proof against the old root. */
    if ((r = ev_log_root(log, n, root)) != 0) {
        record_failure(fl, "root %" PRIu64 ": %d (%s): %s", n, r, ev_strerror(r),
                       ev_last_error());
        return false;
    }
    if (*seen > 0) {
        if ((r = ev_log_prove_consistency(log, *seen, n, proof, &len)) != 0 ||
            (r = ev_merkle_verify_consistency(*seen, n, seen_root, root, CP(proof), len)) !=
                0) {
            record_failure(fl, "view %" PRIu64 " -> %" PRIu64 " not consistent: %d (%s)", *seen,
                           n, r, ev_strerror(r));
            return false;
        }
        rd->proofs++;
    }
    *seen = n;
    memcpy(seen_root, root, HASH);

    /* A random entry, whole, with its inclusion proof. */
    uint64_t i = tu_next_random(&rd->seed) % n;
    struct ev_entry *e = NULL;
    char head[64];
    int h = snprintf(head, sizeof(head), "{\"v\":1,\"seq\":%" PRIu64 ",", i);
    if ((r = ev_log_entry(log, i, &e)) != 0) {
        record_failure(fl, "entry %" PRIu64 " of %" PRIu64 ": %d (%s): %s", i, n, r,
                       ev_strerror(r), ev_last_error());
        return false;
    }
    bool ok = e->index == i && e->len >= (size_t)h && memcmp(e->bytes, head, (size_t)h) == 0 &&
              e->bytes[e->len - 1] == '}';
    if (ok) {
        ok = ev_log_prove_inclusion(log, i, n, proof, &len) == 0 &&
             ev_merkle_verify_inclusion(i, n, e->leaf_hash, CP(proof), len, root) == 0;
    }
    if (!ok) {
        record_failure(fl, "entry %" PRIu64 " of %" PRIu64 " is wrong: '%.60s'", i, n, e->bytes);
    }
    ev_entry_free(e);
    rd->reads++;
    if (!ok) {
        return false;
    }

    /* The newest entries, in order. */
    struct scan_check c = {.next = n > 64 ? n - 64 : 0, .failure = fl};
    struct ev_filter all = {.max_severity = -1};
    if ((r = ev_log_scan(log, c.next, n, &all, scan_check_visit, &c)) != 0 || c.next != n) {
        record_failure(fl, "scan to %" PRIu64 " stopped at %" PRIu64 ": %d (%s): %s", n, c.next,
                       r, ev_strerror(r), ev_last_error());
        return false;
    }
    rd->scans++;
    return true;
}

static void *reader_thread(void *arg)
{
    struct reader *rd = arg;
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = NULL;
    uint64_t seen = 0;
    uint8_t seen_root[HASH];
    int r = ev_log_open(rd->dir, &ro, &log);

    if (r != 0) {
        record_failure(&rd->failure, "reader open: %d (%s): %s", r, ev_strerror(r),
                       ev_last_error());
        return NULL;
    }
    while (!atomic_load(rd->done)) {
        if (!reader_pass(rd, log, &seen, seen_root)) {
            break;
        }
    }
    if (!rd->failure.set) {
        (void)reader_pass(rd, log, &seen, seen_root); /* once more, after the writers */
    }
    (void)ev_log_close(log);
    return NULL;
}

/* ---- checking the result ------------------------------------------------ */

struct owner {
    int thread, i;
};

struct content_check {
    const struct owner *owners;
    uint64_t next;
    struct failure failure;
};

/* Entry `index` holds exactly the event its appender was told it got. */
static int content_visit(void *ctx, const struct ev_entry *entry)
{
    struct content_check *c = ctx;
    const struct owner *o = &c->owners[entry->index];
    char tail[64];
    int n = snprintf(tail, sizeof(tail), "\"source\":{},\"data\":{\"i\":%d,\"t\":%d}}", o->i,
                     o->thread);
    if (entry->index != c->next || entry->len < (size_t)n ||
        memcmp(entry->bytes + entry->len - (size_t)n, tail, (size_t)n) != 0) {
        record_failure(&c->failure, "entry %" PRIu64 " is '%s', expected it to end in '%s'",
                       entry->index, entry->bytes, tail);
        return 1;
    }
    c->next++;
    return 0;
}

static void check_content(struct ev_log *log, const struct owner *owners, uint64_t total)
{
    struct content_check c = {.owners = owners};
    assert_int_equal(ev_log_size(log), total);
    tu_ok(ev_log_scan(log, 0, total, NULL, content_visit, &c));
    assert_no_failure(&c.failure);
    assert_int_equal(c.next, total);
}

static void run_appenders(struct tu_fixture *f, enum ev_sync sync, uint64_t segment_bytes)
{
    struct writer w[THREADS];
    struct reader rd[READERS];
    atomic_bool done = false;
    const uint64_t total = (uint64_t)THREADS * PER_THREAD;

    tu_create(f->dir, 0, f->v);
    struct ev_open_options o = {.sync = sync, .segment_bytes = segment_bytes};
    struct ev_log *log = tu_open(f->dir, &o);

    for (int r = 0; r < READERS; r++) {
        rd[r] = (struct reader){.dir = f->dir, .done = &done, .seed = 0x1234567 + (uint64_t)r};
        assert_int_equal(pthread_create(&rd[r].thread, NULL, reader_thread, &rd[r]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){.log = log, .id = t};
        w[t].indexes = calloc(PER_THREAD, sizeof(uint64_t));
        assert_non_null(w[t].indexes);
        assert_int_equal(pthread_create(&w[t].thread, NULL, append_thread, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(w[t].thread, NULL), 0);
    }
    if (sync == EV_SYNC_NEVER) {
        tu_ok(ev_log_sync(log)); /* let the readers' last pass see everything */
    }
    atomic_store(&done, true);
    for (int r = 0; r < READERS; r++) {
        assert_int_equal(pthread_join(rd[r].thread, NULL), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_no_failure(&w[t].failure);
    }
    for (int r = 0; r < READERS; r++) {
        assert_no_failure(&rd[r].failure);
        assert_true(rd[r].reads >= 1);
    }

    /* Every index handed out once, all of [0, total), increasing within a thread. */
    struct owner *owners = calloc(total, sizeof(*owners));
    bool *taken = calloc(total, sizeof(bool));
    assert_non_null(owners);
    assert_non_null(taken);
    assert_int_equal(ev_log_size(log), total);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            uint64_t index = w[t].indexes[i];
            assert_true(index < total);
            if (taken[index]) {
                fail_msg("index %" PRIu64 " handed out twice", index);
            }
            taken[index] = true;
            owners[index] = (struct owner){t, i};
            if (i > 0) {
                assert_true(index > w[t].indexes[i - 1]);
            }
        }
        free(w[t].indexes);
    }
    check_content(log, owners, total);
    tu_ok(ev_log_close(log));
    assert_int_equal(tu_segment_count(f->dir) > 1, segment_bytes != 0);

    log = tu_open(f->dir, &o);
    check_content(log, owners, total);
    tu_ok(ev_log_close(log));
    struct ev_verify_report rep = tu_verify(f->dir, f->v);
    assert_int_equal(rep.entries, total);
    free(owners);
    free(taken);
}

/* The checkpoint history: every note verifies, and tree sizes never go down. */
struct history_check {
    struct ev_verifier *key;
    uint64_t last;
    size_t count;
};

static int history_visit(void *ctx, const char *note, size_t len)
{
    struct history_check *h = ctx;
    struct ev_checkpoint cp;
    assert_int_equal(ev_checkpoint_open(note, len, h->key, &cp), 0);
    assert_true(cp.tree_size >= h->last);
    h->last = cp.tree_size;
    h->count++;
    return 0;
}

/*
 * Every append asks for a checkpoint (interval 1 ns) from 8 threads at once: a
 * thread whose tree was covered by another's checkpoint while it waited for
 * the sync must neither fail nor sign the smaller tree after the bigger one.
 */
static void test_checkpoints_from_threads(void **state)
{
    struct tu_fixture *f = *state;
    struct writer w[THREADS];
    enum { PER = 200 };

    tu_create(f->dir, 0, f->v);
    struct ev_open_options o = {.checkpoint_interval_ns = 1};
    struct ev_log *log = tu_open(f->dir, &o);
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){.log = log, .id = t};
        w[t].indexes = calloc(PER_THREAD, sizeof(uint64_t));
        assert_non_null(w[t].indexes);
    }
    for (int round = 0; round < PER; round += 50) {
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(pthread_create(&w[t].thread, NULL, append_few_thread, &w[t]), 0);
        }
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(pthread_join(w[t].thread, NULL), 0);
            assert_no_failure(&w[t].failure);
        }
    }
    tu_ok(ev_log_close(log));

    char meta_vkey[512];
    log = tu_open(f->dir, &(struct ev_open_options){.flags = EV_OPEN_READONLY});
    struct ev_log_info info;
    tu_ok(ev_log_info(log, &info));
    (void)snprintf(meta_vkey, sizeof(meta_vkey), "%s", info.vkey);
    tu_ok(ev_log_close(log));
    struct history_check h = {0};
    tu_ok(ev_verifier_parse(meta_vkey, &h.key));
    int dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    tu_ok(evi_checkpoint_history_read(dirfd, history_visit, &h));
    (void)close(dirfd);
    assert_true(h.count > 1);
    assert_int_equal(h.last, (uint64_t)THREADS * PER);
    ev_verifier_free(h.key);
    struct ev_verify_report rep = tu_verify(f->dir, f->v);
    assert_int_equal(rep.entries, (uint64_t)THREADS * PER);
    for (int t = 0; t < THREADS; t++) {
        free(w[t].indexes);
    }
}

static void test_appends_sync_always(void **state)
{
    run_appenders(*state, EV_SYNC_ALWAYS, 0);
}

static void test_appends_sync_never(void **state)
{
    run_appenders(*state, EV_SYNC_NEVER, 0);
}

/*
 * The same across segment rotations. Known bug: rotate_if_full_locked
 * (src/lib/log.c) waits on log->cv or commits, dropping log->mu, in the middle
 * of sequence_locked, after the entry was assembled (seq, ts) in the shared
 * log->entry_buf. Another appender sequences meanwhile, so two records hold
 * the same seq (verify: EV_FAIL_SEQUENCE at the first record of a new
 * segment; readers: EV_ECORRUPT), and a batch's `first` and contiguity are
 * lost.
 */
static void test_appends_rotating_sync_always(void **state)
{

    run_appenders(*state, EV_SYNC_ALWAYS, ROTATING_SEGMENT_BYTES);
}

static void test_appends_rotating_sync_never(void **state)
{

    run_appenders(*state, EV_SYNC_NEVER, ROTATING_SEGMENT_BYTES);
}

static void run_batches(struct tu_fixture *f, uint64_t segment_bytes)
{
    struct writer w[BATCH_THREADS];
    struct reader rd;
    atomic_bool done = false;
    const uint64_t total = (uint64_t)BATCH_THREADS * BATCHES * BATCH_SIZE;

    tu_create(f->dir, 0, f->v);
    struct ev_open_options o = {.segment_bytes = segment_bytes};
    struct ev_log *log = tu_open(f->dir, &o);
    rd = (struct reader){.dir = f->dir, .done = &done, .seed = 99};
    assert_int_equal(pthread_create(&rd.thread, NULL, reader_thread, &rd), 0);
    for (int t = 0; t < BATCH_THREADS; t++) {
        w[t] = (struct writer){.log = log, .id = t};
        w[t].indexes = calloc(BATCHES, sizeof(uint64_t));
        assert_non_null(w[t].indexes);
        assert_int_equal(pthread_create(&w[t].thread, NULL, batch_thread, &w[t]), 0);
    }
    for (int t = 0; t < BATCH_THREADS; t++) {
        assert_int_equal(pthread_join(w[t].thread, NULL), 0);
    }
    atomic_store(&done, true);
    assert_int_equal(pthread_join(rd.thread, NULL), 0);
    assert_no_failure(&rd.failure);
    for (int t = 0; t < BATCH_THREADS; t++) {
        assert_no_failure(&w[t].failure);
    }

    /* Each batch is a run of consecutive indexes, no two runs overlap. */
    struct owner *owners = calloc(total, sizeof(*owners));
    bool *taken = calloc(total, sizeof(bool));
    assert_non_null(owners);
    assert_non_null(taken);
    for (int t = 0; t < BATCH_THREADS; t++) {
        for (int b = 0; b < BATCHES; b++) {
            uint64_t first = w[t].indexes[b];
            assert_true(first + BATCH_SIZE <= total);
            for (int k = 0; k < BATCH_SIZE; k++) {
                if (taken[first + (uint64_t)k]) {
                    fail_msg("index %" PRIu64 " in two batches", first + (uint64_t)k);
                }
                taken[first + (uint64_t)k] = true;
                owners[first + (uint64_t)k] = (struct owner){t, b * BATCH_SIZE + k};
            }
        }
        free(w[t].indexes);
    }
    check_content(log, owners, total);
    tu_ok(ev_log_close(log));
    struct ev_verify_report rep = tu_verify(f->dir, f->v);
    assert_int_equal(rep.entries, total);
    free(owners);
    free(taken);
}

static void test_batches_from_threads(void **state)
{
    run_batches(*state, 0);
}

/* Known bug: see test_appends_rotating_sync_always. */
static void test_batches_rotating(void **state)
{

    run_batches(*state, ROTATING_SEGMENT_BYTES);
}

/* ---- one read-only handle shared by threads ------------------------------ */

struct shared {
    pthread_t thread;
    struct ev_log *log;
    atomic_bool *done;
    bool refresher;
    uint64_t passes;
    struct failure failure;
};

static void *shared_thread(void *arg)
{
    struct shared *sh = arg;
    bool last = false;

    while (!last) {
        last = atomic_load(sh->done);
        int r;
        if (sh->refresher) {
            r = ev_log_refresh(sh->log);
            if (r != 0) {
                record_failure(&sh->failure, "refresh: %d (%s): %s", r, ev_strerror(r),
                               ev_last_error());
                return NULL;
            }
        } else {
            uint64_t n = ev_log_size(sh->log);
            struct scan_check c = {.next = 0, .failure = &sh->failure};
            r = ev_log_scan(sh->log, 0, n, NULL, scan_check_visit, &c);
            if (r != 0 || c.next != n) {
                record_failure(&sh->failure, "scan of %" PRIu64 " stopped at %" PRIu64
                               ": %d (%s): %s", n, c.next, r, ev_strerror(r), ev_last_error());
                return NULL;
            }
            if (n > 0) {
                struct ev_entry *e = NULL;
                r = ev_log_entry(sh->log, n - 1, &e);
                if (r != 0) {
                    record_failure(&sh->failure, "entry %" PRIu64 ": %d (%s): %s", n - 1, r,
                                   ev_strerror(r), ev_last_error());
                    return NULL;
                }
                ev_entry_free(e);
            }
        }
        sh->passes++;
    }
    return NULL;
}

/*
 * log.h: "every function on a struct ev_log may be called from any thread
 * concurrently, except ev_log_close()" -- so also one reader handle scanned
 * and read by some threads while another refreshes it, as the writer grows
 * the log across segments.
 */
static void test_shared_reader_handle(void **state)
{
    struct tu_fixture *f = *state;
    struct shared sh[3];
    atomic_bool done = false;

    tu_create(f->dir, 0, f->v);
    struct ev_open_options o = {.segment_bytes = 64 * 1024};
    struct ev_log *writer = tu_open(f->dir, &o);
    tu_append_n(writer, 10, "start");
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    struct ev_log *reader = tu_open(f->dir, &ro);
    for (int i = 0; i < 3; i++) {
        sh[i] = (struct shared){.log = reader, .done = &done, .refresher = i == 0};
        assert_int_equal(pthread_create(&sh[i].thread, NULL, shared_thread, &sh[i]), 0);
    }
    struct ev_event batch[50];
    for (int i = 0; i < 50; i++) {
        batch[i] = (struct ev_event){.type = "shared", .severity = EV_SEV_INFO,
                                     .data_json = "{\"pad\":\"0123456789012345678901234567"
                                                  "890123456789012345678901234567890123\"}"};
    }
    for (int b = 0; b < 80; b++) {
        uint64_t first;
        tu_ok(ev_log_append_batch(writer, batch, 50, &first, NULL));
    }
    atomic_store(&done, true);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(sh[i].thread, NULL), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_no_failure(&sh[i].failure);
    }
    assert_true(tu_segment_count(f->dir) > 3);
    tu_ok(ev_log_refresh(reader));
    assert_int_equal(ev_log_size(reader), 10 + 80 * 50);
    tu_ok(ev_log_close(reader));
    tu_ok(ev_log_close(writer));
    tu_verify(f->dir, f->v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_appends_sync_always, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_appends_sync_never, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_batches_from_threads, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_appends_rotating_sync_always, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_appends_rotating_sync_never, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_batches_rotating, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_shared_reader_handle, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_from_threads, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
