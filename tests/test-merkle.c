/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for src/lib/merkle.c and src/lib/tree.c.
 *
 * Known answers come from ../shared/vectors (copied to tests/vectors; see its
 * README.md), made by an independent implementation: every row of every Merkle
 * table is checked, invalid rows with the exact error code. Proof generation
 * is checked against those vectors and against a plain recursive transcription
 * of RFC 6962 section 2.1 kept in this file, and proof verification against
 * the generated proofs. The stored-hash layout is checked against a simulation
 * of appends, and trees of up to 2^63 leaves are exercised through a virtual
 * store of identical leaves.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <evident/error.h>
#include <evident/merkle.h>

#include "crypto.h"
#include "tree.h"

#define HASH EV_HASH_BYTES
#define TREE_MAX ((uint64_t)1 << 63)
/* Room for the vectors' "proof-extended" rows beyond the longest real proof. */
#define PROOF_ROOM (EV_MAX_PROOF + 8)
/*
 * ISO C before C23 does not convert uint8_t (*)[32] to const uint8_t (*)[32]
 * implicitly, so passing a proof array to the verifiers needs this cast.
 */
#define CP(proof) ((const uint8_t(*)[HASH])(proof))
/* A proof costs at most one read per level plus one incomplete subtree. */
#define MAX_PROOF_READS (2 * 64)

/* The log of the vectors: leaf i is "leaf-%d"; the largest tree there has 65537 leaves. */
#define LOG_LEAVES 65537

/* ------------------------------------------------------------------------ */
/* Vector tables */

struct table {
    char *text;     /* the whole file, split in place */
    char **field;   /* rows * columns pointers into text */
    size_t rows;
    size_t columns;
};

static char *vectors_path(const char *name)
{
    static char path[4096];

#ifdef EV_TEST_VECTORS_DIR
    (void)snprintf(path, sizeof(path), "%s/%s", EV_TEST_VECTORS_DIR, name);
#else
    /* Next to this source file: tests/vectors. */
    const char *slash = strrchr(__FILE__, '/');
    int dir_len = slash ? (int)(slash - __FILE__) : 1;

    (void)snprintf(path, sizeof(path), "%.*s/vectors/%s", dir_len, slash ? __FILE__ : ".", name);
#endif
    return path;
}

static char *read_file(const char *name)
{
    const char *path = vectors_path(name);
    FILE *f = fopen(path, "rbe");
    size_t len = 0;
    size_t cap = 1 << 16;
    char *text = malloc(cap);

    if (!f) {
        fail_msg("cannot open '%s'", path);
    }
    assert_non_null(text);
    for (;;) {
        size_t got = fread(text + len, 1, cap - len - 1, f);

        len += got;
        if (len < cap - 1) {
            break;
        }
        cap *= 2;
        text = realloc(text, cap);
        assert_non_null(text);
    }
    assert_int_equal(ferror(f), 0);
    assert_int_equal(fclose(f), 0);
    text[len] = '\0';
    return text;
}

/*
 * Loads NAME.txt, checking that its header line is exactly header (so that a
 * reordered column cannot go unnoticed). Fields are separated by one space;
 * the last column takes the rest of the line.
 */
static void table_load(struct table *t, const char *name, const char *header)
{
    char *line;
    char *next;
    size_t cap_rows = 64;

    memset(t, 0, sizeof(*t));
    t->text = read_file(name);
    t->columns = 1;
    for (const char *p = header + 2; *p; p++) {
        t->columns += *p == ' ';
    }
    t->field = malloc(cap_rows * t->columns * sizeof(char *));
    assert_non_null(t->field);

    line = t->text;
    next = strchr(line, '\n');
    assert_non_null(next);
    *next = '\0';
    assert_string_equal(line, header);
    for (line = next + 1; *line; line = next) {
        next = strchr(line, '\n');
        assert_non_null(next);
        *next++ = '\0';
        if (t->rows == cap_rows) {
            cap_rows *= 2;
            t->field = realloc(t->field, cap_rows * t->columns * sizeof(char *));
            assert_non_null(t->field);
        }
        for (size_t c = 0; c < t->columns; c++) {
            char *space = c + 1 < t->columns ? strchr(line, ' ') : NULL;

            if (c + 1 < t->columns && !space) {
                fail_msg("%s row %zu has too few columns", name, t->rows + 1);
            }
            t->field[t->rows * t->columns + c] = line;
            if (space) {
                *space = '\0';
                line = space + 1;
            }
        }
        t->rows++;
    }
}

static const char *field(const struct table *t, size_t row, size_t column)
{
    return t->field[row * t->columns + column];
}

static void table_free(struct table *t)
{
    free(t->field);
    free(t->text);
}

static uint64_t parse_u64(const char *text)
{
    char *end = NULL;
    unsigned long long v;

    assert_true(text[0] >= '0' && text[0] <= '9');
    errno = 0;
    v = strtoull(text, &end, 10);
    assert_int_equal(errno, 0);
    assert_true(*end == '\0');
    return v;
}

/* Hex bytes, "-" for none. The buffer is malloc'd (never NULL). */
static uint8_t *parse_bytes(const char *hex, size_t *ret_len)
{
    size_t len = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    uint8_t *data = malloc(len + 1);

    assert_non_null(data);
    assert_int_equal(evi_hex_decode(len ? hex : "", 2 * len, data, len), 0);
    *ret_len = len;
    return data;
}

static void parse_hash(const char *hex, uint8_t out[HASH])
{
    assert_int_equal(strlen(hex), 2 * HASH);
    assert_int_equal(evi_hex_decode(hex, 2 * HASH, out, HASH), 0);
}

/* Comma-separated hashes, "-" for the empty list. */
static size_t parse_proof(const char *text, uint8_t proof[PROOF_ROOM][HASH])
{
    size_t n = 0;

    if (strcmp(text, "-") == 0) {
        return 0;
    }
    for (;;) {
        const char *comma = strchr(text, ',');
        size_t len = comma ? (size_t)(comma - text) : strlen(text);

        assert_true(n < PROOF_ROOM);
        assert_int_equal(len, 2 * HASH);
        assert_int_equal(evi_hex_decode(text, len, proof[n], HASH), 0);
        n++;
        if (!comma) {
            return n;
        }
        text = comma + 1;
    }
}

/* ------------------------------------------------------------------------ */
/* An in-memory hashes file, filled through evi_frontier_append */

struct store {
    uint8_t (*hashes)[HASH];
    uint64_t count;
    uint64_t cap;
    struct evi_frontier frontier;
    /* Reader instrumentation. */
    uint64_t limit;      /* reads at or above this index are a test failure */
    uint64_t reads;
    uint64_t bad_reads;
    uint64_t fail_at;    /* if non-zero, read number fail_at returns fail_code */
    int fail_code;
};

static struct store log_store;            /* leaves "leaf-0" .. "leaf-65536" */
static uint8_t (*log_leaves)[HASH];       /* their leaf hashes */
static struct store ct_store;             /* the eight CT leaves of ct_roots.txt */
static uint8_t ct_leaves[8][HASH];

