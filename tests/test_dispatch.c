/* SPDX-License-Identifier: MIT */
/*
** The dispatch path: applying a user Function and running its backward, the
** sequence whose cost the benchmark suite measures.  These tests pin the
** properties its fast paths must keep: a steady-state step makes no system
** allocation and leaks nothing, small tensors (header and data in one block)
** outlive nothing they should not, saved tensors past the node's inline slots
** work, the executor's reused slots are clean after a failed backward, and
** every allocation of a cold dispatch fails cleanly.
*/
#include "support.h"
#include "core/internal.h"

#include <math.h>
#include <string.h>

#include "p3.h"   /* the benchmark's P3 (p3_fn): raw loops, tg_empty, saves x */

/* The measured sequence: a scope around apply + backward of its output. */
static tg_status dispatch_once(tg_tensor *x)
{
    tg_scope_begin();
    tg_tensor *y = tg_apply1(&p3_fn, &x);
    tg_status st = y ? tg_backward(y, NULL) : tg_last_status();
    tg_scope_end();
    return st;
}

static void test_dispatch_steady_state_allocates_nothing_and_accumulates(void **state)
{
    (void)state;
    tg_tensor *x = tg_scalar(0.5);
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    for (int i = 0; i < 10; i++)   /* warm: the thread's caches fill */
        assert_status(TG_OK, dispatch_once(x));
    tg_zero_grad(x);
    tg_memory_stats before, after;
    tg_get_memory_stats(&before);
    for (int i = 0; i < 1000; i++)
        assert_status(TG_OK, dispatch_once(x));
    tg_get_memory_stats(&after);
    assert_int_equal(after.system_allocations, before.system_allocations);
    assert_int_equal(after.live_blocks, before.live_blocks);
    double want = 1000 * 1.5 * (5 * 0.25 - 1);
    assert_allclose("grad", 1, tg_data(tg_grad(x)), &want, 1e-14, 0.0);
    tg_free(x);
}

/* Tensors around the size where data stops sharing the header's block. */
static void test_tensor_sizes_across_the_small_block_limit(void **state)
{
    (void)state;
    tg_scope_begin();
    for (int64_t n = 0; n <= 140; n++) {
        tg_tensor *t = tg_full(1, &n, 2.0);
        assert_non_null(t);
        assert_int_equal(tg_numel(t), n);
        for (int64_t i = 0; i < n; i++)
            assert_true(tg_data(t)[i] == 2.0);
        tg_tensor *s = tg_sum(t);
        assert_true(tg_item(s) == 2.0 * (double)n);
    }
    tg_scope_end();
}

/* A view keeps a small tensor's data alive after the tensor is freed; the
** freed tensor itself is reported as freed. */
static void test_view_outlives_small_tensor(void **state)
{
    (void)state;
    tg_tensor *t = tg_from_array(1, (int64_t[]){3}, (double[]){1.0, 2.0, 3.0});
    tg_tensor *v = tg_detach(t);
    assert_non_null(v);
    tg_free(t);
    tg_clear_error();
    assert_null(tg_data(t));
    assert_error(TG_ERR_STATE, "tg_data", "already freed");
    double want[3] = {1.0, 2.0, 3.0};
    assert_allclose("view", 3, tg_data(v), want, 0.0, 0.0);
    tg_data(v)[0] = 7.0;
    tg_free(v);
}

/* forward: y = a*b*c*d*e*f, saving all six inputs (more than a node holds
** inline)  =>  d in_i = dy * prod_{j != i} in_j */
static tg_status prod6_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    double p = 1.0;
    for (int i = 0; i < 6; i++)
        p *= tg_item(in[i]);
    out[0] = tg_scalar(p);
    return out[0] ? tg_save_for_backward(ctx, 6, in) : tg_last_status();
}

static tg_status prod6_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    for (int i = 0; i < 6; i++) {
        double p = tg_item(g[0]);
        for (int j = 0; j < 6; j++) {
            tg_tensor *s = tg_saved_tensor(ctx, j);
            if (!s)
                return tg_last_status();
            p *= j == i ? 1.0 : tg_item(s);
        }
        if (!(gin[i] = tg_scalar(p)))
            return tg_last_status();
    }
    return TG_OK;
}

static const tg_function prod6_fn = {.name = "prod6", .n_inputs = 6, .n_outputs = 1,
                                     .forward = prod6_forward, .backward = prod6_backward};

