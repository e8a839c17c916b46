/* SPDX-License-Identifier: MIT */
/*
** The toolchain: the system compiler turning a generated C source into a
** shared object, an on-disk cache of built objects, and the dlopen that
** loads one.  Called by the code generator (jit.c); sees no graph.
**
** No shell ever runs.  The compiler is $TG_CC, else $CC, else cc, split on
** blanks into an argv (a $CC of "ccache gcc -m64" works; quotes, `;`,
** `$(...)` are plain characters of an argument) and started with
** posix_spawnp; its output is discarded unless $TG_DEBUG is set, and then
** a failure is also reported on stderr.
**
** The cache is $XDG_CACHE_HOME/tensorgrad (XDG_CACHE_HOME absolute), else
** /tmp/tensorgrad-cache-$UID.  The directory is made with mkdirat, opened
** with openat(O_NOFOLLOW | O_DIRECTORY) and checked with fstat on that
** descriptor: ours, not group or world writable, else no cache is used and
** the object is built in a private mkdtemp directory removed after loading.
** Every later access goes through the descriptor (openat, renameat,
** unlinkat; the compiler and dlopen see /proc/self/fd/N/NAME), so a path
** swapped after the check is never followed.  An object is written under a
** temporary name and renamed (concurrent processes never load a partial
** file); the source stays beside it as tg-KEY.c for reading.  The key hashes
** the source, the compiler's argv, the flags and the CPU (model and feature
** flags of /proc/cpuinfo: -march=native code from another CPU may not run).
** A cached object that is empty or does not load is rebuilt; temporaries
** left by dead processes are removed; past TG_CACHE_MAX_BYTES the oldest
** objects go.
*/
#define _GNU_SOURCE   /* O_DIRECTORY / O_NOFOLLOW with openat, dirent d_type */
#include "toolchain.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *const jit_flags[] = {"-O3", "-march=native", "-fPIC", "-shared", "-fno-math-errno"};
#define N_FLAGS (sizeof jit_flags / sizeof jit_flags[0])
#define MAX_CC_ARGS 32
#define TG_CACHE_MAX_BYTES ((long long)256 << 20)
#define STALE_SECONDS 3600

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static char cpu_text[8192];
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/* "model name" and "flags" of the first CPU in /proc/cpuinfo. */
static void read_cpu(void)
{
    char line[8192], model[256] = "", flags[7900] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f) && !(model[0] && flags[0])) {
        char *colon = strchr(line, ':');
        if (colon && !model[0] && strncmp(line, "model name", 10) == 0)
            snprintf(model, sizeof model, "%s", colon + 1);
        if (colon && !flags[0] && strncmp(line, "flags", 5) == 0)
            snprintf(flags, sizeof flags, "%s", colon + 1);
    }
    if (f)
        fclose(f);
    snprintf(cpu_text, sizeof cpu_text, "%s|%s", model, flags);
}

const char *tg__toolchain_cpu(void)
{
    pthread_once(&cpu_once, read_cpu);
    return cpu_text;
}

uint64_t tg__toolchain_key(const char *src, size_t len, const char *const *cc_argv, const char *cpu)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; cc_argv[i]; i++)
        h = fnv1a(h, cc_argv[i], strlen(cc_argv[i]) + 1);
    for (size_t i = 0; i < N_FLAGS; i++)
        h = fnv1a(h, jit_flags[i], strlen(jit_flags[i]) + 1);
    h = fnv1a(h, cpu, strlen(cpu) + 1);
    return fnv1a(h, src, len);
}

int tg__toolchain_cc(char *buf, size_t n, const char **argv, int max)
{
    const char *cc = getenv("TG_CC");
    if (!cc || !cc[strspn(cc, " \t")])
        cc = getenv("CC");
    if (!cc || !cc[strspn(cc, " \t")])
        cc = "cc";
    if (strlen(cc) >= n)
        return 0;
    strcpy(buf, cc);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (k == max - 1)
            return 0;
        argv[k++] = t;
    }
    argv[k] = NULL;
    return k;
}

/* The cache directory as an open descriptor, or -1 when there is none we may trust. */
static int cache_dir(void)
{
    const char *x = getenv("XDG_CACHE_HOME");
    char name[64];
    int parent;
    if (x && x[0] == '/') {
        mkdir(x, 0700);
        parent = open(x, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(name, sizeof name, "tensorgrad");
    } else {
        parent = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(name, sizeof name, "tensorgrad-cache-%u", (unsigned)geteuid());
    }
    if (parent < 0)
        return -1;
    mkdirat(parent, name, 0700);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(parent);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
                    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Runs argv without a shell; true when it exits 0. */
static bool run(const char *const *argv)
{
    bool debug = getenv("TG_DEBUG") != NULL;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return false;
    if (!debug) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), status = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (err == 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    bool ok = err == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && debug)
        fprintf(stderr, "tensorgrad: JIT compile with '%s' failed: %s\n", argv[0],
                err ? strerror(err) : WIFEXITED(status) ? "non-zero exit" : "killed by a signal");
    return ok;
}

/* Writes src to dir/name, new (O_EXCL, O_NOFOLLOW). */
static bool write_source(int dir, const char *name, const char *src, size_t len)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = true;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, src + off, len - off);
        ok = w > 0 || (w < 0 && errno == EINTR);
        off += w > 0 ? (size_t)w : 0;
    }
    return close(fd) == 0 && ok;
}

