/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 note keys and C2SP signed notes: docs/FORMAT.md section 8 "Checkpoints and keys",
 * which adopts c2sp.org/signed-note as it is.
 *
 * Everything that parses here reads hostile bytes: lengths are checked against the named
 * limits before anything is copied, and every failure names the line or byte at fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <evident/error.h>
#include <evident/note.h>

#include "crypto.h"
#include "error.h"
#include "utf8.h"

#define ALG_ED25519 0x01
#define KEY_ID_BYTES 4
#define KEY_ID_HEX (2 * KEY_ID_BYTES)
/* The key data of both key strings: the algorithm byte, then the public key or the seed. */
#define KEY_DATA_BYTES (1 + EVI_ED25519_PUB)
#define KEY_DATA_BASE64 44
#define SKEY_PREFIX "PRIVATE+KEY+"
#define SKEY_PREFIX_LEN (sizeof(SKEY_PREFIX) - 1)
#define VKEY_MAX (EV_KEY_NAME_MAX + 1 + KEY_ID_HEX + 1 + KEY_DATA_BASE64)
#define SKEY_MAX (SKEY_PREFIX_LEN + VKEY_MAX)
/* A key file is the signer key and at most one newline. */
#define KEY_FILE_MAX (SKEY_MAX + 1)

/* A signature line opens with U+2014 EM DASH (UTF-8 e2 80 94) and a space. */
#define SIG_PREFIX "\xe2\x80\x94 "
#define SIG_PREFIX_LEN (sizeof(SIG_PREFIX) - 1)
#define NOTE_SIG_BYTES (KEY_ID_BYTES + EVI_ED25519_SIG)
/* The shortest signature c2sp.org/signed-note allows: a key ID and at least one byte. */
#define NOTE_SIG_MIN_BYTES (KEY_ID_BYTES + 1)

struct ev_signer {
    char name[EV_KEY_NAME_MAX + 1];
    size_t name_len;
    uint32_t key_id;
    uint8_t seed[EVI_ED25519_SEED];
    uint8_t public_key[EVI_ED25519_PUB];
};

struct ev_verifier {
    char name[EV_KEY_NAME_MAX + 1];
    size_t name_len;
    uint32_t key_id;
    uint8_t public_key[EVI_ED25519_PUB];
};

/*
 * The offset of the first byte of text that makes it not valid note text (UTF-8 without
 * ASCII control characters other than \n), or len if there is none.
 */
static size_t note_text_bad_offset(const uint8_t *text, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        uint32_t code_point;
        size_t n = evi_utf8_decode(text + pos, len - pos, &code_point);

        if (n == 0 || (code_point < 0x20 && code_point != '\n')) {
            break;
        }
        pos += n;
    }
    return pos;
}

/* What is wrong at text[offset], for a message; offset < len. */
static const char *note_text_problem(const uint8_t *text, size_t len, size_t offset)
{
    uint32_t code_point;

    if (evi_utf8_decode(text + offset, len - offset, &code_point) == 0) {
        return "not valid UTF-8";
    }
    return "control character";
}

/* Unicode White_Space, as Go's unicode.IsSpace, which the reference note package uses. */
static bool is_unicode_space(uint32_t c)
{
    static const uint32_t spaces[] = {
        '\t', '\n',   '\v',   '\f',   '\r',   ' ',    0x85,
        0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
    };

    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        if (c == spaces[i]) {
            return true;
        }
    }
    return c >= 0x2000 && c <= 0x200a;
}

/*
 * Why name[0..len) is not a valid key name (c2sp.org/signed-note: non-empty, no Unicode
 * space, no '+'; we also refuse control characters, which no note may contain), or NULL.
 * The length limit is the caller's: names of unknown keys in a note are not ours to bound.
 */
static const char *key_name_problem(const char *name, size_t len)
{
    const uint8_t *s = (const uint8_t *)name;
    size_t pos = 0;

    if (len == 0) {
        return "is empty";
    }
    while (pos < len) {
        uint32_t code_point;
        size_t n = evi_utf8_decode(s + pos, len - pos, &code_point);

        if (n == 0) {
            return "is not valid UTF-8";
        }
        if (is_unicode_space(code_point)) {
            return "contains a space";
        }
        if (code_point < 0x20) {
            return "contains a control character";
        }
        if (code_point == '+') {
            return "contains '+'";
        }
        pos += n;
    }
    return NULL;
}

