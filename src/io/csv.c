/* SPDX-License-Identifier: MIT */
/*
** CSV reading: chosen numeric columns of a delimited text file into a
** [rows, n_cols] tensor.  The file is mapped (or standard input read) whole
** and walked in place: fields are spans of the file, numbers are parsed
** straight from the span (fastfloat.c, strtod's bits), nothing is allocated
** per cell or per row.  RFC 4180 basics: quoted fields may hold delimiters,
** newlines and doubled quotes; lines end in LF, CRLF or CR; blank lines are
** skipped; a UTF-8 byte-order mark is skipped.  Errors give
** "path:line:column" (1-based line of the file, 1-based field number), with
** the file's bytes escaped.
** Two passes over the rows after the header: the first cuts them into chunks
** at line ends and counts each chunk's rows and lines (exactly: a row is a
** run of bytes between line ends, so blank lines cost nothing) and checks the
** line limit; the second parses every chunk into its own rows of the result.
** Both run on the kernel threads (kernels/parallel.h); each row is parsed
** alone, so the result does not depend on the thread count, and the error
** reported is the first in the file.  A file with a '"' after its header is
** parsed on one thread, since a quoted field may hold a line end.  I/O layer,
** on top of core.
*/
#define _POSIX_C_SOURCE 200809L

#include "io.h"

#include <stdatomic.h>
#include <string.h>

#include "kernels/parallel.h"

#define CELL_MAX 512                  /* longest numeric cell, spaces trimmed */
#define MAX_FIELDS ((int64_t)1 << 20)
#define MAX_CHUNKS 4096
#define ERR_MAX 768
#define FN "tg_load_csv"

enum { END_DELIM, END_LINE, END_FILE };

static _Atomic size_t chunk_bytes = (size_t)1 << 20;

typedef struct csv {
    const char *path;
    const unsigned char *p, *end;
    unsigned char delim;
    int64_t line;                     /* line of p, 1-based */
    char *err;                        /* ERR_MAX bytes: the message of a TG_ERR_IO */
} csv;

typedef struct field {
    const unsigned char *s;           /* content, inside the quotes when quoted */
    size_t n;
    bool quoted;
    int64_t line;                     /* line where the field starts */
    int end;                          /* what ended it: END_DELIM / END_LINE / END_FILE */
} field;

/* What the rows are read into. */
typedef struct layout {
    int64_t n_fields;                 /* fields per row */
    int64_t first_line;               /* line of the header, or of the first row */
    char **names;                     /* header names (NULL without header) */
    int *first;                       /* [n_fields]: first output column of the field, or -1 */
    int *next;                        /* [n_cols]: next output column of the same field, or -1 */
} layout;

static bool blank(unsigned char ch, unsigned char delim)
{
    return (ch == ' ' || ch == '\t') && ch != delim;
}

/* s[0..n) for a message: printable ASCII and well-formed UTF-8 as they are,
** other bytes (controls, NUL, C1 controls, broken UTF-8) as \xNN; at most
** about cap - 8 bytes, cut with "...". */
static const char *escaped(const unsigned char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 8 >= cap) {
            memcpy(out + o, "...", 4);
            return out;
        }
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len == 1 ? c >= 0x20 && c != 0x7F : len > 1 && i + len <= n && c >= 0xC2;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xC0) == 0x80;
        if (ok && len == 2 && c == 0xC2 && s[i + 1] < 0xA0)
            ok = false;   /* U+0080..U+009F: C1 controls */
        if (ok && o + len + 8 >= cap) {
            memcpy(out + o, "...", 4);
            return out;
        }
        if (!ok) {
            snprintf(out + o, cap - o, "\\x%02x", c);
            o += 4;
            continue;
        }
        memcpy(out + o, s + i, len);
        o += len;
        i += len - 1;
    }
    out[o] = '\0';
    return out;
}

/* "path:line:column: what" into r->err; col 0 leaves the column out. */
static tg_status csv_error(const csv *r, int64_t line, int64_t col, const char *what)
{
    if (col <= 0)
        snprintf(r->err, ERR_MAX, FN ": %s:%lld: %s", r->path, (long long)line, what);
    else
        snprintf(r->err, ERR_MAX, FN ": %s:%lld:%lld: %s", r->path, (long long)line,
                 (long long)col, what);
    return TG_ERR_IO;
}

