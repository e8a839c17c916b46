/* SPDX-License-Identifier: MIT */
/*
** A plain main for a libFuzzer target: feeds every regular file of the
** directories (or the files) named on the command line to
** LLVMFuzzerTestOneInput, in name order, one call per file.  Linked with a
** target's source by the normal compiler, it replays the corpus as a ctest
** without libFuzzer; a target that finds a bug aborts, which fails the test.
** Prints how many inputs it ran; no input at all is a failure (a corpus
** directory that went missing must not pass silently).
*/
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the target on one file; false when it cannot be read. */
static bool run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return false;
    }
    size_t cap = 4096, size = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + size, 1, cap - size, f)) > 0) {
        size += got;
        if (size == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    bool ok = buf && !ferror(f);
    fclose(f);
    if (ok)
        LLVMFuzzerTestOneInput(buf, size);
    else
        fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    return ok;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; returns how many, -1 on error. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    long ran = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            if (!more) {
                ran = -1;
                break;
            }
            names = more;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            ran = -1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (ran >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            ran = run_file(names[i]) ? ran + 1 : -1;
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long ran = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? run_dir(argv[i])
                                                                  : (run_file(argv[i]) ? 1 : -1);
        if (ran < 0)
            return 1;
        printf("replay: %ld inputs from %s\n", ran, argv[i]);
        total += ran;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs (usage: %s DIR|FILE ...)\n", argv[0]);
        return 1;
    }
    printf("replay: %ld inputs ran clean\n", total);
    return 0;
}
