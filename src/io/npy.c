/* SPDX-License-Identifier: MIT */
/*
** NumPy .npy files: reading (versions 1.0, 2.0 and 3.0; numeric dtypes
** converted to float64; Fortran order transposed to C order), memory-mapping
** of little-endian float64 C-order files, and writing '<f8' C-order files
** byte for byte as numpy.save writes them.
**
** The format (numpy/lib/format.py): the magic "\x93NUMPY", a major and a minor
** version byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0
** and 3.0), then the header: a Python dict literal with exactly the keys
** 'descr' (a dtype string such as '<f8'), 'fortran_order' (True / False) and
** 'shape' (a tuple of ints), padded with spaces and a final '\n' so the data
** starts at a multiple of 64 bytes (16 in files of old NumPy).  The data
** follows: numel * itemsize bytes and nothing after them.
**
** I/O layer, on top of core: tensors are made with tg__tensor_new, or around
** a file mapping with tg__tensor_wrap and a storage release hook.
*/
#define _POSIX_C_SOURCE 200809L

#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define MAX_HEADER ((size_t)1 << 20)   /* numpy refuses more than 10000 bytes by default */
#define GROWTH_DIGITS 21               /* numpy's GROWTH_AXIS_MAX_DIGITS */

typedef struct npy_header {
    int major;
    size_t data_offset;
    char order;                        /* '<' little, '>' big endian */
    char kind;                         /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int itemsize;
    char descr[24];                    /* as written, for messages */
    bool fortran;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
} npy_header;

/* A cursor over the header text; offsets in messages are file offsets. */
typedef struct cursor {
    const char *fn, *path;
    const unsigned char *p, *start, *end;
    size_t base;                       /* file offset of start */
} cursor;

static bool host_little(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static tg_status bad(const cursor *c, const char *what)
{
    return tg__error(TG_ERR_IO, "%s: '%s': header at byte %zu: %s", c->fn, c->path,
                     c->base + (size_t)(c->p - c->start), what);
}

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* A quoted string without escapes into out (cap bytes). */
static tg_status parse_string(cursor *c, char *out, size_t cap, const char *what)
{
    char msg[96];
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) {
        snprintf(msg, sizeof msg, "expected a quoted %s", what);
        return bad(c, msg);
    }
    unsigned char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n' || n + 1 >= cap) {
            snprintf(msg, sizeof msg, "unsupported or too long %s", what);
            return bad(c, msg);
        }
        out[n++] = (char)*c->p++;
    }
    if (c->p >= c->end) {
        snprintf(msg, sizeof msg, "unterminated %s", what);
        return bad(c, msg);
    }
    c->p++;
    out[n] = '\0';
    return TG_OK;
}

static bool accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == (unsigned char)ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool accept_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

/* 'descr': a simple dtype string; structured dtypes (lists) are refused. */
static tg_status parse_descr(cursor *c, npy_header *h)
{
    if (c->p < c->end && *c->p == '[')
        return bad(c, "'descr' is a structured dtype (a list of fields), not supported");
    const unsigned char *at = c->p;
    tg_status st = parse_string(c, h->descr, sizeof h->descr, "'descr'");
    if (st != TG_OK)
        return st;
    const char *d = h->descr;
    char *endp = NULL;
    long size = 0;
    if (d[0] && d[1] && d[2] >= '0' && d[2] <= '9')
        size = strtol(d + 2, &endp, 10);
    bool shape_ok = size > 0 && *endp == '\0' && strchr("<>|=", d[0]);
    char msg[160];
    if (!shape_ok || !strchr("fiub", d[1])) {
        c->p = at;
        snprintf(msg, sizeof msg, "dtype '%s' is not supported (numeric dtypes only: "
                 "float16/32/64, int8-64, uint8-64, bool)", d);
        return bad(c, msg);
    }
    h->kind = d[1];
    h->itemsize = (int)size;
    h->order = d[0] == '=' ? (host_little() ? '<' : '>') : d[0] == '|' ? '<' : d[0];
    bool ok = h->kind == 'f' ? (size == 2 || size == 4 || size == 8)
            : h->kind == 'b' ? size == 1
            : (size == 1 || size == 2 || size == 4 || size == 8);
    if (ok && d[0] == '|' && size != 1)
        ok = false;
    if (!ok) {
        c->p = at;
        snprintf(msg, sizeof msg, "dtype '%s' is not supported", d);
        return bad(c, msg);
    }
    return TG_OK;
}

