/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 decoding, strict, shared by every parser of text (notes, checkpoints, JSON). */
#ifndef EVI_UTF8_H
#define EVI_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the UTF-8 sequence at s[0..len) (len >= 1): returns its length (1 to
 * 4) and writes its code point to *ret_code_point (may be NULL), or returns 0
 * if it is not the shortest encoding of a Unicode scalar value (overlong forms,
 * UTF-16 surrogates and values past U+10FFFF are rejected, as Go's utf8.Valid
 * and jansson do).
 */
size_t evi_utf8_decode(const uint8_t *s, size_t len, uint32_t *ret_code_point);

#endif
