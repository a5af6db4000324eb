/* gc_cases.c - the gradient-check registry (see gc_cases.h).
 *
 * Each case is a tiny graph whose loss is a scalar. Ops with a non-scalar
 * output are reduced by a fixed random weighting, loss = sum(y * R) with R a
 * constant input of y's shape, so every output element gets a different
 * upstream gradient. Inputs of ops with kinks (relu, leaky_relu) are drawn
 * with |x| >= 0.1, far from the kink for any step h <= 1e-2. Extreme logits
 * (+-50, +-1000) exercise the losses where their gradients saturate
 * (sigmoid(x) - t in closed form); the losses are stable there by design.
 * Cases marked dy!=1 put a loss or reduction under sum(tanh(.)), so its
 * backward sees an upstream gradient other than 1; cases y = op(u) + u give u
 * a second consumer, so the op's backward must add to a gradient it did not
 * start (ops that overwrite a gradient they start take another path then).
 * Without them, a loss that ignores its upstream gradient, or a backward
 * that overwrites where it should add, passes every case.
 * tests/test_gradcheck.c plants such wrong backwards, and others (ops/fault.h),
 * and requires some case to catch each one.
 *
 * Not covered here: the reference/documents generators (784 x 512 weights in
 * the last layer alone: ~800k finite-difference forwards, minutes per check);
 * the reference discriminator's last layer is covered, with its body's
 * weights frozen in a separate group. */
#include "gc_build.h"

#include "tg_models.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gc_fill(tg_gc_ctx *c, float *x, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        double u = tg_rng_uniform(&c->rng);
        double sgn = (tg_rng_u64(&c->rng) >> 63) ? -1.0 : 1.0;
        switch (kind) {
        case F_U3: x[i] = (float)(6 * u - 3); break;
        case F_AWAY: x[i] = (float)(sgn * (0.1 + 0.9 * u)); break;
        case F_WIDE: x[i] = (float)(60 * u - 30); break;
        case F_U01: x[i] = (float)u; break;
        case F_BIG: x[i] = (float)((i % 2 ? -1000.0 : 1000.0) * (i % 4 == 3 ? sgn : 1.0)); break;
        case F_FIFTY: x[i] = (float)((i % 2 ? -50.0 : 50.0) * (i % 4 == 3 ? sgn : 1.0)); break;
        default: x[i] = (float)(2 * u - 1); break;
        }
    }
}

void *gc_mem(tg_gc_ctx *c, size_t bytes)
{
    if (c->nbufs >= TG_GC_MAX_BUFS) return NULL;
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) c->bufs[c->nbufs++] = p;
    return p;
}

/* ------------------------------------------------------ leaves, helpers */
static int shape(int r, int k, int *dims)
{
    if (r <= 0) {
        dims[0] = k;
        return 1;
    }
    dims[0] = r;
    dims[1] = k;
    return 2;
}

/* A float input (r,k), or (k) when r <= 0, with data of the given kind. */
static tg_node input(tg_gc_ctx *c, const char *name, int r, int k, int kind)
{
    int dims[2], nd = shape(r, k, dims);
    tg_node x = tg_input(c->g, name, nd, dims);
    if (x.id < 0) return x;
    size_t n = tg_node_numel(c->g, x);
    float *d = gc_mem(c, n * sizeof(float));
    if (!d) return tg_graph_fail(c->g, TG_ERR_NOMEM, "gc case: no memory for input data");
    gc_fill(c, d, n, kind);
    tg_bind(c->g, x, d);
    return x;
}

/* A parameter group/name (r,k), or (k) when r <= 0, with values of the given kind. */
static tg_node param(tg_gc_ctx *c, const char *group, const char *name, int r, int k, int kind)
{
    int dims[2], nd = shape(r, k, dims);
    tg_param *p = tg_param_new(c->ps, group, name, nd, dims);
    if (!p) return tg_graph_fail(c->g, TG_ERR_ARG, tg_params_error(c->ps));
    gc_fill(c, tg_param_data(p), tg_param_numel(p), kind);
    return tg_param_ref(c->g, p);
}

tg_node gc_input_nd(tg_gc_ctx *c, const char *name, int ndim, const int *dims, int kind)
{
    tg_node x = tg_input(c->g, name, ndim, dims);
    if (x.id < 0) return x;
    size_t n = tg_node_numel(c->g, x);
    float *d = gc_mem(c, n * sizeof(float));
    if (!d) return tg_graph_fail(c->g, TG_ERR_NOMEM, "gc case: no memory for input data");
    gc_fill(c, d, n, kind);
    tg_bind(c->g, x, d);
    return x;
}

tg_node gc_param_nd(tg_gc_ctx *c, const char *group, const char *name, int ndim, const int *dims, int kind)
{
    tg_param *p = tg_param_new(c->ps, group, name, ndim, dims);
    if (!p) return tg_graph_fail(c->g, TG_ERR_ARG, tg_params_error(c->ps));
    gc_fill(c, tg_param_data(p), tg_param_numel(p), kind);
    return tg_param_ref(c->g, p);
}