static tg_status parse_int(cursor *c, int64_t *v)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == '-')
        return bad(c, "negative dimension in 'shape'");
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return bad(c, "expected a dimension (a non-negative integer) in 'shape'");
    int64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int dgt = *c->p - '0';
        if (x > (INT64_MAX - dgt) / 10)
            return bad(c, "dimension in 'shape' overflows int64");
        x = x * 10 + dgt;
        c->p++;
    }
    *v = x;
    return TG_OK;
}

/* 'shape': "()", "(n,)", "(n, m)", "(n, m,)", at most TG_MAX_DIMS entries. */
static tg_status parse_shape(cursor *c, npy_header *h)
{
    if (!accept(c, '('))
        return bad(c, "'shape' is not a tuple");
    h->ndim = 0;
    bool comma = false;
    while (!accept(c, ')')) {
        if (h->ndim > 0 && !comma)
            return bad(c, "expected ',' or ')' in 'shape'");
        if (h->ndim == TG_MAX_DIMS)
            return bad(c, "'shape' has more than 8 dimensions, the most a tensor holds");
        tg_status st = parse_int(c, &h->shape[h->ndim++]);
        if (st != TG_OK)
            return st;
        comma = accept(c, ',');
    }
    if (h->ndim == 1 && !comma)
        return bad(c, "'shape' is not a tuple (a 1-tuple needs a trailing comma)");
    return TG_OK;
}

static tg_status parse_value(cursor *c, npy_header *h, int key)
{
    skip_ws(c);
    if (key == 0)
        return parse_descr(c, h);
    if (key == 2)
        return parse_shape(c, h);
    if (accept_word(c, "True"))
        h->fortran = true;
    else if (accept_word(c, "False"))
        h->fortran = false;
    else
        return bad(c, "'fortran_order' is not True or False");
    return TG_OK;
}

/* The dict: exactly the three keys, in any order, each once. */
static tg_status parse_dict(cursor *c, npy_header *h)
{
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    bool seen[3] = {false, false, false};
    if (!accept(c, '{'))
        return bad(c, "expected '{' opening the header dict");
    while (!accept(c, '}')) {
        char key[32];
        skip_ws(c);
        const unsigned char *at = c->p;
        tg_status st = parse_string(c, key, sizeof key, "key");
        if (st != TG_OK)
            return st;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0)
            k++;
        if (k == 3 || seen[k]) {
            c->p = at;
            return bad(c, k == 3 ? "unknown key (expected 'descr', 'fortran_order', 'shape')"
                                 : "duplicate key");
        }
        seen[k] = true;
        if (!accept(c, ':'))
            return bad(c, "expected ':' after a key");
        if ((st = parse_value(c, h, k)) != TG_OK)
            return st;
        if (!accept(c, ',') && (skip_ws(c), c->p >= c->end || *c->p != '}'))
            return bad(c, "expected ',' or '}' after a value");
    }
    for (int k = 0; k < 3; k++)
        if (!seen[k]) {
            char msg[64];
            snprintf(msg, sizeof msg, "the dict has no '%s'", keys[k]);
            return bad(c, msg);
        }
    skip_ws(c);
    return c->p == c->end ? TG_OK : bad(c, "unexpected text after the header dict");
}

