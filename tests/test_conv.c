/* test_conv.c - Check suite "conv": conv2d, conv_transpose2d, the channel
 * bias, batch_norm and reshape / flatten, forward values and gradients in f64
 * plans (the reference loops) and f32 plans (im2col + the dispatched GEMM
 * kernels; meson runs the suite once per kernel variant) against PyTorch
 * (float64 torch values from tests/fixtures/make_conv_fixtures.py, read from
 * $TG_FIXTURES/conv.txt), f32 against f64 at the DCGAN layer shapes, and the
 * builders' shape errors, message by message.
 *
 * Graphs: y = op(x, w), yb = y + b over axis 1, L = sum(yb R) with the
 * fixture's R; x is an input (input_grads), w and b parameters of group P.
 * f32 plans run three ways: unfused (y readable: the bias node runs on its
 * own), fused (the bias in the conv's GEMM epilogue), fused on a 2-thread
 * pool.
 *
 * Tolerances, each relative to the largest |value| of the tensor compared
 * (sums with cancellation have no per-element scale). f64: 1e-12 (measured
 * at most 6.9e-16: the same sums in another order). f32 against PyTorch:
 * forward 1e-6, gradients 2e-6, 2.8-6x the largest error measured over every
 * case and kernel variant (7.2e-7, dw of dcgan14to28: one FMA chain over the
 * batch's 2 x 196 pixels; f32 sums of K = 1 to 392 terms, error ~ sqrt(K)
 * 2^-24 of the terms' size); batch_norm's y and gradients the same
 * (measured 1.5e-7), its running statistics 4e-7 (computed in double from
 * f32 data and rounded: measured 8.1e-8). The loss L (a sum of products
 * with cancellation) is compared relative to sum |yb R|. f32 against f64 at
 * the DCGAN shapes and uneven image groups (sums of up to 1600 terms for y,
 * 12544 for dw): 1.2e-5, 3.4x the largest measured (3.55e-6, dw of the
 * 64x64x14x14 transposed layer on portable; 3.37e-6 on avx512 and avx2,
 * which give the same bits - the same FMA chains).
 * TG_TEST_VERBOSE=1 prints every measured error. */
#include "tapegrad.h"
#include "internal.h" /* tg_plan_value64, tg_plan_grad64 */
#include "fixture.h"

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tg_precision PREC[2] = {TG_F32, TG_F64};
static const char *const PNAME[2] = {"f32", "f64"};
static const double FWD_TOL[2] = {1e-6, 1e-12}, GRAD_TOL[2] = {2e-6, 1e-12};

