/* SPDX-License-Identifier: MIT */
/*
** Data files: .npy read / write / mmap and CSV reading.  Interoperability with
** NumPy in both directions goes through fixtures written by
** tests/reference/make_io_reference.py into tests/data/io/ (values in
** io/expected.txt): the readers must give NumPy's values, and tg_save_npy must
** write the bytes numpy.save writes.  Every malformed file is TG_ERR_IO naming
** the path, with nothing leaked (tg__alloc_live; the suite also runs under
** ASan/LSan).
*/
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include "core/internal.h"   /* tg__alloc_live, tg__alloc_fail_at: leak and OOM checks */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPECTED "io/expected.txt"

static char tmp_dir[256];

/* ---------------------------------------------------------------- helpers */

static const char *fixture(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/io/%s", TG_TEST_DATA, name);
    return path;
}

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_non_null(b);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    assert_int_equal(*n, (size_t)len);
    return b;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The last call failed with status want and a message holding path and each
** of the other strings (NULL-terminated list). */
static void assert_failed(tg_status want, const char *path, ...)
{
    const char *msg = tg_last_error();
    if (tg_last_status() != want)
        fail_msg("status %s, expected %s: %s", tg_status_str(tg_last_status()),
                 tg_status_str(want), msg);
    if (path && !strstr(msg, path))
        fail_msg("message '%s' does not name %s", msg, path);
    va_list ap;
    va_start(ap, path);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, s)) {
            va_end(ap);
            fail_msg("message '%s' does not say '%s'", msg, s);
        }
    va_end(ap);
    tg_clear_error();
}

static void assert_same_tensor(const char *what, tg_tensor *a, tg_tensor *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(tg_ndim(a), tg_ndim(b));
    for (int i = 0; i < tg_ndim(a); i++)
        assert_int_equal(tg_shape(a)[i], tg_shape(b)[i]);
    if (memcmp(tg_data(a), tg_data(b), (size_t)tg_numel(a) * sizeof(double)) != 0)
        fail_msg("%s: data differs bit for bit", what);
}

