/* test_tape.c - the tape and its builders: shapes, the sticky error, every
 * builder's error on bad shapes and invalid nodes, parameters, rng, dot. */
#include "tapegrad.h"
#include "tg_models.h"

#include "check_main.h"
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static tg_params *ps;
static tg_graph *g;

static void setup(void)
{
    ps = tg_params_new();
    g = tg_graph_new(ps);
}
static void teardown(void)
{
    tg_graph_free(g);
    tg_params_free(ps);
}

static tg_node in2(const char *name, int r, int c) { return tg_input(g, name, 2, (int[]){r, c}); }

START_TEST(test_shapes)
{
    tg_param *w = tg_param_new(ps, "D", "w", 2, (int[]){784, 128});
    tg_param *b = tg_param_new(ps, "D", "b", 1, (int[]){128});
    tg_node x = in2("x", 64, 784);
    tg_node y = tg_bias_add(g, tg_matmul(g, x, tg_param_ref(g, w)), tg_param_ref(g, b));
    ck_assert_int_eq(tg_node_ndim(g, y), 2);
    ck_assert_int_eq(tg_node_dim(g, y, 0), 64);
    ck_assert_int_eq(tg_node_dim(g, y, 1), 128);
    ck_assert_str_eq(tg_node_op(g, y), "bias_add");
    /* transposed forms: x^T x is (784,784); x x^T is (64,64) */
    tg_node xtx = tg_matmul_t(g, x, x, 1, 0), xxt = tg_matmul_t(g, x, x, 0, 1);
    ck_assert_int_eq(tg_node_dim(g, xtx, 0), 784);
    ck_assert_int_eq(tg_node_dim(g, xtx, 1), 784);
    ck_assert_int_eq(tg_node_dim(g, xxt, 1), 64);
    tg_node c = tg_concat(g, y, x);
    ck_assert_int_eq(tg_node_dim(g, c, 1), 128 + 784);
    tg_node l = tg_bce_logits_const(g, y, 0.9f);
    ck_assert_uint_eq(tg_node_numel(g, l), 1);
    ck_assert_uint_eq(tg_node_numel(g, tg_mean(g, y)), 1);
    ck_assert_int_eq(tg_graph_status(g), TG_OK);
    ck_assert_str_eq(tg_graph_error(g), "");
    /* one node per parameter: referring twice gives the same node */
    ck_assert_int_eq(tg_param_ref(g, w).id, tg_param_ref(g, w).id);
}
END_TEST

START_TEST(test_matmul_message)
{
    tg_param *w = tg_param_new(ps, "D", "w", 2, (int[]){100, 128});
    tg_node x = in2("x", 64, 784);
    tg_node y = tg_matmul(g, x, tg_param_ref(g, w));
    ck_assert_int_lt(y.id, 0);
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_graph_error(g), "matmul: x is 64x784 but w is 100x128");
}
END_TEST

START_TEST(test_sticky)
{
    tg_node x = in2("x", 2, 3), y = in2("y", 3, 2);
    int before = tg_graph_nodes(g);
    tg_node bad = tg_add(g, x, y);
    ck_assert_int_lt(bad.id, 0);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "add: a is 2x3 but b is 3x2"));
    /* later builders do nothing, even valid ones, and keep the first message */
    ck_assert_int_lt(tg_relu(g, x).id, 0);
    ck_assert_int_lt(tg_input(g, "z", 1, (int[]){4}).id, 0);
    ck_assert_int_eq(tg_graph_nodes(g), before);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "add:"));
    /* and a plan cannot be compiled from a failed graph */
    ck_assert_ptr_null(tg_plan_new(g, x, &(tg_plan_opts){.forward_only = 1}));
}
END_TEST

