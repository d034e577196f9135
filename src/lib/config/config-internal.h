/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration module's insides: the option table (table.c), the value
 * syntaxes (value.c), a growable text buffer (text.c), the YAML reader
 * (yaml.c) and the writers of `config show`, docs/CONFIG.md and
 * config/evident.yaml (dump.c, doc.c).
 *
 * Every option is one row of evi_config_options[]: its dotted path, kind,
 * where it lives in struct ev_config, its default (as YAML text, parsed by the
 * same code as the file, so the documented default is the real one), its
 * bounds or choices, which component uses it and one line of documentation.
 * Lists of records (privacy.patterns, alerting.rules) and the policies map
 * have sub-tables of the same rows, with offsets into their own structs.
 */
#ifndef EVI_CONFIG_INTERNAL_H
#define EVI_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evident/config.h>

enum evi_config_kind {
    EVI_CFG_STRING = 1, /* char *: any text (a path, an origin) */
    EVI_CFG_BOOL,       /* bool: true or false */
    EVI_CFG_SIZE,       /* uint64_t bytes: 4096, 64KiB, 64MiB, 1GiB, 1TiB */
    EVI_CFG_DURATION,   /* uint64_t ns: 0, 500us, 2ms, 90s, 15m, 1h, 2d */
    EVI_CFG_COUNT,      /* uint64_t: decimal digits */
    EVI_CFG_INT,        /* int: decimal digits */
    EVI_CFG_ENUM,       /* int (or an enum): one of choices */
    EVI_CFG_SEVERITY,   /* int: a syslog severity name (ev_severity_parse) */
    EVI_CFG_MODE,       /* unsigned: file mode as octal digits, "0660" */
    EVI_CFG_HOSTPORT,   /* char *: "host:port" or "[v6]:port" */
    EVI_CFG_TOKEN_HASH, /* char *: "sha256:" + 64 lower-case hex digits (a bearer token's hash) */
    EVI_CFG_PRINCIPAL,  /* char *: a user or group name, or a numeric id */
    EVI_CFG_LIST,       /* char *[max] + size_t count: a list of scalars of kind item */
    EVI_CFG_URL,        /* char *: http:// or https:// URL */
    EVI_CFG_NAME,       /* char *: [a-z0-9_-], 1..EV_CONFIG_MAX_NAME */
    EVI_CFG_REGEX,      /* char *: PCRE2 pattern that compiles in UTF mode */
    EVI_CFG_EVENT_TYPE, /* char *: "*", a built-in type name or custom.NAME */
    EVI_CFG_RECORDS,    /* an array of records + size_t count: a list of mappings */
    EVI_CFG_POLICIES,   /* struct ev_type_policy[EV_TYPE_COUNT]: a mapping by type name */
    EVI_CFG_DEST,       /* char *: an absolute directory path or an http(s):// URL */
    EVI_CFG_SPACE,      /* struct ev_space: a size (min..max) or a percentage "10%", "0.5%" */
};

/* A percentage of EVI_CFG_SPACE: at least 0.01%, at most 50% (hundredths of a percent). */
#define EVI_SPACE_PERCENT_MAX_X100 5000u

struct evi_config_choice {
    const char *name;
    int value;
};

struct evi_config_record;

struct evi_config_option {
    const char *path; /* "storage.segment_size"; relative to the record in sub-tables */
    enum evi_config_kind kind;
    size_t offset;             /* of the value in its struct */
    size_t count_offset;       /* LIST, RECORDS: of the size_t count */
    enum evi_config_kind item; /* LIST: the kind of each item (a string kind) */
    /*
     * The default as a YAML plain scalar: "64MiB", "null" (nullable only), "[]"
     * (lists). NULL in a record's sub-table: the key is required.
     */
    const char *default_text;
    uint64_t min, max; /* numbers: range (durations in ns); lists: max items */
    bool nullable;     /* null (or ~ or nothing) leaves it unset */
    bool zero_off;     /* 0 is allowed below min and means "off" / "no limit" */
    const struct evi_config_choice *choices; /* ENUM: NULL-terminated */
    const struct evi_config_record *record;  /* RECORDS, POLICIES: the sub-table */
    const char *used_by; /* "library", "cli", "daemon (issue 4)", "lifecycle (issue 5)" */
    const char *doc;     /* one sentence (or two) for the docs and the example */
    const char *example; /* lists: commented YAML lines shown in config/evident.yaml */
};

