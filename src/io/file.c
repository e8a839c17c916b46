/*
** Whole-file views for the data-file readers: a regular file is mapped
** read-only (MAP_PRIVATE), anything else is read into one growing buffer.
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

/* Reads fd to its end into f->buf (for pipes and files fstat cannot size). */
static tg_status read_all(const char *fn, const char *path, int fd, tg__file *f)
{
    size_t cap = 0;
    for (;;) {
        if (f->size == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
            unsigned char *nb = tg__realloc(f->buf, ncap);
            if (!nb)
                return tg__error(TG_ERR_NOMEM, "%s: out of memory reading '%s'", fn, path);
            f->buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, f->buf + f->size, cap - f->size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return io_error(fn, "read", path, errno);
        if (got == 0)
            break;
        f->size += (size_t)got;
    }
    f->data = f->size ? f->buf : NULL;
    return TG_OK;
}

tg_status tg__file_open(const char *fn, const char *path, tg__file *f)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return io_error(fn, "open", path, errno);
    tg_status st = TG_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = io_error(fn, "stat", path, errno);
    } else if (S_ISDIR(sb.st_mode)) {
        st = io_error(fn, "read", path, EISDIR);
    } else if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
        if ((uintmax_t)sb.st_size > SIZE_MAX) {
            st = tg__error(TG_ERR_IO, "%s: '%s' is too large to map", fn, path);
        } else {
            f->size = (size_t)sb.st_size;
            f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (f->map == MAP_FAILED) {
                f->map = NULL;
                st = io_error(fn, "map", path, errno);
            }
            f->data = f->map;
        }
    } else {
        st = read_all(fn, path, fd, f);
    }
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
