/* SPDX-License-Identifier: MIT */
/*
** Atomic saves (issue 18, row 2): tg_save_npy and tg_params_save replace
** their target through a temporary renamed over it.  A failed save (a full
** device, a write cut short by RLIMIT_FSIZE, a directory we cannot write)
** leaves the old file byte for byte and no temporary behind; a device is
** written in place and never removed (a failed save as root used to delete
** /dev/full); a FIFO or directory is refused without blocking.
*/
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/tg-atomic-XXXXXX");
    tg_scope_begin();   /* every tensor of the tests, freed in teardown */
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tg_scope_end();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* The whole file, malloc'ed; *n its size. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 22);
    *n = fread(b, 1, 1 << 22, f);
    fclose(f);
    return b;
}

/* Number of entries of dir other than . and .. */
static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static tg_tensor *vec(int64_t n, double v)
{
    return tg_full(1, &n, v);
}

static void assert_same_file(const char *path, const unsigned char *old, size_t n_old)
{
    size_t n;
    unsigned char *now = slurp(path, &n);
    assert_int_equal(n, n_old);
    assert_memory_equal(now, old, n);
    free(now);
}

static void test_save_npy_replaces_and_round_trips(void **state)
{
    (void)state;
    const char *p = path_in("a.npy");
    assert_int_equal(tg_save_npy(vec(5, 1.0), p), TG_OK);
    chmod(p, 0640);
    assert_int_equal(tg_save_npy(vec(7, 2.0), p), TG_OK);
    tg_tensor *back = tg_load_npy(p);
    assert_non_null(back);
    assert_int_equal(tg_numel(back), 7);
    assert_true(tg_data(back)[6] == 2.0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);   /* the old file's mode kept */
    assert_int_equal(entries(), 1);              /* no temporary left */
    tg_free(back);
    unlink(p);
}

static void test_save_through_symlink_keeps_link(void **state)
{
    (void)state;
    const char *real = path_in("real.npy"), *link = path_in("link.npy");
    assert_int_equal(tg_save_npy(vec(3, 1.0), real), TG_OK);
    assert_int_equal(symlink(real, link), 0);
    assert_int_equal(tg_save_npy(vec(4, 3.0), link), TG_OK);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    tg_tensor *back = tg_load_npy(real);
    assert_int_equal(tg_numel(back), 4);
    tg_free(back);
    unlink(link), unlink(real);
}

static void test_failed_save_to_dev_full_keeps_device(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/dev/full", &st) != 0)
        skip();
    assert_int_equal(tg_save_npy(vec(10000, 1.0), "/dev/full"), TG_ERR_IO);
    assert_non_null(strstr(tg_last_error(), "/dev/full"));
    assert_int_equal(stat("/dev/full", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    tg_params *p = tg_params_new();
    assert_int_equal(tg_params_add(p, "w", vec(10000, 1.0)), TG_OK);
    assert_int_equal(tg_params_save(p, "/dev/full"), TG_ERR_IO);
    assert_int_equal(stat("/dev/full", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(tg_save_npy(vec(3, 1.0), "/dev/null"), TG_OK);   /* in place */
    tg_params_free(p);
}

static void test_fifo_and_directory_refused_not_removed(void **state)
{
    (void)state;
    const char *fifo = path_in("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(tg_save_npy(vec(3, 1.0), fifo), TG_ERR_IO);   /* no reader: refused, not waited for */
    assert_non_null(strstr(tg_last_error(), "fifo"));
    struct stat st;
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(tg_save_npy(vec(3, 1.0), dir), TG_ERR_IO);
    assert_non_null(strstr(tg_last_error(), "directory"));
    assert_int_equal(stat(dir, &st), 0);
    unlink(fifo);
}

/* Saves a big tensor and big params over small good files in a child whose
** writes stop at 4096 bytes (RLIMIT_FSIZE); SIGXFSZ ignored when `ignore`,
** else the child dies of it mid-write. */
static void cut_short(bool ignore)
{
    const char *npy = path_in("cut.npy"), *par = path_in("cut.tgp");
    tg_params *small = tg_params_new();
    assert_int_equal(tg_params_add(small, "w", vec(3, 5.0)), TG_OK);
    assert_int_equal(tg_save_npy(vec(3, 5.0), npy), TG_OK);
    assert_int_equal(tg_params_save(small, par), TG_OK);
    size_t n_npy, n_par;
    unsigned char *old_npy = slurp(npy, &n_npy), *old_par = slurp(par, &n_par);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit r = {4096, 4096};
        signal(SIGXFSZ, ignore ? SIG_IGN : SIG_DFL);
        setrlimit(RLIMIT_FSIZE, &r);
        tg_params *big = tg_params_new();
        tg_params_add(big, "w", vec(100000, 1.0));
        int rc = tg_save_npy(vec(100000, 1.0), npy) == TG_ERR_IO ? 0 : 1;
        rc |= tg_params_save(big, par) == TG_ERR_IO ? 0 : 2;
        _exit(rc);
    }
    int status;
    waitpid(pid, &status, 0);
    if (ignore) {
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(entries(), 2);   /* the temporaries removed */
    } else {
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
    }
    assert_same_file(npy, old_npy, n_npy);
    assert_same_file(par, old_par, n_par);
    free(old_npy), free(old_par);
    tg_params_free(small);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -f %s/*", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_write_cut_short_by_fsize_limit_keeps_old_file(void **state)
{
    (void)state;
    cut_short(true);
}

static void test_killed_by_sigxfsz_mid_save_keeps_old_file(void **state)
{
    (void)state;
    cut_short(false);
}

static void test_read_only_directory_keeps_old_file(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip();   /* root writes in a mode 0555 directory anyway */
    const char *sub = path_in("ro"), *p = path_in("ro/a.npy");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(tg_save_npy(vec(3, 1.0), p), TG_OK);
    size_t n;
    unsigned char *old = slurp(p, &n);
    assert_int_equal(chmod(sub, 0500), 0);
    assert_int_equal(tg_save_npy(vec(300, 2.0), p), TG_ERR_IO);
    assert_same_file(p, old, n);
    chmod(sub, 0700);
    free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_npy_replaces_and_round_trips),
        cmocka_unit_test(test_save_through_symlink_keeps_link),
        cmocka_unit_test(test_failed_save_to_dev_full_keeps_device),
        cmocka_unit_test(test_fifo_and_directory_refused_not_removed),
        cmocka_unit_test(test_write_cut_short_by_fsize_limit_keeps_old_file),
        cmocka_unit_test(test_killed_by_sigxfsz_mid_save_keeps_old_file),
        cmocka_unit_test(test_read_only_directory_keeps_old_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
