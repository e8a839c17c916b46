/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "polynomial_numpy", in C: the warm-up before tensors.
**
** Fits y = sin(x) on 2000 points of [-pi, pi] with y = a + b x + c x^2 + d x^3,
** on raw double arrays in plain C loops: the forward pass, the loss and the
** gradients are written by hand, as the tutorial does with NumPy.  x is
** numpy.linspace(-pi, pi, 2000) (x[i] = -pi + i * step, the last point pi);
** a, b, c, d are four successive tg_rng_normal draws of a generator seeded
** with 0 (the tutorial's np.random.randn()).  Trains 2000 steps of gradient
** descent (learning rate 1e-6), printing `t loss` every 100 steps, then the fit.
**
** Uses only the public API of tensorgrad.h, and of it only the generator.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <tensorgrad.h>

#define N 2000

int main(void)
{
    const double pi = 3.14159265358979323846, learning_rate = 1e-6;
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    if (!x || !y) {
        fprintf(stderr, "out of memory\n");
        free(x);
        free(y);
        return 1;
    }
    double step = (pi - -pi) / (N - 1);
    for (int i = 0; i < N; i++) {
        x[i] = i < N - 1 ? i * step + -pi : pi;
        y[i] = sin(x[i]);
    }

    tg_rng rng;
    tg_rng_seed(&rng, 0);
    double a = tg_rng_normal(&rng), b = tg_rng_normal(&rng);
    double c = tg_rng_normal(&rng), d = tg_rng_normal(&rng);

    for (int t = 0; t < 2000; t++) {
        /* forward pass and loss = sum (y_pred - y)^2 */
        double loss = 0, grad_a = 0, grad_b = 0, grad_c = 0, grad_d = 0;
        for (int i = 0; i < N; i++) {
            double xi = x[i], y_pred = a + b * xi + c * xi * xi + d * xi * xi * xi;
            double diff = y_pred - y[i];
            loss += diff * diff;
            /* backprop: d loss / d y_pred = 2 (y_pred - y), then onto a, b, c, d */
            double grad_y_pred = 2.0 * diff;
            grad_a += grad_y_pred;
            grad_b += grad_y_pred * xi;
            grad_c += grad_y_pred * xi * xi;
            grad_d += grad_y_pred * xi * xi * xi;
        }
        if (t % 100 == 99)
            printf("%d %.17g\n", t, loss);
        a -= learning_rate * grad_a;
        b -= learning_rate * grad_b;
        c -= learning_rate * grad_c;
        d -= learning_rate * grad_d;
    }
    printf("Result: y = %.17g + %.17g x + %.17g x^2 + %.17g x^3\n", a, b, c, d);
    free(x);
    free(y);
    return 0;
}
