/*
** tensorgrad: float64 tensors with reverse-mode automatic differentiation, in C11.
**
** OVERVIEW
**
** A tg_tensor is a contiguous, row-major array of doubles with 0 to 8 dimensions.
** Operations (tg_add, tg_matmul, tg_legendre, ...) return new tensors.  When an
** operand requires grad and gradient recording is on, the result remembers the
** operation that made it, and tg_backward() walks that record in reverse and
** accumulates d(root)/d(leaf) into tg_grad(leaf).
**
** Every operation, built in or written by a user, is a tg_function: a vtable
** with a forward and a backward, applied through tg_apply().  A user Function
** is therefore as fast and as differentiable as a built-in one.
**
** MEMORY
**
** Tensors are owned by scopes.  Between tg_scope_begin() and tg_scope_end()
** every tensor a call returns belongs to the innermost scope, and tg_scope_end()
** frees them all, except those handed outward with tg_keep().  Outside any
** scope, the caller owns what it is given and releases it with tg_free().
** Tensors that the graph still needs (saved for backward) stay alive inside the
** graph until it is freed; a freed tensor is never touched again by the caller.
**
** ERRORS
**
** Nothing aborts on user input.  Calls that make tensors return NULL on failure,
** others return a tg_status; either way the status and a message naming the
** function and the offending shapes or values are recorded for the thread and
** read with tg_last_status() / tg_last_error().  An operation given a NULL
** operand fails and keeps the error already recorded (it records TG_ERR_ARG only
** when none is), so errors propagate through nested calls:
** tg_exp(tg_add(a, bad)) reports the shape error of the add.
**
** THREADS
**
** Error state, gradient mode and the scope stack are per thread.  Different
** threads may use different tensors and graphs freely; one tensor or graph must
** not be used by two threads at once.
**
** EXAMPLE: fit y = sin(x) with y = a + b * P3(c + d x)
**
**     int64_t n = 2000;
**     tg_tensor *x = tg_linspace(-M_PI, M_PI, n), *y = tg_sin(x);
**     tg_tensor *a = tg_scalar(0), *b = tg_scalar(-1), *c = tg_scalar(0), *d = tg_scalar(0.3);
**     tg_tensor *p[4] = { a, b, c, d };
**     for (int i = 0; i < 4; i++) tg_set_requires_grad(p[i], true);
**     for (int t = 0; t < 2000; t++) {
**         tg_scope_begin();
**         tg_tensor *pred = tg_add(a, tg_mul(b, tg_legendre(tg_add(c, tg_mul(d, x)), 3)));
**         tg_tensor *loss = tg_sum(tg_pow(tg_sub(pred, y), 2.0));
**         if (!loss || tg_backward(loss, NULL) != TG_OK) { puts(tg_last_error()); break; }
**         for (int i = 0; i < 4; i++) {
**             tg_data(p[i])[0] -= 5e-6 * tg_item(tg_grad(p[i]));
**             tg_zero_grad(p[i]);
**         }
**         tg_scope_end();
**     }
**     for (int i = 0; i < 4; i++) tg_free(p[i]);
**     tg_free(x); tg_free(y);
*/
#ifndef TENSORGRAD_H
#define TENSORGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_MAX_DIMS 8

/* ------------------------------------------------------------------ errors */

/* The status codes and their texts, one list (an X-macro) that both the
** enum below and tg_status_str expand, so they cannot drift.  Codes in
** order from 0:
**   TG_OK
**   TG_ERR_ARG      a NULL pointer or an argument out of range
**   TG_ERR_SHAPE    shapes that do not fit together
**   TG_ERR_NOMEM    an allocation failed
**   TG_ERR_STATE    the call is not valid now (graph freed, no scope open, ...)
**   TG_ERR_IO       a file could not be read or written
**   TG_ERR_NUMERIC  a numerical check failed (gradcheck) */
#define TG_STATUS_LIST(X)                          \
    X(TG_OK, "ok")                                 \
    X(TG_ERR_ARG, "invalid argument")              \
    X(TG_ERR_SHAPE, "shape mismatch")              \
    X(TG_ERR_NOMEM, "out of memory")               \
    X(TG_ERR_STATE, "invalid state")               \
    X(TG_ERR_IO, "input/output error")             \
    X(TG_ERR_NUMERIC, "numerical check failed")

typedef enum tg_status {
#define TG_STATUS_ENUM_(code, text) code,
    TG_STATUS_LIST(TG_STATUS_ENUM_)
#undef TG_STATUS_ENUM_
} tg_status;

/* Status of the most recent failure on this thread (TG_OK when none since
** tg_clear_error).  Successful calls do not reset it. */
tg_status tg_last_status(void);

/* Message of that failure: "tg_matmul: a is [2,3] but b is [2,3]".  The string
** is owned by the library and valid until the next failure on this thread.
** Returns "" when no failure is recorded. */
const char *tg_last_error(void);

/* Constant text for a status, e.g. "shape mismatch"; never NULL. */
const char *tg_status_str(tg_status s);

/* Forgets the recorded failure of this thread. */
void tg_clear_error(void);

/* ----------------------------------------------------------------- tensors */

typedef struct tg_tensor tg_tensor;      /* opaque; contiguous row-major float64; 0 to 8 dims */

/* Creation.  ndim is 0..8; shape holds ndim non-negative sizes (may be NULL
** when ndim is 0).  The result belongs to the innermost scope, or to the caller
** when none is open.  Errors: TG_ERR_ARG (ndim out of range, NULL shape,
** negative size, element count overflowing), TG_ERR_NOMEM. */
tg_tensor *tg_zeros(int ndim, const int64_t *shape);
/* Like tg_zeros with the data left unset (torch.empty): for outputs a caller
** fills completely, such as a user Function's forward writing every element. */
tg_tensor *tg_empty(int ndim, const int64_t *shape);
tg_tensor *tg_full(int ndim, const int64_t *shape, double value);
tg_tensor *tg_scalar(double value);                       /* 0-d */
/* Copies numel(shape) doubles from data (which may be NULL only when empty). */
tg_tensor *tg_from_array(int ndim, const int64_t *shape, const double *data);
/* steps >= 0 points evenly spaced from start to end inclusive, as torch.linspace:
** the first half counts up from start, the second half down from end. */
tg_tensor *tg_linspace(double start, double end, int64_t steps);

