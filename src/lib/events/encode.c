/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing an event's data object: the schema's rows in order (so the keys come
 * out sorted and the object canonical without jansson), each field kept or
 * left out by the detail level, every string value through the sanitizer
 * before it is written. Nothing is written for an unset field.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "events/events.h"
#include "privacy/sanitize.h"

/* Captured text is sanitized this far past what is kept, so a secret cut by the limit is still
 * found whole (a PEM private key block is under 4 KiB). */
#define SANITIZE_SLACK 8192

struct enc {
    const struct evi_encoding *e;
    struct evi_jsonw *w;
    unsigned redacted;
    int error;
    bool cut; /* the last EVI_CUT string written was cut (for its EVI_CUT_MARK row) */
};

static const void *at(const void *base, size_t offset)
{
    return (const char *)base + offset;
}

static void fail(struct enc *x, int r)
{
    if (x->error == 0) {
        x->error = r;
    }
}

/* Writes s as a string value cut to max_escaped bytes once escaped (0 = no cut). */
static void put_cut(struct enc *x, const char *s, size_t len, size_t max_escaped, bool *ret_cut)
{
    size_t keep = len;
    if (max_escaped > 0) {
        keep = evi_jsonw_prefix_fitting(s, len, max_escaped);
    }
    if (ret_cut != NULL) {
        *ret_cut = keep < len;
    }
    evi_jsonw_string(x->w, s, keep);
}

/*
 * Writes len bytes of s as a string value, sanitized, then cut to max_escaped
 * bytes once escaped (0 = no cut). *ret_cut (may be NULL) says if it was cut.
 */
static void put_text(struct enc *x, const char *s, size_t len, size_t max_escaped, bool *ret_cut)
{
    char *clean = NULL;
    size_t clean_len = 0;
    if (x->e->sanitizer != NULL) {
        bool plain;
        int n = evi_sanitize_text_plain(x->e->sanitizer, s, len, &clean, &clean_len, &plain);
        if (n < 0) {
            fail(x, n);
            return;
        }
        if (plain) {
            /* Unchanged, and nothing to escape (the sanitizer's pass saw every byte): one
             * escaped byte per byte, so the cut is a length, as put_cut() finds it. */
            size_t keep = max_escaped > 0 && len > max_escaped ? max_escaped : len;
            if (ret_cut != NULL) {
                *ret_cut = keep < len;
            }
            evi_jsonw_plain_string(x->w, s, keep);
            return;
        }
        if (n > 0) {
            x->redacted += (unsigned)n;
            s = clean;
            len = clean_len;
        }
    }
    put_cut(x, s, len, max_escaped, ret_cut);
    free(clean);
}

/*
 * Writes the text of a capture, sanitized over a window SANITIZE_SLACK bytes
 * past what is kept. A secret replaced inside the window shortens it, which
 * would bring the window's cut edge (where a secret may be cut and so not
 * recognized) into what is kept: the window grows until the sanitized text
 * still reaches SANITIZE_SLACK past the limit, or covers the whole capture.
 * *ret_cut says if the text written is less than the whole capture.
 */
static void put_capture_text(struct enc *x, const struct ev_capture *c, size_t limit, bool *ret_cut)
{
    size_t want = limit + SANITIZE_SLACK;
    size_t window = c->len < want ? c->len : want;
    if (x->e->sanitizer == NULL) {
        put_cut(x, c->data, window, limit, ret_cut);
        *ret_cut = *ret_cut || window < c->len;
        return;
    }
    for (;;) {
        char *clean = NULL;
        size_t clean_len = 0;
        int n = evi_sanitize_text(x->e->sanitizer, c->data, window, &clean, &clean_len);
        if (n < 0) {
            fail(x, n);
            return;
        }
        if (n == 0 || clean_len >= want || window == c->len) {
            if (n > 0) {
                x->redacted += (unsigned)n;
            }
            put_cut(x, n > 0 ? clean : c->data, n > 0 ? clean_len : window, limit, ret_cut);
            *ret_cut = *ret_cut || window < c->len;
            free(clean);
            return;
        }
        free(clean);
        /* At least double, so that the bytes sanitized stay linear in the capture's. */
        size_t grown = window + (want - clean_len > window ? want - clean_len : window);
        window = grown < c->len ? grown : c->len;
    }
}

