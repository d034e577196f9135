/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only file that talks to OpenSSL (see crypto.h), plus the small codecs
 * and the checksum that OpenSSL does not offer in the form we need.
 */

/*
 * SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but
 * they are still the same assembly (SHA-NI where the CPU has it) without the
 * EVP layer. We hash small inputs on the append path (~300-byte entries,
 * 64- and 65-byte chain and node inputs, two HMACs per record), and for those
 * OpenSSL 3's per-call EVP overhead (implicit provider fetch, context
 * allocation) costs more than the compression function itself.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "crypto.h"
#include "error.h"

/*
 * Test hooks, deliberately not in crypto.h: tests/test-crypto.c declares them
 * itself to check the two CRC32C implementations against each other. Nothing
 * else may call them.
 */
uint32_t evi_crc32c_portable(uint32_t crc, const void *data, size_t len);
uint32_t evi_crc32c_sse42(uint32_t crc, const void *data, size_t len);
bool evi_crc32c_sse42_supported(void);

/*
 * The low-level SHA-256 functions return 1 unconditionally in OpenSSL 3 (they
 * only run the compression function over caller memory), so their results are
 * discarded; our hashing API is void for the same reason.
 */
static void sha256_update(SHA256_CTX *ctx, const void *data, size_t len)
{
    if (len > 0) {
        (void)SHA256_Update(ctx, data, len);
    }
}

void evi_sha256_init(struct evi_sha256_ctx *c)
{
    (void)SHA256_Init(&c->ctx);
}

void evi_sha256_update(struct evi_sha256_ctx *c, const void *data, size_t len)
{
    sha256_update(&c->ctx, data, len);
}

void evi_sha256_final(struct evi_sha256_ctx *c, uint8_t out[EVI_HASH])
{
    (void)SHA256_Final(out, &c->ctx);
    evi_wipe(&c->ctx, sizeof(c->ctx));
}

/* One store each (bytewise, GCC vectorized the digest's 32 into 300 instructions). */
static inline void put_be32(uint8_t *p, uint32_t v)
{
    uint32_t be = htobe32(v);
    memcpy(p, &be, sizeof(be));
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    uint64_t be = htobe64(v);
    memcpy(p, &be, sizeof(be));
}

/*
 * SHA-256's last blocks (FIPS 180-4 §5.1.1 padding, §6.2.2 big-endian output)
 * built here, with OpenSSL's block function doing every compression:
 * SHA256_Update fed whole blocks only hands them straight to it, and
 * SHA256_Transform takes the last one or two, so ctx->num stays 0 and ctx->h
 * is the digest state after them. Not SHA256_Final, which wipes its buffer on
 * every call (OPENSSL_cleanse): 7 calls a record, where the input is public
 * (leaf, chain and node hashes) or the caller wipes everything once
 * (evi_hmac_pair).
 *
 * Hashes the remaining len bytes of data, after the done bytes (a multiple of
 * 64) the ctx has already taken. block (128 bytes; 64 are enough when
 * len % 64 < 56) takes the message's tail and the padding: a caller hashing a
 * secret wipes it. The tail may already be at its start (data == block,
 * len < 56). out never overlaps ctx (restrict: the digest is stored a word at a
 * time, with no copy of the state left behind).
 */
static void sha256_finish(SHA256_CTX *ctx, uint64_t done, const void *data, size_t len,
                          uint8_t *block, uint8_t *restrict out)
{
    const uint8_t *p = data;
    size_t whole = len - len % SHA256_CBLOCK;
    uint64_t bits = (done + len) * 8;

    if (whole == SHA256_CBLOCK) {
        SHA256_Transform(ctx, p); /* the chain's and a node's first block */
    } else if (whole > 0) {
        (void)SHA256_Update(ctx, p, whole); /* one call into the block function for all */
    }
    len -= whole;
    /* 0x80, zeros, then the length in bits (64-bit big-endian) end the last block. */
    size_t end = len < SHA256_CBLOCK - 8 ? SHA256_CBLOCK : 2 * SHA256_CBLOCK;
    if (len > 0 && p + whole != block) {
        memcpy(block, p + whole, len);
    }
    block[len] = 0x80;
    memset(block + len + 1, 0, end - 8 - len - 1);
    put_be64(block + end - 8, bits);
    /* One or two blocks straight to the block function: no SHA256_Update bookkeeping. */
    SHA256_Transform(ctx, block);
    if (end > SHA256_CBLOCK) {
        SHA256_Transform(ctx, block + SHA256_CBLOCK);
    }
    for (int i = 0; i < 8; i++) {
        put_be32(out + 4 * i, ctx->h[i]);
    }
}

