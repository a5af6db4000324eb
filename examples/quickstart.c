/* quickstart.c - the README's example as a complete program: a logistic
 * discriminator on random "images", trained with Adam for 100 steps.
 *   cc quickstart.c $(pkg-config --cflags --libs tapegrad) */
#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    enum { B = 64, IN = 784 };
    static float images[B * IN];
    tg_rng r;
    tg_rng_seed(&r, 42, 0);
    tg_rng_fill_uniform(&r, images, B * IN, -1.0f, 1.0f);

    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "D", "w", 2, (int[]){IN, 1});
    tg_param *b = tg_param_new(ps, "D", "b", 1, (int[]){1});
    if (!w || !b) {
        fprintf(stderr, "%s\n", tg_params_error(ps));
        return 1;
    }
    tg_param_init(w, TG_INIT_XAVIER, IN, 1, 0, &r);

    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 2, (int[]){B, IN});
    tg_node logit = tg_bias_add(g, tg_matmul(g, x, tg_param_ref(g, w)), tg_param_ref(g, b));
    tg_node loss = tg_bce_logits_const(g, logit, 0.9f);
    tg_bind(g, x, images);
    tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "D"});
    tg_adam *opt = tg_adam_new(ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    if (!p || !opt) {
        fprintf(stderr, "error: %s\n", tg_graph_error(g));
        return 1;
    }
    double first = 0;
    for (int step = 0; step < 100; step++) {
        tg_status s = tg_plan_forward(p);
        if (s == TG_OK) s = tg_plan_backward(p);
        if (s != TG_OK) {
            fprintf(stderr, "error: %s: %s\n", tg_status_str(s), tg_graph_error(g));
            return 1;
        }
        tg_adam_step(opt);
        if (step == 0) first = tg_plan_loss(p);
    }
    printf("loss %.4f -> %.4f (kernels: %s)\n", first, tg_plan_loss(p), tg_kernel_name());
    tg_adam_free(opt);
    tg_plan_free(p);
    tg_graph_free(g);
    tg_params_free(ps);
    return 0;
}
