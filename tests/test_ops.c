/* test_ops.c - Check suite "ops": forward values and gradients of every op,
 * through both f32 plans (the dispatched kernels) and f64 plans (the
 * reference kernels), against hand-derived constants and PyTorch (float64
 * torch values from tests/fixtures/make_torch_fixtures.py, read from
 * $TG_FIXTURES/ops.txt).
 *
 * Graph shape of the fixture checks: y = op(inputs), L = sum(y * w) with a
 * fixed random w, plans with input_grads = 1 and `y` in opts.outputs so its
 * value stays readable. f32 values come from tg_plan_value / tg_plan_grad /
 * tg_param_grad; f64 plans expose their double buffers only through the
 * internal tg_plan_value64 / tg_plan_grad64 (engine/internal.h).
 *
 * Tolerances. f32: 1e-5 relative per element (forward), and for gradients
 * relative to max(|want|, 0.1 max|want|): an f32 derivative computed from the
 * f32 output (1 - y^2 for tanh) has an absolute error of ~1e-7, which is not
 * small relative to a derivative near 0. f64: 1e-12 relative (forward), and
 * gradients relative to max(|want|, 1e-2 max|want|) (torch also forms
 * s (1 - s), so one ulp of s near 1 is a large relative error of 1 - s).
 */
#include "tapegrad.h"
#include "internal.h"   /* tg_plan_value64, tg_plan_grad64 */
#include "fixture.h"

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NE 39 /* element-wise fixture tensors are (3, 13) */

static const tg_precision PREC[2] = {TG_F32, TG_F64};
static const char *const PNAME[2] = {"f32", "f64"};

/* forward / gradient tolerances per precision (see the header comment) */
static const double FWD_RTOL[2] = {1e-5, 1e-12};
static const double FWD_FLOOR[2] = {1e-37, 1e-300};
static const double GRAD_RTOL[2] = {1e-5, 1e-12};
static const double GRAD_FLOOR_FRAC[2] = {0.1, 1e-2};

/* value of node n after the last forward, as doubles */
static void value_of(tg_plan *p, tg_node n, int prec, double *out, size_t cnt)
{
    if (PREC[prec] == TG_F32) {
        const float *v = tg_plan_value(p, n);
        ck_assert_msg(v != NULL, "f32 value of node %d not readable", n.id);
        for (size_t i = 0; i < cnt; i++) out[i] = v[i];
    } else {
        const double *v = tg_plan_value64(p, n);
        ck_assert_msg(v != NULL, "f64 value of node %d not readable", n.id);
        memcpy(out, v, cnt * sizeof *out);
    }
}

/* gradient of an input node (f32: tg_plan_grad) or parameter node (f32:
 * the store's tg_param_grad) after the last backward, as doubles */
static void grad_of(tg_plan *p, tg_node n, tg_param *param, int prec, double *out, size_t cnt)
{
    if (PREC[prec] == TG_F32) {
        const float *v = param ? tg_param_grad(param) : tg_plan_grad(p, n);
        ck_assert_msg(v != NULL, "f32 gradient of node %d not available", n.id);
        for (size_t i = 0; i < cnt; i++) out[i] = v[i];
    } else {
        const double *v = tg_plan_grad64(p, n);
        ck_assert_msg(v != NULL, "f64 gradient of node %d not available", n.id);
        memcpy(out, v, cnt * sizeof *out);
    }
}

static void check_fwd(const char *what, int prec, const double *got, const double *want, size_t n)
{
    /* f32 plans flush subnormal results to zero (FTZ/DAZ, engine/internal.h):
     * a want below FLT_MIN may come out as exactly 0 */
    double *w = malloc((n ? n : 1) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < n; i++)
        w[i] = PREC[prec] == TG_F32 && fabs(want[i]) < FLT_MIN && got[i] == 0.0 ? 0.0 : want[i];
    int ok = fx_close(what, got, w, n, FWD_RTOL[prec], FWD_FLOOR[prec]);
    free(w);
    ck_assert_msg(ok, "%s %s", PNAME[prec], fx_error());
}

static void check_grad(const char *what, int prec, const double *got, const double *want, size_t n)
{
    double floor = GRAD_FLOOR_FRAC[prec] * fx_maxabs(want, n);
    ck_assert_msg(fx_close(what, got, want, n, GRAD_RTOL[prec], floor > 0 ? floor : 1e-300), "%s %s",
                  PNAME[prec], fx_error());
}

/* L = sum(y w) is a sum with cancellation: compare it relative to sum|y w| */
static void check_loss(const char *what, int prec, double got, double want, const double *y, const float *w,
                       size_t n)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale += fabs(y[i] * (double)w[i]);
    double err = fabs(got - want), bound = FWD_RTOL[prec] * scale;
    ck_assert_msg(err <= bound, "%s %s: L = %.17g, want %.17g (|diff| %.3g > %.3g)", PNAME[prec], what, got, want,
                  err, bound);
}

/* ============================================== hand-derived constants */

/* One-element graphs y = op(x) with L = sum(y): L is y and dL/dx is op'(x).
 *   sigmoid(0)   = 1/(1+e^0) = 1/2;          sigmoid'(0) = s(1-s) = 1/4
 *   softplus(0)  = log(1+e^0) = ln 2;         softplus'(0) = sigmoid(0) = 1/2
 *   softplus(1)  = log(1+e) = 1.3132616875182228;  softplus'(1) = sigmoid(1) = 0.7310585786300049
 *   tanh(0.5)    = 0.46211715726000974;       tanh'(0.5) = 1 - tanh^2 = 0.7864477329659274
 *   tanh(0)      = 0;                         tanh'(0) = 1
 *   relu(-2) = 0, relu'(-2) = 0;   relu(3) = 3, relu'(3) = 1;   relu'(0) = 0 (as torch)
 *   leaky_relu(-2, 0.25) = -0.5 (exact), derivative 0.25; leaky'(0) = slope (as torch)
 *   scale(3, -1.75) = -5.25 (exact), derivative -1.75 */
