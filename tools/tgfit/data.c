/*
** tgfit's input: two columns of a CSV file (by header name) or of a 2-d
** .npy array (by index), of which this rank keeps its contiguous slice of
** rows (all of them in one process).  A .npy file is memory-mapped, so a rank
** touches only the pages of its own rows; a CSV file is parsed whole by every
** rank.  Every point must be finite.
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

/* x, y <- columns cx, cy of rows [begin, begin + n) of the row-major [rows, n_cols] table. */
static int take_rows(const double *table, int64_t n_cols, int64_t cx, int64_t cy, dataset *d)
{
    d->x = tg_zeros(1, &d->n);
    d->y = tg_zeros(1, &d->n);
    if (!d->x || !d->y)
        return tgfit_fail("out of memory for %lld points", (long long)d->n);
    double *x = tg_data(d->x), *y = tg_data(d->y);
    const double *row = table + d->begin * n_cols;
    for (int64_t i = 0; i < d->n; i++, row += n_cols) {
        x[i] = row[cx];
        y[i] = row[cy];
    }
    return 0;
}

static int load_npy(const options *o, const par *p, dataset *d)
{
    tg_tensor *t = tg_mmap_npy(o->data);
    if (!t) {
        tg_clear_error();
        t = tg_load_npy(o->data);       /* other dtypes and Fortran order: converted copy */
    }
    if (!t)
        return tgfit_fail("%s", library_message());
    int rc = 0;
    if (tg_ndim(t) != 2) {
        rc = tgfit_fail("%s: a .npy input must be a 2-d array [points, columns], this one has %d dimensions",
                        o->data, tg_ndim(t));
        goto cleanup;
    }
    int64_t n_cols = tg_shape(t)[1], cx, cy, end;
    if (column_index("--x", o->xcol, n_cols, o->data, &cx) || column_index("--y", o->ycol, n_cols, o->data, &cy)) {
        rc = -1;
        goto cleanup;
    }
    d->n_total = tg_shape(t)[0];
    par_rows(p, d->n_total, &d->begin, &end);
    d->n = end - d->begin;
    rc = take_rows(tg_data(t), n_cols, cx, cy, d);
cleanup:
    tg_free(t);
    return rc;
}

static int load_csv(const options *o, const par *p, dataset *d)
{
    const char *cols[2] = { o->xcol, o->ycol };
    tg_tensor *t = tg_load_csv(o->data, 2, cols, NULL);
    if (!t)
        return tgfit_fail("%s", library_message());
    int64_t end;
    d->n_total = tg_shape(t)[0];
    par_rows(p, d->n_total, &d->begin, &end);
    d->n = end - d->begin;
    int rc = take_rows(tg_data(t), 2, 0, 1, d);
    tg_free(t);
    return rc;
}

/* The first non-finite value of this rank's slice, as a message. */
static int check_finite(const options *o, dataset *d)
{
    const double *x = tg_data(d->x), *y = tg_data(d->y);
    for (int64_t i = 0; i < d->n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            bool bad_x = !isfinite(x[i]);
            return tgfit_fail("%s: data row %lld: %s (column %s) is %g; every point must be finite", o->data,
                              (long long)(d->begin + i + 1), bad_x ? "x" : "y", bad_x ? o->xcol : o->ycol,
                              bad_x ? x[i] : y[i]);
        }
        if (x[i] < d->xlo)
            d->xlo = x[i];
        if (x[i] > d->xhi)
            d->xhi = x[i];
    }
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
        rc = check_finite(o, d);
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
    tg_free(d->x);
    tg_free(d->y);
    d->x = d->y = NULL;
}
