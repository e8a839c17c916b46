/* SPDX-License-Identifier: MIT */
/*
** Shared by the fuzz targets: an unlinked temporary file reachable by a path
** (/proc/self/fd/N), rewritten with each input, so the readers see a real
** file (mapped, as in use) and nothing is left on disk.
*/
#ifndef TG_FUZZ_IO_H
#define TG_FUZZ_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fuzz_file {
    int fd;
    char path[64];
} fuzz_file;

static void fuzz_file_open(fuzz_file *f)
{
    char tmpl[] = "/tmp/tg_fuzz_XXXXXX";
    f->fd = mkstemp(tmpl);
    if (f->fd < 0) {
        perror("mkstemp");
        abort();
    }
    unlink(tmpl);
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

static void fuzz_file_set(const fuzz_file *f, const uint8_t *data, size_t size)
{
    if (ftruncate(f->fd, 0) != 0 || (size > 0 && pwrite(f->fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_file_set");
        abort();
    }
}

#endif /* TG_FUZZ_IO_H */