typedef struct hand_case {
    const char *name;
    int op;          /* index into the switch in hand_build */
    float x, arg;
    double y, dy;
} hand_case;

enum { H_SIGMOID, H_SOFTPLUS, H_TANH, H_RELU, H_LEAKY, H_SCALE };

static const hand_case HAND[] = {
    {"sigmoid(0)", H_SIGMOID, 0.0f, 0, 0.5, 0.25},
    {"softplus(0)", H_SOFTPLUS, 0.0f, 0, 0.6931471805599453, 0.5},
    {"softplus(1)", H_SOFTPLUS, 1.0f, 0, 1.3132616875182228, 0.7310585786300049},
    {"tanh(0.5)", H_TANH, 0.5f, 0, 0.46211715726000974, 0.7864477329659274},
    {"tanh(0)", H_TANH, 0.0f, 0, 0.0, 1.0},
    {"relu(-2)", H_RELU, -2.0f, 0, 0.0, 0.0},
    {"relu(3)", H_RELU, 3.0f, 0, 3.0, 1.0},
    {"relu(0)", H_RELU, 0.0f, 0, 0.0, 0.0},
    {"leaky_relu(-2,0.25)", H_LEAKY, -2.0f, 0.25f, -0.5, 0.25},
    {"leaky_relu(0,0.25)", H_LEAKY, 0.0f, 0.25f, 0.0, 0.25},
    {"leaky_relu(5,0.25)", H_LEAKY, 5.0f, 0.25f, 5.0, 1.0},
    {"scale(3,-1.75)", H_SCALE, 3.0f, -1.75f, -5.25, -1.75},
    /* limits: saturation, exact in both precisions.
     *   sigmoid(+-1000): e^-1000 underflows to 0, so 1 and 0; s(1-s) = 0
     *   tanh(+-1000) = +-1, 1 - tanh^2 = 0
     *   softplus(1000) = 1000 + log1p(e^-1000) = 1000, derivative sigmoid = 1
     *   softplus(-1000) = 0 + log1p(e^-1000) = 0, derivative 0 */
    {"sigmoid(1000)", H_SIGMOID, 1000.0f, 0, 1.0, 0.0},
    {"sigmoid(-1000)", H_SIGMOID, -1000.0f, 0, 0.0, 0.0},
    {"tanh(1000)", H_TANH, 1000.0f, 0, 1.0, 0.0},
    {"tanh(-1000)", H_TANH, -1000.0f, 0, -1.0, 0.0},
    {"softplus(1000)", H_SOFTPLUS, 1000.0f, 0, 1000.0, 1.0},
    {"softplus(-1000)", H_SOFTPLUS, -1000.0f, 0, 0.0, 0.0},
};
#define N_HAND ((int)(sizeof HAND / sizeof HAND[0]))

static tg_node hand_build(tg_graph *g, const hand_case *c, tg_node x)
{
    switch (c->op) {
    case H_SIGMOID: return tg_sigmoid(g, x);
    case H_SOFTPLUS: return tg_softplus(g, x);
    case H_TANH: return tg_tanh(g, x);
    case H_RELU: return tg_relu(g, x);
    case H_LEAKY: return tg_leaky_relu(g, x, c->arg);
    default: return tg_scale(g, x, c->arg);
    }
}

/* loop over cases x precisions */
START_TEST(test_hand_unary)
{
    const hand_case *c = &HAND[_i / 2];
    int prec = _i % 2;
    /* f32: the constant rounded to float, within an ulp or two of the kernels */
    double rtol = prec ? 1e-15 : 2.5e-7;
    float xv = c->x;
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "x", 1, (int[]){1});
    tg_node y = hand_build(g, c, x);
    tg_node L = tg_sum(g, y);
    tg_bind(g, x, &xv);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    double got = tg_plan_loss(p), dgot;
    grad_of(p, x, NULL, prec, &dgot, 1);
    ck_assert_msg(isfinite(got) && fabs(got - c->y) <= rtol * fabs(c->y), "%s %s = %.17g, want %.17g", PNAME[prec],
                  c->name, got, c->y);
    ck_assert_msg(fabs(dgot - c->dy) <= rtol * fabs(c->dy), "%s %s' = %.17g, want %.17g", PNAME[prec], c->name,
                  dgot, c->dy);
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

/* Small exact cases:
 *   [1 2; 3 4] [5 6; 7 8] = [1*5+2*7 1*6+2*8; 3*5+4*7 3*6+4*8] = [19 22; 43 50], sum = 134
 *   d sum(A B)/dA = 1 B^T: row i of dA is the row sums of B = [11 15];
 *   d sum(A B)/dB = A^T 1: row k of dB is column sum k of A = [4 4; 6 6]
 *   add [1 2 3] + [10 20 30] = [11 22 33]; sub = [-9 -18 -27]; mul = [10 40 90]
 *   sum(1..8) = 8*9/2 = 36, mean = 4.5; concat [1 2],[3] = [1 2 3]
 * All exact in float, so both precisions must match bit for bit. */
