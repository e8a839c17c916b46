/* SPDX-License-Identifier: MIT */
/*
** Private declarations shared across tensorgrad's source files: the tensor
** and graph-node structures, the allocator, error helpers, scopes and shape
** utilities.  Every name crossing files is tg__name; nothing here is public.
** Layering: ops (src/ops) use core and autograd; autograd uses core; kernels
** (src/kernels) use nothing but their own header.
*/
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "tensorgrad.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- assert
** Internal invariants only, never user input; stays on in release builds. */
#define TG_ASSERT(cond) \
    ((cond) ? (void)0 : tg__assert_fail(#cond, __FILE__, __LINE__))
void tg__assert_fail(const char *cond, const char *file, int line);

/* A rarely taken path kept out of line, so the fast path that calls it
** saves no registers. */
#if defined(__GNUC__)
#define TG_COLD __attribute__((noinline, cold))
#else
#define TG_COLD
#endif

/* Small per-thread state read on every operation uses the initial-exec TLS
** model in the static library (CMake defines TG_TLS_INITIAL_EXEC for its
** objects only): one load from the thread pointer, and no call to
** __tls_get_addr.  The shared library keeps the default (general-dynamic)
** model, so that dlopen accepts it (Python's ctypes): a single initial-exec
** variable marks a library's whole TLS block (2.3 KB here) static, and glibc
** refuses to dlopen it with "cannot allocate memory in static TLS block" once
** its small static reserve is used up.  libtensorgrad.a is therefore for
** executables; a shared object meant for dlopen links libtensorgrad.so. */
#if defined(TG_TLS_INITIAL_EXEC) && defined(__GNUC__)
#define TG_TLS_HOT __attribute__((tls_model("initial-exec")))
#else
#define TG_TLS_HOT
#endif

/* ------------------------------------------------------------- sanitizers
** Blocks kept in the library's caches are poisoned for AddressSanitizer, so a
** use after free is reported in sanitizer builds although the memory is not
** returned to malloc.  No-ops otherwise. */
#if defined(__SANITIZE_ADDRESS__)
#define TG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_ASAN 1
#endif
#endif
#ifdef TG_ASAN
#include <sanitizer/asan_interface.h>
/* the first word (the free-list link) stays readable, so LeakSanitizer
** follows the lists and does not report cached blocks as leaks */
#define TG_POISON(p, n) ASAN_POISON_MEMORY_REGION((char *)(p) + sizeof(void *), (n) - sizeof(void *))
#define TG_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define TG_POISON(p, n) ((void)(p), (void)(n))
#define TG_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ------------------------------------------------------------- allocator
** Every allocation of the library goes through these. */
void *tg__malloc(size_t n);
void *tg__calloc(size_t count, size_t size);
void *tg__realloc(void *p, size_t n);
/* n bytes (a multiple of 64) at a 64-byte boundary: a cache line, and one
** AVX-512 vector, per aligned access.  Freed with tg__free. */
void *tg__malloc_lines(size_t n);
void  tg__free(void *p);
/* Tensor data blocks, recycled by size class (pool.c).  *size receives the
** block's real size, to be passed back to tg__storage_free.  NULL on OOM. */
void *tg__storage_alloc(size_t n, size_t *size);
void  tg__storage_free(void *p, size_t size);
/* Registers a function tg_release_memory calls to empty a per-thread cache
** of the calling thread (at most 8, each registered once). */
void  tg__on_release_memory(void (*hook)(void));
/* Blocks allocated and not yet freed, library-wide. */
int64_t tg__alloc_live(void);
/* Test hook: the n-th allocation from now fails (n <= 0: never); with
** forever, every later one too.  tg__alloc_failures counts injected failures
** since the hook was set. */
void    tg__alloc_fail_at(int64_t n, bool forever);
int64_t tg__alloc_failures(void);
/* Allocations that reached the system allocator since start-up. */
int64_t tg__alloc_system_calls(void);
/* Small uninitialized blocks recycled per thread (sizes up to 1 KiB; larger
** ones go to tg__malloc).  Free with the same size.  tg__obj_flush returns the calling
** thread's cached blocks to the system. */
void   *tg__obj_alloc(size_t n);
void    tg__obj_free(void *p, size_t n);
void    tg__obj_flush(void);
/* tg__obj_free after the next 8 such frees of its size on this thread (a
** FIFO; an allocation finding the list empty takes the oldest first, so no
** extra allocation): a freed tensor's header stays dead meanwhile. */
void    tg__obj_free_later(void *p, size_t n);

/* ---------------------------------------------------------------- errors */
tg_status tg__error(tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* How many errors this thread has recorded so far (tg__error and
** tg_set_error): the executor compares it around a backward, so a backward
** that returns TG_OK after something inside it failed is caught. */
uint64_t tg__error_count(void);
/* Records TG_ERR_ARG "<fn>: <what> is NULL" unless an error is already recorded. */
tg_status tg__null_arg(const char *fn, const char *what);
/* Formats a shape as "[2,3]" into buf (at least TG__SHAPE_STR bytes). */
#define TG__SHAPE_STR 200
const char *tg__shape_str(char *buf, int ndim, const int64_t *shape);

/* --------------------------------------------------------------- storage */
typedef struct tg__storage {
    double *data;
    int64_t refcount;
    size_t size;               /* bytes of the pooled block holding this header and data */
    /* NULL for a pooled block.  Set for storage that is not a pool block (a
    ** memory-mapped .npy file, src/io/npy.c): called instead of
    ** tg__storage_free when the last tensor using s goes, it releases the
    ** data and s itself. */
    void (*release)(struct tg__storage *s);
} tg__storage;

typedef struct tg_ctx tg__node;

struct tg_tensor {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
    double *data;              /* storage->data */
    tg__storage *storage;
    int64_t refcount;          /* owner (scope or caller) + graph references */
    /* ownership: the scope that owns the tensor (NULL: caller or internal) */
    struct tg__scope *scope;
    int64_t scope_slot;
    /* autograd */
    bool requires_grad;
    /* every element is data[0], the one double the storage holds: a gradient
    ** inside a backward (tg__tensor_uniform), never seen outside the executor
    ** and the backwards that said they take one */
    bool uniform;
    bool borrowed;             /* handed out by tg_grad: its tensor owns it, tg_free refuses */
    unsigned char lazy_role;   /* TG__LZ_* (autograd/lazy.c): its part in this thread's lazy trace */
    int32_t lazy_idx;          /* with TG__LZ_OUT: the record making it; TG__LZ_EXT: its external index */
    tg__node *node;            /* grad_fn, or the leaf's accumulator; strong */
    int out_index;             /* which output of node */
    tg_tensor *grad;           /* owned */
    uint32_t magic;            /* TG__LIVE; TG__DEAD once freed (kept last: a freed
                               ** header's first bytes link the free list) */
};

#define TG__LIVE 0x7e75a11eu
#define TG__DEAD 0xdeadbea7u

/* TG_OK for a live tensor.  NULL: TG_ERR_ARG naming fn and what (unless an
** error is already recorded).  A tensor already freed (its scope ended, or
** tg_free) whose header has not been reused: TG_ERR_STATE.  Best effort: a
** freed header may have been handed to a new tensor. */
tg_status tg__check_live_slow(const char *fn, const char *what, const tg_tensor *t);
/* Lazy mode's pending work (autograd/lazy.c): while this thread has ops
** applied but not computed, tg__lazy_flush computes them all (it cannot
** fail: an op whose saved tensors it cannot allocate fails its backward
** instead) and clears itself; NULL otherwise.  Core calls it at every
** realization point: each public function that checks a tensor argument
** (tg_data, tg_item, tg_free, ...; not the shape queries), and tg_scope_end. */
extern _Thread_local void (*tg__lazy_flush)(void) TG_TLS_HOT;
static inline void tg__lazy_sync(void)
{
    if (tg__lazy_flush)
        tg__lazy_flush();
}
/* A tensor's part in lazy mode (t->lazy_role; autograd/lazy.c sets them):
** the output of a pending record, an input from outside the pending trace,
** the output or an input of a dormant record (a step the fused engine has
** run: its intermediates are computed only if read; an input is copied before
** it is written), and a constant (made by tg_scalar, which only users' code
** and pure constants in the library call; cleared by tg_data, which hands
** out a pointer to write through). */
enum { TG__LZ_OUT = 1, TG__LZ_EXT = 2, TG__LZ_DOUT = 4, TG__LZ_DIN = 8, TG__LZ_CONST = 0x80 };
/* Called by tg__check_live for a tensor a dormant record makes or reads
** (lazy.c sets it before it marks one). */
extern void (*tg__lazy_touch)(const tg_tensor *t);
/* Called after tg_scope_end has released the scope's tensors while this
** thread has dormant records (lazy.c sets and clears it). */
extern _Thread_local void (*tg__lazy_retire)(void) TG_TLS_HOT;
/* Counts tg_data and tg_item calls on this thread: the engine tells a
** backward that reads values from one made of ops. */
extern _Thread_local unsigned tg__value_reads TG_TLS_HOT;
static inline tg_status tg__check_live(const char *fn, const char *what, const tg_tensor *t)
{
    tg__lazy_sync();
    if (t && (t->lazy_role & (TG__LZ_DOUT | TG__LZ_DIN)) && t->magic == TG__LIVE)
        tg__lazy_touch(t);
    return t && t->magic == TG__LIVE ? TG_OK : tg__check_live_slow(fn, what, t);
}

/* tg__check_live for the tensor argument of an op that applies a Function
** (which lazy mode may record): the same errors, without realizing pending
** work; the apply realizes what it must (tg_apply_args checks its inputs
** the same way). */
static inline tg_status tg__check_arg(const char *fn, const char *what, const tg_tensor *t)
{
    return t && t->magic == TG__LIVE ? TG_OK : tg__check_live_slow(fn, what, t);
}

/* A new tensor owned by the caller of this function, registered nowhere.
** Data uninitialized.  NULL + TG_ERR_NOMEM / TG_ERR_ARG recorded. */
tg_tensor *tg__tensor_new(const char *fn, int ndim, const int64_t *shape);
/* A new tensor using storage s (release set, refcount 0) for its numel(shape)
** doubles at data; the tensor takes s's first reference.  NULL +
** TG_ERR_NOMEM / TG_ERR_ARG recorded, s untouched: the caller releases it. */
tg_tensor *tg__tensor_wrap(const char *fn, int ndim, const int64_t *shape, tg__storage *s,
                           double *data);
/* A new tensor of shape, every element v, owned by the caller: from 128
** elements holding v alone (t->uniform), below with its elements written out.
** NULL + TG_ERR_NOMEM / TG_ERR_ARG recorded. */
tg_tensor *tg__tensor_uniform(const char *fn, int ndim, const int64_t *shape, double v);
/* Gives uniform t storage for all its elements, uninitialized, and clears
** the flag: *v is the value they must take.  false + TG_ERR_NOMEM recorded
** (t unchanged). */
bool tg__tensor_spread(tg_tensor *t, double *v);
/* A new tensor sharing t's storage with another shape of equal numel. */
tg_tensor *tg__tensor_alias(tg_tensor *t, int ndim, const int64_t *shape);
/* Reference counting of tensors (graph references). */
tg_tensor *tg__tensor_ref(tg_tensor *t);
void       tg__tensor_destroy(tg_tensor *t);   /* refcount reached zero */
static inline void tg__tensor_unref(tg_tensor *t)
{
    if (!t)
        return;
    TG_ASSERT(t->refcount > 0);
    if (--t->refcount == 0)
        tg__tensor_destroy(t);
}
/* tg__adopt and tg__unscope (a tensor into and out of its scope) are with the
** scopes below. */
/* Validates ndim/shape and computes the element count; -1 on error (recorded). */
int64_t    tg__check_shape(const char *fn, int ndim, const int64_t *shape);
static inline bool tg__same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

/* ----------------------------------------------------------------- scopes */
typedef struct tg__scope {
    tg_tensor **items;
    int64_t n, cap;
    int64_t live;              /* items not yet removed */
    int level;                 /* depth of this scope, 1 = outermost */
    struct tg__scope *parent;
} tg__scope;

/* The calling thread's scopes (scope.c). */
typedef struct tg__scope_stack {
    tg__scope *top;
    tg__scope *spare;          /* ended scopes kept for reuse, linked through parent */
    int depth;
    int phantom;               /* begins that failed for lack of memory */
} tg__scope_stack;
extern _Thread_local tg__scope_stack tg__scopes TG_TLS_HOT;

static inline int tg__scope_depth(void) { return tg__scopes.depth; }
/* s (empty, from the spare list or new) becomes the innermost scope. */
static inline void tg__scope_push(tg__scope_stack *st, tg__scope *s)
{
    s->n = 0;
    s->live = 0;
    s->parent = st->top;
    st->top = s;
    s->level = ++st->depth;
}
/* The innermost scope (emptied by the caller) goes to the spare list. */
static inline void tg__scope_pop(tg__scope_stack *st)
{
    tg__scope *s = st->top;
    st->top = s->parent;
    s->parent = st->spare;
    st->spare = s;
    st->depth--;
}
/* tg_scope_begin for the library's own scopes (a Function's forward or
** backward): a kept scope taken in line, the first ones through the call. */
static inline void tg__scope_enter(void)
{
    tg__scope_stack *st = &tg__scopes;
    tg__scope *s = st->spare;
    if (!s) {
        tg_scope_begin();
        return;
    }
    st->spare = s->parent;
    tg__scope_push(st, s);
}
/* Ends scopes until depth d remain (tg_scope_end each); an empty innermost
** scope is ended in line. */
void tg__scope_end_to_slow(int d);
static inline void tg__scope_end_to(int d)
{
    tg__scope_stack *st = &tg__scopes;
    tg__scope *s = st->top;
    if (st->depth == d + 1 && st->phantom == 0 && s->n == 0) {
        tg__scope_pop(st);
        return;
    }
    tg__scope_end_to_slow(d);
}
/* While > 0, tg_scope_end is not a realization point (a user Function's
** forward in lazy mode ends its own scope with its ops still pending). */
extern _Thread_local int tg__scope_quiet;
/* Takes t out of its scope: the caller now holds the owner reference.  The
** newest tensor of its scope leaves in line. */
void tg__unscope_slow(tg_tensor *t);
static inline void tg__unscope(tg_tensor *t)
{
    tg__scope *s = t->scope;
    if (!s || t->scope_slot != s->n - 1) {
        tg__unscope_slow(t);
        return;
    }
    TG_ASSERT(s->items[t->scope_slot] == t);
    s->live--;
    do   /* a tensor taken from the end leaves no hole: keeps hot loops compact */
        s->n--;
    while (s->n > 0 && !s->items[s->n - 1]);
    t->scope = NULL;
    t->scope_slot = -1;
}
/* Puts a caller-owned tensor into the current scope (if any).  Returns t;
** NULL with TG_ERR_NOMEM recorded (t released) when the scope cannot grow. */
tg_tensor *tg__adopt_slow(tg_tensor *t);
static inline tg_tensor *tg__adopt(tg_tensor *t)
{
    tg__scope *s = tg__scopes.top;
    if (!t || !s)
        return t;
    if (s->n == s->cap)
        return tg__adopt_slow(t);
    t->scope = s;
    t->scope_slot = s->n;
    s->items[s->n++] = t;
    s->live++;
    return t;
}
/* Depth of the scope owning t (1 = outermost), 0 when no scope owns it. */
static inline int tg__owner_depth(const tg_tensor *t) { return t->scope ? t->scope->level : 0; }

/* ---------------------------------------------------------- broadcasting */
/* Output shape of broadcasting a with b; false with TG_ERR_SHAPE recorded. */
bool tg__broadcast_shape(const char *fn, int na, const int64_t *sa, int nb, const int64_t *sb,
                         int *nout, int64_t *sout);
/* x broadcast up to (ndim, shape), or summed down to it, in a fresh tensor of
** the current scope, recorded nowhere (expand's and sum_to's values); NULL
** with TG_ERR_SHAPE naming fn when the shapes do not broadcast, or on OOM. */
tg_tensor *tg__expand_now(const char *fn, tg_tensor *x, int ndim, const int64_t *shape);
tg_tensor *tg__sum_to_now(const char *fn, tg_tensor *x, int ndim, const int64_t *shape);
/* The same values into out, allocated with the target shape (the shapes
** checked before): lazy mode computes a recorded expand or sum_to with them. */
void tg__expand_into(const tg_tensor *x, tg_tensor *out);
/* TG_OK when x broadcasts up to (ndim, shape) (sum: sums down to it), else
** TG_ERR_SHAPE with the message tg__expand_now / tg__sum_to_now give. */
tg_status tg__broadcast_check(const char *fn, const tg_tensor *x, int ndim, const int64_t *shape, bool sum);
void tg__sum_to_into(const tg_tensor *x, tg_tensor *out);
/* Point j of a big shape -> the element of a smaller one broadcast to it:
** the big shape's dims merged (n of them, size[], outermost first) with the
** small one's element stride along each (0: broadcast).  The engine and lazy
** mode read a smaller operand block by block through it. */
typedef struct tg__imap {
    int n;
    int64_t size[TG_MAX_DIMS], stride[TG_MAX_DIMS];
} tg__imap;
/* The map of shape small (ns dims) broadcast to big (nb dims); false when it
** does not broadcast. */
bool tg__imap_make(int ns, const int64_t *small, int nb, const int64_t *big, tg__imap *m);
/* dst[0..nb) = src at the map's elements for the big shape's points lo... */
void tg__imap_gather(const tg__imap *m, const double *src, int64_t lo, int64_t nb, double *dst);
/* Whether summing x into one element takes one run of the sum kernel's tree
** (else the broadcast walk adds element by element): when x's last dimension
** is not 1.  What a fused reduction must match to give sum_to's bits. */
static inline bool tg__sum_to_one_run(const tg_tensor *x)
{
    return x->numel <= 1 || x->shape[x->ndim - 1] != 1;
}

/* ------------------------------------------------------- autograd hooks */
/* Drops the graph node t->node of a tensor being destroyed (a leaf detaches
** from its accumulator first).  Autograd (node.c) sets it when the library
** loads: core never calls up into autograd by name, and a tensor can only
** have a node if node.c made it. */
extern void (*tg__node_drop)(tg_tensor *t);

/* Shape of input i as the node recorded it (valid in backward). */
const int64_t *tg__ctx_in_shape(const tg_ctx *ctx, int i, int *ndim);
/* How many inputs the node's Function takes (one Function serving several arities). */
int tg__ctx_n_inputs(const tg_ctx *ctx);
/* Called by a forward: the node's unrecorded backward reads a gradient that
** is uniform (t->uniform) as one value, so the executor need not spread it
** over the elements first. */
void tg__ctx_takes_uniform_grad(tg_ctx *ctx);

/* Thread-local grad mode (function.c): true while recording is off. */
extern _Thread_local bool tg__grad_off TG_TLS_HOT;
static inline bool tg__grad_mode(void) { return !tg__grad_off; }

/* ------------------------------------------------------------------ BLAS
** The only doorway to cblas (src/blas.c).  Validates every argument first:
** OpenBLAS prints to stdout and returns silently on bad ones.
** C[m,n] = alpha * op(A)[m,k] op(B)[k,n] + beta * C, row-major. */
tg_status tg__dgemm(const char *fn, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                    double beta, double *c, int64_t ldc);
/* BLAS (and OpenBLAS's LAPACK) uses n >= 1 threads from now on
** (openblas_set_num_threads); tg_set_num_threads keeps it equal to ours. */
void tg__blas_set_threads(int n);
/* Brackets every call into OpenBLAS (and LAPACK, which calls it).  Without an
** address-space limit it does nothing.  Under one it serializes calls and
** makes sure OpenBLAS's thread buffers exist before the call (OpenBLAS
** retries a failed buffer map for ever): TG_ERR_NOMEM "<fn>: ..." when they
** cannot fit, and then nothing is held.  *held goes to tg__blas_leave. */
tg_status tg__blas_enter(const char *fn, bool *held);
void tg__blas_leave(bool held);

/* ---------------------------------------------------------------- LAPACK
** The only doorway to LAPACKE (src/lapack.c); arguments validated first.
** Minimum-norm least squares min ||A z - b||_2 by dgelsd (SVD):
** a [m, n] row-major (overwritten), b holds max(m, n) doubles, the m of the
** right-hand side on entry and the solution z in b[0..n) on return; s gets the
** min(m, n) singular values in decreasing order; singular values below
** rcond * s[0] count as zero, and *rank is the number left.  m, n in
** 1..2^31-1, every entry finite (TG_ERR_ARG); TG_ERR_NUMERIC when the SVD
** does not converge; TG_ERR_NOMEM. */
tg_status tg__dgelsd(const char *fn, int64_t m, int64_t n, double *a, double *b, double *s, double rcond,
                     int64_t *rank);
/* TSQR step by dtpqrt (column-major, no allocation): [A; B] = Q [R; 0] with A
** [n, n] upper triangular (R overwrites it) and B [m, n] whose last l rows are
** upper trapezoidal; t and work hold nb * n doubles each, 1 <= nb <= n. */
tg_status tg__dtpqrt(const char *fn, int64_t m, int64_t n, int64_t l, int64_t nb, double *a, int64_t lda,
                     double *b, int64_t ldb, double *t, double *work);
/* Blocked QR by dgeqrt (column-major, m >= n, no allocation): R in a's upper
** triangle; t and work hold nb * n doubles each. */
tg_status tg__dgeqrt(const char *fn, int64_t m, int64_t n, int64_t nb, double *a, int64_t lda, double *t,
                     double *work);
/* SVD of a column-major [n, n] (overwritten): u, vt [n, n] column-major, s
** decreasing.  TG_ERR_NUMERIC for a non-finite entry or no convergence. */
tg_status tg__dgesvd(const char *fn, int64_t n, double *a, double *s, double *u, double *vt);


#endif /* TG_INTERNAL_H */
