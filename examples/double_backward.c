/* SPDX-License-Identifier: MIT */
/*
** PyTorch's tutorial "Double Backward with Custom Functions", in C.
**
** Three user Functions whose backward is written with tensorgrad ops, so that
** it is itself differentiable:
**   Square  y = x^2   saves its input;
**   Exp     y = e^x   saves its output;
**   Sinh    y = (e^x - e^-x) / 2   saves two intermediates made in forward,
**           e^x and e^-x, computed with recording on (tg_set_grad_enabled(true)
**           inside forward) so the engine can differentiate through them.
** For each, f, f' and f'' at a few points (f' and f'' by tg_autograd_grad with
** create_graph), then tg_gradcheck and tg_gradgradcheck.
**
** SinhUnsafe saves e^x and e^-x computed with recording off, PyTorch's
** "what NOT to do": its first derivative is right, but there PyTorch's second
** derivative is silently wrong.  tensorgrad refuses it with TG_ERR_STATE; the
** message is printed as a `#` line.
**
** Output lines: `x <points>`, `<fn>.f|df|d2f <values>`, `<fn>.gradcheck <status>`.
** Uses only the public API of tensorgrad.h.
*/
#include <stdio.h>
#include <tensorgrad.h>

/* forward: y = x^2, saves x */
static tg_status square_forward(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs)
{
    outputs[0] = tg_pow(inputs[0], 2);
    return outputs[0] ? tg_save_for_backward(ctx, 1, inputs) : tg_last_status();
}

/* backward: dx = dy * 2x */
static tg_status square_backward(tg_ctx *ctx, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs)
{
    grad_inputs[0] = tg_mul(grad_outputs[0], tg_affine(tg_saved_tensor(ctx, 0), 2, 0));
    return grad_inputs[0] ? TG_OK : tg_last_status();
}

/* forward: y = e^x, saves y */
static tg_status exp_forward(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs)
{
    outputs[0] = tg_exp(inputs[0]);
    return outputs[0] ? tg_save_for_backward(ctx, 1, outputs) : tg_last_status();
}

/* backward: dx = dy * y */
static tg_status exp_backward(tg_ctx *ctx, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs)
{
    grad_inputs[0] = tg_mul(grad_outputs[0], tg_saved_tensor(ctx, 0));
    return grad_inputs[0] ? TG_OK : tg_last_status();
}

/* forward: y = (e^x - e^-x) / 2, saves e^x and e^-x made with recording on */
static tg_status sinh_forward(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs)
{
    bool prev = tg_set_grad_enabled(true);   /* the graph lets a double backward reach x */
    tg_tensor *saved[2] = {tg_exp(inputs[0]), tg_exp(tg_neg(inputs[0]))};
    tg_set_grad_enabled(prev);
    outputs[0] = tg_affine(tg_sub(saved[0], saved[1]), 0.5, 0);
    return outputs[0] ? tg_save_for_backward(ctx, 2, saved) : tg_last_status();
}

/* forward: the same, but e^x and e^-x are made with recording off (unsafe) */
static tg_status sinh_unsafe_forward(tg_ctx *ctx, tg_tensor *const *inputs, tg_tensor **outputs)
{
    tg_tensor *saved[2] = {tg_exp(inputs[0]), tg_exp(tg_neg(inputs[0]))};
    outputs[0] = tg_affine(tg_sub(saved[0], saved[1]), 0.5, 0);
    return outputs[0] ? tg_save_for_backward(ctx, 2, saved) : tg_last_status();
}

/* backward: dx = dy * (e^x + e^-x) / 2 */
static tg_status sinh_backward(tg_ctx *ctx, tg_tensor *const *grad_outputs, tg_tensor **grad_inputs)
{
    tg_tensor *cosh = tg_affine(tg_add(tg_saved_tensor(ctx, 0), tg_saved_tensor(ctx, 1)), 0.5, 0);
    grad_inputs[0] = tg_mul(grad_outputs[0], cosh);
    return grad_inputs[0] ? TG_OK : tg_last_status();
}

static const tg_function square = {.name = "Square", .n_inputs = 1, .n_outputs = 1,
                                   .forward = square_forward, .backward = square_backward};
