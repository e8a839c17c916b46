/* SPDX-License-Identifier: MIT */
/*
** tgfit under an address-space limit (ulimit -v / -d).  Debian's OpenBLAS
** creates its worker threads in its constructor, and a worker whose 128 MB
** buffer does not fit under the limit retries the map for ever: the process
** spins and its exit hangs joining the worker, a thread the library cannot
** reach.  OPENBLAS_NUM_THREADS=1 avoids the workers, but it must be in the
** environment before OpenBLAS's constructor runs, and setenv there is undone
** when libc sets up environ.  So the executable's .preinit_array (run before
** every shared library's constructor, given argc, argv and envp) re-executes
** tgfit once with OPENBLAS_NUM_THREADS=1 added, when a limit is set and the
** user did not choose a count.  With one thread the only buffer is the
** caller's, which the library checks before every call (src/blas.c).
*/
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int limited(int resource)
{
    struct rlimit r;
    return getrlimit(resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY;
}

static void blas_one_thread_under_limit(int argc, char **argv, char **envp)
{
    (void)argc;
    if (!envp || !(limited(RLIMIT_AS) || limited(RLIMIT_DATA)))
        return;
    size_t n = 0;
    for (; envp[n]; n++)
        if (strncmp(envp[n], "OPENBLAS_NUM_THREADS=", 21) == 0)
            return;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return;
    memcpy(env, envp, n * sizeof *env);
    env[n] = "OPENBLAS_NUM_THREADS=1";
    env[n + 1] = NULL;
    execve("/proc/self/exe", argv, env);
    free(env);   /* exec failed: run on, as before */
}

#if defined(__GNUC__) && defined(__linux__)
__attribute__((section(".preinit_array"), used)) static void (*const tgfit_preinit)(int, char **, char **) =
    blas_one_thread_under_limit;
#endif
