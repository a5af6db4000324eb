/* cmd_demo.c - `tapegrad demo`: the engine end to end on the tiny GAN.
 *
 * 1. Build the tiny GAN's training graph (z -> G -> fake, kept; loss_D on
 *    real and detached fake; loss_G through D on fake) and gradient-check
 *    both losses.
 * 2. Train it on a synthetic 12-dimensional distribution (points of a noisy
 *    circle embedded in R^12) with two plans over the one graph: the D step
 *    (groups "D") computes fake and keeps it; the G step (groups "G") reuses
 *    that fake instead of recomputing G's forward. Two Adam optimizers.
 * 3. Compile the reference GAN's two plans at batch 64 and show how much the
 *    arena saves over one buffer per value and gradient. */
#include "cli.h"
#include "commands.h"
#include "opts.h"
#include "tg_models.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define DEMO_B 64
#define DEMO_PI 3.14159265358979323846

#define O(member) offsetof(demo_opts, member)

static const set_row rows[] = {
    {.flag = "--steps", .type = &set_int, .off = O(steps), .lo = 1, .hi = 100000, .def = "400", .arg = "N",
     .help = "training steps"},
    {.flag = "--every", .type = &set_int, .off = O(every), .lo = 1, .hi = 100000, .def = "50", .arg = "N",
     .help = "print losses every N steps"},
    {.flag = "--seed", .type = &set_int, .off = O(seed), .lo = 0, .hi = 2147483647, .def = "1", .arg = "N",
     .help = "random seed"},
};

static const set_table table = {
    .name = "demo",
    .usage = "tapegrad demo [--steps N] [--every N] [--seed N]",
    .about = "Build the tiny GAN (G 4-6-8-12, D 12-8-6-1), gradient-check its two losses, train it on a synthetic "
             "12-dimensional distribution with a D plan and a G plan that reuses the D plan's fake batch, and report "
             "the reference GAN's arena size against the naive sum of buffers.",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
};

static void defaults(demo_opts *o)
{
    memset(o, 0, sizeof *o);
    set_defaults(&table, o);
}

void cmd_demo_help(FILE *out)
{
    demo_opts d;
    defaults(&d);
    opts_help(&table, &d, out);
}

/* real samples: x_j = 0.7 cos(theta - 2 pi j / 12) + noise, theta ~ U(0, 2 pi) */
static void sample_real(tg_rng *r, float *x, int B)
{
    for (int i = 0; i < B; i++) {
        double th = 2 * DEMO_PI * tg_rng_uniform(r);
        for (int j = 0; j < 12; j++)
            x[i * 12 + j] = (float)(0.7 * cos(th - 2 * DEMO_PI * j / 12) + 0.03 * tg_rng_normal(r));
    }
}

/* mean over a batch of | |x_i| - |circle| |: 0 when samples lie on the circle */
static double ring_error(const float *x, int B)
{
    double target = 0.7 * sqrt(6.0), s = 0;
    for (int i = 0; i < B; i++) {
        double n2 = 0;
        for (int j = 0; j < 12; j++) n2 += (double)x[i * 12 + j] * x[i * 12 + j];
        s += fabs(sqrt(n2) - target);
    }
    return s / B;
}

typedef struct demo_gan {
    tg_params *ps;
    tg_graph *g;
    tg_node z, x, fake, loss_d, loss_g;
} demo_gan;

