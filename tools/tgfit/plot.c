/* SPDX-License-Identifier: MIT */
/*
** tgfit's SVG plot, written by rank 0 and drawn the way matplotlib draws:
** three panels 900 pixels wide, each with a title, axis labels, ticks at
** round values (1, 2, 2.5 or 5 times a power of ten) and a light grid, and a
** legend.  The panels: the data (a sample of at most a few thousand points)
** with the fitted curve, the residuals y - fit, and the loss per step on a
** log axis with a tick at every decade (every second, third... when there are
** many).  The series are the elements with ids data, fit, residuals and loss;
** the tick labels of each axis are the <text> elements of the group with id
** xticks-<series> or yticks-<series>, so a test can read them.
*/
#include "tgfit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SVG_W = 900, PANEL_H = 230, GAP = 95, LEFT = 95, RIGHT = 30, TOP = 50, PANEL_W = SVG_W - LEFT - RIGHT };
enum { MAX_TICKS = 64 };

/* An axis: the range drawn and its ticks (log: the values are log10s). */
typedef struct axis {
    double lo, hi;
    bool log;
    int n;
    double tick[MAX_TICKS];
    char label[MAX_TICKS][32];
} axis;

typedef struct panel { axis x, y; int top; } panel;

static double px(const panel *pn, double x) { return LEFT + (x - pn->x.lo) / (pn->x.hi - pn->x.lo) * PANEL_W; }
static double py(const panel *pn, double y) { return pn->top + PANEL_H - (y - pn->y.lo) / (pn->y.hi - pn->y.lo) * PANEL_H; }

/* XML text for any bytes: invalid UTF-8 and the control characters XML forbids become U+FFFD. */
static void xml_text(FILE *f, const char *s)
{
    while (*s) {
        uint32_t cp;
        int n = utf8_char(s, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r'))
            fputs("\xef\xbf\xbd", f);
        else if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"')
            fputs("&quot;", f);
        else
            fwrite(s, 1, (size_t)n, f);
        s += n ? n : 1;
    }
}

/* The range of the finite values, widened by 5% on each side (matplotlib's margins). */
static void data_range(axis *a, const double *v, int64_t n, bool symmetric)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(v[i]) && v[i] < lo)
            lo = v[i];
        if (isfinite(v[i]) && v[i] > hi)
            hi = v[i];
    }
    if (lo < a->lo)
        a->lo = lo;
    if (hi > a->hi)
        a->hi = hi;
    if (symmetric) {
        double amp = fmax(fabs(a->lo), fabs(a->hi));
        a->lo = -amp;
        a->hi = amp;
    }
}

static void finish_range(axis *a)
{
    if (!(a->lo < a->hi)) {                                /* one value, or none */
        double mid = isfinite(a->lo) ? a->lo : 0.0, half = mid != 0 ? fabs(mid) * 0.1 : 1.0;
        a->lo = mid - half;
        a->hi = mid + half;
    }
    double margin = 0.05 * (a->hi - a->lo);
    a->lo -= margin;
    a->hi += margin;
}

/* Ticks at the multiples of the smallest 1, 2, 2.5 or 5 times a power of ten
** (matplotlib's steps) that leaves at most 9 of them inside [lo, hi]; whole
** numbers on an integer axis. */
static void linear_ticks(axis *a, bool integer)
{
    double raw = (a->hi - a->lo) / 8.0, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    double m = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 2.5 ? 2.5 : f <= 5.0 ? 5.0 : 10.0;
    if (m == 10.0)
        m = 1.0, mag *= 10.0;
    if (integer && mag <= 1.0 && m == 2.5)
        m = 5.0;
    if (integer && m * mag < 1.0)
        m = mag = 1.0;
    double step = m * mag;
    double k0 = ceil(a->lo / step - 1e-9), k1 = floor(a->hi / step + 1e-9);
    double big = fmax(fabs(k0 * step), fabs(k1 * step));
    /* one format per axis: fixed with the step's decimals, or for tiny steps and huge values
    ** scientific with the mantissa digits that tell the ticks apart (2.5 needs one more) */
    int extra = m == 2.5 ? 1 : 0;
    int decimals = mag >= 1 && !(m == 2.5 && mag == 1) ? 0 : (int)ceil(-log10(mag) - 1e-9) + extra;
    int digits = (int)(floor(log10(big > 0 ? big : step)) - floor(log10(mag) + 1e-9)) + extra;
    bool fixed = step >= 1e-4 && big < 1e9;
    a->n = 0;
    for (double k = k0; k <= k1 && a->n < MAX_TICKS; k++) {
        double v = k * step;
        a->tick[a->n] = v;
        if (k == 0)
            snprintf(a->label[a->n], sizeof a->label[0], "0");
        else if (fixed)
            snprintf(a->label[a->n], sizeof a->label[0], "%.*f", decimals < 0 ? 0 : decimals, v);
        else
            snprintf(a->label[a->n], sizeof a->label[0], "%.*e", digits < 0 ? 0 : digits > 16 ? 16 : digits, v);
        a->n++;
    }
}

