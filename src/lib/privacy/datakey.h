/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encryption at rest inside the library (docs/FORMAT.md §5.1): the keyring
 * (datakey.c: the key file, parsed as hostile input) and the entry envelope
 * (envelope.c: the only file that talks to OpenSSL's AEADs).
 */
#ifndef EVI_DATAKEY_H
#define EVI_DATAKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/datakey.h>

#define EVI_DATAKEY_BYTES 32
#define EVI_DATAKEY_FILE_MAX (128u * 1024u) /* bytes of a key file */
#define EVI_DATAKEY_LINES_MAX 4096u         /* lines of a key file, comments included */
#define EVI_AEAD_NONCE 12                   /* 96-bit random nonce, base64: 16 characters */
#define EVI_AEAD_TAG 16
#define EVI_AEAD_NONCE_B64 16
#define EVI_DATAKEY_LINE_MAGIC "evident-data-key-v1"
/* The key id: SHA-256 of this label and the key, first 8 bytes in hex (§5.1). */
#define EVI_DATAKEY_ID_LABEL "evident data key id v1"
/* The first bytes of the AAD, before the entry's visible head (§5.1). */
#define EVI_AEAD_LABEL "evident entry v1"

struct evi_datakey {
    int alg;
    char id[EV_DATAKEY_ID_LEN + 1];
    uint8_t key[EVI_DATAKEY_BYTES];
};

struct ev_datakeys {
    char *path;
    size_t count;
    struct evi_datakey *keys; /* count keys; the last is current */
    /*
     * The writer's encryption state (envelope.c), made at its first entry: an
     * EVP_CIPHER_CTX holding the current key and a ciphertext buffer. Used
     * only by the one sequencing thread of the one writer given this keyring.
     */
    void *seal_ctx;
    uint8_t *scratch;
    /* Nonces drawn from the CSPRNG 256 at a time (one RAND_bytes call costs a microsecond). */
    uint8_t nonces[EVI_AEAD_NONCE * 256];
    size_t nonces_used; /* bytes of nonces already given out */
};

/*
 * Parses key file text (§5.1) as hostile input; name is used in messages
 * ("'NAME' line 3: ..."). EV_EBADKEY on any deviation, EV_ETOOBIG over the
 * limits. Never copies key material into a message.
 */
int evi_datakeys_parse(const char *name, const char *text, size_t len,
                       struct ev_datakeys **ret_keys);

/* The key with this id, or NULL. */
const struct evi_datakey *evi_datakeys_find(const struct ev_datakeys *keys, const char *id);

/* The key id of a key (§5.1). */
void evi_datakey_id(const uint8_t key[EVI_DATAKEY_BYTES], char ret_id[EV_DATAKEY_ID_LEN + 1]);

/* ---- the envelope (envelope.c) ------------------------------------------ */

/* The visible parts of an encrypted entry; pointers into the entry. */
struct evi_envelope {
    uint64_t seq;
    int alg;
    char key_id[EV_DATAKEY_ID_LEN + 1];
    size_t head_len; /* bytes up to and including `"severity":"S",` */
    size_t aad_len;  /* bytes up to the `,"nonce":` (the AAD after the label) */
    const char *nonce_b64;
    const char *ct_b64;
    size_t ct_b64_len;
};

/*
 * Parses a stored entry: 1 and *ret_env (may be NULL) for an encrypted entry,
 * 0 for a plain entry (§5), EV_EFORMAT (with a message) for anything else.
 */
int evi_envelope_parse(const uint8_t *entry, size_t len, struct evi_envelope *ret_env);

/* Cheap test: the entry's field after severity is "enc" (no other check). */
bool evi_envelope_is_encrypted(const uint8_t *entry, size_t len);

/*
 * The bytes an encrypted body takes: `"type":"T","severity":"S","enc":{...}}`
 * for a body whose plaintext `{"source":...,"data":...}` is plain_len bytes.
 */
size_t evi_envelope_body_len(int alg, size_t head_len, size_t plain_len);

/*
 * Writes the encrypted body at out + prefix_len, after the entry prefix the
 * caller wrote there (`{"v":1,"seq":N,"ts":"...",`), sealing the plaintext
 * `{` + body[plain_off..body_len) under the keyring's current key with a
 * fresh random nonce and the AAD of §5.1. Returns the entry's total length, or
 * a negative code (EV_ETOOBIG past cap). Writer only (see struct ev_datakeys).
 */
long evi_envelope_write(struct ev_datakeys *keys, char *out, size_t prefix_len, const char *body,
                        size_t plain_off, size_t body_len, size_t cap);

/* Frees the writer's encryption state of a keyring (datakey.c calls it at free). */
void evi_envelope_writer_free(struct ev_datakeys *keys);

/*
 * Decrypts an encrypted entry to its §5 form: ev_entry_decrypt() for an entry
 * that evi_envelope_parse() says is encrypted.
 */
int evi_envelope_open(const struct ev_datakeys *keys, const uint8_t *entry, size_t len,
                      char **ret_text, size_t *ret_len);

/*
 * Whether the source object of an encrypted entry contains needle (the
 * ev_filter.source test): 1, 0, or EV_ENOKEY/EV_EDECRYPT/EV_EFORMAT.
 */
int evi_envelope_source_contains(const struct ev_datakeys *keys, const uint8_t *entry, size_t len,
                                 const char *needle);

#endif
