/* SPDX-License-Identifier: MIT */
/*
** Every documented error of every public function, one table row each, in
** the order of include/tensorgrad.h: a small function that triggers the
** error, the status it must give, and the public function that the message
** must name.  Each row runs inside its own scope from a clear error state;
** the call must fail (NULL or the status), record that status, and leave no
** block behind once its scope has ended (the live block count of the
** allocator; LeakSanitizer checks the rest in the sanitizer build).  The
** library must be usable after every row: a small op runs between rows.
*/
#define _POSIX_C_SOURCE 200809L

#include "support.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* A row's result: TG_OK when the call under test did not fail. */
#define T(expr) ((expr) == NULL ? tg_last_status() : TG_OK)
#define S(expr) (expr)
#define LAST(stmt) ((stmt), tg_last_status())

static tg_tensor *vec(int64_t n) { return tg_full(1, (int64_t[]){n}, 0.5); }
static tg_tensor *mat(int64_t r, int64_t c) { return tg_full(2, (int64_t[]){r, c}, 0.5); }
static tg_tensor *leaf(int64_t n)
{
    tg_tensor *t = vec(n);
    tg_set_requires_grad(t, true);
    return t;
}
/* a tensor whose scope has ended: freed, its header not yet reused */
static tg_tensor *dead(void)
{
    tg_scope_begin();
    tg_tensor *t = vec(3);
    tg_scope_end();
    return t;
}
static const char *missing_path(void) { return "/nonexistent-dir/tensorgrad/no-such-file"; }

static char tmp_path[64];
static const char *tmp_file(const char *bytes, size_t n)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/tg_validation_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    return tmp_path;
}

/* ------------------------------------------------------- user Functions */

static tg_status copy_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_affine(in[0], 1.0, 0.0);
    return out[0] ? TG_OK : tg_last_status();
}
static tg_status copy_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = tg_affine(g[0], 1.0, 0.0);
    return gin[0] ? TG_OK : tg_last_status();
}
static tg_status null_out_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx, (void)in, (void)out;
    return TG_OK;
}
static tg_status failing_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx, (void)in, (void)out;
    return tg_set_error(TG_ERR_NUMERIC, "user_fn: refused the input");
}
static tg_status wrong_shape_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g;
    gin[0] = tg_zeros(1, (int64_t[]){7});
    return gin[0] ? TG_OK : tg_last_status();
}
static tg_status failing_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g, (void)gin;
    return tg_set_error(TG_ERR_NUMERIC, "user_fn: backward refused");
}
static tg_status save_in_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)gin;
    return tg_save_for_backward(ctx, 1, g);   /* outside forward */
}
static tg_status saved_range_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)g, (void)gin;
    return tg_saved_tensor(ctx, 3) ? TG_OK : tg_last_status();
}
static tg_status save_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = copy_fwd(ctx, in, out);
    return st == TG_OK ? tg_save_for_backward(ctx, 1, in) : st;
}
static tg_status saved_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = x ? tg_mul(g[0], x) : NULL;
    return gin[0] ? TG_OK : tg_last_status();
}
static tg_status save_neg_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = copy_fwd(ctx, in, out);
    return st == TG_OK ? tg_save_for_backward(ctx, -1, in) : st;
}
static tg_status save_null_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = copy_fwd(ctx, in, out);
    return st == TG_OK ? tg_save_for_backward(ctx, 1, (tg_tensor *const[]){NULL}) : st;
}
static tg_status save_null_ctx_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = copy_fwd(ctx, in, out);
    return st == TG_OK ? tg_save_for_backward(NULL, 1, in) : st;
}
static tg_status saved_null_ctx_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = copy_fwd(ctx, in, out);
    return st == TG_OK ? (tg_saved_tensor(NULL, 0) ? TG_OK : tg_last_status()) : st;
}
/* backward: dx = dy * 3 (wrong: forward is the identity), for gradcheck */
static tg_status wrong_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx;
    gin[0] = tg_affine(g[0], 3.0, 0.0);
    return gin[0] ? TG_OK : tg_last_status();
}

#define FN(var, fwd, bwd) \
    static const tg_function var = {.name = #var, .n_inputs = 1, .n_outputs = 1, .forward = fwd, .backward = bwd}
FN(fn_copy, copy_fwd, copy_bwd);
FN(fn_null_out, null_out_fwd, copy_bwd);
FN(fn_failing_fwd, failing_fwd, copy_bwd);
FN(fn_wrong_shape, copy_fwd, wrong_shape_bwd);
FN(fn_failing_bwd, copy_fwd, failing_bwd);
FN(fn_save_in_bwd, copy_fwd, save_in_bwd);
FN(fn_saved_range, copy_fwd, saved_range_bwd);
FN(fn_saved, save_fwd, saved_bwd);
FN(fn_save_neg, save_neg_fwd, copy_bwd);
FN(fn_save_null, save_null_fwd, copy_bwd);
FN(fn_save_null_ctx, save_null_ctx_fwd, copy_bwd);
FN(fn_saved_null_ctx, saved_null_ctx_fwd, copy_bwd);
FN(fn_wrong_grad, copy_fwd, wrong_bwd);
static const tg_function fn_once = {.name = "fn_once", .n_inputs = 1, .n_outputs = 1, .forward = save_fwd,
                                    .backward = saved_bwd, .once_differentiable = true};
FN(fn_no_backward, copy_fwd, NULL);
static const tg_function fn_no_forward = {.name = "fn_no_forward", .n_inputs = 1, .n_outputs = 1};
static const tg_function fn_arity0 = {.name = "fn_arity0", .n_inputs = 0, .n_outputs = 1, .forward = copy_fwd};
static const tg_function fn_arity17 = {.name = "fn_arity17", .n_inputs = 17, .n_outputs = 1, .forward = copy_fwd};
static const tg_function fn_outs0 = {.name = "fn_outs0", .n_inputs = 1, .n_outputs = 0, .forward = copy_fwd};
static const tg_function fn_outs2 = {.name = "fn_outs2", .n_inputs = 1, .n_outputs = 2, .forward = copy_fwd};

static tg_tensor *identity_fn(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_apply1(&fn_wrong_grad, in);
}
/* forward: y = x^2, backward dx = dy * 2 detach(x): right once, wrong twice */
static tg_status sq_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    out[0] = tg_mul(in[0], in[0]);
    return out[0] ? tg_save_for_backward(ctx, 1, in) : tg_last_status();
}
static tg_status sq_detached_bwd(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    gin[0] = tg_mul(g[0], tg_affine(tg_detach(tg_saved_tensor(ctx, 0)), 2.0, 0.0));
    return gin[0] ? TG_OK : tg_last_status();
}
FN(fn_sq_detached, sq_fwd, sq_detached_bwd);
static tg_tensor *sq_detached_fn(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_apply1(&fn_sq_detached, in);
}
static tg_tensor *square_fn(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_mul(in[0], in[0]);
}
static tg_tensor *null_fn(tg_tensor *const *in, void *user)
{
    (void)in, (void)user;
    return NULL;
}
static tg_tensor *null_closure(void *user)
{
    (void)user;
    return NULL;
}
static tg_tensor *vector_closure(void *user)
{
    (void)user;
    return vec(3);
}

static tg_params *params_of(tg_tensor *t)
{
    tg_params *p = tg_params_new();
    tg_params_add(p, "w", t);
    return p;
}

/* ------------------------------------------------------------------ rows
** Each row function returns the status of the call under test (T() for
** calls returning a pointer: TG_OK when it did not return NULL). */

#define ROW(name) static tg_status name(void)

/* tensors */
ROW(zeros_ndim_neg) { return T(tg_zeros(-1, (int64_t[]){1})); }
ROW(zeros_ndim_9) { return T(tg_zeros(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})); }
ROW(zeros_shape_null) { return T(tg_zeros(2, NULL)); }
ROW(zeros_size_neg) { return T(tg_zeros(2, (int64_t[]){3, -1})); }
ROW(zeros_int64_overflow) { return T(tg_zeros(3, (int64_t[]){INT64_C(1) << 32, INT64_C(1) << 32, 4})); }
ROW(zeros_size_t_overflow) { return T(tg_zeros(2, (int64_t[]){INT64_C(1) << 31, INT64_C(1) << 31})); }
ROW(zeros_int64_max) { return T(tg_zeros(2, (int64_t[]){INT64_MAX, 2})); }
ROW(zeros_nomem) { tg__alloc_fail_at(1, true); tg_tensor *t = tg_zeros(1, (int64_t[]){100}); tg__alloc_fail_at(0, false); return T(t); }
ROW(full_ndim) { return T(tg_full(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 1.0)); }
ROW(full_size_neg) { return T(tg_full(1, (int64_t[]){-4}, 1.0)); }
ROW(full_overflow) { return T(tg_full(4, (int64_t[]){65536, 65536, 65536, 65536}, 1.0)); }
ROW(scalar_nomem) { tg__alloc_fail_at(1, true); tg_tensor *t = tg_scalar(1.0); tg__alloc_fail_at(0, false); return T(t); }
ROW(from_array_null_data) { return T(tg_from_array(1, (int64_t[]){3}, NULL)); }
ROW(from_array_ndim) { return T(tg_from_array(-2, NULL, NULL)); }
ROW(from_array_size_neg) { return T(tg_from_array(1, (int64_t[]){-1}, (double[]){1.0})); }
ROW(linspace_neg) { return T(tg_linspace(0.0, 1.0, -1)); }
ROW(ndim_null) { return tg_ndim(NULL) == -1 ? tg_last_status() : TG_OK; }
ROW(ndim_freed) { return tg_ndim(dead()) == -1 ? tg_last_status() : TG_OK; }
ROW(shape_freed) { return T(tg_shape(dead())); }
ROW(numel_null) { return tg_numel(NULL) == -1 ? tg_last_status() : TG_OK; }
ROW(numel_freed) { return tg_numel(dead()) == -1 ? tg_last_status() : TG_OK; }
ROW(data_freed) { return T(tg_data(dead())); }
ROW(item_null) { return isnan(tg_item(NULL)) ? tg_last_status() : TG_OK; }
ROW(item_not_one) { return isnan(tg_item(vec(3))) ? tg_last_status() : TG_OK; }
ROW(item_empty) { return isnan(tg_item(vec(0))) ? tg_last_status() : TG_OK; }
ROW(item_freed) { return isnan(tg_item(dead())) ? tg_last_status() : TG_OK; }

/* scopes */
ROW(scope_end_without_scope)
{
    int depth = tg__scope_depth();
    tg__scope_end_to(0);   /* the row's own scopes; reopened below */
    tg_scope_end();
    tg_status st = tg_last_status();
    for (int i = 0; i < depth; i++)
        tg_scope_begin();
    return st;
}
ROW(keep_freed) { return T(tg_keep(dead())); }
ROW(free_freed) { return LAST(tg_free(dead())); }

