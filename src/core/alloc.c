/*
** The allocator: every allocation of the library passes through here, so a
** later pool, a counter or a failure-injection hook has one place to live.
** Bottom of the core layer; reports nothing itself (callers record NOMEM).
*/
#include "internal.h"

void *tg__malloc(size_t n) { return malloc(n ? n : 1); }

void *tg__calloc(size_t count, size_t size) { return calloc(count ? count : 1, size ? size : 1); }

void *tg__realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

void tg__free(void *p) { free(p); }