static tg_status demo_gan_build(demo_gan *m, const char *preset, int B, uint64_t seed, tg_error *err)
{
    tg_gan_spec s;
    tg_rng r;
    memset(m, 0, sizeof *m);
    tg_rng_seed(&r, seed, 1);
    if (tg_gan_preset(preset, &s, NULL) != TG_OK) {
        return tg_error_set(err, TG_ERR_ARG, "no GAN preset '%s'", preset);
    }
    m->ps = tg_params_new();
    m->g = m->ps ? tg_graph_new(m->ps) : NULL;
    if (!m->g) {
        return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    }
    tg_status st = tg_gan_params(m->ps, &s, &r, err);
    if (st != TG_OK) return st;
    tg_graph *g = m->g;
    tg_gan_graph gg;
    tg_graph_set_seed(g, seed);
    tg_gan_build(g, &s, B, 0.9f, 0, &gg);
    m->z = gg.z;
    m->x = gg.x;
    m->fake = gg.fake;
    m->loss_d = gg.loss_d;
    m->loss_g = gg.loss_g;
    if (tg_graph_status(g) != TG_OK) {
        return tg_error_set(err, tg_graph_status(g), "%s", tg_graph_error(g));
    }
    return TG_OK;
}

static void demo_gan_free(demo_gan *m)
{
    tg_graph_free(m->g);
    tg_params_free(m->ps);
}

/* D plan and G plan (reusing fake) of m; 0 or -1 with a message */
static int demo_gan_plans(demo_gan *m, tg_pool *pool, tg_plan **pd, tg_plan **pg)
{
    const tg_node losses[2] = {m->loss_d, m->loss_g};
    const tg_plan_opts po[2] = {{.groups = "D", .pool = pool},
                                {.groups = "G", .reuse = &m->fake, .n_reuse = 1, .pool = pool}};
    tg_plan *pl[2];
    if (tg_plans_new(m->g, 2, losses, po, pl) == TG_OK) {
        *pd = pl[0];
        *pg = pl[1];
        return 0;
    }
    cli_err("demo: cannot compile the plans: %s", tg_graph_error(m->g));
    *pd = *pg = NULL;
    return -1;
}

static int check(demo_gan *m, const char *what, tg_node loss)
{
    tg_gc_report rep;
    tg_status st = tg_gradcheck(m->g, loss, &(tg_gc_opts){.skip_inputs = 1}, &rep);
    if (st != TG_OK) {
        cli_err("demo: gradcheck of %s: %s (%s)", what, tg_status_str(st), tg_graph_error(m->g));
        return -1;
    }
    printf("  %-7s %d parameter tensors, max relative error %.2e: %s\n", what, rep.n, rep.max_rel,
           rep.pass ? "PASS" : "FAIL");
    int ok = rep.pass;
    tg_gc_report_free(&rep);
    return ok ? 0 : -1;
}

static int train(demo_gan *m, int steps, int every, uint64_t seed)
{
    static float z[DEMO_B * 4], x[DEMO_B * 12];
    tg_rng r;
    tg_rng_seed(&r, seed, 2);
    tg_bind(m->g, m->z, z);
    tg_bind(m->g, m->x, x);
    tg_rng_fill_normal(&r, z, DEMO_B * 4, 0, 1);
    sample_real(&r, x, DEMO_B);

    printf("\n2. gradient check of the tiny GAN (batch %d, f64, h = 1e-6, tol = 1e-5)\n", DEMO_B);
    if (check(m, "loss_D", m->loss_d) || check(m, "loss_G", m->loss_g)) return CLI_FAIL;

    int rc = CLI_FAIL;
    tg_pool *pool = tg_pool_new(2, NULL);
    tg_plan *pd = NULL, *pg = NULL;
    tg_adam *ad = tg_adam_new(m->ps, "D", 2e-3f, 0.5f, 0.999f, 1e-8f, NULL);
    tg_adam *ag = tg_adam_new(m->ps, "G", 2e-3f, 0.5f, 0.999f, 1e-8f, NULL);
    if (!pool || !ad || !ag) {
        cli_err("demo: out of memory");
        goto done;
    }
    if (demo_gan_plans(m, pool, &pd, &pg)) goto done;
    printf("\n3. training on a noisy circle in R^12 (batch %d, Adam lr 2e-3, betas 0.5/0.999)\n", DEMO_B);
    printf("  D plan: %d forward + %d backward nodes; G plan: %d + %d (G's forward reused)\n",
           tg_plan_forward_len(pd), tg_plan_backward_len(pd), tg_plan_forward_len(pg), tg_plan_backward_len(pg));
    printf("  %6s %9s %9s %12s %12s\n", "step", "loss_D", "loss_G", "ring(real)", "ring(fake)");
    for (int step = 1; step <= steps; step++) {
        tg_rng_fill_normal(&r, z, DEMO_B * 4, 0, 1);
        sample_real(&r, x, DEMO_B);
        tg_status st = tg_plan_forward(pd);
        if (st == TG_OK) st = tg_plan_backward(pd);
        if (st == TG_OK) st = tg_adam_step(ad);
        if (st == TG_OK) st = tg_plan_forward(pg);
        if (st == TG_OK) st = tg_plan_backward(pg);
        if (st == TG_OK) st = tg_adam_step(ag);
        if (st != TG_OK) {
            cli_err("demo: step %d: %s (%s)", step, tg_status_str(st), tg_graph_error(m->g));
            goto done;
        }
        if (step % every == 0 || step == 1 || step == steps)
            printf("  %6d %9.4f %9.4f %12.4f %12.4f\n", step, tg_plan_loss(pd), tg_plan_loss(pg),
                   ring_error(x, DEMO_B), ring_error(tg_plan_value(pd, m->fake), DEMO_B));
    }
    rc = CLI_OK;
done:
    tg_plan_free(pg);
    tg_plan_free(pd);
    tg_adam_free(ad);
    tg_adam_free(ag);
    tg_pool_free(pool);
    return rc;
}

