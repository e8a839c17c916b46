/* SPDX-License-Identifier: MIT */
/*
** Shared glue for the cmocka tests: a float64 allclose that says where and by
** how much two arrays differ, and readers for the reference data that
** tests/reference/make_reference.py writes to tests/data/ (lines `key v1 v2 ...`,
** `#` comments; a `key.shape` line gives a tensor's dimensions).  It sits on top
** of the public API only.  Not thread-safe: call it from the test thread.
*/
#ifndef TG_TEST_SUPPORT_H
#define TG_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

#include "tensorgrad.h"

#ifndef M_PI   /* strict C11 math.h leaves it out */
#define M_PI 3.14159265358979323846
#endif

/* True when |actual[i] - expected[i]| <= atol + rtol * |expected[i]| for every
** i < n (two NaNs are equal; a NaN against a number is not).  Otherwise prints
** `what`, the first failing index, both values, the absolute and relative error
** and how many elements failed, and returns false. */
bool tgt_allclose(const char *what, int64_t n, const double *actual, const double *expected,
                  double rtol, double atol);

#define assert_allclose(what, n, actual, expected, rtol, atol) \
    assert_true(tgt_allclose((what), (n), (actual), (expected), (rtol), (atol)))

/* Reads the values of `key` in TG_TEST_DATA/file, writing the first cap of them
** to out (out may be NULL when cap is 0).  Returns how many values the key
** holds, which may exceed cap (as snprintf): compare it with what you expect.
** A key with no values returns 0.  A missing or malformed file or a missing
** key fails the test with a message naming both.  Files are parsed once and
** cached for the life of the process. */
int64_t tgt_ref(const char *file, const char *key, double *out, int64_t cap);

/* A tensor holding the values of `key`, shaped by `key.shape` (1-d when there
** is no shape line), owned like any new tensor: by the innermost scope, or by
** the caller when none is open.  Fails the test when the key is missing, the
** shape does not match the count, or the tensor cannot be made. */
tg_tensor *tgt_ref_tensor(const char *file, const char *key);

/* Asserts that actual (not NULL) has the shape of `key.shape`, when the file
** has one, else key's value count as numel, and values close to key's as
** tgt_allclose.  A NULL actual fails with tg_last_error(). */
void tgt_assert_tensor_close(const char *what, tg_tensor *actual, const char *file, const char *key,
                             double rtol, double atol);

/* PyTorch cases (NAME.in<i>, NAME.out, NAME.w, NAME.grad<i> of a data file).
** tgt_ref_input loads NAME.in<i> as a leaf requiring grad.  tgt_check_ref_case
** checks out against NAME.out, runs the backward of sum(out * NAME.w) and
** checks tg_grad(inputs[i]) against NAME.grad<i>: the input's shape and the
** values (NULL inputs are skipped). */
tg_tensor *tgt_ref_input(const char *file, const char *name, int i);
void tgt_check_ref_case(const char *file, const char *name, tg_tensor *out, int n_inputs,
                        tg_tensor *const *inputs, double rtol, double atol);

/* The tolerances the op tests share.
** Against PyTorch: the same formulas in float64 differ by a few ulps (libm vs
** Sleef, summation order); measured worst 4e-15 relative.  The atol is for
** gradients that are sums of O(1) terms cancelling to noise: tutorial_step's
** d/da is -3.5e-16 in PyTorch and exactly 0 here, div_outer's grad1 differs by
** 8e-17 on a value of 7e-3.  Inputs and weights are O(1), so 1e-15 is a few
** ulps of the terms.
** gradcheck with eps 1e-6: the central difference is off by eps^2 f'''/6
** (~1e-13 here) plus rounding u |f| / eps (~1e-10), so 1e-8 + 1e-6 |numeric|
** has two orders of margin and still catches any wrong formula.  The
** gradgradcheck differentiates gradients built from several ops: 10x looser. */
#define TGT_REF_RTOL 1e-14
#define TGT_REF_ATOL 1e-15
#define TGT_GC_EPS 1e-6
#define TGT_GC_ATOL 1e-8
#define TGT_GC_RTOL 1e-6
#define TGT_GGC_ATOL 1e-7
#define TGT_GGC_RTOL 1e-5

/* tg_gradcheck and tg_gradgradcheck of f at in with the tolerances above,
** failing the test with `what`, the status and the message. */
void tgt_check_grads(const char *what, tg_fn f, int n, tg_tensor *const *in, void *user);
/* The same with both absolute tolerances times scale (large-degree polynomials). */
void tgt_check_grads_scaled(const char *what, tg_fn f, int n, tg_tensor *const *in, void *user, double scale);

