/* test_losses.c - Check suite "losses": bce_logits (constant and tensor
 * targets), gen_loss, gen_loss_saturating and softmax_xent, in f32 and f64
 * plans, against hand-derived constants, a naive double reference written
 * differently from the engine's, and PyTorch ($TG_FIXTURES/losses.txt from
 * tests/fixtures/make_torch_fixtures.py).
 *
 * Naive reference (double):
 *   softplus(x) = log(1 + e^x), evaluated as x + log1p(e^-x) for x > 0
 *   BCE(x, t)   = -[t log s(x) + (1-t) log(1 - s(x))]
 *               = t softplus(-x) + (1-t) softplus(x)     (log s(x) = -softplus(-x))
 *   dBCE/dx     = s(x) - t;  dBCE/dt = -x                 (mean: both / n)
 */
#include "tapegrad.h"
#include "internal.h"   /* tg_plan_grad64 for f64 plans */
#include "fixture.h"

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tg_precision PREC[2] = {TG_F32, TG_F64};
static const char *const PNAME[2] = {"f32", "f64"};

static double ref_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double ref_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double ref_bce(double x, double t) { return t * ref_softplus(-x) + (1.0 - t) * ref_softplus(x); }

static void grad_of(tg_plan *p, tg_node n, int prec, double *out, size_t cnt)
{
    if (PREC[prec] == TG_F32) {
        const float *v = tg_plan_grad(p, n);
        ck_assert_msg(v != NULL, "f32 gradient of node %d not available", n.id);
        for (size_t i = 0; i < cnt; i++) out[i] = v[i];
    } else {
        const double *v = tg_plan_grad64(p, n);
        ck_assert_msg(v != NULL, "f64 gradient of node %d not available", n.id);
        memcpy(out, v, cnt * sizeof *out);
    }
}

/* run forward + backward of a scalar loss plan with input gradients */
static tg_plan *run(tg_graph *g, tg_node L, int prec)
{
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .precision = PREC[prec]});
    tg_status s = tg_plan_forward(p);
    ck_assert_msg(s == TG_OK, "%s forward: %s (%s)", PNAME[prec], tg_status_str(s), tg_graph_error(g));
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    return p;
}

/* ======================================================== bce_logits */

/* logits at the limits, all finite in float */
#define NX 7
static const float LX[NX] = {1000.0f, -1000.0f, 100.0f, -100.0f, 20.0f, -20.0f, 0.0f};
static const float TGT[3] = {0.0f, 1.0f, 0.9f};

/* _i = ((target * 2) + tensor) * 2 + prec: constant (tg_bce_logits_const) or
 * tensor (tg_bce_logits) targets, in both precisions. The loss is finite and
 * equals the naive reference; dL/dx = (s(x) - t)/n is exact in f64 (to the
 * rounding of one division) and within 1e-6 of the 1/n scale in f32 (the
 * float s(20) is 1, so s(20) - 1 is 0 there instead of -2e-9); for tensor
 * targets dL/dt = -x/n. */