static uint32_t load_be32(const uint8_t b[4])
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static void store_be32(uint32_t v, uint8_t b[4])
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* Key ID = SHA-256(name || 0x0A || 0x01 || public key)[0:4], big-endian. */
static uint32_t compute_key_id(const char *name, size_t name_len,
                               const uint8_t public_key[EVI_ED25519_PUB])
{
    uint8_t separator[2] = {'\n', ALG_ED25519};
    uint8_t hash[EVI_HASH];

    evi_sha256_parts(name, name_len, separator, sizeof(separator), public_key, EVI_ED25519_PUB,
                     hash);
    return load_be32(hash);
}

/*
 * Parses "NAME+KEYID+BASE64(0x01 || 32 bytes)", the part that verifier and signer keys share.
 * what names the key kind in messages. The 32 key bytes may be a seed: the local copy is
 * wiped, and no message quotes key material.
 */
static int parse_key_text(const char *what, const char *text, size_t len,
                          char ret_name[EV_KEY_NAME_MAX + 1], size_t *ret_name_len,
                          uint32_t *ret_key_id, uint8_t ret_key[EVI_ED25519_PUB])
{
    uint8_t key_data[KEY_DATA_BYTES + 1];
    uint8_t key_id[KEY_ID_BYTES];
    const char *plus;
    const char *problem;
    const char *id_text;
    const char *data_text;
    size_t name_len;
    size_t data_len;
    long decoded;
    int r;

    plus = memchr(text, '+', len);
    if (!plus) {
        r = evi_error(EV_EBADKEY, "%s key: no '+' after the key name", what);
        goto out;
    }
    name_len = (size_t)(plus - text);
    problem = key_name_problem(text, name_len);
    if (problem) {
        r = evi_error(EV_EBADKEY, "%s key: key name %s", what, problem);
        goto out;
    }
    if (name_len > EV_KEY_NAME_MAX) {
        r = evi_error(EV_EBADKEY, "%s key: key name is longer than %d bytes", what,
                      EV_KEY_NAME_MAX);
        goto out;
    }
    id_text = plus + 1;
    if (len - name_len - 1 < KEY_ID_HEX + 1 || id_text[KEY_ID_HEX] != '+' ||
        evi_hex_decode(id_text, KEY_ID_HEX, key_id, sizeof(key_id)) != 0) {
        r = evi_error(EV_EBADKEY, "%s key: key ID is not 8 hex digits followed by '+'", what);
        goto out;
    }
    data_text = id_text + KEY_ID_HEX + 1;
    data_len = len - name_len - 1 - KEY_ID_HEX - 1;
    /* One byte of room over the expected length tells "too long" from "just right". */
    decoded = evi_base64_decode(data_text, data_len, key_data, sizeof(key_data));
    if (decoded != KEY_DATA_BYTES) {
        r = evi_error(EV_EBADKEY, "%s key: key data is not base64 of %d bytes", what,
                      KEY_DATA_BYTES);
        goto out;
    }
    if (key_data[0] != ALG_ED25519) {
        r = evi_error(EV_EBADKEY, "%s key: algorithm %u is not Ed25519 (1)", what,
                      (unsigned)key_data[0]);
        goto out;
    }
    memcpy(ret_name, text, name_len);
    ret_name[name_len] = '\0';
    *ret_name_len = name_len;
    *ret_key_id = load_be32(key_id);
    memcpy(ret_key, key_data + 1, EVI_ED25519_PUB);
    r = 0;
out:
    evi_wipe(key_data, sizeof(key_data));
    return r;
}

/*
 * Writes "[PRIVATE+KEY+]NAME+KEYID+BASE64(0x01 || key)" to out (NUL-terminated) and returns
 * its length. out must hold SKEY_MAX + 1 bytes; key may be the seed, so the staging copy is
 * wiped.
 */