void evi_sha256_public(const void *data, size_t len, uint8_t out[EVI_HASH])
{
    uint8_t block[2 * SHA256_CBLOCK]; /* the input's tail: public, not wiped */
    SHA256_CTX ctx;

    (void)SHA256_Init(&ctx);
    sha256_finish(&ctx, 0, data, len, block, out);
}

void evi_sha256(const void *data, size_t len, uint8_t out[EVI_HASH])
{
    SHA256_CTX ctx;

    (void)SHA256_Init(&ctx);
    sha256_update(&ctx, data, len);
    (void)SHA256_Final(out, &ctx);
}

void evi_sha256_parts(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                      size_t clen, uint8_t out[EVI_HASH])
{
    SHA256_CTX ctx;

    (void)SHA256_Init(&ctx);
    sha256_update(&ctx, a, alen);
    sha256_update(&ctx, b, blen);
    sha256_update(&ctx, c, clen);
    (void)SHA256_Final(out, &ctx);
}

/*
 * RFC 2104 by hand over the SHA-256 primitives above: OpenSSL 3's HMAC() and
 * EVP_MAC set up a provider context on every call (about a microsecond), and
 * every record needs two HMACs (the tag and the next record key). With a
 * 32-byte key, K is the key zero-padded to the 64-byte block, so the ipad block
 * is key ^ 0x36 followed by 32 bytes of 0x36; the opad block is derived from it
 * in place. The key is read completely before out is written, so out may
 * alias key (the record key ratchet R(e,j+1) = HMAC(R(e,j), ...) does that).
 */
void evi_hmac_sha256(const uint8_t key[EVI_HASH], const void *msg, size_t len,
                     uint8_t out[EVI_HASH])
{
    uint8_t pad[SHA256_CBLOCK];
    uint8_t inner[EVI_HASH];
    SHA256_CTX ctx;
    size_t i;

    for (i = 0; i < EVI_HASH; i++) {
        pad[i] = key[i] ^ 0x36;
    }
    memset(pad + EVI_HASH, 0x36, sizeof(pad) - EVI_HASH);

    (void)SHA256_Init(&ctx);
    sha256_update(&ctx, pad, sizeof(pad));
    sha256_update(&ctx, msg, len);
    (void)SHA256_Final(inner, &ctx);

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }
    (void)SHA256_Init(&ctx);
    sha256_update(&ctx, pad, sizeof(pad));
    sha256_update(&ctx, inner, sizeof(inner));
    (void)SHA256_Final(out, &ctx);

    /* The pads and the midstates are as good as the key. */
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
    OPENSSL_cleanse(&ctx, sizeof(ctx));
}

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct evi_hmac_key *)0)->state[0]),
               "struct evi_hmac_key too small for SHA256_CTX");

void evi_hmac_key_init(struct evi_hmac_key *hk, const uint8_t key[EVI_HASH])
{
    uint8_t pad[SHA256_CBLOCK];
    SHA256_CTX ctx;

    for (size_t i = 0; i < EVI_HASH; i++) {
        pad[i] = key[i] ^ 0x36;
    }
    memset(pad + EVI_HASH, 0x36, sizeof(pad) - EVI_HASH);
    (void)SHA256_Init(&ctx);
    sha256_update(&ctx, pad, sizeof(pad));
    memcpy(hk->state[0], &ctx, sizeof(ctx));
    for (size_t i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }
    (void)SHA256_Init(&ctx);
    sha256_update(&ctx, pad, sizeof(pad));
    memcpy(hk->state[1], &ctx, sizeof(ctx));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(&ctx, sizeof(ctx));
}

void evi_hmac_with(const struct evi_hmac_key *hk, const void *msg, size_t len,
                   uint8_t out[EVI_HASH])
{
    uint8_t inner[EVI_HASH];
    SHA256_CTX ctx;

    memcpy(&ctx, hk->state[0], sizeof(ctx));
    sha256_update(&ctx, msg, len);
    (void)SHA256_Final(inner, &ctx);
    memcpy(&ctx, hk->state[1], sizeof(ctx));
    sha256_update(&ctx, inner, sizeof(inner));
    (void)SHA256_Final(out, &ctx);
    OPENSSL_cleanse(inner, sizeof(inner));
    OPENSSL_cleanse(&ctx, sizeof(ctx));
}

