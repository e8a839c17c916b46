/* SPDX-License-Identifier: MIT */
/*
** The storage pool: tensor data blocks are recycled by size class instead of
** going back to malloc, because a fresh large block costs a page fault per 4
** KiB on first touch, many times the arithmetic done on it.  Classes are
** quarter steps between powers of two (at most 25% slack).  Blocks return to
** the system only when the cache exceeds its limit or on tg_release_memory().
** Large blocks are shared by all threads under one mutex, except each
** thread's last few freed ones, which it keeps for itself; blocks up to 1
** KiB go through the per-thread small-object lists of alloc.c.  Core layer.
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
static _Atomic size_t cache_limit = (size_t)2 << 30;   /* 2 GiB; written under lock */

/* A thread that frees a block usually asks for one of its class again soon
** (a training step's tensors die at scope end and are made again by the
** next step), so it keeps its last HOT_SLOTS freed blocks of up to
** HOT_MAX_BLOCK bytes and takes them back without the lock: the lock and
** unlock around every tensor's block were 4% of the eager tutorial step at N
** = 2,000.  tg_release_memory empties the calling thread's; a thread's go
** to the shared lists when it ends.  bytes is read by tg_get_memory_stats
** from other threads (registry, under lock). */
#define HOT_SLOTS 16
#define HOT_MAX_BLOCK ((size_t)256 << 10)
typedef struct hot_cache {
    void *blk[HOT_SLOTS];
    size_t size[HOT_SLOTS];          /* a class's size: the class follows from it */
    int n;
    _Atomic size_t bytes;
    bool registered;
    struct hot_cache *prev, *next;
} hot_cache;
static _Thread_local hot_cache hot TG_TLS_HOT;
static hot_cache *registry;
static pthread_key_t hot_key;
static pthread_once_t hot_once = PTHREAD_ONCE_INIT;

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

/* Onto the shared list of class c, or back to the system past the limit.  Under lock. */
static void shared_put(void *p, int c, size_t size)
{
    if (cached_bytes + size > atomic_load_explicit(&cache_limit, memory_order_relaxed)) {
        tg__free(p);
        return;
    }
    block *b = p;
    b->next = free_list[c];
    free_list[c] = b;
    TG_POISON(b, size);
    cached_bytes += size;
}

/* At thread exit: the thread's kept blocks to the shared lists. */
static void hot_exit(void *arg)
{
    hot_cache *h = arg;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < h->n; i++) {
        size_t size;
        TG_UNPOISON(h->blk[i], h->size[i]);
        shared_put(h->blk[i], size_class(h->size[i], &size), h->size[i]);
    }
    h->n = 0;
    atomic_store_explicit(&h->bytes, 0, memory_order_relaxed);
    if (h->prev)
        h->prev->next = h->next;
    else
        registry = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->registered = false;
    pthread_mutex_unlock(&lock);
}

static void make_hot_key(void) { pthread_key_create(&hot_key, hot_exit); }

/* The thread's first kept block: its cache joins the registry, to be emptied at its exit. */
TG_COLD static bool hot_register(hot_cache *h)
{
    pthread_once(&hot_once, make_hot_key);
    if (pthread_setspecific(hot_key, h) != 0)
        return false;
    pthread_mutex_lock(&lock);
    h->prev = NULL;
    h->next = registry;
    if (registry)
        registry->prev = h;
    registry = h;
    h->registered = true;
    pthread_mutex_unlock(&lock);
    return true;
}

/* A block of size bytes (a class's size) this thread kept, or NULL. */
static void *take_hot(size_t size)
{
    hot_cache *h = &hot;
    for (int i = h->n; i-- > 0;) {
        if (h->size[i] != size)
            continue;
        void *p = h->blk[i];
        h->n--;   /* the top slot fills the hole */
        h->blk[i] = h->blk[h->n], h->size[i] = h->size[h->n];
        atomic_store_explicit(&h->bytes, atomic_load_explicit(&h->bytes, memory_order_relaxed) - size,
                              memory_order_relaxed);
        TG_UNPOISON(p, size);
        return p;
    }
    return NULL;
}

/* Keeps block p (size bytes, a class's size) for this thread when it is
** small and there is room within the cache limit. */
static bool keep_hot(void *p, size_t size)
{
    hot_cache *h = &hot;
    size_t bytes = atomic_load_explicit(&h->bytes, memory_order_relaxed);
    if (size > HOT_MAX_BLOCK || h->n == HOT_SLOTS ||
        bytes + size > atomic_load_explicit(&cache_limit, memory_order_relaxed) ||
        (!h->registered && !hot_register(h)))
        return false;
    h->blk[h->n] = p, h->size[h->n] = size;
    h->n++;
    atomic_store_explicit(&h->bytes, bytes + size, memory_order_relaxed);
    TG_POISON(p, size);
    return true;
}

/* tg_release_memory: the calling thread's kept blocks to the system. */
static void hot_flush(void)
{
    hot_cache *h = &hot;
    for (int i = 0; i < h->n; i++) {
        TG_UNPOISON(h->blk[i], h->size[i]);
        tg__free(h->blk[i]);
    }
    h->n = 0;
    atomic_store_explicit(&h->bytes, 0, memory_order_relaxed);
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
    void *p = take_hot(*size);
    if (p)
        return p;
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
    if (keep_hot(p, size))
        return;
    pthread_mutex_lock(&lock);
    shared_put(p, c, size);
    pthread_mutex_unlock(&lock);
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
    hot_flush();
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
    size_t prev = atomic_exchange_explicit(&cache_limit, bytes, memory_order_relaxed);
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
    for (const hot_cache *h = registry; h; h = h->next)
        out->cached_bytes += atomic_load_explicit(&h->bytes, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
}
