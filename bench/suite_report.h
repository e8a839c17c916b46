/* SPDX-License-Identifier: MIT */
/*
** The benchmark suite's results and their two renderings: the Markdown table
** on stdout (what README.md's Performance section carries) and the JSON file.
** Also the issue-4 targets, each judged from the rows of the same run.
*/
#ifndef TG_BENCH_SUITE_REPORT_H
#define TG_BENCH_SUITE_REPORT_H

#include <stdio.h>

#include "suite.h"

enum row_state { ROW_OK, ROW_SKIPPED, ROW_FAILED };

typedef struct suite_row {
    int path;
    int64_t n;
    int threads;          /* 0: the library's default (no tg_set_num_threads) */
    int state;
    tut_result r;
    char error[256];
} suite_row;

enum { REPORT_MAX_ROWS = 96 };

typedef struct suite_report {
    suite_timing timing;
    suite_row rows[REPORT_MAX_ROWS];
    int n_rows;
    const micro_row *micro;
    int n_micro;
    int64_t micro_n;
    char python[96];      /* versions, or why there are no PyTorch rows */
    char cpu[128], compiler[64], os[128], date[32], kernels[16];
    char load[2][32];     /* /proc/loadavg's 1, 5, 15 minute averages at the start and the end */
    int cores;
} suite_report;

/* Clears the report and reads the machine: CPU model, cores, kernel table,
** compiler, system, date. */
void report_init(suite_report *rep, suite_timing timing);
/* A new row (NULL when full). */
suite_row *report_add(suite_report *rep, int path, int64_t n, int threads);
/* Adds a PyTorch / NumPy row after checking its loss against the hand-fused
** loop's at the same N (1e-10 relative); returns 1 (row kept as failed) when
** it disagrees or there is no hand-fused row to check against. */
int report_add_python(suite_report *rep, const py_row *py);

/* Sorts the rows by N, threads and path, and notes the load average at the end. */
void report_finish(suite_report *rep);
void report_print(const suite_report *rep, FILE *f);
int report_write_json(const suite_report *rep, const char *path);   /* 0 or 1 */

#endif /* TG_BENCH_SUITE_REPORT_H */
