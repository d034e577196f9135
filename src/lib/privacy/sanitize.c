/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret sanitization (sanitize.h): the prefilter, the matching, and the
 * rewriting of text and canonical JSON.
 *
 * Why a hand-written prefilter before PCRE2: sanitization runs on every
 * string of every event and almost never finds anything, so the common case
 * must cost about one pass over the bytes. Each built-in regex needs a short
 * literal anchor (patterns.c says which); prefilter() looks for all of them
 * in one pass, validating UTF-8 on the way, and only the regexes whose
 * anchor was seen run. A combined JIT alternation would scan the text too,
 * but with start bits that include common letters and "-", ":" and "=", it
 * stops at nearly every word.
 *
 * The pass finds the bytes an anchor can hold 16 bytes per step (SSE2) or 32
 * (AVX2, where the CPU has it), dismisses most of them by the bytes next to
 * them (an "=" after "conn", a "-" in a date) without a call, and checks the
 * few left in full (anchors_at()). The byte-at-a-time reference that checks
 * every such byte in full stays, for tests (evi_sanitize_prefilter()).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* A 32-byte scan with AVX2 where the CPU has it (found when a sanitizer is made). */
#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SCAN32 1
#define SCAN32_TARGET __attribute__((target("avx2")))
#include <immintrin.h>
#else
#define SCAN32 0
#endif

#include "error.h"
#include "jsonw.h"
#include "patterns.h"
#include "sanitize.h"
#include "utf8.h"

#define MARKER_PREFIX "[REDACTED:"
#define MARKER_PREFIX_LEN (sizeof(MARKER_PREFIX) - 1)
#define PATTERN_NAME_MAX 32
/*
 * Rewriting can make a new match (a boundary that a replaced secret used to
 * hide); the sanitizer re-checks its output until nothing matches. Each pass
 * consumes at least one byte outside markers, so this bound is only reached
 * by odd configured regexes.
 */
#define MAX_PASSES 8
#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (1024 * 1024)
#define LOCAL_SPANS 16
/* Span.pattern of a marker that was already in the text. */
#define MARKER_SPAN SIZE_MAX

#define BIT(id) (1u << (id))

struct pattern {
    char *name;
    size_t name_len;
    pcre2_code *code;
    bool jit;
    bool group;     /* replace capture group 1 when it took part in the match */
    size_t min_len; /* PCRE2_INFO_MINLENGTH: no match in fewer bytes */
};

/* What a byte may start, for prefilter(). */
enum trigger {
    T_NONE,
    T_DASH,       /* -----BEGIN, sk-, --password, -u */
    T_A,          /* AKIA, ASIA, AIza */
    T_UNDERSCORE, /* gh?_, github_pat_, sk_, rk_ */
    T_X,          /* xox?-, xapp- */
    T_J,          /* eyJ */
    T_B,          /* bearer, basic */
    T_COLON,      /* ://, credential: */
    T_EQUALS,     /* credential= */
    T_HIGH,       /* a byte >= 0x80: check the UTF-8 */
    /* Only in json_class, for scanning JSON strings: */
    T_QUOTE,
    T_BACKSLASH,
    T_CONTROL, /* below 0x20: never raw in a JSON string */
};

/*
 * prefilter() finds the bytes that trigger[] marks 16 bytes at a time when
 * the table is one of the two it knows as byte sets (checked when the
 * sanitizer is made, so the scan and the table cannot disagree); else it reads
 * the table a byte at a time.
 */
enum trigger_scan {
    SCAN_TABLE,   /* any table */
    SCAN_HIGH,    /* bytes >= 0x80 only (no built-in patterns) */
    SCAN_BUILTIN, /* those and the built-in triggers (trigger_bits_of()) */
};

#if defined(__SSE2__)
/*
 * The trigger bytes among 16, a bit per byte, split by what looks at them
 * first: an "=" or ":" most often ends a plain key and is dismissed by the
 * two bytes before it (credential_may_end()), without the table and switch
 * that the rarer others go through (may_anchor()).
 */
struct trigger_bits {
    unsigned high;   /* >= 0x80: check the UTF-8 */
    unsigned assign; /* T_EQUALS, T_COLON */
    unsigned other;  /* the other built-in triggers */
};

static inline struct trigger_bits trigger_bits_of(__m128i v, bool builtin)
{
    struct trigger_bits b = {(unsigned)_mm_movemask_epi8(v), 0, 0};
    if (builtin) {
        __m128i assign = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
        /* 'B' and 'b' in one compare: no other byte is 'b' once bit 5 is set. */
        __m128i other = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8('A'))),
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('x'))),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('J')),
                                      _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
                                                     _mm_set1_epi8('b')))));
        b.assign = (unsigned)_mm_movemask_epi8(assign);
        b.other = (unsigned)_mm_movemask_epi8(other);
    }
    return b;
}
#endif

struct evi_sanitizer {
    struct pattern *patterns; /* the built-ins (indexes = enum evi_builtin_pattern_id), then
                                 the configured ones */
    size_t count;
    size_t builtin_count;    /* 0 or EVI_PAT_COUNT */
    size_t min_len;          /* shortest text any pattern can match */
    uint8_t trigger[256];    /* enum trigger of each byte in text */
    uint8_t json_class[256]; /* the same inside a JSON string, plus its syntax */
    enum trigger_scan scan;  /* how prefilter() finds the bytes trigger[] marks */
    bool scan32;             /* SCAN_BUILTIN 32 bytes per step (scan32()) */
};

#if SCAN32
static bool scan32_usable(void);
#endif

/*
 * Which scan finds exactly the bytes that trigger marks (see enum
 * trigger_scan), asking the scan itself about every byte.
 */
static enum trigger_scan trigger_scan_of(const uint8_t trigger[256])
{
#if defined(__SSE2__)
    bool high = true, builtin = true;
    for (unsigned c = 0; c < 256; c++) {
        struct trigger_bits b = trigger_bits_of(_mm_set1_epi8((char)c), true);
        bool is_high = trigger[c] == T_HIGH;
        bool is_assign = trigger[c] == T_EQUALS || trigger[c] == T_COLON;
        bool is_other = trigger[c] != T_NONE && !is_high && !is_assign;
        high = high && (trigger[c] != T_NONE) == (c >= 0x80) && is_high == (c >= 0x80);
        builtin = builtin && (b.high != 0) == is_high && (b.assign != 0) == is_assign &&
                  (b.other != 0) == is_other;
    }
    return builtin ? SCAN_BUILTIN : high ? SCAN_HIGH : SCAN_TABLE;
#else
    (void)trigger;
    return SCAN_TABLE;
#endif
}

/* ---- per-thread matching state ---- */

struct match_state {
    pcre2_match_data *match_data; /* two pairs: the match and group 1 are all we read */
    pcre2_match_context *context;
    pcre2_jit_stack *jit_stack; /* NULL without JIT */
    char *buf;                  /* decoded JSON strings */
    size_t buf_cap;
};

static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static pthread_key_t state_key;
static int state_key_error;
/* The key's destructor frees it at thread exit; this copy is the fast lookup. */
static _Thread_local struct match_state *thread_state;

static void state_free(void *p)
{
    struct match_state *st = p;
    if (st == NULL) {
        return;
    }
    pcre2_match_data_free(st->match_data);
    pcre2_match_context_free(st->context);
    pcre2_jit_stack_free(st->jit_stack);
    free(st->buf);
    free(st);
    if (thread_state == st) {
        thread_state = NULL;
    }
}

static void state_key_create(void)
{
    state_key_error = pthread_key_create(&state_key, state_free);
}

static struct match_state *state_get(void)
{
    struct match_state *st = thread_state;
    if (st != NULL) {
        return st;
    }
    if (pthread_once(&state_once, state_key_create) != 0 || state_key_error != 0) {
        return NULL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    st->match_data = pcre2_match_data_create(2, NULL);
    st->context = pcre2_match_context_create(NULL);
    if (st->match_data == NULL || st->context == NULL) {
        state_free(st);
        return NULL;
    }
    st->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
    if (st->jit_stack != NULL) {
        pcre2_jit_stack_assign(st->context, NULL, st->jit_stack);
    }
    if (pthread_setspecific(state_key, st) != 0) {
        state_free(st);
        return NULL;
    }
    thread_state = st;
    return st;
}

/* ---- building ---- */

static bool valid_name(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return n >= 1 && n <= PATTERN_NAME_MAX;
}

static int compile(struct pattern *p, const char *name, const char *regex, bool builtin)
{
    int err;
    PCRE2_SIZE offset;
    uint32_t captures = 0, min_len = 0;

    p->name = strdup(name);
    if (p->name == NULL) {
        return -ENOMEM;
    }
    p->name_len = strlen(name);
    p->code =
        pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &offset, NULL);
    if (p->code == NULL) {
        PCRE2_UCHAR message[256];
        if (pcre2_get_error_message(err, message, sizeof(message)) < 0) {
            message[0] = '\0';
        }
        if (err == PCRE2_ERROR_NOMEMORY) {
            return -ENOMEM;
        }
        return evi_error(EV_EFORMAT, "privacy pattern '%s': %s at offset %zu", name,
                         (const char *)message, (size_t)offset);
    }
    /* Without JIT (unsupported CPU, no executable memory) pcre2_match interprets. */
    p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
    (void)pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &captures);
    (void)pcre2_pattern_info(p->code, PCRE2_INFO_MINLENGTH, &min_len);
    p->group = builtin && captures >= 1;
    /* In characters, so never more than the bytes of a match. */
    p->min_len = min_len;
    return 0;
}