/* Metadata.  tg_ndim returns -1 and tg_numel -1 for NULL (recording TG_ERR_ARG);
** tg_shape returns a pointer owned by t, valid while t lives (NULL for NULL). */
int            tg_ndim(const tg_tensor *t);
const int64_t *tg_shape(const tg_tensor *t);
int64_t        tg_numel(const tg_tensor *t);

/* The tensor's numel() doubles, row-major, owned by t.  Tensors made by
** tg_reshape and tg_detach share storage with their source, as in PyTorch:
** writing through one is seen by the other.  Writing to a tensor that the graph
** saved for backward changes the gradients computed later.  NULL for NULL. */
double *tg_data(tg_tensor *t);

/* The value of a one-element tensor; NAN and TG_ERR_SHAPE unless numel == 1
** (TG_ERR_ARG for NULL). */
double tg_item(const tg_tensor *t);

/* Tensor data is recycled: a freed tensor's block is kept for the next tensor
** of a similar size, so a training loop stops touching fresh memory (and
** paying its page faults) after the first step.  Kept blocks are returned to
** the system when their total would pass the cache limit (2 GiB by default)
** or on request.  Each thread keeps its last 16 freed blocks of up to 256 KB
** for itself (fewer under a lower limit); tg_release_memory returns the calling
** thread's and the shared ones, and a thread's go to the shared cache when it
** ends.  Both calls are thread-safe. */
void   tg_release_memory(void);
/* Sets the limit in bytes and returns the previous one; a lower limit
** releases the cache. */
size_t tg_set_memory_cache_limit(size_t bytes);

/* Counters of the allocator, library-wide: allocations that reached the
** system allocator since start-up (a training step in steady state adds
** none), blocks currently held, and bytes kept in the data cache. */
typedef struct tg_memory_stats {
    int64_t system_allocations;
    int64_t live_blocks;
    size_t cached_bytes;
} tg_memory_stats;
void tg_get_memory_stats(tg_memory_stats *out);

/* ---------------------------------------------------------------- threads */

/* Kernels over large tensors (elementwise ops, sums, Legendre) split their
** work over threads (OpenMP); a call with less than about 2^15 elements of
** work runs on the calling thread and spawns nothing.  Results do not depend
** on the thread count, bit for bit: elementwise work is cut into slices, and
** every reduction (tg_sum, tg_mean, the gradient sums of broadcasting, the
** Legendre series coefficient gradients) adds in one fixed order, fixed-size
** blocks combined in a fixed tree, whatever thread computes each part.
**
** The count is per process: tg_set_num_threads(n) uses n threads from now on
** for every call, in any thread, and gives OpenBLAS (tg_matmul, tg_linear,
** tg_legendre_lstsq) the same count; the kernels never run inside a BLAS call
** nor BLAS inside a kernel's parallel region, so the two together use at most
** n cores at a time.  n <= 0 restores the default: the OpenMP default
** (OMP_NUM_THREADS, else the number of cores).  Returns the previous count,
** or -1 with TG_ERR_ARG when n > 1024 (nothing changes).  Call it while no
** other thread is inside tensorgrad; calls from several threads at once each
** use up to n threads.  In a build without OpenMP the kernels always run on
** the calling thread: tg_get_num_threads() is 1 and n only sets BLAS's count. */
int tg_set_num_threads(int n);
/* The number of threads large kernels use now (>= 1). */
int tg_get_num_threads(void);

/* ----------------------------------------------------------------- scopes */

/* Opens a scope on this thread's stack.  Tensors returned until the matching
** tg_scope_end belong to it.  Scopes nest without a fixed limit. */
void tg_scope_begin(void);

/* Frees every tensor of the innermost scope except those kept.  Without an
** open scope it records TG_ERR_STATE and does nothing. */
void tg_scope_end(void);

/* Hands t to the scope enclosing its own, or to the caller (tg_free) when
** there is none.  A tensor the caller already owns is returned unchanged.
** Returns t (NULL when t is NULL). */
tg_tensor *tg_keep(tg_tensor *t);

/* Frees a tensor.  Meant for tensors the caller owns (made outside any
** scope); a tensor that belongs to a scope is released early and removed from
** it.  NULL is a no-op.  The gradient tg_grad(t) goes with it.
** Mistakes are reported, never fatal: a tensor already freed, or a gradient
** from tg_grad (owned by its tensor), records TG_ERR_STATE and is left alone.
** A freed tensor's header is not reused at once (it waits behind the next
** frees of its size), so a stale pointer meets TG_ERR_STATE in most cases;
** this is a diagnostic, not a guarantee. */
void tg_free(tg_tensor *t);

/* --------------------------------------------------------------- autograd */

/* Marks a tensor as a leaf whose gradient is wanted.  Only leaves (tensors not
** produced by a recorded operation) can change it: TG_ERR_STATE otherwise. */
tg_status tg_set_requires_grad(tg_tensor *t, bool on);
bool      tg_requires_grad(const tg_tensor *t);

/* The accumulated gradient (same shape as t), borrowed: owned by t, valid
** until tg_zero_grad(t), the next backward that accumulates into it, or
** tg_free(t).  NULL when there is none. */
tg_tensor *tg_grad(const tg_tensor *t);

/* Drops the gradient, like `t.grad = None`.  NULL is a no-op. */
void tg_zero_grad(tg_tensor *t);

typedef struct tg_backward_opts {
    tg_tensor *grad;        /* d(loss)/d(root), root's shape; NULL: root must have one element, grad 1 */
    bool retain_graph;      /* keep saved tensors so the graph can be walked again */
    bool create_graph;      /* record the backward itself, for higher derivatives (implies retain) */
} tg_backward_opts;

/* Accumulates d(root)/d(leaf) into tg_grad(leaf) for every leaf that requires
** grad and that root depends on.  opts NULL: scalar root, graph freed after.
** Gradients are added only when the whole backward succeeded.
** Errors: TG_ERR_ARG (NULL root), TG_ERR_STATE (root does not require grad;
** the graph was freed by an earlier backward without retain_graph),
** TG_ERR_SHAPE (root not one element without opts->grad, grad of the wrong
** shape, a Function's backward returning a gradient of the wrong shape), and
** whatever a Function's backward reports. */
tg_status tg_backward(tg_tensor *root, const tg_backward_opts *opts);

