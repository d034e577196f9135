/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entries: the JSON envelope of docs/FORMAT.md §5. This is the only file of the
 * engine that talks to jansson.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "json.h"
#include "privacy/datakey.h"

/* `{"v":1,"seq":` + 20 digits + `,"ts":"` + ts + `",` */
#define PREFIX_MAX (13 + 20 + 7 + EVI_TS_LEN + 2)
static const char prefix_head[] = "{\"v\":1,\"seq\":";

static const char *const severity_names[] = {
    "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug",
};
_Static_assert(sizeof(severity_names) / sizeof(severity_names[0]) == EV_SEV_DEBUG + 1,
               "one name per severity");

const char *ev_severity_name(int severity)
{
    if (severity < 0 || severity > EV_SEV_DEBUG) {
        return NULL;
    }
    return severity_names[severity];
}

int ev_severity_parse(const char *name, int *ret_severity)
{
    static const struct {
        const char *alias;
        int severity;
    } aliases[] = {
        {"emerg", EV_SEV_EMERGENCY},
        {"crit", EV_SEV_CRITICAL},
        {"err", EV_SEV_ERROR},
        {"warn", EV_SEV_WARNING},
    };

    if (name == NULL) {
        return evi_error(EV_EFORMAT, "severity missing");
    }
    for (int i = 0; i <= EV_SEV_DEBUG; i++) {
        if (strcmp(name, severity_names[i]) == 0) {
            *ret_severity = i;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcmp(name, aliases[i].alias) == 0) {
            *ret_severity = aliases[i].severity;
            return 0;
        }
    }
    return evi_error(EV_EFORMAT,
                     "unknown severity '%.40s' (expected emergency, alert, critical, "
                     "error, warning, notice, info or debug)",
                     name);
}

static bool type_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '-';
}

/*
 * Checks an event type (FORMAT.md §5) and returns its length, or a negative
 * code. One pass: the length comes with the check (once per entry on the
 * writer's path, where a strlen, the check and a second strlen were).
 */
static long check_type(const char *type, bool allow_reserved)
{
    size_t n = 0, bad = SIZE_MAX;

    if (type == NULL || type[0] == '\0') {
        return evi_error(EV_EJSON, "event type missing");
    }
    for (; type[n] != '\0'; n++) {
        if (n == EVI_TYPE_MAX) {
            return evi_error(EV_EJSON, "event type longer than %d characters", EVI_TYPE_MAX);
        }
        if (bad == SIZE_MAX && !type_char(type[n])) {
            bad = n;
        }
    }
    if (type[0] < 'a' || type[0] > 'z') {
        return evi_error(EV_EJSON, "event type '%.64s' must start with a letter a-z", type);
    }
    if (bad != SIZE_MAX) {
        return evi_error(EV_EJSON, "event type '%.64s': character %zu not in [a-z0-9_.:-]", type,
                         bad + 1);
    }
    if (!allow_reserved && ((n == 4 && memcmp(type, "seal", 4) == 0) ||
                            (n == 9 && memcmp(type, "retention", 9) == 0))) {
        return evi_error(EV_EJSON, "event type '%s' is reserved for the log itself", type);
    }
    return (long)n;
}

/* Parses an object and writes it back compact with sorted keys (§5). */
static int canonical_object(const char *what, const char *text, char **ret)
{
    json_error_t jerr;
    json_t *value = NULL;
    char *out = NULL;
    size_t len = strlen(text);
    int r;

    if (len > EV_ENTRY_MAX_BYTES) {
        return evi_error(EV_ETOOBIG, "%s: %zu bytes, over the entry limit of %u", what, len,
                         EV_ENTRY_MAX_BYTES);
    }
    value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        return evi_error(EV_EJSON, "%s: invalid JSON at line %d column %d: %s", what, jerr.line,
                         jerr.column, jerr.text);
    }
    if (!json_is_object(value)) {
        r = evi_error(EV_EJSON, "%s: must be a JSON object", what);
        goto out;
    }
    out = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    if (out == NULL) {
        r = -ENOMEM;
        goto out;
    }
    *ret = out;
    out = NULL;
    r = 0;