/* Each builder on a fresh graph: bad input -> invalid node, code, message. */
typedef tg_node (*build_fn)(void);
static tg_node X(void) { return in2("x", 4, 3); }
static tg_node b_matmul(void) { return tg_matmul(g, X(), in2("w", 4, 3)); }
static tg_node b_matmul_t(void) { return tg_matmul_t(g, X(), in2("w", 5, 4), 0, 1); }
static tg_node b_matmul_1d(void) { return tg_matmul(g, tg_input(g, "v", 1, (int[]){3}), in2("w", 3, 2)); }
static tg_node b_bias(void) { return tg_bias_add(g, X(), tg_input(g, "b", 1, (int[]){4})); }
static tg_node b_concat(void) { return tg_concat(g, X(), in2("y", 5, 3)); }
static tg_node b_add(void) { return tg_add(g, X(), in2("y", 4, 2)); }
static tg_node b_sub(void) { return tg_sub(g, X(), in2("y", 3, 4)); }
static tg_node b_mul(void) { return tg_mul(g, X(), tg_input(g, "y", 1, (int[]){12})); }
static tg_node b_scale(void) { return tg_scale(g, X(), NAN); }
static tg_node b_leaky(void) { return tg_leaky_relu(g, X(), INFINITY); }
static tg_node b_dropout(void) { return tg_dropout(g, X(), 1.0f); }
static tg_node b_dropout_neg(void) { return tg_dropout(g, X(), -0.1f); }
static tg_node b_bce(void) { return tg_bce_logits(g, X(), in2("t", 3, 4)); }
static tg_node b_bce_const(void) { return tg_bce_logits_const(g, X(), NAN); }
static tg_node b_xent_float(void) { return tg_softmax_xent(g, X(), in2("l", 4, 1)); }
static tg_node b_xent_rows(void) { return tg_softmax_xent(g, X(), tg_input_labels(g, "l", 5)); }
static tg_node b_xent_on_labels(void) { return tg_relu(g, tg_input_labels(g, "l", 5)); }
static tg_node b_input_dims(void) { return tg_input(g, "x", 5, (int[]){1, 2, 3, 4, 5}); }
static tg_node b_input_zero(void) { return tg_input(g, "x", 2, (int[]){0, 3}); }
static tg_node b_param_null(void) { return tg_param_ref(g, NULL); }

static const struct {
    const char *name;
    build_fn fn;
    tg_status code;
    const char *msg;
} bad[] = {
    {"matmul", b_matmul, TG_ERR_SHAPE, "matmul: x is 4x3 but w is 4x3"},
    {"matmul_t", b_matmul_t, TG_ERR_SHAPE, "matmul: x is 4x3 but w is 5x4 (transposed)"},
    {"matmul_1d", b_matmul_1d, TG_ERR_SHAPE, "matmul: x is 3 and w is 3x2, both must be 2-D"},
    {"bias", b_bias, TG_ERR_SHAPE, "bias_add: x is 4x3 but b is 4"},
    {"concat", b_concat, TG_ERR_SHAPE, "concat: a is 4x3 but b is 5x3"},
    {"add", b_add, TG_ERR_SHAPE, "add: a is 4x3 but b is 4x2"},
    {"sub", b_sub, TG_ERR_SHAPE, "sub: a is 4x3 but b is 3x4"},
    {"mul", b_mul, TG_ERR_SHAPE, "mul: a is 4x3 but b is 12"},
    {"scale", b_scale, TG_ERR_ARG, "scale: factor nan is not finite"},
    {"leaky", b_leaky, TG_ERR_ARG, "leaky_relu: slope inf is not finite"},
    {"dropout", b_dropout, TG_ERR_ARG, "dropout: p = 1 is outside [0, 1)"},
    {"dropout_neg", b_dropout_neg, TG_ERR_ARG, "dropout: p = -0.1 is outside [0, 1)"},
    {"bce", b_bce, TG_ERR_SHAPE, "bce_logits: logits are 4x3 but targets are 3x4"},
    {"bce_const", b_bce_const, TG_ERR_ARG, "bce_logits: target nan is not finite"},
    {"xent_float", b_xent_float, TG_ERR_ARG, "softmax_xent: labels must be an int32 input"},
    {"xent_rows", b_xent_rows, TG_ERR_SHAPE, "softmax_xent: logits are 4x3 but labels are 5"},
    {"relu_on_labels", b_xent_on_labels, TG_ERR_ARG, "relu: input 0 holds integer labels"},
    {"input_dims", b_input_dims, TG_ERR_SHAPE, "input: 5 dimensions (1..4 allowed)"},
    {"input_zero", b_input_zero, TG_ERR_SHAPE, "input: dimension 0 is 0 (must be > 0)"},
    {"param_null", b_param_null, TG_ERR_ARG, "param: NULL parameter"},
};

