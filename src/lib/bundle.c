/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Export bundles (docs/FORMAT.md §11) and checkpoints from the history (§8).
 *
 * The verifier does not use a general JSON parser: it accepts exactly the one
 * serialization the exporter writes, byte for byte. That is what makes "any
 * changed byte fails" hold: a change either alters a value that is checked,
 * or leaves the canonical form and is rejected as damage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/bundle.h>
#include <evident/note.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "fskey.h"
#include "log-internal.h"
#include "store.h"
#include "tree.h"

/* Entries copied per ev_log_scan() pass: proofs are read outside the scan. */
#define EXPORT_CHUNK 256
/* Base64 text of the largest entry: 4 * ceil(65535 / 3). */
#define ENTRY_B64_MAX 87380

/* ---- checkpoint history --------------------------------------------------- */

int ev_log_checkpoint_at(struct ev_log *log, uint64_t tree_size, char **ret_note, size_t *ret_len)
{
    struct ev_verifier *verifier = NULL;
    int r;

    evi_error_clear();
    r = ev_verifier_parse(log->meta.vkey, &verifier);
    if (r < 0) {
        r = evi_error(EV_EBADKEY, "evident.meta: verifier key malformed");
        goto out;
    }
    /* A note that is not validly signed by the log key is not one of its checkpoints. */
    r = evi_cpindex_find(&log->checkpoints_index, log->dirfd, verifier, tree_size, ret_note,
                         ret_len);
    if (r == 0) {
        evi_error_clear();
    }
out:
    ev_verifier_free(verifier);
    return r;
}

/* ---- export --------------------------------------------------------------- */

struct chunk_entry {
    uint64_t index;
    uint32_t epoch;
    uint8_t tag[EV_HASH_BYTES];
    size_t len;
    char *bytes;
};

struct chunk {
    struct chunk_entry e[EXPORT_CHUNK];
    size_t count;
};

static int chunk_visit(void *ctx, const struct ev_entry *entry)
{
    struct chunk *c = ctx;
    struct chunk_entry *ce = &c->e[c->count];

    ce->bytes = malloc(entry->len);
    if (ce->bytes == NULL) {
        return -ENOMEM;
    }
    memcpy(ce->bytes, entry->bytes, entry->len);
    ce->len = entry->len;
    ce->index = entry->index;
    ce->epoch = entry->epoch;
    memcpy(ce->tag, entry->tag, EV_HASH_BYTES);
    c->count++;
    return 0;
}

static void chunk_clear(struct chunk *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->e[i].bytes);
    }
    c->count = 0;
}

static int put(FILE *out, const char *s, size_t len)
{
    if (len > 0 && fwrite(s, 1, len, out) != len) {
        return evi_error(-EIO, "cannot write the bundle: %s", strerror(errno ? errno : EIO));
    }
    return 0;
}

static int puts_(FILE *out, const char *s)
{
    return put(out, s, strlen(s));
}

static int put_u64(FILE *out, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return put(out, buf, (size_t)n);
}

/*
 * A JSON string in the bundle's one escaping: \" \\ \n, \u00xx (lowercase)
 * for the other control characters, every other byte as is (§11).
 */
static int put_string(FILE *out, const char *s, size_t len)
{
    int r = put(out, "\"", 1);
    for (size_t i = 0; i < len && r == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            r = put(out, esc, 2);
        } else if (c == '\n') {
            r = put(out, "\\n", 2);
        } else if (c < 0x20) {
            (void)snprintf(esc, sizeof(esc), "\\u%04x", c);
            r = put(out, esc, 6);
        } else {
            r = put(out, (const char *)&c, 1);
        }
    }
    return r == 0 ? put(out, "\"", 1) : r;
}

static int put_hex(FILE *out, const uint8_t hash[EV_HASH_BYTES])
{
    char hex[2 * EV_HASH_BYTES + 3];
    hex[0] = '"';
    evi_hex_encode(hash, EV_HASH_BYTES, hex + 1);
    hex[2 * EV_HASH_BYTES + 1] = '"';
    hex[2 * EV_HASH_BYTES + 2] = '\0';
    return put(out, hex, 2 * EV_HASH_BYTES + 2);
}

