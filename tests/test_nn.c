/* SPDX-License-Identifier: MIT */
/*
** nn: parameter lists (add, find, extend, ownership, zero_grad), their file
** format (round trip bit for bit, the documented bytes, and a load that
** rejects every malformed file and then changes nothing), the Linear layer
** (its initialization drawn from the default generator as the Python twin
** draws it, forward and gradients against PyTorch, gradcheck and
** gradgradcheck) and mse_loss for every reduction.  PyTorch's values come from
** tests/data/nn.txt and the twin's from tests/data/rng.txt, both written by
** tests/reference/make_nn_reference.py.  Each test checks it leaked nothing.
*/
#define _POSIX_C_SOURCE 200809L   /* mkdtemp, rmdir */
#include "support.h"
#include "core/internal.h"   /* tg__alloc_live, tg__scope_end_to: leak and scope checks */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NN "nn.txt"
#define RNG "rng.txt"

/* Tolerances: TGT_REF_* and TGT_GC_* of tests/support/support.h. */

/* --------------------------------------------------------------- helpers */

static void assert_bits_equal(const char *what, int64_t n, const double *got, const double *want)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(double)) != 0)
            fail_msg("%s[%" PRId64 "]: %.17g, expected %.17g bit for bit", what, i, got[i], want[i]);
}

/* A scratch directory for the files of one test, removed by cleanup_dir. */
static char dir[256];

static const char *path_in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static int make_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tg_test_nn_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The whole file, malloc'd; *n its size. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 16);
    assert_non_null(b);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

/* ------------------------------------------------------------- params */

static void test_params_add_count_name_get_and_find(void **state)
{
    (void)state;
    tg_params *p = tg_params_new();
    assert_non_null(p);
    tg_scope_begin();
    tg_tensor *a = tg_zeros(1, (int64_t[]){3}), *b = tg_scalar(2.0);
    assert_int_equal(tg_params_count(p), 0);
    assert_status(TG_OK, tg_params_add(p, "a", a));
    assert_status(TG_OK, tg_params_add(p, "b.c", b));
    assert_int_equal(tg_params_count(p), 2);
    assert_string_equal(tg_params_name(p, 0), "a");
    assert_string_equal(tg_params_name(p, 1), "b.c");
    assert_ptr_equal(tg_params_get(p, 1), b);
    assert_ptr_equal(tg_params_find(p, "a"), a);
    tg_clear_error();
    assert_null(tg_params_find(p, "b"));
    assert_int_equal(tg_last_status(), TG_OK);   /* absent is not an error */
    assert_null(tg_params_name(p, 2));
    assert_null(tg_params_get(p, -1));
    tg_scope_end();
    tg_params_free(p);
    tg_params_free(NULL);
}

static void test_params_add_rejects_duplicate_name_and_null_arguments(void **state)
{
    (void)state;
    tg_params *p = tg_params_new();
    tg_scope_begin();
    tg_tensor *a = tg_zeros(1, (int64_t[]){3});
    assert_status(TG_OK, tg_params_add(p, "w", a));
    assert_status(TG_ERR_ARG, tg_params_add(p, "w", tg_scalar(1.0)));
    assert_error(TG_ERR_ARG, "tg_params_add", "'w'", "already");
    assert_int_equal(tg_params_count(p), 1);
    assert_status(TG_ERR_ARG, tg_params_add(p, NULL, a));
    assert_error(TG_ERR_ARG, "tg_params_add", "name");
    assert_status(TG_ERR_ARG, tg_params_add(p, "x", NULL));
    assert_error(TG_ERR_ARG, "tg_params_add");
    assert_status(TG_ERR_ARG, tg_params_add(NULL, "x", a));
    assert_error(TG_ERR_ARG, "tg_params_add");
    assert_int_equal(tg_params_count(NULL), -1);
    assert_error(TG_ERR_ARG, "tg_params_count");
    tg_scope_end();
    tg_params_free(p);
}

