/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Note keys, signed notes and signed checkpoints, against the independent vectors of
 * tests/vectors (checkpoints.txt, keys.txt, checkpoints/) and against hostile input.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <evident/error.h>
#include <evident/note.h>

#include "crypto.h"

#ifndef EV_TEST_VECTORS_DIR
#define EV_TEST_VECTORS_DIR "tests/vectors"
#endif

#define CHECKPOINT_ROWS 40
#define KEY_ROWS 5
#define TABLE_MAX_ROWS 64
#define TABLE_MAX_FIELDS 9

struct table {
    char *text;
    char *field[TABLE_MAX_ROWS][TABLE_MAX_FIELDS];
    size_t rows;
};

/* Reads a file under the vectors directory, NUL-terminated (the NUL is not counted). */
static char *read_vector(const char *name, size_t *ret_len)
{
    char path[1024];
    FILE *f;
    char *buf;
    long size;
    size_t got;

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
    got = fread(buf, 1, (size_t)size, f);
    assert_int_equal(got, (size_t)size);
    assert_int_equal(fclose(f), 0);
    buf[size] = '\0';
    *ret_len = (size_t)size;
    return buf;
}

/*
 * Loads a vectors table: lines of fields separated by one space, '#' lines skipped; the
 * last of field_count fields runs to the end of the line (the description).
 */
static void load_table(const char *name, size_t field_count, struct table *t)
{
    size_t len;
    char *line;
    char *next;

    memset(t, 0, sizeof(*t));
    t->text = read_vector(name, &len);
    for (line = t->text; *line; line = next) {
        char *end = strchr(line, '\n');
        char *p = line;

        assert_non_null(end);
        *end = '\0';
        next = end + 1;
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        assert_true(t->rows < TABLE_MAX_ROWS);
        for (size_t i = 0; i < field_count; i++) {
            char *space = i + 1 < field_count ? strchr(p, ' ') : NULL;

            t->field[t->rows][i] = p;
            if (i + 1 < field_count) {
                assert_non_null(space);
                *space = '\0';
                p = space + 1;
            }
        }
        t->rows++;
    }
}

static void free_table(struct table *t)
{
    free(t->text);
}

/* The vkey and skey of key `label` in keys.txt. */
static void vector_key(const char *label, char *vkey, size_t vkey_cap, char *skey, size_t skey_cap)
{
    struct table keys;
    bool found = false;

    load_table("keys.txt", 7, &keys);
    for (size_t i = 0; i < keys.rows; i++) {
        if (strcmp(keys.field[i][0], label) == 0) {
            assert_true(strlen(keys.field[i][5]) < vkey_cap);
            assert_true(strlen(keys.field[i][6]) < skey_cap);
            memcpy(vkey, keys.field[i][5], strlen(keys.field[i][5]) + 1);
            memcpy(skey, keys.field[i][6], strlen(keys.field[i][6]) + 1);
            found = true;
        }
    }
    free_table(&keys);
    if (!found) {
        fail_msg("no key '%s' in keys.txt", label);
    }
}

static struct ev_verifier *vector_verifier(const char *label)
{
    char vkey[512];
    char skey[512];
    struct ev_verifier *verifier = NULL;

    vector_key(label, vkey, sizeof(vkey), skey, sizeof(skey));
    assert_int_equal(ev_verifier_parse(vkey, &verifier), 0);
    return verifier;
}

static struct ev_signer *vector_signer(const char *label)
{
    char vkey[512];
    char skey[512];
    struct ev_signer *signer = NULL;

    vector_key(label, vkey, sizeof(vkey), skey, sizeof(skey));
    assert_int_equal(ev_signer_parse(skey, &signer), 0);
    return signer;
}

static char *read_note(const char *file, size_t *ret_len)
{
    char name[256];

    assert_true(snprintf(name, sizeof(name), "checkpoints/%s", file) < (int)sizeof(name));
    return read_vector(name, ret_len);
}