/* Blocks held, the storage pool's cache emptied first. */
static int64_t live_blocks(void)
{
    tg_release_memory();
    return tg__alloc_live();
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tg_test_io_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *names[] = {"t.npy", "u.npy", "cut.npy", "bad.npy", "big.csv", "x.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(tmp_path(names[i]));
    return rmdir(tmp_dir);
}

/* ------------------------------------------------------------ npy: writing */

static void test_npy_round_trip_is_bit_exact(void **state)
{
    (void)state;
    uint64_t bits[8] = {0x7ff8000000000123u, 0x8000000000000000u, 1u, 0x7ff0000000000000u,
                        0x3fb999999999999au, 0xfff0000000000000u, 0x000fffffffffffffu,
                        0xc00921fb54442d18u};
    double data[24];
    for (int i = 0; i < 24; i++)
        memcpy(&data[i], &bits[i % 8], sizeof(double));
    int64_t shapes[][TG_MAX_DIMS] = {{0}, {5}, {2, 3, 4}, {0}, {2, 0, 3}, {1, 2, 1, 3, 1, 2, 1, 2}};
    int ndims[] = {0, 1, 3, 1, 3, 8};
    int64_t live = live_blocks();
    for (int c = 0; c < 6; c++) {
        tg_tensor *t = tg_from_array(ndims[c], shapes[c], data);
        assert_status(TG_OK, tg_save_npy(t, tmp_path("t.npy")));
        tg_tensor *back = tg_load_npy(tmp_path("t.npy")), *mapped = tg_mmap_npy(tmp_path("t.npy"));
        assert_same_tensor("load", t, back);
        assert_same_tensor("mmap", t, mapped);
        tg_free(t);
        tg_free(back);
        tg_free(mapped);
    }
    assert_int_equal(live_blocks(), live);
}

static void test_npy_save_writes_numpys_bytes(void **state)
{
    (void)state;
    static const char *keys[] = {"save_0d", "save_1d", "save_2d", "save_3d", "save_8d",
                                 "save_empty_1d", "save_empty_3d", "save_big_dims"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.npy", keys[i]);
        tg_tensor *t = tgt_ref_tensor(EXPECTED, keys[i]);
        assert_status(TG_OK, tg_save_npy(t, tmp_path("t.npy")));
        size_t n_ours, n_numpy;
        unsigned char *ours = read_bytes(tmp_path("t.npy"), &n_ours);
        unsigned char *numpy = read_bytes(fixture(name), &n_numpy);
        if (n_ours != n_numpy || memcmp(ours, numpy, n_ours) != 0)
            fail_msg("%s: tg_save_npy wrote %zu bytes unlike numpy.save's %zu: '%.*s'", keys[i],
                     n_ours, n_numpy, (int)(n_ours < 128 ? n_ours : 128), (const char *)ours);
        free(ours);
        free(numpy);
        tg_free(t);
    }
}

static void test_npy_save_reports_the_path_and_reason(void **state)
{
    (void)state;
    tg_tensor *t = tg_zeros(1, (int64_t[]){3});
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/t.npy", tmp_dir);
    assert_status(TG_ERR_IO, tg_save_npy(t, path));
    assert_failed(TG_ERR_IO, path, "tg_save_npy", "No such file or directory", NULL);
    if (access("/dev/full", W_OK) == 0) {
        tg_tensor *big = tg_zeros(1, (int64_t[]){100000});
        assert_status(TG_ERR_IO, tg_save_npy(big, "/dev/full"));
        assert_failed(TG_ERR_IO, "/dev/full", "No space left on device", NULL);
        assert_int_equal(access("/dev/full", F_OK), 0);   /* not a regular file: not removed */
        tg_free(big);
    }
    assert_status(TG_ERR_ARG, tg_save_npy(NULL, tmp_path("t.npy")));
    assert_failed(TG_ERR_ARG, "tg_save_npy", NULL);
    assert_status(TG_ERR_ARG, tg_save_npy(t, NULL));
    assert_failed(TG_ERR_ARG, "tg_save_npy", "path", NULL);
    tg_free(t);
}

/* ------------------------------------------------------------ npy: reading */

static void check_fixture(const char *key)
{
    char name[64];
    snprintf(name, sizeof name, "%s.npy", key);
    tg_tensor *t = tg_load_npy(fixture(name));
    if (!t)
        fail_msg("%s: %s", key, tg_last_error());
    tgt_assert_tensor_close(key, t, EXPECTED, key, 0.0, 0.0);
    tg_free(t);
}

static void test_npy_reads_every_numeric_dtype_numpy_writes(void **state)
{
    (void)state;
    static const char *keys[] = {
        "float_f8", "float_f4", "float_f2", "float_f8_be", "float_f4_be", "float_f2_special",
        "float_f8_special", "int_i8", "int_i4", "int_i2", "int_i1", "int_i4_be", "uint_u8",
        "uint_u4", "uint_u2", "uint_u1", "uint_u2_be", "limits_i8", "limits_i4", "limits_i2",
        "limits_i1", "limits_u8", "limits_u4", "limits_u2", "limits_u1", "bool"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        check_fixture(keys[i]);
}

static void test_npy_reads_versions_1_2_and_3(void **state)
{
    (void)state;
    check_fixture("version_1");
    check_fixture("version_2");
    check_fixture("version_3");
}

static void test_npy_transposes_fortran_order(void **state)
{
    (void)state;
    check_fixture("fortran_f8");
    check_fixture("fortran_f4");
    check_fixture("fortran_1d");
    check_fixture("fortran_i2_be");
}

static void test_npy_refuses_non_numeric_dtypes(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"bad_complex.npy", "'<c16' is not supported"}, {"bad_object.npy", "'|O' is not supported"},
        {"bad_structured.npy", "structured dtype"},     {"bad_unicode.npy", "'<U3'"},
        {"bad_bytes.npy", "'|S3'"},                     {"bad_datetime.npy", "'<M8[D]'"},
        {"bad_longdouble.npy", "'<f16' is not supported"},
        {"bad_9d.npy", "more than 8 dimensions"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = fixture(cases[i][0]);
        assert_null(tg_load_npy(path));
        assert_failed(TG_ERR_IO, path, "tg_load_npy", cases[i][1], NULL);
        assert_null(tg_mmap_npy(path));
        assert_failed(TG_ERR_IO, path, "tg_mmap_npy", NULL);
    }
}

/* Every proper prefix of a valid file is refused cleanly, by both readers. */
static void truncate_everywhere(const char *name)
{
    size_t n;
    unsigned char *whole = read_bytes(fixture(name), &n);
    const char *cut = tmp_path("cut.npy");
    int64_t live = live_blocks();
    for (size_t len = 0; len < n; len++) {
        write_bytes(cut, whole, len);
        assert_null(tg_load_npy(cut));
        assert_failed(TG_ERR_IO, cut, "tg_load_npy", NULL);
        assert_null(tg_mmap_npy(cut));
        assert_failed(TG_ERR_IO, cut, "tg_mmap_npy", NULL);
    }
    assert_int_equal(live_blocks(), live);
    write_bytes(cut, whole, n);
    tg_tensor *t = tg_load_npy(cut);
    assert_non_null(t);
    tg_free(t);
    free(whole);
}

static void test_npy_truncated_at_every_length_is_refused(void **state)
{
    (void)state;
    truncate_everywhere("float_f8.npy");
    truncate_everywhere("version_2.npy");
    truncate_everywhere("version_3.npy");
    truncate_everywhere("fortran_f4.npy");
    truncate_everywhere("save_0d.npy");
    truncate_everywhere("int_i1.npy");
}

/* A file of `version` with header text dict (padded as numpy pads) and
** data_bytes zero bytes of data. */
static void write_npy(const char *path, int major, int minor, const char *dict, size_t data_bytes)
{
    unsigned char buf[1024] = {0};
    size_t prefix = major >= 2 ? 12 : 10, hlen = strlen(dict) + 1;
    size_t total = prefix + hlen;
    total += (64 - total % 64) % 64;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    for (size_t i = 0; i < prefix - 8; i++)
        buf[8 + i] = (unsigned char)((total - prefix) >> (8 * i));
    memset(buf + prefix, ' ', total - prefix);
    memcpy(buf + prefix, dict, strlen(dict));
    buf[total - 1] = '\n';
    assert_true(total + data_bytes <= sizeof buf);
    write_bytes(path, buf, total + data_bytes);
}

static void test_npy_corrupt_header_fields_are_refused(void **state)
{
    (void)state;
    static const struct {
        int major, minor;
        const char *dict;
        size_t data;
        const char *says;
    } cases[] = {
        {4, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, "version 4.0"},
        {1, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, "version 1.1"},
        {0, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, "version 0.0"},
        {1, 0, "'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, "expected '{'"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, }", 8, "no 'shape'"},
        {1, 0, "{'descr': '<f8', 'shape': (1,), }", 8, "no 'fortran_order'"},
        {1, 0, "{'fortran_order': False, 'shape': (1,), }", 8, "no 'descr'"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", 8, "unknown key"},
        {1, 0, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", 8,
         "duplicate key"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", 8, "negative"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': 3, }", 8, "not a tuple"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1), }", 8, "trailing comma"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1 2), }", 8, "expected ','"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (x,), }", 8, "expected a dimension"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8,
         "overflows"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }",
         8, "too many elements"},
        {1, 0, "{'descr': '<f3', 'fortran_order': False, 'shape': (1,), }", 8, "'<f3'"},
        {1, 0, "{'descr': '<x8', 'fortran_order': False, 'shape': (1,), }", 8, "'<x8'"},
        {1, 0, "{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }", 8, "'|f8'"},
        {1, 0, "{'descr': 'f8', 'fortran_order': False, 'shape': (1,), }", 8, "'f8'"},
        {1, 0, "{'descr': '<f8, 'fortran_order': False, 'shape': (1,), }", 8, "dtype '<f8, '"},
        {1, 0, "{'descr' '<f8', 'fortran_order': False, 'shape': (1,), }", 8, "expected ':'"},
        {1, 0, "{'descr': <f8, 'fortran_order': False, 'shape': (1,), }", 8, "quoted 'descr'"},
        {1, 0, "{'descr': '<f8', 'fortran_order': 1, 'shape': (1,), }", 8, "'fortran_order'"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x", 8, "after the header"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False 'shape': (1,), }", 8, "expected ','"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 8, "truncated"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 9, "1 unexpected bytes"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\xe9", 8, "non-ASCII"},
        {1, 0, "", 0, "expected '{'"},
    };
    const char *path = tmp_path("bad.npy");
    int64_t live = live_blocks();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_npy(path, cases[i].major, cases[i].minor, cases[i].dict, cases[i].data);
        assert_null(tg_load_npy(path));
        assert_failed(TG_ERR_IO, path, "tg_load_npy", cases[i].says, NULL);
        assert_null(tg_mmap_npy(path));
        assert_failed(TG_ERR_IO, path, "tg_mmap_npy", cases[i].says, NULL);
    }
    assert_int_equal(live_blocks(), live);
}

