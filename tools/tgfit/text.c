/* SPDX-License-Identifier: MIT */
/*
** tgfit's text checks for what it writes into JSON and XML: names from the
** command line and from files are bytes, and both formats need UTF-8 without
** most control characters.  utf8_char decodes one well-formed character
** (shortest form, no surrogates, at most U+10FFFF); callers write each byte
** that does not start one as U+FFFD, so the output stays valid.
*/
#include "tgfit.h"

int utf8_char(const char *s, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    int n;
    uint32_t c, min;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if ((u[0] & 0xe0) == 0xc0)
        n = 2, c = u[0] & 0x1fu, min = 0x80;
    else if ((u[0] & 0xf0) == 0xe0)
        n = 3, c = u[0] & 0x0fu, min = 0x800;
    else if ((u[0] & 0xf8) == 0xf0)
        n = 4, c = u[0] & 0x07u, min = 0x10000;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;                   /* also stops at the terminating NUL */
        c = c << 6 | (u[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}