static double *dbuf(size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* value (or gradient, when grad) of node n, or of param's gradient, as doubles */
static double *fetch(tg_plan *p, tg_node n, tg_param *param, int prec, int grad, size_t cnt)
{
    double *out = dbuf(cnt);
    if (PREC[prec] == TG_F32) {
        const float *v = param ? tg_param_grad(param) : grad ? tg_plan_grad(p, n) : tg_plan_value(p, n);
        ck_assert_msg(v != NULL, "f32 %s of node %d not available", grad ? "gradient" : "value", n.id);
        for (size_t i = 0; i < cnt; i++) out[i] = v[i];
    } else {
        const double *v = grad ? tg_plan_grad64(p, n) : tg_plan_value64(p, n);
        ck_assert_msg(v != NULL, "f64 %s of node %d not available", grad ? "gradient" : "value", n.id);
        memcpy(out, v, cnt * sizeof *out);
    }
    return out;
}

/* |got - want| <= tol max|want| elementwise; frees got */
static void expect(const char *what, int prec, double *got, const double *want, size_t n, double tol)
{
    const double scale = fx_maxabs(want, n);
    if (getenv("TG_TEST_VERBOSE")) {
        double e = 0;
        for (size_t i = 0; i < n; i++) e = fmax(e, fabs(got[i] - want[i]));
        printf("  %s %-40s max error %.2e of max |value| %.3g\n", PNAME[prec], what, scale > 0 ? e / scale : e, scale);
    }
    const int ok = fx_close(what, got, want, n, tol, scale > 0 ? scale : 1e-300);
    free(got);
    ck_assert_msg(ok, "%s %s", PNAME[prec], fx_error());
}

static void load_param(const fx_file *f, const char *name, tg_param *p)
{
    fx_need_floats(f, name, tg_param_data(p), tg_param_numel(p));
}

static float *load_floats(const fx_file *f, const char *name, size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    fx_need_floats(f, name, v, n);
    return v;
}

/* ============================================ conv2d, conv_transpose2d */
static const char *const C2[] = {"k3s1p1", "same28s2k5", "k1", "k4s3asym", "dil2",
                                 "s2x3d1x2", "one", "primes14s2k5", "n5k5p2"};
static const char *const CT[] = {"dcgan7to14", "dcgan14to28", "op1", "asym", "k1", "n5"};
#define NC2 ((int)(sizeof C2 / sizeof C2[0]))
#define NCT ((int)(sizeof CT / sizeof CT[0]))
enum { M_F64, M_UNFUSED, M_FUSED, M_POOL, M_COUNT };
static const char *const MNAME[M_COUNT] = {"f64", "f32 unfused", "f32 fused", "f32 fused, 2 threads"};

static void conv_case(const char *prefix, const char *label, int tr, int mode)
{
    char nm[96], what[160];
    fx_file *f = fx_need_file("conv.txt");
#define REC(s) (snprintf(nm, sizeof nm, "%s.%s.%s", prefix, label, s), nm)
    const double *dm = fx_need(f, REC("dims"), tr ? 17 : 15);
    int d[17];
    for (int k = 0; k < (tr ? 17 : 15); k++) d[k] = (int)dm[k];
    const int N = d[0], Ci = d[1], H = d[2], W = d[3], Co = d[4], kh = d[5], kw = d[6];
    const tg_conv_opts o = {.stride = {d[7], d[8]}, .dilation = {d[9], d[10]}, .pad = {d[11], d[12], d[13], d[14]},
                            .out_pad = {tr ? d[15] : 0, tr ? d[16] : 0}};
    const int prec = mode == M_F64;
    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "P", "w", 4, tr ? (int[]){Ci, Co, kh, kw} : (int[]){Co, Ci, kh, kw});
    tg_param *b = tg_param_new(ps, "P", "b", 1, &Co);
    ck_assert(w && b);
    load_param(f, REC("w"), w);
    load_param(f, REC("b"), b);
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 4, (int[]){N, Ci, H, W});
    tg_node y = tr ? tg_conv_transpose2d(g, x, tg_param_ref(g, w), &o) : tg_conv2d(g, x, tg_param_ref(g, w), &o);
    tg_node yb = tg_bias_add_axis(g, y, tg_param_ref(g, b), 1);
    ck_assert_msg(tg_graph_status(g) == TG_OK, "%s", tg_graph_error(g));
    const size_t ny = tg_node_numel(g, y), nx = (size_t)N * Ci * H * W;
    tg_node R = tg_input(g, "R", 4, (int[]){N, Co, tg_node_dim(g, y, 2), tg_node_dim(g, y, 3)});
    tg_node L = tg_sum(g, tg_mul(g, yb, R));
    float *xv = load_floats(f, REC("x"), nx), *rv = load_floats(f, REC("R"), ny);
    tg_bind(g, x, xv);
    tg_bind(g, R, rv);
    tg_pool *pool = mode == M_POOL ? tg_pool_new(2, NULL) : NULL;
    tg_node outs[2] = {yb, y};
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.groups = "P", .input_grads = 1, .outputs = outs,
                                                  .n_outputs = mode == M_F64 || mode == M_UNFUSED ? 2 : 1,
                                                  .precision = PREC[prec], .pool = pool});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    /* fused: the bias node runs in the convolution (y is never stored) */
    ck_assert_int_eq(tg_plan_forward_len(p), mode >= M_FUSED ? 3 : 4);
    ck_assert(mode >= M_FUSED ? tg_plan_value(p, y) == NULL : 1);
    snprintf(what, sizeof what, "%s %s %s", prefix, label, MNAME[mode]);
    char w2[200];
#define CHECK(node, param, grad, rec, n, tol)                                             \
    (snprintf(w2, sizeof w2, "%s %s", what, rec), expect(w2, prec, fetch(p, node, param, prec, grad, n), \
                                                         fx_need(f, REC(rec), n), n, tol))
    if (mode < M_FUSED) CHECK(y, NULL, 0, "y", ny, FWD_TOL[prec]);
    CHECK(yb, NULL, 0, "yb", ny, FWD_TOL[prec]);
    CHECK(x, NULL, 1, "dx", nx, GRAD_TOL[prec]);
    CHECK(tg_param_ref(g, w), prec ? NULL : w, 1, "dw", tg_param_numel(w), GRAD_TOL[prec]);
    CHECK(tg_param_ref(g, b), prec ? NULL : b, 1, "db", (size_t)Co, GRAD_TOL[prec]);
#undef CHECK
    /* the loss, relative to sum |yb R| */
    const double *wyb = fx_need(f, REC("yb"), ny), want = fx_need(f, REC("L"), 1)[0];
    double scale = 0;
    for (size_t i = 0; i < ny; i++) scale += fabs(wyb[i] * rv[i]);
    ck_assert_msg(fabs(tg_plan_loss(p) - want) <= FWD_TOL[prec] * scale, "%s: L = %.17g, want %.17g", what,
                  tg_plan_loss(p), want);
