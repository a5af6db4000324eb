/* test_conv_traj.c - the "conv_traj" suite: a tiny convolutional GAN (conv,
 * conv_transpose, batch norm in G, dropout in D) trained for ITERS
 * iterations in tapegrad replays the trajectory PyTorch computes.
 *
 * tests/fixtures/make_conv_gan_trajectory.py (torch, float32, one thread)
 * writes tests/fixtures/conv_traj/conv_traj.txt (tests/fixture.c's format):
 * the images, the noise of every iteration, the initial parameters, and the
 * expected losses and mean D outputs of every iteration, the first
 * iteration's raw gradients (D's from the D step's backward, G's from the G
 * step's: Adam, whose update barely depends on a gradient's scale, would
 * hide a backward off by a constant factor), the parameters after ITERS
 * Adam steps and G's batch-norm running statistics. Here G and D are built
 * from the same layer lists (tg_seq), their parameters overwritten from the
 * fixture, and the iteration is tapegrad's idiom: fake = keep(G(z)); the D
 * step's plan computes G(z), loss_D = BCE(D(x), 0.9) + BCE(D(detach(fake)),
 * 0), Adam on D; the G step's plan reuses fake, loss_G = BCE(D(fake), 1)
 * through the updated D, Adam on G (one set of plans, tg_plans_new).
 *
 * Dropout: the script applies tapegrad's masks inside its torch forward
 * (mask = f(graph seed, node id, dropout step, element index); the mapping
 * is in the script's docstring). So the graph's dropout node ids must be the
 * ones the fixture assumed ("drop_ids"): the suite prints them and fails
 * naming both when they differ, and checks the script's mask on its own
 * ("maskcheck": an input and a dropout node, id 1, step 7).
 *
 * Errors are per element relative to max(|expected|, FLOOR * max|expected|
 * of the tensor) and per tensor |a - e| / |e| (2-norms); the parameters and
 * running statistics also per tensor relative to their change since the
 * start, |a - e| / |e - init|. Measured on the three kernel variants, worst
 * of the three (avx512 and avx2 give the same numbers here):
 *   - losses 9.6e-8 (loss_G, one float ulp), mean D outputs 3.4e-9;
 *   - first iteration's gradients: per element 1.0e-4 (D/l2.b[2], an
 *     element 2000x smaller than the largest of its tensor: an absolute
 *     7.5e-9, f32 rounding of a sum with cancellation), per tensor 9.5e-7
 *     (portable, G/l4.b: one bias summed over 16 x 144 pixels; 4.7e-7 on
 *     avx512 / avx2);
 *   - parameters after ITERS iterations: per element 1.3e-6, per tensor
 *     3.0e-8, relative to their change 4.4e-6;
 *   - running statistics: per element 4.7e-6 (portable; 1.2e-6 avx512 /
 *     avx2), per tensor 1.5e-7, relative to their change 3.1e-7.
 * The tolerances below are 3-5x these. A backward off by a constant factor
 * 1.001 (conv2d's dy, or batch_norm's dx, tried) moves the first
 * iteration's gradients by 2e-3 per tensor (G's l0.w by 1.001^2), far past
 * TOL_GRAD_NORM, while the parameters after ITERS Adam steps stay within
 * their tolerances (2.2e-8 per tensor, 6.4e-6 of their change at worst):
 * Adam's update barely depends on the gradient's scale.
 *
 * Fixtures come from $TG_FIXTURES (tests/meson.build sets it; by hand:
 * TG_FIXTURES=<repo>/tests/fixtures/conv_traj ./test_conv_traj).
 * TG_TEST_VERBOSE=1 prints every tensor's errors. */
#include "tapegrad.h"
#include "tg_models.h"
#include "fixture.h"

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* must match make_conv_gan_trajectory.py ("dims" holds the numbers) */
static const char *const G_ARCH = "in 8, dense 72 nobias, batch_norm, relu, reshape 8x3x3, "
                                  "conv_t 4 4 s2 p1 nobias, batch_norm, relu, conv_t 1 4 s2 p1, tanh";
static const char *const D_ARCH = "in 1x12x12, conv 8 5 s2 same, leaky_relu 0.2, conv 16 3 s2, leaky_relu 0.2, "
                                  "flatten, dense 16, leaky_relu 0.2, dropout 0.5, dense 1";
#define N_IMAGES 48
#define XDIM 144 /* 1 x 12 x 12 */
#define ZDIM 8
#define BATCH 16
#define ITERS 6
#define FIXTURE "conv_traj.txt"