START_TEST(test_bce_limits)
{
    int prec = _i % 2, tensor = (_i / 2) % 2;
    float t = TGT[_i / 4];
    const double n = NX;
    float tv[NX];
    for (int i = 0; i < NX; i++) tv[i] = t;
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "x", 1, (int[]){NX}), tt = tg_input(g, "t", 1, (int[]){NX});
    tg_node L = tensor ? tg_bce_logits(g, x, tt) : tg_bce_logits_const(g, x, t);
    ck_assert_str_eq(tg_node_op(g, L), "bce_logits");
    tg_bind(g, x, LX);
    tg_bind(g, tt, tv);
    tg_plan *p = run(g, L, prec);
    double want = 0;
    for (int i = 0; i < NX; i++) want += ref_bce(LX[i], t);
    want /= n;
    double got = tg_plan_loss(p);
    ck_assert_msg(isfinite(got), "%s loss is %g", PNAME[prec], got);
    ck_assert_msg(fabs(got - want) <= (prec ? 1e-15 : 1e-6) * want, "%s t=%.9g: loss %.17g, want %.17g", PNAME[prec],
                  (double)t, got, want);
    double gx[NX], gt[NX];
    grad_of(p, x, prec, gx, NX);
    for (int i = 0; i < NX; i++) {
        double w = (ref_sigmoid(LX[i]) - t) / n;
        double tol = prec ? 2.3e-16 * fabs(w) : 1e-6 / n;
        ck_assert_msg(fabs(gx[i] - w) <= tol, "%s dL/dx at x=%g t=%.9g: %.17g, want (s(x)-t)/n = %.17g", PNAME[prec],
                      (double)LX[i], (double)t, gx[i], w);
    }
    if (tensor) {
        grad_of(p, tt, prec, gt, NX);
        for (int i = 0; i < NX; i++) {
            double w = -(double)LX[i] / n;
            ck_assert_msg(fabs(gt[i] - w) <= (prec ? 2.3e-16 : 1.2e-7) * fabs(w), "%s dL/dt at x=%g: %.17g, want -x/n = %.17g",
                          PNAME[prec], (double)LX[i], gt[i], w);
        }
    }
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

/* Hand-derived single elements:
 *   BCE(0, t) = max(0,0) - 0 t + log1p(e^0) = ln 2 for any t  (0.6931471805599453)
 *     dBCE/dx = s(0) - t = 0.5 - 0.9 = -0.4 (t = 0.9f: 0.5 - 0.89999997615814209)
 *   BCE(1000, 1) = 1000 - 1000 + log1p(e^-1000) = 0;  BCE(-1000, 1) = 0 + 1000 + 0 = 1000
 *   BCE(1000, 0) = 1000;  BCE(-1000, 0) = 0 */
START_TEST(test_bce_hand)
{
    int prec = _i;
    static const struct { float x, t; double L, dx; } C[] = {
        {0.0f, 0.9f, 0.6931471805599453, 0.5 - (double)0.9f},
        {0.0f, 0.0f, 0.6931471805599453, 0.5},
        {1000.0f, 1.0f, 0.0, 0.0},
        {-1000.0f, 1.0f, 1000.0, -1.0},
        {1000.0f, 0.0f, 1000.0, 1.0},
        {-1000.0f, 0.0f, 0.0, 0.0},
    };
    for (size_t k = 0; k < sizeof C / sizeof C[0]; k++) {
        tg_graph *g = tg_graph_new(NULL);
        tg_node x = tg_input(g, "x", 1, (int[]){1});
        tg_node L = tg_bce_logits_const(g, x, C[k].t);
        tg_bind(g, x, &C[k].x);
        tg_plan *p = run(g, L, prec);
        double rtol = prec ? 1e-16 : 1.2e-7, got = tg_plan_loss(p), dx;
        grad_of(p, x, prec, &dx, 1);
        ck_assert_msg(fabs(got - C[k].L) <= rtol * C[k].L, "%s BCE(%g, %g) = %.17g, want %.17g", PNAME[prec],
                      (double)C[k].x, (double)C[k].t, got, C[k].L);
        ck_assert_msg(fabs(dx - C[k].dx) <= rtol * fabs(C[k].dx), "%s BCE'(%g, %g) = %.17g, want %.17g", PNAME[prec],
                      (double)C[k].x, (double)C[k].t, dx, C[k].dx);
        tg_plan_free(p);
        tg_graph_free(g);
    }
}
END_TEST

/* Label smoothing: BCE with the constant target 0.9 vs torch's
 * BCEWithLogitsLoss with targets 0.9 (the float 0.9f, as the engine stores
 * it), logits including +-20, +-100, +-1000. */