static void put_capture(struct enc *x, const struct ev_capture *c, size_t limit)
{
    evi_jsonw_begin_object(x->w);
    if (c->data != NULL) {
        static const char digits[] = "0123456789abcdef";
        uint8_t digest[EVI_HASH];
        char hex[2 * EVI_HASH + 2];
        evi_sha256(c->data, c->len, digest);
        /* A digest of content is not a secret: no need for evi_hex_encode's constant time. */
        hex[0] = '"';
        for (size_t i = 0; i < EVI_HASH; i++) {
            hex[1 + 2 * i] = digits[digest[i] >> 4];
            hex[2 + 2 * i] = digits[digest[i] & 0x0f];
        }
        hex[2 * EVI_HASH + 1] = '"';
        evi_jsonw_key(x->w, "bytes");
        evi_jsonw_int(x->w, (int64_t)c->len);
        evi_jsonw_key(x->w, "sha256");
        evi_jsonw_value_raw(x->w, hex, sizeof(hex)); /* hex needs no escaping */
        if (limit > 0) {
            bool cut = false;
            evi_jsonw_key(x->w, "text");
            put_capture_text(x, c, limit, &cut);
            if (cut) {
                evi_jsonw_key(x->w, "truncated");
                evi_jsonw_bool(x->w, true);
            }
        }
    } else {
        if (c->bytes.set) {
            evi_jsonw_key(x->w, "bytes");
            evi_jsonw_int(x->w, c->bytes.value);
        }
        if (c->sha256 != NULL) {
            evi_jsonw_key(x->w, "sha256");
            evi_jsonw_string(x->w, c->sha256, strlen(c->sha256));
        }
    }
    evi_jsonw_end_object(x->w);
}

static size_t capture_limit(const struct enc *x, const struct evi_field *f)
{
    const struct evi_capture_limits *l = &evi_capture_limits[x->e->level];
    return strcmp(f->name, "code") == 0 ? l->code : l->output;
}

static void put_json(struct enc *x, const char *path, const char *text)
{
    const char *canon;
    char *owned = NULL;
    int r = evi_canonical_object(path, text, &canon, &owned);
    if (r < 0) {
        fail(x, r);
        return;
    }
    char *clean = NULL;
    size_t clean_len = 0;
    int n = evi_event_sanitize_json(x->e->sanitizer, canon, strlen(canon), &clean, &clean_len);
    if (n < 0) {
        fail(x, n);
    } else if (n > 0) {
        x->redacted += (unsigned)n;
        evi_jsonw_value_raw(x->w, clean, clean_len);
    } else {
        evi_jsonw_value_raw(x->w, canon, strlen(canon));
    }
    free(clean);
    free(owned);
}

bool evi_object_set(const struct evi_schema *schema, const void *obj)
{
    for (size_t i = 0; i < schema->count; i++) {
        const struct evi_field *f = &schema->fields[i];
        if (!(f->flags & EVI_DERIVED) && evi_field_set(f, at(obj, f->offset))) {
            return true;
        }
    }
    return false;
}

static void put_object(struct enc *x, const struct evi_schema *schema, const void *obj,
                       const struct evi_derived *derived, size_t *ret_redacted_at,
                       bool *ret_before_redacted);

/* The value of a string row, len bytes. */
static inline void put_string(struct enc *x, const struct evi_field *f, const char *s, size_t len)
{
    if (f->flags & EVI_CUT) {
        /* Sanitized whole before the cut, so a secret across the cut is still found. */
        put_text(x, s, len, f->cut[x->e->level], &x->cut);
        return;
    }
    size_t cut = x->e->level == EV_LEVEL_BASIC ? f->basic_max : 0;
    put_text(x, s, len, cut, NULL);
}

