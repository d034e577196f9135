/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct ev_datakeys: the data keys of encryption at rest (docs/FORMAT.md §5.1).
 *
 * A log may store its entries encrypted: the writer seals each event's source
 * and data with an AEAD (AES-256-GCM or ChaCha20-Poly1305) under the current
 * data key and stores the ciphertext in an envelope that keeps seq, ts, type
 * and severity readable. The Merkle tree, the hash chain, the tags and the
 * seals are all over the stored (encrypted) bytes, so verification needs no
 * data key; reading source and data does.
 *
 * A key file holds one key a line (§5.1); the LAST line is the current key,
 * which a writer encrypts new entries with; earlier lines stay for reading
 * older entries. Rotation appends a line (ev_datakey_new()); old segments are
 * never rewritten. Each key has a public id (16 hex digits derived from the
 * key), stored in every entry it encrypted, so a missing or wrong key is named
 * before anything is decrypted.
 *
 * Secrets: the key bytes live only inside struct ev_datakeys, are wiped before
 * they are freed, and never appear in ev_last_error() texts. A key file must
 * be a regular file of mode 0600 (EV_EKEYPERM otherwise), like signing.key.
 *
 * Threads: a loaded keyring is read-only for decryption and may be shared by
 * any number of threads. A writer (ev_open_options.data_keys) also uses the
 * keyring's encryption state while it sequences entries: give a keyring to at
 * most one writer handle at a time (readers may share it with that writer).
 */
#ifndef EVIDENT_DATAKEY_H
#define EVIDENT_DATAKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct ev_log;
struct ev_entry;

/* The AEADs of §5.1. The numbers are API only; files and entries use the names. */
enum ev_data_alg {
    EV_DATA_AES_256_GCM = 1,       /* "aes-256-gcm" (default) */
    EV_DATA_CHACHA20_POLY1305 = 2, /* "chacha20-poly1305" */
};

#define EV_DATAKEY_ID_LEN 16 /* hex digits of a key id */
#define EV_DATAKEY_MAX 1024  /* keys in one key file */

/* The public description of one key (never its bytes). */
struct ev_datakey_info {
    char id[EV_DATAKEY_ID_LEN + 1]; /* lowercase hex, NUL-terminated */
    int alg;                        /* enum ev_data_alg */
};

struct ev_datakeys;

/* "aes-256-gcm", "chacha20-poly1305"; NULL for an unknown value. */
const char *ev_data_alg_name(int alg);
/* The names above. 0 or EV_EFORMAT (with a message). */
int ev_data_alg_parse(const char *name, int *ret_alg);

/*
 * Loads the key file at path (§5.1): EV_EKEYPERM if group or others have any
 * access to it, EV_EBADKEY (naming the file and line) if it is not a key file,
 * -errno if it cannot be read. On success *ret_keys (caller frees with
 * ev_datakeys_free()) holds every key; the last is the current one.
 */
int ev_datakeys_load(const char *path, struct ev_datakeys **ret_keys);

/* Wipes and frees. Accepts NULL. */
void ev_datakeys_free(struct ev_datakeys *keys);

/* The number of keys (at least 1), and key i (0 = oldest, count - 1 = current). */
size_t ev_datakeys_count(const struct ev_datakeys *keys);
int ev_datakeys_get(const struct ev_datakeys *keys, size_t i, struct ev_datakey_info *ret_info);

/* The file a keyring was loaded from (for messages). */
const char *ev_datakeys_path(const struct ev_datakeys *keys);

/*
 * Makes a new random key for alg and adds it to the key file at path as its
 * last (current) key, creating the file (mode 0600) if it does not exist. The
 * file is replaced atomically (a temporary file, fsync, rename, fsync of the
 * directory), so a crash leaves the old or the new file, never half a line.
 * An existing file must load (ev_datakeys_load()). Writes the new key's id and
 * alg to *ret_info (may be NULL).
 */
int ev_datakey_new(const char *path, int alg, struct ev_datakey_info *ret_info);

/*
 * Whether the stored entry (len bytes, §5 or §5.1) is encrypted: 1 and
 * *ret_info (may be NULL) filled with the key id and alg it names; 0 for a
 * plain entry; EV_EFORMAT if it is neither.
 */
int ev_entry_encryption(const char *entry, size_t len, struct ev_datakey_info *ret_info);

/*
 * The entry as a reader sees it: for an encrypted entry the §5 entry it
 * decrypts to (the bytes the entry would have had unencrypted:
 * `{"v":1,"seq":N,"ts":..,"type":..,"severity":..,"source":{..},"data":{..}}`);
 * for a plain entry a copy of its bytes. *ret_text (NUL-terminated, caller
 * frees) and *ret_len on success. keys may be NULL (no key given).
 *
 * Errors (ev_last_error() names the entry and the key id):
 *   EV_ENOKEY    the entry is encrypted and keys is NULL, or keys does not
 *                hold the key it names ("... which is not in 'FILE'")
 *   EV_EDECRYPT  the AEAD does not open: the key is wrong or the entry was
 *                changed ("entry N does not decrypt with data key KID (wrong
 *                key or damaged entry)")
 *   EV_EFORMAT   not an entry of §5 or §5.1
 * The stored bytes are what is hashed and verified; this never changes them.
 */
int ev_entry_decrypt(const struct ev_datakeys *keys, const char *entry, size_t len, char **ret_text,
                     size_t *ret_len);

/* ev_entry_decrypt() with the handle's keys (ev_open_options.data_keys, or the last set). */
int ev_log_decrypt(struct ev_log *log, const struct ev_entry *entry, char **ret_text,
                   size_t *ret_len);

/*
 * Replaces the data keys of an open handle (ev_open_options.data_keys), e.g.
 * after a rotation appended a key to the file (ev_datakey_new()), without
 * closing it. With encrypt, a writer encrypts every batch it starts from now
 * on under keys' current (last) key; without, it appends plain entries and
 * only reads with keys. keys NULL (encrypt false): nothing is encrypted and
 * encrypted entries can no longer be read through this handle. Safe while
 * other threads append and read: each batch and each read uses one set.
 *
 * Borrowed, like the option: the caller keeps the previous set and this one
 * alive until ev_log_close(), since a batch or read under way may still use
 * the previous one.
 *
 * Errors: -EINVAL (encrypt without keys), EV_EREADONLY (encrypt on a reader).
 */
int ev_log_set_data_keys(struct ev_log *log, struct ev_datakeys *keys, bool encrypt);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