/* sum(y * R): a scalar with a distinct upstream gradient per element of y. */
tg_node gc_weigh(tg_gc_ctx *c, tg_node y)
{
    if (y.id < 0) return y;
    int nd = tg_node_ndim(c->g, y), dims[TG_MAX_DIMS];
    for (int a = 0; a < nd; a++) dims[a] = tg_node_dim(c->g, y, a);
    tg_node r = tg_input(c->g, "R", nd, dims);
    if (r.id < 0) return r;
    size_t n = tg_node_numel(c->g, r);
    float *d = gc_mem(c, n * sizeof(float));
    if (!d) return tg_graph_fail(c->g, TG_ERR_NOMEM, "gc case: no memory for weights");
    gc_fill(c, d, n, F_U1);
    tg_bind(c->g, r, d);
    return tg_sum(c->g, tg_mul(c->g, y, r));
}

/* ------------------------------------------------------------- builders */
/* iarg: M, K, N, transposes (bit 0: a, bit 1: b). a is an input, b a parameter. */
static tg_node b_matmul(tg_gc_ctx *c, const tg_gc_case *s)
{
    int M = s->iarg[0], K = s->iarg[1], N = s->iarg[2], ta = s->iarg[3] & 1, tb = (s->iarg[3] >> 1) & 1;
    tg_node a = ta ? input(c, "a", K, M, F_U1) : input(c, "a", M, K, F_U1);
    tg_node b = tb ? param(c, "W", "b", N, K, F_U1) : param(c, "W", "b", K, N, F_U1);
    tg_node y = ta || tb ? tg_matmul_t(c->g, a, b, ta, tb) : tg_matmul(c->g, a, b);
    return gc_weigh(c, y);
}

/* op(a) op(a) with one input in both slots (x^T x when iarg[2] = 0, x x^T
 * when 1): the two gradient contributions land in one buffer. iarg: R, C */
static tg_node b_matmul_self(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node a = input(c, "a", s->iarg[0], s->iarg[1], F_U1);
    return gc_weigh(c, s->iarg[2] ? tg_matmul_t(c->g, a, a, 0, 1) : tg_matmul_t(c->g, a, a, 1, 0));
}

/* iarg: B, N */
static tg_node b_bias_add(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], F_U1);
    tg_node b = param(c, "W", "b", 0, s->iarg[1], F_U1);
    return gc_weigh(c, tg_bias_add(c->g, x, b));
}

/* iarg: B, Na, Nb */
static tg_node b_concat(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node a = input(c, "a", s->iarg[0], s->iarg[1], F_U1);
    tg_node b = param(c, "W", "b", s->iarg[0], s->iarg[2], F_U1);
    return gc_weigh(c, tg_concat(c->g, a, b));
}

/* iarg: rows, cols, op (0 add, 1 sub, 2 mul), same (1: both operands are one node) */
static tg_node b_binary(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node a = input(c, "a", s->iarg[0], s->iarg[1], F_U1);
    tg_node b = s->iarg[3] ? a : param(c, "W", "b", s->iarg[0], s->iarg[1], F_U1);
    tg_node y = s->iarg[2] == 0 ? tg_add(c->g, a, b) : s->iarg[2] == 1 ? tg_sub(c->g, a, b) : tg_mul(c->g, a, b);
    return gc_weigh(c, y);
}

/* iarg: rows, cols; farg: s */
static tg_node b_scale(tg_gc_ctx *c, const tg_gc_case *s)
{
    return gc_weigh(c, tg_scale(c->g, input(c, "x", s->iarg[0], s->iarg[1], F_U1), s->farg[0]));
}

enum { U_RELU, U_LEAKY, U_SIGMOID, U_TANH, U_SOFTPLUS };

/* iarg: rows, cols, activation, fill; farg: slope */
static tg_node b_unary(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], s->iarg[3]);
    tg_node y;
    switch (s->iarg[2]) {
    case U_RELU: y = tg_relu(c->g, x); break;
    case U_LEAKY: y = tg_leaky_relu(c->g, x, s->farg[0]); break;
    case U_SIGMOID: y = tg_sigmoid(c->g, x); break;
    case U_TANH: y = tg_tanh(c->g, x); break;
    default: y = tg_softplus(c->g, x); break;
    }
    return gc_weigh(c, y);
}

/* A second consumer: y = op(u) + u, so u's gradient is started by the add
 * and op's backward must accumulate into it (ops that may overwrite a
 * gradient they start take another path when they do not start it).
 * iarg: rows, cols, op (U_* activation of x, R_BIAS: bias_add(x, b),
 * R_DROPOUT: dropout(tanh x) with u = tanh x), fill of x; farg: slope or p. */
enum { R_BIAS = U_SOFTPLUS + 1, R_DROPOUT };

