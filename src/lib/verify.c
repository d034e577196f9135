/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verification of a log directory from its records alone (FORMAT.md §4–§8).
 *
 * One pass over the records, in order. For each record, checks run from the
 * outside in, so that the report names the most basic damage: framing and
 * checksum, entry envelope, sequence number, epoch structure, forward-secure
 * tag (with V), ts order (§5), seal contents. Along the way the tree is
 * rebuilt in a frontier (O(log n) memory), and its root is compared with every checkpoint the
 * verifier has to honour at the size that checkpoint names: the latest one in
 * the directory, every one in its history, and every trusted one given.
 *
 * Nothing here writes: every file is opened O_RDONLY and no lock is taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <evident/log.h>
#include <evident/note.h>
#include <evident/verify.h>

#include "crypto.h"
#include "entry.h"
#include "lifecycle/prune.h"
#include "error.h"
#include "fskey.h"
#include "store.h"
#include "tagcheck.h"
#include "tree.h"

const char *ev_failure_name(enum ev_failure failure)
{
    switch (failure) {
    case EV_FAIL_NONE: return "none";
    case EV_FAIL_RECORD: return "record damaged";
    case EV_FAIL_ENTRY: return "entry malformed";
    case EV_FAIL_SEQUENCE: return "sequence gap";
    case EV_FAIL_TAG: return "tag mismatch";
    case EV_FAIL_CHAIN: return "chain mismatch";
    case EV_FAIL_ROOT: return "tree root mismatch";
    case EV_FAIL_SIGNATURE: return "bad signature";
    case EV_FAIL_MISSING_SEAL: return "missing seal";
    case EV_FAIL_EPOCH_BACKWARDS: return "epoch went backwards";
    case EV_FAIL_AFTER_SEAL: return "entry after seal";
    case EV_FAIL_SEAL: return "seal malformed";
    case EV_FAIL_TRUNCATED: return "truncated";
    case EV_FAIL_FORKED: return "forked";
    case EV_FAIL_NO_CHECKPOINT: return "no checkpoint";
    case EV_FAIL_PRUNED: return "unaccounted pruning";
    case EV_FAIL_TS_BACKWARDS: return "ts went backwards";
    }
    return "unknown";
}

/* A segment a retention entry says it removed (§3.2). */
struct retention_claim {
    uint64_t first, last;
    uint8_t leaf_digest[EV_HASH_BYTES];
    uint64_t by; /* the retention entry */
};

/* A root the records must produce at a given size. */
enum requirement_kind { REQ_LATEST, REQ_HISTORY, REQ_TRUSTED };

struct requirement {
    uint64_t size;
    uint8_t root[EV_HASH_BYTES];
    enum requirement_kind kind;
    size_t ordinal; /* which history frame or trusted checkpoint */
};

struct verifier_state {
    struct ev_verify_report *report;
    const struct ev_verifier *key;
    struct requirement *reqs;
    size_t req_count, req_cap, req_next;

    /* running state over the records */
    struct evi_frontier frontier;
    uint8_t chain[EV_HASH_BYTES];
    bool have_epoch;
    uint32_t epoch;
    bool epoch_sealed;
    uint64_t epoch_entries_after_seal;
    int64_t open_since_ns;
    uint32_t last_seal_epoch;
    int64_t last_seal_ns;

    /* the last entry whose bytes are there (§5: ts never decreases; pruned ones have none) */
    bool have_ts;
    uint64_t last_ts_entry;
    int64_t last_ts_ns;
    char last_ts[EVI_TS_LEN];

    /* with V: tags are checked by this, inline or on a second thread */
    struct evi_tagcheck *tags;

    /* retention (§3.2): what the retention entries say they removed */
    struct retention_claim *claims;
    size_t claim_count, claim_cap;
};

static int fail(struct verifier_state *st, enum ev_failure kind, bool has_entry, uint64_t entry,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct verifier_state *st, enum ev_failure kind, bool has_entry, uint64_t entry,
                const char *fmt, ...)
{
    va_list ap;
    struct ev_verify_report *rep = st->report;

    rep->failure = kind;
    rep->has_entry = has_entry;
    rep->entry = entry;
    va_start(ap, fmt);
    (void)vsnprintf(rep->detail, sizeof(rep->detail), fmt, ap);
    va_end(ap);
    return evi_error(EV_EVERIFY, "verification failed: %s", rep->detail);
}

