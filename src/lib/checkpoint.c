/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint bodies (c2sp.org/tlog-checkpoint), c2sp.org/tlog-proof@v1 files and proof-line
 * files: docs/FORMAT.md section 8 "Checkpoints and keys".
 *
 * All parsers read hostile bytes: every length is checked against a named limit before use
 * and every failure says which line is wrong and how.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/merkle.h>
#include <evident/note.h>

#include "crypto.h"
#include "error.h"
#include "utf8.h"

#define TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1"
#define TLOG_PROOF_HEADER_LEN (sizeof(TLOG_PROOF_HEADER) - 1)
#define EXTRA_PREFIX "extra "
#define EXTRA_PREFIX_LEN (sizeof(EXTRA_PREFIX) - 1)
#define INDEX_PREFIX "index "
#define INDEX_PREFIX_LEN (sizeof(INDEX_PREFIX) - 1)
/* base64 of a 32-byte hash: 44 characters, one '=' of padding. */
#define HASH_BASE64_LEN 44
/* The digits of UINT64_MAX. */
#define DECIMAL_MAX_DIGITS 20

enum decimal_result {
    DECIMAL_OK = 0,
    DECIMAL_SYNTAX = -1,
    DECIMAL_RANGE = -2,
};

/*
 * Parses s[0..len) as an ASCII decimal with no sign and no leading zeros ("0" itself is
 * fine), as both c2sp.org/tlog-checkpoint (tree size) and tlog-proof (index) require.
 */
static enum decimal_result parse_decimal(const char *s, size_t len, uint64_t max,
                                         uint64_t *ret_value)
{
    uint64_t value = 0;

    if (len == 0 || (s[0] == '0' && len > 1)) {
        return DECIMAL_SYNTAX;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned digit;

        if (s[i] < '0' || s[i] > '9') {
            return DECIMAL_SYNTAX;
        }
        digit = (unsigned)(s[i] - '0');
        if (i >= DECIMAL_MAX_DIGITS || value > (max - digit) / 10) {
            return DECIMAL_RANGE;
        }
        value = value * 10 + digit;
    }
    *ret_value = value;
    return DECIMAL_OK;
}

/*
 * Takes the next line of text[0..len) from *pos: writes its start and length (without its
 * newline) and moves *pos past the newline. Returns false if no newline-terminated line is
 * left.
 */
static bool next_line(const char *text, size_t len, size_t *pos, const char **ret_line,
                      size_t *ret_line_len)
{
    const char *newline;

    if (*pos >= len) {
        return false;
    }
    newline = memchr(text + *pos, '\n', len - *pos);
    if (!newline) {
        return false;
    }
    *ret_line = text + *pos;
    *ret_line_len = (size_t)(newline - (text + *pos));
    *pos += *ret_line_len + 1;
    return true;
}

/*
 * The offset of the first byte that keeps text[0..len) from being note text (UTF-8 without
 * ASCII control characters other than \n), or len. Checked here too because the origin is
 * handed out as a C string: an embedded NUL would cut it short and fool the origin check.
 */
static size_t text_bad_offset(const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t pos = 0;

    while (pos < len) {
        size_t n = evi_utf8_decode(s + pos, len - pos, NULL);

        if (n == 0 || (s[pos] < 0x20 && s[pos] != '\n')) {
            break;
        }
        pos += n;
    }
    return pos;
}

static int decode_hash(const char *text, size_t len, uint8_t ret_hash[EV_HASH_BYTES])
{
    /* One byte of room over a hash tells "too long" from "just right". */
    uint8_t decoded[EV_HASH_BYTES + 1];

    if (evi_base64_decode(text, len, decoded, sizeof(decoded)) != EV_HASH_BYTES) {
        return -1;
    }
    memcpy(ret_hash, decoded, EV_HASH_BYTES);
    return 0;
}