int evi_sanitizer_new(bool builtin, const struct ev_sanitize_pattern *patterns, size_t count,
                      struct evi_sanitizer **ret)
{
    struct evi_sanitizer *s = NULL;
    int r;

    if (count > EV_CONFIG_MAX_PATTERNS) {
        return evi_error(EV_EFORMAT, "privacy patterns: %zu patterns, at most %d", count,
                         EV_CONFIG_MAX_PATTERNS);
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return -ENOMEM;
    }
    s->builtin_count = builtin ? EVI_PAT_COUNT : 0;
    s->patterns = calloc(s->builtin_count + count + 1, sizeof(*s->patterns));
    if (s->patterns == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->builtin_count; i++) {
        r = compile(&s->patterns[s->count], evi_builtin_patterns[i].name,
                    evi_builtin_patterns[i].regex, true);
        s->count++;
        if (r < 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        const char *name = patterns[i].name != NULL ? patterns[i].name : "";
        if (!valid_name(name)) {
            r = evi_error(EV_EFORMAT,
                          "privacy pattern '%s': name must be 1 to %d of a-z, 0-9, '_' and '-'",
                          name, PATTERN_NAME_MAX);
            goto out;
        }
        if (patterns[i].regex == NULL) {
            r = evi_error(EV_EFORMAT, "privacy pattern '%s': no regex", name);
            goto out;
        }
        r = compile(&s->patterns[s->count], name, patterns[i].regex, false);
        s->count++;
        if (r < 0) {
            goto out;
        }
    }
    s->min_len = SIZE_MAX;
    for (size_t i = 0; i < s->count; i++) {
        if (s->patterns[i].min_len < s->min_len) {
            s->min_len = s->patterns[i].min_len;
        }
    }
    if (builtin) {
        s->trigger['-'] = T_DASH;
        s->trigger['A'] = T_A;
        s->trigger['_'] = T_UNDERSCORE;
        s->trigger['x'] = T_X;
        s->trigger['J'] = T_J;
        s->trigger['B'] = T_B;
        s->trigger['b'] = T_B;
        s->trigger[':'] = T_COLON;
        s->trigger['='] = T_EQUALS;
    }
    for (size_t c = 0x80; c <= 0xFF; c++) {
        s->trigger[c] = T_HIGH;
    }
    s->scan = trigger_scan_of(s->trigger);
#if SCAN32
    s->scan32 = s->scan == SCAN_BUILTIN && scan32_usable();
#endif
    memcpy(s->json_class, s->trigger, sizeof(s->json_class));
    for (size_t c = 0; c < 0x20; c++) {
        s->json_class[c] = T_CONTROL;
    }
    s->json_class['"'] = T_QUOTE;
    s->json_class['\\'] = T_BACKSLASH;
    *ret = s;
    s = NULL;
    r = 0;
out:
    evi_sanitizer_free(s);
    return r;
}

void evi_sanitizer_free(struct evi_sanitizer *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->count; i++) {
        free(s->patterns[i].name);
        pcre2_code_free(s->patterns[i].code);
    }
    free(s->patterns);
    free(s);
}

/* ---- the prefilter ---- */

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool is_key_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static bool equal_ci(const uint8_t *p, const char *lower_word, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower(p[i]) != (uint8_t)lower_word[i]) {
            return false;
        }
    }
    return true;
}

struct word {
    const char *text;
    size_t len;
};
#define WORD(w)                                                                                    \
    {                                                                                              \
        w, sizeof(w) - 1                                                                           \
    }

/*
 * Whether the lower-cased word whose last characters are rev[0], rev[1], ...
 * (n of them, reversed) ends with one of words.
 */
static bool ends_with_any(const uint8_t *rev, size_t n, const struct word *words, size_t count)
{
    for (size_t w = 0; w < count; w++) {
        size_t m = words[w].len, i = 0;
        if (m > n) {
            continue;
        }
        while (i < m && rev[i] == (uint8_t)words[w].text[m - 1 - i]) {
            i++;
        }
        if (i == m) {
            return true;
        }
    }
    return false;
}

/* Endings of the key names the credential regex looks for (a superset: "key"). */
static const struct word prefilter_words[] = {
    WORD("password"), WORD("passwd"), WORD("passphrase"), WORD("pwd"),
    WORD("secret"),   WORD("token"),  WORD("key"),
};
#define PREFILTER_WORD_MAX 10

/* The last letter of every prefilter word: most keys end otherwise. */
static bool may_end_word(uint8_t c)
{
    c = lower(c);
    return c == 'd' || c == 'e' || c == 't' || c == 'n' || c == 'y';
}

/* Whether the bytes before end (not before start) are word (lower case), in any case. */
static bool key_ends_with(const uint8_t *start, const uint8_t *end, const char *word, size_t len)
{
    if ((size_t)(end - start) < len) {
        return false;
    }
    for (size_t i = 1; i <= len; i++) {
        if (lower(end[-(ptrdiff_t)i]) != (uint8_t)word[len - i]) {
            return false;
        }
    }
    return true;
}

/*
 * Whether the "=" or ":" at p follows a credential-like key (`password`, `"api_key" `):
 * its last characters are one of prefilter_words (keep the two in step).
 */
static bool credential_before(const uint8_t *start, const uint8_t *p)
{
    const uint8_t *q = p;

    /* Also over the escapes \t and \" of a JSON string that has not been decoded. */
    for (;;) {
        if (q > start && (q[-1] == ' ' || q[-1] == '\t')) {
            q--;
        } else if (q - start >= 2 && q[-2] == '\\' && q[-1] == 't') {
            q -= 2;
        } else {
            break;
        }
    }
    if (q > start && (q[-1] == '"' || q[-1] == '\'')) {
        q--;
        if (q > start && q[-1] == '\\') {
            q--;
        }
    }
    if (q == start) {
        return false;
    }
    /*
     * The key ends with one of prefilter_words: by its last letter, then the
     * word backwards (the same as collecting the key's last letters and
     * calling ends_with_any(), which cost a third of the prefilter on
     * key=value text such as syslog messages).
     */
    switch (lower(q[-1])) {
    case 'd':
        return key_ends_with(start, q, "password", 8) || key_ends_with(start, q, "passwd", 6) ||
               key_ends_with(start, q, "pwd", 3);
    case 'e': return key_ends_with(start, q, "passphrase", 10);
    case 't': return key_ends_with(start, q, "secret", 6);
    case 'n': return key_ends_with(start, q, "token", 5);
    case 'y': return key_ends_with(start, q, "key", 3);
    default: return false;
    }
}

/* Whether the option name at p (after "--") ends in a credential word or is "user". */
static bool credential_option(const uint8_t *p, const uint8_t *end)
{
    uint8_t rev[PREFILTER_WORD_MAX];
    const uint8_t *q = p;
    size_t n = 0;

    while (q < end && q - p < 64 && is_key_char(*q)) {
        q++;
    }
    if (q - p == 4 && equal_ci(p, "user", 4)) {
        return true;
    }
    while (q > p && n < sizeof(rev)) {
        rev[n++] = lower(q[-1]);
        q--;
    }
    return ends_with_any(rev, n, prefilter_words,
                         sizeof(prefilter_words) / sizeof(*prefilter_words));
}

/*
 * The built-in patterns (a bit per enum evi_builtin_pattern_id) whose anchor
 * is at p, a byte of class t, in the text [start, end). Looking past the ends
 * of the text it is in (into the JSON around a string) only adds candidates.
 * It also works on the body of a JSON string before its escapes are decoded:
 * no anchor holds a character that JSON escapes, except the tab and quote
 * that may sit between a key and its "=" or ":", skipped in either form.
 */