static tg_node b_residual(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_graph *g = c->g;
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], s->iarg[3]), u = x, y;
    switch (s->iarg[2]) {
    case U_RELU: y = tg_relu(g, x); break;
    case U_LEAKY: y = tg_leaky_relu(g, x, s->farg[0]); break;
    case U_SIGMOID: y = tg_sigmoid(g, x); break;
    case U_TANH: y = tg_tanh(g, x); break;
    case U_SOFTPLUS: y = tg_softplus(g, x); break;
    case R_BIAS: y = tg_bias_add(g, x, param(c, "W", "b", 0, s->iarg[1], F_U1)); break;
    default:
        u = tg_tanh(g, x);
        y = tg_dropout(g, u, s->farg[0]);
        break;
    }
    return gc_weigh(c, tg_add(g, y, u));
}

/* iarg: rows, cols; farg: p. tanh in front so the input gradient is not just the mask. */
static tg_node b_dropout(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], F_U1);
    return gc_weigh(c, tg_dropout(c->g, tg_tanh(c->g, x), s->farg[0]));
}

/* iarg: rows, cols, mean (0 sum, 1 mean), nested (1: upstream gradient != 1) */
static tg_node b_reduce(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], F_U1);
    tg_node (*red)(tg_graph *, tg_node) = s->iarg[2] ? tg_mean : tg_sum;
    if (!s->iarg[3]) return red(c->g, x);
    /* sum(tanh(0.7 red(tanh x))): the reduction's dy is 0.7 (1 - tanh^2) */
    return tg_sum(c->g, tg_tanh(c->g, tg_scale(c->g, red(c->g, tg_tanh(c->g, x)), 0.7f)));
}

/* sum(tanh(l)) for a loss l: l is no longer the graph's output, so its
 * backward gets an upstream gradient 1 - tanh(l)^2 instead of 1 (a fused
 * loss that ignores its upstream gradient passes every case without this) */
static tg_node nest(tg_gc_ctx *c, tg_node l) { return tg_sum(c->g, tg_tanh(c->g, l)); }

/* iarg: rows, cols, fill, nested; farg: constant target */
static tg_node b_bce_const(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], s->iarg[2]);
    tg_node l = tg_bce_logits_const(c->g, x, s->farg[0]);
    return s->iarg[3] ? nest(c, l) : l;
}

/* iarg: rows, cols, fill of the logits, nested; targets U(0,1) are an input checked too */
static tg_node b_bce_tensor(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x = input(c, "x", s->iarg[0], s->iarg[1], s->iarg[2]);
    tg_node t = input(c, "t", s->iarg[0], s->iarg[1], F_U01);
    tg_node l = tg_bce_logits(c->g, x, t);
    return s->iarg[3] ? nest(c, l) : l;
}

/* iarg: rows, cols, fill, mode (bit 0: saturating; bit 1: nested); logits
 * through a linear layer when fill is F_U1 */
static tg_node b_gen_loss(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_node x;
    if (s->iarg[2] == F_U1)
        x = tg_matmul(c->g, input(c, "h", s->iarg[0], 3, F_U1), param(c, "D", "w", 3, s->iarg[1], F_U3));
    else
        x = input(c, "x", s->iarg[0], s->iarg[1], s->iarg[2]);
    tg_node l = s->iarg[3] & 1 ? tg_gen_loss_saturating(c->g, x) : tg_gen_loss(c->g, x);
    return s->iarg[3] & 2 ? nest(c, l) : l;
}

/* iarg: B, C, fill, mode (bit 0: every label C-1, else spread; bit 1: logits = h W;
 * bit 2: nested) */
static tg_node b_softmax(tg_gc_ctx *c, const tg_gc_case *s)
{
    int B = s->iarg[0], C = s->iarg[1];
    tg_node x = s->iarg[3] & 2 ? tg_matmul(c->g, input(c, "h", B, 5, F_U1), param(c, "C", "w", 5, C, F_U3))
                               : input(c, "x", B, C, s->iarg[2]);
    tg_node lab = tg_input_labels(c->g, "labels", B);
    int32_t *l = gc_mem(c, (size_t)B * sizeof *l);
    if (!l) return tg_graph_fail(c->g, TG_ERR_NOMEM, "gc case: no memory for labels");
    for (int i = 0; i < B; i++) l[i] = s->iarg[3] & 1 ? C - 1 : (int32_t)((i * 7 + 3) % C);
    if (lab.id >= 0) tg_bind(c->g, lab, l);
    tg_node loss = tg_softmax_xent(c->g, x, lab);
    return s->iarg[3] & 4 ? nest(c, loss) : loss;
}

/* iarg: variant.
 * 0: sum(tanh(x) * detach(sigmoid(y))): y must get no gradient, x's is checked.
 * 1: sum(R * (x W) * detach(tanh(x V))): W checked, V (group "V") must get none;
 *    inputs are not checked (x reaches the loss through the detach too). */
