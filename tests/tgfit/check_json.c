/* SPDX-License-Identifier: MIT */
/*
** check_json: reads the values of tgfit's JSON files (every key distinct and on
** its own line, see README.md "tgfit") and checks them.
**
**   check_json get FILE KEY                    prints the value as written
**   check_json agree A B RTOL KEY...           each KEY's numbers (a number or an
**                                              array) agree normwise:
**                                              max |a - b| <= RTOL * max |a|
**   check_json lstsq FILE GAP RTOL             relative_gap <= GAP and coefficients
**                                              agree with lstsq_coefficients to RTOL
**   check_json near FILE KEY RTOL V...         KEY's numbers agree with V... normwise
**
** Exits 0 when the check holds; otherwise prints what differs (index, both
** values, the error) and exits 1.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXV = 4096 };

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "check_json: cannot open %s\n", path);
        exit(1);
    }
    enum { CAP = 1 << 20 };
    char *buf = malloc(CAP);
    size_t n = buf ? fread(buf, 1, CAP - 1, f) : 0;
    fclose(f);
    if (!buf)
        exit(1);
    buf[n] = '\0';
    return buf;
}

/* The text after "KEY": on its line; exits when absent. */
static const char *value_of(const char *text, const char *path, const char *key)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(text, pat);
    if (!at) {
        fprintf(stderr, "check_json: %s has no key %s\n", path, key);
        exit(1);
    }
    return at + strlen(pat);
}

/* Numbers of KEY: one, or the elements of an array; null reads as NaN. */
static int numbers(const char *text, const char *path, const char *key, double *v)
{
    const char *s = value_of(text, path, key);
    int n = 0, array = *s == '[';
    if (array)
        s++;
    while (n < MAXV) {
        while (*s == ' ')
            s++;
        if (array && *s == ']')
            break;
        char *end;
        if (!strncmp(s, "null", 4)) {
            v[n++] = NAN;
            end = (char *)s + 4;
        } else {
            v[n++] = strtod(s, &end);
            if (end == s) {
                fprintf(stderr, "check_json: %s: %s is not numeric\n", path, key);
                exit(1);
            }
        }
        s = end;
        if (!array || *s != ',')
            break;
        s++;
    }
    return n;
}

static int agree(const char *what, const double *a, int na, const double *b, int nb, double rtol)
{
    if (na != nb) {
        fprintf(stderr, "%s: %d values against %d\n", what, na, nb);
        return 1;
    }
    double scale = 0.0, worst = 0.0;
    int at = 0;
    for (int i = 0; i < na; i++)
        scale = fmax(scale, fabs(a[i]));
    for (int i = 0; i < na; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= worst)) {
            worst = e;
            at = i;
        }
    }
    if (!(worst <= rtol * scale)) {
        fprintf(stderr, "%s: element %d: %.17g against %.17g, error %.3g > %.3g (rtol %.3g x max |a| %.6g)\n", what,
                at, a[at], b[at], worst, rtol * scale, rtol, scale);
        return 1;
    }
    printf("%s: %d values agree, max error %.3g (%.3g relative)\n", what, na, worst, scale > 0 ? worst / scale : worst);
    return 0;
}

int main(int argc, char **argv)
{
    static double a[MAXV], b[MAXV];
    if (argc >= 4 && !strcmp(argv[1], "get")) {
        char *t = read_all(argv[2]);
        const char *v = value_of(t, argv[2], argv[3]);
        printf("%.*s\n", (int)strcspn(v, ",\n"), v);
        free(t);
        return 0;
    }
    if (argc >= 6 && !strcmp(argv[1], "agree")) {
        char *ta = read_all(argv[2]), *tb = read_all(argv[3]);
        int bad = 0;
        for (int k = 5; k < argc; k++) {
            int na = numbers(ta, argv[2], argv[k], a), nb = numbers(tb, argv[3], argv[k], b);
            bad |= agree(argv[k], a, na, b, nb, strtod(argv[4], NULL));
        }
        free(ta);
        free(tb);
        return bad;
    }
    if (argc == 5 && !strcmp(argv[1], "lstsq")) {
        char *t = read_all(argv[2]);
        numbers(t, argv[2], "relative_gap", a);
        if (!(a[0] <= strtod(argv[3], NULL))) {
            fprintf(stderr, "relative_gap %.17g > %s\n", a[0], argv[3]);
            free(t);
            return 1;
        }
        printf("relative_gap %.3g <= %s\n", a[0], argv[3]);
        int na = numbers(t, argv[2], "lstsq_coefficients", a), nb = numbers(t, argv[2], "coefficients", b);
        free(t);
        return agree("coefficients vs lstsq_coefficients", a, na, b, nb, strtod(argv[4], NULL));
    }
    if (argc >= 6 && !strcmp(argv[1], "near")) {
        char *t = read_all(argv[2]);
        int na = numbers(t, argv[2], argv[3], a), nb = argc - 5;
        free(t);
        for (int i = 0; i < nb && i < MAXV; i++)
            b[i] = strtod(argv[5 + i], NULL);
        return agree(argv[3], b, nb, a, na, strtod(argv[4], NULL));
    }
    fprintf(stderr, "usage: check_json get FILE KEY | agree A B RTOL KEY... | lstsq FILE GAP RTOL | near FILE KEY RTOL V...\n");
    return 2;
}
