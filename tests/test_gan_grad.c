/* test_gan_grad.c - Check suite "gan_grad": parameter sharing and
 * stop-gradient on a GAN-shaped graph, against PyTorch.
 *
 * The graph is the "tiny" preset (G 4-6-8-12 LeakyReLU(0.2) + tanh,
 * D 12-8-6-1 LeakyReLU(0.2) + logit, batch 8), with D applied three times:
 *     fake   = keep(G(z))
 *     loss_D = BCE(D(x), 0.9) + BCE(D(detach(fake)), 0)
 *     loss_G = gen_loss(D(fake))            (non-saturating: BCE(D(G(z)), 1))
 * Every plan is compiled with .eval = 1, so the preset's dropout is the
 * identity, as in the PyTorch script (which has no dropout).
 *
 * tests/fixtures/make_torch_fixtures.py builds the same network in float64
 * from float32-rounded initial weights, which it exports ("init.G/l0.w", ...):
 * the test overwrites every parameter with them, so both sides start from the
 * same numbers. It exports loss_D, loss_G, d loss_D / d D-params ("gradD.*"),
 * d loss_G / d G-params ("gradG.*"), and 3 Adam steps (lr 2e-4, betas 0.5 /
 * 0.999, eps 1e-8) of the standard loop (D step, then G step on the same
 * fake with the updated D): losses and final weights ("train.*").
 *
 * Tolerances: f64 plans 1e-10 relative to max(|want|, 1e-3 max|want|) of each
 * tensor; f32 plans 1e-4 relative to the tensor's largest gradient.
 */
#include "tapegrad.h"
#include "tg_models.h"
#include "internal.h"   /* tg_plan_grad64: gradients of f64 plans */
#include "fixture.h"

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B 8
#define ZD 4
#define XD 12
#define SENTINEL 1234.5f

static const tg_precision PREC[2] = {TG_F32, TG_F64};
static const char *const PNAME[2] = {"f32", "f64"};

typedef struct gan {
    fx_file *f;
    tg_gan_mlp spec;
    tg_params *ps;
    tg_graph *g;
    tg_node z, x, fake, bce_real, bce_fake, loss_d, dfake, loss_g;
    float zb[B * ZD], xb[B * XD];
} gan;

static void pkey(char *buf, size_t len, const char *prefix, const tg_param *p)
{
    snprintf(buf, len, "%s.%s/%s", prefix, tg_param_group(p), tg_param_name(p));
}

static int is_group(const tg_param *p, const char *grp) { return !strcmp(tg_param_group(p), grp); }

static void gan_new(gan *t)
{
    memset(t, 0, sizeof *t);
    t->f = fx_load("gan.txt");
    ck_assert_msg(t->f != NULL, "%s", fx_error());
    ck_assert_int_eq(tg_gan_mlp_preset("tiny", &t->spec, NULL), TG_OK);
    static const int gw[] = {ZD, 6, 8, XD}, dw[] = {XD, 8, 6, 1};
    ck_assert_int_eq(t->spec.G.n_layers, 3);
    ck_assert_int_eq(t->spec.D.n_layers, 3);
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(t->spec.G.widths[k], gw[k]);
        ck_assert_int_eq(t->spec.D.widths[k], dw[k]);
    }
    ck_assert(t->spec.G.hidden == TG_ACT_LEAKY_RELU && t->spec.G.output == TG_ACT_TANH);
    ck_assert(t->spec.D.hidden == TG_ACT_LEAKY_RELU && t->spec.D.output == TG_ACT_NONE);
    ck_assert(t->spec.G.slope == 0.2f && t->spec.D.slope == 0.2f);

    t->ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 1, 0);
    ck_assert_int_eq(tg_mlp_params(t->ps, &t->spec.G, t->spec.init, 0.02f, &r), TG_OK);
    ck_assert_int_eq(tg_mlp_params(t->ps, &t->spec.D, t->spec.init, 0.02f, &r), TG_OK);
    /* every parameter from the fixture: 3 layers x (w, b) x 2 nets */
    ck_assert_int_eq(tg_params_count(t->ps), 12);
    char key[160];
    for (int i = 0; i < tg_params_count(t->ps); i++) {
        tg_param *p = tg_params_at(t->ps, i);
        pkey(key, sizeof key, "init", p);
        fx_need_floats(t->f, key, tg_param_data(p), tg_param_numel(p));
    }
    fx_need_floats(t->f, "z", t->zb, B * ZD);
    fx_need_floats(t->f, "x", t->xb, B * XD);

    tg_graph *g = t->g = tg_graph_new(t->ps);
    t->z = tg_input(g, "z", 2, (int[]){B, ZD});
    t->x = tg_input(g, "x", 2, (int[]){B, XD});
    t->fake = tg_keep(g, tg_mlp(g, &t->spec.G, t->z));
    t->bce_real = tg_bce_logits_const(g, tg_mlp(g, &t->spec.D, t->x), 0.9f);
    t->bce_fake = tg_bce_logits_const(g, tg_mlp(g, &t->spec.D, tg_detach(g, t->fake)), 0.0f);
    t->loss_d = tg_add(g, t->bce_real, t->bce_fake);
    t->dfake = tg_mlp(g, &t->spec.D, t->fake);
    t->loss_g = tg_gen_loss(g, t->dfake);
    ck_assert_msg(tg_graph_status(g) == TG_OK, "%s", tg_graph_error(g));
    tg_bind(g, t->z, t->zb);
    tg_bind(g, t->x, t->xb);
}