static int add_requirement(struct verifier_state *st, const struct ev_checkpoint *cp,
                           enum requirement_kind kind, size_t ordinal)
{
    if (st->req_count == st->req_cap) {
        size_t cap = st->req_cap ? st->req_cap * 2 : 16;
        struct requirement *r = realloc(st->reqs, cap * sizeof(*r));
        if (r == NULL) {
            return -ENOMEM;
        }
        st->reqs = r;
        st->req_cap = cap;
    }
    struct requirement *q = &st->reqs[st->req_count++];
    q->size = cp->tree_size;
    memcpy(q->root, cp->root, EV_HASH_BYTES);
    q->kind = kind;
    q->ordinal = ordinal;
    return 0;
}

static int cmp_requirement(const void *a, const void *b)
{
    const struct requirement *x = a, *y = b;
    if (x->size != y->size) {
        return x->size < y->size ? -1 : 1;
    }
    return (int)x->kind - (int)y->kind;
}

static const char *requirement_name(const struct requirement *q, char buf[64])
{
    switch (q->kind) {
    case REQ_LATEST: return "the latest checkpoint";
    case REQ_HISTORY:
        (void)snprintf(buf, 64, "checkpoint %zu of the history", q->ordinal + 1);
        return buf;
    case REQ_TRUSTED: (void)snprintf(buf, 64, "trusted checkpoint %zu", q->ordinal + 1); return buf;
    }
    return "a checkpoint";
}

/* Compares the rebuilt tree with every requirement at the current size. */
static int check_requirements(struct verifier_state *st)
{
    uint64_t size = st->frontier.size;
    uint8_t root[EV_HASH_BYTES];
    char name[64];

    if (st->req_next >= st->req_count || st->reqs[st->req_next].size != size) {
        return 0;
    }
    evi_frontier_root(&st->frontier, root);
    while (st->req_next < st->req_count && st->reqs[st->req_next].size == size) {
        const struct requirement *q = &st->reqs[st->req_next++];
        if (memcmp(root, q->root, EV_HASH_BYTES) != 0) {
            /* A key-signed root that the records do not produce: the log was
             * changed under it (ours) or forked away from it (someone else's copy). */
            return fail(st, q->kind == REQ_TRUSTED ? EV_FAIL_FORKED : EV_FAIL_ROOT, size > 0,
                        size > 0 ? size - 1 : 0,
                        "the first %" PRIu64 " entries do not have the root that %s signed", size,
                        requirement_name(q, name));
        }
        st->report->trusted_checked += q->kind == REQ_TRUSTED;
    }
    return 0;
}

/* ---- checkpoints ---------------------------------------------------------- */

struct history_ctx {
    struct verifier_state *st;
    size_t ordinal;
    int result;
};

static int history_visit(void *ctx, const char *note, size_t len)
{
    struct history_ctx *h = ctx;
    struct ev_checkpoint cp;
    int r = ev_checkpoint_open(note, len, h->st->key, &cp);

    if (r < 0) {
        h->result = fail(h->st, EV_FAIL_SIGNATURE, false, 0,
                         "checkpoint %zu of the history does not verify: %s", h->ordinal + 1,
                         ev_last_error());
        return 1;
    }
    r = add_requirement(h->st, &cp, REQ_HISTORY, h->ordinal++);
    if (r < 0) {
        h->result = r;
        return 1;
    }
    return 0;
}

static int load_requirements(struct verifier_state *st, int dirfd,
                             const struct ev_verify_options *o)
{
    char *note = NULL;
    size_t len;
    struct ev_checkpoint cp;
    int r;

    r = evi_read_file(dirfd, EVI_CHECKPOINT_FILE, EV_NOTE_MAX_BYTES, &note, &len);
    if (r == -ENOENT) {
        st->report->checkpoint_size = 0;
        r = 0; /* judged after the scan: an empty log may have none */
    } else if (r < 0) {
        return evi_error(r, "cannot read checkpoint: %s", ev_strerror(r));
    } else {
        r = ev_checkpoint_open(note, len, st->key, &cp);
        free(note);
        if (r < 0) {
            return fail(st, EV_FAIL_SIGNATURE, false, 0,
                        "the latest checkpoint does not verify with %s: %s",
                        o->pubkey != NULL ? "the given public key" : "the log's public key",
                        ev_last_error());
        }
        st->report->checkpoint_size = cp.tree_size;
        r = add_requirement(st, &cp, REQ_LATEST, 0);
        if (r < 0) {
            return r;
        }
    }

    struct history_ctx h = {.st = st};
    r = evi_checkpoint_history_read(dirfd, history_visit, &h);
    if (h.result != 0) {
        return h.result;
    }
    if (r < 0) {
        return fail(st, EV_FAIL_SIGNATURE, false, 0, "checkpoint history: %s", ev_last_error());
    }

    for (size_t i = 0; i < o->checkpoint_count; i++) {
        r = ev_checkpoint_open(o->checkpoints[i], o->checkpoint_lens[i], st->key, &cp);
        if (r < 0) {
            return fail(st, EV_FAIL_SIGNATURE, false, 0,
                        "trusted checkpoint %zu is not signed by this log's key: %s", i + 1,
                        ev_last_error());
        }
        r = add_requirement(st, &cp, REQ_TRUSTED, i);
        if (r < 0) {
            return r;
        }
    }
    if (st->req_count > 1) {
        qsort(st->reqs, st->req_count, sizeof(*st->reqs), cmp_requirement);
    }
    return 0;
}

