/* SPDX-License-Identifier: MIT */
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

/* The decimal s[0..n) ([+-]digits[.digits][(e|E)[+-]digits], nothing around
** it) into *out with strtod's bits ("C" locale); false, *out untouched, for
** anything else and the rare decimals it cannot decide: ask strtod then.
** Thread-safe, no allocation (fastfloat.c). */
bool tg__parse_double(const char *s, size_t n, double *out);
/* The longest such decimal at the start of [s, e) into *out, and its end;
** NULL when there is none or it cannot be decided (then ask strtod). */
const char *tg__parse_number(const char *s, const char *e, double *out);

/* Test hook: the size tg_load_csv cuts its rows into for the threads (about
** n bytes per chunk, at most 4096 chunks); n > 0 sets it and returns the
** previous size, n == 0 only returns it.  Default 1 MiB. */
size_t tg__csv_chunk_bytes(size_t n);

/* The text of errno value err, thread-safe (strerror_r) into buf of n bytes. */
const char *tg__errno_str(int err, char *buf, size_t n);

/* ------------------------------------------------- atomic saves (atomic.c)
** A file replaced atomically: tg__atomic_open creates a temporary beside
** path (or opens a device or pipe in place; refuses a FIFO without a
** reader, a socket or a directory: TG_ERR_IO "<fn>: ..."), tg__atomic_write appends (false after the first
** failed write; the error is kept for commit), tg__atomic_commit fsyncs,
** closes and renames over path, and on any failure removes the temporary
** only and reports TG_ERR_IO.  tg__atomic_abort drops an open one.  After
** commit or abort nothing is held. */
typedef struct tg__atomic {
    int fd;
    const char *path;   /* as given */
    char *target;       /* path with symbolic links resolved, or NULL */
    char *tmp;          /* the temporary, or NULL when written in place */
    bool failed;
    int err;            /* errno of the failure */
    size_t used;        /* bytes waiting in buf */
    unsigned char buf[1 << 16];
} tg__atomic;
tg_status tg__atomic_open(const char *fn, const char *path, tg__atomic *w);
bool tg__atomic_write(tg__atomic *w, const void *p, size_t n);
tg_status tg__atomic_commit(const char *fn, tg__atomic *w);
void tg__atomic_abort(tg__atomic *w);

#endif /* TG_IO_H */