#undef REC
    tg_plan_free(p);
    tg_pool_free(pool);
    tg_graph_free(g);
    tg_params_free(ps);
    free(xv);
    free(rv);
    fx_free(f);
}

START_TEST(test_conv2d_torch) { conv_case("c2", C2[_i / M_COUNT], 0, _i % M_COUNT); }
END_TEST

START_TEST(test_conv_transpose2d_torch) { conv_case("ct", CT[_i / M_COUNT], 1, _i % M_COUNT); }
END_TEST

/* ========================================================== batch_norm */
/* Three training steps, then eval. f32: y, gradients and the running
 * statistics after every step against PyTorch's. f64: the same values, but
 * the store's running statistics never move (f64 plans do not write them).
 * Eval runs with the store set to PyTorch's statistics after step 2,
 * float-rounded (the fixture's eval values start from those). */
START_TEST(test_batch_norm_torch)
{
    const char *name = _i / 2 ? "bn2" : "bn4";
    const int prec = _i % 2;
    char nm[64], what[96];
    fx_file *f = fx_need_file("conv.txt");
#define REC(s) (snprintf(nm, sizeof nm, "%s.%s", name, s), nm)
    const size_t nd = fx_count(f, REC("dims"));
    const double *dm = fx_need(f, nm, nd);
    int d[4];
    size_t n = 1;
    for (size_t k = 0; k < nd; k++) d[k] = (int)dm[k], n *= (size_t)d[k];
    const int C = d[1];
    const float eps = (float)fx_need(f, REC("eps"), 1)[0], mom = (float)fx_need(f, REC("momentum"), 1)[0];
    tg_params *ps = tg_params_new();
    tg_param *ga = tg_param_new(ps, "P", "gamma", 1, &C), *be = tg_param_new(ps, "P", "beta", 1, &C);
    tg_param *rm = tg_param_new_state(ps, "P", "rm", 1, &C), *rvar = tg_param_new_state(ps, "P", "rv", 1, &C);
    ck_assert(ga && be && rm && rvar);
    load_param(f, REC("gamma"), ga);
    load_param(f, REC("beta"), be);
    load_param(f, REC("rm0"), rm);
    load_param(f, REC("rv0"), rvar);
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", (int)nd, d), R = tg_input(g, "R", (int)nd, d);
    tg_node y = tg_batch_norm(g, x, tg_param_ref(g, ga), tg_param_ref(g, be), rm, rvar, eps, mom);
    tg_node L = tg_sum(g, tg_mul(g, y, R));
    ck_assert_msg(tg_graph_status(g) == TG_OK, "%s", tg_graph_error(g));
    float *xv = malloc(n * sizeof *xv), *r = load_floats(f, REC("R"), n), rm0 = tg_param_data(rm)[0];
    ck_assert_ptr_nonnull(xv);
    tg_bind(g, x, xv);
    tg_bind(g, R, r);
    tg_plan *p[2];
    for (int ev = 0; ev < 2; ev++)
        p[ev] = fx_plan(g, L, &(tg_plan_opts){.groups = "P", .input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                 .eval = ev, .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_has_param_grad(p[0], rm), 0); /* state: never a gradient */
    for (int step = 0; step <= 3; step++) {
        char tag[8];
        const int ev = step == 3;
        snprintf(tag, sizeof tag, ev ? "eval" : "%d", step);
        snprintf(nm, sizeof nm, "%s.x.%s", name, tag);
        fx_need_floats(f, nm, xv, n);
        if (ev) { /* PyTorch's statistics after step 2, float-rounded (f64 plans left the store alone) */
            load_param(f, REC("rm.eval"), rm);
            load_param(f, REC("rv.eval"), rvar);
        }
        ck_assert_int_eq(tg_plan_forward(p[ev]), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p[ev]), TG_OK);
        snprintf(what, sizeof what, "%s step %s", name, tag);
        const char *recs[4] = {"y", "dx", "dgamma", "dbeta"};
        for (int k = 0; k < 4; k++) {
            char w2[128], rn[64];
            snprintf(w2, sizeof w2, "%s %s", what, recs[k]);
            snprintf(rn, sizeof rn, "%s.%s.%s", name, recs[k], tag);
            const tg_node nodes[4] = {y, x, tg_param_ref(g, ga), tg_param_ref(g, be)};
            tg_param *pp[4] = {NULL, NULL, prec ? NULL : ga, prec ? NULL : be};
            const size_t cnt = k < 2 ? n : (size_t)C;
            expect(w2, prec, fetch(p[ev], nodes[k], pp[k], prec, k > 0, cnt), fx_need(f, rn, cnt), cnt,
                   k ? GRAD_TOL[prec] : FWD_TOL[prec]);
        }
        if (ev) continue;
        if (prec) {
            ck_assert_msg(tg_param_data(rm)[0] == rm0, "an f64 plan wrote the running mean");
            continue;
        }
        for (int k = 0; k < 2; k++) { /* the store's running statistics after this step */
            char rn[64], w2[128];
            snprintf(rn, sizeof rn, "%s.%s.%d", name, k ? "rv" : "rm", step);
            snprintf(w2, sizeof w2, "%s %s", what, k ? "running_var" : "running_mean");
            double *got = dbuf((size_t)C);
            for (int c = 0; c < C; c++) got[c] = tg_param_data(k ? rvar : rm)[c];
            expect(w2, prec, got, fx_need(f, rn, (size_t)C), (size_t)C, 4e-7);
        }
    }
    /* eval plans leave the running statistics alone */
    float before[8];
    ck_assert_int_le(C, 8);
    memcpy(before, tg_param_data(rvar), (size_t)C * sizeof(float));
    ck_assert_int_eq(tg_plan_forward(p[1]), TG_OK);
    ck_assert(memcmp(before, tg_param_data(rvar), (size_t)C * sizeof(float)) == 0);
#undef REC
    tg_plan_free(p[0]);
    tg_plan_free(p[1]);
    tg_graph_free(g);
    tg_params_free(ps);
    free(xv);
    free(r);
    fx_free(f);
}
END_TEST