static void test_npy_corrupt_prefix_is_refused(void **state)
{
    (void)state;
    size_t n;
    unsigned char *b = read_bytes(fixture("float_f8.npy"), &n);
    const char *path = tmp_path("bad.npy");
    b[3] = 'X';
    write_bytes(path, b, n);
    assert_null(tg_load_npy(path));
    assert_failed(TG_ERR_IO, path, "bad magic", NULL);
    b[3] = 'M';
    b[8] = 0xff, b[9] = 0xff;   /* header length past the end of the file */
    write_bytes(path, b, n);
    assert_null(tg_load_npy(path));
    assert_failed(TG_ERR_IO, path, "header length (byte 8) says 65535", NULL);
    free(b);
    assert_null(tg_load_npy(tmp_dir));
    assert_failed(TG_ERR_IO, tmp_dir, "Is a directory", NULL);
    assert_null(tg_load_npy(fixture("no_such.npy")));
    assert_failed(TG_ERR_IO, "no_such.npy", "No such file or directory", NULL);
    assert_null(tg_load_npy(NULL));
    assert_failed(TG_ERR_ARG, "tg_load_npy", NULL);
    assert_null(tg_mmap_npy(NULL));
    assert_failed(TG_ERR_ARG, "tg_mmap_npy", NULL);
}