/* ---- retention (§3.2) ------------------------------------------------------ */

/*
 * Reads what a retention entry says it removed. Its data is written by the
 * writer, but here it is input like any other: a retention entry that does not
 * have the documented shape is a malformed entry.
 */
static int read_claims(struct verifier_state *st, uint64_t i, const struct evi_record *rec)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)rec->entry, rec->entry_len, 0, &jerr);
    json_t *segs = json_object_get(json_object_get(root, "data"), "segments");
    size_t k;
    json_t *item;
    int r = 0;

    if (!json_is_array(segs) || json_array_size(segs) == 0) {
        r = fail(st, EV_FAIL_ENTRY, true, i, "retention entry %" PRIu64 " names no segments", i);
        goto out;
    }
    json_array_foreach(segs, k, item)
    {
        json_t *first = json_object_get(item, "first"), *last = json_object_get(item, "last");
        const char *digest = json_string_value(json_object_get(item, "leaf_digest"));
        struct retention_claim c = {.by = i};
        if (!json_is_integer(first) || !json_is_integer(last) || digest == NULL ||
            json_integer_value(first) < 0 || json_integer_value(last) < json_integer_value(first) ||
            (uint64_t)json_integer_value(last) >= i ||
            evi_hex_decode(digest, strlen(digest), c.leaf_digest, EV_HASH_BYTES) < 0) {
            r = fail(st, EV_FAIL_ENTRY, true, i,
                     "retention entry %" PRIu64 ": segment %zu is not described as documented", i,
                     k + 1);
            goto out;
        }
        c.first = (uint64_t)json_integer_value(first);
        c.last = (uint64_t)json_integer_value(last);
        if (st->claim_count == st->claim_cap) {
            size_t cap = st->claim_cap ? st->claim_cap * 2 : 16;
            struct retention_claim *grown = realloc(st->claims, cap * sizeof(*grown));
            if (grown == NULL) {
                r = -ENOMEM;
                goto out;
            }
            st->claims = grown;
            st->claim_cap = cap;
        }
        st->claims[st->claim_count++] = c;
    }
    st->report->retention_entries++;
out:
    json_decref(root);
    return r;
}

/*
 * Every pruned segment must be one that a retention entry after it names,
 * with the same range and the same leaf hashes. (A retention entry that names
 * a segment still whole is no failure: the writer stopped between its entry
 * and the removal, FORMAT.md §3.2.)
 */
static int check_pruning(struct verifier_state *st, const struct evi_segment *segs, size_t count)
{
    /*
     * A claim counts only if a signed checkpoint the verifier holds covers its
     * retention entry: the writer signs one right after it (FORMAT.md §3.2), and
     * anyone can append a record, but not one under the log's key.
     */
    uint64_t signed_size = 0;
    for (size_t k = 0; k < st->req_count; k++) {
        if (st->reqs[k].size > signed_size) {
            signed_size = st->reqs[k].size;
        }
    }
    for (size_t s = 0; s < count; s++) {
        if (!segs[s].pruned) {
            continue;
        }
        uint64_t first = segs[s].first_index;
        uint64_t end = s + 1 < count ? segs[s + 1].first_index : st->report->entries;
        char name[64];
        struct evi_pruned_summary sum;
        evi_segment_file_name(&segs[s], name);
        if (s + 1 == count || end <= first) {
            /* The writer never prunes its last segment, nor writes an empty pruned form. */
            return fail(st, EV_FAIL_PRUNED, true, first,
                        "'%s' is a pruned form %s, which retention never writes", name,
                        s + 1 == count ? "as the last segment" : "holding no entry");
        }
        int r = evi_pruned_summary(&segs[s], end, &sum, NULL);
        if (r < 0) {
            return r == EV_ECORRUPT ? fail(st, EV_FAIL_RECORD, true, first, "%s", ev_last_error())
                                    : r;
        }
        const struct retention_claim *match = NULL;
        bool unsigned_claim = false;
        for (size_t k = 0; k < st->claim_count && match == NULL; k++) {
            const struct retention_claim *c = &st->claims[k];
            if (c->first == first && c->last == end - 1) {
                if (c->by < signed_size) {
                    match = c;
                } else {
                    unsigned_claim = true;
                }
            }
        }
        if (match == NULL) {
            return fail(st, EV_FAIL_PRUNED, true, first,
                        "entries %" PRIu64 "..%" PRIu64 " were pruned (%s) but no retention "
                        "entry %saccounts for it",
                        first, end - 1, name,
                        unsigned_claim ? "covered by a signed checkpoint " : "");
        }
        if (!evi_ct_equal(match->leaf_digest, sum.leaf_digest, EV_HASH_BYTES)) {
            return fail(st, EV_FAIL_PRUNED, true, first,
                        "entries %" PRIu64 "..%" PRIu64 " (%s) are not the entries retention "
                        "entry %" PRIu64 " removed",
                        first, end - 1, name, match->by);
        }
        if (st->report->pruned_segments == 0) {
            st->report->pruned_first = first;
        }
        st->report->pruned_segments++;
        st->report->pruned_last = end - 1;
    }
    return 0;
}