static size_t format_key_text(bool private_key, const char *name, uint32_t key_id,
                              const uint8_t key[EVI_ED25519_PUB], char out[SKEY_MAX + 1])
{
    uint8_t key_data[KEY_DATA_BYTES];
    char key_base64[KEY_DATA_BASE64 + 1];
    int n;

    key_data[0] = ALG_ED25519;
    memcpy(key_data + 1, key, EVI_ED25519_PUB);
    (void)evi_base64_encode(key_data, sizeof(key_data), key_base64, sizeof(key_base64));
    n = snprintf(out, SKEY_MAX + 1, "%s%s+%08x+%s", private_key ? SKEY_PREFIX : "", name,
                 (unsigned)key_id, key_base64);
    evi_wipe(key_data, sizeof(key_data));
    evi_wipe(key_base64, sizeof(key_base64));
    /* Names are at most EV_KEY_NAME_MAX bytes, so the text always fits: n <= SKEY_MAX. */
    return n < 0 ? 0 : (size_t)n;
}

static int check_new_key_name(const char *name, size_t *ret_len)
{
    size_t len;
    const char *problem;

    if (!name) {
        return evi_error(-EINVAL, "key name is NULL");
    }
    len = strnlen(name, EV_KEY_NAME_MAX + 1);
    if (len > EV_KEY_NAME_MAX) {
        return evi_error(EV_EBADKEY, "key name is longer than %d bytes", EV_KEY_NAME_MAX);
    }
    problem = key_name_problem(name, len);
    if (problem) {
        return evi_error(EV_EBADKEY, "key name '%s' %s", name, problem);
    }
    *ret_len = len;
    return 0;
}

int ev_signer_generate(const char *name, struct ev_signer **ret_signer)
{
    struct ev_signer *signer = NULL;
    size_t name_len = 0;
    int r;

    if (!ret_signer) {
        r = evi_error(-EINVAL, "ev_signer_generate: ret_signer is NULL");
        goto out;
    }
    r = check_new_key_name(name, &name_len);
    if (r < 0) {
        goto out;
    }
    signer = calloc(1, sizeof(*signer));
    if (!signer) {
        r = evi_error(-ENOMEM, "cannot allocate a signer");
        goto out;
    }
    memcpy(signer->name, name, name_len + 1);
    signer->name_len = name_len;
    r = evi_random(signer->seed, sizeof(signer->seed));
    if (r < 0) {
        r = evi_error(r, "cannot read random bytes for a new key");
        goto out;
    }
    r = evi_ed25519_public(signer->seed, signer->public_key);
    if (r < 0) {
        r = evi_error(r, "cannot derive the public key of a new key");
        goto out;
    }
    signer->key_id = compute_key_id(signer->name, name_len, signer->public_key);
    *ret_signer = signer;
    signer = NULL;
    r = 0;
out:
    ev_signer_free(signer);
    return r;
}

int ev_signer_parse(const char *skey, struct ev_signer **ret_signer)
{
    struct ev_signer *signer = NULL;
    size_t len;
    int r;

    if (!skey || !ret_signer) {
        r = evi_error(-EINVAL, "ev_signer_parse: NULL argument");
        goto out;
    }
    len = strnlen(skey, SKEY_MAX + 1);
    if (len > SKEY_MAX) {
        r = evi_error(EV_EBADKEY, "signer key: longer than %zu bytes", (size_t)SKEY_MAX);
        goto out;
    }
    if (len < SKEY_PREFIX_LEN || memcmp(skey, SKEY_PREFIX, SKEY_PREFIX_LEN) != 0) {
        r = evi_error(EV_EBADKEY, "signer key: does not start with '" SKEY_PREFIX "'");
        goto out;
    }
    signer = calloc(1, sizeof(*signer));
    if (!signer) {
        r = evi_error(-ENOMEM, "cannot allocate a signer");
        goto out;
    }
    r = parse_key_text("signer", skey + SKEY_PREFIX_LEN, len - SKEY_PREFIX_LEN, signer->name,
                       &signer->name_len, &signer->key_id, signer->seed);
    if (r < 0) {
        goto out;
    }
    r = evi_ed25519_public(signer->seed, signer->public_key);
    if (r < 0) {
        r = evi_error(r, "signer key: cannot derive the public key");
        goto out;
    }
    if (compute_key_id(signer->name, signer->name_len, signer->public_key) != signer->key_id) {
        r = evi_error(EV_EBADKEY, "signer key '%s': key ID does not match the key", signer->name);
        goto out;
    }
    *ret_signer = signer;
    signer = NULL;
    r = 0;
out:
    ev_signer_free(signer);
    return r;
}