static tg_node b_detach(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_graph *g = c->g;
    if (s->iarg[0] == 0) {
        tg_node x = input(c, "x", 3, 4, F_U1), y = input(c, "y", 3, 4, F_U1);
        return tg_sum(g, tg_mul(g, tg_tanh(g, x), tg_detach(g, tg_sigmoid(g, y))));
    }
    tg_node x = input(c, "x", 3, 4, F_U1);
    tg_node w = param(c, "W", "w", 4, 5, F_U1), v = param(c, "V", "v", 4, 5, F_U1);
    return gc_weigh(c, tg_mul(g, tg_matmul(g, x, w), tg_detach(g, tg_tanh(g, tg_matmul(g, x, v)))));
}

enum { M_TINY_D, M_TINY_G, M_TINY_G_SAT, M_MLP, M_REF_D_LAST };

/* bind fresh data of the given kind to an existing input node */
static void bind_fill(tg_gc_ctx *c, tg_node x, int kind)
{
    size_t n = tg_node_numel(c->g, x);
    float *d = n ? gc_mem(c, n * sizeof(float)) : NULL;
    if (!d) {
        tg_graph_fail(c->g, TG_ERR_NOMEM, "gc case: no memory for input data");
        return;
    }
    gc_fill(c, d, n, kind);
    tg_bind(c->g, x, d);
}

/* a GAN preset's loss_d or loss_g at a small batch (6 for tiny's MLPs; 3
 * for the conv presets, whose images are larger; batch_norm needs 2) */
static tg_node gan(tg_gc_ctx *c, int which, const char *preset)
{
    tg_graph *g = c->g;
    tg_gan_spec s;
    tg_gan_graph gg;
    tg_error e;
    if (tg_gan_preset(preset, &s, &e) != TG_OK) return tg_graph_fail(g, TG_ERR_ARG, e.msg);
    const int B = tg_gan_preset_mlp_nets(preset) == (TG_GAN_NET_G | TG_GAN_NET_D) ? 6 : 3;
    if (tg_gan_params(c->ps, &s, &c->rng, &e) != TG_OK) return tg_graph_fail(g, TG_ERR_ARG, e.msg);
    /* batch_norm's beta and running variance as training leaves them, not
     * as they start: with beta 0 (and mean 0), an eval-mode output whose
     * inputs were all zeros (ReLU) sits exactly on the next ReLU's kink,
     * where finite differences see half a slope */
    for (int i = 0; i < tg_params_count(c->ps); i++) {
        tg_param *p = tg_params_at(c->ps, i);
        const char *n = tg_param_name(p), *dot = strrchr(n, '.');
        if (!dot || (strcmp(dot, ".beta") && strcmp(dot, ".var"))) continue;
        gc_fill(c, tg_param_data(p), tg_param_numel(p), strcmp(dot, ".var") ? F_AWAY : F_U01);
        if (!strcmp(dot, ".var"))
            for (size_t k = 0; k < tg_param_numel(p); k++) tg_param_data(p)[k] += 0.5f;
    }
    if (tg_gan_build(g, &s, B, 0.9f, which == M_TINY_G_SAT, &gg) != TG_OK) return (tg_node){-1};
    bind_fill(c, gg.z, F_U1);
    bind_fill(c, gg.x, F_U1);
    return which == M_TINY_D ? gg.loss_d : gg.loss_g;
}

static tg_node mlp_classifier(tg_gc_ctx *c)
{
    tg_mlp_spec s = {.n_layers = 2, .widths = {5, 8, 3}, .hidden = TG_ACT_LEAKY_RELU, .slope = 0.1f,
                     .dropout = 0.2f, .output = TG_ACT_NONE, .group = "C"};
    if (tg_mlp_params(c->ps, &s, TG_INIT_PYTORCH, 0, &c->rng) != TG_OK)
        return tg_graph_fail(c->g, TG_ERR_ARG, tg_params_error(c->ps));
    const int B = 7;
    tg_node x = input(c, "x", B, 5, F_U1);
    tg_node lab = tg_input_labels(c->g, "labels", B);
    int32_t *l = gc_mem(c, B * sizeof *l);
    if (!l) return tg_graph_fail(c->g, TG_ERR_NOMEM, "gc case: no memory for labels");
    for (int i = 0; i < B; i++) l[i] = i % 3;
    if (lab.id >= 0) tg_bind(c->g, lab, l);
    return tg_softmax_xent(c->g, tg_mlp(c->g, &s, x), lab);
}

/* The reference discriminator (784-512-256-128-1, LeakyReLU(0.2), dropout
 * 0.3, Xavier) on one real and one fake image; layers 0-2 live in group "Dbody"
 * and are not checked, layer 3 ("D/l3.w", "D/l3.b": 129 numbers) is. */