/* ---- records -------------------------------------------------------------- */

static int check_record(struct verifier_state *st, uint64_t i, const struct evi_record *rec,
                        const uint8_t leaf[EV_HASH_BYTES])
{
    struct evi_entry_view view = {0};
    uint8_t chain[EV_HASH_BYTES], stored[64][EV_HASH_BYTES];
    bool seal = false;

    if (rec->leaf != NULL) {
        /* Pruned (§3.2): its leaf hash stands for it; never a seal, no tag left. */
        st->report->pruned_entries++;
    } else if (evi_entry_view(rec->entry, rec->entry_len, &view) < 0) {
        return fail(st, EV_FAIL_ENTRY, true, i, "entry %" PRIu64 ": %s", i, ev_last_error());
    } else if (view.seq != i) {
        return fail(st, EV_FAIL_SEQUENCE, true, i, "record %" PRIu64 " holds entry seq %" PRIu64 "",
                    i, view.seq);
    } else {
        seal = evi_entry_is_type(&view, "seal");
        if (evi_entry_is_type(&view, "retention")) {
            int r = read_claims(st, i, rec);
            if (r != 0) {
                return r;
            }
        }
    }
    evi_sha256_parts(st->chain, EV_HASH_BYTES, leaf, EV_HASH_BYTES, NULL, 0, chain);

    /* Epoch structure: each epoch follows the one before, closed by its seal. */
    uint64_t j;
    if (!st->have_epoch) {
        if (rec->epoch != 0) {
            return fail(st, EV_FAIL_MISSING_SEAL, true, i,
                        "entry %" PRIu64 " is in epoch %" PRIu32 " but epochs 0..%" PRIu32
                        " were never sealed",
                        i, rec->epoch, rec->epoch - 1);
        }
        j = 0;
    } else if (rec->epoch < st->epoch) {
        return fail(st, EV_FAIL_EPOCH_BACKWARDS, true, i,
                    "entry %" PRIu64 " is in epoch %" PRIu32 " after epoch %" PRIu32, i, rec->epoch,
                    st->epoch);
    } else if (rec->epoch == st->epoch) {
        if (st->epoch_sealed) {
            return fail(st, EV_FAIL_AFTER_SEAL, true, i,
                        "entry %" PRIu64 " follows the seal of its epoch %" PRIu32, i, rec->epoch);
        }
        j = st->epoch_entries_after_seal;
    } else {
        if (!st->epoch_sealed) {
            return fail(st, EV_FAIL_MISSING_SEAL, true, i,
                        "epoch %" PRIu32 " ends at entry %" PRIu64 " without a seal", st->epoch, i);
        }
        if (rec->epoch != st->epoch + 1) {
            return fail(st, EV_FAIL_MISSING_SEAL, true, i,
                        "entry %" PRIu64 " is in epoch %" PRIu32 " but epochs %" PRIu32 "..%" PRIu32
                        " have no seal",
                        i, rec->epoch, st->epoch + 1, rec->epoch - 1);
        }
        j = 0;
    }

    if (st->tags != NULL && rec->tag != NULL &&
        evi_tagcheck_add(st->tags, i, rec->epoch, j, chain, rec->tag)) {
        /* A tag before this one is bad: stop; ev_verify_dir reports it. */
        return EV_EVERIFY;
    }

    /*
     * ts never decreases (§5): readers find a time window by binary search and
     * would miss entries. Checked after the tag: with V, a ts changed by
     * someone who lacks it is reported as the bad tag it also is, and a ts
     * that goes back under a valid tag was written by a holder of the keys (a
     * buggy or hostile writer), which only this rule shows. The ns values are
     * what readers compare; in the writer's canonical form they order as the
     * 30 characters do. A pruned entry's ts is gone: the comparison spans it,
     * from the last entry whose ts is there.
     */
    if (rec->leaf == NULL) {
        /* §5's fixed layout: the ts ends just before `","type":"`. */
        const char *ts = view.type - (sizeof("\",\"type\":\"") - 1) - EVI_TS_LEN;
        if (st->have_ts && view.ts_ns < st->last_ts_ns) {
            return fail(st, EV_FAIL_TS_BACKWARDS, true, i,
                        "entry %" PRIu64 ": ts %.*s is before entry %" PRIu64 "'s ts %.*s", i,
                        EVI_TS_LEN, ts, st->last_ts_entry, EVI_TS_LEN, st->last_ts);
        }
        st->have_ts = true;
        st->last_ts_entry = i;
        st->last_ts_ns = view.ts_ns;
        memcpy(st->last_ts, ts, EVI_TS_LEN);
    }

    if (seal) {
        struct evi_seal s;
        uint8_t root[EV_HASH_BYTES];
        if (evi_seal_parse(rec->entry, rec->entry_len, &s) < 0) {
            return fail(st, EV_FAIL_SEAL, true, i, "seal %" PRIu64 ": %s", i, ev_last_error());
        }
        if (s.epoch != rec->epoch || s.tree_size != i) {
            return fail(st, EV_FAIL_SEAL, true, i,
                        "seal %" PRIu64 " says epoch %" PRIu32 " size %" PRIu64
                        ", its place is epoch %" PRIu32 " size %" PRIu64,
                        i, s.epoch, s.tree_size, rec->epoch, i);
        }
        evi_frontier_root(&st->frontier, root);
        if (memcmp(root, s.root, EV_HASH_BYTES) != 0) {
            return fail(st, EV_FAIL_ROOT, true, i,
                        "seal %" PRIu64 " names a root that the entries before it do not have", i);
        }
        if (memcmp(st->chain, s.chain_head, EV_HASH_BYTES) != 0) {
            return fail(st, EV_FAIL_CHAIN, true, i,
                        "seal %" PRIu64 " names a chain head that the entries before it do not "
                        "have",
                        i);
        }
    }

    /* The record holds: advance. */
    if (!st->have_epoch || rec->epoch != st->epoch) {
        st->have_epoch = true;
        st->epoch = rec->epoch;
        st->epoch_sealed = false;
        st->epoch_entries_after_seal = 0;
        st->open_since_ns = 0;
    }
    if (seal) {
        st->last_seal_epoch = rec->epoch;
        st->last_seal_ns = view.ts_ns;
        st->epoch_sealed = true;
        st->report->epochs_sealed++;
        st->epoch_entries_after_seal = 0;
    } else {
        if (st->open_since_ns == 0 && rec->leaf == NULL) {
            st->open_since_ns = view.ts_ns; /* the first entry whose time is still there */
        }
        st->epoch_entries_after_seal++;
    }
    memcpy(st->chain, chain, EV_HASH_BYTES);
    (void)evi_frontier_append(&st->frontier, leaf, stored);
    st->report->entries = i + 1;
    return check_requirements(st);
}

