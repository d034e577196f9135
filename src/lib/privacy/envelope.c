/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The encrypted entry envelope (docs/FORMAT.md §5.1): written by the writer
 * at sequencing, when seq and ts are known (they are part of the AAD), and
 * opened where entries become text for people. The only file that talks to
 * OpenSSL's AEADs (EVP); hashing, randomness and base64 are crypto.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "log-internal.h"
#include "privacy/datakey.h"

static const char enc_head[] = "\"enc\":{\"alg\":\"";
static const char key_head[] = "\",\"key\":\"";
static const char nonce_head[] = ",\"nonce\":\"";
static const char ct_head[] = "\",\"ct\":\"";
static const char enc_tail[] = "\"}}";
static const char source_head[] = "\"source\":";
#define LIT(s) (sizeof(s) - 1)

static const EVP_CIPHER *cipher_of(int alg)
{
    return alg == EV_DATA_CHACHA20_POLY1305 ? EVP_chacha20_poly1305() : EVP_aes_256_gcm();
}

size_t evi_envelope_body_len(int alg, size_t head_len, size_t plain_len)
{
    return head_len + LIT(enc_head) + strlen(ev_data_alg_name(alg)) + LIT(key_head) +
           EV_DATAKEY_ID_LEN + 1 + LIT(nonce_head) + EVI_AEAD_NONCE_B64 + LIT(ct_head) +
           evi_base64_encoded_len(plain_len + EVI_AEAD_TAG) + LIT(enc_tail);
}

/* Whether lit (n bytes) is at p; p may lie past end (then it is not). */
static bool at(const char *p, const char *end, const char *lit, size_t n)
{
    return p <= end && (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

int evi_envelope_parse(const uint8_t *entry, size_t len, struct evi_envelope *ret_env)
{
    static const char sev_head[] = "\",\"severity\":\"";
    const char *p, *end = (const char *)entry + len;
    struct evi_entry_view view;
    struct evi_envelope env = {0};
    int r = evi_entry_view(entry, len, &view);

    if (r < 0) {
        return r;
    }
    p = view.type + view.type_len;
    if (!at(p, end, sev_head, LIT(sev_head))) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": severity missing after type", view.seq);
    }
    p += LIT(sev_head);
    bool sev_ok = false;
    for (int s = 0; s <= EV_SEV_DEBUG && !sev_ok; s++) {
        const char *name = ev_severity_name(s);
        size_t n = strlen(name);
        if (at(p, end, name, n) && at(p + n, end, "\",", 2)) {
            p += n + 2;
            sev_ok = true;
        }
    }
    if (!sev_ok) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": severity malformed", view.seq);
    }
    env.seq = view.seq;
    env.head_len = (size_t)(p - (const char *)entry);
    if (at(p, end, source_head, LIT(source_head))) {
        return 0; /* a plain entry (§5) */
    }
    if (!at(p, end, enc_head, LIT(enc_head))) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": neither source nor enc after severity",
                         view.seq);
    }
    p += LIT(enc_head);
    for (int a = EV_DATA_AES_256_GCM; a <= EV_DATA_CHACHA20_POLY1305; a++) {
        const char *name = ev_data_alg_name(a);
        if (at(p, end, name, strlen(name)) && at(p + strlen(name), end, key_head, LIT(key_head))) {
            env.alg = a;
            p += strlen(name) + LIT(key_head);
        }
    }
    if (env.alg == 0) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": unknown encryption algorithm", view.seq);
    }
    if (end - p < EV_DATAKEY_ID_LEN + 1 || p[EV_DATAKEY_ID_LEN] != '"') {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": data key id malformed", view.seq);
    }
    for (int i = 0; i < EV_DATAKEY_ID_LEN; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return evi_error(EV_EFORMAT, "entry %" PRIu64 ": data key id malformed", view.seq);
        }
        env.key_id[i] = p[i];
    }
    p += EV_DATAKEY_ID_LEN + 1;
    env.aad_len = (size_t)(p - (const char *)entry);
    /* Checked in order, so that no pointer is formed past the end (fuzz-datakey found one). */
    if (!at(p, end, nonce_head, LIT(nonce_head)) ||
        (size_t)(end - p) < LIT(nonce_head) + EVI_AEAD_NONCE_B64 ||
        !at(p + LIT(nonce_head) + EVI_AEAD_NONCE_B64, end, ct_head, LIT(ct_head))) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": nonce malformed", view.seq);
    }
    env.nonce_b64 = p + LIT(nonce_head);
    p = env.nonce_b64 + EVI_AEAD_NONCE_B64 + LIT(ct_head);
    env.ct_b64 = p;
    if ((size_t)(end - p) < LIT(enc_tail) || memcmp(end - LIT(enc_tail), enc_tail, LIT(enc_tail))) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": does not end with \"}}", view.seq);
    }
    env.ct_b64_len = (size_t)(end - LIT(enc_tail) - p);
    /* The ciphertext holds at least the tag and `{}`; base64 characters only (no quote). */
    if (env.ct_b64_len % 4 != 0 || env.ct_b64_len < 4 * ((EVI_AEAD_TAG + 2 + 2) / 3) ||
        memchr(p, '"', env.ct_b64_len) != NULL) {
        return evi_error(EV_EFORMAT, "entry %" PRIu64 ": ciphertext malformed", view.seq);
    }
    if (ret_env != NULL) {
        *ret_env = env;
    }
    return 1;
}

