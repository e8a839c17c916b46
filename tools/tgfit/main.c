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
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char error_line[1024];

int tgfit_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_line, sizeof error_line, fmt, ap);
    va_end(ap);
    return TGFIT_FAIL;
}

const char *tgfit_error(void) { return error_line; }

static const char usage[] =
    "usage: tgfit --data FILE --x COL --y COL --degree D [options]\n"
    "  --data FILE        points: a CSV file with a header (COL is a column name) or a\n"
    "                     2-d .npy array [points, columns] (COL is a column index)\n"
    "  --x COL, --y COL   the columns of x and y\n"
    "  --degree D         degree of the Legendre series y = sum c_k P_k(alpha x + beta), D >= 0\n"
    "  --model M          legendre (default) or p3: y = a + b * P3(c + d x), the tutorial's model\n"
    "  --optimizer O      adam (default), sgd, lbfgs, or lstsq (the exact least-squares solution)\n"
    "  --steps N          optimizer steps (default 1000; 0 evaluates the starting point)\n"
    "  --lr R             learning rate (default: adam 0.01, sgd 0.1, lbfgs 1)\n"
    "  --batch B          B points drawn with replacement per step (default 0: all points)\n"
    "  --seed S           seed of the minibatch draws (default 0)\n"
    "  --out FILE         write the result as JSON\n"
    "  --plot FILE        write an SVG plot: data, fit, residuals, loss per step\n"
    "  --no-lstsq         skip the least-squares reference (its design matrix is N x (D + 1))\n"
    "The loss is the mean squared error.  Ctrl-C stops after the current step and writes\n"
    "the best fit so far.  Under mpirun, each rank fits its slice of the points.\n";

static int parse_int(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return tgfit_fail("%s '%s': not an integer", opt, v);
    if (x < lo || x > hi)
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

static int parse_choice(const char *opt, const char *v, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return *out = i, 0;
    return n == 2 ? tgfit_fail("%s '%s': expected %s or %s", opt, v, names[0], names[1])
                  : tgfit_fail("%s '%s': expected adam, sgd, lbfgs or lstsq", opt, v);
}

static int set_option(options *o, const char *name, const char *v)
{
    static const char *const models[] = { "legendre", "p3" };
    static const char *const optims[] = { "adam", "sgd", "lbfgs", "lstsq" };
    int64_t n = 0;
    int choice = 0, rc = 0;
    if (!strcmp(name, "--data")) o->data = v;
    else if (!strcmp(name, "--x")) o->xcol = v;
    else if (!strcmp(name, "--y")) o->ycol = v;
    else if (!strcmp(name, "--out")) o->out = v;
    else if (!strcmp(name, "--plot")) o->plot = v;
    else if (!strcmp(name, "--lr")) rc = parse_lr(v, &o->lr);
    else if (!strcmp(name, "--steps")) rc = parse_int(name, v, 0, INT64_MAX / 2, &o->steps);
    else if (!strcmp(name, "--batch")) rc = parse_int(name, v, 0, INT64_MAX / 2, &o->batch);
    else if (!strcmp(name, "--seed")) {
        rc = parse_int(name, v, 0, INT64_MAX, &n);
        o->seed = (uint64_t)n;
    } else if (!strcmp(name, "--degree")) {
        rc = parse_int(name, v, 0, 100000, &n);
        o->degree = (int)n;
    } else if (!strcmp(name, "--model")) {
        rc = parse_choice(name, v, models, 2, &choice);
        o->model = (model_kind)choice;
    } else if (!strcmp(name, "--optimizer")) {
        rc = parse_choice(name, v, optims, 4, &choice);
        o->optimizer = (optim_kind)choice;
    } else {
        rc = tgfit_fail("unknown option '%s' (tgfit --help lists them)", name);
    }
    return rc;
}

static bool known_option(const char *name)
{
    static const char *const names[] = { "--data", "--x", "--y", "--out", "--plot", "--lr", "--steps",
                                         "--batch", "--seed", "--degree", "--model", "--optimizer" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

/* 1: --help; 0: options ready; TGFIT_FAIL: the message is recorded. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){ .model = MODEL_LEGENDRE, .optimizer = OPT_ADAM, .degree = -1, .steps = 1000 };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return 1;
        if (!strcmp(arg, "--no-lstsq")) {
            o->no_lstsq = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return tgfit_fail("unexpected argument '%s' (options are --name value)", arg);
        char name[64];
        const char *value;
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - arg < 63 ? eq - arg : 63), arg);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
            if (i + 1 >= argc)
                return known_option(name) ? tgfit_fail("%s needs a value", name)
                                          : tgfit_fail("unknown option '%s' (tgfit --help lists them)", name);
            value = argv[++i];
        }
        if (set_option(o, name, value))
            return TGFIT_FAIL;
    }
    if (!o->data || !o->xcol || !o->ycol)
        return tgfit_fail("--%s is required (tgfit --help)", !o->data ? "data" : !o->xcol ? "x" : "y");
    if (o->model == MODEL_LEGENDRE && o->degree < 0)
        return tgfit_fail("--degree is required for --model legendre (tgfit --help)");
    if (o->no_lstsq && o->optimizer == OPT_LSTSQ)
        return tgfit_fail("--optimizer lstsq and --no-lstsq contradict each other");
    if (o->model == MODEL_P3 && o->optimizer == OPT_LSTSQ)
        return tgfit_fail("--optimizer lstsq needs --model legendre");
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
        mx[m] = tg_data(d->x)[i];
        my[m] = tg_data(d->y)[i];
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
    report_print(o, p, d, r);
    if (rc == 0 && p->rank == 0 && o->out)
        rc = report_json(o, p, d, r, o->out);
    if (rc == 0 && p->rank == 0 && o->plot)
        rc = report_svg(o, r, sx, sy, n, o->plot);
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
    if (rc == 0) {
        rc = fit_run_all(o, p, &d, &r);
        r.total_seconds = tgfit_now() - t0;
        if (rc == 0)
            rc = write_outputs(o, p, &d, &r);
        if (rc == 0 && r.interrupted && p->rank == 0)
            fprintf(stderr, "tgfit: interrupted after step %lld; wrote the best fit so far\n", (long long)r.steps_done);
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
    if (par_init(&argc, &argv, &p)) {
        fprintf(stderr, "tgfit: %s\n", tgfit_error());
        return 1;
    }
    int rc = parse_options(argc, argv, &o), status;
    if (rc == 1) {
        if (p.rank == 0)
            fputs(usage, stdout);
        status = 0;
    } else if (rc != 0) {
        if (p.rank == 0)
            fprintf(stderr, "tgfit: %s\n", tgfit_error());
        status = 2;
    } else {
        progress_install_sigint();
        rc = run(&o, &p);
        if (rc == TGFIT_FAIL_HERE || (rc == TGFIT_FAIL && p.rank == 0))
            fprintf(stderr, "tgfit: %s\n", tgfit_error());
        status = rc < 0 ? 1 : rc;
    }
    par_finalize(&p);
    return status;
}
