/*
** CSV reading: chosen numeric columns of a delimited text file into a
** [rows, n_cols] tensor.  The file is mapped (or read) whole and walked once
** in place: fields are spans of the file, a needed cell is copied into a stack
** buffer for strtod, nothing is allocated per cell or per row.  RFC 4180
** basics: quoted fields may hold delimiters, newlines and doubled quotes;
** lines end in LF, CRLF or CR; blank lines are skipped; a UTF-8 byte-order
** mark is skipped.  Errors give "path:line:column" (1-based line of the file,
** 1-based field number).  I/O layer, on top of core.
*/
#define _POSIX_C_SOURCE 200809L

#include "io.h"

#include <string.h>

#define CELL_MAX 512                  /* longest numeric cell, spaces trimmed */
#define MAX_FIELDS ((int64_t)1 << 20)
#define FN "tg_load_csv"

enum { END_DELIM, END_LINE, END_FILE };

typedef struct csv {
    const char *path;
    const unsigned char *p, *end;
    unsigned char delim;
    int64_t line;                     /* line of p, 1-based */
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
    bool *need;                       /* [n_fields]: some column reads this field */
    int64_t *src;                     /* [n_cols]: field index of output column k */
    double *vals;                     /* [n_fields]: the needed cells of one row */
} layout;

static bool blank(unsigned char ch, unsigned char delim)
{
    return (ch == ' ' || ch == '\t') && ch != delim;
}