/*
 * What a crash can leave after the last intact record of the last segment:
 * zeros to the end of the file (space the file system allocated but whose
 * data never landed, or that the writer preallocated: prealloc.h), a record
 * cut short by the end of the file, or a last record whose bytes did not all
 * land (bad checksum) followed by nothing or by zeros only. Anything else
 * there is damage. *ret_torn: the bytes of such a record, 0 for zeros only.
 */
static bool torn_tail(const struct evi_segment *seg, uint64_t offset, enum evi_record_status status,
                      uint64_t *ret_torn)
{
    uint64_t zeros;

    if (seg->compressed) {
        return false; /* a compressed segment was whole when closed (FORMAT.md §3.1) */
    }
    if (evi_zero_tail(seg->fd, offset, seg->bytes, &zeros) < 0) {
        return false;
    }
    if (zeros == offset) {
        *ret_torn = 0;
        return true;
    }
    if (status == EVI_RECORD_SHORT) {
        *ret_torn = seg->bytes - offset;
        return true;
    }
    if (status == EVI_RECORD_BAD_CRC) {
        uint8_t len[4];
        if (evi_read_exact(seg->fd, len, sizeof(len), (off_t)offset) < 0) {
            return false;
        }
        uint64_t n = (uint64_t)len[0] | (uint64_t)len[1] << 8 | (uint64_t)len[2] << 16 |
                     (uint64_t)len[3] << 24;
        *ret_torn = EVI_RECORD_OVERHEAD + n;
        return offset + EVI_RECORD_OVERHEAD + n >= zeros;
    }
    return false;
}