/* Consumes the line end at r->p (LF, CRLF or CR). */
static void eat_eol(csv *r)
{
    if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n')
        r->p++;
    r->p++;
    r->line++;
}

static tg_status quoted_field(csv *r, field *f, const unsigned char *q, int64_t col)
{
    const unsigned char *p = q + 1, *e = r->end;
    f->quoted = true;
    f->s = p;
    for (;; p++) {
        if (p >= e)
            return csv_error(r, f->line, col, "quoted field never closed");
        if (*p == '"') {
            if (p + 1 < e && p[1] == '"') {
                p++;
                continue;
            }
            break;
        }
        if (*p == '\n' || (*p == '\r' && !(p + 1 < e && p[1] == '\n')))
            r->line++;
    }
    f->n = (size_t)(p - f->s);
    for (p++; p < e && blank(*p, r->delim); p++)
        ;
    r->p = p;
    if (p < e && *p != r->delim && *p != '\n' && *p != '\r')
        return csv_error(r, r->line, col, "unexpected text after a closing quote");
    return TG_OK;
}

/* The field at r->p (column col, for messages) and what ends it. */
static tg_status next_field(csv *r, field *f, int64_t col)
{
    const unsigned char *p = r->p, *e = r->end;
    const unsigned char d = r->delim;
    f->line = r->line;
    f->quoted = false;
    const unsigned char *q = p;
    while (q < e && blank(*q, d))
        q++;
    if (q < e && *q == '"') {
        tg_status st = quoted_field(r, f, q, col);
        if (st != TG_OK)
            return st;
    } else {
        while (p < e && *p != d && *p != '\n' && *p != '\r')
            p++;
        f->s = r->p;
        f->n = (size_t)(p - r->p);
        r->p = p;
    }
    if (r->p >= e) {
        f->end = END_FILE;
    } else if (*r->p == d) {
        f->end = END_DELIM;
        r->p++;
    } else {
        f->end = END_LINE;
        eat_eol(r);
    }
    return TG_OK;
}

/* Skips blank lines; false at the end of the file. */
static bool next_row(csv *r)
{
    while (r->p < r->end && (*r->p == '\n' || *r->p == '\r'))
        eat_eol(r);
    return r->p < r->end;
}

/* Copies a field without surrounding blanks, quotes undoubled, into buf (cap
** bytes, NUL-terminated).  Returns its length, or cap when it does not fit. */
static size_t cell_text(const field *f, unsigned char delim, char *buf, size_t cap)
{
    const unsigned char *s = f->s, *e = f->s + f->n;
    while (s < e && blank(*s, delim))
        s++;
    while (e > s && blank(e[-1], delim))
        e--;
    size_t n = 0;
    for (; s < e; s++) {
        if (n + 1 >= cap)
            return cap;
        buf[n++] = (char)*s;
        if (f->quoted && *s == '"')
            s++;   /* "" stands for one quote */
    }
    buf[n] = '\0';
    return n;
}

/* The name of field j for messages: the header's, or its index. */
static const char *field_name(const layout *L, int64_t j, char *buf, size_t cap)
{
    if (L->names)
        return L->names[j];
    snprintf(buf, cap, "%lld", (long long)j);
    return buf;
}

/* The cell through strtod (quoted, odd or refused by the fast parser), or
** the error naming it. */
static TG_COLD tg_status slow_cell(const csv *r, const layout *L, const field *f, int64_t j,
                                   double *out)
{
    char buf[CELL_MAX], name[24], msg[CELL_MAX + 96], text[260];
    size_t n = cell_text(f, r->delim, buf, sizeof buf);
    char *endp = buf;
    if (n > 0 && n < sizeof buf && tg__parse_double(buf, n, out))
        return TG_OK;
    if (n > 0 && n < sizeof buf) {
        *out = strtod(buf, &endp);
        if (endp == buf + n)
            return TG_OK;
    }
    const char *col = field_name(L, j, name, sizeof name);
    if (n == 0)
        snprintf(msg, sizeof msg, "column '%.100s': empty cell, expected a number", col);
    else
        snprintf(msg, sizeof msg, "column '%.100s': cannot read '%s' as a number", col,
                 escaped((const unsigned char *)buf, n < sizeof buf ? n : sizeof buf - 1, text,
                         72));
    return csv_error(r, f->line, j + 1, msg);
}

