/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint bodies, c2sp.org/tlog-proof@v1 files and proof-line files, against the
 * independent vectors (tests/vectors: checkpoints/, cli/incl-*.proof, cli/leaf-*.bin) and
 * a tree of the vectors' leaves ("leaf-%d") built here.
 */
#include <errno.h>
#include <inttypes.h>
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
#include <evident/note.h>

#include "crypto.h"
#include "tree.h"

#ifndef EV_TEST_VECTORS_DIR
#define EV_TEST_VECTORS_DIR "tests/vectors"
#endif

#define LOG_VKEY "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ"
#define LOG_SKEY                                                                                   \
    "PRIVATE+KEY+example.com/tlogref/log+f3ae0039+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/"              \
    "CdkwX4ums5"
#define WITNESS_VKEY "witness.example/w1+e05429c6+AfiETfLwjB9UVn/uev5Q+36w/GQDSUkff0UWE+k+Fk5L"
#define SAME_NAME_VKEY                                                                             \
    "example.com/tlogref/log+a2c8bc56+Aco1d5htONWOkH+zLJ0ce4KVzCjqV7aplGBzwT1+I7yf"
#define LOG_ORIGIN "example.com/tlogref/log"
#define TREE_LEAVES 64

/* Reads a file under the vectors directory, NUL-terminated (the NUL is not counted). */
static char *read_vector(const char *name, size_t *ret_len)
{
    char path[1024];
    FILE *f;
    char *buf;
    long size;

    assert_true(snprintf(path, sizeof(path), "%s/%s", EV_TEST_VECTORS_DIR, name) <
                (int)sizeof(path));
    f = fopen(path, "rb");
    if (!f) {
        fail_msg("cannot open '%s': %s", path, strerror(errno));
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    assert_int_equal(fclose(f), 0);
    buf[size] = '\0';
    *ret_len = (size_t)size;
    return buf;
}

static struct ev_verifier *verifier_of(const char *vkey)
{
    struct ev_verifier *verifier = NULL;

    assert_int_equal(ev_verifier_parse(vkey, &verifier), 0);
    return verifier;
}

static char *checkpoint_note(uint64_t size, size_t *ret_len)
{
    char name[64];

    assert_true(snprintf(name, sizeof(name), "checkpoints/checkpoint-%" PRIu64 ".note", size) <
                (int)sizeof(name));
    return read_vector(name, ret_len);
}

static char *make_proof(uint64_t index, const uint8_t (*hashes)[EV_HASH_BYTES], size_t count,
                        const char *note, size_t note_len, size_t *ret_len)
{
    char *text = NULL;

    assert_int_equal(
        ev_tlog_proof_format(index, hashes, count, NULL, 0, note, note_len, &text, ret_len), 0);
    assert_int_equal(strlen(text), *ret_len);
    return text;
}

/* A valid tlog-proof: leaf 4 of checkpoint-8, from the vectors. */
static char *vector_proof_4_8(size_t *ret_len)
{
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t count;
    size_t lines_len;
    size_t note_len;
    char *lines = read_vector("cli/incl-4-8.proof", &lines_len);
    char *note = checkpoint_note(8, &note_len);
    char *text;

    assert_int_equal(ev_proof_lines_parse(lines, lines_len, hashes, &count), 0);
    text = make_proof(4, (const uint8_t(*)[EV_HASH_BYTES])hashes, count, note, note_len, ret_len);
    free(lines);
    free(note);
    return text;
}

static void test_body_round_trip(void **state)
{
    static const uint64_t sizes[] = {0, 1, 7, 8, 10, 65537, INT64_MAX};
    char long_origin[EV_KEY_NAME_MAX + 1];
    const char *origins[] = {LOG_ORIGIN, "caf\xc3\xa9 log with spaces+plus", long_origin};
    uint8_t root[EV_HASH_BYTES];

    (void)state;
    memset(long_origin, 'o', EV_KEY_NAME_MAX);
    long_origin[EV_KEY_NAME_MAX] = '\0';
    for (size_t i = 0; i < sizeof(root); i++) {
        root[i] = (uint8_t)(i * 37 + 1);
    }
    for (size_t o = 0; o < sizeof(origins) / sizeof(origins[0]); o++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            struct ev_checkpoint checkpoint;
            char *text = NULL;
            size_t len;

            assert_int_equal(ev_checkpoint_format(origins[o], sizes[s], root, &text, &len), 0);
            assert_int_equal(strlen(text), len);
            assert_int_equal(ev_checkpoint_parse(text, len, &checkpoint), 0);
            assert_string_equal(checkpoint.origin, origins[o]);
            assert_int_equal(checkpoint.tree_size, sizes[s]);
            assert_memory_equal(checkpoint.root, root, sizeof(root));
            assert_int_equal(checkpoint.extension_count, 0);
            free(text);
        }
    }
}