/* A log axis over whole decades: ticks 10^k at every e-th decade, labelled "10^k". */
static void decade_ticks(axis *a)
{
    a->lo = floor(a->lo);
    a->hi = ceil(a->hi);
    if (a->hi - a->lo < 1) {
        a->lo -= 1;
        a->hi += 1;
    }
    int every = (int)ceil((a->hi - a->lo) / 8.0);
    a->n = 0;
    for (double k = a->lo; k <= a->hi && a->n < MAX_TICKS; k++) {
        if (fmod(k - a->lo, every) != 0)
            continue;
        a->tick[a->n] = k;
        snprintf(a->label[a->n], sizeof a->label[0], "%d", (int)k);
        a->n++;
    }
}

static void tick_labels(FILE *f, const panel *pn, const char *series)
{
    fprintf(f, "<g id=\"xticks-%s\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\">\n", series);
    for (int i = 0; i < pn->x.n; i++)
        fprintf(f, "<text x=\"%.2f\" y=\"%d\">%s</text>\n", px(pn, pn->x.tick[i]), pn->top + PANEL_H + 18,
                pn->x.label[i]);
    fprintf(f, "</g>\n<g id=\"yticks-%s\" font-size=\"11\" text-anchor=\"end\" fill=\"#222\"%s>\n", series,
            pn->y.log ? " class=\"log\"" : "");
    for (int i = 0; i < pn->y.n; i++) {
        double y = py(pn, pn->y.tick[i]) + 4;
        if (pn->y.log)            /* 10 with the exponent raised, as matplotlib's 10^{k} */
            fprintf(f, "<text x=\"%d\" y=\"%.2f\">10<tspan dy=\"-6\" font-size=\"8\">%s</tspan></text>\n",
                    LEFT - 8 - 5 * (int)strlen(pn->y.label[i]), y, pn->y.label[i]);
        else
            fprintf(f, "<text x=\"%d\" y=\"%.2f\">%s</text>\n", LEFT - 8, y, pn->y.label[i]);
    }
    fputs("</g>\n", f);
}

/* Grid, ticks, frame, title and axis labels of one panel; the series go on top. */
static void frame(FILE *f, const panel *pn, const char *series, const char *title, const char *xlabel,
                  const char *ylabel)
{
    int bottom = pn->top + PANEL_H;
    fputs("<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < pn->x.n; i++)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>\n", px(pn, pn->x.tick[i]), pn->top,
                px(pn, pn->x.tick[i]), bottom);
    for (int i = 0; i < pn->y.n; i++)
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", LEFT, py(pn, pn->y.tick[i]),
                LEFT + PANEL_W, py(pn, pn->y.tick[i]));
    fputs("</g>\n<g stroke=\"#222\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < pn->x.n; i++)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>\n", px(pn, pn->x.tick[i]), bottom,
                px(pn, pn->x.tick[i]), bottom + 5);
    for (int i = 0; i < pn->y.n; i++)
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", LEFT - 5, py(pn, pn->y.tick[i]), LEFT,
                py(pn, pn->y.tick[i]));
    if (pn->y.log)                                        /* minor ticks at 2..9 times each decade */
        for (double k = pn->y.lo; k < pn->y.hi && pn->y.hi - pn->y.lo <= 6; k++)
            for (int m = 2; m <= 9; m++)
                fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", LEFT - 3,
                        py(pn, k + log10(m)), LEFT, py(pn, k + log10(m)));
    fputs("</g>\n", f);
    tick_labels(f, pn, series);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"middle\">", LEFT + PANEL_W / 2,
            pn->top - 12);
    xml_text(f, title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">", LEFT + PANEL_W / 2,
            bottom + 38);
    xml_text(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(22 %d) rotate(-90)\" font-size=\"12\" "
               "text-anchor=\"middle\">", pn->top + PANEL_H / 2);
    xml_text(f, ylabel);
    fputs("</text>\n", f);
}

static void frame_box(FILE *f, const panel *pn)
{
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#222\"/>\n", LEFT, pn->top,
            PANEL_W, PANEL_H);
}

