/* SPDX-License-Identifier: MIT */
/*
** tgfit: the polynomial-fitting command built on tensorgrad (a program, not
** part of the library).  Shared declarations of its files:
**   main.c      options, the run from data to outputs
**   fail.c      the one error line (tgfit_fail, tgfit_error)
**   data.c      CSV / .npy reading, this rank's slice, the finiteness check
**   fit.c       the models, the loss, the training loop, least squares
**   report.c    the summary on stdout, the JSON file
**   plot.c      the SVG plot
**   progress.c  the progress bar or lines on stderr, SIGINT
**   eval.c      `tgfit eval`: a saved JSON fit on new points
**   tree.c      the fixed reduction tree of the sums over points
**   par.c       the parallel layer: tensorgrad_mpi when built with MPI and
**               started by an MPI launcher, one process otherwise
*/
#ifndef TGFIT_H
#define TGFIT_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <tensorgrad.h>

/* ---------------------------------------------------------------- fail.c
** Every failure is recorded once, with tgfit_fail, and printed once by main
** as "tgfit: <message>". */
/* Failure returns: TGFIT_FAIL when every rank fails alike (rank 0 prints),
** TGFIT_FAIL_HERE when only this rank failed and prints, TGFIT_FAIL_QUIET
** when another rank prints.  tgfit_fail records and returns TGFIT_FAIL. */
enum { TGFIT_FAIL = -1, TGFIT_FAIL_QUIET = -2, TGFIT_FAIL_HERE = -3 };
int tgfit_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
const char *tgfit_error(void);
double tgfit_now(void);                     /* monotonic seconds (progress.c) */

typedef enum model_kind { MODEL_LEGENDRE, MODEL_P3 } model_kind;
typedef enum optim_kind { OPT_ADAM, OPT_SGD, OPT_LBFGS, OPT_LSTSQ } optim_kind;

typedef struct options {
    const char *data, *xcol, *ycol, *wcol, *out, *plot;   /* wcol NULL: unweighted */
    model_kind model;
    optim_kind optimizer;
    int degree;                 /* -1 when not given */
    int64_t steps, batch;       /* batch 0: all points every step */
    double lr;                  /* 0: the optimizer's default */
    uint64_t seed;
    bool no_lstsq;              /* skip the least-squares reference (huge data) */
    bool quiet;                 /* no progress and no summary */
    double tol;                 /* > 0: stop when the loss improves by less (relative) over TOL_PATIENCE steps */
} options;

const char *model_name(model_kind m);
const char *optim_name(optim_kind o);

/* ---------------------------------------------------------------- par.c */
typedef struct par { int rank, size; bool mpi; } par;
int  par_init(int *argc, char ***argv, par *p);
void par_finalize(const par *p);
void par_rows(const par *p, int64_t n, int64_t *begin, int64_t *end);
int  par_sum(const par *p, double *buf, int64_t n);
int  par_grads(const par *p, const tg_params *params, double *extra, int64_t n_extra);
int  par_minmax(const par *p, double *lo, double *hi);
int  par_gather(const par *p, const double *mine, int64_t n_mine, double **all, int64_t *n_all);
/* Collective: true when some rank failed; *report is true on the lowest failing rank only. */
bool par_failed(const par *p, bool failed_here, bool *report);
/* Points per leaf of the gradient and loss sums (a multiple of TG_LSTSQ_BLOCK): large
** enough that a step over 10^7 points is a few dozen kernel calls, not thousands. */
#define TGFIT_BLOCK (256 * TG_LSTSQ_BLOCK)
/* Collective least squares over every rank's pts (pts->first = its first row):
** one tree, so *res is the same on every rank and for any rank count. -1
** with tg_last_error on failure. */
int  par_lstsq(const par *p, const tg_points *pts, int degree, double alpha, double beta,
               const tg_lstsq_opts *opts, tg_lstsq_result *res);