/* Removes temporaries of dead processes (tg-KEY.PID.N.c / .so) and, past
** the size limit, the oldest objects. */
static void tidy(int dir)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    long long total = 0, oldest_t = 0;
    char oldest[256] = "";
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        unsigned long long key;
        long pid;
        unsigned n;
        struct stat st;
        if (strncmp(e->d_name, "tg-", 3) != 0 || fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (sscanf(e->d_name, "tg-%16llx.%ld.%u.", &key, &pid, &n) == 3) {
            if ((kill((pid_t)pid, 0) != 0 && errno == ESRCH) || now - st.st_mtime > STALE_SECONDS)
                unlinkat(dir, e->d_name, 0);
            continue;
        }
        total += (long long)st.st_size;
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".so") == 0 && l < sizeof oldest &&
            (!oldest[0] || (long long)st.st_mtime < oldest_t)) {
            oldest_t = (long long)st.st_mtime;
            strcpy(oldest, e->d_name);
        }
    }
    closedir(d);
    if (total > TG_CACHE_MAX_BYTES && oldest[0]) {   /* one object per build: the cache shrinks as it grows */
        unlinkat(dir, oldest, 0);
        oldest[strlen(oldest) - 3] = '\0';
        strcat(oldest, ".c");
        unlinkat(dir, oldest, 0);
    }
}

/* dlopen of dir/name when it is a non-empty regular file of ours; NULL otherwise. */
static void *load(int dir, const char *name)
{
    struct stat st;
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    bool fine = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_uid == geteuid();
    /* by the name in the directory, which holds the key: the dynamic loader
    ** knows a loaded object by its path, and "/proc/self/fd/N" alone would
    ** name every object loaded through descriptor N, so a second kernel
    ** would be handed the first one's (both define tgk_pass_0) */
    char path[128];
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dir, name);
    void *dl = fine ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    close(fd);
    return dl;
}

/* Compiles src into dir/KEY.so (through temporaries) and loads it. */
static void *build(int dir, const char *const *cc, int n_cc, uint64_t key, const char *src, size_t len)
{
    static _Atomic unsigned counter;
    unsigned id = counter++;
    char c_name[96], tmp_so[96], so[64], kept_c[64], c_path[128], so_path[128];
    snprintf(c_name, sizeof c_name, "tg-%016llx.%ld.%u.c", (unsigned long long)key, (long)getpid(), id);
    snprintf(tmp_so, sizeof tmp_so, "tg-%016llx.%ld.%u.so", (unsigned long long)key, (long)getpid(), id);
    snprintf(so, sizeof so, "tg-%016llx.so", (unsigned long long)key);
    snprintf(kept_c, sizeof kept_c, "tg-%016llx.c", (unsigned long long)key);
    snprintf(c_path, sizeof c_path, "/proc/%ld/fd/%d/%s", (long)getpid(), dir, c_name);
    snprintf(so_path, sizeof so_path, "/proc/%ld/fd/%d/%s", (long)getpid(), dir, tmp_so);
    const char *argv[MAX_CC_ARGS + N_FLAGS + 8];
    int k = 0;
    for (int i = 0; i < n_cc; i++)
        argv[k++] = cc[i];
    for (size_t i = 0; i < N_FLAGS; i++)
        argv[k++] = jit_flags[i];
    argv[k++] = "-o", argv[k++] = so_path, argv[k++] = c_path, argv[k++] = "-lm", argv[k] = NULL;
    bool ok = write_source(dir, c_name, src, len) && run(argv) && renameat(dir, tmp_so, dir, so) == 0;
    if (!ok || renameat(dir, c_name, dir, kept_c) != 0)
        unlinkat(dir, c_name, 0);
    if (!ok)
        unlinkat(dir, tmp_so, 0);
    return ok ? load(dir, so) : NULL;
}

/* No trusted cache: a private directory, removed once the object is loaded. */
static void *build_private(const char *const *cc, int n_cc, uint64_t key, const char *src, size_t len)
{
    char tmpl[] = "/tmp/tg-jit-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    int dir = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    void *dl = dir >= 0 ? build(dir, cc, n_cc, key, src, len) : NULL;
    if (dir >= 0) {
        char name[64];
        snprintf(name, sizeof name, "tg-%016llx.so", (unsigned long long)key);
        unlinkat(dir, name, 0);
        snprintf(name, sizeof name, "tg-%016llx.c", (unsigned long long)key);
        unlinkat(dir, name, 0);
        close(dir);
    }
    rmdir(tmpl);
    return dl;
}

void *tg__toolchain_load(const char *src, size_t len)
{
    char buf[1024];
    const char *cc[MAX_CC_ARGS];
    int n_cc = tg__toolchain_cc(buf, sizeof buf, cc, MAX_CC_ARGS);
    if (n_cc == 0)
        return NULL;
    uint64_t key = tg__toolchain_key(src, len, cc, tg__toolchain_cpu());
    int dir = cache_dir();
    if (dir < 0)
        return build_private(cc, n_cc, key, src, len);
    char so[64];
    snprintf(so, sizeof so, "tg-%016llx.so", (unsigned long long)key);
    void *dl = load(dir, so);
    if (!dl) {   /* absent, empty or broken: (re)build */
        tidy(dir);
        unlinkat(dir, so, 0);
        dl = build(dir, cc, n_cc, key, src, len);
    }
    close(dir);
    return dl;
}

void tg__toolchain_unload(void *dl)
{
    if (dl)
        dlclose(dl);
}
