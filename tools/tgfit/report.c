/*
** tgfit's outputs: the summary on stdout, the JSON file and the SVG plot,
** written by rank 0.  The JSON is one object whose keys are all distinct
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

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
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

static void json_array(FILE *f, const char *key, const double *v, int n)
{
    fprintf(f, "  \"%s\": ", key);
    if (!v) {
        fputs("null,\n", f);
        return;
    }
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        json_number(f, v[i]);
        fputs(i + 1 < n ? ", " : "", f);
    }
    fputs("],\n", f);
}

int report_json(const options *o, const par *p, const dataset *d, const fit_run *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tgfit_fail("cannot write %s: %s", path, strerror(errno));
    fputs("{\n", f);
    json_key_string(f, "  ", "format", "tgfit 1", false);
    json_key_string(f, "  ", "model", model_name(o->model), false);
    json_key_number(f, "  ", "degree", o->model == MODEL_LEGENDRE ? o->degree : NAN, false);
    json_key_string(f, "  ", "data", o->data, false);
    json_key_string(f, "  ", "x_column", o->xcol, false);
    json_key_string(f, "  ", "y_column", o->ycol, false);
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
    fprintf(f, "  \"interrupted\": %s,\n  \"diverged\": %s,\n", r->interrupted ? "true" : "false",
            r->diverged ? "true" : "false");
    json_key_number(f, "  ", "lstsq_degree", o->model == MODEL_LEGENDRE ? o->degree : 3, false);
    json_array(f, "lstsq_coefficients", r->lstsq_coef, r->n_lstsq);
    json_key_number(f, "  ", "lstsq_loss", r->lstsq_coef ? r->lstsq_loss : NAN, false);
    json_key_number(f, "  ", "relative_gap", r->lstsq_coef ? relative_gap(r) : NAN, false);
    json_key_number(f, "  ", "cond", r->cond, false);
    json_key_string(f, "  ", "lstsq_method", p->mpi ? "normal_equations" : "svd", false);
    json_key_string(f, "  ", "lstsq_note", r->lstsq_note, false);
    fputs("  \"settings\": {\n", f);
    json_key_string(f, "    ", "optimizer", optim_name(o->optimizer), false);
    json_key_number(f, "    ", "steps", (double)o->steps, false);
    json_key_number(f, "    ", "lr", r->lr, false);
    json_key_number(f, "    ", "batch", (double)o->batch, false);
    fprintf(f, "    \"seed\": %llu,\n", (unsigned long long)o->seed);
    json_key_number(f, "    ", "ranks", p->size, true);
    fputs("  },\n  \"timing\": {\n", f);
    json_key_number(f, "    ", "read_seconds", d->read_seconds, false);
    json_key_number(f, "    ", "lstsq_seconds", r->lstsq_seconds, false);
    json_key_number(f, "    ", "fit_seconds", r->fit_seconds, false);
    json_key_number(f, "    ", "total_seconds", r->total_seconds, false);
    json_key_number(f, "    ", "point_steps_per_second", point_steps_per_second(r), true);
    fputs("  }\n}\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return tgfit_fail("cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------- SVG
**
** Three panels, 900 pixels wide: the data (a sample of at most a few
** thousand points) with the fitted curve, the residuals y - fit, and the loss
** per step on a log scale.  The series are the elements with ids data, fit,
** residuals and loss. */

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

int report_svg(const options *o, const fit_run *r, const double *x, const double *y, int64_t n, const char *path)
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
