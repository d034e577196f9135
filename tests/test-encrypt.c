/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encryption at rest (docs/FORMAT.md §5.1):
 *
 *   - round trip with both AEADs; the stored entry has exactly the envelope of
 *     §5.1 and none of the plaintext; each entry has its own nonce;
 *   - verification needs no data key: public key only and with V both pass;
 *   - a changed ciphertext byte (CRC fixed up) fails verification (root, tag)
 *     and fails decryption with the AEAD error;
 *   - a missing key, a key file without the entry's key, a wrong key under the
 *     right id: each its exact error; a key file readable by others is refused;
 *   - rotation: old entries stay readable with the file holding both keys,
 *     give "not in FILE" once their key is gone, and still verify;
 *   - seals stay plain; the AAD binds the visible fields and the seq, so an
 *     enc object moved to another entry, or a changed type or severity, fails;
 *   - the key file parser refuses every deviation with the file and line.
 */
#include "testutil.h"

#include <evident/datakey.h>
#include <evident/report.h>

#include "crypto.h"
#include "entry.h"
#include "privacy/datakey.h"
#include "record.h"

#define SEGMENT "segments/00000000000000000000.seg"

struct fx {
    struct tu_fixture tu;
    char keyfile[PATH_MAX];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->tu.root);
    tu_path(f->tu.dir, f->tu.root, "log");
    tu_path(f->keyfile, f->tu.root, "data.keys");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tu_rm_rf(f->tu.root);
    free(f);
    return 0;
}

static struct ev_datakeys *load(const char *path)
{
    struct ev_datakeys *keys = NULL;
    tu_ok(ev_datakeys_load(path, &keys));
    return keys;
}

/* Appends one event with a recognizable source and data; returns its index. */
static uint64_t append_secret(struct ev_log *log, const char *type, int severity, unsigned n)
{
    char data[128];
    uint64_t index = 0;
    (void)snprintf(data, sizeof(data), "{\"note\":\"SECRET-NOTE-%u\",\"n\":%u}", n, n);
    struct ev_event ev = {.type = type,
                          .severity = severity,
                          .source_json =
                              "{\"program\":\"SECRET-PROGRAM\",\"host\":\"SECRET-HOST\"}",
                          .data_json = data};
    tu_ok(ev_log_append(log, &ev, &index));
    return index;
}

static struct ev_entry *entry_at(const char *dir, struct ev_datakeys *keys, uint64_t i)
{
    struct ev_open_options o = {.flags = EV_OPEN_READONLY, .data_keys = keys};
    struct ev_log *log = tu_open(dir, &o);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(log, i, &e));
    tu_ok(ev_log_close(log));
    return e;
}

/* ev_entry_decrypt of entry i with keys: its code, and the text on success (caller frees). */
static int decrypt_at(const char *dir, struct ev_datakeys *keys, uint64_t i, char **ret_text)
{
    struct ev_entry *e = entry_at(dir, keys, i);
    char *text = NULL;
    size_t len = 0;
    int r = ev_entry_decrypt(keys, e->bytes, e->len, &text, &len);
    if (r == 0) {
        assert_int_equal(strlen(text), len);
    }
    ev_entry_free(e);
    *ret_text = text;
    return r;
}