static tg_node ref_d_last(tg_gc_ctx *c)
{
    tg_graph *g = c->g;
    tg_gan_mlp s;
    if (tg_gan_mlp_preset("reference", &s, NULL) != TG_OK) return tg_graph_fail(g, TG_ERR_ARG, "no reference GAN preset");
    tg_mlp_spec body = s.D;
    body.n_layers = 3;
    body.output = body.hidden;
    strcpy(body.group, "Dbody");
    if (tg_mlp_params(c->ps, &body, s.init, s.sigma, &c->rng) != TG_OK)
        return tg_graph_fail(g, TG_ERR_ARG, tg_params_error(c->ps));
    tg_param *w = tg_param_new(c->ps, "D", "l3.w", 2, (int[]){128, 1});
    tg_param *b = tg_param_new(c->ps, "D", "l3.b", 1, (int[]){1});
    if (!w || !b || tg_param_init(w, s.init, 128, 1, s.sigma, &c->rng) != TG_OK)
        return tg_graph_fail(g, TG_ERR_ARG, tg_params_error(c->ps));
    gc_fill(c, tg_param_data(b), 1, F_U1);
    tg_node logit[2];
    for (int k = 0; k < 2; k++) {
        tg_node x = input(c, k ? "fake" : "real", 1, 784, F_U1);
        tg_node h = tg_dropout(g, tg_mlp(g, &body, x), s.D.dropout);
        logit[k] = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, w)), tg_param_ref(g, b));
    }
    return tg_add(g, tg_bce_logits_const(g, logit[0], 0.9f), tg_bce_logits_const(g, logit[1], 0.0f));
}

static tg_node b_model(tg_gc_ctx *c, const tg_gc_case *s)
{
    switch (s->iarg[0]) {
    case M_MLP: return mlp_classifier(c);
    case M_REF_D_LAST: return ref_d_last(c);
    default: return gan(c, s->iarg[0], s->model ? s->model : "tiny");
    }
}

/* ---------------------------------------------------------------- table */
#define CASE(op, label, fn, i0, i1, i2, i3, f0) {op, label, fn, {i0, i1, i2, i3}, {f0, 0}, NULL, 0, {NULL, NULL}, 0, NULL}
#define MM(label, M, K, N, t) CASE("matmul", label, b_matmul, M, K, N, t, 0)
#define UN(op, label, r, k, act, fl, slope) CASE(op, label, b_unary, r, k, act, fl, slope)