void evi_hmac_key_wipe(struct evi_hmac_key *hk)
{
    OPENSSL_cleanse(hk, sizeof(*hk));
}

void evi_hmac_pair(const uint8_t key[EVI_HASH], const void *msg1, size_t len1, const void *msg2,
                   size_t len2, uint8_t out1[EVI_HASH], uint8_t out2[EVI_HASH])
{
    /*
     * Everything here is as good as the key: one struct, one wipe (it was 7 per record).
     * Both inner hashes first, then both outer ones, so two contexts serve: each pad
     * state is made in one and copied once. The last blocks are ours (sha256_finish):
     * the messages' tails are public, in msg_block, not wiped; each inner hash goes
     * straight into its outer hash's last block, in the struct.
     */
    struct {
        uint8_t pad[SHA256_CBLOCK];
        SHA256_CTX first, second;
        uint8_t outer[2][SHA256_CBLOCK]; /* 32 + 1 + 8 bytes: one block */
    } t;
    uint8_t msg_block[2 * SHA256_CBLOCK];

    for (size_t i = 0; i < EVI_HASH; i++) {
        t.pad[i] = key[i] ^ 0x36;
    }
    memset(t.pad + EVI_HASH, 0x36, sizeof(t.pad) - EVI_HASH);
    (void)SHA256_Init(&t.first);
    SHA256_Transform(&t.first, t.pad); /* one whole block: the length is ours to count */
    t.second = t.first;
    sha256_finish(&t.first, SHA256_CBLOCK, msg1, len1, msg_block, t.outer[0]);
    sha256_finish(&t.second, SHA256_CBLOCK, msg2, len2, msg_block, t.outer[1]);

    for (size_t i = 0; i < sizeof(t.pad); i++) {
        t.pad[i] ^= 0x36 ^ 0x5c;
    }
    (void)SHA256_Init(&t.first);
    SHA256_Transform(&t.first, t.pad);
    t.second = t.first;
    /* The inner hash is at the start of the block sha256_finish pads it in. */
    sha256_finish(&t.first, SHA256_CBLOCK, t.outer[0], EVI_HASH, t.outer[0], out1);
    sha256_finish(&t.second, SHA256_CBLOCK, t.outer[1], EVI_HASH, t.outer[1], out2);

    OPENSSL_cleanse(&t, sizeof(t));
}

int evi_random(void *buf, size_t len)
{
    uint8_t *p = buf;

    /* RAND_bytes takes an int length. */
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;

        if (RAND_bytes(p, chunk) != 1) {
            ERR_clear_error();
            return evi_error(-EIO, "cannot get random bytes from openssl");
        }
        p += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

static const uint8_t empty_message[1];

int evi_ed25519_public(const uint8_t seed[EVI_ED25519_SEED], uint8_t ret_pub[EVI_ED25519_PUB])
{
    EVP_PKEY *pkey = NULL;
    uint8_t pub[EVI_ED25519_PUB];
    size_t pub_len = sizeof(pub);
    int r;

    pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, EVI_ED25519_SEED);
    if (!pkey) {
        r = evi_error(-ENOMEM, "cannot make an ed25519 key");
        goto out;
    }
    if (EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) != 1 || pub_len != sizeof(pub)) {
        r = evi_error(-EIO, "cannot derive an ed25519 public key");
        goto out;
    }
    memcpy(ret_pub, pub, sizeof(pub));
    r = 0;
out:
    if (r < 0) {
        ERR_clear_error();
    }
    EVP_PKEY_free(pkey);
    return r;
}

int evi_ed25519_sign(const uint8_t seed[EVI_ED25519_SEED], const void *msg, size_t len,
                     uint8_t ret_sig[EVI_ED25519_SIG])
{
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t sig[EVI_ED25519_SIG];
    size_t sig_len = sizeof(sig);
    int r;

    /* Ed25519 hashes the message itself; OpenSSL wants a non-NULL pointer even for "". */
    if (len == 0) {
        msg = empty_message;
    }
    pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, EVI_ED25519_SEED);
    md = EVP_MD_CTX_new();
    if (!pkey || !md) {
        r = evi_error(-ENOMEM, "cannot make an ed25519 signing context");
        goto out;
    }
    if (EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, msg, len) != 1 || sig_len != sizeof(sig)) {
        r = evi_error(-EIO, "cannot make an ed25519 signature");
        goto out;
    }
    memcpy(ret_sig, sig, sizeof(sig));
    r = 0;
out:
    if (r < 0) {
        ERR_clear_error();
    }
    /* Both free functions cleanse the key material they hold. */
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return r;
}

