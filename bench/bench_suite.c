/* SPDX-License-Identifier: MIT */
/*
** bench_suite: tensorgrad's benchmark suite in one run (tools/bench builds a
** Release tree and runs it).  It measures
**   the tutorial step  y = a + b * P3(c + d x), sum of squares, backward and
**       update, at N = 2,000, 100,000 and 10,000,000: P3 as a user Function
**       (raw loops, span kernels, or tensorgrad ops with tg_scalar constants)
**       and as the built-in tg_legendre, eager, lazy (tg_set_lazy) and
**       captured (when the build has tg_graph_capture), the hand-fused C loop of the same step (the
**       limit), and PyTorch and NumPy (bench/pytorch_step.py, when python3
**       imports torch and numpy); 1 and 2 threads at the largest N when the
**       library has tg_set_num_threads
**   micro-benchmarks   every kernel of the active and the reference kernel
**       table against memcpy of the same bytes, the dispatch cost of a user
**       Function, tg_matmul against cblas_dgemm
** Every configuration runs in a fresh child process (peak memory and page
** faults are its own) and verifies its answer before it is timed: the eager
** and captured steps against the hand-fused loop (1e-10 relative), PyTorch's
** loss against the same, the fast kernel tables bit for bit against the
** reference.  Times are the best of several batches and are compared as
** ratios within the run.  A failed check exits 1.
**
** usage: bench_suite [--quick] [--json FILE] [--no-python] [--python EXE]
**                    [--script PATH] [--perturb REL]
*/
#define _POSIX_C_SOURCE 200809L
#include "suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suite_report.h"

#ifndef TG_BENCH_PYTHON_SCRIPT
#define TG_BENCH_PYTHON_SCRIPT "bench/pytorch_step.py"
#endif

typedef struct options {
    bool quick, python;
    const char *json, *python_exe, *script;
    double perturb;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_suite [--quick] [--json FILE] [--no-python] [--python EXE] [--script PATH]\n"
            "                   [--perturb REL]\n"
            "  --quick        small sizes, short batches, no PyTorch (CI smoke run, well under 30 s)\n"
            "  --json FILE    also write the results as JSON to FILE\n"
            "  --no-python    skip the PyTorch and NumPy rows (--python EXE runs them with EXE,\n"
            "                 default /usr/bin/python3, also in --quick)\n"
            "  --script PATH  bench/pytorch_step.py (default: the source tree's)\n"
            "  --perturb REL  test the verification: the reference loss is off by REL, so every\n"
            "                 row must fail and the run exit 1\n");
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.python = true, .python_exe = "/usr/bin/python3", .script = TG_BENCH_PYTHON_SCRIPT};
    bool python_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            o->quick = true;
        else if (strcmp(a, "--no-python") == 0)
            o->python = false;
        else if (strcmp(a, "--json") == 0 && next)
            o->json = argv[++i];
        else if (strcmp(a, "--python") == 0 && next)
            o->python_exe = argv[++i], python_given = true;
        else if (strcmp(a, "--script") == 0 && next)
            o->script = argv[++i];
        else if (strcmp(a, "--perturb") == 0 && next)
            o->perturb = strtod(argv[++i], NULL);
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout), 1;
        else
            return usage(stderr), 2;
    }
    if (o->quick && !python_given)
        o->python = false;
    return 0;
}

/* ------------------------------------------------------------ tutorial */

static int tut_child(const void *arg, void *result)
{
    const tut_config *cfg = arg;
    suite_row *row = result;
    return tut_run(cfg, &row->r, row->error, sizeof row->error);
}

/* One configuration in a fresh process; a failure is reported and kept. */
static int run_config(suite_report *rep, int path, int64_t n, int threads, const options *o)
{
    suite_row *row = report_add(rep, path, n, threads);
    if (!row)
        return 1;
    if (!tut_path_available(path)) {
        row->state = ROW_SKIPPED;
        return 0;
    }
    tut_config cfg = {.path = path, .n = n, .threads = threads, .timing = rep->timing, .perturb = o->perturb};
    char err[256];
    fprintf(stderr, "  %-32s N = %-9lld threads %d ...", suite_path_name[path], (long long)n, threads);
    if (suite_in_child(tut_child, &cfg, row, sizeof *row, err, sizeof err) != 0) {
        if (err[0])
            snprintf(row->error, sizeof row->error, "%s", err);
        row->state = ROW_FAILED;
        fprintf(stderr, " FAILED\nbench_suite: %s\n", row->error);
        return 1;
    }
    row->state = ROW_OK;
    if (isnan(row->r.eager_seconds))
        fprintf(stderr, " %.3g s/step\n", row->r.seconds);
    else
        fprintf(stderr, " %.3g s/step (eager %.3g)\n", row->r.seconds, row->r.eager_seconds);
    return 0;
}