static void test_npy_load_survives_every_allocation_failure(void **state)
{
    (void)state;
    static const char *names[] = {"fortran_f8.npy", "float_f8.npy", "quotes.csv"};
    for (size_t k = 0; k < 3; k++) {
        const char *path = fixture(names[k]);
        int64_t live = live_blocks();
        for (int64_t n = 1;; n++) {
            tg__alloc_fail_at(n, false);
            tg_tensor *t = k < 2 ? tg_load_npy(path)
                                 : tg_load_csv(path, 2, (const char *[]){"y", "x"}, NULL);
            bool failed = tg__alloc_failures() > 0;
            tg__alloc_fail_at(0, false);
            if (!failed) {
                assert_non_null(t);
                tg_free(t);
                break;
            }
            assert_null(t);
            assert_failed(TG_ERR_NOMEM, NULL, NULL);
            assert_int_equal(live_blocks(), live);
        }
    }
}

/* ------------------------------------------------------------ npy: mmap */

/* True when /proc/self/maps lists path (false without /proc). */
static bool is_mapped(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, path) != NULL;
    fclose(f);
    return found;
}

static void test_npy_mmap_maps_privately_and_unmaps_on_free(void **state)
{
    (void)state;
    const char *path = tmp_path("u.npy");
    tg_tensor *src = tgt_ref_tensor(EXPECTED, "save_3d");
    assert_status(TG_OK, tg_save_npy(src, path));
    size_t n0, n1;
    unsigned char *before = read_bytes(path, &n0);
    bool have_proc = access("/proc/self/maps", R_OK) == 0;

    tg_tensor *m = tg_mmap_npy(path);
    assert_same_tensor("mmap", src, m);
    if (have_proc)
        assert_true(is_mapped(path));
    tg_data(m)[0] = 42.0;                       /* copy-on-write: private */
    tg_tensor *view = tg_reshape(m, 2, (int64_t[]){6, 4});
    assert_true(tg_data(view)[0] == 42.0);
    tg_free(m);                                 /* the view keeps the mapping */
    assert_true(tg_data(view)[23] == tg_data(src)[23]);
    tg_tensor *sum = tg_sum(view);
    assert_non_null(sum);
    tg_free(sum);
    tg_free(view);
    if (have_proc)
        assert_false(is_mapped(path));

    unsigned char *after = read_bytes(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);     /* the write never reached the file */
    tg_scope_begin();
    assert_non_null(tg_mmap_npy(path));
    tg_scope_end();                             /* a scope frees (unmaps) it too */
    if (have_proc)
        assert_false(is_mapped(path));
    free(before);
    free(after);
    tg_free(src);
}