/* xorshift64: deterministic test noise (rand() is banned, and runs must be repeatable). */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static void test_key_vectors(void **state)
{
    struct table keys;

    (void)state;
    load_table("keys.txt", 7, &keys);
    assert_int_equal(keys.rows, KEY_ROWS);
    for (size_t i = 0; i < keys.rows; i++) {
        const char *name = keys.field[i][1];
        const char *seed_hex = keys.field[i][2];
        const char *public_hex = keys.field[i][3];
        const char *key_id_hex = keys.field[i][4];
        const char *vkey = keys.field[i][5];
        const char *skey = keys.field[i][6];
        struct ev_signer *signer = NULL;
        struct ev_verifier *verifier = NULL;
        uint8_t want[32];
        uint8_t key_data[33];
        char *text = NULL;
        char expected_prefix[512];

        assert_int_equal(ev_signer_parse(skey, &signer), 0);
        assert_int_equal(ev_signer_vkey(signer, &text), 0);
        assert_string_equal(text, vkey);
        free(text);

        assert_int_equal(ev_verifier_parse(vkey, &verifier), 0);
        assert_string_equal(ev_verifier_name(verifier), name);
        assert_int_equal(ev_verifier_vkey(verifier, &text), 0);
        assert_string_equal(text, vkey);
        free(text);

        /* The key ID column, the public key and the seed, each checked on its own. */
        assert_true(snprintf(expected_prefix, sizeof(expected_prefix), "%s+%s+", name, key_id_hex) <
                    (int)sizeof(expected_prefix));
        assert_memory_equal(vkey, expected_prefix, strlen(expected_prefix));
        assert_int_equal(evi_hex_decode(public_hex, 64, want, 32), 0);
        assert_int_equal(evi_base64_decode(vkey + strlen(expected_prefix),
                                           strlen(vkey) - strlen(expected_prefix), key_data,
                                           sizeof(key_data)),
                         33);
        assert_int_equal(key_data[0], 1);
        assert_memory_equal(key_data + 1, want, 32);
        assert_int_equal(evi_hex_decode(seed_hex, 64, want, 32), 0);
        assert_int_equal(evi_base64_decode(skey + strlen("PRIVATE+KEY+") + strlen(expected_prefix),
                                           44, key_data, sizeof(key_data)),
                         33);
        assert_memory_equal(key_data + 1, want, 32);

        ev_signer_free(signer);
        ev_verifier_free(verifier);
    }
    free_table(&keys);
}

/* A note signed by key i verifies with vkey j exactly when i == j, for all vector keys. */
static void test_key_vectors_cross_sign(void **state)
{
    struct table keys;
    const char text[] = "example.com/tlogref/log\n5\n"
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    (void)state;
    load_table("keys.txt", 7, &keys);
    for (size_t i = 0; i < keys.rows; i++) {
        struct ev_signer *signer = NULL;
        char *note = NULL;
        size_t note_len;

        assert_int_equal(ev_signer_parse(keys.field[i][6], &signer), 0);
        assert_int_equal(ev_note_sign(text, sizeof(text) - 1, signer, &note, &note_len), 0);
        assert_int_equal(strlen(note), note_len);
        for (size_t j = 0; j < keys.rows; j++) {
            struct ev_verifier *verifier = NULL;
            const struct ev_verifier *trusted[1];
            size_t text_len = 0;
            int r;

            assert_int_equal(ev_verifier_parse(keys.field[j][5], &verifier), 0);
            trusted[0] = verifier;
            r = ev_note_verify(note, note_len, trusted, 1, &text_len);
            if (i == j) {
                assert_int_equal(r, 0);
                assert_int_equal(text_len, sizeof(text) - 1);
            } else {
                assert_int_equal(r, EV_EBADSIG);
            }
            ev_verifier_free(verifier);
        }
        free(note);
        ev_signer_free(signer);
    }
    free_table(&keys);
}

static int expected_code(const char *expect, const char *fails_at)
{
    if (strcmp(expect, "PASS") == 0) {
        return 0;
    }
    if (strcmp(fails_at, "signature") == 0) {
        return EV_EBADSIG;
    }
    if (strcmp(fails_at, "body") == 0) {
        return EV_EFORMAT;
    }
    if (strcmp(fails_at, "origin") == 0) {
        return EV_EORIGIN;
    }
    fail_msg("unknown fails_at '%s'", fails_at);
    return 1;
}