START_TEST(test_hand_exact)
{
    int prec = _i;
    tg_graph *g = tg_graph_new(NULL);
    float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    tg_node a = tg_input(g, "a", 2, (int[]){2, 2}), b = tg_input(g, "b", 2, (int[]){2, 2});
    tg_node y = tg_matmul(g, a, b);
    tg_node L = tg_sum(g, y);
    tg_bind(g, a, A);
    tg_bind(g, b, B);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                  .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    double v[4], da[4], db[4];
    value_of(p, y, prec, v, 4);
    grad_of(p, a, NULL, prec, da, 4);
    grad_of(p, b, NULL, prec, db, 4);
    const double wy[4] = {19, 22, 43, 50}, wda[4] = {11, 15, 11, 15}, wdb[4] = {4, 4, 6, 6};
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(v[i] == wy[i], "%s matmul y[%d] = %g, want %g", PNAME[prec], i, v[i], wy[i]);
        ck_assert_msg(da[i] == wda[i], "%s matmul dA[%d] = %g, want %g", PNAME[prec], i, da[i], wda[i]);
        ck_assert_msg(db[i] == wdb[i], "%s matmul dB[%d] = %g, want %g", PNAME[prec], i, db[i], wdb[i]);
    }
    ck_assert_msg(tg_plan_loss(p) == 134.0, "sum = %g", tg_plan_loss(p));
    tg_plan_free(p);
    tg_graph_free(g);

    /* add / sub / mul / concat, then sum and mean of 1..8 */
    g = tg_graph_new(NULL);
    float X[3] = {1, 2, 3}, Y[3] = {10, 20, 30}, R[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    tg_node x = tg_input(g, "x", 2, (int[]){1, 3}), z = tg_input(g, "y", 2, (int[]){1, 3});
    tg_node r = tg_input(g, "r", 1, (int[]){8});
    tg_node ad = tg_add(g, x, z), sb = tg_sub(g, x, z), ml = tg_mul(g, x, z);
    tg_node cc = tg_concat(g, tg_concat(g, ad, sb), ml);
    tg_node s = tg_add(g, tg_add(g, tg_sum(g, cc), tg_sum(g, r)), tg_mean(g, r));
    tg_bind(g, x, X);
    tg_bind(g, z, Y);
    tg_bind(g, r, R);
    p = fx_plan(g, s, &(tg_plan_opts){.input_grads = 1, .outputs = &cc, .n_outputs = 1,
                                          .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    double c9[9];
    value_of(p, cc, prec, c9, 9);
    const double wc[9] = {11, 22, 33, -9, -18, -27, 10, 40, 90};
    for (int i = 0; i < 9; i++) ck_assert_msg(c9[i] == wc[i], "%s concat[%d] = %g, want %g", PNAME[prec], i, c9[i], wc[i]);
    /* sum(concat) = 66 - 54 + 140 = 152; + 36 + 4.5 = 192.5 */
    ck_assert_msg(tg_plan_loss(p) == 192.5, "%s total = %.17g, want 192.5", PNAME[prec], tg_plan_loss(p));
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    /* d/dx: add 1 + sub 1 + mul y = 2 + y;  d/dy: 1 - 1 + x = x;  d/dr: 1 + 1/8 */
    double gx[3], gy[3], gr[8];
    grad_of(p, x, NULL, prec, gx, 3);
    grad_of(p, z, NULL, prec, gy, 3);
    grad_of(p, r, NULL, prec, gr, 8);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(gx[i] == 2.0 + Y[i], "%s dx[%d] = %g", PNAME[prec], i, gx[i]);
        ck_assert_msg(gy[i] == X[i], "%s dy[%d] = %g", PNAME[prec], i, gy[i]);
    }
    for (int i = 0; i < 8; i++) ck_assert_msg(gr[i] == 1.125, "%s dr[%d] = %g", PNAME[prec], i, gr[i]);
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

/* =================================================== PyTorch fixtures */

enum { K_ADD, K_SUB, K_MUL, K_SCALE, K_RELU, K_LEAKY, K_SIGMOID, K_TANH, K_SOFTPLUS, K_COUNT };
static const char *const KNAME[K_COUNT] = {"add", "sub", "mul", "scale", "relu",
                                           "leaky_relu", "sigmoid", "tanh", "softplus"};

/* one element-wise op (and its gradient) vs torch; loop over op x precision */
START_TEST(test_elementwise_torch)
{
    int kind = _i / 2, prec = _i % 2;
    const char *op = KNAME[kind];
    char nm[64], what[96];
    fx_file *f = fx_need_file("ops.txt");
    int binary = kind <= K_MUL;
    float a[NE], b[NE], w[NE];
    fx_need_floats(f, kind <= K_SCALE ? "ew.a" : "act.x", a, NE);
    fx_need_floats(f, "ew.b", b, NE);
    fx_need_floats(f, "ew.w", w, NE);

    tg_graph *g = tg_graph_new(NULL);
    const int dims[2] = {3, 13};
    tg_node na = tg_input(g, "a", 2, dims), nb = tg_input(g, "b", 2, dims), nw = tg_input(g, "w", 2, dims);
    tg_node y;
    switch (kind) {
    case K_ADD: y = tg_add(g, na, nb); break;
    case K_SUB: y = tg_sub(g, na, nb); break;
    case K_MUL: y = tg_mul(g, na, nb); break;
    case K_SCALE: y = tg_scale(g, na, -1.75f); break;
    case K_RELU: y = tg_relu(g, na); break;
    case K_LEAKY: y = tg_leaky_relu(g, na, 0.2f); break;
    case K_SIGMOID: y = tg_sigmoid(g, na); break;
    case K_TANH: y = tg_tanh(g, na); break;
    default: y = tg_softplus(g, na); break;
    }
    ck_assert_str_eq(tg_node_op(g, y), op);
    tg_node L = tg_sum(g, tg_mul(g, y, nw));
    tg_bind(g, na, a);
    tg_bind(g, nb, b);
    tg_bind(g, nw, w);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                  .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);

    double got[NE];
    snprintf(nm, sizeof nm, "%s.y", op);
    const double *wy = fx_need(f, nm, NE);
    value_of(p, y, prec, got, NE);
    snprintf(what, sizeof what, "%s forward", op);
    check_fwd(what, prec, got, wy, NE);
    snprintf(nm, sizeof nm, "%s.L", op);
    check_loss(op, prec, tg_plan_loss(p), fx_need(f, nm, 1)[0], wy, w, NE);

    snprintf(nm, sizeof nm, binary ? "%s.da" : "%s.dx", op);
    grad_of(p, na, NULL, prec, got, NE);
    snprintf(what, sizeof what, "%s d/da", op);
    check_grad(what, prec, got, fx_need(f, nm, NE), NE);
    if (binary) {
        snprintf(nm, sizeof nm, "%s.db", op);
        grad_of(p, nb, NULL, prec, got, NE);
        snprintf(what, sizeof what, "%s d/db", op);
        check_grad(what, prec, got, fx_need(f, nm, NE), NE);
    } else {
        /* b is not behind L: no gradient for it */
        ck_assert_ptr_null(PREC[prec] == TG_F32 ? (const void *)tg_plan_grad(p, nb)
                                                : (const void *)tg_plan_grad64(p, nb));
    }
    /* and dL/dw = y */
    grad_of(p, nw, NULL, prec, got, NE);
    snprintf(what, sizeof what, "%s d/dw (= y)", op);
    check_fwd(what, prec, got, wy, NE);
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* matmul in all four transposed forms: _i = form * 2 + precision; form bit 1 = ta, bit 0 = tb.
 * The fixture holds A (M,K), B (K,N); the transposed forms bind A^T / B^T. */
START_TEST(test_matmul_torch)
{
    int form = _i / 2, prec = _i % 2, ta = form >> 1, tb = form & 1;
    fx_file *f = fx_need_file("ops.txt");
    const double *dm = fx_need(f, "mm.dims", 3);
    const int M = (int)dm[0], K = (int)dm[1], N = (int)dm[2];
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
    float *W = malloc(sizeof(float) * (size_t)(M * N));
    float *As = malloc(sizeof(float) * (size_t)(M * K)), *Bs = malloc(sizeof(float) * (size_t)(K * N));
    double *got = malloc(sizeof(double) * (size_t)(K * N + M * K + M * N));
    double *want = malloc(sizeof(double) * (size_t)(K * N + M * K));
    ck_assert(A && B && W && As && Bs && got && want);
    fx_need_floats(f, "mm.A", A, (size_t)(M * K));
    fx_need_floats(f, "mm.B", B, (size_t)(K * N));
    fx_need_floats(f, "mm.w", W, (size_t)(M * N));
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) As[ta ? k * M + i : i * K + k] = A[i * K + k];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++) Bs[tb ? j * K + k : k * N + j] = B[k * N + j];

    tg_graph *g = tg_graph_new(NULL);
    tg_node a = tg_input(g, "a", 2, ta ? (int[]){K, M} : (int[]){M, K});
    tg_node b = tg_input(g, "b", 2, tb ? (int[]){N, K} : (int[]){K, N});
    tg_node w = tg_input(g, "w", 2, (int[]){M, N});
    tg_node y = form ? tg_matmul_t(g, a, b, ta, tb) : tg_matmul(g, a, b);
    ck_assert_int_eq(tg_node_dim(g, y, 0), M);
    ck_assert_int_eq(tg_node_dim(g, y, 1), N);
    tg_node L = tg_sum(g, tg_mul(g, y, w));
    tg_bind(g, a, As);
    tg_bind(g, b, Bs);
    tg_bind(g, w, W);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                  .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    char what[64];
    const double *wy = fx_need(f, "mm.y", (size_t)(M * N));
    value_of(p, y, prec, got, (size_t)(M * N));
    /* K-term dot products with cancellation: relative to the largest |y| */
    snprintf(what, sizeof what, "matmul(ta=%d,tb=%d) forward", ta, tb);
    ck_assert_msg(fx_close(what, got, wy, (size_t)(M * N), FWD_RTOL[prec], fx_maxabs(wy, (size_t)(M * N))),
                  "%s %s", PNAME[prec], fx_error());
    check_loss(what, prec, tg_plan_loss(p), fx_need(f, "mm.L", 1)[0], wy, W, (size_t)(M * N));

    const double *dA = fx_need(f, "mm.dA", (size_t)(M * K)), *dB = fx_need(f, "mm.dB", (size_t)(K * N));
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) want[ta ? k * M + i : i * K + k] = dA[i * K + k];
    grad_of(p, a, NULL, prec, got, (size_t)(M * K));
    snprintf(what, sizeof what, "matmul(ta=%d,tb=%d) d/da", ta, tb);
    check_grad(what, prec, got, want, (size_t)(M * K));
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++) want[tb ? j * K + k : k * N + j] = dB[k * N + j];
    grad_of(p, b, NULL, prec, got, (size_t)(K * N));
    snprintf(what, sizeof what, "matmul(ta=%d,tb=%d) d/db", ta, tb);
    check_grad(what, prec, got, want, (size_t)(K * N));
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
    free(A); free(B); free(W); free(As); free(Bs); free(got); free(want);
}
END_TEST

