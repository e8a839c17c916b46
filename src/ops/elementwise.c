/* SPDX-License-Identifier: MIT */
/*
** Elementwise ops: the four broadcasting binary ops, the unary functions, pow
** and affine, and pow_tensor (a ** b broadcast, with PyTorch's zero gradient
** branches).  Each op's forward, backward and tg_function sit together; the
** backwards are written with tensorgrad ops so they are differentiable again.
** Forwards reach the kernels through tg__kern() over contiguous spans.  The
** ops the fused engine can run point by point carry a descriptor
** (core/opdesc.h) beside their forward and backward.
**
** A backward that runs without create_graph (recording off: tg__grad_mode()
** is false there, and only there within a backward) records nothing, so it
** skips the ops: bin(), un() and aff() call the kernels the op would call, in
** the same order, straight into fresh tensors of the backward's scope, and
** give the op's bits without a node, scope and apply per op.  Under
** create_graph they are the ops, which record.
*/
#include "ops.h"
#include "../autograd/graph.h"

#include <string.h>

/* ------------------------------------------------------------ binary */

/* Walks the broadcast of a and b into out: trailing dimensions with the same
** broadcast pattern merge into one inner span handed to the kernel. */
static void broadcast_binary(tg__binop op, const tg_tensor *a, const tg_tensor *b, tg_tensor *out)
{
    const tg__kernels *k = tg__kern();
    bool fa = tg__same_shape(a, out), fb = tg__same_shape(b, out);
    if ((fa || a->numel == 1) && (fb || b->numel == 1)) {   /* one span: the common cases */
        k->binary[op](out->numel, a->data, fa ? 1 : 0, b->data, fb ? 1 : 0, out->data);
        return;
    }
    int n = out->ndim;
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS], ea = 1, eb = 1;
    for (int d = n - 1; d >= 0; d--) {   /* element strides; 0 where broadcast */
        int ia = a->ndim - n + d, ib = b->ndim - n + d;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        sa[d] = da == 1 ? 0 : ea;
        sb[d] = db == 1 ? 0 : eb;
        ea *= da;
        eb *= db;
    }
    int inner_from = n;
    int64_t inner = 1;
    bool a0 = n > 0 && sa[n - 1] == 0 && out->shape[n - 1] != 1;
    bool b0 = n > 0 && sb[n - 1] == 0 && out->shape[n - 1] != 1;
    while (inner_from > 0) {
        int d = inner_from - 1;
        bool pa = sa[d] == 0 && out->shape[d] != 1, pb = sb[d] == 0 && out->shape[d] != 1;
        if (out->shape[d] != 1 && (pa != a0 || pb != b0))
            break;
        inner *= out->shape[d];
        inner_from = d;
    }
    int64_t outer = inner ? out->numel / inner : 0, idx[TG_MAX_DIMS] = {0}, oa = 0, ob = 0;
    for (int64_t o = 0; o < outer; o++) {
        k->binary[op](inner, a->data + oa, a0 ? 0 : 1, b->data + ob, b0 ? 0 : 1, out->data + o * inner);
        for (int d = inner_from - 1; d >= 0; d--) {   /* odometer over the outer dimensions */
            oa += sa[d], ob += sb[d];
            if (++idx[d] < out->shape[d])
                break;
            oa -= sa[d] * idx[d], ob -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
}

/* The descriptors of the four binary ops (see core/opdesc.h): a op b at one
** point in C, as the kernel computes it, and over a span by the kernel. */
#define TG_BINARY_DESC(fname, OP, cop, saves)                                                           \
    static double fname##_point(const double *x, const void *args, double *scratch)               \
    {                                                                                             \
        (void)args, (void)scratch;                                                                \
        return x[0] cop x[1];                                                                     \
    }                                                                                             \
    static void fname##_block(int64_t n, const double *const *x, const int64_t *inc, const void *args, \
                              double *y, double *scratch)                                         \
    {                                                                                             \
        (void)args, (void)scratch;                                                                \
        tg__kern()->binary[OP](n, x[0], inc[0], x[1], inc[1], y);                                 \
    }                                                                                             \
    static const tg__opdesc fname##_desc = {.kind = TG__OPK_POINT, .point = fname##_point,        \
                                            .block = fname##_block, .expr = "%0 " #cop " %1",      \
                                            .save = TG__SAVES | (saves)};
