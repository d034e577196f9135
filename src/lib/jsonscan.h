/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The length of the run of JSON-plain bytes at the start of a text: printable
 * ASCII other than '"' and '\\' (0x7F included), i.e. the bytes that both the
 * canonical check (json.c) and the writer (jsonw.c) pass through unchanged.
 * Strings in events are mostly such runs: 16 bytes per step with SSE2 (the
 * x86-64 baseline), one byte at a time elsewhere and for the tail.
 */
#ifndef EVI_JSONSCAN_H
#define EVI_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline bool evi_json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static inline size_t evi_json_plain_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i below = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    for (; n - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        /* Signed: bytes 0x80..0xFF are negative, so "< 0x20" also catches non-ASCII. */
        __m128i special =
            _mm_or_si128(_mm_cmplt_epi8(v, below),
                         _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        unsigned mask = (unsigned)_mm_movemask_epi8(special);
        if (mask != 0) {
            return i + (size_t)__builtin_ctz(mask);
        }
    }
#endif
    while (i < n && evi_json_plain(p[i])) {
        i++;
    }
    return i;
}

#endif
