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

/* Resolves names (getpwnam/getgrnam) and parses hashes. EV_EFORMAT names the bad one. */
int evd_auth_new(const struct ev_config *config, struct evd_auth **ret_auth);
void evd_auth_free(struct evd_auth *a);

/*
 * The role of an Authorization header value ("Bearer TOKEN"); NULL or no match
 * gives EVD_ROLE_NONE. ret_id (>= 13 bytes, may be NULL) gets "sha256:" and the
 * first 6 hex digits of the hash, which names the token in entries and logs.
 */
enum evd_role evd_auth_token(const struct evd_auth *a, const char *authorization, char *ret_id,
                             size_t id_size);

/* Whether a Unix peer may write (any when no users or groups are configured). */
bool evd_auth_peer(const struct evd_auth *a, uid_t uid, gid_t gid);

/* "sha256:" + 64 hex digits of a token, for `evident token`. out >= 72 bytes. */
void evd_auth_hash_token(const char *token, char out[72]);

#endif
