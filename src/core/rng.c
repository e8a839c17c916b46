/* SPDX-License-Identifier: MIT */
/*
** Random numbers: xoshiro256** seeded through splitmix64, the uniform, normal
** and integer draws built on it, each thread's default generator, and the
** tensor fills tg_rand / tg_rand_uniform / tg_randn.  Core layer: only
** integer arithmetic and libm's log, sqrt, cos and sin, so a seed gives the
** same stream everywhere; tests/reference/tg_rng.py is the Python twin the
** reference scripts use to start PyTorch from the same values.
*/
#include "internal.h"

#include <math.h>

#define TWO_PI 6.283185307179586   /* 2 pi rounded to double, as Python's 2.0 * math.pi */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* The generator step, for callers that checked r. */
static uint64_t next_bits(tg_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double next_uniform(tg_rng *r) { return (double)(next_bits(r) >> 11) * 0x1.0p-53; }

/* One Box-Muller draw: u1 then u2; *c = r cos(2 pi u2), *s = r sin(2 pi u2). */
static void next_pair(tg_rng *r, double *c, double *s)
{
    const double u1 = next_uniform(r), u2 = next_uniform(r);
    const double rad = sqrt(-2.0 * log(1.0 - u1)), theta = TWO_PI * u2;
    *c = rad * cos(theta);
    *s = rad * sin(theta);
}

void tg_rng_seed(tg_rng *r, uint64_t seed)
{
    if (!r) {
        tg__null_arg("tg_rng_seed", "r");
        return;
    }
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t tg_rng_next(tg_rng *r)
{
    if (!r) {
        tg__null_arg("tg_rng_next", "r");
        return 0;
    }
    return next_bits(r);
}

double tg_rng_uniform(tg_rng *r)
{
    if (!r) {
        tg__null_arg("tg_rng_uniform", "r");
        return NAN;
    }
    return next_uniform(r);
}

double tg_rng_normal(tg_rng *r)
{
    if (!r) {
        tg__null_arg("tg_rng_normal", "r");
        return NAN;
    }
    double c, s;
    next_pair(r, &c, &s);
    return c;
}

int64_t tg_rng_randint(tg_rng *r, int64_t lo, int64_t hi)
{
    if (!r) {
        tg__null_arg("tg_rng_randint", "r");
        return lo;
    }
    if (hi <= lo) {
        tg__error(TG_ERR_ARG, "tg_rng_randint: empty range [%lld, %lld), need hi > lo", (long long)lo,
                  (long long)hi);
        return lo;
    }
    /* unsigned arithmetic: hi - lo may pass INT64_MAX */
    const uint64_t span = (uint64_t)hi - (uint64_t)lo;
    return (int64_t)((uint64_t)lo + next_bits(r) % span);
}

/* ----------------------------------------------------------- the default generator */

static _Thread_local tg_rng default_rng;
static _Thread_local bool default_seeded;

tg_rng *tg_manual_seed(uint64_t seed)
{
    tg_rng_seed(&default_rng, seed);
    default_seeded = true;
    return &default_rng;
}

tg_rng *tg_default_rng(void)
{
    return default_seeded ? &default_rng : tg_manual_seed(0);
}

/* ----------------------------------------------------------- tensor fills */

typedef enum fill_kind { FILL_UNIFORM, FILL_NORMAL } fill_kind;

/* A new tensor of the current scope filled row-major from the default
** generator: lo + (hi - lo) * u, or normals in (cos, sin) pairs. */
static tg_tensor *filled(const char *fn, int ndim, const int64_t *shape, fill_kind kind, double lo,
                         double hi)
{
    tg_tensor *t = tg__tensor_new(fn, ndim, shape);
    if (!t)
        return NULL;
    tg_rng *r = tg_default_rng();
    double *x = t->data;
    const int64_t n = t->numel;
    if (kind == FILL_UNIFORM) {
        for (int64_t i = 0; i < n; i++)
            x[i] = lo + (hi - lo) * next_uniform(r);
    } else {
        double c, s;
        for (int64_t i = 0; i + 1 < n; i += 2)
            next_pair(r, &x[i], &x[i + 1]);
        if (n % 2) {   /* odd length: the last pair's sine is dropped */
            next_pair(r, &c, &s);
            x[n - 1] = c;
        }
    }
    return tg__adopt(t);
}

tg_tensor *tg_rand(int ndim, const int64_t *shape)
{
    return filled("tg_rand", ndim, shape, FILL_UNIFORM, 0.0, 1.0);
}

tg_tensor *tg_rand_uniform(int ndim, const int64_t *shape, double lo, double hi)
{
    return filled("tg_rand_uniform", ndim, shape, FILL_UNIFORM, lo, hi);
}

tg_tensor *tg_randn(int ndim, const int64_t *shape)
{
    return filled("tg_randn", ndim, shape, FILL_NORMAL, 0.0, 0.0);
}