/* Tolerances: 3-5x the worst measured (header comment). */
#define TOL 4e-7           /* losses, D(x), D(G(z)): relative, per iteration */
#define TOL_GRAD 4e-4      /* first iteration's gradients, per element */
#define TOL_GRAD_NORM 3e-6 /* ..., per tensor */
#define TOL_W 5e-6         /* parameters after ITERS iterations, per element */
#define TOL_W_NORM 1e-7    /* ..., per tensor */
#define TOL_RS 2e-5        /* batch-norm running statistics, per element */
#define TOL_RS_NORM 5e-7   /* ..., per tensor */
#define TOL_UPD 2e-5       /* parameters and statistics: per tensor, relative to the change since the start */
#define FLOOR 1e-3

typedef struct run {
    fx_file *f;
    tg_params *ps;
    tg_graph *g;
    tg_pool *pool;
    tg_plan *pd, *pg;
    tg_adam *ad, *ag;
    tg_node z, x, fake, d_real, d_fake_det, d_fake, loss_d, loss_g;
    float *zs;     /* ITERS x BATCH x ZDIM: every iteration's noise */
    float *images; /* N_IMAGES x XDIM, pixel / 127.5 - 1 */
    float zb[BATCH * ZDIM], xb[BATCH * XDIM]; /* bound to z and x */
    int drop[3];   /* the dropout nodes of D(x), D(detach(fake)), D(fake) */
} run;

typedef struct iter_out {
    double loss_d, loss_g, d_real, d_fake;
} iter_out;

static int verbose(void) { return getenv("TG_TEST_VERBOSE") != NULL; }

/* the ids of the graph's dropout nodes, in graph order; returns how many */
static int dropout_ids(const tg_graph *g, int *ids, int max)
{
    int n = 0;
    for (int i = 0; i < tg_graph_nodes(g); i++)
        if (!strcmp(tg_node_op(g, (tg_node){i}), "dropout")) {
            if (n < max) ids[n] = i;
            n++;
        }
    return n;
}

static void parse(const char *text, const char *group, tg_seq_spec *s)
{
    tg_error e;
    memset(s, 0, sizeof *s);
    ck_assert_msg(tg_seq_parse(text, group, s, &e) == TG_OK, "%s: %s", group, e.msg);
}

/* the GAN's graph, in the order the fixture's drop_ids assume */
static void build_gan(run *r, const tg_seq_spec *G, const tg_seq_spec *D)
{
    tg_graph *g = r->g;
    r->z = tg_input(g, "z", 2, (int[]){BATCH, ZDIM});
    r->x = tg_input(g, "x", 4, (int[]){BATCH, 1, 12, 12});
    r->fake = tg_keep(g, tg_seq(g, G, r->z));
    r->d_real = tg_seq(g, D, r->x);
    r->d_fake_det = tg_seq(g, D, tg_detach(g, r->fake));
    r->loss_d = tg_add(g, tg_bce_logits_const(g, r->d_real, 0.9f), tg_bce_logits_const(g, r->d_fake_det, 0.0f));
    r->d_fake = tg_seq(g, D, r->fake);
    r->loss_g = tg_gen_loss(g, r->d_fake);
    ck_assert_msg(tg_graph_status(g) == TG_OK, "graph: %s", tg_graph_error(g));
    ck_assert_int_eq(tg_bind(g, r->z, r->zb), TG_OK);
    ck_assert_int_eq(tg_bind(g, r->x, r->xb), TG_OK);
}

/* the models with the fixture's initial parameters, the graph, the plans
 * and both optimizers; threads > 1: on a pool */