static tg_status parse_cell(const csv *r, const layout *L, const field *f, int64_t j, double *out)
{
    const unsigned char *s = f->s, *e = f->s + f->n;
    if (!f->quoted) {
        while (s < e && blank(*s, r->delim))
            s++;
        while (e > s && blank(e[-1], r->delim))
            e--;
        if (s < e && tg__parse_double((const char *)s, (size_t)(e - s), out))
            return TG_OK;
    }
    return slow_cell(r, L, f, j, out);
}

/* Counts the fields of the row at r->p without moving r. */
static tg_status count_fields(const csv *r, int64_t *n)
{
    csv c = *r;
    field f;
    *n = 0;
    do {
        tg_status st = next_field(&c, &f, *n + 1);
        if (st != TG_OK)
            return st;
        if (++*n > MAX_FIELDS)
            return csv_error(r, r->line, *n, "more than 2^20 fields in a row");
    } while (f.end == END_DELIM);
    return TG_OK;
}

/* A plain number at r->p followed by blanks and the field's end: parsed in
** the same pass, r moved past the field (f->end set); false leaves r alone. */
static bool quick_cell(csv *r, field *f, double *out)
{
    const unsigned char *p = r->p, *e = r->end;
    const unsigned char d = r->delim;
    while (p < e && blank(*p, d))
        p++;
    const char *t = tg__parse_number((const char *)p, (const char *)e, out);
    if (!t || t - (const char *)p >= CELL_MAX)
        return false;   /* the slow path refuses cells over CELL_MAX - 1 bytes */
    for (p = (const unsigned char *)t; p < e && blank(*p, d); p++)
        ;
    if (p < e && *p != d && *p != '\n' && *p != '\r')
        return false;
    r->p = p;
    if (p == e) {
        f->end = END_FILE;
    } else if (*p == d) {
        f->end = END_DELIM;
        r->p++;
    } else {
        f->end = END_LINE;
        eat_eol(r);
    }
    return true;
}

/* One data row into row[0..n_cols) through L. */
static tg_status read_row(csv *r, const layout *L, double *row)
{
    int64_t line = r->line, j = 0;
    field f;
    do {
        int k0 = j < L->n_fields ? L->first[j] : -1;
        if (k0 >= 0 && quick_cell(r, &f, &row[k0])) {
            for (int k2 = L->next[k0]; k2 >= 0; k2 = L->next[k2])
                row[k2] = row[k0];
            j++;
            continue;
        }
        tg_status st = next_field(r, &f, j + 1);
        if (st != TG_OK)
            return st;
        int k = j < L->n_fields ? L->first[j] : -1;
        if (k >= 0) {
            if ((st = parse_cell(r, L, &f, j, &row[k])) != TG_OK)
                return st;
            for (int k2 = L->next[k]; k2 >= 0; k2 = L->next[k2])
                row[k2] = row[k];
        }
        j++;
    } while (f.end == END_DELIM);
    if (j != L->n_fields) {
        char msg[128];
        snprintf(msg, sizeof msg, "row has %lld fields, expected %lld as on the first line",
                 (long long)j, (long long)L->n_fields);
        return csv_error(r, line, (j < L->n_fields ? j : L->n_fields) + 1, msg);
    }
    return TG_OK;
}

/* A header name (n bytes, trimmed and unquoted) may not hold a control byte:
** NUL, a line end, an escape; the message shows it escaped. */
static tg_status check_name(const csv *r, const field *f, const char *name, size_t n,
                            int64_t col)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7F) {
            char msg[400], text[260];
            snprintf(msg, sizeof msg, "header name '%s' holds the control byte 0x%02x",
                     escaped((const unsigned char *)name, n, text, 72), c);
            return csv_error(r, f->line, col, msg);
        }
    }
    return TG_OK;
}