static void test_checkpoint_vectors(void **state)
{
    struct table rows;
    size_t counts[4] = {0};

    (void)state;
    load_table("checkpoints.txt", 9, &rows);
    assert_int_equal(rows.rows, CHECKPOINT_ROWS);
    for (size_t i = 0; i < rows.rows; i++) {
        const char *file = rows.field[i][0];
        int want = expected_code(rows.field[i][2], rows.field[i][3]);
        struct ev_verifier *verifier = vector_verifier(rows.field[i][1]);
        const struct ev_verifier *trusted[1] = {verifier};
        struct ev_checkpoint checkpoint;
        size_t note_len;
        size_t text_len = 0;
        char *note = read_note(file, &note_len);
        int r;

        memset(&checkpoint, 0xa5, sizeof(checkpoint));
        r = ev_checkpoint_open(note, note_len, verifier, &checkpoint);
        if (r != want) {
            fail_msg("%s: got %d (%s), want %d", file, r, ev_last_error(), want);
        }
        if (r < 0) {
            assert_true(ev_last_error()[0] != '\0');
        }

        /* Each stage on its own must agree with where the vector says it fails. */
        r = ev_note_verify(note, note_len, trusted, 1, &text_len);
        assert_int_equal(r, want == EV_EBADSIG ? EV_EBADSIG : 0);
        if (want != EV_EBADSIG) {
            struct ev_checkpoint parsed;

            r = ev_checkpoint_parse(note, text_len, &parsed);
            assert_int_equal(r, want == EV_EFORMAT ? EV_EFORMAT : 0);
            if (want == 0 || want == EV_EORIGIN) {
                uint8_t root[EV_HASH_BYTES];
                char *end;

                assert_string_equal(parsed.origin, rows.field[i][4]);
                assert_int_equal(parsed.tree_size, strtoull(rows.field[i][5], &end, 10));
                assert_int_equal(evi_hex_decode(rows.field[i][6], 64, root, sizeof(root)), 0);
                assert_memory_equal(parsed.root, root, sizeof(root));
                assert_int_equal(parsed.extension_count, strtoull(rows.field[i][7], &end, 10));
                if (want == 0) {
                    assert_memory_equal(&parsed, &checkpoint, sizeof(parsed));
                }
            }
        }
        counts[want == 0 ? 0 : want == EV_EBADSIG ? 1 : want == EV_EFORMAT ? 2 : 3]++;
        free(note);
        ev_verifier_free(verifier);
    }
    /* The README's tally: 9 PASS, 17 signature, 13 body, 1 origin. */
    assert_int_equal(counts[0], 9);
    assert_int_equal(counts[1], 17);
    assert_int_equal(counts[2], 13);
    assert_int_equal(counts[3], 1);
    free_table(&rows);
}

/* Ed25519 is deterministic: re-signing the vector texts must give the vector notes. */
static void test_sign_known_answer(void **state)
{
    static const char *const files[] = {
        "checkpoint-0.note",           "checkpoint-1.note",    "checkpoint-7.note",
        "checkpoint-8.note",           "checkpoint-64.note",   "checkpoint-1000.note",
        "checkpoint-65537.note",       "extension-lines.note", "origin-mismatch.note",
        "body-size-leading-zero.note",
    };
    struct ev_signer *signer = vector_signer("log");
    struct ev_verifier *verifier = vector_verifier("log");
    const struct ev_verifier *trusted[1] = {verifier};

    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t note_len;
        size_t text_len;
        size_t signed_len;
        char *note = read_note(files[i], &note_len);
        char *signed_note = NULL;

        assert_int_equal(ev_note_verify(note, note_len, trusted, 1, &text_len), 0);
        assert_int_equal(ev_note_sign(note, text_len, signer, &signed_note, &signed_len), 0);
        assert_int_equal(signed_len, note_len);
        assert_memory_equal(signed_note, note, note_len);
        free(signed_note);
        free(note);
    }
    ev_verifier_free(verifier);
    ev_signer_free(signer);
}

static void test_sign_verify_round_trip(void **state)
{
    static const char *const texts[] = {
        "a\n",
        "\n",
        "\n\n",
        "line one\n\nline three after an empty line\n",
        "h\xc3\xa9llo \xe2\x80\x94 w\xc3\xb6rld \xf0\x9f\x8c\x8d\n",
        "looks like a signature\n\n\xe2\x80\x94 x AAAAAAAA\n",
    };
    struct ev_signer *signer = NULL;
    struct ev_signer *impostor = NULL;
    struct ev_verifier *verifier = NULL;
    struct ev_verifier *impostor_verifier = NULL;
    char *vkey = NULL;

    (void)state;
    assert_int_equal(ev_signer_generate("example.org/test-log", &signer), 0);
    assert_int_equal(ev_signer_generate("example.org/test-log", &impostor), 0);
    assert_int_equal(ev_signer_vkey(signer, &vkey), 0);
    assert_int_equal(ev_verifier_parse(vkey, &verifier), 0);
    free(vkey);
    assert_int_equal(ev_signer_vkey(impostor, &vkey), 0);
    assert_int_equal(ev_verifier_parse(vkey, &impostor_verifier), 0);
    free(vkey);
    assert_string_equal(ev_verifier_name(verifier), "example.org/test-log");

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const struct ev_verifier *only_ours[1] = {verifier};
        const struct ev_verifier *only_impostor[1] = {impostor_verifier};
        const struct ev_verifier *both[2] = {impostor_verifier, verifier};
        size_t len = strlen(texts[i]);
        size_t note_len;
        size_t text_len = 0;
        char *note = NULL;

        assert_int_equal(ev_note_sign(texts[i], len, signer, &note, &note_len), 0);
        assert_int_equal(ev_note_verify(note, note_len, only_ours, 1, &text_len), 0);
        assert_int_equal(text_len, len);
        assert_memory_equal(note, texts[i], len);
        assert_int_equal(ev_note_verify(note, note_len, both, 2, &text_len), 0);
        /* Same name, other key: an unknown key, so no trusted signature at all. */
        assert_int_equal(ev_note_verify(note, note_len, only_impostor, 1, &text_len), EV_EBADSIG);
        assert_int_equal(ev_note_verify(note, note_len, NULL, 0, &text_len), EV_EBADSIG);

        /* Every single-bit change anywhere in the note must be caught. */
        for (size_t byte = 0; byte < note_len; byte++) {
            for (int bit = 0; bit < 8; bit++) {
                note[byte] ^= (char)(1u << bit);
                if (ev_note_verify(note, note_len, only_ours, 1, &text_len) != EV_EBADSIG) {
                    fail_msg("text %zu: flipping bit %d of byte %zu went unnoticed", i, bit, byte);
                }
                note[byte] ^= (char)(1u << bit);
            }
        }
        free(note);
    }
    ev_verifier_free(verifier);
    ev_verifier_free(impostor_verifier);
    ev_signer_free(signer);
    ev_signer_free(impostor);
}