/* y = x W + b with W, b parameters: gradients through tg_param_grad (f32)
 * and the f64 plan's buffers; a plan that asks for no group leaves the
 * store's gradients alone. */
START_TEST(test_linear_params_torch)
{
    int prec = _i;
    fx_file *f = fx_need_file("ops.txt");
    const double *dm = fx_need(f, "lin.dims", 3);
    const int B = (int)dm[0], IN = (int)dm[1], OUT = (int)dm[2];
    ck_assert(B == 5 && IN == 9 && OUT == 11);
    float X[5 * 9], Wy[5 * 11];
    fx_need_floats(f, "lin.x", X, (size_t)(B * IN));
    fx_need_floats(f, "lin.w", Wy, (size_t)(B * OUT));
    tg_params *ps = tg_params_new();
    tg_param *W = tg_param_new(ps, "P", "W", 2, (int[]){IN, OUT});
    tg_param *bb = tg_param_new(ps, "P", "b", 1, (int[]){OUT});
    ck_assert(W && bb);
    fx_need_floats(f, "lin.W", tg_param_data(W), (size_t)(IN * OUT));
    fx_need_floats(f, "lin.b", tg_param_data(bb), (size_t)OUT);

    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 2, (int[]){B, IN}), w = tg_input(g, "w", 2, (int[]){B, OUT});
    tg_node nW = tg_param_ref(g, W), nb = tg_param_ref(g, bb);
    tg_node y = tg_bias_add(g, tg_matmul(g, x, nW), nb);
    tg_node L = tg_sum(g, tg_mul(g, y, w));
    tg_bind(g, x, X);
    tg_bind(g, w, Wy);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.groups = "P", .input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                  .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_has_param_grad(p, W), 1);
    ck_assert_int_eq(tg_plan_has_param_grad(p, bb), 1);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    double got[9 * 11];
    const double *wy = fx_need(f, "lin.y", (size_t)(B * OUT));
    value_of(p, y, prec, got, (size_t)(B * OUT));
    ck_assert_msg(fx_close("linear forward", got, wy, (size_t)(B * OUT), FWD_RTOL[prec],
                           fx_maxabs(wy, (size_t)(B * OUT))), "%s %s", PNAME[prec], fx_error());
    check_loss("linear", prec, tg_plan_loss(p), fx_need(f, "lin.L", 1)[0], wy, Wy, (size_t)(B * OUT));
    grad_of(p, x, NULL, prec, got, (size_t)(B * IN));
    check_grad("linear d/dx", prec, got, fx_need(f, "lin.dx", (size_t)(B * IN)), (size_t)(B * IN));
    grad_of(p, nW, W, prec, got, (size_t)(IN * OUT));
    check_grad("linear d/dW", prec, got, fx_need(f, "lin.dW", (size_t)(IN * OUT)), (size_t)(IN * OUT));
    grad_of(p, nb, bb, prec, got, (size_t)OUT);
    check_grad("linear d/db", prec, got, fx_need(f, "lin.db", (size_t)OUT), (size_t)OUT);
    tg_plan_free(p);

    /* a plan for no group: no parameter gradient, store untouched */
    for (size_t i = 0; i < tg_param_numel(W); i++) tg_param_grad(W)[i] = 12345.0f;
    p = fx_plan(g, L, &(tg_plan_opts){.groups = "", .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_has_param_grad(p, W), 0);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    for (size_t i = 0; i < tg_param_numel(W); i++) ck_assert(tg_param_grad(W)[i] == 12345.0f);
    tg_plan_free(p);
    tg_graph_free(g);
    tg_params_free(ps);
    fx_free(f);
}
END_TEST