/* autograd */
ROW(requires_grad_null) { return S(tg_set_requires_grad(NULL, true)); }
ROW(requires_grad_non_leaf) { return S(tg_set_requires_grad(tg_exp(leaf(2)), false)); }
ROW(requires_grad_freed) { return S(tg_set_requires_grad(dead(), true)); }
ROW(zero_grad_freed) { return LAST(tg_zero_grad(dead())); }
ROW(backward_null) { return S(tg_backward(NULL, NULL)); }
ROW(backward_freed) { return S(tg_backward(dead(), NULL)); }
ROW(backward_no_grad) { return S(tg_backward(tg_sum(vec(3)), NULL)); }
ROW(backward_not_scalar) { return S(tg_backward(tg_exp(leaf(3)), NULL)); }
ROW(backward_grad_shape)
{
    tg_backward_opts o = {.grad = vec(2)};
    return S(tg_backward(tg_exp(leaf(3)), &o));
}
ROW(backward_grad_freed)
{
    tg_tensor *y = tg_exp(leaf(3));
    tg_backward_opts o = {.grad = dead()};
    return S(tg_backward(y, &o));
}
ROW(backward_graph_released)
{
    tg_tensor *y = tg_sum(tg_exp(leaf(3)));
    tg_backward(y, NULL);
    return S(tg_backward(y, NULL));
}
ROW(backward_fn_wrong_shape) { return S(tg_backward(tg_sum(tg_apply1(&fn_wrong_shape, (tg_tensor *[]){leaf(3)})), NULL)); }
ROW(backward_fn_fails) { return S(tg_backward(tg_sum(tg_apply1(&fn_failing_bwd, (tg_tensor *[]){leaf(3)})), NULL)); }
ROW(backward_fn_no_backward) { return S(tg_backward(tg_sum(tg_apply1(&fn_no_backward, (tg_tensor *[]){leaf(3)})), NULL)); }
ROW(backward_once_differentiable)
{
    tg_tensor *x = leaf(3), *g = NULL;
    tg_tensor *y = tg_sum(tg_apply1(&fn_once, &x));
    tg_backward_opts create = {.create_graph = true};
    if (tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create) != TG_OK)
        return TG_OK;   /* not the call under test */
    return S(tg_backward(tg_sum(g), NULL));
}
ROW(autograd_grad_once_differentiable)
{
    tg_tensor *x = leaf(3), *g = NULL, *g2 = NULL;
    tg_tensor *y = tg_sum(tg_apply1(&fn_once, &x));
    tg_backward_opts create = {.create_graph = true};
    if (tg_autograd_grad(1, &y, NULL, 1, &x, &g, &create) != TG_OK)
        return TG_OK;
    tg_tensor *gs = tg_sum(g);
    return S(tg_autograd_grad(1, &gs, NULL, 1, &x, &g2, NULL));
}
ROW(autograd_grad_no_outputs)
{
    tg_tensor *x = leaf(2), *g;
    return S(tg_autograd_grad(0, NULL, NULL, 1, &x, &g, NULL));
}
ROW(autograd_grad_no_inputs)
{
    tg_tensor *y = tg_sum(leaf(2)), *g;
    return S(tg_autograd_grad(1, &y, NULL, 0, NULL, &g, NULL));
}
ROW(autograd_grad_null_grads)
{
    tg_tensor *x = leaf(2), *y = tg_sum(x);
    return S(tg_autograd_grad(1, &y, NULL, 1, &x, NULL, NULL));
}
ROW(autograd_grad_null_input)
{
    tg_tensor *y = tg_sum(leaf(2)), *g = vec(1);
    tg_status st = tg_autograd_grad(1, &y, NULL, 1, (tg_tensor *[]){NULL}, &g, NULL);
    return st != TG_OK && g == NULL ? st : TG_OK;   /* grads[i] NULL on failure */
}
ROW(autograd_grad_freed_input)
{
    tg_tensor *y = tg_sum(leaf(2)), *g, *gone = dead();
    return S(tg_autograd_grad(1, &y, NULL, 1, &gone, &g, NULL));
}
ROW(autograd_grad_null_output)
{
    tg_tensor *x = leaf(2), *g;
    return S(tg_autograd_grad(1, (tg_tensor *[]){NULL}, NULL, 1, &x, &g, NULL));
}
ROW(autograd_grad_output_no_grad)
{
    tg_tensor *x = leaf(2), *y = tg_sum(vec(2)), *g;
    return S(tg_autograd_grad(1, &y, NULL, 1, &x, &g, NULL));
}
ROW(autograd_grad_bad_grad_output)
{
    tg_tensor *x = leaf(2), *y = tg_exp(x), *g;
    return S(tg_autograd_grad(1, &y, (tg_tensor *[]){vec(5)}, 1, &x, &g, NULL));
}
ROW(autograd_grad_freed_grad_output)
{
    tg_tensor *x = leaf(2), *y = tg_exp(x), *g, *gone = dead();
    return S(tg_autograd_grad(1, &y, &gone, 1, &x, &g, NULL));
}
ROW(autograd_grad_not_scalar)
{
    tg_tensor *x = leaf(2), *y = tg_exp(x), *g;
    return S(tg_autograd_grad(1, &y, NULL, 1, &x, &g, NULL));
}
ROW(detach_null) { return T(tg_detach(NULL)); }
ROW(detach_freed) { return T(tg_detach(dead())); }

/* ops: NULL operands, freed operands, shapes */
ROW(add_null) { return T(tg_add(NULL, vec(2))); }
ROW(add_shape) { return T(tg_add(vec(2), vec(3))); }
ROW(add_freed) { tg_tensor *a = vec(3); return T(tg_add(a, dead())); }
ROW(sub_null) { return T(tg_sub(vec(2), NULL)); }
ROW(sub_shape) { return T(tg_sub(mat(2, 3), mat(3, 2))); }
ROW(mul_null) { return T(tg_mul(NULL, NULL)); }
ROW(mul_shape) { return T(tg_mul(mat(4, 3), vec(4))); }
ROW(div_null) { return T(tg_div(NULL, vec(1))); }
ROW(div_shape) { return T(tg_div(vec(2), mat(3, 3))); }
ROW(div_freed) { tg_tensor *b = vec(3), *a = dead(); return T(tg_div(a, b)); }
ROW(propagates_inner_error) { return T(tg_exp(tg_add(vec(2), vec(3)))); }
ROW(neg_null) { return T(tg_neg(NULL)); }
ROW(exp_null) { return T(tg_exp(NULL)); }
ROW(log_null) { return T(tg_log(NULL)); }
ROW(sin_null) { return T(tg_sin(NULL)); }
ROW(cos_null) { return T(tg_cos(NULL)); }
ROW(tanh_null) { return T(tg_tanh(NULL)); }
ROW(sqrt_null) { return T(tg_sqrt(NULL)); }
ROW(relu_null) { return T(tg_relu(NULL)); }
ROW(abs_null) { return T(tg_abs(NULL)); }
ROW(abs_freed) { return T(tg_abs(dead())); }
ROW(pow_null) { return T(tg_pow(NULL, 2.0)); }
ROW(pow_freed) { return T(tg_pow(dead(), 2.0)); }
ROW(affine_null) { return T(tg_affine(NULL, 1.0, 0.0)); }
ROW(sum_null) { return T(tg_sum(NULL)); }
ROW(sum_freed) { return T(tg_sum(dead())); }
ROW(mean_null) { return T(tg_mean(NULL)); }
ROW(sum_dim_null) { return T(tg_sum_dim(NULL, 0, false)); }
ROW(sum_dim_high) { return T(tg_sum_dim(mat(2, 3), 2, false)); }
ROW(sum_dim_low) { return T(tg_sum_dim(mat(2, 3), -3, true)); }
ROW(sum_dim_scalar) { return T(tg_sum_dim(tg_scalar(1.0), 1, false)); }
ROW(sum_dim_freed) { return T(tg_sum_dim(dead(), 0, false)); }
ROW(sum_to_null) { return T(tg_sum_to(NULL, 1, (int64_t[]){1})); }
ROW(sum_to_shape) { return T(tg_sum_to(mat(2, 3), 1, (int64_t[]){2})); }
ROW(sum_to_ndim) { return T(tg_sum_to(mat(2, 3), 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})); }
ROW(sum_to_shape_null) { return T(tg_sum_to(mat(2, 3), 2, NULL)); }
ROW(sum_to_size_neg) { return T(tg_sum_to(mat(2, 3), 2, (int64_t[]){-2, 3})); }
ROW(expand_null) { return T(tg_expand(NULL, 1, (int64_t[]){3})); }
ROW(expand_shape) { return T(tg_expand(vec(3), 1, (int64_t[]){4})); }
ROW(expand_ndim) { return T(tg_expand(vec(3), -1, (int64_t[]){3})); }
ROW(expand_size_neg) { return T(tg_expand(vec(1), 2, (int64_t[]){-3, 1})); }
ROW(expand_overflow) { return T(tg_expand(vec(1), 3, (int64_t[]){INT64_C(1) << 40, INT64_C(1) << 40, 1})); }
ROW(matmul_null) { return T(tg_matmul(NULL, mat(2, 2))); }
ROW(matmul_inner) { return T(tg_matmul(mat(2, 3), mat(2, 3))); }
ROW(matmul_1d) { return T(tg_matmul(tg_scalar(1.0), mat(3, 2))); }
ROW(matmul_freed) { tg_tensor *a = mat(2, 2); return T(tg_matmul(a, dead())); }
ROW(reshape_null) { return T(tg_reshape(NULL, 1, (int64_t[]){1})); }
ROW(reshape_numel) { return T(tg_reshape(vec(6), 2, (int64_t[]){4, 2})); }
ROW(reshape_two_infer) { return T(tg_reshape(vec(6), 2, (int64_t[]){-1, -1})); }
ROW(reshape_ndim) { return T(tg_reshape(vec(1), 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})); }
ROW(reshape_size_neg) { return T(tg_reshape(vec(6), 2, (int64_t[]){-2, -3})); }
ROW(reshape_infer_empty) { return T(tg_reshape(vec(0), 2, (int64_t[]){0, -1})); }
ROW(reshape_shape_null) { return T(tg_reshape(vec(6), 2, NULL)); }
ROW(transpose_null) { return T(tg_transpose(NULL)); }
ROW(transpose_1d) { return T(tg_transpose(vec(3))); }
ROW(legendre_null) { return T(tg_legendre(NULL, 2)); }
ROW(legendre_negative) { return T(tg_legendre(vec(3), -1)); }
ROW(pow_tensor_null) { return T(tg_pow_tensor(vec(2), NULL)); }
ROW(pow_tensor_shape) { return T(tg_pow_tensor(vec(2), vec(3))); }
ROW(unsqueeze_null) { return T(tg_unsqueeze(NULL, 0)); }
ROW(unsqueeze_high) { return T(tg_unsqueeze(vec(3), 2)); }
ROW(unsqueeze_low) { return T(tg_unsqueeze(vec(3), -3)); }
ROW(unsqueeze_full) { return T(tg_unsqueeze(tg_zeros(8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}), 0)); }
ROW(flatten_null) { return T(tg_flatten(NULL, 0, -1)); }
ROW(flatten_range) { return T(tg_flatten(mat(2, 3), 0, 2)); }
ROW(flatten_order) { return T(tg_flatten(mat(2, 3), 1, 0)); }
ROW(select_null) { return T(tg_select(NULL, 0, 0)); }
ROW(select_dim) { return T(tg_select(mat(2, 3), 2, 0)); }
ROW(select_index) { return T(tg_select(mat(2, 3), 1, 3)); }
ROW(select_index_neg) { return T(tg_select(mat(2, 3), 0, -3)); }
ROW(select_scalar) { return T(tg_select(tg_scalar(1.0), 0, 0)); }