/* Our body of size 8 is, byte for byte, the text of the vector checkpoint-8.note. */
static void test_body_matches_vector(void **state)
{
    static const uint64_t sizes[] = {0, 1, 7, 8, 64, 1000, 65537};
    struct ev_verifier *verifier = verifier_of(LOG_VKEY);

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct ev_checkpoint checkpoint;
        size_t note_len;
        char *note = checkpoint_note(sizes[i], &note_len);
        char *text = NULL;
        size_t len;

        assert_int_equal(ev_checkpoint_open(note, note_len, verifier, &checkpoint), 0);
        assert_int_equal(ev_checkpoint_format(checkpoint.origin, checkpoint.tree_size,
                                              checkpoint.root, &text, &len),
                         0);
        assert_true(len < note_len);
        assert_memory_equal(text, note, len);
        assert_memory_equal(note + len, "\n\xe2\x80\x94 ", 5);
        free(text);
        free(note);
    }
    ev_verifier_free(verifier);
}

static void test_body_format_rejects(void **state)
{
    char long_origin[EV_KEY_NAME_MAX + 2];
    uint8_t root[EV_HASH_BYTES] = {0};
    char *text = (char *)0x1;
    size_t len = 7;

    (void)state;
    memset(long_origin, 'o', EV_KEY_NAME_MAX + 1);
    long_origin[EV_KEY_NAME_MAX + 1] = '\0';
    assert_int_equal(ev_checkpoint_format(LOG_ORIGIN, (uint64_t)INT64_MAX + 1, root, &text, &len),
                     EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format(LOG_ORIGIN, UINT64_MAX, root, &text, &len), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format("", 1, root, &text, &len), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format("a\nb", 1, root, &text, &len), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format("a\rb", 1, root, &text, &len), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format("a\xff", 1, root, &text, &len), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format(long_origin, 1, root, &text, &len), EV_EFORMAT);
    assert_int_equal(ev_checkpoint_format(NULL, 1, root, &text, &len), -EINVAL);
    assert_ptr_equal(text, (char *)0x1);
    assert_int_equal(len, 7);
}

static void test_body_parse(void **state)
{
    static const struct {
        const char *text;
        uint64_t size;
        size_t extensions;
    } good[] = {
        {"o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0, 0},
        {"o\n9223372036854775807\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", INT64_MAX, 0},
        {"o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nx\n \n", 8, 2},
        {"origin with space\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 8, 0},
    };
    static const char *const bad[] = {
        "",
        "\n",
        "o\n",
        "o\n8\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n08\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n00\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n-0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n+8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n 8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n8 \nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n0x8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n9223372036854775808\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n99999999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=AAAA\n",
        "o\n8\n0000000000000000000000000000000000000000000000000000000000000000\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nx\n",
        "o\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nx\n\n",
        "o\r\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\t\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "\xc3\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    };
    /* An embedded NUL would cut the origin short: "a" must not come out of "a\0b". */
    static const char nul_origin[] = "a\0b\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    char long_origin[EV_KEY_NAME_MAX + 64];
    struct ev_checkpoint checkpoint;
    struct ev_checkpoint untouched;
    char *huge;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(ev_checkpoint_parse(good[i].text, strlen(good[i].text), &checkpoint), 0);
        assert_int_equal(checkpoint.tree_size, good[i].size);
        assert_int_equal(checkpoint.extension_count, good[i].extensions);
    }
    memset(&checkpoint, 0x5a, sizeof(checkpoint));
    untouched = checkpoint;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ev_checkpoint_parse(bad[i], strlen(bad[i]), &checkpoint) != EV_EFORMAT) {
            fail_msg("bad body %zu accepted", i);
        }
        assert_memory_equal(&checkpoint, &untouched, sizeof(checkpoint));
        assert_true(ev_last_error()[0] != '\0');
    }
    assert_int_equal(ev_checkpoint_parse(nul_origin, sizeof(nul_origin) - 1, &checkpoint),
                     EV_EFORMAT);

    memset(long_origin, 'o', sizeof(long_origin));
    memcpy(long_origin + EV_KEY_NAME_MAX + 1, "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
           48);
    assert_int_equal(ev_checkpoint_parse(long_origin, EV_KEY_NAME_MAX + 1 + 48, &checkpoint),
                     EV_EFORMAT);
    assert_int_equal(ev_checkpoint_parse(long_origin + 1, EV_KEY_NAME_MAX + 48, &checkpoint), 0);
    assert_int_equal(strlen(checkpoint.origin), EV_KEY_NAME_MAX);

    huge = malloc(EV_NOTE_MAX_BYTES + 1);
    assert_non_null(huge);
    memset(huge, 'x', EV_NOTE_MAX_BYTES + 1);
    memcpy(huge, good[0].text, strlen(good[0].text));
    huge[EV_NOTE_MAX_BYTES] = '\n';
    assert_int_equal(ev_checkpoint_parse(huge, EV_NOTE_MAX_BYTES + 1, &checkpoint), EV_EFORMAT);
    free(huge);
}