static void test_params_extend_prefixes_names_and_is_all_or_nothing(void **state)
{
    (void)state;
    tg_params *p = tg_params_new(), *q = tg_params_new();
    tg_scope_begin();
    tg_tensor *w = tg_zeros(1, (int64_t[]){2}), *b = tg_scalar(0.0);
    assert_status(TG_OK, tg_params_add(q, "weight", w));
    assert_status(TG_OK, tg_params_add(q, "bias", b));
    assert_status(TG_OK, tg_params_extend(p, "layer1", q));
    assert_status(TG_OK, tg_params_extend(p, "layer2", q));
    assert_int_equal(tg_params_count(p), 4);
    assert_string_equal(tg_params_name(p, 0), "layer1.weight");
    assert_string_equal(tg_params_name(p, 3), "layer2.bias");
    assert_ptr_equal(tg_params_find(p, "layer2.weight"), w);
    /* without a prefix the names clash with nothing yet */
    assert_status(TG_OK, tg_params_extend(p, NULL, q));
    assert_int_equal(tg_params_count(p), 6);
    /* a clash on the second entry adds neither */
    tg_params *r = tg_params_new();
    assert_status(TG_OK, tg_params_add(r, "fresh", w));
    assert_status(TG_OK, tg_params_add(r, "bias", b));
    assert_status(TG_ERR_ARG, tg_params_extend(p, NULL, r));
    assert_error(TG_ERR_ARG, "tg_params_extend", "'bias'");
    assert_int_equal(tg_params_count(p), 6);
    assert_null(tg_params_find(p, "fresh"));
    /* extending a list with itself */
    assert_status(TG_OK, tg_params_extend(q, "copy", q));
    assert_int_equal(tg_params_count(q), 4);
    assert_string_equal(tg_params_name(q, 3), "copy.bias");
    assert_status(TG_ERR_ARG, tg_params_extend(q, NULL, q));
    assert_int_equal(tg_params_count(q), 4);
    tg_clear_error();
    tg_scope_end();
    tg_params_free(p);
    tg_params_free(q);
    tg_params_free(r);
}

static void test_params_keep_tensors_alive_after_their_scope_and_tg_free(void **state)
{
    (void)state;
    tg_params *p = tg_params_new();
    tg_scope_begin();
    assert_status(TG_OK, tg_params_add(p, "scoped", tg_full(1, (int64_t[]){3}, 1.5)));
    tg_scope_end();
    tg_tensor *owned = tg_full(0, NULL, 2.5);
    assert_status(TG_OK, tg_params_add(p, "owned", owned));
    tg_free(owned);
    assert_true(tg_data(tg_params_find(p, "scoped"))[2] == 1.5);
    assert_true(tg_item(tg_params_find(p, "owned")) == 2.5);
    tg_params_free(p);   /* the last references: the teardown sees every block back */
}

static void test_params_zero_grad_drops_every_gradient(void **state)
{
    (void)state;
    tg_params *p = tg_params_new();
    tg_scope_begin();
    tg_tensor *a = tgt_make(1, (int64_t[]){3}, tgt_signed0, true), *b = tgt_make(0, NULL, tgt_signed1, true);
    tg_params_add(p, "a", a);
    tg_params_add(p, "b", b);
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(a, b)), NULL));
    assert_non_null(tg_grad(a));
    assert_non_null(tg_grad(b));
    tg_params_zero_grad(p);
    assert_null(tg_grad(a));
    assert_null(tg_grad(b));
    tg_params_zero_grad(NULL);
    tg_scope_end();
    tg_params_free(p);
}

/* ------------------------------------------------------------- save / load */