/* The header row's names, unquoted and trimmed, in one block. */
static tg_status read_header(csv *r, layout *L)
{
    tg_status st = count_fields(r, &L->n_fields);
    if (st != TG_OK)
        return st;
    const unsigned char *row = r->p;
    csv c = *r;
    field f;
    do
        next_field(&c, &f, 1);
    while (f.end == END_DELIM);
    size_t text = (size_t)(c.p - row) + (size_t)L->n_fields;
    L->names = tg__malloc((size_t)L->n_fields * sizeof(char *) + text);
    if (!L->names)
        return tg__error(TG_ERR_NOMEM, FN ": out of memory for the header of '%s'", r->path);
    char *out = (char *)(L->names + L->n_fields);
    for (int64_t j = 0; j < L->n_fields; j++) {
        next_field(r, &f, j + 1);
        L->names[j] = out;
        size_t n = cell_text(&f, r->delim, out, text);
        if ((st = check_name(r, &f, out, n, j + 1)) != TG_OK)
            return st;
        out += n + 1;
    }
    return TG_OK;
}

/* "'x', 'y', 'z'" into buf, cut with "..." when long. */
static const char *name_list(const layout *L, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int64_t j = 0; j < L->n_fields && n + 1 < cap; j++) {
        int w = snprintf(buf + n, cap - n, "%s'%s'", j ? ", " : "", L->names[j]);
        n += w > 0 ? (size_t)w : 0;
    }
    if (n + 1 >= cap)
        memcpy(buf + cap - 4, "...", 4);
    return buf;
}

/* Field index of a requested column: a header name, or a decimal index. */
static tg_status find_column(const csv *r, const layout *L, const char *col, int64_t *j)
{
    char msg[700], list[500], text[100];
    const char *shown = escaped((const unsigned char *)col, strlen(col), text, 88);
    if (L->names) {
        for (*j = 0; *j < L->n_fields; ++*j)
            if (strcmp(L->names[*j], col) == 0)
                return TG_OK;
        snprintf(msg, sizeof msg, "no column '%s'; the header has %s", shown,
                 name_list(L, list, sizeof list));
        return csv_error(r, L->first_line, 0, msg);
    }
    char *endp;
    long long v = strtoll(col, &endp, 10);
    bool digits = col[0] >= '0' && col[0] <= '9' && *endp == '\0';
    if (digits && v < L->n_fields) {
        *j = v;
        return TG_OK;
    }
    if (digits)
        snprintf(msg, sizeof msg, "column index %.40s is out of range: the first row has %lld "
                 "fields", shown, (long long)L->n_fields);
    else
        snprintf(msg, sizeof msg, "column '%s' is not a 0-based index (the file has no "
                 "header)", shown);
    return csv_error(r, L->first_line, 0, msg);
}

static tg_status make_layout(csv *r, layout *L, int n_cols, const char *const *columns,
                             bool header)
{
    L->first_line = r->line;
    tg_status st = header ? read_header(r, L) : count_fields(r, &L->n_fields);
    if (st != TG_OK)
        return st;
    L->first = tg__malloc((size_t)L->n_fields * sizeof *L->first);
    L->next = tg__malloc((size_t)n_cols * sizeof *L->next);
    if (!L->first || !L->next)
        return tg__error(TG_ERR_NOMEM, FN ": out of memory for the columns of '%s'", r->path);
    for (int64_t j = 0; j < L->n_fields; j++)
        L->first[j] = -1;
    for (int k = n_cols - 1; k >= 0; k--) {   /* backwards: each list in column order */
        int64_t j;
        if ((st = find_column(r, L, columns[k], &j)) != TG_OK)
            return st;
        L->next[k] = L->first[j];
        L->first[j] = k;
    }
    return TG_OK;
}

/* ------------------------------------------------------------- the rows */

