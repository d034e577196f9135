/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The value syntaxes of the configuration file (docs/CONFIG.md, "Values"):
 * parsing a scalar into its field, writing a field back as YAML that parses to
 * the same value, and describing each kind for the docs.
 *
 * The syntaxes are strict on purpose: one spelling per value where YAML 1.1
 * would allow several (true/false only, no yes/on; no octal or hex numbers; a
 * duration needs its unit), so a file means the same to every reader. A
 * quoted scalar is a string to YAML, so booleans, numbers, sizes and
 * durations must be plain; choices and severities, which are names, may be
 * quoted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <evident/error.h>
#include <evident/log.h>

#include "config-internal.h"
#include "utf8.h"

struct unit {
    const char *suffix;
    uint64_t factor;
};

/* Largest first: the writer picks the first that divides the value exactly. */
static const struct unit size_units[] = {
    {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"", 1},
};

static const struct unit duration_units[] = {
    {"d", 86400000000000ull}, {"h", 3600000000000ull}, {"m", 60000000000ull}, {"s", 1000000000ull},
    {"ms", 1000000ull},       {"us", 1000ull},         {"ns", 1ull},
};

#define UNIT_COUNT(u) (sizeof(u) / sizeof((u)[0]))

bool evi_config_scalar_is_null(const struct evi_config_scalar *s)
{
    return s->plain && (s->len == 0 || strcmp(s->text, "~") == 0 || strcmp(s->text, "null") == 0);
}

/*
 * Decimal digits at the start of text, no sign, no leading zero (YAML 1.1
 * reads 010 as octal). Returns how many were read (0 if none or on overflow,
 * with *ret_overflow set).
 */
static size_t parse_digits(const char *text, uint64_t *ret_value, bool *ret_overflow)
{
    uint64_t v = 0;
    size_t n = 0;

    *ret_overflow = false;
    while (text[n] >= '0' && text[n] <= '9') {
        unsigned d = (unsigned)(text[n] - '0');
        if (n == 1 && v == 0) {
            return 0; /* a leading zero */
        }
        if (v > (UINT64_MAX - d) / 10) {
            *ret_overflow = true;
            return 0;
        }
        v = v * 10 + d;
        n++;
    }
    *ret_value = v;
    return n;
}

/* A number with one unit from units ("" = none allowed). false if malformed. */
static bool parse_with_unit(const char *text, const struct unit *units, size_t unit_count,
                            bool unit_required, uint64_t *ret_value, bool *ret_overflow)
{
    uint64_t v;
    size_t n = parse_digits(text, &v, ret_overflow);

    if (n == 0) {
        return false;
    }
    if (text[n] == '\0' && (!unit_required || v == 0)) {
        *ret_value = v;
        return true;
    }
    for (size_t i = 0; i < unit_count; i++) {
        if (units[i].suffix[0] != '\0' && strcmp(text + n, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].factor) {
                *ret_overflow = true;
                return false;
            }
            *ret_value = v * units[i].factor;
            return true;
        }
    }
    return false;
}

static void format_with_unit(char *out, size_t cap, uint64_t v, const struct unit *units,
                             size_t unit_count)
{
    if (v == 0) {
        (void)snprintf(out, cap, "0");
        return;
    }
    for (size_t i = 0; i < unit_count; i++) {
        if (v % units[i].factor == 0) {
            (void)snprintf(out, cap, "%llu%s", (unsigned long long)(v / units[i].factor),
                           units[i].suffix);
            return;
        }
    }
    (void)snprintf(out, cap, "%llu", (unsigned long long)v);
}

/* A number of option o in its own syntax (a size, a duration, digits). */
static void format_number(char *out, size_t cap, const struct evi_config_option *o, uint64_t v)
{
    if (o->kind == EVI_CFG_SIZE || o->kind == EVI_CFG_SPACE) {
        format_with_unit(out, cap, v, size_units, UNIT_COUNT(size_units));
    } else if (o->kind == EVI_CFG_DURATION) {
        format_with_unit(out, cap, v, duration_units, UNIT_COUNT(duration_units));
    } else {
        (void)snprintf(out, cap, "%llu", (unsigned long long)v);
    }
}

static const char *check_range(const struct evi_config_option *o, uint64_t v, char *msg, size_t cap)
{
    char lo[32], hi[32];

    if ((v >= o->min && v <= o->max) || (o->zero_off && v == 0)) {
        return NULL;
    }
    format_number(lo, sizeof(lo), o, o->min);
    format_number(hi, sizeof(hi), o, o->max);
    (void)snprintf(msg, cap, "must be %sbetween %s and %s", o->zero_off ? "0 (off) or " : "", lo,
                   hi);
    return msg;
}