static void run_init(run *r, int threads)
{
    memset(r, 0, sizeof *r);
    r->f = fx_need_file(FIXTURE);
    const double *dims = fx_need(r->f, "dims", 6);
    ck_assert_msg(dims[0] == N_IMAGES && dims[1] * dims[2] == XDIM && dims[3] == ZDIM && dims[4] == BATCH &&
                      dims[5] == ITERS,
                  "the fixture's dims %g %g %g %g %g %g are not the suite's", dims[0], dims[1], dims[2], dims[3],
                  dims[4], dims[5]);
    const double *hyper = fx_need(r->f, "hyper", 5); /* lr, beta1, beta2, eps, real label */
    ck_assert_msg(hyper[4] == 0.9, "real label %g, the graph uses 0.9", hyper[4]);

    tg_seq_spec G, D;
    parse(G_ARCH, "G", &G);
    parse(D_ARCH, "D", &D);
    tg_error e;
    tg_rng rng;
    tg_rng_seed(&rng, 1, 0);
    r->ps = tg_params_new();
    ck_assert_ptr_nonnull(r->ps);
    ck_assert_msg(tg_seq_params(r->ps, &G, TG_INIT_PYTORCH, 0, &rng, &e) == TG_OK, "%s", e.msg);
    ck_assert_msg(tg_seq_params(r->ps, &D, TG_INIT_PYTORCH, 0, &rng, &e) == TG_OK, "%s", e.msg);
    /* every parameter (running statistics included) from the fixture, which
     * holds exactly the models' parameters */
    const int np = tg_params_count(r->ps);
    ck_assert_msg(np == (int)fx_need(r->f, "n_params", 1)[0], "the models have %d parameters, the fixture %g", np,
                  fx_need(r->f, "n_params", 1)[0]);
    for (int i = 0; i < np; i++) {
        tg_param *p = tg_params_at(r->ps, i);
        char name[96];
        snprintf(name, sizeof name, "init/%s/%s", tg_param_group(p), tg_param_name(p));
        fx_need_floats(r->f, name, tg_param_data(p), tg_param_numel(p));
    }

    r->zs = malloc(sizeof(float) * ITERS * BATCH * ZDIM);
    r->images = malloc(sizeof(float) * N_IMAGES * XDIM);
    ck_assert(r->zs && r->images);
    fx_need_floats(r->f, "z", r->zs, (size_t)ITERS * BATCH * ZDIM);
    const double *px = fx_need(r->f, "images", (size_t)N_IMAGES * XDIM);
    for (size_t i = 0; i < (size_t)N_IMAGES * XDIM; i++) r->images[i] = (float)px[i] / 127.5f - 1.0f;

    r->g = tg_graph_new(r->ps);
    ck_assert_ptr_nonnull(r->g);
    tg_graph_set_seed(r->g, (uint64_t)fx_need(r->f, "graph_seed", 1)[0]); /* and the dropout step to 0 */
    build_gan(r, &G, &D);
    const double *want = fx_need(r->f, "drop_ids", 3);
    const int n = dropout_ids(r->g, r->drop, 3);
    ck_assert_msg(n == 3 && r->drop[0] == (int)want[0] && r->drop[1] == (int)want[1] && r->drop[2] == (int)want[2],
                  "the graph's dropout nodes are %d: ids %d, %d, %d; the fixture's torch masks assume ids %g, %g, %g "
                  "(the graph's construction changed: set DROP_IDS in make_conv_gan_trajectory.py and regenerate)",
                  n, r->drop[0], n > 1 ? r->drop[1] : -1, n > 2 ? r->drop[2] : -1, want[0], want[1], want[2]);

    if (threads > 1) {
        tg_error pe;
        r->pool = tg_pool_new(threads, &pe);
        ck_assert_msg(r->pool != NULL, "%s", pe.msg);
    }
    const tg_node outs[2] = {r->loss_d, r->loss_g}, dout[2] = {r->d_real, r->d_fake_det};
    const tg_plan_opts po[2] = {
        {.groups = "D", .pool = r->pool, .outputs = dout, .n_outputs = 2},
        {.groups = "G", .pool = r->pool, .reuse = &r->fake, .n_reuse = 1},
    };
    tg_plan *pl[2];
    ck_assert_msg(tg_plans_new(r->g, 2, outs, po, pl) == TG_OK, "plans: %s", tg_graph_error(r->g));
    r->pd = pl[0];
    r->pg = pl[1];
    const float lr = (float)hyper[0], b1 = (float)hyper[1], b2 = (float)hyper[2], eps = (float)hyper[3];
    r->ad = tg_adam_new(r->ps, "D", lr, b1, b2, eps, &e);
    ck_assert_msg(r->ad != NULL, "%s", e.msg);
    r->ag = tg_adam_new(r->ps, "G", lr, b1, b2, eps, &e);
    ck_assert_msg(r->ag != NULL, "%s", e.msg);
    if (r->pool) {
        ck_assert_int_eq(tg_adam_set_pool(r->ad, r->pool), TG_OK);
        ck_assert_int_eq(tg_adam_set_pool(r->ag, r->pool), TG_OK);
    }
}

static void run_free(run *r)
{
    tg_plan_free(r->pd);
    tg_plan_free(r->pg);
    tg_adam_free(r->ad);
    tg_adam_free(r->ag);
    tg_graph_free(r->g);
    tg_pool_free(r->pool);
    tg_params_free(r->ps);
    fx_free(r->f);
    free(r->zs);
    free(r->images);
}

