/* SPDX-License-Identifier: MIT */
/*
** tgfit's outputs: the summary on stdout and the JSON file, written by rank
** 0 (the SVG plot is plot.c's).  The JSON is one object whose keys are all distinct
** (settings and timing are nested objects with their own key names) and each
** key sits on its own line, numbers in %.17g (round-trip) and null for a
** number that is not finite, so a test can read it with a line grep.
*/
#include "tgfit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *model_name(model_kind m) { return m == MODEL_P3 ? "p3" : "legendre"; }

const char *optim_name(optim_kind o)
{
    static const char *const names[] = { "adam", "sgd", "lbfgs", "lstsq" };
    return names[o];
}

static double relative_gap(const fit_run *r)
{
    double diff = r->loss - r->lstsq_loss;
    return r->lstsq_loss > 0 ? diff / r->lstsq_loss : diff;
}

static double point_steps_per_second(const fit_run *r)
{
    return r->fit_seconds > 0 ? r->points_done / r->fit_seconds : NAN;
}

void report_print(const options *o, const par *p, const dataset *d, const fit_run *r)
{
    if (p->rank != 0)
        return;
    if (o->model == MODEL_LEGENDRE)
        printf("Legendre series of degree %d on %lld points of %s (x = %s, y = %s), t = %.17g x + %.17g\n", o->degree,
               (long long)d->n_total, o->data, o->xcol, o->ycol, r->alpha, r->beta);
    else
        printf("a + b * P3(c + d x) on %lld points of %s (x = %s, y = %s)\n", (long long)d->n_total, o->data,
               o->xcol, o->ycol);
    printf("optimizer  %s, %lld steps%s%s, %d rank%s\n", optim_name(o->optimizer), (long long)r->steps_done,
           r->interrupted ? " (interrupted)" : "", r->diverged ? " (diverged)" : "", p->size, p->size > 1 ? "s" : "");
    for (int i = 0; i < r->n_coef; i++) {
        if (o->model == MODEL_LEGENDRE)
            printf("c%-9d %.17g\n", i, r->coef[i]);
        else
            printf("%-10c %.17g\n", "abcd"[i], r->coef[i]);
    }
    printf("loss (MSE) %.17g\n", r->loss);
    if (r->lstsq_coef)
        printf("lstsq      %.17g (degree %d least squares; relative gap %.3g, cond %.6g)\n", r->lstsq_loss,
               r->n_lstsq - 1, relative_gap(r), r->cond);
    else
        printf("lstsq      unavailable: %s\n", r->lstsq_note ? r->lstsq_note : "?");
    printf("time       read %.3f s, fit %.3f s, lstsq %.3f s, total %.3f s; %.4g point-steps/s\n", d->read_seconds,
           r->fit_seconds, r->lstsq_seconds, r->total_seconds, point_steps_per_second(r));
}

/* ------------------------------------------------------------------ JSON */

/* A JSON string for any bytes: invalid UTF-8 becomes U+FFFD, so the file stays valid. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    while (*s) {
        uint32_t cp;
        int n = utf8_char(s, &cp);
        if (n == 0)
            fputs("\\ufffd", f);
        else if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (char)cp);
        else if (cp < 0x20 || cp == 0x7f)
            fprintf(f, "\\u%04x", (unsigned)cp);
        else
            fwrite(s, 1, (size_t)n, f);
        s += n ? n : 1;
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_key_number(FILE *f, const char *indent, const char *key, double v, bool last)
{
    fprintf(f, "%s\"%s\": ", indent, key);
    json_number(f, v);
    fputs(last ? "\n" : ",\n", f);
}

static void json_key_string(FILE *f, const char *indent, const char *key, const char *v, bool last)
{
    fprintf(f, "%s\"%s\": ", indent, key);
    if (v)
        json_string(f, v);
    else
        fputs("null", f);
    fputs(last ? "\n" : ",\n", f);
}

/* "  \"key\": " and, when v is NULL, "null,\n": false then (nothing to write). */
static bool json_key(FILE *f, const char *key, const double *v)
{
    fprintf(f, "  \"%s\": ", key);
    if (!v)
        fputs("null,\n", f);
    return v != NULL;
}

/* n numbers separated by ", " */
static void json_numbers(FILE *f, const double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        json_number(f, v[i]);
        fputs(i + 1 < n ? ", " : "", f);
    }
}

static void json_array(FILE *f, const char *key, const double *v, int n)
{
    if (!json_key(f, key, v))
        return;
    fputc('[', f);
    json_numbers(f, v, n);
    fputs("],\n", f);
}