struct inclusion_vector {
    uint64_t index;
    uint64_t size;
};

static const struct inclusion_vector inclusion_vectors[] = {
    {0, 1},    {0, 8},      {4, 8},      {7, 8},     {0, 64},        {32, 64},       {63, 64},
    {0, 1000}, {500, 1000}, {999, 1000}, {0, 65537}, {32768, 65537}, {65536, 65537},
};

static void test_tlog_proof_vectors(void **state)
{
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    struct ev_verifier *witness = verifier_of(WITNESS_VKEY);
    struct ev_verifier *same_name = verifier_of(SAME_NAME_VKEY);

    (void)state;
    for (size_t i = 0; i < sizeof(inclusion_vectors) / sizeof(inclusion_vectors[0]); i++) {
        const struct inclusion_vector *v = &inclusion_vectors[i];
        uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
        struct ev_tlog_proof *proof = NULL;
        struct ev_checkpoint checkpoint;
        char name[64];
        char other_leaf[32];
        size_t count;
        size_t lines_len;
        size_t leaf_len;
        size_t note_len;
        size_t text_len;
        size_t again_len;
        char *lines;
        char *leaf;
        char *note = checkpoint_note(v->size, &note_len);
        char *text;
        char *again = NULL;
        int n;

        assert_true(snprintf(name, sizeof(name), "cli/incl-%" PRIu64 "-%" PRIu64 ".proof", v->index,
                             v->size) < (int)sizeof(name));
        lines = read_vector(name, &lines_len);
        assert_true(snprintf(name, sizeof(name), "cli/leaf-%" PRIu64 ".bin", v->index) <
                    (int)sizeof(name));
        leaf = read_vector(name, &leaf_len);

        /* Proof lines: parse, and formatting gives back the file exactly. */
        assert_int_equal(ev_proof_lines_parse(lines, lines_len, hashes, &count), 0);
        assert_int_equal(ev_proof_lines_format((const uint8_t(*)[EV_HASH_BYTES])hashes, count,
                                               &again, &again_len),
                         0);
        assert_int_equal(again_len, lines_len);
        assert_memory_equal(again, lines, lines_len);
        free(again);

        /* tlog-proof: format, parse back field by field, verify. */
        text = make_proof(v->index, (const uint8_t(*)[EV_HASH_BYTES])hashes, count, note, note_len,
                          &text_len);
        assert_int_equal(ev_tlog_proof_parse(text, text_len, &proof), 0);
        assert_int_equal(proof->index, v->index);
        assert_int_equal(proof->hash_count, count);
        if (count > 0) {
            assert_memory_equal(proof->hashes, hashes, count * EV_HASH_BYTES);
        }
        assert_null(proof->extra);
        assert_int_equal(proof->checkpoint_len, note_len);
        assert_memory_equal(proof->checkpoint, note, note_len);
        ev_tlog_proof_free(proof);

        memset(&checkpoint, 0, sizeof(checkpoint));
        assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, &checkpoint), 0);
        assert_int_equal(checkpoint.tree_size, v->size);
        assert_string_equal(checkpoint.origin, LOG_ORIGIN);
        assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, NULL), 0);

        /* Another entry, a truncated entry, the wrong keys. */
        n = snprintf(other_leaf, sizeof(other_leaf), "leaf-%" PRIu64, v->index + 1);
        assert_int_equal(ev_tlog_proof_verify(text, text_len, other_leaf, (size_t)n, log, NULL),
                         EV_ETAMPERED);
        assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len - 1, log, NULL),
                         EV_ETAMPERED);
        assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, witness, NULL),
                         EV_EBADSIG);
        assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, same_name, NULL),
                         EV_EBADSIG);
        free(text);

        /* Out of range, or a hash missing: not a proof of this shape. */
        text = make_proof(v->size, (const uint8_t(*)[EV_HASH_BYTES])hashes, count, note, note_len,
                          &text_len);
        assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, NULL),
                         EV_EFORMAT);
        free(text);
        if (count > 0) {
            text = make_proof(v->index, (const uint8_t(*)[EV_HASH_BYTES])hashes, count - 1, note,
                              note_len, &text_len);
            assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, NULL),
                             EV_EFORMAT);
            free(text);
        }
        free(lines);
        free(leaf);
        free(note);
    }
    ev_verifier_free(log);
    ev_verifier_free(witness);
    ev_verifier_free(same_name);
}