static void test_many_saved_tensors_survive_their_inputs(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *leaf[6], *in[6];
    for (int i = 0; i < 6; i++) {
        leaf[i] = tg_scalar(i + 1.0);
        tg_set_requires_grad(leaf[i], true);
    }
    tg_scope_begin();
    for (int i = 0; i < 6; i++)
        in[i] = tg_keep(tg_affine(leaf[i], 1.0, 0.0));   /* recorded inputs, freed below */
    tg_tensor *y = tg_keep(tg_apply1(&prod6_fn, in));
    assert_non_null(y);
    tg_scope_end();
    for (int i = 0; i < 6; i++)
        tg_free(in[i]);   /* the saved copies keep data and graph */
    tg_backward_opts keep = {.retain_graph = true};
    assert_status(TG_OK, tg_backward(y, &keep));
    assert_status(TG_OK, tg_backward(y, NULL));
    for (int i = 0; i < 6; i++) {
        double want = 2.0 * 720.0 / (i + 1.0);
        assert_allclose("grad", 1, tg_data(tg_grad(leaf[i])), &want, 1e-14, 0.0);
    }
    tg_clear_error();
    assert_status(TG_ERR_STATE, tg_backward(y, NULL));
    assert_error(TG_ERR_STATE, "was already freed by an earlier backward");
    tg_scope_end();
}

/* forward: y = x  =>  fails in backward */
static tg_status failing_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    out[0] = tg_affine(in[0], 1.0, 0.0);
    return out[0] ? TG_OK : tg_last_status();
}

static tg_status failing_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g, (void)gin;
    return tg_set_error(TG_ERR_NUMERIC, "failing: refuses");
}

static const tg_function failing_fn = {.name = "failing", .n_inputs = 1, .n_outputs = 1,
                                       .forward = failing_forward, .backward = failing_backward};

/* A backward that fails with gradients in flight (a sum of two branches)
** leaves the executor's reused slots clean: the next backward is exact. */
static void test_failed_backward_leaves_executor_clean(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_scalar(3.0);
    tg_set_requires_grad(x, true);
    tg_tensor *bad = tg_add(tg_mul(x, x), tg_apply1(&failing_fn, &x));
    tg_clear_error();
    assert_status(TG_ERR_NUMERIC, tg_backward(bad, NULL));
    assert_error(TG_ERR_NUMERIC, "failing: refuses");
    assert_null(tg_grad(x));
    assert_status(TG_OK, tg_backward(tg_apply1(&p3_fn, &x), NULL));
    double want = 1.5 * (5 * 9.0 - 1);
    assert_allclose("grad", 1, tg_data(tg_grad(x)), &want, 1e-14, 0.0);
    tg_scope_end();
}

/* From cold caches, every allocation of a dispatch fails cleanly: NOMEM, the
** gradient as it was, nothing leaked; the walk ends when the dispatch runs
** through. */
static void test_every_allocation_of_a_cold_dispatch_fails_cleanly(void **state)
{
    (void)state;
    tg_tensor *x = tg_scalar(0.5);
    tg_set_requires_grad(x, true);
    assert_status(TG_OK, dispatch_once(x));
    double grad = tg_item(tg_grad(x));
    int points = 0;
    for (int64_t n = 1; n < 200; n++) {
        tg_release_memory();   /* every allocation reaches the allocator again */
        int64_t live = tg__alloc_live();
        tg__alloc_fail_at(n, false);
        tg_status st = dispatch_once(x);
        bool failed = tg__alloc_failures() > 0;
        tg__alloc_fail_at(0, false);
        if (!failed) {
            assert_status(TG_OK, st);
            break;
        }
        points++;
        assert_int_equal(st, TG_ERR_NOMEM);
        assert_true(tg_item(tg_grad(x)) == grad);
        tg_release_memory();
        assert_int_equal(tg__alloc_live(), live);
        tg_clear_error();
    }
    assert_true(points > 0);
    tg_free(x);
}

int main(void)
{
    tgt_warm_scopes();
    const struct CMUnitTest tests[] = {
        tgt_test(test_dispatch_steady_state_allocates_nothing_and_accumulates),
        tgt_test(test_tensor_sizes_across_the_small_block_limit),
        tgt_test(test_view_outlives_small_tensor),
        tgt_test(test_many_saved_tensors_survive_their_inputs),
        tgt_test(test_failed_backward_leaves_executor_clean),
        tgt_test(test_every_allocation_of_a_cold_dispatch_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