static const tg_gc_case cases[] = {
    /* matmul: 4 transpose forms x {1x1x1, M=1, K=1, N=1, 3x5x7}; (M,K,N) of op(a) op(b) */
    MM("a.b 1x1x1", 1, 1, 1, 0), MM("a.b M=1 1x3x4", 1, 3, 4, 0), MM("a.b K=1 4x1x3", 4, 1, 3, 0),
    MM("a.b N=1 3x5x1", 3, 5, 1, 0), MM("a.b 3x5x7", 3, 5, 7, 0),
    CASE("matmul", "xT.x same input 4x3", b_matmul_self, 4, 3, 0, 0, 0),
    CASE("matmul", "x.xT same input 4x3", b_matmul_self, 4, 3, 1, 0, 0),
    MM("aT.b 1x1x1", 1, 1, 1, 1), MM("aT.b M=1 1x3x4", 1, 3, 4, 1), MM("aT.b K=1 4x1x3", 4, 1, 3, 1),
    MM("aT.b N=1 3x5x1", 3, 5, 1, 1), MM("aT.b 3x5x7", 3, 5, 7, 1),
    MM("a.bT 1x1x1", 1, 1, 1, 2), MM("a.bT M=1 1x3x4", 1, 3, 4, 2), MM("a.bT K=1 4x1x3", 4, 1, 3, 2),
    MM("a.bT N=1 3x5x1", 3, 5, 1, 2), MM("a.bT 3x5x7", 3, 5, 7, 2),
    MM("aT.bT 1x1x1", 1, 1, 1, 3), MM("aT.bT M=1 1x3x4", 1, 3, 4, 3), MM("aT.bT K=1 4x1x3", 4, 1, 3, 3),
    MM("aT.bT N=1 3x5x1", 3, 5, 1, 3), MM("aT.bT 3x5x7", 3, 5, 7, 3),
    MM("a.b 7x11x13", 7, 11, 13, 0), MM("aT.bT 13x7x11", 13, 7, 11, 3),

    CASE("bias_add", "4x5", b_bias_add, 4, 5, 0, 0, 0),
    CASE("bias_add", "1x1", b_bias_add, 1, 1, 0, 0, 0),
    CASE("bias_add", "N=1 3x1", b_bias_add, 3, 1, 0, 0, 0),
    CASE("bias_add", "B=1 1x6", b_bias_add, 1, 6, 0, 0, 0),
    CASE("bias_add", "x+bias_add(x) 3x4", b_residual, 3, 4, R_BIAS, F_U1, 0),

    CASE("concat", "3x2|3x5", b_concat, 3, 2, 5, 0, 0),
    CASE("concat", "1x1|1x1", b_concat, 1, 1, 1, 0, 0),
    CASE("concat", "2x4|2x1", b_concat, 2, 4, 1, 0, 0),

    CASE("add", "3x4", b_binary, 3, 4, 0, 0, 0),
    CASE("add", "x+x 2x3", b_binary, 2, 3, 0, 1, 0),
    CASE("sub", "3x4", b_binary, 3, 4, 1, 0, 0),
    CASE("sub", "x-x 2x3", b_binary, 2, 3, 1, 1, 0),
    CASE("mul", "3x4", b_binary, 3, 4, 2, 0, 0),
    CASE("mul", "x*x 2x3", b_binary, 2, 3, 2, 1, 0),
    CASE("mul", "1x1", b_binary, 1, 1, 2, 0, 0),

    CASE("scale", "s=2.5", b_scale, 3, 4, 0, 0, 2.5f),
    CASE("scale", "s=-0.3", b_scale, 3, 4, 0, 0, -0.3f),
    CASE("scale", "s=0", b_scale, 2, 2, 0, 0, 0.0f),

    UN("relu", "|x|>=0.1 3x5", 3, 5, U_RELU, F_AWAY, 0),
    UN("leaky_relu", "slope 0.2", 3, 5, U_LEAKY, F_AWAY, 0.2f),
    UN("leaky_relu", "slope -0.5", 3, 5, U_LEAKY, F_AWAY, -0.5f),
    UN("leaky_relu", "slope 0", 3, 5, U_LEAKY, F_AWAY, 0.0f),
    UN("leaky_relu", "slope 1.7", 3, 5, U_LEAKY, F_AWAY, 1.7f),
    UN("sigmoid", "U(-3,3) 3x4", 3, 4, U_SIGMOID, F_U3, 0),
    UN("sigmoid", "U(-30,30) 3x4", 3, 4, U_SIGMOID, F_WIDE, 0),
    UN("tanh", "U(-3,3) 3x4", 3, 4, U_TANH, F_U3, 0),
    UN("softplus", "U(-3,3) 3x4", 3, 4, U_SOFTPLUS, F_U3, 0),
    UN("softplus", "U(-30,30) 3x4", 3, 4, U_SOFTPLUS, F_WIDE, 0),
    /* the activations' backward accumulating into a gradient the add started */
    CASE("relu", "x+relu(x) 3x5", b_residual, 3, 5, U_RELU, F_AWAY, 0),
    CASE("leaky_relu", "x+leaky(x) slope 0.2", b_residual, 3, 5, U_LEAKY, F_AWAY, 0.2f),
    CASE("sigmoid", "x+sigmoid(x) 3x4", b_residual, 3, 4, U_SIGMOID, F_U3, 0),
    CASE("tanh", "x+tanh(x) 3x4", b_residual, 3, 4, U_TANH, F_U3, 0),
    CASE("softplus", "x+softplus(x) 3x4", b_residual, 3, 4, U_SOFTPLUS, F_U3, 0),

    CASE("dropout", "p=0.3 4x6", b_dropout, 4, 6, 0, 0, 0.3f),
    CASE("dropout", "p=0 3x3", b_dropout, 3, 3, 0, 0, 0.0f),
    CASE("dropout", "p=0.9 4x5", b_dropout, 4, 5, 0, 0, 0.9f),
    CASE("dropout", "t+dropout(t) p=0.3 4x6", b_residual, 4, 6, R_DROPOUT, F_U1, 0.3f),

    CASE("sum", "3x4", b_reduce, 3, 4, 0, 0, 0),
    CASE("sum", "dy!=1 3x4", b_reduce, 3, 4, 0, 1, 0),
    CASE("mean", "3x4", b_reduce, 3, 4, 1, 0, 0),
    CASE("mean", "dy!=1 1x1", b_reduce, 1, 1, 1, 1, 0),
    CASE("mean", "dy!=1 5x3", b_reduce, 5, 3, 1, 1, 0),

    CASE("bce_logits", "t=0.9", b_bce_const, 4, 3, F_U3, 0, 0.9f),
    CASE("bce_logits", "t=0", b_bce_const, 4, 3, F_U3, 0, 0.0f),
    CASE("bce_logits", "t=1", b_bce_const, 4, 3, F_U3, 0, 1.0f),
    CASE("bce_logits", "t=0.9 dy!=1", b_bce_const, 4, 3, F_U3, 1, 0.9f),
    CASE("bce_logits", "t=0.9 x=+-1000", b_bce_const, 2, 4, F_BIG, 0, 0.9f),
    CASE("bce_logits", "t=0 x=+-1000", b_bce_const, 2, 4, F_BIG, 0, 0.0f),
    CASE("bce_logits", "t=1 x=+-1000", b_bce_const, 2, 4, F_BIG, 0, 1.0f),
    CASE("bce_logits", "t=0.9 x=+-50", b_bce_const, 2, 4, F_FIFTY, 0, 0.9f),
    CASE("bce_logits", "tensor t 4x3", b_bce_tensor, 4, 3, F_U3, 0, 0),
    CASE("bce_logits", "tensor t x=+-1000", b_bce_tensor, 2, 4, F_BIG, 0, 0),
    CASE("bce_logits", "tensor t x=+-50", b_bce_tensor, 2, 4, F_FIFTY, 0, 0),
    CASE("bce_logits", "tensor t dy!=1", b_bce_tensor, 4, 3, F_U3, 1, 0),

    CASE("gen_loss", "via matmul 4x2", b_gen_loss, 4, 2, F_U1, 0, 0),
    CASE("gen_loss", "x=+-1000", b_gen_loss, 2, 4, F_BIG, 0, 0),
    CASE("gen_loss", "x=+-50", b_gen_loss, 2, 4, F_FIFTY, 0, 0),
    CASE("gen_loss", "dy!=1 4x3", b_gen_loss, 4, 3, F_U3, 2, 0),
    CASE("gen_loss_saturating", "via matmul 4x2", b_gen_loss, 4, 2, F_U1, 1, 0),
    CASE("gen_loss_saturating", "x=+-1000", b_gen_loss, 2, 4, F_BIG, 1, 0),
    CASE("gen_loss_saturating", "x=+-50", b_gen_loss, 2, 4, F_FIFTY, 1, 0),
    CASE("gen_loss_saturating", "dy!=1 4x3", b_gen_loss, 4, 3, F_U3, 3, 0),

    CASE("softmax_xent", "4x3", b_softmax, 4, 3, F_U3, 0, 0),
    CASE("softmax_xent", "C=1 3x1", b_softmax, 3, 1, F_U3, 0, 0),
    CASE("softmax_xent", "B=1 1x5", b_softmax, 1, 5, F_U3, 0, 0),
    CASE("softmax_xent", "labels C-1 5x7", b_softmax, 5, 7, F_U3, 1, 0),
    CASE("softmax_xent", "via matmul 6x4", b_softmax, 6, 4, F_U3, 2, 0),
    CASE("softmax_xent", "x=+-50 3x4", b_softmax, 3, 4, F_FIFTY, 0, 0),
    CASE("softmax_xent", "x=+-1000 3x4", b_softmax, 3, 4, F_BIG, 0, 0),
    CASE("softmax_xent", "dy!=1 4x3", b_softmax, 4, 3, F_U3, 4, 0),

    {"detach", "y behind detach", b_detach, {0, 0, 0, 0}, {0, 0}, NULL, 0, {"input:y", NULL}, 0, NULL},
    {"detach", "param behind detach", b_detach, {1, 0, 0, 0}, {0, 0}, NULL, 1, {"V/", NULL}, 0, NULL},

    {"model", "tiny-D", b_model, {M_TINY_D, 0, 0, 0}, {0, 0}, NULL, 0, {"G/", "input:z"}, 0, NULL},
    {"model", "tiny-G", b_model, {M_TINY_G, 0, 0, 0}, {0, 0}, NULL, 0, {NULL, NULL}, 0, NULL},
    {"model", "tiny-G-saturating", b_model, {M_TINY_G_SAT, 0, 0, 0}, {0, 0}, NULL, 0, {NULL, NULL}, 0, NULL},
    {"model", "mlp-classifier", b_model, {M_MLP, 0, 0, 0}, {0, 0}, NULL, 0, {NULL, NULL}, 0, NULL},
    {"model", "reference-D-lastlayer", b_model, {M_REF_D_LAST, 0, 0, 0}, {0, 0}, "D", 1, {NULL, NULL}, 0, NULL},
    /* conv, conv_t, batch_norm (training and eval), reshape, flatten inside a GAN */
    {"model", "tiny-conv-D", b_model, {M_TINY_D, 0, 0, 0}, {0, 0}, NULL, 0, {"G/", "input:z"}, 0, "tiny-conv"},
    {"model", "tiny-conv-G", b_model, {M_TINY_G, 0, 0, 0}, {0, 0}, NULL, 0, {NULL, NULL}, 0, "tiny-conv"},
    {"model", "tiny-conv-G-eval", b_model, {M_TINY_G, 0, 0, 0}, {0, 0}, NULL, 0, {NULL, NULL}, 1, "tiny-conv"},
};

