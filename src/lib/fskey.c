/* SPDX-License-Identifier: Apache-2.0 */
/* Forward-secure record keys and key state: docs/FORMAT.md §7. */
#include <string.h>

#include "crypto.h"
#include "error.h"
#include "fskey.h"

static const char label_epoch[] = "evident epoch v1";
static const char label_record[] = "evident record v1";
static const char label_next[] = "evident next v1";
static const char keystate_magic[8] = "EVKSv1\n";

/* HMAC into the key's own buffer: the old value is gone once this returns. */
static void step(uint8_t key[32], const char *label, size_t label_len)
{
    uint8_t out[32];

    evi_hmac_sha256(key, label, label_len, out);
    memcpy(key, out, 32);
    evi_wipe(out, sizeof(out));
}

void evi_fskey_init(struct evi_fskey *k, const uint8_t verification_key[32])
{
    static const uint8_t empty_root[32] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
        0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
        0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
    };

    memset(k, 0, sizeof(*k));
    memcpy(k->root, empty_root, 32); /* SHA-256 of the empty string */
    evi_hmac_sha256(verification_key, label_record, sizeof(label_record) - 1, k->record_key);
    evi_hmac_sha256(verification_key, label_epoch, sizeof(label_epoch) - 1, k->next_epoch_key);
}

void evi_fskey_tag(const struct evi_fskey *k, uint64_t index, const uint8_t chain[32],
                   uint8_t ret_tag[32])
{
    uint8_t msg[40];

    for (int i = 0; i < 8; i++) {
        msg[i] = (uint8_t)(index >> (56 - 8 * i));
    }
    memcpy(msg + 8, chain, 32);
    evi_hmac_sha256(k->record_key, msg, sizeof(msg), ret_tag);
}

void evi_fskey_tag_next(struct evi_fskey *k, uint64_t index, const uint8_t chain[32],
                        uint8_t ret_tag[32])
{
    uint8_t msg[40];

    for (int i = 0; i < 8; i++) {
        msg[i] = (uint8_t)(index >> (56 - 8 * i));
    }
    memcpy(msg + 8, chain, 32);
    /* One key preparation for both uses of R(e, j); then R(e, j) is gone. */
    evi_hmac_pair(k->record_key, msg, sizeof(msg), label_next, sizeof(label_next) - 1, ret_tag,
                  k->record_key);
    k->j++;
}

void evi_fskey_next_record(struct evi_fskey *k)
{
    step(k->record_key, label_next, sizeof(label_next) - 1);
    k->j++;
}

void evi_fskey_next_epoch(struct evi_fskey *k)
{
    evi_hmac_sha256(k->next_epoch_key, label_record, sizeof(label_record) - 1, k->record_key);
    step(k->next_epoch_key, label_epoch, sizeof(label_epoch) - 1);
    k->epoch++;
    k->j = 0;
}

void evi_fskey_wipe(struct evi_fskey *k)
{
    evi_wipe(k, sizeof(*k));
}

void evi_epoch_key(const uint8_t verification_key[32], uint32_t epoch, uint8_t ret[32])
{
    memcpy(ret, verification_key, 32);
    for (uint32_t e = 0; e < epoch; e++) {
        step(ret, label_epoch, sizeof(label_epoch) - 1);
    }
}

static void put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

void evi_keystate_encode(const struct evi_fskey *k, uint8_t out[EVI_KEYSTATE_BYTES])
{
    memset(out, 0, EVI_KEYSTATE_BYTES);
    memcpy(out, keystate_magic, 8);
    put(out + 8, k->next, 8);
    put(out + 16, k->epoch, 4);
    put(out + 24, k->j, 8);
    memcpy(out + 32, k->record_key, 32);
    memcpy(out + 64, k->next_epoch_key, 32);
    put(out + 96, (uint64_t)k->last_ts_ns, 8);
    memcpy(out + 104, k->chain, 32);
    memcpy(out + 136, k->root, 32);
    put(out + 188, evi_crc32c(0, out, 188), 4);
}

int evi_keystate_decode(const uint8_t in[EVI_KEYSTATE_BYTES], struct evi_fskey *ret)
{
    if (memcmp(in, keystate_magic, 8) != 0) {
        return evi_error(EV_EFORMAT, "keystate: bad magic");
    }
    if (get(in + 188, 4) != evi_crc32c(0, in, 188)) {
        return evi_error(EV_EFORMAT, "keystate: checksum mismatch");
    }
    ret->next = get(in + 8, 8);
    ret->epoch = (uint32_t)get(in + 16, 4);
    ret->j = get(in + 24, 8);
    memcpy(ret->record_key, in + 32, 32);
    memcpy(ret->next_epoch_key, in + 64, 32);
    ret->last_ts_ns = (int64_t)get(in + 96, 8);
    memcpy(ret->chain, in + 104, 32);
    memcpy(ret->root, in + 136, 32);
    return 0;
}