/* Every rank's mine concatenated in rank order, on every rank (malloc'd). */
int  par_allgather(const par *p, const double *mine, int64_t n_mine, double **all, int64_t *n_all);

/* -------------------------------------------------------------- tree.c
** Sums of per-block vectors in one fixed binary tree over the global block
** index, whatever the ranks and threads: push each of this rank's blocks in
** increasing order, then sumtree_total (collective) gives every rank the same
** bits. */
typedef struct sumtree sumtree;
sumtree *sumtree_new(int m);
void sumtree_free(sumtree *t);
int  sumtree_push(sumtree *t, int64_t leaf, const double *v);
int  sumtree_total(const par *p, sumtree *t, double *out);

/* --------------------------------------------------------------- data.c */
typedef struct dataset {
    int64_t n_total;            /* points in the file */
    int64_t begin, n;           /* this rank's rows [begin, begin + n) */
    const double *x, *y, *w;    /* this rank's first point, `stride` doubles apart; w NULL: weights 1 */
    int64_t stride;
    tg_tensor *table;           /* owned: the CSV table or a converted .npy (x, y, w point into it) */
    tg_npy_view view, view_y;   /* owned: read-only mappings of float64 .npy files (view_y: --y Y.npy) */
    double xlo, xhi;            /* the range of x over all ranks */
    double read_seconds;        /* parsing / mapping and slicing */
    uint64_t points_hash;       /* this rank's points, hashed while checking them (agree_fold; MPI only) */
} dataset;
static inline double data_x(const dataset *d, int64_t i) { return d->x[i * d->stride]; }
static inline double data_y(const dataset *d, int64_t i) { return d->y[i * d->stride]; }
static inline double data_w(const dataset *d, int64_t i) { return d->w ? d->w[i * d->stride] : 1.0; }
int  data_load(const options *o, const par *p, dataset *d);
void data_free(dataset *d);

/* --------------------------------------------------------------- agree.c */
/* Collective: 0 when every rank has the same settings and data file (size,
** header, point count, and the points it read: each rank's rows equal to
** those rows of rank 0's file); else TGFIT_FAIL on every rank, the message
** naming what differs. */
int agree_check(const options *o, const par *p, const dataset *d);
/* One value's bits folded into a points hash (start from AGREE_SEED): data.c
** folds x, y (and w) of every point it checks, agree.c the rows of other ranks. */
#define AGREE_SEED 0x9e3779b97f4a7c15ull
static inline uint64_t agree_fold(uint64_t h, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    h ^= b * 0x87c37b91114253d5ull;
    h = (h << 31 | h >> 33) * 0x4cf5ad432745937full;
    return h;
}

/* ---------------------------------------------------------------- fit.c */
typedef struct fit_run {
    double *coef;               /* best coefficients, n_coef */
    int n_coef;
    double loss;                /* MSE of coef over all points */
    double alpha, beta;         /* the range map (legendre model and the lstsq reference) */
    double *lstsq_coef;         /* degree + 1 (3 + 1 for p3), NULL when not available */
    int n_lstsq;
    double lstsq_loss, cond;
    const char *lstsq_note;     /* why there is no reference, or NULL */
    double *lstsq_cov, *lstsq_se; /* n_lstsq^2 row-major and n_lstsq: scipy curve_fit's pcov, sqrt(diag) */
    double lstsq_rss;           /* sum of w^2 residual^2 of the least-squares solution */
    int lstsq_rank;
    char lstsq_warning[200];    /* "" unless rank-deficient (the minimum-norm solution is given) */
    bool converged;             /* --tol stopped the optimizer */
    double *loss_hist;          /* the loss of every step */
    int64_t n_hist, steps_done, evaluations;
    bool interrupted, diverged;
    double points_done;         /* points evaluated by all ranks over all evaluations */
    double fit_seconds, lstsq_seconds, total_seconds;
    double lr;                  /* the learning rate used */
} fit_run;
int  fit_run_all(const options *o, const par *p, const dataset *d, fit_run *r);
/* tgfit's training step from outside (bench/bench_series_fit.c times it): the
** trainer and optimizer fit_run_all's training loop makes, without the least
** squares.  fit_stepper_step is one step of that loop (*loss: the loss before
** it, the values it started from); fit_stepper_state copies the current
** values and the gradient of the last step (NULL grad: values only).
** fit_stepper_new returns NULL after tgfit_fail; r must outlive the stepper
** and is released with fit_run_free. */
typedef struct fit_stepper fit_stepper;
fit_stepper *fit_stepper_new(const options *o, const par *p, const dataset *d, fit_run *r);
int  fit_stepper_step(fit_stepper *s, double *loss);
void fit_stepper_state(const fit_stepper *s, double *values, double *grad);
void fit_stepper_free(fit_stepper *s);
void fit_run_free(fit_run *r);
/* The model at the points x [n] with the coefficients of r (no graph). */
int  fit_predict(const options *o, const fit_run *r, const double *x, int64_t n, double *y);