static void test_sign_rejects_bad_text(void **state)
{
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {"", 0},
        {"no final newline", 16},
        {"carriage\r\n", 10},
        {"tab\there\n", 9},
        {"nul\0byte\n", 9},
        {"\xff\n", 2},
        {"overlong \xc0\xaf\n", 12},
        {"surrogate \xed\xa0\x80\n", 14},
        {"beyond U+10FFFF \xf4\x90\x80\x80\n", 21},
        {"truncated \xe2\x80\n", 13},
    };
    struct ev_signer *signer = vector_signer("log");
    char *big;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *note = (char *)0x1;
        size_t note_len = 7;

        if (ev_note_sign(bad[i].text, bad[i].len, signer, &note, &note_len) != EV_EFORMAT) {
            fail_msg("bad text %zu was signed", i);
        }
        assert_ptr_equal(note, (char *)0x1);
        assert_int_equal(note_len, 7);
        assert_true(ev_last_error()[0] != '\0');
    }
    big = malloc(EV_NOTE_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, 'a', EV_NOTE_MAX_BYTES);
    big[EV_NOTE_MAX_BYTES - 1] = '\n';
    {
        char *note = NULL;
        size_t note_len;

        /* The text alone fits, text plus signature does not. */
        assert_int_equal(ev_note_sign(big, EV_NOTE_MAX_BYTES, signer, &note, &note_len),
                         EV_ETOOBIG);
        assert_int_equal(ev_note_sign(big, EV_NOTE_MAX_BYTES - 200, signer, &note, &note_len),
                         EV_EFORMAT);
        big[EV_NOTE_MAX_BYTES - 201] = '\n';
        assert_int_equal(ev_note_sign(big, EV_NOTE_MAX_BYTES - 200, signer, &note, &note_len), 0);
        assert_int_equal(note_len, EV_NOTE_MAX_BYTES - 200 + 1 + 4 + 23 + 1 + 92 + 1);
        free(note);
    }
    free(big);
    ev_signer_free(signer);
}

