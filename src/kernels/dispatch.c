/* SPDX-License-Identifier: MIT */
/*
** Kernel dispatch: which kernel tables this CPU can run, and the one the
** library uses.  Both are decided once per process (pthread_once, so the first
** call may come from any thread); afterwards tg__kern() is a plain load.  The
** environment variable TG_KERNELS=reference|avx2|avx512 forces a table if the
** CPU can run it; otherwise the widest runnable table wins.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

extern const tg__kernels tg__kernels_ref;
#if defined(TG_HAVE_X86_SIMD)
extern const tg__kernels tg__kernels_avx2;
extern const tg__kernels tg__kernels_avx512;
#endif

/* runnable tables, widest first, NULL-terminated */
static const tg__kernels *runnable[4];
static pthread_once_t runnable_once = PTHREAD_ONCE_INIT;

static const tg__kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void find_runnable(void)
{
    int n = 0;
#if defined(TG_HAVE_X86_SIMD)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        runnable[n++] = &tg__kernels_avx512;
    if (avx2) runnable[n++] = &tg__kernels_avx2;
#endif
    runnable[n++] = &tg__kernels_ref;
    runnable[n] = NULL;
}

static void choose(void)
{
    pthread_once(&runnable_once, find_runnable);
    chosen = runnable[0];
    const char *want = getenv("TG_KERNELS");
    if (want == NULL) return;
    for (int i = 0; runnable[i] != NULL; i++) {
        if (strcmp(runnable[i]->name, want) == 0) chosen = runnable[i];
    }
}

const tg__kernels *tg__kern(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}

const tg__kernels *const *tg__kern_all(void)
{
    pthread_once(&runnable_once, find_runnable);
    return runnable;
}

static void monomial_of(int deg, int k, double c[TG__LEG_HORNER_MAX + 1])
{
    double prev[TG__LEG_HORNER_MAX + 1] = {1.0}, cur[TG__LEG_HORNER_MAX + 1] = {0.0, 1.0};
    for (int m = 1; m < deg; m++) {   /* P_{m+1} = ((2m+1) x P_m - m P_{m-1}) / (m+1) */
        double next[TG__LEG_HORNER_MAX + 1] = {0.0};
        for (int i = 0; i <= m + 1; i++)
            next[i] = ((2.0 * m + 1.0) * (i > 0 ? cur[i - 1] : 0.0) - m * prev[i]) / (m + 1.0);
        memcpy(prev, cur, sizeof cur);
        memcpy(cur, next, sizeof next);
    }
    const double *p = deg == 0 ? prev : cur;
    for (int i = 0; i <= TG__LEG_HORNER_MAX; i++) {
        double f = 1.0;   /* d^k x^(i+k) = (i+k)! / i! x^i */
        for (int t = i + 1; t <= i + k; t++)
            f *= t;
        c[i] = i + k <= deg ? p[i + k] * f : 0.0;
    }
}

/* Every (deg, k) up to TG__LEG_HORNER_MAX, computed once: the recurrence cost
** more than the polynomial itself for a one-element tg_legendre. */
static double monomials[TG__LEG_HORNER_MAX + 1][TG__LEG_HORNER_MAX + 1][TG__LEG_HORNER_MAX + 1];
static pthread_once_t monomials_once = PTHREAD_ONCE_INIT;

static void fill_monomials(void)
{
    for (int deg = 0; deg <= TG__LEG_HORNER_MAX; deg++)
        for (int k = 0; k <= TG__LEG_HORNER_MAX; k++)
            monomial_of(deg, k, monomials[deg][k]);
}

void tg__legendre_monomial(int deg, int k, double c[TG__LEG_HORNER_MAX + 1])
{
    pthread_once(&monomials_once, fill_monomials);
    memcpy(c, monomials[deg][k], sizeof monomials[deg][k]);
}
