/* SPDX-License-Identifier: MIT */
/*
** The allocator: every allocation of the library passes through here, so a
** pool, a counter or a failure-injection hook has one place to live.  It
** counts live blocks (the tests prove that training loops in scopes hold flat
** memory) and can be told to fail the n-th allocation from now, once or for
** good (the tests walk a failure through every allocation of an operation, as
** SQLite does).  Bottom of the core layer; reports nothing itself: callers
** record TG_ERR_NOMEM.
*/
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static atomic_llong live_blocks;
static atomic_llong system_calls;      /* allocations that reached malloc */
static atomic_llong fail_countdown;    /* 0: off; n: the n-th allocation from now fails */
static atomic_bool fail_forever;
static atomic_llong failures;

/* True when this allocation must fail (test hook). */
static bool inject(void)
{
    long long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (c == 0)
        return false;
    if (c == 1) {
        if (!atomic_load(&fail_forever))
            atomic_store(&fail_countdown, 0);
        atomic_fetch_add(&failures, 1);
        return true;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

/* p, a new block from the system (or NULL), counted as live and as a system call. */
static void *counted(void *p)
{
    if (p) {
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&system_calls, 1, memory_order_relaxed);
    }
    return p;
}

void *tg__malloc(size_t n) { return counted(inject() ? NULL : malloc(n ? n : 1)); }

void *tg__malloc_lines(size_t n)
{
    TG_ASSERT(n % 64 == 0);
    return counted(inject() ? NULL : aligned_alloc(64, n ? n : 64));
}

void *tg__calloc(size_t count, size_t size)
{
    return counted(inject() ? NULL : calloc(count ? count : 1, size ? size : 1));
}

void *tg__realloc(void *p, size_t n)
{
    void *q = inject() ? NULL : realloc(p, n ? n : 1);
    if (q && !p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    if (q)
        atomic_fetch_add_explicit(&system_calls, 1, memory_order_relaxed);
    return q;
}

void tg__free(void *p)
{
    if (p)
        atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
    free(p);
}

int64_t tg__alloc_live(void) { return (int64_t)atomic_load(&live_blocks); }

void tg__alloc_fail_at(int64_t n, bool forever)
{
    atomic_store(&fail_forever, forever);
    atomic_store(&failures, 0);
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}

int64_t tg__alloc_failures(void) { return (int64_t)atomic_load(&failures); }

int64_t tg__alloc_system_calls(void) { return (int64_t)atomic_load(&system_calls); }

/* ------------------------------------------------------ small objects
** Tensor headers, graph nodes and other small blocks (uninitialized, like
** malloc's) are recycled through
** per-thread free lists in 16-byte classes, so a training step in steady
** state makes no call to malloc.  A thread's lists are freed when it exits;
** tg_release_memory() empties the calling thread's. */

#define OBJ_GRAIN 16
#define OBJ_MAX 1024
#define OBJ_CLASSES (OBJ_MAX / OBJ_GRAIN)
#define OBJ_KEEP 4096          /* objects kept per class and thread */

typedef struct obj { struct obj *next; } obj;
/* Freed tensor blocks (tg__obj_free_later) wait in a small FIFO per class
** before they join the lists, so a stale pointer to a freed tensor keeps
** meeting its dead header (TG_ERR_STATE) for the next TG_QUARANTINE frees of
** its size instead of a new tensor at once.  An allocation that finds the
** list empty takes the oldest waiting block before asking the system, so the
** quarantine costs no allocation in a steady loop. */
#define TG_QUARANTINE 8
typedef struct obj_cache {
    obj *list[OBJ_CLASSES];
    int count[OBJ_CLASSES];
    bool registered;
    obj *ring[OBJ_CLASSES][TG_QUARANTINE];
    unsigned char r_head[OBJ_CLASSES], r_n[OBJ_CLASSES];
} obj_cache;

static _Thread_local obj_cache cache;
/* &cache once the thread has used the lists: the fast paths reach the lists
** through this small initial-exec pointer (see TG_TLS_HOT) */
static _Thread_local obj_cache *lists TG_TLS_HOT;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void flush(obj_cache *c)
{
    for (int k = 0; k < OBJ_CLASSES; k++)
        for (; c->r_n[k] > 0; c->r_n[k]--, c->r_head[k] = (unsigned char)((c->r_head[k] + 1) % TG_QUARANTINE))
            tg__free(c->ring[k][c->r_head[k]]);
    for (int k = 0; k < OBJ_CLASSES; k++) {
        while (c->list[k]) {
            obj *o = c->list[k];
            TG_UNPOISON(o, (size_t)(k + 1) * OBJ_GRAIN);
            c->list[k] = o->next;
            tg__free(o);
        }
        c->count[k] = 0;
    }
}

/* At thread exit.  Another key's destructor may still free objects after
** this one (lazy mode's plan cache holds tensors): the lists are then found
** and registered again, so the next round of destructors frees them too. */
static void cache_exit(void *c)
{
    flush(c);
    ((obj_cache *)c)->registered = false;
    lists = NULL;
}
static void make_key(void) { pthread_key_create(&cache_key, cache_exit); }

/* So the thread's lists are freed when it ends. */
static void register_cache(void)
{
    if (!cache.registered) {
        pthread_once(&cache_once, make_key);
        cache.registered = pthread_setspecific(cache_key, &cache) == 0;
    }
}

void tg__obj_flush(void) { flush(&cache); }

/* The cases off the fast path: a size past the classes, an empty list, a
** failure being injected (the test hook counts cached blocks too). */
TG_COLD static void *obj_alloc_slow(size_t n)
{
    lists = &cache;
    if (n == 0 || n > OBJ_MAX)
        return tg__malloc(n);
    int k = (int)((n - 1) / OBJ_GRAIN);
    obj *o = cache.list[k];
    if (!o && cache.r_n[k] > 0) {   /* the oldest block waiting in the quarantine */
        if (inject())
            return NULL;
        o = cache.ring[k][cache.r_head[k]];
        cache.r_head[k] = (unsigned char)((cache.r_head[k] + 1) % TG_QUARANTINE);
        cache.r_n[k]--;
        return o;
    }
    if (!o) {
        register_cache();
        return tg__malloc((size_t)(k + 1) * OBJ_GRAIN);
    }
    if (inject())
        return NULL;
    TG_UNPOISON(o, (size_t)(k + 1) * OBJ_GRAIN);
    cache.list[k] = o->next;
    cache.count[k]--;
    return o;
}

void *tg__obj_alloc(size_t n)
{
    size_t k = (n - 1) / OBJ_GRAIN;   /* n == 0 wraps past the classes */
    obj_cache *c = lists;
    obj *o;
    if (!c || k >= OBJ_CLASSES || !(o = c->list[k]) ||
        atomic_load_explicit(&fail_countdown, memory_order_relaxed) != 0)
        return obj_alloc_slow(n);
    TG_UNPOISON(o, (k + 1) * OBJ_GRAIN);
    c->list[k] = o->next;
    c->count[k]--;
    return o;
}

void tg__obj_free_later(void *p, size_t n)
{
    obj_cache *c = &cache;
    size_t k = (n - 1) / OBJ_GRAIN;
    if (!p || n == 0 || k >= OBJ_CLASSES) {
        tg__obj_free(p, n);
        return;
    }
    lists = c;
    register_cache();   /* the quarantine too */
    if (c->r_n[k] == TG_QUARANTINE) {   /* the oldest joins the list */
        obj *old = c->ring[k][c->r_head[k]];
        c->r_head[k] = (unsigned char)((c->r_head[k] + 1) % TG_QUARANTINE);
        c->r_n[k]--;
        tg__obj_free(old, n);
    }
    c->ring[k][(c->r_head[k] + c->r_n[k]) % TG_QUARANTINE] = p;
    c->r_n[k]++;
}

/* The block back to the system, or (first use on this thread) the lists found. */
TG_COLD static void obj_free_slow(void *p, size_t n)
{
    lists = &cache;
    size_t k = (n - 1) / OBJ_GRAIN;
    if (k < OBJ_CLASSES && cache.count[k] < OBJ_KEEP) {
        register_cache();
        tg__obj_free(p, n);
        return;
    }
    tg__free(p);
}

void tg__obj_free(void *p, size_t n)
{
    size_t k = (n - 1) / OBJ_GRAIN;   /* n == 0 wraps past the classes */
    obj_cache *c = lists;
    if (!p)
        return;
    if (!c || k >= OBJ_CLASSES || c->count[k] >= OBJ_KEEP) {
        obj_free_slow(p, n);
        return;
    }
    obj *o = p;
    o->next = c->list[k];
    c->list[k] = o;
    TG_POISON(o, (k + 1) * OBJ_GRAIN);
    c->count[k]++;
}