bool evi_envelope_is_encrypted(const uint8_t *entry, size_t len)
{
    return evi_envelope_parse(entry, len, NULL) == 1;
}

void evi_envelope_writer_free(struct ev_datakeys *keys)
{
    EVP_CIPHER_CTX_free(keys->seal_ctx); /* wipes the key schedule */
    keys->seal_ctx = NULL;
    free(keys->scratch);
    keys->scratch = NULL;
}

static int writer_state(struct ev_datakeys *keys, const struct evi_datakey *k)
{
    if (keys->seal_ctx != NULL) {
        return 0;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    keys->scratch = malloc(EV_ENTRY_MAX_BYTES + EVI_AEAD_TAG);
    if (ctx == NULL || keys->scratch == NULL ||
        EVP_EncryptInit_ex(ctx, cipher_of(k->alg), NULL, k->key, NULL) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        free(keys->scratch);
        keys->scratch = NULL;
        return evi_error(-ENOMEM, "cannot set up the data key's cipher");
    }
    keys->seal_ctx = ctx;
    return 0;
}

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

long evi_envelope_write(struct ev_datakeys *keys, char *out, size_t prefix_len, const char *body,
                        size_t plain_off, size_t body_len, size_t cap)
{
    const struct evi_datakey *k = &keys->keys[keys->count - 1];
    const char *alg = ev_data_alg_name(k->alg);
    size_t plain_len = 1 + body_len - plain_off;
    size_t total = prefix_len + evi_envelope_body_len(k->alg, plain_off, plain_len);
    uint8_t nonce[EVI_AEAD_NONCE];
    int n, r;

    if (total > cap || total > EV_ENTRY_MAX_BYTES) {
        return EV_ETOOBIG;
    }
    if ((r = writer_state(keys, k)) < 0) {
        return r;
    }
    /* Visible: `"type":"T","severity":"S",` then `"enc":{"alg":"A","key":"KID"` (§5.1). */
    char *p = put(out + prefix_len, body, plain_off);
    p = put(p, enc_head, LIT(enc_head));
    p = put(p, alg, strlen(alg));
    p = put(p, key_head, LIT(key_head));
    p = put(p, k->id, EV_DATAKEY_ID_LEN);
    *p++ = '"';
    size_t aad_len = (size_t)(p - out);

    /*
     * A fresh random nonce per entry, never one derived from seq (§5.1): 96
     * bits from the CSPRNG, drawn for 256 entries at once and each used once.
     */
    if (keys->nonces_used == 0 || keys->nonces_used == sizeof(keys->nonces)) {
        r = evi_random(keys->nonces, sizeof(keys->nonces));
        if (r < 0) {
            keys->nonces_used = 0;
            return evi_error(r, "no randomness for entry nonces");
        }
        keys->nonces_used = 0;
    }
    memcpy(nonce, keys->nonces + keys->nonces_used, sizeof(nonce));
    evi_wipe(keys->nonces + keys->nonces_used, sizeof(nonce));
    keys->nonces_used += sizeof(nonce);
    EVP_CIPHER_CTX *ctx = keys->seal_ctx;
    uint8_t *ct = keys->scratch;
    int len1 = 0, len2 = 0, len3 = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)EVI_AEAD_LABEL,
                          (int)LIT(EVI_AEAD_LABEL)) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)out, (int)aad_len) != 1 ||
        EVP_EncryptUpdate(ctx, ct, &len1, (const uint8_t *)"{", 1) != 1 ||
        EVP_EncryptUpdate(ctx, ct + len1, &len2, (const uint8_t *)body + plain_off,
                          (int)(body_len - plain_off)) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + len1 + len2, &len3) != 1 ||
        (size_t)(len1 + len2 + len3) != plain_len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, EVI_AEAD_TAG, ct + plain_len) != 1) {
        return evi_error(-EIO, "encrypting an entry failed in OpenSSL");
    }
    /*
     * The nonce and ciphertext are public: OpenSSL's table-driven base64
     * (RFC 4648 §4, padded; total was bounded by cap above, plus its NUL in
     * the tail's room) rather than crypto.c's constant-time one for secrets,
     * which cost more than the AEAD itself.
     */
    p = put(p, nonce_head, LIT(nonce_head));
    p += EVP_EncodeBlock((unsigned char *)p, nonce, (int)sizeof(nonce));
    p = put(p, ct_head, LIT(ct_head));
    p += EVP_EncodeBlock((unsigned char *)p, ct, (int)(plain_len + EVI_AEAD_TAG));
    p = put(p, enc_tail, LIT(enc_tail));
    if ((size_t)(p - out) != total) {
        return evi_error(-EIO, "encrypted entry length %zu, expected %zu", (size_t)(p - out),
                         total);
    }
    return (long)total;
}

