/*
** tgfit's SVG plot, written by rank 0: three panels, 900 pixels wide: the data
** (a sample of at most a few thousand points) with the fitted curve, the
** residuals y - fit, and the loss per step on a log scale.  The series are the
** elements with ids data, fit, residuals and loss.  It reads the fit through
** fit_predict and writes nothing else.
*/
#include "tgfit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SVG_W = 900, PANEL_H = 240, GAP = 60, LEFT = 90, RIGHT = 30, TOP = 50 };

typedef struct panel { double x0, x1, y0, y1; int top; } panel;

static double px(const panel *pn, double x) { return LEFT + (x - pn->x0) / (pn->x1 - pn->x0) * (SVG_W - LEFT - RIGHT); }
static double py(const panel *pn, double y) { return pn->top + PANEL_H - (y - pn->y0) / (pn->y1 - pn->y0) * PANEL_H; }

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void widen(double *lo, double *hi)
{
    if (!(*lo < *hi)) {
        double mid = isfinite(*lo) ? *lo : 0.0;
        *lo = mid - 1.0;
        *hi = mid + 1.0;
    }
}

static void frame(FILE *f, const panel *pn, const char *title, const char *ylabel, bool log_y)
{
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", LEFT, pn->top,
            SVG_W - LEFT - RIGHT, PANEL_H);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\">", LEFT, pn->top - 10);
    xml_text(f, title);
    fputs("</text>\n", f);
    fprintf(f, "<text x=\"10\" y=\"%d\" font-size=\"12\">", pn->top + PANEL_H / 2);
    xml_text(f, ylabel);
    fputs("</text>\n", f);
    double ys[2] = { pn->y0, pn->y1 };
    for (int i = 0; i < 2; i++)
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" font-size=\"11\" text-anchor=\"end\">%s%.4g</text>\n", LEFT - 4,
                py(pn, ys[i]) + 4, log_y ? "1e" : "", ys[i]);
    double xs[2] = { pn->x0, pn->x1 };
    for (int i = 0; i < 2; i++)
        fprintf(f, "<text x=\"%.2f\" y=\"%d\" font-size=\"11\" text-anchor=\"%s\">%.6g</text>\n", px(pn, xs[i]),
                pn->top + PANEL_H + 14, i ? "end" : "start", xs[i]);
}

static void points(FILE *f, const char *id, const char *color, const panel *pn, const double *x, const double *y,
                   int64_t n)
{
    fprintf(f, "<g id=\"%s\" fill=\"%s\">\n", id, color);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"1.5\"/>\n", px(pn, x[i]), py(pn, y[i]));
    fputs("</g>\n", f);
}

static void polyline(FILE *f, const char *id, const char *color, const panel *pn, const double *x, const double *y,
                     int64_t n)
{
    fprintf(f, "<polyline id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", id, color);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%s%.2f,%.2f", i ? " " : "", px(pn, x[i]), py(pn, y[i]));
    fputs("\"/>\n", f);
}

static void range_of(const double *v, int64_t n, double *lo, double *hi)
{
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(v[i]) && v[i] < *lo)
            *lo = v[i];
        if (isfinite(v[i]) && v[i] > *hi)
            *hi = v[i];
    }
}

/* Loss panel: log10 of the positive finite losses, at most 2000 of them. */
static void loss_panel(FILE *f, const fit_run *r, panel *pn)
{
    int64_t stride = r->n_hist > 2000 ? (r->n_hist + 1999) / 2000 : 1, m = 0;
    double *sx = malloc((size_t)(r->n_hist / stride + 2) * sizeof *sx);
    double *sy = malloc((size_t)(r->n_hist / stride + 2) * sizeof *sy);
    for (int64_t i = 0; sx && sy && i < r->n_hist; i += stride) {
        if (r->loss_hist[i] > 0 && isfinite(r->loss_hist[i])) {
            sx[m] = (double)(i + 1);
            sy[m++] = log10(r->loss_hist[i]);
        }
    }
    pn->x0 = 1;
    pn->x1 = (double)(r->n_hist > 1 ? r->n_hist : 2);
    pn->y0 = INFINITY;
    pn->y1 = -INFINITY;
    range_of(sy, m, &pn->y0, &pn->y1);
    widen(&pn->y0, &pn->y1);
    frame(f, pn, "loss per step (MSE, log scale) against step", "log10 loss", true);
    polyline(f, "loss", "#b03030", pn, sx, sy, m);
    if (m == 0)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">no training steps</text>\n", LEFT + 20,
                pn->top + PANEL_H / 2);
    free(sx);
    free(sy);
}

int plot_svg(const options *o, const fit_run *r, const double *x, const double *y, int64_t n, const char *path)
{
    enum { CURVE = 400 };
    double cx[CURVE], cy[CURVE], *pred = malloc((size_t)(n ? n : 1) * sizeof *pred);
    double *res = malloc((size_t)(n ? n : 1) * sizeof *res);
    int rc = pred && res ? 0 : tgfit_fail("out of memory");
    panel top = { INFINITY, -INFINITY, INFINITY, -INFINITY, TOP }, mid, bottom;
    range_of(x, n, &top.x0, &top.x1);
    widen(&top.x0, &top.x1);
    for (int i = 0; i < CURVE; i++)
        cx[i] = top.x0 + (top.x1 - top.x0) * i / (CURVE - 1);
    if (rc == 0)
        rc = fit_predict(o, r, cx, CURVE, cy);
    if (rc == 0)
        rc = fit_predict(o, r, x, n, pred);
    FILE *f = rc == 0 ? fopen(path, "w") : NULL;
    if (rc == 0 && !f)
        rc = tgfit_fail("cannot write %s: %s", path, strerror(errno));
    if (rc != 0)
        goto cleanup;
    for (int64_t i = 0; i < n; i++)
        res[i] = y[i] - pred[i];
    range_of(y, n, &top.y0, &top.y1);
    range_of(cy, CURVE, &top.y0, &top.y1);
    widen(&top.y0, &top.y1);
    mid = (panel){ top.x0, top.x1, INFINITY, -INFINITY, TOP + PANEL_H + GAP };
    range_of(res, n, &mid.y0, &mid.y1);
    double amp = fmax(fabs(mid.y0), fabs(mid.y1));
    mid.y0 = -amp;
    mid.y1 = amp;
    widen(&mid.y0, &mid.y1);
    bottom.top = TOP + 2 * (PANEL_H + GAP);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
            SVG_W, TOP + 3 * PANEL_H + 2 * GAP + 30, SVG_W, TOP + 3 * PANEL_H + 2 * GAP + 30);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<title>tgfit: ");
    xml_text(f, o->data);
    fputs("</title>\n", f);
    char title[256];
    snprintf(title, sizeof title, "%s: %lld sampled points and the fit (%s)", o->data, (long long)n,
             o->model == MODEL_LEGENDRE ? "Legendre series" : "a + b P3(c + d x)");
    frame(f, &top, title, o->ycol, false);
    points(f, "data", "#3060b0", &top, x, y, n);
    polyline(f, "fit", "#e08000", &top, cx, cy, CURVE);
    frame(f, &mid, "residuals y - fit", "residual", false);
    fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#aaa\"/>\n", LEFT, py(&mid, 0.0),
            SVG_W - RIGHT, py(&mid, 0.0));
    points(f, "residuals", "#309040", &mid, x, res, n);
    loss_panel(f, r, &bottom);
    fputs("</svg>\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        rc = tgfit_fail("cannot write %s: %s", path, strerror(errno));
cleanup:
    free(pred);
    free(res);
    return rc;
}
