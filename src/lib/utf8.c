/* SPDX-License-Identifier: Apache-2.0 */
/* Strict UTF-8 decoding: see utf8.h. */
#include "utf8.h"

size_t evi_utf8_decode(const uint8_t *s, size_t len, uint32_t *ret_code_point)
{
    uint32_t code_point;
    size_t n;
    uint8_t lo = 0x80;
    uint8_t hi = 0xbf;

    if (s[0] < 0x80) {
        if (ret_code_point != NULL) {
            *ret_code_point = s[0];
        }
        return 1;
    }
    if (s[0] < 0xc2) {
        return 0;
    }
    if (s[0] < 0xe0) {
        n = 2;
        code_point = s[0] & 0x1fu;
    } else if (s[0] < 0xf0) {
        n = 3;
        code_point = s[0] & 0x0fu;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] < 0xf5) {
        n = 4;
        code_point = s[0] & 0x07u;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    code_point = (code_point << 6) | (s[1] & 0x3fu);
    for (size_t i = 2; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        code_point = (code_point << 6) | (s[i] & 0x3fu);
    }
    if (ret_code_point != NULL) {
        *ret_code_point = code_point;
    }
    return n;
}
