/* SPDX-License-Identifier: MIT */
/*
** NumPy broadcasting of shapes: trailing dimensions aligned, sizes equal or 1.
** Core layer; the ops use it to size their outputs and the elementwise
** Functions to walk operands.  Also the two broadcast copies every layer
** stands on, computed straight into fresh tensors (no graph): x broadcast up
** to a shape, and x summed back down to it (expand's and sum_to's values).
*/
#include "internal.h"
#include "../kernels/kernels.h"

#include <string.h>

/* The error of tg__broadcast_shape, out of line: its buffers stay off the
** hot path's stack frame. */
TG_COLD static bool mismatch(const char *fn, int na, const int64_t *sa, int nb, const int64_t *sb, int i,
                             int64_t da, int64_t db)
{
    char bufa[TG__SHAPE_STR], bufb[TG__SHAPE_STR];
    tg__error(TG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)",
              fn, tg__shape_str(bufa, na, sa), tg__shape_str(bufb, nb, sb), i,
              (long long)da, (long long)db);
    return false;
}

bool tg__broadcast_shape(const char *fn, int na, const int64_t *sa, int nb, const int64_t *sb,
                         int *nout, int64_t *sout)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return mismatch(fn, na, sa, nb, sb, i, da, db);
        sout[i] = da == 1 ? db : da;
    }
    *nout = n;
    return true;
}

/* Aligns src (ndim ns) to the n dims of the big shape; false unless every
** dim of src is 1 or equal to big's. */
static bool align_shape(int n, const int64_t *big, int ns, const int64_t *src, int64_t *aligned)
{
    if (ns > n)
        return false;
    for (int d = 0; d < n; d++) {
        int is = ns - n + d;
        aligned[d] = is >= 0 ? src[is] : 1;
        if (aligned[d] != 1 && aligned[d] != big[d])
            return false;
    }
    return true;
}

/* Walks big (n dims) against small (aligned, dims 1 or equal): for every
** maximal inner run of dims that are all kept or all broadcast, calls
** visit(big offset, small offset, run length, broadcast?). */
typedef void (*run_fn)(void *self, int64_t ob, int64_t os, int64_t len, bool bcast);

static void walk_broadcast(int n, const int64_t *big, const int64_t *small, run_fn visit, void *self)
{
    int64_t ss[TG_MAX_DIMS], e = 1, numel = 1;
    for (int d = n - 1; d >= 0; d--) {
        ss[d] = small[d] == 1 ? 0 : e;
        e *= small[d];
        numel *= big[d];
    }
    if (numel == 0)
        return;
    int from = n;
    int64_t inner = 1;
    bool bc = n > 0 && small[n - 1] == 1 && big[n - 1] != 1;
    while (from > 0) {
        int d = from - 1;
        if (big[d] != 1 && (small[d] == 1) != bc)
            break;
        inner *= big[d];
        from = d;
    }
    int64_t idx[TG_MAX_DIMS] = {0}, os = 0;
    for (int64_t ob = 0; ob < numel; ob += inner) {
        visit(self, ob, os, inner, bc);
        for (int d = from - 1; d >= 0; d--) {
            os += ss[d];
            if (++idx[d] < big[d])
                break;
            os -= ss[d] * idx[d];
            idx[d] = 0;
        }
    }
}

typedef struct span_pair { const double *src; double *dst; } span_pair;

static void expand_run(void *self, int64_t ob, int64_t os, int64_t len, bool bcast)
{
    span_pair *p = self;
    if (bcast) {
        tg__kern()->fill(len, p->src[os], p->dst + ob);
    } else {
        memcpy(p->dst + ob, p->src + os, (size_t)len * sizeof(double));
    }
}

static void sum_run(void *self, int64_t ob, int64_t os, int64_t len, bool bcast)
{
    span_pair *p = self;
    if (bcast)
        p->dst[os] += tg__kern()->sum(len, p->src + ob);
    else
        tg__kern()->acc(len, p->src + ob, p->dst + os);
}

static tg_status shape_error(const char *fn, const char *verb, const tg_tensor *a, int ndim, const int64_t *shape)
{
    char b1[TG__SHAPE_STR], b2[TG__SHAPE_STR];
    return tg__error(TG_ERR_SHAPE, "%s: cannot %s %s to %s", fn, verb,
                     tg__shape_str(b1, a->ndim, a->shape), tg__shape_str(b2, ndim, shape));
}

tg_status tg__broadcast_check(const char *fn, const tg_tensor *x, int ndim, const int64_t *shape, bool sum)
{
    int64_t small[TG_MAX_DIMS];
    bool ok = sum ? align_shape(x->ndim, x->shape, ndim, shape, small) : align_shape(ndim, shape, x->ndim, x->shape, small);
    return ok ? TG_OK : shape_error(fn, sum ? "sum" : "expand", x, ndim, shape);
}

