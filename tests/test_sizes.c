/* SPDX-License-Identifier: MIT */
/*
** Sizes from user input (issue 18, item 1 in the library): shapes, point
** counts, L-BFGS history sizes and degrees at their extremes (0, -1, 2^31,
** 2^53, 2^61 + 1, 2^63 - 1) either work or fail with TG_ERR_ARG /
** TG_ERR_NOMEM and a message; nothing wraps into a small allocation.  Runs in
** a child under a 4 GB address-space limit so that a size that does fit is
** refused quickly instead of being touched.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"   /* TG_ASAN: ASan cannot start under an address-space limit */

static const int64_t extremes[] = {0, -1, (int64_t)1 << 31, (int64_t)1 << 53, ((int64_t)1 << 61) + 1, INT64_MAX};
#define N_EXTREMES (sizeof extremes / sizeof extremes[0])

static bool refused_or_fine(const void *result)
{
    tg_status s = tg_last_status();
    return result ? true : (s == TG_ERR_ARG || s == TG_ERR_NOMEM) && tg_last_error()[0] != '\0';
}

static int sizes_child(void)
{
    for (size_t i = 0; i < N_EXTREMES; i++) {
        int64_t v = extremes[i], two[2] = {v, v}, mixed[3] = {2, v, 3};
        tg_clear_error();
        tg_tensor *t = tg_empty(1, &v);
        if (!refused_or_fine(t) || (v < 0 && t) || (v > ((int64_t)1 << 31) && t))
            return 1;
        tg_free(t);
        tg_clear_error();
        if (!refused_or_fine(t = tg_empty(2, two)) || (v > 0 && v != 0 && t && v > 100000))
            return 2;
        tg_free(t);
        tg_clear_error();
        if (!refused_or_fine(t = tg_empty(3, mixed)) || (v > ((int64_t)1 << 31) && t))
            return 3;
        tg_free(t);
        tg_clear_error();
        if (!refused_or_fine(t = tg_linspace(0.0, 1.0, v)) || (v > ((int64_t)1 << 31) && t))
            return 4;
        tg_free(t);
    }
    tg_params *p = tg_params_new();
    int64_t n = 4;
    tg_params_add(p, "w", tg_full(1, &n, 1.0));
    const int hist[] = {0, -1, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++) {
        tg_lbfgs_opts o = tg_lbfgs_defaults();
        o.history_size = hist[i];
        tg_clear_error();
        tg_optim *opt = tg_lbfgs_new(p, &o);
        if (!refused_or_fine(opt) || (hist[i] < 1 && opt))
            return 5;
        tg_optim_free(opt);
    }
    const int degrees[] = {-1, INT_MAX, INT_MAX - 1};
    tg_tensor *x = tg_linspace(-1, 1, 10), *coef = NULL;
    for (size_t i = 0; i < sizeof degrees / sizeof degrees[0]; i++) {
        tg_clear_error();
        tg_tensor *y = degrees[i] < 0 ? tg_legendre(x, degrees[i]) : NULL;   /* a big degree is work, not a size */
        if (degrees[i] < 0 && (y || tg_last_status() != TG_ERR_ARG))
            return 6;
        if (tg_legendre_lstsq(x, x, degrees[i], 1.0, 0.0, &coef, NULL) == TG_OK)
            return 7;   /* 10 points cannot fit degree -1 or 2^31 - 1 */
    }
    tg_params_free(p);
    return 0;
}

static void test_extreme_sizes_refused_or_fine_never_wrapped(void **state)
{
    (void)state;
#ifdef TG_ASAN
    skip();   /* ASan cannot run under the child's RLIMIT_AS, and 2^31 doubles exceed its allocator */
#endif
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit r = {(rlim_t)4 << 30, (rlim_t)4 << 30};
        setrlimit(RLIMIT_AS, &r);
        alarm(60);
        _exit(sizes_child());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status))
        print_error("child killed by signal %d\n", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extreme_sizes_refused_or_fine_never_wrapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
