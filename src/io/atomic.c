/* SPDX-License-Identifier: MIT */
/*
** Atomic file replacement for the savers (tg_save_npy, tg_params_save), as
** careful writers do it: the data goes to a new temporary file in the
** target's directory, every write is checked, the file is fsync'ed and then
** renamed over the target, so a reader (or a crash) sees the old file or the
** complete new one.  A failure removes only the temporary.  A target that is
** a symbolic link is resolved, so the link stays and its file is replaced.
** A device (/dev/null, /dev/full) or a pipe is written in place and never
** removed (a FIFO without a reader is refused, not waited for), and so is a
** file reached only through a link with no name to rename over
** (/proc/self/fd/N of a deleted file); a socket or directory is refused.
** io layer, on core.
*/
#define _XOPEN_SOURCE 700   /* realpath */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static tg_status fail(const char *fn, const char *what, const char *path, int err)
{
    char msg[128];
    return tg__error(TG_ERR_IO, "%s: cannot %s '%s': %s", fn, what, path, tg__errno_str(err, msg, sizeof msg));
}

/* A fresh temporary name beside target, created O_EXCL with mode 0666 & ~umask. */
static int open_temp(const char *target, char **tmp)
{
    static _Atomic unsigned counter;
    size_t n = strlen(target) + 64;
    *tmp = tg__malloc(n);
    if (!*tmp) {
        errno = ENOMEM;
        return -1;
    }
    for (int tries = 0; tries < 100; tries++) {
        snprintf(*tmp, n, "%s.tmp.%ld.%u", target, (long)getpid(), counter++);
        int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

tg_status tg__atomic_open(const char *fn, const char *path, tg__atomic *w)
{
    w->fd = -1, w->path = path, w->target = w->tmp = NULL, w->failed = false, w->err = 0, w->used = 0;
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode))
            return tg__error(TG_ERR_IO, "%s: '%s' is not a regular file (a %s); refused", fn, path,
                             S_ISDIR(st.st_mode) ? "directory" : "socket");
        /* a device or a pipe: in place; a FIFO without a reader fails (ENXIO) instead of blocking */
        w->fd = open(path, O_WRONLY | O_CLOEXEC | (S_ISFIFO(st.st_mode) ? O_NONBLOCK : 0));
        if (w->fd >= 0 && S_ISFIFO(st.st_mode))
            (void)fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_NONBLOCK);
        return w->fd >= 0 ? TG_OK : fail(fn, "open for writing", path, errno);
    }
    struct stat lst;
    if (exists && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        w->target = realpath(path, NULL);   /* malloc'ed by libc */
        if (!w->target) {   /* a file with no name to rename over (/proc/self/fd/N of a deleted file) */
            w->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
            return w->fd >= 0 ? TG_OK : fail(fn, "open for writing", path, errno);
        }
    }
    const char *target = w->target ? w->target : path;
    w->fd = open_temp(target, &w->tmp);
    if (w->fd < 0) {
        tg_status s = fail(fn, "create a temporary file beside", path, errno);
        tg__atomic_abort(w);
        return s;
    }
    if (stat(target, &st) == 0)
        (void)fchmod(w->fd, st.st_mode & 07777);   /* the new file keeps the old one's mode */
    return TG_OK;
}

static bool put_fd(tg__atomic *w, const unsigned char *b, size_t n)
{
    while (n > 0 && !w->failed) {
        ssize_t k = write(w->fd, b, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->failed = true;
            w->err = k == 0 ? EIO : errno;
            break;
        }
        b += k;
        n -= (size_t)k;
    }
    return !w->failed;
}

static bool flush(tg__atomic *w)
{
    bool ok = put_fd(w, w->buf, w->used);
    w->used = 0;
    return ok;
}

bool tg__atomic_write(tg__atomic *w, const void *p, size_t n)
{
    if (w->used + n > sizeof w->buf && !flush(w))
        return false;
    if (n >= sizeof w->buf)
        return put_fd(w, p, n);
    memcpy(w->buf + w->used, p, n);
    w->used += n;
    return !w->failed;
}

tg_status tg__atomic_commit(const char *fn, tg__atomic *w)
{
    const char *target = w->target ? w->target : w->path;
    flush(w);
    if (!w->failed && w->tmp && fsync(w->fd) != 0)
        w->failed = true, w->err = errno;
    if (close(w->fd) != 0 && !w->failed)
        w->failed = true, w->err = errno;
    w->fd = -1;
    if (!w->failed && w->tmp && rename(w->tmp, target) != 0)
        w->failed = true, w->err = errno;
    tg_status s = w->failed ? fail(fn, "write", w->path, w->err) : TG_OK;
    if (!w->failed && w->tmp) {   /* the rename made durable: best effort */
        char *dir = tg__malloc(strlen(target) + 2);
        if (dir) {
            strcpy(dir, target);
            char *slash = strrchr(dir, '/');
            if (slash)
                slash[slash == dir] = '\0';
            int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0)
                (void)fsync(dfd), close(dfd);
            tg__free(dir);
        }
        tg__free(w->tmp);
        w->tmp = NULL;
    }
    tg__atomic_abort(w);
    return s;
}

void tg__atomic_abort(tg__atomic *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->tmp)
        unlink(w->tmp);   /* only ever the temporary */
    tg__free(w->tmp);
    free(w->target);
    w->tmp = w->target = NULL;
}
