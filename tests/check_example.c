/* SPDX-License-Identifier: MIT */
/*
** Checks an example's output against PyTorch's, line by line.
**
**     polynomial_autograd | check_example tests/data/examples/polynomial_autograd.txt
**
** argv[1] is a reference written by tests/reference/make_examples_reference.py:
** text lines `key v1 v2 ...`, `#` comments.  Every line whose key does not start
** with "tol:" is an expected output line, in order: output line i must consist
** of the same whitespace-separated tokens as reference line i (its key first).
** A reference token that is a number (strtod consumes all of it) must meet a
** number within |actual - expected| <= atol + rtol * |expected|; any other token
** must be equal as text.  Output lines starting with `#` are commentary (an
** error message an example shows, say) and are skipped.  Tolerances come from
** `tol:KEY rtol atol` for the line with that key, else from `tol:* rtol atol`,
** which every reference must have.
**
** Every mismatch, missing or unexpected line is printed; the exit status is 1 if
** there was any, else 0, and the summary names the worst relative difference.
** A plain program, independent of the library it checks.
*/
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 512
#define MAX_TOKENS 64
#define LINE_CAP 2048
#define SEP " \t\r\n"

typedef struct line {
    int n;                        /* tokens, the key first */
    char *tok[MAX_TOKENS];
    char buf[LINE_CAP];
} line;

typedef struct tolerance { char key[128]; double rtol, atol; } tolerance;

typedef struct reference {
    int n_lines, n_tols;
    line lines[MAX_LINES];
    tolerance tols[MAX_LINES];
} reference;

/* Splits text (copied into l) into tokens; false when it does not fit. */
static bool split(const char *text, line *l)
{
    if (strlen(text) >= LINE_CAP) return false;
    strcpy(l->buf, text);
    l->n = 0;
    for (char *tok = strtok(l->buf, SEP); tok; tok = strtok(NULL, SEP)) {
        if (l->n == MAX_TOKENS) return false;
        l->tok[l->n++] = tok;
    }
    return true;
}

static bool is_number(const char *tok, double *v)
{
    char *end;
    *v = strtod(tok, &end);
    return end != tok && *end == '\0';
}

static bool load_reference(const char *path, reference *ref)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "check_example: cannot open %s\n", path);
        return false;
    }
    char text[LINE_CAP];
    bool ok = true;
    ref->n_lines = ref->n_tols = 0;
    while (ok && fgets(text, sizeof text, fp)) {
        line *l = &ref->lines[ref->n_lines];
        ok = strchr(text, '\n') && split(text, l);
        if (!ok || l->n == 0 || l->tok[0][0] == '#') continue;
        if (strncmp(l->tok[0], "tol:", 4) == 0) {
            tolerance *t = &ref->tols[ref->n_tols++];
            ok = l->n == 3 && strlen(l->tok[0] + 4) < sizeof t->key && is_number(l->tok[1], &t->rtol)
                 && is_number(l->tok[2], &t->atol);
            if (ok) strcpy(t->key, l->tok[0] + 4);
        } else {
            ok = ++ref->n_lines < MAX_LINES;
        }
    }
    fclose(fp);
    if (!ok) fprintf(stderr, "check_example: %s: malformed or too long line: %s", path, text);
    return ok;
}

static const tolerance *find_tol(const reference *ref, const char *key)
{
    const tolerance *fallback = NULL;
    for (int i = 0; i < ref->n_tols; i++) {
        if (strcmp(ref->tols[i].key, key) == 0) return &ref->tols[i];
        if (strcmp(ref->tols[i].key, "*") == 0) fallback = &ref->tols[i];
    }
    return fallback;
}

typedef struct stats { int numbers; double worst; char worst_key[128]; } stats;

/* Compares one output line with its reference line; returns the mismatches. */
static int compare(const line *out, const line *exp, const tolerance *tol, int lineno, stats *st)
{
    if (out->n != exp->n || strcmp(out->tok[0], exp->tok[0]) != 0) {
        printf("line %d: expected a '%s' line of %d tokens, got '%s' with %d\n", lineno,
               exp->tok[0], exp->n, out->n ? out->tok[0] : "", out->n);
        return 1;
    }
    int errors = 0;
    for (int k = 1; k < exp->n; k++) {
        double e, a;
        if (!is_number(exp->tok[k], &e)) {
            if (strcmp(out->tok[k], exp->tok[k]) == 0) continue;
            printf("line %d ('%s') token %d: '%s', expected '%s'\n", lineno, exp->tok[0], k,
                   out->tok[k], exp->tok[k]);
            errors++;
            continue;
        }
        if (!is_number(out->tok[k], &a)) {
            printf("line %d ('%s') token %d: '%s' is not a number (expected %s)\n", lineno,
                   exp->tok[0], k, out->tok[k], exp->tok[k]);
            errors++;
            continue;
        }
        double err = fabs(a - e), rel = e != 0 ? err / fabs(e) : (err == 0 ? 0 : INFINITY);
        st->numbers++;
        if (rel > st->worst || isnan(rel)) {
            st->worst = rel;
            snprintf(st->worst_key, sizeof st->worst_key, "%s", exp->tok[0]);
        }
        if (err <= tol->atol + tol->rtol * fabs(e)) continue;   /* false for NaN */
        printf("line %d ('%s') value %d: %.17g, expected %.17g (abs err %.3g, rel err %.3g; "
               "rtol %g atol %g)\n", lineno, exp->tok[0], k, a, e, err, rel, tol->rtol, tol->atol);
        errors++;
    }
    return errors;
}

int main(int argc, char **argv)
{
    static reference ref;
    static line out;
    if (argc != 2) {
        fprintf(stderr, "usage: <example> | %s reference.txt\n", argv[0]);
        return 2;
    }
    if (!load_reference(argv[1], &ref)) return 1;

    stats st = {0, -1, ""};
    int errors = 0, lineno = 0;
    char text[LINE_CAP];
    int skipped = 0;
    while (fgets(text, sizeof text, stdin)) {
        if (text[0] == '#') {
            skipped++;
            continue;
        }
        lineno++;
        if (!strchr(text, '\n') || !split(text, &out)) {
            printf("line %d: too long or without newline\n", lineno);
            errors++;
        } else if (lineno > ref.n_lines) {
            printf("line %d: unexpected: %s", lineno, text);
            errors++;
        } else {
            const line *exp = &ref.lines[lineno - 1];
            const tolerance *tol = find_tol(&ref, exp->tok[0]);
            if (!tol) {
                fprintf(stderr, "check_example: %s has no tol:* line\n", argv[1]);
                return 1;
            }
            errors += compare(&out, exp, tol, lineno, &st);
        }
    }
    for (int i = lineno; i < ref.n_lines; i++) {
        printf("missing line %d: '%s ...'\n", i + 1, ref.lines[i].tok[0]);
        errors++;
    }
    if (errors) {
        printf("check_example: FAILED, %d mismatch%s against %s\n", errors, errors == 1 ? "" : "es",
               argv[1]);
        return 1;
    }
    printf("check_example: OK, %d lines and %d numbers match %s; worst rel err %.3g (line '%s')%s\n",
           ref.n_lines, st.numbers, argv[1], st.worst, st.worst_key, skipped ? "; # lines skipped" : "");
    return 0;
}