TG_BINARY_DESC(add, TG__ADD, +, 0)
TG_BINARY_DESC(sub, TG__SUB, -, 0)
TG_BINARY_DESC(mul, TG__MUL, *, TG__SAVE_IN(0) | TG__SAVE_IN(1))
TG_BINARY_DESC(div, TG__DIV, /, TG__SAVE_IN(0) | TG__SAVE_IN(1))

static tg_status binary_forward(const char *name, tg__binop op, tg_tensor *const *in, tg_tensor **out)
{
    int n;
    int64_t shape[TG_MAX_DIMS];
    if (!tg__broadcast_shape(name, in[0]->ndim, in[0]->shape, in[1]->ndim, in[1]->shape, &n, shape))
        return TG_ERR_SHAPE;
    if (!(out[0] = tg__out(name, n, shape)))
        return tg_last_status();
    broadcast_binary(op, in[0], in[1], out[0]);
    return TG_OK;
}

/* The backward building blocks (see the file comment): a op b broadcast,
** op(x) and x * s + t, as ops under create_graph, else unrecorded. */
static tg_tensor *bin(tg__binop op, tg_tensor *a, tg_tensor *b);
static tg_tensor *un(tg__unop op, tg_tensor *x);
static tg_tensor *aff(tg_tensor *x, double s, double t);

/* forward: z = a + b  =>  da = sum_to(dz), db = sum_to(dz) */
static tg_status add_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    return binary_forward("tg_add", TG__ADD, in, out);
}
static tg_status add_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = tg__grad_to_input(ctx, 0, g[0])))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = tg__grad_to_input(ctx, 1, g[0])))
        return tg_last_status();
    return TG_OK;
}
static const tg_function add_fn = {.name = "tg_add", .n_inputs = 2, .n_outputs = 1,
                                   .forward = add_forward, .backward = add_backward,
                                   .desc = &add_desc};

/* forward: z = a - b  =>  da = sum_to(dz), db = sum_to(-dz) */
static tg_status sub_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    (void)ctx;
    return binary_forward("tg_sub", TG__SUB, in, out);
}
static tg_status sub_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = tg__grad_to_input(ctx, 0, g[0])))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = tg__grad_to_input(ctx, 1, un(TG__NEG, g[0]))))
        return tg_last_status();
    return TG_OK;
}
static const tg_function sub_fn = {.name = "tg_sub", .n_inputs = 2, .n_outputs = 1,
                                   .forward = sub_forward, .backward = sub_backward,
                                   .desc = &sub_desc};

/* forward: z = a * b  =>  da = sum_to(dz * b), db = sum_to(dz * a) */
static tg_status mul_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = binary_forward("tg_mul", TG__MUL, in, out);
    return st == TG_OK ? tg_save_for_backward(ctx, 2, in) : st;
}
/* sum_to(dz * other) for input i.  Unrecorded, an input of one element that
** dz was broadcast over takes 0 + dot(dz, other) in one pass: sum_to's
** zeroed output plus sum's tree over the products, which is the dot kernel
** (sum_to sums in one run, with that tree, when dz's last dim is not 1). */
static tg_tensor *mul_grad(const tg_ctx *ctx, int i, tg_tensor *dz, tg_tensor *other)
{
    int ndim;
    const int64_t *shape = tg__ctx_in_shape(ctx, i, &ndim);
    int64_t numel = 1;
    bool same = dz->ndim == ndim;
    for (int d = 0; d < ndim; d++) {
        numel *= shape[d];
        same = same && dz->shape[d] == shape[d];
    }
    if (tg__grad_mode() || !other || same || numel != 1 || !tg__sum_to_one_run(dz) ||
        !tg__same_shape(other, dz))
        return tg__grad_to_input(ctx, i, bin(TG__MUL, dz, other));
    tg_tensor *out = tg__out("tg_mul", ndim, shape);
    if (out)
        out->data[0] = 0.0 + tg__kern()->dot(dz->numel, dz->data, other->data);
    return out;
}
static tg_status mul_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1);
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = mul_grad(ctx, 0, g[0], b)))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) && !(gin[1] = mul_grad(ctx, 1, g[0], a)))
        return tg_last_status();
    return TG_OK;
}
static const tg_function mul_fn = {.name = "tg_mul", .n_inputs = 2, .n_outputs = 1,
                                   .forward = mul_forward, .backward = mul_backward,
                                   .desc = &mul_desc};

