/*
** Private declarations of the data-file readers and writers (src/io): a
** read-only view of a whole file's bytes, shared by the .npy and CSV readers.
** Sits on the core layer (tensors, errors, allocator); nothing above uses it.
*/
#ifndef TG_IO_H
#define TG_IO_H

#include "core/internal.h"

/* The bytes of a file: mapped read-only when it is a non-empty regular file,
** read into a buffer when it is standard input. */
typedef struct tg__file {
    const unsigned char *data;   /* size bytes; NULL when size is 0 */
    size_t size;
    void *map;                   /* the mapping, or NULL */
    unsigned char *buf;          /* the buffer, or NULL */
} tg__file;

/* What tg__file_open accepts: at most max_bytes bytes; with max_line > 0, no
** line of standard input longer than max_line bytes (checked while reading;
** '\n', '\r' and "\r\n" end lines); stdin_dash: the path "-" is standard input
** (named TG__STDIN_NAME in messages). */
typedef struct tg__file_limits {
    size_t max_bytes;
    size_t max_line;
    bool stdin_dash;
} tg__file_limits;

#define TG__STDIN_NAME "<stdin>"

/* Opens path and exposes its contents.  Only regular files (and "-" when
** allowed) are read: a FIFO, device, socket or directory is TG_ERR_IO "<fn>:
** 'path' is a FIFO, not a regular file", found without blocking.  TG_ERR_IO
** "<fn>: cannot open 'path': <errno text>" (or read / map), a file over the
** limits, TG_ERR_NOMEM; *f is then empty. */
tg_status tg__file_open(const char *fn, const char *path, const tg__file_limits *lim,
                        tg__file *f);
/* Releases what tg__file_open took; an empty *f is a no-op. */
void tg__file_close(tg__file *f);

/* The text of errno value err, thread-safe (strerror_r) into buf of n bytes. */
const char *tg__errno_str(int err, char *buf, size_t n);

#endif /* TG_IO_H */