/* known_len: strlen() of a string row's value when validation took it, else SIZE_MAX. */
static void put_field(struct enc *x, const struct evi_field *f, const void *p, size_t known_len)
{
    struct evi_jsonw *w = x->w;
    switch (f->kind) {
    case EV_FIELD_STRING:
        put_string(x, f, *(const char *const *)p,
                   known_len != SIZE_MAX ? known_len : strlen(*(const char *const *)p));
        return;
    case EV_FIELD_DIGEST: {
        const char *s = *(const char *const *)p;
        evi_jsonw_string(w, s, strlen(s));
        return;
    }
    case EV_FIELD_INT:
        evi_jsonw_int(w, (f->flags & EVI_PLAIN_INT) ? *(const int64_t *)p
                                                    : ((const struct ev_opt_int *)p)->value);
        return;
    case EV_FIELD_BOOL: evi_jsonw_bool(w, ((const struct ev_opt_bool *)p)->value); return;
    case EV_FIELD_ENUM: {
        /* The schema's own names: plain ASCII, nothing to escape (test_schema_precomputed). */
        int v = *(const int *)p;
        const char *name = f->enum_names[v];
        evi_jsonw_plain_string(w, name,
                               f->enum_name_lens != NULL ? f->enum_name_lens[v] : strlen(name));
        return;
    }
    case EV_FIELD_STRINGS: {
        const struct ev_strings *l = p;
        evi_jsonw_begin_array(w);
        for (size_t i = 0; i < l->count; i++) {
            put_text(x, l->items[i], strlen(l->items[i]), 0, NULL);
        }
        evi_jsonw_end_array(w);
        return;
    }
    case EV_FIELD_CAPTURE: put_capture(x, p, capture_limit(x, f)); return;
    case EV_FIELD_OBJECT: put_object(x, f->sub, p, NULL, NULL, NULL); return;
    case EV_FIELD_OBJECTS: {
        const char *items = *(const char *const *)p;
        size_t count = *(const size_t *)((const char *)p + sizeof(void *));
        evi_jsonw_begin_array(w);
        for (size_t i = 0; i < count; i++) {
            put_object(x, f->sub, items + i * f->item_size, NULL, NULL, NULL);
        }
        evi_jsonw_end_array(w);
        return;
    }
    case EV_FIELD_JSON: put_json(x, f->name, *(const char *const *)p); return;
    }
}

/* Where put_object() is in an object: what the rows with rules of their own look at. */
struct members {
    bool any;              /* a member was written */
    size_t *redacted_at;   /* NULL, or where "redacted" goes (known only at the end) */
    bool *before_redacted; /* whether a member comes before it */
};

/*
 * Row i of an object kept at this level: written when it has a value. known_len: strlen() of a
 * string row's value when validation took it, else SIZE_MAX.
 */
static inline __attribute__((always_inline)) void
put_row(struct enc *x, const struct evi_field *fields, size_t i, const void *obj,
        const struct evi_derived *derived, size_t known_len, struct members *m)
{
    const struct evi_field *f = &fields[i];
    const enum ev_level level = x->e->level;
    if (f->flags & EVI_REDACTED) {
        /* Known only at the end: remember where it goes. */
        if (m->redacted_at != NULL) {
            *m->redacted_at = x->w->len;
            *m->before_redacted = m->any;
        }
        return;
    }
    if (f->flags & EVI_CUT_MARK) {
        /* Its row follows the string's (NAME, then NAME_truncated, in byte order). */
        if (x->cut && i > 0 && (fields[i - 1].flags & EVI_CUT) && fields[i - 1].level <= level) {
            evi_jsonw_key_n(x->w, f->name, evi_field_name_len(f));
            evi_jsonw_bool(x->w, true);
            m->any = true;
        }
        x->cut = false;
        return;
    }
    const void *p;
    if (f->flags & (EVI_DERIVED | EVI_OUT_DERIVED)) {
        if (derived == NULL) {
            return;
        }
        p = at(derived, f->derived_offset);
        if (!evi_field_set(f, p) && !(f->kind == EV_FIELD_OBJECT && (f->flags & EVI_OUT_DERIVED))) {
            return;
        }
    } else {
        p = at(obj, f->offset);
    }
    evi_jsonw_key_n(x->w, f->name, evi_field_name_len(f));
    put_field(x, f, p, known_len);
    m->any = true;
}

