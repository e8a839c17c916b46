/* SPDX-License-Identifier: MIT */
/*
** tensorgrad_mpi under mpirun (ctest runs it on 3 ranks): rank-ordered sums
** identical on every rank, gradient exchange, row partitions, gathers, and
** the distributed least squares against tg_legendre_lstsq on all the data.
*/
#include "support.h"
#include "tensorgrad_mpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

/* true on every rank when buf[0..n) is bit-identical on all ranks */
static bool same_everywhere(const double *buf, int n)
{
    double *all = malloc((size_t)n * (size_t)size * sizeof *all);
    MPI_Allgather(buf, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
    bool same = true;
    for (int r = 1; r < size; r++)
        same = same && memcmp(all, all + (size_t)r * (size_t)n, (size_t)n * sizeof *all) == 0;
    free(all);
    return same;
}

static void test_mpi_sum_adds_in_rank_order_on_every_rank(void **state)
{
    (void)state;
    /* rank 0 holds 1, the others 2^-53 each: in rank order every 2^-53 is lost to
    ** rounding; any other order that adds the small ones first keeps them */
    double v[3] = { rank == 0 ? 1.0 : 0x1p-53, (double)rank, rank == 0 ? 1e300 : -1e300 / size };
    double expect[3] = { 1.0, 0.0, 1e300 };
    for (int r = 1; r < size; r++) {
        expect[0] += 0x1p-53;
        expect[1] += r;
        expect[2] += -1e300 / size;
    }
    assert_int_equal(tg_mpi_sum(v, 3, MPI_COMM_WORLD), TG_OK);
    assert_memory_equal(v, expect, sizeof v);
    assert_true(same_everywhere(v, 3));
    assert_int_equal(tg_mpi_sum(v, 0, MPI_COMM_WORLD), TG_OK);
    assert_int_equal(tg_mpi_sum(NULL, 3, MPI_COMM_WORLD), TG_ERR_ARG);
}

static void test_mpi_allreduce_grads_sums_gradients_and_extras(void **state)
{
    (void)state;
    int64_t k = 3;
    tg_tensor *c = tg_zeros(1, &k), *s = tg_scalar(2.0);
    tg_params *p = tg_params_new();
    tg_params_add(p, "c", c);
    tg_params_add(p, "s", s);
    tg_set_requires_grad(c, true);
    tg_set_requires_grad(s, true);
    double w[3] = { rank + 1.0, 0.5 * rank, -1.0 };
    tg_scope_begin();
    tg_tensor *loss = tg_add(tg_sum(tg_mul(c, tg_from_array(1, &k, w))), tg_affine(s, rank + 1.0, 0.0));
    assert_int_equal(tg_backward(loss, NULL), TG_OK);
    tg_scope_end();
    double extra[2] = { rank, 1.0 };
    assert_int_equal(tg_mpi_allreduce_grads(p, extra, 2, MPI_COMM_WORLD), TG_OK);
    double expect_c[3] = { 0, 0, 0 }, expect_s = 0, expect_extra[2] = { 0, 0 };
    for (int r = 0; r < size; r++) {
        expect_c[0] += r + 1.0;
        expect_c[1] += 0.5 * r;
        expect_c[2] += -1.0;
        expect_s += r + 1.0;
        expect_extra[0] += r;
        expect_extra[1] += 1.0;
    }
    assert_allclose("grad c", 3, tg_data(tg_grad(c)), expect_c, 0, 0);
    assert_allclose("grad s", 1, tg_data(tg_grad(s)), &expect_s, 0, 0);
    assert_allclose("extra", 2, extra, expect_extra, 0, 0);
    tg_zero_grad(s);     /* every rank: the missing gradient is found before any communication */
    assert_int_equal(tg_mpi_allreduce_grads(p, NULL, 0, MPI_COMM_WORLD), TG_ERR_STATE);
    assert_non_null(strstr(tg_last_error(), "'s'"));
    tg_params_free(p);
    tg_free(c);
    tg_free(s);
}

static void test_mpi_rows_partition_covers_every_row_once(void **state)
{
    (void)state;
    const int64_t sizes[] = { 0, 1, 2, 5, 100, 1000003 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t be[2];
        assert_int_equal(tg_mpi_rows(sizes[i], MPI_COMM_WORLD, &be[0], &be[1]), TG_OK);
        int64_t *all = malloc(2 * (size_t)size * sizeof *all);
        MPI_Allgather(be, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
        assert_int_equal(all[0], 0);
        assert_int_equal(all[2 * size - 1], sizes[i]);
        for (int r = 0; r < size; r++) {
            int64_t len = all[2 * r + 1] - all[2 * r];
            assert_true(len == sizes[i] / size || len == sizes[i] / size + 1);
            if (r > 0)
                assert_int_equal(all[2 * r], all[2 * r - 1]);
        }
        free(all);
    }
}

static void test_mpi_gather_concatenates_in_rank_order(void **state)
{
    (void)state;
    double mine[4] = { rank, rank, rank, rank }, *all;
    int64_t n;
    assert_int_equal(tg_mpi_gather(mine, rank, &all, &n, 0, MPI_COMM_WORLD), TG_OK);   /* rank r sends r values */
    if (rank == 0) {
        assert_int_equal(n, size * (size - 1) / 2);
        for (int r = 1, at = 0; r < size; r++)
            for (int j = 0; j < r; j++)
                assert_true(all[at++] == r);
    } else {
        assert_null(all);
        assert_int_equal(n, 0);
    }
    free(all);
}

static void test_mpi_legendre_lstsq_matches_lstsq_on_all_data(void **state)
{
    (void)state;
    const int64_t n = 1001;
    const int degree = 9;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), alpha, beta;
    for (int64_t i = 0; i < n; i++) {
        x[i] = -1.5 + 4.0 * (double)i / (double)(n - 1);
        y[i] = sin(3 * x[i]) + 0.01 * cos(40 * x[i]);
    }
    tg_legendre_range_map(-1.5, 2.5, &alpha, &beta);
    int64_t b, e;
    tg_mpi_rows(n, MPI_COMM_WORLD, &b, &e);
    int64_t mine = e - b;
    tg_scope_begin();
    tg_tensor *c_all, *c_mpi;
    double cond_all, cond_mpi;
    assert_int_equal(tg_legendre_lstsq(tg_from_array(1, &n, x), tg_from_array(1, &n, y), degree, alpha, beta,
                                       &c_all, &cond_all), TG_OK);
    assert_int_equal(tg_mpi_legendre_lstsq(tg_from_array(1, &mine, x + b), tg_from_array(1, &mine, y + b), degree,
                                           alpha, beta, &c_mpi, &cond_mpi, MPI_COMM_WORLD), TG_OK);
    assert_allclose("coefficients", degree + 1, tg_data(c_mpi), tg_data(c_all), 1e-11, 1e-13);
    assert_allclose("cond", 1, &cond_mpi, &cond_all, 1e-10, 0);
    assert_true(same_everywhere(tg_data(c_mpi), degree + 1));
    /* one x value for all points: rank-deficient on every rank */
    assert_int_equal(tg_mpi_legendre_lstsq(tg_full(1, &mine, 0.25), tg_from_array(1, &mine, y + b), 3,
                                           alpha, beta, &c_mpi, &cond_mpi, MPI_COMM_WORLD), TG_ERR_NUMERIC);
    assert_null(c_mpi);
    tg_scope_end();
    free(x);
    free(y);
}

/* Whole blocks per rank: one QR tree over the ranks, the same bits as one process. */
static void test_mpi_legendre_lstsq_on_whole_blocks_is_bit_identical(void **state)
{
    (void)state;
    const int64_t n = 5 * TG_LSTSQ_BLOCK + 7, leaves = 6;
    const int degree = 11;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        x[i] = -1.0 + 2.0 * (double)((i * 7919) % 10007) / 10006.0;
        y[i] = exp(x[i]) * sin(5 * x[i]);
    }
    int64_t b = leaves * rank / size * TG_LSTSQ_BLOCK, e = leaves * (rank + 1) / size * TG_LSTSQ_BLOCK;
    if (e > n)
        e = n;
    int64_t mine = e - b;
    tg_scope_begin();
    tg_tensor *c_all, *c_mpi;
    double cond_all, cond_mpi;
    assert_int_equal(tg_legendre_lstsq(tg_from_array(1, &n, x), tg_from_array(1, &n, y), degree, 1.0, 0.0, &c_all,
                                       &cond_all), TG_OK);
    assert_int_equal(tg_mpi_legendre_lstsq(tg_from_array(1, &mine, x + b), tg_from_array(1, &mine, y + b), degree,
                                           1.0, 0.0, &c_mpi, &cond_mpi, MPI_COMM_WORLD), TG_OK);
    assert_memory_equal(tg_data(c_mpi), tg_data(c_all), (degree + 1) * sizeof(double));
    assert_memory_equal(&cond_mpi, &cond_all, sizeof cond_all);
    tg_scope_end();
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpi_sum_adds_in_rank_order_on_every_rank),
        cmocka_unit_test(test_mpi_allreduce_grads_sums_gradients_and_extras),
        cmocka_unit_test(test_mpi_rows_partition_covers_every_row_once),
        cmocka_unit_test(test_mpi_gather_concatenates_in_rank_order),
        cmocka_unit_test(test_mpi_legendre_lstsq_matches_lstsq_on_all_data),
        cmocka_unit_test(test_mpi_legendre_lstsq_on_whole_blocks_is_bit_identical),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed ? 1 : 0;
}