static const tg_function exp_fn = {.name = "Exp", .n_inputs = 1, .n_outputs = 1,
                                   .forward = exp_forward, .backward = exp_backward};
static const tg_function sinh = {.name = "Sinh", .n_inputs = 1, .n_outputs = 1,
                                 .forward = sinh_forward, .backward = sinh_backward};
static const tg_function sinh_unsafe = {.name = "SinhUnsafe", .n_inputs = 1, .n_outputs = 1,
                                        .forward = sinh_unsafe_forward, .backward = sinh_backward};

static tg_tensor *apply(tg_tensor *const *inputs, void *fn)
{
    return tg_apply1(fn, inputs);
}

static void print_values(const char *fn, const char *what, tg_tensor *t)
{
    printf("%s.%s", fn, what);
    for (int64_t i = 0; i < tg_numel(t); i++)
        printf(" %.17g", tg_data(t)[i]);
    printf("\n");
}

static const char *status_name(tg_status s)
{
    static const char *names[] = {"OK", "TG_ERR_ARG", "TG_ERR_SHAPE", "TG_ERR_NOMEM",
                                  "TG_ERR_STATE", "TG_ERR_IO", "TG_ERR_NUMERIC"};
    return s >= TG_OK && s <= TG_ERR_NUMERIC ? names[s] : "?";
}

/* Prints `<name>.<what> <status>`, and the message as a comment when it failed. */
static void print_status(const char *name, const char *what, tg_status s)
{
    printf("%s.%s %s\n", name, what, status_name(s));
    if (s != TG_OK)
        printf("# %s\n", tg_last_error());
    tg_clear_error();
}

/* f, f' and f'' at x (f' and f'' elementwise, by two grads with create_graph),
** then gradcheck and gradgradcheck.  Returns the number of failed steps. */
static int report(const tg_function *fn, const char *name, tg_tensor *x, bool expect_safe)
{
    int failed = 0;
    tg_backward_opts create = {.create_graph = true};
    tg_scope_begin();
    tg_tensor *y = tg_apply1(fn, (tg_tensor *[]){x}), *dy = NULL, *d2y = NULL;
    tg_status s = tg_autograd_grad(1, (tg_tensor *[]){tg_sum(y)}, NULL, 1, &x, &dy, &create);
    if (s == TG_OK)
        s = tg_autograd_grad(1, (tg_tensor *[]){tg_sum(dy)}, NULL, 1, &x, &d2y, NULL);
    if (s == TG_OK) {
        print_values(name, "f", y);
        print_values(name, "df", dy);
        print_values(name, "d2f", d2y);
    } else {   /* no second derivative: show the first, taken without create_graph */
        print_status(name, "double_backward", s);
        failed += expect_safe;
        if (tg_autograd_grad(1, (tg_tensor *[]){tg_sum(y)}, NULL, 1, &x, &dy, NULL) == TG_OK)
            print_values(name, "df", dy);
        else
            failed++;
    }
    tg_scope_end();
    s = tg_gradcheck(apply, 1, &x, (void *)fn, 1e-6, 1e-5, 1e-3);
    failed += s != TG_OK;
    print_status(name, "gradcheck", s);
    s = tg_gradgradcheck(apply, 1, &x, (void *)fn, 1e-6, 1e-5, 1e-3);
    failed += expect_safe ? s != TG_OK : s != TG_ERR_STATE;
    print_status(name, "gradgradcheck", s);
    return failed;
}

int main(void)
{
    const double points[5] = {-2.0, -0.5, 0.3, 1.0, 2.5};
    tg_tensor *x = tg_from_array(1, (int64_t[]){5}, points);
    if (!x || tg_set_requires_grad(x, true) != TG_OK) {
        fprintf(stderr, "setup failed: %s\n", tg_last_error());
        tg_free(x);
        return 1;
    }
    print_values("x", "points", x);
    int failed = report(&square, "square", x, true) + report(&exp_fn, "exp", x, true)
                 + report(&sinh, "sinh", x, true) + report(&sinh_unsafe, "sinh_unsafe", x, false);
    tg_free(x);
    if (failed)
        fprintf(stderr, "double_backward: %d unexpected result%s\n", failed, failed == 1 ? "" : "s");
    return failed != 0;
}
