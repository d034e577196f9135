/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data key files (docs/FORMAT.md §5.1): loading, parsing as hostile input, and
 * adding a key (rotation). Key bytes never reach a message and are wiped
 * wherever they were held: the file's text, the decoded keys, the keyring.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "error.h"
#include "privacy/datakey.h"

#define LINE_MAX_BYTES 256u
/* "evident-data-key-v1 " + 16 hex + " " + alg + " " + base64 of 32 bytes (44) */
#define KEY_B64_LEN 44u

static const char *const alg_names[] = {NULL, "aes-256-gcm", "chacha20-poly1305"};

const char *ev_data_alg_name(int alg)
{
    if (alg < EV_DATA_AES_256_GCM || alg > EV_DATA_CHACHA20_POLY1305) {
        return NULL;
    }
    return alg_names[alg];
}

int ev_data_alg_parse(const char *name, int *ret_alg)
{
    for (int alg = EV_DATA_AES_256_GCM; alg <= EV_DATA_CHACHA20_POLY1305; alg++) {
        if (name != NULL && strcmp(name, alg_names[alg]) == 0) {
            *ret_alg = alg;
            return 0;
        }
    }
    return evi_error(EV_EFORMAT,
                     "unknown data key algorithm '%.40s' (expected aes-256-gcm or "
                     "chacha20-poly1305)",
                     name != NULL ? name : "");
}

void evi_datakey_id(const uint8_t key[EVI_DATAKEY_BYTES], char ret_id[EV_DATAKEY_ID_LEN + 1])
{
    uint8_t h[EVI_HASH];
    evi_sha256_parts(EVI_DATAKEY_ID_LABEL, sizeof(EVI_DATAKEY_ID_LABEL) - 1, key, EVI_DATAKEY_BYTES,
                     NULL, 0, h);
    evi_hex_encode(h, EV_DATAKEY_ID_LEN / 2, ret_id);
}

void ev_datakeys_free(struct ev_datakeys *keys)
{
    if (keys == NULL) {
        return;
    }
    if (keys->keys != NULL) {
        evi_wipe(keys->keys, keys->count * sizeof(*keys->keys));
        free(keys->keys);
    }
    evi_envelope_writer_free(keys);
    free(keys->path);
    evi_wipe(keys, sizeof(*keys));
    free(keys);
}

size_t ev_datakeys_count(const struct ev_datakeys *keys)
{
    return keys != NULL ? keys->count : 0;
}

int ev_datakeys_get(const struct ev_datakeys *keys, size_t i, struct ev_datakey_info *ret_info)
{
    if (keys == NULL || i >= keys->count) {
        return evi_error(EV_ERANGE, "no data key %zu", i);
    }
    memcpy(ret_info->id, keys->keys[i].id, sizeof(ret_info->id));
    ret_info->alg = keys->keys[i].alg;
    return 0;
}

const char *ev_datakeys_path(const struct ev_datakeys *keys)
{
    return keys != NULL && keys->path != NULL ? keys->path : "";
}

const struct evi_datakey *evi_datakeys_find(const struct ev_datakeys *keys, const char *id)
{
    for (size_t i = 0; keys != NULL && i < keys->count; i++) {
        if (strcmp(keys->keys[i].id, id) == 0) {
            return &keys->keys[i];
        }
    }
    return NULL;
}

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* One key line: "evident-data-key-v1 KID ALG BASE64" exactly (§5.1). */
static int parse_line(const char *name, size_t lineno, const char *line, size_t n,
                      struct evi_datakey *ret_key)
{
    static const char magic[] = EVI_DATAKEY_LINE_MAGIC " ";
    const size_t mn = sizeof(magic) - 1;
    struct evi_datakey k = {0};
    char id[EV_DATAKEY_ID_LEN + 1];
    const char *alg, *b64, *sp;
    int r = 0;

    if (n < mn || memcmp(line, magic, mn) != 0) {
        return evi_error(EV_EBADKEY,
                         "'%s' line %zu: not a data key line (expected '%s KID ALG KEY')", name,
                         lineno, EVI_DATAKEY_LINE_MAGIC);
    }
    line += mn;
    n -= mn;
    if (n < EV_DATAKEY_ID_LEN + 1 || line[EV_DATAKEY_ID_LEN] != ' ' ||
        !lower_hex(line, EV_DATAKEY_ID_LEN)) {
        return evi_error(EV_EBADKEY, "'%s' line %zu: the key id is not 16 lowercase hex digits",
                         name, lineno);
    }
    memcpy(id, line, EV_DATAKEY_ID_LEN);
    id[EV_DATAKEY_ID_LEN] = '\0';
    alg = line + EV_DATAKEY_ID_LEN + 1;
    sp = memchr(alg, ' ', n - (size_t)(alg - line));
    if (sp == NULL) {
        return evi_error(EV_EBADKEY, "'%s' line %zu: key %s: algorithm or key missing", name,
                         lineno, id);
    }
    k.alg = 0;
    for (int a = EV_DATA_AES_256_GCM; a <= EV_DATA_CHACHA20_POLY1305; a++) {
        size_t an = strlen(alg_names[a]);
        if ((size_t)(sp - alg) == an && memcmp(alg, alg_names[a], an) == 0) {
            k.alg = a;
        }
    }
    if (k.alg == 0) {
        return evi_error(EV_EBADKEY,
                         "'%s' line %zu: key %s: unknown algorithm (expected aes-256-gcm or "
                         "chacha20-poly1305)",
                         name, lineno, id);
    }
    b64 = sp + 1;
    size_t bn = n - (size_t)(b64 - line);
    if (bn != KEY_B64_LEN ||
        evi_base64_decode(b64, bn, k.key, sizeof(k.key)) != EVI_DATAKEY_BYTES) {
        r = evi_error(EV_EBADKEY, "'%s' line %zu: key %s: not the base64 of a 32-byte key", name,
                      lineno, id);
        goto out;
    }
    evi_datakey_id(k.key, k.id);
    if (strcmp(k.id, id) != 0) {
        r = evi_error(EV_EBADKEY,
                      "'%s' line %zu: key id %s does not match its key (a damaged or edited line)",
                      name, lineno, id);
        goto out;
    }
    *ret_key = k;
out:
    evi_wipe(&k, sizeof(k));
    return r;
}