/* The series a legend must not hide: up to two of them. */
typedef struct crowd { const double *x[2], *y[2]; int64_t n[2]; } crowd;

static int64_t hidden(const panel *pn, const crowd *c, int x, int y, int w, int h)
{
    int64_t count = 0;
    for (int s = 0; s < 2; s++)
        for (int64_t i = 0; i < c->n[s]; i++) {
            double u = px(pn, c->x[s][i]), v = py(pn, c->y[s][i]);
            count += u >= x && u <= x + w && v >= y && v <= y + h;
        }
    return count;
}

/* A legend of n entries, a marker ('o') or a line ('-') each, in the corner
** where it hides the fewest points (matplotlib's loc="best"; upper right on a tie). */
static void legend(FILE *f, const panel *pn, const crowd *c, int n, const char *const *names,
                   const char *const *colors, const char *kinds)
{
    int w = 0, h = 8 + 18 * n;
    for (int i = 0; i < n; i++)
        w = (int)strlen(names[i]) > w ? (int)strlen(names[i]) : w;
    w = w * 7 + 44;
    int xs[2] = { LEFT + PANEL_W - w - 10, LEFT + 10 }, ys[2] = { pn->top + 10, pn->top + PANEL_H - h - 10 };
    int x = xs[0], y = ys[0];
    int64_t best = -1;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            int64_t k = hidden(pn, c, xs[i], ys[j], w, h);
            if (best < 0 || k < best)
                best = k, x = xs[i], y = ys[j];
        }
    fprintf(f, "<g class=\"legend\" font-size=\"12\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"3\" "
               "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n", x, y, w, h);
    for (int i = 0; i < n; i++) {
        int cy = y + 14 + 18 * i;
        if (kinds[i] == 'o')
            fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"/>\n", x + 18, cy, colors[i]);
        else
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n", x + 8,
                    cy, x + 28, cy, colors[i]);
        fprintf(f, "<text x=\"%d\" y=\"%d\">", x + 36, cy + 4);
        xml_text(f, names[i]);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

static void points(FILE *f, const char *id, const char *color, const panel *pn, const double *x, const double *y,
                   int64_t n)
{
    fprintf(f, "<g id=\"%s\" fill=\"%s\" fill-opacity=\"0.7\">\n", id, color);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"1.6\"/>\n", px(pn, x[i]), py(pn, y[i]));
    fputs("</g>\n", f);
}

static void polyline(FILE *f, const char *id, const char *color, const panel *pn, const double *x, const double *y,
                     int64_t n)
{
    fprintf(f, "<polyline id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", id, color);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%s%.2f,%.2f", i ? " " : "", px(pn, x[i]), py(pn, y[i]));
    fputs("\"/>\n", f);
}

enum { CURVE = 400 };

/* Everything the plot shows, computed before the file is opened. */
typedef struct figure {
    double cx[CURVE], cy[CURVE];  /* the fitted curve */
    double *res;                  /* y - fit at the sampled points */
    double *lx, *ly;              /* steps and log10 losses, at most 2000 */
    int64_t nl;
    panel top, mid, bottom;
} figure;

static int compute(figure *g, const options *o, const fit_run *r, const double *x, const double *y, int64_t n)
{
    int64_t stride = r->n_hist > 2000 ? (r->n_hist + 1999) / 2000 : 1;
    g->res = malloc((size_t)(n ? n : 1) * sizeof *g->res);
    g->lx = malloc((size_t)(r->n_hist / stride + 2) * sizeof *g->lx);
    g->ly = malloc((size_t)(r->n_hist / stride + 2) * sizeof *g->ly);
    if (!g->res || !g->lx || !g->ly)
        return tgfit_fail("out of memory for the plot");
    axis empty = { .lo = INFINITY, .hi = -INFINITY };
    g->top = (panel){ empty, empty, TOP };
    data_range(&g->top.x, x, n, false);
    axis span = g->top.x;                                  /* the curve covers the data's x */
    if (!(span.lo < span.hi))
        finish_range(&span);
    for (int i = 0; i < CURVE; i++)
        g->cx[i] = span.lo + (span.hi - span.lo) * i / (CURVE - 1);
    if (fit_predict(o, r, g->cx, CURVE, g->cy) || fit_predict(o, r, x, n, g->res))
        return TGFIT_FAIL;
    for (int64_t i = 0; i < n; i++)
        g->res[i] = y[i] - g->res[i];
    finish_range(&g->top.x);
    data_range(&g->top.y, y, n, false);
    data_range(&g->top.y, g->cy, CURVE, false);
    finish_range(&g->top.y);
    g->mid = (panel){ g->top.x, empty, TOP + PANEL_H + GAP };
    data_range(&g->mid.y, g->res, n, true);
    finish_range(&g->mid.y);
    g->nl = 0;
    for (int64_t i = 0; i < r->n_hist; i += stride)
        if (r->loss_hist[i] > 0 && isfinite(r->loss_hist[i])) {
            g->lx[g->nl] = (double)(i + 1);
            g->ly[g->nl++] = log10(r->loss_hist[i]);
        }
    g->bottom = (panel){ { .lo = 0, .hi = (double)(r->n_hist > 1 ? r->n_hist : 2) }, empty, TOP + 2 * (PANEL_H + GAP) };
    g->bottom.y.log = true;
    data_range(&g->bottom.y, g->ly, g->nl, false);
    if (!(g->bottom.y.lo <= g->bottom.y.hi))
        g->bottom.y.lo = g->bottom.y.hi = 0;
    linear_ticks(&g->top.x, false);
    linear_ticks(&g->top.y, false);
    g->mid.x = g->top.x;
    linear_ticks(&g->mid.y, false);
    linear_ticks(&g->bottom.x, true);
    decade_ticks(&g->bottom.y);
    return 0;
}

