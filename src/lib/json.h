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

#endif
