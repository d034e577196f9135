/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema table of the typed events: one row per field, in the order the
 * serializer writes them (byte order of the names, as canonical JSON needs).
 *
 * The same rows drive:
 *   - decode.c: JSON data in, into the C struct, with errors naming the field;
 *   - validate.c: the bounds and required fields of a struct, however it was
 *     filled;
 *   - encode.c: the struct out, as canonical JSON, applying the detail level
 *     and the sanitizer field by field;
 *   - doc.c: docs/EVENTS.md's field tables.
 * A field the library derives (counts, risks, redacted, ...) is a row too,
 * marked EVI_DERIVED: it is written from the type's derived struct and
 * refused on input.
 */
#ifndef EVI_EVENTS_SCHEMA_H
#define EVI_EVENTS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <evident/event.h>

struct evi_schema;

enum {
    EVI_REQUIRED = 1u << 0,    /* must be set */
    EVI_DERIVED = 1u << 1,     /* written by the library, refused on input */
    EVI_OUT_DERIVED = 1u << 2, /* accepted on input, written from the derived struct */
    EVI_PLAIN_INT = 1u << 3,   /* an int64_t, always set (not a struct ev_opt_int) */
    EVI_CUT = 1u << 4,         /* a string kept up to cut[level] escaped bytes, sanitized whole */
    EVI_CUT_MARK = 1u << 5,    /* derived boolean, written true when the row before was cut */
    EVI_REDACTED = 1u << 6,    /* the derived "redacted" count, known only once the rest is out */
};

/*
 * How to tell whether a row of a merged table is set without a switch on its kind: a load in
 * the event that is non-zero when it is, the same answer as evi_field_set() (events.h).
 * Captures are asked evi_capture_set(); objects are told by their own validation; EVI_PLAIN_INT
 * rows are always set; EVI_DERIVED rows never are (they are not the event's).
 */
enum evi_set_test {
    EVI_SET_POINTER, /* const char * (strings, digests, JSON) */
    EVI_SET_FLAG,    /* the bool set of a struct ev_opt_int or ev_opt_bool */
    EVI_SET_ENUM,    /* an int, 0 when unset */
    EVI_SET_COUNT,   /* the size_t count of a list */
    EVI_SET_CAPTURE, /* a struct ev_capture */
    EVI_SET_TESTS,
};

/* One row's set test: where to load, and the row's bit. */
struct evi_set_probe {
    uint32_t offset; /* in the event struct */
    uint32_t row;
};

struct evi_field {
    const char *name;
    size_t name_len; /* strlen(name) in the merged tables (evi_schema_of); 0 = not known */
    enum ev_field_kind kind;
    unsigned flags;
    size_t offset;                 /* in the event struct (or the derived struct if EVI_DERIVED) */
    size_t count_offset;           /* EV_FIELD_OBJECTS: the size_t count beside the pointer */
    int64_t min, max;              /* integers: bounds; strings: max = bytes; lists: max = items */
    size_t item_max;               /* EV_FIELD_STRINGS: bytes per item */
    size_t derived_offset;         /* EVI_DERIVED / EVI_OUT_DERIVED: in struct evi_derived */
    size_t basic_max;              /* strings: bytes kept at level basic (0 = all) */
    size_t cut[3];                 /* EVI_CUT strings: escaped bytes kept at each level */
    enum ev_level level;           /* kept at this level and above */
    const char *const *enum_names; /* EV_FIELD_ENUM: index = C enum value, [0] unused */
    size_t enum_count; /* its names ([0] included) in the merged tables; 0 = not known */
    const uint8_t *enum_name_lens; /* strlen() of each of them in the merged tables, or NULL */
    const struct evi_schema *sub;  /* EV_FIELD_OBJECT(S) */
    size_t item_size;              /* EV_FIELD_OBJECTS: sizeof one element */
    const char *unit;              /* "ms", "bytes", ... or NULL */
    const char *doc;               /* one line for docs/EVENTS.md */
};

struct evi_schema {
    const char *name; /* the type name, or the object's name for a sub-schema */
    const struct evi_field *fields;
    size_t count;
    size_t struct_size;
    /*
     * Row masks (bit i for row i) of the merged tables (evi_schema_of), which have at most
     * EVI_MAX_FIELDS rows; all zero in the sub-schemas, which go row by row.
     */
    bool masks;
    uint64_t checked;    /* validated even when unset: required rows, objects, lists of objects */
    uint64_t own_rules;  /* EVI_DERIVED, EVI_OUT_DERIVED, EVI_CUT_MARK, EVI_REDACTED: the encoder
                            decides these itself */
    uint64_t kept[3];    /* kept at each level (f->level <= level) */
    uint64_t always_set; /* EVI_PLAIN_INT rows */
    /* The set tests of the other rows that may be set, grouped by test: those of test t are
     * probes[probe_end[t - 1]] to probes[probe_end[t]] (from 0 for the first). */
    const struct evi_set_probe *probes;
    uint8_t probe_end[EVI_SET_TESTS];
};

/*
 * What the library works out for an event before writing it: the rows marked
 * EVI_DERIVED and EVI_OUT_DERIVED read from here.
 */
#define EVI_MAX_RISKS 32
struct evi_derived {
    struct ev_finding_counts counts;
    struct ev_opt_int findings_total;
    struct ev_opt_int findings_kept;       /* only when findings were cut */
    struct ev_opt_bool findings_truncated; /* only when findings were cut */
    struct ev_opt_int score;
    const struct ev_finding *findings; /* most severe first, the kept ones */
    size_t finding_count;
    const char *risk_names[EVI_MAX_RISKS];
    struct ev_strings risks;
};

/* Text limits per level for captured outputs (escaped bytes). */
struct evi_capture_limits {
    size_t code, output; /* code text; stdout and stderr each */
};
extern const struct evi_capture_limits evi_capture_limits[3];

/* Finding messages are cut to this many bytes at level basic. */
#define EVI_BASIC_MESSAGE_MAX 256

/* Rows in a merged table at most (a bit each in the masks of struct evi_schema). */
#define EVI_MAX_FIELDS 48
_Static_assert(EVI_MAX_FIELDS <= 64, "row masks are uint64_t");

/* The merged, sorted table of a built-in type (common fields included). */
const struct evi_schema *evi_schema_of(enum ev_event_type type);

/* strlen(f->name), without the strlen for the rows of the merged tables. */
static inline size_t evi_field_name_len(const struct evi_field *f)
{
    return f->name_len != 0 ? f->name_len : strlen(f->name);
}

/* A field of schema by name (n bytes), or NULL. */
const struct evi_field *evi_schema_field(const struct evi_schema *schema, const char *name,
                                         size_t n);

/* The fields a producer may give ("a, b, c"), for messages about one it may not. */
void evi_schema_input_fields(const struct evi_schema *schema, char *out, size_t cap);

/* The names of an enum field's values, for messages: "a, b, c". */
void evi_enum_list(const struct evi_field *field, char *out, size_t cap);

extern const char *const evi_outcome_names[];
extern const char *const evi_finding_severity_names[];
extern const char *const evi_confidence_names[];
extern const char *const evi_resource_names[];
extern const char *const evi_action_names[];
extern const char *const evi_system_action_names[];
extern const char *const evi_syslog_format_names[];
extern const char *const evi_syslog_facility_names[];

#endif