/* A signature line "— name base64(bytes)\n" for arbitrary bytes. */
static size_t signature_line(const char *name, const uint8_t *bytes, size_t len, char *out,
                             size_t cap)
{
    char b64[512];
    int n;

    assert_true(evi_base64_encoded_len(len) < sizeof(b64));
    (void)evi_base64_encode(bytes, len, b64, sizeof(b64));
    n = snprintf(out, cap, "\xe2\x80\x94 %s %s\n", name, b64);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

struct note_builder {
    char *buf;
    size_t len;
    size_t cap;
};

static void builder_add(struct note_builder *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->buf = realloc(b->buf, b->cap);
        assert_non_null(b->buf);
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
}

/*
 * The vector note checkpoint-8.note with extra lines: `before` unknown-key lines of sig_len
 * bytes ahead of the log's own line, then `after` line added verbatim.
 */
static int verify_with_extra_lines(size_t before, size_t sig_len, const char *after)
{
    struct ev_verifier *verifier = vector_verifier("log");
    const struct ev_verifier *trusted[1] = {verifier};
    struct note_builder b = {0};
    uint8_t sig[128];
    char line[512];
    size_t note_len;
    size_t text_len;
    char *note = read_note("checkpoint-8.note", &note_len);
    const char *log_line;
    int r;

    memset(sig, 0x5a, sizeof(sig));
    assert_true(sig_len <= sizeof(sig));
    assert_int_equal(ev_note_verify(note, note_len, trusted, 1, &text_len), 0);
    builder_add(&b, note, text_len + 1);
    for (size_t i = 0; i < before; i++) {
        size_t n = signature_line("witness.example/unknown", sig, sig_len, line, sizeof(line));

        builder_add(&b, line, n);
    }
    log_line = note + text_len + 1;
    builder_add(&b, log_line, note_len - text_len - 1);
    if (after) {
        builder_add(&b, after, strlen(after));
    }
    r = ev_note_verify(b.buf, b.len, trusted, 1, &text_len);
    free(b.buf);
    free(note);
    ev_verifier_free(verifier);
    return r;
}

static void test_verify_policy(void **state)
{
    uint8_t bytes[68];
    char line[512];
    size_t note_len;
    char *note = read_note("checkpoint-8.note", &note_len);
    char *log_line;

    (void)state;
    /* Unknown keys are ignored, whatever their signature length beyond the key ID. */
    assert_int_equal(verify_with_extra_lines(1, 5, NULL), 0);
    assert_int_equal(verify_with_extra_lines(1, 100, NULL), 0);
    assert_int_equal(verify_with_extra_lines(1, 4, NULL), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(1, 1, NULL), EV_EBADSIG);
    /* At most EV_NOTE_MAX_SIGNATURES lines, counting the trusted one. */
    assert_int_equal(verify_with_extra_lines(EV_NOTE_MAX_SIGNATURES - 1, 68, NULL), 0);
    assert_int_equal(verify_with_extra_lines(EV_NOTE_MAX_SIGNATURES, 68, NULL), EV_EBADSIG);

    /* The trusted line twice: both verify. */
    log_line = strstr(note, "\n\n") + 2;
    assert_int_equal(verify_with_extra_lines(0, 0, log_line), 0);

    /* Malformed extra lines reject the note even though the log's line verifies. */
    assert_int_equal(verify_with_extra_lines(0, 0, "- witness.example/w AAAAAAA=\n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 witness.example/w\n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 witness.example/w \n"),
                     EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94  AAAAAAA=\n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w+x AAAAAAA=\n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w\xe2\x80\x83x AAAAAAA=\n"),
                     EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w\xc2\xa0x AAAAAAA=\n"),
                     EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w AAAAAAA= \n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w AAAAAAA\n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w AAAAAAB=\n"), EV_EBADSIG);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w AAAAAAA=\n"), 0);
    assert_int_equal(verify_with_extra_lines(0, 0, "\xe2\x80\x94 w\xc3\xa9 AAAAAAA=\n"), 0);

    /* A line that names the trusted key with its key ID must verify: wrong length. */
    memcpy(bytes, "\xf3\xae\x00\x39", 4);
    memset(bytes + 4, 0, sizeof(bytes) - 4);
    signature_line("example.com/tlogref/log", bytes, 67, line, sizeof(line));
    assert_int_equal(verify_with_extra_lines(0, 0, line), EV_EBADSIG);
    signature_line("example.com/tlogref/log", bytes, 68, line, sizeof(line));
    assert_int_equal(verify_with_extra_lines(0, 0, line), EV_EBADSIG);
    /* The same bytes under another key ID: unknown key, ignored. */
    bytes[3] ^= 1;
    signature_line("example.com/tlogref/log", bytes, 68, line, sizeof(line));
    assert_int_equal(verify_with_extra_lines(0, 0, line), 0);
    free(note);
}

static void test_verify_rejects_shapes(void **state)
{
    static const char *const notes[] = {
        "",
        "\n",
        "\n\n",
        "text\n\n",
        "text\n",
        "text\n\n\n",
        "\xe2\x80\x94 example.com/tlogref/log AAAAAAA=\n",
    };
    struct ev_verifier *verifier = vector_verifier("log");
    const struct ev_verifier *trusted[1] = {verifier};
    size_t text_len = 12345;
    char *huge;

    (void)state;
    for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
        assert_int_equal(ev_note_verify(notes[i], strlen(notes[i]), trusted, 1, &text_len),
                         EV_EBADSIG);
        assert_int_equal(text_len, 12345);
    }
    assert_int_equal(ev_note_verify(NULL, 0, trusted, 1, &text_len), EV_EBADSIG);
    assert_int_equal(ev_note_verify("x", 1, trusted, 1, NULL), -EINVAL);
    huge = calloc(1, EV_NOTE_MAX_BYTES + 1);
    assert_non_null(huge);
    assert_int_equal(ev_note_verify(huge, EV_NOTE_MAX_BYTES + 1, trusted, 1, &text_len),
                     EV_EBADSIG);
    free(huge);
    ev_verifier_free(verifier);
}

/* Whether byte lies in a signature line (after the last empty line) not by the log key. */
static bool in_unknown_key_line(const char *note, size_t byte)
{
    static const char log_prefix[] = "\xe2\x80\x94 example.com/tlogref/log ";
    const char *signatures = note;
    const char *line;

    for (const char *p = strstr(note, "\n\n"); p; p = strstr(p + 1, "\n\n")) {
        signatures = p + 2;
    }
    if (note + byte < signatures) {
        return false;
    }
    line = note + byte;
    while (line > signatures && line[-1] != '\n') {
        line--;
    }
    return strncmp(line, log_prefix, strlen(log_prefix)) != 0;
}