int evi_envelope_open(const struct ev_datakeys *keys, const uint8_t *entry, size_t len,
                      char **ret_text, size_t *ret_len)
{
    struct evi_envelope env;
    const struct evi_datakey *k;
    uint8_t nonce[EVI_AEAD_NONCE];
    uint8_t *ct = NULL, *pt = NULL;
    char *text = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    long ct_len;
    int n, pt_len = 0, fin = 0, r;

    r = evi_envelope_parse(entry, len, &env);
    if (r != 1) {
        return r < 0 ? r : evi_error(EV_EFORMAT, "entry is not encrypted");
    }
    if (keys == NULL) {
        return evi_error(EV_ENOKEY,
                         "entry %" PRIu64 " is encrypted with data key %s; reading it needs "
                         "that key",
                         env.seq, env.key_id);
    }
    k = evi_datakeys_find(keys, env.key_id);
    if (k == NULL) {
        return evi_error(EV_ENOKEY,
                         "entry %" PRIu64 " is encrypted with data key %s, which is not in '%s'",
                         env.seq, env.key_id, ev_datakeys_path(keys));
    }
    if (k->alg != env.alg) {
        return evi_error(EV_EDECRYPT,
                         "entry %" PRIu64 " names %s but data key %s is a %s key (damaged entry)",
                         env.seq, ev_data_alg_name(env.alg), env.key_id, ev_data_alg_name(k->alg));
    }
    ct = malloc(env.ct_b64_len / 4 * 3);
    pt = malloc(env.ct_b64_len / 4 * 3);
    if (ct == NULL || pt == NULL) {
        r = -ENOMEM;
        goto out;
    }
    ct_len = evi_base64_decode(env.ct_b64, env.ct_b64_len, ct, env.ct_b64_len / 4 * 3);
    if (evi_base64_decode(env.nonce_b64, EVI_AEAD_NONCE_B64, nonce, sizeof(nonce)) !=
            EVI_AEAD_NONCE ||
        ct_len < EVI_AEAD_TAG + 2) {
        r = evi_error(EV_EFORMAT, "entry %" PRIu64 ": nonce or ciphertext is not base64", env.seq);
        goto out;
    }
    ct_len -= EVI_AEAD_TAG;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, cipher_of(k->alg), NULL, k->key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)EVI_AEAD_LABEL,
                          (int)LIT(EVI_AEAD_LABEL)) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, entry, (int)env.aad_len) != 1 ||
        EVP_DecryptUpdate(ctx, pt, &pt_len, ct, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, EVI_AEAD_TAG, ct + ct_len) != 1 ||
        EVP_DecryptFinal_ex(ctx, pt + pt_len, &fin) != 1) {
        r = evi_error(EV_EDECRYPT,
                      "entry %" PRIu64 " does not decrypt with data key %s (wrong key or "
                      "damaged entry)",
                      env.seq, env.key_id);
        goto out;
    }
    pt_len += fin;
    /* Authentic, so the writer made it; still, the shape is checked before it is used. */
    if ((size_t)pt_len < LIT(source_head) + 3 || pt[0] != '{' ||
        memcmp(pt + 1, source_head, LIT(source_head)) != 0 || pt[pt_len - 1] != '}') {
        r = evi_error(EV_EFORMAT,
                      "entry %" PRIu64 " decrypts to something other than {\"source\":..}",
                      env.seq);
        goto out;
    }
    text = malloc(env.head_len + (size_t)pt_len);
    if (text == NULL) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(text, entry, env.head_len);
    memcpy(text + env.head_len, pt + 1, (size_t)pt_len - 1);
    text[env.head_len + (size_t)pt_len - 1] = '\0';
    *ret_text = text;
    *ret_len = env.head_len + (size_t)pt_len - 1;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (pt != NULL) {
        evi_wipe(pt, env.ct_b64_len / 4 * 3);
        free(pt);
    }
    free(ct);
    return r;
}