/* forward: z = a / b  =>  da = sum_to(dz / b), db = sum_to(-dz * a / (b * b)) */
static tg_status div_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = binary_forward("tg_div", TG__DIV, in, out);
    return st == TG_OK ? tg_save_for_backward(ctx, 2, in) : st;
}
static tg_status div_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1);
    if (tg_needs_input_grad(ctx, 0) && !(gin[0] = tg__grad_to_input(ctx, 0, bin(TG__DIV, g[0], b))))
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 1) &&
        !(gin[1] = tg__grad_to_input(ctx, 1, un(TG__NEG, bin(TG__DIV, bin(TG__MUL, g[0], a), bin(TG__MUL, b, b))))))
        return tg_last_status();
    return TG_OK;
}
static const tg_function div_fn = {.name = "tg_div", .n_inputs = 2, .n_outputs = 1,
                                   .forward = div_forward, .backward = div_backward,
                                   .desc = &div_desc};

static tg_tensor *binary(const tg_function *fn, tg_tensor *a, tg_tensor *b)
{
    return tg__apply_op(fn, (tg_tensor *[]){a, b}, NULL, 0);
}

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b) { return binary(&add_fn, a, b); }

/* autograd's sum of two gradients of one tensor is this op (differentiable
** under create_graph): installed when the library loads. */
__attribute__((constructor)) static void install_grad_add(void) { tg__grad_add = tg_add; }
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b) { return binary(&sub_fn, a, b); }
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b) { return binary(&mul_fn, a, b); }
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b) { return binary(&div_fn, a, b); }

static const tg_function *const binary_fns[TG__N_BINOPS];

static tg_tensor *bin(tg__binop op, tg_tensor *a, tg_tensor *b)
{
    if (tg__grad_mode())
        return binary(binary_fns[op], a, b);
    tg_tensor *out = NULL;
    if (a && b)
        binary_forward(binary_fns[op]->name, op, (tg_tensor *[]){a, b}, &out);
    return out;
}

/* ------------------------------------------------------------- unary */

/* A constant (no graph) tensor f(x): the forwards, masks and other
** non-differentiable factors, and the unrecorded backwards. */
static tg_tensor *unary_const(const char *fn, tg__unop op, tg_tensor *x)
{
    tg_tensor *t = x ? tg__out(fn, x->ndim, x->shape) : NULL;
    if (t)
        tg__kern()->unary[op](x->numel, x->data, t->data);
    return t;
}

static tg_status unary_forward(const char *name, tg__unop op, tg_tensor *const *in, tg_tensor **out)
{
    return (out[0] = unary_const(name, op, in[0])) ? TG_OK : tg_last_status();
}

static tg_tensor *(*const unary_ops[TG__N_UNOPS])(tg_tensor *);

static tg_tensor *un(tg__unop op, tg_tensor *x)
{
    return tg__grad_mode() ? unary_ops[op](x) : unary_const("tg_backward", op, x);
}

/* The descriptor of a unary op: the kernel at one point and over a span, and
** cexpr, its C expression of %0 (see core/opdesc.h). */
#define TG_UNARY_DESC(fname, op, cexpr, saves)                                                     \
    static double fname##_point(const double *x, const void *args, double *scratch)             \
    {                                                                                           \
        double y;                                                                               \
        (void)args, (void)scratch;                                                              \
        tg__kern()->unary[op](1, x, &y);                                                        \
        return y;                                                                               \
    }                                                                                           \
    static void fname##_block(int64_t n, const double *const *x, const int64_t *inc,            \
                              const void *args, double *y, double *scratch)                     \
    {                                                                                           \
        (void)inc, (void)args, (void)scratch;                                                   \
        tg__kern()->unary[op](n, x[0], y);                                                      \
    }                                                                                           \
    static const tg__opdesc fname##_desc = {.kind = TG__OPK_POINT, .point = fname##_point,      \
                                            .block = fname##_block, .expr = cexpr,                \
                                            .save = TG__SAVES | (saves)};

