/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's only door to OpenSSL: hashing, HMAC, Ed25519, randomness,
 * constant-time comparison and wiping, plus CRC32C, base64 and hex.
 * No other file includes an OpenSSL header.
 */
#ifndef EVI_CRYPTO_H
#define EVI_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/sha.h>
#include <stdint.h>

#define EVI_HASH 32
#define EVI_ED25519_SEED 32
#define EVI_ED25519_PUB 32
#define EVI_ED25519_SIG 64

/* Incremental SHA-256, for data that arrives in pieces (a segment, a run of leaf hashes). */
struct evi_sha256_ctx {
    SHA256_CTX ctx;
};
void evi_sha256_init(struct evi_sha256_ctx *c);
void evi_sha256_update(struct evi_sha256_ctx *c, const void *data, size_t len);
void evi_sha256_final(struct evi_sha256_ctx *c, uint8_t out[EVI_HASH]);

/* SHA-256 of one buffer. */
void evi_sha256(const void *data, size_t len, uint8_t out[EVI_HASH]);

/*
 * The same for public input only (leaf, chain and node hashes: FORMAT.md §5):
 * no wipe of the temporaries, so the last bytes of data stay on the stack.
 * The writer hashes 3 such inputs a record; SHA256_Final's own wipe cost more
 * than their padding. Never for key material: use evi_sha256().
 */
void evi_sha256_public(const void *data, size_t len, uint8_t out[EVI_HASH]);

/* SHA-256 of up to three concatenated buffers (NULL/0 parts skipped). */
void evi_sha256_parts(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                      size_t clen, uint8_t out[EVI_HASH]);

/* HMAC-SHA256 with a 32-byte key (RFC 2104). Matches OpenSSL's HMAC(). */
void evi_hmac_sha256(const uint8_t key[EVI_HASH], const void *msg, size_t len,
                     uint8_t out[EVI_HASH]);

/*
 * HMAC-SHA256 with a key prepared once for several messages (the record key
 * makes a tag and the next key): saves the two pad compressions per message.
 * Holds key material: evi_hmac_key_wipe() it.
 */
struct evi_hmac_key {
    _Alignas(8) uint8_t state[2][128]; /* inner and outer SHA-256 states after the pads */
};
void evi_hmac_key_init(struct evi_hmac_key *hk, const uint8_t key[EVI_HASH]);
/* out may alias nothing in hk (it may alias msg). */
void evi_hmac_with(const struct evi_hmac_key *hk, const void *msg, size_t len,
                   uint8_t out[EVI_HASH]);
void evi_hmac_key_wipe(struct evi_hmac_key *hk);

/*
 * Two HMAC-SHA256s under one 32-byte key: out1 = HMAC(key, msg1), out2 =
 * HMAC(key, msg2), the key prepared once (6 compressions for short messages)
 * and every temporary wiped once at the end rather than after each step. The
 * key is read completely before either output is written, so out2 may alias
 * key: a record key's tag and its successor, R(e, j+1) over R(e, j) (FORMAT.md
 * §7). Both messages are read before either output is written too. The
 * messages are taken as public (an index and chain head, a label): their last
 * bytes are left on the stack, unlike everything derived from the key.
 */
void evi_hmac_pair(const uint8_t key[EVI_HASH], const void *msg1, size_t len1, const void *msg2,
                   size_t len2, uint8_t out1[EVI_HASH], uint8_t out2[EVI_HASH]);

/* Fills buf from the operating system's CSPRNG. 0 or negative error. */
int evi_random(void *buf, size_t len);

/* Ed25519 (RFC 8032) from a 32-byte seed. 0 or negative error. */
int evi_ed25519_public(const uint8_t seed[EVI_ED25519_SEED], uint8_t ret_pub[EVI_ED25519_PUB]);
int evi_ed25519_sign(const uint8_t seed[EVI_ED25519_SEED], const void *msg, size_t len,
                     uint8_t ret_sig[EVI_ED25519_SIG]);
/* true only if sig is a valid signature of msg by pub. */
bool evi_ed25519_verify(const uint8_t pub[EVI_ED25519_PUB], const void *msg, size_t len,
                        const uint8_t sig[EVI_ED25519_SIG]);

/* Constant-time equality of two n-byte buffers. */
bool evi_ct_equal(const void *a, const void *b, size_t n);

/* Overwrites n bytes in a way the compiler cannot elide. */
void evi_wipe(void *p, size_t n);

/* CRC32C (Castagnoli), as iSCSI / ext4: evi_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t evi_crc32c(uint32_t crc, const void *data, size_t len);
/*
 * evi_crc32c over the 4 bytes of v in little-endian order, from a register:
 * for fields the caller holds as values (a record's len and epoch, FORMAT.md
 * §4), with no load of bytes it may just have stored.
 */
uint32_t evi_crc32c_le32(uint32_t crc, uint32_t v);

/* Standard base64 with '=' padding (RFC 4648 section 4). */
size_t evi_base64_encoded_len(size_t len); /* without the NUL */
/* Writes NUL-terminated text to out (cap >= encoded_len + 1); returns its length. */
size_t evi_base64_encode(const void *data, size_t len, char *out, size_t cap);
/*
 * Strict decode: padding required, no whitespace, non-canonical trailing bits
 * rejected. Returns the decoded length, or -1 if malformed or longer than cap.
 */
long evi_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap);

/* Lowercase hex; out must hold 2*len+1. */
void evi_hex_encode(const void *data, size_t len, char *out);
/* Exactly 2*len hex digits (either case) into out[len]; 0 or -1. */
int evi_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t len);

#endif
