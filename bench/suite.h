/* SPDX-License-Identifier: MIT */
/*
** The benchmark suite (bench_suite): what its parts share.  bench_suite.c
** parses the options, runs every measurement in a fresh child process
** (suite_child.c), prints the Markdown table and writes the JSON;
** suite_tutorial.c times the tutorial step, suite_fused.c is the hand-fused
** loop (built with the compiler's best flags), suite_micro.c the kernel,
** dispatch and matmul micro-benchmarks, suite_python.c runs
** bench/pytorch_step.py.  Every measurement verifies its result before it
** times anything; a failed verification fails the whole run.
*/
#ifndef TG_BENCH_SUITE_H
#define TG_BENCH_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Set by bench/CMakeLists.txt from what include/tensorgrad.h declares. */
#ifndef TG_BENCH_HAVE_GRAPH
#define TG_BENCH_HAVE_GRAPH 0      /* tg_graph_capture / tg_graph_replay */
#endif
#ifndef TG_BENCH_HAVE_THREADS
#define TG_BENCH_HAVE_THREADS 0    /* tg_set_num_threads */
#endif

/* How long and how often to measure: best of `batches` batches, each of at
** least min_batch seconds (repetitions doubled until it is). */
typedef struct suite_timing {
    int batches;
    double min_batch;
} suite_timing;

double suite_now(void);                  /* monotonic seconds */
long suite_minor_faults(void);           /* getrusage ru_minflt of this process */
/* Resets this process's peak resident size to its current one (Linux
** clear_refs 5; harmless where unsupported) and returns the resident bytes. */
double suite_reset_peak(void);
double suite_peak_bytes(void);           /* VmHWM in bytes (0 when unknown) */

/* Runs fn(arg, result) in a forked child and copies its result (size bytes)
** back.  Returns 0 when the child returned 0; 1 otherwise, with err set when
** the child could not deliver (crash, signal) and left empty when it did:
** the result then carries the child's own message. */
typedef int (*suite_child_fn)(const void *arg, void *result);
int suite_in_child(suite_child_fn fn, const void *arg, void *result, size_t size, char *err,
                   size_t err_size);

/* ------------------------------------------------------------ tutorial */

enum suite_path {
    PATH_FUSED,          /* the hand-fused C loop: the limit */
    PATH_USER,           /* P3 as a user tg_function with forward / backward, eager */
    PATH_SPAN,           /* P3 as a user tg_function with span kernels, eager */
    PATH_BUILTIN,        /* tg_legendre(u, 3), eager */
    PATH_USER_CAPTURED,  /* the user-Function steps captured once, replayed */
    PATH_SPAN_CAPTURED,
    PATH_BUILTIN_CAPTURED,
    PATH_SPAN_KERNELS,   /* the eager span step's kernel calls alone: the library's kernels and the
                         ** user's span kernels, in the step's order, on buffers of their own, with
                         ** nothing of tensorgrad around them (what op-by-op execution cannot beat) */
    PATH_OPS,            /* P3 as a user tg_function written in tensorgrad ops with tg_scalar constants
                         ** (p3_ops_fn), eager */
    PATH_OPS_LAZY,       /* the same in lazy mode (tg_set_lazy(true) around the step) */
    PATH_SPAN_LAZY,      /* the span P3 step in lazy mode */
    PATH_BUILTIN_LAZY,   /* the tg_legendre step in lazy mode */
    PATH_SPAN_BLOCKED,   /* the span P3's kernels called from a hand-written blocked pass
                         ** (suite_span_blocked_step): the floor of the span rows */
    PATH_TORCH,          /* PyTorch eager with the tutorial's custom Function (pytorch_step.py) */
    PATH_NUMPY,          /* NumPy with gradients by hand (pytorch_step.py) */
    N_PATHS
};
extern const char *const suite_path_name[N_PATHS];

typedef struct tut_config {
    int path;
    int64_t n;
    int threads;          /* 0: the library's default */
    suite_timing timing;
    double perturb;       /* relative error added to the reference loss (tests the verification) */
} tut_config;

