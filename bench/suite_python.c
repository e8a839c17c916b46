/* SPDX-License-Identifier: MIT */
/*
** The PyTorch and NumPy rows of the benchmark suite: bench/pytorch_step.py
** run as a subprocess in its --json mode, one JSON object per line (its own
** format, flat, written by that script only, so a key lookup reads it):
**   {"kind": "info", "available": true, "torch": "1.13.0", "numpy": "1.24.2"}
**   {"kind": "row", "impl": "torch", "n": 2000, "threads": 1, "seconds": ...,
**    "loss": ..., "faults": ..., "peak_bytes": ...}
**   {"kind": "error", "message": "..."}           (then it exits nonzero)
** The script checks PyTorch against NumPy itself; bench_suite.c checks the
** loss it reports against the hand-fused loop's.
*/
#define _POSIX_C_SOURCE 200809L
#include "suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The number after "key": in a line (NaN when absent). */
static double json_num(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* The string after "key": in a line, escapes kept as written. */
static void json_str(const char *line, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(line, pat);
    size_t i = 0;
    if (p)
        for (p += strlen(pat); *p && *p != '"' && i + 1 < size; p++)
            out[i++] = *p == '\\' && p[1] ? *++p : *p;
    out[i] = '\0';
}

/* Appends ' word ' quoted for sh. */
static void append_quoted(char *cmd, size_t size, const char *word)
{
    size_t len = strlen(cmd);
    if (len + 2 < size)
        cmd[len++] = ' ', cmd[len++] = '\'';
    for (; *word && len + 5 < size; word++) {
        if (*word == '\'')
            memcpy(cmd + len, "'\\''", 4), len += 4;
        else
            cmd[len++] = *word;
    }
    if (len + 1 < size)
        cmd[len++] = '\'';
    cmd[len] = '\0';
}

static void build_command(char *cmd, size_t size, const char *python, const char *script,
                          const int64_t *sizes, int n_sizes, int threads, const suite_timing *t)
{
    char word[64];
    cmd[0] = '\0';
    append_quoted(cmd, size, python);
    append_quoted(cmd, size, script);
    append_quoted(cmd, size, "--json");
    snprintf(word, sizeof word, "--threads=%d", threads > 0 ? threads : 1);
    append_quoted(cmd, size, word);
    snprintf(word, sizeof word, "--batches=%d", t->batches);
    append_quoted(cmd, size, word);
    snprintf(word, sizeof word, "--min-batch=%g", t->min_batch);
    append_quoted(cmd, size, word);
    for (int i = 0; i < n_sizes; i++) {
        snprintf(word, sizeof word, "%lld", (long long)sizes[i]);
        append_quoted(cmd, size, word);
    }
}

/* One line of the script's output into rows / info; -1 on an error line. */
static int read_line(const char *line, py_row *rows, int *m, int max_rows, py_info *info, char *err,
                     size_t err_size)
{
    char kind[16], impl[16];
    json_str(line, "kind", kind, sizeof kind);
    if (strcmp(kind, "info") == 0) {
        char torch[32], numpy[32];
        info->available = strstr(line, "\"available\": true") != NULL;
        json_str(line, "torch", torch, sizeof torch);
        json_str(line, "numpy", numpy, sizeof numpy);
        if (info->available)
            snprintf(info->versions, sizeof info->versions, "torch %s, numpy %s", torch, numpy);
        else
            json_str(line, "reason", info->versions, sizeof info->versions);
    } else if (strcmp(kind, "row") == 0 && *m < max_rows) {
        py_row *r = &rows[(*m)++];
        json_str(line, "impl", impl, sizeof impl);
        r->path = strcmp(impl, "torch") == 0 ? PATH_TORCH : PATH_NUMPY;
        r->n = (int64_t)json_num(line, "n");
        r->threads = (int)json_num(line, "threads");
        r->r = (tut_result){.seconds = json_num(line, "seconds"), .loss = json_num(line, "loss"),
                            .allocs = NAN, .faults = json_num(line, "faults"),
                            .peak_bytes = json_num(line, "peak_bytes")};
    } else if (strcmp(kind, "error") == 0) {
        json_str(line, "message", err, err_size);
        return -1;
    }
    return 0;
}

int py_run(const char *python, const char *script, const int64_t *sizes, int n_sizes, int threads,
           const suite_timing *timing, py_row *rows, int max_rows, py_info *info, char *err,
           size_t err_size)
{
    char cmd[2048], line[1024];
    int m = 0, bad = 0;
    *info = (py_info){.available = false, .versions = "no output from the script"};
    err[0] = '\0';
    build_command(cmd, sizeof cmd, python, script, sizes, n_sizes, threads, timing);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(err, err_size, "could not run %s", cmd);
        return -1;
    }
    while (fgets(line, sizeof line, p))
        if (read_line(line, rows, &m, max_rows, info, err, err_size) < 0)
            bad = 1;
    int status = pclose(p);
    if (!bad && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(err, err_size, "%s exited with status %d", script, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        bad = 1;
    }
    if (bad)
        return -1;
    return info->available ? m : 0;
}
