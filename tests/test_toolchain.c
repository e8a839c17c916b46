/* SPDX-License-Identifier: MIT */
/*
** The JIT's compiler path (issue 18, rows 4 and 6), src/graph/toolchain.c:
** hostile $XDG_CACHE_HOME / $CC / $TG_CC values run no shell (a marker file
** a shell would create never appears; before the fix a quote in
** XDG_CACHE_HOME ran the command through system()), a symlinked or
** group-writable cache directory is refused while compiling still works, an
** empty or broken cached object is rebuilt, stray temporaries of dead
** processes are removed, and the key changes with the CPU.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"
#include "graph/toolchain.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64], marker[128];
static int serial;

static int setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/tg-toolchain-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(marker, sizeof marker, "%s/MARKER", root);
    unsetenv("TG_CC");
    unsetenv("CC");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", root, root);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh source (never cached before) returning 42, compiled and called;
** true when it loaded.  *src_out keeps the text for key checks. */
static bool compile_probe(char *src, size_t n)
{
    snprintf(src, n, "/* probe %d.%ld */ int tg_probe(void) { return 42; }\n", serial++, (long)getpid());
    void *dl = tg__toolchain_load(src, strlen(src));
    if (!dl)
        return false;
    int (*f)(void);
    void *p = dlsym(dl, "tg_probe");
    memcpy(&f, &p, sizeof f);
    bool ok = p && f() == 42;
    tg__toolchain_unload(dl);
    return ok;
}

static int count_files(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "exit $(ls -A '%s' 2>/dev/null | wc -l)", dir);
    int rc = system(cmd);
    return WEXITSTATUS(rc);
}

static void test_hostile_cache_paths_run_no_shell_and_still_compile(void **state)
{
    (void)state;
    char src[128], xdg[512];
    const char *hostile[] = {"'; touch %s; '", "$(touch %s)", "`touch %s`", "\"; touch %s; \"",
                             "a b\ntouch %s", "x;touch %s"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        int n = snprintf(xdg, sizeof xdg, "%s/c%zu-", root, i);
        snprintf(xdg + n, sizeof xdg - (size_t)n, hostile[i], marker);
        /* the value is one path component below root only when it has no '/': use a fresh dir */
        for (char *p = xdg + n; *p; p++)
            if (*p == '/')
                *p = '_';
        setenv("XDG_CACHE_HOME", xdg, 1);
        assert_true(compile_probe(src, sizeof src));
        assert_int_equal(access(marker, F_OK), -1);
    }
    unsetenv("XDG_CACHE_HOME");
}

static void test_hostile_compiler_values_run_no_shell(void **state)
{
    (void)state;
    char src[128], cc[256];
    const char *hostile[] = {"cc; touch %s", "cc $(touch %s)", "cc `touch %s`", "'cc' || touch %s",
                             "cc\ntouch %s", "touch %s #"};
    setenv("XDG_CACHE_HOME", root, 1);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        snprintf(cc, sizeof cc, hostile[i], marker);
        setenv("CC", cc, 1);
        (void)compile_probe(src, sizeof src);   /* fails or not; no shell either way */
        unsetenv("CC");
        setenv("TG_CC", cc, 1);
        (void)compile_probe(src, sizeof src);
        unsetenv("TG_CC");
        if (strncmp(hostile[i], "touch", 5) == 0)
            unlink(marker);   /* TG_CC=touch FILE is a compiler run as asked, no shell: not a finding */
        assert_int_equal(access(marker, F_OK), -1);
    }
    unsetenv("XDG_CACHE_HOME");
}

static void test_compiler_from_tg_cc_then_cc_with_arguments(void **state)
{
    (void)state;
    char src[128];
    setenv("XDG_CACHE_HOME", root, 1);
    setenv("CC", "/nonexistent/cc", 1);
    assert_false(compile_probe(src, sizeof src));
    setenv("TG_CC", "cc -O1  -g", 1);   /* TG_CC wins; words split on blanks */
    assert_true(compile_probe(src, sizeof src));
    unsetenv("TG_CC");
    setenv("CC", " cc   -O0 ", 1);
    assert_true(compile_probe(src, sizeof src));
    unsetenv("CC");
    char buf[64];
    const char *argv[4];
    setenv("TG_CC", "a b c d e", 1);
    assert_int_equal(tg__toolchain_cc(buf, sizeof buf, argv, 4), 0);   /* too many words: refused */
    unsetenv("TG_CC");
    unsetenv("XDG_CACHE_HOME");
}

