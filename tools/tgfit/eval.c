/* SPDX-License-Identifier: MIT */
/*
** `tgfit eval --fit FIT.json --data FILE --x COL [--y COL] [--pred OUT.npy]`:
** a fit saved by `tgfit --out` evaluated on new points.  fit_load reads the
** JSON fit back (model, alpha, beta, coefficients; the keys tgfit writes);
** the points are read as tgfit reads them (data.c: a mapped .npy in place, or
** CSV) and evaluated in blocks.  Prints one JSON line on stdout: the points,
** and with --y the MSE, RMSE and largest absolute error; --pred writes the
** predictions as a float64 .npy [N].
*/
#include "tgfit.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The text of the file at path (malloc'd, NUL-terminated), or NULL with a message. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tgfit_fail("--fit %s: cannot open it", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *more = realloc(text, cap *= 2);
            if (!more)
                free(text);
            text = more;
        }
    }
    fclose(f);
    if (!text) {
        tgfit_fail("--fit %s: out of memory", path);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* The value after "key": in text (top level keys are unique in tgfit's JSON), or NULL. */
static const char *value_of(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(text, pat);
    if (!at)
        return NULL;
    at += strlen(pat);
    while (*at == ' ' || *at == '\n')
        at++;
    return at;
}

int fit_load(const char *path, loaded_fit *fit)
{
    memset(fit, 0, sizeof *fit);
    char *text = read_text(path);
    if (!text)
        return TGFIT_FAIL;
    int rc = 0;
    const char *v = value_of(text, "format"), *m = value_of(text, "model");
    const char *a = value_of(text, "alpha"), *b = value_of(text, "beta"), *c = value_of(text, "coefficients");
    if (!v || strncmp(v, "\"tgfit 1\"", 9) != 0 || !m || !a || !b || !c || *c != '[') {
        rc = tgfit_fail("--fit %s: not a fit written by tgfit --out (format \"tgfit 1\" with model, alpha, beta, "
                        "coefficients)", path);
        goto cleanup;
    }
    fit->model = strncmp(m, "\"p3\"", 4) == 0 ? MODEL_P3 : MODEL_LEGENDRE;
    char *end;
    fit->alpha = strtod(a, &end);
    fit->beta = strtod(b, &end);
    for (const char *p = c + 1; *p && *p != ']';) {
        double x = strtod(p, &end);
        if (end == p || fit->n_coef == (int)(sizeof fit->coef / sizeof fit->coef[0])) {
            rc = tgfit_fail("--fit %s: the coefficients are not a list of at most %d numbers", path,
                            (int)(sizeof fit->coef / sizeof fit->coef[0]));
            goto cleanup;
        }
        fit->coef[fit->n_coef++] = x;
        p = end + strspn(end, ", \n");
    }
    if (fit->n_coef < 1 || (fit->model == MODEL_P3 && fit->n_coef != 4) || !isfinite(fit->alpha) ||
        !isfinite(fit->beta))
        rc = tgfit_fail("--fit %s: %d coefficients, alpha %g, beta %g do not make a %s fit", path, fit->n_coef,
                        fit->alpha, fit->beta, model_name(fit->model));
cleanup:
    free(text);
    return rc;
}

/* Predictions and errors over d's points, in blocks; pred [n] or NULL. */
static int evaluate(const options *o, const loaded_fit *fit, const dataset *d, double *pred, double err[3])
{
    fit_run r = {.coef = (double *)fit->coef, .n_coef = fit->n_coef, .alpha = fit->alpha, .beta = fit->beta};
    enum { BLOCK = 1 << 16 };
    double *x = malloc(BLOCK * sizeof *x), *y = malloc(BLOCK * sizeof *y);
    int rc = x && y ? 0 : tgfit_fail("out of memory");
    for (int64_t lo = 0; rc == 0 && lo < d->n; lo += BLOCK) {
        int64_t m = d->n - lo < BLOCK ? d->n - lo : BLOCK;
        for (int64_t i = 0; i < m; i++)
            x[i] = data_x(d, lo + i);
        if ((rc = fit_predict(o, &r, x, m, y)) != 0)
            break;
        for (int64_t i = 0; o->ycol && i < m; i++) {
            double e = y[i] - data_y(d, lo + i);
            err[0] += e * e;
            err[2] = fmax(err[2], fabs(e));
        }
        if (pred)
            memcpy(pred + lo, y, (size_t)m * sizeof *y);
    }
    free(x);
    free(y);
    err[0] /= d->n > 0 ? (double)d->n : 1.0;
    err[1] = sqrt(err[0]);
    return rc;
}

static int write_pred(const char *path, const double *pred, int64_t n)
{
    tg_tensor *t = tg_from_array(1, &n, pred);
    tg_status s = t ? tg_save_npy(t, path) : tg_last_status();
    tg_free(t);
    return s == TG_OK ? 0 : tgfit_fail("--pred %s: %s", path, tg_last_error());
}

int tgfit_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        { "fit", required_argument, NULL, 'f' }, { "data", required_argument, NULL, 'd' },
        { "x", required_argument, NULL, 'x' },   { "y", required_argument, NULL, 'y' },
        { "pred", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
    };
    const char *fit_path = NULL, *pred_path = NULL;
    options o = { .model = MODEL_LEGENDRE, .degree = -1 };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': fit_path = optarg; break;
        case 'd': o.data = optarg; break;
        case 'x': o.xcol = optarg; break;
        case 'y': o.ycol = optarg; break;
        case 'p': pred_path = optarg; break;
        default: return tgfit_fail("eval: unknown option or missing value '%s' (tgfit eval --fit FIT.json "
                                   "--data FILE --x COL [--y COL] [--pred OUT.npy])", argv[optind - 1]);
        }
    }
    if (!fit_path || !o.data || !o.xcol)
        return tgfit_fail("eval: --%s is required", !fit_path ? "fit" : !o.data ? "data" : "x");
    static loaded_fit fit;                        /* 800 KB of coefficients: not on the stack */
    if (fit_load(fit_path, &fit))
        return TGFIT_FAIL;
    o.model = fit.model;
    const char *ycol = o.ycol;
    if (!ycol)
        o.ycol = o.xcol;                          /* data.c reads two columns */
    par p = { .rank = 0, .size = 1, .mpi = false };
    dataset d;
    int rc = data_load(&o, &p, &d);
    o.ycol = ycol;
    double err[3] = { 0, 0, 0 }, *pred = NULL;
    if (rc == 0 && pred_path && !(pred = malloc((size_t)(d.n ? d.n : 1) * sizeof *pred)))
        rc = tgfit_fail("out of memory for %lld predictions", (long long)d.n);
    if (rc == 0)
        rc = evaluate(&o, &fit, &d, pred, err);
    if (rc == 0 && pred)
        rc = write_pred(pred_path, pred, d.n);
    if (rc == 0) {
        printf("{\"points\": %lld", (long long)d.n);
        if (o.ycol)
            printf(", \"mse\": %.17g, \"rmse\": %.17g, \"max_abs_error\": %.17g", err[0], err[1], err[2]);
        printf("}\n");
    }
    free(pred);
    data_free(&d);
    return rc;
}
