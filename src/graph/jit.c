/* SPDX-License-Identifier: MIT */
/*
** The compiled executor: each pass of a plan written as one C function over a
** block of points, with every elementwise value a local of the loop body (so
** no intermediate array exists), reductions in 2 x 8 lanes per block, stores and
** parameter updates last.  The source is compiled and loaded by toolchain.c
** (the system compiler with -O3 -march=native, an on-disk cache of built
** kernels).  -march=native lets the
** compiler contract a * b + c into FMA, so results can differ from the
** interpreter's in the last bits.
**
** A user span kernel splits a pass's loop: the values its call reads are
** written to block arrays (scratch the replay passes in, g->block
** points each), the kernel runs on the block through a pointer from the
** replay's table (never written into the source, which is cached by its
** text), and a new loop over the block reads its output from its array.
** Reductions keep their lane per point across the loops.
*/
#define _POSIX_C_SOURCE 200809L
#include "capture.h"
#include "../kernels/kernels.h"
#include "toolchain.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

typedef struct sbuf { char *p; size_t n, cap; bool oom; } sbuf;

static void vput(sbuf *s, const char *fmt, va_list ap)
{
    for (int tries = 0; tries < 2 && !s->oom; tries++) {
        va_list aq;
        va_copy(aq, ap);
        int w = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? s->cap - s->n : 0, fmt, aq);
        va_end(aq);
        if (w < 0) {
            s->oom = true;
        } else if (s->p && (size_t)w < s->cap - s->n) {
            s->n += (size_t)w;
            return;
        } else {
            size_t cap = (s->cap + (size_t)w + 1) * 2;
            char *q = tg__realloc(s->p, cap);
            if (!q)
                s->oom = true;
            s->p = q ? q : s->p;
            s->cap = q ? cap : s->cap;
        }
    }
}

static void put(sbuf *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(s, fmt, ap);
    va_end(ap);
}

/* put for the descriptors' emitters (tg__put_fn) */
static void put_sink(void *sink, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(sink, fmt, ap);
    va_end(ap);
}

/* The layout of one pass: the loop (segment) computing each elementwise
** value, and the block arrays (slots of tmp) of the values read across a
** span call or a loop boundary and of the scalars a span call reads. */
typedef struct layout {
    const tg_graph *g;
    bool *seen;                      /* per value: read by the pass (emit_reads) */
    bool *in;                        /* per value: computed by the pass */
    int *seg, *slot, *fill;          /* per value; -1: none */
    int n_seg, n_slot;
    int cur;                         /* the segment being written */
} layout;

static bool is_span(const tg__grec *r) { return r->type == REC_SPAN || r->type == REC_SPAN_BWD; }

static const tg__grec *producer(const tg_graph *g, int v) { return &g->rec[g->val[v].producer]; }

/* v's kind in the pass being written: an elementwise value an earlier pass
** stored (shared, not computed here) is read from its buffer. */
static int kind_of(const layout *L, int v)
{
    int kind = L->g->val[v].kind;
    return kind == V_ELEM && !L->in[v] ? V_BUF : kind;
}

/* How the body reads value v: a local, a block array, a buffer element or a scalar. */
static const char *name(char *b, const layout *L, int v)
{
    v = tg__graph_root(L->g, v);
    int kind = kind_of(L, v);
    if (kind == V_ELEM && (is_span(producer(L->g, v)) || L->seg[v] != L->cur))
        snprintf(b, 40, "t%d[q]", v);
    else
        snprintf(b, 40, kind == V_ELEM ? "v%d" : kind == V_BUF ? "b%d[k]" : "s%d", v);
    return b;
}

/* The segment a consumer of v (reduction, store, update) runs in. */
static int seg_of(const layout *L, int v)
{
    v = tg__graph_root(L->g, v);
    return kind_of(L, v) == V_ELEM ? L->seg[v] : 0;
}

static void needs_slot(layout *L, int v)
{
    if (L->slot[v] < 0)
        L->slot[v] = L->n_slot++;
}

