/* SPDX-License-Identifier: MIT */
/*
** Saving and loading parameter lists (tg_params_save / tg_params_load).  nn
** layer, on top of params.c and the public API.
**
** The format, all integers unsigned and little-endian, no padding:
**
**     8 bytes   magic "TGPARAMS"
**     uint32    version, 1
**     uint32    count, the number of entries
**     count entries, in list order, each:
**         uint32    name length L (bytes, no terminator)
**         L bytes   the name
**         uint32    ndim, 0..8
**         ndim x int64   the dimensions, each >= 0
**         numel x float64   the data, row-major, IEEE 754 binary64 little-endian
**
** and nothing after the last entry.  Loading reads the whole file into memory
** and validates all of it (magic, version, every length against the bytes
** left, ndim, dimensions, no trailing bytes, each listed name present exactly
** once with the listed tensor's shape) before a single tensor is written, so a
** failed load changes nothing.  Entries the list does not name are ignored.
*/
#include "core/internal.h"
#include "io/io.h"

#include <errno.h>
#include <string.h>

#define MAGIC "TGPARAMS"
#define MAGIC_LEN 8
#define VERSION 1u

/* ------------------------------------------------------------------ save */

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* Writes one entry; false on a write error (kept in *f for the commit). */
static bool write_entry(tg__atomic *f, const char *name, const tg_tensor *t)
{
    unsigned char b[8];
    size_t len = strlen(name);
    put_u32(b, (uint32_t)len);
    bool ok = tg__atomic_write(f, b, 4) && tg__atomic_write(f, name, len);
    put_u32(b, (uint32_t)t->ndim);
    ok = ok && tg__atomic_write(f, b, 4);
    for (int d = 0; ok && d < t->ndim; d++) {
        put_u64(b, (uint64_t)t->shape[d]);
        ok = tg__atomic_write(f, b, 8);
    }
    for (int64_t i = 0; ok && i < t->numel; i++) {
        uint64_t bits;
        memcpy(&bits, &t->data[i], sizeof bits);
        put_u64(b, bits);
        ok = tg__atomic_write(f, b, 8);
    }
    return ok;
}

tg_status tg_params_save(const tg_params *p, const char *path)
{
    tg__lazy_sync();   /* reads the parameters' values */
    const char *fn = "tg_params_save";
    if (!p || !path)
        return tg__null_arg(fn, !p ? "p" : "path");
    int n = tg_params_count(p);
    for (int i = 0; i < n; i++)
        if (strlen(tg_params_name(p, i)) > UINT32_MAX)
            return tg__error(TG_ERR_ARG, "%s: name of entry %d is too long", fn, i);
    tg__atomic f;   /* a temporary renamed over path: the old file or the new one, never half */
    tg_status st = tg__atomic_open(fn, path, &f);
    if (st != TG_OK)
        return st;
    unsigned char head[MAGIC_LEN + 8];
    memcpy(head, MAGIC, MAGIC_LEN);
    put_u32(head + MAGIC_LEN, VERSION);
    put_u32(head + MAGIC_LEN + 4, (uint32_t)n);
    bool ok = tg__atomic_write(&f, head, sizeof head);
    for (int i = 0; ok && i < n; i++)
        ok = write_entry(&f, tg_params_name(p, i), tg_params_get(p, i));
    return tg__atomic_commit(fn, &f);
}

/* ------------------------------------------------------------------ load */

typedef struct buffer { unsigned char *data; size_t n; } buffer;