static double mean_sigmoid(const float *logit, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += 1.0 / (1.0 + exp(-(double)logit[i]));
    return s / n;
}

/* copies of the gradients of every trainable parameter of group (NULL
 * entries for the others) into g0 */
static void grab_grads(run *r, const char *group, float **g0)
{
    for (int i = 0; i < tg_params_count(r->ps); i++) {
        tg_param *p = tg_params_at(r->ps, i);
        if (strcmp(tg_param_group(p), group) || tg_param_is_state(p)) continue;
        g0[i] = malloc(tg_param_numel(p) * sizeof(float));
        ck_assert_ptr_nonnull(g0[i]);
        memcpy(g0[i], tg_param_grad(p), tg_param_numel(p) * sizeof(float));
    }
}

/* iteration it: the D step then the G step; g0 (may be NULL) receives D's
 * gradients after the D step's backward and G's after the G step's */
static void run_iter(run *r, int it, iter_out *o, float **g0)
{
    for (int j = 0; j < BATCH; j++)
        memcpy(r->xb + (size_t)j * XDIM, r->images + (size_t)((it * BATCH + j) % N_IMAGES) * XDIM,
               XDIM * sizeof(float));
    memcpy(r->zb, r->zs + (size_t)it * BATCH * ZDIM, sizeof r->zb);
    tg_status s;
    ck_assert_msg((s = tg_plan_forward(r->pd)) == TG_OK && (s = tg_plan_backward(r->pd)) == TG_OK,
                  "iteration %d, D step: %s: %s", it, tg_status_str(s), tg_graph_error(r->g));
    o->loss_d = tg_plan_loss(r->pd);
    o->d_real = mean_sigmoid(tg_plan_value(r->pd, r->d_real), BATCH);
    o->d_fake = mean_sigmoid(tg_plan_value(r->pd, r->d_fake_det), BATCH);
    if (g0) grab_grads(r, "D", g0);
    ck_assert_int_eq(tg_adam_step(r->ad), TG_OK);
    ck_assert_msg((s = tg_plan_forward(r->pg)) == TG_OK && (s = tg_plan_backward(r->pg)) == TG_OK,
                  "iteration %d, G step: %s: %s", it, tg_status_str(s), tg_graph_error(r->g));
    o->loss_g = tg_plan_loss(r->pg);
    if (g0) grab_grads(r, "G", g0);
    ck_assert_int_eq(tg_adam_step(r->ag), TG_OK);
}

/* max over i of |a_i - e_i| / max(|e_i|, FLOOR * max|e|); *at = its index */
static double rel_err(const double *a, const double *e, size_t n, size_t *at)
{
    const double floor_ = FLOOR * fx_maxabs(e, n);
    double worst = 0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        const double den = fmax(fabs(e[i]), floor_);
        const double r = den > 0 ? fabs(a[i] - e[i]) / den : fabs(a[i] - e[i]);
        if (!(r <= worst)) { /* NaN counts as the worst */
            worst = isnan(r) ? INFINITY : r;
            *at = i;
        }
    }
    return worst;
}

/* |a - e| / |e| (2-norms): what a wrong constant factor shows up in */
static double norm_err(const double *a, const double *e, size_t n)
{
    double d2 = 0, e2 = 0;
    for (size_t k = 0; k < n; k++) {
        d2 += (a[k] - e[k]) * (a[k] - e[k]);
        e2 += e[k] * e[k];
    }
    const double r = e2 > 0 ? sqrt(d2 / e2) : sqrt(d2);
    return isnan(r) ? INFINITY : r;
}

/* the worst errors over a set of tensors, and where */
typedef struct errs {
    double elem, norm;
    char elem_at[192], norm_at[96];
} errs;

/* compares a (float, n values) with the fixture's record `name`; with
 * init (the record of the starting values), also the change from init:
 * |a - e| / |e - init| into *upd */