bool evi_ed25519_verify(const uint8_t pub[EVI_ED25519_PUB], const void *msg, size_t len,
                        const uint8_t sig[EVI_ED25519_SIG])
{
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    bool valid = false;

    if (len == 0) {
        msg = empty_message;
    }
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, EVI_ED25519_PUB);
    md = EVP_MD_CTX_new();
    if (!pkey || !md) {
        goto out;
    }
    if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) != 1) {
        goto out;
    }
    valid = EVP_DigestVerify(md, sig, EVI_ED25519_SIG, msg, len) == 1;
out:
    /* A bad signature leaves an error on the thread's queue; nobody reads it. */
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return valid;
}

bool evi_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void evi_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

/*
 * CRC32C (Castagnoli, reflected polynomial 0x82f63b78), with the usual
 * pre- and post-inversion so that crc32c(crc32c(0, a), b) == crc32c(0, a || b).
 * No Debian package ships a C CRC32C library, so both paths are ours: SSE4.2's
 * crc32 instruction where the CPU has it (chosen at run time, so one binary
 * serves every x86-64), and slicing-by-8 tables everywhere else.
 */
#define CRC32C_POLY 0x82f63b78u

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

/*
 * The SSE4.2 path runs three crc32 chains over three adjacent blocks of
 * CRC32C_STRIDE bytes (the instruction has a latency of 3 cycles and a
 * throughput of 1), then joins them: the raw CRC of A || B from state s is
 * shift(crc(s, A)) ^ crc(0, B), where shift() advances a state through
 * CRC32C_STRIDE zero bytes, a linear map kept as 4 byte tables.
 */
#define CRC32C_STRIDE 64
static uint32_t crc32c_shift_table[4][256];

static void crc32c_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int bit = 0; bit < 8; bit++) {
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        crc32c_table[0][i] = c;
    }
    /* Table k advances a byte through k further zero bytes. */
    for (uint32_t i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            uint32_t prev = crc32c_table[k - 1][i];

            crc32c_table[k][i] = (prev >> 8) ^ crc32c_table[0][prev & 0xff];
        }
    }
    /* Each byte of a state, through CRC32C_STRIDE zero bytes. */
    for (uint32_t k = 0; k < 4; k++) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << (8 * k);

            for (int n = 0; n < CRC32C_STRIDE; n++) {
                c = (c >> 8) ^ crc32c_table[0][c & 0xff];
            }
            crc32c_shift_table[k][i] = c;
        }
    }
}

uint32_t evi_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;

    /* pthread_once cannot fail with a valid once control and init routine. */
    (void)pthread_once(&crc32c_table_once, crc32c_table_init);

    while (len >= 8) {
        /* Byte loads keep this independent of alignment and endianness. */
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);

        c = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
            crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^ crc32c_table[3][p[4]] ^
            crc32c_table[2][p[5]] ^ crc32c_table[1][p[6]] ^ crc32c_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p) & 0xff];
        p++;
        len--;
    }
    return ~c;
}

#if defined(__x86_64__)
static inline uint64_t crc32c_shift(uint64_t c)
{
    return crc32c_shift_table[0][c & 0xff] ^ crc32c_shift_table[1][(c >> 8) & 0xff] ^
           crc32c_shift_table[2][(c >> 16) & 0xff] ^ crc32c_shift_table[3][(c >> 24) & 0xff];
}

