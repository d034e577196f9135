/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bearer tokens and Unix peers (auth.h). Tokens are never kept: only the
 * SHA-256 hashes from the configuration are, and a presented token is hashed
 * at once, its bytes never copied, logged or put in a message.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <evident/error.h>

#include "auth.h"
#include "error.h" /* src/lib: evi_error() sets ev_last_error() for the caller */

#define HASH_BYTES 32
#define TOKEN_PREFIX "sha256:"
#define TOKEN_PREFIX_LEN 7
/* Longer Authorization values are refused unhashed: no real token is this long. */
#define TOKEN_MAX_BYTES 4096
/* Supplementary groups looked up for one peer. */
#define PEER_GROUPS_MAX 256

struct evd_auth {
    uint8_t writer[EV_CONFIG_MAX_TOKENS][HASH_BYTES];
    size_t writer_count;
    uint8_t reader[EV_CONFIG_MAX_TOKENS][HASH_BYTES];
    size_t reader_count;
    uid_t users[EV_CONFIG_MAX_PEERS];
    size_t user_count;
    gid_t groups[EV_CONFIG_MAX_PEERS];
    size_t group_count;
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int parse_hash(const char *key, size_t n, const char *text, uint8_t out[HASH_BYTES])
{
    if (text == NULL || strncmp(text, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0 ||
        strlen(text) != TOKEN_PREFIX_LEN + 2 * HASH_BYTES) {
        return evi_error(EV_EFORMAT,
                         "%s[%zu]: expected \"sha256:\" and 64 hex digits (see 'evident token')",
                         key, n);
    }
    for (size_t i = 0; i < HASH_BYTES; i++) {
        int hi = hex_value(text[TOKEN_PREFIX_LEN + 2 * i]);
        int lo = hex_value(text[TOKEN_PREFIX_LEN + 2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return evi_error(EV_EFORMAT, "%s[%zu]: expected \"sha256:\" and 64 hex digits", key, n);
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* A uid or gid written as a number: decimal digits only, within 32 bits. */
static bool parse_id(const char *text, uint32_t *ret_id)
{
    uint64_t v = 0;

    if (text[0] == '\0') {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX - 1) { /* (uid_t)-1 means "no change" to the kernel */
            return false;
        }
    }
    *ret_id = (uint32_t)v;
    return true;
}

static long nss_buffer_size(int name)
{
    long size = sysconf(name);
    return size > 0 ? size : 16384;
}

/* One NSS lookup of a user's uid or a group's gid into a buffer of size bytes. */
static int lookup(bool group, const char *name, char *buf, size_t size, uint32_t *ret_id,
                  bool *ret_found)
{
    int r;

    if (group) {
        struct group gr, *found = NULL;
        r = getgrnam_r(name, &gr, buf, size, &found);
        *ret_found = r == 0 && found != NULL;
        *ret_id = *ret_found ? (uint32_t)gr.gr_gid : 0;
    } else {
        struct passwd pw, *found = NULL;
        r = getpwnam_r(name, &pw, buf, size, &found);
        *ret_found = r == 0 && found != NULL;
        *ret_id = *ret_found ? (uint32_t)pw.pw_uid : 0;
    }
    return r;
}

/* A user (group) name or number to its uid (gid), growing the NSS buffer as needed. */
static int resolve_id(bool group, const char *name, uint32_t *ret_id)
{
    const char *option = group ? "server.unix_allow_groups" : "server.unix_allow_users";
    const char *what = group ? "group" : "user";
    long size = nss_buffer_size(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
    bool found = false;
    int r;

    if (parse_id(name, ret_id)) {
        return 0;
    }
    for (;;) {
        char *buf = malloc((size_t)size);
        if (buf == NULL) {
            return -ENOMEM;
        }
        r = lookup(group, name, buf, (size_t)size, ret_id, &found);
        free(buf);
        if (r != ERANGE || size >= (1L << 20)) {
            break;
        }
        size *= 2;
    }
    if (r != 0 && r != ENOENT && r != ESRCH) {
        return evi_error(-r, "%s: cannot look up %s '%s'", option, what, name);
    }
    if (!found) {
        return evi_error(EV_EFORMAT, "%s: no such %s '%s'", option, what, name);
    }
    return 0;
}

int evd_auth_new(const struct ev_config *config, struct evd_auth **ret_auth)
{
    struct evd_auth *a;
    int r = 0;

    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < config->server.writer_token_count && r == 0; i++) {
        r = parse_hash("server.writer_tokens", i, config->server.writer_tokens[i],
                       a->writer[a->writer_count++]);
    }
    for (size_t i = 0; i < config->server.reader_token_count && r == 0; i++) {
        r = parse_hash("server.reader_tokens", i, config->server.reader_tokens[i],
                       a->reader[a->reader_count++]);
    }
    for (size_t i = 0; i < config->server.unix_allow_user_count && r == 0; i++) {
        uint32_t id = 0;
        r = resolve_id(false, config->server.unix_allow_users[i], &id);
        a->users[a->user_count++] = (uid_t)id;
    }
    for (size_t i = 0; i < config->server.unix_allow_group_count && r == 0; i++) {
        uint32_t id = 0;
        r = resolve_id(true, config->server.unix_allow_groups[i], &id);
        a->groups[a->group_count++] = (gid_t)id;
    }
    if (r < 0) {
        evd_auth_free(a);
        return r;
    }
    *ret_auth = a;
    return 0;
}

void evd_auth_free(struct evd_auth *a)
{
    if (a == NULL) {
        return;
    }
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

static bool sha256(const void *data, size_t len, uint8_t out[HASH_BYTES])
{
    unsigned int out_len = 0;
    return EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) == 1 && out_len == HASH_BYTES;
}

static void hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    out[2 * len] = '\0';
}

/* Finds the token in "Bearer TOKEN" (RFC 6750 §2.1; the scheme is case-insensitive). */
static bool bearer_token(const char *authorization, const char **ret_token, size_t *ret_len)
{
    const char *p = authorization, *end;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
        return false;
    }
    p += 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = p;
    while (*end != '\0' && *end != ' ' && *end != '\t') {
        end++;
    }
    /* Only trailing blanks may follow the token. */
    for (const char *q = end; *q != '\0'; q++) {
        if (*q != ' ' && *q != '\t') {
            return false;
        }
    }
    if (end == p || (size_t)(end - p) > TOKEN_MAX_BYTES) {
        return false;
    }
    *ret_token = p;
    *ret_len = (size_t)(end - p);
    return true;
}

enum evd_role evd_auth_token(const struct evd_auth *a, const char *authorization, char *ret_id,
                             size_t id_size)
{
    uint8_t hash[HASH_BYTES];
    const char *token;
    size_t len;
    bool writer = false, reader = false;

    if (ret_id != NULL && id_size > 0) {
        ret_id[0] = '\0';
    }
    if (a == NULL || authorization == NULL || !bearer_token(authorization, &token, &len) ||
        !sha256(token, len, hash)) {
        return EVD_ROLE_NONE;
    }
    /* Every configured hash is compared, in constant time, whatever matched before. */
    for (size_t i = 0; i < a->writer_count; i++) {
        writer |= CRYPTO_memcmp(hash, a->writer[i], HASH_BYTES) == 0;
    }
    for (size_t i = 0; i < a->reader_count; i++) {
        reader |= CRYPTO_memcmp(hash, a->reader[i], HASH_BYTES) == 0;
    }
    if ((writer || reader) && ret_id != NULL && id_size >= EVD_TOKEN_ID_SIZE) {
        char digits[7];
        hex(hash, 3, digits);
        memcpy(ret_id, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
        memcpy(ret_id + TOKEN_PREFIX_LEN, digits, 7);
    }
    OPENSSL_cleanse(hash, sizeof(hash));
    return writer ? EVD_ROLE_WRITER : reader ? EVD_ROLE_READER : EVD_ROLE_NONE;
}

static bool uid_in_groups(const struct evd_auth *a, uid_t uid, gid_t gid)
{
    struct passwd pw, *found = NULL;
    gid_t groups[PEER_GROUPS_MAX];
    int count = PEER_GROUPS_MAX;
    long size = nss_buffer_size(_SC_GETPW_R_SIZE_MAX);
    char *buf;
    bool allowed = false;

    buf = malloc((size_t)size);
    if (buf == NULL) {
        return false;
    }
    if (getpwuid_r(uid, &pw, buf, (size_t)size, &found) == 0 && found != NULL &&
        getgrouplist(pw.pw_name, gid, groups, &count) >= 0) {
        for (int i = 0; i < count && !allowed; i++) {
            for (size_t j = 0; j < a->group_count; j++) {
                allowed |= groups[i] == a->groups[j];
            }
        }
    }
    free(buf);
    return allowed;
}

bool evd_auth_peer(const struct evd_auth *a, uid_t uid, gid_t gid)
{
    if (a == NULL) {
        return false;
    }
    if (a->user_count == 0 && a->group_count == 0) {
        return true;
    }
    for (size_t i = 0; i < a->user_count; i++) {
        if (a->users[i] == uid) {
            return true;
        }
    }
    for (size_t i = 0; i < a->group_count; i++) {
        if (a->groups[i] == gid) {
            return true;
        }
    }
    /* SO_PEERCRED gives the primary group only: members through /etc/group count too. */
    return a->group_count > 0 && uid_in_groups(a, uid, gid);
}

void evd_auth_hash_token(const char *token, char out[72])
{
    uint8_t hash[HASH_BYTES];

    if (!sha256(token, strlen(token), hash)) {
        out[0] = '\0';
        return;
    }
    memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    hex(hash, HASH_BYTES, out + TOKEN_PREFIX_LEN);
    OPENSSL_cleanse(hash, sizeof(hash));
}