int ev_checkpoint_format(const char *origin, uint64_t tree_size, const uint8_t root[EV_HASH_BYTES],
                         char **ret_text, size_t *ret_len)
{
    char root_base64[HASH_BASE64_LEN + 1];
    /* origin, size and root lines */
    size_t cap = EV_KEY_NAME_MAX + 1 + DECIMAL_MAX_DIGITS + 1 + HASH_BASE64_LEN + 1 + 1;
    size_t origin_len;
    char *text = NULL;
    int n;
    int r;

    if (!origin || !root || !ret_text || !ret_len) {
        r = evi_error(-EINVAL, "ev_checkpoint_format: NULL argument");
        goto out;
    }
    origin_len = strnlen(origin, EV_KEY_NAME_MAX + 1);
    if (origin_len == 0 || origin_len > EV_KEY_NAME_MAX) {
        r = evi_error(EV_EFORMAT, "checkpoint origin must be 1 to %d bytes", EV_KEY_NAME_MAX);
        goto out;
    }
    /* A newline or control character would change the meaning of the signed text. */
    if (text_bad_offset(origin, origin_len) < origin_len || memchr(origin, '\n', origin_len)) {
        r = evi_error(EV_EFORMAT, "checkpoint origin is not UTF-8 without control characters");
        goto out;
    }
    if (tree_size > INT64_MAX) {
        r = evi_error(EV_EFORMAT, "checkpoint tree size %" PRIu64 " does not fit in int64",
                      tree_size);
        goto out;
    }
    (void)evi_base64_encode(root, EV_HASH_BYTES, root_base64, sizeof(root_base64));
    text = malloc(cap);
    if (!text) {
        r = evi_error(-ENOMEM, "cannot allocate a checkpoint");
        goto out;
    }
    n = snprintf(text, cap, "%s\n%" PRIu64 "\n%s\n", origin, tree_size, root_base64);
    if (n < 0 || (size_t)n >= cap) {
        r = evi_error(-EINVAL, "cannot format a checkpoint");
        goto out;
    }
    *ret_text = text;
    *ret_len = (size_t)n;
    text = NULL;
    r = 0;
out:
    free(text);
    return r;
}

int ev_checkpoint_parse(const char *text, size_t text_len, struct ev_checkpoint *ret_checkpoint)
{
    struct ev_checkpoint checkpoint;
    const char *line;
    size_t line_len;
    size_t pos = 0;
    size_t line_no = 0;
    size_t bad;
    int r;

    memset(&checkpoint, 0, sizeof(checkpoint));
    if ((!text && text_len > 0) || !ret_checkpoint) {
        r = evi_error(-EINVAL, "ev_checkpoint_parse: NULL argument");
        goto out;
    }
    if (text_len > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_EFORMAT, "checkpoint is %zu bytes, over the %u-byte limit", text_len,
                      EV_NOTE_MAX_BYTES);
        goto out;
    }
    bad = text_bad_offset(text, text_len);
    if (bad < text_len) {
        r = evi_error(EV_EFORMAT, "checkpoint byte %zu: not UTF-8 or a control character", bad);
        goto out;
    }
    if (text_len == 0 || text[text_len - 1] != '\n') {
        r = evi_error(EV_EFORMAT, "checkpoint does not end in a newline");
        goto out;
    }
    while (next_line(text, text_len, &pos, &line, &line_len)) {
        line_no++;
        if (line_no == 1) {
            if (line_len == 0) {
                r = evi_error(EV_EFORMAT, "checkpoint line 1: origin is empty");
                goto out;
            }
            /* Longer origins are legal C2SP, but can never be the name of a key of ours. */
            if (line_len > EV_KEY_NAME_MAX) {
                r = evi_error(EV_EFORMAT, "checkpoint line 1: origin is longer than %d bytes",
                              EV_KEY_NAME_MAX);
                goto out;
            }
            memcpy(checkpoint.origin, line, line_len);
            checkpoint.origin[line_len] = '\0';
        } else if (line_no == 2) {
            enum decimal_result d = parse_decimal(line, line_len, INT64_MAX, &checkpoint.tree_size);

            if (d == DECIMAL_RANGE) {
                r = evi_error(EV_EFORMAT,
                              "checkpoint line 2: tree size does not fit in a signed 64-bit "
                              "integer");
                goto out;
            }
            if (d != DECIMAL_OK) {
                r = evi_error(EV_EFORMAT,
                              "checkpoint line 2: tree size is not a decimal number without "
                              "sign or leading zeros");
                goto out;
            }
        } else if (line_no == 3) {
            if (decode_hash(line, line_len, checkpoint.root) < 0) {
                r = evi_error(EV_EFORMAT,
                              "checkpoint line 3: root hash is not padded base64 of %d bytes",
                              EV_HASH_BYTES);
                goto out;
            }
        } else {
            if (line_len == 0) {
                r = evi_error(EV_EFORMAT, "checkpoint line %zu: empty extension line", line_no);
                goto out;
            }
            checkpoint.extension_count++;
        }
    }
    if (line_no < 3) {
        r = evi_error(EV_EFORMAT, "checkpoint has %zu lines, fewer than origin, size and root",
                      line_no);
        goto out;
    }
    *ret_checkpoint = checkpoint;
    r = 0;
