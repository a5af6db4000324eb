/* activations.c - relu, leaky_relu, sigmoid, tanh, softplus: y = act(x),
 * dx += dy act'(x) (dx = ... for the gradient's first writer). One pair of
 * functions serves all five; the descriptors differ only in the activation
 * kind and what backward reads. */
#include "ops.h"

#include <math.h>
#include <stdio.h>

static tg_act act_of(const tg_nrec *n)
{
    if (n->op == &tg_op_relu) return TG_ACT_RELU;
    if (n->op == &tg_op_leaky_relu) return TG_ACT_LEAKY_RELU;
    if (n->op == &tg_op_sigmoid) return TG_ACT_SIGMOID;
    if (n->op == &tg_op_tanh) return TG_ACT_TANH;
    return TG_ACT_SOFTPLUS;
}

/* The trait the plan's fusion pass reads: relu, sigmoid, tanh and
 * leaky_relu with slope >= 0 have f32 backward kernels that read only y
 * (softplus's reads x; a negative slope makes y's sign ambiguous). */
static tg_act y_act(const tg_nrec *n, float *slope)
{
    const tg_act a = act_of(n);
    *slope = tg_attr(n)->slope;
    if (a == TG_ACT_SOFTPLUS || (a == TG_ACT_LEAKY_RELU && !(*slope >= 0.0f))) return TG_ACT_NONE;
    return a;
}

static void slope_describe(const tg_nrec *n, char *buf, size_t len)
{
    snprintf(buf, len, "(%g)", (double)tg_attr(n)->slope);
}

/* f32 pieces [i0, i1), run split over the pool */
static void act_fwd_range(void *c, size_t i0, size_t i1)
{
    tg_run *r = c;
    r->ex->k->act_fwd(act_of(r->n), tg_attr(r->n)->slope, (const float *)r->x[0] + i0, (float *)r->y + i0, i1 - i0);
}

static void act_bwd_range(void *c, size_t i0, size_t i1)
{
    tg_run *r = c;
    r->ex->k->act_bwd(act_of(r->n), tg_attr(r->n)->slope, (const float *)r->x[0] + i0, (const float *)r->y + i0,
                      (const float *)r->dy + i0, (float *)r->dx[0] + i0, i1 - i0, !r->fresh[0]);
}

/* transcendental activations cost more per element than relu */
static size_t cost_of(const tg_nrec *n) { return n->op == &tg_op_relu || n->op == &tg_op_leaky_relu ? 1 : 4; }

static void act_fwd(tg_run *r)
{
    tg_act act = act_of(r->n);
    float slope = tg_attr(r->n)->slope;
    size_t n = r->n->numel;
    if (r->f64) {
        const double *x = r->x[0];
        double *y = r->y;
        for (size_t i = 0; i < n; i++) y[i] = tg_ref_act(act, slope, x[i]);
    } else {
        tg_exec_range(r->ex, n, 64, cost_of(r->n), act_fwd_range, r);
    }
}

/* f64: dy act'(x), the reference derivative, or in a fault-injection build
 * the active fault's wrong one (fault.h) */
static double dact64(const tg_nrec *n, tg_act act, double slope, double x, double y, double dy)
{
    double d = tg_ref_dact(act, slope, x, y);
    if (TG_FAULT(n, RELU, passes_negative)) d = 1.0;
    if (TG_FAULT(n, RELU, mask_from_dy)) return dy > 0.0 ? dy : 0.0;
    if (TG_FAULT(n, LEAKY_RELU, slope_everywhere)) d = slope;
    if (TG_FAULT(n, LEAKY_RELU, one_for_negative)) d = 1.0;
    if (TG_FAULT(n, SIGMOID, drops_1_minus_y)) d = y;
    if (TG_FAULT(n, SIGMOID, x_for_y)) d = x * (1.0 - x);
    if (TG_FAULT(n, TANH, drops_square)) d = 1.0 - y;
    if (TG_FAULT(n, TANH, x_for_y)) d = 1.0 - x * x;
    if (TG_FAULT(n, SOFTPLUS, sigmoid_of_y)) d = tg_ref_sigmoid(y);
    if (TG_FAULT(n, SOFTPLUS, abs_sign_dropped)) { /* max(x,0)' - |x|' e/(1+e), e = exp(-|x|), with |x|' = 1 */
        double e = exp(-fabs(x));
        d = (x > 0.0 ? 1.0 : 0.0) - e / (1.0 + e);
    }
    return dy * d;
}