/* A list of three tensors (2-d, 0-d, empty) with awkward values. */
static tg_params *sample_params(void)
{
    tg_params *p = tg_params_new();
    tg_tensor *w = tgt_make(2, (int64_t[]){2, 3}, tgt_signed0, true);
    tg_data(w)[1] = -0.0;
    tg_data(w)[2] = INFINITY;
    tg_data(w)[3] = 0x1p-1074;
    tg_tensor *s = tg_scalar(NAN), *e = tg_zeros(2, (int64_t[]){0, 4});
    assert_status(TG_OK, tg_params_add(p, "layer.weight", w));
    assert_status(TG_OK, tg_params_add(p, "s", s));
    assert_status(TG_OK, tg_params_add(p, "empty", e));
    return p;
}

/* Sets every element of every listed tensor to v. */
static void fill_params(tg_params *p, double v)
{
    for (int i = 0; i < tg_params_count(p); i++)
        for (int64_t k = 0; k < tg_numel(tg_params_get(p, i)); k++)
            tg_data(tg_params_get(p, i))[k] = v;
}

static void assert_params_filled(const tg_params *p, double v, const char *what)
{
    for (int i = 0; i < tg_params_count(p); i++)
        for (int64_t k = 0; k < tg_numel(tg_params_get(p, i)); k++)
            if (tg_data(tg_params_get(p, i))[k] != v)
                fail_msg("%s: %s[%" PRId64 "] changed to %g", what, tg_params_name(p, i), k,
                         tg_data(tg_params_get(p, i))[k]);
}

static void test_save_then_load_round_trips_bit_for_bit(void **state)
{
    (void)state;
    char path[512];
    path_in_dir(path, sizeof path, "round.tgp");
    tg_scope_begin();
    tg_params *p = sample_params(), *q = sample_params();
    fill_params(q, 7.0);
    assert_status(TG_OK, tg_params_save(p, path));
    assert_status(TG_OK, tg_params_load(q, path));
    for (int i = 0; i < 3; i++)
        assert_bits_equal(tg_params_name(p, i), tg_numel(tg_params_get(p, i)),
                          tg_data(tg_params_get(q, i)), tg_data(tg_params_get(p, i)));
    tg_scope_end();
    tg_params_free(p);
    tg_params_free(q);
    remove(path);
}

static void test_file_bytes_are_the_documented_format(void **state)
{
    (void)state;
    char path[512];
    path_in_dir(path, sizeof path, "format.tgp");
    tg_params *p = tg_params_new();
    tg_scope_begin();
    tg_params_add(p, "ab", tg_from_array(2, (int64_t[]){1, 2}, (double[]){1.0, -2.0}));
    assert_status(TG_OK, tg_params_save(p, path));
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    static const unsigned char want[] = {
        'T', 'G', 'P', 'A', 'R', 'A', 'M', 'S', 1, 0, 0, 0, 1, 0, 0, 0,   /* magic, version, count */
        2, 0, 0, 0, 'a', 'b', 2, 0, 0, 0,                                   /* name, ndim */
        1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,                     /* dims */
        0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0,            /* 1.0, -2.0 */
    };
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, sizeof want);
    free(b);
    tg_scope_end();
    tg_params_free(p);
    remove(path);
}

static void test_load_rejects_missing_name_and_wrong_shape_and_changes_nothing(void **state)
{
    (void)state;
    char path[512];
    path_in_dir(path, sizeof path, "shape.tgp");
    tg_scope_begin();
    tg_params *p = sample_params();
    assert_status(TG_OK, tg_params_save(p, path));
    tg_params *missing = sample_params();
    assert_status(TG_OK, tg_params_add(missing, "extra", tg_zeros(1, (int64_t[]){2})));
    fill_params(missing, 3.0);
    assert_status(TG_ERR_SHAPE, tg_params_load(missing, path));
    assert_error(TG_ERR_SHAPE, "tg_params_load", path, "'extra'");
    assert_params_filled(missing, 3.0, "after a missing name");

    tg_params *wrong = tg_params_new();
    tg_tensor *w = tg_full(2, (int64_t[]){3, 2}, 3.0), *s = tg_full(0, NULL, 3.0);
    assert_status(TG_OK, tg_params_add(wrong, "s", s));   /* fine, listed first */
    assert_status(TG_OK, tg_params_add(wrong, "layer.weight", w));
    assert_status(TG_ERR_SHAPE, tg_params_load(wrong, path));
    assert_error(TG_ERR_SHAPE, "tg_params_load", path, "'layer.weight'", "[2,3]", "[3,2]");
    assert_params_filled(wrong, 3.0, "after a wrong shape");
    tg_scope_end();
    tg_params_free(p);
    tg_params_free(missing);
    tg_params_free(wrong);
    remove(path);
}