/* Segments and block arrays of pass ps. */
static void lay_out(layout *L, const tg__pass *ps)
{
    const tg_graph *g = L->g;
    for (int v = 0; v < g->n_val; v++)
        L->seg[v] = 0, L->slot[v] = L->fill[v] = -1, L->in[v] = false;
    for (int e = 0; e < ps->n_elem; e++)
        L->in[ps->elem[e]] = true;
    L->n_seg = 1, L->n_slot = 0;
    for (int e = 0; e < ps->n_elem; e++) {   /* topological: inputs first */
        const tg__grec *r = producer(g, ps->elem[e]);
        int m = 0;
        for (int i = 0; i < r->n_in; i++) {
            int u = tg__graph_root(g, r->in[i]);
            if (kind_of(L, u) == V_ELEM && L->seg[u] > m)
                m = L->seg[u];
        }
        L->seg[ps->elem[e]] = m + is_span(r);
        L->n_seg = m + is_span(r) + 1 > L->n_seg ? m + is_span(r) + 1 : L->n_seg;
    }
    for (int e = 0; e < ps->n_elem; e++) {
        int v = ps->elem[e];
        const tg__grec *r = producer(g, v);
        for (int i = 0; i < r->n_in; i++) {
            int u = tg__graph_root(g, r->in[i]), kind = kind_of(L, u);
            if (is_span(r) && ps->span_mask[e] && (kind == V_SCAL || kind == V_UNIF) && L->fill[u] < 0)
                L->fill[u] = L->n_slot++;
            else if (kind == V_ELEM && (is_span(r) ? ps->span_mask[e] != 0 : L->seg[u] < L->seg[v]))
                needs_slot(L, u);
        }
        for (int o = 0; is_span(r) && o < r->n_out; o++)
            if (ps->span_mask[e] >> o & 1u)
                needs_slot(L, r->out[o]);
    }
    for (int u = 0; u < ps->n_upd; u++) {   /* updates run in the last loop: gradients made before it */
        int v = tg__graph_root(g, g->gval[ps->upd[u]]);
        if (kind_of(L, v) == V_ELEM && L->seg[v] < L->n_seg - 1)
            needs_slot(L, v);
    }
}

/* desc->expr with %0, %1 replaced by the inputs' expressions and %a0, %a1
** by the double arguments as exact literals. */
static void emit_expr(sbuf *s, int v, const char *expr, const char *const *x, const double *args)
{
    char b[40];
    put(s, "    const double v%d = ", v);
    for (const char *p = expr; *p; p++) {
        if (p[0] == '%' && p[1] >= '0' && p[1] <= '9') {
            put(s, "%s", x[p[1] - '0']);
            p++;
        } else if (p[0] == '%' && p[1] == 'a' && p[2] >= '0' && p[2] <= '9') {
            put(s, "%s", tg__c_double(b, args[p[2] - '0']));
            p += 2;
        } else {
            put(s, "%c", *p);
        }
    }
    put(s, ";\n");
}

/* How the body reads input i of r through its index map: b<v>[index of k]
** (b holds 400 chars: at most TG_MAX_DIMS terms). */
static const char *bcast_name(char *b, const tg_graph *g, const tg__grec *r, int i)
{
    const tg__imap *m = &r->imap[i];
    int n = snprintf(b, 400, "b%d[0", tg__graph_root(g, r->in[i]));
    int64_t inner = 1;
    for (int d = m->n - 1; d >= 0; inner *= m->size[d], d--) {
        if (m->stride[d] == 0)
            continue;
        n += snprintf(b + n, (size_t)(400 - n), " + ");
        n += snprintf(b + n, (size_t)(400 - n), inner == 1 ? "(k" : "(k / %lldLL", (long long)inner);
        n += snprintf(b + n, (size_t)(400 - n), d == 0 ? ")" : " %% %lldLL)", (long long)m->size[d]);
        if (m->stride[d] != 1)
            n += snprintf(b + n, (size_t)(400 - n), " * %lldLL", (long long)m->stride[d]);
    }
    snprintf(b + n, (size_t)(400 - n), "]");
    return b;
}

/* The declaration of elementwise value v from its op's descriptor (an
** expand: the element its index map reads). */
static void emit_value(sbuf *s, const layout *L, int v)
{
    const tg__grec *r = &L->g->rec[L->g->val[v].producer];
    char names[TG_MAX_FN_ARITY][400];
    const char *x[TG_MAX_FN_ARITY];
    for (int i = 0; i < r->n_in; i++)
        x[i] = r->bcast >> i & 1u ? bcast_name(names[i], L->g, r, i) : name(names[i], L, r->in[i]);
    if (r->desc->kind == TG__OPK_EXPAND)
        put(s, "    const double v%d = %s;\n", v, x[0]);
    else if (r->desc->expr)
        emit_expr(s, v, r->desc->expr, x, r->args);
    else
        r->desc->emit(put_sink, s, v, x, r->args);
}