START_TEST(test_bce_smooth_torch)
{
    int prec = _i;
    fx_file *f = fx_need_file("losses.txt");
    float x[16];
    fx_need_floats(f, "bce09.x", x, 16);
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 1, (int[]){16});
    tg_node L = tg_bce_logits_const(g, nx, 0.9f);
    tg_bind(g, nx, x);
    tg_plan *p = run(g, L, prec);
    double want = fx_need(f, "bce09.L", 1)[0], got = tg_plan_loss(p);
    ck_assert_msg(fabs(got - want) <= (prec ? 1e-12 : 1e-5) * want, "%s smoothed BCE %.17g, torch %.17g", PNAME[prec],
                  got, want);
    double gx[16];
    grad_of(p, nx, prec, gx, 16);
    const double *wd = fx_need(f, "bce09.dx", 16);
    /* f32: relative to the 1/n scale of the gradient */
    ck_assert_msg(fx_close("smoothed BCE d/dx", gx, wd, 16, prec ? 1e-12 : 1e-5, prec ? 1e-300 : 1.0 / 16), "%s %s",
                  PNAME[prec], fx_error());
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* tensor targets in [0, 1] vs torch, gradients for logits and targets */
START_TEST(test_bce_tensor_torch)
{
    int prec = _i;
    fx_file *f = fx_need_file("losses.txt");
    float x[16], t[16];
    fx_need_floats(f, "bce09.x", x, 16);
    fx_need_floats(f, "bcet.t", t, 16);
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 1, (int[]){16}), nt = tg_input(g, "t", 1, (int[]){16});
    tg_node L = tg_bce_logits(g, nx, nt);
    tg_bind(g, nx, x);
    tg_bind(g, nt, t);
    tg_plan *p = run(g, L, prec);
    double want = fx_need(f, "bcet.L", 1)[0], got = tg_plan_loss(p);
    ck_assert_msg(fabs(got - want) <= (prec ? 1e-12 : 1e-5) * want, "%s BCE %.17g, torch %.17g", PNAME[prec], got, want);
    double gx[16];
    grad_of(p, nx, prec, gx, 16);
    ck_assert_msg(fx_close("BCE d/dx", gx, fx_need(f, "bcet.dx", 16), 16, prec ? 1e-12 : 1e-5, prec ? 1e-300 : 1.0 / 16),
                  "%s %s", PNAME[prec], fx_error());
    grad_of(p, nt, prec, gx, 16);
    ck_assert_msg(fx_close("BCE d/dt", gx, fx_need(f, "bcet.dt", 16), 16, prec ? 1e-12 : 1e-6, 1e-300), "%s %s",
                  PNAME[prec], fx_error());
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* ========================================================= GAN losses */

/* gen_loss(x) = BCE(x, 1): bit for bit in f64, within an ulp in f32; and =
 * mean softplus(-x). gen_loss_saturating(x) = -mean softplus(x) = -BCE(x, 0).
 * The gradients agree the same way. Logits: the bce09 fixture inputs
 * (including +-20, +-100, +-1000). */
