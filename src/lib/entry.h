/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entries: the JSON envelope of docs/FORMAT.md §5 and the writer's clock.
 * Building an entry from an ev_event, and reading the fixed prefix back.
 */
#ifndef EVI_ENTRY_H
#define EVI_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

#define EVI_TS_LEN 30 /* "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ" */
#define EVI_TYPE_MAX 64

/*
 * The part of an entry that does not depend on its place in the log:
 * `"type":...,"severity":...,"source":{...},"data":{...}}`. Made outside the
 * writer lock; the sequencer puts the prefix in front.
 */
struct evi_entry_body {
    char *text;
    size_t len; /* the bytes the body takes in the stored entry */
    /*
     * Encryption (FORMAT.md §5.1), set by evi_entry_body_encrypt(): text holds
     * the plain body (plain_len bytes), `"source":` begins at plain_off, and
     * evi_entry_assemble() writes the envelope of len bytes in its place.
     */
    struct ev_datakeys *enc;
    size_t plain_len;
    size_t plain_off;
    /*
     * EVI_BODY_BORROW: text is NULL and the body is these four pieces (type,
     * severity name, source, data), borrowed from the event, which must outlive
     * the body; evi_entry_assemble() joins them with the envelope's keys.
     */
    const char *part[4];
    size_t part_len[4];
};

enum {
    EVI_BODY_ALLOW_RESERVED = 1u << 0, /* the writer's own types (seal) */
    /*
     * data_json was written by the library itself in canonical form (the audit
     * layer's encoder): used as it is, not checked again. Never for a caller's text.
     */
    EVI_BODY_DATA_CANONICAL = 1u << 1,
    /*
     * When the source and data need no canonical copy, borrow them (and the
     * type) instead of joining them into a new text: no malloc and one copy
     * less per entry. The event must outlive the body. For the writer's
     * batches, which assemble their bodies before returning.
     */
    EVI_BODY_BORROW = 1u << 2,
};

/* Validates and canonicalizes an event into a body. EV_EJSON/EV_ETOOBIG on bad input. */
int evi_entry_body_make(const struct ev_event *event, unsigned flags,
                        struct evi_entry_body *ret_body);
/*
 * The same, with EVI_BODY_DATA_CANONICAL data whose length the caller knows
 * (data_len == strlen(event->data_json)): the library's own prepared events.
 * data_len is ignored without that flag.
 */
int evi_entry_body_make_len(const struct ev_event *event, unsigned flags, size_t data_len,
                            struct evi_entry_body *ret_body);
/*
 * What one batch has already checked: the last type that passed (and its
 * length) and the last source used as it is (canonical). Within one call the
 * caller's events do not change, so the same pointer means the same bytes,
 * and the check need not run again: most batches repeat one type and, per
 * connection, one source. Start each batch zeroed; never keep one across
 * calls (a pointer may then hold other bytes). EVI_BODY_ALLOW_RESERVED must
 * be the same for every event made with it.
 */
struct evi_body_seen {
    const char *type;
    size_t type_len;
    const char *source;
    size_t source_len;
};
/* evi_entry_body_make_len with seen (NULL: check everything). */
int evi_entry_body_make_seen(const struct ev_event *event, unsigned flags, size_t data_len,
                             struct evi_body_seen *seen, struct evi_entry_body *ret_body);
void evi_entry_body_free(struct evi_entry_body *body);

/*
 * Makes body an encrypted one (FORMAT.md §5.1) under keys' current key: its
 * len becomes the envelope's exact length, so size checks before sequencing
 * hold. The encryption itself happens in evi_entry_assemble(), once seq and
 * ts are known (they are authenticated). EV_ETOOBIG if the envelope would not
 * fit; on failure the body is freed (as if evi_entry_body_make had failed).
 */
int evi_entry_body_encrypt(struct evi_entry_body *body, struct ev_datakeys *keys);

/*
 * text (NUL-terminated) as one canonical JSON object (docs/FORMAT.md §5): *ret_text
 * is text itself when it already is one, else a copy in *ret_owned (caller frees).
 * EV_EJSON naming what ("data", "source") when text is not a JSON object.
 */
int evi_canonical_object(const char *what, const char *text, const char **ret_text,
                         char **ret_owned);

/* Default source object for this process (host, program, pid, uid, user). */
const char *evi_default_source(void);

/* Bytes that `{"v":1,"seq":N,"ts":"...",` takes for this seq. */
size_t evi_entry_prefix_len(uint64_t seq);

/*
 * Writes `{"v":1,"seq":N,"ts":"...",` followed by body into out (cap bytes);
 * returns the entry length or EV_ETOOBIG if over cap or EV_ENTRY_MAX_BYTES.
 * An encrypted body is sealed here (a random nonce each call); other codes
 * then come from the AEAD (-EIO) or the CSPRNG.
 */
long evi_entry_assemble(uint64_t seq, int64_t ts_ns, const struct evi_entry_body *body, char *out,
                        size_t cap);

/* Fields from an entry's fixed prefix. type points into the entry. */
struct evi_entry_view {
    uint64_t seq;
    int64_t ts_ns;
    const char *type;
    size_t type_len;
};

/* Parses the fixed prefix. EV_EFORMAT (with a message) if it is not one. */
int evi_entry_view(const uint8_t *entry, size_t len, struct evi_entry_view *ret_view);

bool evi_entry_is_type(const struct evi_entry_view *view, const char *type);

/* RFC 3339 UTC with nine fraction digits; out must hold EVI_TS_LEN + 1. */
void evi_ts_format(int64_t ns, char out[EVI_TS_LEN + 1]);
/* Strict inverse of evi_ts_format. 0 or -1. */
int evi_ts_parse_exact(const char *text, int64_t *ret_ns);

/* CLOCK_REALTIME in ns. */
int64_t evi_now_ns(void);

/* Seal data (FORMAT.md §7). */
struct evi_seal {
    uint32_t epoch;
    uint64_t tree_size;
    uint8_t root[32];
    uint8_t chain_head[32];
};

/* Body of a seal entry. */
int evi_seal_body_make(const struct evi_seal *seal, struct evi_entry_body *ret_body);
/* Parses a seal entry's data. EV_EFORMAT if it is not exactly a seal. */
int evi_seal_parse(const uint8_t *entry, size_t len, struct evi_seal *ret_seal);

#endif
