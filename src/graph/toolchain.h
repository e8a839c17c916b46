/* SPDX-License-Identifier: MIT */
/*
** The toolchain under the code generator: compiles a C source text into a
** shared object with the system compiler and loads it, keeping built objects
** in an on-disk cache keyed by the source, the compiler and the CPU.  jit.c
** (which writes the source) calls it; it knows nothing of graphs or tensors.
*/
#ifndef TG_TOOLCHAIN_H
#define TG_TOOLCHAIN_H

#include <stddef.h>
#include <stdint.h>

/* Compiles src (len bytes of C, no NUL needed) into a shared object, or
** finds it in the cache, and returns its dlopen handle (RTLD_NOW |
** RTLD_LOCAL); NULL when no compiler works or the object does not load.
** Thread-safe; processes sharing the cache never load a partial file.  The
** caller closes the handle with tg__toolchain_unload. */
void *tg__toolchain_load(const char *src, size_t len);

/* dlclose of a handle from tg__toolchain_load; NULL is a no-op. */
void tg__toolchain_unload(void *dl);

/* Pieces of the above, for tests. */
/* The compiler's argv: $TG_CC, else $CC, else "cc", split on blanks into
** buf (n bytes); argv gets at most max - 1 words and a NULL.  The word count,
** 0 when the value does not fit. */
int tg__toolchain_cc(char *buf, size_t n, const char **argv, int max);
/* The CPU as the key sees it: model name and feature flags (/proc/cpuinfo). */
const char *tg__toolchain_cpu(void);
/* The cache key of src compiled by cc_argv (NULL-terminated) on cpu. */
uint64_t tg__toolchain_key(const char *src, size_t len, const char *const *cc_argv, const char *cpu);

#endif