static void test_npy_mmap_refuses_what_needs_converting(void **state)
{
    (void)state;
    static const char *cases[][2] = {{"float_f4.npy", "'<f4'"},
                                     {"float_f8_be.npy", "'>f8'"},
                                     {"int_i8.npy", "'<i8'"},
                                     {"fortran_f8.npy", "Fortran order"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = fixture(cases[i][0]);
        assert_null(tg_mmap_npy(path));
        assert_failed(TG_ERR_IO, path, "tg_mmap_npy", cases[i][1], "use tg_load_npy", NULL);
    }
    tg_tensor *f1 = tg_mmap_npy(fixture("fortran_1d.npy"));   /* 1-d: both orders agree */
    assert_non_null(f1);
    tgt_assert_tensor_close("fortran_1d", f1, EXPECTED, "fortran_1d", 0.0, 0.0);
    tg_free(f1);
    assert_null(tg_mmap_npy(tmp_dir));
    assert_failed(TG_ERR_IO, tmp_dir, "not a regular file", NULL);
    assert_null(tg_mmap_npy(fixture("no_such.npy")));
    assert_failed(TG_ERR_IO, "no_such.npy", "No such file or directory", NULL);
}

/* ------------------------------------------------------------------ CSV */

static void check_csv(const char *name, char delim, bool header, int n, const char *const *cols)
{
    char file[64], key[128];
    snprintf(file, sizeof file, "%s.csv", name);
    int used = snprintf(key, sizeof key, "%s", name);
    for (int k = 0; k < n; k++)
        used += snprintf(key + used, sizeof key - (size_t)used, ".%s", cols[k]);
    tg_csv_opts o = tg_csv_defaults();
    o.delimiter = delim;
    o.header = header;
    tg_tensor *t = tg_load_csv(fixture(file), n, cols, &o);
    if (!t)
        fail_msg("%s: %s", key, tg_last_error());
    tgt_assert_tensor_close(key, t, EXPECTED, key, 0.0, 0.0);
    tg_free(t);
}

static void test_csv_reads_chosen_columns_by_name(void **state)
{
    (void)state;
    /* quoted commas, doubled quotes and a line end inside quotes, spaces and
    ** tabs around numbers, nan / inf, no final line end */
    check_csv("quotes", ',', true, 3, (const char *[]){"y", "x", "id"});
    tg_tensor *t = tg_load_csv(fixture("quotes.csv"), 1, (const char *[]){"label, quoted"}, NULL);
    assert_null(t);   /* a text column is not numbers */
    assert_failed(TG_ERR_IO, "quotes.csv:2:3", "cannot read 'a, \"b\", c' as a number", NULL);
}

static void test_csv_handles_crlf_blank_lines_and_quoted_numbers(void **state)
{
    (void)state;
    check_csv("crlf", ';', true, 2, (const char *[]){"c", "a"});
    check_csv("bom_cr", ',', true, 2, (const char *[]){"y", "x"});
}

static void test_csv_reads_columns_by_index_without_header(void **state)
{
    (void)state;
    check_csv("noheader", '\t', false, 4, (const char *[]){"2", "0", "1", "0"});
}

static void test_csv_header_without_rows_gives_zero_rows(void **state)
{
    (void)state;
    check_csv("header_only", ',', true, 2, (const char *[]){"z", "x"});
}

static void test_csv_errors_give_file_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *file, *col, *where, *says;
        bool header;
    } cases[] = {
        {"bad_cell.csv", "y", "bad_cell.csv:3:2:", "column 'y': cannot read 'abc' as a number", true},
        {"empty_cell.csv", "y", "empty_cell.csv:3:2:", "empty cell", true},
        {"ragged_short.csv", "x", "ragged_short.csv:3:3:", "row has 2 fields, expected 3", true},
        {"ragged_long.csv", "x", "ragged_long.csv:4:4:", "row has 4 fields, expected 3", true},
        {"unterminated.csv", "x", "unterminated.csv:3:2:", "quoted field never closed", true},
        {"after_quote.csv", "x", "after_quote.csv:2:2:", "after a closing quote", true},
        {"empty.csv", "x", "empty.csv:1:", "empty file", true},
        {"blank_lines.csv", "0", "blank_lines.csv:4:", "empty file", false},
        {"quotes.csv", "w", "quotes.csv:1:", "no column 'w'; the header has 'id', 'x', "
                                             "'label, quoted', 'y'", true},
        {"noheader.csv", "3", "noheader.csv:1:", "index 3 is out of range: the first row has 3",
         false},
        {"noheader.csv", "x", "noheader.csv:1:", "'x' is not a 0-based index", false},
        {"noheader.csv", "-1", "noheader.csv:1:", "'-1' is not a 0-based index", false},
        {"no_such.csv", "x", "no_such.csv", "No such file or directory", true},
    };
    int64_t live = live_blocks();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tg_csv_opts o = {.delimiter = strstr(cases[i].file, "noheader") ? '\t' : ',',
                         .header = cases[i].header};
        assert_null(tg_load_csv(fixture(cases[i].file), 1, &cases[i].col, &o));
        assert_failed(TG_ERR_IO, fixture(cases[i].file), "tg_load_csv", cases[i].where,
                      cases[i].says, NULL);
    }
    assert_int_equal(live_blocks(), live);
}

