/* SPDX-License-Identifier: MIT */
/*
** Core: tensor creation, metadata, scopes and ownership, and the error
** record.  One test per documented error of these functions.
*/
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static void count_release(void *user) { ++*(int *)user; }

static void test_from_buffer_uses_the_memory_and_releases_it_with_the_last_view(void **state)
{
    (void)state;
    double buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3}, flat = 6;
    int released = 0;
    tg_tensor *t = tg_from_buffer(2, shape, buf, count_release, &released);
    assert_non_null(t);
    assert_ptr_equal(tg_data(t), buf);                        /* in place, not copied */
    tg_tensor *r = tg_reshape(t, 1, &flat), *y = tg_mul(t, t);
    assert_true(tg_data(y)[5] == 36.0);
    buf[0] = -1.0;
    assert_true(tg_data(r)[0] == -1.0);
    tg_free(t);
    assert_int_equal(released, 0);                            /* r still uses the memory */
    tg_free(y);
    tg_free(r);
    assert_int_equal(released, 1);
    tg_tensor *e = tg_from_buffer(1, (int64_t[]){0}, NULL, NULL, NULL);   /* empty, no release */
    assert_non_null(e);
    tg_free(e);
}

static void test_from_buffer_rejects_null_and_misaligned_data_without_releasing(void **state)
{
    (void)state;
    double buf[3] = {0};
    int released = 0;
    int64_t n = 2;
    tg_clear_error();
    assert_null(tg_from_buffer(1, &n, NULL, count_release, &released));
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    assert_non_null(strstr(tg_last_error(), "tg_from_buffer: data is NULL"));
    tg_clear_error();
    assert_null(tg_from_buffer(1, &n, (double *)(void *)((char *)buf + 1), count_release, &released));
    assert_non_null(strstr(tg_last_error(), "not aligned"));
    tg_clear_error();
    n = -1;
    assert_null(tg_from_buffer(1, &n, buf, count_release, &released));
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    assert_int_equal(released, 0);
    tg_clear_error();
}

static void test_zeros_full_scalar_have_shape_and_values(void **state)
{
    (void)state;
    int64_t shape[2] = {2, 3};
    tg_tensor *z = tg_zeros(2, shape), *f = tg_full(2, shape, 2.5), *s = tg_scalar(-1.0);
    assert_int_equal(tg_ndim(z), 2);
    assert_int_equal(tg_shape(z)[1], 3);
    assert_int_equal(tg_numel(z), 6);
    for (int i = 0; i < 6; i++) {
        assert_true(tg_data(z)[i] == 0.0);
        assert_true(tg_data(f)[i] == 2.5);
    }
    assert_int_equal(tg_ndim(s), 0);
    assert_int_equal(tg_numel(s), 1);
    assert_true(tg_item(s) == -1.0);
    tg_free(z);
    tg_free(f);
    tg_free(s);
}

static void test_from_array_copies(void **state)
{
    (void)state;
    double src[3] = {1, 2, 3};
    tg_tensor *t = tg_from_array(1, (int64_t[]){3}, src);
    src[0] = 99;
    assert_true(tg_data(t)[0] == 1.0);
    tg_free(t);
}

static void test_empty_tensor_is_valid(void **state)
{
    (void)state;
    tg_tensor *t = tg_from_array(2, (int64_t[]){0, 4}, NULL);
    assert_non_null(t);
    assert_int_equal(tg_numel(t), 0);
    tg_tensor *s = tg_sum(t);
    assert_true(tg_item(s) == 0.0);
    tg_free(s);
    tg_free(t);
}

/* Pooled tensor data starts on a cache line, fresh or reused, so the kernels'
** vectors never straddle two lines (3.2 against 2.2 us for the eager step's
** kernel calls at N = 2,000).  Tensors of up to 120 doubles live in small
** blocks and are not covered. */
static void test_pooled_data_is_cache_line_aligned(void **state)
{
    (void)state;
    const int64_t sizes[] = {121, 2000, 4097, 100003};
    for (int round = 0; round < 2; round++) {   /* the second round reuses the first's blocks */
        uintptr_t offsets = 0;   /* OR of every data pointer's offset in its line; -1 for a NULL */
        tg_scope_begin();
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            tg_tensor *a = tg_zeros(1, &sizes[i]), *b = tg_linspace(0.0, 1.0, sizes[i]);
            tg_tensor *c = tg_add(a, b), *d = tg_empty(1, &sizes[i]);
            tg_tensor *all[] = {a, b, c, d};
            for (int k = 0; k < 4; k++)
                offsets |= all[k] ? (uintptr_t)tg_data(all[k]) % 64 : (uintptr_t)-1;
        }
        tg_scope_end();
        assert_int_equal(offsets, 0);
    }
}

