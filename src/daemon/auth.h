/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may do what. HTTP: bearer tokens, kept only as SHA-256 hashes (the
 * configuration holds "sha256:HEX"); a presented token is hashed and compared
 * in constant time against every configured hash. Unix socket: the peer's
 * SO_PEERCRED uid and gid against server.unix_allow_users/groups.
 */
#ifndef EVD_AUTH_H
#define EVD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <evident/config.h>

enum evd_role {
    EVD_ROLE_NONE = 0,
    EVD_ROLE_READER = 1,
    EVD_ROLE_WRITER = 2, /* writers may read too */
};

struct evd_auth;

/*
 * Parses the token hashes and resolves the user and group names (numbers are
 * taken as ids). Returns 0, EV_EFORMAT (a malformed hash or an unknown name:
 * ev_last_error() names the key and the entry, never a token), -ENOMEM, or
 * -errno when the user or group database cannot be read.
 * No tokens configured means no HTTP client is authorized: a write or a
 * protected read then always answers 401.
 */
int evd_auth_new(const struct ev_config *config, struct evd_auth **ret_auth);
void evd_auth_free(struct evd_auth *a);

/* "sha256:" + 6 hex digits + NUL */
#define EVD_TOKEN_ID_SIZE 14

/*
 * The role of an Authorization header value ("Bearer TOKEN", the scheme in
 * any case); NULL, another scheme or no match gives EVD_ROLE_NONE. A token of
 * both lists is a writer. ret_id (>= EVD_TOKEN_ID_SIZE bytes, may be NULL)
 * gets "sha256:" and the first 6 hex digits of the hash, which names the
 * token in entries and logs; "" when the role is EVD_ROLE_NONE.
 * a may be NULL (nobody is authorized). Thread-safe: a is read only.
 */
enum evd_role evd_auth_token(const struct evd_auth *a, const char *authorization, char *ret_id,
                             size_t id_size);

/*
 * Whether a Unix peer may write: any peer when no users or groups are
 * configured; else its uid is listed, or its gid, or one of the uid's
 * supplementary groups (getgrouplist) is. a NULL: no peer.
 */
bool evd_auth_peer(const struct evd_auth *a, uid_t uid, gid_t gid);

/* "sha256:" + 64 hex digits of a token, for `evident token`. out >= 72 bytes. */
void evd_auth_hash_token(const char *token, char out[72]);

#endif