typedef struct tut_result {
    double seconds;       /* per step, best batch */
    double fused_seconds; /* the hand-fused loop per step, best of its batches timed in the same
                          ** process between this path's (NaN for the loop itself) */
    double loss;          /* of the first step from the initial parameters */
    double allocs;        /* heap allocations per step in steady state (NaN: not counted) */
    double faults;        /* minor page faults per step in steady state */
    double peak_bytes;    /* peak resident memory in the timed steps above the process before x, y */
    double eager_seconds; /* lazy rows: the same step in eager mode per step, best of its batches timed
                          ** in the same process between this path's (NaN for the other rows) */
    char executor[16];    /* captured rows: tg_graph_executor ("compiled", "interpreted") */
} tut_result;

/* Runs one configuration in this process: builds x and y, verifies the
** path's loss and gradients against the hand-fused loop (1e-10 relative),
** times it and counts.  Returns 0, or 1 with a message in err. */
int tut_run(const tut_config *cfg, tut_result *out, char *err, size_t err_size);
/* Whether a path can run in this build (the captured ones need the graph API). */
bool tut_path_available(int path);
/* Whether a path runs in lazy mode, and the eager path of the same step (-1: none). */
bool tut_path_lazy(int path);
int tut_eager_of(int path);

/* The hand-fused step: loss and gradients (a, b, c, d) of
** sum((a + b P3(c + d x) - y)^2) in one pass; p = {a, b, c, d}, out = {loss,
** ga, gb, gc, gd}.  threads > 1 splits the points over OpenMP threads (when
** the build has OpenMP; one thread otherwise). */
void suite_fused_step(int64_t n, const double *x, const double *y, const double p[4], int threads,
                      double out[5]);
const char *suite_fused_flags(void);     /* the flags it was compiled with */

/* The span kernels of a user P3 (tg_function's forward_span / backward_span). */
typedef void suite_span_fwd(int64_t n, const double *const *in, double *out);
typedef void suite_span_bwd(int64_t n, const double *const *in, const double *out, const double *grad_out,
                            double *const *grad_in);
/* The same step as suite_fused_step with P3 given as span kernels, written
** by hand as the best pass around two opaque calls: block by block (512
** points, 256 from 2^21 points on, as lazy plans take them), u into a block
** array, P3 by forward, the loss and the sums for a and b with P3's output
** gradient into a second array, P3' by backward, then the sums for c and d:
** only the values a call reads or writes cross memory.  In cache, the floor
** of any engine that calls the kernels without seeing inside them; past the
** caches it is not (lazy plans also prefetch the next block into L2). */
void suite_span_blocked_step(int64_t n, const double *x, const double *y, const double p[4], int threads,
                             suite_span_fwd *fwd, suite_span_bwd *bwd, double out[5]);

/* -------------------------------------------------------------- micro */

typedef struct micro_row {
    char name[64];        /* "add", "legendre P3'", "user Function apply + backward", ... */
    char table[16];       /* kernel table name, or "" */
    char unit[12];        /* "GB/s", "ns", "GFLOP/s" */
    double value;         /* in unit */
    double reference;     /* copy bandwidth of the same bytes, cblas_dgemm GFLOP/s, or NaN */
    double ratio;         /* value / reference (NaN when none) */
} micro_row;

enum { MICRO_MAX_ROWS = 96 };

typedef struct micro_config {
    int64_t n;            /* elements per kernel call */
    int matmul_n;         /* square matmul size */
    suite_timing timing;
} micro_config;

/* Each kernel of the active table and of the reference (every runnable table
** first verified bit for bit against the reference), the copy bandwidth, the
** dispatch cost and matmul against cblas_dgemm, all on one thread.  Returns
** rows written, or -1 with a message in err. */
int micro_run(const micro_config *cfg, micro_row *rows, int max_rows, char *err, size_t err_size);

/* ------------------------------------------------------------- python */

typedef struct py_row {
    int path;             /* PATH_TORCH or PATH_NUMPY */
    int64_t n;
    int threads;
    tut_result r;
} py_row;

typedef struct py_info {
    bool available;
    char versions[96];    /* "torch 1.13.0, numpy 1.24.2" or why not available */
} py_info;

/* Runs `python script --json ...` for the sizes at the given thread count and
** reads its rows.  Returns the number of rows (0 when PyTorch / NumPy are not
** importable: info says why), or -1 on failure (the script's own
** verification included) with a message in err. */
int py_run(const char *python, const char *script, const int64_t *sizes, int n_sizes, int threads,
           const suite_timing *timing, py_row *rows, int max_rows, py_info *info, char *err,
           size_t err_size);

#endif /* TG_BENCH_SUITE_H */