static uint32_t anchors_at(uint8_t t, const uint8_t *start, const uint8_t *p, const uint8_t *end)
{
    size_t before = (size_t)(p - start), after = (size_t)(end - p);
    uint32_t mask = 0;

    switch (t) {
    case T_DASH:
        if (after >= 11 && p[1] == '-' && memcmp(p, "-----BEGIN ", 11) == 0) {
            mask |= BIT(EVI_PAT_PRIVATE_KEY);
        }
        if (before >= 2 && p[-2] == 's' && p[-1] == 'k') {
            mask |= BIT(EVI_PAT_ANTHROPIC_KEY) | BIT(EVI_PAT_OPENAI_KEY);
        }
        if (after >= 2 && p[1] == '-' && credential_option(p + 2, end)) {
            mask |= BIT(EVI_PAT_CREDENTIAL);
        }
        if (after >= 3 && p[1] == 'u' &&
            (p[2] == ' ' || p[2] == '\t' || (p[2] == '\\' && after >= 4 && p[3] == 't'))) {
            mask |= BIT(EVI_PAT_CREDENTIAL);
        }
        break;
    case T_A:
        if (after >= 4 && (p[1] == 'K' || p[1] == 'S') && p[2] == 'I' && p[3] == 'A') {
            mask |= BIT(EVI_PAT_AWS_ACCESS_KEY);
        }
        if (after >= 4 && p[1] == 'I' && p[2] == 'z' && p[3] == 'a') {
            mask |= BIT(EVI_PAT_GOOGLE_API_KEY);
        }
        break;
    case T_UNDERSCORE:
        if ((before >= 3 && p[-3] == 'g' && p[-2] == 'h' &&
             (p[-1] == 'p' || p[-1] == 'o' || p[-1] == 'u' || p[-1] == 's' || p[-1] == 'r')) ||
            (before >= 6 && memcmp(p - 6, "github", 6) == 0)) {
            mask |= BIT(EVI_PAT_GITHUB_TOKEN);
        }
        if (before >= 2 && (p[-2] == 's' || p[-2] == 'r') && p[-1] == 'k') {
            mask |= BIT(EVI_PAT_STRIPE_KEY);
        }
        break;
    case T_X:
        if (after >= 5 &&
            ((p[1] == 'o' && p[2] == 'x' && memchr("baprse", p[3], 6) != NULL && p[4] == '-') ||
             memcmp(p, "xapp-", 5) == 0)) {
            mask |= BIT(EVI_PAT_SLACK_TOKEN);
        }
        break;
    case T_J:
        if (before >= 2 && p[-2] == 'e' && p[-1] == 'y') {
            mask |= BIT(EVI_PAT_JWT);
        }
        break;
    case T_B:
        if (after >= 6 && equal_ci(p + 1, "earer", 5)) {
            mask |= BIT(EVI_PAT_BEARER_TOKEN);
        }
        if (after >= 5 && equal_ci(p + 1, "asic", 4)) {
            mask |= BIT(EVI_PAT_BASIC_AUTH);
        }
        break;
    case T_COLON:
        if (after >= 3 && p[1] == '/' && p[2] == '/') {
            mask |= BIT(EVI_PAT_URL_PASSWORD);
            if (after >= 19 && memcmp(p + 3, "hooks.slack.com/", 16) == 0) {
                mask |= BIT(EVI_PAT_SLACK_WEBHOOK);
            }
        }
        if (credential_before(start, p)) {
            mask |= BIT(EVI_PAT_CREDENTIAL) | BIT(EVI_PAT_AWS_SECRET_KEY);
        }
        break;
    case T_EQUALS:
        if (credential_before(start, p)) {
            mask |= BIT(EVI_PAT_CREDENTIAL) | BIT(EVI_PAT_AWS_SECRET_KEY);
        }
        break;
    default: break;
    }
    return mask;
}

/*
 * Whether credential_before(start, p) may be true, from the two bytes before
 * p: they are the end of one of prefilter_words ("rd" of password, "wd" of
 * passwd and pwd, "se" of passphrase, "et" of secret, "en" of token, "ey" of
 * key, in either case), or the byte before p is one credential_before()
 * skips back over (a blank or a quote; the 't' of an escaped tab comes as
 * the pair "\t"). It is never true with fewer than two bytes before p: every
 * word is three letters or more, and what it skips must leave a key.
 *
 * A bit per pair: cred_last[] holds it for the byte before p, cred_prev[] for
 * the byte before that; a pair passes when the two share a bit. CRED_SKIP
 * passes whatever comes before. In key=value text most keys end otherwise
 * ("conn=", "action=", "result="), so their "=" costs two loads and a test.
 */
enum {
    CRED_SKIP = 1u << 0, /* ' ' '\t' '"' '\'' then anything */
    CRED_D = 1u << 1,    /* "rd" "wd" */
    CRED_E = 1u << 2,    /* "se" */
    CRED_NY = 1u << 3,   /* "en" "ey" */
    CRED_T = 1u << 4,    /* "et" "\t" */
};
static const uint8_t cred_last[256] = {
    [' '] = CRED_SKIP, ['\t'] = CRED_SKIP, ['"'] = CRED_SKIP, ['\''] = CRED_SKIP, ['d'] = CRED_D,
    ['D'] = CRED_D,    ['e'] = CRED_E,     ['E'] = CRED_E,    ['n'] = CRED_NY,    ['N'] = CRED_NY,
    ['y'] = CRED_NY,   ['Y'] = CRED_NY,    ['t'] = CRED_T,    ['T'] = CRED_T,
};
static const uint8_t cred_prev[256] = {
    ['r'] = CRED_D,           ['R'] = CRED_D,           ['w'] = CRED_D,
    ['W'] = CRED_D,           ['s'] = CRED_E,           ['S'] = CRED_E,
    ['e'] = CRED_NY | CRED_T, ['E'] = CRED_NY | CRED_T, ['\\'] = CRED_T,
};

static inline bool credential_may_end(const uint8_t *start, const uint8_t *p)
{
    return p - start >= 2 && (cred_last[p[-1]] & (cred_prev[p[-2]] | CRED_SKIP)) != 0;
}

/*
 * false only where anchors_at() finds nothing, decided from the bytes next to
 * p with the first test of each of its anchors: in ordinary text most trigger
 * bytes are an "=" or ":" after a plain word, a "-" inside a word or a date,
 * a 'b' or 'x' inside a word, and the full check (a call that compares every
 * anchor of the class) runs only for the few that may start one.
 */
static inline bool may_anchor(uint8_t t, const uint8_t *start, const uint8_t *p, const uint8_t *end)
{
    size_t before = (size_t)(p - start), after = (size_t)(end - p);
    switch (t) {
    case T_EQUALS: return credential_may_end(start, p);
    case T_COLON: return (after >= 3 && p[1] == '/') || credential_may_end(start, p);
    case T_DASH:
        return (after >= 2 && (p[1] == '-' || p[1] == 'u')) || (before >= 2 && p[-1] == 'k');
    case T_B: /* "bea" of bearer, "bas" of basic; | 0x20 lowers only letters here */
        return after >= 5 && (((p[1] | 0x20) == 'e' && (p[2] | 0x20) == 'a') ||
                              ((p[1] | 0x20) == 'a' && (p[2] | 0x20) == 's'));
    case T_X: return after >= 5 && ((p[1] == 'o' && p[2] == 'x') || (p[1] == 'a' && p[2] == 'p'));
    case T_A: return after >= 4 && (p[1] == 'K' || p[1] == 'S' || p[1] == 'I');
    case T_J: return before >= 2 && p[-1] == 'y';
    default: return true;
    }
}

/*
 * The trigger at p (of class t): the anchors it holds go into *mask, a bad
 * UTF-8 sequence clears *valid. Returns where the scan goes on. quick: ask
 * may_anchor() first (the reference path for tests does not).
 */
static inline const uint8_t *at_trigger(uint8_t t, const uint8_t *start, const uint8_t *p,
                                        const uint8_t *end, uint32_t *mask, bool *valid, bool quick)
{
    if (t == T_HIGH) {
        size_t n = evi_utf8_decode(p, (size_t)(end - p), NULL);
        if (n == 0) {
            *valid = false;
            n = 1;
        }
        return p + n;
    }
    if (!quick || may_anchor(t, start, p, end)) {
        *mask |= anchors_at(t, start, p, end);
    }
    return p + 1;
}

#if defined(__SSE2__)
/*
 * The len < 16 bytes at p as one vector, without reading past them: the
 * first 8 and the last 8 (overlapping), or the first 4 and the last 4 and
 * 'a' (neither a trigger nor a byte to escape) after them; text_bits() maps
 * the vector's bits back to positions in the text.
 */
static inline __m128i load_short(const uint8_t *p, size_t len)
{
    if (len >= 8) {
        uint64_t head, tail;
        memcpy(&head, p, 8);
        memcpy(&tail, p + len - 8, 8);
        return _mm_set_epi64x((long long)tail, (long long)head);
    }
    if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, p, 4);
        memcpy(&tail, p + len - 4, 4);
        return _mm_set_epi32(0x61616161, 0x61616161, (int)tail, (int)head);
    }
    uint8_t padded[16];
    memset(padded, 'a', sizeof(padded));
    for (size_t i = 0; i < len; i++) {
        padded[i] = p[i];
    }
    return _mm_loadu_si128((const __m128i *)(const void *)padded);
}