int evi_datakeys_parse(const char *name, const char *text, size_t len,
                       struct ev_datakeys **ret_keys)
{
    struct ev_datakeys *keys = NULL;
    size_t lineno = 0, pos = 0;
    int r;

    if (len > EVI_DATAKEY_FILE_MAX) {
        return evi_error(EV_ETOOBIG, "'%s' is longer than %u bytes: not a data key file", name,
                         EVI_DATAKEY_FILE_MAX);
    }
    keys = calloc(1, sizeof(*keys));
    if (keys == NULL) {
        return -ENOMEM;
    }
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        if (++lineno > EVI_DATAKEY_LINES_MAX) {
            r = evi_error(EV_ETOOBIG, "'%s': more than %u lines: not a data key file", name,
                          EVI_DATAKEY_LINES_MAX);
            goto fail;
        }
        if (n > LINE_MAX_BYTES) {
            r = evi_error(EV_EBADKEY, "'%s' line %zu: longer than %u bytes", name, lineno,
                          LINE_MAX_BYTES);
            goto fail;
        }
        if (memchr(line, '\0', n) != NULL || memchr(line, '\r', n) != NULL) {
            r = evi_error(EV_EBADKEY, "'%s' line %zu: contains a NUL or carriage return", name,
                          lineno);
            goto fail;
        }
        if (n == 0 || line[0] == '#') {
            continue; /* blank lines and comments are for people */
        }
        if (keys->count == EV_DATAKEY_MAX) {
            r = evi_error(EV_ETOOBIG, "'%s' line %zu: more than %d keys", name, lineno,
                          EV_DATAKEY_MAX);
            goto fail;
        }
        if (keys->count % 16 == 0) {
            /* Grow by hand so that the old array is wiped, not left to realloc. */
            struct evi_datakey *grown = calloc(keys->count + 16, sizeof(*grown));
            if (grown == NULL) {
                r = -ENOMEM;
                goto fail;
            }
            if (keys->keys != NULL) {
                memcpy(grown, keys->keys, keys->count * sizeof(*grown));
                evi_wipe(keys->keys, keys->count * sizeof(*grown));
                free(keys->keys);
            }
            keys->keys = grown;
        }
        r = parse_line(name, lineno, line, n, &keys->keys[keys->count]);
        if (r < 0) {
            goto fail;
        }
        const struct evi_datakey *same = evi_datakeys_find(keys, keys->keys[keys->count].id);
        if (same != NULL) {
            r = evi_error(EV_EBADKEY, "'%s' line %zu: key %s is already in the file", name, lineno,
                          same->id);
            goto fail;
        }
        keys->count++;
    }
    if (keys->count == 0) {
        r = evi_error(EV_EBADKEY, "'%s' holds no data key (make one with 'evident datakey new')",
                      name);
        goto fail;
    }
    keys->path = strdup(name);
    if (keys->path == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    *ret_keys = keys;
    return 0;
fail:
    ev_datakeys_free(keys);
    return r;
}

/*
 * Reads a key file: a regular file, not a symlink, of mode 0600 at most
 * (checked on the open file before a byte is read), at most the limit. The
 * caller wipes and frees *ret_text.
 */
static int read_key_file(const char *path, char **ret_text, size_t *ret_len)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0, cap = EVI_DATAKEY_FILE_MAX + 1;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        return evi_error(r, "cannot open data key file '%s': %s", path, ev_strerror(r));
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        r = evi_error(r, "cannot stat data key file '%s': %s", path, ev_strerror(r));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = evi_error(EV_EBADKEY, "data key file '%s' is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        r = evi_error(EV_EKEYPERM,
                      "data key file '%s' has mode %04o: group or others have access; it must "
                      "be 0600",
                      path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    text = malloc(cap + 1);
    if (text == NULL) {
        r = -ENOMEM;
        goto out;
    }
    while (len < cap) {
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = -errno;
            r = evi_error(r, "cannot read data key file '%s': %s", path, ev_strerror(r));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > EVI_DATAKEY_FILE_MAX) {
        r = evi_error(EV_ETOOBIG, "data key file '%s' is longer than %u bytes", path,
                      EVI_DATAKEY_FILE_MAX);
        goto out;
    }
    text[len] = '\0';
    *ret_text = text;
    *ret_len = len;
    text = NULL;
    r = 0;
out:
    if (text != NULL) {
        evi_wipe(text, cap + 1);
        free(text);
    }
    (void)close(fd);
    return r;
}

