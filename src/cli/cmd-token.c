/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident token: bearer tokens for evidentd's HTTP API. The daemon keeps
 * only their SHA-256 (server.writer_tokens / reader_tokens), so a leaked
 * configuration does not leak a token.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli.h"

static const char usage[] =
    "usage: evident token new [--role writer|reader]\n"
    "       evident token hash < TOKEN\n"
    "\n"
    "'new' makes a random bearer token for evidentd's HTTP API and prints it, then\n"
    "the line to add to the configuration (server.writer_tokens or reader_tokens):\n"
    "the daemon stores only the token's SHA-256. Give the token to the producer or\n"
    "reader (it is shown once); it goes in 'Authorization: Bearer TOKEN'.\n"
    "'hash' prints the configuration value of a token read from standard input.\n"
    "\n"
    "Options:\n"
    "  --role ROLE  writer (may append and read) or reader (may read); default writer\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error or failure.\n";

#define TOKEN_BYTES 32

/* "sha256:" + hex of the token's SHA-256. */
static bool hash_token(const char *token, size_t len, char out[72])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;

    if (EVP_Digest(token, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
        return false;
    }
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        (void)snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    }
    OPENSSL_cleanse(md, sizeof(md));
    return true;
}

static int token_new(const char *role)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[TOKEN_BYTES];
    char token[4 + 2 * TOKEN_BYTES], hash[72];
    size_t n = 0;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        cli_error("no random bytes from OpenSSL");
        return CLI_TROUBLE;
    }
    /* "evt_" and 32 random bytes in base64url (6 bits a character: 43 characters). */
    memcpy(token, "evt_", 4);
    n = 4;
    for (size_t bit = 0; bit < TOKEN_BYTES * 8; bit += 6) {
        unsigned v = 0;
        for (size_t k = 0; k < 6; k++) {
            size_t b = bit + k;
            v = (v << 1) | (b < TOKEN_BYTES * 8 ? (raw[b / 8] >> (7 - b % 8)) & 1u : 0u);
        }
        token[n++] = alphabet[v];
    }
    token[n] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    bool ok = hash_token(token, n, hash);
    if (ok) {
        (void)printf("%s\n", token);
        (void)fprintf(stderr,
                      "evident: the token above is shown once. Add its hash to the daemon's "
                      "configuration:\n  server:\n    %s_tokens:\n      - \"%s\"\n",
                      role, hash);
    }
    OPENSSL_cleanse(token, sizeof(token));
    if (!ok) {
        cli_error("cannot hash the token");
        return CLI_TROUBLE;
    }
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}

static int token_hash(void)
{
    char token[4096], hash[72];
    size_t len = fread(token, 1, sizeof(token) - 1, stdin);

    if (ferror(stdin) || len == sizeof(token) - 1) {
        cli_error("cannot read a token (at most %zu bytes) from standard input", sizeof(token) - 2);
        return CLI_TROUBLE;
    }
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r')) {
        len--;
    }
    if (len == 0) {
        cli_error("no token on standard input");
        return CLI_TROUBLE;
    }
    bool ok = hash_token(token, len, hash);
    OPENSSL_cleanse(token, sizeof(token));
    if (!ok) {
        cli_error("cannot hash the token");
        return CLI_TROUBLE;
    }
    (void)printf("%s\n", hash);
    return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"role", required_argument, NULL, 'r'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *role = "writer";
    int c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        if (c == 'r') {
            if (strcmp(optarg, "writer") != 0 && strcmp(optarg, "reader") != 0) {
                return cli_usage_error(cli, "--role is writer or reader, not '%s'", optarg);
            }
            role = optarg;
        } else if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (optind + 1 != argc) {
        return cli_usage_error(cli, "expected 'new' or 'hash'");
    }
    if (strcmp(argv[optind], "new") == 0) {
        return token_new(role);
    }
    if (strcmp(argv[optind], "hash") == 0) {
        return token_hash();
    }
    return cli_usage_error(cli, "unknown subcommand '%s': expected 'new' or 'hash'", argv[optind]);
}

const struct cli_command cli_cmd_token = {
    .name = "token",
    .summary = "make a bearer token for evidentd's HTTP API, or hash one",
    .usage = usage,
    .run = run,
};