int evi_envelope_source_contains(const struct ev_datakeys *keys, const uint8_t *entry, size_t len,
                                 const char *needle)
{
    char *text = NULL;
    size_t n = 0;
    int r = evi_envelope_open(keys, entry, len, &text, &n);

    if (r < 0) {
        return r;
    }
    /* As for a plain entry: the text between ,"source": and ,"data": (§5). */
    const char *s = strstr(text, ",\"source\":");
    const char *d = s != NULL ? strstr(s, ",\"data\":") : NULL;
    r = s != NULL && d != NULL && memmem(s, (size_t)(d - s), needle, strlen(needle)) != NULL;
    evi_wipe(text, n);
    free(text);
    return r;
}

int ev_entry_encryption(const char *entry, size_t len, struct ev_datakey_info *ret_info)
{
    struct evi_envelope env;
    int r = evi_envelope_parse((const uint8_t *)entry, len, &env);

    if (r == 1 && ret_info != NULL) {
        memcpy(ret_info->id, env.key_id, sizeof(ret_info->id));
        ret_info->alg = env.alg;
    }
    return r;
}

int ev_entry_decrypt(const struct ev_datakeys *keys, const char *entry, size_t len, char **ret_text,
                     size_t *ret_len)
{
    int r;

    evi_error_clear();
    r = evi_envelope_parse((const uint8_t *)entry, len, NULL);
    if (r == 1) {
        return evi_envelope_open(keys, (const uint8_t *)entry, len, ret_text, ret_len);
    }
    if (r < 0) {
        return r;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, entry, len);
    copy[len] = '\0';
    *ret_text = copy;
    *ret_len = len;
    return 0;
}

int ev_log_decrypt(struct ev_log *log, const struct ev_entry *entry, char **ret_text,
                   size_t *ret_len)
{
    return ev_entry_decrypt(evi_log_data_keys(log), entry->bytes, entry->len, ret_text, ret_len);
}

int ev_log_set_data_keys(struct ev_log *log, struct ev_datakeys *keys, bool encrypt)
{
    evi_error_clear();
    if (encrypt && keys == NULL) {
        return evi_error(-EINVAL, "encryption needs data keys");
    }
    if (encrypt && !log->writer) {
        return evi_error(EV_EREADONLY, "log opened read-only: it does not encrypt");
    }
    __atomic_store_n(&log->options.data_keys, keys, __ATOMIC_RELEASE);
    __atomic_store_n(&log->encrypt_keys, encrypt ? keys : NULL, __ATOMIC_RELEASE);
    return 0;
}