static void test_load_reads_a_subset_and_ignores_unlisted_entries(void **state)
{
    (void)state;
    char path[512];
    path_in_dir(path, sizeof path, "subset.tgp");
    tg_scope_begin();
    tg_params *p = sample_params(), *q = tg_params_new();
    assert_status(TG_OK, tg_params_save(p, path));
    tg_tensor *w = tg_zeros(2, (int64_t[]){2, 3});
    assert_status(TG_OK, tg_params_add(q, "layer.weight", w));
    assert_status(TG_OK, tg_params_load(q, path));
    assert_bits_equal("layer.weight", 6, tg_data(w), tg_data(tg_params_get(p, 0)));
    tg_scope_end();
    tg_params_free(p);
    tg_params_free(q);
    remove(path);
}

static void test_load_rejects_the_file_truncated_at_every_length(void **state)
{
    (void)state;
    char path[512], cut[512];
    path_in_dir(path, sizeof path, "whole.tgp");
    path_in_dir(cut, sizeof cut, "cut.tgp");
    tg_scope_begin();
    tg_params *p = sample_params(), *q = sample_params();
    assert_status(TG_OK, tg_params_save(p, path));
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    assert_true(n > 100);
    for (size_t len = 0; len < n; len++) {
        fill_params(q, 5.0);
        write_bytes(cut, b, len);
        tg_status st = tg_params_load(q, cut);
        if (st != TG_ERR_IO || !strstr(tg_last_error(), cut))
            fail_msg("truncated to %zu of %zu bytes: %s '%s'", len, n, tg_status_str(st), tg_last_error());
        assert_params_filled(q, 5.0, "after a truncated file");
        tg_clear_error();
    }
    /* one byte too many */
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    write_bytes(cut, longer, n + 1);
    assert_status(TG_ERR_IO, tg_params_load(q, cut));
    assert_error(TG_ERR_IO, cut, "1 bytes after");
    free(longer);
    free(b);
    tg_scope_end();
    tg_params_free(p);
    tg_params_free(q);
    remove(path);
    remove(cut);
}

static void test_load_rejects_bad_magic_version_and_impossible_headers(void **state)
{
    (void)state;
    char path[512], bad[512];
    path_in_dir(path, sizeof path, "good.tgp");
    path_in_dir(bad, sizeof bad, "bad.tgp");
    tg_scope_begin();
    tg_params *p = sample_params();
    assert_status(TG_OK, tg_params_save(p, path));
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    struct { size_t at; unsigned char byte; const char *needle; } edits[] = {
        {0, 'X', "not a tensorgrad parameter file"},
        {8, 2, "version 2"},
        {12, 200, "truncated"},              /* count far beyond the entries */
        {16, 0xff, "truncated in entry 0"},  /* name length */
        {32, 9, "ndim 9"},                   /* ndim of layer.weight */
        {43, 0x7f, "impossible dimension"},  /* top byte of its first dim */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        unsigned char saved = b[edits[i].at];
        b[edits[i].at] = edits[i].byte;
        write_bytes(bad, b, n);
        b[edits[i].at] = saved;
        fill_params(p, 6.0);
        tg_status st = tg_params_load(p, bad);
        if (st != TG_ERR_IO || !strstr(tg_last_error(), bad) || !strstr(tg_last_error(), edits[i].needle))
            fail_msg("byte %zu set to %d: %s '%s', expected TG_ERR_IO naming the path and '%s'", edits[i].at,
                     edits[i].byte, tg_status_str(st), tg_last_error(), edits[i].needle);
        assert_params_filled(p, 6.0, "after a bad header");
        tg_clear_error();
    }
    /* garbage: random bytes after the magic never crash, and a failed load changes nothing */
    tg_rng r;
    tg_rng_seed(&r, 17);
    for (int trial = 0; trial < 300; trial++) {
        unsigned char g[160];
        size_t len = 8 + (size_t)tg_rng_randint(&r, 0, 150);
        memcpy(g, "TGPARAMS", 8);
        for (size_t k = 8; k < len; k++)
            g[k] = (unsigned char)tg_rng_next(&r);
        if (trial % 2)
            g[8] = 1, g[9] = g[10] = g[11] = 0;   /* a valid version, half the time */
        write_bytes(bad, g, len);
        fill_params(p, 6.0);
        if (tg_params_load(p, bad) != TG_OK)
            assert_params_filled(p, 6.0, "after garbage");
        tg_clear_error();
    }
    free(b);
    tg_scope_end();
    tg_params_free(p);
    remove(path);
    remove(bad);
}