out:
    return r;
}

int ev_checkpoint_open(const char *note, size_t note_len, const struct ev_verifier *verifier,
                       struct ev_checkpoint *ret_checkpoint)
{
    struct ev_checkpoint checkpoint;
    size_t text_len;
    const char *name;
    int r;

    if (!note || !verifier || !ret_checkpoint) {
        r = evi_error(-EINVAL, "ev_checkpoint_open: NULL argument");
        goto out;
    }
    /* Signature first: the text of a note means nothing until a trusted key vouched for it. */
    r = ev_note_verify(note, note_len, &verifier, 1, &text_len);
    if (r < 0) {
        goto out;
    }
    r = ev_checkpoint_parse(note, text_len, &checkpoint);
    if (r < 0) {
        goto out;
    }
    name = ev_verifier_name(verifier);
    if (strcmp(checkpoint.origin, name) != 0) {
        r = evi_error(EV_EORIGIN, "checkpoint origin '%s' is not the log '%s'", checkpoint.origin,
                      name);
        goto out;
    }
    *ret_checkpoint = checkpoint;
    r = 0;
out:
    return r;
}

void ev_tlog_proof_free(struct ev_tlog_proof *proof)
{
    if (!proof) {
        return;
    }
    free(proof->hashes);
    free(proof->extra);
    free(proof->checkpoint);
    free(proof);
}

