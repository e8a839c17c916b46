/* SPDX-License-Identifier: MIT */
/*
** Test glue shared by every test executable: tgt_allclose and the reader of the
** reference data in tests/data/.  A data file is read whole on first use, split
** into keys and parsed doubles, and kept in a process-wide list (freed at exit)
** so that the many look-ups of a test cost one parse per file.
*/
#define _XOPEN_SOURCE 700   /* setenv, nftw, mkdtemp, strdup */
#include "support.h"
#include "core/internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#ifndef TG_TEST_DATA
#error "TG_TEST_DATA must name the tests/data directory (tests/CMakeLists.txt defines it)"
#endif

/* ------------------------------------------------------ sanitizer defaults */

/* Under AddressSanitizer: LeakSanitizer's guess at a dynamic-TLS block (its
** __tls_get_addr interceptor, a heuristic written for glibc 2.19) can record
** a nonsense range on this glibc, and its pointer scan then faults at exit
** (google/sanitizers issues 1322 and 914).  The compiled passes are dlopen'ed,
** which is what makes the interceptor run: test_graph_span faulted that way
** now and then.  No tensorgrad pointer lives in dynamic TLS, so not
** intercepting it loses no leak report.  ASAN_OPTIONS still overrides. */
#if defined(__SANITIZE_ADDRESS__)
#define TGT_ASAN_DEFAULTS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TGT_ASAN_DEFAULTS 1
#endif
#endif
#ifdef TGT_ASAN_DEFAULTS
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "intercept_tls_get_addr=0"; }
#endif

/* ------------------------------------------------------------------ allclose */

static bool close_enough(double actual, double expected, double rtol, double atol)
{
    if (isnan(actual) || isnan(expected)) return isnan(actual) && isnan(expected);
    if (actual == expected) return true;                    /* equal infinities */
    return fabs(actual - expected) <= atol + rtol * fabs(expected);
}

bool tgt_allclose(const char *what, int64_t n, const double *actual, const double *expected,
                  double rtol, double atol)
{
    if (n > 0 && (!actual || !expected)) {
        print_error("%s: %s array is NULL\n", what, actual ? "expected" : "actual");
        return false;
    }
    int64_t first = -1, failed = 0;
    for (int64_t i = 0; i < n; i++) {
        if (close_enough(actual[i], expected[i], rtol, atol)) continue;
        if (first < 0) first = i;
        failed++;
    }
    if (failed == 0) return true;
    double a = actual[first], e = expected[first], err = fabs(a - e);
    print_error("%s: %" PRId64 " of %" PRId64 " values differ; first at [%" PRId64 "]: "
                "actual %.17g expected %.17g, abs err %.3g rel err %.3g (rtol %g atol %g)\n",
                what, failed, n, first, a, e, err, e != 0 ? err / fabs(e) : INFINITY, rtol, atol);
    return false;
}

/* ------------------------------------------------------------ reference data */

typedef struct ref_entry {
    const char *key;       /* points into ref_file.text */
    int64_t off, n;        /* values are ref_file.values[off .. off + n) */
} ref_entry;

typedef struct ref_file {
    struct ref_file *next;
    char *name;            /* as passed to tgt_ref */
    char *text;            /* the file, keys NUL-terminated in place */
    ref_entry *entries;
    int64_t n_entries;
    double *values;
} ref_file;

static ref_file *cache;    /* reachable until freed at exit */

static void free_file(ref_file *f)
{
    if (!f) return;
    free(f->name);
    free(f->text);
    free(f->entries);
    free(f->values);
    free(f);
}

static void free_cache(void)
{
    while (cache) {
        ref_file *next = cache->next;
        free_file(cache);
        cache = next;
    }
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, fp);
        if (len < cap - 1) break;
        char *grown = realloc(buf, cap *= 2);
        if (!grown) free(buf);
        buf = grown;
    }
    if (buf && ferror(fp)) { free(buf); buf = NULL; }
    fclose(fp);
    if (buf) buf[len] = '\0';
    return buf;
}