static void compare(const run *r, const char *name, const float *a, size_t n, const char *init, errs *w,
                    double *upd)
{
    const double *e = fx_need(r->f, name, n);
    double *ad = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(ad);
    for (size_t k = 0; k < n; k++) ad[k] = a[k];
    size_t at;
    const double re = rel_err(ad, e, n, &at), ne = norm_err(ad, e, n);
    double ue = 0;
    if (init) {
        const double *e0 = fx_need(r->f, init, n);
        double d2 = 0, u2 = 0;
        for (size_t k = 0; k < n; k++) {
            d2 += (ad[k] - e[k]) * (ad[k] - e[k]);
            u2 += (e[k] - e0[k]) * (e[k] - e0[k]);
        }
        ue = u2 > 0 ? sqrt(d2 / u2) : sqrt(d2);
        if (!(ue <= *upd)) *upd = isnan(ue) ? INFINITY : ue;
    }
    if (verbose())
        printf("conv_traj:   %-18s per element %.3g ([%zu]), per tensor %.3g, of the change %.3g\n", name, re, at, ne,
               ue);
    if (!(re <= w->elem)) {
        w->elem = re;
        snprintf(w->elem_at, sizeof w->elem_at, "%s[%zu]: %.9g vs torch %.9g", name, at, ad[at], e[at]);
    }
    if (!(ne <= w->norm)) {
        w->norm = ne;
        snprintf(w->norm_at, sizeof w->norm_at, "%s", name);
    }
    free(ad);
}

static void report(const char *what, const errs *w)
{
    printf("conv_traj: %s: max relative error per element %.3g (%s), per tensor %.3g (%s)\n", what, w->elem,
           w->elem_at, w->norm, w->norm_at);
}

static void assert_errs(const char *what, const errs *w, double tol, double tol_norm)
{
    ck_assert_msg(w->elem <= tol, "%s: relative error %.3g > %g at %s", what, w->elem, tol, w->elem_at);
    ck_assert_msg(w->norm <= tol_norm, "%s: a tensor's relative error %.3g > %g (%s)", what, w->norm, tol_norm,
                  w->norm_at);
}

START_TEST(test_trajectory)
{
    run r;
    run_init(&r, 1);
    printf("conv_traj: dropout node ids %d (D(x)), %d (D(detach(fake))), %d (D(fake)), as the fixture assumed\n",
           r.drop[0], r.drop[1], r.drop[2]);
    const int np = tg_params_count(r.ps);
    float **g0 = calloc((size_t)np, sizeof *g0);
    ck_assert_ptr_nonnull(g0);
    double got[4][ITERS];
    for (int it = 0; it < ITERS; it++) {
        iter_out o;
        run_iter(&r, it, &o, it == 0 ? g0 : NULL);
        got[0][it] = o.loss_d, got[1][it] = o.loss_g, got[2][it] = o.d_real, got[3][it] = o.d_fake;
    }
    /* one D-step and one G-step training forward per iteration */
    ck_assert_int_eq((int)tg_graph_dropout_step(r.g), 2 * ITERS);

    static const char *const names[4] = {"loss_D", "loss_G", "d_real", "d_fake"};
    double worst[4];
    int first[4];
    for (int q = 0; q < 4; q++) {
        const double *e = fx_need(r.f, names[q], ITERS);
        size_t at;
        worst[q] = rel_err(got[q], e, ITERS, &at);
        first[q] = -1; /* the first iteration that is off: a forward bug, or drift */
        for (int it = ITERS - 1; it >= 0; it--)
            if (!(fabs(got[q][it] - e[it]) <= TOL * fabs(e[it]))) first[q] = it;
        printf("conv_traj: %s max relative error %.3g (iteration %zu: %.9g vs torch %.9g)\n", names[q], worst[q], at,
               got[q][at], e[at]);
        for (int it = 0; it < ITERS && verbose(); it++)
            printf("conv_traj:   %s iteration %d: %.9g vs torch %.9g\n", names[q], it, got[q][it], e[it]);
    }
    errs eg = {0}, ew = {0}, es = {0};
    double uw = 0, us = 0, unused = 0; /* the worst tensor's error relative to its change */
    for (int i = 0; i < np; i++) {
        tg_param *p = tg_params_at(r.ps, i);
        char name[96], init[96];
        const size_t n = tg_param_numel(p);
        if (g0[i]) {
            snprintf(name, sizeof name, "grad0/%s/%s", tg_param_group(p), tg_param_name(p));
            compare(&r, name, g0[i], n, NULL, &eg, &unused);
        }
        snprintf(name, sizeof name, "final/%s/%s", tg_param_group(p), tg_param_name(p));
        snprintf(init, sizeof init, "init/%s/%s", tg_param_group(p), tg_param_name(p));
        const int st = tg_param_is_state(p);
        compare(&r, name, tg_param_data(p), n, init, st ? &es : &ew, st ? &us : &uw);
    }
    report("first iteration's gradients", &eg);
    report("parameters after the last iteration", &ew);
    report("batch-norm running statistics", &es);
    printf("conv_traj: relative to the change since the start: parameters %.3g, running statistics %.3g (per "
           "tensor)\n", uw, us);
    fflush(stdout);
    for (int q = 0; q < 4; q++)
        ck_assert_msg(worst[q] <= TOL, "%s: max relative error %.3g > %g; first off at iteration %d", names[q],
                      worst[q], TOL, first[q]);
    assert_errs("first iteration's gradients", &eg, TOL_GRAD, TOL_GRAD_NORM);
    assert_errs("parameters after the last iteration", &ew, TOL_W, TOL_W_NORM);
    assert_errs("batch-norm running statistics", &es, TOL_RS, TOL_RS_NORM);
    ck_assert_msg(uw <= TOL_UPD, "parameters: a tensor's error relative to its change %.3g > %g", uw, TOL_UPD);
    ck_assert_msg(us <= TOL_UPD, "running statistics: a tensor's error relative to its change %.3g > %g", us,
                  TOL_UPD);
    for (int i = 0; i < np; i++) free(g0[i]);
    free(g0);
    run_free(&r);
}
END_TEST