START_TEST(test_builder_errors)
{
    tg_node y = bad[_i].fn();
    ck_assert_msg(y.id < 0, "%s: builder succeeded", bad[_i].name);
    ck_assert_int_eq(tg_graph_status(g), bad[_i].code);
    ck_assert_msg(strstr(tg_graph_error(g), bad[_i].msg), "%s: message '%s' lacks '%s'", bad[_i].name,
                  tg_graph_error(g), bad[_i].msg);
}
END_TEST

START_TEST(test_invalid_nodes)
{
    /* every builder given an invalid node (or a node of another graph)
     * fails with TG_ERR_NODE and touches nothing */
    tg_node x = X(), none = {-1}, far = {1000};
    tg_node (*un[])(tg_graph *, tg_node) = {tg_relu, tg_sigmoid, tg_tanh, tg_softplus, tg_sum, tg_mean,
                                            tg_detach, tg_gen_loss, tg_gen_loss_saturating, tg_keep};
    tg_node (*bin[])(tg_graph *, tg_node, tg_node) = {tg_add, tg_sub, tg_mul, tg_matmul, tg_bias_add,
                                                      tg_concat, tg_bce_logits, tg_softmax_xent};
    for (size_t i = 0; i < sizeof un / sizeof *un; i++) {
        tg_graph *h = tg_graph_new(ps);
        tg_node bad1 = {i % 2 ? -1 : 5};
        ck_assert_int_lt(un[i](h, bad1).id, 0);
        ck_assert_int_eq(tg_graph_status(h), TG_ERR_NODE);
        ck_assert_ptr_nonnull(strstr(tg_graph_error(h), "is not a valid node"));
        tg_graph_free(h);
    }
    for (size_t i = 0; i < sizeof bin / sizeof *bin; i++) {
        tg_graph *h = tg_graph_new(ps);
        tg_node a = tg_input(h, "a", 2, (int[]){2, 2});
        ck_assert_int_lt(bin[i](h, a, i % 2 ? none : far).id, 0);
        ck_assert_int_eq(tg_graph_status(h), TG_ERR_NODE);
        tg_graph_free(h);
    }
    ck_assert_int_lt(tg_scale(NULL, x, 1).id, 0);
    ck_assert_int_lt(tg_leaky_relu(g, none, 0.2f).id, 0);
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_NODE);
}
END_TEST

START_TEST(test_bind_errors)
{
    tg_node x = X();
    tg_node y = tg_relu(g, x);
    ck_assert_int_eq(tg_bind(g, y, (float[12]){0}), TG_ERR_NODE);
    tg_graph *h = tg_graph_new(ps);
    tg_node hx = tg_input(h, "x", 1, (int[]){3});
    ck_assert_int_eq(tg_bind(h, hx, NULL), TG_ERR_ARG);
    tg_graph_free(h);
    /* running with an unbound input returns TG_ERR_STATE naming it */
    h = tg_graph_new(ps);
    hx = tg_input(h, "pixels", 1, (int[]){3});
    tg_node l = tg_mean(h, tg_relu(h, hx));
    tg_plan *p = tg_plan_new(h, l, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_forward(p), TG_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(h), "input 'pixels' is not bound"));
    ck_assert_int_eq(tg_plan_backward(p), TG_ERR_STATE);
    tg_plan_free(p);
    tg_graph_free(h);
}
END_TEST

START_TEST(test_plan_errors)
{
    tg_node x = X();
    tg_node y = tg_relu(g, x);
    /* backward needs a scalar */
    ck_assert_ptr_null(tg_plan_new(g, y, NULL));
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "scalar"));
    tg_graph *h = tg_graph_new(ps);
    ck_assert_ptr_null(tg_plan_new(h, (tg_node){0}, NULL));
    ck_assert_int_eq(tg_graph_status(h), TG_ERR_NODE);
    tg_graph_free(h);
    h = tg_graph_new(ps);
    tg_node a = tg_input(h, "a", 1, (int[]){2});
    tg_node l = tg_sum(h, a);
    ck_assert_ptr_null(tg_plan_new(h, l, &(tg_plan_opts){.n_reuse = 1}));
    ck_assert_int_eq(tg_graph_status(h), TG_ERR_ARG);
    tg_graph_free(h);
    ck_assert_ptr_null(tg_plan_new(NULL, x, NULL));
    ck_assert_int_eq(tg_plan_forward(NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_backward(NULL), TG_ERR_ARG);
}
END_TEST

