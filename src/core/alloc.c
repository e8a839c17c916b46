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

#include <stdatomic.h>

static atomic_llong live_blocks;
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

void *tg__malloc(size_t n)
{
    void *p = inject() ? NULL : malloc(n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return p;
}

void *tg__calloc(size_t count, size_t size)
{
    void *p = inject() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return p;
}

void *tg__realloc(void *p, size_t n)
{
    void *q = inject() ? NULL : realloc(p, n ? n : 1);
    if (q && !p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
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
