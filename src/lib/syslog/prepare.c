/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A parsed syslog message as a `syslog` typed event: its spans copied out as
 * NUL-terminated strings, its structured data as a JSON object, then the same
 * path as every typed event (ev_syslog_event_prepare: validation, policy,
 * sanitization, canonical encoding).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/syslog.h>

#include "error.h"
#include "events/events.h"
#include "jsonw.h"
#include "syslog/syslog-internal.h"

/* One SD-PARAM (or a parameterless SD-ELEMENT: name.ptr NULL), in the order sent. */
struct sd_item {
    struct ev_syslog_span id, name, value;
    size_t order;
};

struct sd_items {
    struct sd_item *items;
    size_t count, cap;
};

static int collect(void *ctx, struct ev_syslog_span id, struct ev_syslog_span name,
                   struct ev_syslog_span value)
{
    struct sd_items *l = ctx;
    if (l->count == l->cap) {
        return -ENOMEM; /* cannot happen: cap is an upper bound on the items */
    }
    l->items[l->count] = (struct sd_item){id, name, value, l->count};
    l->count++;
    return 0;
}

static int span_cmp(struct ev_syslog_span a, struct ev_syslog_span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0) {
        return c;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}

static bool span_eq(struct ev_syslog_span a, struct ev_syslog_span b)
{
    return span_cmp(a, b) == 0;
}

/* By SD-ID, then PARAM-NAME (as JSON sorts keys: by bytes), then the order sent. */
static int item_cmp(const void *pa, const void *pb)
{
    const struct sd_item *a = pa, *b = pb;
    int c = span_cmp(a->id, b->id);
    if (c == 0) {
        c = span_cmp(a->name, b->name);
    }
    if (c == 0) {
        c = a->order < b->order ? -1 : a->order > b->order;
    }
    return c;
}

/*
 * A JSON member name that may need escaping (SD names may hold '\'), which
 * evi_jsonw_key() does not do: the name is written as a string value, then the
 * colon, and the writer is told no comma is due before the member's value.
 */
static void put_key(struct evi_jsonw *w, struct ev_syslog_span name)
{
    evi_jsonw_string(w, name.ptr, name.len);
    evi_jsonw_raw(w, ":", 1);
    w->need_comma = false;
}

/* A PARAM-VALUE with its escapes undone (RFC 5424 §6.3.3: \" \\ \]; any other '\' stays). */
static void put_value(struct evi_jsonw *w, struct ev_syslog_span v, char *scratch)
{
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == '\\' && i + 1 < v.len &&
            (v.ptr[i + 1] == '"' || v.ptr[i + 1] == '\\' || v.ptr[i + 1] == ']')) {
            i++;
        }
        scratch[n++] = v.ptr[i];
    }
    evi_jsonw_string(w, scratch, n);
}

/*
 * STRUCTURED-DATA as {"SD-ID": {"PARAM": "value" | ["value", ...]}}, whole
 * SD-IDs kept while the text stays within EV_SYSLOG_MAX_SD_JSON bytes.
 * *ret_json is malloc'd (NULL when there is no SD).
 */