/* Legendre series */
ROW(range_map_order) { double a, b; return S(tg_legendre_range_map(1.0, 1.0, &a, &b)); }
ROW(range_map_nan) { double a, b; return S(tg_legendre_range_map(NAN, 1.0, &a, &b)); }
ROW(range_map_inf) { double a, b; return S(tg_legendre_range_map(-INFINITY, 1.0, &a, &b)); }
ROW(range_map_overflow) { double a, b; return S(tg_legendre_range_map(-1e308, 1e308, &a, &b)); }
ROW(range_map_subnormal) { double a, b; return S(tg_legendre_range_map(0.0, 1e-310, &a, &b)); }
ROW(range_map_null) { double a; return S(tg_legendre_range_map(0.0, 1.0, &a, NULL)); }
ROW(series_null) { return T(tg_legendre_series(NULL, vec(3), 1.0, 0.0)); }
ROW(series_alpha) { return T(tg_legendre_series(vec(2), vec(3), NAN, 0.0)); }
ROW(series_beta) { return T(tg_legendre_series(vec(2), vec(3), 1.0, INFINITY)); }
ROW(series_batch) { return T(tg_legendre_series(mat(2, 3), mat(3, 4), 1.0, 0.0)); }
ROW(series_3d) { return T(tg_legendre_series(tg_zeros(3, (int64_t[]){1, 1, 2}), vec(3), 1.0, 0.0)); }
ROW(series_0d) { return T(tg_legendre_series(vec(2), tg_scalar(0.5), 1.0, 0.0)); }
ROW(series_k0) { return T(tg_legendre_series(vec(0), vec(3), 1.0, 0.0)); }
ROW(series_freed) { tg_tensor *c = vec(2); return T(tg_legendre_series(c, dead(), 1.0, 0.0)); }
ROW(vander_null) { return T(tg_legendre_vander(NULL, 2, 1.0, 0.0)); }
ROW(vander_degree) { return T(tg_legendre_vander(vec(3), -1, 1.0, 0.0)); }
ROW(vander_2d) { return T(tg_legendre_vander(mat(2, 2), 2, 1.0, 0.0)); }
ROW(vander_alpha) { return T(tg_legendre_vander(vec(3), 2, INFINITY, 0.0)); }
ROW(lstsq_lengths) { tg_tensor *c; return S(tg_legendre_lstsq(vec(3), vec(4), 1, 1.0, 0.0, &c, NULL)); }
ROW(lstsq_2d) { tg_tensor *c; return S(tg_legendre_lstsq(mat(3, 1), vec(3), 1, 1.0, 0.0, &c, NULL)); }
ROW(lstsq_nan)
{
    tg_tensor *c, *x = tg_linspace(-1, 1, 5);
    tg_data(x)[2] = NAN;
    return S(tg_legendre_lstsq(x, vec(5), 1, 1.0, 0.0, &c, NULL));
}
ROW(lstsq_rank)
{
    tg_tensor *c;
    double cond;
    tg_status st = tg_legendre_lstsq(tg_linspace(-1, 1, 2), vec(2), 3, 1.0, 0.0, &c, &cond);
    return st != TG_OK && c == NULL ? st : TG_OK;
}
ROW(lstsq_degree) { tg_tensor *c; return S(tg_legendre_lstsq(vec(3), vec(3), -1, 1.0, 0.0, &c, NULL)); }
ROW(lstsq_coef_null) { return S(tg_legendre_lstsq(tg_linspace(-1, 1, 5), vec(5), 1, 1.0, 0.0, NULL, NULL)); }
ROW(lstsq_alpha) { tg_tensor *c; return S(tg_legendre_lstsq(tg_linspace(-1, 1, 5), vec(5), 1, NAN, 0.0, &c, NULL)); }
ROW(lstsq_freed) { tg_tensor *c, *y = vec(5); return S(tg_legendre_lstsq(dead(), y, 1, 1.0, 0.0, &c, NULL)); }
ROW(lstsq_null) { tg_tensor *c; return S(tg_legendre_lstsq(NULL, vec(5), 1, 1.0, 0.0, &c, NULL)); }

/* user Functions */
ROW(apply_null_fn) { tg_tensor *o; return S(tg_apply(NULL, (tg_tensor *[]){vec(1)}, &o)); }
ROW(apply_null_inputs) { tg_tensor *o; return S(tg_apply(&fn_copy, NULL, &o)); }
ROW(apply_null_outputs) { return S(tg_apply(&fn_copy, (tg_tensor *[]){vec(1)}, NULL)); }
ROW(apply_no_forward) { tg_tensor *o; return S(tg_apply(&fn_no_forward, (tg_tensor *[]){vec(1)}, &o)); }
ROW(apply_arity0) { tg_tensor *o; return S(tg_apply(&fn_arity0, (tg_tensor *[]){vec(1)}, &o)); }
ROW(apply_arity17) { tg_tensor *o; return S(tg_apply(&fn_arity17, (tg_tensor *[]){vec(1)}, &o)); }
ROW(apply_outputs0) { tg_tensor *o; return S(tg_apply(&fn_outs0, (tg_tensor *[]){vec(1)}, &o)); }
ROW(apply_null_input) { tg_tensor *o; return S(tg_apply(&fn_copy, (tg_tensor *[]){NULL}, &o)); }
ROW(apply_freed_input) { tg_tensor *o; return S(tg_apply(&fn_copy, (tg_tensor *[]){dead()}, &o)); }
ROW(apply_forward_null_output)
{
    tg_tensor *o = vec(1);
    tg_status st = tg_apply(&fn_null_out, (tg_tensor *[]){vec(1)}, &o);
    return st != TG_OK && o == NULL ? st : TG_OK;
}
ROW(apply_forward_fails) { tg_tensor *o; return S(tg_apply(&fn_failing_fwd, (tg_tensor *[]){vec(1)}, &o)); }
ROW(apply1_two_outputs) { return T(tg_apply1(&fn_outs2, (tg_tensor *[]){vec(1)})); }
ROW(apply1_null_input) { return T(tg_apply1(&fn_copy, (tg_tensor *[]){NULL})); }
ROW(apply_args_null_args) { tg_tensor *o; return S(tg_apply_args(&fn_copy, (tg_tensor *[]){vec(1)}, &o, NULL, 8)); }
ROW(save_outside_forward) { return S(tg_backward(tg_sum(tg_apply1(&fn_save_in_bwd, (tg_tensor *[]){leaf(2)})), NULL)); }
ROW(save_negative_n) { return T(tg_apply1(&fn_save_neg, (tg_tensor *[]){leaf(2)})); }
ROW(save_null_tensor) { return T(tg_apply1(&fn_save_null, (tg_tensor *[]){leaf(2)})); }
ROW(save_null_ctx) { return T(tg_apply1(&fn_save_null_ctx, (tg_tensor *[]){leaf(2)})); }
ROW(saved_out_of_range) { return S(tg_backward(tg_sum(tg_apply1(&fn_saved_range, (tg_tensor *[]){leaf(2)})), NULL)); }
ROW(saved_null_ctx) { return T(tg_apply1(&fn_saved_null_ctx, (tg_tensor *[]){leaf(2)})); }
ROW(saved_after_graph_released)
{
    tg_tensor *x = leaf(2), *y = tg_sum(tg_apply1(&fn_saved, &x));
    tg_backward_opts keep = {.retain_graph = true};
    tg_tensor *g = NULL;
    tg_backward(y, NULL);   /* frees the saved tensors */
    return S(tg_autograd_grad(1, &y, NULL, 1, &x, &g, &keep));
}
ROW(set_error_user) { return S(tg_set_error(TG_ERR_IO, "tg_set_error: %s", "user text")); }

/* data files */
ROW(load_npy_null) { return T(tg_load_npy(NULL)); }
ROW(load_npy_missing) { return T(tg_load_npy(missing_path())); }
ROW(load_npy_bad_magic) { return T(tg_load_npy(tmp_file("not a numpy file at all", 23))); }
ROW(load_npy_directory) { return T(tg_load_npy("/tmp")); }
ROW(mmap_npy_null) { return T(tg_mmap_npy(NULL)); }
ROW(mmap_npy_missing) { return T(tg_mmap_npy(missing_path())); }
ROW(mmap_npy_bad_magic) { return T(tg_mmap_npy(tmp_file("\x93NUMPY garbage", 14))); }
ROW(mmap_npy_directory) { return T(tg_mmap_npy("/tmp")); }
ROW(save_npy_null_t) { return S(tg_save_npy(NULL, "/tmp/tg_validation.npy")); }
ROW(save_npy_null_path) { return S(tg_save_npy(vec(2), NULL)); }
ROW(save_npy_freed) { return S(tg_save_npy(dead(), "/tmp/tg_validation.npy")); }
ROW(save_npy_bad_dir) { return S(tg_save_npy(vec(2), missing_path())); }
static const char *const cols_ab[] = {"a", "b"};
ROW(load_csv_null_path) { return T(tg_load_csv(NULL, 1, cols_ab, NULL)); }
ROW(load_csv_null_columns) { return T(tg_load_csv(tmp_file("a,b\n1,2\n", 8), 1, NULL, NULL)); }
ROW(load_csv_null_column) { return T(tg_load_csv(tmp_file("a,b\n1,2\n", 8), 2, (const char *const[]){"a", NULL}, NULL)); }
ROW(load_csv_n_cols) { return T(tg_load_csv(tmp_file("a,b\n1,2\n", 8), 0, cols_ab, NULL)); }
ROW(load_csv_delimiter)
{
    tg_csv_opts o = tg_csv_defaults();
    o.delimiter = '"';
    return T(tg_load_csv(tmp_file("a,b\n1,2\n", 8), 2, cols_ab, &o));
}
ROW(load_csv_delimiter_newline)
{
    tg_csv_opts o = tg_csv_defaults();
    o.delimiter = '\n';
    return T(tg_load_csv(tmp_file("a,b\n1,2\n", 8), 2, cols_ab, &o));
}
ROW(load_csv_missing) { return T(tg_load_csv(missing_path(), 2, cols_ab, NULL)); }
ROW(load_csv_empty) { return T(tg_load_csv(tmp_file("", 0), 2, cols_ab, NULL)); }
ROW(load_csv_unknown_column) { return T(tg_load_csv(tmp_file("a,c\n1,2\n", 8), 2, cols_ab, NULL)); }
ROW(load_csv_bad_cell) { return T(tg_load_csv(tmp_file("a,b\n1,x\n", 8), 2, cols_ab, NULL)); }
ROW(load_csv_ragged) { return T(tg_load_csv(tmp_file("a,b\n1,2,3\n", 10), 2, cols_ab, NULL)); }
ROW(load_csv_index_range)
{
    tg_csv_opts o = {.delimiter = ',', .header = false};
    return T(tg_load_csv(tmp_file("1,2\n", 4), 1, (const char *const[]){"5"}, &o));
}
ROW(load_csv_index_not_decimal)
{
    tg_csv_opts o = {.delimiter = ',', .header = false};
    return T(tg_load_csv(tmp_file("1,2\n", 4), 1, (const char *const[]){"a"}, &o));
}
ROW(load_csv_unclosed_quote) { return T(tg_load_csv(tmp_file("a,b\n1,\"2\n", 9), 2, cols_ab, NULL)); }

/* random numbers */
ROW(rng_seed_null) { return LAST(tg_rng_seed(NULL, 1)); }
ROW(rng_next_null) { return tg_rng_next(NULL) == 0 ? tg_last_status() : TG_OK; }
ROW(rng_uniform_null) { return isnan(tg_rng_uniform(NULL)) ? tg_last_status() : TG_OK; }
ROW(rng_normal_null) { return isnan(tg_rng_normal(NULL)) ? tg_last_status() : TG_OK; }
ROW(rng_randint_null) { return tg_rng_randint(NULL, 3, 9) == 3 ? tg_last_status() : TG_OK; }
ROW(rng_randint_empty)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_rng before = r;
    int64_t v = tg_rng_randint(&r, 5, 5);
    return v == 5 && memcmp(&r, &before, sizeof r) == 0 ? tg_last_status() : TG_OK;   /* no draw */
}
ROW(rand_ndim) { return T(tg_rand(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})); }
ROW(rand_overflow) { return T(tg_rand(2, (int64_t[]){INT64_MAX, INT64_MAX})); }
ROW(rand_uniform_size_neg) { return T(tg_rand_uniform(1, (int64_t[]){-1}, 0.0, 1.0)); }
ROW(randn_shape_null) { return T(tg_randn(1, NULL)); }

