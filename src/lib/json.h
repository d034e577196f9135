/* SPDX-License-Identifier: Apache-2.0 */
/* Recognizing JSON that is already in canonical form (see json.c). */
#ifndef EVI_JSON_H
#define EVI_JSON_H

#include <stdbool.h>
#include <stddef.h>

/*
 * true only if text is one JSON object that jansson would parse (with
 * JSON_REJECT_DUPLICATES) and write back (JSON_COMPACT | JSON_SORT_KEYS) as
 * exactly these bytes. false means "not known to be canonical": canonicalize
 * with jansson, which also reports errors.
 */
bool evi_json_is_canonical_object(const char *text, size_t len);

/*
 * Writes the canonical form of a JSON object into out (cap bytes) and returns
 * its length, when every token of text (strings, integers, literals) is
 * already in canonical form and only whitespace and member order differ: then
 * the result is exactly what jansson would write. Returns 0 otherwise (reals,
 * escapes in keys, duplicate keys, deep nesting, objects of over 256 members,
 * malformed text): canonicalize with jansson, which also reports errors.
 * The result is never longer than text.
 */
size_t evi_json_canonicalize_object(const char *text, size_t len, char *out, size_t cap);

#endif
