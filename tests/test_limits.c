/* SPDX-License-Identifier: MIT */
/*
** Address-space limits (issue 18, row 3): under setrlimit(RLIMIT_AS) a BLAS
** or LAPACK call either runs or returns TG_ERR_NOMEM, never hangs inside
** OpenBLAS's blas_memory_alloc.  Each case runs in a forked child that sets
** the limit, arms alarm() (a hang kills the child with SIGALRM and fails the
** test) and exits 0 only when every call ended in a correct result or
** TG_ERR_NOMEM.  Before the fix tg_matmul 300 x 300 spun for ever at 150 and
** 250 MB.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"   /* TG_ASAN: ASan cannot start under an address-space limit */

static long long vm_bytes(void)
{
    long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%lld", &pages) != 1)
        pages = 0;
    if (f)
        fclose(f);
    return pages * (long long)sysconf(_SC_PAGESIZE);
}

/* 0 when the result is right or the call reported TG_ERR_NOMEM. */
static int matmul_case(int n)
{
    int64_t sh[2] = {n, n};
    tg_tensor *a = tg_full(2, sh, 1.0), *b = tg_full(2, sh, 2.0);
    if (!a || !b)
        return tg_last_status() == TG_ERR_NOMEM ? 0 : 1;
    tg_tensor *c = tg_matmul(a, b);
    if (!c)
        return tg_last_status() == TG_ERR_NOMEM ? 0 : 2;
    for (int64_t i = 0; i < (int64_t)n * n; i++)
        if (tg_data(c)[i] != 2.0 * n)
            return 3;
    return 0;
}

static int lstsq_case(int64_t n)
{
    tg_tensor *x = tg_linspace(-1.0, 1.0, n), *y = x ? tg_legendre(x, 3) : NULL, *coef = NULL;
    if (!x || !y)
        return tg_last_status() == TG_ERR_NOMEM ? 0 : 4;
    tg_status st = tg_legendre_lstsq(x, y, 5, 1.0, 0.0, &coef, NULL);
    if (st != TG_OK)
        return st == TG_ERR_NOMEM ? 0 : 5;
    for (int k = 0; k < 6; k++)
        if (fabs(tg_data(coef)[k] - (k == 3)) > 1e-9)
            return 6;
    return 0;
}

/* The exit code of child pid run under a limit of mb MB (128 + the signal
** that killed it, told: a hang ends in SIGALRM). */
static int reap(pid_t pid, long long mb)
{
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        print_error("limit %lld MB: child killed by signal %d (a hang ends in SIGALRM = 14)\n", mb,
                    WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs matmul and lstsq in a child under a limit of `bytes`; its exit code. */
static int child_under_limit(long long bytes)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit r = {(rlim_t)bytes, (rlim_t)bytes};
        alarm(20);
        if (setrlimit(RLIMIT_AS, &r) != 0)
            _exit(9);
        int rc = matmul_case(300);
        rc = rc ? rc : matmul_case(64);
        rc = rc ? rc : lstsq_case(200000);
        _exit(rc);
    }
    return reap(pid, bytes >> 20);
}

static void test_blas_under_fixed_limits_runs_or_reports_nomem(void **state)
{
    (void)state;
#ifdef TG_ASAN
    skip();   /* ASan reserves terabytes of shadow: it cannot start under RLIMIT_AS */
#endif
    static const int mb[] = {150, 250, 400};
    for (size_t i = 0; i < sizeof mb / sizeof mb[0]; i++)
        if (((long long)mb[i] << 20) > vm_bytes())
            assert_int_equal(child_under_limit((long long)mb[i] << 20), 0);
}

/* Limits just above what the process already maps: the buffers OpenBLAS
** would take on the first call do not fit, or fit only for one thread. */
static void test_blas_just_above_current_size_runs_or_reports_nomem(void **state)
{
    (void)state;
#ifdef TG_ASAN
    skip();   /* ASan reserves terabytes of shadow: it cannot start under RLIMIT_AS */
#endif
    static const int extra_mb[] = {8, 40, 100, 140, 200, 300};
    for (size_t i = 0; i < sizeof extra_mb / sizeof extra_mb[0]; i++)
        assert_int_equal(child_under_limit(vm_bytes() + ((long long)extra_mb[i] << 20)), 0);
}

