/* SPDX-License-Identifier: MIT */
/*
** Threads: error state, gradient mode, anomaly mode and scopes are per
** thread, and independent graphs train concurrently with results identical
** to a sequential run, bit for bit.  Run under ThreadSanitizer by .ci/run.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <pthread.h>
#include <string.h>

#define N_THREADS 4
#define STEPS 200

typedef struct job {
    int id;
    double params[4];
    tg_status status;
    tg_status error_seen;     /* the status this thread saw after its own failure */
    bool grad_mode_after;
} job;

/* The tutorial fit from a starting point that depends on the job, with the
** P3 and loss written differently per job so threads share no code path state. */
static tg_status fit(job *j)
{
    tg_scope_begin();
    tg_tensor *x = tg_linspace(-3.0, 3.0, 500 + 100 * j->id), *y = tg_sin(x), *p[4];
    const double init[4] = {0.0, -1.0, 0.0, 0.3 + 0.01 * j->id};
    for (int i = 0; i < 4; i++) {
        p[i] = tg_scalar(init[i]);
        tg_set_requires_grad(p[i], true);
    }
    tg_status st = TG_OK;
    for (int t = 0; t < STEPS && st == TG_OK; t++) {
        tg_scope_begin();
        tg_tensor *pred = tg_add(p[0], tg_mul(p[1], tg_legendre(tg_add(p[2], tg_mul(p[3], x)), 3)));
        tg_tensor *loss = j->id % 2 ? tg_mse_loss(pred, y, TG_REDUCTION_SUM)
                                    : tg_sum(tg_pow(tg_sub(pred, y), 2.0));
        st = loss ? tg_backward(loss, NULL) : tg_last_status();
        for (int i = 0; i < 4 && st == TG_OK; i++) {
            tg_data(p[i])[0] -= 1e-5 * tg_item(tg_grad(p[i]));
            tg_zero_grad(p[i]);
        }
        tg_scope_end();
    }
    for (int i = 0; i < 4; i++)
        j->params[i] = tg_item(p[i]);
    tg_scope_end();
    return st;
}

static void *run_job(void *arg)
{
    job *j = arg;
    tg_clear_error();
    tg_set_grad_enabled(j->id != 3);   /* per-thread mode: thread 3 turns it off... */
    tg_set_grad_enabled(true);         /* ...and back on; others must never see it off */
    j->status = fit(j);
    tg_scope_begin();
    tg_matmul(tg_zeros(1, (int64_t[]){2}), tg_zeros(1, (int64_t[]){3}));   /* an error of its own */
    j->error_seen = tg_last_status();
    tg_scope_end();
    j->grad_mode_after = tg_is_grad_enabled();
    return NULL;
}

static void test_independent_graphs_train_concurrently_bit_identical(void **state)
{
    (void)state;
    job seq[N_THREADS], par[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        seq[i] = (job){.id = i};
        par[i] = (job){.id = i};
        run_job(&seq[i]);
    }
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &par[i]), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < N_THREADS; i++) {
        assert_int_equal(par[i].status, TG_OK);
        assert_int_equal(par[i].error_seen, TG_ERR_SHAPE);
        assert_true(par[i].grad_mode_after);
        assert_memory_equal(par[i].params, seq[i].params, sizeof seq[i].params);
    }
    assert_true(memcmp(par[0].params, par[1].params, sizeof par[0].params) != 0);
}

static void *fail_then_report(void *arg)
{
    tg_status *out = arg;
    tg_clear_error();
    *out = tg_last_status();   /* the main thread's error is not ours */
    return NULL;
}

static void test_error_state_is_per_thread(void **state)
{
    (void)state;
    tg_clear_error();
    tg_item(NULL);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    tg_status seen = TG_ERR_IO;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fail_then_report, &seen), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(seen, TG_OK);
    assert_int_equal(tg_last_status(), TG_ERR_ARG);
    tg_clear_error();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_graphs_train_concurrently_bit_identical),
        cmocka_unit_test(test_error_state_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