START_TEST(test_gen_losses)
{
    int prec = _i;
    fx_file *f = fx_need_file("losses.txt");
    float x[16];
    fx_need_floats(f, "bce09.x", x, 16);
    /* one graph, six losses over the same input */
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 1, (int[]){16});
    tg_bind(g, nx, x);
    tg_node L[6] = {
        tg_gen_loss(g, nx),
        tg_bce_logits_const(g, nx, 1.0f),
        tg_mean(g, tg_softplus(g, tg_scale(g, nx, -1.0f))),
        tg_gen_loss_saturating(g, nx),
        tg_bce_logits_const(g, nx, 0.0f),
        tg_scale(g, tg_mean(g, tg_softplus(g, nx)), -1.0f),
    };
    ck_assert_str_eq(tg_node_op(g, L[0]), "gen_loss");
    ck_assert_str_eq(tg_node_op(g, L[3]), "gen_loss_saturating");
    double v[6], gr[6][16];
    for (int k = 0; k < 6; k++) {
        tg_plan *p = run(g, L[k], prec);
        v[k] = tg_plan_loss(p);
        grad_of(p, nx, prec, gr[k], 16);
        tg_plan_free(p);
    }
    /* naive reference: sum of softplus(-x)/16 and softplus(x)/16 */
    double sn = 0, sp = 0;
    for (int i = 0; i < 16; i++) {
        sn += ref_softplus(-(double)x[i]);
        sp += ref_softplus(x[i]);
    }
    sn /= 16;
    sp /= 16;
    if (prec) {
        ck_assert_msg(v[0] == v[1], "f64 gen_loss %.17g != BCE(x, 1) %.17g", v[0], v[1]);
        ck_assert_msg(v[3] == -v[4], "f64 gen_loss_saturating %.17g != -BCE(x, 0) %.17g", v[3], -v[4]);
        for (int i = 0; i < 16; i++) {
            ck_assert_msg(gr[0][i] == gr[1][i], "f64 gen_loss' [%d] %.17g != BCE'(x,1) %.17g", i, gr[0][i], gr[1][i]);
            ck_assert_msg(gr[3][i] == -gr[4][i], "f64 saturating' [%d] %.17g != -BCE'(x,0) %.17g", i, gr[3][i], -gr[4][i]);
        }
    } else {
        ck_assert_msg(fabs(v[0] - v[1]) <= FLT_EPSILON * fabs(v[1]), "f32 gen_loss %.9g vs BCE(x, 1) %.9g", v[0], v[1]);
        ck_assert_msg(fabs(v[3] + v[4]) <= FLT_EPSILON * fabs(v[4]), "f32 gen_loss_saturating %.9g vs -BCE(x,0) %.9g", v[3], -v[4]);
        for (int i = 0; i < 16; i++) {
            ck_assert_msg(fabs(gr[0][i] - gr[1][i]) <= FLT_EPSILON * fabs(gr[1][i]), "f32 gen_loss' [%d]", i);
            ck_assert_msg(fabs(gr[3][i] + gr[4][i]) <= FLT_EPSILON * fabs(gr[4][i]), "f32 saturating' [%d]", i);
        }
    }
    double rtol = prec ? 1e-15 : 1e-6;
    ck_assert_msg(fabs(v[0] - sn) <= rtol * sn, "%s gen_loss %.17g, mean softplus(-x) %.17g", PNAME[prec], v[0], sn);
    ck_assert_msg(fabs(v[2] - sn) <= rtol * sn, "%s graph mean softplus(-x) %.17g, reference %.17g", PNAME[prec], v[2], sn);
    ck_assert_msg(fabs(v[3] + sp) <= rtol * sp, "%s gen_loss_saturating %.17g, -mean softplus(x) %.17g", PNAME[prec], v[3], -sp);
    ck_assert_msg(fabs(v[5] + sp) <= rtol * sp, "%s graph -mean softplus(x) %.17g, reference %.17g", PNAME[prec], v[5], -sp);
    /* gradients: gen_loss' = -s(-x)/n, saturating' = -s(x)/n, vs the
     * composed graphs, to 1e-15 (f64) / 1e-6 (f32) of the 1/n scale: the
     * engine (like torch) forms s(x) - 1, which near s(x) = 1 carries an
     * absolute error of an ulp of 1 (at x = 20 that is 5e-8 relative) */
    for (int i = 0; i < 16; i++) {
        double wg = -ref_sigmoid(-(double)x[i]) / 16, ws = -ref_sigmoid(x[i]) / 16;
        double tg = prec ? 1e-15 / 16 : 1e-6 / 16, ts = tg;
        ck_assert_msg(fabs(gr[0][i] - wg) <= tg, "%s gen_loss'(%g) = %.17g, want %.17g", PNAME[prec], (double)x[i], gr[0][i], wg);
        ck_assert_msg(fabs(gr[2][i] - wg) <= tg, "%s (mean softplus(-x))'(%g) = %.17g, want %.17g", PNAME[prec], (double)x[i], gr[2][i], wg);
        ck_assert_msg(fabs(gr[3][i] - ws) <= ts, "%s saturating'(%g) = %.17g, want %.17g", PNAME[prec], (double)x[i], gr[3][i], ws);
        ck_assert_msg(fabs(gr[5][i] - ws) <= ts, "%s (-mean softplus(x))'(%g) = %.17g, want %.17g", PNAME[prec], (double)x[i], gr[5][i], ws);
    }
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* ======================================================== softmax_xent */