/* parameters */
ROW(params_new_nomem) { tg__alloc_fail_at(1, true); tg_params *p = tg_params_new(); tg__alloc_fail_at(0, false); return T(p); }
ROW(params_add_null_p) { return S(tg_params_add(NULL, "w", vec(1))); }
ROW(params_add_null_name)
{
    tg_params *p = tg_params_new();
    tg_status st = tg_params_add(p, NULL, vec(1));
    tg_params_free(p);
    return st;
}
ROW(params_add_null_t)
{
    tg_params *p = tg_params_new();
    tg_status st = tg_params_add(p, "w", NULL);
    tg_params_free(p);
    return st;
}
ROW(params_add_duplicate)
{
    tg_params *p = params_of(vec(1));
    tg_status st = tg_params_add(p, "w", vec(2));
    tg_params_free(p);
    return st;
}
ROW(params_add_freed)
{
    tg_params *p = tg_params_new();
    tg_status st = tg_params_add(p, "w", dead());
    tg_params_free(p);
    return st;
}
ROW(params_extend_null) { return S(tg_params_extend(NULL, "x", NULL)); }
ROW(params_extend_duplicate)
{
    tg_params *p = params_of(vec(1)), *q = params_of(vec(1));
    tg_status st = tg_params_extend(p, NULL, q);
    tg_params_free(p);
    tg_params_free(q);
    return st;
}
ROW(params_count_null) { return tg_params_count(NULL) < 0 ? tg_last_status() : TG_OK; }
ROW(params_find_null) { return T(tg_params_find(NULL, "w")); }
ROW(params_save_null) { return S(tg_params_save(NULL, "/tmp/x")); }
ROW(params_save_bad_dir)
{
    tg_params *p = params_of(vec(2));
    tg_status st = tg_params_save(p, missing_path());
    tg_params_free(p);
    return st;
}
ROW(params_load_null) { return S(tg_params_load(NULL, "/tmp/x")); }
ROW(params_load_missing)
{
    tg_params *p = params_of(vec(2));
    tg_status st = tg_params_load(p, missing_path());
    tg_params_free(p);
    return st;
}
ROW(params_load_bad_magic)
{
    tg_params *p = params_of(vec(2));
    tg_status st = tg_params_load(p, tmp_file("definitely not parameters", 25));
    tg_params_free(p);
    return st;
}
ROW(params_load_shape)
{
    tg_params *p = params_of(vec(2)), *q = params_of(vec(3));
    char path[] = "/tmp/tg_validation_params_XXXXXX";
    close(mkstemp(path));
    tg_status st = tg_params_save(q, path) == TG_OK ? tg_params_load(p, path) : TG_OK;
    unlink(path);
    tg_params_free(p);
    tg_params_free(q);
    return st;
}
ROW(params_load_missing_entry)
{
    tg_params *p = params_of(vec(2)), *q = tg_params_new();
    tg_params_add(q, "other", vec(2));
    char path[] = "/tmp/tg_validation_params_XXXXXX";
    close(mkstemp(path));
    tg_status st = tg_params_save(q, path) == TG_OK ? tg_params_load(p, path) : TG_OK;
    unlink(path);
    tg_params_free(p);
    tg_params_free(q);
    return st;
}

/* nn */
ROW(mse_null) { return T(tg_mse_loss(NULL, vec(2), TG_REDUCTION_MEAN)); }
ROW(mse_reduction) { return T(tg_mse_loss(vec(2), vec(2), (tg_reduction)7)); }
ROW(mse_shape) { return T(tg_mse_loss(vec(2), vec(3), TG_REDUCTION_SUM)); }
ROW(mse_freed) { tg_tensor *b = vec(3), *a = dead(); return T(tg_mse_loss(a, b, TG_REDUCTION_SUM)); }
ROW(linear_new_in) { return T(tg_linear_new(0, 3, true)); }
ROW(linear_new_out) { return T(tg_linear_new(3, -1, false)); }
ROW(linear_forward_null_m) { return T(tg_linear_forward(NULL, vec(3))); }
ROW(linear_forward_shape)
{
    tg_linear *m = tg_linear_new(3, 2, true);
    tg_tensor *y = tg_linear_forward(m, vec(4));
    tg_status st = T(y);
    tg_linear_free(m);
    return st;
}
ROW(linear_forward_3d)
{
    tg_linear *m = tg_linear_new(3, 2, false);
    tg_status st = T(tg_linear_forward(m, tg_zeros(3, (int64_t[]){1, 1, 3})));
    tg_linear_free(m);
    return st;
}
ROW(linear_forward_freed)
{
    tg_linear *m = tg_linear_new(3, 2, true);
    tg_status st = T(tg_linear_forward(m, dead()));
    tg_linear_free(m);
    return st;
}

/* optim */
static tg_status optim_row(tg_optim *(*make)(const tg_params *, const void *), const void *opts, bool empty)
{
    tg_params *p = empty ? tg_params_new() : params_of(leaf(2));
    tg_optim *o = make(p, opts);
    tg_status st = o ? TG_OK : tg_last_status();
    tg_optim_free(o);
    tg_params_free(p);
    return st;
}
static tg_optim *mk_sgd(const tg_params *p, const void *o) { return tg_sgd_new(p, o); }
static tg_optim *mk_rmsprop(const tg_params *p, const void *o) { return tg_rmsprop_new(p, o); }
static tg_optim *mk_adam(const tg_params *p, const void *o) { return tg_adam_new(p, o); }
static tg_optim *mk_adamw(const tg_params *p, const void *o) { return tg_adamw_new(p, o); }
static tg_optim *mk_lbfgs(const tg_params *p, const void *o) { return tg_lbfgs_new(p, o); }
ROW(sgd_null_params) { tg_sgd_opts o = tg_sgd_defaults(0.1); return T(tg_sgd_new(NULL, &o)); }
ROW(sgd_empty_params) { tg_sgd_opts o = tg_sgd_defaults(0.1); return optim_row(mk_sgd, &o, true); }
ROW(sgd_null_opts) { return optim_row(mk_sgd, NULL, false); }
ROW(sgd_negative_lr) { tg_sgd_opts o = tg_sgd_defaults(-0.1); return optim_row(mk_sgd, &o, false); }
ROW(sgd_nesterov)
{
    tg_sgd_opts o = tg_sgd_defaults(0.1);
    o.nesterov = true;
    return optim_row(mk_sgd, &o, false);
}
ROW(sgd_nesterov_dampening)
{
    tg_sgd_opts o = tg_sgd_defaults(0.1);
    o.nesterov = true, o.momentum = 0.9, o.dampening = 0.1;
    return optim_row(mk_sgd, &o, false);
}
ROW(rmsprop_null_opts) { return optim_row(mk_rmsprop, NULL, false); }
ROW(rmsprop_negative_lr)
{
    tg_rmsprop_opts o = tg_rmsprop_defaults();
    o.lr = -1.0;
    return optim_row(mk_rmsprop, &o, false);
}
ROW(rmsprop_alpha)
{
    tg_rmsprop_opts o = tg_rmsprop_defaults();
    o.alpha = -0.5;
    return optim_row(mk_rmsprop, &o, false);
}
ROW(rmsprop_empty) { tg_rmsprop_opts o = tg_rmsprop_defaults(); return optim_row(mk_rmsprop, &o, true); }
ROW(adam_beta1)
{
    tg_adam_opts o = tg_adam_defaults();
    o.beta1 = 1.0;
    return optim_row(mk_adam, &o, false);
}
ROW(adam_beta2)
{
    tg_adam_opts o = tg_adam_defaults();
    o.beta2 = -0.1;
    return optim_row(mk_adam, &o, false);
}
ROW(adam_null_opts) { return optim_row(mk_adam, NULL, false); }
ROW(adam_empty) { tg_adam_opts o = tg_adam_defaults(); return optim_row(mk_adam, &o, true); }
ROW(adamw_lr)
{
    tg_adam_opts o = tg_adamw_defaults();
    o.lr = -1e-3;
    return optim_row(mk_adamw, &o, false);
}
ROW(adamw_null_params) { tg_adam_opts o = tg_adamw_defaults(); return T(tg_adamw_new(NULL, &o)); }
ROW(lbfgs_null_opts) { return optim_row(mk_lbfgs, NULL, false); }
ROW(lbfgs_history)
{
    tg_lbfgs_opts o = tg_lbfgs_defaults();
    o.history_size = 0;
    return optim_row(mk_lbfgs, &o, false);
}
ROW(lbfgs_lr)
{
    tg_lbfgs_opts o = tg_lbfgs_defaults();
    o.lr = -1.0;
    return optim_row(mk_lbfgs, &o, false);
}
ROW(lbfgs_empty) { tg_lbfgs_opts o = tg_lbfgs_defaults(); return optim_row(mk_lbfgs, &o, true); }
ROW(optim_step_null) { return S(tg_optim_step(NULL)); }
ROW(optim_step_lbfgs)
{
    tg_params *p = params_of(leaf(2));
    tg_lbfgs_opts lo = tg_lbfgs_defaults();
    tg_optim *o = tg_lbfgs_new(p, &lo);
    tg_status st = o ? tg_optim_step(o) : TG_OK;
    tg_optim_free(o);
    tg_params_free(p);
    return st;
}
static tg_status closure_row(tg_closure c)
{
    tg_params *p = params_of(leaf(2));
    tg_sgd_opts so = tg_sgd_defaults(0.1);
    tg_optim *o = tg_sgd_new(p, &so);
    double loss;
    tg_status st = o ? tg_optim_step_closure(o, c, NULL, &loss) : TG_OK;
    tg_optim_free(o);
    tg_params_free(p);
    return st;
}
ROW(optim_closure_null) { return closure_row(NULL); }
ROW(optim_closure_returns_null) { return closure_row(null_closure); }
ROW(optim_closure_not_scalar) { return closure_row(vector_closure); }
ROW(optim_step_closure_null_o) { double l; return S(tg_optim_step_closure(NULL, null_closure, NULL, &l)); }