static bool file_contains(const char *path, const char *needle)
{
    size_t len;
    uint8_t *data = tu_read(path, &len);
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

/* Makes a log of n encrypted events under a new key of alg; returns V in f->tu.v. */
static void make_log(struct fx *f, int alg, unsigned n, struct ev_datakey_info *ret_key)
{
    struct ev_datakeys *keys;
    tu_ok(ev_datakey_new(f->keyfile, alg, ret_key));
    keys = load(f->keyfile);
    tu_create(f->tu.dir, 0, f->tu.v);
    struct ev_open_options o = {.data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(append_secret(log, "test", EV_SEV_INFO, i), i);
    }
    tu_ok(ev_log_close(log));
    ev_datakeys_free(keys);
}

/*
 * Checks that e is exactly the §5.1 envelope of the plaintext it decrypts to.
 * Not inlined: gcc 12 at -O3 then takes plain for a dangling pointer.
 */
static __attribute__((noinline)) void check_envelope(const struct ev_entry *e, const char *alg, const char *kid,
                           const char *plain)
{
    char head[512];
    const char *ts = strstr(e->bytes, "\"ts\":\"");
    assert_non_null(ts);
    ts += 6;
    /* The §5 prefix, then the enc object in this order (§5.1). */
    int n = snprintf(head, sizeof(head),
                     "{\"v\":1,\"seq\":%" PRIu64 ",\"ts\":\"%.30s\",\"type\":\"test\","
                     "\"severity\":\"info\",\"enc\":{\"alg\":\"%s\",\"key\":\"%s\",\"nonce\":\"",
                     e->index, ts, alg, kid);
    assert_true(n > 0 && (size_t)n < e->len);
    assert_memory_equal(e->bytes, head, (size_t)n);
    const char *p = e->bytes + n;
    for (int i = 0; i < EVI_AEAD_NONCE_B64; i++) {
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", p[i]));
    }
    p += EVI_AEAD_NONCE_B64;
    assert_memory_equal(p, "\",\"ct\":\"", 8);
    p += 8;
    /* ct: base64 of exactly `{"source":...,"data":...}` plus the 16-byte tag. */
    const char *src = strstr(plain, ",\"source\":");
    assert_non_null(src);
    size_t plain_len = 1 + strlen(src + 1);
    size_t ct_len = evi_base64_encoded_len(plain_len + EVI_AEAD_TAG);
    assert_int_equal(e->len, (size_t)(p - e->bytes) + ct_len + 3);
    uint8_t *ct = malloc(ct_len);
    assert_non_null(ct);
    assert_int_equal(evi_base64_decode(p, ct_len, ct, ct_len), (long)(plain_len + EVI_AEAD_TAG));
    free(ct);
    assert_string_equal(p + ct_len, "\"}}");
}

static void round_trip(void **state, int alg)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    char seg[PATH_MAX];
    make_log(f, alg, 3, &key);
    assert_int_equal(key.alg, alg);

    struct ev_datakeys *keys = load(f->keyfile);
    char *nonces[3] = {NULL};
    for (uint64_t i = 0; i < 3; i++) {
        struct ev_entry *e = entry_at(f->tu.dir, keys, i);
        struct ev_datakey_info info;
        char *text = NULL, expect[512];
        assert_int_equal(ev_entry_encryption(e->bytes, e->len, &info), 1);
        assert_string_equal(info.id, key.id);
        assert_int_equal(info.alg, alg);
        assert_null(strstr(e->bytes, "SECRET"));
        assert_null(strstr(e->bytes, "\"source\""));
        assert_null(strstr(e->bytes, "\"data\""));
        tu_ok(decrypt_at(f->tu.dir, keys, i, &text));
        /* The §5 entry the event would have been unencrypted, byte for byte. */
        (void)snprintf(
            expect, sizeof(expect),
            "{\"v\":1,\"seq\":%" PRIu64 ",\"ts\":\"%.30s\",\"type\":\"test\","
            "\"severity\":\"info\",\"source\":{\"host\":\"SECRET-HOST\",\"program\":\"SECRET-"
            "PROGRAM\"},\"data\":{\"n\":%" PRIu64 ",\"note\":\"SECRET-NOTE-%" PRIu64 "\"}}",
            i, strstr(e->bytes, "\"ts\":\"") + 6, i, i);
        assert_string_equal(text, expect);
        check_envelope(e, ev_data_alg_name(alg), key.id, text);
        nonces[i] = strndup(strstr(e->bytes, "\"nonce\":\""), 9 + EVI_AEAD_NONCE_B64);
        for (uint64_t j = 0; j < i; j++) {
            assert_string_not_equal(nonces[i], nonces[j]); /* a fresh nonce per entry */
        }
        free(text);
        ev_entry_free(e);
    }
    for (int i = 0; i < 3; i++) {
        free(nonces[i]);
    }
    /* No plaintext of source or data anywhere in the records. */
    assert_false(file_contains(tu_path(seg, f->tu.dir, SEGMENT), "SECRET"));
    assert_false(file_contains(seg, "SECRET-HOST"));
    /* Verification needs no data key. */
    (void)tu_verify(f->tu.dir, NULL);
    (void)tu_verify(f->tu.dir, f->tu.v);
    ev_datakeys_free(keys);
}

static void test_round_trip_aes(void **state)
{
    round_trip(state, EV_DATA_AES_256_GCM);
}

static void test_round_trip_chacha(void **state)
{
    round_trip(state, EV_DATA_CHACHA20_POLY1305);
}