__attribute__((target("sse4.2"))) uint32_t evi_crc32c_sse42(uint32_t crc, const void *data,
                                                            size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;

    /*
     * Unaligned 8-byte crc32 is slower on some cores; align first, in at most
     * three steps (1, 2 and 4 bytes) rather than up to seven single bytes.
     * Alignment is only for speed: a short len leaves p unaligned, correctly.
     */
    if (((uintptr_t)p & 1) != 0 && len >= 1) {
        c = _mm_crc32_u8((uint32_t)c, *p);
        p += 1;
        len -= 1;
    }
    if (((uintptr_t)p & 2) != 0 && len >= 2) {
        uint16_t half;

        memcpy(&half, p, sizeof(half));
        c = _mm_crc32_u16((uint32_t)c, half);
        p += 2;
        len -= 2;
    }
    if (((uintptr_t)p & 4) != 0 && len >= 4) {
        uint32_t word;

        memcpy(&word, p, sizeof(word));
        c = _mm_crc32_u32((uint32_t)c, word);
        p += 4;
        len -= 4;
    }
    if (len >= 3 * CRC32C_STRIDE) {
        (void)pthread_once(&crc32c_table_once, crc32c_table_init);
    }
    while (len >= 3 * CRC32C_STRIDE) {
        uint64_t c1 = 0, c2 = 0;

        for (size_t i = 0; i < CRC32C_STRIDE; i += 8) {
            uint64_t w0, w1, w2;

            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + CRC32C_STRIDE + i, 8);
            memcpy(&w2, p + 2 * CRC32C_STRIDE + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = crc32c_shift(c) ^ c1;
        c = crc32c_shift(c) ^ c2;
        p += 3 * CRC32C_STRIDE;
        len -= 3 * CRC32C_STRIDE;
    }
    while (len >= 8) {
        uint64_t word;

        memcpy(&word, p, sizeof(word));
        c = _mm_crc32_u64(c, word);
        p += 8;
        len -= 8;
    }
    /* len < 8: the same three steps in the other order. */
    if (len >= 4) {
        uint32_t word;

        memcpy(&word, p, sizeof(word));
        c = _mm_crc32_u32((uint32_t)c, word);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t half;

        memcpy(&half, p, sizeof(half));
        c = _mm_crc32_u16((uint32_t)c, half);
        p += 2;
        len -= 2;
    }
    if (len >= 1) {
        c = _mm_crc32_u8((uint32_t)c, *p);
    }
    return ~(uint32_t)c;
}

bool evi_crc32c_sse42_supported(void)
{
    return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t evi_crc32c_sse42(uint32_t crc, const void *data, size_t len)
{
    return evi_crc32c_portable(crc, data, len);
}

bool evi_crc32c_sse42_supported(void)
{
    return false;
}
#endif

uint32_t evi_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (evi_crc32c_sse42_supported()) {
        return evi_crc32c_sse42(crc, data, len);
    }
    return evi_crc32c_portable(crc, data, len);
}

#if defined(__x86_64__)
/* crc32 of a 32-bit register takes its bytes in little-endian order, as memory would. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_le32_sse42(uint32_t crc, uint32_t v)
{
    return ~_mm_crc32_u32(~crc, v);
}
#endif

uint32_t evi_crc32c_le32(uint32_t crc, uint32_t v)
{
#if defined(__x86_64__)
    if (evi_crc32c_sse42_supported()) {
        return crc32c_le32_sse42(crc, v);
    }
#endif
    const uint8_t bytes[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                              (uint8_t)(v >> 24)};
    return evi_crc32c_portable(crc, bytes, sizeof(bytes));
}

/*
 * Constant-time helpers for the codecs: base64 and hex carry secrets here (the
 * signer key file, the verification key shown at init), so character
 * classification must not branch on or index by secret bytes. Arguments are
 * below 2^16, so a - b wraps to a value with the top bit set exactly when a < b.
 */
static unsigned ct_lt(unsigned a, unsigned b)
{
    return 0u - ((a - b) >> (sizeof(unsigned) * CHAR_BIT - 1));
}

static unsigned ct_in(unsigned x, unsigned lo, unsigned hi)
{
    return ~ct_lt(x, lo) & ~ct_lt(hi, x);
}

static unsigned ct_eq(unsigned a, unsigned b)
{
    return ~ct_lt(a, b) & ~ct_lt(b, a);
}

static char base64_char(unsigned v)
{
    unsigned c = (ct_lt(v, 26) & (v + 'A')) | (ct_in(v, 26, 51) & (v - 26 + 'a')) |
                 (ct_in(v, 52, 61) & (v - 52 + '0')) | (ct_eq(v, 62) & '+') | (ct_eq(v, 63) & '/');

    return (char)c;
}

/* The 6-bit value of c; *bad gets all ones if c is not in the alphabet. */
static unsigned base64_value(unsigned char ch, unsigned *bad)
{
    unsigned c = ch;
    unsigned upper = ct_in(c, 'A', 'Z');
    unsigned lower = ct_in(c, 'a', 'z');
    unsigned digit = ct_in(c, '0', '9');
    unsigned plus = ct_eq(c, '+');
    unsigned slash = ct_eq(c, '/');

    *bad |= ~(upper | lower | digit | plus | slash);
    return ((upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c - '0' + 52)) |
            (plus & 62) | (slash & 63)) &
           0x3f;
}

size_t evi_base64_encoded_len(size_t len)
{
    /* Saturates, so that no cap can satisfy a length that does not fit. */
    if (len / 3 >= SIZE_MAX / 4) {
        return SIZE_MAX;
    }
    return (len / 3 + (len % 3 != 0)) * 4;
}