/* -------------------------------------------------------------- eval.c */
/* A fit as `tgfit --out` saved it: the model, the range map and the coefficients. */
typedef struct loaded_fit {
    model_kind model;
    double alpha, beta;
    int n_coef;
    double coef[100001];        /* MAX_DEGREE + 1 */
} loaded_fit;
/* Reads the JSON fit at path into *fit; TGFIT_FAIL with the message recorded. */
int fit_load(const char *path, loaded_fit *fit);
/* `tgfit eval ...` (argv[0] is "eval"): 0 done, TGFIT_FAIL with the message recorded. */
int tgfit_eval(int argc, char **argv);

/* -------------------------------------------------------------- text.c */
/* The length (1..4) of the well-formed UTF-8 character at s and its code
** point, or 0 when s does not start one (write that byte as U+FFFD). */
int  utf8_char(const char *s, uint32_t *cp);

/* ------------------------------------------------------------ output.c */
/* An output file being written: a temporary beside the target, renamed over
** it by output_close; a character device or FIFO in place; "-" stdout. */
typedef struct output {
    const char *path, *opt;     /* as given, and the option ("--out") for messages */
    char *target, *tmp;         /* owned: the file replaced, the temporary (NULL in place) */
    FILE *f;                    /* write here */
} output;
/* Before the fit: path is writable, not empty, not a directory, not the input. */
int  output_check(const char *opt, const char *path, const char *input);
int  output_open(output *w, const char *opt, const char *path);
/* Checks every write, fsyncs and renames; a failure removes only the temporary. */
int  output_close(output *w);
void output_abort(output *w);

/* ------------------------------------------------------------ report.c */
void report_print(const options *o, const par *p, const dataset *d, const fit_run *r);
int  report_json(const options *o, const par *p, const dataset *d, const fit_run *r, const char *path);

/* -------------------------------------------------------------- plot.c */
/* The SVG plot of the sampled points x, y [n] and the fit r, written to path. */
int  plot_svg(const options *o, const fit_run *r, const double *x, const double *y, int64_t n, const char *path);

/* ---------------------------------------------------------- progress.c */
/* SIGINT and SIGTERM set a flag (a second one of either kills as usual);
** the training loop and long computations poll progress_interrupted(). */
void progress_install_sigint(void);
/* The flag the signal handler sets, for loops that poll it (the streaming least squares). */
volatile const sig_atomic_t *progress_stop_flag(void);
bool progress_interrupted(void);
const char *progress_signal_name(void);     /* "SIGINT", "SIGTERM", or "a signal to another rank" */
typedef struct progress {
    bool on, tty;
    int64_t total, every;
    double start, last;
} progress;
void progress_begin(progress *pg, bool on, int64_t total);
void progress_step(progress *pg, int64_t step, double loss, double points_done);
void progress_end(progress *pg, int64_t step, double loss, double points_done);

#endif /* TGFIT_H */