static bool push(void **array, int64_t *cap, int64_t n, size_t size)
{
    if (n < *cap) return true;
    int64_t grown = *cap ? 2 * *cap : 256;
    void *p = realloc(*array, (size_t)grown * size);
    if (!p) return false;
    *array = p;
    *cap = grown;
    return true;
}

static const ref_entry *find_entry(const ref_file *f, const char *key)
{
    for (int64_t i = 0; i < f->n_entries; i++)
        if (strcmp(f->entries[i].key, key) == 0) return &f->entries[i];
    return NULL;
}

/* Splits one line, already NUL-terminated, into a key and its values. */
static bool parse_line(ref_file *f, char *line, int64_t *entry_cap, int64_t *value_cap,
                       int64_t *n_values, char *err, size_t err_size)
{
    line += strspn(line, " \t\r");
    if (*line == '\0' || *line == '#') return true;
    char *end = line + strcspn(line, " \t\r");
    char *rest = *end ? end + 1 : end;
    *end = '\0';
    if (find_entry(f, line)) {
        snprintf(err, err_size, "duplicate key '%s'", line);
        return false;
    }
    if (!push((void **)&f->entries, entry_cap, f->n_entries, sizeof *f->entries)) goto nomem;
    ref_entry *e = &f->entries[f->n_entries++];
    *e = (ref_entry){ .key = line, .off = *n_values, .n = 0 };
    for (;;) {
        rest += strspn(rest, " \t\r");
        if (*rest == '\0') return true;
        char *stop;
        double v = strtod(rest, &stop);
        if (stop == rest || (*stop && !strchr(" \t\r", *stop))) {
            snprintf(err, err_size, "key '%s': bad value '%.20s'", e->key, rest);
            return false;
        }
        if (!push((void **)&f->values, value_cap, *n_values, sizeof *f->values)) goto nomem;
        f->values[(*n_values)++] = v;
        e->n++;
        rest = stop;
    }
nomem:
    snprintf(err, err_size, "out of memory");
    return false;
}

/* Parses TG_TEST_DATA/name; NULL with a message in err on failure. */
static ref_file *load_file(const char *name, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", TG_TEST_DATA, name);
    ref_file *f = calloc(1, sizeof *f);
    if (!f || !(f->name = malloc(strlen(name) + 1))) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    strcpy(f->name, name);
    if (!(f->text = read_text(path))) {
        snprintf(err, err_size, "cannot read %s", path);
        goto fail;
    }
    int64_t entry_cap = 0, value_cap = 0, n_values = 0;
    for (char *line = f->text; line; ) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (!parse_line(f, line, &entry_cap, &value_cap, &n_values, err, err_size)) goto fail;
        line = nl ? nl + 1 : NULL;
    }
    return f;
fail:
    free_file(f);
    return NULL;
}