static int sd_json(struct ev_syslog_span sd, char **ret_json, bool *ret_truncated)
{
    struct sd_items l = {0};
    struct evi_jsonw w;
    char *scratch = NULL;
    size_t end;
    int r;

    *ret_json = NULL;
    *ret_truncated = false;
    if (sd.ptr == NULL) {
        return 0;
    }
    evi_jsonw_init(&w, 0);
    l.cap = sd.len / 3 + 1; /* each item takes at least "[a]" or " a=\"\"" */
    l.items = malloc(l.cap * sizeof(*l.items));
    scratch = malloc(sd.len + 1);
    if (l.items == NULL || scratch == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_syslog_sd_walk(sd.ptr, sd.len, 0, collect, &l, &end);
    if (r < 0) {
        goto out;
    }
    qsort(l.items, l.count, sizeof(*l.items), item_cmp);
    evi_jsonw_begin_object(&w);
    for (size_t i = 0; i < l.count;) {
        size_t group_start = w.len;
        bool comma = w.need_comma;
        size_t j = i;
        put_key(&w, l.items[i].id);
        evi_jsonw_begin_object(&w);
        while (j < l.count && span_eq(l.items[j].id, l.items[i].id)) {
            if (l.items[j].name.ptr == NULL) {
                j++; /* an element without parameters adds only its SD-ID */
                continue;
            }
            size_t k = j;
            while (k < l.count && span_eq(l.items[k].id, l.items[i].id) &&
                   span_eq(l.items[k].name, l.items[j].name)) {
                k++;
            }
            put_key(&w, l.items[j].name);
            if (k - j > 1) {
                evi_jsonw_begin_array(&w);
            }
            for (size_t v = j; v < k; v++) {
                put_value(&w, l.items[v].value, scratch);
            }
            if (k - j > 1) {
                evi_jsonw_end_array(&w);
            }
            j = k;
        }
        evi_jsonw_end_object(&w);
        if (evi_jsonw_error(&w) == 0 && w.len + 1 > EV_SYSLOG_MAX_SD_JSON) {
            /* This SD-ID does not fit: it and the ones after it are left out. */
            w.len = group_start;
            w.need_comma = comma;
            *ret_truncated = true;
            break;
        }
        i = j;
    }
    evi_jsonw_end_object(&w);
    evi_jsonw_raw(&w, "", 1); /* the NUL */
    r = evi_jsonw_error(&w);
    if (r < 0) {
        goto out;
    }
    *ret_json = w.data;
    w.data = NULL;
out:
    evi_jsonw_free(&w);
    free(scratch);
    free(l.items);
    return r;
}

const char *evi_syslog_copy_text_slow(char **cursor, struct ev_syslog_span s, size_t max)
{
    char *start = *cursor, *p = start;
    size_t i = 0;
    if (s.ptr == NULL) {
        return NULL;
    }
    /*
     * Byte by byte, a byte goes in while 3 bytes of room are left (max - 2 in
     * all): whole runs without NUL are copied at once up to that same bound.
     */
    size_t plain_max = max >= 2 ? max - 2 : 0;
    while (i < s.len && (size_t)(p - start) + 3 <= max) {
        const char *nul = memchr(s.ptr + i, '\0', s.len - i);
        size_t run = (nul != NULL ? (size_t)(nul - s.ptr) : s.len) - i;
        size_t room = plain_max - (size_t)(p - start);
        if (run > room) {
            run = room;
        }
        memcpy(p, s.ptr + i, run);
        p += run;
        i += run;
        if (nul != NULL && s.ptr + i == nul && (size_t)(p - start) + 3 <= max) {
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i++;
        }
    }
    *p++ = '\0';
    *cursor = p;
    return start;
}

int ev_syslog_prepare(const struct ev_policy *policy, const struct ev_syslog_message *message,
                      const char *source_json, struct ev_prepared *out)
{
    struct ev_syslog_event e;
    char *strings = NULL, *sd = NULL;
    bool sd_truncated = false;
    int r;

    memset(out, 0, sizeof(*out));
    if (message == NULL || message->facility < 0 || message->facility > 23 ||
        message->severity < EV_SEV_EMERGENCY || message->severity > EV_SEV_DEBUG ||
        (message->format != EV_SYSLOG_RFC5424 && message->format != EV_SYSLOG_RFC3164)) {
        return evi_error(EV_EFORMAT, "syslog: not a parsed message");
    }
    const struct ev_syslog_span *spans[] = {&message->timestamp, &message->hostname,
                                            &message->app_name,  &message->procid,
                                            &message->msgid,     &message->msg};
    size_t total = 0;
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
        if (spans[i]->len > EV_SYSLOG_MAX_BYTES) {
            return evi_error(EV_ETOOBIG, "syslog: a field over %u bytes", EV_SYSLOG_MAX_BYTES);
        }
        total += 3 * spans[i]->len + 1;
    }
    /* Most messages fit on the stack: a malloc and a free less per message. */
    char local[4096];
    strings = total <= sizeof(local) ? local : malloc(total);
    if (strings == NULL) {
        return evi_error(-ENOMEM, "out of memory");
    }
    r = sd_json(message->structured_data, &sd, &sd_truncated);
    if (r < 0) {
        goto out;
    }
    char *cursor = strings;
    memset(&e, 0, sizeof(e));
    e.common.severity = EV_SOME_INT(message->severity);
    e.common.source_json = source_json;
    e.format = message->format;
    e.facility = EV_SYSLOG_FACILITY(message->facility);
    /* The header fields are printable ASCII (the parser checked); their limits are the schema's,
     * so a message not from ev_syslog_parse() is refused by validation, not cut. */
    /* Each copy's length is what the cursor moved less its NUL (a copy holds none). */
    size_t lengths[EVI_SYSLOG_STRINGS];
    char *before = cursor;
    e.timestamp = evi_syslog_copy_text(&cursor, message->timestamp, SIZE_MAX);
    lengths[EVI_SYSLOG_TIMESTAMP] = (size_t)(cursor - before) - 1;
    before = cursor;
    e.hostname = evi_syslog_copy_text(&cursor, message->hostname, SIZE_MAX);
    lengths[EVI_SYSLOG_HOSTNAME] = (size_t)(cursor - before) - 1;
    before = cursor;
    e.app_name = evi_syslog_copy_text(&cursor, message->app_name, SIZE_MAX);
    lengths[EVI_SYSLOG_APP_NAME] = (size_t)(cursor - before) - 1;
    before = cursor;
    e.procid = evi_syslog_copy_text(&cursor, message->procid, SIZE_MAX);
    lengths[EVI_SYSLOG_PROCID] = (size_t)(cursor - before) - 1;
    before = cursor;
    e.msgid = evi_syslog_copy_text(&cursor, message->msgid, SIZE_MAX);
    lengths[EVI_SYSLOG_MSGID] = (size_t)(cursor - before) - 1;
    before = cursor;
    /* Cut to the schema's input bound; every level keeps less than that anyway. */
    e.message = evi_syslog_copy_text(&cursor, message->msg, EV_SYSLOG_MAX_BYTES);
    lengths[EVI_SYSLOG_MESSAGE] = (size_t)(cursor - before) - 1;
    e.structured_data_json = sd;
    if (sd_truncated) {
        e.structured_data_truncated = EV_SOME_BOOL(true);
    }
    r = evi_syslog_event_prepare_known(policy, &e, lengths, out);
out:
    free(sd);
    if (strings != local) {
        free(strings);
    }
    return r;
}