/* Changes one base64 character of entry i's ciphertext and fixes the record's CRC. */
static void tamper_ciphertext(const char *dir, uint64_t index)
{
    char seg[PATH_MAX];
    size_t len;
    uint8_t *data = tu_read(tu_path(seg, dir, SEGMENT), &len);
    size_t off = EVI_SEGMENT_HEADER;
    for (uint64_t i = 0; i < index; i++) {
        uint32_t elen = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 |
                        (uint32_t)data[off + 2] << 16 | (uint32_t)data[off + 3] << 24;
        off += EVI_RECORD_OVERHEAD + elen;
    }
    uint32_t elen = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 |
                    (uint32_t)data[off + 2] << 16 | (uint32_t)data[off + 3] << 24;
    char *entry = (char *)data + off + EVI_RECORD_PREFIX;
    char *ct = memmem(entry, elen, "\"ct\":\"", 6);
    assert_non_null(ct);
    ct[6 + 4] = ct[6 + 4] == 'A' ? 'B' : 'A'; /* still base64, another ciphertext */
    uint32_t crc = evi_crc32c(evi_crc32c(0, data + off, 4), data + off + 8, 4 + elen + 32);
    for (int i = 0; i < 4; i++) {
        data[off + 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    tu_write(seg, data, len);
    free(data);
}

static void test_tampered_ciphertext(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    struct ev_verify_report rep;
    char *text = NULL, msg[256];
    make_log(f, EV_DATA_AES_256_GCM, 3, &key);
    tamper_ciphertext(f->tu.dir, 1);

    struct ev_verify_options pub = {.threads = 1};
    assert_int_equal(ev_verify_dir(f->tu.dir, &pub, &rep), EV_EVERIFY);
    assert_int_equal(rep.failure, EV_FAIL_ROOT); /* the leaf hash changed */
    struct ev_verify_options withv = {.verification_key = f->tu.v, .threads = 1};
    assert_int_equal(ev_verify_dir(f->tu.dir, &withv, &rep), EV_EVERIFY);
    assert_true(rep.failure == EV_FAIL_TAG || rep.failure == EV_FAIL_ROOT);
    if (rep.failure == EV_FAIL_TAG) {
        assert_int_equal(rep.entry, 1);
    }

    struct ev_datakeys *keys = load(f->keyfile);
    assert_int_equal(decrypt_at(f->tu.dir, keys, 1, &text), EV_EDECRYPT);
    (void)snprintf(msg, sizeof(msg),
                   "entry 1 does not decrypt with data key %s (wrong key or damaged entry)",
                   key.id);
    assert_string_equal(ev_last_error(), msg);
    tu_ok(decrypt_at(f->tu.dir, keys, 0, &text)); /* its neighbours are intact */
    free(text);

    /* A summary counts it as malformed (verification says where) rather than failing. */
    struct ev_open_options o = {.flags = EV_OPEN_READONLY, .data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    struct ev_summary *summary = NULL;
    size_t len;
    tu_ok(ev_summary_build(log, NULL, &summary));
    tu_ok(ev_summary_json(summary, &text, &len));
    assert_non_null(strstr(text, "\"malformed\":1"));
    free(text);
    ev_summary_free(summary);
    tu_ok(ev_log_close(log));
    ev_datakeys_free(keys);
}

static int count_visit(void *ctx, const struct ev_entry *entry)
{
    (void)entry;
    (*(unsigned *)ctx)++;
    return 0;
}

static void test_missing_key(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    char *text = NULL, msg[256];
    make_log(f, EV_DATA_AES_256_GCM, 2, &key);

    assert_int_equal(decrypt_at(f->tu.dir, NULL, 1, &text), EV_ENOKEY);
    (void)snprintf(msg, sizeof(msg),
                   "entry 1 is encrypted with data key %s; reading it needs that key", key.id);
    assert_string_equal(ev_last_error(), msg);

    /* The same through a log handle opened without keys, and a source filter. */
    struct ev_open_options o = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    struct ev_entry *e = NULL;
    size_t len;
    tu_ok(ev_log_entry(log, 0, &e));
    assert_int_equal(ev_log_decrypt(log, e, &text, &len), EV_ENOKEY);
    ev_entry_free(e);
    struct ev_filter flt = {.max_severity = -1, .source = "SECRET-HOST"};
    assert_int_equal(ev_log_scan(log, 0, 2, &flt, NULL, NULL), EV_ENOKEY);
    /* Filters on visible fields need no key. */
    struct ev_filter by_type = {.max_severity = EV_SEV_INFO, .type = "test"};
    unsigned count = 0;
    tu_ok(ev_log_scan(log, 0, 2, &by_type, count_visit, &count));
    assert_int_equal(count, 2);
    tu_ok(ev_log_close(log));
}

static void test_source_filter_with_key(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    make_log(f, EV_DATA_CHACHA20_POLY1305, 2, &key);
    struct ev_datakeys *keys = load(f->keyfile);
    struct ev_open_options o = {.flags = EV_OPEN_READONLY, .data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    unsigned count = 0;
    struct ev_filter hit = {.max_severity = -1, .source = "SECRET-PROGRAM"};
    struct ev_filter miss = {.max_severity = -1, .source = "SECRET-NOTE"}; /* in data, not source */
    tu_ok(ev_log_scan(log, 0, 2, &hit, count_visit, &count));
    assert_int_equal(count, 2);
    count = 0;
    tu_ok(ev_log_scan(log, 0, 2, &miss, count_visit, &count));
    assert_int_equal(count, 0);
    tu_ok(ev_log_close(log));
    ev_datakeys_free(keys);
}

static void test_wrong_key_file(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key, other;
    char otherfile[PATH_MAX], *text = NULL, msg[PATH_MAX + 256];
    make_log(f, EV_DATA_AES_256_GCM, 1, &key);
    tu_ok(
        ev_datakey_new(tu_path(otherfile, f->tu.root, "other.keys"), EV_DATA_AES_256_GCM, &other));
    struct ev_datakeys *keys = load(otherfile);
    assert_int_equal(decrypt_at(f->tu.dir, keys, 0, &text), EV_ENOKEY);
    (void)snprintf(msg, sizeof(msg), "entry 0 is encrypted with data key %s, which is not in '%s'",
                   key.id, otherfile);
    assert_string_equal(ev_last_error(), msg);

    /* A key that claims the entry's id but is another key: the AEAD says so. */
    memcpy(keys->keys[0].id, key.id, sizeof(key.id));
    assert_int_equal(decrypt_at(f->tu.dir, keys, 0, &text), EV_EDECRYPT);
    (void)snprintf(msg, sizeof(msg),
                   "entry 0 does not decrypt with data key %s (wrong key or damaged entry)",
                   key.id);
    assert_string_equal(ev_last_error(), msg);
    ev_datakeys_free(keys);

    /* In a file, such a line is refused before anything is decrypted. */
    size_t len;
    char *line = (char *)tu_read(otherfile, &len);
    memcpy(line + strlen(EVI_DATAKEY_LINE_MAGIC) + 1, key.id, EV_DATAKEY_ID_LEN);
    tu_write(otherfile, line, len);
    free(line);
    assert_int_equal(ev_datakeys_load(otherfile, &keys), EV_EBADKEY);
    (void)snprintf(msg, sizeof(msg),
                   "'%s' line 1: key id %s does not match its key (a damaged or edited line)",
                   otherfile, key.id);
    assert_string_equal(ev_last_error(), msg);
}

static void test_key_file_mode(void **state)
{
    struct fx *f = *state;
    struct ev_datakeys *keys = NULL;
    struct stat st;
    char msg[PATH_MAX + 128];
    tu_ok(ev_datakey_new(f->keyfile, EV_DATA_AES_256_GCM, NULL));
    assert_int_equal(stat(f->keyfile, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(chmod(f->keyfile, 0644), 0);
    assert_int_equal(ev_datakeys_load(f->keyfile, &keys), EV_EKEYPERM);
    (void)snprintf(msg, sizeof(msg),
                   "data key file '%s' has mode 0644: group or others have access; it must be "
                   "0600",
                   f->keyfile);
    assert_string_equal(ev_last_error(), msg);
    assert_null(keys);
    assert_int_equal(chmod(f->keyfile, 0640), 0);
    assert_int_equal(ev_datakeys_load(f->keyfile, &keys), EV_EKEYPERM);
    /* Rotation refuses such a file too, rather than rewrite it. */
    assert_int_equal(ev_datakey_new(f->keyfile, EV_DATA_AES_256_GCM, NULL), EV_EKEYPERM);
    assert_int_equal(chmod(f->keyfile, 0400), 0);
    keys = load(f->keyfile);
    ev_datakeys_free(keys);
    /* A symlink in place of the key file is not followed. */
    char link[PATH_MAX];
    assert_int_equal(symlink(f->keyfile, tu_path(link, f->tu.root, "link.keys")), 0);
    assert_int_equal(ev_datakeys_load(link, &keys), -ELOOP);
}

static void test_rotation(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info k1, k2, info;
    char *text = NULL, msg[PATH_MAX + 256];
    make_log(f, EV_DATA_AES_256_GCM, 2, &k1);
    tu_ok(ev_datakey_new(f->keyfile, EV_DATA_CHACHA20_POLY1305, &k2));
    struct ev_datakeys *keys = load(f->keyfile);
    assert_int_equal(ev_datakeys_count(keys), 2);
    tu_ok(ev_datakeys_get(keys, 0, &info));
    assert_string_equal(info.id, k1.id);
    tu_ok(ev_datakeys_get(keys, 1, &info));
    assert_string_equal(info.id, k2.id);
    assert_int_equal(info.alg, EV_DATA_CHACHA20_POLY1305);
    struct ev_open_options o = {.data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 2), 2);
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 3), 3);
    tu_ok(ev_log_close(log));

    for (uint64_t i = 0; i < 4; i++) {
        struct ev_entry *e = entry_at(f->tu.dir, keys, i);
        assert_int_equal(ev_entry_encryption(e->bytes, e->len, &info), 1);
        assert_string_equal(info.id, i < 2 ? k1.id : k2.id);
        ev_entry_free(e);
        tu_ok(decrypt_at(f->tu.dir, keys, i, &text));
        assert_non_null(strstr(text, "SECRET-NOTE"));
        free(text);
    }
    ev_datakeys_free(keys);

    /* Key 1 removed from the file: its entries cannot be read, all still verify. */
    size_t len;
    char *file = (char *)tu_read(f->keyfile, &len);
    char *second = strchr(file, '\n') + 1;
    tu_write(f->keyfile, second, len - (size_t)(second - file));
    free(file);
    keys = load(f->keyfile);
    assert_int_equal(ev_datakeys_count(keys), 1);
    assert_int_equal(decrypt_at(f->tu.dir, keys, 1, &text), EV_ENOKEY);
    (void)snprintf(msg, sizeof(msg), "entry 1 is encrypted with data key %s, which is not in '%s'",
                   k1.id, f->keyfile);
    assert_string_equal(ev_last_error(), msg);
    tu_ok(decrypt_at(f->tu.dir, keys, 3, &text));
    free(text);
    ev_datakeys_free(keys);
    (void)tu_verify(f->tu.dir, NULL);
    (void)tu_verify(f->tu.dir, f->tu.v);
}

static void test_seals_stay_plain(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    make_log(f, EV_DATA_AES_256_GCM, 1, &key);
    struct ev_datakeys *keys = load(f->keyfile);
    struct ev_open_options o = {.data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    tu_ok(ev_log_seal(log));
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 9), 2);
    tu_ok(ev_log_close(log));
    struct ev_entry *e = entry_at(f->tu.dir, NULL, 1);
    assert_int_equal(ev_entry_encryption(e->bytes, e->len, NULL), 0);
    assert_non_null(strstr(e->bytes, "\"type\":\"seal\""));
    assert_non_null(strstr(e->bytes, "\"data\":{\"chain_head\":\""));
    struct evi_seal seal;
    tu_ok(evi_seal_parse((const uint8_t *)e->bytes, e->len, &seal));
    assert_int_equal(seal.tree_size, 1);
    /* A plain entry reads as itself, with or without keys. */
    char *text = NULL;
    size_t len;
    tu_ok(ev_entry_decrypt(NULL, e->bytes, e->len, &text, &len));
    assert_string_equal(text, e->bytes);
    free(text);
    ev_entry_free(e);
    ev_datakeys_free(keys);
    (void)tu_verify(f->tu.dir, f->tu.v);
}

static void test_decrypt_only_writer(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    make_log(f, EV_DATA_AES_256_GCM, 1, &key);
    struct ev_datakeys *keys = load(f->keyfile);
    /* Encryption turned off: new entries are plain, old ones still read. */
    struct ev_open_options o = {.flags = EV_OPEN_DECRYPT_ONLY, .data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 1), 1);
    tu_ok(ev_log_close(log));
    struct ev_entry *e = entry_at(f->tu.dir, keys, 1);
    assert_int_equal(ev_entry_encryption(e->bytes, e->len, NULL), 0);
    assert_non_null(strstr(e->bytes, "SECRET-NOTE-1"));
    ev_entry_free(e);
    char *text = NULL;
    tu_ok(decrypt_at(f->tu.dir, keys, 0, &text));
    free(text);
    ev_datakeys_free(keys);
    (void)tu_verify(f->tu.dir, f->tu.v);
}

/* ev_log_set_data_keys(): rotation, decrypt-only and off on an open writer, no reopen. */
static void test_set_keys_while_open(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info k1, k2, info;
    char *text = NULL;
    size_t len;
    make_log(f, EV_DATA_AES_256_GCM, 1, &k1);
    struct ev_datakeys *old = load(f->keyfile);
    struct ev_open_options o = {.data_keys = old};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 1), 1);

    /* A rotation appends key 2; the handle takes the new file without closing. */
    tu_ok(ev_datakey_new(f->keyfile, EV_DATA_CHACHA20_POLY1305, &k2));
    struct ev_datakeys *rotated = load(f->keyfile);
    tu_ok(ev_log_set_data_keys(log, rotated, true));
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 2), 2);
    /* Decrypt only: plain appends, old entries still read through the handle. */
    tu_ok(ev_log_set_data_keys(log, rotated, false));
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 3), 3);
    struct ev_entry *e = NULL;
    tu_ok(ev_log_entry(log, 2, &e));
    tu_ok(ev_log_decrypt(log, e, &text, &len));
    assert_non_null(strstr(text, "SECRET-NOTE-2"));
    free(text);
    ev_entry_free(e);
    /* No keys: plain appends, and an encrypted entry no longer reads here. */
    tu_ok(ev_log_set_data_keys(log, NULL, false));
    assert_int_equal(append_secret(log, "test", EV_SEV_INFO, 4), 4);
    tu_ok(ev_log_entry(log, 1, &e));
    assert_int_equal(ev_log_decrypt(log, e, &text, &len), EV_ENOKEY);
    ev_entry_free(e);
    assert_int_equal(ev_log_set_data_keys(log, NULL, true), -EINVAL);
    assert_string_equal(ev_last_error(), "encryption needs data keys");
    tu_ok(ev_log_close(log));

    const char *want[] = {k1.id, k1.id, k2.id, NULL, NULL};
    for (uint64_t i = 0; i < 5; i++) {
        e = entry_at(f->tu.dir, rotated, i);
        if (want[i] != NULL) {
            assert_int_equal(ev_entry_encryption(e->bytes, e->len, &info), 1);
            assert_string_equal(info.id, want[i]);
            assert_null(strstr(e->bytes, "SECRET"));
        } else {
            assert_int_equal(ev_entry_encryption(e->bytes, e->len, NULL), 0);
            assert_non_null(strstr(e->bytes, "SECRET-NOTE"));
        }
        ev_entry_free(e);
        tu_ok(decrypt_at(f->tu.dir, rotated, i, &text));
        free(text);
    }
    /* The old set still opens what it knows, not what key 2 sealed. */
    assert_int_equal(decrypt_at(f->tu.dir, old, 2, &text), EV_ENOKEY);

    /* A reader cannot be told to encrypt. */
    struct ev_open_options ro = {.flags = EV_OPEN_READONLY};
    log = tu_open(f->tu.dir, &ro);
    assert_int_equal(ev_log_set_data_keys(log, rotated, true), EV_EREADONLY);
    tu_ok(ev_log_set_data_keys(log, rotated, false));
    tu_ok(ev_log_entry(log, 2, &e));
    tu_ok(ev_log_decrypt(log, e, &text, &len));
    free(text);
    ev_entry_free(e);
    tu_ok(ev_log_close(log));
    ev_datakeys_free(old);
    ev_datakeys_free(rotated);
    (void)tu_verify(f->tu.dir, f->tu.v);
}