static int store_append(struct store *s, const uint8_t leaf_hash[HASH])
{
    uint8_t stored[64][HASH];
    int n = evi_frontier_append(&s->frontier, leaf_hash, stored);

    if (n < 1 || s->count + (uint64_t)n > s->cap) {
        return -1;
    }
    memcpy(s->hashes[s->count], stored, (size_t)n * HASH);
    s->count += (uint64_t)n;
    return 0;
}

static int store_init(struct store *s, uint64_t leaves)
{
    memset(s, 0, sizeof(*s));
    s->cap = 2 * leaves;
    s->hashes = malloc((size_t)s->cap * HASH);
    evi_frontier_init(&s->frontier);
    return s->hashes ? 0 : -1;
}

static int store_read(void *ctx, uint64_t stored_index, uint8_t ret[HASH])
{
    struct store *s = ctx;

    s->reads++;
    if (s->fail_at != 0 && s->reads == s->fail_at) {
        return s->fail_code;
    }
    if (stored_index >= s->limit || stored_index >= s->count) {
        s->bad_reads++;
        return -ENOENT;
    }
    memcpy(ret, s->hashes[stored_index], HASH);
    return 0;
}

/* Readies s for reading the tree of tree_size leaves: only its own hashes may be read. */
static void store_begin(struct store *s, uint64_t tree_size)
{
    s->limit = evi_stored_hash_count(tree_size);
    s->reads = 0;
    s->bad_reads = 0;
    s->fail_at = 0;
}

static void log_leaf(uint64_t i, uint8_t out[HASH])
{
    char text[32];
    int len = snprintf(text, sizeof(text), "leaf-%llu", (unsigned long long)i);

    ev_leaf_hash(text, (size_t)len, out);
}

static int group_setup(void **state)
{
    struct table t;

    (void)state;
    log_leaves = malloc(LOG_LEAVES * sizeof(*log_leaves));
    if (!log_leaves || store_init(&log_store, LOG_LEAVES) < 0) {
        return -1;
    }
    for (uint64_t i = 0; i < LOG_LEAVES; i++) {
        log_leaf(i, log_leaves[i]);
        if (store_append(&log_store, log_leaves[i]) < 0) {
            return -1;
        }
    }
    if (log_store.count != evi_stored_hash_count(LOG_LEAVES)) {
        return -1;
    }

    /* ct_roots row n (n >= 1) holds leaf n - 1. */
    if (store_init(&ct_store, 8) < 0) {
        return -1;
    }
    table_load(&t, "ct_roots.txt", "# size leaf_data_hex root_hex");
    for (size_t r = 1; r < t.rows; r++) {
        size_t len;
        uint8_t *data = parse_bytes(field(&t, r, 1), &len);

        ev_leaf_hash(data, len, ct_leaves[r - 1]);
        free(data);
        if (store_append(&ct_store, ct_leaves[r - 1]) < 0) {
            return -1;
        }
    }
    table_free(&t);
    return ct_store.frontier.size == 8 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(log_store.hashes);
    free(ct_store.hashes);
    free(log_leaves);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* RFC 6962 section 2.1, transcribed recursively, independent of tree.c */

static uint64_t ref_split(uint64_t n)
{
    uint64_t k = 1;

    /* 2k < n, written so that it cannot overflow for n up to 2^64 - 1. */
    while (k <= (n - 1) / 2) {
        k <<= 1;
    }
    return k;
}

static void ref_mth(uint8_t (*leaves)[HASH], uint64_t n, uint8_t out[HASH])
{
    uint8_t left[HASH];
    uint8_t right[HASH];
    uint64_t k;

    if (n == 0) {
        ev_empty_root(out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], HASH);
        return;
    }
    k = ref_split(n);
    ref_mth(leaves, k, left);
    ref_mth(leaves + k, n - k, right);
    ev_node_hash(left, right, out);
}

/* PATH(m, D[n]) */
static void ref_path(uint64_t m, uint8_t (*leaves)[HASH], uint64_t n,
                     uint8_t out[PROOF_ROOM][HASH], size_t *len)
{
    uint64_t k;

    if (n == 1) {
        return;
    }
    k = ref_split(n);
    if (m < k) {
        ref_path(m, leaves, k, out, len);
        ref_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        ref_path(m - k, leaves + k, n - k, out, len);
        ref_mth(leaves, k, out[(*len)++]);
    }
}

/* SUBPROOF(m, D[n], b) */
static void ref_subproof(uint64_t m, uint8_t (*leaves)[HASH], uint64_t n, bool b,
                         uint8_t out[PROOF_ROOM][HASH], size_t *len)
{
    uint64_t k;

    if (m == n) {
        if (!b) {
            ref_mth(leaves, n, out[(*len)++]);
        }
        return;
    }
    k = ref_split(n);
    if (m <= k) {
        ref_subproof(m, leaves, k, b, out, len);
        ref_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        ref_subproof(m - k, leaves + k, n - k, false, out, len);
        ref_mth(leaves, k, out[(*len)++]);
    }
}

/* The same recursions counting hashes, and counting the stored-hash reads tree.c needs. */
static size_t ref_path_len(uint64_t m, uint64_t n)
{
    size_t len = 0;

    while (n > 1) {
        uint64_t k = ref_split(n);

        if (m < k) {
            n = k;
        } else {
            m -= k;
            n -= k;
        }
        len++;
    }
    return len;
}

static size_t ref_proof_len(uint64_t m, uint64_t n)
{
    size_t len = 0;
    bool b = true;

    if (m == 0 || m >= n) {
        return 0;
    }
    while (m != n) {
        uint64_t k = ref_split(n);

        if (m <= k) {
            n = k;
        } else {
            m -= k;
            n -= k;
            b = false;
        }
        len++;
    }
    return len + (b ? 0 : 1);
}

/* A complete subtree is one read; an incomplete one is one read per complete part. */
static uint64_t ref_path_reads(uint64_t m, uint64_t n)
{
    uint64_t reads = 0;

    while (n > 1) {
        uint64_t k = ref_split(n);

        if (m < k) {
            reads += (uint64_t)__builtin_popcountll(n - k);
            n = k;
        } else {
            reads++;
            m -= k;
            n -= k;
        }
    }
    return reads;
}

static uint64_t ref_proof_reads(uint64_t m, uint64_t n)
{
    uint64_t reads = 0;
    bool b = true;

    while (m != n) {
        uint64_t k = ref_split(n);

        if (m <= k) {
            reads += (uint64_t)__builtin_popcountll(n - k);
            n = k;
        } else {
            reads++;
            m -= k;
            n -= k;
            b = false;
        }
    }
    return reads + (b ? 0 : 1);
}

