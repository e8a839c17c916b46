/* SPDX-License-Identifier: MIT */
/*
** Tensor storage and metadata: creation, reference counting, shared storage
** for views, and the public creation and accessor functions.  Core layer: no
** knowledge of operations; the graph is reached only through the node hooks
** of internal.h.
*/
#include "internal.h"

#include <math.h>
#include <string.h>

/* The error of a shape with too many elements, out of line: its buffer stays
** off the stack frame of every tensor creation. */
TG_COLD static int64_t too_many(const char *fn, int ndim, const int64_t *shape)
{
    char buf[TG__SHAPE_STR];
    tg__error(TG_ERR_ARG, "%s: shape %s has too many elements", fn, tg__shape_str(buf, ndim, shape));
    return -1;
}

int64_t tg__check_shape(const char *fn, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__error(TG_ERR_ARG, "%s: ndim is %d, must be 0..%d", fn, ndim, TG_MAX_DIMS);
        return -1;
    }
    if (ndim > 0 && !shape) {
        tg__error(TG_ERR_ARG, "%s: shape is NULL with ndim %d", fn, ndim);
        return -1;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            tg__error(TG_ERR_ARG, "%s: shape[%d] is %lld, must be >= 0", fn, i, (long long)shape[i]);
            return -1;
        }
        int64_t prod;   /* numel * shape[i] <= INT64_MAX / 8, without a division */
        if (__builtin_mul_overflow(numel, shape[i], &prod) || prod > INT64_MAX / 8)
            return too_many(fn, ndim, shape);
        numel *= shape[i];
    }
    if ((uint64_t)numel > SIZE_MAX / sizeof(double)) {
        tg__error(TG_ERR_ARG, "%s: %lld elements do not fit in memory", fn, (long long)numel);
        return -1;
    }
    return numel;
}

tg_status tg__check_live_slow(const char *fn, const char *what, const tg_tensor *t)
{
    if (!t)
        return tg__null_arg(fn, what);
    if (t->magic != TG__LIVE)
        return tg__error(TG_ERR_STATE, "%s: %s was already freed (its scope ended or tg_free was called)",
                         fn, what);
    return TG_OK;
}