/* A bit per byte of the text from one per byte of load_short(p, len). */
static inline unsigned text_bits(unsigned bits, size_t len)
{
    if (len >= 8) {
        return (bits & 0xFFu) | (bits >> 8 << (len - 8));
    }
    if (len >= 4) {
        return (bits & 0xFu) | ((bits >> 4 & 0xFu) << (len - 4));
    }
    return bits & ((1u << len) - 1);
}

/*
 * Of the ASCII trigger bytes that bits marks in the step (16 or 32 bytes)
 * at block of the text [start, end), those that pass the quick test, a bit
 * each. No calls here, so that the scan around it keeps its registers.
 */
static inline unsigned quick_candidates(const struct evi_sanitizer *s, const uint8_t *start,
                                        const uint8_t *block, const uint8_t *end,
                                        struct trigger_bits bits)
{
    unsigned candidates = 0;
    for (; bits.assign != 0; bits.assign &= bits.assign - 1) {
        const uint8_t *q = block + __builtin_ctz(bits.assign);
        if (credential_may_end(start, q) || (*q == ':' && end - q >= 3 && q[1] == '/')) {
            candidates |= bits.assign & -bits.assign;
        }
    }
    for (; bits.other != 0; bits.other &= bits.other - 1) {
        const uint8_t *q = block + __builtin_ctz(bits.other);
        if (may_anchor(s->trigger[*q], start, q, end)) {
            candidates |= bits.other & -bits.other;
        }
    }
    return candidates;
}

/*
 * The anchors at the candidates (a bit per byte of the step at block). The
 * order does not matter: anchors_at() reads the text as it is, and no
 * anchor holds a byte >= 0x80, so none is inside a UTF-8 sequence.
 */
static __attribute__((noinline)) uint32_t anchors_in(const struct evi_sanitizer *s,
                                                     const uint8_t *start, const uint8_t *block,
                                                     const uint8_t *end, unsigned candidates)
{
    uint32_t mask = 0;
    for (; candidates != 0; candidates &= candidates - 1) {
        const uint8_t *q = block + __builtin_ctz(candidates);
        mask |= anchors_at(s->trigger[*q], start, q, end);
    }
    return mask;
}

/*
 * The anchors of the ASCII trigger bytes that bits marks in the step at
 * block: the quick test of each, then the full one of the few that pass it.
 */
static inline uint32_t ascii_anchors(const struct evi_sanitizer *s, const uint8_t *start,
                                     const uint8_t *block, const uint8_t *end,
                                     struct trigger_bits bits)
{
    unsigned candidates = quick_candidates(s, start, block, end, bits);
    return candidates != 0 ? anchors_in(s, start, block, end, candidates) : 0;
}

/*
 * Checks the UTF-8 sequences that start at the bytes >= 0x80 that high marks
 * in the step at block, from next on (the bytes before it are read: a
 * sequence may run into the next step). Returns where the next unread byte
 * is.
 */
static inline const uint8_t *check_high(const uint8_t *block, const uint8_t *end, unsigned high,
                                        const uint8_t *next, bool *valid)
{
    for (; high != 0; high &= high - 1) {
        const uint8_t *q = block + __builtin_ctz(high);
        if (q >= next) {
            size_t n = evi_utf8_decode(q, (size_t)(end - q), NULL);
            if (n == 0) {
                *valid = false;
                n = 1;
            }
            next = q + n;
        }
    }
    return next;
}

/* acc with the bytes of v that evi_jsonw_string() would not copy as they are set: a control
 * character, '"', '\\' or any byte >= 0x80 (a signed compare puts those below 0x20). */
static inline __m128i json_escape_acc(__m128i acc, __m128i v)
{
    __m128i hit = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return _mm_or_si128(acc, hit);
}

/*
 * prefilter_with() on a table that the 16-byte scan finds (builtin: the
 * built-in triggers, else only the bytes >= 0x80), and with ret_plain (may be
 * NULL) whether evi_jsonw_string() would copy every byte as it is.
 */
static inline __attribute__((always_inline)) uint32_t scan16(const struct evi_sanitizer *s,
                                                             const uint8_t *start,
                                                             const uint8_t *end, bool builtin,
                                                             bool *ret_valid, bool *ret_plain)
{
    const size_t len = (size_t)(end - start);
    const uint8_t *p = start, *next = start; /* next: the first byte whose UTF-8 is unread */
    __m128i escape = _mm_setzero_si128();
    uint32_t mask = 0;
    bool valid = true;

    /*
     * A sequence that runs into the next step leaves next there: its bytes
     * are >= 0x80, so the step finds no ASCII trigger in them and
     * check_high() skips them.
     */
    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        struct trigger_bits bits = trigger_bits_of(v, builtin);
        if (ret_plain != NULL) {
            escape = json_escape_acc(escape, v);
        }
        if ((bits.assign | bits.other) != 0) {
            mask |= ascii_anchors(s, start, p, end, bits);
        }
        if (bits.high != 0) {
            next = check_high(p, end, bits.high, next, &valid);
        }
    }
    if (p < end) {
        /*
         * The last 1..15 bytes in one step too (most fields are short): the
         * 16 that end the text less those already read, or the whole of a
         * text shorter than 16.
         */
        const uint8_t *block;
        struct trigger_bits bits;
        __m128i v;
        if (len >= 16) {
            block = end - 16;
            v = _mm_loadu_si128((const __m128i *)(const void *)block);
            bits = trigger_bits_of(v, builtin);
            unsigned unread = 0xFFFFu << (p - block);
            bits.high &= unread;
            bits.assign &= unread;
            bits.other &= unread;
        } else {
            block = start;
            v = load_short(start, len);
            bits = trigger_bits_of(v, builtin);
            if ((bits.high | bits.assign | bits.other) != 0) {
                bits.high = text_bits(bits.high, len);
                bits.assign = text_bits(bits.assign, len);
                bits.other = text_bits(bits.other, len);
            }
        }
        if (ret_plain != NULL) {
            escape = json_escape_acc(escape, v); /* the text's bytes, or padding */
        }
        if ((bits.assign | bits.other) != 0) {
            mask |= ascii_anchors(s, start, block, end, bits);
        }
        if (bits.high != 0) {
            (void)check_high(block, end, bits.high, next, &valid);
        }
    }
    *ret_valid = valid;
    if (ret_plain != NULL) {
        *ret_plain = _mm_movemask_epi8(escape) == 0;
    }
    return mask;
}

/* scan16() of a sanitizer without the built-ins, out of line: rare, and it keeps one copy. */
static __attribute__((noinline)) uint32_t scan16_high(const struct evi_sanitizer *s,
                                                      const uint8_t *start, const uint8_t *end,
                                                      bool *ret_valid, bool *ret_plain)
{
    return scan16(s, start, end, false, ret_valid, ret_plain);
}
#endif

#if SCAN32
/*
 * The bytes scan32() compares with, each 32 times: in memory, as GCC
 * otherwise builds each from an immediate in every step.
 */
#define SPLAT4(c) c, c, c, c
#define SPLAT32(c)                                                                                 \
    {                                                                                              \
        SPLAT4(c), SPLAT4(c), SPLAT4(c), SPLAT4(c), SPLAT4(c), SPLAT4(c), SPLAT4(c), SPLAT4(c)     \
    }
enum {
    K_EQUALS,
    K_COLON,
    K_DASH,
    K_A,
    K_UNDERSCORE,
    K_X,
    K_J,
    K_B,
    K_BIT5,
    K_SPACE,
    K_QUOTE,
    K_BACKSLASH,
    K_COUNT
};
static const uint8_t scan32_bytes[K_COUNT][32] __attribute__((aligned(32))) = {
    [K_EQUALS] = SPLAT32('='), [K_COLON] = SPLAT32(':'),      [K_DASH] = SPLAT32('-'),
    [K_A] = SPLAT32('A'),      [K_UNDERSCORE] = SPLAT32('_'), [K_X] = SPLAT32('x'),
    [K_J] = SPLAT32('J'),      [K_B] = SPLAT32('b'),          [K_BIT5] = SPLAT32(0x20),
    [K_SPACE] = SPLAT32(0x20), [K_QUOTE] = SPLAT32('"'),      [K_BACKSLASH] = SPLAT32('\\'),
};
#undef SPLAT32
#undef SPLAT4

/*
 * scan32_bytes[k] as a vector. GCC sees through the table and builds the
 * constant from an immediate in every step (three instructions); the empty
 * asm hides where the table points, so each compare reads it from memory.
 */
static inline SCAN32_TARGET __m256i splat32(int k)
{
    const uint8_t(*table)[32] = scan32_bytes;
    __asm__("" : "+r"(table));
    return _mm256_load_si256((const __m256i *)(const void *)table[k]);
}