/* A forced kernel variant never falls back silently: with TG_KERNEL naming
 * no variant (or one this CPU lacks) f32 plans refuse to compile, saying
 * why; f64 plans (reference kernels) are unaffected. */
START_TEST(test_forced_kernel)
{
    const char *old = getenv("TG_KERNEL");
    char *saved = old ? strdup(old) : NULL;
    char msg[192];
    ck_assert_int_eq(setenv("TG_KERNEL", "avx9", 1), 0);
    ck_assert_int_eq(tg_kernel_check(msg, sizeof msg), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "TG_KERNEL=avx9: unknown kernel variant"));
    tg_node a = tg_input(g, "a", 1, (int[]){3});
    tg_node l = tg_sum(g, tg_relu(g, a));
    tg_bind(g, a, (float[]){1, -2, 3});
    tg_plan *p64 = tg_plan_new(g, l, &(tg_plan_opts){.precision = TG_F64, .input_grads = 1});
    ck_assert_ptr_nonnull(p64);
    tg_plan_free(p64);
    ck_assert_ptr_null(tg_plan_new(g, l, &(tg_plan_opts){.input_grads = 1}));
    ck_assert_int_eq(tg_graph_status(g), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "plan: TG_KERNEL=avx9: unknown kernel variant"));
    /* every variant's name is known; "portable" always runs */
    ck_assert_int_eq(setenv("TG_KERNEL", "portable", 1), 0);
    ck_assert_int_eq(tg_kernel_check(msg, sizeof msg), TG_OK);
    ck_assert_int_eq(setenv("TG_KERNEL", "avx512", 1), 0);
    if (tg_kernel_check(msg, sizeof msg) != TG_OK)
        ck_assert_msg(strstr(msg, "cannot run the avx512") || strstr(msg, "has no avx512"), "%s", msg);
    ck_assert_int_eq(unsetenv("TG_KERNEL"), 0);
    ck_assert_int_eq(tg_kernel_check(NULL, 0), TG_OK);
    if (saved) setenv("TG_KERNEL", saved, 1);
    free(saved);
}
END_TEST

START_TEST(test_nonfinite)
{
    /* a NaN input gives TG_ERR_NONFINITE from forward, not a crash */
    float v[3] = {1, NAN, 2};
    tg_node x = tg_input(g, "x", 1, (int[]){3});
    tg_node l = tg_mean(g, tg_tanh(g, x));
    tg_bind(g, x, v);
    tg_plan *p = tg_plan_new(g, l, &(tg_plan_opts){.input_grads = 1});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_forward(p), TG_ERR_NONFINITE);
    v[1] = 0.5f;
    ck_assert_int_eq(tg_plan_forward(p), TG_OK); /* not sticky */
    tg_plan_free(p);
}
END_TEST

/* ---- parameters ---- */
START_TEST(test_params)
{
    tg_param *w = tg_param_new(ps, "G", "l0.w", 2, (int[]){100, 128});
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_null(tg_param_new(ps, "G", "l0.w", 1, (int[]){3}));
    ck_assert_ptr_nonnull(strstr(tg_params_error(ps), "already exists"));
    ck_assert_ptr_null(tg_param_new(ps, "G", "", 1, (int[]){3}));
    ck_assert_ptr_null(tg_param_new(ps, "G,D", "x", 1, (int[]){3}));
    ck_assert_ptr_null(tg_param_new(ps, "G", "x", 0, (int[]){3}));
    ck_assert_ptr_null(tg_param_new(ps, "G", "x", 1, (int[]){-3}));
    ck_assert_ptr_eq(tg_param_find(ps, "G", "l0.w"), w);
    ck_assert_ptr_null(tg_param_find(ps, "D", "l0.w"));
    ck_assert_uint_eq(tg_param_numel(w), 12800);
    ck_assert_uint_eq(tg_params_numel(ps, "G"), 12800);
    ck_assert_uint_eq(tg_params_numel(ps, "D"), 0);
    for (size_t i = 0; i < tg_param_numel(w); i++) ck_assert(tg_param_data(w)[i] == 0.0f);
}
END_TEST