/* Declarations of the scalars and buffers the pass reads (its ops' inputs,
** and the gradients it updates with: a shared one is a buffer). */
static void emit_reads(sbuf *s, const layout *L, const tg__pass *ps)
{
    const tg_graph *g = L->g;
    bool *seen = L->seen;
    char b[40];
    memset(seen, 0, (size_t)g->n_val);
    for (int e = 0; e < ps->n_elem + ps->n_red + ps->n_upd; e++) {
        const tg__grec *r = e < ps->n_elem ? &g->rec[g->val[ps->elem[e]].producer]
                          : e < ps->n_elem + ps->n_red ? &g->rec[ps->red[e - ps->n_elem]] : NULL;
        int n_in = r ? r->n_in : 1;
        for (int i = 0; i < n_in; i++) {
            int v = tg__graph_root(g, r ? r->in[i] : g->gval[ps->upd[e - ps->n_elem - ps->n_red]]);
            if (seen[v] || kind_of(L, v) == V_ELEM)
                continue;
            seen[v] = true;
            if (kind_of(L, v) == V_BUF)
                put(s, "    const double *const b%d = buf[%d];\n", v, v);
            else if (g->val[v].constant)   /* the compiler folds a product with 1 away */
                put(s, "    const double s%d = %s;\n", v, tg__c_double(b, g->val[v].cval));
            else
                put(s, "    const double s%d = sc[%d];\n", v, v);
        }
    }
}

/* The optimizer's update of the u-th parameter the pass updates, from its
** descriptor (src/optim), at point k: the parameter u<u>[k], the gradient g,
** the state o<u>_<b>[k] and the per-step scalars os<u>_<k> (emit_pass). */
static void emit_update(sbuf *s, const layout *L, int u, const char *g)
{
    char p[40], stn[TG__OPTIM_STATES][40], scn[TG__OPTIM_SCALARS][40];
    const char *st[TG__OPTIM_STATES], *sc[TG__OPTIM_SCALARS];
    snprintf(p, sizeof p, "u%d[k]", u);
    for (int b = 0; b < TG__OPTIM_STATES; b++)
        snprintf(stn[b], sizeof stn[b], "o%d_%d[k]", u, b), st[b] = stn[b];
    for (int k = 0; k < TG__OPTIM_SCALARS; k++)
        snprintf(scn[k], sizeof scn[k], "os%d_%d", u, k), sc[k] = scn[k];
    L->g->opt->kind->update->emit(L->g->opt, put_sink, s, p, g, st, sc);
}

/* The loop body of segment L->cur, adding into lane set `set` of its
** reductions; false when it has nothing to do. */
static bool emit_body(sbuf *s, const layout *L, const tg__pass *ps, int set)
{
    const tg_graph *g = L->g;
    char a[40];
    bool any = false;
    for (int e = 0; e < ps->n_elem; e++) {
        int v = ps->elem[e];
        if (L->seg[v] != L->cur || is_span(producer(g, v)))
            continue;
        emit_value(s, L, v);
        if (L->slot[v] >= 0)
            put(s, "    t%d[q] = v%d;\n", v, v);
        any = true;
    }
    for (int r = 0; r < ps->n_red; r++)
        if (seg_of(L, g->rec[ps->red[r]].in[0]) == L->cur)
            put(s, "    r%d_%d[j] += %s;\n", r, set, name(a, L, g->rec[ps->red[r]].in[0])), any = true;
    for (int t = 0; t < ps->n_store; t++)
        if (seg_of(L, ps->store[t]) == L->cur)
            put(s, "    w%d[k] = %s;\n", ps->store[t], name(a, L, ps->store[t])), any = true;
    for (int u = 0; u < ps->n_upd; u++)   /* in the last loop: a later loop may read the parameter */
        if (L->cur != L->n_seg - 1)
            continue;
        else if (g->opt)
            emit_update(s, L, u, name(a, L, g->gval[ps->upd[u]])), any = true;
        else
            put(s, "    u%d[k] -= lr * %s;\n", u, name(a, L, g->gval[ps->upd[u]])), any = true;
    if (ps->rowred >= 0 && seg_of(L, g->rec[ps->rowred].in[0]) == L->cur)   /* the block the fold reads */
        put(s, "    part[q] = %s;\n", name(a, L, g->rec[ps->rowred].in[0])), any = true;
    return any;
}