static const ref_file *get_file(const char *name)
{
    for (ref_file *f = cache; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    static bool registered;
    if (!registered) registered = atexit(free_cache) == 0;
    char err[4096 + 256];
    ref_file *f = load_file(name, err, sizeof err);
    if (!f) {
        fail_msg("reference data %s: %s", name, err);
        return NULL;
    }
    f->next = cache;
    cache = f;
    return f;
}

static const double *entry_values(const ref_file *f, const ref_entry *e)
{
    return f->values ? f->values + e->off : NULL;
}

/* The entry of key in file, or NULL after failing the test. */
static const ref_entry *lookup(const char *file, const char *key, const ref_file **f)
{
    *f = get_file(file);
    const ref_entry *e = *f ? find_entry(*f, key) : NULL;
    if (*f && !e) fail_msg("reference data %s: no key '%s'", file, key);
    return e;
}

int64_t tgt_ref(const char *file, const char *key, double *out, int64_t cap)
{
    const ref_file *f;
    const ref_entry *e = lookup(file, key, &f);
    if (!e) return 0;
    for (int64_t i = 0; i < e->n && i < cap; i++) out[i] = entry_values(f, e)[i];
    return e->n;
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* Reads key.shape into shape and returns its ndim; -1 when the file has no
** such line, -2 after failing the test on a malformed one. */
static int ref_shape(const ref_file *f, const char *file, const char *key, int64_t *shape)
{
    char shape_key[512];
    if ((size_t)snprintf(shape_key, sizeof shape_key, "%s.shape", key) >= sizeof shape_key) {
        fail_msg("reference data %s: key '%s' is too long", file, key);
        return -2;
    }
    const ref_entry *s = find_entry(f, shape_key);
    if (!s) return -1;
    if (s->n > TG_MAX_DIMS) {
        fail_msg("reference data %s: '%s' has %" PRId64 " dims", file, shape_key, s->n);
        return -2;
    }
    for (int64_t i = 0; i < s->n; i++) {
        double d = entry_values(f, s)[i];
        if (!(d >= 0 && d == floor(d) && d < 9e15)) {
            fail_msg("reference data %s: '%s' has size %g", file, shape_key, d);
            return -2;
        }
        shape[i] = (int64_t)d;
    }
    return (int)s->n;
}

tg_tensor *tgt_ref_tensor(const char *file, const char *key)
{
    const ref_file *f;
    const ref_entry *e = lookup(file, key, &f);
    if (!e) return NULL;
    int64_t shape[TG_MAX_DIMS] = { e->n }, numel = 1;
    int ndim = ref_shape(f, file, key, shape);
    if (ndim == -2) return NULL;
    if (ndim == -1) ndim = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    if (numel != e->n) {
        fail_msg("reference data %s: '%s' holds %" PRId64 " values but its shape %" PRId64,
                 file, key, e->n, numel);
        return NULL;
    }
    tg_tensor *t = tg_from_array(ndim, shape, entry_values(f, e));
    if (!t) fail_msg("tgt_ref_tensor(%s, %s): %s", file, key, tg_last_error());
    return t;
}

void tgt_assert_tensor_close(const char *what, tg_tensor *actual, const char *file, const char *key,
                             double rtol, double atol)
{
    if (!actual) {
        fail_msg("%s: tensor is NULL: %s", what, tg_last_error());
        return;
    }
    const ref_file *f;
    const ref_entry *e = lookup(file, key, &f);
    int64_t shape[TG_MAX_DIMS];
    int ndim = e ? ref_shape(f, file, key, shape) : -2;
    if (ndim == -2) return;
    int actual_ndim = tg_ndim(actual);
    const int64_t *actual_shape = tg_shape(actual);
    bool same = ndim < 0 ? tg_numel(actual) == e->n : ndim == actual_ndim;
    for (int i = 0; same && ndim >= 0 && i < ndim; i++) same = shape[i] == actual_shape[i];
    if (!same) {
        char want[160], got[160];
        if (ndim >= 0) format_shape(want, sizeof want, ndim, shape);
        else snprintf(want, sizeof want, "%" PRId64 " elements", e->n);
        format_shape(got, sizeof got, actual_ndim, actual_shape);
        fail_msg("%s: shape %s, expected %s (%s: %s)", what, got, want, file, key);
        return;
    }
    assert_allclose(what, e->n, tg_data(actual), entry_values(f, e), rtol, atol);
}

/* ------------------------------------------------------- PyTorch cases */

tg_tensor *tgt_ref_input(const char *file, const char *name, int i)
{
    char key[160];
    snprintf(key, sizeof key, "%s.in%d", name, i);
    tg_tensor *t = tgt_ref_tensor(file, key);
    assert_status(TG_OK, tg_set_requires_grad(t, true));
    return t;
}

void tgt_check_ref_case(const char *file, const char *name, tg_tensor *out, int n_inputs,
                        tg_tensor *const *inputs, double rtol, double atol)
{
    char key[160];
    snprintf(key, sizeof key, "%s.out", name);
    tgt_assert_tensor_close(key, out, file, key, rtol, atol);
    snprintf(key, sizeof key, "%s.w", name);
    tg_tensor *w = tg_reshape(tgt_ref_tensor(file, key), tg_ndim(out), tg_shape(out));
    if (!w)
        fail_msg("%s: %s", key, tg_last_error());
    assert_status(TG_OK, tg_backward(tg_sum(tg_mul(out, w)), NULL));
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i])
            continue;
        tg_tensor *g = tg_grad(inputs[i]);
        snprintf(key, sizeof key, "%s.grad%d", name, i);
        if (!g)
            fail_msg("%s: no gradient", key);
        assert_int_equal(tg_ndim(g), tg_ndim(inputs[i]));
        for (int d = 0; d < tg_ndim(g); d++)
            assert_int_equal(tg_shape(g)[d], tg_shape(inputs[i])[d]);
        tgt_assert_tensor_close(key, g, file, key, rtol, atol);
    }
}