int ev_signer_load(const char *path, struct ev_signer **ret_signer)
{
    /* Two bytes over the limit: one to notice an over-long file, one for the NUL. */
    char text[KEY_FILE_MAX + 2];
    char cause[256];
    struct ev_signer *signer = NULL;
    struct stat st;
    size_t len = 0;
    int fd = -1;
    int r;

    if (!path || !ret_signer) {
        r = evi_error(-EINVAL, "ev_signer_load: NULL argument");
        goto out;
    }
    /* O_NOFOLLOW: a symlink planted in place of the key must not redirect us. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        r = evi_error(r, "cannot open key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        r = evi_error(r, "cannot stat key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = evi_error(EV_EBADKEY, "key file '%s' is not a regular file", path);
        goto out;
    }
    /* Checked on the open file, before reading a byte of the secret. */
    if ((st.st_mode & 077) != 0) {
        r = evi_error(EV_EKEYPERM, "key file '%s' has mode %04o: group or others have access", path,
                      (unsigned)(st.st_mode & 07777));
        goto out;
    }
    while (len < sizeof(text) - 1) {
        ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = -errno;
            r = evi_error(r, "cannot read key file '%s': %s", path, ev_strerror(r));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > KEY_FILE_MAX) {
        r = evi_error(EV_EBADKEY, "key file '%s' is longer than %zu bytes", path,
                      (size_t)KEY_FILE_MAX);
        goto out;
    }
    if (len > 0 && text[len - 1] == '\n') {
        len--;
    }
    if (memchr(text, '\0', len)) {
        r = evi_error(EV_EBADKEY, "key file '%s' contains a NUL byte", path);
        goto out;
    }
    text[len] = '\0';
    r = ev_signer_parse(text, &signer);
    if (r < 0) {
        (void)snprintf(cause, sizeof(cause), "%s", ev_last_error());
        r = evi_error(r, "key file '%s': %s", path, cause);
        goto out;
    }
    *ret_signer = signer;
    signer = NULL;
    r = 0;
out:
    evi_wipe(text, sizeof(text));
    if (fd >= 0) {
        (void)close(fd);
    }
    ev_signer_free(signer);
    return r;
}

