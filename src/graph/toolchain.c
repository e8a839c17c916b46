/*
** The toolchain: the system compiler ($CC, else cc: -O3 -march=native -fPIC
** -shared) turning a generated C source into a shared object, a cache of
** built objects keyed by a hash of the source and the command
** ($XDG_CACHE_HOME/tensorgrad, else /tmp/tensorgrad-cache-$UID; an object is
** written under a temporary name and renamed, so concurrent processes never
** load a partial file; the source is kept beside it as tg-HASH.c), and the
** dlopen that loads it.  Called by the code generator (jit.c); sees no graph.
*/
#define _POSIX_C_SOURCE 200809L
#include "toolchain.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TG_JIT_FLAGS "-O3 -march=native -fPIC -shared -fno-math-errno"

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* The cache directory, made if needed; refused unless it is ours and private. */
static bool cache_dir(char *dir, size_t n)
{
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && x[0] == '/') {
        mkdir(x, 0700);
        snprintf(dir, n, "%s/tensorgrad", x);
    } else {
        snprintf(dir, n, "/tmp/tensorgrad-cache-%u", (unsigned)getuid());
    }
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return false;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
           (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Path of the built kernel for src, compiling it when the cache lacks it. */
static bool build(const char *src, size_t len, char *so, size_t n)
{
    static _Atomic unsigned counter;
    const char *cc = getenv("CC");
    char dir[512], c_path[700], tmp_so[700], cmd[2600];
    if (!cc || !cc[0])
        cc = "cc";
    if (strlen(cc) > 512 || strchr(cc, '\'') || !cache_dir(dir, sizeof dir))
        return false;
    uint64_t h = fnv1a(fnv1a(fnv1a(14695981039346656037ull, cc, strlen(cc)), TG_JIT_FLAGS, sizeof TG_JIT_FLAGS), src, len);
    snprintf(so, n, "%s/tg-%016llx.so", dir, (unsigned long long)h);
    if (access(so, R_OK) == 0)
        return true;
    unsigned id = counter++;
    snprintf(c_path, sizeof c_path, "%s/tg-%016llx.%ld.%u.c", dir, (unsigned long long)h, (long)getpid(), id);
    snprintf(tmp_so, sizeof tmp_so, "%s/tg-%016llx.%ld.%u.so", dir, (unsigned long long)h, (long)getpid(), id);
    FILE *f = fopen(c_path, "w");
    if (!f)
        return false;
    bool ok = fwrite(src, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    snprintf(cmd, sizeof cmd, "%s " TG_JIT_FLAGS " -o '%s' '%s' -lm >/dev/null 2>&1", cc, tmp_so, c_path);
    ok = ok && system(cmd) == 0 && rename(tmp_so, so) == 0;
    char kept_c[800];   /* the source stays beside its kernel, for reading */
    snprintf(kept_c, sizeof kept_c, "%.*s.c", (int)(strlen(so) - 3), so);
    if (!ok || rename(c_path, kept_c) != 0)
        remove(c_path);
    if (!ok)
        remove(tmp_so);
    return ok;
}

void *tg__toolchain_load(const char *src, size_t len)
{
    char so[800];
    return build(src, len, so, sizeof so) ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
}

void tg__toolchain_unload(void *dl)
{
    if (dl)
        dlclose(dl);
}