double tgt_signed0(int64_t k) { return sin(1.0 + 0.7 * (double)k); }
double tgt_signed1(int64_t k) { return cos(0.5 + 1.3 * (double)k); }
double tgt_positive0(int64_t k) { return 1.5 + tgt_signed0(k); }

tg_tensor *tgt_make(int ndim, const int64_t *shape, double (*gen)(int64_t), bool grad)
{
    tg_tensor *t = tg_zeros(ndim, shape);
    if (!t)
        fail_msg("tg_zeros: %s", tg_last_error());
    for (int64_t k = 0; k < tg_numel(t); k++)
        tg_data(t)[k] = gen(k);
    if (grad)
        assert_status(TG_OK, tg_set_requires_grad(t, true));
    return t;
}

/* ------------------------------------------------------ errors and leaks */

void tgt_check_error(tg_status want, const char *const *needles)
{
    if (tg_last_status() != want)
        fail_msg("recorded %s, expected %s: '%s'", tg_status_str(tg_last_status()), tg_status_str(want),
                 tg_last_error());
    for (; *needles; needles++)
        if (!strstr(tg_last_error(), *needles))
            fail_msg("message '%s' does not mention '%s'", tg_last_error(), *needles);
    tg_clear_error();
}

static int64_t live_at_start;

int tgt_record_live(void **state)
{
    (void)state;
    tg_clear_error();
    tg_release_memory();   /* the caches keep freed blocks: count without them */
    live_at_start = tg__alloc_live();
    return 0;
}

int tgt_check_live(void **state)
{
    (void)state;
    int depth = tg__scope_depth();
    tg__scope_end_to(0);
    tg_set_grad_enabled(true);
    tg_release_memory();
    int64_t live = tg__alloc_live();
    if (depth == 0 && live != live_at_start) {
        print_error("the test left %lld blocks live (%lld before it, %lld after)\n",
                    (long long)(live - live_at_start), (long long)live_at_start, (long long)live);
        return -1;
    }
    return 0;
}

void tgt_warm_scopes(void)
{
    for (int d = 0; d < 128; d++) {
        tg_scope_begin();
        tg_scalar(0.0);
    }
    tg__scope_end_to(0);
}

double tgt_uniform(uint64_t *state, double lo, double hi)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return lo + (hi - lo) * ((double)(z >> 11) * 0x1p-53);
}

void tgt_expect_replay_thread_invariant(tg_tensor *(*loss_fn)(void *), void *user, const tg_params *params,
                                        tg_tensor *const *p, int np)
{
    enum { MAX_P = 8, MAX_EL = 64, STEPS = 3 };
    double start[MAX_P][MAX_EL], want[STEPS][1 + MAX_P * MAX_EL];
    int threads_before = tg_get_num_threads();
    assert_true(np <= MAX_P);
    tg_set_num_threads(3);
    tg_graph *g = tg_graph_capture(loss_fn, user, params, 1e-7);
    if (!g)
        fail_msg("capture failed: %s", tg_last_error());
    for (int i = 0; i < np; i++) {
        assert_true(tg_numel(p[i]) <= MAX_EL);
        memcpy(start[i], tg_data(p[i]), (size_t)tg_numel(p[i]) * sizeof(double));
    }
    for (int threads = 1; threads <= 3; threads++) {
        tg_set_num_threads(threads);
        for (int i = 0; i < np; i++)
            memcpy(tg_data(p[i]), start[i], (size_t)tg_numel(p[i]) * sizeof(double));
        for (int t = 0; t < STEPS; t++) {
            double got[1 + MAX_P * MAX_EL];
            int m = 1;
            assert_int_equal(TG_OK, tg_graph_replay(g, &got[0]));
            for (int i = 0; i < np; i++)
                for (int64_t j = 0; j < tg_numel(p[i]); j++)
                    got[m++] = tg_data(p[i])[j];
            if (threads == 1)
                memcpy(want[t], got, (size_t)m * sizeof(double));
            else
                for (int k = 0; k < m; k++)
                    if (memcmp(&got[k], &want[t][k], sizeof(double)) != 0)
                        fail_msg("replay %d at %d threads: %s %.17g, at 1 thread %.17g", t, threads,
                                 k == 0 ? "loss" : "parameter", got[k], want[t][k]);
        }
    }
    for (int i = 0; i < np; i++)
        memcpy(tg_data(p[i]), start[i], (size_t)tg_numel(p[i]) * sizeof(double));
    tg_graph_free(g);
    tg_set_num_threads(threads_before);
}