static void put_object(struct enc *x, const struct evi_schema *schema, const void *obj,
                       const struct evi_derived *derived, size_t *ret_redacted_at,
                       bool *ret_before_redacted)
{
    /* In locals: the text written through w->data (char) may alias anything. */
    const enum ev_level level = x->e->level;
    const struct evi_field *fields = schema->fields;
    const size_t count = schema->count;
    struct members m = {false, ret_redacted_at, ret_before_redacted};
    evi_jsonw_begin_object(x->w);
    for (size_t i = 0; i < count; i++) {
        const struct evi_field *f = &fields[i];
        if (f->level > level) {
            continue;
        }
        if (!(f->flags & (EVI_REDACTED | EVI_CUT_MARK | EVI_DERIVED | EVI_OUT_DERIVED)) &&
            !evi_field_set(f, at(obj, f->offset))) {
            continue; /* most rows: a value of the event, left out when unset */
        }
        put_row(x, fields, i, obj, derived, SIZE_MAX, &m);
    }
    evi_jsonw_end_object(x->w);
}

/*
 * put_object() for an event whose rows validation has seen (a merged table): only the rows set
 * and the ones with rules of their own, in the same order, with the string lengths known.
 */
static void put_event(struct enc *x, const struct evi_schema *schema, const void *event,
                      const struct evi_rows *rows, const struct evi_derived *derived,
                      size_t *ret_redacted_at, bool *ret_before_redacted)
{
    const struct evi_field *fields = schema->fields;
    struct members m = {false, ret_redacted_at, ret_before_redacted};
    uint64_t todo = (rows->set | schema->own_rules) & schema->kept[x->e->level];
    evi_jsonw_begin_object(x->w);
    for (; todo != 0; todo &= todo - 1) {
        size_t i = (size_t)__builtin_ctzll(todo);
        const struct evi_field *f = &fields[i];
        if (schema->own_rules & (todo & -todo)) {
            put_row(x, fields, i, event, derived, SIZE_MAX, &m);
            continue;
        }
        /* A value of the event, set: put_row()'s last steps, a string's without put_field(). */
        const void *p = at(event, f->offset);
        evi_jsonw_key_n(x->w, f->name, evi_field_name_len(f));
        if (f->kind == EV_FIELD_STRING) {
            /* Validation took the length of every set string row with a limit. */
            const char *s = *(const char *const *)p;
            put_string(x, f, s, f->max > 0 ? rows->lengths[i] : strlen(s));
        } else {
            put_field(x, f, p, SIZE_MAX);
        }
        m.any = true;
    }
    evi_jsonw_end_object(x->w);
}

int evi_event_encode(const struct evi_schema *schema, const void *event,
                     const struct evi_derived *derived, const struct evi_encoding *encoding,
                     struct evi_jsonw *w, unsigned *ret_redacted)
{
    struct enc x = {.e = encoding, .w = w};
    size_t redacted_at = 0;
    bool before = false;

    evi_jsonw_reset(w);
    w->max = encoding->max_bytes;
    if (encoding->rows != NULL && schema->masks) {
        put_event(&x, schema, event, encoding->rows, derived, &redacted_at, &before);
    } else {
        put_object(&x, schema, event, derived, &redacted_at, &before);
    }
    if (x.error != 0) {
        return x.error;
    }
    if (evi_jsonw_error(w) != 0) {
        return evi_jsonw_error(w);
    }
    if (x.redacted > 0) {
        /* Insert "redacted":N where its row is, with the comma on the right side. */
        char member[40];
        bool after = redacted_at < w->len - 1; /* another member follows */
        int n = snprintf(member, sizeof(member), "%s\"redacted\":%u%s", before ? "," : "",
                         x.redacted, !before && after ? "," : "");
        size_t tail = w->len - redacted_at;
        evi_jsonw_raw(w, member, (size_t)n); /* grows the buffer (and checks the limit) */
        if (evi_jsonw_error(w) != 0) {
            return evi_jsonw_error(w);
        }
        memmove(w->data + redacted_at + (size_t)n, w->data + redacted_at, tail);
        memcpy(w->data + redacted_at, member, (size_t)n);
    }
    *ret_redacted = x.redacted;
    return 0;
}