/* ------------------------------------------- each thread's kept blocks */

static const int64_t kept_n = 2000;   /* 16 KB: a block a thread keeps for itself */

static size_t cached(void)
{
    tg_memory_stats m;
    tg_get_memory_stats(&m);
    return m.cached_bytes;
}

static int64_t system_allocations(void)
{
    tg_memory_stats m;
    tg_get_memory_stats(&m);
    return m.system_allocations;
}

/* A freed block comes back to the next tensor of its size on the same
** thread, counted as cached meanwhile; tg_release_memory gives it back to
** the system. */
static void test_a_thread_gets_its_freed_block_back(void **state)
{
    (void)state;
    tg_release_memory();
    tg_tensor *a = tg_empty(1, &kept_n);
    double *first = tg_data(a);
    tg_free(a);
    assert_true(cached() >= (size_t)kept_n * sizeof(double));
    int64_t before = system_allocations();
    tg_tensor *b = tg_empty(1, &kept_n);
    assert_ptr_equal(tg_data(b), first);
    assert_int_equal(system_allocations(), before);
    tg_free(b);
    tg_release_memory();
    assert_int_equal(cached(), 0);
    tg_tensor *c = tg_empty(1, &kept_n);   /* from the system again (its header too) */
    assert_true(system_allocations() > before);
    tg_free(c);
    tg_release_memory();
}

static void *make_and_free(void *arg)
{
    double **data = arg;
    tg_tensor *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = tg_full(1, &kept_n, 1.0);
        data[i] = t[i] ? tg_data(t[i]) : NULL;
    }
    for (int i = 0; i < 3; i++)
        tg_free(t[i]);
    return NULL;
}

/* The blocks a thread kept go to the shared cache when it ends, where any
** thread reuses them. */
static void test_an_ended_threads_blocks_are_shared(void **state)
{
    (void)state;
    tg_release_memory();
    pthread_t th;
    double *theirs[3];
    assert_int_equal(pthread_create(&th, NULL, make_and_free, theirs), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(cached() >= 3 * (size_t)kept_n * sizeof(double));
    tg_tensor *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = tg_full(1, &kept_n, 2.0);
    for (int i = 0; i < 3; i++) {   /* each on one of the ended thread's blocks */
        double *d = tg_data(t[i]);
        assert_true(d == theirs[0] || d == theirs[1] || d == theirs[2]);
        assert_true(d[kept_n - 1] == 2.0);
    }
    for (int i = 0; i < 3; i++)
        tg_free(t[i]);
    tg_release_memory();
    assert_int_equal(cached(), 0);
}

/* With a cache limit of 0 nothing is kept, not even by the thread. */
static void test_a_zero_cache_limit_keeps_nothing(void **state)
{
    (void)state;
    size_t prev = tg_set_memory_cache_limit(0);
    tg_tensor *a = tg_empty(1, &kept_n);
    tg_free(a);
    assert_int_equal(cached(), 0);
    int64_t before = system_allocations();
    tg_tensor *b = tg_empty(1, &kept_n);
    assert_int_equal(system_allocations(), before + 1);
    tg_free(b);
    tg_set_memory_cache_limit(prev);
}

static void test_linspace_matches_pytorch(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-M_PI, M_PI, 2000);
    double ref[2000];
    assert_int_equal(tgt_ref("tutorial.txt", "x", ref, 2000), 2000);
    /* PyTorch's formula (first half from start, second from end); Debian's
    ** build rounds some points one ulp apart, so an absolute 2 ulp of pi */
    assert_allclose("linspace", 2000, tg_data(x), ref, 0.0, 1e-15);
    assert_true(tg_data(x)[0] == -M_PI && tg_data(x)[1999] == M_PI);
    tg_tensor *one = tg_linspace(3.0, 5.0, 1);
    assert_true(tg_data(one)[0] == 3.0);
    tg_scope_end();
}

