/* SPDX-License-Identifier: MIT */
/*
** Process plumbing of the benchmark suite: clocks, page-fault and resident
** memory counters, and suite_in_child, which runs one measurement in a fresh
** forked process so that its peak memory, its page faults and the library's
** caches are its own.
*/
#define _POSIX_C_SOURCE 200809L
#include "suite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_clock.h"

double suite_now(void) { return bench_now(); }

long suite_minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* A "Key:   123 kB" line of /proc/self/status, in bytes (0 when absent). */
static double status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = 0;
    size_t len = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            v = 1024.0 * strtod(line + len + 1, NULL);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

double suite_reset_peak(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1)
            fprintf(stderr, "bench_suite: could not reset the peak resident size: %s\n", strerror(errno));
        close(fd);
    }
    return status_bytes("VmRSS");
}

double suite_peak_bytes(void) { return status_bytes("VmHWM"); }

/* Reads everything the child writes, then its exit status. */
static int collect(pid_t pid, int fd, void *result, size_t size, char *err, size_t err_size)
{
    size_t got = 0;
    char *buf = result;
    for (;;) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == size)
            break;
    }
    close(fd);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, err_size, "waitpid: %s", strerror(errno));
            return 1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == size)
        return 0;
    if (WIFSIGNALED(status))
        snprintf(err, err_size, "child killed by signal %d", WTERMSIG(status));
    else if (got != size)
        snprintf(err, err_size, "child exited with status %d before its result", WEXITSTATUS(status));
    return 1;
}

/* The child writes its result struct (the error text inside it on failure)
** through a pipe and leaves with _exit, never flushing the parent's stdio. */
int suite_in_child(suite_child_fn fn, const void *arg, void *result, size_t size, char *err,
                   size_t err_size)
{
    int fds[2];
    err[0] = '\0';
    fflush(NULL);
    if (pipe(fds) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_size, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = fn(arg, result);
        const char *p = result;
        for (size_t done = 0; done < size;) {
            ssize_t w = write(fds[1], p + done, size - done);
            if (w <= 0)
                _exit(3);
            done += (size_t)w;
        }
        _exit(rc == 0 ? 0 : 2);
    }
    close(fds[1]);
    return collect(pid, fds[0], result, size, err, err_size);
}
