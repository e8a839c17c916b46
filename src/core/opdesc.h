/* SPDX-License-Identifier: MIT */
/*
** Op descriptors: what a built-in op computes, point by point or as a
** reduction, given once beside its forward and backward in its src/ops/ file
** (tg_function.desc) and read by the engine layer (src/graph: the planner,
** the interpreter and the code generator), which never looks at an op's
** name.  This header sits in core so both layers can see the type; it holds
** no op of its own.  Adding a fusable op touches its own file only: give its
** tg_function a desc of kind TG__OPK_POINT with point, block and expr (or
** emit).
*/
#ifndef TG_OPDESC_H
#define TG_OPDESC_H

#include "tensorgrad.h"

#include <math.h>
#include <stdio.h>

/* Writes formatted text to the code generator's buffer sink. */
typedef void tg__put_fn(void *sink, const char *fmt, ...);

typedef enum tg__opkind {
    TG__OPK_POINT,    /* y[j] = f(x0[j], ...): every input of y's shape or of one element */
    TG__OPK_SUM,      /* y = x summed down to y's shape (one element: a full sum) */
    TG__OPK_MEAN,     /* y = sum(x) / numel(x), one element */
    TG__OPK_EXPAND,   /* y = x broadcast to y's shape */
    TG__OPK_VIEW,     /* y = x's elements under another shape */
    TG__OPK_MAX,      /* y = the maximum of x over the dims kept() makes 1 (NaN wins, the first of equals) */
    TG__OPK_MIN       /* y = the minimum, likewise */
} tg__opkind;

typedef struct tg__opdesc {
    tg__opkind kind;
    /* TG__OPK_POINT only.  args: the op's argument block (tg_apply_args);
    ** scratch: per-worker doubles, scratch(args) of them (NULL: none).
    ** point: y at one point x[0..n_inputs); the interpreter's scalar work.
    ** block: y[j] for j < n from x[i][j * inc[i]] (inc 0: a scalar input).
    ** expr: the C expression of y with %0, %1 for the inputs and %a0, %a1
    ** for the double arguments; or NULL and emit writes the declaration
    ** "const double v<v> = ...;" itself, given the inputs' expressions.
    ** The three must give the same bits (the code generator may contract
    ** a * b + c into an FMA: the compiled passes can differ in the last bit). */
    double (*point)(const double *x, const void *args, double *scratch);
    void (*block)(int64_t n, const double *const *x, const int64_t *inc, const void *args, double *y,
                  double *scratch);
    const char *expr;
    void (*emit)(tg__put_fn *put, void *sink, int v, const char *const *x, const void *args);
    int64_t (*scratch)(const void *args);
    /* TG__OPK_SUM, MAX, MIN: x's shape (ndim dims) with every reduced dim
    ** made 1, in kept; y holds those elements in that order (whatever its own
    ** shape: keepdim false drops the 1s).  NULL: y's shape aligned to x's
    ** (sum_to's rule). */
    void (*kept)(const void *args, int ndim, const int64_t *shape, int64_t *kept);
    /* Lazy mode's record of an op of one input that is not POINT or a full
    ** sum (EXPAND, VIEW, a SUM to a shape, MAX, MIN): shape writes y's shape
    ** for these args and input (returns its ndim, or -1 with the forward's
    ** error recorded: reported at apply); whole computes y's values
    ** into out, allocated with that shape, without allocating (NULL for a
    ** VIEW: out is made over x's storage).  NULL shape: the op runs at once. */
    int (*shape)(const void *args, const tg_tensor *x, int64_t *shape);
    void (*whole)(const void *args, const tg_tensor *x, tg_tensor *out);
    /* What the forward saves for backward, for lazy mode, which records the
    ** op's graph node at apply and computes its value later: TG__SAVES (the
    ** field is given) with TG__SAVE_IN(i) for each input saved (in input
    ** order), then TG__SAVE_OUT for the output, and TG__SAVE_UNIFORM when the
    ** forward calls tg__ctx_takes_uniform_grad.  0: not given (the op runs at
    ** once when it must record a node).  test_lazy_step checks every given
    ** spec against what the eager forward saves. */
    unsigned char save;
} tg__opdesc;

#define TG__SAVES 0x80u
#define TG__SAVE_IN(i) (1u << (i))   /* i < 4 */
#define TG__SAVE_OUT 0x10u
#define TG__SAVE_UNIFORM 0x20u

/* sum_to's descriptor: the engine sums a span Function's full-shape gradient
** to its input's shape with it (shape.c). */
extern const tg__opdesc tg__sum_to_desc;

/* A double as an exact C literal (b holds 40 chars). */
static inline const char *tg__c_double(char *b, double x)
{
    if (isnan(x))
        snprintf(b, 40, "__builtin_nan(\"\")");
    else if (isinf(x))
        snprintf(b, 40, "%s__builtin_inf()", x < 0 ? "-" : "");
    else
        snprintf(b, 40, "%a", x);
    return b;
}

#endif /* TG_OPDESC_H */