/* Printable UTF-8 without control characters (C0, DEL, C1): what a string may hold. */
static bool printable(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = evi_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            return false;
        }
        i += n;
    }
    return true;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool valid_port(const char *text)
{
    uint64_t port;
    bool overflow;
    size_t n = parse_digits(text, &port, &overflow);
    return n > 0 && text[n] == '\0' && port >= 1 && port <= 65535;
}

/* "host:port", "[v6]:port": a host name or address and a port 1..65535. */
static bool valid_hostport(const char *s)
{
    const char *colon;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1 || close[1] != ':') {
            return false;
        }
        for (const char *p = s + 1; p < close; p++) {
            if (strchr("0123456789abcdefABCDEF:.", *p) == NULL) {
                return false;
            }
        }
        return valid_port(close + 2);
    }
    colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        return false;
    }
    for (const char *p = s; p < colon; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_')) {
            return false;
        }
    }
    return valid_port(colon + 1);
}

/* "sha256:" and 64 lower-case hex digits. */
static bool valid_token_hash(const char *s, size_t len)
{
    if (len != 7 + 64 || strncmp(s, "sha256:", 7) != 0) {
        return false;
    }
    for (size_t i = 7; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* A POSIX user or group name (letters, digits, _ . -, not starting with -), or an id. */
static bool valid_principal(const char *s, size_t len)
{
    if (len == 0 || len > 32 || s[0] == '-') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || (c == '$' && i == len - 1))) {
            return false;
        }
    }
    return true;
}

static bool valid_url(const char *s)
{
    const char *host;

    if (strncmp(s, "https://", 8) == 0) {
        host = s + 8;
    } else if (strncmp(s, "http://", 7) == 0) {
        host = s + 7;
    } else {
        return false;
    }
    if (*host == '\0' || *host == '/' || *host == ':' || *host == '?' || *host == '#') {
        return false;
    }
    for (const char *p = host; *p != '\0'; p++) {
        if (*p == ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\') {
            return false;
        }
    }
    return true;
}

static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len > EV_CONFIG_MAX_NAME) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_name_char(s[i])) {
            return false;
        }
    }
    return true;
}

/* "*", a built-in type or custom.NAME with 1..57 of [a-z0-9_.:-] (event.h). */
static bool valid_event_type(const char *s, size_t len)
{
    static const size_t prefix_len = sizeof(EV_CUSTOM_PREFIX) - 1;

    if (strcmp(s, "*") == 0 || strcmp(s, "custom.*") == 0) {
        return true; /* every type; every custom type */
    }
    for (int i = 0; i < EV_TYPE_CUSTOM; i++) {
        if (strcmp(s, evi_config_type_names[i]) == 0) {
            return true;
        }
    }
    if (len <= prefix_len || len > prefix_len + 57 ||
        strncmp(s, EV_CUSTOM_PREFIX, prefix_len) != 0) {
        return false;
    }
    for (size_t i = prefix_len; i < len; i++) {
        if (!is_name_char(s[i]) && s[i] != '.' && s[i] != ':') {
            return false;
        }
    }
    return true;
}

static const char *check_regex(const char *s, size_t len, char *msg, size_t cap)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, len, PCRE2_UTF, &code, &offset, NULL);
    PCRE2_UCHAR why[160];

    if (re != NULL) {
        pcre2_code_free(re);
        return NULL;
    }
    if (pcre2_get_error_message(code, why, sizeof(why)) < 0) {
        (void)snprintf((char *)why, sizeof(why), "error %d", code);
    }
    (void)snprintf(msg, cap, "regex does not compile at offset %zu: %s", (size_t)offset,
                   (const char *)why);
    return msg;
}

static bool is_string_kind(enum evi_config_kind kind)
{
    switch (kind) {
    case EVI_CFG_STRING:
    case EVI_CFG_HOSTPORT:
    case EVI_CFG_URL:
    case EVI_CFG_NAME:
    case EVI_CFG_TOKEN_HASH:
    case EVI_CFG_PRINCIPAL:
    case EVI_CFG_REGEX:
    case EVI_CFG_EVENT_TYPE:
    case EVI_CFG_DEST: return true;
    default: return false;
    }
}