static void test_tlog_proof_bitflip_vector(void **state)
{
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    size_t count;
    size_t lines_len;
    size_t leaf_len;
    size_t note_len;
    size_t text_len;
    char *lines = read_vector("cli/incl-32-64-bitflip.proof", &lines_len);
    char *leaf = read_vector("cli/leaf-32.bin", &leaf_len);
    char *note = checkpoint_note(64, &note_len);
    char *text;

    (void)state;
    assert_int_equal(ev_proof_lines_parse(lines, lines_len, hashes, &count), 0);
    text =
        make_proof(32, (const uint8_t(*)[EV_HASH_BYTES])hashes, count, note, note_len, &text_len);
    assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, NULL), EV_ETAMPERED);
    assert_true(ev_last_error()[0] != '\0');
    free(text);
    free(lines);
    free(leaf);
    free(note);
    ev_verifier_free(log);
}

struct stored_tree {
    uint8_t hashes[2 * TREE_LEAVES][EV_HASH_BYTES];
    uint64_t count;
};

static int read_stored(void *ctx, uint64_t stored_index, uint8_t ret[EV_HASH_BYTES])
{
    struct stored_tree *tree = ctx;

    if (stored_index >= tree->count) {
        return -EINVAL;
    }
    memcpy(ret, tree->hashes[stored_index], EV_HASH_BYTES);
    return 0;
}

/*
 * The vectors' log, rebuilt: leaves "leaf-%d", a checkpoint signed with the vector log key
 * for every size 1..64 (sizes 1, 7, 8, 64 must equal the vector notes byte for byte), and
 * a tlog-proof for every leaf of every size.
 */
static void test_tlog_proof_every_leaf(void **state)
{
    static struct stored_tree tree;
    struct evi_frontier frontier;
    struct ev_signer *signer = NULL;
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    char leaves[TREE_LEAVES][16];
    size_t leaf_lens[TREE_LEAVES];
    size_t proofs = 0;

    (void)state;
    assert_int_equal(ev_signer_parse(LOG_SKEY, &signer), 0);
    evi_frontier_init(&frontier);
    tree.count = 0;
    for (uint64_t size = 1; size <= TREE_LEAVES; size++) {
        uint8_t stored[64][EV_HASH_BYTES];
        uint8_t leaf_hash[EV_HASH_BYTES];
        uint8_t root[EV_HASH_BYTES];
        size_t body_len;
        size_t note_len;
        char *body = NULL;
        char *note = NULL;
        int added;
        int n;

        n = snprintf(leaves[size - 1], sizeof(leaves[0]), "leaf-%" PRIu64, size - 1);
        leaf_lens[size - 1] = (size_t)n;
        ev_leaf_hash(leaves[size - 1], leaf_lens[size - 1], leaf_hash);
        added = evi_frontier_append(&frontier, leaf_hash, stored);
        assert_true(added >= 1);
        memcpy(tree.hashes[tree.count], stored, (size_t)added * EV_HASH_BYTES);
        tree.count += (uint64_t)added;
        evi_frontier_root(&frontier, root);

        assert_int_equal(ev_checkpoint_format(LOG_ORIGIN, size, root, &body, &body_len), 0);
        assert_int_equal(ev_note_sign(body, body_len, signer, &note, &note_len), 0);
        if (size == 1 || size == 7 || size == 8 || size == 64) {
            size_t vector_len;
            char *vector = checkpoint_note(size, &vector_len);

            assert_int_equal(note_len, vector_len);
            assert_memory_equal(note, vector, vector_len);
            free(vector);
        }
        for (uint64_t index = 0; index < size; index++) {
            uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
            struct ev_checkpoint checkpoint;
            size_t proof_len;
            size_t text_len;
            char *text;
            uint64_t other = (index + 1) % size;

            assert_int_equal(
                evi_prove_inclusion(index, size, read_stored, &tree, proof, &proof_len), 0);
            text = make_proof(index, (const uint8_t(*)[EV_HASH_BYTES])proof, proof_len, note,
                              note_len, &text_len);
            assert_int_equal(ev_tlog_proof_verify(text, text_len, leaves[index], leaf_lens[index],
                                                  log, &checkpoint),
                             0);
            assert_int_equal(checkpoint.tree_size, size);
            assert_memory_equal(checkpoint.root, root, EV_HASH_BYTES);
            if (other != index) {
                assert_int_equal(ev_tlog_proof_verify(text, text_len, leaves[other],
                                                      leaf_lens[other], log, NULL),
                                 EV_ETAMPERED);
            }
            free(text);
            proofs++;
        }
        free(body);
        free(note);
    }
    assert_int_equal(proofs, TREE_LEAVES * (TREE_LEAVES + 1) / 2);
    ev_signer_free(signer);
    ev_verifier_free(log);
}