/* Magic, version and header length; the header must lie inside the file. */
static tg_status parse_prefix(const char *fn, const char *path, const unsigned char *b,
                              size_t size, npy_header *h, size_t *hlen, size_t *hstart)
{
    if (size < MAGIC_LEN + 2 || memcmp(b, MAGIC, MAGIC_LEN) != 0)
        return tg__error(TG_ERR_IO, "%s: '%s': %s", fn, path,
                         size < MAGIC_LEN + 2 ? "truncated: shorter than the .npy magic and version"
                                              : "not a .npy file (bad magic string)");
    h->major = b[6];
    if (h->major < 1 || h->major > 3 || b[7] != 0)
        return tg__error(TG_ERR_IO, "%s: '%s': byte 6: .npy version %d.%d is not supported "
                         "(1.0, 2.0, 3.0)", fn, path, b[6], b[7]);
    *hstart = h->major == 1 ? 10 : 12;
    if (size < *hstart)
        return tg__error(TG_ERR_IO, "%s: '%s': truncated in the header length field (byte 8)",
                         fn, path);
    *hlen = h->major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                          : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                            (size_t)b[11] << 24;
    if (*hlen > MAX_HEADER)
        return tg__error(TG_ERR_IO, "%s: '%s': byte 8: header length %zu is too large", fn,
                         path, *hlen);
    if (*hlen > size - *hstart)
        return tg__error(TG_ERR_IO, "%s: '%s': truncated: header length (byte 8) says %zu "
                         "bytes, the file has %zu after byte %zu", fn, path, *hlen,
                         size - *hstart, *hstart);
    return TG_OK;
}

/* Element count and a data size that matches the file exactly. */
static tg_status check_data(const char *fn, const char *path, size_t size, npy_header *h)
{
    int64_t n = 1;
    bool overflow = false;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] == 0)
            n = 0;
        else if (n > 0 && n > INT64_MAX / 8 / h->shape[i])
            overflow = true;
        else
            n *= h->shape[i];
    }
    h->numel = n;
    size_t avail = size - h->data_offset;
    if (overflow && n > 0)
        return tg__error(TG_ERR_IO, "%s: '%s': 'shape' has too many elements", fn, path);
    uint64_t need = (uint64_t)n * (uint64_t)h->itemsize;
    if (need > avail)
        return tg__error(TG_ERR_IO, "%s: '%s': truncated: the data (%lld x '%s') needs %llu "
                         "bytes from byte %zu, the file has %zu", fn, path, (long long)n,
                         h->descr, (unsigned long long)need, h->data_offset, avail);
    if (need < avail)
        return tg__error(TG_ERR_IO, "%s: '%s': %llu unexpected bytes after the data (byte %llu)",
                         fn, path, (unsigned long long)(avail - need),
                         (unsigned long long)(h->data_offset + need));
    return TG_OK;
}

static tg_status parse_npy(const char *fn, const char *path, const unsigned char *b, size_t size,
                           npy_header *h)
{
    size_t hlen = 0, hstart = 0;
    memset(h, 0, sizeof *h);
    tg_status st = parse_prefix(fn, path, b, size, h, &hlen, &hstart);
    if (st != TG_OK)
        return st;
    cursor c = {fn, path, b + hstart, b + hstart, b + hstart + hlen, hstart};
    for (size_t i = 0; i < hlen; i++)
        if (c.start[i] > 0x7e && h->major < 3) {
            c.p = c.start + i;
            return bad(&c, "a non-ASCII byte in a version 1/2 header");
        }
    if ((st = parse_dict(&c, h)) != TG_OK)
        return st;
    h->data_offset = hstart + hlen;
    return check_data(fn, path, size, h);
}

/* ------------------------------------------------------------- conversion */

static uint64_t load_uint(const unsigned char *p, int size, bool big)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
    return v;
}

static double half_to_double(uint64_t bits)
{
    int sign = (int)(bits >> 15) & 1, exp = (int)(bits >> 10) & 0x1f;
    double mant = (double)(bits & 0x3ff), v;
    if (exp == 0)
        v = ldexp(mant, -24);
    else if (exp == 31)
        v = mant == 0 ? INFINITY : NAN;
    else
        v = ldexp(mant + 1024.0, exp - 25);
    return sign ? -v : v;
}