/* Every proper prefix and every byte change of every vector note fails, without a crash. */
static void test_hostile_truncation_and_mutation(void **state)
{
    struct table rows;
    struct ev_verifier *verifier = vector_verifier("log");
    const struct ev_verifier *trusted[1] = {verifier};

    (void)state;
    load_table("checkpoints.txt", 9, &rows);
    for (size_t i = 0; i < rows.rows; i++) {
        size_t note_len;
        char *note = read_note(rows.field[i][0], &note_len);
        int full = ev_note_verify(note, note_len, trusted, 1, &(size_t){0});

        for (size_t cut = 0; cut < note_len; cut++) {
            /* A copy of exactly cut bytes, so ASan sees any read past the end. */
            char *prefix = malloc(cut ? cut : 1);
            struct ev_checkpoint checkpoint;
            size_t text_len;
            int r;

            assert_non_null(prefix);
            memcpy(prefix, note, cut);
            /*
             * A prefix of a valid note is never valid (its last line is the log's), but a
             * prefix of a bad one may be: sig-trailing-blank-line.note less its last byte.
             */
            r = ev_note_verify(prefix, cut, trusted, 1, &text_len);
            if (full == 0 && r != EV_EBADSIG) {
                fail_msg("%s cut at %zu verified", rows.field[i][0], cut);
            }
            r = ev_checkpoint_open(prefix, cut, verifier, &checkpoint);
            assert_true(full != 0 || r < 0);
            (void)ev_checkpoint_parse(prefix, cut, &checkpoint);
            free(prefix);
        }
        if (full == 0) {
            for (size_t byte = 0; byte < note_len; byte++) {
                /* Lines of unknown keys are ignored: changing one may well leave it valid. */
                bool must_fail = !in_unknown_key_line(note, byte);

                for (int bit = 0; bit < 8; bit++) {
                    size_t text_len;
                    int r;

                    note[byte] ^= (char)(1u << bit);
                    r = ev_note_verify(note, note_len, trusted, 1, &text_len);
                    if (must_fail && r == 0) {
                        fail_msg("%s: bit %d of byte %zu flipped, still verifies", rows.field[i][0],
                                 bit, byte);
                    }
                    note[byte] ^= (char)(1u << bit);
                }
            }
        }
        free(note);
    }
    free_table(&rows);
    ev_verifier_free(verifier);
}

static void test_hostile_random(void **state)
{
    /* Bytes that matter to the parsers, so noise reaches deep into them. */
    static const char alphabet[] = "\n\n\n   ++++AZaz09/=\xe2\x80\x94\xc2\xa0\xff\x01";
    struct ev_verifier *verifier = vector_verifier("log");
    const struct ev_verifier *trusted[1] = {verifier};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    char buf[400];

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(next_random(&seed) % sizeof(buf));
        bool structured = round % 2 == 0;
        struct ev_checkpoint checkpoint;
        struct ev_verifier *v = NULL;
        struct ev_signer *s = NULL;
        size_t text_len;
        char *copy;

        for (size_t i = 0; i < len; i++) {
            uint64_t x = next_random(&seed);

            buf[i] = structured ? alphabet[x % (sizeof(alphabet) - 1)] : (char)x;
        }
        copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        assert_int_equal(ev_note_verify(copy, len, trusted, 1, &text_len), EV_EBADSIG);
        assert_true(ev_checkpoint_open(copy, len, verifier, &checkpoint) < 0);
        if (ev_checkpoint_parse(copy, len, &checkpoint) == 0) {
            assert_true(strlen(checkpoint.origin) > 0);
        }
        copy[len] = '\0';
        assert_int_equal(ev_verifier_parse(copy, &v), EV_EBADKEY);
        assert_int_equal(ev_signer_parse(copy, &s), EV_EBADKEY);
        free(copy);
    }
    ev_verifier_free(verifier);
}