/* Writes all of buf, retrying on EINTR and short writes. 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes the directory entry of path durable: a new file is not saved until its name is. */
static int fsync_parent_directory(const char *path)
{
    char dir[PATH_MAX];
    size_t len = strnlen(path, sizeof(dir));
    char *slash;
    int fd;
    int r;

    if (len >= sizeof(dir)) {
        return -ENAMETOOLONG;
    }
    memcpy(dir, path, len + 1);
    slash = strrchr(dir, '/');
    if (!slash) {
        dir[0] = '.';
        dir[1] = '\0';
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    r = fsync(fd) < 0 ? -errno : 0;
    (void)close(fd);
    return r;
}

int ev_signer_save(const struct ev_signer *signer, const char *path)
{
    char text[SKEY_MAX + 2];
    size_t len = 0;
    bool created = false;
    int fd = -1;
    int r;

    if (!signer || !path) {
        r = evi_error(-EINVAL, "ev_signer_save: NULL argument");
        goto out;
    }
    len = format_key_text(true, signer->name, signer->key_id, signer->seed, text);
    text[len++] = '\n';
    /* O_EXCL: never overwrite a key, and never follow a link to somewhere else. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0) {
        r = -errno;
        r = evi_error(r, "cannot create key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    created = true;
    /* The umask may only have removed bits; make the mode exactly 0600 all the same. */
    if (fchmod(fd, 0600) < 0) {
        r = -errno;
        r = evi_error(r, "cannot set the mode of key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    r = write_all(fd, text, len);
    if (r < 0) {
        r = evi_error(r, "cannot write key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    if (fsync(fd) < 0) {
        r = -errno;
        r = evi_error(r, "cannot sync key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    r = close(fd) < 0 ? -errno : 0;
    fd = -1;
    if (r < 0) {
        r = evi_error(r, "cannot close key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    r = fsync_parent_directory(path);
    if (r < 0) {
        r = evi_error(r, "cannot sync the directory of key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    r = 0;
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    /* A half-written key is worse than none: a retry would then fail on O_EXCL. */
    if (r < 0 && created) {
        (void)unlink(path);
    }
    evi_wipe(text, sizeof(text));
    return r;
}

static int dup_key_text(const char *text, size_t len, char **ret_text)
{
    char *copy = malloc(len + 1);

    if (!copy) {
        return evi_error(-ENOMEM, "cannot allocate a key string");
    }
    memcpy(copy, text, len + 1);
    *ret_text = copy;
    return 0;
}

int ev_signer_vkey(const struct ev_signer *signer, char **ret_vkey)
{
    char text[SKEY_MAX + 1];
    size_t len;

    if (!signer || !ret_vkey) {
        return evi_error(-EINVAL, "ev_signer_vkey: NULL argument");
    }
    len = format_key_text(false, signer->name, signer->key_id, signer->public_key, text);
    return dup_key_text(text, len, ret_vkey);
}

void ev_signer_free(struct ev_signer *signer)
{
    if (!signer) {
        return;
    }
    evi_wipe(signer, sizeof(*signer));
    free(signer);
}

int ev_verifier_parse(const char *vkey, struct ev_verifier **ret_verifier)
{
    struct ev_verifier *verifier = NULL;
    size_t len;
    int r;

    if (!vkey || !ret_verifier) {
        r = evi_error(-EINVAL, "ev_verifier_parse: NULL argument");
        goto out;
    }
    len = strnlen(vkey, VKEY_MAX + 1);
    if (len > VKEY_MAX) {
        r = evi_error(EV_EBADKEY, "verifier key: longer than %zu bytes", (size_t)VKEY_MAX);
        goto out;
    }
    verifier = calloc(1, sizeof(*verifier));
    if (!verifier) {
        r = evi_error(-ENOMEM, "cannot allocate a verifier");
        goto out;
    }
    r = parse_key_text("verifier", vkey, len, verifier->name, &verifier->name_len,
                       &verifier->key_id, verifier->public_key);
    if (r < 0) {
        goto out;
    }
    if (compute_key_id(verifier->name, verifier->name_len, verifier->public_key) !=
        verifier->key_id) {
        r = evi_error(EV_EBADKEY, "verifier key '%s': key ID does not match the key",
                      verifier->name);
        goto out;
    }
    *ret_verifier = verifier;
    verifier = NULL;
    r = 0;
out:
    ev_verifier_free(verifier);
    return r;
}

const char *ev_verifier_name(const struct ev_verifier *verifier)
{
    return verifier ? verifier->name : NULL;
}

int ev_verifier_vkey(const struct ev_verifier *verifier, char **ret_vkey)
{
    char text[SKEY_MAX + 1];
    size_t len;

    if (!verifier || !ret_vkey) {
        return evi_error(-EINVAL, "ev_verifier_vkey: NULL argument");
    }
    len = format_key_text(false, verifier->name, verifier->key_id, verifier->public_key, text);
    return dup_key_text(text, len, ret_vkey);
}

void ev_verifier_free(struct ev_verifier *verifier)
{
    free(verifier);
}

int ev_note_sign(const char *text, size_t text_len, const struct ev_signer *signer, char **ret_note,
                 size_t *ret_len)
{
    uint8_t signature[NOTE_SIG_BYTES];
    char signature_base64[((NOTE_SIG_BYTES + 2) / 3) * 4 + 1];
    size_t signature_base64_len;
    size_t bad;
    size_t note_len;
    size_t pos;
    char *note = NULL;
    int r;

    if (!text || !signer || !ret_note || !ret_len) {
        r = evi_error(-EINVAL, "ev_note_sign: NULL argument");
        goto out;
    }
    if (text_len == 0 || text[text_len - 1] != '\n') {
        r = evi_error(EV_EFORMAT, "note text does not end in a newline");
        goto out;
    }
    if (text_len > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_ETOOBIG, "note text is %zu bytes, over the %u-byte limit", text_len,
                      EV_NOTE_MAX_BYTES);
        goto out;
    }
    bad = note_text_bad_offset((const uint8_t *)text, text_len);
    if (bad < text_len) {
        r = evi_error(EV_EFORMAT, "note text byte %zu: %s", bad,
                      note_text_problem((const uint8_t *)text, text_len, bad));
        goto out;
    }
    store_be32(signer->key_id, signature);
    r = evi_ed25519_sign(signer->seed, text, text_len, signature + KEY_ID_BYTES);
    if (r < 0) {
        r = evi_error(r, "cannot sign the note with key '%s'", signer->name);
        goto out;
    }
    signature_base64_len =
        evi_base64_encode(signature, sizeof(signature), signature_base64, sizeof(signature_base64));
    /* text, the empty line, "— NAME BASE64\n" */
    note_len = text_len + 1 + SIG_PREFIX_LEN + signer->name_len + 1 + signature_base64_len + 1;
    if (note_len > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_ETOOBIG, "signed note would be %zu bytes, over the %u-byte limit",
                      note_len, EV_NOTE_MAX_BYTES);
        goto out;
    }
    note = malloc(note_len + 1);
    if (!note) {
        r = evi_error(-ENOMEM, "cannot allocate a signed note");
        goto out;
    }
    memcpy(note, text, text_len);
    pos = text_len;
    note[pos++] = '\n';
    memcpy(note + pos, SIG_PREFIX, SIG_PREFIX_LEN);
    pos += SIG_PREFIX_LEN;
    memcpy(note + pos, signer->name, signer->name_len);
    pos += signer->name_len;
    note[pos++] = ' ';
    memcpy(note + pos, signature_base64, signature_base64_len);
    pos += signature_base64_len;
    note[pos++] = '\n';
    note[pos] = '\0';
    *ret_note = note;
    *ret_len = note_len;
    note = NULL;
    r = 0;
out:
    free(note);
    return r;
}

/*
 * Checks signature line line_no (line[0..len), without its newline) of a note whose text is
 * text[0..text_len). sig_buf (sig_cap >= len bytes) is scratch space for the decoded
 * signature. Returns 1 if the line is a trusted key's and verifies, 0 if it is an unknown
 * key's (ignored, c2sp.org/signed-note "Signatures"), EV_EBADSIG if it is malformed or a
 * trusted key's signature that does not verify.
 */
static int check_signature_line(size_t line_no, const uint8_t *line, size_t len,
                                const uint8_t *text, size_t text_len,
                                const struct ev_verifier *const *verifiers, size_t verifier_count,
                                uint8_t *sig_buf, size_t sig_cap)
{
    const char *name;
    const char *space;
    const char *signature_base64;
    const char *problem;
    size_t name_len;
    size_t signature_base64_len;
    long sig_len;
    uint32_t key_id;
    bool trusted = false;
    bool verified = false;

    if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
        return evi_error(EV_EBADSIG,
                         "signature line %zu: does not start with an em dash (U+2014) and a "
                         "space",
                         line_no);
    }
    name = (const char *)line + SIG_PREFIX_LEN;
    space = memchr(name, ' ', len - SIG_PREFIX_LEN);
    if (!space) {
        return evi_error(EV_EBADSIG, "signature line %zu: no space after the key name", line_no);
    }
    name_len = (size_t)(space - name);
    problem = key_name_problem(name, name_len);
    if (problem) {
        return evi_error(EV_EBADSIG, "signature line %zu: key name %s", line_no, problem);
    }
    signature_base64 = space + 1;
    signature_base64_len = len - SIG_PREFIX_LEN - name_len - 1;
    sig_len = evi_base64_decode(signature_base64, signature_base64_len, sig_buf, sig_cap);
    if (sig_len < 0) {
        return evi_error(EV_EBADSIG, "signature line %zu: signature is not valid base64", line_no);
    }
    if (sig_len < NOTE_SIG_MIN_BYTES) {
        return evi_error(EV_EBADSIG,
                         "signature line %zu: signature is %ld bytes, fewer than a key ID "
                         "and one byte",
                         line_no, sig_len);
    }
    key_id = load_be32(sig_buf);
    for (size_t i = 0; i < verifier_count && !verified; i++) {
        const struct ev_verifier *v = verifiers[i];

        if (v->key_id != key_id || v->name_len != name_len ||
            memcmp(v->name, name, name_len) != 0) {
            continue;
        }
        trusted = true;
        verified = sig_len == NOTE_SIG_BYTES &&
                   evi_ed25519_verify(v->public_key, text, text_len, sig_buf + KEY_ID_BYTES);
    }
    if (!trusted) {
        return 0;
    }
    if (!verified) {
        return evi_error(EV_EBADSIG,
                         "signature line %zu: signature by trusted key '%.*s' does not verify",
                         line_no, (int)name_len, name);
    }
    return 1;
}

int ev_note_verify(const char *note, size_t note_len, const struct ev_verifier *const *verifiers,
                   size_t verifier_count, size_t *ret_text_len)
{
    const uint8_t *msg = (const uint8_t *)note;
    uint8_t *sig_buf = NULL;
    size_t bad;
    size_t text_len = 0;
    size_t pos;
    size_t line_no = 0;
    size_t verified = 0;
    bool found = false;
    int r;

    if ((!note && note_len > 0) || (!verifiers && verifier_count > 0) || !ret_text_len) {
        r = evi_error(-EINVAL, "ev_note_verify: NULL argument");
        goto out;
    }
    for (size_t i = 0; i < verifier_count; i++) {
        if (!verifiers[i]) {
            r = evi_error(-EINVAL, "ev_note_verify: verifier %zu is NULL", i);
            goto out;
        }
    }
    if (note_len > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_EBADSIG, "signed note is %zu bytes, over the %u-byte limit", note_len,
                      EV_NOTE_MAX_BYTES);
        goto out;
    }
    bad = note_text_bad_offset(msg, note_len);
    if (bad < note_len) {
        r = evi_error(EV_EBADSIG, "signed note byte %zu: %s", bad,
                      note_text_problem(msg, note_len, bad));
        goto out;
    }
    /* The text ends at the last empty line (c2sp.org/signed-note "Format"). */
    for (pos = note_len; pos >= 2; pos--) {
        if (msg[pos - 1] == '\n' && msg[pos - 2] == '\n') {
            text_len = pos - 1;
            found = true;
            break;
        }
    }
    if (!found) {
        r = evi_error(EV_EBADSIG, "signed note has no empty line before its signatures");
        goto out;
    }
    pos = text_len + 1;
    if (pos == note_len) {
        r = evi_error(EV_EBADSIG, "signed note has no signature line after its empty line");
        goto out;
    }
    if (msg[note_len - 1] != '\n') {
        r = evi_error(EV_EBADSIG, "signed note: last signature line does not end in a newline");
        goto out;
    }
    /* Decoded base64 is shorter than its text, so any line's signature fits in this. */
    sig_buf = malloc(note_len - pos);
    if (!sig_buf) {
        r = evi_error(-ENOMEM, "cannot allocate %zu bytes to verify a note", note_len - pos);
        goto out;
    }
    while (pos < note_len) {
        const uint8_t *line = msg + pos;
        const uint8_t *newline = memchr(line, '\n', note_len - pos);
        size_t line_len = (size_t)(newline - line);

        if (++line_no > EV_NOTE_MAX_SIGNATURES) {
            r = evi_error(EV_EBADSIG, "signed note has more than %d signature lines",
                          EV_NOTE_MAX_SIGNATURES);
            goto out;
        }
        r = check_signature_line(line_no, line, line_len, msg, text_len, verifiers, verifier_count,
                                 sig_buf, note_len - (text_len + 1));
        if (r < 0) {
            goto out;
        }
        verified += (size_t)r;
        pos += line_len + 1;
    }
    if (verified == 0) {
        r = evi_error(EV_EBADSIG,
                      "signed note: none of its %zu signature lines is by a trusted "
                      "key",
                      line_no);
        goto out;
    }
    *ret_text_len = text_len;
    r = 0;
out:
    free(sig_buf);
    return r;
}