/*
 * The records are read in batches: while the main pass checks one batch in
 * order, a second thread computes the leaf hashes of the next (the largest
 * share of the hashing, and independent from record to record).
 */
#define BATCH_RECORDS 4096
#define BATCH_BYTES (4u << 20)

enum batch_end {
    BATCH_FULL = 0,      /* more records may follow */
    BATCH_END,           /* clean end of the last segment */
    BATCH_DAMAGED,       /* bytes at (seg, offset) are not an intact record */
    BATCH_SEGMENT_GAP,   /* segment seg does not start where the records are */
    BATCH_FIRST_SEGMENT, /* the first segment does not start at entry 0 */
};

struct batch_item {
    uint32_t epoch;
    bool pruned; /* leaf came with the record (§3.2): no entry bytes, no tag */
    uint32_t len;
    size_t off;
    uint8_t tag[EV_HASH_BYTES];
    uint8_t leaf[EV_HASH_BYTES];
};

struct batch {
    struct batch_item items[BATCH_RECORDS];
    size_t count;
    uint64_t first; /* index of items[0] */
    uint8_t *arena;
    size_t used, cap;
    enum batch_end end;
    int error;        /* -errno or EV_ECORRUPT from the scanner */
    char detail[160]; /* ev_last_error() for EV_ECORRUPT, kept until the batch is checked */
    size_t seg;
    uint64_t offset;
    enum evi_record_status status;
};

static void *hash_batch(void *arg)
{
    struct batch *b = arg;
    for (size_t k = 0; k < b->count; k++) {
        if (!b->items[k].pruned) {
            ev_leaf_hash(b->arena + b->items[k].off, b->items[k].len, b->items[k].leaf);
        }
    }
    return NULL;
}

/* Reads records into b until it is full or something other than a record comes. */
static void fill_batch(struct batch *b, struct evi_scanner *sc, const struct evi_segment *segs,
                       uint64_t first)
{
    struct evi_record rec;

    b->count = 0;
    b->used = 0;
    b->first = first;
    b->end = BATCH_FULL;
    b->error = 0;
    while (b->count < BATCH_RECORDS && b->used < BATCH_BYTES) {
        uint64_t i = first + b->count;
        size_t seg = sc->seg;
        int r = evi_scanner_next(sc, &rec, &b->status);
        if (r < 0) {
            b->error = r;
            b->seg = sc->seg;
            (void)snprintf(b->detail, sizeof(b->detail), "%s", ev_last_error());
            return;
        }
        b->seg = sc->seg;
        b->offset = sc->offset;
        if (r == EVI_SCAN_END) {
            b->end = BATCH_END;
            return;
        }
        if (sc->seg != seg && segs[sc->seg].first_index != i) {
            b->end = BATCH_SEGMENT_GAP;
            return;
        }
        if (r == EVI_SCAN_DAMAGED) {
            b->end = BATCH_DAMAGED;
            return;
        }
        if (i == 0 && sc->seg == 0 && segs[0].first_index != 0) {
            b->end = BATCH_FIRST_SEGMENT;
            return;
        }
        if (b->used + rec.entry_len > b->cap) {
            size_t cap =
                b->cap * 2 > b->used + rec.entry_len ? b->cap * 2 : b->used + rec.entry_len;
            uint8_t *grown = realloc(b->arena, cap);
            if (grown == NULL) {
                b->error = -ENOMEM;
                return;
            }
            b->arena = grown;
            b->cap = cap;
        }
        struct batch_item *it = &b->items[b->count++];
        it->epoch = rec.epoch;
        it->pruned = rec.leaf != NULL;
        if (it->pruned) {
            memcpy(it->leaf, rec.leaf, EV_HASH_BYTES);
        } else {
            memcpy(it->tag, rec.tag, EV_HASH_BYTES);
        }
        it->len = (uint32_t)rec.entry_len;
        it->off = b->used;
        if (rec.entry_len > 0) {
            memcpy(b->arena + b->used, rec.entry, rec.entry_len);
            b->used += rec.entry_len;
        }
    }
}

