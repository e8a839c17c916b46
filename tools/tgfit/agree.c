/* SPDX-License-Identifier: MIT */
/*
** Ranks agree or stop (issue 18, item 5).  Before the fit, every MPI rank
** compares its settings and its view of the data file with the others': a
** rank started with another --degree used to end in MPI_ERR_TRUNCATE, and
** ranks given different files fitted silently to a wrong answer.  Each value
** goes through par_minmax (a global min and max; the ranks agree when they
** are equal), 64-bit hashes as two exact 32-bit halves.  A mismatch is one
** line naming what differs; every rank returns TGFIT_FAIL, so nothing is
** written and every rank exits non-zero.  One process: nothing to compare.
*/
#include "tgfit.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAMPLES 64          /* blocks of the file hashed, spread over it */
#define SAMPLE_BYTES 4096   /* the first is the header */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_str(const char *s) { return fnv1a(14695981039346656037ull, s ? s : "", s ? strlen(s) : 0); }

/* The file's size (-1 when it is not a regular file), the hash of its first
** block (the header) and of SAMPLES blocks spread evenly over it. */
static void file_digest(const char *path, double *size, uint64_t *head, uint64_t *body)
{
    *size = -1;
    *head = *body = 14695981039346656037ull;
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    *size = (double)st.st_size;
    unsigned char buf[SAMPLE_BYTES];
    for (int i = 0; i < SAMPLES; i++) {
        off_t at = st.st_size > SAMPLE_BYTES ? (off_t)((st.st_size - SAMPLE_BYTES) / (SAMPLES - 1) * i) : 0;
        ssize_t got = pread(fd, buf, sizeof buf, at);
        size_t n = got > 0 ? (size_t)got : 0;
        if (i == 0)
            *head = fnv1a(*head, buf, n);
        *body = fnv1a(*body, buf, n);
    }
    close(fd);
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
    uint64_t head, body;
    file_digest(o->data, &size, &head, &body);
    f[n++] = (field){"the data file's size", size};
    n = put64(f, n, "the data file's header", head);
    n = put64(f, n, "the data file's contents", body);
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
    return 0;
}
