/*
** Private declarations of the data-file readers and writers (src/io): a
** read-only view of a whole file's bytes, shared by the .npy and CSV readers.
** Sits on the core layer (tensors, errors, allocator); nothing above uses it.
*/
#ifndef TG_IO_H
#define TG_IO_H

#include "core/internal.h"

/* The bytes of a file: mapped read-only when it is a non-empty regular file,
** otherwise (pipes, /dev/stdin, empty files) read into a buffer. */
typedef struct tg__file {
    const unsigned char *data;   /* size bytes; NULL when size is 0 */
    size_t size;
    void *map;                   /* the mapping, or NULL */
    unsigned char *buf;          /* the buffer, or NULL */
} tg__file;

/* Opens path and exposes its contents.  TG_ERR_IO "<fn>: cannot open 'path':
** <errno text>" (or read / map), TG_ERR_NOMEM; *f is then empty. */
tg_status tg__file_open(const char *fn, const char *path, tg__file *f);
/* Releases what tg__file_open took; an empty *f is a no-op. */
void tg__file_close(tg__file *f);

/* The text of errno value err, thread-safe (strerror_r) into buf of n bytes. */
const char *tg__errno_str(int err, char *buf, size_t n);

#endif /* TG_IO_H */