static void gan_free(gan *t)
{
    tg_graph_free(t->g);
    tg_params_free(t->ps);
    fx_free(t->f);
}

static tg_plan *plan_or_die(gan *t, tg_node out, const char *groups, int prec, int reuse)
{
    tg_plan *p = tg_plan_new(t->g, out, &(tg_plan_opts){.groups = groups, .eval = 1, .precision = PREC[prec],
                                                        .reuse = reuse ? &t->fake : NULL, .n_reuse = reuse});
    ck_assert_msg(p != NULL, "plan: %s", tg_graph_error(t->g));
    return p;
}

/* the D step and the G step of t as one set, the G step reusing the kept
 * fake when `reuse` */
static void dg_plans(gan *t, int prec, int reuse, tg_pool *pool, tg_plan **pd, tg_plan **pg)
{
    const tg_plan_opts o[2] = {
        {.groups = "D", .eval = 1, .precision = PREC[prec], .pool = pool},
        {.groups = "G", .eval = 1, .precision = PREC[prec], .pool = pool, .reuse = reuse ? &t->fake : NULL,
         .n_reuse = reuse},
    };
    tg_plan *p[2];
    ck_assert_msg(tg_plans_new(t->g, 2, (tg_node[]){t->loss_d, t->loss_g}, o, p) == TG_OK, "plan: %s",
                  tg_graph_error(t->g));
    *pd = p[0];
    *pg = p[1];
}

static void fill_grads(gan *t, const char *grp, float v)
{
    for (int i = 0; i < tg_params_count(t->ps); i++) {
        tg_param *p = tg_params_at(t->ps, i);
        if (!is_group(p, grp)) continue;
        for (size_t e = 0; e < tg_param_numel(p); e++) tg_param_grad(p)[e] = v;
    }
}

static void check_sentinel(gan *t, const char *grp, const char *when)
{
    for (int i = 0; i < tg_params_count(t->ps); i++) {
        tg_param *p = tg_params_at(t->ps, i);
        if (!is_group(p, grp)) continue;
        for (size_t e = 0; e < tg_param_numel(p); e++)
            ck_assert_msg(tg_param_grad(p)[e] == SENTINEL, "%s: gradient %s/%s[%zu] = %g was written",
                          when, grp, tg_param_name(p), e, (double)tg_param_grad(p)[e]);
    }
}

/* every parameter of group grp: the plan's gradient (f32: the store; f64:
 * the plan's double buffer) vs the fixture records "<prefix>.<grp>/<name>" */
static void check_group_grads(gan *t, tg_plan *p, const char *grp, const char *prefix, int prec)
{
    char key[160];
    double got[12 * 8];
    for (int i = 0; i < tg_params_count(t->ps); i++) {
        tg_param *par = tg_params_at(t->ps, i);
        if (!is_group(par, grp)) continue;
        size_t n = tg_param_numel(par);
        ck_assert(n <= sizeof got / sizeof got[0]);
        ck_assert_msg(tg_plan_has_param_grad(p, par), "plan has no gradient for %s/%s", grp, tg_param_name(par));
        if (PREC[prec] == TG_F32) {
            for (size_t e = 0; e < n; e++) got[e] = tg_param_grad(par)[e];
        } else {
            const double *g64 = tg_plan_grad64(p, tg_param_ref(t->g, par));
            ck_assert_msg(g64 != NULL, "no f64 gradient for %s/%s", grp, tg_param_name(par));
            memcpy(got, g64, n * sizeof(double));
        }
        pkey(key, sizeof key, prefix, par);
        const double *want = fx_need(t->f, key, n);
        double mx = fx_maxabs(want, n);
        ck_assert_msg(mx > 0, "fixture %s is all zeros", key);
        int ok = prec ? fx_close(key, got, want, n, 1e-10, 1e-3 * mx) : fx_close(key, got, want, n, 1e-4, mx);
        ck_assert_msg(ok, "%s %s", PNAME[prec], fx_error());
    }
}

