/* SPDX-License-Identifier: MIT */
/*
** Checks the output of examples/polynomial_custom_function against PyTorch.
**
**     polynomial_custom_function | check_tutorial tests/data/tutorial.txt
**
** stdin holds lines `<t> <loss>` for t = 99, 199, ..., 1999 and a final
** `Result: y = <a> + <b> * P3(<c> + <d> x)`; argv[1] is the reference written by
** tests/reference/make_reference.py (keys steps, loss, a, b, c, d).  Losses, b
** and d must agree to a relative 1e-9, a and c (zero up to rounding) to an
** absolute 1e-12.  Every mismatch, missing, repeated or unexpected line is
** printed; the exit status is 1 if there was any, else 0.  A plain program, not
** cmocka, and independent of the library it checks.
*/
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 64
#define LOSS_RTOL 1e-9
#define PARAM_ATOL 1e-12

typedef struct reference {
    int n_steps;
    double steps[MAX_STEPS], loss[MAX_STEPS];
    double abcd[4];
} reference;

/* Reads up to cap values of `key` from the reference file; returns how many
** (-1 when the key is absent). */
static int read_key(FILE *fp, const char *key, double *out, int cap)
{
    char line[8192];
    rewind(fp);
    while (fgets(line, sizeof line, fp)) {
        char *tok = strtok(line, " \t\r\n");
        if (!tok || tok[0] == '#' || strcmp(tok, key) != 0) continue;
        int n = 0;
        while ((tok = strtok(NULL, " \t\r\n")) && n < cap) out[n++] = strtod(tok, NULL);
        return n;
    }
    return -1;
}

static bool load_reference(const char *path, reference *ref)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "check_tutorial: cannot open %s\n", path);
        return false;
    }
    bool ok = true;
    ref->n_steps = read_key(fp, "steps", ref->steps, MAX_STEPS);
    ok = ok && ref->n_steps > 0 && read_key(fp, "loss", ref->loss, MAX_STEPS) == ref->n_steps;
    const char *names[4] = { "a", "b", "c", "d" };
    for (int i = 0; i < 4 && ok; i++) ok = read_key(fp, names[i], &ref->abcd[i], 1) == 1;
    fclose(fp);
    if (!ok) fprintf(stderr, "check_tutorial: %s lacks steps, loss, a, b, c or d\n", path);
    return ok;
}

static bool close_to(double actual, double expected, double rtol, double atol)
{
    return fabs(actual - expected) <= atol + rtol * fabs(expected);   /* false for NaN */
}

static int find_step(const reference *ref, long t)
{
    for (int i = 0; i < ref->n_steps; i++)
        if (ref->steps[i] == (double)t) return i;
    return -1;
}

int main(int argc, char **argv)
{
    reference ref;
    if (argc != 2) {
        fprintf(stderr, "usage: polynomial_custom_function | %s tutorial.txt\n", argv[0]);
        return 2;
    }
    if (!load_reference(argv[1], &ref)) return 1;

    bool seen[MAX_STEPS] = { false }, have_result = false;
    double abcd[4];
    int errors = 0, lineno = 0;
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        lineno++;
        long t;
        double v;
        char extra;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        if (sscanf(line, "Result: y = %lf + %lf * P3(%lf + %lf x) %c",
                   &abcd[0], &abcd[1], &abcd[2], &abcd[3], &extra) == 4 && !have_result) {
            have_result = true;
        } else if (sscanf(line, "%ld %lf %c", &t, &v, &extra) == 2 && !have_result) {
            int i = find_step(&ref, t);
            if (i < 0 || seen[i]) {
                printf("line %d: %s step %ld\n", lineno, i < 0 ? "unexpected" : "repeated", t);
                errors++;
                continue;
            }
            seen[i] = true;
            if (!close_to(v, ref.loss[i], LOSS_RTOL, 0)) {
                printf("loss at step %ld: %.17g, expected %.17g (rel err %.3g)\n",
                       t, v, ref.loss[i], fabs(v - ref.loss[i]) / fabs(ref.loss[i]));
                errors++;
            }
        } else {
            printf("line %d: unexpected: %s", lineno, line);
            errors++;
        }
    }
    for (int i = 0; i < ref.n_steps; i++) {
        if (seen[i]) continue;
        printf("missing loss line for step %.0f\n", ref.steps[i]);
        errors++;
    }
    if (!have_result) {
        printf("missing line 'Result: y = <a> + <b> * P3(<c> + <d> x)'\n");
        errors++;
    }
    for (int i = 0; i < 4 && have_result; i++) {
        bool near_zero = i == 0 || i == 2;          /* a and c */
        double rtol = near_zero ? 0 : LOSS_RTOL, atol = near_zero ? PARAM_ATOL : 0;
        if (close_to(abcd[i], ref.abcd[i], rtol, atol)) continue;
        printf("%c: %.17g, expected %.17g (abs err %.3g)\n", "abcd"[i], abcd[i], ref.abcd[i],
               fabs(abcd[i] - ref.abcd[i]));
        errors++;
    }
    if (errors) {
        printf("check_tutorial: FAILED, %d mismatch%s against %s\n", errors, errors == 1 ? "" : "es", argv[1]);
        return 1;
    }
    printf("check_tutorial: OK, %d losses and a b c d match %s (loss rtol %g, a c atol %g)\n",
           ref.n_steps, argv[1], LOSS_RTOL, PARAM_ATOL);
    return 0;
}