int ev_tlog_proof_format(uint64_t index, const uint8_t (*hashes)[EV_HASH_BYTES], size_t hash_count,
                         const uint8_t *extra, size_t extra_len, const char *checkpoint,
                         size_t checkpoint_len, char **ret_text, size_t *ret_len)
{
    char index_line[INDEX_PREFIX_LEN + DECIMAL_MAX_DIGITS + 2];
    size_t extra_base64_len = 0;
    size_t index_line_len;
    size_t total;
    size_t pos;
    char *text = NULL;
    int n;
    int r;

    if ((!hashes && hash_count > 0) || (!extra && extra_len > 0) || !checkpoint || !ret_text ||
        !ret_len) {
        r = evi_error(-EINVAL, "ev_tlog_proof_format: NULL argument");
        goto out;
    }
    if (hash_count > EV_MAX_PROOF) {
        r = evi_error(EV_EFORMAT, "tlog-proof: %zu proof hashes, more than %d", hash_count,
                      EV_MAX_PROOF);
        goto out;
    }
    if (checkpoint_len == 0) {
        r = evi_error(EV_EFORMAT, "tlog-proof: empty checkpoint");
        goto out;
    }
    /* Both bounded first, so that the sum below cannot overflow. */
    if (extra_len > EV_NOTE_MAX_BYTES || checkpoint_len > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_ETOOBIG, "tlog-proof would be over the %u-byte limit", EV_NOTE_MAX_BYTES);
        goto out;
    }
    n = snprintf(index_line, sizeof(index_line), INDEX_PREFIX "%" PRIu64 "\n", index);
    if (n < 0 || (size_t)n >= sizeof(index_line)) {
        r = evi_error(-EINVAL, "tlog-proof: cannot format the index");
        goto out;
    }
    index_line_len = (size_t)n;
    if (extra) {
        extra_base64_len = evi_base64_encoded_len(extra_len);
    }
    total = TLOG_PROOF_HEADER_LEN + 1 + (extra ? EXTRA_PREFIX_LEN + extra_base64_len + 1 : 0) +
            index_line_len + hash_count * (HASH_BASE64_LEN + 1) + 1 + checkpoint_len;
    if (total > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_ETOOBIG, "tlog-proof would be %zu bytes, over the %u-byte limit", total,
                      EV_NOTE_MAX_BYTES);
        goto out;
    }
    text = malloc(total + 1);
    if (!text) {
        r = evi_error(-ENOMEM, "cannot allocate a tlog-proof");
        goto out;
    }
    memcpy(text, TLOG_PROOF_HEADER "\n", TLOG_PROOF_HEADER_LEN + 1);
    pos = TLOG_PROOF_HEADER_LEN + 1;
    if (extra) {
        memcpy(text + pos, EXTRA_PREFIX, EXTRA_PREFIX_LEN);
        pos += EXTRA_PREFIX_LEN;
        pos += evi_base64_encode(extra, extra_len, text + pos, total + 1 - pos);
        text[pos++] = '\n';
    }
    memcpy(text + pos, index_line, index_line_len);
    pos += index_line_len;
    for (size_t i = 0; i < hash_count; i++) {
        pos += evi_base64_encode(hashes[i], EV_HASH_BYTES, text + pos, total + 1 - pos);
        text[pos++] = '\n';
    }
    text[pos++] = '\n';
    memcpy(text + pos, checkpoint, checkpoint_len);
    pos += checkpoint_len;
    text[pos] = '\0';
    *ret_text = text;
    *ret_len = pos;
    text = NULL;
    r = 0;
out:
    free(text);
    return r;
}