static double to_double(uint64_t v, char kind, int size)
{
    if (kind == 'b')
        return v != 0;
    if (kind == 'u')
        return (double)v;
    if (kind == 'i') {
        int shift = 64 - 8 * size;
        return (double)((int64_t)(v << shift) >> shift);
    }
    if (size == 2)
        return half_to_double(v);
    if (size == 4) {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* n elements of the file's dtype at src, in file order, to doubles at dst. */
static void convert(double *dst, const unsigned char *src, int64_t n, const npy_header *h)
{
    bool big = h->order == '>';
    if (h->kind == 'f' && h->itemsize == 8 && big != host_little()) {
        memcpy(dst, src, (size_t)n * 8);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        dst[i] = to_double(load_uint(src + i * h->itemsize, h->itemsize, big), h->kind,
                           h->itemsize);
}

/* dst[C-order index] = src[Fortran-order index] over shape. */
static void fortran_to_c(double *dst, const double *src, const npy_header *h)
{
    int64_t idx[TG_MAX_DIMS] = {0}, stride[TG_MAX_DIMS];
    for (int k = 0; k < h->ndim; k++)
        stride[k] = k ? stride[k - 1] * h->shape[k - 1] : 1;
    int64_t off = 0;
    for (int64_t i = 0; i < h->numel; i++) {
        dst[i] = src[off];
        for (int k = h->ndim - 1; k >= 0; k--) {
            off += stride[k];
            if (++idx[k] < h->shape[k])
                break;
            off -= stride[k] * h->shape[k];
            idx[k] = 0;
        }
    }
}

static tg_tensor *tensor_from(const char *path, const unsigned char *b, const npy_header *h)
{
    tg_tensor *t = tg__tensor_new("tg_load_npy", h->ndim, h->shape);
    if (!t || h->numel == 0)
        return t;
    const unsigned char *src = b + h->data_offset;
    if (!h->fortran || h->ndim < 2) {
        convert(t->data, src, h->numel, h);
        return t;
    }
    double *tmp = tg__malloc((size_t)h->numel * sizeof(double));
    if (!tmp) {
        tg__tensor_unref(t);
        tg__error(TG_ERR_NOMEM, "tg_load_npy: out of memory transposing '%s'", path);
        return NULL;
    }
    convert(tmp, src, h->numel, h);
    fortran_to_c(t->data, tmp, h);
    tg__free(tmp);
    return t;
}

tg_tensor *tg_load_npy(const char *path)
{
    if (!path) {
        tg__null_arg("tg_load_npy", "path");
        return NULL;
    }
    tg__file f;
    static const tg__file_limits lim = {SIZE_MAX, 0, false};
    if (tg__file_open("tg_load_npy", path, &lim, &f) != TG_OK)
        return NULL;
    npy_header h;
    tg_tensor *t = NULL;
    if (parse_npy("tg_load_npy", path, f.data, f.size, &h) == TG_OK)
        t = tensor_from(path, f.data, &h);
    tg__file_close(&f);
    return t ? tg__adopt(t) : NULL;
}

/* ------------------------------------------------------------------ mmap */

/* Storage whose data is a private mapping of the file (tg__storage first, so
** the tensor sees a plain tg__storage). */
typedef struct npy_mapping {
    tg__storage base;
    void *addr;
    size_t len;
} npy_mapping;

static void mapping_release(tg__storage *s)
{
    npy_mapping *m = (npy_mapping *)(void *)s;
    munmap(m->addr, m->len);
    tg__free(m);
}

/* Only data usable in place: '<f8' (native little-endian), C order, aligned. */
static tg_status check_mappable(const char *path, const npy_header *h)
{
    const char *why = NULL;
    if (h->kind != 'f' || h->itemsize != 8 || h->order != '<' || !host_little())
        why = "its dtype is not little-endian float64 ('<f8')";
    else if (h->fortran && h->ndim > 1)
        why = "it is in Fortran order";
    else if (h->data_offset % sizeof(double) != 0)
        why = "its data does not start at a multiple of 8 bytes";
    if (!why)
        return TG_OK;
    return tg__error(TG_ERR_IO, "tg_mmap_npy: '%s' (dtype '%s') cannot be mapped: %s; "
                     "use tg_load_npy, which converts", path, h->descr, why);
}

static tg_tensor *map_tensor(const char *path, int fd, size_t size)
{
    npy_header h;
    void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
        char msg[128];
        tg__error(TG_ERR_IO, "tg_mmap_npy: cannot map '%s': %s", path,
                  tg__errno_str(errno, msg, sizeof msg));
        return NULL;
    }
    npy_mapping *m = NULL;
    tg_tensor *t = NULL;
    if (parse_npy("tg_mmap_npy", path, addr, size, &h) != TG_OK || check_mappable(path, &h) != TG_OK)
        goto cleanup;
    if (!(m = tg__calloc(1, sizeof *m))) {
        tg__error(TG_ERR_NOMEM, "tg_mmap_npy: out of memory mapping '%s'", path);
        goto cleanup;
    }
    m->addr = addr;
    m->len = size;
    m->base.release = mapping_release;
    m->base.data = (double *)(void *)((unsigned char *)addr + h.data_offset);
    t = tg__tensor_wrap("tg_mmap_npy", h.ndim, h.shape, &m->base, m->base.data);
cleanup:
    if (!t) {
        tg__free(m);
        munmap(addr, size);
    }
    return t;
}

tg_tensor *tg_mmap_npy(const char *path)
{
    if (!path) {
        tg__null_arg("tg_mmap_npy", "path");
        return NULL;
    }
    char msg[128];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);   /* a FIFO must not block */
    if (fd < 0) {
        tg__error(TG_ERR_IO, "tg_mmap_npy: cannot open '%s': %s", path,
                  tg__errno_str(errno, msg, sizeof msg));
        return NULL;
    }
    tg_tensor *t = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        tg__error(TG_ERR_IO, "tg_mmap_npy: cannot stat '%s': %s", path,
                  tg__errno_str(errno, msg, sizeof msg));
    else if (!S_ISREG(sb.st_mode))
        tg__error(TG_ERR_IO, "tg_mmap_npy: '%s' is not a regular file; use tg_load_npy", path);
    else if (sb.st_size < MAGIC_LEN + 2)
        tg__error(TG_ERR_IO, "tg_mmap_npy: '%s': truncated: shorter than the .npy magic and "
                  "version", path);
    else if ((uintmax_t)sb.st_size > SIZE_MAX)
        tg__error(TG_ERR_IO, "tg_mmap_npy: '%s' is too large to map", path);
    else
        t = map_tensor(path, fd, (size_t)sb.st_size);
    close(fd);   /* the mapping stays valid */
    return t ? tg__adopt(t) : NULL;
}

/* ------------------------------------------------------------- read-only view */

tg_status tg_npy_view_open(const char *path, tg_npy_view *v)
{
    static const char fn[] = "tg_npy_view_open";
    if (v)
        memset(v, 0, sizeof *v);
    if (!path || !v)
        return tg__null_arg(fn, !path ? "path" : "v");
    char msg[128];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return tg__error(TG_ERR_IO, "%s: cannot open '%s': %s", fn, path, tg__errno_str(errno, msg, sizeof msg));
    struct stat sb;
    tg_status st = TG_OK;
    void *addr = MAP_FAILED;
    if (fstat(fd, &sb) != 0)
        st = tg__error(TG_ERR_IO, "%s: cannot stat '%s': %s", fn, path, tg__errno_str(errno, msg, sizeof msg));
    else if (!S_ISREG(sb.st_mode))
        st = tg__error(TG_ERR_IO, "%s: '%s' is not a regular file", fn, path);
    else if (sb.st_size < MAGIC_LEN + 2 || (uintmax_t)sb.st_size > SIZE_MAX)
        st = tg__error(TG_ERR_IO, "%s: '%s' is %s", fn, path, sb.st_size < MAGIC_LEN + 2 ? "truncated" : "too large");
    else if ((addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
        st = tg__error(TG_ERR_IO, "%s: cannot map '%s': %s", fn, path, tg__errno_str(errno, msg, sizeof msg));
    close(fd);
    if (st != TG_OK)
        return st;
    npy_header h;
    if (parse_npy(fn, path, addr, (size_t)sb.st_size, &h) != TG_OK || check_mappable(path, &h) != TG_OK) {
        munmap(addr, (size_t)sb.st_size);
        return tg_last_status();
    }
    posix_madvise(addr, (size_t)sb.st_size, POSIX_MADV_SEQUENTIAL);
    v->data = (const double *)(const void *)((const unsigned char *)addr + h.data_offset);
    v->ndim = h.ndim;
    memcpy(v->shape, h.shape, sizeof v->shape);
    v->map_ = addr;
    v->map_len_ = (size_t)sb.st_size;
    return TG_OK;
}

void tg_npy_view_close(tg_npy_view *v)
{
    if (!v || !v->map_)
        return;
    munmap(v->map_, v->map_len_);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------------ save */

/* The header numpy.save writes for '<f8' C order: the dict, spare spaces for
** growing the first axis, padding to 64 bytes and '\n'.  Returns its length
** (prefix included) written to buf, or 0 when it does not fit in cap. */
static size_t make_header(const tg_tensor *t, unsigned char *buf, size_t cap)
{
    char dict[400], shape[TG_MAX_DIMS * 24 + 4];
    size_t n = 0;
    n += (size_t)snprintf(shape + n, sizeof shape - n, "(");
    for (int i = 0; i < t->ndim; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, i ? ", %lld" : "%lld",
                              (long long)t->shape[i]);
    snprintf(shape + n, sizeof shape - n, t->ndim == 1 ? ",)" : ")");
    int len = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }",
                       shape);
    if (t->ndim > 0) {
        char first[24];
        int pad = GROWTH_DIGITS - snprintf(first, sizeof first, "%lld", (long long)t->shape[0]);
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%*s", pad > 0 ? pad : 0, "");
    }
    size_t hlen = (size_t)len + 1;
    int major = MAGIC_LEN + 2 + 2 + hlen > 65535 + 10 ? 2 : 1;
    size_t prefix = major == 1 ? 10 : 12, total = prefix + hlen;
    total += 64 - total % 64;   /* as numpy: a full 64 when already aligned */
    if (total > cap)
        return 0;
    size_t body = total - prefix;
    memcpy(buf, MAGIC, MAGIC_LEN);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++)
        buf[8 + i] = (unsigned char)(body >> (8 * i));
    memset(buf + prefix, ' ', body);
    memcpy(buf + prefix, dict, (size_t)len);
    buf[total - 1] = '\n';
    return total;
}

/* The data as '<f8': straight from t on a little-endian host. */
static bool write_data(tg__atomic *w, const tg_tensor *t)
{
    if (host_little())
        return tg__atomic_write(w, t->data, (size_t)t->numel * sizeof(double));
    unsigned char chunk[4096];
    for (int64_t i = 0; i < t->numel;) {
        size_t k = 0;
        for (; k < sizeof chunk / 8 && i < t->numel; k++, i++) {
            uint64_t v;
            memcpy(&v, &t->data[i], 8);
            for (int j = 0; j < 8; j++)
                chunk[k * 8 + (size_t)j] = (unsigned char)(v >> (8 * j));
        }
        if (!tg__atomic_write(w, chunk, k * 8))
            return false;
    }
    return true;
}

tg_status tg_save_npy(const tg_tensor *t, const char *path)
{
    tg_status st = tg__check_live("tg_save_npy", "t", t);
    if (st != TG_OK)
        return st;
    if (!path)
        return tg__null_arg("tg_save_npy", "path");
    unsigned char head[1024];
    size_t hn = make_header(t, head, sizeof head);
    TG_ASSERT(hn > 0);
    tg__atomic w;   /* a temporary renamed over path: the old file or the new one, never half */
    if ((st = tg__atomic_open("tg_save_npy", path, &w)) != TG_OK)
        return st;
    if (tg__atomic_write(&w, head, hn))
        write_data(&w, t);
    return tg__atomic_commit("tg_save_npy", &w);
}