/* the script's reimplementation of the mask against the engine's, alone:
 * y = dropout(ones) at node id and step from "maskcheck" */
START_TEST(test_mask)
{
    fx_file *f = fx_need_file(FIXTURE);
    const double *mc = fx_need(f, "maskcheck", 4); /* node id, step, rows, cols */
    const int rows = (int)mc[2], cols = (int)mc[3];
    const size_t n = (size_t)rows * cols;
    tg_graph *g = tg_graph_new(NULL);
    ck_assert_ptr_nonnull(g);
    tg_graph_set_seed(g, (uint64_t)fx_need(f, "graph_seed", 1)[0]);
    const tg_node x = tg_input(g, "x", 2, (int[]){rows, cols});
    tg_node h = x;
    while (tg_graph_nodes(g) < (int)mc[0]) h = tg_scale(g, h, 1.0f); /* the dropout node gets id mc[0] */
    const tg_node y = tg_dropout(g, h, 0.5f);
    ck_assert_int_eq(y.id, (int)mc[0]);
    float *ones = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(ones);
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    ck_assert_int_eq(tg_bind(g, x, ones), TG_OK);
    tg_plan *p = fx_plan(g, y, &(tg_plan_opts){.forward_only = 1});
    tg_graph_set_dropout_step(g, (uint64_t)mc[1]);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    const float *v = tg_plan_value(p, y);
    const double *e = fx_need(f, "maskcheck.y", n);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(v[i] == e[i], "dropout mask of node %d at step %d, element %zu: tapegrad %g, the script %g",
                      y.id, (int)mc[1], i, (double)v[i], e[i]);
        kept += v[i] != 0;
    }
    ck_assert_msg(kept > n / 4 && kept < 3 * n / 4, "%zu of %zu kept", kept, n);
    tg_plan_free(p);
    tg_graph_free(g);
    free(ones);
    fx_free(f);
}
END_TEST

/* the same trajectory on a 2-thread pool gives the same bits */
START_TEST(test_threads)
{
    run a, b;
    run_init(&a, 1);
    run_init(&b, 2);
    for (int it = 0; it < ITERS; it++) {
        iter_out oa, ob;
        run_iter(&a, it, &oa, NULL);
        run_iter(&b, it, &ob, NULL);
        ck_assert_msg(!memcmp(&oa, &ob, sizeof oa), "iteration %d: losses differ: %.17g/%.17g vs %.17g/%.17g", it,
                      oa.loss_d, oa.loss_g, ob.loss_d, ob.loss_g);
    }
    for (int i = 0; i < tg_params_count(a.ps); i++) {
        tg_param *p = tg_params_at(a.ps, i), *q = tg_params_at(b.ps, i);
        ck_assert_msg(!memcmp(tg_param_data(p), tg_param_data(q), tg_param_numel(p) * sizeof(float)),
                      "%s/%s differs between 1 and 2 threads", tg_param_group(p), tg_param_name(p));
    }
    run_free(&a);
    run_free(&b);
}
END_TEST

static Suite *conv_traj_suite(void)
{
    Suite *s = suite_create("conv_traj");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_mask);
    tcase_add_test(tc, test_trajectory);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("conv_traj");
    if (gate >= 0) return gate;
    return tg_run_suite(conv_traj_suite());
}