/* A struct that a mapping fills: a list item or a policy. */
struct evi_config_record {
    const char *what; /* "pattern", "rule", "policy" */
    size_t size;      /* of the struct */
    const struct evi_config_option *fields;
    size_t field_count;
    /* Checks across fields, or NULL. Returns NULL or a message (static text). */
    const char *(*check)(const void *record);
};

/* A top-level (or nested) section: its path and what it is for. */
struct evi_config_section {
    const char *path; /* "log", "privacy.encryption" */
    const char *doc;
};

extern const struct evi_config_option evi_config_options[];
extern const size_t evi_config_option_count;
extern const struct evi_config_section evi_config_sections[];
extern const size_t evi_config_section_count;
extern const struct evi_config_record evi_config_policy_record;

/* The policies map's keys in enum ev_event_type order ("custom" last). */
extern const char *const evi_config_type_names[EV_TYPE_COUNT];
extern const struct evi_config_choice evi_config_level_choices[];

/* Options that were renamed: a file using the old key is told the new one. */
struct evi_config_renamed {
    const char *old_path;
    const char *new_path;
};
extern const struct evi_config_renamed evi_config_renamed[]; /* ends with {NULL, NULL} */

/*
 * Checks that span options (a TLS certificate needs its key, ...). Returns
 * NULL, or what is wrong with the option *ret_path names.
 */
const char *evi_config_check(const struct ev_config *config, const char **ret_path);

/* ---- text ------------------------------------------------------------------ */

/* A growable NUL-terminated buffer with a sticky allocation error. */
struct evi_text {
    char *data;
    size_t len, cap;
    bool failed;
};

void evi_text_add(struct evi_text *t, const char *s);
void evi_text_addf(struct evi_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A YAML double-quoted scalar that reads back as s. */
void evi_text_add_quoted(struct evi_text *t, const char *s);
/* Hands *ret_text over (0), or frees and returns -ENOMEM. */
int evi_text_finish(struct evi_text *t, char **ret_text);

/* ---- values ---------------------------------------------------------------- */

/*
 * A scalar of the file as the reader gives it: its bytes (NUL-terminated,
 * no NUL inside) and whether it was plain (unquoted).
 */
struct evi_config_scalar {
    const char *text;
    size_t len;
    bool plain;
};

/* Whether a scalar means null: plain "", "~" or "null". */
bool evi_config_scalar_is_null(const struct evi_config_scalar *s);

/*
 * Parses a scalar for option o into the field at dst (dst is the struct +
 * o->offset; strings are allocated and replace what was there). Returns NULL,
 * or a message saying what was expected (static text or in msg, cap bytes);
 * -ENOMEM as "out of memory" sets *ret_oom.
 */
const char *evi_config_value_parse(const struct evi_config_option *o,
                                   const struct evi_config_scalar *s, void *dst, char *msg,
                                   size_t cap, bool *ret_oom);

/*
 * Writes the value of o in the struct at base as YAML that parses back to it
 * (a scalar, or a flow list for LIST; not RECORDS or POLICIES).
 */
void evi_config_value_format(struct evi_text *t, const struct evi_config_option *o,
                             const void *base);

/* "a size", "a duration", "true or false", ... for the docs and messages. */
const char *evi_config_kind_name(const struct evi_config_option *o);

/* Range and choices of o in words ("1MiB to 16GiB", "always, interval, never"), or "". */
void evi_config_value_bounds(struct evi_text *t, const struct evi_config_option *o);

/* Fills a struct with its table's defaults. 0 or -ENOMEM. Required fields stay zero. */
int evi_config_record_defaults(const struct evi_config_option *fields, size_t count, void *base);
/* Frees the strings and lists a table's fields own in base. */
void evi_config_record_release(const struct evi_config_option *fields, size_t count, void *base);

/* ---- reading and comparing --------------------------------------------------- */

/*
 * Parses YAML text into *config, which holds the defaults. Returns 0 or
 * EV_EFORMAT / -ENOMEM with ev_last_error() set; on failure *config may hold
 * part of the file (the caller frees it).
 */
int evi_config_read(const char *name, const char *text, size_t len, struct ev_config *config);

/* Whether two configurations hold the same values (path aside), by the table. */
bool evi_config_equal(const struct ev_config *a, const struct ev_config *b);

#endif