/* desc: the op's descriptor, or NULL (not fused) */
#define TG_UNARY_FN(fname, opname, op, save_what, bwd, descp)                                   \
    static tg_status fname##_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)        \
    {                                                                                           \
        tg_status st = unary_forward("tg_" #fname, op, in, out);                                \
        (void)ctx;                                                                              \
        return st == TG_OK ? save_what : st;                                                    \
    }                                                                                           \
    static tg_status fname##_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)        \
    {                                                                                           \
        tg_tensor *s = tg_saved_tensor(ctx, 0);                                                 \
        (void)s;                                                                                \
        return (gin[0] = (bwd)) ? TG_OK : tg_last_status();                                     \
    }                                                                                           \
    static const tg_function fname##_fn = {.name = opname, .n_inputs = 1, .n_outputs = 1,       \
                                           .forward = fname##_forward,                          \
                                           .backward = fname##_backward, .desc = descp};        \
    tg_tensor *tg_##fname(tg_tensor *a) { return tg__apply_op(&fname##_fn, &a, NULL, 0); }

#define SAVE_IN tg_save_for_backward(ctx, 1, in)
#define SAVE_OUT tg_save_for_backward(ctx, 1, out)

/* forward: y = -x            =>  dx = -dy */
TG_UNARY_DESC(neg, TG__NEG, "-(%0)", TG__SAVE_IN(0))
TG_UNARY_FN(neg, "tg_neg", TG__NEG, SAVE_IN, un(TG__NEG, g[0]), &neg_desc)
/* forward: y = exp(x)        =>  dx = dy * y */
TG_UNARY_DESC(exp, TG__EXP, "exp(%0)", TG__SAVE_OUT)
TG_UNARY_FN(exp, "tg_exp", TG__EXP, SAVE_OUT, bin(TG__MUL, g[0], s), &exp_desc)
/* forward: y = log(x)        =>  dx = dy / x */
TG_UNARY_DESC(log, TG__LOG, "log(%0)", TG__SAVE_IN(0))
TG_UNARY_FN(log, "tg_log", TG__LOG, SAVE_IN, bin(TG__DIV, g[0], s), &log_desc)
/* forward: y = sin(x)        =>  dx = dy * cos(x) */
TG_UNARY_DESC(sin, TG__SIN, "sin(%0)", TG__SAVE_IN(0))
TG_UNARY_FN(sin, "tg_sin", TG__SIN, SAVE_IN, bin(TG__MUL, g[0], un(TG__COS, s)), &sin_desc)
/* forward: y = cos(x)        =>  dx = dy * -sin(x) */
TG_UNARY_DESC(cos, TG__COS, "cos(%0)", TG__SAVE_IN(0))
TG_UNARY_FN(cos, "tg_cos", TG__COS, SAVE_IN, bin(TG__MUL, g[0], un(TG__NEG, un(TG__SIN, s))), &cos_desc)
/* forward: y = tanh(x)       =>  dx = dy * (1 - y^2) */
TG_UNARY_DESC(tanh, TG__TANH, "tanh(%0)", TG__SAVE_OUT)
TG_UNARY_FN(tanh, "tg_tanh", TG__TANH, SAVE_OUT, bin(TG__MUL, g[0], aff(bin(TG__MUL, s, s), -1.0, 1.0)), &tanh_desc)
/* forward: y = sqrt(x)       =>  dx = (dy / y) / 2 (dy / y first: at x = -0.0,
** y = -0.0 and the gradient is -inf, as PyTorch; 2y + 0 would lose the sign) */
TG_UNARY_DESC(sqrt, TG__SQRT, "sqrt(%0)", TG__SAVE_OUT)
TG_UNARY_FN(sqrt, "tg_sqrt", TG__SQRT, SAVE_OUT, aff(bin(TG__DIV, g[0], s), 0.5, 0.0), &sqrt_desc)
/* The derivative masks of relu and abs as ops of their own (forward: m =
** step(x) or sign(x), a 0/+-1 mask  =>  dx = none: the mask is piecewise
** constant).  Under create_graph the mask is this op on x detached: still a
** constant factor (the gradient gets no graph from it, as before), but a
** recorded op on x's data, so a captured step fuses it and recomputes it
** from x.  Unrecorded it is a constant tensor made by the kernel. */
static tg_status mask_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    (void)ctx, (void)g;
    gin[0] = NULL;   /* no gradient flows through a mask */
    return TG_OK;
}
#define TG_MASK_FN(fname, opname, op, cexpr)                                                    \
    TG_UNARY_DESC(fname, op, cexpr, 0)                                                          \
    static tg_status fname##_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)        \
    {                                                                                           \
        (void)ctx;                                                                              \
        return unary_forward(opname, op, in, out);                                              \
    }                                                                                           \
    static const tg_function fname##_fn = {.name = opname "_mask", .n_inputs = 1, .n_outputs = 1, \
                                           .forward = fname##_forward,                          \
                                           .backward = mask_backward, .desc = &fname##_desc};   \
    static tg_tensor *fname##_mask(tg_tensor *x)                                                \
    {                                                                                           \
        if (!tg__grad_mode())                                                                   \
            return unary_const(opname, op, x);                                                  \
        tg_tensor *c = tg_detach(x);   /* a constant factor: the gradient gets no graph from it */ \
        return c ? tg__apply_op(&fname##_fn, &c, NULL, 0) : NULL;                               \
    }
TG_MASK_FN(step, "tg_relu", TG__STEP, "(%0 <= 0.0 ? 0.0 : 1.0)")
TG_MASK_FN(sign, "tg_abs", TG__SIGN, "(%0 > 0.0 ? 1.0 : %0 < 0.0 ? -1.0 : 0.0)")

/* forward: y = max(x, 0)     =>  dx = dy * !(x <= 0), a mask (NaN passes the
** threshold test, as PyTorch's threshold_backward) */
TG_UNARY_DESC(relu, TG__RELU, "(%0 <= 0.0 ? 0.0 : %0)", TG__SAVE_IN(0))
TG_UNARY_FN(relu, "tg_relu", TG__RELU, SAVE_IN, bin(TG__MUL, g[0], step_mask(s)), &relu_desc)
/* forward: y = |x|          =>  dx = dy * sign(x), a mask (sign(0) = 0, as PyTorch) */
TG_UNARY_DESC(abs, TG__ABS, "fabs(%0)", TG__SAVE_IN(0))
TG_UNARY_FN(abs, "tg_abs", TG__ABS, SAVE_IN, bin(TG__MUL, g[0], sign_mask(s)), &abs_desc)

static tg_tensor *(*const unary_ops[TG__N_UNOPS])(tg_tensor *) = {
    [TG__NEG] = tg_neg, [TG__EXP] = tg_exp, [TG__LOG] = tg_log, [TG__SIN] = tg_sin,
    [TG__COS] = tg_cos, [TG__TANH] = tg_tanh, [TG__SQRT] = tg_sqrt, [TG__RELU] = tg_relu,
    [TG__ABS] = tg_abs};

/* ------------------------------------------------------- pow, affine */

/* forward: y = x^p  =>  dx = dy * (x^(p-1) * p + 0); unrecorded in one pass
** (powgrad), reading a uniform dy (a sum's or mean's gradient) as one value */
static tg_status pow_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    double p = *(const double *)tg_ctx_args(ctx);
    if (!(out[0] = tg__out("tg_pow", in[0]->ndim, in[0]->shape)))
        return tg_last_status();
    tg__kern()->pow(in[0]->numel, in[0]->data, p, out[0]->data);
    tg__ctx_takes_uniform_grad(ctx);   /* a sum's gradient, as its one value */
    return tg_save_for_backward(ctx, 1, in);
}
static tg_status pow_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    double p = *(const double *)tg_ctx_args(ctx);
    tg_tensor *x = tg_saved_tensor(ctx, 0);
    if (!x)
        return tg_last_status();
    if (p == 0.0) {
        gin[0] = tg_zeros(x->ndim, x->shape);
    } else if (!tg__grad_mode()) {
        TG_ASSERT(tg__same_shape(g[0], x));
        if ((gin[0] = tg__out("tg_pow", x->ndim, x->shape)))
            tg__kern()->powgrad(x->numel, g[0]->data, g[0]->uniform ? 0 : 1, x->data, p, gin[0]->data);
    } else {
        gin[0] = tg_mul(g[0], tg_affine(tg_pow(x, p - 1.0), p, 0.0));
    }
    return gin[0] ? TG_OK : tg_last_status();
}
/* descriptor: x^p by the kernel, written out for the small integer and half powers */
static double pow_point(const double *x, const void *args, double *scratch)
{
    double y;
    (void)scratch;
    tg__kern()->pow(1, x, *(const double *)args, &y);
    return y;
}
static void pow_block(int64_t n, const double *const *x, const int64_t *inc, const void *args, double *y,
                      double *scratch)
{
    (void)inc, (void)scratch;
    tg__kern()->pow(n, x[0], *(const double *)args, y);
}
static void pow_emit(tg__put_fn *put, void *s, int v, const char *const *in, const void *args)
{
    const char *x = in[0];
    double p = *(const double *)args;
    char b[40];
    if (p == 2.0)
        put(s, "    const double v%d = %s * %s;\n", v, x, x);
    else if (p == 3.0)
        put(s, "    const double v%d = %s * %s * %s;\n", v, x, x, x);
    else if (p == 1.0)
        put(s, "    const double v%d = %s;\n", v, x);
    else if (p == 0.5)
        put(s, "    const double v%d = sqrt(%s);\n", v, x);
    else if (p == -0.5)
        put(s, "    const double v%d = 1.0 / sqrt(%s);\n", v, x);
    else if (p == -1.0)
        put(s, "    const double v%d = 1.0 / %s;\n", v, x);
    else if (p == -2.0)
        put(s, "    const double v%d = 1.0 / (%s * %s);\n", v, x, x);
    else
        put(s, "    const double v%d = pow(%s, %s);\n", v, x, tg__c_double(b, p));
}
static const tg__opdesc pow_desc = {.kind = TG__OPK_POINT, .point = pow_point, .block = pow_block,
                                    .emit = pow_emit, .save = TG__SAVES | TG__SAVE_IN(0) | TG__SAVE_UNIFORM};