START_TEST(test_concat_torch)
{
    int prec = _i;
    fx_file *f = fx_need_file("ops.txt");
    float A[12], B[20], W[32];
    fx_need_floats(f, "cat.a", A, 12);
    fx_need_floats(f, "cat.b", B, 20);
    fx_need_floats(f, "cat.w", W, 32);
    tg_graph *g = tg_graph_new(NULL);
    tg_node a = tg_input(g, "a", 2, (int[]){4, 3}), b = tg_input(g, "b", 2, (int[]){4, 5});
    tg_node w = tg_input(g, "w", 2, (int[]){4, 8});
    tg_node y = tg_concat(g, a, b);
    tg_node L = tg_sum(g, tg_mul(g, y, w));
    tg_bind(g, a, A);
    tg_bind(g, b, B);
    tg_bind(g, w, W);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                  .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    double got[32];
    const double *wy = fx_need(f, "cat.y", 32);
    value_of(p, y, prec, got, 32);
    /* a copy: exact in both precisions */
    ck_assert_msg(fx_close("concat forward", got, wy, 32, 0.0, 0.0), "%s %s", PNAME[prec], fx_error());
    check_loss("concat", prec, tg_plan_loss(p), fx_need(f, "cat.L", 1)[0], wy, W, 32);
    grad_of(p, a, NULL, prec, got, 12);
    ck_assert_msg(fx_close("concat d/da", got, fx_need(f, "cat.da", 12), 12, 0.0, 0.0), "%s %s", PNAME[prec], fx_error());
    grad_of(p, b, NULL, prec, got, 20);
    ck_assert_msg(fx_close("concat d/db", got, fx_need(f, "cat.db", 20), 20, 0.0, 0.0), "%s %s", PNAME[prec], fx_error());
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* sum and mean as the loss itself: _i = op * 2 + precision */
START_TEST(test_reduce_torch)
{
    int mean = _i / 2, prec = _i % 2;
    const char *op = mean ? "mean" : "sum";
    char nm[32];
    fx_file *f = fx_need_file("ops.txt");
    float a[NE];
    fx_need_floats(f, "ew.a", a, NE);
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "x", 2, (int[]){3, 13});
    tg_node L = mean ? tg_mean(g, x) : tg_sum(g, x);
    ck_assert_int_eq(tg_node_ndim(g, L), 1);
    ck_assert_int_eq(tg_node_dim(g, L, 0), 1);
    tg_bind(g, x, a);
    tg_plan *p = fx_plan(g, L, &(tg_plan_opts){.input_grads = 1, .precision = PREC[prec]});
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    double ya[NE], scale = 0;
    for (int i = 0; i < NE; i++) ya[i] = a[i];
    for (int i = 0; i < NE; i++) scale += fabs(ya[i]);
    snprintf(nm, sizeof nm, "%s.y", op);
    double want = fx_need(f, nm, 1)[0], got = tg_plan_loss(p);
    if (mean) scale /= NE;
    ck_assert_msg(fabs(got - want) <= FWD_RTOL[prec] * scale, "%s %s = %.17g, want %.17g", PNAME[prec], op, got, want);
    /* gradient: every element 1 (sum) or 1/39 (mean) */
    double gx[NE];
    grad_of(p, x, NULL, prec, gx, NE);
    snprintf(nm, sizeof nm, "%s.dx", op);
    const double *wd = fx_need(f, nm, NE);
    double hand = mean ? 1.0 / NE : 1.0;
    for (int i = 0; i < NE; i++) {
        ck_assert_msg(fabs(wd[i] - hand) <= 1e-16, "fixture %s[%d] = %.17g", nm, i, wd[i]);
        ck_assert_msg(fabs(gx[i] - hand) <= (prec ? 1e-16 : 1e-7 * hand), "%s d%s/dx[%d] = %.17g, want %.17g",
                      PNAME[prec], op, i, gx[i], hand);
    }
    tg_plan_free(p);
    tg_graph_free(g);
    fx_free(f);
}
END_TEST

/* ============================================================= dropout */

#define ND 10000

typedef struct drop_env {
    tg_graph *g;
    tg_node x, y, L;
    float *xv;
} drop_env;

