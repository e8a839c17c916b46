/* SPDX-License-Identifier: MIT */
/*
** tgfit's input: two columns (three with --weights) of a CSV file (by header
** name) or of a 2-d .npy array (by index), of which this rank uses its
** contiguous slice of rows (whole blocks of the fixed reduction tree; all of
** them in one process).  A float64 .npy file is mapped read-only and read in
** place (x, y, w point into the mapping with a stride, nothing is copied), so
** it may be far larger than memory and a rank touches only its own rows' pages
** (x and y may also be two 1-d files: --data X.npy --x 0 --y Y.npy);
** a CSV file is parsed whole by every rank.  Every point must be finite.
*/
#include "tgfit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_npy(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".npy") == 0;
}

/* The library's message without its leading "tg_function: ". */
static const char *library_message(void)
{
    const char *m = tg_last_error(), *colon = strstr(m, ": ");
    return strncmp(m, "tg_", 3) == 0 && colon ? colon + 2 : m;
}

static int column_index(const char *opt, const char *text, int64_t n_cols, const char *path, int64_t *col)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || !isdigit((unsigned char)text[0]))
        return tgfit_fail("%s '%s': %s is a .npy array, so columns are indices 0..%lld", opt, text, path,
                          (long long)n_cols - 1);
    if (v >= n_cols)
        return tgfit_fail("%s %s: %s has %lld columns (0..%lld)", opt, text, path, (long long)n_cols,
                          (long long)n_cols - 1);
    *col = v;
    return 0;
}

/* x, y (and w) <- columns cx, cy (cw) of rows [begin, begin + n) of the
** row-major [rows, n_cols] table, in place: pointers and a stride, no copy. */
static void point_rows(const double *table, int64_t n_cols, int64_t cx, int64_t cy, int64_t cw, dataset *d)
{
    const double *row = table + d->begin * n_cols;
    d->x = row + cx;
    d->y = row + cy;
    d->w = cw >= 0 ? row + cw : NULL;
    d->stride = n_cols;
}

/* --data X.npy --x 0 --y Y.npy: x and y in two 1-d float64 files of one length, both mapped. */
static int load_separate(const options *o, const par *p, dataset *d)
{
    if (strcmp(o->xcol, "0") != 0)
        return tgfit_fail("--x %s: %s is 1-d, so x is its column 0", o->xcol, o->data);
    if (o->wcol)
        return tgfit_fail("--weights %s: give x, y and the weights as columns of one 2-d .npy", o->wcol);
    if (tg_npy_view_open(o->ycol, &d->view_y) != TG_OK)
        return tgfit_fail("--y %s: %s", o->ycol, library_message());
    if (d->view_y.ndim != 1 || d->view_y.shape[0] != d->view.shape[0])
        return tgfit_fail("--y %s: holds %s%lld values, %s holds %lld x values", o->ycol,
                          d->view_y.ndim != 1 ? "not a 1-d array of " : "", (long long)d->view_y.shape[0],
                          o->data, (long long)d->view.shape[0]);
    int64_t end;
    d->n_total = d->view.shape[0];
    par_rows(p, d->n_total, &d->begin, &end);
    d->n = end - d->begin;
    d->x = d->view.data + d->begin;
    d->y = d->view_y.data + d->begin;
    d->stride = 1;
    return 0;
}