static void flip_bit(uint8_t *p, size_t bit)
{
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* The code the verifiers must return for a proof of this length that is not valid. */
static int expected_inclusion_failure(uint64_t index, uint64_t size, size_t proof_len)
{
    if (index >= size || proof_len != ref_path_len(index, size)) {
        return EV_EFORMAT;
    }
    return EV_ETAMPERED;
}

static int expected_consistency_failure(uint64_t old_size, uint64_t new_size, size_t proof_len)
{
    if (old_size > new_size || proof_len != ref_proof_len(old_size, new_size)) {
        return EV_EFORMAT;
    }
    return EV_ETAMPERED;
}

/*
 * Every one-bit change of a valid inclusion proof, and every proof with one
 * hash too many or too few, is rejected with the right code.
 */
static void check_inclusion_mutations(uint64_t index, uint64_t size, const uint8_t leaf[HASH],
                                      uint8_t proof[PROOF_ROOM][HASH], size_t len,
                                      const uint8_t root[HASH])
{
    uint8_t bad_root[HASH];

    for (size_t i = 0; i < len; i++) {
        size_t bit = (i * 37 + 5) % (8 * HASH);

        flip_bit(proof[i], bit);
        assert_int_equal(ev_merkle_verify_inclusion(index, size, leaf, CP(proof), len, root),
                         EV_ETAMPERED);
        flip_bit(proof[i], bit);
    }
    if (len > 0) {
        assert_int_equal(ev_merkle_verify_inclusion(index, size, leaf, CP(proof), len - 1, root),
                         EV_EFORMAT);
    }
    memset(proof[len], 0x42, HASH);
    assert_int_equal(ev_merkle_verify_inclusion(index, size, leaf, CP(proof), len + 1, root),
                     EV_EFORMAT);
    memcpy(bad_root, root, HASH);
    flip_bit(bad_root, 255);
    assert_int_equal(ev_merkle_verify_inclusion(index, size, leaf, CP(proof), len, bad_root),
                     EV_ETAMPERED);
    assert_int_equal(ev_merkle_verify_inclusion(index, size, bad_root, CP(proof), len, root),
                     EV_ETAMPERED);
}

static void check_consistency_mutations(uint64_t old_size, uint64_t new_size,
                                        const uint8_t old_root[HASH],
                                        const uint8_t new_root[HASH],
                                        uint8_t proof[PROOF_ROOM][HASH], size_t len)
{
    uint8_t bad_root[HASH];

    for (size_t i = 0; i < len; i++) {
        size_t bit = (i * 41 + 3) % (8 * HASH);

        flip_bit(proof[i], bit);
        assert_int_equal(
            ev_merkle_verify_consistency(old_size, new_size, old_root, new_root, CP(proof), len),
            EV_ETAMPERED);
        flip_bit(proof[i], bit);
    }
    if (len > 0) {
        assert_int_equal(ev_merkle_verify_consistency(old_size, new_size, old_root, new_root,
                                                      CP(proof), len - 1),
                         EV_EFORMAT);
    }
    memset(proof[len], 0x42, HASH);
    assert_int_equal(
        ev_merkle_verify_consistency(old_size, new_size, old_root, new_root, CP(proof), len + 1),
        EV_EFORMAT);
    memcpy(bad_root, old_root, HASH);
    flip_bit(bad_root, 0);
    assert_int_equal(
        ev_merkle_verify_consistency(old_size, new_size, bad_root, new_root, CP(proof), len),
        EV_ETAMPERED);
    memcpy(bad_root, new_root, HASH);
    flip_bit(bad_root, 0);
    assert_int_equal(
        ev_merkle_verify_consistency(old_size, new_size, old_root, bad_root, CP(proof), len),
        EV_ETAMPERED);
}

static void store_root(struct store *s, uint64_t size, uint8_t root[HASH])
{
    store_begin(s, size);
    assert_int_equal(evi_tree_root(size, store_read, s, root), 0);
    assert_int_equal(s->bad_reads, 0);
    assert_int_equal(s->reads, __builtin_popcountll(size));
}

/* Generates the inclusion proof from s and checks it and its cost. */
static void store_prove_inclusion(struct store *s, uint64_t index, uint64_t size,
                                  uint8_t proof[PROOF_ROOM][HASH], size_t *len)
{
    store_begin(s, size);
    *len = SIZE_MAX;
    assert_int_equal(evi_prove_inclusion(index, size, store_read, s, proof, len), 0);
    assert_int_equal(s->bad_reads, 0);
    assert_int_equal(s->reads, ref_path_reads(index, size));
    assert_true(s->reads <= MAX_PROOF_READS);
    assert_int_equal(*len, ref_path_len(index, size));
}

static void store_prove_consistency(struct store *s, uint64_t old_size, uint64_t new_size,
                                    uint8_t proof[PROOF_ROOM][HASH], size_t *len)
{
    store_begin(s, new_size);
    *len = SIZE_MAX;
    assert_int_equal(evi_prove_consistency(old_size, new_size, store_read, s, proof, len), 0);
    assert_int_equal(s->bad_reads, 0);
    assert_int_equal(s->reads, ref_proof_reads(old_size, new_size));
    assert_true(s->reads <= MAX_PROOF_READS);
    assert_int_equal(*len, ref_proof_len(old_size, new_size));
}

/* ------------------------------------------------------------------------ */
/* Known-answer vectors */

static void test_ct_roots(void **state)
{
    struct table t;
    struct evi_frontier f;
    uint8_t stored[64][HASH];
    uint8_t want[HASH];
    uint8_t got[HASH];

    (void)state;
    table_load(&t, "ct_roots.txt", "# size leaf_data_hex root_hex");
    assert_int_equal(t.rows, 9);
    evi_frontier_init(&f);
    for (size_t r = 0; r < t.rows; r++) {
        uint64_t size = parse_u64(field(&t, r, 0));

        assert_int_equal(size, r);
        parse_hash(field(&t, r, 2), want);
        if (size > 0) {
            assert_true(evi_frontier_append(&f, ct_leaves[size - 1], stored) >= 1);
        }
        evi_frontier_root(&f, got);
        assert_memory_equal(got, want, HASH);
        store_root(&ct_store, size, got);
        assert_memory_equal(got, want, HASH);
        ref_mth(ct_leaves, size, got);
        assert_memory_equal(got, want, HASH);
    }
    ev_empty_root(got);
    parse_hash(field(&t, 0, 2), want);
    assert_memory_equal(got, want, HASH);
    table_free(&t);
}

static void test_ct_inclusion(void **state)
{
    struct table t;
    uint8_t leaf[HASH];
    uint8_t root[HASH];
    uint8_t proof[PROOF_ROOM][HASH];
    uint8_t made[PROOF_ROOM][HASH];
    size_t len;
    size_t made_len;

    (void)state;
    table_load(&t, "ct_inclusion.txt", "# index size leaf_hash_hex root_hex proof_hex");
    assert_int_equal(t.rows, 8);
    for (size_t r = 0; r < t.rows; r++) {
        uint64_t index = parse_u64(field(&t, r, 0));
        uint64_t size = parse_u64(field(&t, r, 1));

        parse_hash(field(&t, r, 2), leaf);
        parse_hash(field(&t, r, 3), root);
        len = parse_proof(field(&t, r, 4), proof);
        assert_memory_equal(leaf, ct_leaves[index], HASH);
        assert_int_equal(ev_merkle_verify_inclusion(index, size, leaf, CP(proof), len, root), 0);
        store_prove_inclusion(&ct_store, index, size, made, &made_len);
        assert_int_equal(made_len, len);
        assert_memory_equal(made, proof, len * HASH);
        check_inclusion_mutations(index, size, leaf, proof, len, root);
    }
    table_free(&t);
}

static void test_ct_consistency(void **state)
{
    struct table t;
    uint8_t old_root[HASH];
    uint8_t new_root[HASH];
    uint8_t proof[PROOF_ROOM][HASH];
    uint8_t made[PROOF_ROOM][HASH];
    size_t len;
    size_t made_len;

    (void)state;
    table_load(&t, "ct_consistency.txt",
               "# old_size new_size old_root_hex new_root_hex proof_hex");
    assert_int_equal(t.rows, 4);
    for (size_t r = 0; r < t.rows; r++) {
        uint64_t old_size = parse_u64(field(&t, r, 0));
        uint64_t new_size = parse_u64(field(&t, r, 1));

        parse_hash(field(&t, r, 2), old_root);
        parse_hash(field(&t, r, 3), new_root);
        len = parse_proof(field(&t, r, 4), proof);
        assert_int_equal(
            ev_merkle_verify_consistency(old_size, new_size, old_root, new_root, CP(proof), len),
            0);
        store_prove_consistency(&ct_store, old_size, new_size, made, &made_len);
        assert_int_equal(made_len, len);
        assert_memory_equal(made, proof, len * HASH);
        check_consistency_mutations(old_size, new_size, old_root, new_root, proof, len);
    }
    table_free(&t);
}

static void test_leaf_hashes(void **state)
{
    struct table t;
    uint8_t want[HASH];
    uint8_t got[HASH];

    (void)state;
    table_load(&t, "leaf_hashes.txt", "# name data_len data_hex leaf_hash_hex");
    assert_int_equal(t.rows, 9);
    for (size_t r = 0; r < t.rows; r++) {
        size_t len;
        uint8_t *data = parse_bytes(field(&t, r, 2), &len);

        assert_int_equal(len, parse_u64(field(&t, r, 1)));
        parse_hash(field(&t, r, 3), want);
        ev_leaf_hash(data, len, got);
        assert_memory_equal(got, want, HASH);
        /* The writer's path: the 0x00 prefix written in front of the entry, our own padding. */
        uint8_t *placed = malloc(len + 1);
        assert_non_null(placed);
        if (len > 0) {
            memcpy(placed + 1, data, len);
        }
        evi_leaf_hash_in_place(placed + 1, len, got);
        assert_memory_equal(got, want, HASH);
        free(placed);
        free(data);
    }
    table_free(&t);
}

/*
 * evi_leaf_hash_in_place (the writer's, which pads the last blocks itself) against
 * ev_leaf_hash (SHA256_Final's) for every entry length that crosses the one- and
 * two-block paddings of up to 12 blocks.
 */
static void test_leaf_hash_in_place_every_length(void **state)
{
    uint8_t buf[1 + 760];
    uint8_t want[HASH];
    uint8_t got[HASH];

    (void)state;
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 131 + 7);
    }
    for (size_t len = 0; len < sizeof(buf); len++) {
        ev_leaf_hash(buf + 1, len, want);
        buf[0] = 0xff; /* overwritten with the leaf prefix */
        evi_leaf_hash_in_place(buf + 1, len, got);
        assert_int_equal(buf[0], 0x00);
        assert_memory_equal(got, want, HASH);
    }
}