static void act_bwd(tg_run *r)
{
    tg_act act = act_of(r->n);
    float slope = tg_attr(r->n)->slope;
    size_t n = r->n->numel;
    if (r->f64) {
        const double *x = r->x[0], *y = r->y, *dy = r->dy;
        double *dx = r->dx[0];
        const int fresh = r->fresh[0] || TG_FAULT(r->n, LEAKY_RELU, dx_overwrites); /* (fault.h) */
        for (size_t i = 0; i < n; i++) {
            double v = dact64(r->n, act, slope, x[i], y[i], dy[i]);
            dx[i] = fresh ? v : dx[i] + v;
        }
    } else {
        tg_exec_range(r->ex, n, 64, cost_of(r->n), act_bwd_range, r);
    }
}

#define ACT_OP(lower, needs, desc)                                                                          \
    const tg_opdesc tg_op_##lower = {.name = #lower, .bwd_needs = (needs), .fwd = act_fwd, .bwd = act_bwd, \
                                     .fresh_ok = 1, .y_act = y_act, .describe = (desc)};
/* kernels may read either x or y; we keep both alive for backward */
ACT_OP(relu, TG_NEED_X0 | TG_NEED_Y, NULL)
ACT_OP(leaky_relu, TG_NEED_X0 | TG_NEED_Y, slope_describe)
ACT_OP(sigmoid, TG_NEED_X0 | TG_NEED_Y, NULL)
ACT_OP(tanh, TG_NEED_X0 | TG_NEED_Y, NULL)
ACT_OP(softplus, TG_NEED_X0 | TG_NEED_Y, NULL)
#undef ACT_OP

static tg_node unary(tg_graph *g, const tg_opdesc *op, tg_node x, float slope)
{
    if (!tg_check_inputs(g, op->name, &x, 1)) return (tg_node){-1};
    if (!isfinite(slope)) return tg_fail(g, TG_ERR_ARG, "%s: slope %g is not finite", op->name, (double)slope);
    const tg_nrec *a = tg_rec(g, x);
    return tg_push(g, op, &x, 1, a->ndim, a->d, &(tg_attrs){.slope = slope});
}

tg_node tg_relu(tg_graph *g, tg_node x) { return unary(g, &tg_op_relu, x, 0.0f); }
tg_node tg_leaky_relu(tg_graph *g, tg_node x, float slope) { return unary(g, &tg_op_leaky_relu, x, slope); }
tg_node tg_sigmoid(tg_graph *g, tg_node x) { return unary(g, &tg_op_sigmoid, x, 0.0f); }
tg_node tg_tanh(tg_graph *g, tg_node x) { return unary(g, &tg_op_tanh, x, 0.0f); }
tg_node tg_softplus(tg_graph *g, tg_node x) { return unary(g, &tg_op_softplus, x, 0.0f); }

tg_node tg_activation(tg_graph *g, tg_node x, tg_act a, float slope)
{
    switch (a) {
    case TG_ACT_NONE:
        if (!tg_check_inputs(g, "activation", &x, 1)) return (tg_node){-1};
        return x;
    case TG_ACT_RELU: return tg_relu(g, x);
    case TG_ACT_LEAKY_RELU: return tg_leaky_relu(g, x, slope);
    case TG_ACT_SIGMOID: return tg_sigmoid(g, x);
    case TG_ACT_TANH: return tg_tanh(g, x);
    case TG_ACT_SOFTPLUS: return tg_softplus(g, x);
    default: return tg_fail(g, TG_ERR_ARG, "activation: unknown kind %d", (int)a);
    }
}
