/* SPDX-License-Identifier: MIT */
/*
** The address-space rule of room.h: how many of OpenBLAS's threads fit under
** RLIMIT_AS / RLIMIT_DATA.  Linked into libtensorgrad (for src/blas.c and the
** static library's preinit.c) and into libtensorgrad_blasenv.so (shim.c).
** Below every other file of the library: it includes nothing of tensorgrad.
*/
#define _GNU_SOURCE   /* environ */
#include "room.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>

/* OpenBLAS's per-thread buffer on x86_64 (BUFFER_SIZE, 32 << 22) plus its
** alignment. */
#define BLAS_BUFFER_BYTES ((int64_t)130 << 20)
/* A thread OpenBLAS runs on: its buffer, a glibc malloc arena (64 MB of
** address space) and its stack.  A failed pthread_create in OpenBLAS ends in
** raise(SIGINT), so its threads must fit too. */
#define BLAS_WORKER_BYTES (BLAS_BUFFER_BYTES + ((int64_t)80 << 20))
#define BLAS_SLACK_BYTES ((int64_t)16 << 20)

/* Fields 1 (size) and 6 (data) of /proc/self/statm, in pages. */
static bool statm(long long *size, long long *data)
{
    char text[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t len = read(fd, text, sizeof text - 1);
    close(fd);
    if (len <= 0)
        return false;
    text[len] = '\0';
    long long field[6];
    const char *p = text;
    for (int i = 0; i < 6; i++) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        for (field[i] = 0; *p >= '0' && *p <= '9'; p++)
            field[i] = field[i] * 10 + (*p - '0');
    }
    *size = field[0], *data = field[5];
    return true;
}

int64_t tg__blas_room(void)
{
    struct rlimit as, data;
    bool has_as = getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY;
    bool has_data = getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY;
    if (!has_as && !has_data)
        return INT64_MAX;
    long long size, dat;
    if (!statm(&size, &dat))
        return 0;   /* cannot tell: treat as no room rather than risk the hang */
    int64_t page = (int64_t)sysconf(_SC_PAGESIZE), room = INT64_MAX;
    if (has_as)
        room = (int64_t)as.rlim_cur - size * page;
    if (has_data && (int64_t)data.rlim_cur - dat * page < room)
        room = (int64_t)data.rlim_cur - dat * page;
    return room - BLAS_SLACK_BYTES;
}

int64_t tg__blas_need(int n, bool self_ready, int workers_ready)
{
    int64_t self = self_ready ? 0 : BLAS_WORKER_BYTES;
    return self + (n - 1 > workers_ready ? (int64_t)(n - 1 - workers_ready) * BLAS_WORKER_BYTES : 0);
}

int tg__blas_threads_that_fit(int64_t room, int most)
{
    int n = 1;
    while (n < most && tg__blas_need(n + 1, false, 0) <= room)
        n++;
    return n;
}

/* Whether envp already chooses the count: the variables OpenBLAS reads. */
static bool env_chooses(char *const *envp)
{
    static const char *const names[] = {"OPENBLAS_NUM_THREADS=", "GOTO_NUM_THREADS=", "OMP_NUM_THREADS="};
    for (; envp && *envp; envp++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strncmp(*envp, names[i], strlen(names[i])) == 0)
                return true;
    return false;
}

/* Writes "OPENBLAS_NUM_THREADS=n" into buf; returns buf. */
static char *env_entry(char *buf, int n)
{
    static const char name[] = "OPENBLAS_NUM_THREADS=";
    char digits[12];
    int len = 0;
    unsigned v = n > 0 ? (unsigned)n : 1u;
    do
        digits[len++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    memcpy(buf, name, sizeof name - 1);
    for (int i = 0; i < len; i++)
        buf[sizeof name - 1 + (size_t)i] = digits[len - 1 - i];
    buf[sizeof name - 1 + (size_t)len] = '\0';
    return buf;
}

#define TG_BLAS_ENV_ENTRY_MAX 40   /* "OPENBLAS_NUM_THREADS=" and an int */

/* "OPENBLAS_NUM_THREADS=N" for the threads that fit, or NULL when no limit
** is set or envp chooses the count itself. */
static char *env_under_limit(char *buf, char *const *envp)
{
    int64_t room = tg__blas_room();
    if (room == INT64_MAX || env_chooses(envp))
        return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return env_entry(buf, tg__blas_threads_that_fit(room, cpus > 0 && cpus < 1024 ? (int)cpus : 1));
}

/* Executes this program again with `entry` added to envp; returns when the
** exec fails. */
static void exec_with(char **argv, char **envp, char *entry)
{
    size_t n = 0;
    while (envp[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return;
    memcpy(env, envp, n * sizeof *env);
    env[n] = entry;
    env[n + 1] = NULL;
    execve("/proc/self/exe", argv, env);
    free(env);
}

void tg__blas_env_apply(int argc, char **argv, char **envp)
{
    static char entry[TG_BLAS_ENV_ENTRY_MAX];   /* putenv keeps the string: it lives for ever */
    /* An initializer run by a dlopen, or after libc's own in a fully static
    ** program, is given environ itself (NULL after a clearenv()).  Before
    ** libc's initializer environ is NULL, and envp is the start-up stack's. */
    bool libc_ready = environ == envp;
    if (!env_under_limit(entry, envp))
        return;
    if (libc_ready) {
        putenv(entry);
        return;
    }
    /* AT_BASE is 0 when ld.so itself is the program (`ld.so ./prog`): /proc/self/exe is ld.so */
    if (argc > 0 && argv && argv[0] && envp && !getauxval(AT_SECURE) && getauxval(AT_BASE) != 0)
        exec_with(argv, envp, entry);
}
