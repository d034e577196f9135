/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for src/lib/crypto.c: published known answers, cross-checks of our
 * hand-written SHA-256 HMAC against OpenSSL's HMAC(), both CRC32C paths
 * against each other and a bitwise reference, and every kind of malformed
 * base64 and hex we must reject.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "crypto.h"

/* Test hooks defined in crypto.c, deliberately not part of crypto.h. */
uint32_t evi_crc32c_portable(uint32_t crc, const void *data, size_t len);
uint32_t evi_crc32c_sse42(uint32_t crc, const void *data, size_t len);
bool evi_crc32c_sse42_supported(void);

/* Deterministic pseudo-random bytes (splitmix64), so that a failure reproduces. */
static uint64_t prng_state = 0x65766964656e7421ull;

static uint64_t prng_next(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void prng_fill(void *buf, size_t len)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)prng_next();
    }
}

static void unhex(const char *text, uint8_t *out, size_t len)
{
    assert_int_equal(evi_hex_decode(text, strlen(text), out, len), 0);
}

static void assert_hash_hex(const uint8_t hash[EVI_HASH], const char *hex)
{
    char text[2 * EVI_HASH + 1];

    evi_hex_encode(hash, EVI_HASH, text);
    assert_string_equal(text, hex);
}

static void test_sha256_known_answers(void **state)
{
    static const struct {
        const char *msg;
        const char *hex;
    } cases[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
          "lmnopqrsmnopqrstnopqrstu",
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
    };
    uint8_t hash[EVI_HASH];
    uint8_t *million;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evi_sha256(cases[i].msg, strlen(cases[i].msg), hash);
        assert_hash_hex(hash, cases[i].hex);
    }
    evi_sha256(NULL, 0, hash);
    assert_hash_hex(hash, cases[0].hex);

    million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    evi_sha256(million, 1000000, hash);
    assert_hash_hex(hash, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

static void test_sha256_matches_openssl(void **state)
{
    uint8_t data[1100];
    uint8_t ours[EVI_HASH];
    uint8_t theirs[EVI_HASH];

    (void)state;
    prng_fill(data, sizeof(data));
    for (size_t len = 0; len <= sizeof(data); len++) {
        evi_sha256(data, len, ours);
        assert_non_null(SHA256(data, len, theirs));
        assert_memory_equal(ours, theirs, EVI_HASH);
    }
}

/*
 * evi_sha256_public pads the last blocks itself over OpenSSL's block function:
 * every length up to 17 blocks (each tail 0..63 bytes, and the two-block
 * padding of tails 56..63), at every alignment, against EVP's SHA-256.
 */
static void test_sha256_public_matches_evp(void **state)
{
    uint8_t data[1100 + 8];
    uint8_t ours[EVI_HASH];
    uint8_t theirs[EVI_HASH];
    unsigned theirs_len = 0;

    (void)state;
    prng_fill(data, sizeof(data));
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len <= 1100; len++) {
            evi_sha256_public(data + off, len, ours);
            assert_int_equal(EVP_Digest(data + off, len, theirs, &theirs_len, EVP_sha256(), NULL),
                             1);
            assert_int_equal(theirs_len, EVI_HASH);
            assert_memory_equal(ours, theirs, EVI_HASH);
        }
    }
    evi_sha256_public(NULL, 0, ours);
    assert_hash_hex(ours, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_parts(void **state)
{
    uint8_t data[300];
    uint8_t whole[EVI_HASH];
    uint8_t parts[EVI_HASH];

    (void)state;
    prng_fill(data, sizeof(data));
    /* Every split of the buffer into three parts, including empty ones. */
    for (size_t a = 0; a <= 70; a++) {
        for (size_t b = 0; a + b <= 70; b++) {
            evi_sha256(data, 70, whole);
            evi_sha256_parts(data, a, data + a, b, data + a + b, 70 - a - b, parts);
            assert_memory_equal(whole, parts, EVI_HASH);
        }
    }
    evi_sha256(data, 10, whole);
    evi_sha256_parts(NULL, 0, data, 10, NULL, 0, parts);
    assert_memory_equal(whole, parts, EVI_HASH);
    evi_sha256_parts(NULL, 0, NULL, 0, NULL, 0, parts);
    assert_hash_hex(parts, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void openssl_hmac(const uint8_t *key, int key_len, const void *msg, size_t len,
                         uint8_t out[EVI_HASH])
{
    unsigned int out_len = 0;

    assert_non_null(HMAC(EVP_sha256(), key, key_len, msg, len, out, &out_len));
    assert_int_equal(out_len, EVI_HASH);
}

static void test_hmac_matches_openssl(void **state)
{
    uint8_t key[EVI_HASH];
    uint8_t msg[300];
    uint8_t ours[EVI_HASH];
    uint8_t theirs[EVI_HASH];

    (void)state;
    for (int i = 0; i < 2000; i++) {
        size_t len = i < 300 ? (size_t)i : (size_t)(prng_next() % (sizeof(msg) + 1));

        prng_fill(key, sizeof(key));
        prng_fill(msg, len);
        evi_hmac_sha256(key, msg, len, ours);
        openssl_hmac(key, sizeof(key), msg, len, theirs);
        assert_memory_equal(ours, theirs, EVI_HASH);
    }
    /* NULL message of length 0. */
    evi_hmac_sha256(key, NULL, 0, ours);
    openssl_hmac(key, sizeof(key), "", 0, theirs);
    assert_memory_equal(ours, theirs, EVI_HASH);
}

/*
 * RFC 4231 section 4. HMAC zero-pads a key shorter than the block to 64
 * bytes, so a key of 4..32 bytes equals itself zero-padded to 32; a key longer
 * than the block (cases 6 and 7, 131 bytes) is replaced by its SHA-256, which
 * is 32 bytes. So every case maps onto our 32-byte-key function.
 */
static void test_hmac_rfc4231(void **state)
{
    static const char case6_msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    static const char case7_msg[] =
        "This is a test using a larger than block-size key and a larger than block-size data. "
        "The key needs to be hashed before being used by the HMAC algorithm.";
    static const struct {
        uint8_t key_byte; /* 0 = the bytes 0x01..0x19 of case 4 */
        size_t key_len;
        const char *msg;
        uint8_t msg_byte;
        size_t msg_len;
        const char *hex;
        size_t hex_len;
    } cases[] = {
        { 0x0b, 20, "Hi There", 0, 8,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 64 },
        { 0, 0, "what do ya want for nothing?", 0, 28,
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 64 },
        { 0xaa, 20, NULL, 0xdd, 50,
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 64 },
        { 0, 25, NULL, 0xcd, 50,
          "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 64 },
        { 0x0c, 20, "Test With Truncation", 0, 20, "a3b6167473100ee06e0c796c2955552b", 32 },
        { 0xaa, 131, case6_msg, 0, sizeof(case6_msg) - 1,
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 64 },
        { 0xaa, 131, case7_msg, 0, sizeof(case7_msg) - 1,
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 64 },
    };
    uint8_t raw_key[131];
    uint8_t key[EVI_HASH];
    uint8_t msg[200];
    uint8_t ours[EVI_HASH];
    uint8_t theirs[EVI_HASH];
    char hex[2 * EVI_HASH + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t key_len = cases[i].key_len;

        if (i == 1) {
            memcpy(raw_key, "Jefe", 4);
            key_len = 4;
        } else if (cases[i].key_byte == 0) {
            for (size_t j = 0; j < key_len; j++) {
                raw_key[j] = (uint8_t)(j + 1);
            }
        } else {
            memset(raw_key, cases[i].key_byte, key_len);
        }
        memset(key, 0, sizeof(key));
        if (key_len > 64) {
            evi_sha256(raw_key, key_len, key);
        } else {
            memcpy(key, raw_key, key_len);
        }
        if (cases[i].msg) {
            memcpy(msg, cases[i].msg, cases[i].msg_len);
        } else {
            memset(msg, cases[i].msg_byte, cases[i].msg_len);
        }

        evi_hmac_sha256(key, msg, cases[i].msg_len, ours);
        evi_hex_encode(ours, EVI_HASH, hex);
        assert_memory_equal(hex, cases[i].hex, cases[i].hex_len);
        /* And OpenSSL, given the key as the RFC states it, agrees. */
        openssl_hmac(raw_key, (int)key_len, msg, cases[i].msg_len, theirs);
        assert_memory_equal(ours, theirs, EVI_HASH);
    }
}

/* A key prepared once gives the same MACs as the one-shot HMAC, for any message. */
static void test_hmac_prepared_key(void **state)
{
    (void)state;
    uint8_t key[32], msg[200], want[32], got[32];

    for (int round = 0; round < 50; round++) {
        struct evi_hmac_key hk;
        assert_int_equal(evi_random(key, sizeof(key)), 0);
        assert_int_equal(evi_random(msg, sizeof(msg)), 0);
        evi_hmac_key_init(&hk, key);
        for (size_t len = 0; len <= sizeof(msg); len += 13) {
            evi_hmac_sha256(key, msg, len, want);
            evi_hmac_with(&hk, msg, len, got);
            assert_memory_equal(got, want, 32);
        }
        /* The key may be overwritten by a MAC made with it (the record-key step). */
        evi_hmac_sha256(key, msg, 15, want);
        evi_hmac_with(&hk, msg, 15, key);
        assert_memory_equal(key, want, 32);
        evi_hmac_key_wipe(&hk);
        static const uint8_t zero[sizeof(hk)];
        assert_memory_equal(&hk, zero, sizeof(hk));
    }
}

/* Two MACs under one key, as the record key makes its tag and its successor. */
static void test_hmac_pair(void **state)
{
    (void)state;
    uint8_t key[32], msg1[200], msg2[200], want1[32], want2[32], got1[32], got2[32];

    for (int round = 0; round < 20; round++) {
        assert_int_equal(evi_random(key, sizeof(key)), 0);
        assert_int_equal(evi_random(msg1, sizeof(msg1)), 0);
        assert_int_equal(evi_random(msg2, sizeof(msg2)), 0);
        for (size_t len1 = 0; len1 <= sizeof(msg1); len1 += 23) {
            size_t len2 = (len1 * 7 + 15) % (sizeof(msg2) + 1);
            evi_hmac_sha256(key, msg1, len1, want1);
            evi_hmac_sha256(key, msg2, len2, want2);
            evi_hmac_pair(key, msg1, len1, msg2, len2, got1, got2);
            assert_memory_equal(got1, want1, 32);
            assert_memory_equal(got2, want2, 32);
        }
        /* The second output may be the key itself (the record-key step). */
        evi_hmac_sha256(key, msg1, 40, want1);
        evi_hmac_sha256(key, msg2, 15, want2);
        evi_hmac_pair(key, msg1, 40, msg2, 15, got1, key);
        assert_memory_equal(got1, want1, 32);
        assert_memory_equal(key, want2, 32);
        /* Both messages are read before either output is written: out1 may be msg2. */
        evi_hmac_sha256(key, msg1, 40, want1);
        evi_hmac_sha256(key, msg2, 32, want2);
        evi_hmac_pair(key, msg1, 40, msg2, 32, msg2, got2);
        assert_memory_equal(msg2, want1, 32);
        assert_memory_equal(got2, want2, 32);
    }
}

/*
 * evi_hmac_pair pads its last blocks itself (the inner hashes' in a public
 * block, the outer ones' in the wiped struct): every pair of message lengths
 * whose tails cross the one- and two-block paddings, against OpenSSL's HMAC().
 */
static void test_hmac_pair_every_length(void **state)
{
    uint8_t key[EVI_HASH], msg1[200], msg2[200];
    uint8_t want1[EVI_HASH], want2[EVI_HASH], got1[EVI_HASH], got2[EVI_HASH];

    (void)state;
    prng_fill(key, sizeof(key));
    prng_fill(msg1, sizeof(msg1));
    prng_fill(msg2, sizeof(msg2));
    for (size_t len1 = 0; len1 <= 140; len1++) {
        for (size_t len2 = len1 % 7; len2 <= 140; len2 += 7) {
            openssl_hmac(key, sizeof(key), msg1, len1, want1);
            openssl_hmac(key, sizeof(key), msg2, len2, want2);
            evi_hmac_pair(key, msg1, len1, msg2, len2, got1, got2);
            assert_memory_equal(got1, want1, EVI_HASH);
            assert_memory_equal(got2, want2, EVI_HASH);
        }
    }
}

static void test_hmac_output_may_alias_key(void **state)
{
    static const char label[] = "evident next v1";
    uint8_t key[EVI_HASH];
    uint8_t expect[EVI_HASH];

    (void)state;
    prng_fill(key, sizeof(key));
    openssl_hmac(key, sizeof(key), label, sizeof(label) - 1, expect);
    evi_hmac_sha256(key, label, sizeof(label) - 1, key);
    assert_memory_equal(key, expect, EVI_HASH);
}

static void test_random(void **state)
{
    uint8_t a[32];
    uint8_t b[32];
    uint8_t zero[32] = { 0 };

    (void)state;
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(evi_random(a, sizeof(a)), 0);
    assert_int_equal(evi_random(b, sizeof(b)), 0);
    /* Fails with probability 2^-256 each. */
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_int_equal(evi_random(NULL, 0), 0);
}

/* RFC 8032 section 7.1, tests 1 (empty message) and 2 (one byte). */
static void test_ed25519_rfc8032(void **state)
{
    static const struct {
        const char *seed;
        const char *pub;
        const char *msg;
        const char *sig;
    } cases[] = {
        { "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
        { "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
          "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
    };
    uint8_t seed[EVI_ED25519_SEED];
    uint8_t pub[EVI_ED25519_PUB];
    uint8_t expect_pub[EVI_ED25519_PUB];
    uint8_t sig[EVI_ED25519_SIG];
    uint8_t expect_sig[EVI_ED25519_SIG];
    uint8_t msg[1];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t msg_len = strlen(cases[i].msg) / 2;

        unhex(cases[i].seed, seed, sizeof(seed));
        unhex(cases[i].pub, expect_pub, sizeof(expect_pub));
        unhex(cases[i].sig, expect_sig, sizeof(expect_sig));
        assert_int_equal(evi_hex_decode(cases[i].msg, 2 * msg_len, msg, msg_len), 0);

        assert_int_equal(evi_ed25519_public(seed, pub), 0);
        assert_memory_equal(pub, expect_pub, sizeof(pub));
        assert_int_equal(evi_ed25519_sign(seed, msg_len ? msg : NULL, msg_len, sig), 0);
        assert_memory_equal(sig, expect_sig, sizeof(sig));
        assert_true(evi_ed25519_verify(pub, msg_len ? msg : NULL, msg_len, sig));
    }
}

/* The log key of ../shared/vectors (keys.txt, label "log"): seed to public key. */
static void test_ed25519_vector_key(void **state)
{
    uint8_t seed[EVI_ED25519_SEED];
    uint8_t pub[EVI_ED25519_PUB];
    uint8_t expect[EVI_ED25519_PUB];

    (void)state;
    unhex("ea1004badf9abfdcb5ab98fef1477c9e0cfaffdd9fa58edff09d9305f8ba6b39", seed, sizeof(seed));
    unhex("8fa7f2506d1b4bdc88a2fe3125cb04d360a31c4b7128592457e0813defc12c49", expect,
          sizeof(expect));
    assert_int_equal(evi_ed25519_public(seed, pub), 0);
    assert_memory_equal(pub, expect, sizeof(pub));
}

static void test_ed25519_round_trip_and_rejections(void **state)
{
    /* The group order L, little-endian. */
    static const char order_hex[] =
        "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
    uint8_t seed[EVI_ED25519_SEED];
    uint8_t other_seed[EVI_ED25519_SEED];
    uint8_t pub[EVI_ED25519_PUB];
    uint8_t other_pub[EVI_ED25519_PUB];
    uint8_t sig[EVI_ED25519_SIG];
    uint8_t bad[EVI_ED25519_SIG];
    uint8_t order[32];
    uint8_t msg[200];
    unsigned carry = 0;

    (void)state;
    prng_fill(seed, sizeof(seed));
    prng_fill(other_seed, sizeof(other_seed));
    prng_fill(msg, sizeof(msg));
    assert_int_equal(evi_ed25519_public(seed, pub), 0);
    assert_int_equal(evi_ed25519_public(other_seed, other_pub), 0);
    assert_int_equal(evi_ed25519_sign(seed, msg, sizeof(msg), sig), 0);
    assert_true(evi_ed25519_verify(pub, msg, sizeof(msg), sig));

    /* Every single flipped bit of the signature is rejected. */
    for (size_t bit = 0; bit < 8 * sizeof(sig); bit++) {
        memcpy(bad, sig, sizeof(sig));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(evi_ed25519_verify(pub, msg, sizeof(msg), bad));
    }
    /* So is a flipped message bit, a shorter message, and another key. */
    msg[17] ^= 0x20;
    assert_false(evi_ed25519_verify(pub, msg, sizeof(msg), sig));
    msg[17] ^= 0x20;
    assert_false(evi_ed25519_verify(pub, msg, sizeof(msg) - 1, sig));
    assert_false(evi_ed25519_verify(other_pub, msg, sizeof(msg), sig));

    /* Malleability: S + L verifies under the curve equation but must be refused (S < L). */
    unhex(order_hex, order, sizeof(order));
    memcpy(bad, sig, sizeof(sig));
    for (size_t i = 0; i < 32; i++) {
        unsigned sum = bad[32 + i] + order[i] + carry;

        bad[32 + i] = (uint8_t)sum;
        carry = sum >> 8;
    }
    assert_int_equal(carry, 0);
    assert_false(evi_ed25519_verify(pub, msg, sizeof(msg), bad));

    /* Signatures are deterministic. */
    assert_int_equal(evi_ed25519_sign(seed, msg, sizeof(msg), bad), 0);
    assert_memory_equal(bad, sig, sizeof(sig));
}

static void test_ct_equal_and_wipe(void **state)
{
    uint8_t a[40];
    uint8_t b[40];

    (void)state;
    prng_fill(a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_true(evi_ct_equal(a, b, sizeof(a)));
    assert_true(evi_ct_equal(a, b, 0));
    for (size_t i = 0; i < sizeof(a); i++) {
        b[i] ^= 0x80;
        assert_false(evi_ct_equal(a, b, sizeof(a)));
        b[i] ^= 0x80;
    }
    evi_wipe(a, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_memory_equal(a, b, sizeof(a));
}

/* Bit at a time, straight from the definition. */
static uint32_t crc32c_reference(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

/* The check value, and RFC 3720 appendix B.4's iSCSI examples. */
static void test_crc32c_known_answers(void **state)
{
    uint8_t buf[32];

    (void)state;
    assert_int_equal(evi_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(evi_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(evi_crc32c(0, NULL, 0), 0);
    assert_int_equal(evi_crc32c(0x12345678u, NULL, 0), 0x12345678u);

    memset(buf, 0, sizeof(buf));
    assert_int_equal(evi_crc32c(0, buf, sizeof(buf)), 0x8a9136aau);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(evi_crc32c(0, buf, sizeof(buf)), 0x62a8ab43u);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)i;
    }
    assert_int_equal(evi_crc32c(0, buf, sizeof(buf)), 0x46dd794eu);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(31 - i);
    }
    assert_int_equal(evi_crc32c(0, buf, sizeof(buf)), 0x113fdb5cu);
}

static void test_crc32c_paths_agree(void **state)
{
    enum { MAX_LEN = 1100, MAX_SHIFT = 16 };
    uint8_t *buf = malloc(MAX_LEN + MAX_SHIFT);
    bool have_sse42 = evi_crc32c_sse42_supported();

    (void)state;
    assert_non_null(buf);
    prng_fill(buf, MAX_LEN + MAX_SHIFT);
    for (size_t shift = 0; shift < MAX_SHIFT; shift++) {
        /* Every length through three blocks of the SSE4.2 path's 3 x 64 bytes and its tails. */
        for (size_t len = 0; len <= MAX_LEN; len += len < 600 ? 1 : 37) {
            const uint8_t *p = buf + shift;
            uint32_t seed = (uint32_t)prng_next();
            uint32_t want = crc32c_reference(seed, p, len);

            assert_int_equal(evi_crc32c_portable(seed, p, len), want);
            if (have_sse42) {
                assert_int_equal(evi_crc32c_sse42(seed, p, len), want);
            }
            assert_int_equal(evi_crc32c(seed, p, len), want);
        }
    }
    free(buf);
    if (!have_sse42) {
        skip();
    }
}

static void test_crc32c_incremental(void **state)
{
    uint8_t buf[700];
    uint32_t whole;

    (void)state;
    prng_fill(buf, sizeof(buf));
    whole = evi_crc32c(0, buf, sizeof(buf));
    for (size_t split = 0; split <= sizeof(buf); split++) {
        uint32_t a = evi_crc32c(0, buf, split);

        assert_int_equal(evi_crc32c(a, buf + split, sizeof(buf) - split), whole);
        a = evi_crc32c_portable(0, buf, split);
        assert_int_equal(evi_crc32c_portable(a, buf + split, sizeof(buf) - split), whole);
    }
}

/* A 32-bit value taken from a register is its 4 little-endian bytes (a record's len, epoch). */
static void test_crc32c_le32(void **state)
{
    uint8_t bytes[4];
    uint32_t crc = 0;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        uint32_t v;
        prng_fill(bytes, sizeof(bytes));
        v = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
            (uint32_t)bytes[3] << 24;
        uint32_t want = evi_crc32c_portable(crc, bytes, sizeof(bytes));
        assert_int_equal(evi_crc32c_le32(crc, v), want);
        assert_int_equal(evi_crc32c(crc, bytes, sizeof(bytes)), want);
        crc = want;
    }
}

static void test_base64_rfc4648(void **state)
{
    static const struct {
        const char *data;
        const char *text;
    } cases[] = {
        { "", "" },         { "f", "Zg==" },        { "fo", "Zm8=" },         { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char text[16];
    uint8_t data[16];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].data);

        assert_int_equal(evi_base64_encoded_len(len), strlen(cases[i].text));
        assert_int_equal(evi_base64_encode(cases[i].data, len, text, sizeof(text)),
                         strlen(cases[i].text));
        assert_string_equal(text, cases[i].text);
        assert_int_equal(evi_base64_decode(cases[i].text, strlen(cases[i].text), data,
                                           sizeof(data)),
                         (long)len);
        assert_memory_equal(data, cases[i].data, len);
    }
}

/* A tree root as C2SP checkpoints carry it (vectors/tree_roots.txt, size 0). */
static void test_base64_hash(void **state)
{
    uint8_t hash[EVI_HASH];
    uint8_t back[EVI_HASH];
    char text[45];

    (void)state;
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hash, EVI_HASH);
    assert_int_equal(evi_base64_encode(hash, EVI_HASH, text, sizeof(text)), 44);
    assert_string_equal(text, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_int_equal(evi_base64_decode(text, 44, back, sizeof(back)), EVI_HASH);
    assert_memory_equal(back, hash, EVI_HASH);
    /* Unpadded, or decoding to 31 or 33 bytes, is not a hash. */
    assert_int_equal(evi_base64_decode(text, 43, back, sizeof(back)), -1);
    assert_int_equal(evi_base64_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", 44, back,
                                       sizeof(back)),
                     31);
}

static void test_base64_round_trip(void **state)
{
    uint8_t data[300];
    uint8_t back[300];
    char ours[401];
    char theirs[401];

    (void)state;
    for (size_t len = 0; len <= sizeof(data); len++) {
        size_t text_len;

        prng_fill(data, len);
        text_len = evi_base64_encode(data, len, ours, sizeof(ours));
        assert_int_equal(text_len, evi_base64_encoded_len(len));
        assert_int_equal(strlen(ours), text_len);
        /* OpenSSL's encoder is an independent opinion on the encoding. */
        assert_int_equal(EVP_EncodeBlock((unsigned char *)theirs, data, (int)len), (int)text_len);
        assert_string_equal(ours, theirs);
        assert_int_equal(evi_base64_decode(ours, text_len, back, len), (long)len);
        assert_memory_equal(back, data, len);
    }
}

static void test_base64_encode_cap(void **state)
{
    char text[9];

    (void)state;
    memset(text, 'x', sizeof(text));
    /* "foobar" needs 8 + 1: one byte less must not be overrun. */
    assert_int_equal(evi_base64_encode("foobar", 6, text, 8), 0);
    assert_string_equal(text, "");
    assert_int_equal(text[8], 'x');
    assert_int_equal(evi_base64_encode("foobar", 6, text, 0), 0);
    assert_int_equal(evi_base64_encode("foobar", 6, text, 9), 8);
    assert_string_equal(text, "Zm9vYmFy");
    assert_int_equal(evi_base64_encoded_len(SIZE_MAX), SIZE_MAX);
}

static long decode_str(const char *text, uint8_t *out, size_t cap)
{
    return evi_base64_decode(text, strlen(text), out, cap);
}

static void test_base64_rejects(void **state)
{
    static const char *const bad[] = {
        /* Length not a multiple of 4, missing padding. */
        "Z", "Zg", "Zg=", "Zm8", "Zm9vY", "Zm9vYg", "Zm9vYg=", "Zm9vYmE",
        /* Whitespace anywhere. */
        " Zm9v", "Zm9v ", "Zm 9", "Zm9v\n", "Zm9v\r\n", "Zm9\tv", "Zm9vYg==\n", "Zm9v\nYmFy",
        /* Characters outside the standard alphabet: URL-safe, punctuation, NUL, high bytes. */
        "Zm9-", "Zm9_", "Zm9!", "Zm9.", "Zm9*", "Zm9\x80", "Zm9\xff", "Zm9:", "Zm9@", "Zm9[",
        "Zm9`", "Zm9{",
        /* '=' where it cannot be. */
        "====", "Z===", "=Zg=", "Zg=a", "Z=g=", "Zm9v====", "Zg==Zm9v", "Zm8=Zm9v", "Zm9v=m9v",
        "Zm9vY===",
        /* Non-canonical trailing bits: bits that do not belong to any output byte. */
        "Zh==", "Zm9=", "Zm9vYh==", "Zm9vYmF=", "AB==", "AAB=", "//==", "///=",
    };
    uint8_t out[16];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (decode_str(bad[i], out, sizeof(out)) != -1) {
            fail_msg("base64 \"%s\" accepted", bad[i]);
        }
    }
    /* NUL inside the counted length. */
    assert_int_equal(evi_base64_decode("Zm\0v", 4, out, sizeof(out)), -1);
    /* Output longer than cap; exactly cap is fine. */
    assert_int_equal(decode_str("Zm9vYmFy", out, 5), -1);
    assert_int_equal(decode_str("Zm9vYmFy", out, 6), 6);
    assert_int_equal(decode_str("Zm9vYmE=", out, 4), -1);
    assert_int_equal(decode_str("Zm9vYmE=", out, 5), 5);
    assert_int_equal(decode_str("", out, 0), 0);
}

/* Every byte value in each position of a full quad: accepted exactly for the 64 letters. */
static void test_base64_alphabet_exhaustive(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char text[9];
    uint8_t out[6];

    (void)state;
    for (int pos = 0; pos < 8; pos++) {
        for (int c = 0; c < 256; c++) {
            const char *hit = c == 0 ? NULL : memchr(alphabet, c, 64);
            long r;

            memcpy(text, "Zm9vYmFy", 9);
            text[pos] = (char)c;
            r = evi_base64_decode(text, 8, out, sizeof(out));
            if (hit) {
                assert_int_equal(r, 6);
                assert_int_equal((out[pos / 4 * 3] << 16 | out[pos / 4 * 3 + 1] << 8 |
                                  out[pos / 4 * 3 + 2]) >> (6 * (3 - pos % 4)) & 0x3f,
                                 hit - alphabet);
            } else {
                assert_int_equal(r, -1);
            }
        }
    }
}

/* The last letter before padding: accepted exactly when its unused low bits are zero. */
static void test_base64_canonical_exhaustive(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char one[5] = "QA==";
    char two[5] = "QUA=";
    uint8_t out[3];

    (void)state;
    for (int v = 0; v < 64; v++) {
        one[1] = alphabet[v];
        assert_int_equal(evi_base64_decode(one, 4, out, sizeof(out)), (v & 0x0f) ? -1 : 1);
        two[2] = alphabet[v];
        assert_int_equal(evi_base64_decode(two, 4, out, sizeof(out)), (v & 0x03) ? -1 : 2);
    }
}

static void test_base64_failure_wipes(void **state)
{
    uint8_t out[6];

    (void)state;
    memset(out, 0xaa, sizeof(out));
    /* The first quad decodes to ff ff ff before the bad second quad is seen. */
    assert_int_equal(decode_str("////!AAA", out, sizeof(out)), -1);
    for (size_t i = 0; i < sizeof(out); i++) {
        assert_true(out[i] != 0xff);
    }
}

static void test_hex(void **state)
{
    static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff };
    char text[2 * sizeof(bytes) + 1];
    uint8_t back[sizeof(bytes)];
    uint8_t data[100];
    char long_text[201];

    (void)state;
    evi_hex_encode(bytes, sizeof(bytes), text);
    assert_string_equal(text, "00017f80abcdefff");
    evi_hex_encode(bytes, 0, text);
    assert_string_equal(text, "");

    assert_int_equal(evi_hex_decode("00017F80ABCDEFFF", 16, back, sizeof(back)), 0);
    assert_memory_equal(back, bytes, sizeof(bytes));
    assert_int_equal(evi_hex_decode("00017f80AbCdEfFf", 16, back, sizeof(back)), 0);
    assert_memory_equal(back, bytes, sizeof(bytes));
    assert_int_equal(evi_hex_decode("", 0, back, 0), 0);

    for (size_t len = 0; len <= sizeof(data); len++) {
        prng_fill(data, len);
        evi_hex_encode(data, len, long_text);
        assert_int_equal(strlen(long_text), 2 * len);
        assert_int_equal(evi_hex_decode(long_text, 2 * len, back, 0) == 0, len == 0);
        if (len <= sizeof(back)) {
            assert_int_equal(evi_hex_decode(long_text, 2 * len, back, len), 0);
            assert_memory_equal(back, data, len);
        }
    }
}

static void test_hex_rejects(void **state)
{
    static const char digits[] = "0123456789abcdefABCDEF";
    char text[5];
    uint8_t out[2];

    (void)state;
    /* Wrong lengths: odd, short, long. */
    assert_int_equal(evi_hex_decode("abc", 3, out, 2), -1);
    assert_int_equal(evi_hex_decode("ab", 2, out, 2), -1);
    assert_int_equal(evi_hex_decode("abcdef", 6, out, 2), -1);
    assert_int_equal(evi_hex_decode("0xab", 4, out, 2), -1);
    assert_int_equal(evi_hex_decode("ab", 2, out, SIZE_MAX / 2 + 1), -1);
    /* Every byte value in every position. */
    for (int pos = 0; pos < 4; pos++) {
        for (int c = 0; c < 256; c++) {
            bool ok = c != 0 && memchr(digits, c, sizeof(digits) - 1) != NULL;

            memcpy(text, "a1b2", 5);
            text[pos] = (char)c;
            assert_int_equal(evi_hex_decode(text, 4, out, sizeof(out)), ok ? 0 : -1);
        }
    }
    /* A failure leaves no partial output behind. */
    memset(out, 0x55, sizeof(out));
    assert_int_equal(evi_hex_decode("ffg0", 4, out, sizeof(out)), -1);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_sha256_matches_openssl),
        cmocka_unit_test(test_sha256_parts),
        cmocka_unit_test(test_sha256_public_matches_evp),
        cmocka_unit_test(test_hmac_matches_openssl),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_output_may_alias_key),
        cmocka_unit_test(test_hmac_prepared_key),
        cmocka_unit_test(test_hmac_pair),
        cmocka_unit_test(test_hmac_pair_every_length),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_ed25519_vector_key),
        cmocka_unit_test(test_ed25519_round_trip_and_rejections),
        cmocka_unit_test(test_ct_equal_and_wipe),
        cmocka_unit_test(test_crc32c_known_answers),
        cmocka_unit_test(test_crc32c_paths_agree),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_crc32c_le32),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_hash),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_base64_encode_cap),
        cmocka_unit_test(test_base64_rejects),
        cmocka_unit_test(test_base64_alphabet_exhaustive),
        cmocka_unit_test(test_base64_canonical_exhaustive),
        cmocka_unit_test(test_base64_failure_wipes),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_hex_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