void tgt_each_executor(void (*case_fn)(int kind), const int *kinds, int n)
{
    const char *e = getenv("TG_GRAPH_INTERPRET");
    char was[64] = "";
    if (e)
        snprintf(was, sizeof was, "%s", e);
    for (int interp = 0; interp < 2; interp++) {
        if (interp)
            setenv("TG_GRAPH_INTERPRET", "1", 1);
        for (int k = 0; k < n; k++)
            case_fn(kinds[k]);
    }
    if (e)
        setenv("TG_GRAPH_INTERPRET", was, 1);
    else
        unsetenv("TG_GRAPH_INTERPRET");
}

void tgt_check_grads(const char *what, tg_fn f, int n, tg_tensor *const *in, void *user)
{
    tgt_check_grads_scaled(what, f, n, in, user, 1.0);
}

void tgt_check_grads_scaled(const char *what, tg_fn f, int n, tg_tensor *const *in, void *user, double scale)
{
    tg_status st = tg_gradcheck(f, n, in, user, TGT_GC_EPS, TGT_GC_ATOL * scale, TGT_GC_RTOL);
    if (st != TG_OK)
        fail_msg("%s: tg_gradcheck gave %s: %s", what, tg_status_str(st), tg_last_error());
    st = tg_gradgradcheck(f, n, in, user, TGT_GC_EPS, TGT_GGC_ATOL * scale, TGT_GGC_RTOL);
    if (st != TG_OK)
        fail_msg("%s: tg_gradgradcheck gave %s: %s", what, tg_status_str(st), tg_last_error());
}

void tgt_run_ref_case(void **state)
{
    const tgt_ref_case *c = *state;
    tg_tensor *in[TG_MAX_FN_ARITY], *check[TG_MAX_FN_ARITY];
    assert_true(c->n_inputs <= TG_MAX_FN_ARITY);
    double args[4];
    memcpy(args, c->args, sizeof args);
    if (c->n_file_args > 0) {
        char key[160];
        snprintf(key, sizeof key, "%s.args", c->name);
        assert_int_equal(tgt_ref(c->file, key, args, 4), c->n_file_args);
    }
    tg_scope_begin();
    for (int i = 0; i < c->n_inputs; i++) {
        in[i] = tgt_ref_input(c->file, c->name, i);
        check[i] = c->no_grad >> i & 1u ? NULL : in[i];
    }
    tgt_check_ref_case(c->file, c->name, c->fn(in, args), c->n_inputs, check, TGT_REF_RTOL,
                       TGT_REF_ATOL);
    tg_scope_end();
}

void tgt_ref_tests(size_t n, const tgt_ref_case *cases, struct CMUnitTest *tests, tgt_test_name *names)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s_matches_pytorch", cases[i].name);
        tests[i] = (struct CMUnitTest){.name = names[i], .test_func = tgt_run_ref_case,
                                       .setup_func = tgt_record_live, .teardown_func = tgt_check_live,
                                       .initial_state = (void *)&cases[i]};
    }
}

