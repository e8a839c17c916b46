/* SPDX-License-Identifier: MIT */
/*
** User mistakes with tensor lifetimes never abort (issue 18, row 8): freeing
** the borrowed tg_grad(w) and then w used to abort ("internal error:
** t->refcount > 0"); a stale pointer whose header was reused at once acted on
** another tensor without an error.  Freed headers now wait in a FIFO before
** reuse, and tg_free refuses a gradient it does not own.
*/
#include "support.h"

#include <string.h>

static tg_tensor *leaf_with_grad(void)
{
    int64_t n = 4;
    tg_tensor *w = tg_full(1, &n, 2.0);
    assert_int_equal(tg_set_requires_grad(w, true), TG_OK);
    tg_scope_begin();
    assert_int_equal(tg_backward(tg_sum(tg_mul(w, w)), NULL), TG_OK);
    tg_scope_end();
    return w;
}

static void test_freeing_borrowed_grad_is_an_error_not_an_abort(void **state)
{
    (void)state;
    tg_tensor *w = leaf_with_grad(), *g = tg_grad(w);
    assert_non_null(g);
    tg_clear_error();
    tg_free(g);
    assert_int_equal(tg_last_status(), TG_ERR_STATE);
    assert_non_null(strstr(tg_last_error(), "tg_free"));
    assert_non_null(tg_grad(w));   /* still there, still right */
    assert_true(tg_data(tg_grad(w))[3] == 4.0);
    tg_free(w);                    /* used to abort here */
}

static void test_stale_pointer_meets_state_error_after_new_tensors(void **state)
{
    (void)state;
    int64_t n = 3;
    tg_tensor *x = tg_full(1, &n, 1.0), *stale = tg_full(1, &n, 5.0), *other[8];
    for (int i = 0; i < 8; i++)   /* a program with free blocks of this size about */
        other[i] = tg_full(1, &n, 0.0);
    for (int i = 0; i < 8; i++)
        tg_free(other[i]);
    tg_free(stale);
    tg_tensor *fresh[7];
    for (int i = 0; i < 7; i++)   /* the same size: before, the first took stale's header (LIFO) */
        fresh[i] = tg_full(1, &n, 9.0);
    tg_clear_error();
    assert_null(tg_add(stale, x));
    assert_int_equal(tg_last_status(), TG_ERR_STATE);
    assert_non_null(strstr(tg_last_error(), "already freed"));
    tg_clear_error();
    tg_free(stale);   /* a second free: reported, not repeated */
    assert_int_equal(tg_last_status(), TG_ERR_STATE);
    for (int i = 0; i < 7; i++) {
        assert_true(tg_data(fresh[i])[2] == 9.0);
        tg_free(fresh[i]);
    }
    tg_free(x);
}

static void test_stale_large_tensor_header_not_reused_at_once(void **state)
{
    (void)state;
    int64_t n = 100000;   /* header apart from the data */
    tg_tensor *stale = tg_zeros(1, &n);
    tg_free(stale);
    tg_tensor *fresh = tg_zeros(1, &n);
    assert_ptr_not_equal(fresh, stale);
    tg_clear_error();
    assert_int_equal(tg_numel(stale) < 0 || tg_last_status() == TG_ERR_STATE, 1);
    tg_free(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freeing_borrowed_grad_is_an_error_not_an_abort),
        cmocka_unit_test(test_stale_pointer_meets_state_error_after_new_tensors),
        cmocka_unit_test(test_stale_large_tensor_header_not_reused_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