/* Computes d(outputs)/d(inputs) weighted by grad_outputs, like
** torch.autograd.grad: the gradients are returned in grads[0..n_inputs) as new
** tensors of the current scope and are NOT accumulated into tg_grad.
** grad_outputs may be NULL (every output one element) or hold NULL entries
** (that output gets grad 1).  An input the outputs do not depend on gets a
** zero gradient.  opts->grad is ignored; retain_graph / create_graph as in
** tg_backward.  On failure every grads[i] is NULL. */
tg_status tg_autograd_grad(int n_outputs, tg_tensor *const *outputs, tg_tensor *const *grad_outputs,
                           int n_inputs, tg_tensor *const *inputs, tg_tensor **grads,
                           const tg_backward_opts *opts);

/* Turns gradient recording on this thread on or off; returns the previous
** mode.  Off is `with torch.no_grad():`.  On by default. */
bool tg_set_grad_enabled(bool on);
bool tg_is_grad_enabled(void);

/* Anomaly mode (per thread, off by default, free when off): every op's
** outputs and every gradient a backward returns are checked for NaN and
** infinity, and the first one found fails that apply or backward with
** TG_ERR_NUMERIC and a message naming the Function, forward or backward, the
** output or gradient index, the element, and the input shapes.  Returns the
** previous mode. */
bool tg_set_anomaly(bool on);
bool tg_is_anomaly_enabled(void);

/* A tensor sharing t's data with no graph and requires_grad false. */
tg_tensor *tg_detach(tg_tensor *t);

/* ---------------------------------------------------------------- ops
** Every op returns a new tensor of the current scope, or NULL with the error
** recorded.  Binary ops broadcast like NumPy (trailing dimensions aligned,
** sizes equal or 1); a shape mismatch is TG_ERR_SHAPE naming both shapes.
** All are differentiable to any order. */

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b);

/* Elementwise; IEEE results outside the domain (log(-1) is NaN). */
tg_tensor *tg_neg(tg_tensor *a);
tg_tensor *tg_exp(tg_tensor *a);
tg_tensor *tg_log(tg_tensor *a);
tg_tensor *tg_sin(tg_tensor *a);
tg_tensor *tg_cos(tg_tensor *a);
tg_tensor *tg_tanh(tg_tensor *a);
tg_tensor *tg_sqrt(tg_tensor *a);
tg_tensor *tg_relu(tg_tensor *a);        /* gradient 0 at 0, as PyTorch */
tg_tensor *tg_abs(tg_tensor *a);         /* gradient sign(x): 0 at 0, as PyTorch */

/* a ** p for a real exponent p, as torch.pow: p = 2, 3, 0.5, -0.5, -1, -2 are
** computed directly (x*x, x*x*x, sqrt, ...), any other p by the C pow. */
tg_tensor *tg_pow(tg_tensor *a, double p);

/* a * s + t for scalars s, t (one fused pass; handy for affine maps). */
tg_tensor *tg_affine(tg_tensor *a, double s, double t);

/* Reductions.  tg_sum / tg_mean return 0-d tensors; the mean of nothing is NaN.
** Sums are deterministic: the same inputs give bit-identical results.
** tg_sum_dim reduces one dimension (negative dim counts from the end;
** TG_ERR_ARG when out of range) and keeps it as size 1 when keepdim. */
tg_tensor *tg_sum(tg_tensor *a);
tg_tensor *tg_mean(tg_tensor *a);
tg_tensor *tg_sum_dim(tg_tensor *a, int dim, bool keepdim);

/* Sums a down to a shape it broadcasts from (the reverse of tg_expand). */
tg_tensor *tg_sum_to(tg_tensor *a, int ndim, const int64_t *shape);

/* Broadcasts a to shape (copying; NumPy rules). */
tg_tensor *tg_expand(tg_tensor *a, int ndim, const int64_t *shape);

/* [m,k] x [k,n] -> [m,n] through cblas_dgemm.  TG_ERR_SHAPE unless both are 2-d
** with matching inner dimensions. */
tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b);

/* Same data, new shape with the same element count.  One size may be -1 and is
** inferred.  The result shares a's storage. */
tg_tensor *tg_reshape(tg_tensor *a, int ndim, const int64_t *shape);

/* [m,n] -> [n,m], copied. */
tg_tensor *tg_transpose(tg_tensor *a);

/* Legendre polynomial P_n(x) elementwise, any n >= 0 (TG_ERR_ARG otherwise).
** One fused pass over the batch by Bonnet's recurrence; the backward is one
** pass of the derivative recurrence and is itself differentiable. */
tg_tensor *tg_legendre(tg_tensor *x, int n);

/* a ** b elementwise with broadcasting (torch.pow(Tensor, Tensor)), e.g.
** tg_pow_tensor(tg_unsqueeze(x, -1), p) with p = [1,2,3] stacks powers.
** Gradient for b is dy * a^b * log(a), taken as 0 where a == 0 and b >= 0. */
tg_tensor *tg_pow_tensor(tg_tensor *a, tg_tensor *b);

/* A size-1 dimension inserted at dim (-ndim-1 <= dim <= ndim; negative counts
** from the end).  Shares a's storage. */
tg_tensor *tg_unsqueeze(tg_tensor *a, int dim);

/* Dimensions start_dim..end_dim (inclusive, negative from the end) merged into
** one, as torch.flatten; a 0-d tensor becomes [1].  Shares a's storage. */
tg_tensor *tg_flatten(tg_tensor *a, int start_dim, int end_dim);

/* The slice at index along dim, which is removed (x[:, 1] is
** tg_select(x, 1, 1)); negative index counts from the end.  Copied. */
tg_tensor *tg_select(tg_tensor *a, int dim, int64_t index);

/* ------------------------------------------------------- Legendre series
**
** y = sum_j c_j P_j(alpha x + beta) for j = 0..K-1 (degree K - 1 >= 0), the
** affine map taking the data's range onto [-1, 1], where the series is stable
** at any degree (tested to 200).  Results are new tensors of the current
** scope; every call is thread-safe on tensors no other thread is using.
** alpha and beta must be finite (TG_ERR_ARG); a NULL tensor fails as for the
** ops above (TG_ERR_ARG unless an error is already recorded). */