/* y = dropout(x, p), L = sum(y), x in [0.5, 1.5) (no zeros) */
static void drop_env_new(drop_env *e, float p, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, 7, 0);
    e->xv = malloc(sizeof(float) * ND);
    ck_assert(e->xv);
    tg_rng_fill_uniform(&r, e->xv, ND, 0.5f, 1.5f);
    e->g = tg_graph_new(NULL);
    tg_graph_set_seed(e->g, seed);
    e->x = tg_input(e->g, "x", 2, (int[]){100, ND / 100});
    e->y = tg_dropout(e->g, e->x, p);
    e->L = tg_sum(e->g, e->y);
    tg_bind(e->g, e->x, e->xv);
    ck_assert_msg(tg_graph_status(e->g) == TG_OK, "%s", tg_graph_error(e->g));
}

static void drop_env_free(drop_env *e)
{
    tg_graph_free(e->g);
    free(e->xv);
}

static tg_plan *drop_plan(drop_env *e, int prec, int eval)
{
    return fx_plan(e->g, e->L, &(tg_plan_opts){.input_grads = 1, .outputs = &e->y, .n_outputs = 1,
                                                  .eval = eval, .precision = PREC[prec]});
}

/* eval plans: y = x bit for bit, dL/dx = 1, and the step counter stays */
START_TEST(test_dropout_eval)
{
    int prec = _i;
    drop_env e;
    drop_env_new(&e, 0.3f, 11);
    tg_plan *p = drop_plan(&e, prec, 1);
    uint64_t s0 = tg_graph_dropout_step(e.g);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    ck_assert_uint_eq(tg_graph_dropout_step(e.g), s0);
    double *y = malloc(sizeof(double) * ND), *gx = malloc(sizeof(double) * ND);
    ck_assert(y && gx);
    value_of(p, e.y, prec, y, ND);
    grad_of(p, e.x, NULL, prec, gx, ND);
    for (int i = 0; i < ND; i++) {
        ck_assert_msg(y[i] == (double)e.xv[i], "%s eval dropout y[%d] = %.9g != x = %.9g", PNAME[prec], i, y[i],
                      (double)e.xv[i]);
        ck_assert_msg(gx[i] == 1.0, "%s eval dropout dx[%d] = %g", PNAME[prec], i, gx[i]);
    }
    free(y);
    free(gx);
    tg_plan_free(p);
    drop_env_free(&e);
}
END_TEST

/* Training plans. _i = p index * 2 + precision.
 * Each element is kept with probability 1-p independently, so the zero count
 * of n = 10,000 is Binomial(n, p): sd = sqrt(n p (1-p)) <= 50, i.e. a
 * fraction within 0.02 of p is a 4-sigma band (and the masks are a fixed
 * function of the seed, so the test is deterministic).
 * Kept values are x / (1-p): for p = 0.5 and 0.75 the factor 2 and 4 is exact
 * and so is the product; for p = 0.3 the factor is 1/(1 - 0.3f) rounded to
 * the precision, and x times it is one rounding away from x/(1-p).
 * dL/dx of L = sum(y) is the same mask times the same factor. */
static const float DROP_P[3] = {0.5f, 0.75f, 0.3f};

START_TEST(test_dropout_train)
{
    int prec = _i % 2;
    float pr = DROP_P[_i / 2];
    drop_env e;
    drop_env_new(&e, pr, 12345);
    tg_plan *p = drop_plan(&e, prec, 0);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    double *y = malloc(sizeof(double) * ND), *gx = malloc(sizeof(double) * ND);
    ck_assert(y && gx);
    value_of(p, e.y, prec, y, ND);
    grad_of(p, e.x, NULL, prec, gx, ND);
    double inv = 1.0 / (1.0 - (double)pr);
    double factor = prec ? inv : (double)(float)inv;
    int zeros = 0;
    double sum = 0;
    for (int i = 0; i < ND; i++) {
        double x = e.xv[i];
        if (y[i] == 0.0) {
            zeros++;
            ck_assert_msg(gx[i] == 0.0, "%s dropped element %d has gradient %g", PNAME[prec], i, gx[i]);
            continue;
        }
        double want = prec ? x * inv : (double)(float)(e.xv[i] * (float)inv);
        ck_assert_msg(y[i] == want, "%s kept y[%d] = %.17g, want x/(1-p) = %.17g", PNAME[prec], i, y[i], want);
        ck_assert_msg(fabs(y[i] - x / (1.0 - pr)) <= (prec ? 2.3e-16 : 1.2e-7) * fabs(x / (1.0 - pr)),
                      "%s kept y[%d] = %.17g is not x/(1-p) = %.17g", PNAME[prec], i, y[i], x / (1.0 - pr));
        ck_assert_msg(gx[i] == factor, "%s kept dx[%d] = %.17g, want %.17g", PNAME[prec], i, gx[i], factor);
        sum += y[i];
    }
    double frac = (double)zeros / ND;
    ck_assert_msg(fabs(frac - pr) <= 0.02, "%s p = %g: %.4f of the elements are zero", PNAME[prec], (double)pr, frac);
    ck_assert_msg(fabs(tg_plan_loss(p) - sum) <= (prec ? 1e-9 : 1e-3) * sum, "loss %.17g vs sum of y %.17g",
                  tg_plan_loss(p), sum);
    free(y);
    free(gx);
    tg_plan_free(p);
    drop_env_free(&e);
}
END_TEST

static void mask_of(tg_plan *p, const drop_env *e, int prec, unsigned char *m)
{
    double *y = malloc(sizeof(double) * ND);
    ck_assert(y);
    value_of(p, e->y, prec, y, ND);
    for (int i = 0; i < ND; i++) m[i] = y[i] != 0.0;
    free(y);
}

static int mask_diff(const unsigned char *a, const unsigned char *b)
{
    int d = 0;
    for (int i = 0; i < ND; i++) d += a[i] != b[i];
    return d;
}

