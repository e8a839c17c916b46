/* SPDX-License-Identifier: MIT */
/*
** Scopes: a thread-local stack of tensor lists.  A tensor returned to the user
** is adopted by the innermost scope (or left to the caller), and scope end
** releases every tensor still owned.  Ended scopes are kept on a free list so
** a training loop's scope_begin/scope_end pair stops allocating after the
** first step.  Core layer.
*/
#include "internal.h"

#include <pthread.h>


static pthread_key_t scopes_key;
static pthread_once_t scopes_once = PTHREAD_ONCE_INIT;

_Thread_local tg__scope_stack tg__scopes TG_TLS_HOT;

/* At thread exit: the kept scope structures (tensors of scopes left open
** stay the caller's mistake, as with any leak). */
static void scopes_exit(void *arg)
{
    tg__scope_stack *st = arg;
    while (st->spare) {
        tg__scope *s = st->spare;
        st->spare = s->parent;
        tg__free(s->items);
        tg__free(s);
    }
}

static void make_scopes_key(void) { pthread_key_create(&scopes_key, scopes_exit); }

/* The first scope of this thread, or one more nested than ever before. */
TG_COLD static tg__scope *scope_new(void)
{
    tg__scope *s = tg__calloc(1, sizeof *s);
    if (!s) {
        tg__error(TG_ERR_NOMEM, "tg_scope_begin: out of memory");
        tg__scopes.phantom++;
        return NULL;
    }
    /* free the structures when the thread ends */
    pthread_once(&scopes_once, make_scopes_key);
    pthread_setspecific(scopes_key, &tg__scopes);
    return s;
}

void tg_scope_begin(void)
{
    tg__scope_stack *st = &tg__scopes;
    tg__scope *s = st->spare;
    if (s)
        st->spare = s->parent;
    else if (!(s = scope_new()))
        return;
    tg__scope_push(st, s);
}

static bool push(tg__scope *s, tg_tensor *t)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 64;
        tg_tensor **items = tg__realloc(s->items, (size_t)cap * sizeof *items);
        if (!items)
            return false;
        s->items = items;
        s->cap = cap;
    }
    t->scope = s;
    t->scope_slot = s->n;
    s->items[s->n++] = t;
    s->live++;
    return true;
}

tg_tensor *tg__adopt_slow(tg_tensor *t)
{
    if (!push(tg__scopes.top, t)) {
        tg__tensor_unref(t);
        tg__error(TG_ERR_NOMEM, "out of memory registering a tensor in its scope");
        return NULL;
    }
    return t;
}

void tg__unscope_slow(tg_tensor *t)
{
    tg__scope *s = t->scope;
    if (!s)
        return;
    TG_ASSERT(s->items[t->scope_slot] == t);
    s->items[t->scope_slot] = NULL;
    s->live--;
    /* a tensor taken from the end leaves no hole: keeps hot loops compact */
    while (s->n > 0 && !s->items[s->n - 1])
        s->n--;
    t->scope = NULL;
    t->scope_slot = -1;
}

_Thread_local void (*tg__lazy_flush)(void) TG_TLS_HOT;
_Thread_local void (*tg__lazy_retire)(void) TG_TLS_HOT;
_Thread_local unsigned tg__value_reads TG_TLS_HOT;
void (*tg__lazy_touch)(const tg_tensor *t);

_Thread_local int tg__scope_quiet;

void tg_scope_end(void)
{
    if (!tg__scope_quiet)
        tg__lazy_sync();   /* the end of a scope is a realization point */
    tg__scope_stack *st = &tg__scopes;
    if (st->phantom > 0) {
        st->phantom--;
        return;
    }
    tg__scope *s = st->top;
    if (!s) {
        tg__error(TG_ERR_STATE, "tg_scope_end: no scope is open");
        return;
    }
    /* release newest first: results go before the operands they were made from */
    for (int64_t i = s->n; i-- > 0;) {
        tg_tensor *t = s->items[i];
        if (!t)
            continue;
        t->scope = NULL;
        t->scope_slot = -1;
        tg__tensor_unref(t);
    }
    s->n = 0;
    s->live = 0;
    tg__scope_pop(st);
    if (tg__lazy_retire && !tg__scope_quiet)   /* a fused step's intermediates: dropped unless still held */
        tg__lazy_retire();
}

void tg__scope_end_to_slow(int d)
{
    while (tg__scopes.depth > d)
        tg_scope_end();
}

tg_tensor *tg_keep(tg_tensor *t)
{
    if (tg__check_live("tg_keep", "t", t) != TG_OK)
        return NULL;
    tg__scope *s = t->scope;
    if (!s)
        return t;
    tg__unscope(t);
    if (s->parent && !push(s->parent, t)) {
        /* cannot move it outward: leave it where it was */
        push(s, t);
        tg__error(TG_ERR_NOMEM, "tg_keep: out of memory");
        return NULL;
    }
    return t;
}

void tg_free(tg_tensor *t)
{
    if (!t || tg__check_live("tg_free", "t", t) != TG_OK)
        return;   /* a second free is reported, not repeated */
    if (t->borrowed) {
        tg__error(TG_ERR_STATE, "tg_free: t is a gradient from tg_grad, owned by its tensor; not freed");
        return;
    }
    tg__unscope(t);
    tg__tensor_unref(t);
}
