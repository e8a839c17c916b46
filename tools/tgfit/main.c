/* SPDX-License-Identifier: MIT */
/*
** tgfit: fits a Legendre series (or the tutorial's a + b * P3(c + d x)) to
** two columns of a CSV or .npy file with tensorgrad's autograd and
** optimizers, compares the fit with the exact least-squares optimum, and
** writes the result as JSON and an SVG plot.  `tgfit --help` and README.md's
** "tgfit" section document it.  Exit status: 0 done, 1 bad data or a failed
** fit, 2 bad options, 3 the loss diverged, 130 interrupted by SIGINT (the
** best fit so far is written in all three last cases).
*/
#include "tgfit.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "Usage: tgfit --data FILE --x COL --y COL --degree D [options]\n"
    "  --data FILE        points: a CSV file with a header (COL is a column name) or a\n"
    "                     2-d .npy array [points, columns] (COL is a column index)\n"
    "  --x COL, --y COL   the columns of x and y (a 1-d .npy --data with --x 0 --y Y.npy: two files)\n"
    "  --degree D         degree of the Legendre series y = sum c_k P_k(alpha x + beta), D >= 0\n"
    "  --model M          legendre (default) or p3: y = a + b * P3(c + d x), the tutorial's model\n"
    "  --optimizer O      adam (default), sgd, lbfgs, or lstsq (the exact least-squares solution)\n"
    "  --steps N          optimizer steps (default 1000; 0 evaluates the starting point)\n"
    "  --lr R             learning rate (default: adam 0.01, sgd 0.1, lbfgs 1)\n"
    "  --batch B          B points drawn with replacement per step (default 0: all points)\n"
    "  --seed S           seed of the minibatch draws (default 0)\n"
    "  --out FILE         write the result as JSON\n"
    "  --plot FILE        write an SVG plot: data, fit, residuals, loss per step\n"
    "  --no-lstsq         skip the least-squares reference (a streaming QR, memory O(D^2))\n"
    "  --weights COL      weight of each point's residual (numpy's w): the loss is (w pred - w y)^2\n"
    "  --tol T            stop when the loss improved by less than T (relative) in 10 steps\n"
    "  -q, --quiet        no progress on stderr and no summary on stdout (errors still show)\n"
    "  -V, --version      print the version and exit\n"
    "  -h, --help         print this help and exit\n"
    "tgfit eval --fit FIT.json --data FILE --x COL [--y COL] [--pred OUT.npy] evaluates a fit\n"
    "saved by --out on new points (prints points, and with --y the MSE, RMSE, max error).\n"
    "FILE may be - : --data - reads CSV from standard input, --out - (or --plot -) writes to\n"
    "standard output instead of the summary.  Outputs are replaced whole (a temporary file\n"
    "renamed over the old one) or not at all.  The loss is the mean squared error.  Ctrl-C or\n"
    "SIGTERM stops after the current step and writes the best fit so far.  Under mpirun, each\n"
    "rank fits its slice of the points.  Exit status: 0 done, 1 bad data or a failed fit,\n"
    "2 bad options, 3 the loss diverged, 130 interrupted.\n";

/* Sizes from the command line stop here, far below what would overflow an
** allocation (steps * 8 bytes of history, batch * 32 bytes a step). */
enum { MAX_STEPS = 1000000000, MAX_BATCH = 1000000000, MAX_DEGREE = 100000 };

static int parse_int(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || (errno && errno != ERANGE))
        return tgfit_fail("%s '%s': not an integer", opt, v);
    if (errno == ERANGE || x < lo || x > hi)
        return tgfit_fail("%s %s: must be between %lld and %lld", opt, v, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

static int parse_lr(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x <= 0)
        return tgfit_fail("--lr '%s': must be a positive number", v);
    *out = x;
    return 0;
}

static int parse_tol(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x < 0)
        return tgfit_fail("--tol '%s': must be a number >= 0 (0: run every step)", v);
    *out = x;
    return 0;
}

static int parse_choice(const char *opt, const char *v, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return *out = i, 0;
    return n == 2 ? tgfit_fail("%s '%s': expected %s or %s", opt, v, names[0], names[1])
                  : tgfit_fail("%s '%s': expected adam, sgd, lbfgs or lstsq", opt, v);
}

/* The long options; a value >= 256 is an option without a short form. */
enum { OPT_DATA = 256, OPT_X, OPT_Y, OPT_DEGREE, OPT_MODEL, OPT_OPTIMIZER, OPT_STEPS, OPT_LR, OPT_BATCH, OPT_SEED,
       OPT_OUT, OPT_PLOT, OPT_NO_LSTSQ, OPT_WEIGHTS, OPT_TOL };