/* How a span call reads input v: its block array, the buffer at lo, or the filled scalar. */
static void span_arg(sbuf *s, const layout *L, int v)
{
    v = tg__graph_root(L->g, v);
    int kind = kind_of(L, v);
    put(s, kind == V_ELEM ? "t%d, " : kind == V_BUF ? "b%d + lo, " : "f%d, ", v);
}

/* The span calls whose outputs segment L->cur reads first. */
static void emit_span_calls(sbuf *s, const layout *L, const tg__pass *ps)
{
    const tg_graph *g = L->g;
    for (int e = 0; e < ps->n_elem; e++) {
        const tg__grec *r = producer(g, ps->elem[e]);
        if (L->seg[ps->elem[e]] != L->cur || !is_span(r) || !ps->span_mask[e])
            continue;
        int k = (int)(r - g->rec);
        put(s, "    {\n        const double *const in[] = {");
        for (int i = 0; i < r->n_in; i++)
            span_arg(s, L, r->in[i]);
        if (r->type == REC_SPAN) {
            put(s, "};\n        ((tgk_fwd)kfn[%d])(hi - lo, in, t%d);\n    }\n", k, r->out[0]);
            continue;
        }
        put(s, "};\n        double *const gin[] = {");
        for (int o = 0; o < r->n_out; o++)
            put(s, ps->span_mask[e] >> o & 1u ? "t%d, " : "(double *)0, ", r->out[o]);
        put(s, "};\n        ((tgk_bwd)kfn[%d])(hi - lo, in, in[%d], in[%d], gin);\n    }\n", k, r->n_in - 2,
            r->n_in - 1);
    }
}

/* The reduction lanes of a segment: two sets of 8, so the adds of two groups
** of points are independent (one set would make every group wait for the
** previous group's add: the loop then runs at the add's latency, not at its
** throughput).  Lane j of a block's sum is set 0 plus set 1, then the 8 lanes
** combine pairwise: fixed by the block alone, so any thread count gives the
** same bits. */
enum { LANE_SETS = 2 };

/* The head of one group of 8 points at i + off: one vector.  GCC is told not
** to unroll it (it would then vectorize across groups, lane by lane) and
** that its points do not depend on each other (every access is at the
** point's own index). */
static void emit_group(sbuf *s, int off)
{
    put(s, "        _Pragma(\"GCC unroll 1\") _Pragma(\"GCC ivdep\") for (int j = 0; j < 8; j++) {\n"
           "    const int64_t k = i + %d + j, q = k - lo;\n    (void)q;\n", off);
}

/* In a pass split by span calls, each loop streams its buffers from memory
** in a burst and the kernels between touch only the block arrays, so at
** large N the memory would sit idle while they run (the span P3 step at N =
** 10^7 took 12 ms, three times its in-cache speed).  Every loop of such a
** pass asks for the next block of every buffer the pass streams, 16 points
** (two cache lines) per pair of groups: the requests are spread over the
** whole block's work, and one the memory system dropped is asked again by
** the next loop (about 8 ms; hinting each buffer only in the loop that
** reads it first gave 9 to 10).  The lines are asked into L2, not L1
** (prefetch locality 1): with the block arrays, this block's x and y and the
** next block's, an L1 hint filled L1 and pushed the block arrays out (the
** step at 10^7 on a 2-core EPYC: 19 to 21 ms with L1 hints, 12 to 13 ms with
** L2 hints).  A pass of one loop streams every buffer in step and needs no
** help from software. */
#define TG_JIT_CACHED_BYTES (256 * 1024)   /* buffers this small stay in L2 between replays: no hints */
static void emit_prefetch(sbuf *s, const layout *L)
{
    if (L->n_seg < 2)
        return;
    int64_t streamed = 0;
    for (int v = 0; v < L->g->n_val; v++)
        streamed += L->seen[v] && kind_of(L, v) == V_BUF;
    if (streamed * L->g->n * (int64_t)sizeof(double) <= TG_JIT_CACHED_BYTES)
        return;
    int ahead = (int)L->g->block * (int)sizeof(double);
    for (int v = 0; v < L->g->n_val; v++)
        if (L->seen[v] && kind_of(L, v) == V_BUF)
            put(s, "        TGK_PREFETCH(b%d + i, %d);\n        TGK_PREFETCH(b%d + i, %d);\n", v, ahead, v,
                ahead + 64);
}