/* Returns a copy of e with its bytes from `"enc":` replaced by other's. */
static char *splice_enc(const char *e, const char *other)
{
    const char *a = strstr(e, "\"enc\":"), *b = strstr(other, "\"enc\":");
    size_t n = (size_t)(a - e);
    char *out = malloc(n + strlen(b) + 1);
    assert_non_null(out);
    memcpy(out, e, n);
    memcpy(out + n, b, strlen(b) + 1);
    return out;
}

static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = (size_t)(at - s);
    char *out = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
    assert_non_null(out);
    memcpy(out, s, n);
    memcpy(out + n, to, strlen(to));
    memcpy(out + n + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    return out;
}

static void test_aad_binding(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    char *text = NULL;
    size_t len;
    make_log(f, EV_DATA_AES_256_GCM, 2, &key);
    struct ev_datakeys *keys = load(f->keyfile);
    struct ev_entry *e0 = entry_at(f->tu.dir, keys, 0), *e1 = entry_at(f->tu.dir, keys, 1);

    /* Entry 1's enc object under entry 0's visible fields (and the other way). */
    char *moved = splice_enc(e0->bytes, e1->bytes);
    assert_int_equal(ev_entry_decrypt(keys, moved, strlen(moved), &text, &len), EV_EDECRYPT);
    free(moved);
    moved = splice_enc(e1->bytes, e0->bytes);
    assert_int_equal(ev_entry_decrypt(keys, moved, strlen(moved), &text, &len), EV_EDECRYPT);
    free(moved);
    /* A visible field changed: severity, type, ts. */
    const char *const changes[][2] = {
        {"\"severity\":\"info\"", "\"severity\":\"error\""},
        {"\"type\":\"test\"", "\"type\":\"tesu\""},
        {"\"ts\":\"2", "\"ts\":\"1"},
    };
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        char *changed = replace(e0->bytes, changes[i][0], changes[i][1]);
        int r = ev_entry_decrypt(keys, changed, strlen(changed), &text, &len);
        assert_true(r == EV_EDECRYPT || r == EV_EFORMAT); /* a ts out of range is malformed */
        free(changed);
    }
    /* The unchanged entries still decrypt. */
    tu_ok(ev_entry_decrypt(keys, e0->bytes, e0->len, &text, &len));
    free(text);
    ev_entry_free(e0);
    ev_entry_free(e1);
    ev_datakeys_free(keys);
}