/* One PyTorch case of a data file: fn applied to the n_inputs inputs
** NAME.in<i> (tgt_ref_input) with args (given here, or, when n_file_args > 0,
** read from the file's NAME.args, which must hold that many), checked by
** tgt_check_ref_case; inputs whose bit in no_grad is set are checked for
** values only (their gradient is not compared).  tgt_run_ref_case runs
** *state, a tgt_ref_case, in a scope of its own.  tgt_ref_tests fills
** tests[0..n) with one cmocka test per case, named NAME_matches_pytorch in
** names, with the live-block setup and teardown. */
typedef tg_tensor *(*tgt_case_fn)(tg_tensor *const *in, const double *args);
typedef struct tgt_ref_case {
    const char *file, *name;
    int n_inputs;
    tgt_case_fn fn;
    double args[4];
    unsigned no_grad;
    int n_file_args;
} tgt_ref_case;
typedef char tgt_test_name[96];
void tgt_run_ref_case(void **state);
void tgt_ref_tests(size_t n, const tgt_ref_case *cases, struct CMUnitTest *tests, tgt_test_name *names);

/* Deterministic inputs, element k row-major: sin(1 + 0.7k), cos(0.5 + 1.3k)
** and 1.5 + the first (the formulas of the reference scripts). */
double tgt_signed0(int64_t k);
double tgt_signed1(int64_t k);
double tgt_positive0(int64_t k);
/* Uniform doubles in [lo, hi) from a splitmix64 stream that *state advances:
** the kernels' tests' inputs, reproducible from a seed. */
double tgt_uniform(uint64_t *state, double lo, double hi);
/* A tensor of shape filled with gen(k); a leaf requiring grad when grad. */
tg_tensor *tgt_make(int ndim, const int64_t *shape, double (*gen)(int64_t), bool grad);

/* Captures loss_fn's step (lr 1e-7) with the kernels at 3 threads (a plan
** keeps scratch for the count at capture), replays it 3 times from the
** parameters' current values at 1, 2 and 3 threads, and fails unless every
** loss and parameter element is the same, bit for bit, at each count.
** Restores the parameters and the thread count.  params: np parameters, p
** the same tensors, of at most 64 elements each. */
void tgt_expect_replay_thread_invariant(tg_tensor *(*loss_fn)(void *), void *user, const tg_params *params,
                                        tg_tensor *const *p, int np);
/* case_fn(kind) for each of kinds[n], with the compiled executor (unless
** TG_GRAPH_INTERPRET is set for the whole run), then with the interpreter
** (TG_GRAPH_INTERPRET=1); the variable is restored after. */
void tgt_each_executor(void (*case_fn)(int kind), const int *kinds, int n);

/* Asserts the recorded error has status want and a message containing every
** needle (at least one), then clears it. */
#define assert_error(want, ...) tgt_check_error((want), (const char *const[]){__VA_ARGS__, NULL})
void tgt_check_error(tg_status want, const char *const *needles);

/* cmocka setup and teardown that fail a test which left blocks live (after
** tg_release_memory).  A failed test leaves its scopes open (cmocka jumps out
** of them): the teardown closes them and does not count that test again.
** tgt_warm_scopes() reaches the scope depths tests use first, since ended
** scopes are kept for reuse and the first visit to a depth costs blocks. */
int  tgt_record_live(void **state);
int  tgt_check_live(void **state);
void tgt_warm_scopes(void);
#define tgt_test(name) cmocka_unit_test_setup_teardown(name, tgt_record_live, tgt_check_live)

/* Asserts a call returns status want, printing the recorded error otherwise. */
#define assert_status(want, expr)                                                          \
    do {                                                                                   \
        tg_status tgt_st_ = (expr);                                                        \
        if (tgt_st_ != (want))                                                             \
            fail_msg("%s gave %s, expected %s: %s", #expr, tg_status_str(tgt_st_),         \
                     tg_status_str(want), tg_last_error());                                \
    } while (0)

/* The tutorial's P3, shared by the suites: tgt_p3_forward y = (5x^3 - 3x) / 2
** in a raw loop (saves x); its derivative dx = dy * 1.5 (5x^2 - 1) in a raw
** loop (tgt_p3_backward_raw) or as ops (tgt_p3_backward_ops, differentiable
** again); tgt_p3_raw is the forward with the raw backward. */
tg_status tgt_p3_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out);
tg_status tgt_p3_backward_raw(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin);
tg_status tgt_p3_backward_ops(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin);
extern const tg_function tgt_p3_raw;
/* The same P3 as span kernels ("P3span"): the library fuses its calls into passes. */
extern const tg_function tgt_p3_span;
/* a b as span kernels ("scaled"), each gradient written only where asked for. */
extern const tg_function tgt_scaled_span;

/* A private cache of compiled kernels for one test: XDG_CACHE_HOME names a
** new directory (src/graph/toolchain.c) until tgt_private_cache_end removes
** it and puts the old value back.  tgt_kernels_in counts the compiled objects
** (.so) in it. */
typedef struct tgt_cache {
    char dir[40];
    char *old;
} tgt_cache;
void tgt_private_cache_begin(tgt_cache *c);
int tgt_kernels_in(const tgt_cache *c);
void tgt_private_cache_end(tgt_cache *c);

#endif /* TG_TEST_SUPPORT_H */