static void check_loss(const char *what, int prec, double got, double want, double rtol)
{
    ck_assert_msg(fabs(got - want) <= rtol * fabs(want), "%s %s = %.17g, torch %.17g", PNAME[prec], what, got, want);
}

/* ============================================================ D step */

/* D-step plan (groups "D"): loss_D and d loss_D / d D-params == torch. D is
 * used twice (real and detached fake) and its gradient is the sum over both
 * uses. No gradient reaches G: not for a "D" plan, and not even for a plan
 * asking for every group, because of the detach. */
START_TEST(test_d_step)
{
    int prec = _i;
    gan t;
    gan_new(&t);
    fill_grads(&t, "G", SENTINEL);
    tg_plan *p = plan_or_die(&t, t.loss_d, "D", prec, 0);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    check_loss("loss_D", prec, tg_plan_loss(p), fx_need(t.f, "lossD", 1)[0], prec ? 1e-12 : 1e-5);
    check_group_grads(&t, p, "D", "gradD", prec);
    check_sentinel(&t, "G", "D step");
    tg_plan_free(p);

    /* stop-gradient: groups "*" still gives G nothing through detach(fake) */
    p = plan_or_die(&t, t.loss_d, "*", prec, 0);
    for (int i = 0; i < tg_params_count(t.ps); i++) {
        tg_param *par = tg_params_at(t.ps, i);
        ck_assert_int_eq(tg_plan_has_param_grad(p, par), is_group(par, "D"));
    }
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    check_group_grads(&t, p, "D", "gradD", prec);
    check_sentinel(&t, "G", "D step with groups \"*\"");
    tg_plan_free(p);
    gan_free(&t);
}
END_TEST

/* Parameter sharing, hand-derived: the D gradient of loss_D = a + b is the
 * sum of the D gradients of a = BCE(D(x), 0.9) and b = BCE(D(detach fake), 0)
 * computed by separate plans (f64, to rounding). */
START_TEST(test_d_sharing_sum)
{
    gan t;
    gan_new(&t);
    tg_plan *pa = plan_or_die(&t, t.bce_real, "D", 1, 0), *pb = plan_or_die(&t, t.bce_fake, "D", 1, 0);
    tg_plan *pab = plan_or_die(&t, t.loss_d, "D", 1, 0);
    ck_assert_int_eq(tg_plan_forward(pa), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pa), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pb), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pb), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pab), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pab), TG_OK);
    ck_assert(fabs(tg_plan_loss(pab) - (tg_plan_loss(pa) + tg_plan_loss(pb))) <= 1e-15 * tg_plan_loss(pab));
    for (int i = 0; i < tg_params_count(t.ps); i++) {
        tg_param *par = tg_params_at(t.ps, i);
        if (!is_group(par, "D")) continue;
        tg_node n = tg_param_ref(t.g, par);
        const double *ga = tg_plan_grad64(pa, n), *gb = tg_plan_grad64(pb, n), *gab = tg_plan_grad64(pab, n);
        ck_assert(ga && gb && gab);
        size_t cnt = tg_param_numel(par);
        double mx = 0;
        for (size_t e = 0; e < cnt; e++) mx = fmax(mx, fabs(gab[e]));
        int both = 0;
        for (size_t e = 0; e < cnt; e++) {
            ck_assert_msg(fabs(gab[e] - (ga[e] + gb[e])) <= 1e-14 * mx, "D/%s[%zu]: %.17g != %.17g + %.17g",
                          tg_param_name(par), e, gab[e], ga[e], gb[e]);
            both += ga[e] != 0 && gb[e] != 0;
        }
        ck_assert_msg(both > 0, "D/%s: the two uses do not both contribute", tg_param_name(par));
    }
    tg_plan_free(pa);
    tg_plan_free(pb);
    tg_plan_free(pab);
    gan_free(&t);
}
END_TEST

/* ============================================================ G step */

/* G-step plan (groups "G"): loss_G and d loss_G / d G-params == torch, and
 * it leaves D's gradients alone (tg_plan_has_param_grad == 0, and sentinel
 * values in D's gradient buffers survive). In f32 the plan reuses the fake
 * kept by the D-step plan's forward (tg_keep + opts.reuse), so its forward
 * skips G; f64 plans cannot reuse and recompute it. */