static void test_too_big_when_encrypted(void **state)
{
    struct fx *f = *state;
    struct ev_datakey_info key;
    make_log(f, EV_DATA_AES_256_GCM, 1, &key);
    struct ev_datakeys *keys = load(f->keyfile);
    struct ev_open_options o = {.data_keys = keys};
    struct ev_log *log = tu_open(f->tu.dir, &o);
    /* 60,000 bytes fit a plain entry but not its base64 envelope. */
    size_t n = 60000;
    char *data = malloc(n + 16);
    assert_non_null(data);
    memcpy(data, "{\"x\":\"", 6);
    memset(data + 6, 'a', n - 8);
    memcpy(data + n - 2, "\"}", 3);
    struct ev_event ev = {.type = "test", .severity = EV_SEV_INFO, .data_json = data};
    assert_int_equal(ev_log_append(log, &ev, NULL), EV_ETOOBIG);
    assert_int_equal(ev_log_size(log), 1);
    /* Up to about 3/4 of the limit fits. */
    memset(data + 6, 'b', 40000);
    memcpy(data + 6 + 40000, "\"}", 3);
    uint64_t index = 0;
    tu_ok(ev_log_append(log, &ev, &index));
    assert_int_equal(index, 1);
    free(data);
    tu_ok(ev_log_close(log));
    char *text = NULL;
    tu_ok(decrypt_at(f->tu.dir, keys, 1, &text));
    assert_non_null(strstr(text, "bbbb\"}}"));
    free(text);
    ev_datakeys_free(keys);
    (void)tu_verify(f->tu.dir, f->tu.v);
}