/* A slice of the rows, cut just after a '\n' (or at the end). */
typedef struct chunk {
    const unsigned char *begin, *end;
    int64_t rows;                     /* runs of bytes between line ends */
    int64_t lines;                    /* line ends: LF, CRLF, lone CR */
    int64_t long_line;                /* first line (of the chunk, 0-based) over the limit, or -1 */
    bool quote;                       /* holds a '"' */
    int64_t row0, line0;              /* its first output row and file line */
} chunk;

/* The first error of one thread's chunks. */
typedef struct failure {
    int64_t at;                       /* chunk index, INT64_MAX when none */
    tg_status st;
    char err[ERR_MAX];
} failure;

typedef struct job {
    const csv *r;
    const layout *L;
    chunk *c;
    int64_t n_chunks;
    size_t max_line;
    double *out;
    int n_cols;
    failure *fail;                    /* [team] */
} job;

/* Pass 1 over one chunk with lone CRs: byte by byte. */
static void count_bytes(chunk *c, size_t max_line)
{
    const unsigned char *p = c->begin, *e = c->end;
    int64_t rows = 0, lines = 0;
    size_t run = 0;
    for (; p < e; p++) {
        unsigned char ch = *p;
        if (ch != '\n' && ch != '\r') {
            run++;
            continue;
        }
        if (run > max_line && c->long_line < 0)
            c->long_line = lines;
        rows += run > 0;
        run = 0;
        lines += !(ch == '\r' && p + 1 < e && p[1] == '\n');
    }
    if (run > max_line && c->long_line < 0)
        c->long_line = lines;
    c->rows = rows + (run > 0);
    c->lines = lines;
}

/* Pass 1 over one chunk: rows, lines, the line limit, quotes.  Lines are
** found by memchr unless the chunk holds a CR that does not end in LF. */
static void count_chunk(chunk *c, size_t max_line)
{
    const unsigned char *p = c->begin, *e = c->end, *cr;
    size_t n = (size_t)(e - p);
    c->long_line = -1;
    c->quote = memchr(p, '"', n) != NULL;
    bool crlf = false;
    for (const unsigned char *s = p; (cr = memchr(s, '\r', (size_t)(e - s))) != NULL; s = cr + 1) {
        if (cr + 1 == e || cr[1] != '\n') {
            count_bytes(c, max_line);
            return;
        }
        crlf = true;
    }
    int64_t rows = 0, lines = 0;
    while (p < e) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(e - p)), *eol = nl ? nl : e;
        size_t len = (size_t)(eol - p);
        len -= crlf && len > 0 && eol[-1] == '\r';
        if (len > max_line && c->long_line < 0)
            c->long_line = lines;
        rows += len > 0;
        if (!nl)
            break;
        lines++;
        p = nl + 1;
    }
    c->rows = rows;
    c->lines = lines;
}

static void count_slice(void *ctx, int64_t lo, int64_t hi)
{
    job *J = ctx;
    for (int64_t i = lo; i < hi; i++)
        count_chunk(&J->c[i], J->max_line);
}

/* Pass 2 over one thread's chunks: each chunk's rows into its place. */
static void parse_slice(void *ctx, int64_t lo, int64_t hi)
{
    job *J = ctx;
    failure *F = &J->fail[tg__par_worker()];
    for (int64_t i = lo; i < hi; i++) {
        chunk *c = &J->c[i];
        csv r = {J->r->path, c->begin, c->end, J->r->delim, c->line0, F->err};
        int64_t row = c->row0;
        while (next_row(&r)) {
            TG_ASSERT(row < c->row0 + c->rows);
            tg_status st = read_row(&r, J->L, J->out + row++ * J->n_cols);
            if (st != TG_OK) {
                F->st = st;
                F->at = i;
                return;
            }
        }
        c->rows = row - c->row0;   /* fewer than counted only when quotes hold line ends */
    }
}