/* Checks a string value of a string kind; NULL or why not. */
static const char *check_string(const struct evi_config_option *o,
                                const struct evi_config_scalar *s, char *msg, size_t cap)
{
    if (s->len == 0) {
        return o->nullable ? "must not be empty (null leaves it unset)" : "must not be empty";
    }
    if (s->len > EV_CONFIG_MAX_STRING) {
        (void)snprintf(msg, cap, "longer than %d bytes", EV_CONFIG_MAX_STRING);
        return msg;
    }
    if (strlen(s->text) != s->len || !printable(s->text, s->len)) {
        return "contains a control character";
    }
    switch (o->kind) {
    case EVI_CFG_HOSTPORT:
        return valid_hostport(s->text) ? NULL : "expected host:port such as 127.0.0.1:8080";
    case EVI_CFG_URL: return valid_url(s->text) ? NULL : "expected an http:// or https:// URL";
    case EVI_CFG_DEST:
        if (s->text[0] == '/' || valid_url(s->text)) {
            return NULL;
        }
        return "expected an absolute directory path or an http:// or https:// URL";
    case EVI_CFG_NAME:
        if (!valid_name(s->text, s->len)) {
            (void)snprintf(msg, cap, "expected a name of 1 to %d characters a-z, 0-9, _ and -",
                           EV_CONFIG_MAX_NAME);
            return msg;
        }
        return NULL;
    case EVI_CFG_REGEX: return check_regex(s->text, s->len, msg, cap);
    case EVI_CFG_TOKEN_HASH:
        return valid_token_hash(s->text, s->len) ? NULL
                                                 : "expected sha256: and 64 lower-case hex digits "
                                                   "(`evident token new` makes one)";
    case EVI_CFG_PRINCIPAL:
        return valid_principal(s->text, s->len) ? NULL
                                                : "expected a user or group name, or a number";
    case EVI_CFG_EVENT_TYPE:
        return valid_event_type(s->text, s->len)
                   ? NULL
                   : "expected \"*\", an event type such as security_event, custom.NAME or "
                     "custom.*";
    default: return NULL;
    }
}

static const char *parse_number(const struct evi_config_option *o,
                                const struct evi_config_scalar *s, uint64_t *ret_value, char *msg,
                                size_t cap)
{
    bool overflow = false, ok;
    const char *expected;

    if (o->kind == EVI_CFG_SIZE) {
        ok = s->plain && parse_with_unit(s->text, size_units, UNIT_COUNT(size_units), false,
                                         ret_value, &overflow);
        expected = "expected a size such as 64MiB";
    } else if (o->kind == EVI_CFG_DURATION) {
        ok = s->plain && parse_with_unit(s->text, duration_units, UNIT_COUNT(duration_units), true,
                                         ret_value, &overflow);
        expected = "expected a duration such as 15m";
    } else {
        size_t n = s->plain ? parse_digits(s->text, ret_value, &overflow) : 0;
        ok = n > 0 && s->text[n] == '\0';
        expected = "expected a whole number";
    }
    if (overflow) {
        return "too large";
    }
    if (!ok) {
        return expected;
    }
    return check_range(o, *ret_value, msg, cap);
}

/*
 * A percentage "10%", "0.5%", "12.25%": digits, at most two decimals, '%'.
 * Returns false if malformed; *ret_x100 in hundredths of a percent.
 */
static bool parse_percent(const char *text, uint32_t *ret_x100)
{
    uint64_t whole = 0, frac = 0;
    bool overflow;
    size_t n = parse_digits(text, &whole, &overflow);

    if (n == 0 || n > 3) {
        return false;
    }
    text += n;
    if (*text == '.') {
        size_t f = 0;
        text++;
        while (text[f] >= '0' && text[f] <= '9' && f < 3) {
            frac = frac * 10 + (uint64_t)(text[f] - '0');
            f++;
        }
        if (f == 0 || f > 2) {
            return false;
        }
        if (f == 1) {
            frac *= 10;
        }
        text += f;
    }
    if (strcmp(text, "%") != 0) {
        return false;
    }
    *ret_x100 = (uint32_t)(whole * 100 + frac);
    return true;
}

/* A free-space amount: a size (within o's min..max, or 0 when zero_off) or a percentage. */
static const char *parse_space(const struct evi_config_option *o, const struct evi_config_scalar *s,
                               struct ev_space *ret_space, char *msg, size_t cap)
{
    struct ev_space v = {0};
    bool overflow = false;
    const char *why;