/* Every path at every size, the 2-thread rows at the largest; and the eager
** span step at N = 1, which is its dispatch alone: with its kernel calls
** alone at N = 2,000 (a path of its own, one thread) it bounds what the eager
** step can cost op by op.  The ops and span steps at N = 1, eager and lazy,
** are issue 14's dispatch rows (lazy no slower than eager). */
static int run_tutorial(suite_report *rep, const int64_t *sizes, int n_sizes, const options *o)
{
    static const int paths[] = {PATH_FUSED,        PATH_USER,          PATH_SPAN,
                                PATH_BUILTIN,      PATH_OPS,           PATH_OPS_LAZY,
                                PATH_SPAN_LAZY,    PATH_BUILTIN_LAZY,  PATH_USER_CAPTURED,
                                PATH_SPAN_CAPTURED, PATH_BUILTIN_CAPTURED, PATH_SPAN_KERNELS,
                                PATH_SPAN_BLOCKED};
    static const int dispatch[] = {PATH_SPAN, PATH_SPAN_LAZY, PATH_OPS, PATH_OPS_LAZY};
    int one = TG_BENCH_HAVE_THREADS ? 1 : 0, bad = 0;
    for (size_t p = 0; p < sizeof dispatch / sizeof dispatch[0]; p++)
        bad |= run_config(rep, dispatch[p], 1, one, o);
    for (int s = 0; s < n_sizes; s++) {
        bool two = TG_BENCH_HAVE_THREADS && s == n_sizes - 1 && sizes[s] >= 1000000;
        for (int threads = 1; threads <= (two ? 2 : 1); threads++)
            for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
                if (paths[p] != PATH_SPAN_KERNELS || threads == 1)
                    bad |= run_config(rep, paths[p], sizes[s], TG_BENCH_HAVE_THREADS ? threads : 0, o);
    }
    return bad;
}

/* ------------------------------------------------------------- python */

/* PyTorch / NumPy rows; their loss must match the hand-fused loop's. */
static int run_python(suite_report *rep, const int64_t *sizes, int n_sizes, const options *o)
{
    py_row rows[32];
    char err[256];
    int bad = 0;
    if (!o->python || access(o->python_exe, X_OK) != 0) {
        snprintf(rep->python, sizeof rep->python, "%s", o->python ? "no /usr/bin/python3" : "not run");
        return 0;
    }
    bool two = TG_BENCH_HAVE_THREADS && sizes[n_sizes - 1] >= 1000000;
    for (int threads = 1; threads <= (two ? 2 : 1); threads++) {
        int cnt = threads == 1 ? n_sizes : 1;
        const int64_t *sz = threads == 1 ? sizes : sizes + n_sizes - 1;
        fprintf(stderr, "  PyTorch and NumPy, %d thread(s) ...\n", threads);
        py_info info;
        int m = py_run(o->python_exe, o->script, sz, cnt, threads, &rep->timing, rows, 32, &info, err,
                       sizeof err);
        snprintf(rep->python, sizeof rep->python, "%s", info.versions);
        if (m < 0) {
            fprintf(stderr, "bench_suite: %s: %s\n", o->script, err);
            return 1;
        }
        for (int i = 0; i < m; i++)
            bad |= report_add_python(rep, &rows[i]);
        if (!info.available)
            break;
    }
    return bad;
}

/* -------------------------------------------------------------- micro */

typedef struct micro_result {
    int n_rows;
    char error[256];
    micro_row rows[MICRO_MAX_ROWS];
} micro_result;

static int micro_child(const void *arg, void *result)
{
    micro_result *r = result;
    r->n_rows = micro_run(arg, r->rows, MICRO_MAX_ROWS, r->error, sizeof r->error);
    return r->n_rows < 0;
}

static int run_micro(suite_report *rep, const options *o)
{
    static micro_result r;
    micro_config cfg = {.n = o->quick ? 1 << 14 : 1 << 20, .matmul_n = o->quick ? 128 : 512,
                        .timing = rep->timing};
    char err[256];
    fprintf(stderr, "  micro-benchmarks ...\n");
    if (suite_in_child(micro_child, &cfg, &r, sizeof r, err, sizeof err) != 0) {
        fprintf(stderr, "bench_suite: micro-benchmarks: %s\n", err[0] ? err : r.error);
        return 1;
    }
    rep->micro = r.rows;
    rep->n_micro = r.n_rows;
    rep->micro_n = cfg.n;
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    static const int64_t full[] = {2000, 100000, 10000000}, quick[] = {2000, 20000};
    const int64_t *sizes = o.quick ? quick : full;
    int n_sizes = o.quick ? 2 : 3;
    static suite_report rep;
    report_init(&rep, o.quick ? (suite_timing){3, 0.01} : (suite_timing){5, 0.1});
    fprintf(stderr, "bench_suite%s: the tutorial step\n", o.quick ? " --quick" : "");
    int bad = run_tutorial(&rep, sizes, n_sizes, &o);
    bad |= run_python(&rep, sizes, n_sizes, &o);
    bad |= run_micro(&rep, &o);
    report_finish(&rep);
    report_print(&rep, stdout);
    if (o.json && report_write_json(&rep, o.json) != 0) {
        fprintf(stderr, "bench_suite: cannot write %s\n", o.json);
        bad = 1;
    }
    if (bad)
        fprintf(stderr, "bench_suite: FAILED: a check did not pass (see above)\n");
    return bad ? 1 : 0;
}