/* The loops of segment L->cur over the block (whole pairs of groups of 8,
** then a last group, then the rest), in a scope of their own with the lanes
** of the reductions they make (lanes live across a call or a second loop
** keep the compiler from holding them in vector registers). */
static void emit_loop(sbuf *s, const layout *L, const tg__pass *ps)
{
    const tg_graph *g = L->g;
    size_t mark = s->n;
    put(s, "    {\n");
    for (int r = 0; r < ps->n_red; r++)
        if (seg_of(L, g->rec[ps->red[r]].in[0]) == L->cur)
            for (int set = 0; set < LANE_SETS; set++)
                put(s, "    double r%d_%d[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n", r, set);
    put(s, "    int64_t i = lo;\n    for (; i + %d <= hi; i += %d) {\n", 8 * LANE_SETS, 8 * LANE_SETS);
    emit_prefetch(s, L);
    for (int set = 0; set < LANE_SETS; set++) {
        emit_group(s, 8 * set);
        if (!emit_body(s, L, ps, set)) {
            s->n = mark;   /* nothing in this segment */
            return;
        }
        put(s, "        }\n");
    }
    put(s, "    }\n    for (; i + 8 <= hi; i += 8)\n");
    emit_group(s, 0);
    emit_body(s, L, ps, 0);
    put(s, "        }\n    for (; i < hi; i++) {\n    const int j = (int)((i - lo) & 7);\n"
           "    const int64_t k = i, q = k - lo;\n    (void)q, (void)j;\n");
    emit_body(s, L, ps, 0);
    put(s, "    }\n");
    for (int r = 0; r < ps->n_red; r++) {
        if (seg_of(L, g->rec[ps->red[r]].in[0]) != L->cur)
            continue;
        put(s, "    double r%d[8];\n    for (int j = 0; j < 8; j++)\n        r%d[j] = r%d_0[j]", r, r, r);
        for (int set = 1; set < LANE_SETS; set++)
            put(s, " + r%d_%d[j]", r, set);
        put(s, ";\n    part[%d] = ((r%d[0] + r%d[1]) + (r%d[2] + r%d[3])) + ((r%d[4] + r%d[5]) + (r%d[6] + r%d[7]));\n",
            r, r, r, r, r, r, r, r, r);
    }
    put(s, "    }\n");
}

static void emit_pass(sbuf *s, layout *L, int p)
{
    const tg_graph *g = L->g;
    const tg__pass *ps = &g->pass[p];
    lay_out(L, ps);
    put(s, "\nvoid tgk_pass_%d(double *const *buf, const double *sc, double *part, int64_t lo, int64_t hi,\n"
           "                 const tgk_fn *kfn, double *tmp)\n{\n", p);
    /* lr is read from sc (tg__graph_lr_slot), not written into the source:
    ** steps that differ only in their learning rate share one compiled kernel */
    put(s, "    (void)sc, (void)buf, (void)part, (void)kfn, (void)tmp;\n    const double lr = sc[%d];\n    (void)lr;\n",
        tg__graph_lr_slot(g));
    emit_reads(s, L, ps);
    for (int v = 0; v < g->n_val; v++) {
        if (L->slot[v] >= 0)
            put(s, "    double *const t%d = tmp + %d;\n", v, (int)(L->slot[v] * g->block));
        if (L->fill[v] >= 0)
            put(s, "    double *const f%d = tmp + %d;\n    for (int64_t q = 0; q < hi - lo; q++)\n"
                   "        f%d[q] = s%d;\n", v, (int)(L->fill[v] * g->block), v, v);
    }
    for (int t = 0; t < ps->n_store; t++)
        put(s, "    double *const w%d = buf[%d];\n", ps->store[t], ps->store[t]);
    for (int u = 0; u < ps->n_upd; u++) {
        put(s, "    double *const u%d = buf[%d];\n", u, g->pval[ps->upd[u]]);
        for (int b = 0; g->opt && b < TG__OPTIM_STATES; b++)   /* the optimizer's state and scalars */
            put(s, "    double *const o%d_%d = buf[%d];\n    (void)o%d_%d;\n", u, b,
                tg__graph_opt_state(g, ps->upd[u]) + b, u, b);
        for (int k = 0; g->opt && k < TG__OPTIM_SCALARS; k++)
            put(s, "    const double os%d_%d = sc[%d];\n    (void)os%d_%d;\n", u, k,
                tg__graph_opt_scalar(g, ps->upd[u]) + k, u, k);
    }
    for (L->cur = 0; L->cur < L->n_seg; L->cur++) {
        emit_span_calls(s, L, ps);
        emit_loop(s, L, ps);
    }
    put(s, "}\n");
}