    if (s->plain && s->len > 0 && s->text[s->len - 1] == '%') {
        if (!parse_percent(s->text, &v.percent_x100)) {
            return "expected a size such as 512MiB or a percentage such as 10% or 0.5%";
        }
        if (v.percent_x100 == 0 && o->zero_off) {
            *ret_space = (struct ev_space){0};
            return NULL;
        }
        if (v.percent_x100 < 1 || v.percent_x100 > EVI_SPACE_PERCENT_MAX_X100) {
            return o->zero_off ? "a percentage must be 0 (off) or between 0.01% and 50%"
                               : "a percentage must be between 0.01% and 50%";
        }
        *ret_space = v;
        return NULL;
    }
    if (!s->plain ||
        !parse_with_unit(s->text, size_units, UNIT_COUNT(size_units), false, &v.bytes, &overflow)) {
        return overflow ? "too large"
                        : "expected a size such as 512MiB or a percentage such as 10% or 0.5%";
    }
    if ((why = check_range(o, v.bytes, msg, cap)) != NULL) {
        return why;
    }
    *ret_space = v;
    return NULL;
}

static void describe_choices(char *out, size_t cap, const struct evi_config_choice *choices)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; choices[i].name != NULL && len < cap; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", i > 0 ? ", " : "", choices[i].name);
        if (n < 0) {
            return;
        }
        len += (size_t)n;
    }
}

const char *evi_config_value_parse(const struct evi_config_option *o,
                                   const struct evi_config_scalar *s, void *dst, char *msg,
                                   size_t cap, bool *ret_oom)
{
    const char *why;
    uint64_t v;

    *ret_oom = false;
    if (is_string_kind(o->kind)) {
        char **field = dst;
        char *copy = NULL;
        if (evi_config_scalar_is_null(s)) {
            if (!o->nullable) {
                return s->len == 0 ? "must not be empty" : "must not be null";
            }
        } else {
            if ((why = check_string(o, s, msg, cap)) != NULL) {
                return why;
            }
            if ((copy = strdup(s->text)) == NULL) {
                *ret_oom = true;
                return "out of memory";
            }
        }
        free(*field);
        *field = copy;
        return NULL;
    }
    switch (o->kind) {
    case EVI_CFG_BOOL:
        if (s->plain && (strcmp(s->text, "true") == 0 || strcmp(s->text, "false") == 0)) {
            *(bool *)dst = s->text[0] == 't';
            return NULL;
        }
        return "expected true or false";
    case EVI_CFG_SIZE:
    case EVI_CFG_DURATION:
    case EVI_CFG_COUNT:
        if ((why = parse_number(o, s, &v, msg, cap)) != NULL) {
            return why;
        }
        *(uint64_t *)dst = v;
        return NULL;
    case EVI_CFG_INT:
        if ((why = parse_number(o, s, &v, msg, cap)) != NULL) {
            return why;
        }
        *(int *)dst = (int)v; /* the table's max is at most INT_MAX */
        return NULL;
    case EVI_CFG_SPACE: return parse_space(o, s, dst, msg, cap);
    case EVI_CFG_ENUM:
        for (size_t i = 0; o->choices[i].name != NULL; i++) {
            if (strcmp(s->text, o->choices[i].name) == 0) {
                *(int *)dst = o->choices[i].value;
                return NULL;
            }
        }
        (void)snprintf(msg, cap, "expected one of ");
        describe_choices(msg + strlen(msg), cap - strlen(msg), o->choices);
        return msg;
    case EVI_CFG_SEVERITY: {
        int severity;
        if (ev_severity_parse(s->text, &severity) < 0) {
            return "expected a syslog severity: emergency, alert, critical, error, warning, "
                   "notice, info or debug";
        }
        *(int *)dst = severity;
        return NULL;
    }
    case EVI_CFG_MODE: {
        unsigned mode = 0;
        if (s->len < 3 || s->len > 4) {
            return "expected a file mode in octal such as \"0660\"";
        }
        for (size_t i = 0; i < s->len; i++) {
            if (s->text[i] < '0' || s->text[i] > '7') {
                return "expected a file mode in octal such as \"0660\"";
            }
            mode = mode * 8 + (unsigned)(s->text[i] - '0');
        }
        if (mode > 0777) {
            return "must be at most 0777 (no setuid, setgid or sticky bits)";
        }
        *(unsigned *)dst = mode;
        return NULL;
    }
    default: return "expected a single value";
    }
}