static void test_creation_rejects_bad_shapes(void **state)
{
    (void)state;
    assert_null(tg_zeros(9, (int64_t[9]){1}));
    assert_error(TG_ERR_ARG, "tg_zeros");
    assert_null(tg_zeros(-1, NULL));
    assert_error(TG_ERR_ARG, "tg_zeros");
    assert_null(tg_full(2, NULL, 1.0));
    assert_error(TG_ERR_ARG, "tg_full");
    assert_null(tg_zeros(2, (int64_t[]){3, -1}));
    assert_error(TG_ERR_ARG, "tg_zeros");
    assert_null(tg_zeros(3, (int64_t[]){INT64_MAX / 2, 4, 4}));
    assert_error(TG_ERR_ARG, "tg_zeros");
    assert_null(tg_from_array(1, (int64_t[]){2}, NULL));
    assert_error(TG_ERR_ARG, "tg_from_array");
    assert_null(tg_linspace(0, 1, -3));
    assert_error(TG_ERR_ARG, "tg_linspace");
}

static void test_accessors_reject_null(void **state)
{
    (void)state;
    assert_int_equal(tg_ndim(NULL), -1);
    assert_error(TG_ERR_ARG, "tg_ndim");
    assert_null(tg_shape(NULL));
    assert_error(TG_ERR_ARG, "tg_shape");
    assert_int_equal(tg_numel(NULL), -1);
    assert_error(TG_ERR_ARG, "tg_numel");
    assert_null(tg_data(NULL));
    assert_error(TG_ERR_ARG, "tg_data");
    assert_true(isnan(tg_item(NULL)));
    assert_error(TG_ERR_ARG, "tg_item");
    assert_null(tg_keep(NULL));
    assert_error(TG_ERR_ARG, "tg_keep");
    tg_free(NULL);   /* a no-op */
    assert_int_equal(tg_last_status(), TG_OK);
}

static void test_item_rejects_more_than_one_element(void **state)
{
    (void)state;
    tg_tensor *t = tg_zeros(1, (int64_t[]){3});
    assert_true(isnan(tg_item(t)));
    assert_error(TG_ERR_SHAPE, "tg_item");
    assert_true(strstr(tg_last_error(), "") != NULL);
    tg_free(t);
}

static void test_error_record_keeps_the_first_cause(void **state)
{
    (void)state;
    tg_tensor *a = tg_zeros(2, (int64_t[]){2, 3}), *bad = tg_zeros(1, (int64_t[]){4});
    tg_tensor *r = tg_exp(tg_add(a, bad));
    assert_null(r);
    assert_int_equal(tg_last_status(), TG_ERR_SHAPE);
    assert_non_null(strstr(tg_last_error(), "tg_add"));
    assert_non_null(strstr(tg_last_error(), "[2,3]"));
    assert_non_null(strstr(tg_last_error(), "[4]"));
    tg_clear_error();
    assert_int_equal(tg_last_status(), TG_OK);
    assert_string_equal(tg_last_error(), "");
    assert_null(tg_exp(NULL));   /* nothing recorded: a NULL operand is TG_ERR_ARG */
    assert_error(TG_ERR_ARG, "exp");
    tg_free(a);
    tg_free(bad);
}

static void test_status_strings_cover_every_code(void **state)
{
    (void)state;
    for (int s = TG_OK; s <= TG_ERR_NUMERIC; s++) {
        const char *text = tg_status_str((tg_status)s);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
        for (int o = TG_OK; o < s; o++)
            assert_string_not_equal(text, tg_status_str((tg_status)o));
    }
    assert_non_null(tg_status_str((tg_status)42));
}

static void test_scope_end_frees_all_but_kept(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *kept = tg_scalar(1.0);
    tg_scalar(2.0);   /* freed by the scope; LeakSanitizer would see it otherwise */
    tg_tensor *inner_kept;
    tg_scope_begin();
    inner_kept = tg_keep(tg_scalar(3.0));   /* moves to the outer scope */
    tg_scope_end();
    assert_true(tg_item(inner_kept) == 3.0);
    tg_keep(kept);   /* to the caller */
    tg_scope_end();
    assert_true(tg_item(kept) == 1.0);
    assert_true(tg_keep(kept) == kept);   /* already the caller's */
    tg_free(kept);
}