int ev_tlog_proof_parse(const char *text, size_t text_len, struct ev_tlog_proof **ret_proof)
{
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    struct ev_tlog_proof *proof = NULL;
    const char *line;
    size_t line_len;
    size_t pos = 0;
    size_t line_no = 1;
    size_t hash_count = 0;
    size_t checkpoint_len;
    uint64_t index;
    enum decimal_result d;
    int r;

    if ((!text && text_len > 0) || !ret_proof) {
        r = evi_error(-EINVAL, "ev_tlog_proof_parse: NULL argument");
        goto out;
    }
    if (text_len > EV_NOTE_MAX_BYTES) {
        r = evi_error(EV_EFORMAT, "tlog-proof is %zu bytes, over the %u-byte limit", text_len,
                      EV_NOTE_MAX_BYTES);
        goto out;
    }
    proof = calloc(1, sizeof(*proof));
    if (!proof) {
        r = evi_error(-ENOMEM, "cannot allocate a tlog-proof");
        goto out;
    }
    /* c2sp.org/tlog-proof "Format": the header line, exactly. */
    if (!next_line(text, text_len, &pos, &line, &line_len) || line_len != TLOG_PROOF_HEADER_LEN ||
        memcmp(line, TLOG_PROOF_HEADER, line_len) != 0) {
        r = evi_error(EV_EFORMAT, "tlog-proof line 1: not '" TLOG_PROOF_HEADER "'");
        goto out;
    }
    line_no++;
    if (!next_line(text, text_len, &pos, &line, &line_len)) {
        r = evi_error(EV_EFORMAT, "tlog-proof line %zu: missing 'index' line", line_no);
        goto out;
    }
    /* The optional "extra" line: opaque, unauthenticated data. */
    if (line_len >= EXTRA_PREFIX_LEN && memcmp(line, EXTRA_PREFIX, EXTRA_PREFIX_LEN) == 0) {
        size_t extra_base64_len = line_len - EXTRA_PREFIX_LEN;
        /* At least one byte, so that an empty "extra " line still reads back as present. */
        size_t cap = extra_base64_len / 4 * 3 + 1;
        long extra_len;

        proof->extra = malloc(cap);
        if (!proof->extra) {
            r = evi_error(-ENOMEM, "cannot allocate tlog-proof extra data");
            goto out;
        }
        extra_len = extra_base64_len == 0 ? 0
                                          : evi_base64_decode(line + EXTRA_PREFIX_LEN,
                                                              extra_base64_len, proof->extra, cap);
        if (extra_len < 0) {
            r = evi_error(EV_EFORMAT, "tlog-proof line %zu: extra data is not valid base64",
                          line_no);
            goto out;
        }
        proof->extra_len = (size_t)extra_len;
        line_no++;
        if (!next_line(text, text_len, &pos, &line, &line_len)) {
            r = evi_error(EV_EFORMAT, "tlog-proof line %zu: missing 'index' line", line_no);
            goto out;
        }
    }
    if (line_len < INDEX_PREFIX_LEN || memcmp(line, INDEX_PREFIX, INDEX_PREFIX_LEN) != 0) {
        r = evi_error(EV_EFORMAT, "tlog-proof line %zu: not an 'index' line", line_no);
        goto out;
    }
    d = parse_decimal(line + INDEX_PREFIX_LEN, line_len - INDEX_PREFIX_LEN, UINT64_MAX, &index);
    if (d != DECIMAL_OK) {
        r = evi_error(EV_EFORMAT,
                      "tlog-proof line %zu: index is not a decimal number without sign or "
                      "leading zeros that fits in 64 bits",
                      line_no);
        goto out;
    }
    /* Proof hashes, one a line, up to the empty line that precedes the checkpoint. */
    for (;;) {
        line_no++;
        if (!next_line(text, text_len, &pos, &line, &line_len)) {
            r = evi_error(EV_EFORMAT,
                          "tlog-proof line %zu: no empty line between the proof and the "
                          "checkpoint",
                          line_no);
            goto out;
        }
        if (line_len == 0) {
            break;
        }
        if (hash_count == EV_MAX_PROOF) {
            r = evi_error(EV_EFORMAT, "tlog-proof line %zu: more than %d proof hashes", line_no,
                          EV_MAX_PROOF);
            goto out;
        }
        if (decode_hash(line, line_len, hashes[hash_count]) < 0) {
            r = evi_error(EV_EFORMAT,
                          "tlog-proof line %zu: proof hash is not padded base64 of %d bytes",
                          line_no, EV_HASH_BYTES);
            goto out;
        }
        hash_count++;
    }
    checkpoint_len = text_len - pos;
    if (checkpoint_len == 0) {
        r = evi_error(EV_EFORMAT, "tlog-proof: no checkpoint after the empty line %zu", line_no);
        goto out;
    }
    if (hash_count > 0) {
        proof->hashes = malloc(hash_count * sizeof(hashes[0]));
        if (!proof->hashes) {
            r = evi_error(-ENOMEM, "cannot allocate tlog-proof hashes");
            goto out;
        }
        memcpy(proof->hashes, hashes, hash_count * sizeof(hashes[0]));
    }
    /* NUL-terminated for callers that print it; checkpoint_len is what counts. */
    proof->checkpoint = malloc(checkpoint_len + 1);
    if (!proof->checkpoint) {
        r = evi_error(-ENOMEM, "cannot allocate the tlog-proof checkpoint");
        goto out;
    }
    memcpy(proof->checkpoint, text + pos, checkpoint_len);
    proof->checkpoint[checkpoint_len] = '\0';
    proof->checkpoint_len = checkpoint_len;
    proof->hash_count = hash_count;
    proof->index = index;
    *ret_proof = proof;
    proof = NULL;
    r = 0;
out:
    ev_tlog_proof_free(proof);
    return r;
}

