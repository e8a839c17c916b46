/* SPDX-License-Identifier: MIT */
/*
** gen_points: writes test and benchmark data for tgfit, deterministic on
** every machine (no libm randomness): x evenly spaced on [lo, hi], and
**   poly:   y = sum_k c_k x^k + noise, c = 1, -2, 0.5, 3, -1 (degree 4), x on [-2, 3]
**   sin:    y = sin(x), x = torch.linspace(-pi, pi, n) (the tutorial's data), no noise
** with noise = amplitude * (u - 0.5), u from a 64-bit LCG (Knuth's MMIX constants).
**
**   gen_points csv|npy poly|sin N FILE [noise]      (noise default 0.01)
**
** The .npy is a [N, 2] float64 C-order array written with NumPy's header layout;
** the CSV has the header "x,y" and %.17g numbers.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lcg = 0x2545F4914F6CDD1DULL;

static double noise(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * 0x1p-53 - 0.5;
}

static void point(int sine, int64_t i, int64_t n, double amp, double *x, double *y)
{
    if (sine) {  /* torch.linspace: the first half counts up from start, the second down from end */
        double step = 2 * M_PI / (double)(n - 1);
        *x = i < n / 2 ? -M_PI + step * (double)i : M_PI - step * (double)(n - 1 - i);
        *y = sin(*x);
        return;
    }
    static const double c[5] = { 1.0, -2.0, 0.5, 3.0, -1.0 };
    *x = n > 1 ? -2.0 + 5.0 * (double)i / (double)(n - 1) : 0.0;
    double p = 0.0;
    for (int k = 4; k >= 0; k--)
        p = p * *x + c[k];
    *y = p + amp * noise();
}

static int write_npy_header(FILE *f, int64_t n, int one_column)
{
    char dict[128];
    int len = snprintf(dict, sizeof dict, one_column ? "{'descr': '<f8', 'fortran_order': False, 'shape': (%lld,), }"
                                                     : "{'descr': '<f8', 'fortran_order': False, 'shape': (%lld, 2), }",
                       (long long)n);
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    unsigned short hlen = (unsigned short)(len + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char le[2] = { (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8) };
    fwrite(le, 1, 2, f);
    fputs(dict, f);
    for (int i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[1], "csv") && strcmp(argv[1], "npy") && strcmp(argv[1], "npyx") &&
                     strcmp(argv[1], "npyy")) || (strcmp(argv[2], "poly") && strcmp(argv[2], "sin"))) {
        fprintf(stderr, "usage: gen_points csv|npy|npyx|npyy poly|sin N FILE [noise]   (npyx, npyy: x or y alone, 1-d)\n");
        return 2;
    }
    int npy = !strncmp(argv[1], "npy", 3), sine = !strcmp(argv[2], "sin");
    int only = !strcmp(argv[1], "npyx") ? 1 : !strcmp(argv[1], "npyy") ? 2 : 0;   /* 1: x, 2: y */
    int64_t n = strtoll(argv[3], NULL, 10);
    double amp = argc > 5 ? strtod(argv[5], NULL) : 0.01;
    FILE *f = fopen(argv[4], "wb");
    if (!f || n < 1) {
        fprintf(stderr, "gen_points: cannot write %s\n", argv[4]);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    if (npy)
        write_npy_header(f, n, only != 0);
    else
        fputs("x,y\n", f);
    for (int64_t i = 0; i < n; i++) {
        double xy[2];
        point(sine, i, n, amp, &xy[0], &xy[1]);
        if (only)
            fwrite(xy + only - 1, sizeof(double), 1, f);
        else if (npy)
            fwrite(xy, sizeof(double), 2, f);   /* little-endian hosts only (x86-64, aarch64) */
        else
            fprintf(f, "%.17g,%.17g\n", xy[0], xy[1]);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "gen_points: cannot write %s\n", argv[4]);
        return 1;
    }
    return 0;
}