/* Checks a hashed batch in order, then whatever ended it. 1 = go on, else done. */
static int process_batch(struct verifier_state *st, const struct batch *b,
                         const struct evi_segment *segs, size_t count)
{
    for (size_t k = 0; k < b->count; k++) {
        const struct batch_item *it = &b->items[k];
        struct evi_record rec = {
            .epoch = it->epoch,
            .entry = it->pruned ? NULL : b->arena + it->off,
            .entry_len = it->len,
            .leaf = it->pruned ? it->leaf : NULL,
            .tag = it->pruned ? NULL : it->tag,
            .size = EVI_RECORD_OVERHEAD + it->len,
        };
        int r = check_record(st, b->first + k, &rec, it->leaf);
        if (r != 0) {
            return r;
        }
    }
    uint64_t i = b->first + b->count;
    if (b->error == EV_ECORRUPT) {
        /* A compressed segment whose bytes do not decompress (§3.1): record damage. */
        return fail(st, EV_FAIL_RECORD, true, i,
                    "record %" PRIu64 " (segment %" PRIu64 ", compressed): %s", i,
                    segs[b->seg].first_index, b->detail);
    }
    if (b->error < 0) {
        return b->error;
    }
    switch (b->end) {
    case BATCH_FULL: return 1;
    case BATCH_END: return 0;
    case BATCH_SEGMENT_GAP:
        return fail(st, EV_FAIL_SEQUENCE, true, i,
                    "segment %zu starts at entry %" PRIu64 ", expected %" PRIu64, b->seg,
                    segs[b->seg].first_index, i);
    case BATCH_FIRST_SEGMENT:
        return fail(st, EV_FAIL_SEQUENCE, true, 0, "the first segment starts at entry %" PRIu64,
                    segs[0].first_index);
    case BATCH_DAMAGED: {
        bool last = b->seg + 1 == count;
        uint64_t required = st->req_count ? st->reqs[st->req_count - 1].size : 0;
        uint64_t torn = 0;
        if (last && i >= required && torn_tail(&segs[b->seg], b->offset, b->status, &torn)) {
            /* A crash's torn tail: reported, and by itself no failure. */
            st->report->torn_bytes = torn;
            return 0;
        }
        return fail(st, EV_FAIL_RECORD, true, i,
                    "record %" PRIu64 " (segment %" PRIu64 ", byte %" PRIu64 "): %s", i,
                    segs[b->seg].first_index, b->offset, evi_record_status_name(b->status));
    }
    }
    return 0;
}

