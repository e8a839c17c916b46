/* SPDX-License-Identifier: MIT */
/*
** Ranks agree or stop (issue 18, item 5).  Before the fit, every MPI rank
** compares its settings and its view of the data file with the others': a
** rank started with another --degree used to end in MPI_ERR_TRUNCATE, and
** ranks given different files fitted silently to a wrong answer.
**
** Settings, the data file's size and header, and the number of points go
** through par_minmax (a global min and max; the ranks agree when they are
** equal), 64-bit hashes as two exact 32-bit halves.  Then the points: the
** rows are cut into one slice per rank (par_rows), and a slice's hash folds
** the bits of x, y (and w) of its rows in order (agree_fold).  Each rank hashed
** its own slice while data.c checked it (no second read of the file); rank 0,
** and every rank that holds the whole table anyway (a CSV is parsed whole),
** also hash the other slices.  The hashes are allgathered, and every rank's
** slices must equal rank 0's: the points rank r fits are then the points rank
** r would read of rank 0's file, and a file differing in any point that some
** rank uses (or, for a CSV, anywhere in its points) is caught.  Rank 0 thus
** reads all of a mapped .npy once more than it would (its own slice in the
** same pass as the check).  A mismatch is one line naming what differs; every
** rank returns TGFIT_FAIL, so nothing is written and every rank exits
** non-zero.  One process: nothing to compare.
*/
#include "tgfit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_BYTES 65536    /* a header longer than this is hashed up to here */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_str(const char *s) { return fnv1a(14695981039346656037ull, s ? s : "", s ? strlen(s) : 0); }

/* The file's size (-1 when it is not a regular file) and the hash of its
** header: a .npy's magic, version and header dict, else the first line. */
static void file_digest(const char *path, double *size, uint64_t *head)
{
    *size = -1;
    *head = 14695981039346656037ull;
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    *size = (double)st.st_size;
    unsigned char *buf = malloc(HEAD_BYTES);
    ssize_t got = buf ? pread(fd, buf, HEAD_BYTES, 0) : -1;
    close(fd);
    size_t n = got > 0 ? (size_t)got : 0, len = n;
    if (n >= 12 && memcmp(buf, "\x93NUMPY", 6) == 0) {   /* v1: 2-byte length at 8; v2, v3: 4 bytes */
        size_t hlen = 0, width = buf[6] == 1 ? 2 : 4;
        for (size_t i = width; i-- > 0;)
            hlen = hlen * 256 + buf[8 + i];
        len = 8 + width + hlen < n ? 8 + width + hlen : n;
    } else if (n) {
        const unsigned char *nl = memchr(buf, '\n', n);
        len = nl ? (size_t)(nl - buf) + 1 : n;
    }
    if (buf)
        *head = fnv1a(*head, buf, len);
    free(buf);
}

/* The hash of rows [b, e), the same fold as data.c's over this rank's slice. */
static uint64_t hash_rows(const dataset *d, int64_t b, int64_t e)
{
    uint64_t h = AGREE_SEED;
    for (int64_t j = b; j < e; j++) {
        int64_t at = (j - d->begin) * d->stride;
        h = agree_fold(agree_fold(h, d->x[at]), d->y[at]);
        if (d->w)
            h = agree_fold(h, d->w[at]);
    }
    return h;
}

static void slice_rows(const par *p, int r, int64_t n, int64_t *b, int64_t *e)
{
    par q = *p;
    q.rank = r;
    par_rows(&q, n, b, e);
}

/* The points: this rank sends [k, first, then k hashes as two halves each]
** for slices first .. first + k - 1; rank 0 sends all of them.  Every rank
** gets every rank's record and runs the same comparison, so all decide alike. */
static int agree_points(const options *o, const par *p, const dataset *d)
{
    bool all = p->rank == 0 || d->table;
    int k = all ? p->size : 1, first = all ? 0 : p->rank;
    double *mine = malloc((size_t)(2 + 2 * k) * sizeof *mine), *got = NULL;
    if (!mine)
        return tgfit_fail("out of memory for the points' hashes of %d ranks", p->size);
    mine[0] = k;
    mine[1] = first;
    for (int i = 0; i < k; i++) {
        int64_t b, e;
        slice_rows(p, first + i, d->n_total, &b, &e);
        uint64_t h = first + i == p->rank ? d->points_hash : hash_rows(d, b, e);
        mine[2 + 2 * i] = (double)(h >> 32);
        mine[3 + 2 * i] = (double)(h & 0xffffffffu);
    }
    int64_t n_got;
    int rc = par_allgather(p, mine, 2 + 2 * k, &got, &n_got);
    free(mine);
    if (rc != 0)
        return TGFIT_FAIL;
    const double *ref = got + 2;            /* rank 0's record: all slices */
    int64_t at = 0;
    for (int r = 0; r < p->size && rc == 0; r++) {
        int kr = (int)got[at], fr = (int)got[at + 1];
        for (int i = 0; i < kr && rc == 0; i++) {
            int s = fr + i;
            if (got[at + 2 + 2 * i] != ref[2 * s] || got[at + 3 + 2 * i] != ref[2 * s + 1]) {
                int64_t b, e;
                slice_rows(p, s, d->n_total, &b, &e);
                rc = tgfit_fail("MPI ranks disagree on the points of the data file: rank %d read other "
                                "values than rank 0 (%s) in data rows %lld..%lld; nothing was fitted",
                                r, o->data, (long long)b + 1, (long long)e);
            }
        }
        at += 2 + 2 * kr;
    }
    free(got);
    return rc;
}

typedef struct field { const char *what; double value; } field;

/* Adds a 64-bit value as two exact halves. */
static int put64(field *f, int n, const char *what, uint64_t v)
{
    f[n] = (field){what, (double)(v >> 32)};
    f[n + 1] = (field){what, (double)(v & 0xffffffffu)};
    return n + 2;
}

int agree_check(const options *o, const par *p, const dataset *d)
{
    if (p->size < 2)
        return 0;
    field f[32];
    int n = 0;
    f[n++] = (field){"--model", (double)o->model};
    f[n++] = (field){"--optimizer", (double)o->optimizer};
    f[n++] = (field){"--degree", (double)o->degree};
    n = put64(f, n, "--steps", (uint64_t)o->steps);
    n = put64(f, n, "--batch", (uint64_t)o->batch);
    f[n++] = (field){"--lr", o->lr};
    n = put64(f, n, "--seed", o->seed);
    f[n++] = (field){"--no-lstsq", (double)o->no_lstsq};
    n = put64(f, n, "--x", hash_str(o->xcol));
    n = put64(f, n, "--y", hash_str(o->ycol));
    double size;
    uint64_t head;
    file_digest(o->data, &size, &head);
    f[n++] = (field){"the data file's size", size};
    n = put64(f, n, "the data file's header", head);
    f[n++] = (field){"the number of points", (double)d->n_total};
    for (int i = 0; i < n; i++) {
        double lo = f[i].value, hi = f[i].value;
        if (par_minmax(p, &lo, &hi) != 0)
            return TGFIT_FAIL;
        if (lo != hi && !(lo != lo && hi != hi)) {
            if (strcmp(f[i].what, "--degree") == 0 || strcmp(f[i].what, "the data file's size") == 0 ||
                strcmp(f[i].what, "the number of points") == 0)
                return tgfit_fail("MPI ranks disagree on %s (%.17g on one rank, %.17g on another); nothing "
                                  "was fitted", f[i].what, lo, hi);
            return tgfit_fail("MPI ranks disagree on %s; nothing was fitted", f[i].what);
        }
    }
    return agree_points(o, p, d);
}