static void draw(FILE *f, const figure *g, const options *o, const fit_run *r, const double *x, const double *y,
                 int64_t n)
{
    int height = TOP + 3 * PANEL_H + 2 * GAP + 55;
    char title[256], sampled[64], fit[64], series[80];
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n",
            SVG_W, height, SVG_W, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<title>tgfit: ");
    xml_text(f, o->data);
    fputs("</title>\n", f);
    if (o->model == MODEL_LEGENDRE)
        snprintf(series, sizeof series, "Legendre series of degree %d", o->degree);
    else
        snprintf(series, sizeof series, "a + b P3(c + d x)");
    snprintf(title, sizeof title, "%s fitted to %s", series, strcmp(o->data, "-") ? o->data : "standard input");
    snprintf(sampled, sizeof sampled, "data (%lld points shown)", (long long)n);
    snprintf(fit, sizeof fit, "fit, MSE %.4g", r->loss);
    frame(f, &g->top, "data", title, o->xcol, o->ycol);
    points(f, "data", "#1f77b4", &g->top, x, y, n);
    polyline(f, "fit", "#ff7f0e", &g->top, g->cx, g->cy, CURVE);
    frame_box(f, &g->top);
    legend(f, &g->top, &(crowd){ { x, g->cx }, { y, g->cy }, { n, CURVE } }, 2, (const char *const[]){ sampled, fit }, (const char *const[]){ "#1f77b4", "#ff7f0e" }, "o-");

    frame(f, &g->mid, "residuals", "residuals", o->xcol, "y - fit");
    fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#888\"/>\n", LEFT, py(&g->mid, 0.0),
            LEFT + PANEL_W, py(&g->mid, 0.0));
    points(f, "residuals", "#2ca02c", &g->mid, x, g->res, n);
    frame_box(f, &g->mid);
    legend(f, &g->mid, &(crowd){ { x, NULL }, { g->res, NULL }, { n, 0 } }, 1, (const char *const[]){ "y - fit" }, (const char *const[]){ "#2ca02c" }, "o");

    frame(f, &g->bottom, "loss", "training loss", "step", "loss (MSE)");
    polyline(f, "loss", "#d62728", &g->bottom, g->lx, g->ly, g->nl);
    if (g->nl == 0)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">no training steps</text>\n",
                LEFT + PANEL_W / 2, g->bottom.top + PANEL_H / 2);
    frame_box(f, &g->bottom);
    legend(f, &g->bottom, &(crowd){ { g->lx, NULL }, { g->ly, NULL }, { g->nl, 0 } }, 1, (const char *const[]){ o->batch ? "loss of the step's minibatch" : "loss per step" },
           (const char *const[]){ "#d62728" }, "-");
    fputs("</svg>\n", f);
}

int plot_svg(const options *o, const fit_run *r, const double *x, const double *y, int64_t n, const char *path)
{
    figure *g = calloc(1, sizeof *g);
    int rc = g ? compute(g, o, r, x, y, n) : tgfit_fail("out of memory for the plot");
    output w;
    if (rc == 0)
        rc = output_open(&w, "--plot", path);
    if (rc == 0) {
        draw(w.f, g, o, r, x, y, n);
        rc = output_close(&w);
    }
    if (g) {
        free(g->res);
        free(g->lx);
        free(g->ly);
    }
    free(g);
    return rc;
}