/* trigger_bits_of(v, true) for 32 bytes. */
static inline SCAN32_TARGET struct trigger_bits trigger_bits_of32(__m256i v)
{
    struct trigger_bits b = {(unsigned)_mm256_movemask_epi8(v), 0, 0};
    __m256i assign = _mm256_or_si256(_mm256_cmpeq_epi8(v, splat32(K_EQUALS)),
                                     _mm256_cmpeq_epi8(v, splat32(K_COLON)));
    __m256i other = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(v, splat32(K_DASH)), _mm256_cmpeq_epi8(v, splat32(K_A))),
        _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(v, splat32(K_UNDERSCORE)),
                            _mm256_cmpeq_epi8(v, splat32(K_X))),
            _mm256_or_si256(_mm256_cmpeq_epi8(v, splat32(K_J)),
                            _mm256_cmpeq_epi8(_mm256_or_si256(v, splat32(K_BIT5)), splat32(K_B)))));
    b.assign = (unsigned)_mm256_movemask_epi8(assign);
    b.other = (unsigned)_mm256_movemask_epi8(other);
    return b;
}

/* json_escape_acc() for 32 bytes. */
static inline SCAN32_TARGET __m256i json_escape_acc32(__m256i acc, __m256i v)
{
    __m256i hit = _mm256_or_si256(_mm256_cmpgt_epi8(splat32(K_SPACE), v),
                                  _mm256_or_si256(_mm256_cmpeq_epi8(v, splat32(K_QUOTE)),
                                                  _mm256_cmpeq_epi8(v, splat32(K_BACKSLASH))));
    return _mm256_or_si256(acc, hit);
}

/* Whether trigger_bits_of32() sorts every byte as trigger_bits_of(v, true) does. */
static SCAN32_TARGET bool scan32_agrees(void)
{
    for (unsigned c = 0; c < 256; c++) {
        struct trigger_bits a = trigger_bits_of(_mm_set1_epi8((char)c), true);
        struct trigger_bits b = trigger_bits_of32(_mm256_set1_epi8((char)c));
        if ((a.high != 0) != (b.high != 0) || (a.assign != 0) != (b.assign != 0) ||
            (a.other != 0) != (b.other != 0)) {
            return false;
        }
    }
    return true;
}

/*
 * scan16(s, start, end, true, ...) 32 bytes per step, for texts of 32 bytes
 * or more: half the steps, and three-operand instructions.
 */
static SCAN32_TARGET uint32_t scan32(const struct evi_sanitizer *s, const uint8_t *start,
                                     const uint8_t *end, bool *ret_valid, bool *ret_plain)
{
    const uint8_t *p = start, *next = start;
    __m256i escape = _mm256_setzero_si256();
    uint32_t mask = 0;
    bool valid = true;

    for (; end - p >= 32; p += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
        struct trigger_bits bits = trigger_bits_of32(v);
        if (ret_plain != NULL) {
            escape = json_escape_acc32(escape, v);
        }
        if ((bits.assign | bits.other) != 0) {
            mask |= ascii_anchors(s, start, p, end, bits);
        }
        if (bits.high != 0) {
            next = check_high(p, end, bits.high, next, &valid);
        }
    }
    if (p < end) {
        /* The 32 that end the text less those already read. */
        const uint8_t *block = end - 32;
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)block);
        struct trigger_bits bits = trigger_bits_of32(v);
        unsigned unread = 0xFFFFFFFFu << (p - block);
        bits.high &= unread;
        bits.assign &= unread;
        bits.other &= unread;
        if (ret_plain != NULL) {
            escape = json_escape_acc32(escape, v);
        }
        if ((bits.assign | bits.other) != 0) {
            mask |= ascii_anchors(s, start, block, end, bits);
        }
        if (bits.high != 0) {
            (void)check_high(block, end, bits.high, next, &valid);
        }
    }
    *ret_valid = valid;
    if (ret_plain != NULL) {
        *ret_plain = _mm256_movemask_epi8(escape) == 0;
    }
    return mask;
}

/* Whether this CPU runs scan32() and it agrees with the 16-byte scan. */
static bool scan32_usable(void)
{
    return __builtin_cpu_supports("avx2") && scan32_agrees();
}
#endif

/*
 * One pass over text: the built-in patterns whose anchor occurs, and whether
 * the text is valid UTF-8. fast: 16 bytes per step where the table allows it
 * and may_anchor() before anchors_at(); the reference (for tests) reads the
 * table a byte at a time and asks anchors_at() about every trigger byte.
 */
static inline __attribute__((always_inline)) uint32_t prefilter_with(const struct evi_sanitizer *s,
                                                                     const char *text, size_t len,
                                                                     bool fast, bool *ret_valid,
                                                                     bool *ret_plain)
{
    const uint8_t *start = (const uint8_t *)text, *end = start + len, *p = start;
    const uint8_t *trigger = s->trigger;
    uint32_t mask = 0;
    bool valid = true;

#if defined(__SSE2__)
    if (fast && s->scan == SCAN_BUILTIN) {
#if SCAN32
        if (s->scan32 && len >= 32) {
            return scan32(s, start, end, ret_valid, ret_plain);
        }
#endif
        return scan16(s, start, end, true, ret_valid, ret_plain);
    }
    if (fast && s->scan == SCAN_HIGH) {
        return scan16_high(s, start, end, ret_valid, ret_plain);
    }
#endif
    if (ret_plain != NULL) {
        *ret_plain = false; /* not known: the caller takes the general path */
    }
    for (;;) {
        /* Most bytes trigger nothing: 8 at a time, one branch (T_NONE is 0). */
        while (fast && end - p >= 8 &&
               (trigger[p[0]] | trigger[p[1]] | trigger[p[2]] | trigger[p[3]] | trigger[p[4]] |
                trigger[p[5]] | trigger[p[6]] | trigger[p[7]]) == 0) {
            p += 8;
        }
        while (p < end && trigger[*p] == T_NONE) {
            p++;
        }
        if (p == end) {
            break;
        }
        p = at_trigger(trigger[*p], start, p, end, &mask, &valid, fast);
    }
    *ret_valid = valid;
    return mask;
}

static uint32_t prefilter(const struct evi_sanitizer *s, const char *text, size_t len,
                          bool *ret_valid)
{
    return prefilter_with(s, text, len, true, ret_valid, NULL);
}

uint32_t evi_sanitize_prefilter(const struct evi_sanitizer *s, const char *text, size_t len,
                                bool fast, bool *ret_valid)
{
    if (fast) {
        return prefilter(s, text, len, ret_valid);
    }
    return prefilter_with(s, text, len, false, ret_valid, NULL);
}

bool evi_sanitizer_scan32(struct evi_sanitizer *s, bool on)
{
#if SCAN32
    s->scan32 = on && s->scan == SCAN_BUILTIN && scan32_usable();
#else
    (void)on;
#endif
    return s->scan32;
}

/* ---- matching ---- */

struct span {
    size_t start, end;
    size_t pattern; /* index in s->patterns, or MARKER_SPAN */
};

/* A list that lives on the stack until it outgrows LOCAL_SPANS. Not copyable. */
struct span_list {
    struct span *v;
    size_t n, cap;
    struct span local[LOCAL_SPANS];
};

static void spans_init(struct span_list *l)
{
    l->v = l->local;
    l->n = 0;
    l->cap = LOCAL_SPANS;
}

static void spans_free(struct span_list *l)
{
    if (l->v != l->local) {
        free(l->v);
    }
    spans_init(l);
}