/* gradcheck */
ROW(gradcheck_null_f) { return S(tg_gradcheck(NULL, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradcheck_eps) { return S(tg_gradcheck(square_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 0.0, 1e-5, 1e-4)); }
ROW(gradcheck_atol) { return S(tg_gradcheck(square_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, -1.0, 1e-4)); }
ROW(gradcheck_rtol) { return S(tg_gradcheck(square_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, NAN)); }
ROW(gradcheck_no_grad) { return S(tg_gradcheck(square_fn, 1, (tg_tensor *[]){vec(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradcheck_not_leaf) { return S(tg_gradcheck(square_fn, 1, (tg_tensor *[]){tg_exp(leaf(2))}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradcheck_n_inputs) { return S(tg_gradcheck(square_fn, 0, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradcheck_null_input) { return S(tg_gradcheck(square_fn, 1, (tg_tensor *[]){NULL}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradcheck_f_null) { return S(tg_gradcheck(null_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradcheck_mismatch) { return S(tg_gradcheck(identity_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradgradcheck_null_f) { return S(tg_gradgradcheck(NULL, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradgradcheck_eps) { return S(tg_gradgradcheck(square_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, -1.0, 1e-5, 1e-4)); }
ROW(gradgradcheck_no_grad) { return S(tg_gradgradcheck(square_fn, 1, (tg_tensor *[]){vec(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradgradcheck_f_null) { return S(tg_gradgradcheck(null_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }
ROW(gradgradcheck_mismatch) { return S(tg_gradgradcheck(sq_detached_fn, 1, (tg_tensor *[]){leaf(2)}, NULL, 1e-6, 1e-5, 1e-4)); }

/* ----------------------------------------------------------------- table */

/* --------------------------------------------- PyTorch parity ops (issue 17) */
static tg_tensor *t3(void) { return tg_full(3, (int64_t[]){2, 3, 4}, 0.5); }
static tg_status two_fwd(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_affine(in[0], 1.0, 0.0);
    out[1] = tg_affine(in[0], 2.0, 0.0);
    return out[0] && out[1] ? TG_OK : tg_last_status();
}
static const tg_function fn_two = {.name = "fn_two", .n_inputs = 1, .n_outputs = 2, .forward = two_fwd,
                                   .backward = copy_bwd};
ROW(permute_null) { return T(tg_permute(NULL, (const int[]){0})); }
ROW(permute_dims_null) { return T(tg_permute(mat(2, 3), NULL)); }
ROW(permute_repeat) { return T(tg_permute(mat(2, 3), (const int[]){1, 1})); }
ROW(permute_range) { return T(tg_permute(mat(2, 3), (const int[]){0, 2})); }
ROW(permute_freed) { return T(tg_permute(dead(), (const int[]){0})); }
ROW(squeeze_null) { return T(tg_squeeze(NULL, 0)); }
ROW(squeeze_dim) { return T(tg_squeeze(mat(2, 1), 2)); }
ROW(squeeze_freed) { return T(tg_squeeze(dead(), 0)); }
ROW(cat_n0) { return T(tg_cat(0, (tg_tensor *[]){vec(2)}, 0)); }
ROW(cat_ts_null) { return T(tg_cat(2, NULL, 0)); }
ROW(cat_member_null) { return T(tg_cat(2, (tg_tensor *[]){vec(2), NULL}, 0)); }
ROW(cat_0d) { return T(tg_cat(1, (tg_tensor *[]){tg_scalar(1.0)}, 0)); }
ROW(cat_dim) { return T(tg_cat(2, (tg_tensor *[]){vec(2), vec(3)}, 1)); }
ROW(cat_shape) { return T(tg_cat(2, (tg_tensor *[]){mat(2, 3), mat(2, 4)}, 0)); }
ROW(cat_ndim) { return T(tg_cat(2, (tg_tensor *[]){mat(2, 3), vec(3)}, 0)); }
ROW(cat_freed) { return T(tg_cat(2, (tg_tensor *[]){vec(2), dead()}, 0)); }
ROW(stack_n0) { return T(tg_stack(0, (tg_tensor *[]){vec(2)}, 0)); }
ROW(stack_shape) { return T(tg_stack(2, (tg_tensor *[]){vec(2), vec(3)}, 0)); }
ROW(stack_dim) { return T(tg_stack(2, (tg_tensor *[]){vec(2), vec(2)}, 2)); }
ROW(stack_freed) { return T(tg_stack(2, (tg_tensor *[]){vec(2), dead()}, 0)); }
ROW(narrow_null) { return T(tg_narrow(NULL, 0, 0, 1)); }
ROW(narrow_0d) { return T(tg_narrow(tg_scalar(1.0), 0, 0, 1)); }
ROW(narrow_dim) { return T(tg_narrow(mat(2, 3), 2, 0, 1)); }
ROW(narrow_start) { return T(tg_narrow(mat(2, 3), 1, 4, 0)); }
ROW(narrow_length) { return T(tg_narrow(mat(2, 3), 1, 1, 3)); }
ROW(narrow_negative_length) { return T(tg_narrow(mat(2, 3), 1, 0, -1)); }
ROW(narrow_freed) { return T(tg_narrow(dead(), 0, 0, 1)); }
ROW(mean_dim_null) { return T(tg_mean_dim(NULL, 0, false)); }
ROW(mean_dim_range) { return T(tg_mean_dim(mat(2, 3), -3, false)); }
ROW(mean_dim_freed) { return T(tg_mean_dim(dead(), 0, false)); }
ROW(amax_null) { return T(tg_amax(NULL, 0, false)); }
ROW(amax_range) { return T(tg_amax(t3(), 3, false)); }
ROW(amax_empty) { return T(tg_amax(tg_zeros(2, (int64_t[]){2, 0}), 1, false)); }
ROW(amax_freed) { return T(tg_amax(dead(), 0, false)); }
ROW(amin_null) { return T(tg_amin(NULL, 0, false)); }
ROW(amin_range) { return T(tg_amin(tg_scalar(1.0), 1, true)); }
ROW(amin_empty) { return T(tg_amin(tg_zeros(1, (int64_t[]){0}), 0, false)); }
ROW(var_null) { return T(tg_var(NULL, 0, 1, false)); }
ROW(var_range) { return T(tg_var(mat(2, 3), 2, 1, false)); }
ROW(var_correction) { return T(tg_var(mat(2, 3), 1, -1, false)); }
ROW(var_freed) { return T(tg_var(dead(), 0, 1, false)); }
ROW(logsumexp_null) { return T(tg_logsumexp(NULL, 0, false)); }
ROW(logsumexp_range) { return T(tg_logsumexp(vec(3), -2, false)); }
ROW(logsumexp_freed) { return T(tg_logsumexp(dead(), 0, false)); }
ROW(sigmoid_null) { return T(tg_sigmoid(NULL)); }
ROW(sigmoid_freed) { return T(tg_sigmoid(dead())); }
ROW(softmax_null) { return T(tg_softmax(NULL, 0)); }
ROW(softmax_range) { return T(tg_softmax(mat(2, 3), 2)); }
ROW(softmax_freed) { return T(tg_softmax(dead(), 0)); }
ROW(log_softmax_null) { return T(tg_log_softmax(NULL, 0)); }
ROW(log_softmax_range) { return T(tg_log_softmax(vec(3), 1)); }
ROW(clamp_null) { return T(tg_clamp(NULL, 0.0, 1.0)); }
ROW(clamp_order) { return T(tg_clamp(vec(3), 1.0, 0.0)); }
ROW(clamp_nan) { return T(tg_clamp(vec(3), NAN, 1.0)); }
ROW(clamp_freed) { return T(tg_clamp(dead(), 0.0, 1.0)); }
ROW(maximum_null) { return T(tg_maximum(NULL, vec(2))); }
ROW(maximum_shape) { return T(tg_maximum(vec(2), vec(3))); }
ROW(maximum_freed) { tg_tensor *a = vec(3); return T(tg_maximum(a, dead())); }
ROW(minimum_null) { return T(tg_minimum(vec(2), NULL)); }
ROW(minimum_shape) { return T(tg_minimum(mat(2, 3), vec(2))); }
ROW(where_null) { return T(tg_where(NULL, vec(2), vec(2))); }
ROW(where_shape) { return T(tg_where(vec(2), vec(3), vec(2))); }
ROW(where_freed) { tg_tensor *c = vec(3), *a = vec(3); return T(tg_where(c, a, dead())); }
ROW(cross_entropy_null) { return T(tg_cross_entropy(NULL, vec(2), TG_REDUCTION_MEAN)); }
ROW(cross_entropy_shape) { return T(tg_cross_entropy(mat(2, 3), vec(3), TG_REDUCTION_MEAN)); }
ROW(cross_entropy_logits_1d) { return T(tg_cross_entropy(vec(3), vec(3), TG_REDUCTION_MEAN)); }
ROW(cross_entropy_class) { return T(tg_cross_entropy(mat(2, 3), tg_full(1, (int64_t[]){2}, 3.0), TG_REDUCTION_SUM)); }
ROW(cross_entropy_fraction) { return T(tg_cross_entropy(mat(2, 3), vec(2), TG_REDUCTION_SUM)); }
ROW(cross_entropy_reduction) { return T(tg_cross_entropy(mat(2, 3), tg_zeros(1, (int64_t[]){2}), (tg_reduction)9)); }
ROW(cross_entropy_freed) { tg_tensor *l = mat(2, 3); return T(tg_cross_entropy(l, dead(), TG_REDUCTION_SUM)); }
static tg_params *one_param(void)
{
    tg_params *p = tg_params_new();
    tg_params_add(p, "w", leaf(2));
    return p;
}
static tg_status with_optim(tg_status (*f)(tg_optim *))
{
    tg_params *p = one_param();
    tg_optim *o = tg_sgd_new(p, &(tg_sgd_opts){.lr = 0.1});
    tg_status st = o ? f(o) : TG_OK;
    tg_optim_free(o);
    tg_params_free(p);
    return st;
}
static tg_status adagrad_bad(tg_adagrad_opts o)
{
    tg_params *p = one_param();
    tg_optim *opt = tg_adagrad_new(p, &o);
    tg_status st = opt ? TG_OK : tg_last_status();
    tg_optim_free(opt);
    tg_params_free(p);
    return st;
}
static tg_status nadam_bad(tg_nadam_opts o)
{
    tg_params *p = one_param();
    tg_optim *opt = tg_nadam_new(p, &o);
    tg_status st = opt ? TG_OK : tg_last_status();
    tg_optim_free(opt);
    tg_params_free(p);
    return st;
}
static tg_status set_lr_negative_f(tg_optim *o) { return tg_optim_set_lr(o, -1.0); }
static tg_status step_lr_size_f(tg_optim *o) { return tg_step_lr_new(o, 0, 0.5) ? TG_OK : tg_last_status(); }
static tg_status step_lr_gamma_f(tg_optim *o) { return tg_step_lr_new(o, 2, 0.0) ? TG_OK : tg_last_status(); }
static tg_status cosine_lr_tmax_f(tg_optim *o) { return tg_cosine_lr_new(o, 0, 0.0) ? TG_OK : tg_last_status(); }
static tg_status cosine_lr_eta_f(tg_optim *o) { return tg_cosine_lr_new(o, 4, -1.0) ? TG_OK : tg_last_status(); }
ROW(adagrad_params_null) { return T(tg_adagrad_new(NULL, &(tg_adagrad_opts){.lr = 0.1})); }
ROW(adagrad_opts_null) { tg_params *p = one_param(); tg_status st = T(tg_adagrad_new(p, NULL)); tg_params_free(p); return st; }
ROW(adagrad_lr) { return adagrad_bad((tg_adagrad_opts){.lr = -1}); }
ROW(adagrad_lr_decay) { return adagrad_bad((tg_adagrad_opts){.lr = 0.1, .lr_decay = -1}); }
ROW(adagrad_accumulator) { return adagrad_bad((tg_adagrad_opts){.lr = 0.1, .initial_accumulator_value = -1}); }
ROW(adagrad_eps) { return adagrad_bad((tg_adagrad_opts){.lr = 0.1, .eps = -1}); }
ROW(nadam_params_null) { return T(tg_nadam_new(NULL, &(tg_nadam_opts){.lr = 0.1})); }
ROW(nadam_lr) { return nadam_bad((tg_nadam_opts){.lr = -1}); }
ROW(nadam_beta1) { return nadam_bad((tg_nadam_opts){.lr = 0.1, .beta1 = 1.0}); }
ROW(nadam_beta2) { return nadam_bad((tg_nadam_opts){.lr = 0.1, .beta2 = -0.5}); }
ROW(nadam_momentum_decay) { return nadam_bad((tg_nadam_opts){.lr = 0.1, .momentum_decay = -1}); }
ROW(optim_lr_null) { return LAST(tg_optim_lr(NULL)); }
ROW(optim_set_lr_null) { return S(tg_optim_set_lr(NULL, 0.1)); }
ROW(optim_set_lr_negative) { return with_optim(set_lr_negative_f); }
ROW(step_lr_null) { return T(tg_step_lr_new(NULL, 2, 0.5)); }
ROW(step_lr_size) { return with_optim(step_lr_size_f); }
ROW(step_lr_gamma) { return with_optim(step_lr_gamma_f); }
ROW(cosine_lr_null) { return T(tg_cosine_lr_new(NULL, 4, 0.0)); }
ROW(cosine_lr_tmax) { return with_optim(cosine_lr_tmax_f); }
ROW(cosine_lr_eta) { return with_optim(cosine_lr_eta_f); }
ROW(lr_schedule_step_null) { return S(tg_lr_schedule_step(NULL)); }
ROW(retain_grad_null) { return S(tg_retain_grad(NULL)); }
ROW(retain_grad_no_grad) { return S(tg_retain_grad(vec(2))); }
ROW(retain_grad_freed) { return S(tg_retain_grad(dead())); }
ROW(retain_grad_other_output)
{
    tg_tensor *x = leaf(2), *out[2];
    tg_status st = tg_apply(&fn_two, (tg_tensor *[]){x}, out);
    if (st != TG_OK || tg_retain_grad(out[0]) != TG_OK)
        return TG_OK;   /* setup failed: the row fails */
    return S(tg_retain_grad(out[1]));
}

typedef struct row {
    const char *what;
    tg_status (*run)(void);
    tg_status want;
    const char *names;   /* the public function the message must name */
} row;

#define R(fn, want, name) {#fn, fn, want, name}
static const row rows[] = {
    R(zeros_ndim_neg, TG_ERR_ARG, "tg_zeros"),
    R(zeros_ndim_9, TG_ERR_ARG, "tg_zeros"),
    R(zeros_shape_null, TG_ERR_ARG, "tg_zeros"),
    R(zeros_size_neg, TG_ERR_ARG, "tg_zeros"),
    R(zeros_int64_overflow, TG_ERR_ARG, "tg_zeros"),
    R(zeros_size_t_overflow, TG_ERR_ARG, "tg_zeros"),
    R(zeros_int64_max, TG_ERR_ARG, "tg_zeros"),
    R(zeros_nomem, TG_ERR_NOMEM, "tg_zeros"),
    R(full_ndim, TG_ERR_ARG, "tg_full"),
    R(full_size_neg, TG_ERR_ARG, "tg_full"),
    R(full_overflow, TG_ERR_ARG, "tg_full"),
    R(scalar_nomem, TG_ERR_NOMEM, "tg_scalar"),
    R(from_array_null_data, TG_ERR_ARG, "tg_from_array"),
    R(from_array_ndim, TG_ERR_ARG, "tg_from_array"),
    R(from_array_size_neg, TG_ERR_ARG, "tg_from_array"),
    R(linspace_neg, TG_ERR_ARG, "tg_linspace"),
    R(ndim_null, TG_ERR_ARG, "tg_ndim"),
    R(ndim_freed, TG_ERR_STATE, "tg_ndim"),
    R(shape_freed, TG_ERR_STATE, "tg_shape"),
    R(numel_null, TG_ERR_ARG, "tg_numel"),
    R(numel_freed, TG_ERR_STATE, "tg_numel"),
    R(data_freed, TG_ERR_STATE, "tg_data"),
    R(item_null, TG_ERR_ARG, "tg_item"),
    R(item_not_one, TG_ERR_SHAPE, "tg_item"),
    R(item_empty, TG_ERR_SHAPE, "tg_item"),
    R(item_freed, TG_ERR_STATE, "tg_item"),
    R(scope_end_without_scope, TG_ERR_STATE, "tg_scope_end"),
    R(keep_freed, TG_ERR_STATE, "tg_keep"),
    R(free_freed, TG_ERR_STATE, "tg_free"),
    R(requires_grad_null, TG_ERR_ARG, "tg_set_requires_grad"),
    R(requires_grad_non_leaf, TG_ERR_STATE, "tg_set_requires_grad"),
    R(requires_grad_freed, TG_ERR_STATE, "tg_set_requires_grad"),
    R(zero_grad_freed, TG_ERR_STATE, "tg_zero_grad"),
    R(backward_null, TG_ERR_ARG, "tg_backward"),
    R(backward_freed, TG_ERR_STATE, "tg_backward"),
    R(backward_no_grad, TG_ERR_STATE, "tg_backward"),
    R(backward_not_scalar, TG_ERR_SHAPE, "tg_backward"),
    R(backward_grad_shape, TG_ERR_SHAPE, "tg_backward"),
    R(backward_grad_freed, TG_ERR_STATE, "tg_backward"),
    R(backward_graph_released, TG_ERR_STATE, "tg_backward"),
    R(backward_fn_wrong_shape, TG_ERR_SHAPE, "tg_backward"),
    R(backward_fn_fails, TG_ERR_NUMERIC, "user_fn"),
    R(backward_fn_no_backward, TG_ERR_STATE, "tg_backward"),
    R(backward_once_differentiable, TG_ERR_STATE, "tg_backward"),
    /* the guard's message says tg_backward whichever call ran it (reported) */
    R(autograd_grad_once_differentiable, TG_ERR_STATE, "is once_differentiable"),
    R(autograd_grad_no_outputs, TG_ERR_ARG, "tg_autograd_grad"),
    R(autograd_grad_no_inputs, TG_ERR_ARG, "tg_autograd_grad"),
    R(autograd_grad_null_grads, TG_ERR_ARG, "tg_autograd_grad"),
    R(autograd_grad_null_input, TG_ERR_ARG, "tg_autograd_grad"),
    R(autograd_grad_freed_input, TG_ERR_STATE, "tg_autograd_grad"),
    R(autograd_grad_null_output, TG_ERR_ARG, "tg_autograd_grad"),
    R(autograd_grad_output_no_grad, TG_ERR_STATE, "tg_autograd_grad"),
    R(autograd_grad_bad_grad_output, TG_ERR_SHAPE, "tg_autograd_grad"),
    R(autograd_grad_freed_grad_output, TG_ERR_STATE, "tg_autograd_grad"),
    R(autograd_grad_not_scalar, TG_ERR_SHAPE, "tg_autograd_grad"),
    R(detach_null, TG_ERR_ARG, "tg_detach"),
    R(detach_freed, TG_ERR_STATE, "tg_detach"),
    R(add_null, TG_ERR_ARG, "tg_add"),
    R(add_shape, TG_ERR_SHAPE, "tg_add"),
    R(add_freed, TG_ERR_STATE, "tg_add"),
    R(sub_null, TG_ERR_ARG, "tg_sub"),
    R(sub_shape, TG_ERR_SHAPE, "tg_sub"),
    R(mul_null, TG_ERR_ARG, "tg_mul"),
    R(mul_shape, TG_ERR_SHAPE, "tg_mul"),
    R(div_null, TG_ERR_ARG, "tg_div"),
    R(div_shape, TG_ERR_SHAPE, "tg_div"),
    R(div_freed, TG_ERR_STATE, "tg_div"),
    R(propagates_inner_error, TG_ERR_SHAPE, "tg_add"),
    R(neg_null, TG_ERR_ARG, "tg_neg"),
    R(exp_null, TG_ERR_ARG, "tg_exp"),
    R(log_null, TG_ERR_ARG, "tg_log"),
    R(sin_null, TG_ERR_ARG, "tg_sin"),
    R(cos_null, TG_ERR_ARG, "tg_cos"),
    R(tanh_null, TG_ERR_ARG, "tg_tanh"),
    R(sqrt_null, TG_ERR_ARG, "tg_sqrt"),
    R(relu_null, TG_ERR_ARG, "tg_relu"),
    R(abs_null, TG_ERR_ARG, "tg_abs"),
    R(abs_freed, TG_ERR_STATE, "tg_abs"),
    R(pow_null, TG_ERR_ARG, "tg_pow"),
    R(pow_freed, TG_ERR_STATE, "tg_pow"),
    R(affine_null, TG_ERR_ARG, "tg_affine"),
    R(sum_null, TG_ERR_ARG, "tg_sum"),
    R(sum_freed, TG_ERR_STATE, "tg_sum"),
    R(mean_null, TG_ERR_ARG, "tg_mean"),
    R(sum_dim_null, TG_ERR_ARG, "tg_sum_dim"),
    R(sum_dim_high, TG_ERR_ARG, "tg_sum_dim"),
    R(sum_dim_low, TG_ERR_ARG, "tg_sum_dim"),
    R(sum_dim_scalar, TG_ERR_ARG, "tg_sum_dim"),
    R(sum_dim_freed, TG_ERR_STATE, "tg_sum_dim"),
    R(sum_to_null, TG_ERR_ARG, "tg_sum_to"),
    R(sum_to_shape, TG_ERR_SHAPE, "tg_sum_to"),
    R(sum_to_ndim, TG_ERR_ARG, "tg_sum_to"),
    R(sum_to_shape_null, TG_ERR_ARG, "tg_sum_to"),
    R(sum_to_size_neg, TG_ERR_ARG, "tg_sum_to"),
    R(expand_null, TG_ERR_ARG, "tg_expand"),
    R(expand_shape, TG_ERR_SHAPE, "tg_expand"),
    R(expand_ndim, TG_ERR_ARG, "tg_expand"),
    R(expand_size_neg, TG_ERR_ARG, "tg_expand"),
    R(expand_overflow, TG_ERR_ARG, "tg_expand"),
    R(matmul_null, TG_ERR_ARG, "tg_matmul"),
    R(matmul_inner, TG_ERR_SHAPE, "tg_matmul"),
    R(matmul_1d, TG_ERR_SHAPE, "tg_matmul"),
    R(matmul_freed, TG_ERR_STATE, "tg_matmul"),
    R(reshape_null, TG_ERR_ARG, "tg_reshape"),
    R(reshape_numel, TG_ERR_SHAPE, "tg_reshape"),
    R(reshape_two_infer, TG_ERR_ARG, "tg_reshape"),
    R(reshape_ndim, TG_ERR_ARG, "tg_reshape"),
    R(reshape_size_neg, TG_ERR_ARG, "tg_reshape"),
    R(reshape_infer_empty, TG_ERR_SHAPE, "tg_reshape"),
    R(reshape_shape_null, TG_ERR_ARG, "tg_reshape"),
    R(transpose_null, TG_ERR_ARG, "tg_transpose"),
    R(transpose_1d, TG_ERR_SHAPE, "tg_transpose"),
    R(legendre_null, TG_ERR_ARG, "tg_legendre"),
    R(legendre_negative, TG_ERR_ARG, "tg_legendre"),
    R(pow_tensor_null, TG_ERR_ARG, "tg_pow_tensor"),
    R(pow_tensor_shape, TG_ERR_SHAPE, "tg_pow_tensor"),
    R(unsqueeze_null, TG_ERR_ARG, "tg_unsqueeze"),
    R(unsqueeze_high, TG_ERR_ARG, "tg_unsqueeze"),
    R(unsqueeze_low, TG_ERR_ARG, "tg_unsqueeze"),
    R(unsqueeze_full, TG_ERR_ARG, "tg_unsqueeze"),
    R(flatten_null, TG_ERR_ARG, "tg_flatten"),
    R(flatten_range, TG_ERR_ARG, "tg_flatten"),
    R(flatten_order, TG_ERR_ARG, "tg_flatten"),
    R(select_null, TG_ERR_ARG, "tg_select"),
    R(select_dim, TG_ERR_ARG, "tg_select"),
    R(select_index, TG_ERR_ARG, "tg_select"),
    R(select_index_neg, TG_ERR_ARG, "tg_select"),
    R(select_scalar, TG_ERR_ARG, "tg_select"),
    R(range_map_order, TG_ERR_ARG, "tg_legendre_range_map"),
    R(range_map_nan, TG_ERR_ARG, "tg_legendre_range_map"),
    R(range_map_inf, TG_ERR_ARG, "tg_legendre_range_map"),
    R(range_map_overflow, TG_ERR_ARG, "tg_legendre_range_map"),
    R(range_map_subnormal, TG_ERR_ARG, "tg_legendre_range_map"),
    R(range_map_null, TG_ERR_ARG, "tg_legendre_range_map"),
    R(series_null, TG_ERR_ARG, "tg_legendre_series"),
    R(series_alpha, TG_ERR_ARG, "tg_legendre_series"),
    R(series_beta, TG_ERR_ARG, "tg_legendre_series"),
    R(series_batch, TG_ERR_SHAPE, "tg_legendre_series"),
    R(series_3d, TG_ERR_SHAPE, "tg_legendre_series"),
    R(series_0d, TG_ERR_SHAPE, "tg_legendre_series"),
    R(series_k0, TG_ERR_SHAPE, "tg_legendre_series"),
    R(series_freed, TG_ERR_STATE, "tg_legendre_series"),
    R(vander_null, TG_ERR_ARG, "tg_legendre_vander"),
    R(vander_degree, TG_ERR_ARG, "tg_legendre_vander"),
    R(vander_2d, TG_ERR_SHAPE, "tg_legendre_vander"),
    R(vander_alpha, TG_ERR_ARG, "tg_legendre_vander"),
    R(lstsq_lengths, TG_ERR_SHAPE, "tg_legendre_lstsq"),
    R(lstsq_2d, TG_ERR_SHAPE, "tg_legendre_lstsq"),
    R(lstsq_nan, TG_ERR_ARG, "tg_legendre_lstsq"),
    R(lstsq_rank, TG_ERR_NUMERIC, "tg_legendre_lstsq"),
    R(lstsq_degree, TG_ERR_ARG, "tg_legendre_lstsq"),
    R(lstsq_coef_null, TG_ERR_ARG, "tg_legendre_lstsq"),
    R(lstsq_alpha, TG_ERR_ARG, "tg_legendre_lstsq"),
    R(lstsq_null, TG_ERR_ARG, "tg_legendre_lstsq"),
    R(lstsq_freed, TG_ERR_STATE, "tg_legendre_lstsq"),
    R(apply_null_fn, TG_ERR_ARG, "tg_apply"),
    R(apply_null_inputs, TG_ERR_ARG, "tg_apply"),
    R(apply_null_outputs, TG_ERR_ARG, "tg_apply"),
    R(apply_no_forward, TG_ERR_ARG, "tg_apply"),
    R(apply_arity0, TG_ERR_ARG, "tg_apply"),
    R(apply_arity17, TG_ERR_ARG, "tg_apply"),
    R(apply_outputs0, TG_ERR_ARG, "tg_apply"),
    R(apply_null_input, TG_ERR_ARG, "fn_copy"),   /* names the Function, not tg_apply (reported) */
    R(apply_freed_input, TG_ERR_STATE, "fn_copy"),   /* names the Function, not tg_apply (reported) */
    R(apply_forward_null_output, TG_ERR_ARG, "fn_null_out"),   /* names the Function (reported) */
    R(apply_forward_fails, TG_ERR_NUMERIC, "user_fn"),
    R(apply1_two_outputs, TG_ERR_ARG, "tg_apply1"),
    R(apply1_null_input, TG_ERR_ARG, "fn_copy"),   /* names the Function, not tg_apply (reported) */
    R(apply_args_null_args, TG_ERR_ARG, "tg_apply"),
    R(save_outside_forward, TG_ERR_STATE, "tg_save_for_backward"),
    R(save_negative_n, TG_ERR_ARG, "tg_save_for_backward"),
    R(save_null_tensor, TG_ERR_ARG, "tg_save_for_backward"),
    R(save_null_ctx, TG_ERR_ARG, "tg_save_for_backward"),
    R(saved_out_of_range, TG_ERR_ARG, "tg_saved_tensor"),
    R(saved_null_ctx, TG_ERR_ARG, "tg_saved_tensor"),
    R(saved_after_graph_released, TG_ERR_STATE, "tg_autograd_grad"),
    R(set_error_user, TG_ERR_IO, "tg_set_error"),
    R(load_npy_null, TG_ERR_ARG, "tg_load_npy"),
    R(load_npy_missing, TG_ERR_IO, "tg_load_npy"),
    R(load_npy_bad_magic, TG_ERR_IO, "tg_load_npy"),
    R(load_npy_directory, TG_ERR_IO, "tg_load_npy"),
    R(mmap_npy_null, TG_ERR_ARG, "tg_mmap_npy"),
    R(mmap_npy_missing, TG_ERR_IO, "tg_mmap_npy"),
    R(mmap_npy_bad_magic, TG_ERR_IO, "tg_mmap_npy"),
    R(mmap_npy_directory, TG_ERR_IO, "tg_mmap_npy"),
    R(save_npy_null_t, TG_ERR_ARG, "tg_save_npy"),
    R(save_npy_null_path, TG_ERR_ARG, "tg_save_npy"),
    R(save_npy_freed, TG_ERR_STATE, "tg_save_npy"),
    R(save_npy_bad_dir, TG_ERR_IO, "tg_save_npy"),
    R(load_csv_null_path, TG_ERR_ARG, "tg_load_csv"),
    R(load_csv_null_columns, TG_ERR_ARG, "tg_load_csv"),
    R(load_csv_null_column, TG_ERR_ARG, "tg_load_csv"),
    R(load_csv_n_cols, TG_ERR_ARG, "tg_load_csv"),
    R(load_csv_delimiter, TG_ERR_ARG, "tg_load_csv"),
    R(load_csv_delimiter_newline, TG_ERR_ARG, "tg_load_csv"),
    R(load_csv_missing, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_empty, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_unknown_column, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_bad_cell, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_ragged, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_index_range, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_index_not_decimal, TG_ERR_IO, "tg_load_csv"),
    R(load_csv_unclosed_quote, TG_ERR_IO, "tg_load_csv"),
    R(rng_seed_null, TG_ERR_ARG, "tg_rng_seed"),
    R(rng_next_null, TG_ERR_ARG, "tg_rng_next"),
    R(rng_uniform_null, TG_ERR_ARG, "tg_rng_uniform"),
    R(rng_normal_null, TG_ERR_ARG, "tg_rng_normal"),
    R(rng_randint_null, TG_ERR_ARG, "tg_rng_randint"),
    R(rng_randint_empty, TG_ERR_ARG, "tg_rng_randint"),
    R(rand_ndim, TG_ERR_ARG, "tg_rand"),
    R(rand_overflow, TG_ERR_ARG, "tg_rand"),
    R(rand_uniform_size_neg, TG_ERR_ARG, "tg_rand_uniform"),
    R(randn_shape_null, TG_ERR_ARG, "tg_randn"),
    R(params_new_nomem, TG_ERR_NOMEM, "tg_params_new"),
    R(params_add_null_p, TG_ERR_ARG, "tg_params_add"),
    R(params_add_null_name, TG_ERR_ARG, "tg_params_add"),
    R(params_add_null_t, TG_ERR_ARG, "tg_params_add"),
    R(params_add_duplicate, TG_ERR_ARG, "tg_params_add"),
    R(params_add_freed, TG_ERR_STATE, "tg_params_add"),
    R(params_extend_null, TG_ERR_ARG, "tg_params_extend"),
    R(params_extend_duplicate, TG_ERR_ARG, "tg_params_extend"),
    R(params_count_null, TG_ERR_ARG, "tg_params_count"),
    R(params_find_null, TG_ERR_ARG, "tg_params_find"),
    R(params_save_null, TG_ERR_ARG, "tg_params_save"),
    R(params_save_bad_dir, TG_ERR_IO, "tg_params_save"),
    R(params_load_null, TG_ERR_ARG, "tg_params_load"),
    R(params_load_missing, TG_ERR_IO, "tg_params_load"),
    R(params_load_bad_magic, TG_ERR_IO, "tg_params_load"),
    R(params_load_shape, TG_ERR_SHAPE, "tg_params_load"),
    R(params_load_missing_entry, TG_ERR_SHAPE, "tg_params_load"),
    R(mse_null, TG_ERR_ARG, "tg_mse_loss"),
    R(mse_reduction, TG_ERR_ARG, "tg_mse_loss"),
    R(mse_shape, TG_ERR_SHAPE, "tg_mse_loss"),
    R(mse_freed, TG_ERR_STATE, "tg_mse_loss"),
    R(linear_new_in, TG_ERR_ARG, "tg_linear_new"),
    R(linear_new_out, TG_ERR_ARG, "tg_linear_new"),
    R(linear_forward_null_m, TG_ERR_ARG, "tg_linear_forward"),
    R(linear_forward_shape, TG_ERR_SHAPE, "tg_linear_forward"),
    R(linear_forward_3d, TG_ERR_SHAPE, "tg_linear_forward"),
    R(linear_forward_freed, TG_ERR_STATE, "tg_linear_forward"),
    R(sgd_null_params, TG_ERR_ARG, "tg_sgd_new"),
    R(sgd_empty_params, TG_ERR_ARG, "tg_sgd_new"),
    R(sgd_null_opts, TG_ERR_ARG, "tg_sgd_new"),
    R(sgd_negative_lr, TG_ERR_ARG, "tg_sgd_new"),
    R(sgd_nesterov, TG_ERR_ARG, "tg_sgd_new"),
    R(sgd_nesterov_dampening, TG_ERR_ARG, "tg_sgd_new"),
    R(rmsprop_null_opts, TG_ERR_ARG, "tg_rmsprop_new"),
    R(rmsprop_negative_lr, TG_ERR_ARG, "tg_rmsprop_new"),
    R(rmsprop_alpha, TG_ERR_ARG, "tg_rmsprop_new"),
    R(rmsprop_empty, TG_ERR_ARG, "tg_rmsprop_new"),
    R(adam_beta1, TG_ERR_ARG, "tg_adam_new"),
    R(adam_beta2, TG_ERR_ARG, "tg_adam_new"),
    R(adam_null_opts, TG_ERR_ARG, "tg_adam_new"),
    R(adam_empty, TG_ERR_ARG, "tg_adam_new"),
    R(adamw_lr, TG_ERR_ARG, "tg_adamw_new"),
    R(adamw_null_params, TG_ERR_ARG, "tg_adamw_new"),
    R(lbfgs_null_opts, TG_ERR_ARG, "tg_lbfgs_new"),
    R(lbfgs_history, TG_ERR_ARG, "tg_lbfgs_new"),
    R(lbfgs_lr, TG_ERR_ARG, "tg_lbfgs_new"),
    R(lbfgs_empty, TG_ERR_ARG, "tg_lbfgs_new"),
    R(optim_step_null, TG_ERR_ARG, "tg_optim_step"),
    R(optim_step_lbfgs, TG_ERR_STATE, "tg_optim_step"),
    R(optim_closure_null, TG_ERR_ARG, "tg_optim_step_closure"),
    R(optim_closure_returns_null, TG_ERR_ARG, "tg_optim_step_closure"),
    R(optim_closure_not_scalar, TG_ERR_ARG, "tg_optim_step_closure"),
    R(optim_step_closure_null_o, TG_ERR_ARG, "tg_optim_step_closure"),
    R(gradcheck_null_f, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_eps, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_atol, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_rtol, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_no_grad, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_not_leaf, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_n_inputs, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_null_input, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_f_null, TG_ERR_ARG, "tg_gradcheck"),
    R(gradcheck_mismatch, TG_ERR_NUMERIC, "tg_gradcheck"),
    R(gradgradcheck_null_f, TG_ERR_ARG, "tg_gradgradcheck"),
    R(gradgradcheck_eps, TG_ERR_ARG, "tg_gradgradcheck"),
    R(gradgradcheck_no_grad, TG_ERR_ARG, "tg_gradgradcheck"),
    R(gradgradcheck_f_null, TG_ERR_ARG, "tg_gradgradcheck"),
    R(gradgradcheck_mismatch, TG_ERR_NUMERIC, "tg_gradgradcheck"),
    /* PyTorch parity ops (issue 17) */
    R(permute_null, TG_ERR_ARG, "tg_permute"), R(permute_dims_null, TG_ERR_ARG, "tg_permute"),
    R(permute_repeat, TG_ERR_ARG, "tg_permute"), R(permute_range, TG_ERR_ARG, "tg_permute"),
    R(permute_freed, TG_ERR_STATE, "tg_permute"),
    R(squeeze_null, TG_ERR_ARG, "tg_squeeze"), R(squeeze_dim, TG_ERR_ARG, "tg_squeeze"),
    R(squeeze_freed, TG_ERR_STATE, "tg_squeeze"),
    R(cat_n0, TG_ERR_ARG, "tg_cat"), R(cat_ts_null, TG_ERR_ARG, "tg_cat"),
    R(cat_member_null, TG_ERR_ARG, "tg_cat"), R(cat_0d, TG_ERR_ARG, "tg_cat"),
    R(cat_dim, TG_ERR_ARG, "tg_cat"), R(cat_shape, TG_ERR_SHAPE, "tg_cat"),
    R(cat_ndim, TG_ERR_SHAPE, "tg_cat"), R(cat_freed, TG_ERR_STATE, "tg_cat"),
    R(stack_n0, TG_ERR_ARG, "tg_stack"), R(stack_shape, TG_ERR_SHAPE, "tg_stack"),
    R(stack_dim, TG_ERR_ARG, "tg_stack"), R(stack_freed, TG_ERR_STATE, "tg_stack"),
    R(narrow_null, TG_ERR_ARG, "tg_narrow"), R(narrow_0d, TG_ERR_ARG, "tg_narrow"),
    R(narrow_dim, TG_ERR_ARG, "tg_narrow"), R(narrow_start, TG_ERR_ARG, "tg_narrow"),
    R(narrow_length, TG_ERR_ARG, "tg_narrow"), R(narrow_negative_length, TG_ERR_ARG, "tg_narrow"),
    R(narrow_freed, TG_ERR_STATE, "tg_narrow"),
    R(mean_dim_null, TG_ERR_ARG, "tg_mean_dim"), R(mean_dim_range, TG_ERR_ARG, "tg_mean_dim"),
    R(mean_dim_freed, TG_ERR_STATE, "tg_mean_dim"),
    R(amax_null, TG_ERR_ARG, "tg_amax"), R(amax_range, TG_ERR_ARG, "tg_amax"),
    R(amax_empty, TG_ERR_SHAPE, "tg_amax"), R(amax_freed, TG_ERR_STATE, "tg_amax"),
    R(amin_null, TG_ERR_ARG, "tg_amin"), R(amin_range, TG_ERR_ARG, "tg_amin"),
    R(amin_empty, TG_ERR_SHAPE, "tg_amin"),
    R(var_null, TG_ERR_ARG, "tg_var"), R(var_range, TG_ERR_ARG, "tg_var"),
    R(var_correction, TG_ERR_ARG, "tg_var"), R(var_freed, TG_ERR_STATE, "tg_var"),
    R(logsumexp_null, TG_ERR_ARG, "tg_logsumexp"), R(logsumexp_range, TG_ERR_ARG, "tg_logsumexp"),
    R(logsumexp_freed, TG_ERR_STATE, "tg_logsumexp"),
    R(sigmoid_null, TG_ERR_ARG, "tg_sigmoid"), R(sigmoid_freed, TG_ERR_STATE, "tg_sigmoid"),
    R(softmax_null, TG_ERR_ARG, "tg_softmax"), R(softmax_range, TG_ERR_ARG, "tg_softmax"),
    R(softmax_freed, TG_ERR_STATE, "tg_softmax"),
    R(log_softmax_null, TG_ERR_ARG, "tg_log_softmax"), R(log_softmax_range, TG_ERR_ARG, "tg_log_softmax"),
    R(clamp_null, TG_ERR_ARG, "tg_clamp"), R(clamp_order, TG_ERR_ARG, "tg_clamp"),
    R(clamp_nan, TG_ERR_ARG, "tg_clamp"), R(clamp_freed, TG_ERR_STATE, "tg_clamp"),
    R(maximum_null, TG_ERR_ARG, "tg_maximum"), R(maximum_shape, TG_ERR_SHAPE, "tg_maximum"),
    R(maximum_freed, TG_ERR_STATE, "tg_maximum"),
    R(minimum_null, TG_ERR_ARG, "tg_minimum"), R(minimum_shape, TG_ERR_SHAPE, "tg_minimum"),
    R(where_null, TG_ERR_ARG, "tg_where"), R(where_shape, TG_ERR_SHAPE, "tg_where"),
    R(where_freed, TG_ERR_STATE, "tg_where"),
    R(cross_entropy_null, TG_ERR_ARG, "tg_cross_entropy"),
    R(cross_entropy_shape, TG_ERR_SHAPE, "tg_cross_entropy"),
    R(cross_entropy_logits_1d, TG_ERR_SHAPE, "tg_cross_entropy"),
    R(cross_entropy_class, TG_ERR_ARG, "tg_cross_entropy"),
    R(cross_entropy_fraction, TG_ERR_ARG, "tg_cross_entropy"),
    R(cross_entropy_reduction, TG_ERR_ARG, "tg_cross_entropy"),
    R(cross_entropy_freed, TG_ERR_STATE, "tg_cross_entropy"),
    R(retain_grad_null, TG_ERR_ARG, "tg_retain_grad"), R(retain_grad_no_grad, TG_ERR_STATE, "tg_retain_grad"),
    R(retain_grad_freed, TG_ERR_STATE, "tg_retain_grad"),
    R(retain_grad_other_output, TG_ERR_STATE, "tg_retain_grad"),
    R(adagrad_params_null, TG_ERR_ARG, "tg_adagrad_new"), R(adagrad_opts_null, TG_ERR_ARG, "tg_adagrad_new"),
    R(adagrad_lr, TG_ERR_ARG, "tg_adagrad_new"), R(adagrad_lr_decay, TG_ERR_ARG, "tg_adagrad_new"),
    R(adagrad_accumulator, TG_ERR_ARG, "tg_adagrad_new"), R(adagrad_eps, TG_ERR_ARG, "tg_adagrad_new"),
    R(nadam_params_null, TG_ERR_ARG, "tg_nadam_new"), R(nadam_lr, TG_ERR_ARG, "tg_nadam_new"),
    R(nadam_beta1, TG_ERR_ARG, "tg_nadam_new"), R(nadam_beta2, TG_ERR_ARG, "tg_nadam_new"),
    R(nadam_momentum_decay, TG_ERR_ARG, "tg_nadam_new"),
    R(optim_lr_null, TG_ERR_ARG, "tg_optim_lr"), R(optim_set_lr_null, TG_ERR_ARG, "tg_optim_set_lr"),
    R(optim_set_lr_negative, TG_ERR_ARG, "tg_optim_set_lr"),
    R(step_lr_null, TG_ERR_ARG, "tg_step_lr_new"), R(step_lr_size, TG_ERR_ARG, "tg_step_lr_new"),
    R(step_lr_gamma, TG_ERR_ARG, "tg_step_lr_new"),
    R(cosine_lr_null, TG_ERR_ARG, "tg_cosine_lr_new"), R(cosine_lr_tmax, TG_ERR_ARG, "tg_cosine_lr_new"),
    R(cosine_lr_eta, TG_ERR_ARG, "tg_cosine_lr_new"),
    R(lr_schedule_step_null, TG_ERR_ARG, "tg_lr_schedule_step"),
};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

/* Under AddressSanitizer freed headers are poisoned and the sanitizer itself
** reports a use after free (as test_tensor.c): rows using a freed tensor run
** in the other builds only. */
static bool skipped(const row *r)
{
#ifdef TG_ASAN
    return strstr(r->what, "freed") != NULL;
#else
    (void)r;
    return false;
#endif
}

static int64_t live_after_release(void)
{
    tg_release_memory();
    return tg__alloc_live();
}

/* The library still works: a small op with a gradient. */
static bool still_usable(void)
{
    tg_scope_begin();
    tg_tensor *x = leaf(3);
    bool ok = tg_backward(tg_sum(tg_mul(x, x)), NULL) == TG_OK && tg_grad(x) && tg_data(tg_grad(x))[1] == 1.0;
    tg_scope_end();
    return ok && tg_last_status() == TG_OK;
}

static void test_every_documented_error_gives_its_status_and_names_the_function(void **state)
{
    (void)state;
    int failed = 0, functions = 0, n_skipped = 0;
    for (int i = 0; i < N_ROWS; i++) {   /* warm-up: the scope stack and caches reach their size */
        if (skipped(&rows[i]))
            continue;
        tg_scope_begin();
        rows[i].run();
        tg_scope_end();
        tg_clear_error();
    }
    for (int i = 0; i < N_ROWS; i++) {
        if (skipped(&rows[i])) {
            n_skipped++;
            continue;
        }
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(rows[j].names, rows[i].names) == 0;
        functions += !seen;
        int64_t live = live_after_release();
        tg_clear_error();
        tg_scope_begin();
        tg_status got = rows[i].run();
        tg_status recorded = tg_last_status();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tg_last_error());
        tg_scope_end();
        int64_t leaked = live_after_release() - live;
        const char *why = got != rows[i].want ? "returned the wrong status"
                          : recorded != rows[i].want ? "recorded the wrong status"
                          : !strstr(msg, rows[i].names) ? "message does not name the function"
                          : leaked != 0 ? "leaked blocks"
                          : NULL;
        tg_clear_error();
        if (!why && !still_usable())
            why = "left the library unusable";
        if (why) {
            print_error("row %s: %s: want %s naming %s, returned %s, recorded %s: '%s' (%lld blocks leaked)\n",
                        rows[i].what, why, tg_status_str(rows[i].want), rows[i].names, tg_status_str(got),
                        tg_status_str(recorded), msg, (long long)leaked);
            failed++;
        }
        tg_clear_error();
    }
    print_message("validation table: %d rows naming %d functions, %d failed, %d use-after-free rows skipped\n",
                  N_ROWS - n_skipped, functions, failed, n_skipped);
    assert_int_equal(failed, 0);
}

/* The row harness itself: a row whose call succeeds must be reported. */
ROW(succeeds) { return T(tg_zeros(1, (int64_t[]){2})); }
static void test_a_row_that_does_not_fail_is_caught(void **state)
{
    (void)state;
    tg_clear_error();
    tg_scope_begin();
    assert_int_equal(succeeds(), TG_OK);
    assert_int_equal(tg_last_status(), TG_OK);
    tg_scope_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_documented_error_gives_its_status_and_names_the_function),
        cmocka_unit_test(test_a_row_that_does_not_fail_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