/* ============================================================ reshape */
/* rs: x (2,3,4,5) -> (6,20); cf: conv -> flatten -> linear, whose gradients
 * are right only if flatten orders features as torch.flatten does */
START_TEST(test_reshape_torch)
{
    const int prec = _i;
    fx_file *f = fx_need_file("conv.txt");
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "x", 4, (int[]){2, 3, 4, 5}), R = tg_input(g, "R", 2, (int[]){6, 20});
    tg_node y = tg_reshape(g, x, 2, (int[]){6, -1});
    ck_assert_int_eq(tg_node_dim(g, y, 1), 20);
    float *xv = load_floats(f, "rs.x", 120), *rv = load_floats(f, "rs.R", 120);
    tg_bind(g, x, xv);
    tg_bind(g, R, rv);
    tg_plan *p = fx_plan(g, tg_sum(g, tg_mul(g, y, R)), &(tg_plan_opts){.input_grads = 1, .outputs = &y,
                                                                          .n_outputs = 1, .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    expect("reshape y", prec, fetch(p, y, NULL, prec, 0, 120), fx_need(f, "rs.y", 120), 120, 0.0);
    expect("reshape dx", prec, fetch(p, x, NULL, prec, 1, 120), fx_need(f, "rs.dx", 120), 120, 0.0);
    tg_plan_free(p);
    tg_graph_free(g);
    free(xv);
    free(rv);

    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "P", "w", 4, (int[]){4, 3, 3, 3}), *W = tg_param_new(ps, "P", "W", 2, (int[]){64, 5});
    tg_param *bl = tg_param_new(ps, "P", "bl", 1, (int[]){5});
    load_param(f, "cf.w", w);
    load_param(f, "cf.W", W);
    load_param(f, "cf.bl", bl);
    g = tg_graph_new(ps);
    x = tg_input(g, "x", 4, (int[]){2, 3, 6, 6});
    R = tg_input(g, "R", 2, (int[]){2, 5});
    tg_node h = tg_flatten(g, tg_conv2d(g, x, tg_param_ref(g, w), NULL));
    tg_node out = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, W)), tg_param_ref(g, bl));
    xv = load_floats(f, "cf.x", 216);
    rv = load_floats(f, "cf.R", 10);
    tg_bind(g, x, xv);
    tg_bind(g, R, rv);
    p = fx_plan(g, tg_sum(g, tg_mul(g, out, R)), &(tg_plan_opts){.groups = "P", .input_grads = 1, .outputs = &out,
                                                                   .n_outputs = 1, .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    expect("conv-flatten-linear out", prec, fetch(p, out, NULL, prec, 0, 10), fx_need(f, "cf.out", 10), 10,
           FWD_TOL[prec]);
    expect("conv-flatten-linear dx", prec, fetch(p, x, NULL, prec, 1, 216), fx_need(f, "cf.dx", 216), 216,
           GRAD_TOL[prec]);
    tg_param *pp[3] = {w, W, bl};
    const char *rec[3] = {"cf.dw", "cf.dW", "cf.dbl"};
    for (int k = 0; k < 3; k++)
        expect(rec[k], prec, fetch(p, tg_param_ref(g, pp[k]), prec ? NULL : pp[k], prec, 1, tg_param_numel(pp[k])),
               fx_need(f, rec[k], tg_param_numel(pp[k])), tg_param_numel(pp[k]), GRAD_TOL[prec]);
    tg_plan_free(p);
    tg_graph_free(g);
    tg_params_free(ps);
    free(xv);
    free(rv);
    fx_free(f);
}
END_TEST

/* ======================================= f32 vs f64 at the DCGAN shapes */
/* D: 64x1x28x28 -> 64 5x5 s2 'same' (pad 1,2,1,2) -> 14x14; 8x64x14x14 ->
 * 128 5x5 s2 'same' -> 7x7. G: 8x128x7x7 -> 64 4x4 s2 p1 -> 14x14;
 * 64x64x14x14 -> 1 4x4 s2 p1 -> 28x28. Then the f32 path's image groups
 * (conv_core.h) cut unevenly. Random data, each on the f32 kernels (2
 * threads) and the f64 loops (PAR_TOL: the header comment). */
#define PAR_TOL 1.2e-5 /* see the header comment */
typedef struct pshape { int tr, N, C, H, W, O, k; tg_conv_opts o; } pshape;
static const pshape PAR[] = {
    {0, 64, 1, 28, 28, 64, 5, {.stride = {2, 2}, .pad = {1, 2, 1, 2}}},
    {0, 8, 64, 14, 14, 128, 5, {.stride = {2, 2}, .pad = {1, 2, 1, 2}}},
    {1, 8, 128, 7, 7, 64, 4, {.stride = {2, 2}, .pad = {1, 1, 1, 1}}},
    {1, 64, 64, 14, 14, 1, 4, {.stride = {2, 2}, .pad = {1, 1, 1, 1}}},
    /* odd batches in one group (19, 21 images: 19 x 99 and 21 x 25 pixel rows),
     * and groups the scratch budget (2^20 floats) cuts unevenly: 7 = 3 + 3 + 1
     * (conv2d: (1600 + 8) x 196 floats per image), 5 = 2 + 2 + 1
     * (conv_transpose2d: (1600 + 8) x 256), 3 = 1 + 1 + 1 (1608 x 784) */
    {0, 19, 3, 11, 9, 5, 3, {.pad = {1, 1, 1, 1}}},
    {1, 21, 4, 5, 5, 3, 4, {.stride = {2, 2}, .pad = {1, 1, 1, 1}}},
    {0, 7, 64, 14, 14, 8, 5, {.pad = {2, 2, 2, 2}}},
    {1, 5, 8, 16, 16, 64, 5, {.pad = {2, 2, 2, 2}}},
    {0, 3, 64, 28, 28, 8, 5, {.pad = {2, 2, 2, 2}}},
};

START_TEST(test_parity_dcgan)
{
    const pshape *s = &PAR[_i];
    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "P", "w", 4, s->tr ? (int[]){s->C, s->O, s->k, s->k} : (int[]){s->O, s->C, s->k, s->k});
    tg_rng r;
    tg_rng_seed(&r, 5 + (uint64_t)_i, 0);
    tg_rng_fill_uniform(&r, tg_param_data(w), tg_param_numel(w), -0.1f, 0.1f);
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 4, (int[]){s->N, s->C, s->H, s->W});
    tg_node y = s->tr ? tg_conv_transpose2d(g, x, tg_param_ref(g, w), &s->o) : tg_conv2d(g, x, tg_param_ref(g, w), &s->o);
    int yd[4];
    for (int k = 0; k < 4; k++) yd[k] = tg_node_dim(g, y, k);
    tg_node R = tg_input(g, "R", 4, yd);
    tg_node L = tg_sum(g, tg_mul(g, y, R));
    const size_t nx = tg_node_numel(g, x), ny = tg_node_numel(g, y), nw = tg_param_numel(w);
    float *xv = malloc(nx * sizeof *xv), *rv = malloc(ny * sizeof *rv);
    ck_assert(xv && rv);
    tg_rng_fill_uniform(&r, xv, nx, -1.0f, 1.0f);
    tg_rng_fill_uniform(&r, rv, ny, -1.0f, 1.0f);
    tg_bind(g, x, xv);
    tg_bind(g, R, rv);
    tg_pool *pool = tg_pool_new(2, NULL);
    tg_plan *p[2];
    for (int prec = 0; prec < 2; prec++) {
        p[prec] = fx_plan(g, L, &(tg_plan_opts){.groups = "P", .input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                   .precision = PREC[prec], .pool = pool});
        ck_assert_int_eq(tg_plan_forward(p[prec]), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p[prec]), TG_OK);
    }
    char what[3][96];
    for (int k = 0; k < 3; k++)
        snprintf(what[k], sizeof what[k], "%s %dx%dx%dx%d parity %s", s->tr ? "convT" : "conv", s->N, s->C, s->H,
                 s->W, k == 0 ? "y" : k == 1 ? "dx" : "dw");
    double *want = fetch(p[1], y, NULL, 1, 0, ny);
    expect(what[0], 0, fetch(p[0], y, NULL, 0, 0, ny), want, ny, PAR_TOL);
    free(want);
    want = fetch(p[1], x, NULL, 1, 1, nx);
    expect(what[1], 0, fetch(p[0], x, NULL, 0, 1, nx), want, nx, PAR_TOL);
    free(want);
    want = fetch(p[1], tg_param_ref(g, w), NULL, 1, 1, nw);
    expect(what[2], 0, fetch(p[0], tg_param_ref(g, w), w, 0, 1, nw), want, nw, PAR_TOL);
    free(want);
    tg_plan_free(p[0]);
    tg_plan_free(p[1]);
    tg_pool_free(pool);
    tg_graph_free(g);
    tg_params_free(ps);
    free(xv);
    free(rv);
}
END_TEST