/*
 * A cap below encoded_len + 1 is a caller bug; rather than overrun out we
 * write the empty string (if there is room for its NUL) and return 0.
 */
size_t evi_base64_encode(const void *data, size_t len, char *out, size_t cap)
{
    const uint8_t *p = data;
    size_t need = evi_base64_encoded_len(len);
    size_t o = 0;

    if (need == SIZE_MAX || cap <= need) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    for (; len >= 3; p += 3, len -= 3) {
        unsigned triple = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];

        out[o++] = base64_char(triple >> 18);
        out[o++] = base64_char((triple >> 12) & 0x3f);
        out[o++] = base64_char((triple >> 6) & 0x3f);
        out[o++] = base64_char(triple & 0x3f);
    }
    if (len > 0) {
        unsigned triple = (unsigned)p[0] << 16 | (len == 2 ? (unsigned)p[1] << 8 : 0);

        out[o++] = base64_char(triple >> 18);
        out[o++] = base64_char((triple >> 12) & 0x3f);
        out[o++] = len == 2 ? base64_char((triple >> 6) & 0x3f) : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/*
 * The shape (length, where the '=' are) is public and checked first; the
 * characters are then decoded without branching on them, and if any was bad
 * the output is wiped so that no partial secret is left behind.
 */
long evi_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    const unsigned char *t = (const unsigned char *)text;
    unsigned bad = 0;
    size_t pads = 0;
    size_t out_len;
    size_t o = 0;

    if (len % 4 != 0) {
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    if (t[len - 1] == '=') {
        pads = t[len - 2] == '=' ? 2 : 1;
    }
    out_len = len / 4 * 3 - pads;
    if (out_len > cap || out_len > LONG_MAX) {
        return -1;
    }
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        unsigned v0 = base64_value(t[i], &bad);
        unsigned v1 = base64_value(t[i + 1], &bad);
        unsigned v2;
        unsigned v3;
        unsigned triple;

        if (last && pads == 2) {
            /* "xy==": y's low 4 bits would be a partial byte; canonical means zero. */
            bad |= 0u - ((v1 & 0x0f) != 0);
            out[o++] = (uint8_t)(v0 << 2 | v1 >> 4);
            break;
        }
        v2 = base64_value(t[i + 2], &bad);
        if (last && pads == 1) {
            bad |= 0u - ((v2 & 0x03) != 0);
            triple = v0 << 18 | v1 << 12 | v2 << 6;
            out[o++] = (uint8_t)(triple >> 16);
            out[o++] = (uint8_t)(triple >> 8);
            break;
        }
        v3 = base64_value(t[i + 3], &bad);
        triple = v0 << 18 | v1 << 12 | v2 << 6 | v3;
        out[o++] = (uint8_t)(triple >> 16);
        out[o++] = (uint8_t)(triple >> 8);
        out[o++] = (uint8_t)triple;
    }
    /* '=' anywhere else (including "x=y=" and "=" in an earlier quad) is a bad character. */
    if (bad != 0) {
        evi_wipe(out, o);
        return -1;
    }
    return (long)out_len;
}

void evi_hex_encode(const void *data, size_t len, char *out)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        unsigned hi = p[i] >> 4;
        unsigned lo = p[i] & 0x0f;

        /* '0' + n, plus the gap from '9' + 1 to 'a' when n > 9. */
        out[2 * i] = (char)('0' + hi + (ct_lt(9, hi) & ('a' - '0' - 10)));
        out[2 * i + 1] = (char)('0' + lo + (ct_lt(9, lo) & ('a' - '0' - 10)));
    }
    out[2 * len] = '\0';
}

static unsigned hex_value(unsigned char ch, unsigned *bad)
{
    unsigned c = ch;
    unsigned digit = ct_in(c, '0', '9');
    unsigned letter = ct_in(c | 0x20, 'a', 'f');

    *bad |= ~(digit | letter);
    return ((digit & (c - '0')) | (letter & ((c | 0x20) - 'a' + 10))) & 0x0f;
}

int evi_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    unsigned bad = 0;

    if (len > SIZE_MAX / 2 || text_len != 2 * len) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned hi = hex_value(t[2 * i], &bad);
        unsigned lo = hex_value(t[2 * i + 1], &bad);

        out[i] = (uint8_t)(hi << 4 | lo);
    }
    if (bad != 0) {
        evi_wipe(out, len);
        return -1;
    }
    return 0;
}