START_TEST(test_init)
{
    /* bounds and moments of each initializer (n = 100*128 = 12800 draws):
     * PyTorch: U(-a,a), a = 1/sqrt(100) = 0.1, variance a^2/3;
     * Xavier: a = sqrt(6/(100+128)) = 0.16222, variance a^2/3;
     * normal(0, 0.02): variance 4e-4. Sample variance within 5%. */
    tg_param *w = tg_param_new(ps, "G", "w", 2, (int[]){100, 128});
    tg_rng r;
    tg_rng_seed(&r, 5, 0);
    struct { tg_init k; double bound, var; } cases[] = {
        {TG_INIT_PYTORCH, 0.1, 0.01 / 3},
        {TG_INIT_XAVIER, sqrt(6.0 / 228), 6.0 / 228 / 3},
        {TG_INIT_NORMAL, INFINITY, 4e-4},
    };
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(tg_param_init(w, cases[c].k, 100, 128, 0.02f, &r), TG_OK);
        double s = 0, s2 = 0, mx = 0;
        for (size_t i = 0; i < 12800; i++) {
            double v = tg_param_data(w)[i];
            s += v;
            s2 += v * v;
            mx = fmax(mx, fabs(v));
        }
        double var = s2 / 12800 - (s / 12800) * (s / 12800);
        ck_assert(mx <= cases[c].bound);
        ck_assert_double_eq_tol(var, cases[c].var, 0.05 * cases[c].var);
    }
    /* seeded: same seed, same values */
    float first[8];
    tg_rng_seed(&r, 9, 0);
    tg_param_init(w, TG_INIT_XAVIER, 100, 128, 0, &r);
    memcpy(first, tg_param_data(w), sizeof first);
    tg_rng_seed(&r, 9, 0);
    tg_param_init(w, TG_INIT_XAVIER, 100, 128, 0, &r);
    ck_assert(memcmp(first, tg_param_data(w), sizeof first) == 0);
    ck_assert_int_eq(tg_param_init(w, TG_INIT_ZEROS, 0, 0, 0, NULL), TG_OK);
    ck_assert(tg_param_data(w)[7] == 0.0f);
    ck_assert_int_eq(tg_param_init(w, TG_INIT_XAVIER, 0, 128, 0, &r), TG_ERR_ARG);
    ck_assert_int_eq(tg_param_init(w, TG_INIT_NORMAL, 1, 1, -1.0f, &r), TG_ERR_ARG);
}
END_TEST

START_TEST(test_rng)
{
    tg_rng a, b;
    tg_rng_seed(&a, 1, 0);
    tg_rng_seed(&b, 1, 1);
    ck_assert(tg_rng_u64(&a) != tg_rng_u64(&b)); /* streams differ */
    tg_rng_seed(&a, 1, 0);
    tg_rng c = a; /* copying saves the state */
    ck_assert(tg_rng_u64(&a) == tg_rng_u64(&c));
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) {
        double v = tg_rng_normal(&a);
        s += v;
        s2 += v * v;
        double u = tg_rng_uniform(&a);
        ck_assert(u >= 0 && u < 1);
    }
    ck_assert_double_eq_tol(s / 1e5, 0, 0.02);
    ck_assert_double_eq_tol(s2 / 1e5, 1, 0.02);
}
END_TEST

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The ziggurat normal sampler: its empirical CDF against the exact one
 * (Kolmogorov-Smirnov), the fourth moment, and how often it lands beyond
 * the base layer's edge R = 3.654 (the tail path) and in the wedges. A
 * wrong table or a skipped wedge test moves these by far more than the
 * bounds (n = 10^6: KS critical value at p = 0.001 is 1.95/sqrt(n)). */