static void test_node_hashes(void **state)
{
    struct table t;
    uint8_t left[HASH];
    uint8_t right[HASH];
    uint8_t want[HASH];
    uint8_t got[HASH];

    (void)state;
    table_load(&t, "node_hashes.txt", "# name left_hex right_hex node_hash_hex");
    assert_int_equal(t.rows, 3);
    for (size_t r = 0; r < t.rows; r++) {
        parse_hash(field(&t, r, 1), left);
        parse_hash(field(&t, r, 2), right);
        parse_hash(field(&t, r, 3), want);
        ev_node_hash(left, right, got);
        assert_memory_equal(got, want, HASH);
        /* The output may be one of the inputs. */
        ev_node_hash(left, right, left);
        assert_memory_equal(left, want, HASH);
    }
    table_free(&t);
}

static void test_tree_roots(void **state)
{
    struct table t;
    struct evi_frontier f;
    uint8_t want[HASH];
    uint8_t got[HASH];
    char base64[45];

    (void)state;
    table_load(&t, "tree_roots.txt", "# size root_hex root_base64");
    assert_int_equal(t.rows, 67);
    for (size_t r = 0; r < t.rows; r++) {
        uint64_t size = parse_u64(field(&t, r, 0));

        assert_true(size <= LOG_LEAVES);
        parse_hash(field(&t, r, 1), want);
        assert_int_equal(evi_base64_encode(want, HASH, base64, sizeof(base64)), 44);
        assert_string_equal(base64, field(&t, r, 2));

        store_root(&log_store, size, got);
        assert_memory_equal(got, want, HASH);
        ref_mth(log_leaves, size, got);
        assert_memory_equal(got, want, HASH);

        store_begin(&log_store, size);
        assert_int_equal(evi_frontier_load(&f, size, store_read, &log_store), 0);
        assert_int_equal(log_store.bad_reads, 0);
        assert_int_equal(log_store.reads, __builtin_popcountll(size));
        assert_int_equal(f.size, size);
        assert_int_equal(f.count, __builtin_popcountll(size));
        evi_frontier_root(&f, got);
        assert_memory_equal(got, want, HASH);
    }
    /* The writer's frontier after all appends agrees with the last row. */
    assert_int_equal(parse_u64(field(&t, t.rows - 1, 0)), LOG_LEAVES);
    evi_frontier_root(&log_store.frontier, got);
    assert_memory_equal(got, want, HASH);
    table_free(&t);
}

