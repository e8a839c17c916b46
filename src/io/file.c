/* SPDX-License-Identifier: MIT */
/*
** Whole-file views for the data-file readers: a regular file is mapped
** read-only (MAP_PRIVATE); standard input ("-" for the readers that accept
** it) is read into one growing buffer, up to a size limit and, for text, a
** line-length limit, so an endless stream such as /dev/zero stops early.
** Other non-regular files (FIFOs, devices, directories) are refused by name:
** they are opened with O_NONBLOCK, so a FIFO without a writer never blocks.
** The readers then parse plain bytes with no per-read bookkeeping.  I/O
** layer, on top of core.
*/
#define _POSIX_C_SOURCE 200809L

#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tg__errno_str(int err, char *buf, size_t n)
{
    if (strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %d", err);
    return buf;
}

static tg_status io_error(const char *fn, const char *what, const char *path, int err)
{
    char msg[128];
    return tg__error(TG_ERR_IO, "%s: cannot %s '%s': %s", fn, what, path,
                     tg__errno_str(err, msg, sizeof msg));
}

/* What a non-regular file is, for the refusal. */
static const char *kind(mode_t m)
{
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "of an unknown kind";
}

/* Line ends in the n new bytes at s: counts them into *line and the bytes
** since the last one into *run ('\r' then '\n' across reads counts once,
** through *cr).  False when a line passes max_line bytes. */
static bool scan_lines(const unsigned char *s, size_t n, const tg__file_limits *lim,
                       int64_t *line, size_t *run, bool *cr)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' || s[i] == '\r') {
            *line += !(s[i] == '\n' && *cr);
            *cr = s[i] == '\r';
            *run = 0;
        } else {
            *cr = false;
            if (++*run > lim->max_line)
                return false;
        }
    }
    return true;
}

/* Reads fd to its end into f->buf, within lim. */
static tg_status read_all(const char *fn, const char *path, int fd, const tg__file_limits *lim,
                          tg__file *f)
{
    size_t cap = 0, run = 0;
    int64_t line = 1;
    bool cr = false;
    for (;;) {
        if (f->size == cap) {
            if (cap >= lim->max_bytes)
                return tg__error(TG_ERR_IO, "%s: %s: stopped after %zu bytes, the size limit",
                                 fn, path, lim->max_bytes);
            size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
            ncap = ncap > lim->max_bytes ? lim->max_bytes : ncap;
            unsigned char *nb = tg__realloc(f->buf, ncap + 1);   /* + 1: see the EOF read */
            if (!nb)
                return tg__error(TG_ERR_NOMEM, "%s: out of memory reading '%s'", fn, path);
            f->buf = nb;
            cap = ncap;
        }
        /* at the size limit, read one byte more to tell a full stream from a longer one */
        size_t want = cap - f->size + (cap == lim->max_bytes);
        ssize_t got = read(fd, f->buf + f->size, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return io_error(fn, "read", path, errno);
        if (got == 0)
            break;
        if (f->size + (size_t)got > lim->max_bytes)
            return tg__error(TG_ERR_IO, "%s: %s: stopped after %zu bytes, the size limit", fn,
                             path, lim->max_bytes);
        if (lim->max_line && !scan_lines(f->buf + f->size, (size_t)got, lim, &line, &run, &cr))
            return tg__error(TG_ERR_IO, "%s: %s:%lld: line longer than %zu bytes, the limit", fn,
                             path, (long long)line, lim->max_line);
        f->size += (size_t)got;
    }
    f->data = f->size ? f->buf : NULL;
    return TG_OK;
}

static tg_status map_regular(const char *fn, const char *path, int fd, const struct stat *sb,
                             const tg__file_limits *lim, tg__file *f)
{
    if (sb->st_size == 0)
        return TG_OK;
    if ((uintmax_t)sb->st_size > lim->max_bytes)
        return tg__error(TG_ERR_IO, "%s: '%s' has %jd bytes, more than the size limit of %zu",
                         fn, path, (intmax_t)sb->st_size, lim->max_bytes);
    f->size = (size_t)sb->st_size;
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return io_error(fn, "map", path, errno);
    }
    f->data = f->map;
    return TG_OK;
}

tg_status tg__file_open(const char *fn, const char *path, const tg__file_limits *lim,
                        tg__file *f)
{
    memset(f, 0, sizeof *f);
    if (lim->stdin_dash && strcmp(path, "-") == 0) {
        tg_status st = read_all(fn, TG__STDIN_NAME, STDIN_FILENO, lim, f);
        if (st != TG_OK)
            tg__file_close(f);
        return st;
    }
    /* O_NONBLOCK: opening a FIFO with no writer must not wait for one */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return io_error(fn, "open", path, errno);
    tg_status st = TG_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        st = io_error(fn, "stat", path, errno);
    else if (S_ISDIR(sb.st_mode))
        st = io_error(fn, "read", path, EISDIR);
    else if (!S_ISREG(sb.st_mode))
        st = tg__error(TG_ERR_IO, "%s: '%s' is %s, not a regular file%s", fn, path,
                       kind(sb.st_mode), lim->stdin_dash ? " (use \"-\" for standard input)" : "");
    else
        st = map_regular(fn, path, fd, &sb, lim, f);
    close(fd);
    if (st != TG_OK)
        tg__file_close(f);
    return st;
}

void tg__file_close(tg__file *f)
{
    if (f->map)
        munmap(f->map, f->size);
    tg__free(f->buf);
    memset(f, 0, sizeof *f);
}