static int memory_report(void)
{
    demo_gan m;
    tg_error err;
    printf("\n4. arena of the reference GAN's plans at batch 64\n");
    if (demo_gan_build(&m, "reference", 64, 1, &err) != TG_OK) {
        cli_err("demo: reference GAN: %s", err.msg);
        demo_gan_free(&m);
        return CLI_FAIL;
    }
    tg_plan *pd, *pg;
    if (demo_gan_plans(&m, NULL, &pd, &pg)) {
        demo_gan_free(&m);
        return CLI_FAIL;
    }
    const tg_plan *p[2] = {pd, pg};
    const char *name[2] = {"D step", "G step"};
    for (int k = 0; k < 2; k++) {
        size_t a = tg_plan_arena_bytes(p[k]), n = tg_plan_naive_bytes(p[k]);
        printf("  %s: arena %8.1f KiB, naive %8.1f KiB (%.1f%% of naive)\n", name[k], a / 1024.0, n / 1024.0,
               n ? 100.0 * (double)a / (double)n : 0.0);
    }
    tg_plan_free(pg);
    tg_plan_free(pd);
    demo_gan_free(&m);
    return CLI_OK;
}

int cmd_demo_parse(int argc, char **argv, demo_opts *o)
{
    defaults(o);
    return opts_parse(&table, argc, argv, o, o->given, NULL);
}

int cmd_demo(int argc, char **argv)
{
    demo_opts o;
    int rc = cmd_demo_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const int steps = o.steps, every = o.every, seed = o.seed;
    demo_gan m;
    tg_error err;
    printf("tapegrad demo (kernels: %s)\n\n1. tiny GAN: G 4-6-8-12, D 12-8-6-1\n", tg_kernel_name());
    if (demo_gan_build(&m, "tiny", DEMO_B, (uint64_t)seed, &err) != TG_OK) {
        cli_err("demo: tiny GAN: %s", err.msg);
        demo_gan_free(&m);
        return CLI_FAIL;
    }
    printf("  %zu G parameters, %zu D parameters, %d graph nodes\n", tg_params_numel(m.ps, "G"),
           tg_params_numel(m.ps, "D"), tg_graph_nodes(m.g));
    rc = train(&m, steps, every, (uint64_t)seed);
    demo_gan_free(&m);
    if (rc == CLI_OK) rc = memory_report();
    return rc;
}