static const tg_function pow_fn = {.name = "tg_pow", .n_inputs = 1, .n_outputs = 1,
                                   .forward = pow_forward, .backward = pow_backward, .desc = &pow_desc};

tg_tensor *tg_pow(tg_tensor *a, double p) { return tg__apply_op(&pow_fn, &a, &p, sizeof p); }

/* x * s + t in a fresh tensor, recorded nowhere: affine's forward, and aff()
** in an unrecorded backward */
static tg_tensor *affine_now(tg_tensor *x, double s, double t)
{
    tg_tensor *out = x ? tg__out("tg_affine", x->ndim, x->shape) : NULL;
    if (out)
        tg__kern()->affine(x->numel, x->data, s, t, out->data);
    return out;
}

/* forward: y = x * s + t  =>  dx = dy * s */
static tg_status affine_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const double *st = tg_ctx_args(ctx);
    return (out[0] = affine_now(in[0], st[0], st[1])) ? TG_OK : tg_last_status();
}
static tg_status affine_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    const double *st = tg_ctx_args(ctx);
    return (gin[0] = aff(g[0], st[0], 0.0)) ? TG_OK : tg_last_status();
}
/* descriptor: x * s + t by the kernel */
static double affine_point(const double *x, const void *args, double *scratch)
{
    const double *st = args;
    double y;
    (void)scratch;
    tg__kern()->affine(1, x, st[0], st[1], &y);
    return y;
}
static void affine_block(int64_t n, const double *const *x, const int64_t *inc, const void *args, double *y,
                         double *scratch)
{
    const double *st = args;
    (void)inc, (void)scratch;
    tg__kern()->affine(n, x[0], st[0], st[1], y);
}
static const tg__opdesc affine_desc = {.kind = TG__OPK_POINT, .point = affine_point, .block = affine_block,
                                       .expr = "%0 * %a0 + %a1", .save = TG__SAVES};