static int spans_add(struct span_list *l, size_t start, size_t end, size_t pattern)
{
    if (l->n == l->cap) {
        if (l->cap > SIZE_MAX / 2 / sizeof(struct span)) {
            return -ENOMEM;
        }
        size_t cap = l->cap * 2;
        struct span *v = malloc(cap * sizeof(*v));
        if (v == NULL) {
            return -ENOMEM;
        }
        memcpy(v, l->v, l->n * sizeof(*v));
        if (l->v != l->local) {
            free(l->v);
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct span){start, end, pattern};
    return 0;
}

/* Length of the UTF-8 character at text[i] (text is valid). */
static size_t char_len(const char *text, size_t i)
{
    uint8_t c = (uint8_t)text[i];
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Adds every match of pattern index in the valid UTF-8 text[0..len) to spans. */
static int run_pattern(const struct evi_sanitizer *s, struct match_state *st, size_t index,
                       const char *text, size_t len, struct span_list *spans)
{
    const struct pattern *p = &s->patterns[index];
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->match_data);
    size_t off = 0;

    while (off < len) {
        int rc;
        if (p->jit) {
            rc = pcre2_jit_match(p->code, (PCRE2_SPTR)text, len, off, 0, st->match_data,
                                 st->context);
        } else {
            rc = pcre2_match(p->code, (PCRE2_SPTR)text, len, off, PCRE2_NO_UTF_CHECK,
                             st->match_data, st->context);
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            break;
        }
        if (rc == PCRE2_ERROR_NOMEMORY) {
            return -ENOMEM;
        }
        if (rc < 0) {
            /* A limit: we cannot tell what is there, so fail closed. */
            return spans_add(spans, off, len, index);
        }
        size_t match_start = ov[0], match_end = ov[1];
        size_t a = match_start, b = match_end;
        /* rc == 0: the ovector (two pairs) was too short, but pairs 0 and 1 are set. */
        if (p->group && (rc == 0 || rc >= 2) && ov[2] != PCRE2_UNSET) {
            a = ov[2];
            b = ov[3];
        }
        if (a > b) { /* \K can do that */
            size_t t = a;
            a = b;
            b = t;
        }
        if (b > len) {
            b = len;
        }
        if (a < b) {
            int r = spans_add(spans, a, b, index);
            if (r < 0) {
                return r;
            }
        }
        if (match_end > off && match_end > match_start) {
            off = match_end;
        } else {
            size_t at = match_end > off ? match_end : off;
            if (at >= len) {
                break;
            }
            off = at + char_len(text, at);
        }
    }
    return 0;
}

static int collect(const struct evi_sanitizer *s, struct match_state *st, uint32_t mask,
                   const char *text, size_t len, struct span_list *spans)
{
    for (size_t i = 0; i < s->count; i++) {
        if ((i < s->builtin_count && (mask & BIT(i)) == 0) || len < s->patterns[i].min_len) {
            continue;
        }
        int r = run_pattern(s, st, i, text, len, spans);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* ---- rewriting ---- */

/* If text[at..] is a marker of one of this sanitizer's names, its end. */
static bool marker_at(const struct evi_sanitizer *s, const char *text, size_t len, size_t at,
                      size_t *ret_end)
{
    size_t name = at + MARKER_PREFIX_LEN, i = name;

    while (i < len && i - name <= PATTERN_NAME_MAX && text[i] != ']') {
        i++;
    }
    if (i >= len || text[i] != ']') {
        return false;
    }
    for (size_t k = 0; k < s->count; k++) {
        if (s->patterns[k].name_len == i - name &&
            memcmp(s->patterns[k].name, text + name, i - name) == 0) {
            *ret_end = i + 1;
            return true;
        }
    }
    return false;
}

static int find_markers(const struct evi_sanitizer *s, const char *text, size_t len,
                        struct span_list *markers)
{
    size_t at = 0;
    while (at < len) {
        const char *hit = memmem(text + at, len - at, MARKER_PREFIX, MARKER_PREFIX_LEN);
        size_t end;
        if (hit == NULL) {
            break;
        }
        at = (size_t)(hit - text);
        if (marker_at(s, text, len, at, &end)) {
            int r = spans_add(markers, at, end, MARKER_SPAN);
            if (r < 0) {
                return r;
            }
            at = end;
        } else {
            at++;
        }
    }
    return 0;
}

/*
 * The text as the patterns see it when it holds markers: each marker's ':'
 * made '_', the same length, so that spans index both (*ret_view NULL: no
 * marker, match the text itself). No pattern takes its place from a marker's
 * own bytes: "[REDACTED:name]" holds the ':' that a URL's user information
 * needs, so url_password found "name]&" in "://pwd=[REDACTED:credential]&@",
 * credential then took the marker and the '@', the two took turns, and after
 * MAX_PASSES the output was no fixed point (fuzz-sanitize); and in
 * "://u[REDACTED:x]:pass@h" the marker's ':' hid the real one.
 */
static int match_view(const struct evi_sanitizer *s, const char *text, size_t len, char **ret_view)
{
    struct span_list markers;
    int r;

    *ret_view = NULL;
    spans_init(&markers);
    r = find_markers(s, text, len, &markers);
    if (r == 0 && markers.n > 0) {
        char *view = malloc(len + 1);
        if (view == NULL) {
            r = -ENOMEM;
        } else {
            memcpy(view, text, len);
            view[len] = '\0';
            for (size_t i = 0; i < markers.n; i++) {
                view[markers.v[i].start + MARKER_PREFIX_LEN - 1] = '_';
            }
            *ret_view = view;
        }
    }
    spans_free(&markers);
    return r;
}

/*
 * Whether [a, b) lies inside the (sorted, disjoint) markers, the first of
 * which that could hold a is markers->v[first].
 */
static bool covered(const struct span_list *markers, size_t first, size_t a, size_t b)
{
    for (size_t i = first; i < markers->n; i++) {
        const struct span *m = &markers->v[i];
        if (m->start > a) {
            return false;
        }
        /* m holds a; following markers must continue without a gap. */
        a = m->end;
        if (a >= b) {
            return true;
        }
    }
    return false;
}

static int span_cmp(const void *x, const void *y)
{
    const struct span *a = x, *b = y;
    if (a->start != b->start) {
        return a->start < b->start ? -1 : 1;
    }
    return (a->pattern > b->pattern) - (a->pattern < b->pattern);
}

/*
 * Writes text with the merged spans replaced (out NULL: only measures).
 * Returns the number of markers written; *ret_len the output length.
 */
static int write_redacted(const struct evi_sanitizer *s, const char *text, size_t len,
                          const struct span_list *spans, char *out, size_t *ret_len)
{
    size_t o = 0, copied = 0;
    int count = 0;

    for (size_t i = 0; i < spans->n;) {
        size_t start = spans->v[i].start, end = spans->v[i].end;
        size_t name = spans->v[i].pattern;
        size_t j = i + 1;
        for (; j < spans->n && spans->v[j].start < end; j++) {
            if (spans->v[j].end > end) {
                end = spans->v[j].end;
            }
            if (name == MARKER_SPAN) {
                name = spans->v[j].pattern;
            }
        }
        i = j;
        if (name == MARKER_SPAN) {
            continue; /* only markers: keep them as they are */
        }
        const struct pattern *p = &s->patterns[name];
        if (out != NULL) {
            memcpy(out + o, text + copied, start - copied);
            memcpy(out + o + (start - copied), MARKER_PREFIX, MARKER_PREFIX_LEN);
            memcpy(out + o + (start - copied) + MARKER_PREFIX_LEN, p->name, p->name_len);
            out[o + (start - copied) + MARKER_PREFIX_LEN + p->name_len] = ']';
        }
        o += start - copied + MARKER_PREFIX_LEN + p->name_len + 1;
        copied = end;
        if (count < INT_MAX) {
            count++;
        }
    }
    if (out != NULL) {
        memcpy(out + o, text + copied, len - copied);
        out[o + len - copied] = '\0';
    }
    *ret_len = o + len - copied;
    return count;
}

/*
 * Replaces the spans found in text (consumes the list's contents). Returns
 * the number of markers written and the new text, or 0 when every span lay
 * inside markers already there.
 */
static int redact(const struct evi_sanitizer *s, const char *text, size_t len,
                  struct span_list *spans, char **ret_text, size_t *ret_len)
{
    struct span_list markers;
    size_t kept = 0, out_len;
    char *out;
    int r;

    spans_init(&markers);
    r = find_markers(s, text, len, &markers);
    if (r < 0) {
        goto out;
    }
    /* Sorted by start, the first marker that can hold a span only moves forward. */
    qsort(spans->v, spans->n, sizeof(*spans->v), span_cmp);
    for (size_t i = 0, m = 0; i < spans->n; i++) {
        while (m < markers.n && markers.v[m].end <= spans->v[i].start) {
            m++;
        }
        if (!covered(&markers, m, spans->v[i].start, spans->v[i].end)) {
            spans->v[kept++] = spans->v[i];
        }
    }
    spans->n = kept;
    if (kept == 0) {
        r = 0;
        goto out;
    }
    for (size_t i = 0; i < markers.n; i++) {
        r = spans_add(spans, markers.v[i].start, markers.v[i].end, MARKER_SPAN);
        if (r < 0) {
            goto out;
        }
    }
    qsort(spans->v, spans->n, sizeof(*spans->v), span_cmp);
    (void)write_redacted(s, text, len, spans, NULL, &out_len);
    out = malloc(out_len + 1);
    if (out == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = write_redacted(s, text, len, spans, out, &out_len);
    *ret_text = out;
    *ret_len = out_len;
out:
    spans_free(&markers);
    return r;
}

/*
 * The sanitizer on valid UTF-8 whose prefilter mask is known; whole: redact
 * all of it as credential (a JSON value under a credential key).
 */
static int sanitize_valid(const struct evi_sanitizer *s, const char *text, size_t len,
                          uint32_t mask, bool whole, char **ret_text, size_t *ret_len)
{
    struct match_state *st = NULL;
    const char *cur = text;
    size_t cur_len = len;
    char *owned = NULL;
    int total = 0, r = 0;

    for (int pass = 0; pass < MAX_PASSES; pass++) {
        struct span_list spans;
        char *out = NULL;
        size_t out_len = 0;

        spans_init(&spans);
        if (pass == 0 && whole && len > 0) {
            r = spans_add(&spans, 0, len, EVI_PAT_CREDENTIAL);
        }
        if (r == 0 && cur_len >= s->min_len && (mask != 0 || s->count > s->builtin_count)) {
            if (st == NULL) {
                st = state_get();
            }
            char *view = NULL;
            r = st != NULL ? match_view(s, cur, cur_len, &view) : -ENOMEM;
            if (r == 0) {
                r = collect(s, st, mask, view != NULL ? view : cur, cur_len, &spans);
            }
            free(view);
        }
        if (r == 0 && spans.n > 0) {
            r = redact(s, cur, cur_len, &spans, &out, &out_len);
        }
        spans_free(&spans);
        if (r <= 0) {
            break;
        }
        total = total > INT_MAX - r ? INT_MAX : total + r;
        free(owned);
        owned = out;
        cur = out;
        cur_len = out_len;
        bool valid;
        mask = prefilter(s, cur, cur_len, &valid);
        r = 0;
    }
    if (r < 0 || total == 0) {
        free(owned);
        return r;
    }
    *ret_text = owned;
    *ret_len = cur_len;
    return total;
}

/* Whether evi_jsonw_string() copies every byte of text as it is (the reference for tests). */
static bool json_plain(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)text[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

/* json_plain(), 16 bytes per step where SSE2 is there (texts shorter than every pattern). */
static bool json_plain_quick(const char *text, size_t len)
{
#if defined(__SSE2__)
    const uint8_t *p = (const uint8_t *)text;
    __m128i escape = _mm_setzero_si128();
    if (len < 16) {
        escape = json_escape_acc(escape, load_short(p, len));
    } else {
        for (size_t i = 0; i + 16 <= len; i += 16) {
            escape =
                json_escape_acc(escape, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
        }
        escape =
            json_escape_acc(escape, _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16)));
    }
    return _mm_movemask_epi8(escape) == 0;
#else
    return json_plain(text, len);
#endif
}

static inline __attribute__((always_inline)) int sanitize_text(const struct evi_sanitizer *s,
                                                               const char *text, size_t len,
                                                               char **ret_text, size_t *ret_len,
                                                               bool *ret_plain)
{
    bool valid;
    uint32_t mask;

    if (ret_plain != NULL) {
        *ret_plain = false;
    }
    if (len > INT_MAX) {
        return evi_error(EV_ETOOBIG, "sanitize: text of %zu bytes, at most %d", len, INT_MAX);
    }
    if (len < s->min_len) {
        if (ret_plain != NULL) {
            *ret_plain = json_plain_quick(text, len);
        }
        return 0;
    }
    bool plain = false;
    mask = prefilter_with(s, text, len, true, &valid, ret_plain != NULL ? &plain : NULL);
    if (valid) {
        if (mask == 0 && s->count == s->builtin_count) {
            if (ret_plain != NULL) {
                *ret_plain = plain;
            }
            return 0;
        }
        int n = sanitize_valid(s, text, len, mask, false, ret_text, ret_len);
        if (n == 0 && ret_plain != NULL) {
            *ret_plain = plain;
        }
        return n;
    }

    /* Match what will be stored: evi_jsonw_string() writes each invalid byte as U+FFFD. */
    char *repaired = malloc(len * 3 + 1);
    size_t n = 0;
    int r;
    if (repaired == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < len;) {
        size_t c = evi_utf8_decode((const uint8_t *)text + i, len - i, NULL);
        if (c == 0) {
            memcpy(repaired + n, "\xEF\xBF\xBD", 3);
            n += 3;
            i++;
        } else {
            memcpy(repaired + n, text + i, c);
            n += c;
            i += c;
        }
    }
    repaired[n] = '\0';
    mask = prefilter(s, repaired, n, &valid);
    r = sanitize_valid(s, repaired, n, mask, false, ret_text, ret_len);
    free(repaired);
    return r;
}

int evi_sanitize_text(const struct evi_sanitizer *s, const char *text, size_t len, char **ret_text,
                      size_t *ret_len)
{
    return sanitize_text(s, text, len, ret_text, ret_len, NULL);
}

int evi_sanitize_text_plain(const struct evi_sanitizer *s, const char *text, size_t len,
                            char **ret_text, size_t *ret_len, bool *ret_plain)
{
    bool plain;
    int r = sanitize_text(s, text, len, ret_text, ret_len, &plain);
    *ret_plain = plain;
    return r;
}

bool evi_sanitize_json_plain(const char *text, size_t len)
{
    return json_plain(text, len);
}

/* ---- JSON ---- */

/* Key endings that mark a JSON string value as a credential (lower case). */
static const struct word credential_keys[] = {
    WORD("password"),   WORD("passwd"),     WORD("passphrase"),  WORD("secret"),
    WORD("secret_key"), WORD("secret-key"), WORD("secretkey"),   WORD("token"),
    WORD("api_key"),    WORD("api-key"),    WORD("apikey"),      WORD("access_key"),
    WORD("access-key"), WORD("accesskey"),  WORD("private_key"), WORD("private-key"),
    WORD("privatekey"),
};
#define CREDENTIAL_KEY_MAX 11

/* Whether a value under key is redacted whole (sanitize.h). */
static bool credential_key(const uint8_t *key, size_t key_len, const uint8_t *value, size_t len)
{
    uint8_t rev[CREDENTIAL_KEY_MAX];
    size_t n = 0;

    if (len == 0 || key_len == 0 || !may_end_word(key[key_len - 1])) {
        return false;
    }
    while (n < key_len && n < sizeof(rev)) {
        rev[n] = lower(key[key_len - 1 - n]);
        n++;
    }
    if (ends_with_any(rev, n, credential_keys,
                      sizeof(credential_keys) / sizeof(*credential_keys))) {
        return true;
    }
    /* pwd: a password, unless it is a working directory. */
    return n >= 3 && rev[0] == 'd' && rev[1] == 'w' && rev[2] == 'p' && value[0] != '/';
}

int evi_sanitize_member(const struct evi_sanitizer *s, const char *key, size_t key_len,
                        const char *text, size_t len, char **ret_text, size_t *ret_len)
{
    /* A value that already is one marker stays as it is (sanitizing twice changes nothing). */
    bool one_marker = len > 11 && memcmp(text, "[REDACTED:", 10) == 0 && text[len - 1] == ']' &&
                      memchr(text + 10, ']', len - 11) == NULL;
    if (!one_marker && s->builtin_count > 0 && key != NULL &&
        credential_key((const uint8_t *)key, key_len, (const uint8_t *)text, len)) {
        static const char marker[] = "[REDACTED:credential]";
        char *out = strdup(marker);
        if (out == NULL) {
            return -ENOMEM;
        }
        *ret_text = out;
        *ret_len = sizeof(marker) - 1;
        return 1;
    }
    return evi_sanitize_text(s, text, len, ret_text, ret_len);
}

/*
 * The JSON scanner: one pass that checks the text is canonical, exactly as
 * evi_json_is_canonical_object() does (json.c; the grammar below is a copy of
 * its, and fuzz/fuzz-sanitize.c checks that both always agree), and runs the
 * prefilter over every string value on the way. Values that need a closer
 * look are listed; nothing is rewritten until the whole text is known good.
 */
#define JSON_MAX_DEPTH 32

struct json_value {
    size_t open, close; /* offsets of the quotes */
    uint32_t mask;
    bool escaped; /* holds escapes: decode before matching */
    bool whole;   /* under a credential key */
};

struct json_scan {
    const struct evi_sanitizer *s;
    const uint8_t *json, *p, *end;
    struct json_value *v;
    size_t n, cap;
    struct json_value local[8];
    int error; /* -ENOMEM */
};

static bool scan_value(struct json_scan *c, int depth, const uint8_t *key, size_t key_len);

static bool hex_upper(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* A string as jansson writes it (json.c canonical_string), noting a value's anchors. */
static bool scan_string(struct json_scan *c, bool key, uint32_t *ret_mask, bool *ret_escaped)
{
    const uint8_t *klass = c->s->json_class, *start;
    uint32_t mask = 0;
    bool escaped = false;

    if (c->p >= c->end || *c->p != '"') {
        return false;
    }
    start = ++c->p;
    for (;;) {
        while (c->p < c->end && klass[*c->p] == T_NONE) {
            c->p++;
        }
        if (c->p >= c->end) {
            return false;
        }
        uint8_t t = klass[*c->p];
        if (t == T_QUOTE) {
            c->p++;
            *ret_mask = mask;
            *ret_escaped = escaped;
            return true;
        }
        if (t == T_CONTROL) {
            return false;
        }
        if (t == T_BACKSLASH) {
            if (key || c->end - c->p < 2) {
                return false;
            }
            uint8_t e = c->p[1];
            escaped = true;
            if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                c->p += 2;
                continue;
            }
            if (e != 'u' || c->end - c->p < 6 || c->p[2] != '0' || c->p[3] != '0' ||
                !hex_upper(c->p[4]) || !hex_upper(c->p[5])) {
                return false;
            }
            unsigned v = (unsigned)((c->p[4] <= '9' ? c->p[4] - '0' : c->p[4] - 'A' + 10) * 16 +
                                    (c->p[5] <= '9' ? c->p[5] - '0' : c->p[5] - 'A' + 10));
            if (v >= 0x20 || v == 0 || v == '\b' || v == '\f' || v == '\n' || v == '\r' ||
                v == '\t') {
                return false;
            }
            c->p += 6;
            continue;
        }
        if (t == T_HIGH) {
            size_t n = evi_utf8_decode(c->p, (size_t)(c->end - c->p), NULL);
            if (n == 0) {
                return false;
            }
            c->p += n;
            continue;
        }
        if (!key) {
            mask |= anchors_at(t, start, c->p, c->end);
        }
        c->p++;
    }
}

/* json.c canonical_integer. */
static bool scan_integer(struct json_scan *c)
{
    bool negative = false;
    uint64_t v = 0;
    size_t digits = 0;

    if (c->p < c->end && *c->p == '-') {
        negative = true;
        c->p++;
    }
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (digits == 1 && v == 0) {
            return false;
        }
        if (v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*c->p - '0');
        digits++;
        c->p++;
    }
    if (digits == 0 || digits > 19) {
        return false;
    }
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) {
        return false;
    }
    if (negative && (v == 0 || v > (uint64_t)INT64_MAX + 1)) {
        return false;
    }
    return negative || v <= (uint64_t)INT64_MAX;
}

static bool scan_literal(struct json_scan *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) {
        return false;
    }
    c->p += n;
    return true;
}

static bool scan_object(struct json_scan *c, int depth)
{
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    uint32_t mask;
    bool escaped;

    c->p++; /* '{' */
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        const uint8_t *key = c->p + 1;
        if (!scan_string(c, true, &mask, &escaped)) {
            return false;
        }
        size_t key_len = (size_t)(c->p - 1 - key);
        if (prev != NULL) {
            size_t n = prev_len < key_len ? prev_len : key_len;
            int cmp = memcmp(prev, key, n);
            if (cmp > 0 || (cmp == 0 && prev_len >= key_len)) {
                return false;
            }
        }
        prev = key;
        prev_len = key_len;
        if (c->p >= c->end || *c->p != ':') {
            return false;
        }
        c->p++;
        if (!scan_value(c, depth + 1, key, key_len)) {
            return false;
        }
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == '}') {
            c->p++;
            return true;
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
    }
}

