/*
** The allocator: every allocation of the library passes through here, so a
** pool, a counter or a failure-injection hook has one place to live.  It
** counts live blocks, which the tests use to prove that training loops in
** scopes hold flat memory.  Bottom of the core layer; reports nothing itself
** (callers record TG_ERR_NOMEM).
*/
#include "internal.h"

#include <stdatomic.h>

static atomic_llong live_blocks;

void *tg__malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return p;
}

void *tg__calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return p;
}

void *tg__realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
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