static void test_tlog_proof_extra(void **state)
{
    uint8_t extra[256];
    uint8_t hash[1][EV_HASH_BYTES];
    struct ev_tlog_proof *proof = NULL;
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    size_t note_len;
    size_t text_len;
    char *note = checkpoint_note(1, &note_len);
    char *text = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(extra); i++) {
        extra[i] = (uint8_t)i;
    }
    memset(hash, 0, sizeof(hash));
    for (size_t len = 0; len <= sizeof(extra); len += len < 8 ? 1 : 61) {
        assert_int_equal(
            ev_tlog_proof_format(0, NULL, 0, extra, len, note, note_len, &text, &text_len), 0);
        assert_memory_equal(text, "c2sp.org/tlog-proof@v1\nextra ", 29);
        assert_int_equal(ev_tlog_proof_parse(text, text_len, &proof), 0);
        assert_non_null(proof->extra);
        assert_int_equal(proof->extra_len, len);
        if (len > 0) {
            assert_memory_equal(proof->extra, extra, len);
        }
        assert_int_equal(proof->hash_count, 0);
        assert_null(proof->hashes);
        /* extra is not authenticated and does not take part in verification. */
        assert_int_equal(ev_tlog_proof_verify(text, text_len, "leaf-0", 6, log, NULL), 0);
        ev_tlog_proof_free(proof);
        free(text);
    }
    assert_int_equal(ev_tlog_proof_format(0, NULL, 0, NULL, 0, note, note_len, &text, &text_len),
                     0);
    assert_memory_equal(text, "c2sp.org/tlog-proof@v1\nindex 0\n\n", 32);
    assert_int_equal(ev_tlog_proof_parse(text, text_len, &proof), 0);
    assert_null(proof->extra);
    assert_int_equal(proof->extra_len, 0);
    ev_tlog_proof_free(proof);
    free(text);

    /* The spec's own layout, by hand: extra, index, one hash, empty line, checkpoint. */
    assert_int_equal(ev_tlog_proof_format(73894, (const uint8_t(*)[EV_HASH_BYTES])hash, 1,
                                          (const uint8_t *)"age", 3, note, note_len, &text,
                                          &text_len),
                     0);
    assert_memory_equal(text,
                        "c2sp.org/tlog-proof@v1\nextra YWdl\nindex 73894\n"
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
                        92);
    assert_memory_equal(text + 92, note, note_len);
    assert_int_equal(text_len, 92 + note_len);
    free(text);

    /* Limits on the formatter. */
    assert_int_equal(ev_tlog_proof_format(0, NULL, 0, NULL, 0, note, 0, &text, &text_len),
                     EV_EFORMAT);
    assert_int_equal(ev_tlog_proof_format(0, (const uint8_t(*)[EV_HASH_BYTES])hash,
                                          EV_MAX_PROOF + 1, NULL, 0, note, note_len, &text,
                                          &text_len),
                     EV_EFORMAT);
    assert_int_equal(ev_tlog_proof_format(0, NULL, 0, extra, EV_NOTE_MAX_BYTES, note, note_len,
                                          &text, &text_len),
                     EV_ETOOBIG);
    free(note);
    ev_verifier_free(log);
}

/* Replaces the first occurrence of from in text with to; the result is malloc'd. */
static char *replace(const char *text, size_t len, const char *from, const char *to,
                     size_t *ret_len)
{
    const char *at = strstr(text, from);
    size_t from_len = strlen(from);
    size_t to_len = strlen(to);
    size_t head;
    char *out;

    assert_non_null(at);
    head = (size_t)(at - text);
    out = malloc(len - from_len + to_len + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, to_len);
    memcpy(out + head + to_len, at + from_len, len - head - from_len);
    *ret_len = len - from_len + to_len;
    out[*ret_len] = '\0';
    return out;
}