/* Reads the whole file; TG_ERR_IO naming the path. */
static tg_status read_file(const char *path, buffer *buf)
{
    const char *fn = "tg_params_load";
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg__error(TG_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    size_t cap = 0;
    tg_status st = TG_OK;
    buf->data = NULL;
    buf->n = 0;
    for (;;) {
        if (buf->n == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *d = tg__realloc(buf->data, cap);
            if (!d) {
                st = tg__error(TG_ERR_NOMEM, "%s: out of memory reading '%s'", fn, path);
                break;
            }
            buf->data = d;
        }
        size_t got = fread(buf->data + buf->n, 1, cap - buf->n, f);
        buf->n += got;
        if (got == 0) {
            if (ferror(f))
                st = tg__error(TG_ERR_IO, "%s: cannot read '%s': %s", fn, path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st != TG_OK) {
        tg__free(buf->data);
        buf->data = NULL;
    }
    return st;
}

/* A cursor over the file's bytes. */
typedef struct reader { const unsigned char *b; size_t n, at; } reader;

static bool take(reader *r, size_t k, const unsigned char **out)
{
    if (k > r->n - r->at)
        return false;
    *out = r->b + r->at;
    r->at += k;
    return true;
}

static uint64_t get_u(const unsigned char *b, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* One entry as found in the file: the name and the data stay in the buffer. */
typedef struct entry {
    const char *name;
    uint32_t name_len;
    int ndim;
    int64_t shape[TG_MAX_DIMS], numel;
    const unsigned char *data;
} entry;

/* Reads entry k at the cursor, checking every length against what is left. */
static tg_status read_entry(reader *r, const char *path, uint32_t k, entry *e)
{
    const char *fn = "tg_params_load";
    const unsigned char *b;
    if (!take(r, 4, &b))
        return tg__error(TG_ERR_IO, "%s: '%s' is truncated in entry %u (name length)", fn, path, k);
    e->name_len = (uint32_t)get_u(b, 4);
    if (!take(r, e->name_len, &b))
        return tg__error(TG_ERR_IO, "%s: '%s' is truncated in entry %u (name of %u bytes)", fn, path, k,
                         e->name_len);
    e->name = (const char *)b;
    int nl = e->name_len > 200 ? 200 : (int)e->name_len;   /* for messages */
    if (!take(r, 4, &b))
        return tg__error(TG_ERR_IO, "%s: '%s' is truncated in entry %u ('%.*s', ndim)", fn, path, k, nl,
                         e->name);
    uint32_t ndim = (uint32_t)get_u(b, 4);
    if (ndim > TG_MAX_DIMS)
        return tg__error(TG_ERR_IO, "%s: '%s' entry %u ('%.*s') has ndim %u, at most %d", fn, path, k, nl,
                         e->name, ndim, TG_MAX_DIMS);
    e->ndim = (int)ndim;
    e->numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        if (!take(r, 8, &b))
            return tg__error(TG_ERR_IO, "%s: '%s' is truncated in entry %u ('%.*s', dims)", fn, path, k,
                             nl, e->name);
        uint64_t v = get_u(b, 8);
        if (v > (uint64_t)INT64_MAX / 8 || (v > 0 && (uint64_t)e->numel > ((uint64_t)INT64_MAX / 8) / v))
            return tg__error(TG_ERR_IO, "%s: '%s' entry %u ('%.*s') has an impossible dimension %llu", fn,
                             path, k, nl, e->name, (unsigned long long)v);
        e->shape[d] = (int64_t)v;
        e->numel *= (int64_t)v;
    }
    if ((uint64_t)e->numel > (r->n - r->at) / 8 || !take(r, (size_t)e->numel * 8, &e->data))
        return tg__error(TG_ERR_IO, "%s: '%s' is truncated in entry %u ('%.*s'): %lld doubles of data, "
                         "%zu bytes left", fn, path, k, nl, e->name, (long long)e->numel, r->n - r->at);
    return TG_OK;
}

/* Checks the header and every entry; *count receives the entry count. */
static tg_status validate(const buffer *buf, const char *path, uint32_t *count)
{
    const char *fn = "tg_params_load";
    reader r = {buf->data, buf->n, 0};
    const unsigned char *b;
    if (!take(&r, MAGIC_LEN, &b) || memcmp(b, MAGIC, MAGIC_LEN) != 0)
        return tg__error(TG_ERR_IO, "%s: '%s' is not a tensorgrad parameter file (no \"%s\" magic)", fn,
                         path, MAGIC);
    if (!take(&r, 8, &b))
        return tg__error(TG_ERR_IO, "%s: '%s' is truncated in its header", fn, path);
    uint32_t version = (uint32_t)get_u(b, 4);
    *count = (uint32_t)get_u(b + 4, 4);
    if (version != VERSION)
        return tg__error(TG_ERR_IO, "%s: '%s' has format version %u, this library reads %u", fn, path,
                         version, VERSION);
    entry e;
    for (uint32_t k = 0; k < *count; k++) {
        tg_status st = read_entry(&r, path, k, &e);
        if (st != TG_OK)
            return st;
    }
    if (r.at != r.n)
        return tg__error(TG_ERR_IO, "%s: '%s' has %zu bytes after its %u entries", fn, path, r.n - r.at,
                         *count);
    return TG_OK;
}

/* Finds the entry named name (the file is valid); TG_ERR_SHAPE when absent or
** of another shape than t, TG_ERR_IO when named twice. */
static tg_status find_entry(const buffer *buf, uint32_t count, const char *path, const char *name,
                            const tg_tensor *t, entry *found)
{
    const char *fn = "tg_params_load";
    reader r = {buf->data, buf->n, MAGIC_LEN + 8};
    int hits = 0;
    entry e;
    for (uint32_t k = 0; k < count; k++) {
        read_entry(&r, path, k, &e);
        if (e.name_len == strlen(name) && memcmp(e.name, name, e.name_len) == 0 && hits++ == 0)
            *found = e;
    }
    if (hits == 0)
        return tg__error(TG_ERR_SHAPE, "%s: '%s' has no entry '%s'", fn, path, name);
    if (hits > 1)
        return tg__error(TG_ERR_IO, "%s: '%s' has %d entries named '%s'", fn, path, hits, name);
    bool same = found->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = found->shape[d] == t->shape[d];
    if (!same) {
        char b1[TG__SHAPE_STR], b2[TG__SHAPE_STR];
        return tg__error(TG_ERR_SHAPE, "%s: '%s' entry '%s' is %s but the tensor is %s", fn, path, name,
                         tg__shape_str(b1, found->ndim, found->shape), tg__shape_str(b2, t->ndim, t->shape));
    }
    return TG_OK;
}

tg_status tg_params_load(const tg_params *p, const char *path)
{
    tg__lazy_sync();   /* writes the parameters' values */
    if (!p || !path)
        return tg__null_arg("tg_params_load", !p ? "p" : "path");
    buffer buf = {NULL, 0};
    uint32_t count = 0;
    tg_status st = read_file(path, &buf);
    if (st != TG_OK)
        return st;
    st = validate(&buf, path, &count);
    int n = tg_params_count(p);
    for (int i = 0; i < n && st == TG_OK; i++) {   /* every name, before any write */
        entry e;
        st = find_entry(&buf, count, path, tg_params_name(p, i), tg_params_get(p, i), &e);
    }
    for (int i = 0; i < n && st == TG_OK; i++) {
        entry e;
        tg_tensor *t = tg_params_get(p, i);
        find_entry(&buf, count, path, tg_params_name(p, i), t, &e);
        for (int64_t j = 0; j < e.numel; j++) {
            uint64_t bits = get_u(e.data + 8 * j, 8);
            memcpy(&t->data[j], &bits, sizeof bits);
        }
    }
    tg__free(buf.data);
    return st;
}