static int put_b64(FILE *out, const void *data, size_t len, char *scratch, size_t cap)
{
    size_t n = evi_base64_encode(data, len, scratch, cap);
    int r = put(out, "\"", 1);
    if (r == 0) {
        r = put(out, scratch, n);
    }
    return r == 0 ? put(out, "\"", 1) : r;
}

/* j of entry `from` within its epoch: the records of that epoch before it. */
static int epoch_position(struct ev_log *log, uint64_t from, uint64_t to, uint64_t *ret)
{
    struct ev_entry *e = NULL;
    uint64_t j = 0;
    uint32_t epoch;
    int r;

    if (from == to) {
        *ret = 0;
        return 0;
    }
    r = ev_log_entry(log, from, &e);
    if (r < 0) {
        return r;
    }
    epoch = e->epoch;
    ev_entry_free(e);
    for (uint64_t i = from; i > 0; i--, j++) {
        r = ev_log_entry(log, i - 1, &e);
        if (r < 0) {
            return r;
        }
        bool same = e->epoch == epoch;
        ev_entry_free(e);
        if (!same) {
            break;
        }
    }
    *ret = j;
    return 0;
}

int ev_bundle_export(struct ev_log *log, uint64_t from, uint64_t to, FILE *out)
{
    struct ev_verifier *verifier = NULL;
    struct ev_checkpoint cp;
    struct chunk *chunk = NULL;
    char *note = NULL, *scratch = NULL;
    size_t note_len;
    uint8_t chain[EV_HASH_BYTES] = {0};
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    uint64_t position = 0;
    int r;

    evi_error_clear();
    r = ev_log_latest_checkpoint(log, &note, &note_len);
    if (r < 0) {
        goto out;
    }
    r = ev_verifier_parse(log->meta.vkey, &verifier);
    if (r < 0) {
        r = evi_error(EV_EBADKEY, "evident.meta: verifier key malformed");
        goto out;
    }
    r = ev_checkpoint_open(note, note_len, verifier, &cp);
    if (r < 0) {
        goto out;
    }
    if (to == EV_BUNDLE_TO_CHECKPOINT) {
        to = cp.tree_size;
    }
    if (from > to || to > cp.tree_size || cp.tree_size > ev_log_size(log)) {
        r = evi_error(EV_ERANGE,
                      "range [%" PRIu64 ", %" PRIu64 ") is not within the latest checkpoint "
                      "(%" PRIu64 " entries); sign a newer one first",
                      from, to, cp.tree_size);
        goto out;
    }
    if (from > 0) {
        r = ev_log_chain_hash(log, from - 1, chain);
        if (r < 0) {
            goto out;
        }
    }
    r = epoch_position(log, from, to, &position);
    if (r < 0) {
        goto out;
    }
    chunk = calloc(1, sizeof(*chunk));
    scratch = malloc(ENTRY_B64_MAX + 1);
    if (chunk == NULL || scratch == NULL) {
        r = -ENOMEM;
        goto out;
    }

    /* The field order and spelling below are the format: FORMAT.md §11. */
    if ((r = puts_(out, "{\"format\":\"" EV_BUNDLE_FORMAT "\",\"origin\":")) < 0 ||
        (r = put_string(out, log->meta.origin, strlen(log->meta.origin))) < 0 ||
        (r = puts_(out, ",\"vkey\":")) < 0 ||
        (r = put_string(out, log->meta.vkey, strlen(log->meta.vkey))) < 0 ||
        (r = puts_(out, ",\"checkpoint\":")) < 0 || (r = put_string(out, note, note_len)) < 0 ||
        (r = puts_(out, ",\"from\":")) < 0 || (r = put_u64(out, from)) < 0 ||
        (r = puts_(out, ",\"to\":")) < 0 || (r = put_u64(out, to)) < 0 ||
        (r = puts_(out, ",\"chain_before\":")) < 0 || (r = put_hex(out, chain)) < 0 ||
        (r = puts_(out, ",\"epoch_position\":")) < 0 || (r = put_u64(out, position)) < 0 ||
        (r = puts_(out, ",\"entries\":[")) < 0) {
        goto out;
    }
    for (uint64_t next = from; next < to;) {
        uint64_t end = to - next > EXPORT_CHUNK ? next + EXPORT_CHUNK : to;
        r = ev_log_scan(log, next, end, NULL, chunk_visit, chunk);
        if (r == 0 && chunk->count != end - next) {
            r = evi_error(EV_ECORRUPT, "entries %" PRIu64 "..%" PRIu64 " could not be read", next,
                          end - 1);
        }
        for (size_t i = 0; i < chunk->count && r == 0; i++) {
            const struct chunk_entry *ce = &chunk->e[i];
            size_t proof_len = 0;
            r = ev_log_prove_inclusion(log, ce->index, cp.tree_size, proof, &proof_len);
            if (r < 0) {
                break;
            }
            if ((r = puts_(out, ce->index == from ? "{\"index\":" : ",{\"index\":")) < 0 ||
                (r = put_u64(out, ce->index)) < 0 || (r = puts_(out, ",\"epoch\":")) < 0 ||
                (r = put_u64(out, ce->epoch)) < 0 || (r = puts_(out, ",\"tag\":")) < 0 ||
                (r = put_hex(out, ce->tag)) < 0 || (r = puts_(out, ",\"entry\":")) < 0 ||
                (r = put_b64(out, ce->bytes, ce->len, scratch, ENTRY_B64_MAX + 1)) < 0 ||
                (r = puts_(out, ",\"proof\":[")) < 0) {
                break;
            }
            for (size_t k = 0; k < proof_len && r == 0; k++) {
                if (k > 0) {
                    r = put(out, ",", 1);
                }
                if (r == 0) {
                    r = put_b64(out, proof[k], EV_HASH_BYTES, scratch, ENTRY_B64_MAX + 1);
                }
            }
            if (r == 0) {
                r = puts_(out, "]}");
            }
        }
        chunk_clear(chunk);
        if (r < 0) {
            goto out;
        }
        next = end;
    }
    r = puts_(out, "]}\n");
out:
    if (chunk != NULL) {
        chunk_clear(chunk);
    }
    free(chunk);
    free(scratch);
    free(note);
    ev_verifier_free(verifier);
    return r;
}