static void test_inclusion_vectors(void **state)
{
    struct table t;
    uint8_t leaf[HASH];
    uint8_t data_leaf[HASH];
    uint8_t root[HASH];
    uint8_t proof[PROOF_ROOM][HASH];
    uint8_t made[PROOF_ROOM][HASH];
    size_t valid = 0;
    size_t invalid = 0;

    (void)state;
    table_load(&t, "inclusion_proofs.txt",
               "# expect index size leaf_data_hex leaf_hash_hex root_hex proof_hex mutation");
    assert_int_equal(t.rows, 221);
    for (size_t r = 0; r < t.rows; r++) {
        bool expect_valid = strcmp(field(&t, r, 0), "valid") == 0;
        uint64_t index = parse_u64(field(&t, r, 1));
        uint64_t size = parse_u64(field(&t, r, 2));
        const char *mutation = field(&t, r, 7);
        size_t data_len;
        uint8_t *data = parse_bytes(field(&t, r, 3), &data_len);
        size_t len;
        size_t made_len;
        int want;
        int got;

        assert_true(expect_valid || strcmp(field(&t, r, 0), "invalid") == 0);
        assert_int_equal(expect_valid, strcmp(mutation, "-") == 0);
        parse_hash(field(&t, r, 4), leaf);
        parse_hash(field(&t, r, 5), root);
        len = parse_proof(field(&t, r, 6), proof);
        ev_leaf_hash(data, data_len, data_leaf);
        assert_memory_equal(data_leaf, leaf, HASH);
        free(data);

        want = expect_valid ? 0 : expected_inclusion_failure(index, size, len);
        got = ev_merkle_verify_inclusion(index, size, leaf, CP(proof), len, root);
        if (got != want) {
            fail_msg("inclusion_proofs row %zu (%s, index %llu, size %llu): got %d, want %d", r + 1,
                     mutation, (unsigned long long)index, (unsigned long long)size, got, want);
        }
        if (got != 0) {
            assert_string_not_equal(ev_last_error(), "");
        }
        if (!expect_valid) {
            invalid++;
            continue;
        }
        valid++;
        assert_memory_equal(leaf, log_leaves[index], HASH);
        store_prove_inclusion(&log_store, index, size, made, &made_len);
        assert_int_equal(made_len, len);
        assert_memory_equal(made, proof, len * HASH);
        check_inclusion_mutations(index, size, leaf, proof, len, root);
    }
    assert_int_equal(valid, 173);
    assert_int_equal(invalid, 48);
    table_free(&t);
}

static void test_consistency_vectors(void **state)
{
    struct table t;
    uint8_t old_root[HASH];
    uint8_t new_root[HASH];
    uint8_t proof[PROOF_ROOM][HASH];
    uint8_t made[PROOF_ROOM][HASH];
    size_t valid = 0;
    size_t invalid = 0;

    (void)state;
    table_load(&t, "consistency_proofs.txt",
               "# expect old_size new_size old_root_hex new_root_hex proof_hex mutation");
    assert_int_equal(t.rows, 276);
    for (size_t r = 0; r < t.rows; r++) {
        bool expect_valid = strcmp(field(&t, r, 0), "valid") == 0;
        uint64_t old_size = parse_u64(field(&t, r, 1));
        uint64_t new_size = parse_u64(field(&t, r, 2));
        const char *mutation = field(&t, r, 6);
        size_t len;
        size_t made_len;
        int want;
        int got;

        assert_true(expect_valid || strcmp(field(&t, r, 0), "invalid") == 0);
        assert_int_equal(expect_valid, strcmp(mutation, "-") == 0);
        parse_hash(field(&t, r, 3), old_root);
        parse_hash(field(&t, r, 4), new_root);
        len = parse_proof(field(&t, r, 5), proof);

        want = expect_valid ? 0 : expected_consistency_failure(old_size, new_size, len);
        got = ev_merkle_verify_consistency(old_size, new_size, old_root, new_root, CP(proof), len);
        if (got != want) {
            fail_msg("consistency_proofs row %zu (%s, %llu to %llu): got %d, want %d", r + 1,
                     mutation, (unsigned long long)old_size, (unsigned long long)new_size, got,
                     want);
        }
        if (!expect_valid) {
            invalid++;
            continue;
        }
        valid++;
        store_prove_consistency(&log_store, old_size, new_size, made, &made_len);
        assert_int_equal(made_len, len);
        assert_memory_equal(made, proof, len * HASH);
        check_consistency_mutations(old_size, new_size, old_root, new_root, proof, len);
    }
    assert_int_equal(valid, 217);
    assert_int_equal(invalid, 59);
    table_free(&t);
}

/* ------------------------------------------------------------------------ */
/* Stored-hash layout and frontier */

/*
 * Simulates a log writing hashes as they become computable: leaf i, then the
 * hash of each subtree that leaf i completes, bottom up. Every position must
 * match evi_stored_hash_index and every prefix evi_stored_hash_count.
 */
static void test_stored_hash_layout(void **state)
{
    enum { N = 2048 };
    uint64_t position = 0;

    (void)state;
    assert_int_equal(evi_stored_hash_count(0), 0);
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(evi_stored_hash_index(0, i), position);
        position++;
        for (int level = 1; ((i + 1) & ((UINT64_C(1) << level) - 1)) == 0; level++) {
            assert_int_equal(evi_stored_hash_index(level, ((i + 1) >> level) - 1), position);
            position++;
        }
        assert_int_equal(evi_stored_hash_count(i + 1), position);
    }
}

static void test_stored_hash_limits(void **state)
{
    (void)state;
    /* The last leaf and the root of a tree of 2^63 leaves. */
    assert_int_equal(evi_stored_hash_index(0, TREE_MAX - 1), UINT64_MAX - 64);
    assert_int_equal(evi_stored_hash_index(63, 0), UINT64_MAX - 1);
    assert_int_equal(evi_stored_hash_index(62, 1), UINT64_MAX - 2);
    assert_int_equal(evi_stored_hash_count(TREE_MAX), UINT64_MAX);
    assert_int_equal(evi_stored_hash_count(TREE_MAX - 1), UINT64_MAX - 64);
    assert_int_equal(evi_stored_hash_count(UINT64_C(1) << 32),
                     (UINT64_C(1) << 33) - 1);
    /* Outside such a tree: UINT64_MAX, never a wrapped-around index. */
    assert_int_equal(evi_stored_hash_index(0, TREE_MAX), UINT64_MAX);
    assert_int_equal(evi_stored_hash_index(63, 1), UINT64_MAX);
    assert_int_equal(evi_stored_hash_index(1, UINT64_C(1) << 62), UINT64_MAX);
    assert_int_equal(evi_stored_hash_index(64, 0), UINT64_MAX);
    assert_int_equal(evi_stored_hash_index(-1, 0), UINT64_MAX);
    assert_int_equal(evi_stored_hash_count(TREE_MAX + 1), UINT64_MAX);
    assert_int_equal(evi_stored_hash_count(UINT64_MAX), UINT64_MAX);
}

