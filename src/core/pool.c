/*
** The storage pool: tensor data blocks are recycled by size class instead of
** going back to malloc, because a fresh large block costs a page fault per 4
** KiB on first touch, many times the arithmetic done on it.  Classes are
** quarter steps between powers of two (at most 25% slack).  Blocks return to
** the system only when the cache exceeds its limit or on tg_release_memory().
** Large blocks are shared by all threads under one mutex; blocks up to 1 KiB
** go through the per-thread small-object lists of alloc.c.  Core layer.
*/
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define MIN_SHIFT 6    /* classes start at 64 bytes */
#define N_CLASSES 232  /* 4 per power of two, up to 2^63 */
#define SMALL_BLOCK 1024   /* blocks up to this size live in tg__obj_alloc's lists */

typedef struct block { struct block *next; } block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block *free_list[N_CLASSES];
static size_t cached_bytes;
static size_t cache_limit = (size_t)2 << 30;   /* 2 GiB */

/* Class index and its size for a request of n bytes. */
static int size_class(size_t n, size_t *size)
{
    if (n < ((size_t)1 << MIN_SHIFT))
        n = (size_t)1 << MIN_SHIFT;
    int p = 63 - __builtin_clzll((unsigned long long)n);   /* 2^p <= n < 2^(p+1) */
    size_t base = (size_t)1 << p, quarter = base >> 2;
    int q = (int)((n - base + quarter - 1) / quarter);     /* 0..4 quarters above 2^p */
    if (q == 4) {
        p++, q = 0;
        base <<= 1;
        quarter <<= 1;
    }
    *size = base + (size_t)q * quarter;
    return (p - MIN_SHIFT) * 4 + q;
}

void *tg__storage_alloc(size_t n, size_t *size)
{
    if (n > ((size_t)1 << 62))
        return NULL;
    if (n <= SMALL_BLOCK) {   /* small: the per-thread object lists (16-byte classes), no lock */
        *size = n < 64 ? 64 : (n + 15) & ~(size_t)15;
        return tg__obj_alloc(*size);
    }
    int c = size_class(n, size);
    pthread_mutex_lock(&lock);
    block *b = free_list[c];
    if (b) {
        TG_UNPOISON(b, *size);
        free_list[c] = b->next;
        cached_bytes -= *size;
    }
    pthread_mutex_unlock(&lock);
    /* at a cache line: the data, 64 bytes in, is then too, and the kernels'
    ** vectors never straddle two lines (at N = 2,000 the eager step's kernel
    ** calls took 3.2 us from malloc's 16-byte alignment, 2.3 us from this) */
    return b ? (void *)b : tg__malloc_lines(*size);
}

void tg__storage_free(void *p, size_t size)
{
    if (!p)
        return;
    if (size <= SMALL_BLOCK) {
        tg__obj_free(p, size);
        return;
    }
    size_t got;
    int c = size_class(size, &got);
    TG_ASSERT(got == size);
    pthread_mutex_lock(&lock);
    bool keep = cached_bytes + size <= cache_limit;
    if (keep) {
        block *b = p;
        b->next = free_list[c];
        free_list[c] = b;
        TG_POISON(b, size);
        cached_bytes += size;
    }
    pthread_mutex_unlock(&lock);
    if (!keep)
        tg__free(p);
}

/* Other layers' per-thread caches (the executor's working arrays) register
** here to be emptied by tg_release_memory. */
#define MAX_HOOKS 8
static void (*release_hooks[MAX_HOOKS])(void);
static _Atomic int n_hooks;

void tg__on_release_memory(void (*hook)(void))
{
    pthread_mutex_lock(&lock);
    int n = n_hooks;
    TG_ASSERT(n < MAX_HOOKS);
    release_hooks[n] = hook;
    n_hooks = n + 1;
    pthread_mutex_unlock(&lock);
}

void tg_release_memory(void)
{
    for (int i = 0; i < n_hooks; i++)
        release_hooks[i]();
    tg__obj_flush();
    pthread_mutex_lock(&lock);
    for (int c = 0; c < N_CLASSES; c++) {
        while (free_list[c]) {
            block *b = free_list[c];
            TG_UNPOISON(b, sizeof *b);
            free_list[c] = b->next;
            tg__free(b);
        }
    }
    cached_bytes = 0;
    pthread_mutex_unlock(&lock);
}

size_t tg_set_memory_cache_limit(size_t bytes)
{
    pthread_mutex_lock(&lock);
    size_t prev = cache_limit;
    cache_limit = bytes;
    pthread_mutex_unlock(&lock);
    if (bytes < prev)
        tg_release_memory();
    return prev;
}

void tg_get_memory_stats(tg_memory_stats *out)
{
    if (!out)
        return;
    out->system_allocations = tg__alloc_system_calls();
    out->live_blocks = tg__alloc_live();
    pthread_mutex_lock(&lock);
    out->cached_bytes = cached_bytes;
    pthread_mutex_unlock(&lock);
}