/* ---- verify: a reader of exactly the exporter's bytes --------------------- */

struct cursor {
    const char *start, *p, *end;
};

struct verifier_state {
    struct ev_bundle_report *report;
    struct cursor c;
    bool in_entries;
    uint64_t entry; /* index of the entry being read */
};

static int fail(struct verifier_state *s, enum ev_failure failure, bool at_entry, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static int fail(struct verifier_state *s, enum ev_failure failure, bool at_entry, const char *fmt,
                ...)
{
    va_list ap;

    s->report->failure = failure;
    s->report->has_entry = at_entry;
    s->report->entry = at_entry ? s->entry : 0;
    va_start(ap, fmt);
    (void)vsnprintf(s->report->detail, sizeof(s->report->detail), fmt, ap);
    va_end(ap);
    return evi_error(EV_EVERIFY, "bundle: %s", s->report->detail);
}

/* Damage to the serialization itself: the byte offset is the useful part. */
static int damaged(struct verifier_state *s, const char *expected)
{
    return fail(s, EV_FAIL_RECORD, s->in_entries, "bundle damaged at byte %zu: expected %s",
                (size_t)(s->c.p - s->c.start), expected);
}

static bool take(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) {
        return false;
    }
    c->p += n;
    return true;
}

/* Decimal as the exporter writes it: no sign, no leading zero, fits in 64 bits. */
static bool take_u64(struct cursor *c, uint64_t *ret)
{
    const char *p = c->p;
    uint64_t v = 0;

    if (p >= c->end || *p < '0' || *p > '9' ||
        (*p == '0' && p + 1 < c->end && p[1] >= '0' && p[1] <= '9')) {
        return false;
    }
    for (; p < c->end && *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    c->p = p;
    *ret = v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* A string in put_string()'s escaping only; decoded into out (cap bytes). */
static bool take_string(struct cursor *c, char *out, size_t cap, size_t *ret_len)
{
    const char *p = c->p;
    size_t n = 0;

    if (p >= c->end || *p++ != '"') {
        return false;
    }
    while (p < c->end && *p != '"') {
        unsigned char ch = (unsigned char)*p++;
        if (ch < 0x20) {
            return false;
        }
        if (ch == '\\') {
            if (p >= c->end) {
                return false;
            }
            char e = *p++;
            if (e == '"' || e == '\\') {
                ch = (unsigned char)e;
            } else if (e == 'n') {
                ch = '\n';
            } else if (e == 'u' && c->end - p >= 4 && p[0] == '0' && p[1] == '0' &&
                       hexval(p[2]) >= 0 && hexval(p[2]) <= 1 && hexval(p[3]) >= 0) {
                ch = (unsigned char)(hexval(p[2]) << 4 | hexval(p[3]));
                if (ch == '\n') {
                    return false; /* written as \n */
                }
                p += 4;
            } else {
                return false;
            }
        }
        if (n + 1 >= cap) {
            return false;
        }
        out[n++] = (char)ch;
    }
    if (p >= c->end) {
        return false;
    }
    out[n] = '\0';
    c->p = p + 1;
    *ret_len = n;
    return true;
}

static bool take_hex32(struct cursor *c, uint8_t out[EV_HASH_BYTES])
{
    if (c->end - c->p < 2 * EV_HASH_BYTES + 2 || c->p[0] != '"' ||
        c->p[2 * EV_HASH_BYTES + 1] != '"') {
        return false;
    }
    for (int i = 0; i < EV_HASH_BYTES; i++) {
        int hi = hexval(c->p[1 + 2 * i]), lo = hexval(c->p[2 + 2 * i]);
        if (hi < 0 || lo < 0) {
            return false; /* lowercase only: one spelling per value */
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    c->p += 2 * EV_HASH_BYTES + 2;
    return true;
}

/* Strict base64 (padding, canonical final bits) into out; -1 if malformed or too long. */
static long take_b64(struct cursor *c, uint8_t *out, size_t cap)
{
    const char *q;

    if (c->p >= c->end || *c->p != '"') {
        return -1;
    }
    q = memchr(c->p + 1, '"', (size_t)(c->end - c->p - 1));
    if (q == NULL) {
        return -1;
    }
    long n = evi_base64_decode(c->p + 1, (size_t)(q - c->p - 1), out, cap);
    if (n >= 0) {
        c->p = q + 1;
    }
    return n;
}

struct header {
    char format[64];
    char origin[EV_KEY_NAME_MAX + 1];
    char vkey[512];
    char *checkpoint;
    size_t checkpoint_len;
    uint64_t from, to, position;
    uint8_t chain_before[EV_HASH_BYTES];
};

static int read_header(struct verifier_state *s, struct header *h)
{
    struct cursor *c = &s->c;
    size_t n;

    if (!take(c, "{\"format\":")) {
        return damaged(s, "{\"format\":");
    }
    if (!take_string(c, h->format, sizeof(h->format), &n) ||
        strcmp(h->format, EV_BUNDLE_FORMAT) != 0) {
        return fail(s, EV_FAIL_RECORD, false, "not an %s bundle", EV_BUNDLE_FORMAT);
    }
    if (!take(c, ",\"origin\":") || !take_string(c, h->origin, sizeof(h->origin), &n)) {
        return damaged(s, "\"origin\" (a string of at most 255 bytes)");
    }
    if (!take(c, ",\"vkey\":") || !take_string(c, h->vkey, sizeof(h->vkey), &n)) {
        return damaged(s, "\"vkey\" (a string of at most 511 bytes)");
    }
    h->checkpoint = malloc(EV_NOTE_MAX_BYTES + 1);
    if (h->checkpoint == NULL) {
        return -ENOMEM;
    }
    if (!take(c, ",\"checkpoint\":") ||
        !take_string(c, h->checkpoint, EV_NOTE_MAX_BYTES + 1, &h->checkpoint_len)) {
        return damaged(s, "\"checkpoint\" (a signed note of at most 1 MiB)");
    }
    if (!take(c, ",\"from\":") || !take_u64(c, &h->from)) {
        return damaged(s, "\"from\" (an entry index)");
    }
    if (!take(c, ",\"to\":") || !take_u64(c, &h->to)) {
        return damaged(s, "\"to\" (an entry index)");
    }
    if (!take(c, ",\"chain_before\":") || !take_hex32(c, h->chain_before)) {
        return damaged(s, "\"chain_before\" (64 lowercase hex digits)");
    }
    if (!take(c, ",\"epoch_position\":") || !take_u64(c, &h->position)) {
        return damaged(s, "\"epoch_position\" (a count)");
    }
    if (!take(c, ",\"entries\":[")) {
        return damaged(s, "\"entries\":[");
    }
    return 0;
}

/* Checks the key and the checkpoint signature; fills the report's key fields. */
static int check_checkpoint(struct verifier_state *s, const struct header *h, const char *pubkey,
                            struct ev_verifier **verifier, struct ev_checkpoint *cp)
{
    struct ev_bundle_report *rep = s->report;
    int r;

    (void)snprintf(rep->origin, sizeof(rep->origin), "%s", h->origin);
    rep->from = h->from;
    rep->to = h->to;
    (void)snprintf(rep->vkey, sizeof(rep->vkey), "%s", h->vkey);
    if (pubkey == NULL) {
        r = ev_verifier_parse(h->vkey, verifier);
        if (r < 0) {
            return fail(s, EV_FAIL_SIGNATURE, false, "the bundle's key is malformed");
        }
    }
    /* One spelling per key: the parser also takes, e.g., an uppercase key ID. */
    char *canonical = NULL;
    r = ev_verifier_vkey(*verifier, &canonical);
    if (r < 0) {
        return r;
    }
    bool same = strcmp(canonical, h->vkey) == 0;
    if (pubkey != NULL) {
        (void)snprintf(rep->vkey, sizeof(rep->vkey), "%s", canonical);
    }
    free(canonical);
    if (!same) {
        if (pubkey != NULL) {
            return fail(s, EV_FAIL_SIGNATURE, false,
                        "the bundle names key '%.180s', not the pinned key", h->vkey);
        }
        return fail(s, EV_FAIL_SIGNATURE, false, "the bundle's key is not in canonical form");
    }
    if (strcmp(ev_verifier_name(*verifier), h->origin) != 0) {
        return fail(s, EV_FAIL_SIGNATURE, false, "origin '%.100s' is not the key's name '%.100s'",
                    h->origin, ev_verifier_name(*verifier));
    }
    r = ev_checkpoint_open(h->checkpoint, h->checkpoint_len, *verifier, cp);
    if (r < 0) {
        return fail(s, EV_FAIL_SIGNATURE, false, "checkpoint: %.200s", ev_last_error());
    }
    rep->checkpoint_verified = true;
    rep->checkpoint_size = cp->tree_size;
    memcpy(rep->checkpoint_root, cp->root, EV_HASH_BYTES);
    if (h->from > h->to || h->to > cp->tree_size) {
        return fail(s, EV_FAIL_TRUNCATED, false,
                    "range [%" PRIu64 ", %" PRIu64 ") is not within the checkpoint's %" PRIu64
                    " entries",
                    h->from, h->to, cp->tree_size);
    }
    if (h->position > h->from) {
        return fail(s, EV_FAIL_SEQUENCE, false,
                    "epoch_position %" PRIu64 " is more than the %" PRIu64 " entries before",
                    h->position, h->from);
    }
    if (h->from == 0) {
        static const uint8_t zeros[EV_HASH_BYTES];
        if (memcmp(h->chain_before, zeros, EV_HASH_BYTES) != 0) {
            return fail(s, EV_FAIL_CHAIN, false, "chain_before of a bundle from 0 is not zero");
        }
    }
    return 0;
}

/* The running state of the entries checked so far. */
struct walk {
    uint8_t chain[EV_HASH_BYTES]; /* c(i - 1) */
    struct evi_frontier frontier; /* tree of the entries [0, i) when from == 0 */
    bool any;
    uint32_t epoch; /* epoch of the previous entry */
    bool prev_seal;
    const uint8_t *v;     /* verification key or NULL */
    struct evi_fskey key; /* R(epoch, j) for the next entry, when v */
    int64_t ts_ns;        /* ts of the previous entry (FORMAT.md §5: never decreases) */
    char ts[EVI_TS_LEN];  /* and as written */
};

static int check_entry(struct verifier_state *s, const struct header *h,
                       const struct ev_checkpoint *cp, struct walk *w, uint32_t epoch,
                       const uint8_t tag[EV_HASH_BYTES], const uint8_t *entry, size_t len,
                       const uint8_t (*proof)[EV_HASH_BYTES], size_t proof_len)
{
    uint64_t i = s->entry;
    uint8_t leaf[EV_HASH_BYTES];
    struct evi_entry_view view;
    int r;

    if (evi_entry_view(entry, len, &view) < 0) {
        return fail(s, EV_FAIL_ENTRY, true, "%.200s", ev_last_error());
    }
    if (view.seq != i) {
        return fail(s, EV_FAIL_SEQUENCE, true, "entry says seq %" PRIu64, view.seq);
    }
    ev_leaf_hash(entry, len, leaf);
    r = ev_merkle_verify_inclusion(i, cp->tree_size, leaf, proof, proof_len, cp->root);
    if (r == EV_EFORMAT) {
        return fail(s, EV_FAIL_ROOT, true,
                    "a proof of %zu hashes cannot place entry %" PRIu64 " in a tree of %" PRIu64,
                    proof_len, i, cp->tree_size);
    }
    if (r < 0) {
        return fail(s, EV_FAIL_ROOT, true,
                    "inclusion proof does not lead to the checkpoint root (entry or proof "
                    "changed)");
    }

    /* Epoch structure inside the range (FORMAT.md §7): one seal closes each epoch. */
    if (epoch > i) {
        return fail(s, EV_FAIL_MISSING_SEAL, true,
                    "epoch %" PRIu32 " cannot begin before %" PRIu32 " seals", epoch, epoch);
    }
    if (!w->any && h->from == 0 && epoch != 0) {
        return fail(s, EV_FAIL_MISSING_SEAL, true, "the first entry is in epoch %" PRIu32, epoch);
    }
    if (w->any) {
        if (epoch < w->epoch) {
            return fail(s, EV_FAIL_EPOCH_BACKWARDS, true, "epoch %" PRIu32 " after epoch %" PRIu32,
                        epoch, w->epoch);
        }
        if (w->prev_seal && epoch == w->epoch) {
            return fail(s, EV_FAIL_AFTER_SEAL, true, "epoch %" PRIu32 " was already sealed", epoch);
        }
        if (epoch > w->epoch + (w->prev_seal ? 1u : 0u)) {
            return fail(s, EV_FAIL_MISSING_SEAL, true, "epoch %" PRIu32 " has no seal",
                        w->prev_seal ? w->epoch + 1 : w->epoch);
        }
    }
    bool is_seal = evi_entry_is_type(&view, "seal");
    if (is_seal) {
        struct evi_seal seal;
        if (evi_seal_parse(entry, len, &seal) < 0) {
            return fail(s, EV_FAIL_ENTRY, true, "%.200s", ev_last_error());
        }
        if (seal.epoch != epoch || seal.tree_size != i) {
            return fail(s, EV_FAIL_SEAL, true,
                        "seal says epoch %" PRIu32 " and tree size %" PRIu64
                        "; its record has epoch %" PRIu32 " at index %" PRIu64,
                        seal.epoch, seal.tree_size, epoch, i);
        }
        if (memcmp(seal.chain_head, w->chain, EV_HASH_BYTES) != 0) {
            return fail(s, EV_FAIL_CHAIN, true, "seal chain head is not the recomputed chain");
        }
        if (h->from == 0) {
            uint8_t root[EV_HASH_BYTES];
            evi_frontier_root(&w->frontier, root);
            if (memcmp(seal.root, root, EV_HASH_BYTES) != 0) {
                return fail(s, EV_FAIL_ROOT, true, "seal root is not the recomputed root");
            }
        }
        s->report->seals++;
    }
    evi_sha256_parts(w->chain, EV_HASH_BYTES, leaf, EV_HASH_BYTES, NULL, 0, w->chain);
    if (h->from == 0) {
        uint8_t stored[64][EV_HASH_BYTES];
        (void)evi_frontier_append(&w->frontier, leaf, stored);
    }

    /* Tags (FORMAT.md §7): R(e, j) for the first entry from V, then step forward. */
    if (w->v != NULL) {
        uint8_t expect[EV_HASH_BYTES];
        if (!w->any) {
            uint8_t a[EV_HASH_BYTES];
            evi_epoch_key(w->v, epoch, a);
            evi_fskey_init(&w->key, a);
            evi_wipe(a, sizeof(a));
            for (uint64_t j = 0; j < h->position; j++) {
                evi_fskey_next_record(&w->key);
            }
        } else if (epoch != w->epoch) {
            evi_fskey_next_epoch(&w->key);
        }
        evi_fskey_tag(&w->key, i, w->chain, expect);
        bool ok = evi_ct_equal(expect, tag, EV_HASH_BYTES);
        evi_wipe(expect, sizeof(expect));
        if (!ok) {
            return fail(s, EV_FAIL_TAG, true, "tag does not verify with the verification key");
        }
        evi_fskey_next_record(&w->key);
    }

    /* ts never decreases (FORMAT.md §5), checked after the tag as in ev_verify. */
    const char *ts = view.type - (sizeof("\",\"type\":\"") - 1) - EVI_TS_LEN;
    if (w->any && view.ts_ns < w->ts_ns) {
        return fail(s, EV_FAIL_TS_BACKWARDS, true,
                    "entry %" PRIu64 ": ts %.*s is before entry %" PRIu64 "'s ts %.*s", i,
                    EVI_TS_LEN, ts, i - 1, EVI_TS_LEN, w->ts);
    }
    w->ts_ns = view.ts_ns;
    memcpy(w->ts, ts, EVI_TS_LEN);
    w->any = true;
    w->epoch = epoch;
    w->prev_seal = is_seal;
    s->report->entries++;
    return 0;
}

int ev_bundle_verify(const char *text, size_t len, const char *pubkey,
                     const uint8_t *verification_key, struct ev_bundle_report *ret_report)
{
    struct verifier_state s = {.report = ret_report, .c = {text, text, text + len}};
    struct ev_verifier *verifier = NULL;
    struct ev_checkpoint cp;
    struct header h = {0};
    struct walk *w = NULL;
    uint8_t *entry = NULL;
    uint8_t(*proof)[EV_HASH_BYTES] = NULL;
    int r;

    evi_error_clear();
    if (len > EV_BUNDLE_MAX_BYTES) {
        return evi_error(EV_ETOOBIG, "bundle of %zu bytes is over the limit of %llu", len,
                         (unsigned long long)EV_BUNDLE_MAX_BYTES);
    }
    if (pubkey != NULL && ev_verifier_parse(pubkey, &verifier) < 0) {
        return evi_error(EV_EBADKEY, "pinned key: %s", ev_last_error());
    }
    memset(ret_report, 0, sizeof(*ret_report));
    ret_report->key_pinned = pubkey != NULL;
    ret_report->tags_checked = verification_key != NULL;
    w = calloc(1, sizeof(*w));
    entry = malloc(EV_ENTRY_MAX_BYTES + 1);
    proof = malloc(sizeof(*proof) * EV_MAX_PROOF);
    if (w == NULL || entry == NULL || proof == NULL) {
        r = -ENOMEM;
        goto out;
    }
    evi_frontier_init(&w->frontier);
    w->v = verification_key;

    r = read_header(&s, &h);
    if (r < 0) {
        goto out;
    }
    r = check_checkpoint(&s, &h, pubkey, &verifier, &cp);
    if (r < 0) {
        goto out;
    }
    memcpy(w->chain, h.chain_before, EV_HASH_BYTES);
    s.in_entries = true;
    s.entry = h.from;
    if (!take(&s.c, "]")) {
        for (;;) {
            uint64_t index, epoch;
            uint8_t tag[EV_HASH_BYTES];
            size_t proof_len = 0;

            if (s.entry >= h.to) {
                r = fail(&s, EV_FAIL_SEQUENCE, true,
                         "entry beyond the bundle's range [%" PRIu64 ", %" PRIu64 ")", h.from,
                         h.to);
                goto out;
            }
            if (!take(&s.c, "{\"index\":") || !take_u64(&s.c, &index)) {
                r = damaged(&s, "{\"index\": (an entry index)");
                goto out;
            }
            if (index != s.entry) {
                r = fail(&s, EV_FAIL_SEQUENCE, true,
                         "bundle entry has index %" PRIu64 "; the range needs %" PRIu64 " here",
                         index, s.entry);
                goto out;
            }
            if (!take(&s.c, ",\"epoch\":") || !take_u64(&s.c, &epoch) || epoch > UINT32_MAX) {
                r = damaged(&s, "\"epoch\" (a 32-bit number)");
                goto out;
            }
            if (!take(&s.c, ",\"tag\":") || !take_hex32(&s.c, tag)) {
                r = damaged(&s, "\"tag\" (64 lowercase hex digits)");
                goto out;
            }
            long n;
            if (!take(&s.c, ",\"entry\":") || (n = take_b64(&s.c, entry, EV_ENTRY_MAX_BYTES)) < 1) {
                r = damaged(&s, "\"entry\" (base64 of 1 to 65535 bytes)");
                goto out;
            }
            if (!take(&s.c, ",\"proof\":[")) {
                r = damaged(&s, "\"proof\":[");
                goto out;
            }
            if (!take(&s.c, "]")) {
                for (;;) {
                    if (proof_len == EV_MAX_PROOF ||
                        take_b64(&s.c, proof[proof_len], EV_HASH_BYTES) != EV_HASH_BYTES) {
                        r = damaged(&s, "a proof hash (base64 of 32 bytes, at most 64)");
                        goto out;
                    }
                    proof_len++;
                    if (take(&s.c, "]")) {
                        break;
                    }
                    if (!take(&s.c, ",")) {
                        r = damaged(&s, "',' or ']' in the proof");
                        goto out;
                    }
                }
            }
            if (!take(&s.c, "}")) {
                r = damaged(&s, "'}' after the proof");
                goto out;
            }
            r = check_entry(&s, &h, &cp, w, (uint32_t)epoch, tag, entry, (size_t)n,
                            (const uint8_t(*)[EV_HASH_BYTES])proof, proof_len);
            if (r < 0) {
                goto out;
            }
            s.entry++;
            if (take(&s.c, "]")) {
                break;
            }
            if (!take(&s.c, ",")) {
                r = damaged(&s, "',' or ']' after an entry");
                goto out;
            }
        }
    }
    s.in_entries = false;
    if (s.entry != h.to) {
        r = fail(&s, EV_FAIL_TRUNCATED, false,
                 "the bundle holds %" PRIu64 " entries; its range [%" PRIu64 ", %" PRIu64
                 ") needs %" PRIu64,
                 s.entry - h.from, h.from, h.to, h.to - h.from);
        goto out;
    }
    if (!take(&s.c, "}\n") || s.c.p != s.c.end) {
        r = damaged(&s, "the end of the bundle: '}' and a newline");
        goto out;
    }
    if (h.from == 0 && h.to == cp.tree_size) {
        uint8_t root[EV_HASH_BYTES];
        evi_frontier_root(&w->frontier, root);
        if (memcmp(root, cp.root, EV_HASH_BYTES) != 0) {
            r = fail(&s, EV_FAIL_ROOT, false, "root of the entries is not the checkpoint root");
            goto out;
        }
        ret_report->root_recomputed = true;
    }
    ret_report->failure = EV_FAIL_NONE;
    r = 0;
out:
    if (w != NULL) {
        evi_fskey_wipe(&w->key);
    }
    free(w);
    free(entry);
    free(proof);
    free(h.checkpoint);
    ev_verifier_free(verifier);
    return r;
}
