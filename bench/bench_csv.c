/* SPDX-License-Identifier: MIT */
/*
** tg_load_csv against numpy.loadtxt in the same run (issue 15's CSV row):
** N rows of "x,y" (default 2*10^6; --rows N), the values printed with %.17g
** (so every digit matters) and also saved as .npy.  Both readers' values are
** checked bit for bit against the .npy before any time counts: tg_load_csv
** on 1 thread and on the library's thread count, and numpy.loadtxt (through
** bench/csv_loadtxt.py with /usr/bin/python3).  Prints the best of --reps
** runs (default 3) of each and the ratios; exits 1 on a wrong answer.
*/
#define _POSIX_C_SOURCE 200809L

#include "tensorgrad.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_clock.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

/* The points: x in [-1, 1), y = sin(3x) plus noise, as CSV and as .npy. */
static int write_files(int64_t n, const char *csv, const char *npy)
{
    tg_tensor *t = tg_zeros(2, (int64_t[]){n, 2});
    FILE *f = fopen(csv, "w");
    if (!t || !f)
        return -1;
    double *d = tg_data(t);
    fputs("x,y\n", f);
    for (int64_t i = 0; i < n; i++) {
        double x = 2 * uniform() - 1, y = sin(3 * x) + 0.1 * (uniform() - 0.5);
        d[2 * i] = x;
        d[2 * i + 1] = y;
        fprintf(f, "%.17g,%.17g\n", x, y);
    }
    int rc = fclose(f) == 0 && tg_save_npy(t, npy) == TG_OK ? 0 : -1;
    tg_free(t);
    return rc;
}

/* Best time of reps reads on `threads` threads; -1 on a wrong value. */
static double time_tg(const char *csv, tg_tensor *want, int threads, int reps)
{
    tg_set_num_threads(threads);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        tg_tensor *t = tg_load_csv(csv, 2, (const char *[]){"x", "y"}, NULL);
        double dt = bench_now() - t0;
        if (!t) {
            fprintf(stderr, "bench_csv: %s\n", tg_last_error());
            return -1;
        }
        bool same = tg_numel(t) == tg_numel(want) &&
                    memcmp(tg_data(t), tg_data(want), (size_t)tg_numel(t) * sizeof(double)) == 0;
        tg_free(t);
        if (!same) {
            fprintf(stderr, "bench_csv: tg_load_csv on %d threads differs from the .npy\n", threads);
            return -1;
        }
        best = dt < best ? dt : best;
    }
    return best;
}

static double time_numpy(const char *csv, const char *npy, int reps, char *version, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %d", TG_BENCH_CSV_SCRIPT, csv, npy, reps);
    FILE *p = popen(cmd, "r");
    double best = -1;
    if (!p)
        return -1;
    char v[64] = "";
    if (fscanf(p, "%lf %63s", &best, v) != 2)
        best = -1;
    snprintf(version, cap, "%s", v);
    return pclose(p) == 0 ? best : -1;
}

int main(int argc, char **argv)
{
    int64_t n = 2000000;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rows") == 0)
            n = strtoll(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
    }
    if (n < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_csv [--rows N] [--reps R]\n");
        return 2;
    }
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char csv[512], npy[512];
    snprintf(csv, sizeof csv, "%s/bench_csv_%d.csv", dir, (int)getpid());
    snprintf(npy, sizeof npy, "%s/bench_csv_%d.npy", dir, (int)getpid());
    int rc = 1;
    tg_tensor *want = NULL;
    if (write_files(n, csv, npy) != 0 || !(want = tg_load_npy(npy))) {
        fprintf(stderr, "bench_csv: cannot write the test files in %s\n", dir);
        goto cleanup;
    }
    int threads = tg_get_num_threads();
    double t1 = time_tg(csv, want, 1, reps), tn = time_tg(csv, want, threads, reps);
    char version[64] = "";
    double tnp = time_numpy(csv, npy, reps, version, sizeof version);
    if (t1 < 0 || tn < 0) {
        goto cleanup;
    }
    printf("CSV read, %lld rows of x,y (%%.17g), best of %d, values checked against the .npy\n",
           (long long)n, reps);
    printf("  tg_load_csv, 1 thread    %8.3f s\n", t1);
    printf("  tg_load_csv, %d threads   %8.3f s\n", threads, tn);
    if (tnp < 0) {
        printf("  numpy.loadtxt            not run (no /usr/bin/python3 with numpy, or a wrong answer)\n");
        rc = 2;
        goto cleanup;
    }
    printf("  numpy.loadtxt (%s)   %8.3f s\n", version, tnp);
    printf("  ratio numpy / tg: %.1fx on 1 thread, %.1fx on %d threads\n", tnp / t1, tnp / tn,
           threads);
    rc = 0;
cleanup:
    tg_free(want);
    unlink(csv);
    unlink(npy);
    return rc;
}