static const char short_options[] = ":hqV";

static const struct option long_options[] = {
    { "data", required_argument, NULL, OPT_DATA },
    { "x", required_argument, NULL, OPT_X },
    { "y", required_argument, NULL, OPT_Y },
    { "degree", required_argument, NULL, OPT_DEGREE },
    { "model", required_argument, NULL, OPT_MODEL },
    { "optimizer", required_argument, NULL, OPT_OPTIMIZER },
    { "steps", required_argument, NULL, OPT_STEPS },
    { "lr", required_argument, NULL, OPT_LR },
    { "batch", required_argument, NULL, OPT_BATCH },
    { "seed", required_argument, NULL, OPT_SEED },
    { "out", required_argument, NULL, OPT_OUT },
    { "plot", required_argument, NULL, OPT_PLOT },
    { "no-lstsq", no_argument, NULL, OPT_NO_LSTSQ },
    { "weights", required_argument, NULL, OPT_WEIGHTS },
    { "tol", required_argument, NULL, OPT_TOL },
    { "help", no_argument, NULL, 'h' },
    { "quiet", no_argument, NULL, 'q' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

/* The option getopt_long just refused: the argument as written. */
static int bad_option(int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return tgfit_fail("%s needs a value", arg);
    if (strncmp(arg, "--", 2) == 0)
        return tgfit_fail("unknown option '%.*s' (tgfit --help lists them)", (int)strcspn(arg, "="), arg);
    return tgfit_fail("unknown option '-%c' (tgfit --help lists them)", optopt ? optopt : '?');
}

static int set_option(options *o, int c, const char *v)
{
    static const char *const models[] = { "legendre", "p3" };
    static const char *const optims[] = { "adam", "sgd", "lbfgs", "lstsq" };
    int64_t n = 0;
    int choice = 0, rc = 0;
    switch (c) {
    case OPT_DATA: o->data = v; break;
    case OPT_X: o->xcol = v; break;
    case OPT_Y: o->ycol = v; break;
    case OPT_OUT: o->out = v; break;
    case OPT_PLOT: o->plot = v; break;
    case OPT_NO_LSTSQ: o->no_lstsq = true; break;
    case OPT_WEIGHTS: o->wcol = v; break;
    case OPT_TOL: rc = parse_tol(v, &o->tol); break;
    case 'q': o->quiet = true; break;
    case OPT_LR: rc = parse_lr(v, &o->lr); break;
    case OPT_STEPS: rc = parse_int("--steps", v, 0, MAX_STEPS, &o->steps); break;
    case OPT_BATCH: rc = parse_int("--batch", v, 0, MAX_BATCH, &o->batch); break;
    case OPT_SEED:
        rc = parse_int("--seed", v, 0, INT64_MAX, &n);
        o->seed = (uint64_t)n;
        break;
    case OPT_DEGREE:
        rc = parse_int("--degree", v, 0, MAX_DEGREE, &n);
        o->degree = (int)n;
        break;
    case OPT_MODEL:
        rc = parse_choice("--model", v, models, 2, &choice);
        o->model = (model_kind)choice;
        break;
    case OPT_OPTIMIZER:
        rc = parse_choice("--optimizer", v, optims, 4, &choice);
        o->optimizer = (optim_kind)choice;
        break;
    default: rc = tgfit_fail("internal error: option %d", c); break;
    }
    return rc;
}

/* The contradictions between options, and empty or clashing output names. */
static int check_options(const options *o)
{
    if (!o->data || !o->xcol || !o->ycol)
        return tgfit_fail("--%s is required (tgfit --help)", !o->data ? "data" : !o->xcol ? "x" : "y");
    if (!*o->data)
        return tgfit_fail("--data '': an empty file name (give a file, or - for standard input)");
    if (o->model == MODEL_LEGENDRE && o->degree < 0)
        return tgfit_fail("--degree is required for --model legendre (tgfit --help)");
    if (o->no_lstsq && o->optimizer == OPT_LSTSQ)
        return tgfit_fail("--optimizer lstsq and --no-lstsq contradict each other");
    if (o->model == MODEL_P3 && o->optimizer == OPT_LSTSQ)
        return tgfit_fail("--optimizer lstsq needs --model legendre");
    if (o->batch > 0 && o->optimizer == OPT_LSTSQ)
        return tgfit_fail("--batch %lld: --optimizer lstsq takes no minibatches", (long long)o->batch);
    for (int i = 0; i < 2; i++) {
        const char *v = i ? o->plot : o->out;
        if (v && !*v)
            return tgfit_fail("%s '': an empty file name (give a file, or - for standard output)",
                              i ? "--plot" : "--out");
    }
    return 0;
}

/* --out and --plot may share a device (/dev/null), not a file or standard output. */
static int check_two_outputs(const options *o)
{
    struct stat a, b;
    if (!o->out || !o->plot)
        return 0;
    bool same = strcmp(o->out, o->plot) == 0 ||
                (stat(o->out, &a) == 0 && stat(o->plot, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino);
    bool device = strcmp(o->out, "-") != 0 && stat(o->out, &a) == 0 && (S_ISCHR(a.st_mode) || S_ISFIFO(a.st_mode));
    if (same && !device)
        return tgfit_fail("--out and --plot both name %s", strcmp(o->out, "-") ? o->out : "standard output");
    return 0;
}

/* 1: --help; 2: --version; 0: options ready; TGFIT_FAIL: the message is recorded. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){ .model = MODEL_LEGENDRE, .optimizer = OPT_ADAM, .degree = -1, .steps = 1000 };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == 'V')
            return 2;
        if (c == '?' || c == ':')
            return bad_option(c, argv);
        if (set_option(o, c, optarg))
            return TGFIT_FAIL;
    }
    if (optind < argc)
        return tgfit_fail("unexpected argument '%s' (options are --name value)", argv[optind]);
    return check_options(o);
}

/* A minibatch of B points takes about 32 B bytes a step: refuse one that cannot be allocated now. */
static int check_batch(const options *o)
{
    if (o->batch == 0)
        return 0;
    size_t bytes = (size_t)o->batch * 4 * sizeof(double);
    void *probe = malloc(bytes);
    free(probe);
    return probe ? 0 : tgfit_fail("--batch %lld: a minibatch needs %.3g GB, which cannot be allocated",
                                  (long long)o->batch, (double)bytes / 1e9);
}

/* A .npz archive (by its name, or a zip file by its first bytes) is refused by name. */
static int check_not_npz(const char *path)
{
    size_t n = strlen(path);
    bool named = n >= 4 && strcasecmp(path + n - 4, ".npz") == 0;
    unsigned char magic[4] = { 0 };
    int fd = named || strcmp(path, "-") == 0 ? -1 : open(path, O_RDONLY | O_NONBLOCK);   /* a FIFO: no wait */
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, sizeof magic) != sizeof magic)
        memset(magic, 0, sizeof magic);
    if (fd >= 0)
        close(fd);
    if (named || memcmp(magic, "PK\x03\x04", 4) == 0)
        return tgfit_fail("--data %s: a .npz (zip) archive is not read; save the array as .npy "
                          "(numpy.save('points.npy', numpy.load('%s')['arr_0']))", path, path);
    return 0;
}

/* What must hold before any data is read: the outputs can be written and
** are not the input; standard input is one process's.  Rank 0 checks the
** files (it alone writes them); every rank learns the outcome. */
static int check_run(const options *o, const par *p)
{
    int rc = check_batch(o);
    if (rc == 0)
        rc = check_not_npz(o->data);
    if (rc == 0 && strcmp(o->data, "-") == 0 && p->size > 1)
        rc = tgfit_fail("--data -: standard input reaches one MPI rank only; give a file under mpirun");
    if (rc == 0 && p->rank == 0)
        rc = check_two_outputs(o);
    if (rc == 0 && p->rank == 0 && o->out)
        rc = output_check("--out", o->out, o->data);
    if (rc == 0 && p->rank == 0 && o->plot)
        rc = output_check("--plot", o->plot, o->data);
    bool report;
    if (par_failed(p, rc != 0, &report))
        return report ? TGFIT_FAIL_HERE : TGFIT_FAIL_QUIET;
    return 0;
}

/* Rank 0 receives every rank's points at global rows 0, s, 2s, ... (at most
** about 3000 in all), the same sample whatever the number of ranks. */
static int plot_sample(const par *p, const dataset *d, double **x, double **y, int64_t *n)
{
    int64_t stride = d->n_total > 3000 ? (d->n_total + 2999) / 3000 : 1, m = 0;
    int64_t first = (d->begin + stride - 1) / stride * stride - d->begin;
    double *mx = malloc((size_t)(d->n / stride + 2) * sizeof *mx), *my = malloc((size_t)(d->n / stride + 2) * sizeof *my);
    int rc = mx && my ? 0 : tgfit_fail("out of memory");
    for (int64_t i = first; rc == 0 && i < d->n; i += stride, m++) {
        mx[m] = data_x(d, i);
        my[m] = data_y(d, i);
    }
    int64_t ny;
    *x = *y = NULL;
    if (rc == 0)
        rc = par_gather(p, mx, m, x, n);
    if (rc == 0)
        rc = par_gather(p, my, m, y, &ny);
    free(mx);
    free(my);
    return rc;
}

static int write_outputs(const options *o, const par *p, const dataset *d, const fit_run *r)
{
    double *sx = NULL, *sy = NULL;
    int64_t n = 0;
    int rc = o->plot ? plot_sample(p, d, &sx, &sy, &n) : 0;
    bool stdout_taken = (o->out && !strcmp(o->out, "-")) || (o->plot && !strcmp(o->plot, "-"));
    if (!o->quiet && !stdout_taken)
        report_print(o, p, d, r);
    if (rc == 0 && p->rank == 0 && o->out)
        rc = report_json(o, p, d, r, o->out);
    if (rc == 0 && p->rank == 0 && o->plot)
        rc = plot_svg(o, r, sx, sy, n, o->plot);
    free(sx);
    free(sy);
    return rc;
}

static int run(const options *o, const par *p)
{
    double t0 = tgfit_now();
    dataset d;
    fit_run r;
    int rc = data_load(o, p, &d);
    rc = rc == 0 ? agree_check(o, p, &d) : rc;   /* ranks agree or stop (agree.c) */
    if (rc == 0) {
        rc = fit_run_all(o, p, &d, &r);
        r.total_seconds = tgfit_now() - t0;
        if (rc == 0)
            rc = write_outputs(o, p, &d, &r);
        if (rc == 0 && r.interrupted && p->rank == 0 && !r.lstsq_coef && !o->no_lstsq)
            fprintf(stderr, "tgfit: interrupted (%s) during least squares, before its solution; wrote the "
                    "starting point\n", progress_signal_name());
        else if (rc == 0 && r.interrupted && p->rank == 0 && o->optimizer == OPT_LSTSQ)
            fprintf(stderr, "tgfit: interrupted (%s) during least squares; wrote its solution\n",
                    progress_signal_name());
        else if (rc == 0 && r.interrupted && p->rank == 0)
            fprintf(stderr, "tgfit: interrupted (%s) after step %lld; wrote the best fit so far\n",
                    progress_signal_name(), (long long)r.steps_done);
        if (rc == 0 && r.diverged && p->rank == 0)
            fprintf(stderr, "tgfit: the loss diverged at step %lld (try a smaller --lr); wrote the best fit so far\n",
                    (long long)r.steps_done);
        if (rc == 0)
            rc = r.interrupted ? 130 : r.diverged ? 3 : 0;
        fit_run_free(&r);
    }
    data_free(&d);
    return rc;
}

int main(int argc, char **argv)
{
    par p;
    options o;
    if (argc > 1 && strcmp(argv[1], "eval") == 0) {       /* tgfit eval: tools/tgfit/eval.c */
        if (tgfit_eval(argc - 1, argv + 1) == 0)
            return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
        fprintf(stderr, "tgfit: %s\n", tgfit_error());
        return 1;
    }
    if (par_init(&argc, &argv, &p)) {
        fprintf(stderr, "tgfit: %s\n", tgfit_error());
        return 1;
    }
    int rc = parse_options(argc, argv, &o), status;
    if (rc == 1 || rc == 2) {
        if (p.rank == 0 && rc == 1)
            fputs(usage, stdout);
        if (p.rank == 0 && rc == 2)
            printf("tgfit (tensorgrad) %s\n", tg_version());
        status = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    } else if (rc != 0) {
        if (p.rank == 0)
            fprintf(stderr, "tgfit: %s\n", tgfit_error());
        status = 2;
    } else {
        progress_install_sigint();
        signal(SIGXFSZ, SIG_IGN);        /* a write past `ulimit -f` fails with EFBIG, it does not kill */
        rc = check_run(&o, &p);
        bool usage_error = rc != 0;
        if (rc == 0)
            rc = run(&o, &p);
        if (rc == TGFIT_FAIL_HERE || (rc == TGFIT_FAIL && p.rank == 0))
            fprintf(stderr, "tgfit: %s\n", tgfit_error());
        status = rc < 0 ? (usage_error ? 2 : 1) : rc;
    }
    par_finalize(&p);
    return status;
}