/* Chunks of about chunk_bytes over [p, end), each ending after a '\n'. */
static int64_t cut_chunks(const unsigned char *p, const unsigned char *end, chunk *c)
{
    size_t size = (size_t)(end - p), want = chunk_bytes;
    int64_t n = (int64_t)(size / (want ? want : 1)) + 1;
    n = n > MAX_CHUNKS ? MAX_CHUNKS : n;
    const unsigned char *at = p;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *to = i + 1 == n ? end : p + (size_t)((double)size * (i + 1) / n);
        if (to < at)
            to = at;
        if (to < end && to > p && to[-1] != '\n') {
            const unsigned char *nl = memchr(to, '\n', (size_t)(end - to));
            to = nl ? nl + 1 : end;
        }
        c[i] = (chunk){.begin = at, .end = to};
        at = to;
    }
    return n;
}

/* The first failure in file order into the thread's error state. */
static tg_status first_failure(const failure *fail, int team)
{
    const failure *best = NULL;
    for (int t = 0; t < team; t++)
        if (fail[t].at != INT64_MAX && (!best || fail[t].at < best->at))
            best = &fail[t];
    return best ? tg__error(best->st, "%s", best->err) : TG_OK;
}

/* *t resized to rows rows (keeping the first min(rows, old) rows). */
static tg_status resize(tg_tensor **t, int64_t rows, int n_cols, int64_t keep)
{
    tg_tensor *n = tg__tensor_new(FN, 2, (int64_t[]){rows, n_cols});
    if (!n)
        return tg_last_status();
    if (keep > 0)
        memcpy(n->data, (*t)->data, (size_t)(keep * n_cols) * sizeof(double));
    tg__tensor_unref(*t);
    *t = n;
    return TG_OK;
}

/* Pass 1's totals: each chunk's first row and line; the line limit. */
static tg_status place_chunks(const csv *r, job *J, int64_t *rows, bool *quote)
{
    int64_t line = r->line;
    *rows = 0;
    *quote = false;
    for (int64_t i = 0; i < J->n_chunks; i++) {
        chunk *c = &J->c[i];
        if (c->long_line >= 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "line longer than %zu bytes, the limit", J->max_line);
            csv_error(r, line + c->long_line, 0, msg);
            return tg__error(TG_ERR_IO, "%s", r->err);
        }
        c->row0 = *rows;
        c->line0 = line;
        *rows += c->rows;
        line += c->lines;
        *quote |= c->quote;
    }
    return TG_OK;
}

/* Both passes over the rows from r->p: the [rows, n_cols] tensor, or NULL
** with the error set. */
static tg_tensor *read_rows(csv *r, const layout *L, int n_cols, size_t max_line)
{
    chunk *c = tg__malloc(MAX_CHUNKS * sizeof *c);
    tg_tensor *t = NULL;
    job J = {r, L, c, 0, max_line, NULL, n_cols, NULL};
    int64_t rows;
    bool quote;
    tg_status st = c ? TG_OK : tg__error(TG_ERR_NOMEM, FN ": out of memory reading '%s'", r->path);
    if (st != TG_OK)
        goto cleanup;
    J.n_chunks = cut_chunks(r->p, r->end, c);
    int team = J.n_chunks > 1 ? tg__par_team((int64_t)(r->end - r->p) / 16) : 1;
    team = team < J.n_chunks ? team : (int)J.n_chunks;
    tg__par_run(team, J.n_chunks, 1, count_slice, &J);
    if ((st = place_chunks(r, &J, &rows, &quote)) != TG_OK)
        goto cleanup;
    if (quote) {   /* a quoted field may cross chunks: one chunk, one thread */
        c[0] = (chunk){.begin = r->p, .end = r->end, .rows = rows, .line0 = r->line};
        J.n_chunks = 1;
        team = 1;
    }
    J.fail = tg__malloc((size_t)team * sizeof *J.fail);
    if (!J.fail || !(t = tg__tensor_new(FN, 2, (int64_t[]){rows, n_cols}))) {
        st = J.fail ? tg_last_status()
                    : tg__error(TG_ERR_NOMEM, FN ": out of memory reading '%s'", r->path);
        goto cleanup;
    }
    for (int i = 0; i < team; i++)
        J.fail[i].at = INT64_MAX;
    J.out = t->data;
    tg__par_run(team, J.n_chunks, 1, parse_slice, &J);
    if ((st = first_failure(J.fail, team)) == TG_OK && quote && c[0].rows != rows)
        st = resize(&t, c[0].rows, n_cols, c[0].rows);
cleanup:
    tg__free(J.fail);
    tg__free(c);
    if (st != TG_OK) {
        tg__tensor_unref(t);
        return NULL;
    }
    return t;
}

