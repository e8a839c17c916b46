/*
** The toolchain under the code generator: compiles a C source text into a
** shared object with the system compiler and loads it, keeping built objects
** in an on-disk cache keyed by the source, the compiler and the CPU.  jit.c
** (which writes the source) calls it; it knows nothing of graphs or tensors.
*/
#ifndef TG_TOOLCHAIN_H
#define TG_TOOLCHAIN_H

#include <stddef.h>

/* Compiles src (len bytes of C, no NUL needed) into a shared object, or
** finds it in the cache, and returns its dlopen handle (RTLD_NOW |
** RTLD_LOCAL); NULL when no compiler works or the object does not load.
** Thread-safe; processes sharing the cache never load a partial file.  The
** caller closes the handle with tg__toolchain_unload. */
void *tg__toolchain_load(const char *src, size_t len);

/* dlclose of a handle from tg__toolchain_load; NULL is a no-op. */
void tg__toolchain_unload(void *dl);

#endif