static void test_symlinked_or_shared_cache_dir_refused_compile_still_works(void **state)
{
    (void)state;
    char src[128], xdg[128], real[160], link[160], cmd[600];
    snprintf(xdg, sizeof xdg, "%s/sym", root);
    snprintf(real, sizeof real, "%s/elsewhere", root);
    snprintf(link, sizeof link, "%s/tensorgrad", xdg);
    assert_int_equal(mkdir(xdg, 0700), 0);
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    setenv("XDG_CACHE_HOME", xdg, 1);
    assert_true(compile_probe(src, sizeof src));
    assert_int_equal(count_files(real), 0);   /* nothing written through the planted link */
    snprintf(cmd, sizeof cmd, "rm %s && mkdir -m 777 %s && chmod 777 %s", link, link, link);
    assert_int_equal(system(cmd), 0);
    assert_true(compile_probe(src, sizeof src));
    assert_int_equal(count_files(link), 0);   /* a world-writable cache is not used */
    unsetenv("XDG_CACHE_HOME");
}

static void test_empty_or_broken_cached_object_rebuilt(void **state)
{
    (void)state;
    char xdg[128], so[256], buf[64];
    snprintf(xdg, sizeof xdg, "%s/rebuild", root);
    setenv("XDG_CACHE_HOME", xdg, 1);
    const char *src = "/* rebuild */ int tg_probe(void) { return 42; }\n";
    const char *cc[8];
    assert_true(tg__toolchain_cc(buf, sizeof buf, cc, 8) > 0);
    for (int round = 0; round < 2; round++) {
        void *dl = tg__toolchain_load(src, strlen(src));   /* makes the directory and the object */
        assert_non_null(dl);
        tg__toolchain_unload(dl);
        uint64_t key = tg__toolchain_key(src, strlen(src), cc, tg__toolchain_cpu());
        snprintf(so, sizeof so, "%s/tensorgrad/tg-%016llx.so", xdg, (unsigned long long)key);
        FILE *f = fopen(so, "w");   /* truncated: empty, then garbage */
        assert_non_null(f);
        if (round == 1)
            fputs("not an ELF object\n", f);
        fclose(f);
        dl = tg__toolchain_load(src, strlen(src));
        assert_non_null(dl);
        assert_non_null(dlsym(dl, "tg_probe"));
        tg__toolchain_unload(dl);
        struct stat st;
        assert_int_equal(stat(so, &st), 0);
        assert_true(st.st_size > 100);
    }
    unsetenv("XDG_CACHE_HOME");
}

static void test_stray_temporaries_of_dead_processes_removed(void **state)
{
    (void)state;
    char xdg[128], stray[256], src[128];
    snprintf(xdg, sizeof xdg, "%s/stray", root);
    setenv("XDG_CACHE_HOME", xdg, 1);
    assert_true(compile_probe(src, sizeof src));
    snprintf(stray, sizeof stray, "%s/tensorgrad/tg-0123456789abcdef.2147483646.7.so", xdg);
    FILE *f = fopen(stray, "w");
    assert_non_null(f);
    fclose(f);
    assert_true(compile_probe(src, sizeof src));   /* a build tidies the directory */
    assert_int_equal(access(stray, F_OK), -1);
    unsetenv("XDG_CACHE_HOME");
}

static void test_key_changes_with_cpu_source_and_compiler(void **state)
{
    (void)state;
    const char *cc1[] = {"cc", NULL}, *cc2[] = {"clang", NULL};
    const char *s = "int f(void) { return 1; }";
    uint64_t k = tg__toolchain_key(s, strlen(s), cc1, "Intel|avx2 fma");
    assert_true(k != tg__toolchain_key(s, strlen(s), cc1, "Intel|avx2"));
    assert_true(k != tg__toolchain_key(s, strlen(s), cc1, "AMD|avx2 fma"));
    assert_true(k != tg__toolchain_key(s, strlen(s), cc2, "Intel|avx2 fma"));
    assert_true(k != tg__toolchain_key(s, strlen(s) - 1, cc1, "Intel|avx2 fma"));
    assert_true(k == tg__toolchain_key(s, strlen(s), cc1, "Intel|avx2 fma"));
    assert_non_null(strchr(tg__toolchain_cpu(), '|'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_cache_paths_run_no_shell_and_still_compile),
        cmocka_unit_test(test_hostile_compiler_values_run_no_shell),
        cmocka_unit_test(test_compiler_from_tg_cc_then_cc_with_arguments),
        cmocka_unit_test(test_symlinked_or_shared_cache_dir_refused_compile_still_works),
        cmocka_unit_test(test_empty_or_broken_cached_object_rebuilt),
        cmocka_unit_test(test_stray_temporaries_of_dead_processes_removed),
        cmocka_unit_test(test_key_changes_with_cpu_source_and_compiler),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