/* vs torch.nn.functional.cross_entropy, rows with logits at +-1000 (one label
 * on a -1000 logit next to a +1000 one: loss 2000 for that row) */
START_TEST(test_xent_torch)
{
    int prec = _i;
    fx_file *f = fx_need_file("losses.txt");
    const double *dm = fx_need(f, "xent.dims", 2);
    const int B = (int)dm[0], C = (int)dm[1];
    ck_assert(B == 6 && C == 5);
    float x[30];
    int32_t lab[6];
    fx_need_floats(f, "xent.x", x, 30);
    const double *lv = fx_need(f, "xent.lab", 6);
    for (int i = 0; i < B; i++) lab[i] = (int32_t)lv[i];
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 2, (int[]){B, C}), nl = tg_input_labels(g, "lab", B);
    tg_node L = tg_softmax_xent(g, nx, nl);
    tg_bind(g, nx, x);
    tg_bind(g, nl, lab);
    tg_plan *p = run(g, L, prec);
    double want = fx_need(f, "xent.L", 1)[0], got = tg_plan_loss(p);
    ck_assert_msg(isfinite(got), "%s loss %g", PNAME[prec], got);
    ck_assert_msg(fabs(got - want) <= (prec ? 1e-12 : 1e-5) * want, "%s xent %.17g, torch %.17g", PNAME[prec], got, want);
    double gx[30];
    grad_of(p, nx, prec, gx, 30);
    ck_assert_msg(fx_close("softmax_xent d/dx", gx, fx_need(f, "xent.dx", 30), 30, prec ? 1e-12 : 1e-5,
                           prec ? 1e-300 : 1.0 / B), "%s %s", PNAME[prec], fx_error());
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* Equal logits: softmax is uniform, so every row's loss is ln C and
 * dL/dx = (1/C - onehot)/B. B = 2, C = 4: ln 4 = 1.3862943611198906,
 * gradients 1/8 = 0.125 and -3/8 = -0.375 (exact). Logits +1000 and -1000
 * give the same (the max is subtracted first). */
START_TEST(test_xent_hand)
{
    int prec = _i % 2;
    float v = (_i / 2 == 0) ? 0.0f : (_i / 2 == 1) ? 1000.0f : -1000.0f;
    float x[8];
    for (int i = 0; i < 8; i++) x[i] = v;
    int32_t lab[2] = {3, 0};
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 2, (int[]){2, 4}), nl = tg_input_labels(g, "lab", 2);
    tg_node L = tg_softmax_xent(g, nx, nl);
    tg_bind(g, nx, x);
    tg_bind(g, nl, lab);
    tg_plan *p = run(g, L, prec);
    double got = tg_plan_loss(p);
    /* at +-1000 the log-sum-exp m + log z - x[label] passes through ~1001,
     * whose ulp (1.1e-13 in double) bounds the f64 accuracy: 1e-13 absolute */
    double tol = prec ? (v == 0.0f ? 2.3e-16 * 1.3862943611198906 : 1e-13) : 1.2e-7 * 1.3862943611198906;
    ck_assert_msg(fabs(got - 1.3862943611198906) <= tol,
                  "%s xent(all %g) = %.17g, want ln 4", PNAME[prec], (double)v, got);
    double gx[8];
    grad_of(p, nx, prec, gx, 8);
    for (int i = 0; i < 8; i++) {
        double w = (i == 3 || i == 4) ? -0.375 : 0.125;
        ck_assert_msg(fabs(gx[i] - w) <= (prec ? 1e-16 : 1e-7), "%s dx[%d] = %.17g, want %g", PNAME[prec], i, gx[i], w);
    }
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

