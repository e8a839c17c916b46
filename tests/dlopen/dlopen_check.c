/* SPDX-License-Identifier: MIT */
/* Loads an installed libtensorgrad.so with dlopen, as Python's ctypes does,
** and uses it from the main thread and from a second thread (whose TLS the
** loader allocates on first use).  Run by tests/install_test.sh (mode dlopen):
**
**     dlopen_check PATH_TO_LIBTENSORGRAD_SO
**
** Exits 0 when the library loads, its tg_version() is the TG_VERSION_STRING
** of the installed header and d(x*x)/dx at x = 1.5 is 3 on both threads; prints dlerror() or tg_last_error() and exits 1 otherwise.  It
** only includes tensorgrad.h for the types: every call goes through dlsym. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <tensorgrad.h>

typedef struct api {
    tg_tensor *(*scalar)(double);
    tg_tensor *(*mul)(tg_tensor *, tg_tensor *);
    tg_status (*set_requires_grad)(tg_tensor *, bool);
    tg_status (*backward)(tg_tensor *, const tg_backward_opts *);
    tg_tensor *(*grad)(const tg_tensor *);
    double (*item)(const tg_tensor *);
    void (*free)(tg_tensor *);
    const char *(*last_error)(void);
    const char *(*version)(void);
} api;

static api tg;

/* 0 when d(x*x)/dx is 2x at x = 1.5 */
static int gradient_of_square(void)
{
    tg_tensor *x = tg.scalar(1.5);
    if (!x)
        return 1;
    tg.set_requires_grad(x, true);
    tg_tensor *y = tg.mul(x, x);
    int bad = !y || tg.backward(y, NULL) != TG_OK || tg.item(y) != 2.25 || tg.item(tg.grad(x)) != 3.0;
    if (bad)
        fprintf(stderr, "dlopen_check: d(x*x)/dx failed: %s\n", tg.last_error());
    tg.free(y);
    tg.free(x);
    return bad;
}

static void *thread_main(void *result)
{
    *(int *)result = gradient_of_square();
    return NULL;
}

#define SYM(field, name)                                                                  \
    do {                                                                                  \
        *(void **)&tg.field = dlsym(lib, name);                                           \
        if (!tg.field) {                                                                  \
            fprintf(stderr, "dlopen_check: %s\n", dlerror());                             \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dlopen_check LIBTENSORGRAD_SO\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen_check: %s\n", dlerror());
        return 1;
    }
    SYM(scalar, "tg_scalar");
    SYM(mul, "tg_mul");
    SYM(set_requires_grad, "tg_set_requires_grad");
    SYM(backward, "tg_backward");
    SYM(grad, "tg_grad");
    SYM(item, "tg_item");
    SYM(free, "tg_free");
    SYM(last_error, "tg_last_error");
    SYM(version, "tg_version");
    if (strcmp(tg.version(), TG_VERSION_STRING) != 0) {
        fprintf(stderr, "dlopen_check: the library is version %s, its header %s\n", tg.version(),
                TG_VERSION_STRING);
        return 1;
    }
    int main_bad = gradient_of_square(), thread_bad = 1;
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, &thread_bad) != 0 || pthread_join(t, NULL) != 0) {
        fprintf(stderr, "dlopen_check: no second thread\n");
        return 1;
    }
    if (main_bad || thread_bad)
        return 1;
    printf("dlopen_check: %s %s loaded; d(x*x)/dx = 3 on the main thread and a second one\n", argv[1],
           tg.version());
    dlclose(lib);
    return 0;
}