START_TEST(test_g_step)
{
    int prec = _i;
    gan t;
    gan_new(&t);
    int reuse = PREC[prec] == TG_F32;
    tg_plan *pd, *pg;
    dg_plans(&t, prec, reuse, NULL, &pd, &pg);
    for (int i = 0; i < tg_params_count(t.ps); i++) {
        tg_param *par = tg_params_at(t.ps, i);
        ck_assert_int_eq(tg_plan_has_param_grad(pg, par), is_group(par, "G"));
        ck_assert_int_eq(tg_plan_has_param_grad(pd, par), is_group(par, "D"));
    }
    /* D step (its forward computes the kept fake) */
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
    if (reuse) {
        tg_plan *full = plan_or_die(&t, t.loss_g, "G", prec, 0);
        ck_assert_int_lt(tg_plan_forward_len(pg), tg_plan_forward_len(full));
        tg_plan_free(full);
    }
    /* G step: D's gradients must not be touched */
    fill_grads(&t, "D", SENTINEL);
    ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
    check_sentinel(&t, "D", "G step");
    check_loss("loss_G", prec, tg_plan_loss(pg), fx_need(t.f, "lossG", 1)[0], prec ? 1e-12 : 1e-5);
    check_group_grads(&t, pg, "G", "gradG", prec);
    tg_plan_free(pg);
    tg_plan_free(pd);
    gan_free(&t);
}
END_TEST

/* f32: the G step reusing the kept fake gives the same numbers, bit for bit,
 * as a G-step plan that recomputes G */
START_TEST(test_g_step_reuse_exact)
{
    gan t;
    gan_new(&t);
    tg_plan *pd, *pr;
    dg_plans(&t, 0, 1, NULL, &pd, &pr);
    tg_plan *pf = plan_or_die(&t, t.loss_g, "G", 0, 0);
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pr), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pr), TG_OK);
    size_t tot = tg_params_numel(t.ps, "G");
    float *save = malloc(tot * sizeof(float));
    ck_assert(save);
    size_t off = 0;
    for (int i = 0; i < tg_params_count(t.ps); i++) {
        tg_param *p = tg_params_at(t.ps, i);
        if (!is_group(p, "G")) continue;
        memcpy(save + off, tg_param_grad(p), tg_param_numel(p) * sizeof(float));
        off += tg_param_numel(p);
    }
    double lr = tg_plan_loss(pr);
    ck_assert_int_eq(tg_plan_forward(pf), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pf), TG_OK);
    ck_assert(tg_plan_loss(pf) == lr);
    off = 0;
    for (int i = 0; i < tg_params_count(t.ps); i++) {
        tg_param *p = tg_params_at(t.ps, i);
        if (!is_group(p, "G")) continue;
        ck_assert_msg(!memcmp(save + off, tg_param_grad(p), tg_param_numel(p) * sizeof(float)),
                      "G/%s: reuse and recompute differ", tg_param_name(p));
        off += tg_param_numel(p);
    }
    free(save);
    tg_plan_free(pd);
    tg_plan_free(pr);
    tg_plan_free(pf);
    gan_free(&t);
}
END_TEST

/* f32 plans on a 3-thread pool: the same D and G gradients, bit for bit, as
 * on the caller's thread (tapegrad.h: results do not depend on threads) */
START_TEST(test_pool_bit_identical)
{
    gan t;
    gan_new(&t);
    tg_pool *pool = tg_pool_new(3, NULL);
    ck_assert_ptr_nonnull(pool);
    size_t nd = tg_params_numel(t.ps, NULL);
    float *g1 = malloc(nd * sizeof(float));
    ck_assert(g1);
    double loss[2][2];
    for (int run = 0; run < 2; run++) {
        tg_plan *pd, *pg;
        dg_plans(&t, 0, 1, run ? pool : NULL, &pd, &pg);
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
        loss[run][0] = tg_plan_loss(pd);
        loss[run][1] = tg_plan_loss(pg);
        size_t off = 0;
        for (int i = 0; i < tg_params_count(t.ps); i++) {
            tg_param *p = tg_params_at(t.ps, i);
            if (run == 0) memcpy(g1 + off, tg_param_grad(p), tg_param_numel(p) * sizeof(float));
            else ck_assert_msg(!memcmp(g1 + off, tg_param_grad(p), tg_param_numel(p) * sizeof(float)),
                               "%s/%s differs on the pool", tg_param_group(p), tg_param_name(p));
            off += tg_param_numel(p);
        }
        tg_plan_free(pd);
        tg_plan_free(pg);
    }
    ck_assert(loss[0][0] == loss[1][0] && loss[0][1] == loss[1][1]);
    free(g1);
    tg_pool_free(pool);
    gan_free(&t);
}
END_TEST