static void expect_parse_error(const char *text, int code, const char *message)
{
    struct ev_datakeys *keys = NULL;
    assert_int_equal(evi_datakeys_parse("k", text, strlen(text), &keys), code);
    assert_null(keys);
    assert_string_equal(ev_last_error(), message);
}

static void test_key_file_parser(void **state)
{
    (void)state;
    uint8_t key[EVI_DATAKEY_BYTES];
    char id[EV_DATAKEY_ID_LEN + 1], b64[64], line[256], text[1024];
    struct ev_datakeys *keys = NULL;
    memset(key, 7, sizeof(key));
    evi_datakey_id(key, id);
    (void)evi_base64_encode(key, sizeof(key), b64, sizeof(b64));
    (void)snprintf(line, sizeof(line), "evident-data-key-v1 %s aes-256-gcm %s", id, b64);

    /* Comments and blank lines are allowed, a missing last newline too. */
    (void)snprintf(text, sizeof(text), "# data keys\n\n%s", line);
    tu_ok(evi_datakeys_parse("k", text, strlen(text), &keys));
    assert_int_equal(ev_datakeys_count(keys), 1);
    assert_memory_equal(keys->keys[0].key, key, sizeof(key));
    ev_datakeys_free(keys);

    expect_parse_error("", EV_EBADKEY,
                       "'k' holds no data key (make one with 'evident datakey new')");
    expect_parse_error("# only a comment\n", EV_EBADKEY,
                       "'k' holds no data key (make one with 'evident datakey new')");
    (void)snprintf(text, sizeof(text), "%s\r\n", line);
    expect_parse_error(text, EV_EBADKEY, "'k' line 1: contains a NUL or carriage return");
    (void)snprintf(text, sizeof(text), "%s\n%s\n", line, line);
    (void)snprintf(line, sizeof(line), "'k' line 2: key %s is already in the file", id);
    expect_parse_error(text, EV_EBADKEY, line);
    expect_parse_error("evident-data-key-v2 x\n", EV_EBADKEY,
                       "'k' line 1: not a data key line (expected 'evident-data-key-v1 KID ALG "
                       "KEY')");
    expect_parse_error("evident-data-key-v1 0123456789ABCDEF aes-256-gcm x\n", EV_EBADKEY,
                       "'k' line 1: the key id is not 16 lowercase hex digits");
    (void)snprintf(text, sizeof(text), "evident-data-key-v1 %s aes-128-gcm %s\n", id, b64);
    (void)snprintf(line, sizeof(line),
                   "'k' line 1: key %s: unknown algorithm (expected aes-256-gcm or "
                   "chacha20-poly1305)",
                   id);
    expect_parse_error(text, EV_EBADKEY, line);
    (void)snprintf(text, sizeof(text), "evident-data-key-v1 %s aes-256-gcm %.40s\n", id, b64);
    (void)snprintf(line, sizeof(line), "'k' line 1: key %s: not the base64 of a 32-byte key", id);
    expect_parse_error(text, EV_EBADKEY, line);
    (void)snprintf(text, sizeof(text), "evident-data-key-v1 %s aes-256-gcm %s \n", id, b64);
    expect_parse_error(text, EV_EBADKEY, line);
    (void)snprintf(text, sizeof(text), "evident-data-key-v1 %s aes-256-gcm\n", id);
    (void)snprintf(line, sizeof(line), "'k' line 1: key %s: algorithm or key missing", id);
    expect_parse_error(text, EV_EBADKEY, line);

    /* Bounded: size and lines. */
    size_t big = EVI_DATAKEY_FILE_MAX + 1;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, '\n', big);
    huge[big] = '\0';
    assert_int_equal(evi_datakeys_parse("k", huge, big, &keys), EV_ETOOBIG);
    assert_int_equal(evi_datakeys_parse("k", huge, EVI_DATAKEY_LINES_MAX + 1, &keys), EV_ETOOBIG);
    free(huge);
}