/* The coefficients' covariance, as scipy's curve_fit pcov: rows of n. */
static void json_matrix(FILE *f, const char *key, const double *v, int n)
{
    if (!json_key(f, key, v))
        return;
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        fputs(i ? ",\n    [" : "\n    [", f);
        json_numbers(f, v + (int64_t)i * n, n);
        fputc(']', f);
    }
    fputs("\n  ],\n", f);
}

int report_json(const options *o, const par *p, const dataset *d, const fit_run *r, const char *path)
{
    output w;
    if (output_open(&w, "--out", path))
        return TGFIT_FAIL;
    FILE *f = w.f;
    fputs("{\n", f);
    json_key_string(f, "  ", "format", "tgfit 1", false);
    json_key_string(f, "  ", "model", model_name(o->model), false);
    json_key_number(f, "  ", "degree", o->model == MODEL_LEGENDRE ? o->degree : NAN, false);
    json_key_string(f, "  ", "data", o->data, false);
    json_key_string(f, "  ", "x_column", o->xcol, false);
    json_key_string(f, "  ", "y_column", o->ycol, false);
    json_key_string(f, "  ", "weights_column", o->wcol, false);
    json_key_number(f, "  ", "points", (double)d->n_total, false);
    json_key_number(f, "  ", "x_min", d->xlo, false);
    json_key_number(f, "  ", "x_max", d->xhi, false);
    json_key_number(f, "  ", "alpha", r->alpha, false);
    json_key_number(f, "  ", "beta", r->beta, false);
    json_array(f, "coefficients", r->coef, r->n_coef);
    json_key_number(f, "  ", "loss", r->loss, false);
    json_key_string(f, "  ", "loss_kind", "mse", false);
    json_key_number(f, "  ", "steps_done", (double)r->steps_done, false);
    json_key_number(f, "  ", "evaluations", (double)r->evaluations, false);
    fprintf(f, "  \"interrupted\": %s,\n  \"diverged\": %s,\n  \"converged\": %s,\n",
            r->interrupted ? "true" : "false", r->diverged ? "true" : "false", r->converged ? "true" : "false");
    json_key_number(f, "  ", "lstsq_degree", o->model == MODEL_LEGENDRE ? o->degree : 3, false);
    json_array(f, "lstsq_coefficients", r->lstsq_coef, r->n_lstsq);
    json_key_number(f, "  ", "lstsq_loss", r->lstsq_coef ? r->lstsq_loss : NAN, false);
    json_key_number(f, "  ", "relative_gap", r->lstsq_coef ? relative_gap(r) : NAN, false);
    json_key_number(f, "  ", "cond", r->cond, false);
    json_key_string(f, "  ", "lstsq_method", "tsqr", false);
    json_key_number(f, "  ", "lstsq_rank", r->lstsq_coef ? r->lstsq_rank : NAN, false);
    json_key_string(f, "  ", "lstsq_warning", r->lstsq_coef && r->lstsq_warning[0] ? r->lstsq_warning : NULL, false);
    json_key_number(f, "  ", "lstsq_rss", r->lstsq_coef ? r->lstsq_rss : NAN, false);
    json_array(f, "standard_errors", r->lstsq_se, r->n_lstsq);
    json_matrix(f, "cov", r->lstsq_cov, r->n_lstsq);
    json_key_string(f, "  ", "lstsq_note", r->lstsq_note, false);
    fputs("  \"settings\": {\n", f);
    json_key_string(f, "    ", "optimizer", optim_name(o->optimizer), false);
    json_key_number(f, "    ", "steps", (double)o->steps, false);
    json_key_number(f, "    ", "lr", r->lr, false);
    json_key_number(f, "    ", "batch", (double)o->batch, false);
    json_key_number(f, "    ", "tol", o->tol, false);
    fprintf(f, "    \"seed\": %llu,\n", (unsigned long long)o->seed);
    json_key_number(f, "    ", "ranks", p->size, true);
    fputs("  },\n  \"timing\": {\n", f);
    json_key_number(f, "    ", "read_seconds", d->read_seconds, false);
    json_key_number(f, "    ", "lstsq_seconds", r->lstsq_seconds, false);
    json_key_number(f, "    ", "fit_seconds", r->fit_seconds, false);
    json_key_number(f, "    ", "total_seconds", r->total_seconds, false);
    json_key_number(f, "    ", "point_steps_per_second", point_steps_per_second(r), true);
    fputs("  }\n}\n", f);
    return output_close(&w);
}
