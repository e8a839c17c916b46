/*
** CSV reading beyond the format itself (tests/test_io.c holds the format, its
** fixtures and its file:line:column errors): standard input as "-", the
** refusal of non-regular files, the size and line limits, hostile headers,
** the fast float parser against strtod bit for bit, and the parallel reader
** against the serial one at every thread count.
*/
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include "core/internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static __attribute__((unused)) void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The last call failed with status want and a message holding each string
** (NULL-terminated list). */
static void assert_failed(tg_status want, ...)
{
    const char *msg = tg_last_error();
    if (tg_last_status() != want)
        fail_msg("status %s, expected %s: %s", tg_status_str(tg_last_status()),
                 tg_status_str(want), msg);
    va_list ap;
    va_start(ap, want);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, s)) {
            va_end(ap);
            fail_msg("message '%s' does not say '%s'", msg, s);
        }
    va_end(ap);
    tg_clear_error();
}

/* tg_load_csv("-") with standard input fed n bytes of text through a pipe by
** a child process (so standard input is not a regular file). */
static tg_tensor *load_from_pipe(const char *text, size_t n, int n_cols, const char *const *cols,
                                 const tg_csv_opts *o)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        for (size_t done = 0; done < n;) {
            ssize_t w = write(fds[1], text + done, n - done);
            if (w <= 0)
                _exit(0);
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    tg_tensor *t = tg_load_csv("-", n_cols, cols, o);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return t;
}

static void test_csv_dash_reads_standard_input(void **state)
{
    (void)state;
    static const char text[] = "x,y\n1.5,2\n\n-3,4e-3\n";
    tg_tensor *t = load_from_pipe(text, sizeof text - 1, 2, (const char *[]){"y", "x"}, NULL);
    if (!t)
        fail_msg("%s", tg_last_error());
    assert_int_equal(tg_shape(t)[0], 2);
    const double *d = tg_data(t);
    assert_true(d[0] == 2 && d[1] == 1.5 && d[2] == 4e-3 && d[3] == -3);
    tg_free(t);
    static const char bad[] = "x,y\n1,2\n3,zz\n";
    assert_null(load_from_pipe(bad, sizeof bad - 1, 1, (const char *[]){"y"}, NULL));
    assert_failed(TG_ERR_IO, "tg_load_csv: <stdin>:3:2:", "cannot read 'zz'", NULL);
}

static void test_csv_refuses_fifos_and_devices_by_name(void **state)
{
    (void)state;
    const char *fifo = tmp_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* no writer: an open without O_NONBLOCK would wait here for ever */
    assert_null(tg_load_csv(fifo, 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, fifo, "is a FIFO, not a regular file", NULL);
    assert_null(tg_load_npy(fifo));
    assert_failed(TG_ERR_IO, fifo, "is a FIFO, not a regular file", NULL);
    assert_null(tg_mmap_npy(fifo));
    assert_failed(TG_ERR_IO, fifo, "not a regular file", NULL);
    unlink(fifo);
    assert_null(tg_load_csv("/dev/zero", 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, "'/dev/zero' is a character device", NULL);
    assert_null(tg_load_npy("/dev/zero"));
    assert_failed(TG_ERR_IO, "'/dev/zero' is a character device", NULL);
    assert_null(tg_load_csv(tmp_dir, 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, "Is a directory", NULL);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tg_test_csv_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *names[] = {"fifo", "a.csv", "b.csv", "blank.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(tmp_path(names[i]));
    return rmdir(tmp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_dash_reads_standard_input),
        cmocka_unit_test(test_csv_refuses_fifos_and_devices_by_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