/* forward: y = (5x^3 - 3x) / 2  =>  dx = dy * 1.5 (5x^2 - 1), in raw loops */
tg_status tgt_p3_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_tensor *x = in[0];
    if (!(out[0] = tg_zeros(tg_ndim(x), tg_shape(x))))
        return tg_last_status();
    const double *xd = tg_data(x);
    double *yd = tg_data(out[0]);
    for (int64_t i = 0; i < tg_numel(x); i++)
        yd[i] = 0.5 * (5 * xd[i] * xd[i] * xd[i] - 3 * xd[i]);
    return tg_save_for_backward(ctx, 1, in);
}

tg_status tgt_p3_backward_raw(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    if (!x || !(gin[0] = tg_zeros(tg_ndim(x), tg_shape(x))))
        return tg_last_status();
    const double *xd = tg_data(x), *gd = tg_data(g[0]);
    double *dx = tg_data(gin[0]);
    for (int64_t i = 0; i < tg_numel(x); i++)
        dx[i] = gd[i] * 1.5 * (5 * xd[i] * xd[i] - 1);
    return TG_OK;
}

tg_status tgt_p3_backward_ops(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    gin[0] = tg_mul(g[0], tg_affine(tg_mul(x, x), 7.5, -1.5));
    return gin[0] ? TG_OK : tg_last_status();
}

const tg_function tgt_p3_raw = {.name = "P3raw", .n_inputs = 1, .n_outputs = 1,
                                .forward = tgt_p3_forward, .backward = tgt_p3_backward_raw};

/* out = (5x^3 - 3x) / 2 */
static void p3_span_forward(int64_t n, const double *const *in, double *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = 0.5 * (5 * in[0][i] * in[0][i] * in[0][i] - 3 * in[0][i]);
}

/* forward: y = (5x^3 - 3x) / 2  =>  dx = dy * 1.5 (5x^2 - 1) */
static void p3_span_backward(int64_t n, const double *const *in, const double *out, const double *g,
                             double *const *gin)
{
    (void)out;
    for (int64_t i = 0; i < n; i++)
        gin[0][i] = g[i] * 1.5 * (5 * in[0][i] * in[0][i] - 1);
}

const tg_function tgt_p3_span = {.name = "P3span", .n_inputs = 1, .n_outputs = 1,
                                 .forward_span = p3_span_forward, .backward_span = p3_span_backward};

static void scaled_forward(int64_t n, const double *const *in, double *out)
{
    for (int64_t j = 0; j < n; j++)
        out[j] = in[0][j] * in[1][j];
}

static void scaled_backward(int64_t n, const double *const *in, const double *out, const double *g,
                            double *const *gin)
{
    (void)out;
    for (int64_t j = 0; j < n; j++) {
        if (gin[0])
            gin[0][j] = g[j] * in[1][j];
        if (gin[1])
            gin[1][j] = g[j] * in[0][j];
    }
}

const tg_function tgt_scaled_span = {.name = "scaled", .n_inputs = 2, .n_outputs = 1,
                                     .forward_span = scaled_forward, .backward_span = scaled_backward};

/* ------------------------------------------------ a private kernel cache */

static int n_kernels;
static int count_kernel(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    size_t n = strlen(path);
    n_kernels += type == FTW_F && n > 3 && strcmp(path + n - 3, ".so") == 0;
    return 0;
}
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

void tgt_private_cache_begin(tgt_cache *c)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/tg-test-cache-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    const char *old = getenv("XDG_CACHE_HOME");
    c->old = old ? strdup(old) : NULL;
    assert_true(!old || c->old);
    assert_int_equal(setenv("XDG_CACHE_HOME", c->dir, 1), 0);
}

int tgt_kernels_in(const tgt_cache *c)
{
    n_kernels = 0;
    nftw(c->dir, count_kernel, 8, FTW_PHYS);
    return n_kernels;
}

void tgt_private_cache_end(tgt_cache *c)
{
    nftw(c->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (c->old)
        setenv("XDG_CACHE_HOME", c->old, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    free(c->old);
    c->old = NULL;
}