/* Every field written once, the shape only up to ndim: cheaper than a
** compound literal that zeroes the whole header first. */
static tg_tensor *tensor_header(const char *fn, int ndim, const int64_t *shape, int64_t numel, size_t size)
{
    tg_tensor *t = tg__obj_alloc(size);
    if (!t) {
        tg__error(TG_ERR_NOMEM, "%s: out of memory for a tensor header", fn);
        return NULL;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    t->refcount = 1;
    t->scope = NULL;
    t->scope_slot = -1;
    t->requires_grad = false;
    t->uniform = false;
    t->borrowed = false;
    t->lazy_role = 0;
    t->node = NULL;
    t->out_index = 0;
    t->grad = NULL;
    t->magic = TG__LIVE;
    return t;
}

/* A small tensor is one block: its header, then its storage header, then the
** data (EMBED_AT bytes in, 64-byte aligned relative to the block).  Views may
** hold the storage after the tensor is gone: the block is freed when the
** storage's last reference goes, through its release hook. */
#define EMBED_AT ((sizeof(tg_tensor) + sizeof(tg__storage) + 63) & ~(size_t)63)
#define EMBED_MAX_BYTES 1024   /* tg__obj_alloc's largest class */

static void embedded_release(tg__storage *s)
{
    tg__obj_free_later((char *)s - sizeof(tg_tensor), s->size);
}

static bool is_embedded(const tg_tensor *t)
{
    return t->storage->release == embedded_release && t->storage == (const tg__storage *)(const void *)(t + 1);
}

/* Storage for numel doubles: its header and the data in one pooled block. */
static tg__storage *pooled_storage(const char *fn, int64_t numel)
{
    size_t head = 64, size;
    char *block = tg__storage_alloc(head + (size_t)numel * sizeof(double), &size);
    if (!block) {
        tg__error(TG_ERR_NOMEM, "%s: out of memory for %lld doubles", fn, (long long)numel);
        return NULL;
    }
    tg__storage *s = (tg__storage *)(void *)block;
    s->refcount = 1;
    s->size = size;
    s->release = NULL;          /* a pool block: tg__storage_free */
    s->data = (double *)(void *)(block + head);
    return s;
}

/* A tensor of shape (numel elements) whose pooled storage holds held doubles. */
static tg_tensor *pooled_tensor(const char *fn, int ndim, const int64_t *shape, int64_t numel, int64_t held)
{
    tg_tensor *t = tensor_header(fn, ndim, shape, numel, sizeof *t);
    if (!t)
        return NULL;
    if (!(t->storage = pooled_storage(fn, held))) {
        tg__obj_free(t, sizeof *t);
        return NULL;
    }
    t->data = t->storage->data;
    return t;
}

tg_tensor *tg__tensor_new(const char *fn, int ndim, const int64_t *shape)
{
    int64_t numel = tg__check_shape(fn, ndim, shape);
    if (numel < 0)
        return NULL;
    size_t bytes = (size_t)numel * sizeof(double);
    if (bytes <= EMBED_MAX_BYTES - EMBED_AT) {
        size_t size = EMBED_AT + bytes;
        tg_tensor *t = tensor_header(fn, ndim, shape, numel, size);
        if (!t)
            return NULL;
        tg__storage *s = (tg__storage *)(void *)(t + 1);
        s->data = (double *)(void *)((char *)t + EMBED_AT);
        s->refcount = 1;
        s->size = size;
        s->release = embedded_release;
        t->storage = s;
        t->data = s->data;
        return t;
    }
    return pooled_tensor(fn, ndim, shape, numel, numel);
}

/* A new tensor of shape, every element value, owned by the caller. */
static tg_tensor *filled_new(const char *fn, int ndim, const int64_t *shape, double value)
{
    tg_tensor *t = tg__tensor_new(fn, ndim, shape);
    for (int64_t i = 0; t && i < t->numel; i++)
        t->data[i] = value;
    return t;
}

/* Below UNIFORM_MIN elements writing them out costs less than a header and a
** storage of their own (a uniform gradient took the one-element tutorial
** step from 1.04 to 1.07 us). */
#define UNIFORM_MIN 128
tg_tensor *tg__tensor_uniform(const char *fn, int ndim, const int64_t *shape, double v)
{
    int64_t numel = tg__check_shape(fn, ndim, shape);
    if (numel >= 0 && numel < UNIFORM_MIN)
        return filled_new(fn, ndim, shape, v);
    tg_tensor *t = numel < 0 ? NULL : pooled_tensor(fn, ndim, shape, numel, 1);
    if (t) {
        t->data[0] = v;
        t->uniform = true;
    }
    return t;
}

bool tg__tensor_spread(tg_tensor *t, double *v)
{
    TG_ASSERT(t->uniform && t->storage->refcount == 1);   /* never viewed: nothing else sees the swap */
    tg__storage *s = pooled_storage("tg_backward", t->numel);
    if (!s)
        return false;
    *v = t->data[0];
    tg__storage_free(t->storage, t->storage->size);
    t->storage = s;
    t->data = s->data;
    t->uniform = false;
    return true;
}

tg_tensor *tg__tensor_wrap(const char *fn, int ndim, const int64_t *shape, tg__storage *s,
                           double *data)
{
    int64_t numel = tg__check_shape(fn, ndim, shape);
    tg_tensor *t = numel < 0 ? NULL : tensor_header(fn, ndim, shape, numel, sizeof *t);
    if (!t)
        return NULL;
    TG_ASSERT(s->release && s->refcount == 0);
    t->storage = s;
    s->refcount = 1;
    t->data = data;
    return t;
}

tg_tensor *tg__tensor_alias(tg_tensor *src, int ndim, const int64_t *shape)
{
    tg_tensor *t = tensor_header("tg_alias", ndim, shape, src->numel, sizeof *t);
    if (!t)
        return NULL;
    TG_ASSERT(shape == src->shape || tg__check_shape("tg_alias", ndim, shape) == src->numel);
    t->storage = src->storage;
    t->storage->refcount++;
    t->data = src->data;
    return t;
}

tg_tensor *tg__tensor_ref(tg_tensor *t)
{
    t->refcount++;
    return t;
}

void (*tg__node_drop)(tg_tensor *t);   /* set by autograd/node.c */

void tg__tensor_destroy(tg_tensor *t)
{
    if (t->node)
        tg__node_drop(t);
    if (t->grad)
        tg__tensor_unref(t->grad);
    tg__storage *s = t->storage;
    bool embedded = is_embedded(t);
    t->magic = TG__DEAD;   /* before the release: it may free this header's block */
    if (--s->refcount == 0) {
        if (s->release)
            s->release(s);   /* an embedded block, or not a pool block (a mapping) */
        else
            tg__storage_free(s, s->size);
    }
    if (!embedded)   /* an embedded header lives as long as its storage */
        tg__obj_free_later(t, sizeof *t);
}


/* ----------------------------------------------------------- creation */

static tg_tensor *filled(const char *fn, int ndim, const int64_t *shape, double value)
{
    return tg__adopt(filled_new(fn, ndim, shape, value));
}

tg_tensor *tg_full(int ndim, const int64_t *shape, double value)
{
    return filled("tg_full", ndim, shape, value);
}

tg_tensor *tg_zeros(int ndim, const int64_t *shape)
{
    tg_tensor *t = tg__tensor_new("tg_zeros", ndim, shape);
    if (!t)
        return NULL;
    memset(t->data, 0, (size_t)t->numel * sizeof(double));
    return tg__adopt(t);
}

tg_tensor *tg_empty(int ndim, const int64_t *shape)
{
    tg_tensor *t = tg__tensor_new("tg_empty", ndim, shape);
    return t ? tg__adopt(t) : NULL;
}

tg_tensor *tg_scalar(double value)
{
    tg_tensor *t = filled_new("tg_scalar", 0, NULL, value);
    if (t)   /* a constant as users write one; the library's own fills may be written in place */
        t->lazy_role = TG__LZ_CONST;
    return tg__adopt(t);
}

tg_tensor *tg_from_array(int ndim, const int64_t *shape, const double *data)
{
    tg_tensor *t = tg__tensor_new("tg_from_array", ndim, shape);
    if (!t)
        return NULL;
    if (!data && t->numel > 0) {
        tg__error(TG_ERR_ARG, "tg_from_array: data is NULL for %lld elements", (long long)t->numel);
        tg__tensor_unref(t);
        return NULL;
    }
    if (t->numel > 0)
        memcpy(t->data, data, (size_t)t->numel * sizeof(double));
    return tg__adopt(t);
}

/* Storage over caller memory (tg_from_buffer): the caller's release runs when
** the last tensor using it goes. */
typedef struct borrowed_storage {
    tg__storage base;
    void (*release)(void *user);
    void *user;
} borrowed_storage;

static void borrowed_release(tg__storage *s)
{
    borrowed_storage *b = (borrowed_storage *)(void *)s;
    if (b->release)
        b->release(b->user);
    tg__free(b);
}

tg_tensor *tg_from_buffer(int ndim, const int64_t *shape, double *data, void (*release)(void *user),
                          void *user)
{
    int64_t numel = tg__check_shape("tg_from_buffer", ndim, shape);
    if (numel < 0)
        return NULL;
    if (!data && numel > 0) {
        tg__error(TG_ERR_ARG, "tg_from_buffer: data is NULL for %lld elements", (long long)numel);
        return NULL;
    }
    if ((uintptr_t)data % _Alignof(double) != 0) {
        tg__error(TG_ERR_ARG, "tg_from_buffer: data %p is not aligned to %zu bytes", (void *)data,
                  _Alignof(double));
        return NULL;
    }
    borrowed_storage *b = tg__calloc(1, sizeof *b);
    if (!b) {
        tg__error(TG_ERR_NOMEM, "tg_from_buffer: out of memory");
        return NULL;
    }
    b->base.release = borrowed_release;
    b->base.data = data;
    b->release = release;
    b->user = user;
    tg_tensor *t = tg__tensor_wrap("tg_from_buffer", ndim, shape, &b->base, data);
    if (!t) {
        tg__free(b);
        return NULL;
    }
    return tg__adopt(t);
}

tg_tensor *tg_linspace(double start, double end, int64_t steps)
{
    if (steps < 0) {
        tg__error(TG_ERR_ARG, "tg_linspace: steps is %lld, must be >= 0", (long long)steps);
        return NULL;
    }
    tg_tensor *t = tg__tensor_new("tg_linspace", 1, &steps);
    if (!t)
        return NULL;
    /* PyTorch's CPU kernel: first half from start, second half from end */
    double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0.0;
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; i++)
        t->data[i] = i < half ? start + step * (double)i : end - step * (double)(steps - i - 1);
    if (steps == 1)
        t->data[0] = start;
    return tg__adopt(t);
}