static void test_save_and_load_report_paths_they_cannot_open(void **state)
{
    (void)state;
    char path[512];
    path_in_dir(path, sizeof path, "no/such/dir/x.tgp");
    tg_params *p = tg_params_new();
    tg_scope_begin();
    tg_params_add(p, "a", tg_scalar(1.0));
    assert_status(TG_ERR_IO, tg_params_save(p, path));
    assert_error(TG_ERR_IO, "tg_params_save", path);
    assert_status(TG_ERR_IO, tg_params_load(p, path));
    assert_error(TG_ERR_IO, "tg_params_load", path, "cannot open");
    assert_status(TG_ERR_IO, tg_params_load(p, dir));   /* a directory opens but cannot be read */
    assert_error(TG_ERR_IO, "tg_params_load", dir);
    assert_true(tg_item(tg_params_get(p, 0)) == 1.0);
    assert_status(TG_ERR_ARG, tg_params_load(p, NULL));
    assert_error(TG_ERR_ARG, "tg_params_load", "path");
    assert_status(TG_ERR_ARG, tg_params_save(NULL, path));
    assert_error(TG_ERR_ARG, "tg_params_save");
    tg_scope_end();
    tg_params_free(p);
}

/* ------------------------------------------------------------- Linear */

static void test_linear_init_draws_weight_then_bias_from_the_default_generator(void **state)
{
    (void)state;
    double want[8];
    tg_manual_seed(3);
    tg_linear *a = tg_linear_new(3, 2, true), *b = tg_linear_new(4, 1, false);
    assert_true(a && b);
    assert_int_equal(tgt_ref(RNG, "linear.a.weight", want, 8), 6);
    assert_bits_equal("a.weight", 6, tg_data(tg_linear_weight(a)), want);
    assert_int_equal(tgt_ref(RNG, "linear.a.bias", want, 8), 2);
    assert_bits_equal("a.bias", 2, tg_data(tg_linear_bias(a)), want);
    assert_int_equal(tgt_ref(RNG, "linear.b.weight", want, 8), 4);
    assert_bits_equal("b.weight", 4, tg_data(tg_linear_weight(b)), want);
    assert_null(tg_linear_bias(b));
    assert_int_equal(tg_ndim(tg_linear_weight(a)), 2);
    assert_int_equal(tg_shape(tg_linear_weight(a))[0], 2);
    assert_int_equal(tg_shape(tg_linear_weight(a))[1], 3);
    assert_true(tg_requires_grad(tg_linear_weight(a)) && tg_requires_grad(tg_linear_bias(a)));
    const tg_params *pa = tg_linear_params(a), *pb = tg_linear_params(b);
    assert_int_equal(tg_params_count(pa), 2);
    assert_string_equal(tg_params_name(pa, 0), "weight");
    assert_string_equal(tg_params_name(pa, 1), "bias");
    assert_ptr_equal(tg_params_get(pa, 1), tg_linear_bias(a));
    assert_int_equal(tg_params_count(pb), 1);
    tg_linear_free(a);
    tg_linear_free(b);
    tg_linear_free(NULL);
}