static void test_envelope_parser(void **state)
{
    (void)state;
    struct evi_envelope env;
    static const char plain[] = "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\","
                                "\"type\":\"t\",\"severity\":\"info\",\"source\":{},\"data\":{}}";
    static const char enc[] =
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"chacha20-poly1305\",\"key\":"
        "\"0123456789abcdef\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":"
        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}";
    assert_int_equal(evi_envelope_parse((const uint8_t *)plain, strlen(plain), &env), 0);
    assert_int_equal(evi_envelope_parse((const uint8_t *)enc, strlen(enc), &env), 1);
    assert_int_equal(env.seq, 3);
    assert_int_equal(env.alg, EV_DATA_CHACHA20_POLY1305);
    assert_string_equal(env.key_id, "0123456789abcdef");
    assert_int_equal(env.ct_b64_len, 28);
    assert_memory_equal(enc + env.aad_len, ",\"nonce\":", 9);
    /* Anything else after severity, or a cut envelope, is malformed. */
    static const char *const bad[] = {
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"other\":{}}",
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"rot13\",\"key\":\"0123456789abcdef\"}}",
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"0123456789ABCDEF\","
        "\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}",
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"0123456789abcdef\","
        "\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":\"AAAA\"}}",
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"0123456789abcdef\","
        "\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}",
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"0123456789abcdef\","
        "\"nonce\":\"AAAAAAAAAAAAAAA\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}",
        /* Cut inside the nonce (fuzz-datakey: a pointer past the end was compared). */
        "{\"v\":1,\"seq\":3,\"ts\":\"2026-11-27T09:00:00.000000000Z\",\"type\":\"t\","
        "\"severity\":\"info\",\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"0123456789abcdef\","
        "\"nonce\":\"tZ5mY}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(evi_envelope_parse((const uint8_t *)bad[i], strlen(bad[i]), &env),
                         EV_EFORMAT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_aes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_chacha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_ciphertext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_filter_with_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seals_stay_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decrypt_only_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_keys_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aad_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big_when_encrypted, setup, teardown),
        cmocka_unit_test(test_key_file_parser),
        cmocka_unit_test(test_envelope_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