/* The mask is a function of (seed, node, step): the same seed and step give
 * the same mask (in both precisions), another step or seed another one. Two
 * independent masks at p = 0.3 differ in 2 p (1-p) = 42% of the elements. */
START_TEST(test_dropout_masks)
{
    drop_env e, e2;
    drop_env_new(&e, 0.3f, 99);
    drop_env_new(&e2, 0.3f, 100);
    tg_plan *p32 = drop_plan(&e, 0, 0), *p64 = drop_plan(&e, 1, 0), *q = drop_plan(&e2, 0, 0);
    unsigned char *m0 = malloc(ND), *m1 = malloc(ND), *m2 = malloc(ND), *m3 = malloc(ND), *m4 = malloc(ND);
    ck_assert(m0 && m1 && m2 && m3 && m4);

    tg_graph_set_dropout_step(e.g, 5);
    ck_assert_int_eq(tg_plan_forward(p32), TG_OK);
    ck_assert_uint_eq(tg_graph_dropout_step(e.g), 6);  /* a training forward advances the step */
    mask_of(p32, &e, 0, m0);
    ck_assert_int_eq(tg_plan_forward(p32), TG_OK);     /* step 6 */
    mask_of(p32, &e, 0, m1);
    tg_graph_set_dropout_step(e.g, 5);
    ck_assert_int_eq(tg_plan_forward(p32), TG_OK);     /* step 5 again */
    mask_of(p32, &e, 0, m2);
    tg_graph_set_dropout_step(e.g, 5);
    ck_assert_int_eq(tg_plan_forward(p64), TG_OK);     /* step 5 in f64 */
    mask_of(p64, &e, 1, m3);
    tg_graph_set_dropout_step(e2.g, 5);
    ck_assert_int_eq(tg_plan_forward(q), TG_OK);       /* step 5, other seed */
    mask_of(q, &e2, 0, m4);

    ck_assert_msg(mask_diff(m0, m2) == 0, "same seed and step: %d mask bits differ", mask_diff(m0, m2));
    ck_assert_msg(mask_diff(m0, m3) == 0, "f32 vs f64 plans at the same step: %d mask bits differ", mask_diff(m0, m3));
    int d1 = mask_diff(m0, m1), d2 = mask_diff(m0, m4);
    ck_assert_msg(d1 > 3800 && d1 < 4600, "steps 5 and 6: %d of %d mask bits differ (want ~4200)", d1, ND);
    ck_assert_msg(d2 > 3800 && d2 < 4600, "seeds 99 and 100: %d of %d mask bits differ (want ~4200)", d2, ND);

    free(m0); free(m1); free(m2); free(m3); free(m4);
    tg_plan_free(p32);
    tg_plan_free(p64);
    tg_plan_free(q);
    drop_env_free(&e);
    drop_env_free(&e2);
}
END_TEST

/* A plan's backward must use the mask of its own forward. Two plans over the
 * same dropout node: p32 (training) runs forward at step 5, then another plan
 * runs forward over the same node - _i = 0: an f64 training plan (step 6),
 * _i = 1: an f32 eval plan (as a monitoring loss would) - then p32 runs
 * backward. p32's output used the step-5 mask, so its dx must be nonzero
 * exactly where its y is.
 * Engine bug found by this test: backward takes the step from the node
 * (tg_nrec.dstep, written by every plan's forward, eval plans included)
 * instead of from the plan that computed the values, so p32's backward
 * applies another mask (step 6, or the eval plan's step 0) to its step-5
 * forward: a wrong gradient (dx nonzero where y was dropped and vice versa). */
START_TEST(test_dropout_backward_own_mask)
{
    drop_env e;
    drop_env_new(&e, 0.3f, 99);
    tg_plan *p32 = drop_plan(&e, 0, 0), *other = _i ? drop_plan(&e, 0, 1) : drop_plan(&e, 1, 0);
    tg_graph_set_dropout_step(e.g, 5);
    ck_assert_int_eq(tg_plan_forward(p32), TG_OK);
    ck_assert_int_eq(tg_plan_forward(other), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p32), TG_OK);
    const float *y = tg_plan_value(p32, e.y), *gx = tg_plan_grad(p32, e.x);
    ck_assert(y && gx);
    int bad = 0, first = -1;
    for (int i = 0; i < ND; i++)
        if ((gx[i] != 0) != (y[i] != 0)) {
            bad++;
            if (first < 0) first = i;
        }
    ck_assert_msg(bad == 0, "backward after another %s plan's forward: %d of %d elements have dx != 0 iff y == 0 "
                  "(first: %d, y = %g, dx = %g)", _i ? "(eval)" : "(training, f64)", bad, ND, first,
                  first >= 0 ? (double)y[first] : 0.0, first >= 0 ? (double)gx[first] : 0.0);
    tg_plan_free(p32);
    tg_plan_free(other);
    drop_env_free(&e);
}
END_TEST

/* p = 0 in a training plan keeps everything with factor 1: y = x exactly */
START_TEST(test_dropout_p0)
{
    int prec = _i;
    drop_env e;
    drop_env_new(&e, 0.0f, 3);
    tg_plan *p = drop_plan(&e, prec, 0);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    double *y = malloc(sizeof(double) * ND);
    ck_assert(y);
    value_of(p, e.y, prec, y, ND);
    for (int i = 0; i < ND; i++) ck_assert_msg(y[i] == (double)e.xv[i], "%s p=0 y[%d] = %.9g", PNAME[prec], i, y[i]);
    free(y);
    tg_plan_free(p);
    drop_env_free(&e);
}
END_TEST

/* ============================================================== errors */

/* a failed builder returns an invalid node and names the op in the message */
static void expect_fail(tg_graph *g, tg_node n, tg_status code, const char *op)
{
    ck_assert_int_lt(n.id, 0);
    ck_assert_int_eq(tg_graph_status(g), code);
    ck_assert_msg(strstr(tg_graph_error(g), op) != NULL, "error '%s' does not name %s", tg_graph_error(g), op);
}