/* The map taking [lo, hi] onto [-1, 1], as numpy's mapparms: *alpha = 2 / (hi
** - lo), *beta = (-hi - lo) / (hi - lo), so alpha * lo + beta ~ -1 and alpha *
** hi + beta ~ 1.  TG_ERR_ARG when lo or hi is not finite, lo >= hi, the map
** overflows (hi - lo infinite or subnormal), or alpha / beta is NULL; on
** failure the non-NULL outputs receive alpha = 1, beta = 0 (the identity). */
tg_status tg_legendre_range_map(double lo, double hi, double *alpha, double *beta);

/* The Legendre series of coef at the points x, one fused Function:
**   coef [K],    x [N]    -> [N]      y[i]    = sum_j coef[j] P_j(alpha x[i] + beta)
**   coef [B, K], x [B, N] -> [B, N]   series b at its own points x[b, :]
**   coef [B, K], x [N]    -> [B, N]   every series at the shared points x
** The forward is Clenshaw's recurrence over the coefficients, one kernel pass
** over all B series (no loop of B calls: a batch of 10,000 series of 2,000
** points is one Function).  The backward is one pass for the coefficients
** (d coef[b, j] = sum_i g[b, i] P_j(t[b, i]), each point's P_j by Bonnet's
** recurrence, summed over the points in a fixed order, so results are
** deterministic and a batched call equals per-series calls bit for bit) and
** one for x (dx = g alpha sum_j c_j P_j'(t), a differentiated Clenshaw;
** summed over the series for a shared x).  Gradients flow to coef and x and
** are differentiable to any order.
** Errors: TG_ERR_SHAPE for other shape combinations (the B of coef and x
** differ, 0-d or 3-d operands) and for K = 0; TG_ERR_ARG as above. */
tg_tensor *tg_legendre_series(tg_tensor *coef, tg_tensor *x, double alpha, double beta);

/* The design matrix V [N, degree + 1] of x [N]: V[i, j] = P_j(alpha x[i] +
** beta), as numpy.polynomial.legendre.legvander of the mapped points, so that
** V coef = tg_legendre_series(coef, x, alpha, beta) up to rounding.
** Differentiable with respect to x (to any order).  Errors: TG_ERR_ARG for
** degree < 0, TG_ERR_SHAPE unless x is 1-d. */
tg_tensor *tg_legendre_vander(tg_tensor *x, int degree, double alpha, double beta);

/* Exact least squares: the coefficients minimizing
** || tg_legendre_vander(x, degree, alpha, beta) coef - y ||_2, solved through
** LAPACK's dgelsd (SVD) on the design matrix, as numpy.linalg.lstsq.
** x and y are 1-d of one length N (TG_ERR_SHAPE otherwise) and finite
** (TG_ERR_ARG names the first NaN or infinity).  On success *coef receives a
** new tensor [degree + 1] of the current scope (no graph: the solve is not
** differentiable) and, when cond is not NULL, *cond the 2-norm condition
** number of the design matrix, s_max / s_min of its singular values.
** TG_ERR_NUMERIC when the matrix is rank-deficient: N < degree + 1, or a
** singular value at or below N * DBL_EPSILON * s_max (numpy's default rcond;
** *cond is still reported then, possibly infinite), or when the SVD does not
** converge.  TG_ERR_ARG for degree < 0, NULL coef, non-finite alpha / beta;
** TG_ERR_NOMEM.  On failure *coef is NULL and *cond NaN unless reported as
** said.  Thread-safe as the other calls (LAPACK is reentrant). */
tg_status tg_legendre_lstsq(tg_tensor *x, tg_tensor *y, int degree, double alpha, double beta,
                            tg_tensor **coef, double *cond);

/* ----------------------------------------------------- user Functions
**
** A Function is a static vtable:
**
**     static const tg_function p3 = { .name = "P3", .n_inputs = 1, .n_outputs = 1,
**                                     .forward = p3_forward, .backward = p3_backward };
**     tg_tensor *y = tg_apply1(&p3, (tg_tensor *[]){ x });
**
** forward(ctx, inputs, outputs) fills outputs[0..n_outputs) with new tensors
** (made by any tensorgrad call); it runs with gradient recording off.  It may
** save tensors for backward (inputs, outputs or intermediates).
**
** backward(ctx, grad_outputs, grad_inputs) receives one gradient per output
** (zeros when that output got none, never NULL) and sets grad_inputs[i] to
** d(loss)/d(input i), of input i's shape, or NULL where no gradient flows.
** It is asked only for inputs with tg_needs_input_grad(ctx, i).  It runs with
** recording on only under create_graph, so a backward written with
** tensorgrad ops is itself differentiable.
**
** Around both calls the engine opens a scope: temporaries are freed, what is
** stored in outputs / grad_inputs survives.  Returning a status other than
** TG_OK fails the apply or the backward with that status; set the message with
** tg_set_error. */

typedef struct tg_ctx tg_ctx;
typedef struct tg_function {             /* may gain fields; users fill it with designated initializers */
    const char *name;
    int n_inputs, n_outputs;
    tg_status (*forward)(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs);
    tg_status (*backward)(tg_ctx *ctx, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs);
    /* true: backward is not itself differentiable (raw loops, say).  Under
    ** create_graph it runs with recording off, and differentiating the
    ** gradients it returned fails with TG_ERR_STATE naming the Function,
    ** instead of silently treating them as constants. */
    bool once_differentiable;
    /* ELEMENTWISE FUNCTIONS.  A Function whose one output is, point by
    ** point, a function of its inputs at the same point may give two span
    ** kernels instead of forward and backward (which must then be NULL):
    **
    **   forward_span(n, in, out)
    **       out[j] = f(in[0][j], ..., in[k-1][j]) for 0 <= j < n
    **   backward_span(n, in, out, grad_out, grad_in)
    **       grad_in[i][j] = grad_out[j] * df/din_i at point j, for each input
    **       i with grad_in[i] != NULL (the others are not wanted)
    **
    ** tensorgrad does the rest: NumPy broadcasting of the inputs, the output
    ** allocation, saving what backward reads, summing gradients back to
    ** broadcast inputs, splitting large tensors over the threads, and, in a
    ** captured graph (tg_graph_capture), calling the kernels block by block
    ** inside its fused passes so the output never exists as a whole.  The
    ** kernels must be pure: they may run at once on disjoint spans from
    ** several threads, and on spans of any length.  Requires n_outputs == 1.
    ** The backward is once differentiable (see once_differentiable). */
    void (*forward_span)(int64_t n, const double *const *in, double *out);
    void (*backward_span)(int64_t n, const double *const *in, const double *out,
                          const double *grad_out, double *const *grad_in);
} tg_function;