/* "path:line:column: what"; col 0 leaves the column out. */
static tg_status csv_error(const csv *r, int64_t line, int64_t col, const char *what)
{
    if (col <= 0)
        return tg__error(TG_ERR_IO, FN ": %s:%lld: %s", r->path, (long long)line, what);
    return tg__error(TG_ERR_IO, FN ": %s:%lld:%lld: %s", r->path, (long long)line,
                     (long long)col, what);
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
    f->line = r->line;
    f->quoted = false;
    const unsigned char *q = p;
    while (q < e && blank(*q, r->delim))
        q++;
    if (q < e && *q == '"') {
        tg_status st = quoted_field(r, f, q, col);
        if (st != TG_OK)
            return st;
    } else {
        while (p < e && *p != r->delim && *p != '\n' && *p != '\r')
            p++;
        f->s = r->p;
        f->n = (size_t)(p - r->p);
        r->p = p;
    }
    if (r->p >= e) {
        f->end = END_FILE;
    } else if (*r->p == r->delim) {
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

/* Clinger's fast path: a decimal with at most 19 digits whose value w fits in
** 2^53 and a power of ten up to 10^22 is w * 10^e or w / 10^e, one correctly
** rounded IEEE operation, so the result equals strtod's.  Anything else
** (more digits, larger exponents, hex, nan, inf) returns false for strtod. */
static bool fast_decimal(const char *s, size_t n, double *out)
{
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s, *e = s + n;
    bool neg = p < e && *p == '-';
    p += p < e && (*p == '-' || *p == '+');
    uint64_t w = 0;
    int digits = 0, scale = 0;
    bool any = false;
    for (; p < e && *p >= '0' && *p <= '9'; p++, any = true)
        if ((w = w * 10 + (uint64_t)(*p - '0')) != 0 && ++digits > 19)
            return false;
    if (p < e && *p == '.')
        for (p++; p < e && *p >= '0' && *p <= '9'; p++, any = true, scale--)
            if ((w = w * 10 + (uint64_t)(*p - '0')) != 0 && ++digits > 19)
                return false;
    if (!any)
        return false;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = p < e && *p == '-';
        p += p < e && (*p == '-' || *p == '+');
        int x = 0;
        if (p == e)
            return false;
        for (; p < e && *p >= '0' && *p <= '9' && x < 1000; p++)
            x = x * 10 + (*p - '0');
        scale += eneg ? -x : x;
    }
    if (p != e || w > ((uint64_t)1 << 53) || scale < -22 || scale > 22)
        return false;
    double v = (double)w;
    v = scale < 0 ? v / pow10[-scale] : v * pow10[scale];
    *out = neg ? -v : v;
    return true;
}

static tg_status parse_cell(const csv *r, const layout *L, const field *f, int64_t j, double *out)
{
    char buf[CELL_MAX], name[24], msg[CELL_MAX + 96];
    size_t n = cell_text(f, r->delim, buf, sizeof buf);
    char *endp = buf;
    if (n > 0 && n < sizeof buf && fast_decimal(buf, n, out))
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
        snprintf(msg, sizeof msg, "column '%.100s': cannot read '%.60s%s' as a number", col, buf,
                 n > 60 ? "..." : "");
    return csv_error(r, f->line, j + 1, msg);
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

/* One data row into row[0..n_cols) through L. */
static tg_status read_row(csv *r, const layout *L, int n_cols, double *row)
{
    int64_t line = r->line, j = 0;
    field f;
    do {
        tg_status st = next_field(r, &f, j + 1);
        if (st != TG_OK)
            return st;
        if (j < L->n_fields && L->need[j] && (st = parse_cell(r, L, &f, j, &L->vals[j])) != TG_OK)
            return st;
        j++;
    } while (f.end == END_DELIM);
    if (j != L->n_fields) {
        char msg[128];
        snprintf(msg, sizeof msg, "row has %lld fields, expected %lld as on the first line",
                 (long long)j, (long long)L->n_fields);
        return csv_error(r, line, (j < L->n_fields ? j : L->n_fields) + 1, msg);
    }
    for (int k = 0; k < n_cols; k++)
        row[k] = L->vals[L->src[k]];
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
        out += cell_text(&f, r->delim, out, text) + 1;
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
    char msg[700], list[500];
    if (L->names) {
        for (*j = 0; *j < L->n_fields; ++*j)
            if (strcmp(L->names[*j], col) == 0)
                return TG_OK;
        snprintf(msg, sizeof msg, "no column '%.80s'; the header has %s", col,
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
                 "fields", col, (long long)L->n_fields);
    else
        snprintf(msg, sizeof msg, "column '%.80s' is not a 0-based index (the file has no "
                 "header)", col);
    return csv_error(r, L->first_line, 0, msg);
}

static tg_status make_layout(csv *r, layout *L, int n_cols, const char *const *columns,
                             bool header)
{
    L->first_line = r->line;
    tg_status st = header ? read_header(r, L) : count_fields(r, &L->n_fields);
    if (st != TG_OK)
        return st;
    L->need = tg__calloc((size_t)L->n_fields, sizeof *L->need);
    L->src = tg__malloc((size_t)n_cols * sizeof *L->src);
    L->vals = tg__malloc((size_t)L->n_fields * sizeof *L->vals);
    if (!L->need || !L->src || !L->vals)
        return tg__error(TG_ERR_NOMEM, FN ": out of memory for the columns of '%s'", r->path);
    for (int k = 0; k < n_cols; k++) {
        if ((st = find_column(r, L, columns[k], &L->src[k])) != TG_OK)
            return st;
        L->need[L->src[k]] = true;
    }
    return TG_OK;
}

/* Lines from r->p to the end: an upper bound of the rows left. */
static int64_t count_lines(const csv *r)
{
    int64_t n = 0;
    const unsigned char *p = r->p;
    while (p < r->end && (p = memchr(p, '\n', (size_t)(r->end - p))) != NULL) {
        n++;
        p++;
    }
    return n + (r->p < r->end && r->end[-1] != '\n');
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

static tg_tensor *read_rows(csv *r, const layout *L, int n_cols)
{
    int64_t cap = count_lines(r), rows = 0;
    tg_tensor *t = tg__tensor_new(FN, 2, (int64_t[]){cap, n_cols});
    tg_status st = t ? TG_OK : tg_last_status();
    while (st == TG_OK && next_row(r)) {
        if (rows == cap)   /* lone CR line ends escaped the count */
            st = resize(&t, cap = cap * 2 + 16, n_cols, rows);
        if (st == TG_OK)
            st = read_row(r, L, n_cols, t->data + rows++ * n_cols);
    }
    if (st == TG_OK && rows != cap)
        st = resize(&t, rows, n_cols, rows);
    if (st != TG_OK) {
        tg__tensor_unref(t);
        return NULL;
    }
    return t;
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
    return (tg_csv_opts){.delimiter = ',', .header = true};
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
    csv r = {path, data, data + f.size, o.delimiter ? (unsigned char)o.delimiter : ',', 1};
    layout L = {0};
    tg_tensor *t = NULL;
    if (f.size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r.p += 3;   /* UTF-8 byte-order mark */
    if (!next_row(&r))
        tg__error(TG_ERR_IO, FN ": %s:%lld: empty file: no %s", path, (long long)r.line,
                  o.header ? "header" : "rows");
    else if (make_layout(&r, &L, n_cols, columns, o.header) == TG_OK)
        t = read_rows(&r, &L, n_cols);
    tg__free(L.names);
    tg__free(L.need);
    tg__free(L.src);
    tg__free(L.vals);
    tg__file_close(&f);
    return t ? tg__adopt(t) : NULL;
}