static bool scan_array(struct json_scan *c, int depth)
{
    c->p++; /* '[' */
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (;;) {
        if (!scan_value(c, depth + 1, NULL, 0)) {
            return false;
        }
        if (c->p >= c->end) {
            return false;
        }
        if (*c->p == ']') {
            c->p++;
            return true;
        }
        if (*c->p != ',') {
            return false;
        }
        c->p++;
    }
}

static bool list_value(struct json_scan *c, struct json_value v)
{
    if (c->n == c->cap) {
        if (c->cap > SIZE_MAX / 2 / sizeof(v)) {
            c->error = -ENOMEM;
            return false;
        }
        size_t cap = c->cap * 2;
        struct json_value *nv = malloc(cap * sizeof(*nv));
        if (nv == NULL) {
            c->error = -ENOMEM;
            return false;
        }
        memcpy(nv, c->v, c->n * sizeof(*nv));
        if (c->v != c->local) {
            free(c->v);
        }
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n++] = v;
    return true;
}

/* A string value: listed when it may hold something. */
static bool scan_string_value(struct json_scan *c, const uint8_t *key, size_t key_len)
{
    const struct evi_sanitizer *s = c->s;
    struct json_value v = {.open = (size_t)(c->p - c->json)};

    if (!scan_string(c, false, &v.mask, &v.escaped)) {
        return false;
    }
    v.close = (size_t)(c->p - 1 - c->json);
    size_t raw_len = v.close - v.open - 1;
    v.whole = s->builtin_count > 0 && key != NULL &&
              credential_key(key, key_len, c->json + v.open + 1, raw_len);
    if (v.whole || (raw_len >= s->min_len && (v.mask != 0 || s->count > s->builtin_count))) {
        return list_value(c, v);
    }
    return true;
}