out:
    json_decref(value);
    free(out);
    return r;
}

static pthread_once_t source_once = PTHREAD_ONCE_INIT;
static char *default_source;

static void make_default_source(void)
{
    char host[256] = "";
    json_t *o = json_object();
    struct passwd pw, *pwp = NULL;
    char pwbuf[1024];
    uid_t uid = getuid();

    if (o == NULL) {
        return;
    }
    if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') {
        (void)json_object_set_new(o, "host", json_string(host));
    }
    if (program_invocation_short_name != NULL && program_invocation_short_name[0] != '\0') {
        (void)json_object_set_new(o, "program", json_string(program_invocation_short_name));
    }
    (void)json_object_set_new(o, "pid", json_integer(getpid()));
    (void)json_object_set_new(o, "uid", json_integer(uid));
    if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp != NULL) {
        (void)json_object_set_new(o, "user", json_string(pw.pw_name));
    }
    default_source = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
}

const char *evi_default_source(void)
{
    (void)pthread_once(&source_once, make_default_source);
    return default_source != NULL ? default_source : "{}";
}

/* A canonical object: borrowed as is when it already is one, else made by jansson. */
int evi_canonical_object(const char *what, const char *text, const char **ret_text,
                         char **ret_owned)
{
    size_t len = strlen(text);

    if (len <= EV_ENTRY_MAX_BYTES && evi_json_is_canonical_object(text, len)) {
        *ret_text = text;
        return 0;
    }
    if (len <= EV_ENTRY_MAX_BYTES) {
        /* Only whitespace or member order to fix: no need for jansson's trees. */
        char *out = malloc(len + 1);
        if (out == NULL) {
            return -ENOMEM;
        }
        size_t n = evi_json_canonicalize_object(text, len, out, len);
        if (n > 0) {
            out[n] = '\0';
            *ret_owned = out;
            *ret_text = out;
            return 0;
        }
        free(out);
    }
    int r = canonical_object(what, text, ret_owned);
    if (r == 0) {
        *ret_text = *ret_owned;
    }
    return r;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* `"type":"T","severity":"S","source":SRC,"data":DATA}` from a body's pieces (§5). */
static char *put_parts(char *p, const struct evi_entry_body *body)
{
    p = put(p, "\"type\":\"", 8);
    p = put(p, body->part[0], body->part_len[0]);
    p = put(p, "\",\"severity\":\"", 14);
    p = put(p, body->part[1], body->part_len[1]);
    p = put(p, "\",\"source\":", 11);
    p = put(p, body->part[2], body->part_len[2]);
    p = put(p, ",\"data\":", 8);
    p = put(p, body->part[3], body->part_len[3]);
    return put(p, "}", 1);
}

/*
 * Whether a source is one already seen canonical by this thread. A daemon sends
 * the same few sources (one per connection) with every event, and comparing
 * bytes costs far less than checking them again; the answer depends only on
 * the bytes, so a match is as good as the check.
 */
#define SOURCE_CACHE_BYTES 512
static _Thread_local char source_seen[SOURCE_CACHE_BYTES];
static _Thread_local size_t source_seen_len;

static bool source_is_canonical(const char *text, size_t len)
{
    if (len != 0 && len == source_seen_len && memcmp(text, source_seen, len) == 0) {
        return true;
    }
    if (!evi_json_is_canonical_object(text, len)) {
        return false;
    }
    if (len <= SOURCE_CACHE_BYTES) {
        memcpy(source_seen, text, len);
        source_seen_len = len;
    }
    return true;
}

int evi_entry_body_make(const struct ev_event *event, unsigned flags,
                        struct evi_entry_body *ret_body)
{
    size_t data_len = 0;
    if (event->data_json != NULL && (flags & EVI_BODY_DATA_CANONICAL)) {
        data_len = strlen(event->data_json);
    }
    return evi_entry_body_make_len(event, flags, data_len, ret_body);
}

int evi_entry_body_make_len(const struct ev_event *event, unsigned flags, size_t data_len,
                            struct evi_entry_body *ret_body)
{
    return evi_entry_body_make_seen(event, flags, data_len, NULL, ret_body);
}

int evi_entry_body_make_seen(const struct ev_event *event, unsigned flags, size_t data_len,
                             struct evi_body_seen *seen, struct evi_entry_body *ret_body)
{
    static const unsigned char severity_lens[] = {9, 5, 8, 5, 7, 6, 4, 5};
    _Static_assert(sizeof(severity_lens) == EV_SEV_DEBUG + 1, "one length per severity");
    char *source = NULL, *data = NULL, *text = NULL, *p;
    const char *src = NULL, *dat = "{}";
    const char *sev;
    size_t type_len, sev_len, src_len, dat_len, len;
    int r;

    if (seen != NULL && seen->type != NULL && event->type == seen->type) {
        type_len = seen->type_len; /* the same bytes, checked for an event before (entry.h) */
    } else {
        long checked = check_type(event->type, (flags & EVI_BODY_ALLOW_RESERVED) != 0);
        if (checked < 0) {
            return (int)checked;
        }
        type_len = (size_t)checked;
        if (seen != NULL) {
            seen->type = event->type;
            seen->type_len = type_len;
        }
    }
    sev = ev_severity_name(event->severity);
    if (sev == NULL) {
        return evi_error(EV_EJSON, "severity %d out of range 0..7", event->severity);
    }
    sev_len = severity_lens[event->severity]; /* strlen(severity_names[...]) */
    src_len = 0;
    if (event->source_json != NULL && seen != NULL && event->source_json == seen->source) {
        src = event->source_json;
        src_len = seen->source_len;
    } else if (event->source_json != NULL) {
        src_len = strlen(event->source_json);
        if (src_len <= EV_ENTRY_MAX_BYTES && source_is_canonical(event->source_json, src_len)) {
            src = event->source_json;
            if (seen != NULL) {
                seen->source = src;
                seen->source_len = src_len;
            }
        } else {
            r = evi_canonical_object("source", event->source_json, &src, &source);
            if (r < 0) {
                goto out;
            }
            src_len = strlen(src);
        }
    } else {
        src = evi_default_source();
        src_len = strlen(src);
    }
    if (event->data_json != NULL && (flags & EVI_BODY_DATA_CANONICAL)) {
        dat = event->data_json;
        dat_len = data_len;
    } else if (event->data_json != NULL) {
        r = evi_canonical_object("data", event->data_json, &dat, &data);
        if (r < 0) {
            goto out;
        }
        dat_len = strlen(dat);
    } else {
        dat_len = 2;
    }
    /* "type":"T","severity":"S","source":SRC,"data":DATA} */
    len = 8 + type_len + 14 + sev_len + 11 + src_len + 8 + dat_len + 1;
    /* The exact check, with the real seq, is evi_entry_fits() at sequencing. */
    if (len + evi_entry_prefix_len(0) > EV_ENTRY_MAX_BYTES) {
        r = evi_error(EV_ETOOBIG, "entry would be over %zu bytes, over the limit of %u",
                      len + evi_entry_prefix_len(0), EV_ENTRY_MAX_BYTES);
        goto out;
    }
    /* The whole struct: callers may pass it uninitialized (a plain body, §5). */
    struct evi_entry_body body = {
        .len = len,
        .part = {event->type, sev, src, dat},
        .part_len = {type_len, sev_len, src_len, dat_len},
    };
    if ((flags & EVI_BODY_BORROW) && source == NULL && data == NULL) {
        *ret_body = body;
        r = 0;
        goto out;
    }
    text = malloc(len + 1);
    if (text == NULL) {
        r = -ENOMEM;
        goto out;
    }
    p = put_parts(text, &body);
    *p = '\0';
    *ret_body = (struct evi_entry_body){.text = text, .len = len};
    text = NULL;
    r = 0;
out:
    free(source);
    free(data);
    free(text);
    return r;
}

void evi_entry_body_free(struct evi_entry_body *body)
{
    if (body != NULL) {
        if (body->enc != NULL) {
            evi_wipe(body->text, body->plain_len); /* the plaintext of an encrypted entry */
        }
        free(body->text);
        body->text = NULL;
        body->len = 0;
        body->enc = NULL;
    }
}

int evi_entry_body_encrypt(struct evi_entry_body *body, struct ev_datakeys *keys)
{
    if (body->text == NULL) {
        /* Borrowed pieces: the envelope needs the plain body as one text. */
        char *text = malloc(body->len + 1);
        if (text == NULL) {
            evi_entry_body_free(body); /* nothing of its own yet: as documented for failures */
            return -ENOMEM;
        }
        *put_parts(text, body) = '\0';
        body->text = text;
    }
    /* type and severity hold no quote: the first "source": is the envelope's (§5). */
    const char *src = strstr(body->text, "\"source\":");
    const struct evi_datakey *k = &keys->keys[keys->count - 1];

    if (src == NULL) {
        evi_entry_body_free(body);
        return evi_error(EV_EFORMAT, "entry body without source");
    }
    size_t plain_off = (size_t)(src - body->text);
    size_t len = evi_envelope_body_len(k->alg, plain_off, 1 + body->len - plain_off);
    if (len + evi_entry_prefix_len(0) > EV_ENTRY_MAX_BYTES) {
        evi_entry_body_free(body); /* the caller's batch frees only the bodies made */
        return evi_error(EV_ETOOBIG, "entry would be %zu bytes encrypted, over the limit of %u",
                         len + evi_entry_prefix_len(0), EV_ENTRY_MAX_BYTES);
    }
    body->enc = keys;
    body->plain_off = plain_off;
    body->plain_len = body->len;
    body->len = len;
    return 0;
}

/* Decimal digits of v without dividing: twice per entry on the writer's path. */
static size_t decimal_digits(uint64_t v)
{
    static const uint64_t powers[20] = {
        1ull,
        10ull,
        100ull,
        1000ull,
        10000ull,
        100000ull,
        1000000ull,
        10000000ull,
        100000000ull,
        1000000000ull,
        10000000000ull,
        100000000000ull,
        1000000000000ull,
        10000000000000ull,
        100000000000000ull,
        1000000000000000ull,
        10000000000000000ull,
        100000000000000000ull,
        1000000000000000000ull,
        10000000000000000000ull,
    };
    /* log10(2) ~ 1233 / 4096: a guess from the bit length, exact or one short. */
    uint64_t w = v | 1; /* as many digits as v (a power of ten is even); 0 has one */
    unsigned bits = 64 - (unsigned)__builtin_clzll(w);
    size_t guess = (bits * 1233) >> 12;
    return guess + (w >= powers[guess] ? 1 : 0);
}

size_t evi_entry_prefix_len(uint64_t seq)
{
    return sizeof(prefix_head) - 1 + decimal_digits(seq) + 7 + EVI_TS_LEN + 2;
}

long evi_entry_assemble(uint64_t seq, int64_t ts_ns, const struct evi_entry_body *body, char *out,
                        size_t cap)
{
    char digits[20];
    size_t nd = 0, n;
    char *p;

    do {
        digits[nd++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq > 0);
    n = sizeof(prefix_head) - 1 + nd + 7 + EVI_TS_LEN + 2;
    if (n + body->len > cap || n + body->len > EV_ENTRY_MAX_BYTES) {
        return EV_ETOOBIG;
    }
    p = put(out, prefix_head, sizeof(prefix_head) - 1);
    while (nd > 0) {
        *p++ = digits[--nd];
    }
    p = put(p, ",\"ts\":\"", 7);
    evi_ts_format(ts_ns, p); /* writes EVI_TS_LEN characters and a NUL that we overwrite */
    p += EVI_TS_LEN;
    p = put(p, "\",", 2);
    if (body->enc != NULL) {
        return evi_envelope_write(body->enc, out, n, body->text, body->plain_off, body->plain_len,
                                  cap);
    }
    if (body->text == NULL) {
        (void)put_parts(p, body); /* borrowed (EVI_BODY_BORROW): len is the pieces' sum */
    } else {
        memcpy(p, body->text, body->len);
    }
    return (long)(n + body->len);
}

int evi_entry_view(const uint8_t *entry, size_t len, struct evi_entry_view *ret_view)
{
    const char *p = (const char *)entry, *end = p + len;
    const size_t head = sizeof(prefix_head) - 1;
    uint64_t seq = 0;
    size_t digits = 0;
    struct evi_entry_view v;

    if (len < head || memcmp(p, prefix_head, head) != 0) {
        return evi_error(EV_EFORMAT, "entry does not begin with {\"v\":1,\"seq\":");
    }
    p += head;
    while (p < end && *p >= '0' && *p <= '9') {
        uint64_t d = (uint64_t)(*p - '0');
        if (digits == 20 || seq > (UINT64_MAX - d) / 10) {
            return evi_error(EV_EFORMAT, "entry seq out of range");
        }
        if (digits == 1 && seq == 0) {
            return evi_error(EV_EFORMAT, "entry seq has a leading zero");
        }
        seq = seq * 10 + d;
        digits++;
        p++;
    }
    if (digits == 0) {
        return evi_error(EV_EFORMAT, "entry seq missing");
    }
    static const char ts_head[] = ",\"ts\":\"";
    if ((size_t)(end - p) < sizeof(ts_head) - 1 + EVI_TS_LEN ||
        memcmp(p, ts_head, sizeof(ts_head) - 1) != 0) {
        return evi_error(EV_EFORMAT, "entry ts missing after seq");
    }
    p += sizeof(ts_head) - 1;
    char ts[EVI_TS_LEN + 1];
    memcpy(ts, p, EVI_TS_LEN);
    ts[EVI_TS_LEN] = '\0';
    if (evi_ts_parse_exact(ts, &v.ts_ns) < 0) {
        return evi_error(EV_EFORMAT, "entry ts '%s' is not YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ", ts);
    }
    p += EVI_TS_LEN;
    static const char type_head[] = "\",\"type\":\"";
    if ((size_t)(end - p) < sizeof(type_head) - 1 || memcmp(p, type_head, sizeof(type_head) - 1)) {
        return evi_error(EV_EFORMAT, "entry type missing after ts");
    }
    p += sizeof(type_head) - 1;
    v.type = p;
    while (p < end && type_char(*p)) {
        p++;
    }
    v.type_len = (size_t)(p - v.type);
    if (v.type_len == 0 || v.type_len > EVI_TYPE_MAX || p >= end || *p != '"' || v.type[0] < 'a' ||
        v.type[0] > 'z') {
        return evi_error(EV_EFORMAT, "entry type malformed");
    }
    if (end[-1] != '}') {
        return evi_error(EV_EFORMAT, "entry does not end with }");
    }
    v.seq = seq;
    *ret_view = v;
    return 0;
}

bool evi_entry_is_type(const struct evi_entry_view *view, const char *type)
{
    size_t n = strlen(type);
    return view->type_len == n && memcmp(view->type, type, n) == 0;
}

void evi_ts_format(int64_t ns, char out[EVI_TS_LEN + 1])
{
    /* The date part changes once a second: keep it per thread (a hot path per entry). */
    static _Thread_local time_t cached_secs = -1;
    static _Thread_local char cached[21];
    /* The whole text of the last ns: the writer gives runs of entries one clock read (log.c). */
    static _Thread_local int64_t last_ns;
    static _Thread_local char last[EVI_TS_LEN + 1]; /* "" until the first call */
    time_t secs = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);

    if (ns == last_ns && last[0] != '\0') {
        memcpy(out, last, EVI_TS_LEN + 1);
        return;
    }
    if (frac < 0) {
        frac += 1000000000;
        secs -= 1;
    }
    if (secs != cached_secs) {
        struct tm tm;
        char wide[96];
        (void)gmtime_r(&secs, &tm);
        /* Years past 9999 cannot be written in 30 characters: clamp rather than overflow. */
        if (tm.tm_year + 1900 > 9999) {
            tm.tm_year = 9999 - 1900;
        }
        (void)snprintf(wide, sizeof(wide), "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        memcpy(cached, wide, 20);
        cached[20] = '\0';
        cached_secs = secs;
    }
    memcpy(out, cached, 20);
    for (int i = 28; i >= 20; i--) {
        out[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    out[29] = 'Z';
    out[EVI_TS_LEN] = '\0';
    memcpy(last, out, EVI_TS_LEN + 1);
    last_ns = ns;
}

static int digits_at(const char *s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return 0;
}

/*
 * Date and time fields of "YYYY-MM-DDTHH:MM:SS", checked for range; a second
 * of 60 (a leap second a person may type) only when max_second allows it.
 */
static int parse_datetime(const char *s, int max_second, int64_t *ret_secs)
{
    int y, mo, d, h, mi, se;
    struct tm tm = {0};
    time_t t;

    if (digits_at(s, 4, &y) || s[4] != '-' || digits_at(s + 5, 2, &mo) || s[7] != '-' ||
        digits_at(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits_at(s + 11, 2, &h) || s[13] != ':' || digits_at(s + 14, 2, &mi) || s[16] != ':' ||
        digits_at(s + 17, 2, &se)) {
        return -1;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > max_second) {
        return -1;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se == 60 ? 59 : se; /* a leap second: the instant after :59 */
    t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) {
        return -1; /* timegm normalized an impossible date such as Feb 30 */
    }
    *ret_secs = (int64_t)t + (se == 60);
    return 0;
}

int evi_ts_parse_exact(const char *text, int64_t *ret_ns)
{
    /* Consecutive entries share their date and second: keep the last one per thread. */
    static _Thread_local char cached[20];
    static _Thread_local int64_t cached_secs = -1;
    int64_t secs;
    int frac;

    if (strlen(text) != EVI_TS_LEN || text[10] != 'T' || text[19] != '.' ||
        digits_at(text + 20, 9, &frac) < 0 || text[29] != 'Z') {
        return -1;
    }
    if (cached_secs >= 0 && memcmp(text, cached, 19) == 0) {
        secs = cached_secs;
    } else {
        /*
         * The writer formats its clock, whose seconds run 0..59: ":60" would be a
         * second spelling of the next minute's first instant (timegm), so an
         * entry carrying it was not written by a writer (FORMAT.md §5).
         */
        if (parse_datetime(text, 59, &secs) < 0) {
            return -1;
        }
        memcpy(cached, text, 19);
        cached_secs = secs;
    }
    int64_t ns;
    if (__builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
        __builtin_add_overflow(ns, (int64_t)frac, &ns)) {
        return -1; /* not a time the writer's int64 ns clock can have written */
    }
    *ret_ns = ns;
    return 0;
}

int ev_time_parse(const char *text, int64_t *ret_ns)
{
    int64_t secs, ns = 0;
    const char *p;
    size_t len = text != NULL ? strlen(text) : 0;

    if (len == 10) { /* a date alone: its midnight UTC */
        char full[20];
        memcpy(full, text, 10);
        memcpy(full + 10, "T00:00:00", 9);
        full[19] = '\0';
        if (parse_datetime(full, 59, &secs) < 0) {
            goto bad;
        }
        int64_t midnight;
        if (__builtin_mul_overflow(secs, (int64_t)1000000000, &midnight)) {
            return evi_error(EV_EFORMAT, "time '%.64s' is outside 1970..2262", text);
        }
        *ret_ns = midnight;
        return 0;
    }
    if (len < 20 || parse_datetime(text, 60, &secs) < 0) {
        goto bad;
    }
    p = text + 19;
    if (*p == '.') {
        int64_t scale = 100000000;
        p++;
        if (*p < '0' || *p > '9') {
            goto bad;
        }
        while (*p >= '0' && *p <= '9') {
            ns += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        /* UTC */
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits_at(p + 1, 2, &oh) || digits_at(p + 4, 2, &om) || oh > 23 || om > 59) {
            goto bad;
        }
        int64_t off = (int64_t)oh * 3600 + om * 60;
        secs += (*p == '+') ? -off : off;
    } else {
        goto bad;
    }
    /* ns since 1970 in an int64 end in April 2262. */
    int64_t total;
    if (secs < 0 || __builtin_mul_overflow(secs, (int64_t)1000000000, &total) ||
        __builtin_add_overflow(total, ns, &total)) {
        return evi_error(EV_EFORMAT, "time '%.64s' is outside 1970..2262", text);
    }
    *ret_ns = total;
    return 0;
bad:
    return evi_error(EV_EFORMAT,
                     "time '%.64s' is not RFC 3339 (e.g. 2026-11-27T09:00:00Z) "
                     "or a date (2026-11-27)",
                     text != NULL ? text : "");
}

int64_t evi_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int evi_seal_body_make(const struct evi_seal *seal, struct evi_entry_body *ret_body)
{
    char chain[65], root[65];
    const char *src = evi_default_source();
    size_t cap = strlen(src) + 300;
    char *text = malloc(cap);
    int n;

    if (text == NULL) {
        return -ENOMEM;
    }
    evi_hex_encode(seal->chain_head, 32, chain);
    evi_hex_encode(seal->root, 32, root);
    n = snprintf(text, cap,
                 "\"type\":\"seal\",\"severity\":\"info\",\"source\":%s,\"data\":{\"chain_head\":"
                 "\"%s\",\"epoch\":%" PRIu32 ",\"root\":\"%s\",\"tree_size\":%" PRIu64 "}}",
                 src, chain, seal->epoch, root, seal->tree_size);
    if (n < 0 || (size_t)n >= cap) {
        free(text);
        return -EOVERFLOW;
    }
    *ret_body = (struct evi_entry_body){.text = text, .len = (size_t)n};
    return 0;
}

static int hex_field(json_t *data, const char *key, uint8_t out[32])
{
    json_t *v = json_object_get(data, key);
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) != 64 || evi_hex_decode(s, 64, out, 32) < 0) {
        return evi_error(EV_EFORMAT, "seal: '%s' is not 64 hex digits", key);
    }
    return 0;
}

int evi_seal_parse(const uint8_t *entry, size_t len, struct evi_seal *ret_seal)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)entry, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *data, *epoch, *size;
    struct evi_seal s;
    int r = EV_EFORMAT;

    if (root == NULL) {
        return evi_error(EV_EFORMAT, "seal: invalid JSON at column %d: %s", jerr.column, jerr.text);
    }
    data = json_object_get(root, "data");
    if (!json_is_object(data) || json_object_size(data) != 4) {
        r = evi_error(EV_EFORMAT, "seal: data must hold exactly chain_head, epoch, root, "
                                  "tree_size");
        goto out;
    }
    epoch = json_object_get(data, "epoch");
    size = json_object_get(data, "tree_size");
    if (!json_is_integer(epoch) || json_integer_value(epoch) < 0 ||
        json_integer_value(epoch) > UINT32_MAX || !json_is_integer(size) ||
        json_integer_value(size) < 0) {
        r = evi_error(EV_EFORMAT, "seal: epoch or tree_size not a valid integer");
        goto out;
    }
    s.epoch = (uint32_t)json_integer_value(epoch);
    s.tree_size = (uint64_t)json_integer_value(size);
    r = hex_field(data, "root", s.root);
    if (r == 0) {
        r = hex_field(data, "chain_head", s.chain_head);
    }
    if (r == 0) {
        *ret_seal = s;
    }
out:
    json_decref(root);
    return r;
}