void evi_config_value_format(struct evi_text *t, const struct evi_config_option *o,
                             const void *base)
{
    const char *src = (const char *)base + o->offset;
    char number[32];

    if (is_string_kind(o->kind)) {
        const char *s = *(char *const *)src;
        if (s == NULL) {
            evi_text_add(t, "null");
        } else {
            evi_text_add_quoted(t, s);
        }
        return;
    }
    switch (o->kind) {
    case EVI_CFG_BOOL: evi_text_add(t, *(const bool *)src ? "true" : "false"); return;
    case EVI_CFG_SIZE:
    case EVI_CFG_DURATION:
    case EVI_CFG_COUNT:
        format_number(number, sizeof(number), o, *(const uint64_t *)src);
        evi_text_add(t, number);
        return;
    case EVI_CFG_INT: evi_text_addf(t, "%d", *(const int *)src); return;
    case EVI_CFG_SPACE: {
        const struct ev_space *space = (const struct ev_space *)src;
        uint32_t p = space->percent_x100;
        if (p == 0) {
            format_with_unit(number, sizeof(number), space->bytes, size_units,
                             UNIT_COUNT(size_units));
            evi_text_add(t, number);
        } else if (p % 100 == 0) {
            evi_text_addf(t, "%u%%", p / 100);
        } else if (p % 10 == 0) {
            evi_text_addf(t, "%u.%u%%", p / 100, p % 100 / 10);
        } else {
            evi_text_addf(t, "%u.%02u%%", p / 100, p % 100);
        }
        return;
    }
    case EVI_CFG_ENUM: {
        int v = *(const int *)src;
        for (size_t i = 0; o->choices[i].name != NULL; i++) {
            if (o->choices[i].value == v) {
                evi_text_add(t, o->choices[i].name);
                return;
            }
        }
        evi_text_addf(t, "%d", v);
        return;
    }
    case EVI_CFG_SEVERITY: {
        const char *name = ev_severity_name(*(const int *)src);
        if (name != NULL) {
            evi_text_add(t, name);
        } else {
            evi_text_addf(t, "%d", *(const int *)src);
        }
        return;
    }
    case EVI_CFG_MODE: evi_text_addf(t, "\"%04o\"", *(const unsigned *)src); return;
    case EVI_CFG_LIST: {
        char *const *items = (char *const *)src;
        size_t count = *(const size_t *)((const char *)base + o->count_offset);
        evi_text_add(t, "[");
        for (size_t i = 0; i < count && i < o->max; i++) {
            if (i > 0) {
                evi_text_add(t, ", ");
            }
            evi_text_add_quoted(t, items[i] != NULL ? items[i] : "");
        }
        evi_text_add(t, "]");
        return;
    }
    default: evi_text_add(t, "null"); return;
    }
}

const char *evi_config_kind_name(const struct evi_config_option *o)
{
    switch (o->kind) {
    case EVI_CFG_STRING: return "string";
    case EVI_CFG_BOOL: return "bool";
    case EVI_CFG_SIZE: return "size";
    case EVI_CFG_SPACE: return "size or percent";
    case EVI_CFG_DURATION: return "duration";
    case EVI_CFG_COUNT:
    case EVI_CFG_INT: return "number";
    case EVI_CFG_ENUM: return "choice";
    case EVI_CFG_SEVERITY: return "severity";
    case EVI_CFG_MODE: return "octal mode";
    case EVI_CFG_HOSTPORT: return "host:port";
    case EVI_CFG_TOKEN_HASH: return "token hash";
    case EVI_CFG_PRINCIPAL: return "user or group";
    case EVI_CFG_LIST:
        switch (o->item) {
        case EVI_CFG_HOSTPORT: return "list of host:port";
        case EVI_CFG_TOKEN_HASH: return "list of token hashes";
        case EVI_CFG_PRINCIPAL: return "list of users or groups";
        case EVI_CFG_DEST: return "list of directories or URLs";
        default: return "list";
        }
    case EVI_CFG_URL: return "URL";
    case EVI_CFG_DEST: return "directory or URL";
    case EVI_CFG_NAME: return "name";
    case EVI_CFG_REGEX: return "regex";
    case EVI_CFG_EVENT_TYPE: return "event type";
    case EVI_CFG_RECORDS: return "list";
    case EVI_CFG_POLICIES: return "mapping";
    }
    return "value";
}