static void test_tlog_proof_malformed(void **state)
{
    static const struct {
        const char *from;
        const char *to;
    } edits[] = {
        {"c2sp.org/tlog-proof@v1\n", ""},
        {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v2\n"},
        {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1 \n"},
        {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\r\n"},
        {"c2sp.org/tlog-proof@v1\n", "C2SP.org/tlog-proof@v1\n"},
        {"c2sp.org/tlog-proof@v1\n", "\nc2sp.org/tlog-proof@v1\n"},
        {"index 4\n", ""},
        {"index 4\n", "index 04\n"},
        {"index 4\n", "index -4\n"},
        {"index 4\n", "index +4\n"},
        {"index 4\n", "index x\n"},
        {"index 4\n", "index  4\n"},
        {"index 4\n", "index 4 \n"},
        {"index 4\n", "index\n"},
        {"index 4\n", "index \n"},
        {"index 4\n", "Index 4\n"},
        {"index 4\n", "index 18446744073709551616\n"},
        {"index 4\n", "index 4\nindex 4\n"},
        {"index 4\n", "extra !!!!\nindex 4\n"},
        {"index 4\n", "extra AAA\nindex 4\n"},
        {"index 4\n", "extra\nindex 4\n"},
        {"index 4\n", "extra AA==\nextra AA==\nindex 4\n"},
        {"index 4\n", "index 4\nextra AA==\n"},
        {"jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n",
         "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycj!=\n"},
        {"jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n",
         "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY\n"},
        {"jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n",
         "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycg==\n"},
        {"jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n",
         "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjYA\n"},
        {"jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n",
         " jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n"},
        {"vdHF/1WxnLaw58dhv5psyqJ/u/wHt08fq7bpEaC9KrM=\n\n",
         "vdHF/1WxnLaw58dhv5psyqJ/u/wHt08fq7bpEaC9KrM=\n"},
        {"vdHF/1WxnLaw58dhv5psyqJ/u/wHt08fq7bpEaC9KrM=\n\n",
         "vdHF/1WxnLaw58dhv5psyqJ/u/wHt08fq7bpEaC9KrM=\n \n"},
    };
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    struct ev_tlog_proof *proof = NULL;
    size_t leaf_len;
    size_t text_len;
    char *leaf = read_vector("cli/leaf-4.bin", &leaf_len);
    char *text = vector_proof_4_8(&text_len);

    (void)state;
    assert_int_equal(ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, NULL), 0);
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        size_t bad_len;
        char *bad;

        bad = replace(text, text_len, edits[i].from, edits[i].to, &bad_len);
        if (ev_tlog_proof_parse(bad, bad_len, &proof) != EV_EFORMAT) {
            fail_msg("edit %zu: parse did not fail with EV_EFORMAT", i);
        }
        assert_null(proof);
        if (ev_tlog_proof_verify(bad, bad_len, leaf, leaf_len, log, NULL) != EV_EFORMAT) {
            fail_msg("edit %zu: verify did not fail with EV_EFORMAT (%s)", i, ev_last_error());
        }
        assert_true(ev_last_error()[0] != '\0');
        free(bad);
    }

    /* 64 hashes parse (and fail verification as a wrong shape); 65 do not parse. */
    for (size_t count = EV_MAX_PROOF; count <= EV_MAX_PROOF + 1; count++) {
        /* The header and index lines, count hashes, then the empty line and checkpoint. */
        size_t head = (size_t)(strstr(text, "index 4\n") - text) + strlen("index 4\n");
        size_t tail = (size_t)(strstr(text, "\n\n") - text) + 1;
        char *many = malloc(head + count * 45 + (text_len - tail));
        size_t pos = head;

        assert_non_null(many);
        memcpy(many, text, head);
        for (size_t i = 0; i < count; i++) {
            memcpy(many + pos, "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n", 45);
            pos += 45;
        }
        memcpy(many + pos, text + tail, text_len - tail);
        pos += text_len - tail;
        if (count == EV_MAX_PROOF) {
            assert_int_equal(ev_tlog_proof_parse(many, pos, &proof), 0);
            assert_int_equal(proof->hash_count, EV_MAX_PROOF);
            ev_tlog_proof_free(proof);
            proof = NULL;
            assert_int_equal(ev_tlog_proof_verify(many, pos, leaf, leaf_len, log, NULL),
                             EV_EFORMAT);
        } else {
            assert_int_equal(ev_tlog_proof_parse(many, pos, &proof), EV_EFORMAT);
            assert_null(proof);
            assert_int_equal(ev_tlog_proof_verify(many, pos, leaf, leaf_len, log, NULL),
                             EV_EFORMAT);
        }
        free(many);
    }

    /* No checkpoint after the empty line; nothing at all. */
    {
        const char *blank = strstr(text, "\n\n");
        size_t cut = (size_t)(blank - text) + 2;

        assert_int_equal(ev_tlog_proof_parse(text, cut, &proof), EV_EFORMAT);
        assert_int_equal(ev_tlog_proof_parse(text, cut - 1, &proof), EV_EFORMAT);
        assert_int_equal(ev_tlog_proof_parse("", 0, &proof), EV_EFORMAT);
        assert_int_equal(ev_tlog_proof_parse(NULL, 0, &proof), EV_EFORMAT);
        assert_int_equal(ev_tlog_proof_parse("\n", 1, &proof), EV_EFORMAT);
        assert_null(proof);
    }
    free(text);
    free(leaf);
    ev_verifier_free(log);
}

/* The checkpoint inside a proof goes through the full policy: signature, body, origin. */
static void test_tlog_proof_checkpoint_policy(void **state)
{
    static const struct {
        const char *file;
        int want;
    } cases[] = {
        {"checkpoints/checkpoint-8.note", 0},
        {"checkpoints/extension-lines.note", 0},
        {"checkpoints/cosigned.note", 0},
        {"checkpoints/origin-mismatch.note", EV_EORIGIN},
        {"checkpoints/body-size-leading-zero.note", EV_EFORMAT},
        {"checkpoints/body-root-31-bytes.note", EV_EFORMAT},
        {"checkpoints/sig-bitflip.note", EV_EBADSIG},
        {"checkpoints/sig-unknown-key.note", EV_EBADSIG},
        {"checkpoints/sig-body-tampered-size.note", EV_EBADSIG},
        {"checkpoints/sig-trailing-blank-line.note", EV_EBADSIG},
    };
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    size_t count;
    size_t lines_len;
    size_t leaf_len;
    char *lines = read_vector("cli/incl-4-8.proof", &lines_len);
    char *leaf = read_vector("cli/leaf-4.bin", &leaf_len);

    (void)state;
    assert_int_equal(ev_proof_lines_parse(lines, lines_len, hashes, &count), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ev_checkpoint checkpoint;
        struct ev_checkpoint untouched;
        size_t note_len;
        size_t text_len;
        char *note = read_vector(cases[i].file, &note_len);
        char *text = make_proof(4, (const uint8_t(*)[EV_HASH_BYTES])hashes, count, note, note_len,
                                &text_len);
        int r;

        memset(&checkpoint, 0x5a, sizeof(checkpoint));
        untouched = checkpoint;
        r = ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, &checkpoint);
        if (r != cases[i].want) {
            fail_msg("%s: got %d (%s), want %d", cases[i].file, r, ev_last_error(), cases[i].want);
        }
        if (r < 0) {
            assert_memory_equal(&checkpoint, &untouched, sizeof(checkpoint));
        }
        free(text);
        free(note);
    }
    free(lines);
    free(leaf);
    ev_verifier_free(log);
}

