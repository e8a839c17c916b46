/* SPDX-License-Identifier: MIT */
/*
** A correctly rounded decimal-to-double parser for the text readers: the
** same bits as strtod in the "C" locale, at a fraction of its cost.  A
** decimal [+-]digits[.digits][(e|E)[+-]digits] is read into a 64-bit
** significand w (its first 19 significant digits) and a power of ten q; then
**  - Clinger's fast path: w <= 2^53 and |q| <= 22 is one exact IEEE
**    multiplication or division, so correctly rounded;
**  - otherwise the Eisel-Lemire algorithm (D. Lemire, "Number Parsing at a
**    Gigabyte per Second", Software: Practice and Experience 51(8), 2021):
**    w times a 128-bit approximation of 5^q (pow5_table.h, from
**    tools/gen_pow5_table.py) gives the top bits of the exact product; the
**    rare products too close to a rounding boundary to decide are refused;
**  - more than 19 digits: w and w + 1 bracket the value, and when both round
**    to the same double that is the answer, else refused.
** Refused means false: the caller then asks strtod, which is always right, so
** the result is strtod's in every case.  Anything that is not such a decimal
** (nan, inf, hex floats, blanks, trailing text) is refused the same way.
** Plain code on bytes; part of the I/O layer, used by csv.c.
*/
#include "io.h"

#include <string.h>

#include "pow5_table.h"

__extension__ typedef unsigned __int128 u128;

#define MANT_BITS 52
#define EXP_BIAS 1023
#define INF_EXP 0x7FF