/* ============================================================== errors */

/* A label outside [0, C) makes forward fail with TG_ERR_ARG and a message
 * naming softmax_xent, in both precisions; _i = bad label index * 2 + prec */
START_TEST(test_xent_bad_label)
{
    int prec = _i % 2;
    static const int32_t BAD[3] = {4, -1, 1000000};
    float x[8] = {0};
    int32_t lab[2] = {1, BAD[_i / 2]};
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 2, (int[]){2, 4}), nl = tg_input_labels(g, "lab", 2);
    tg_node L = tg_softmax_xent(g, nx, nl);
    tg_bind(g, nx, x);
    tg_bind(g, nl, lab);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_ERR_ARG);
    ck_assert_msg(strstr(tg_graph_error(g), "softmax_xent") != NULL, "message '%s' does not name softmax_xent",
                  tg_graph_error(g));
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_loss_build_errors)
{
    /* target shape must match the logits */
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "x", 1, (int[]){4}), t = tg_input(g, "t", 1, (int[]){5});
    tg_node L = tg_bce_logits(g, x, t);
    ck_assert_int_lt(L.id, 0);
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_SHAPE);
    ck_assert_msg(strstr(tg_graph_error(g), "bce_logits") != NULL, "%s", tg_graph_error(g));
    tg_graph_free(g);
    /* a non-finite constant target */
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 1, (int[]){4});
    ck_assert_int_lt(tg_bce_logits_const(g, x, NAN).id, 0);
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_ARG);
    tg_graph_free(g);
    /* softmax_xent: float labels, and labels of the wrong length */
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 2, (int[]){2, 3});
    t = tg_input(g, "t", 1, (int[]){2});
    ck_assert_int_lt(tg_softmax_xent(g, x, t).id, 0);
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_ARG);
    ck_assert_msg(strstr(tg_graph_error(g), "softmax_xent") != NULL, "%s", tg_graph_error(g));
    tg_graph_free(g);
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 2, (int[]){2, 3});
    t = tg_input_labels(g, "l", 3);
    ck_assert_int_lt(tg_softmax_xent(g, x, t).id, 0);
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_SHAPE);
    tg_graph_free(g);
}
END_TEST

/* a NaN logit: forward reports TG_ERR_NONFINITE instead of a silent NaN */
START_TEST(test_bce_nan)
{
    int prec = _i;
    float x[3] = {0.0f, NAN, 1.0f};
    tg_graph *g = tg_graph_new(NULL);
    tg_node nx = tg_input(g, "x", 1, (int[]){3});
    tg_node L = tg_bce_logits_const(g, nx, 0.9f);
    tg_bind(g, nx, x);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_ERR_NONFINITE);
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

static Suite *losses_suite(void)
{
    Suite *s = suite_create("losses");
    TCase *core = tcase_create("core");
    tcase_add_loop_test(core, test_bce_hand, 0, 2);
    tcase_add_loop_test(core, test_bce_smooth_torch, 0, 2);
    tcase_add_loop_test(core, test_bce_tensor_torch, 0, 2);
    tcase_add_loop_test(core, test_gen_losses, 0, 2);
    tcase_add_loop_test(core, test_xent_torch, 0, 2);
    tcase_add_loop_test(core, test_xent_hand, 0, 2);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_loop_test(limits, test_bce_limits, 0, 12);
    tcase_add_loop_test(limits, test_xent_hand, 2, 6);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_loop_test(errors, test_xent_bad_label, 0, 6);
    tcase_add_test(errors, test_loss_build_errors);
    tcase_add_loop_test(errors, test_bce_nan, 0, 2);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("losses");
    if (gate >= 0) return gate;
    return tg_run_suite(losses_suite());
}
