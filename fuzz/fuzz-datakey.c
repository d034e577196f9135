/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for encryption at rest (docs/FORMAT.md §5.1). The first
 * byte of the input chooses:
 *
 *   0  the rest as a data key file (evi_datakeys_parse): whatever parses has
 *      1..EV_DATAKEY_MAX keys, each whose id is the id of its key;
 *   1  the rest as a stored entry: parsed as an envelope, and decrypted with a
 *      fixed keyring (whose key id the corpus entries name, so the AEAD runs);
 *      a plain entry reads as itself, a decrypted one is a §5 entry with the
 *      same seq and ts;
 *   2  the rest as the data of an event: the body is encrypted and assembled
 *      as the writer does, then opened again, and must give back exactly the
 *      plain entry; a changed byte of the envelope must never decrypt to it.
 *
 * A violation aborts, which libFuzzer reports as a crash.
 * Seed corpus: fuzz/corpus/datakey/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/datakey.h>
#include <evident/error.h>

#include "crypto.h"
#include "entry.h"
#include "privacy/datakey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One key of each algorithm, 32 bytes of 0x11 and of 0x22. */
static struct ev_datakeys *fixed_keys(void)
{
    static struct ev_datakeys *keys;
    if (keys == NULL) {
        char text[512], b64[64], id[EV_DATAKEY_ID_LEN + 1];
        uint8_t k[EVI_DATAKEY_BYTES];
        size_t len = 0;
        for (int i = 0; i < 2; i++) {
            memset(k, i == 0 ? 0x11 : 0x22, sizeof(k));
            evi_datakey_id(k, id);
            (void)evi_base64_encode(k, sizeof(k), b64, sizeof(b64));
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s %s %s\n",
                                    EVI_DATAKEY_LINE_MAGIC, id,
                                    i == 0 ? "chacha20-poly1305" : "aes-256-gcm", b64);
        }
        if (evi_datakeys_parse("fixed", text, len, &keys) != 0) {
            abort();
        }
    }
    return keys;
}

static void key_file(const uint8_t *data, size_t size)
{
    struct ev_datakeys *keys = NULL;
    if (evi_datakeys_parse("fuzz", (const char *)data, size, &keys) != 0) {
        if (keys != NULL) {
            abort();
        }
        return;
    }
    size_t n = ev_datakeys_count(keys);
    if (n < 1 || n > EV_DATAKEY_MAX) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        char id[EV_DATAKEY_ID_LEN + 1];
        evi_datakey_id(keys->keys[i].key, id);
        if (strcmp(id, keys->keys[i].id) != 0 || ev_data_alg_name(keys->keys[i].alg) == NULL) {
            abort();
        }
    }
    ev_datakeys_free(keys);
}

static void stored_entry(const uint8_t *data, size_t size)
{
    struct evi_envelope env;
    char *text = NULL;
    size_t len = 0;
    int r = evi_envelope_parse(data, size, &env);

    if (r == 1 && (env.aad_len >= size || env.head_len >= env.aad_len ||
                   env.ct_b64 + env.ct_b64_len > (const char *)data + size)) {
        abort();
    }
    if (ev_entry_decrypt(fixed_keys(), (const char *)data, size, &text, &len) == 0) {
        struct evi_entry_view in, out;
        /* A plain entry reads as itself, whatever bytes it holds. */
        if (r == 0 && (len != size || memcmp(text, data, size) != 0)) {
            abort();
        }
        /* An authentic plaintext has no NUL: the writer made it from canonical JSON. */
        if ((r == 1 && strlen(text) != len) || evi_entry_view(data, size, &in) != 0 ||
            evi_entry_view((const uint8_t *)text, len, &out) != 0 || in.seq != out.seq ||
            in.ts_ns != out.ts_ns || evi_envelope_parse((const uint8_t *)text, len, NULL) != 0) {
            abort();
        }
        free(text);
    }
}

static void round_trip(const uint8_t *data, size_t size)
{
    static char plain[EV_ENTRY_MAX_BYTES], sealed[EV_ENTRY_MAX_BYTES];
    char hex[2 * 4096 + 1], body_text[2 * 4096 + 128];
    struct evi_entry_body body = {0};
    uint64_t seq = size > 0 ? data[0] * 1000003ull : 0;

    if (size > 4096) {
        size = 4096;
    }
    evi_hex_encode(data, size, hex);
    int n = snprintf(
        body_text, sizeof(body_text),
        "\"type\":\"fuzz\",\"severity\":\"notice\",\"source\":{},\"data\":{\"b\":\"%s\"}}", hex);
    body.text = body_text;
    body.len = (size_t)n;
    long plain_len = evi_entry_assemble(seq, 1700000000123456789, &body, plain, sizeof(plain));
    if (plain_len < 0 || evi_entry_body_encrypt(&body, fixed_keys()) != 0) {
        abort();
    }
    long sealed_len = evi_entry_assemble(seq, 1700000000123456789, &body, sealed, sizeof(sealed));
    char *text = NULL;
    size_t len = 0;
    if (sealed_len != (long)(evi_entry_prefix_len(seq) + body.len) ||
        ev_entry_decrypt(fixed_keys(), sealed, (size_t)sealed_len, &text, &len) != 0 ||
        len != (size_t)plain_len || memcmp(text, plain, len) != 0) {
        abort();
    }
    free(text);
    /* Any one changed byte (chosen by the input) never opens to the same entry. */
    size_t at = size > 1 ? ((size_t)data[1] * 257 + data[size - 1]) % (size_t)sealed_len : 0;
    sealed[at] ^= 0x01;
    if (ev_entry_decrypt(fixed_keys(), sealed, (size_t)sealed_len, &text, &len) == 0) {
        bool same = len == (size_t)plain_len && memcmp(text, plain, len) == 0;
        free(text);
        if (same) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0: key_file(data + 1, size - 1); break;
    case 1: stored_entry(data + 1, size - 1); break;
    default: round_trip(data + 1, size - 1); break;
    }
    return 0;
}