START_TEST(test_rng_normal_distribution)
{
    enum { NS = 1000000 };
    float *x = malloc(NS * sizeof *x);
    ck_assert_ptr_nonnull(x);
    tg_rng r;
    tg_rng_seed(&r, 42, 3);
    tg_rng_fill_normal(&r, x, NS, 0.0f, 1.0f);
    double s = 0, s2 = 0, s4 = 0;
    int tail = 0, band = 0;
    for (int i = 0; i < NS; i++) {
        double v = x[i];
        ck_assert(isfinite(v));
        s += v;
        s2 += v * v;
        s4 += v * v * v * v;
        tail += fabs(v) > 3.6541528853610088;
        band += fabs(v) > 1.0 && fabs(v) < 2.0;
    }
    ck_assert_double_eq_tol(s / NS, 0, 0.005);
    ck_assert_double_eq_tol(s2 / NS, 1, 0.005);
    ck_assert_double_eq_tol(s4 / NS, 3, 0.05);
    /* P(|x| > R) = 2.58e-4: expect 258 +- 16 */
    ck_assert_int_ge(tail, 258 - 80);
    ck_assert_int_le(tail, 258 + 80);
    /* P(1 < |x| < 2) = 0.27181 */
    ck_assert_double_eq_tol((double)band / NS, 0.27181, 0.003);
    qsort(x, NS, sizeof *x, cmp_float);
    double dmax = 0;
    for (int i = 0; i < NS; i++) {
        double F = 0.5 * erfc(-x[i] / sqrt(2.0));
        double d1 = fabs(F - (double)i / NS), d2 = fabs(F - (double)(i + 1) / NS);
        if (d1 > dmax) dmax = d1;
        if (d2 > dmax) dmax = d2;
    }
    ck_assert_double_lt(dmax, 1.95 / sqrt((double)NS));
    free(x);
}
END_TEST

START_TEST(test_dot)
{
    tg_gan_mlp gs;
    tg_rng r;
    tg_rng_seed(&r, 1, 0);
    ck_assert_int_eq(tg_gan_mlp_preset("tiny", &gs, NULL), TG_OK);
    ck_assert_int_eq(tg_mlp_params(ps, &gs.D, gs.init, 0, &r), TG_OK);
    tg_node x = in2("x", 3, 12);
    tg_node l = tg_bce_logits_const(g, tg_mlp(g, &gs.D, x), 0.9f);
    ck_assert_int_ge(l.id, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(tg_graph_to_dot(g, f), TG_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "digraph tapegrad"));
    ck_assert_ptr_nonnull(strstr(buf, "D/l0.w\\n12x8"));
    ck_assert_ptr_nonnull(strstr(buf, "matmul\\n3x8"));
    ck_assert_ptr_nonnull(strstr(buf, "leaky_relu(0.2)"));
    ck_assert_ptr_nonnull(strstr(buf, "dropout(p=0.25)"));
    ck_assert_ptr_nonnull(strstr(buf, "bce_logits(t=0.9)"));
    ck_assert_ptr_nonnull(strstr(buf, "input x\\n3x12"));
    free(buf);
    ck_assert_int_eq(tg_graph_to_dot(NULL, stdout), TG_ERR_ARG);
}
END_TEST

START_TEST(test_models_errors)
{
    tg_gan_mlp gs;
    ck_assert_int_eq(tg_gan_mlp_preset("nope", &gs, NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_gan_mlp_preset("reference", &gs, NULL), TG_OK);
    /* building before the parameters exist names the missing one */
    tg_node x = in2("x", 2, 784);
    ck_assert_int_lt(tg_mlp(g, &gs.D, x).id, 0);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "D/l0.w is not in the store"));
    tg_error e;
    gs.D.n_layers = 0;
    ck_assert_int_eq(tg_mlp_check(&gs.D, &e), TG_ERR_ARG);
    ck_assert_int_eq(e.code, TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "0 layers"));
    ck_assert_int_eq(tg_gan_mlp_preset("nope", &gs, &e), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "unknown preset 'nope'"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tape");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, test_shapes);
    tcase_add_test(core, test_params);
    tcase_add_test(core, test_init);
    tcase_add_test(core, test_rng);
    tcase_add_test(core, test_rng_normal_distribution);
    tcase_add_test(core, test_dot);
    suite_add_tcase(s, core);
    TCase *err = tcase_create("errors");
    tcase_add_checked_fixture(err, setup, teardown);
    tcase_add_test(err, test_matmul_message);
    tcase_add_test(err, test_sticky);
    tcase_add_loop_test(err, test_builder_errors, 0, (int)(sizeof bad / sizeof *bad));
    tcase_add_test(err, test_invalid_nodes);
    tcase_add_test(err, test_bind_errors);
    tcase_add_test(err, test_plan_errors);
    tcase_add_test(err, test_forced_kernel);
    tcase_add_test(err, test_nonfinite);
    tcase_add_test(err, test_models_errors);
    suite_add_tcase(s, err);
    return s;
}

int main(void)
{
    return tg_run_suite(suite());
}