int ev_tlog_proof_verify(const char *text, size_t text_len, const void *entry, size_t entry_len,
                         const struct ev_verifier *verifier, struct ev_checkpoint *ret_checkpoint)
{
    struct ev_tlog_proof *proof = NULL;
    struct ev_checkpoint checkpoint;
    uint8_t leaf_hash[EV_HASH_BYTES];
    int r;

    if ((!entry && entry_len > 0) || !verifier) {
        r = evi_error(-EINVAL, "ev_tlog_proof_verify: NULL argument");
        goto out;
    }
    r = ev_tlog_proof_parse(text, text_len, &proof);
    if (r < 0) {
        goto out;
    }
    r = ev_checkpoint_open(proof->checkpoint, proof->checkpoint_len, verifier, &checkpoint);
    if (r < 0) {
        goto out;
    }
    ev_leaf_hash(entry, entry_len, leaf_hash);
    r = ev_merkle_verify_inclusion(proof->index, checkpoint.tree_size, leaf_hash,
                                   (const uint8_t(*)[EV_HASH_BYTES])proof->hashes,
                                   proof->hash_count, checkpoint.root);
    if (r == EV_EFORMAT) {
        r = evi_error(r,
                      "tlog-proof: index %" PRIu64 " with %zu proof hashes is not a proof "
                      "shape for a tree of size %" PRIu64,
                      proof->index, proof->hash_count, checkpoint.tree_size);
        goto out;
    }
    if (r < 0) {
        r = evi_error(r,
                      "tlog-proof: entry %" PRIu64 " is not included in the checkpoint of "
                      "size %" PRIu64 " of '%s'",
                      proof->index, checkpoint.tree_size, checkpoint.origin);
        goto out;
    }
    if (ret_checkpoint) {
        *ret_checkpoint = checkpoint;
    }
    r = 0;
out:
    ev_tlog_proof_free(proof);
    return r;
}

int ev_proof_lines_format(const uint8_t (*hashes)[EV_HASH_BYTES], size_t hash_count,
                          char **ret_text, size_t *ret_len)
{
    char *text = NULL;
    size_t cap;
    size_t pos = 0;
    int r;

    if ((!hashes && hash_count > 0) || !ret_text || !ret_len) {
        r = evi_error(-EINVAL, "ev_proof_lines_format: NULL argument");
        goto out;
    }
    if (hash_count > EV_MAX_PROOF) {
        r = evi_error(EV_EFORMAT, "proof: %zu hashes, more than %d", hash_count, EV_MAX_PROOF);
        goto out;
    }
    cap = hash_count * (HASH_BASE64_LEN + 1) + 1;
    text = malloc(cap);
    if (!text) {
        r = evi_error(-ENOMEM, "cannot allocate a proof");
        goto out;
    }
    for (size_t i = 0; i < hash_count; i++) {
        pos += evi_base64_encode(hashes[i], EV_HASH_BYTES, text + pos, cap - pos);
        text[pos++] = '\n';
    }
    text[pos] = '\0';
    *ret_text = text;
    *ret_len = pos;
    text = NULL;
    r = 0;
out:
    free(text);
    return r;
}

int ev_proof_lines_parse(const char *text, size_t text_len,
                         uint8_t ret_hashes[EV_MAX_PROOF][EV_HASH_BYTES], size_t *ret_count)
{
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t count = 0;
    size_t pos = 0;
    int r;

    if ((!text && text_len > 0) || !ret_hashes || !ret_count) {
        r = evi_error(-EINVAL, "ev_proof_lines_parse: NULL argument");
        goto out;
    }
    while (pos < text_len) {
        const char *line = text + pos;
        const char *newline = memchr(line, '\n', text_len - pos);
        /* The last line may lack its newline: hand-edited files often do. */
        size_t line_len = newline ? (size_t)(newline - line) : text_len - pos;

        if (count == EV_MAX_PROOF) {
            r = evi_error(EV_EFORMAT, "proof line %zu: more than %d hashes", count + 1,
                          EV_MAX_PROOF);
            goto out;
        }
        if (decode_hash(line, line_len, hashes[count]) < 0) {
            r = evi_error(EV_EFORMAT, "proof line %zu: not padded base64 of %d bytes", count + 1,
                          EV_HASH_BYTES);
            goto out;
        }
        count++;
        pos += line_len + (newline ? 1 : 0);
    }
    memcpy(ret_hashes, hashes, count * sizeof(hashes[0]));
    *ret_count = count;
    r = 0;
out:
    return r;
}