static int scan_records(struct verifier_state *st, int dirfd, bool threaded,
                        const struct ev_verify_options *o)
{
    struct evi_segment *segs = NULL;
    size_t count = 0;
    struct evi_scanner sc = {0};
    struct batch *a = NULL, *b = NULL;
    pthread_t hasher;
    bool hashing = false;
    int r;

    r = evi_segments_open(dirfd, false, &segs, &count);
    if (r < 0) {
        /* Segment files that do not parse are damage, not an I/O problem. */
        if (r == EV_EFORMAT) {
            return fail(st, EV_FAIL_RECORD, false, 0, "%s", ev_last_error());
        }
        return r;
    }
    if (count == 0) {
        r = fail(st, EV_FAIL_RECORD, false, 0, "no segment files");
        goto out;
    }
    a = calloc(1, sizeof(*a));
    b = calloc(1, sizeof(*b));
    if (a == NULL || b == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_scanner_init(&sc, segs, count, 0, EVI_SEGMENT_HEADER, 0);
    if (r < 0) {
        goto out;
    }
    r = check_requirements(st); /* size 0 */
    if (r != 0) {
        goto out;
    }
    fill_batch(a, &sc, segs, 0);
    if (!threaded || pthread_create(&hasher, NULL, hash_batch, a) != 0) {
        (void)hash_batch(a);
    } else {
        hashing = true;
    }
    for (;;) {
        /* Before each batch is checked, the caller may stop a long verification (verify.h). */
        if (o->stop != NULL && o->stop(o->stop_arg, st->report->entries) != 0) {
            r = evi_error(-ECANCELED,
                          "verification stopped by the caller after %" PRIu64 " entries",
                          st->report->entries);
            break;
        }
        /* a is being hashed; read the next batch meanwhile. */
        bool more = a->end == BATCH_FULL && a->error == 0;
        if (more) {
            fill_batch(b, &sc, segs, a->first + a->count);
        }
        if (hashing) {
            (void)pthread_join(hasher, NULL);
            hashing = false;
        }
        if (more) {
            if (threaded && pthread_create(&hasher, NULL, hash_batch, b) == 0) {
                hashing = true;
            } else {
                (void)hash_batch(b);
            }
        }
        r = process_batch(st, a, segs, count);
        if (r == 0) {
            r = check_pruning(st, segs, count);
            break;
        }
        if (r != 1) {
            break;
        }
        struct batch *t = a;
        a = b;
        b = t;
    }
out:
    if (hashing) {
        (void)pthread_join(hasher, NULL);
    }
    if (a != NULL) {
        free(a->arena);
    }
    if (b != NULL) {
        free(b->arena);
    }
    free(a);
    free(b);
    evi_scanner_free(&sc);
    evi_segments_close(segs, count);
    return r;
}

int ev_verify_dir(const char *dir, const struct ev_verify_options *options,
                  struct ev_verify_report *ret_report)
{
    static const struct ev_verify_options no_options;
    const struct ev_verify_options *o = options != NULL ? options : &no_options;
    struct verifier_state st;
    struct evi_meta meta;
    struct ev_verifier *key = NULL;
    int dirfd, r;

    evi_error_clear();
    memset(ret_report, 0, sizeof(*ret_report));
    memset(&st, 0, sizeof(st));
    st.report = ret_report;
    ret_report->tags_checked = o->verification_key != NULL;
    evi_frontier_init(&st.frontier);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", dir, strerror(errno));
    }
    if (o->verification_key != NULL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        bool threaded = o->threads > 1 || (o->threads == 0 && cpus > 1);
        r = evi_tagcheck_new(o->verification_key, threaded, &st.tags);
        if (r < 0) {
            goto out;
        }
    }
    r = evi_meta_read(dirfd, &meta);
    if (r < 0) {
        goto out;
    }
    r = ev_verifier_parse(o->pubkey != NULL ? o->pubkey : meta.vkey, &key);
    if (r < 0) {
        r = evi_error(r, "%s public key: %s", o->pubkey != NULL ? "given" : "the log's",
                      ev_last_error());
        goto out;
    }
    st.key = key;
    r = load_requirements(&st, dirfd, o);
    if (r < 0) {
        goto out;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    r = scan_records(&st, dirfd, o->threads > 1 || (o->threads == 0 && cpus > 1), o);
    if (st.tags != NULL) {
        /*
         * The tag checker may run behind the main pass: a bad tag it found comes
         * before any failure the main pass met later, and before its stop.
         */
        uint64_t bad;
        uint32_t epoch;
        uint64_t j;
        if (evi_tagcheck_finish(st.tags, &bad, &epoch, &j) && (r == 0 || r == EV_EVERIFY) &&
            (ret_report->failure == EV_FAIL_NONE || !ret_report->has_entry ||
             bad <= ret_report->entry)) {
            r = fail(&st, EV_FAIL_TAG, true, bad,
                     "entry %" PRIu64 " (epoch %" PRIu32 ", record %" PRIu64
                     " of the epoch): tag does not verify",
                     bad, epoch, j);
            goto out;
        }
    }
    if (r < 0) {
        goto out;
    }
    evi_frontier_root(&st.frontier, ret_report->root);

    /* Whatever a checkpoint says must be there and is not. */
    if (st.req_next < st.req_count) {
        const struct requirement *q = &st.reqs[st.req_count - 1];
        char name[64];
        r = fail(&st, EV_FAIL_TRUNCATED, true, ret_report->entries,
                 "%s is for %" PRIu64 " entries but the log has %" PRIu64,
                 requirement_name(q, name), q->size, ret_report->entries);
        goto out;
    }
    if (ret_report->entries > 0 && ret_report->checkpoint_size == 0 && st.req_count == 0) {
        r = fail(&st, EV_FAIL_NO_CHECKPOINT, false, 0,
                 "the log has %" PRIu64 " entries but no signed checkpoint", ret_report->entries);
        goto out;
    }
    int64_t now = o->now_ns != 0 ? o->now_ns : evi_now_ns();
    if (ret_report->epochs_sealed > 0) {
        ret_report->any_sealed = true;
        ret_report->last_sealed_epoch = st.last_seal_epoch;
        ret_report->last_seal_ns = st.last_seal_ns;
        ret_report->last_seal_age_ns = now - st.last_seal_ns;
    }
    if (st.have_epoch && !st.epoch_sealed) {
        ret_report->open_epoch = true;
        ret_report->open_epoch_number = st.epoch;
        ret_report->open_epoch_entries = st.epoch_entries_after_seal;
        ret_report->open_epoch_since_ns = st.open_since_ns;
        ret_report->open_epoch_age_ns = now - st.open_since_ns;
    }
    r = 0;
out:
    evi_tagcheck_free(st.tags);
    free(st.reqs);
    free(st.claims);
    ev_verifier_free(key);
    (void)close(dirfd);
    return r;
}
