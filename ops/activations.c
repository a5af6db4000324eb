/* activations.c - relu, leaky_relu, sigmoid, tanh, softplus: y = act(x),
 * dx += dy act'(x) (dx = ... for the gradient's first writer). One pair of functions serves all five; the op table
 * entries differ only in the activation kind and what backward reads. */
#include "ops.h"

#include <math.h>

static tg_act act_of(tg_op op)
{
    switch (op) {
    case TG_OP_RELU: return TG_ACT_RELU;
    case TG_OP_LEAKY_RELU: return TG_ACT_LEAKY;
    case TG_OP_SIGMOID: return TG_ACT_SIGMOID;
    case TG_OP_TANH: return TG_ACT_TANH;
    default: return TG_ACT_SOFTPLUS;
    }
}

int tg_act_y_only(const tg_nrec *n, tg_act *act)
{
    switch (n->op) {
    case TG_OP_RELU:
    case TG_OP_SIGMOID:
    case TG_OP_TANH:
        break;
    case TG_OP_LEAKY_RELU:
        if (!(n->f[0] >= 0.0f)) return 0;
        break;
    default:
        return 0;
    }
    if (act) *act = act_of(n->op);
    return 1;
}

/* f32 pieces [i0, i1), run split over the pool */
static void act_fwd_range(void *c, size_t i0, size_t i1)
{
    tg_run *r = c;
    r->ex->k->act_fwd(act_of(r->n->op), r->n->f[0], (const float *)r->x[0] + i0, (float *)r->y + i0, i1 - i0);
}

static void act_bwd_range(void *c, size_t i0, size_t i1)
{
    tg_run *r = c;
    r->ex->k->act_bwd(act_of(r->n->op), r->n->f[0], (const float *)r->x[0] + i0, (const float *)r->y + i0,
                      (const float *)r->dy + i0, (float *)r->dx[0] + i0, i1 - i0, !r->fresh[0]);
}

/* transcendental activations cost more per element than relu */
static size_t cost_of(tg_op op) { return op == TG_OP_RELU || op == TG_OP_LEAKY_RELU ? 1 : 4; }

static void act_fwd(tg_run *r)
{
    tg_act act = act_of(r->n->op);
    float slope = r->n->f[0];
    size_t n = r->n->numel;
    if (r->f64) {
        const double *x = r->x[0];
        double *y = r->y;
        for (size_t i = 0; i < n; i++) y[i] = tg_ref_act(act, slope, x[i]);
    } else {
        tg_exec_range(r->ex, n, 64, cost_of(r->n->op), act_fwd_range, r);
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
    tg_act act = act_of(r->n->op);
    float slope = r->n->f[0];
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
        tg_exec_range(r->ex, n, 64, cost_of(r->n->op), act_bwd_range, r);
    }
}

#define ACT_OP(lower, needs) \
    const tg_opdesc tg_op_##lower = {.name = #lower, .bwd_needs = (needs), .fwd = act_fwd, .bwd = act_bwd, \
                                     .fresh_ok = 1};
/* kernels may read either x or y; we keep both alive for backward */
ACT_OP(relu, TG_NEED_X0 | TG_NEED_Y)
ACT_OP(leaky_relu, TG_NEED_X0 | TG_NEED_Y)
ACT_OP(sigmoid, TG_NEED_X0 | TG_NEED_Y)
ACT_OP(tanh, TG_NEED_X0 | TG_NEED_Y)
ACT_OP(softplus, TG_NEED_X0 | TG_NEED_Y)
#undef ACT_OP

static tg_node unary(tg_graph *g, tg_op op, tg_node x, float slope)
{
    if (!tg_check_inputs(g, tg_optab[op]->name, &x, 1)) return (tg_node){-1};
    if (!isfinite(slope))
        return tg_fail(g, TG_ERR_ARG, "%s: slope %g is not finite", tg_optab[op]->name, (double)slope);
    const tg_nrec *a = tg_rec(g, x);
    tg_node y = tg_push(g, op, &x, 1, a->ndim, a->d);
    if (y.id >= 0) g->n[y.id].f[0] = slope;
    return y;
}

tg_node tg_relu(tg_graph *g, tg_node x) { return unary(g, TG_OP_RELU, x, 0.0f); }
tg_node tg_leaky_relu(tg_graph *g, tg_node x, float slope) { return unary(g, TG_OP_LEAKY_RELU, x, slope); }
tg_node tg_sigmoid(tg_graph *g, tg_node x) { return unary(g, TG_OP_SIGMOID, x, 0.0f); }
tg_node tg_tanh(tg_graph *g, tg_node x) { return unary(g, TG_OP_TANH, x, 0.0f); }
tg_node tg_softplus(tg_graph *g, tg_node x) { return unary(g, TG_OP_SOFTPLUS, x, 0.0f); }