#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* this file's cases, then the convolution and normalization cases (gc_cases_conv.c) */
int tg_gc_case_count(void) { return NCASES + tg_gc_conv_ncases; }

const tg_gc_case *tg_gc_case_at(int i)
{
    if (i >= 0 && i < NCASES) return &cases[i];
    return i >= NCASES && i < NCASES + tg_gc_conv_ncases ? &tg_gc_conv_cases[i - NCASES] : NULL;
}

int tg_gc_case_matches(const tg_gc_case *c, const char *name)
{
    if (!c || !name) return 0;
    size_t n = strlen(c->op);
    if (!strcmp(name, c->op)) return 1;
    return !strncmp(name, c->op, n) && name[n] == ':' && !strcmp(name + n + 1, c->label);
}

const tg_gc_case *tg_gc_case_find(const char *name)
{
    for (int i = 0; i < tg_gc_case_count(); i++)
        if (tg_gc_case_matches(tg_gc_case_at(i), name)) return tg_gc_case_at(i);
    return NULL;
}

/* ------------------------------------------------------------------ run */
tg_status tg_gc_ctx_init(tg_gc_ctx *c, uint64_t seed)
{
    if (!c) return TG_ERR_ARG;
    memset(c, 0, sizeof *c);
    tg_rng_seed(&c->rng, seed, 0);
    c->ps = tg_params_new();
    c->g = c->ps ? tg_graph_new(c->ps) : NULL;
    if (!c->g) {
        tg_params_free(c->ps);
        c->ps = NULL;
        return TG_ERR_NOMEM;
    }
    tg_graph_set_seed(c->g, seed);
    return TG_OK;
}