/* ============================================================== errors */
/* the builder failed with exactly this message (recorded on the graph) */
static void expect_err(tg_graph *g, tg_node n, tg_status code, const char *msg)
{
    ck_assert_int_lt(n.id, 0);
    ck_assert_int_eq(tg_graph_status(g), code);
    ck_assert_str_eq(tg_graph_error(g), msg);
    tg_graph_free(g);
}

/* a fresh graph with inputs x and w of the given shapes */
static tg_graph *xw(tg_node *x, tg_node *w, int nx, const int *dx, int nw, const int *dw)
{
    tg_graph *g = tg_graph_new(NULL);
    *x = tg_input(g, "x", nx, dx);
    *w = tg_input(g, "w", nw, dw);
    ck_assert_int_eq(tg_graph_status(g), TG_OK);
    return g;
}

#define D4(a, b, c, d) 4, (int[]){a, b, c, d}

START_TEST(test_conv_errors)
{
    tg_node x, w;
    tg_graph *g = xw(&x, &w, 3, (int[]){2, 3, 7}, D4(5, 3, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, NULL), TG_ERR_SHAPE,
               "conv2d: x is 2x3x7 and w is 5x3x3x3; want x (N,C,H,W) and w (Cout,Cin,kh,kw)");
    g = xw(&x, &w, D4(2, 3, 7, 9), D4(5, 4, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, NULL), TG_ERR_SHAPE,
               "conv2d: x is 2x3x7x9 but w is 5x4x3x3 (x has 3 channels, w takes 4)");
    g = xw(&x, &w, D4(2, 3, 7, 9), D4(5, 3, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, &(tg_conv_opts){.groups = 2}), TG_ERR_ARG,
               "conv2d: groups = 2 is not supported (only 1)");
    g = xw(&x, &w, D4(2, 3, 7, 9), D4(5, 3, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, &(tg_conv_opts){.stride = {-1, 1}}), TG_ERR_ARG,
               "conv2d: stride -1x1 and dilation 0x0 must be in 1..65536 (0 means 1)");
    g = xw(&x, &w, D4(2, 3, 7, 9), D4(5, 3, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, &(tg_conv_opts){.pad = {1, -1, 0, 0}}), TG_ERR_ARG,
               "conv2d: padding 1,-1,0,0 (top, bottom, left, right) must be in 0..65536");
    g = xw(&x, &w, D4(2, 3, 7, 9), D4(5, 3, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, &(tg_conv_opts){.out_pad = {1, 0}}), TG_ERR_ARG,
               "conv2d: output_padding 1x0 is for conv_transpose2d only");
    g = xw(&x, &w, D4(1, 1, 4, 4), D4(1, 1, 5, 5));
    expect_err(g, tg_conv2d(g, x, w, NULL), TG_ERR_SHAPE,
               "conv2d: the 5x5 kernel with dilation 1x1 spans 5x5, more than x 1x1x4x4 padded by 0,0,0,0 (4x4)");
    g = xw(&x, &w, D4(1, 1, 4, 6), D4(1, 1, 3, 3));
    expect_err(g, tg_conv2d(g, x, w, &(tg_conv_opts){.dilation = {2, 2}}), TG_ERR_SHAPE,
               "conv2d: the 3x3 kernel with dilation 2x2 spans 5x5, more than x 1x1x4x6 padded by 0,0,0,0 (4x6)");
    g = xw(&x, &w, D4(2, 3, 7, 9), D4(5, 3, 3, 3));
    expect_err(g, tg_conv2d(g, (tg_node){-1}, w, NULL), TG_ERR_NODE,
               "conv2d: input 0 is not a valid node of this graph");
    /* the 'same' example of tapegrad.h fits: 28 -> 14 */
    g = xw(&x, &w, D4(64, 1, 28, 28), D4(64, 1, 5, 5));
    tg_node y = tg_conv2d(g, x, w, &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 2, 1, 2}});
    ck_assert_int_eq(tg_node_dim(g, y, 2), 14);
    ck_assert_int_eq(tg_node_dim(g, y, 3), 14);
    tg_graph_free(g);

    g = xw(&x, &w, 3, (int[]){2, 8, 7}, D4(8, 4, 4, 4));
    expect_err(g, tg_conv_transpose2d(g, x, w, NULL), TG_ERR_SHAPE,
               "conv_transpose2d: x is 2x8x7 and w is 8x4x4x4; want x (N,C,H,W) and w (Cin,Cout,kh,kw)");
    g = xw(&x, &w, D4(2, 8, 7, 7), D4(4, 4, 4, 4));
    expect_err(g, tg_conv_transpose2d(g, x, w, NULL), TG_ERR_SHAPE,
               "conv_transpose2d: x is 2x8x7x7 but w is 4x4x4x4 (x has 8 channels, w takes 4)");
    g = xw(&x, &w, D4(2, 8, 7, 7), D4(8, 4, 4, 4));
    expect_err(g, tg_conv_transpose2d(g, x, w, &(tg_conv_opts){.stride = {2, 2}, .out_pad = {2, 0}}), TG_ERR_ARG,
               "conv_transpose2d: output_padding 2x0 must be >= 0 and smaller than the stride (2x2) or the "
               "dilation (1x1) of its axis");
    g = xw(&x, &w, D4(1, 1, 1, 8), D4(1, 1, 1, 1));
    expect_err(g, tg_conv_transpose2d(g, x, w, &(tg_conv_opts){.pad = {1, 1, 0, 0}}), TG_ERR_SHAPE,
               "conv_transpose2d: the output would be -1x8 (x 1x1x1x8, padding 1,1,0,0)");
    /* DCGAN's generator: 7 -> 14 -> 28 */
    g = xw(&x, &w, D4(64, 128, 7, 7), D4(128, 64, 4, 4));
    y = tg_conv_transpose2d(g, x, w, &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 1, 1, 1}});
    ck_assert_int_eq(tg_node_dim(g, y, 1), 64);
    ck_assert_int_eq(tg_node_dim(g, y, 2), 14);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_shape_op_errors)
{
    tg_node x, b;
    tg_graph *g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    expect_err(g, tg_bias_add_axis(g, x, b, 4), TG_ERR_ARG, "bias_add: axis 4 is outside x's 4 axes (x is 2x3x4x5)");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){4});
    expect_err(g, tg_bias_add_axis(g, x, b, 1), TG_ERR_SHAPE, "bias_add: x is 2x3x4x5 but b is 4 (want b (3), x's axis 1)");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    expect_err(g, tg_reshape(g, x, 2, (int[]){7, -1}), TG_ERR_SHAPE,
               "reshape: x is 2x3x4x5 (120 elements) but the shape 7x-1 does not hold 120");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    expect_err(g, tg_reshape(g, x, 2, (int[]){6, 21}), TG_ERR_SHAPE,
               "reshape: x is 2x3x4x5 (120 elements) but the shape 6x21 does not hold 120");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    expect_err(g, tg_reshape(g, x, 3, (int[]){2, -1, -1}), TG_ERR_SHAPE,
               "reshape: x is 2x3x4x5 but the shape 2x-1x-1 has a dimension -1 (want > 0, or one -1)");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    expect_err(g, tg_reshape(g, x, 3, (int[]){2, 0, 60}), TG_ERR_SHAPE,
               "reshape: x is 2x3x4x5 but the shape 2x0x60 has a dimension 0 (want > 0, or one -1)");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    expect_err(g, tg_reshape(g, x, 5, (int[]){1, 2, 3, 4, 5}), TG_ERR_ARG, "reshape: 5 dimensions (1..4 allowed)");
    g = xw(&x, &b, 1, (int[]){7}, 1, (int[]){3});
    expect_err(g, tg_flatten(g, x), TG_ERR_SHAPE, "flatten: x is 7; want (N, ...) with at least 2 dimensions");
    g = xw(&x, &b, D4(2, 3, 4, 5), 1, (int[]){3});
    tg_node f = tg_flatten(g, x);
    ck_assert_int_eq(tg_node_dim(g, f, 1), 60);
    ck_assert_str_eq(tg_node_op(g, f), "reshape");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_batch_norm_errors)
{
    tg_params *ps = tg_params_new();
    tg_param *rm = tg_param_new_state(ps, "B", "rm", 1, (int[]){3}), *rv = tg_param_new_state(ps, "B", "rv", 1, (int[]){3});
    tg_param *rv4 = tg_param_new_state(ps, "B", "rv4", 1, (int[]){4}), *plain = tg_param_new(ps, "B", "plain", 1, (int[]){3});
    ck_assert(rm && rv && rv4 && plain && !tg_param_is_state(plain) && tg_param_is_state(rm));
    struct { int nd; int d[4]; int gc; tg_param *m, *v; float eps, mom; tg_status code; const char *msg; } c[] = {
        {3, {2, 3, 4}, 3, rm, rv, 1e-5f, 0.1f, TG_ERR_SHAPE, "batch_norm: x is 2x3x4; want (N,C,H,W) or (N,C)"},
        {4, {2, 3, 4, 5}, 4, rm, rv, 1e-5f, 0.1f, TG_ERR_SHAPE,
         "batch_norm: x is 2x3x4x5 (3 channels) but gamma is 4 and beta is 3; want (3)"},
        {4, {2, 3, 4, 5}, 3, plain, rv, 1e-5f, 0.1f, TG_ERR_ARG,
         "batch_norm: running_mean 'B/plain' is not a state parameter (tg_param_new_state)"},
        {2, {2, 3}, 3, rm, rv4, 1e-5f, 0.1f, TG_ERR_SHAPE,
         "batch_norm: x is 2x3 (3 channels) but running_var 'B/rv4' is 4; want (3)"},
        {2, {2, 3}, 3, NULL, rv, 1e-5f, 0.1f, TG_ERR_ARG,
         "batch_norm: running_mean is NULL (a state parameter is required)"},
        {2, {2, 3}, 3, rm, rv, 0.0f, 0.1f, TG_ERR_ARG, "batch_norm: eps 0 must be finite and > 0"},
        {2, {2, 3}, 3, rm, rv, 1e-5f, 1.5f, TG_ERR_ARG, "batch_norm: momentum 1.5 must be in [0, 1]"},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        tg_graph *g = tg_graph_new(ps);
        tg_node x = tg_input(g, "x", c[k].nd, c[k].d);
        tg_node ga = tg_input(g, "gamma", 1, &c[k].gc), be = tg_input(g, "beta", 1, (int[]){3});
        expect_err(g, tg_batch_norm(g, x, ga, be, c[k].m, c[k].v, c[k].eps, c[k].mom), c[k].code, c[k].msg);
    }
    /* one value per channel: eval runs, training refuses when it runs */
    tg_graph *g = tg_graph_new(ps);
    float xv[3] = {1, 2, 3}, gv[3] = {1, 1, 1}, bv[3] = {0, 0, 0};
    tg_node x = tg_input(g, "x", 2, (int[]){1, 3}), ga = tg_input(g, "gamma", 1, (int[]){3});
    tg_node be = tg_input(g, "beta", 1, (int[]){3});
    tg_node l = tg_sum(g, tg_batch_norm(g, x, ga, be, rm, rv, 1e-5f, 0.1f));
    tg_bind(g, x, xv), tg_bind(g, ga, gv), tg_bind(g, be, bv);
    tg_plan *pe = fx_plan(g, l, &(tg_plan_opts){.eval = 1}), *pt = fx_plan(g, l, NULL);
    ck_assert_int_eq(tg_plan_forward(pe), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pt), TG_ERR_ARG);
    ck_assert_str_eq(tg_graph_error(g), "batch_norm: training needs 2 or more values per channel, x is 1x3");
    tg_plan_free(pe);
    tg_plan_free(pt);
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

static void add_error_tests(TCase *tc)
{
    tcase_add_test(tc, test_conv_errors);
    tcase_add_test(tc, test_shape_op_errors);
    tcase_add_test(tc, test_batch_norm_errors);
}

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_loop_test(core, test_conv2d_torch, 0, NC2 * M_COUNT);
    tcase_add_loop_test(core, test_conv_transpose2d_torch, 0, NCT * M_COUNT);
    tcase_add_loop_test(core, test_batch_norm_torch, 0, 4);
    tcase_add_loop_test(core, test_reshape_torch, 0, 2);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 300);
    tcase_add_loop_test(lim, test_parity_dcgan, 0, (int)(sizeof PAR / sizeof PAR[0]));
    suite_add_tcase(s, lim);
    TCase *err = tcase_create("errors");
    add_error_tests(err);
    suite_add_tcase(s, err);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("conv");
    if (gate >= 0) return gate;
    return tg_run_suite(conv_suite());
}
