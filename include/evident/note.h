/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 note keys, C2SP signed notes, C2SP tlog-checkpoint bodies and
 * c2sp.org/tlog-proof@v1 files.
 *
 * Formats (normative text in docs/FORMAT.md, section "Checkpoints and keys"):
 *   verifier key  NAME+KEYID+base64(0x01 || 32-byte public key)
 *   signer key    PRIVATE+KEY+NAME+KEYID+base64(0x01 || 32-byte seed)
 *   key ID        first 4 bytes of SHA-256(NAME || 0x0A || 0x01 || public key)
 *   signed note   TEXT (ends in \n) \n then lines "— NAME base64(keyid||sig)\n"
 *
 * Every parser here treats its input as hostile: sizes are bounded
 * (EV_NOTE_MAX_BYTES), no input makes it crash, and on failure it sets
 * ev_last_error() to say what is wrong and where.
 *
 * struct ev_signer holds a private key: it is wiped on free and never printed.
 * Objects are immutable after creation and may be shared between threads.
 */
#ifndef EVIDENT_NOTE_H
#define EVIDENT_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include <evident/merkle.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

#define EV_NOTE_MAX_BYTES (1u << 20) /* a signed note or tlog-proof file */
#define EV_NOTE_MAX_SIGNATURES 100   /* signature lines accepted in one note */
#define EV_KEY_NAME_MAX 255          /* bytes of a key name (= log origin) */

struct ev_signer;
struct ev_verifier;

/* Makes a new random Ed25519 signer named name (non-empty, no space, no '+'). */
int ev_signer_generate(const char *name, struct ev_signer **ret_signer);

/* Parses "PRIVATE+KEY+NAME+KEYID+BASE64"; checks that the key ID matches. */
int ev_signer_parse(const char *skey, struct ev_signer **ret_signer);

/*
 * Loads a signer key file (its text, one optional trailing newline).
 * Returns EV_EKEYPERM if the file's mode allows any access by group or others,
 * -errno if it cannot be read, EV_EBADKEY if its content is malformed.
 */
int ev_signer_load(const char *path, struct ev_signer **ret_signer);

/* Writes the signer key to a new file of mode 0600 (fails if path exists), synced. */
int ev_signer_save(const struct ev_signer *signer, const char *path);

/* The verifier key string of the signer; caller frees with free(). */
int ev_signer_vkey(const struct ev_signer *signer, char **ret_vkey);

/* Wipes and frees; accepts NULL. */
void ev_signer_free(struct ev_signer *signer);

/* Parses "NAME+KEYID+BASE64" (an Ed25519 key, algorithm byte 0x01). */
int ev_verifier_parse(const char *vkey, struct ev_verifier **ret_verifier);

/* The key name (for a log key: the log's origin). Valid while verifier lives. */
const char *ev_verifier_name(const struct ev_verifier *verifier);

/* The verifier key string; caller frees with free(). */
int ev_verifier_vkey(const struct ev_verifier *verifier, char **ret_vkey);

void ev_verifier_free(struct ev_verifier *verifier);

/*
 * Signs text (text_len bytes, valid UTF-8 without control characters other
 * than \n, ending in \n) and returns the whole signed note, NUL-terminated,
 * in *ret_note (caller frees) and its length in *ret_len.
 */
int ev_note_sign(const char *text, size_t text_len, const struct ev_signer *signer, char **ret_note,
                 size_t *ret_len);

/*
 * Verifies a signed note against the trusted verifiers. Signature lines of
 * unknown keys are ignored; a line of a trusted key must verify; at least one
 * must. On success returns 0 and the length of the note text (including its
 * final newline) in *ret_text_len. Returns EV_EBADSIG for a malformed note or
 * a missing or bad signature.
 */
int ev_note_verify(const char *note, size_t note_len, const struct ev_verifier *const *verifiers,
                   size_t verifier_count, size_t *ret_text_len);

/* A parsed tlog-checkpoint body. */
struct ev_checkpoint {
    char origin[EV_KEY_NAME_MAX + 1];
    uint64_t tree_size; /* at most INT64_MAX */
    uint8_t root[EV_HASH_BYTES];
    size_t extension_count; /* extension lines, accepted and ignored */
};

/* Formats the body "origin\nsize\nbase64(root)\n"; caller frees *ret_text. */
int ev_checkpoint_format(const char *origin, uint64_t tree_size, const uint8_t root[EV_HASH_BYTES],
                         char **ret_text, size_t *ret_len);

/* Parses a checkpoint body (the note text). Returns EV_EFORMAT if malformed. */
int ev_checkpoint_parse(const char *text, size_t text_len, struct ev_checkpoint *ret_checkpoint);

/*
 * Verifies a signed checkpoint with verifier and parses it, in that order.
 * Returns EV_EBADSIG (signature stage), EV_EFORMAT (body malformed) or
 * EV_EORIGIN (origin line is not the verifier's name).
 */
int ev_checkpoint_open(const char *note, size_t note_len, const struct ev_verifier *verifier,
                       struct ev_checkpoint *ret_checkpoint);

/* A parsed c2sp.org/tlog-proof@v1 file. */
struct ev_tlog_proof {
    uint64_t index;
    uint8_t (*hashes)[EV_HASH_BYTES];
    size_t hash_count; /* at most EV_MAX_PROOF */
    uint8_t *extra;    /* decoded "extra" bytes or NULL (not authenticated) */
    size_t extra_len;
    char *checkpoint; /* the signed checkpoint, exactly as in the file */
    size_t checkpoint_len;
};

/* Formats a tlog-proof file; caller frees *ret_text. extra may be NULL. */
int ev_tlog_proof_format(uint64_t index, const uint8_t (*hashes)[EV_HASH_BYTES], size_t hash_count,
                         const uint8_t *extra, size_t extra_len, const char *checkpoint,
                         size_t checkpoint_len, char **ret_text, size_t *ret_len);

/* Parses a tlog-proof file. Returns EV_EFORMAT if malformed. */
int ev_tlog_proof_parse(const char *text, size_t text_len, struct ev_tlog_proof **ret_proof);

void ev_tlog_proof_free(struct ev_tlog_proof *proof);

/*
 * Verifies offline that entry (the exact stored bytes) is in the log whose key
 * is verifier, by the tlog-proof file text. Writes the checkpoint it checked
 * against to *ret_checkpoint (may be NULL). Returns 0, EV_EFORMAT, EV_EBADSIG,
 * EV_EORIGIN or EV_ETAMPERED (entry not included under that checkpoint).
 */
int ev_tlog_proof_verify(const char *text, size_t text_len, const void *entry, size_t entry_len,
                         const struct ev_verifier *verifier, struct ev_checkpoint *ret_checkpoint);

/* Encodes a proof as one base64 hash per line; caller frees *ret_text. */
int ev_proof_lines_format(const uint8_t (*hashes)[EV_HASH_BYTES], size_t hash_count,
                          char **ret_text, size_t *ret_len);

/* Parses one base64 hash per line (an empty text is an empty proof). */
int ev_proof_lines_parse(const char *text, size_t text_len,
                         uint8_t ret_hashes[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_count);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
