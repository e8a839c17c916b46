/* SPDX-License-Identifier: MIT */
/*
** tgfit's output files (--out, --plot), written as careful programs write
** them: into a temporary file beside the target, every write checked, fsync,
** then rename over the target, so the target is either the old file or the
** complete new one, whatever happens (full disk, `ulimit -f`, SIGKILL).  A
** failure removes only the temporary.  A character device or a FIFO
** (/dev/null, /dev/stdout, a pipe) is written in place and never removed;
** other kinds of file are refused.  "-" is standard output.  output_check
** runs before the fit, so a bad output costs no time.  Symbolic links are
** followed: the file they point at is replaced, not the link.
*/
#define _XOPEN_SOURCE 700      /* realpath */
#include "tgfit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { NEW, REGULAR, IN_PLACE };

/* *kind and *target (owned: the path written, symbolic links resolved); TGFIT_FAIL when refused. */
static int classify(const char *opt, const char *path, enum kind *kind, char **target)
{
    struct stat st;
    *target = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return tgfit_fail("%s %s: %s", opt, path, strerror(errno));
        *kind = NEW;
        *target = strdup(path);
        return *target ? 0 : tgfit_fail("out of memory");
    }
    if (S_ISLNK(st.st_mode)) {
        *target = realpath(path, NULL);
        if (!*target)
            return tgfit_fail("%s %s: a symbolic link that cannot be followed: %s", opt, path, strerror(errno));
        if (stat(*target, &st) != 0)
            return tgfit_fail("%s %s: %s", opt, path, strerror(errno));
    } else {
        *target = strdup(path);
        if (!*target)
            return tgfit_fail("out of memory");
    }
    if (S_ISREG(st.st_mode))
        *kind = REGULAR;
    else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
        *kind = IN_PLACE;
    else
        return tgfit_fail("%s %s: %s; refused (give a regular file, a character device or a FIFO)", opt, path,
                          S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    return 0;
}

/* The directory of path with a trailing '/' ("" for the current one), owned. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    char *dir = malloc(n + 1);
    if (dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* A new empty temporary file beside target, open for writing; *tmp owned. */
static int make_temp(const char *opt, const char *target, char **tmp, int *fd)
{
    char *dir = dir_of(target);
    const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
    size_t n = dir ? strlen(dir) + strlen(base) + 32 : 0;
    *tmp = dir ? malloc(n) : NULL;
    if (!*tmp) {
        free(dir);
        return tgfit_fail("out of memory");
    }
    snprintf(*tmp, n, "%s.%s.tgfit-XXXXXX", dir, base);
    free(dir);
    *fd = mkstemp(*tmp);
    if (*fd < 0) {
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        return tgfit_fail("%s %s: cannot create a file in its directory: %s", opt, target, strerror(e));
    }
    return 0;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int output_check(const char *opt, const char *path, const char *input)
{
    if (!*path)
        return tgfit_fail("%s '': an empty file name (give a file, or - for standard output)", opt);
    if (strcmp(path, "-") == 0)
        return 0;
    enum kind kind;
    char *target, *tmp = NULL;
    int fd = -1, rc = classify(opt, path, &kind, &target);
    if (rc == 0 && input && strcmp(input, "-") != 0 && same_file(target, input))
        rc = tgfit_fail("%s %s: names the input file --data %s; refused", opt, path, input);
    if (rc == 0 && kind != NEW && access(target, W_OK) != 0)
        rc = tgfit_fail("%s %s: %s", opt, path, strerror(errno));
    if (rc == 0 && kind != IN_PLACE)
        rc = make_temp(opt, target, &tmp, &fd);      /* the directory takes a new file: remove it again */
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(target);
    return rc;
}

/* The mode a new file gets (0666 less the umask), or the replaced file's. */
static mode_t new_mode(const char *target, enum kind kind)
{
    struct stat st;
    if (kind == REGULAR && stat(target, &st) == 0)
        return st.st_mode & 07777;
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

int output_open(output *w, const char *opt, const char *path)
{
    memset(w, 0, sizeof *w);
    w->path = path;
    w->opt = opt;
    if (strcmp(path, "-") == 0) {
        w->f = stdout;
        return 0;
    }
    enum kind kind;
    int fd = -1;
    if (classify(opt, path, &kind, &w->target))
        goto failed;
    if (kind == IN_PLACE) {
        w->f = fopen(w->target, "w");
        if (!w->f) {
            tgfit_fail("cannot write %s: %s", path, strerror(errno));
            goto failed;
        }
        return 0;
    }
    if (make_temp(opt, w->target, &w->tmp, &fd))
        goto failed;
    if (fchmod(fd, new_mode(w->target, kind)) != 0 || !(w->f = fdopen(fd, "w"))) {
        tgfit_fail("cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(w->tmp);
        goto failed;
    }
    return 0;
failed:
    free(w->target);
    free(w->tmp);
    memset(w, 0, sizeof *w);
    return TGFIT_FAIL;
}

static void sync_dir(const char *target)
{
    char *dir = dir_of(target);
    int fd = dir ? open(*dir ? dir : ".", O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) {
        fsync(fd);              /* the rename itself on disk; a failure here loses nothing */
        close(fd);
    }
    free(dir);
}

void output_abort(output *w)
{
    if (w->f && w->f != stdout)
        fclose(w->f);
    if (w->tmp)
        unlink(w->tmp);
    free(w->target);
    free(w->tmp);
    memset(w, 0, sizeof *w);
}

int output_close(output *w)
{
    int err = 0;
    errno = 0;
    if (fflush(w->f) != 0 || ferror(w->f))
        err = errno ? errno : EIO;
    if (w->f == stdout) {
        memset(w, 0, sizeof *w);
        return err ? tgfit_fail("cannot write standard output: %s", strerror(err)) : 0;
    }
    if (!err && w->tmp && fsync(fileno(w->f)) != 0)
        err = errno;
    if (fclose(w->f) != 0 && !err)
        err = errno;
    if (!err && w->tmp && rename(w->tmp, w->target) != 0)
        err = errno;
    if (w->tmp && err)
        unlink(w->tmp);         /* only ever the temporary: the target keeps its old contents */
    else if (w->tmp)
        sync_dir(w->target);
    int rc = err ? tgfit_fail("cannot write %s: %s", w->path, strerror(err)) : 0;
    free(w->target);
    free(w->tmp);
    memset(w, 0, sizeof *w);
    return rc;
}