int ev_datakeys_load(const char *path, struct ev_datakeys **ret_keys)
{
    char *text = NULL;
    size_t len = 0;
    int r;

    evi_error_clear();
    if (path == NULL || ret_keys == NULL) {
        return evi_error(-EINVAL, "ev_datakeys_load: NULL argument");
    }
    r = read_key_file(path, &text, &len);
    if (r == 0) {
        r = evi_datakeys_parse(path, text, len, ret_keys);
        evi_wipe(text, len);
        free(text);
    }
    return r;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sync_parent_dir(const char *path)
{
    char copy[PATH_MAX];
    if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
        return -ENAMETOOLONG;
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int r = fsync(fd) < 0 ? -errno : 0;
    (void)close(fd);
    return r;
}

int ev_datakey_new(const char *path, int alg, struct ev_datakey_info *ret_info)
{
    struct ev_datakeys *keys = NULL;
    struct evi_datakey k = {0};
    char tmp[PATH_MAX];
    char *old = NULL, *text = NULL;
    size_t old_len = 0, len = 0, cap = 0;
    int fd = -1, r;
    bool made_tmp = false;

    evi_error_clear();
    if (path == NULL || ev_data_alg_name(alg) == NULL) {
        return evi_error(-EINVAL, "ev_datakey_new: no path or an unknown algorithm");
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return evi_error(-ENAMETOOLONG, "data key file name '%s' is too long", path);
    }
    r = read_key_file(path, &old, &old_len);
    if (r == -ENOENT) {
        old_len = 0;
    } else if (r < 0) {
        goto out;
    } else if ((r = evi_datakeys_parse(path, old, old_len, &keys)) < 0) {
        goto out; /* never add to a file that is not a key file */
    }
    do {
        r = evi_random(k.key, sizeof(k.key));
        if (r < 0) {
            r = evi_error(r, "no randomness for a data key");
            goto out;
        }
        evi_datakey_id(k.key, k.id);
    } while (evi_datakeys_find(keys, k.id) != NULL);
    k.alg = alg;

    cap = old_len + LINE_MAX_BYTES;
    text = malloc(cap);
    if (text == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (old_len > 0) {
        memcpy(text, old, old_len);
        len = old_len;
        if (text[len - 1] != '\n') {
            text[len++] = '\n';
        }
    }
    char b64[KEY_B64_LEN + 1];
    (void)evi_base64_encode(k.key, sizeof(k.key), b64, sizeof(b64));
    int n = snprintf(text + len, cap - len, "%s %s %s %s\n", EVI_DATAKEY_LINE_MAGIC, k.id,
                     ev_data_alg_name(alg), b64);
    evi_wipe(b64, sizeof(b64));
    if (n < 0 || (size_t)n >= cap - len) {
        r = -EOVERFLOW;
        goto out;
    }
    len += (size_t)n;
    if (len > EVI_DATAKEY_FILE_MAX) {
        r = evi_error(EV_ETOOBIG, "data key file '%s' would be over %u bytes", path,
                      EVI_DATAKEY_FILE_MAX);
        goto out;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = -errno;
        r = evi_error(r, "cannot create '%s': %s%s", tmp, ev_strerror(r),
                      r == -EEXIST ? " (another 'datakey new' running, or left by a crash: "
                                     "remove it)"
                                   : "");
        goto out;
    }
    made_tmp = true;
    if (fchmod(fd, 0600) < 0 || (r = write_all(fd, text, len)) < 0 || fsync(fd) < 0) {
        r = r < 0 ? r : -errno;
        r = evi_error(r, "cannot write '%s': %s", tmp, ev_strerror(r));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        r = evi_error(r, "cannot write '%s': %s", tmp, ev_strerror(r));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        r = evi_error(r, "cannot rename '%s' to '%s': %s", tmp, path, ev_strerror(r));
        goto out;
    }
    made_tmp = false;
    r = sync_parent_dir(path);
    if (r < 0) {
        r = evi_error(r, "cannot sync the directory of '%s': %s", path, ev_strerror(r));
        goto out;
    }
    if (ret_info != NULL) {
        memcpy(ret_info->id, k.id, sizeof(ret_info->id));
        ret_info->alg = alg;
    }
    r = 0;
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    if (made_tmp) {
        (void)unlink(tmp);
    }
    if (old != NULL) {
        evi_wipe(old, old_len);
        free(old);
    }
    if (text != NULL) {
        evi_wipe(text, cap);
        free(text);
    }
    evi_wipe(&k, sizeof(k));
    ev_datakeys_free(keys);
    return r;
}