/* The line limit on the first line, before the header is read (the rows
** after it are checked by pass 1). */
static tg_status check_first_line(const csv *r, size_t max_line)
{
    size_t avail = (size_t)(r->end - r->p), n = 0;
    size_t most = avail <= max_line ? avail : max_line + 1;
    while (n < most && r->p[n] != '\n' && r->p[n] != '\r')
        n++;
    if (n <= max_line)
        return TG_OK;
    char msg[96];
    snprintf(msg, sizeof msg, "line longer than %zu bytes, the limit", max_line);
    return csv_error(r, r->line, 0, msg);
}

static tg_status check_args(int n_cols, const char *const *columns, const tg_csv_opts *o)
{
    if (n_cols < 1)
        return tg__error(TG_ERR_ARG, FN ": n_cols is %d, must be >= 1", n_cols);
    if (!columns)
        return tg__null_arg(FN, "columns");
    for (int k = 0; k < n_cols; k++)
        if (!columns[k])
            return tg__error(TG_ERR_ARG, FN ": columns[%d] is NULL", k);
    char d = o->delimiter;
    if (d == '"' || d == '\n' || d == '\r')
        return tg__error(TG_ERR_ARG, FN ": delimiter 0x%02x cannot be a quote or a line end",
                         (unsigned)(unsigned char)d);
    return TG_OK;
}

tg_csv_opts tg_csv_defaults(void)
{
    return (tg_csv_opts){.delimiter = ',', .header = true, .max_bytes = TG_CSV_MAX_BYTES,
                         .max_line_bytes = TG_CSV_MAX_LINE};
}

size_t tg__csv_chunk_bytes(size_t n)
{
    return n ? atomic_exchange(&chunk_bytes, n) : atomic_load(&chunk_bytes);
}

tg_tensor *tg_load_csv(const char *path, int n_cols, const char *const *columns,
                       const tg_csv_opts *opts)
{
    tg_csv_opts o = opts ? *opts : tg_csv_defaults();
    if (!path) {
        tg__null_arg(FN, "path");
        return NULL;
    }
    if (check_args(n_cols, columns, &o) != TG_OK)
        return NULL;
    tg__file f;
    tg__file_limits lim = {(size_t)(o.max_bytes > 0 ? o.max_bytes : TG_CSV_MAX_BYTES),
                           (size_t)(o.max_line_bytes > 0 ? o.max_line_bytes : TG_CSV_MAX_LINE),
                           true};
    if (tg__file_open(FN, path, &lim, &f) != TG_OK)
        return NULL;
    if (strcmp(path, "-") == 0)
        path = TG__STDIN_NAME;
    static const unsigned char none[1];
    const unsigned char *data = f.data ? f.data : none;
    char err[ERR_MAX] = "";
    csv r = {path, data, data + f.size, o.delimiter ? (unsigned char)o.delimiter : ',', 1, err};
    layout L = {0};
    tg_tensor *t = NULL;
    if (f.size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r.p += 3;   /* UTF-8 byte-order mark */
    tg_status st;
    if (!next_row(&r))
        tg__error(TG_ERR_IO, FN ": %s:%lld: empty file: no %s", path, (long long)r.line,
                  o.header ? "header" : "rows");
    else if ((st = check_first_line(&r, lim.max_line)) == TG_OK &&
             (st = make_layout(&r, &L, n_cols, columns, o.header)) == TG_OK)
        t = read_rows(&r, &L, n_cols, lim.max_line);
    else if (st == TG_ERR_IO)
        tg__error(TG_ERR_IO, "%s", err);
    tg__free(L.names);
    tg__free(L.first);
    tg__free(L.next);
    tg__file_close(&f);
    return t ? tg__adopt(t) : NULL;
}