void tg_gc_ctx_free(tg_gc_ctx *c)
{
    if (!c) return;
    tg_graph_free(c->g);
    tg_params_free(c->ps);
    for (int i = 0; i < c->nbufs; i++) free(c->bufs[i]);
    memset(c, 0, sizeof *c);
}

/* FNV-1a of "op:label": each case's data depend on its name only. */
static uint64_t case_seed(const tg_gc_case *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *s = c->op; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h = (h ^ ':') * 0x100000001b3ull;
    for (const char *s = c->label; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

int tg_gc_model_cases(const char *preset, tg_gc_case out[3], size_t *numel, tg_error *err)
{
    tg_gan_spec s;
    tg_status st = tg_gan_preset(preset, &s, err);
    if (st != TG_OK) return -1;
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 1, 0);
    if (!ps || tg_gan_params(ps, &s, &r, err) != TG_OK) {
        if (!ps) tg_error_set(err, TG_ERR_NOMEM, "out of memory");
        tg_params_free(ps);
        return -1;
    }
    *numel = tg_params_numel(ps, NULL);
    tg_params_free(ps);
    static const char *const suffix[3] = {"-D", "-G", "-G-eval"};
    static char labels[3][64];
    for (int k = 0; k < 3; k++) {
        snprintf(labels[k], sizeof labels[k], "%.40s%s", preset, suffix[k]);
        out[k] = (tg_gc_case){.op = "model", .label = labels[k], .build = b_model, .iarg = {k ? M_TINY_G : M_TINY_D},
                              .nograd = {k ? NULL : "G/", k ? NULL : "input:z"}, .eval = k == 2, .model = preset};
    }
    return 3;
}

tg_status tg_gc_case_run(const tg_gc_case *c, const tg_gc_opts *opts, tg_gc_report *rep, tg_error *err)
{
    if (err) {
        err->code = TG_OK;
        err->msg[0] = 0;
    }
    if (rep) memset(rep, 0, sizeof *rep);
    if (!c || !c->build || !rep) return tg_error_set(err, TG_ERR_ARG, "gc case: NULL case or report");
    tg_gc_ctx ctx;
    tg_status st = tg_gc_ctx_init(&ctx, case_seed(c));
    if (st != TG_OK) return tg_error_set(err, st, "gc case %s:%s: out of memory", c->op, c->label);
    tg_node loss = c->build(&ctx, c);
    if (tg_graph_status(ctx.g) != TG_OK || loss.id < 0) {
        st = tg_graph_status(ctx.g) != TG_OK ? tg_graph_status(ctx.g) : TG_ERR_STATE;
        tg_error_set(err, st, "building %s:%s: %s", c->op, c->label, tg_graph_error(ctx.g));
        tg_gc_ctx_free(&ctx);
        return st;
    }
    tg_gc_opts o = {0};
    if (opts) o = *opts;
    if (c->groups) o.groups = c->groups;
    if (c->skip_inputs) o.skip_inputs = 1;
    if (c->eval) o.eval = 1;
    st = tg_gradcheck(ctx.g, loss, &o, rep);
    if (st != TG_OK) {
        tg_error_set(err, st, "gradcheck %s:%s: %s (%s)", c->op, c->label, tg_status_str(st),
                     tg_graph_error(ctx.g));
        tg_gc_ctx_free(&ctx);
        return st;
    }
    if (rep->n == 0) {
        rep->pass = 0;
        tg_error_set(err, TG_OK, "no gradient was checked");
    }
    for (int k = 0; k < rep->n; k++)
        for (int j = 0; j < 2; j++) {
            const char *pre = c->nograd[j];
            if (pre && !strncmp(rep->e[k].name, pre, strlen(pre))) {
                rep->pass = 0;
                tg_error_set(err, TG_OK, "%s got a gradient through a detach", rep->e[k].name);
            }
        }
    tg_gc_ctx_free(&ctx);
    return TG_OK;
}