/* ----------------------------------------------------------- accessors */

/* The shape accessors and tg_requires_grad read what apply fixed: they check
** the tensor (tg__check_arg) without computing pending values, so asking a
** pending result its size inside a step leaves the step fusable. */
int tg_ndim(const tg_tensor *t)
{
    if (tg__check_arg("tg_ndim", "t", t) != TG_OK) {
        return -1;
    }
    return t->ndim;
}

const int64_t *tg_shape(const tg_tensor *t)
{
    if (tg__check_arg("tg_shape", "t", t) != TG_OK) {
        return NULL;
    }
    return t->shape;
}

int64_t tg_numel(const tg_tensor *t)
{
    if (tg__check_arg("tg_numel", "t", t) != TG_OK) {
        return -1;
    }
    return t->numel;
}

double *tg_data(tg_tensor *t)
{
    if (tg__check_live("tg_data", "t", t) != TG_OK) {
        return NULL;
    }
    tg__value_reads++;
    t->lazy_role &= (unsigned char)~TG__LZ_CONST;   /* it may be written through the pointer */
    return t->data;
}

double tg_item(const tg_tensor *t)
{
    if (tg__check_live("tg_item", "t", t) != TG_OK) {
        return NAN;
    }
    tg__value_reads++;
    if (t->numel != 1) {
        char buf[TG__SHAPE_STR];
        tg__error(TG_ERR_SHAPE, "tg_item: tensor of shape %s has %lld elements, not 1",
                  tg__shape_str(buf, t->ndim, t->shape), (long long)t->numel);
        return NAN;
    }
    return t->data[0];
}

/* ----------------------------------------------------------- autograd state */

bool tg_requires_grad(const tg_tensor *t)
{
    return t && tg__check_arg("tg_requires_grad", "t", t) == TG_OK && t->requires_grad;
}

tg_tensor *tg_grad(const tg_tensor *t)
{
    if (!t || tg__check_live("tg_grad", "t", t) != TG_OK)
        return NULL;
    if (t->grad)
        t->grad->borrowed = true;   /* t owns it: a tg_free of it is refused */
    return t->grad;
}

void tg_zero_grad(tg_tensor *t)
{
    if (!t || tg__check_live("tg_zero_grad", "t", t) != TG_OK || !t->grad)
        return;
    tg__tensor_unref(t->grad);
    t->grad = NULL;
}

tg_tensor *tg_detach(tg_tensor *t)
{
    if (tg__check_live("tg_detach", "t", t) != TG_OK)
        return NULL;
    tg_tensor *d = tg__tensor_alias(t, t->ndim, t->shape);
    return d ? tg__adopt(d) : NULL;
}