void evi_config_value_bounds(struct evi_text *t, const struct evi_config_option *o)
{
    char lo[32], hi[32], choices[256];

    switch (o->kind) {
    case EVI_CFG_SIZE:
    case EVI_CFG_DURATION:
    case EVI_CFG_COUNT:
    case EVI_CFG_INT:
        format_number(lo, sizeof(lo), o, o->min);
        format_number(hi, sizeof(hi), o, o->max);
        evi_text_addf(t, "%s to %s%s", lo, hi, o->zero_off ? ", or 0 (off)" : "");
        break;
    case EVI_CFG_SPACE:
        format_number(lo, sizeof(lo), o, o->min);
        format_number(hi, sizeof(hi), o, o->max);
        evi_text_addf(t, "%s to %s or 0.01%% to 50%%%s", lo, hi, o->zero_off ? ", or 0 (off)" : "");
        break;
    case EVI_CFG_ENUM:
        describe_choices(choices, sizeof(choices), o->choices);
        evi_text_add(t, choices);
        break;
    case EVI_CFG_SEVERITY: evi_text_add(t, "emergency to debug"); break;
    case EVI_CFG_MODE: evi_text_add(t, "0000 to 0777"); break;
    case EVI_CFG_LIST:
    case EVI_CFG_RECORDS: evi_text_addf(t, "at most %llu", (unsigned long long)o->max); break;
    case EVI_CFG_NAME: evi_text_addf(t, "a-z 0-9 _ -, 1 to %d", EV_CONFIG_MAX_NAME); break;
    default: break;
    }
}

int evi_config_record_defaults(const struct evi_config_option *fields, size_t count, void *base)
{
    char msg[160];
    bool oom;

    for (size_t i = 0; i < count; i++) {
        const struct evi_config_option *o = &fields[i];
        char *dst = (char *)base + o->offset;
        if (o->kind == EVI_CFG_POLICIES) {
            const struct evi_config_record *r = o->record;
            for (size_t k = 0; k < EV_TYPE_COUNT; k++) {
                if (evi_config_record_defaults(r->fields, r->field_count, dst + k * r->size) < 0) {
                    return -ENOMEM;
                }
            }
            continue;
        }
        if (o->default_text == NULL || o->kind == EVI_CFG_RECORDS ||
            (o->kind == EVI_CFG_LIST && strcmp(o->default_text, "[]") == 0)) {
            continue; /* required, or a list: empty by default */
        }
        struct evi_config_scalar s = {o->default_text, strlen(o->default_text), true};
        if (o->kind == EVI_CFG_LIST) {
            /* A list's default holds one item: "[item]". */
            const struct evi_config_option item = {.path = o->path, .kind = o->item};
            s.text = o->default_text + 1;
            s.len -= 2;
            char text[EV_CONFIG_MAX_STRING + 1];
            if (s.len >= sizeof(text)) {
                return EV_EFORMAT;
            }
            memcpy(text, s.text, s.len);
            text[s.len] = '\0';
            s.text = text;
            if (evi_config_value_parse(&item, &s, dst, msg, sizeof(msg), &oom) != NULL) {
                return oom ? -ENOMEM : EV_EFORMAT;
            }
            *(size_t *)((char *)base + o->count_offset) = 1;
            continue;
        }
        if (evi_config_value_parse(o, &s, dst, msg, sizeof(msg), &oom) != NULL) {
            /* The table's defaults are tested to parse: only memory should fail here. */
            return oom ? -ENOMEM : EV_EFORMAT;
        }
    }
    return 0;
}

void evi_config_record_release(const struct evi_config_option *fields, size_t count, void *base)
{
    for (size_t i = 0; i < count; i++) {
        const struct evi_config_option *o = &fields[i];
        char *at = (char *)base + o->offset;
        if (is_string_kind(o->kind)) {
            free(*(char **)at);
            *(char **)at = NULL;
        } else if (o->kind == EVI_CFG_LIST) {
            char **items = (char **)at;
            size_t *n = (size_t *)((char *)base + o->count_offset);
            for (size_t k = 0; k < *n && k < o->max; k++) {
                free(items[k]);
                items[k] = NULL;
            }
            *n = 0;
        } else if (o->kind == EVI_CFG_RECORDS) {
            const struct evi_config_record *r = o->record;
            size_t *n = (size_t *)((char *)base + o->count_offset);
            for (size_t k = 0; k < *n && k < o->max; k++) {
                evi_config_record_release(r->fields, r->field_count, at + k * r->size);
            }
            *n = 0;
        }
    }
}