static void test_free_inside_scope_releases_early(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *t = tg_zeros(1, (int64_t[]){1000});
    tg_free(t);   /* not freed twice at scope end */
    tg_scope_end();
}

static void test_scope_end_without_begin_is_state_error(void **state)
{
    (void)state;
    tg_scope_end();
    assert_error(TG_ERR_STATE, "tg_scope_end");
}

static void test_detach_shares_data_without_graph(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_full(1, (int64_t[]){3}, 2.0);
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_mul(x, x);
    tg_tensor *d = tg_detach(y);
    assert_true(tg_requires_grad(y));
    assert_false(tg_requires_grad(d));
    tg_data(d)[0] = 7.0;
    assert_true(tg_data(y)[0] == 7.0);
    assert_null(tg_detach(NULL));
    assert_error(TG_ERR_ARG, "tg_detach");
    tg_scope_end();
}

static void test_reshape_shares_storage_and_infers(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *x = tg_zeros(2, (int64_t[]){3, 4});
    tg_tensor *r = tg_reshape(x, 3, (int64_t[]){2, -1, 3});
    assert_non_null(r);
    assert_int_equal(tg_shape(r)[1], 2);
    tg_data(r)[5] = 1.0;
    assert_true(tg_data(x)[5] == 1.0);
    assert_null(tg_reshape(x, 2, (int64_t[]){5, -1}));
    assert_error(TG_ERR_SHAPE, "tg_reshape");
    assert_null(tg_reshape(x, 2, (int64_t[]){5, 5}));
    assert_error(TG_ERR_SHAPE, "tg_reshape");
    assert_null(tg_reshape(x, 9, (int64_t[9]){0}));
    assert_error(TG_ERR_ARG, "tg_reshape");
    tg_scope_end();
}

/* Under AddressSanitizer freed headers are poisoned and the sanitizer itself
** reports such a use; the library's own check is tested in the other builds. */
#if defined(__SANITIZE_ADDRESS__)
#define TGT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TGT_ASAN 1
#endif
#endif

static void test_use_after_scope_end_and_double_free_are_reported(void **state)
{
    (void)state;
#ifdef TGT_ASAN
    skip();
#endif
    tg_scope_begin();
    tg_tensor *t = tg_scalar(1.0);
    tg_scope_end();
    tg_clear_error();
    assert_true(isnan(tg_item(t)));
    assert_error(TG_ERR_STATE, "tg_item");
    assert_null(tg_exp(t));
    assert_error(TG_ERR_STATE, "already freed");
    assert_int_equal(tg_set_requires_grad(t, true), TG_ERR_STATE);
    assert_error(TG_ERR_STATE, "tg_set_requires_grad");
    tg_tensor *u = tg_scalar(2.0);
    tg_free(u);
    tg_free(u);   /* reported, not repeated */
    assert_error(TG_ERR_STATE, "tg_free");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros_full_scalar_have_shape_and_values),
        cmocka_unit_test(test_from_array_copies),
        cmocka_unit_test(test_empty_tensor_is_valid),
        cmocka_unit_test(test_pooled_data_is_cache_line_aligned),
        cmocka_unit_test(test_a_thread_gets_its_freed_block_back),
        cmocka_unit_test(test_an_ended_threads_blocks_are_shared),
        cmocka_unit_test(test_a_zero_cache_limit_keeps_nothing),
        cmocka_unit_test(test_linspace_matches_pytorch),
        cmocka_unit_test(test_creation_rejects_bad_shapes),
        cmocka_unit_test(test_accessors_reject_null),
        cmocka_unit_test(test_item_rejects_more_than_one_element),
        cmocka_unit_test(test_error_record_keeps_the_first_cause),
        cmocka_unit_test(test_status_strings_cover_every_code),
        cmocka_unit_test(test_scope_end_frees_all_but_kept),
        cmocka_unit_test(test_free_inside_scope_releases_early),
        cmocka_unit_test(test_scope_end_without_begin_is_state_error),
        cmocka_unit_test(test_detach_shares_data_without_graph),
        cmocka_unit_test(test_reshape_shares_storage_and_infers),
        cmocka_unit_test(test_use_after_scope_end_and_double_free_are_reported),
        cmocka_unit_test(test_from_buffer_uses_the_memory_and_releases_it_with_the_last_view),
        cmocka_unit_test(test_from_buffer_rejects_null_and_misaligned_data_without_releasing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
