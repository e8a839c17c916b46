/* SPDX-License-Identifier: MIT */
/*
** A program linked with the shared libtensorgrad, for test_limits: started
** (exec'd) under an address-space limit, so OpenBLAS's constructor runs under
** it too.  A 300 x 300 product and a least-squares fit: exit 0 when each gives
** the right result or TG_ERR_NOMEM, else a code naming the failing step.
** With the argument `run` the product must run (room for its buffer is known).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <tensorgrad.h>

int main(int argc, char **argv)
{
    int64_t sh[2] = {300, 300};
    tg_tensor *a = tg_full(2, sh, 1.0), *b = tg_full(2, sh, 2.0), *c = a && b ? tg_matmul(a, b) : NULL;
    if (!c && (tg_last_status() != TG_ERR_NOMEM || (argc > 1 && strcmp(argv[1], "run") == 0))) {
        fprintf(stderr, "limits_child: %s\n", tg_last_error());
        return 2;
    }
    for (int64_t i = 0; c && i < 300 * 300; i++)
        if (tg_data(c)[i] != 600.0)
            return 3;
    tg_tensor *x = tg_linspace(-1.0, 1.0, 100000), *y = x ? tg_legendre(x, 3) : NULL, *coef = NULL;
    tg_status st = x && y ? tg_legendre_lstsq(x, y, 5, 1.0, 0.0, &coef, NULL) : tg_last_status();
    if (st != TG_OK && st != TG_ERR_NOMEM)
        return 4;
    for (int k = 0; st == TG_OK && k < 6; k++)
        if (fabs(tg_data(coef)[k] - (k == 3)) > 1e-9)
            return 5;
    printf("matmul %s, lstsq %s\n", c ? "ran" : "TG_ERR_NOMEM", st == TG_OK ? "ran" : "TG_ERR_NOMEM");
    tg_free(coef), tg_free(y), tg_free(x), tg_free(c), tg_free(b), tg_free(a);
    return 0;
}