/* Whether the step is a pass the generator writes.  A row reduction's pass
** is written as the function computing the block of its input's values (into
** part: the interpreter folds it), for a sum of values computed in the pass.
** A max or min's pass runs interpreted, and so does a pass reading the result
** of a max or min: it compares (amax's tie mask) values it recomputes with
** the extreme the interpreter picked from its own, and a compiled pass may
** round them otherwise (FMA).  The rest of the plan is compiled. */
static bool in_pass(const tg__pass *ps, int v)
{
    for (int e = 0; e < ps->n_elem; e++)
        if (ps->elem[e] == v)
            return true;
    return false;
}

static bool writable(const tg_graph *g, const tg__step *st)
{
    if (st->kind != S_PASS && st->kind != S_ROWRED)
        return false;
    const tg__pass *ps = &g->pass[st->index];
    if (st->kind == S_ROWRED && (ps->n_elem == 0 || g->rec[ps->rowred].desc->kind != TG__OPK_SUM ||
                                 !in_pass(ps, tg__graph_root(g, g->rec[ps->rowred].in[0]))))
        return false;   /* (its input an earlier pass stored: nothing to compute) */
    for (int e = 0; e < ps->n_elem; e++) {
        const tg__grec *r = producer(g, ps->elem[e]);
        for (int i = 0; i < r->n_in; i++) {
            int u = tg__graph_root(g, r->in[i]), k = g->val[u].producer;
            if (k >= 0 && g->rec[k].run == R_ROWRED &&
                (g->rec[k].desc->kind == TG__OPK_MAX || g->rec[k].desc->kind == TG__OPK_MIN))
                return false;
        }
    }
    return true;
}

bool tg__graph_writable(const tg_graph *g)
{
    for (int t = 0; t < g->n_step; t++)
        if (writable(g, &g->step[t]))
            return true;
    return false;
}

bool tg__graph_compile(tg_graph *g)
{
    sbuf s = {0};
    size_t nv = (size_t)g->n_val + 1;
    layout L = {.g = g, .seen = tg__malloc(nv), .in = tg__malloc(nv), .seg = tg__malloc(nv * sizeof(int)),
                .slot = tg__malloc(nv * sizeof(int)), .fill = tg__malloc(nv * sizeof(int))};
    bool have = L.seen && L.in && L.seg && L.slot && L.fill;
    int n_passes = 0;
    put(&s, "/* tensorgrad captured step: generated, do not edit */\n#include <math.h>\n#include <stdint.h>\n"
            "typedef void (*tgk_fn)(void);\n"
            "#if defined(__GNUC__)   /* a hint: never faults, whatever the address */\n"
            "#define TGK_PREFETCH(p, ahead) __builtin_prefetch((const void *)((uintptr_t)(p) + (ahead)), 0, 1)\n"
            "#else\n#define TGK_PREFETCH(p, ahead) ((void)0)\n#endif\n"
            "typedef void (*tgk_fwd)(int64_t, const double *const *, double *);\n"
            "typedef void (*tgk_bwd)(int64_t, const double *const *, const double *, const double *,\n"
            "                        double *const *);\n");
    for (int t = 0; have && t < g->n_step; t++)
        if (writable(g, &g->step[t])) {
            emit_pass(&s, &L, g->step[t].index);
            n_passes++;
        }
    if (!have || s.oom)   /* the step still runs, interpreted; the failure is told, not hidden */
        tg__error(TG_ERR_NOMEM, "tg_graph: out of memory writing the step's kernels; it runs interpreted");
    void *dl = have && !s.oom && n_passes > 0 ? tg__toolchain_load(s.p, s.n) : NULL;
    for (int t = 0; dl && t < g->n_step; t++)
        if (writable(g, &g->step[t])) {
            char sym[40];
            snprintf(sym, sizeof sym, "tgk_pass_%d", g->step[t].index);
            void *fp = dlsym(dl, sym);
            if (!fp) {
                for (int p = 0; p < g->n_pass; p++)
                    g->pass[p].compiled = NULL;
                tg__toolchain_unload(dl);
                dl = NULL;
                break;
            }
            memcpy(&g->pass[g->step[t].index].compiled, &fp, sizeof fp);   /* object to function pointer */
        }
    g->dl = dl;
    tg__free(L.seen), tg__free(L.in), tg__free(L.seg), tg__free(L.slot), tg__free(L.fill);
    tg__free(s.p);
    return dl != NULL;
}

void tg__graph_unload(tg_graph *g)
{
    tg__toolchain_unload(g->dl);
    g->dl = NULL;
}