static void test_key_parse_rejects(void **state)
{
    static const char *const bad_vkeys[] = {
        "",
        "+",
        "example.com/tlogref/log",
        "example.com/tlogref/log+f3ae0039",
        "example.com/tlogref/log+f3ae0039+",
        "example.com/tlogref/log+f3ae003+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "example.com/tlogref/log+f3ae00390+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "example.com/tlogref/log+g3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "example.com/tlogref/log+f3ae0038+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "example.com/tlogref/lg+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxK",
        "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSx",
        "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ=",
        "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJAAAA",
        "example.com/tlogref/log+f3ae0039+Ao+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ\n",
        " example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
        "PRIVATE+KEY+example.com/tlogref/log+f3ae0039+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums5",
    };
    static const char *const bad_skeys[] = {
        "",
        "PRIVATE+KEY+",
        "PRIVATE+KEY",
        "private+key+example.com/tlogref/log+f3ae0039+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums5",
        "PRIVATE+KEY+example.com/tlogref/log+f3ae0038+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums5",
        "PRIVATE+KEY+example.com/tlogref/lo+f3ae0039+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums5",
        "PRIVATE+KEY+example.com/tlogref/log+f3ae0039+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums4",
        "PRIVATE+KEY+example.com/tlogref/log+f3ae0039+AuoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums5",
        "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ",
    };
    char vkey[512];
    char skey[512];
    char long_name[EV_KEY_NAME_MAX + 2];
    struct ev_signer *signer = NULL;
    struct ev_verifier *verifier = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_vkeys) / sizeof(bad_vkeys[0]); i++) {
        if (ev_verifier_parse(bad_vkeys[i], &verifier) != EV_EBADKEY) {
            fail_msg("bad vkey %zu accepted", i);
        }
        assert_null(verifier);
    }
    for (size_t i = 0; i < sizeof(bad_skeys) / sizeof(bad_skeys[0]); i++) {
        if (ev_signer_parse(bad_skeys[i], &signer) != EV_EBADKEY) {
            fail_msg("bad skey %zu accepted", i);
        }
        assert_null(signer);
    }

    /* Every prefix and every one-bit change of the vector keys is refused. */
    vector_key("log", vkey, sizeof(vkey), skey, sizeof(skey));
    for (size_t cut = 0; cut < strlen(vkey); cut++) {
        char copy[512];

        memcpy(copy, vkey, cut);
        copy[cut] = '\0';
        assert_int_equal(ev_verifier_parse(copy, &verifier), EV_EBADKEY);
    }
    for (size_t cut = 0; cut < strlen(skey); cut++) {
        char copy[512];

        memcpy(copy, skey, cut);
        copy[cut] = '\0';
        assert_int_equal(ev_signer_parse(copy, &signer), EV_EBADKEY);
    }
    for (size_t i = 0; i < strlen(vkey); i++) {
        vkey[i] ^= 1;
        assert_int_equal(ev_verifier_parse(vkey, &verifier), EV_EBADKEY);
        vkey[i] ^= 1;
    }
    for (size_t i = 0; i < strlen(skey); i++) {
        skey[i] ^= 1;
        assert_int_equal(ev_signer_parse(skey, &signer), EV_EBADKEY);
        skey[i] ^= 1;
    }

    /* Names for new keys: 255 bytes is the limit; spaces, '+' and empty are refused. */
    memset(long_name, 'n', EV_KEY_NAME_MAX);
    long_name[EV_KEY_NAME_MAX] = '\0';
    assert_int_equal(ev_signer_generate(long_name, &signer), 0);
    {
        char *text = NULL;

        assert_int_equal(ev_signer_vkey(signer, &text), 0);
        assert_int_equal(ev_verifier_parse(text, &verifier), 0);
        assert_string_equal(ev_verifier_name(verifier), long_name);
        free(text);
        ev_verifier_free(verifier);
        verifier = NULL;
    }
    ev_signer_free(signer);
    signer = NULL;
    long_name[EV_KEY_NAME_MAX] = 'n';
    long_name[EV_KEY_NAME_MAX + 1] = '\0';
    assert_int_equal(ev_signer_generate(long_name, &signer), EV_EBADKEY);
    assert_int_equal(ev_signer_generate("", &signer), EV_EBADKEY);
    assert_int_equal(ev_signer_generate("a b", &signer), EV_EBADKEY);
    assert_int_equal(ev_signer_generate("a+b", &signer), EV_EBADKEY);
    assert_int_equal(ev_signer_generate("a\xe3\x80\x80"
                                        "b",
                                        &signer),
                     EV_EBADKEY);
    assert_int_equal(ev_signer_generate("a\nb", &signer), EV_EBADKEY);
    assert_int_equal(ev_signer_generate("a\xc0\x80", &signer), EV_EBADKEY);
    assert_null(signer);
    assert_int_equal(ev_signer_generate("caf\xc3\xa9.example/log", &signer), 0);
    ev_signer_free(signer);

    ev_signer_free(NULL);
    ev_verifier_free(NULL);
}