static void test_blas_without_limit_runs(void **state)
{
    (void)state;
    tg_scope_begin();
    assert_int_equal(matmul_case(300), 0);
    assert_int_equal(lstsq_case(1000), 0);
    tg_scope_end();
}

/* A program started under a limit: OpenBLAS's constructor, which starts its
** workers before any tensorgrad code runs, runs under the limit too, and a
** worker whose buffer does not fit spins for ever in blas_memory_alloc; exit
** then hangs joining it.  exec_under_limit runs `program` with `arg` in a child
** under `mb` MB, with OPENBLAS_NUM_THREADS set to `threads` (NULL: none of the
** three thread-count variables set); the child's exit code.  With
** OPENBLAS_NUM_THREADS=1 the program ends in seconds at 150, 250 and 400 MB
** with results or TG_ERR_NOMEM, and at 400 MB the product runs (at 250 MB a
** thread's whole worker, 210 MB, does not fit: "the address-space limit leaves
** 179 MB, BLAS needs 210 MB"). */
static int exec_under_limit(const char *program, int mb, const char *threads, const char *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit r = {(rlim_t)mb << 20, (rlim_t)mb << 20};
        alarm(20);   /* kept across exec: a hang ends in SIGALRM */
        if (unsetenv("OPENBLAS_NUM_THREADS") != 0 || unsetenv("GOTO_NUM_THREADS") != 0 ||
            unsetenv("OMP_NUM_THREADS") != 0 || (threads && setenv("OPENBLAS_NUM_THREADS", threads, 1) != 0) ||
            setrlimit(RLIMIT_AS, &r) != 0)
            _exit(9);
        execl(program, program, arg, (char *)NULL);
        _exit(10);
    }
    return reap(pid, mb);
}

static void test_program_started_under_limit_ends(void **state)
{
    (void)state;
#ifdef TG_ASAN
    skip();   /* ASan reserves terabytes of shadow: it cannot start under RLIMIT_AS */
#endif
    static const int mb[] = {150, 250, 400};
    for (size_t i = 0; i < sizeof mb / sizeof mb[0]; i++)
        assert_int_equal(exec_under_limit(TG_LIMITS_CHILD, mb[i], "1", mb[i] >= 400 ? "run" : NULL), 0);
}

/* The same programs, linked with libtensorgrad.so and with libtensorgrad.a,
** started under a limit with none of OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS
** and OMP_NUM_THREADS set: libtensorgrad_blasenv.so's constructor (shared)
** or the static library's .preinit_array entry sets OPENBLAS_NUM_THREADS to
** the threads that fit before OpenBLAS's constructor starts them
** (src/blasenv/room.c).  Before that, the shared program hung at exit under
** 150 MB on this 2-core machine (killed by SIGALRM), and so did the static
** one.  At 400 and 600 MB one thread fits and the product must run (at
** 600 MB the least-squares fit runs too, and its result is checked). */
static void test_program_started_under_limit_without_thread_count_ends(void **state)
{
    (void)state;
#ifdef TG_ASAN
    skip();   /* ASan reserves terabytes of shadow: it cannot start under an address-space limit */
#endif
    static const char *const programs[] = {TG_LIMITS_CHILD, TG_LIMITS_CHILD_STATIC};
    static const int mb[] = {150, 250, 400, 600};
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < sizeof mb / sizeof mb[0]; i++) {
            print_message("%s under %d MB, no thread count in the environment\n", programs[p], mb[i]);
            assert_int_equal(exec_under_limit(programs[p], mb[i], NULL, mb[i] >= 400 ? "run" : NULL), 0);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_under_fixed_limits_runs_or_reports_nomem),
        cmocka_unit_test(test_blas_just_above_current_size_runs_or_reports_nomem),
        cmocka_unit_test(test_blas_without_limit_runs),
        cmocka_unit_test(test_program_started_under_limit_ends),
        cmocka_unit_test(test_program_started_under_limit_without_thread_count_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