static int load_npy(const options *o, const par *p, dataset *d)
{
    const double *table;
    int64_t rows, n_cols;
    if (tg_npy_view_open(o->data, &d->view) == TG_OK) {   /* read-only pages, never copied */
        if (d->view.ndim == 1 && is_npy(o->ycol))
            return load_separate(o, p, d);
        if (d->view.ndim != 2)
            return tgfit_fail("%s: a .npy input must be a 2-d array [points, columns], this one has %d "
                              "dimensions", o->data, d->view.ndim);
        table = d->view.data;
        rows = d->view.shape[0];
        n_cols = d->view.shape[1];
    } else {
        tg_clear_error();
        d->table = tg_load_npy(o->data);   /* other dtypes and Fortran order: converted copy */
        if (!d->table)
            return tgfit_fail("%s", library_message());
        if (tg_ndim(d->table) != 2)
            return tgfit_fail("%s: a .npy input must be a 2-d array [points, columns], this one has %d "
                              "dimensions", o->data, tg_ndim(d->table));
        table = tg_data(d->table);
        rows = tg_shape(d->table)[0];
        n_cols = tg_shape(d->table)[1];
    }
    int64_t cx, cy, cw = -1, end;
    if (column_index("--x", o->xcol, n_cols, o->data, &cx) || column_index("--y", o->ycol, n_cols, o->data, &cy) ||
        (o->wcol && column_index("--weights", o->wcol, n_cols, o->data, &cw)))
        return -1;
    d->n_total = rows;
    par_rows(p, d->n_total, &d->begin, &end);
    d->n = end - d->begin;
    point_rows(table, n_cols, cx, cy, cw, d);
    return 0;
}

static int load_csv(const options *o, const par *p, dataset *d)
{
    const char *cols[3] = { o->xcol, o->ycol, o->wcol };
    int n_cols = o->wcol ? 3 : 2;
    d->table = tg_load_csv(o->data, n_cols, cols, NULL);
    if (!d->table)
        return tgfit_fail("%s", library_message());
    int64_t end;
    d->n_total = tg_shape(d->table)[0];
    par_rows(p, d->n_total, &d->begin, &end);
    d->n = end - d->begin;
    point_rows(tg_data(d->table), n_cols, 0, 1, o->wcol ? 2 : -1, d);
    return 0;
}

/* The first non-finite value of this rank's slice, as a message; the range of x.
** Under MPI the same pass hashes the slice's points for agree.c (no second read). */
static int check_finite(const options *o, const par *p, dataset *d)
{
    bool hash = p->size > 1;
    uint64_t h = AGREE_SEED;
    for (int64_t i = 0; i < d->n; i++) {
        double x = data_x(d, i), y = data_y(d, i), w = data_w(d, i);
        if (hash) {
            h = agree_fold(agree_fold(h, x), y);
            if (d->w)
                h = agree_fold(h, w);
        }
        if (!isfinite(x) || !isfinite(y) || !isfinite(w)) {
            const char *what = !isfinite(x) ? "x" : !isfinite(y) ? "y" : "the weight";
            const char *col = !isfinite(x) ? o->xcol : !isfinite(y) ? o->ycol : o->wcol;
            return tgfit_fail("%s: data row %lld: %s (column %s) is %g; every point must be finite", o->data,
                              (long long)(d->begin + i + 1), what, col, !isfinite(x) ? x : !isfinite(y) ? y : w);
        }
        if (x < d->xlo)
            d->xlo = x;
        if (x > d->xhi)
            d->xhi = x;
    }
    d->points_hash = h;
    return 0;
}

int data_load(const options *o, const par *p, dataset *d)
{
    memset(d, 0, sizeof *d);
    d->xlo = INFINITY;
    d->xhi = -INFINITY;
    double t0 = tgfit_now();
    int rc = is_npy(o->data) ? load_npy(o, p, d) : load_csv(o, p, d);
    if (rc == 0)
        rc = check_finite(o, p, d);
    d->read_seconds = tgfit_now() - t0;
    bool report;
    if (par_failed(p, rc != 0, &report))
        return report ? TGFIT_FAIL_HERE : TGFIT_FAIL_QUIET;
    if (par_minmax(p, &d->xlo, &d->xhi))
        return -1;
    if (d->n_total == 0)
        return tgfit_fail("%s: no data rows", o->data);
    return 0;
}

void data_free(dataset *d)
{
    tg_free(d->table);
    tg_npy_view_close(&d->view);
    tg_npy_view_close(&d->view_y);
    d->table = NULL;
    d->x = d->y = d->w = NULL;
}