static void test_linear_init_stays_within_one_over_sqrt_in(void **state)
{
    (void)state;
    tg_manual_seed(12);
    tg_linear *m = tg_linear_new(50, 40, true);
    assert_non_null(m);
    double bound = 1.0 / sqrt(50.0), lo = 1, hi = -1;
    const double *w = tg_data(tg_linear_weight(m));
    for (int64_t i = 0; i < 2000; i++) {
        assert_true(w[i] >= -bound && w[i] < bound);
        lo = w[i] < lo ? w[i] : lo, hi = w[i] > hi ? w[i] : hi;
    }
    assert_true(lo < -0.95 * bound && hi > 0.95 * bound);   /* and fills the interval */
    for (int64_t i = 0; i < 40; i++)
        assert_true(fabs(tg_data(tg_linear_bias(m))[i]) <= bound);
    tg_linear_free(m);
}

/* Runs the nn.txt case name through m (x = in0), checking out and the gradients. */
static void check_linear_case(const char *name, tg_linear *m, tg_tensor *x)
{
    tg_params_zero_grad(tg_linear_params(m));
    tg_tensor *ins[3] = {x, tg_linear_weight(m), tg_linear_bias(m)};
    tgt_check_ref_case(NN, name, tg_linear_forward(m, x), 3, ins, TGT_REF_RTOL, TGT_REF_ATOL);
    tg_zero_grad(x);
}

static void test_linear_forward_and_gradients_match_pytorch(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_manual_seed(11);
    tg_linear *m = tg_linear_new(4, 3, true);
    tg_tensor *x = tg_randn(2, (int64_t[]){5, 4});
    assert_true(m && x);
    /* the same starting values as PyTorch's run, bit for bit */
    tg_tensor *want = tgt_ref_tensor(NN, "linear.in0");
    assert_bits_equal("x", 20, tg_data(x), tg_data(want));
    assert_bits_equal("weight", 12, tg_data(tg_linear_weight(m)), tg_data(tgt_ref_tensor(NN, "linear.in1")));
    assert_bits_equal("bias", 3, tg_data(tg_linear_bias(m)), tg_data(tgt_ref_tensor(NN, "linear.in2")));
    assert_status(TG_OK, tg_set_requires_grad(x, true));
    check_linear_case("linear", m, x);
    tg_tensor *x1 = tgt_ref_tensor(NN, "linear_1d.in0");
    assert_status(TG_OK, tg_set_requires_grad(x1, true));
    check_linear_case("linear_1d", m, x1);
    tg_linear *nb = tg_linear_new(4, 3, false);
    memcpy(tg_data(tg_linear_weight(nb)), tg_data(tg_linear_weight(m)), 12 * sizeof(double));
    check_linear_case("linear_nobias", nb, x);
    tg_scope_end();
    tg_linear_free(m);
    tg_linear_free(nb);
}

static void test_linear_forward_equals_matmul_with_transposed_weight_plus_bias(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_manual_seed(2);
    tg_linear *m = tg_linear_new(7, 5, true);
    tg_tensor *x = tg_randn(2, (int64_t[]){6, 7});
    tg_tensor *y = tg_linear_forward(m, x);
    tg_tensor *ref = tg_add(tg_matmul(x, tg_transpose(tg_linear_weight(m))), tg_linear_bias(m));
    assert_true(y && ref);
    assert_int_equal(tg_shape(y)[0], 6);
    assert_int_equal(tg_shape(y)[1], 5);
    assert_allclose("linear vs matmul + bias", 30, tg_data(y), tg_data(ref), 1e-14, 1e-15);
    tg_tensor *y1 = tg_linear_forward(m, tg_select(x, 0, 2));   /* 1-d: one row */
    assert_int_equal(tg_ndim(y1), 1);
    assert_allclose("1-d row", 5, tg_data(y1), tg_data(y) + 10, 1e-14, 1e-15);
    tg_scope_end();
    tg_linear_free(m);
}