static char *make_temp_dir(void)
{
    char *dir = strdup("/tmp/evident-test-note-XXXXXX");

    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_files(void **state)
{
    static const mode_t refused[] = {0640, 0644, 0604, 0660, 0602, 0620, 0601, 0610, 0777};
    static const mode_t accepted[] = {0600, 0400, 0700};
    char *dir = make_temp_dir();
    char path[512];
    char other[512];
    char vkey[512];
    char skey[512];
    struct ev_signer *signer = NULL;
    struct ev_signer *loaded = NULL;
    struct stat st;
    char *a = NULL;
    char *b = NULL;
    mode_t old_umask;

    (void)state;
    assert_true(snprintf(path, sizeof(path), "%s/signing.key", dir) < (int)sizeof(path));

    /* Save: mode exactly 0600 even under a hostile umask; never overwrites. */
    assert_int_equal(ev_signer_generate("example.org/key-file", &signer), 0);
    old_umask = umask(0277);
    assert_int_equal(ev_signer_save(signer, path), 0);
    (void)umask(old_umask);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(ev_signer_save(signer, path), -EEXIST);
    assert_int_equal(ev_signer_load(path, &loaded), 0);
    assert_int_equal(ev_signer_vkey(signer, &a), 0);
    assert_int_equal(ev_signer_vkey(loaded, &b), 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    ev_signer_free(loaded);
    loaded = NULL;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(chmod(path, refused[i]), 0);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EKEYPERM);
        assert_null(loaded);
        assert_non_null(strstr(ev_last_error(), "signing.key"));
    }
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        assert_int_equal(chmod(path, accepted[i]), 0);
        assert_int_equal(ev_signer_load(path, &loaded), 0);
        ev_signer_free(loaded);
        loaded = NULL;
    }
    assert_int_equal(unlink(path), 0);

    /* The vector key, written by hand: with and without its newline. */
    vector_key("log", vkey, sizeof(vkey), skey, sizeof(skey));
    write_file(path, skey, strlen(skey), 0600);
    assert_int_equal(ev_signer_load(path, &loaded), 0);
    assert_int_equal(ev_signer_vkey(loaded, &a), 0);
    assert_string_equal(a, vkey);
    free(a);
    ev_signer_free(loaded);
    loaded = NULL;
    assert_int_equal(unlink(path), 0);
    {
        char text[600];
        int n = snprintf(text, sizeof(text), "%s\n", skey);

        write_file(path, text, (size_t)n, 0600);
        assert_int_equal(ev_signer_load(path, &loaded), 0);
        ev_signer_free(loaded);
        loaded = NULL;
        assert_int_equal(unlink(path), 0);

        n = snprintf(text, sizeof(text), "%s\n\n", skey);
        write_file(path, text, (size_t)n, 0600);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EBADKEY);
        assert_int_equal(unlink(path), 0);

        n = snprintf(text, sizeof(text), "%s\r\n", skey);
        write_file(path, text, (size_t)n, 0600);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EBADKEY);
        assert_int_equal(unlink(path), 0);

        n = snprintf(text, sizeof(text), "%s", skey);
        text[5] = '\0';
        write_file(path, text, (size_t)n, 0600);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EBADKEY);
        assert_int_equal(unlink(path), 0);

        /* A valid key, then a NUL and junk: the whole file is the key, or nothing is. */
        n = snprintf(text, sizeof(text), "%s#junk\n", skey);
        text[strlen(skey)] = '\0';
        write_file(path, text, (size_t)n, 0600);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EBADKEY);
        assert_int_equal(unlink(path), 0);
    }
    {
        char big[4096];

        memset(big, 'A', sizeof(big));
        write_file(path, big, sizeof(big), 0600);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EBADKEY);
        assert_int_equal(unlink(path), 0);
        write_file(path, "", 0, 0600);
        assert_int_equal(ev_signer_load(path, &loaded), EV_EBADKEY);
    }

    /* Links are not followed, directories and missing files are refused. */
    assert_true(snprintf(other, sizeof(other), "%s/link.key", dir) < (int)sizeof(other));
    assert_int_equal(unlink(path), 0);
    write_file(path, skey, strlen(skey), 0600);
    assert_int_equal(symlink(path, other), 0);
    assert_int_equal(ev_signer_load(other, &loaded), -ELOOP);
    assert_int_equal(ev_signer_save(signer, other), -EEXIST);
    assert_int_equal(unlink(other), 0);
    assert_int_equal(ev_signer_load(other, &loaded), -ENOENT);
    assert_int_equal(ev_signer_load(dir, &loaded), EV_EBADKEY);
    assert_true(snprintf(other, sizeof(other), "%s/no-such-dir/k", dir) < (int)sizeof(other));
    assert_int_equal(ev_signer_save(signer, other), -ENOENT);
    assert_null(loaded);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    ev_signer_free(signer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_vectors),
        cmocka_unit_test(test_key_vectors_cross_sign),
        cmocka_unit_test(test_checkpoint_vectors),
        cmocka_unit_test(test_sign_known_answer),
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_sign_rejects_bad_text),
        cmocka_unit_test(test_verify_policy),
        cmocka_unit_test(test_verify_rejects_shapes),
        cmocka_unit_test(test_hostile_truncation_and_mutation),
        cmocka_unit_test(test_hostile_random),
        cmocka_unit_test(test_key_parse_rejects),
        cmocka_unit_test(test_key_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