#define TG_MAX_FN_ARITY 16

/* Applies fn to fn->n_inputs tensors (1..16, none NULL), writing
** fn->n_outputs (1..16) new tensors of the current scope to outputs.
** Errors: TG_ERR_ARG (NULL fn / inputs / outputs, arity out of range, a NULL
** input when no error is recorded, a forward that leaves an output NULL),
** anything forward reports.  On failure every outputs[i] is NULL. */
tg_status  tg_apply(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs);
tg_tensor *tg_apply1(const tg_function *fn, tg_tensor *const *inputs);   /* one output */

/* As tg_apply, with args_size bytes of non-tensor arguments copied into the
** context (an exponent, a dimension, ...): read them with tg_ctx_args in
** forward and backward.  args may be NULL when args_size is 0. */
tg_status tg_apply_args(const tg_function *fn, tg_tensor *const *inputs, tg_tensor **outputs,
                        const void *args, size_t args_size);
const void *tg_ctx_args(const tg_ctx *ctx);   /* NULL when none were given */

/* Saves n tensors for backward (in forward only; a second call replaces the
** first).  Saving an input or an output is free of copies and of reference
** cycles.  Errors: TG_ERR_ARG (NULL ctx or tensor, n < 0), TG_ERR_STATE
** (called outside forward). */
tg_status  tg_save_for_backward(tg_ctx *ctx, int n, tg_tensor *const *tensors);

/* Saved tensor i, borrowed (valid during backward).  Under create_graph, a
** saved input or output carries its graph, so ops on it are differentiated.
** NULL with TG_ERR_ARG when i is out of range; TG_ERR_STATE when the graph was
** freed. */
tg_tensor *tg_saved_tensor(const tg_ctx *ctx, int i);

/* True when input i requires grad, so backward should compute grad_inputs[i]. */
bool       tg_needs_input_grad(const tg_ctx *ctx, int i);