static const tg_function affine_fn = {.name = "tg_affine", .n_inputs = 1, .n_outputs = 1,
                                      .forward = affine_forward, .backward = affine_backward,
                                      .desc = &affine_desc};

tg_tensor *tg_affine(tg_tensor *a, double s, double t)
{
    double st[2] = {s, t};
    return tg__apply_op(&affine_fn, &a, st, sizeof st);
}

static tg_tensor *aff(tg_tensor *x, double s, double t)
{
    return tg__grad_mode() ? tg_affine(x, s, t) : affine_now(x, s, t);
}

/* ------------------------------------------------------- pow_tensor */

/* forward: y = where(mask, 0, x), mask a constant of x's shape  =>  dx = where(mask, 0, dy).
** The derivative branches of pow_tensor that PyTorch defines as 0. */
static tg_status zero_where_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    const tg_tensor *x = in[0], *mask = in[1];
    TG_ASSERT(tg__same_shape(x, mask));
    if (!(out[0] = tg__out("tg_pow_tensor", x->ndim, x->shape)))
        return tg_last_status();
    for (int64_t i = 0; i < x->numel; i++)
        out[0]->data[i] = mask->data[i] != 0.0 ? 0.0 : x->data[i];
    return tg_save_for_backward(ctx, 1, &in[1]);
}
static tg_status zero_where_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin);
static const tg_function zero_where_fn = {.name = "tg_pow_tensor_where", .n_inputs = 2,
                                          .n_outputs = 1, .forward = zero_where_forward,
                                          .backward = zero_where_backward};