static void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    u128 p = (u128)a * b;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* floor(log2(10^q)) + 63, for |q| <= 342 (Lemire's (152170 + 65536) q / 2^16) */
static int64_t power2_of_ten(int64_t q)
{
    int64_t x = (152170 + 65536) * q;
    return (x >= 0 ? x / 65536 : -((-x + 65535) / 65536)) + 63;
}

/* The bits of w * 10^q rounded to nearest even, w != 0, q in the table's
** range; false when the 128-bit product cannot decide the rounding. */
static bool eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
{
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *p5 = pow5_128[q - TG__POW5_MIN];
    uint64_t hi, lo;
    mul64(w, p5[0], &hi, &lo);
    const uint64_t mask = UINT64_MAX >> (MANT_BITS + 3);
    if ((hi & mask) == mask) {   /* the low half of 5^q may carry into what we keep */
        uint64_t hi2, lo2;
        mul64(w, p5[1], &hi2, &lo2);
        lo += hi2;
        hi += lo < hi2;
    }
    if (lo == UINT64_MAX && (q < -27 || q > 55))
        return false;   /* 5^q inexact here and the product may be one unit short */
    int upper = (int)(hi >> 63);
    int shift = upper + 64 - MANT_BITS - 3;
    uint64_t m = hi >> shift;
    int64_t p2 = power2_of_ten(q) + upper - lz + EXP_BIAS;
    if (p2 <= 0) {   /* subnormal, or rounds up to the smallest normal */
        if (-p2 + 1 >= 64) {
            *bits = 0;
            return true;
        }
        m >>= -p2 + 1;
        m += m & 1;
        m >>= 1;
        *bits = m;   /* m == 2^52 (rounded up to the smallest normal) is that double's bits */
        return true;
    }
    /* halfway between two doubles: possible only where 5^q is exact in 64 bits */
    if (lo <= 1 && q >= -4 && q <= 23 && (m & 3) == 1 && (m << shift) == hi)
        m &= ~(uint64_t)1;   /* round down to even */
    m += m & 1;
    m >>= 1;
    if (m >= (uint64_t)2 << MANT_BITS) {
        m = (uint64_t)1 << MANT_BITS;
        p2++;
    }
    m &= ~((uint64_t)1 << MANT_BITS);
    *bits = p2 >= INF_EXP ? (uint64_t)INF_EXP << MANT_BITS : m | (uint64_t)p2 << MANT_BITS;
    return true;
}

/* w * 10^q correctly rounded (w < 10^19 + 1), or false. */
static bool to_double(uint64_t w, int64_t q, bool truncated, uint64_t *bits)
{
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (w == 0 || q < TG__POW5_MIN) {   /* below half the smallest subnormal */
        *bits = 0;
        return true;
    }
    if (q > TG__POW5_MAX) {
        *bits = (uint64_t)INF_EXP << MANT_BITS;
        return true;
    }
    if (!truncated && w <= (uint64_t)1 << 53 && q >= -22 && q <= 22) {
        double v = (double)w;
        v = q < 0 ? v / pow10[-q] : v * pow10[q];
        memcpy(bits, &v, sizeof v);
        return true;
    }
    if (!eisel_lemire(w, q, bits))
        return false;
    uint64_t up;
    return !truncated || (eisel_lemire(w + 1, q, &up) && up == *bits);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#else
#define SWAR 0
#endif

/* Eight ASCII digits at p (little-endian load) as a number, or -1. */
static inline int64_t eight_digits(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    if (((v & 0xF0F0F0F0F0F0F0F0u) | (((v + 0x0606060606060606u) & 0xF0F0F0F0F0F0F0F0u) >> 4)) !=
        0x3333333333333333u)
        return -1;
    v -= 0x3030303030303030u;
    v = v * 10 + (v >> 8);
    v = (((v & 0x000000FF000000FFu) * 0x000F424000000064u) +
         (((v >> 16) & 0x000000FF000000FFu) * 0x0000271000000001u)) >> 32;
    return (int64_t)(uint32_t)v;
}

/* Digits from p: accumulated into *w (mod 2^64), the end returned. */
static inline const char *digits(const char *p, const char *e, uint64_t *w)
{
    if (SWAR)
        for (int64_t v; e - p >= 8 && (v = eight_digits(p)) >= 0; p += 8)
            *w = *w * 100000000u + (uint64_t)v;
    for (; p < e && (unsigned)(*p - '0') < 10; p++)
        *w = *w * 10 + (uint64_t)(*p - '0');
    return p;
}

/* More than 19 digits in [s, e) (a '.' may sit among them): the first 19
** significant ones into *w, with *q the power of ten of the last digit taken
** (dot: the '.' or NULL) and whether a nonzero digit was left out. */
static bool first_19(const char *s, const char *e, const char *dot, uint64_t *w, int64_t *q)
{
    const char *int_end = dot ? dot : e;
    int taken = 0;
    bool truncated = false;
    *w = 0;
    *q = int_end - s;   /* the first digit's place + 1 */
    for (const char *p = s; p < e; p++) {
        if (p == dot)
            continue;
        unsigned d = (unsigned)(*p - '0');
        if (taken < 19) {
            *q -= 1;
            if (*w == 0 && d == 0)
                continue;   /* a leading zero */
            *w = *w * 10 + d;
            taken++;
        } else {
            truncated |= d != 0;
        }
    }
    return truncated;
}

const char *tg__parse_number(const char *s, const char *e, double *out)
{
    const char *p = s;
    bool neg = p < e && *p == '-';
    p += p < e && (*p == '-' || *p == '+');
    const char *first = p, *dot = NULL;
    uint64_t w = 0;
    p = digits(p, e, &w);
    int64_t n_digits = p - first, q = 0;
    if (p < e && *p == '.') {
        dot = p;
        const char *f = p + 1;
        p = digits(f, e, &w);
        n_digits += p - f;
        q = -(p - f);
    }
    if (n_digits == 0)
        return NULL;
    const char *digits_end = p;
    if (p < e && (*p == 'e' || *p == 'E')) {
        const char *x0 = p + 1;
        bool eneg = x0 < e && *x0 == '-';
        x0 += x0 < e && (*x0 == '-' || *x0 == '+');
        if (x0 < e && (unsigned)(*x0 - '0') < 10) {   /* else "1e": the number ends at 'e' */
            int64_t x = 0;
            for (p = x0; p < e && (unsigned)(*p - '0') < 10; p++)
                if (x < 100000)
                    x = x * 10 + (*p - '0');
            q += eneg ? -x : x;
        }
    }
    bool truncated = false;
    if (n_digits > 19) {
        const char *z = first;   /* leading zeros do not count */
        while (z < digits_end && (*z == '0' || *z == '.'))
            z++;
        int64_t sig = (digits_end - z) - (dot && dot >= z);
        if (sig > 19) {
            int64_t q19;
            truncated = first_19(first, digits_end, dot, &w, &q19);
            q += q19 - (dot ? -(digits_end - dot - 1) : 0);
        }
    }
    uint64_t bits;
    if (!to_double(w, q, truncated, &bits))
        return NULL;
    *out = from_bits(bits | (uint64_t)neg << 63);
    return p;
}

bool tg__parse_double(const char *s, size_t n, double *out)
{
    double v;
    if (tg__parse_number(s, s + n, &v) != s + n)
        return false;
    *out = v;
    return true;
}