/* Records a failure with a printf-style message, for user Functions and
** other code built on tensorgrad.  Returns s. */
tg_status tg_set_error(tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------- data files
**
** NumPy .npy files and CSV text.  Every reader returns a new tensor of the
** current scope (the caller's when none is open), or NULL with the error
** recorded; a reader never returns part of a file.  Malformed, truncated or
** unreadable files are TG_ERR_IO with a message naming the function, the path
** and what is wrong (a byte offset in a .npy header, line:column in a CSV);
** NULL arguments are TG_ERR_ARG; TG_ERR_NOMEM when memory runs out.  All are
** thread-safe for different paths and tensors (a file must not change while
** it is read or mapped). */

/* Reads a .npy file of version 1.0, 2.0 or 3.0, as numpy.load: a tensor of
** the file's shape (0 to 8 dimensions; () is 0-d).  '<f8' is read as is; the
** other numeric dtypes are converted to float64: float16 / float32 ('<f2',
** '<f4'), int8-64 ('|i1', '<i2', '<i4', '<i8'), uint8-64 ('|u1' ... '<u8'),
** bool ('|b1', 0 / 1), in either byte order ('<', '>', '=', '|'); int64 and
** uint64 beyond 2^53 round to the nearest double.  Fortran-order files are
** transposed into C (row-major) order.  Refused with TG_ERR_IO: complex,
** object, string, datetime, structured and other non-numeric dtypes, more than
** 8 dimensions, a bad magic or version, a header that is not the dict numpy
** writes (keys 'descr', 'fortran_order', 'shape', each once), a file shorter
** or longer than its header says, a path that is not a regular file (a FIFO,
** a device, a directory: refused by name, without blocking). */
tg_tensor *tg_load_npy(const char *path);

/* Maps a little-endian float64 C-order .npy file (what tg_save_npy and
** numpy.save of a float64 array write) instead of copying it: the pages are
** read when first touched, so opening a file larger than memory is cheap.
** The mapping is private (MAP_PRIVATE, PROT_READ | PROT_WRITE): the tensor is
** writable like any other, a written page becomes a private copy, and writes
** never reach the file.  The mapping lives as long as the tensor or any view
** of it (tg_reshape, tg_detach) and is unmapped when the last one is freed.
** TG_ERR_IO as tg_load_npy, and for any other dtype, Fortran order, data not
** 8-byte aligned or a path that is not a regular file: the message says to
** use tg_load_npy, which converts.  Changing or truncating the file while it
** is mapped is undefined (SIGBUS on Linux), as with any mapping. */
tg_tensor *tg_mmap_npy(const char *path);

/* Writes t to path (created or truncated) as numpy.save does, byte for byte:
** format version 1.0 (2.0 if the header ever needs it), '<f8', C order, the
** header padded so the data starts at a multiple of 64 bytes.  numpy.load
** reads it back as a float64 array of t's shape.  Errors: TG_ERR_ARG (NULL t
** or path), TG_ERR_IO naming the path and the system's reason ("No such file
** or directory", "No space left on device"); a regular file that could not be
** written whole is removed.  Thread-safe for different paths. */
tg_status tg_save_npy(const tg_tensor *t, const char *path);

/* The limits of tg_load_csv when tg_csv_opts leaves them 0: a file of at
** most 2^36 bytes (64 GiB), no line longer than 2^24 bytes (16 MiB). */
#define TG_CSV_MAX_BYTES ((int64_t)1 << 36)
#define TG_CSV_MAX_LINE ((int64_t)1 << 24)

/* How tg_load_csv reads a file.  Start from tg_csv_defaults(): ',', a header
** and the default limits.  A '\0' delimiter means ','; '"', '\r' and '\n' are
** TG_ERR_ARG.  A limit <= 0 means its default (TG_CSV_MAX_BYTES,
** TG_CSV_MAX_LINE), so {.delimiter = ';', .header = true} keeps the defaults. */
typedef struct tg_csv_opts {
    char delimiter;           /* field separator: ',', ';', '\t', ... */
    bool header;              /* the first non-blank line names the columns */
    int64_t max_bytes;        /* refuse a file (or standard input) longer than this */
    int64_t max_line_bytes;   /* refuse a line (between line ends) longer than this */
} tg_csv_opts;

tg_csv_opts tg_csv_defaults(void);

/* Reads n_cols >= 1 columns of a delimited text file into a [rows, n_cols]
** tensor: column k of the result is the file's column columns[k] (a column
** may be asked for twice; other columns are skipped unparsed and may hold
** anything).  With opts->header (and opts NULL), columns[k] is a name of the
** header line (the first equal one; names compare after unquoting and trimming
** spaces); without a header it is a 0-based index written as a decimal string
** ("0", "2").  A header with no rows after it gives a [0, n_cols] tensor.
** Cells are parsed after trimming spaces and tabs, by strtod (short decimals
** by an exact fast path giving strtod's result), so they follow the "C"
** numeric locale (decimal point '.'); the program must not have changed
** LC_NUMERIC.  "nan", "inf", "-inf" and overflowing values (inf) are
** accepted.  The RFC 4180 basics are understood: fields in double quotes may
** hold delimiters, line ends and doubled quotes ""; lines end in LF, CRLF or
** CR, with or without a final line end; blank lines are skipped; a UTF-8
** byte-order mark is skipped.  Every row must have as many fields as the
** header (or the first row).  The file is read in one pass, with no
** allocation per cell.
** The path "-" reads standard input to its end (named "<stdin>" in
** messages); any other path must be a regular file: a FIFO, a device such as
** /dev/zero, a socket or a directory is refused by name (TG_ERR_IO "'p' is a
** FIFO, not a regular file"), without blocking.  Reading stops with TG_ERR_IO
** at opts->max_bytes bytes (default TG_CSV_MAX_BYTES) and at a line longer
** than opts->max_line_bytes (default TG_CSV_MAX_LINE); standard input is
** checked while it is read, so an endless stream stops at the first limit.
** Errors: TG_ERR_ARG (NULL path, columns or columns[k], n_cols < 1, a bad
** delimiter); TG_ERR_IO "tg_load_csv: path:line:column: what" with the 1-based
** line of the file and the 1-based field number, for a file that cannot be
** read, an empty file, an unknown column (the message lists the header's
** names; no column number), an index out of range or not decimal, a cell that
** is empty or not a number (quoted in the message), a row with too few or too
** many fields, a quote never closed or text after a closing quote. */
tg_tensor *tg_load_csv(const char *path, int n_cols, const char *const *columns,
                       const tg_csv_opts *opts);

/* -------------------------------------------------------- captured graphs
**
** A tg_graph is one training step (forward, backward and the SGD update),
** captured once and replayed in place, like a CUDA graph:
**
**     tg_graph *g = tg_graph_capture(loss_fn, &data, params, 5e-6);
**     for (int t = 0; t < steps; t++) {
**         memcpy(tg_data(x), next_x, n * sizeof(double));   (new data, same tensors)
**         if (tg_graph_replay(g, &loss) != TG_OK) { puts(tg_last_error()); break; }
**     }
**     tg_graph_free(g);
**
** The replay runs the step planned ahead: elementwise work (the four binary
** ops with scalars broadcast, neg, exp, log, sin, cos, tanh, sqrt, pow,
** affine, tg_legendre and its derivatives, expand of a scalar, reshape) fused
** into passes over blocks of 2048 points (512 when span kernels are called),
** with no intermediate array; tg_sum, tg_mean and tg_sum_to to one element
** reduced per block and combined in a fixed pairwise tree, so a replay's
** result depends on N and the data only; and any other Function (a user
** Function, matmul, relu, ...) called on whole tensors in preallocated
** buffers.  A pass over large tensors splits its blocks over the kernel
** threads (tg_set_num_threads, at most the count when the step was captured)
** with the same threshold as the kernels, and gives the same bits at any
** thread count.  A user Function's backward is
** replayed as recorded ops when it is written with tensorgrad ops and as one
** opaque call otherwise (raw loops).  The passes are compiled at capture time
** into C by the system compiler ($CC, else cc, with -O3 -march=native) and
** cached ($XDG_CACHE_HOME/tensorgrad, else /tmp/tensorgrad-cache-$UID; safe
** for concurrent processes); without a working compiler, or with the
** environment variable TG_GRAPH_INTERPRET=1, a blocked interpreter runs the
** same plan.  Because fusion reorders sums (and the compiler may contract
** a * b + c into one rounding), a replay agrees with the eager step to about
** 1e-12 relative, not bit for bit.
**
** A replay makes no allocation from the system in steady state and, for a
** step made of the fused ops, touches no memory beyond the tensors it reads
** and the parameters.
**
** Ops run by loss_fn with gradient recording off (tg_set_grad_enabled(false),
** tg_detach) and tensors made without ops are read as data on replay, not
** recomputed: keep data-dependent work in recorded ops.  Function names
** starting with "tg_" are the library's; the planner recognizes its ops by
** name. */

typedef struct tg_graph tg_graph;
struct tg_params;                        /* tg_params, declared under "parameters" below */

/* Captures one training step.  loss_fn(user) builds the loss, a one-element
** tensor, from the tensors it uses (its inputs, its parameters, constants);
** the capture runs it once with gradient recording on, differentiates the loss
** with respect to every tensor of params (leaves that require grad), and
** records the forward, the backward and the update p -= lr * grad.  Gradients
** are not stored in tg_grad and the parameters are not changed by the capture.
** Tensors loss_fn makes are freed before it returns.  The graph keeps a
** reference to every tensor the step reads (inputs, constants, parameters), so
** they stay valid for it even if the caller frees them.
** Returns a graph owned by the caller (tg_graph_free), or NULL with:
** TG_ERR_ARG (NULL loss_fn or params, empty params, lr not finite, a parameter
** that is not a leaf requiring grad or is not reached from the loss, a loss
** that depends on no parameter, loss_fn returning NULL: the message quotes its
** error), TG_ERR_SHAPE (a loss of more than one element), TG_ERR_STATE
** (loss_fn itself calls tg_graph_capture), TG_ERR_NOMEM, or what the
** backward reports.  The capture and the graph belong to the calling thread's
** use: a graph must not be replayed by two threads at once; different graphs
** may run on different threads. */
tg_graph *tg_graph_capture(tg_tensor *(*loss_fn)(void *user), void *user, const struct tg_params *params,
                           double lr);

/* Replays the step in place: reads the current data of every tensor the step
** read (write new x / y data into them with tg_data before replaying),
** updates the parameters' data and writes the loss (before the update) to
** *loss when loss is not NULL.  Errors: TG_ERR_ARG (NULL g), and what an
** opaque Function's forward or backward reports (TG_ERR_SHAPE when it returns
** another shape than at capture); the parameters are then unchanged. */
tg_status tg_graph_replay(tg_graph *g, double *loss);

/* "compiled" when the passes run as compiled code, "interpreted" otherwise
** (no compiler, TG_GRAPH_INTERPRET set, or nothing to fuse).  A constant
** string; NULL for NULL. */
const char *tg_graph_executor(const tg_graph *g);

/* Frees the graph and drops its references.  NULL is a no-op. */
void tg_graph_free(tg_graph *g);

/* --------------------------------------------------------- random numbers
**
** A portable generator: xoshiro256** seeded through splitmix64, so a seed gives
** the same stream on every machine and compiler.  tg_rng_seed fills s[0..3]
** with the first four splitmix64 outputs from state = seed.  uniform =
** (next >> 11) * 2^-53 in [0, 1).  Normal values come from Box-Muller: one
** draw takes two uniforms, u1 then u2, and makes r = sqrt(-2 log(1 - u1)),
** theta = (2 pi) u2 and the pair r cos(theta), r sin(theta).  tg_rng_normal
** makes one draw per call and returns its cosine (the sine is discarded); a
** tensor fill makes one draw per two elements, cosine first then sine, and a
** fill of odd length gives its last element a draw's cosine alone.
** tests/reference/tg_rng.py implements the same stream in Python, so PyTorch
** runs start from the same values.
** A tg_rng is a plain value (copy it to fork a stream); each thread also has
** its own default generator, seeded 0 until tg_manual_seed.  A NULL r records
** TG_ERR_ARG (next returns 0, uniform and normal NaN, randint lo). */

typedef struct tg_rng { uint64_t s[4]; } tg_rng;

void     tg_rng_seed(tg_rng *r, uint64_t seed);
uint64_t tg_rng_next(tg_rng *r);                 /* 64 random bits */
double   tg_rng_uniform(tg_rng *r);              /* [0, 1) */
double   tg_rng_normal(tg_rng *r);               /* standard normal: one Box-Muller draw, its cosine */
/* lo + next % (hi - lo) (modulo bias is below 2^-40 for spans under 2^24);
** hi <= lo records TG_ERR_ARG and returns lo without drawing. */
int64_t  tg_rng_randint(tg_rng *r, int64_t lo, int64_t hi);

/* Seeds this thread's default generator; returns it (borrowed, per thread). */
tg_rng *tg_manual_seed(uint64_t seed);
tg_rng *tg_default_rng(void);

/* Tensors filled from this thread's default generator, in row-major order:
** uniform on [0, 1), uniform on [lo, hi) (lo + (hi - lo) * u), standard normal.
** Errors as tg_zeros. */
tg_tensor *tg_rand(int ndim, const int64_t *shape);
tg_tensor *tg_rand_uniform(int ndim, const int64_t *shape, double lo, double hi);
tg_tensor *tg_randn(int ndim, const int64_t *shape);

/* ------------------------------------------------------------- parameters
**
** A tg_params is an ordered list of named tensors: what a module exposes, what
** an optimizer updates and what save / load read and write.  The list keeps
** each tensor alive (it holds a reference of its own): freeing or ending the
** scope of a listed tensor leaves it valid inside the list. */

typedef struct tg_params tg_params;

tg_params  *tg_params_new(void);                 /* NULL + TG_ERR_NOMEM */
void        tg_params_free(tg_params *p);        /* NULL is a no-op */
/* Appends t under name (copied; unique in the list, else TG_ERR_ARG). */
tg_status   tg_params_add(tg_params *p, const char *name, tg_tensor *t);
/* Appends every entry of other, names prefixed with "prefix." when prefix is non-NULL. */
tg_status   tg_params_extend(tg_params *p, const char *prefix, const tg_params *other);
int         tg_params_count(const tg_params *p);
const char *tg_params_name(const tg_params *p, int i);    /* borrowed; NULL when out of range */
tg_tensor  *tg_params_get(const tg_params *p, int i);     /* borrowed; NULL when out of range */
tg_tensor  *tg_params_find(const tg_params *p, const char *name);   /* NULL when absent (no error) */
void        tg_params_zero_grad(const tg_params *p);

/* Writes the list to path in tensorgrad's parameter format (documented in
** src/nn/serialize.c: magic, count, then name, shape and little-endian
** float64 data per entry).  TG_ERR_IO with the path and the reason. */
tg_status tg_params_save(const tg_params *p, const char *path);
/* Reads such a file into the listed tensors by name: every name of the list
** must be in the file with the same shape (TG_ERR_SHAPE otherwise, naming the
** entry and both shapes) and the file must be whole and well formed
** (TG_ERR_IO naming the path and what is wrong: cannot open, bad magic or
** version, truncated entry, trailing bytes, a name listed twice).  Entries the
** list does not name are ignored.  Nothing is changed unless all succeeds. */
tg_status tg_params_load(const tg_params *p, const char *path);

/* ------------------------------------------------------------------- nn */

typedef enum tg_reduction { TG_REDUCTION_MEAN = 0, TG_REDUCTION_SUM, TG_REDUCTION_NONE } tg_reduction;

/* (pred - target)^2 reduced: mean (PyTorch's default), sum, or none (the
** broadcast shape).  Shapes broadcast as in tg_sub.  Composed of tg_sub,
** tg_pow and tg_mean / tg_sum: the result is the only new tensor left in the
** current scope (or to the caller).  TG_ERR_ARG for another reduction. */
tg_tensor *tg_mse_loss(tg_tensor *pred, tg_tensor *target, tg_reduction reduction);

/* y = x W^T + b: x [..., in] (1-d or 2-d) -> [..., out]; weight [out, in] and
** bias [out] initialized as PyTorch's nn.Linear, uniform on
** [-1/sqrt(in), 1/sqrt(in)) from this thread's default generator (weight
** first, row-major, then bias; each value -b + (b - -b) u, b = 1/sqrt(in)).
** The forward is one dgemm, recorded as the Function "tg_linear" and
** differentiable to any order.  The module owns its weight, bias and
** parameter list; tg_linear_new returns NULL with TG_ERR_ARG unless
** in_features and out_features are >= 1 (TG_ERR_NOMEM on allocation
** failure); tg_linear_forward reports TG_ERR_SHAPE for an x that is not
** [in] or [n, in]. */
typedef struct tg_linear tg_linear;
tg_linear *tg_linear_new(int64_t in_features, int64_t out_features, bool bias);
tg_tensor *tg_linear_forward(tg_linear *m, tg_tensor *x);
tg_tensor *tg_linear_weight(const tg_linear *m);          /* borrowed, requires grad */
tg_tensor *tg_linear_bias(const tg_linear *m);            /* borrowed; NULL without bias */
const tg_params *tg_linear_params(const tg_linear *m);    /* "weight", "bias"; borrowed */
void       tg_linear_free(tg_linear *m);                  /* NULL is a no-op */

/* --------------------------------------------------------------- optim
**
** Optimizers with PyTorch's update formulas and defaults.  Each takes the
** tensors of a parameter list at creation (keeping references of its own) and
** its state (momentum buffers, moments, L-BFGS history) lives in the optimizer.
** The *_defaults() functions return PyTorch's defaults; change fields, then
** create.  tg_optim_step reads tg_grad of each parameter (parameters without
** a gradient are skipped, as in PyTorch) and updates data in place. */

typedef struct tg_optim tg_optim;

typedef struct tg_sgd_opts {
    double lr, momentum, dampening, weight_decay;
    bool nesterov, maximize;
} tg_sgd_opts;
typedef struct tg_rmsprop_opts {
    double lr, alpha, eps, weight_decay, momentum;
    bool centered, maximize;
} tg_rmsprop_opts;
typedef struct tg_adam_opts {
    double lr, beta1, beta2, eps, weight_decay;
    bool amsgrad, maximize;
} tg_adam_opts;
typedef struct tg_lbfgs_opts {
    double lr;
    int max_iter, max_eval;               /* max_eval 0: max_iter * 5 / 4 */
    double tolerance_grad, tolerance_change;
    int history_size;
    bool strong_wolfe;                    /* line_search_fn="strong_wolfe" */
} tg_lbfgs_opts;

tg_sgd_opts     tg_sgd_defaults(double lr);   /* momentum 0, dampening 0, weight_decay 0 */
tg_rmsprop_opts tg_rmsprop_defaults(void);    /* lr 1e-2, alpha 0.99, eps 1e-8 */
tg_adam_opts    tg_adam_defaults(void);       /* lr 1e-3, betas 0.9 0.999, eps 1e-8, wd 0 */
tg_adam_opts    tg_adamw_defaults(void);      /* the same with weight_decay 1e-2 */
tg_lbfgs_opts   tg_lbfgs_defaults(void);      /* lr 1, max_iter 20, tol 1e-7 / 1e-9, history 100 */

/* NULL + TG_ERR_ARG for NULL or empty params or invalid options (negative lr,
** nesterov without momentum or with dampening, betas outside [0, 1), ...). */
tg_optim *tg_sgd_new(const tg_params *params, const tg_sgd_opts *opts);
tg_optim *tg_rmsprop_new(const tg_params *params, const tg_rmsprop_opts *opts);
tg_optim *tg_adam_new(const tg_params *params, const tg_adam_opts *opts);
tg_optim *tg_adamw_new(const tg_params *params, const tg_adam_opts *opts);
tg_optim *tg_lbfgs_new(const tg_params *params, const tg_lbfgs_opts *opts);

/* One update from the current gradients.  TG_ERR_STATE for L-BFGS, which
** needs a closure. */
tg_status tg_optim_step(tg_optim *o);

/* The closure re-evaluates the model: it clears the gradients, computes the
** loss, calls tg_backward, and returns the loss (a one-element tensor of the
** current scope) or NULL on failure.  Every optimizer accepts one (it is
** called once before the update); L-BFGS calls it as often as its line search
** needs.  *loss receives the first evaluation's loss, as PyTorch's step returns. */
typedef tg_tensor *(*tg_closure)(void *user);
tg_status tg_optim_step_closure(tg_optim *o, tg_closure closure, void *user, double *loss);

void tg_optim_zero_grad(tg_optim *o);            /* tg_zero_grad on every parameter */
void tg_optim_free(tg_optim *o);                 /* NULL is a no-op */

/* --------------------------------------------------------- gradcheck */

typedef tg_tensor *(*tg_fn)(tg_tensor *const *inputs, void *user);

/* Compares the gradients of f (built from tensorgrad ops, returning one tensor
** of the current scope) with central finite differences of step eps, for every
** input that requires grad: |analytic - numeric| <= atol + rtol * |numeric|
** element by element, as torch.autograd.gradcheck.  Inputs must be leaves;
** their data is perturbed and restored, their tg_grad untouched.
** Returns TG_OK, or TG_ERR_NUMERIC with a message naming the input, the
** element, both values and the error.  TG_ERR_ARG for bad arguments
** (eps <= 0, atol or rtol < 0, no input requiring grad). */
tg_status tg_gradcheck(tg_fn f, int n_inputs, tg_tensor *const *inputs, void *user,
                       double eps, double atol, double rtol);

/* Checks second derivatives the same way, as torch.autograd.gradgradcheck: the
** gradient of f taken with create_graph (weighted by fixed pseudo-random
** grad_outputs) is itself gradchecked with respect to the inputs and the
** grad_outputs. */
tg_status tg_gradgradcheck(tg_fn f, int n_inputs, tg_tensor *const *inputs, void *user,
                           double eps, double atol, double rtol);

#ifdef __cplusplus
}
#endif

#endif /* TENSORGRAD_H */