/* a fresh graph with inputs a (ra,ca) and b of ndim_b dims (rb,cb) */
static tg_graph *pair(tg_node *a, tg_node *b, int ra, int ca, int ndim_b, int rb, int cb)
{
    tg_graph *g = tg_graph_new(NULL);
    *a = tg_input(g, "a", 2, (int[]){ra, ca});
    *b = ndim_b == 2 ? tg_input(g, "b", 2, (int[]){rb, cb}) : tg_input(g, "b", 1, (int[]){rb});
    ck_assert_int_eq(tg_graph_status(g), TG_OK);
    return g;
}

START_TEST(test_shape_errors)
{
    tg_node a, b;
    tg_graph *g = pair(&a, &b, 2, 3, 2, 4, 5);
    expect_fail(g, tg_matmul(g, a, b), TG_ERR_SHAPE, "matmul");       /* K 3 vs 4 */
    tg_graph_free(g);
    g = pair(&a, &b, 3, 2, 2, 4, 5);
    expect_fail(g, tg_matmul_t(g, a, b, 1, 1), TG_ERR_SHAPE, "matmul"); /* (2,3) x (5,4) */
    tg_graph_free(g);
    g = pair(&a, &b, 2, 3, 2, 2, 4);
    expect_fail(g, tg_add(g, a, b), TG_ERR_SHAPE, "add");
    tg_graph_free(g);
    g = pair(&a, &b, 2, 3, 2, 2, 4);
    expect_fail(g, tg_sub(g, a, b), TG_ERR_SHAPE, "sub");
    tg_graph_free(g);
    g = pair(&a, &b, 2, 3, 2, 2, 4);
    expect_fail(g, tg_mul(g, a, b), TG_ERR_SHAPE, "mul");
    tg_graph_free(g);
    g = pair(&a, &b, 2, 3, 2, 3, 4);
    expect_fail(g, tg_concat(g, a, b), TG_ERR_SHAPE, "concat");       /* rows 2 vs 3 */
    tg_graph_free(g);
    g = pair(&a, &b, 2, 3, 1, 4, 0);
    expect_fail(g, tg_bias_add(g, a, b), TG_ERR_SHAPE, "bias_add");   /* b (4) vs 3 columns */
    tg_graph_free(g);
    g = pair(&a, &b, 2, 3, 2, 1, 3);
    expect_fail(g, tg_bias_add(g, a, b), TG_ERR_SHAPE, "bias_add");   /* b must be 1-D */
    tg_graph_free(g);
}
END_TEST

START_TEST(test_arg_errors)
{
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "x", 1, (int[]){4});
    expect_fail(g, tg_dropout(g, x, 1.0f), TG_ERR_ARG, "dropout");
    tg_graph_free(g);
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 1, (int[]){4});
    expect_fail(g, tg_dropout(g, x, -0.1f), TG_ERR_ARG, "dropout");
    tg_graph_free(g);
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 1, (int[]){4});
    expect_fail(g, tg_leaky_relu(g, x, NAN), TG_ERR_ARG, "leaky_relu");
    tg_graph_free(g);
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 1, (int[]){4});
    expect_fail(g, tg_scale(g, x, INFINITY), TG_ERR_ARG, "scale");
    tg_graph_free(g);
    /* an invalid input node */
    g = tg_graph_new(NULL);
    expect_fail(g, tg_relu(g, (tg_node){-1}), TG_ERR_NODE, "relu");
    tg_graph_free(g);
    /* a non-scalar loss needs forward_only */
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 1, (int[]){4});
    tg_node y = tg_tanh(g, x);
    ck_assert_ptr_null(tg_plan_new(g, y, &(tg_plan_opts){0}));
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_SHAPE);
    tg_graph_free(g);
    /* forward_only plans may end anywhere and expose the value */
    g = tg_graph_new(NULL);
    x = tg_input(g, "x", 1, (int[]){4});
    y = tg_tanh(g, x);
    float xv[4] = {0.5f, 0, 0, 0};
    tg_bind(g, x, xv);
    tg_plan *p = tg_plan_new(g, y, &(tg_plan_opts){.forward_only = 1});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_ERR_STATE);
    ck_assert(fabs(tg_plan_value(p, y)[0] - 0.46211715726000974) <= 1e-7);
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

/* unbound inputs are a run-time state error, not a crash */
START_TEST(test_unbound_input)
{
    tg_graph *g = tg_graph_new(NULL);
    tg_node x = tg_input(g, "lonely", 1, (int[]){4});
    tg_plan *p = fx_plan(g, tg_sum(g, tg_relu(g, x)), &(tg_plan_opts){0});
    ck_assert_int_eq(tg_plan_forward(p), TG_ERR_STATE);
    ck_assert_msg(strstr(tg_graph_error(g), "lonely") != NULL, "%s", tg_graph_error(g));
    tg_plan_free(p);
    tg_graph_free(g);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *core = tcase_create("core");
    tcase_add_loop_test(core, test_hand_unary, 0, 2 * 12);
    tcase_add_loop_test(core, test_hand_exact, 0, 2);
    tcase_add_loop_test(core, test_elementwise_torch, 0, 2 * K_COUNT);
    tcase_add_loop_test(core, test_matmul_torch, 0, 8);
    tcase_add_loop_test(core, test_linear_params_torch, 0, 2);
    tcase_add_loop_test(core, test_concat_torch, 0, 2);
    tcase_add_loop_test(core, test_reduce_torch, 0, 4);
    tcase_add_loop_test(core, test_dropout_eval, 0, 2);
    tcase_add_loop_test(core, test_dropout_train, 0, 6);
    tcase_add_test(core, test_dropout_masks);
    tcase_add_loop_test(core, test_dropout_backward_own_mask, 0, 2);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_loop_test(limits, test_hand_unary, 2 * 12, 2 * N_HAND);
    tcase_add_loop_test(limits, test_dropout_p0, 0, 2);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_shape_errors);
    tcase_add_test(errors, test_arg_errors);
    tcase_add_test(errors, test_unbound_input);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("ops");
    if (gate >= 0) return gate;
    return tg_run_suite(ops_suite());
}