/* key: the member's key when the value is an object member's. */
static bool scan_value(struct json_scan *c, int depth, const uint8_t *key, size_t key_len)
{
    if (depth > JSON_MAX_DEPTH || c->p >= c->end) {
        return false;
    }
    switch (*c->p) {
    case '{': return scan_object(c, depth);
    case '[': return scan_array(c, depth);
    case '"': return scan_string_value(c, key, key_len);
    case 't': return scan_literal(c, "true", 4);
    case 'f': return scan_literal(c, "false", 5);
    case 'n': return scan_literal(c, "null", 4);
    default: return scan_integer(c);
    }
}

/* Decodes a canonical JSON string body (escapes only \" \\ \b \f \n \r \t \u00XX). */
static size_t json_unescape(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] != '\\' || i + 1 >= n) {
            out[o++] = in[i++];
            continue;
        }
        char e = in[i + 1];
        i += 2;
        switch (e) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned v = 0;
            for (size_t k = 0; k < 4 && i < n; k++, i++) {
                char h = in[i];
                v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            out[o++] = (char)(v & 0x7F); /* canonical: only U+0001..U+001F */
            break;
        }
        default: out[o++] = e; break; /* \" and \\ */
        }
    }
    return o;
}

/* Sanitizes one listed value; > 0: *ret_clean holds the new (unescaped) text. */
static int sanitize_value(const struct evi_sanitizer *s, const char *json,
                          const struct json_value *v, char **ret_clean, size_t *ret_clean_len)
{
    const char *value = json + v->open + 1;
    size_t len = v->close - v->open - 1;
    uint32_t mask = v->mask;

    if (v->escaped) {
        struct match_state *st = state_get();
        if (st == NULL) {
            return -ENOMEM;
        }
        if (st->buf_cap < len + 1) {
            char *buf = realloc(st->buf, len + 1);
            if (buf == NULL) {
                return -ENOMEM;
            }
            st->buf = buf;
            st->buf_cap = len + 1;
        }
        len = json_unescape(value, len, st->buf);
        value = st->buf;
        bool valid;
        mask |= prefilter(s, value, len, &valid);
        if (!v->whole && len < s->min_len) {
            return 0;
        }
    }
    return sanitize_valid(s, value, len, mask, v->whole, ret_clean, ret_clean_len);
}

int evi_sanitize_json(const struct evi_sanitizer *s, const char *json, size_t len, char **ret_json,
                      size_t *ret_len)
{
    struct json_scan c = {.s = s, .json = (const uint8_t *)json};
    struct evi_jsonw w;
    size_t copied = 0;
    int total = 0, r = 0;
    bool ok;

    if (len > INT_MAX) {
        return evi_error(EV_ETOOBIG, "sanitize: JSON of %zu bytes, at most %d", len, INT_MAX);
    }
    c.p = c.json;
    c.end = c.json + len;
    c.v = c.local;
    c.cap = sizeof(c.local) / sizeof(*c.local);
    ok = len > 0 && json[0] == '{' && scan_object(&c, 1) && c.p == c.end;
    evi_jsonw_init(&w, 0);
    if (c.error != 0) {
        r = c.error;
        goto out;
    }
    if (!ok) {
        r = evi_error(EV_EJSON, "sanitize: data is not a JSON object in canonical form");
        goto out;
    }
    for (size_t i = 0; i < c.n; i++) {
        const struct json_value *v = &c.v[i];
        char *clean = NULL;
        size_t clean_len = 0;
        r = sanitize_value(s, json, v, &clean, &clean_len);
        if (r < 0) {
            goto out;
        }
        if (r > 0) {
            evi_jsonw_raw(&w, json + copied, v->open - copied);
            w.need_comma = false;
            evi_jsonw_string(&w, clean, clean_len);
            free(clean);
            copied = v->close + 1;
            total = total > INT_MAX - r ? INT_MAX : total + r;
        }
    }
    r = 0;
    if (total > 0) {
        evi_jsonw_raw(&w, json + copied, len - copied);
        r = evi_jsonw_error(&w);
        if (r == 0) {
            *ret_json = w.data;
            *ret_len = w.len;
            w.data = NULL;
            r = total;
        }
    }
out:
    if (c.v != c.local) {
        free(c.v);
    }
    evi_jsonw_free(&w);
    return r;
}