/* Every proper prefix and every one-bit change of a valid proof file is refused. */
static void test_tlog_proof_hostile(void **state)
{
    struct ev_verifier *log = verifier_of(LOG_VKEY);
    size_t leaf_len;
    size_t text_len;
    char *leaf = read_vector("cli/leaf-4.bin", &leaf_len);
    char *text = vector_proof_4_8(&text_len);
    uint64_t seed = 0x243f6a8885a308d3u;

    (void)state;
    for (size_t cut = 0; cut < text_len; cut++) {
        char *prefix = malloc(cut ? cut : 1);
        struct ev_tlog_proof *proof = NULL;

        assert_non_null(prefix);
        memcpy(prefix, text, cut);
        if (ev_tlog_proof_verify(prefix, cut, leaf, leaf_len, log, NULL) == 0) {
            fail_msg("proof cut at %zu verified", cut);
        }
        if (ev_tlog_proof_parse(prefix, cut, &proof) == 0) {
            ev_tlog_proof_free(proof);
        }
        free(prefix);
    }
    for (size_t byte = 0; byte < text_len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            text[byte] ^= (char)(1u << bit);
            if (ev_tlog_proof_verify(text, text_len, leaf, leaf_len, log, NULL) == 0) {
                fail_msg("bit %d of byte %zu flipped, still verifies", bit, byte);
            }
            text[byte] ^= (char)(1u << bit);
        }
    }
    /* Noise: nothing verifies, nothing crashes. */
    for (int round = 0; round < 20000; round++) {
        char buf[300];
        size_t len;
        struct ev_tlog_proof *proof = NULL;
        uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
        size_t count;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        len = (size_t)(seed % sizeof(buf));
        /* Start from the valid file and smash a few bytes, so the parser gets deep. */
        memcpy(buf, text, len < text_len ? len : text_len);
        for (size_t i = text_len; i < len; i++) {
            buf[i] = '\n';
        }
        for (int k = 0; k < 3 && len > 0; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            buf[seed % len] = (char)(seed >> 32);
        }
        {
            char *copy = malloc(len ? len : 1);

            assert_non_null(copy);
            memcpy(copy, buf, len);
            if (ev_tlog_proof_parse(copy, len, &proof) == 0) {
                ev_tlog_proof_free(proof);
            }
            assert_true(ev_tlog_proof_verify(copy, len, leaf, leaf_len, log, NULL) < 0);
            (void)ev_proof_lines_parse(copy, len, hashes, &count);
            free(copy);
        }
    }
    free(text);
    free(leaf);
    ev_verifier_free(log);
}