static void test_frontier_append(void **state)
{
    enum { N = 2048 };
    struct evi_frontier f;
    struct evi_frontier loaded;
    uint8_t stored[64][HASH];
    uint8_t got[HASH];
    uint8_t want[HASH];

    (void)state;
    evi_frontier_init(&f);
    assert_int_equal(f.size, 0);
    assert_int_equal(f.count, 0);
    evi_frontier_root(&f, got);
    ev_empty_root(want);
    assert_memory_equal(got, want, HASH);

    for (uint64_t i = 0; i < N; i++) {
        uint64_t first = evi_stored_hash_count(i);
        int n = evi_frontier_append(&f, log_leaves[i], stored);

        assert_int_equal(n, evi_stored_hash_count(i + 1) - first);
        assert_int_equal(n, 1 + __builtin_ctzll(~i));
        /* Hash j is the subtree of 2^j leaves ending at leaf i, stored at its index. */
        for (int j = 0; j < n; j++) {
            uint64_t k = i >> j;

            assert_int_equal(evi_stored_hash_index(j, k), first + (uint64_t)j);
            ref_mth(log_leaves + (k << j), UINT64_C(1) << j, want);
            assert_memory_equal(stored[j], want, HASH);
            assert_memory_equal(log_store.hashes[first + (uint64_t)j], want, HASH);
        }
        assert_int_equal(f.size, i + 1);
        assert_int_equal(f.count, __builtin_popcountll(i + 1));
        evi_frontier_root(&f, got);
        if (i < 300 || i % 97 == 0) {
            ref_mth(log_leaves, i + 1, want);
            assert_memory_equal(got, want, HASH);
        }
        store_root(&log_store, i + 1, want);
        assert_memory_equal(got, want, HASH);

        /* A writer reopening the log at this size gets the same frontier. */
        store_begin(&log_store, i + 1);
        assert_int_equal(evi_frontier_load(&loaded, i + 1, store_read, &log_store), 0);
        assert_int_equal(log_store.bad_reads, 0);
        assert_int_equal(loaded.size, f.size);
        assert_int_equal(loaded.count, f.count);
        assert_memory_equal(loaded.hashes, f.hashes, (size_t)f.count * HASH);
    }
}

static void test_frontier_errors(void **state)
{
    struct evi_frontier f;
    struct evi_frontier copy;
    uint8_t stored[64][HASH];
    uint8_t leaf[HASH] = { 1 };

    (void)state;
    /* A full tree takes no more leaves. */
    evi_frontier_init(&f);
    f.size = TREE_MAX;
    f.count = 1;
    copy = f;
    assert_int_equal(evi_frontier_append(&f, leaf, stored), EV_ERANGE);
    assert_memory_equal(&f, &copy, sizeof(f));

    /* The last leaf before that completes 64 stored hashes at once. */
    evi_frontier_init(&f);
    f.size = TREE_MAX - 1;
    f.count = 63;
    assert_int_equal(evi_frontier_append(&f, leaf, stored), 64);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.size, TREE_MAX);

    /* A damaged frontier is refused rather than indexed out of bounds. */
    evi_frontier_init(&f);
    f.size = 3;
    f.count = 0;
    assert_int_equal(evi_frontier_append(&f, leaf, stored), -EINVAL);

    /* Sizes beyond 2^63 are refused. */
    store_begin(&log_store, 0);
    assert_int_equal(evi_frontier_load(&f, TREE_MAX + 1, store_read, &log_store), EV_ERANGE);
    assert_int_equal(evi_tree_root(TREE_MAX + 1, store_read, &log_store, leaf), EV_ERANGE);
    assert_int_equal(log_store.reads, 0);
}

/* ------------------------------------------------------------------------ */
/* Proofs from stored hashes */

static void test_proofs_exhaustive_small(void **state)
{
    uint8_t root[65][HASH];
    uint8_t made[PROOF_ROOM][HASH];
    uint8_t want[PROOF_ROOM][HASH];
    size_t made_len;
    size_t want_len;

    (void)state;
    for (uint64_t size = 0; size <= 64; size++) {
        store_root(&log_store, size, root[size]);
    }
    for (uint64_t size = 1; size <= 64; size++) {
        for (uint64_t index = 0; index < size; index++) {
            store_prove_inclusion(&log_store, index, size, made, &made_len);
            want_len = 0;
            ref_path(index, log_leaves, size, want, &want_len);
            assert_int_equal(made_len, want_len);
            assert_memory_equal(made, want, made_len * HASH);
            assert_int_equal(ev_merkle_verify_inclusion(index, size, log_leaves[index], CP(made),
                                                        made_len, root[size]),
                             0);
            check_inclusion_mutations(index, size, log_leaves[index], made, made_len,
                                      root[size]);
            /* The proof is for this place only. */
            if (size > 1) {
                uint64_t other = (index + 1) % size;

                assert_int_equal(ev_merkle_verify_inclusion(other, size, log_leaves[index],
                                                            CP(made), made_len, root[size]),
                                 expected_inclusion_failure(other, size, made_len));
            }
        }
        for (uint64_t old_size = 1; old_size <= size; old_size++) {
            store_prove_consistency(&log_store, old_size, size, made, &made_len);
            want_len = 0;
            if (old_size < size) {
                ref_subproof(old_size, log_leaves, size, true, want, &want_len);
            }
            assert_int_equal(made_len, want_len);
            assert_memory_equal(made, want, made_len * HASH);
            assert_int_equal(ev_merkle_verify_consistency(old_size, size, root[old_size],
                                                          root[size], CP(made), made_len),
                             0);
            check_consistency_mutations(old_size, size, root[old_size], root[size], made,
                                        made_len);
            /* Never for another old tree of the same shape of proof. */
            if (old_size > 1) {
                assert_int_equal(ev_merkle_verify_consistency(old_size - 1, size,
                                                              root[old_size], root[size], CP(made),
                                                              made_len),
                                 expected_consistency_failure(old_size - 1, size, made_len));
            }
        }
    }
}

static uint64_t prng_state = 0x6d65726b6c652121ull;