static tg_status zero_where_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *in[2] = {g[0], tg_saved_tensor(ctx, 0)};
    return (gin[0] = tg__apply_op(&zero_where_fn, in, NULL, 0)) ? TG_OK : tg_last_status();
}

typedef enum pow_mask { MASK_B_ZERO, MASK_A_ZERO_B_NONNEG } pow_mask;

/* A constant tensor of like's shape: 1 where the condition holds on a and b
** broadcast to it, else 0. */
static tg_tensor *pow_mask_of(pow_mask which, tg_tensor *a, tg_tensor *b, const tg_tensor *like)
{
    tg_tensor *ea = tg_expand(tg_detach(a), like->ndim, like->shape);
    tg_tensor *eb = tg_expand(tg_detach(b), like->ndim, like->shape);
    tg_tensor *m = ea && eb ? tg__out("tg_pow_tensor", like->ndim, like->shape) : NULL;
    for (int64_t i = 0; m && i < m->numel; i++) {
        double x = ea->data[i], p = eb->data[i];
        m->data[i] = which == MASK_B_ZERO ? p == 0.0 : x == 0.0 && p >= 0.0;
    }
    return m;
}

static tg_tensor *zero_where(tg_tensor *x, tg_tensor *mask)
{
    return tg__apply_op(&zero_where_fn, (tg_tensor *[]){x, mask}, NULL, 0);
}

/* forward: y = a^b  =>  da = sum_to(where(b == 0, 0, dy * (b * a^(b-1)))),
**                       db = sum_to(dy * where(a == 0 & b >= 0, 0, y * log(a)))  (PyTorch's) */
static tg_status pow_tensor_forward(tg_ctx *ctx, tg_tensor *const *in, tg_tensor **out)
{
    tg_status st = binary_forward("tg_pow_tensor", TG__POW, in, out);
    tg_tensor *saved[3] = {in[0], in[1], out[0]};
    return st == TG_OK ? tg_save_for_backward(ctx, 3, saved) : st;
}
static tg_status pow_tensor_backward(tg_ctx *ctx, tg_tensor *const *g, tg_tensor **gin)
{
    tg_tensor *a = tg_saved_tensor(ctx, 0), *b = tg_saved_tensor(ctx, 1), *y = tg_saved_tensor(ctx, 2);
    if (!a || !b || !y)
        return tg_last_status();
    if (tg_needs_input_grad(ctx, 0)) {
        tg_tensor *d = bin(TG__MUL, g[0], bin(TG__MUL, b, bin(TG__POW, a, aff(b, 1.0, -1.0))));
        if (!(gin[0] = tg__grad_to_input(ctx, 0, zero_where(d, pow_mask_of(MASK_B_ZERO, a, b, y)))))
            return tg_last_status();
    }
    if (tg_needs_input_grad(ctx, 1)) {
        tg_tensor *d = zero_where(bin(TG__MUL, y, un(TG__LOG, a)), pow_mask_of(MASK_A_ZERO_B_NONNEG, a, b, y));
        if (!(gin[1] = tg__grad_to_input(ctx, 1, bin(TG__MUL, g[0], d))))
            return tg_last_status();
    }
    return TG_OK;
}
static const tg_function pow_tensor_fn = {.name = "tg_pow_tensor", .n_inputs = 2, .n_outputs = 1,
                                          .forward = pow_tensor_forward, .backward = pow_tensor_backward};

tg_tensor *tg_pow_tensor(tg_tensor *a, tg_tensor *b) { return binary(&pow_tensor_fn, a, b); }

static const tg_function *const binary_fns[TG__N_BINOPS] = {
    [TG__ADD] = &add_fn, [TG__SUB] = &sub_fn, [TG__MUL] = &mul_fn, [TG__DIV] = &div_fn,
    [TG__POW] = &pow_tensor_fn};