static tg_tensor *f_linear(tg_tensor *const *in, void *user)
{
    /* in[0] is x; in[1], in[2] are the module's weight and bias, listed to be perturbed */
    return tg_tanh(tg_linear_forward(user, in[0]));
}

static void test_linear_passes_gradcheck_and_gradgradcheck(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_manual_seed(21);
    tg_linear *m = tg_linear_new(3, 2, true), *nb = tg_linear_new(3, 2, false);
    tg_tensor *x = tgt_make(2, (int64_t[]){4, 3}, tgt_signed0, true), *x1 = tgt_make(1, (int64_t[]){3}, tgt_signed1, true);
    tgt_check_grads("linear [4,3]", f_linear, 3, (tg_tensor *[]){x, tg_linear_weight(m), tg_linear_bias(m)}, m);
    tgt_check_grads("linear [3]", f_linear, 3, (tg_tensor *[]){x1, tg_linear_weight(m), tg_linear_bias(m)}, m);
    tgt_check_grads("linear without bias", f_linear, 2, (tg_tensor *[]){x, tg_linear_weight(nb)}, nb);
    tg_scope_end();
    tg_linear_free(m);
    tg_linear_free(nb);
}

static void test_linear_rejects_bad_sizes_and_input_shapes(void **state)
{
    (void)state;
    tg_scope_begin();
    assert_null(tg_linear_new(0, 3, true));
    assert_error(TG_ERR_ARG, "tg_linear_new", "in_features 0");
    assert_null(tg_linear_new(3, -1, true));
    assert_error(TG_ERR_ARG, "tg_linear_new", "out_features -1");
    tg_linear *m = tg_linear_new(3, 2, true);
    assert_null(tg_linear_forward(m, tg_zeros(2, (int64_t[]){4, 5})));
    assert_error(TG_ERR_SHAPE, "tg_linear", "[4,5]", "[2,3]");
    assert_null(tg_linear_forward(m, tg_zeros(3, (int64_t[]){1, 4, 3})));
    assert_error(TG_ERR_SHAPE, "tg_linear", "[1,4,3]");
    assert_null(tg_linear_forward(m, tg_scalar(1.0)));
    assert_error(TG_ERR_SHAPE, "tg_linear", "[]");
    assert_null(tg_linear_forward(m, NULL));
    assert_error(TG_ERR_ARG, "tg_linear_forward");
    assert_null(tg_linear_forward(NULL, tg_scalar(1.0)));
    assert_error(TG_ERR_ARG, "tg_linear_forward");
    tg_scope_end();
    tg_linear_free(m);
}

/* ------------------------------------------------------------- mse_loss */

static const char *const red_names[] = {"mean", "sum", "none"};

static void test_mse_loss_matches_pytorch_for_every_reduction(void **state)
{
    (void)state;
    char key[64];
    for (int r = 0; r < 3; r++) {
        tg_scope_begin();
        snprintf(key, sizeof key, "mse_%s", red_names[r]);
        tg_tensor *in[2] = {tgt_ref_input(NN, key, 0), tgt_ref_input(NN, key, 1)};
        tgt_check_ref_case(NN, key, tg_mse_loss(in[0], in[1], (tg_reduction)r), 2, in, TGT_REF_RTOL, TGT_REF_ATOL);
        tg_scope_end();
    }
}

static tg_tensor *f_mse(tg_tensor *const *in, void *user)
{
    return tg_mse_loss(in[0], in[1], *(tg_reduction *)user);
}

static void test_mse_loss_passes_gradcheck_and_gradgradcheck_for_every_reduction(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *pred = tgt_make(2, (int64_t[]){2, 3}, tgt_signed0, true), *target = tgt_make(1, (int64_t[]){3}, tgt_signed1, true);
    for (int r = 0; r < 3; r++) {
        tg_reduction red = (tg_reduction)r;
        tgt_check_grads(red_names[r], f_mse, 2, (tg_tensor *[]){pred, target}, &red);
    }
    tg_scope_end();
}