static uint64_t prng_next(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_proofs_random_large(void **state)
{
    uint8_t old_root[HASH];
    uint8_t new_root[HASH];
    uint8_t made[PROOF_ROOM][HASH];
    uint8_t want[PROOF_ROOM][HASH];
    size_t made_len;
    size_t want_len;

    (void)state;
    for (int i = 0; i < 400; i++) {
        /* A quarter of the pairs are small enough to compare with the recursion. */
        uint64_t max = i % 4 == 0 ? 3000 : LOG_LEAVES;
        uint64_t size = 65 + prng_next() % (max - 64);
        uint64_t index = prng_next() % size;
        uint64_t old_size = 1 + prng_next() % size;

        store_root(&log_store, size, new_root);
        store_prove_inclusion(&log_store, index, size, made, &made_len);
        assert_int_equal(ev_merkle_verify_inclusion(index, size, log_leaves[index], CP(made),
                                                    made_len, new_root),
                         0);
        check_inclusion_mutations(index, size, log_leaves[index], made, made_len, new_root);
        if (max == 3000) {
            want_len = 0;
            ref_path(index, log_leaves, size, want, &want_len);
            assert_int_equal(made_len, want_len);
            assert_memory_equal(made, want, made_len * HASH);
        }

        store_root(&log_store, old_size, old_root);
        store_prove_consistency(&log_store, old_size, size, made, &made_len);
        assert_int_equal(
            ev_merkle_verify_consistency(old_size, size, old_root, new_root, CP(made), made_len),
            0);
        check_consistency_mutations(old_size, size, old_root, new_root, made, made_len);
        if (max == 3000) {
            want_len = 0;
            if (old_size < size) {
                ref_subproof(old_size, log_leaves, size, true, want, &want_len);
            }
            assert_int_equal(made_len, want_len);
            assert_memory_equal(made, want, made_len * HASH);
        }
    }
}

/*
 * A virtual log of up to 2^63 identical leaves: every complete subtree of
 * level L has the same hash, so a reader can serve any stored index by working
 * out its level. This drives the size arithmetic to its limits.
 */
struct uniform_store {
    uint8_t level_hash[64][HASH];
    uint64_t limit;
    uint64_t reads;
    uint64_t bad_reads;
};

/* Position of stored hash (0, x) by the closed form 2x - popcount(x). */
static uint64_t leaf_position(uint64_t x)
{
    return 2 * x - (uint64_t)__builtin_popcountll(x);
}

static int uniform_read(void *ctx, uint64_t stored_index, uint8_t ret[HASH])
{
    struct uniform_store *s = ctx;
    uint64_t lo = 0;
    uint64_t hi = TREE_MAX - 1;
    uint64_t level;

    s->reads++;
    if (stored_index >= s->limit) {
        s->bad_reads++;
        return -ENOENT;
    }
    /* The last leaf x at or before stored_index; the hash is x's level-th completed subtree. */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;

        if (leaf_position(mid) <= stored_index) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    level = stored_index - leaf_position(lo);
    if (level > 63 || evi_stored_hash_index((int)level, lo >> level) != stored_index) {
        s->bad_reads++;
        return -ENOENT;
    }
    memcpy(ret, s->level_hash[level], HASH);
    return 0;
}

static void test_proofs_huge_trees(void **state)
{
    struct uniform_store *s = calloc(1, sizeof(*s));
    uint8_t old_root[HASH];
    uint8_t new_root[HASH];
    uint8_t proof[PROOF_ROOM][HASH];
    size_t len;
    struct evi_frontier f;
    uint64_t sizes[40];
    size_t n_sizes = 0;

    (void)state;
    assert_non_null(s);
    ev_leaf_hash("same", 4, s->level_hash[0]);
    for (int level = 1; level < 64; level++) {
        ev_node_hash(s->level_hash[level - 1], s->level_hash[level - 1], s->level_hash[level]);
    }
    sizes[n_sizes++] = TREE_MAX;
    sizes[n_sizes++] = TREE_MAX - 1;
    sizes[n_sizes++] = TREE_MAX / 2 + 1;
    sizes[n_sizes++] = UINT64_C(0x5555555555555555);
    while (n_sizes < sizeof(sizes) / sizeof(sizes[0])) {
        sizes[n_sizes++] = 1 + prng_next() % TREE_MAX;
    }

    for (size_t i = 0; i < n_sizes; i++) {
        uint64_t size = sizes[i];
        uint64_t indexes[4] = { 0, size - 1, size / 2, prng_next() % size };
        uint64_t olds[4] = { 1, size - 1 > 0 ? size - 1 : 1, size / 3 + 1, 1 + prng_next() % size };

        s->limit = evi_stored_hash_count(size);
        s->reads = 0;
        assert_int_equal(evi_tree_root(size, uniform_read, s, new_root), 0);
        assert_int_equal(s->reads, __builtin_popcountll(size));
        assert_int_equal(evi_frontier_load(&f, size, uniform_read, s), 0);
        assert_int_equal(f.count, __builtin_popcountll(size));
        for (int j = 0; j < 4; j++) {
            uint8_t leaf[HASH];

            memcpy(leaf, s->level_hash[0], HASH);
            s->reads = 0;
            assert_int_equal(evi_prove_inclusion(indexes[j], size, uniform_read, s, proof, &len),
                             0);
            assert_int_equal(s->reads, ref_path_reads(indexes[j], size));
            assert_true(s->reads <= MAX_PROOF_READS);
            assert_int_equal(len, ref_path_len(indexes[j], size));
            assert_true(len <= EV_MAX_PROOF);
            assert_int_equal(
                ev_merkle_verify_inclusion(indexes[j], size, leaf, CP(proof), len, new_root), 0);
            check_inclusion_mutations(indexes[j], size, leaf, proof, len, new_root);

            s->limit = evi_stored_hash_count(olds[j]);
            assert_int_equal(evi_tree_root(olds[j], uniform_read, s, old_root), 0);
            s->limit = evi_stored_hash_count(size);
            s->reads = 0;
            assert_int_equal(evi_prove_consistency(olds[j], size, uniform_read, s, proof, &len),
                             0);
            assert_int_equal(s->reads, ref_proof_reads(olds[j], size));
            assert_true(s->reads <= MAX_PROOF_READS);
            assert_int_equal(len, ref_proof_len(olds[j], size));
            assert_true(len <= EV_MAX_PROOF);
            assert_int_equal(
                ev_merkle_verify_consistency(olds[j], size, old_root, new_root, CP(proof), len), 0);
            check_consistency_mutations(olds[j], size, old_root, new_root, proof, len);
        }
        assert_int_equal(s->bad_reads, 0);
    }
    /* The worst cases stay within the bound: 2^63 - 1 leaves, leaf 0 and from size 1. */
    s->limit = evi_stored_hash_count(TREE_MAX - 1);
    s->reads = 0;
    assert_int_equal(evi_prove_inclusion(0, TREE_MAX - 1, uniform_read, s, proof, &len), 0);
    assert_int_equal(s->reads, 62 + 62);
    assert_int_equal(len, 63);
    s->reads = 0;
    assert_int_equal(evi_prove_consistency(1, TREE_MAX - 1, uniform_read, s, proof, &len), 0);
    assert_int_equal(s->reads, 62 + 62);
    assert_int_equal(len, 63);
    free(s);
}

static void test_prove_errors(void **state)
{
    uint8_t proof[PROOF_ROOM][HASH];
    uint8_t marker[HASH];
    size_t len = 12345;

    (void)state;
    memset(proof, 0x5a, sizeof(proof));
    memcpy(marker, proof[0], HASH);
    store_begin(&log_store, 10);
    assert_int_equal(evi_prove_inclusion(10, 10, store_read, &log_store, proof, &len), EV_ERANGE);
    assert_int_equal(evi_prove_inclusion(0, 0, store_read, &log_store, proof, &len), EV_ERANGE);
    assert_int_equal(evi_prove_inclusion(0, TREE_MAX + 1, store_read, &log_store, proof, &len),
                     EV_ERANGE);
    assert_int_equal(evi_prove_consistency(0, 10, store_read, &log_store, proof, &len),
                     EV_ERANGE);
    assert_int_equal(evi_prove_consistency(11, 10, store_read, &log_store, proof, &len),
                     EV_ERANGE);
    assert_int_equal(evi_prove_consistency(1, TREE_MAX + 1, store_read, &log_store, proof, &len),
                     EV_ERANGE);
    assert_int_equal(log_store.reads, 0);
    assert_string_not_equal(ev_last_error(), "");

    /* old == new: an empty proof and no reads. */
    assert_int_equal(evi_prove_consistency(10, 10, store_read, &log_store, proof, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(log_store.reads, 0);
    len = 12345;

    /* A failing read at any step fails the call with its code and writes nothing. */
    for (uint64_t fail_at = 1; fail_at <= ref_path_reads(1234, 60000); fail_at++) {
        store_begin(&log_store, 60000);
        log_store.fail_at = fail_at;
        log_store.fail_code = -EIO;
        assert_int_equal(evi_prove_inclusion(1234, 60000, store_read, &log_store, proof, &len),
                         -EIO);
        assert_int_equal(len, 12345);
        assert_memory_equal(proof[0], marker, HASH);
    }
    for (uint64_t fail_at = 1; fail_at <= ref_proof_reads(1234, 60000); fail_at++) {
        store_begin(&log_store, 60000);
        log_store.fail_at = fail_at;
        log_store.fail_code = -EIO;
        assert_int_equal(evi_prove_consistency(1234, 60000, store_read, &log_store, proof, &len),
                         -EIO);
        assert_int_equal(len, 12345);
        assert_memory_equal(proof[0], marker, HASH);
    }
    for (uint64_t fail_at = 1; fail_at <= 3; fail_at++) {
        struct evi_frontier f;
        struct evi_frontier copy;
        uint8_t root[HASH];

        memset(&f, 0x33, sizeof(f));
        copy = f;
        memcpy(root, marker, HASH);
        store_begin(&log_store, 7);
        log_store.fail_at = fail_at;
        log_store.fail_code = EV_ECORRUPT;
        assert_int_equal(evi_frontier_load(&f, 7, store_read, &log_store), EV_ECORRUPT);
        assert_memory_equal(&f, &copy, sizeof(f));
        store_begin(&log_store, 7);
        log_store.fail_at = fail_at;
        log_store.fail_code = EV_ECORRUPT;
        assert_int_equal(evi_tree_root(7, store_read, &log_store, root), EV_ECORRUPT);
        assert_memory_equal(root, marker, HASH);
    }
    /* A reader breaking its contract with a positive return is an I/O error, not success. */
    store_begin(&log_store, 5);
    log_store.fail_at = 1;
    log_store.fail_code = 1;
    assert_int_equal(evi_prove_inclusion(0, 5, store_read, &log_store, proof, &len), -EIO);
}

/* ------------------------------------------------------------------------ */
/* Verification edge cases */

static void test_verify_edges(void **state)
{
    uint8_t empty[HASH];
    uint8_t root[HASH];
    uint8_t other[HASH];
    uint8_t proof[PROOF_ROOM][HASH];

    (void)state;
    ev_empty_root(empty);
    store_root(&log_store, 5, root);
    store_root(&log_store, 6, other);
    memset(proof, 0x11, sizeof(proof));

    /* Size 0: only an empty proof, only from the empty-tree root. */
    assert_int_equal(ev_merkle_verify_consistency(0, 0, empty, empty, NULL, 0), 0);
    assert_int_equal(ev_merkle_verify_consistency(0, 5, empty, root, NULL, 0), 0);
    assert_int_equal(ev_merkle_verify_consistency(0, 5, root, root, NULL, 0), EV_ETAMPERED);
    assert_int_equal(ev_merkle_verify_consistency(0, 5, empty, root, CP(proof), 1), EV_EFORMAT);
    assert_int_equal(ev_merkle_verify_consistency(0, 0, empty, root, NULL, 0), EV_ETAMPERED);
    assert_int_equal(ev_merkle_verify_consistency(0, UINT64_MAX, empty, root, NULL, 0), 0);

    /* Same size: equal roots and an empty proof. */
    assert_int_equal(ev_merkle_verify_consistency(5, 5, root, root, NULL, 0), 0);
    assert_int_equal(ev_merkle_verify_consistency(5, 5, root, other, NULL, 0), EV_ETAMPERED);
    assert_int_equal(ev_merkle_verify_consistency(5, 5, root, root, CP(proof), 1), EV_EFORMAT);

    /* Shrinking is never consistent. */
    assert_int_equal(ev_merkle_verify_consistency(6, 5, other, root, NULL, 0), EV_EFORMAT);
    assert_int_equal(ev_merkle_verify_consistency(UINT64_MAX, 0, other, root, NULL, 0),
                     EV_EFORMAT);
    /* Growing needs a proof. */
    assert_int_equal(ev_merkle_verify_consistency(5, 6, root, other, NULL, 0), EV_EFORMAT);

    /* Inclusion outside the tree, and in the empty tree. */
    assert_int_equal(ev_merkle_verify_inclusion(5, 5, log_leaves[0], CP(proof), 3, root),
                     EV_EFORMAT);
    assert_int_equal(ev_merkle_verify_inclusion(0, 0, empty, NULL, 0, empty), EV_EFORMAT);
    assert_int_equal(ev_merkle_verify_inclusion(UINT64_MAX, UINT64_MAX, empty, CP(proof), 64, root),
                     EV_EFORMAT);
    /* Size 1: the leaf is the root. */
    store_root(&log_store, 1, other);
    assert_int_equal(ev_merkle_verify_inclusion(0, 1, log_leaves[0], NULL, 0, other), 0);
    assert_int_equal(ev_merkle_verify_inclusion(0, 1, log_leaves[1], NULL, 0, other),
                     EV_ETAMPERED);

    /* The largest sizes a uint64_t holds neither crash nor pass with garbage. */
    for (size_t len = 0; len <= EV_MAX_PROOF; len++) {
        int r = ev_merkle_verify_inclusion(UINT64_MAX - 1, UINT64_MAX, empty, CP(proof), len, root);

        assert_int_equal(r, len == ref_path_len(UINT64_MAX - 1, UINT64_MAX) ? EV_ETAMPERED
                                                                            : EV_EFORMAT);
        r = ev_merkle_verify_consistency(UINT64_MAX - 1, UINT64_MAX, root, root, CP(proof), len);
        assert_int_equal(r, len == ref_proof_len(UINT64_MAX - 1, UINT64_MAX) ? EV_ETAMPERED
                                                                             : EV_EFORMAT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_roots),
        cmocka_unit_test(test_ct_inclusion),
        cmocka_unit_test(test_ct_consistency),
        cmocka_unit_test(test_leaf_hashes),
        cmocka_unit_test(test_leaf_hash_in_place_every_length),
        cmocka_unit_test(test_node_hashes),
        cmocka_unit_test(test_tree_roots),
        cmocka_unit_test(test_inclusion_vectors),
        cmocka_unit_test(test_consistency_vectors),
        cmocka_unit_test(test_stored_hash_layout),
        cmocka_unit_test(test_stored_hash_limits),
        cmocka_unit_test(test_frontier_append),
        cmocka_unit_test(test_frontier_errors),
        cmocka_unit_test(test_proofs_exhaustive_small),
        cmocka_unit_test(test_proofs_random_large),
        cmocka_unit_test(test_proofs_huge_trees),
        cmocka_unit_test(test_prove_errors),
        cmocka_unit_test(test_verify_edges),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