void tg__expand_into(const tg_tensor *x, tg_tensor *out)
{
    int64_t small[TG_MAX_DIMS];
    if (!align_shape(out->ndim, out->shape, x->ndim, x->shape, small))
        return;   /* checked by the caller */
    span_pair p = {x->data, out->data};
    walk_broadcast(out->ndim, out->shape, small, expand_run, &p);
}

void tg__sum_to_into(const tg_tensor *x, tg_tensor *out)
{
    int64_t small[TG_MAX_DIMS];
    if (!align_shape(x->ndim, x->shape, out->ndim, out->shape, small))
        return;   /* checked by the caller */
    if (out->numel == 1 && tg__sum_to_one_run(x)) {   /* 0 + the sum of all of x */
        out->data[0] = 0.0 + tg__kern()->sum(x->numel, x->data);
    } else {
        memset(out->data, 0, (size_t)out->numel * sizeof(double));
        span_pair p = {x->data, out->data};
        walk_broadcast(x->ndim, x->shape, small, sum_run, &p);
    }
}

tg_tensor *tg__expand_now(const char *fn, tg_tensor *x, int ndim, const int64_t *shape)
{
    int64_t small[TG_MAX_DIMS];
    if (!x)
        return NULL;
    if (!align_shape(ndim, shape, x->ndim, x->shape, small)) {
        shape_error(fn, "expand", x, ndim, shape);
        return NULL;
    }
    tg_tensor *out = tg__adopt(tg__tensor_new(fn, ndim, shape));
    if (out)
        tg__expand_into(x, out);
    return out;
}

tg_tensor *tg__sum_to_now(const char *fn, tg_tensor *x, int ndim, const int64_t *shape)
{
    int64_t small[TG_MAX_DIMS];
    if (!x)
        return NULL;
    if (!align_shape(x->ndim, x->shape, ndim, shape, small)) {
        shape_error(fn, "sum", x, ndim, shape);
        return NULL;
    }
    tg_tensor *out = tg__adopt(tg__tensor_new(fn, ndim, shape));
    if (out)
        tg__sum_to_into(x, out);
    return out;
}

/* ------------------------------------------------------------ index maps */

bool tg__imap_make(int ns, const int64_t *small, int nb, const int64_t *big, tg__imap *m)
{
    int64_t size[TG_MAX_DIMS], stride[TG_MAX_DIMS], e = 1;
    int n = 0;
    if (ns > nb)
        return false;
    for (int d = nb - 1; d >= 0; d--) {   /* innermost first */
        int is = ns - nb + d;
        int64_t s = is >= 0 ? small[is] : 1;
        if (s != 1 && s != big[d])
            return false;
        if (big[d] == 1)
            continue;
        size[n] = big[d];
        stride[n] = s == 1 ? 0 : e;
        e *= s;
        n++;
    }
    m->n = 0;
    for (int k = n - 1; k >= 0; k--) {   /* outermost first, adjacent dims merged */
        int j = m->n - 1;
        if (j >= 0 && ((m->stride[j] == 0 && stride[k] == 0) ||
                       (stride[k] != 0 && m->stride[j] == stride[k] * size[k]))) {
            m->size[j] *= size[k];
            m->stride[j] = stride[k];
            continue;
        }
        m->size[m->n] = size[k];
        m->stride[m->n++] = stride[k];
    }
    if (m->n == 0)
        m->size[m->n] = 1, m->stride[m->n++] = 0;
    return true;
}

void tg__imap_gather(const tg__imap *m, const double *src, int64_t lo, int64_t nb, double *dst)
{
    int64_t coord[TG_MAX_DIMS], off = 0, r = lo;
    int last = m->n - 1;
    for (int d = last; d >= 0; d--) {
        coord[d] = r % m->size[d];
        r /= m->size[d];
        off += coord[d] * m->stride[d];
    }
    for (int64_t j = 0; j < nb;) {
        int64_t run = m->size[last] - coord[last];
        run = run < nb - j ? run : nb - j;
        if (m->stride[last] == 0)
            tg__kern()->fill(run, src[off], dst + j);
        else if (m->stride[last] == 1)
            memcpy(dst + j, src + off, (size_t)run * sizeof *dst);
        else
            for (int64_t q = 0; q < run; q++)
                dst[j + q] = src[off + q * m->stride[last]];
        j += run;
        coord[last] += run;
        off += run * m->stride[last];
        for (int d = last; d > 0 && coord[d] == m->size[d]; d--) {
            off += m->stride[d - 1] - coord[d] * m->stride[d];
            coord[d] = 0;
            coord[d - 1]++;
        }
    }
}