static void test_mse_loss_outside_a_scope_leaves_only_the_loss_to_free(void **state)
{
    (void)state;
    tg_tensor *p = tg_full(1, (int64_t[]){4}, 1.0), *t = tg_full(1, (int64_t[]){4}, 3.0);
    tg_tensor *loss = tg_mse_loss(p, t, TG_REDUCTION_SUM);
    assert_non_null(loss);
    assert_true(tg_item(loss) == 16.0);
    tg_free(loss);
    tg_free(p);
    tg_free(t);   /* the teardown: nothing else was left behind */
}

static void test_mse_loss_rejects_bad_reduction_and_shapes(void **state)
{
    (void)state;
    tg_scope_begin();
    tg_tensor *a = tg_zeros(1, (int64_t[]){3}), *b = tg_zeros(1, (int64_t[]){4});
    assert_null(tg_mse_loss(a, a, (tg_reduction)7));
    assert_error(TG_ERR_ARG, "tg_mse_loss", "reduction 7");
    assert_null(tg_mse_loss(a, b, TG_REDUCTION_MEAN));
    assert_error(TG_ERR_SHAPE, "[3]", "[4]");
    assert_null(tg_mse_loss(NULL, a, TG_REDUCTION_MEAN));
    assert_error(TG_ERR_ARG, "tg_mse_loss", "pred");
    tg_scope_end();
}

/* --------------------------------------------------------------- main */

static int remove_dir(void **state)
{
    (void)state;
    return rmdir(dir);
}

#define T(name) tgt_test(name)

int main(void)
{
    tgt_warm_scopes();
    /* and the engine's per-thread scratch, which the first (nested) backward allocates */
    tg_scope_begin();
    tg_tensor *w = tg_scalar(0.5);
    tg_set_requires_grad(w, true);
    tg_reduction red = TG_REDUCTION_SUM;
    tg_gradgradcheck(f_mse, 2, (tg_tensor *[]){w, w}, &red, TGT_GC_EPS, TGT_GGC_ATOL, TGT_GGC_RTOL);
    tg_scope_end();
    const struct CMUnitTest tests[] = {
        T(test_params_add_count_name_get_and_find),
        T(test_params_add_rejects_duplicate_name_and_null_arguments),
        T(test_params_extend_prefixes_names_and_is_all_or_nothing),
        T(test_params_keep_tensors_alive_after_their_scope_and_tg_free),
        T(test_params_zero_grad_drops_every_gradient),
        T(test_save_then_load_round_trips_bit_for_bit),
        T(test_file_bytes_are_the_documented_format),
        T(test_load_rejects_missing_name_and_wrong_shape_and_changes_nothing),
        T(test_load_reads_a_subset_and_ignores_unlisted_entries),
        T(test_load_rejects_the_file_truncated_at_every_length),
        T(test_load_rejects_bad_magic_version_and_impossible_headers),
        T(test_save_and_load_report_paths_they_cannot_open),
        T(test_linear_init_draws_weight_then_bias_from_the_default_generator),
        T(test_linear_init_stays_within_one_over_sqrt_in),
        T(test_linear_forward_and_gradients_match_pytorch),
        T(test_linear_forward_equals_matmul_with_transposed_weight_plus_bias),
        T(test_linear_passes_gradcheck_and_gradgradcheck),
        T(test_linear_rejects_bad_sizes_and_input_shapes),
        T(test_mse_loss_matches_pytorch_for_every_reduction),
        T(test_mse_loss_passes_gradcheck_and_gradgradcheck_for_every_reduction),
        T(test_mse_loss_outside_a_scope_leaves_only_the_loss_to_free),
        T(test_mse_loss_rejects_bad_reduction_and_shapes),
    };
    return cmocka_run_group_tests_name("nn", tests, make_dir, remove_dir);
}