static void test_proof_lines(void **state)
{
    static const char *const bad[] = {
        "\n",
        "\n\n",
        "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n\n",
        /* Parenthesized: one element made of two literals, on purpose. */
        ("jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n\n"
         "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\n"),
        "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=\r\n",
        "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY= \n",
        "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY\n",
        "jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjZ=\n",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
        "8f1593cb92f429d9340b9bbc1f0bb122adf8026c42a4a42142e21689317272360\n",
    };
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    uint8_t untouched[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t count = 12345;
    char *text = NULL;
    size_t len;
    char *many;

    (void)state;
    assert_int_equal(ev_proof_lines_parse("", 0, hashes, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(ev_proof_lines_parse(NULL, 0, hashes, &count), 0);
    assert_int_equal(ev_proof_lines_format(NULL, 0, &text, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);

    /* Without its last newline, as hand-edited files often are. */
    assert_int_equal(
        ev_proof_lines_parse("jxWTy5L0Kdk0C5u8HwuxIq34AmxCpKQhQuIWiTFycjY=", 44, hashes, &count),
        0);
    assert_int_equal(count, 1);
    assert_int_equal(hashes[0][0], 0x8f);

    memset(hashes, 0x77, sizeof(hashes));
    memcpy(untouched, hashes, sizeof(hashes));
    count = 12345;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ev_proof_lines_parse(bad[i], strlen(bad[i]), hashes, &count) != EV_EFORMAT) {
            fail_msg("bad proof lines %zu accepted", i);
        }
        assert_int_equal(count, 12345);
        assert_memory_equal(hashes, untouched, sizeof(hashes));
    }

    /* 64 round-trip, 65 are too many for either direction. */
    for (size_t i = 0; i < EV_MAX_PROOF; i++) {
        memset(untouched[i], (int)i, EV_HASH_BYTES);
    }
    assert_int_equal(ev_proof_lines_format((const uint8_t(*)[EV_HASH_BYTES])untouched, EV_MAX_PROOF,
                                           &text, &len),
                     0);
    assert_int_equal(len, EV_MAX_PROOF * 45);
    assert_int_equal(ev_proof_lines_parse(text, len, hashes, &count), 0);
    assert_int_equal(count, EV_MAX_PROOF);
    assert_memory_equal(hashes, untouched, sizeof(hashes));
    many = malloc(len + 45);
    assert_non_null(many);
    memcpy(many, text, len);
    memcpy(many + len, text, 45);
    assert_int_equal(ev_proof_lines_parse(many, len + 45, hashes, &count), EV_EFORMAT);
    assert_int_equal(count, EV_MAX_PROOF);
    free(many);
    free(text);
    text = NULL;
    assert_int_equal(ev_proof_lines_format((const uint8_t(*)[EV_HASH_BYTES])untouched,
                                           EV_MAX_PROOF + 1, &text, &len),
                     EV_EFORMAT);
    assert_null(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_round_trip),
        cmocka_unit_test(test_body_matches_vector),
        cmocka_unit_test(test_body_format_rejects),
        cmocka_unit_test(test_body_parse),
        cmocka_unit_test(test_tlog_proof_vectors),
        cmocka_unit_test(test_tlog_proof_bitflip_vector),
        cmocka_unit_test(test_tlog_proof_every_leaf),
        cmocka_unit_test(test_tlog_proof_extra),
        cmocka_unit_test(test_tlog_proof_malformed),
        cmocka_unit_test(test_tlog_proof_checkpoint_policy),
        cmocka_unit_test(test_tlog_proof_hostile),
        cmocka_unit_test(test_proof_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