/* ========================================================== training */

/* 3 steps of the standard loop with Adam on both nets, f32 plans, vs torch
 * (float64): per step, loss_D and loss_G within 1e-4 relative, and the final
 * weights within 1e-4 of each tensor's largest weight. */
START_TEST(test_train_adam)
{
    gan t;
    gan_new(&t);
    tg_adam *ad = tg_adam_new(t.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    tg_adam *ag = tg_adam_new(t.ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    ck_assert(ad && ag);
    tg_plan *pd, *pg;
    dg_plans(&t, 0, 1, NULL, &pd, &pg);
    char key[160];
    for (int s = 0; s < 3; s++) {
        snprintf(key, sizeof key, "train.z.%d", s);
        fx_need_floats(t.f, key, t.zb, B * ZD);
        snprintf(key, sizeof key, "train.x.%d", s);
        fx_need_floats(t.f, key, t.xb, B * XD);
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        ck_assert_int_eq(tg_adam_step(ad), TG_OK);
        ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
        ck_assert_int_eq(tg_adam_step(ag), TG_OK);
        snprintf(key, sizeof key, "train.lossD.%d", s);
        check_loss(key, 0, tg_plan_loss(pd), fx_need(t.f, key, 1)[0], 1e-4);
        snprintf(key, sizeof key, "train.lossG.%d", s);
        check_loss(key, 0, tg_plan_loss(pg), fx_need(t.f, key, 1)[0], 1e-4);
    }
    ck_assert_int_eq(tg_adam_steps(ad), 3);
    ck_assert_int_eq(tg_adam_steps(ag), 3);
    double got[12 * 8];
    for (int i = 0; i < tg_params_count(t.ps); i++) {
        tg_param *p = tg_params_at(t.ps, i);
        size_t n = tg_param_numel(p);
        pkey(key, sizeof key, "train.final", p);
        const double *want = fx_need(t.f, key, n);
        for (size_t e = 0; e < n; e++) got[e] = tg_param_data(p)[e];
        ck_assert_msg(fx_close(key, got, want, n, 1e-4, fx_maxabs(want, n)), "%s", fx_error());
        /* and the weights did move: 3 Adam steps of ~lr each */
        pkey(key, sizeof key, "init", p);
        const double *w0 = fx_need(t.f, key, n);
        double moved = 0;
        for (size_t e = 0; e < n; e++) moved = fmax(moved, fabs(got[e] - w0[e]));
        ck_assert_msg(moved > 1e-4, "%s/%s did not move (%g)", tg_param_group(p), tg_param_name(p), moved);
    }
    tg_plan_free(pd);
    tg_plan_free(pg);
    tg_adam_free(ad);
    tg_adam_free(ag);
    gan_free(&t);
}
END_TEST

/* ============================================================ errors */

/* reuse misuse is refused at compile time with a message, not a crash */
START_TEST(test_reuse_errors)
{
    gan t;
    gan_new(&t);
    /* f64 plans cannot reuse kept values */
    ck_assert_ptr_null(tg_plan_new(t.g, t.loss_g, &(tg_plan_opts){.groups = "G", .precision = TG_F64,
                                                                  .reuse = &t.fake, .n_reuse = 1}));
    ck_assert_int_eq(tg_graph_status(t.g), TG_ERR_ARG);
    gan_free(&t);
    /* a node that is not kept cannot be reused */
    gan_new(&t);
    ck_assert_ptr_null(tg_plan_new(t.g, t.loss_g, &(tg_plan_opts){.groups = "G", .reuse = &t.dfake, .n_reuse = 1}));
    ck_assert_int_eq(tg_graph_status(t.g), TG_ERR_ARG);
    ck_assert_msg(strstr(tg_graph_error(t.g), "kept") != NULL, "%s", tg_graph_error(t.g));
    gan_free(&t);
}
END_TEST

static Suite *gan_grad_suite(void)
{
    Suite *s = suite_create("gan_grad");
    TCase *core = tcase_create("core");
    tcase_add_loop_test(core, test_d_step, 0, 2);
    tcase_add_test(core, test_d_sharing_sum);
    tcase_add_loop_test(core, test_g_step, 0, 2);
    tcase_add_test(core, test_g_step_reuse_exact);
    tcase_add_test(core, test_pool_bit_identical);
    tcase_add_test(core, test_train_adam);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_reuse_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("gan_grad");
    if (gate >= 0) return gate;
    return tg_run_suite(gan_grad_suite());
}