static void test_csv_rejects_bad_arguments(void **state)
{
    (void)state;
    const char *cols[] = {"x", NULL};
    const char *path = fixture("crlf.csv");
    assert_null(tg_load_csv(path, 0, cols, NULL));
    assert_failed(TG_ERR_ARG, "tg_load_csv", "n_cols is 0", NULL);
    assert_null(tg_load_csv(path, 1, NULL, NULL));
    assert_failed(TG_ERR_ARG, "tg_load_csv", "columns", NULL);
    assert_null(tg_load_csv(path, 2, cols, NULL));
    assert_failed(TG_ERR_ARG, "tg_load_csv", "columns[1] is NULL", NULL);
    assert_null(tg_load_csv(NULL, 1, cols, NULL));
    assert_failed(TG_ERR_ARG, "tg_load_csv", "path", NULL);
    tg_csv_opts o = {.delimiter = '"', .header = true};
    assert_null(tg_load_csv(path, 1, cols, &o));
    assert_failed(TG_ERR_ARG, "tg_load_csv", "delimiter", NULL);
}

/* Many rows written here: every value back, with and without a final line end. */
static void test_csv_reads_many_rows(void **state)
{
    (void)state;
    const char *path = tmp_path("big.csv");
    int64_t rows = 200000;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("i,half,skip,short\n", f);
    for (int64_t i = 0; i < rows; i++)
        fprintf(f, "%lld,%.17g,\"text, %lld\",%.*e%s", (long long)i, (double)i * 0.5 + 1e-3,
                (long long)i, (int)(i % 19), ((double)i - 1e5) * 1.2345678901234567e-3,
                i + 1 < rows ? "\n" : "");
    fclose(f);
    tg_tensor *t = tg_load_csv(path, 3, (const char *[]){"half", "i", "short"}, NULL);
    if (!t)
        fail_msg("%s", tg_last_error());
    assert_int_equal(tg_shape(t)[0], rows);
    assert_int_equal(tg_shape(t)[1], 3);
    const double *d = tg_data(t);
    for (int64_t i = 0; i < rows; i++) {
        /* decimals of 1 to 19 digits: the fast path must agree with strtod */
        char cell[64];
        snprintf(cell, sizeof cell, "%.*e", (int)(i % 19), ((double)i - 1e5) * 1.2345678901234567e-3);
        double want = strtod(cell, NULL);
        if (d[3 * i] != (double)i * 0.5 + 1e-3 || d[3 * i + 1] != (double)i ||
            memcmp(&d[3 * i + 2], &want, sizeof want) != 0)
            fail_msg("row %lld: %.17g %.17g %.17g ('%s')", (long long)i, d[3 * i], d[3 * i + 1],
                     d[3 * i + 2], cell);
    }
    tg_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_round_trip_is_bit_exact),
        cmocka_unit_test(test_npy_save_writes_numpys_bytes),
        cmocka_unit_test(test_npy_save_reports_the_path_and_reason),
        cmocka_unit_test(test_npy_reads_every_numeric_dtype_numpy_writes),
        cmocka_unit_test(test_npy_reads_versions_1_2_and_3),
        cmocka_unit_test(test_npy_transposes_fortran_order),
        cmocka_unit_test(test_npy_refuses_non_numeric_dtypes),
        cmocka_unit_test(test_npy_truncated_at_every_length_is_refused),
        cmocka_unit_test(test_npy_corrupt_header_fields_are_refused),
        cmocka_unit_test(test_npy_corrupt_prefix_is_refused),
        cmocka_unit_test(test_npy_load_survives_every_allocation_failure),
        cmocka_unit_test(test_npy_mmap_maps_privately_and_unmaps_on_free),
        cmocka_unit_test(test_npy_mmap_refuses_what_needs_converting),
        cmocka_unit_test(test_csv_reads_chosen_columns_by_name),
        cmocka_unit_test(test_csv_handles_crlf_blank_lines_and_quoted_numbers),
        cmocka_unit_test(test_csv_reads_columns_by_index_without_header),
        cmocka_unit_test(test_csv_header_without_rows_gives_zero_rows),
        cmocka_unit_test(test_csv_errors_give_file_line_and_column),
        cmocka_unit_test(test_csv_rejects_bad_arguments),
        cmocka_unit_test(test_csv_reads_many_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
